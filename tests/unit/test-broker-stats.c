/*
 * MsbStatsCollection: what the copy holds, and the slicing: a step copies a bounded part, the
 * collection resumes where it stopped whatever changed in between, and what changed is in the
 * copy or not as msb-broker-stats.h promises (topics by name behind or ahead of the cursor,
 * queues removed before or after their topic was copied, sessions opened and closed meanwhile).
 */
#include <string.h>

#include "broker-fixture.h"
#include "msb-broker-stats.h"
#include "msb-session.h"

static const MsbTopicStats *
find_topic(const MsbBrokerStats *stats, const gchar *name)
{
	for (guint i = 0; i < stats->topics->len; i++) {
		const MsbTopicStats *t = msb_broker_stats_topic(stats, i);
		if (g_strcmp0(t->name, name) == 0)
			return t;
	}
	return NULL;
}

static const MsbSessionStats *
find_session(const MsbBrokerStats *stats, gint64 id)
{
	for (guint i = 0; i < stats->sessions->len; i++) {
		const MsbSessionStats *s = msb_broker_stats_session(stats, i);
		if (s->id == id)
			return s;
	}
	return NULL;
}

/* "a,b,c": the topic names in the order of the copy */
static gchar *
topic_names(const MsbBrokerStats *stats)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < stats->topics->len; i++)
		g_string_append_printf(out, "%s%s", i > 0 ? "," : "",
		                       msb_broker_stats_topic(stats, i)->name);
	return g_string_free(out, FALSE);
}

static void
test_stats_content(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(GPtrArray) batches = NULL;
	const MsbTopicStats *t;
	const MsbQueueStats *q;
	const MsbSubscriberStats *s;
	const MsbSessionStats *ss;

	make_topic(fx, "orders");
	make_topic(fx, "alpha");
	c_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(sub, "orders", "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	expect_response(pub, c_publish_n(pub, "orders", 3, 10));
	/* one batch for each queue */
	batches = c_read(sub);
	g_assert_cmpuint(batches->len, ==, 2);
	expect_response(pub, c_publish_n(pub, "orders", 1002, 5));
	fx->mono += 2 * SEC;

	stats = msb_broker_collect_stats(fx->broker);
	g_assert_cmpuint(stats->topics->len, ==, 2);
	g_assert_cmpstr(msb_broker_stats_topic(stats, 0)->name, ==, "alpha");
	t = find_topic(stats, "orders");
	g_assert_nonnull(t);
	g_assert_cmpint(t->next_id, ==, 1005);
	g_assert_cmpuint(t->messages_published, ==, 1005);
	g_assert_cmpint(t->cached_messages, ==, 1005);
	g_assert_cmpint(t->cached_bytes, ==, 3 * 10 + 1002 * 5);
	/* sub-pages 0 and 1, ascending */
	g_assert_cmpuint(t->n_sub_pages, ==, 2);
	g_assert_cmpint(msb_broker_stats_sub_page(stats, t, 0)->no, ==, 0);
	g_assert_cmpint(msb_broker_stats_sub_page(stats, t, 0)->amount, ==, 1000);
	g_assert_cmpint(msb_broker_stats_sub_page(stats, t, 1)->no, ==, 1);
	g_assert_cmpint(msb_broker_stats_sub_page(stats, t, 1)->amount, ==, 5);
	g_assert_cmpint(msb_broker_stats_sub_page(stats, t, 1)->size, ==, 25);

	g_assert_cmpuint(t->n_queues, ==, 2);
	q = msb_broker_stats_queue(stats, t, 0);
	g_assert_cmpstr(q->name, ==, "billing");
	g_assert_cmpint(q->type, ==, MSB_QUEUE_TYPE_PERMANENT);
	/* 0-2 are out in the batch, 3-1004 wait */
	g_assert_cmpint(q->in_flight, ==, 3);
	g_assert_cmpint(q->waiting, ==, 1002);
	g_assert_cmpuint(q->n_ranges, ==, 1);
	g_assert_cmpint(msb_broker_stats_range(stats, q, 0)->from, ==, 3);
	g_assert_cmpint(msb_broker_stats_range(stats, q, 0)->to, ==, 1004);
	g_assert_cmpuint(q->n_subscribers, ==, 1);
	s = msb_broker_stats_subscriber(stats, q, 0);
	g_assert_true(s->on_delivery);
	g_assert_cmpint(s->in_flight, ==, 3);
	g_assert_cmpint(s->busy_us, ==, 2 * SEC);
	g_assert_cmpint(s->session_id, ==, sub->session->id);
	q = msb_broker_stats_queue(stats, t, 1);
	g_assert_cmpstr(q->name, ==, "temp");
	g_assert_cmpint(q->type, ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	g_assert_true(msb_broker_stats_subscriber(stats, q, 0)->on_delivery);

	/* an empty queue shows its cursor */
	t = find_topic(stats, "alpha");
	g_assert_cmpuint(t->n_queues, ==, 0);
	g_assert_cmpuint(t->n_sub_pages, ==, 0);

	g_assert_cmpuint(stats->sessions->len, ==, 2);
	ss = find_session(stats, pub->session->id);
	g_assert_nonnull(ss);
	g_assert_cmpstr(ss->name, ==, pub->session->name);
	g_assert_cmpint(ss->protocol_version, ==, 3);
	g_assert_cmpuint(ss->publishes, ==, 2);
	g_assert_true(msb_broker_stats_session(stats, 0)->id <
	              msb_broker_stats_session(stats, 1)->id);
}

/* The copy outlives the broker state it was made from. */
static void
test_stats_independent(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c = client_new(fx, 3, 1);
	g_autoptr(MsbBrokerStats) stats = NULL;
	gint64 session_id = c->session->id;

	make_topic(fx, "orders");
	c_subscribe(c, "orders", "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	stats = msb_broker_collect_stats(fx->broker);
	client_close(c);
	fx->mono += 3600 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_null(find_queue(fx, "orders", "temp"));
	g_assert_cmpstr(msb_broker_stats_queue(stats, find_topic(stats, "orders"), 0)->name, ==,
	                "temp");
	g_assert_cmpstr(find_session(stats, session_id)->name, !=, NULL);
}

static void
test_stats_slices(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsCollection) collection = NULL;
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autofree gchar *names = NULL;
	Client *early = client_new(fx, 3, 1);
	Client *closed = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	Client *late;
	guint steps = 0;

	for (guint i = 1; i <= 6; i++) {
		g_autofree gchar *name = g_strdup_printf("topic-%u", i);
		make_topic(fx, name);
	}
	c_subscribe(sub, "topic-2", "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	c_subscribe(sub, "topic-5", "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);

	collection = msb_stats_collection_new(fx->broker);
	/* a budget of 1 copies one topic per step: topic-1, topic-2 */
	g_assert_false(msb_stats_collection_step(collection, 1));
	g_assert_false(msb_stats_collection_step(collection, 1));

	/* between steps: a topic behind the cursor and one ahead of it are created, the queues of
	 * topic-2 (copied) and topic-5 (not yet) are deleted, a session closes and one opens */
	make_topic(fx, "topic-0");
	make_topic(fx, "topic-9");
	client_close(sub);
	fx->mono += 3600 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_null(find_queue(fx, "topic-2", "temp"));
	g_assert_null(find_queue(fx, "topic-5", "temp"));
	client_close(closed);
	late = client_new(fx, 3, 1);

	while (!msb_stats_collection_step(collection, 1))
		steps++;
	stats = msb_stats_collection_finish(g_steal_pointer(&collection));
	/* topic-3 .. topic-6, topic-9, then the sessions (each step stopped at the budget) */
	g_assert_cmpuint(steps, >=, 5);

	/* each topic once, in name order: topic-0 came behind the cursor */
	names = topic_names(stats);
	g_assert_cmpstr(names, ==, "topic-1,topic-2,topic-3,topic-4,topic-5,topic-6,topic-9");
	g_assert_cmpuint(find_topic(stats, "topic-2")->n_queues, ==, 1);
	g_assert_cmpuint(find_topic(stats, "topic-5")->n_queues, ==, 0);

	/* sessions are copied after the topics: as they are then */
	g_assert_nonnull(find_session(stats, early->session->id));
	g_assert_nonnull(find_session(stats, late->session->id));
	g_assert_cmpuint(stats->sessions->len, ==, 2);

	/* a new collection sees everything */
	g_clear_pointer(&stats, msb_broker_stats_unref);
	stats = msb_broker_collect_stats(fx->broker);
	g_clear_pointer(&names, g_free);
	names = topic_names(stats);
	g_assert_cmpstr(names, ==,
	                "topic-0,topic-1,topic-2,topic-3,topic-4,topic-5,topic-6,topic-9");
}

/* A step stops at its budget: a topic with many ranges costs more than one without. */
static void
test_stats_budget(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbStatsCollection) collection = NULL;
	g_autoptr(MsbBrokerStats) stats = NULL;
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	MsbQueue *queue;

	make_topic(fx, "aaa");
	make_topic(fx, "bbb");
	make_topic(fx, "ccc");
	c_subscribe(sub, "aaa", "q", MSB_QUEUE_TYPE_PERMANENT);
	client_close(sub);
	expect_response(pub, c_publish_n(pub, "aaa", 100, 1));
	/* 50 ranges: every other id */
	queue = find_queue(fx, "aaa", "q");
	for (gint64 id = 1; id < 100; id += 2)
		msb_id_set_remove(&queue->waiting, id);
	g_assert_cmpuint(msb_id_set_n_ranges(&queue->waiting), ==, 50);

	collection = msb_stats_collection_new(fx->broker);
	/* "aaa" alone exceeds 40 units; it is copied whole, and the step stops after it */
	g_assert_false(msb_stats_collection_step(collection, 40));
	/* "bbb" and "ccc" cost 1 each, the sessions 1 each */
	g_assert_false(msb_stats_collection_step(collection, 2));
	g_assert_true(msb_stats_collection_step(collection, 10));
	stats = msb_stats_collection_finish(g_steal_pointer(&collection));
	g_assert_cmpuint(stats->topics->len, ==, 3);
	g_assert_cmpuint(msb_broker_stats_queue(stats, find_topic(stats, "aaa"), 0)->n_ranges, ==,
	                 50);
	g_assert_cmpint(
	        msb_broker_stats_range(
	                stats, msb_broker_stats_queue(stats, find_topic(stats, "aaa"), 0), 49)
	                ->from,
	        ==, 98);
}

/* Rates, the publish history, publishers and subscribers "active", the latency history and the
 * session byte counts, as the fake clock moves (node.md §6.4). */
static void
test_stats_per_second(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	const gsize sizes[] = {100, 300};
	g_autoptr(GPtrArray) rx = NULL;
	RxPacket *batch;
	const MsbTopicStats *t;
	const MsbQueueStats *q;
	const MsbSubscriberStats *ss;
	const gint32 *h;
	gint64 second = fx->mono / SEC;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	/* second S: two packets, three messages */
	expect_response(pub, c_publish_sizes(pub, "orders", 2, sizes));
	batch = expect_batch(sub, "orders", "billing");
	expect_response(pub, c_publish_n(pub, "orders", 1, 200));
	fx->mono += SEC / 4;
	c_ok(sub, batch); /* 250 ms for two messages */
	rx_packet_free(batch);
	batch = expect_batch(sub, "orders", "billing");
	{
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		t = find_topic(stats, "orders");
		/* nothing whole yet: the second is still being counted */
		g_assert_cmpint(t->messages_per_sec, ==, 0);
		g_assert_cmpint(t->packets_per_sec, ==, 0);
		g_assert_cmpuint(t->n_history, ==, 0);
		g_assert_cmpint(t->mean_message_size, ==, 200);
		g_assert_cmpuint(t->n_publishers, ==, 1);
		g_assert_cmpint(msb_broker_stats_publisher(stats, t, 0)->session_id, ==,
		                pub->session->id);
		g_assert_cmpint(msb_broker_stats_publisher(stats, t, 0)->active, ==, 2);
		q = msb_broker_stats_queue(stats, t, 0);
		ss = msb_broker_stats_subscriber(stats, q, 0);
		g_assert_cmpint(ss->active, ==, 2);
		g_assert_cmpuint(ss->n_history, ==, 0);
	}
	/* second S+1: the last message's batch fails after half a second */
	fx->mono = (second + 1) * SEC + SEC / 2;
	c_fail(sub, batch);
	rx_packet_free(batch);
	rx = c_read(sub); /* redelivered */
	g_assert_cmpuint(rx->len, ==, 1);
	{
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		t = find_topic(stats, "orders");
		g_assert_cmpint(t->messages_per_sec, ==, 3);
		g_assert_cmpint(t->packets_per_sec, ==, 2);
		g_assert_cmpuint(t->n_history, ==, 1);
		g_assert_cmpint(msb_broker_stats_history(stats, t->first_history)[0], ==, 3);
		g_assert_cmpint(msb_broker_stats_publisher(stats, t, 0)->active, ==, 1);
		q = msb_broker_stats_queue(stats, t, 0);
		ss = msb_broker_stats_subscriber(stats, q, 0);
		g_assert_cmpint(ss->active, ==, 2); /* the redelivery started now */
		g_assert_cmpuint(ss->n_history, ==, 1);
		/* 250,000 µs for 2 messages */
		g_assert_cmpint(msb_broker_stats_history(stats, ss->first_history)[0], ==, 125000);
	}
	/* S+4: nothing more happened */
	fx->mono = (second + 4) * SEC;
	{
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		const MsbSessionStats *ps = NULL;
		t = find_topic(stats, "orders");
		g_assert_cmpint(t->messages_per_sec, ==, 0);
		g_assert_cmpuint(t->n_history, ==, 4);
		h = msb_broker_stats_history(stats, t->first_history);
		g_assert_cmpint(h[0], ==, 3);
		g_assert_cmpint(h[1], ==, 0);
		g_assert_cmpint(h[3], ==, 0);
		g_assert_cmpint(msb_broker_stats_publisher(stats, t, 0)->active, ==, 0);
		q = msb_broker_stats_queue(stats, t, 0);
		ss = msb_broker_stats_subscriber(stats, q, 0);
		g_assert_cmpint(ss->active, ==, 0);
		g_assert_cmpuint(ss->n_history, ==, 4);
		h = msb_broker_stats_history(stats, ss->first_history);
		/* S+1: one message failed after 500 ms (its batch started at S + 250 ms) */
		g_assert_cmpint(h[0], ==, 125000);
		g_assert_cmpint(h[1], ==, -(SEC + SEC / 4));
		g_assert_cmpint(h[2], ==, 0);
		for (guint i = 0; i < stats->sessions->len; i++) {
			if (msb_broker_stats_session(stats, i)->id == pub->session->id)
				ps = msb_broker_stats_session(stats, i);
		}
		g_assert_nonnull(ps);
		g_assert_cmpstr(ps->namespace_name, ==, "default");
		g_assert_cmpint(ps->last_incoming_us, ==, -1); /* the fixture counts no bytes */
	}
	/* a publisher whose session closed is not shown */
	client_close(pub);
	{
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		g_assert_cmpuint(find_topic(stats, "orders")->n_publishers, ==, 0);
	}
}

/* What the adapter reports through msb_broker_session_count_io(). */
static void
test_stats_session_io(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *c = client_new(fx, 3, 1);
	gint64 second = fx->mono / SEC;
	g_autoptr(MsbBrokerStats) stats = NULL;
	const MsbSessionStats *ss;

	fx->wall += 90 * SEC;
	fx->mono = second * SEC + SEC / 10;
	msb_broker_session_count_io(fx->broker, c->session, 100, 0);
	msb_broker_session_count_io(fx->broker, c->session, 50, 4000);
	fx->mono = (second + 1) * SEC;
	msb_broker_session_count_io(fx->broker, c->session, 0, 10);
	fx->mono = (second + 1) * SEC + SEC / 2;
	stats = msb_broker_collect_stats(fx->broker);
	ss = msb_broker_stats_session(stats, 0);
	g_assert_cmpint(ss->id, ==, c->session->id);
	g_assert_cmpuint(ss->read_bytes, ==, 150);
	g_assert_cmpuint(ss->written_bytes, ==, 4010);
	g_assert_cmpint(ss->read_per_sec, ==, 150);
	g_assert_cmpint(ss->written_per_sec, ==, 4000);
	g_assert_cmpint(ss->last_incoming_us, ==, SEC + SEC / 2 - SEC / 10);
	g_assert_cmpint(ss->connected_us, ==, 90 * SEC);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/broker-stats/content", test_stats_content);
	g_test_add_func("/broker-stats/independent", test_stats_independent);
	g_test_add_func("/broker-stats/slices", test_stats_slices);
	g_test_add_func("/broker-stats/budget", test_stats_budget);
	g_test_add_func("/broker-stats/per-second", test_stats_per_second);
	g_test_add_func("/broker-stats/session-io", test_stats_session_io);

	return g_test_run();
}
