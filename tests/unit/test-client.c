/*
 * libmsb-client against an in-process fake broker.
 *
 * The fake broker is a GSocketService on 127.0.0.1 (ephemeral port) or a Unix socket, on the same
 * main context as the client. It decodes what the client sends with the real codec (switching P
 * and V7 as a broker does), records every packet with its raw bytes, answers Ping with Pong unless
 * told to stay silent, and otherwise only sends what each test scripts. Byte-exact checks use the
 * worked examples of protocol.md §11.
 */
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "msb-client.h"
#include "msb-wire.h"

/* ---- helpers ---- */

static GBytes *
hex(const gchar *text)
{
	GByteArray *out = g_byte_array_new();
	gint hi = -1;

	for (const gchar *p = text; *p != '\0'; p++) {
		gint v = g_ascii_xdigit_value(*p);
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			guint8 b = (guint8)(hi * 16 + v);
			g_byte_array_append(out, &b, 1);
			hi = -1;
		}
	}
	g_assert_cmpint(hi, ==, -1);
	return g_byte_array_free_to_bytes(out);
}

static void
assert_bytes_hex(GBytes *got, const gchar *expect_hex)
{
	g_autoptr(GBytes) expect = hex(expect_hex);
	gsize got_len = 0;
	gsize expect_len = 0;
	const guint8 *g = g_bytes_get_data(got, &got_len);
	const guint8 *e = g_bytes_get_data(expect, &expect_len);
	g_assert_cmpmem(g, got_len, e, expect_len);
}

static gboolean
tick_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* Iterate the default context until @expr holds; fail after 10 s. */
#define WAIT_FOR(expr)                                                                         \
	G_STMT_START                                                                           \
	{                                                                                      \
		gint64 _deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;               \
		guint _tick = g_timeout_add(5, tick_cb, NULL);                                 \
		while (!(expr)) {                                                              \
			if (g_get_monotonic_time() > _deadline)                                \
				g_error("%s:%d: timed out waiting for %s", __FILE__, __LINE__, \
				        #expr);                                                \
			g_main_context_iteration(NULL, TRUE);                                  \
		}                                                                              \
		g_source_remove(_tick);                                                        \
	}                                                                                      \
	G_STMT_END

/* Run the default context for @ms milliseconds. */
static void
spin(guint ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
	guint tick = g_timeout_add(2, tick_cb, NULL);
	while (g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(tick);
}

static void
drain(void)
{
	while (g_main_context_iteration(NULL, FALSE))
		;
}

/* ---- the fake broker ---- */

typedef struct {
	MsbPacketId id;
	GBytes *raw;
	guint read_no; /* which receive completed it */
	gint64 request_id;
	guint n_messages;
	gboolean persist;
	gchar *topic;
	gchar *queue;
} FakePacket;

typedef struct _FakeBroker FakeBroker;

typedef struct {
	FakeBroker *broker;
	GSocketConnection *connection;
	GSocket *socket;
	GSource *in_source;
	GSource *out_source;
	MsbBuf in;
	MsbBuf out;
	MsbWireDecoder dec;
	GPtrArray *packets; /* FakePacket */
	guint n_reads;
	gboolean eof;
} FakeConn;

struct _FakeBroker {
	GSocketService *service;
	gchar *address;
	gchar *unix_dir;
	gchar *unix_path;
	GPtrArray *conns;  /* FakeConn */
	gboolean silent;   /* do not answer Ping */
	gboolean auto_ack; /* answer Publish with PublishResponse */
};

static void
fake_packet_free(FakePacket *p)
{
	g_bytes_unref(p->raw);
	g_free(p->topic);
	g_free(p->queue);
	g_free(p);
}

static gboolean
fake_conn_out_cb(GSocket *socket, GIOCondition condition, gpointer user_data);

static void
fake_conn_flush(FakeConn *c)
{
	while (c->socket != NULL && msb_buf_pending(&c->out) > 0) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_send(c->socket, (const gchar *)msb_buf_head(&c->out),
		                         msb_buf_pending(&c->out), NULL, &error);
		if (n < 0) {
			if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
				if (c->out_source == NULL) {
					c->out_source =
					        g_socket_create_source(c->socket, G_IO_OUT, NULL);
					g_source_set_callback(c->out_source,
					                      G_SOURCE_FUNC(fake_conn_out_cb), c,
					                      NULL);
					g_source_attach(c->out_source, NULL);
				}
				return;
			}
			/* the client went away; the read side will see it */
			c->out.len = c->out.off = 0;
			break;
		}
		msb_buf_consume(&c->out, (gsize)n);
	}
	if (c->out_source != NULL) {
		g_source_destroy(c->out_source);
		g_clear_pointer(&c->out_source, g_source_unref);
	}
}

static gboolean
fake_conn_out_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	fake_conn_flush(user_data);
	return G_SOURCE_CONTINUE;
}

static void
fake_conn_send_buf(FakeConn *c, MsbBuf *buf)
{
	msb_buf_put(&c->out, msb_buf_head(buf), msb_buf_pending(buf));
	fake_conn_flush(c);
}

static void
fake_conn_send_hex(FakeConn *c, const gchar *text)
{
	g_autoptr(GBytes) bytes = hex(text);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	msb_buf_put(&c->out, data, len);
	fake_conn_flush(c);
}

static void
fake_conn_send_publish_response(FakeConn *c, gint64 request_id)
{
	msb_wire_put_publish_response(&c->out, request_id);
	fake_conn_flush(c);
}

static void
fake_conn_send_reject(FakeConn *c, const gchar *text)
{
	msb_wire_put_reject(&c->out, text);
	fake_conn_flush(c);
}

static gchar *
wire_strdup(MsbWireStr s)
{
	return g_strndup(s.str, s.len);
}

static void
fake_conn_record(FakeConn *c, const MsbPacket *pkt, const guint8 *data, gsize len)
{
	FakePacket *p = g_new0(FakePacket, 1);

	p->id = pkt->id;
	p->raw = g_bytes_new(data, len);
	p->read_no = c->n_reads;
	switch (pkt->id) {
	case MSB_PACKET_GREETING:
		p->topic = wire_strdup(pkt->greeting.name);
		c->dec.protocol_version = pkt->greeting.protocol_version;
		break;
	case MSB_PACKET_PACKET_VERSIONS:
		if (pkt->packet_versions.has_new_messages_version)
			c->dec.new_messages_version = pkt->packet_versions.new_messages_version;
		break;
	case MSB_PACKET_PUBLISH:
		p->topic = wire_strdup(pkt->publish.topic);
		p->request_id = pkt->publish.request_id;
		p->n_messages = pkt->publish.n_messages;
		p->persist = pkt->publish.persist_immediately;
		if (c->broker->auto_ack)
			msb_wire_put_publish_response(&c->out, pkt->publish.request_id);
		break;
	case MSB_PACKET_SUBSCRIBE:
		p->topic = wire_strdup(pkt->subscribe.topic);
		p->queue = wire_strdup(pkt->subscribe.queue);
		break;
	case MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS:
		p->topic = wire_strdup(pkt->create_topic.topic);
		break;
	case MSB_PACKET_PING:
		if (!c->broker->silent)
			msb_wire_put_pong(&c->out);
		break;
	default:
		break;
	}
	g_ptr_array_add(c->packets, p);
}

static gboolean
fake_conn_in_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	FakeConn *c = user_data;
	g_autoptr(GError) error = NULL;
	guint8 *dst = msb_buf_reserve(&c->in, 256 * 1024);
	gssize n = g_socket_receive(socket, (gchar *)dst, c->in.cap - c->in.len, NULL, &error);

	if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		c->eof = TRUE;
		g_clear_pointer(&c->in_source, g_source_unref);
		return G_SOURCE_REMOVE;
	}
	c->in.len += (gsize)n;
	c->n_reads++;
	while (msb_buf_pending(&c->in) > 0) {
		MsbPacket pkt;
		gsize consumed = 0;
		g_autoptr(GError) decode_error = NULL;
		MsbWireDecodeResult res =
		        msb_wire_decode(&c->dec, msb_buf_head(&c->in), msb_buf_pending(&c->in),
		                        &pkt, &consumed, &decode_error);
		if (res == MSB_WIRE_DECODE_NEED_MORE)
			break;
		if (res == MSB_WIRE_DECODE_ERROR)
			g_error("the fake broker cannot decode the client: %s",
			        decode_error->message);
		fake_conn_record(c, &pkt, msb_buf_head(&c->in), consumed);
		msb_buf_consume(&c->in, consumed);
	}
	fake_conn_flush(c);
	return G_SOURCE_CONTINUE;
}

/* Close the link from the broker side. */
static void
fake_conn_close(FakeConn *c)
{
	if (c->in_source != NULL) {
		g_source_destroy(c->in_source);
		g_clear_pointer(&c->in_source, g_source_unref);
	}
	if (c->out_source != NULL) {
		g_source_destroy(c->out_source);
		g_clear_pointer(&c->out_source, g_source_unref);
	}
	if (c->connection != NULL)
		g_io_stream_close(G_IO_STREAM(c->connection), NULL, NULL);
	g_clear_object(&c->socket);
	g_clear_object(&c->connection);
}

static void
fake_conn_free(FakeConn *c)
{
	fake_conn_close(c);
	msb_buf_clear(&c->in);
	msb_buf_clear(&c->out);
	msb_wire_decoder_clear(&c->dec);
	g_ptr_array_unref(c->packets);
	g_free(c);
}

static gboolean
fake_incoming_cb(GSocketService *service, GSocketConnection *connection, GObject *source_object,
                 gpointer user_data)
{
	FakeBroker *broker = user_data;
	FakeConn *c = g_new0(FakeConn, 1);

	c->broker = broker;
	c->connection = g_object_ref(connection);
	c->socket = g_object_ref(g_socket_connection_get_socket(connection));
	g_socket_set_blocking(c->socket, FALSE);
	msb_buf_init(&c->in, 0);
	msb_buf_init(&c->out, 0);
	msb_wire_decoder_init(&c->dec, 64 * 1024 * 1024);
	c->packets = g_ptr_array_new_with_free_func((GDestroyNotify)fake_packet_free);
	c->in_source = g_socket_create_source(c->socket, G_IO_IN, NULL);
	g_source_set_callback(c->in_source, G_SOURCE_FUNC(fake_conn_in_cb), c, NULL);
	g_source_attach(c->in_source, NULL);
	g_ptr_array_add(broker->conns, c);
	return TRUE;
}

static FakeBroker *
fake_broker_new_full(gboolean unix_socket)
{
	FakeBroker *broker = g_new0(FakeBroker, 1);
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GSocketAddress) effective = NULL;
	g_autoptr(GError) error = NULL;

	broker->service = g_socket_service_new();
	broker->conns = g_ptr_array_new_with_free_func((GDestroyNotify)fake_conn_free);
	if (unix_socket) {
		broker->unix_dir = g_dir_make_tmp("test-client-XXXXXX", &error);
		g_assert_no_error(error);
		broker->unix_path = g_build_filename(broker->unix_dir, "broker.sock", NULL);
		address = g_unix_socket_address_new(broker->unix_path);
	} else {
		g_autoptr(GInetAddress) loopback =
		        g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
		address = g_inet_socket_address_new(loopback, 0);
	}
	g_socket_listener_add_address(G_SOCKET_LISTENER(broker->service), address,
	                              G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL,
	                              &effective, &error);
	g_assert_no_error(error);
	if (unix_socket) {
		broker->address = g_strdup_printf("unix:%s", broker->unix_path);
	} else {
		broker->address = g_strdup_printf(
		        "127.0.0.1:%u",
		        g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective)));
	}
	g_signal_connect(broker->service, "incoming", G_CALLBACK(fake_incoming_cb), broker);
	g_socket_service_start(broker->service);
	return broker;
}

static FakeBroker *
fake_broker_new(void)
{
	return fake_broker_new_full(FALSE);
}

static void
fake_broker_free(FakeBroker *broker)
{
	g_socket_service_stop(broker->service);
	g_socket_listener_close(G_SOCKET_LISTENER(broker->service));
	g_object_unref(broker->service);
	g_ptr_array_unref(broker->conns);
	if (broker->unix_path != NULL)
		g_unlink(broker->unix_path);
	if (broker->unix_dir != NULL)
		g_rmdir(broker->unix_dir);
	g_free(broker->unix_path);
	g_free(broker->unix_dir);
	g_free(broker->address);
	g_free(broker);
	drain();
}

static FakeConn *
fake_conn(FakeBroker *broker, guint i)
{
	g_assert_cmpuint(i, <, broker->conns->len);
	return g_ptr_array_index(broker->conns, i);
}

static FakePacket *
fake_packet(FakeConn *c, guint i)
{
	g_assert_cmpuint(i, <, c->packets->len);
	return g_ptr_array_index(c->packets, i);
}

/* The first packet with @id at or after index @from, or NULL. */
static FakePacket *
fake_find(FakeConn *c, MsbPacketId id, guint from)
{
	for (guint i = from; i < c->packets->len; i++) {
		FakePacket *p = g_ptr_array_index(c->packets, i);
		if (p->id == id)
			return p;
	}
	return NULL;
}

static guint
fake_count(FakeConn *c, MsbPacketId id)
{
	guint n = 0;
	for (guint i = 0; i < c->packets->len; i++) {
		if (((FakePacket *)g_ptr_array_index(c->packets, i))->id == id)
			n++;
	}
	return n;
}

/* ---- client side bookkeeping ---- */

typedef struct {
	guint connected;
	guint disconnected;
	GError *disconnect_error;
	GPtrArray *rejected;   /* gchar* */
	GPtrArray *deliveries; /* MsbDelivery*, when keep_deliveries */
	gboolean keep_deliveries;
	guint n_deliveries;
} Events;

static void
on_connected(MsbClient *client, gpointer user_data)
{
	Events *ev = user_data;
	ev->connected++;
}

static void
on_disconnected(MsbClient *client, const GError *error, gpointer user_data)
{
	Events *ev = user_data;
	ev->disconnected++;
	g_clear_error(&ev->disconnect_error);
	ev->disconnect_error = g_error_copy(error);
}

static void
on_rejected(MsbClient *client, const gchar *text, gpointer user_data)
{
	Events *ev = user_data;
	g_ptr_array_add(ev->rejected, g_strdup(text));
}

static void
on_delivery(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	Events *ev = user_data;
	ev->n_deliveries++;
	if (ev->keep_deliveries)
		g_ptr_array_add(ev->deliveries, msb_delivery_ref(delivery));
}

static void
events_init(Events *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->rejected = g_ptr_array_new_with_free_func(g_free);
	ev->deliveries = g_ptr_array_new_with_free_func((GDestroyNotify)msb_delivery_unref);
}

static void
events_clear(Events *ev)
{
	g_clear_error(&ev->disconnect_error);
	g_ptr_array_unref(ev->rejected);
	g_ptr_array_unref(ev->deliveries);
}

static MsbClient *
client_new(FakeBroker *broker, Events *ev)
{
	MsbClient *client = msb_client_new(broker->address, "demo");
	/* no stray Pings in the packet counts, even on a loaded machine */
	msb_client_set_ping_interval(client, 60 * 1000);
	g_signal_connect(client, "connected", G_CALLBACK(on_connected), ev);
	g_signal_connect(client, "disconnected", G_CALLBACK(on_disconnected), ev);
	g_signal_connect(client, "rejected", G_CALLBACK(on_rejected), ev);
	return client;
}

static void
client_free(MsbClient *client, Events *ev)
{
	msb_client_close(client);
	g_signal_handlers_disconnect_by_data(client, ev);
	g_object_unref(client);
	drain();
}

/* One publish's outcome. */
typedef struct {
	gboolean done;
	GError *error;
	guint order; /* completion order, from 1 */
} PubResult;

static guint pub_completions = 0;

static void
publish_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PubResult *r = user_data;
	g_assert_false(r->done);
	r->done = TRUE;
	r->order = ++pub_completions;
	msb_client_publish_finish(MSB_CLIENT(source), res, &r->error);
}

static void
publish_one(MsbClient *client, const gchar *topic, const gchar *text, PubResult *r)
{
	MsbMessage m = {(const guint8 *)text, strlen(text), NULL, 0};
	msb_client_publish_async(client, topic, &m, 1, FALSE, NULL, publish_cb, r);
}

/* the two messages of protocol.md §11.3 */
static const MsbHeader trace_header[] = {{"trace-id", "abc"}};
static const guint8 content_123[] = {1, 2, 3};
static const MsbMessage example_messages[] = {
        {(const guint8 *)"hi", 2, trace_header, 1},
        {content_123, 3, NULL, 0},
};

#define HEX_PUBLISH_P3                                    \
	"03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00" \
	"02 00 00 00 01 08 74 72 61 63 65 2D 69 64 03 61" \
	"62 63 02 00 00 00 68 69 00 03 00 00 00 01 02 03" \
	"00"
#define HEX_PUBLISH_P2                                                                            \
	"03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 02 00 00 00 02 00 00 00 68 69 03 00 00 " \
	"00 01 02 03 00"
#define HEX_SUBSCRIBE "05 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 00"
#define HEX_NEW_MESSAGES_P3                               \
	"07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67" \
	"05 00 00 00 00 00 00 00 01 00 00 00 2A 00 00 00" \
	"00 00 00 00 00 00 00 00 01 08 74 72 61 63 65 2D" \
	"69 64 03 61 62 63 02 00 00 00 68 69"
#define HEX_NEW_MESSAGES_P2                               \
	"07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67" \
	"05 00 00 00 00 00 00 00 01 00 00 00 2A 00 00 00" \
	"00 00 00 00 00 00 00 00 02 00 00 00 68 69"
#define HEX_CONFIRM_ALL                                   \
	"08 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67" \
	"05 00 00 00 00 00 00 00"
#define HEX_FAIL_ALL                                      \
	"0D 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67" \
	"05 00 00 00 00 00 00 00"
#define HEX_CONFIRM_SOME_42                               \
	"0E 00 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E" \
	"67 05 00 00 00 00 00 00 00 01 00 00 00 2A 00 00" \
	"00 00 00 00 00 2A 00 00 00 00 00 00 00"
#define HEX_INTERMEDIARY_40_41_43                         \
	"0F 00 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E" \
	"67 05 00 00 00 00 00 00 00 02 00 00 00 28 00 00" \
	"00 00 00 00 00 29 00 00 00 00 00 00 00 2B 00 00" \
	"00 00 00 00 00 2B 00 00 00 00 00 00 00"

/* ---- tests ---- */

static void
test_client_connect_burst(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *name = g_strdup_printf("demo;%s", msb_client_get_version());
	g_autoptr(GString) greeting = g_string_new("02");
	MsbClient *client;
	FakeConn *c;

	events_init(&ev);
	client = client_new(broker, &ev);
	g_assert_false(msb_client_is_connected(client));
	g_assert_true(msb_client_create_topic(client, "orders", &error));
	g_assert_no_error(error);
	g_assert_true(msb_client_create_topic(client, "orders", &error)); /* remembered once */
	g_assert_true(msb_client_subscribe(client, "orders", "billing", MSB_CLIENT_QUEUE_PERMANENT,
	                                   on_delivery, &ev, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(msb_client_is_connected(client));
	g_assert_cmpuint(ev.connected, ==, 1);

	WAIT_FOR(broker->conns->len == 1 && fake_conn(broker, 0)->packets->len >= 4);
	c = fake_conn(broker, 0);
	g_assert_cmpuint(c->packets->len, ==, 4);
	g_string_append_printf(greeting, " %02X", (guint)strlen(name));
	for (const gchar *p = name; *p != '\0'; p++)
		g_string_append_printf(greeting, " %02X", (guint8)*p);
	g_string_append(greeting, " 03 00 00 00");
	assert_bytes_hex(fake_packet(c, 0)->raw, greeting->str);
	g_assert_cmpstr(fake_packet(c, 0)->topic, ==, name);
	assert_bytes_hex(fake_packet(c, 1)->raw, "0B 01 07 01 00 00 00");
	assert_bytes_hex(fake_packet(c, 2)->raw, "09 06 6F 72 64 65 72 73");
	assert_bytes_hex(fake_packet(c, 3)->raw, HEX_SUBSCRIBE);
	/* one burst: everything arrived in the first read */
	for (guint i = 0; i < 4; i++)
		g_assert_cmpuint(fake_packet(c, i)->read_no, ==, 1);

	/* a subscription and a topic added while connected are sent at once */
	g_assert_true(msb_client_subscribe(client, "orders", "audit",
	                                   MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT, on_delivery, &ev,
	                                   NULL, &error));
	g_assert_true(msb_client_create_topic(client, "invoices", &error));
	WAIT_FOR(c->packets->len == 6);
	assert_bytes_hex(fake_packet(c, 4)->raw, "05 06 6F 72 64 65 72 73 05 61 75 64 69 74 01");
	g_assert_cmpstr(fake_packet(c, 5)->topic, ==, "invoices");

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_publish_matched(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	g_autoptr(GError) error = NULL;
	MsbClient *client;
	FakeConn *c;
	PubResult r[4] = {0};
	MsbBuf answers;

	events_init(&ev);
	client = client_new(broker, &ev);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	pub_completions = 0;
	msb_client_publish_async(client, "orders", example_messages, 2, FALSE, NULL, publish_cb,
	                         &r[0]);
	publish_one(client, "orders", "second", &r[1]);
	publish_one(client, "orders", "third", &r[2]);
	msb_client_publish_async(client, "orders", NULL, 0, TRUE, NULL, publish_cb, &r[3]);
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, 4);

	WAIT_FOR(fake_conn(broker, 0)->packets->len >= 2 + 4);
	c = fake_conn(broker, 0);
	assert_bytes_hex(fake_packet(c, 2)->raw, HEX_PUBLISH_P3);
	for (guint i = 0; i < 4; i++) {
		FakePacket *p = fake_packet(c, 2 + i);
		g_assert_cmpint(p->id, ==, MSB_PACKET_PUBLISH);
		g_assert_cmpint(p->request_id, ==, i + 1);
		g_assert_cmpstr(p->topic, ==, "orders");
	}
	/* made in one main-loop iteration, written in one send */
	for (guint i = 1; i < 4; i++)
		g_assert_cmpuint(fake_packet(c, 2 + i)->read_no, ==, fake_packet(c, 2)->read_no);
	g_assert_false(fake_packet(c, 3)->persist);
	g_assert_true(fake_packet(c, 5)->persist);
	g_assert_cmpuint(fake_packet(c, 5)->n_messages, ==, 0);

	/* answers out of order, in one write */
	msb_buf_init(&answers, 0);
	msb_wire_put_publish_response(&answers, 3);
	msb_wire_put_publish_response(&answers, 1);
	msb_wire_put_publish_response(&answers, 4);
	msb_wire_put_publish_response(&answers, 2);
	msb_wire_put_publish_response(&answers, 99); /* unknown: ignored */
	fake_conn_send_buf(c, &answers);
	msb_buf_clear(&answers);
	WAIT_FOR(r[0].done && r[1].done && r[2].done && r[3].done);
	for (guint i = 0; i < 4; i++)
		g_assert_no_error(r[i].error);
	g_assert_cmpuint(r[2].order, ==, 1);
	g_assert_cmpuint(r[0].order, ==, 2);
	g_assert_cmpuint(r[3].order, ==, 3);
	g_assert_cmpuint(r[1].order, ==, 4);
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, 0);
	g_assert_true(msb_client_is_connected(client));

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

#define MANY_PUBLISHES    2000
#define MANY_PER_PUBLISH  100
#define MANY_CONTENT_SIZE 100

static void
test_client_many_in_flight(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	g_autoptr(GError) error = NULL;
	g_autofree PubResult *r = g_new0(PubResult, MANY_PUBLISHES);
	g_autofree MsbMessage *msgs = g_new0(MsbMessage, MANY_PER_PUBLISH);
	guint8 content[MANY_CONTENT_SIZE];
	MsbClient *client;
	FakeConn *c;
	MsbBuf answers;
	guint n_done = 0;

	memset(content, 'x', sizeof(content));
	for (guint i = 0; i < MANY_PER_PUBLISH; i++) {
		msgs[i].content = content;
		msgs[i].content_len = sizeof(content);
	}
	events_init(&ev);
	client = client_new(broker, &ev);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	for (guint i = 0; i < MANY_PUBLISHES; i++)
		msb_client_publish_async(client, "orders", msgs, MANY_PER_PUBLISH, FALSE, NULL,
		                         publish_cb, &r[i]);
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, MANY_PUBLISHES);

	WAIT_FOR(fake_count(fake_conn(broker, 0), MSB_PACKET_PUBLISH) == MANY_PUBLISHES);
	c = fake_conn(broker, 0);
	for (guint i = 0; i < MANY_PUBLISHES; i++) {
		FakePacket *p = fake_packet(c, 2 + i);
		g_assert_cmpint(p->request_id, ==, i + 1);
		g_assert_cmpuint(p->n_messages, ==, MANY_PER_PUBLISH);
	}

	msb_buf_init(&answers, 0);
	for (guint i = MANY_PUBLISHES; i > 0; i--)
		msb_wire_put_publish_response(&answers, i);
	fake_conn_send_buf(c, &answers);
	msb_buf_clear(&answers);
	WAIT_FOR(msb_client_get_pending_publishes(client) == 0);
	drain();
	for (guint i = 0; i < MANY_PUBLISHES; i++) {
		g_assert_true(r[i].done);
		g_assert_no_error(r[i].error);
		n_done++;
	}
	g_assert_cmpuint(n_done, ==, MANY_PUBLISHES);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_reject(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	g_autoptr(GError) error = NULL;
	MsbClient *client;
	FakeConn *c;
	PubResult r[3] = {0};

	events_init(&ev);
	client = client_new(broker, &ev);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	for (guint i = 0; i < 3; i++)
		publish_one(client, "orders", "m", &r[i]);
	WAIT_FOR(fake_conn(broker, 0)->packets->len == 2 + 3);
	c = fake_conn(broker, 0);

	/* a publish Reject fails the oldest pending publish */
	fake_conn_send_hex(c, "0C 24 54 6F 70 69 63 4E 6F 74 46 6F 75 6E 64 20"
	                      "7B 20 74 6F 70 69 63 5F 69 64 3A 20 22 6F 72 64"
	                      "65 72 73 22 20 7D");
	WAIT_FOR(r[0].done);
	g_assert_error(r[0].error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED);
	g_assert_cmpstr(r[0].error->message, ==, "TopicNotFound { topic_id: \"orders\" }");
	g_assert_cmpuint(ev.rejected->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(ev.rejected, 0), ==,
	                "TopicNotFound { topic_id: \"orders\" }");
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, 2);

	/* a non-publish Reject only goes to the signal */
	fake_conn_send_reject(c, "Subscribe failed: topic \"nope\" does not exist");
	fake_conn_send_reject(c, "Confirm failed: queue \"q\" not found");
	WAIT_FOR(ev.rejected->len == 3);
	g_assert_cmpstr(g_ptr_array_index(ev.rejected, 1), ==,
	                "Subscribe failed: topic \"nope\" does not exist");
	g_assert_false(r[1].done);
	g_assert_false(r[2].done);
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, 2);

	fake_conn_send_publish_response(c, 2);
	fake_conn_send_reject(c, "ShuttingDown");
	WAIT_FOR(r[1].done && r[2].done);
	g_assert_no_error(r[1].error);
	g_assert_error(r[2].error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED);
	g_assert_cmpstr(r[2].error->message, ==, "ShuttingDown");
	g_assert_cmpuint(ev.rejected->len, ==, 4);

	/* with nothing pending a Reject is just a signal */
	fake_conn_send_reject(c, "ShuttingDown");
	WAIT_FOR(ev.rejected->len == 5);
	g_assert_true(msb_client_is_connected(client));

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_disconnect_fails_pending(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	g_autoptr(GError) error = NULL;
	MsbClient *client;
	PubResult r[3] = {0};

	events_init(&ev);
	client = client_new(broker, &ev);
	msb_client_set_auto_reconnect(client, FALSE);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	publish_one(client, "orders", "a", &r[0]);
	publish_one(client, "orders", "b", &r[1]);
	WAIT_FOR(fake_conn(broker, 0)->packets->len == 4);
	fake_conn_close(fake_conn(broker, 0));
	WAIT_FOR(r[0].done && r[1].done);
	g_assert_error(r[0].error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_DISCONNECTED);
	g_assert_error(r[1].error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_DISCONNECTED);
	WAIT_FOR(ev.disconnected == 1);
	g_assert_nonnull(ev.disconnect_error);
	g_assert_false(msb_client_is_connected(client));
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, 0);

	/* not connected and not connecting */
	publish_one(client, "orders", "c", &r[2]);
	WAIT_FOR(r[2].done);
	g_assert_error(r[2].error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_NOT_CONNECTED);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_close(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	g_autoptr(GError) error = NULL;
	MsbClient *client;
	PubResult r = {0};

	events_init(&ev);
	client = client_new(broker, &ev);
	msb_client_set_reconnect_delay(client, 20);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	publish_one(client, "orders", "a", &r);
	msb_client_close(client);
	WAIT_FOR(r.done);
	g_assert_error(r.error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_DISCONNECTED);
	g_assert_cmpuint(ev.disconnected, ==, 1);
	g_assert_false(msb_client_is_connected(client));
	/* what was buffered went out before the close, and no reconnect follows */
	WAIT_FOR(fake_conn(broker, 0)->eof);
	g_assert_nonnull(fake_find(fake_conn(broker, 0), MSB_PACKET_PUBLISH, 0));
	spin(100);
	g_assert_cmpuint(broker->conns->len, ==, 1);

	/* connecting again after close works */
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	g_assert_no_error(error);
	WAIT_FOR(broker->conns->len == 2);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_ping(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	g_autoptr(GError) error = NULL;
	MsbClient *client;
	FakeConn *c;

	events_init(&ev);
	client = client_new(broker, &ev);
	msb_client_set_ping_interval(client, 40);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	WAIT_FOR(fake_conn(broker, 0)->packets->len > 2 &&
	         fake_count(fake_conn(broker, 0), MSB_PACKET_PING) >= 5);
	c = fake_conn(broker, 0);
	assert_bytes_hex(fake_find(c, MSB_PACKET_PING, 0)->raw, "00");
	/* > 3 intervals passed, but the Pongs kept the link alive */
	g_assert_true(msb_client_is_connected(client));
	g_assert_cmpuint(ev.disconnected, ==, 0);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_dead_link_reconnect(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	g_autoptr(GError) error = NULL;
	MsbClient *client;
	FakeConn *c;
	gint64 start;

	events_init(&ev);
	broker->silent = TRUE;
	client = client_new(broker, &ev);
	msb_client_set_ping_interval(client, 50);
	msb_client_set_reconnect_delay(client, 50);
	g_assert_true(msb_client_create_topic(client, "orders", &error));
	g_assert_true(msb_client_subscribe(client, "orders", "billing", MSB_CLIENT_QUEUE_PERMANENT,
	                                   on_delivery, &ev, NULL, &error));
	start = g_get_monotonic_time();
	g_assert_true(msb_client_connect_sync(client, NULL, &error));

	WAIT_FOR(ev.disconnected == 1);
	g_assert_error(ev.disconnect_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
	/* three silent intervals, not fewer */
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 150 * 1000);
	WAIT_FOR(fake_conn(broker, 0)->eof);
	g_assert_cmpuint(fake_count(fake_conn(broker, 0), MSB_PACKET_PING), >=, 2);

	/* reconnected: topics and subscriptions again */
	WAIT_FOR(broker->conns->len == 2 && fake_conn(broker, 1)->packets->len >= 4);
	c = fake_conn(broker, 1);
	g_assert_cmpint(fake_packet(c, 0)->id, ==, MSB_PACKET_GREETING);
	g_assert_cmpint(fake_packet(c, 1)->id, ==, MSB_PACKET_PACKET_VERSIONS);
	assert_bytes_hex(fake_packet(c, 2)->raw, "09 06 6F 72 64 65 72 73");
	assert_bytes_hex(fake_packet(c, 3)->raw, HEX_SUBSCRIBE);
	WAIT_FOR(ev.connected == 2);
	g_assert_true(msb_client_is_connected(client));

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static MsbClient *
client_subscribed(FakeBroker *broker, Events *ev, gint32 protocol)
{
	g_autoptr(GError) error = NULL;
	MsbClient *client = client_new(broker, ev);

	if (protocol != 0)
		msb_client_set_protocol_version(client, protocol);
	g_assert_true(msb_client_subscribe(client, "orders", "billing", MSB_CLIENT_QUEUE_PERMANENT,
	                                   on_delivery, ev, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	g_assert_no_error(error);
	WAIT_FOR(broker->conns->len == 1 && fake_conn(broker, 0)->packets->len == 3);
	return client;
}

static void
test_client_delivery(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	MsbClient *client;
	FakeConn *c;
	MsbDelivery *d;
	const MsbReceivedMessage *m;
	const gint64 some[] = {42};
	const gint64 inter[] = {43, 40, 41, 40};
	PubResult r = {0};
	guint n;

	events_init(&ev);
	ev.keep_deliveries = TRUE;
	client = client_subscribed(broker, &ev, 0);
	c = fake_conn(broker, 0);

	/* four copies of the §11.6 batch, the first split across two writes */
	fake_conn_send_hex(c, "07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69");
	spin(20);
	g_assert_cmpuint(ev.n_deliveries, ==, 0);
	fake_conn_send_hex(c, "6E 67"
	                      "05 00 00 00 00 00 00 00 01 00 00 00 2A 00 00 00"
	                      "00 00 00 00 00 00 00 00 01 08 74 72 61 63 65 2D"
	                      "69 64 03 61 62 63 02 00 00 00 68 69");
	for (guint i = 0; i < 3; i++)
		fake_conn_send_hex(c, HEX_NEW_MESSAGES_P3);
	WAIT_FOR(ev.n_deliveries == 4);

	d = g_ptr_array_index(ev.deliveries, 0);
	g_assert_cmpstr(msb_delivery_get_topic(d), ==, "orders");
	g_assert_cmpstr(msb_delivery_get_queue(d), ==, "billing");
	g_assert_cmpint(msb_delivery_get_confirmation_id(d), ==, 5);
	g_assert_cmpuint(msb_delivery_get_n_messages(d), ==, 1);
	m = msb_delivery_get_message(d, 0);
	g_assert_cmpint(m->id, ==, 42);
	g_assert_cmpint(m->attempt, ==, 0);
	g_assert_cmpmem(m->content, m->content_len, "hi", 2);
	g_assert_cmpuint(m->n_headers, ==, 1);
	g_assert_cmpstr(m->headers[0].key, ==, "trace-id");
	g_assert_cmpstr(m->headers[0].value, ==, "abc");
	g_assert_false(msb_delivery_is_confirmed(d));

	/* 8, and only the first final confirmation counts */
	msb_delivery_confirm_all(d);
	g_assert_true(msb_delivery_is_confirmed(d));
	msb_delivery_fail_all(d);
	msb_delivery_confirm_some(d, some, 1);
	msb_delivery_confirm_intermediary(d, some, 1);
	/* 13 */
	msb_delivery_fail_all(g_ptr_array_index(ev.deliveries, 1));
	/* 14 */
	msb_delivery_confirm_some(g_ptr_array_index(ev.deliveries, 2), some, 1);
	/* 15 twice (sorted, merged), then a final 8 */
	d = g_ptr_array_index(ev.deliveries, 3);
	msb_delivery_confirm_intermediary(d, inter, G_N_ELEMENTS(inter));
	msb_delivery_confirm_intermediary(d, inter, G_N_ELEMENTS(inter));
	g_assert_false(msb_delivery_is_confirmed(d));
	msb_delivery_confirm_all(d);
	/* a marker: nothing else may be sent before it */
	publish_one(client, "orders", "marker", &r);

	n = 3;
	WAIT_FOR(fake_find(c, MSB_PACKET_PUBLISH, n) != NULL);
	g_assert_cmpuint(c->packets->len, ==, n + 7);
	assert_bytes_hex(fake_packet(c, n + 0)->raw, HEX_CONFIRM_ALL);
	assert_bytes_hex(fake_packet(c, n + 1)->raw, HEX_FAIL_ALL);
	assert_bytes_hex(fake_packet(c, n + 2)->raw, HEX_CONFIRM_SOME_42);
	assert_bytes_hex(fake_packet(c, n + 3)->raw, HEX_INTERMEDIARY_40_41_43);
	assert_bytes_hex(fake_packet(c, n + 4)->raw, HEX_INTERMEDIARY_40_41_43);
	assert_bytes_hex(fake_packet(c, n + 5)->raw, HEX_CONFIRM_ALL);

	/* releasing confirmed deliveries sends nothing more */
	g_ptr_array_set_size(ev.deliveries, 0);
	fake_conn_send_publish_response(c, 1);
	WAIT_FOR(r.done);
	g_assert_no_error(r.error);
	g_assert_cmpuint(c->packets->len, ==, n + 7);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_delivery_many_messages(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	MsbClient *client;
	FakeConn *c;
	MsbDelivery *d;
	const MsbReceivedMessage *m;
	const MsbWireHeader hdrs[] = {{"a", "1"}, {"key-two", ""}};
	g_autofree guint8 *big = g_malloc(600 * 1024);
	MsbBuf hb;
	MsbBuf pkt;
	gsize count_at = 0;

	memset(big, 0xab, 600 * 1024);
	events_init(&ev);
	ev.keep_deliveries = TRUE;
	client = client_subscribed(broker, &ev, 0);
	c = fake_conn(broker, 0);

	/* headers / no headers / empty content / a message bigger than one read chunk */
	msb_buf_init(&hb, 0);
	msb_buf_init(&pkt, 0);
	g_assert_true(msb_wire_put_headers(&hb, hdrs, 2, NULL));
	g_assert_true(msb_wire_new_messages_begin(&pkt, "orders", "billing", 7, &count_at, NULL));
	msb_wire_new_messages_add(&pkt, 3, 1, 100, 2, hb.data, hb.len, (const guint8 *)"x", 1);
	msb_wire_new_messages_add(&pkt, 3, 1, 101, 0, NULL, 0, (const guint8 *)"yz", 2);
	msb_wire_new_messages_add(&pkt, 3, 1, 102, 0, NULL, 0, NULL, 0);
	msb_wire_new_messages_add(&pkt, 3, 1, 103, 1, NULL, 0, big, 600 * 1024);
	msb_wire_new_messages_end(&pkt, count_at, 4);
	fake_conn_send_buf(c, &pkt);
	msb_buf_clear(&pkt);
	msb_buf_clear(&hb);
	WAIT_FOR(ev.n_deliveries == 1);

	d = g_ptr_array_index(ev.deliveries, 0);
	g_assert_cmpint(msb_delivery_get_confirmation_id(d), ==, 7);
	g_assert_cmpuint(msb_delivery_get_n_messages(d), ==, 4);
	m = msb_delivery_get_message(d, 0);
	g_assert_cmpint(m->id, ==, 100);
	g_assert_cmpint(m->attempt, ==, 2);
	g_assert_cmpuint(m->n_headers, ==, 2);
	g_assert_cmpstr(m->headers[0].key, ==, "a");
	g_assert_cmpstr(m->headers[0].value, ==, "1");
	g_assert_cmpstr(m->headers[1].key, ==, "key-two");
	g_assert_cmpstr(m->headers[1].value, ==, "");
	g_assert_cmpmem(m->content, m->content_len, "x", 1);
	m = msb_delivery_get_message(d, 1);
	g_assert_cmpint(m->id, ==, 101);
	g_assert_cmpuint(m->n_headers, ==, 0);
	g_assert_null(m->headers);
	g_assert_cmpmem(m->content, m->content_len, "yz", 2);
	m = msb_delivery_get_message(d, 2);
	g_assert_cmpuint(m->content_len, ==, 0);
	g_assert_nonnull(m->content);
	m = msb_delivery_get_message(d, 3);
	g_assert_cmpint(m->attempt, ==, 1);
	g_assert_cmpmem(m->content, m->content_len, big, 600 * 1024);

	/* confirm_some: ids → sorted, merged ranges (100-101, 103) */
	{
		const gint64 ids[] = {103, 101, 100, 101};
		FakePacket *p;
		msb_delivery_confirm_some(d, ids, G_N_ELEMENTS(ids));
		WAIT_FOR(fake_find(c, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, 0) != NULL);
		p = fake_find(c, MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK, 0);
		assert_bytes_hex(p->raw, "0E 00 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67"
		                         "07 00 00 00 00 00 00 00 02 00 00 00"
		                         "64 00 00 00 00 00 00 00 65 00 00 00 00 00 00 00"
		                         "67 00 00 00 00 00 00 00 67 00 00 00 00 00 00 00");
	}

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_delivery_unref_fails(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	MsbClient *client;
	FakeConn *c;

	events_init(&ev);
	client = client_subscribed(broker, &ev, 0);
	c = fake_conn(broker, 0);
	/* the callback neither confirms nor keeps a reference */
	fake_conn_send_hex(c, HEX_NEW_MESSAGES_P3);
	WAIT_FOR(ev.n_deliveries == 1 && c->packets->len == 4);
	assert_bytes_hex(fake_packet(c, 3)->raw, HEX_FAIL_ALL);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_delivery_stale(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	MsbClient *client;
	FakeConn *c;
	PubResult r = {0};

	events_init(&ev);
	ev.keep_deliveries = TRUE;
	client = client_subscribed(broker, &ev, 0);
	msb_client_set_reconnect_delay(client, 20);
	c = fake_conn(broker, 0);
	fake_conn_send_hex(c, HEX_NEW_MESSAGES_P3);
	WAIT_FOR(ev.n_deliveries == 1);

	/* the link drops; the client reconnects and re-subscribes */
	fake_conn_close(c);
	WAIT_FOR(ev.disconnected == 1);
	WAIT_FOR(broker->conns->len == 2 && fake_conn(broker, 1)->packets->len == 3);
	c = fake_conn(broker, 1);
	assert_bytes_hex(fake_packet(c, 2)->raw, HEX_SUBSCRIBE);

	/* a confirmation from the previous link is dropped */
	msb_delivery_confirm_all(g_ptr_array_index(ev.deliveries, 0));
	g_ptr_array_set_size(ev.deliveries, 0);
	publish_one(client, "orders", "marker", &r);
	WAIT_FOR(c->packets->len == 4);
	g_assert_cmpint(fake_packet(c, 3)->id, ==, MSB_PACKET_PUBLISH);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_protocol_2(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	MsbClient *client;
	FakeConn *c;
	MsbDelivery *d;
	const MsbReceivedMessage *m;
	PubResult r = {0};
	const guint8 *raw;
	gsize len = 0;

	events_init(&ev);
	ev.keep_deliveries = TRUE;
	client = client_subscribed(broker, &ev, 2);
	c = fake_conn(broker, 0);
	raw = g_bytes_get_data(fake_packet(c, 0)->raw, &len);
	g_assert_cmpmem(raw + len - 4, 4, "\x02\x00\x00\x00", 4);
	assert_bytes_hex(fake_packet(c, 1)->raw, "0B 01 07 01 00 00 00");

	/* headers cannot travel with P = 2 */
	msb_client_publish_async(client, "orders", example_messages, 2, FALSE, NULL, publish_cb,
	                         &r);
	WAIT_FOR(c->packets->len == 4);
	assert_bytes_hex(fake_packet(c, 3)->raw, HEX_PUBLISH_P2);

	/* the P = 2, V7 = 1 NewMessages layout: attempt, no headers */
	fake_conn_send_hex(c, HEX_NEW_MESSAGES_P2);
	WAIT_FOR(ev.n_deliveries == 1);
	d = g_ptr_array_index(ev.deliveries, 0);
	m = msb_delivery_get_message(d, 0);
	g_assert_cmpint(m->id, ==, 42);
	g_assert_cmpint(m->attempt, ==, 0);
	g_assert_cmpuint(m->n_headers, ==, 0);
	g_assert_cmpmem(m->content, m->content_len, "hi", 2);
	msb_delivery_confirm_all(d);
	WAIT_FOR(c->packets->len == 5);
	assert_bytes_hex(fake_packet(c, 4)->raw, HEX_CONFIRM_ALL);

	g_ptr_array_set_size(ev.deliveries, 0);
	client_free(client, &ev);
	WAIT_FOR(r.done);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_unix_socket(void)
{
	FakeBroker *broker = fake_broker_new_full(TRUE);
	Events ev;
	g_autoptr(GError) error = NULL;
	MsbClient *client;

	events_init(&ev);
	broker->auto_ack = TRUE;
	client = client_new(broker, &ev);
	g_assert_true(g_str_has_prefix(msb_client_get_address(client), "unix:/"));
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(msb_client_publish_sync(client, "orders", example_messages, 2, FALSE, NULL,
	                                      &error));
	g_assert_no_error(error);
	assert_bytes_hex(fake_find(fake_conn(broker, 0), MSB_PACKET_PUBLISH, 0)->raw,
	                 HEX_PUBLISH_P3);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_queued_while_connecting(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	MsbClient *client;
	FakeConn *c;
	PubResult r = {0};
	g_autoptr(GError) error = NULL;

	events_init(&ev);
	broker->auto_ack = TRUE;
	client = client_new(broker, &ev);
	msb_client_connect_async(client, NULL, NULL, NULL);
	g_assert_false(msb_client_is_connected(client));
	publish_one(client, "orders", "early", &r);
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, 1);
	/* a subscription made while connecting goes into the burst */
	g_assert_true(msb_client_subscribe(client, "orders", "billing", MSB_CLIENT_QUEUE_PERMANENT,
	                                   on_delivery, &ev, NULL, &error));
	WAIT_FOR(r.done);
	g_assert_no_error(r.error);
	c = fake_conn(broker, 0);
	g_assert_cmpuint(c->packets->len, ==, 4);
	g_assert_cmpint(fake_packet(c, 0)->id, ==, MSB_PACKET_GREETING);
	g_assert_cmpint(fake_packet(c, 1)->id, ==, MSB_PACKET_PACKET_VERSIONS);
	g_assert_cmpint(fake_packet(c, 2)->id, ==, MSB_PACKET_SUBSCRIBE);
	g_assert_cmpint(fake_packet(c, 3)->id, ==, MSB_PACKET_PUBLISH);
	g_assert_cmpint(fake_packet(c, 3)->request_id, ==, 1);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_connect_failure(void)
{
	FakeBroker *broker = fake_broker_new();
	g_autofree gchar *address = g_strdup(broker->address);
	g_autoptr(MsbClient) client = NULL;
	g_autoptr(GError) error = NULL;
	PubResult r = {0};

	/* nobody listens there any more */
	fake_broker_free(broker);
	client = msb_client_new(address, NULL);
	msb_client_set_auto_reconnect(client, FALSE);
	msb_client_connect_async(client, NULL, NULL, NULL);
	publish_one(client, "orders", "queued", &r);
	g_assert_false(msb_client_connect_sync(client, NULL, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, address));
	WAIT_FOR(r.done);
	g_assert_error(r.error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_NOT_CONNECTED);
	g_clear_error(&error);

	/* a malformed address */
	g_clear_object(&client);
	client = msb_client_new("unix:", NULL);
	g_assert_false(msb_client_connect_sync(client, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_object(&client);
	drain();
}

static void
expect_invalid(MsbClient *client, const gchar *topic, const MsbMessage *msgs, guint n)
{
	PubResult r = {0};
	msb_client_publish_async(client, topic, msgs, n, FALSE, NULL, publish_cb, &r);
	WAIT_FOR(r.done);
	g_assert_error(r.error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT);
	g_clear_error(&r.error);
}

static void
test_client_invalid_arguments(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	MsbClient *client;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *long_name = g_strnfill(256, 'a');
	g_autofree gchar *max_name = g_strnfill(255, 'a');
	const MsbHeader long_header[] = {{long_name, "v"}};
	const MsbHeader bad_header[] = {{"k", "\xff"}};
	const MsbMessage long_header_msg[] = {{(const guint8 *)"x", 1, long_header, 1}};
	const MsbMessage bad_header_msg[] = {{(const guint8 *)"x", 1, bad_header, 1}};
	const MsbMessage null_content[] = {{NULL, 5, NULL, 0}};
	PubResult r = {0};

	events_init(&ev);
	broker->auto_ack = TRUE;
	client = client_new(broker, &ev);

	/* not connected, not connecting */
	publish_one(client, "orders", "x", &r);
	WAIT_FOR(r.done);
	g_assert_error(r.error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_NOT_CONNECTED);
	g_clear_error(&r.error);

	g_assert_false(msb_client_create_topic(client, long_name, &error));
	g_assert_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(msb_client_create_topic(client, "", &error));
	g_assert_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(msb_client_subscribe(client, "orders", "\xc3\x28", 0, on_delivery, &ev, NULL,
	                                    &error));
	g_assert_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(
	        msb_client_subscribe(client, "orders", "q", 7, on_delivery, &ev, NULL, &error));
	g_assert_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_true(
	        msb_client_subscribe(client, "orders", "q", 0, on_delivery, &ev, NULL, &error));
	g_assert_false(
	        msb_client_subscribe(client, "orders", "q", 1, on_delivery, &ev, NULL, &error));
	g_assert_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	expect_invalid(client, long_name, example_messages, 1);
	expect_invalid(client, "", example_messages, 1);
	expect_invalid(client, "\xff", example_messages, 1);
	expect_invalid(client, "orders", long_header_msg, 1);
	expect_invalid(client, "orders", bad_header_msg, 1);
	expect_invalid(client, "orders", null_content, 1);
	/* 255 bytes is fine, and nothing invalid reached the wire */
	g_assert_true(msb_client_publish_sync(client, max_name, example_messages, 2, FALSE, NULL,
	                                      &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fake_count(fake_conn(broker, 0), MSB_PACKET_PUBLISH), ==, 1);
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, 0);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

static void
test_client_cancel(void)
{
	FakeBroker *broker = fake_broker_new();
	Events ev;
	MsbClient *client;
	g_autoptr(GError) error = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	MsbMessage m = {(const guint8 *)"x", 1, NULL, 0};
	PubResult r[2] = {0};
	FakeConn *c;

	events_init(&ev);
	client = client_new(broker, &ev);
	g_assert_true(msb_client_connect_sync(client, NULL, &error));
	msb_client_publish_async(client, "orders", &m, 1, FALSE, cancellable, publish_cb, &r[0]);
	publish_one(client, "orders", "y", &r[1]);
	WAIT_FOR(fake_conn(broker, 0)->packets->len == 4);
	c = fake_conn(broker, 0);
	g_cancellable_cancel(cancellable);
	WAIT_FOR(r[0].done);
	g_assert_error(r[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	/* the cancelled publish still takes its place in the Reject order */
	fake_conn_send_reject(c, "TopicNotFound");
	fake_conn_send_publish_response(c, 2);
	WAIT_FOR(r[1].done);
	g_assert_no_error(r[1].error);
	g_assert_cmpuint(msb_client_get_pending_publishes(client), ==, 0);

	client_free(client, &ev);
	fake_broker_free(broker);
	events_clear(&ev);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/client/connect-burst", test_client_connect_burst);
	g_test_add_func("/client/publish-matched", test_client_publish_matched);
	g_test_add_func("/client/many-in-flight", test_client_many_in_flight);
	g_test_add_func("/client/reject", test_client_reject);
	g_test_add_func("/client/disconnect-fails-pending", test_client_disconnect_fails_pending);
	g_test_add_func("/client/close", test_client_close);
	g_test_add_func("/client/ping", test_client_ping);
	g_test_add_func("/client/dead-link-reconnect", test_client_dead_link_reconnect);
	g_test_add_func("/client/delivery", test_client_delivery);
	g_test_add_func("/client/delivery-many-messages", test_client_delivery_many_messages);
	g_test_add_func("/client/delivery-unref-fails", test_client_delivery_unref_fails);
	g_test_add_func("/client/delivery-stale", test_client_delivery_stale);
	g_test_add_func("/client/protocol-2", test_client_protocol_2);
	g_test_add_func("/client/unix-socket", test_client_unix_socket);
	g_test_add_func("/client/queued-while-connecting", test_client_queued_while_connecting);
	g_test_add_func("/client/connect-failure", test_client_connect_failure);
	g_test_add_func("/client/invalid-arguments", test_client_invalid_arguments);
	g_test_add_func("/client/cancel", test_client_cancel);
	return g_test_run();
}
