/*
 * /api/Status and /metrics pollers share collections (MsbStatsReader recent requests): polls
 * within a second of each other cost one collection and one rendering between them, while a
 * client still reads back what it changed: after a write over HTTP at once, after one over TCP
 * with ?fresh=true.
 */
#include <string.h>

#include "itest.h"

#define RECENT_US G_USEC_PER_SEC

static gchar *
get(ItestBroker *b, const gchar *path, guint expect_status)
{
	guint status = 0;
	gchar *body = itest_broker_http(b, "GET", path, NULL, NULL, NULL, &status);

	if (status != expect_status)
		g_error("GET %s: %u, not %u: %s", path, status, expect_status, body);
	return body;
}

/* Polls one after the other: at most one collection (and one rendering) a second of polling;
 * before, each poll had a collection and a rendering of its own. */
static void
test_recent_polls_share(void)
{
	ItestBroker *b = itest_broker_new(NULL);
	g_autoptr(ItestRaw) raw = NULL;
	gint64 started;
	gint64 elapsed;
	guint collections;
	guint renderings;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	raw = itest_raw_connect(b);
	itest_raw_greet(raw, "recent", 3, -1);
	itest_raw_create_topic(raw, "orders");
	itest_raw_sync(raw);
	started = g_get_monotonic_time();
	for (guint i = 0; i < 6; i++) {
		g_autofree gchar *body = get(b, i % 2 == 0 ? "/api/Status" : "/status", 200);
		g_assert_nonnull(strstr(body, "\"orders\""));
	}
	for (guint i = 0; i < 3; i++)
		g_free(get(b, "/metrics", 200));
	elapsed = g_get_monotonic_time() - started;
	collections = itest_broker_log_count(b, " finished for ");
	renderings = itest_broker_log_count(b, "rendered the ");
	g_test_message("9 polls in %" G_GINT64_FORMAT " ms: %u collections, %u renderings",
	               elapsed / 1000, collections, renderings);
	g_assert_cmpuint(collections, >=, 1);
	/* a slow machine may stretch the polls over more than a second: one more per second */
	g_assert_cmpuint(collections, <=, 1 + elapsed / RECENT_US);
	/* the status page and the metrics: one rendering of each per collection */
	g_assert_cmpuint(renderings, <=, 2 * collections);
	itest_broker_free(b);
}

static gboolean
has_topic(const gchar *body, const gchar *name)
{
	g_autofree gchar *quoted = g_strdup_printf("\"%s\"", name);
	return strstr(body, quoted) != NULL;
}

/* A client reads what it changed: at once after a write over HTTP; after one over TCP (which the
 * HTTP side does not see) with ?fresh=true. */
static void
test_recent_read_your_writes(void)
{
	ItestBroker *b = itest_broker_new(NULL);
	g_autoptr(ItestRaw) raw = NULL;
	g_autofree gchar *first = NULL;
	g_autofree gchar *after_http = NULL;
	g_autofree gchar *after_tcp = NULL;
	g_autofree gchar *metrics = NULL;
	g_autofree gchar *created = NULL;
	guint status = 0;

	itest_broker_start(b, 0);
	raw = itest_raw_connect(b);
	itest_raw_greet(raw, "recent", 3, -1);
	first = get(b, "/api/Status", 200);
	g_assert_false(has_topic(first, "made-over-http"));

	created = itest_broker_http(b, "POST", "/api/Topics/Create?topicId=made-over-http", NULL,
	                            NULL, NULL, &status);
	g_assert_cmpuint(status, ==, 200);
	after_http = get(b, "/api/Status", 200);
	g_assert_true(has_topic(after_http, "made-over-http"));

	itest_raw_create_topic(raw, "made-over-tcp");
	itest_raw_sync(raw);
	after_tcp = get(b, "/api/Status?fresh=true", 200);
	g_assert_true(has_topic(after_tcp, "made-over-tcp"));
	metrics = get(b, "/metrics?fresh=true", 200);
	g_assert_nonnull(strstr(metrics, "topic=\"made-over-tcp\""));
	itest_broker_free(b);
}

/* ?fresh= takes true or false. */
static void
test_recent_bad_fresh(void)
{
	ItestBroker *b = itest_broker_new(NULL);
	g_autofree gchar *status_body = NULL;
	g_autofree gchar *metrics_body = NULL;
	g_autofree gchar *ok = NULL;

	itest_broker_start(b, 0);
	status_body = get(b, "/api/Status?fresh=soon", 400);
	g_assert_nonnull(strstr(status_body, "fresh"));
	metrics_body = get(b, "/metrics?fresh=1", 400);
	g_assert_nonnull(strstr(metrics_body, "fresh"));
	ok = get(b, "/api/Status?fresh=false", 200);
	itest_broker_free(b);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);

	g_test_add_func("/status-recent/polls-share", test_recent_polls_share);
	g_test_add_func("/status-recent/read-your-writes", test_recent_read_your_writes);
	g_test_add_func("/status-recent/bad-fresh", test_recent_bad_fresh);

	return g_test_run();
}
