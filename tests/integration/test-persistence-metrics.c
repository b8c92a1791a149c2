/*
 * my-service-bus-persistence's /metrics and /api/status against what the test stored: two
 * topics saved through the real client (ids 100..149 and 0..9), one of them soft-deleted; the
 * scrape must pass the strict exposition parser (mtest.c) and show the stored id ranges, counts,
 * bytes on disk, last save times, the fsync latency histogram and the process metrics.
 */
#include <json-glib/json-glib.h>

#include "mtest.h"
#include "ptest.h"

static MtestMetrics *
scrape(PtestService *s)
{
	g_autofree gchar *text = NULL;
	guint status = 0;

	text = ptest_http_get(s->http_port, "/metrics", &status);
	g_assert_cmpuint(status, ==, 200);
	return mtest_parse_or_fail(text);
}

static void
test_persistence_metrics(void)
{
	PtestService *s = ptest_service_new();
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(MtestMetrics) empty = NULL;
	g_autoptr(MtestMetrics) m = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autofree gchar *target = NULL;
	g_autofree gchar *status_text = NULL;
	MsbPersistMessage *orders = ptest_messages_new(100, 50);
	MsbPersistMessage *doomed = ptest_messages_new(0, 10);
	gdouble before = (gdouble)g_get_real_time() / G_USEC_PER_SEC;
	gdouble after;
	gdouble fsyncs;
	JsonObject *root;
	JsonObject *fsync;
	guint status = 0;

	ptest_service_start(s, 0);
	/* nothing stored yet: valid, every family there, no per-topic series */
	empty = scrape(s);
	g_assert_nonnull(mtest_family(empty, "persistence_topic_min_id"));
	g_assert_cmpuint(mtest_family(empty, "persistence_topic_min_id")->samples->len, ==, 0);
	g_assert_nonnull(mtest_family(empty, "persistence_fsync_latency_seconds"));

	target = ptest_service_target(s);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	g_assert_true(ptest_save_messages(client, "metrics-orders", orders, 50, FALSE, &error));
	g_assert_no_error(error);
	g_assert_true(ptest_save_messages(client, "metrics-doomed", doomed, 10, TRUE, &error));
	g_assert_no_error(error);
	g_assert_true(ptest_delete_topic(
	        client, "metrics-doomed",
	        g_get_real_time() + G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC, &error));
	g_assert_no_error(error);
	after = (gdouble)g_get_real_time() / G_USEC_PER_SEC;

	m = scrape(s);
	g_assert_cmpfloat(mtest_value(m, "persistence_topics", NULL), ==, 2);
	g_assert_cmpfloat(
	        mtest_value(m, "persistence_topic_min_id", "topic", "metrics-orders", NULL), ==,
	        100);
	g_assert_cmpfloat(
	        mtest_value(m, "persistence_topic_max_id", "topic", "metrics-orders", NULL), ==,
	        149);
	g_assert_cmpfloat(mtest_value(m, "persistence_topic_stored_messages", "topic",
	                              "metrics-orders", NULL),
	                  ==, 50);
	g_assert_cmpfloat(
	        mtest_value(m, "persistence_topic_deleted", "topic", "metrics-orders", NULL), ==,
	        0);
	g_assert_cmpfloat(
	        mtest_value(m, "persistence_topic_deleted", "topic", "metrics-doomed", NULL), ==,
	        1);
	g_assert_cmpfloat(
	        mtest_value(m, "persistence_topic_disk_bytes", "topic", "metrics-orders", NULL), >,
	        0);
	g_assert_cmpfloat(
	        mtest_value(m, "persistence_disk_bytes", NULL), >=,
	        mtest_value(m, "persistence_topic_disk_bytes", "topic", "metrics-orders", NULL));
	/* to the millisecond: the wall clock of the save, between our two readings */
	g_assert_cmpfloat(mtest_value(m, "persistence_topic_last_save_timestamp_seconds", "topic",
	                              "metrics-orders", NULL),
	                  >=, before - 0.001);
	g_assert_cmpfloat(mtest_value(m, "persistence_topic_last_save_timestamp_seconds", "topic",
	                              "metrics-orders", NULL),
	                  <=, after + 0.001);
	g_assert_cmpfloat(mtest_value(m, "persistence_last_save_timestamp_seconds", NULL), >=,
	                  before - 0.001);
	g_assert_cmpfloat(mtest_value(m, "persistence_saves_total", NULL), ==, 2);
	g_assert_cmpfloat(mtest_value(m, "persistence_messages_saved_total", NULL), ==, 60);

	/* every save was made durable by at least one fsync, each one observed */
	fsyncs = mtest_value(m, "persistence_fsync_latency_seconds_count", NULL);
	g_assert_cmpfloat(fsyncs, >=, mtest_value(m, "persistence_commits_total", NULL));
	g_assert_cmpfloat(fsyncs, >=, 2);
	g_assert_cmpfloat(mtest_value(m, "persistence_fsync_latency_seconds_sum", NULL), >, 0);

	g_assert_cmpfloat(mtest_value(m, "process_resident_memory_bytes", NULL), >, 1024 * 1024);
	g_assert_cmpfloat(mtest_value(m, "process_open_fds", NULL), >=, 3);
	g_assert_cmpfloat(mtest_value(m, "process_start_time_seconds", NULL), <=, after + 1);
	g_assert_cmpfloat(mtest_value(m, "process_start_time_seconds", NULL), >, before - 120);

	/* the status page shows the same fsync figures and the process */
	status_text = ptest_http_get(s->http_port, "/api/status", &status);
	g_assert_cmpuint(status, ==, 200);
	json_parser_load_from_data(parser, status_text, -1, &error);
	g_assert_no_error(error);
	root = json_node_get_object(json_parser_get_root(parser));
	fsync = json_object_get_object_member(root, "fsync");
	g_assert_nonnull(fsync);
	g_assert_cmpint(json_object_get_int_member(fsync, "count"), >=, (gint64)fsyncs);
	g_assert_cmpint(json_object_get_int_member(fsync, "p99_us"), >,
	                0); /* a bucket bound, 100 µs at least */
	g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(root, "process"),
	                                           "resident_bytes"),
	                >, 1024 * 1024);

	ptest_messages_free(orders, 50);
	ptest_messages_free(doomed, 10);
	g_clear_object(&client);
	ptest_service_free(s);
}

int
main(int argc, char **argv)
{
	int ret;

	ptest_init(&argc, &argv);
	g_test_add_func("/persistence-metrics/values", test_persistence_metrics);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
