/*
 * Prometheus text exposition (version 0.0.4) for both programs' /metrics: the HELP/TYPE header,
 * escaped label values, single-sample metrics, MsbHistogram (a latency histogram with fixed
 * buckets, cheap enough for the hot path) and the standard process_* metrics.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @type: "gauge", "counter" or "histogram" */
void
msb_metrics_header(GString *out, const gchar *name, const gchar *type, const gchar *help);
/* Append a label value with backslash, quote and newline escaped. */
void
msb_metrics_append_label(GString *out, const gchar *value);
/* Header plus one sample without labels. */
void
msb_metrics_value(GString *out, const gchar *name, const gchar *type, const gchar *help,
                  guint64 value);
/* A sample value as Prometheus reads it: integers exactly, others with 6 decimals. */
void
msb_metrics_append_double(GString *out, gdouble value);

/*
 * MsbHistogram: how many observations (latencies, in microseconds) fell into each of the fixed
 * buckets (upper bounds 100 µs … 10 s, see msb_histogram_bound_us()) and their sum. Plain
 * counters, no allocation: observing costs a few comparisons and two additions. One thread
 * observes with msb_histogram_observe(); observers in several threads use the _atomic variants
 * and readers take a copy with msb_histogram_copy_atomic(). The count is the sum of the buckets,
 * so a copy's _count always equals its +Inf bucket.
 */
#define MSB_HISTOGRAM_N_BOUNDS 16

typedef struct {
	guint64 buckets[MSB_HISTOGRAM_N_BOUNDS +
	                1]; /* not cumulative; the last: above every bound */
	guint64 sum_us;
} MsbHistogram;

/* The upper bound of bucket @i (< MSB_HISTOGRAM_N_BOUNDS), in microseconds. */
gint64
msb_histogram_bound_us(guint i);
/* @value_us below 0 counts as 0. */
void
msb_histogram_observe(MsbHistogram *h, gint64 value_us);
void
msb_histogram_observe_atomic(MsbHistogram *h, gint64 value_us);
/* A copy of @h while other threads may observe into it. */
void
msb_histogram_copy_atomic(const MsbHistogram *h, MsbHistogram *copy);
guint64
msb_histogram_count(const MsbHistogram *h);
/*
 * An estimate of quantile @q (0..1) in microseconds: the upper bound of the bucket that holds it
 * (the largest bound when it is in the last bucket); 0 with no observations.
 */
gint64
msb_histogram_quantile_us(const MsbHistogram *h, gdouble q);
/*
 * The family NAME (a histogram in seconds): HELP and TYPE when @header, then NAME_bucket for
 * every bound and +Inf, NAME_sum and NAME_count. @labels (may be NULL) is "k=\"v\",…", already
 * escaped, put before "le".
 */
void
msb_metrics_histogram(GString *out, const gchar *name, const gchar *help, gboolean header,
                      const gchar *labels, const MsbHistogram *h);

/*
 * The process_* metrics of the Prometheus client libraries, from /proc/self: resident and
 * virtual memory, CPU seconds, open and maximum file descriptors, start time.
 */
void
msb_metrics_process(GString *out);

G_END_DECLS
