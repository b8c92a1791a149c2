/*
 * The persistence service's HTTP port under hostile requests (issue 7, item 1): the cases of
 * htest.c against my-service-bus-persistence started with short HTTP limits.
 */
#include "htest.h"
#include "ptest.h"

static PtestService *service;

static void
setup(gpointer fixture, gconstpointer data)
{
	HtestTarget *t = fixture;
	g_autofree gchar *path = NULL;
	g_autoptr(GError) error = NULL;

	service = ptest_service_new();
	path = g_build_filename(service->dir, "settings.yaml", NULL);
	g_file_set_contents(path, HTEST_SETTINGS, -1, &error);
	g_assert_no_error(error);
	ptest_service_start(service, 0);
	t->port = service->http_port;
	t->pid = service->pid;
}

static void
teardown(gpointer fixture, gconstpointer data)
{
	guint status = 0;
	g_autofree gchar *alive = ptest_http_get(service->http_port, "/api/isalive", &status);

	/* still answers, then stops cleanly (exit status 0: no sanitizer report) */
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(alive);
	g_clear_pointer(&service, ptest_service_free);
}

int
main(int argc, char **argv)
{
	static HtestTarget target = {.paths = {"/api/isalive", "/api/status", "/metrics"}};
	int ret;

	ptest_init(&argc, &argv);
	htest_add_cases("/http-limits/persistence", &target, setup, teardown);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
