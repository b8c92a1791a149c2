/*
 * Slow peers against the real broker. A subscriber whose socket is never read competes with a
 * libmsb-client subscriber on one queue: it gets one batch and nothing more, the reading
 * subscriber gets every other message of 64 MiB published, and the broker's VmRSS stays far below
 * the published volume. A publisher that never reads its PublishResponses is back-pressured (the
 * broker stops reading it, so its non-blocking writes hit EAGAIN and stay blocked, with a small
 * SendBufferSize) while another client keeps publishing and consuming; once it reads, every
 * publish it managed to write is answered, in order.
 */
#include "itest.h"

#define SLOW_SETTINGS              \
	"SendBufferSize: 64KiB\n"  \
	"MaxDeliverySize: 64KiB\n" \
	"MaxPacketSize: 4MiB\n"
/* AddressSanitizer keeps freed blocks resident in its quarantine (256 MiB by default), which
 * would hide whether the broker frees anything; a small one keeps VmRSS meaningful */
#define SLOW_ASAN_OPTIONS "quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

#define MESSAGE_SIZE       (16 * 1024)
#define MESSAGES_PER_ROUND 64
#define ROUNDS             64
/* 64 MiB in all */
#define TOTAL_MESSAGES (MESSAGES_PER_ROUND * ROUNDS)

static void
slow_fixture_setup(ItestFixture *f, gconstpointer data)
{
	f->broker = itest_broker_new(SLOW_SETTINGS);
	f->broker->asan_options = SLOW_ASAN_OPTIONS;
	itest_broker_start(f->broker, 0);
}

typedef struct {
	guint8 *seen; /* by id */
	guint received;
	gboolean duplicate;
	gboolean bad_content;
} Counter;

static void
counting_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	Counter *c = user_data;

	for (guint i = 0; i < msb_delivery_get_n_messages(delivery); i++) {
		const MsbReceivedMessage *m = msb_delivery_get_message(delivery, i);
		if (m->id < 0 || m->id >= TOTAL_MESSAGES || c->seen[m->id])
			c->duplicate = TRUE;
		else
			c->seen[m->id] = 1;
		/* itest_raw_publish_sized(): byte i of message j is (j + i) & 0xff, j counted
		 * within its Publish */
		if (m->content_len != MESSAGE_SIZE ||
		    m->content[1] != (guint8)((m->id % MESSAGES_PER_ROUND + 1) & 0xff))
			c->bad_content = TRUE;
		c->received++;
	}
	msb_delivery_confirm_all(delivery);
}

static ItestRaw *
connect_small_buffers(ItestBroker *b)
{
	g_autoptr(GInetAddress) inet = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(inet, b->port);
	g_autoptr(GError) error = NULL;
	ItestRaw *r = itest_raw_connect_full(addr, 4096, TRUE, &error);

	g_assert_no_error(error);
	return r;
}

static void
test_never_reading_subscriber(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) slow = connect_small_buffers(f->broker);
	g_autoptr(MsbClient) reader = itest_client_new(f->broker);
	g_autoptr(GError) error = NULL;
	g_autoptr(ItestPacket) held = NULL;
	g_autofree guint8 *seen = g_new0(guint8, TOTAL_MESSAGES);
	Counter counter = {seen, 0, FALSE, FALSE};
	gsize rss_before;
	gsize rss_peak = 0;
	guint held_count;

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "firehose");
	itest_raw_sync(pub);
	/* the slow one subscribes first, so it is the first idle subscriber and gets a batch */
	itest_raw_greet(slow, "slow", 3, 1);
	itest_raw_subscribe(slow, "firehose", "q", 0);
	itest_raw_sync(slow);
	itest_raw_stop_reading(slow);
	msb_client_subscribe(reader, "firehose", "q", MSB_CLIENT_QUEUE_PERMANENT, counting_cb,
	                     &counter, NULL, &error);
	g_assert_no_error(error);
	itest_client_connect(reader);
	itest_client_sync(reader);
	rss_before = itest_broker_rss_kib(f->broker);

	for (guint round = 0; round < ROUNDS; round++) {
		guint published = (round + 1) * MESSAGES_PER_ROUND;

		itest_raw_publish_sized(pub, "firehose", 1 + round, MESSAGES_PER_ROUND,
		                        MESSAGE_SIZE);
		itest_raw_expect_publish_response(pub, 1 + round);
		/* everything but the slow subscriber's one batch reaches the reader */
		ITEST_WAIT_FOR(counter.received + 4 == published);
		rss_peak = MAX(rss_peak, itest_broker_rss_kib(f->broker));
	}
	/* MaxDeliverySize 64 KiB: the slow subscriber's batch is four 16 KiB messages */
	g_assert_cmpuint(counter.received, ==, TOTAL_MESSAGES - 4);
	g_assert_false(counter.duplicate);
	g_assert_false(counter.bad_content);
	for (guint id = 0; id < 4; id++)
		g_assert_false(seen[id]);
	g_test_message("broker VmRSS %zu KiB before, at most %zu KiB while %u MiB went through",
	               rss_before, rss_peak, TOTAL_MESSAGES * MESSAGE_SIZE / (1024 * 1024));
	/* far below the 64 MiB published: what the reader confirmed is freed even though the slow
	 * subscriber still holds the very first messages */
	g_assert_cmpuint(rss_peak, <, rss_before + TOTAL_MESSAGES / 4 * MESSAGE_SIZE / 1024);

	/* the slow one got exactly one batch, and nothing else while it held it */
	itest_raw_start_reading(slow);
	held = itest_raw_expect(slow, MSB_PACKET_NEW_MESSAGES);
	held_count = held->messages->len;
	g_assert_cmpuint(held_count, ==, 4);
	for (guint i = 0; i < held_count; i++)
		g_assert_cmpint(itest_packet_message(held, i)->id, ==, i);
	itest_raw_assert_quiet(slow);
	itest_raw_confirm(slow, TRUE, "firehose", "q", held->confirmation_id);
	itest_raw_assert_quiet(slow);
	msb_client_close(reader);
}

/* ---- a publisher that does not read ---- */

#define PUBLISHES_PER_CHUNK 1024

/* @n small publishes, request ids @first.. */
static GBytes *
publish_chunk(gint64 first)
{
	MsbBuf buf;
	GBytes *bytes;

	msb_buf_init(&buf, 0);
	for (guint i = 0; i < PUBLISHES_PER_CHUNK; i++) {
		gsize count_at = 0;
		g_autoptr(GError) error = NULL;
		msb_wire_publish_begin(&buf, "flood", first + i, &count_at, &error);
		g_assert_no_error(error);
		msb_wire_publish_add(&buf, 3, NULL, 0, (const guint8 *)"0123456789abcdef", 16);
		msb_wire_publish_end(&buf, count_at, 1, FALSE);
	}
	bytes = g_bytes_new(msb_buf_head(&buf), msb_buf_pending(&buf));
	msb_buf_clear(&buf);
	return bytes;
}

static void
round_trip(MsbClient *pub, GPtrArray *got, guint n)
{
	g_autofree gchar *text = g_strdup_printf("still working %u", n);

	itest_client_publish_text(pub, "others", text);
	ITEST_WAIT_FOR(got->len == n + 1);
}

static gboolean
writable_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Run the main context until @r's socket is writable (TRUE) or @ms have passed (FALSE). */
static gboolean
wait_writable(ItestRaw *r, guint ms)
{
	gboolean writable = FALSE;
	GSource *source = g_socket_create_source(r->socket, G_IO_OUT, NULL);
	ItestWait w;

	g_source_set_callback(source, G_SOURCE_FUNC(writable_cb), &writable, NULL);
	g_source_attach(source, NULL);
	itest_wait_begin(&w, ms);
	while (!writable && itest_wait_iterate(&w))
		;
	itest_wait_end(&w);
	g_source_destroy(source);
	g_source_unref(source);
	return writable;
}

static void
test_back_pressured_publisher(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) flood = connect_small_buffers(f->broker);
	g_autoptr(MsbClient) other_pub = itest_client_new(f->broker);
	g_autoptr(MsbClient) other_sub = itest_client_new(f->broker);
	g_autoptr(GPtrArray) got = itest_received_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) pending_chunk = NULL;
	gsize pending_off = 0;
	guint64 written = 0;
	gint64 next_rid = 1;
	gint64 expect_rid = 1;
	gsize rss_before;
	gsize rss_stalled;
	guint n_round_trips = 0;
	const guint64 cap = 256 * 1024 * 1024;

	itest_raw_greet(flood, "flood", 3, 1);
	itest_raw_create_topic(flood, "flood");
	itest_raw_create_topic(flood, "others");
	itest_raw_sync(flood);
	itest_raw_stop_reading(flood);
	/* this test spends seconds at a time writing and reading the flood: slow pings so that
	 * the other clients do not take that for a dead link */
	msb_client_set_ping_interval(other_pub, 5000);
	msb_client_set_ping_interval(other_sub, 5000);
	msb_client_subscribe(other_sub, "others", "q", MSB_CLIENT_QUEUE_PERMANENT,
	                     itest_confirm_all_cb, got, NULL, &error);
	g_assert_no_error(error);
	itest_client_connect(other_sub);
	itest_client_sync(other_sub);
	itest_client_connect(other_pub);
	rss_before = itest_broker_rss_kib(f->broker);

	/*
	 * Write publishes without reading a single answer. A write that would block can just mean
	 * the broker has not caught up yet; the broker has stopped reading this client when the
	 * socket stays unwritable while another client makes round trips through the same main
	 * loop. Without back-pressure the broker would take everything (up to the cap).
	 */
	for (;;) {
		gboolean stalled = TRUE;

		for (;;) {
			gsize len;
			const guint8 *p;
			gsize n;

			if (pending_chunk == NULL) {
				pending_chunk = publish_chunk(next_rid);
				next_rid += PUBLISHES_PER_CHUNK;
				pending_off = 0;
			}
			p = g_bytes_get_data(pending_chunk, &len);
			n = itest_raw_send_nonblocking(flood, p + pending_off, len - pending_off);
			if (n == 0)
				break;
			written += n;
			pending_off += n;
			if (pending_off == len)
				g_clear_pointer(&pending_chunk, g_bytes_unref);
			g_assert_cmpuint(written, <, cap);
			/* the other clients' pings and pongs */
			while (g_main_context_iteration(NULL, FALSE))
				;
		}
		if (wait_writable(flood, 200))
			continue;
		for (guint i = 0; i < 3 && stalled; i++) {
			gsize len;
			const guint8 *p = g_bytes_get_data(pending_chunk, &len);
			round_trip(other_pub, got, n_round_trips++);
			if (itest_raw_send_nonblocking(flood, p + pending_off, 1) == 1) {
				written++;
				if (++pending_off == len)
					g_clear_pointer(&pending_chunk, g_bytes_unref);
				stalled = FALSE;
			}
		}
		if (stalled)
			break;
	}
	g_test_message("stalled after %" G_GUINT64_FORMAT " bytes of publishes", written);
	/*
	 * It stays (practically) blocked while the other client goes on working for half a
	 * second: a broker that read on would take megabytes in that time, one that applies
	 * back-pressure takes at most what a brief drain of its socket buffer lets through.
	 */
	{
		gint64 watch_start = g_get_monotonic_time();
		gsize accepted = 0;

		for (guint i = 0; i < 10 || g_get_monotonic_time() - watch_start < 500000; i++) {
			gsize len;
			const guint8 *p;
			gsize n;

			round_trip(other_pub, got, n_round_trips++);
			if (pending_chunk == NULL) {
				pending_chunk = publish_chunk(next_rid);
				next_rid += PUBLISHES_PER_CHUNK;
				pending_off = 0;
			}
			p = g_bytes_get_data(pending_chunk, &len);
			while ((n = itest_raw_send_nonblocking(flood, p + pending_off,
			                                       len - pending_off)) > 0) {
				accepted += n;
				pending_off += n;
				if (pending_off == len) {
					g_clear_pointer(&pending_chunk, g_bytes_unref);
					pending_chunk = publish_chunk(next_rid);
					next_rid += PUBLISHES_PER_CHUNK;
					pending_off = 0;
					p = g_bytes_get_data(pending_chunk, &len);
				}
			}
		}
		g_test_message("%zu more bytes taken in %u round trips of another client", accepted,
		               n_round_trips);
		g_assert_cmpuint(accepted, <, 1024 * 1024);
	}
	rss_stalled = itest_broker_rss_kib(f->broker);
	g_test_message("broker VmRSS %zu KiB before, %zu KiB while stalled", rss_before,
	               rss_stalled);
	/* what it buffers for the stalled client is bounded by SendBufferSize and the socket
	 * buffers, not by what the client keeps writing */
	g_assert_cmpuint(rss_stalled, <, rss_before + 32 * 1024);

	/* once it reads, every publish is answered, in order; finish the last one first */
	itest_raw_start_reading(flood);
	if (pending_chunk != NULL) {
		gsize len;
		const guint8 *p = g_bytes_get_data(pending_chunk, &len);
		ItestWait w;

		/* without blocking: the answers must be read meanwhile for the broker to go on */
		itest_wait_begin(&w, ITEST_TIMEOUT_MS);
		while (pending_off < len) {
			pending_off += itest_raw_send_nonblocking(flood, p + pending_off,
			                                          len - pending_off);
			if (pending_off < len && !itest_wait_iterate(&w))
				g_error("the broker did not take the rest of the publishes");
		}
		itest_wait_end(&w);
	}
	for (; expect_rid < next_rid; expect_rid++) {
		itest_raw_expect_publish_response(flood, expect_rid);
		/* hundreds of thousands of answers are queued: let the other clients' pings
		 * through now and then */
		if (expect_rid % 4096 == 0)
			while (g_main_context_iteration(NULL, FALSE))
				;
	}
	itest_raw_assert_quiet(flood);
	round_trip(other_pub, got, n_round_trips++);
	msb_client_close(other_pub);
	msb_client_close(other_sub);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	g_test_add("/slow/never-reading-subscriber", ItestFixture, NULL, slow_fixture_setup,
	           test_never_reading_subscriber, itest_fixture_teardown);
	g_test_add("/slow/back-pressured-publisher", ItestFixture, NULL, slow_fixture_setup,
	           test_back_pressured_publisher, itest_fixture_teardown);
	return g_test_run();
}
