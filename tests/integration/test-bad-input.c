/*
 * Bad input against the real broker: an unknown packet id (17, 255), negative lengths and counts,
 * a 2 GiB content length (closed at once, without the bytes, and without the broker's memory
 * jumping), invalid UTF-8 in names, and a packet above MaxPacketSize each close only that
 * connection; the C# packet 10 with a valid body is decoded and ignored; a stream that arrives
 * one byte at a time is parsed like any other. In every case a client connected beforehand
 * publishes and receives afterwards.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "itest.h"

/* a small ceiling: MaxPacketSize must be at least MaxDeliverySize + 64 KiB */
#define SMALL_PACKETS             \
	"MaxDeliverySize: 1024\n" \
	"MaxPacketSize: 70000\n"

typedef struct {
	ItestBroker *broker;
	MsbClient *pub;
	MsbClient *sub;
	GPtrArray *got;
	guint round;
} Bystander;

/* A publisher and a subscriber that are connected before the bad input arrives. */
static void
bystander_init(Bystander *s, ItestBroker *b)
{
	g_autoptr(GError) error = NULL;

	memset(s, 0, sizeof(*s));
	s->broker = b;
	s->got = itest_received_new();
	s->pub = itest_client_new(b);
	s->sub = itest_client_new(b);
	itest_client_connect(s->pub);
	msb_client_create_topic(s->pub, "bystander", &error);
	g_assert_no_error(error);
	itest_client_sync(s->pub);
	msb_client_subscribe(s->sub, "bystander", "q", MSB_CLIENT_QUEUE_PERMANENT,
	                     itest_confirm_all_cb, s->got, NULL, &error);
	g_assert_no_error(error);
	itest_client_connect(s->sub);
	itest_client_sync(s->sub);
}

/* The bystanders still work: a publish goes through and is delivered. */
static void
bystander_check(Bystander *s)
{
	g_autofree gchar *text = g_strdup_printf("still fine %u", s->round);
	const ItestReceived *m;

	g_assert_true(msb_client_is_connected(s->pub));
	g_assert_true(msb_client_is_connected(s->sub));
	itest_client_publish_text(s->pub, "bystander", text);
	ITEST_WAIT_FOR(s->got->len == s->round + 1);
	m = g_ptr_array_index(s->got, s->round);
	g_assert_cmpint(m->id, ==, s->round);
	g_assert_cmpmem(g_bytes_get_data(m->content, NULL), g_bytes_get_size(m->content), text,
	                strlen(text));
	s->round++;
}

static void
bystander_clear(Bystander *s)
{
	msb_client_close(s->pub);
	msb_client_close(s->sub);
	g_object_unref(s->pub);
	g_object_unref(s->sub);
	g_ptr_array_unref(s->got);
}

/* Connect, optionally greet, send @hex: the broker must close this connection (well before the
 * 30 s ConnectionTimeout of the harness, so not for being idle), having sent nothing but a Pong
 * for each of the first @n_pongs bytes (Pings). */
static void
expect_closed_after_pongs(ItestBroker *b, gboolean greet, const gchar *hex, guint n_pongs)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(b);

	if (greet) {
		itest_raw_greet(r, "bad-client", 3, 1);
		itest_raw_sync(r);
	}
	itest_raw_send_hex(r, hex);
	itest_raw_wait_closed(r, 5000);
	for (guint i = 0; i < n_pongs; i++)
		itest_packet_free(itest_raw_expect(r, MSB_PACKET_PONG));
	g_assert_cmpuint(itest_raw_n_queued(r), ==, 0);
}

static void
expect_closed_after(ItestBroker *b, gboolean greet, const gchar *hex)
{
	expect_closed_after_pongs(b, greet, hex, 0);
}

static void
test_unknown_packet_ids(ItestFixture *f, gconstpointer data)
{
	Bystander s;

	bystander_init(&s, f->broker);
	for (guint greet = 0; greet < 2; greet++) {
		expect_closed_after(f->broker, greet, "11");
		bystander_check(&s);
		expect_closed_after(f->broker, greet, "FF");
		bystander_check(&s);
		/* after a valid packet in the same write: that one is answered, the rest is not
		 * looked at */
		expect_closed_after_pongs(f->broker, greet, "00 11 00", 1);
		bystander_check(&s);
	}
	bystander_clear(&s);
}

static void
test_legacy_packet_10(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	Bystander s;

	bystander_init(&s, f->broker);
	/* a C# client: P = 2, then packet 10 (topic, queue, 1 ok interval, 2 not-ok intervals) */
	itest_raw_send_hex(r, ITEST_HEX_GREETING_CSHARP ITEST_HEX_PACKET_VERSIONS);
	itest_raw_assume(r, 2, 1);
	itest_raw_send_hex(r, "0A 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67"
	                      " 01 00 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00"
	                      " 02 00 00 00 03 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00"
	                      " 05 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00");
	/* and with no intervals at all */
	itest_raw_send_hex(
	        r, "0A 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 00 00 00 00 00 00 00 00");
	/* decoded and ignored: no answer, the connection stays, the next packet is parsed */
	itest_raw_assert_quiet(r);
	itest_raw_send_hex(r, ITEST_HEX_CREATE_ORDERS ITEST_HEX_PUBLISH_P2);
	itest_raw_expect_publish_response(r, 1);
	bystander_check(&s);
	bystander_clear(&s);
}

static void
test_negative_lengths(ItestFixture *f, gconstpointer data)
{
	Bystander s;

	bystander_init(&s, f->broker);
	/* Publish to "orders", request 1, 1 message, no headers, content length -1 */
	expect_closed_after(
	        f->broker, TRUE,
	        "03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 01 00 00 00 00 FF FF FF FF");
	bystander_check(&s);
	/* message count -1 */
	expect_closed_after(f->broker, TRUE,
	                    "03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 FF FF FF FF");
	bystander_check(&s);
	/* content length G_MININT32 */
	expect_closed_after(
	        f->broker, TRUE,
	        "03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 80");
	bystander_check(&s);
	/* ConfirmSomeMessagesAsOk with an interval count of -2 */
	expect_closed_after(
	        f->broker, TRUE,
	        "0E 00 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00"
	        " FE FF FF FF");
	bystander_check(&s);
	bystander_clear(&s);
}

static void
test_huge_length(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	Bystander s;
	gsize rss_before;
	gsize rss_after;
	gint64 sent;

	bystander_init(&s, f->broker);
	itest_raw_greet(r, "huge", 3, 1);
	itest_raw_create_topic(r, "orders");
	itest_raw_sync(r);
	rss_before = itest_broker_rss_kib(f->broker);
	/* a message of 0x7FFFFFFF bytes announced, and none of them sent */
	itest_raw_send_hex(r, "03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 01 00 00 00 00"
	                      " FF FF FF 7F 68 69");
	sent = g_get_monotonic_time();
	itest_raw_wait_closed(r, 5000);
	g_test_message("closed %" G_GINT64_FORMAT " ms after the announcement",
	               (r->eof_us - sent) / 1000);
	rss_after = itest_broker_rss_kib(f->broker);
	g_test_message("broker VmRSS %zu KiB before, %zu KiB after", rss_before, rss_after);
	/* nothing like 2 GiB (or a part of it) was reserved and touched */
	g_assert_cmpuint(rss_after, <, rss_before + 16 * 1024);
	bystander_check(&s);
	bystander_clear(&s);
}

static void
test_invalid_utf8(ItestFixture *f, gconstpointer data)
{
	Bystander s;

	bystander_init(&s, f->broker);
	/* Publish to a topic named FF FE FD */
	expect_closed_after(f->broker, TRUE,
	                    "03 03 FF FE FD 01 00 00 00 00 00 00 00 00 00 00 00 00");
	bystander_check(&s);
	/* CreateTopicIfNotExists with a truncated two-byte sequence */
	expect_closed_after(f->broker, TRUE, "09 04 61 62 63 C3");
	bystander_check(&s);
	/* Subscribe with an overlong encoding of '/' in the queue name */
	expect_closed_after(f->broker, TRUE, "05 06 6F 72 64 65 72 73 02 C0 AF 00");
	bystander_check(&s);
	/* a Greeting whose name is a lone surrogate (ED A0 80) */
	expect_closed_after(f->broker, FALSE, "02 03 ED A0 80 03 00 00 00");
	bystander_check(&s);
	/* a header value with invalid UTF-8 */
	expect_closed_after(f->broker, TRUE,
	                    "03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 01 00 00 00"
	                    " 01 01 6B 01 FF 00 00 00 00 00");
	bystander_check(&s);
	bystander_clear(&s);
}

static void
test_above_max_packet_size(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) ok = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	Bystander s;

	bystander_init(&s, f->broker);
	itest_raw_greet(ok, "ok", 3, 1);
	itest_raw_create_topic(ok, "orders");
	itest_raw_sync(ok);
	/* just below the ceiling goes through */
	itest_raw_publish_sized(ok, "orders", 1, 1, 60000);
	itest_raw_expect_publish_response(ok, 1);

	/* 80000 bytes announced with MaxPacketSize 70000: closed on the announcement */
	itest_raw_greet(r, "too-big", 3, 1);
	itest_raw_sync(r);
	itest_raw_send_hex(r, "03 06 6F 72 64 65 72 73 02 00 00 00 00 00 00 00 01 00 00 00 00"
	                      " 80 38 01 00");
	itest_raw_wait_closed(r, 5000);
	bystander_check(&s);
	itest_raw_sync(ok);
	bystander_clear(&s);
}

static void
test_byte_by_byte(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autoptr(GBytes) stream =
	        itest_hex(ITEST_HEX_GREETING_RUST ITEST_HEX_PACKET_VERSIONS ITEST_HEX_CREATE_ORDERS
	                          ITEST_HEX_SUBSCRIBE_ORDERS_BILLING ITEST_HEX_PUBLISH_P3);
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(stream, &len);
	g_autoptr(ItestPacket) batch = NULL;
	Bystander s;

	bystander_init(&s, f->broker);
	itest_raw_assume(r, 3, 1);
	/* every byte in its own segment: the parser must wait for the rest of each packet */
	g_socket_set_option(r->socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	for (gsize i = 0; i < len; i++) {
		itest_raw_send(r, p + i, 1);
		if (i % 8 == 0)
			itest_run_for(1);
	}
	itest_raw_expect_publish_response(r, 1);
	batch = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 2);
	itest_raw_assert_quiet(r);
	bystander_check(&s);
	bystander_clear(&s);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/input/unknown-packet-ids", NULL, test_unknown_packet_ids);
	ITEST_ADD("/input/legacy-packet-10", NULL, test_legacy_packet_10);
	ITEST_ADD("/input/negative-lengths", NULL, test_negative_lengths);
	ITEST_ADD("/input/huge-length", NULL, test_huge_length);
	ITEST_ADD("/input/huge-length-max-ceiling", "MaxPacketSize: 2147483647\n",
	          test_huge_length);
	ITEST_ADD("/input/invalid-utf8", NULL, test_invalid_utf8);
	ITEST_ADD("/input/above-max-packet-size", SMALL_PACKETS, test_above_max_packet_size);
	ITEST_ADD("/input/byte-by-byte", NULL, test_byte_by_byte);
	return g_test_run();
}
