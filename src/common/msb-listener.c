/*
 * MsbListener: listening sockets and the accept loop of both programs (see msb-listener.h).
 *
 * Each listening socket has a G_IO_IN source; a wake-up accepts up to a batch of connections, so
 * that a reconnect storm empties the backlog quickly without starving the clients already served.
 * When accept() fails for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) the
 * pending connection stays queued and the socket stays readable, so the sources are removed and a
 * timer brings them back: 100 ms, doubling up to 1 s while it keeps failing, or at once when a
 * connection closes. The failure is logged at most once per MSB_LISTENER_LOG_INTERVAL_US.
 */
#define G_LOG_DOMAIN "msb-listener"

#include "msb-listener.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msb-os-limits.h"
#include "msb-rate-limit.h"
#include "msb-socket-lock.h"

/* connections accepted per wake-up of one listening socket */
#define MSB_LISTENER_ACCEPT_BATCH    256
#define MSB_LISTENER_BACKOFF_MIN_MS  100
#define MSB_LISTENER_BACKOFF_MAX_MS  1000
#define MSB_LISTENER_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

typedef struct {
	MsbListener *self;
	GSocket *socket;
	GSource *source; /* NULL while paused or closed */
} MsbListenerSocket;

struct _MsbListener {
	gint backlog;
	MsbListenerAcceptFunc accepted;
	gpointer user_data;
	GPtrArray *sockets; /* MsbListenerSocket* */
	gboolean started;
	guint backoff_id;
	guint backoff_ms; /* the current pause; 0 after an accept succeeded */
	MsbRateLimit fail_log;
	gchar *name;        /* starts log lines, or NULL */
	gchar *unix_path;   /* the socket file we created */
	gchar *locked_path; /* the socket path whose PATH.lock we hold */
	gint lock_fd;       /* the lock on locked_path.lock, or -1 */
};

static void
msb_listener_socket_free(MsbListenerSocket *ls)
{
	if (ls->source != NULL) {
		g_source_destroy(ls->source);
		g_source_unref(ls->source);
	}
	(void)g_socket_close(ls->socket, NULL);
	g_object_unref(ls->socket);
	g_free(ls);
}

MsbListener *
msb_listener_new(gint backlog, MsbListenerAcceptFunc accepted, gpointer user_data)
{
	MsbListener *self;

	g_return_val_if_fail(backlog >= 0, NULL);
	g_return_val_if_fail(accepted != NULL, NULL);

	self = g_new0(MsbListener, 1);
	self->backlog = backlog > 0 ? backlog : msb_os_limits_get_somaxconn();
	self->accepted = accepted;
	self->user_data = user_data;
	self->sockets = g_ptr_array_new_with_free_func((GDestroyNotify)msb_listener_socket_free);
	self->fail_log = (MsbRateLimit)MSB_RATE_LIMIT_INIT(MSB_LISTENER_LOG_INTERVAL_US);
	self->lock_fd = -1;
	return self;
}

void
msb_listener_set_name(MsbListener *self, const gchar *name)
{
	g_return_if_fail(self != NULL);
	g_free(self->name);
	self->name = g_strdup(name);
}

gint
msb_listener_get_backlog(MsbListener *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->backlog;
}

static void
msb_listener_stop_sources(MsbListener *self)
{
	for (guint i = 0; i < self->sockets->len; i++) {
		MsbListenerSocket *ls = g_ptr_array_index(self->sockets, i);

		if (ls->source != NULL) {
			g_source_destroy(ls->source);
			g_clear_pointer(&ls->source, g_source_unref);
		}
	}
}

static gboolean
msb_listener_readable_cb(GSocket *socket, GIOCondition condition, gpointer user_data);

static void
msb_listener_start_sources(MsbListener *self)
{
	for (guint i = 0; i < self->sockets->len; i++) {
		MsbListenerSocket *ls = g_ptr_array_index(self->sockets, i);

		if (ls->source != NULL)
			continue;
		ls->source = g_socket_create_source(ls->socket, G_IO_IN, NULL);
		g_source_set_callback(ls->source, G_SOURCE_FUNC(msb_listener_readable_cb), ls,
		                      NULL);
		g_source_attach(ls->source, NULL);
	}
}

static gboolean
msb_listener_backoff_done_cb(gpointer user_data)
{
	MsbListener *self = user_data;

	self->backoff_id = 0;
	msb_listener_start_sources(self);
	return G_SOURCE_REMOVE;
}

/* accept() failed for want of a resource: pause, log at most once per interval */
static void
msb_listener_pause(MsbListener *self, gint err)
{
	guint64 suppressed = 0;

	self->backoff_ms = self->backoff_ms == 0
	                           ? MSB_LISTENER_BACKOFF_MIN_MS
	                           : MIN(self->backoff_ms * 2, MSB_LISTENER_BACKOFF_MAX_MS);
	msb_listener_stop_sources(self);
	g_clear_handle_id(&self->backoff_id, g_source_remove);
	self->backoff_id = g_timeout_add(self->backoff_ms, msb_listener_backoff_done_cb, self);
	if (msb_rate_limit_check(&self->fail_log, &suppressed)) {
		struct rlimit rl = {0};

		(void)getrlimit(RLIMIT_NOFILE, &rl);
		g_warning("%s%scannot accept connections: %s (open files limit %" G_GUINT64_FORMAT
		          "); not accepting for %u ms, the connections already open are served "
		          "(%" G_GUINT64_FORMAT " more such failures in the last %d s)",
		          self->name != NULL ? self->name : "", self->name != NULL ? ": " : "",
		          g_strerror(err), (guint64)rl.rlim_cur, self->backoff_ms, suppressed,
		          (gint)(MSB_LISTENER_LOG_INTERVAL_US / G_USEC_PER_SEC));
	}
}

static gboolean
msb_listener_readable_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	MsbListenerSocket *ls = user_data;
	MsbListener *self = ls->self;

	for (guint i = 0; i < MSB_LISTENER_ACCEPT_BATCH; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GSocket) client = NULL;
		gint fd =
		        accept4(g_socket_get_fd(socket), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			gint err = errno;

			if (err == EINTR || err == ECONNABORTED || err == EPROTO)
				continue;
			if (err == EAGAIN || err == EWOULDBLOCK)
				break;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM or worse: no use retrying at once */
			msb_listener_pause(self, err);
			return G_SOURCE_REMOVE;
		}
		client = g_socket_new_from_fd(fd, &error);
		if (client == NULL) {
			g_debug("cannot use an accepted socket: %s", error->message);
			close(fd);
			continue;
		}
		self->backoff_ms = 0;
		self->accepted(client, self->user_data);
		/* the callback may have closed us (and freed @ls) */
		if (!self->started)
			return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
msb_listener_add_socket(MsbListener *self, GSocketAddress *address, GSocketProtocol protocol,
                        GSocketAddress **effective, GError **error)
{
	g_autoptr(GSocket) socket = NULL;
	MsbListenerSocket *ls;

	socket = g_socket_new(g_socket_address_get_family(address), G_SOCKET_TYPE_STREAM, protocol,
	                      error);
	if (socket == NULL)
		return FALSE;
	/* reuse: a restart must not wait for the old connections' TIME_WAIT */
	if (!g_socket_bind(socket, address, TRUE, error))
		return FALSE;
	if (effective != NULL) {
		*effective = g_socket_get_local_address(socket, error);
		if (*effective == NULL)
			return FALSE;
	}
	ls = g_new0(MsbListenerSocket, 1);
	ls->self = self;
	ls->socket = g_steal_pointer(&socket);
	g_ptr_array_add(self->sockets, ls);
	return TRUE;
}

gboolean
msb_listener_add_inet(MsbListener *self, GInetAddress *address, guint16 port, guint16 *bound_port,
                      GError **error)
{
	g_autoptr(GSocketAddress) addr = NULL;
	g_autoptr(GSocketAddress) effective = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(G_IS_INET_ADDRESS(address), FALSE);

	addr = g_inet_socket_address_new(address, port);
	if (!msb_listener_add_socket(self, addr, G_SOCKET_PROTOCOL_TCP, &effective, error))
		return FALSE;
	if (bound_port != NULL)
		*bound_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
	return TRUE;
}

/* Something answers on @path: a process that serves it without our lock (an older broker). */
static gboolean
msb_listener_unix_is_live(const gchar *path)
{
	g_autoptr(GSocket) probe = NULL;
	g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
	g_autoptr(GError) error = NULL;

	probe = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
	                     NULL);
	if (probe == NULL)
		return FALSE;
	g_socket_set_blocking(probe, FALSE);
	if (g_socket_connect(probe, addr, NULL, &error))
		return TRUE;
	/* a full backlog says "try again", which is an answer too */
	return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
	       g_error_matches(error, G_IO_ERROR, G_IO_ERROR_PENDING);
}

gboolean
msb_listener_lock_unix(MsbListener *self, const gchar *path, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);

	if (self->lock_fd >= 0) {
		g_return_val_if_fail(g_strcmp0(self->locked_path, path) == 0, FALSE);
		return TRUE;
	}
	self->lock_fd = msb_socket_lock_acquire(path, error);
	if (self->lock_fd < 0)
		return FALSE;
	self->locked_path = g_strdup(path);
	return TRUE;
}

gboolean
msb_listener_add_unix(MsbListener *self, const gchar *path, GError **error)
{
	g_autoptr(GSocketAddress) addr = NULL;
	GStatBuf st;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(self->unix_path == NULL, FALSE);

	if (!msb_listener_lock_unix(self, path, error))
		return FALSE;
	/* we hold the lock, so a socket file here was left by a broker that did not exit
	 * cleanly and would make bind() fail */
	if (g_lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			g_set_error(
			        error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			        "%s exists and is not a socket; remove it or choose another path",
			        path);
			return FALSE;
		}
		if (msb_listener_unix_is_live(path)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
			            "The Unix socket %s is served by a process that does not lock "
			            "%s.lock (an older broker?); stop it or choose another "
			            "ListenUnixSocket",
			            path, path);
			return FALSE;
		}
		(void)g_unlink(path);
	}
	addr = g_unix_socket_address_new(path);
	if (!msb_listener_add_socket(self, addr, G_SOCKET_PROTOCOL_DEFAULT, NULL, error))
		return FALSE;
	self->unix_path = g_strdup(path);
	return TRUE;
}

gboolean
msb_listener_start(MsbListener *self, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(!self->started, FALSE);

	for (guint i = 0; i < self->sockets->len; i++) {
		MsbListenerSocket *ls = g_ptr_array_index(self->sockets, i);

		g_socket_set_listen_backlog(ls->socket, self->backlog);
		if (!g_socket_listen(ls->socket, error))
			return FALSE;
	}
	self->started = TRUE;
	msb_listener_start_sources(self);
	return TRUE;
}

void
msb_listener_resume(MsbListener *self)
{
	g_return_if_fail(self != NULL);
	if (self->backoff_id == 0)
		return;
	g_clear_handle_id(&self->backoff_id, g_source_remove);
	msb_listener_start_sources(self);
}

void
msb_listener_close(MsbListener *self)
{
	g_return_if_fail(self != NULL);
	self->started = FALSE;
	g_clear_handle_id(&self->backoff_id, g_source_remove);
	g_ptr_array_set_size(self->sockets, 0);
	/* removed while we still hold the lock, so it cannot be another broker's */
	if (self->unix_path != NULL)
		(void)g_unlink(self->unix_path);
}

void
msb_listener_free(MsbListener *self)
{
	if (self == NULL)
		return;
	msb_listener_close(self);
	g_ptr_array_unref(self->sockets);
	if (self->lock_fd >= 0)
		close(self->lock_fd);
	g_free(self->unix_path);
	g_free(self->locked_path);
	g_free(self->name);
	g_free(self);
}
