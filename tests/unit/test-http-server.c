/*
 * MsbHttpServer's accept loop at the open-files limit, in this process: the server and its
 * clients share one descriptor table, so the test can use it up and free it one descriptor at a
 * time, and drive the main loop without waiting on timers.
 */
#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "msb-http-server.h"
#include "msb-test-log.h"

static gboolean
deadline_cb(gpointer user_data)
{
	g_error("%s did not happen within 10 s", (const gchar *)user_data);
	return G_SOURCE_REMOVE;
}

/* Run the main loop until @n_conns connections are open (waiting as long as it takes). */
static void
wait_conns(MsbHttpServer *server, guint n_conns)
{
	guint id = g_timeout_add_seconds(10, deadline_cb, "an accept");

	while (msb_http_server_get_n_connections(server) != n_conns)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(id);
}

static GSocket *
connect_to(guint16 port)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, port);
	g_autoptr(GSocket) sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
	                                       G_SOCKET_PROTOCOL_TCP, &error);

	g_assert_no_error(error);
	/* on loopback the kernel completes the handshake into the backlog without accept() */
	g_assert_true(g_socket_connect(sock, addr, NULL, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&sock);
}

/*
 * Accepting paused at the open-files limit goes on as soon as one of the server's connections
 * closes, not at the next back-off timer (100 ms doubling to 1 s): the main loop is only
 * iterated without blocking, so no timer can have come due before the queued client is in.
 */
static void
test_fd_limit_resume(void)
{
	MsbHttpLimits limits;
	g_autoptr(MsbHttpServer) server = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) a = NULL;
	g_autoptr(GSocket) b = NULL;
	g_autoptr(GArray) fillers = g_array_new(FALSE, FALSE, sizeof(gint));
	struct rlimit saved;
	struct rlimit low;
	guint id;
	gboolean a_gone = FALSE;

	/* the accept failure is a warning, which GTest makes fatal: count it instead */
	msb_test_log_allow("msb-listener", G_LOG_LEVEL_WARNING, "*cannot accept connections*");
	msb_http_limits_init(&limits, 1024);
	server = msb_http_server_new("test/1.0", &limits);
	g_assert_true(msb_http_server_listen(server, "127.0.0.1", 0, &error));
	g_assert_no_error(error);

	a = connect_to(msb_http_server_get_port(server));
	wait_conns(server, 1);

	/* use up every descriptor below a low limit; b's connection then waits in the backlog */
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	low = saved;
	low.rlim_cur = MIN(saved.rlim_cur, 256);
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	b = connect_to(msb_http_server_get_port(server));
	for (;;) {
		gint fd = dup(STDERR_FILENO);

		if (fd < 0) {
			g_assert_cmpint(errno, ==, EMFILE);
			break;
		}
		g_array_append_val(fillers, fd);
	}
	id = g_timeout_add_seconds(10, deadline_cb, "an accept failure");
	while (msb_test_log_get_n_allowed() == 0)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(id);
	g_assert_cmpuint(msb_http_server_get_n_connections(server), ==, 1);

	/* a hangs up: the server closes its side, and that descriptor lets b in at once */
	g_clear_object(&a);
	for (guint i = 0; i < 1000; i++) {
		guint n = msb_http_server_get_n_connections(server);

		a_gone = a_gone || n == 0;
		if (a_gone && n == 1)
			break;
		g_main_context_iteration(NULL, FALSE);
	}
	g_assert_true(a_gone);
	g_assert_cmpuint(msb_http_server_get_n_connections(server), ==, 1);
	g_assert_cmpuint(msb_test_log_get_n_allowed(), ==, 1);

	for (guint i = 0; i < fillers->len; i++)
		close(g_array_index(fillers, gint, i));
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	msb_test_log_init();
	g_test_add_func("/http-server/fd-limit-resume", test_fd_limit_resume);
	return g_test_run();
}
