/*
 * SIGHUP to my-service-bus-persistence (issue 7, item 3): it keeps serving and keeps its data,
 * reads its settings file again, applies ShutdownTimeout, names the keys that need a restart,
 * and keeps its settings when the file now has an error.
 */
#include <signal.h>
#include <string.h>

#include "ptest.h"

static void
write_settings(PtestService *s, const gchar *text)
{
	g_autofree gchar *path = g_build_filename(s->dir, "settings.yaml", NULL);
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
}

static guint
log_count(PtestService *s, const gchar *needle)
{
	g_autofree gchar *log = ptest_service_log(s);
	guint n = 0;

	for (const gchar *p = strstr(log, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void
assert_serving(MsbPersistenceClient *client, const MsbPersistMessage *msgs, gsize n)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbMessageBatch) batch = NULL;

	g_assert_true(ptest_ping(client, &error));
	g_assert_no_error(error);
	batch = ptest_get_sub_page(client, "reload", 0, &error);
	g_assert_no_error(error);
	ptest_assert_batch(batch, msgs, n);
}

static void
test_persistence_reload(void)
{
	PtestService *s = ptest_service_new();
	g_autofree gchar *target = NULL;
	g_autofree gchar *settings = NULL;
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autoptr(GError) error = NULL;
	MsbPersistMessage *msgs = ptest_messages_new(0, 10);

	ptest_service_start(s, 0);
	target = ptest_service_target(s);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	g_assert_true(ptest_save_messages(client, "reload", msgs, 10, FALSE, &error));
	g_assert_no_error(error);

	settings = g_strdup_printf("ShutdownTimeout: 2s\nListenUnixSocket: %s/p.sock\n", s->dir);
	write_settings(s, settings);
	g_assert_cmpint(kill(s->pid, SIGHUP), ==, 0);
	PTEST_WAIT_FOR_MS(log_count(s, "reload: ShutdownTimeout: 00:00:05 -> 00:00:02") == 1,
	                  PTEST_TIMEOUT_MS);
	PTEST_WAIT_FOR_MS(log_count(s, "applied only after a restart: ListenUnixSocket") == 1,
	                  PTEST_TIMEOUT_MS);
	assert_serving(client, msgs, 10);

	/* an error in the file: the settings in use stay, and so does the service */
	write_settings(s, "ShutdownTimeout: banana\n");
	g_assert_cmpint(kill(s->pid, SIGHUP), ==, 0);
	PTEST_WAIT_FOR_MS(log_count(s, "still running on the settings in use") == 1,
	                  PTEST_TIMEOUT_MS);
	assert_serving(client, msgs, 10);
	/* back to the first file: ShutdownTimeout is still 2 s, so nothing to apply */
	write_settings(s, settings);
	g_assert_cmpint(kill(s->pid, SIGHUP), ==, 0);
	PTEST_WAIT_FOR_MS(log_count(s, "applied only after a restart: ListenUnixSocket") == 2,
	                  PTEST_TIMEOUT_MS);
	g_assert_cmpuint(log_count(s, "reload: ShutdownTimeout"), ==, 1);
	assert_serving(client, msgs, 10);

	ptest_messages_free(msgs, 10);
	g_clear_object(&client);
	ptest_service_free(s);
}

int
main(int argc, char **argv)
{
	int rc;

	ptest_init(&argc, &argv);
	g_test_add_func("/persistence-reload/sighup", test_persistence_reload);
	rc = g_test_run();
	ptest_shutdown();
	return rc;
}
