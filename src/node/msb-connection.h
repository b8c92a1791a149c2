/*
 * MsbConnection: one client socket (TCP or Unix) of the broker: its input buffer and decoder, the
 * broker session that owns its output buffer, and the non-blocking reads and writes between them.
 */
#pragma once

#include <gio/gio.h>

#include "msb-broker.h"

G_BEGIN_DECLS

typedef struct _MsbConnection MsbConnection;

typedef struct {
	/* the connection closed (its session is gone); drop the reference you hold */
	void (*closed)(MsbConnection *conn, gpointer user_data);
	/* packets were handled: run deliveries and flush every connection with output */
	void (*input_done)(MsbConnection *conn, gpointer user_data);
} MsbConnectionHooks;

MsbConnection *
msb_connection_new(GSocketConnection *sockconn, MsbBroker *broker, gsize max_packet_size,
                   gsize send_buffer_size, const MsbConnectionHooks *hooks, gpointer user_data);
MsbConnection *
msb_connection_ref(MsbConnection *conn);
void
msb_connection_unref(MsbConnection *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbConnection, msb_connection_unref)

MsbSession *
msb_connection_get_session(MsbConnection *conn);
const gchar *
msb_connection_get_peer(MsbConnection *conn);
gboolean
msb_connection_is_closed(MsbConnection *conn);
/* Monotonic µs of the last byte received. */
gint64
msb_connection_get_last_receive(MsbConnection *conn);
/* Monotonic µs of the accept. */
gint64
msb_connection_get_connected_at(MsbConnection *conn);
/* Monotonic µs of the first byte of a packet not yet received whole; 0 when there is none or
 * while the connection is not read (back-pressure). */
gint64
msb_connection_get_incomplete_since(MsbConnection *conn);
/* Count the bytes of unfinished packets in *@total, shared by many connections; a read that
 * takes it above @max (0: no ceiling) closes this connection. */
void
msb_connection_set_incomplete_limit(MsbConnection *conn, gsize *total, gsize max);

/* Write as much pending output as the socket takes; waits for G_IO_OUT for the rest. */
void
msb_connection_flush(MsbConnection *conn);
/*
 * Periodically (the server's 1 s tick): give the input and output buffers back to the allocator
 * while they are empty and were grown by a burst, so that a connection that is idle now holds no
 * more than MSB_CONNECTION_IDLE_BUFFER bytes each.
 */
void
msb_connection_release_idle_buffers(MsbConnection *conn);
/* Close now (after a best-effort flush); runs disconnect processing. Idempotent. */
void
msb_connection_close(MsbConnection *conn, const gchar *reason);

G_END_DECLS
