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
#include "msb-topic.h"
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
} MsbBrokerError;

typedef struct _MsbBroker MsbBroker;

typedef struct {
	/* @session has new bytes in its output buffer */
	void (*output_ready)(MsbSession *session, gpointer user_data);
	/* close @session's connection; the adapter then calls msb_broker_session_close() */
	void (*disconnect)(MsbSession *session, const gchar *reason, gpointer user_data);
	/* clocks, in µs; NULL means g_get_monotonic_time() and g_get_real_time() */
	gint64 (*now_monotonic)(gpointer user_data);
	gint64 (*now_wall)(gpointer user_data);
} MsbBrokerCallbacks;

typedef struct {
	gsize max_delivery_size;
	gint64 delivery_timeout_us;
	gint64 queue_gc_timeout_us;
	gboolean auto_create_topic_on_publish;
	gboolean auto_create_topic_on_subscribe;
	/* a session with this many output bytes queued gets no new batch until it drains */
	gsize send_buffer_size;
} MsbBrokerConfig;

MsbBroker *
msb_broker_new(const MsbBrokerConfig *config, const MsbBrokerCallbacks *callbacks,
	       gpointer user_data);
void
msb_broker_free(MsbBroker *broker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbBroker, msb_broker_free)

const MsbBrokerConfig *
msb_broker_get_config(MsbBroker *broker);

/* ---- topics ---- */

MsbTopic *
msb_broker_find_topic(MsbBroker *broker, const gchar *name);
/* Idempotent; validates the name of a new topic. */
MsbTopic *
msb_broker_create_topic(MsbBroker *broker, const gchar *name, GError **error);
GPtrArray *
msb_broker_list_topics(MsbBroker *broker); /* MsbTopic*, sorted by name; free the array */

/* ---- sessions ---- */

MsbSession *
msb_broker_session_new(MsbBroker *broker, const gchar *peer, gpointer user_data);
/* Disconnect processing: subscribers removed, in-flight messages returned and redelivered.
 * Frees the session. */
void
msb_broker_session_close(MsbBroker *broker, MsbSession *session);
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
/* Periodic work, once a second: dead subscribers, delete-on-disconnect queue GC, message GC. */
void
msb_broker_tick(MsbBroker *broker);
/* Refuse publishes from now on (graceful shutdown). */
void
msb_broker_begin_shutdown(MsbBroker *broker);
/* Batches out for delivery, over all subscribers. */
guint
msb_broker_count_batches_in_flight(MsbBroker *broker);

G_END_DECLS
