/*
 * MsbHttpServer: the limits of both programs' HTTP ports, in front of a libsoup 3 SoupServer
 * that parses requests and runs the handlers.
 *
 * Why not soup_server_listen(): libsoup listens with GLib's backlog of 10, stops accepting for
 * good after one failed accept() (EMFILE), keeps idle keep-alive connections forever, has no
 * connection cap and no deadline for a request, reads a body of any size into memory and takes
 * "Content-Length: -1" as a body of 2^64-1 bytes, waiting for it in silence. So MsbListener
 * listens and accepts, as for the broker's own port (backlog, back-off at the open-files limit,
 * resumed when one of our connections closes), and each connection goes to libsoup with
 * soup_server_accept_iostream(), watched through libsoup's signals:
 *
 *   IDLE      accepted or answered, waiting for a request: closed after HttpIdleTimeout.
 *   REQUEST   the first byte of a request arrived (seen by a G_IO_IN watch on the socket, or
 *             by got-headers when libsoup had it buffered) until its answer is written: cut
 *             after HttpRequestTimeout, with 408 if libsoup has not started an answer yet.
 *
 * At got-headers a malformed Content-Length gets 400 and one above HttpMaxBodySize gets 413;
 * got-chunk counts the bytes of a chunked body against the same limit. Refusing there cannot go
 * through libsoup, which would read the whole body before writing any answer, so the short
 * answer is written to the socket directly (nothing of libsoup's is pending on it then: it reads
 * a request only after the previous answer is written), and the socket is shut down and closed.
 * libsoup then fails the request without calling the handler (its status is set) and drops the
 * connection as it does when a client goes away.
 *
 * A connection is known from its messages by the remote GSocketAddress object we hand to
 * libsoup (soup_server_message_get_remote_address() returns that same object; get_socket()
 * returns NULL for accept_iostream connections). It is forgotten when libsoup drops its last
 * reference to the GSocketConnection (weak reference) or when we close it.
 *
 * Known limit of libsoup 3.2: when a kept-alive connection ends between two requests, libsoup
 * keeps its objects for good (about 2 KiB); alone it would keep the socket open too, in
 * CLOSE-WAIT. We close the socket (msb_http_conn_hung_up()), so only the memory stays.
 */
#define G_LOG_DOMAIN "msb-http-server"

#include "msb-http-server.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "msb-listener.h"
#include "msb-rate-limit.h"

/* at most one log line per this interval for each kind of refusal */
#define LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

typedef enum {
	MSB_HTTP_CONN_IDLE,     /* waiting for the first byte of a request */
	MSB_HTTP_CONN_HEAD,     /* request head arriving */
	MSB_HTTP_CONN_BODY,     /* head parsed, body arriving */
	MSB_HTTP_CONN_RESPONSE, /* request read; the handler answers, libsoup writes */
	MSB_HTTP_CONN_UPGRADED, /* a WebSocket now: its handler watches it, no deadlines */
} MsbHttpConnState;

typedef enum {
	MSB_HTTP_LOG_CAP,
	MSB_HTTP_LOG_BAD_REQUEST,
	MSB_HTTP_LOG_TOO_LARGE,
	MSB_HTTP_LOG_TIMEOUT,
	MSB_HTTP_N_LOG,
} MsbHttpLogKind;

typedef struct {
	MsbHttpServer *server;
	GSocketConnection *conn; /* weak: libsoup owns it */
	GSocket *socket;
	GSocketAddress *remote; /* carries the qdata that leads back here */
	gchar *peer;
	MsbHttpConnState state;
	gint64 body_bytes;
	gboolean cut;
	GSource *timer;
	GSource *watch; /* G_IO_IN while IDLE */
} MsbHttpConn;

struct _MsbHttpServer {
	gchar *name;
	MsbHttpLimits limits;
	SoupServer *soup;
	MsbListener *listener;
	GSocket *keepalive_listener;
	guint16 port;
	GHashTable *conns; /* MsbHttpConn set */
	MsbRateLimit log[MSB_HTTP_N_LOG];
};

static GQuark
msb_http_conn_quark(void)
{
	return g_quark_from_static_string("msb-http-conn");
}

static void
msb_http_server_log(MsbHttpServer *self, MsbHttpLogKind kind, const gchar *format, ...)
        G_GNUC_PRINTF(3, 4);

/* One line per kind and interval: a flood of bad requests must not become a flood of logs. */
static void
msb_http_server_log(MsbHttpServer *self, MsbHttpLogKind kind, const gchar *format, ...)
{
	g_autofree gchar *text = NULL;
	guint64 suppressed = 0;
	va_list args;

	if (!msb_rate_limit_check(&self->log[kind], &suppressed))
		return;
	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	if (suppressed > 0)
		g_message("%s: %s (and %" G_GUINT64_FORMAT " more like it in the last %u s)",
		          self->name, text, suppressed, (guint)(LOG_INTERVAL_US / G_USEC_PER_SEC));
	else
		g_message("%s: %s", self->name, text);
}

static void
msb_http_conn_clear_sources(MsbHttpConn *c)
{
	if (c->timer != NULL) {
		g_source_destroy(c->timer);
		g_clear_pointer(&c->timer, g_source_unref);
	}
	if (c->watch != NULL) {
		g_source_destroy(c->watch);
		g_clear_pointer(&c->watch, g_source_unref);
	}
}

/*
 * End a connection: shut the socket down both ways, close it and forget it. libsoup then fails
 * whatever it was reading. We do not wait for libsoup to drop the connection: libsoup 3.2 does
 * not notice a peer that hangs up between two requests (the socket would sit in CLOSE-WAIT for
 * ever), so an idle connection is only really gone once we close its socket.
 */
static void
msb_http_conn_cut(MsbHttpConn *c)
{
	if (c->cut)
		return;
	c->cut = TRUE;
	msb_http_conn_clear_sources(c);
	g_socket_shutdown(c->socket, TRUE, TRUE, NULL);
	g_socket_close(c->socket, NULL);
	/* frees @c */
	g_hash_table_remove(c->server->conns, c);
}

/* A whole answer in one non-blocking send, then cut (see the top of the file for why). */
static void
msb_http_conn_refuse(MsbHttpConn *c, SoupServerMessage *msg, guint status, const gchar *detail)
{
	g_autofree gchar *text = NULL;

	if (c->cut)
		return;
	/* a status set before the body is read keeps libsoup from calling the handler */
	if (msg != NULL)
		soup_server_message_set_status(msg, status, NULL);
	text = g_strdup_printf("HTTP/1.1 %u %s\r\n"
	                       "Connection: close\r\n"
	                       "Content-Type: text/plain; charset=utf-8\r\n"
	                       "Content-Length: %zu\r\n"
	                       "\r\n"
	                       "%s\n",
	                       status, soup_status_get_phrase(status), strlen(detail) + 1, detail);
	/* a client that reads nothing may have a full buffer: it then gets no answer, only the cut
	 */
	(void)g_socket_send_with_blocking(c->socket, text, strlen(text), FALSE, NULL, NULL);
	msb_http_conn_cut(c);
}

static gboolean
msb_http_conn_timeout_cb(gpointer user_data);
static gboolean
msb_http_conn_readable_cb(GSocket *socket, GIOCondition cond, gpointer user_data);

static void
msb_http_conn_arm_timer(MsbHttpConn *c, gint64 timeout_us)
{
	gint64 ms = (timeout_us + 999) / 1000;

	if (c->timer != NULL) {
		g_source_destroy(c->timer);
		g_clear_pointer(&c->timer, g_source_unref);
	}
	/* g_timeout_source_new() counts in guint milliseconds: about 49 days */
	if (ms > G_MAXUINT)
		c->timer = g_timeout_source_new_seconds((guint)MIN(ms / 1000, (gint64)G_MAXUINT));
	else
		c->timer = g_timeout_source_new((guint)ms);
	g_source_set_callback(c->timer, msb_http_conn_timeout_cb, c, NULL);
	g_source_attach(c->timer, NULL);
}

static void
msb_http_conn_set_idle(MsbHttpConn *c)
{
	if (c->cut || c->state == MSB_HTTP_CONN_UPGRADED || g_socket_is_closed(c->socket))
		return;
	c->state = MSB_HTTP_CONN_IDLE;
	msb_http_conn_arm_timer(c, c->server->limits.idle_timeout_us);
	if (c->watch == NULL) {
		c->watch = g_socket_create_source(c->socket, G_IO_IN, NULL);
		g_source_set_callback(c->watch, G_SOURCE_FUNC(msb_http_conn_readable_cb), c, NULL);
		g_source_attach(c->watch, NULL);
	}
}

/* The first byte of a request is here: from now on HttpRequestTimeout applies. */
static void
msb_http_conn_set_request(MsbHttpConn *c, MsbHttpConnState state)
{
	if (c->cut || c->state == MSB_HTTP_CONN_UPGRADED)
		return;
	if (c->state == MSB_HTTP_CONN_IDLE) {
		if (c->watch != NULL) {
			g_source_destroy(c->watch);
			g_clear_pointer(&c->watch, g_source_unref);
		}
		msb_http_conn_arm_timer(c, c->server->limits.request_timeout_us);
	}
	c->state = state;
}

/* TRUE if the peer of an idle connection hung up (end-of-file or an error is waiting). */
static gboolean
msb_http_conn_hung_up(MsbHttpConn *c)
{
	gchar byte;
	GInputVector vector = {&byte, 1};
	gint flags = G_SOCKET_MSG_PEEK;

	if (g_socket_is_closed(c->socket))
		return TRUE;
	if (g_socket_condition_check(c->socket, G_IO_IN | G_IO_HUP | G_IO_ERR) == 0)
		return FALSE;
	/* readable, so this does not block: a byte, or 0 at end-of-file */
	return g_socket_receive_message(c->socket, NULL, &vector, 1, NULL, NULL, &flags, NULL,
	                                NULL) <= 0;
}

static gboolean
msb_http_conn_readable_cb(GSocket *socket, GIOCondition cond, gpointer user_data)
{
	MsbHttpConn *c = user_data;

	/* libsoup 3.2 ignores the end of the stream between two requests: we close */
	if (msb_http_conn_hung_up(c)) {
		g_debug("%s: the connection from %s closed while idle", c->server->name, c->peer);
		msb_http_conn_cut(c);
		return G_SOURCE_REMOVE;
	}
	/*
	 * Bytes arrived (libsoup polls the same socket and may have read them into its buffer
	 * already, without a whole head to report): the request has begun. This destroys the
	 * watch, which GLib allows from its own callback.
	 */
	msb_http_conn_set_request(c, MSB_HTTP_CONN_HEAD);
	return G_SOURCE_REMOVE;
}

static gboolean
msb_http_conn_timeout_cb(gpointer user_data)
{
	MsbHttpConn *c = user_data;
	MsbHttpServer *self = c->server;
	/* our reference; GLib keeps its own while this runs */
	g_autoptr(GSource) timer G_GNUC_UNUSED = g_steal_pointer(&c->timer);

	if (c->state == MSB_HTTP_CONN_IDLE) {
		g_debug("%s: closing the connection from %s, idle for HttpIdleTimeout", self->name,
		        c->peer);
		msb_http_conn_cut(c);
	} else {
		msb_http_server_log(self, MSB_HTTP_LOG_TIMEOUT,
		                    "cut the connection from %s: its request took longer than "
		                    "HttpRequestTimeout",
		                    c->peer);
		/* once libsoup writes an answer, ours would corrupt it */
		if (c->state == MSB_HTTP_CONN_RESPONSE)
			msb_http_conn_cut(c);
		else
			msb_http_conn_refuse(c, NULL, SOUP_STATUS_REQUEST_TIMEOUT,
			                     "the request took longer than HttpRequestTimeout");
	}
	return G_SOURCE_REMOVE;
}

static MsbHttpConn *
msb_http_conn_from_msg(SoupServerMessage *msg)
{
	GSocketAddress *remote = soup_server_message_get_remote_address(msg);

	if (remote == NULL)
		return NULL;
	return g_object_get_qdata(G_OBJECT(remote), msb_http_conn_quark());
}

gboolean
msb_http_server_message_hung_up(SoupServerMessage *msg)
{
	MsbHttpConn *c;

	g_return_val_if_fail(SOUP_IS_SERVER_MESSAGE(msg), FALSE);
	c = msb_http_conn_from_msg(msg);
	/* a connection we do not know about is not ours to judge */
	return c != NULL && (c->cut || msb_http_conn_hung_up(c));
}

static void
msb_http_conn_gone_cb(gpointer user_data, GObject *where_the_object_was);

static void
msb_http_conn_free(MsbHttpConn *c)
{
	msb_http_conn_clear_sources(c);
	if (c->conn != NULL)
		g_object_weak_unref(G_OBJECT(c->conn), msb_http_conn_gone_cb, c);
	g_object_set_qdata(G_OBJECT(c->remote), msb_http_conn_quark(), NULL);
	g_object_unref(c->remote);
	g_object_unref(c->socket);
	g_free(c->peer);
	/* a descriptor is free: accepting may go on if it paused at the open-files limit */
	if (c->server->listener != NULL)
		msb_listener_resume(c->server->listener);
	g_free(c);
}

/* libsoup dropped the connection. */
static void
msb_http_conn_gone_cb(gpointer user_data, GObject *where_the_object_was)
{
	MsbHttpConn *c = user_data;

	c->conn = NULL;
	g_hash_table_remove(c->server->conns, c);
}

/* ---- checks on each request ---- */

static void
msb_http_got_headers_cb(SoupServerMessage *msg, gpointer user_data)
{
	MsbHttpConn *c = msb_http_conn_from_msg(msg);
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	const gchar *length;
	g_autofree gchar *detail = NULL;
	guint64 value = 0;

	if (c == NULL || c->cut)
		return;
	/* the head may have come out of libsoup's buffer, without the socket turning readable */
	msb_http_conn_set_request(c, MSB_HTTP_CONN_BODY);

	/* every Content-Length header, joined with ", ": duplicates are refused with the rest */
	length = soup_message_headers_get_list(headers, "Content-Length");
	if (length == NULL)
		return;
	if (!g_ascii_string_to_unsigned(length, 10, 0, G_MAXINT64, &value, NULL)) {
		g_autofree gchar *shown = g_strescape(length, NULL);

		detail =
		        g_strdup_printf("Content-Length \"%.64s\" is not a number of bytes", shown);
		msb_http_server_log(c->server, MSB_HTTP_LOG_BAD_REQUEST,
		                    "refused a request from %s: %s", c->peer, detail);
		msb_http_conn_refuse(c, msg, SOUP_STATUS_BAD_REQUEST, detail);
		return;
	}
	/* both framings at once is how requests are smuggled past proxies (RFC 9112 §6.1) */
	if (soup_message_headers_get_one(headers, "Transfer-Encoding") != NULL) {
		msb_http_server_log(
		        c->server, MSB_HTTP_LOG_BAD_REQUEST,
		        "refused a request from %s: Content-Length and Transfer-Encoding", c->peer);
		msb_http_conn_refuse(
		        c, msg, SOUP_STATUS_BAD_REQUEST,
		        "Content-Length and Transfer-Encoding together are not allowed");
		return;
	}
	if (value > (guint64)c->server->limits.max_body_size) {
		detail = g_strdup_printf("the body of %" G_GUINT64_FORMAT
		                         " bytes is larger than HttpMaxBodySize (%" G_GINT64_FORMAT
		                         " bytes)",
		                         value, c->server->limits.max_body_size);
		msb_http_server_log(c->server, MSB_HTTP_LOG_TOO_LARGE,
		                    "refused a request from %s: %s", c->peer, detail);
		msb_http_conn_refuse(c, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, detail);
	}
}

/* Chunked bodies announce no length: count them as they come (at most 8 KiB per chunk). */
static void
msb_http_got_chunk_cb(SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
	MsbHttpConn *c = msb_http_conn_from_msg(msg);
	g_autofree gchar *detail = NULL;

	if (c == NULL || c->cut)
		return;
	c->body_bytes += (gint64)g_bytes_get_size(chunk);
	if (c->body_bytes <= c->server->limits.max_body_size)
		return;
	detail = g_strdup_printf("the body is larger than HttpMaxBodySize (%" G_GINT64_FORMAT
	                         " bytes)",
	                         c->server->limits.max_body_size);
	msb_http_server_log(c->server, MSB_HTTP_LOG_TOO_LARGE, "refused a request from %s: %s",
	                    c->peer, detail);
	msb_http_conn_refuse(c, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, detail);
}

/* A new message on a connection: one per request. */
static void
msb_http_request_started_cb(SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
	MsbHttpConn *c = msb_http_conn_from_msg(msg);

	if (c == NULL)
		return;
	c->body_bytes = 0;
	g_signal_connect(msg, "got-headers", G_CALLBACK(msb_http_got_headers_cb), NULL);
	g_signal_connect(msg, "got-chunk", G_CALLBACK(msb_http_got_chunk_cb), NULL);
}

static void
msb_http_request_read_cb(SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
	MsbHttpConn *c = msb_http_conn_from_msg(msg);

	if (c != NULL)
		msb_http_conn_set_request(c, MSB_HTTP_CONN_RESPONSE);
}

/* Answer written (or the request failed): the connection waits for the next one. */
static void
msb_http_request_done_cb(SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
	MsbHttpConn *c = msb_http_conn_from_msg(msg);

	if (c != NULL)
		msb_http_conn_set_idle(c);
}

/* ---- accepting ---- */

/* Refuse a connection over HttpMaxConnections, as Redis does past maxclients: say why, close. */
static void
msb_http_server_refuse_socket(MsbHttpServer *self, GSocket *socket)
{
	g_autofree gchar *text = NULL;
	const gchar *detail = "too many HTTP connections (HttpMaxConnections); try again later\n";

	text = g_strdup_printf("HTTP/1.1 503 Service Unavailable\r\n"
	                       "Connection: close\r\n"
	                       "Retry-After: 1\r\n"
	                       "Content-Type: text/plain; charset=utf-8\r\n"
	                       "Content-Length: %zu\r\n"
	                       "\r\n"
	                       "%s",
	                       strlen(detail), detail);
	(void)g_socket_send_with_blocking(socket, text, strlen(text), FALSE, NULL, NULL);
	g_socket_shutdown(socket, FALSE, TRUE, NULL);
	g_socket_close(socket, NULL);
	msb_http_server_log(
	        self, MSB_HTTP_LOG_CAP,
	        "refused a connection: %u open, HttpMaxConnections is %" G_GINT64_FORMAT,
	        g_hash_table_size(self->conns), self->limits.max_connections);
}

/*
 * Close the idle connections whose clients hung up and that the main loop has not got to yet: a
 * client that connects again at once must not find its old connection still counted.
 */
static void
msb_http_server_reap(MsbHttpServer *self)
{
	g_autoptr(GPtrArray) gone = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, self->conns);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		MsbHttpConn *c = key;

		if (c->state == MSB_HTTP_CONN_IDLE && msb_http_conn_hung_up(c))
			g_ptr_array_add(gone, c);
	}
	for (guint i = 0; i < gone->len; i++)
		msb_http_conn_cut(g_ptr_array_index(gone, i));
}

/* MsbListener accepted @socket. */
static void
msb_http_server_take(GSocket *socket, gpointer user_data)
{
	MsbHttpServer *self = user_data;
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GSocketAddress) local = NULL;
	g_autoptr(GSocketAddress) remote = NULL;
	g_autoptr(GError) error = NULL;
	MsbHttpConn *c;

	if ((gint64)g_hash_table_size(self->conns) >= self->limits.max_connections)
		msb_http_server_reap(self);
	if ((gint64)g_hash_table_size(self->conns) >= self->limits.max_connections) {
		msb_http_server_refuse_socket(self, socket);
		return;
	}
	local = g_socket_get_local_address(socket, &error);
	if (local != NULL)
		remote = g_socket_get_remote_address(socket, &error);
	if (remote == NULL) {
		/* the client is gone already */
		g_debug("%s: dropping a connection: %s", self->name, error->message);
		g_socket_close(socket, NULL);
		return;
	}
	/* the head and the body of an answer are two writes: no Nagle delay between them */
	(void)g_socket_set_option(socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	conn = g_socket_connection_factory_create_connection(socket);

	c = g_new0(MsbHttpConn, 1);
	c->server = self;
	c->conn = conn;
	c->socket = g_object_ref(socket);
	c->remote = g_object_ref(remote);
	if (G_IS_INET_SOCKET_ADDRESS(remote)) {
		g_autofree gchar *ip = g_inet_address_to_string(
		        g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote)));

		c->peer = g_strdup_printf(
		        "%s:%u", ip, g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(remote)));
	} else {
		c->peer = g_strdup("?");
	}
	g_object_set_qdata(G_OBJECT(remote), msb_http_conn_quark(), c);
	g_object_weak_ref(G_OBJECT(conn), msb_http_conn_gone_cb, c);
	g_hash_table_add(self->conns, c);
	msb_http_conn_set_idle(c);
	/*
	 * libsoup reads what is there already before accept_iostream() returns, and our watch
	 * would never see it. (The same can happen to bytes that come with the end of an answer:
	 * such a request is held to HttpIdleTimeout instead.)
	 */
	if ((g_socket_condition_check(socket, G_IO_IN) & G_IO_IN) != 0)
		msb_http_conn_set_request(c, MSB_HTTP_CONN_HEAD);

	if (!soup_server_accept_iostream(self->soup, G_IO_STREAM(conn), local, remote, &error)) {
		g_warning("%s: cannot serve the connection from %s: %s", self->name, c->peer,
		          error->message);
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
	}
	/* from here libsoup holds the connection; our weak reference sees it go */
}

/*
 * libsoup 3.2 keeps a connection open after an answer only while the SoupServer has a listener
 * of its own (request_finished() in soup-server.c checks priv->listeners); connections given to
 * it with soup_server_accept_iostream() are otherwise closed after every request, and keep-alive
 * is lost. So it gets a listener nobody can reach: a Unix socket bound in a private temporary
 * folder that is removed at once. It costs one descriptor and never accepts anything.
 */
static gboolean
msb_http_server_add_keepalive_listener(MsbHttpServer *self, GError **error)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	g_autoptr(GSocket) socket = NULL;
	gboolean ok;

	dir = g_dir_make_tmp("msb-http-XXXXXX", error);
	if (dir == NULL)
		return FALSE;
	path = g_build_filename(dir, "unreachable", NULL);
	addr = g_unix_socket_address_new(path);
	socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
	                      error);
	ok = socket != NULL && g_socket_bind(socket, addr, FALSE, error) &&
	     g_socket_listen(socket, error);
	(void)g_unlink(path);
	(void)g_rmdir(dir);
	if (!ok || !soup_server_listen_socket(self->soup, socket, 0, error))
		return FALSE;
	self->keepalive_listener = g_steal_pointer(&socket);
	return TRUE;
}

gboolean
msb_http_server_listen(MsbHttpServer *self, const gchar *address, guint16 port, GError **error)
{
	g_autoptr(GInetAddress) inet = NULL;
	g_autoptr(MsbListener) listener = NULL;
	guint16 bound_port = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(address != NULL, FALSE);
	g_return_val_if_fail(self->listener == NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	inet = g_inet_address_new_from_string(address);
	if (inet == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "%s is not a numeric IP address", address);
		return FALSE;
	}
	listener = msb_listener_new((gint)self->limits.listen_backlog, msb_http_server_take, self);
	msb_listener_set_name(listener, self->name);
	if (!msb_listener_add_inet(listener, inet, port, &bound_port, error))
		return FALSE;
	if (self->keepalive_listener == NULL &&
	    !msb_http_server_add_keepalive_listener(self, error)) {
		g_prefix_error(error, "cannot set up HTTP keep-alive: ");
		return FALSE;
	}
	if (!msb_listener_start(listener, error))
		return FALSE;
	self->port = bound_port;
	self->listener = g_steal_pointer(&listener);
	return TRUE;
}

MsbHttpServer *
msb_http_server_new(const gchar *name, const MsbHttpLimits *limits)
{
	MsbHttpServer *self;

	g_return_val_if_fail(name != NULL, NULL);
	g_return_val_if_fail(limits != NULL, NULL);
	g_return_val_if_fail(limits->max_connections > 0, NULL);
	g_return_val_if_fail(limits->listen_backlog > 0, NULL);

	self = g_new0(MsbHttpServer, 1);
	self->name = g_strdup(name);
	self->limits = *limits;
	for (guint i = 0; i < MSB_HTTP_N_LOG; i++)
		self->log[i] = (MsbRateLimit)MSB_RATE_LIMIT_INIT(LOG_INTERVAL_US);
	self->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
	                                    (GDestroyNotify)msb_http_conn_free);
	self->soup = soup_server_new("server-header", name, NULL);
	g_signal_connect(self->soup, "request-started", G_CALLBACK(msb_http_request_started_cb),
	                 self);
	g_signal_connect(self->soup, "request-read", G_CALLBACK(msb_http_request_read_cb), self);
	g_signal_connect(self->soup, "request-finished", G_CALLBACK(msb_http_request_done_cb),
	                 self);
	g_signal_connect(self->soup, "request-aborted", G_CALLBACK(msb_http_request_done_cb), self);
	return self;
}

void
msb_http_server_free(MsbHttpServer *self)
{
	if (self == NULL)
		return;
	g_clear_pointer(&self->listener, msb_listener_free);
	g_signal_handlers_disconnect_by_data(self->soup, self);
	/* forget the connections first: closing them below must not call back into us */
	g_hash_table_destroy(self->conns);
	soup_server_disconnect(self->soup);
	g_object_unref(self->soup);
	g_clear_object(&self->keepalive_listener);
	g_free(self->name);
	g_free(self);
}

SoupServer *
msb_http_server_get_soup(MsbHttpServer *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->soup;
}

guint16
msb_http_server_get_port(MsbHttpServer *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->port;
}

guint
msb_http_server_get_n_connections(MsbHttpServer *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return g_hash_table_size(self->conns);
}

GSocket *
msb_http_server_upgraded(SoupServerMessage *msg)
{
	MsbHttpConn *c;

	g_return_val_if_fail(SOUP_IS_SERVER_MESSAGE(msg), NULL);
	c = msb_http_conn_from_msg(msg);
	if (c == NULL || c->cut)
		return NULL;
	msb_http_conn_clear_sources(c);
	c->state = MSB_HTTP_CONN_UPGRADED;
	return c->socket;
}
