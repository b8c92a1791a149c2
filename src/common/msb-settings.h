/*
 * The broker's settings (contract README, "Settings file"): where they come from, their defaults
 * and their validation. Parsing of the file format itself is in msb-config-file.{c,h}, shared with
 * the persistence service; this file maps keys onto MsbSettings.
 */
#pragma once

#include <glib.h>

#include "msb-http-limits.h"

G_BEGIN_DECLS

#define MSB_DEFAULT_TCP_PORT                    6421
#define MSB_DEFAULT_HTTP_PORT                   6123
#define MSB_DEFAULT_GRPC_URL                    "http://127.0.0.1:7124"
#define MSB_DEFAULT_MAX_DELIVERY_SIZE           4194304
#define MSB_DEFAULT_MAX_UNSAVED_SIZE            (G_GINT64_CONSTANT(1024) * 1024 * 1024)
#define MSB_DEFAULT_LISTEN_ADDRESS              "0.0.0.0"
#define MSB_DEFAULT_SEND_BUFFER_SIZE            (4 * 1024 * 1024)
#define MSB_DEFAULT_MAX_CONNECTIONS             10000
#define MSB_DEFAULT_MAX_INCOMPLETE_PACKETS_SIZE (G_GINT64_CONSTANT(256) * 1024 * 1024)
/*
 * HttpMaxBodySize: a REST publish of MaxDeliverySize (4 MiB) of content is about 5.4 MiB once
 * base64-encoded in JSON; 8 MiB leaves room for headers and many small messages
 */
#define MSB_DEFAULT_HTTP_MAX_BODY_SIZE (8 * 1024 * 1024)
/* HttpSessionTimeout and HttpAwaitTimeout (node.md §2.6, §6.3) */
#define MSB_DEFAULT_HTTP_SESSION_TIMEOUT_US (60 * G_USEC_PER_SEC)
#define MSB_DEFAULT_HTTP_AWAIT_TIMEOUT_US   (5 * G_USEC_PER_SEC)
/* HttpMaxSessions: open HTTP publisher and subscriber sessions at once (each holds a broker
 * session, its queues' in-flight messages and a decoder); the largest value, so that a typo
 * cannot switch the cap off */
#define MSB_DEFAULT_HTTP_MAX_SESSIONS  10000
#define MSB_SETTINGS_MAX_HTTP_SESSIONS 1000000
#define MSB_DEFAULT_DBUS_ADMIN_GROUP   "myservicebus-admin"
/* the longest DBusAdminGroup (user databases allow 32; LDAP names may be longer) */
#define MSB_SETTINGS_MAX_GROUP_NAME 64
/* MaxPacketSize must leave this much room above MaxDeliverySize for a batch's framing */
#define MSB_PACKET_HEADROOM 65536
/* the file looked for in $HOME when no --settings is given */
#define MSB_SETTINGS_FILE_NAME ".myservicebus"
/* no duration setting may exceed this (365 days), so that now + duration never overflows */
#define MSB_SETTINGS_MAX_DURATION_US (G_GINT64_CONSTANT(365) * 24 * 3600 * G_USEC_PER_SEC)

/* OnDamagedMessages: what the broker does with ids persistence reports as damaged (DATA_LOSS) */
typedef enum {
	MSB_ON_DAMAGED_SKIP, /* count them as lost and deliver what follows (default) */
	MSB_ON_DAMAGED_WAIT, /* retry loading them, with back-off, for ever */
} MsbOnDamaged;

const gchar *
msb_on_damaged_to_string(MsbOnDamaged value);

typedef struct {
	/* the file the values were read from; NULL when running on built-in defaults */
	gchar *source;
	/* warnings found while reading (unknown keys, ignored "// text"), to be logged by the
	 * caller */
	GPtrArray *warnings;

	/*
	 * GrpcUrl / persistence_grpc_url, default MSB_DEFAULT_GRPC_URL; NULL when "none" (in
	 * memory only). A URL that is set is checked to be http:// or unix:/path and kept as
	 * written.
	 */
	gchar *grpc_url;
	gint64 eventually_persistence_delay_us; /* EventuallyPersistenceDelay, default 5 s */
	gint64 queue_gc_timeout_us;             /* QueueGcTimeout, default 20 s */
	gint64 delivery_timeout_us;             /* DeliveryTimeout, default 30 s */
	/* ConnectionTimeout (ours): a client silent this long is disconnected, default 20 s */
	gint64 connection_timeout_us;
	gboolean debug_mode;                     /* DebugMode, default false */
	gint64 max_delivery_size;                /* MaxDeliverySize, default 4 MiB */
	gboolean persist_compressed;             /* PersistCompressed, default false */
	gboolean auto_create_topic_on_publish;   /* AutoCreateTopicOnPublish, default false */
	gboolean auto_create_topic_on_subscribe; /* AutoCreateTopicOnSubscribe, default false */
	gchar *listen_unix_socket;               /* ListenUnixSocket; NULL = off; "~/" expanded */
	gchar *listen_address;                   /* ListenAddress (ours), default "0.0.0.0" */
	guint16 tcp_port;                        /* TcpPort, default 6421 */
	guint16 http_port;                       /* HttpPort, default 6123 */
	gint64 max_packet_size; /* MaxPacketSize (ours): default 4 × MaxDeliverySize, ≥ 64 KiB */
	gint64 send_buffer_size; /* SendBufferSize (ours): per-connection output cap, default 4 MiB
	                          */
	/* MaxUnsavedSize (ours): publishes are refused while this many content bytes wait to be
	 * saved (persistence down or behind); default 1 GiB, 0 = no limit */
	gint64 max_unsaved_size;
	MsbOnDamaged on_damaged_messages; /* OnDamagedMessages (ours), default skip */
	/* ListenBacklog (ours): connections the kernel queues before they are accepted, for the
	 * TCP and Unix listeners; default 0 = net.core.somaxconn */
	gint listen_backlog;
	/* MaxConnections (ours): client connections beyond this are refused, default 10000 */
	gint64 max_connections;
	/* GreetingTimeout (ours): a connection without a Greeting is closed after this, default
	 * 5 s */
	gint64 greeting_timeout_us;
	/* PacketReceiveTimeout (ours): a packet must be received whole within this of its first
	 * bytes, default 60 s */
	gint64 packet_receive_timeout_us;
	/* MaxIncompletePacketsSize (ours): bytes of unfinished packets held over all connections;
	 * default 256 MiB (at least MaxPacketSize), 0 = no limit */
	gint64 max_incomplete_packets_size;
	/* HttpMaxBodySize, HttpIdleTimeout, HttpRequestTimeout, HttpMaxConnections,
	 * HttpListenBacklog (ours): the limits of the HTTP port */
	MsbHttpLimits http;
	/* HttpListenAddress (ours): the HTTP port's address; NULL = ListenAddress */
	gchar *http_listen_address;
	/* HttpAdminToken (ours): routes that change state need "Authorization: Bearer <token>";
	 * NULL = no token asked (as the reference broker) */
	gchar *http_admin_token;
	/* HttpCorsOrigin (ours): the origin allowed to call the API from a browser; NULL = no CORS
	 * headers */
	gchar *http_cors_origin;
	/* HttpSessionTimeout (node.md §2.6): an HTTP session without a call this long ends,
	 * default 60 s */
	gint64 http_session_timeout_us;
	/* HttpAwaitTimeout (node.md §6.3): how long an Await waits for a package before its
	 * empty answer, default 5 s, below HttpRequestTimeout */
	gint64 http_await_timeout_us;
	/* HttpMaxSessions (ours): a Greeting beyond this many open HTTP sessions is answered 503,
	 * default 10,000, 1 to 1,000,000 */
	gint64 http_max_sessions;
	/* DBusAdminGroup (ours): members may call the D-Bus methods that change state when polkit
	 * does not answer; "" = nobody but uid 0. A fixed buffer so that a reload can copy it. */
	gchar dbus_admin_group[MSB_SETTINGS_MAX_GROUP_NAME + 1];
} MsbSettings;

MsbSettings *
msb_settings_new_defaults(void);

/* $HOME/.myservicebus, with $HOME read now (g_get_home_dir() when HOME is unset or empty). */
gchar *
msb_settings_get_default_path(void);

/*
 * Load from @path if given (it must exist), else from $HOME/.myservicebus if that exists, else
 * return the built-in defaults. Errors name the key, the line and what was expected.
 */
MsbSettings *
msb_settings_load(const gchar *path, GError **error);

/* Parse settings text; @origin names it in error messages (a file name). */
MsbSettings *
msb_settings_load_from_data(const gchar *data, gsize len, const gchar *origin, GError **error);

/*
 * The settings as "Key: Value" lines in the file format (PascalCase keys), for the start-up log;
 * msb_settings_load_from_data() reads them back to the same values.
 */
gchar *
msb_settings_to_string(const MsbSettings *settings);

/*
 * SIGHUP: compare @loaded (the file read again, command-line overrides applied) with @current,
 * copy the settings that can change at run time into @current and return every change
 * (MsbConfigChange*, see msb-config-diff.h; those with reloadable NULL need a restart).
 */
GPtrArray *
msb_settings_reload(MsbSettings *current, const MsbSettings *loaded);

void
msb_settings_free(MsbSettings *settings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbSettings, msb_settings_free)

G_END_DECLS
