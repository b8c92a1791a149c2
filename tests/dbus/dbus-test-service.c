/*
 * A stand-in for the broker on a test bus: owns org.myservicebus.Broker1 and exports the
 * generated manager skeleton through an object manager at /org/myservicebus/Broker1, so that
 * check-dbus-policy.sh can prove what the system bus policy lets clients do without the real
 * broker (whose D-Bus adapter is tested on its own). CreateTopic exports a topic object,
 * ListSessions answers an empty list; nothing else is implemented.
 *
 * Usage: dbus-test-service BUS_ADDRESS READY_FILE
 * Writes READY_FILE once the name is owned; exits 0 on SIGTERM, 1 when the name is refused or
 * lost.
 */
#define G_LOG_DOMAIN "dbus-test-service"

#include <glib-unix.h>
#include <gio/gio.h>

#include "msb-dbus-generated.h"

#define MSB_DBUS_NAME "org.myservicebus.Broker1"
#define MSB_DBUS_PATH "/org/myservicebus/Broker1"

typedef struct {
	GMainLoop *loop;
	GDBusObjectManagerServer *server;
	const gchar *ready_file;
	gint status;
} Service;

static gboolean
on_create_topic(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation, const gchar *name,
                gpointer user_data)
{
	Service *self = user_data;
	g_autofree gchar *escaped = g_dbus_escape_object_path(name);
	g_autofree gchar *path = g_strdup_printf(MSB_DBUS_PATH "/topic/%s", escaped);
	g_autoptr(MsbDbusObjectSkeleton) object = msb_dbus_object_skeleton_new(path);
	g_autoptr(MsbDbusBroker1Topic) topic = msb_dbus_broker1_topic_skeleton_new();

	msb_dbus_broker1_topic_set_name(topic, name);
	msb_dbus_object_skeleton_set_broker1_topic(object, topic);
	g_dbus_object_manager_server_export(self->server, G_DBUS_OBJECT_SKELETON(object));
	msb_dbus_broker1_complete_create_topic(manager, invocation, path);
	return TRUE;
}

static gboolean
on_list_sessions(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation, gpointer user_data)
{
	msb_dbus_broker1_complete_list_sessions(
	        manager, invocation, g_variant_new_array(G_VARIANT_TYPE_VARDICT, NULL, 0));
	return TRUE;
}

static void
on_name_acquired(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	Service *self = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_file_set_contents(self->ready_file, "owned\n", -1, &error)) {
		g_printerr("dbus-test-service: %s\n", error->message);
		self->status = 1;
		g_main_loop_quit(self->loop);
	}
}

static void
on_name_lost(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	Service *self = user_data;

	g_printerr("dbus-test-service: could not own %s (refused by the bus policy or lost)\n",
	           name);
	self->status = 1;
	g_main_loop_quit(self->loop);
}

static gboolean
on_sigterm(gpointer user_data)
{
	Service *self = user_data;
	g_main_loop_quit(self->loop);
	return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
	Service self = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	guint owner_id;

	if (argc != 3) {
		g_printerr("usage: %s BUS_ADDRESS READY_FILE\n", argv[0]);
		return 2;
	}
	connection = g_dbus_connection_new_for_address_sync(
	        argv[1],
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);
	if (connection == NULL) {
		g_printerr("dbus-test-service: cannot connect to %s: %s\n", argv[1],
		           error->message);
		return 1;
	}
	loop = g_main_loop_new(NULL, FALSE);
	self.loop = loop;
	self.ready_file = argv[2];
	self.server = g_dbus_object_manager_server_new(MSB_DBUS_PATH);

	manager = msb_dbus_broker1_skeleton_new();
	msb_dbus_broker1_set_version(manager, "test");
	g_signal_connect(manager, "handle-create-topic", G_CALLBACK(on_create_topic), &self);
	g_signal_connect(manager, "handle-list-sessions", G_CALLBACK(on_list_sessions), &self);
	/* an object manager only exports objects below its own path: the manager interface is
	 * exported on the connection beside it */
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(manager), connection,
	                                      MSB_DBUS_PATH, &error)) {
		g_printerr("dbus-test-service: cannot export the manager: %s\n", error->message);
		return 1;
	}
	g_dbus_object_manager_server_set_connection(self.server, connection);

	g_unix_signal_add(SIGTERM, on_sigterm, &self);
	owner_id = g_bus_own_name_on_connection(connection, MSB_DBUS_NAME,
	                                        G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
	                                        on_name_acquired, on_name_lost, &self, NULL);
	g_main_loop_run(loop);

	g_bus_unown_name(owner_id);
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(manager));
	g_dbus_object_manager_server_set_connection(self.server, NULL);
	g_object_unref(self.server);
	return self.status;
}
