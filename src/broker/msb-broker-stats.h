/*
 * MsbBrokerStats: a read-only copy of what the status page, the metrics (and later D-Bus and
 * msbctl) show of the whole broker, in plain structs that name no broker type, and
 * MsbStatsCollection, which fills one in bounded slices.
 *
 * Reading 100,000 topics in one go stalls message service for a second or more, so the copy is
 * made in steps of a bounded amount of work that the adapter runs between other events on the
 * main loop; once finished, the copy belongs to nobody but its readers and may be rendered in
 * any thread (it is immutable and reference counted).
 *
 * Consistency rule: topics are copied in name order and sessions in id order, each topic with
 * its queues, subscribers and sub-pages in one step, so the numbers of one topic agree with each
 * other; two topics may be copied a few milliseconds apart. Everything that happened before the
 * collection started is in it (a topic created before it started is listed, a session closed
 * before it started is not); of what changes while it runs, a topic or session is listed as it
 * was when its turn came (a topic created behind the cursor is left out, one removed behind it
 * stays). The broker totals (pending messages and bytes) are taken when it finishes.
 */
#pragma once

#include <glib.h>

#include "msb-id-set.h"
#include "msb-metrics.h"
#include "msb-wire.h"

G_BEGIN_DECLS

typedef struct _MsbBroker MsbBroker;

/* One cached sub-page of a topic. */
typedef struct {
	gint64 no;      /* sub-page number: ids no*1000 .. no*1000+999 */
	gint64 amount;  /* messages held (loaded or known missing) */
	gint64 size;    /* content bytes */
	gint64 pending; /* messages waiting to be saved */
} MsbSubPageStats;

typedef struct {
	gint64 id;         /* the confirmation id on the wire */
	gint64 session_id; /* see MsbSessionStats.id */
	gboolean on_delivery;
	gint64 in_flight;    /* ids of its batch */
	gint64 busy_us;      /* on delivery: since the batch started or its last partial confirm */
	gint active;         /* 2 in the second a batch started, then 1, then 0 */
	guint first_history; /* µs per message per second, oldest first, in MsbBrokerStats.history
	                      */
	guint n_history;     /* at most MSB_HISTORY_LEN */
} MsbSubscriberStats;

/* A session that published to the topic. */
typedef struct {
	gint64 session_id;
	gint active; /* 2 in the second it last published, then 1, then 0 */
} MsbPublisherStats;

typedef struct {
	const gchar *name;
	MsbQueueType type;
	gint64 waiting;    /* ids waiting for delivery */
	gint64 in_flight;  /* over all subscribers */
	gint64 cursor;     /* when nothing waits: the next id it expects */
	guint first_range; /* the waiting ids, in MsbBrokerStats.ranges */
	guint n_ranges;
	guint first_subscriber; /* in MsbBrokerStats.subscribers, subscription order */
	guint n_subscribers;
} MsbQueueStats;

typedef struct {
	const gchar *name;
	gint64 next_id;
	gboolean persist;
	gint64 deleted_us;    /* 0: live; else soft-deleted, hard-deleted at this wall-clock µs */
	gint64 pending_count; /* messages waiting to be saved */
	const gchar *namespace_name;
	guint64 messages_published;
	guint64 messages_lost;  /* skipped as damaged (OnDamagedMessages: skip) */
	gint64 packets_per_sec; /* publish packets in the last whole second */
	gint64 messages_per_sec;
	gint64 mean_message_size; /* content bytes, over what was published since the start */
	guint first_history;      /* messages per second, oldest first, in MsbBrokerStats.history */
	guint n_history;
	guint first_publisher; /* in MsbBrokerStats.publishers */
	guint n_publishers;
	gint64 cached_bytes;    /* content bytes in memory */
	gint64 cached_messages; /* messages in memory */
	/* metrics, since the start */
	guint64 published_bytes;
	guint64 messages_delivered;
	guint64 messages_redelivered;
	guint first_sub_page; /* in MsbBrokerStats.sub_pages, ascending */
	guint n_sub_pages;
	guint first_queue; /* in MsbBrokerStats.queues, in the topic's order */
	guint n_queues;
} MsbTopicStats;

typedef struct {
	gint64 id;
	const gchar *name; /* Greeting name; NULL before the Greeting */
	const gchar *version;
	const gchar *env_info;
	const gchar *peer;
	const gchar *namespace_name;
	gint kind; /* MsbSessionKind */
	gint32 protocol_version;
	guint64 publishes;
	gint64 connected_us;     /* how long it has been connected */
	gint64 last_incoming_us; /* how long ago the client last sent something, -1 never */
	guint64 read_bytes;
	guint64 written_bytes;
	gint64 read_per_sec; /* bytes in the last whole second */
	gint64 written_per_sec;
} MsbSessionStats;

typedef struct {
	guint64 generation;   /* msb_broker_get_state_generation() when the collection started */
	GArray *topics;       /* MsbTopicStats, by name */
	GArray *sessions;     /* MsbSessionStats, by id */
	GArray *queues;       /* MsbQueueStats, grouped by topic */
	GArray *subscribers;  /* MsbSubscriberStats, grouped by queue */
	GArray *sub_pages;    /* MsbSubPageStats, grouped by topic */
	GArray *ranges;       /* MsbIdRange, grouped by queue */
	GArray *publishers;   /* MsbPublisherStats, grouped by topic */
	GArray *history;      /* gint32: the per-second histories of topics and subscribers */
	gint64 pending_count; /* over all topics, when the collection finished */
	gint64 pending_bytes;
	/* delivery tracing: "topic / queue" or "topic / *"; NULL when off (when it finished) */
	const gchar *debug;
	MsbHistogram delivery_latency; /* when the collection finished */
	/* private */
	GStringChunk *strings;
	gint ref_count;
} MsbBrokerStats;

MsbBrokerStats *
msb_broker_stats_ref(MsbBrokerStats *stats);
/* Thread-safe. */
void
msb_broker_stats_unref(MsbBrokerStats *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbBrokerStats, msb_broker_stats_unref)

static inline const MsbTopicStats *
msb_broker_stats_topic(const MsbBrokerStats *stats, guint i)
{
	return &g_array_index(stats->topics, MsbTopicStats, i);
}

static inline const MsbQueueStats *
msb_broker_stats_queue(const MsbBrokerStats *stats, const MsbTopicStats *topic, guint i)
{
	return &g_array_index(stats->queues, MsbQueueStats, topic->first_queue + i);
}

static inline const MsbSubPageStats *
msb_broker_stats_sub_page(const MsbBrokerStats *stats, const MsbTopicStats *topic, guint i)
{
	return &g_array_index(stats->sub_pages, MsbSubPageStats, topic->first_sub_page + i);
}

static inline const MsbSubscriberStats *
msb_broker_stats_subscriber(const MsbBrokerStats *stats, const MsbQueueStats *queue, guint i)
{
	return &g_array_index(stats->subscribers, MsbSubscriberStats, queue->first_subscriber + i);
}

static inline const MsbIdRange *
msb_broker_stats_range(const MsbBrokerStats *stats, const MsbQueueStats *queue, guint i)
{
	return &g_array_index(stats->ranges, MsbIdRange, queue->first_range + i);
}

static inline const MsbPublisherStats *
msb_broker_stats_publisher(const MsbBrokerStats *stats, const MsbTopicStats *topic, guint i)
{
	return &g_array_index(stats->publishers, MsbPublisherStats, topic->first_publisher + i);
}

/* The @n values of a history that starts at @first in stats->history. */
static inline const gint32 *
msb_broker_stats_history(const MsbBrokerStats *stats, guint first)
{
	return &g_array_index(stats->history, gint32, first);
}

static inline const MsbSessionStats *
msb_broker_stats_session(const MsbBrokerStats *stats, guint i)
{
	return &g_array_index(stats->sessions, MsbSessionStats, i);
}

/* A collection in progress. The broker must outlive it. */
typedef struct _MsbStatsCollection MsbStatsCollection;

MsbStatsCollection *
msb_stats_collection_new(MsbBroker *broker);
/*
 * Copy the next part: topics and sessions until about @budget units of work are done (a topic
 * costs 1 plus its sub-pages, queues, waiting ranges and subscribers, a session 1; a topic is
 * never split, so one step may exceed @budget by one topic's size). Returns TRUE once everything
 * has been copied; then call msb_stats_collection_finish().
 */
gboolean
msb_stats_collection_step(MsbStatsCollection *collection, guint budget);
/* The copy (the collection must be complete); frees @collection. */
MsbBrokerStats *
msb_stats_collection_finish(MsbStatsCollection *collection);
void
msb_stats_collection_free(MsbStatsCollection *collection);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbStatsCollection, msb_stats_collection_free)

/* Everything in one go (tests, tools; a large broker should be read in steps). */
MsbBrokerStats *
msb_broker_collect_stats(MsbBroker *broker);

G_END_DECLS
