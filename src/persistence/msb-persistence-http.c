/*
 * /api/isalive, /api/status, /api/damaged and /metrics of my-service-bus-persistence on libsoup 3.
 *
 * Handlers run on the main loop and only take snapshots (the store's topic list and counters
 * are copied under its lock, which is never held across I/O), so a busy disk does not make the
 * status page slow. Paths match without regard to case and with or without a trailing '/',
 * because the originals were spelled /api/IsAlive, /api/is_alive and /api/isalive.
 */
#define G_LOG_DOMAIN "msb-persistence-http"

#include "msb-persistence-http.h"

#include "msb-http-server.h"
#include "msb-metrics.h"
#include "msb-process-stats.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "msb-config.h"

#define SERVICE_NAME "my-service-bus-persistence"

struct _MsbPersistenceHttp {
	MsbStore *store;
	MsbPersistenceService *service;
	MsbGrpcServer *grpc;
	gchar *data_path;
	MsbHttpServer *server;
	gint64 started_us; /* wall clock */
	MsbPersistenceRecovery recovery;
	gchar *recovery_error;
};

static gchar *
msb_iso8601(gint64 us)
{
	g_autoptr(GDateTime) secs = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
	g_autoptr(GDateTime) dt = NULL;

	if (secs == NULL)
		return g_strdup("");
	dt = g_date_time_add(secs, us % G_USEC_PER_SEC);
	return g_date_time_format_iso8601(dt != NULL ? dt : secs);
}

static void
msb_json_add_time(JsonBuilder *b, const gchar *name, gint64 us)
{
	json_builder_set_member_name(b, name);
	if (us <= 0) {
		json_builder_add_null_value(b);
	} else {
		g_autofree gchar *iso = msb_iso8601(us);
		json_builder_add_string_value(b, iso);
	}
}

static void
msb_json_add_int(JsonBuilder *b, const gchar *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static gchar *
msb_json_to_string(JsonBuilder *b)
{
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	g_autoptr(JsonGenerator) gen = json_generator_new();

	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, TRUE);
	return json_generator_to_data(gen, NULL);
}

static gchar *
msb_build_isalive(MsbPersistenceHttp *self)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, SERVICE_NAME);
	json_builder_set_member_name(b, "version");
	json_builder_add_string_value(b, MSB_VERSION);
	msb_json_add_time(b, "started", self->started_us);
	msb_json_add_int(b, "time", g_get_real_time() / G_USEC_PER_SEC);
	json_builder_end_object(b);
	return msb_json_to_string(b);
}

static const gchar *
msb_recovery_name(MsbPersistenceRecovery state)
{
	switch (state) {
	case MSB_PERSISTENCE_RECOVERY_RUNNING:
		return "recovering";
	case MSB_PERSISTENCE_RECOVERY_DONE:
		return "ready";
	case MSB_PERSISTENCE_RECOVERY_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

/* The topics (empty while recovering) and the sums over them. */
static GPtrArray *
msb_list_topics(MsbPersistenceHttp *self, guint64 *disk_bytes, gint64 *last_save_us)
{
	GPtrArray *topics = NULL;

	*disk_bytes = 0;
	*last_save_us = 0;
	if (msb_store_is_ready(self->store))
		topics = msb_store_list_topics(self->store, NULL);
	if (topics == NULL)
		return g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_topic_info_free);
	for (guint i = 0; i < topics->len; i++) {
		const MsbStoreTopicInfo *t = g_ptr_array_index(topics, i);

		*disk_bytes += t->disk_bytes;
		*last_save_us = MAX(*last_save_us, t->last_save_us);
	}
	return topics;
}

static const gchar *
msb_method_name(const gchar *path)
{
	const gchar *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* The damaged sub-pages the store found when reading (empty while recovering). */
static GPtrArray *
msb_list_damaged(MsbPersistenceHttp *self)
{
	if (!msb_store_is_ready(self->store))
		return g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_damage_free);
	return msb_store_list_damaged(self->store);
}

/* The array of damaged sub-pages, for /api/status and /api/damaged. */
static void
msb_json_add_damaged(JsonBuilder *b, GPtrArray *damaged)
{
	json_builder_set_member_name(b, "damaged");
	json_builder_begin_array(b);
	for (guint i = 0; i < damaged->len; i++) {
		const MsbStoreDamage *d = g_ptr_array_index(damaged, i);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "topic_id");
		json_builder_add_string_value(b, d->topic);
		msb_json_add_int(b, "sub_page", d->sub_page);
		msb_json_add_int(b, "from_id", d->sub_page * MSB_STORE_SUB_PAGE_SIZE);
		msb_json_add_int(b, "to_id", msb_store_sub_page_last_id(d->sub_page));
		json_builder_set_member_name(b, "path");
		json_builder_add_string_value(b, d->path);
		msb_json_add_int(b, "offset", (gint64)d->offset);
		json_builder_set_member_name(b, "reason");
		json_builder_add_string_value(b, d->reason);
		msb_json_add_time(b, "first_seen", d->first_us);
		msb_json_add_time(b, "last_seen", d->last_us);
		msb_json_add_int(b, "failed_reads", (gint64)d->failed_reads);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

gchar *
msb_persistence_http_build_damaged(MsbPersistenceHttp *self)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GPtrArray) damaged = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	damaged = msb_list_damaged(self);
	json_builder_begin_object(b);
	msb_json_add_damaged(b, damaged);
	json_builder_end_object(b);
	return msb_json_to_string(b);
}

gchar *
msb_persistence_http_build_status(MsbPersistenceHttp *self)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GPtrArray) topics = NULL;
	g_autoptr(GPtrArray) cuts = NULL;
	g_autoptr(GPtrArray) damaged = NULL;
	g_autoptr(GArray) calls = NULL;
	g_autoptr(GFile) dir = NULL;
	g_autoptr(GFileInfo) fs = NULL;
	MsbStoreStats st = {0};
	MsbPersistenceServiceStats sv = {0};
	MsbHistogram fsync_latency;
	MsbProcessStats ps;
	guint64 disk_bytes;
	gint64 last_save_us;

	g_return_val_if_fail(self != NULL, NULL);

	topics = msb_list_topics(self, &disk_bytes, &last_save_us);
	msb_store_get_stats(self->store, &st);
	msb_persistence_service_get_stats(self->service, &sv);
	last_save_us = MAX(last_save_us, sv.last_save_us);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, SERVICE_NAME);
	json_builder_set_member_name(b, "version");
	json_builder_add_string_value(b, MSB_VERSION);
	msb_json_add_time(b, "started", self->started_us);
	json_builder_set_member_name(b, "ready");
	json_builder_add_boolean_value(b, msb_persistence_service_is_ready(self->service));
	json_builder_set_member_name(b, "data_path");
	json_builder_add_string_value(b, self->data_path);

	json_builder_set_member_name(b, "recovery");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "state");
	json_builder_add_string_value(b, msb_recovery_name(self->recovery));
	if (self->recovery_error != NULL) {
		json_builder_set_member_name(b, "error");
		json_builder_add_string_value(b, self->recovery_error);
	}
	msb_json_add_int(b, "duration_ms", st.recovery_us / 1000);
	json_builder_set_member_name(b, "cuts");
	json_builder_begin_array(b);
	cuts = msb_store_is_ready(self->store) ? msb_store_get_recovery_cuts(self->store) : NULL;
	for (guint i = 0; cuts != NULL && i < cuts->len; i++) {
		const MsbStoreCut *cut = g_ptr_array_index(cuts, i);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "path");
		json_builder_add_string_value(b, cut->path);
		msb_json_add_int(b, "offset", (gint64)cut->offset);
		msb_json_add_int(b, "bytes", (gint64)cut->bytes);
		json_builder_set_member_name(b, "reason");
		json_builder_add_string_value(b, cut->reason);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);

	json_builder_set_member_name(b, "disk");
	json_builder_begin_object(b);
	msb_json_add_int(b, "used_bytes", (gint64)disk_bytes);
	dir = g_file_new_for_path(self->data_path);
	fs = g_file_query_filesystem_info(
	        dir, G_FILE_ATTRIBUTE_FILESYSTEM_FREE "," G_FILE_ATTRIBUTE_FILESYSTEM_SIZE, NULL,
	        NULL);
	if (fs != NULL) {
		msb_json_add_int(b, "free_bytes",
		                 (gint64)g_file_info_get_attribute_uint64(
		                         fs, G_FILE_ATTRIBUTE_FILESYSTEM_FREE));
		msb_json_add_int(b, "size_bytes",
		                 (gint64)g_file_info_get_attribute_uint64(
		                         fs, G_FILE_ATTRIBUTE_FILESYSTEM_SIZE));
	}
	json_builder_end_object(b);
	msb_json_add_time(b, "last_save", last_save_us);

	json_builder_set_member_name(b, "topics");
	json_builder_begin_array(b);
	for (guint i = 0; i < topics->len; i++) {
		const MsbStoreTopicInfo *t = g_ptr_array_index(topics, i);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "topic_id");
		json_builder_add_string_value(b, t->name);
		msb_json_add_int(b, "min_id", t->min_id);
		msb_json_add_int(b, "max_id", t->max_id);
		msb_json_add_int(b, "count", t->count);
		msb_json_add_int(b, "disk_bytes", (gint64)t->disk_bytes);
		msb_json_add_time(b, "last_save", t->last_save_us);
		json_builder_set_member_name(b, "deleted");
		json_builder_add_boolean_value(b, t->delete_after_us != 0);
		msb_json_add_time(b, "delete_after", t->delete_after_us);
		msb_json_add_int(b, "sealed_sub_pages", t->sealed_sub_pages);
		msb_json_add_int(b, "open_sub_pages", t->open_sub_pages);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);

	damaged = msb_list_damaged(self);
	msb_json_add_damaged(b, damaged);

	json_builder_set_member_name(b, "store");
	json_builder_begin_object(b);
	msb_json_add_int(b, "saves", (gint64)st.saves);
	msb_json_add_int(b, "messages_saved", (gint64)st.messages_saved);
	msb_json_add_int(b, "commits", (gint64)st.commits);
	msb_json_add_int(b, "commit_fsyncs", (gint64)st.commit_fsyncs);
	msb_json_add_int(b, "seals", (gint64)st.seals);
	msb_json_add_int(b, "seal_fsyncs", (gint64)st.seal_fsyncs);
	msb_json_add_int(b, "write_errors", (gint64)st.write_errors);
	msb_json_add_int(b, "files_removed", (gint64)st.files_removed);
	json_builder_end_object(b);

	msb_store_get_fsync_latency(self->store, &fsync_latency);
	json_builder_set_member_name(b, "fsync");
	json_builder_begin_object(b);
	msb_json_add_int(b, "count", (gint64)msb_histogram_count(&fsync_latency));
	msb_json_add_int(b, "total_us", (gint64)fsync_latency.sum_us);
	msb_json_add_int(b, "p50_us", msb_histogram_quantile_us(&fsync_latency, 0.5));
	msb_json_add_int(b, "p99_us", msb_histogram_quantile_us(&fsync_latency, 0.99));
	json_builder_end_object(b);

	if (msb_process_stats_read(&ps)) {
		json_builder_set_member_name(b, "process");
		json_builder_begin_object(b);
		msb_json_add_int(b, "resident_bytes", (gint64)ps.resident_bytes);
		msb_json_add_int(b, "virtual_bytes", (gint64)ps.virtual_bytes);
		json_builder_set_member_name(b, "cpu_seconds");
		json_builder_add_double_value(b, ps.cpu_seconds);
		msb_json_add_int(b, "open_fds", (gint64)ps.open_fds);
		msb_json_add_int(b, "max_fds", (gint64)MIN(ps.max_fds, (guint64)G_MAXINT64));
		json_builder_end_object(b);
	}

	json_builder_set_member_name(b, "grpc");
	json_builder_begin_object(b);
	msb_json_add_int(b, "active_calls", msb_grpc_server_get_n_active(self->grpc));
	msb_json_add_int(b, "uploads_compressed", (gint64)sv.uploads_compressed);
	msb_json_add_int(b, "uploads_uncompressed", (gint64)sv.uploads_uncompressed);
	msb_json_add_int(b, "upload_bytes", (gint64)sv.upload_bytes);
	msb_json_add_int(b, "snapshots_saved", (gint64)sv.snapshots_saved);
	json_builder_set_member_name(b, "calls");
	json_builder_begin_array(b);
	calls = msb_grpc_server_get_stats(self->grpc);
	for (guint i = 0; i < calls->len; i++) {
		const MsbGrpcMethodStats *s = &g_array_index(calls, MsbGrpcMethodStats, i);
		guint64 errors = 0;

		for (gint c = 1; c < MSB_GRPC_N_STATUS; c++)
			errors += s->by_code[c];
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "method");
		json_builder_add_string_value(b, msb_method_name(s->path));
		msb_json_add_int(b, "ok", (gint64)s->by_code[GRPC_STATUS_OK]);
		msb_json_add_int(b, "errors", (gint64)errors);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);

	json_builder_end_object(b);
	return msb_json_to_string(b);
}

/* one sample per topic that holds messages: NAME{topic="…"} and the gint64 at @offset */
static void
msb_persistence_topic_family(GString *out, GPtrArray *topics, const gchar *name, const gchar *help,
                             gsize offset)
{
	msb_metrics_header(out, name, "gauge", help);
	for (guint i = 0; i < topics->len; i++) {
		const MsbStoreTopicInfo *t = g_ptr_array_index(topics, i);

		if (t->count == 0)
			continue;
		g_string_append_printf(out, "%s{topic=\"", name);
		msb_metrics_append_label(out, t->name);
		g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n",
		                       G_STRUCT_MEMBER(gint64, t, offset));
	}
}

gchar *
msb_persistence_http_build_metrics(MsbPersistenceHttp *self)
{
	GString *out = g_string_new(NULL);
	g_autoptr(GPtrArray) topics = NULL;
	g_autoptr(GPtrArray) damaged = NULL;
	g_autoptr(GArray) calls = NULL;
	MsbStoreStats st = {0};
	MsbPersistenceServiceStats sv = {0};
	MsbHistogram fsync_latency;
	guint64 disk_bytes;
	gint64 last_save_us;

	g_return_val_if_fail(self != NULL, NULL);

	topics = msb_list_topics(self, &disk_bytes, &last_save_us);
	msb_store_get_stats(self->store, &st);
	msb_persistence_service_get_stats(self->service, &sv);
	last_save_us = MAX(last_save_us, sv.last_save_us);

	msb_metrics_value(out, "persistence_up", "gauge", "1 while the service runs", 1);
	msb_metrics_value(out, "persistence_ready", "gauge",
	                  "1 once recovery has finished and every method is served",
	                  msb_persistence_service_is_ready(self->service) ? 1 : 0);
	msb_metrics_value(out, "persistence_saves_total", "counter",
	                  "Save requests made durable (one per topic per call)", st.saves);
	msb_metrics_value(out, "persistence_messages_saved_total", "counter",
	                  "Messages in the saves made durable", st.messages_saved);
	msb_metrics_value(out, "persistence_commits_total", "counter",
	                  "Group commits that made at least one save durable", st.commits);
	msb_metrics_value(out, "persistence_fsyncs_total", "counter",
	                  "fdatasync calls for commits and for sealing",
	                  st.commit_fsyncs + st.seal_fsyncs);
	msb_metrics_value(out, "persistence_seals_total", "counter",
	                  "Sub-pages compressed into sealed blocks", st.seals);
	msb_metrics_value(out, "persistence_write_errors_total", "counter",
	                  "Writes or fsyncs that failed and were reported to a caller",
	                  st.write_errors);
	msb_metrics_value(
	        out, "persistence_uploads_total", "counter",
	        "SaveMessages and SaveMessagesUncompressed calls that stored their messages",
	        sv.uploads_compressed + sv.uploads_uncompressed);
	msb_metrics_value(out, "persistence_upload_bytes_total", "counter",
	                  "Bytes of the uploads received (joined chunks)", sv.upload_bytes);
	msb_metrics_value(out, "persistence_snapshots_saved_total", "counter",
	                  "Queue snapshots stored", sv.snapshots_saved);
	msb_metrics_value(out, "persistence_disk_bytes", "gauge",
	                  "Bytes of all stored topics on disk", disk_bytes);
	msb_metrics_header(out, "persistence_recovery_seconds", "gauge",
	                   "How long the start-up recovery took");
	g_string_append_printf(out, "persistence_recovery_seconds %.6f\n",
	                       (gdouble)st.recovery_us / G_USEC_PER_SEC);
	msb_metrics_header(out, "persistence_last_save_timestamp_seconds", "gauge",
	                   "Unix time of the newest save (0 = none)");
	g_string_append_printf(out, "persistence_last_save_timestamp_seconds %.3f\n",
	                       (gdouble)last_save_us / G_USEC_PER_SEC);
	msb_metrics_value(out, "persistence_topics", "gauge", "Topics stored", topics->len);

	msb_metrics_header(out, "persistence_topic_stored_messages", "gauge",
	                   "Messages stored per topic");
	for (guint i = 0; i < topics->len; i++) {
		const MsbStoreTopicInfo *t = g_ptr_array_index(topics, i);

		g_string_append(out, "persistence_topic_stored_messages{topic=\"");
		msb_metrics_append_label(out, t->name);
		g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n", t->count);
	}
	msb_metrics_header(out, "persistence_topic_disk_bytes", "gauge", "Bytes on disk per topic");
	for (guint i = 0; i < topics->len; i++) {
		const MsbStoreTopicInfo *t = g_ptr_array_index(topics, i);

		g_string_append(out, "persistence_topic_disk_bytes{topic=\"");
		msb_metrics_append_label(out, t->name);
		g_string_append_printf(out, "\"} %" G_GUINT64_FORMAT "\n", t->disk_bytes);
	}
	msb_persistence_topic_family(out, topics, "persistence_topic_min_id",
	                             "The smallest message id stored (no sample while the topic "
	                             "holds no message)",
	                             G_STRUCT_OFFSET(MsbStoreTopicInfo, min_id));
	msb_persistence_topic_family(out, topics, "persistence_topic_max_id",
	                             "The largest message id stored (no sample while the topic "
	                             "holds no message)",
	                             G_STRUCT_OFFSET(MsbStoreTopicInfo, max_id));
	msb_metrics_header(out, "persistence_topic_last_save_timestamp_seconds", "gauge",
	                   "Unix time of the topic's newest save (after a restart: of its newest "
	                   "file; 0 = none)");
	for (guint i = 0; i < topics->len; i++) {
		const MsbStoreTopicInfo *t = g_ptr_array_index(topics, i);

		g_string_append(out, "persistence_topic_last_save_timestamp_seconds{topic=\"");
		msb_metrics_append_label(out, t->name);
		g_string_append(out, "\"} ");
		msb_metrics_append_double(out, (gdouble)MAX(t->last_save_us, 0) / G_USEC_PER_SEC);
		g_string_append_c(out, '\n');
	}
	msb_metrics_header(out, "persistence_topic_deleted", "gauge",
	                   "1 while the topic is soft-deleted (removed at its delete moment)");
	for (guint i = 0; i < topics->len; i++) {
		const MsbStoreTopicInfo *t = g_ptr_array_index(topics, i);

		g_string_append(out, "persistence_topic_deleted{topic=\"");
		msb_metrics_append_label(out, t->name);
		g_string_append_printf(out, "\"} %d\n", t->delete_after_us != 0 ? 1 : 0);
	}

	damaged = msb_list_damaged(self);
	msb_metrics_value(out, "persistence_damaged_sub_pages", "gauge",
	                  "Sub-pages whose stored bytes failed their checks when read (GET "
	                  "/api/damaged lists them)",
	                  damaged->len);
	msb_metrics_header(out, "persistence_topic_damaged_sub_pages", "gauge",
	                   "Damaged sub-pages per topic");
	for (guint i = 0; i < damaged->len;) {
		const MsbStoreDamage *d = g_ptr_array_index(damaged, i);
		guint n = 0;

		/* sorted by topic */
		while (i + n < damaged->len &&
		       g_str_equal(
		               ((const MsbStoreDamage *)g_ptr_array_index(damaged, i + n))->topic,
		               d->topic))
			n++;
		g_string_append(out, "persistence_topic_damaged_sub_pages{topic=\"");
		msb_metrics_append_label(out, d->topic);
		g_string_append_printf(out, "\"} %u\n", n);
		i += n;
	}

	msb_metrics_value(out, "persistence_grpc_active_calls", "gauge", "gRPC calls in progress",
	                  msb_grpc_server_get_n_active(self->grpc));
	msb_metrics_header(out, "persistence_grpc_calls_total", "counter",
	                   "gRPC calls answered, by method and status code");
	calls = msb_grpc_server_get_stats(self->grpc);
	for (guint i = 0; i < calls->len; i++) {
		const MsbGrpcMethodStats *s = &g_array_index(calls, MsbGrpcMethodStats, i);

		for (gint c = 0; c < MSB_GRPC_N_STATUS; c++) {
			if (s->by_code[c] == 0)
				continue;
			g_string_append(out, "persistence_grpc_calls_total{method=\"");
			msb_metrics_append_label(out, msb_method_name(s->path));
			g_string_append_printf(out, "\",code=\"%s\"} %" G_GUINT64_FORMAT "\n",
			                       msb_grpc_status_name((grpc_status_code)c),
			                       s->by_code[c]);
		}
	}
	msb_store_get_fsync_latency(self->store, &fsync_latency);
	msb_metrics_histogram(out, "persistence_fsync_latency_seconds",
	                      "How long each fsync or fdatasync of the store took", TRUE, NULL,
	                      &fsync_latency);
	msb_metrics_process(out);
	return g_string_free(out, FALSE);
}

/* lower case, without trailing '/' (but "/" stays) */
static gchar *
msb_normalize_path(const gchar *path)
{
	gchar *p = g_ascii_strdown(path != NULL && path[0] != '\0' ? path : "/", -1);
	gsize len = strlen(p);

	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	return p;
}

static void
msb_respond(SoupServerMessage *msg, guint status, const gchar *type, gchar *body)
{
	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, type, SOUP_MEMORY_TAKE, body, strlen(body));
}

static void
msb_http_handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer user_data)
{
	MsbPersistenceHttp *self = user_data;
	const char *method = soup_server_message_get_method(msg);
	g_autofree gchar *p = msb_normalize_path(path);

	if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
		soup_message_headers_append(soup_server_message_get_response_headers(msg), "Allow",
		                            "GET, HEAD");
		msb_respond(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain",
		            g_strdup("only GET and HEAD are served here\n"));
		return;
	}
	if (g_str_equal(p, "/api/isalive") || g_str_equal(p, "/api/is_alive")) {
		msb_respond(msg, SOUP_STATUS_OK, "application/json", msb_build_isalive(self));
	} else if (g_str_equal(p, "/api/status")) {
		msb_respond(msg, SOUP_STATUS_OK, "application/json",
		            msb_persistence_http_build_status(self));
	} else if (g_str_equal(p, "/api/damaged")) {
		msb_respond(msg, SOUP_STATUS_OK, "application/json",
		            msb_persistence_http_build_damaged(self));
	} else if (g_str_equal(p, "/metrics")) {
		msb_respond(msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
		            msb_persistence_http_build_metrics(self));
	} else if (g_str_equal(p, "/")) {
		msb_respond(msg, SOUP_STATUS_OK, "text/plain; charset=utf-8",
		            g_strdup(SERVICE_NAME
		                     " " MSB_VERSION
		                     "\n/api/isalive\n/api/status\n/api/damaged\n/metrics\n"));
	} else {
		msb_respond(
		        msg, SOUP_STATUS_NOT_FOUND, "text/plain; charset=utf-8",
		        g_strdup_printf("no such page: %s (try /api/status or /metrics)\n", path));
	}
}

MsbPersistenceHttp *
msb_persistence_http_new(MsbStore *store, MsbPersistenceService *service, MsbGrpcServer *grpc,
                         const gchar *data_path)
{
	MsbPersistenceHttp *self;

	g_return_val_if_fail(store != NULL, NULL);
	g_return_val_if_fail(service != NULL, NULL);
	g_return_val_if_fail(grpc != NULL, NULL);
	g_return_val_if_fail(data_path != NULL, NULL);

	self = g_new0(MsbPersistenceHttp, 1);
	self->store = store;
	self->service = service;
	self->grpc = grpc;
	self->data_path = g_strdup(data_path);
	self->started_us = g_get_real_time();
	self->recovery = MSB_PERSISTENCE_RECOVERY_RUNNING;
	return self;
}

gboolean
msb_persistence_http_listen(MsbPersistenceHttp *self, const gchar *address, guint16 port,
                            const MsbHttpLimits *limits, guint16 *bound_port, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(self->server == NULL, FALSE);
	g_return_val_if_fail(address != NULL, FALSE);
	g_return_val_if_fail(limits != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	self->server = msb_http_server_new(SERVICE_NAME "/" MSB_VERSION, limits);
	soup_server_add_handler(msb_http_server_get_soup(self->server), NULL, msb_http_handler,
	                        self, NULL);
	if (!msb_http_server_listen(self->server, address, port, error)) {
		g_prefix_error(error,
		               "Cannot listen for HTTP on %s port %u (choose another with HttpPort "
		               "or --http-port): ",
		               address, port);
		g_clear_pointer(&self->server, msb_http_server_free);
		return FALSE;
	}
	if (bound_port != NULL)
		*bound_port = msb_http_server_get_port(self->server);
	return TRUE;
}

void
msb_persistence_http_set_recovery(MsbPersistenceHttp *self, MsbPersistenceRecovery state,
                                  const gchar *error_message)
{
	g_return_if_fail(self != NULL);
	self->recovery = state;
	g_free(self->recovery_error);
	self->recovery_error = g_strdup(error_message);
}

void
msb_persistence_http_free(MsbPersistenceHttp *self)
{
	if (self == NULL)
		return;
	msb_http_server_free(self->server);
	g_free(self->data_path);
	g_free(self->recovery_error);
	g_free(self);
}
