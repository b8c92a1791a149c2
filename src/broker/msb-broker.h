/*
 * MsbBroker: the domain model of My Service Bus (node.md §2–§3), with no sockets, threads or
 * clocks of its own.
 *
 * It owns topics, queues, subscribers and sessions and implements publish, subscribe, delivery,
 * confirmations, dead-subscriber detection and queue GC. Its output is bytes: responses and
 * deliveries are encoded straight into each session's output buffer, and the adapter that owns
 * the socket is told through MsbBrokerCallbacks that there is something to flush or that a
 * session must be disconnected. Time comes from the callbacks too, so tests can drive it.
 */
#pragma once

#include <glib.h>

#include "msb-buf.h"
#include "msb-log.h"
#include "msb-persist.h"
#include "msb-types.h"
#include "msb-wire.h"

G_BEGIN_DECLS

#define MSB_BROKER_ERROR (msb_broker_error_quark())
GQuark
msb_broker_error_quark(void);

typedef enum {
	MSB_BROKER_ERROR_TOPIC_NOT_FOUND,
	MSB_BROKER_ERROR_QUEUE_NOT_FOUND,
	MSB_BROKER_ERROR_INVALID_NAME,
	MSB_BROKER_ERROR_SHUTTING_DOWN,
	MSB_BROKER_ERROR_ALREADY_SUBSCRIBED,
	MSB_BROKER_ERROR_NOT_SUPPORTED,
	MSB_BROKER_ERROR_PROTOCOL, /* the session must be closed */
	/* the administrative operations (msb-broker-admin.h) */
	MSB_BROKER_ERROR_TOPIC_DELETED, /* soft-deleted: restore it first */
	MSB_BROKER_ERROR_SESSION_NOT_FOUND,
	MSB_BROKER_ERROR_SUBSCRIBER_NOT_FOUND,
	MSB_BROKER_ERROR_INVALID_ARGUMENT, /* a value out of range (HTTP 400) */
	MSB_BROKER_ERROR_BUSY,             /* try again shortly (a hard delete is under way) */
} MsbBrokerError;

/* Every topic is in this namespace (others are not supported yet, node.md §2.1). */
#define MSB_BROKER_DEFAULT_NAMESPACE "default"

typedef struct {
	/* @session has new bytes in its output buffer */
	void (*output_ready)(MsbSession *session, gpointer user_data);
	/* close @session's connection; the adapter then calls msb_broker_session_close() */
	void (*disconnect)(MsbSession *session, const gchar *reason, gpointer user_data);
	/* clocks, in µs; NULL means g_get_monotonic_time() and g_get_real_time() */
	gint64 (*now_monotonic)(gpointer user_data);
	gint64 (*now_wall)(gpointer user_data);
	/* with persistence: messages are waiting to be saved (take them with
	 * msb_broker_take_save_batch()); may be NULL */
	void (*save_wanted)(gpointer user_data);
	/* with persistence: load @sub_page_no of @topic, then call msb_broker_sub_page_loaded() or
	 * msb_broker_sub_page_load_failed(); may be NULL */
	void (*load_sub_page)(MsbTopic *topic, gint64 sub_page_no, gpointer user_data);
	/* with persistence: ids are running out of their saved reservation, or a topic is new:
	 * save a snapshot soon (msb_broker_build_snapshot(), then msb_broker_snapshot_saved());
	 * may be NULL */
	void (*snapshot_wanted)(gpointer user_data);
	/* with persistence: the soft-deleted @topic's moment has passed: ask the service to delete
	 * it (DeleteTopic, @delete_after_us wall clock), then call msb_broker_topic_delete_done();
	 * NULL (or in memory): the topic is removed at once */
	void (*delete_topic)(const gchar *topic, gint64 delete_after_us, gpointer user_data);
} MsbBrokerCallbacks;

typedef struct {
	gsize max_delivery_size;
	gint64 delivery_timeout_us;
	gint64 queue_gc_timeout_us;
	gboolean auto_create_topic_on_publish;
	gboolean auto_create_topic_on_subscribe;
	/* a session with this many output bytes queued gets no new batch until it drains */
	gsize send_buffer_size;
	/* messages are saved to a persistence service (else they live in memory only) */
	gboolean persistence;
	/* with persistence: publishes are refused while this many content bytes wait to be saved
	 * (0 = no limit) */
	gsize max_pending_bytes;
} MsbBrokerConfig;

MsbBroker *
msb_broker_new(const MsbBrokerConfig *config, const MsbBrokerCallbacks *callbacks,
               gpointer user_data);
void
msb_broker_free(MsbBroker *broker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbBroker, msb_broker_free)

const MsbBrokerConfig *
msb_broker_get_config(MsbBroker *broker);
/* Settings reloaded at run time: timeouts, auto-creation and limits apply from now on;
 * persistence cannot be switched on or off. */
void
msb_broker_set_config(MsbBroker *broker, const MsbBrokerConfig *config);

/* ---- topics ---- */

/* The topic's name (the structure is private to src/broker). */
const gchar *
msb_topic_get_name(const MsbTopic *topic);

MsbTopic *
msb_broker_find_topic(MsbBroker *broker, const gchar *name);
/* Idempotent; validates the name of a new topic. */
MsbTopic *
msb_broker_create_topic(MsbBroker *broker, const gchar *name, GError **error);
GPtrArray *
msb_broker_list_topics(MsbBroker *broker); /* MsbTopic*, sorted by name; free the array */

/* ---- sessions ---- */

/*
 * What an adapter reads of a session (the structure is private to src/broker). These are plain
 * functions: call them per packet or per flush, not per message.
 */
gint64
msb_session_get_id(const MsbSession *session);
MsbSessionKind
msb_session_get_kind(const MsbSession *session);
/* The adapter's pointer given to msb_broker_session_new() (its connection), or what it set. */
gpointer
msb_session_get_user_data(const MsbSession *session);
void
msb_session_set_user_data(MsbSession *session, gpointer user_data);
/* The client's name from its Greeting (segment 0); NULL before the Greeting. */
const gchar *
msb_session_get_name(const MsbSession *session);
gboolean
msb_session_is_greeted(const MsbSession *session);
/* Protocol version P and NewMessages version V7 as negotiated so far: the next packet is decoded
 * with them. Only a Greeting or a PacketVersions changes them. */
gint32
msb_session_get_protocol_version(const MsbSession *session);
gint32
msb_session_get_new_messages_version(const MsbSession *session);
/* The bytes written for the client: the adapter sends from the head and consumes what it sent;
 * the broker only appends. */
MsbBuf *
msb_session_get_output(MsbSession *session);
/* The journal fields of a log line about @session (its id, peer and client name); the strings
 * are the session's own, valid while it lives. */
MsbLogFields
msb_session_log_fields(const MsbSession *session);

GPtrArray *
msb_broker_list_sessions(MsbBroker *broker); /* MsbSession*, by id; free the array */

MsbSession *
msb_broker_session_new(MsbBroker *broker, MsbSessionKind kind, const gchar *peer,
                       gpointer user_data);
/* Disconnect processing: subscribers removed, in-flight messages returned and redelivered.
 * Frees the session. */
void
msb_broker_session_close(MsbBroker *broker, MsbSession *session);
/* The adapter read @read bytes from the session's client and wrote @written to it (for the
 * status page: totals, rates per second and when the client last sent something). */
void
msb_broker_session_count_io(MsbBroker *broker, MsbSession *session, gsize read, gsize written);
/* The session's output drained below the limit: it may get batches again. */
void
msb_broker_session_drained(MsbBroker *broker, MsbSession *session);
/*
 * Handle one decoded packet from @session. Returns FALSE when the connection must be closed
 * (@error says why; a Reject may already be in the output); TRUE otherwise, including when the
 * packet was answered with a Reject.
 */
gboolean
msb_broker_handle_packet(MsbBroker *broker, MsbSession *session, const MsbPacket *packet,
                         GError **error);

/* ---- driving ---- */

/* Run the delivery passes made due by the packets handled since the last call. */
void
msb_broker_run_deliveries(MsbBroker *broker);
/*
 * Periodic work, once a second: dead subscribers at once, then a pass of delete-on-disconnect
 * queue GC and message GC over every topic, walked in slices by msb_broker_tick_step() so a
 * broker with many topics does not stall its main loop. A tick while a pass is under way lets it
 * go on rather than starting over.
 */
void
msb_broker_tick_begin(MsbBroker *broker);
/*
 * Visit the next @budget topics of the pass, in name order after the last one visited (topics
 * created meanwhile are seen by this pass if they sort later, else by the next one). Returns TRUE
 * while topics are left.
 */
gboolean
msb_broker_tick_step(MsbBroker *broker, guint budget);
/* msb_broker_tick_begin() and the whole pass at once: for tests and small brokers. */
void
msb_broker_tick(MsbBroker *broker);
/* Refuse publishes from now on (graceful shutdown). */
void
msb_broker_begin_shutdown(MsbBroker *broker);
/* Batches out for delivery, over all subscribers. */
guint
msb_broker_count_batches_in_flight(MsbBroker *broker);

/* ---- persistence (see msb-persist.h for the rules) ---- */

/*
 * Hand out the next messages to save: from one topic, in id order after those already handed out
 * (saves of one topic may be in flight together, and may settle in any order), at most
 * @max_bytes content bytes (at least one message) and @max_messages. FALSE when nothing waits.
 * @batch must have been initialised with msb_save_batch_init().
 */
gboolean
msb_broker_take_save_batch(MsbBroker *broker, gsize max_bytes, guint max_messages,
                           MsbSaveBatch *batch);
/* The batch is durable: its ids stop being pending, held PublishResponses may go out. */
void
msb_broker_save_done(MsbBroker *broker, const MsbSaveBatch *batch);
/* The save failed: the ids stay pending and are handed out again. */
void
msb_broker_save_failed(MsbBroker *broker, const MsbSaveBatch *batch);
/* Content bytes and messages waiting to be saved, over all topics. */
gint64
msb_broker_get_pending_bytes(MsbBroker *broker);
gint64
msb_broker_get_pending_count(MsbBroker *broker);
/* Wall-clock µs at which the oldest message still waiting to be saved was published, or 0. */
gint64
msb_broker_get_oldest_pending_us(MsbBroker *broker);
/* Saves in flight, over all topics. */
guint
msb_broker_count_saves_in_flight(MsbBroker *broker);

/* Install a sub-page loaded from persistence; ids of it that were not returned are missing. */
void
msb_broker_sub_page_loaded(MsbBroker *broker, MsbTopic *topic, gint64 sub_page_no,
                           const MsbLoadedMessage *messages, guint n_messages);
/* The load failed; the sub-page is asked for again by the next delivery pass of the topic
 * (see msb_broker_wake_topic()). */
void
msb_broker_sub_page_load_failed(MsbBroker *broker, MsbTopic *topic, gint64 sub_page_no);
/*
 * Persistence holds @sub_page_no but its stored bytes are damaged (DATA_LOSS): it is installed
 * with every id not in memory missing, so that queues skip them and delivery goes on with the
 * next ids. The ids some queue still waited for are counted in the topic's messages_lost and
 * logged with @reason; returns how many.
 */
guint
msb_broker_sub_page_damaged(MsbBroker *broker, MsbTopic *topic, gint64 sub_page_no,
                            const gchar *reason);
/* Run a delivery pass for @topic (after a failed load, for a retry). */
void
msb_broker_wake_topic(MsbBroker *broker, MsbTopic *topic);

/* How many ids past the next one a snapshot reserves (see msb-persist.h). */
#define MSB_BROKER_ID_RESERVE G_GINT64_CONSTANT(100000)

/* Changes since the snapshot with this generation was taken need a new snapshot. */
guint64
msb_broker_get_state_generation(MsbBroker *broker);
/*
 * Every topic and queue as it may be saved now (MsbTopicSnapshot*, sorted by name). Each topic's
 * message_id reserves MSB_BROKER_ID_RESERVE ids past its next one; @final (graceful shutdown,
 * nothing more is published) reserves none, so that a clean restart continues without a gap.
 */
GPtrArray *
msb_broker_build_snapshot(MsbBroker *broker, gboolean final);
/* The snapshot @snaps (from msb_broker_build_snapshot()) is durable: its reservations hold. */
void
msb_broker_snapshot_saved(MsbBroker *broker, GPtrArray *snaps);

/*
 * Restore a topic from a snapshot record. @max_persisted_id is the highest id persistence holds
 * for the topic (-1 if none): the counter becomes max(@snapshot_message_id, @max_persisted_id+1).
 */
MsbTopic *
msb_broker_restore_topic(MsbBroker *broker, const gchar *name, gint64 snapshot_message_id,
                         gint64 max_persisted_id, gboolean persist, GError **error);
/* Restore a queue of a restored topic: its ranges, plus every id saved after the snapshot. */
MsbQueue *
msb_broker_restore_queue(MsbBroker *broker, MsbTopic *topic, gint64 snapshot_message_id,
                         const gchar *name, MsbQueueType type, const MsbIdRange *ranges,
                         guint n_ranges);
/*
 * After a crash: persistence holds none of @topic's ids [@from_id, @to_id] (ids the last snapshot
 * reserved and nothing published, or that were published but never saved; the two cannot be told
 * apart). The id counter has moved past them, so they can never hold a message: drop them from
 * every queue of the topic instead of loading them sub-page by sub-page. Not counted as lost.
 * Returns how many waiting ids were dropped, over all queues.
 */
gint64
msb_broker_restore_unpublished(MsbBroker *broker, MsbTopic *topic, gint64 from_id, gint64 to_id);

G_END_DECLS
