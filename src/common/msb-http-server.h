/*
 * MsbHttpServer: the HTTP listener both programs share. It listens through an MsbListener (a
 * backlog sized for reconnect storms, back-off at the open-files limit), hands the connections
 * to a libsoup SoupServer, and enforces MsbHttpLimits on them: the body size limit (413), malformed
 * Content-Length (400), the idle keep-alive timeout, the request deadline and the connection cap.
 * The program adds its handlers to msb_http_server_get_soup().
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "msb-http-limits.h"

G_BEGIN_DECLS

typedef struct _MsbHttpServer MsbHttpServer;

/* @name ("my-service-bus/1.0") is the Server header and names the listener in log lines. */
MsbHttpServer *
msb_http_server_new(const gchar *name, const MsbHttpLimits *limits);
void
msb_http_server_free(MsbHttpServer *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbHttpServer, msb_http_server_free)

/*
 * TRUE if the client of @msg's connection hung up (end-of-file or an error is waiting) or the
 * connection was cut. libsoup does not read a connection whose request is paused, so a handler
 * that holds a request (a long poll) asks this before answering it.
 */
gboolean
msb_http_server_message_hung_up(SoupServerMessage *msg);

/* The SoupServer to add handlers to; owned by @self. */
SoupServer *
msb_http_server_get_soup(MsbHttpServer *self);

/* Listen on a numeric IP @address; @port 0 picks a free port (see msb_http_server_get_port()). */
gboolean
msb_http_server_listen(MsbHttpServer *self, const gchar *address, guint16 port, GError **error);
guint16
msb_http_server_get_port(MsbHttpServer *self);

/*
 * The connection of @msg became a WebSocket: HttpIdleTimeout and HttpRequestTimeout no longer
 * apply to it (its handler decides when it ends); it still counts against HttpMaxConnections
 * until it closes. Returns its socket (owned by the server, valid while the connection is open),
 * or NULL when the connection is not one of ours or is being closed.
 */
GSocket *
msb_http_server_upgraded(SoupServerMessage *msg);

/* Connections open now. */
guint
msb_http_server_get_n_connections(MsbHttpServer *self);

G_END_DECLS
