/*
 * The MsbBroker test harness (see broker-fixture.h).
 */
#include "broker-fixture.h"

#include <string.h>

#include "msb-session.h"
#include "msb-topic.h"

static void
cb_output_ready(MsbSession *session, gpointer user_data)
{
	Fixture *fx = user_data;
	Client *c = msb_session_get_user_data(session);

	g_assert_true(c->session == session);
	c->notified = TRUE;
	fx->outputs++;
}

static void
cb_disconnect(MsbSession *session, const gchar *reason, gpointer user_data)
{
	Fixture *fx = user_data;

	g_ptr_array_add(fx->disconnects, session);
	g_ptr_array_add(fx->reasons, g_strdup(reason));
	if (fx->close_in_callback) {
		Client *c = msb_session_get_user_data(session);
		g_assert_true(c->session == session);
		msb_broker_session_close(fx->broker, session);
		c->session = NULL;
	}
}

static gint64
cb_now_monotonic(gpointer user_data)
{
	Fixture *fx = user_data;
	return fx->mono;
}

static gint64
cb_now_wall(gpointer user_data)
{
	Fixture *fx = user_data;
	return fx->wall;
}

static void
cb_save_wanted(gpointer user_data)
{
	Fixture *fx = user_data;
	fx->save_wanted++;
}

static void
cb_load_sub_page(MsbTopic *topic, gint64 sub_page_no, gpointer user_data)
{
	Fixture *fx = user_data;
	LoadRequest req = {topic, sub_page_no};

	g_array_append_val(fx->loads, req);
}

static void
cb_snapshot_wanted(gpointer user_data)
{
	Fixture *fx = user_data;
	fx->snapshot_wanted++;
}

static void
cb_delete_topic(const gchar *topic, gint64 delete_after_us, gpointer user_data)
{
	Fixture *fx = user_data;

	g_assert_cmpint(delete_after_us, >, 0);
	g_ptr_array_add(fx->deletes, g_strdup(topic));
}

MsbBrokerConfig
default_config(void)
{
	MsbBrokerConfig config = {
	        .max_delivery_size = 4 * 1024 * 1024,
	        .delivery_timeout_us = 30 * SEC,
	        .queue_gc_timeout_us = 20 * SEC,
	        .auto_create_topic_on_publish = FALSE,
	        .auto_create_topic_on_subscribe = FALSE,
	        .send_buffer_size = 1024 * 1024,
	};
	return config;
}

static void
client_free(Client *c)
{
	msb_wire_decoder_clear(&c->dec);
	msb_wire_decoder_clear(&c->sdec);
	g_free(c);
}

Fixture *
fixture_new_with(const MsbBrokerConfig *config)
{
	Fixture *fx = g_new0(Fixture, 1);
	MsbBrokerCallbacks callbacks = {
	        .output_ready = cb_output_ready,
	        .disconnect = cb_disconnect,
	        .now_monotonic = cb_now_monotonic,
	        .now_wall = cb_now_wall,
	        .save_wanted = cb_save_wanted,
	        .load_sub_page = cb_load_sub_page,
	        .snapshot_wanted = cb_snapshot_wanted,
	        .delete_topic = cb_delete_topic,
	};

	/* not 0, so that "time 0" is never confused with "unset" */
	fx->mono = 1000 * SEC;
	fx->wall = G_GINT64_CONSTANT(1700000000) * SEC;
	fx->disconnects = g_ptr_array_new();
	fx->reasons = g_ptr_array_new_with_free_func(g_free);
	fx->clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
	fx->loads = g_array_new(FALSE, FALSE, sizeof(LoadRequest));
	fx->deletes = g_ptr_array_new_with_free_func(g_free);
	fx->broker = msb_broker_new(config, &callbacks, fx);
	g_assert_nonnull(fx->broker);
	return fx;
}

Fixture *
fixture_new(void)
{
	MsbBrokerConfig config = default_config();
	return fixture_new_with(&config);
}

void
fixture_free(Fixture *fx)
{
	msb_broker_free(fx->broker);
	g_ptr_array_unref(fx->clients);
	g_ptr_array_unref(fx->disconnects);
	g_ptr_array_unref(fx->reasons);
	g_array_unref(fx->loads);
	g_ptr_array_unref(fx->deletes);
	g_free(fx);
}

void
fixture_save_snapshot(Fixture *fx)
{
	g_autoptr(GPtrArray) snaps = msb_broker_build_snapshot(fx->broker, FALSE);

	msb_broker_snapshot_saved(fx->broker, snaps);
}

/* A connection that has not sent anything yet. */
Client *
client_new_raw(Fixture *fx)
{
	Client *c = g_new0(Client, 1);

	c->fx = fx;
	c->session = msb_broker_session_new(fx->broker, MSB_SESSION_KIND_TCP, "127.0.0.1:40000", c);
	g_assert_nonnull(c->session);
	msb_wire_decoder_init(&c->dec, 0);
	msb_wire_decoder_init(&c->sdec, 0);
	c->next_request_id = 1;
	g_ptr_array_add(fx->clients, c);
	return c;
}

void
client_close(Client *c)
{
	g_assert_nonnull(c->session);
	msb_broker_session_close(c->fx->broker, c->session);
	c->session = NULL;
}

/*
 * Feed every packet in @buf to the broker as the adapter does (decoder kept at the session's P
 * and V7), then run the delivery passes. Returns what handle_packet() returned for the last
 * packet handled; stops at the first FALSE.
 */
gboolean
client_send_buf(Client *c, MsbBuf *buf, GError **error)
{
	gboolean ok = TRUE;

	g_assert_nonnull(c->session);
	while (msb_buf_pending(buf) > 0) {
		MsbPacket packet;
		gsize consumed = 0;
		g_autoptr(GError) error_local = NULL;
		MsbWireDecodeResult res;

		c->sdec.protocol_version = c->session->protocol_version;
		c->sdec.new_messages_version = c->session->new_messages_version;
		res = msb_wire_decode(&c->sdec, msb_buf_head(buf), msb_buf_pending(buf), &packet,
		                      &consumed, &error_local);
		g_assert_no_error(error_local);
		g_assert_cmpint(res, ==, MSB_WIRE_DECODE_OK);
		ok = msb_broker_handle_packet(c->fx->broker, c->session, &packet, error);
		msb_buf_consume(buf, consumed);
		if (!ok)
			break;
	}
	msb_broker_run_deliveries(c->fx->broker);
	return ok;
}

void
client_send(Client *c, MsbBuf *buf)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(client_send_buf(c, buf, &error));
	g_assert_no_error(error);
	msb_buf_clear(buf);
}

void
c_ping(Client *c)
{
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	msb_wire_put_ping(&buf);
	client_send(c, &buf);
}

gboolean
c_greet_full(Client *c, const gchar *name, gint32 version, GError **error)
{
	MsbBuf buf;
	gboolean ok;

	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_greeting(&buf, name, version, NULL));
	ok = client_send_buf(c, &buf, error);
	msb_buf_clear(&buf);
	if (ok)
		c->p = MIN(version, MSB_WIRE_PROTOCOL_MAX);
	return ok;
}

void
c_greet(Client *c, gint32 version)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(c_greet_full(c, "test-app:1.0;1.1.5", version, &error));
	g_assert_no_error(error);
}

void
c_versions(Client *c, gint32 v7)
{
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	msb_wire_put_packet_versions(&buf, v7);
	client_send(c, &buf);
	c->v7 = v7;
}

/* Greeted with protocol @p and, when @v7 is not 0, PacketVersions {7 → v7}; no output. */
Client *
client_new(Fixture *fx, gint32 p, gint32 v7)
{
	Client *c = client_new_raw(fx);

	c_greet(c, p);
	if (v7 != 0)
		c_versions(c, v7);
	g_assert_cmpuint(msb_buf_pending(msb_session_get_output(c->session)), ==, 0);
	return c;
}

void
c_namespace(Client *c, const gchar *name)
{
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_set_namespace(&buf, name, NULL));
	client_send(c, &buf);
}

void
c_create_topic(Client *c, const gchar *topic)
{
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_create_topic(&buf, topic, NULL));
	client_send(c, &buf);
}

void
c_subscribe(Client *c, const gchar *topic, const gchar *queue, guint8 type)
{
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_subscribe(&buf, topic, queue, type, NULL));
	client_send(c, &buf);
}

gint64
c_publish_full(Client *c, const gchar *topic, gint64 request_id, guint n,
               const GBytes *const *headers, const guint8 *const *contents, const gsize *lens,
               gboolean persist_immediately)
{
	MsbBuf buf;
	gsize count_at = 0;

	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_publish_begin(&buf, topic, request_id, &count_at, NULL));
	for (guint i = 0; i < n; i++) {
		gsize hlen = 0;
		const guint8 *h = NULL;
		if (headers != NULL && headers[i] != NULL)
			h = g_bytes_get_data((GBytes *)headers[i], &hlen);
		msb_wire_publish_add(&buf, c->session->protocol_version, h, hlen, contents[i],
		                     lens[i]);
	}
	msb_wire_publish_end(&buf, count_at, n, persist_immediately);
	client_send(c, &buf);
	return request_id;
}

gint64
c_publish_raw(Client *c, const gchar *topic, gint64 request_id, guint n,
              const GBytes *const *headers, const guint8 *const *contents, const gsize *lens)
{
	return c_publish_full(c, topic, request_id, n, headers, contents, lens, FALSE);
}

/* Publish the NULL-terminated strings as messages (no headers); returns the request id. */
gint64
c_publish(Client *c, const gchar *topic, const gchar *const *strs)
{
	guint n = strs != NULL ? g_strv_length((gchar **)strs) : 0;
	g_autofree const guint8 **contents = g_new0(const guint8 *, n + 1);
	g_autofree gsize *lens = g_new0(gsize, n + 1);

	for (guint i = 0; i < n; i++) {
		contents[i] = (const guint8 *)strs[i];
		lens[i] = strlen(strs[i]);
	}
	return c_publish_raw(c, topic, c->next_request_id++, n, NULL, contents, lens);
}

gint64
c_publish1(Client *c, const gchar *topic, const gchar *str)
{
	const gchar *strs[] = {str, NULL};
	return c_publish(c, topic, strs);
}

/* Publish @n messages in one packet, message i of @sizes[i] bytes of 'a' + i % 26. */
gint64
c_publish_sizes(Client *c, const gchar *topic, guint n, const gsize *sizes)
{
	g_autofree const guint8 **contents = g_new0(const guint8 *, n + 1);
	g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < n; i++) {
		guint8 *data = g_malloc(MAX(sizes[i], 1));
		memset(data, 'a' + (gint)(i % 26), sizes[i]);
		g_ptr_array_add(owned, data);
		contents[i] = data;
	}
	return c_publish_raw(c, topic, c->next_request_id++, n, NULL, contents, sizes);
}

/* Publish @n messages of @size bytes in one packet. */
gint64
c_publish_n(Client *c, const gchar *topic, guint n, gsize size)
{
	g_autofree gsize *sizes = g_new0(gsize, n + 1);

	for (guint i = 0; i < n; i++)
		sizes[i] = size;
	return c_publish_sizes(c, topic, n, sizes);
}

void
c_confirm_id(Client *c, MsbPacketId kind, const gchar *topic, const gchar *queue,
             gint64 confirmation_id)
{
	MsbBuf buf;

	g_assert_true(kind == MSB_PACKET_NEW_MESSAGES_CONFIRMATION ||
	              kind == MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL);
	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_confirm(&buf, kind == MSB_PACKET_NEW_MESSAGES_CONFIRMATION,
	                                   topic, queue, confirmation_id, NULL));
	client_send(c, &buf);
}

/* @ranges: n pairs of inclusive (from, to) */
void
c_confirm_ranges_id(Client *c, MsbPacketId kind, const gchar *topic, const gchar *queue,
                    gint64 confirmation_id, const gint64 *ranges, guint n)
{
	MsbBuf buf;
	g_autofree MsbWireRange *wr = g_new0(MsbWireRange, n + 1);

	g_assert_true(kind == MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK ||
	              kind == MSB_PACKET_INTERMEDIARY_CONFIRM);
	for (guint i = 0; i < n; i++) {
		wr[i].from_id = ranges[2 * i];
		wr[i].to_id = ranges[2 * i + 1];
	}
	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_confirm_ids(&buf, kind == MSB_PACKET_INTERMEDIARY_CONFIRM, topic,
	                                       queue, confirmation_id, wr, n, NULL));
	client_send(c, &buf);
}

/* ---- what the client receives ---- */

static void
rx_message_clear(gpointer data)
{
	RxMessage *m = data;

	g_bytes_unref(m->headers);
	g_bytes_unref(m->content);
}

void
rx_packet_free(RxPacket *pkt)
{
	if (pkt == NULL)
		return;
	g_free(pkt->text);
	g_free(pkt->topic);
	g_free(pkt->queue);
	if (pkt->messages != NULL)
		g_array_unref(pkt->messages);
	g_free(pkt);
}

static gchar *
wire_str_dup(const MsbWireStr *s)
{
	return g_strndup(s->str, s->len);
}

/* Decode and consume everything the broker wrote for @c. */
GPtrArray *
c_read(Client *c)
{
	GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)rx_packet_free);
	MsbBuf *out = msb_session_get_output(c->session);

	/* whatever the broker writes, it tells the adapter so */
	if (msb_buf_pending(out) > 0)
		g_assert_true(c->notified);
	c->notified = FALSE;
	c->dec.protocol_version = c->p;
	c->dec.new_messages_version = c->v7;
	while (msb_buf_pending(out) > 0) {
		MsbPacket packet;
		gsize consumed = 0;
		g_autoptr(GError) error = NULL;
		RxPacket *pkt;
		MsbWireDecodeResult res =
		        msb_wire_decode(&c->dec, msb_buf_head(out), msb_buf_pending(out), &packet,
		                        &consumed, &error);

		g_assert_no_error(error);
		g_assert_cmpint(res, ==, MSB_WIRE_DECODE_OK);
		pkt = g_new0(RxPacket, 1);
		pkt->id = packet.id;
		pkt->size = consumed;
		switch (packet.id) {
		case MSB_PACKET_REJECT:
			pkt->text = wire_str_dup(&packet.reject.message);
			break;
		case MSB_PACKET_PUBLISH_RESPONSE:
			pkt->request_id = packet.publish_response.request_id;
			break;
		case MSB_PACKET_NEW_MESSAGES:
			pkt->topic = wire_str_dup(&packet.new_messages.topic);
			pkt->queue = wire_str_dup(&packet.new_messages.queue);
			pkt->confirmation_id = packet.new_messages.confirmation_id;
			pkt->messages = g_array_new(FALSE, TRUE, sizeof(RxMessage));
			g_array_set_clear_func(pkt->messages, rx_message_clear);
			for (guint i = 0; i < packet.new_messages.n_messages; i++) {
				const MsbWireMessage *w = &packet.new_messages.messages[i];
				RxMessage m = {
				        .id = w->id,
				        .attempt = w->attempt,
				        .n_headers = w->n_headers,
				        .headers = g_bytes_new(w->headers, w->headers_len),
				        .content = g_bytes_new(w->content, w->content_len),
				};
				g_array_append_val(pkt->messages, m);
			}
			break;
		case MSB_PACKET_PONG:
			break;
		default:
			g_error("unexpected packet %s from the broker",
			        msb_packet_id_to_string(packet.id));
		}
		g_ptr_array_add(list, pkt);
		msb_buf_consume(out, consumed);
	}
	return list;
}

void
expect_none(Client *c)
{
	g_assert_cmpuint(msb_buf_pending(msb_session_get_output(c->session)), ==, 0);
}

RxPacket *
expect_one(Client *c, MsbPacketId id)
{
	g_autoptr(GPtrArray) list = c_read(c);
	RxPacket *pkt;

	if (list->len != 1) {
		for (guint i = 0; i < list->len; i++) {
			RxPacket *p = g_ptr_array_index(list, i);
			g_printerr("got %s %s\n", msb_packet_id_to_string(p->id),
			           p->text != NULL ? p->text : "");
		}
	}
	g_assert_cmpuint(list->len, ==, 1);
	pkt = g_ptr_array_steal_index(list, 0);
	g_assert_cmpstr(msb_packet_id_to_string(pkt->id), ==, msb_packet_id_to_string(id));
	return pkt;
}

void
expect_pong(Client *c)
{
	g_autoptr(RxPacket) pkt = expect_one(c, MSB_PACKET_PONG);
	g_assert_cmpuint(pkt->size, ==, 1);
}

void
expect_reject(Client *c, const gchar *prefix)
{
	g_autoptr(RxPacket) pkt = expect_one(c, MSB_PACKET_REJECT);

	if (!g_str_has_prefix(pkt->text, prefix))
		g_error("Reject '%s' does not start with '%s'", pkt->text, prefix);
}

void
expect_reject_exact(Client *c, const gchar *text)
{
	g_autoptr(RxPacket) pkt = expect_one(c, MSB_PACKET_REJECT);
	g_assert_cmpstr(pkt->text, ==, text);
}

void
expect_response(Client *c, gint64 request_id)
{
	g_autoptr(RxPacket) pkt = expect_one(c, MSB_PACKET_PUBLISH_RESPONSE);
	g_assert_cmpint(pkt->request_id, ==, request_id);
}

RxPacket *
expect_batch(Client *c, const gchar *topic, const gchar *queue)
{
	RxPacket *pkt = expect_one(c, MSB_PACKET_NEW_MESSAGES);

	g_assert_cmpstr(pkt->topic, ==, topic);
	g_assert_cmpstr(pkt->queue, ==, queue);
	g_assert_cmpuint(pkt->messages->len, >, 0);
	return pkt;
}

RxMessage *
rx_msg(RxPacket *pkt, guint i)
{
	g_assert_cmpuint(i, <, pkt->messages->len);
	return &g_array_index(pkt->messages, RxMessage, i);
}

/* "0-4, 7, 9-10"; also checks that the ids ascend. */
gchar *
batch_ids(RxPacket *pkt)
{
	GString *s = g_string_new(NULL);
	guint i = 0;

	while (i < pkt->messages->len) {
		gint64 from = rx_msg(pkt, i)->id;
		gint64 to = from;
		while (i + 1 < pkt->messages->len && rx_msg(pkt, i + 1)->id == to + 1) {
			i++;
			to++;
		}
		if (i + 1 < pkt->messages->len)
			g_assert_cmpint(rx_msg(pkt, i + 1)->id, >, to);
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

void
assert_ids(RxPacket *pkt, const gchar *expect)
{
	g_autofree gchar *ids = batch_ids(pkt);
	g_assert_cmpstr(ids, ==, expect);
}

void
assert_attempts(RxPacket *pkt, gint32 attempt)
{
	for (guint i = 0; i < pkt->messages->len; i++)
		g_assert_cmpint(rx_msg(pkt, i)->attempt, ==, attempt);
}

void
assert_content(RxMessage *m, const gchar *expect)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(m->content, &len);

	g_assert_cmpmem(data, len, expect, strlen(expect));
}

/* Confirm a received batch with packet 8 or 13. */
void
c_confirm(Client *c, MsbPacketId kind, RxPacket *pkt)
{
	c_confirm_id(c, kind, pkt->topic, pkt->queue, pkt->confirmation_id);
}

void
c_ok(Client *c, RxPacket *pkt)
{
	c_confirm(c, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, pkt);
}

void
c_fail(Client *c, RxPacket *pkt)
{
	c_confirm(c, MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL, pkt);
}

void
c_confirm_ranges(Client *c, MsbPacketId kind, RxPacket *pkt, const gint64 *ranges, guint n)
{
	c_confirm_ranges_id(c, kind, pkt->topic, pkt->queue, pkt->confirmation_id, ranges, n);
}

MsbTopic *
make_topic(Fixture *fx, const gchar *name)
{
	g_autoptr(GError) error = NULL;
	MsbTopic *topic = msb_broker_create_topic(fx->broker, name, &error);

	g_assert_no_error(error);
	g_assert_nonnull(topic);
	return topic;
}

MsbQueue *
find_queue(Fixture *fx, const gchar *topic, const gchar *queue)
{
	MsbTopic *t = msb_broker_find_topic(fx->broker, topic);
	return t != NULL ? msb_topic_find_queue(t, queue) : NULL;
}

GBytes *
make_headers(const MsbWireHeader *hdrs, guint n)
{
	MsbBuf buf;
	GBytes *bytes;

	msb_buf_init(&buf, 0);
	g_assert_true(msb_wire_put_headers(&buf, hdrs, n, NULL));
	bytes = g_bytes_new(msb_buf_head(&buf), msb_buf_pending(&buf));
	msb_buf_clear(&buf);
	return bytes;
}
