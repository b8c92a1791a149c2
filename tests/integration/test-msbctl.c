/*
 * msbctl publish and msbctl subscribe (from $MSBCTL) against the real broker: publish from
 * arguments with a header and from standard input, subscribe --count N printing those messages
 * (id, attempt, header, text) and exiting 0; publishing to a missing topic exits non-zero with the
 * Reject text on stderr; --help works for msbctl and for every subcommand it lists.
 */
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include "itest.h"

typedef struct {
	gboolean done;
	gchar *out;
	gchar *err;
	GError *error;
} RunResult;

static void
communicate_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	RunResult *r = user_data;

	g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), res, &r->out, &r->err,
	                                     &r->error);
	r->done = TRUE;
}

static void
waited_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;

	g_subprocess_wait_finish(G_SUBPROCESS(source), res, &error);
	g_assert_no_error(error);
	*(gboolean *)user_data = TRUE;
}

static void
child_setup(gpointer user_data)
{
	pid_t parent = (pid_t)GPOINTER_TO_INT(user_data);

	/* like the broker: die with the test */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
}

/* Run msbctl with @args (NULL-terminated, without the program), feeding @input; returns the
 * exit status, with its stdout and stderr. Fails the test if it runs for more than 10 s. */
static gint
run_msbctl(const gchar *const *args, const gchar *input, gchar **out, gchar **err)
{
	const gchar *msbctl = g_getenv("MSBCTL");
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	RunResult r = {0};
	gboolean waited = FALSE;
	ItestWait w;

	g_assert_nonnull(msbctl);
	g_ptr_array_add(argv, (gpointer)msbctl);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);

	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
	                                     G_SUBPROCESS_FLAGS_STDOUT_PIPE |
	                                     G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_subprocess_launcher_set_child_setup(launcher, child_setup,
	                                      GINT_TO_POINTER((gint)getpid()), NULL);
	proc = g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8_async(proc, input != NULL ? input : "", NULL, communicate_cb,
	                                    &r);
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
	g_subprocess_wait_async(proc, NULL, waited_cb, &waited);
	ITEST_WAIT_FOR(waited);
	g_test_message("msbctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", args[0],
	               g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1,
	               r.out, r.err);
	g_assert_true(g_subprocess_get_if_exited(proc));
	*out = r.out;
	*err = r.err;
	return g_subprocess_get_exit_status(proc);
}

static void
test_help(void)
{
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	const gchar *top[] = {"--help", NULL};
	g_auto(GStrv) lines = NULL;
	guint n_commands = 0;
	gboolean in_commands = FALSE;

	g_assert_cmpint(run_msbctl(top, NULL, &out, &err), ==, 0);
	g_assert_nonnull(strstr(out, "publish"));
	g_assert_nonnull(strstr(out, "subscribe"));
	/* every command listed under "Commands:" has its own --help */
	lines = g_strsplit(out, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree gchar *cmd_out = NULL;
		g_autofree gchar *cmd_err = NULL;
		g_auto(GStrv) words = NULL;
		const gchar *args[3] = {NULL, "--help", NULL};

		if (g_str_has_prefix(lines[i], "Commands:")) {
			in_commands = TRUE;
			continue;
		}
		if (!in_commands)
			continue;
		if (lines[i][0] != ' ')
			break;
		words = g_strsplit_set(g_strstrip(lines[i]), " ", 2);
		args[0] = words[0];
		g_assert_cmpint(run_msbctl(args, NULL, &cmd_out, &cmd_err), ==, 0);
		g_assert_nonnull(strstr(cmd_out, "Usage:"));
		g_assert_nonnull(strstr(cmd_out, words[0]));
		if (g_strcmp0(words[0], "publish") == 0) {
			g_assert_nonnull(strstr(cmd_out, "--topic"));
			g_assert_nonnull(strstr(cmd_out, "--header"));
		} else if (g_strcmp0(words[0], "subscribe") == 0) {
			g_assert_nonnull(strstr(cmd_out, "--queue"));
			g_assert_nonnull(strstr(cmd_out, "--count"));
		}
		n_commands++;
	}
	g_assert_cmpuint(n_commands, >=, 2);
}

static void
test_publish_subscribe(ItestFixture *f, gconstpointer data)
{
	g_autofree gchar *address = itest_broker_address(f->broker);
	g_autoptr(ItestRaw) admin = itest_raw_connect(f->broker);
	ItestRaw *queue_maker = itest_raw_connect(f->broker);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *sub_out = NULL;
	g_autofree gchar *sub_err = NULL;
	g_autofree gchar *in_out = NULL;
	g_autofree gchar *in_err = NULL;
	const gchar *publish[] = {"publish", "-a",        address, "-t",    "cli-topic",
	                          "-H",      "trace=abc", "hello", "world", NULL};
	const gchar *publish_stdin[] = {"publish", "--address", address,
	                                "--topic", "cli-topic", NULL};
	const gchar *subscribe[] = {"subscribe", "-a",  address,   "-t", "cli-topic",
	                            "-q",        "cli", "--count", "4",  NULL};

	itest_raw_greet(admin, "admin", 3, 1);
	itest_raw_create_topic(admin, "cli-topic");
	itest_raw_sync(admin);
	/* a permanent queue that keeps what is published while nobody consumes it */
	itest_raw_greet(queue_maker, "queue-maker", 3, 1);
	itest_raw_subscribe(queue_maker, "cli-topic", "cli", 0);
	itest_raw_sync(queue_maker);
	itest_raw_free(queue_maker);
	/* the close is handled no later than a round trip that starts after it */
	itest_raw_sync(admin);

	g_assert_cmpint(run_msbctl(publish, NULL, &out, &err), ==, 0);
	g_assert_nonnull(strstr(out, "Published 2 messages to topic \"cli-topic\""));
	g_assert_cmpint(run_msbctl(publish_stdin, "third\nfourth\n", &in_out, &in_err), ==, 0);
	g_assert_nonnull(strstr(in_out, "Published 2 messages to topic \"cli-topic\""));

	g_assert_cmpint(run_msbctl(subscribe, NULL, &sub_out, &sub_err), ==, 0);
	g_assert_nonnull(strstr(sub_out, "id 0, attempt 0, 5 bytes\n"
	                                 "  header trace: abc\n"
	                                 "  text: hello\n"));
	g_assert_nonnull(strstr(sub_out, "id 1, attempt 0, 5 bytes\n"
	                                 "  header trace: abc\n"
	                                 "  text: world\n"));
	g_assert_nonnull(strstr(sub_out, "id 2, attempt 0, 5 bytes\n"
	                                 "  text: third\n"));
	g_assert_nonnull(strstr(sub_out, "id 3, attempt 0, 6 bytes\n"
	                                 "  text: fourth\n"));
	g_assert_null(strstr(sub_out, "id 4"));
}

static void
test_publish_missing_topic(ItestFixture *f, gconstpointer data)
{
	g_autofree gchar *address = itest_broker_address(f->broker);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	const gchar *publish[] = {"publish", "-a", address, "-t", "missing-topic", "x", NULL};

	g_assert_cmpint(run_msbctl(publish, NULL, &out, &err), !=, 0);
	g_assert_nonnull(strstr(err, "TopicNotFound { topic_id: \"missing-topic\" }"));
	g_assert_null(strstr(out, "Published"));
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	if (g_getenv("MSBCTL") == NULL)
		g_error("$MSBCTL is not set; run the integration tests with meson test");
	g_test_add_func("/msbctl/help", test_help);
	ITEST_ADD("/msbctl/publish-subscribe", NULL, test_publish_subscribe);
	ITEST_ADD("/msbctl/publish-missing-topic", NULL, test_publish_missing_topic);
	return g_test_run();
}
