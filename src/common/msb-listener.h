/*
 * MsbListener: listening sockets and the loop that accepts from them, for both programs: the
 * broker's TCP and Unix ports and the HTTP port of each program (under MsbHttpServer). It
 * replaces GSocketService, which cannot stop accepting for a moment: at the open-files limit its
 * accept loop spins and logs a warning per try while the pending connection stays queued (and
 * libsoup's own listener stops accepting for good).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _MsbListener MsbListener;

/* A new client socket (non-blocking); take a reference to keep it. */
typedef void (*MsbListenerAcceptFunc)(GSocket *socket, gpointer user_data);

/* @backlog: the listen backlog of every socket (0: net.core.somaxconn). */
MsbListener *
msb_listener_new(gint backlog, MsbListenerAcceptFunc accepted, gpointer user_data);
/* Closes the sockets, removes the Unix socket file and releases its lock. */
void
msb_listener_free(MsbListener *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbListener, msb_listener_free)

/* @name ("my-service-bus/1.0") starts its log lines, for a program with several listeners. */
void
msb_listener_set_name(MsbListener *self, const gchar *name);
gint
msb_listener_get_backlog(MsbListener *self);
/* Bind @address:@port (0 picks a free port, returned in @bound_port); it listens from
 * msb_listener_start() on, connecting before is refused. */
gboolean
msb_listener_add_inet(MsbListener *self, GInetAddress *address, guint16 port, guint16 *bound_port,
                      GError **error);
/* Lock @path.lock for as long as we live: fails with G_IO_ERROR_ADDRESS_IN_USE while another
 * process serves @path. Done by msb_listener_add_unix() unless done before. */
gboolean
msb_listener_lock_unix(MsbListener *self, const gchar *path, GError **error);
/*
 * Bind the Unix socket @path (locked first): replaces a stale socket file, refuses to remove
 * anything that is not a socket or that a process still answers on.
 */
gboolean
msb_listener_add_unix(MsbListener *self, const gchar *path, GError **error);
/* Listen on every socket bound so far, with the backlog, and accept. */
gboolean
msb_listener_start(MsbListener *self, GError **error);
/* A descriptor was freed: if accepting is paused at the open-files limit, try again now. */
void
msb_listener_resume(MsbListener *self);
/* Stop accepting and close the sockets; the Unix socket file goes, its lock stays held. */
void
msb_listener_close(MsbListener *self);

G_END_DECLS
