/*
 * Messages end to end through the real broker: headers (order, duplicates, empty values, UTF-8,
 * 255 pairs of 255-byte strings) and contents (empty, binary, 1 MiB) preserved from a P = 3
 * publisher to P = 3 subscribers, through libmsb-client and as raw bytes; and the per-message
 * layouts a P = 2 subscriber gets: with PacketVersions {7 → 1} (attempt, no headers) and without
 * (V7 = 0: id and content only), checked byte for byte against protocol.md §11.6 with the id,
 * confirmation id and attempt fields as delivered; a P = 2 publisher's messages reach a P = 3
 * subscriber with no headers.
 */
#include "itest.h"

/* ---- headers and contents through libmsb-client ---- */

typedef struct {
	GPtrArray *strings; /* owns the keys and values */
	GArray *list;       /* MsbHeader */
} HeaderSet;

static void
header_set_init(HeaderSet *h)
{
	h->strings = g_ptr_array_new_with_free_func(g_free);
	h->list = g_array_new(FALSE, FALSE, sizeof(MsbHeader));
}

static void
header_set_clear(HeaderSet *h)
{
	g_ptr_array_unref(h->strings);
	g_array_unref(h->list);
}

static void
header_set_add(HeaderSet *h, gchar *key, gchar *value)
{
	MsbHeader header = {key, value};

	g_ptr_array_add(h->strings, key);
	g_ptr_array_add(h->strings, value);
	g_array_append_val(h->list, header);
}

static void
assert_headers(const ItestReceived *got, const HeaderSet *want)
{
	g_assert_cmpuint(got->headers->len, ==, want->list->len);
	for (guint i = 0; i < want->list->len; i++) {
		const MsbHeader *w = &g_array_index(want->list, MsbHeader, i);
		g_autofree gchar *expect = g_strdup_printf("%s=%s", w->key, w->value);
		g_assert_cmpstr(g_ptr_array_index(got->headers, i), ==, expect);
	}
}

static void
test_headers_end_to_end(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) pub = itest_client_new(f->broker);
	g_autoptr(MsbClient) sub = itest_client_new(f->broker);
	g_autoptr(ItestRaw) raw = itest_raw_connect(f->broker);
	g_autoptr(GPtrArray) got = itest_received_new();
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *big = g_malloc(1024 * 1024);
	HeaderSet sets[4];
	MsbMessage msgs[4] = {{0}};
	const gsize n_msgs = G_N_ELEMENTS(msgs);
	guint raw_seen = 0;

	for (gsize i = 0; i < 1024 * 1024; i++)
		big[i] = (guint8)(i * 7 + 3);
	for (guint i = 0; i < n_msgs; i++)
		header_set_init(&sets[i]);
	/* order, a duplicate key, an empty value, UTF-8 */
	header_set_add(&sets[0], g_strdup("trace-id"), g_strdup("abc"));
	header_set_add(&sets[0], g_strdup("k"), g_strdup("v1"));
	header_set_add(&sets[0], g_strdup("k"), g_strdup("v2"));
	header_set_add(&sets[0], g_strdup("empty"), g_strdup(""));
	header_set_add(&sets[0], g_strdup("ключ"), g_strdup("значение"));
	/* sets[1]: no headers at all */
	/* the most a message can carry: 255 pairs of 255-byte strings */
	for (guint i = 0; i < 255; i++) {
		gchar *key = g_strnfill(255, 'a' + (gchar)(i % 26));
		gchar *value = g_strnfill(255, 'A' + (gchar)(i % 26));
		g_snprintf(key, 5, "%04u", i);
		key[4] = 'k';
		header_set_add(&sets[2], key, value);
	}
	header_set_add(&sets[3], g_strdup("content-type"), g_strdup("application/octet-stream"));

	msgs[0] = (MsbMessage){(const guint8 *)"hello", 5, NULL, 0};
	msgs[1] = (MsbMessage){(const guint8 *)"", 0, NULL, 0}; /* empty content */
	msgs[2] = (MsbMessage){(const guint8 *)"\0\1\2\377", 4, NULL, 0};
	msgs[3] = (MsbMessage){big, 1024 * 1024, NULL, 0};
	for (guint i = 0; i < n_msgs; i++) {
		msgs[i].headers = (const MsbHeader *)(gpointer)sets[i].list->data;
		msgs[i].n_headers = sets[i].list->len;
	}

	itest_client_connect(pub);
	msb_client_create_topic(pub, "headers", &error);
	g_assert_no_error(error);
	itest_client_publish(pub, "headers", NULL, 0, &error); /* the topic exists after this */
	g_assert_no_error(error);
	msb_client_subscribe(sub, "headers", "lib", MSB_CLIENT_QUEUE_PERMANENT,
	                     itest_confirm_all_cb, got, NULL, &error);
	g_assert_no_error(error);
	itest_client_connect(sub);
	itest_client_sync(sub);
	itest_raw_greet(raw, "raw", 3, 1);
	itest_raw_subscribe(raw, "headers", "raw", 0);
	itest_raw_sync(raw);

	/* one message per Publish, and all of them again in one Publish */
	for (guint i = 0; i < n_msgs; i++) {
		itest_client_publish(pub, "headers", &msgs[i], 1, &error);
		g_assert_no_error(error);
	}
	itest_client_publish(pub, "headers", msgs, n_msgs, &error);
	g_assert_no_error(error);

	ITEST_WAIT_FOR(got->len == 2 * n_msgs);
	for (guint i = 0; i < 2 * n_msgs; i++) {
		const ItestReceived *m = g_ptr_array_index(got, i);
		const MsbMessage *want = &msgs[i % n_msgs];

		g_assert_cmpint(m->id, ==, i);
		g_assert_cmpint(m->attempt, ==, 0);
		g_assert_cmpmem(g_bytes_get_data(m->content, NULL), g_bytes_get_size(m->content),
		                want->content, want->content_len);
		assert_headers(m, &sets[i % n_msgs]);
	}

	/* the raw subscriber gets the very header block the publisher's library encoded */
	while (raw_seen < 2 * n_msgs) {
		g_autoptr(ItestPacket) p = itest_raw_expect(raw, MSB_PACKET_NEW_MESSAGES);
		for (guint j = 0; j < p->messages->len; j++, raw_seen++) {
			ItestMessage *m = itest_packet_message(p, j);
			const HeaderSet *want = &sets[raw_seen % n_msgs];
			MsbBuf expect;

			msb_buf_init(&expect, 0);
			msb_wire_put_headers(&expect,
			                     (const MsbWireHeader *)(gpointer)want->list->data,
			                     want->list->len, &error);
			g_assert_no_error(error);
			g_assert_cmpint(m->id, ==, raw_seen);
			g_assert_cmpuint(m->n_headers, ==, want->list->len);
			g_assert_cmpmem(g_bytes_get_data(m->headers, NULL),
			                g_bytes_get_size(m->headers), msb_buf_head(&expect),
			                msb_buf_pending(&expect));
			msb_buf_clear(&expect);
		}
		itest_raw_confirm(raw, TRUE, "headers", "raw", p->confirmation_id);
	}
	itest_raw_assert_quiet(raw);

	for (guint i = 0; i < n_msgs; i++)
		header_set_clear(&sets[i]);
	msb_client_close(pub);
	msb_client_close(sub);
}

/* ---- P = 2 layouts (§11.6) ---- */

/* §11.6 to a P = 3 session: orders/billing, confirmation 5, id 42, attempt 0, trace-id=abc, "hi" */
#define HEX_NEW_MESSAGES_P3                                \
	"07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 " \
	"05 00 00 00 00 00 00 00 01 00 00 00 2A 00 00 00 " \
	"00 00 00 00 00 00 00 00 01 08 74 72 61 63 65 2D " \
	"69 64 03 61 62 63 02 00 00 00 68 69"
/* to a P = 2 session with V7 = 1 */
#define HEX_NEW_MESSAGES_P2_V1                             \
	"07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 " \
	"05 00 00 00 00 00 00 00 01 00 00 00 2A 00 00 00 " \
	"00 00 00 00 00 00 00 00 02 00 00 00 68 69"
/* to a P = 2 session with V7 = 0 */
#define HEX_NEW_MESSAGES_P2_V0                             \
	"07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 " \
	"05 00 00 00 00 00 00 00 01 00 00 00 2A 00 00 00 " \
	"00 00 00 00 02 00 00 00 68 69"

#define OFFSET_CONFIRMATION_ID 0x10
#define OFFSET_MESSAGE_ID      0x1C
#define OFFSET_ATTEMPT         0x24

/* The §11.6 bytes with the confirmation id, message id and (when @attempt ≥ 0) attempt patched. */
static GBytes *
vector_patched(const gchar *hex, gint64 confirmation_id, gint64 id, gint32 attempt)
{
	g_autoptr(GBytes) bytes = itest_hex(hex);
	GByteArray *out = g_bytes_unref_to_array(g_steal_pointer(&bytes));
	guint64 cid = GUINT64_TO_LE((guint64)confirmation_id);
	guint64 mid = GUINT64_TO_LE((guint64)id);
	guint32 att = GUINT32_TO_LE((guint32)attempt);

	memcpy(out->data + OFFSET_CONFIRMATION_ID, &cid, 8);
	memcpy(out->data + OFFSET_MESSAGE_ID, &mid, 8);
	if (attempt >= 0)
		memcpy(out->data + OFFSET_ATTEMPT, &att, 4);
	return g_byte_array_free_to_bytes(out);
}

static void
assert_batch_is(ItestPacket *p, const gchar *hex, gint64 confirmation_id, gint64 id, gint32 attempt)
{
	g_autoptr(GBytes) expect = vector_patched(hex, confirmation_id, id, attempt);

	g_assert_cmpmem(g_bytes_get_data(p->raw, NULL), g_bytes_get_size(p->raw),
	                g_bytes_get_data(expect, NULL), g_bytes_get_size(expect));
}

static void
publish_hi(ItestRaw *pub, gint64 request_id)
{
	MsbBuf buf;
	MsbBuf headers;
	gsize count_at = 0;
	const MsbWireHeader trace = {"trace-id", "abc"};
	g_autoptr(GError) error = NULL;

	msb_buf_init(&buf, 0);
	msb_buf_init(&headers, 0);
	msb_wire_put_headers(&headers, &trace, 1, &error);
	g_assert_no_error(error);
	msb_wire_publish_begin(&buf, "orders", request_id, &count_at, &error);
	g_assert_no_error(error);
	msb_wire_publish_add(&buf, 3, msb_buf_head(&headers), msb_buf_pending(&headers),
	                     (const guint8 *)"hi", 2);
	msb_wire_publish_end(&buf, count_at, 1, FALSE);
	itest_raw_send_buf(pub, &buf);
	msb_buf_clear(&buf);
	msb_buf_clear(&headers);
	itest_raw_expect_publish_response(pub, request_id);
}

static void
test_p2_layouts(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) pub2 = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) s3 = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) s2v1 = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) s2v0 = itest_raw_connect(f->broker);
	ItestRaw *subs[] = {s3, s2v1, s2v0};
	const gchar *layouts[] = {HEX_NEW_MESSAGES_P3, HEX_NEW_MESSAGES_P2_V1,
	                          HEX_NEW_MESSAGES_P2_V0};
	/* V7 = 0 has no attempt field */
	const gboolean has_attempt[] = {TRUE, TRUE, FALSE};
	gint64 cids[3];

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "orders");
	itest_raw_sync(pub);
	itest_raw_send_hex(s3, ITEST_HEX_GREETING_RUST ITEST_HEX_PACKET_VERSIONS);
	itest_raw_assume(s3, 3, 1);
	itest_raw_send_hex(s2v1, ITEST_HEX_GREETING_CSHARP ITEST_HEX_PACKET_VERSIONS);
	itest_raw_assume(s2v1, 2, 1);
	itest_raw_send_hex(s2v0, ITEST_HEX_GREETING_CSHARP);
	itest_raw_assume(s2v0, 2, 0);
	/* competing consumers of orders/billing in this order: each publish goes to the first
	 * idle one, so subscriber i gets message i */
	for (guint i = 0; i < 3; i++) {
		itest_raw_send_hex(subs[i], ITEST_HEX_SUBSCRIBE_ORDERS_BILLING);
		itest_raw_sync(subs[i]);
	}

	for (guint i = 0; i < 3; i++) {
		g_autoptr(ItestPacket) p = NULL;

		publish_hi(pub, 1 + i);
		p = itest_raw_expect(subs[i], MSB_PACKET_NEW_MESSAGES);
		cids[i] = p->confirmation_id;
		/* subscriber ids are handed out from 0 in subscription order */
		g_assert_cmpint(cids[i], ==, i);
		assert_batch_is(p, layouts[i], cids[i], i, has_attempt[i] ? 0 : -1);
	}
	for (guint i = 0; i < 3; i++) {
		itest_raw_assert_quiet(subs[i]);
	}

	/* fail each batch: it comes back, attempt 1, to the first idle subscriber in subscription
	 * order, which is the one that failed it as long as those before it are busy: so the last
	 * subscriber first */
	for (guint i = 3; i-- > 0;) {
		g_autoptr(ItestPacket) p = NULL;

		itest_raw_confirm(subs[i], FALSE, "orders", "billing", cids[i]);
		p = itest_raw_expect(subs[i], MSB_PACKET_NEW_MESSAGES);
		assert_batch_is(p, layouts[i], cids[i], i, has_attempt[i] ? 1 : -1);
		itest_raw_confirm(subs[i], TRUE, "orders", "billing", cids[i]);
		itest_raw_assert_quiet(subs[i]);
	}

	/* a P = 2 publisher (§11.3 P = 2 bytes): the P = 3 subscriber gets both messages with a
	 * zero header count */
	itest_raw_send_hex(pub2, ITEST_HEX_GREETING_CSHARP ITEST_HEX_PACKET_VERSIONS);
	itest_raw_assume(pub2, 2, 1);
	itest_raw_send_hex(pub2, ITEST_HEX_PUBLISH_P2);
	{
		g_autoptr(ItestPacket) response =
		        itest_raw_expect(pub2, MSB_PACKET_PUBLISH_RESPONSE);
		g_autoptr(ItestPacket) p = itest_raw_expect(s3, MSB_PACKET_NEW_MESSAGES);
		itest_assert_bytes_hex(response->raw, ITEST_HEX_PUBLISH_RESPONSE_1);
		itest_assert_bytes_hex(
		        p->raw, "07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67"
		                " 00 00 00 00 00 00 00 00 02 00 00 00"
		                " 03 00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 68 69"
		                " 04 00 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00 01 02 03");
	}
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/messages/headers-end-to-end", NULL, test_headers_end_to_end);
	ITEST_ADD("/messages/p2-layouts", NULL, test_p2_layouts);
	return g_test_run();
}
