/*
 * my-service-bus-persistence: command line, settings, start-up order, signals and shutdown.
 *
 * Start-up listens first and recovers second: the gRPC and HTTP ports are bound (and the ready
 * file written) before the store has replayed its logs, so Ping, GetVersion and /api/status
 * answer while recovery runs and everything else answers UNAVAILABLE until it is done. A failed
 * recovery (another process holds the data folder, a folder we cannot write) ends the program
 * with status 1.
 *
 * Shutdown (SIGTERM, SIGINT): no new calls; calls in flight (saves in the middle of an fsync)
 * get ShutdownTimeout to finish and are then cancelled; the store is closed once no handler
 * can touch it; exit 0. A second signal exits at once with status 1. SIGHUP reads the settings
 * file again and applies the keys that can change at run time (ShutdownTimeout).
 *
 * Under systemd (Type=notify, msb-sd-notify.h): READY=1 once recovery is done and every call is
 * served (the broker, ordered after this unit, then restores at once), STATUS= lines while it
 * recovers and after, RELOADING=1 … READY=1 around a SIGHUP reload, STOPPING=1 when the
 * shutdown starts, and WATCHDOG=1 from the main loop (recovery runs in a thread).
 */
#define G_LOG_DOMAIN "my-service-bus-persistence"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msb-config-diff.h"
#include "msb-config.h"
#include "msb-grpc-server.h"
#include "msb-i18n.h"
#include "msb-os-limits.h"
#include "msb-persistence-http.h"
#include "msb-persistence-service.h"
#include "msb-persistence-settings.h"
#include "msb-sd-notify.h"
#include "msb-store.h"

/* a request message may be this large (a joined upload has its own, larger limit) */
#define MAX_RECEIVE_MESSAGE (64 * 1024 * 1024)
/* worker threads for blocking handlers: concurrent saves share one fsync, so more threads mean
 * larger group commits, not more disk work */
#define MAX_WORKERS 32

typedef struct {
	GMainLoop *loop;
	MsbPersistenceSettings *settings;
	MsbStore *store;
	MsbPersistenceService *service;
	MsbGrpcServer *grpc;
	MsbPersistenceHttp *http;
	gboolean stopping;
	gboolean recovering;
	gboolean grpc_stopped;
	gboolean serving; /* recovered: READY=1 was sent */
	guint16 bound_grpc;
	gint exit_code;
	/* --test-inject-fault, applied once recovered */
	MsbStoreFault fault;
	guint fault_nth;
	gint fault_errno;
	/* for SIGHUP: the file read at start (NULL: the default search) and what the command line
	 * set, which a reload keeps */
	const gchar *settings_path;
	gboolean override_grpc_port;
	gboolean override_http_port;
	gboolean override_listen_address;
	gboolean override_data_path;
	gboolean override_unix_socket;
} MsbMain;

/* A reloaded file keeps what the command line overrode: those values are the current ones. */
static void
msb_main_keep_overrides(MsbMain *self, MsbPersistenceSettings *loaded)
{
	if (self->override_grpc_port)
		loaded->grpc_port = self->settings->grpc_port;
	if (self->override_http_port)
		loaded->http_port = self->settings->http_port;
	if (self->override_listen_address) {
		g_free(loaded->listen_address);
		loaded->listen_address = g_strdup(self->settings->listen_address);
	}
	if (self->override_data_path) {
		g_free(loaded->data_path);
		loaded->data_path = g_strdup(self->settings->data_path);
	}
	if (self->override_unix_socket) {
		g_free(loaded->listen_unix_socket);
		loaded->listen_unix_socket = g_strdup(self->settings->listen_unix_socket);
	}
}

/* READY=1, once recovered and after each reload. */
static void
msb_main_notify_ready(MsbMain *self)
{
	g_autoptr(GPtrArray) topics = msb_store_list_topics(self->store, NULL);

	msb_sd_notify_ready("Serving gRPC on %s:%u: %u topics in %s",
	                    self->settings->listen_address, self->bound_grpc,
	                    topics != NULL ? topics->len : 0, self->settings->data_path);
}

/* SIGHUP: read the settings file again and apply what can change at run time; a file with an
 * error changes nothing. */
static gboolean
msb_main_reload_cb(gpointer user_data)
{
	MsbMain *self = user_data;
	g_autoptr(MsbPersistenceSettings) loaded = NULL;
	g_autoptr(GPtrArray) changes = NULL;
	g_autoptr(GError) error = NULL;
	/* before READY=1 (recovering) systemd queues a reload until the start is done */
	gboolean notify = self->serving && !self->stopping;

	if (notify)
		msb_sd_notify_reloading();
	loaded = msb_persistence_settings_load(self->settings_path, &error);
	if (loaded == NULL) {
		g_warning("reload: %s; still running on the settings in use", error->message);
		if (notify)
			msb_main_notify_ready(self);
		return G_SOURCE_CONTINUE;
	}
	for (guint i = 0; loaded->warnings != NULL && i < loaded->warnings->len; i++)
		g_warning("reload: %s", (const gchar *)g_ptr_array_index(loaded->warnings, i));
	msb_main_keep_overrides(self, loaded);
	changes = msb_persistence_settings_reload(self->settings, loaded);
	msb_config_log_changes(changes, loaded->source != NULL ? loaded->source
	                                                       : "the built-in default settings");
	if (notify)
		msb_main_notify_ready(self);
	return G_SOURCE_CONTINUE;
}

static void
msb_main_recovered_cb(GObject *source, GAsyncResult *result, gpointer user_data);

static gboolean
msb_main_start_recovery_cb(gpointer user_data)
{
	MsbMain *self = user_data;

	msb_store_recover_async(self->store, NULL, msb_main_recovered_cb, self);
	return G_SOURCE_REMOVE;
}

static void
msb_main_maybe_quit(MsbMain *self)
{
	/* the store may be closed only once recovery has returned and no handler can call it */
	if (self->grpc_stopped && !self->recovering)
		g_main_loop_quit(self->loop);
}

static gboolean
msb_main_grpc_stopped_cb(gpointer user_data)
{
	MsbMain *self = user_data;

	g_debug("gRPC server stopped");
	self->grpc_stopped = TRUE;
	msb_main_maybe_quit(self);
	return G_SOURCE_REMOVE;
}

static void
msb_main_stop(MsbMain *self, gint exit_code)
{
	if (self->stopping)
		return;
	self->stopping = TRUE;
	self->exit_code = exit_code;
	msb_grpc_server_shutdown(self->grpc, self->settings->shutdown_timeout_us,
	                         msb_main_grpc_stopped_cb, self);
}

static gboolean
msb_main_signal_cb(gpointer user_data)
{
	MsbMain *self = user_data;

	if (self->stopping) {
		g_message("second signal: exiting now");
		exit(1);
	}
	g_message("signal received: shutting down (waiting up to %" G_GINT64_FORMAT
	          " ms for calls in progress)",
	          self->settings->shutdown_timeout_us / 1000);
	msb_sd_notify_stopping("Shutting down: waiting up to %" G_GINT64_FORMAT
	                       " ms for calls in progress",
	                       self->settings->shutdown_timeout_us / 1000);
	msb_main_stop(self, 0);
	return G_SOURCE_CONTINUE;
}

static void
msb_main_recovered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbMain *self = user_data;
	g_autoptr(GError) error = NULL;

	self->recovering = FALSE;
	if (!msb_store_recover_finish(self->store, result, &error)) {
		g_printerr(_("my-service-bus-persistence: cannot open the data in %s: %s\n"),
		           self->settings->data_path, error->message);
		msb_persistence_http_set_recovery(self->http, MSB_PERSISTENCE_RECOVERY_FAILED,
		                                  error->message);
		msb_sd_notify_status("Cannot open the data in %s: %s", self->settings->data_path,
		                     error->message);
		msb_main_stop(self, 1);
		msb_main_maybe_quit(self);
		return;
	}
	if (self->fault_nth > 0)
		msb_store_inject_fault(self->store, self->fault, self->fault_nth,
		                       self->fault_errno);
	msb_persistence_service_set_ready(self->service);
	msb_persistence_http_set_recovery(self->http, MSB_PERSISTENCE_RECOVERY_DONE, NULL);
	{
		g_autoptr(GPtrArray) topics = msb_store_list_topics(self->store, NULL);
		MsbStoreStats st;

		msb_store_get_stats(self->store, &st);
		guint n = topics != NULL ? topics->len : 0;

		g_message(ngettext("ready: %u topics in %s, recovered in %lld ms",
		                   "ready: %u topics in %s, recovered in %lld ms", n),
		          n, self->settings->data_path, (long long)(st.recovery_us / 1000));
	}
	if (!self->stopping) {
		self->serving = TRUE;
		msb_main_notify_ready(self);
	}
	msb_main_maybe_quit(self);
}

static gboolean
msb_main_write_ready_file(const gchar *path, guint16 grpc_port, guint16 http_port, GError **error)
{
	g_autofree gchar *text = g_strdup_printf("grpc_port=%u\nhttp_port=%u\npid=%d\n", grpc_port,
	                                         http_port, getpid());

	return g_file_set_contents(path, text, -1, error);
}

/* --test-inject-fault=write|sync:NTH:ERRNO, for the tests of write errors */
static gboolean
msb_main_parse_fault(MsbMain *self, const gchar *spec)
{
	g_auto(GStrv) parts = g_strsplit(spec, ":", -1);
	guint64 nth = 0;
	gint64 err = 0;

	if (g_strv_length(parts) != 3)
		return FALSE;
	if (g_str_equal(parts[0], "write"))
		self->fault = MSB_STORE_FAULT_WRITE;
	else if (g_str_equal(parts[0], "sync"))
		self->fault = MSB_STORE_FAULT_SYNC;
	else
		return FALSE;
	if (!g_ascii_string_to_unsigned(parts[1], 10, 1, G_MAXUINT, &nth, NULL) ||
	    !g_ascii_string_to_signed(parts[2], 10, 1, 4095, &err, NULL))
		return FALSE;
	self->fault_nth = (guint)nth;
	self->fault_errno = (gint)err;
	return TRUE;
}

static gboolean
msb_main_check_port(const gchar *option, gint value, guint16 *out)
{
	if (value < 0)
		return TRUE;
	if (value > 65535) {
		g_printerr(_("my-service-bus-persistence: %s %d is not a port (0-65535)\n"), option,
		           value);
		return FALSE;
	}
	*out = (guint16)value;
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *settings_path = NULL;
	g_autofree gchar *listen_address = NULL;
	g_autofree gchar *data_path = NULL;
	g_autofree gchar *unix_socket = NULL;
	g_autofree gchar *ready_file = NULL;
	g_autofree gchar *fault = NULL;
	g_autofree gchar *shown = NULL;
	gint grpc_port = -1;
	gint http_port = -1;
	gint recovery_delay_ms = 0;
	gboolean verbose = FALSE;
	gboolean version = FALSE;
	guint16 bound_grpc = 0;
	guint16 bound_http = 0;
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(MsbPersistenceSettings) settings = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	MsbMain self = {0};
	const GOptionEntry entries[] = {
	        {"settings", 's', 0, G_OPTION_ARG_FILENAME, &settings_path,
	         N_("Settings file (default: $HOME/.myservicebus-persistence, else built-in "
	            "defaults)"),
	         N_("FILE")},
	        {"grpc-port", 'p', 0, G_OPTION_ARG_INT, &grpc_port,
	         N_("gRPC port (overrides GrpcPort; 0 picks a free one)"), N_("PORT")},
	        {"http-port", 0, 0, G_OPTION_ARG_INT, &http_port,
	         N_("HTTP port (overrides HttpPort; 0 picks a free one)"), N_("PORT")},
	        {"listen-address", 0, 0, G_OPTION_ARG_STRING, &listen_address,
	         N_("Address to listen on (overrides ListenAddress)"), "IP"},
	        {"data-path", 'd', 0, G_OPTION_ARG_FILENAME, &data_path,
	         N_("Folder of the stored data (overrides DataPath)"), N_("DIR")},
	        {"unix-socket", 0, 0, G_OPTION_ARG_FILENAME, &unix_socket,
	         N_("Also serve gRPC on this Unix socket (overrides ListenUnixSocket)"),
	         N_("PATH")},
	        {"ready-file", 0, 0, G_OPTION_ARG_FILENAME, &ready_file,
	         N_("Write the bound ports and the pid to FILE once listening"), N_("FILE")},
	        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL},
	        {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"),
	         NULL},
	        {"test-inject-fault", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &fault,
	         "Testing only: make the NTH write or fsync after recovery fail", "KIND:NTH:ERRNO"},
	        {"test-delay-recovery", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT,
	         &recovery_delay_ms, "Testing only: start recovery this much later", "MS"},
	        {NULL}};

	msb_i18n_init("my-service-bus-persistence");
	context = g_option_context_new(N_("- My Service Bus persistence service"));
	g_option_context_set_translation_domain(context, msb_i18n_get_domain());
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("my-service-bus-persistence: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("my-service-bus-persistence %s\n", MSB_VERSION);
		return 0;
	}
	if (fault != NULL && !msb_main_parse_fault(&self, fault)) {
		g_printerr("my-service-bus-persistence: --test-inject-fault %s: expected "
		           "write|sync:NTH:ERRNO\n",
		           fault);
		return 2;
	}

	settings = msb_persistence_settings_load(settings_path, &error);
	if (settings == NULL) {
		g_printerr("my-service-bus-persistence: %s\n", error->message);
		return 1;
	}
	if (!msb_main_check_port("--grpc-port", grpc_port, &settings->grpc_port) ||
	    !msb_main_check_port("--http-port", http_port, &settings->http_port))
		return 2;
	self.override_grpc_port = grpc_port >= 0;
	self.override_http_port = http_port >= 0;
	if (listen_address != NULL) {
		g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(listen_address);

		if (addr == NULL) {
			g_printerr(_("my-service-bus-persistence: --listen-address %s is not a "
			             "numeric "
			             "IP address\n"),
			           listen_address);
			return 2;
		}
		g_free(settings->listen_address);
		settings->listen_address = g_steal_pointer(&listen_address);
		self.override_listen_address = TRUE;
	}
	if (data_path != NULL) {
		g_free(settings->data_path);
		settings->data_path = g_steal_pointer(&data_path);
		self.override_data_path = TRUE;
	}
	if (unix_socket != NULL) {
		g_free(settings->listen_unix_socket);
		settings->listen_unix_socket =
		        unix_socket[0] != '\0' ? g_steal_pointer(&unix_socket) : NULL;
		self.override_unix_socket = TRUE;
	}
	if (settings->grpc_port != 0 && settings->grpc_port == settings->http_port) {
		g_printerr(_("my-service-bus-persistence: the gRPC and HTTP ports are both %u; "
		             "they must differ\n"),
		           settings->grpc_port);
		return 2;
	}
	if (verbose)
		g_log_set_debug_enabled(TRUE);

	g_message(_("my-service-bus-persistence %s starting with %s"), MSB_VERSION,
	          settings->source != NULL ? settings->source : _("built-in default settings"));
	for (guint i = 0; settings->warnings != NULL && i < settings->warnings->len; i++)
		g_warning("%s", (const gchar *)g_ptr_array_index(settings->warnings, i));
	{
		g_autofree gchar *text = msb_persistence_settings_to_string(settings);
		g_auto(GStrv) lines = g_strsplit(g_strchomp(text), "\n", -1);

		shown = g_strjoinv("; ", lines);
		g_message("settings: %s", shown);
	}

	(void)msb_os_limits_raise_nofile();

	if (g_mkdir_with_parents(settings->data_path, 0755) != 0) {
		gint saved = errno;
		g_printerr(_("my-service-bus-persistence: cannot create the data folder %s: %s\n"),
		           settings->data_path, g_strerror(saved));
		return 1;
	}

	self.settings = settings;
	self.settings_path = settings_path;
	self.store = msb_store_new(settings->data_path);
	self.service = msb_persistence_service_new(self.store);
	self.grpc = msb_grpc_server_new(MAX_RECEIVE_MESSAGE, MAX_WORKERS);
	msb_persistence_service_register(self.service, self.grpc);
	self.http =
	        msb_persistence_http_new(self.store, self.service, self.grpc, settings->data_path);
	self.exit_code = 1;

	if (!msb_grpc_server_add_tcp(self.grpc, settings->listen_address, settings->grpc_port,
	                             &bound_grpc, &error) ||
	    (settings->listen_unix_socket != NULL &&
	     !msb_grpc_server_add_unix(self.grpc, settings->listen_unix_socket, &error)) ||
	    !msb_persistence_http_listen(self.http, settings->listen_address, settings->http_port,
	                                 &settings->http, &bound_http, &error) ||
	    !msb_grpc_server_start(self.grpc, &error)) {
		g_printerr("my-service-bus-persistence: %s\n", error->message);
		msb_persistence_http_free(self.http);
		msb_grpc_server_free(self.grpc);
		msb_persistence_service_free(self.service);
		msb_store_close(self.store);
		return 1;
	}
	if (settings->listen_unix_socket != NULL)
		g_message(_("listening: gRPC on %s:%u and %s, HTTP on %s:%u"),
		          settings->listen_address, bound_grpc, settings->listen_unix_socket,
		          settings->listen_address, bound_http);
	else
		g_message(_("listening: gRPC on %s:%u, HTTP on %s:%u"), settings->listen_address,
		          bound_grpc, settings->listen_address, bound_http);

	msb_sd_notify_status("Recovering the data in %s (gRPC on %s:%u answers only Ping and "
	                     "GetVersion until done)",
	                     settings->data_path, settings->listen_address, bound_grpc);
	self.bound_grpc = bound_grpc;
	loop = g_main_loop_new(NULL, FALSE);
	self.loop = loop;
	self.recovering = TRUE;
	if (recovery_delay_ms > 0)
		g_timeout_add((guint)recovery_delay_ms, msb_main_start_recovery_cb, &self);
	else
		msb_main_start_recovery_cb(&self);
	g_unix_signal_add(SIGTERM, msb_main_signal_cb, &self);
	g_unix_signal_add(SIGINT, msb_main_signal_cb, &self);
	g_unix_signal_add(SIGHUP, msb_main_reload_cb, &self);
	(void)msb_sd_notify_watchdog_start();
	if (ready_file != NULL &&
	    !msb_main_write_ready_file(ready_file, bound_grpc, bound_http, &error)) {
		g_printerr(_("my-service-bus-persistence: cannot write --ready-file: %s\n"),

		           error->message);
		msb_main_stop(&self, 1);
	}
	g_main_loop_run(loop);

	msb_persistence_http_free(self.http);
	msb_grpc_server_free(self.grpc);
	msb_persistence_service_free(self.service);
	msb_store_close(self.store);
	g_message("stopped");
	return self.exit_code;
}
