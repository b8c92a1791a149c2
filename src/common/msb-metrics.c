/*
 * Prometheus text exposition format (version 0.0.4) helpers.
 */
#define G_LOG_DOMAIN "msb-metrics"

#include "msb-metrics.h"

void
msb_metrics_header(GString *out, const gchar *name, const gchar *type, const gchar *help)
{
	g_return_if_fail(out != NULL);
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
msb_metrics_append_label(GString *out, const gchar *value)
{
	g_return_if_fail(out != NULL);
	g_return_if_fail(value != NULL);
	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			g_string_append_c(out, '\\');
		if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
}

void
msb_metrics_value(GString *out, const gchar *name, const gchar *type, const gchar *help,
                  guint64 value)
{
	msb_metrics_header(out, name, type, help);
	g_string_append_printf(out, "%s %" G_GUINT64_FORMAT "\n", name, value);
}
