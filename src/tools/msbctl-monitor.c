/*
 * msbctl monitor: print the broker's signals, the property changes of the broker, its topics and
 * queues, objects as they come and go, and the broker joining or leaving the bus, one line per
 * event as it arrives, until Ctrl-C (or --count events). The manager's proxy brings the signals
 * and its properties; the generated object manager client brings the topic and queue objects and
 * their PropertiesChanged. Lines are rendered by msbctl-event.c.
 */
#define G_LOG_DOMAIN "msbctl"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>

#include "msbctl-admin.h"
#include "msbctl-event.h"

typedef struct {
	MsbctlAdmin admin;
	GMainLoop *loop;
	GTimeZone *tz;
	gint64 remaining; /* events still to print; < 0: no limit */
	gchar *owner;     /* the broker's unique name as last printed, NULL: not on the bus */
	int status;
} MsbctlMonitor;

static void
msbctl_monitor_emit(MsbctlMonitor *self, MsbctlEvent *event)
{
	g_autofree gchar *line = NULL;

	if (self->remaining == 0)
		return;
	event->time_us = g_get_real_time();
	line = msbctl_event_render(event, self->admin.json, self->tz);
	fputs(line, stdout);
	fflush(stdout);
	if (self->remaining > 0 && --self->remaining == 0)
		g_main_loop_quit(self->loop);
}

/* The topic and queue names of an object of the tree; FALSE for other objects (the manager). */
static gboolean
msbctl_monitor_subject(GDBusObject *object, const gchar **topic, const gchar **queue)
{
	MsbDbusBroker1Topic *t = msb_dbus_object_peek_broker1_topic(MSB_DBUS_OBJECT(object));
	MsbDbusBroker1Queue *q = msb_dbus_object_peek_broker1_queue(MSB_DBUS_OBJECT(object));

	if (q != NULL) {
		*topic = msb_dbus_broker1_queue_get_topic(q);
		*queue = msb_dbus_broker1_queue_get_name(q);
		return *topic != NULL && *queue != NULL;
	}
	if (t != NULL) {
		*topic = msb_dbus_broker1_topic_get_name(t);
		*queue = NULL;
		return *topic != NULL;
	}
	return FALSE;
}

static void
msbctl_monitor_signal_cb(GDBusProxy *proxy, const gchar *sender, const gchar *signal_name,
                         GVariant *parameters, gpointer user_data)
{
	MsbctlMonitor *self = user_data;
	GDBusInterfaceInfo *info = g_dbus_proxy_get_interface_info(proxy);
	GDBusSignalInfo *signal_info =
	        info != NULL ? g_dbus_interface_info_lookup_signal(info, signal_name) : NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	MsbctlEvent event = {MSBCTL_EVENT_SIGNAL};

	for (guint i = 0; signal_info != NULL && signal_info->args[i] != NULL; i++)
		g_ptr_array_add(names, signal_info->args[i]->name);
	g_ptr_array_add(names, NULL);
	event.name = signal_name;
	event.values = parameters;
	event.arg_names = (const gchar *const *)names->pdata;
	msbctl_monitor_emit(self, &event);
}

static void
msbctl_monitor_manager_changed_cb(GDBusProxy *proxy, GVariant *changed,
                                  const gchar *const *invalidated, gpointer user_data)
{
	MsbctlEvent event = {MSBCTL_EVENT_CHANGED};

	event.object_path = g_dbus_proxy_get_object_path(proxy);
	event.values = changed;
	event.invalidated = invalidated;
	msbctl_monitor_emit(user_data, &event);
}

static void
msbctl_monitor_object_changed_cb(GDBusObjectManagerClient *manager, GDBusObjectProxy *object,
                                 GDBusProxy *interface, GVariant *changed,
                                 const gchar *const *invalidated, gpointer user_data)
{
	MsbctlEvent event = {MSBCTL_EVENT_CHANGED};

	/* the manager's own changes come through its proxy */
	if (!msbctl_monitor_subject(G_DBUS_OBJECT(object), &event.topic, &event.queue))
		return;
	event.object_path = g_dbus_object_get_object_path(G_DBUS_OBJECT(object));
	event.values = changed;
	event.invalidated = invalidated;
	msbctl_monitor_emit(user_data, &event);
}

static void
msbctl_monitor_object(MsbctlMonitor *self, GDBusObject *object, MsbctlEventKind kind)
{
	MsbctlEvent event = {kind};

	if (!msbctl_monitor_subject(object, &event.topic, &event.queue))
		return;
	event.object_path = g_dbus_object_get_object_path(object);
	msbctl_monitor_emit(self, &event);
}

static void
msbctl_monitor_added_cb(GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
	msbctl_monitor_object(user_data, object, MSBCTL_EVENT_ADDED);
}

static void
msbctl_monitor_removed_cb(GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
	msbctl_monitor_object(user_data, object, MSBCTL_EVENT_REMOVED);
}

static void
msbctl_monitor_owner_cb(GObject *manager, GParamSpec *pspec, gpointer user_data)
{
	MsbctlMonitor *self = user_data;
	g_autofree gchar *owner =
	        g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(manager));
	MsbctlEvent event = {owner != NULL ? MSBCTL_EVENT_APPEARED : MSBCTL_EVENT_VANISHED};

	/* the client notifies "no owner" on its way from one owner to the next, even from none */
	if (g_strcmp0(owner, self->owner) == 0)
		return;
	g_free(self->owner);
	self->owner = g_strdup(owner);
	event.name = owner;
	msbctl_monitor_emit(self, &event);
}

static void
msbctl_monitor_closed_cb(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                         gpointer user_data)
{
	MsbctlMonitor *self = user_data;

	if (error != NULL)
		g_printerr(_("%s: the %s bus closed the connection: %s\n"), g_get_prgname(),
		           msbctl_admin_bus_label(&self->admin), error->message);
	else
		g_printerr(_("%s: the %s bus closed the connection\n"), g_get_prgname(),
		           msbctl_admin_bus_label(&self->admin));
	self->status = MSBCTL_EXIT_UNREACHABLE;
	g_main_loop_quit(self->loop);
}

static gboolean
msbctl_monitor_quit_cb(gpointer user_data)
{
	MsbctlMonitor *self = user_data;
	g_main_loop_quit(self->loop);
	return G_SOURCE_CONTINUE;
}

int
msbctl_monitor_run(int argc, char **argv)
{
	MsbctlMonitor self = {0};
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GDBusObjectManager) objects = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autoptr(GTimeZone) tz = g_time_zone_new_local();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *owner = NULL;
	gint count = 0;
	guint sigint_id;
	guint sigterm_id;
	int status;
	const GOptionEntry entries[] = {
	        {"count", 'n', 0, G_OPTION_ARG_INT, &count,
	         N_("Exit after N events (default: run until interrupted)"), "N"},
	        {NULL},
	};

	status = msbctl_admin_parse(
	        &self.admin, &argc, &argv, NULL,
	        N_("Print the broker's events as they come, one line each, until Ctrl-C:\n"
	           "  signal    TopicCreated, TopicDeleted, QueueCreated, QueueDeleted,\n"
	           "            SessionConnected, SessionDisconnected, with their arguments\n"
	           "  changed   property changes of the broker, a topic or a queue (at most one\n"
	           "            line per object per second)\n"
	           "  added, removed   a topic or queue object appeared or went\n"
	           "  broker-appeared, broker-vanished   the broker joined or left the bus\n"
	           "With --json, one JSON object per line. A broker that is not on the bus yet "
	           "is\n"
	           "waited for."),
	        entries, TRUE, 0);
	if (status != MSBCTL_EXIT_OK)
		return status;
	if (count < 0) {
		g_printerr(_("%s: --count must not be negative\n"), g_get_prgname());
		return MSBCTL_EXIT_USAGE;
	}
	connection = msbctl_admin_connect(&self.admin, &status);
	if (connection == NULL)
		return status;

	loop = g_main_loop_new(NULL, FALSE);
	self.loop = loop;
	self.tz = tz;
	self.remaining = count > 0 ? count : -1;
	self.status = MSBCTL_EXIT_OK;

	manager =
	        msb_dbus_broker1_proxy_new_sync(connection, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
	                                        MSBCTL_BUS_NAME, MSBCTL_MANAGER_PATH, NULL, &error);
	if (manager == NULL)
		return msbctl_admin_report(error);
	objects = msb_dbus_object_manager_client_new_sync(
	        connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, MSBCTL_BUS_NAME,
	        MSBCTL_MANAGER_PATH, NULL, &error);
	if (objects == NULL)
		return msbctl_admin_report(error);

	g_signal_connect(manager, "g-signal", G_CALLBACK(msbctl_monitor_signal_cb), &self);
	g_signal_connect(manager, "g-properties-changed",
	                 G_CALLBACK(msbctl_monitor_manager_changed_cb), &self);
	g_signal_connect(objects, "interface-proxy-properties-changed",
	                 G_CALLBACK(msbctl_monitor_object_changed_cb), &self);
	g_signal_connect(objects, "object-added", G_CALLBACK(msbctl_monitor_added_cb), &self);
	g_signal_connect(objects, "object-removed", G_CALLBACK(msbctl_monitor_removed_cb), &self);
	g_signal_connect(objects, "notify::name-owner", G_CALLBACK(msbctl_monitor_owner_cb), &self);
	g_signal_connect(connection, "closed", G_CALLBACK(msbctl_monitor_closed_cb), &self);

	owner = g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(objects));
	self.owner = g_strdup(owner);
	/* tests and scripts wait for this line: from here on no event is missed; so it stays
	 * untranslated, as do the event lines (msbctl-event.c) */

	g_printerr("%s: watching %s on the %s bus%s; Ctrl-C stops\n", g_get_prgname(),
	           MSBCTL_BUS_NAME, msbctl_admin_bus_label(&self.admin),
	           owner != NULL ? "" : " (not there yet: waiting for it)");

	sigint_id = g_unix_signal_add(SIGINT, msbctl_monitor_quit_cb, &self);
	sigterm_id = g_unix_signal_add(SIGTERM, msbctl_monitor_quit_cb, &self);
	g_main_loop_run(loop);
	g_source_remove(sigint_id);
	g_source_remove(sigterm_id);
	g_signal_handlers_disconnect_by_data(manager, &self);
	g_signal_handlers_disconnect_by_data(objects, &self);
	g_signal_handlers_disconnect_by_data(connection, &self);
	g_free(self.owner);
	return self.status;
}
