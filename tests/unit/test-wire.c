/*
 * The wire codec against protocol.md §11 byte for byte in both directions, at every split point
 * and concatenated, and against hostile input: unknown ids, negative and oversized lengths and
 * counts, invalid UTF-8, ceilings. Prefixes are decoded from exactly sized heap copies so that
 * AddressSanitizer catches any read past the end.
 */
#include "msb-wire.h"

#include <string.h>

#define T_CEILING (1024 * 1024)

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
assert_str(MsbWireStr s, const gchar *expect)
{
	g_assert_nonnull(s.str);
	g_assert_cmpmem(s.str, s.len, expect, strlen(expect));
}

static void
decoder_init(MsbWireDecoder *dec, gint32 p, gint32 v7, gsize ceiling)
{
	msb_wire_decoder_init(dec, ceiling);
	dec->protocol_version = p;
	dec->new_messages_version = v7;
}

/*
 * Decode from a heap copy of exactly @len bytes. The copy lives until the next call, as the
 * decoder's contract keeps the input alive until the next decode.
 */
static guint8 *exact_copy = NULL;

static MsbWireDecodeResult
decode_exact(MsbWireDecoder *dec, const guint8 *data, gsize len, MsbPacket *pkt, gsize *consumed,
             GError **error)
{
	g_clear_pointer(&exact_copy, g_free);
	exact_copy = len > 0 ? g_memdup2(data, len) : NULL;
	return msb_wire_decode(dec, exact_copy, len, pkt, consumed, error);
}

static void
assert_decode_error(gint32 p, gint32 v7, gsize ceiling, const gchar *hex, MsbWireError code)
{
	g_autoptr(GByteArray) bytes = hex_decode(hex);
	g_autoptr(GError) error = NULL;
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed = 0;
	g_autofree guint8 *copy = g_memdup2(bytes->data, bytes->len);

	g_test_message("expect error %d: %s", (gint)code, hex);
	decoder_init(&dec, p, v7, ceiling);
	g_assert_cmpint(msb_wire_decode(&dec, copy, bytes->len, &pkt, &consumed, &error), ==,
	                MSB_WIRE_DECODE_ERROR);
	g_assert_error(error, MSB_WIRE_ERROR, (gint)code);
	g_test_message("%s: %s", hex, error->message);
	msb_wire_decoder_clear(&dec);
}

static void
assert_header(const MsbWireMessage *m, guint index, const gchar *key, const gchar *value)
{
	MsbWireStr k;
	MsbWireStr v;
	gsize pos = 0;

	for (guint i = 0; i <= index; i++)
		g_assert_true(msb_wire_headers_next(m->headers, m->headers_len, &pos, &k, &v));
	assert_str(k, key);
	assert_str(v, value);
}

static void
assert_content(const MsbWireMessage *m, const void *expect, gsize len)
{
	g_assert_cmpuint(m->content_len, ==, len);
	if (len > 0)
		g_assert_cmpmem(m->content, m->content_len, expect, len);
}

/* ---- §11 vectors ---- */

#define HEX_GREETING_RUST "02 0E 64 65 6D 6F 3A 31 2E 30 3B 31 2E 31 2E 35 03 00 00 00"
#define HEX_GREETING_CS                                                                           \
	"02 1C 4D 79 41 70 70 3B 43 6C 69 65 6E 74 56 65 72 73 69 6F 6E 3A 31 2E 33 2E 31 35 2E " \
	"30 02 00 00 00"
#define HEX_PACKET_VERSIONS "0B 01 07 01 00 00 00"
#define HEX_PUBLISH_P3                                                                            \
	"03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 02 00 00 00 01 08 74 72 61 63 65 2D 69 " \
	"64 03 61 62 63 02 00 00 00 68 69 00 03 00 00 00 01 02 03 00"
#define HEX_PUBLISH_P2                                                                            \
	"03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 02 00 00 00 02 00 00 00 68 69 03 00 00 " \
	"00 01 02 03 00"
#define HEX_PUBLISH_RESPONSE "04 01 00 00 00 00 00 00 00"
#define HEX_SUBSCRIBE        "05 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 00"
#define HEX_NEW_MESSAGES_P3                                                                       \
	"07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 01 00 00 00 2A " \
	"00 00 00 00 00 00 00 00 00 00 00 01 08 74 72 61 63 65 2D 69 64 03 61 62 63 02 00 00 00 " \
	"68 69"
#define HEX_NEW_MESSAGES_P2_V1                                                                    \
	"07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 01 00 00 00 2A " \
	"00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 68 69"
#define HEX_NEW_MESSAGES_P2_V0                                                                    \
	"07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 01 00 00 00 2A " \
	"00 00 00 00 00 00 00 02 00 00 00 68 69"
#define HEX_CONFIRM_OK   "08 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00"
#define HEX_CONFIRM_FAIL "0D 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00"
#define HEX_CONFIRM_SOME                                                                          \
	"0E 00 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 01 00 00 00 " \
	"2A 00 00 00 00 00 00 00 2A 00 00 00 00 00 00 00"
#define HEX_INTERMEDIARY                                                                          \
	"0F 00 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 02 00 00 00 " \
	"28 00 00 00 00 00 00 00 29 00 00 00 00 00 00 00 2B 00 00 00 00 00 00 00 2B 00 00 00 00 " \
	"00 00 00"
#define HEX_SET_NAMESPACE "10 05 61 6C 70 68 61"
#define HEX_REJECT                                                                                \
	"0C 24 54 6F 70 69 63 4E 6F 74 46 6F 75 6E 64 20 7B 20 74 6F 70 69 63 5F 69 64 3A 20 22 " \
	"6F 72 64 65 72 73 22 20 7D"
#define HEX_CREATE_TOPIC    "09 06 6F 72 64 65 72 73"
#define HEX_CREATE_TOPIC_CS "09 06 6F 72 64 65 72 73 00 00 00 00 00 00 00 00"
/* not in §11: built from §3.1, §3.6 and §3.10 */
#define HEX_PING               "00"
#define HEX_PONG               "01"
#define HEX_SUBSCRIBE_RESPONSE "06 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67"
#define HEX_LEGACY_CONFIRM                                                                        \
	"0A 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 02 00 00 00 01 00 00 00 00 00 00 00 02 " \
	"00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 01 00 00 00 03 00 " \
	"00 00 00 00 00 00 04 00 00 00 00 00 00 00"

static const guint8 trace_block[] = {0x01, 0x08, 't', 'r',  'a', 'c', 'e',
                                     '-',  'i',  'd', 0x03, 'a', 'b', 'c'};
static const guint8 content3[] = {0x01, 0x02, 0x03};

static void
check_greeting_rust(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_GREETING);
	assert_str(pkt->greeting.name, "demo:1.0;1.1.5");
	g_assert_cmpint(pkt->greeting.protocol_version, ==, 3);
}

static void
encode_greeting_rust(MsbBuf *buf)
{
	g_assert_true(msb_wire_put_greeting(buf, "demo:1.0;1.1.5", 3, NULL));
}

static void
check_greeting_cs(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_GREETING);
	assert_str(pkt->greeting.name, "MyApp;ClientVersion:1.3.15.0");
	g_assert_cmpint(pkt->greeting.protocol_version, ==, 2);
}

static void
encode_greeting_cs(MsbBuf *buf)
{
	g_assert_true(msb_wire_put_greeting(buf, "MyApp;ClientVersion:1.3.15.0", 2, NULL));
}

static void
check_packet_versions(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_PACKET_VERSIONS);
	g_assert_cmpuint(pkt->packet_versions.n_entries, ==, 1);
	g_assert_true(pkt->packet_versions.has_new_messages_version);
	g_assert_cmpint(pkt->packet_versions.new_messages_version, ==, 1);
}

static void
encode_packet_versions(MsbBuf *buf)
{
	msb_wire_put_packet_versions(buf, 1);
}

static void
check_publish_p3(const MsbPacket *pkt)
{
	const MsbWireMessage *m;

	g_assert_cmpint(pkt->id, ==, MSB_PACKET_PUBLISH);
	assert_str(pkt->publish.topic, "orders");
	g_assert_cmpint(pkt->publish.request_id, ==, 1);
	g_assert_cmpuint(pkt->publish.n_messages, ==, 2);
	g_assert_false(pkt->publish.persist_immediately);
	m = &pkt->publish.messages[0];
	g_assert_cmpuint(m->n_headers, ==, 1);
	g_assert_cmpmem(m->headers, m->headers_len, trace_block, sizeof(trace_block));
	assert_header(m, 0, "trace-id", "abc");
	assert_content(m, "hi", 2);
	m = &pkt->publish.messages[1];
	g_assert_cmpuint(m->n_headers, ==, 0);
	g_assert_cmpuint(m->headers_len, ==, 1);
	assert_content(m, content3, 3);
}

static void
encode_publish(MsbBuf *buf, gint32 p)
{
	MsbWireHeader hdr = {"trace-id", "abc"};
	MsbBuf hdrs;
	gsize count_at;

	msb_buf_init(&hdrs, 0);
	g_assert_true(msb_wire_put_headers(&hdrs, &hdr, 1, NULL));
	g_assert_cmpmem(hdrs.data, hdrs.len, trace_block, sizeof(trace_block));
	g_assert_true(msb_wire_publish_begin(buf, "orders", 1, &count_at, NULL));
	/* for P = 2 the header block is passed and must be dropped */
	msb_wire_publish_add(buf, p, hdrs.data, hdrs.len, (const guint8 *)"hi", 2);
	msb_wire_publish_add(buf, p, NULL, 0, content3, 3);
	msb_wire_publish_end(buf, count_at, 2, FALSE);
	msb_buf_clear(&hdrs);
}

static void
encode_publish_p3(MsbBuf *buf)
{
	encode_publish(buf, 3);
}

static void
check_publish_p2(const MsbPacket *pkt)
{
	const MsbWireMessage *m;

	g_assert_cmpint(pkt->id, ==, MSB_PACKET_PUBLISH);
	assert_str(pkt->publish.topic, "orders");
	g_assert_cmpint(pkt->publish.request_id, ==, 1);
	g_assert_cmpuint(pkt->publish.n_messages, ==, 2);
	g_assert_false(pkt->publish.persist_immediately);
	m = &pkt->publish.messages[0];
	g_assert_cmpuint(m->n_headers, ==, 0);
	g_assert_cmpuint(m->headers_len, ==, 0);
	assert_content(m, "hi", 2);
	m = &pkt->publish.messages[1];
	g_assert_cmpuint(m->n_headers, ==, 0);
	assert_content(m, content3, 3);
}

static void
encode_publish_p2(MsbBuf *buf)
{
	encode_publish(buf, 2);
}

static void
check_publish_response(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_PUBLISH_RESPONSE);
	g_assert_cmpint(pkt->publish_response.request_id, ==, 1);
}

static void
encode_publish_response(MsbBuf *buf)
{
	msb_wire_put_publish_response(buf, 1);
}

static void
check_subscribe(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_SUBSCRIBE);
	assert_str(pkt->subscribe.topic, "orders");
	assert_str(pkt->subscribe.queue, "billing");
	g_assert_cmpuint(pkt->subscribe.queue_type, ==, 0);
	g_assert_cmpint(msb_queue_type_from_wire(pkt->subscribe.queue_type), ==,
	                MSB_QUEUE_TYPE_PERMANENT);
}

static void
encode_subscribe(MsbBuf *buf)
{
	g_assert_true(msb_wire_put_subscribe(buf, "orders", "billing", 0, NULL));
}

static void
check_new_messages_common(const MsbPacket *pkt)
{
	const MsbWireMessage *m;

	g_assert_cmpint(pkt->id, ==, MSB_PACKET_NEW_MESSAGES);
	assert_str(pkt->new_messages.topic, "orders");
	assert_str(pkt->new_messages.queue, "billing");
	g_assert_cmpint(pkt->new_messages.confirmation_id, ==, 5);
	g_assert_cmpuint(pkt->new_messages.n_messages, ==, 1);
	m = &pkt->new_messages.messages[0];
	g_assert_cmpint(m->id, ==, 42);
	g_assert_cmpint(m->attempt, ==, 0);
	assert_content(m, "hi", 2);
}

static void
check_new_messages_p3(const MsbPacket *pkt)
{
	const MsbWireMessage *m = &pkt->new_messages.messages[0];

	check_new_messages_common(pkt);
	g_assert_cmpuint(m->n_headers, ==, 1);
	g_assert_cmpmem(m->headers, m->headers_len, trace_block, sizeof(trace_block));
	assert_header(m, 0, "trace-id", "abc");
}

static void
check_new_messages_p2(const MsbPacket *pkt)
{
	const MsbWireMessage *m = &pkt->new_messages.messages[0];

	check_new_messages_common(pkt);
	g_assert_cmpuint(m->n_headers, ==, 0);
	g_assert_cmpuint(m->headers_len, ==, 0);
}

static void
encode_new_messages(MsbBuf *buf, gint32 p, gint32 v7)
{
	gsize count_at;

	g_assert_true(msb_wire_new_messages_begin(buf, "orders", "billing", 5, &count_at, NULL));
	msb_wire_new_messages_add(buf, p, v7, 42, 0, trace_block, sizeof(trace_block),
	                          (const guint8 *)"hi", 2);
	msb_wire_new_messages_end(buf, count_at, 1);
}

static void
encode_new_messages_p3(MsbBuf *buf)
{
	encode_new_messages(buf, 3, 1);
}

static void
encode_new_messages_p2_v1(MsbBuf *buf)
{
	encode_new_messages(buf, 2, 1);
}

static void
encode_new_messages_p2_v0(MsbBuf *buf)
{
	encode_new_messages(buf, 2, 0);
}

static void
check_confirm(const MsbPacket *pkt)
{
	assert_str(pkt->confirm.topic, "orders");
	assert_str(pkt->confirm.queue, "billing");
	g_assert_cmpint(pkt->confirm.confirmation_id, ==, 5);
}

static void
check_confirm_ok(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_NEW_MESSAGES_CONFIRMATION);
	check_confirm(pkt);
}

static void
encode_confirm_ok(MsbBuf *buf)
{
	g_assert_true(msb_wire_put_confirm(buf, TRUE, "orders", "billing", 5, NULL));
}

static void
check_confirm_fail(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL);
	check_confirm(pkt);
}

static void
encode_confirm_fail(MsbBuf *buf)
{
	g_assert_true(msb_wire_put_confirm(buf, FALSE, "orders", "billing", 5, NULL));
}

static void
check_confirm_some(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK);
	g_assert_cmpuint(pkt->confirm_ids.packet_version, ==, 0);
	assert_str(pkt->confirm_ids.topic, "orders");
	assert_str(pkt->confirm_ids.queue, "billing");
	g_assert_cmpint(pkt->confirm_ids.confirmation_id, ==, 5);
	g_assert_cmpuint(pkt->confirm_ids.n_ranges, ==, 1);
	g_assert_cmpint(pkt->confirm_ids.ranges[0].from_id, ==, 42);
	g_assert_cmpint(pkt->confirm_ids.ranges[0].to_id, ==, 42);
}

static void
encode_confirm_some(MsbBuf *buf)
{
	MsbWireRange r = {42, 42};
	g_assert_true(msb_wire_put_confirm_ids(buf, FALSE, "orders", "billing", 5, &r, 1, NULL));
}

static void
check_intermediary(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_INTERMEDIARY_CONFIRM);
	g_assert_cmpuint(pkt->confirm_ids.packet_version, ==, 0);
	assert_str(pkt->confirm_ids.topic, "orders");
	assert_str(pkt->confirm_ids.queue, "billing");
	g_assert_cmpint(pkt->confirm_ids.confirmation_id, ==, 5);
	g_assert_cmpuint(pkt->confirm_ids.n_ranges, ==, 2);
	g_assert_cmpint(pkt->confirm_ids.ranges[0].from_id, ==, 40);
	g_assert_cmpint(pkt->confirm_ids.ranges[0].to_id, ==, 41);
	g_assert_cmpint(pkt->confirm_ids.ranges[1].from_id, ==, 43);
	g_assert_cmpint(pkt->confirm_ids.ranges[1].to_id, ==, 43);
}

static void
encode_intermediary(MsbBuf *buf)
{
	MsbWireRange r[] = {{40, 41}, {43, 43}};
	g_assert_true(msb_wire_put_confirm_ids(buf, TRUE, "orders", "billing", 5, r, 2, NULL));
}

static void
check_set_namespace(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_SET_NAMESPACE);
	assert_str(pkt->set_namespace.name, "alpha");
}

static void
encode_set_namespace(MsbBuf *buf)
{
	g_assert_true(msb_wire_put_set_namespace(buf, "alpha", NULL));
}

static void
check_reject(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_REJECT);
	assert_str(pkt->reject.message, "TopicNotFound { topic_id: \"orders\" }");
}

static void
encode_reject(MsbBuf *buf)
{
	msb_wire_put_reject(buf, "TopicNotFound { topic_id: \"orders\" }");
}

static void
check_create_topic(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS);
	assert_str(pkt->create_topic.topic, "orders");
}

static void
encode_create_topic(MsbBuf *buf)
{
	g_assert_true(msb_wire_put_create_topic(buf, "orders", NULL));
}

static void
check_ping(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_PING);
}

static void
encode_ping(MsbBuf *buf)
{
	msb_wire_put_ping(buf);
}

static void
check_pong(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_PONG);
}

static void
encode_pong(MsbBuf *buf)
{
	msb_wire_put_pong(buf);
}

static void
check_subscribe_response(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_SUBSCRIBE_RESPONSE);
	assert_str(pkt->subscribe_response.topic, "orders");
	assert_str(pkt->subscribe_response.queue, "billing");
}

static void
encode_subscribe_response(MsbBuf *buf)
{
	g_assert_true(msb_wire_put_subscribe_response(buf, "orders", "billing", NULL));
}

static void
check_legacy_confirm(const MsbPacket *pkt)
{
	g_assert_cmpint(pkt->id, ==, MSB_PACKET_MESSAGES_CONFIRMATION_LEGACY);
	assert_str(pkt->legacy_confirmation.topic, "orders");
	assert_str(pkt->legacy_confirmation.queue, "billing");
	g_assert_cmpuint(pkt->legacy_confirmation.n_ok, ==, 2);
	g_assert_cmpuint(pkt->legacy_confirmation.n_not_ok, ==, 1);
}

typedef struct {
	const gchar *name;
	const gchar *hex;
	gsize size; /* as stated in §11 */
	gint32 p;
	gint32 v7;
	void (*check)(const MsbPacket *pkt);
	void (*encode)(MsbBuf *buf); /* NULL: we have no encoder for it (packet 10) */
} WireVector;

static const WireVector vectors[] = {
        {"11.1-greeting-rust", HEX_GREETING_RUST, 20, 0, 0, check_greeting_rust,
         encode_greeting_rust},
        {"11.1-greeting-csharp", HEX_GREETING_CS, 34, 0, 0, check_greeting_cs, encode_greeting_cs},
        {"11.2-packet-versions", HEX_PACKET_VERSIONS, 7, 3, 0, check_packet_versions,
         encode_packet_versions},
        {"11.3-publish-p3", HEX_PUBLISH_P3, 49, 3, 1, check_publish_p3, encode_publish_p3},
        {"11.3-publish-p2", HEX_PUBLISH_P2, 34, 2, 1, check_publish_p2, encode_publish_p2},
        {"11.4-publish-response", HEX_PUBLISH_RESPONSE, 9, 3, 1, check_publish_response,
         encode_publish_response},
        {"11.5-subscribe", HEX_SUBSCRIBE, 17, 3, 1, check_subscribe, encode_subscribe},
        {"11.6-new-messages-p3", HEX_NEW_MESSAGES_P3, 60, 3, 1, check_new_messages_p3,
         encode_new_messages_p3},
        {"11.6-new-messages-p2-v1", HEX_NEW_MESSAGES_P2_V1, 46, 2, 1, check_new_messages_p2,
         encode_new_messages_p2_v1},
        {"11.6-new-messages-p2-v0", HEX_NEW_MESSAGES_P2_V0, 42, 2, 0, check_new_messages_p2,
         encode_new_messages_p2_v0},
        {"11.7-confirm-ok", HEX_CONFIRM_OK, 24, 3, 1, check_confirm_ok, encode_confirm_ok},
        {"11.7-confirm-fail", HEX_CONFIRM_FAIL, 24, 3, 1, check_confirm_fail, encode_confirm_fail},
        {"11.7-confirm-some", HEX_CONFIRM_SOME, 45, 3, 1, check_confirm_some, encode_confirm_some},
        {"11.7-intermediary", HEX_INTERMEDIARY, 61, 3, 1, check_intermediary, encode_intermediary},
        {"11.8-set-namespace", HEX_SET_NAMESPACE, 7, 3, 1, check_set_namespace,
         encode_set_namespace},
        {"11.9-reject", HEX_REJECT, 38, 3, 1, check_reject, encode_reject},
        {"11.11-create-topic", HEX_CREATE_TOPIC, 8, 3, 1, check_create_topic, encode_create_topic},
        {"3.1-ping", HEX_PING, 1, 0, 0, check_ping, encode_ping},
        {"3.1-pong", HEX_PONG, 1, 0, 0, check_pong, encode_pong},
        {"3.6-subscribe-response", HEX_SUBSCRIBE_RESPONSE, 16, 3, 1, check_subscribe_response,
         encode_subscribe_response},
        {"3.10-legacy-confirm", HEX_LEGACY_CONFIRM, 72, 2, 1, check_legacy_confirm, NULL},
};

static void
test_vectors_encode(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		const WireVector *v = &vectors[i];
		g_autoptr(GByteArray) expect = hex_decode(v->hex);
		MsbBuf buf;

		g_assert_cmpuint(expect->len, ==, v->size);
		if (v->encode == NULL)
			continue;
		g_test_message("encode %s", v->name);
		msb_buf_init(&buf, 0);
		v->encode(&buf);
		g_assert_cmpmem(buf.data, buf.len, expect->data, expect->len);

		/* the same after unrelated bytes already pending and consumed in the buffer */
		msb_buf_clear(&buf);
		msb_buf_init(&buf, 16);
		msb_buf_put(&buf, "0123456789", 10);
		msb_buf_consume(&buf, 7);
		v->encode(&buf);
		g_assert_cmpmem(msb_buf_head(&buf) + 3, msb_buf_pending(&buf) - 3, expect->data,
		                expect->len);
		msb_buf_clear(&buf);
	}
}

static void
test_vectors_decode(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		const WireVector *v = &vectors[i];
		g_autoptr(GByteArray) bytes = hex_decode(v->hex);
		g_autoptr(GError) error = NULL;
		MsbWireDecoder dec;
		MsbPacket pkt;
		gsize consumed = 0;

		g_test_message("decode %s", v->name);
		decoder_init(&dec, v->p, v->v7, T_CEILING);
		g_assert_cmpint(
		        decode_exact(&dec, bytes->data, bytes->len, &pkt, &consumed, &error), ==,
		        MSB_WIRE_DECODE_OK);
		g_assert_no_error(error);
		g_assert_cmpuint(consumed, ==, bytes->len);
		v->check(&pkt);

		/* a ceiling of exactly the packet size is enough, one less is not */
		dec.max_packet_size = bytes->len;
		g_assert_cmpint(
		        decode_exact(&dec, bytes->data, bytes->len, &pkt, &consumed, &error), ==,
		        MSB_WIRE_DECODE_OK);
		v->check(&pkt);
		if (bytes->len > 1) {
			dec.max_packet_size = bytes->len - 1;
			g_assert_cmpint(decode_exact(&dec, bytes->data, bytes->len, &pkt, &consumed,
			                             &error),
			                ==, MSB_WIRE_DECODE_ERROR);
			g_assert_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_TOO_LARGE);
		}
		msb_wire_decoder_clear(&dec);
	}
}

/* Every prefix is NEED_MORE with a hint in (len, real size]; following the hints gets there. */
static void
test_vectors_split(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		const WireVector *v = &vectors[i];
		g_autoptr(GByteArray) bytes = hex_decode(v->hex);
		MsbWireDecoder dec;
		MsbPacket pkt;
		gsize consumed;
		gsize have = 0;
		guint rounds = 0;

		decoder_init(&dec, v->p, v->v7, T_CEILING);
		for (gsize k = 0; k < bytes->len; k++) {
			g_autoptr(GError) error = NULL;
			consumed = 0;
			g_assert_cmpint(decode_exact(&dec, bytes->data, k, &pkt, &consumed, &error),
			                ==, MSB_WIRE_DECODE_NEED_MORE);
			g_assert_no_error(error);
			g_assert_cmpuint(consumed, >, k);
			g_assert_cmpuint(consumed, <=, bytes->len);
			g_assert_cmpuint(dec.need, ==, consumed);
		}

		/* a reader that waits for the hint each time */
		for (;;) {
			MsbWireDecodeResult r =
			        decode_exact(&dec, bytes->data, have, &pkt, &consumed, NULL);
			rounds++;
			if (r == MSB_WIRE_DECODE_OK)
				break;
			g_assert_cmpint(r, ==, MSB_WIRE_DECODE_NEED_MORE);
			g_assert_cmpuint(consumed, >, have);
			have = consumed;
		}
		g_assert_cmpuint(consumed, ==, bytes->len);
		g_assert_cmpuint(rounds, <=, bytes->len + 1);
		v->check(&pkt);

		/* followed by other bytes: the same packet, the same size */
		g_byte_array_append(bytes, (const guint8 *)"\xff\xff\x03", 3);
		g_assert_cmpint(decode_exact(&dec, bytes->data, bytes->len, &pkt, &consumed, NULL),
		                ==, MSB_WIRE_DECODE_OK);
		g_assert_cmpuint(consumed, ==, bytes->len - 3);
		v->check(&pkt);
		msb_wire_decoder_clear(&dec);
	}
}

/* All vectors in one buffer, decoded in place and fed through an MsbBuf in chunks. */
static void
test_vectors_concatenated(void)
{
	g_autoptr(GByteArray) all = g_byte_array_new();
	gsize chunks[] = {1, 2, 3, 5, 7, 13, 64, 4096};
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize off = 0;

	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		g_autoptr(GByteArray) b = hex_decode(vectors[i].hex);
		g_byte_array_append(all, b->data, b->len);
	}

	msb_wire_decoder_init(&dec, T_CEILING);
	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		gsize consumed;
		dec.protocol_version = vectors[i].p;
		dec.new_messages_version = vectors[i].v7;
		g_assert_cmpint(msb_wire_decode(&dec, all->data + off, all->len - off, &pkt,
		                                &consumed, NULL),
		                ==, MSB_WIRE_DECODE_OK);
		g_assert_cmpuint(consumed, ==, vectors[i].size);
		vectors[i].check(&pkt);
		off += consumed;
	}
	g_assert_cmpuint(off, ==, all->len);

	for (guint c = 0; c < G_N_ELEMENTS(chunks); c++) {
		MsbBuf in;
		gsize fed = 0;
		guint next = 0;

		/* reserved, as msb_buf_head() of a never-allocated buffer is NULL + 0 */
		msb_buf_init(&in, 64);
		while (next < G_N_ELEMENTS(vectors)) {
			gsize consumed;
			MsbWireDecodeResult r;

			dec.protocol_version = vectors[next].p;
			dec.new_messages_version = vectors[next].v7;
			r = msb_wire_decode(&dec, msb_buf_head(&in), msb_buf_pending(&in), &pkt,
			                    &consumed, NULL);
			if (r == MSB_WIRE_DECODE_NEED_MORE) {
				gsize n;
				g_assert_cmpuint(fed, <, all->len);
				n = MIN(chunks[c], all->len - fed);
				msb_buf_put(&in, all->data + fed, n);
				fed += n;
				continue;
			}
			g_assert_cmpint(r, ==, MSB_WIRE_DECODE_OK);
			g_assert_cmpuint(consumed, ==, vectors[next].size);
			vectors[next].check(&pkt);
			msb_buf_consume(&in, consumed);
			next++;
		}
		g_assert_cmpuint(fed, ==, all->len);
		g_assert_cmpuint(msb_buf_pending(&in), ==, 0);
		msb_buf_clear(&in);
	}
	msb_wire_decoder_clear(&dec);
}

/* §11.10: a topic-only parser reads the C# trailing zero long as eight Pings. */
static void
test_csharp_create_topic(void)
{
	g_autoptr(GByteArray) bytes = hex_decode(HEX_CREATE_TOPIC_CS);
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;
	gsize off;
	MsbBuf buf;

	g_assert_cmpuint(bytes->len, ==, 16);
	decoder_init(&dec, 2, 1, T_CEILING);
	g_assert_cmpint(decode_exact(&dec, bytes->data, bytes->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	g_assert_cmpuint(consumed, ==, 8);
	check_create_topic(&pkt);
	off = consumed;
	for (guint i = 0; i < 8; i++) {
		g_assert_cmpint(decode_exact(&dec, bytes->data + off, bytes->len - off, &pkt,
		                             &consumed, NULL),
		                ==, MSB_WIRE_DECODE_OK);
		g_assert_cmpuint(consumed, ==, 1);
		g_assert_cmpint(pkt.id, ==, MSB_PACKET_PING);
		off += consumed;
	}
	g_assert_cmpuint(off, ==, 16);

	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_create_topic(&buf, "orders", NULL));
	for (guint i = 0; i < 8; i++)
		msb_wire_put_ping(&buf);
	g_assert_cmpmem(buf.data, buf.len, bytes->data, bytes->len);
	msb_buf_clear(&buf);
	msb_wire_decoder_clear(&dec);
}

/*
 * A connection stream decoded the way the broker does: P and V7 come from the Greeting and
 * PacketVersions packets in the stream, applied before the next packet. The stream is fed in two
 * parts at every split point.
 */
typedef struct {
	MsbPacketId id;
	void (*check)(const MsbPacket *pkt);
} StreamStep;

static void
run_stream(const GByteArray *stream, gsize split, const StreamStep *steps, guint n_steps,
           gint32 expect_p)
{
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize off = 0;
	gsize have = split;
	guint step = 0;

	msb_wire_decoder_init(&dec, T_CEILING);
	while (step < n_steps) {
		gsize consumed = 0;
		g_autoptr(GError) error = NULL;
		MsbWireDecodeResult r =
		        decode_exact(&dec, stream->data + off, have - off, &pkt, &consumed, &error);

		g_assert_no_error(error);
		if (r == MSB_WIRE_DECODE_NEED_MORE) {
			g_assert_cmpuint(have, <, stream->len);
			g_assert_cmpuint(off + consumed, <=, stream->len);
			have = stream->len;
			continue;
		}
		g_assert_cmpint(r, ==, MSB_WIRE_DECODE_OK);
		g_assert_cmpint(pkt.id, ==, steps[step].id);
		if (steps[step].check != NULL)
			steps[step].check(&pkt);
		if (pkt.id == MSB_PACKET_GREETING)
			dec.protocol_version = pkt.greeting.protocol_version;
		if (pkt.id == MSB_PACKET_PACKET_VERSIONS &&
		    pkt.packet_versions.has_new_messages_version)
			dec.new_messages_version = pkt.packet_versions.new_messages_version;
		off += consumed;
		step++;
	}
	g_assert_cmpuint(off, ==, stream->len);
	g_assert_cmpint(dec.protocol_version, ==, expect_p);
	g_assert_cmpint(dec.new_messages_version, ==, 1);
	msb_wire_decoder_clear(&dec);
}

static void
test_connection_start_rust(void)
{
	g_autoptr(GByteArray) stream =
	        hex_decode(HEX_GREETING_RUST
	                   " " HEX_PACKET_VERSIONS " " HEX_CREATE_TOPIC " " HEX_SUBSCRIBE
	                   " " HEX_PUBLISH_P3 " " HEX_PING " " HEX_CONFIRM_OK " " HEX_PUBLISH_P3
	                   " " HEX_CONFIRM_SOME " " HEX_INTERMEDIARY " " HEX_CONFIRM_FAIL);
	const StreamStep steps[] = {
	        {MSB_PACKET_GREETING, check_greeting_rust},
	        {MSB_PACKET_PACKET_VERSIONS, check_packet_versions},
	        {MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS, check_create_topic},
	        {MSB_PACKET_SUBSCRIBE, check_subscribe},
	        {MSB_PACKET_PUBLISH, check_publish_p3},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_NEW_MESSAGES_CONFIRMATION, check_confirm_ok},
	        {MSB_PACKET_PUBLISH, check_publish_p3},
	        {MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, check_confirm_some},
	        {MSB_PACKET_INTERMEDIARY_CONFIRM, check_intermediary},
	        {MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL, check_confirm_fail},
	};

	for (gsize split = 0; split <= stream->len; split++)
		run_stream(stream, split, steps, G_N_ELEMENTS(steps), 3);
}

static void
test_connection_start_csharp(void)
{
	g_autoptr(GByteArray) stream =
	        hex_decode(HEX_GREETING_CS " " HEX_PACKET_VERSIONS " " HEX_CREATE_TOPIC_CS
	                                   " " HEX_SUBSCRIBE " " HEX_PUBLISH_P2 " " HEX_CONFIRM_OK);
	const StreamStep steps[] = {
	        {MSB_PACKET_GREETING, check_greeting_cs},
	        {MSB_PACKET_PACKET_VERSIONS, check_packet_versions},
	        {MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS, check_create_topic},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_PING, NULL},
	        {MSB_PACKET_SUBSCRIBE, check_subscribe},
	        {MSB_PACKET_PUBLISH, check_publish_p2},
	        {MSB_PACKET_NEW_MESSAGES_CONFIRMATION, check_confirm_ok},
	};

	for (gsize split = 0; split <= stream->len; split++)
		run_stream(stream, split, steps, G_N_ELEMENTS(steps), 2);
}

/* ---- protocol-version dependent layouts ---- */

static void
test_publish_before_greeting(void)
{
	g_autoptr(GByteArray) p2 = hex_decode(HEX_PUBLISH_P2);
	g_autoptr(GByteArray) p3 = hex_decode(HEX_PUBLISH_P3);
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;

	/* P = 0 before any Greeting: the header-less form (§4.1) */
	decoder_init(&dec, 0, 0, T_CEILING);
	g_assert_cmpint(decode_exact(&dec, p2->data, p2->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	check_publish_p2(&pkt);
	/* anything ≥ 3 is 3 */
	dec.protocol_version = 7;
	g_assert_cmpint(decode_exact(&dec, p3->data, p3->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	check_publish_p3(&pkt);
	/* V7 is ignored for P ≥ 3 */
	dec.new_messages_version = 0;
	g_assert_cmpint(decode_exact(&dec, p3->data, p3->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	check_publish_p3(&pkt);
	msb_wire_decoder_clear(&dec);
}

static void
test_new_messages_v7_other(void)
{
	g_autoptr(GByteArray) v0 = hex_decode(HEX_NEW_MESSAGES_P2_V0);
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;

	/* every V7 except 1 is the V7 = 0 layout (Rust server behaviour) */
	decoder_init(&dec, 2, 2, T_CEILING);
	g_assert_cmpint(decode_exact(&dec, v0->data, v0->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	check_new_messages_p2(&pkt);
	g_assert_cmpuint(consumed, ==, 42);
	msb_wire_decoder_clear(&dec);
}

static void
test_new_messages_add_headers(void)
{
	const guint8 expect_p3[] = {0x2a, 0, 0, 0,    0,    0, 0, 0, 0x07,
	                            0,    0, 0, 0x00, 0x01, 0, 0, 0, 'x'};
	const guint8 expect_p2_v1[] = {0x2a, 0, 0, 0,    0, 0, 0, 0,  0x07,
	                               0,    0, 0, 0x01, 0, 0, 0, 'x'};
	const guint8 expect_p2_v0[] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 'x'};
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	/* P ≥ 3 without headers: a zero header count */
	msb_wire_new_messages_add(&buf, 3, 0, 42, 7, NULL, 0, (const guint8 *)"x", 1);
	g_assert_cmpmem(buf.data, buf.len, expect_p3, sizeof(expect_p3));
	buf.len = 0;
	/* P < 3: never headers, even when given */
	msb_wire_new_messages_add(&buf, 2, 1, 42, 7, trace_block, sizeof(trace_block),
	                          (const guint8 *)"x", 1);
	g_assert_cmpmem(buf.data, buf.len, expect_p2_v1, sizeof(expect_p2_v1));
	buf.len = 0;
	msb_wire_new_messages_add(&buf, 2, 0, 42, 7, trace_block, sizeof(trace_block),
	                          (const guint8 *)"x", 1);
	g_assert_cmpmem(buf.data, buf.len, expect_p2_v0, sizeof(expect_p2_v0));
	buf.len = 0;
	/* publish: P ≥ 3 without headers gets a zero count, P < 3 drops them */
	msb_wire_publish_add(&buf, 3, NULL, 0, NULL, 0);
	g_assert_cmpmem(buf.data, buf.len, "\0\0\0\0\0", 5);
	buf.len = 0;
	msb_wire_publish_add(&buf, 2, trace_block, sizeof(trace_block), NULL, 0);
	g_assert_cmpmem(buf.data, buf.len, "\0\0\0\0", 4);
	msb_buf_clear(&buf);
}

static void
test_headers_next(void)
{
	const MsbWireHeader hdrs[] = {{"a", ""}, {"", "b"}, {"a", "dup"}, {"ключ", "значение"}};
	MsbWireStr k;
	MsbWireStr v;
	gsize pos = 0;
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_headers(&buf, hdrs, G_N_ELEMENTS(hdrs), NULL));
	g_assert_cmpuint(buf.data[0], ==, 4);
	for (guint i = 0; i < G_N_ELEMENTS(hdrs); i++) {
		g_assert_true(msb_wire_headers_next(buf.data, buf.len, &pos, &k, &v));
		assert_str(k, hdrs[i].key);
		assert_str(v, hdrs[i].value);
	}
	g_assert_false(msb_wire_headers_next(buf.data, buf.len, &pos, &k, &v));
	/* an empty block, or none at all */
	pos = 0;
	g_assert_false(msb_wire_headers_next((const guint8 *)"\0", 1, &pos, &k, &v));
	pos = 0;
	g_assert_false(msb_wire_headers_next(NULL, 0, &pos, &k, &v));
	/* a truncated block stops instead of reading past it */
	pos = 0;
	g_assert_true(msb_wire_headers_next(buf.data, buf.len - 1, &pos, &k, &v));
	g_assert_true(msb_wire_headers_next(buf.data, buf.len - 1, &pos, &k, &v));
	g_assert_true(msb_wire_headers_next(buf.data, buf.len - 1, &pos, &k, &v));
	g_assert_false(msb_wire_headers_next(buf.data, buf.len - 1, &pos, &k, &v));
	msb_buf_clear(&buf);
}

static void
test_packet_versions_last_wins(void)
{
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;
	g_autoptr(GByteArray) b = hex_decode("0B 03 07 01 00 00 00 03 05 00 00 00 07 00 00 00 00");
	g_autoptr(GByteArray) none = hex_decode("0B 01 03 01 00 00 00");
	g_autoptr(GByteArray) empty = hex_decode("0B 00");

	msb_wire_decoder_init(&dec, T_CEILING);
	g_assert_cmpint(decode_exact(&dec, b->data, b->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	g_assert_cmpuint(pkt.packet_versions.n_entries, ==, 3);
	g_assert_true(pkt.packet_versions.has_new_messages_version);
	g_assert_cmpint(pkt.packet_versions.new_messages_version, ==, 0);
	g_assert_cmpint(decode_exact(&dec, none->data, none->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	g_assert_cmpuint(pkt.packet_versions.n_entries, ==, 1);
	g_assert_false(pkt.packet_versions.has_new_messages_version);
	g_assert_cmpint(decode_exact(&dec, empty->data, empty->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	g_assert_cmpuint(pkt.packet_versions.n_entries, ==, 0);
	g_assert_false(pkt.packet_versions.has_new_messages_version);
	msb_wire_decoder_clear(&dec);
}

static void
test_bool_nonzero(void)
{
	g_autoptr(GByteArray) b = hex_decode("03 01 61 07 00 00 00 00 00 00 00 00 00 00 00 02");
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;

	decoder_init(&dec, 3, 1, T_CEILING);
	g_assert_cmpint(decode_exact(&dec, b->data, b->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	g_assert_true(pkt.publish.persist_immediately);
	g_assert_cmpuint(pkt.publish.n_messages, ==, 0);
	g_assert_cmpint(pkt.publish.request_id, ==, 7);
	b->data[b->len - 1] = 0xff;
	g_assert_cmpint(decode_exact(&dec, b->data, b->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	g_assert_true(pkt.publish.persist_immediately);
	msb_wire_decoder_clear(&dec);
}

static void
test_ranges_host_order(void)
{
	/* 0x0102030405060708 and -1 as LE i64 */
	g_autoptr(GByteArray) b =
	        hex_decode("0F 09 01 61 01 62 FF FF FF FF FF FF FF 7F 01 00 00 00 "
	                   "08 07 06 05 04 03 02 01 FF FF FF FF FF FF FF FF");
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;

	msb_wire_decoder_init(&dec, T_CEILING);
	g_assert_cmpint(decode_exact(&dec, b->data, b->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	g_assert_cmpuint(pkt.confirm_ids.packet_version, ==, 9);
	g_assert_cmpint(pkt.confirm_ids.confirmation_id, ==, G_MAXINT64);
	g_assert_cmpuint(pkt.confirm_ids.n_ranges, ==, 1);
	g_assert_cmpint(pkt.confirm_ids.ranges[0].from_id, ==,
	                G_GINT64_CONSTANT(0x0102030405060708));
	g_assert_cmpint(pkt.confirm_ids.ranges[0].to_id, ==, -1);
	msb_wire_decoder_clear(&dec);
}

/* ---- hostile input ---- */

static void
test_unknown_id(void)
{
	assert_decode_error(3, 1, T_CEILING, "11", MSB_WIRE_ERROR_UNKNOWN_PACKET);
	assert_decode_error(3, 1, T_CEILING, "FF", MSB_WIRE_ERROR_UNKNOWN_PACKET);
	assert_decode_error(3, 1, T_CEILING, "11 00 00 00", MSB_WIRE_ERROR_UNKNOWN_PACKET);
	for (guint id = 0; id <= 255; id++) {
		MsbWireDecoder dec;
		MsbPacket pkt;
		gsize consumed;
		guint8 b = (guint8)id;
		MsbWireDecodeResult r;

		msb_wire_decoder_init(&dec, T_CEILING);
		r = decode_exact(&dec, &b, 1, &pkt, &consumed, NULL);
		if (id <= 1)
			g_assert_cmpint(r, ==, MSB_WIRE_DECODE_OK);
		else if (id <= MSB_PACKET_ID_LAST)
			g_assert_cmpint(r, ==, MSB_WIRE_DECODE_NEED_MORE);
		else
			g_assert_cmpint(r, ==, MSB_WIRE_DECODE_ERROR);
		msb_wire_decoder_clear(&dec);
	}
}

static void
test_negative_lengths(void)
{
	/* content length -1, P = 2 and P = 3, with the content bytes absent */
	assert_decode_error(2, 0, T_CEILING,
	                    "03 01 61 01 00 00 00 00 00 00 00 01 00 00 00 FF FF FF FF",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	assert_decode_error(3, 0, T_CEILING,
	                    "03 01 61 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 80",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	/* message count */
	assert_decode_error(3, 0, T_CEILING, "03 01 61 01 00 00 00 00 00 00 00 FE FF FF FF 00",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	assert_decode_error(3, 0, T_CEILING, "07 01 61 01 62 05 00 00 00 00 00 00 00 FF FF FF FF",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	/* NewMessages content length, each layout */
	assert_decode_error(3, 0, T_CEILING,
	                    "07 01 61 01 62 05 00 00 00 00 00 00 00 01 00 00 00 "
	                    "2A 00 00 00 00 00 00 00 00 00 00 00 00 FF FF FF FF",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	assert_decode_error(2, 1, T_CEILING,
	                    "07 01 61 01 62 05 00 00 00 00 00 00 00 01 00 00 00 "
	                    "2A 00 00 00 00 00 00 00 00 00 00 00 FF FF FF FF",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	assert_decode_error(2, 0, T_CEILING,
	                    "07 01 61 01 62 05 00 00 00 00 00 00 00 01 00 00 00 "
	                    "2A 00 00 00 00 00 00 00 FF FF FF FF",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	/* range count (14, 15) */
	assert_decode_error(3, 0, T_CEILING,
	                    "0E 00 01 61 01 62 05 00 00 00 00 00 00 00 FF FF FF FF",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	assert_decode_error(3, 0, T_CEILING,
	                    "0F 00 01 61 01 62 05 00 00 00 00 00 00 00 00 00 00 80",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	/* packet 10: either interval count */
	assert_decode_error(3, 0, T_CEILING, "0A 01 61 01 62 FF FF FF FF",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
	assert_decode_error(3, 0, T_CEILING, "0A 01 61 01 62 00 00 00 00 FF FF FF FF",
	                    MSB_WIRE_ERROR_NEGATIVE_LENGTH);
}

static void
test_too_large(void)
{
	g_autoptr(GByteArray) b = hex_decode(
	        "03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 01 00 00 00 FF FF FF 7F");
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;

	/* a 2 GiB content length fails at once, with only the length bytes there */
	assert_decode_error(
	        2, 0, T_CEILING,
	        "03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 01 00 00 00 FF FF FF 7F",
	        MSB_WIRE_ERROR_TOO_LARGE);
	assert_decode_error(3, 0, T_CEILING,
	                    "03 01 61 01 00 00 00 00 00 00 00 01 00 00 00 00 FF FF FF 7F 00 00",
	                    MSB_WIRE_ERROR_TOO_LARGE);
	assert_decode_error(3, 0, T_CEILING,
	                    "07 01 61 01 62 05 00 00 00 00 00 00 00 01 00 00 00 "
	                    "2A 00 00 00 00 00 00 00 00 00 00 00 00 FF FF FF 7F",
	                    MSB_WIRE_ERROR_TOO_LARGE);

	/* with a ceiling that allows it, the hint is the whole extent, never an allocation */
	decoder_init(&dec, 2, 0, G_MAXSIZE);
	g_assert_cmpint(decode_exact(&dec, b->data, b->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_NEED_MORE);
	g_assert_cmpuint(consumed, ==, (guint64)b->len + 0x7fffffff + 1);
	msb_wire_decoder_clear(&dec);

	/* a whole packet above the ceiling, all bytes present */
	assert_decode_error(3, 0, 16, HEX_GREETING_RUST, MSB_WIRE_ERROR_TOO_LARGE);
	/* above the ceiling before the strings arrive: the topic length alone says so */
	assert_decode_error(3, 0, 16, "03 FF", MSB_WIRE_ERROR_TOO_LARGE);
	assert_decode_error(3, 0, 14, "03", MSB_WIRE_ERROR_TOO_LARGE);
	/* a packet's fixed part already above a tiny ceiling */
	assert_decode_error(3, 0, 8, "04", MSB_WIRE_ERROR_TOO_LARGE);
}

/* Counts are checked against the ceiling before anything is sized by them. */
static void
test_count_ceiling(void)
{
	/* 15 fixed bytes + n × 5 (P = 3) or × 4 (P = 2): 1000 bytes hold 197 (P3) or 246 (P2) */
	const gsize ceiling = 1000;
	struct {
		gint32 p;
		guint32 n;
		gboolean fits;
	} cases[] = {
	        {3, 197, TRUE},  {3, 198, FALSE},        {2, 246, TRUE},
	        {2, 247, FALSE}, {3, 0x7fffffff, FALSE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GByteArray) b = hex_decode("03 00 01 00 00 00 00 00 00 00");
		guint32 le = GUINT32_TO_LE(cases[i].n);
		g_autoptr(GError) error = NULL;
		MsbWireDecoder dec;
		MsbPacket pkt;
		gsize consumed;
		MsbWireDecodeResult r;

		g_byte_array_append(b, (const guint8 *)&le, 4);
		decoder_init(&dec, cases[i].p, 0, ceiling);
		r = decode_exact(&dec, b->data, b->len, &pkt, &consumed, &error);
		if (cases[i].fits) {
			g_assert_cmpint(r, ==, MSB_WIRE_DECODE_NEED_MORE);
			g_assert_cmpuint(consumed, ==, 15 + cases[i].n * (cases[i].p >= 3 ? 5 : 4));
		} else {
			g_assert_cmpint(r, ==, MSB_WIRE_DECODE_ERROR);
			g_assert_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_TOO_LARGE);
		}
		msb_wire_decoder_clear(&dec);
	}

	/* NewMessages: 17, 16 or 12 bytes per message */
	assert_decode_error(3, 0, 1000, "07 01 61 01 62 05 00 00 00 00 00 00 00 3B 00 00 00",
	                    MSB_WIRE_ERROR_TOO_LARGE);
	assert_decode_error(2, 0, 1000, "07 01 61 01 62 05 00 00 00 00 00 00 00 FF FF FF 00",
	                    MSB_WIRE_ERROR_TOO_LARGE);
	/* interval counts (16 bytes each) */
	assert_decode_error(3, 0, 1000, "0E 00 01 61 01 62 05 00 00 00 00 00 00 00 3F 00 00 00",
	                    MSB_WIRE_ERROR_TOO_LARGE);
	assert_decode_error(3, 0, 1000, "0A 01 61 01 62 FF FF FF 7F", MSB_WIRE_ERROR_TOO_LARGE);
	/* PacketVersions: 255 entries are 1277 bytes */
	assert_decode_error(3, 0, 1000, "0B FF", MSB_WIRE_ERROR_TOO_LARGE);
	/* header pair count: 255 pairs are at least 510 bytes */
	assert_decode_error(3, 0, 512, "03 01 61 00 00 00 00 00 00 00 00 01 00 00 00 FF",
	                    MSB_WIRE_ERROR_TOO_LARGE);
	/* the rest of the messages count too: a 736-byte message fits, but not with 50 more */
	assert_decode_error(3, 0, 1000,
	                    "03 01 61 00 00 00 00 00 00 00 00 33 00 00 00 00 E0 02 00 00",
	                    MSB_WIRE_ERROR_TOO_LARGE);
}

static void
test_invalid_utf8(void)
{
	/* topic, queue, greeting name, namespace, reject text */
	assert_decode_error(3, 0, T_CEILING, "09 02 C3 28", MSB_WIRE_ERROR_INVALID_UTF8);
	assert_decode_error(3, 0, T_CEILING, "09 01 FF", MSB_WIRE_ERROR_INVALID_UTF8);
	assert_decode_error(3, 0, T_CEILING, "05 01 61 02 ED A0 00", MSB_WIRE_ERROR_INVALID_UTF8);
	assert_decode_error(3, 0, T_CEILING, "02 03 61 80 62 03 00 00 00",
	                    MSB_WIRE_ERROR_INVALID_UTF8);
	assert_decode_error(3, 0, T_CEILING, "10 02 C0 AF", MSB_WIRE_ERROR_INVALID_UTF8);
	assert_decode_error(3, 0, T_CEILING, "0C 01 FE", MSB_WIRE_ERROR_INVALID_UTF8);
	/* a NUL inside a string, as g_utf8_validate_len() sees it */
	assert_decode_error(3, 0, T_CEILING, "09 03 61 00 62", MSB_WIRE_ERROR_INVALID_UTF8);
	/* a long topic whose bad byte comes after the first eight ASCII ones */
	assert_decode_error(3, 0, T_CEILING, "09 0A 61 62 63 64 65 66 67 68 69 FF",
	                    MSB_WIRE_ERROR_INVALID_UTF8);
	/* header key and header value in Publish (P = 3) and NewMessages (P = 3) */
	assert_decode_error(
	        3, 0, T_CEILING,
	        "03 01 61 01 00 00 00 00 00 00 00 01 00 00 00 01 01 FF 00 00 00 00 00 00",
	        MSB_WIRE_ERROR_INVALID_UTF8);
	assert_decode_error(
	        3, 0, T_CEILING,
	        "03 01 61 01 00 00 00 00 00 00 00 01 00 00 00 01 01 6B 02 E2 82 00 00 00 00 00",
	        MSB_WIRE_ERROR_INVALID_UTF8);
	assert_decode_error(3, 0, T_CEILING,
	                    "07 01 61 01 62 05 00 00 00 00 00 00 00 01 00 00 00 "
	                    "2A 00 00 00 00 00 00 00 00 00 00 00 01 02 C3 28 00 00 00 00 00",
	                    MSB_WIRE_ERROR_INVALID_UTF8);
}

static void
test_valid_utf8(void)
{
	/* multi-byte topic and header strings decode as views of the input */
	g_autoptr(GByteArray) b = hex_decode("09 0E D0 B7 D0 B0 D0 BA D0 B0 D0 B7 F0 9F 8E 89");
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;

	msb_wire_decoder_init(&dec, T_CEILING);
	g_assert_cmpint(decode_exact(&dec, b->data, b->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	assert_str(pkt.create_topic.topic, "заказ\xf0\x9f\x8e\x89");
	msb_wire_decoder_clear(&dec);
}

/* ---- encoders ---- */

static void
test_reject_cap(void)
{
	g_autoptr(GString) s = g_string_new(NULL);
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	msb_wire_decoder_init(&dec, T_CEILING);

	/* 254 ASCII bytes and a 2-byte é straddling byte 255: é is left out */
	for (guint i = 0; i < 254; i++)
		g_string_append_c(s, 'a');
	g_string_append(s, "é and more");
	msb_wire_put_reject(&buf, s->str);
	g_assert_cmpuint(buf.len, ==, 2 + 254);
	g_assert_cmpuint(buf.data[0], ==, MSB_PACKET_REJECT);
	g_assert_cmpuint(buf.data[1], ==, 254);
	g_assert_cmpmem(buf.data + 2, 254, s->str, 254);
	g_assert_cmpint(msb_wire_decode(&dec, buf.data, buf.len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);

	/* a 3-byte € ending exactly at byte 255 is kept */
	buf.len = 0;
	g_string_truncate(s, 252);
	g_string_append(s, "€€");
	msb_wire_put_reject(&buf, s->str);
	g_assert_cmpuint(buf.data[1], ==, 255);
	g_assert_cmpmem(buf.data + 2, 255, s->str, 255);

	/* a 4-byte character starting at byte 253 */
	buf.len = 0;
	g_string_truncate(s, 252);
	g_string_append_c(s, 'a');
	g_string_append(s, "\xf0\x9f\x8e\x89");
	msb_wire_put_reject(&buf, s->str);
	g_assert_cmpuint(buf.data[1], ==, 253);

	/* plain ASCII is cut at 255 */
	buf.len = 0;
	g_string_truncate(s, 0);
	for (guint i = 0; i < 1000; i++)
		g_string_append_c(s, 'x');
	msb_wire_put_reject(&buf, s->str);
	g_assert_cmpuint(buf.len, ==, 2 + 255);
	g_assert_cmpuint(buf.data[1], ==, 255);

	/* invalid UTF-8 is replaced (U+FFFD) before the cut */
	buf.len = 0;
	msb_wire_put_reject(&buf, "ab\xff"
	                          "cd");
	g_assert_cmpmem(buf.data, buf.len,
	                "\x0c\x07"
	                "ab\xef\xbf\xbd"
	                "cd",
	                9);
	g_assert_cmpint(msb_wire_decode(&dec, buf.data, buf.len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);

	/* empty */
	buf.len = 0;
	msb_wire_put_reject(&buf, "");
	g_assert_cmpmem(buf.data, buf.len, "\x0c\x00", 2);

	g_assert_cmpuint(msb_wire_utf8_cap("abc", 3, 255), ==, 3);
	g_assert_cmpuint(msb_wire_utf8_cap("aé", 3, 2), ==, 1);
	g_assert_cmpuint(msb_wire_utf8_cap("aé", 3, 1), ==, 1);
	g_assert_cmpuint(msb_wire_utf8_cap("€", 3, 2), ==, 0);
	g_assert_cmpuint(msb_wire_utf8_cap("ab€", 5, 4), ==, 2);
	g_assert_cmpuint(msb_wire_utf8_cap("ab€c", 6, 5), ==, 5);

	msb_wire_decoder_clear(&dec);
	msb_buf_clear(&buf);
}

static void
test_encoder_rejects(void)
{
	g_autofree gchar *s255 = g_strnfill(255, 'a');
	g_autofree gchar *s256 = g_strnfill(256, 'a');
	MsbWireHeader bad_key = {"\xff", "v"};
	MsbWireHeader bad_value = {"k", s256};
	MsbWireHeader many[256];
	MsbWireRange r = {1, 1};
	gsize count_at = 99;
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	msb_buf_put(&buf, "keep", 4);

#define EXPECT_REJECT(call)                                                              \
	do {                                                                             \
		g_autoptr(GError) error_ = NULL;                                         \
		g_assert_false(call);                                                    \
		g_assert_error(error_, MSB_WIRE_ERROR, MSB_WIRE_ERROR_INVALID_ARGUMENT); \
		g_assert_cmpmem(buf.data, buf.len, "keep", 4);                           \
	} while (0)

	EXPECT_REJECT(msb_wire_put_create_topic(&buf, s256, &error_));
	EXPECT_REJECT(msb_wire_put_create_topic(&buf, "a\xc3", &error_));
	EXPECT_REJECT(msb_wire_put_greeting(&buf, s256, 3, &error_));
	EXPECT_REJECT(msb_wire_put_subscribe(&buf, "orders", s256, 0, &error_));
	EXPECT_REJECT(msb_wire_put_subscribe(&buf, s256, "billing", 0, &error_));
	EXPECT_REJECT(msb_wire_put_subscribe_response(&buf, "orders", "\x80", &error_));
	EXPECT_REJECT(msb_wire_put_confirm(&buf, TRUE, "orders", s256, 5, &error_));
	EXPECT_REJECT(msb_wire_put_confirm_ids(&buf, TRUE, "orders", s256, 5, &r, 1, &error_));
	EXPECT_REJECT(msb_wire_put_set_namespace(&buf, "\xed\xa0\x80", &error_));
	EXPECT_REJECT(msb_wire_put_headers(&buf, &bad_key, 1, &error_));
	EXPECT_REJECT(msb_wire_put_headers(&buf, &bad_value, 1, &error_));
	for (guint i = 0; i < G_N_ELEMENTS(many); i++) {
		many[i].key = "k";
		many[i].value = "v";
	}
	EXPECT_REJECT(msb_wire_put_headers(&buf, many, 256, &error_));
	EXPECT_REJECT(msb_wire_publish_begin(&buf, s256, 1, &count_at, &error_));
	EXPECT_REJECT(msb_wire_new_messages_begin(&buf, "orders", s256, 1, &count_at, &error_));
	g_assert_cmpuint(count_at, ==, 99);
#undef EXPECT_REJECT

	/* 255 bytes and 255 pairs are fine */
	g_assert_true(msb_wire_put_create_topic(&buf, s255, NULL));
	g_assert_cmpuint(buf.len, ==, 4 + 2 + 255);
	g_assert_cmpuint(buf.data[5], ==, 255);
	buf.len = 4;
	g_assert_true(msb_wire_put_headers(&buf, many, 255, NULL));
	g_assert_cmpuint(buf.len, ==, 4 + 1 + 255 * 4);
	g_assert_cmpuint(buf.data[4], ==, 255);
	msb_buf_clear(&buf);
}

/* count_at survives the compaction msb_buf_grow() does when the front was consumed. */
static void
test_count_at_compaction(void)
{
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;
	gsize count_at;
	MsbBuf buf;

	msb_buf_init(&buf, 64);
	msb_buf_put(&buf, "0123456789012345678901234567890123456789", 40);
	msb_buf_consume(&buf, 40 - 2);
	g_assert_cmpuint(buf.off, ==, 38);
	g_assert_true(msb_wire_new_messages_begin(&buf, "t", "q", 9, &count_at, NULL));
	/* the next append does not fit: grow compacts the buffer first */
	msb_wire_new_messages_add(&buf, 3, 0, 1, 0, NULL, 0, (const guint8 *)"0123456789", 10);
	g_assert_cmpuint(buf.off, ==, 0);
	msb_wire_new_messages_add(&buf, 3, 0, 2, 1, NULL, 0, NULL, 0);
	msb_wire_new_messages_end(&buf, count_at, 2);

	decoder_init(&dec, 3, 0, T_CEILING);
	g_assert_cmpint(msb_wire_decode(&dec, msb_buf_head(&buf) + 2, msb_buf_pending(&buf) - 2,
	                                &pkt, &consumed, NULL),
	                ==, MSB_WIRE_DECODE_OK);
	g_assert_cmpuint(consumed, ==, msb_buf_pending(&buf) - 2);
	g_assert_cmpuint(pkt.new_messages.n_messages, ==, 2);
	g_assert_cmpint(pkt.new_messages.messages[1].id, ==, 2);
	g_assert_cmpint(pkt.new_messages.messages[1].attempt, ==, 1);
	msb_wire_decoder_clear(&dec);
	msb_buf_clear(&buf);
}

/* Many messages through every layout; the scratch array is reused and then let go. */
static void
test_large_round_trip(void)
{
	const guint n = 100000;
	const MsbWireHeader hdr = {"k", "v"};
	g_autoptr(GByteArray) small = hex_decode(HEX_PUBLISH_P3);
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;
	gsize count_at;
	MsbBuf hdrs;
	MsbBuf buf;

	msb_buf_init(&hdrs, 0);
	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_headers(&hdrs, &hdr, 1, NULL));
	decoder_init(&dec, 3, 0, 64 * 1024 * 1024);

	g_assert_true(msb_wire_publish_begin(&buf, "big", 77, &count_at, NULL));
	for (guint i = 0; i < n; i++) {
		guint32 v = i;
		msb_wire_publish_add(&buf, 3, i % 2 ? hdrs.data : NULL, i % 2 ? hdrs.len : 0,
		                     (const guint8 *)&v, i % 5);
	}
	msb_wire_publish_end(&buf, count_at, n, TRUE);
	g_assert_cmpint(msb_wire_decode(&dec, buf.data, buf.len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	g_assert_cmpuint(consumed, ==, buf.len);
	g_assert_cmpuint(pkt.publish.n_messages, ==, n);
	g_assert_true(pkt.publish.persist_immediately);
	for (guint i = 0; i < n; i++) {
		const MsbWireMessage *m = &pkt.publish.messages[i];
		guint32 v = i;
		g_assert_cmpuint(m->n_headers, ==, i % 2);
		assert_content(m, &v, i % 5);
	}

	for (gint32 p = 2; p <= 3; p++) {
		for (gint32 v7 = 0; v7 <= 1; v7++) {
			buf.len = 0;
			g_assert_true(
			        msb_wire_new_messages_begin(&buf, "big", "q", 3, &count_at, NULL));
			for (guint i = 0; i < n; i++)
				msb_wire_new_messages_add(&buf, p, v7, (gint64)i * 3, (gint32)i,
				                          hdrs.data, hdrs.len,
				                          (const guint8 *)"abcd", i % 5);
			msb_wire_new_messages_end(&buf, count_at, n);
			dec.protocol_version = p;
			dec.new_messages_version = v7;
			g_assert_cmpint(
			        msb_wire_decode(&dec, buf.data, buf.len, &pkt, &consumed, NULL), ==,
			        MSB_WIRE_DECODE_OK);
			g_assert_cmpuint(consumed, ==, buf.len);
			g_assert_cmpuint(pkt.new_messages.n_messages, ==, n);
			for (guint i = 0; i < n; i += 997) {
				const MsbWireMessage *m = &pkt.new_messages.messages[i];
				g_assert_cmpint(m->id, ==, (gint64)i * 3);
				g_assert_cmpint(m->attempt, ==, p >= 3 || v7 == 1 ? (gint32)i : 0);
				g_assert_cmpuint(m->n_headers, ==, p >= 3 ? 1 : 0);
				assert_content(m, "abcd", i % 5);
			}
		}
	}

	/* a small packet after the burst still decodes right (fresh scratch) */
	dec.protocol_version = 3;
	g_assert_cmpint(msb_wire_decode(&dec, small->data, small->len, &pkt, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	check_publish_p3(&pkt);
	g_assert_cmpuint(dec.messages->len, ==, 2);

	msb_wire_decoder_clear(&dec);
	msb_buf_clear(&buf);
	msb_buf_clear(&hdrs);
}

static void
test_misc(void)
{
	MsbWireDecoder dec;

	g_assert_cmpstr(msb_packet_id_to_string(MSB_PACKET_PING), ==, "Ping");
	g_assert_cmpstr(msb_packet_id_to_string(MSB_PACKET_NEW_MESSAGES), ==, "NewMessages");
	g_assert_cmpstr(msb_packet_id_to_string(MSB_PACKET_SET_NAMESPACE), ==, "SetNamespace");
	for (guint id = 0; id <= MSB_PACKET_ID_LAST; id++)
		g_assert_cmpstr(msb_packet_id_to_string((MsbPacketId)id), !=, "Unknown");
	g_assert_cmpstr(msb_packet_id_to_string((MsbPacketId)17), ==, "Unknown");

	g_assert_cmpint(msb_queue_type_from_wire(0), ==, MSB_QUEUE_TYPE_PERMANENT);
	g_assert_cmpint(msb_queue_type_from_wire(1), ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	g_assert_cmpint(msb_queue_type_from_wire(2), ==,
	                MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION);
	g_assert_cmpint(msb_queue_type_from_wire(3), ==,
	                MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION);
	g_assert_cmpint(msb_queue_type_from_wire(4), ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	g_assert_cmpint(msb_queue_type_from_wire(255), ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);

	g_assert_cmpstr(g_quark_to_string(MSB_WIRE_ERROR), ==, "msb-wire-error-quark");

	msb_wire_decoder_init(&dec, 0);
	g_assert_cmpuint(dec.max_packet_size, ==, MSB_WIRE_DEFAULT_MAX_PACKET_SIZE);
	g_assert_cmpint(dec.protocol_version, ==, 0);
	g_assert_cmpint(dec.new_messages_version, ==, 0);
	msb_wire_decoder_clear(&dec);
	/* clearing twice is harmless */
	msb_wire_decoder_clear(&dec);
}

int
main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/wire/vectors/encode", test_vectors_encode);
	g_test_add_func("/wire/vectors/decode", test_vectors_decode);
	g_test_add_func("/wire/vectors/split", test_vectors_split);
	g_test_add_func("/wire/vectors/concatenated", test_vectors_concatenated);
	g_test_add_func("/wire/stream/csharp-create-topic", test_csharp_create_topic);
	g_test_add_func("/wire/stream/connection-start-rust", test_connection_start_rust);
	g_test_add_func("/wire/stream/connection-start-csharp", test_connection_start_csharp);
	g_test_add_func("/wire/layout/publish-before-greeting", test_publish_before_greeting);
	g_test_add_func("/wire/layout/new-messages-v7-other", test_new_messages_v7_other);
	g_test_add_func("/wire/layout/add-headers", test_new_messages_add_headers);
	g_test_add_func("/wire/layout/headers-next", test_headers_next);
	g_test_add_func("/wire/layout/packet-versions-last-wins", test_packet_versions_last_wins);
	g_test_add_func("/wire/layout/bool-nonzero", test_bool_nonzero);
	g_test_add_func("/wire/layout/ranges-host-order", test_ranges_host_order);
	g_test_add_func("/wire/bad/unknown-id", test_unknown_id);
	g_test_add_func("/wire/bad/negative-lengths", test_negative_lengths);
	g_test_add_func("/wire/bad/too-large", test_too_large);
	g_test_add_func("/wire/bad/count-ceiling", test_count_ceiling);
	g_test_add_func("/wire/bad/invalid-utf8", test_invalid_utf8);
	g_test_add_func("/wire/good/valid-utf8", test_valid_utf8);
	g_test_add_func("/wire/encode/reject-cap", test_reject_cap);
	g_test_add_func("/wire/encode/rejects", test_encoder_rejects);
	g_test_add_func("/wire/encode/count-at-compaction", test_count_at_compaction);
	g_test_add_func("/wire/round-trip/large", test_large_round_trip);
	g_test_add_func("/wire/misc", test_misc);
	ret = g_test_run();
	g_clear_pointer(&exact_copy, g_free);
	return ret;
}
