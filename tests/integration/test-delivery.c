/*
 * Queues and delivery against the real broker, mostly over raw sockets so that every batch is
 * seen: batches built up to MaxDeliverySize (content bytes, checked before adding, a big message
 * alone, empty messages delivered), one batch in flight per subscriber, ascending ids, competing
 * consumers (raw and libmsb-client), fan-out to every queue of a topic and new queues starting
 * empty, confirmations 8/13/14/15 with node.md §3.4 semantics and attempt numbers 0 then n,
 * returned messages redelivered at once, the queue types 0–3 and >3, re-subscribing with
 * another type (single-connection evicts, permanent again does not), and single-connection
 * eviction for types 2 and 3 (the evicted connection stays open, its late confirmation is
 * ignored and its unconfirmed messages go to the newcomer).
 */
#include "itest.h"

#define SMALL_BATCHES "MaxDeliverySize: 1000\n"

/* ---- helpers ---- */

static ItestRaw *
subscriber(ItestFixture *f, const gchar *topic, const gchar *queue, guint8 type)
{
	ItestRaw *r = itest_raw_connect(f->broker);

	itest_raw_greet(r, "subscriber", 3, 1);
	itest_raw_subscribe(r, topic, queue, type);
	/* handled; a batch it made due may come before or after the Pong */
	itest_raw_barrier(r);
	return r;
}

static ItestRaw *
publisher(ItestFixture *f, const gchar *topic)
{
	ItestRaw *r = itest_raw_connect(f->broker);

	itest_raw_greet(r, "publisher", 3, 1);
	itest_raw_create_topic(r, topic);
	itest_raw_sync(r);
	return r;
}

static void
publish_n(ItestRaw *pub, const gchar *topic, gint64 request_id, guint n, gsize size)
{
	itest_raw_publish_sized(pub, topic, request_id, n, size);
	itest_raw_expect_publish_response(pub, request_id);
}

/* The next packet is a batch with exactly the ids @first..@first+@n-1 and the given attempts
 * (NULL: all 0). */
static ItestPacket *
expect_batch(ItestRaw *r, gint64 first, guint n, const gint32 *attempts)
{
	ItestPacket *p = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);

	g_assert_cmpuint(p->messages->len, ==, n);
	for (guint i = 0; i < n; i++) {
		ItestMessage *m = itest_packet_message(p, i);
		g_assert_cmpint(m->id, ==, first + i);
		g_assert_cmpint(m->attempt, ==, attempts != NULL ? attempts[i] : 0);
	}
	return p;
}

/* The next packet is a batch with exactly @ids (ascending) and @attempts. */
static ItestPacket *
expect_batch_ids(ItestRaw *r, const gint64 *ids, const gint32 *attempts, guint n)
{
	ItestPacket *p = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);

	g_assert_cmpuint(p->messages->len, ==, n);
	for (guint i = 0; i < n; i++) {
		g_assert_cmpint(itest_packet_message(p, i)->id, ==, ids[i]);
		g_assert_cmpint(itest_packet_message(p, i)->attempt, ==, attempts[i]);
	}
	return p;
}

/* Nothing more has been sent to @r. */
static void
assert_quiet(ItestRaw *r)
{
	itest_raw_assert_quiet(r);
}

/* ---- batches ---- */

static void
test_batches(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = publisher(f, "batches");
	g_autoptr(ItestRaw) sub = subscriber(f, "batches", "q", 0);
	g_autoptr(ItestPacket) b1 = NULL;
	g_autoptr(ItestPacket) b2 = NULL;
	g_autoptr(ItestPacket) b3 = NULL;
	g_autoptr(ItestPacket) big = NULL;
	g_autoptr(ItestPacket) small = NULL;
	g_autoptr(ItestPacket) empties = NULL;

	/* 10 × 300 bytes with MaxDeliverySize 1000: 0, 300, 600, 900 are below the limit when
	 * checked, so a batch takes 4 messages (1200 bytes) */
	publish_n(pub, "batches", 1, 10, 300);
	b1 = expect_batch(sub, 0, 4, NULL);
	/* one batch in flight: nothing more until it is confirmed, even after another publish */
	assert_quiet(sub);
	publish_n(pub, "batches", 2, 1, 300);
	assert_quiet(sub);

	itest_raw_confirm(sub, TRUE, "batches", "q", b1->confirmation_id);
	b2 = expect_batch(sub, 4, 4, NULL);
	assert_quiet(sub);
	itest_raw_confirm(sub, TRUE, "batches", "q", b2->confirmation_id);
	b3 = expect_batch(sub, 8, 3, NULL);
	itest_raw_confirm(sub, TRUE, "batches", "q", b3->confirmation_id);
	assert_quiet(sub);

	/* a message bigger than the limit goes alone, and the next one gets its own batch */
	publish_n(pub, "batches", 3, 1, 5000);
	publish_n(pub, "batches", 4, 1, 10);
	big = expect_batch(sub, 11, 1, NULL);
	g_assert_cmpuint(g_bytes_get_size(itest_packet_message(big, 0)->content), ==, 5000);
	for (gsize i = 0; i < 5000; i++)
		g_assert_cmpuint(((const guint8 *)g_bytes_get_data(
		                         itest_packet_message(big, 0)->content, NULL))[i],
		                 ==, i & 0xff);
	assert_quiet(sub);
	itest_raw_confirm(sub, TRUE, "batches", "q", big->confirmation_id);
	small = expect_batch(sub, 12, 1, NULL);
	itest_raw_confirm(sub, TRUE, "batches", "q", small->confirmation_id);

	/* zero-length messages are delivered like any other (all five fit: 0 bytes < limit) */
	publish_n(pub, "batches", 5, 5, 0);
	empties = expect_batch(sub, 13, 5, NULL);
	for (guint i = 0; i < 5; i++)
		g_assert_cmpuint(g_bytes_get_size(itest_packet_message(empties, i)->content), ==,
		                 0);
	itest_raw_confirm(sub, TRUE, "batches", "q", empties->confirmation_id);
	assert_quiet(sub);
}

/* ---- competing consumers ---- */

static void
test_competing_raw(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = publisher(f, "work");
	ItestRaw *subs[3];
	gint64 cids[3];
	g_autoptr(ItestPacket) again = NULL;

	for (guint i = 0; i < 3; i++)
		subs[i] = subscriber(f, "work", "q", 0);
	/* each message goes to the first idle subscriber, in subscription order */
	for (guint i = 0; i < 3; i++) {
		g_autoptr(ItestPacket) p = NULL;
		publish_n(pub, "work", 1 + i, 1, 8);
		p = expect_batch(subs[i], i, 1, NULL);
		cids[i] = p->confirmation_id;
	}
	g_assert_cmpint(cids[0], !=, cids[1]);
	g_assert_cmpint(cids[1], !=, cids[2]);
	/* everybody busy: the next one waits */
	publish_n(pub, "work", 4, 1, 8);
	for (guint i = 0; i < 3; i++)
		assert_quiet(subs[i]);
	/* the one that confirms gets it */
	itest_raw_confirm(subs[1], TRUE, "work", "q", cids[1]);
	again = expect_batch(subs[1], 3, 1, NULL);
	g_assert_cmpint(again->confirmation_id, ==, cids[1]);
	assert_quiet(subs[0]);
	assert_quiet(subs[2]);
	for (guint i = 0; i < 3; i++)
		itest_raw_free(subs[i]);
}

typedef struct {
	GPtrArray *got;
	guint batches;
	gboolean ascending;
} Consumer;

static void
consumer_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	Consumer *c = user_data;
	guint before = c->got->len;

	itest_received_append(c->got, delivery);
	for (guint i = before + 1; i < c->got->len; i++) {
		const ItestReceived *a = g_ptr_array_index(c->got, i - 1);
		const ItestReceived *b = g_ptr_array_index(c->got, i);
		if (b->id <= a->id)
			c->ascending = FALSE;
	}
	c->batches++;
	msb_delivery_confirm_all(delivery);
}

static void
test_competing_clients(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) pub = itest_client_new(f->broker);
	g_autoptr(MsbClient) c1 = itest_client_new(f->broker);
	g_autoptr(MsbClient) c2 = itest_client_new(f->broker);
	Consumer k1 = {itest_received_new(), 0, TRUE};
	Consumer k2 = {itest_received_new(), 0, TRUE};
	g_autoptr(GError) error = NULL;
	g_autofree gboolean *seen = NULL;
	const guint n_publishes = 50;
	const guint per_publish = 20;
	const guint total = n_publishes * per_publish;

	itest_client_connect(pub);
	msb_client_create_topic(pub, "work", &error);
	g_assert_no_error(error);
	itest_client_sync(pub);
	msb_client_subscribe(c1, "work", "q", MSB_CLIENT_QUEUE_PERMANENT, consumer_cb, &k1, NULL,
	                     &error);
	g_assert_no_error(error);
	msb_client_subscribe(c2, "work", "q", MSB_CLIENT_QUEUE_PERMANENT, consumer_cb, &k2, NULL,
	                     &error);
	g_assert_no_error(error);
	itest_client_connect(c1);
	itest_client_connect(c2);
	itest_client_sync(c1);
	itest_client_sync(c2);

	for (guint i = 0; i < n_publishes; i++) {
		MsbMessage msgs[20];
		gchar text[20][16];
		for (guint j = 0; j < per_publish; j++) {
			g_snprintf(text[j], sizeof(text[j]), "m%u", i * per_publish + j);
			msgs[j] = (MsbMessage){(const guint8 *)text[j], strlen(text[j]), NULL, 0};
		}
		itest_client_publish(pub, "work", msgs, per_publish, &error);
		g_assert_no_error(error);
	}
	ITEST_WAIT_FOR(k1.got->len + k2.got->len >= total);

	/* every message exactly once over both consumers, each batch in ascending order */
	seen = g_new0(gboolean, total);
	for (guint k = 0; k < 2; k++) {
		Consumer *c = k == 0 ? &k1 : &k2;
		g_assert_true(c->ascending);
		for (guint i = 0; i < c->got->len; i++) {
			const ItestReceived *m = g_ptr_array_index(c->got, i);
			g_autofree gchar *expect = g_strdup_printf("m%" G_GINT64_FORMAT, m->id);
			g_assert_cmpint(m->id, >=, 0);
			g_assert_cmpint(m->id, <, total);
			g_assert_false(seen[m->id]);
			seen[m->id] = TRUE;
			g_assert_cmpint(m->attempt, ==, 0);
			g_assert_cmpmem(g_bytes_get_data(m->content, NULL),
			                g_bytes_get_size(m->content), expect, strlen(expect));
		}
	}
	g_assert_cmpuint(k1.got->len + k2.got->len, ==, total);
	g_test_message("consumer 1: %u messages in %u batches; consumer 2: %u in %u", k1.got->len,
	               k1.batches, k2.got->len, k2.batches);
	msb_client_close(c1);
	msb_client_close(c2);
	msb_client_close(pub);
	g_ptr_array_unref(k1.got);
	g_ptr_array_unref(k2.got);
}

/* ---- fan-out ---- */

static void
test_fan_out(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = publisher(f, "news");
	ItestRaw *subs[3];
	g_autoptr(ItestRaw) late = NULL;
	g_autoptr(ItestPacket) late_batch = NULL;

	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *queue = g_strdup_printf("queue-%u", i);
		subs[i] = subscriber(f, "news", queue, i == 1 ? 1 : 0);
	}
	publish_n(pub, "news", 1, 2, 16);
	for (guint i = 0; i < 3; i++) {
		g_autoptr(ItestPacket) p = expect_batch(subs[i], 0, 2, NULL);
		g_autofree gchar *queue = g_strdup_printf("queue-%u", i);
		g_assert_cmpstr(p->queue, ==, queue);
		itest_raw_confirm(subs[i], TRUE, "news", queue, p->confirmation_id);
	}
	/* a queue created now does not get the history */
	late = subscriber(f, "news", "late", 0);
	publish_n(pub, "news", 2, 1, 16);
	late_batch = expect_batch(late, 2, 1, NULL);
	for (guint i = 0; i < 3; i++) {
		itest_packet_free(expect_batch(subs[i], 2, 1, NULL));
		assert_quiet(subs[i]);
		itest_raw_free(subs[i]);
	}
	assert_quiet(late);
}

/* ---- confirmations and attempts ---- */

static void
test_confirmations(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = publisher(f, "acks");
	g_autoptr(ItestRaw) sub = subscriber(f, "acks", "q", 0);
	g_autoptr(ItestPacket) b1 = NULL;
	g_autoptr(ItestPacket) b2 = NULL;
	g_autoptr(ItestPacket) b3 = NULL;
	g_autoptr(ItestPacket) b4 = NULL;
	g_autoptr(ItestPacket) b5 = NULL;
	g_autoptr(ItestPacket) b6 = NULL;
	g_autoptr(ItestPacket) b7 = NULL;
	gint64 cid;

	publish_n(pub, "acks", 1, 5, 8);
	b1 = expect_batch(sub, 0, 5, NULL);
	cid = b1->confirmation_id;

	/* 15: 0 and 1 are done, the batch stays in flight, so a new message is not sent */
	{
		const gint64 ids[] = {0, 1};
		itest_raw_confirm_ids(sub, TRUE, "acks", "q", cid, ids, 2);
	}
	publish_n(pub, "acks", 2, 1, 8);
	assert_quiet(sub);

	/* 14 with {2}: 2 is done, 3 and 4 go back (attempt 1) and, the subscriber being idle,
	 * come again at once, before and together with the waiting 5 */
	{
		const gint64 ids[] = {2};
		itest_raw_confirm_ids(sub, FALSE, "acks", "q", cid, ids, 1);
	}
	{
		const gint64 ids[] = {3, 4, 5};
		const gint32 attempts[] = {1, 1, 0};
		b2 = expect_batch_ids(sub, ids, attempts, 3);
	}
	/* 13: all of them back, once more */
	itest_raw_confirm(sub, FALSE, "acks", "q", cid);
	{
		const gint64 ids[] = {3, 4, 5};
		const gint32 attempts[] = {2, 2, 1};
		b3 = expect_batch_ids(sub, ids, attempts, 3);
	}
	/* 15 then 13: only the rest that 15 did not confirm comes back */
	{
		const gint64 ids[] = {4};
		itest_raw_confirm_ids(sub, TRUE, "acks", "q", cid, ids, 1);
	}
	itest_raw_confirm(sub, FALSE, "acks", "q", cid);
	{
		const gint64 ids[] = {3, 5};
		const gint32 attempts[] = {3, 2};
		b4 = expect_batch_ids(sub, ids, attempts, 2);
	}
	/* 8: everything done; nothing comes back, and the attempt counters are gone */
	itest_raw_confirm(sub, TRUE, "acks", "q", cid);
	assert_quiet(sub);
	publish_n(pub, "acks", 3, 2, 8);
	b5 = expect_batch(sub, 6, 2, NULL);

	/* 14 listing ids that are not in the batch, and 15 listing nothing, change nothing for
	 * them: all in-flight ids that are not listed go back */
	{
		const gint64 none[] = {0};
		itest_raw_confirm_ids(sub, TRUE, "acks", "q", cid, none, 0);
		itest_raw_confirm_ids(sub, TRUE, "acks", "q", cid, none, 1);
	}
	assert_quiet(sub);
	{
		const gint64 ids[] = {100, 0};
		itest_raw_confirm_ids(sub, FALSE, "acks", "q", cid, ids, 2);
	}
	{
		const gint32 attempts[] = {1, 1};
		b6 = expect_batch(sub, 6, 2, attempts);
	}
	/* 14 listing every id is the same as 8 */
	{
		const gint64 ids[] = {6, 7};
		itest_raw_confirm_ids(sub, FALSE, "acks", "q", cid, ids, 2);
	}
	assert_quiet(sub);
	/* a confirmation for a batch that already ended is ignored */
	itest_raw_confirm(sub, FALSE, "acks", "q", cid);
	assert_quiet(sub);
	publish_n(pub, "acks", 4, 1, 8);
	b7 = expect_batch(sub, 8, 1, NULL);
	itest_raw_confirm(sub, TRUE, "acks", "q", cid);
	assert_quiet(sub);
}

static void
test_returned_at_once(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = publisher(f, "jobs");
	ItestRaw *holder = subscriber(f, "jobs", "q", 0);
	g_autoptr(ItestRaw) other = subscriber(f, "jobs", "q", 0);
	g_autoptr(ItestPacket) held = NULL;
	g_autoptr(ItestPacket) again = NULL;
	const gint32 attempts[] = {1, 1};

	publish_n(pub, "jobs", 1, 2, 8);
	held = expect_batch(holder, 0, 2, NULL);
	assert_quiet(other);
	/* the holder disconnects: the batch goes to the idle subscriber at once, with no publish
	 * or other event on the topic */
	itest_raw_free(holder);
	again = expect_batch(other, 0, 2, attempts);
	g_assert_cmpint(again->confirmation_id, !=, held->confirmation_id);
	itest_raw_confirm(other, TRUE, "jobs", "q", again->confirmation_id);
	assert_quiet(other);
}

/* ---- queue types ---- */

static void
test_queue_types(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = publisher(f, "types");
	/* every value is accepted: 0–3 as bit flags, anything above as delete-on-disconnect */
	const guint8 types[] = {0, 1, 2, 3, 4, 7, 255};
	ItestRaw *subs[G_N_ELEMENTS(types)];

	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autofree gchar *queue = g_strdup_printf("type-%u", types[i]);
		subs[i] = subscriber(f, "types", queue, types[i]);
	}
	publish_n(pub, "types", 1, 1, 8);
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(ItestPacket) p = expect_batch(subs[i], 0, 1, NULL);
		itest_raw_confirm(subs[i], TRUE, p->topic, p->queue, p->confirmation_id);
		assert_quiet(subs[i]);
		itest_raw_free(subs[i]);
	}
}

static void
test_single_connection_eviction(ItestFixture *f, gconstpointer data)
{
	const guint8 type = GPOINTER_TO_UINT(data) == 0 ? 2 : 3;
	g_autoptr(ItestRaw) pub = publisher(f, "single");
	g_autoptr(ItestRaw) first = subscriber(f, "single", "q", type);
	g_autoptr(ItestRaw) second = NULL;
	g_autoptr(ItestPacket) held = NULL;
	g_autoptr(ItestPacket) handed = NULL;
	g_autoptr(ItestPacket) next = NULL;
	const gint64 ids[] = {0, 1, 2};
	const gint32 attempts[] = {1, 1, 0};

	publish_n(pub, "single", 1, 2, 8);
	held = expect_batch(first, 0, 2, NULL);
	publish_n(pub, "single", 2, 1, 8);
	assert_quiet(first);

	/* the newcomer evicts the first subscriber and gets its unconfirmed messages (attempt
	 * advanced) together with what was waiting */
	second = subscriber(f, "single", "q", type);
	handed = expect_batch_ids(second, ids, attempts, 3);
	/* the evicted connection is still open, and its late confirmation is ignored */
	assert_quiet(first);
	itest_raw_confirm(first, TRUE, "single", "q", held->confirmation_id);
	assert_quiet(first);
	assert_quiet(second);

	/* only the newcomer gets new messages */
	itest_raw_confirm(second, TRUE, "single", "q", handed->confirmation_id);
	publish_n(pub, "single", 3, 1, 8);
	next = expect_batch(second, 3, 1, NULL);
	assert_quiet(first);
}

static void
test_type_change(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = publisher(f, "change");
	g_autoptr(ItestRaw) a = subscriber(f, "change", "q", 0);
	g_autoptr(ItestRaw) b = NULL;
	g_autoptr(ItestRaw) c = NULL;
	g_autoptr(ItestPacket) held = NULL;
	g_autoptr(ItestPacket) handed = NULL;
	g_autoptr(ItestPacket) to_c = NULL;
	g_autoptr(ItestPacket) after = NULL;
	const gint32 attempt1[] = {1};

	publish_n(pub, "change", 1, 1, 8);
	held = expect_batch(a, 0, 1, NULL);

	/* re-subscribing a permanent queue as single-connection evicts the existing subscriber
	 * (that the queue's type itself changes shows in its GC: see test-queue-gc.c) */
	b = subscriber(f, "change", "q", 2);
	handed = expect_batch(b, 0, 1, attempt1);
	assert_quiet(a);

	/* and back to permanent: no eviction this time, the two compete */
	c = subscriber(f, "change", "q", 0);
	assert_quiet(b);
	publish_n(pub, "change", 2, 1, 8);
	to_c = expect_batch(c, 1, 1, NULL);
	assert_quiet(b);
	assert_quiet(a);
	itest_raw_confirm(b, TRUE, "change", "q", handed->confirmation_id);
	publish_n(pub, "change", 3, 1, 8);
	after = expect_batch(b, 2, 1, NULL);
	assert_quiet(c);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/delivery/batches", SMALL_BATCHES, test_batches);
	ITEST_ADD("/delivery/competing-raw", NULL, test_competing_raw);
	ITEST_ADD("/delivery/competing-clients", NULL, test_competing_clients);
	ITEST_ADD("/delivery/fan-out", NULL, test_fan_out);
	ITEST_ADD("/delivery/confirmations", NULL, test_confirmations);
	ITEST_ADD("/delivery/returned-at-once", NULL, test_returned_at_once);
	ITEST_ADD("/queues/types", NULL, test_queue_types);
	g_test_add("/queues/single-connection/type-2", ItestFixture, GUINT_TO_POINTER(0),
	           itest_fixture_setup_default, test_single_connection_eviction,
	           itest_fixture_teardown);
	g_test_add("/queues/single-connection/type-3", ItestFixture, GUINT_TO_POINTER(1),
	           itest_fixture_setup_default, test_single_connection_eviction,
	           itest_fixture_teardown);
	ITEST_ADD("/queues/resubscribe-other-type", NULL, test_type_change);
	return g_test_run();
}
