/*
 * Structured log lines with the broker's own journal fields (msb-log.h). The writer GLib has
 * installed decides where they go: the journal when stderr is the journal stream, else
 * stderr with a timestamp, or a test's capturing writer.
 */
#define G_LOG_DOMAIN "msb-log"

#include "msb-log.h"

gchar *
msb_log_sanitize(const gchar *text)
{
	gchar *copy;

	if (text == NULL)
		return NULL;
	/* client-chosen text: a control character would let a client forge a line */
	copy = g_strdup(text);
	for (gchar *p = copy; *p != '\0'; p++) {
		if ((guchar)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return copy;
}

/* the syslog priority GLib gives each level (g_log_structured() does the same) */
static const gchar *
msb_log_priority(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "3";
	if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		return "4";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "5";
	if (level & G_LOG_LEVEL_INFO)
		return "6";
	return "7";
}

static void
msb_log_add(GLogField *out, gsize *n, const gchar *key, const gchar *value)
{
	if (value == NULL)
		return;
	out[*n].key = key;
	out[*n].value = value;
	out[*n].length = -1;
	(*n)++;
}

void
msb_log_with_fields(const gchar *domain, GLogLevelFlags level, const gchar *file, const gchar *line,
                    const gchar *func, const MsbLogFields *fields, const gchar *format, ...)
{
	GLogField out[11];
	gsize n = 0;
	va_list args;
	g_autofree gchar *message = NULL;
	g_autofree gchar *topic = NULL;
	g_autofree gchar *queue = NULL;
	g_autofree gchar *session = NULL;
	g_autofree gchar *peer = NULL;
	g_autofree gchar *client = NULL;

	g_return_if_fail(format != NULL);
	/* a debug line nobody asked for costs nothing more than the check */
	if (g_log_writer_default_would_drop(level, domain))
		return;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	msb_log_add(out, &n, "MESSAGE", message);
	msb_log_add(out, &n, "PRIORITY", msb_log_priority(level));
	msb_log_add(out, &n, "GLIB_DOMAIN", domain);
	msb_log_add(out, &n, "CODE_FILE", file);
	msb_log_add(out, &n, "CODE_LINE", line);
	msb_log_add(out, &n, "CODE_FUNC", func);
	if (fields != NULL) {
		topic = msb_log_sanitize(fields->topic);
		queue = msb_log_sanitize(fields->queue);
		if (fields->has_session)
			session = g_strdup_printf("%" G_GINT64_FORMAT, fields->session);
		peer = msb_log_sanitize(fields->peer);
		client = msb_log_sanitize(fields->client);
		msb_log_add(out, &n, "MSB_TOPIC", topic);
		msb_log_add(out, &n, "MSB_QUEUE", queue);
		msb_log_add(out, &n, "MSB_SESSION", session);
		msb_log_add(out, &n, "MSB_PEER", peer);
		msb_log_add(out, &n, "MSB_CLIENT", client);
	}
	g_log_structured_array(level, out, n);
}
