/*
 * The unit tests' log writer (msb-test-log.h): expected lines, tolerated lines and captured
 * entries, everything else to GLib's default writer.
 */
#define G_LOG_DOMAIN "msb-test-log"

#include "msb-test-log.h"

typedef struct {
	gchar *domain;
	GLogLevelFlags level;
	gchar *pattern;
} MsbTestLogMatch;

static GMutex msb_test_log_mutex;
static GQueue msb_test_log_expected = G_QUEUE_INIT;
static MsbTestLogMatch *msb_test_log_allowed;
static guint msb_test_log_n_allowed;
static GPtrArray *msb_test_log_captured;

static void
msb_test_log_match_free(MsbTestLogMatch *m)
{
	g_free(m->domain);
	g_free(m->pattern);
	g_free(m);
}

static MsbTestLogMatch *
msb_test_log_match_new(const gchar *domain, GLogLevelFlags level, const gchar *pattern)
{
	MsbTestLogMatch *m = g_new0(MsbTestLogMatch, 1);

	m->domain = g_strdup(domain);
	m->level = level & G_LOG_LEVEL_MASK;
	m->pattern = g_strdup(pattern);
	return m;
}

/* the value of field @key, copied (fields need not be nul-terminated) */
static gchar *
msb_test_log_field(const GLogField *fields, gsize n_fields, const gchar *key)
{
	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0(fields[i].key, key) != 0)
			continue;
		if (fields[i].length < 0)
			return g_strdup(fields[i].value);
		return g_strndup(fields[i].value, (gsize)fields[i].length);
	}
	return NULL;
}

static gboolean
msb_test_log_matches(const MsbTestLogMatch *m, GLogLevelFlags level, const gchar *domain,
                     const gchar *message)
{
	return g_strcmp0(m->domain, domain) == 0 && (level & G_LOG_LEVEL_MASK) == m->level &&
	       g_pattern_match_simple(m->pattern, message != NULL ? message : "");
}

static GLogWriterOutput
msb_test_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                    gpointer user_data)
{
	g_autofree gchar *domain = msb_test_log_field(fields, n_fields, "GLIB_DOMAIN");
	g_autofree gchar *message = msb_test_log_field(fields, n_fields, "MESSAGE");
	MsbTestLogMatch *head;
	gboolean swallow = FALSE;

	g_mutex_lock(&msb_test_log_mutex);
	if (msb_test_log_captured != NULL) {
		GHashTable *entry = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

		for (gsize i = 0; i < n_fields; i++)
			g_hash_table_replace(entry, g_strdup(fields[i].key),
			                     msb_test_log_field(fields, n_fields, fields[i].key));
		g_hash_table_replace(entry, g_strdup("_LEVEL"),
		                     g_strdup_printf("%d", level & G_LOG_LEVEL_MASK));
		g_ptr_array_add(msb_test_log_captured, entry);
		swallow = TRUE;
	} else if (msb_test_log_allowed != NULL &&
	           msb_test_log_matches(msb_test_log_allowed, level, domain, message)) {
		msb_test_log_n_allowed++;
		swallow = TRUE;
	} else if ((head = g_queue_peek_head(&msb_test_log_expected)) != NULL &&
	           msb_test_log_matches(head, level, domain, message)) {
		msb_test_log_match_free(g_queue_pop_head(&msb_test_log_expected));
		swallow = TRUE;
	}
	g_mutex_unlock(&msb_test_log_mutex);
	if (swallow)
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_default(level, fields, n_fields, user_data);
}

void
msb_test_log_init(void)
{
	static gsize done = 0;

	if (g_once_init_enter(&done)) {
		g_log_set_writer_func(msb_test_log_writer, NULL, NULL);
		g_once_init_leave(&done, 1);
	}
}

void
msb_test_log_expect(const gchar *domain, GLogLevelFlags level, const gchar *pattern)
{
	g_return_if_fail(pattern != NULL);
	g_mutex_lock(&msb_test_log_mutex);
	g_queue_push_tail(&msb_test_log_expected, msb_test_log_match_new(domain, level, pattern));
	g_mutex_unlock(&msb_test_log_mutex);
}

void
msb_test_log_assert_expected_at(const gchar *file, gint line)
{
	g_autofree gchar *missing = NULL;
	MsbTestLogMatch *head;

	g_mutex_lock(&msb_test_log_mutex);
	head = g_queue_peek_head(&msb_test_log_expected);
	if (head != NULL)
		missing = g_strdup_printf("%s:%d: did not see the expected message %s-%d: %s", file,
		                          line, head->domain, head->level, head->pattern);
	g_queue_clear_full(&msb_test_log_expected, (GDestroyNotify)msb_test_log_match_free);
	g_mutex_unlock(&msb_test_log_mutex);
	if (missing != NULL)
		g_assertion_message(G_LOG_DOMAIN, file, line, G_STRFUNC, missing);
}

void
msb_test_log_allow(const gchar *domain, GLogLevelFlags level, const gchar *pattern)
{
	g_return_if_fail(pattern != NULL);
	g_mutex_lock(&msb_test_log_mutex);
	g_clear_pointer(&msb_test_log_allowed, msb_test_log_match_free);
	msb_test_log_allowed = msb_test_log_match_new(domain, level, pattern);
	msb_test_log_n_allowed = 0;
	g_mutex_unlock(&msb_test_log_mutex);
}

guint
msb_test_log_get_n_allowed(void)
{
	guint n;

	g_mutex_lock(&msb_test_log_mutex);
	n = msb_test_log_n_allowed;
	g_mutex_unlock(&msb_test_log_mutex);
	return n;
}

void
msb_test_log_capture_begin(void)
{
	g_mutex_lock(&msb_test_log_mutex);
	if (msb_test_log_captured == NULL)
		msb_test_log_captured =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
	g_mutex_unlock(&msb_test_log_mutex);
}

GPtrArray *
msb_test_log_capture_end(void)
{
	GPtrArray *captured;

	g_mutex_lock(&msb_test_log_mutex);
	captured = g_steal_pointer(&msb_test_log_captured);
	g_mutex_unlock(&msb_test_log_mutex);
	return captured != NULL
	               ? captured
	               : g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
}
