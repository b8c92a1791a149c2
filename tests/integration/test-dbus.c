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

#include "itest.h"
#include "msb-config.h"
#include "msb-dbus-error.h"
#include "msb-dbus-generated.h"

#define BUS_NAME     "org.myservicebus.Broker1"
#define MANAGER_PATH "/org/myservicebus/Broker1"
/* the user an unauthorized caller runs as when the test runs as root */
#define NOBODY_UID 65534

/* ---- the private bus ---- */

typedef struct {
	gchar *dir;
	gchar *socket_path;
	gchar *address;
	gchar *config_path;
	GPid pid;
} Bus;

static void
bus_child_setup(gpointer user_data)
{
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void
bus_spawn(Bus *bus)
{
	const gchar *argv[] = {"dbus-daemon", "--nofork", NULL, NULL};
	g_autofree gchar *config_arg = g_strdup_printf("--config-file=%s", bus->config_path);
	g_autoptr(GError) error = NULL;

	argv[2] = config_arg;
	(void)g_unlink(bus->socket_path);
	/* its stderr (a warning about the open files limit when run as root) is not ours */
	g_spawn_async(NULL, (gchar **)argv, NULL,
	              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
	              bus_child_setup, NULL, &bus->pid, &error);
	g_assert_no_error(error);
	ITEST_WAIT_FOR(g_file_test(bus->socket_path, G_FILE_TEST_EXISTS));
}

/* A session-like bus that lets every user connect (the unauthorized caller is another uid). */
static Bus *
bus_start(void)
{
	Bus *bus = g_new0(Bus, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *config = NULL;

	bus->dir = g_dir_make_tmp("msb-dbus-XXXXXX", &error);
	g_assert_no_error(error);
	/* the unauthorized caller (uid 65534 when run as root) must reach the socket */
	g_assert_cmpint(g_chmod(bus->dir, 0711), ==, 0);
	bus->socket_path = g_build_filename(bus->dir, "bus", NULL);
	bus->address = g_strdup_printf("unix:path=%s", bus->socket_path);
	bus->config_path = g_build_filename(bus->dir, "bus.conf", NULL);
	config = g_strdup_printf(
	        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
	        "1.0//EN\"\n"
	        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	        "<busconfig>\n"
	        "  <type>session</type>\n"
	        "  <listen>%s</listen>\n"
	        "  <auth>EXTERNAL</auth>\n"
	        "  <policy context=\"default\">\n"
	        "    <allow user=\"*\"/>\n"
	        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
	        "    <allow eavesdrop=\"true\"/>\n"
	        "    <allow own=\"*\"/>\n"
	        "  </policy>\n"
	        "</busconfig>\n",
	        bus->address);
	g_file_set_contents(bus->config_path, config, -1, &error);
	g_assert_no_error(error);
	bus_spawn(bus);
	return bus;
}

static void
bus_kill(Bus *bus)
{
	gint status = 0;

	if (bus->pid == 0)
		return;
	kill(bus->pid, SIGKILL);
	(void)waitpid(bus->pid, &status, 0);
	g_spawn_close_pid(bus->pid);
	bus->pid = 0;
}

static void
bus_free(Bus *bus)
{
	bus_kill(bus);
	(void)g_unlink(bus->socket_path);
	(void)g_unlink(bus->config_path);
	(void)g_rmdir(bus->dir);
	g_free(bus->dir);
	g_free(bus->socket_path);
	g_free(bus->address);
	g_free(bus->config_path);
	g_free(bus);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Bus, bus_free)

static GDBusConnection *
bus_connect(Bus *bus)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *conn = g_dbus_connection_new_for_address_sync(
	        bus->address,
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);

	g_assert_no_error(error);
	g_dbus_connection_set_exit_on_close(conn, FALSE);
	return conn;
}

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
	Bus *bus;
	ItestBroker *broker;
	GDBusConnection *conn;
	MsbDbusBroker1 *manager; /* a proxy */
} Fixture;

/* @option "--session-bus" or "--system-bus": the bus's address goes into the variable that
 * option reads. */
static void
fixture_start(Fixture *f, const gchar *option, const gchar *settings)
{
	g_autoptr(GError) error = NULL;

	f->bus = bus_start();
	f->broker = itest_broker_new(settings);
	f->broker->dbus_option = option;
	f->broker->capture_log = TRUE;
	broker_spawn_on(f->broker, option, f->bus->address);
	itest_broker_wait_ready(f->broker, 0, ITEST_TIMEOUT_MS);
	f->conn = bus_connect(f->bus);
	ITEST_WAIT_FOR(name_has_owner(f->conn));
	f->manager = msb_dbus_broker1_proxy_new_sync(f->conn, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME,
	                                             MANAGER_PATH, NULL, &error);
	g_assert_no_error(error);
}

static void
fixture_stop(Fixture *f)
{
	g_clear_object(&f->manager);
	if (f->conn != NULL)
		g_dbus_connection_close_sync(f->conn, NULL, NULL);
	g_clear_object(&f->conn);
	g_clear_pointer(&f->broker, itest_broker_free);
	g_clear_pointer(&f->bus, bus_free);
}

static guint
http_status(ItestBroker *b, const gchar *method, const gchar *path)
{
	guint status = 0;
	g_autofree gchar *body = itest_broker_http(b, method, path, NULL, NULL, NULL, &status);

	return status;
}

/* ---- gdbus call ---- */

/* `gdbus call` on the manager as the test's user, or as uid 65534 when @as_nobody (which only
 * root can do); its exit status, stdout and stderr. */
static gint
gdbus_call(Bus *bus, gboolean as_nobody, gchar **out, gchar **err, const gchar *method, ...)
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
	g_ptr_array_add(argv, bus->address);
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
gdbus_ok(Bus *bus, const gchar *method, const gchar *arg1, const gchar *arg2, const gchar *arg3)
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

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	g_test_add_func("/dbus/properties", test_properties);
	return g_test_run();
}
