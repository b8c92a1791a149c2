/*
 * my-service-bus: command line, settings, logging set-up and the main loop.
 *
 * Under systemd (Type=notify, msb-sd-notify.h) the broker says READY=1 once clients are served,
 * i.e. after the restore from persistence, with STATUS= lines before (what it waits for) and
 * after (what it serves); RELOADING=1 … READY=1 around a SIGHUP reload; STOPPING=1 when the
 * graceful shutdown starts; and it answers the watchdog from the main loop.
 */
#define G_LOG_DOMAIN "my-service-bus"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdlib.h>

#include "msb-config-diff.h"
#include "msb-config.h"
#include "msb-i18n.h"
#include "msb-os-limits.h"
#include "msb-sd-notify.h"
#include "msb-server.h"
#include "msb-settings.h"

typedef struct {
	GMainLoop *loop;
	MsbServer *server;
	gboolean stopping;
	gboolean serving; /* clients are served (READY=1 was sent) */
	gchar *status;    /* the last STATUS= line while serving */
	guint status_id;
	const gchar *ready_file;
	/* for SIGHUP: the file read at start (NULL: the default search) and what the command line
	 * set, which a reload keeps */
	const gchar *settings_path;
	MsbSettings *settings;
	gboolean verbose;
	gboolean override_tcp_port;
	gboolean override_http_port;
	gboolean override_listen_address;
	gboolean override_unix_socket;
} MsbMain;

/* A reloaded file keeps what the command line overrode: those values are the current ones. */
static void
msb_main_keep_overrides(MsbMain *self, MsbSettings *loaded)
{
	if (self->override_tcp_port)
		loaded->tcp_port = self->settings->tcp_port;
	if (self->override_http_port)
		loaded->http_port = self->settings->http_port;
	if (self->override_listen_address) {
		g_free(loaded->listen_address);
		loaded->listen_address = g_strdup(self->settings->listen_address);
	}
	if (self->override_unix_socket) {
		g_free(loaded->listen_unix_socket);
		loaded->listen_unix_socket = g_strdup(self->settings->listen_unix_socket);
	}
}

/* The STATUS= line while clients are served. */
static gchar *
msb_main_serving_status(MsbMain *self)
{
	guint n = msb_server_get_connection_count(self->server);

	return g_strdup_printf("Serving clients on %s:%u: %u connection%s",
	                       self->settings->listen_address,
	                       msb_server_get_tcp_port(self->server), n, n == 1 ? "" : "s");
}

/* Keep the STATUS= line current (sent only when it changes). */
static gboolean
msb_main_status_cb(gpointer user_data)
{
	MsbMain *self = user_data;
	g_autofree gchar *status = NULL;

	if (self->stopping)
		return G_SOURCE_CONTINUE;
	status = msb_main_serving_status(self);
	if (g_strcmp0(status, self->status) != 0) {
		msb_sd_notify_status("%s", status);
		g_free(self->status);
		self->status = g_steal_pointer(&status);
	}
	return G_SOURCE_CONTINUE;
}

/* READY=1, at the start once clients are served and after each reload. */
static void
msb_main_notify_ready(MsbMain *self)
{
	g_free(self->status);
	self->status = msb_main_serving_status(self);
	msb_sd_notify_ready("%s", self->status);
}

/* SIGHUP: read the settings file again and apply what can change at run time; a file with an
 * error changes nothing. */
static gboolean
msb_main_reload_cb(gpointer user_data)
{
	MsbMain *self = user_data;
	g_autoptr(MsbSettings) loaded = NULL;
	g_autoptr(GPtrArray) changes = NULL;
	g_autoptr(GError) error = NULL;

	/* before READY=1 (restoring) systemd queues a reload until the start is done: nothing to
	 * say, and a READY=1 after it would announce clients that are not served yet */
	if (self->serving && !self->stopping)
		msb_sd_notify_reloading();
	loaded = msb_settings_load(self->settings_path, &error);
	if (loaded == NULL) {
		g_warning("reload: %s; still running on the settings in use", error->message);
		if (self->serving && !self->stopping)
			msb_main_notify_ready(self);
		return G_SOURCE_CONTINUE;
	}
	for (guint i = 0; loaded->warnings != NULL && i < loaded->warnings->len; i++)
		g_warning("reload: %s", (const gchar *)g_ptr_array_index(loaded->warnings, i));
	msb_main_keep_overrides(self, loaded);
	changes = msb_settings_reload(self->settings, loaded);
	msb_config_log_changes(changes, loaded->source != NULL ? loaded->source
	                                                       : "the built-in default settings");
	g_log_set_debug_enabled(self->verbose || self->settings->debug_mode);
	msb_server_apply_settings(self->server);
	if (self->serving && !self->stopping)
		msb_main_notify_ready(self);
	return G_SOURCE_CONTINUE;
}

static gboolean
msb_main_stopped_cb(gpointer user_data)
{
	MsbMain *self = user_data;

	g_main_loop_quit(self->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
msb_main_signal_cb(gpointer user_data)
{
	MsbMain *self = user_data;

	if (self->stopping) {
		g_message("second signal: exiting now");
		exit(1);
	}
	self->stopping = TRUE;
	g_message("signal received: shutting down");
	msb_sd_notify_stopping("Shutting down: closing connections and saving pending messages");
	msb_server_shutdown(self->server, msb_main_stopped_cb, self);
	return G_SOURCE_CONTINUE;
}

/* Once clients can connect: tests and supervisors wait for this file. */
static gboolean
msb_main_listening_cb(gpointer user_data)
{
	MsbMain *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;

	self->serving = TRUE;
	msb_main_notify_ready(self);
	self->status_id = g_timeout_add_seconds(5, msb_main_status_cb, self);
	if (self->ready_file == NULL)
		return G_SOURCE_REMOVE;
	text = g_strdup_printf("tcp_port=%u\nhttp_port=%u\npid=%d\n",
	                       msb_server_get_tcp_port(self->server),
	                       msb_server_get_http_port(self->server), getpid());
	if (!g_file_set_contents(self->ready_file, text, -1, &error)) {
		g_printerr(_("my-service-bus: cannot write --ready-file: %s\n"), error->message);
		exit(1);
	}
	return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *settings_path = NULL;
	g_autofree gchar *listen_address = NULL;
	g_autofree gchar *unix_socket = NULL;
	g_autofree gchar *ready_file = NULL;
	gint tcp_port = -1;
	gint http_port = -1;
	gboolean verbose = FALSE;
	gboolean version = FALSE;
	gboolean system_bus = FALSE;
	gboolean session_bus = FALSE;
	gboolean no_dbus = FALSE;
	MsbDbusBus dbus_bus;
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(MsbSettings) settings = NULL;
	g_autoptr(MsbServer) server = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	MsbMain self = {0};
	const GOptionEntry entries[] = {
	        {"settings", 's', 0, G_OPTION_ARG_FILENAME, &settings_path,
	         N_("Settings file (default: $HOME/.myservicebus, else built-in defaults)"),
	         N_("FILE")},
	        {"tcp-port", 'p', 0, G_OPTION_ARG_INT, &tcp_port,
	         N_("TCP port for the binary protocol (overrides TcpPort; 0 picks a free one)"),
	         N_("PORT")},
	        {"http-port", 0, 0, G_OPTION_ARG_INT, &http_port,
	         N_("HTTP port for status and metrics (overrides HttpPort; 0 picks a free one)"),
	         N_("PORT")},
	        {"listen-address", 0, 0, G_OPTION_ARG_STRING, &listen_address,
	         N_("Address to listen on (overrides ListenAddress)"), "IP"},
	        {"unix-socket", 0, 0, G_OPTION_ARG_FILENAME, &unix_socket,
	         N_("Also listen on this Unix socket (overrides ListenUnixSocket)"), N_("PATH")},
	        {"ready-file", 0, 0, G_OPTION_ARG_FILENAME, &ready_file,
	         N_("Write the bound port and pid to FILE once listening"), N_("FILE")},
	        {"system-bus", 0, 0, G_OPTION_ARG_NONE, &system_bus,
	         N_("D-Bus management on the system bus (the default when started by systemd)"),
	         NULL},
	        {"session-bus", 0, 0, G_OPTION_ARG_NONE, &session_bus,
	         N_("D-Bus management on the session bus (the default otherwise; for development)"),
	         NULL},
	        {"no-dbus", 0, 0, G_OPTION_ARG_NONE, &no_dbus, N_("No D-Bus management"), NULL},
	        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL},
	        {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"),
	         NULL},
	        {NULL}};

	msb_i18n_init(GETTEXT_PACKAGE);
	context = g_option_context_new(N_("- My Service Bus message broker"));
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("my-service-bus: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("my-service-bus %s\n", MSB_VERSION);
		return 0;
	}
	if (system_bus + session_bus + no_dbus > 1) {
		g_printerr(_("my-service-bus: --system-bus, --session-bus and --no-dbus exclude "
		             "each other: give one\n"));
		return 2;
	}
	dbus_bus = system_bus    ? MSB_DBUS_BUS_SYSTEM
	           : session_bus ? MSB_DBUS_BUS_SESSION
	           : no_dbus     ? MSB_DBUS_BUS_NONE
	                         : msb_dbus_bus_default();

	settings = msb_settings_load(settings_path, &error);
	if (settings == NULL) {
		g_printerr("my-service-bus: %s\n", error->message);
		return 1;
	}
	if (tcp_port >= 0) {
		if (tcp_port > 65535) {
			g_printerr(_("my-service-bus: --tcp-port %d is not a port (0-65535)\n"),
			           tcp_port);
			return 2;
		}
		settings->tcp_port = (guint16)tcp_port;
		self.override_tcp_port = TRUE;
	}
	if (http_port >= 0) {
		if (http_port > 65535) {
			g_printerr(_("my-service-bus: --http-port %d is not a port (0-65535)\n"),
			           http_port);
			return 2;
		}
		settings->http_port = (guint16)http_port;
		self.override_http_port = TRUE;
	}
	if (listen_address != NULL) {
		g_free(settings->listen_address);
		settings->listen_address = g_steal_pointer(&listen_address);
		self.override_listen_address = TRUE;
	}
	if (unix_socket != NULL) {
		g_free(settings->listen_unix_socket);
		settings->listen_unix_socket = g_steal_pointer(&unix_socket);
		self.override_unix_socket = TRUE;
	}
	if (verbose || settings->debug_mode)
		g_log_set_debug_enabled(TRUE);

	g_message(_("my-service-bus %s starting with %s"), MSB_VERSION,
	          settings->source != NULL ? settings->source : _("built-in default settings"));
	for (guint i = 0; settings->warnings != NULL && i < settings->warnings->len; i++)
		g_warning("%s", (const gchar *)g_ptr_array_index(settings->warnings, i));
	if (settings->grpc_url == NULL)
		g_warning(_("GrpcUrl is none: messages are kept in memory only and are lost when "
		            "the broker stops"));

	{
		/* each client is a descriptor; files, HTTP and persistence need some more */
		guint64 nofile = msb_os_limits_raise_nofile();
		if (nofile < (guint64)settings->max_connections + 64)
			g_warning(_("the open files limit (%llu) is below MaxConnections (%lld) "
			            "plus 64 for the broker's own files: connections will be "
			            "refused for lack of descriptors first; raise the hard limit "
			            "(ulimit -Hn, LimitNOFILE=) or lower MaxConnections"),
			          (unsigned long long)nofile, (long long)settings->max_connections);
	}

	server = msb_server_new(settings, &error);
	if (server == NULL) {
		g_printerr("my-service-bus: %s\n", error->message);
		return 1;
	}
	msb_server_set_dbus_bus(server, dbus_bus);
	self.server = server;
	self.ready_file = ready_file;
	self.settings_path = settings_path;
	self.settings = settings;
	self.verbose = verbose;
	/* before the start: a signal that comes as soon as the ready file is written must find
	 * its handler, not the default action (SIGHUP would kill the broker) */
	loop = g_main_loop_new(NULL, FALSE);
	self.loop = loop;
	g_unix_signal_add(SIGTERM, msb_main_signal_cb, &self);
	g_unix_signal_add(SIGINT, msb_main_signal_cb, &self);
	g_unix_signal_add(SIGHUP, msb_main_reload_cb, &self);
	(void)msb_sd_notify_watchdog_start();
	if (!msb_server_start(server, msb_main_listening_cb, &self, &error)) {
		g_printerr("my-service-bus: %s\n", error->message);
		return 1;
	}

	g_main_loop_run(loop);
	g_clear_handle_id(&self.status_id, g_source_remove);
	g_free(self.status);
	g_message("stopped");
	return 0;
}
