/*
 * MsbSession: what the broker knows about one client connection (node.md §2.6, protocol.md §5):
 * its greeting, protocol version P and NewMessages version V7, namespace, subscribers and output
 * buffer. The connection adapter flushes the output buffer to the socket; the broker only ever
 * appends to it.
 */
#pragma once

#include <glib.h>

#include "msb-buf.h"
#include "msb-queue.h"

G_BEGIN_DECLS

struct _MsbSession {
	gint64 id;
	MsbSessionKind kind;
	gpointer user_data; /* the adapter's connection */
	gchar *peer;        /* "ip:port" or "unix" */
	gboolean greeted;
	gchar *name;                 /* Greeting name, segment 0 */
	gchar *version;              /* segment 1, or NULL */
	gchar *env_info;             /* segment 2, or NULL */
	gint32 protocol_version;     /* P: 0 before Greeting, then 2 or 3 */
	gint32 new_messages_version; /* V7 */
	gchar *namespace_name;       /* NULL = "default" */
	gboolean namespace_locked;   /* after the first Publish or Subscribe */
	gboolean closing;            /* a disconnect was requested */
	GPtrArray *subscribers;      /* MsbSubscriber*, not owned (the queues own them) */
	MsbBuf out;
	/* PublishResponses held until persistence acknowledged a persist_immediately publish (and
	 * every response after it, so that they keep their order): MsbDeferredResponse* */
	GQueue deferred;
	gint64 connected_us; /* wall clock */
	guint64 publishes;
	/* bytes the adapter read and wrote (msb_broker_session_count_io()), for the status page */
	guint64 read_bytes;
	guint64 written_bytes;
	MsbRate read_rate;
	MsbRate written_rate;
	gint64 last_incoming_us; /* monotonic: when bytes last came in; 0 = never */
	/* Rejects logged lately, by reason (static string) → MsbRateLimit*; NULL until the first */
	GHashTable *reject_log;
};

/*
 * Rejects are logged (the original SDKs ignore them, so the log is where an operator sees why a
 * client gets nothing), at most one line per reason per connection in this interval; the line
 * after it counts the ones left out.
 */
#define MSB_SESSION_REJECT_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

/* A held answer to a Publish: a PublishResponse, or a Reject that must not overtake the
 * responses held before it (clients match a Reject to their oldest unanswered publish). */
typedef struct {
	gint64 request_id;
	gchar *reject;   /* non-NULL: send this Reject instead of a PublishResponse */
	MsbTopic *topic; /* NULL: ready */
	gint64 wait_id;  /* ready once topic->reserved_until > wait_id, and with need_durable
	                  * once topic->durable_until > wait_id too */
	gboolean need_durable;
} MsbDeferredResponse;

void
msb_deferred_response_free(MsbDeferredResponse *held);

/*
 * Log the Reject @text sent to @session for @reason (a static string naming the kind of failure,
 * e.g. "TopicNotFound"), unless one for @reason was logged less than
 * MSB_SESSION_REJECT_LOG_INTERVAL_US before @now_us (monotonic).
 */
void
msb_session_log_reject(MsbSession *session, const gchar *reason, const gchar *text, gint64 now_us);
/* The connection ends: log the Rejects that were left out of the log and not counted yet. */
void
msb_session_log_rejects_left_out(MsbSession *session);
void
msb_session_clear_reject_log(MsbSession *session);

/* The subscriber was freed by its queue (queue deleted): forget it. */
void
msb_session_forget_subscriber(MsbSession *session, MsbSubscriber *sub);

G_END_DECLS
