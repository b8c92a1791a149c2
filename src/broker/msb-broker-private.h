/*
 * The MsbBroker structure, shared by the files that implement the broker (msb-broker.c for
 * sessions, packets and delivery; msb-broker-persist.c for saving, loading and snapshots).
 */
#pragma once

#include "msb-broker-events.h"
#include "msb-broker.h"
#include "msb-metrics.h"
#include "msb-topic.h"

G_BEGIN_DECLS

struct _MsbBroker {
	MsbBrokerConfig config;
	MsbBrokerCallbacks cb;
	gpointer user_data;
	GHashTable *topics;   /* name → MsbTopic*, owned */
	GHashTable *sessions; /* MsbSession* → itself, owned */
	/* the same, in order: listings, and collections that resume where they stopped */
	GTree *topics_by_name;   /* name → MsbTopic* */
	GTree *sessions_by_id;   /* &id → MsbSession* */
	GPtrArray *dirty_topics; /* MsbTopic* with ->dirty set */
	gint64 next_session_id;
	gint64 next_subscriber_id;
	gboolean shutting_down;
	gboolean delivering; /* inside msb_broker_run_deliveries() */
	/*
	 * The periodic GC pass over the topics, walked in slices by msb_broker_tick_step(). The
	 * cursor is a copy of the last visited name, not a pointer into a topic, so topics added or
	 * removed between slices never leave it dangling.
	 */
	gboolean gc_pass_running;
	gchar *gc_pass_last; /* NULL before the first slice of a pass */
	/* persistence */
	gint64 pending_bytes; /* over all topics */
	gint64 pending_count;
	GHashTable *waiting_sessions; /* MsbSession* with held PublishResponses */
	guint64 generation;           /* bumped by every change a snapshot shows */
	guint64 save_turns;           /* save batches handed out, for MsbTopic.save_turn */
	/* administration (msb-broker-admin.c) */
	gboolean restoring;        /* topics are being restored: none may be created */
	GPtrArray *deleted_topics; /* MsbTopic* soft-deleted, waiting for their moment */
	gchar *trace_topic;        /* delivery tracing: NULL when off */
	gchar *trace_queue;        /* NULL: every queue of trace_topic */
	GQueue *trace_records;     /* MsbTraceRecord*, oldest first, at most MSB_TRACE_RECORDS */
	/* from handing a batch to a subscriber to the confirmation that ends it */
	MsbHistogram delivery_latency;
	/* change events (msb-broker-events.c) */
	GArray *listeners; /* MsbBrokerListener; NULL until the first */
	guint next_listener_id;
	guint emitting; /* depth of msb_broker_emit() calls */
};

/* ---- change events (msb-broker-events.c) ---- */

/* Tell the listeners; cheap when there are none. */
void
msb_broker_emit_real(MsbBroker *broker, const MsbBrokerEvent *event);
static inline void
msb_broker_emit(MsbBroker *broker, const MsbBrokerEvent *event)
{
	if (broker->listeners != NULL && broker->listeners->len > 0)
		msb_broker_emit_real(broker, event);
}
static inline gboolean
msb_broker_has_listeners(MsbBroker *broker)
{
	return broker->listeners != NULL && broker->listeners->len > 0;
}
void
msb_broker_emit_topic(MsbBroker *broker, MsbBrokerEventKind kind, const gchar *topic);
void
msb_broker_emit_queue(MsbBroker *broker, MsbBrokerEventKind kind, const gchar *topic,
                      const gchar *queue, MsbQueueType type);
void
msb_broker_events_free(MsbBroker *broker);

/* ---- shared with msb-broker-admin.c ---- */

/* Delivery tracing (the debug console): is @topic/@queue (@queue NULL: topic-wide events)
 * traced? Cheap when tracing is off. */
static inline gboolean
msb_broker_tracing(MsbBroker *broker, const gchar *topic, const gchar *queue)
{
	return broker->trace_topic != NULL && g_strcmp0(broker->trace_topic, topic) == 0 &&
	       (queue == NULL || broker->trace_queue == NULL ||
	        g_strcmp0(broker->trace_queue, queue) == 0);
}
/* Add a record to the console (call only when msb_broker_tracing() says so). */
void
msb_broker_trace(MsbBroker *broker, const gchar *format, ...) G_GNUC_PRINTF(2, 3);
gint64
msb_broker_wall(MsbBroker *broker);
/* "[0-9, 12]" with at most @max_ranges ranges, then "… (N ranges)". */
gchar *
msb_broker_ids_text(const MsbIdSet *set, guint max_ranges);
/* The soft-deleted topics whose moment has passed are hard-deleted (from the tick). */
void
msb_broker_hard_delete_due(MsbBroker *broker);
void
msb_broker_admin_free(MsbBroker *broker);

/* Shared between the broker's files. */
/* Take @topic (new, its name not in use) into the broker. */
void
msb_broker_add_topic(MsbBroker *broker, MsbTopic *topic);
gint64
msb_broker_now(MsbBroker *broker);
gint64
msb_broker_wall(MsbBroker *broker);
void
msb_broker_mark_dirty(MsbBroker *broker, MsbTopic *topic);
void
msb_broker_output(MsbBroker *broker, MsbSession *session);
/* Write the held PublishResponses that became ready, in order. */
void
msb_broker_release_deferred(MsbBroker *broker);
/* The topic is persisted: what GC drops can be loaded back. */
static inline gboolean
msb_broker_can_reload(MsbBroker *broker, MsbTopic *topic)
{
	return broker->config.persistence && topic->track_pending;
}
/*
 * Ask the adapter to load sub-page @no unless it is loading or not published yet, or it is cached
 * and not @even_if_cached (a cached sub-page may lack ids a queue needs: after a restart the
 * write sub-page holds only what was published since; the load fills in only what is absent).
 */
void
msb_broker_request_load(MsbBroker *broker, MsbTopic *topic, gint64 no, gboolean even_if_cached);

G_END_DECLS
