/*
 * The broker's log on stderr when that is not the journal (issue 10, logging): JOURNAL_STREAM
 * unset and stderr a pipe, every line carries its log domain and a timestamp, and a client
 * cannot start a line of its own with a control character in what it sends.
 */
#include <glib-unix.h>
#include <unistd.h>

#include "itest.h"

/* "domain-Level: HH:MM:SS.mmm: ", warnings with "(program:pid): " and " **" */
#define LINE_START                                                                               \
	"^(\\([^)]+:[0-9]+\\): )?[a-z][a-z-]*-(Message|WARNING|CRITICAL|INFO|DEBUG)( \\*\\*)?: " \
	"[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}: "

static gchar *
read_to_end(gint fd)
{
	GString *all = g_string_new(NULL);
	gchar chunk[4096];
	gssize n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		g_string_append_len(all, chunk, n);
	g_assert_cmpint(n, ==, 0);
	return g_string_free(all, FALSE);
}

static gboolean
has_line(GStrv lines, const gchar *pattern)
{
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_regex_match_simple(pattern, lines[i], 0, 0))
			return TRUE;
	}
	return FALSE;
}

static void
test_log_on_a_pipe(void)
{
	ItestBroker *b = itest_broker_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ItestRaw) r = NULL;
	g_autofree gchar *reject = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	gint fds[2];

	g_assert_true(g_unix_open_pipe(fds, FD_CLOEXEC, &error));
	g_assert_no_error(error);
	b->log_fd = fds[1];
	itest_broker_start(b, 0);
	close(fds[1]);
	b->log_fd = -1;

	/* a Greeting the broker refuses, with a name that would start a line of its own */
	r = itest_raw_connect(b);
	itest_raw_greet(r, "evil\nFORGED line;1.0", 1, -1);
	reject = itest_raw_expect_reject(r);
	g_assert_nonnull(strstr(reject, "protocol version 1"));
	itest_broker_free(b);

	/* the broker is gone: everything it wrote is in the pipe */
	text = read_to_end(fds[0]);
	close(fds[0]);
	g_test_message("the broker's log:\n%s", text);
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		/* GLib sets a warning apart with an empty line */
		if (lines[i][0] == '\0')
			continue;
		if (!g_regex_match_simple(LINE_START, lines[i], 0, 0))
			g_error("a log line without a domain and a timestamp: \"%s\"", lines[i]);
	}
	g_assert_true(has_line(lines, "^my-service-bus-Message: [0-9:.]{12}: my-service-bus "
	                              "[^ ]+ starting"));
	g_assert_true(
	        has_line(lines, "^msb-server-Message: [0-9:.]{12}: listening on 127\\.0\\.0\\.1:"));
	g_assert_true(has_line(
	        lines, "msb-connection-WARNING \\*\\*: [0-9:.]{12}: 127\\.0\\.0\\.1:[0-9]+: "
	               "client evil\\?FORGED line;1\\.0 asked for unsupported protocol "
	               "version 1"));
	g_assert_true(has_line(lines, "^my-service-bus-Message: [0-9:.]{12}: stopped$"));
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	g_test_add_func("/logging/on-a-pipe", test_log_on_a_pipe);
	return g_test_run();
}
