/*
 * MsbStatsReader: requests share collections, and a request is answered only by a collection
 * that started after it was made (so it sees what was done before it), while the broker keeps
 * changing between the slices. Recent requests (pollers) share the newest collection for up to
 * MSB_STATS_READER_RECENT_US, unless a write was noted since it started.
 */
#include "broker-fixture.h"
#include "msb-stats-reader.h"

typedef struct {
	GPtrArray *answers; /* MsbBrokerStats*, one reference each */
	guint destroyed;
} Answers;

static void
ready_cb(MsbBrokerStats *stats, gpointer user_data)
{
	Answers *a = user_data;

	g_ptr_array_add(a->answers, msb_broker_stats_ref(stats));
}

static void
destroyed_cb(gpointer user_data)
{
	Answers *a = user_data;

	a->destroyed++;
}

static gboolean
has_topic(MsbBrokerStats *stats, const gchar *name)
{
	for (guint i = 0; i < stats->topics->len; i++) {
		if (g_strcmp0(msb_broker_stats_topic(stats, i)->name, name) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
test_reader_shares(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};

	make_topic(fx, "orders");
	/* five requests before the first slice runs: one collection answers them all */
	for (guint i = 0; i < 5; i++)
		msb_stats_reader_request(reader, ready_cb, &a, destroyed_cb);
	while (a.answers->len < 5)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 1);
	for (guint i = 1; i < 5; i++)
		g_assert_true(g_ptr_array_index(a.answers, i) == g_ptr_array_index(a.answers, 0));
	g_assert_cmpuint(a.destroyed, ==, 5);
	g_assert_true(has_topic(g_ptr_array_index(a.answers, 0), "orders"));
	/* nothing runs once nobody waits */
	g_assert_false(g_main_context_iteration(NULL, FALSE));
	g_ptr_array_unref(a.answers);
}

static void
test_reader_fresh(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers first = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	Answers second = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref),
	                  0};
	guint64 collections;

	/* enough topics that one collection takes several ~1 ms slices */
	for (guint i = 0; i < 50000; i++) {
		g_autofree gchar *name = g_strdup_printf("topic-%05u", i);
		make_topic(fx, name);
	}
	msb_stats_reader_request(reader, ready_cb, &first, destroyed_cb);
	g_main_context_iteration(NULL, TRUE); /* the first slice: the collection runs */
	g_assert_cmpuint(first.answers->len, ==, 0);

	/* made while it runs, after a change behind its cursor: the next collection answers */
	make_topic(fx, "aaa-new");
	msb_stats_reader_request(reader, ready_cb, &second, destroyed_cb);
	msb_stats_reader_request(reader, ready_cb, &second, destroyed_cb);
	while (second.answers->len < 2)
		g_main_context_iteration(NULL, TRUE);
	collections = msb_stats_reader_get_collections(reader);
	g_assert_cmpuint(collections, ==, 2);
	g_assert_cmpuint(first.answers->len, ==, 1);
	g_assert_false(has_topic(g_ptr_array_index(first.answers, 0), "aaa-new"));
	g_assert_true(has_topic(g_ptr_array_index(second.answers, 0), "aaa-new"));
	g_assert_true(g_ptr_array_index(second.answers, 0) == g_ptr_array_index(second.answers, 1));
	g_assert_cmpuint(((MsbBrokerStats *)g_ptr_array_index(second.answers, 0))->topics->len, ==,
	                 50001);
	g_ptr_array_unref(first.answers);
	g_ptr_array_unref(second.answers);
}

/* Run one fresh collection to its end and return it (a reference). */
static MsbBrokerStats *
collect(MsbStatsReader *reader)
{
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	MsbBrokerStats *stats;

	msb_stats_reader_request(reader, ready_cb, &a, destroyed_cb);
	while (a.answers->len < 1)
		g_main_context_iteration(NULL, TRUE);
	stats = msb_broker_stats_ref(g_ptr_array_index(a.answers, 0));
	g_ptr_array_unref(a.answers);
	return stats;
}

/* Pollers within a second of a collection get it, from the main loop, without another one. */
static void
test_reader_recent_shares(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	g_autoptr(MsbBrokerStats) first = NULL;

	make_topic(fx, "orders");
	first = collect(reader);
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 1);
	/* one after the other, each answered before the next is made */
	for (guint i = 0; i < 5; i++) {
		msb_stats_reader_request_recent(reader, ready_cb, &a, destroyed_cb);
		g_assert_cmpuint(a.answers->len, ==, i); /* never before the call returns */
		while (a.answers->len < i + 1)
			g_main_context_iteration(NULL, TRUE);
	}
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 1);
	for (guint i = 0; i < 5; i++)
		g_assert_true(g_ptr_array_index(a.answers, i) == first);
	g_assert_cmpuint(a.destroyed, ==, 5);
	/* a fresh request still gets a collection of its own */
	make_topic(fx, "payments");
	{
		g_autoptr(MsbBrokerStats) second = collect(reader);
		g_assert_true(second != first);
		g_assert_true(has_topic(second, "payments"));
	}
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 2);
	g_ptr_array_unref(a.answers);
}

/* After a noted write, a recent request no longer takes a collection that started before it. */
static void
test_reader_recent_after_write(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	g_autoptr(MsbBrokerStats) first = NULL;

	make_topic(fx, "orders");
	first = collect(reader);
	make_topic(fx, "payments");
	msb_stats_reader_note_write(reader);
	msb_stats_reader_request_recent(reader, ready_cb, &a, destroyed_cb);
	msb_stats_reader_request_recent(reader, ready_cb, &a, destroyed_cb);
	while (a.answers->len < 2)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 2);
	g_assert_false(has_topic(first, "payments"));
	g_assert_true(has_topic(g_ptr_array_index(a.answers, 0), "payments"));
	g_assert_true(g_ptr_array_index(a.answers, 0) == g_ptr_array_index(a.answers, 1));
	g_ptr_array_unref(a.answers);
}

/* A recent request made while a collection runs is answered by it, not by the next one; a write
 * noted while it runs sends later requests to the next one. */
static void
test_reader_recent_joins_running(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers first = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	Answers recent = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref),
	                  0};
	Answers late = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};

	for (guint i = 0; i < 50000; i++) {
		g_autofree gchar *name = g_strdup_printf("topic-%05u", i);
		make_topic(fx, name);
	}
	msb_stats_reader_request(reader, ready_cb, &first, destroyed_cb);
	g_main_context_iteration(NULL, TRUE); /* the first slice: the collection runs */
	g_assert_cmpuint(first.answers->len, ==, 0);
	msb_stats_reader_request_recent(reader, ready_cb, &recent, destroyed_cb);
	make_topic(fx, "aaa-new");
	msb_stats_reader_note_write(reader);
	msb_stats_reader_request_recent(reader, ready_cb, &late, destroyed_cb);
	while (late.answers->len < 1)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 2);
	g_assert_cmpuint(recent.answers->len, ==, 1);
	g_assert_true(g_ptr_array_index(recent.answers, 0) == g_ptr_array_index(first.answers, 0));
	g_assert_false(has_topic(g_ptr_array_index(recent.answers, 0), "aaa-new"));
	g_assert_true(has_topic(g_ptr_array_index(late.answers, 0), "aaa-new"));
	g_ptr_array_unref(first.answers);
	g_ptr_array_unref(recent.answers);
	g_ptr_array_unref(late.answers);
}

/* A collection older than MSB_STATS_READER_RECENT_US answers no recent request. */
static void
test_reader_recent_expires(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	g_autoptr(MsbBrokerStats) first = NULL;

	make_topic(fx, "orders");
	first = collect(reader);
	make_topic(fx, "payments");
	g_usleep(MSB_STATS_READER_RECENT_US + 50 * 1000);
	msb_stats_reader_request_recent(reader, ready_cb, &a, destroyed_cb);
	while (a.answers->len < 1)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 2);
	g_assert_true(has_topic(g_ptr_array_index(a.answers, 0), "payments"));
	g_ptr_array_unref(a.answers);
}

/*
 * A periodic reader (the live push) asks for a recent collection newer than the one it had: it
 * takes another reader's when there is one, and a new one when the newest is its own.
 */
static void
test_reader_newer(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	g_autoptr(MsbBrokerStats) first = NULL;
	g_autoptr(MsbBrokerStats) second = NULL;
	MsbStatsReaderCosts costs;

	make_topic(fx, "orders");
	first = collect(reader);
	/* the newest is the caller's own: a new collection, which sees what changed since */
	make_topic(fx, "payments");
	msb_stats_reader_request_newer(reader, first, ready_cb, &a, destroyed_cb);
	while (a.answers->len < 1)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 2);
	second = msb_broker_stats_ref(g_ptr_array_index(a.answers, 0));
	g_assert_true(second != first);
	g_assert_true(has_topic(second, "payments"));
	/* a poller's recent request shares it, and so does a periodic reader that had the first */
	msb_stats_reader_request_recent(reader, ready_cb, &a, destroyed_cb);
	msb_stats_reader_request_newer(reader, first, ready_cb, &a, destroyed_cb);
	msb_stats_reader_request_newer(reader, NULL, ready_cb, &a, destroyed_cb);
	while (a.answers->len < 4)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(msb_stats_reader_get_collections(reader), ==, 2);
	for (guint i = 1; i < 4; i++)
		g_assert_true(g_ptr_array_index(a.answers, i) == second);
	g_assert_cmpuint(a.destroyed, ==, 4);
	/* what they cost the main loop: at least a slice each */
	msb_stats_reader_get_costs(reader, &costs);
	g_assert_cmpuint(costs.collections, ==, 2);
	g_assert_cmpuint(msb_histogram_count(&costs.slices), >=, 2);
	g_assert_cmpint(costs.slice_max_us, >=, 0);
	g_assert_cmpuint(costs.slices.sum_us, >=, (guint64)costs.slice_max_us);
	g_ptr_array_unref(a.answers);
}

/* Client I/O stands for itself: a source at its priority that is always ready. */
static gboolean
busy_cb(gpointer user_data)
{
	guint *runs = user_data;

	(*runs)++;
	return G_SOURCE_CONTINUE;
}

/*
 * Slices run below client I/O: while I/O is ready, it goes first, so a message never waits
 * behind a slice; yet a loop that is never idle does not starve the readers. Before, slices ran
 * at the same priority as the I/O, one in turn with each round of it.
 */
static void
test_reader_below_io(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	guint runs = 0;
	guint busy_id;

	make_topic(fx, "orders");
	busy_id = g_idle_add_full(G_PRIORITY_DEFAULT, busy_cb, &runs, NULL);
	msb_stats_reader_request(reader, ready_cb, &a, destroyed_cb);
	while (a.answers->len < 1)
		g_main_context_iteration(NULL, TRUE);
	g_test_message("the busy source ran %u times before the answer", runs);
	/* at the same priority the two alternate: one or two rounds of I/O */
	g_assert_cmpuint(runs, >=, 10);
	g_assert_true(has_topic(g_ptr_array_index(a.answers, 0), "orders"));
	g_source_remove(busy_id);
	/* with the loop idle, a request is answered in the first iterations */
	runs = 0;
	make_topic(fx, "payments");
	msb_stats_reader_request(reader, ready_cb, &a, destroyed_cb);
	for (guint i = 0; i < 3 && a.answers->len < 2; i++)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(a.answers->len, ==, 2);
	g_assert_true(has_topic(g_ptr_array_index(a.answers, 1), "payments"));
	g_ptr_array_unref(a.answers);
}

static gboolean
flush_cb(gpointer user_data)
{
	gboolean *ran = user_data;

	*ran = TRUE;
	return G_SOURCE_REMOVE;
}

/*
 * The flush of clients' output (an idle at G_PRIORITY_HIGH_IDLE, msb-server.c) runs between the
 * slices of a collection, not after it: a reply or delivery made during a collection is written
 * at once. Before, slices ran at the priority of socket I/O, above the flush, so everything
 * written during a collection waited for its end.
 */
static void
test_reader_below_flush(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsReader) reader = msb_stats_reader_new(fx->broker);
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};
	gboolean ran = FALSE;

	for (guint i = 0; i < 5000; i++) {
		g_autofree gchar *name = g_strdup_printf("topic-%05u", i);
		make_topic(fx, name);
	}
	msb_stats_reader_request(reader, ready_cb, &a, destroyed_cb);
	g_main_context_iteration(NULL, TRUE); /* the first slice: the collection runs */
	g_assert_cmpuint(a.answers->len, ==, 0);
	g_idle_add_full(G_PRIORITY_HIGH_IDLE, flush_cb, &ran, NULL);
	while (!ran)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(a.answers->len, ==, 0);
	while (a.answers->len < 1)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(has_topic(g_ptr_array_index(a.answers, 0), "topic-04999"));
	g_ptr_array_unref(a.answers);
}

/* Requests still waiting when the reader goes are dropped, not answered. */
static void
test_reader_free(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	MsbStatsReader *reader = msb_stats_reader_new(fx->broker);
	Answers a = {g_ptr_array_new_with_free_func((GDestroyNotify)msb_broker_stats_unref), 0};

	make_topic(fx, "orders");
	msb_stats_reader_request(reader, ready_cb, &a, destroyed_cb);
	msb_stats_reader_free(reader);
	g_assert_cmpuint(a.destroyed, ==, 1);
	g_assert_false(g_main_context_iteration(NULL, FALSE));
	g_assert_cmpuint(a.answers->len, ==, 0);
	g_ptr_array_unref(a.answers);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/stats-reader/shares", test_reader_shares);
	g_test_add_func("/stats-reader/fresh", test_reader_fresh);
	g_test_add_func("/stats-reader/free", test_reader_free);
	g_test_add_func("/stats-reader/recent-shares", test_reader_recent_shares);
	g_test_add_func("/stats-reader/recent-after-write", test_reader_recent_after_write);
	g_test_add_func("/stats-reader/recent-joins-running", test_reader_recent_joins_running);
	g_test_add_func("/stats-reader/recent-expires", test_reader_recent_expires);
	g_test_add_func("/stats-reader/newer", test_reader_newer);
	g_test_add_func("/stats-reader/below-io", test_reader_below_io);
	g_test_add_func("/stats-reader/below-flush", test_reader_below_flush);

	return g_test_run();
}
