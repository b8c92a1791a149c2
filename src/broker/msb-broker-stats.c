/*
 * MsbStatsCollection: copies the broker's whole state into an MsbBrokerStats in bounded steps
 * (see msb-broker-stats.h for the consistency rule).
 *
 * The broker keeps its topics in a tree by name and its sessions in a tree by id next to its hash
 * tables, so a step resumes after the last name or id it copied in O(log n), whatever was
 * created or removed in between; nothing in the broker has to know that a collection runs.
 */
#define G_LOG_DOMAIN "msb-broker"

#include "msb-broker-stats.h"

#include <stdlib.h>
#include <string.h>

#include "msb-broker-private.h"
#include "msb-session.h"

struct _MsbStatsCollection {
	MsbBroker *broker;
	MsbBrokerStats *stats;
	gboolean topics_done;
	gboolean sessions_done;
	const gchar *last_topic; /* the name of the last topic copied (in stats->strings) */
	gint64 last_session;     /* the id of the last session copied, or -1 */
};

static void
msb_broker_stats_free(MsbBrokerStats *stats)
{
	g_array_unref(stats->topics);
	g_array_unref(stats->sessions);
	g_array_unref(stats->queues);
	g_array_unref(stats->subscribers);
	g_array_unref(stats->sub_pages);
	g_array_unref(stats->ranges);
	g_array_unref(stats->publishers);
	g_array_unref(stats->history);
	g_string_chunk_free(stats->strings);
	g_free(stats);
}

MsbBrokerStats *
msb_broker_stats_ref(MsbBrokerStats *stats)
{
	g_return_val_if_fail(stats != NULL, NULL);
	g_atomic_int_inc(&stats->ref_count);
	return stats;
}

void
msb_broker_stats_unref(MsbBrokerStats *stats)
{
	if (stats == NULL)
		return;
	if (g_atomic_int_dec_and_test(&stats->ref_count))
		msb_broker_stats_free(stats);
}

static MsbBrokerStats *
msb_broker_stats_new(void)
{
	MsbBrokerStats *stats = g_new0(MsbBrokerStats, 1);

	stats->ref_count = 1;
	stats->topics = g_array_new(FALSE, FALSE, sizeof(MsbTopicStats));
	stats->sessions = g_array_new(FALSE, FALSE, sizeof(MsbSessionStats));
	stats->queues = g_array_new(FALSE, FALSE, sizeof(MsbQueueStats));
	stats->subscribers = g_array_new(FALSE, FALSE, sizeof(MsbSubscriberStats));
	stats->sub_pages = g_array_new(FALSE, FALSE, sizeof(MsbSubPageStats));
	stats->ranges = g_array_new(FALSE, FALSE, sizeof(MsbIdRange));
	stats->publishers = g_array_new(FALSE, FALSE, sizeof(MsbPublisherStats));
	stats->history = g_array_new(FALSE, FALSE, sizeof(gint32));
	stats->strings = g_string_chunk_new(4096);
	return stats;
}

static const gchar *
msb_broker_stats_str(MsbBrokerStats *stats, const gchar *str)
{
	return str != NULL ? g_string_chunk_insert(stats->strings, str) : NULL;
}

MsbStatsCollection *
msb_stats_collection_new(MsbBroker *broker)
{
	MsbStatsCollection *collection;

	g_return_val_if_fail(broker != NULL, NULL);
	collection = g_new0(MsbStatsCollection, 1);
	collection->broker = broker;
	collection->stats = msb_broker_stats_new();
	collection->stats->generation = broker->generation;
	collection->last_session = -1;
	return collection;
}

void
msb_stats_collection_free(MsbStatsCollection *collection)
{
	if (collection == NULL)
		return;
	msb_broker_stats_unref(collection->stats);
	g_free(collection);
}

static gint
msb_sub_page_stats_cmp(const void *a, const void *b)
{
	const MsbSubPageStats *x = a;
	const MsbSubPageStats *y = b;

	return x->no < y->no ? -1 : x->no > y->no;
}

/* Append @history to stats->history; returns where it starts. */
static guint
msb_stats_copy_history(MsbBrokerStats *stats, const MsbHistory *history, guint *n)
{
	guint first = stats->history->len;

	/* an empty array has no data yet: indexing it would offset a NULL pointer */
	if (history->len == 0) {
		*n = 0;
		return first;
	}
	g_array_set_size(stats->history, first + history->len);
	*n = msb_history_copy(history, &g_array_index(stats->history, gint32, first));
	return first;
}

static void
msb_stats_copy_queue(MsbStatsCollection *collection, MsbQueue *queue, gint64 now, guint *work)
{
	MsbBrokerStats *stats = collection->stats;
	const MsbIdSet *waiting = &queue->waiting;
	gint64 second = msb_history_second(now);
	MsbQueueStats qs = {
	        .name = msb_broker_stats_str(stats, queue->name),
	        .type = queue->type,
	        .waiting = msb_id_set_count(waiting),
	        .in_flight = msb_queue_in_flight_count(queue),
	        .cursor = msb_id_set_cursor(waiting),
	        .first_range = stats->ranges->len,
	        .n_ranges = msb_id_set_n_ranges(waiting),
	        .first_subscriber = stats->subscribers->len,
	        .n_subscribers = queue->subscribers->len,
	};

	if (qs.n_ranges > 0)
		g_array_append_vals(stats->ranges, msb_id_set_range(waiting, 0), qs.n_ranges);
	for (guint i = 0; i < queue->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
		MsbSubscriberStats ss = {
		        .id = sub->id,
		        .session_id = sub->session->id,
		        .on_delivery = sub->state == MSB_SUBSCRIBER_ON_DELIVERY,
		        .in_flight = msb_id_set_count(&sub->in_flight),
		        .busy_us = now - sub->last_update_us,
		        .active = msb_activity(sub->delivery_second, second),
		};
		msb_subscriber_roll_stats(sub, second);
		ss.first_history = msb_stats_copy_history(stats, &sub->history, &ss.n_history);
		g_array_append_val(stats->subscribers, ss);
	}
	g_array_append_val(stats->queues, qs);
	*work += 1 + qs.n_ranges + qs.n_subscribers;
}

/* One topic, whole: its numbers agree with each other. Returns the work it cost. */
static guint
msb_stats_copy_topic(MsbStatsCollection *collection, MsbTopic *topic, gint64 now)
{
	MsbBrokerStats *stats = collection->stats;
	MsbTopicStats ts = {
	        .name = msb_broker_stats_str(stats, topic->name),
	        .next_id = topic->next_id,
	        .persist = topic->persist,
	        .deleted_us = topic->deleted_us,
	        .pending_count = topic->pending_count,
	        .namespace_name = MSB_BROKER_DEFAULT_NAMESPACE,
	        .messages_published = topic->messages_published,
	        .messages_lost = topic->messages_lost,
	        .cached_bytes = topic->cached_bytes,
	        .cached_messages = topic->cached_messages,
	        .published_bytes = topic->published_bytes,
	        .messages_delivered = topic->messages_delivered,
	        .messages_redelivered = topic->messages_redelivered,
	        .first_sub_page = stats->sub_pages->len,
	        .n_sub_pages = g_hash_table_size(topic->sub_pages),
	        .first_queue = stats->queues->len,
	        .n_queues = topic->queues->len,
	};
	GHashTableIter iter;
	gpointer value;
	guint work = 1 + ts.n_sub_pages;
	gint64 second = msb_history_second(now);

	msb_topic_roll_stats(topic, second);
	ts.packets_per_sec = msb_rate_get(&topic->packets_rate, second);
	ts.messages_per_sec = msb_rate_get(&topic->messages_rate, second);
	if (topic->messages_published > 0)
		ts.mean_message_size = (gint64)(topic->published_bytes / topic->messages_published);
	ts.first_history = msb_stats_copy_history(stats, &topic->publish_history, &ts.n_history);
	ts.first_publisher = stats->publishers->len;
	for (guint i = 0; topic->publishers != NULL && i < topic->publishers->len; i++) {
		const MsbTopicPublisher *p =
		        &g_array_index(topic->publishers, MsbTopicPublisher, i);
		MsbPublisherStats ps = {p->session_id, msb_activity(p->second, second)};
		/* a session that closed since the last periodic pass is left out */
		if (g_tree_lookup(collection->broker->sessions_by_id, &p->session_id) == NULL)
			continue;
		g_array_append_val(stats->publishers, ps);
		ts.n_publishers++;
	}

	g_hash_table_iter_init(&iter, topic->sub_pages);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		const MsbSubPage *sp = value;
		MsbSubPageStats sps = {
		        .no = sp->no,
		        .amount = sp->n_loaded + sp->n_missing,
		        .size = (gint64)sp->content_bytes,
		        .pending = sp->n_pending,
		};
		g_array_append_val(stats->sub_pages, sps);
	}
	if (ts.n_sub_pages > 1)
		qsort(&g_array_index(stats->sub_pages, MsbSubPageStats, ts.first_sub_page),
		      ts.n_sub_pages, sizeof(MsbSubPageStats), msb_sub_page_stats_cmp);
	for (guint q = 0; q < topic->queues->len; q++)
		msb_stats_copy_queue(collection, g_ptr_array_index(topic->queues, q), now, &work);
	g_array_append_val(stats->topics, ts);
	collection->last_topic = ts.name;
	return work;
}

static void
msb_stats_copy_session(MsbStatsCollection *collection, MsbSession *session, gint64 now, gint64 wall)
{
	MsbBrokerStats *stats = collection->stats;
	gint64 second = msb_history_second(now);
	MsbSessionStats ss = {
	        .id = session->id,
	        .name = msb_broker_stats_str(stats, session->name),
	        .version = msb_broker_stats_str(stats, session->version),
	        .env_info = msb_broker_stats_str(stats, session->env_info),
	        .peer = msb_broker_stats_str(stats, session->peer),
	        .kind = session->kind,
	        .protocol_version = session->protocol_version,
	        .publishes = session->publishes,
	        .namespace_name = msb_broker_stats_str(
	                stats, session->namespace_name != NULL ? session->namespace_name
	                                                       : MSB_BROKER_DEFAULT_NAMESPACE),
	        .connected_us = MAX(wall - session->connected_us, 0),
	        .last_incoming_us = session->last_incoming_us != 0
	                                    ? MAX(now - session->last_incoming_us, 0)
	                                    : -1,
	        .read_bytes = session->read_bytes,
	        .written_bytes = session->written_bytes,
	        .read_per_sec = msb_rate_get(&session->read_rate, second),
	        .written_per_sec = msb_rate_get(&session->written_rate, second),
	};

	g_array_append_val(stats->sessions, ss);
	collection->last_session = session->id;
}

gboolean
msb_stats_collection_step(MsbStatsCollection *collection, guint budget)
{
	MsbBroker *broker;
	GTreeNode *node;
	guint work = 0;
	gint64 now;
	gint64 wall;

	g_return_val_if_fail(collection != NULL, TRUE);
	broker = collection->broker;
	now = msb_broker_now(broker);
	wall = msb_broker_wall(broker);

	if (!collection->topics_done) {
		node = collection->last_topic == NULL
		               ? g_tree_node_first(broker->topics_by_name)
		               : g_tree_upper_bound(broker->topics_by_name, collection->last_topic);
		for (; node != NULL && work < budget; node = g_tree_node_next(node))
			work += msb_stats_copy_topic(collection, g_tree_node_value(node), now);
		if (node != NULL)
			return FALSE;
		collection->topics_done = TRUE;
	}
	if (!collection->sessions_done) {
		node = g_tree_upper_bound(broker->sessions_by_id, &collection->last_session);
		for (; node != NULL && work < budget; node = g_tree_node_next(node)) {
			msb_stats_copy_session(collection, g_tree_node_value(node), now, wall);
			work++;
		}
		if (node != NULL)
			return FALSE;
		collection->sessions_done = TRUE;
	}
	return TRUE;
}

MsbBrokerStats *
msb_stats_collection_finish(MsbStatsCollection *collection)
{
	MsbBrokerStats *stats;

	g_return_val_if_fail(collection != NULL, NULL);
	g_return_val_if_fail(collection->topics_done && collection->sessions_done, NULL);
	stats = g_steal_pointer(&collection->stats);
	stats->pending_count = collection->broker->pending_count;
	stats->pending_bytes = collection->broker->pending_bytes;
	if (collection->broker->trace_topic != NULL) {
		g_autofree gchar *debug = g_strdup_printf(
		        "%s / %s", collection->broker->trace_topic,
		        collection->broker->trace_queue != NULL ? collection->broker->trace_queue
		                                                : "*");
		stats->debug = msb_broker_stats_str(stats, debug);
	}
	stats->delivery_latency = collection->broker->delivery_latency;
	msb_stats_collection_free(collection);
	return stats;
}

MsbBrokerStats *
msb_broker_collect_stats(MsbBroker *broker)
{
	MsbStatsCollection *collection;

	g_return_val_if_fail(broker != NULL, NULL);
	collection = msb_stats_collection_new(broker);
	while (!msb_stats_collection_step(collection, G_MAXUINT))
		;
	return msb_stats_collection_finish(collection);
}
