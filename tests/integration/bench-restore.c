/*
 * How long a broker with many topics takes to restore after a crash: not a test, a measurement
 * (bench/run-bench-restore.sh runs it on a release build and reports the numbers).
 *
 * BENCH_TOPICS topics (default 2000), each with a permanent queue and 1-20 messages published
 * and saved, are created on the real broker with the real persistence service;
 * once a snapshot lists them all the broker is killed with SIGKILL and started again,
 * BENCH_RUNS times (default 3). Each start is timed from the spawn to the ready file (the client
 * port is bound only after the restore) and printed as one JSON line; the broker's own
 * "restored ..." log line goes to stderr (not --verbose, whose debug lines would slow it down).
 * The queues are checked after the last start, so that a fast but wrong restore does not pass
 * for a result.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dtest.h"

#define QUEUE "q"
#define SIZE  40

static guint
bench_env(const gchar *name, guint fallback)
{
	const gchar *value = g_getenv(name);

	return value != NULL && *value != '\0' ? (guint)g_ascii_strtoull(value, NULL, 10)
	                                       : fallback;
}

static gchar *
bench_topic(guint i)
{
	return g_strdup_printf("bench-restore-%05u", i);
}

static guint
bench_messages(guint i)
{
	return 1 + i % 20;
}

/* Every topic of 0..@n-1 with QUEUE in the service's snapshot. */
static gboolean
bench_snapshot_complete(MsbPersistenceClient *client, guint n)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) topics = ptest_get_snapshot(client, &error);
	guint found = 0;

	g_assert_no_error(error);
	for (guint i = 0; i < topics->len; i++) {
		MsbPersistTopicSnapshot *ts = g_ptr_array_index(topics, i);
		if (g_str_has_prefix(ts->topic_id, "bench-restore-") && ts->queues->len == 1)
			found++;
	}
	return found == n;
}

/* CPU seconds (user + system) @pid has used so far. */
static gdouble
bench_cpu_s(GPid pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/stat", (gint)pid);
	g_autofree gchar *text = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *after_name;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return -1;
	/* fields after the parenthesised name: state is field 3, utime 14 and stime 15 */
	after_name = strrchr(text, ')');
	g_assert_nonnull(after_name);
	fields = g_strsplit(after_name + 2, " ", -1);
	g_assert_cmpuint(g_strv_length(fields), >, 13);
	return (gdouble)(g_ascii_strtoull(fields[11], NULL, 10) +
	                 g_ascii_strtoull(fields[12], NULL, 10)) /
	       (gdouble)sysconf(_SC_CLK_TCK);
}

static void
bench_restore(void)
{
	guint n = bench_env("BENCH_TOPICS", 2000);
	guint runs = bench_env("BENCH_RUNS", 3);
	PtestService *ps = ptest_service_new();
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autofree gchar *target = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) status = NULL;
	JsonObject *queues;
	ItestBroker *b;
	ItestRaw *pub;
	ItestRaw *sub;

	ptest_service_start(ps, 0);
	target = ptest_service_target(ps);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	b = dtest_broker_new(ps, NULL);
	itest_broker_start(b, 0);

	sub = dtest_connect(b, "sub");
	pub = dtest_connect(b, "pub");
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *topic = bench_topic(i);
		itest_raw_create_topic(pub, topic);
	}
	itest_raw_sync(pub);
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *topic = bench_topic(i);
		itest_raw_subscribe(sub, topic, QUEUE, 0);
	}
	itest_raw_sync(sub);
	/* the queues stay (permanent) and nobody reads them */
	itest_raw_free(sub);
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *topic = bench_topic(i);
		dtest_publish(pub, topic, i + 1, "m", 0, bench_messages(i), SIZE, FALSE);
	}
	for (guint i = 0; i < n; i++)
		itest_raw_expect_publish_response(pub, i + 1);
	itest_raw_free(pub);
	/* one save per topic: a while with thousands of topics */
	ITEST_WAIT_FOR_MS(dtest_metric(b, "msb_persistence_pending_messages") == 0, 600000);
	ITEST_WAIT_FOR_MS(bench_snapshot_complete(client, n), 60000);

	for (guint run = 1; run <= runs; run++) {
		gint64 start_us;
		gint64 elapsed_us;
		gdouble service_cpu;

		/* the snapshot of the last start (with new reservations) is saved before the kill
		 */
		ITEST_WAIT_FOR_MS(dtest_metric(b, "msb_persistence_snapshots_total") >= 1, 60000);
		itest_broker_kill(b);
		g_assert_true(WIFSIGNALED(b->wait_status));
		service_cpu = bench_cpu_s(ps->pid);
		start_us = g_get_monotonic_time();
		itest_broker_spawn(b, 0);
		itest_broker_wait_ready(b, 0, 600000);
		elapsed_us = g_get_monotonic_time() - start_us;
		/* the CPU both programs spent on it: with 2 cores shared, what bounds the time */
		g_print("{\"test\":\"restore_after_crash\",\"topics\":%u,\"run\":%u,"
		        "\"ready_s\":%.3f,\"broker_cpu_s\":%.2f,\"service_cpu_s\":%.2f}\n",
		        n, run, (gdouble)elapsed_us / G_USEC_PER_SEC, bench_cpu_s(b->pid),
		        bench_cpu_s(ps->pid) - service_cpu);
	}

	/* each queue holds exactly what was published to its topic, no phantom ids */
	status = itest_broker_get_json(b, "/api/status?fresh=true");
	queues = json_object_get_object_member(json_node_get_object(status), "queues");
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *topic = bench_topic(i);
		JsonArray *list = json_object_get_array_member(
		        json_object_get_object_member(queues, topic), "queues");
		JsonObject *q = json_array_get_object_element(list, 0);

		g_assert_cmpint(json_object_get_int_member(q, "size"), ==, bench_messages(i));
	}

	itest_broker_free(b);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	g_test_add_func("/bench/restore-after-crash", bench_restore);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
