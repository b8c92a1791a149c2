/*
 * MsbConnection: socket I/O for one client.
 *
 * Reads go straight into the input buffer (big chunks, many packets per read); the decoder works
 * on views of it, and bytes are consumed only when a whole packet has been handled. Writes are
 * whatever the broker appended to the session's output buffer, sent with one send() per flush.
 * Backpressure: while more than the send-buffer size is queued for this client, the broker gives
 * it no new batches and we stop reading from it, so a client that does not read cannot make the
 * broker buffer without bound.
 *
 * Bytes of a packet that is not complete yet are "incomplete": their first byte starts the
 * PacketReceiveTimeout clock (read by the server's tick), and their count over all connections is
 * kept in a counter the server shares with every connection. A read that would take that count
 * above MaxIncompletePacketsSize closes its connection (Redis closes a client over
 * client-query-buffer-limit likewise): memory stays bounded whatever the clients hold back.
 */
#define G_LOG_DOMAIN "msb-connection"

#include "msb-connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "msb-log.h"

/* read at most this much per wake-up so that one busy client cannot starve the others */
#define MSB_CONNECTION_READ_CHUNK  (256 * 1024)
#define MSB_CONNECTION_READ_BUDGET (1024 * 1024)
/* an empty buffer above this is freed by msb_connection_release_idle_buffers() */
#define MSB_CONNECTION_IDLE_BUFFER (64 * 1024)

struct _MsbConnection {
	gint ref_count;
	GSocketConnection *sockconn;
	GSocket *socket;
	MsbBroker *broker;
	MsbSession *session;
	MsbBuf in;
	MsbWireDecoder dec;
	gsize need; /* don't decode again before this many bytes are buffered */
	gsize send_buffer_size;
	GSource *read_source;
	GSource *write_source;
	gint64 last_receive_us;
	gint64 connected_at_us;
	gint64 incomplete_since_us; /* when the unfinished packet's first bytes came; 0: none */
	gsize incomplete;           /* bytes buffered in @in, counted in *incomplete_total */
	gsize *incomplete_total;    /* shared by all connections; NULL: not counted */
	gsize incomplete_max;       /* ceiling of *incomplete_total, 0: none */
	gboolean closed;
	gboolean congested; /* output above the send-buffer size */
	gchar *peer;
	MsbConnectionHooks hooks;
	gpointer hooks_data;
};

static gboolean
msb_connection_readable_cb(GSocket *socket, GIOCondition condition, gpointer user_data);

static gchar *
msb_connection_describe_peer(GSocketConnection *sockconn)
{
	g_autoptr(GSocketAddress) addr = g_socket_connection_get_remote_address(sockconn, NULL);

	if (G_IS_INET_SOCKET_ADDRESS(addr)) {
		GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS(addr);
		g_autofree gchar *ip =
		        g_inet_address_to_string(g_inet_socket_address_get_address(inet));
		return g_strdup_printf("%s:%u", ip, g_inet_socket_address_get_port(inet));
	}
	return g_strdup("unix");
}

static void
msb_connection_watch_read(MsbConnection *conn, gboolean enable)
{
	if (enable && conn->read_source == NULL) {
		conn->read_source = g_socket_create_source(conn->socket, G_IO_IN, NULL);
		/* GLib blocks a source that cannot recurse while it is dispatched: it removes and
		 * re-adds its fd, and both signal the context's eventfd (GLib 2.74), so every
		 * readable wake-up cost two write()s and a read() to clear the eventfd: 5 of the
		 * broker's 12 syscalls in a one-message round trip (bench/RESULTS.md). Nothing
		 * iterates the main context from inside packet handling (only main.c runs the
		 * loop), so this callback is never re-entered. */
		g_source_set_can_recurse(conn->read_source, TRUE);
		g_source_set_callback(conn->read_source, G_SOURCE_FUNC(msb_connection_readable_cb),
		                      conn, NULL);
		g_source_attach(conn->read_source, NULL);
	} else if (!enable && conn->read_source != NULL) {
		g_source_destroy(conn->read_source);
		g_clear_pointer(&conn->read_source, g_source_unref);
	}
}

MsbConnection *
msb_connection_new(GSocketConnection *sockconn, MsbBroker *broker, gsize max_packet_size,
                   gsize send_buffer_size, const MsbConnectionHooks *hooks, gpointer user_data)
{
	MsbConnection *conn;
	g_autoptr(GError) error = NULL;

	g_return_val_if_fail(G_IS_SOCKET_CONNECTION(sockconn), NULL);
	g_return_val_if_fail(broker != NULL, NULL);

	conn = g_new0(MsbConnection, 1);
	conn->ref_count = 1;
	conn->sockconn = g_object_ref(sockconn);
	conn->socket = g_socket_connection_get_socket(sockconn);
	conn->broker = broker;
	conn->send_buffer_size = send_buffer_size;
	conn->hooks = *hooks;
	conn->hooks_data = user_data;
	conn->peer = msb_connection_describe_peer(sockconn);
	conn->last_receive_us = g_get_monotonic_time();
	conn->connected_at_us = conn->last_receive_us;
	conn->need = 1;
	msb_buf_init(&conn->in, 0);
	msb_wire_decoder_init(&conn->dec, max_packet_size);
	conn->session = msb_broker_session_new(
	        broker,
	        g_socket_get_family(conn->socket) == G_SOCKET_FAMILY_UNIX ? MSB_SESSION_KIND_UNIX
	                                                                  : MSB_SESSION_KIND_TCP,
	        conn->peer, conn);

	g_socket_set_blocking(conn->socket, FALSE);
	if (g_socket_get_family(conn->socket) != G_SOCKET_FAMILY_UNIX &&
	    !g_socket_set_option(conn->socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
		g_debug("%s: cannot set TCP_NODELAY: %s", conn->peer, error->message);
	msb_connection_watch_read(conn, TRUE);
	{
		MsbLogFields fields = msb_session_log_fields(conn->session);

		msb_debug_fields(&fields, "%s: connected (session %" G_GINT64_FORMAT ")",
		                 conn->peer, msb_session_get_id(conn->session));
	}
	return conn;
}

MsbConnection *
msb_connection_ref(MsbConnection *conn)
{
	g_return_val_if_fail(conn != NULL, NULL);
	conn->ref_count++;
	return conn;
}

void
msb_connection_unref(MsbConnection *conn)
{
	if (conn == NULL || --conn->ref_count > 0)
		return;
	g_warn_if_fail(conn->closed);
	msb_buf_clear(&conn->in);
	msb_wire_decoder_clear(&conn->dec);
	g_clear_object(&conn->sockconn);
	g_free(conn->peer);
	g_free(conn);
}

MsbSession *
msb_connection_get_session(MsbConnection *conn)
{
	g_return_val_if_fail(conn != NULL, NULL);
	return conn->session;
}

const gchar *
msb_connection_get_peer(MsbConnection *conn)
{
	g_return_val_if_fail(conn != NULL, NULL);
	return conn->peer;
}

gboolean
msb_connection_is_closed(MsbConnection *conn)
{
	g_return_val_if_fail(conn != NULL, TRUE);
	return conn->closed;
}

gint64
msb_connection_get_last_receive(MsbConnection *conn)
{
	g_return_val_if_fail(conn != NULL, 0);
	return conn->last_receive_us;
}

gint64
msb_connection_get_connected_at(MsbConnection *conn)
{
	g_return_val_if_fail(conn != NULL, 0);
	return conn->connected_at_us;
}

gint64
msb_connection_get_incomplete_since(MsbConnection *conn)
{
	g_return_val_if_fail(conn != NULL, 0);
	/* while we do not read (back-pressure) the client cannot finish the packet */
	if (conn->congested)
		return 0;
	return conn->incomplete_since_us;
}

void
msb_connection_set_incomplete_limit(MsbConnection *conn, gsize *total, gsize max)
{
	g_return_if_fail(conn != NULL);
	g_return_if_fail(conn->incomplete_total == NULL);
	g_return_if_fail(total != NULL);
	conn->incomplete_total = total;
	conn->incomplete_max = max;
	*total += conn->incomplete;
}

static void
msb_connection_set_incomplete(MsbConnection *conn, gsize n)
{
	if (conn->incomplete_total != NULL)
		*conn->incomplete_total = *conn->incomplete_total - conn->incomplete + n;
	conn->incomplete = n;
}

/* Count what @in holds now against the shared ceiling. FALSE if that closed the connection. */
static gboolean
msb_connection_account_input(MsbConnection *conn)
{
	gsize held = msb_buf_pending(&conn->in);
	gsize total;

	if (held == 0) {
		conn->incomplete_since_us = 0;
		/* give memory back after a big packet */
		if (conn->in.cap > 2 * MSB_CONNECTION_READ_BUDGET)
			msb_buf_shrink(&conn->in, MSB_CONNECTION_READ_CHUNK);
	} else if (conn->incomplete_since_us == 0)
		conn->incomplete_since_us = g_get_monotonic_time();
	if (held <= conn->incomplete || conn->incomplete_total == NULL ||
	    conn->incomplete_max == 0) {
		msb_connection_set_incomplete(conn, held);
		return TRUE;
	}
	total = *conn->incomplete_total - conn->incomplete + held;
	if (total <= conn->incomplete_max) {
		msb_connection_set_incomplete(conn, held);
		return TRUE;
	}
	g_warning("%s: closing the connection: its unfinished packet (%" G_GSIZE_FORMAT
	          " bytes so far) would take the bytes of unfinished packets over all connections "
	          "to %" G_GSIZE_FORMAT ", above MaxIncompletePacketsSize (%" G_GSIZE_FORMAT ")",
	          conn->peer, held, total, conn->incomplete_max);
	msb_connection_close(conn, "MaxIncompletePacketsSize reached");
	return FALSE;
}

static gboolean
msb_connection_writable_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	MsbConnection *conn = user_data;

	g_clear_pointer(&conn->write_source, g_source_unref);
	msb_connection_flush(conn);
	return G_SOURCE_REMOVE;
}

void
msb_connection_flush(MsbConnection *conn)
{
	MsbBuf *out;
	gsize limit;

	g_return_if_fail(conn != NULL);
	if (conn->closed)
		return;
	out = msb_session_get_output(conn->session);
	limit = conn->send_buffer_size;
	/* While a write waits for G_IO_OUT the socket is full, so there is no point in trying
	 * again; the back-pressure check below must still run, though: a client that sends but
	 * never reads keeps the socket full, and if we stopped looking at the output then, its
	 * answers would pile up here without bound while we go on reading its requests. */
	while (conn->write_source == NULL && msb_buf_pending(out) > 0) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_send(conn->socket, (const gchar *)msb_buf_head(out),
		                         msb_buf_pending(out), NULL, &error);
		if (n < 0) {
			if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
				conn->write_source =
				        g_socket_create_source(conn->socket, G_IO_OUT, NULL);
				g_source_set_callback(conn->write_source,
				                      G_SOURCE_FUNC(msb_connection_writable_cb),
				                      conn, NULL);
				g_source_attach(conn->write_source, NULL);
				break;
			}
			msb_connection_close(conn, error->message);
			return;
		}
		msb_buf_consume(out, (gsize)n);
		msb_broker_session_count_io(conn->broker, conn->session, 0, (gsize)n);
	}
	/* give memory back after a large batch */
	if (msb_buf_pending(out) == 0 && out->cap > 2 * limit)
		msb_buf_shrink(out, 64 * 1024);

	if (msb_buf_pending(out) >= limit) {
		if (!conn->congested) {
			g_debug("%s: %" G_GSIZE_FORMAT " bytes queued; not reading until it drains",
			        conn->peer, msb_buf_pending(out));
			conn->congested = TRUE;
			msb_connection_watch_read(conn, FALSE);
		}
	} else if (conn->congested && msb_buf_pending(out) < limit / 2) {
		conn->congested = FALSE;
		/* the clock of a packet left unfinished restarts with reading */
		if (conn->incomplete_since_us != 0)
			conn->incomplete_since_us = g_get_monotonic_time();
		msb_connection_watch_read(conn, TRUE);
		msb_broker_session_drained(conn->broker, conn->session);
	}
}

void
msb_connection_release_idle_buffers(MsbConnection *conn)
{
	MsbBuf *out;

	g_return_if_fail(conn != NULL);
	if (conn->closed)
		return;
	/* no packet views into the input live between reads; a busy connection pays at most
	 * one regrowth a second for this */
	if (msb_buf_pending(&conn->in) == 0 && conn->in.cap > MSB_CONNECTION_IDLE_BUFFER)
		msb_buf_clear(&conn->in);
	out = msb_session_get_output(conn->session);
	if (msb_buf_pending(out) == 0 && out->cap > MSB_CONNECTION_IDLE_BUFFER)
		msb_buf_clear(out);
}

void
msb_connection_close(MsbConnection *conn, const gchar *reason)
{
	g_autoptr(GError) error = NULL;
	MsbSession *session;
	MsbBuf *out;

	g_return_if_fail(conn != NULL);
	if (conn->closed)
		return;
	conn->closed = TRUE;
	msb_connection_ref(conn);
	{
		MsbLogFields fields = msb_session_log_fields(conn->session);

		msb_info_fields(&fields, "%s: connection closed: %s", conn->peer, reason);
	}
	msb_connection_watch_read(conn, FALSE);
	if (conn->write_source != NULL) {
		g_source_destroy(conn->write_source);
		g_clear_pointer(&conn->write_source, g_source_unref);
	}
	/* best effort: a Reject explaining why is often still queued */
	session = conn->session;
	out = msb_session_get_output(session);
	if (msb_buf_pending(out) > 0)
		(void)g_socket_send(conn->socket, (const gchar *)msb_buf_head(out),
		                    msb_buf_pending(out), NULL, NULL);
	if (!g_io_stream_close(G_IO_STREAM(conn->sockconn), NULL, &error))
		g_debug("%s: close: %s", conn->peer, error->message);
	conn->session = NULL;
	msb_connection_set_incomplete(conn, 0);
	msb_broker_session_close(conn->broker, session);
	if (conn->hooks.closed != NULL)
		conn->hooks.closed(conn, conn->hooks_data);
	msb_connection_unref(conn);
}

/* Decode and handle every whole packet in the input buffer. FALSE if the connection closed. */
static gboolean
msb_connection_process_input(MsbConnection *conn)
{
	while (!conn->closed && msb_buf_pending(&conn->in) >= conn->need) {
		g_autoptr(GError) error = NULL;
		MsbPacket packet;
		gsize consumed = 0;
		MsbWireDecodeResult res =
		        msb_wire_decode(&conn->dec, msb_buf_head(&conn->in),
		                        msb_buf_pending(&conn->in), &packet, &consumed, &error);

		if (res == MSB_WIRE_DECODE_NEED_MORE) {
			conn->need = consumed;
			break;
		}
		if (res == MSB_WIRE_DECODE_ERROR) {
			g_autofree gchar *why =
			        g_strdup_printf("protocol error: %s", error->message);
			MsbLogFields fields = msb_session_log_fields(conn->session);

			msb_warning_fields(&fields, "%s: %s", conn->peer, why);
			msb_connection_close(conn, why);
			return FALSE;
		}
		if (!msb_broker_handle_packet(conn->broker, conn->session, &packet, &error)) {
			/* the error may quote what the client sent */
			g_autofree gchar *shown = msb_log_sanitize(error->message);
			MsbLogFields fields = msb_session_log_fields(conn->session);

			msb_warning_fields(&fields, "%s: %s", conn->peer, shown);
			msb_connection_close(conn, error->message);
			return FALSE;
		}
		/* Greeting and PacketVersions change how the next packet is parsed (no other packet
		 * does, so the others cost no call here) */
		if (packet.id == MSB_PACKET_GREETING || packet.id == MSB_PACKET_PACKET_VERSIONS) {
			conn->dec.protocol_version =
			        msb_session_get_protocol_version(conn->session);
			conn->dec.new_messages_version =
			        msb_session_get_new_messages_version(conn->session);
		}
		msb_buf_consume(&conn->in, consumed);
		conn->need = 1;
		/* the next packet's clock starts with its own first bytes */
		conn->incomplete_since_us = 0;
	}
	return TRUE;
}

static gboolean
msb_connection_readable_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	g_autoptr(MsbConnection) conn = msb_connection_ref(user_data);
	gsize budget = MSB_CONNECTION_READ_BUDGET;
	gboolean got_data = FALSE;

	while (budget > 0 && !conn->closed) {
		g_autoptr(GError) error = NULL;
		/* grow towards a big packet as its bytes arrive, not by what its header claims:
		 * a client announcing MaxPacketSize must send that much to make us hold it */
		gsize missing = conn->need > msb_buf_pending(&conn->in)
		                        ? conn->need - msb_buf_pending(&conn->in)
		                        : 0;
		gsize want = CLAMP(missing, MSB_CONNECTION_READ_CHUNK, MSB_CONNECTION_READ_BUDGET);
		guint8 *dst;
		gsize space;
		gssize n;

		if (conn->in.off > 0 && conn->in.off >= conn->in.len / 2)
			msb_buf_compact(&conn->in);
		dst = msb_buf_reserve(&conn->in, want);
		space = conn->in.cap - conn->in.len;
		n = g_socket_receive(socket, (gchar *)dst, space, NULL, &error);
		if (n < 0) {
			if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				break;
			msb_connection_close(conn, error->message);
			break;
		}
		if (n == 0) {
			msb_connection_close(conn, "closed by the client");
			break;
		}
		conn->in.len += (gsize)n;
		msb_broker_session_count_io(conn->broker, conn->session, (gsize)n, 0);
		budget = (gsize)n >= budget ? 0 : budget - (gsize)n;
		got_data = TRUE;
		if (!msb_connection_process_input(conn))
			break;
		if (!msb_connection_account_input(conn))
			break;
		if (conn->congested)
			break;
		/* a short read emptied the socket: the poll reports the next bytes, so another
		 * receive now would only return EAGAIN (one wasted syscall per wake-up) */
		if ((gsize)n < space)
			break;
	}
	if (got_data)
		conn->last_receive_us = g_get_monotonic_time();
	if (conn->hooks.input_done != NULL)
		conn->hooks.input_done(conn, conn->hooks_data);
	if (conn->closed || conn->read_source == NULL)
		return G_SOURCE_REMOVE;
	return G_SOURCE_CONTINUE;
}
