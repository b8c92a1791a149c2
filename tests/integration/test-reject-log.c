/*
 * Rejects are logged (issue 7, item 6): the original SDKs ignore them, so the broker's log is
 * where an operator sees why a client gets nothing. One line names the client (Greeting name and
 * version, address) and the reason; repeats on one connection are rate-limited and counted.
 */
#include "itest.h"

#define REPEATS 100

static void
test_reject_logged_once(void)
{
	ItestBroker *b = itest_broker_new(NULL);
	g_autoptr(ItestRaw) r = NULL;
	g_autofree gchar *first = NULL;
	guint lines;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	r = itest_raw_connect(b);
	itest_raw_greet(r, "orders-service;2.3.4", 3, 1);
	itest_raw_subscribe(r, "missing", "q", MSB_QUEUE_TYPE_PERMANENT);
	first = itest_raw_expect_reject(r);
	g_assert_nonnull(strstr(first, "TopicNotFound"));
	itest_broker_wait_log(b, "Reject to client 'orders-service' 2.3.4 at 127.0.0.1:", 1,
	                      ITEST_TIMEOUT_MS);
	g_assert_cmpuint(itest_broker_log_count(b, "TopicNotFound { topic_id: \"missing\" }"), ==,
	                 1);

	/* the same again and again: answered every time, logged rarely */
	for (guint i = 0; i < REPEATS; i++) {
		g_autofree gchar *text = NULL;

		itest_raw_subscribe(r, "missing", "q", MSB_QUEUE_TYPE_PERMANENT);
		text = itest_raw_expect_reject(r);
		g_assert_cmpstr(text, ==, first);
	}
	itest_raw_sync(r);
	lines = itest_broker_log_count(b, "Reject to client 'orders-service'");
	g_test_message("%u Rejects logged in %u lines", REPEATS + 1, lines);
	g_assert_cmpuint(lines, >=, 1);
	g_assert_cmpuint(lines, <=, 3);

	/* when the client goes, the ones left out are counted */
	itest_raw_free(g_steal_pointer(&r));
	itest_broker_wait_log(b, "more Rejects for TopicNotFound that were not logged", 1,
	                      ITEST_TIMEOUT_MS);
	itest_broker_free(b);
}

/* before the Greeting the client has no name: the line says so and gives its address */
static void
test_reject_before_greeting(void)
{
	ItestBroker *b = itest_broker_new(NULL);
	g_autoptr(ItestRaw) r = NULL;
	g_autofree gchar *text = NULL;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	r = itest_raw_connect(b);
	/* Greeting "old" asking for protocol version 1 */
	itest_raw_send_hex(r, "02 03 6F 6C 64 01 00 00 00");
	text = itest_raw_expect_reject(r);
	g_assert_nonnull(strstr(text, "protocol version 1"));
	itest_broker_wait_log(b, "Reject to a client at 127.0.0.1:", 1, ITEST_TIMEOUT_MS);
	itest_broker_wait_log(b, "no Greeting yet): Greeting: protocol version 1", 1,
	                      ITEST_TIMEOUT_MS);
	itest_broker_free(b);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	g_test_add_func("/reject-log/logged-once", test_reject_logged_once);
	g_test_add_func("/reject-log/before-greeting", test_reject_before_greeting);
	return g_test_run();
}
