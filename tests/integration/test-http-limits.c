/*
 * The broker's HTTP port under hostile requests (issue 7, item 1): the cases of htest.c against
 * my-service-bus started with short HTTP limits.
 */
#include "htest.h"
#include "itest.h"

static ItestBroker *broker;

static void
setup(gpointer fixture, gconstpointer data)
{
	HtestTarget *t = fixture;

	broker = itest_broker_new(HTEST_SETTINGS);
	/* a small quarantine, so that RSS shows what the broker holds (see test-slow-consumers.c)
	 */
	broker->asan_options = "quarantine_size_mb=4:thread_local_quarantine_size_kb=64";
	itest_broker_start(broker, 0);
	t->port = broker->http_port;
	t->pid = broker->pid;
}

static void
teardown(gpointer fixture, gconstpointer data)
{
	/* still answers, then stops cleanly (exit status 0: no sanitizer report) */
	g_autoptr(JsonNode) alive = itest_broker_get_json(broker, "/api/isalive");

	g_assert_nonnull(alive);
	g_clear_pointer(&broker, itest_broker_free);
}

int
main(int argc, char **argv)
{
	static HtestTarget target = {.paths = {"/api/isalive", "/api/status", "/metrics"}};

	itest_init(&argc, &argv);
	htest_add_cases("/http-limits/broker", &target, setup, teardown);
	return g_test_run();
}
