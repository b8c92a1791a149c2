/*
 * Delete-on-disconnect queue GC against the real broker (QueueGcTimeout 1 s). Queues of every
 * kind get a backlog while nobody is subscribed; after the timeout the auto-delete ones (types 1,
 * 3, a value above 3, and a permanent queue re-subscribed as type 1) are gone, so subscribing
 * again makes a new empty queue that gets only what is published afterwards, while the permanent
 * ones (type 0, and a type-1 queue re-subscribed as type 0) and an auto-delete queue that kept a
 * subscriber still deliver their backlog.
 *
 * The GC itself has no protocol-visible event, so the test waits (with a deadline) for the
 * broker's log line "queue TOPIC/QUEUE deleted" rather than sleeping for a fixed time; what it
 * asserts is the protocol-visible effect.
 */
#include "itest.h"

#define GC_SETTINGS "QueueGcTimeout: 1s\n"

typedef struct {
	const gchar *name;
	guint8 first_type;  /* the first subscriber's type */
	gint second_type;   /* a second subscription's type (a type change), or -1 */
	gboolean collected; /* expected to be removed */
} QueueCase;

static const QueueCase cases[] = {
        {"perm", 0, -1, FALSE},
        {"auto", 1, -1, TRUE},
        {"perm-single", 2, -1, FALSE},
        {"auto-single", 3, -1, TRUE},
        {"type-9", 9, -1, TRUE},
        /* the last subscriber's type wins */
        {"became-perm", 1, 0, FALSE},
        {"became-auto", 0, 1, TRUE},
};

static void
gstring_free(gpointer s)
{
	g_string_free(s, TRUE);
}

static void
test_queue_gc(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = NULL;
	g_autoptr(ItestRaw) keeper = NULL;
	g_autoptr(ItestRaw) first = NULL;
	g_autoptr(ItestRaw) second = NULL;
	g_autoptr(ItestRaw) again = NULL;
	const gchar *backlog[] = {"old-0", "old-1", "old-2"};
	const gchar *marker[] = {"new"};
	guint n_collected = 0;

	pub = itest_raw_connect(b);
	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "gc-topic");
	itest_raw_sync(pub);

	/* an auto-delete queue that keeps its subscriber all along */
	keeper = itest_raw_connect(b);
	itest_raw_greet(keeper, "keeper", 3, 1);
	itest_raw_subscribe(keeper, "gc-topic", "kept", 1);
	itest_raw_sync(keeper);

	first = itest_raw_connect(b);
	second = itest_raw_connect(b);
	itest_raw_greet(first, "first", 3, 1);
	itest_raw_greet(second, "second", 3, 1);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		itest_raw_subscribe(first, "gc-topic", cases[i].name, cases[i].first_type);
		itest_raw_sync(first);
		if (cases[i].second_type >= 0) {
			itest_raw_subscribe(second, "gc-topic", cases[i].name,
			                    (guint8)cases[i].second_type);
			itest_raw_sync(second);
		}
		if (cases[i].collected)
			n_collected++;
	}
	g_clear_pointer(&first, itest_raw_free);
	g_clear_pointer(&second, itest_raw_free);

	/* the backlog lands in every queue, subscribed or not (if a closed connection had not been
	 * processed yet, its batch returns to the queue when it is) */
	itest_raw_publish(pub, "gc-topic", 1, backlog, 3, FALSE);
	itest_raw_expect_publish_response(pub, 1);
	{
		g_autoptr(ItestPacket) p = itest_raw_expect(keeper, MSB_PACKET_NEW_MESSAGES);
		g_assert_cmpuint(p->messages->len, ==, 3);
		itest_raw_confirm(keeper, TRUE, "gc-topic", "kept", p->confirmation_id);
	}

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *line =
		        g_strdup_printf("queue gc-topic/%s deleted", cases[i].name);
		if (cases[i].collected)
			itest_broker_wait_log(b, line, 1, ITEST_TIMEOUT_MS);
	}
	/* and only those */
	g_assert_cmpuint(itest_broker_log_count(b, " deleted: no subscriber"), ==, n_collected);

	again = itest_raw_connect(b);
	itest_raw_greet(again, "again", 3, 1);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		itest_raw_subscribe(again, "gc-topic", cases[i].name, cases[i].first_type);
	itest_raw_barrier(again);
	itest_raw_publish(pub, "gc-topic", 2, marker, 1, FALSE);
	itest_raw_expect_publish_response(pub, 2);

	/* per queue the backlog and the marker, or only the marker (the backlog comes on
	 * Subscribe, the marker in a batch of its own or with it) */
	{
		g_autoptr(GHashTable) got =
		        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, gstring_free);
		guint expected = 0;
		guint received = 0;

		for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
			g_hash_table_insert(got, g_strdup(cases[i].name), g_string_new(NULL));
			expected += cases[i].collected ? 1 : 4;
		}
		while (received < expected) {
			g_autoptr(ItestPacket) p = itest_raw_expect(again, MSB_PACKET_NEW_MESSAGES);
			GString *ids = g_hash_table_lookup(got, p->queue);

			g_assert_nonnull(ids);
			for (guint i = 0; i < p->messages->len; i++, received++)
				g_string_append_printf(ids, "%" G_GINT64_FORMAT " ",
				                       itest_packet_message(p, i)->id);
			itest_raw_confirm(again, TRUE, "gc-topic", p->queue, p->confirmation_id);
		}
		for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
			GString *ids = g_hash_table_lookup(got, cases[i].name);
			g_test_message("queue %s got ids %s", cases[i].name, ids->str);
			g_assert_cmpstr(ids->str, ==, cases[i].collected ? "3 " : "0 1 2 3 ");
		}
	}
	itest_raw_assert_quiet(again);
	{
		g_autoptr(ItestPacket) p = itest_raw_expect(keeper, MSB_PACKET_NEW_MESSAGES);
		g_assert_cmpuint(p->messages->len, ==, 1);
		g_assert_cmpint(itest_packet_message(p, 0)->id, ==, 3);
	}
}

static void
gc_fixture_setup(ItestFixture *f, gconstpointer data)
{
	f->broker = itest_broker_new(GC_SETTINGS);
	f->broker->capture_log = TRUE;
	itest_broker_start(f->broker, 0);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	g_test_add("/queues/gc", ItestFixture, NULL, gc_fixture_setup, test_queue_gc,
	           itest_fixture_teardown);
	return g_test_run();
}
