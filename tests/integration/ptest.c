/*
 * The persistence test harness (see ptest.h): the service process, raw gRPC calls, HTTP GETs and
 * synchronous wrappers around MsbPersistenceClient for the tests' main loop.
 */
#define G_LOG_DOMAIN "ptest"

#include "ptest.h"
#include "spawn-env.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

static GThread *main_thread;

void
ptest_init(int *argc, char ***argv)
{
	main_thread = g_thread_self();
	g_test_init(argc, argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (g_getenv("MSB_PERSISTENCE") == NULL)
		g_error("$MSB_PERSISTENCE must name the my-service-bus-persistence binary (meson "
		        "sets it)");
	grpc_init();
}

void
ptest_shutdown(void)
{
	grpc_shutdown();
}

/* ---- the service ------------------------------------------------------------------------- */

static void
ptest_rm_rf(const gchar *path)
{
	GDir *dir;
	const gchar *name;

	if (!g_file_test(path, G_FILE_TEST_IS_DIR) || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
		g_unlink(path);
		return;
	}
	dir = g_dir_open(path, 0, NULL);
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		ptest_rm_rf(child);
	}
	if (dir != NULL)
		g_dir_close(dir);
	g_rmdir(path);
}

PtestService *
ptest_service_new(void)
{
	PtestService *s = g_new0(PtestService, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *settings = NULL;

	s->dir = g_dir_make_tmp("msb-ptest-XXXXXX", &error);
	g_assert_no_error(error);
	s->data_path = g_build_filename(s->dir, "data", NULL);
	s->ready_path = g_build_filename(s->dir, "ready", NULL);
	s->log_path = g_build_filename(s->dir, "service.log", NULL);
	/* an empty settings file, so that a $HOME/.myservicebus-persistence cannot interfere */
	settings = g_build_filename(s->dir, "settings.yaml", NULL);
	g_file_set_contents(settings, "# test settings\n", -1, &error);
	g_assert_no_error(error);
	s->extra_args = g_ptr_array_new_with_free_func(g_free);
	return s;
}

static void
ptest_child_setup(gpointer data)
{
	/* the service must not outlive a test that aborts */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

void
ptest_service_spawn(PtestService *s, guint16 grpc_port)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) envp = NULL;
	gint fd;

	g_assert_cmpint(s->pid, ==, 0);
	g_unlink(s->ready_path);
	if (s->env != NULL)
		envp = spawn_env_add(g_get_environ(), s->env);
	if (s->env_pid != NULL)
		spawn_env_wrap_pid(argv, s->env_pid);
	g_ptr_array_add(argv, g_strdup(g_getenv("MSB_PERSISTENCE")));
	g_ptr_array_add(argv, g_strdup("--settings"));
	g_ptr_array_add(argv, g_build_filename(s->dir, "settings.yaml", NULL));
	g_ptr_array_add(argv, g_strdup("--grpc-port"));
	g_ptr_array_add(argv, g_strdup_printf("%u", grpc_port));
	g_ptr_array_add(argv, g_strdup("--http-port"));
	g_ptr_array_add(argv, g_strdup("0"));
	g_ptr_array_add(argv, g_strdup("--listen-address"));
	g_ptr_array_add(argv, g_strdup("127.0.0.1"));
	g_ptr_array_add(argv, g_strdup("--data-path"));
	g_ptr_array_add(argv, g_strdup(s->data_path));
	g_ptr_array_add(argv, g_strdup("--ready-file"));
	g_ptr_array_add(argv, g_strdup(s->ready_path));
	g_ptr_array_add(argv, g_strdup("--verbose"));
	for (guint i = 0; i < s->extra_args->len; i++)
		g_ptr_array_add(argv, g_strdup(g_ptr_array_index(s->extra_args, i)));
	g_ptr_array_add(argv, NULL);

	fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	g_assert_cmpint(fd, >=, 0);
	g_spawn_async_with_pipes_and_fds(NULL, (const gchar *const *)argv->pdata,
	                                 (const gchar *const *)envp, G_SPAWN_DO_NOT_REAP_CHILD,
	                                 ptest_child_setup, NULL, -1, fd, fd, NULL, NULL, 0,
	                                 &s->pid, NULL, NULL, NULL, &error);
	close(fd);
	g_assert_no_error(error);
}

gboolean
ptest_service_wait_exit(PtestService *s, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	if (s->pid == 0)
		return TRUE;
	for (;;) {
		gint status = 0;
		pid_t r = waitpid(s->pid, &status, WNOHANG);

		if (r == s->pid) {
			s->wait_status = status;
			s->pid = 0;
			return TRUE;
		}
		g_assert_cmpint(r, ==, 0);
		if (g_get_monotonic_time() > deadline)
			return FALSE;
		g_usleep(5000);
	}
}

static void
ptest_print_log(PtestService *s)
{
	g_autofree gchar *log = ptest_service_log(s);

	g_printerr("---- service log %s ----\n%s---- end of log ----\n", s->log_path, log);
}

/* Waits for the ready file; fails if the process exits first. */
static void
ptest_wait_listening(PtestService *s)
{
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

	for (;;) {
		g_autofree gchar *text = NULL;

		if (g_file_get_contents(s->ready_path, &text, NULL, NULL) &&
		    strstr(text, "pid=") != NULL) {
			g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

			for (guint i = 0; lines[i] != NULL; i++) {
				if (g_str_has_prefix(lines[i], "grpc_port="))
					s->grpc_port = (guint16)atoi(lines[i] + 10);
				else if (g_str_has_prefix(lines[i], "http_port="))
					s->http_port = (guint16)atoi(lines[i] + 10);
			}
			g_assert_cmpuint(s->grpc_port, >, 0);
			g_assert_cmpuint(s->http_port, >, 0);
			return;
		}
		if (ptest_service_wait_exit(s, 0)) {
			ptest_print_log(s);
			g_error("my-service-bus-persistence exited during start-up (status %d)",
			        s->wait_status);
		}
		if (g_get_monotonic_time() > deadline) {
			ptest_print_log(s);
			g_error("my-service-bus-persistence did not start listening in 20 s");
		}
		g_usleep(5000);
	}
}

void
ptest_service_start_listening(PtestService *s, guint16 grpc_port)
{
	ptest_service_spawn(s, grpc_port);
	ptest_wait_listening(s);
}

void
ptest_service_start(PtestService *s, guint16 grpc_port)
{
	gint64 deadline;

	ptest_service_start_listening(s, grpc_port);
	deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	for (;;) {
		guint status = 0;
		g_autofree gchar *body = ptest_http_get(s->http_port, "/api/status", &status);

		if (status == 200 && strstr(body, "\"ready\" : true") != NULL)
			return;
		if (g_get_monotonic_time() > deadline) {
			ptest_print_log(s);
			g_error("my-service-bus-persistence did not finish recovery in 20 s");
		}
		g_usleep(5000);
	}
}

gint
ptest_service_stop(PtestService *s, gint signo)
{
	g_assert_cmpint(s->pid, !=, 0);
	kill(s->pid, signo);
	if (!ptest_service_wait_exit(s, 15000)) {
		kill(s->pid, SIGKILL);
		ptest_service_wait_exit(s, 5000);
		ptest_print_log(s);
		g_error("my-service-bus-persistence did not stop within 15 s of signal %d", signo);
	}
	return s->wait_status;
}

void
ptest_service_free(PtestService *s)
{
	if (s == NULL)
		return;
	if (s->pid != 0) {
		gint status = ptest_service_stop(s, SIGTERM);

		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			ptest_print_log(s);
			g_error("my-service-bus-persistence did not exit cleanly (wait status "
			        "0x%x)",
			        status);
		}
	}
	ptest_rm_rf(s->dir);
	g_free(s->dir);
	g_free(s->data_path);
	g_free(s->ready_path);
	g_free(s->log_path);
	g_ptr_array_unref(s->extra_args);
	g_free(s);
}

gchar *
ptest_service_target(PtestService *s)
{
	return g_strdup_printf("127.0.0.1:%u", s->grpc_port);
}

gchar *
ptest_service_log(PtestService *s)
{
	gchar *text = NULL;

	if (!g_file_get_contents(s->log_path, &text, NULL, NULL))
		return g_strdup("");
	return text;
}

guint16
ptest_free_port(void)
{
	g_autoptr(GSocket) sock = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GError) error = NULL;

	sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
	                    &error);
	g_assert_no_error(error);
	addr = g_inet_socket_address_new_from_string("127.0.0.1", 0);
	g_socket_bind(sock, addr, TRUE, &error);
	g_assert_no_error(error);
	bound = g_socket_get_local_address(sock, &error);
	g_assert_no_error(error);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

/* ---- HTTP -------------------------------------------------------------------------------- */

gchar *
ptest_http_get(guint16 port, const gchar *path, guint *status)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autofree gchar *request = NULL;
	g_autofree gchar *text = NULL;
	GOutputStream *out;
	GInputStream *in;
	const gchar *body;
	guint8 chunk[8192];

	*status = 0;
	g_socket_client_set_timeout(client, 10);
	conn = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error);
	if (conn == NULL)
		return g_strdup("");
	request = g_strdup_printf("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	                          path);
	out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	if (!g_output_stream_write_all(out, request, strlen(request), NULL, NULL, &error))
		return g_strdup("");
	for (;;) {
		gssize n = g_input_stream_read(in, chunk, sizeof(chunk), NULL, &error);

		if (n <= 0)
			break;
		g_byte_array_append(buf, chunk, (guint)n);
	}
	text = g_strndup((const gchar *)buf->data, buf->len);
	if (g_str_has_prefix(text, "HTTP/1.") && strlen(text) > 12)
		*status = (guint)atoi(text + 9);
	body = strstr(text, "\r\n\r\n");
	return g_strdup(body != NULL ? body + 4 : "");
}

/* ---- raw gRPC calls ---------------------------------------------------------------------- */

void
ptest_reply_free(PtestReply *reply)
{
	if (reply == NULL)
		return;
	g_free(reply->details);
	g_free(reply->retry_pushback);
	g_ptr_array_unref(reply->responses);
	g_free(reply);
}

static gboolean
ptest_batch(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, gsize n)
{
	grpc_event ev;

	g_assert_cmpint(grpc_call_start_batch(call, ops, n, call, NULL), ==, GRPC_CALL_OK);
	ev = grpc_completion_queue_pluck(cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static GBytes *
ptest_bb_to_bytes(grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader reader;
	grpc_slice slice;
	GBytes *bytes;

	g_assert_true(grpc_byte_buffer_reader_init(&reader, bb));
	slice = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	bytes = g_bytes_new(GRPC_SLICE_START_PTR(slice), GRPC_SLICE_LENGTH(slice));
	grpc_slice_unref(slice);
	return bytes;
}

PtestReply *
ptest_raw_call(const gchar *target, const gchar *path, GPtrArray *requests, guint timeout_ms)
{
	PtestReply *reply = g_new0(PtestReply, 1);
	grpc_arg arg;
	grpc_channel_args args = {1, &arg};
	grpc_channel_credentials *creds;
	grpc_channel *channel;
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_slice method;
	grpc_metadata_array initial_md;
	grpc_metadata_array trailing_md;
	grpc_slice details;
	grpc_byte_buffer *recv_bb = NULL;
	grpc_op ops[3];
	gint64 t0 = g_get_monotonic_time();
	gboolean ok;

	reply->responses = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	arg.type = GRPC_ARG_INTEGER;
	arg.key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	arg.value.integer = 100 * 1024 * 1024;
	creds = grpc_insecure_credentials_create();
	channel = grpc_channel_create(target, creds, &args);
	grpc_channel_credentials_release(creds);
	cq = grpc_completion_queue_create_for_pluck(NULL);
	method = grpc_slice_from_copied_string(path);
	call = grpc_channel_create_call(
	        channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
	        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	                     gpr_time_from_millis(timeout_ms, GPR_TIMESPAN)),
	        NULL);
	grpc_slice_unref(method);
	grpc_metadata_array_init(&initial_md);
	grpc_metadata_array_init(&trailing_md);

	/* the status op first, so that an early answer cannot be missed (see
	 * msb-persistence-client.c) */
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &trailing_md;
	ops[0].data.recv_status_on_client.status = &reply->status;
	ops[0].data.recv_status_on_client.status_details = &details;
	g_assert_cmpint(grpc_call_start_batch(call, ops, 1, &reply->status, NULL), ==,
	                GRPC_CALL_OK);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[0].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
	g_assert_cmpint(grpc_call_start_batch(call, ops, 1, &initial_md, NULL), ==, GRPC_CALL_OK);

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY;
	ok = ptest_batch(call, cq, ops, 1);
	for (guint i = 0; ok && requests != NULL && i < requests->len; i++) {
		GBytes *b = g_ptr_array_index(requests, i);
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(b, &len);
		grpc_slice slice = len > 0 ? grpc_slice_from_copied_buffer((const char *)data, len)
		                           : grpc_empty_slice();

		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_SEND_MESSAGE;
		ops[0].data.send_message.send_message = grpc_raw_byte_buffer_create(&slice, 1);
		grpc_slice_unref(slice);
		ok = ptest_batch(call, cq, ops, 1);
		grpc_byte_buffer_destroy(ops[0].data.send_message.send_message);
	}
	if (ok) {
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
		ok = ptest_batch(call, cq, ops, 1);
	}
	while (ok) {
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_RECV_MESSAGE;
		ops[0].data.recv_message.recv_message = &recv_bb;
		if (!ptest_batch(call, cq, ops, 1) || recv_bb == NULL)
			break;
		g_ptr_array_add(reply->responses, ptest_bb_to_bytes(recv_bb));
		g_clear_pointer(&recv_bb, grpc_byte_buffer_destroy);
	}
	grpc_completion_queue_pluck(cq, &initial_md, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpc_completion_queue_pluck(cq, &reply->status, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	reply->details =
	        g_strndup((const gchar *)GRPC_SLICE_START_PTR(details), GRPC_SLICE_LENGTH(details));
	grpc_slice_unref(details);
	reply->elapsed_us = g_get_monotonic_time() - t0;
	for (gsize i = 0; i < trailing_md.count; i++) {
		const grpc_metadata *md = &trailing_md.metadata[i];

		if (grpc_slice_str_cmp(md->key, "grpc-retry-pushback-ms") == 0)
			reply->retry_pushback =
			        g_strndup((const gchar *)GRPC_SLICE_START_PTR(md->value),
			                  GRPC_SLICE_LENGTH(md->value));
	}

	grpc_metadata_array_destroy(&initial_md);
	grpc_metadata_array_destroy(&trailing_md);
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
	               .type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(channel);
	g_test_message("raw %s: status %d \"%s\", %u responses, %" G_GINT64_FORMAT " ms", path,
	               reply->status, reply->details, reply->responses->len,
	               reply->elapsed_us / 1000);
	return reply;
}

PtestReply *
ptest_raw_call1(const gchar *target, const gchar *path, GBytes *request, guint timeout_ms)
{
	g_autoptr(GPtrArray) requests = g_ptr_array_new();

	g_ptr_array_add(requests, request);
	return ptest_raw_call(target, path, requests, timeout_ms);
}

/* ---- the client -------------------------------------------------------------------------- */

void
ptest_store_result_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **out = user_data;

	/* results come on the context the client was created on, in the thread that runs it */
	g_assert_true(g_thread_self() == main_thread);
	g_assert_true(g_main_context_is_owner(g_main_context_default()));
	g_assert_null(*out);
	*out = g_object_ref(result);
}

void
ptest_wait_result(GAsyncResult **result)
{
	PTEST_WAIT_FOR_MS(*result != NULL, PTEST_TIMEOUT_MS * 3);
}

#define PTEST_SYNC(call_async, call_finish, ...) \
	GAsyncResult *res = NULL;                \
	call_async;                              \
	ptest_wait_result(&res);                 \
	{                                        \
		__auto_type _ret = call_finish;  \
		g_object_unref(res);             \
		return _ret;                     \
	}

gboolean
ptest_ping(MsbPersistenceClient *c, GError **error)
{
	PTEST_SYNC(msb_persistence_client_ping_async(c, NULL, ptest_store_result_cb, &res),
	           msb_persistence_client_ping_finish(c, res, error));
}

gchar *
ptest_get_version(MsbPersistenceClient *c, GError **error)
{
	PTEST_SYNC(msb_persistence_client_get_version_async(c, NULL, ptest_store_result_cb, &res),
	           msb_persistence_client_get_version_finish(c, res, error));
}

GPtrArray *
ptest_get_snapshot(MsbPersistenceClient *c, GError **error)
{
	PTEST_SYNC(msb_persistence_client_get_snapshot_async(c, NULL, ptest_store_result_cb, &res),
	           msb_persistence_client_get_snapshot_finish(c, res, error));
}

gboolean
ptest_save_snapshot(MsbPersistenceClient *c, GPtrArray *topics, GError **error)
{
	PTEST_SYNC(msb_persistence_client_save_snapshot_async(c, topics, NULL,
	                                                      ptest_store_result_cb, &res),
	           msb_persistence_client_save_snapshot_finish(c, res, error));
}

gboolean
ptest_save_messages(MsbPersistenceClient *c, const gchar *topic, const MsbPersistMessage *msgs,
                    gsize n, gboolean compressed, GError **error)
{
	PTEST_SYNC(msb_persistence_client_save_messages_async(c, topic, msgs, n, compressed, NULL,
	                                                      ptest_store_result_cb, &res),
	           msb_persistence_client_save_messages_finish(c, res, error));
}

MsbMessageBatch *
ptest_get_page(MsbPersistenceClient *c, const gchar *topic, gint64 page, gint64 from, gint64 to,
               GError **error)
{
	PTEST_SYNC(msb_persistence_client_get_page_async(c, topic, page, from, to, NULL,
	                                                 ptest_store_result_cb, &res),
	           msb_persistence_client_get_page_finish(c, res, error));
}

MsbMessageBatch *
ptest_get_sub_page(MsbPersistenceClient *c, const gchar *topic, gint64 sub, GError **error)
{
	PTEST_SYNC(msb_persistence_client_get_sub_page_async(c, topic, sub, NULL,
	                                                     ptest_store_result_cb, &res),
	           msb_persistence_client_get_sub_page_finish(c, res, error));
}

MsbMessageBatch *
ptest_get_page_compressed(MsbPersistenceClient *c, const gchar *topic, gint64 page, gint64 from,
                          gint64 to, gint32 version, GError **error)
{
	PTEST_SYNC(msb_persistence_client_get_page_compressed_async(
	                   c, topic, page, from, to, version, NULL, ptest_store_result_cb, &res),
	           msb_persistence_client_get_page_compressed_finish(c, res, error));
}

MsbMessageBatch *
ptest_get_message(MsbPersistenceClient *c, const gchar *topic, gint64 id, GError **error)
{
	PTEST_SYNC(msb_persistence_client_get_message_async(c, topic, id, NULL,
	                                                    ptest_store_result_cb, &res),
	           msb_persistence_client_get_message_finish(c, res, error));
}

gboolean
ptest_delete_topic(MsbPersistenceClient *c, const gchar *topic, gint64 after_us, GError **error)
{
	PTEST_SYNC(msb_persistence_client_delete_topic_async(c, topic, after_us, NULL,
	                                                     ptest_store_result_cb, &res),
	           msb_persistence_client_delete_topic_finish(c, res, error));
}

gboolean
ptest_restore_topic(MsbPersistenceClient *c, const gchar *topic, gboolean *restored,
                    gint64 *next_id, GError **error)
{
	PTEST_SYNC(msb_persistence_client_restore_topic_async(c, topic, NULL, ptest_store_result_cb,
	                                                      &res),
	           msb_persistence_client_restore_topic_finish(c, res, restored, next_id, error));
}

/* ---- test messages ----------------------------------------------------------------------- */

#define PTEST_CREATED_BASE G_GINT64_CONSTANT(1700000000000000)

MsbPersistMessage *
ptest_messages_new(gint64 first_id, gsize n)
{
	MsbPersistMessage *msgs = g_new0(MsbPersistMessage, n);

	for (gsize i = 0; i < n; i++) {
		gint64 id = first_id + (gint64)i;
		gsize len = (gsize)(id % 7) * 10;
		guint8 *content = g_malloc(len + 1);

		for (gsize j = 0; j < len; j++)
			content[j] = (guint8)((id + (gint64)j) & 0xff);
		msgs[i].id = id;
		msgs[i].created_us = PTEST_CREATED_BASE + id;
		msgs[i].content = content;
		msgs[i].content_len = len;
		if (id % 2 == 1) {
			MsbPersistHeader *h = g_new0(MsbPersistHeader, 2);

			h[0].key = g_strdup("k");
			h[0].value = g_strdup_printf("v%" G_GINT64_FORMAT, id);
			h[1].key = g_strdup("trace-id");
			h[1].value = g_strdup("");
			msgs[i].headers = h;
			msgs[i].n_headers = 2;
		}
	}
	return msgs;
}

void
ptest_messages_free(MsbPersistMessage *msgs, gsize n)
{
	for (gsize i = 0; i < n; i++) {
		g_free((gpointer)msgs[i].content);
		for (gsize j = 0; j < msgs[i].n_headers; j++) {
			g_free((gpointer)msgs[i].headers[j].key);
			g_free((gpointer)msgs[i].headers[j].value);
		}
		g_free((gpointer)msgs[i].headers);
	}
	g_free(msgs);
}

void
ptest_assert_batch(const MsbMessageBatch *batch, const MsbPersistMessage *expected, gsize n)
{
	g_assert_nonnull(batch);
	g_assert_cmpuint(batch->n_messages, ==, n);
	for (gsize i = 0; i < n; i++) {
		const MsbPersistMessage *got = &batch->messages[i];
		const MsbPersistMessage *want = &expected[i];

		g_assert_cmpint(got->id, ==, want->id);
		g_assert_cmpint(got->created_us, ==, want->created_us);
		g_assert_cmpmem(got->content, got->content_len, want->content, want->content_len);
		g_assert_cmpuint(got->n_headers, ==, want->n_headers);
		for (gsize j = 0; j < want->n_headers; j++) {
			g_assert_cmpstr(got->headers[j].key, ==, want->headers[j].key);
			g_assert_cmpstr(got->headers[j].value, ==, want->headers[j].value);
		}
	}
}
