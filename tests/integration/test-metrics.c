/*
 * The broker's /metrics against what the test did: a publisher sends N messages to a topic, a
 * subscriber of a queue whose name holds a quote, a backslash and a newline fails the first batch
 * and confirms the redelivery, a second queue is deleted by its GC; then every scrape must pass
 * the strict exposition parser (mtest.c) and show exactly those counts, no series of the deleted
 * queue, two TCP sessions, and plausible process metrics.
 */
#include "itest.h"
#include "mtest.h"

#define N_MESSAGES 7
#define TOPIC      "metrics-topic"

static MtestMetrics *
scrape(ItestBroker *b)
{
	g_autofree gchar *text = NULL;
	guint status = 0;

	text = itest_broker_http(b, "GET", "/metrics?fresh=true", NULL, NULL, NULL, &status);
	g_assert_cmpuint(status, ==, 200);
	return mtest_parse_or_fail(text);
}

static gdouble
topic_value(MtestMetrics *m, const gchar *name)
{
	return mtest_value(m, name, "namespace", "default", "topic", TOPIC, NULL);
}

static void
test_metrics_values(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	const gchar *odd = "q\"uo\\te\nline";
	const gchar *contents[N_MESSAGES] = {"a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g"};
	g_autoptr(ItestRaw) pub = itest_raw_connect(b);
	g_autoptr(ItestRaw) sub = itest_raw_connect(b);
	g_autoptr(ItestRaw) temp = itest_raw_connect(b);
	g_autoptr(ItestPacket) batch = NULL;
	g_autoptr(ItestPacket) again = NULL;
	g_autoptr(MtestMetrics) before = NULL;
	g_autoptr(MtestMetrics) m = NULL;
	gdouble now = (gdouble)g_get_real_time() / G_USEC_PER_SEC;
	gdouble started;

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_greet(sub, "subscriber", 3, 1);
	itest_raw_greet(temp, "temporary", 3, 1);
	itest_raw_create_topic(pub, TOPIC);
	itest_raw_sync(pub);
	itest_raw_subscribe(sub, TOPIC, odd, 0);
	itest_raw_subscribe(temp, TOPIC, "temp", 1);
	itest_raw_sync(sub);
	itest_raw_sync(temp);

	itest_raw_publish(pub, TOPIC, 1, contents, N_MESSAGES, TRUE);
	itest_raw_expect_publish_response(pub, 1);
	/* the first delivery fails, the second is confirmed */
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpstr(batch->queue, ==, odd);
	g_assert_cmpuint(batch->messages->len, ==, N_MESSAGES);
	itest_raw_confirm(sub, FALSE, TOPIC, odd, batch->confirmation_id);
	again = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(again->messages->len, ==, N_MESSAGES);
	g_assert_cmpint(itest_packet_message(again, 0)->attempt, ==, 1);
	itest_raw_confirm(sub, TRUE, TOPIC, odd, again->confirmation_id);
	itest_raw_sync(sub);

	before = scrape(b);
	/* "temp" got its batch and does not confirm it */
	g_assert_cmpfloat(mtest_value(before, "msb_queue_in_flight", "namespace", "default",
	                              "topic", TOPIC, "queue", "temp", NULL),
	                  ==, N_MESSAGES);
	g_assert_cmpfloat(mtest_value(before, "msb_connections", "kind", "tcp", NULL), ==, 3);

	/* "temp" loses its only subscriber and goes after QueueGcTimeout */
	g_clear_pointer(&temp, itest_raw_free);
	itest_broker_wait_log(b, "queue " TOPIC "/temp deleted", 1, ITEST_TIMEOUT_MS);

	m = scrape(b);
	g_assert_cmpfloat(topic_value(m, "msb_topic_messages_published_total"), ==, N_MESSAGES);
	g_assert_cmpfloat(topic_value(m, "msb_topic_messages_delivered_total"), ==, N_MESSAGES);
	g_assert_cmpfloat(topic_value(m, "msb_topic_messages_redelivered_total"), ==, N_MESSAGES);
	g_assert_cmpfloat(topic_value(m, "msb_topic_published_bytes_total"), ==, 22);
	g_assert_cmpfloat(topic_value(m, "topic_mean_message_size"), ==, 22 / N_MESSAGES);
	g_assert_cmpfloat(topic_value(m, "topic_messages_amount"), <=, N_MESSAGES);
	g_assert_cmpfloat(topic_value(m, "topic_persist_queue_size"), ==, 0);
	g_assert_cmpfloat(topic_value(m, "topic_next_message_id"), ==, N_MESSAGES);
	g_assert_cmpfloat(mtest_value(m, "topic_queue_size", "namespace", "default", "topic", TOPIC,
	                              "queue", odd, NULL),
	                  ==, 0);
	g_assert_cmpfloat(mtest_value(m, "msb_queue_in_flight", "namespace", "default", "topic",
	                              TOPIC, "queue", odd, NULL),
	                  ==, 0);
	g_assert_cmpfloat(mtest_value(m, "msb_queue_subscribers", "namespace", "default", "topic",
	                              TOPIC, "queue", odd, NULL),
	                  ==, 1);
	/* the deleted queue has no series left */
	for (guint i = 0; i < m->families->len; i++) {
		MtestFamily *family = g_ptr_array_index(m->families, i);
		g_assert_cmpuint(mtest_count_with_label(m, family->name, "queue", "temp"), ==, 0);
	}
	g_assert_cmpfloat(mtest_value(m, "permanent_queues_without_subscribers", NULL), ==, 0);
	g_assert_cmpfloat(mtest_value(m, "topics_without_queues", NULL), ==, 0);

	/* two batches ended by a confirmation: the failed one and the confirmed one */
	g_assert_cmpfloat(mtest_value(m, "msb_delivery_latency_seconds_count", NULL), ==, 2);

	/* the publisher and the subscriber are left */
	g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "tcp", NULL), ==, 2);
	g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "unix", NULL), ==, 0);
	g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "http", NULL), ==, 0);
	g_assert_cmpfloat(mtest_value(m, "tcp_connections", "tcp_metric", "count", NULL), ==, 2);
	/* this scrape's own connection at least */
	g_assert_cmpfloat(mtest_value(m, "http_connections_amount", NULL), >=, 1);
	g_assert_cmpfloat(mtest_value(m, "msb_up", NULL), ==, 1);
	g_assert_cmpfloat(mtest_value(m, "msb_persistence_enabled", NULL), ==, 0);
	g_assert_cmpfloat(mtest_value(m, "msb_persistence_pending_bytes", NULL), ==, 0);
	g_assert_cmpfloat(mtest_value(m, "msb_persistence_save_latency_seconds_count", NULL), ==,
	                  0);

	/* the broker process, not ours */
	g_assert_cmpfloat(mtest_value(m, "process_resident_memory_bytes", NULL), >, 1024 * 1024);
	g_assert_cmpfloat(mtest_value(m, "process_resident_memory_bytes", NULL), <=,
	                  mtest_value(m, "process_virtual_memory_bytes", NULL));
	g_assert_cmpfloat(mtest_value(m, "process_cpu_seconds_total", NULL), >, 0);
	/* listeners, the two clients, the scrape */
	g_assert_cmpfloat(mtest_value(m, "process_open_fds", NULL), >=, 5);
	g_assert_cmpfloat(mtest_value(m, "process_open_fds", NULL), <,
	                  mtest_value(m, "process_max_fds", NULL));
	started = mtest_value(m, "process_start_time_seconds", NULL);
	g_assert_cmpfloat(started, <=, now + 1);
	g_assert_cmpfloat(started, >, now - 120);
}

/* A broker with no topic still says how many HTTP connections are open. */
static void
test_metrics_no_topics(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MtestMetrics) m = scrape(f->broker);

	g_assert_cmpfloat(mtest_value(m, "http_connections_amount", NULL), >=, 1);
	g_assert_nonnull(mtest_family(m, "topic_queue_size"));
	g_assert_cmpuint(mtest_family(m, "topic_queue_size")->samples->len, ==, 0);
	g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "tcp", NULL), ==, 0);
	g_assert_nonnull(mtest_family(m, "process_start_time_seconds"));
}

/* Sessions by kind: one over the Unix socket, two over TCP. */
static void
test_metrics_by_kind(ItestFixture *f, gconstpointer data)
{
	g_autofree gchar *path = itest_broker_path(f->broker, "broker.sock");
	g_autoptr(ItestRaw) local = itest_raw_connect_unix(path);
	g_autoptr(ItestRaw) tcp1 = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) tcp2 = itest_raw_connect(f->broker);
	g_autoptr(MtestMetrics) m = NULL;

	itest_raw_greet(local, "local", 3, 1);
	itest_raw_greet(tcp1, "one", 3, 1);
	itest_raw_greet(tcp2, "two", 3, 1);
	itest_raw_sync(local);
	itest_raw_sync(tcp1);
	itest_raw_sync(tcp2);
	m = scrape(f->broker);
	g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "unix", NULL), ==, 1);
	g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "tcp", NULL), ==, 2);
	g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "http", NULL), ==, 0);
	g_assert_cmpfloat(mtest_value(m, "tcp_connections", "tcp_metric", "count", NULL), ==, 3);
}

static void
setup_gc(ItestFixture *f, gconstpointer data)
{
	f->broker = itest_broker_new("QueueGcTimeout: 1s\n");
	f->broker->capture_log = TRUE;
	itest_broker_start(f->broker, 0);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);

	g_test_add("/metrics/values", ItestFixture, NULL, setup_gc, test_metrics_values,
	           itest_fixture_teardown);
	ITEST_ADD("/metrics/no-topics", NULL, test_metrics_no_topics);
	ITEST_ADD("/metrics/by-kind", "ListenUnixSocket: @DIR@/broker.sock\n",
	          test_metrics_by_kind);

	return g_test_run();
}
