/*
 * The persistence wire contract in proto/: the field numbers of the generated messages pinned
 * byte for byte (persistence.md §3, Appendix A.1), the method paths against the generated
 * service descriptors, and the message codec: round trips of lists, upload payloads and bare
 * records, batch splitting, malformed and oversized input, and the whole G3 SaveMessages path
 * (encode → zip → chunks → join → unzip → decode) together with src/common/msb-zip.
 */
#include "msb-message-codec.h"
#include "msb-persist-paths.h"
#include "msb-zip.h"

#include <string.h>

#include "messages_persistence.pb-c.h"
#include "persistence_payloads.pb-c.h"
#include "queue_persistence.pb-c.h"

#define T_LIMIT (64 * 1024 * 1024)

/* ---- helpers ---- */

static GByteArray *
hex_decode(const gchar *hex)
{
	GByteArray *out = g_byte_array_new();

	for (const gchar *s = hex; *s != '\0';) {
		guint8 b;
		if (g_ascii_isspace(*s)) {
			s++;
			continue;
		}
		g_assert_true(g_ascii_isxdigit(s[0]) && g_ascii_isxdigit(s[1]));
		b = (guint8)(g_ascii_xdigit_value(s[0]) << 4 | g_ascii_xdigit_value(s[1]));
		g_byte_array_append(out, &b, 1);
		s += 2;
	}
	return out;
}

static void
assert_bytes_hex(GBytes *bytes, const gchar *hex)
{
	g_autoptr(GByteArray) expect = hex_decode(hex);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);

	g_assert_cmpmem(data, len, expect->data, expect->len);
}

static GBytes *
pack(const ProtobufCMessage *msg)
{
	gsize size = protobuf_c_message_get_packed_size(msg);
	guint8 *buf = g_malloc(size);

	g_assert_cmpuint(protobuf_c_message_pack(msg, buf), ==, size);
	return g_bytes_new_take(buf, size);
}

static void
assert_message_equal(const MsbPersistMessage *a, const MsbPersistMessage *b)
{
	g_assert_cmpint(a->id, ==, b->id);
	g_assert_cmpint(a->created_us, ==, b->created_us);
	g_assert_cmpmem(a->content, a->content_len, b->content, b->content_len);
	g_assert_cmpuint(a->n_headers, ==, b->n_headers);
	for (gsize j = 0; j < a->n_headers; j++) {
		g_assert_cmpstr(a->headers[j].key, ==,
		                b->headers[j].key != NULL ? b->headers[j].key : "");
		g_assert_cmpstr(a->headers[j].value, ==,
		                b->headers[j].value != NULL ? b->headers[j].value : "");
	}
}

static void
assert_batch(const MsbMessageBatch *batch, const MsbPersistMessage *expect, gsize n)
{
	g_assert_nonnull(batch);
	g_assert_cmpuint(batch->n_messages, ==, n);
	for (gsize i = 0; i < n; i++)
		assert_message_equal(&batch->messages[i], &expect[i]);
}

/* the last one encodes as "" / "" */
static const MsbPersistHeader sample_headers[] = {
        {"trace-id", "abc"}, {"", ""}, {"ключ", "значение ✓"}, {NULL, NULL}};

/* A varied set: negative and huge ids, zero and real timestamps, empty and binary content. */
static void
sample_messages(MsbPersistMessage *out, guint8 *binary, gsize binary_len)
{
	for (gsize i = 0; i < binary_len; i++)
		binary[i] = (guint8)(i * 7 + 1);
	out[0] = (MsbPersistMessage){.id = 0, .created_us = 0};
	out[1] = (MsbPersistMessage){.id = 1,
	                             .created_us = 1700000000123456,
	                             .content = (const guint8 *)"hi",
	                             .content_len = 2,
	                             .headers = sample_headers,
	                             .n_headers = 1};
	out[2] = (MsbPersistMessage){.id = G_MAXINT64,
	                             .created_us = -1,
	                             .content = binary,
	                             .content_len = binary_len,
	                             .headers = sample_headers,
	                             .n_headers = G_N_ELEMENTS(sample_headers)};
	out[3] = (MsbPersistMessage){.id = -1, .created_us = G_MININT64};
}

/* ---- the wire contract ---- */

/* MessageContentGrpcModel {1 MessageId, 2 Created, 3 Data, 4 MetaData {1 Key, 2 Value}} and its
 * wrappers {1 repeated} and {1 TopicId, 2 repeated}, hand-encoded. */
static void
test_contract_records(void)
{
	static const MsbPersistHeader h[] = {{"a", "b"}};
	MsbPersistMessage m = {.id = 5,
	                       .created_us = 1,
	                       .content = (const guint8 *)"hi",
	                       .content_len = 2,
	                       .headers = h,
	                       .n_headers = 1};
	MsbPersistMessage neg = {.id = -1};
	g_autoptr(GBytes) record = msb_message_codec_encode_record(&m);
	g_autoptr(GBytes) list = msb_message_codec_encode_list(&m, 1);
	g_autoptr(GBytes) upload = msb_message_codec_encode_upload("orders", &m, 1);
	g_autoptr(GBytes) neg_record = msb_message_codec_encode_record(&neg);
	g_autoptr(GBytes) empty_list = msb_message_codec_encode_list(NULL, 0);

	assert_bytes_hex(record, "08 05 10 01 1a 02 68 69 22 06 0a 01 61 12 01 62");
	assert_bytes_hex(list, "0a 10  08 05 10 01 1a 02 68 69 22 06 0a 01 61 12 01 62");
	assert_bytes_hex(upload, "0a 06 6f 72 64 65 72 73  12 10  08 05 10 01 1a 02 68 69 22 06 "
	                         "0a 01 61 12 01 62");
	/* int64, not sint64: -1 takes ten bytes */
	assert_bytes_hex(neg_record, "08 ff ff ff ff ff ff ff ff ff 01");
	g_assert_cmpuint(g_bytes_get_size(empty_list), ==, 0);
	g_assert_cmpuint(msb_message_codec_element_size(&m), ==, 18);
}

/* msb_message_codec_element_size() works the size out without protobuf-c: it must be what the
 * encoder writes, for every field that proto3 leaves out or sizes differently (zeros, negative
 * ids, empty and NULL header strings, varint lengths of one to three bytes). */
static void
test_element_size(void)
{
	static const MsbPersistHeader odd[] = {
	        {"", "v"}, {"k", ""}, {NULL, NULL}, {"key", "value"}};
	static const gsize lens[] = {0, 1, 127, 128, 16383, 16384, 70000};
	g_autofree guint8 *content = g_malloc0(70000);
	g_autofree MsbPersistHeader *many = g_new0(MsbPersistHeader, 200);

	for (guint i = 0; i < 200; i++)
		many[i] = (MsbPersistHeader){"header-key", "a header value"};
	for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
		for (guint shape = 0; shape < 4; shape++) {
			MsbPersistMessage m = {.id = shape == 1 ? -5 : (gint64)i * 1000,
			                       .created_us = shape == 2 ? G_MININT64 : (gint64)i,
			                       .content = content,
			                       .content_len = lens[i]};
			g_autoptr(GBytes) list = NULL;

			if (shape == 1) {
				m.headers = odd;
				m.n_headers = G_N_ELEMENTS(odd);
			} else if (shape == 3) {
				m.headers = many;
				m.n_headers = 200;
			}
			/* a list of one: the field tag, the element's length, the element */
			list = msb_message_codec_encode_list(&m, 1);
			g_assert_cmpuint(msb_message_codec_element_size(&m), ==,
			                 g_bytes_get_size(list));
		}
	}
}

/* TopicAndQueuesSnapshotGrpcModel {1 TopicId, 2 MessageId, 3 QueueSnapshots {1 QueueId,
 * 2 Ranges {1 FromId, 2 ToId}, 3 QueueType}, 4 Persist (optional)}, in SaveQueueSnapshotGrpcRequest
 * {1 repeated}. Presence of Persist round-trips: absent, false, true. */
static void
test_contract_snapshot(void)
{
	Persistence__QueueIndexRangeGrpcModel range =
	        PERSISTENCE__QUEUE_INDEX_RANGE_GRPC_MODEL__INIT;
	Persistence__QueueIndexRangeGrpcModel *ranges[] = {&range};
	Persistence__QueueSnapshotGrpcModel queue = PERSISTENCE__QUEUE_SNAPSHOT_GRPC_MODEL__INIT;
	Persistence__QueueSnapshotGrpcModel *queues[] = {&queue};
	Persistence__TopicAndQueuesSnapshotGrpcModel topic =
	        PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__INIT;
	Persistence__TopicAndQueuesSnapshotGrpcModel *topics[] = {&topic};
	Persistence__SaveQueueSnapshotGrpcRequest req =
	        PERSISTENCE__SAVE_QUEUE_SNAPSHOT_GRPC_REQUEST__INIT;
	g_autoptr(GBytes) with_false = NULL;
	g_autoptr(GBytes) absent = NULL;
	g_autoptr(GBytes) whole = NULL;

	range.fromid = 0;
	range.toid = 2;
	queue.queueid = (char *)"q";
	queue.n_ranges = 1;
	queue.ranges = ranges;
	queue.queuetype =
	        PERSISTENCE__QUEUE_TYPE_PERSISTENCE_GRPC_ENUM__PermanentWithSingleConnection;
	topic.topicid = (char *)"t";
	topic.messageid = 3;
	topic.n_queuesnapshots = 1;
	topic.queuesnapshots = queues;

	absent = pack(&topic.base);
	assert_bytes_hex(absent, "0a 01 74 10 03 1a 09 0a 01 71 12 02 10 02 18 02");
	topic.persist_presence_case =
	        PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__PERSIST_PRESENCE_PERSIST;
	topic.persist = FALSE;
	with_false = pack(&topic.base);
	assert_bytes_hex(with_false, "0a 01 74 10 03 1a 09 0a 01 71 12 02 10 02 18 02 20 00");
	req.n_queuesnapshot = 1;
	req.queuesnapshot = topics;
	whole = pack(&req.base);
	assert_bytes_hex(whole, "0a 12 0a 01 74 10 03 1a 09 0a 01 71 12 02 10 02 18 02 20 00");

	/* decoding: absent / false / true, and an unknown queue type is kept as a number */
	{
		static const gchar *vectors[] = {"0a 01 74", "0a 01 74 20 00", "0a 01 74 20 01",
		                                 "1a 04 0a 00 18 07"};
		Persistence__TopicAndQueuesSnapshotGrpcModel *d[G_N_ELEMENTS(vectors)];

		for (gsize i = 0; i < G_N_ELEMENTS(vectors); i++) {
			g_autoptr(GByteArray) b = hex_decode(vectors[i]);
			d[i] = persistence__topic_and_queues_snapshot_grpc_model__unpack(
			        NULL, b->len, b->data);
			g_assert_nonnull(d[i]);
		}
		g_assert_cmpint(
		        d[0]->persist_presence_case, ==,
		        PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__PERSIST_PRESENCE__NOT_SET);
		g_assert_cmpint(
		        d[1]->persist_presence_case, ==,
		        PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__PERSIST_PRESENCE_PERSIST);
		g_assert_false(d[1]->persist);
		g_assert_cmpint(
		        d[2]->persist_presence_case, ==,
		        PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__PERSIST_PRESENCE_PERSIST);
		g_assert_true(d[2]->persist);
		g_assert_cmpuint(d[3]->n_queuesnapshots, ==, 1);
		g_assert_cmpint(d[3]->queuesnapshots[0]->queuetype, ==, 7);
		for (gsize i = 0; i < G_N_ELEMENTS(vectors); i++)
			persistence__topic_and_queues_snapshot_grpc_model__free_unpacked(d[i],
			                                                                 NULL);
	}
}

/* The requests and responses of A.1. */
static void
test_contract_requests(void)
{
	Persistence__GetPageGrpcRequest page = PERSISTENCE__GET_PAGE_GRPC_REQUEST__INIT;
	Persistence__GetSubPageGrpcRequest sub = PERSISTENCE__GET_SUB_PAGE_GRPC_REQUEST__INIT;
	Persistence__GetMessageGrpcRequest msg = PERSISTENCE__GET_MESSAGE_GRPC_REQUEST__INIT;
	Persistence__DeleteTopicGrpcRequest del = PERSISTENCE__DELETE_TOPIC_GRPC_REQUEST__INIT;
	Persistence__RestoreTopicGrpcRequest restore =
	        PERSISTENCE__RESTORE_TOPIC_GRPC_REQUEST__INIT;
	Persistence__RestoreTopicGrpcResponse restored =
	        PERSISTENCE__RESTORE_TOPIC_GRPC_RESPONSE__INIT;
	Persistence__GetVersionGrpcResponse version = PERSISTENCE__GET_VERSION_GRPC_RESPONSE__INIT;
	Persistence__CompressedMessageChunkModel chunk =
	        PERSISTENCE__COMPRESSED_MESSAGE_CHUNK_MODEL__INIT;
	Persistence__UnCompressedMessageChunkModel raw =
	        PERSISTENCE__UN_COMPRESSED_MESSAGE_CHUNK_MODEL__INIT;
	Persistence__Empty empty = PERSISTENCE__EMPTY__INIT;
	struct {
		const ProtobufCMessage *msg;
		const gchar *hex;
	} cases[] = {
	        {&page.base, "0a 01 74 10 02 18 90 a1 0f 20 f7 a8 0f 28 01"},
	        {&sub.base, "0a 01 74 10 c8 01"},
	        {&msg.base, "0a 01 74 10 2a"},
	        {&del.base, "0a 01 74 10 80 ad e2 04"},
	        {&restore.base, "0a 01 74"},
	        {&restored.base, "08 01 10 2a"},
	        {&version.base, "0a 05 32 2e 32 2e 36"},
	        {&chunk.base, "0a 03 50 4b 03"},
	        {&raw.base, "0a 02 0a 00"},
	        {&empty.base, ""},
	};

	page.topicid = sub.topicid = msg.topicid = del.topicid = restore.topicid = (char *)"t";
	page.pageno = 2;
	page.frommessageid = 250000;
	page.tomessageid = 250999;
	page.version = 1;
	sub.subpageno = 200;
	msg.messageid = 42;
	del.deleteafter = 10000000;
	restored.result = TRUE;
	restored.messageid = 42;
	version.version = (char *)"2.2.6";
	chunk.chunk.data = (uint8_t *)"PK\x03";
	chunk.chunk.len = 3;
	raw.chunk.data = (uint8_t *)"\x0a\x00";
	raw.chunk.len = 2;
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GBytes) b = pack(cases[i].msg);
		assert_bytes_hex(b, cases[i].hex);
	}
}

static void
check_service(const ProtobufCServiceDescriptor *desc, const gchar *const *paths, gsize n)
{
	g_assert_cmpuint(desc->n_methods, ==, n);
	for (gsize i = 0; i < n; i++) {
		g_autofree gchar *path =
		        g_strdup_printf("/%s/%s", desc->name, desc->methods[i].name);
		g_assert_cmpstr(path, ==, paths[i]);
	}
}

static void
test_contract_paths(void)
{
	static const gchar *queue[] = {
	        "/persistence.MyServiceBusQueuePersistenceGrpcService/GetSnapshot",
	        "/persistence.MyServiceBusQueuePersistenceGrpcService/SaveSnapshot",
	};
	static const gchar *messages[] = {
	        MSB_PERSIST_PATH_GET_VERSION,
	        MSB_PERSIST_PATH_GET_MESSAGE,
	        MSB_PERSIST_PATH_GET_PAGE_COMPRESSED,
	        MSB_PERSIST_PATH_GET_PAGE,
	        MSB_PERSIST_PATH_GET_SUB_PAGE,
	        MSB_PERSIST_PATH_SAVE_MESSAGES,
	        MSB_PERSIST_PATH_SAVE_MESSAGES_UNCOMPRESSED,
	        MSB_PERSIST_PATH_DELETE_TOPIC,
	        MSB_PERSIST_PATH_RESTORE_TOPIC,
	        MSB_PERSIST_PATH_PING,
	};

	g_assert_cmpstr(MSB_PERSIST_PATH_GET_SNAPSHOT, ==, queue[0]);
	g_assert_cmpstr(MSB_PERSIST_PATH_SAVE_SNAPSHOT, ==, queue[1]);
	g_assert_cmpstr(MSB_PERSIST_PATH_PING, ==,
	                "/persistence.MyServiceBusMessagesPersistenceGrpcService/Ping");
	check_service(&persistence__my_service_bus_queue_persistence_grpc_service__descriptor,
	              queue, G_N_ELEMENTS(queue));
	check_service(&persistence__my_service_bus_messages_persistence_grpc_service__descriptor,
	              messages, G_N_ELEMENTS(messages));
}

/* ---- codec round trips ---- */

static void
test_round_trip_list(void)
{
	guint8 binary[300];
	MsbPersistMessage m[4];
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(MsbMessageBatch) batch = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *data;

	sample_messages(m, binary, sizeof(binary));
	bytes = msb_message_codec_encode_list(m, G_N_ELEMENTS(m));
	data = g_bytes_get_data(bytes, &len);
	batch = msb_message_codec_decode_list(data, len, T_LIMIT, &error);
	g_assert_no_error(error);
	g_assert_null(batch->topic_id);
	assert_batch(batch, m, G_N_ELEMENTS(m));

	/* an empty list is zero bytes and decodes to no messages */
	{
		g_autoptr(MsbMessageBatch) none = msb_message_codec_decode_list(NULL, 0, 0, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(none->n_messages, ==, 0);
	}
}

static void
test_round_trip_upload(void)
{
	guint8 binary[300];
	MsbPersistMessage m[4];
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GBytes) empty = NULL;
	g_autoptr(MsbMessageBatch) batch = NULL;
	g_autoptr(MsbMessageBatch) none = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *data;
	gsize expect_len;

	sample_messages(m, binary, sizeof(binary));
	bytes = msb_message_codec_encode_upload("orders-топик", m, G_N_ELEMENTS(m));
	data = g_bytes_get_data(bytes, &len);
	batch = msb_message_codec_decode_upload(data, len, len, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(batch->topic_id, ==, "orders-топик");
	assert_batch(batch, m, G_N_ELEMENTS(m));

	/* the sizes add up: topic field plus one element per message */
	expect_len = 2 + strlen("orders-топик");
	for (gsize i = 0; i < G_N_ELEMENTS(m); i++)
		expect_len += msb_message_codec_element_size(&m[i]);
	g_assert_cmpuint(len, ==, expect_len);

	empty = msb_message_codec_encode_upload("", NULL, 0);
	g_assert_cmpuint(g_bytes_get_size(empty), ==, 0);
	none = msb_message_codec_decode_upload(NULL, 0, 10, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(none->topic_id, ==, "");
	g_assert_cmpuint(none->n_messages, ==, 0);
}

static void
test_round_trip_records(void)
{
	guint8 binary[300];
	MsbPersistMessage m[4];
	g_autoptr(MsbMessageBatch) batch = msb_message_batch_new();
	g_autoptr(GError) error = NULL;

	sample_messages(m, binary, sizeof(binary));
	for (gsize i = 0; i < G_N_ELEMENTS(m); i++) {
		g_autoptr(GBytes) rec = msb_message_codec_encode_record(&m[i]);
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(rec, &len);

		g_assert_true(msb_message_batch_add_record(batch, data, len, T_LIMIT, &error));
		g_assert_no_error(error);
	}
	assert_batch(batch, m, G_N_ELEMENTS(m));

	/* a bad record leaves what was added intact */
	g_assert_false(msb_message_batch_add_record(batch, (const guint8 *)"\x1a\x05", 2, T_LIMIT,
	                                            &error));
	g_assert_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_MALFORMED);
	assert_batch(batch, m, G_N_ELEMENTS(m));
}

/* Large content and many headers: the memory cap leaves real data alone. */
static void
test_round_trip_large(void)
{
	gsize n = 1000;
	g_autofree MsbPersistMessage *m = g_new0(MsbPersistMessage, n);
	g_autofree MsbPersistHeader *h = g_new0(MsbPersistHeader, 64);
	g_autofree guint8 *big = g_malloc(6 * 1024 * 1024);
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(MsbMessageBatch) batch = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *data;

	for (gsize j = 0; j < 64; j++) {
		h[j].key = "k";
		h[j].value = "";
	}
	memset(big, 'x', 6 * 1024 * 1024);
	for (gsize i = 0; i < n; i++) {
		m[i].id = (gint64)i + 1;
		m[i].created_us = 1700000000000000 + (gint64)i;
		m[i].headers = h;
		m[i].n_headers = i % 2 == 0 ? 64 : 0;
	}
	m[500].content = big;
	m[500].content_len = 6 * 1024 * 1024;
	bytes = msb_message_codec_encode_list(m, n);
	data = g_bytes_get_data(bytes, &len);
	batch = msb_message_codec_decode_list(data, len, T_LIMIT, &error);
	g_assert_no_error(error);
	assert_batch(batch, m, n);

	/* only headers: the most expensive real shape per wire byte */
	for (gsize i = 0; i < n; i++) {
		m[i].content_len = 0;
		m[i].n_headers = 64;
	}
	{
		g_autoptr(GBytes) hb = msb_message_codec_encode_list(m, n);
		g_autoptr(MsbMessageBatch) hbatch = NULL;
		gsize hlen = 0;
		const guint8 *hd = g_bytes_get_data(hb, &hlen);

		hbatch = msb_message_codec_decode_list(hd, hlen, T_LIMIT, &error);
		g_assert_no_error(error);
		assert_batch(hbatch, m, n);
	}
}

/*
 * The cheapest header the broker's wire protocol lets a client publish is an empty key with an
 * empty value, at most 255 per message: a page or an upload of such messages must stay under the
 * memory cap, or the broker could neither save them nor load them back. (fuzz-message-codec finds
 * lists the cap refuses, but only of shapes no broker sends: thousands of records without id,
 * time or content.)
 */
static void
test_round_trip_empty_headers(void)
{
	gsize n = 200;
	g_autofree MsbPersistMessage *m = g_new0(MsbPersistMessage, n);
	g_autofree MsbPersistHeader *h = g_new0(MsbPersistHeader, 255);

	for (gsize j = 0; j < 255; j++) {
		h[j].key = "";
		h[j].value = "";
	}
	for (gsize i = 0; i < n; i++) {
		m[i].id = (gint64)i;
		m[i].created_us = 1700000000000000 + (gint64)i;
		m[i].headers = h;
		m[i].n_headers = 255;
	}
	for (guint form = 0; form < 2; form++) {
		g_autoptr(GBytes) bytes = form == 0
		                                  ? msb_message_codec_encode_list(m, n)
		                                  : msb_message_codec_encode_upload("orders", m, n);
		g_autoptr(MsbMessageBatch) batch = NULL;
		g_autoptr(GError) error = NULL;
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(bytes, &len);

		/* the ceiling is the input itself: only the memory cap can refuse */
		batch = form == 0 ? msb_message_codec_decode_list(data, len, len, &error)
		                  : msb_message_codec_decode_upload(data, len, len, &error);
		g_assert_no_error(error);
		assert_batch(batch, m, n);
	}
}

static void
test_fit_upload(void)
{
	MsbPersistMessage m[10];
	guint8 content[100];
	gsize element;
	gsize topic_field = 2 + 1;

	memset(content, 'c', sizeof(content));
	for (gsize i = 0; i < G_N_ELEMENTS(m); i++)
		m[i] = (MsbPersistMessage){
		        .id = 1000 + (gint64)i, .content = content, .content_len = sizeof(content)};
	element = msb_message_codec_element_size(&m[0]);

	g_assert_cmpuint(msb_message_codec_fit_upload("t", m, 0, 1 << 20), ==, 0);
	g_assert_cmpuint(msb_message_codec_fit_upload("t", m, 10, 1 << 20), ==, 10);
	g_assert_cmpuint(msb_message_codec_fit_upload("t", m, 10, topic_field + 3 * element), ==,
	                 3);
	g_assert_cmpuint(msb_message_codec_fit_upload("t", m, 10, topic_field + 3 * element - 1),
	                 ==, 2);
	/* one message larger than the limit still goes, alone */
	g_assert_cmpuint(msb_message_codec_fit_upload("t", m, 10, 10), ==, 1);

	/* the fitted prefix really encodes within the limit */
	{
		g_autoptr(GBytes) b = msb_message_codec_encode_upload("t", m, 3);
		g_assert_cmpuint(g_bytes_get_size(b), ==, topic_field + 3 * element);
	}
}

/* ---- malformed input ---- */

static MsbMessageBatch *
decode_list_exact(const guint8 *data, gsize len, gsize max_len, GError **error)
{
	g_autofree guint8 *copy = len > 0 ? g_memdup2(data, len) : NULL;
	return msb_message_codec_decode_list(copy, len, max_len, error);
}

static void
test_truncated(void)
{
	guint8 binary[300];
	MsbPersistMessage m[4];
	g_autoptr(GBytes) bytes = NULL;
	gsize boundaries[G_N_ELEMENTS(m) + 1];
	gsize len = 0;
	const guint8 *data;

	sample_messages(m, binary, sizeof(binary));
	bytes = msb_message_codec_encode_list(m, G_N_ELEMENTS(m));
	data = g_bytes_get_data(bytes, &len);
	boundaries[0] = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(m); i++)
		boundaries[i + 1] = boundaries[i] + msb_message_codec_element_size(&m[i]);
	g_assert_cmpuint(boundaries[G_N_ELEMENTS(m)], ==, len);

	/* a cut between elements is a shorter valid list; any other cut is an error */
	for (gsize cut = 0; cut <= len; cut++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbMessageBatch) batch = decode_list_exact(data, cut, T_LIMIT, &error);
		gssize whole = -1;

		for (gsize i = 0; i <= G_N_ELEMENTS(m); i++) {
			if (boundaries[i] == cut)
				whole = (gssize)i;
		}
		if (whole >= 0) {
			g_assert_no_error(error);
			assert_batch(batch, m, (gsize)whole);
		} else {
			g_assert_null(batch);
			g_assert_error(error, MSB_MESSAGE_CODEC_ERROR,
			               MSB_MESSAGE_CODEC_ERROR_MALFORMED);
		}
	}
}

static void
test_malformed(void)
{
	static const struct {
		const gchar *what;
		const gchar *hex;
	} cases[] = {
	        {"a varint that never ends", "08 ff ff ff ff ff ff ff ff ff ff ff"},
	        {"a length past the end", "0a 05 08 01"},
	        {"a huge length", "0a ff ff ff ff 0f"},
	        {"field 1 with the wrong wire type", "09 01 02 03 04 05 06 07 08"},
	        {"a record with a bad inner length", "0a 02 1a 05"},
	        {"a header with a bad inner length", "0a 04 22 02 0a 05"},
	        {"field number 0", "00 00"},
	        {"an end-group tag", "0c"},
	        {"invalid UTF-8 in a header key", "0a 05 22 03 0a 01 ff"},
	        {"invalid UTF-8 in a header value", "0a 08 22 06 0a 01 61 12 01 c3"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GByteArray) b = hex_decode(cases[i].hex);
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbMessageBatch) batch = NULL;

		g_test_message("%s", cases[i].what);
		batch = decode_list_exact(b->data, b->len, T_LIMIT, &error);
		g_assert_null(batch);
		g_assert_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_MALFORMED);
	}

	/* invalid UTF-8 in the upload's TopicId */
	{
		g_autoptr(GByteArray) b = hex_decode("0a 02 c3 28");
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbMessageBatch) batch =
		        msb_message_codec_decode_upload(b->data, b->len, T_LIMIT, &error);
		g_assert_null(batch);
		g_assert_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_MALFORMED);
	}
	/* unknown fields are skipped (a newer peer may add some) */
	{
		g_autoptr(GByteArray) b = hex_decode("0a 05 08 07 f8 01 2a  78 01");
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbMessageBatch) batch =
		        decode_list_exact(b->data, b->len, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(batch->n_messages, ==, 1);
		g_assert_cmpint(batch->messages[0].id, ==, 7);
	}
	/* random bytes never crash */
	for (guint seed = 1; seed <= 2000; seed++) {
		guint8 noise[64];
		guint32 x = seed * 2654435761u;
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbMessageBatch) batch = NULL;

		for (gsize i = 0; i < sizeof(noise); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			noise[i] = (guint8)x;
		}
		batch = decode_list_exact(noise, 1 + seed % sizeof(noise), T_LIMIT, &error);
		g_assert_true((batch == NULL) != (error == NULL));
	}
}

static void
test_ceilings(void)
{
	MsbPersistMessage m = {.id = 1, .content = (const guint8 *)"0123456789", .content_len = 10};
	g_autoptr(GBytes) bytes = msb_message_codec_encode_list(&m, 1);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);

	/* the input ceiling */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbMessageBatch) batch = decode_list_exact(data, len, len - 1, &error);
		g_assert_null(batch);
		g_assert_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_TOO_LARGE);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbMessageBatch) batch = NULL;
		g_autoptr(MsbMessageBatch) rec = msb_message_batch_new();

		g_assert_false(
		        msb_message_batch_add_record(rec, data + 2, len - 2, len - 3, &error));
		g_assert_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_TOO_LARGE);
		g_clear_error(&error);
		batch = msb_message_codec_decode_upload(data, len, 0, &error);
		g_assert_null(batch);
		g_assert_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_TOO_LARGE);
	}
	/* the memory cap: 1 MiB of empty records (2 bytes each, ~100 bytes decoded) */
	{
		gsize n = 1024 * 1024;
		g_autofree guint8 *flood = g_malloc(n);
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbMessageBatch) batch = NULL;

		for (gsize i = 0; i < n; i += 2) {
			flood[i] = 0x0a;
			flood[i + 1] = 0x00;
		}
		batch = decode_list_exact(flood, n, T_LIMIT, &error);
		g_assert_null(batch);
		g_assert_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_TOO_LARGE);
	}
}

/* ---- with msb-zip: the G3 paths end to end ---- */

/* SaveMessages (PersistCompressed: true): upload payload → single-entry ZIP → ≤ 3 MiB chunks →
 * the receiver joins, unzips and decodes. SaveMessagesUncompressed is the same without the ZIP. */
static void
test_g3_save_messages(void)
{
	gsize n = 1000;
	gsize big_len = 5 * 1024 * 1024 + 17;
	g_autofree MsbPersistMessage *m = g_new0(MsbPersistMessage, n);
	g_autofree guint8 *big = g_malloc(big_len);
	static const MsbPersistHeader h[] = {{"content-type", "application/json"}};
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GBytes) zip = NULL;
	g_autoptr(GError) error = NULL;
	guint32 x = 12345;

	for (gsize i = 0; i < big_len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		big[i] = (guint8)x;
	}
	for (gsize i = 0; i < n; i++) {
		m[i] = (MsbPersistMessage){.id = 42000 + (gint64)i,
		                           .created_us = 1700000000000000 + (gint64)i,
		                           .content = (const guint8 *)"{\"n\":1}",
		                           .content_len = 7,
		                           .headers = h,
		                           .n_headers = 1};
	}
	m[999].content = big;
	m[999].content_len = big_len;

	payload = msb_message_codec_encode_upload("orders", m, n);
	for (gint compressed = 0; compressed <= 1; compressed++) {
		g_autoptr(GPtrArray) chunks = NULL;
		g_autoptr(GByteArray) acc = g_byte_array_new();
		g_autoptr(MsbMessageBatch) batch = NULL;
		g_autoptr(GBytes) plain = NULL;
		const guint8 *p;
		gsize plen = 0;

		if (compressed) {
			zip = msb_zip_pack_single(g_bytes_get_data(payload, NULL),
			                          g_bytes_get_size(payload), &error);
			g_assert_no_error(error);
		}
		chunks = msb_chunks_split(compressed ? zip : payload, MSB_ZIP_CHUNK_SIZE);
		g_assert_cmpuint(chunks->len, >=, 2);
		for (guint i = 0; i < chunks->len; i++) {
			GBytes *c = g_ptr_array_index(chunks, i);
			gsize clen = 0;
			const guint8 *cd = g_bytes_get_data(c, &clen);

			g_assert_cmpuint(clen, <=, MSB_ZIP_CHUNK_SIZE);
			g_assert_true(msb_chunks_append(acc, cd, clen, T_LIMIT, &error));
		}
		if (compressed)
			plain = msb_zip_unpack_single(acc->data, acc->len, T_LIMIT, &error);
		else
			plain = g_bytes_new(acc->data, acc->len);
		g_assert_no_error(error);
		p = g_bytes_get_data(plain, &plen);
		batch = msb_message_codec_decode_upload(p, plen, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(batch->topic_id, ==, "orders");
		assert_batch(batch, m, n);
	}
}

/* GetPageCompressed: Version 0 → one entry "d" holding a list; otherwise one entry per message,
 * named by its id. The reader rule of §6.3 picks the layout by the first entry's name. */
static void
test_g3_page_layouts(void)
{
	guint8 binary[300];
	MsbPersistMessage m[4];
	g_autoptr(GError) error = NULL;

	sample_messages(m, binary, sizeof(binary));
	for (gint version = 0; version <= 1; version++) {
		g_autoptr(GBytes) zip = NULL;
		g_autoptr(GPtrArray) entries = NULL;
		g_autoptr(MsbMessageBatch) batch = NULL;
		MsbZipEntry *first;
		gsize zlen = 0;
		const guint8 *z;

		if (version == 0) {
			g_autoptr(GBytes) list = msb_message_codec_encode_list(m, G_N_ELEMENTS(m));
			zip = msb_zip_pack_single(g_bytes_get_data(list, NULL),
			                          g_bytes_get_size(list), &error);
		} else {
			g_autoptr(MsbZipWriter) w = msb_zip_writer_new(-1);
			for (gsize i = 0; i < G_N_ELEMENTS(m); i++) {
				g_autoptr(GBytes) rec = msb_message_codec_encode_record(&m[i]);
				g_assert_true(msb_zip_writer_add_id(w, m[i].id,
				                                    g_bytes_get_data(rec, NULL),
				                                    g_bytes_get_size(rec), &error));
			}
			zip = msb_zip_writer_finish(w, &error);
		}
		g_assert_no_error(error);

		z = g_bytes_get_data(zip, &zlen);
		entries = msb_zip_unpack(z, zlen, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entries->len, >, 0);
		first = g_ptr_array_index(entries, 0);
		if (g_strcmp0(first->name, MSB_ZIP_SINGLE_ENTRY_NAME) == 0) {
			gsize dlen = 0;
			const guint8 *d = g_bytes_get_data(first->data, &dlen);
			g_assert_cmpint(version, ==, 0);
			batch = msb_message_codec_decode_list(d, dlen, T_LIMIT, &error);
		} else {
			g_assert_cmpint(version, ==, 1);
			batch = msb_message_batch_new();
			for (guint i = 0; i < entries->len; i++) {
				MsbZipEntry *e = g_ptr_array_index(entries, i);
				g_autofree gchar *name =
				        g_strdup_printf("%" G_GINT64_FORMAT, m[i].id);
				gsize dlen = 0;
				const guint8 *d = g_bytes_get_data(e->data, &dlen);

				g_assert_cmpstr(e->name, ==, name);
				g_assert_true(msb_message_batch_add_record(batch, d, dlen, T_LIMIT,
				                                           &error));
			}
		}
		g_assert_no_error(error);
		assert_batch(batch, m, G_N_ELEMENTS(m));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/proto/contract/records", test_contract_records);
	g_test_add_func("/message-codec/element-size", test_element_size);
	g_test_add_func("/proto/contract/snapshot", test_contract_snapshot);
	g_test_add_func("/proto/contract/requests", test_contract_requests);
	g_test_add_func("/proto/contract/paths", test_contract_paths);
	g_test_add_func("/message-codec/round-trip/list", test_round_trip_list);
	g_test_add_func("/message-codec/round-trip/upload", test_round_trip_upload);
	g_test_add_func("/message-codec/round-trip/records", test_round_trip_records);
	g_test_add_func("/message-codec/round-trip/large", test_round_trip_large);
	g_test_add_func("/message-codec/round-trip/empty-headers", test_round_trip_empty_headers);
	g_test_add_func("/message-codec/fit-upload", test_fit_upload);
	g_test_add_func("/message-codec/malformed/truncated", test_truncated);
	g_test_add_func("/message-codec/malformed/bytes", test_malformed);
	g_test_add_func("/message-codec/ceilings", test_ceilings);
	g_test_add_func("/message-codec/g3/save-messages", test_g3_save_messages);
	g_test_add_func("/message-codec/g3/page-layouts", test_g3_page_layouts);
	return g_test_run();
}
