/*
 * msbctl publish and msbctl subscribe (from $MSBCTL) against the real broker: publish from
 * arguments with a header and from standard input, subscribe --count N printing those messages
 * (id, attempt, header, text) and exiting 0; publishing to a missing topic exits non-zero with the
 * Reject text on stderr; --help works for msbctl and for every subcommand it lists, and lists the
 * exit statuses (also in the help of every D-Bus command, with the bus options).
 */
#include "itest.h"

static void
test_help(void)
{
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	const gchar *top[] = {"--help", NULL};
	g_auto(GStrv) lines = NULL;
	guint n_commands = 0;
	guint n_dbus = 0;
	gboolean in_commands = FALSE;

	g_assert_cmpint(itest_run_msbctl(top, NULL, &out, &err), ==, 0);
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
		g_assert_cmpint(itest_run_msbctl(args, NULL, &cmd_out, &cmd_err), ==, 0);
		g_assert_nonnull(strstr(cmd_out, "Usage:"));
		g_assert_nonnull(strstr(cmd_out, words[0]));
		/* the D-Bus commands document the bus options and the exit statuses */
		if (strstr(words[1], "(D-Bus)") != NULL) {
			g_assert_nonnull(strstr(cmd_out, "--session"));
			g_assert_nonnull(strstr(cmd_out, "--system"));
			g_assert_nonnull(strstr(cmd_out, "MSBCTL_BUS"));
			g_assert_nonnull(strstr(cmd_out, "Exit status:\n  0  success\n"));
			g_assert_nonnull(strstr(cmd_out, "  3  no such topic"));
			n_dbus++;
		}
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
	/* status topics queues sessions create-topic delete-topic restore-topic set-persist
	 * delete-queue set-message-id set-max-messages kick monitor */
	g_assert_cmpuint(n_dbus, ==, 13);
	g_assert_nonnull(strstr(out, "Exit status:\n  0  success\n"));
	g_assert_nonnull(strstr(out, "  6  broker not reachable"));
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

	g_assert_cmpint(itest_run_msbctl(publish, NULL, &out, &err), ==, 0);
	g_assert_nonnull(strstr(out, "Published 2 messages to topic \"cli-topic\""));
	g_assert_cmpint(itest_run_msbctl(publish_stdin, "third\nfourth\n", &in_out, &in_err), ==,
	                0);
	g_assert_nonnull(strstr(in_out, "Published 2 messages to topic \"cli-topic\""));

	g_assert_cmpint(itest_run_msbctl(subscribe, NULL, &sub_out, &sub_err), ==, 0);
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

	g_assert_cmpint(itest_run_msbctl(publish, NULL, &out, &err), !=, 0);
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
