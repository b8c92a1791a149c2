/*
 * MsbHttpLimits: the limits of an HTTP listener (body size, idle and request deadlines,
 * connection cap, listen backlog) and how both programs read them from their settings file. The
 * values are enforced by MsbHttpServer (msb-http-server.h); this file does no I/O, so the
 * settings modules can use it without linking libsoup.
 */
#pragma once

#include <glib.h>

#include "msb-config-file.h"

G_BEGIN_DECLS

/* Linux caps any backlog at net.core.somaxconn; SOMAXCONN is 4096 since Linux 5.4 */
#define MSB_HTTP_DEFAULT_LISTEN_BACKLOG     4096
#define MSB_HTTP_DEFAULT_IDLE_TIMEOUT_US    (60 * G_USEC_PER_SEC)
#define MSB_HTTP_DEFAULT_REQUEST_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define MSB_HTTP_DEFAULT_MAX_CONNECTIONS    1024
#define MSB_HTTP_MAX_BODY_SIZE_LIMIT        (G_GINT64_CONSTANT(1024) * 1024 * 1024)

typedef struct {
	gint64 max_body_size;      /* HttpMaxBodySize: bytes of one request body */
	gint64 idle_timeout_us;    /* HttpIdleTimeout: a connection waiting for a request */
	gint64 request_timeout_us; /* HttpRequestTimeout: first byte of a request to its answer */
	gint64 max_connections;    /* HttpMaxConnections: open HTTP connections at once */
	gint64 listen_backlog;     /* HttpListenBacklog: connections the kernel queues for us */
} MsbHttpLimits;

/* The setting ids a program gave the five keys in its MsbConfigKey table. */
typedef struct {
	gint max_body_size;
	gint idle_timeout;
	gint request_timeout;
	gint max_connections;
	gint listen_backlog;
} MsbHttpLimitKeys;

/* The five MsbConfigKey rows, so that both programs spell the keys the same way. */
/* clang-format off */
#define MSB_HTTP_LIMITS_CONFIG_KEYS(body, idle, request, conns, backlog)                  \
	{body, {"HttpMaxBodySize", "http_max_body_size", NULL}},                          \
	{idle, {"HttpIdleTimeout", "http_idle_timeout", NULL}},                           \
	{request, {"HttpRequestTimeout", "http_request_timeout", NULL}},                  \
	{conns, {"HttpMaxConnections", "http_max_connections", NULL}},                    \
	{backlog, {"HttpListenBacklog", "http_listen_backlog", NULL}}
/* clang-format on */

/* The defaults, with @max_body_size as the program's default body limit. */
void
msb_http_limits_init(MsbHttpLimits *limits, gint64 max_body_size);

/* Read and check the keys the file sets; the others keep their values. */
gboolean
msb_http_limits_read(MsbHttpLimits *limits, MsbConfigFile *cf, const MsbHttpLimitKeys *keys,
                     GError **error);

/* "\nHttpMaxBodySize: ..." lines for a program's settings dump, loadable again. */
void
msb_http_limits_append(const MsbHttpLimits *limits, GString *out);

G_END_DECLS
