/*
 * Prometheus text exposition format (version 0.0.4) helpers and MsbHistogram.
 *
 * The histogram keeps per-bucket (not cumulative) counts so that an observation touches one
 * bucket; the cumulative form is made when rendering.
 */
#define G_LOG_DOMAIN "msb-metrics"

#include "msb-metrics.h"

#include <math.h>

#include "msb-process-stats.h"

/* the bucket bounds, in µs, and the same as Prometheus "le" values, in seconds */
static const gint64 msb_histogram_bounds_us[MSB_HISTOGRAM_N_BOUNDS] = {
        100,   250,    500,    1000,   2500,    5000,    10000,   25000,
        50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const gchar *const msb_histogram_le[MSB_HISTOGRAM_N_BOUNDS] = {
        "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
        "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10",
};

void
msb_metrics_header(GString *out, const gchar *name, const gchar *type, const gchar *help)
{
	g_return_if_fail(out != NULL);
	g_string_append_printf(out, "# HELP %s ", name);
	/* HELP text escapes only backslash and newline */
	for (const gchar *p = help; *p != '\0'; p++) {
		if (*p == '\\')
			g_string_append(out, "\\\\");
		else if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
	g_string_append_printf(out, "\n# TYPE %s %s\n", name, type);
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

void
msb_metrics_append_double(GString *out, gdouble value)
{
	gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

	g_return_if_fail(out != NULL);
	if (isnan(value)) {
		g_string_append(out, "NaN");
	} else if (isinf(value)) {
		g_string_append(out, value > 0 ? "+Inf" : "-Inf");
	} else if (value == floor(value) && fabs(value) < 1e15) {
		g_string_append_printf(out, "%" G_GINT64_FORMAT, (gint64)value);
	} else {
		/* the C locale's decimal point, whatever the process's locale */
		g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.6f", value));
	}
}

gint64
msb_histogram_bound_us(guint i)
{
	g_return_val_if_fail(i < MSB_HISTOGRAM_N_BOUNDS, G_MAXINT64);
	return msb_histogram_bounds_us[i];
}

static guint
msb_histogram_bucket(gint64 value_us)
{
	guint i = 0;

	while (i < MSB_HISTOGRAM_N_BOUNDS && value_us > msb_histogram_bounds_us[i])
		i++;
	return i;
}

void
msb_histogram_observe(MsbHistogram *h, gint64 value_us)
{
	value_us = MAX(value_us, 0);
	h->buckets[msb_histogram_bucket(value_us)]++;
	h->sum_us += (guint64)value_us;
}

void
msb_histogram_observe_atomic(MsbHistogram *h, gint64 value_us)
{
	value_us = MAX(value_us, 0);
	__atomic_fetch_add(&h->buckets[msb_histogram_bucket(value_us)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_us, (guint64)value_us, __ATOMIC_RELAXED);
}

void
msb_histogram_copy_atomic(const MsbHistogram *h, MsbHistogram *copy)
{
	g_return_if_fail(h != NULL && copy != NULL);
	for (guint i = 0; i <= MSB_HISTOGRAM_N_BOUNDS; i++)
		copy->buckets[i] = __atomic_load_n(&h->buckets[i], __ATOMIC_RELAXED);
	copy->sum_us = __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
}

guint64
msb_histogram_count(const MsbHistogram *h)
{
	guint64 n = 0;

	g_return_val_if_fail(h != NULL, 0);
	for (guint i = 0; i <= MSB_HISTOGRAM_N_BOUNDS; i++)
		n += h->buckets[i];
	return n;
}

gint64
msb_histogram_quantile_us(const MsbHistogram *h, gdouble q)
{
	guint64 count = msb_histogram_count(h);
	guint64 seen = 0;
	gdouble rank;

	if (count == 0)
		return 0;
	rank = CLAMP(q, 0.0, 1.0) * (gdouble)count;
	for (guint i = 0; i < MSB_HISTOGRAM_N_BOUNDS; i++) {
		seen += h->buckets[i];
		if ((gdouble)seen >= rank && seen > 0)
			return msb_histogram_bounds_us[i];
	}
	return msb_histogram_bounds_us[MSB_HISTOGRAM_N_BOUNDS - 1];
}

static void
msb_metrics_histogram_line(GString *out, const gchar *name, const gchar *labels, const gchar *le,
                           guint64 value)
{
	g_string_append_printf(out, "%s_bucket{", name);
	if (labels != NULL && labels[0] != '\0')
		g_string_append_printf(out, "%s,", labels);
	g_string_append_printf(out, "le=\"%s\"} %" G_GUINT64_FORMAT "\n", le, value);
}

void
msb_metrics_histogram(GString *out, const gchar *name, const gchar *help, gboolean header,
                      const gchar *labels, const MsbHistogram *h)
{
	g_autofree gchar *braces = NULL;
	guint64 cumulative = 0;

	g_return_if_fail(out != NULL && name != NULL && h != NULL);
	if (header)
		msb_metrics_header(out, name, "histogram", help);
	for (guint i = 0; i < MSB_HISTOGRAM_N_BOUNDS; i++) {
		cumulative += h->buckets[i];
		msb_metrics_histogram_line(out, name, labels, msb_histogram_le[i], cumulative);
	}
	cumulative += h->buckets[MSB_HISTOGRAM_N_BOUNDS];
	msb_metrics_histogram_line(out, name, labels, "+Inf", cumulative);
	braces = labels != NULL && labels[0] != '\0' ? g_strdup_printf("{%s}", labels)
	                                             : g_strdup("");
	g_string_append_printf(out, "%s_sum%s ", name, braces);
	msb_metrics_append_double(out, (gdouble)h->sum_us / G_USEC_PER_SEC);
	g_string_append_printf(out, "\n%s_count%s %" G_GUINT64_FORMAT "\n", name, braces,
	                       cumulative);
}

static void
msb_metrics_double(GString *out, const gchar *name, const gchar *type, const gchar *help,
                   gdouble value)
{
	msb_metrics_header(out, name, type, help);
	g_string_append_printf(out, "%s ", name);
	msb_metrics_append_double(out, value);
	g_string_append_c(out, '\n');
}

void
msb_metrics_process(GString *out)
{
	MsbProcessStats ps;

	g_return_if_fail(out != NULL);
	/* on a system without /proc the families are left out rather than shown as 0 */
	if (!msb_process_stats_read(&ps))
		return;
	msb_metrics_value(out, "process_resident_memory_bytes", "gauge",
	                  "Resident memory size in bytes", ps.resident_bytes);
	msb_metrics_value(out, "process_virtual_memory_bytes", "gauge",
	                  "Virtual memory size in bytes", ps.virtual_bytes);
	msb_metrics_double(out, "process_cpu_seconds_total", "counter",
	                   "Total user and system CPU time spent in seconds", ps.cpu_seconds);
	msb_metrics_value(out, "process_open_fds", "gauge", "Number of open file descriptors",
	                  ps.open_fds);
	msb_metrics_double(out, "process_max_fds", "gauge",
	                   "Maximum number of open file descriptors",
	                   ps.max_fds == G_MAXUINT64 ? INFINITY : (gdouble)ps.max_fds);
	msb_metrics_double(out, "process_start_time_seconds", "gauge",
	                   "Start time of the process since unix epoch in seconds",
	                   ps.start_time_seconds);
}
