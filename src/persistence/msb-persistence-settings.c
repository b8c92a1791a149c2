/*
 * The persistence service's settings: the key table (our PascalCase keys, their snake_case
 * spellings and the Rust service's `data`), the defaults, the checks, and the search order
 * --settings FILE, then $HOME/.myservicebus-persistence, then the defaults. The syntax and the
 * typed values come from msb-config-file, as for the broker.
 */
#define G_LOG_DOMAIN "msb-persistence-settings"

#include "msb-persistence-settings.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <string.h>

#include "msb-config-diff.h"
#include "msb-config-file.h"
#include "msb-duration.h"

/* no duration setting may exceed this, so that now + duration never overflows */
#define MAX_DURATION_US (G_GINT64_CONSTANT(365) * 24 * 3600 * G_USEC_PER_SEC)

enum {
	KEY_DATA_PATH,
	KEY_GRPC_PORT,
	KEY_HTTP_PORT,
	KEY_LISTEN_UNIX_SOCKET,
	KEY_LISTEN_ADDRESS,
	KEY_SHUTDOWN_TIMEOUT,
	KEY_HTTP_MAX_BODY_SIZE,
	KEY_HTTP_IDLE_TIMEOUT,
	KEY_HTTP_REQUEST_TIMEOUT,
	KEY_HTTP_MAX_CONNECTIONS,
	KEY_HTTP_LISTEN_BACKLOG,
	/* keys of the Rust service (persistence.md §10) that have no meaning here: warned about */
	KEY_MAX_RESPONSE_RECORDS_AMOUNT,
	KEY_DELETE_TOPIC_SECRET_KEY,
	KEY_S3_CONN_STRING,
};

/* names[0] is the spelling used in messages about a key the file does not set */
static const MsbConfigKey settings_keys[] = {
        {KEY_DATA_PATH, {"DataPath", "data_path", "data", NULL}},
        {KEY_GRPC_PORT, {"GrpcPort", "grpc_port", NULL}},
        {KEY_HTTP_PORT, {"HttpPort", "http_port", NULL}},
        {KEY_LISTEN_UNIX_SOCKET, {"ListenUnixSocket", "listen_unix_socket", NULL}},
        {KEY_LISTEN_ADDRESS, {"ListenAddress", "listen_address", NULL}},
        {KEY_SHUTDOWN_TIMEOUT, {"ShutdownTimeout", "shutdown_timeout", NULL}},
        MSB_HTTP_LIMITS_CONFIG_KEYS(KEY_HTTP_MAX_BODY_SIZE, KEY_HTTP_IDLE_TIMEOUT,
                                    KEY_HTTP_REQUEST_TIMEOUT, KEY_HTTP_MAX_CONNECTIONS,
                                    KEY_HTTP_LISTEN_BACKLOG),
        {KEY_MAX_RESPONSE_RECORDS_AMOUNT,
         {"MaxResponseRecordsAmount", "max_response_records_amount", NULL}},
        {KEY_DELETE_TOPIC_SECRET_KEY, {"DeleteTopicSecretKey", "delete_topic_secret_key", NULL}},
        {KEY_S3_CONN_STRING, {"S3ConnString", "s3_conn_string", NULL}},
};

gchar *
msb_persistence_settings_get_default_path(void)
{
	return g_build_filename(msb_config_home_dir(), MSB_PERSISTENCE_SETTINGS_FILE_NAME, NULL);
}

MsbPersistenceSettings *
msb_persistence_settings_new_defaults(void)
{
	MsbPersistenceSettings *settings = g_new0(MsbPersistenceSettings, 1);

	settings->warnings = g_ptr_array_new_with_free_func(g_free);
	settings->data_path =
	        g_build_filename(g_get_user_data_dir(), MSB_PERSISTENCE_DATA_DIR_NAME, NULL);
	settings->grpc_port = MSB_PERSISTENCE_DEFAULT_GRPC_PORT;
	settings->http_port = MSB_PERSISTENCE_DEFAULT_HTTP_PORT;
	settings->listen_unix_socket = NULL;
	settings->listen_address = g_strdup(MSB_PERSISTENCE_DEFAULT_LISTEN_ADDRESS);
	settings->shutdown_timeout_us = MSB_PERSISTENCE_DEFAULT_SHUTDOWN_TIMEOUT_US;
	msb_http_limits_init(&settings->http, MSB_PERSISTENCE_DEFAULT_HTTP_MAX_BODY_SIZE);
	return settings;
}

void
msb_persistence_settings_free(MsbPersistenceSettings *settings)
{
	if (settings == NULL)
		return;
	g_free(settings->source);
	g_clear_pointer(&settings->warnings, g_ptr_array_unref);
	g_free(settings->data_path);
	g_free(settings->listen_unix_socket);
	g_free(settings->listen_address);
	g_free(settings);
}

static gboolean
read_data_path(MsbConfigFile *cf, MsbPersistenceSettings *settings, GError **error)
{
	const gchar *value = NULL;
	gchar *path;
	gsize len;

	if (!msb_config_file_get_string(cf, KEY_DATA_PATH, &value, error))
		return FALSE;
	if (value == NULL)
		return TRUE;
	if (value[0] == '\0')
		return msb_config_file_set_error(
		        cf, KEY_DATA_PATH, error,
		        _("the value is empty (expected the folder that holds the stored messages, "
		          "such as /var/lib/my-service-bus-persistence or ~/msb-data)"));
	path = msb_config_expand_home(value);
	/* "data/" and "data" are the same folder; the Rust service strips the '/' too */
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	g_free(settings->data_path);
	settings->data_path = path;
	return TRUE;
}

static void
warn_ignored(MsbConfigFile *cf)
{
	if (msb_config_file_lookup(cf, KEY_MAX_RESPONSE_RECORDS_AMOUNT) != NULL)
		msb_config_file_warn(cf, KEY_MAX_RESPONSE_RECORDS_AMOUNT,
		                     _("ignored (a setting of the Rust persistence service that it "
		                       "never used either)"));
	if (msb_config_file_lookup(cf, KEY_DELETE_TOPIC_SECRET_KEY) != NULL)
		msb_config_file_warn(
		        cf, KEY_DELETE_TOPIC_SECRET_KEY,
		        _("ignored (this service has no HTTP endpoint that deletes topics)"));
	if (msb_config_file_lookup(cf, KEY_S3_CONN_STRING) != NULL)
		msb_config_file_warn(
		        cf, KEY_S3_CONN_STRING,
		        _("ignored (this service keeps everything under DataPath; there "
		          "is no S3 cold tier)"));
}

static const MsbHttpLimitKeys http_keys = {
        KEY_HTTP_MAX_BODY_SIZE,   KEY_HTTP_IDLE_TIMEOUT,   KEY_HTTP_REQUEST_TIMEOUT,
        KEY_HTTP_MAX_CONNECTIONS, KEY_HTTP_LISTEN_BACKLOG,
};

static MsbPersistenceSettings *
settings_from_config(MsbConfigFile *cf, GError **error)
{
	g_autoptr(MsbPersistenceSettings) settings = msb_persistence_settings_new_defaults();
	GPtrArray *warnings;

	if (!msb_config_file_bind(cf, settings_keys, G_N_ELEMENTS(settings_keys), error))
		return NULL;
	if (!read_data_path(cf, settings, error))
		return NULL;
	if (!msb_config_file_get_port(cf, KEY_GRPC_PORT, &settings->grpc_port, error))
		return NULL;
	if (!msb_config_file_get_port(cf, KEY_HTTP_PORT, &settings->http_port, error))
		return NULL;
	/* both listen on ListenAddress, so one port for both can never start */
	if (settings->grpc_port == settings->http_port) {
		gint id = msb_config_file_lookup(cf, KEY_HTTP_PORT) != NULL ? KEY_HTTP_PORT
		                                                            : KEY_GRPC_PORT;

		msb_config_file_set_error(
		        cf, id, error,
		        _("GrpcPort and HttpPort are both %u (expected two different "
		          "ports)"),
		        settings->grpc_port);
		return NULL;
	}
	if (!msb_config_file_get_socket_path(cf, KEY_LISTEN_UNIX_SOCKET,
	                                     &settings->listen_unix_socket, error))
		return NULL;
	if (!msb_config_file_get_ip_address(cf, KEY_LISTEN_ADDRESS, &settings->listen_address,
	                                    error))
		return NULL;
	if (!msb_config_file_get_duration(cf, KEY_SHUTDOWN_TIMEOUT, 0, MAX_DURATION_US,
	                                  &settings->shutdown_timeout_us, error))
		return NULL;
	if (!msb_http_limits_read(&settings->http, cf, &http_keys, error))
		return NULL;
	warn_ignored(cf);

	warnings = msb_config_file_get_warnings(cf);
	for (guint i = 0; i < warnings->len; i++)
		g_ptr_array_add(settings->warnings, g_strdup(g_ptr_array_index(warnings, i)));
	settings->source = g_strdup(msb_config_file_get_origin(cf));
	return g_steal_pointer(&settings);
}

MsbPersistenceSettings *
msb_persistence_settings_load_from_data(const gchar *data, gsize len, const gchar *origin,
                                        GError **error)
{
	g_autoptr(MsbConfigFile) cf = NULL;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(origin != NULL, NULL);
	g_return_val_if_fail(len <= G_MAXSSIZE, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	cf = msb_config_file_new_from_data(data, (gssize)len, origin, error);
	if (cf == NULL)
		return NULL;
	return settings_from_config(cf, error);
}

MsbPersistenceSettings *
msb_persistence_settings_load(const gchar *path, GError **error)
{
	g_autoptr(MsbConfigFile) cf = NULL;
	g_autofree gchar *home_path = NULL;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (path == NULL)
		home_path = msb_persistence_settings_get_default_path();
	cf = msb_config_file_open(path, home_path, &error_local);
	if (cf == NULL && error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (cf == NULL)
		return msb_persistence_settings_new_defaults();
	return settings_from_config(cf, error);
}

gchar *
msb_persistence_settings_to_string(const MsbPersistenceSettings *settings)
{
	GString *out;
	g_autofree gchar *st = NULL;

	g_return_val_if_fail(settings != NULL, NULL);

	st = msb_duration_to_string(settings->shutdown_timeout_us);
	out = g_string_new("DataPath: ");
	msb_config_append_quoted(out, settings->data_path);
	g_string_append_printf(out, "\nGrpcPort: %u", settings->grpc_port);
	g_string_append_printf(out, "\nHttpPort: %u", settings->http_port);
	g_string_append(out, "\nListenUnixSocket: ");
	if (settings->listen_unix_socket != NULL)
		msb_config_append_quoted(out, settings->listen_unix_socket);
	g_string_append(out, "\nListenAddress: ");
	msb_config_append_quoted(out, settings->listen_address != NULL
	                                      ? settings->listen_address
	                                      : MSB_PERSISTENCE_DEFAULT_LISTEN_ADDRESS);
	g_string_append_printf(out, "\nShutdownTimeout: %s", st);
	msb_http_limits_append(&settings->http, out);
	g_string_append_c(out, '\n');
	return g_string_free(out, FALSE);
}

/*
 * The settings the running service takes over from its file on SIGHUP
 * (docs/persistence-service.md); every other key needs a restart. One line makes a setting
 * reloadable, once whatever uses it reads the current value.
 */
static const MsbConfigReloadable persistence_settings_reloadable[] = {
        MSB_CONFIG_RELOADABLE(MsbPersistenceSettings, "ShutdownTimeout", shutdown_timeout_us),
};

GPtrArray *
msb_persistence_settings_reload(MsbPersistenceSettings *current,
                                const MsbPersistenceSettings *loaded)
{
	g_autofree gchar *old_text = NULL;
	g_autofree gchar *new_text = NULL;
	GPtrArray *changes;

	g_return_val_if_fail(current != NULL, NULL);
	g_return_val_if_fail(loaded != NULL, NULL);

	old_text = msb_persistence_settings_to_string(current);
	new_text = msb_persistence_settings_to_string(loaded);
	changes = msb_config_diff(old_text, new_text, persistence_settings_reloadable,
	                          G_N_ELEMENTS(persistence_settings_reloadable));
	msb_config_apply_changes(current, loaded, changes);
	return changes;
}
