/*
 * MsbHttpLimits: defaults, the checks on the five HTTP settings and their dump. Shared by the
 * broker's and the persistence service's settings so that the keys read and fail alike.
 */
#define G_LOG_DOMAIN "msb-http-limits"

#include "msb-http-limits.h"

#include "msb-duration.h"

/* the main loop's timers do not resolve below a millisecond */
#define MIN_TIMEOUT_US (G_GINT64_CONSTANT(1000))
/* as for every other duration setting, so that now + timeout never overflows */
#define MAX_TIMEOUT_US      (G_GINT64_CONSTANT(365) * 24 * 3600 * G_USEC_PER_SEC)
#define MAX_MAX_CONNECTIONS 1000000
/* listen() takes an int, and kernels before 5.4 kept the backlog in 16 bits */
#define MAX_LISTEN_BACKLOG 65535

void
msb_http_limits_init(MsbHttpLimits *limits, gint64 max_body_size)
{
	g_return_if_fail(limits != NULL);
	limits->max_body_size = max_body_size;
	limits->idle_timeout_us = MSB_HTTP_DEFAULT_IDLE_TIMEOUT_US;
	limits->request_timeout_us = MSB_HTTP_DEFAULT_REQUEST_TIMEOUT_US;
	limits->max_connections = MSB_HTTP_DEFAULT_MAX_CONNECTIONS;
	limits->listen_backlog = MSB_HTTP_DEFAULT_LISTEN_BACKLOG;
}

gboolean
msb_http_limits_read(MsbHttpLimits *limits, MsbConfigFile *cf, const MsbHttpLimitKeys *keys,
                     GError **error)
{
	g_return_val_if_fail(limits != NULL, FALSE);
	g_return_val_if_fail(cf != NULL, FALSE);
	g_return_val_if_fail(keys != NULL, FALSE);

	/* 0 is allowed: then no request may have a body at all */
	if (!msb_config_file_get_size(cf, keys->max_body_size, 0, MSB_HTTP_MAX_BODY_SIZE_LIMIT,
	                              &limits->max_body_size, error))
		return FALSE;
	if (!msb_config_file_get_duration(cf, keys->idle_timeout, MIN_TIMEOUT_US, MAX_TIMEOUT_US,
	                                  &limits->idle_timeout_us, error))
		return FALSE;
	if (!msb_config_file_get_duration(cf, keys->request_timeout, MIN_TIMEOUT_US, MAX_TIMEOUT_US,
	                                  &limits->request_timeout_us, error))
		return FALSE;
	if (!msb_config_file_get_int64(cf, keys->max_connections, 1, MAX_MAX_CONNECTIONS,
	                               &limits->max_connections, error))
		return FALSE;
	return msb_config_file_get_int64(cf, keys->listen_backlog, 1, MAX_LISTEN_BACKLOG,
	                                 &limits->listen_backlog, error);
}

void
msb_http_limits_append(const MsbHttpLimits *limits, GString *out)
{
	g_autofree gchar *idle = NULL;
	g_autofree gchar *request = NULL;

	g_return_if_fail(limits != NULL);
	g_return_if_fail(out != NULL);

	idle = msb_duration_to_string(limits->idle_timeout_us);
	request = msb_duration_to_string(limits->request_timeout_us);
	g_string_append_printf(out, "\nHttpMaxBodySize: %" G_GINT64_FORMAT, limits->max_body_size);
	g_string_append_printf(out, "\nHttpIdleTimeout: %s", idle);
	g_string_append_printf(out, "\nHttpRequestTimeout: %s", request);
	g_string_append_printf(out, "\nHttpMaxConnections: %" G_GINT64_FORMAT,
	                       limits->max_connections);
	g_string_append_printf(out, "\nHttpListenBacklog: %" G_GINT64_FORMAT,
	                       limits->listen_backlog);
}
