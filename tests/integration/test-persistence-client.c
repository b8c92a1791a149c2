/*
 * MsbPersistenceClient against the real my-service-bus-persistence: URL parsing, a service that
 * is down (an error within the deadline, with a message naming the service), a service that
 * restarts (the next call works within a second, and a call made while it was down completes
 * once it is back), cancellation, the "connected" property, and results delivered on the main
 * context the client was created on.
 */
#define G_LOG_DOMAIN "test-persistence-client"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "ptest.h"

static void
test_parse_url(void)
{
	const struct {
		const gchar *url;
		const gchar *target; /* NULL: an error */
	} cases[] = {
	        {"http://127.0.0.1:7124", "127.0.0.1:7124"},
	        {"http://localhost:9000/", "localhost:9000"},
	        {"http://persistence", "persistence:7124"},
	        {"HTTP://[::1]:7124", "[::1]:7124"},
	        {"127.0.0.1:7000", "127.0.0.1:7000"},
	        {"db-host", "db-host:7124"},
	        {"unix:/run/msb/persistence.sock", "unix:/run/msb/persistence.sock"},
	        {"/run/msb/persistence.sock", "unix:/run/msb/persistence.sock"},
	        {"https://127.0.0.1:7124", NULL},
	        {"ftp://127.0.0.1:7124", NULL},
	        {"http://:7124", NULL},
	        {"unix:", NULL},
	        {"", NULL},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *target = msb_persistence_parse_url(cases[i].url, &error);

		g_test_message("%s → %s", cases[i].url, target != NULL ? target : error->message);
		if (cases[i].target == NULL) {
			g_assert_null(target);
			g_assert_error(error, MSB_PERSISTENCE_ERROR,
			               MSB_PERSISTENCE_ERROR_INVALID_URL);
		} else {
			g_assert_no_error(error);
			g_assert_cmpstr(target, ==, cases[i].target);
		}
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbPersistenceClient) c =
		        msb_persistence_client_new("https://x:1", &error);

		g_assert_null(c);
		g_assert_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_INVALID_URL);
		g_assert_nonnull(strstr(error->message, "cleartext"));
	}
}

static void
test_down_fails_fast(void)
{
	guint16 port = ptest_free_port();
	g_autofree gchar *url = g_strdup_printf("http://127.0.0.1:%u", port);
	g_autofree gchar *target = g_strdup_printf("127.0.0.1:%u", port);
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbMessageBatch) page = NULL;
	gint64 t0;
	gint64 elapsed;

	client = msb_persistence_client_new(url, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(msb_persistence_client_get_target(client), ==, target);
	msb_persistence_client_set_timeouts(client, 300, 400);

	t0 = g_get_monotonic_time();
	g_assert_false(ptest_ping(client, &error));
	elapsed = g_get_monotonic_time() - t0;
	g_test_message("ping: %s after %" G_GINT64_FORMAT " ms", error->message, elapsed / 1000);
	g_assert_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_DEADLINE_EXCEEDED);
	g_assert_nonnull(strstr(error->message, target));
	g_assert_nonnull(strstr(error->message, "unavailable"));
	g_assert_true(msb_persistence_error_is_transient(error));
	g_assert_cmpint(elapsed, >=, 250 * 1000);
	g_assert_cmpint(elapsed, <, 1500 * 1000);
	g_clear_error(&error);

	/* the bulk timeout for pages */
	t0 = g_get_monotonic_time();
	page = ptest_get_page(client, "orders", 0, 0, 0, &error);
	elapsed = g_get_monotonic_time() - t0;
	g_assert_null(page);
	g_assert_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_DEADLINE_EXCEEDED);
	g_assert_cmpint(elapsed, >=, 350 * 1000);
	g_assert_cmpint(elapsed, <, 1600 * 1000);
	g_assert_false(msb_persistence_client_get_connected(client));
}

static void
connected_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	guint *n = user_data;

	(*n)++;
}

static void
test_restart(void)
{
	PtestService *s = ptest_service_new();
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = NULL;
	GAsyncResult *res = NULL;
	guint notifications = 0;
	guint16 port;
	gint64 t0;
	gint64 elapsed;

	ptest_service_start(s, 0);
	port = s->grpc_port;
	target = ptest_service_target(s);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	g_signal_connect(client, "notify::connected", G_CALLBACK(connected_cb), &notifications);
	g_assert_true(ptest_ping(client, &error));
	g_assert_no_error(error);
	PTEST_WAIT_FOR_MS(msb_persistence_client_get_connected(client), PTEST_TIMEOUT_MS);
	g_assert_cmpuint(notifications, ==, 1);

	/* the service dies: the client notices without a call */
	ptest_service_stop(s, SIGKILL);
	PTEST_WAIT_FOR_MS(!msb_persistence_client_get_connected(client), PTEST_TIMEOUT_MS);
	g_assert_cmpuint(notifications, ==, 2);

	/* back on the same port: the next call works within a second */
	ptest_service_start(s, port);
	t0 = g_get_monotonic_time();
	msb_persistence_client_set_timeouts(client, 5000, 5000);
	g_assert_true(ptest_ping(client, &error));
	g_assert_no_error(error);
	elapsed = g_get_monotonic_time() - t0;
	g_test_message("first ping after the restart took %" G_GINT64_FORMAT " ms", elapsed / 1000);
	g_assert_cmpint(elapsed, <, 1000 * 1000);
	PTEST_WAIT_FOR_MS(msb_persistence_client_get_connected(client), PTEST_TIMEOUT_MS);

	/* a call made while the service is down waits for it (WAIT_FOR_READY) */
	ptest_service_stop(s, SIGKILL);
	PTEST_WAIT_FOR_MS(!msb_persistence_client_get_connected(client), PTEST_TIMEOUT_MS);
	msb_persistence_client_get_snapshot_async(client, NULL, ptest_store_result_cb, &res);
	ptest_service_start(s, port);
	t0 = g_get_monotonic_time();
	ptest_wait_result(&res);
	elapsed = g_get_monotonic_time() - t0;
	{
		g_autoptr(GPtrArray) snap =
		        msb_persistence_client_get_snapshot_finish(client, res, &error);

		g_assert_no_error(error);
		g_assert_nonnull(snap);
	}
	g_object_unref(res);
	g_test_message("a call waiting for the service completed %" G_GINT64_FORMAT
	               " ms after it was ready",
	               elapsed / 1000);
	g_assert_cmpint(elapsed, <, 1000 * 1000);

	g_clear_object(&client);
	ptest_service_free(s);
}

static void
test_cancel(void)
{
	guint16 port = ptest_free_port();
	g_autofree gchar *target = g_strdup_printf("127.0.0.1:%u", port);
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GCancellable) cancelled = g_cancellable_new();
	g_autoptr(GError) error = NULL;
	GAsyncResult *res = NULL;
	gint64 t0;

	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);

	/* cancelled while waiting for a connection that never comes */
	msb_persistence_client_get_version_async(client, cancellable, ptest_store_result_cb, &res);
	t0 = g_get_monotonic_time();
	while (g_get_monotonic_time() - t0 < 100 * 1000)
		g_main_context_iteration(NULL, FALSE);
	g_cancellable_cancel(cancellable);
	ptest_wait_result(&res);
	g_assert_null(msb_persistence_client_get_version_finish(client, res, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_false(msb_persistence_error_is_transient(error));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1000 * 1000);
	g_clear_error(&error);
	g_clear_object(&res);

	/* cancelled before it starts */
	g_cancellable_cancel(cancelled);
	msb_persistence_client_ping_async(client, cancelled, ptest_store_result_cb, &res);
	ptest_wait_result(&res);
	g_assert_false(msb_persistence_client_ping_finish(client, res, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_clear_object(&res);
}

/* ---- another main context ---- */

typedef struct {
	const gchar *target;
	GThread *thread;
	gboolean done;
	gboolean ok;
	gboolean on_thread;
	gchar *version;
	GMainContext *context;
} ContextTest;

static void
context_version_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	ContextTest *t = user_data;
	g_autoptr(GError) error = NULL;

	t->on_thread = g_thread_self() == t->thread && g_main_context_is_owner(t->context);
	t->version = msb_persistence_client_get_version_finish(MSB_PERSISTENCE_CLIENT(source),
	                                                       result, &error);
	t->ok = error == NULL;
	t->done = TRUE;
}

static gpointer
context_thread(gpointer data)
{
	ContextTest *t = data;
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;

	g_main_context_push_thread_default(t->context);
	client = msb_persistence_client_new(t->target, &error);
	g_assert_no_error(error);
	msb_persistence_client_get_version_async(client, NULL, context_version_cb, t);
	while (!t->done)
		g_main_context_iteration(t->context, TRUE);
	g_clear_object(&client);
	g_main_context_pop_thread_default(t->context);
	return NULL;
}

static void
test_other_context(void)
{
	PtestService *s = ptest_service_new();
	g_autofree gchar *target = NULL;
	ContextTest t = {0};

	ptest_service_start(s, 0);
	target = ptest_service_target(s);
	t.target = target;
	t.context = g_main_context_new();
	t.thread = g_thread_new("ctx-test", context_thread, &t);
	g_thread_join(t.thread);
	g_assert_true(t.done);
	g_assert_true(t.ok);
	g_assert_true(t.on_thread);
	g_assert_nonnull(t.version);
	g_free(t.version);
	g_main_context_unref(t.context);
	ptest_service_free(s);
}

/* Many calls at once share the workers and all complete. */
static void
test_many_calls(void)
{
	enum {
		N = 64
	};
	PtestService *s = ptest_service_new();
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = NULL;
	GAsyncResult *res[N] = {NULL};

	ptest_service_start(s, 0);
	target = ptest_service_target(s);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < N; i++)
		msb_persistence_client_ping_async(client, NULL, ptest_store_result_cb, &res[i]);
	for (guint i = 0; i < N; i++) {
		ptest_wait_result(&res[i]);
		g_assert_true(msb_persistence_client_ping_finish(client, res[i], &error));
		g_assert_no_error(error);
		g_object_unref(res[i]);
	}
	g_clear_object(&client);
	ptest_service_free(s);
}

/* A client dropped right after it was made, before its threads ran, goes away cleanly. */
static void
test_create_destroy(void)
{
	guint16 port = ptest_free_port();
	g_autofree gchar *target = g_strdup_printf("127.0.0.1:%u", port);
	gint64 t0 = g_get_monotonic_time();

	for (guint i = 0; i < 50; i++) {
		g_autoptr(GError) error = NULL;
		MsbPersistenceClient *client = msb_persistence_client_new(target, &error);

		g_assert_no_error(error);
		if (i % 2 == 1)
			g_usleep(1000);
		g_object_unref(client);
	}
	/* dispose does not wait for the watcher's period */
	g_test_message("50 clients in %" G_GINT64_FORMAT " ms",
	               (g_get_monotonic_time() - t0) / 1000);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * G_USEC_PER_SEC);
}

int
main(int argc, char **argv)
{
	int rc;

	ptest_init(&argc, &argv);
	g_test_add_func("/persistence-client/parse-url", test_parse_url);
	g_test_add_func("/persistence-client/down-fails-fast", test_down_fails_fast);
	g_test_add_func("/persistence-client/restart", test_restart);
	g_test_add_func("/persistence-client/cancel", test_cancel);
	g_test_add_func("/persistence-client/other-context", test_other_context);
	g_test_add_func("/persistence-client/many-calls", test_many_calls);
	g_test_add_func("/persistence-client/create-destroy", test_create_destroy);
	rc = g_test_run();
	ptest_shutdown();
	return rc;
}
