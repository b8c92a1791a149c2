/*
 * The shared process-level guards of src/common: the open-files limit raised to the hard one, the
 * listen backlog read from the kernel, the Unix socket lock file and the log rate limit.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msb-os-limits.h"
#include "msb-rate-limit.h"
#include "msb-socket-lock.h"

static void
test_nofile(void)
{
	struct rlimit rl;
	guint64 got;

	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
	/* start below the hard limit, as a shell or service manager leaves a daemon */
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max > 64) {
		struct rlimit low = {64, rl.rlim_max};
		g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	}
	got = msb_os_limits_raise_nofile();
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
	g_assert_cmpuint(got, ==, (guint64)rl.rlim_cur);
	if (rl.rlim_max != RLIM_INFINITY)
		g_assert_cmpuint(rl.rlim_cur, ==, rl.rlim_max);
	/* again: nothing to raise */
	g_assert_cmpuint(msb_os_limits_raise_nofile(), ==, got);
}

static void
test_somaxconn(void)
{
	g_autofree gchar *text = NULL;
	gint v = msb_os_limits_get_somaxconn();

	if (g_file_get_contents("/proc/sys/net/core/somaxconn", &text, NULL, NULL))
		g_assert_cmpint(v, ==, (gint)g_ascii_strtoll(text, NULL, 10));
	else
		g_assert_cmpint(v, ==, SOMAXCONN);
}

static void
test_socket_lock(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp("msb-lock-XXXXXX", &error);
	g_autofree gchar *path = NULL;
	g_autofree gchar *lock_path = NULL;
	gint fd;
	gint again;

	g_assert_no_error(error);
	path = g_build_filename(dir, "s.sock", NULL);
	lock_path = g_strconcat(path, ".lock", NULL);
	fd = msb_socket_lock_acquire(path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(fd, >=, 0);
	g_assert_true(g_file_test(lock_path, G_FILE_TEST_EXISTS));

	/* flock() locks belong to the open file: a second open conflicts, in any process */
	again = msb_socket_lock_acquire(path, &error);
	g_assert_cmpint(again, ==, -1);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
	g_assert_nonnull(strstr(error->message, "is served by another process"));
	g_assert_nonnull(strstr(error->message, lock_path));
	g_clear_error(&error);

	/* released with its descriptor (and so when the process dies) */
	close(fd);
	again = msb_socket_lock_acquire(path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(again, >=, 0);
	close(again);

	/* a folder that does not exist */
	{
		g_autofree gchar *bad = g_build_filename(dir, "missing", "s.sock", NULL);
		g_assert_cmpint(msb_socket_lock_acquire(bad, &error), ==, -1);
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
		g_assert_nonnull(strstr(error->message, "Cannot create the lock file"));
	}
	g_unlink(lock_path);
	g_rmdir(dir);
}

static void
test_rate_limit(void)
{
	MsbRateLimit rl = MSB_RATE_LIMIT_INIT(G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC);
	MsbRateLimit now = MSB_RATE_LIMIT_INIT(0);
	guint64 suppressed = 99;

	g_assert_true(msb_rate_limit_check(&rl, &suppressed));
	g_assert_cmpuint(suppressed, ==, 0);
	for (guint i = 0; i < 5; i++)
		g_assert_false(msb_rate_limit_check(&rl, &suppressed));
	/* the interval has passed */
	rl.next_us = 0;
	g_assert_true(msb_rate_limit_check(&rl, &suppressed));
	g_assert_cmpuint(suppressed, ==, 5);
	/* a zero interval lets everything through */
	g_assert_true(msb_rate_limit_check(&now, &suppressed));
	g_assert_true(msb_rate_limit_check(&now, &suppressed));
	g_assert_cmpuint(suppressed, ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/os-limits/nofile", test_nofile);
	g_test_add_func("/os-limits/somaxconn", test_somaxconn);
	g_test_add_func("/os-limits/socket-lock", test_socket_lock);
	g_test_add_func("/os-limits/rate-limit", test_rate_limit);
	return g_test_run();
}
