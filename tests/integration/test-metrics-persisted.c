/*
 * The broker's persistence metrics against the real service: with it up, every publish is saved
 * and each acknowledged save is one observation of msb_persistence_save_latency_seconds; with
 * it killed, msb_persistence_up drops to 0 and the unsaved messages and bytes show in the
 * pending gauges (broker-wide and per topic) until it is back and they are saved. Every scrape
 * passes the strict exposition parser (mtest.c).
 */
#include "dtest.h"
#include "mtest.h"

#define TOPIC "persisted-metrics"
#define SIZE  100

static MtestMetrics *
scrape(ItestBroker *b)
{
	guint status = 0;
	g_autofree gchar *text = ptest_http_get(b->http_port, "/metrics?fresh=true", &status);

	g_assert_cmpuint(status, ==, 200);
	return mtest_parse_or_fail(text);
}

static gdouble
metric(ItestBroker *b, const gchar *name)
{
	g_autoptr(MtestMetrics) m = scrape(b);
	return mtest_value(m, name, NULL);
}

static void
test_metrics_persisted(void)
{
	PtestService *ps = ptest_service_new();
	ItestBroker *b = NULL;
	g_autoptr(ItestRaw) pub = NULL;
	g_autoptr(MtestMetrics) m = NULL;
	g_autoptr(MtestMetrics) down = NULL;
	gdouble saves;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, NULL);
	itest_broker_start(b, 0);
	pub = dtest_connect(b, "pub");
	itest_raw_create_topic(pub, TOPIC);
	itest_raw_sync(pub);

	dtest_publish(pub, TOPIC, 1, "m", 0, 20, SIZE, TRUE);
	/* persist_immediately: answered once saved */
	itest_raw_expect_publish_response(pub, 1);
	ITEST_WAIT_FOR(metric(b, "msb_persistence_pending_messages") == 0);

	m = scrape(b);
	g_assert_cmpfloat(mtest_value(m, "msb_persistence_enabled", NULL), ==, 1);
	g_assert_cmpfloat(mtest_value(m, "msb_persistence_up", NULL), ==, 1);
	g_assert_cmpfloat(mtest_value(m, "msb_persistence_pending_bytes", NULL), ==, 0);
	saves = mtest_value(m, "msb_persistence_saves_total", NULL);
	g_assert_cmpfloat(saves, >=, 1);
	g_assert_cmpfloat(mtest_value(m, "msb_persistence_save_latency_seconds_count", NULL), ==,
	                  saves);
	g_assert_cmpfloat(mtest_value(m, "msb_persistence_save_latency_seconds_sum", NULL), >, 0);
	g_assert_cmpfloat(mtest_value(m, "topic_persist_queue_size", "namespace", "default",
	                              "topic", TOPIC, NULL),
	                  ==, 0);
	g_assert_cmpfloat(mtest_value(m, "msb_topic_messages_published_total", "namespace",
	                              "default", "topic", TOPIC, NULL),
	                  ==, 20);

	/* the service goes away: 5 more messages wait */
	ptest_service_stop(ps, SIGKILL);
	ITEST_WAIT_FOR(metric(b, "msb_persistence_up") == 0);
	dtest_publish(pub, TOPIC, 2, "n", 20, 5, SIZE, FALSE);
	itest_raw_expect_publish_response(pub, 2);
	down = scrape(b);
	g_assert_cmpfloat(mtest_value(down, "msb_persistence_up", NULL), ==, 0);
	g_assert_cmpfloat(mtest_value(down, "msb_persistence_pending_messages", NULL), ==, 5);
	g_assert_cmpfloat(mtest_value(down, "msb_persistence_pending_bytes", NULL), ==, 5 * SIZE);
	g_assert_cmpfloat(mtest_value(down, "topic_persist_queue_size", "namespace", "default",
	                              "topic", TOPIC, NULL),
	                  ==, 5);
	/* a failed save is not a latency */
	g_assert_cmpfloat(mtest_value(down, "msb_persistence_save_latency_seconds_count", NULL), ==,
	                  mtest_value(down, "msb_persistence_saves_total", NULL));

	/* back: they are saved */
	ptest_service_start(ps, ps->grpc_port);
	ITEST_WAIT_FOR(metric(b, "msb_persistence_pending_messages") == 0);
	ITEST_WAIT_FOR(metric(b, "msb_persistence_up") == 1);
	g_assert_cmpfloat(metric(b, "msb_persistence_save_latency_seconds_count"), >, saves);

	g_clear_pointer(&pub, itest_raw_free);
	itest_broker_free(b);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	g_test_add_func("/metrics-persisted/save-latency-and-pending", test_metrics_persisted);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
