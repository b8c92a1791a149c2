/*
 * Both programs under a Type=notify supervisor: the test plays systemd's part. It binds a
 * datagram socket in a temporary folder, starts the real broker and persistence service with
 * $NOTIFY_SOCKET naming it (and $WATCHDOG_USEC = 200 ms with $WATCHDOG_PID = the program's own
 * pid, as systemd sets them), and checks what they send (sd_notify(3)), with the sender's pid
 * from the kernel's credentials:
 *  - the broker: a STATUS= line that it waits for the persistence service while that is down,
 *    no READY=1 then; "Restoring N topics" once it answers; READY=1 only once the client port
 *    accepts connections (checked when READY=1 arrives);
 *  - the persistence service: STATUS= while it recovers, READY=1 only once recovery is done
 *    (its /api/status says ready when READY=1 arrives);
 *  - both: WATCHDOG=1 again and again, RELOADING=1 then READY=1 after SIGHUP, STOPPING=1 after
 *    SIGTERM and a clean exit.
 * Built only with libsystemd (the meson option systemd).
 */
#include <gio/gunixcredentialsmessage.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "dtest.h"

#define WATCHDOG_USEC "200000"

typedef struct {
	gchar *text;
	pid_t pid; /* the sender, from SCM_CREDENTIALS */
} Datagram;

/* What the test sees on its notify socket. */
typedef struct {
	gchar *dir;
	gchar *path;
	GSocket *socket;
	GSource *source;
	GPtrArray *datagrams; /* Datagram*, in arrival order */
	gchar *env[4];        /* for the spawn: NOTIFY_SOCKET, WATCHDOG_USEC */
	/* checked when the first READY=1 arrives */
	guint16 tcp_port;  /* the broker's client port, if any */
	guint16 http_port; /* the persistence service's HTTP port, if any */
	gint ready_check;  /* -1: no READY=1 yet; 1: the check passed; 0: it failed */
} Notify;

static void
datagram_free(Datagram *d)
{
	g_free(d->text);
	g_free(d);
}

/* Does @text hold the line @line ("READY=1"), or, for a @line ending in '=' or ' ', a line
 * starting with it? */
static gboolean
has_line(const gchar *text, const gchar *line)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	gsize len = strlen(line);
	gboolean prefix = len > 0 && (line[len - 1] == '=' || line[len - 1] == ' ');

	for (guint i = 0; lines[i] != NULL; i++) {
		if (prefix ? g_str_has_prefix(lines[i], line) : g_str_equal(lines[i], line))
			return TRUE;
	}
	return FALSE;
}

/* The index of the first datagram at or after @from with the line @line, or -1. */
static gint
notify_find(Notify *n, const gchar *line, guint from)
{
	for (guint i = from; i < n->datagrams->len; i++) {
		Datagram *d = g_ptr_array_index(n->datagrams, i);
		if (has_line(d->text, line))
			return (gint)i;
	}
	return -1;
}

static guint
notify_count(Notify *n, const gchar *line)
{
	guint count = 0;

	for (guint i = 0; i < n->datagrams->len; i++) {
		Datagram *d = g_ptr_array_index(n->datagrams, i);
		count += has_line(d->text, line);
	}
	return count;
}

static const gchar *
notify_text(Notify *n, gint index)
{
	g_assert_cmpint(index, >=, 0);
	return ((Datagram *)g_ptr_array_index(n->datagrams, (guint)index))->text;
}

static void
notify_dump(Notify *n)
{
	for (guint i = 0; i < n->datagrams->len; i++) {
		Datagram *d = g_ptr_array_index(n->datagrams, i);
		g_autofree gchar *text = g_strescape(d->text, NULL);
		g_test_message("notify %u from %d: %s", i, d->pid, text);
	}
}

/* What READY=1 promises, checked the moment it arrives. */
static gboolean
notify_ready_holds(Notify *n)
{
	if (n->tcp_port != 0) {
		g_autoptr(GSocketClient) client = g_socket_client_new();
		g_autoptr(GSocketConnection) conn = NULL;
		g_autoptr(GError) error = NULL;

		conn = g_socket_client_connect_to_host(client, "127.0.0.1", n->tcp_port, NULL,
		                                       &error);
		if (conn == NULL) {
			g_test_message("READY=1, but port %u: %s", n->tcp_port, error->message);
			return FALSE;
		}
	}
	if (n->http_port != 0) {
		guint status = 0;
		g_autofree gchar *body = ptest_http_get(n->http_port, "/api/status", &status);

		if (status != 200 || strstr(body, "\"ready\" : true") == NULL) {
			g_test_message("READY=1, but /api/status says %u %s", status, body);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
notify_readable_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	Notify *n = user_data;

	for (;;) {
		gchar buf[4096];
		GInputVector vector = {buf, sizeof(buf) - 1};
		GSocketControlMessage **messages = NULL;
		gint n_messages = 0;
		gint flags = 0;
		g_autoptr(GError) error = NULL;
		gssize len = g_socket_receive_message(socket, NULL, &vector, 1, &messages,
		                                      &n_messages, &flags, NULL, &error);
		Datagram *d;

		if (len < 0) {
			g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
			break;
		}
		buf[len] = '\0';
		d = g_new0(Datagram, 1);
		d->text = g_strdup(buf);
		d->pid = -1;
		for (gint i = 0; i < n_messages; i++) {
			if (G_IS_UNIX_CREDENTIALS_MESSAGE(messages[i])) {
				GCredentials *creds = g_unix_credentials_message_get_credentials(
				        G_UNIX_CREDENTIALS_MESSAGE(messages[i]));
				d->pid = g_credentials_get_unix_pid(creds, NULL);
			}
			g_object_unref(messages[i]);
		}
		g_free(messages);
		g_assert_cmpint(flags & MSG_TRUNC, ==, 0);
		g_ptr_array_add(n->datagrams, d);
		if (n->ready_check < 0 && has_line(d->text, "READY=1"))
			n->ready_check = notify_ready_holds(n);
	}
	return G_SOURCE_CONTINUE;
}

static Notify *
notify_new(void)
{
	Notify *n = g_new0(Notify, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketAddress) address = NULL;

	n->dir = g_dir_make_tmp("msb-notify-XXXXXX", &error);
	g_assert_no_error(error);
	n->path = g_build_filename(n->dir, "notify", NULL);
	n->socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
	                         G_SOCKET_PROTOCOL_DEFAULT, &error);
	g_assert_no_error(error);
	address = g_unix_socket_address_new(n->path);
	g_assert_true(g_socket_bind(n->socket, address, FALSE, &error));
	g_assert_no_error(error);
	/* the sender's pid with every datagram, as systemd reads it */
	g_assert_true(g_socket_set_option(n->socket, SOL_SOCKET, SO_PASSCRED, 1, &error));
	g_assert_no_error(error);
	g_socket_set_blocking(n->socket, FALSE);
	n->source = g_socket_create_source(n->socket, G_IO_IN, NULL);
	g_source_set_callback(n->source, (GSourceFunc)(void (*)(void))notify_readable_cb, n, NULL);
	g_source_attach(n->source, NULL);
	n->datagrams = g_ptr_array_new_with_free_func((GDestroyNotify)datagram_free);
	n->env[0] = g_strdup_printf("NOTIFY_SOCKET=%s", n->path);
	n->env[1] = g_strdup("WATCHDOG_USEC=" WATCHDOG_USEC);
	n->ready_check = -1;
	return n;
}

static void
notify_free(Notify *n)
{
	notify_dump(n);
	g_source_destroy(n->source);
	g_source_unref(n->source);
	g_object_unref(n->socket);
	(void)g_unlink(n->path);
	(void)g_rmdir(n->dir);
	for (guint i = 0; i < G_N_ELEMENTS(n->env); i++)
		g_free(n->env[i]);
	g_ptr_array_unref(n->datagrams);
	g_free(n->path);
	g_free(n->dir);
	g_free(n);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Notify, notify_free)

/* Every datagram came from @pid (the program itself, not the shell that started it). */
static void
notify_assert_sender(Notify *n, pid_t pid)
{
	for (guint i = 0; i < n->datagrams->len; i++)
		g_assert_cmpint(((Datagram *)g_ptr_array_index(n->datagrams, i))->pid, ==, pid);
}

/* WATCHDOG=1, RELOADING=1 … READY=1 on SIGHUP, then SIGTERM: STOPPING=1. */
static void
notify_check_watchdog_and_reload(Notify *n, pid_t pid)
{
	gint reloading;
	guint watchdogs = notify_count(n, "WATCHDOG=1");

	/* answered from the main loop at half of WATCHDOG_USEC: it keeps coming */
	ITEST_WAIT_FOR(notify_count(n, "WATCHDOG=1") >= watchdogs + 3);

	/* nothing about a reload before one is asked for */
	g_assert_cmpint(notify_find(n, "RELOADING=1", 0), ==, -1);
	g_assert_cmpint(kill(pid, SIGHUP), ==, 0);
	ITEST_WAIT_FOR(notify_find(n, "RELOADING=1", 0) >= 0);
	reloading = notify_find(n, "RELOADING=1", 0);
	/* systemd ≥ 253 wants the time of the request with it */
	g_assert_true(has_line(notify_text(n, reloading), "MONOTONIC_USEC="));
	ITEST_WAIT_FOR(notify_find(n, "READY=1", (guint)reloading + 1) >= 0);
	g_assert_true(has_line(notify_text(n, notify_find(n, "READY=1", (guint)reloading + 1)),
	                       "STATUS="));

	g_assert_cmpint(notify_find(n, "STOPPING=1", 0), ==, -1);
	g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
	ITEST_WAIT_FOR(notify_find(n, "STOPPING=1", 0) >= 0);
}

/* The broker: waiting for persistence, restoring, ready, watchdog, reload, stop. */
static void
test_broker(void)
{
	g_autoptr(Notify) n = notify_new();
	PtestService *ps = ptest_service_new();
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GPtrArray) topics =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_persist_topic_snapshot_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = NULL;
	g_autofree gchar *waiting = NULL;
	g_autofree gchar *restoring = NULL;
	g_autofree gchar *serving = NULL;
	ItestBroker *b;
	GPid pid;
	gint restored_at;
	gint ready_at;
	gint status;

	/* the service holds three topics, then goes away before the broker starts */
	ptest_service_start(ps, 0);
	target = ptest_service_target(ps);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *name = g_strdup_printf("topic-%u", i);
		g_ptr_array_add(topics, msb_persist_topic_snapshot_new(name, 1, TRUE));
	}
	g_assert_true(ptest_save_snapshot(client, topics, &error));
	g_assert_no_error(error);
	g_clear_object(&client);
	status = ptest_service_stop(ps, SIGTERM);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	n->tcp_port = ptest_free_port();
	b = dtest_broker_new(ps, NULL);
	b->env = (const gchar *const *)n->env;
	b->env_pid = "WATCHDOG_PID";
	itest_broker_spawn(b, n->tcp_port);
	pid = b->pid;

	/* it says what it waits for, and is not ready */
	waiting = g_strdup_printf("STATUS=Waiting for the persistence service at %s ", target);
	ITEST_WAIT_FOR(notify_find(n, waiting, 0) >= 0);
	g_assert_cmpint(notify_find(n, "READY=1", 0), ==, -1);
	/* the watchdog is answered meanwhile: the main loop runs while it waits */
	ITEST_WAIT_FOR(notify_count(n, "WATCHDOG=1") >= 2);
	g_assert_cmpint(notify_find(n, "READY=1", 0), ==, -1);

	/* the service comes back: restore, then READY=1 with clients served */
	ptest_service_start(ps, ps->grpc_port);
	restoring = g_strdup_printf("STATUS=Restoring 3 topics from the persistence service at %s",
	                            target);
	ITEST_WAIT_FOR(notify_find(n, "READY=1", 0) >= 0);
	itest_broker_wait_ready(b, n->tcp_port, ITEST_TIMEOUT_MS);
	restored_at = notify_find(n, restoring, 0);
	ready_at = notify_find(n, "READY=1", 0);
	g_assert_cmpint(restored_at, >=, 0);
	g_assert_cmpint(restored_at, <, ready_at);
	g_assert_cmpint(n->ready_check, ==, 1);
	serving = g_strdup_printf("STATUS=Serving clients on 127.0.0.1:%u: ", n->tcp_port);
	g_assert_true(has_line(notify_text(n, ready_at), serving));
	/* a long restore may outlast TimeoutStartSec=: it asks for more time while it works */
	g_assert_cmpint(notify_find(n, "EXTEND_TIMEOUT_USEC=", 0), >=, 0);
	g_assert_cmpint(notify_find(n, "EXTEND_TIMEOUT_USEC=", 0), <, ready_at);

	notify_check_watchdog_and_reload(n, pid);
	g_assert_true(itest_broker_wait_exit(b, ITEST_TIMEOUT_MS));
	g_assert_true(WIFEXITED(b->wait_status));
	g_assert_cmpint(WEXITSTATUS(b->wait_status), ==, 0);
	/* READY=1 came once for the start and once for the reload */
	g_assert_cmpuint(notify_count(n, "READY=1"), ==, 2);
	notify_assert_sender(n, pid);
	itest_broker_free(b);
	ptest_service_free(ps);
}

/* The persistence service: recovering, ready, watchdog, reload, stop. */
static void
test_persistence(void)
{
	g_autoptr(Notify) n = notify_new();
	PtestService *ps = ptest_service_new();
	g_autofree gchar *serving = NULL;
	GPid pid;
	gint recovering_at;
	gint ready_at;
	gint status;

	ps->env = (const gchar *const *)n->env;
	ps->env_pid = "WATCHDOG_PID";
	/* a window in which it listens and has not recovered yet */
	g_ptr_array_add(ps->extra_args, g_strdup("--test-delay-recovery"));
	g_ptr_array_add(ps->extra_args, g_strdup("1000"));
	ptest_service_start_listening(ps, 0);
	pid = ps->pid;
	n->http_port = ps->http_port;

	recovering_at = -1;
	ITEST_WAIT_FOR((recovering_at = notify_find(n, "STATUS=Recovering the data in ", 0)) >= 0);
	ITEST_WAIT_FOR(notify_find(n, "READY=1", 0) >= 0);
	ready_at = notify_find(n, "READY=1", 0);
	g_assert_cmpint(recovering_at, <, ready_at);
	g_assert_cmpint(n->ready_check, ==, 1);
	serving =
	        g_strdup_printf("STATUS=Serving gRPC on 127.0.0.1:%u: 0 topics in ", ps->grpc_port);
	g_assert_true(has_line(notify_text(n, ready_at), serving));

	notify_check_watchdog_and_reload(n, pid);
	g_assert_true(ptest_service_wait_exit(ps, PTEST_TIMEOUT_MS));
	status = ps->wait_status;
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_cmpuint(notify_count(n, "READY=1"), ==, 2);
	notify_assert_sender(n, pid);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	g_test_add_func("/sd-notify/broker", test_broker);
	g_test_add_func("/sd-notify/persistence", test_persistence);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
