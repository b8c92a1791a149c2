/*
 * MsbSession bookkeeping that the queues need; the packet handling itself is in msb-broker.c.
 */
#define G_LOG_DOMAIN "msb-session"

#include "msb-session.h"

void
msb_session_forget_subscriber(MsbSession *session, MsbSubscriber *sub)
{
	g_return_if_fail(session != NULL);
	g_ptr_array_remove(session->subscribers, sub);
}

void
msb_deferred_response_free(MsbDeferredResponse *held)
{
	if (held == NULL)
		return;
	g_free(held->reject);
	g_free(held);
}
