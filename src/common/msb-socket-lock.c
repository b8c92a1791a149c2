/*
 * The lock file beside a Unix socket (see msb-socket-lock.h). The lock file itself is left in
 * place at exit: removing it would let a process that opened it just before lock a file that is
 * no longer the one the next instance locks.
 */
#define G_LOG_DOMAIN "msb-socket-lock"

#include "msb-socket-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <sys/file.h>
#include <unistd.h>

gint
msb_socket_lock_acquire(const gchar *path, GError **error)
{
	g_autofree gchar *lock_path = NULL;
	gint fd;

	g_return_val_if_fail(path != NULL && path[0] != '\0', -1);
	g_return_val_if_fail(error == NULL || *error == NULL, -1);

	lock_path = g_strconcat(path, ".lock", NULL);
	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		gint saved = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
		            "Cannot create the lock file %s for the Unix socket %s: %s", lock_path,
		            path, g_strerror(saved));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		gint saved = errno;
		close(fd);
		if (saved == EWOULDBLOCK)
			g_set_error(
			        error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
			        "The Unix socket %s is served by another process (it holds %s); "
			        "stop it or choose another ListenUnixSocket",
			        path, lock_path);
		else
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
			            "Cannot lock %s: %s", lock_path, g_strerror(saved));
		return -1;
	}
	return fd;
}
