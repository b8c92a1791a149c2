/*
 * The live push's sockets are watched by a thread of their own, not by the main loop: the main
 * loop polls all its file descriptors at each iteration, so every open page would make each
 * message delivered pay for one more socket. In one process: a broker's HTTP port, a WebSocket
 * client on /api/ws that gets a status frame, and the main context's poll set, which must not
 * hold the server's end of that socket (it did before the live thread).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "msb-broker.h"
#include "msb-http-live.h"
#include "msb-http.h"

typedef struct {
	SoupWebsocketConnection *ws;
	GError *error;
	guint frames;
	gchar *first;
} Client;

static void
connected_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Client *c = user_data;

	c->ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), res, &c->error);
}

static void
message_cb(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
	Client *c = user_data;

	if (c->frames++ == 0)
		c->first = g_strndup(g_bytes_get_data(message, NULL), g_bytes_get_size(message));
}

/* The fds of this process that are the server's end of a TCP connection on @port. */
static GArray *
server_ends(guint16 port)
{
	GArray *fds = g_array_new(FALSE, FALSE, sizeof(gint));
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	const gchar *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		gint fd = atoi(name);
		struct sockaddr_in local, peer;
		socklen_t len = sizeof(local);
		socklen_t plen = sizeof(peer);

		if (getsockname(fd, (struct sockaddr *)&local, &len) != 0 ||
		    local.sin_family != AF_INET || ntohs(local.sin_port) != port)
			continue;
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
			continue; /* the listening socket */
		g_array_append_val(fds, fd);
	}
	return fds;
}

/* One iteration of @ctx by hand, to read the descriptors it polls. */
static GArray *
polled_fds(GMainContext *ctx)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(gint));
	GPollFD fds[256];
	gint prio = 0;
	gint timeout = 0;
	gint n;

	g_assert_true(g_main_context_acquire(ctx));
	g_main_context_prepare(ctx, &prio);
	n = g_main_context_query(ctx, prio, &timeout, fds, G_N_ELEMENTS(fds));
	g_assert_cmpint(n, <=, (gint)G_N_ELEMENTS(fds));
	for (gint i = 0; i < n; i++)
		g_array_append_val(out, fds[i].fd);
	if (g_main_context_check(ctx, prio, fds, n))
		g_main_context_dispatch(ctx);
	g_main_context_release(ctx);
	return out;
}

static void
test_live_sockets_off_main_loop(void)
{
	MsbBrokerConfig config = {.max_delivery_size = 4 << 20,
	                          .delivery_timeout_us = G_USEC_PER_SEC,
	                          .send_buffer_size = 4 << 20};
	MsbBrokerCallbacks callbacks = {0};
	g_autoptr(MsbBroker) broker = msb_broker_new(&config, &callbacks, NULL);
	g_autoptr(MsbHttp) http = msb_http_new(broker, NULL, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(SoupSession) session = soup_session_new();
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GArray) ends = NULL;
	g_autoptr(GArray) polled = NULL;
	g_autofree gchar *url = NULL;
	MsbHttpLimits limits;
	Client c = {0};
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	msb_http_limits_init(&limits, 1 << 20);
	g_assert_true(msb_http_listen(http, "127.0.0.1", 0, &limits, &error));
	g_assert_no_error(error);
	url = g_strdup_printf("ws://127.0.0.1:%u/api/ws", msb_http_get_port(http));
	msg = soup_message_new("GET", url);
	soup_session_websocket_connect_async(session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
	                                     connected_cb, &c);
	while (c.ws == NULL && c.error == NULL && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_assert_no_error(c.error);
	g_assert_nonnull(c.ws);
	g_signal_connect(c.ws, "message", G_CALLBACK(message_cb), &c);
	while (c.frames == 0 && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	/* the push works: a status page arrived */
	g_assert_cmpuint(c.frames, >=, 1);
	g_assert_true(g_str_has_prefix(c.first, "{"));
	g_assert_cmpuint(msb_http_live_get_n_sockets(msb_http_get_live(http)), ==, 1);
	/* the live thread counts a push after handing its frames to the sockets: the client may
	 * have the frame a moment before the count moves */
	while (msb_http_live_get_frames_sent(msb_http_get_live(http)) == 0 &&
	       g_get_monotonic_time() < deadline)
		g_usleep(1000);
	g_assert_cmpuint(msb_http_live_get_frames_sent(msb_http_get_live(http)), >=, 1);

	ends = server_ends(msb_http_get_port(http));
	g_assert_cmpuint(ends->len, ==, 1);
	polled = polled_fds(g_main_context_default());
	for (guint i = 0; i < polled->len; i++)
		g_assert_cmpint(g_array_index(polled, gint, i), !=, g_array_index(ends, gint, 0));

	soup_websocket_connection_close(c.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
	while (soup_websocket_connection_get_state(c.ws) != SOUP_WEBSOCKET_STATE_CLOSED &&
	       g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	/* the close reaches the main thread's count */
	while (msb_http_live_get_n_sockets(msb_http_get_live(http)) != 0 &&
	       g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(msb_http_live_get_n_sockets(msb_http_get_live(http)), ==, 0);
	g_clear_object(&c.ws);
	g_free(c.first);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/http-live/sockets-off-main-loop", test_live_sockets_off_main_loop);
	return g_test_run();
}
