/*
 * Log lines that carry journal fields: the human MESSAGE stays as it was, and MSB_TOPIC,
 * MSB_QUEUE, MSB_SESSION, MSB_PEER and MSB_CLIENT come with it so that an operator can ask the
 * journal for one topic or one client (`journalctl MSB_TOPIC=orders`). Pure GLib logging
 * through the installed writer, no I/O of its own: the domain model may use it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What one line is about; NULL strings and a FALSE has_session are left out. */
typedef struct {
	const gchar *topic;
	const gchar *queue;
	/* session ids start at 0, so whether there is one is a flag of its own */
	gboolean has_session;
	gint64 session;
	const gchar *peer;
	/* the name the client gave in its Greeting */
	const gchar *client;
} MsbLogFields;

/* for designated initialisers: (MsbLogFields){MSB_LOG_SESSION(id), .peer = p} */
#define MSB_LOG_SESSION(id) .has_session = TRUE, .session = (id)
/* the fields of a line about one topic, or one queue, as the argument of msb_*_fields() */
#define MSB_LOG_TOPIC(t)    (&(const MsbLogFields){.topic = (t)})
#define MSB_LOG_QUEUE(t, q) (&(const MsbLogFields){.topic = (t), .queue = (q)})

gchar *
msb_log_sanitize(const gchar *text);

void
msb_log_with_fields(const gchar *domain, GLogLevelFlags level, const gchar *file, const gchar *line,
                    const gchar *func, const MsbLogFields *fields, const gchar *format, ...)
        G_GNUC_PRINTF(7, 8);

/* like g_log(), in the caller's G_LOG_DOMAIN and with its code location */
#define msb_log_fields(level, fields, ...)                                                     \
	msb_log_with_fields(G_LOG_DOMAIN, (level), __FILE__, G_STRINGIFY(__LINE__), G_STRFUNC, \
	                    (fields), __VA_ARGS__)
#define msb_message_fields(fields, ...) msb_log_fields(G_LOG_LEVEL_MESSAGE, (fields), __VA_ARGS__)
#define msb_warning_fields(fields, ...) msb_log_fields(G_LOG_LEVEL_WARNING, (fields), __VA_ARGS__)
#define msb_info_fields(fields, ...)    msb_log_fields(G_LOG_LEVEL_INFO, (fields), __VA_ARGS__)
#define msb_debug_fields(fields, ...)   msb_log_fields(G_LOG_LEVEL_DEBUG, (fields), __VA_ARGS__)

G_END_DECLS
