/*
 * The integration-test harness (see itest.h): broker processes, raw connections, client helpers.
 */
#include "itest.h"
#include "spawn-env.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

void
itest_init(int *argc, char ***argv)
{
	g_test_init(argc, argv, NULL);
	/* a send to a connection the broker has closed must fail, not kill the test */
	signal(SIGPIPE, SIG_IGN);
	if (g_getenv("MSB_BROKER") == NULL)
		g_error("$MSB_BROKER is not set; run the integration tests with meson test");
}

/* ---- waiting ---- */

static gboolean
itest_tick_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

void
itest_wait_begin(ItestWait *w, guint timeout_ms)
{
	w->deadline_us = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	w->tick_id = g_timeout_add(10, itest_tick_cb, NULL);
}

gboolean
itest_wait_iterate(ItestWait *w)
{
	if (g_get_monotonic_time() > w->deadline_us)
		return FALSE;
	g_main_context_iteration(NULL, TRUE);
	return TRUE;
}

void
itest_wait_end(ItestWait *w)
{
	g_clear_handle_id(&w->tick_id, g_source_remove);
}

void
itest_run_for(guint ms)
{
	ItestWait w;

	itest_wait_begin(&w, ms);
	while (itest_wait_iterate(&w))
		;
	itest_wait_end(&w);
}

GBytes *
itest_hex(const gchar *text)
{
	GByteArray *out = g_byte_array_new();
	gint hi = -1;

	for (const gchar *p = text; *p != '\0'; p++) {
		gint v = g_ascii_xdigit_value(*p);
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			guint8 b = (guint8)(hi * 16 + v);
			g_byte_array_append(out, &b, 1);
			hi = -1;
		}
	}
	g_assert_cmpint(hi, ==, -1);
	return g_byte_array_free_to_bytes(out);
}

void
itest_assert_bytes_hex(GBytes *got, const gchar *expect_hex)
{
	g_autoptr(GBytes) expect = itest_hex(expect_hex);
	gsize got_len = 0;
	gsize expect_len = 0;
	const guint8 *g = g_bytes_get_data(got, &got_len);
	const guint8 *e = g_bytes_get_data(expect, &expect_len);

	g_assert_cmpmem(g, got_len, e, expect_len);
}

/* ---- the broker process ---- */

static const struct {
	const gchar *key;
	const gchar *value;
} itest_default_settings[] = {
        {"GrpcUrl", "none"},
        {"ListenAddress", "127.0.0.1"},
        /* long enough that only the tests about them ever meet them */
        {"DeliveryTimeout", "30s"},
        {"ConnectionTimeout", "30s"},
        {"QueueGcTimeout", "1s"},
};

static gboolean
itest_settings_has_key(const gchar *settings, const gchar *key)
{
	g_auto(GStrv) lines = g_strsplit(settings, "\n", -1);
	gsize key_len = strlen(key);

	for (guint i = 0; lines[i] != NULL; i++) {
		const gchar *line = lines[i];
		if (strncmp(line, key, key_len) == 0 &&
		    (line[key_len] == ':' || line[key_len] == ' '))
			return TRUE;
	}
	return FALSE;
}

void
itest_broker_write_settings(ItestBroker *b, const gchar *settings)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) text = g_string_new("# written by the integration test harness\n");
	g_autofree gchar *extra = NULL;

	if (settings != NULL) {
		g_auto(GStrv) parts = g_strsplit(settings, "@DIR@", -1);
		extra = g_strjoinv(b->dir, parts);
	} else {
		extra = g_strdup("");
	}
	for (guint i = 0; i < G_N_ELEMENTS(itest_default_settings); i++) {
		if (!itest_settings_has_key(extra, itest_default_settings[i].key))
			g_string_append_printf(text, "%s: %s\n", itest_default_settings[i].key,
			                       itest_default_settings[i].value);
	}
	g_string_append(text, extra);
	g_string_append_c(text, '\n');
	g_file_set_contents(b->settings_path, text->str, -1, &error);
	g_assert_no_error(error);
}

ItestBroker *
itest_broker_new(const gchar *settings)
{
	ItestBroker *b = g_new0(ItestBroker, 1);
	g_autoptr(GError) error = NULL;

	b->dir = g_dir_make_tmp("msb-itest-XXXXXX", &error);
	g_assert_no_error(error);
	b->settings_path = g_build_filename(b->dir, "settings.yaml", NULL);
	b->ready_path = g_build_filename(b->dir, "ready", NULL);
	b->log_path = g_build_filename(b->dir, "broker.log", NULL);
	g_test_message("broker directory %s", b->dir);
	itest_broker_write_settings(b, settings);
	return b;
}

static void
itest_broker_exited_cb(GPid pid, gint status, gpointer user_data)
{
	ItestBroker *b = user_data;

	b->exited = TRUE;
	b->wait_status = status;
	b->pid = 0;
	b->watch_id = 0;
	g_spawn_close_pid(pid);
}

static void
itest_child_setup(gpointer user_data)
{
	const ItestBroker *b = user_data;

	/* Die with the test process, also when an assertion aborts it before teardown. Only
	 * async-signal-safe calls here: this runs between fork() and exec(). */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != b->parent_pid)
		_exit(127);
	if (b->nofile_limit > 0) {
		struct rlimit rl = {(rlim_t)b->nofile_limit, (rlim_t)b->nofile_limit};

		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(126);
	}
}

void
itest_broker_spawn(ItestBroker *b, guint16 port)
{
	const gchar *path = g_getenv("MSB_BROKER");
	g_autofree gchar *port_text = g_strdup_printf("%u", port);
	g_autoptr(GError) error = NULL;
	/* ITEST_VERBOSE=1: the broker logs every packet (for debugging a test) */
	const gchar *verbose =
	        g_getenv("ITEST_VERBOSE") != NULL || b->capture_log ? "--verbose" : NULL;
	const gchar *dbus = b->dbus_option == NULL      ? "--no-dbus"
	                    : b->dbus_option[0] != '\0' ? b->dbus_option
	                                                : NULL;
	const gchar *argv[] = {path,          "--settings",  b->settings_path,
	                       "--tcp-port",  port_text,     "--ready-file",
	                       b->ready_path, "--http-port", "0",
	                       verbose,       dbus,          NULL};
	/* the optional ones last: NULL ends the list early */
	if (verbose == NULL) {
		argv[9] = dbus;
		argv[10] = NULL;
	}
	GPid pid = 0;
	gint log_fd = -1;
	g_auto(GStrv) envp = g_get_environ();
	g_autoptr(GPtrArray) wrapped = g_ptr_array_new_with_free_func(g_free);

	g_assert_nonnull(path);
	g_assert_false(itest_broker_is_running(b));
	(void)g_unlink(b->ready_path);
	b->exited = FALSE;
	b->exit_expected = FALSE;
	b->wait_status = 0;
	b->parent_pid = getpid();
	if (b->asan_options != NULL) {
		const gchar *old = g_environ_getenv(envp, "ASAN_OPTIONS");
		g_autofree gchar *value = old != NULL && *old != '\0'
		                                  ? g_strconcat(old, ":", b->asan_options, NULL)
		                                  : g_strdup(b->asan_options);
		envp = g_environ_setenv(envp, "ASAN_OPTIONS", value, TRUE);
	}
	/* its log goes where the test says, never to the journal the test may be logging to */
	envp = g_environ_unsetenv(envp, "JOURNAL_STREAM");
	envp = spawn_env_add(envp, b->env);
	if (b->env_pid != NULL)
		spawn_env_wrap_pid(wrapped, b->env_pid);
	for (guint i = 0; argv[i] != NULL; i++)
		g_ptr_array_add(wrapped, g_strdup(argv[i]));
	g_ptr_array_add(wrapped, NULL);
	if (b->capture_log) {
		log_fd = g_open(b->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		g_assert_cmpint(log_fd, >=, 0);
	} else if (b->log_fd > 2) {
		log_fd = fcntl(b->log_fd, F_DUPFD_CLOEXEC, 3);
		g_assert_cmpint(log_fd, >=, 0);
	}
	g_spawn_async_with_pipes_and_fds(NULL, (const gchar *const *)wrapped->pdata,
	                                 (const gchar *const *)envp, G_SPAWN_DO_NOT_REAP_CHILD,
	                                 itest_child_setup, b, -1, log_fd, log_fd, NULL, NULL, 0,
	                                 &pid, NULL, NULL, NULL, &error);
	if (log_fd >= 0)
		close(log_fd);
	g_assert_no_error(error);
	b->pid = pid;
	b->n_starts++;
	b->watch_id = g_child_watch_add(pid, itest_broker_exited_cb, b);
}

void
itest_broker_start(ItestBroker *b, guint16 port)
{
	itest_broker_spawn(b, port);
	itest_broker_wait_ready(b, port, ITEST_TIMEOUT_MS);
}

void
itest_broker_wait_ready(ItestBroker *b, guint16 port, guint timeout_ms)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(GError) error = NULL;
	gint64 ready_pid = -1;
	gint64 ready_port = -1;
	gint64 ready_http_port = -1;

	ITEST_WAIT_FOR_MS(b->exited || g_file_test(b->ready_path, G_FILE_TEST_EXISTS), timeout_ms);
	if (b->exited)
		g_error("the broker exited (wait status 0x%x) before it was listening",
		        b->wait_status);
	/* written with g_file_set_contents(), i.e. renamed into place: never partial */
	g_file_get_contents(b->ready_path, &text, NULL, &error);
	g_assert_no_error(error);
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "tcp_port="))
			ready_port = g_ascii_strtoll(lines[i] + strlen("tcp_port="), NULL, 10);
		else if (g_str_has_prefix(lines[i], "http_port="))
			ready_http_port =
			        g_ascii_strtoll(lines[i] + strlen("http_port="), NULL, 10);
		else if (g_str_has_prefix(lines[i], "pid="))
			ready_pid = g_ascii_strtoll(lines[i] + strlen("pid="), NULL, 10);
	}
	g_assert_cmpint(ready_pid, ==, b->pid);
	g_assert_cmpint(ready_port, >, 0);
	g_assert_cmpint(ready_port, <=, 65535);
	if (port != 0)
		g_assert_cmpint(ready_port, ==, port);
	b->port = (guint16)ready_port;
	b->http_port =
	        ready_http_port > 0 && ready_http_port <= 65535 ? (guint16)ready_http_port : 0;
}

gboolean
itest_broker_is_running(ItestBroker *b)
{
	return b->pid != 0;
}

gboolean
itest_broker_wait_exit(ItestBroker *b, guint timeout_ms)
{
	ItestWait w;
	gboolean exited = TRUE;

	b->exit_expected = TRUE;
	itest_wait_begin(&w, timeout_ms);
	while (b->pid != 0) {
		if (!itest_wait_iterate(&w)) {
			exited = FALSE;
			break;
		}
	}
	itest_wait_end(&w);
	return exited;
}

gint
itest_broker_stop(ItestBroker *b, gint signo)
{
	g_assert_true(itest_broker_is_running(b));
	g_assert_cmpint(kill(b->pid, signo), ==, 0);
	if (!itest_broker_wait_exit(b, ITEST_TIMEOUT_MS)) {
		itest_broker_kill(b);
		g_error("the broker did not exit within %d ms of signal %d; killed it",
		        ITEST_TIMEOUT_MS, signo);
	}
	return b->wait_status;
}

void
itest_broker_kill(ItestBroker *b)
{
	if (!itest_broker_is_running(b))
		return;
	(void)kill(b->pid, SIGKILL);
	/* SIGKILL cannot be ignored; the child watch reaps it */
	if (!itest_broker_wait_exit(b, ITEST_TIMEOUT_MS))
		g_error("the broker survived SIGKILL for %d ms", ITEST_TIMEOUT_MS);
}

static void
itest_remove_dir(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;

	if (dir == NULL)
		return;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			itest_remove_dir(child);
		else
			(void)g_unlink(child);
	}
	(void)g_rmdir(path);
}

void
itest_broker_free(ItestBroker *b)
{
	if (b == NULL)
		return;
	/* a broker that died on its own during the test (a crash, a sanitizer report) */
	if (b->exited && !b->exit_expected)
		g_error("the broker exited unexpectedly during the test (wait status 0x%x)",
		        b->wait_status);
	if (itest_broker_is_running(b)) {
		gint status = itest_broker_stop(b, SIGTERM);
		/* a clean exit: no crash, no sanitizer report (those exit non-zero) */
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	}
	itest_remove_dir(b->dir);
	g_free(b->log_path);
	g_free(b->dir);
	g_free(b->settings_path);
	g_free(b->ready_path);
	g_free(b);
}

gchar *
itest_broker_address(ItestBroker *b)
{
	return g_strdup_printf("127.0.0.1:%u", b->port);
}

gchar *
itest_broker_path(ItestBroker *b, const gchar *name)
{
	return g_build_filename(b->dir, name, NULL);
}

guint
itest_broker_log_count(ItestBroker *b, const gchar *needle)
{
	g_autofree gchar *text = NULL;
	guint n = 0;

	g_assert_true(b->capture_log);
	if (!g_file_get_contents(b->log_path, &text, NULL, NULL))
		return 0;
	for (const gchar *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

void
itest_broker_wait_log(ItestBroker *b, const gchar *needle, guint count, guint timeout_ms)
{
	ItestWait w;

	itest_wait_begin(&w, timeout_ms);
	while (itest_broker_log_count(b, needle) < count) {
		if (!itest_wait_iterate(&w)) {
			g_autofree gchar *text = NULL;
			g_file_get_contents(b->log_path, &text, NULL, NULL);
			g_printerr("---- broker log %s ----\n%s---- end of log ----\n", b->log_path,
			           text != NULL ? text : "(none)\n");
			g_error("timed out waiting for %u times \"%s\" in the broker log", count,
			        needle);
		}
	}
	itest_wait_end(&w);
}

JsonNode *
itest_broker_get_json(ItestBroker *b, const gchar *path)
{
	g_autoptr(SoupSession) session = soup_session_new();
	g_autofree gchar *uri = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();

	g_assert_cmpuint(b->http_port, >, 0);
	uri = g_strdup_printf("http://127.0.0.1:%u%s", b->http_port, path);
	msg = soup_message_new("GET", uri);
	soup_session_set_timeout(session, ITEST_TIMEOUT_MS / 1000);
	body = soup_session_send_and_read(session, msg, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(soup_message_get_status(msg), ==, SOUP_STATUS_OK);
	json_parser_load_from_data(parser, g_bytes_get_data(body, NULL),
	                           (gssize)g_bytes_get_size(body), &error);
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

gchar *
itest_broker_http(ItestBroker *b, const gchar *method, const gchar *path, const gchar *content_type,
                  const gchar *body, const gchar *const *headers, guint *status)
{
	g_autoptr(SoupSession) session = soup_session_new();
	g_autofree gchar *uri = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(b->http_port, >, 0);
	uri = g_strdup_printf("http://127.0.0.1:%u%s", b->http_port, path);
	msg = soup_message_new(method, uri);
	g_assert_nonnull(msg);
	for (guint i = 0; headers != NULL && headers[i] != NULL; i += 2)
		soup_message_headers_replace(soup_message_get_request_headers(msg), headers[i],
		                             headers[i + 1]);
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
		soup_message_set_request_body_from_bytes(
		        msg, content_type != NULL ? content_type : "application/json", bytes);
	}
	soup_session_set_timeout(session, ITEST_TIMEOUT_MS / 1000);
	reply = soup_session_send_and_read(session, msg, NULL, &error);
	g_assert_no_error(error);
	*status = soup_message_get_status(msg);
	return g_strndup(g_bytes_get_data(reply, NULL), g_bytes_get_size(reply));
}

gsize
itest_broker_rss_kib(ItestBroker *b)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *line;

	g_assert_true(itest_broker_is_running(b));
	path = g_strdup_printf("/proc/%d/status", b->pid);
	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	line = strstr(text, "\nVmRSS:");
	g_assert_nonnull(line);
	return (gsize)g_ascii_strtoull(line + strlen("\nVmRSS:"), NULL, 10);
}

void
itest_fixture_setup(ItestFixture *f, gconstpointer settings)
{
	f->broker = itest_broker_new(settings);
	itest_broker_start(f->broker, 0);
}

void
itest_fixture_setup_default(ItestFixture *f, gconstpointer data)
{
	itest_fixture_setup(f, NULL);
}

void
itest_fixture_teardown(ItestFixture *f, gconstpointer settings)
{
	g_clear_pointer(&f->broker, itest_broker_free);
}

/* ---- raw connections ---- */

static void
itest_message_clear(gpointer data)
{
	ItestMessage *m = data;

	g_clear_pointer(&m->headers, g_bytes_unref);
	g_clear_pointer(&m->content, g_bytes_unref);
}

void
itest_packet_free(ItestPacket *p)
{
	if (p == NULL)
		return;
	g_bytes_unref(p->raw);
	g_free(p->text);
	g_free(p->topic);
	g_free(p->queue);
	if (p->messages != NULL)
		g_array_unref(p->messages);
	g_free(p);
}

static ItestPacket *
itest_packet_new(const MsbPacket *pkt, const guint8 *raw, gsize len)
{
	ItestPacket *p = g_new0(ItestPacket, 1);

	p->id = pkt->id;
	p->raw = g_bytes_new(raw, len);
	switch (pkt->id) {
	case MSB_PACKET_PUBLISH_RESPONSE:
		p->request_id = pkt->publish_response.request_id;
		break;
	case MSB_PACKET_REJECT:
		p->text = g_strndup(pkt->reject.message.str, pkt->reject.message.len);
		break;
	case MSB_PACKET_NEW_MESSAGES:
		p->topic = g_strndup(pkt->new_messages.topic.str, pkt->new_messages.topic.len);
		p->queue = g_strndup(pkt->new_messages.queue.str, pkt->new_messages.queue.len);
		p->confirmation_id = pkt->new_messages.confirmation_id;
		p->messages = g_array_new(FALSE, TRUE, sizeof(ItestMessage));
		g_array_set_clear_func(p->messages, itest_message_clear);
		for (guint i = 0; i < pkt->new_messages.n_messages; i++) {
			const MsbWireMessage *w = &pkt->new_messages.messages[i];
			ItestMessage m = {
			        .id = w->id,
			        .attempt = w->attempt,
			        .n_headers = w->n_headers,
			        .headers = g_bytes_new(w->headers, w->headers_len),
			        .content = g_bytes_new(w->content, w->content_len),
			};
			g_array_append_val(p->messages, m);
		}
		break;
	default:
		break;
	}
	return p;
}

static void
itest_raw_set_eof(ItestRaw *r)
{
	if (r->eof)
		return;
	r->eof = TRUE;
	r->eof_us = g_get_monotonic_time();
	if (r->in_source != NULL) {
		g_source_destroy(r->in_source);
		g_clear_pointer(&r->in_source, g_source_unref);
	}
}

static void
itest_raw_decode(ItestRaw *r)
{
	while (msb_buf_pending(&r->in) > 0) {
		g_autoptr(GError) error = NULL;
		MsbPacket pkt;
		gsize consumed = 0;
		const guint8 *head = msb_buf_head(&r->in);
		MsbWireDecodeResult res = msb_wire_decode(&r->dec, head, msb_buf_pending(&r->in),
		                                          &pkt, &consumed, &error);

		if (res == MSB_WIRE_DECODE_NEED_MORE)
			break;
		if (res == MSB_WIRE_DECODE_ERROR)
			g_error("the broker sent bytes we cannot decode: %s", error->message);
		g_queue_push_tail(&r->packets, itest_packet_new(&pkt, head, consumed));
		msb_buf_consume(&r->in, consumed);
	}
}

static gboolean
itest_raw_readable_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	ItestRaw *r = user_data;

	for (;;) {
		g_autoptr(GError) error = NULL;
		guint8 *dst;
		gssize n;

		if (r->in.off > 0)
			msb_buf_compact(&r->in);
		dst = msb_buf_reserve(&r->in, 256 * 1024);
		n = g_socket_receive_with_blocking(socket, (gchar *)dst, r->in.cap - r->in.len,
		                                   FALSE, NULL, &error);
		if (n < 0) {
			if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				break;
			/* a reset is a close too (the broker closed with unread input) */
			g_debug("raw connection: %s", error->message);
			itest_raw_set_eof(r);
			break;
		}
		if (n == 0) {
			itest_raw_set_eof(r);
			break;
		}
		r->in.len += (gsize)n;
		itest_raw_decode(r);
	}
	if (r->eof)
		return G_SOURCE_REMOVE;
	return G_SOURCE_CONTINUE;
}

void
itest_raw_start_reading(ItestRaw *r)
{
	if (r->in_source != NULL || r->eof)
		return;
	r->in_source = g_socket_create_source(r->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(r->in_source, G_SOURCE_FUNC(itest_raw_readable_cb), r, NULL);
	g_source_attach(r->in_source, NULL);
}

void
itest_raw_stop_reading(ItestRaw *r)
{
	if (r->in_source == NULL)
		return;
	g_source_destroy(r->in_source);
	g_clear_pointer(&r->in_source, g_source_unref);
}

ItestRaw *
itest_raw_connect_full(GSocketAddress *address, gint rcvbuf, gboolean read, GError **error)
{
	g_autoptr(GSocket) socket = NULL;
	ItestRaw *r;

	socket = g_socket_new(g_socket_address_get_family(address), G_SOCKET_TYPE_STREAM,
	                      G_SOCKET_PROTOCOL_DEFAULT, error);
	if (socket == NULL)
		return NULL;
	if (rcvbuf > 0) {
		/* before connect(), so that the TCP window is small from the start */
		if (!g_socket_set_option(socket, SOL_SOCKET, SO_RCVBUF, rcvbuf, error) ||
		    !g_socket_set_option(socket, SOL_SOCKET, SO_SNDBUF, rcvbuf, error))
			return NULL;
	}
	/* no socket timeout: it would also fire the read source; sends wait with deadlines */
	if (!g_socket_connect(socket, address, NULL, error))
		return NULL;

	r = g_new0(ItestRaw, 1);
	r->socket = g_steal_pointer(&socket);
	r->conn = g_socket_connection_factory_create_connection(r->socket);
	msb_buf_init(&r->in, 0);
	msb_wire_decoder_init(&r->dec, 256 * 1024 * 1024);
	g_queue_init(&r->packets);
	if (read)
		itest_raw_start_reading(r);
	return r;
}

ItestRaw *
itest_raw_connect(ItestBroker *b)
{
	g_autoptr(GInetAddress) inet = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(inet, b->port);
	g_autoptr(GError) error = NULL;
	ItestRaw *r = itest_raw_connect_full(addr, 0, TRUE, &error);

	g_assert_no_error(error);
	return r;
}

ItestRaw *
itest_raw_connect_unix(const gchar *path)
{
	g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
	g_autoptr(GError) error = NULL;
	ItestRaw *r = itest_raw_connect_full(addr, 0, TRUE, &error);

	g_assert_no_error(error);
	return r;
}

void
itest_raw_free(ItestRaw *r)
{
	if (r == NULL)
		return;
	if (r->in_source != NULL) {
		g_source_destroy(r->in_source);
		g_source_unref(r->in_source);
	}
	(void)g_io_stream_close(G_IO_STREAM(r->conn), NULL, NULL);
	g_object_unref(r->conn);
	g_object_unref(r->socket);
	g_queue_clear_full(&r->packets, (GDestroyNotify)itest_packet_free);
	msb_buf_clear(&r->in);
	msb_wire_decoder_clear(&r->dec);
	g_free(r);
}

void
itest_raw_send(ItestRaw *r, const void *data, gsize len)
{
	const gchar *p = data;

	while (len > 0) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_send_with_blocking(r->socket, p, len, FALSE, NULL, &error);
		if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
			g_clear_error(&error);
			if (!g_socket_condition_timed_wait(r->socket, G_IO_OUT,
			                                   (gint64)ITEST_TIMEOUT_MS * 1000, NULL,
			                                   &error))
				g_error("sending to the broker: %s", error->message);
			continue;
		}
		g_assert_no_error(error);
		g_assert_cmpint(n, >, 0);
		p += n;
		len -= (gsize)n;
	}
}

void
itest_raw_send_buf(ItestRaw *r, MsbBuf *buf)
{
	itest_raw_send(r, msb_buf_head(buf), msb_buf_pending(buf));
	msb_buf_consume(buf, msb_buf_pending(buf));
}

void
itest_raw_send_hex(ItestRaw *r, const gchar *hex)
{
	g_autoptr(GBytes) bytes = itest_hex(hex);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);

	itest_raw_send(r, data, len);
}

gsize
itest_raw_send_nonblocking(ItestRaw *r, const void *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	gssize n = g_socket_send_with_blocking(r->socket, data, len, FALSE, NULL, &error);

	if (n < 0) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			return 0;
		g_assert_no_error(error);
	}
	return (gsize)n;
}

void
itest_raw_greet(ItestRaw *r, const gchar *name, gint32 protocol_version, gint32 v7)
{
	MsbBuf buf;
	g_autoptr(GError) error = NULL;

	msb_buf_init(&buf, 0);
	msb_wire_put_greeting(&buf, name, protocol_version, &error);
	g_assert_no_error(error);
	if (v7 >= 0)
		msb_wire_put_packet_versions(&buf, v7);
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
	itest_raw_assume(r, protocol_version, v7);
}

void
itest_raw_assume(ItestRaw *r, gint32 protocol_version, gint32 v7)
{
	/* how we encode Publish, and how the broker encodes what it sends us, from now on */
	r->protocol_version = protocol_version;
	r->dec.protocol_version = MIN(protocol_version, MSB_WIRE_PROTOCOL_MAX);
	if (v7 >= 0)
		r->dec.new_messages_version = v7;
}

void
itest_raw_ping(ItestRaw *r)
{
	const guint8 ping = MSB_PACKET_PING;

	itest_raw_send(r, &ping, 1);
}

void
itest_raw_create_topic(ItestRaw *r, const gchar *topic)
{
	MsbBuf buf;
	g_autoptr(GError) error = NULL;

	msb_buf_init(&buf, 0);
	msb_wire_put_create_topic(&buf, topic, &error);
	g_assert_no_error(error);
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
}

void
itest_raw_subscribe(ItestRaw *r, const gchar *topic, const gchar *queue, guint8 queue_type)
{
	MsbBuf buf;
	g_autoptr(GError) error = NULL;

	msb_buf_init(&buf, 0);
	msb_wire_put_subscribe(&buf, topic, queue, queue_type, &error);
	g_assert_no_error(error);
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
}

void
itest_raw_publish(ItestRaw *r, const gchar *topic, gint64 request_id, const gchar *const *contents,
                  guint n, gboolean with_header)
{
	MsbBuf buf;
	MsbBuf headers;
	gsize count_at = 0;
	g_autoptr(GError) error = NULL;
	const MsbWireHeader header = {"k", "v"};

	msb_buf_init(&buf, 0);
	msb_buf_init(&headers, 0);
	if (with_header) {
		msb_wire_put_headers(&headers, &header, 1, &error);
		g_assert_no_error(error);
	}
	msb_wire_publish_begin(&buf, topic, request_id, &count_at, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < n; i++)
		msb_wire_publish_add(&buf, r->protocol_version, msb_buf_head(&headers),
		                     msb_buf_pending(&headers), (const guint8 *)contents[i],
		                     strlen(contents[i]));
	msb_wire_publish_end(&buf, count_at, n, FALSE);
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
	msb_buf_clear(&headers);
}

void
itest_raw_publish_sized(ItestRaw *r, const gchar *topic, gint64 request_id, guint n, gsize size)
{
	MsbBuf buf;
	gsize count_at = 0;
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *content = g_malloc(MAX(size, 1));

	msb_buf_init(&buf, 0);
	msb_wire_publish_begin(&buf, topic, request_id, &count_at, &error);
	g_assert_no_error(error);
	for (guint j = 0; j < n; j++) {
		for (gsize i = 0; i < size; i++)
			content[i] = (guint8)((j + i) & 0xff);
		msb_wire_publish_add(&buf, r->protocol_version, NULL, 0, content, size);
	}
	msb_wire_publish_end(&buf, count_at, n, FALSE);
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
}

void
itest_raw_confirm(ItestRaw *r, gboolean all_ok, const gchar *topic, const gchar *queue,
                  gint64 confirmation_id)
{
	MsbBuf buf;
	g_autoptr(GError) error = NULL;

	msb_buf_init(&buf, 0);
	msb_wire_put_confirm(&buf, all_ok, topic, queue, confirmation_id, &error);
	g_assert_no_error(error);
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
}

void
itest_raw_confirm_ids(ItestRaw *r, gboolean intermediary, const gchar *topic, const gchar *queue,
                      gint64 confirmation_id, const gint64 *ids, guint n_ids)
{
	MsbBuf buf;
	g_autoptr(GError) error = NULL;
	g_autofree MsbWireRange *ranges = g_new0(MsbWireRange, MAX(n_ids, 1));

	for (guint i = 0; i < n_ids; i++) {
		ranges[i].from_id = ids[i];
		ranges[i].to_id = ids[i];
	}
	msb_buf_init(&buf, 0);
	msb_wire_put_confirm_ids(&buf, intermediary, topic, queue, confirmation_id, ranges, n_ids,
	                         &error);
	g_assert_no_error(error);
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
}

ItestPacket *
itest_raw_next(ItestRaw *r)
{
	g_assert_true(r->in_source != NULL || r->eof || !g_queue_is_empty(&r->packets));
	ITEST_WAIT_FOR(!g_queue_is_empty(&r->packets) || r->eof);
	if (g_queue_is_empty(&r->packets))
		g_error("the broker closed the connection while we waited for a packet");
	return g_queue_pop_head(&r->packets);
}

ItestPacket *
itest_raw_expect(ItestRaw *r, MsbPacketId id)
{
	ItestPacket *p = itest_raw_next(r);

	if (p->id != id)
		g_error("expected %s, got %s%s%s", msb_packet_id_to_string(id),
		        msb_packet_id_to_string(p->id), p->text != NULL ? ": " : "",
		        p->text != NULL ? p->text : "");
	return p;
}

void
itest_raw_expect_publish_response(ItestRaw *r, gint64 request_id)
{
	g_autoptr(ItestPacket) p = itest_raw_expect(r, MSB_PACKET_PUBLISH_RESPONSE);

	g_assert_cmpint(p->request_id, ==, request_id);
}

gchar *
itest_raw_expect_reject(ItestRaw *r)
{
	g_autoptr(ItestPacket) p = itest_raw_expect(r, MSB_PACKET_REJECT);

	return g_steal_pointer(&p->text);
}

void
itest_raw_sync(ItestRaw *r)
{
	g_autoptr(ItestPacket) p = NULL;

	itest_raw_ping(r);
	p = itest_raw_expect(r, MSB_PACKET_PONG);
	g_assert_cmpuint(g_bytes_get_size(p->raw), ==, 1);
}

static gboolean
itest_raw_take_pong(ItestRaw *r)
{
	for (GList *l = r->packets.head; l != NULL; l = l->next) {
		ItestPacket *p = l->data;
		if (p->id == MSB_PACKET_PONG) {
			g_queue_delete_link(&r->packets, l);
			itest_packet_free(p);
			return TRUE;
		}
	}
	return FALSE;
}

void
itest_raw_barrier(ItestRaw *r)
{
	itest_raw_ping(r);
	ITEST_WAIT_FOR(itest_raw_take_pong(r) || r->eof);
	g_assert_false(r->eof);
}

void
itest_raw_assert_quiet(ItestRaw *r)
{
	g_assert_cmpuint(itest_raw_n_queued(r), ==, 0);
	itest_raw_sync(r);
	itest_raw_sync(r);
	g_assert_cmpuint(itest_raw_n_queued(r), ==, 0);
}

void
itest_raw_wait_closed(ItestRaw *r, guint timeout_ms)
{
	g_assert_true(r->in_source != NULL || r->eof);
	ITEST_WAIT_FOR_MS(r->eof, timeout_ms);
}

guint
itest_raw_n_queued(ItestRaw *r)
{
	return g_queue_get_length(&r->packets);
}

/* ---- libmsb-client ---- */

MsbClient *
itest_client_new(ItestBroker *b)
{
	g_autofree gchar *address = itest_broker_address(b);
	MsbClient *client = msb_client_new(address, "itest");

	/* 1 s pings: the client declares the link dead after 3 silent intervals, and a test may
	 * spend a moment outside the main loop */
	msb_client_set_ping_interval(client, 1000);
	msb_client_set_reconnect_delay(client, 100);
	msb_client_set_auto_reconnect(client, FALSE);
	return client;
}

typedef struct {
	gboolean done;
	gboolean ok;
	GError *error;
} ItestResult;

static void
itest_connect_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	ItestResult *r = user_data;

	r->ok = msb_client_connect_finish(MSB_CLIENT(source), res, &r->error);
	r->done = TRUE;
}

void
itest_client_connect(MsbClient *client)
{
	ItestResult r = {0};

	msb_client_connect_async(client, NULL, itest_connect_cb, &r);
	ITEST_WAIT_FOR(r.done);
	g_assert_no_error(r.error);
	g_assert_true(r.ok);
}

static void
itest_publish_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	ItestResult *r = user_data;

	r->ok = msb_client_publish_finish(MSB_CLIENT(source), res, &r->error);
	r->done = TRUE;
}

gboolean
itest_client_publish(MsbClient *client, const gchar *topic, const MsbMessage *messages, guint n,
                     GError **error)
{
	ItestResult r = {0};

	msb_client_publish_async(client, topic, messages, n, FALSE, NULL, itest_publish_cb, &r);
	ITEST_WAIT_FOR(r.done);
	if (r.error != NULL) {
		g_propagate_error(error, r.error);
		return FALSE;
	}
	return r.ok;
}

void
itest_client_sync(MsbClient *client)
{
	g_autoptr(GError) error = NULL;

	/* a topic that never exists: the Reject is the answer we wait for */
	if (!itest_client_publish(client, "itest-sync-barrier", NULL, 0, &error))
		g_assert_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED);
}

void
itest_client_publish_text(MsbClient *client, const gchar *topic, const gchar *text)
{
	g_autoptr(GError) error = NULL;
	MsbMessage m = {(const guint8 *)text, strlen(text), NULL, 0};

	itest_client_publish(client, topic, &m, 1, &error);
	g_assert_no_error(error);
}

void
itest_received_free(ItestReceived *m)
{
	if (m == NULL)
		return;
	g_bytes_unref(m->content);
	g_ptr_array_unref(m->headers);
	g_free(m);
}

GPtrArray *
itest_received_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)itest_received_free);
}

void
itest_received_append(GPtrArray *into, MsbDelivery *delivery)
{
	for (guint i = 0; i < msb_delivery_get_n_messages(delivery); i++) {
		const MsbReceivedMessage *src = msb_delivery_get_message(delivery, i);
		ItestReceived *m = g_new0(ItestReceived, 1);

		m->id = src->id;
		m->attempt = src->attempt;
		m->confirmation_id = msb_delivery_get_confirmation_id(delivery);
		m->content = g_bytes_new(src->content, src->content_len);
		m->headers = g_ptr_array_new_with_free_func(g_free);
		for (guint h = 0; h < src->n_headers; h++)
			g_ptr_array_add(m->headers, g_strdup_printf("%s=%s", src->headers[h].key,
			                                            src->headers[h].value));
		g_ptr_array_add(into, m);
	}
}

void
itest_confirm_all_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	itest_received_append(user_data, delivery);
	msb_delivery_confirm_all(delivery);
}

/* ---- msbctl ---- */

typedef struct {
	gboolean done;
	gchar *out;
	gchar *err;
	GError *error;
} ItestRunResult;

static void
itest_msbctl_communicate_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	ItestRunResult *r = user_data;

	g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), res, &r->out, &r->err,
	                                     &r->error);
	r->done = TRUE;
}

static void
itest_msbctl_waited_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;

	g_subprocess_wait_finish(G_SUBPROCESS(source), res, &error);
	g_assert_no_error(error);
	*(gboolean *)user_data = TRUE;
}

static void
itest_msbctl_child_setup(gpointer user_data)
{
	pid_t parent = (pid_t)GPOINTER_TO_INT(user_data);

	/* like the broker: die with the test */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
}

GSubprocess *
itest_msbctl_spawn(const gchar *const *args, const gchar *const *env, GSubprocessFlags flags)
{
	return itest_msbctl_spawn_full(NULL, args, env, flags);
}

GSubprocess *
itest_msbctl_spawn_full(const gchar *const *prefix, const gchar *const *args,
                        const gchar *const *env, GSubprocessFlags flags)
{
	const gchar *msbctl = g_getenv("MSBCTL");
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(flags);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	GSubprocess *proc;

	g_assert_nonnull(msbctl);
	for (guint i = 0; prefix != NULL && prefix[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)prefix[i]);
	g_ptr_array_add(argv, (gpointer)msbctl);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	for (guint i = 0; env != NULL && env[i] != NULL; i++) {
		g_auto(GStrv) kv = g_strsplit(env[i], "=", 2);
		g_assert_nonnull(kv[1]);
		g_subprocess_launcher_setenv(launcher, kv[0], kv[1], TRUE);
	}
	g_subprocess_launcher_set_child_setup(launcher, itest_msbctl_child_setup,
	                                      GINT_TO_POINTER((gint)getpid()), NULL);
	proc = g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	g_assert_no_error(error);
	return proc;
}

gint
itest_run_msbctl_env(const gchar *const *args, const gchar *const *env, const gchar *input,
                     gchar **out, gchar **err)
{
	return itest_run_msbctl_full(NULL, args, env, input, out, err);
}

gint
itest_run_msbctl_full(const gchar *const *prefix, const gchar *const *args, const gchar *const *env,
                      const gchar *input, gchar **out, gchar **err)
{
	g_autoptr(GSubprocess) proc = NULL;
	ItestRunResult r = {0};
	gboolean waited = FALSE;
	ItestWait w;

	proc = itest_msbctl_spawn_full(prefix, args, env,
	                               G_SUBPROCESS_FLAGS_STDIN_PIPE |
	                                       G_SUBPROCESS_FLAGS_STDOUT_PIPE |
	                                       G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_subprocess_communicate_utf8_async(proc, input != NULL ? input : "", NULL,
	                                    itest_msbctl_communicate_cb, &r);
	itest_wait_begin(&w, ITEST_TIMEOUT_MS);
	while (!r.done) {
		if (!itest_wait_iterate(&w)) {
			g_subprocess_force_exit(proc);
			g_error("msbctl %s did not finish within %d ms", args[0], ITEST_TIMEOUT_MS);
		}
	}
	itest_wait_end(&w);
	g_assert_no_error(r.error);
	/* communicate returns at EOF of both pipes; the exit status may need a moment more */
	g_subprocess_wait_async(proc, NULL, itest_msbctl_waited_cb, &waited);
	ITEST_WAIT_FOR(waited);
	g_test_message("msbctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", args[0],
	               g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1,
	               r.out, r.err);
	g_assert_true(g_subprocess_get_if_exited(proc));
	*out = r.out;
	*err = r.err;
	return g_subprocess_get_exit_status(proc);
}

gint
itest_run_msbctl(const gchar *const *args, const gchar *input, gchar **out, gchar **err)
{
	return itest_run_msbctl_env(args, NULL, input, out, err);
}

/* ---- a private D-Bus ---- */

struct _ItestBus {
	gchar *dir;
	gchar *socket_path;
	gchar *address;
	gchar *config_path;
	GPid pid;
};

static void
itest_bus_child_setup(gpointer user_data)
{
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
itest_bus_answers(ItestBus *bus)
{
	g_autoptr(GDBusConnection) connection = NULL;

	if (!g_file_test(bus->socket_path, G_FILE_TEST_EXISTS))
		return FALSE;
	connection = g_dbus_connection_new_for_address_sync(
	        bus->address,
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, NULL);
	if (connection == NULL)
		return FALSE;
	g_dbus_connection_set_exit_on_close(connection, FALSE);
	g_dbus_connection_close_sync(connection, NULL, NULL);
	return TRUE;
}

/* (Re)start the daemon at the bus's address. */
void
itest_bus_restart(ItestBus *bus)
{
	const gchar *argv[] = {"dbus-daemon", "--nofork", NULL, NULL};
	g_autofree gchar *config_arg = g_strdup_printf("--config-file=%s", bus->config_path);
	g_autoptr(GError) error = NULL;

	itest_bus_kill(bus);
	argv[2] = config_arg;
	(void)g_unlink(bus->socket_path);
	/* its stderr (a warning about the open-files limit when run as root) is not the test's */
	g_spawn_async(NULL, (gchar **)argv, NULL,
	              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
	              itest_bus_child_setup, NULL, &bus->pid, &error);
	g_assert_no_error(error);
	/* the socket file exists a moment before the daemon accepts on it */
	ITEST_WAIT_FOR(itest_bus_answers(bus));
}

void
itest_bus_kill(ItestBus *bus)
{
	gint status = 0;

	if (bus->pid == 0)
		return;
	kill(bus->pid, SIGKILL);
	(void)waitpid(bus->pid, &status, 0);
	g_spawn_close_pid(bus->pid);
	bus->pid = 0;
}

ItestBus *
itest_bus_new(void)
{
	ItestBus *bus = g_new0(ItestBus, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *config = NULL;

	bus->dir = g_dir_make_tmp("msb-itest-bus-XXXXXX", &error);
	g_assert_no_error(error);
	/* a caller running as another uid must reach the socket */
	g_assert_cmpint(g_chmod(bus->dir, 0711), ==, 0);
	bus->socket_path = g_build_filename(bus->dir, "bus", NULL);
	bus->address = g_strdup_printf("unix:path=%s", bus->socket_path);
	bus->config_path = g_build_filename(bus->dir, "bus.conf", NULL);
	config = g_strdup_printf(
	        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
	        "1.0//EN\"\n"
	        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	        "<busconfig>\n"
	        "  <type>session</type>\n"
	        "  <listen>%s</listen>\n"
	        "  <auth>EXTERNAL</auth>\n"
	        "  <policy context=\"default\">\n"
	        "    <allow user=\"*\"/>\n"
	        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
	        "    <allow eavesdrop=\"true\"/>\n"
	        "    <allow own=\"*\"/>\n"
	        "  </policy>\n"
	        "</busconfig>\n",
	        bus->address);
	g_file_set_contents(bus->config_path, config, -1, &error);
	g_assert_no_error(error);
	itest_bus_restart(bus);
	return bus;
}

const gchar *
itest_bus_get_address(ItestBus *bus)
{
	return bus->address;
}

GDBusConnection *
itest_bus_connect(ItestBus *bus)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_dbus_connection_new_for_address_sync(
	        bus->address,
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);

	g_assert_no_error(error);
	/* the test decides what a lost bus means (some kill it on purpose) */
	g_dbus_connection_set_exit_on_close(connection, FALSE);
	return connection;
}

void
itest_bus_free(ItestBus *bus)
{
	if (bus == NULL)
		return;
	itest_bus_kill(bus);
	(void)g_unlink(bus->socket_path);
	(void)g_unlink(bus->config_path);
	(void)g_rmdir(bus->dir);
	g_free(bus->dir);
	g_free(bus->socket_path);
	g_free(bus->address);
	g_free(bus->config_path);
	g_free(bus);
}

static void
itest_bus_name_appeared_cb(GDBusConnection *connection, const gchar *name, const gchar *owner,
                           gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
}

void
itest_broker_start_on_bus(ItestBroker *b, const gchar *option, ItestBus *bus)
{
	const gchar *variable = g_strcmp0(option, "--system-bus") == 0 ? "DBUS_SYSTEM_BUS_ADDRESS"
	                                                               : "DBUS_SESSION_BUS_ADDRESS";
	g_autoptr(GDBusConnection) connection = itest_bus_connect(bus);
	gboolean owned = FALSE;
	guint watch;

	/* only for the spawn: the test's own GIO helpers must not meet the private bus */
	b->dbus_option = option;
	g_setenv(variable, bus->address, TRUE);
	itest_broker_spawn(b, 0);
	g_unsetenv(variable);
	itest_broker_wait_ready(b, 0, ITEST_TIMEOUT_MS);
	/* it takes its name after it listens */
	watch = g_bus_watch_name_on_connection(connection, "org.myservicebus.Broker1",
	                                       G_BUS_NAME_WATCHER_FLAGS_NONE,
	                                       itest_bus_name_appeared_cb, NULL, &owned, NULL);
	ITEST_WAIT_FOR(owned);
	g_bus_unwatch_name(watch);
	g_dbus_connection_close_sync(connection, NULL, NULL);
}
