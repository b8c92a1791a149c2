/*
 * MsbBroker driven directly, with no sockets: every packet is encoded with the wire codec,
 * decoded the way the connection adapter does and handed to msb_broker_handle_packet(), then
 * msb_broker_run_deliveries() runs; what the broker wrote into each session's output buffer is
 * decoded client-side (with the P and V7 the client negotiated) and checked. Fake monotonic and
 * wall clocks make the delivery timeout and the queue GC testable without sleeping. The harness
 * is shared with test-broker-persist (broker-fixture.c).
 *
 * Covered (node.md §2–§3, protocol.md §5–§8, README "Protocol decisions"): message ids and
 * PublishResponse, missing topics and auto-creation, topic name rules, queue history and fan-out,
 * one batch per subscriber, MaxDeliverySize batching, competing consumers, the four
 * confirmations and attempt numbers, redelivery on disconnect and eviction, queue types and
 * queue GC, dead subscribers, Subscribe errors, packets before Greeting, protocol versions,
 * namespaces, the per-version NewMessages layout, zero-length messages, slow consumers,
 * shutdown and memory GC.
 */
#include <string.h>

#include "broker-fixture.h"
#include "msb-broker-private.h"
#include "msb-session.h"
#include "msb-test-log.h"

/* ---- publishing ---- */

static void
test_publish_ids(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	const gchar *three[] = {"a", "b", "c", NULL};
	const gchar *two[] = {"d", "e", NULL};
	MsbTopic *orders = make_topic(fx, "orders");
	MsbTopic *other = make_topic(fx, "other");
	g_autoptr(RxPacket) b1 = NULL;
	g_autoptr(RxPacket) b2 = NULL;
	g_autoptr(RxPacket) b3 = NULL;

	g_assert_cmpint(orders->next_id, ==, 0);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(sub, "other", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_none(sub);

	expect_response(pub, c_publish(pub, "orders", three));
	b1 = expect_batch(sub, "orders", "q");
	assert_ids(b1, "0-2");
	assert_content(rx_msg(b1, 0), "a");
	assert_content(rx_msg(b1, 2), "c");
	/* the second publish waits for the confirmation, then continues the numbering */
	expect_response(pub, c_publish(pub, "orders", two));
	expect_none(sub);
	c_ok(sub, b1);
	b2 = expect_batch(sub, "orders", "q");
	assert_ids(b2, "3-4");
	assert_content(rx_msg(b2, 0), "d");
	g_assert_cmpint(orders->next_id, ==, 5);

	/* an empty publish succeeds and takes no id */
	expect_response(pub, c_publish(pub, "orders", NULL));
	g_assert_cmpint(orders->next_id, ==, 5);

	/* the counter is per topic */
	expect_response(pub, c_publish1(pub, "other", "x"));
	b3 = expect_batch(sub, "other", "q");
	assert_ids(b3, "0");
	g_assert_cmpint(other->next_id, ==, 1);
	g_assert_cmpint(orders->next_id, ==, 5);
	g_assert_cmpuint(pub->session->publishes, ==, 4);
}

static void
test_publish_response_echo(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	const gint64 ids[] = {1, 0, 42, -5, G_MAXINT64, G_MININT64, 7};
	const guint8 *contents[] = {(const guint8 *)"x"};
	const gsize lens[] = {1};

	make_topic(fx, "orders");
	/* responses come back one per publish, in order, with the request id as sent */
	for (guint i = 0; i < G_N_ELEMENTS(ids); i++)
		c_publish_raw(pub, "orders", ids[i], 1, NULL, contents, lens);
	{
		g_autoptr(GPtrArray) list = c_read(pub);
		g_assert_cmpuint(list->len, ==, G_N_ELEMENTS(ids));
		for (guint i = 0; i < list->len; i++) {
			RxPacket *pkt = g_ptr_array_index(list, i);
			g_assert_cmpint(pkt->id, ==, MSB_PACKET_PUBLISH_RESPONSE);
			g_assert_cmpuint(pkt->size, ==, 9);
			g_assert_cmpint(pkt->request_id, ==, ids[i]);
		}
	}
}

static void
test_publish_missing_topic(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);

	c_publish1(pub, "orders", "x");
	expect_reject_exact(pub, "TopicNotFound { topic_id: \"orders\" }");
	g_assert_null(msb_broker_find_topic(fx->broker, "orders"));
	g_assert_cmpuint(pub->session->publishes, ==, 0);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);

	/* the connection is kept and works */
	c_ping(pub);
	expect_pong(pub);
	c_create_topic(pub, "orders");
	expect_none(pub);
	expect_response(pub, c_publish1(pub, "orders", "x"));
}

static void
test_topic_auto_create_publish(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	Client *c;
	MsbTopic *topic;

	config.auto_create_topic_on_publish = TRUE;
	fx = fixture_new_with(&config);
	c = client_new(fx, 3, 0);

	expect_response(c, c_publish1(c, "new-topic", "x"));
	topic = msb_broker_find_topic(fx->broker, "new-topic");
	g_assert_nonnull(topic);
	g_assert_cmpint(topic->next_id, ==, 1);
	/* the topic the first publish created is the one that got the message */
	g_assert_cmpuint(topic->messages_published, ==, 1);

	/* auto-creation validates the name */
	c_publish1(c, "Bad", "x");
	expect_reject(c, "TopicOrQueueValidationError");
	g_assert_null(msb_broker_find_topic(fx->broker, "Bad"));

	/* publish auto-creation does not extend to Subscribe */
	c_subscribe(c, "another", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_reject(c, "Subscribe");
	g_assert_null(msb_broker_find_topic(fx->broker, "another"));
}

static void
test_topic_auto_create_subscribe(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	Client *c;

	config.auto_create_topic_on_subscribe = TRUE;
	fx = fixture_new_with(&config);
	c = client_new(fx, 3, 0);

	c_subscribe(c, "fresh", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_none(c);
	g_assert_nonnull(msb_broker_find_topic(fx->broker, "fresh"));
	g_assert_nonnull(find_queue(fx, "fresh", "q"));

	c_subscribe(c, "bad--name", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_reject(c, "Subscribe");
	g_assert_null(msb_broker_find_topic(fx->broker, "bad--name"));

	/* subscribe auto-creation does not extend to Publish */
	c_publish1(c, "nope", "x");
	expect_reject_exact(c, "TopicNotFound { topic_id: \"nope\" }");

	c_publish1(c, "fresh", "x");
	{
		g_autoptr(GPtrArray) list = c_read(c);
		g_assert_cmpuint(list->len, ==, 2);
	}
}

static void
test_topic_name_rules(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c = client_new(fx, 3, 0);
	g_autofree gchar *len63 = g_strnfill(63, 'a');
	g_autofree gchar *len64 = g_strnfill(64, 'a');
	struct {
		const gchar *name;
		gboolean valid;
	} cases[] = {
	        {"abc", TRUE},
	        {"ab", FALSE},
	        {"a", FALSE},
	        {len63, TRUE},
	        {len64, FALSE},
	        {"a-b", TRUE},
	        {"a-b-c-1-2", TRUE},
	        {"123", TRUE},
	        {"-ab", FALSE},
	        {"ab-", FALSE},
	        {"a--b", FALSE},
	        {"ab---c", FALSE},
	        {"topics", FALSE},
	        {"topicsx", TRUE},
	        {"my-topics", TRUE},
	        {"Abc", FALSE},
	        {"abC", FALSE},
	        {"a_b", FALSE},
	        {"a.b", FALSE},
	        {"a b", FALSE},
	        {"a/b", FALSE},
	        {"\xc3\xa4"
	         "bc",
	         FALSE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const gchar *name = cases[i].name;
		g_autoptr(GError) error = NULL;
		gboolean ok = msb_topic_name_validate(name, strlen(name), &error);

		g_test_message("topic name '%s'", name);
		g_assert_cmpint(ok, ==, cases[i].valid);
		if (ok) {
			g_assert_no_error(error);
		} else {
			g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME);
		}

		c_create_topic(c, name);
		if (cases[i].valid) {
			expect_none(c);
			g_assert_nonnull(msb_broker_find_topic(fx->broker, name));
			/* idempotent */
			c_create_topic(c, name);
			expect_none(c);
		} else {
			expect_reject(c, "CreateTopic");
			g_assert_null(msb_broker_find_topic(fx->broker, name));
		}
	}
	/* the length is what counts, not a NUL */
	g_assert_false(msb_topic_name_validate("abcdef", 2, NULL));
	g_assert_true(msb_topic_name_validate("abc-", 3, NULL));
}

/* ---- queues and fan-out ---- */

static void
test_queue_no_history(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *three[] = {"a", "b", "c", NULL};
	g_autoptr(RxPacket) b = NULL;

	make_topic(fx, "orders");
	expect_response(pub, c_publish(pub, "orders", three));
	c_subscribe(sub, "orders", "late", MSB_QUEUE_TYPE_PERMANENT);
	expect_none(sub);
	g_assert_cmpint(msb_queue_min_needed_id(find_queue(fx, "orders", "late")), ==, G_MAXINT64);

	expect_response(pub, c_publish1(pub, "orders", "d"));
	b = expect_batch(sub, "orders", "late");
	assert_ids(b, "3");
	assert_content(rx_msg(b, 0), "d");
}

static void
test_queue_fan_out(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *s1 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 2, 1);
	const gchar *two[] = {"x", "y", NULL};
	g_autoptr(RxPacket) a = NULL;
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) c = NULL;

	make_topic(fx, "orders");
	c_subscribe(s1, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(s1, "orders", "audit", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	c_subscribe(s2, "orders", "shipping", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish(pub, "orders", two));

	{
		g_autoptr(GPtrArray) list = c_read(s1);
		g_assert_cmpuint(list->len, ==, 2);
		a = g_ptr_array_steal_index(list, 0);
		b = g_ptr_array_steal_index(list, 0);
	}
	/* one batch per queue, each with every message */
	g_assert_cmpstr(a->queue, !=, b->queue);
	g_assert_true(g_strcmp0(a->queue, "billing") == 0 || g_strcmp0(a->queue, "audit") == 0);
	g_assert_true(g_strcmp0(b->queue, "billing") == 0 || g_strcmp0(b->queue, "audit") == 0);
	assert_ids(a, "0-1");
	assert_ids(b, "0-1");
	g_assert_cmpint(a->confirmation_id, !=, b->confirmation_id);
	c = expect_batch(s2, "orders", "shipping");
	assert_ids(c, "0-1");
	assert_content(rx_msg(c, 1), "y");
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 3);
}

/* ---- delivery ---- */

static void
test_delivery_one_batch_in_flight(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(RxPacket) b1 = NULL;
	g_autoptr(RxPacket) b2 = NULL;
	MsbQueue *queue;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish1(pub, "orders", "first"));
	b1 = expect_batch(sub, "orders", "q");
	assert_ids(b1, "0");
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 1);

	expect_response(pub, c_publish1(pub, "orders", "second"));
	expect_response(pub, c_publish1(pub, "orders", "third"));
	expect_none(sub);
	queue = find_queue(fx, "orders", "q");
	g_assert_cmpint(msb_id_set_count(&queue->waiting), ==, 2);
	g_assert_cmpint(msb_queue_in_flight_count(queue), ==, 1);

	c_ok(sub, b1);
	b2 = expect_batch(sub, "orders", "q");
	assert_ids(b2, "1-2");
	assert_content(rx_msg(b2, 0), "second");
	assert_content(rx_msg(b2, 1), "third");
	g_assert_cmpint(b2->confirmation_id, ==, b1->confirmation_id);
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 1);
	c_ok(sub, b2);
	expect_none(sub);
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 0);
}

static void
test_delivery_ascending(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *s1 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 3, 0);
	const gchar *three[] = {"1", "2", "3", NULL};
	const gchar *two[] = {"4", "5", NULL};
	g_autoptr(RxPacket) a = NULL;
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) a2 = NULL;
	g_autoptr(RxPacket) b2 = NULL;

	make_topic(fx, "orders");
	c_subscribe(s1, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(s2, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish1(pub, "orders", "0"));
	a = expect_batch(s1, "orders", "q");
	assert_ids(a, "0");
	expect_response(pub, c_publish(pub, "orders", three));
	b = expect_batch(s2, "orders", "q");
	assert_ids(b, "1-3");
	expect_response(pub, c_publish(pub, "orders", two));
	expect_none(s1);
	expect_none(s2);

	/* s2 fails: 1-3 go back in front of 4-5 and s2 (idle again) gets all five in order */
	c_fail(s2, b);
	expect_none(s1);
	b2 = expect_batch(s2, "orders", "q");
	assert_ids(b2, "1-5");
	for (guint i = 0; i < 5; i++) {
		g_autofree gchar *expect = g_strdup_printf("%u", i + 1);
		assert_content(rx_msg(b2, i), expect);
		g_assert_cmpint(rx_msg(b2, i)->attempt, ==, i < 3 ? 1 : 0);
	}
	c_ok(s1, a);
	expect_none(s1);
	c_ok(s2, b2);
	expect_none(s2);

	/* a failed batch interleaved with newer ids still comes out ascending */
	expect_response(pub, c_publish1(pub, "orders", "6"));
	a2 = expect_batch(s1, "orders", "q");
	assert_ids(a2, "6");
	expect_response(pub, c_publish1(pub, "orders", "7"));
	g_clear_pointer(&b2, rx_packet_free);
	b2 = expect_batch(s2, "orders", "q");
	assert_ids(b2, "7");
	expect_response(pub, c_publish1(pub, "orders", "8"));
	c_fail(s2, b2); /* waiting: 7, 8 */
	g_clear_pointer(&b2, rx_packet_free);
	b2 = expect_batch(s2, "orders", "q");
	assert_ids(b2, "7-8");
	c_fail(s1, a2); /* waiting: 6 */
	g_clear_pointer(&a2, rx_packet_free);
	a2 = expect_batch(s1, "orders", "q");
	assert_ids(a2, "6");
	assert_attempts(a2, 1);
}

static void
test_delivery_max_size(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	Client *pub;
	Client *sub;
	const gsize four40[] = {40, 40, 40, 40};
	const gsize exact[] = {50, 50, 10};
	const gsize big[] = {500, 10};
	g_autoptr(RxPacket) b = NULL;

	config.max_delivery_size = 100;
	fx = fixture_new_with(&config);
	pub = client_new(fx, 3, 0);
	sub = client_new(fx, 3, 0);
	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);

	/* 0 < 100, 40 < 100, 80 < 100: three go in and the batch ends at 120 bytes */
	expect_response(pub, c_publish_sizes(pub, "orders", G_N_ELEMENTS(four40), four40));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-2");
	g_assert_cmpuint(g_bytes_get_size(rx_msg(b, 0)->content), ==, 40);
	c_ok(sub, b);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "3");
	c_ok(sub, b);
	g_clear_pointer(&b, rx_packet_free);

	/* 50 + 50 reaches the limit: the check before the third stops the batch */
	expect_response(pub, c_publish_sizes(pub, "orders", G_N_ELEMENTS(exact), exact));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "4-5");
	c_ok(sub, b);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "6");
	c_ok(sub, b);
	g_clear_pointer(&b, rx_packet_free);

	/* a message above the limit goes alone; headers do not count */
	expect_response(pub, c_publish_sizes(pub, "orders", G_N_ELEMENTS(big), big));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "7");
	g_assert_cmpuint(g_bytes_get_size(rx_msg(b, 0)->content), ==, 500);
	c_ok(sub, b);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "8");
	c_ok(sub, b);
	expect_none(sub);
}

static void
test_delivery_competing(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *s1 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 3, 0);
	g_autoptr(RxPacket) a = NULL;
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) c = NULL;
	MsbQueue *queue;

	make_topic(fx, "orders");
	c_subscribe(s1, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(s2, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	queue = find_queue(fx, "orders", "q");
	g_assert_cmpuint(queue->subscribers->len, ==, 2);

	/* the first idle subscriber in subscription order gets the batch */
	expect_response(pub, c_publish1(pub, "orders", "a"));
	a = expect_batch(s1, "orders", "q");
	expect_none(s2);
	expect_response(pub, c_publish1(pub, "orders", "b"));
	expect_none(s1);
	b = expect_batch(s2, "orders", "q");
	assert_ids(a, "0");
	assert_ids(b, "1");
	g_assert_cmpint(a->confirmation_id, !=, b->confirmation_id);
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 2);

	/* both busy: the next waits for whichever confirms first */
	expect_response(pub, c_publish1(pub, "orders", "c"));
	expect_none(s1);
	expect_none(s2);
	c_ok(s2, b);
	expect_none(s1);
	c = expect_batch(s2, "orders", "q");
	assert_ids(c, "2");
	c_ok(s1, a);
	expect_none(s1);
}

/* ---- confirmations ---- */

static void
test_confirm_all_ok(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *three[] = {"a", "b", "c", NULL};
	g_autoptr(RxPacket) b1 = NULL;
	g_autoptr(RxPacket) b2 = NULL;
	MsbQueue *queue;
	MsbSubscriber *s;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	queue = find_queue(fx, "orders", "q");
	s = g_ptr_array_index(queue->subscribers, 0);
	expect_response(pub, c_publish(pub, "orders", three));
	b1 = expect_batch(sub, "orders", "q");
	assert_ids(b1, "0-2");
	assert_attempts(b1, 0);
	g_assert_cmpint(b1->confirmation_id, ==, s->id);
	g_assert_cmpint(s->state, ==, MSB_SUBSCRIBER_ON_DELIVERY);
	expect_response(pub, c_publish1(pub, "orders", "d"));

	c_ok(sub, b1);
	b2 = expect_batch(sub, "orders", "q");
	assert_ids(b2, "3");
	assert_attempts(b2, 0);
	g_assert_cmpuint(s->delivered, ==, 3);
	c_ok(sub, b2);
	expect_none(sub);
	g_assert_cmpint(s->state, ==, MSB_SUBSCRIBER_IDLE);
	g_assert_cmpuint(s->delivered, ==, 4);
	g_assert_cmpint(msb_queue_min_needed_id(queue), ==, G_MAXINT64);
}

static void
test_confirm_fail_attempts(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *two[] = {"a", "b", NULL};
	g_autoptr(RxPacket) b = NULL;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish(pub, "orders", two));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-1");
	assert_attempts(b, 0);

	/* redelivered at once, not at the next publish; the attempt counts the failures */
	for (gint32 attempt = 1; attempt <= 3; attempt++) {
		c_fail(sub, b);
		g_clear_pointer(&b, rx_packet_free);
		b = expect_batch(sub, "orders", "q");
		assert_ids(b, "0-1");
		assert_attempts(b, attempt);
		assert_content(rx_msg(b, 0), "a");
	}
	c_ok(sub, b);
	expect_none(sub);
	g_assert_cmpint(msb_queue_get_attempt(find_queue(fx, "orders", "q"), 0), ==, 0);

	g_clear_pointer(&b, rx_packet_free);
	expect_response(pub, c_publish1(pub, "orders", "c"));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "2");
	assert_attempts(b, 0);
}

static void
test_confirm_some_ok(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *five[] = {"0", "1", "2", "3", "4", NULL};
	const gint64 some[] = {1, 1, 3, 3, 100, 200};
	g_autoptr(RxPacket) b1 = NULL;
	g_autoptr(RxPacket) b2 = NULL;
	g_autoptr(RxPacket) b3 = NULL;
	MsbSubscriber *s;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	s = g_ptr_array_index(find_queue(fx, "orders", "q")->subscribers, 0);
	expect_response(pub, c_publish(pub, "orders", five));
	b1 = expect_batch(sub, "orders", "q");
	assert_ids(b1, "0-4");

	/* 1 and 3 done (and ids outside the batch are harmless); 0, 2, 4 back with attempt 1 */
	c_confirm_ranges(sub, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, b1, some, 3);
	b2 = expect_batch(sub, "orders", "q");
	assert_ids(b2, "0, 2, 4");
	assert_attempts(b2, 1);
	assert_content(rx_msg(b2, 1), "2");
	g_assert_cmpuint(s->delivered, ==, 2);

	/* 14 with no ids fails the whole batch */
	c_confirm_ranges(sub, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, b2, NULL, 0);
	b3 = expect_batch(sub, "orders", "q");
	assert_ids(b3, "0, 2, 4");
	assert_attempts(b3, 2);
	c_ok(sub, b3);
	expect_none(sub);
	g_assert_cmpuint(s->delivered, ==, 5);
}

static void
test_confirm_intermediary(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *five[] = {"0", "1", "2", "3", "4", NULL};
	const gint64 first_two[] = {0, 1};
	g_autoptr(RxPacket) b1 = NULL;
	g_autoptr(RxPacket) b2 = NULL;
	MsbQueue *queue;
	MsbSubscriber *s;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	queue = find_queue(fx, "orders", "q");
	s = g_ptr_array_index(queue->subscribers, 0);
	expect_response(pub, c_publish(pub, "orders", five));
	b1 = expect_batch(sub, "orders", "q");

	/* 15: 0-1 done, the batch stays out and nothing new is sent */
	c_confirm_ranges(sub, MSB_PACKET_INTERMEDIARY_CONFIRM, b1, first_two, 1);
	expect_none(sub);
	g_assert_cmpint(s->state, ==, MSB_SUBSCRIBER_ON_DELIVERY);
	g_assert_cmpint(msb_queue_in_flight_count(queue), ==, 3);
	g_assert_cmpuint(s->delivered, ==, 2);
	expect_response(pub, c_publish1(pub, "orders", "5"));
	expect_none(sub);

	/* 8 ends it: only 2-4 are counted now, then the next batch follows */
	c_ok(sub, b1);
	g_assert_cmpuint(s->delivered, ==, 5);
	b2 = expect_batch(sub, "orders", "q");
	assert_ids(b2, "5");
	assert_attempts(b2, 0);
	c_ok(sub, b2);
	expect_none(sub);
	g_assert_cmpuint(s->delivered, ==, 6);
}

static void
test_confirm_intermediary_then_fail(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *five[] = {"0", "1", "2", "3", "4", NULL};
	const gint64 done[] = {0, 1, 3, 3};
	g_autoptr(RxPacket) b1 = NULL;
	g_autoptr(RxPacket) b2 = NULL;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish(pub, "orders", five));
	b1 = expect_batch(sub, "orders", "q");
	c_confirm_ranges(sub, MSB_PACKET_INTERMEDIARY_CONFIRM, b1, done, 2);
	expect_none(sub);

	/* 13 after 15 returns only the unconfirmed rest */
	c_fail(sub, b1);
	b2 = expect_batch(sub, "orders", "q");
	assert_ids(b2, "2, 4");
	assert_attempts(b2, 1);
	assert_content(rx_msg(b2, 0), "2");
	assert_content(rx_msg(b2, 1), "4");
	c_ok(sub, b2);
	expect_none(sub);
}

static void
test_confirm_ignored(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	Client *other = client_new(fx, 3, 0);
	const gint64 all[] = {0, 100};
	g_autoptr(RxPacket) b = NULL;
	MsbQueue *queue;
	MsbSubscriber *s;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	queue = find_queue(fx, "orders", "q");
	s = g_ptr_array_index(queue->subscribers, 0);
	expect_response(pub, c_publish1(pub, "orders", "a"));
	b = expect_batch(sub, "orders", "q");

	/* a confirmation id that is not this subscriber's */
	for (gint64 wrong = b->confirmation_id + 1; wrong < b->confirmation_id + 4; wrong++) {
		c_confirm_id(sub, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, "orders", "q", wrong);
		c_confirm_id(sub, MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL, "orders", "q", wrong);
		c_confirm_ranges_id(sub, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, "orders", "q",
		                    wrong, all, 1);
		c_confirm_ranges_id(sub, MSB_PACKET_INTERMEDIARY_CONFIRM, "orders", "q", wrong, all,
		                    1);
	}
	c_confirm_id(sub, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, "orders", "q", -1);
	expect_none(sub);
	g_assert_cmpint(s->state, ==, MSB_SUBSCRIBER_ON_DELIVERY);
	g_assert_cmpint(msb_queue_in_flight_count(queue), ==, 1);

	/* the right id from a session that does not own the subscriber */
	c_ok(other, b);
	c_fail(other, b);
	c_confirm_ranges(other, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, b, all, 1);
	c_confirm_ranges(other, MSB_PACKET_INTERMEDIARY_CONFIRM, b, all, 1);
	expect_none(other);
	expect_none(sub);
	g_assert_cmpint(s->state, ==, MSB_SUBSCRIBER_ON_DELIVERY);
	g_assert_cmpint(msb_queue_in_flight_count(queue), ==, 1);
	g_assert_cmpuint(s->delivered, ==, 0);

	/* the owner confirms; after that every confirmation finds the subscriber idle */
	c_ok(sub, b);
	expect_none(sub);
	g_assert_cmpuint(s->delivered, ==, 1);
	c_fail(sub, b);
	c_ok(sub, b);
	c_confirm_ranges(sub, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, b, all, 1);
	c_confirm_ranges(sub, MSB_PACKET_INTERMEDIARY_CONFIRM, b, all, 1);
	expect_none(sub);
	g_assert_cmpint(s->state, ==, MSB_SUBSCRIBER_IDLE);
	g_assert_cmpint(msb_id_set_count(&queue->waiting), ==, 0);
	g_assert_cmpuint(s->delivered, ==, 1);
	g_assert_cmpint(msb_queue_get_attempt(queue, 0), ==, 0);
}

static void
test_confirm_unknown(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c = client_new(fx, 3, 0);
	const gint64 ids[] = {0, 0};
	struct {
		const gchar *topic;
		const gchar *queue;
	} targets[] = {
	        {"nosuch", "q"},
	        {"orders", "nosuch"},
	};

	make_topic(fx, "orders");
	c_subscribe(c, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	for (guint i = 0; i < G_N_ELEMENTS(targets); i++) {
		const gchar *t = targets[i].topic;
		const gchar *q = targets[i].queue;

		c_confirm_id(c, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, t, q, 0);
		expect_reject(c, "Confirm");
		c_confirm_id(c, MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL, t, q, 0);
		expect_reject(c, "Confirm");
		c_confirm_ranges_id(c, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, t, q, 0, ids, 1);
		expect_reject(c, "Confirm");
		c_confirm_ranges_id(c, MSB_PACKET_INTERMEDIARY_CONFIRM, t, q, 0, ids, 1);
		expect_reject(c, "Confirm");
	}
	/* the connection is kept */
	g_assert_null(msb_broker_find_topic(fx->broker, "nosuch"));
	g_assert_cmpuint(fx->disconnects->len, ==, 0);
	c_ping(c);
	expect_pong(c);
}

/* ---- disconnects, eviction, queue types ---- */

static void
test_session_close_redelivers(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *s1 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 3, 0);
	const gchar *two[] = {"a", "b", NULL};
	g_autoptr(RxPacket) a = NULL;
	g_autoptr(RxPacket) b = NULL;
	MsbQueue *queue;

	make_topic(fx, "orders");
	c_subscribe(s1, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(s2, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	queue = find_queue(fx, "orders", "q");
	expect_response(pub, c_publish(pub, "orders", two));
	a = expect_batch(s1, "orders", "q");
	assert_ids(a, "0-1");
	expect_none(s2);

	/* closing alone hands the batch to the idle subscriber; no publish needed */
	client_close(s1);
	g_assert_cmpuint(queue->subscribers->len, ==, 1);
	b = expect_batch(s2, "orders", "q");
	assert_ids(b, "0-1");
	assert_attempts(b, 1);
	assert_content(rx_msg(b, 1), "b");
	c_ok(s2, b);
	expect_none(s2);

	/* with no subscriber left the ids wait in the permanent queue */
	client_close(s2);
	expect_response(pub, c_publish1(pub, "orders", "c"));
	g_assert_cmpuint(queue->subscribers->len, ==, 0);
	g_assert_cmpint(msb_id_set_count(&queue->waiting), ==, 1);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);
}

static void
test_queue_single_connection(void)
{
	const MsbQueueType types[] = {MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION,
	                              MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION};

	for (guint t = 0; t < G_N_ELEMENTS(types); t++) {
		g_autoptr(Fixture) fx = fixture_new();
		Client *pub = client_new(fx, 3, 0);
		Client *s1 = client_new(fx, 3, 0);
		Client *s2 = client_new(fx, 3, 0);
		const gchar *two[] = {"a", "b", NULL};
		g_autoptr(RxPacket) a = NULL;
		g_autoptr(RxPacket) b = NULL;
		g_autoptr(RxPacket) b2 = NULL;
		MsbQueue *queue;

		g_test_message("queue type %d", types[t]);
		make_topic(fx, "orders");
		c_subscribe(s1, "orders", "q", types[t]);
		queue = find_queue(fx, "orders", "q");
		g_assert_cmpint(queue->type, ==, types[t]);
		expect_response(pub, c_publish(pub, "orders", two));
		a = expect_batch(s1, "orders", "q");
		assert_ids(a, "0-1");

		/* the newcomer evicts s1 and gets its unconfirmed messages */
		c_subscribe(s2, "orders", "q", types[t]);
		b = expect_batch(s2, "orders", "q");
		assert_ids(b, "0-1");
		assert_attempts(b, 1);
		g_assert_cmpuint(queue->subscribers->len, ==, 1);
		g_assert_cmpuint(s1->session->subscribers->len, ==, 0);
		g_assert_cmpuint(s2->session->subscribers->len, ==, 1);
		/* s1 stays connected */
		g_assert_cmpuint(fx->disconnects->len, ==, 0);
		expect_none(s1);
		c_ping(s1);
		expect_pong(s1);

		/* s1's later confirmations are ignored; s2's batch is untouched */
		c_ok(s1, a);
		c_fail(s1, a);
		expect_none(s1);
		expect_none(s2);
		g_assert_cmpint(msb_queue_in_flight_count(queue), ==, 2);
		g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 1);

		/* s1 can still publish; the message goes to s2 after its batch */
		expect_response(s1, c_publish1(s1, "orders", "c"));
		expect_none(s2);
		c_ok(s2, b);
		b2 = expect_batch(s2, "orders", "q");
		assert_ids(b2, "2");
		assert_attempts(b2, 0);
		expect_none(s1);
	}
}

static void
test_queue_type_change(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *s1 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 3, 0);
	Client *s3 = client_new(fx, 3, 0);
	Client *s4;
	MsbQueue *queue;

	make_topic(fx, "orders");
	c_subscribe(s1, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	queue = find_queue(fx, "orders", "q");
	g_assert_cmpint(queue->type, ==, MSB_QUEUE_TYPE_PERMANENT);

	/* the last subscriber's type wins */
	c_subscribe(s2, "orders", "q", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	g_assert_true(find_queue(fx, "orders", "q") == queue);
	g_assert_cmpint(queue->type, ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	g_assert_cmpuint(queue->subscribers->len, ==, 2);

	c_subscribe(s3, "orders", "q", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION);
	g_assert_cmpint(queue->type, ==, MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION);
	/* becoming single-connection evicts everyone before */
	g_assert_cmpuint(queue->subscribers->len, ==, 1);
	expect_none(s1);
	expect_none(s2);
	expect_none(s3);

	/* now permanent: never collected */
	client_close(s1);
	client_close(s2);
	client_close(s3);
	fx->mono += 3600 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_true(find_queue(fx, "orders", "q") == queue);

	/* back to delete-on-disconnect: collected after the timeout */
	s4 = client_new(fx, 3, 0);
	c_subscribe(s4, "orders", "q", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	g_assert_cmpint(queue->type, ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	client_close(s4);
	fx->mono += 21 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_null(find_queue(fx, "orders", "q"));
}

static void
test_queue_type_unknown(void)
{
	const guint8 values[] = {4, 7, 200, 255};

	g_assert_cmpint(msb_queue_type_from_wire(0), ==, MSB_QUEUE_TYPE_PERMANENT);
	g_assert_cmpint(msb_queue_type_from_wire(1), ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	g_assert_cmpint(msb_queue_type_from_wire(2), ==,
	                MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION);
	g_assert_cmpint(msb_queue_type_from_wire(3), ==,
	                MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION);
	for (guint i = 0; i < G_N_ELEMENTS(values); i++) {
		g_autoptr(Fixture) fx = fixture_new();
		Client *s1 = client_new(fx, 3, 0);
		Client *s2 = client_new(fx, 3, 0);
		MsbQueue *queue;

		g_test_message("queue type byte %u", values[i]);
		g_assert_cmpint(msb_queue_type_from_wire(values[i]), ==,
		                MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
		make_topic(fx, "orders");
		c_subscribe(s1, "orders", "q", values[i]);
		queue = find_queue(fx, "orders", "q");
		g_assert_nonnull(queue);
		g_assert_cmpint(queue->type, ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
		/* not single-connection: a second subscriber does not evict the first */
		c_subscribe(s2, "orders", "q", values[i]);
		g_assert_cmpuint(queue->subscribers->len, ==, 2);
		expect_none(s1);
		expect_none(s2);

		/* deleted on disconnect */
		client_close(s1);
		client_close(s2);
		fx->mono += 21 * SEC;
		msb_broker_tick(fx->broker);
		g_assert_null(find_queue(fx, "orders", "q"));
	}
}

static void
test_queue_gc(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *s1 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 3, 0);
	Client *s3;
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *topic = make_topic(fx, "orders");
	MsbQueue *temp;
	gint64 closed_at;

	c_subscribe(s1, "orders", "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	c_subscribe(s2, "orders", "keep", MSB_QUEUE_TYPE_PERMANENT);
	temp = find_queue(fx, "orders", "temp");

	/* a queue with a subscriber is never collected, however old */
	fx->mono += 3600 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_true(find_queue(fx, "orders", "temp") == temp);

	/* the timeout runs from the last unsubscribe; messages published meanwhile are kept */
	client_close(s1);
	client_close(s2);
	closed_at = fx->mono;
	expect_response(pub, c_publish1(pub, "orders", "a"));
	fx->mono = closed_at + 20 * SEC - 1;
	msb_broker_tick(fx->broker);
	g_assert_true(find_queue(fx, "orders", "temp") == temp);
	g_assert_cmpint(msb_id_set_count(&temp->waiting), ==, 1);

	/* re-subscribing in time keeps the queue and its messages */
	s3 = client_new(fx, 3, 0);
	c_subscribe(s3, "orders", "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	b = expect_batch(s3, "orders", "temp");
	assert_ids(b, "0");
	c_ok(s3, b);
	g_assert_true(find_queue(fx, "orders", "temp") == temp);

	client_close(s3);
	closed_at = fx->mono;
	fx->mono = closed_at + 20 * SEC - 1;
	msb_broker_tick(fx->broker);
	g_assert_nonnull(find_queue(fx, "orders", "temp"));
	/* "more than queue_gc_timeout" (node.md §2.5): exactly the timeout is not enough */
	fx->mono = closed_at + 20 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_nonnull(find_queue(fx, "orders", "temp"));
	fx->mono = closed_at + 20 * SEC + 1;
	msb_broker_tick(fx->broker);
	g_assert_null(find_queue(fx, "orders", "temp"));
	g_assert_cmpuint(topic->queues->len, ==, 1);

	/* a permanent queue stays, and keeps collecting */
	fx->mono += 24 * 3600 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_nonnull(find_queue(fx, "orders", "keep"));
	expect_response(pub, c_publish1(pub, "orders", "b"));
	g_assert_cmpint(msb_id_set_count(&find_queue(fx, "orders", "keep")->waiting), ==, 2);

	/* a confirmation for the deleted queue is refused */
	c_confirm_id(pub, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, "orders", "temp", 0);
	expect_reject(pub, "Confirm");
	g_assert_cmpuint(fx->disconnects->len, ==, 0);
}

/* ---- dead subscribers ---- */

static void
test_dead_subscriber_timeout(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *s1 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 3, 0);
	g_autoptr(RxPacket) a = NULL;
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) c = NULL;
	gint64 sent_at;

	make_topic(fx, "orders");
	c_subscribe(s1, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(s2, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	sent_at = fx->mono;
	expect_response(pub, c_publish1(pub, "orders", "a"));
	a = expect_batch(s1, "orders", "q");

	fx->mono = sent_at + 30 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);

	fx->mono = sent_at + 30 * SEC + 1;
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING, "*without confirming*");
	msb_broker_tick(fx->broker);
	msb_test_log_assert_expected();
	g_assert_cmpuint(fx->disconnects->len, ==, 1);
	g_assert_true(g_ptr_array_index(fx->disconnects, 0) == s1->session);
	g_assert_nonnull(g_ptr_array_index(fx->reasons, 0));
	g_assert_true(s1->session->closing);
	/* the batch is not taken until the adapter has closed the connection */
	expect_none(s2);

	/* asked once, not at every tick */
	fx->mono += 3 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->disconnects->len, ==, 1);

	/* once closed, the other subscriber gets the batch at once */
	client_close(s1);
	b = expect_batch(s2, "orders", "q");
	assert_ids(b, "0");
	assert_attempts(b, 1);

	/* an idle subscriber is never dead */
	c_ok(s2, b);
	fx->mono += 3600 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->disconnects->len, ==, 1);
	expect_response(pub, c_publish1(pub, "orders", "b"));
	c = expect_batch(s2, "orders", "q");
	assert_ids(c, "1");
}

static void
test_dead_subscriber_intermediary_refresh(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *three[] = {"a", "b", "c", NULL};
	const gint64 first[] = {0, 0};
	const gint64 second[] = {1, 1};
	g_autoptr(RxPacket) b = NULL;
	gint64 sent_at;
	gint64 refreshed_at;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	sent_at = fx->mono;
	expect_response(pub, c_publish(pub, "orders", three));
	b = expect_batch(sub, "orders", "q");

	fx->mono = sent_at + 20 * SEC;
	c_confirm_ranges(sub, MSB_PACKET_INTERMEDIARY_CONFIRM, b, first, 1);
	refreshed_at = fx->mono;
	fx->mono = sent_at + 31 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);

	/* an ignored confirmation (wrong id) does not refresh the timer */
	c_confirm_ranges_id(sub, MSB_PACKET_INTERMEDIARY_CONFIRM, "orders", "q",
	                    b->confirmation_id + 1, second, 1);
	fx->mono = refreshed_at + 30 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);
	fx->mono = refreshed_at + 30 * SEC + 1;
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING, "*without confirming*");
	msb_broker_tick(fx->broker);
	msb_test_log_assert_expected();
	g_assert_cmpuint(fx->disconnects->len, ==, 1);
	g_assert_true(g_ptr_array_index(fx->disconnects, 0) == sub->session);
	client_close(sub);
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 0);
	/* the unconfirmed rest waits in the permanent queue */
	g_assert_cmpint(msb_id_set_count(&find_queue(fx, "orders", "q")->waiting), ==, 2);
}

static void
test_dead_subscriber_close_in_callback(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *s1 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 3, 0);
	Client *s3 = client_new(fx, 3, 0);
	g_autoptr(RxPacket) a = NULL;
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) c = NULL;
	g_autoptr(RxPacket) d = NULL;
	MsbQueue *queue;

	make_topic(fx, "orders");
	c_subscribe(s1, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(s2, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish1(pub, "orders", "a"));
	a = expect_batch(s1, "orders", "q");
	expect_response(pub, c_publish1(pub, "orders", "b"));
	b = expect_batch(s2, "orders", "q");
	c_subscribe(s3, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_none(s3);
	queue = find_queue(fx, "orders", "q");

	/* both are dead in one tick and the adapter closes each inside the callback */
	fx->close_in_callback = TRUE;
	fx->mono += 31 * SEC;
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING, "*without confirming*");
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING, "*without confirming*");
	msb_broker_tick(fx->broker);
	msb_test_log_assert_expected();
	g_assert_cmpuint(fx->disconnects->len, ==, 2);
	g_assert_null(s1->session);
	g_assert_null(s2->session);
	g_assert_cmpuint(queue->subscribers->len, ==, 1);

	/* s3 (whose fresh batch is not dead) gets one returned message, then the other */
	c = expect_batch(s3, "orders", "q");
	g_assert_cmpuint(c->messages->len, ==, 1);
	assert_attempts(c, 1);
	c_ok(s3, c);
	d = expect_batch(s3, "orders", "q");
	g_assert_cmpuint(d->messages->len, ==, 1);
	assert_attempts(d, 1);
	g_assert_cmpint(rx_msg(c, 0)->id + rx_msg(d, 0)->id, ==, 1);
	c_ok(s3, d);
	expect_none(s3);
	g_assert_cmpuint(fx->disconnects->len, ==, 2);
}

/* ---- Subscribe errors ---- */

static void
test_subscribe_duplicate(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) b2 = NULL;
	MsbQueue *queue;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_none(sub);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_reject(sub, "Subscribe");
	/* a duplicate with another type changes nothing either */
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	expect_reject(sub, "Subscribe");
	queue = find_queue(fx, "orders", "q");
	g_assert_cmpuint(queue->subscribers->len, ==, 1);
	g_assert_cmpuint(sub->session->subscribers->len, ==, 1);
	g_assert_cmpint(queue->type, ==, MSB_QUEUE_TYPE_PERMANENT);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);

	/* the first subscription still works, and another queue of the topic is fine */
	expect_response(pub, c_publish1(pub, "orders", "a"));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0");
	c_subscribe(sub, "orders", "q2", MSB_QUEUE_TYPE_PERMANENT);
	expect_none(sub);
	expect_response(pub, c_publish1(pub, "orders", "b"));
	b2 = expect_batch(sub, "orders", "q2");
	assert_ids(b2, "1");
}

static void
test_subscribe_missing_topic(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);

	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_reject(sub, "Subscribe");
	g_assert_null(msb_broker_find_topic(fx->broker, "orders"));
	g_assert_cmpuint(sub->session->subscribers->len, ==, 0);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);
	c_ping(sub);
	expect_pong(sub);

	/* once the topic exists the same Subscribe works */
	c_create_topic(sub, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_none(sub);
	g_assert_nonnull(find_queue(fx, "orders", "q"));
}

/* ---- session start ---- */

static void
test_before_greeting(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	Client *c;
	Client *pub;
	Client *sub;
	const gint64 ids[] = {0, 10};
	g_autoptr(RxPacket) b = NULL;
	MsbQueue *queue;

	/* with auto-creation on, a packet that was not dropped would leave a topic behind */
	config.auto_create_topic_on_publish = TRUE;
	config.auto_create_topic_on_subscribe = TRUE;
	fx = fixture_new_with(&config);
	c = client_new_raw(fx);

	c_ping(c);
	expect_pong(c);
	c_publish1(c, "orders", "x");
	c_subscribe(c, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_create_topic(c, "created");
	c_confirm_id(c, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, "nosuch", "q", 0);
	c_confirm_id(c, MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL, "nosuch", "q", 0);
	c_confirm_ranges_id(c, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, "nosuch", "q", 0, ids, 1);
	c_confirm_ranges_id(c, MSB_PACKET_INTERMEDIARY_CONFIRM, "nosuch", "q", 0, ids, 1);
	expect_none(c);
	g_assert_null(msb_broker_find_topic(fx->broker, "orders"));
	g_assert_null(msb_broker_find_topic(fx->broker, "created"));
	g_assert_cmpuint(c->session->subscribers->len, ==, 0);
	g_assert_cmpuint(c->session->publishes, ==, 0);
	g_assert_false(c->session->namespace_locked);

	/* confirmations for a real batch are dropped too */
	pub = client_new(fx, 3, 0);
	sub = client_new(fx, 3, 0);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	queue = find_queue(fx, "orders", "q");
	expect_response(pub, c_publish1(pub, "orders", "x"));
	b = expect_batch(sub, "orders", "q");
	c_ok(c, b);
	c_fail(c, b);
	expect_none(c);
	expect_none(sub);
	g_assert_cmpint(msb_queue_in_flight_count(queue), ==, 1);

	/* PacketVersions is not stored */
	c_versions(c, 1);
	c->v7 = 0;
	expect_none(c);
	g_assert_cmpint(c->session->new_messages_version, ==, 0);

	c_namespace(c, "alpha");
	expect_reject_exact(c, "Namespace can not be set before the Greeting packet");
	g_assert_null(c->session->namespace_name);

	g_assert_false(c->session->greeted);
	g_assert_cmpint(c->session->protocol_version, ==, 0);
	c_greet(c, 3);
	expect_none(c);
	g_assert_true(c->session->greeted);
	g_assert_cmpint(c->session->new_messages_version, ==, 0);
	expect_response(c, c_publish1(c, "orders", "y"));
	g_assert_cmpuint(fx->disconnects->len, ==, 0);
}

static void
test_greeting_bad_version(void)
{
	const gint32 versions[] = {0, 1, -1, G_MININT32};

	for (guint i = 0; i < G_N_ELEMENTS(versions); i++) {
		g_autoptr(Fixture) fx = fixture_new();
		Client *c = client_new_raw(fx);
		g_autoptr(GError) error = NULL;

		g_test_message("protocol version %d", versions[i]);
		g_assert_false(c_greet_full(c, "old-client", versions[i], &error));
		g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_PROTOCOL);
		expect_reject(c, "Greeting");
		g_assert_false(c->session->greeted);
		g_assert_cmpint(c->session->protocol_version, ==, 0);
	}
}

static void
test_greeting_versions(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c7 = client_new_raw(fx);
	Client *c2 = client_new(fx, 2, 0);
	Client *c3 = client_new(fx, 3, 0);
	MsbBuf hbuf;
	const MsbWireHeader hdrs[] = {{"k", "v"}};
	g_autoptr(GBytes) block = NULL;
	const GBytes *headers[1];
	const guint8 *contents[] = {(const guint8 *)"hi"};
	const gsize lens[] = {2};
	g_autoptr(RxPacket) b = NULL;

	g_assert_true(c_greet_full(c7, "demo:1.0;1.1.5;prod", 7, NULL));
	expect_none(c7);
	g_assert_cmpint(c7->session->protocol_version, ==, 3);
	g_assert_cmpint(c2->session->protocol_version, ==, 2);
	g_assert_cmpint(c3->session->protocol_version, ==, 3);
	g_assert_cmpstr(c7->session->name, ==, "demo:1.0");
	g_assert_cmpstr(c7->session->version, ==, "1.1.5");
	g_assert_cmpstr(c7->session->env_info, ==, "prod");
	g_assert_cmpstr(c2->session->name, ==, "test-app:1.0");
	g_assert_cmpstr(c2->session->version, ==, "1.1.5");
	g_assert_null(c2->session->env_info);

	/* P = 7 publishes and receives in the P = 3 layout, headers included */
	make_topic(fx, "orders");
	c_subscribe(c7, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	msb_buf_init(&hbuf, 0);
	g_assert_true(msb_wire_put_headers(&hbuf, hdrs, 1, NULL));
	block = g_bytes_new(msb_buf_head(&hbuf), msb_buf_pending(&hbuf));
	msb_buf_clear(&hbuf);
	headers[0] = block;
	c_publish_raw(c7, "orders", 9, 1, headers, contents, lens);
	{
		g_autoptr(GPtrArray) list = c_read(c7);
		RxPacket *r;
		g_assert_cmpuint(list->len, ==, 2);
		r = g_ptr_array_index(list, 0);
		g_assert_cmpint(r->id, ==, MSB_PACKET_PUBLISH_RESPONSE);
		g_assert_cmpint(r->request_id, ==, 9);
		b = g_ptr_array_steal_index(list, 1);
	}
	g_assert_cmpint(b->id, ==, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(rx_msg(b, 0)->n_headers, ==, 1);
	g_assert_true(g_bytes_equal(rx_msg(b, 0)->headers, block));
	assert_content(rx_msg(b, 0), "hi");
}

static void
test_greeting_packet_versions(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *c = client_new_raw(fx);
	g_autoptr(RxPacket) b = NULL;

	make_topic(fx, "orders");
	/* sent before Greeting: parsed, not stored */
	c_versions(c, 1);
	c->v7 = 0;
	c_greet(c, 2);
	g_assert_cmpint(c->session->new_messages_version, ==, 0);
	c_subscribe(c, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish1(pub, "orders", "abc"));
	b = expect_batch(c, "orders", "q");
	/* the V7 = 0 layout: 1 + (1+6) + (1+1) + 8 + 4, then i64 id + bytes */
	g_assert_cmpuint(b->size, ==, 22 + 8 + 4 + 3);
	c_ok(c, b);

	/* sent after Greeting it counts */
	c_versions(c, 1);
	g_assert_cmpint(c->session->new_messages_version, ==, 1);
	g_clear_pointer(&b, rx_packet_free);
	expect_response(pub, c_publish1(pub, "orders", "abc"));
	b = expect_batch(c, "orders", "q");
	g_assert_cmpuint(b->size, ==, 22 + 8 + 4 + 4 + 3);
	assert_ids(b, "1");
}

/* ---- namespaces ---- */

static void
test_namespace_default(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c = client_new(fx, 3, 0);

	make_topic(fx, "orders");
	c_namespace(c, "default");
	expect_none(c);
	g_assert_null(c->session->namespace_name);
	expect_response(c, c_publish1(c, "orders", "x"));
	/* re-stating it after the lock is fine too */
	c_namespace(c, "default");
	expect_none(c);
	expect_response(c, c_publish1(c, "orders", "y"));
}

static void
test_namespace_invalid(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c = client_new(fx, 3, 0);
	g_autofree gchar *len64 = g_strnfill(64, 'n');
	g_autofree gchar *len63 = g_strnfill(63, 'n');
	const gchar *bad[] = {"Bad_NS", "Upper", "-abc", "", "a b", "a.b", len64};

	make_topic(fx, "orders");
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *prefix = g_strdup_printf("Namespace '%s' is invalid. ", bad[i]);
		c_namespace(c, bad[i]);
		expect_reject(c, prefix);
		g_assert_null(c->session->namespace_name);
	}
	/* a valid 63-byte name is not "invalid" (only unsupported) */
	c_namespace(c, len63);
	{
		g_autoptr(RxPacket) r = expect_one(c, MSB_PACKET_REJECT);
		g_assert_null(strstr(r->text, "invalid"));
	}
	c_namespace(c, "default");
	expect_none(c);
	/* the session is still in the default namespace */
	expect_response(c, c_publish1(c, "orders", "x"));
}

static void
test_namespace_other(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	Client *back = client_new(fx, 3, 0);
	MsbTopic *topic = make_topic(fx, "orders");

	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_namespace(c, "alpha");
	expect_reject(c, "Namespace 'alpha'");
	/* what follows is refused, never silently put into "default" */
	c_publish1(c, "orders", "x");
	expect_reject(c, "NotSupported");
	c_publish1(c, "orders", "y");
	expect_reject(c, "NotSupported");
	c_subscribe(c, "orders", "q2", MSB_QUEUE_TYPE_PERMANENT);
	expect_reject(c, "Subscribe");
	c_create_topic(c, "other");
	expect_reject(c, "CreateTopic");
	g_assert_null(msb_broker_find_topic(fx->broker, "other"));
	g_assert_null(find_queue(fx, "orders", "q2"));
	g_assert_cmpint(topic->next_id, ==, 0);
	expect_none(sub);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);
	/* and it is locked now */
	c_namespace(c, "default");
	expect_reject(c, "Namespace can not be changed");

	/* going back to "default" before the lock is allowed */
	c_namespace(back, "beta");
	expect_reject(back, "Namespace 'beta'");
	c_namespace(back, "default");
	expect_none(back);
	expect_response(back, c_publish1(back, "orders", "z"));
	g_assert_cmpint(topic->next_id, ==, 1);
}

static void
test_namespace_locked(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);

	make_topic(fx, "orders");
	expect_response(pub, c_publish1(pub, "orders", "x"));
	c_namespace(pub, "beta");
	expect_reject_exact(pub, "Namespace can not be changed to 'beta' after the connection has "
	                         "published or subscribed");
	g_assert_null(pub->session->namespace_name);
	expect_response(pub, c_publish1(pub, "orders", "y"));

	/* Subscribe locks it as well */
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_namespace(sub, "beta");
	expect_reject(sub, "Namespace can not be changed");
	c_namespace(sub, "default");
	expect_none(sub);
}

/* ---- message layout per protocol version ---- */

static void
test_layout_p3_headers(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *pub2 = client_new(fx, 2, 1);
	Client *sub = client_new(fx, 3, 0);
	const MsbWireHeader hdrs[] = {
	        {"trace-id", "abc"}, {"k", "1"}, {"trace-id", "def"}, {"empty", ""}};
	g_autoptr(GBytes) block = make_headers(hdrs, G_N_ELEMENTS(hdrs));
	const GBytes *headers[] = {block, NULL};
	const guint8 *contents[] = {(const guint8 *)"hi", (const guint8 *)"\x01\x02\x03"};
	const gsize lens[] = {2, 3};
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) b2 = NULL;
	gsize pos = 0;
	MsbWireStr key;
	MsbWireStr value;
	gsize hlen = 0;
	const guint8 *h;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_raw(pub, "orders", 1, 2, headers, contents, lens));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-1");

	/* verbatim: same bytes, so order and duplicates are kept */
	g_assert_cmpuint(rx_msg(b, 0)->n_headers, ==, G_N_ELEMENTS(hdrs));
	g_assert_true(g_bytes_equal(rx_msg(b, 0)->headers, block));
	h = g_bytes_get_data(rx_msg(b, 0)->headers, &hlen);
	for (guint i = 0; i < G_N_ELEMENTS(hdrs); i++) {
		g_assert_true(msb_wire_headers_next(h, hlen, &pos, &key, &value));
		g_assert_cmpmem(key.str, key.len, hdrs[i].key, strlen(hdrs[i].key));
		g_assert_cmpmem(value.str, value.len, hdrs[i].value, strlen(hdrs[i].value));
	}
	g_assert_false(msb_wire_headers_next(h, hlen, &pos, &key, &value));
	assert_content(rx_msg(b, 0), "hi");
	/* a message without headers arrives with a zero header count */
	g_assert_cmpuint(rx_msg(b, 1)->n_headers, ==, 0);
	assert_content(rx_msg(b, 1), "\x01\x02\x03");
	c_ok(sub, b);

	/* a P = 2 publisher's message also gets a zero header count */
	expect_response(pub2, c_publish1(pub2, "orders", "p2"));
	b2 = expect_batch(sub, "orders", "q");
	assert_ids(b2, "2");
	g_assert_cmpuint(rx_msg(b2, 0)->n_headers, ==, 0);
	assert_content(rx_msg(b2, 0), "p2");
	/* 1 + (1+6) + (1+1) + 8 + 4, then i64 id, i32 attempt, u8 0 headers, i32 len + 2 */
	g_assert_cmpuint(b2->size, ==, 22 + 8 + 4 + 1 + 4 + 2);
}

static void
test_layout_p2(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *v1 = client_new(fx, 2, 1);
	Client *v0 = client_new(fx, 2, 0);
	const MsbWireHeader hdrs[] = {{"trace-id", "abc"}};
	g_autoptr(GBytes) block = make_headers(hdrs, 1);
	const GBytes *headers[] = {block, block};
	const guint8 *contents[] = {(const guint8 *)"hi", (const guint8 *)"abc"};
	const gsize lens[] = {2, 3};
	g_autoptr(RxPacket) a = NULL;
	g_autoptr(RxPacket) b = NULL;

	make_topic(fx, "orders");
	c_subscribe(v1, "orders", "v1", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(v0, "orders", "v0", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_raw(pub, "orders", 1, 2, headers, contents, lens));

	/* V7 = 1: id, attempt, content; no headers. 1 + (1+6) + (1+2) + 8 + 4 = 23 */
	a = expect_batch(v1, "orders", "v1");
	assert_ids(a, "0-1");
	g_assert_cmpuint(a->size, ==, 23 + (8 + 4 + 4 + 2) + (8 + 4 + 4 + 3));
	g_assert_cmpuint(rx_msg(a, 0)->n_headers, ==, 0);
	g_assert_cmpuint(g_bytes_get_size(rx_msg(a, 0)->headers), ==, 0);
	assert_content(rx_msg(a, 0), "hi");
	assert_content(rx_msg(a, 1), "abc");
	assert_attempts(a, 0);
	/* V7 = 0: id and content only */
	b = expect_batch(v0, "orders", "v0");
	assert_ids(b, "0-1");
	g_assert_cmpuint(b->size, ==, 23 + (8 + 4 + 2) + (8 + 4 + 3));
	assert_content(rx_msg(b, 1), "abc");

	/* the attempt field carries the real value on redelivery; V7 = 0 has no place for it */
	c_fail(v1, a);
	c_fail(v0, b);
	g_clear_pointer(&a, rx_packet_free);
	g_clear_pointer(&b, rx_packet_free);
	a = expect_batch(v1, "orders", "v1");
	assert_attempts(a, 1);
	g_assert_cmpuint(a->size, ==, 23 + (8 + 4 + 4 + 2) + (8 + 4 + 4 + 3));
	b = expect_batch(v0, "orders", "v0");
	assert_attempts(b, 0);
	g_assert_cmpuint(b->size, ==, 23 + (8 + 4 + 2) + (8 + 4 + 3));
}

static void
test_zero_length(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *s3 = client_new(fx, 3, 0);
	Client *s2 = client_new(fx, 2, 0);
	const gchar *empties[] = {"", "", "", NULL};
	const gchar *mixed[] = {"", "x", "", NULL};
	g_autoptr(RxPacket) a = NULL;
	g_autoptr(RxPacket) b = NULL;

	make_topic(fx, "orders");
	c_subscribe(s3, "orders", "q3", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(s2, "orders", "q2", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish1(pub, "orders", ""));
	a = expect_batch(s3, "orders", "q3");
	assert_ids(a, "0");
	g_assert_cmpuint(g_bytes_get_size(rx_msg(a, 0)->content), ==, 0);
	b = expect_batch(s2, "orders", "q2");
	assert_ids(b, "0");
	g_assert_cmpuint(g_bytes_get_size(rx_msg(b, 0)->content), ==, 0);
	c_ok(s3, a);
	c_ok(s2, b);

	expect_response(pub, c_publish(pub, "orders", empties));
	g_clear_pointer(&a, rx_packet_free);
	a = expect_batch(s3, "orders", "q3");
	assert_ids(a, "1-3");
	for (guint i = 0; i < 3; i++)
		g_assert_cmpuint(g_bytes_get_size(rx_msg(a, i)->content), ==, 0);
	/* and they are redelivered like any other */
	c_fail(s3, a);
	g_clear_pointer(&a, rx_packet_free);
	a = expect_batch(s3, "orders", "q3");
	assert_ids(a, "1-3");
	assert_attempts(a, 1);
	c_ok(s3, a);

	expect_response(pub, c_publish(pub, "orders", mixed));
	g_clear_pointer(&a, rx_packet_free);
	a = expect_batch(s3, "orders", "q3");
	assert_ids(a, "4-6");
	assert_content(rx_msg(a, 1), "x");
	g_assert_cmpuint(g_bytes_get_size(rx_msg(a, 2)->content), ==, 0);
}

/* ---- flow control, shutdown, memory ---- */

static void
test_slow_consumer(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	Client *pub;
	Client *sub;
	Client *fast;
	MsbBuf *out;
	gsize pending;
	g_autoptr(RxPacket) b = NULL;

	config.send_buffer_size = 64;
	fx = fixture_new_with(&config);
	pub = client_new(fx, 3, 0);
	sub = client_new(fx, 3, 0);
	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	out = msb_session_get_output(sub->session);

	/* the batch is not read by the client: the output holds ≥ 64 bytes */
	expect_response(pub, c_publish_n(pub, "orders", 1, 100));
	pending = msb_buf_pending(out);
	g_assert_cmpuint(pending, >=, 64);
	/* the confirmation arrives (the socket reads fine) but no new batch is queued */
	c_confirm_id(sub, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, "orders", "q",
	             ((MsbSubscriber *)g_ptr_array_index(sub->session->subscribers, 0))->id);
	expect_response(pub, c_publish_n(pub, "orders", 1, 10));
	g_assert_cmpuint(msb_buf_pending(out), ==, pending);
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 0);

	/* the test is the socket: it flushes the output, then the adapter says so */
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0");
	msb_broker_session_drained(fx->broker, sub->session);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "1");
	c_ok(sub, b);

	/* a slow subscriber is skipped, not waited for: another idle one gets the batch */
	fast = client_new(fx, 3, 0);
	c_subscribe(fast, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	for (guint i = 0; i < 100; i++)
		c_ping(sub);
	g_assert_cmpuint(msb_buf_pending(out), >=, 64);
	expect_response(pub, c_publish_n(pub, "orders", 1, 10));
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(fast, "orders", "q");
	assert_ids(b, "2");
	{
		g_autoptr(GPtrArray) list = c_read(sub);
		g_assert_cmpuint(list->len, ==, 100);
	}
}

static void
test_shutdown(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *two[] = {"a", "b", NULL};
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) b2 = NULL;
	MsbTopic *topic = make_topic(fx, "orders");

	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish(pub, "orders", two));
	b = expect_batch(sub, "orders", "q");

	msb_broker_begin_shutdown(fx->broker);
	c_publish1(pub, "orders", "late");
	expect_reject_exact(pub, "ShuttingDown");
	g_assert_cmpint(topic->next_id, ==, 2);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);

	/* confirmations and deliveries continue (node.md §9) */
	c_fail(sub, b);
	b2 = expect_batch(sub, "orders", "q");
	assert_ids(b2, "0-1");
	assert_attempts(b2, 1);
	c_ok(sub, b2);
	expect_none(sub);
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 0);
}

static void
test_memory_gc(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	Client *pub;
	Client *fast;
	Client *slow;
	MsbTopic *topic;
	g_autoptr(RxPacket) f = NULL;
	g_autoptr(RxPacket) s = NULL;
	const guint8 *first;

	/* ten-byte messages and a 10,000-byte limit: 1,000 messages (one sub-page) per batch */
	config.max_delivery_size = 10000;
	fx = fixture_new_with(&config);
	pub = client_new(fx, 3, 0);
	fast = client_new(fx, 3, 0);
	slow = client_new(fx, 3, 0);
	topic = make_topic(fx, "orders");
	c_subscribe(fast, "orders", "fast", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(slow, "orders", "slow", MSB_QUEUE_TYPE_PERMANENT);

	expect_response(pub, c_publish_n(pub, "orders", 3000, 10));
	g_assert_cmpuint(g_hash_table_size(topic->sub_pages), ==, 3);
	g_assert_cmpint(topic->cached_messages, ==, 3000);

	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *expect = g_strdup_printf("%u-%u", i * 1000, i * 1000 + 999);
		g_clear_pointer(&f, rx_packet_free);
		f = expect_batch(fast, "orders", "fast");
		assert_ids(f, expect);
		c_ok(fast, f);
	}
	expect_none(fast);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "0-999");
	c_ok(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "1000-1999");

	/* the slow queue has 1000-1999 in flight: sub-page 0 goes, 1 and 2 stay */
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(g_hash_table_size(topic->sub_pages), ==, 2);
	g_assert_null(msb_topic_find_sub_page(topic, 999));
	g_assert_nonnull(msb_topic_find_sub_page(topic, 1000));
	g_assert_nonnull(msb_topic_find_sub_page(topic, 2999));
	g_assert_cmpint(topic->cached_messages, ==, 2000);
	g_assert_cmpint(topic->cached_bytes, ==, 20000);

	/* more arrives; fast takes it at once, slow still holds its batch */
	expect_response(pub, c_publish_n(pub, "orders", 1000, 10));
	g_clear_pointer(&f, rx_packet_free);
	f = expect_batch(fast, "orders", "fast");
	assert_ids(f, "3000-3999");
	c_ok(fast, f);
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(g_hash_table_size(topic->sub_pages), ==, 3);

	/* what the slow queue still needs is delivered intact, redelivery included */
	c_fail(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "1000-1999");
	assert_attempts(s, 1);
	g_assert_cmpuint(g_bytes_get_size(rx_msg(s, 999)->content), ==, 10);
	c_ok(slow, s);
	for (guint i = 2; i < 4; i++) {
		g_autofree gchar *expect = g_strdup_printf("%u-%u", i * 1000, i * 1000 + 999);
		g_clear_pointer(&s, rx_packet_free);
		s = expect_batch(slow, "orders", "slow");
		assert_ids(s, expect);
		assert_attempts(s, 0);
		/* message k of a publish holds 'a' + k % 26: id 2000 is k = 2000 of the first
		 * publish, id 3000 is k = 0 of the second */
		first = g_bytes_get_data(rx_msg(s, 0)->content, NULL);
		g_assert_cmpint(first[0], ==, i == 2 ? 'a' + 2000 % 26 : 'a');
		c_ok(slow, s);
	}
	expect_none(slow);

	/* everything confirmed everywhere: only the write sub-page is left, and it is empty */
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(g_hash_table_size(topic->sub_pages), ==, 1);
	g_assert_nonnull(msb_topic_find_sub_page(topic, 3999));
	g_assert_cmpint(topic->cached_messages, ==, 0);
	g_assert_cmpint(topic->cached_bytes, ==, 0);

	/* and publishing continues normally */
	expect_response(pub, c_publish1(pub, "orders", "z"));
	g_clear_pointer(&f, rx_packet_free);
	f = expect_batch(fast, "orders", "fast");
	assert_ids(f, "4000");
	assert_content(rx_msg(f, 0), "z");
}

/*
 * A batch that ends up empty (every id was "missing", which persistence produces) must leave the
 * output buffer as it was, even when writing its header made the buffer compact itself.
 */
static void
test_delivery_missing_rollback(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *two[] = {"a", "b", NULL};
	MsbTopic *topic = make_topic(fx, "orders");
	MsbQueue *queue;
	MsbBuf *out;
	g_autoptr(RxPacket) b = NULL;

	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	queue = find_queue(fx, "orders", "q");
	out = msb_session_get_output(sub->session);

	/* fill the output to its capacity and consume part of it, so the next write compacts */
	c_ping(sub);
	while (out->cap - out->len > 0)
		c_ping(sub);
	msb_buf_consume(out, out->len - 10);
	g_assert_cmpuint(out->off, >, 0);
	g_assert_cmpuint(msb_buf_pending(out), ==, 10);

	/* two messages the cache knows as missing, which the subscriber cannot be sent */
	{
		MsbWireMessage msgs[2] = {{0}};
		msgs[0].content = (const guint8 *)"a";
		msgs[0].content_len = 1;
		msgs[1].content = (const guint8 *)"b";
		msgs[1].content_len = 1;
		msb_topic_append(topic, msgs, 2, fx->wall);
	}
	msb_sub_page_put_missing(topic->write_sp, 0);
	msb_sub_page_put_missing(topic->write_sp, 1);
	msb_broker_session_drained(fx->broker, sub->session);

	/* the ids are consumed, nothing was sent and the ten pending Pongs are intact */
	g_assert_cmpint(msb_id_set_count(&queue->waiting), ==, 0);
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 0);
	g_assert_cmpuint(msb_buf_pending(out), ==, 10);
	{
		g_autoptr(GPtrArray) list = c_read(sub);
		g_assert_cmpuint(list->len, ==, 10);
		for (guint i = 0; i < list->len; i++)
			g_assert_cmpint(((RxPacket *)g_ptr_array_index(list, i))->id, ==,
			                MSB_PACKET_PONG);
	}

	/* delivery goes on with the next real message */
	expect_response(pub, c_publish(pub, "orders", two));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "2-3");
}

/* ---- the tick's GC pass, in slices ---- */

/* A delete-on-disconnect queue on @name whose only subscriber has gone (at fx->mono). */
static void
make_orphan_queue(Fixture *fx, const gchar *name)
{
	Client *c = client_new(fx, 3, 0);

	make_topic(fx, name);
	c_subscribe(c, name, "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	client_close(c);
	g_assert_nonnull(find_queue(fx, name, "temp"));
}

/* Remove @name the way deleting a topic would: out of the tree, then freed. */
static void
drop_topic(Fixture *fx, const gchar *name)
{
	g_assert_true(g_tree_remove(fx->broker->topics_by_name, name));
	g_assert_true(g_hash_table_remove(fx->broker->topics, name));
}

static void
test_tick_slices(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	const gchar *names[] = {"top0", "top1", "top2", "top3", "top4", "top5"};

	for (guint i = 0; i < G_N_ELEMENTS(names); i++)
		make_orphan_queue(fx, names[i]);
	fx->mono += 21 * SEC;

	/* the pass walks the topics in name order, two per slice */
	msb_broker_tick_begin(fx->broker);
	g_assert_true(msb_broker_tick_step(fx->broker, 2));
	g_assert_null(find_queue(fx, "top0", "temp"));
	g_assert_null(find_queue(fx, "top1", "temp"));
	g_assert_nonnull(find_queue(fx, "top2", "temp"));

	/* between slices: one topic goes (never touched again, ASan would say), one sorting
	 * before the cursor and one after it come */
	drop_topic(fx, "top2");
	make_orphan_queue(fx, "aaa-new");
	make_orphan_queue(fx, "top9");
	fx->mono += 21 * SEC;

	/* a tick during the pass goes on from the cursor rather than starting over */
	msb_broker_tick_begin(fx->broker);
	g_assert_true(msb_broker_tick_step(fx->broker, 2));
	g_assert_null(find_queue(fx, "top3", "temp"));
	g_assert_null(find_queue(fx, "top4", "temp"));
	g_assert_nonnull(find_queue(fx, "top5", "temp"));
	g_assert_nonnull(find_queue(fx, "aaa-new", "temp"));

	/* the one after the cursor is seen by this pass, which then ends */
	g_assert_false(msb_broker_tick_step(fx->broker, 2));
	g_assert_null(find_queue(fx, "top5", "temp"));
	g_assert_null(find_queue(fx, "top9", "temp"));
	g_assert_nonnull(find_queue(fx, "aaa-new", "temp"));
	g_assert_false(msb_broker_tick_step(fx->broker, 2));
	g_assert_nonnull(find_queue(fx, "aaa-new", "temp"));

	/* the one before it by the next pass */
	msb_broker_tick_begin(fx->broker);
	g_assert_true(msb_broker_tick_step(fx->broker, 1));
	g_assert_null(find_queue(fx, "aaa-new", "temp"));
	g_assert_false(msb_broker_tick_step(fx->broker, 100));

	/* the cursor is a name: dropping the last visited topic does not lose the place */
	make_orphan_queue(fx, "zzz1");
	make_orphan_queue(fx, "zzz2");
	fx->mono += 21 * SEC;
	msb_broker_tick_begin(fx->broker);
	/* aaa-new, top0, top1, top3, top4, top5, top9, zzz1 */
	g_assert_true(msb_broker_tick_step(fx->broker, 8));
	g_assert_null(find_queue(fx, "zzz1", "temp"));
	g_assert_nonnull(find_queue(fx, "zzz2", "temp"));
	drop_topic(fx, "zzz1");
	g_assert_false(msb_broker_tick_step(fx->broker, 1));
	g_assert_null(find_queue(fx, "zzz2", "temp"));
}

static void
test_tick_slices_memory(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	MsbTopic *first;
	MsbTopic *second;

	/* what an orphaned queue kept goes with it, in the slice that deletes it */
	make_orphan_queue(fx, "aaa");
	make_orphan_queue(fx, "bbb");
	first = msb_broker_find_topic(fx->broker, "aaa");
	second = msb_broker_find_topic(fx->broker, "bbb");
	expect_response(pub, c_publish_n(pub, "aaa", 2000, 10));
	expect_response(pub, c_publish_n(pub, "bbb", 2000, 10));
	g_assert_cmpuint(g_hash_table_size(first->sub_pages), ==, 2);
	g_assert_cmpint(first->cached_messages, ==, 2000);
	fx->mono += 21 * SEC;

	/* each slice collects the sub-pages of the topics it visits, and only those */
	msb_broker_tick_begin(fx->broker);
	g_assert_true(msb_broker_tick_step(fx->broker, 1));
	g_assert_null(find_queue(fx, "aaa", "temp"));
	g_assert_null(msb_topic_find_sub_page(first, 999));
	g_assert_cmpint(first->cached_messages, ==, 0);
	g_assert_nonnull(find_queue(fx, "bbb", "temp"));
	g_assert_cmpuint(g_hash_table_size(second->sub_pages), ==, 2);
	g_assert_cmpint(second->cached_messages, ==, 2000);
	g_assert_false(msb_broker_tick_step(fx->broker, 1));
	g_assert_null(msb_topic_find_sub_page(second, 999));
	g_assert_cmpint(second->cached_messages, ==, 0);
}

/* What adapters read of a session and a topic through the accessors (the structures are private
 * to src/broker): before and after Greeting and PacketVersions, and the output buffer. */
static void
test_session_accessors(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c = client_new_raw(fx);
	g_autoptr(GError) error = NULL;
	MsbTopic *topic;
	gint64 id = msb_session_get_id(c->session);
	Client *other;

	g_assert_cmpint(id, >=, 0);
	g_assert_cmpint(msb_session_get_kind(c->session), ==, MSB_SESSION_KIND_TCP);
	g_assert_true(msb_session_get_user_data(c->session) == c);
	g_assert_false(msb_session_is_greeted(c->session));
	g_assert_null(msb_session_get_name(c->session));
	g_assert_cmpint(msb_session_get_protocol_version(c->session), ==, 0);

	g_assert_true(c_greet_full(c, "billing;1.2;env", 3, &error));
	g_assert_no_error(error);
	g_assert_true(msb_session_is_greeted(c->session));
	g_assert_cmpstr(msb_session_get_name(c->session), ==, "billing");
	g_assert_cmpint(msb_session_get_protocol_version(c->session), ==, 3);
	c_versions(c, 1);
	g_assert_cmpint(msb_session_get_new_messages_version(c->session), ==, 1);

	/* the output buffer is where the broker writes for the client: a Pong appears there */
	g_assert_cmpuint(msb_buf_pending(msb_session_get_output(c->session)), ==, 0);
	c_ping(c);
	g_assert_cmpuint(msb_buf_pending(msb_session_get_output(c->session)), >, 0);
	expect_pong(c);
	g_assert_cmpuint(msb_buf_pending(msb_session_get_output(c->session)), ==, 0);

	other = client_new(fx, 2, 0);
	g_assert_cmpint(msb_session_get_id(other->session), !=, id);
	g_assert_cmpint(msb_session_get_protocol_version(other->session), ==, 2);
	msb_session_set_user_data(other->session, fx);
	g_assert_true(msb_session_get_user_data(other->session) == fx);
	msb_session_set_user_data(other->session, other);

	topic = msb_broker_create_topic(fx->broker, "orders", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(msb_topic_get_name(topic), ==, "orders");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	msb_test_log_init();

	g_test_add_func("/broker/session/accessors", test_session_accessors);
	g_test_add_func("/broker/publish/ids", test_publish_ids);
	g_test_add_func("/broker/publish/response-echo", test_publish_response_echo);
	g_test_add_func("/broker/publish/missing-topic", test_publish_missing_topic);
	g_test_add_func("/broker/topic/auto-create-on-publish", test_topic_auto_create_publish);
	g_test_add_func("/broker/topic/auto-create-on-subscribe", test_topic_auto_create_subscribe);
	g_test_add_func("/broker/topic/name-rules", test_topic_name_rules);
	g_test_add_func("/broker/queue/no-history", test_queue_no_history);
	g_test_add_func("/broker/queue/fan-out", test_queue_fan_out);
	g_test_add_func("/broker/delivery/one-batch-in-flight", test_delivery_one_batch_in_flight);
	g_test_add_func("/broker/delivery/ascending", test_delivery_ascending);
	g_test_add_func("/broker/delivery/max-size", test_delivery_max_size);
	g_test_add_func("/broker/delivery/competing", test_delivery_competing);
	g_test_add_func("/broker/delivery/zero-length", test_zero_length);
	g_test_add_func("/broker/delivery/missing-rollback", test_delivery_missing_rollback);
	g_test_add_func("/broker/confirm/all-ok", test_confirm_all_ok);
	g_test_add_func("/broker/confirm/fail-attempts", test_confirm_fail_attempts);
	g_test_add_func("/broker/confirm/some-ok", test_confirm_some_ok);
	g_test_add_func("/broker/confirm/intermediary", test_confirm_intermediary);
	g_test_add_func("/broker/confirm/intermediary-then-fail",
	                test_confirm_intermediary_then_fail);
	g_test_add_func("/broker/confirm/ignored", test_confirm_ignored);
	g_test_add_func("/broker/confirm/unknown", test_confirm_unknown);
	g_test_add_func("/broker/session/close-redelivers", test_session_close_redelivers);
	g_test_add_func("/broker/queue/single-connection", test_queue_single_connection);
	g_test_add_func("/broker/queue/type-change", test_queue_type_change);
	g_test_add_func("/broker/queue/type-unknown", test_queue_type_unknown);
	g_test_add_func("/broker/queue/gc", test_queue_gc);
	g_test_add_func("/broker/dead-subscriber/timeout", test_dead_subscriber_timeout);
	g_test_add_func("/broker/dead-subscriber/intermediary-refresh",
	                test_dead_subscriber_intermediary_refresh);
	g_test_add_func("/broker/dead-subscriber/close-in-callback",
	                test_dead_subscriber_close_in_callback);
	g_test_add_func("/broker/subscribe/duplicate", test_subscribe_duplicate);
	g_test_add_func("/broker/subscribe/missing-topic", test_subscribe_missing_topic);
	g_test_add_func("/broker/session/before-greeting", test_before_greeting);
	g_test_add_func("/broker/greeting/bad-version", test_greeting_bad_version);
	g_test_add_func("/broker/greeting/versions", test_greeting_versions);
	g_test_add_func("/broker/greeting/packet-versions", test_greeting_packet_versions);
	g_test_add_func("/broker/namespace/default", test_namespace_default);
	g_test_add_func("/broker/namespace/invalid", test_namespace_invalid);
	g_test_add_func("/broker/namespace/other", test_namespace_other);
	g_test_add_func("/broker/namespace/locked", test_namespace_locked);
	g_test_add_func("/broker/layout/p3-headers", test_layout_p3_headers);
	g_test_add_func("/broker/layout/p2", test_layout_p2);
	g_test_add_func("/broker/flow/slow-consumer", test_slow_consumer);
	g_test_add_func("/broker/shutdown", test_shutdown);
	g_test_add_func("/broker/gc/sub-pages", test_memory_gc);
	g_test_add_func("/broker/gc/tick-slices", test_tick_slices);
	g_test_add_func("/broker/gc/tick-slices-memory", test_tick_slices_memory);

	return g_test_run();
}
