/*
 * The strict Prometheus text-format parser of mtest.h. Written from the format's description
 * (exposition_formats.md, text format 0.0.4), stricter where it allows a choice: no blanks inside
 * braces, no escapes but the three, no sample without HELP and TYPE.
 */
#define G_LOG_DOMAIN "mtest"

#include "mtest.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#define MTEST_ERROR (g_quark_from_static_string("mtest-error"))

typedef struct {
	MtestMetrics *m;
	MtestFamily *current; /* the family whose group is open */
	GHashTable *seen;     /* family name → itself: families that had a line */
	GHashTable *series;   /* series keys, for duplicates */
	guint line_no;
} MtestParser;

static void
mtest_sample_free(MtestSample *s)
{
	g_free(s->name);
	g_ptr_array_unref(s->label_names);
	g_ptr_array_unref(s->label_values);
	g_free(s);
}

static void
mtest_family_free(MtestFamily *f)
{
	g_free(f->name);
	g_free(f->type);
	g_free(f->help);
	g_ptr_array_unref(f->samples);
	g_free(f);
}

void
mtest_metrics_free(MtestMetrics *m)
{
	if (m == NULL)
		return;
	g_hash_table_unref(m->by_name);
	g_ptr_array_unref(m->families);
	g_free(m);
}

static gboolean
mtest_is_metric_name(const gchar *s, gsize len)
{
	if (len == 0 || !(g_ascii_isalpha(s[0]) || s[0] == '_' || s[0] == ':'))
		return FALSE;
	for (gsize i = 1; i < len; i++) {
		if (!(g_ascii_isalnum(s[i]) || s[i] == '_' || s[i] == ':'))
			return FALSE;
	}
	return TRUE;
}

static gboolean
mtest_is_label_name(const gchar *s, gsize len)
{
	if (len == 0 || !(g_ascii_isalpha(s[0]) || s[0] == '_'))
		return FALSE;
	for (gsize i = 1; i < len; i++) {
		if (!(g_ascii_isalnum(s[i]) || s[i] == '_'))
			return FALSE;
	}
	return TRUE;
}

/* [+-]?(digits[.digits]|.digits)([eE][+-]?digits)?, NaN, +Inf, -Inf */
static gboolean
mtest_parse_float(const gchar *s, gdouble *value)
{
	const gchar *p = s;
	gboolean digits = FALSE;

	if (g_str_equal(s, "NaN")) {
		*value = NAN;
		return TRUE;
	}
	if (g_str_equal(s, "+Inf")) {
		*value = INFINITY;
		return TRUE;
	}
	if (g_str_equal(s, "-Inf")) {
		*value = -INFINITY;
		return TRUE;
	}
	if (*p == '+' || *p == '-')
		p++;
	while (g_ascii_isdigit(*p)) {
		p++;
		digits = TRUE;
	}
	if (*p == '.') {
		p++;
		while (g_ascii_isdigit(*p)) {
			p++;
			digits = TRUE;
		}
	}
	if (!digits)
		return FALSE;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!g_ascii_isdigit(*p))
			return FALSE;
		while (g_ascii_isdigit(*p))
			p++;
	}
	if (*p != '\0')
		return FALSE;
	*value = g_ascii_strtod(s, NULL);
	return TRUE;
}

static gboolean
mtest_fail(MtestParser *p, GError **error, const gchar *format, ...) G_GNUC_PRINTF(3, 4);

static gboolean
mtest_fail(MtestParser *p, GError **error, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	if (p->line_no > 0)
		g_set_error(error, MTEST_ERROR, 1, "line %u: %s", p->line_no, msg);
	else
		g_set_error(error, MTEST_ERROR, 1, "%s", msg);
	return FALSE;
}

static MtestFamily *
mtest_get_family(MtestParser *p, const gchar *name)
{
	MtestFamily *f = g_hash_table_lookup(p->m->by_name, name);

	if (f == NULL) {
		f = g_new0(MtestFamily, 1);
		f->name = g_strdup(name);
		f->samples = g_ptr_array_new_with_free_func((GDestroyNotify)mtest_sample_free);
		g_ptr_array_add(p->m->families, f);
		g_hash_table_insert(p->m->by_name, f->name, f);
	}
	return f;
}

static const gchar *
mtest_label(const MtestSample *s, const gchar *name)
{
	for (guint i = 0; i < s->label_names->len; i++) {
		if (g_str_equal(g_ptr_array_index(s->label_names, i), name))
			return g_ptr_array_index(s->label_values, i);
	}
	return NULL;
}

static gint
mtest_cmp_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* the labels but @skip, sorted, as one string */
static gchar *
mtest_label_key(const MtestSample *s, const gchar *skip)
{
	g_autoptr(GPtrArray) pairs = g_ptr_array_new_with_free_func(g_free);
	GString *key = g_string_new(NULL);

	for (guint i = 0; i < s->label_names->len; i++) {
		const gchar *n = g_ptr_array_index(s->label_names, i);
		if (skip != NULL && g_str_equal(n, skip))
			continue;
		g_ptr_array_add(pairs,
		                g_strdup_printf("%s\x01%s", n,
		                                (gchar *)g_ptr_array_index(s->label_values, i)));
	}
	g_ptr_array_sort(pairs, mtest_cmp_strings);
	for (guint i = 0; i < pairs->len; i++)
		g_string_append_printf(key, "%s\x02", (gchar *)g_ptr_array_index(pairs, i));
	return g_string_free(key, FALSE);
}

/* The checks that need a family's whole group: histogram buckets, summary parts. */
static gboolean
mtest_check_family(MtestParser *p, MtestFamily *f, GError **error)
{
	gboolean histogram = g_strcmp0(f->type, "histogram") == 0;
	gboolean summary = g_strcmp0(f->type, "summary") == 0;
	g_autofree gchar *bucket_name = g_strconcat(f->name, "_bucket", NULL);
	g_autofree gchar *sum_name = g_strconcat(f->name, "_sum", NULL);
	g_autofree gchar *count_name = g_strconcat(f->name, "_count", NULL);
	g_autoptr(GPtrArray) keys = NULL;

	if (f->type == NULL || f->help == NULL)
		return mtest_fail(p, error, "family %s has no %s line", f->name,
		                  f->type == NULL ? "TYPE" : "HELP");
	if (!histogram && !summary)
		return TRUE;
	/* the label sets, in order of appearance */
	keys = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < f->samples->len; i++) {
		const MtestSample *s = g_ptr_array_index(f->samples, i);
		g_autofree gchar *key = mtest_label_key(s, histogram ? "le" : "quantile");
		if (!g_ptr_array_find_with_equal_func(keys, key, g_str_equal, NULL))
			g_ptr_array_add(keys, g_steal_pointer(&key));
	}
	for (guint k = 0; k < keys->len; k++) {
		const gchar *key = g_ptr_array_index(keys, k);
		gdouble last_le = -INFINITY;
		gdouble last_bucket = 0;
		guint n_buckets = 0;
		gboolean have_inf = FALSE;
		gboolean have_sum = FALSE;
		gboolean have_count = FALSE;
		gdouble count = 0;

		for (guint i = 0; i < f->samples->len; i++) {
			const MtestSample *s = g_ptr_array_index(f->samples, i);
			g_autofree gchar *skey = mtest_label_key(s, histogram ? "le" : "quantile");

			if (!g_str_equal(skey, key))
				continue;
			if (g_str_equal(s->name, sum_name)) {
				have_sum = TRUE;
			} else if (g_str_equal(s->name, count_name)) {
				have_count = TRUE;
				count = s->value;
			} else if (histogram && g_str_equal(s->name, bucket_name)) {
				gdouble le;
				if (!mtest_parse_float(mtest_label(s, "le"), &le) || isnan(le))
					return mtest_fail(p, error, "%s: le=\"%s\" is not a number",
					                  f->name, mtest_label(s, "le"));
				if (have_inf || le <= last_le)
					return mtest_fail(p, error,
					                  "%s: bucket le=\"%s\" is not above the "
					                  "previous one",
					                  f->name, mtest_label(s, "le"));
				if (s->value < last_bucket)
					return mtest_fail(
					        p, error,
					        "%s: bucket le=\"%s\" holds fewer than the "
					        "one before (buckets are cumulative)",
					        f->name, mtest_label(s, "le"));
				last_le = le;
				last_bucket = s->value;
				have_inf = isinf(le) && le > 0;
				n_buckets++;
			} else if (summary && g_str_equal(s->name, f->name)) {
				gdouble q;
				if (!mtest_parse_float(mtest_label(s, "quantile"), &q) || q < 0 ||
				    q > 1)
					return mtest_fail(p, error, "%s: bad quantile", f->name);
			}
		}
		if (histogram && !have_inf)
			return mtest_fail(p, error, "%s: no +Inf bucket", f->name);
		if (!have_sum || !have_count)
			return mtest_fail(p, error, "%s: no %s", f->name,
			                  have_sum ? "_count" : "_sum");
		if (histogram && count != last_bucket)
			return mtest_fail(p, error,
			                  "%s: _count %g is not the +Inf bucket %g (%u buckets)",
			                  f->name, count, last_bucket, n_buckets);
	}
	return TRUE;
}

/* a family's own line (HELP, TYPE or sample) arrives: it must be the open group or a new one */
static gboolean
mtest_enter_family(MtestParser *p, MtestFamily *f, GError **error)
{
	if (p->current == f)
		return TRUE;
	if (g_hash_table_contains(p->seen, f->name))
		return mtest_fail(p, error, "family %s is split: its lines are not one group",
		                  f->name);
	g_hash_table_add(p->seen, f->name);
	p->current = f;
	return TRUE;
}

static gboolean
mtest_parse_help(MtestParser *p, const gchar *rest, GError **error)
{
	const gchar *end = rest;
	g_autofree gchar *name = NULL;
	GString *help;
	MtestFamily *f;

	while (*end != '\0' && *end != ' ' && *end != '\t')
		end++;
	if (!mtest_is_metric_name(rest, (gsize)(end - rest)))
		return mtest_fail(p, error, "HELP: bad metric name");
	name = g_strndup(rest, (gsize)(end - rest));
	f = mtest_get_family(p, name);
	if (!mtest_enter_family(p, f, error))
		return FALSE;
	if (f->help != NULL)
		return mtest_fail(p, error, "second HELP for %s", name);
	if (f->samples->len > 0)
		return mtest_fail(p, error, "HELP for %s after its samples", name);
	if (*end != '\0')
		end++;
	help = g_string_new(NULL);
	for (const gchar *c = end; *c != '\0'; c++) {
		if (*c != '\\') {
			g_string_append_c(help, *c);
			continue;
		}
		c++;
		if (*c == '\\') {
			g_string_append_c(help, '\\');
		} else if (*c == 'n') {
			g_string_append_c(help, '\n');
		} else {
			g_string_free(help, TRUE);
			return mtest_fail(p, error, "HELP for %s: bad escape", name);
		}
	}
	if (!g_utf8_validate(help->str, -1, NULL)) {
		g_string_free(help, TRUE);
		return mtest_fail(p, error, "HELP for %s: not UTF-8", name);
	}
	f->help = g_string_free(help, FALSE);
	return TRUE;
}

static gboolean
mtest_parse_type(MtestParser *p, const gchar *rest, GError **error)
{
	static const gchar *const types[] = {"counter", "gauge",   "histogram",
	                                     "summary", "untyped", NULL};
	g_auto(GStrv) parts = g_strsplit(rest, " ", -1);
	MtestFamily *f;

	if (g_strv_length(parts) != 2 || !mtest_is_metric_name(parts[0], strlen(parts[0])))
		return mtest_fail(p, error, "TYPE: want \"# TYPE name type\"");
	if (!g_strv_contains(types, parts[1]))
		return mtest_fail(p, error, "TYPE: unknown type \"%s\"", parts[1]);
	f = mtest_get_family(p, parts[0]);
	if (!mtest_enter_family(p, f, error))
		return FALSE;
	if (f->type != NULL)
		return mtest_fail(p, error, "second TYPE for %s", parts[0]);
	if (f->samples->len > 0)
		return mtest_fail(p, error, "TYPE for %s after its samples", parts[0]);
	f->type = g_strdup(parts[1]);
	return TRUE;
}

/* the family a sample name belongs to, NULL when none was declared */
static MtestFamily *
mtest_sample_family(MtestParser *p, const gchar *name)
{
	static const gchar *const suffixes[] = {"_bucket", "_sum", "_count"};
	MtestFamily *f = g_hash_table_lookup(p->m->by_name, name);

	if (f != NULL)
		return f;
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree gchar *stem = NULL;
		if (!g_str_has_suffix(name, suffixes[i]))
			continue;
		stem = g_strndup(name, strlen(name) - strlen(suffixes[i]));
		f = g_hash_table_lookup(p->m->by_name, stem);
		if (f != NULL && (g_strcmp0(f->type, "histogram") == 0 ||
		                  (i > 0 && g_strcmp0(f->type, "summary") == 0)))
			return f;
	}
	return NULL;
}

static gboolean
mtest_parse_sample(MtestParser *p, const gchar *line, GError **error)
{
	const gchar *c = line;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *name = NULL;
	g_autofree gchar *value_text = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *series = NULL;
	MtestFamily *f;
	MtestSample *s;
	gdouble value;
	gboolean is_count;
	const gchar *start;

	while (*c != '\0' && *c != '{' && *c != ' ' && *c != '\t')
		c++;
	if (!mtest_is_metric_name(line, (gsize)(c - line)))
		return mtest_fail(p, error, "bad metric name");
	name = g_strndup(line, (gsize)(c - line));
	if (*c == '{') {
		c++;
		while (*c != '}') {
			GString *v;
			gchar *label;

			start = c;
			while (*c != '\0' && *c != '=')
				c++;
			if (*c != '=' || !mtest_is_label_name(start, (gsize)(c - start)))
				return mtest_fail(p, error, "%s: bad label name", name);
			if (c - start >= 2 && start[0] == '_' && start[1] == '_')
				return mtest_fail(p, error,
				                  "%s: label names starting with __ are "
				                  "reserved",
				                  name);
			label = g_strndup(start, (gsize)(c - start));
			g_ptr_array_add(names, label);
			for (guint i = 0; i + 1 < names->len; i++) {
				if (g_str_equal(g_ptr_array_index(names, i), label))
					return mtest_fail(p, error, "%s: label %s twice", name,
					                  label);
			}
			c++;
			if (*c != '"')
				return mtest_fail(p, error, "%s: label value not quoted", name);
			c++;
			v = g_string_new(NULL);
			while (*c != '"') {
				if (*c == '\0') {
					g_string_free(v, TRUE);
					return mtest_fail(p, error, "%s: unterminated label value",
					                  name);
				}
				if (*c == '\\') {
					c++;
					if (*c == '\\' || *c == '"') {
						g_string_append_c(v, *c);
					} else if (*c == 'n') {
						g_string_append_c(v, '\n');
					} else {
						g_string_free(v, TRUE);
						return mtest_fail(p, error,
						                  "%s: bad escape in a label value",
						                  name);
					}
				} else {
					g_string_append_c(v, *c);
				}
				c++;
			}
			c++;
			if (!g_utf8_validate(v->str, (gssize)v->len, NULL) ||
			    strlen(v->str) != v->len) {
				g_string_free(v, TRUE);
				return mtest_fail(p, error, "%s: label value is not UTF-8", name);
			}
			g_ptr_array_add(values, g_string_free(v, FALSE));
			if (*c == ',')
				c++;
			else if (*c != '}')
				return mtest_fail(p, error, "%s: want ',' or '}' after a label",
				                  name);
		}
		c++;
	}
	if (*c != ' ' && *c != '\t')
		return mtest_fail(p, error, "%s: no blank before the value", name);
	while (*c == ' ' || *c == '\t')
		c++;
	start = c;
	while (*c != '\0' && *c != ' ' && *c != '\t')
		c++;
	value_text = g_strndup(start, (gsize)(c - start));
	if (!mtest_parse_float(value_text, &value))
		return mtest_fail(p, error, "%s: value \"%s\" is not a number", name, value_text);
	while (*c == ' ' || *c == '\t')
		c++;
	if (*c != '\0') {
		/* a timestamp: an integer of milliseconds */
		start = c;
		if (*c == '-')
			c++;
		if (!g_ascii_isdigit(*c))
			return mtest_fail(p, error, "%s: bad timestamp", name);
		while (g_ascii_isdigit(*c))
			c++;
		if (*c != '\0')
			return mtest_fail(p, error, "%s: text after the timestamp", name);
	}

	f = mtest_sample_family(p, name);
	if (f == NULL)
		return mtest_fail(p, error, "%s: sample without HELP and TYPE", name);
	if (!mtest_enter_family(p, f, error))
		return FALSE;
	if (f->type == NULL || f->help == NULL)
		return mtest_fail(p, error, "%s: sample before the family's %s line", name,
		                  f->type == NULL ? "TYPE" : "HELP");
	if (g_str_equal(f->type, "histogram") && g_str_equal(name, f->name))
		return mtest_fail(p, error, "%s: a histogram has no plain sample", name);
	s = g_new0(MtestSample, 1);
	s->name = g_strdup(name);
	s->label_names = g_steal_pointer(&names);
	s->label_values = g_steal_pointer(&values);
	s->value = value;
	g_ptr_array_add(f->samples, s);

	/* counts; a _sum may be negative (negative observations) */
	is_count = g_str_equal(f->type, "counter") ||
	           (g_str_equal(f->type, "histogram") && !g_str_has_suffix(name, "_sum")) ||
	           (g_str_equal(f->type, "summary") && !g_str_equal(name, f->name) &&
	            g_str_has_suffix(name, "_count"));
	if (is_count && (isnan(value) || value < 0))
		return mtest_fail(p, error, "%s: a count cannot be %s", name, value_text);
	if (g_str_equal(f->type, "histogram")) {
		gboolean is_bucket = g_str_has_suffix(name, "_bucket");
		if (is_bucket != (mtest_label(s, "le") != NULL))
			return mtest_fail(p, error, "%s: %s", name,
			                  is_bucket ? "a bucket needs le" : "le on a non-bucket");
	}
	if (g_str_equal(f->type, "summary") && g_str_equal(name, f->name) &&
	    mtest_label(s, "quantile") == NULL)
		return mtest_fail(p, error, "%s: a summary sample needs quantile", name);
	key = mtest_label_key(s, NULL);
	series = g_strconcat(name, "\x03", key, NULL);
	if (g_hash_table_contains(p->series, series))
		return mtest_fail(p, error, "%s: the same series twice", name);
	g_hash_table_add(p->series, g_steal_pointer(&series));
	return TRUE;
}

MtestMetrics *
mtest_parse(const gchar *text, GError **error)
{
	g_autoptr(MtestMetrics) m = g_new0(MtestMetrics, 1);
	g_auto(GStrv) lines = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) series = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	MtestParser p = {m, NULL, seen, series, 0};
	guint n;

	g_return_val_if_fail(text != NULL, NULL);
	m->families = g_ptr_array_new_with_free_func((GDestroyNotify)mtest_family_free);
	m->by_name = g_hash_table_new(g_str_hash, g_str_equal);
	if (text[0] != '\0' && !g_str_has_suffix(text, "\n")) {
		g_set_error(error, MTEST_ERROR, 1, "the last line does not end with a line feed");
		return NULL;
	}
	lines = g_strsplit(text, "\n", -1);
	n = g_strv_length(lines);
	for (guint i = 0; i < n; i++) {
		const gchar *line = lines[i];
		gboolean ok = TRUE;

		p.line_no = i + 1;
		if (line[0] == '\0')
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			ok = mtest_fail(&p, error, "line starts with a blank");
		} else if (g_str_has_prefix(line, "# HELP ")) {
			ok = mtest_parse_help(&p, line + 7, error);
		} else if (g_str_has_prefix(line, "# TYPE ")) {
			ok = mtest_parse_type(&p, line + 7, error);
		} else if (line[0] == '#') {
			continue; /* a comment */
		} else {
			ok = mtest_parse_sample(&p, line, error);
		}
		if (!ok) {
			g_prefix_error(error, "\"%s\": ", line);
			return NULL;
		}
	}
	p.line_no = 0;
	for (guint i = 0; i < m->families->len; i++) {
		MtestFamily *f = g_ptr_array_index(m->families, i);
		if (!mtest_check_family(&p, f, error))
			return NULL;
	}
	return g_steal_pointer(&m);
}

MtestMetrics *
mtest_parse_or_fail(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	MtestMetrics *m = mtest_parse(text, &error);

	if (m == NULL)
		g_error("not valid Prometheus text: %s\n---\n%s---", error->message, text);
	return m;
}

MtestFamily *
mtest_family(MtestMetrics *m, const gchar *name)
{
	g_return_val_if_fail(m != NULL, NULL);
	return g_hash_table_lookup(m->by_name, name);
}

static const MtestSample *
mtest_find_valist(MtestMetrics *m, const gchar *name, va_list args)
{
	g_autoptr(GPtrArray) want_names = g_ptr_array_new();
	g_autoptr(GPtrArray) want_values = g_ptr_array_new();
	const gchar *label;

	while ((label = va_arg(args, const gchar *)) != NULL) {
		g_ptr_array_add(want_names, (gpointer)label);
		g_ptr_array_add(want_values, va_arg(args, gchar *));
	}
	for (guint i = 0; i < m->families->len; i++) {
		MtestFamily *f = g_ptr_array_index(m->families, i);
		for (guint j = 0; j < f->samples->len; j++) {
			const MtestSample *s = g_ptr_array_index(f->samples, j);
			gboolean match = g_str_equal(s->name, name) &&
			                 s->label_names->len == want_names->len;
			for (guint k = 0; match && k < want_names->len; k++)
				match = g_strcmp0(mtest_label(s, g_ptr_array_index(want_names, k)),
				                  g_ptr_array_index(want_values, k)) == 0;
			if (match)
				return s;
		}
	}
	return NULL;
}

const MtestSample *
mtest_find(MtestMetrics *m, const gchar *name, ...)
{
	va_list args;
	const MtestSample *s;

	va_start(args, name);
	s = mtest_find_valist(m, name, args);
	va_end(args);
	return s;
}

gdouble
mtest_value(MtestMetrics *m, const gchar *name, ...)
{
	va_list args;
	const MtestSample *s;

	va_start(args, name);
	s = mtest_find_valist(m, name, args);
	va_end(args);
	if (s == NULL)
		g_error("no sample %s with the labels asked for", name);
	return s->value;
}

guint
mtest_count_with_label(MtestMetrics *m, const gchar *name, const gchar *label, const gchar *value)
{
	guint n = 0;

	for (guint i = 0; i < m->families->len; i++) {
		MtestFamily *f = g_ptr_array_index(m->families, i);
		for (guint j = 0; j < f->samples->len; j++) {
			const MtestSample *s = g_ptr_array_index(f->samples, j);
			if (g_str_equal(s->name, name) &&
			    g_strcmp0(mtest_label(s, label), value) == 0)
				n++;
		}
	}
	return n;
}
