/*
 * my-service-bus-persistence over gRPC: every G3 method through MsbPersistenceClient against the
 * real service, the requests a client could get wrong through raw C-core calls (empty and
 * invalid topic ids, undecodable messages, corrupt ZIP chunks, unknown methods), durability
 * across a graceful restart and across SIGKILL in the middle of saves, the start-up gate, the
 * listener guards, write errors, and the HTTP endpoints.
 */
#define G_LOG_DOMAIN "test-persistence-grpc"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <json-glib/json-glib.h>

#include "messages_persistence.pb-c.h"
#include "msb-config.h"
#include "msb-persist-paths.h"
#include "msb-zip.h"
#include "ptest.h"
#include "queue_persistence.pb-c.h"

typedef struct {
	PtestService *service;
	MsbPersistenceClient *client;
	gchar *target;
	gboolean own; /* the service is this test's, not the shared one */
} Fixture;

/*
 * Most tests share one service (a start costs about half a second under the sanitizers) and
 * keep apart by using topics of their own; tests that restart, kill or stop the service, or
 * that count everything it holds, get their own.
 */
static PtestService *shared_service;

static void
fixture_connect(Fixture *f)
{
	g_autoptr(GError) error = NULL;

	g_clear_object(&f->client);
	g_free(f->target);
	f->target = ptest_service_target(f->service);
	f->client = msb_persistence_client_new(f->target, &error);
	g_assert_no_error(error);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	if (shared_service == NULL) {
		shared_service = ptest_service_new();
		ptest_service_start(shared_service, 0);
	}
	f->service = shared_service;
	fixture_connect(f);
}

static void
fixture_setup_own(Fixture *f, gconstpointer data)
{
	f->own = TRUE;
	f->service = ptest_service_new();
	ptest_service_start(f->service, 0);
	fixture_connect(f);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_clear_object(&f->client);
	g_free(f->target);
	if (f->own)
		ptest_service_free(f->service);
}

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
#define ADD_OWN(path, func) \
	g_test_add(path, Fixture, NULL, fixture_setup_own, func, fixture_teardown)

static GBytes *
pack(const ProtobufCMessage *m)
{
	gsize len = protobuf_c_message_get_packed_size(m);
	guint8 *buf = g_malloc(len + 1);

	protobuf_c_message_pack(m, buf);
	return g_bytes_new_take(buf, len);
}

static GBytes *
chunk_message(const guint8 *data, gsize len)
{
	Persistence__CompressedMessageChunkModel m =
	        PERSISTENCE__COMPRESSED_MESSAGE_CHUNK_MODEL__INIT;

	m.chunk.data = (guint8 *)data;
	m.chunk.len = len;
	return pack(&m.base);
}

static void
assert_error_contains(const GError *error, gint code, const gchar *needle)
{
	g_assert_nonnull(error);
	g_test_message("error: %s", error->message);
	g_assert_error(error, MSB_PERSISTENCE_ERROR, code);
	if (needle != NULL && strstr(error->message, needle) == NULL)
		g_error("\"%s\" is not in \"%s\"", needle, error->message);
}

static void
assert_reply(const PtestReply *reply, grpc_status_code code, const gchar *needle)
{
	g_assert_cmpint(reply->status, ==, code);
	if (needle != NULL && strstr(reply->details, needle) == NULL)
		g_error("\"%s\" is not in \"%s\"", needle, reply->details);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void
test_ping_version(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *version = NULL;

	g_assert_true(ptest_ping(f->client, &error));
	g_assert_no_error(error);
	version = ptest_get_version(f->client, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(version, ==, MSB_VERSION);
}

static void
assert_snapshots_equal(GPtrArray *got, GPtrArray *want)
{
	g_assert_nonnull(got);
	g_assert_cmpuint(got->len, ==, want->len);
	for (guint i = 0; i < want->len; i++) {
		const MsbPersistTopicSnapshot *g = g_ptr_array_index(got, i);
		const MsbPersistTopicSnapshot *w = g_ptr_array_index(want, i);

		g_assert_cmpstr(g->topic_id, ==, w->topic_id);
		g_assert_cmpint(g->message_id, ==, w->message_id);
		g_assert_cmpint(g->persist, ==, w->persist);
		g_assert_cmpuint(g->queues->len, ==, w->queues->len);
		for (guint j = 0; j < w->queues->len; j++) {
			const MsbPersistQueueSnapshot *gq = g_ptr_array_index(g->queues, j);
			const MsbPersistQueueSnapshot *wq = g_ptr_array_index(w->queues, j);

			g_assert_cmpstr(gq->queue_id, ==, wq->queue_id);
			g_assert_cmpint(gq->queue_type, ==, wq->queue_type);
			g_assert_cmpmem(gq->ranges->data, gq->ranges->len * sizeof(MsbPersistRange),
			                wq->ranges->data,
			                wq->ranges->len * sizeof(MsbPersistRange));
		}
	}
}

static GPtrArray *
sample_snapshot(void)
{
	GPtrArray *topics =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_persist_topic_snapshot_free);
	MsbPersistTopicSnapshot *t;
	MsbPersistQueueSnapshot *q;

	t = msb_persist_topic_snapshot_new("orders", 2500, TRUE);
	q = msb_persist_topic_snapshot_add_queue(t, "billing", MSB_PERSIST_QUEUE_PERMANENT);
	msb_persist_queue_snapshot_add_range(q, 10, 20);
	msb_persist_queue_snapshot_add_range(q, 30, 2499);
	q = msb_persist_topic_snapshot_add_queue(t, "audit ✓", MSB_PERSIST_QUEUE_AUTO_DELETE);
	msb_persist_queue_snapshot_add_range(q, 0, -1); /* empty queue */
	q = msb_persist_topic_snapshot_add_queue(t, "single",
	                                         MSB_PERSIST_QUEUE_PERMANENT_SINGLE_CONNECTION);
	g_ptr_array_add(topics, t);
	g_ptr_array_add(topics, msb_persist_topic_snapshot_new("memory-only", 7, FALSE));
	return topics;
}

static void
test_snapshot(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) empty = NULL;
	g_autoptr(GPtrArray) want = sample_snapshot();
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(GPtrArray) again = NULL;
	g_autoptr(GPtrArray) none = g_ptr_array_new();

	/* never saved: a broker with no topics */
	empty = ptest_get_snapshot(f->client, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(empty->len, ==, 0);

	g_assert_true(ptest_save_snapshot(f->client, want, &error));
	g_assert_no_error(error);
	got = ptest_get_snapshot(f->client, &error);
	g_assert_no_error(error);
	assert_snapshots_equal(got, want);

	/* a save replaces the whole snapshot */
	g_assert_true(ptest_save_snapshot(f->client, none, &error));
	g_assert_no_error(error);
	again = ptest_get_snapshot(f->client, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(again->len, ==, 0);
}

/* A record without field 4 (Persist) means persist = true (§3.2). */
static void
test_snapshot_persist_absent(Fixture *f, gconstpointer data)
{
	Persistence__TopicAndQueuesSnapshotGrpcModel rec =
	        PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__INIT;
	Persistence__TopicAndQueuesSnapshotGrpcModel *recs[1] = {&rec};
	Persistence__SaveQueueSnapshotGrpcRequest req =
	        PERSISTENCE__SAVE_QUEUE_SNAPSHOT_GRPC_REQUEST__INIT;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(PtestReply) reply = NULL;
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(GError) error = NULL;
	const MsbPersistTopicSnapshot *t;

	rec.topicid = (char *)"legacy";
	rec.messageid = 42;
	req.n_queuesnapshot = 1;
	req.queuesnapshot = recs;
	bytes = pack(&req.base);
	reply = ptest_raw_call1(f->target, MSB_PERSIST_PATH_SAVE_SNAPSHOT, bytes, 5000);
	assert_reply(reply, GRPC_STATUS_OK, NULL);
	got = ptest_get_snapshot(f->client, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(got->len, ==, 1);
	t = g_ptr_array_index(got, 0);
	g_assert_cmpstr(t->topic_id, ==, "legacy");
	g_assert_cmpint(t->message_id, ==, 42);
	g_assert_true(t->persist);
}

static void
check_reads(Fixture *f, const gchar *topic, const MsbPersistMessage *msgs, gsize n)
{
	g_autoptr(GError) error = NULL;

	/* n = 2500 messages 0…2499: sub pages 0, 1 and half of 2 */
	{
		g_autoptr(MsbMessageBatch) b = ptest_get_sub_page(f->client, topic, 0, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs, 1000);
	}
	{
		g_autoptr(MsbMessageBatch) b = ptest_get_sub_page(f->client, topic, 2, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs + 2000, n - 2000);
	}
	{
		g_autoptr(MsbMessageBatch) b = ptest_get_sub_page(f->client, topic, 3, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(b->n_messages, ==, 0);
	}
	{
		/* 0/0: the whole page */
		g_autoptr(MsbMessageBatch) b = ptest_get_page(f->client, topic, 0, 0, 0, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs, n);
	}
	{
		/* a range within the page, as the broker asks for one sub page */
		g_autoptr(MsbMessageBatch) b =
		        ptest_get_page(f->client, topic, 0, 1500, 1600, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs + 1500, 101);
	}
	{
		/* a range is clipped to its page: page 1 holds nothing */
		g_autoptr(MsbMessageBatch) b =
		        ptest_get_page(f->client, topic, 1, 1500, 1600, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(b->n_messages, ==, 0);
	}
	{
		g_autoptr(MsbMessageBatch) b = ptest_get_message(f->client, topic, 1234, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs + 1234, 1);
	}
	{
		g_autoptr(MsbMessageBatch) b = ptest_get_message(f->client, topic, 99999, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(b->n_messages, ==, 0);
	}
	for (gint32 version = 0; version <= 1; version++) {
		g_autoptr(MsbMessageBatch) b =
		        ptest_get_page_compressed(f->client, topic, 0, 0, 0, version, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs, n);
	}
	{
		g_autoptr(MsbMessageBatch) b =
		        ptest_get_page_compressed(f->client, topic, 0, 10, 19, 1, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs + 10, 10);
	}
}

static void
test_save_uncompressed(Fixture *f, gconstpointer data)
{
	const gsize n = 2500;
	MsbPersistMessage *msgs = ptest_messages_new(0, n);
	g_autoptr(GError) error = NULL;

	g_assert_true(ptest_save_messages(f->client, "plain-orders", msgs, n, FALSE, &error));
	g_assert_no_error(error);
	check_reads(f, "plain-orders", msgs, n);
	ptest_messages_free(msgs, n);
}

static void
test_save_compressed(Fixture *f, gconstpointer data)
{
	const gsize n = 2500;
	MsbPersistMessage *msgs = ptest_messages_new(0, n);
	g_autoptr(GError) error = NULL;

	g_assert_true(ptest_save_messages(f->client, "zipped-orders", msgs, n, TRUE, &error));
	g_assert_no_error(error);
	check_reads(f, "zipped-orders", msgs, n);
	ptest_messages_free(msgs, n);
}

/* Payloads above one chunk (3 MiB up, 4 MiB down) travel as several stream messages. */
static void
test_large_messages(Fixture *f, gconstpointer data)
{
	MsbPersistMessage *msgs = ptest_messages_new(100, 3);
	g_autoptr(GError) error = NULL;
	guint64 x = 0x9e3779b97f4a7c15u;

	/* 2 × 4.5 MiB: more than one 3 MiB upload chunk and one 4 MiB download chunk */
	for (guint i = 0; i < 2; i++) {
		gsize len = (9u << 19) + i;
		guint8 *big = g_malloc(len + 8);

		/* barely compressible (xorshift), so the zipped upload needs several chunks too */
		for (gsize j = 0; j < len; j += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(big + j, &x, 8);
		}
		g_free((gpointer)msgs[i].content);
		msgs[i].content = big;
		msgs[i].content_len = len;
	}
	for (gint compressed = 0; compressed <= 1; compressed++) {
		g_autoptr(MsbMessageBatch) page = NULL;
		g_autoptr(MsbMessageBatch) zipped = NULL;
		g_autoptr(MsbMessageBatch) one = NULL;
		const gchar *topic = compressed ? "big-zipped" : "big-plain";

		g_assert_true(ptest_save_messages(f->client, topic, msgs, 3, compressed, &error));
		g_assert_no_error(error);
		page = ptest_get_page(f->client, topic, 0, 0, 0, &error);
		g_assert_no_error(error);
		ptest_assert_batch(page, msgs, 3);
		zipped = ptest_get_page_compressed(f->client, topic, 0, 0, 0, 0, &error);
		g_assert_no_error(error);
		ptest_assert_batch(zipped, msgs, 3);
		one = ptest_get_message(f->client, topic, 101, &error);
		g_assert_no_error(error);
		ptest_assert_batch(one, msgs + 1, 1);
	}
	ptest_messages_free(msgs, 3);
}

/* Re-sending ids replaces them (the broker retries whole batches). */
static void
test_resave(Fixture *f, gconstpointer data)
{
	MsbPersistMessage *msgs = ptest_messages_new(0, 10);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbMessageBatch) b = NULL;

	g_assert_true(ptest_save_messages(f->client, "retry", msgs, 10, FALSE, &error));
	g_assert_true(ptest_save_messages(f->client, "retry", msgs, 10, TRUE, &error));
	g_assert_no_error(error);
	b = ptest_get_sub_page(f->client, "retry", 0, &error);
	g_assert_no_error(error);
	ptest_assert_batch(b, msgs, 10);
	ptest_messages_free(msgs, 10);
}

static void
test_unknown_topic(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbMessageBatch) page = NULL;
	g_autoptr(MsbMessageBatch) sub = NULL;
	g_autoptr(MsbMessageBatch) msg = NULL;
	g_autoptr(MsbMessageBatch) zipped = NULL;
	gboolean restored = TRUE;
	gint64 next = -5;

	page = ptest_get_page(f->client, "nothing-here", 0, 0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(page->n_messages, ==, 0);
	sub = ptest_get_sub_page(f->client, "nothing-here", 5, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(sub->n_messages, ==, 0);
	msg = ptest_get_message(f->client, "nothing-here", 3, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(msg->n_messages, ==, 0);
	/* a ZIP even when there is nothing in it (§5.2) */
	zipped = ptest_get_page_compressed(f->client, "nothing-here", 0, 0, 0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(zipped->n_messages, ==, 0);
	g_assert_true(ptest_restore_topic(f->client, "nothing-here", &restored, &next, &error));
	g_assert_no_error(error);
	g_assert_false(restored);
	g_assert_true(ptest_delete_topic(f->client, "nothing-here", 1, &error));
	g_assert_no_error(error);
}

static void
test_delete_restore(Fixture *f, gconstpointer data)
{
	MsbPersistMessage *msgs = ptest_messages_new(0, 50);
	g_autoptr(GError) error = NULL;
	gboolean restored = FALSE;
	gint64 next = 0;

	g_assert_true(ptest_save_messages(f->client, "doomed", msgs, 50, FALSE, &error));
	g_assert_no_error(error);
	g_assert_true(ptest_delete_topic(
	        f->client, "doomed", g_get_real_time() + G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC,
	        &error));
	g_assert_no_error(error);
	{
		g_autoptr(MsbMessageBatch) b = ptest_get_sub_page(f->client, "doomed", 0, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(b->n_messages, ==, 0);
	}
	/* a deleted topic refuses saves until it is restored */
	g_assert_false(ptest_save_messages(f->client, "doomed", msgs, 1, FALSE, &error));
	assert_error_contains(error, MSB_PERSISTENCE_ERROR_FAILED_PRECONDITION, "restore");
	g_clear_error(&error);

	g_assert_true(ptest_restore_topic(f->client, "doomed", &restored, &next, &error));
	g_assert_no_error(error);
	g_assert_true(restored);
	g_assert_cmpint(next, ==, 50);
	{
		g_autoptr(MsbMessageBatch) b = ptest_get_sub_page(f->client, "doomed", 0, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs, 50);
	}
	ptest_messages_free(msgs, 50);
}

static void
test_bad_topics(Fixture *f, gconstpointer data)
{
	MsbPersistMessage *msgs = ptest_messages_new(0, 3);
	g_autoptr(GError) error = NULL;
	const gchar *bad[] = {"", "Bad/Name", "ab"};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		const gchar *needle = bad[i][0] == '\0' ? "TopicId is empty" : "Invalid TopicId";
		g_autoptr(MsbMessageBatch) b = NULL;
		gboolean restored;

		g_test_message("topic \"%s\"", bad[i]);
		g_assert_false(ptest_save_messages(f->client, bad[i], msgs, 3, FALSE, &error));
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, needle);
		g_clear_error(&error);
		g_assert_false(ptest_save_messages(f->client, bad[i], msgs, 3, TRUE, &error));
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, needle);
		g_clear_error(&error);
		b = ptest_get_page(f->client, bad[i], 0, 0, 0, &error);
		g_assert_null(b);
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, needle);
		g_clear_error(&error);
		b = ptest_get_sub_page(f->client, bad[i], 0, &error);
		g_assert_null(b);
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, needle);
		g_clear_error(&error);
		b = ptest_get_message(f->client, bad[i], 0, &error);
		g_assert_null(b);
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, needle);
		g_clear_error(&error);
		b = ptest_get_page_compressed(f->client, bad[i], 0, 0, 0, 0, &error);
		g_assert_null(b);
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, needle);
		g_clear_error(&error);
		g_assert_false(ptest_delete_topic(f->client, bad[i], 1, &error));
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, needle);
		g_clear_error(&error);
		g_assert_false(ptest_restore_topic(f->client, bad[i], &restored, NULL, &error));
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, needle);
		g_clear_error(&error);
	}
	{
		g_autoptr(GPtrArray) topics = g_ptr_array_new_with_free_func(
		        (GDestroyNotify)msb_persist_topic_snapshot_free);

		g_ptr_array_add(topics, msb_persist_topic_snapshot_new("fine", 1, TRUE));
		g_ptr_array_add(topics, msb_persist_topic_snapshot_new("", 1, TRUE));
		g_assert_false(ptest_save_snapshot(f->client, topics, &error));
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT,
		                      "TopicId is empty");
		g_clear_error(&error);
	}
	{
		/* a negative page does not exist */
		g_autoptr(MsbMessageBatch) b =
		        ptest_get_page(f->client, "orders", -1, 0, 0, &error);
		g_assert_null(b);
		assert_error_contains(error, MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT, "PageNo");
		g_clear_error(&error);
	}
	ptest_messages_free(msgs, 3);
}

static void
test_bad_uploads(Fixture *f, gconstpointer data)
{
	MsbPersistMessage *msgs = ptest_messages_new(0, 20);
	g_autoptr(GBytes) payload = msb_message_codec_encode_upload("upload-orders", msgs, 20);
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *raw = g_bytes_get_data(payload, &len);
	g_autoptr(GBytes) zip = msb_zip_pack_single(raw, len, &error);
	gsize zlen = 0;
	const guint8 *zdata = g_bytes_get_data(zip, &zlen);

	g_assert_no_error(error);
	{
		/* a ZIP with a flipped byte in its deflate data: CRC or inflate fails */
		g_autofree guint8 *bad = g_memdup2(zdata, zlen);
		g_autoptr(GPtrArray) reqs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		g_autoptr(PtestReply) reply = NULL;

		bad[40] ^= 0x5a;
		g_ptr_array_add(reqs, chunk_message(bad, zlen / 2));
		g_ptr_array_add(reqs, chunk_message(bad + zlen / 2, zlen - zlen / 2));
		reply = ptest_raw_call(f->target, MSB_PERSIST_PATH_SAVE_MESSAGES, reqs, 5000);
		assert_reply(reply, GRPC_STATUS_INVALID_ARGUMENT, "ZIP");
	}
	{
		/* one chunk missing: the archive is truncated */
		g_autoptr(GPtrArray) reqs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		g_autoptr(PtestReply) reply = NULL;

		g_ptr_array_add(reqs, chunk_message(zdata, zlen - 10));
		reply = ptest_raw_call(f->target, MSB_PERSIST_PATH_SAVE_MESSAGES, reqs, 5000);
		assert_reply(reply, GRPC_STATUS_INVALID_ARGUMENT, "not a valid ZIP");
	}
	{
		/* the raw payload sent as if it were zipped */
		g_autoptr(GPtrArray) reqs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		g_autoptr(PtestReply) reply = NULL;

		g_ptr_array_add(reqs, chunk_message(raw, len));
		reply = ptest_raw_call(f->target, MSB_PERSIST_PATH_SAVE_MESSAGES, reqs, 5000);
		assert_reply(reply, GRPC_STATUS_INVALID_ARGUMENT, "ZIP");
	}
	{
		/* the ZIP sent as if it were the raw payload */
		g_autoptr(GPtrArray) reqs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		g_autoptr(PtestReply) reply = NULL;

		g_ptr_array_add(reqs, chunk_message(zdata, zlen));
		reply = ptest_raw_call(f->target, MSB_PERSIST_PATH_SAVE_MESSAGES_UNCOMPRESSED, reqs,
		                       5000);
		assert_reply(reply, GRPC_STATUS_INVALID_ARGUMENT, "NewMessagesPayloadModel");
	}
	{
		/* no chunks at all */
		g_autoptr(PtestReply) a =
		        ptest_raw_call(f->target, MSB_PERSIST_PATH_SAVE_MESSAGES, NULL, 5000);
		g_autoptr(PtestReply) b = ptest_raw_call(
		        f->target, MSB_PERSIST_PATH_SAVE_MESSAGES_UNCOMPRESSED, NULL, 5000);

		assert_reply(a, GRPC_STATUS_INVALID_ARGUMENT, "empty");
		assert_reply(b, GRPC_STATUS_INVALID_ARGUMENT, "empty");
	}
	{
		/* a stream message that is not a chunk {1 bytes} */
		g_autoptr(GPtrArray) reqs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		g_autoptr(PtestReply) reply = NULL;
		static const guint8 junk[] = {0x08, 0x96, 0x01, 0xff, 0xff};

		g_ptr_array_add(reqs, g_bytes_new_static(junk, sizeof(junk)));
		reply = ptest_raw_call(f->target, MSB_PERSIST_PATH_SAVE_MESSAGES_UNCOMPRESSED, reqs,
		                       5000);
		assert_reply(reply, GRPC_STATUS_INVALID_ARGUMENT, "chunk");
	}
	{
		/* the entry-per-message layout carries no TopicId: refused, entry named */
		g_autoptr(MsbZipWriter) w = msb_zip_writer_new(-1);
		g_autoptr(GBytes) rec = msb_message_codec_encode_record(&msgs[1]);
		g_autoptr(GBytes) per = NULL;
		g_autoptr(GPtrArray) reqs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		g_autoptr(PtestReply) reply = NULL;
		gsize rlen = 0;
		const guint8 *rdata = g_bytes_get_data(rec, &rlen);
		gsize plen = 0;
		const guint8 *pdata;

		g_assert_true(msb_zip_writer_add_id(w, 1, rdata, rlen, &error));
		per = msb_zip_writer_finish(w, &error);
		g_assert_no_error(error);
		pdata = g_bytes_get_data(per, &plen);
		g_ptr_array_add(reqs, chunk_message(pdata, plen));
		reply = ptest_raw_call(f->target, MSB_PERSIST_PATH_SAVE_MESSAGES, reqs, 5000);
		assert_reply(reply, GRPC_STATUS_INVALID_ARGUMENT, "ZIP entry \"1\"");
	}
	{
		/* and nothing of the bad uploads was stored */
		g_autoptr(MsbMessageBatch) b =
		        ptest_get_sub_page(f->client, "upload-orders", 0, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(b->n_messages, ==, 0);
	}
	{
		/* a ZIP whose entry has another name but holds an upload payload is accepted */
		g_autoptr(MsbZipWriter) w = msb_zip_writer_new(-1);
		g_autoptr(GBytes) other = NULL;
		g_autoptr(GPtrArray) reqs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		g_autoptr(PtestReply) reply = NULL;
		g_autoptr(MsbMessageBatch) b = NULL;
		gsize olen = 0;
		const guint8 *odata;

		g_assert_true(msb_zip_writer_add(w, "payload", raw, len, &error));
		other = msb_zip_writer_finish(w, &error);
		g_assert_no_error(error);
		odata = g_bytes_get_data(other, &olen);
		g_ptr_array_add(reqs, chunk_message(odata, olen));
		reply = ptest_raw_call(f->target, MSB_PERSIST_PATH_SAVE_MESSAGES, reqs, 5000);
		assert_reply(reply, GRPC_STATUS_OK, NULL);
		b = ptest_get_sub_page(f->client, "upload-orders", 0, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs, 20);
	}
	ptest_messages_free(msgs, 20);
}

/* Requests that do not decode, for every method that takes one. */
static void
test_malformed_requests(Fixture *f, gconstpointer data)
{
	static const guint8 junk[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01};
	const gchar *paths[] = {
	        MSB_PERSIST_PATH_SAVE_SNAPSHOT,       MSB_PERSIST_PATH_GET_MESSAGE,
	        MSB_PERSIST_PATH_GET_PAGE_COMPRESSED, MSB_PERSIST_PATH_GET_PAGE,
	        MSB_PERSIST_PATH_GET_SUB_PAGE,        MSB_PERSIST_PATH_DELETE_TOPIC,
	        MSB_PERSIST_PATH_RESTORE_TOPIC,
	};
	g_autoptr(GBytes) bytes = g_bytes_new_static(junk, sizeof(junk));

	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_autoptr(PtestReply) reply = ptest_raw_call1(f->target, paths[i], bytes, 5000);
		assert_reply(reply, GRPC_STATUS_INVALID_ARGUMENT, "not a valid");
	}
}

static void
test_unimplemented(Fixture *f, gconstpointer data)
{
	const gchar *paths[] = {
	        "/persistence.Nope/Foo",
	        /* G4 methods: a G4 broker gets told at once */
	        "/" MSB_PERSIST_MESSAGES_SERVICE "/GetQueueSnapshot",
	        "/" MSB_PERSIST_MESSAGES_SERVICE "/HardDeleteTopic",
	};
	g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);

	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_autoptr(PtestReply) reply = ptest_raw_call1(f->target, paths[i], empty, 5000);

		assert_reply(reply, GRPC_STATUS_UNIMPLEMENTED, "does not serve");
		/* not queued until the deadline */
		g_assert_cmpint(reply->elapsed_us, <, 1000 * 1000);
	}
}

static void
test_concurrent_saves(Fixture *f, gconstpointer data)
{
	enum {
		N = 24
	};
	MsbPersistMessage *msgs = ptest_messages_new(0, 100);
	GAsyncResult *res[N] = {NULL};
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < N; i++) {
		g_autofree gchar *topic = g_strdup_printf("topic-%02u", i);

		msb_persistence_client_save_messages_async(f->client, topic, msgs, 100, i % 2, NULL,
		                                           ptest_store_result_cb, &res[i]);
	}
	for (guint i = 0; i < N; i++) {
		ptest_wait_result(&res[i]);
		g_assert_true(
		        msb_persistence_client_save_messages_finish(f->client, res[i], &error));
		g_assert_no_error(error);
		g_object_unref(res[i]);
	}
	for (guint i = 0; i < N; i++) {
		g_autofree gchar *topic = g_strdup_printf("topic-%02u", i);
		g_autoptr(MsbMessageBatch) b = ptest_get_sub_page(f->client, topic, 0, &error);

		g_assert_no_error(error);
		ptest_assert_batch(b, msgs, 100);
	}
	ptest_messages_free(msgs, 100);
}

static void
test_restart(Fixture *f, gconstpointer data)
{
	MsbPersistMessage *msgs = ptest_messages_new(0, 2500);
	g_autoptr(GPtrArray) snap = sample_snapshot();
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(GError) error = NULL;
	gint status;

	g_assert_true(ptest_save_messages(f->client, "orders", msgs, 1200, FALSE, &error));
	g_assert_true(ptest_save_messages(f->client, "orders", msgs + 1200, 1300, TRUE, &error));
	g_assert_true(ptest_save_snapshot(f->client, snap, &error));
	g_assert_no_error(error);

	status = ptest_service_stop(f->service, SIGTERM);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	ptest_service_start(f->service, 0);
	fixture_connect(f);

	check_reads(f, "orders", msgs, 2500);
	got = ptest_get_snapshot(f->client, &error);
	g_assert_no_error(error);
	assert_snapshots_equal(got, snap);
	ptest_messages_free(msgs, 2500);
}

typedef struct {
	GAsyncResult *res;
	gint64 first_id;
	guint n;
} SaveSlot;

/* Every save acknowledged before a SIGKILL is there after the restart. */
static void
test_kill_during_saves(Fixture *f, gconstpointer data)
{
	enum {
		ROUNDS = 40,
		BATCH = 50
	};
	MsbPersistMessage *msgs = ptest_messages_new(0, ROUNDS * BATCH);
	SaveSlot slots[ROUNDS] = {{0}};
	g_autoptr(GError) error = NULL;
	gboolean acked[ROUNDS] = {FALSE};
	guint n_acked = 0;
	guint killed_after = 0;
	gint status;

	msb_persistence_client_set_timeouts(f->client, 1500, 1500);
	for (guint i = 0; i < ROUNDS; i++) {
		slots[i].first_id = (gint64)i * BATCH;
		msb_persistence_client_save_messages_async(f->client, "crash", msgs + i * BATCH,
		                                           BATCH, i % 2, NULL,
		                                           ptest_store_result_cb, &slots[i].res);
		/* kill once some saves are acknowledged and others are surely in flight */
		if (i == ROUNDS / 2) {
			PTEST_WAIT_FOR_MS(slots[0].res != NULL, PTEST_TIMEOUT_MS);
			killed_after = i;
			kill(f->service->pid, SIGKILL);
		}
	}
	status = ptest_service_stop(f->service, SIGKILL);
	g_assert_true(WIFSIGNALED(status));
	for (guint i = 0; i < ROUNDS; i++) {
		ptest_wait_result(&slots[i].res);
		acked[i] = msb_persistence_client_save_messages_finish(f->client, slots[i].res,
		                                                       &error);
		if (acked[i])
			n_acked++;
		else
			g_test_message("save %u: %s", i, error->message);
		g_clear_error(&error);
		g_object_unref(slots[i].res);
	}
	g_test_message("%u of %u saves acknowledged before the kill after save %u", n_acked, ROUNDS,
	               killed_after);
	g_assert_cmpuint(n_acked, >=, 1);

	ptest_service_start(f->service, 0);
	fixture_connect(f);
	for (guint i = 0; i < ROUNDS; i++) {
		g_autoptr(MsbMessageBatch) b = NULL;

		if (!acked[i])
			continue;
		b = ptest_get_page(f->client, "crash", 0, slots[i].first_id,
		                   slots[i].first_id + BATCH - 1, &error);
		g_assert_no_error(error);
		ptest_assert_batch(b, msgs + i * BATCH, BATCH);
	}
	ptest_messages_free(msgs, ROUNDS * BATCH);
}

/*
 * Until recovery is done only Ping and GetVersion are served; the rest is UNAVAILABLE with a
 * retry pushback, which the client honours, so a call with time to spare rides it out.
 */
static void
test_not_ready(void)
{
	PtestService *s = ptest_service_new();
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = NULL;
	g_autofree gchar *version = NULL;
	g_autofree gchar *body = NULL;
	g_autoptr(GPtrArray) snap = NULL;
	g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
	g_autoptr(GBytes) page_req = NULL;
	g_autoptr(PtestReply) raw_snap = NULL;
	g_autoptr(PtestReply) raw_page = NULL;
	Persistence__GetSubPageGrpcRequest req = PERSISTENCE__GET_SUB_PAGE_GRPC_REQUEST__INIT;
	GAsyncResult *res = NULL;
	guint status = 0;

	g_ptr_array_add(s->extra_args, g_strdup("--test-delay-recovery=1500"));
	ptest_service_start_listening(s, 0);
	target = ptest_service_target(s);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);

	/* a call with time to spare, started now, succeeds once recovery is done */
	msb_persistence_client_get_snapshot_async(client, NULL, ptest_store_result_cb, &res);

	msb_persistence_client_set_timeouts(client, 300, 300);
	g_assert_true(ptest_ping(client, &error));
	g_assert_no_error(error);
	version = ptest_get_version(client, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(version, ==, MSB_VERSION);

	/* at once, and with the pushback trailer */
	raw_snap = ptest_raw_call1(target, MSB_PERSIST_PATH_GET_SNAPSHOT, empty, 5000);
	assert_reply(raw_snap, GRPC_STATUS_UNAVAILABLE, "recovering");
	g_assert_cmpstr(raw_snap->retry_pushback, ==, "100");
	g_assert_cmpint(raw_snap->elapsed_us, <, 1000 * 1000);
	req.topicid = (char *)"orders";
	page_req = pack(&req.base);
	raw_page = ptest_raw_call1(target, MSB_PERSIST_PATH_GET_SUB_PAGE, page_req, 5000);
	assert_reply(raw_page, GRPC_STATUS_UNAVAILABLE, "recovering");

	/* a short deadline runs out while the client retries: the last answer comes back */
	snap = ptest_get_snapshot(client, &error);
	g_assert_null(snap);
	assert_error_contains(error, MSB_PERSISTENCE_ERROR_UNAVAILABLE, "recovering");
	g_assert_true(msb_persistence_error_is_transient(error));
	g_clear_error(&error);

	body = ptest_http_get(s->http_port, "/api/status", &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(strstr(body, "\"state\" : \"recovering\""));
	g_assert_nonnull(strstr(body, "\"ready\" : false"));

	ptest_wait_result(&res);
	snap = msb_persistence_client_get_snapshot_finish(client, res, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(snap->len, ==, 0);
	g_object_unref(res);
	g_clear_object(&client);
	ptest_service_free(s);
}

/* A second instance cannot share the port or the data folder, nor steal the Unix socket. */
static void
test_guards(void)
{
	PtestService *a = ptest_service_new();
	PtestService *b = ptest_service_new();
	PtestService *c = ptest_service_new();
	g_autofree gchar *sock = g_build_filename(a->dir, "grpc.sock", NULL);
	g_autofree gchar *unix_target = g_strconcat("unix:", sock, NULL);
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *log = NULL;

	g_ptr_array_add(a->extra_args, g_strconcat("--unix-socket=", sock, NULL));
	ptest_service_start(a, 0);

	/* the same gRPC port: SO_REUSEPORT is off, so the bind fails */
	ptest_service_spawn(b, a->grpc_port);
	g_assert_true(ptest_service_wait_exit(b, 15000));
	g_assert_true(WIFEXITED(b->wait_status));
	g_assert_cmpint(WEXITSTATUS(b->wait_status), ==, 1);
	log = ptest_service_log(b);
	g_assert_nonnull(strstr(log, "Cannot listen for gRPC"));
	g_clear_pointer(&log, g_free);

	/* the same Unix socket, on another port: refused by the lock file */
	g_ptr_array_add(b->extra_args, g_strconcat("--unix-socket=", sock, NULL));
	ptest_service_spawn(b, 0);
	g_assert_true(ptest_service_wait_exit(b, 15000));
	g_assert_true(WIFEXITED(b->wait_status));
	g_assert_cmpint(WEXITSTATUS(b->wait_status), ==, 1);
	log = ptest_service_log(b);
	g_assert_nonnull(strstr(log, "served by another process"));
	g_clear_pointer(&log, g_free);

	/* the same data folder: the store's lock */
	g_free(c->data_path);
	c->data_path = g_strdup(a->data_path);
	ptest_service_spawn(c, 0);
	g_assert_true(ptest_service_wait_exit(c, 15000));
	/* exited (a sanitizer report would abort), with status 1 */
	g_assert_true(WIFEXITED(c->wait_status));
	g_assert_cmpint(WEXITSTATUS(c->wait_status), ==, 1);
	log = ptest_service_log(c);
	g_assert_nonnull(strstr(log, "cannot open the data"));

	/* the first one still serves, on TCP and on its socket */
	client = msb_persistence_client_new(unix_target, &error);
	g_assert_no_error(error);
	g_assert_true(ptest_ping(client, &error));
	g_assert_no_error(error);
	{
		MsbPersistMessage *msgs = ptest_messages_new(0, 5);
		g_autoptr(MsbMessageBatch) got = NULL;

		g_assert_true(ptest_save_messages(client, "over-unix", msgs, 5, TRUE, &error));
		g_assert_no_error(error);
		got = ptest_get_sub_page(client, "over-unix", 0, &error);
		g_assert_no_error(error);
		ptest_assert_batch(got, msgs, 5);
		ptest_messages_free(msgs, 5);
	}
	g_clear_object(&client);
	ptest_service_free(c);
	ptest_service_free(b);
	ptest_service_free(a);
}

/* A bad settings file stops the start with a message naming the file, the line and the key. */
static void
test_bad_settings(void)
{
	PtestService *s = ptest_service_new();
	g_autofree gchar *settings = g_build_filename(s->dir, "settings.yaml", NULL);
	g_autofree gchar *log = NULL;
	g_autoptr(GError) error = NULL;

	g_file_set_contents(settings, "DataPath: /tmp/x\nGrpcPort: seven\n", -1, &error);
	g_assert_no_error(error);
	ptest_service_spawn(s, 0);
	g_assert_true(ptest_service_wait_exit(s, 15000));
	g_assert_true(WIFEXITED(s->wait_status));
	g_assert_cmpint(WEXITSTATUS(s->wait_status), ==, 1);
	log = ptest_service_log(s);
	g_test_message("%s", log);
	g_assert_nonnull(strstr(log, "settings.yaml:2: GrpcPort:"));
	ptest_service_free(s);
}

/* A disk that refuses a write: an error status, never OK, and the metric counts it. */
static void
test_write_error(void)
{
	PtestService *s = ptest_service_new();
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = NULL;
	g_autofree gchar *metrics = NULL;
	MsbPersistMessage *msgs = ptest_messages_new(0, 10);
	guint status = 0;

	/* ENOSPC on the first fsync after recovery */
	g_ptr_array_add(s->extra_args, g_strdup("--test-inject-fault=sync:1:28"));
	ptest_service_start(s, 0);
	target = ptest_service_target(s);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	g_assert_false(ptest_save_messages(client, "full-disk", msgs, 10, FALSE, &error));
	assert_error_contains(error, MSB_PERSISTENCE_ERROR_UNAVAILABLE, "cannot store");
	g_assert_true(msb_persistence_error_is_transient(error));
	metrics = ptest_http_get(s->http_port, "/metrics", &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_null(strstr(metrics, "persistence_write_errors_total 0\n"));
	g_assert_nonnull(strstr(metrics, "persistence_write_errors_total "));
	g_clear_object(&client);
	ptest_messages_free(msgs, 10);
	ptest_service_free(s);
}

static JsonObject *
parse_object(JsonParser *parser, const gchar *body)
{
	g_autoptr(GError) error = NULL;
	JsonNode *root;

	json_parser_load_from_data(parser, body, -1, &error);
	g_assert_no_error(error);
	root = json_parser_get_root(parser);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
	return json_node_get_object(root);
}

static void
test_http(Fixture *f, gconstpointer data)
{
	MsbPersistMessage *msgs = ptest_messages_new(5, 20);
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonParser) p1 = json_parser_new();
	g_autoptr(JsonParser) p2 = json_parser_new();
	g_autoptr(JsonParser) p3 = json_parser_new();
	g_autofree gchar *alive = NULL;
	g_autofree gchar *alive2 = NULL;
	g_autofree gchar *st = NULL;
	g_autofree gchar *metrics = NULL;
	g_autofree gchar *missing = NULL;
	JsonObject *o;
	JsonArray *topics;
	JsonObject *t;
	guint status = 0;
	const gchar *names[] = {
	        "persistence_up 1",
	        "persistence_ready 1",
	        "persistence_saves_total 1",
	        "persistence_messages_saved_total 20",
	        "persistence_fsyncs_total ",
	        "persistence_write_errors_total 0",
	        "persistence_commits_total ",
	        "persistence_disk_bytes ",
	        "persistence_topic_stored_messages{topic=\"metered\"} 20",
	        "persistence_topic_disk_bytes{topic=\"metered\"} ",
	        "persistence_grpc_calls_total{method=\"SaveMessagesUncompressed\",code=\"OK\"} 1",
	        "# TYPE persistence_saves_total counter",
	};

	g_assert_true(ptest_save_messages(f->client, "metered", msgs, 20, FALSE, &error));
	g_assert_no_error(error);

	alive = ptest_http_get(f->service->http_port, "/api/isalive", &status);
	g_assert_cmpuint(status, ==, 200);
	o = parse_object(p1, alive);
	g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, "my-service-bus-persistence");
	g_assert_cmpstr(json_object_get_string_member(o, "version"), ==, MSB_VERSION);
	g_assert_true(json_object_has_member(o, "started"));
	/* the spellings of the originals */
	alive2 = ptest_http_get(f->service->http_port, "/api/IsAlive/", &status);
	g_assert_cmpuint(status, ==, 200);

	st = ptest_http_get(f->service->http_port, "/api/status", &status);
	g_assert_cmpuint(status, ==, 200);
	o = parse_object(p2, st);
	g_assert_true(json_object_get_boolean_member(o, "ready"));
	g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(o, "recovery"),
	                                              "state"),
	                ==, "ready");
	g_assert_true(json_object_has_member(o, "disk"));
	g_assert_true(
	        json_object_has_member(json_object_get_object_member(o, "disk"), "used_bytes"));
	g_assert_false(JSON_NODE_HOLDS_NULL(json_object_get_member(o, "last_save")));
	g_assert_true(json_object_has_member(o, "store"));
	g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(o, "store"),
	                                           "messages_saved"),
	                ==, 20);
	topics = json_object_get_array_member(o, "topics");
	g_assert_cmpuint(json_array_get_length(topics), ==, 1);
	t = json_array_get_object_element(topics, 0);
	g_assert_cmpstr(json_object_get_string_member(t, "topic_id"), ==, "metered");
	g_assert_cmpint(json_object_get_int_member(t, "min_id"), ==, 5);
	g_assert_cmpint(json_object_get_int_member(t, "max_id"), ==, 24);
	g_assert_cmpint(json_object_get_int_member(t, "count"), ==, 20);
	g_assert_cmpint(json_object_get_int_member(t, "disk_bytes"), >, 0);

	metrics = ptest_http_get(f->service->http_port, "/metrics", &status);
	g_assert_cmpuint(status, ==, 200);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		if (strstr(metrics, names[i]) == NULL)
			g_error("\"%s\" is not in the metrics:\n%s", names[i], metrics);
	}

	missing = ptest_http_get(f->service->http_port, "/nope", &status);
	g_assert_cmpuint(status, ==, 404);
	(void)p3;
	ptest_messages_free(msgs, 20);
}

/* SIGTERM while saves are in flight: they finish (or fail cleanly), the exit status is 0. */
static void
test_shutdown_with_saves(Fixture *f, gconstpointer data)
{
	enum {
		N = 8
	};
	MsbPersistMessage *msgs = ptest_messages_new(0, 1000);
	GAsyncResult *res[N] = {NULL};
	g_autoptr(GError) error = NULL;
	gint status;

	/* the saves not yet sent when the service is gone wait for it only this long */
	msb_persistence_client_set_timeouts(f->client, 3000, 3000);
	for (guint i = 0; i < N; i++) {
		g_autofree gchar *topic = g_strdup_printf("late-%u", i);

		msb_persistence_client_save_messages_async(f->client, topic, msgs, 1000, TRUE, NULL,
		                                           ptest_store_result_cb, &res[i]);
	}
	PTEST_WAIT_FOR_MS(res[0] != NULL, PTEST_TIMEOUT_MS);
	status = ptest_service_stop(f->service, SIGTERM);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	for (guint i = 0; i < N; i++) {
		ptest_wait_result(&res[i]);
		if (!msb_persistence_client_save_messages_finish(f->client, res[i], &error)) {
			g_test_message("save %u: %s", i, error->message);
			g_assert_true(msb_persistence_error_is_transient(error));
		}
		g_clear_error(&error);
		g_object_unref(res[i]);
	}
	ptest_messages_free(msgs, 1000);
}

int
main(int argc, char **argv)
{
	int rc;

	ptest_init(&argc, &argv);
	ADD("/persistence/ping-version", test_ping_version);
	ADD("/persistence/snapshot", test_snapshot);
	ADD("/persistence/snapshot-persist-absent", test_snapshot_persist_absent);
	ADD("/persistence/save-uncompressed", test_save_uncompressed);
	ADD("/persistence/save-compressed", test_save_compressed);
	ADD("/persistence/large-messages", test_large_messages);
	ADD("/persistence/resave", test_resave);
	ADD("/persistence/unknown-topic", test_unknown_topic);
	ADD("/persistence/delete-restore", test_delete_restore);
	ADD("/persistence/bad-topics", test_bad_topics);
	ADD("/persistence/bad-uploads", test_bad_uploads);
	ADD("/persistence/malformed-requests", test_malformed_requests);
	ADD("/persistence/unimplemented", test_unimplemented);
	ADD("/persistence/concurrent-saves", test_concurrent_saves);
	ADD_OWN("/persistence/restart", test_restart);
	ADD_OWN("/persistence/kill-during-saves", test_kill_during_saves);
	ADD_OWN("/persistence/http", test_http);
	ADD_OWN("/persistence/shutdown-with-saves", test_shutdown_with_saves);
	g_test_add_func("/persistence/not-ready", test_not_ready);
	g_test_add_func("/persistence/guards", test_guards);
	g_test_add_func("/persistence/write-error", test_write_error);
	g_test_add_func("/persistence/bad-settings", test_bad_settings);
	rc = g_test_run();
	ptest_service_free(shared_service);
	ptest_shutdown();
	return rc;
}
