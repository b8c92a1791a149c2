/*
 * The HTTP-port cases shared by the broker's and the persistence service's tests: body size
 * limit (Content-Length and chunked), malformed Content-Length, idle keep-alive timeout, request
 * deadline, connection cap, listen backlog, and plain requests over one kept-alive connection.
 */
#include "htest.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* how long any single wait may take before the case fails */
#define WAIT_MS 10000

static GSocket *
htest_connect(guint16 port)
{
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new_from_string("127.0.0.1", port);
	g_autoptr(GError) error = NULL;
	GSocket *sock;

	sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
	                    &error);
	g_assert_no_error(error);
	g_socket_set_timeout(sock, WAIT_MS / 1000);
	g_socket_connect(sock, addr, NULL, &error);
	g_assert_no_error(error);
	return sock;
}

static void
htest_send(GSocket *sock, const gchar *text)
{
	g_autoptr(GError) error = NULL;
	gsize done = 0;
	gsize len = strlen(text);

	while (done < len) {
		gssize n = g_socket_send(sock, text + done, len - done, NULL, &error);

		g_assert_no_error(error);
		done += (gsize)n;
	}
}

/* Send what the socket takes without blocking; FALSE once the server refuses more (reset). */
static gboolean
htest_send_some(GSocket *sock, const guint8 *data, gsize len, gsize *sent)
{
	g_autoptr(GError) error = NULL;
	gssize n = g_socket_send_with_blocking(sock, (const gchar *)data, len, FALSE, NULL, &error);

	if (n > 0) {
		*sent += (gsize)n;
		return TRUE;
	}
	return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

typedef struct {
	guint status; /* 0: none (closed or timed out first) */
	gchar *body;
	gboolean closed; /* the server closed (or reset) the connection after the answer */
} HtestResponse;

static void
htest_response_clear(HtestResponse *r)
{
	g_clear_pointer(&r->body, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HtestResponse, htest_response_clear)

/* Poll-wait up to @ms for @sock to be readable; FALSE on timeout. */
static gboolean
htest_wait_readable(GSocket *sock, gint ms)
{
	struct pollfd pfd = {g_socket_get_fd(sock), POLLIN, 0};

	return poll(&pfd, 1, ms) > 0;
}

/*
 * Read one answer: the head, then Content-Length bytes of body. With @until_closed, go on reading
 * (and dropping) until the server closes, and say whether it did within @ms.
 */
static void
htest_read_response(GSocket *sock, gint ms, gboolean until_closed, HtestResponse *r)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
	gssize want = -1; /* bytes of head + body, once the head is in */

	memset(r, 0, sizeof(*r));
	for (;;) {
		gint left = (gint)((deadline - g_get_monotonic_time()) / 1000);
		guint8 chunk[65536];
		g_autoptr(GError) error = NULL;
		gssize n;

		if (want >= 0 && (gssize)buf->len >= want && !until_closed)
			break;
		if (left <= 0 || !htest_wait_readable(sock, left))
			break;
		n = g_socket_receive_with_blocking(sock, (gchar *)chunk, sizeof(chunk), FALSE, NULL,
		                                   &error);
		if (n <= 0) {
			/* end-of-file, or a reset after the answer */
			if (n == 0 || !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
				r->closed = TRUE;
				break;
			}
			continue;
		}
		if (want < 0 || (gssize)buf->len < want)
			g_byte_array_append(buf, chunk, (guint)n);
		if (want < 0) {
			const gchar *text = (const gchar *)buf->data;
			const gchar *end = g_strstr_len(text, buf->len, "\r\n\r\n");
			const gchar *cl;

			if (end == NULL)
				continue;
			r->status = g_str_has_prefix(text, "HTTP/1.") && buf->len > 12
			                    ? (guint)g_ascii_strtoull(text + 9, NULL, 10)
			                    : 999;
			cl = g_strstr_len(text, end - text, "Content-Length: ");
			want = (end - text) + 4 +
			       (cl != NULL ? (gssize)g_ascii_strtoull(cl + 16, NULL, 10) : 0);
		}
	}
	if (want >= 0) {
		const gchar *text = (const gchar *)buf->data;
		const gchar *end = g_strstr_len(text, buf->len, "\r\n\r\n");

		r->body = g_strndup(end + 4, MIN((gsize)want, buf->len) - (gsize)(end + 4 - text));
	}
}

/* The server closes @sock within @ms (whatever it sends before is dropped). */
static gboolean
htest_closed_within(GSocket *sock, gint ms)
{
	g_auto(HtestResponse) r = {0};

	htest_read_response(sock, ms, TRUE, &r);
	return r.closed;
}

static gsize
htest_rss_kib(GPid pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/status", pid);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *line;

	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	line = strstr(text, "\nVmRSS:");
	g_assert_nonnull(line);
	return (gsize)g_ascii_strtoull(line + strlen("\nVmRSS:"), NULL, 10);
}

static gchar *
htest_get(const gchar *path, gboolean close)
{
	return g_strdup_printf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path,
	                       close ? "Connection: close\r\n" : "");
}

static guint
htest_n_fds(GPid pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/fd", pid);
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	guint n = 0;

	g_assert_nonnull(dir);
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

/* ---- the cases ---- */

/* isalive, status and metrics over one connection, kept alive between them */
static void
htest_keepalive(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autoptr(GSocket) sock = htest_connect(t->port);

	for (guint round = 0; round < 2; round++) {
		for (guint i = 0; i < G_N_ELEMENTS(t->paths); i++) {
			g_autofree gchar *req = htest_get(t->paths[i], FALSE);
			g_auto(HtestResponse) r = {0};

			htest_send(sock, req);
			htest_read_response(sock, WAIT_MS, FALSE, &r);
			g_assert_cmpuint(r.status, ==, 200);
			g_assert_false(r.closed);
			g_assert_cmpuint(strlen(r.body), >, 0);
		}
	}
}

/* A body announced larger than HttpMaxBodySize: 413 before any of it is read, and the server
 * does not grow by what the client then pushes. */
static void
htest_content_length_too_large(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autoptr(GSocket) sock = htest_connect(t->port);
	g_autofree guint8 *junk = g_malloc0(1024 * 1024);
	g_auto(HtestResponse) r = {0};
	gsize rss_before = htest_rss_kib(t->pid);
	gsize sent = 0;
	gint64 deadline;

	htest_send(sock, "POST /api/isalive HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                 "Content-Length: 524288000\r\n\r\n");
	htest_read_response(sock, WAIT_MS, FALSE, &r);
	g_assert_cmpuint(r.status, ==, 413);
	g_assert_nonnull(strstr(r.body, "HttpMaxBodySize"));
	/* push up to 64 MiB for a second: the server must neither read nor keep it */
	deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
	while (sent < 64 * 1024 * 1024 && g_get_monotonic_time() < deadline) {
		if (!htest_send_some(sock, junk, 1024 * 1024, &sent))
			break;
		g_usleep(1000);
	}
	g_test_message("client pushed %zu bytes after the 413", sent);
	g_assert_true(htest_closed_within(sock, WAIT_MS));
	g_assert_cmpuint(htest_rss_kib(t->pid), <, rss_before + 16 * 1024);
}

/* A chunked body is counted as it comes: cut with 413 soon after HttpMaxBodySize. */
static void
htest_chunked_too_large(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autoptr(GSocket) sock = htest_connect(t->port);
	g_autoptr(GString) chunk = g_string_new("10000\r\n"); /* 64 KiB */
	g_auto(HtestResponse) r = {0};
	gsize rss_before = htest_rss_kib(t->pid);
	gsize sent = 0;
	gint64 deadline;

	for (guint i = 0; i < 65536; i++)
		g_string_append_c(chunk, 'x');
	g_string_append(chunk, "\r\n");
	htest_send(sock, "POST /api/isalive HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                 "Transfer-Encoding: chunked\r\n\r\n");
	/* up to 32 MiB, as long as the server takes it */
	deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
	while (sent < 32 * 1024 * 1024 && g_get_monotonic_time() < deadline) {
		if (!htest_send_some(sock, (const guint8 *)chunk->str, chunk->len, &sent))
			break;
		g_usleep(500);
	}
	g_test_message("client pushed %zu bytes of chunked body", sent);
	htest_read_response(sock, WAIT_MS, TRUE, &r);
	g_assert_cmpuint(r.status, ==, 413);
	g_assert_true(r.closed);
	g_assert_cmpuint(htest_rss_kib(t->pid), <, rss_before + 16 * 1024);
}

static void
htest_expect_400(guint16 port, const gchar *request)
{
	g_autoptr(GSocket) sock = htest_connect(port);
	g_auto(HtestResponse) r = {0};

	htest_send(sock, request);
	htest_read_response(sock, WAIT_MS, TRUE, &r);
	g_assert_cmpuint(r.status, ==, 400);
	g_assert_true(r.closed);
}

/* Content-Length -1 or beyond 2^63 is a bad request, not a body that never ends. */
static void
htest_bad_content_length(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;

	htest_expect_400(t->port, "POST /api/isalive HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                          "Content-Length: -1\r\n\r\nabc");
	htest_expect_400(t->port, "POST /api/isalive HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                          "Content-Length: 99999999999999999999999\r\n\r\nabc");
	htest_expect_400(t->port, "POST /api/isalive HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                          "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
	htest_expect_400(t->port,
	                 "POST /api/isalive HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
}

/* Idle connections are closed after HttpIdleTimeout: one that never sent anything and one kept
 * alive after an answer. */
static void
htest_idle_closed(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autoptr(GSocket) silent = htest_connect(t->port);
	g_autoptr(GSocket) kept = htest_connect(t->port);
	g_autofree gchar *req = htest_get(t->paths[0], FALSE);
	g_auto(HtestResponse) r = {0};

	htest_send(kept, req);
	htest_read_response(kept, WAIT_MS, FALSE, &r);
	g_assert_cmpuint(r.status, ==, 200);
	g_assert_false(r.closed);
	g_assert_true(htest_closed_within(kept, HTEST_IDLE_MS * 5));
	g_assert_true(htest_closed_within(silent, HTEST_IDLE_MS * 5));
}

/*
 * A client that hangs up between two requests frees its descriptor at once (libsoup 3.2 alone
 * leaves such a socket in CLOSE-WAIT for ever: one descriptor lost per kept-alive request).
 */
static void
htest_closed_by_client(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autofree gchar *req = htest_get(t->paths[0], FALSE);
	guint before = htest_n_fds(t->pid);
	guint after = 0;

	for (guint i = 0; i < 50; i++) {
		g_autoptr(GSocket) sock = htest_connect(t->port);
		g_auto(HtestResponse) r = {0};

		htest_send(sock, req);
		htest_read_response(sock, WAIT_MS, FALSE, &r);
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_false(r.closed);
	}
	/* well within HttpIdleTimeout: the server must have seen the hang-ups, not timed out */
	for (guint i = 0; i < 20; i++) {
		after = htest_n_fds(t->pid);
		if (after <= before + 2)
			break;
		g_usleep(10000);
	}
	g_test_message("descriptors: %u before, %u after 50 closed connections", before, after);
	g_assert_cmpuint(after, <=, before + 2);
}

/* A head that trickles in is cut with 408 after HttpRequestTimeout, though bytes keep coming. */
static void
htest_slow_head(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autoptr(GSocket) sock = htest_connect(t->port);
	const gchar *head = "GET /api/isalive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaa";
	g_auto(HtestResponse) r = {0};
	gboolean cut = FALSE;

	/* a byte every 100 ms, more often than HttpIdleTimeout, for up to 5 × HttpRequestTimeout */
	for (guint i = 0; i < HTEST_REQUEST_MS * 5 / 100 && !cut; i++) {
		gchar byte[2] = {head[i % strlen(head)], '\0'};
		gsize sent = 0;

		if (!htest_send_some(sock, (const guint8 *)byte, 1, &sent))
			cut = TRUE;
		else if (htest_wait_readable(sock, 100))
			cut = TRUE;
	}
	g_assert_true(cut);
	htest_read_response(sock, WAIT_MS, TRUE, &r);
	g_assert_cmpuint(r.status, ==, 408);
	g_assert_true(r.closed);
}

/* A body that trickles in is cut the same way. */
static void
htest_slow_body(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autoptr(GSocket) sock = htest_connect(t->port);
	g_auto(HtestResponse) r = {0};
	gboolean cut = FALSE;

	htest_send(sock, "POST /api/isalive HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                 "Content-Length: 1000\r\n\r\n");
	for (guint i = 0; i < HTEST_REQUEST_MS * 5 / 100 && !cut; i++) {
		gsize sent = 0;

		if (!htest_send_some(sock, (const guint8 *)"b", 1, &sent))
			cut = TRUE;
		else if (htest_wait_readable(sock, 100))
			cut = TRUE;
	}
	g_assert_true(cut);
	htest_read_response(sock, WAIT_MS, TRUE, &r);
	g_assert_cmpuint(r.status, ==, 408);
	g_assert_true(r.closed);
}

/* HttpMaxConnections open connections are served; the next one gets 503 and is closed; once one
 * goes, a new one is served again. */
static void
htest_connection_cap(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func(g_object_unref);
	g_autofree gchar *req = htest_get(t->paths[0], FALSE);
	g_auto(HtestResponse) refused = {0};
	g_autoptr(GSocket) extra = NULL;
	g_autoptr(GSocket) again = NULL;

	for (guint i = 0; i < HTEST_MAX_CONNS; i++) {
		GSocket *sock = htest_connect(t->port);
		g_auto(HtestResponse) r = {0};

		g_ptr_array_add(open, sock);
		htest_send(sock, req);
		htest_read_response(sock, WAIT_MS, FALSE, &r);
		g_assert_cmpuint(r.status, ==, 200);
	}
	extra = htest_connect(t->port);
	htest_read_response(extra, WAIT_MS, TRUE, &refused);
	g_assert_cmpuint(refused.status, ==, 503);
	g_assert_true(refused.closed);

	/* the ones we have are still served */
	{
		g_auto(HtestResponse) r = {0};

		htest_send(g_ptr_array_index(open, 0), req);
		htest_read_response(g_ptr_array_index(open, 0), WAIT_MS, FALSE, &r);
		g_assert_cmpuint(r.status, ==, 200);
	}
	g_ptr_array_remove_index(open, 0);
	/* the server sees the close at once (it watches idle connections); retry until then */
	for (guint attempt = 0;; attempt++) {
		g_auto(HtestResponse) r = {0};

		g_clear_object(&again);
		again = htest_connect(t->port);
		htest_send(again, req);
		htest_read_response(again, WAIT_MS, FALSE, &r);
		if (r.status == 200)
			break;
		g_assert_cmpuint(r.status, ==, 503);
		g_assert_cmpuint(attempt, <, 100);
		g_usleep(10000);
	}
}

/*
 * The listen backlog is HttpListenBacklog, not GLib's 10: with the server stopped (SIGSTOP), the
 * kernel completes as many handshakes as the backlog holds and drops the other SYNs. 200
 * connections all complete with a backlog of 300; with 10, about 11 would.
 */
static void
htest_backlog(gpointer fixture, gconstpointer data)
{
	const HtestTarget *t = data;
	g_autoptr(GSocketAddress) addr =
	        g_inet_socket_address_new_from_string("127.0.0.1", t->port);
	struct sockaddr_storage native;
	gint fds[200];
	guint established = 0;

	g_assert_true(g_socket_address_to_native(addr, &native, sizeof(native), NULL));
	g_assert_cmpint(kill(t->pid, SIGSTOP), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		g_assert_cmpint(fds[i], >=, 0);
		if (connect(fds[i], (struct sockaddr *)&native,
		            g_socket_address_get_native_size(addr)) != 0)
			g_assert_cmpint(errno, ==, EINPROGRESS);
	}
	/* loopback handshakes take microseconds; a dropped SYN is retried only after 1 s */
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
		struct pollfd pfd = {fds[i], POLLOUT, 0};
		gint err = 0;
		socklen_t len = sizeof(err);

		if (poll(&pfd, 1, i == 0 ? 500 : 0) == 1 &&
		    getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			established++;
	}
	g_test_message("%u of %zu connections established while the server was stopped",
	               established, G_N_ELEMENTS(fds));
	g_assert_cmpint(kill(t->pid, SIGCONT), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
		close(fds[i]);
	g_assert_cmpuint(established, ==, G_N_ELEMENTS(fds));
}

void
htest_add_cases(const gchar *prefix, HtestTarget *target, GTestFixtureFunc setup,
                GTestFixtureFunc teardown)
{
	static const struct {
		const gchar *name;
		GTestFixtureFunc func;
	} cases[] = {
	        {"keepalive", htest_keepalive},
	        {"content-length-too-large", htest_content_length_too_large},
	        {"chunked-too-large", htest_chunked_too_large},
	        {"bad-content-length", htest_bad_content_length},
	        {"idle-closed", htest_idle_closed},
	        {"closed-by-client", htest_closed_by_client},
	        {"slow-head", htest_slow_head},
	        {"slow-body", htest_slow_body},
	        {"connection-cap", htest_connection_cap},
	        {"backlog", htest_backlog},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *path = g_strdup_printf("%s/%s", prefix, cases[i].name);

		/* fixture size 0: the fixture is @target itself */
		g_test_add_vtable(path, 0, target, setup, cases[i].func, teardown);
	}
}
