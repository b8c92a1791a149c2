/*
 * The unit tests' log writer. With G_LOG_USE_STRUCTURED, g_test_expect_message() no longer sees
 * g_message() and friends (they bypass g_logv()), so the tests expect their lines here: one
 * writer per test binary (g_log_set_writer_func() may be called once) that matches expected
 * lines, counts tolerated ones, captures whole entries with their fields, and hands anything
 * else to GLib's default writer (where a warning in a test is fatal, as before).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Install the writer; call once after g_test_init() (more calls do nothing). */
void
msb_test_log_init(void);

/* Like g_test_expect_message(): the next line that is not debug must come from @domain at
 * @level with a MESSAGE matching the glob @pattern; it is then swallowed. */
void
msb_test_log_expect(const gchar *domain, GLogLevelFlags level, const gchar *pattern);
/* Like g_test_assert_expected_messages(): fails the test if an expected line was not logged. */
#define msb_test_log_assert_expected() msb_test_log_assert_expected_at(__FILE__, __LINE__)
void
msb_test_log_assert_expected_at(const gchar *file, gint line);

/* From now on, lines from @domain at @level matching @pattern are counted and swallowed
 * (never fatal); returns how many there were so far with msb_test_log_get_n_allowed(). */
void
msb_test_log_allow(const gchar *domain, GLogLevelFlags level, const gchar *pattern);
guint
msb_test_log_get_n_allowed(void);

/* Capture every entry (with all its fields) until msb_test_log_capture_end(), which returns
 * them: a GPtrArray of GHashTable (field name to value text; "_LEVEL" holds the level). */
void
msb_test_log_capture_begin(void);
GPtrArray *
msb_test_log_capture_end(void);

G_END_DECLS
