/*
 * msbctl's administration commands against the real broker on a private session bus (GTestDBus:
 * a dbus-daemon of the test's own, never the user's buses): status, topics, queues, sessions,
 * create-topic, delete-topic (with its hard-delete moment), restore-topic, set-persist,
 * delete-queue, set-message-id, set-max-messages, kick and monitor, as tables and as JSON; the
 * exit statuses and messages of the broker's errors (unknown topic, queue and session, invalid
 * name, deleted topic, not deleted) and of a bad command line; the bus choice (--system,
 * --session, MSBCTL_BUS) and a broker that is not on the bus.
 *
 * The system bus msbctl may pick is never the machine's: every run sets DBUS_SYSTEM_BUS_ADDRESS,
 * to the private bus where a test means it, else to a socket that does not exist.
 */
#include <signal.h>
#include <string.h>

#include "itest.h"
#include "msb-config.h"

/* the exit statuses as docs/msbctl.md documents them (not msbctl.h's macros: a script relies on
 * the numbers) */
#define MSBCTL_EXIT_OK          0
#define MSBCTL_EXIT_USAGE       2
#define MSBCTL_EXIT_NOT_FOUND   3
#define MSBCTL_EXIT_INVALID     5
#define MSBCTL_EXIT_UNREACHABLE 6
#define MSBCTL_EXIT_CONFLICT    7

#define BUS_NAME "org.myservicebus.Broker1"
#define NO_BUS   "unix:path=/nonexistent/msbctl-test-bus"

typedef struct {
	GTestDBus *bus;
	GDBusConnection *connection; /* the test's own, to watch the name */
	ItestBroker *broker;
	gchar *system_env; /* DBUS_SYSTEM_BUS_ADDRESS=… for msbctl */
} Fixture;

static void
name_appeared_cb(GDBusConnection *connection, const gchar *name, const gchar *owner,
                 gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
}

static void
name_vanished_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	*(gboolean *)user_data = FALSE;
}

static void
fixture_start_broker(Fixture *f)
{
	gboolean owned = FALSE;
	guint watch;

	f->broker = itest_broker_new(NULL);
	/* on the bus GTestDBus put in DBUS_SESSION_BUS_ADDRESS */
	f->broker->dbus_option = "--session-bus";
	itest_broker_start(f->broker, 0);
	/* the broker takes its name on the bus after it listens */
	watch = g_bus_watch_name_on_connection(f->connection, BUS_NAME,
	                                       G_BUS_NAME_WATCHER_FLAGS_NONE, name_appeared_cb,
	                                       name_vanished_cb, &owned, NULL);
	ITEST_WAIT_FOR(owned);
	g_bus_unwatch_name(watch);
}

static void
fixture_setup_bus(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	/* sets DBUS_SESSION_BUS_ADDRESS for the broker and msbctl, which inherit it */
	g_test_dbus_up(f->bus);
	f->connection = g_dbus_connection_new_for_address_sync(
	        g_test_dbus_get_bus_address(f->bus),
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);
	g_assert_no_error(error);
	f->system_env = g_strdup("DBUS_SYSTEM_BUS_ADDRESS=" NO_BUS);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	fixture_setup_bus(f, data);
	fixture_start_broker(f);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	if (f->broker != NULL)
		itest_broker_free(f->broker);
	g_dbus_connection_close_sync(f->connection, NULL, NULL);
	g_clear_object(&f->connection);
	g_test_dbus_down(f->bus);
	g_clear_object(&f->bus);
	g_free(f->system_env);
}

/* Run msbctl ARGS… on the private session bus (MSBCTL_BUS=session); returns the exit status. */
static gint
run_va(Fixture *f, const gchar *const *extra_env, gchar **out, gchar **err, const gchar *first,
       va_list ap)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	g_autoptr(GPtrArray) env = g_ptr_array_new();
	g_autofree gchar *out_local = NULL;
	g_autofree gchar *err_local = NULL;
	gint status;

	for (const gchar *a = first; a != NULL; a = va_arg(ap, const gchar *))
		g_ptr_array_add(args, (gpointer)a);
	g_ptr_array_add(args, NULL);
	g_ptr_array_add(env, (gpointer) "MSBCTL_BUS=session");
	g_ptr_array_add(env, f->system_env);
	for (guint i = 0; extra_env != NULL && extra_env[i] != NULL; i++)
		g_ptr_array_add(env, (gpointer)extra_env[i]);
	g_ptr_array_add(env, NULL);
	status = itest_run_msbctl_env((const gchar *const *)args->pdata,
	                              (const gchar *const *)env->pdata, NULL, &out_local,
	                              &err_local);
	if (out != NULL)
		*out = g_steal_pointer(&out_local);
	if (err != NULL)
		*err = g_steal_pointer(&err_local);
	return status;
}

static gint
run(Fixture *f, gchar **out, gchar **err, const gchar *first, ...) G_GNUC_NULL_TERMINATED;
static gint
run(Fixture *f, gchar **out, gchar **err, const gchar *first, ...)
{
	va_list ap;
	gint status;

	va_start(ap, first);
	status = run_va(f, NULL, out, err, first, ap);
	va_end(ap);
	return status;
}

static gint
run_env(Fixture *f, const gchar *const *env, gchar **out, gchar **err, const gchar *first,
        ...) G_GNUC_NULL_TERMINATED;
static gint
run_env(Fixture *f, const gchar *const *env, gchar **out, gchar **err, const gchar *first, ...)
{
	va_list ap;
	gint status;

	va_start(ap, first);
	status = run_va(f, env, out, err, first, ap);
	va_end(ap);
	return status;
}

/* Run msbctl ARGS… --json, assert exit 0 and parse its output. */
static JsonNode *
run_json(Fixture *f, const gchar *first, ...) G_GNUC_NULL_TERMINATED;
static JsonNode *
run_json(Fixture *f, const gchar *first, ...)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GPtrArray) env = g_ptr_array_new();
	va_list ap;

	va_start(ap, first);
	for (const gchar *a = first; a != NULL; a = va_arg(ap, const gchar *))
		g_ptr_array_add(args, (gpointer)a);
	va_end(ap);
	g_ptr_array_add(args, (gpointer) "--json");
	g_ptr_array_add(args, NULL);
	g_ptr_array_add(env, (gpointer) "MSBCTL_BUS=session");
	g_ptr_array_add(env, f->system_env);
	g_ptr_array_add(env, NULL);
	g_assert_cmpint(itest_run_msbctl_env((const gchar *const *)args->pdata,
	                                     (const gchar *const *)env->pdata, NULL, &out, &err),
	                ==, MSBCTL_EXIT_OK);
	g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

/* The element of a JSON array whose "name" is @name, or NULL. */
static JsonObject *
find_named(JsonNode *array, const gchar *name)
{
	JsonArray *a = json_node_get_array(array);

	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);
		if (g_strcmp0(json_object_get_string_member_with_default(o, "name", NULL), name) ==
		    0)
			return o;
	}
	return NULL;
}

/* ---- status and the bus choice ---- */

static void
test_status(Fixture *f, gconstpointer data)
{
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *system_out = NULL;
	g_autofree gchar *system_err = NULL;
	g_autofree gchar *system_env =
	        g_strdup_printf("DBUS_SYSTEM_BUS_ADDRESS=%s", g_test_dbus_get_bus_address(f->bus));
	const gchar *system_here[] = {system_env, NULL};
	g_autoptr(JsonNode) root = run_json(f, "status", NULL);
	JsonObject *o = json_node_get_object(root);

	g_assert_cmpstr(json_object_get_string_member(o, "bus"), ==, "session");
	g_assert_cmpstr(json_object_get_string_member(o, "version"), ==, MSB_VERSION);
	g_assert_cmpstr(json_object_get_string_member(o, "persistence_state"), ==, "memory");
	g_assert_true(json_object_get_null_member(o, "persistence_version"));
	g_assert_cmpint(json_object_get_int_member(o, "topic_count"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(o, "session_count"), ==, 0);
	g_assert_true(g_str_has_prefix(json_object_get_string_member(o, "unique_name"), ":"));

	g_assert_cmpint(run(f, &out, &err, "status", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_true(g_str_has_prefix(out, "Bus:                  session\n"));
	g_assert_nonnull(strstr(out, "\nVersion:              " MSB_VERSION "\n"));
	g_assert_nonnull(strstr(out, "\nPersistence version:  -\n"));
	g_assert_nonnull(strstr(out, "\nPersistence state:    memory\n"));
	g_assert_nonnull(strstr(out, "\nTopics:               0\n"));
	g_assert_cmpstr(err, ==, "");

	/* --system wins over MSBCTL_BUS=session: here the "system" bus is the private one */
	g_assert_cmpint(
	        run_env(f, system_here, &system_out, &system_err, "status", "--system", NULL), ==,
	        MSBCTL_EXIT_OK);
	g_assert_true(g_str_has_prefix(system_out, "Bus:                  system\n"));
}

static void
test_unreachable(Fixture *f, gconstpointer data)
{
	const gchar *system_env[] = {"MSBCTL_BUS=system", NULL};
	const gchar *bad_env[] = {"MSBCTL_BUS=desktop", NULL};
	const gchar *commands[][4] = {
	        {"status", NULL},
	        {"topics", NULL},
	        {"queues", "orders", NULL},
	        {"sessions", NULL},
	        {"create-topic", "orders", NULL},
	        {"delete-topic", "orders", NULL},
	        {"restore-topic", "orders", NULL},
	        {"set-persist", "orders", "on", NULL},
	        {"delete-queue", "orders", "q", NULL},
	        {"set-message-id", "orders", "q", "1"},
	        {"set-max-messages", "orders", "q", "1"},
	        {"kick", "1", NULL},
	};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *bad_err = NULL;

	/* no broker on the private session bus: every command says so */
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		g_autoptr(GPtrArray) args = g_ptr_array_new();
		g_autoptr(GPtrArray) env = g_ptr_array_new();
		g_autofree gchar *cmd_out = NULL;
		g_autofree gchar *cmd_err = NULL;
		g_autofree gchar *expect = g_strdup_printf(
		        "msbctl %s: the broker is not on the session bus (no one owns " BUS_NAME
		        ")",
		        commands[i][0]);

		for (guint j = 0; j < 4 && commands[i][j] != NULL; j++)
			g_ptr_array_add(args, (gpointer)commands[i][j]);
		g_ptr_array_add(args, NULL);
		g_ptr_array_add(env, (gpointer) "MSBCTL_BUS=session");
		g_ptr_array_add(env, f->system_env);
		g_ptr_array_add(env, NULL);
		g_assert_cmpint(itest_run_msbctl_env((const gchar *const *)args->pdata,
		                                     (const gchar *const *)env->pdata, NULL,
		                                     &cmd_out, &cmd_err),
		                ==, MSBCTL_EXIT_UNREACHABLE);
		g_assert_true(g_str_has_prefix(cmd_err, expect));
		g_assert_cmpstr(cmd_out, ==, "");
	}

	/* the system bus (here a socket that does not exist) is not there at all */
	g_assert_cmpint(run_env(f, system_env, &out, &err, "topics", NULL), ==,
	                MSBCTL_EXIT_UNREACHABLE);
	g_assert_true(g_str_has_prefix(err, "msbctl topics: cannot connect to the system bus: "));
	g_assert_cmpint(run_env(f, bad_env, NULL, &bad_err, "topics", NULL), ==, MSBCTL_EXIT_USAGE);
	g_assert_nonnull(strstr(bad_err, "MSBCTL_BUS must be \"session\" or \"system\""));
}

/* ---- sessions and kick ---- */

static void
test_sessions_kick(Fixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) raw = itest_raw_connect(f->broker);
	g_autoptr(JsonNode) sessions = NULL;
	g_autofree gchar *table = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *e1 = NULL;
	g_autofree gchar *e2 = NULL;
	g_autofree gchar *id_text = NULL;
	g_autofree gchar *pattern = NULL;
	JsonObject *s;
	gint64 id;

	itest_raw_greet(raw, "cli-a", 3, 1);
	itest_raw_sync(raw);
	sessions = run_json(f, "sessions", NULL);
	s = find_named(sessions, "cli-a");
	g_assert_nonnull(s);
	g_assert_cmpstr(json_object_get_string_member(s, "kind"), ==, "tcp");
	g_assert_cmpint(json_object_get_int_member(s, "protocol_version"), ==, 3);
	g_assert_true(g_str_has_prefix(json_object_get_string_member(s, "peer"), "127.0.0.1:"));
	g_assert_cmpint(json_object_get_int_member(s, "connected_seconds"), >=, 0);
	id = json_object_get_int_member(s, "id");
	id_text = g_strdup_printf("%" G_GINT64_FORMAT, id);
	g_assert_cmpint(run(f, &table, NULL, "sessions", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_true(g_str_has_prefix(table, "ID  NAME   KIND  PEER  "));
	/* the client sent no version: "-" keeps the columns readable */
	pattern = g_strdup_printf("^ *%s  cli-a  tcp   127\\.0\\.0\\.1:[0-9]+  +-  +3  +"
	                          "00:00:[0-9][0-9]  +0  +[0-9]+ bytes  +[0-9]+ bytes?$",
	                          id_text);
	g_assert_true(g_regex_match_simple(pattern, table, G_REGEX_MULTILINE, 0));

	g_assert_cmpint(run(f, &out, NULL, "kick", id_text, NULL), ==, MSBCTL_EXIT_OK);
	g_assert_nonnull(strstr(out, "Kicked session "));
	itest_raw_wait_closed(raw, ITEST_TIMEOUT_MS);
	g_assert_cmpint(run(f, NULL, &e1, "kick", id_text, NULL), ==, MSBCTL_EXIT_NOT_FOUND);
	g_assert_true(g_str_has_suffix(e1, " (org.myservicebus.Broker1.Error.SessionNotFound)\n"));
	g_assert_cmpint(run(f, NULL, &e2, "kick", "one", NULL), ==, MSBCTL_EXIT_USAGE);
	g_assert_nonnull(strstr(e2, "the session id must be a whole number"));
}

int
main(int argc, char **argv)
{
	/* the broker picks the session bus when systemd did not start it */
	g_unsetenv("INVOCATION_ID");
	itest_init(&argc, &argv);
	g_test_add("/msbctl-dbus/status", Fixture, NULL, fixture_setup, test_status,
	           fixture_teardown);
	g_test_add("/msbctl-dbus/unreachable", Fixture, NULL, fixture_setup_bus, test_unreachable,
	           fixture_teardown);
	g_test_add("/msbctl-dbus/sessions-kick", Fixture, NULL, fixture_setup, test_sessions_kick,
	           fixture_teardown);
	return g_test_run();
}
