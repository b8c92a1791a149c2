/*
 * A strict parser of the Prometheus text exposition format 0.0.4, for the tests of both
 * programs' /metrics. It accepts only what a Prometheus server reads without complaint, and
 * adds our own rule that every family has one HELP and one TYPE line before its samples:
 *
 * - metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* not starting
 *   with "__", no label twice in a sample;
 * - label values in double quotes with only \\, \" and \n escaped, valid UTF-8; HELP text with
 *   only \\ and \n escaped;
 * - one HELP and one TYPE per family, before its first sample; TYPE one of counter, gauge,
 *   histogram, summary, untyped;
 * - a family's samples in one group (a family seen again after another one started is an
 *   error), no series twice;
 * - values: decimal floats, NaN, +Inf, -Inf; an optional integer timestamp; a counter is not
 *   negative or NaN;
 * - histograms: NAME_bucket with "le", ascending, ending with +Inf, cumulative (never
 *   decreasing), NAME_count equal to the +Inf bucket and NAME_sum present, per label set;
 *   summaries: quantile between 0 and 1, NAME_sum and NAME_count present;
 * - lines end with '\n', the last one too.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	gchar *name; /* the sample's own name (NAME_bucket for a histogram bucket) */
	GPtrArray *label_names;
	GPtrArray *label_values; /* unescaped */
	gdouble value;
} MtestSample;

typedef struct {
	gchar *name;
	gchar *type;
	gchar *help;        /* unescaped */
	GPtrArray *samples; /* MtestSample*, in order */
} MtestFamily;

typedef struct {
	GPtrArray *families; /* MtestFamily*, in order */
	GHashTable *by_name; /* family name → MtestFamily* */
} MtestMetrics;

/* NULL and @error (saying which line and why) when @text breaks a rule. */
MtestMetrics *
mtest_parse(const gchar *text, GError **error);
void
mtest_metrics_free(MtestMetrics *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MtestMetrics, mtest_metrics_free)

/* Parse and fail the test with the parser's message (and the text) when it is not valid. */
MtestMetrics *
mtest_parse_or_fail(const gchar *text);

MtestFamily *
mtest_family(MtestMetrics *m, const gchar *name);
/*
 * The sample called @name whose labels are exactly the NULL-terminated name/value pairs given
 * (in any order); NULL when there is none.
 */
const MtestSample *
mtest_find(MtestMetrics *m, const gchar *name, ...) G_GNUC_NULL_TERMINATED;
/* The value of that sample; fails the test when it is missing. */
gdouble
mtest_value(MtestMetrics *m, const gchar *name, ...) G_GNUC_NULL_TERMINATED;
/* How many samples called @name have label @label = @value (any other labels). */
guint
mtest_count_with_label(MtestMetrics *m, const gchar *name, const gchar *label, const gchar *value);

G_END_DECLS
