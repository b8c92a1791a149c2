/*
 * MsbClient: the connection, its session state and publishing (protocol.md §5, §6, §8).
 *
 * Owns the socket and its two MsbBufs, the connect/ping/reconnect life cycle, the table of
 * pending publishes and the remembered topics and subscriptions. The client is built for
 * throughput: the socket is non-blocking and driven by GSocket sources with g_socket_receive /
 * g_socket_send straight into the buffers (no GInputStream), every publish and confirmation is
 * encoded straight into the output buffer, and the buffer is written once per main-loop iteration
 * (a ready-time source, or at the end of the read handler) rather than once per packet. Reading
 * takes big chunks and parses every whole packet in them. Received batches are handed to
 * msb-delivery.c.
 */
#define G_LOG_DOMAIN "msb-client"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "msb-client-private.h"
#include "msb-config.h"

#define MSB_CLIENT_DEFAULT_PORT         6421
#define MSB_CLIENT_DEFAULT_PING_MS      3000
#define MSB_CLIENT_DEFAULT_RECONNECT_MS 3000
#define MSB_CLIENT_DEAD_INTERVALS       3
#define MSB_CLIENT_CONNECT_TIMEOUT_S    10
#define MSB_CLIENT_READ_CHUNK           (256 * 1024)
#define MSB_CLIENT_READS_PER_WAKEUP     8
#define MSB_CLIENT_MAX_PACKET           (256 * 1024 * 1024)
#define MSB_CLIENT_BUF_KEEP             (8 * 1024 * 1024)
#define MSB_CLIENT_MAX_PREALLOC         (16 * 1024 * 1024)
#define MSB_CLIENT_NEW_MESSAGES_VERSION 1

typedef enum {
	MSB_CLIENT_STATE_IDLE,       /* no link, no attempt, no timer */
	MSB_CLIENT_STATE_CONNECTING, /* an attempt is in progress; publishes are queued */
	MSB_CLIENT_STATE_CONNECTED,
	MSB_CLIENT_STATE_WAITING, /* waiting for the reconnect delay */
} MsbClientState;

typedef struct {
	MsbClient *client;      /* not a reference; the task holds one */
	gint64 request_id;      /* the hash key points here */
	GTask *task;            /* NULL once cancelled: the entry stays to keep Reject order */
	GSource *cancel_source; /* only with a cancellable */
	GList link;             /* in pending_order */
} MsbPendingPublish;

typedef struct {
	gchar *topic;
	gchar *queue;
	gsize topic_len;
	gsize queue_len;
	MsbClientQueueType queue_type;
	MsbDeliveryFunc func;
	gpointer user_data;
	GDestroyNotify destroy;
} MsbSubscription;

struct _MsbClient {
	GObject parent_instance;

	gchar *address;
	gchar *greeting_name;
	gint32 protocol_version; /* as configured */
	gint32 session_protocol; /* as sent in the Greeting of the current attempt/link */
	gboolean auto_reconnect;
	guint ping_interval_ms;
	guint reconnect_delay_ms;
	GMainContext *context;

	MsbClientState state;
	gboolean disposing;
	guint generation; /* +1 on every disconnect */

	/* connecting */
	GSocketClient *socket_client; /* of the attempt in progress */
	GCancellable *connect_cancellable;
	GPtrArray *connect_waiters; /* GTask */

	/* the link */
	GSocketConnection *connection;
	GSocket *socket;
	GSource *in_source;
	GSource *out_source;   /* only while a send would block */
	GSource *flush_source; /* MsbClientFlushSource: "flush at the next iteration" */
	gboolean flush_scheduled;
	GSource *ping_source;
	GSource *reconnect_source;
	MsbBuf in;
	gsize in_need; /* bytes the partial packet at the front needs */
	MsbBuf out;
	MsbBuf queued;  /* publishes made while connecting, sent after the greeting burst */
	MsbBuf scratch; /* one message's header block */
	MsbWireDecoder decoder;
	gint64 last_rx_us;

	/* publishing */
	gint64 next_request_id;
	GHashTable *pending; /* &request_id → MsbPendingPublish */
	GQueue pending_order;

	GPtrArray *topics;        /* gchar* */
	GPtrArray *subscriptions; /* MsbSubscription* */
};

G_DEFINE_TYPE(MsbClient, msb_client, G_TYPE_OBJECT)

enum {
	SIGNAL_CONNECTED,
	SIGNAL_DISCONNECTED,
	SIGNAL_REJECTED,
	SIGNAL_LAST,
};
static guint signals[SIGNAL_LAST] = {0};

/* Reject texts of our broker that are not about a publish (see the header). */
static const gchar *const msb_client_non_publish_reject_prefixes[] = {
        "Subscribe", "Confirm", "Namespace", "CreateTopic", "Greeting", "Packet",
};

G_DEFINE_QUARK(msb - client - error - quark, msb_client_error)

G_STATIC_ASSERT(sizeof(MsbHeader) == sizeof(MsbWireHeader));
G_STATIC_ASSERT(G_STRUCT_OFFSET(MsbHeader, value) == G_STRUCT_OFFSET(MsbWireHeader, value));
G_STATIC_ASSERT((gint)MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION ==
                (gint)MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION);

static void
msb_client_start_connect(MsbClient *self);
static void
msb_client_connection_lost(MsbClient *self, const GError *reason);
static void
msb_client_disconnect(MsbClient *self, const GError *reason, gboolean reconnect);

const gchar *
msb_client_get_version(void)
{
	return MSB_VERSION;
}

/* ---- small helpers ---- */

static gboolean
msb_client_validate_name(const gchar *what, const gchar *name, gboolean allow_empty, GError **error)
{
	gsize len;

	if (name == NULL || (!allow_empty && name[0] == '\0')) {
		g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
		            "The %s must not be empty", what);
		return FALSE;
	}
	len = strlen(name);
	if (len > 255) {
		g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
		            "The %s is %" G_GSIZE_FORMAT
		            " bytes long; the protocol allows at most 255 bytes of UTF-8",
		            what, len);
		return FALSE;
	}
	if (!g_utf8_validate(name, (gssize)len, NULL)) {
		g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
		            "The %s is not valid UTF-8", what);
		return FALSE;
	}
	return TRUE;
}

static void
msb_client_destroy_source(GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy(*source);
	g_clear_pointer(source, g_source_unref);
}

static GSource *
msb_client_attach(MsbClient *self, GSource *source, GSourceFunc func, const gchar *name)
{
	g_source_set_callback(source, func, self, NULL);
	g_source_set_static_name(source, name);
	g_source_attach(source, self->context);
	return source;
}

static void
msb_subscription_free(MsbSubscription *sub)
{
	if (sub->destroy != NULL)
		sub->destroy(sub->user_data);
	g_free(sub->topic);
	g_free(sub->queue);
	g_free(sub);
}

static MsbSubscription *
msb_client_find_subscription(MsbClient *self, const gchar *topic, gsize topic_len,
                             const gchar *queue, gsize queue_len)
{
	for (guint i = 0; i < self->subscriptions->len; i++) {
		MsbSubscription *sub = g_ptr_array_index(self->subscriptions, i);
		if (sub->topic_len == topic_len && sub->queue_len == queue_len &&
		    memcmp(sub->topic, topic, topic_len) == 0 &&
		    memcmp(sub->queue, queue, queue_len) == 0)
			return sub;
	}
	return NULL;
}

/* ---- pending publishes ---- */

static void
msb_client_pending_remove(MsbClient *self, MsbPendingPublish *p)
{
	g_hash_table_remove(self->pending, &p->request_id);
	g_queue_unlink(&self->pending_order, &p->link);
}

/* Answer the caller (unless it cancelled) and free @p, which is no longer in the table. */
static void
msb_pending_publish_complete(MsbPendingPublish *p, GError *error)
{
	GTask *task = g_steal_pointer(&p->task);

	msb_client_destroy_source(&p->cancel_source);
	g_free(p);
	if (task == NULL) {
		if (error != NULL)
			g_error_free(error);
		return;
	}
	if (error != NULL)
		g_task_return_error(task, error);
	else
		g_task_return_boolean(task, TRUE);
	g_object_unref(task);
}

/* Fail every pending publish: the table is emptied first, so callbacks may publish again. */
static void
msb_client_fail_pending(MsbClient *self, gint code, const gchar *why)
{
	GQueue order = self->pending_order;
	GList *link;

	if (order.length == 0)
		return;
	g_queue_init(&self->pending_order);
	g_hash_table_remove_all(self->pending);
	while ((link = g_queue_pop_head_link(&order)) != NULL) {
		MsbPendingPublish *p = link->data;
		msb_pending_publish_complete(
		        p, g_error_new(MSB_CLIENT_ERROR, code,
		                       "Publish #%" G_GINT64_FORMAT " to %s was not %s: %s",
		                       p->request_id, self->address,
		                       code == MSB_CLIENT_ERROR_NOT_CONNECTED ? "sent" : "answered",
		                       why));
	}
}

static gboolean
msb_pending_publish_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	MsbPendingPublish *p = user_data;
	GTask *task = g_steal_pointer(&p->task);

	/* the entry stays in the table so that a later Reject still fails the right publish */
	g_clear_pointer(&p->cancel_source, g_source_unref);
	if (task != NULL) {
		g_task_return_error_if_cancelled(task);
		g_object_unref(task);
	}
	return G_SOURCE_REMOVE;
}

/* ---- output ---- */

/*
 * Make room for @extra bytes at the end of an output buffer that may hold megabytes not yet sent
 * (thousands of publishes in flight while the socket is full). msb_buf_grow() compacts whenever
 * the consumed front would do, which moves every unsent byte after each partial send; here the
 * front is reclaimed only when it is at least as large as what has to move, otherwise the buffer
 * doubles. Either way each byte is moved O(1) times.
 */
static void
msb_client_buf_reserve(MsbBuf *buf, gsize extra)
{
	gsize cap;

	if (buf->cap - buf->len >= extra)
		return;
	if (buf->off > 0 && buf->off >= msb_buf_pending(buf)) {
		msb_buf_compact(buf);
		if (buf->cap - buf->len >= extra)
			return;
	}
	if (G_MAXSIZE - buf->len < extra)
		g_error("output buffer size overflow");
	cap = buf->cap > 0 ? buf->cap : MSB_CLIENT_READ_CHUNK;
	while (cap - buf->len < extra)
		cap = cap > G_MAXSIZE / 2 ? buf->len + extra : cap * 2;
	buf->data = g_realloc(buf->data, cap);
	buf->cap = cap;
}

static gboolean
msb_client_out_cb(GSocket *socket, GIOCondition condition, gpointer user_data);

/* Write as much of the output buffer as the socket takes; may lose the connection. */
static void
msb_client_flush(MsbClient *self)
{
	self->flush_scheduled = FALSE;
	if (self->socket == NULL)
		return;
	while (msb_buf_pending(&self->out) > 0) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_send(self->socket, (const gchar *)msb_buf_head(&self->out),
		                         msb_buf_pending(&self->out), NULL, &error);
		if (n < 0) {
			g_autoptr(GError) lost = NULL;
			if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
				if (self->out_source == NULL) {
					self->out_source = msb_client_attach(
					        self,
					        g_socket_create_source(self->socket, G_IO_OUT,
					                               NULL),
					        G_SOURCE_FUNC(msb_client_out_cb), "msb-client-out");
				}
				return;
			}
			lost = g_error_new(G_IO_ERROR, error->code,
			                   "Writing to the broker failed: %s", error->message);
			msb_client_connection_lost(self, lost);
			return;
		}
		msb_buf_consume(&self->out, (gsize)n);
	}
	/* the capacity is kept (until the next connect): shrinking and regrowing a buffer of many
	 * MiB on every burst costs more in page faults than the memory is worth */
	msb_client_destroy_source(&self->out_source);
}

/* On close: hand what is buffered (the last confirmations) to the kernel if it takes it. */
static void
msb_client_flush_best_effort(MsbClient *self)
{
	while (self->socket != NULL && msb_buf_pending(&self->out) > 0) {
		gssize n = g_socket_send(self->socket, (const gchar *)msb_buf_head(&self->out),
		                         msb_buf_pending(&self->out), NULL, NULL);
		if (n <= 0)
			break;
		msb_buf_consume(&self->out, (gsize)n);
	}
}

static gboolean
msb_client_out_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	MsbClient *self = MSB_CLIENT(user_data);
	g_autoptr(MsbClient) keep G_GNUC_UNUSED = g_object_ref(self);

	msb_client_flush(self);
	return G_SOURCE_CONTINUE; /* the flush destroys this source once the buffer is empty */
}

static void
msb_client_schedule_flush(MsbClient *self)
{
	/* while waiting for G_IO_OUT the out source does the flushing */
	if (self->flush_scheduled || self->out_source != NULL || self->flush_source == NULL)
		return;
	self->flush_scheduled = TRUE;
}

/*
 * The flush source is ready while flush_scheduled is set. It is checked in prepare(), before the
 * context polls, rather than armed with g_source_set_ready_time(): that call signals the
 * context's eventfd every time (GLib 2.74), a write() and later a read() per main-loop
 * iteration that has output. Every client function runs on the thread that iterates the
 * context, so the flag is always set before the next prepare() looks at it.
 */
typedef struct {
	GSource source;
	MsbClient *client; /* not a reference: the client destroys the source before it goes */
} MsbClientFlushSource;

static gboolean
msb_client_flush_source_prepare(GSource *source, gint *timeout)
{
	*timeout = -1;
	return ((MsbClientFlushSource *)source)->client->flush_scheduled;
}

static gboolean
msb_client_flush_source_check(GSource *source)
{
	return ((MsbClientFlushSource *)source)->client->flush_scheduled;
}

static gboolean
msb_client_flush_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	return callback(user_data);
}

static GSourceFuncs msb_client_flush_source_funcs = {
        .prepare = msb_client_flush_source_prepare,
        .check = msb_client_flush_source_check,
        .dispatch = msb_client_flush_source_dispatch,
};

static gboolean
msb_client_flush_cb(gpointer user_data)
{
	MsbClient *self = MSB_CLIENT(user_data);
	g_autoptr(MsbClient) keep G_GNUC_UNUSED = g_object_ref(self);

	msb_client_flush(self);
	return G_SOURCE_CONTINUE;
}

guint
msb_client_get_generation(MsbClient *self)
{
	return self->generation;
}

MsbBuf *
msb_client_out_begin(MsbClient *self, guint generation)
{
	if (self->state != MSB_CLIENT_STATE_CONNECTED || self->generation != generation)
		return NULL;
	return &self->out;
}

void
msb_client_out_end(MsbClient *self)
{
	msb_client_schedule_flush(self);
}

/* ---- the link: connection loss ---- */

static void
msb_client_reset_link(MsbClient *self)
{
	msb_client_destroy_source(&self->in_source);
	msb_client_destroy_source(&self->out_source);
	msb_client_destroy_source(&self->flush_source);
	msb_client_destroy_source(&self->ping_source);
	self->flush_scheduled = FALSE;
	if (self->connection != NULL)
		g_io_stream_close(G_IO_STREAM(self->connection), NULL, NULL);
	g_clear_object(&self->socket);
	g_clear_object(&self->connection);
	/* keep the memory: a packet being dispatched may still point into the input buffer */
	self->in.len = self->in.off = 0;
	self->in_need = 0;
	self->out.len = self->out.off = 0;
}

static gboolean
msb_client_reconnect_cb(gpointer user_data)
{
	MsbClient *self = MSB_CLIENT(user_data);

	g_clear_pointer(&self->reconnect_source, g_source_unref);
	if (self->state == MSB_CLIENT_STATE_WAITING)
		msb_client_start_connect(self);
	return G_SOURCE_REMOVE;
}

static void
msb_client_schedule_reconnect(MsbClient *self)
{
	if (!self->auto_reconnect || self->disposing) {
		self->state = MSB_CLIENT_STATE_IDLE;
		return;
	}
	self->state = MSB_CLIENT_STATE_WAITING;
	msb_client_destroy_source(&self->reconnect_source);
	self->reconnect_source =
	        msb_client_attach(self, g_timeout_source_new(self->reconnect_delay_ms),
	                          msb_client_reconnect_cb, "msb-client-reconnect");
}

/* The link is gone: fail every pending publish, tell the application, maybe reconnect. */
static void
msb_client_disconnect(MsbClient *self, const GError *reason, gboolean reconnect)
{
	g_autoptr(MsbClient) keep G_GNUC_UNUSED = g_object_ref(self);

	if (self->state != MSB_CLIENT_STATE_CONNECTED)
		return;
	g_debug("connection to %s lost: %s", self->address, reason->message);
	self->generation++;
	msb_client_reset_link(self);
	self->state = MSB_CLIENT_STATE_IDLE;
	if (reconnect)
		msb_client_schedule_reconnect(self);
	msb_client_fail_pending(self, MSB_CLIENT_ERROR_DISCONNECTED, reason->message);
	if (!self->disposing)
		g_signal_emit(self, signals[SIGNAL_DISCONNECTED], 0, reason);
}

static void
msb_client_connection_lost(MsbClient *self, const GError *reason)
{
	msb_client_disconnect(self, reason, TRUE);
}

/* ---- the link: input ---- */

static void
msb_client_handle_reject(MsbClient *self, const gchar *text)
{
	gboolean about_publish = TRUE;

	for (guint i = 0; i < G_N_ELEMENTS(msb_client_non_publish_reject_prefixes); i++) {
		if (g_str_has_prefix(text, msb_client_non_publish_reject_prefixes[i])) {
			about_publish = FALSE;
			break;
		}
	}
	if (about_publish) {
		GList *link = g_queue_peek_head_link(&self->pending_order);
		if (link != NULL) {
			MsbPendingPublish *p = link->data;
			msb_client_pending_remove(self, p);
			msb_pending_publish_complete(
			        p, g_error_new_literal(MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED,
			                               text));
		} else {
			g_debug("Reject with no publish pending: %s", text);
		}
	}
	g_signal_emit(self, signals[SIGNAL_REJECTED], 0, text);
}

static void
msb_client_handle_new_messages(MsbClient *self, const MsbPacket *pkt, const guint8 *packet,
                               gsize packet_len)
{
	MsbSubscription *sub = msb_client_find_subscription(
	        self, pkt->new_messages.topic.str, pkt->new_messages.topic.len,
	        pkt->new_messages.queue.str, pkt->new_messages.queue.len);
	g_autoptr(MsbDelivery) delivery =
	        msb_delivery_new(self, self->generation, packet, packet_len, pkt);

	if (sub == NULL) {
		/* the unref below returns the batch to the broker */
		g_warning("NewMessages for %s/%s, which we did not subscribe to; failing it",
		          msb_delivery_get_topic(delivery), msb_delivery_get_queue(delivery));
		return;
	}
	sub->func(self, delivery, sub->user_data);
}

/* One decoded packet; @packet stays valid during the call (the input buffer is not touched). */
static void
msb_client_dispatch(MsbClient *self, const MsbPacket *pkt, const guint8 *packet, gsize packet_len)
{
	switch (pkt->id) {
	case MSB_PACKET_PONG:
		break;
	case MSB_PACKET_PING:
		msb_wire_put_pong(&self->out);
		msb_client_schedule_flush(self);
		break;
	case MSB_PACKET_PUBLISH_RESPONSE: {
		gint64 id = pkt->publish_response.request_id;
		MsbPendingPublish *p = g_hash_table_lookup(self->pending, &id);
		if (p == NULL) {
			g_debug("PublishResponse for unknown request #%" G_GINT64_FORMAT, id);
			break;
		}
		msb_client_pending_remove(self, p);
		msb_pending_publish_complete(p, NULL);
		break;
	}
	case MSB_PACKET_NEW_MESSAGES:
		msb_client_handle_new_messages(self, pkt, packet, packet_len);
		break;
	case MSB_PACKET_REJECT: {
		g_autofree gchar *text =
		        g_strndup(pkt->reject.message.str, pkt->reject.message.len);
		msb_client_handle_reject(self, text);
		break;
	}
	default:
		g_debug("ignoring %s from the broker", msb_packet_id_to_string(pkt->id));
		break;
	}
}

/* Parse and dispatch every whole packet; FALSE when the link went away meanwhile. */
static gboolean
msb_client_parse(MsbClient *self)
{
	guint generation = self->generation;

	/* A partial packet is decoded again only once the bytes it is known to need are there.
	 * NewMessages has no length prefix, so without this a batch of several MiB arriving in
	 * many reads would be parsed from its start after every read (quadratic in its size). */
	while (msb_buf_pending(&self->in) > 0 && msb_buf_pending(&self->in) >= self->in_need) {
		g_autoptr(GError) error = NULL;
		const guint8 *head = msb_buf_head(&self->in);
		MsbPacket pkt;
		gsize consumed = 0;
		MsbWireDecodeResult res = msb_wire_decode(
		        &self->decoder, head, msb_buf_pending(&self->in), &pkt, &consumed, &error);
		if (res == MSB_WIRE_DECODE_NEED_MORE) {
			self->in_need = consumed;
			break;
		}
		if (res == MSB_WIRE_DECODE_ERROR) {
			g_autoptr(GError) lost = g_error_new(
			        MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_PROTOCOL,
			        "Cannot decode a packet from the broker: %s", error->message);
			msb_client_connection_lost(self, lost);
			return FALSE;
		}
		/* consuming only moves offsets, so @head stays valid during the dispatch */
		self->in_need = 0;
		msb_buf_consume(&self->in, consumed);
		msb_client_dispatch(self, &pkt, head, consumed);
		if (self->generation != generation)
			return FALSE;
	}
	return TRUE;
}

static gboolean
msb_client_in_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	MsbClient *self = MSB_CLIENT(user_data);
	g_autoptr(MsbClient) keep G_GNUC_UNUSED = g_object_ref(self);

	for (guint round = 0; round < MSB_CLIENT_READS_PER_WAKEUP; round++) {
		g_autoptr(GError) error = NULL;
		gsize pending = msb_buf_pending(&self->in);
		gsize want = MSB_CLIENT_READ_CHUNK;
		gsize space;
		gssize n;
		guint8 *dst;

		/* room for the partial packet's announced size, but let a huge announcement grow
		 * the buffer only as its bytes actually arrive */
		if (self->in_need > pending && self->in_need - pending > want)
			want = MIN(self->in_need - pending, MSB_CLIENT_MAX_PREALLOC);
		dst = msb_buf_reserve(&self->in, want);
		space = self->in.cap - self->in.len;
		n = g_socket_receive(socket, (gchar *)dst, space, NULL, &error);
		if (n < 0) {
			g_autoptr(GError) lost = NULL;
			if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				break;
			lost = g_error_new(G_IO_ERROR, error->code,
			                   "Reading from the broker failed: %s", error->message);
			msb_client_connection_lost(self, lost);
			return G_SOURCE_REMOVE;
		}
		if (n == 0) {
			g_autoptr(GError) lost = g_error_new(
			        G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
			        "The broker at %s closed the connection", self->address);
			msb_client_connection_lost(self, lost);
			return G_SOURCE_REMOVE;
		}
		self->in.len += (gsize)n;
		self->last_rx_us = g_get_monotonic_time();
		if (!msb_client_parse(self))
			return G_SOURCE_REMOVE;
		if ((gsize)n < space)
			break;
	}
	/* answers produced while dispatching (confirmations, publishes, Pong) go out now */
	msb_client_flush(self);
	return G_SOURCE_CONTINUE;
}

static gboolean
msb_client_ping_cb(gpointer user_data)
{
	MsbClient *self = MSB_CLIENT(user_data);
	g_autoptr(MsbClient) keep G_GNUC_UNUSED = g_object_ref(self);
	gint64 silent_us = g_get_monotonic_time() - self->last_rx_us;

	if (silent_us >= (gint64)self->ping_interval_ms * 1000 * MSB_CLIENT_DEAD_INTERVALS) {
		g_autoptr(GError) lost =
		        g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
		                    "Nothing received from the broker at %s for %" G_GINT64_FORMAT
		                    " ms (%d ping intervals); closing the link",
		                    self->address, silent_us / 1000, MSB_CLIENT_DEAD_INTERVALS);
		msb_client_connection_lost(self, lost);
		return G_SOURCE_REMOVE;
	}
	msb_wire_put_ping(&self->out);
	msb_client_schedule_flush(self);
	return G_SOURCE_CONTINUE;
}

static void
msb_client_start_ping(MsbClient *self)
{
	msb_client_destroy_source(&self->ping_source);
	self->ping_source = msb_client_attach(self, g_timeout_source_new(self->ping_interval_ms),
	                                      msb_client_ping_cb, "msb-client-ping");
}

/* ---- the link: connecting ---- */

static void
msb_client_complete_waiters(MsbClient *self, const GError *error)
{
	g_autoptr(GPtrArray) waiters = self->connect_waiters;

	self->connect_waiters = g_ptr_array_new_with_free_func(g_object_unref);
	for (guint i = 0; i < waiters->len; i++) {
		GTask *task = g_ptr_array_index(waiters, i);
		if (error != NULL)
			g_task_return_error(task, g_error_copy(error));
		else
			g_task_return_boolean(task, TRUE);
	}
}

/* Greeting, PacketVersions, every topic and subscription, then what was queued meanwhile. */
static void
msb_client_write_greeting_burst(MsbClient *self)
{
	g_autoptr(GError) error = NULL;

	if (!msb_wire_put_greeting(&self->out, self->greeting_name, self->session_protocol,
	                           &error)) {
		g_warning("cannot encode the Greeting: %s", error->message);
		g_clear_error(&error);
	}
	msb_wire_put_packet_versions(&self->out, MSB_CLIENT_NEW_MESSAGES_VERSION);
	for (guint i = 0; i < self->topics->len; i++) {
		if (!msb_wire_put_create_topic(&self->out, g_ptr_array_index(self->topics, i),
		                               &error)) {
			g_warning("cannot encode CreateTopicIfNotExists: %s", error->message);
			g_clear_error(&error);
		}
	}
	for (guint i = 0; i < self->subscriptions->len; i++) {
		MsbSubscription *sub = g_ptr_array_index(self->subscriptions, i);
		if (!msb_wire_put_subscribe(&self->out, sub->topic, sub->queue,
		                            (guint8)sub->queue_type, &error)) {
			g_warning("cannot encode Subscribe: %s", error->message);
			g_clear_error(&error);
		}
	}
	if (msb_buf_pending(&self->queued) > 0)
		msb_buf_put(&self->out, msb_buf_head(&self->queued),
		            msb_buf_pending(&self->queued));
	msb_buf_clear(&self->queued);
}

static void
msb_client_connection_established(MsbClient *self, GSocketConnection *connection)
{
	GSocketFamily family;

	self->connection = g_object_ref(connection);
	self->socket = g_object_ref(g_socket_connection_get_socket(connection));
	g_socket_set_blocking(self->socket, FALSE);
	g_socket_set_timeout(self->socket, 0);
	family = g_socket_get_family(self->socket);
	if (family == G_SOCKET_FAMILY_IPV4 || family == G_SOCKET_FAMILY_IPV6) {
		g_autoptr(GError) error = NULL;
		if (!g_socket_set_option(self->socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
			g_debug("cannot set TCP_NODELAY: %s", error->message);
	}

	self->state = MSB_CLIENT_STATE_CONNECTED;
	self->last_rx_us = g_get_monotonic_time();
	self->decoder.protocol_version = self->session_protocol;
	self->decoder.new_messages_version = MSB_CLIENT_NEW_MESSAGES_VERSION;
	msb_buf_shrink(&self->in, MSB_CLIENT_BUF_KEEP);
	msb_buf_shrink(&self->out, MSB_CLIENT_BUF_KEEP);
	self->in.len = self->in.off = 0;
	self->in_need = 0;
	self->out.len = self->out.off = 0;
	msb_client_write_greeting_burst(self);

	self->in_source =
	        msb_client_attach(self, g_socket_create_source(self->socket, G_IO_IN, NULL),
	                          G_SOURCE_FUNC(msb_client_in_cb), "msb-client-in");
	self->flush_source =
	        g_source_new(&msb_client_flush_source_funcs, sizeof(MsbClientFlushSource));
	((MsbClientFlushSource *)self->flush_source)->client = self;
	g_source_set_priority(self->flush_source, G_PRIORITY_DEFAULT);
	msb_client_attach(self, self->flush_source, msb_client_flush_cb, "msb-client-flush");
	msb_client_start_ping(self);
	msb_client_schedule_flush(self);

	g_debug("connected to %s", self->address);
	msb_client_complete_waiters(self, NULL);
	if (self->state == MSB_CLIENT_STATE_CONNECTED)
		g_signal_emit(self, signals[SIGNAL_CONNECTED], 0);
}

/* The attempt failed (or was abandoned): queued publishes and waiters fail. */
static void
msb_client_connect_failed(MsbClient *self, const GError *error, gboolean reconnect)
{
	g_autoptr(GError) wrapped = NULL;

	g_clear_object(&self->socket_client);
	g_clear_object(&self->connect_cancellable);
	msb_buf_clear(&self->queued);
	self->state = MSB_CLIENT_STATE_IDLE;
	if (reconnect)
		msb_client_schedule_reconnect(self);
	wrapped = g_error_new(error->domain, error->code, "Cannot connect to the broker at %s: %s",
	                      self->address, error->message);
	msb_client_fail_pending(self, MSB_CLIENT_ERROR_NOT_CONNECTED, wrapped->message);
	msb_client_complete_waiters(self, wrapped);
}

static void
msb_client_connect_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(MsbClient) self = MSB_CLIENT(user_data);
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketConnection) connection =
	        g_socket_client_connect_finish(G_SOCKET_CLIENT(source), res, &error);

	/* a stale attempt: msb_client_close() has already cleaned up after it */
	if (self->state != MSB_CLIENT_STATE_CONNECTING ||
	    (gpointer)self->socket_client != (gpointer)source) {
		if (connection != NULL)
			g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
		return;
	}
	if (connection == NULL) {
		g_debug("cannot connect to %s: %s", self->address, error->message);
		msb_client_connect_failed(self, error, TRUE);
		return;
	}
	g_clear_object(&self->socket_client);
	g_clear_object(&self->connect_cancellable);
	msb_client_connection_established(self, connection);
}

static GSocketConnectable *
msb_client_parse_address(const gchar *address, GError **error)
{
	if (g_str_has_prefix(address, "unix:")) {
		const gchar *path = address + strlen("unix:");
		if (path[0] == '\0') {
			g_set_error(
			        error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			        "The address \"%s\" has no socket path; use unix:/path/to/socket",
			        address);
			return NULL;
		}
		return G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
	}
	return g_network_address_parse(address, MSB_CLIENT_DEFAULT_PORT, error);
}

static void
msb_client_start_connect(MsbClient *self)
{
	g_autoptr(GSocketConnectable) connectable = NULL;
	g_autoptr(GError) error = NULL;

	msb_client_destroy_source(&self->reconnect_source);
	self->state = MSB_CLIENT_STATE_CONNECTING;
	self->session_protocol = self->protocol_version;
	msb_buf_clear(&self->queued);
	connectable = msb_client_parse_address(self->address, &error);
	if (connectable == NULL) {
		/* retrying cannot fix a malformed address */
		msb_client_connect_failed(self, error, FALSE);
		return;
	}
	self->connect_cancellable = g_cancellable_new();
	self->socket_client = g_socket_client_new();
	g_socket_client_set_timeout(self->socket_client, MSB_CLIENT_CONNECT_TIMEOUT_S);
	/* a broker link is plain TCP on a LAN or loopback: no proxy lookups (and no threads) */
	g_socket_client_set_enable_proxy(self->socket_client, FALSE);
	g_main_context_push_thread_default(self->context);
	g_socket_client_connect_async(self->socket_client, connectable, self->connect_cancellable,
	                              msb_client_connect_cb, g_object_ref(self));
	g_main_context_pop_thread_default(self->context);
}

/* ---- public API ---- */

MsbClient *
msb_client_new(const gchar *address, const gchar *app_name)
{
	MsbClient *self;
	g_autofree gchar *name = NULL;
	gsize len;

	g_return_val_if_fail(address != NULL, NULL);
	self = g_object_new(MSB_TYPE_CLIENT, NULL);
	self->address = g_strdup(address);
	if (app_name == NULL)
		app_name = g_get_prgname() != NULL ? g_get_prgname() : "msb-client";
	name = g_strdup_printf("%s;%s", app_name, msb_client_get_version());
	if (!g_utf8_validate(name, -1, NULL)) {
		g_free(name);
		name = g_strdup_printf("msb-client;%s", msb_client_get_version());
	}
	len = strlen(name);
	if (len > 255)
		name[msb_wire_utf8_cap(name, len, 255)] = '\0';
	self->greeting_name = g_steal_pointer(&name);
	return self;
}

const gchar *
msb_client_get_address(MsbClient *self)
{
	g_return_val_if_fail(MSB_IS_CLIENT(self), NULL);
	return self->address;
}

void
msb_client_set_protocol_version(MsbClient *self, gint32 protocol_version)
{
	g_return_if_fail(MSB_IS_CLIENT(self));
	g_return_if_fail(protocol_version == 2 || protocol_version == 3);
	self->protocol_version = protocol_version;
}

void
msb_client_set_auto_reconnect(MsbClient *self, gboolean auto_reconnect)
{
	g_return_if_fail(MSB_IS_CLIENT(self));
	self->auto_reconnect = auto_reconnect;
	if (!auto_reconnect && self->state == MSB_CLIENT_STATE_WAITING) {
		msb_client_destroy_source(&self->reconnect_source);
		self->state = MSB_CLIENT_STATE_IDLE;
	}
}

void
msb_client_set_ping_interval(MsbClient *self, guint interval_ms)
{
	g_return_if_fail(MSB_IS_CLIENT(self));
	g_return_if_fail(interval_ms > 0);
	self->ping_interval_ms = interval_ms;
	if (self->state == MSB_CLIENT_STATE_CONNECTED)
		msb_client_start_ping(self);
}

void
msb_client_set_reconnect_delay(MsbClient *self, guint delay_ms)
{
	g_return_if_fail(MSB_IS_CLIENT(self));
	self->reconnect_delay_ms = delay_ms;
}

static gboolean
msb_client_connect_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	MsbClient *self = MSB_CLIENT(g_task_get_source_object(task));

	/* still waiting? (the task data holding this source is freed with the task) */
	if (g_ptr_array_find(self->connect_waiters, task, NULL)) {
		g_autoptr(GTask) keep = g_object_ref(task);
		g_ptr_array_remove(self->connect_waiters, task);
		g_task_return_error_if_cancelled(keep);
	}
	return G_SOURCE_REMOVE;
}

static void
msb_client_source_destroy_unref(gpointer source)
{
	g_source_destroy(source);
	g_source_unref(source);
}

void
msb_client_connect_async(MsbClient *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(MSB_IS_CLIENT(self));
	g_return_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, msb_client_connect_async);
	if (g_task_return_error_if_cancelled(task))
		return;
	if (self->state == MSB_CLIENT_STATE_CONNECTED) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	if (cancellable != NULL) {
		GSource *source = g_cancellable_source_new(cancellable);
		g_source_set_callback(source, G_SOURCE_FUNC(msb_client_connect_cancelled_cb), task,
		                      NULL);
		g_source_attach(source, self->context);
		g_task_set_task_data(task, source, msb_client_source_destroy_unref);
	}
	g_ptr_array_add(self->connect_waiters, g_object_ref(task));
	if (self->state != MSB_CLIENT_STATE_CONNECTING)
		msb_client_start_connect(self);
}

gboolean
msb_client_connect_finish(MsbClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(MSB_IS_CLIENT(self), FALSE);
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

static void
msb_client_sync_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **out = user_data;
	*out = g_object_ref(res);
}

gboolean
msb_client_connect_sync(MsbClient *self, GCancellable *cancellable, GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	g_autoptr(GAsyncResult) res = NULL;

	g_return_val_if_fail(MSB_IS_CLIENT(self), FALSE);
	msb_client_connect_async(self, cancellable, msb_client_sync_cb, &res);
	while (res == NULL)
		g_main_context_iteration(context, TRUE);
	return msb_client_connect_finish(self, res, error);
}

void
msb_client_close(MsbClient *self)
{
	g_autoptr(MsbClient) keep = NULL;

	g_return_if_fail(MSB_IS_CLIENT(self));
	keep = g_object_ref(self);
	msb_client_destroy_source(&self->reconnect_source);
	switch (self->state) {
	case MSB_CLIENT_STATE_CONNECTING: {
		g_autoptr(GError) error =
		        g_error_new_literal(MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_NOT_CONNECTED,
		                            "the client was closed before the connection was made");
		g_cancellable_cancel(self->connect_cancellable);
		msb_client_connect_failed(self, error, FALSE);
		break;
	}
	case MSB_CLIENT_STATE_CONNECTED: {
		g_autoptr(GError) error =
		        g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
		                            "The connection was closed by the application");
		msb_client_flush_best_effort(self);
		msb_client_disconnect(self, error, FALSE);
		break;
	}
	case MSB_CLIENT_STATE_WAITING:
		self->state = MSB_CLIENT_STATE_IDLE;
		break;
	case MSB_CLIENT_STATE_IDLE:
	default:
		break;
	}
}

gboolean
msb_client_is_connected(MsbClient *self)
{
	g_return_val_if_fail(MSB_IS_CLIENT(self), FALSE);
	return self->state == MSB_CLIENT_STATE_CONNECTED;
}

gboolean
msb_client_create_topic(MsbClient *self, const gchar *topic, GError **error)
{
	g_return_val_if_fail(MSB_IS_CLIENT(self), FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!msb_client_validate_name("topic name", topic, FALSE, error))
		return FALSE;
	for (guint i = 0; i < self->topics->len; i++) {
		if (g_strcmp0(g_ptr_array_index(self->topics, i), topic) == 0)
			return TRUE;
	}
	g_ptr_array_add(self->topics, g_strdup(topic));
	if (self->state == MSB_CLIENT_STATE_CONNECTED) {
		if (!msb_wire_put_create_topic(&self->out, topic, error))
			return FALSE;
		msb_client_schedule_flush(self);
	}
	return TRUE;
}

/* Check everything and compute the exact packet size, so encoding cannot fail half-way and the
 * output buffer grows (and moves) at most once per publish. */
static gboolean
msb_client_publish_validate(MsbClient *self, const gchar *topic, const MsbMessage *messages,
                            guint n_messages, gint32 protocol, gsize *size_out, GError **error)
{
	gsize size;

	if (!msb_client_validate_name("topic name", topic, FALSE, error))
		return FALSE;
	if (n_messages > G_MAXINT32) {
		g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
		            "Cannot publish %u messages in one packet; the limit is %d", n_messages,
		            G_MAXINT32);
		return FALSE;
	}
	/* id, pstr topic, i64 request id, i32 count, ..., bool persist */
	size = 1 + 1 + strlen(topic) + 8 + 4 + 1;
	for (guint i = 0; i < n_messages; i++) {
		const MsbMessage *m = &messages[i];

		if (m->content == NULL && m->content_len > 0) {
			g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
			            "Message %u has no content but a length of %" G_GSIZE_FORMAT, i,
			            m->content_len);
			return FALSE;
		}
		if (m->content_len > G_MAXINT32) {
			g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
			            "Message %u is %" G_GSIZE_FORMAT
			            " bytes long; the protocol allows at most %d",
			            i, m->content_len, G_MAXINT32);
			return FALSE;
		}
		if (m->n_headers > 0 && m->headers == NULL) {
			g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
			            "Message %u has %u headers but no header array", i,
			            m->n_headers);
			return FALSE;
		}
		if (m->n_headers > 255) {
			g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
			            "Message %u has %u headers; the protocol allows at most 255", i,
			            m->n_headers);
			return FALSE;
		}
		size += 4 + m->content_len;
		if (protocol < 3)
			continue;
		size += 1;
		for (guint j = 0; j < m->n_headers; j++) {
			if (!msb_client_validate_name("header key", m->headers[j].key, TRUE,
			                              error) ||
			    !msb_client_validate_name("header value", m->headers[j].value, TRUE,
			                              error)) {
				g_prefix_error(error, "Message %u, header %u: ", i, j);
				return FALSE;
			}
			size += 2 + strlen(m->headers[j].key) + strlen(m->headers[j].value);
		}
	}
	*size_out = size;
	return TRUE;
}

static void
msb_client_publish_encode(MsbClient *self, MsbBuf *buf, const gchar *topic,
                          const MsbMessage *messages, guint n_messages, gboolean persist,
                          gint64 request_id, gint32 protocol, gsize size)
{
	g_autoptr(GError) error = NULL;
	gsize count_at = 0;

	/* reserve the whole packet first: no growth (and no compaction) while encoding */
	msb_client_buf_reserve(buf, size);
	if (!msb_wire_publish_begin(buf, topic, request_id, &count_at, &error)) {
		g_critical("cannot encode a validated Publish: %s", error->message);
		return;
	}
	for (guint i = 0; i < n_messages; i++) {
		const MsbMessage *m = &messages[i];

		if (protocol >= 3 && m->n_headers > 0) {
			self->scratch.len = self->scratch.off = 0;
			if (!msb_wire_put_headers(&self->scratch, (const MsbWireHeader *)m->headers,
			                          m->n_headers, &error)) {
				g_critical("cannot encode validated headers: %s", error->message);
				g_clear_error(&error);
				self->scratch.len = 0;
			}
			msb_wire_publish_add(buf, protocol, self->scratch.data, self->scratch.len,
			                     m->content, m->content_len);
		} else {
			msb_wire_publish_add(buf, protocol, NULL, 0, m->content, m->content_len);
		}
	}
	msb_wire_publish_end(buf, count_at, n_messages, persist);
}

void
msb_client_publish_async(MsbClient *self, const gchar *topic, const MsbMessage *messages,
                         guint n_messages, gboolean persist_immediately, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	MsbPendingPublish *p;
	MsbBuf *buf;
	gsize size = 0;

	g_return_if_fail(MSB_IS_CLIENT(self));
	g_return_if_fail(messages != NULL || n_messages == 0);
	g_return_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, msb_client_publish_async);
	if (g_task_return_error_if_cancelled(task))
		return;

	switch (self->state) {
	case MSB_CLIENT_STATE_CONNECTED:
		buf = &self->out;
		break;
	case MSB_CLIENT_STATE_CONNECTING:
		buf = &self->queued;
		break;
	case MSB_CLIENT_STATE_IDLE:
	case MSB_CLIENT_STATE_WAITING:
	default:
		g_task_return_new_error(task, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_NOT_CONNECTED,
		                        "Not connected to the broker at %s%s", self->address,
		                        self->state == MSB_CLIENT_STATE_WAITING
		                                ? " (waiting to reconnect)"
		                                : "; call msb_client_connect_async() first");
		return;
	}
	if (!msb_client_publish_validate(self, topic, messages, n_messages, self->session_protocol,
	                                 &size, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}

	p = g_new0(MsbPendingPublish, 1);
	p->client = self;
	p->request_id = self->next_request_id++;
	p->task = g_steal_pointer(&task);
	p->link.data = p;
	msb_client_publish_encode(self, buf, topic, messages, n_messages, persist_immediately,
	                          p->request_id, self->session_protocol, size);
	g_hash_table_insert(self->pending, &p->request_id, p);
	g_queue_push_tail_link(&self->pending_order, &p->link);
	if (cancellable != NULL) {
		p->cancel_source = g_cancellable_source_new(cancellable);
		g_source_set_callback(p->cancel_source,
		                      G_SOURCE_FUNC(msb_pending_publish_cancelled_cb), p, NULL);
		g_source_attach(p->cancel_source, self->context);
	}
	if (buf == &self->out)
		msb_client_schedule_flush(self);
}

gboolean
msb_client_publish_finish(MsbClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(MSB_IS_CLIENT(self), FALSE);
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

gboolean
msb_client_publish_sync(MsbClient *self, const gchar *topic, const MsbMessage *messages,
                        guint n_messages, gboolean persist_immediately, GCancellable *cancellable,
                        GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	g_autoptr(GAsyncResult) res = NULL;

	g_return_val_if_fail(MSB_IS_CLIENT(self), FALSE);
	msb_client_publish_async(self, topic, messages, n_messages, persist_immediately,
	                         cancellable, msb_client_sync_cb, &res);
	while (res == NULL)
		g_main_context_iteration(context, TRUE);
	return msb_client_publish_finish(self, res, error);
}

guint
msb_client_get_pending_publishes(MsbClient *self)
{
	g_return_val_if_fail(MSB_IS_CLIENT(self), 0);
	return g_hash_table_size(self->pending);
}

gboolean
msb_client_subscribe(MsbClient *self, const gchar *topic, const gchar *queue,
                     MsbClientQueueType queue_type, MsbDeliveryFunc func, gpointer user_data,
                     GDestroyNotify destroy, GError **error)
{
	MsbSubscription *sub;

	g_return_val_if_fail(MSB_IS_CLIENT(self), FALSE);
	g_return_val_if_fail(func != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!msb_client_validate_name("topic name", topic, FALSE, error) ||
	    !msb_client_validate_name("queue name", queue, FALSE, error))
		return FALSE;
	if ((guint)queue_type > MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION) {
		g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
		            "Unknown queue type %d; use one of the MsbClientQueueType values",
		            (gint)queue_type);
		return FALSE;
	}
	if (msb_client_find_subscription(self, topic, strlen(topic), queue, strlen(queue)) !=
	    NULL) {
		g_set_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_INVALID_ARGUMENT,
		            "Already subscribed to queue \"%s\" of topic \"%s\"; a connection may "
		            "subscribe to a queue only once",
		            queue, topic);
		return FALSE;
	}
	sub = g_new0(MsbSubscription, 1);
	sub->topic = g_strdup(topic);
	sub->queue = g_strdup(queue);
	sub->topic_len = strlen(topic);
	sub->queue_len = strlen(queue);
	sub->queue_type = queue_type;
	sub->func = func;
	sub->user_data = user_data;
	sub->destroy = destroy;
	g_ptr_array_add(self->subscriptions, sub);
	if (self->state == MSB_CLIENT_STATE_CONNECTED) {
		g_autoptr(GError) error_local = NULL;
		if (!msb_wire_put_subscribe(&self->out, topic, queue, (guint8)queue_type,
		                            &error_local))
			g_warning("cannot encode Subscribe: %s", error_local->message);
		msb_client_schedule_flush(self);
	}
	return TRUE;
}

/* ---- GObject ---- */

static void
msb_client_dispose(GObject *object)
{
	MsbClient *self = MSB_CLIENT(object);

	self->disposing = TRUE;
	msb_client_destroy_source(&self->reconnect_source);
	if (self->state != MSB_CLIENT_STATE_IDLE)
		msb_client_close(self);
	G_OBJECT_CLASS(msb_client_parent_class)->dispose(object);
}

static void
msb_client_finalize(GObject *object)
{
	MsbClient *self = MSB_CLIENT(object);

	msb_client_reset_link(self);
	g_clear_object(&self->socket_client);
	g_clear_object(&self->connect_cancellable);
	g_ptr_array_unref(self->connect_waiters);
	g_hash_table_unref(self->pending);
	g_ptr_array_unref(self->topics);
	g_ptr_array_unref(self->subscriptions);
	msb_buf_clear(&self->in);
	msb_buf_clear(&self->out);
	msb_buf_clear(&self->queued);
	msb_buf_clear(&self->scratch);
	msb_wire_decoder_clear(&self->decoder);
	g_main_context_unref(self->context);
	g_free(self->address);
	g_free(self->greeting_name);
	G_OBJECT_CLASS(msb_client_parent_class)->finalize(object);
}

static void
msb_client_class_init(MsbClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = msb_client_dispose;
	object_class->finalize = msb_client_finalize;

	signals[SIGNAL_CONNECTED] =
	        g_signal_new("connected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_DISCONNECTED] =
	        g_signal_new("disconnected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
	signals[SIGNAL_REJECTED] =
	        g_signal_new("rejected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
msb_client_init(MsbClient *self)
{
	self->protocol_version = MSB_WIRE_PROTOCOL_MAX;
	self->session_protocol = MSB_WIRE_PROTOCOL_MAX;
	self->auto_reconnect = TRUE;
	self->ping_interval_ms = MSB_CLIENT_DEFAULT_PING_MS;
	self->reconnect_delay_ms = MSB_CLIENT_DEFAULT_RECONNECT_MS;
	self->context = g_main_context_ref_thread_default();
	self->state = MSB_CLIENT_STATE_IDLE;
	self->next_request_id = 1;
	self->connect_waiters = g_ptr_array_new_with_free_func(g_object_unref);
	self->pending = g_hash_table_new(g_int64_hash, g_int64_equal);
	g_queue_init(&self->pending_order);
	self->topics = g_ptr_array_new_with_free_func(g_free);
	self->subscriptions = g_ptr_array_new_with_free_func((GDestroyNotify)msb_subscription_free);
	msb_buf_init(&self->in, 0);
	msb_buf_init(&self->out, 0);
	msb_buf_init(&self->queued, 0);
	msb_buf_init(&self->scratch, 0);
	msb_wire_decoder_init(&self->decoder, MSB_CLIENT_MAX_PACKET);
}
