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

/* ---- /api/status ----
 *
 * Written straight into one buffer, in the layout json-glib's generator gives (no blanks): a
 * tree of JsonNodes for 100,000 topics costs seconds and hundreds of megabytes. Strings that
 * are plain printable ASCII (every topic name, and nearly every other string) are copied as they
 * are; any other string is escaped by json-glib itself, so the text stays what it was.
 */

typedef struct {
	GString *out;
	gboolean comma; /* a value was written at this level: the next one needs a ',' */
} MsbJson;

static void
msb_json_sep(MsbJson *j)
{
	if (j->comma)
		g_string_append_c(j->out, ',');
	j->comma = TRUE;
}

static void
msb_json_string(MsbJson *j, const gchar *value)
{
	if (value == NULL) {
		g_string_append(j->out, "null");
		return;
	}
	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
			g_autoptr(JsonNode) node = json_node_init_string(json_node_alloc(), value);
			g_autofree gchar *text = json_to_string(node, FALSE);
			g_string_append(j->out, text);
			return;
		}
	}
	g_string_append_c(j->out, '"');
	g_string_append(j->out, value);
	g_string_append_c(j->out, '"');
}

/* "name": — then the value */
static void
msb_json_key(MsbJson *j, const gchar *name)
{
	msb_json_sep(j);
	msb_json_string(j, name);
	g_string_append_c(j->out, ':');
}

static void
msb_json_begin(MsbJson *j, gchar bracket)
{
	g_string_append_c(j->out, bracket);
	j->comma = FALSE;
}

static void
msb_json_end(MsbJson *j, gchar bracket)
{
	g_string_append_c(j->out, bracket);
	j->comma = TRUE;
}

static void
msb_json_int(MsbJson *j, const gchar *name, gint64 value)
{
	msb_json_key(j, name);
	g_string_append_printf(j->out, "%" G_GINT64_FORMAT, value);
}

static void
msb_json_str(MsbJson *j, const gchar *name, const gchar *value)
{
	msb_json_key(j, name);
	msb_json_string(j, value);
}

static void
msb_json_bool(MsbJson *j, const gchar *name, gboolean value)
{
	msb_json_key(j, name);
	g_string_append(j->out, value ? "true" : "false");
}

/* One entry per cached page: amount, size, pending and the sub-pages (0–99) present. */
static void
msb_status_add_pages(MsbJson *j, const MsbBrokerStats *stats, const MsbTopicStats *topic)
{
	guint i = 0;

	msb_json_key(j, "pages");
	msb_json_begin(j, '[');
	while (i < topic->n_sub_pages) {
		gint64 page = msb_broker_stats_sub_page(stats, topic, i)->no / 100;
		gint64 amount = 0;
		gint64 size = 0;
		gint64 pending = 0;

		msb_json_sep(j);
		msb_json_begin(j, '{');
		msb_json_int(j, "id", page);
		msb_json_key(j, "subPages");
		msb_json_begin(j, '[');
		for (; i < topic->n_sub_pages; i++) {
			const MsbSubPageStats *sp = msb_broker_stats_sub_page(stats, topic, i);
			if (sp->no / 100 != page)
				break;
			amount += sp->amount;
			size += sp->size;
			pending += sp->pending;
			msb_json_sep(j);
			g_string_append_printf(j->out, "%" G_GINT64_FORMAT, sp->no % 100);
		}
		msb_json_end(j, ']');
		msb_json_int(j, "amount", amount);
		msb_json_int(j, "size", size);
		msb_json_int(j, "persist_size", pending);
		msb_json_end(j, '}');
	}
	msb_json_end(j, ']');
}

static void
msb_status_add_subscribers(MsbJson *j, const MsbBrokerStats *stats, const MsbTopicStats *topic)
{
	msb_json_key(j, "subscribers");
	msb_json_begin(j, '[');
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
			msb_json_sep(j);
			msb_json_begin(j, '{');
			msb_json_int(j, "id", sub->id);
			msb_json_int(j, "sessionId", sub->session_id);
			msb_json_str(j, "queueId", queue->name);
			/* the values the reference broker shows: 0 idle, 2 on delivery */
			msb_json_int(j, "deliveryState", sub->on_delivery ? 2 : 0);
			msb_json_str(j, "deliveryStateStr", state_str != NULL ? state_str : "Idle");
			msb_json_end(j, '}');
		}
	}
	msb_json_end(j, ']');
}

static void
msb_status_add_range(MsbJson *j, gint64 from, gint64 to)
{
	msb_json_sep(j);
	msb_json_begin(j, '{');
	msb_json_int(j, "fromId", from);
	msb_json_int(j, "toId", to);
	msb_json_end(j, '}');
}

static void
msb_status_add_queue(MsbJson *j, const MsbBrokerStats *stats, const MsbQueueStats *queue)
{
	msb_json_sep(j);
	msb_json_begin(j, '{');
	msb_json_str(j, "id", queue->name);
	msb_json_int(j, "queueType", queue->type);
	msb_json_int(j, "size", queue->waiting);
	msb_json_int(j, "onDelivery", queue->in_flight);
	msb_json_int(j, "subscribers", queue->n_subscribers);
	msb_json_key(j, "data");
	msb_json_begin(j, '[');
	/* the empty-range form: {cursor, cursor - 1} (node.md §2.4) */
	if (queue->n_ranges == 0)
		msb_status_add_range(j, queue->cursor, queue->cursor - 1);
	for (guint i = 0; i < queue->n_ranges; i++) {
		const MsbIdRange *r = msb_broker_stats_range(stats, queue, i);
		msb_status_add_range(j, r->from, r->to);
	}
	msb_json_end(j, ']');
	msb_json_end(j, '}');
}

static void
msb_status_add_system(MsbJson *j)
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
	msb_json_key(j, "system");
	msb_json_begin(j, '{');
	msb_json_int(j, "usedmem", (total_kb - avail_kb) * 1024);
	msb_json_int(j, "totalmem", total_kb * 1024);
	msb_json_end(j, '}');
}

GBytes *
msb_status_render_json(const MsbBrokerStats *stats, const MsbHttpInfo *info)
{
	/* about 250 bytes per topic with no queue */
	MsbJson json = {g_string_sized_new(4096 + (gsize)stats->topics->len * 256), FALSE};
	MsbJson *j = &json;
	gint64 generation = (gint64)stats->generation;
	gsize len;

	msb_json_begin(j, '{');

	msb_json_key(j, "topics");
	msb_json_begin(j, '{');
	msb_json_int(j, "snapshotId", generation);
	msb_json_key(j, "items");
	msb_json_begin(j, '[');
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		msb_json_sep(j);
		msb_json_begin(j, '{');
		msb_json_str(j, "id", topic->name);
		msb_json_int(j, "messageId", topic->next_id);
		msb_json_int(j, "persistSize", topic->pending_count);
		msb_json_bool(j, "persist", topic->persist);
		msb_json_int(j, "deleted", topic->deleted_us);
		msb_json_int(j, "messagesPublished", (gint64)topic->messages_published);
		msb_json_int(j, "messagesLost", (gint64)topic->messages_lost);
		msb_status_add_pages(j, stats, topic);
		msb_status_add_subscribers(j, stats, topic);
		msb_json_end(j, '}');
	}
	msb_json_end(j, ']');
	msb_json_end(j, '}');

	msb_json_key(j, "queues");
	msb_json_begin(j, '{');
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		msb_json_key(j, topic->name);
		msb_json_begin(j, '{');
		msb_json_int(j, "snapshotId", generation);
		msb_json_key(j, "queues");
		msb_json_begin(j, '[');
		for (guint q = 0; q < topic->n_queues; q++)
			msb_status_add_queue(j, stats, msb_broker_stats_queue(stats, topic, q));
		msb_json_end(j, ']');
		msb_json_end(j, '}');
	}
	msb_json_end(j, '}');

	msb_json_key(j, "sessions");
	msb_json_begin(j, '{');
	msb_json_int(j, "snapshotId", generation);
	msb_json_key(j, "items");
	msb_json_begin(j, '[');
	for (guint i = 0; i < stats->sessions->len; i++) {
		const MsbSessionStats *session = msb_broker_stats_session(stats, i);
		g_autofree gchar *type = g_strdup_printf("tcp[%d]", session->protocol_version);
		msb_json_sep(j);
		msb_json_begin(j, '{');
		msb_json_int(j, "id", session->id);
		msb_json_str(j, "name", session->name);
		msb_json_str(j, "namespace", "default");
		msb_json_str(j, "type", type);
		msb_json_str(j, "ip", session->peer);
		msb_json_str(j, "version", session->version);
		msb_json_str(j, "envInfo", session->env_info);
		msb_json_int(j, "publishes", (gint64)session->publishes);
		msb_json_end(j, '}');
	}
	msb_json_end(j, ']');
	msb_json_end(j, '}');

	msb_status_add_system(j);
	msb_json_str(j, "persistenceVersion", info->persistence_version);
	msb_json_str(j, "version", MSB_VERSION);
	/* node.md §6.4: only while delivery tracing is on */
	if (stats->debug != NULL)
		msb_json_str(j, "debug", stats->debug);
	msb_json_str(j, "state", info->state);

	msb_json_key(j, "persistence");
	msb_json_begin(j, '{');
	msb_json_str(j, "url", info->persistence_url);
	msb_json_bool(j, "up", info->persistence_up);
	msb_json_str(j, "lastError", info->persistence_error);
	msb_json_int(j, "pendingMessages", stats->pending_count);
	msb_json_int(j, "pendingBytes", stats->pending_bytes);
	msb_json_int(j, "oldestPendingAgeMs", info->oldest_pending_age_us / 1000);
	msb_json_int(j, "saves", (gint64)info->saves);
	msb_json_int(j, "saveFailures", (gint64)info->save_failures);
	msb_json_int(j, "loads", (gint64)info->loads);
	msb_json_int(j, "loadFailures", (gint64)info->load_failures);
	msb_json_int(j, "damagedLoads", (gint64)info->damaged_loads);
	msb_json_int(j, "snapshots", (gint64)info->snapshots);
	msb_json_int(j, "snapshotFailures", (gint64)info->snapshot_failures);
	msb_json_end(j, '}');

	msb_json_end(j, '}');
	len = j->out->len;
	return g_bytes_new_take(g_string_free(j->out, FALSE), len);
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
	msb_metrics_value(out, "msb_persistence_damaged_loads_total", "counter",
	                  "Sub-page loads the service answered with DATA_LOSS (damaged on disk)",
	                  info->damaged_loads);
	msb_metrics_header(out, "msb_messages_lost_total", "counter",
	                   "Messages queues waited for that persistence reported damaged and that "
	                   "were skipped (OnDamagedMessages: skip)");
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		g_string_append(out, "msb_messages_lost_total{topic=\"");
		msb_metrics_append_label(out, topic->name);
		g_string_append_printf(out, "\"} %" G_GUINT64_FORMAT "\n", topic->messages_lost);
	}
	msb_metrics_value(out, "msb_persistence_snapshots_total", "counter",
	                  "Queue snapshots saved", info->snapshots);
	msb_metrics_value(out, "msb_persistence_snapshot_failures_total", "counter",
	                  "Queue snapshot saves that failed", info->snapshot_failures);
	len = out->len;
	return g_bytes_new_take(g_string_free(out, FALSE), len);
}
