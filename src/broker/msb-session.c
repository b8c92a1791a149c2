/*
 * MsbSession bookkeeping that the queues need, and the rate-limited log of the Rejects a session
 * is sent; the packet handling itself is in msb-broker.c.
 */
#define G_LOG_DOMAIN "msb-session"

#include "msb-session.h"

#include "msb-broker.h"
#include "msb-log.h"
#include "msb-rate-limit.h"

gint64
msb_session_get_id(const MsbSession *session)
{
	g_return_val_if_fail(session != NULL, -1);
	return session->id;
}

MsbSessionKind
msb_session_get_kind(const MsbSession *session)
{
	g_return_val_if_fail(session != NULL, MSB_SESSION_KIND_TCP);
	return session->kind;
}

gpointer
msb_session_get_user_data(const MsbSession *session)
{
	g_return_val_if_fail(session != NULL, NULL);
	return session->user_data;
}

void
msb_session_set_user_data(MsbSession *session, gpointer user_data)
{
	g_return_if_fail(session != NULL);
	session->user_data = user_data;
}

const gchar *
msb_session_get_name(const MsbSession *session)
{
	g_return_val_if_fail(session != NULL, NULL);
	return session->name;
}

gboolean
msb_session_is_greeted(const MsbSession *session)
{
	g_return_val_if_fail(session != NULL, FALSE);
	return session->greeted;
}

gint32
msb_session_get_protocol_version(const MsbSession *session)
{
	g_return_val_if_fail(session != NULL, 0);
	return session->protocol_version;
}

gint32
msb_session_get_new_messages_version(const MsbSession *session)
{
	g_return_val_if_fail(session != NULL, 0);
	return session->new_messages_version;
}

MsbBuf *
msb_session_get_output(MsbSession *session)
{
	g_return_val_if_fail(session != NULL, NULL);
	return &session->out;
}

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

/* "client 'name' version at peer (session N)", or the peer only before the Greeting */
static gchar *
msb_session_describe(MsbSession *session)
{
	g_autofree gchar *name = NULL;
	g_autofree gchar *version = NULL;

	if (session->name == NULL)
		return g_strdup_printf("a client at %s (session %" G_GINT64_FORMAT
		                       ", no Greeting yet)",
		                       session->peer, session->id);
	name = msb_log_sanitize(session->name);
	version = session->version != NULL ? msb_log_sanitize(session->version) : NULL;
	return g_strdup_printf("client '%s'%s%s at %s (session %" G_GINT64_FORMAT ")", name,
	                       version != NULL ? " " : "", version != NULL ? version : "",
	                       session->peer, session->id);
}

MsbLogFields
msb_session_log_fields(const MsbSession *session)
{
	g_return_val_if_fail(session != NULL, (MsbLogFields){0});
	return (MsbLogFields){MSB_LOG_SESSION(session->id), .peer = session->peer,
	                      .client = session->name};
}

void
msb_session_log_reject(MsbSession *session, const gchar *reason, const gchar *text, gint64 now_us)
{
	MsbRateLimit *log;
	g_autofree gchar *who = NULL;
	g_autofree gchar *shown = NULL;
	guint64 left_out = 0;
	gint64 logged_us;
	MsbLogFields fields;

	g_return_if_fail(session != NULL);
	g_return_if_fail(reason != NULL);
	g_return_if_fail(text != NULL);

	if (session->reject_log == NULL)
		session->reject_log = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	log = g_hash_table_lookup(session->reject_log, reason);
	if (log == NULL) {
		log = g_new(MsbRateLimit, 1);
		*log = (MsbRateLimit)MSB_RATE_LIMIT_INIT(MSB_SESSION_REJECT_LOG_INTERVAL_US);
		g_hash_table_insert(session->reject_log, (gpointer)reason, log);
	}
	/* when the last line was logged, before the check moves it on */
	logged_us = log->next_us - log->interval_us;
	if (!msb_rate_limit_check_at(log, now_us, &left_out))
		return;
	who = msb_session_describe(session);
	shown = msb_log_sanitize(text);
	fields = msb_session_log_fields(session);
	if (left_out > 0)
		msb_message_fields(&fields,
		                   "Reject to %s: %s (and %" G_GUINT64_FORMAT
		                   " more for %s in the last %" G_GINT64_FORMAT " s, not logged)",
		                   who, shown, left_out, reason,
		                   (now_us - logged_us) / G_USEC_PER_SEC);
	else
		msb_message_fields(&fields, "Reject to %s: %s", who, shown);
}

void
msb_session_log_rejects_left_out(MsbSession *session)
{
	GHashTableIter iter;
	gpointer key;
	gpointer value;

	g_return_if_fail(session != NULL);
	if (session->reject_log == NULL)
		return;
	g_hash_table_iter_init(&iter, session->reject_log);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		MsbRateLimit *log = value;
		g_autofree gchar *who = NULL;
		MsbLogFields fields;

		if (log->suppressed == 0)
			continue;
		who = msb_session_describe(session);
		fields = msb_session_log_fields(session);
		msb_message_fields(&fields,
		                   "%s disconnected after %" G_GUINT64_FORMAT
		                   " more Rejects for %s that were not logged",
		                   who, log->suppressed, (const gchar *)key);
		log->suppressed = 0;
	}
}

void
msb_session_clear_reject_log(MsbSession *session)
{
	g_return_if_fail(session != NULL);
	g_clear_pointer(&session->reject_log, g_hash_table_unref);
}
