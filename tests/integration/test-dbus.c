/*
 * The broker's D-Bus management (org.myservicebus.Broker1, docs/dbus.md) on a private bus: a
 * dbus-daemon this test starts with its own configuration and socket, never the user's session
 * or system bus. The manager's properties and methods through GDBus and through `gdbus call`,
 * the named errors, authorization (an unauthorized caller, root or not), REST and D-Bus seeing
 * each other's changes, a broker without a bus, and a bus that goes away and comes back.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dtest.h"
#include "msb-config.h"
#include "msb-dbus-error.h"
#include "msb-dbus-generated.h"

#define BUS_NAME     "org.myservicebus.Broker1"
#define MANAGER_PATH "/org/myservicebus/Broker1"
/* the user an unauthorized caller runs as when the test runs as root */
#define NOBODY_UID 65534

/* ---- the private bus: itest.c's ItestBus ---- */

static gboolean
name_has_owner(GDBusConnection *conn)
{
	g_autoptr(GVariant) reply = NULL;
	gboolean owned = FALSE;

	reply = g_dbus_connection_call_sync(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
	                                    "org.freedesktop.DBus", "NameHasOwner",
	                                    g_variant_new("(s)", BUS_NAME), G_VARIANT_TYPE("(b)"),
	                                    G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
	if (reply != NULL)
		g_variant_get(reply, "(b)", &owned);
	return owned;
}

/* ---- the broker on it ---- */

/*
 * Spawn @b with @option and the bus variable it reads set to @address, for the broker only: in
 * the test process it would also lead GIO's own helpers (GSettings, the proxy resolver) to the
 * private bus, and they end the process when that bus goes.
 */
static void
broker_spawn_on(ItestBroker *b, const gchar *option, const gchar *address)
{
	const gchar *variable = g_strcmp0(option, "--system-bus") == 0 ? "DBUS_SYSTEM_BUS_ADDRESS"
	                                                               : "DBUS_SESSION_BUS_ADDRESS";

	g_setenv(variable, address, TRUE);
	itest_broker_spawn(b, 0);
	g_unsetenv(variable);
}

typedef struct {
	ItestBus *bus;
	ItestBroker *broker;
	GDBusConnection *conn;
	MsbDbusBroker1 *manager; /* a proxy */
} Fixture;

/* @option "--session-bus" or "--system-bus": the bus's address goes into the variable that
 * option reads. */
static void
fixture_start_broker(Fixture *f, const gchar *option, ItestBroker *broker)
{
	g_autoptr(GError) error = NULL;

	f->bus = itest_bus_new();
	f->broker = broker;
	f->broker->dbus_option = option;
	f->broker->capture_log = TRUE;
	broker_spawn_on(f->broker, option, itest_bus_get_address(f->bus));
	itest_broker_wait_ready(f->broker, 0, ITEST_TIMEOUT_MS);
	f->conn = itest_bus_connect(f->bus);
	ITEST_WAIT_FOR(name_has_owner(f->conn));
	f->manager = msb_dbus_broker1_proxy_new_sync(f->conn, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME,
	                                             MANAGER_PATH, NULL, &error);
	g_assert_no_error(error);
}

static void
fixture_start(Fixture *f, const gchar *option, const gchar *settings)
{
	fixture_start_broker(f, option, itest_broker_new(settings));
}

static void
fixture_stop(Fixture *f)
{
	g_clear_object(&f->manager);
	if (f->conn != NULL)
		g_dbus_connection_close_sync(f->conn, NULL, NULL);
	g_clear_object(&f->conn);
	g_clear_pointer(&f->broker, itest_broker_free);
	g_clear_pointer(&f->bus, itest_bus_free);
}

static guint
http_status(ItestBroker *b, const gchar *method, const gchar *path)
{
	guint status = 0;

	g_free(itest_broker_http(b, method, path, NULL, NULL, NULL, &status));
	return status;
}

/* ---- gdbus call ---- */

/* `gdbus call` on the manager as the test's user, or as uid 65534 when @as_nobody (which only
 * root can do); its exit status, stdout and stderr. */
static gint
gdbus_call(ItestBus *bus, gboolean as_nobody, gchar **out, gchar **err, const gchar *method, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gint status = -1;
	va_list ap;

	if (as_nobody) {
		g_ptr_array_add(argv, "setpriv");
		g_ptr_array_add(argv, "--reuid=" G_STRINGIFY(NOBODY_UID));
		g_ptr_array_add(argv, "--regid=" G_STRINGIFY(NOBODY_UID));
		g_ptr_array_add(argv, "--clear-groups");
	}
	g_ptr_array_add(argv, "gdbus");
	g_ptr_array_add(argv, "call");
	g_ptr_array_add(argv, "--address");
	g_ptr_array_add(argv, (gpointer)itest_bus_get_address(bus));
	g_ptr_array_add(argv, "--dest");
	g_ptr_array_add(argv, BUS_NAME);
	g_ptr_array_add(argv, "--object-path");
	g_ptr_array_add(argv, MANAGER_PATH);
	g_ptr_array_add(argv, "--method");
	g_ptr_array_add(argv, (gpointer)method);
	va_start(ap, method);
	for (const gchar *arg = va_arg(ap, const gchar *); arg != NULL;
	     arg = va_arg(ap, const gchar *))
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL, (gchar **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err,
	             &status, &error);
	g_assert_no_error(error);
	g_test_message("gdbus call %s: status %d: %s%s", method, status,
	               out != NULL && *out != NULL ? *out : "",
	               err != NULL && *err != NULL ? *err : "");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* `gdbus call` that must succeed; its output. */
static gchar *
gdbus_ok(ItestBus *bus, const gchar *method, const gchar *arg1, const gchar *arg2,
         const gchar *arg3)
{
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint rc = gdbus_call(bus, FALSE, &out, &err, method, arg1, arg2, arg3, NULL);

	if (rc != 0)
		g_error("gdbus call %s failed (%d): %s", method, rc, err);
	return g_steal_pointer(&out);
}

/* ---- the manager's properties ---- */

static void
test_properties(void)
{
	Fixture f = {0};
	g_autofree gchar *out = NULL;
	g_autoptr(ItestRaw) raw = NULL;

	fixture_start(&f, "--session-bus", NULL);

	/* from `gdbus call` too, and the ObjectManager beside the manager interface */
	out = gdbus_ok(f.bus, "org.freedesktop.DBus.Properties.GetAll", BUS_NAME, NULL, NULL);
	g_assert_nonnull(strstr(out, "'Version': <'" MSB_VERSION "'>"));
	g_assert_nonnull(strstr(out, "'PersistenceState': <'memory'>"));
	g_assert_nonnull(strstr(out, "'PersistenceVersion': <''>"));
	g_assert_nonnull(strstr(out, "'TopicCount': <uint32 0>"));
	g_clear_pointer(&out, g_free);
	out = gdbus_ok(f.bus, "org.freedesktop.DBus.ObjectManager.GetManagedObjects", NULL, NULL,
	               NULL);
	g_assert_nonnull(strstr(out, "@a{oa{sa{sv}}}"));

	g_assert_cmpstr(msb_dbus_broker1_get_version(f.manager), ==, MSB_VERSION);
	g_assert_cmpstr(msb_dbus_broker1_get_persistence_state(f.manager), ==, "memory");
	g_assert_cmpuint(msb_dbus_broker1_get_topic_count(f.manager), ==, 0);
	g_assert_cmpuint(msb_dbus_broker1_get_session_count(f.manager), ==, 0);

	/* a REST change shows on D-Bus (PropertiesChanged within about a second) */
	g_assert_cmpuint(http_status(f.broker, "POST", "/api/Topics/Create?topicId=orders"), ==,
	                 200);
	ITEST_WAIT_FOR(msb_dbus_broker1_get_topic_count(f.manager) == 1);

	/* sessions and the publish rate */
	raw = itest_raw_connect(f.broker);
	itest_raw_greet(raw, "dbus-test", 3, 0);
	itest_raw_sync(raw);
	ITEST_WAIT_FOR(msb_dbus_broker1_get_session_count(f.manager) == 1);
	for (guint i = 0; i < 100 && msb_dbus_broker1_get_messages_per_second(f.manager) == 0;
	     i++) {
		itest_raw_publish_sized(raw, "orders", i + 1, 10, 8);
		itest_raw_expect_publish_response(raw, i + 1);
		itest_run_for(50);
	}
	g_assert_cmpuint(msb_dbus_broker1_get_messages_per_second(f.manager), >, 0);
	g_clear_pointer(&raw, itest_raw_free);
	ITEST_WAIT_FOR(msb_dbus_broker1_get_session_count(f.manager) == 0);
	fixture_stop(&f);
}

/* A member of the topic's item in /api/Status. */
static JsonNode *
status_topic_member(ItestBroker *b, const gchar *topic, const gchar *member)
{
	g_autoptr(JsonNode) status = itest_broker_get_json(b, "/api/Status");
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(status), "topics"), "items");

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *t = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(t, "id"), topic) == 0)
			return json_node_copy(json_object_get_member(t, member));
	}
	g_error("no topic %s in the status", topic);
}

static gboolean
topic_listed(ItestBroker *b, const gchar *topic)
{
	guint status = 0;
	g_autofree gchar *body =
	        itest_broker_http(b, "GET", "/api/Topics/Create", NULL, NULL, NULL, &status);
	g_autofree gchar *needle = g_strdup_printf("\"id\":\"%s\"", topic);

	g_assert_cmpuint(status, ==, 200);
	return strstr(body, needle) != NULL;
}

static ItestRaw *
connect_as(ItestBroker *b, const gchar *name)
{
	ItestRaw *r = itest_raw_connect(b);

	itest_raw_greet(r, name, 3, 0);
	itest_raw_sync(r);
	return r;
}

static gint64
session_id(Fixture *f, const gchar *name)
{
	g_autoptr(GVariant) sessions = NULL;
	g_autoptr(GError) error = NULL;
	GVariantIter iter;
	GVariant *session;

	msb_dbus_broker1_call_list_sessions_sync(f->manager, &sessions, NULL, &error);
	g_assert_no_error(error);
	g_variant_iter_init(&iter, sessions);
	while ((session = g_variant_iter_next_value(&iter)) != NULL) {
		G_GNUC_UNUSED g_autoptr(GVariant) owned = session;
		const gchar *got = NULL;
		gint64 id = 0;

		g_assert_true(g_variant_lookup(session, "name", "&s", &got));
		g_assert_true(g_variant_lookup(session, "id", "x", &id));
		if (g_strcmp0(got, name) == 0)
			return id;
	}
	g_error("no session %s in ListSessions", name);
}

/* ---- every method through `gdbus call`, its effect seen through REST and by clients ---- */

static void
test_methods(void)
{
	Fixture f = {0};
	g_autofree gchar *out = NULL;
	g_autofree gchar *moment = NULL;
	g_autofree gchar *pub_id = NULL;
	g_autoptr(ItestRaw) sub = NULL;
	g_autoptr(ItestRaw) pub = NULL;
	g_autoptr(ItestRaw) holder = NULL;
	g_autoptr(JsonNode) node = NULL;
	ItestPacket *batch;
	guint status = 0;

	fixture_start(&f, "--session-bus", NULL);

	/* CreateTopic answers the topic's object path; REST lists the topic */
	out = gdbus_ok(f.bus, BUS_NAME ".CreateTopic", "orders", NULL, NULL);
	g_assert_cmpstr(out, ==, "(objectpath '" MANAGER_PATH "/topic/orders',)\n");
	g_clear_pointer(&out, g_free);
	g_assert_true(topic_listed(f.broker, "orders"));
	/* the change is logged with its caller */
	g_assert_cmpuint(itest_broker_log_count(f.broker, "D-Bus: CreateTopic('orders',) from :"),
	                 ==, 1);
	/* a name that needs escaping in a path */
	out = gdbus_ok(f.bus, BUS_NAME ".CreateTopic", "a-b", NULL, NULL);
	g_assert_cmpstr(out, ==, "(objectpath '" MANAGER_PATH "/topic/a_2db',)\n");
	g_clear_pointer(&out, g_free);
	/* idempotent */
	g_free(gdbus_ok(f.bus, BUS_NAME ".CreateTopic", "orders", NULL, NULL));

	/* SetTopicPersist */
	g_free(gdbus_ok(f.bus, BUS_NAME ".SetTopicPersist", "orders", "false", NULL));
	node = status_topic_member(f.broker, "orders", "persist");
	g_assert_false(json_node_get_boolean(node));
	g_clear_pointer(&node, json_node_unref);
	g_free(gdbus_ok(f.bus, BUS_NAME ".SetTopicPersist", "orders", "true", NULL));
	node = status_topic_member(f.broker, "orders", "persist");
	g_assert_true(json_node_get_boolean(node));
	g_clear_pointer(&node, json_node_unref);

	/* SetQueueMessageId: a consumer gets the messages again from that id */
	holder = connect_as(f.broker, "holder");
	itest_raw_subscribe(holder, "orders", "hold", 0);
	itest_raw_sync(holder);
	sub = connect_as(f.broker, "sub");
	itest_raw_subscribe(sub, "orders", "q", 0);
	itest_raw_sync(sub);
	pub = connect_as(f.broker, "pub");
	itest_raw_publish_sized(pub, "orders", 1, 5, 8);
	itest_raw_expect_publish_response(pub, 1);
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 5);
	itest_raw_confirm(sub, TRUE, "orders", "q", batch->confirmation_id);
	itest_packet_free(batch);
	itest_raw_sync(sub);
	g_free(gdbus_ok(f.bus, BUS_NAME ".SetQueueMessageId", "orders", "q", "2"));
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 3);
	g_assert_cmpint(itest_packet_message(batch, 0)->id, ==, 2);
	itest_raw_confirm(sub, TRUE, "orders", "q", batch->confirmation_id);
	itest_packet_free(batch);
	itest_raw_sync(sub);

	/* SetQueueMaxMessagesPerPayload: batches of one from now on */
	g_free(gdbus_ok(f.bus, BUS_NAME ".SetQueueMaxMessagesPerPayload", "orders", "q", "1"));
	g_free(gdbus_ok(f.bus, BUS_NAME ".SetQueueMessageId", "orders", "q", "0"));
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 1);
	g_assert_cmpint(itest_packet_message(batch, 0)->id, ==, 0);
	itest_packet_free(batch);

	/* ListSessions names the clients */
	out = gdbus_ok(f.bus, BUS_NAME ".ListSessions", NULL, NULL, NULL);
	g_assert_nonnull(strstr(out, "'name': <'sub'>"));
	g_assert_nonnull(strstr(out, "'name': <'pub'>"));
	g_assert_nonnull(strstr(out, "'kind': <'tcp'>"));
	g_clear_pointer(&out, g_free);

	/* KickSession closes the client's connection */
	pub_id = g_strdup_printf("%" G_GINT64_FORMAT, session_id(&f, "pub"));
	g_free(gdbus_ok(f.bus, BUS_NAME ".KickSession", pub_id, NULL, NULL));
	itest_raw_wait_closed(pub, ITEST_TIMEOUT_MS);

	/* DeleteQueue: gone from REST's list, the other queue stays */
	g_free(gdbus_ok(f.bus, BUS_NAME ".DeleteQueue", "orders", "q", NULL));
	out = itest_broker_http(f.broker, "GET", "/api/Queues?topicId=orders", NULL, NULL, NULL,
	                        &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_cmpstr(out, ==, "[\"hold\"]");
	g_clear_pointer(&out, g_free);

	/* DeleteTopic with a moment an hour ahead, then RestoreTopic */
	moment = g_strdup_printf("%" G_GINT64_FORMAT,
	                         g_get_real_time() + G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC);
	g_free(gdbus_ok(f.bus, BUS_NAME ".DeleteTopic", "orders", moment, NULL));
	node = status_topic_member(f.broker, "orders", "deleted");
	g_assert_cmpint(json_node_get_int(node), >, g_get_real_time());
	g_clear_pointer(&node, json_node_unref);
	g_free(gdbus_ok(f.bus, BUS_NAME ".RestoreTopic", "orders", NULL, NULL));
	node = status_topic_member(f.broker, "orders", "deleted");
	g_assert_cmpint(json_node_get_int(node), ==, 0);
	g_clear_pointer(&node, json_node_unref);

	fixture_stop(&f);
}

/* ---- errors ---- */

#define ASSERT_DBUS_ERROR(call, code)                                                    \
	G_STMT_START                                                                     \
	{                                                                                \
		g_autoptr(GError) _error = NULL;                                         \
		g_autofree gchar *_name = NULL;                                          \
		gboolean _ok = (call);                                                   \
		g_assert_false(_ok);                                                     \
		g_assert_error(_error, MSB_DBUS_ERROR, (code));                          \
		_name = g_dbus_error_get_remote_error(_error);                           \
		g_assert_cmpstr(_name, ==, msb_dbus_error_to_name(code));                \
		g_test_message("%s: %s", msb_dbus_error_to_name(code), _error->message); \
	}                                                                                \
	G_STMT_END

static void
test_errors(void)
{
	Fixture f = {0};
	MsbDbusBroker1 *m;
	g_autoptr(ItestRaw) sub = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;

	fixture_start(&f, "--session-bus", NULL);
	m = f.manager;
	g_assert_true(msb_dbus_broker1_call_create_topic_sync(m, "orders", NULL, NULL, NULL));
	sub = connect_as(f.broker, "sub");
	itest_raw_subscribe(sub, "orders", "q", 0);
	itest_raw_sync(sub);

	ASSERT_DBUS_ERROR(
	        msb_dbus_broker1_call_create_topic_sync(m, "Bad_Name", NULL, NULL, &_error),
	        MSB_DBUS_ERROR_INVALID_NAME);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_create_topic_sync(m, "", NULL, NULL, &_error),
	                  MSB_DBUS_ERROR_INVALID_NAME);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_delete_topic_sync(m, "nosuch", 0, NULL, &_error),
	                  MSB_DBUS_ERROR_TOPIC_NOT_FOUND);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_restore_topic_sync(m, "nosuch", NULL, &_error),
	                  MSB_DBUS_ERROR_TOPIC_NOT_FOUND);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_restore_topic_sync(m, "orders", NULL, &_error),
	                  MSB_DBUS_ERROR_INVALID_ARGUMENT);
	ASSERT_DBUS_ERROR(
	        msb_dbus_broker1_call_set_topic_persist_sync(m, "nosuch", TRUE, NULL, &_error),
	        MSB_DBUS_ERROR_TOPIC_NOT_FOUND);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_delete_queue_sync(m, "nosuch", "q", NULL, &_error),
	                  MSB_DBUS_ERROR_TOPIC_NOT_FOUND);
	ASSERT_DBUS_ERROR(
	        msb_dbus_broker1_call_set_queue_message_id_sync(m, "nosuch", "q", 1, NULL, &_error),
	        MSB_DBUS_ERROR_TOPIC_NOT_FOUND);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_set_queue_message_id_sync(m, "orders", "nosuch", 1,
	                                                                  NULL, &_error),
	                  MSB_DBUS_ERROR_QUEUE_NOT_FOUND);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_set_queue_message_id_sync(m, "orders", "q", -1,
	                                                                  NULL, &_error),
	                  MSB_DBUS_ERROR_INVALID_ARGUMENT);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_set_queue_max_messages_per_payload_sync(
	                          m, "orders", "nosuch", 1, NULL, &_error),
	                  MSB_DBUS_ERROR_QUEUE_NOT_FOUND);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_set_queue_max_messages_per_payload_sync(
	                          m, "orders", "q", -1, NULL, &_error),
	                  MSB_DBUS_ERROR_INVALID_ARGUMENT);
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_kick_session_sync(m, 999999, NULL, &_error),
	                  MSB_DBUS_ERROR_SESSION_NOT_FOUND);
	/* a soft-deleted topic refuses a create until it is restored */
	g_assert_true(msb_dbus_broker1_call_delete_topic_sync(
	        m, "orders", g_get_real_time() + G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC, NULL,
	        NULL));
	ASSERT_DBUS_ERROR(msb_dbus_broker1_call_create_topic_sync(m, "orders", NULL, NULL, &_error),
	                  MSB_DBUS_ERROR_TOPIC_DELETED);

	/* `gdbus call` shows the name and the message */
	g_assert_cmpint(
	        gdbus_call(f.bus, FALSE, &out, &err, BUS_NAME ".DeleteTopic", "nosuch", "0", NULL),
	        !=, 0);
	g_assert_nonnull(strstr(err, "org.myservicebus.Broker1.Error.TopicNotFound"));
	g_assert_nonnull(strstr(err, "nosuch"));
	fixture_stop(&f);
}

/* ---- authorization ---- */

/* The primary group of @uid, by name. */
static gchar *
primary_group_of(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	struct group *gr;

	g_assert_nonnull(pw);
	gr = getgrgid(pw->pw_gid);
	g_assert_nonnull(gr);
	return g_strdup(gr->gr_name);
}

/*
 * On a system-like bus (no polkit there), a caller that is not uid 0 and not in DBusAdminGroup is
 * refused every method that changes state and may still read. As root the caller drops to uid
 * 65534, so the refusal is proven either way. Then DBusAdminGroup is reloaded to the caller's
 * primary group and the same call is allowed.
 */
static void
test_authorization(void)
{
	Fixture f = {0};
	gboolean as_root = getuid() == 0;
	uid_t caller = as_root ? NOBODY_UID : getuid();
	g_autofree gchar *group = primary_group_of(caller);
	g_autofree gchar *settings = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	static const gchar *const changing[][4] = {
	        {BUS_NAME ".CreateTopic", "orders", NULL, NULL},
	        {BUS_NAME ".DeleteTopic", "orders", "0", NULL},
	        {BUS_NAME ".RestoreTopic", "orders", NULL, NULL},
	        {BUS_NAME ".SetTopicPersist", "orders", "false", NULL},
	        {BUS_NAME ".DeleteQueue", "orders", "q", NULL},
	        {BUS_NAME ".SetQueueMessageId", "orders", "q", "1"},
	        {BUS_NAME ".SetQueueMaxMessagesPerPayload", "orders", "q", "1"},
	        {BUS_NAME ".KickSession", "1", NULL, NULL},
	};

	g_test_message("the caller runs as uid %u (primary group %s)", (guint)caller, group);
	fixture_start(&f, "--system-bus", "DBusAdminGroup: msb-test-no-such-group");
	g_assert_cmpuint(http_status(f.broker, "POST", "/api/Topics/Create?topicId=existing"), ==,
	                 200);

	for (guint i = 0; i < G_N_ELEMENTS(changing); i++) {
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(gdbus_call(f.bus, as_root, &out, &err, changing[i][0],
		                           changing[i][1], changing[i][2], changing[i][3], NULL),
		                !=, 0);
		g_assert_nonnull(strstr(err, "org.myservicebus.Broker1.Error.NotAuthorized"));
	}
	g_assert_false(topic_listed(f.broker, "orders"));
	g_assert_cmpuint(itest_broker_log_count(f.broker, "refused org.myservicebus.Broker1"), ==,
	                 G_N_ELEMENTS(changing));

	/* reads are open */
	ITEST_WAIT_FOR(msb_dbus_broker1_get_topic_count(f.manager) == 1);
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(gdbus_call(f.bus, as_root, &out, NULL,
	                           "org.freedesktop.DBus.Properties.Get", BUS_NAME, "TopicCount",
	                           NULL),
	                ==, 0);
	g_assert_cmpstr(out, ==, "(<uint32 1>,)\n");
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(gdbus_call(f.bus, as_root, &out, NULL, BUS_NAME ".ListSessions", NULL), ==,
	                0);

	/* uid 0 may */
	if (as_root) {
		g_free(gdbus_ok(f.bus, BUS_NAME ".CreateTopic", "by-root", NULL, NULL));
		g_assert_true(topic_listed(f.broker, "by-root"));
	}

	/* a member of DBusAdminGroup may (reloaded with SIGHUP) */
	settings = g_strdup_printf("DBusAdminGroup: %s", group);
	itest_broker_write_settings(f.broker, settings);
	kill(f.broker->pid, SIGHUP);
	itest_broker_wait_log(f.broker, "reload: DBusAdminGroup", 1, ITEST_TIMEOUT_MS);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(
	        gdbus_call(f.bus, as_root, &out, &err, BUS_NAME ".CreateTopic", "orders", NULL), ==,
	        0);
	g_assert_true(topic_listed(f.broker, "orders"));
	fixture_stop(&f);
}

/*
 * polkit, when it answers on the system bus, decides: this test process plays
 * org.freedesktop.PolicyKit1 on the private bus, records what the broker asks and answers as
 * told. A "no" refuses even uid 0; a "yes" admits a caller the uid rule would refuse.
 */
typedef struct {
	gboolean answer;
	guint calls;
	gchar *subject_kind;
	gchar *subject_name;
	gchar *action;
	guint32 flags;
} FakePolkit;

static const gchar fake_polkit_xml[] =
        "<node><interface name='org.freedesktop.PolicyKit1.Authority'>"
        "<method name='CheckAuthorization'>"
        "<arg type='(sa{sv})' name='subject' direction='in'/>"
        "<arg type='s' name='action_id' direction='in'/>"
        "<arg type='a{ss}' name='details' direction='in'/>"
        "<arg type='u' name='flags' direction='in'/>"
        "<arg type='s' name='cancellation_id' direction='in'/>"
        "<arg type='(bba{ss})' name='result' direction='out'/>"
        "</method></interface></node>";

static void
fake_polkit_method_cb(GDBusConnection *conn, const gchar *sender, const gchar *path,
                      const gchar *interface, const gchar *method, GVariant *params,
                      GDBusMethodInvocation *invocation, gpointer user_data)
{
	FakePolkit *polkit = user_data;
	g_autoptr(GVariant) details = NULL;
	g_autoptr(GVariant) subject_details = NULL;

	polkit->calls++;
	g_clear_pointer(&polkit->subject_kind, g_free);
	g_clear_pointer(&polkit->subject_name, g_free);
	g_clear_pointer(&polkit->action, g_free);
	g_variant_get(params, "((s@a{sv})s@a{ss}u&s)", &polkit->subject_kind, &subject_details,
	              &polkit->action, &details, &polkit->flags, NULL);
	g_variant_lookup(subject_details, "name", "s", &polkit->subject_name);
	g_dbus_method_invocation_return_value(
	        invocation, g_variant_new("((bb@a{ss}))", polkit->answer, FALSE,
	                                  g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0)));
}

static void
flag_name_acquired_cb(GDBusConnection *conn, const gchar *name, gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
}

typedef struct {
	gboolean done;
	GError *error;
} CallResult;

static void
create_topic_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	CallResult *r = user_data;

	msb_dbus_broker1_call_create_topic_finish(MSB_DBUS_BROKER1(source), NULL, result,
	                                          &r->error);
	r->done = TRUE;
}

/* CreateTopic from this process, served by the fake polkit meanwhile; the error or NULL. */
static GError *
create_topic_async(Fixture *f, const gchar *name)
{
	CallResult r = {FALSE, NULL};

	msb_dbus_broker1_call_create_topic(f->manager, name, NULL, create_topic_done_cb, &r);
	ITEST_WAIT_FOR(r.done);
	return r.error;
}

static void
test_polkit(void)
{
	Fixture f = {0};
	FakePolkit polkit = {0};
	g_autoptr(GDBusNodeInfo) info = NULL;
	g_autoptr(GError) error = NULL;
	gboolean owned = FALSE;
	guint object_id;
	guint name_id;

	fixture_start(&f, "--system-bus", "DBusAdminGroup: msb-test-no-such-group");
	info = g_dbus_node_info_new_for_xml(fake_polkit_xml, &error);
	g_assert_no_error(error);
	{
		const GDBusInterfaceVTable vtable = {fake_polkit_method_cb, NULL, NULL, {0}};
		object_id = g_dbus_connection_register_object(
		        f.conn, "/org/freedesktop/PolicyKit1/Authority", info->interfaces[0],
		        &vtable, &polkit, NULL, &error);
		g_assert_no_error(error);
	}
	name_id = g_bus_own_name_on_connection(f.conn, "org.freedesktop.PolicyKit1",
	                                       G_BUS_NAME_OWNER_FLAGS_NONE, flag_name_acquired_cb,
	                                       NULL, &owned, NULL);
	ITEST_WAIT_FOR(owned);

	/* "no": refused, whoever calls (uid 0 included) */
	polkit.answer = FALSE;
	error = create_topic_async(&f, "orders");
	g_assert_error(error, MSB_DBUS_ERROR, MSB_DBUS_ERROR_NOT_AUTHORIZED);
	g_assert_nonnull(strstr(error->message, "polkit"));
	g_clear_error(&error);
	g_assert_false(topic_listed(f.broker, "orders"));
	g_assert_cmpuint(polkit.calls, ==, 1);
	g_assert_cmpstr(polkit.subject_kind, ==, "system-bus-name");
	g_assert_cmpstr(polkit.subject_name, ==, g_dbus_connection_get_unique_name(f.conn));
	g_assert_cmpstr(polkit.action, ==, "org.myservicebus.Broker1.manage");
	g_assert_cmpuint(polkit.flags, ==, 1); /* AllowUserInteraction */

	/* "yes": allowed, also for a caller neither uid 0 nor in DBusAdminGroup */
	polkit.answer = TRUE;
	error = create_topic_async(&f, "orders");
	g_assert_no_error(error);
	g_assert_true(topic_listed(f.broker, "orders"));
	g_assert_cmpuint(polkit.calls, ==, 2);

	/* reads do not ask (a blocking call: polkit here could not answer meanwhile) */
	{
		g_autoptr(GVariant) sessions = NULL;
		g_autoptr(GVariant) count = NULL;

		msb_dbus_broker1_call_list_sessions_sync(f.manager, &sessions, NULL, &error);
		g_assert_no_error(error);
		count = g_dbus_connection_call_sync(
		        f.conn, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get",
		        g_variant_new("(ss)", BUS_NAME, "TopicCount"), G_VARIANT_TYPE("(v)"),
		        G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
		g_assert_no_error(error);
	}
	g_assert_cmpuint(polkit.calls, ==, 2);

	g_bus_unown_name(name_id);
	g_dbus_connection_unregister_object(f.conn, object_id);
	g_free(polkit.subject_kind);
	g_free(polkit.subject_name);
	g_free(polkit.action);
	fixture_stop(&f);
}

/*
 * On the session bus only its owner (the user the broker runs as) may change the broker. Another
 * uid can reach the test's private session bus only when the test runs as root; as another user
 * the owner's own calls are what test_methods() shows.
 */
static void
test_session_owner(void)
{
	Fixture f = {0};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;

	fixture_start(&f, "--session-bus", NULL);
	g_free(gdbus_ok(f.bus, BUS_NAME ".CreateTopic", "by-owner", NULL, NULL));
	if (getuid() == 0) {
		g_assert_cmpint(gdbus_call(f.bus, TRUE, &out, &err, BUS_NAME ".CreateTopic",
		                           "by-nobody", NULL),
		                !=, 0);
		g_assert_nonnull(strstr(err, "org.myservicebus.Broker1.Error.NotAuthorized"));
		g_assert_nonnull(strstr(err, "does not own this session bus"));
		g_assert_false(topic_listed(f.broker, "by-nobody"));
	}
	g_assert_true(topic_listed(f.broker, "by-owner"));
	fixture_stop(&f);
}

/* ---- D-Bus changes seen through REST, REST changes seen on D-Bus ---- */

static void
test_rest_and_dbus(void)
{
	Fixture f = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = NULL;

	fixture_start(&f, "--session-bus", NULL);
	/* D-Bus → REST */
	msb_dbus_broker1_call_create_topic_sync(f.manager, "from-dbus", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(topic_listed(f.broker, "from-dbus"));
	msb_dbus_broker1_call_set_topic_persist_sync(f.manager, "from-dbus", FALSE, NULL, &error);
	g_assert_no_error(error);
	node = status_topic_member(f.broker, "from-dbus", "persist");
	g_assert_false(json_node_get_boolean(node));
	ITEST_WAIT_FOR(msb_dbus_broker1_get_topic_count(f.manager) == 1);

	/* REST → D-Bus: the topic counts, and D-Bus acts on the topic REST made */
	g_assert_cmpuint(http_status(f.broker, "POST", "/api/Topics/Create?topicId=from-rest"), ==,
	                 200);
	ITEST_WAIT_FOR(msb_dbus_broker1_get_topic_count(f.manager) == 2);
	g_assert_cmpuint(http_status(f.broker, "DELETE",
	                             "/api/Topics/Delete?topicId=from-rest&hardDeleteMoment="
	                             "2100-01-01T00:00:00Z"),
	                 <, 300);
	{
		g_autoptr(GError) e = NULL;
		g_assert_false(msb_dbus_broker1_call_create_topic_sync(f.manager, "from-rest", NULL,
		                                                       NULL, &e));
		g_assert_error(e, MSB_DBUS_ERROR, MSB_DBUS_ERROR_TOPIC_DELETED);
	}
	msb_dbus_broker1_call_restore_topic_sync(f.manager, "from-rest", NULL, &error);
	g_assert_no_error(error);
	fixture_stop(&f);
}

/* ---- the topic and queue objects (msb-dbus-objects) in the real broker ---- */

static void
tree_signal_cb(GDBusConnection *conn, const gchar *sender, const gchar *path, const gchar *iface,
               const gchar *member, GVariant *params, gpointer user_data)
{
	GPtrArray *signals = user_data;
	g_autofree gchar *args = g_variant_print(params, FALSE);

	g_ptr_array_add(signals, g_strdup_printf("%s %s", member, args));
}

static gboolean
tree_has_object(GDBusObjectManager *client, const gchar *path)
{
	g_autoptr(GDBusObject) object = g_dbus_object_manager_get_object(client, path);
	return object != NULL;
}

static gboolean
tree_has_signal(GPtrArray *signals, const gchar *text)
{
	for (guint i = 0; i < signals->len; i++) {
		if (g_strcmp0(g_ptr_array_index(signals, i), text) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Topics and queues made by REST and clients appear as objects (also to `gdbus introspect
 * --recurse`) with the manager's signals, their properties follow, and they go when deleted over
 * D-Bus. */
static void
test_object_tree(void)
{
	Fixture f = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusObjectManager) client = NULL;
	g_autoptr(GPtrArray) signals = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(ItestRaw) raw = NULL;
	g_autofree gchar *out = NULL;
	gint status = -1;
	guint sub;
	const gchar *const contents[] = {"a", "b"};
	const gchar *topic_path = MANAGER_PATH "/topic/from_2drest";
	const gchar *queue_path = MANAGER_PATH "/topic/from_2drest/queue/a_2eb_2dc";
	MsbDbusBroker1Topic *topic;

	fixture_start(&f, "--session-bus", NULL);
	sub = g_dbus_connection_signal_subscribe(f.conn, BUS_NAME, "org.myservicebus.Broker1", NULL,
	                                         MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
	                                         tree_signal_cb, signals, NULL);
	client = msb_dbus_object_manager_client_new_sync(
	        f.conn, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, BUS_NAME,
	        MANAGER_PATH, NULL, &error);
	g_assert_no_error(error);

	g_assert_cmpuint(http_status(f.broker, "POST", "/api/Topics/Create?topicId=from-rest"), ==,
	                 200);
	ITEST_WAIT_FOR(tree_has_object(client, topic_path));
	ITEST_WAIT_FOR(tree_has_signal(signals, "TopicCreated ('from-rest', '" MANAGER_PATH
	                                        "/topic/from_2drest')"));
	raw = dtest_connect(f.broker, "tree-app");
	itest_raw_subscribe(raw, "from-rest", "a.b-c", MSB_QUEUE_TYPE_PERMANENT);
	ITEST_WAIT_FOR(tree_has_object(client, queue_path));
	ITEST_WAIT_FOR(tree_has_signal(signals, "QueueCreated ('from-rest', 'a.b-c', '" MANAGER_PATH
	                                        "/topic/from_2drest/queue/a_2eb_2dc')"));

	/* the properties follow within a second or two */
	itest_raw_publish(raw, "from-rest", 1, contents, 2, FALSE);
	itest_raw_expect_publish_response(raw, 1);
	{
		g_autoptr(GDBusObject) object =
		        g_dbus_object_manager_get_object(client, topic_path);
		topic = msb_dbus_object_get_broker1_topic(MSB_DBUS_OBJECT(object));
	}
	ITEST_WAIT_FOR(msb_dbus_broker1_topic_get_message_id(topic) == 2);
	ITEST_WAIT_FOR(msb_dbus_broker1_topic_get_queue_count(topic) == 1);

	/* what an administrator sees with gdbus */
	g_assert_true(
	        g_spawn_sync(NULL,
	                     (gchar *[]){"gdbus", "introspect", "--address",
	                                 (gchar *)itest_bus_get_address(f.bus), "--dest", BUS_NAME,
	                                 "--object-path", MANAGER_PATH, "--recurse", NULL},
	                     NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_nonnull(strstr(out, "node /org/myservicebus/Broker1/topic/from_2drest {"));
	g_assert_nonnull(strstr(out, "readonly x MessageId = 2;"));
	g_assert_nonnull(
	        strstr(out, "node /org/myservicebus/Broker1/topic/from_2drest/queue/a_2eb_2dc {"));
	g_assert_nonnull(strstr(out, "readonly s QueueType = 'Permanent';"));

	/* deleted over D-Bus: the queue at once, the topic at its (past) moment */
	msb_dbus_broker1_call_delete_queue_sync(f.manager, "from-rest", "a.b-c", NULL, &error);
	g_assert_no_error(error);
	ITEST_WAIT_FOR(!tree_has_object(client, queue_path));
	ITEST_WAIT_FOR(tree_has_signal(signals, "QueueDeleted ('from-rest', 'a.b-c')"));
	msb_dbus_broker1_call_delete_topic_sync(f.manager, "from-rest", 0, NULL, &error);
	g_assert_no_error(error);
	ITEST_WAIT_FOR(tree_has_signal(signals, "TopicDeleted ('from-rest', 1)"));
	ITEST_WAIT_FOR(!tree_has_object(client, topic_path));
	g_object_unref(topic);

	/* sessions */
	g_clear_pointer(&raw, itest_raw_free);
	ITEST_WAIT_FOR(signals->len > 0 &&
	               g_str_has_prefix(g_ptr_array_index(signals, signals->len - 1),
	                                "SessionDisconnected ("));
	g_assert_true(
	        g_str_has_suffix(g_ptr_array_index(signals, signals->len - 1), ", 'tree-app')"));
	g_dbus_connection_signal_unsubscribe(f.conn, sub);
	fixture_stop(&f);
}

/* ---- the persistence state ---- */

static void
test_persistence_state(void)
{
	Fixture f = {0};
	PtestService *ps = ptest_service_new();
	g_autoptr(ItestRaw) raw = NULL;

	ptest_service_start(ps, 0);
	fixture_start_broker(&f, "--session-bus", dtest_broker_new(ps, NULL));
	/* the version comes with the service's answer to a later call than the one that connects */
	ITEST_WAIT_FOR(g_strcmp0(msb_dbus_broker1_get_persistence_state(f.manager), "connected") ==
	                       0 &&
	               g_strcmp0(msb_dbus_broker1_get_persistence_version(f.manager), "") != 0);

	/* the service goes: a save fails and the state says so */
	ptest_service_stop(ps, SIGKILL);
	raw = dtest_connect(f.broker, "pub");
	itest_raw_create_topic(raw, "orders");
	itest_raw_sync(raw);
	dtest_publish(raw, "orders", 1, "m", 0, 1, 8, TRUE);
	ITEST_WAIT_FOR(
	        g_strcmp0(msb_dbus_broker1_get_persistence_state(f.manager), "unavailable") == 0);
	g_clear_pointer(&raw, itest_raw_free);
	/* a stop would wait for the unsaved message */
	itest_broker_kill(f.broker);
	fixture_stop(&f);
	ptest_service_free(ps);
}

/* ---- no bus, and a bus that goes and comes back ---- */

static void
test_no_bus(void)
{
	g_autoptr(ItestBus) bus = itest_bus_new();
	ItestBroker *b = itest_broker_new(NULL);
	g_autofree gchar *missing = g_strdup_printf("%s-missing", itest_bus_get_address(bus));
	g_autoptr(ItestRaw) raw = NULL;

	b->capture_log = TRUE;
	b->dbus_option = "--session-bus";
	broker_spawn_on(b, "--session-bus", missing);
	itest_broker_wait_ready(b, 0, ITEST_TIMEOUT_MS);
	/* messages are served */
	raw = connect_as(b, "client");
	itest_raw_create_topic(raw, "orders");
	itest_raw_sync(raw);
	g_assert_true(topic_listed(b, "orders"));
	/* it keeps trying, quietly: one warning however many attempts */
	itest_broker_wait_log(b, "the session bus is still not available", 1, ITEST_TIMEOUT_MS);
	g_assert_cmpuint(itest_broker_log_count(b, "WARNING"), ==, 2);
	g_assert_cmpuint(itest_broker_log_count(b, "D-Bus: the session bus is not available"), ==,
	                 1);
	itest_raw_ping(raw);
	itest_raw_sync(raw);
	g_clear_pointer(&raw, itest_raw_free);
	itest_broker_free(b);
}

static void
test_bus_restart(void)
{
	Fixture f = {0};
	g_autoptr(ItestRaw) raw = NULL;
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;

	fixture_start(&f, "--session-bus", NULL);
	raw = connect_as(f.broker, "client");
	g_clear_object(&f.manager);
	g_clear_object(&f.conn);
	itest_bus_kill(f.bus);
	itest_broker_wait_log(f.broker, "lost the connection to the session bus", 1,
	                      ITEST_TIMEOUT_MS);
	/* message service goes on */
	itest_raw_create_topic(raw, "orders");
	itest_raw_sync(raw);
	g_assert_true(topic_listed(f.broker, "orders"));

	itest_bus_restart(f.bus);
	f.conn = itest_bus_connect(f.bus);
	ITEST_WAIT_FOR_MS(name_has_owner(f.conn), 20000);
	manager = msb_dbus_broker1_proxy_new_sync(f.conn, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME,
	                                          MANAGER_PATH, NULL, &error);
	g_assert_no_error(error);
	msb_dbus_broker1_call_create_topic_sync(manager, "after-restart", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(topic_listed(f.broker, "after-restart"));
	g_assert_cmpuint(itest_broker_log_count(f.broker, "connected to the session bus again"), ==,
	                 1);
	fixture_stop(&f);
}

/* The name owned by another process: logged, messages served, the name taken once released. */
static void
test_name_taken(void)
{
	Fixture f = {0};
	gboolean owned = FALSE;
	guint name_id;
	g_autoptr(GError) error = NULL;

	f.bus = itest_bus_new();
	f.conn = itest_bus_connect(f.bus);
	name_id = g_bus_own_name_on_connection(f.conn, BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
	                                       flag_name_acquired_cb, NULL, &owned, NULL);
	ITEST_WAIT_FOR(owned);

	f.broker = itest_broker_new(NULL);
	f.broker->capture_log = TRUE;
	f.broker->dbus_option = "--session-bus";
	broker_spawn_on(f.broker, "--session-bus", itest_bus_get_address(f.bus));
	itest_broker_wait_ready(f.broker, 0, ITEST_TIMEOUT_MS);
	itest_broker_wait_log(f.broker, "is owned by another process", 1, ITEST_TIMEOUT_MS);
	g_assert_cmpuint(http_status(f.broker, "POST", "/api/Topics/Create?topicId=orders"), ==,
	                 200);

	g_bus_unown_name(name_id);
	itest_broker_wait_log(f.broker, "D-Bus: " BUS_NAME " on the session bus", 1,
	                      ITEST_TIMEOUT_MS);
	f.manager = msb_dbus_broker1_proxy_new_sync(f.conn, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME,
	                                            MANAGER_PATH, NULL, &error);
	g_assert_no_error(error);
	msb_dbus_broker1_call_create_topic_sync(f.manager, "via-dbus", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(topic_listed(f.broker, "via-dbus"));
	fixture_stop(&f);
}

/* ---- the command line ---- */

static void
test_options(void)
{
	const gchar *argv[] = {g_getenv("MSB_BROKER"), "--no-dbus", "--session-bus", NULL};
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ItestBus) bus = itest_bus_new();
	g_autoptr(GDBusConnection) conn = NULL;
	ItestBroker *b;
	gint status = 0;

	/* the bus options exclude each other */
	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
	             &status, &error);
	g_assert_no_error(error);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 2);
	g_assert_nonnull(strstr(err, "exclude each other"));

	/* started by systemd ($INVOCATION_ID), without an option: the system bus */
	b = itest_broker_new(NULL);
	b->dbus_option = "";
	g_setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", TRUE);
	broker_spawn_on(b, "--system-bus", itest_bus_get_address(bus));
	g_unsetenv("INVOCATION_ID");
	itest_broker_wait_ready(b, 0, ITEST_TIMEOUT_MS);
	conn = itest_bus_connect(bus);
	ITEST_WAIT_FOR(name_has_owner(conn));
	g_dbus_connection_close_sync(conn, NULL, NULL);
	itest_broker_free(b);
}

int
main(int argc, char **argv)
{
	dtest_init(&argc, &argv);
	/* registered here too: this client sees the broker's errors as MSB_DBUS_ERROR codes */
	g_assert_cmpuint(MSB_DBUS_ERROR, !=, 0);
	g_test_add_func("/dbus/properties", test_properties);
	g_test_add_func("/dbus/methods", test_methods);
	g_test_add_func("/dbus/errors", test_errors);
	g_test_add_func("/dbus/authorization", test_authorization);
	g_test_add_func("/dbus/polkit", test_polkit);
	g_test_add_func("/dbus/session-owner", test_session_owner);
	g_test_add_func("/dbus/rest-and-dbus", test_rest_and_dbus);
	g_test_add_func("/dbus/object-tree", test_object_tree);
	g_test_add_func("/dbus/persistence-state", test_persistence_state);
	g_test_add_func("/dbus/no-bus", test_no_bus);
	g_test_add_func("/dbus/bus-restart", test_bus_restart);
	g_test_add_func("/dbus/name-taken", test_name_taken);
	g_test_add_func("/dbus/options", test_options);
	{
		gint rc = g_test_run();
		ptest_shutdown();
		return rc;
	}
}
