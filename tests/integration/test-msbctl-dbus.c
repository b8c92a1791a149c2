/*
 * msbctl's administration commands against the real broker on a private bus (ItestBus: a
 * dbus-daemon of the test's own, never the user's buses): status, topics, queues, sessions,
 * create-topic, delete-topic (with its hard-delete moment), restore-topic, set-persist,
 * delete-queue, set-message-id, set-max-messages, kick and monitor, as tables and as JSON; the
 * exit statuses and messages of the broker's errors (unknown topic, queue and session, invalid
 * name, deleted topic, not deleted, a caller who may not change the broker) and of a bad command
 * line; the bus choice (--system, --session, MSBCTL_BUS) and a broker that is not on the bus.
 *
 * Only msbctl gets the private bus's address, in its environment: its session bus is always the
 * private one, and its system bus too where a test means it, else a socket that does not exist.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "msb-config.h"

/* the exit statuses as docs/msbctl.md documents them (not msbctl.h's macros: a script relies on
 * the numbers) */
#define MSBCTL_EXIT_OK             0
#define MSBCTL_EXIT_USAGE          2
#define MSBCTL_EXIT_NOT_FOUND      3
#define MSBCTL_EXIT_NOT_AUTHORIZED 4
#define MSBCTL_EXIT_INVALID        5
#define MSBCTL_EXIT_UNREACHABLE    6
#define MSBCTL_EXIT_CONFLICT       7

#define BUS_NAME "org.myservicebus.Broker1"
#define NO_BUS   "unix:path=/nonexistent/msbctl-test-bus"

typedef struct {
	ItestBus *bus;
	ItestBroker *broker;
	gchar *session_env;         /* DBUS_SESSION_BUS_ADDRESS=… for msbctl */
	gchar *system_env;          /* DBUS_SYSTEM_BUS_ADDRESS=… for msbctl */
	const gchar *const *prefix; /* what runs msbctl (setpriv), or NULL */
} Fixture;

static void
fixture_start_broker(Fixture *f, const gchar *option, const gchar *settings)
{
	f->broker = itest_broker_new(settings);
	itest_broker_start_on_bus(f->broker, option, f->bus);
}

static void
fixture_setup_bus(Fixture *f, gconstpointer data)
{
	f->bus = itest_bus_new();
	f->session_env =
	        g_strdup_printf("DBUS_SESSION_BUS_ADDRESS=%s", itest_bus_get_address(f->bus));
	f->system_env = g_strdup("DBUS_SYSTEM_BUS_ADDRESS=" NO_BUS);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	fixture_setup_bus(f, data);
	fixture_start_broker(f, "--session-bus", NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_clear_pointer(&f->broker, itest_broker_free);
	g_clear_pointer(&f->bus, itest_bus_free);
	g_free(f->session_env);
	g_free(f->system_env);
}

/* msbctl's environment: both buses, MSBCTL_BUS=session, then @extra (which may override). */
static GPtrArray *
fixture_env(Fixture *f, const gchar *const *extra)
{
	GPtrArray *env = g_ptr_array_new();

	g_ptr_array_add(env, (gpointer) "MSBCTL_BUS=session");
	g_ptr_array_add(env, f->session_env);
	g_ptr_array_add(env, f->system_env);
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add(env, (gpointer)extra[i]);
	g_ptr_array_add(env, NULL);
	return env;
}

/* Run msbctl ARGS… (by f->prefix); returns the exit status. */
static gint
run_va(Fixture *f, const gchar *const *extra_env, gchar **out, gchar **err, const gchar *first,
       va_list ap)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	g_autoptr(GPtrArray) env = fixture_env(f, extra_env);
	g_autofree gchar *out_local = NULL;
	g_autofree gchar *err_local = NULL;
	gint status;

	for (const gchar *a = first; a != NULL; a = va_arg(ap, const gchar *))
		g_ptr_array_add(args, (gpointer)a);
	g_ptr_array_add(args, NULL);
	status = itest_run_msbctl_full(f->prefix, (const gchar *const *)args->pdata,
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
	g_autoptr(GPtrArray) env = fixture_env(f, NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	va_list ap;

	va_start(ap, first);
	for (const gchar *a = first; a != NULL; a = va_arg(ap, const gchar *))
		g_ptr_array_add(args, (gpointer)a);
	va_end(ap);
	g_ptr_array_add(args, (gpointer) "--json");
	g_ptr_array_add(args, NULL);
	g_assert_cmpint(itest_run_msbctl_full(f->prefix, (const gchar *const *)args->pdata,
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

/* Properties follow once a second: run `msbctl ARGS --json` until @check holds (deadline). */
typedef gboolean (*JsonCheck)(JsonNode *root, gconstpointer data);

static void
wait_json(Fixture *f, const gchar *const *args, JsonCheck check, gconstpointer data)
{
	gint64 deadline = g_get_monotonic_time() + ITEST_TIMEOUT_MS * G_GINT64_CONSTANT(1000);

	for (;;) {
		g_autoptr(JsonNode) root = NULL;

		if (args[1] == NULL)
			root = run_json(f, args[0], NULL);
		else
			root = run_json(f, args[0], args[1], NULL);
		if (check(root, data))
			return;
		if (g_get_monotonic_time() > deadline)
			g_error("msbctl %s never showed what the test waits for", args[0]);
		itest_run_for(100);
	}
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
	        g_strdup_printf("DBUS_SYSTEM_BUS_ADDRESS=%s", itest_bus_get_address(f->bus));
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
	g_clear_pointer(&system_out, g_free);

	/* the bus and --json may come before the command too */
	g_assert_cmpint(
	        run_env(f, system_here, &system_out, NULL, "--system", "--json", "status", NULL),
	        ==, MSBCTL_EXIT_OK);
	g_assert_nonnull(strstr(system_out, "\"bus\" : \"system\""));
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
		g_autoptr(GPtrArray) env = fixture_env(f, NULL);
		g_autofree gchar *cmd_out = NULL;
		g_autofree gchar *cmd_err = NULL;
		g_autofree gchar *expect = g_strdup_printf(
		        "msbctl %s: the broker is not on the session bus (no one owns " BUS_NAME
		        ")",
		        commands[i][0]);

		for (guint j = 0; j < 4 && commands[i][j] != NULL; j++)
			g_ptr_array_add(args, (gpointer)commands[i][j]);
		g_ptr_array_add(args, NULL);
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

/* ---- changes, seen through REST ---- */

/* The topic's item of /api/Status (a copy), or NULL. */
static JsonObject *
rest_topic(Fixture *f, const gchar *name)
{
	g_autoptr(JsonNode) status = itest_broker_get_json(f->broker, "/api/Status");
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(status), "topics"), "items");

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *t = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(t, "id"), name) == 0)
			return json_object_ref(t);
	}
	return NULL;
}

static gboolean
rest_topic_gone(Fixture *f, const gchar *name)
{
	g_autoptr(JsonObject) t = rest_topic(f, name);
	return t == NULL;
}

/* The size of queue @queue of topic @topic in /api/Status, -1 when it is not there. */
static gint64
rest_queue_size(Fixture *f, const gchar *topic, const gchar *queue)
{
	g_autoptr(JsonNode) status = itest_broker_get_json(f->broker, "/api/Status");
	JsonObject *queues = json_object_get_object_member(json_node_get_object(status), "queues");
	JsonArray *items;

	if (queues == NULL || !json_object_has_member(queues, topic))
		return -1;
	items = json_object_get_array_member(json_object_get_object_member(queues, topic),
	                                     "queues");
	for (guint i = 0; items != NULL && i < json_array_get_length(items); i++) {
		JsonObject *q = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(q, "id"), queue) == 0)
			return json_object_get_int_member(q, "size");
	}
	return -1;
}

/* Every changing command, its effect seen through REST, and the broker's errors for bad input. */
static void
test_changes(Fixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) admin = itest_raw_connect(f->broker);
	ItestRaw *subscriber = itest_raw_connect(f->broker);
	const gchar *contents[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
	g_autofree gchar *o1 = NULL;
	g_autofree gchar *o2 = NULL;
	g_autofree gchar *o3 = NULL;
	g_autofree gchar *o4 = NULL;
	g_autofree gchar *o5 = NULL;
	g_autofree gchar *o6 = NULL;
	g_autofree gchar *o7 = NULL;
	g_autofree gchar *o8 = NULL;
	g_autofree gchar *o9 = NULL;
	g_autofree gchar *o10 = NULL;
	g_autofree gchar *e1 = NULL;
	g_autofree gchar *e2 = NULL;
	g_autofree gchar *e3 = NULL;
	g_autofree gchar *e4 = NULL;
	g_autofree gchar *e5 = NULL;
	g_autofree gchar *e6 = NULL;
	g_autofree gchar *e7 = NULL;
	g_autofree gchar *e8 = NULL;
	g_autofree gchar *e9 = NULL;
	g_autofree gchar *e10 = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(JsonObject) t1 = NULL;
	g_autoptr(JsonObject) t2 = NULL;
	g_autoptr(JsonObject) t3 = NULL;
	g_autoptr(JsonObject) t4 = NULL;
	gint64 before;
	gint64 after;
	gint64 moment;

	/* create-topic */
	g_assert_cmpint(run(f, &o1, &err, "create-topic", "orders", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_cmpstr(o1, ==,
	                "Topic \"orders\" exists: /org/myservicebus/Broker1/topic/orders\n");
	g_assert_cmpstr(err, ==, "");
	t1 = rest_topic(f, "orders");
	g_assert_nonnull(t1);
	g_assert_true(json_object_get_boolean_member(t1, "persist"));

	/* a permanent queue that keeps ten messages while nobody consumes it */
	itest_raw_greet(subscriber, "queue-maker", 3, 1);
	itest_raw_subscribe(subscriber, "orders", "q1", 0);
	itest_raw_sync(subscriber);
	itest_raw_free(subscriber);
	itest_raw_greet(admin, "admin", 3, 1);
	itest_raw_sync(admin);
	itest_raw_publish(admin, "orders", 1, contents, 10, FALSE);
	itest_raw_expect_publish_response(admin, 1);
	ITEST_WAIT_FOR(rest_queue_size(f, "orders", "q1") == 10);

	/* set-persist */
	g_assert_cmpint(run(f, &o2, NULL, "set-persist", "orders", "off", NULL), ==,
	                MSBCTL_EXIT_OK);
	g_assert_cmpstr(o2, ==, "Topic \"orders\": persist off\n");
	t2 = rest_topic(f, "orders");
	g_assert_false(json_object_get_boolean_member(t2, "persist"));

	/* set-message-id: ids below 4 count as consumed */
	g_assert_cmpint(run(f, &o3, NULL, "set-message-id", "orders", "q1", "4", NULL), ==,
	                MSBCTL_EXIT_OK);
	g_assert_cmpstr(o3, ==, "Queue \"q1\" of topic \"orders\" waits for message id 4\n");
	ITEST_WAIT_FOR(rest_queue_size(f, "orders", "q1") == 6);

	/* set-max-messages (kept in memory, not shown by REST) */
	g_assert_cmpint(run(f, &o4, NULL, "set-max-messages", "orders", "q1", "3", NULL), ==,
	                MSBCTL_EXIT_OK);
	g_assert_cmpstr(o4, ==, "Queue \"q1\" of topic \"orders\": at most 3 messages per batch\n");

	/* delete-queue, then once more: an absent queue is success */
	g_assert_cmpint(run(f, &o5, NULL, "delete-queue", "orders", "q1", NULL), ==,
	                MSBCTL_EXIT_OK);
	g_assert_cmpstr(o5, ==, "Queue \"q1\" of topic \"orders\" is gone\n");
	ITEST_WAIT_FOR(rest_queue_size(f, "orders", "q1") == -1);
	g_assert_cmpint(run(f, &o6, NULL, "delete-queue", "orders", "q1", NULL), ==,
	                MSBCTL_EXIT_OK);

	/* delete-topic with a moment a day from now */
	before = g_get_real_time();
	g_assert_cmpint(run(f, &o7, NULL, "delete-topic", "orders", "--hard-delete-in",
	                    "1d 00:00:00", NULL),
	                ==, MSBCTL_EXIT_OK);
	after = g_get_real_time();
	g_assert_true(g_str_has_prefix(o7, "Deleted topic \"orders\"; it goes for good at "));
	t3 = rest_topic(f, "orders");
	moment = json_object_get_int_member(t3, "deleted");
	g_assert_cmpint(moment, >=, before + G_USEC_PER_SEC * G_GINT64_CONSTANT(86400));
	g_assert_cmpint(moment, <=, after + G_USEC_PER_SEC * G_GINT64_CONSTANT(86400));

	/* a deleted topic: create refuses it, restore brings it back, once */
	g_assert_cmpint(run(f, NULL, &e1, "create-topic", "orders", NULL), ==,
	                MSBCTL_EXIT_CONFLICT);
	g_assert_nonnull(strstr(e1, "restore it first with msbctl restore-topic"));
	g_assert_true(g_str_has_suffix(e1, " (org.myservicebus.Broker1.Error.TopicDeleted)\n"));
	g_assert_cmpint(run(f, &o8, NULL, "restore-topic", "orders", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_cmpstr(o8, ==, "Restored topic \"orders\"\n");
	t4 = rest_topic(f, "orders");
	g_assert_cmpint(json_object_get_int_member(t4, "deleted"), ==, 0);
	g_assert_cmpint(run(f, NULL, &e2, "restore-topic", "orders", NULL), ==,
	                MSBCTL_EXIT_INVALID);
	g_assert_true(g_str_has_suffix(e2, " (org.myservicebus.Broker1.Error.InvalidArgument)\n"));

	/* the broker's errors for bad input */
	g_assert_cmpint(run(f, NULL, &e3, "set-message-id", "orders", "nope", "1", NULL), ==,
	                MSBCTL_EXIT_NOT_FOUND);
	g_assert_true(g_str_has_prefix(e3, "msbctl set-message-id: "));
	g_assert_true(g_str_has_suffix(e3, " (org.myservicebus.Broker1.Error.QueueNotFound)\n"));
	g_assert_cmpint(run(f, NULL, &e4, "set-persist", "nope", "on", NULL), ==,
	                MSBCTL_EXIT_NOT_FOUND);
	g_assert_true(g_str_has_suffix(e4, " (org.myservicebus.Broker1.Error.TopicNotFound)\n"));
	g_assert_cmpint(run(f, NULL, &e5, "create-topic", "Not_Valid", NULL), ==,
	                MSBCTL_EXIT_INVALID);
	g_assert_true(g_str_has_suffix(e5, " (org.myservicebus.Broker1.Error.InvalidName)\n"));
	g_assert_cmpint(run(f, NULL, &e6, "delete-topic", "nope", NULL), ==, MSBCTL_EXIT_NOT_FOUND);
	g_assert_true(g_str_has_suffix(e6, " (org.myservicebus.Broker1.Error.TopicNotFound)\n"));
	/* what msbctl refuses itself: a bad command line, the broker is not asked */
	g_assert_cmpint(run(f, NULL, &e7, "set-message-id", "orders", "q1", "-1", NULL), ==,
	                MSBCTL_EXIT_USAGE);
	g_assert_cmpint(run(f, NULL, &e8, "set-persist", "orders", "maybe", NULL), ==,
	                MSBCTL_EXIT_USAGE);
	g_assert_nonnull(strstr(e8, "\"maybe\" is not on or off"));
	g_assert_cmpint(run(f, NULL, &e9, "delete-topic", "orders", "--at", "tomorrow", NULL), ==,
	                MSBCTL_EXIT_USAGE);
	g_assert_nonnull(strstr(e9, "--at: \"tomorrow\" is not an ISO 8601"));

	/* delete-topic --at now: gone for good at the broker's next tick, then unknown */
	g_assert_cmpint(run(f, &o9, NULL, "delete-topic", "orders", "--at", "now", NULL), ==,
	                MSBCTL_EXIT_OK);
	ITEST_WAIT_FOR(rest_topic_gone(f, "orders"));
	g_assert_cmpint(run(f, NULL, &e10, "restore-topic", "orders", NULL), ==,
	                MSBCTL_EXIT_NOT_FOUND);
	g_assert_cmpint(run(f, &o10, NULL, "create-topic", "orders", NULL), ==, MSBCTL_EXIT_OK);
}

/* ---- topics and queues ---- */

static gboolean
has_queue(JsonNode *root, gconstpointer data)
{
	JsonObject *q = find_named(root, "q1");
	return q != NULL && json_object_get_int_member(q, "size") == 10;
}

static gboolean
has_topic(JsonNode *root, gconstpointer data)
{
	JsonObject *t = find_named(root, "orders");
	return t != NULL && json_object_get_int_member(t, "message_id") == 10 &&
	       json_object_get_int_member(t, "queue_count") == 1 &&
	       json_object_get_boolean_member(t, "deleted") == GPOINTER_TO_INT(data);
}

/* The listings, as tables and as JSON, following the broker's state. */
static void
test_listings(Fixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) admin = itest_raw_connect(f->broker);
	ItestRaw *subscriber = itest_raw_connect(f->broker);
	const gchar *contents[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
	const gchar *queues_args[] = {"queues", "orders", NULL};
	const gchar *topics_args[] = {"topics", NULL};
	g_autofree gchar *empty_table = NULL;
	g_autofree gchar *table = NULL;
	g_autofree gchar *deleted_table = NULL;
	g_autofree gchar *queues = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *o1 = NULL;
	g_autoptr(JsonNode) empty = NULL;
	g_autoptr(JsonNode) topics = NULL;
	g_autoptr(JsonNode) deleted = NULL;
	g_autoptr(JsonNode) queue_list = NULL;
	g_autoptr(GDateTime) moment = NULL;
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
	JsonObject *t;
	JsonObject *q;
	JsonArray *ranges;
	gint64 before;
	gint64 after;
	gint64 at;

	/* an empty broker: the header line, an empty array */
	g_assert_cmpint(run(f, &empty_table, NULL, "topics", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_cmpstr(empty_table, ==,
	                "TOPIC  MESSAGE-ID  MSG/S  PERSIST  QUEUES  CACHED  PENDING  DELETED\n");
	empty = run_json(f, "topics", NULL);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(empty)), ==, 0);

	/* a topic with a permanent queue that keeps ten messages */
	itest_raw_greet(admin, "admin", 3, 1);
	itest_raw_create_topic(admin, "orders");
	itest_raw_sync(admin);
	itest_raw_greet(subscriber, "queue-maker", 3, 1);
	itest_raw_subscribe(subscriber, "orders", "q1", 0);
	itest_raw_sync(subscriber);
	itest_raw_free(subscriber);
	itest_raw_sync(admin);
	itest_raw_publish(admin, "orders", 1, contents, 10, FALSE);
	itest_raw_expect_publish_response(admin, 1);
	wait_json(f, queues_args, has_queue, NULL);
	wait_json(f, topics_args, has_topic, GINT_TO_POINTER(FALSE));

	topics = run_json(f, "topics", NULL);
	t = find_named(topics, "orders");
	g_assert_true(json_object_get_boolean_member(t, "persist"));
	g_assert_cmpint(json_object_get_int_member(t, "pending_messages"), ==, 0);
	g_assert_true(json_object_has_member(t, "messages_per_second"));
	g_assert_true(json_object_has_member(t, "cached_messages"));
	g_assert_true(json_object_get_null_member(t, "hard_delete_moment"));
	g_assert_cmpint(run(f, &table, NULL, "topics", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_true(g_regex_match_simple("^orders {10}10 +[0-9]+  yes +1 +[0-9]+ +0  -$", table,
	                                   G_REGEX_MULTILINE, 0));

	queue_list = run_json(f, "queues", "orders", NULL);
	q = find_named(queue_list, "q1");
	g_assert_cmpstr(json_object_get_string_member(q, "queue_type"), ==, "Permanent");
	g_assert_cmpint(json_object_get_int_member(q, "on_delivery"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(q, "subscriber_count"), ==, 0);
	ranges = json_object_get_array_member(q, "ranges");
	g_assert_cmpuint(json_array_get_length(ranges), ==, 1);
	g_assert_cmpint(json_array_get_int_element(json_array_get_array_element(ranges, 0), 0), ==,
	                0);
	g_assert_cmpint(json_array_get_int_element(json_array_get_array_element(ranges, 0), 1), ==,
	                9);
	g_assert_cmpint(run(f, &queues, NULL, "queues", "orders", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_cmpstr(queues, ==,
	                "QUEUE  TYPE       SIZE  ON-DELIVERY  SUBSCRIBERS  RANGES\n"
	                "q1     Permanent    10            0            0  0-9\n");
	g_assert_cmpint(run(f, NULL, &err, "queues", "nope", NULL), ==, MSBCTL_EXIT_NOT_FOUND);
	g_assert_cmpstr(err, ==, "msbctl queues: the broker has no topic \"nope\"\n");

	/* soft-deleted: the moment, in UTC for scripts and local time in the table */
	before = g_get_real_time() / G_USEC_PER_SEC;
	g_assert_cmpint(run(f, &o1, NULL, "delete-topic", "orders", "--hard-delete-in",
	                    "1d 00:00:00", NULL),
	                ==, MSBCTL_EXIT_OK);
	after = g_get_real_time() / G_USEC_PER_SEC + 1;
	wait_json(f, topics_args, has_topic, GINT_TO_POINTER(TRUE));
	deleted = run_json(f, "topics", NULL);
	t = find_named(deleted, "orders");
	moment = g_date_time_new_from_iso8601(
	        json_object_get_string_member(t, "hard_delete_moment"), utc);
	g_assert_nonnull(moment);
	at = g_date_time_to_unix(moment);
	g_assert_cmpint(at, >=, before + 86400);
	g_assert_cmpint(at, <=, after + 86400);
	g_assert_cmpint(run(f, &deleted_table, NULL, "topics", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_true(g_regex_match_simple("^orders .*  until [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}"
	                                   "[+-][0-9]{2}:[0-9]{2}$",
	                                   deleted_table, G_REGEX_MULTILINE, 0));
}

/* ---- authorization ---- */

/* The broker on the "system" bus (the private one; no polkit there) with a DBusAdminGroup that
 * nobody is in; msbctl runs as a user who is neither root nor in that group: the test's own, or
 * uid 65534 when the test runs as root (which the broker always allows). */
static void
fixture_setup_system(Fixture *f, gconstpointer data)
{
	static const gchar *const as_nobody[] = {"setpriv", "--reuid=65534", "--regid=65534",
	                                         "--clear-groups", NULL};

	fixture_setup_bus(f, data);
	g_free(f->system_env);
	f->system_env =
	        g_strdup_printf("DBUS_SYSTEM_BUS_ADDRESS=%s", itest_bus_get_address(f->bus));
	fixture_start_broker(f, "--system-bus", "DBusAdminGroup: msb-test-no-such-group");
	if (getuid() == 0)
		f->prefix = as_nobody;
}

static void
test_not_authorized(Fixture *f, gconstpointer data)
{
	const gchar *system[] = {"MSBCTL_BUS=system", NULL};
	const gchar *commands[][4] = {
	        {"create-topic", "orders", NULL},         {"delete-topic", "orders", NULL},
	        {"restore-topic", "orders", NULL},        {"set-persist", "orders", "on", NULL},
	        {"delete-queue", "orders", "q", NULL},    {"set-message-id", "orders", "q", "1"},
	        {"set-max-messages", "orders", "q", "1"}, {"kick", "1", NULL},
	};
	g_autofree gchar *out = NULL;
	g_autofree gchar *status_out = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		g_autofree gchar *cmd_out = NULL;
		g_autofree gchar *cmd_err = NULL;
		g_autofree gchar *prefix = g_strdup_printf("msbctl %s: ", commands[i][0]);

		g_assert_cmpint(run_env(f, system, &cmd_out, &cmd_err, commands[i][0],
		                        commands[i][1], commands[i][2], commands[i][3], NULL),
		                ==, MSBCTL_EXIT_NOT_AUTHORIZED);
		g_assert_cmpstr(cmd_out, ==, "");
		g_assert_true(g_str_has_prefix(cmd_err, prefix));
		g_assert_nonnull(strstr(cmd_err, "DBusAdminGroup"));
		g_assert_true(g_str_has_suffix(
		        cmd_err, " (org.myservicebus.Broker1.Error.NotAuthorized)\n"));
	}
	/* reading is open to everyone */
	g_assert_cmpint(run_env(f, system, &status_out, NULL, "status", NULL), ==, MSBCTL_EXIT_OK);
	g_assert_true(g_str_has_prefix(status_out, "Bus:                  system\n"));
	g_assert_nonnull(strstr(status_out, "\nTopics:               0\n"));
	g_assert_cmpint(run_env(f, system, &out, NULL, "sessions", NULL), ==, MSBCTL_EXIT_OK);
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

/* ---- monitor ---- */

typedef struct {
	GSubprocess *proc;
	GDataInputStream *out;
	GDataInputStream *err;
	GPtrArray *lines; /* stdout */
	gboolean ready;   /* its "watching" line came on stderr */
	gboolean out_eof;
	gboolean err_eof;
} Monitor;

static void
monitor_read_out(Monitor *m);

static void
monitor_out_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Monitor *m = user_data;
	g_autoptr(GError) error = NULL;
	gchar *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source), res,
	                                                        NULL, &error);

	g_assert_no_error(error);
	if (line == NULL) {
		m->out_eof = TRUE;
		return;
	}
	g_test_message("monitor: %s", line);
	g_ptr_array_add(m->lines, line);
	monitor_read_out(m);
}

static void
monitor_read_out(Monitor *m)
{
	g_data_input_stream_read_line_async(m->out, G_PRIORITY_DEFAULT, NULL, monitor_out_cb, m);
}

static void
monitor_err_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Monitor *m = user_data;
	g_autofree gchar *line = g_data_input_stream_read_line_finish_utf8(
	        G_DATA_INPUT_STREAM(source), res, NULL, NULL);

	if (line == NULL) {
		m->err_eof = TRUE;
		return;
	}
	g_test_message("monitor stderr: %s", line);
	if (strstr(line, "msbctl monitor: watching " BUS_NAME " on the session bus") != NULL)
		m->ready = TRUE;
	g_data_input_stream_read_line_async(m->err, G_PRIORITY_DEFAULT, NULL, monitor_err_cb, m);
}

static Monitor *
monitor_start(Fixture *f, const gchar *option)
{
	Monitor *m = g_new0(Monitor, 1);
	const gchar *args[] = {"monitor", option, NULL};
	g_autoptr(GPtrArray) env = fixture_env(f, NULL);

	m->proc =
	        itest_msbctl_spawn(args, (const gchar *const *)env->pdata,
	                           G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	m->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(m->proc));
	m->err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(m->proc));
	m->lines = g_ptr_array_new_with_free_func(g_free);
	monitor_read_out(m);
	g_data_input_stream_read_line_async(m->err, G_PRIORITY_DEFAULT, NULL, monitor_err_cb, m);
	ITEST_WAIT_FOR(m->ready);
	return m;
}

static gboolean
monitor_has(Monitor *m, const gchar *needle)
{
	for (guint i = 0; i < m->lines->len; i++) {
		if (strstr(g_ptr_array_index(m->lines, i), needle) != NULL)
			return TRUE;
	}
	return FALSE;
}

static void
monitor_waited_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;

	g_subprocess_wait_finish(G_SUBPROCESS(source), res, &error);
	g_assert_no_error(error);
	*(gboolean *)user_data = TRUE;
}

/* With @terminate SIGTERM, which stops it with status 0; else wait until it exits by itself
 * (--count) with status 0. */
static void
monitor_stop(Monitor *m, gboolean terminate)
{
	gboolean waited = FALSE;

	if (terminate)
		g_subprocess_send_signal(m->proc, SIGTERM);
	g_subprocess_wait_async(m->proc, NULL, monitor_waited_cb, &waited);
	ITEST_WAIT_FOR(waited && m->out_eof && m->err_eof);
	g_assert_true(g_subprocess_get_if_exited(m->proc));
	g_assert_cmpint(g_subprocess_get_exit_status(m->proc), ==, MSBCTL_EXIT_OK);
	g_object_unref(m->out);
	g_object_unref(m->err);
	g_object_unref(m->proc);
	g_ptr_array_unref(m->lines);
	g_free(m);
}

static void
test_monitor(Fixture *f, gconstpointer data)
{
	Monitor *json = monitor_start(f, "--json");
	Monitor *text = monitor_start(f, NULL);
	g_autoptr(ItestRaw) raw = itest_raw_connect(f->broker);
	const gchar *contents[] = {"a", "b"};
	g_autofree gchar *out = NULL;

	g_assert_cmpint(run(f, &out, NULL, "create-topic", "watched", NULL), ==, MSBCTL_EXIT_OK);
	ITEST_WAIT_FOR(monitor_has(text, " signal TopicCreated name='watched' "
	                                 "topic='/org/myservicebus/Broker1/topic/watched'"));
	ITEST_WAIT_FOR(monitor_has(text, " added topic 'watched' "
	                                 "/org/myservicebus/Broker1/topic/watched"));
	ITEST_WAIT_FOR(monitor_has(json, "\"event\":\"signal\",\"signal\":\"TopicCreated\","
	                                 "\"args\":{\"name\":\"watched\","));

	/* a session, a queue and two messages */
	itest_raw_greet(raw, "watcher", 3, 1);
	itest_raw_subscribe(raw, "watched", "q", 0);
	itest_raw_sync(raw);
	itest_raw_publish(raw, "watched", 1, contents, 2, FALSE);
	itest_raw_expect_publish_response(raw, 1);
	ITEST_WAIT_FOR(monitor_has(text, " signal SessionConnected id="));
	ITEST_WAIT_FOR(monitor_has(text, " signal QueueCreated topic='watched' queue='q' "));
	ITEST_WAIT_FOR(monitor_has(text, " added queue 'watched'/'q' "));
	/* the topic's properties follow within a second */
	ITEST_WAIT_FOR(monitor_has(text, " changed topic 'watched' ") &&
	               monitor_has(text, "MessageId=2"));
	ITEST_WAIT_FOR(monitor_has(json, "\"event\":\"changed\",\"object\":"
	                                 "\"/org/myservicebus/Broker1/topic/watched\","
	                                 "\"kind\":\"topic\",\"topic\":\"watched\""));
	ITEST_WAIT_FOR(monitor_has(text, " changed broker ") && monitor_has(text, "TopicCount=1"));

	/* the session goes, the topic goes for good */
	itest_raw_free(g_steal_pointer(&raw));
	ITEST_WAIT_FOR(monitor_has(text, " signal SessionDisconnected id="));
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(run(f, &out, NULL, "delete-topic", "watched", NULL), ==, MSBCTL_EXIT_OK);
	ITEST_WAIT_FOR(monitor_has(text, " signal TopicDeleted name='watched' "));
	ITEST_WAIT_FOR(monitor_has(text, " removed topic 'watched' "));
	ITEST_WAIT_FOR(monitor_has(json, "\"event\":\"removed\""));

	/* the broker leaves the bus */
	itest_broker_free(g_steal_pointer(&f->broker));
	ITEST_WAIT_FOR(monitor_has(text, " broker-vanished"));
	ITEST_WAIT_FOR(monitor_has(json, "\"event\":\"broker-vanished\""));
	monitor_stop(json, TRUE);
	monitor_stop(text, TRUE);
}

/* A monitor started before the broker waits for it; --count 1 exits after the first event. */
static void
test_monitor_waits(Fixture *f, gconstpointer data)
{
	Monitor *m = monitor_start(f, NULL);
	Monitor *one = monitor_start(f, "--count=1");

	fixture_start_broker(f, "--session-bus", NULL);
	ITEST_WAIT_FOR(monitor_has(m, " broker-appeared :"));
	/* it exits by itself: its output ends */
	ITEST_WAIT_FOR(one->out_eof);
	g_assert_cmpuint(one->lines->len, ==, 1);
	/* the broker appearing, or its properties arriving with it; never a "vanished" it was
	 * not there for */
	g_assert_null(strstr(g_ptr_array_index(one->lines, 0), "broker-vanished"));
	g_assert_null(strstr(g_ptr_array_index(m->lines, 0), "broker-vanished"));
	monitor_stop(one, FALSE);
	monitor_stop(m, TRUE);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	g_test_add("/msbctl-dbus/status", Fixture, NULL, fixture_setup, test_status,
	           fixture_teardown);
	g_test_add("/msbctl-dbus/unreachable", Fixture, NULL, fixture_setup_bus, test_unreachable,
	           fixture_teardown);
	g_test_add("/msbctl-dbus/changes", Fixture, NULL, fixture_setup, test_changes,
	           fixture_teardown);
	g_test_add("/msbctl-dbus/listings", Fixture, NULL, fixture_setup, test_listings,
	           fixture_teardown);
	g_test_add("/msbctl-dbus/not-authorized", Fixture, NULL, fixture_setup_system,
	           test_not_authorized, fixture_teardown);
	g_test_add("/msbctl-dbus/sessions-kick", Fixture, NULL, fixture_setup, test_sessions_kick,
	           fixture_teardown);
	g_test_add("/msbctl-dbus/monitor", Fixture, NULL, fixture_setup, test_monitor,
	           fixture_teardown);
	g_test_add("/msbctl-dbus/monitor-waits", Fixture, NULL, fixture_setup_bus,
	           test_monitor_waits, fixture_teardown);
	return g_test_run();
}
