/*
 * Memory is given back to the system once a backlog is gone (issue 7, item 5): the broker's
 * VmRSS returns within 10 s to within 20% (at least 8 MiB) of what it was before the backlog,
 * after a subscriber consumed it and after a slow consumer's delete-on-disconnect queue was
 * deleted.
 *
 * RSS depends on the real malloc, so this test is built only without sanitizers
 * (AddressSanitizer keeps freed memory in its quarantine); scripts/run-tests.sh runs it in a
 * plain build (meson test --suite memory). bench/run-bench-memory.sh measures 5,000,000 messages.
 */
#include "itest.h"

#define BACKLOG       800000
#define PER_PUBLISH   10000
#define MESSAGE_SIZE  100
#define SETTLE_MS     10000
#define MIN_GROWTH_KB (64 * 1024)

static const gchar *memory_settings = "QueueGcTimeout: 1s\n";

/* VmRSS must come back to this: 20% above before, and never less than 8 MiB above */
static gsize
rss_limit(gsize before)
{
	return before + MAX(before / 5, 8 * 1024);
}

static void
publish_backlog(ItestRaw *pub, const gchar *topic, gint64 first_request)
{
	for (guint i = 0; i < BACKLOG / PER_PUBLISH; i++) {
		itest_raw_publish_sized(pub, topic, first_request + i, PER_PUBLISH, MESSAGE_SIZE);
		itest_raw_expect_publish_response(pub, first_request + i);
	}
}

/* Consume @total messages from @r (subscribed already), confirming each batch. */
static void
consume(ItestRaw *r, const gchar *topic, const gchar *queue, guint total)
{
	guint received = 0;

	while (received < total) {
		g_autoptr(ItestPacket) p = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);

		received += p->messages->len;
		itest_raw_confirm(r, TRUE, topic, queue, p->confirmation_id);
	}
	g_assert_cmpuint(received, ==, total);
}

/* Wait up to SETTLE_MS for VmRSS to come back within the limit; returns the last value. */
static gsize
wait_rss_back(ItestBroker *b, gsize before)
{
	gint64 deadline = g_get_monotonic_time() + SETTLE_MS * 1000;
	gsize rss = itest_broker_rss_kib(b);

	while (rss > rss_limit(before) && g_get_monotonic_time() < deadline) {
		itest_run_for(100);
		rss = itest_broker_rss_kib(b);
	}
	return rss;
}

static void
test_backlog_consumed(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) sub = itest_raw_connect(f->broker);
	gsize before;
	gsize peak;
	gsize after;

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "backlog");
	itest_raw_sync(pub);
	itest_raw_greet(sub, "consumer", 3, 1);
	itest_raw_subscribe(sub, "backlog", "q", MSB_QUEUE_TYPE_PERMANENT);
	itest_raw_sync(sub);
	/* a first round trip, so that the connections' buffers exist before we measure */
	itest_raw_publish_sized(pub, "backlog", 1, 1000, MESSAGE_SIZE);
	itest_raw_expect_publish_response(pub, 1);
	consume(sub, "backlog", "q", 1000);
	itest_raw_assert_quiet(sub);
	/* the queue stays, with no subscriber: the backlog builds up in memory */
	itest_raw_free(g_steal_pointer(&sub));
	before = itest_broker_rss_kib(f->broker);

	publish_backlog(pub, "backlog", 2);
	peak = itest_broker_rss_kib(f->broker);
	g_test_message("VmRSS before %zu KiB, with %u messages waiting %zu KiB", before, BACKLOG,
	               peak);
	g_assert_cmpuint(peak, >, before + MIN_GROWTH_KB);

	sub = itest_raw_connect(f->broker);
	itest_raw_greet(sub, "consumer", 3, 1);
	itest_raw_subscribe(sub, "backlog", "q", MSB_QUEUE_TYPE_PERMANENT);
	consume(sub, "backlog", "q", BACKLOG);
	after = wait_rss_back(f->broker, before);
	g_test_message("VmRSS after consuming: %zu KiB (limit %zu KiB)", after, rss_limit(before));
	g_assert_cmpuint(after, <=, rss_limit(before));
}

static void
test_slow_consumer_queue_deleted(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) slow = itest_raw_connect(f->broker);
	g_autoptr(JsonNode) status = NULL;
	gsize before;
	gsize peak;
	gsize after;

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "slow");
	itest_raw_publish_sized(pub, "slow", 1, 1000, MESSAGE_SIZE);
	itest_raw_expect_publish_response(pub, 1);
	before = itest_broker_rss_kib(f->broker);

	/* a delete-on-disconnect subscriber that takes one batch and never confirms it */
	itest_raw_greet(slow, "slow-consumer", 3, 1);
	itest_raw_subscribe(slow, "slow", "q", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	itest_raw_sync(slow);
	itest_raw_stop_reading(slow);
	publish_backlog(pub, "slow", 2);
	peak = itest_broker_rss_kib(f->broker);
	g_test_message("VmRSS before %zu KiB, with %u messages held for a slow consumer %zu KiB",
	               before, BACKLOG, peak);
	g_assert_cmpuint(peak, >, before + MIN_GROWTH_KB);

	/* it goes away; its queue is deleted after QueueGcTimeout (1 s) */
	itest_raw_free(g_steal_pointer(&slow));
	after = wait_rss_back(f->broker, before);
	g_test_message("VmRSS after the queue's deletion: %zu KiB (limit %zu KiB)", after,
	               rss_limit(before));
	g_assert_cmpuint(after, <=, rss_limit(before));
	itest_raw_sync(pub);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/memory/backlog-consumed", memory_settings, test_backlog_consumed);
	ITEST_ADD("/memory/slow-consumer-queue-deleted", memory_settings,
	          test_slow_consumer_queue_deleted);
	return g_test_run();
}
