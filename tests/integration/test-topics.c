/*
 * Topics against the real broker: per-topic message ids that start at 0 and are consecutive
 * across publishes (and within one Publish), the topic name rules applied by
 * CreateTopicIfNotExists and by auto-creation, CreateTopicIfNotExists being idempotent, and the
 * AutoCreateTopicOnPublish / AutoCreateTopicOnSubscribe settings, each on its own.
 */
#include "itest.h"

#define AUTO_PUBLISH   "AutoCreateTopicOnPublish: true\n"
#define AUTO_SUBSCRIBE "AutoCreateTopicOnSubscribe: true\n"

/* Take batches until @n messages of @topic arrived on @r, confirming each; returns their ids. */
static GArray *
collect_ids(ItestRaw *r, const gchar *topic, guint n)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));

	while (ids->len < n) {
		g_autoptr(ItestPacket) p = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);
		g_assert_cmpstr(p->topic, ==, topic);
		for (guint i = 0; i < p->messages->len; i++)
			g_array_append_val(ids, itest_packet_message(p, i)->id);
		itest_raw_confirm(r, TRUE, p->topic, p->queue, p->confirmation_id);
	}
	g_assert_cmpuint(ids->len, ==, n);
	return ids;
}

static void
test_ids_per_topic(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) sub_a = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) sub_b = itest_raw_connect(f->broker);
	g_autoptr(GArray) ids_a = NULL;
	g_autoptr(GArray) ids_b = NULL;
	const gchar *one[] = {"1"};
	const gchar *three[] = {"1", "2", "3"};

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_greet(sub_a, "sub-a", 3, 1);
	itest_raw_greet(sub_b, "sub-b", 3, 1);
	itest_raw_create_topic(pub, "topic-a");
	itest_raw_create_topic(pub, "topic-b");
	itest_raw_sync(pub);
	itest_raw_subscribe(sub_a, "topic-a", "q", 0);
	itest_raw_subscribe(sub_b, "topic-b", "q", 0);
	itest_raw_sync(sub_a);
	itest_raw_sync(sub_b);

	/* interleaved publishes: each topic counts on its own, from 0 */
	itest_raw_publish(pub, "topic-a", 1, three, 3, FALSE);
	itest_raw_publish(pub, "topic-b", 2, one, 1, FALSE);
	itest_raw_publish(pub, "topic-a", 3, one, 1, FALSE);
	itest_raw_publish(pub, "topic-b", 4, three, 3, FALSE);
	/* an empty Publish succeeds and takes no id */
	itest_raw_publish(pub, "topic-a", 5, NULL, 0, FALSE);
	itest_raw_publish(pub, "topic-a", 6, three, 2, FALSE);
	for (gint64 rid = 1; rid <= 6; rid++)
		itest_raw_expect_publish_response(pub, rid);

	ids_a = collect_ids(sub_a, "topic-a", 6);
	ids_b = collect_ids(sub_b, "topic-b", 4);
	for (guint i = 0; i < ids_a->len; i++)
		g_assert_cmpint(g_array_index(ids_a, gint64, i), ==, i);
	for (guint i = 0; i < ids_b->len; i++)
		g_assert_cmpint(g_array_index(ids_b, gint64, i), ==, i);
	itest_raw_sync(sub_a);
	itest_raw_sync(sub_b);
}

static void
test_name_rules(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autofree gchar *name63 = g_strnfill(63, 'a');
	g_autofree gchar *name64 = g_strnfill(64, 'a');
	const gchar *valid[] = {"abc", "a-b-c", "0rders9", "topics1", "my-topic-2", name63};
	const gchar *invalid[] = {"ab",     name64, "Orders", "-abc", "abc-", "a--b",
	                          "topics", "a_b",  "a b",    "abc.", "",     "zürich"};

	itest_raw_greet(r, "creator", 3, 1);
	for (guint i = 0; i < G_N_ELEMENTS(invalid); i++) {
		g_autofree gchar *text = NULL;
		g_autofree gchar *prefix = g_strdup_printf("CreateTopic %s failed", invalid[i]);
		g_autofree gchar *not_found = NULL;
		g_autofree gchar *expect = NULL;
		const gchar *contents[] = {"x"};

		itest_raw_create_topic(r, invalid[i]);
		text = itest_raw_expect_reject(r);
		g_assert_true(g_str_has_prefix(text, prefix));
		/* not created */
		itest_raw_publish(r, invalid[i], i, contents, 1, FALSE);
		not_found = itest_raw_expect_reject(r);
		expect = g_strdup_printf("TopicNotFound { topic_id: \"%s\" }", invalid[i]);
		g_assert_cmpstr(not_found, ==, expect);
		itest_raw_sync(r);
	}
	for (guint i = 0; i < G_N_ELEMENTS(valid); i++) {
		const gchar *contents[] = {"x"};

		itest_raw_create_topic(r, valid[i]);
		itest_raw_assert_quiet(r);
		itest_raw_publish(r, valid[i], 100 + i, contents, 1, FALSE);
		itest_raw_expect_publish_response(r, 100 + i);
	}
	/* lookup is exact: "ABC" is not "abc" */
	{
		g_autofree gchar *text = NULL;
		const gchar *contents[] = {"x"};
		itest_raw_publish(r, "ABC", 200, contents, 1, FALSE);
		text = itest_raw_expect_reject(r);
		g_assert_cmpstr(text, ==, "TopicNotFound { topic_id: \"ABC\" }");
	}
}

static void
test_create_idempotent(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autoptr(GArray) ids = NULL;
	const gchar *two[] = {"1", "2"};

	itest_raw_greet(r, "creator", 3, 1);
	itest_raw_create_topic(r, "orders");
	itest_raw_subscribe(r, "orders", "q", 0);
	itest_raw_publish(r, "orders", 1, two, 2, FALSE);
	itest_raw_expect_publish_response(r, 1);
	ids = collect_ids(r, "orders", 2);
	g_array_unref(ids);

	/* creating it again changes nothing: the id counter and the queue stay */
	itest_raw_create_topic(r, "orders");
	itest_raw_sync(r);
	itest_raw_publish(r, "orders", 2, two, 1, FALSE);
	itest_raw_expect_publish_response(r, 2);
	ids = collect_ids(r, "orders", 1);
	g_assert_cmpint(g_array_index(ids, gint64, 0), ==, 2);
}

static void
test_auto_create_on_publish(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autofree gchar *bad = NULL;
	g_autofree gchar *sub_missing = NULL;
	g_autoptr(GArray) ids = NULL;
	const gchar *contents[] = {"x"};

	itest_raw_greet(r, "publisher", 3, 1);
	/* the first publish creates the topic, and is itself stored (id 0) */
	itest_raw_publish(r, "fresh-topic", 1, contents, 1, FALSE);
	itest_raw_expect_publish_response(r, 1);
	itest_raw_subscribe(r, "fresh-topic", "q", 0);
	itest_raw_assert_quiet(r);
	itest_raw_publish(r, "fresh-topic", 2, contents, 1, FALSE);
	itest_raw_expect_publish_response(r, 2);
	ids = collect_ids(r, "fresh-topic", 1);
	g_assert_cmpint(g_array_index(ids, gint64, 0), ==, 1);

	/* names are still validated */
	itest_raw_publish(r, "Bad_Name", 3, contents, 1, FALSE);
	bad = itest_raw_expect_reject(r);
	g_assert_true(g_str_has_prefix(bad, "TopicOrQueueValidationError("));
	/* and subscribing does not create topics with only the publish setting on */
	itest_raw_subscribe(r, "other-topic", "q", 0);
	sub_missing = itest_raw_expect_reject(r);
	g_assert_cmpstr(
	        sub_missing, ==,
	        "Subscribe to other-topic/q failed: TopicNotFound { topic_id: \"other-topic\" }");
	itest_raw_sync(r);
}

static void
test_auto_create_on_subscribe(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autofree gchar *bad = NULL;
	g_autofree gchar *pub_missing = NULL;
	g_autoptr(GArray) ids = NULL;
	const gchar *contents[] = {"x"};

	itest_raw_greet(r, "subscriber", 3, 1);
	itest_raw_subscribe(r, "sub-topic", "q", 0);
	itest_raw_assert_quiet(r);
	/* the topic exists now: publishing to it works and reaches the queue */
	itest_raw_publish(r, "sub-topic", 1, contents, 1, FALSE);
	itest_raw_expect_publish_response(r, 1);
	ids = collect_ids(r, "sub-topic", 1);
	g_assert_cmpint(g_array_index(ids, gint64, 0), ==, 0);

	itest_raw_subscribe(r, "Bad_Name", "q", 0);
	bad = itest_raw_expect_reject(r);
	g_assert_true(g_str_has_prefix(
	        bad, "Subscribe to Bad_Name/q failed: TopicOrQueueValidationError("));
	/* publishing does not create topics with only the subscribe setting on */
	itest_raw_publish(r, "other-topic", 2, contents, 1, FALSE);
	pub_missing = itest_raw_expect_reject(r);
	g_assert_cmpstr(pub_missing, ==, "TopicNotFound { topic_id: \"other-topic\" }");
	itest_raw_sync(r);
}

static void
test_no_auto_create(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autofree gchar *pub_missing = NULL;
	g_autofree gchar *sub_missing = NULL;
	const gchar *contents[] = {"x"};

	/* the defaults: neither publishing nor subscribing creates a topic */
	itest_raw_greet(r, "client", 3, 1);
	itest_raw_publish(r, "some-topic", 1, contents, 1, FALSE);
	pub_missing = itest_raw_expect_reject(r);
	g_assert_cmpstr(pub_missing, ==, "TopicNotFound { topic_id: \"some-topic\" }");
	itest_raw_subscribe(r, "some-topic", "q", 0);
	sub_missing = itest_raw_expect_reject(r);
	g_assert_true(
	        g_str_has_prefix(sub_missing, "Subscribe to some-topic/q failed: TopicNotFound"));
	g_clear_pointer(&pub_missing, g_free);
	itest_raw_publish(r, "some-topic", 2, contents, 1, FALSE);
	pub_missing = itest_raw_expect_reject(r);
	g_assert_cmpstr(pub_missing, ==, "TopicNotFound { topic_id: \"some-topic\" }");
	itest_raw_sync(r);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/topics/ids-per-topic", NULL, test_ids_per_topic);
	ITEST_ADD("/topics/name-rules", NULL, test_name_rules);
	ITEST_ADD("/topics/create-idempotent", NULL, test_create_idempotent);
	ITEST_ADD("/topics/no-auto-create", NULL, test_no_auto_create);
	ITEST_ADD("/topics/auto-create-on-publish", AUTO_PUBLISH, test_auto_create_on_publish);
	ITEST_ADD("/topics/auto-create-on-subscribe", AUTO_SUBSCRIBE,
	          test_auto_create_on_subscribe);
	return g_test_run();
}
