/*
 * The persistence side of MsbBroker (msb-persist.h, README "Persistence decisions", node.md §4
 * and §5), driven through the broker-fixture harness with a fake persistence service: the test
 * takes save batches and settles them itself, keeps what was "saved" in a Store and answers
 * load_sub_page() requests from it when it chooses to, so every ordering can be checked.
 *
 * Covered: pending bookkeeping and save batches (order, content, one save per topic, fairness,
 * limits, retry), persist_immediately responses held in order, the memory ceiling, GC of saved
 * sub-pages, loading sub-pages back (read-ahead, missing ids, failures, merging with memory),
 * snapshots and the state generation, restore, a save → snapshot → restore round trip, and the
 * id reservations that keep ids from being reused after a crash (held answers and deliveries,
 * snapshot_wanted, failed snapshots, crashes and graceful restarts).
 */
#include <string.h>
#include <unistd.h>

#include "broker-fixture.h"
#include "msb-broker-private.h"
#include "msb-session.h"
#include "msb-test-log.h"

/* the ids in the expectations below are written out for this reservation */
G_STATIC_ASSERT(MSB_BROKER_ID_RESERVE == 100000);

/* ---- a fake persistence service ---- */

typedef struct {
	gint64 created_us;
	GBytes *headers; /* NULL: no headers */
	GBytes *content;
} StoredMessage;

typedef struct {
	GHashTable *messages; /* "topic/id" → StoredMessage*, owned */
} Store;

static void
stored_message_free(StoredMessage *m)
{
	if (m->headers != NULL)
		g_bytes_unref(m->headers);
	g_bytes_unref(m->content);
	g_free(m);
}

static Store *
store_new(void)
{
	Store *st = g_new0(Store, 1);

	st->messages = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                     (GDestroyNotify)stored_message_free);
	return st;
}

static void
store_free(Store *st)
{
	g_hash_table_unref(st->messages);
	g_free(st);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Store, store_free)

static gchar *
store_key(const gchar *topic, gint64 id)
{
	return g_strdup_printf("%s/%" G_GINT64_FORMAT, topic, id);
}

static void
store_put(Store *st, const gchar *topic, gint64 id, gint64 created_us, const guint8 *headers,
          gsize headers_len, const guint8 *content, gsize content_len)
{
	StoredMessage *m = g_new0(StoredMessage, 1);

	m->created_us = created_us;
	m->headers = headers != NULL ? g_bytes_new(headers, headers_len) : NULL;
	m->content = g_bytes_new(content, content_len);
	g_hash_table_replace(st->messages, store_key(topic, id), m);
}

static StoredMessage *
store_get(Store *st, const gchar *topic, gint64 id)
{
	g_autofree gchar *key = store_key(topic, id);
	return g_hash_table_lookup(st->messages, key);
}

/* Copy what a batch carries, as the adapter would send it. */
static void
store_keep(Store *st, const MsbSaveBatch *batch)
{
	for (guint i = 0; i < batch->messages->len; i++) {
		const MsbPendingMessage *pm = &g_array_index(batch->messages, MsbPendingMessage, i);
		store_put(st, batch->topic->name, pm->id, pm->created_us, pm->headers,
		          pm->headers_len, pm->content, pm->content_len);
	}
}

/* Save everything pending, batch by batch; returns the number of batches. */
static guint
store_save_all(Fixture *fx, Store *st)
{
	guint n = 0;

	for (;;) {
		MsbSaveBatch batch;
		msb_save_batch_init(&batch);
		if (!msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch)) {
			msb_save_batch_clear(&batch);
			break;
		}
		store_keep(st, &batch);
		msb_broker_save_done(fx->broker, &batch);
		msb_save_batch_clear(&batch);
		n++;
	}
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 0);
	return n;
}

/* Answer a load of sub-page @no of @topic with what the store holds, except the ids in @omit. */
static void
store_serve(Fixture *fx, Store *st, MsbTopic *topic, gint64 no, const MsbIdSet *omit)
{
	g_autoptr(GArray) msgs = g_array_new(FALSE, FALSE, sizeof(MsbLoadedMessage));

	for (gint64 id = no * MSB_SUB_PAGE_SIZE; id < (no + 1) * MSB_SUB_PAGE_SIZE; id++) {
		StoredMessage *m = store_get(st, topic->name, id);
		MsbLoadedMessage lm = {0};
		if (m == NULL || (omit != NULL && msb_id_set_contains(omit, id)))
			continue;
		lm.id = id;
		lm.created_us = m->created_us;
		if (m->headers != NULL)
			lm.headers = g_bytes_get_data(m->headers, &lm.headers_len);
		lm.content = g_bytes_get_data(m->content, &lm.content_len);
		g_array_append_val(msgs, lm);
	}
	msb_broker_sub_page_loaded(fx->broker, topic, no, (MsbLoadedMessage *)msgs->data,
	                           msgs->len);
}

/* Answer every load asked for since the last call, in order, with what the store has. */
static void
serve_loads(Fixture *fx, Store *st)
{
	g_autoptr(GArray) loads = fx->loads;

	fx->loads = g_array_new(FALSE, FALSE, sizeof(LoadRequest));
	for (guint i = 0; i < loads->len; i++) {
		LoadRequest *req = &g_array_index(loads, LoadRequest, i);
		store_serve(fx, st, req->topic, req->no, NULL);
	}
}

/* ---- helpers ---- */

static MsbBrokerConfig
persist_config(void)
{
	MsbBrokerConfig config = default_config();

	config.persistence = TRUE;
	return config;
}

static Fixture *
persist_fixture_new(void)
{
	MsbBrokerConfig config = persist_config();
	return fixture_new_with(&config);
}

/* "orders:0, orders:4": the load requests since the last call, which forgets them. */
static gchar *
take_loads(Fixture *fx)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < fx->loads->len; i++) {
		LoadRequest *req = &g_array_index(fx->loads, LoadRequest, i);
		g_string_append_printf(s, "%s%s:%" G_GINT64_FORMAT, i > 0 ? ", " : "",
		                       req->topic->name, req->no);
	}
	g_array_set_size(fx->loads, 0);
	return g_string_free(s, FALSE);
}

static void
assert_loads(Fixture *fx, const gchar *expect)
{
	g_autofree gchar *loads = take_loads(fx);
	g_assert_cmpstr(loads, ==, expect);
}

static gint
cmp_int64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;

	return x < y ? -1 : x > y;
}

/* "1, 2, 3, 5": the sub-pages of @topic in memory. */
static gchar *
cached_sub_pages(MsbTopic *topic)
{
	g_autoptr(GArray) nos = g_array_new(FALSE, FALSE, sizeof(gint64));
	GString *s = g_string_new(NULL);
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, topic->sub_pages);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_array_append_val(nos, ((MsbSubPage *)value)->no);
	g_array_sort(nos, cmp_int64);
	for (guint i = 0; i < nos->len; i++)
		g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i > 0 ? ", " : "",
		                       g_array_index(nos, gint64, i));
	return g_string_free(s, FALSE);
}

static void
assert_cached(MsbTopic *topic, const gchar *expect)
{
	g_autofree gchar *nos = cached_sub_pages(topic);
	g_assert_cmpstr(nos, ==, expect);
}

static void
assert_waiting(MsbQueue *queue, const gchar *expect)
{
	g_autofree gchar *ids = msb_id_set_to_string(&queue->waiting);
	g_assert_cmpstr(ids, ==, expect);
}

static void
assert_pending_message(const MsbSaveBatch *batch, guint i, gint64 id, gint64 created_us,
                       GBytes *headers, const gchar *content)
{
	const MsbPendingMessage *pm;

	g_assert_cmpuint(i, <, batch->messages->len);
	pm = &g_array_index(batch->messages, MsbPendingMessage, i);
	g_assert_cmpint(pm->id, ==, id);
	g_assert_cmpint(pm->created_us, ==, created_us);
	if (headers == NULL) {
		/* no headers: none at all (P = 2), or the block with zero pairs (P = 3) */
		if (pm->headers_len > 0) {
			g_assert_cmpuint(pm->headers_len, ==, 1);
			g_assert_cmpint(pm->headers[0], ==, 0);
		} else {
			g_assert_null(pm->headers);
		}
	} else {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(headers, &len);
		g_assert_cmpmem(pm->headers, pm->headers_len, data, len);
	}
	g_assert_cmpmem(pm->content, pm->content_len, content, strlen(content));
}

/* The ids of a batch as "0-2, 5"; checks that they ascend. */
static gchar *
save_batch_ids(const MsbSaveBatch *batch)
{
	GString *s = g_string_new(NULL);
	guint i = 0;

	while (i < batch->messages->len) {
		gint64 from = g_array_index(batch->messages, MsbPendingMessage, i).id;
		gint64 to = from;
		while (i + 1 < batch->messages->len &&
		       g_array_index(batch->messages, MsbPendingMessage, i + 1).id == to + 1) {
			i++;
			to++;
		}
		if (i + 1 < batch->messages->len)
			g_assert_cmpint(g_array_index(batch->messages, MsbPendingMessage, i + 1).id,
			                >, to);
		if (s->len > 0)
			g_string_append(s, ", ");
		if (from == to)
			g_string_append_printf(s, "%" G_GINT64_FORMAT, from);
		else
			g_string_append_printf(s, "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, from,
			                       to);
		i++;
	}
	return g_string_free(s, FALSE);
}

static void
assert_save_ids(const MsbSaveBatch *batch, gint64 from_id, gint64 to_id, const gchar *expect)
{
	g_autofree gchar *ids = save_batch_ids(batch);

	g_assert_cmpint(batch->from_id, ==, from_id);
	g_assert_cmpint(batch->to_id, ==, to_id);
	g_assert_cmpstr(ids, ==, expect);
}

static gint64
c_publish_persist(Client *c, const gchar *topic, guint n, const gchar *const *strs)
{
	g_autofree const guint8 **contents = g_new0(const guint8 *, n + 1);
	g_autofree gsize *lens = g_new0(gsize, n + 1);

	for (guint i = 0; i < n; i++) {
		contents[i] = (const guint8 *)strs[i];
		lens[i] = strlen(strs[i]);
	}
	return c_publish_full(c, topic, c->next_request_id++, n, NULL, contents, lens, TRUE);
}

static gint64
c_publish_persist1(Client *c, const gchar *topic, const gchar *str)
{
	const gchar *strs[] = {str};
	return c_publish_persist(c, topic, 1, strs);
}

/* Every PublishResponse the client got, in order, as "1, 2". */
static gchar *
read_responses(Client *c)
{
	g_autoptr(GPtrArray) list = c_read(c);
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < list->len; i++) {
		RxPacket *pkt = g_ptr_array_index(list, i);
		g_assert_cmpstr(msb_packet_id_to_string(pkt->id), ==,
		                msb_packet_id_to_string(MSB_PACKET_PUBLISH_RESPONSE));
		g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i > 0 ? ", " : "",
		                       pkt->request_id);
	}
	return g_string_free(s, FALSE);
}

static void
assert_responses(Client *c, const gchar *expect)
{
	g_autofree gchar *got = read_responses(c);
	g_assert_cmpstr(got, ==, expect);
}

static MsbTopicSnapshot *
snapshot_topic(GPtrArray *snaps, const gchar *name)
{
	for (guint i = 0; i < snaps->len; i++) {
		MsbTopicSnapshot *t = g_ptr_array_index(snaps, i);
		if (g_strcmp0(t->name, name) == 0)
			return t;
	}
	g_error("topic %s is not in the snapshot", name);
	return NULL;
}

static MsbQueueSnapshot *
snapshot_queue(MsbTopicSnapshot *t, const gchar *name)
{
	for (guint i = 0; i < t->queues->len; i++) {
		MsbQueueSnapshot *q = g_ptr_array_index(t->queues, i);
		if (g_strcmp0(q->name, name) == 0)
			return q;
	}
	g_error("queue %s/%s is not in the snapshot", t->name, name);
	return NULL;
}

/* Ranges as "0-2, 7" with the empty form written "{5, 4}". */
static gchar *
snapshot_ranges(MsbQueueSnapshot *q)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < q->ranges->len; i++) {
		const MsbIdRange *r = &g_array_index(q->ranges, MsbIdRange, i);
		if (i > 0)
			g_string_append(s, ", ");
		if (r->from > r->to)
			g_string_append_printf(s, "{%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "}",
			                       r->from, r->to);
		else if (r->from == r->to)
			g_string_append_printf(s, "%" G_GINT64_FORMAT, r->from);
		else
			g_string_append_printf(s, "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, r->from,
			                       r->to);
	}
	return g_string_free(s, FALSE);
}

static void
assert_snapshot_queue(MsbTopicSnapshot *t, const gchar *name, MsbQueueType type,
                      const gchar *expect)
{
	MsbQueueSnapshot *q = snapshot_queue(t, name);
	g_autofree gchar *ranges = snapshot_ranges(q);

	g_assert_cmpint(q->type, ==, type);
	g_assert_cmpstr(ranges, ==, expect);
}

static void
assert_msg_content(RxMessage *m, gchar c, gsize len)
{
	gsize got_len = 0;
	const guint8 *data = g_bytes_get_data(m->content, &got_len);

	g_assert_cmpuint(got_len, ==, len);
	for (gsize i = 0; i < len; i++)
		g_assert_cmpint(data[i], ==, c);
}

/* ---- saving ---- */

static void
test_save_pending(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	const MsbWireHeader hdrs[] = {{"trace-id", "abc"}, {"k", ""}};
	g_autoptr(GBytes) block = make_headers(hdrs, G_N_ELEMENTS(hdrs));
	const GBytes *headers[] = {block, NULL, NULL};
	const guint8 *contents[] = {(const guint8 *)"a", (const guint8 *)"bb",
	                            (const guint8 *)"ccc"};
	const gsize lens[] = {1, 2, 3};
	MsbTopic *orders = make_topic(fx, "orders");
	MsbTopic *other = make_topic(fx, "other");
	gint64 t0 = fx->wall;
	MsbSaveBatch a;
	MsbSaveBatch b;
	MsbSaveBatch c;
	MsbSaveBatch d;

	msb_save_batch_init(&a);
	msb_save_batch_init(&b);
	msb_save_batch_init(&c);
	msb_save_batch_init(&d);
	/* the topics are in a saved snapshot: their ids are reserved, so they may be seen */
	fixture_save_snapshot(fx);
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &a));
	g_assert_cmpuint(fx->save_wanted, ==, 0);

	/* a normal publish is answered from memory and becomes pending */
	expect_response(pub, c_publish_raw(pub, "orders", 1, 3, headers, contents, lens));
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 3);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 6);
	g_assert_cmpuint(fx->save_wanted, ==, 1);
	g_assert_cmpint(orders->durable_until, ==, 0);
	fx->wall += SEC;
	expect_response(pub, c_publish1(pub, "orders", "dddd"));
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 4);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 10);
	g_assert_cmpuint(fx->save_wanted, ==, 2);

	/* one batch with every pending message, in id order, with what was published */
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &a));
	g_assert_true(a.topic == orders);
	assert_save_ids(&a, 0, 3, "0-3");
	g_assert_cmpuint(a.bytes, ==, 10);
	assert_pending_message(&a, 0, 0, t0, block, "a");
	assert_pending_message(&a, 1, 1, t0, NULL, "bb");
	assert_pending_message(&a, 2, 2, t0, NULL, "ccc");
	assert_pending_message(&a, 3, 3, t0 + SEC, NULL, "dddd");
	g_assert_cmpuint(msb_broker_count_saves_in_flight(fx->broker), ==, 1);
	/* handing out is not saving: still pending, not durable */
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 4);
	g_assert_cmpint(orders->durable_until, ==, 0);

	/* while orders' save is in flight, a little more waits to ride its next save ... */
	expect_response(pub, c_publish1(pub, "orders", "eeeee"));
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &b));
	/* ... and another topic is not held up by it */
	expect_response(pub, c_publish1(pub, "other", "x"));
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &b));
	g_assert_true(b.topic == other);
	assert_save_ids(&b, 0, 0, "0");
	assert_pending_message(&b, 0, 0, fx->wall, NULL, "x");
	/* a sub-page's worth is worth a save of its own at once, from where the first one ended */
	expect_response(pub, c_publish_n(pub, "orders", 999, 2));
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &c));
	g_assert_true(c.topic == orders);
	assert_save_ids(&c, 4, 1003, "4-1003");
	assert_pending_message(&c, 0, 4, fx->wall, NULL, "eeeee");
	g_assert_cmpuint(msb_broker_count_saves_in_flight(fx->broker), ==, 3);
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &d));

	/* the later batch settles first: its ids are no longer pending, but the watermark waits
	 * for the ids below them */
	fx->save_wanted = 0;
	msb_broker_save_done(fx->broker, &c);
	g_assert_cmpint(orders->durable_until, ==, 0);
	g_assert_cmpint(orders->pending_count, ==, 4);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 5);
	g_assert_cmpuint(msb_broker_count_saves_in_flight(fx->broker), ==, 2);
	/* nothing new waits: no save is asked for */
	g_assert_cmpuint(fx->save_wanted, ==, 0);
	/* settled: no longer pending, durable over both batches */
	msb_broker_save_done(fx->broker, &a);
	g_assert_cmpint(orders->durable_until, ==, 1004);
	g_assert_cmpint(orders->pending_count, ==, 0);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 1);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 1);
	g_assert_cmpuint(msb_broker_count_saves_in_flight(fx->broker), ==, 1);
	msb_broker_save_done(fx->broker, &b);
	g_assert_cmpint(other->durable_until, ==, 1);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 0);
	g_assert_cmpuint(msb_broker_count_saves_in_flight(fx->broker), ==, 0);
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &a));

	msb_save_batch_clear(&a);
	msb_save_batch_clear(&b);
	msb_save_batch_clear(&c);
	msb_save_batch_clear(&d);
}

static void
test_save_limits(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	const gsize sizes[] = {10, 10, 10, 10, 40, 5, 5, 5, 5, 5};
	MsbTopic *orders = make_topic(fx, "orders");
	MsbSaveBatch batch;
	gint64 next = 0;

	msb_save_batch_init(&batch);
	/* the topics are in a saved snapshot: their ids are reserved, so they may be seen */
	fixture_save_snapshot(fx);
	expect_response(pub, c_publish_sizes(pub, "orders", G_N_ELEMENTS(sizes), sizes));

	/* at most max_bytes of content ... */
	g_assert_true(msb_broker_take_save_batch(fx->broker, 25, G_MAXUINT, &batch));
	assert_save_ids(&batch, 0, 1, "0-1");
	g_assert_cmpuint(batch.bytes, ==, 20);
	msb_broker_save_done(fx->broker, &batch);
	g_assert_cmpint(orders->durable_until, ==, 2);
	g_assert_true(msb_broker_take_save_batch(fx->broker, 25, G_MAXUINT, &batch));
	assert_save_ids(&batch, 2, 3, "2-3");
	msb_broker_save_done(fx->broker, &batch);
	/* ... but always at least one message, even one bigger than the limit */
	g_assert_true(msb_broker_take_save_batch(fx->broker, 25, G_MAXUINT, &batch));
	assert_save_ids(&batch, 4, 4, "4");
	g_assert_cmpuint(batch.bytes, ==, 40);
	msb_broker_save_done(fx->broker, &batch);
	/* and at most max_messages */
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 3, &batch));
	assert_save_ids(&batch, 5, 7, "5-7");
	msb_broker_save_done(fx->broker, &batch);
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 3, &batch));
	assert_save_ids(&batch, 8, 9, "8-9");
	msb_broker_save_done(fx->broker, &batch);
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 3, &batch));
	g_assert_cmpint(orders->durable_until, ==, 10);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);

	/* max_bytes 0 and one message per batch still make progress */
	expect_response(pub, c_publish_n(pub, "orders", 3, 7));
	for (next = 10; next < 13; next++) {
		g_autofree gchar *expect = g_strdup_printf("%" G_GINT64_FORMAT, next);
		g_assert_true(msb_broker_take_save_batch(fx->broker, 0, 1, &batch));
		assert_save_ids(&batch, next, next, expect);
		msb_broker_save_done(fx->broker, &batch);
	}
	g_assert_false(msb_broker_take_save_batch(fx->broker, 0, 1, &batch));
	g_assert_cmpint(orders->durable_until, ==, 13);
	msb_save_batch_clear(&batch);
}

static void
test_save_retry(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const gchar *three[] = {"a", "b", "c", NULL};
	MsbTopic *orders = make_topic(fx, "orders");
	g_autoptr(RxPacket) b = NULL;
	MsbSaveBatch batch;

	msb_save_batch_init(&batch);
	/* the topics are in a saved snapshot: their ids are reserved, so they may be seen */
	fixture_save_snapshot(fx);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish(pub, "orders", three));
	b = expect_batch(sub, "orders", "q");
	c_ok(sub, b);

	/* the save fails: nothing changes, and the same messages are handed out again */
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch));
	assert_save_ids(&batch, 0, 2, "0-2");
	msb_broker_save_failed(fx->broker, &batch);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 3);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 3);
	g_assert_cmpint(orders->durable_until, ==, 0);
	g_assert_cmpuint(msb_broker_count_saves_in_flight(fx->broker), ==, 0);

	/* confirmed and collectable, but not saved: GC keeps them */
	msb_broker_tick(fx->broker);
	assert_cached(orders, "0");
	g_assert_cmpint(orders->cached_messages, ==, 3);

	/* published meanwhile: the retry starts at the same id and takes the new one too */
	expect_response(pub, c_publish1(pub, "orders", "d"));
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "3");
	c_ok(sub, b);
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 2, &batch));
	assert_save_ids(&batch, 0, 1, "0-1");
	msb_broker_save_failed(fx->broker, &batch);
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch));
	assert_save_ids(&batch, 0, 3, "0-3");
	assert_pending_message(&batch, 0, 0, fx->wall, NULL, "a");
	assert_pending_message(&batch, 2, 2, fx->wall, NULL, "c");
	assert_pending_message(&batch, 3, 3, fx->wall, NULL, "d");
	msb_broker_save_done(fx->broker, &batch);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 0);
	g_assert_cmpint(orders->durable_until, ==, 4);
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch));
	msb_save_batch_clear(&batch);
}

/*
 * Saves of one topic in flight together, the middle one fails: what was saved above it stops
 * being pending, but neither the watermark nor a persist_immediately answer passes the failed
 * ids, and nothing is handed out until every save has settled; then the failed ids go again.
 */
static void
test_save_pipelined_failure(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *other = client_new(fx, 3, 0);
	MsbTopic *orders = make_topic(fx, "orders");
	g_autofree const guint8 **contents = g_new0(const guint8 *, 3000);
	g_autofree gsize *lens = g_new0(gsize, 3000);
	MsbSaveBatch batches[3];
	MsbSaveBatch retry;
	gint64 held;

	for (guint i = 0; i < G_N_ELEMENTS(batches); i++)
		msb_save_batch_init(&batches[i]);
	msb_save_batch_init(&retry);
	/* the topics are in a saved snapshot: their ids are reserved, so they may be seen */
	fixture_save_snapshot(fx);
	for (guint i = 0; i < 3000; i++) {
		contents[i] = (const guint8 *)"m";
		lens[i] = 1;
	}
	held = c_publish_full(pub, "orders", pub->next_request_id++, 3000, NULL, contents, lens,
	                      TRUE);
	/* a sub-page's worth each: worth saving side by side */
	for (guint i = 0; i < G_N_ELEMENTS(batches); i++) {
		g_autofree gchar *expect = g_strdup_printf("%u-%u", i * 1000, i * 1000 + 999);
		g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 1000, &batches[i]));
		assert_save_ids(&batches[i], i * 1000, i * 1000 + 999, expect);
	}
	g_assert_cmpuint(msb_broker_count_saves_in_flight(fx->broker), ==, 3);

	msb_broker_save_failed(fx->broker, &batches[1]);
	/* a publish meanwhile is not handed out while saves are still settling */
	expect_response(other, c_publish1(other, "orders", "d"));
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &retry));
	msb_broker_save_done(fx->broker, &batches[2]);
	g_assert_cmpint(orders->durable_until, ==, 0);
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &retry));
	msb_broker_save_done(fx->broker, &batches[0]);
	g_assert_cmpint(orders->durable_until, ==, 1000);
	g_assert_cmpuint(msb_broker_count_saves_in_flight(fx->broker), ==, 0);
	/* the failed ids and the new one are pending; those saved above the failed ones are not */
	g_assert_cmpint(orders->pending_count, ==, 1001);
	expect_none(pub);

	/* everything settled: the retry starts at the failed ids and steps over the saved ones */
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &retry));
	assert_save_ids(&retry, 1000, 3000, "1000-1999, 3000");
	assert_pending_message(&retry, 1000, 3000, fx->wall, NULL, "d");
	msb_broker_save_done(fx->broker, &retry);
	g_assert_cmpint(orders->durable_until, ==, 3001);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);
	{
		g_autofree gchar *expect = g_strdup_printf("%" G_GINT64_FORMAT, held);
		assert_responses(pub, expect);
	}
	for (guint i = 0; i < G_N_ELEMENTS(batches); i++)
		msb_save_batch_clear(&batches[i]);
	msb_save_batch_clear(&retry);
}

/*
 * A topic that always has something new when its save settles must not starve the others,
 * whatever the hash order.
 */
static void
test_save_fair(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	const gchar *names[] = {"aaa", "bbb", "ccc"};
	MsbSaveBatch batch;

	msb_save_batch_init(&batch);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		make_topic(fx, names[i]);
		fixture_save_snapshot(fx);
		expect_response(pub, c_publish1(pub, names[i], "x"));
	}
	/* whichever topic is served, it gets a new message before its save settles; still every
	 * topic is served within one round, and again in the next */
	for (guint round = 0; round < 2; round++) {
		g_autoptr(GHashTable) served = g_hash_table_new(g_str_hash, g_str_equal);
		for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
			g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT,
			                                         &batch));
			g_assert_false(g_hash_table_contains(served, batch.topic->name));
			g_hash_table_add(served, batch.topic->name);
			expect_response(pub, c_publish1(pub, batch.topic->name, "more"));
			msb_broker_save_done(fx->broker, &batch);
		}
		g_assert_cmpuint(g_hash_table_size(served), ==, G_N_ELEMENTS(names));
	}
	for (guint i = 0; i < G_N_ELEMENTS(names); i++)
		g_assert_cmpint(msb_broker_find_topic(fx->broker, names[i])->durable_until, >=, 2);
	msb_save_batch_clear(&batch);
}

/* ---- persist_immediately ---- */

static void
test_persist_immediately_held(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *a = client_new(fx, 3, 0);
	Client *b = client_new(fx, 3, 0);
	const gchar *two[] = {"p0", "p1"};
	MsbTopic *orders = make_topic(fx, "orders");
	MsbSaveBatch batch;
	gint64 held;
	gint64 after;

	msb_save_batch_init(&batch);
	/* the topics are in a saved snapshot: their ids are reserved, so they may be seen */
	fixture_save_snapshot(fx);
	/* held until persistence has both ids (0 and 1) */
	held = c_publish_persist(a, "orders", 2, two);
	expect_none(a);
	g_assert_cmpint(orders->next_id, ==, 2);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 2);
	/* a normal publish behind it on the same connection waits too, to keep the order */
	after = c_publish1(a, "orders", "n2");
	expect_none(a);
	/* another connection is not held up */
	expect_response(b, c_publish1(b, "orders", "n3"));

	/* a save covering only id 0 is not enough */
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 1, &batch));
	assert_save_ids(&batch, 0, 0, "0");
	msb_broker_save_done(fx->broker, &batch);
	expect_none(a);
	/* a failed save of id 1 releases nothing either */
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 1, &batch));
	assert_save_ids(&batch, 1, 1, "1");
	msb_broker_save_failed(fx->broker, &batch);
	expect_none(a);
	/* id 1 durable: both answers go out, in publish order */
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 1, &batch));
	assert_save_ids(&batch, 1, 1, "1");
	msb_broker_save_done(fx->broker, &batch);
	{
		g_autofree gchar *expect =
		        g_strdup_printf("%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT, held, after);
		assert_responses(a, expect);
	}
	/* nothing held any more: a normal publish is answered at once */
	expect_response(a, c_publish1(a, "orders", "n4"));

	/* two persist_immediately publishes in a row, released by one save */
	held = c_publish_persist1(a, "orders", "p5");
	after = c_publish_persist1(a, "orders", "p6");
	expect_none(a);
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch));
	assert_save_ids(&batch, 2, 6, "2-6");
	msb_broker_save_done(fx->broker, &batch);
	{
		g_autofree gchar *expect =
		        g_strdup_printf("%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT, held, after);
		assert_responses(a, expect);
	}
	expect_none(b);
	msb_save_batch_clear(&batch);
}

/* A failed publish behind a held answer keeps its place: clients match a Reject to their oldest
 * unanswered publish, so it must not overtake the held PublishResponse. */
static void
test_persist_immediately_reject_order(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *a = client_new(fx, 3, 0);
	MsbSaveBatch batch;
	gint64 held;

	msb_save_batch_init(&batch);
	make_topic(fx, "orders");
	fixture_save_snapshot(fx);
	held = c_publish_persist1(a, "orders", "p0");
	expect_none(a);
	c_publish1(a, "missing", "x");
	/* the Reject waits behind the held response */
	expect_none(a);
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch));
	msb_broker_save_done(fx->broker, &batch);
	{
		g_autoptr(GPtrArray) list = c_read(a);
		RxPacket *first;
		RxPacket *second;
		g_assert_cmpuint(list->len, ==, 2);
		first = g_ptr_array_index(list, 0);
		second = g_ptr_array_index(list, 1);
		g_assert_cmpint(first->id, ==, MSB_PACKET_PUBLISH_RESPONSE);
		g_assert_cmpint(first->request_id, ==, held);
		g_assert_cmpint(second->id, ==, MSB_PACKET_REJECT);
		g_assert_cmpstr(second->text, ==, "TopicNotFound { topic_id: \"missing\" }");
	}
	/* with nothing held, a Reject goes out at once */
	c_publish1(a, "missing", "y");
	expect_reject_exact(a, "TopicNotFound { topic_id: \"missing\" }");
	msb_save_batch_clear(&batch);
}

static void
test_persist_immediately_not_persisted(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Fixture) mem = fixture_new();
	Client *a = client_new(fx, 3, 0);
	Client *m = client_new(mem, 3, 0);
	MsbTopic *volatile_topic = make_topic(fx, "volatile");
	MsbSaveBatch batch;

	msb_save_batch_init(&batch);
	/* a topic with persist = false: nothing will be saved, nothing to wait for */
	volatile_topic->persist = FALSE;
	volatile_topic->track_pending = FALSE;
	/* its ids are reserved like any other topic's */
	fixture_save_snapshot(fx);
	expect_response(a, c_publish_persist1(a, "volatile", "x"));
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);
	g_assert_cmpuint(fx->save_wanted, ==, 0);
	g_assert_cmpint(volatile_topic->durable_until, ==, 1);
	g_assert_false(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch));
	expect_response(a, c_publish1(a, "volatile", "y"));

	/* a broker without persistence */
	make_topic(mem, "orders");
	expect_response(m, c_publish_persist1(m, "orders", "x"));
	expect_response(m, c_publish1(m, "orders", "y"));
	g_assert_cmpint(msb_broker_get_pending_count(mem->broker), ==, 0);
	g_assert_cmpuint(mem->save_wanted, ==, 0);
	g_assert_false(msb_broker_take_save_batch(mem->broker, G_MAXSIZE, G_MAXUINT, &batch));
	msb_save_batch_clear(&batch);
}

static void
test_persist_immediately_close(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Store) st = store_new();
	Client *a = client_new(fx, 3, 0);
	Client *b = client_new(fx, 3, 0);
	MsbSession *gone;

	make_topic(fx, "orders");
	fixture_save_snapshot(fx);
	c_publish_persist1(a, "orders", "a0");
	c_publish1(a, "orders", "a1");
	c_publish_persist1(a, "orders", "a2");
	expect_none(a);
	c_publish_persist1(b, "orders", "b3");
	expect_none(b);

	/* the held answers die with the connection (ASan checks they are freed) ... */
	gone = a->session;
	g_assert_true(g_hash_table_contains(fx->broker->waiting_sessions, gone));
	client_close(a);
	/* ... and the save that would have released them touches neither it nor them (the
	 * broker may not even remember it: reading a freed session inside GLib is invisible to
	 * ASan) */
	g_assert_false(g_hash_table_contains(fx->broker->waiting_sessions, gone));
	g_assert_true(g_hash_table_contains(fx->broker->waiting_sessions, b->session));
	g_assert_cmpuint(store_save_all(fx, st), ==, 1);
	g_assert_cmpuint(g_hash_table_size(fx->broker->waiting_sessions), ==, 0);
	assert_responses(b, "1");
	g_assert_nonnull(store_get(st, "orders", 2));
}

/* ---- the memory ceiling ---- */

static void
test_memory_ceiling(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = NULL;
	g_autoptr(Store) st = store_new();
	Client *pub;
	Client *sub;
	Client *vsub;
	MsbTopic *orders;
	MsbTopic *other;
	MsbTopic *volatile_topic;
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(RxPacket) vb = NULL;

	config.max_pending_bytes = 100;
	fx = fixture_new_with(&config);
	pub = client_new(fx, 3, 0);
	sub = client_new(fx, 3, 0);
	vsub = client_new(fx, 3, 0);
	orders = make_topic(fx, "orders");
	other = make_topic(fx, "other");
	volatile_topic = make_topic(fx, "volatile");
	volatile_topic->persist = FALSE;
	volatile_topic->track_pending = FALSE;
	/* the topics are in a saved snapshot: their ids are reserved, so they may be seen */
	fixture_save_snapshot(fx);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(vsub, "volatile", "q", MSB_QUEUE_TYPE_PERMANENT);

	/* below the ceiling a publish is accepted, even one that takes it past the limit */
	expect_response(pub, c_publish_n(pub, "orders", 9, 10));
	expect_response(pub, c_publish_n(pub, "orders", 1, 15));
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 105);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-8");

	/* at the ceiling: Reject with the reason, no PublishResponse, nothing appended */
	c_publish1(pub, "orders", "refused");
	expect_reject(pub, "PersistenceUnavailable");
	g_assert_cmpint(orders->next_id, ==, 10);
	/* the ceiling is over all persisted topics, and persist_immediately is refused too */
	c_publish1(pub, "other", "refused");
	expect_reject(pub, "PersistenceUnavailable");
	c_publish_persist1(pub, "orders", "refused");
	expect_reject(pub, "PersistenceUnavailable");
	g_assert_cmpint(other->next_id, ==, 0);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 105);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 10);

	/* a topic that is not persisted is not limited; deliveries and confirmations go on */
	expect_response(pub, c_publish1(pub, "volatile", "v"));
	vb = expect_batch(vsub, "volatile", "q");
	assert_ids(vb, "0");
	c_ok(vsub, vb);
	c_ok(sub, b);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "9");
	c_ok(sub, b);

	/* persistence catches up: room again */
	store_save_all(fx, st);
	expect_response(pub, c_publish1(pub, "orders", "ok"));
	expect_response(pub, c_publish1(pub, "other", "ok"));
	g_assert_cmpint(orders->next_id, ==, 11);
	g_assert_cmpint(other->next_id, ==, 1);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "10");
	assert_content(rx_msg(b, 0), "ok");
	expect_none(pub);
}

/* ---- GC with persistence ---- */

/*
 * Six sub-pages (0-5999, ten bytes each, 1,000 messages a batch), all saved; "fast" has
 * consumed everything, "slow" holds 0-999 in flight and waits for 1000-5999.
 */
static MsbTopic *
setup_lagging(Fixture *fx, Store *st, Client **pub_out, Client **fast_out, Client **slow_out,
              RxPacket **slow_batch)
{
	Client *pub = client_new(fx, 3, 0);
	Client *fast = client_new(fx, 3, 0);
	Client *slow = client_new(fx, 3, 0);
	MsbTopic *topic = make_topic(fx, "orders");

	fixture_save_snapshot(fx);
	c_subscribe(fast, "orders", "fast", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(slow, "orders", "slow", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_n(pub, "orders", 6000, 10));
	for (guint i = 0; i < 6; i++) {
		g_autofree gchar *expect = g_strdup_printf("%u-%u", i * 1000, i * 1000 + 999);
		g_autoptr(RxPacket) f = expect_batch(fast, "orders", "fast");
		assert_ids(f, expect);
		c_ok(fast, f);
	}
	expect_none(fast);
	*slow_batch = expect_batch(slow, "orders", "slow");
	assert_ids(*slow_batch, "0-999");
	if (st != NULL)
		store_save_all(fx, st);
	*pub_out = pub;
	*fast_out = fast;
	*slow_out = slow;
	return topic;
}

static MsbBrokerConfig
lagging_config(gboolean persistence)
{
	MsbBrokerConfig config = persistence ? persist_config() : default_config();

	config.max_delivery_size = 10000;
	return config;
}

static void
test_gc_persisted(void)
{
	MsbBrokerConfig config = lagging_config(TRUE);
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	g_autoptr(Store) st = store_new();
	g_autoptr(RxPacket) s = NULL;
	Client *pub;
	Client *fast;
	Client *slow;
	MsbTopic *topic = setup_lagging(fx, NULL, &pub, &fast, &slow, &s);

	/* nothing is saved yet: everything stays, however little any queue needs it */
	msb_broker_tick(fx->broker);
	assert_cached(topic, "0, 1, 2, 3, 4, 5");

	/* saved: kept are the sub-pages slow reads now and next (1-3) and the write sub-page;
	 * 0 (in flight, reloadable) and 4 (slow needs it, later) go */
	store_save_all(fx, st);
	assert_cached(topic, "1, 2, 3, 5");
	g_assert_cmpint(topic->cached_messages, ==, 4000);
	g_assert_cmpint(topic->cached_bytes, ==, 40000);
	msb_broker_tick(fx->broker);
	assert_cached(topic, "1, 2, 3, 5");
	assert_loads(fx, "");

	/* a sub-page with pending ids is never dropped, nor the write sub-page */
	expect_response(pub, c_publish_n(pub, "orders", 2000, 10));
	for (guint i = 6; i < 8; i++) {
		g_autofree gchar *expect = g_strdup_printf("%u-%u", i * 1000, i * 1000 + 999);
		g_autoptr(RxPacket) f = expect_batch(fast, "orders", "fast");
		assert_ids(f, expect);
		c_ok(fast, f);
	}
	msb_broker_tick(fx->broker);
	assert_cached(topic, "1, 2, 3, 6, 7");
	/* the sub-page with id 6500 pending stays once the rest of it is saved */
	{
		MsbSaveBatch batch;
		msb_save_batch_init(&batch);
		g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 1500, &batch));
		assert_save_ids(&batch, 6000, 7499, "6000-7499");
		store_keep(st, &batch);
		msb_broker_save_done(fx->broker, &batch);
		msb_save_batch_clear(&batch);
	}
	msb_broker_tick(fx->broker);
	assert_cached(topic, "1, 2, 3, 7");
	g_assert_cmpuint(store_save_all(fx, st), ==, 1);
	msb_broker_tick(fx->broker);
	assert_cached(topic, "1, 2, 3, 7");

	/* everything consumed everywhere: only the (empty) write sub-page is left */
	c_ok(slow, s);
	for (guint i = 1; i < 8; i++) {
		g_autofree gchar *expect = g_strdup_printf("%u-%u", i * 1000, i * 1000 + 999);
		/* the sub-pages slow reaches are asked for ahead of time */
		serve_loads(fx, st);
		g_clear_pointer(&s, rx_packet_free);
		s = expect_batch(slow, "orders", "slow");
		assert_ids(s, expect);
		c_ok(slow, s);
	}
	expect_none(slow);
	msb_broker_tick(fx->broker);
	assert_cached(topic, "7");
	g_assert_cmpint(topic->cached_messages, ==, 0);
	g_assert_cmpint(topic->cached_bytes, ==, 0);
}

static void
test_gc_in_memory(void)
{
	MsbBrokerConfig config = lagging_config(FALSE);
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	MsbBrokerConfig pconfig = lagging_config(TRUE);
	g_autoptr(Fixture) pfx = fixture_new_with(&pconfig);
	g_autoptr(RxPacket) s = NULL;
	g_autoptr(RxPacket) ps = NULL;
	Client *pub;
	Client *fast;
	Client *slow;
	MsbTopic *topic = setup_lagging(fx, NULL, &pub, &fast, &slow, &s);
	MsbTopic *ptopic;

	/* without persistence there is no other copy: everything slow needs stays */
	g_assert_false(topic->track_pending);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);
	msb_broker_tick(fx->broker);
	assert_cached(topic, "0, 1, 2, 3, 4, 5");
	c_ok(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "1000-1999");
	msb_broker_tick(fx->broker);
	assert_cached(topic, "1, 2, 3, 4, 5");
	assert_loads(fx, "");

	/* the same with persistence on but a topic with persist = false */
	ptopic = make_topic(pfx, "volatile");
	ptopic->persist = FALSE;
	ptopic->track_pending = FALSE;
	fixture_save_snapshot(pfx);
	pub = client_new(pfx, 3, 0);
	slow = client_new(pfx, 3, 0);
	c_subscribe(slow, "volatile", "slow", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_n(pub, "volatile", 6000, 10));
	ps = expect_batch(slow, "volatile", "slow");
	assert_ids(ps, "0-999");
	msb_broker_tick(pfx->broker);
	assert_cached(ptopic, "0, 1, 2, 3, 4, 5");
	g_assert_cmpint(msb_broker_get_pending_count(pfx->broker), ==, 0);
	assert_loads(pfx, "");
}

/* ---- loading sub-pages back ---- */

static void
test_load_lagging(void)
{
	MsbBrokerConfig config = lagging_config(TRUE);
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	g_autoptr(Store) st = store_new();
	g_autoptr(RxPacket) s = NULL;
	Client *pub;
	Client *fast;
	Client *slow;
	MsbTopic *topic = setup_lagging(fx, st, &pub, &fast, &slow, &s);
	MsbIdSet omit;

	assert_cached(topic, "1, 2, 3, 5");
	assert_loads(fx, "");

	/* slow's batch comes back: sub-page 0 was collected, so it is asked for and the batch
	 * ends there (nothing is sent; the ids stay waiting). Slow now reads 0, 1 and 2 next:
	 * sub-page 3 may go. */
	c_fail(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	assert_loads(fx, "orders:0");
	assert_cached(topic, "1, 2, 5");
	expect_none(slow);
	g_assert_cmpuint(msb_broker_count_batches_in_flight(fx->broker), ==, 0);
	g_assert_cmpint(msb_id_set_min(&find_queue(fx, "orders", "slow")->waiting), ==, 0);
	/* not asked again while it is loading */
	msb_broker_wake_topic(fx->broker, topic);
	c_ping(slow);
	expect_pong(slow);
	assert_loads(fx, "");

	/* a failed load installs nothing; the next pass asks again */
	msb_broker_sub_page_load_failed(fx->broker, topic, 0);
	assert_cached(topic, "1, 2, 5");
	expect_none(slow);
	assert_loads(fx, "");
	msb_broker_wake_topic(fx->broker, topic);
	assert_loads(fx, "orders:0");
	expect_none(slow);

	/* loaded, with 500-509 not found: those are skipped, the rest goes out in order and
	 * the batch continues into sub-page 1 */
	msb_id_set_init(&omit, 0);
	msb_id_set_add_range(&omit, 500, 509);
	store_serve(fx, st, topic, 0, &omit);
	msb_id_set_clear(&omit);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "0-499, 510-1009");
	/* the loaded content is the saved one: message k holds 'a' + k % 26 */
	assert_msg_content(rx_msg(s, 0), 'a', 10);
	assert_msg_content(rx_msg(s, 499), 'a' + 499 % 26, 10);
	assert_msg_content(rx_msg(s, 500), 'a' + 510 % 26, 10);
	assert_msg_content(rx_msg(s, 999), 'a' + 1009 % 26, 10);
	g_assert_cmpint(rx_msg(s, 0)->attempt, ==, 1);
	g_assert_cmpint(rx_msg(s, 999)->attempt, ==, 0);
	{
		MsbSubPage *sp = msb_topic_find_sub_page(topic, 0);
		g_assert_nonnull(sp);
		g_assert_cmpuint(sp->n_loaded, ==, 990);
		g_assert_cmpuint(sp->n_missing, ==, 10);
		g_assert_cmpint(msb_sub_page_get(sp, 505)->state, ==, MSB_MESSAGE_MISSING);
		g_assert_cmpint(msb_sub_page_get(sp, 0)->created_us, ==, fx->wall);
	}
	/* reading sub-page 1 asks for 3 again */
	assert_loads(fx, "orders:3");
	store_serve(fx, st, topic, 3, NULL);
	expect_none(slow);

	/* read-ahead: once slow reads sub-page 2, sub-page 4 is asked for, before slow needs it */
	c_ok(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "1010-2009");
	assert_loads(fx, "orders:4");
	c_ok(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "2010-3009");
	c_ok(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	/* the load has not come back: the batch ends at sub-page 4, and it is not asked again */
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "3010-3999");
	assert_loads(fx, "");
	store_serve(fx, st, topic, 4, NULL);
	expect_none(slow);
	c_ok(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "4000-4999");
	assert_msg_content(rx_msg(s, 0), 'a' + 4000 % 26, 10);
	c_ok(slow, s);
	g_clear_pointer(&s, rx_packet_free);
	s = expect_batch(slow, "orders", "slow");
	assert_ids(s, "5000-5999");
	c_ok(slow, s);
	expect_none(slow);
	assert_loads(fx, "");
	g_assert_cmpint(msb_id_set_count(&find_queue(fx, "orders", "slow")->waiting), ==, 0);
}

/*
 * A restored backlog of six sub-pages, none in memory: the one needed now is asked for first,
 * then the next ones; they may come back in any order.
 */
static void
test_load_read_ahead(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Store) st = store_new();
	Client *sub = client_new(fx, 3, 0);
	const MsbIdRange all[] = {{0, 5999}};
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(GError) error = NULL;
	MsbTopic *topic;

	for (gint64 id = 0; id < 6000; id++) {
		g_autofree gchar *content = g_strdup_printf("%" G_GINT64_FORMAT, id);
		store_put(st, "orders", id, id, NULL, 0, (const guint8 *)content, strlen(content));
	}
	topic = msb_broker_restore_topic(fx->broker, "orders", 6000, 5999, TRUE, &error);
	g_assert_no_error(error);
	msb_broker_restore_queue(fx->broker, topic, 6000, "q", MSB_QUEUE_TYPE_PERMANENT, all, 1);
	assert_cached(topic, "");

	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	assert_loads(fx, "orders:0, orders:1, orders:2");
	expect_none(sub);

	/* sub-page 1 first: nothing can go out before 0, and nothing is asked again */
	store_serve(fx, st, topic, 1, NULL);
	expect_none(sub);
	assert_loads(fx, "");
	/* 0: the batch runs through 0 and 1 and ends at 2, still loading; reading 1 and then
	 * waiting at 2 asks for what follows */
	store_serve(fx, st, topic, 0, NULL);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-1999");
	assert_content(rx_msg(b, 0), "0");
	assert_content(rx_msg(b, 1999), "1999");
	assert_loads(fx, "orders:3, orders:4");
	/* they arrive while the batch is out; the queue then waits at 2 */
	store_serve(fx, st, topic, 4, NULL);
	store_serve(fx, st, topic, 3, NULL);
	c_ok(sub, b);
	expect_none(sub);
	assert_loads(fx, "");
	assert_cached(topic, "3, 4");
	/* 2 arrives: 2-4 stream in one batch, which asks for 5 and ends there */
	store_serve(fx, st, topic, 2, NULL);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "2000-4999");
	assert_content(rx_msg(b, 2999), "4999");
	assert_loads(fx, "orders:5");
	c_ok(sub, b);
	expect_none(sub);
	store_serve(fx, st, topic, 5, NULL);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "5000-5999");
	assert_content(rx_msg(b, 999), "5999");
	c_ok(sub, b);
	expect_none(sub);
	assert_loads(fx, "");
}

/*
 * Persistence reports a sub-page damaged (DATA_LOSS, OnDamagedMessages: skip): it is installed
 * with its absent ids missing, only the ids a queue waited for count as lost, and delivery goes
 * on with the next ids; a sub-page that loads normally afterwards is not affected.
 */
static void
test_load_damaged(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Store) st = store_new();
	Client *sub = client_new(fx, 3, 0);
	const MsbIdRange waiting[] = {{500, 3999}};
	g_autoptr(RxPacket) b = NULL;
	g_autoptr(GError) error = NULL;
	MsbTopic *topic;
	MsbSubPage *sp;

	for (gint64 id = 0; id < 4000; id++) {
		g_autofree gchar *content = g_strdup_printf("%" G_GINT64_FORMAT, id);
		store_put(st, "orders", id, id, NULL, 0, (const guint8 *)content, strlen(content));
	}
	topic = msb_broker_restore_topic(fx->broker, "orders", 4000, 3999, TRUE, &error);
	g_assert_no_error(error);
	msb_broker_restore_queue(fx->broker, topic, 4000, "q", MSB_QUEUE_TYPE_PERMANENT, waiting,
	                         1);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	assert_loads(fx, "orders:0, orders:1, orders:2");

	/* sub-page 0 is damaged: the queue waited for 500-999 only, so 500 are lost */
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING,
	                    "orders: messages 0-999 cannot be loaded*checksum*");
	g_assert_cmpuint(msb_broker_sub_page_damaged(fx->broker, topic, 0, "checksum"), ==, 500);
	msb_test_log_assert_expected();
	g_assert_cmpuint(topic->messages_lost, ==, 500);
	g_assert_false(g_hash_table_contains(topic->loading, &(gint64){0}));
	sp = msb_topic_find_sub_page(topic, 0);
	g_assert_nonnull(sp);
	g_assert_cmpuint(sp->n_missing, ==, 1000);
	g_assert_cmpint(msb_sub_page_get(sp, 700)->state, ==, MSB_MESSAGE_MISSING);
	/* the queue moves on to sub-page 1, still loading (not asked for again), and reads ahead
	 * from there; nothing to send yet */
	expect_none(sub);
	assert_loads(fx, "orders:3");

	/* 1 loads; 2 is damaged too: the batch runs from 1000 and skips 2000-2999 */
	store_serve(fx, st, topic, 1, NULL);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "1000-1999");
	assert_content(rx_msg(b, 0), "1000");
	assert_loads(fx, "");
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING,
	                    "orders: messages 2000-2999 cannot be loaded*zlib*");
	g_assert_cmpuint(msb_broker_sub_page_damaged(fx->broker, topic, 2, "zlib"), ==, 1000);
	msb_test_log_assert_expected();
	g_assert_cmpuint(topic->messages_lost, ==, 1500);
	c_ok(sub, b);
	expect_none(sub);
	store_serve(fx, st, topic, 3, NULL);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "3000-3999");
	assert_content(rx_msg(b, 999), "3999");
	c_ok(sub, b);
	expect_none(sub);
	g_assert_cmpint(msb_id_set_count(&find_queue(fx, "orders", "q")->waiting), ==, 0);
	/* a damaged sub-page nobody waits for any more loses nothing */
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING,
	                    "orders: messages 1000-1999 cannot be loaded*late*");
	g_assert_cmpuint(msb_broker_sub_page_damaged(fx->broker, topic, 1, "late"), ==, 0);
	msb_test_log_assert_expected();
	g_assert_cmpuint(topic->messages_lost, ==, 1500);
}

/*
 * After a crash: the ids between the last one persistence holds and the reservation are dropped
 * from every queue at restore (not counted as lost); the counter stays at the reservation, and
 * the queue loads only the sub-pages of real messages.
 */
static void
test_restore_unpublished(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Store) st = store_new();
	Client *sub = client_new(fx, 3, 0);
	/* the snapshot reserved up to 100299 while 0..299 were published; q had read up to 100 */
	const MsbIdRange q_ranges[] = {{100, 100299}};
	const MsbIdRange e_ranges[] = {{300, 100299}};
	g_autoptr(GError) error = NULL;
	g_autoptr(RxPacket) b = NULL;
	g_autofree gchar *q_ids = NULL;
	MsbTopic *topic;
	MsbQueue *q;
	MsbQueue *e;
	guint64 generation;

	for (gint64 id = 0; id < 300; id++) {
		g_autofree gchar *content = g_strdup_printf("%" G_GINT64_FORMAT, id);
		store_put(st, "orders", id, id, NULL, 0, (const guint8 *)content, strlen(content));
	}
	topic = msb_broker_restore_topic(fx->broker, "orders", 100300, -1, TRUE, &error);
	g_assert_no_error(error);
	q = msb_broker_restore_queue(fx->broker, topic, 100300, "q", MSB_QUEUE_TYPE_PERMANENT,
	                             q_ranges, 1);
	e = msb_broker_restore_queue(fx->broker, topic, 100300, "e", MSB_QUEUE_TYPE_PERMANENT,
	                             e_ranges, 1);
	g_assert_cmpint(msb_id_set_count(&q->waiting), ==, 100200);
	generation = msb_broker_get_state_generation(fx->broker);

	/* nothing to drop below the counter's reach, or an empty range */
	g_assert_cmpint(msb_broker_restore_unpublished(fx->broker, topic, 100300, 200000), ==, 0);
	g_assert_cmpint(msb_broker_restore_unpublished(fx->broker, topic, G_MAXINT64, 100299), ==,
	                0);
	g_assert_cmpint(msb_broker_get_state_generation(fx->broker), ==, generation);
	/* the range past the counter is cut off: only 300..100299 go, from both queues */
	g_assert_cmpint(msb_broker_restore_unpublished(fx->broker, topic, 300, 500000), ==,
	                2 * 100000);
	g_assert_cmpint(msb_broker_get_state_generation(fx->broker), >, generation);
	q_ids = msb_id_set_to_string(&q->waiting);
	g_assert_cmpstr(q_ids, ==, "[100-299]");
	g_assert_true(msb_id_set_is_empty(&e->waiting));
	g_assert_cmpint(msb_id_set_cursor(&e->waiting), ==, 100300);
	/* ids are never reused, and nothing is lost */
	g_assert_cmpint(topic->next_id, ==, 100300);
	g_assert_cmpuint(topic->messages_lost, ==, 0);

	/* the queue reads its 200 messages from sub-page 0 and is then done */
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	assert_loads(fx, "orders:0, orders:1, orders:2");
	for (gint64 no = 0; no < 3; no++)
		store_serve(fx, st, topic, no, NULL);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "100-299");
	assert_content(rx_msg(b, 199), "299");
	c_ok(sub, b);
	expect_none(sub);
	assert_loads(fx, "");
	g_assert_true(msb_id_set_is_empty(&q->waiting));
}

/* ---- snapshots ---- */

static void
test_snapshot(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Store) st = store_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sq = client_new(fx, 3, 0);
	Client *sd = client_new(fx, 3, 0);
	Client *ss = client_new(fx, 3, 0);
	const gchar *five[] = {"0", "1", "2", "3", "4", NULL};
	g_autoptr(GPtrArray) snaps = NULL;
	g_autoptr(RxPacket) bq = NULL;
	g_autoptr(RxPacket) bd = NULL;
	g_autoptr(RxPacket) bs = NULL;
	MsbTopicSnapshot *alpha;
	MsbSaveBatch batch;

	msb_save_batch_init(&batch);
	make_topic(fx, "zeta");
	make_topic(fx, "alpha");
	make_topic(fx, "mid");
	c_subscribe(sq, "alpha", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(sd, "alpha", "d", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	c_subscribe(ss, "alpha", "s", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION);
	find_queue(fx, "alpha", "q")->max_messages_per_payload = 2;

	/* nothing published: each topic reserves MSB_BROKER_ID_RESERVE ids from 0, and every
	 * queue lists them (it gets each of them as it is published) */
	snaps = msb_broker_build_snapshot(fx->broker, FALSE);
	g_assert_cmpuint(snaps->len, ==, 3);
	g_assert_cmpstr(((MsbTopicSnapshot *)g_ptr_array_index(snaps, 0))->name, ==, "alpha");
	g_assert_cmpstr(((MsbTopicSnapshot *)g_ptr_array_index(snaps, 1))->name, ==, "mid");
	g_assert_cmpstr(((MsbTopicSnapshot *)g_ptr_array_index(snaps, 2))->name, ==, "zeta");
	alpha = snapshot_topic(snaps, "alpha");
	g_assert_cmpint(alpha->message_id, ==, 100000);
	g_assert_true(alpha->persist);
	g_assert_cmpuint(alpha->queues->len, ==, 3);
	assert_snapshot_queue(alpha, "q", MSB_QUEUE_TYPE_PERMANENT, "0-99999");
	assert_snapshot_queue(alpha, "d", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT, "0-99999");
	assert_snapshot_queue(alpha, "s", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION, "0-99999");
	g_assert_cmpint(snapshot_topic(snaps, "mid")->message_id, ==, 100000);
	g_assert_cmpuint(snapshot_topic(snaps, "mid")->queues->len, ==, 0);
	/* building reserves nothing; saving does */
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "alpha")->reserved_until, ==, 0);
	msb_broker_snapshot_saved(fx->broker, snaps);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "alpha")->reserved_until, ==, 100000);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "mid")->reserved_until, ==, 100000);
	g_clear_pointer(&snaps, g_ptr_array_unref);

	/* q: 0-1 in flight, 2-4 waiting; d: consumed all; s: 0-4 in flight */
	expect_response(pub, c_publish(pub, "alpha", five));
	expect_response(pub, c_publish1(pub, "zeta", "z"));
	bq = expect_batch(sq, "alpha", "q");
	assert_ids(bq, "0-1");
	bd = expect_batch(sd, "alpha", "d");
	c_ok(sd, bd);
	bs = expect_batch(ss, "alpha", "s");
	assert_ids(bs, "0-4");

	/* saves are behind (0-2 of alpha, nothing of zeta), which does not matter: the
	 * reservation runs from the next id, and a queue lists what it waits for, what it has in
	 * flight and the reserved ids not published yet (after a crash, those that persistence
	 * does not have are skipped as missing) */
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 3, &batch));
	g_assert_cmpstr(batch.topic->name, ==, "alpha");
	msb_broker_save_done(fx->broker, &batch);
	snaps = msb_broker_build_snapshot(fx->broker, FALSE);
	alpha = snapshot_topic(snaps, "alpha");
	g_assert_cmpint(alpha->message_id, ==, 100005);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "alpha")->next_id, ==, 5);
	assert_snapshot_queue(alpha, "q", MSB_QUEUE_TYPE_PERMANENT, "0-100004");
	assert_snapshot_queue(alpha, "d", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT, "5-100004");
	assert_snapshot_queue(alpha, "s", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION, "0-100004");
	g_assert_cmpint(snapshot_topic(snaps, "zeta")->message_id, ==, 100001);
	g_assert_cmpint(snapshot_topic(snaps, "mid")->message_id, ==, 100000);
	g_clear_pointer(&snaps, g_ptr_array_unref);

	/* everything saved: the same */
	store_save_all(fx, st);
	snaps = msb_broker_build_snapshot(fx->broker, FALSE);
	alpha = snapshot_topic(snaps, "alpha");
	g_assert_cmpint(alpha->message_id, ==, 100005);
	assert_snapshot_queue(alpha, "q", MSB_QUEUE_TYPE_PERMANENT, "0-100004");
	assert_snapshot_queue(alpha, "d", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT, "5-100004");
	assert_snapshot_queue(alpha, "s", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION, "0-100004");
	g_assert_cmpint(snapshot_topic(snaps, "zeta")->message_id, ==, 100001);
	g_clear_pointer(&snaps, g_ptr_array_unref);

	/* q confirms 0-1 and gets 2-3; s confirms 1-2 of its batch only, 0 and 3-4 go back */
	c_ok(sq, bq);
	g_clear_pointer(&bq, rx_packet_free);
	bq = expect_batch(sq, "alpha", "q");
	assert_ids(bq, "2-3");
	{
		const gint64 done[] = {1, 2};
		c_confirm_ranges(ss, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, bs, done, 1);
	}
	g_clear_pointer(&bs, rx_packet_free);
	bs = expect_batch(ss, "alpha", "s");
	assert_ids(bs, "0, 3-4");
	snaps = msb_broker_build_snapshot(fx->broker, FALSE);
	alpha = snapshot_topic(snaps, "alpha");
	assert_snapshot_queue(alpha, "q", MSB_QUEUE_TYPE_PERMANENT, "2-100004");
	assert_snapshot_queue(alpha, "s", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION,
	                      "0, 3-100004");
	g_clear_pointer(&snaps, g_ptr_array_unref);

	/* a topic with persist = false needs no saving, but its ids are seen like any other's:
	 * they are reserved too */
	{
		MsbTopic *v = make_topic(fx, "volatile");
		g_autoptr(GPtrArray) snaps2 = NULL;
		v->persist = FALSE;
		v->track_pending = FALSE;
		snaps2 = msb_broker_build_snapshot(fx->broker, FALSE);
		g_assert_cmpuint(snaps2->len, ==, 4);
		g_assert_cmpint(snapshot_topic(snaps2, "volatile")->message_id, ==, 100000);
		g_assert_false(snapshot_topic(snaps2, "volatile")->persist);
		msb_broker_snapshot_saved(fx->broker, snaps2);
		g_assert_cmpint(v->reserved_until, ==, 100000);
		expect_response(pub, c_publish(pub, "volatile", five));
		g_clear_pointer(&snaps2, g_ptr_array_unref);
		snaps2 = msb_broker_build_snapshot(fx->broker, FALSE);
		g_assert_cmpint(snapshot_topic(snaps2, "volatile")->message_id, ==, 100005);
	}

	/* the final snapshot of a graceful shutdown reserves nothing: each message id is the
	 * next id, and the queues list only what they wait for or have in flight */
	snaps = msb_broker_build_snapshot(fx->broker, TRUE);
	g_assert_cmpuint(snaps->len, ==, 4);
	alpha = snapshot_topic(snaps, "alpha");
	g_assert_cmpint(alpha->message_id, ==, 5);
	assert_snapshot_queue(alpha, "q", MSB_QUEUE_TYPE_PERMANENT, "2-4");
	assert_snapshot_queue(alpha, "d", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT, "{5, 4}");
	assert_snapshot_queue(alpha, "s", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION, "0, 3-4");
	g_assert_cmpint(snapshot_topic(snaps, "zeta")->message_id, ==, 1);
	g_assert_cmpint(snapshot_topic(snaps, "mid")->message_id, ==, 0);
	g_assert_cmpint(snapshot_topic(snaps, "volatile")->message_id, ==, 5);
	g_assert_false(snapshot_topic(snaps, "volatile")->persist);
	/* saved, it takes back none of what earlier snapshots reserved (the last one saved is
	 * that of the volatile block, which reserved alpha's ids up to 100004) */
	msb_broker_snapshot_saved(fx->broker, snaps);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "alpha")->reserved_until, ==, 100005);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "zeta")->reserved_until, ==, 100001);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "mid")->reserved_until, ==, 100000);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "volatile")->reserved_until, ==, 100000);
	msb_save_batch_clear(&batch);
}

static void
test_state_generation(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	Client *dsub = client_new(fx, 3, 0);
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *orders;
	MsbSaveBatch batch;
	guint64 gen = msb_broker_get_state_generation(fx->broker);

#define CHANGED()                                                                       \
	G_STMT_START                                                                    \
	{                                                                               \
		g_assert_cmpuint(msb_broker_get_state_generation(fx->broker), !=, gen); \
		gen = msb_broker_get_state_generation(fx->broker);                      \
	}                                                                               \
	G_STMT_END
#define UNCHANGED() g_assert_cmpuint(msb_broker_get_state_generation(fx->broker), ==, gen)

	msb_save_batch_init(&batch);
	orders = make_topic(fx, "orders");
	CHANGED();
	make_topic(fx, "orders");
	UNCHANGED();
	/* saving a snapshot changes nothing that the next one shows */
	fixture_save_snapshot(fx);
	UNCHANGED();
	c_ping(pub);
	expect_pong(pub);
	UNCHANGED();
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	CHANGED();
	expect_response(pub, c_publish1(pub, "orders", "a"));
	CHANGED();
	b = expect_batch(sub, "orders", "q");
	/* refused or empty publishes change nothing */
	c_publish1(pub, "missing", "a");
	expect_reject(pub, "TopicNotFound");
	UNCHANGED();
	expect_response(pub, c_publish(pub, "orders", NULL));
	UNCHANGED();
	/* neither do delivery passes, handing out or failing saves, and snapshots */
	msb_broker_wake_topic(fx->broker, orders);
	UNCHANGED();
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch));
	UNCHANGED();
	msb_broker_save_failed(fx->broker, &batch);
	UNCHANGED();
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, G_MAXUINT, &batch));
	UNCHANGED();
	g_ptr_array_unref(msb_broker_build_snapshot(fx->broker, FALSE));
	UNCHANGED();
	g_ptr_array_unref(msb_broker_build_snapshot(fx->broker, TRUE));
	UNCHANGED();
	fixture_save_snapshot(fx);
	UNCHANGED();
	msb_broker_save_done(fx->broker, &batch);
	CHANGED();
	msb_broker_tick(fx->broker);
	UNCHANGED();
	msb_broker_sub_page_load_failed(fx->broker, orders, 0);
	UNCHANGED();
	c_ok(sub, b);
	CHANGED();
	/* a confirmation that does nothing (no batch in flight) changes nothing either */
	c_confirm_id(sub, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, "orders", "q", b->confirmation_id);
	UNCHANGED();

	/* queue GC */
	c_subscribe(dsub, "orders", "d", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	CHANGED();
	client_close(dsub);
	gen = msb_broker_get_state_generation(fx->broker);
	fx->mono += 20 * SEC;
	msb_broker_tick(fx->broker);
	UNCHANGED();
	g_assert_nonnull(find_queue(fx, "orders", "d"));
	fx->mono += 1;
	msb_broker_tick(fx->broker);
	g_assert_null(find_queue(fx, "orders", "d"));
	CHANGED();
	msb_broker_tick(fx->broker);
	UNCHANGED();

#undef CHANGED
#undef UNCHANGED
	msb_save_batch_clear(&batch);
}

/* ---- restore ---- */

static void
test_restore(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Store) st = store_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const MsbWireHeader hdrs[] = {{"trace-id", "t10"}};
	g_autoptr(GBytes) block = make_headers(hdrs, 1);
	const MsbIdRange q_ranges[] = {{10, 20}};
	const MsbIdRange e_ranges[] = {{42, 41}};
	g_autoptr(GError) error = NULL;
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *orders;
	MsbTopic *events;
	MsbQueue *q;
	MsbQueue *d;
	MsbQueue *e;
	MsbSubPage *sp;
	guint64 gen;

	/* the counter is max(snapshot, last persisted + 1) */
	orders = msb_broker_restore_topic(fx->broker, "orders", 100, 149, TRUE, &error);
	g_assert_no_error(error);
	g_assert_nonnull(orders);
	g_assert_cmpint(orders->next_id, ==, 150);
	g_assert_cmpint(orders->durable_until, ==, 150);
	/* every id below may have been seen; the new ones wait for a new snapshot */
	g_assert_cmpint(orders->reserved_until, ==, 150);
	g_assert_true(orders->persist);
	g_assert_true(orders->track_pending);
	g_assert_true(msb_broker_find_topic(fx->broker, "orders") == orders);
	events = msb_broker_restore_topic(fx->broker, "events", 50, -1, TRUE, &error);
	g_assert_no_error(error);
	g_assert_cmpint(events->next_id, ==, 50);
	/* a snapshot ahead of persistence (cannot happen with this broker) still never goes back */
	g_assert_cmpint(
	        msb_broker_restore_topic(fx->broker, "ahead", 70, 9, FALSE, &error)->next_id, ==,
	        70);
	g_assert_no_error(error);
	g_assert_false(msb_broker_find_topic(fx->broker, "ahead")->track_pending);

	/* twice is an error, and the first one stays */
	gen = msb_broker_get_state_generation(fx->broker);
	g_assert_null(msb_broker_restore_topic(fx->broker, "orders", 200, 300, TRUE, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME);
	g_clear_error(&error);
	g_assert_cmpint(orders->next_id, ==, 150);
	g_assert_cmpuint(msb_broker_get_state_generation(fx->broker), ==, gen);

	/* queues get their ranges plus everything saved after the snapshot */
	q = msb_broker_restore_queue(fx->broker, orders, 100, "q", MSB_QUEUE_TYPE_PERMANENT,
	                             q_ranges, G_N_ELEMENTS(q_ranges));
	g_assert_nonnull(q);
	g_assert_true(find_queue(fx, "orders", "q") == q);
	assert_waiting(q, "[10-20, 100-149]");
	d = msb_broker_restore_queue(fx->broker, orders, 100, "d",
	                             MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT, NULL, 0);
	g_assert_cmpint(d->type, ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	assert_waiting(d, "[100-149]");
	/* the empty-range form sets the cursor */
	e = msb_broker_restore_queue(fx->broker, events, 50, "e", MSB_QUEUE_TYPE_PERMANENT,
	                             e_ranges, G_N_ELEMENTS(e_ranges));
	g_assert_true(msb_id_set_is_empty(&e->waiting));
	g_assert_cmpint(msb_id_set_cursor(&e->waiting), ==, 42);
	g_assert_cmpuint(msb_broker_get_state_generation(fx->broker), !=, gen);

	/* publishing goes on from the restored counter, once a snapshot (which the adapter saves
	 * right after a restore) reserves new ids */
	fixture_save_snapshot(fx);
	expect_response(pub, c_publish1(pub, "orders", "new"));
	g_assert_cmpint(orders->next_id, ==, 151);
	assert_waiting(q, "[10-20, 100-150]");
	assert_waiting(d, "[100-150]");
	expect_response(pub, c_publish1(pub, "events", "ev"));
	assert_waiting(e, "[50]");

	/* the write sub-page holds only id 150; what the queue needs below it is loaded */
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	assert_loads(fx, "orders:0");
	expect_none(sub);
	assert_waiting(q, "[10-20, 100-150]");

	/* persistence has 5, 10-20 but not 15, 100-149, and an older copy of 150 */
	store_put(st, "orders", 5, 5, NULL, 0, (const guint8 *)"m5", 2);
	for (gint64 id = 10; id <= 149; id++) {
		g_autofree gchar *content = g_strdup_printf("m%" G_GINT64_FORMAT, id);
		gsize hlen = 0;
		const guint8 *h = id == 10 ? g_bytes_get_data(block, &hlen) : NULL;
		if (id == 15 || (id > 20 && id < 100))
			continue;
		store_put(st, "orders", id, 1000 + id, h, hlen, (const guint8 *)content,
		          strlen(content));
	}
	store_put(st, "orders", 150, 1150, NULL, 0, (const guint8 *)"stale", 5);
	store_serve(fx, st, orders, 0, NULL);

	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "10-14, 16-20, 100-150");
	assert_content(rx_msg(b, 0), "m10");
	g_assert_true(g_bytes_equal(rx_msg(b, 0)->headers, block));
	g_assert_cmpuint(rx_msg(b, 0)->n_headers, ==, 1);
	assert_content(rx_msg(b, 1), "m11");
	g_assert_cmpuint(rx_msg(b, 1)->n_headers, ==, 0);
	assert_content(rx_msg(b, 5), "m16");
	assert_content(rx_msg(b, 59), "m149");
	/* what is in memory is newer than the stored copy */
	assert_content(rx_msg(b, 60), "new");
	sp = msb_topic_find_sub_page(orders, 0);
	g_assert_nonnull(sp);
	g_assert_true(sp == orders->write_sp);
	g_assert_cmpint(msb_sub_page_get(sp, 10)->created_us, ==, 1010);
	g_assert_cmpint(msb_sub_page_get(sp, 150)->created_us, ==, fx->wall);
	g_assert_true(msb_sub_page_is_pending(sp, 150));
	/* ids of the sub-page not returned are missing, but not those not published yet */
	g_assert_cmpint(msb_sub_page_get(sp, 15)->state, ==, MSB_MESSAGE_MISSING);
	g_assert_cmpint(msb_sub_page_get(sp, 0)->state, ==, MSB_MESSAGE_MISSING);
	g_assert_cmpint(msb_sub_page_get(sp, 151)->state, ==, MSB_MESSAGE_ABSENT);
	g_assert_cmpint(msb_sub_page_get(sp, 999)->state, ==, MSB_MESSAGE_ABSENT);
	/* 61 returned below 150 (5, 10-14, 16-20, 100-149) and 150 itself */
	g_assert_cmpuint(sp->n_loaded, ==, 62);
	g_assert_cmpuint(sp->n_missing, ==, 150 - 61);
	g_assert_cmpint(orders->cached_messages, ==, 151);
	g_assert_cmpint(orders->pending_count, ==, 1);

	/* confirmed: only what queue d still needs (100-150) stays in memory */
	c_ok(sub, b);
	g_assert_cmpint(msb_sub_page_get(sp, 10)->state, ==, MSB_MESSAGE_ABSENT);
	g_assert_cmpint(msb_sub_page_get(sp, 100)->state, ==, MSB_MESSAGE_LOADED);

	/* and the next message follows */
	expect_response(pub, c_publish1(pub, "orders", "next"));
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "151");
	assert_content(rx_msg(b, 0), "next");
	g_assert_cmpuint(store_save_all(fx, st), ==, 2);
	g_assert_cmpint(orders->durable_until, ==, 152);
	g_assert_cmpint(events->durable_until, ==, 51);

	/* nobody attaches to the restored delete-on-disconnect queue: it goes after the timeout,
	 * counted from the restore */
	fx->mono += 20 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_nonnull(find_queue(fx, "orders", "d"));
	fx->mono += 1;
	msb_broker_tick(fx->broker);
	g_assert_null(find_queue(fx, "orders", "d"));
	g_assert_nonnull(find_queue(fx, "orders", "q"));
	g_assert_nonnull(find_queue(fx, "events", "e"));
}

/* ---- round trip ---- */

/* The highest id of @topic in the store, -1 if none: what persistence tells on restore. */
static gint64
store_max_id(Store *st, const gchar *topic)
{
	g_autofree gchar *prefix = g_strdup_printf("%s/", topic);
	GHashTableIter iter;
	gpointer key;
	gint64 max = -1;

	g_hash_table_iter_init(&iter, st->messages);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		const gchar *k = key;
		if (g_str_has_prefix(k, prefix))
			max = MAX(max, g_ascii_strtoll(k + strlen(prefix), NULL, 10));
	}
	return max;
}

static void
restore_from_snapshot(Fixture *fx, GPtrArray *snaps, Store *st)
{
	for (guint t = 0; t < snaps->len; t++) {
		MsbTopicSnapshot *ts = g_ptr_array_index(snaps, t);
		g_autoptr(GError) error = NULL;
		MsbTopic *topic;

		topic = msb_broker_restore_topic(fx->broker, ts->name, ts->message_id,
		                                 store_max_id(st, ts->name), ts->persist, &error);
		g_assert_no_error(error);
		for (guint q = 0; q < ts->queues->len; q++) {
			MsbQueueSnapshot *qs = g_ptr_array_index(ts->queues, q);
			g_assert_nonnull(msb_broker_restore_queue(
			        fx->broker, topic, ts->message_id, qs->name, qs->type,
			        (const MsbIdRange *)qs->ranges->data, qs->ranges->len));
		}
	}
}

/* Answer loads, round after round, until @c has something to read or nothing more is asked for;
 * returns the number of rounds. */
static guint
serve_loads_until_output(Fixture *fx, Store *st, Client *c)
{
	guint rounds = 0;

	while (msb_buf_pending(msb_session_get_output(c->session)) == 0 && fx->loads->len > 0) {
		serve_loads(fx, st);
		rounds++;
		g_assert_cmpuint(rounds, <, 1000);
	}
	return rounds;
}

static void
test_round_trip(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	g_autoptr(Fixture) fx2 = NULL;
	g_autoptr(Store) st = store_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	const MsbWireHeader hdrs[] = {{"trace-id", "abc"}, {"k", "v"}};
	g_autoptr(GBytes) block = make_headers(hdrs, G_N_ELEMENTS(hdrs));
	const GBytes *headers[10] = {NULL};
	const guint8 *contents[10];
	const gsize lens[10] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
	const gchar *names[10] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"};
	g_autoptr(GPtrArray) snaps = NULL;
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *orders;
	MsbQueue *q;
	gint64 request_id;

	for (guint i = 0; i < 10; i++)
		contents[i] = (const guint8 *)names[i];
	headers[6] = block;
	make_topic(fx, "orders");
	fixture_save_snapshot(fx);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_raw(pub, "orders", 1, 10, headers, contents, lens));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-9");
	/* 0-3 confirmed, 4-9 delivered and not confirmed */
	{
		const gint64 done[] = {0, 3};
		c_confirm_ranges(sub, MSB_PACKET_INTERMEDIARY_CONFIRM, b, done, 1);
	}
	/* a second queue nobody reads */
	msb_broker_restore_queue(fx->broker, msb_broker_find_topic(fx->broker, "orders"), 10,
	                         "idle", MSB_QUEUE_TYPE_PERMANENT, NULL, 0);
	g_assert_cmpuint(store_save_all(fx, st), ==, 1);
	/* the snapshot reserves ids 10-100009: each queue gets them as they are published */
	snaps = msb_broker_build_snapshot(fx->broker, FALSE);
	g_assert_cmpint(snapshot_topic(snaps, "orders")->message_id, ==, 100010);
	assert_snapshot_queue(snapshot_topic(snaps, "orders"), "q", MSB_QUEUE_TYPE_PERMANENT,
	                      "4-100009");
	assert_snapshot_queue(snapshot_topic(snaps, "orders"), "idle", MSB_QUEUE_TYPE_PERMANENT,
	                      "10-100009");
	msb_broker_snapshot_saved(fx->broker, snaps);

	/* the node crashes: a new broker restored from the snapshot and the store; the counter
	 * restarts at the reservation */
	fx2 = fixture_new_with(&config);
	restore_from_snapshot(fx2, snaps, st);
	orders = msb_broker_find_topic(fx2->broker, "orders");
	g_assert_nonnull(orders);
	g_assert_cmpint(orders->next_id, ==, 100010);
	q = msb_topic_find_queue(orders, "q");
	assert_waiting(q, "[4-100009]");
	assert_waiting(msb_topic_find_queue(orders, "idle"), "[10-100009]");

	/* publishers come back first: the new id waits for a snapshot that reserves it */
	pub = client_new(fx2, 3, 0);
	sub = client_new(fx2, 3, 0);
	request_id = c_publish1(pub, "orders", "m10");
	expect_none(pub);
	fixture_save_snapshot(fx2);
	expect_response(pub, request_id);
	g_assert_cmpint(orders->next_id, ==, 100011);
	assert_waiting(q, "[4-100010]");
	assert_waiting(msb_topic_find_queue(orders, "idle"), "[10-100010]");

	/* the unconfirmed messages are delivered again, with what was saved; the confirmed not */
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	assert_loads(fx2, "orders:0, orders:1, orders:2");
	expect_none(sub);
	store_serve(fx2, st, orders, 0, NULL);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "4-9");
	assert_content(rx_msg(b, 0), "m4");
	assert_content(rx_msg(b, 2), "m6");
	g_assert_true(g_bytes_equal(rx_msg(b, 2)->headers, block));
	assert_content(rx_msg(b, 5), "m9");
	c_ok(sub, b);
	/* the reserved ids that were never published are not in persistence: skipped as missing,
	 * sub-page after sub-page, up to the new message */
	store_serve(fx2, st, orders, 1, NULL);
	store_serve(fx2, st, orders, 2, NULL);
	expect_none(sub);
	g_assert_cmpuint(serve_loads_until_output(fx2, st, sub), >, 0);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "100010");
	assert_content(rx_msg(b, 0), "m10");
	c_ok(sub, b);
	serve_loads(fx2, st);
	expect_none(sub);
	g_assert_true(msb_id_set_is_empty(&q->waiting));
	/* and the new message is saved after the restored ones */
	g_assert_null(store_get(st, "orders", 100010));
	g_assert_cmpuint(store_save_all(fx2, st), ==, 1);
	g_assert_nonnull(store_get(st, "orders", 100010));
	g_assert_cmpint(orders->durable_until, ==, 100011);
}

/* ---- id reservations ---- */

/* A new topic's ids are not seen before a snapshot that lists it is saved. */
static void
test_reservation_new_topic(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *pub2 = client_new(fx, 3, 0);
	Client *pub3 = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	Client *osub = client_new(fx, 3, 0);
	const gchar *two[] = {"a", "b", NULL};
	g_autoptr(GPtrArray) snaps = NULL;
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *orders;

	make_topic(fx, "other");
	fixture_save_snapshot(fx);
	c_subscribe(osub, "other", "q", MSB_QUEUE_TYPE_PERMANENT);
	orders = make_topic(fx, "orders");
	g_assert_cmpint(orders->reserved_until, ==, 0);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);

	/* published (and pending for a save), but neither answered nor delivered */
	g_assert_cmpint(c_publish(pub, "orders", two), ==, 1);
	g_assert_cmpint(c_publish1(pub2, "orders", "c"), ==, 1);
	g_assert_cmpint(c_publish1(pub, "orders", "d"), ==, 2);
	g_assert_cmpint(orders->next_id, ==, 4);
	g_assert_cmpint(orders->pending_count, ==, 4);
	expect_none(pub);
	expect_none(pub2);
	expect_none(sub);
	/* the answer to a publish to a reserved topic waits behind them on the same connection,
	 * to keep the order, but not on another one; its message is delivered at once */
	g_assert_cmpint(c_publish1(pub, "other", "o0"), ==, 3);
	expect_none(pub);
	b = expect_batch(osub, "other", "q");
	assert_ids(b, "0");
	assert_content(rx_msg(b, 0), "o0");
	g_clear_pointer(&b, rx_packet_free);
	expect_response(pub3, c_publish1(pub3, "other", "o1"));
	msb_broker_tick(fx->broker);
	expect_none(pub);
	expect_none(sub);

	/* building a snapshot is not saving it */
	snaps = msb_broker_build_snapshot(fx->broker, FALSE);
	g_assert_cmpint(snapshot_topic(snaps, "orders")->message_id, ==, 100004);
	msb_broker_tick(fx->broker);
	expect_none(pub);
	expect_none(pub2);
	expect_none(sub);

	/* saved: every answer goes out in publish order, and the messages in id order */
	msb_broker_snapshot_saved(fx->broker, snaps);
	g_assert_cmpint(orders->reserved_until, ==, 100004);
	assert_responses(pub, "1, 2, 3");
	assert_responses(pub2, "1");
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-3");
	assert_content(rx_msg(b, 0), "a");
	assert_content(rx_msg(b, 1), "b");
	assert_content(rx_msg(b, 2), "c");
	assert_content(rx_msg(b, 3), "d");
	g_assert_cmpuint(g_hash_table_size(fx->broker->waiting_sessions), ==, 0);
	/* and from now on publishes are answered and delivered at once */
	c_ok(sub, b);
	g_clear_pointer(&b, rx_packet_free);
	expect_response(pub, c_publish1(pub, "orders", "e"));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "4");
}

/* The last reserved id is seen, the first one past the reservation is not: a publish that
 * crosses the boundary waits as a whole, and delivery stops at the boundary. */
static void
test_reservation_boundary(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *orders = make_topic(fx, "orders");
	gint64 request_id;

	fixture_save_snapshot(fx);
	g_assert_cmpint(orders->reserved_until, ==, 100000);
	expect_response(pub, c_publish_n(pub, "orders", 99999, 0));
	/* a new queue starts at the next id, 99999 */
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	request_id = c_publish_n(pub, "orders", 2, 1);
	expect_none(pub);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "99999");
	c_ok(sub, b);
	expect_none(sub);
	fixture_save_snapshot(fx);
	expect_response(pub, request_id);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "100000");
}

/* snapshot_wanted: when a topic is new, and when ids run past half of their reservation. */
static void
test_reservation_snapshot_wanted(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Fixture) mem = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *m = client_new(mem, 3, 0);
	MsbTopic *orders;
	MsbTopic *morders;

	g_assert_cmpuint(fx->snapshot_wanted, ==, 0);
	orders = make_topic(fx, "orders");
	g_assert_cmpuint(fx->snapshot_wanted, ==, 1);
	/* an existing topic is not new */
	make_topic(fx, "orders");
	c_create_topic(pub, "orders");
	g_assert_cmpuint(fx->snapshot_wanted, ==, 1);
	/* created by a client, auto-created or not, the same */
	c_create_topic(pub, "events");
	g_assert_cmpuint(fx->snapshot_wanted, ==, 2);

	fixture_save_snapshot(fx);
	g_assert_cmpint(orders->reserved_until, ==, 100000);
	/* ids up to 49999 (the next id up to 50000, reserved_until - RESERVE / 2): nothing */
	for (guint i = 0; i < 10; i++)
		expect_response(pub, c_publish1(pub, "orders", "x"));
	expect_response(pub, c_publish_n(pub, "orders", 49989, 1));
	expect_response(pub, c_publish1(pub, "orders", "x"));
	g_assert_cmpint(orders->next_id, ==, 50000);
	g_assert_cmpuint(fx->snapshot_wanted, ==, 2);
	/* id 50000: time for a new reservation (the ids are still reserved: answered at once) */
	expect_response(pub, c_publish1(pub, "orders", "x"));
	g_assert_cmpuint(fx->snapshot_wanted, ==, 3);
	/* saved: half of the new reservation is ahead again */
	fixture_save_snapshot(fx);
	g_assert_cmpint(orders->reserved_until, ==, 150001);
	for (guint i = 0; i < 10; i++)
		expect_response(pub, c_publish1(pub, "orders", "x"));
	g_assert_cmpuint(fx->snapshot_wanted, ==, 3);
	/* an empty publish publishes nothing */
	expect_response(pub, c_publish(pub, "events", NULL));
	g_assert_cmpuint(fx->snapshot_wanted, ==, 3);

	/* in memory nothing is reserved, and nothing is asked */
	morders = make_topic(mem, "orders");
	g_assert_cmpint(morders->reserved_until, ==, G_MAXINT64);
	expect_response(m, c_publish_n(m, "orders", 60000, 1));
	expect_response(m, c_publish1(m, "orders", "x"));
	g_assert_cmpuint(mem->snapshot_wanted, ==, 0);
	g_assert_cmpint(morders->reserved_until, ==, G_MAXINT64);
	/* and a snapshot changes nothing there */
	fixture_save_snapshot(mem);
	g_assert_cmpint(morders->reserved_until, ==, G_MAXINT64);
	expect_response(m, c_publish1(m, "orders", "x"));
}

/* A snapshot that fails (built, never reported saved) releases nothing; a later one does, and a
 * late report of an older one never takes a reservation back. */
static void
test_reservation_failed_snapshot(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(GPtrArray) older = NULL;
	g_autoptr(GPtrArray) newer = NULL;
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *orders = make_topic(fx, "orders");

	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_publish1(pub, "orders", "a");
	g_ptr_array_unref(msb_broker_build_snapshot(fx->broker, FALSE));
	msb_broker_tick(fx->broker);
	expect_none(pub);
	expect_none(sub);
	g_assert_cmpint(orders->reserved_until, ==, 0);
	c_publish1(pub, "orders", "b");
	expect_none(pub);
	expect_none(sub);

	fixture_save_snapshot(fx);
	assert_responses(pub, "1, 2");
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-1");
	c_ok(sub, b);
	g_assert_cmpint(orders->reserved_until, ==, 100002);

	/* two snapshots in a row, the second one reported saved first */
	older = msb_broker_build_snapshot(fx->broker, FALSE);
	expect_response(pub, c_publish1(pub, "orders", "c"));
	newer = msb_broker_build_snapshot(fx->broker, FALSE);
	g_assert_cmpint(snapshot_topic(older, "orders")->message_id, ==, 100002);
	g_assert_cmpint(snapshot_topic(newer, "orders")->message_id, ==, 100003);
	msb_broker_snapshot_saved(fx->broker, newer);
	g_assert_cmpint(orders->reserved_until, ==, 100003);
	msb_broker_snapshot_saved(fx->broker, older);
	g_assert_cmpint(orders->reserved_until, ==, 100003);
}

/* persist_immediately: the answer needs the reservation and the save, whichever comes first. */
static void
test_reservation_persist_immediately(void)
{
	g_autoptr(Fixture) fx = persist_fixture_new();
	g_autoptr(Store) st = store_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(RxPacket) b = NULL;
	gint64 held;
	gint64 after;

	/* saved first */
	make_topic(fx, "aaa");
	c_subscribe(sub, "aaa", "q", MSB_QUEUE_TYPE_PERMANENT);
	held = c_publish_persist1(pub, "aaa", "p0");
	after = c_publish1(pub, "aaa", "n1");
	g_assert_cmpuint(store_save_all(fx, st), ==, 1);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "aaa")->durable_until, ==, 2);
	expect_none(pub);
	expect_none(sub);
	fixture_save_snapshot(fx);
	{
		g_autofree gchar *expect =
		        g_strdup_printf("%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT, held, after);
		assert_responses(pub, expect);
	}
	b = expect_batch(sub, "aaa", "q");
	assert_ids(b, "0-1");
	c_ok(sub, b);
	g_clear_pointer(&b, rx_packet_free);

	/* reserved first: delivered at once (delivery does not wait for the save), answered
	 * once saved */
	make_topic(fx, "bbb");
	c_subscribe(sub, "bbb", "q", MSB_QUEUE_TYPE_PERMANENT);
	held = c_publish_persist1(pub, "bbb", "p0");
	expect_none(pub);
	expect_none(sub);
	fixture_save_snapshot(fx);
	expect_none(pub);
	b = expect_batch(sub, "bbb", "q");
	assert_ids(b, "0");
	assert_content(rx_msg(b, 0), "p0");
	g_assert_cmpuint(store_save_all(fx, st), ==, 1);
	expect_response(pub, held);
}

/* The crash: ids that anyone saw are never handed out again, even if their messages are lost. */
static void
test_reservation_crash(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	g_autoptr(Fixture) fx2 = NULL;
	g_autoptr(Store) st = store_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(GPtrArray) saved = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
	                                                   g_free); /* id → content */
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *orders;
	MsbSaveBatch batch;
	gint64 max_seen = -1;
	gint64 reservation;
	guint new_messages = 0;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	/* the last snapshot that persistence will hold */
	saved = msb_broker_build_snapshot(fx->broker, FALSE);
	msb_broker_snapshot_saved(fx->broker, saved);
	reservation = snapshot_topic(saved, "orders")->message_id;
	g_assert_cmpint(reservation, ==, 100000);

	/* 0-4 delivered and confirmed, 5-9 delivered, 10-14 only acknowledged; 0-6 saved */
	for (guint p = 0; p < 3; p++) {
		g_autoptr(GPtrArray) strs = g_ptr_array_new_with_free_func(g_free);
		for (guint i = p * 5; i < p * 5 + 5; i++) {
			gint64 *id = g_new(gint64, 1);
			*id = i;
			g_ptr_array_add(strs, g_strdup_printf("before-%u", i));
			g_hash_table_insert(seen, id, g_strdup_printf("before-%u", i));
			max_seen = i;
		}
		g_ptr_array_add(strs, NULL);
		expect_response(pub, c_publish(pub, "orders", (const gchar *const *)strs->pdata));
		if (p < 2) {
			g_clear_pointer(&b, rx_packet_free);
			b = expect_batch(sub, "orders", "q");
			assert_ids(b, p == 0 ? "0-4" : "5-9");
			if (p == 0)
				c_ok(sub, b);
		}
	}
	expect_none(sub);
	msb_save_batch_init(&batch);
	g_assert_true(msb_broker_take_save_batch(fx->broker, G_MAXSIZE, 7, &batch));
	assert_save_ids(&batch, 0, 6, "0-6");
	store_keep(st, &batch);
	msb_broker_save_done(fx->broker, &batch);
	msb_save_batch_clear(&batch);
	/* a later snapshot fails */
	g_ptr_array_unref(msb_broker_build_snapshot(fx->broker, FALSE));

	/* crash: restored from the saved snapshot, persistence has up to id 6 */
	fx2 = fixture_new_with(&config);
	g_assert_cmpint(store_max_id(st, "orders"), ==, 6);
	restore_from_snapshot(fx2, saved, st);
	orders = msb_broker_find_topic(fx2->broker, "orders");
	g_assert_cmpint(orders->next_id, >=, reservation);
	g_assert_cmpint(orders->next_id, >, max_seen);
	assert_waiting(msb_topic_find_queue(orders, "q"), "[0-99999]");

	/* publish anew, as the adapter does after a snapshot */
	pub = client_new(fx2, 3, 0);
	sub = client_new(fx2, 3, 0);
	fixture_save_snapshot(fx2);
	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *content = g_strdup_printf("after-%u", i);
		expect_response(pub, c_publish1(pub, "orders", content));
	}
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	/* everything that comes: an id seen before has its content from then (the saved 0-6,
	 * the confirmed ones again because the snapshot is older than the confirmation), and
	 * the new ones have new ids above every id that was seen */
	for (;;) {
		serve_loads_until_output(fx2, st, sub);
		if (msb_buf_pending(msb_session_get_output(sub->session)) == 0)
			break;
		g_clear_pointer(&b, rx_packet_free);
		b = expect_batch(sub, "orders", "q");
		for (guint i = 0; i < b->messages->len; i++) {
			RxMessage *msg = rx_msg(b, i);
			const gchar *before = g_hash_table_lookup(seen, &msg->id);
			if (msg->id < 7) {
				g_assert_nonnull(before);
				assert_content(msg, before);
			} else {
				g_autofree gchar *expect =
				        g_strdup_printf("after-%u", new_messages++);
				g_assert_cmpint(msg->id, >, max_seen);
				g_assert_cmpint(msg->id, >=, reservation);
				assert_content(msg, expect);
			}
		}
		if (rx_msg(b, 0)->id == 0)
			assert_ids(b, "0-6");
		c_ok(sub, b);
	}
	g_assert_cmpuint(new_messages, ==, 3);
	g_assert_true(msb_id_set_is_empty(&msb_topic_find_queue(orders, "q")->waiting));
}

/*
 * A restored topic hands out no new id before a snapshot reserves it: ids published beyond the
 * reservation are saved but not seen, and a crash then brings them back (they were never seen,
 * so nobody can tell them from the originals).
 */
static void
test_reservation_restored(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	g_autoptr(Fixture) fx2 = NULL;
	g_autoptr(Store) st = store_new();
	g_autoptr(GPtrArray) saved =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_topic_snapshot_free);
	MsbTopicSnapshot *ts = msb_topic_snapshot_new("orders", 1000, TRUE);
	MsbQueueSnapshot *qs = msb_queue_snapshot_new("q", MSB_QUEUE_TYPE_PERMANENT);
	const MsbIdRange empty = {1000, 999};
	g_autoptr(RxPacket) b = NULL;
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	MsbTopic *orders;
	gint64 request_id;

	g_array_append_val(qs->ranges, empty);
	g_ptr_array_add(ts->queues, qs);
	g_ptr_array_add(saved, ts);
	restore_from_snapshot(fx, saved, st);
	orders = msb_broker_find_topic(fx->broker, "orders");
	g_assert_cmpint(orders->next_id, ==, 1000);
	g_assert_cmpint(orders->reserved_until, ==, 1000);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);

	/* no snapshot yet: saved is not enough */
	c_publish_persist1(pub, "orders", "r0");
	c_publish1(pub, "orders", "r1");
	g_assert_cmpuint(store_save_all(fx, st), ==, 1);
	g_assert_cmpint(orders->durable_until, ==, 1002);
	msb_broker_tick(fx->broker);
	expect_none(pub);
	expect_none(sub);

	/* crash: persistence has 1000-1001, the snapshot said 1000: the counter goes past them
	 * and the queue gets them */
	fx2 = fixture_new_with(&config);
	restore_from_snapshot(fx2, saved, st);
	orders = msb_broker_find_topic(fx2->broker, "orders");
	g_assert_cmpint(orders->next_id, ==, 1002);
	assert_waiting(msb_topic_find_queue(orders, "q"), "[1000-1001]");
	pub = client_new(fx2, 3, 0);
	sub = client_new(fx2, 3, 0);
	request_id = c_publish1(pub, "orders", "r2");
	expect_none(pub);
	fixture_save_snapshot(fx2);
	expect_response(pub, request_id);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	serve_loads_until_output(fx2, st, sub);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "1000-1002");
	assert_content(rx_msg(b, 0), "r0");
	assert_content(rx_msg(b, 1), "r1");
	assert_content(rx_msg(b, 2), "r2");
}

/* The final snapshot of a graceful shutdown reserves nothing: a clean restart has no gap. */
static void
test_reservation_final(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	g_autoptr(Fixture) fx2 = NULL;
	g_autoptr(Store) st = store_new();
	Client *pub = client_new(fx, 3, 0);
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(GPtrArray) snaps = NULL;
	g_autoptr(RxPacket) b = NULL;
	MsbTopic *orders = make_topic(fx, "orders");
	MsbTopic *late;
	gint64 request_id;

	fixture_save_snapshot(fx);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_n(pub, "orders", 10, 3));
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "0-9");
	{
		const gint64 done[] = {0, 3};
		c_confirm_ranges(sub, MSB_PACKET_INTERMEDIARY_CONFIRM, b, done, 1);
	}
	/* a second queue nobody reads */
	msb_broker_restore_queue(fx->broker, orders, 10, "idle", MSB_QUEUE_TYPE_PERMANENT, NULL, 0);
	/* a topic created just before the shutdown, whose publish still waits */
	late = make_topic(fx, "late");
	request_id = c_publish1(pub, "late", "x");
	expect_none(pub);

	/* the shutdown: everything saved, then the final snapshot */
	msb_broker_begin_shutdown(fx->broker);
	g_assert_cmpuint(store_save_all(fx, st), ==, 2);
	snaps = msb_broker_build_snapshot(fx->broker, TRUE);
	g_assert_cmpint(snapshot_topic(snaps, "orders")->message_id, ==, 10);
	assert_snapshot_queue(snapshot_topic(snaps, "orders"), "q", MSB_QUEUE_TYPE_PERMANENT,
	                      "4-9");
	assert_snapshot_queue(snapshot_topic(snaps, "orders"), "idle", MSB_QUEUE_TYPE_PERMANENT,
	                      "{10, 9}");
	g_assert_cmpint(snapshot_topic(snaps, "late")->message_id, ==, 1);
	/* saved: it covers every id published, so the waiting answer goes out; it takes back no
	 * reservation */
	msb_broker_snapshot_saved(fx->broker, snaps);
	expect_response(pub, request_id);
	g_assert_cmpint(late->reserved_until, ==, 1);
	g_assert_cmpint(orders->reserved_until, ==, 100000);

	/* the restart continues exactly where it stopped */
	fx2 = fixture_new_with(&config);
	restore_from_snapshot(fx2, snaps, st);
	orders = msb_broker_find_topic(fx2->broker, "orders");
	g_assert_cmpint(orders->next_id, ==, 10);
	g_assert_cmpint(msb_broker_find_topic(fx2->broker, "late")->next_id, ==, 1);
	assert_waiting(msb_topic_find_queue(orders, "q"), "[4-9]");
	assert_waiting(msb_topic_find_queue(orders, "idle"), "[]");
	g_assert_cmpint(msb_id_set_cursor(&msb_topic_find_queue(orders, "idle")->waiting), ==, 10);
	pub = client_new(fx2, 3, 0);
	sub = client_new(fx2, 3, 0);
	fixture_save_snapshot(fx2);
	expect_response(pub, c_publish1(pub, "orders", "m10"));
	assert_waiting(msb_topic_find_queue(orders, "idle"), "[10]");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	serve_loads_until_output(fx2, st, sub);
	g_clear_pointer(&b, rx_packet_free);
	b = expect_batch(sub, "orders", "q");
	assert_ids(b, "4-10");
	assert_content(rx_msg(b, 0), "eee");
	assert_content(rx_msg(b, 6), "m10");
}

int
main(int argc, char **argv)
{
	/* GLib 2.74 keeps list nodes in GSlice magazines, where LeakSanitizer sees them as
	 * reachable, so a leaked queue of held responses would go unnoticed. GSlice reads
	 * G_SLICE before main() runs: start again with it set. */
	if (g_strcmp0(g_getenv("G_SLICE"), "always-malloc") != 0) {
		g_setenv("G_SLICE", "always-malloc", TRUE);
		execv("/proc/self/exe", argv);
		/* no /proc: go on, only leak checking is weaker */
	}
	g_test_init(&argc, &argv, NULL);
	msb_test_log_init();

	g_test_add_func("/broker-persist/save/pending", test_save_pending);
	g_test_add_func("/broker-persist/save/limits", test_save_limits);
	g_test_add_func("/broker-persist/save/retry", test_save_retry);
	g_test_add_func("/broker-persist/save/pipelined-failure", test_save_pipelined_failure);
	g_test_add_func("/broker-persist/save/fair", test_save_fair);
	g_test_add_func("/broker-persist/persist-immediately/held", test_persist_immediately_held);
	g_test_add_func("/broker-persist/persist-immediately/reject-order",
	                test_persist_immediately_reject_order);
	g_test_add_func("/broker-persist/persist-immediately/not-persisted",
	                test_persist_immediately_not_persisted);
	g_test_add_func("/broker-persist/persist-immediately/close",
	                test_persist_immediately_close);
	g_test_add_func("/broker-persist/memory-ceiling", test_memory_ceiling);
	g_test_add_func("/broker-persist/gc/persisted", test_gc_persisted);
	g_test_add_func("/broker-persist/gc/in-memory", test_gc_in_memory);
	g_test_add_func("/broker-persist/load/lagging", test_load_lagging);
	g_test_add_func("/broker-persist/load/read-ahead", test_load_read_ahead);
	g_test_add_func("/broker-persist/load/damaged", test_load_damaged);
	g_test_add_func("/broker-persist/restore/unpublished", test_restore_unpublished);
	g_test_add_func("/broker-persist/snapshot/content", test_snapshot);
	g_test_add_func("/broker-persist/snapshot/generation", test_state_generation);
	g_test_add_func("/broker-persist/restore", test_restore);
	g_test_add_func("/broker-persist/round-trip", test_round_trip);
	g_test_add_func("/broker-persist/reservation/new-topic", test_reservation_new_topic);
	g_test_add_func("/broker-persist/reservation/boundary", test_reservation_boundary);
	g_test_add_func("/broker-persist/reservation/snapshot-wanted",
	                test_reservation_snapshot_wanted);
	g_test_add_func("/broker-persist/reservation/failed-snapshot",
	                test_reservation_failed_snapshot);
	g_test_add_func("/broker-persist/reservation/persist-immediately",
	                test_reservation_persist_immediately);
	g_test_add_func("/broker-persist/reservation/crash", test_reservation_crash);
	g_test_add_func("/broker-persist/reservation/restored", test_reservation_restored);
	g_test_add_func("/broker-persist/reservation/final", test_reservation_final);

	return g_test_run();
}
