/*
 * MsbHttp: JSON status and Prometheus metrics over libsoup 3.
 *
 * Paths match case-insensitively, as in the reference broker (node.md §6.1), so /status,
 * /Status and /api/status all work. Everything is built on request from the broker's state; the
 * listener runs on the main loop, so it sees a consistent broker without locks.
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-http.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "msb-config.h"
#include "msb-http-server.h"
#include "msb-metrics.h"
#include "msb-session.h"

struct _MsbHttp {
	MsbBroker *broker;
	MsbHttpInfoFunc info_func;
	gpointer info_data;
	MsbHttpServer *server;
	gint64 started_us; /* wall clock */
};

static void
msb_http_get_info(MsbHttp *http, MsbHttpInfo *info)
{
	memset(info, 0, sizeof(*info));
	info->state = "running";
	if (http->info_func != NULL)
		http->info_func(info, http->info_data);
}

static void
msb_http_reply(SoupServerMessage *msg, guint status, const gchar *content_type, gchar *body)
{
	gsize len = strlen(body);

	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, content_type, SOUP_MEMORY_TAKE, body, len);
}

static void
msb_http_reply_json(SoupServerMessage *msg, guint status, JsonBuilder *builder)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(builder);

	json_generator_set_root(gen, root);
	msb_http_reply(msg, status, "application/json", json_generator_to_data(gen, NULL));
}

/* ---- /api/isalive ---- */

static void
msb_http_isalive(MsbHttp *http, SoupServerMessage *msg)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GDateTime) started =
	        g_date_time_new_from_unix_utc(http->started_us / G_USEC_PER_SEC);
	g_autofree gchar *started_str = g_date_time_format_iso8601(started);
	MsbHttpInfo info;

	msb_http_get_info(http, &info);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, "my-service-bus");
	json_builder_set_member_name(b, "version");
	json_builder_add_string_value(b, MSB_VERSION);
	json_builder_set_member_name(b, "started");
	json_builder_add_string_value(b, started_str);
	json_builder_set_member_name(b, "state");
	json_builder_add_string_value(b, info.state);
	json_builder_end_object(b);
	msb_http_reply_json(msg, SOUP_STATUS_OK, b);
}

/* ---- /api/status ---- */

static void
msb_http_add_int(JsonBuilder *b, const gchar *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static void
msb_http_add_str(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static gint
msb_http_cmp_int64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;

	return x < y ? -1 : x > y;
}

/* One entry per cached page: amount, size, pending and the sub-pages (0–99) present. */
static void
msb_http_add_pages(JsonBuilder *b, MsbTopic *topic)
{
	g_autoptr(GArray) nos = g_array_new(FALSE, FALSE, sizeof(gint64));
	GHashTableIter iter;
	gpointer value;
	guint i = 0;

	g_hash_table_iter_init(&iter, topic->sub_pages);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_array_append_val(nos, ((MsbSubPage *)value)->no);
	g_array_sort(nos, msb_http_cmp_int64);

	json_builder_set_member_name(b, "pages");
	json_builder_begin_array(b);
	while (i < nos->len) {
		gint64 page = g_array_index(nos, gint64, i) / 100;
		gint64 amount = 0;
		gint64 size = 0;
		gint64 pending = 0;

		json_builder_begin_object(b);
		msb_http_add_int(b, "id", page);
		json_builder_set_member_name(b, "subPages");
		json_builder_begin_array(b);
		for (; i < nos->len && g_array_index(nos, gint64, i) / 100 == page; i++) {
			gint64 no = g_array_index(nos, gint64, i);
			MsbSubPage *sp = g_hash_table_lookup(topic->sub_pages, &no);
			amount += sp->n_loaded + sp->n_missing;
			size += (gint64)sp->content_bytes;
			pending += sp->n_pending;
			json_builder_add_int_value(b, no % 100);
		}
		json_builder_end_array(b);
		msb_http_add_int(b, "amount", amount);
		msb_http_add_int(b, "size", size);
		msb_http_add_int(b, "persist_size", pending);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void
msb_http_add_subscribers(JsonBuilder *b, MsbTopic *topic, gint64 now)
{
	json_builder_set_member_name(b, "subscribers");
	json_builder_begin_array(b);
	for (guint q = 0; q < topic->queues->len; q++) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, q);
		for (guint i = 0; i < queue->subscribers->len; i++) {
			MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
			g_autofree gchar *state_str = NULL;

			if (sub->state == MSB_SUBSCRIBER_ON_DELIVERY)
				state_str = g_strdup_printf("%.1fs %" G_GINT64_FORMAT,
				                            (gdouble)(now - sub->last_update_us) /
				                                    G_USEC_PER_SEC,
				                            msb_id_set_count(&sub->in_flight));
			json_builder_begin_object(b);
			msb_http_add_int(b, "id", sub->id);
			msb_http_add_int(b, "sessionId", sub->session->id);
			msb_http_add_str(b, "queueId", queue->name);
			msb_http_add_int(b, "deliveryState", sub->state);
			msb_http_add_str(b, "deliveryStateStr",
			                 state_str != NULL ? state_str : "Idle");
			json_builder_end_object(b);
		}
	}
	json_builder_end_array(b);
}

static void
msb_http_add_queue(JsonBuilder *b, MsbQueue *queue)
{
	const MsbIdSet *waiting = &queue->waiting;

	json_builder_begin_object(b);
	msb_http_add_str(b, "id", queue->name);
	msb_http_add_int(b, "queueType", queue->type);
	msb_http_add_int(b, "size", msb_id_set_count(waiting));
	msb_http_add_int(b, "onDelivery", msb_queue_in_flight_count(queue));
	msb_http_add_int(b, "subscribers", queue->subscribers->len);
	json_builder_set_member_name(b, "data");
	json_builder_begin_array(b);
	if (msb_id_set_is_empty(waiting)) {
		/* the empty-range form: {cursor, cursor - 1} (node.md §2.4) */
		json_builder_begin_object(b);
		msb_http_add_int(b, "fromId", msb_id_set_cursor(waiting));
		msb_http_add_int(b, "toId", msb_id_set_cursor(waiting) - 1);
		json_builder_end_object(b);
	}
	for (guint i = 0; i < msb_id_set_n_ranges(waiting); i++) {
		const MsbIdRange *r = msb_id_set_range(waiting, i);
		json_builder_begin_object(b);
		msb_http_add_int(b, "fromId", r->from);
		msb_http_add_int(b, "toId", r->to);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void
msb_http_add_system(JsonBuilder *b)
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
	msb_http_add_int(b, "usedmem", (total_kb - avail_kb) * 1024);
	msb_http_add_int(b, "totalmem", total_kb * 1024);
	json_builder_end_object(b);
}

static void
msb_http_status(MsbHttp *http, SoupServerMessage *msg)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GPtrArray) topics = msb_broker_list_topics(http->broker);
	g_autoptr(GPtrArray) sessions = msb_broker_list_sessions(http->broker);
	gint64 generation = (gint64)msb_broker_get_state_generation(http->broker);
	gint64 now = g_get_monotonic_time();
	MsbHttpInfo info;

	msb_http_get_info(http, &info);
	json_builder_begin_object(b);

	json_builder_set_member_name(b, "topics");
	json_builder_begin_object(b);
	msb_http_add_int(b, "snapshotId", generation);
	json_builder_set_member_name(b, "items");
	json_builder_begin_array(b);
	for (guint t = 0; t < topics->len; t++) {
		MsbTopic *topic = g_ptr_array_index(topics, t);
		json_builder_begin_object(b);
		msb_http_add_str(b, "id", topic->name);
		msb_http_add_int(b, "messageId", topic->next_id);
		msb_http_add_int(b, "persistSize", topic->pending_count);
		json_builder_set_member_name(b, "persist");
		json_builder_add_boolean_value(b, topic->persist);
		msb_http_add_int(b, "deleted", 0);
		msb_http_add_int(b, "messagesPublished", (gint64)topic->messages_published);
		msb_http_add_int(b, "messagesLost", (gint64)topic->messages_lost);
		msb_http_add_pages(b, topic);
		msb_http_add_subscribers(b, topic, now);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);

	json_builder_set_member_name(b, "queues");
	json_builder_begin_object(b);
	for (guint t = 0; t < topics->len; t++) {
		MsbTopic *topic = g_ptr_array_index(topics, t);
		json_builder_set_member_name(b, topic->name);
		json_builder_begin_object(b);
		msb_http_add_int(b, "snapshotId", generation);
		json_builder_set_member_name(b, "queues");
		json_builder_begin_array(b);
		for (guint q = 0; q < topic->queues->len; q++)
			msb_http_add_queue(b, g_ptr_array_index(topic->queues, q));
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);

	json_builder_set_member_name(b, "sessions");
	json_builder_begin_object(b);
	msb_http_add_int(b, "snapshotId", generation);
	json_builder_set_member_name(b, "items");
	json_builder_begin_array(b);
	for (guint i = 0; i < sessions->len; i++) {
		MsbSession *session = g_ptr_array_index(sessions, i);
		g_autofree gchar *type = g_strdup_printf("tcp[%d]", session->protocol_version);
		json_builder_begin_object(b);
		msb_http_add_int(b, "id", session->id);
		msb_http_add_str(b, "name", session->name);
		msb_http_add_str(b, "namespace", "default");
		msb_http_add_str(b, "type", type);
		msb_http_add_str(b, "ip", session->peer);
		msb_http_add_str(b, "version", session->version);
		msb_http_add_str(b, "envInfo", session->env_info);
		msb_http_add_int(b, "publishes", (gint64)session->publishes);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);

	msb_http_add_system(b);
	msb_http_add_str(b, "persistenceVersion", info.persistence_version);
	msb_http_add_str(b, "version", MSB_VERSION);
	msb_http_add_str(b, "state", info.state);

	json_builder_set_member_name(b, "persistence");
	json_builder_begin_object(b);
	msb_http_add_str(b, "url", info.persistence_url);
	json_builder_set_member_name(b, "up");
	json_builder_add_boolean_value(b, info.persistence_up);
	msb_http_add_str(b, "lastError", info.persistence_error);
	msb_http_add_int(b, "pendingMessages", msb_broker_get_pending_count(http->broker));
	msb_http_add_int(b, "pendingBytes", msb_broker_get_pending_bytes(http->broker));
	msb_http_add_int(b, "oldestPendingAgeMs", info.oldest_pending_age_us / 1000);
	msb_http_add_int(b, "saves", (gint64)info.saves);
	msb_http_add_int(b, "saveFailures", (gint64)info.save_failures);
	msb_http_add_int(b, "loads", (gint64)info.loads);
	msb_http_add_int(b, "loadFailures", (gint64)info.load_failures);
	msb_http_add_int(b, "damagedLoads", (gint64)info.damaged_loads);
	msb_http_add_int(b, "snapshots", (gint64)info.snapshots);
	msb_http_add_int(b, "snapshotFailures", (gint64)info.snapshot_failures);
	json_builder_end_object(b);

	json_builder_end_object(b);
	msb_http_reply_json(msg, SOUP_STATUS_OK, b);
}

/* ---- /metrics ---- */

/* one sample per topic: name{namespace="default",topic="..."} value */
static void
msb_http_topic_metric(GString *out, GPtrArray *topics, const gchar *name, const gchar *help,
                      gint64 (*get)(MsbTopic *topic))
{
	msb_metrics_header(out, name, "gauge", help);
	for (guint t = 0; t < topics->len; t++) {
		MsbTopic *topic = g_ptr_array_index(topics, t);
		g_string_append_printf(out, "%s{namespace=\"default\",topic=\"", name);
		msb_metrics_append_label(out, topic->name);
		g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n", get(topic));
	}
}

static gint64
msb_http_topic_pending(MsbTopic *topic)
{
	return topic->pending_count;
}

static gint64
msb_http_topic_bytes(MsbTopic *topic)
{
	return topic->cached_bytes;
}

static gint64
msb_http_topic_messages(MsbTopic *topic)
{
	return topic->cached_messages;
}

static gint64
msb_http_topic_next_id(MsbTopic *topic)
{
	return topic->next_id;
}

static void
msb_http_metrics(MsbHttp *http, SoupServerMessage *msg)
{
	g_autoptr(GPtrArray) topics = msb_broker_list_topics(http->broker);
	GString *out = g_string_new(NULL);
	gint64 permanent_without_subscribers = 0;
	gint64 topics_without_queues = 0;
	gint64 oldest;
	MsbHttpInfo info;

	msb_http_get_info(http, &info);

	msb_metrics_header(out, "topic_queue_size", "gauge", "Waiting messages of a queue");
	for (guint t = 0; t < topics->len; t++) {
		MsbTopic *topic = g_ptr_array_index(topics, t);
		if (topic->queues->len == 0)
			topics_without_queues++;
		for (guint q = 0; q < topic->queues->len; q++) {
			MsbQueue *queue = g_ptr_array_index(topic->queues, q);
			if (!msb_queue_type_is_auto_delete(queue->type) &&
			    queue->subscribers->len == 0)
				permanent_without_subscribers++;
			g_string_append(out, "topic_queue_size{namespace=\"default\",topic=\"");
			msb_metrics_append_label(out, topic->name);
			g_string_append(out, "\",queue=\"");
			msb_metrics_append_label(out, queue->name);
			g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n",
			                       msb_id_set_count(&queue->waiting));
		}
	}
	msb_http_topic_metric(out, topics, "topic_persist_queue_size",
	                      "Messages of the topic waiting to be saved", msb_http_topic_pending);
	msb_http_topic_metric(out, topics, "topic_data_size", "Bytes of message content in memory",
	                      msb_http_topic_bytes);
	msb_http_topic_metric(out, topics, "topic_messages_amount", "Messages in memory",
	                      msb_http_topic_messages);
	msb_http_topic_metric(out, topics, "topic_next_message_id",
	                      "The id the next message of the topic gets", msb_http_topic_next_id);
	msb_metrics_value(out, "permanent_queues_without_subscribers", "gauge",
	                  "Permanent queues with no subscriber",
	                  (guint64)permanent_without_subscribers);
	msb_metrics_value(out, "topics_without_queues", "gauge", "Topics with no queue",
	                  (guint64)topics_without_queues);
	msb_metrics_header(out, "tcp_connections", "gauge", "Client connections");
	g_string_append_printf(out, "tcp_connections{tcp_metric=\"count\"} %u\n",
	                       info.tcp_connections);

	msb_metrics_value(out, "msb_up", "gauge",
	                  "1 once topics and queues are restored and clients served",
	                  g_strcmp0(info.state, "running") == 0);
	msb_metrics_value(out, "msb_persistence_up", "gauge",
	                  "1 while the persistence service answers (always 0 in memory)",
	                  info.persistence_up ? 1 : 0);
	msb_metrics_value(out, "msb_persistence_pending_messages", "gauge",
	                  "Messages waiting to be saved",
	                  (guint64)msb_broker_get_pending_count(http->broker));
	msb_metrics_value(out, "msb_persistence_pending_bytes", "gauge",
	                  "Content bytes waiting to be saved",
	                  (guint64)msb_broker_get_pending_bytes(http->broker));
	oldest = info.oldest_pending_age_us;
	msb_metrics_header(out, "msb_persistence_oldest_pending_seconds", "gauge",
	                   "How long the oldest unsaved message has waited");
	g_string_append_printf(out, "msb_persistence_oldest_pending_seconds %.3f\n",
	                       (gdouble)oldest / G_USEC_PER_SEC);
	msb_metrics_value(out, "msb_persistence_saves_total", "counter",
	                  "Message saves acknowledged", info.saves);
	msb_metrics_value(out, "msb_persistence_save_failures_total", "counter",
	                  "Message saves that failed", info.save_failures);
	msb_metrics_value(out, "msb_persistence_loads_total", "counter", "Sub-pages loaded back",
	                  info.loads);
	msb_metrics_value(out, "msb_persistence_load_failures_total", "counter",
	                  "Sub-page loads that failed", info.load_failures);
	msb_metrics_value(out, "msb_persistence_damaged_loads_total", "counter",
	                  "Sub-page loads the service answered with DATA_LOSS (damaged on disk)",
	                  info.damaged_loads);
	msb_metrics_header(out, "msb_messages_lost_total", "counter",
	                   "Messages queues waited for that persistence reported damaged and that "
	                   "were skipped (OnDamagedMessages: skip)");
	for (guint t = 0; t < topics->len; t++) {
		MsbTopic *topic = g_ptr_array_index(topics, t);
		g_string_append(out, "msb_messages_lost_total{topic=\"");
		msb_metrics_append_label(out, topic->name);
		g_string_append_printf(out, "\"} %" G_GUINT64_FORMAT "\n", topic->messages_lost);
	}
	msb_metrics_value(out, "msb_persistence_snapshots_total", "counter",
	                  "Queue snapshots saved", info.snapshots);
	msb_metrics_value(out, "msb_persistence_snapshot_failures_total", "counter",
	                  "Queue snapshot saves that failed", info.snapshot_failures);
	msb_http_reply(msg, SOUP_STATUS_OK, "text/plain; version=0.0.4", g_string_free(out, FALSE));
}

static void
msb_http_handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer user_data)
{
	MsbHttp *http = user_data;
	g_autofree gchar *lower = g_ascii_strdown(path, -1);
	const gchar *method = soup_server_message_get_method(msg);

	if (g_strcmp0(method, "GET") != 0 && g_strcmp0(method, "HEAD") != 0) {
		msb_http_reply(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain",
		               g_strdup("only GET is served here\n"));
		return;
	}
	if (g_strcmp0(lower, "/api/isalive") == 0)
		msb_http_isalive(http, msg);
	else if (g_strcmp0(lower, "/api/status") == 0 || g_strcmp0(lower, "/status") == 0)
		msb_http_status(http, msg);
	else if (g_strcmp0(lower, "/metrics") == 0)
		msb_http_metrics(http, msg);
	else
		msb_http_reply(msg, SOUP_STATUS_NOT_FOUND, "text/plain",
		               g_strdup("not found; try /api/isalive, /api/status or /metrics\n"));
}

MsbHttp *
msb_http_new(MsbBroker *broker, MsbHttpInfoFunc info_func, gpointer user_data)
{
	MsbHttp *http;

	g_return_val_if_fail(broker != NULL, NULL);
	http = g_new0(MsbHttp, 1);
	http->broker = broker;
	http->info_func = info_func;
	http->info_data = user_data;
	http->started_us = g_get_real_time();
	return http;
}

void
msb_http_free(MsbHttp *http)
{
	if (http == NULL)
		return;
	msb_http_server_free(http->server);
	g_free(http);
}

gboolean
msb_http_listen(MsbHttp *http, const gchar *address, guint16 port, const MsbHttpLimits *limits,
                GError **error)
{
	g_return_val_if_fail(http != NULL, FALSE);
	g_return_val_if_fail(http->server == NULL, FALSE);
	g_return_val_if_fail(limits != NULL, FALSE);

	http->server = msb_http_server_new("my-service-bus/" MSB_VERSION, limits);
	soup_server_add_handler(msb_http_server_get_soup(http->server), NULL, msb_http_handler,
	                        http, NULL);
	if (!msb_http_server_listen(http->server, address, port, error)) {
		g_prefix_error(error, "cannot listen for HTTP on %s:%u (HttpPort): ", address,
		               port);
		g_clear_pointer(&http->server, msb_http_server_free);
		return FALSE;
	}
	g_message("HTTP (status, metrics) on %s:%u", address,
	          msb_http_server_get_port(http->server));
	return TRUE;
}

guint16
msb_http_get_port(MsbHttp *http)
{
	g_return_val_if_fail(http != NULL, 0);
	return http->server != NULL ? msb_http_server_get_port(http->server) : 0;
}
