/*
 * The status page and the metrics as text, from an MsbBrokerStats (see msb-status-render.h).
 *
 * The JSON keeps the field names and types of the reference broker's status API; the
 * subscriber's "deliveryStateStr" and the "system" memory are computed here, the rest is copied.
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-status-render.h"

#include <json-glib/json-glib.h>

#include "msb-config.h"
#include "msb-metrics.h"

/* ---- /api/status ---- */

static void
msb_status_add_int(JsonBuilder *b, const gchar *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static void
msb_status_add_str(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

/* One entry per cached page: amount, size, pending and the sub-pages (0–99) present. */
static void
msb_status_add_pages(JsonBuilder *b, const MsbBrokerStats *stats, const MsbTopicStats *topic)
{
	guint i = 0;

	json_builder_set_member_name(b, "pages");
	json_builder_begin_array(b);
	while (i < topic->n_sub_pages) {
		gint64 page = msb_broker_stats_sub_page(stats, topic, i)->no / 100;
		gint64 amount = 0;
		gint64 size = 0;
		gint64 pending = 0;

		json_builder_begin_object(b);
		msb_status_add_int(b, "id", page);
		json_builder_set_member_name(b, "subPages");
		json_builder_begin_array(b);
		for (; i < topic->n_sub_pages; i++) {
			const MsbSubPageStats *sp = msb_broker_stats_sub_page(stats, topic, i);
			if (sp->no / 100 != page)
				break;
			amount += sp->amount;
			size += sp->size;
			pending += sp->pending;
			json_builder_add_int_value(b, sp->no % 100);
		}
		json_builder_end_array(b);
		msb_status_add_int(b, "amount", amount);
		msb_status_add_int(b, "size", size);
		msb_status_add_int(b, "persist_size", pending);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void
msb_status_add_subscribers(JsonBuilder *b, const MsbBrokerStats *stats, const MsbTopicStats *topic)
{
	json_builder_set_member_name(b, "subscribers");
	json_builder_begin_array(b);
	for (guint q = 0; q < topic->n_queues; q++) {
		const MsbQueueStats *queue = msb_broker_stats_queue(stats, topic, q);
		for (guint i = 0; i < queue->n_subscribers; i++) {
			const MsbSubscriberStats *sub =
			        msb_broker_stats_subscriber(stats, queue, i);
			g_autofree gchar *state_str = NULL;

			if (sub->on_delivery)
				state_str = g_strdup_printf("%.1fs %" G_GINT64_FORMAT,
				                            (gdouble)sub->busy_us / G_USEC_PER_SEC,
				                            sub->in_flight);
			json_builder_begin_object(b);
			msb_status_add_int(b, "id", sub->id);
			msb_status_add_int(b, "sessionId", sub->session_id);
			msb_status_add_str(b, "queueId", queue->name);
			/* the values the reference broker shows: 0 idle, 2 on delivery */
			msb_status_add_int(b, "deliveryState", sub->on_delivery ? 2 : 0);
			msb_status_add_str(b, "deliveryStateStr",
			                   state_str != NULL ? state_str : "Idle");
			json_builder_end_object(b);
		}
	}
	json_builder_end_array(b);
}

static void
msb_status_add_queue(JsonBuilder *b, const MsbBrokerStats *stats, const MsbQueueStats *queue)
{
	json_builder_begin_object(b);
	msb_status_add_str(b, "id", queue->name);
	msb_status_add_int(b, "queueType", queue->type);
	msb_status_add_int(b, "size", queue->waiting);
	msb_status_add_int(b, "onDelivery", queue->in_flight);
	msb_status_add_int(b, "subscribers", queue->n_subscribers);
	json_builder_set_member_name(b, "data");
	json_builder_begin_array(b);
	if (queue->n_ranges == 0) {
		/* the empty-range form: {cursor, cursor - 1} (node.md §2.4) */
		json_builder_begin_object(b);
		msb_status_add_int(b, "fromId", queue->cursor);
		msb_status_add_int(b, "toId", queue->cursor - 1);
		json_builder_end_object(b);
	}
	for (guint i = 0; i < queue->n_ranges; i++) {
		const MsbIdRange *r = msb_broker_stats_range(stats, queue, i);
		json_builder_begin_object(b);
		msb_status_add_int(b, "fromId", r->from);
		msb_status_add_int(b, "toId", r->to);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void
msb_status_add_system(JsonBuilder *b)
{
	g_autofree gchar *meminfo = NULL;
	gint64 total_kb = 0;
	gint64 avail_kb = 0;

	if (g_file_get_contents("/proc/meminfo", &meminfo, NULL, NULL)) {
		g_auto(GStrv) lines = g_strsplit(meminfo, "\n", -1);
		for (guint i = 0; lines[i] != NULL; i++) {
			if (g_str_has_prefix(lines[i], "MemTotal:"))
				total_kb = g_ascii_strtoll(lines[i] + 9, NULL, 10);
			else if (g_str_has_prefix(lines[i], "MemAvailable:"))
				avail_kb = g_ascii_strtoll(lines[i] + 13, NULL, 10);
		}
	}
	json_builder_set_member_name(b, "system");
	json_builder_begin_object(b);
	msb_status_add_int(b, "usedmem", (total_kb - avail_kb) * 1024);
	msb_status_add_int(b, "totalmem", total_kb * 1024);
	json_builder_end_object(b);
}

GBytes *
msb_status_render_json(const MsbBrokerStats *stats, const MsbHttpInfo *info)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	gint64 generation = (gint64)stats->generation;
	gsize len = 0;
	gchar *text;

	json_builder_begin_object(b);

	json_builder_set_member_name(b, "topics");
	json_builder_begin_object(b);
	msb_status_add_int(b, "snapshotId", generation);
	json_builder_set_member_name(b, "items");
	json_builder_begin_array(b);
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		json_builder_begin_object(b);
		msb_status_add_str(b, "id", topic->name);
		msb_status_add_int(b, "messageId", topic->next_id);
		msb_status_add_int(b, "persistSize", topic->pending_count);
		json_builder_set_member_name(b, "persist");
		json_builder_add_boolean_value(b, topic->persist);
		msb_status_add_int(b, "deleted", 0);
		msb_status_add_int(b, "messagesPublished", (gint64)topic->messages_published);
		msb_status_add_pages(b, stats, topic);
		msb_status_add_subscribers(b, stats, topic);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);

	json_builder_set_member_name(b, "queues");
	json_builder_begin_object(b);
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		json_builder_set_member_name(b, topic->name);
		json_builder_begin_object(b);
		msb_status_add_int(b, "snapshotId", generation);
		json_builder_set_member_name(b, "queues");
		json_builder_begin_array(b);
		for (guint q = 0; q < topic->n_queues; q++)
			msb_status_add_queue(b, stats, msb_broker_stats_queue(stats, topic, q));
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);

	json_builder_set_member_name(b, "sessions");
	json_builder_begin_object(b);
	msb_status_add_int(b, "snapshotId", generation);
	json_builder_set_member_name(b, "items");
	json_builder_begin_array(b);
	for (guint i = 0; i < stats->sessions->len; i++) {
		const MsbSessionStats *session = msb_broker_stats_session(stats, i);
		g_autofree gchar *type = g_strdup_printf("tcp[%d]", session->protocol_version);
		json_builder_begin_object(b);
		msb_status_add_int(b, "id", session->id);
		msb_status_add_str(b, "name", session->name);
		msb_status_add_str(b, "namespace", "default");
		msb_status_add_str(b, "type", type);
		msb_status_add_str(b, "ip", session->peer);
		msb_status_add_str(b, "version", session->version);
		msb_status_add_str(b, "envInfo", session->env_info);
		msb_status_add_int(b, "publishes", (gint64)session->publishes);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);

	msb_status_add_system(b);
	msb_status_add_str(b, "persistenceVersion", info->persistence_version);
	msb_status_add_str(b, "version", MSB_VERSION);
	msb_status_add_str(b, "state", info->state);

	json_builder_set_member_name(b, "persistence");
	json_builder_begin_object(b);
	msb_status_add_str(b, "url", info->persistence_url);
	json_builder_set_member_name(b, "up");
	json_builder_add_boolean_value(b, info->persistence_up);
	msb_status_add_str(b, "lastError", info->persistence_error);
	msb_status_add_int(b, "pendingMessages", stats->pending_count);
	msb_status_add_int(b, "pendingBytes", stats->pending_bytes);
	msb_status_add_int(b, "oldestPendingAgeMs", info->oldest_pending_age_us / 1000);
	msb_status_add_int(b, "saves", (gint64)info->saves);
	msb_status_add_int(b, "saveFailures", (gint64)info->save_failures);
	msb_status_add_int(b, "loads", (gint64)info->loads);
	msb_status_add_int(b, "loadFailures", (gint64)info->load_failures);
	msb_status_add_int(b, "snapshots", (gint64)info->snapshots);
	msb_status_add_int(b, "snapshotFailures", (gint64)info->snapshot_failures);
	json_builder_end_object(b);

	json_builder_end_object(b);

	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, &len);
	return g_bytes_new_take(text, len);
}

/* ---- /metrics ---- */

/* one sample per topic: name{namespace="default",topic="..."} value */
static void
msb_status_topic_metric(GString *out, const MsbBrokerStats *stats, const gchar *name,
                        const gchar *help, gsize offset)
{
	msb_metrics_header(out, name, "gauge", help);
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		g_string_append_printf(out, "%s{namespace=\"default\",topic=\"", name);
		msb_metrics_append_label(out, topic->name);
		g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n",
		                       G_STRUCT_MEMBER(gint64, topic, offset));
	}
}

GBytes *
msb_status_render_metrics(const MsbBrokerStats *stats, const MsbHttpInfo *info)
{
	GString *out = g_string_new(NULL);
	gint64 permanent_without_subscribers = 0;
	gint64 topics_without_queues = 0;
	gsize len;

	msb_metrics_header(out, "topic_queue_size", "gauge", "Waiting messages of a queue");
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		if (topic->n_queues == 0)
			topics_without_queues++;
		for (guint q = 0; q < topic->n_queues; q++) {
			const MsbQueueStats *queue = msb_broker_stats_queue(stats, topic, q);
			if ((queue->type & MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT) == 0 &&
			    queue->n_subscribers == 0)
				permanent_without_subscribers++;
			g_string_append(out, "topic_queue_size{namespace=\"default\",topic=\"");
			msb_metrics_append_label(out, topic->name);
			g_string_append(out, "\",queue=\"");
			msb_metrics_append_label(out, queue->name);
			g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n", queue->waiting);
		}
	}
	msb_status_topic_metric(out, stats, "topic_persist_queue_size",
	                        "Messages of the topic waiting to be saved",
	                        G_STRUCT_OFFSET(MsbTopicStats, pending_count));
	msb_status_topic_metric(out, stats, "topic_data_size", "Bytes of message content in memory",
	                        G_STRUCT_OFFSET(MsbTopicStats, cached_bytes));
	msb_status_topic_metric(out, stats, "topic_messages_amount", "Messages in memory",
	                        G_STRUCT_OFFSET(MsbTopicStats, cached_messages));
	msb_status_topic_metric(out, stats, "topic_next_message_id",
	                        "The id the next message of the topic gets",
	                        G_STRUCT_OFFSET(MsbTopicStats, next_id));
	msb_metrics_value(out, "permanent_queues_without_subscribers", "gauge",
	                  "Permanent queues with no subscriber",
	                  (guint64)permanent_without_subscribers);
	msb_metrics_value(out, "topics_without_queues", "gauge", "Topics with no queue",
	                  (guint64)topics_without_queues);
	msb_metrics_header(out, "tcp_connections", "gauge", "Client connections");
	g_string_append_printf(out, "tcp_connections{tcp_metric=\"count\"} %u\n",
	                       info->tcp_connections);

	msb_metrics_value(out, "msb_up", "gauge",
	                  "1 once topics and queues are restored and clients served",
	                  g_strcmp0(info->state, "running") == 0);
	msb_metrics_value(out, "msb_persistence_up", "gauge",
	                  "1 while the persistence service answers (always 0 in memory)",
	                  info->persistence_up ? 1 : 0);
	msb_metrics_value(out, "msb_persistence_pending_messages", "gauge",
	                  "Messages waiting to be saved", (guint64)stats->pending_count);
	msb_metrics_value(out, "msb_persistence_pending_bytes", "gauge",
	                  "Content bytes waiting to be saved", (guint64)stats->pending_bytes);
	msb_metrics_header(out, "msb_persistence_oldest_pending_seconds", "gauge",
	                   "How long the oldest unsaved message has waited");
	g_string_append_printf(out, "msb_persistence_oldest_pending_seconds %.3f\n",
	                       (gdouble)info->oldest_pending_age_us / G_USEC_PER_SEC);
	msb_metrics_value(out, "msb_persistence_saves_total", "counter",
	                  "Message saves acknowledged", info->saves);
	msb_metrics_value(out, "msb_persistence_save_failures_total", "counter",
	                  "Message saves that failed", info->save_failures);
	msb_metrics_value(out, "msb_persistence_loads_total", "counter", "Sub-pages loaded back",
	                  info->loads);
	msb_metrics_value(out, "msb_persistence_load_failures_total", "counter",
	                  "Sub-page loads that failed", info->load_failures);
	msb_metrics_value(out, "msb_persistence_snapshots_total", "counter",
	                  "Queue snapshots saved", info->snapshots);
	msb_metrics_value(out, "msb_persistence_snapshot_failures_total", "counter",
	                  "Queue snapshot saves that failed", info->snapshot_failures);
	len = out->len;
	return g_bytes_new_take(g_string_free(out, FALSE), len);
}
