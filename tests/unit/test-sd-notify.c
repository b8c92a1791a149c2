/*
 * MsbSdNotify in this process, with $NOTIFY_SOCKET naming a datagram socket of the test: what
 * each call sends, a STATUS= text with line breaks kept on one line, EXTEND_TIMEOUT_USEC= sent at
 * most once a second, and the watchdog only for the pid $WATCHDOG_PID names. Built only with
 * libsystemd (without it the functions send nothing by design).
 */
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "msb-sd-notify.h"

typedef struct {
	gchar *dir;
	GSocket *socket;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(GSocketAddress) address = NULL;

	f->dir = g_dir_make_tmp("msb-sd-notify-XXXXXX", &error);
	g_assert_no_error(error);
	path = g_build_filename(f->dir, "notify", NULL);
	f->socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
	                         G_SOCKET_PROTOCOL_DEFAULT, &error);
	g_assert_no_error(error);
	address = g_unix_socket_address_new(path);
	g_assert_true(g_socket_bind(f->socket, address, FALSE, &error));
	g_assert_no_error(error);
	g_socket_set_blocking(f->socket, FALSE);
	g_setenv("NOTIFY_SOCKET", path, TRUE);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_autofree gchar *path = g_build_filename(f->dir, "notify", NULL);

	g_unsetenv("NOTIFY_SOCKET");
	g_object_unref(f->socket);
	(void)g_unlink(path);
	(void)g_rmdir(f->dir);
	g_free(f->dir);
}

/* The next datagram, or NULL when none is waiting (sd_notify has sent it before it returns). */
static gchar *
next_datagram(Fixture *f)
{
	gchar buf[4096];
	g_autoptr(GError) error = NULL;
	gssize len = g_socket_receive(f->socket, buf, sizeof(buf) - 1, NULL, &error);

	if (len < 0) {
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
		return NULL;
	}
	buf[len] = '\0';
	return g_strdup(buf);
}

static void
assert_next(Fixture *f, const gchar *expected)
{
	g_autofree gchar *got = next_datagram(f);

	g_assert_cmpstr(got, ==, expected);
}

static void
test_messages(Fixture *f, gconstpointer data)
{
	g_autofree gchar *reloading = NULL;

	g_assert_true(msb_sd_notify_supported());
	msb_sd_notify_status("Waiting for %s (attempt %u)", "the service", 3u);
	assert_next(f, "STATUS=Waiting for the service (attempt 3)\n");
	/* one STATUS= line: a line break in the text would start a variable of its own */
	msb_sd_notify_status("a\nREADY=1\r\nb");
	assert_next(f, "STATUS=a READY=1  b\n");
	msb_sd_notify_ready("Serving %d", 7);
	assert_next(f, "READY=1\nSTATUS=Serving 7\n");
	msb_sd_notify_ready(NULL);
	assert_next(f, "READY=1\n");
	msb_sd_notify_stopping("Shutting down");
	assert_next(f, "STOPPING=1\nSTATUS=Shutting down\n");

	msb_sd_notify_reloading();
	reloading = next_datagram(f);
	g_assert_nonnull(reloading);
	g_assert_true(g_str_has_prefix(reloading, "RELOADING=1\n"));
	g_assert_nonnull(strstr(reloading, "\nMONOTONIC_USEC="));

	/* the first extension is sent, one right after it is not */
	msb_sd_notify_extend_timeout(60 * G_USEC_PER_SEC);
	assert_next(f, "EXTEND_TIMEOUT_USEC=60000000");
	msb_sd_notify_extend_timeout(60 * G_USEC_PER_SEC);
	g_assert_null(next_datagram(f));
}

static void
test_watchdog_other_pid(Fixture *f, gconstpointer data)
{
	g_autofree gchar *other = g_strdup_printf("%d", getppid());

	/* systemd watches another process: nothing to answer */
	g_setenv("WATCHDOG_USEC", "200000", TRUE);
	g_setenv("WATCHDOG_PID", other, TRUE);
	g_assert_cmpint(msb_sd_notify_watchdog_start(), ==, 0);
	g_assert_null(next_datagram(f));
	g_unsetenv("WATCHDOG_PID");
	g_unsetenv("WATCHDOG_USEC");
	/* nothing watches: nothing either */
	g_assert_cmpint(msb_sd_notify_watchdog_start(), ==, 0);
	g_assert_null(next_datagram(f));
}

static void
test_watchdog(Fixture *f, gconstpointer data)
{
	g_autofree gchar *self = g_strdup_printf("%d", getpid());
	guint answers = 0;

	g_setenv("WATCHDOG_USEC", "200000", TRUE);
	g_setenv("WATCHDOG_PID", self, TRUE);
	g_assert_cmpint(msb_sd_notify_watchdog_start(), ==, 200000);
	g_unsetenv("WATCHDOG_PID");
	g_unsetenv("WATCHDOG_USEC");
	assert_next(f, "WATCHDOG=1");
	/* then from the main loop, again and again */
	while (answers < 3) {
		g_autofree gchar *got = NULL;

		g_main_context_iteration(NULL, TRUE);
		got = next_datagram(f);
		if (got != NULL) {
			g_assert_cmpstr(got, ==, "WATCHDOG=1");
			answers++;
		}
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/sd-notify/messages", Fixture, NULL, fixture_setup, test_messages,
	           fixture_teardown);
	g_test_add("/sd-notify/watchdog-other-pid", Fixture, NULL, fixture_setup,
	           test_watchdog_other_pid, fixture_teardown);
	/* last: the watchdog's timeout stays on the default main context */
	g_test_add("/sd-notify/watchdog", Fixture, NULL, fixture_setup, test_watchdog,
	           fixture_teardown);
	return g_test_run();
}
