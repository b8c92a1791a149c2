/*
 * The administrative operations on the broker (node.md §2.2, §2.7, §4.5, §6.2): one set of
 * functions that carry the rules once, for every adapter (the REST API now, D-Bus and msbctl
 * later). Each validates its input and fails with a MsbBrokerError that the adapter maps to its
 * own status codes; none does I/O. Reads here cover one topic (or a bounded console buffer); reads
 * of the whole broker go through MsbBrokerStats.
 *
 * Soft delete: a deleted topic refuses publish, subscribe and create (TOPIC_DELETED) while its
 * existing subscribers and confirmations go on; at its hard-delete moment the periodic tick asks
 * the persistence adapter to delete it (MsbBrokerCallbacks.delete_topic) and removes it once that
 * succeeded. The G3 snapshot has no field for it, so a soft delete lives in memory only: after a
 * restart the topic is live again.
 */
#pragma once

#include <glib.h>

#include "msb-broker.h"

G_BEGIN_DECLS

/*
 * While topics are restored from persistence (start-up), creating a topic fails with BUSY: the
 * HTTP API answers before the restore, and a topic created then would clash with the restored one
 * of the same name (its ids would start again at 0). Set by the persistence adapter.
 */
void
msb_broker_set_restoring(MsbBroker *broker, gboolean restoring);

/* ---- namespaces ---- */

typedef struct {
	gchar *name;
	guint topics;
} MsbNamespaceInfo;

void
msb_namespace_info_free(MsbNamespaceInfo *info);

/* Only "default" exists: another name (not NULL or "") fails with NOT_SUPPORTED. */
gboolean
msb_broker_check_namespace(MsbBroker *broker, const gchar *ns, GError **error);
/* MsbNamespaceInfo*, by name. */
GPtrArray *
msb_broker_list_namespaces(MsbBroker *broker);

/* ---- topics ---- */

/*
 * Soft delete @name: it is hard-deleted once the wall clock passes @hard_delete_moment_us (µs
 * since the Unix epoch); a moment not after now means at the next tick. Deleting a deleted topic
 * moves its moment. TOPIC_NOT_FOUND for an unknown topic.
 */
gboolean
msb_broker_delete_topic(MsbBroker *broker, const gchar *name, gint64 hard_delete_moment_us,
                        GError **error);
/*
 * Undo a soft delete while the topic is still here. FALSE with TOPIC_NOT_FOUND (unknown or
 * already wiped), INVALID_ARGUMENT (not deleted) or BUSY (the hard delete is under way).
 */
gboolean
msb_broker_undelete_topic(MsbBroker *broker, const gchar *name, GError **error);
/* The persistence adapter's answer to delete_topic(); @error NULL on success. */
void
msb_broker_topic_delete_done(MsbBroker *broker, const gchar *name, const GError *error);
/* Messages published from now on are (not) saved; those already published keep their state. */
gboolean
msb_broker_set_topic_persist(MsbBroker *broker, const gchar *name, gboolean persist,
                             GError **error);

/* Every topic's name (soft-deleted ones included), sorted; for an adapter's start-up listing
 * (whole-broker state otherwise goes through MsbBrokerStats). */
GStrv
msb_broker_list_topic_names(MsbBroker *broker);

/* ---- queues ---- */

/* The names of @topic's queues, in its order; NULL with TOPIC_NOT_FOUND. */
GStrv
msb_broker_list_queue_names(MsbBroker *broker, const gchar *topic, GError **error);
/*
 * Remove the queue with its subscribers; their in-flight messages go with it and their sessions
 * stay connected (node.md §2.7). An absent queue is success; an absent topic TOPIC_NOT_FOUND.
 */
gboolean
msb_broker_delete_queue(MsbBroker *broker, const gchar *topic, const gchar *queue, GError **error);
/*
 * The queue waits for every id from @message_id up to the last published one (everything below
 * counts as consumed; past the end it waits for what is published next), except the ids now in
 * flight; failure counters are kept. Delivery resumes at once.
 */
gboolean
msb_broker_set_queue_message_id(MsbBroker *broker, const gchar *topic, const gchar *queue,
                                gint64 message_id, GError **error);
/* At most @max_messages per delivery batch (0: no limit). In memory only. */
gboolean
msb_broker_set_queue_max_messages(MsbBroker *broker, const gchar *topic, const gchar *queue,
                                  gint64 max_messages, GError **error);

/* ---- sessions ---- */

/*
 * Disconnect session @session_id: the adapter closes its connection (MsbBrokerCallbacks
 * .disconnect) and its in-flight messages go back to their queues. SESSION_NOT_FOUND if unknown.
 */
gboolean
msb_broker_kick_session(MsbBroker *broker, gint64 session_id, GError **error);

/* ---- debug reads ---- */

/* The smallest id @topic still needs (the GC floor, node.md §5). */
gboolean
msb_broker_get_min_message_id(MsbBroker *broker, const gchar *topic, gint64 *min_id,
                              GError **error);

typedef struct {
	gint64 id;
	gint64 session_id;
	gint64 subscribed_us; /* wall clock */
	gboolean on_delivery;
	gint64 delivery_started_us; /* wall clock, on delivery; else 0 */
	gint64 last_delivered_us;   /* wall clock, 0 before the first batch */
	guint last_delivered_amount;
	gint64 in_flight;
} MsbDebugSubscriber;

typedef struct {
	gchar *name;
	MsbQueueType type;
	GArray *subscribers; /* MsbDebugSubscriber, subscription order */
} MsbDebugQueue;

void
msb_debug_queue_free(MsbDebugQueue *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbDebugQueue, msb_debug_queue_free)
/* "Permanent", "DeleteOnDisconnect", "PermanentWithSingleConnection" */
const gchar *
msb_queue_type_to_string(MsbQueueType type);

/* MsbDebugQueue* of @topic; NULL with TOPIC_NOT_FOUND. */
GPtrArray *
msb_broker_debug_queues(MsbBroker *broker, const gchar *topic, GError **error);
/* The in-flight ids of a subscriber ("[0-9, 12]") or "None" when it has no batch out. */
gchar *
msb_broker_debug_on_delivery(MsbBroker *broker, const gchar *topic, const gchar *queue,
                             gint64 subscriber_id, GError **error);

/* ---- the delivery-trace console ---- */

/* The console keeps this many records; older ones are dropped. */
#define MSB_TRACE_RECORDS 1000

typedef struct {
	gint64 wall_us;
	gchar *data;
} MsbTraceRecord;

void
msb_trace_record_free(MsbTraceRecord *record);

/* Trace deliveries of @topic (@queue NULL or "": all its queues); the buffer is cleared. */
gboolean
msb_broker_trace_set_target(MsbBroker *broker, const gchar *topic, const gchar *queue,
                            GError **error);
/* Tracing off, buffer cleared. */
void
msb_broker_trace_stop(MsbBroker *broker);
/* TRUE while tracing; *@topic and *@queue (NULL: all queues) stay valid until it changes. */
gboolean
msb_broker_trace_get_target(MsbBroker *broker, const gchar **topic, const gchar **queue);
/* Copies of the last @tail records (0: all), oldest first (MsbTraceRecord*); @clear empties the
 * buffer after the copy. */
GPtrArray *
msb_broker_trace_read(MsbBroker *broker, guint tail, gboolean clear);
guint
msb_broker_trace_count(MsbBroker *broker);

G_END_DECLS
