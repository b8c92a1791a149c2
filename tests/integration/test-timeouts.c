/*
 * Dead peers against the real broker, with short timeouts: a connection that sends nothing for
 * longer than ConnectionTimeout (2 s) is closed (greeted or not) while one that pings stays; a
 * subscriber that holds a batch for longer than DeliveryTimeout (1 s) has its connection closed
 * and its messages go to another subscriber (attempt 1); IntermediaryConfirm keeps a subscriber
 * alive past the timeout, next to one that does not send it and is closed.
 */
#include "itest.h"

#define CONNECTION_TIMEOUT_2S "ConnectionTimeout: 2s\n"
#define DELIVERY_TIMEOUT_1S   "DeliveryTimeout: 1s\n"
/* how long the tests watch a connection that must survive: longer than the timeout, the 1 s
 * check interval and its jitter together */
#define SURVIVE_MS 3200
#define PACE_MS    250

static void
test_connection_timeout(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) silent = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) ungreeted = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) chatty = itest_raw_connect(f->broker);
	gint64 silent_since;
	gint64 start;

	itest_raw_greet(chatty, "chatty", 3, 1);
	itest_raw_greet(silent, "silent", 3, 1);
	itest_raw_sync(silent);
	silent_since = g_get_monotonic_time();

	/* the chatty one pings every 250 ms while we watch both for a while */
	start = g_get_monotonic_time();
	while (!silent->eof || !ungreeted->eof ||
	       g_get_monotonic_time() - start < SURVIVE_MS * 1000) {
		g_assert_cmpint(g_get_monotonic_time() - start, <, ITEST_TIMEOUT_MS * 1000);
		itest_run_for(PACE_MS);
		itest_raw_sync(chatty);
	}
	/* closed, and not before the timeout */
	g_assert_cmpint(silent->eof_us - silent_since, >=, 2 * G_USEC_PER_SEC);
	g_assert_cmpuint(itest_raw_n_queued(silent), ==, 0);
	g_assert_cmpuint(itest_raw_n_queued(ungreeted), ==, 0);
	g_assert_false(chatty->eof);
	itest_raw_sync(chatty);
}

static void
test_delivery_timeout(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) holder = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) other = itest_raw_connect(f->broker);
	g_autoptr(ItestPacket) held = NULL;
	g_autoptr(ItestPacket) again = NULL;
	const gchar *contents[] = {"a", "b", "c"};
	gint64 held_at;

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "jobs");
	itest_raw_sync(pub);
	itest_raw_greet(holder, "holder", 3, 1);
	itest_raw_subscribe(holder, "jobs", "q", 0);
	itest_raw_sync(holder);
	itest_raw_greet(other, "other", 3, 1);
	itest_raw_subscribe(other, "jobs", "q", 0);
	itest_raw_sync(other);

	itest_raw_publish(pub, "jobs", 1, contents, 3, FALSE);
	itest_raw_expect_publish_response(pub, 1);
	held = itest_raw_expect(holder, MSB_PACKET_NEW_MESSAGES);
	held_at = g_get_monotonic_time();
	g_assert_cmpuint(held->messages->len, ==, 3);
	itest_raw_assert_quiet(other);

	/* the holder keeps its connection busy with Pings but never confirms: the broker closes
	 * the whole connection once the batch is older than DeliveryTimeout */
	while (!holder->eof) {
		g_assert_cmpint(g_get_monotonic_time() - held_at, <, ITEST_TIMEOUT_MS * 1000);
		itest_raw_ping(holder);
		itest_run_for(PACE_MS);
	}
	g_assert_cmpint(holder->eof_us - held_at, >=, 1 * G_USEC_PER_SEC);

	/* its messages go to the other subscriber, as a second attempt */
	again = itest_raw_expect(other, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(again->messages->len, ==, 3);
	for (guint i = 0; i < 3; i++) {
		g_assert_cmpint(itest_packet_message(again, i)->id, ==, i);
		g_assert_cmpint(itest_packet_message(again, i)->attempt, ==, 1);
	}
	itest_raw_confirm(other, TRUE, "jobs", "q", again->confirmation_id);
	itest_raw_assert_quiet(other);
	itest_raw_assert_quiet(pub);
}

static void
test_intermediary_keeps_alive(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) busy = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) stuck = itest_raw_connect(f->broker);
	g_autoptr(ItestPacket) batch = NULL;
	g_autoptr(ItestPacket) stuck_batch = NULL;
	g_autoptr(ItestPacket) next = NULL;
	const gchar *contents[] = {"m0", "m1", "m2", "m3", "m4",  "m5",
	                           "m6", "m7", "m8", "m9", "m10", "m11"};
	gint64 start;
	gint64 next_id = 0;

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "long-jobs");
	itest_raw_sync(pub);
	itest_raw_greet(busy, "busy", 3, 1);
	itest_raw_subscribe(busy, "long-jobs", "busy", 0);
	itest_raw_sync(busy);
	itest_raw_greet(stuck, "stuck", 3, 1);
	itest_raw_subscribe(stuck, "long-jobs", "stuck", 0);
	itest_raw_sync(stuck);

	itest_raw_publish(pub, "long-jobs", 1, contents, 12, FALSE);
	itest_raw_expect_publish_response(pub, 1);
	batch = itest_raw_expect(busy, MSB_PACKET_NEW_MESSAGES);
	stuck_batch = itest_raw_expect(stuck, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 12);
	start = g_get_monotonic_time();

	/* "busy" confirms one message every 250 ms with IntermediaryConfirm; "stuck" only pings.
	 * Both hold their batch for longer than DeliveryTimeout plus the check interval. */
	while (g_get_monotonic_time() - start < SURVIVE_MS * 1000 || !stuck->eof) {
		g_assert_cmpint(g_get_monotonic_time() - start, <, ITEST_TIMEOUT_MS * 1000);
		itest_run_for(PACE_MS);
		if (next_id < 11) {
			itest_raw_confirm_ids(busy, TRUE, "long-jobs", "busy",
			                      batch->confirmation_id, &next_id, 1);
			next_id++;
		} else {
			/* no id left to confirm: an empty IntermediaryConfirm is a heartbeat */
			itest_raw_confirm_ids(busy, TRUE, "long-jobs", "busy",
			                      batch->confirmation_id, NULL, 0);
		}
		itest_raw_sync(busy);
		if (!stuck->eof)
			itest_raw_ping(stuck);
	}
	/* the one without IntermediaryConfirm was closed after the timeout */
	g_assert_cmpint(stuck->eof_us - start, >=, 1 * G_USEC_PER_SEC);

	/* the busy one is alive, its batch still in flight: a new message waits */
	itest_raw_publish(pub, "long-jobs", 2, contents, 1, FALSE);
	itest_raw_expect_publish_response(pub, 2);
	itest_raw_assert_quiet(busy);
	/* ending it confirms the rest (id 11); the waiting message comes next, first attempt */
	itest_raw_confirm(busy, TRUE, "long-jobs", "busy", batch->confirmation_id);
	next = itest_raw_expect(busy, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(next->messages->len, ==, 1);
	g_assert_cmpint(itest_packet_message(next, 0)->id, ==, 12);
	g_assert_cmpint(itest_packet_message(next, 0)->attempt, ==, 0);
	itest_raw_confirm(busy, TRUE, "long-jobs", "busy", next->confirmation_id);
	itest_raw_assert_quiet(busy);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/timeouts/connection", CONNECTION_TIMEOUT_2S, test_connection_timeout);
	ITEST_ADD("/timeouts/delivery", DELIVERY_TIMEOUT_1S, test_delivery_timeout);
	ITEST_ADD("/timeouts/intermediary-keeps-alive", DELIVERY_TIMEOUT_1S,
	          test_intermediary_keeps_alive);
	return g_test_run();
}
