/*
 * A persisted topic larger than what the broker keeps in memory: 20,000 messages published to a
 * permanent queue nobody reads are saved, then dropped from memory (topic_messages_amount and
 * /api/status pages far below 20,000); a subscriber then consumes the queue through page loads
 * from the persistence service (msb_persistence_loads_total > 0): every id exactly once, in
 * order, with its content, and nothing after the last.
 */
#include "dtest.h"

#define TOPIC    "bulk"
#define QUEUE    "q"
#define N        20000
#define PER_PUB  500
#define SIZE     64
#define IN_CACHE "topic_messages_amount{namespace=\"default\",topic=\"" TOPIC "\"}"

/* Messages the broker holds in memory for TOPIC, summed over /api/status pages. */
static gint64
status_amount(ItestBroker *b)
{
	g_autoptr(JsonNode) root = itest_broker_get_json(b, "/api/status?fresh=true");
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(root), "topics"), "items");
	gint64 amount = -1;

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *t = json_array_get_object_element(items, i);
		JsonArray *pages;

		if (g_strcmp0(json_object_get_string_member(t, "id"), TOPIC) != 0)
			continue;
		amount = 0;
		pages = json_object_get_array_member(t, "pages");
		for (guint p = 0; p < json_array_get_length(pages); p++)
			amount += json_object_get_int_member(
			        json_array_get_object_element(pages, p), "amount");
	}
	g_assert_cmpint(amount, >=, 0);
	return amount;
}

static void
test_larger_than_memory(void)
{
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(DtestReceived) got = dtest_received_new();
	ItestRaw *pub;
	ItestRaw *sub;
	gdouble loads_before;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, NULL);
	itest_broker_start(b, 0);
	pub = dtest_connect(b, "pub");
	itest_raw_create_topic(pub, TOPIC);
	sub = dtest_connect(b, "sub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	itest_raw_sync(sub);
	/* the queue stays (permanent) and wants everything; nobody reads it for now */
	itest_raw_free(sub);

	for (guint i = 0; i < N / PER_PUB; i++)
		dtest_publish(pub, TOPIC, i + 1, "m", i * PER_PUB, PER_PUB, SIZE, FALSE);
	for (guint i = 0; i < N / PER_PUB; i++)
		itest_raw_expect_publish_response(pub, i + 1);
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_pending_messages") == 0);
	g_assert_cmpint(dtest_service_max_id(ps, TOPIC), ==, N - 1);
	/* saved, so dropped: what no queue reads next goes (the sub-pages the queue starts at,
	 * their read-ahead and the one being written stay) */
	ITEST_WAIT_FOR(dtest_metric(b, IN_CACHE) <= N / 4);
	g_test_message("in memory after the saves: %.0f messages (%" G_GINT64_FORMAT
	               " by /api/status)",
	               dtest_metric(b, IN_CACHE), status_amount(b));
	g_assert_cmpint(status_amount(b), <=, N / 4);
	loads_before = dtest_metric(b, "msb_persistence_loads_total");

	sub = dtest_connect(b, "sub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	while (got->ids->len < N)
		dtest_receive(sub, got, TRUE, TOPIC, QUEUE);
	g_assert_cmpuint(got->ids->len, ==, N);
	for (guint i = 0; i < N; i++) {
		g_autoptr(GBytes) want = dtest_content("m", i, SIZE);

		if (g_array_index(got->ids, gint64, i) != i)
			g_error("message %u has id %" G_GINT64_FORMAT, i,
			        g_array_index(got->ids, gint64, i));
		g_assert_true(g_bytes_equal(g_ptr_array_index(got->content, i), want));
	}
	itest_raw_assert_quiet(sub);
	g_test_message("sub-pages loaded: %.0f", dtest_metric(b, "msb_persistence_loads_total"));
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_loads_total"), >, loads_before);
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_load_failures_total"), ==, 0);

	itest_raw_free(sub);
	itest_raw_free(pub);
	itest_broker_free(b);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	g_test_add_func("/persistence-paging/larger-than-memory", test_larger_than_memory);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
