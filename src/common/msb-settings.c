/*
 * The broker's settings: the key table (both spellings of every key), the defaults, the checks
 * that make a value sane for the broker, and the search order --settings FILE, then
 * $HOME/.myservicebus, then the defaults. The file syntax and typed values are msb-config-file's.
 */
#define G_LOG_DOMAIN "msb-settings"

#include "msb-settings.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <string.h>

#include "msb-config-diff.h"
#include "msb-config-file.h"
#include "msb-duration.h"

#define KIB G_GINT64_CONSTANT(1024)
#define GIB (KIB * KIB * KIB)

/* a delivery timeout below a millisecond is below the main loop's timer resolution */
#define MIN_DELIVERY_TIMEOUT_US (G_GINT64_CONSTANT(1000))
#define MIN_SEND_BUFFER_SIZE    (64 * KIB)
#define MAX_DELIVERY_SIZE       GIB
/* one packet is parsed from one buffer and its lengths are int32 on the wire */
#define MAX_PACKET_SIZE ((gint64)G_MAXINT32)

enum {
	KEY_GRPC_URL,
	KEY_EVENTUALLY_PERSISTENCE_DELAY,
	KEY_QUEUE_GC_TIMEOUT,
	KEY_DELIVERY_TIMEOUT,
	KEY_CONNECTION_TIMEOUT,
	KEY_DEBUG_MODE,
	KEY_MAX_DELIVERY_SIZE,
	KEY_PERSIST_COMPRESSED,
	KEY_AUTO_CREATE_TOPIC_ON_PUBLISH,
	KEY_AUTO_CREATE_TOPIC_ON_SUBSCRIBE,
	KEY_LISTEN_UNIX_SOCKET,
	KEY_LISTEN_ADDRESS,
	KEY_TCP_PORT,
	KEY_HTTP_PORT,
	KEY_MAX_PACKET_SIZE,
	KEY_SEND_BUFFER_SIZE,
	KEY_MAX_UNSAVED_SIZE,
	KEY_ON_DAMAGED_MESSAGES,
	KEY_LISTEN_BACKLOG,
	KEY_MAX_CONNECTIONS,
	KEY_GREETING_TIMEOUT,
	KEY_PACKET_RECEIVE_TIMEOUT,
	KEY_MAX_INCOMPLETE_PACKETS_SIZE,
	KEY_HTTP_MAX_BODY_SIZE,
	KEY_HTTP_IDLE_TIMEOUT,
	KEY_HTTP_REQUEST_TIMEOUT,
	KEY_HTTP_MAX_CONNECTIONS,
	KEY_HTTP_LISTEN_BACKLOG,
	KEY_HTTP_LISTEN_ADDRESS,
	KEY_HTTP_ADMIN_TOKEN,
	KEY_HTTP_CORS_ORIGIN,
	KEY_HTTP_SESSION_TIMEOUT,
	KEY_HTTP_AWAIT_TIMEOUT,
	KEY_HTTP_MAX_SESSIONS,
	KEY_DBUS_ADMIN_GROUP,
	/* legacy keys (node.md §1.2.2): checked, then ignored with a warning */
	KEY_GRPC_TIMEOUT_SECS,
	KEY_PERSIST_TIMER_INTERVAL,
	KEY_PERSIST_TIMER_INTERVAL_SECS,
};

/* names[0] is the spelling used in messages about a key the file does not set */
static const MsbConfigKey settings_keys[] = {
        {KEY_GRPC_URL, {"GrpcUrl", "persistence_grpc_url", "grpc_url", NULL}},
        {KEY_EVENTUALLY_PERSISTENCE_DELAY,
         {"EventuallyPersistenceDelay", "eventually_persistence_delay", NULL}},
        {KEY_QUEUE_GC_TIMEOUT, {"QueueGcTimeout", "queue_gc_timeout", NULL}},
        {KEY_DELIVERY_TIMEOUT, {"DeliveryTimeout", "delivery_timeout", NULL}},
        {KEY_CONNECTION_TIMEOUT, {"ConnectionTimeout", "connection_timeout", NULL}},
        {KEY_DEBUG_MODE, {"DebugMode", "debug_mode", NULL}},
        {KEY_MAX_DELIVERY_SIZE, {"MaxDeliverySize", "max_delivery_size", NULL}},
        {KEY_PERSIST_COMPRESSED, {"PersistCompressed", "persist_compressed", NULL}},
        {KEY_AUTO_CREATE_TOPIC_ON_PUBLISH,
         {"AutoCreateTopicOnPublish", "auto_create_topic_on_publish", NULL}},
        {KEY_AUTO_CREATE_TOPIC_ON_SUBSCRIBE,
         {"AutoCreateTopicOnSubscribe", "auto_create_topic_on_subscribe", NULL}},
        {KEY_LISTEN_UNIX_SOCKET, {"ListenUnixSocket", "listen_unix_socket", NULL}},
        {KEY_LISTEN_ADDRESS, {"ListenAddress", "listen_address", NULL}},
        {KEY_TCP_PORT, {"TcpPort", "tcp_port", NULL}},
        {KEY_HTTP_PORT, {"HttpPort", "http_port", NULL}},
        {KEY_MAX_PACKET_SIZE, {"MaxPacketSize", "max_packet_size", NULL}},
        {KEY_SEND_BUFFER_SIZE, {"SendBufferSize", "send_buffer_size", NULL}},
        {KEY_MAX_UNSAVED_SIZE, {"MaxUnsavedSize", "max_unsaved_size", NULL}},
        {KEY_ON_DAMAGED_MESSAGES, {"OnDamagedMessages", "on_damaged_messages", NULL}},
        {KEY_LISTEN_BACKLOG, {"ListenBacklog", "listen_backlog", NULL}},
        {KEY_MAX_CONNECTIONS, {"MaxConnections", "max_connections", NULL}},
        {KEY_GREETING_TIMEOUT, {"GreetingTimeout", "greeting_timeout", NULL}},
        {KEY_PACKET_RECEIVE_TIMEOUT, {"PacketReceiveTimeout", "packet_receive_timeout", NULL}},
        {KEY_MAX_INCOMPLETE_PACKETS_SIZE,
         {"MaxIncompletePacketsSize", "max_incomplete_packets_size", NULL}},
        MSB_HTTP_LIMITS_CONFIG_KEYS(KEY_HTTP_MAX_BODY_SIZE, KEY_HTTP_IDLE_TIMEOUT,
                                    KEY_HTTP_REQUEST_TIMEOUT, KEY_HTTP_MAX_CONNECTIONS,
                                    KEY_HTTP_LISTEN_BACKLOG),
        {KEY_HTTP_LISTEN_ADDRESS, {"HttpListenAddress", "http_listen_address", NULL}},
        {KEY_HTTP_ADMIN_TOKEN, {"HttpAdminToken", "http_admin_token", NULL}},
        {KEY_HTTP_CORS_ORIGIN, {"HttpCorsOrigin", "http_cors_origin", NULL}},
        {KEY_HTTP_SESSION_TIMEOUT, {"HttpSessionTimeout", "http_session_timeout", NULL}},
        {KEY_HTTP_AWAIT_TIMEOUT, {"HttpAwaitTimeout", "http_await_timeout", NULL}},
        {KEY_HTTP_MAX_SESSIONS, {"HttpMaxSessions", "http_max_sessions", NULL}},
        {KEY_DBUS_ADMIN_GROUP, {"DBusAdminGroup", "dbus_admin_group", NULL}},
        {KEY_GRPC_TIMEOUT_SECS, {"GrpcTimeoutSecs", NULL}},
        {KEY_PERSIST_TIMER_INTERVAL, {"PersistTimerInterval", "persist_timer_interval", NULL}},
        {KEY_PERSIST_TIMER_INTERVAL_SECS, {"PersistTimerIntervalSecs", NULL}},
};

/*
 * The settings a running broker takes over from its file on SIGHUP (docs/settings.md); every
 * other key needs a restart. Add one line here to make a setting reloadable, once whatever uses
 * it reads the current value (msb_server_apply_settings()).
 */
static const MsbConfigReloadable settings_reloadable[] = {
        MSB_CONFIG_RELOADABLE(MsbSettings, "DebugMode", debug_mode),
        MSB_CONFIG_RELOADABLE(MsbSettings, "EventuallyPersistenceDelay",
                              eventually_persistence_delay_us),
        MSB_CONFIG_RELOADABLE(MsbSettings, "QueueGcTimeout", queue_gc_timeout_us),
        MSB_CONFIG_RELOADABLE(MsbSettings, "DeliveryTimeout", delivery_timeout_us),
        MSB_CONFIG_RELOADABLE(MsbSettings, "ConnectionTimeout", connection_timeout_us),
        MSB_CONFIG_RELOADABLE(MsbSettings, "PersistCompressed", persist_compressed),
        MSB_CONFIG_RELOADABLE(MsbSettings, "AutoCreateTopicOnPublish",
                              auto_create_topic_on_publish),
        MSB_CONFIG_RELOADABLE(MsbSettings, "AutoCreateTopicOnSubscribe",
                              auto_create_topic_on_subscribe),
        MSB_CONFIG_RELOADABLE(MsbSettings, "MaxUnsavedSize", max_unsaved_size),
        MSB_CONFIG_RELOADABLE(MsbSettings, "MaxConnections", max_connections),
        MSB_CONFIG_RELOADABLE(MsbSettings, "GreetingTimeout", greeting_timeout_us),
        MSB_CONFIG_RELOADABLE(MsbSettings, "PacketReceiveTimeout", packet_receive_timeout_us),
        MSB_CONFIG_RELOADABLE(MsbSettings, "HttpSessionTimeout", http_session_timeout_us),
        MSB_CONFIG_RELOADABLE(MsbSettings, "HttpAwaitTimeout", http_await_timeout_us),
        MSB_CONFIG_RELOADABLE(MsbSettings, "HttpMaxSessions", http_max_sessions),
        MSB_CONFIG_RELOADABLE(MsbSettings, "DBusAdminGroup", dbus_admin_group),
};

gchar *
msb_settings_get_default_path(void)
{
	return g_build_filename(msb_config_home_dir(), MSB_SETTINGS_FILE_NAME, NULL);
}

/* 4 × MaxDeliverySize, but always room for a full batch and never above the wire's int32 */
static gint64
default_max_packet_size(gint64 max_delivery_size)
{
	gint64 v = MAX(4 * max_delivery_size, max_delivery_size + MSB_PACKET_HEADROOM);

	return MIN(v, MAX_PACKET_SIZE);
}

MsbSettings *
msb_settings_new_defaults(void)
{
	MsbSettings *settings = g_new0(MsbSettings, 1);

	settings->warnings = g_ptr_array_new_with_free_func(g_free);
	settings->grpc_url = g_strdup(MSB_DEFAULT_GRPC_URL);
	settings->eventually_persistence_delay_us = 5 * G_USEC_PER_SEC;
	settings->queue_gc_timeout_us = 20 * G_USEC_PER_SEC;
	settings->delivery_timeout_us = 30 * G_USEC_PER_SEC;
	settings->connection_timeout_us = 20 * G_USEC_PER_SEC;
	settings->debug_mode = FALSE;
	settings->max_delivery_size = MSB_DEFAULT_MAX_DELIVERY_SIZE;
	settings->persist_compressed = FALSE;
	settings->auto_create_topic_on_publish = FALSE;
	settings->auto_create_topic_on_subscribe = FALSE;
	settings->listen_unix_socket = NULL;
	settings->listen_address = g_strdup(MSB_DEFAULT_LISTEN_ADDRESS);
	settings->tcp_port = MSB_DEFAULT_TCP_PORT;
	settings->http_port = MSB_DEFAULT_HTTP_PORT;
	settings->max_packet_size = default_max_packet_size(settings->max_delivery_size);
	settings->send_buffer_size = MSB_DEFAULT_SEND_BUFFER_SIZE;
	settings->max_unsaved_size = MSB_DEFAULT_MAX_UNSAVED_SIZE;
	settings->on_damaged_messages = MSB_ON_DAMAGED_SKIP;
	settings->listen_backlog = 0;
	settings->max_connections = MSB_DEFAULT_MAX_CONNECTIONS;
	settings->greeting_timeout_us = 5 * G_USEC_PER_SEC;
	settings->packet_receive_timeout_us = 60 * G_USEC_PER_SEC;
	settings->max_incomplete_packets_size =
	        MAX(MSB_DEFAULT_MAX_INCOMPLETE_PACKETS_SIZE, settings->max_packet_size);
	msb_http_limits_init(&settings->http, MSB_DEFAULT_HTTP_MAX_BODY_SIZE);
	settings->http_session_timeout_us = MSB_DEFAULT_HTTP_SESSION_TIMEOUT_US;
	settings->http_await_timeout_us = MSB_DEFAULT_HTTP_AWAIT_TIMEOUT_US;
	settings->http_max_sessions = MSB_DEFAULT_HTTP_MAX_SESSIONS;
	g_strlcpy(settings->dbus_admin_group, MSB_DEFAULT_DBUS_ADMIN_GROUP,
	          sizeof(settings->dbus_admin_group));
	return settings;
}

void
msb_settings_free(MsbSettings *settings)
{
	if (settings == NULL)
		return;
	g_free(settings->source);
	g_clear_pointer(&settings->warnings, g_ptr_array_unref);
	g_free(settings->grpc_url);
	g_free(settings->listen_unix_socket);
	g_free(settings->listen_address);
	g_free(settings->http_listen_address);
	g_free(settings->http_admin_token);
	g_free(settings->http_cors_origin);
	g_free(settings);
}

static gboolean
read_grpc_url(MsbConfigFile *cf, MsbSettings *settings, GError **error)
{
	const gchar *value = NULL;
	const gchar *scheme;
	const gchar *expected = _("expected an http:// URL such as http://127.0.0.1:7124, a Unix "
	                          "socket such as unix:/run/msb-persistence.sock, or none to keep "
	                          "messages in memory only");
	g_autoptr(GUri) uri = NULL;
	g_autofree gchar *shown = NULL;

	if (!msb_config_file_get_string(cf, KEY_GRPC_URL, &value, error))
		return FALSE;
	if (value == NULL)
		return TRUE;
	if (g_ascii_strcasecmp(value, "none") == 0) {
		g_clear_pointer(&settings->grpc_url, g_free);
		return TRUE;
	}
	shown = msb_config_quote(value);
	if (g_str_has_prefix(value, "unix:")) {
		if (value[5] != '/')
			return msb_config_file_set_error(
			        cf, KEY_GRPC_URL, error,
			        _("%s is not an absolute socket path (%s)"), shown, expected);
		g_free(settings->grpc_url);
		settings->grpc_url = g_strdup(value);
		return TRUE;
	}
	uri = g_uri_parse(value, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL)
		return msb_config_file_set_error(cf, KEY_GRPC_URL, error, _("%s is not a URL (%s)"),
		                                 shown, expected);
	scheme = g_uri_get_scheme(uri);
	if (g_ascii_strcasecmp(scheme, "https") == 0)
		return msb_config_file_set_error(
		        cf, KEY_GRPC_URL, error,
		        _("https: is not supported: the persistence protocol "
		          "is cleartext HTTP/2 (%s)"),
		        expected);
	if (g_ascii_strcasecmp(scheme, "http") != 0)
		return msb_config_file_set_error(cf, KEY_GRPC_URL, error,
		                                 _("the scheme %s: is not supported (%s)"), scheme,
		                                 expected);
	if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0')
		return msb_config_file_set_error(cf, KEY_GRPC_URL, error, _("%s has no host (%s)"),
		                                 shown, expected);
	/* kept as written: the program decides how to reach it */
	g_free(settings->grpc_url);
	settings->grpc_url = g_strdup(value);
	return TRUE;
}

/* 0 (no ceiling) or room for at least one whole packet of MaxPacketSize */
static gboolean
read_incomplete_packets_size(MsbConfigFile *cf, MsbSettings *settings, GError **error)
{
	const MsbConfigEntry *entry;

	settings->max_incomplete_packets_size =
	        MAX(MSB_DEFAULT_MAX_INCOMPLETE_PACKETS_SIZE, settings->max_packet_size);
	if (!msb_config_file_get_size(cf, KEY_MAX_INCOMPLETE_PACKETS_SIZE, 0, G_MAXINT64,
	                              &settings->max_incomplete_packets_size, error))
		return FALSE;
	entry = msb_config_file_lookup(cf, KEY_MAX_INCOMPLETE_PACKETS_SIZE);
	if (entry != NULL && settings->max_incomplete_packets_size != 0 &&
	    settings->max_incomplete_packets_size < settings->max_packet_size) {
		g_autofree gchar *shown = msb_config_quote(entry->value);

		return msb_config_file_set_error(
		        cf, KEY_MAX_INCOMPLETE_PACKETS_SIZE, error,
		        "%s is below MaxPacketSize %" G_GINT64_FORMAT
		        " (expected 0 for no limit, or at least MaxPacketSize so that one whole "
		        "packet can be received)",
		        shown, settings->max_packet_size);
	}
	return TRUE;
}

/* the listeners and the limits on client connections */
static gboolean
read_connection_limits(MsbConfigFile *cf, MsbSettings *settings, GError **error)
{
	gint64 backlog = settings->listen_backlog;

	if (!msb_config_file_get_int64(cf, KEY_LISTEN_BACKLOG, 0, 65535, &backlog, error))
		return FALSE;
	settings->listen_backlog = (gint)backlog;
	if (!msb_config_file_get_int64(cf, KEY_MAX_CONNECTIONS, 1, G_MAXINT32,
	                               &settings->max_connections, error))
		return FALSE;
	if (!msb_config_file_get_duration(cf, KEY_GREETING_TIMEOUT, MIN_DELIVERY_TIMEOUT_US,
	                                  MSB_SETTINGS_MAX_DURATION_US,
	                                  &settings->greeting_timeout_us, error))
		return FALSE;
	return msb_config_file_get_duration(cf, KEY_PACKET_RECEIVE_TIMEOUT, MIN_DELIVERY_TIMEOUT_US,
	                                    MSB_SETTINGS_MAX_DURATION_US,
	                                    &settings->packet_receive_timeout_us, error);
}

static gboolean
read_sizes(MsbConfigFile *cf, MsbSettings *settings, GError **error)
{
	const MsbConfigEntry *mds_entry;
	const MsbConfigEntry *mps_entry;

	if (!msb_config_file_get_size(cf, KEY_MAX_DELIVERY_SIZE, 1, MAX_DELIVERY_SIZE,
	                              &settings->max_delivery_size, error))
		return FALSE;
	settings->max_packet_size = default_max_packet_size(settings->max_delivery_size);
	if (!msb_config_file_get_size(cf, KEY_MAX_PACKET_SIZE, MSB_PACKET_HEADROOM, MAX_PACKET_SIZE,
	                              &settings->max_packet_size, error))
		return FALSE;
	/*
	 * A delivery batch of MaxDeliverySize bytes plus its framing must fit in one packet. The
	 * default always does, so only a MaxPacketSize from the file can fail this.
	 */
	mps_entry = msb_config_file_lookup(cf, KEY_MAX_PACKET_SIZE);
	if (mps_entry != NULL &&
	    settings->max_packet_size < settings->max_delivery_size + MSB_PACKET_HEADROOM) {
		const gchar *mds_key = "MaxDeliverySize";
		g_autofree gchar *shown = NULL;

		shown = msb_config_quote(mps_entry->value);
		mds_entry = msb_config_file_lookup(cf, KEY_MAX_DELIVERY_SIZE);
		if (mds_entry != NULL)
			mds_key = mds_entry->key;
		return msb_config_file_set_error(
		        cf, KEY_MAX_PACKET_SIZE, error,
		        _("%s is too small for %s %lld (expected at least %lld bytes, %s + %d, so "
		          "that a full delivery batch fits in one packet)"),
		        shown, mds_key, (long long)settings->max_delivery_size,
		        (long long)(settings->max_delivery_size + MSB_PACKET_HEADROOM), mds_key,
		        MSB_PACKET_HEADROOM);
	}
	if (!msb_config_file_get_size(cf, KEY_SEND_BUFFER_SIZE, MIN_SEND_BUFFER_SIZE, G_MAXINT64,
	                              &settings->send_buffer_size, error))
		return FALSE;
	/* 0: no ceiling (the broker may then grow until the system runs out of memory) */
	if (!msb_config_file_get_size(cf, KEY_MAX_UNSAVED_SIZE, 0, G_MAXINT64,
	                              &settings->max_unsaved_size, error))
		return FALSE;
	return read_incomplete_packets_size(cf, settings, error);
}

const gchar *
msb_on_damaged_to_string(MsbOnDamaged value)
{
	return value == MSB_ON_DAMAGED_WAIT ? "wait" : "skip";
}

/* OnDamagedMessages: skip | wait, case-insensitive */
static gboolean
read_on_damaged(MsbConfigFile *cf, MsbSettings *settings, GError **error)
{
	const gchar *value = NULL;
	g_autofree gchar *shown = NULL;

	if (!msb_config_file_get_string(cf, KEY_ON_DAMAGED_MESSAGES, &value, error))
		return FALSE;
	if (value == NULL)
		return TRUE;
	if (g_ascii_strcasecmp(value, "skip") == 0) {
		settings->on_damaged_messages = MSB_ON_DAMAGED_SKIP;
		return TRUE;
	}
	if (g_ascii_strcasecmp(value, "wait") == 0) {
		settings->on_damaged_messages = MSB_ON_DAMAGED_WAIT;
		return TRUE;
	}
	shown = msb_config_quote(value);
	return msb_config_file_set_error(
	        cf, KEY_ON_DAMAGED_MESSAGES, error,
	        _("%s is not a choice (expected skip, to deliver what can "
	          "be loaded and count the rest as lost, or wait, to retry "
	          "for ever)"),
	        shown);
}

static gboolean
read_legacy(MsbConfigFile *cf, GError **error)
{
	gint64 secs = 0;
	gint64 us = 0;

	/* checked first, so that a typo in a key we ignore still gets noticed */
	if (!msb_config_file_get_int64(cf, KEY_GRPC_TIMEOUT_SECS, 0, G_MAXINT32, &secs, error))
		return FALSE;
	if (msb_config_file_lookup(cf, KEY_GRPC_TIMEOUT_SECS) != NULL)
		msb_config_file_warn(
		        cf, KEY_GRPC_TIMEOUT_SECS,
		        _("ignored (a setting of My Service Bus 2.5 and older; calls to "
		          "persistence have their own timeouts)"));
	if (!msb_config_file_get_duration(cf, KEY_PERSIST_TIMER_INTERVAL, 0,
	                                  MSB_SETTINGS_MAX_DURATION_US, &us, error))
		return FALSE;
	if (msb_config_file_lookup(cf, KEY_PERSIST_TIMER_INTERVAL) != NULL)
		msb_config_file_warn(
		        cf, KEY_PERSIST_TIMER_INTERVAL,
		        _("ignored (a setting of My Service Bus 2.7.1 and older; messages "
		          "are persisted within EventuallyPersistenceDelay)"));
	if (!msb_config_file_get_int64(cf, KEY_PERSIST_TIMER_INTERVAL_SECS, 0, G_MAXINT32, &secs,
	                               error))
		return FALSE;
	if (msb_config_file_lookup(cf, KEY_PERSIST_TIMER_INTERVAL_SECS) != NULL)
		msb_config_file_warn(
		        cf, KEY_PERSIST_TIMER_INTERVAL_SECS,
		        _("ignored (a setting of My Service Bus 2.5 and older; messages "
		          "are persisted within EventuallyPersistenceDelay)"));
	return TRUE;
}

/* HTTP sessions (node.md §2.6, §6.3); an Await must end before HttpRequestTimeout cuts it */
static gboolean
read_http_sessions(MsbConfigFile *cf, MsbSettings *settings, GError **error)
{
	const MsbConfigEntry *entry;

	if (!msb_config_file_get_duration(cf, KEY_HTTP_SESSION_TIMEOUT, MIN_DELIVERY_TIMEOUT_US,
	                                  MSB_SETTINGS_MAX_DURATION_US,
	                                  &settings->http_session_timeout_us, error))
		return FALSE;
	if (!msb_config_file_get_duration(cf, KEY_HTTP_AWAIT_TIMEOUT, MIN_DELIVERY_TIMEOUT_US,
	                                  MSB_SETTINGS_MAX_DURATION_US,
	                                  &settings->http_await_timeout_us, error))
		return FALSE;
	if (!msb_config_file_get_int64(cf, KEY_HTTP_MAX_SESSIONS, 1, MSB_SETTINGS_MAX_HTTP_SESSIONS,
	                               &settings->http_max_sessions, error))
		return FALSE;
	if (settings->http_await_timeout_us < settings->http.request_timeout_us)
		return TRUE;
	entry = msb_config_file_lookup(cf, KEY_HTTP_AWAIT_TIMEOUT);
	if (entry != NULL) {
		g_autofree gchar *shown = msb_config_quote(entry->value);
		g_autofree gchar *limit = msb_duration_to_string(settings->http.request_timeout_us);

		return msb_config_file_set_error(
		        cf, KEY_HTTP_AWAIT_TIMEOUT, error,
		        _("%s is not below HttpRequestTimeout %s (expected a shorter wait, so that "
		          "an Await is answered before its request is cut)"),
		        shown, limit);
	}
	/* the default wait, with a HttpRequestTimeout set below it */
	settings->http_await_timeout_us = settings->http.request_timeout_us / 2;
	return TRUE;
}

static const MsbHttpLimitKeys http_keys = {
        KEY_HTTP_MAX_BODY_SIZE,   KEY_HTTP_IDLE_TIMEOUT,   KEY_HTTP_REQUEST_TIMEOUT,
        KEY_HTTP_MAX_CONNECTIONS, KEY_HTTP_LISTEN_BACKLOG,
};

/* HttpListenAddress, HttpAdminToken, HttpCorsOrigin */
static gboolean
read_http_access(MsbConfigFile *cf, MsbSettings *settings, GError **error)
{
	const gchar *token = NULL;
	const gchar *origin = NULL;

	if (!msb_config_file_get_ip_address(cf, KEY_HTTP_LISTEN_ADDRESS,
	                                    &settings->http_listen_address, error))
		return FALSE;
	if (!msb_config_file_get_string(cf, KEY_HTTP_ADMIN_TOKEN, &token, error))
		return FALSE;
	if (token != NULL && token[0] != '\0') {
		/* a header value: printable ASCII, no blanks (a token that a shell or a YAML editor
		 * cut in two should fail here, not on every request) */
		for (const gchar *p = token; *p != '\0'; p++) {
			if (*p <= 0x20 || *p >= 0x7f)
				return msb_config_file_set_error(
				        cf, KEY_HTTP_ADMIN_TOKEN, error,
				        _("the token must be printable ASCII without spaces"));
		}
		if (strlen(token) < 16)
			return msb_config_file_set_error(
			        cf, KEY_HTTP_ADMIN_TOKEN, error,
			        _("the token is %zu characters long (expected at least 16; for "
			          "example the output of: openssl rand -hex 32)"),
			        strlen(token));
		settings->http_admin_token = g_strdup(token);
	}
	if (!msb_config_file_get_string(cf, KEY_HTTP_CORS_ORIGIN, &origin, error))
		return FALSE;
	if (origin != NULL && origin[0] != '\0') {
		if (strcmp(origin, "*") != 0 && !g_str_has_prefix(origin, "http://") &&
		    !g_str_has_prefix(origin, "https://"))
			return msb_config_file_set_error(
			        cf, KEY_HTTP_CORS_ORIGIN, error,
			        _("expected an origin such as https://ops.example.com, or *"));
		for (const gchar *p = origin; *p != '\0'; p++) {
			if (*p <= 0x20 || *p >= 0x7f)
				return msb_config_file_set_error(cf, KEY_HTTP_CORS_ORIGIN, error,
				                                 _("an origin has no spaces or "
				                                   "non-ASCII characters"));
		}
		settings->http_cors_origin = g_strdup(origin);
	}
	return TRUE;
}

/* DBusAdminGroup: a group name as user databases take them */
static gboolean
read_dbus_admin_group(MsbConfigFile *cf, MsbSettings *settings, GError **error)
{
	const gchar *value = NULL;
	gsize len;

	if (!msb_config_file_get_string(cf, KEY_DBUS_ADMIN_GROUP, &value, error))
		return FALSE;
	if (value == NULL)
		return TRUE;
	len = strlen(value);
	if (len > MSB_SETTINGS_MAX_GROUP_NAME)
		return msb_config_file_set_error(
		        cf, KEY_DBUS_ADMIN_GROUP, error,
		        _("the group name is %zu characters long (expected at most %d)"), len,
		        MSB_SETTINGS_MAX_GROUP_NAME);
	for (gsize i = 0; i < len; i++) {
		gchar c = value[i];

		if (g_ascii_isalnum(c) || c == '_' || c == '.' || (c == '-' && i > 0) ||
		    (c == '$' && i == len - 1 && i > 0))
			continue;
		return msb_config_file_set_error(
		        cf, KEY_DBUS_ADMIN_GROUP, error,
		        _("expected a group name such as myservicebus (letters, digits, '_', '.', "
		          "'-' after the first character; empty: only uid 0 may manage the "
		          "broker)"));
	}
	g_strlcpy(settings->dbus_admin_group, value, sizeof(settings->dbus_admin_group));
	return TRUE;
}

static MsbSettings *
settings_from_config(MsbConfigFile *cf, GError **error)
{
	g_autoptr(MsbSettings) settings = msb_settings_new_defaults();
	GPtrArray *warnings;

	if (!msb_config_file_bind(cf, settings_keys, G_N_ELEMENTS(settings_keys), error))
		return NULL;

	if (!read_grpc_url(cf, settings, error))
		return NULL;
	if (!msb_config_file_get_duration(cf, KEY_EVENTUALLY_PERSISTENCE_DELAY, 0,
	                                  MSB_SETTINGS_MAX_DURATION_US,
	                                  &settings->eventually_persistence_delay_us, error))
		return NULL;
	if (!msb_config_file_get_duration(cf, KEY_QUEUE_GC_TIMEOUT, 0, MSB_SETTINGS_MAX_DURATION_US,
	                                  &settings->queue_gc_timeout_us, error))
		return NULL;
	if (!msb_config_file_get_duration(cf, KEY_DELIVERY_TIMEOUT, MIN_DELIVERY_TIMEOUT_US,
	                                  MSB_SETTINGS_MAX_DURATION_US,
	                                  &settings->delivery_timeout_us, error))
		return NULL;
	if (!msb_config_file_get_duration(cf, KEY_CONNECTION_TIMEOUT, MIN_DELIVERY_TIMEOUT_US,
	                                  MSB_SETTINGS_MAX_DURATION_US,
	                                  &settings->connection_timeout_us, error))
		return NULL;
	if (!msb_config_file_get_bool(cf, KEY_DEBUG_MODE, &settings->debug_mode, error))
		return NULL;
	if (!msb_config_file_get_bool(cf, KEY_PERSIST_COMPRESSED, &settings->persist_compressed,
	                              error))
		return NULL;
	if (!msb_config_file_get_bool(cf, KEY_AUTO_CREATE_TOPIC_ON_PUBLISH,
	                              &settings->auto_create_topic_on_publish, error))
		return NULL;
	if (!msb_config_file_get_bool(cf, KEY_AUTO_CREATE_TOPIC_ON_SUBSCRIBE,
	                              &settings->auto_create_topic_on_subscribe, error))
		return NULL;
	if (!msb_config_file_get_socket_path(cf, KEY_LISTEN_UNIX_SOCKET,
	                                     &settings->listen_unix_socket, error))
		return NULL;
	if (!msb_config_file_get_ip_address(cf, KEY_LISTEN_ADDRESS, &settings->listen_address,
	                                    error))
		return NULL;
	if (!msb_config_file_get_port(cf, KEY_TCP_PORT, &settings->tcp_port, error))
		return NULL;
	if (!msb_config_file_get_port(cf, KEY_HTTP_PORT, &settings->http_port, error))
		return NULL;
	/* both listen on ListenAddress, so one port for both can never start */
	if (settings->tcp_port == settings->http_port) {
		gint id = msb_config_file_lookup(cf, KEY_HTTP_PORT) != NULL ? KEY_HTTP_PORT
		                                                            : KEY_TCP_PORT;

		msb_config_file_set_error(
		        cf, id, error,
		        _("TcpPort and HttpPort are both %u (expected two different "
		          "ports)"),
		        settings->tcp_port);
		return NULL;
	}
	if (!read_sizes(cf, settings, error))
		return NULL;
	if (!read_on_damaged(cf, settings, error))
		return NULL;
	if (!read_connection_limits(cf, settings, error))
		return NULL;
	if (!msb_http_limits_read(&settings->http, cf, &http_keys, error))
		return NULL;
	if (!read_http_access(cf, settings, error))
		return NULL;
	if (!read_http_sessions(cf, settings, error))
		return NULL;
	if (!read_dbus_admin_group(cf, settings, error))
		return NULL;
	if (!read_legacy(cf, error))
		return NULL;

	warnings = msb_config_file_get_warnings(cf);
	for (guint i = 0; i < warnings->len; i++)
		g_ptr_array_add(settings->warnings, g_strdup(g_ptr_array_index(warnings, i)));
	settings->source = g_strdup(msb_config_file_get_origin(cf));
	return g_steal_pointer(&settings);
}

MsbSettings *
msb_settings_load_from_data(const gchar *data, gsize len, const gchar *origin, GError **error)
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

MsbSettings *
msb_settings_load(const gchar *path, GError **error)
{
	g_autoptr(MsbConfigFile) cf = NULL;
	g_autofree gchar *home_path = NULL;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (path == NULL)
		home_path = msb_settings_get_default_path();
	cf = msb_config_file_open(path, home_path, &error_local);
	if (cf == NULL && error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (cf == NULL)
		return msb_settings_new_defaults();
	return settings_from_config(cf, error);
}

gchar *
msb_settings_to_string(const MsbSettings *settings)
{
	GString *out;
	g_autofree gchar *epd = NULL;
	g_autofree gchar *qgt = NULL;
	g_autofree gchar *dt = NULL;
	g_autofree gchar *ct = NULL;
	g_autofree gchar *gt = NULL;
	g_autofree gchar *prt = NULL;
	g_autofree gchar *hst = NULL;
	g_autofree gchar *hat = NULL;

	g_return_val_if_fail(settings != NULL, NULL);

	epd = msb_duration_to_string(settings->eventually_persistence_delay_us);
	qgt = msb_duration_to_string(settings->queue_gc_timeout_us);
	dt = msb_duration_to_string(settings->delivery_timeout_us);
	ct = msb_duration_to_string(settings->connection_timeout_us);
	gt = msb_duration_to_string(settings->greeting_timeout_us);
	prt = msb_duration_to_string(settings->packet_receive_timeout_us);
	hst = msb_duration_to_string(settings->http_session_timeout_us);
	hat = msb_duration_to_string(settings->http_await_timeout_us);

	out = g_string_new("GrpcUrl: ");
	if (settings->grpc_url != NULL)
		msb_config_append_quoted(out, settings->grpc_url);
	else
		g_string_append(out, "none");
	g_string_append_printf(out, "\nEventuallyPersistenceDelay: %s", epd);
	g_string_append_printf(out, "\nQueueGcTimeout: %s", qgt);
	g_string_append_printf(out, "\nDeliveryTimeout: %s", dt);
	g_string_append_printf(out, "\nConnectionTimeout: %s", ct);
	g_string_append_printf(out, "\nDebugMode: %s", settings->debug_mode ? "true" : "false");
	g_string_append_printf(out, "\nMaxDeliverySize: %" G_GINT64_FORMAT,
	                       settings->max_delivery_size);
	g_string_append_printf(out, "\nPersistCompressed: %s",
	                       settings->persist_compressed ? "true" : "false");
	g_string_append_printf(out, "\nAutoCreateTopicOnPublish: %s",
	                       settings->auto_create_topic_on_publish ? "true" : "false");
	g_string_append_printf(out, "\nAutoCreateTopicOnSubscribe: %s",
	                       settings->auto_create_topic_on_subscribe ? "true" : "false");
	g_string_append(out, "\nListenUnixSocket: ");
	if (settings->listen_unix_socket != NULL)
		msb_config_append_quoted(out, settings->listen_unix_socket);
	g_string_append(out, "\nListenAddress: ");
	msb_config_append_quoted(out, settings->listen_address != NULL
	                                      ? settings->listen_address
	                                      : MSB_DEFAULT_LISTEN_ADDRESS);
	g_string_append_printf(out, "\nTcpPort: %u", settings->tcp_port);
	g_string_append_printf(out, "\nHttpPort: %u", settings->http_port);
	g_string_append_printf(out, "\nMaxPacketSize: %" G_GINT64_FORMAT,
	                       settings->max_packet_size);
	g_string_append_printf(out, "\nSendBufferSize: %" G_GINT64_FORMAT,
	                       settings->send_buffer_size);
	g_string_append_printf(out, "\nMaxUnsavedSize: %" G_GINT64_FORMAT,
	                       settings->max_unsaved_size);
	g_string_append_printf(out, "\nOnDamagedMessages: %s",
	                       msb_on_damaged_to_string(settings->on_damaged_messages));
	g_string_append_printf(out, "\nListenBacklog: %d", settings->listen_backlog);
	g_string_append_printf(out, "\nMaxConnections: %" G_GINT64_FORMAT,
	                       settings->max_connections);
	g_string_append_printf(out, "\nGreetingTimeout: %s", gt);
	g_string_append_printf(out, "\nPacketReceiveTimeout: %s", prt);
	g_string_append_printf(out, "\nMaxIncompletePacketsSize: %" G_GINT64_FORMAT,
	                       settings->max_incomplete_packets_size);
	msb_http_limits_append(&settings->http, out);
	/* unset follows ListenAddress, which an empty value could not say */
	if (settings->http_listen_address != NULL) {
		g_string_append(out, "\nHttpListenAddress: ");
		msb_config_append_quoted(out, settings->http_listen_address);
	}
	/* the token itself never goes into a log line: a fingerprint tells a change */
	g_string_append(out, "\nHttpAdminToken: ");
	if (settings->http_admin_token != NULL) {
		g_autofree gchar *sum = g_compute_checksum_for_string(
		        G_CHECKSUM_SHA256, settings->http_admin_token, -1);
		g_string_append_printf(out, "set (sha256 %.8s…)", sum);
	}
	g_string_append(out, "\nHttpCorsOrigin: ");
	if (settings->http_cors_origin != NULL)
		msb_config_append_quoted(out, settings->http_cors_origin);
	g_string_append_printf(out, "\nHttpSessionTimeout: %s", hst);
	g_string_append_printf(out, "\nHttpAwaitTimeout: %s", hat);
	g_string_append_printf(out, "\nHttpMaxSessions: %" G_GINT64_FORMAT,
	                       settings->http_max_sessions);
	g_string_append(out, "\nDBusAdminGroup: ");
	msb_config_append_quoted(out, settings->dbus_admin_group);
	g_string_append_c(out, '\n');
	return g_string_free(out, FALSE);
}

GPtrArray *
msb_settings_reload(MsbSettings *current, const MsbSettings *loaded)
{
	g_autofree gchar *old_text = NULL;
	g_autofree gchar *new_text = NULL;
	GPtrArray *changes;

	g_return_val_if_fail(current != NULL, NULL);
	g_return_val_if_fail(loaded != NULL, NULL);

	old_text = msb_settings_to_string(current);
	new_text = msb_settings_to_string(loaded);
	changes = msb_config_diff(old_text, new_text, settings_reloadable,
	                          G_N_ELEMENTS(settings_reloadable));
	msb_config_apply_changes(current, loaded, changes);
	return changes;
}
