/*
 * The settings of my-service-bus-persistence (contract README, "Settings file" and "Programs and
 * files"): where they come from, their defaults and their checks. The file syntax and the typed
 * values are msb-config-file's, shared with the broker, so both programs accept the same
 * spellings and word their errors the same way.
 */
#pragma once

#include <glib.h>

#include "msb-http-limits.h"

G_BEGIN_DECLS

#define MSB_PERSISTENCE_DEFAULT_GRPC_PORT      7124
#define MSB_PERSISTENCE_DEFAULT_HTTP_PORT      7123
#define MSB_PERSISTENCE_DEFAULT_LISTEN_ADDRESS "0.0.0.0"
/* how long a graceful stop waits for calls in flight (saves) before cancelling them */
#define MSB_PERSISTENCE_DEFAULT_SHUTDOWN_TIMEOUT_US (5 * G_USEC_PER_SEC)
/* the file looked for in $HOME when no --settings is given */
#define MSB_PERSISTENCE_SETTINGS_FILE_NAME ".myservicebus-persistence"
/* the folder under $XDG_DATA_HOME that holds the data when DataPath is not set */
#define MSB_PERSISTENCE_DATA_DIR_NAME "my-service-bus-persistence"
/* HttpMaxBodySize: the service's HTTP port only answers GET, so no legal request has a body */
#define MSB_PERSISTENCE_DEFAULT_HTTP_MAX_BODY_SIZE (64 * 1024)

typedef struct {
	/* the file the values were read from; NULL when running on built-in defaults */
	gchar *source;
	/* warnings found while reading (unknown keys, ignored "// text", keys of the Rust service
	 * that mean nothing here), for the caller to log */
	GPtrArray *warnings;

	/* DataPath / data_path / data: "~/" expanded, trailing '/' removed; default
	 * $XDG_DATA_HOME/my-service-bus-persistence */
	gchar *data_path;
	guint16 grpc_port;          /* GrpcPort, default 7124 */
	guint16 http_port;          /* HttpPort, default 7123 */
	gchar *listen_unix_socket;  /* ListenUnixSocket: an extra gRPC listener; NULL = off */
	gchar *listen_address;      /* ListenAddress (ours), default 0.0.0.0, for gRPC and HTTP */
	gint64 shutdown_timeout_us; /* ShutdownTimeout (ours), default 5 s */
	/* HttpMaxBodySize, HttpIdleTimeout, HttpRequestTimeout, HttpMaxConnections,
	 * HttpListenBacklog: the limits of the HTTP port */
	MsbHttpLimits http;
} MsbPersistenceSettings;

MsbPersistenceSettings *
msb_persistence_settings_new_defaults(void);

/* $HOME/.myservicebus-persistence, with $HOME read now. */
gchar *
msb_persistence_settings_get_default_path(void);

/*
 * Load from @path if given (it must exist), else from $HOME/.myservicebus-persistence if that
 * exists, else return the built-in defaults. Errors name the file, the line, the key and what
 * was expected.
 */
MsbPersistenceSettings *
msb_persistence_settings_load(const gchar *path, GError **error);

/* Parse settings text; @origin names it in messages. */
MsbPersistenceSettings *
msb_persistence_settings_load_from_data(const gchar *data, gsize len, const gchar *origin,
                                        GError **error);

/* The settings as "Key: Value" lines (PascalCase keys) for the start-up log; loading the text
 * gives the same values back. */
gchar *
msb_persistence_settings_to_string(const MsbPersistenceSettings *settings);

/*
 * SIGHUP: compare @loaded (the file read again, command-line overrides applied) with @current,
 * copy the settings that can change at run time into @current and return every change
 * (MsbConfigChange*, see msb-config-diff.h; those with reloadable NULL need a restart).
 */
GPtrArray *
msb_persistence_settings_reload(MsbPersistenceSettings *current,
                                const MsbPersistenceSettings *loaded);

void
msb_persistence_settings_free(MsbPersistenceSettings *settings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbPersistenceSettings, msb_persistence_settings_free)

G_END_DECLS
