/*
 * Prometheus text exposition helpers, shared by the broker's and the persistence service's
 * /metrics: the HELP/TYPE header, escaped label values, single-sample metrics.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @type: "gauge" or "counter" */
void
msb_metrics_header(GString *out, const gchar *name, const gchar *type, const gchar *help);
/* Append a label value with backslash, quote and newline escaped. */
void
msb_metrics_append_label(GString *out, const gchar *value);
/* Header plus one sample without labels. */
void
msb_metrics_value(GString *out, const gchar *name, const gchar *type, const gchar *help,
                  guint64 value);

G_END_DECLS
