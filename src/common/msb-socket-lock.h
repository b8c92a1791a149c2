/*
 * One process per Unix socket path: an exclusive flock() on PATH.lock, held for as long as the
 * process serves PATH. Binding a Unix socket means removing whatever file is at the path first, so
 * without this a second instance would silently take the socket away from a live first one.
 * Shared by the broker and the persistence service.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Lock @path's lock file (@path + ".lock", created if missing). Returns its descriptor (close it
 * to release the lock), or -1 with G_IO_ERROR_ADDRESS_IN_USE when another process holds it.
 */
gint
msb_socket_lock_acquire(const gchar *path, GError **error);

G_END_DECLS
