/*
 * Journal fields (issue 10, logging): lines from the domain model carry the code location
 * (G_LOG_USE_STRUCTURED) and, where an operator needs them, MSB_TOPIC, MSB_SESSION, MSB_PEER and
 * MSB_CLIENT, with client-chosen text made harmless; the MESSAGE text stays as it was.
 */
#include <string.h>

#include "broker-fixture.h"
#include "msb-broker-admin.h"
#include "msb-broker-events.h"
#include "msb-log.h"
#include "msb-test-log.h"

/* the one captured entry whose MESSAGE matches @pattern */
static GHashTable *
find_entry(GPtrArray *entries, const gchar *pattern)
{
	GHashTable *found = NULL;

	for (guint i = 0; i < entries->len; i++) {
		GHashTable *e = g_ptr_array_index(entries, i);
		const gchar *message = g_hash_table_lookup(e, "MESSAGE");

		if (message != NULL && g_pattern_match_simple(pattern, message)) {
			g_assert_null(found);
			found = e;
		}
	}
	if (found == NULL)
		g_error("no log entry matches %s (%u captured)", pattern, entries->len);
	return found;
}

static void
assert_code_location(GHashTable *e, const gchar *file, const gchar *func)
{
	const gchar *line = g_hash_table_lookup(e, "CODE_LINE");
	guint64 no = 0;

	g_assert_true(g_str_has_suffix(g_hash_table_lookup(e, "CODE_FILE"), file));
	g_assert_cmpstr(g_hash_table_lookup(e, "CODE_FUNC"), ==, func);
	g_assert_nonnull(line);
	g_assert_true(g_ascii_string_to_unsigned(line, 10, 1, G_MAXUINT, &no, NULL));
}

/* a topic delete through the admin API: the topic is a field of its own */
static void
test_log_topic_delete(void)
{
	Fixture *fx = fixture_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	GHashTable *e;

	make_topic(fx, "orders");
	msb_test_log_capture_begin();
	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", 0, &error));
	entries = msb_test_log_capture_end();
	g_assert_no_error(error);

	e = find_entry(entries, "topic orders deleted*");
	g_assert_cmpstr(g_hash_table_lookup(e, "MESSAGE"), ==,
	                "topic orders deleted: it is removed at the next tick");
	g_assert_cmpstr(g_hash_table_lookup(e, "GLIB_DOMAIN"), ==, "msb-broker");
	g_assert_cmpstr(g_hash_table_lookup(e, "PRIORITY"), ==, "5");
	assert_code_location(e, "msb-broker-admin.c", "msb_broker_delete_topic");
	g_assert_cmpstr(g_hash_table_lookup(e, "MSB_TOPIC"), ==, "orders");
	g_assert_false(g_hash_table_contains(e, "MSB_SESSION"));
	g_assert_false(g_hash_table_contains(e, "MSB_QUEUE"));
	fixture_free(fx);
}

/* a Reject to a client whose name has a control character: the session's fields, sanitised */
static void
test_log_reject(void)
{
	Fixture *fx = fixture_new();
	Client *c = client_new_raw(fx);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	g_autofree gchar *session_id = NULL;
	g_autofree gchar *expected = NULL;
	GHashTable *e;

	g_assert_true(c_greet_full(c, "evil\nname;1.0", 3, &error));
	g_assert_no_error(error);
	session_id = g_strdup_printf("%" G_GINT64_FORMAT, msb_session_get_id(c->session));
	msb_test_log_capture_begin();
	c_subscribe(c, "missing", "q", MSB_QUEUE_TYPE_PERMANENT);
	entries = msb_test_log_capture_end();
	expect_reject(c, "Subscribe to missing/q failed");

	e = find_entry(entries, "Reject to *");
	expected =
	        g_strdup_printf("Reject to client 'evil?name' 1.0 at 127.0.0.1:40000 (session %s): "
	                        "Subscribe to missing/q failed: TopicNotFound { topic_id: "
	                        "\"missing\" }",
	                        session_id);
	g_assert_cmpstr(g_hash_table_lookup(e, "MESSAGE"), ==, expected);
	g_assert_cmpstr(g_hash_table_lookup(e, "GLIB_DOMAIN"), ==, "msb-session");
	g_assert_cmpstr(g_hash_table_lookup(e, "PRIORITY"), ==, "5");
	assert_code_location(e, "msb-session.c", "msb_session_log_reject");
	g_assert_cmpstr(g_hash_table_lookup(e, "MSB_SESSION"), ==, session_id);
	g_assert_cmpstr(g_hash_table_lookup(e, "MSB_PEER"), ==, "127.0.0.1:40000");
	g_assert_cmpstr(g_hash_table_lookup(e, "MSB_CLIENT"), ==, "evil?name");
	fixture_free(fx);
}

/* any g_warning() of the project carries its code location (G_LOG_USE_STRUCTURED) */
static void
test_log_plain_warning(void)
{
	Fixture *fx = fixture_new();
	g_autoptr(GPtrArray) entries = NULL;
	GHashTable *e;

	msb_test_log_capture_begin();
	msb_broker_remove_listener(fx->broker, 12345);
	entries = msb_test_log_capture_end();

	e = find_entry(entries, "no broker listener with id 12345");
	g_assert_cmpstr(g_hash_table_lookup(e, "GLIB_DOMAIN"), ==, "msb-broker");
	g_assert_cmpstr(g_hash_table_lookup(e, "PRIORITY"), ==, "4");
	assert_code_location(e, "msb-broker-events.c", "msb_broker_remove_listener");
	fixture_free(fx);
}

/* the expectations of the other tests fail when the line is not logged */
static void
test_log_expect_missing_subprocess(void)
{
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING, "*never logged*");
	msb_test_log_assert_expected();
}

static void
test_log_expect_missing(void)
{
	g_test_trap_subprocess("/log/expect-missing/subprocess", 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_failed();
	g_test_trap_assert_stderr("*did not see the expected message*never logged*");
}

static void
test_log_sanitize(void)
{
	g_autofree gchar *shown = msb_log_sanitize("a\rb\x1b[31mc\x7f\td");

	g_assert_cmpstr(shown, ==, "a?b?[31mc??d");
	g_assert_null(msb_log_sanitize(NULL));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	msb_test_log_init();
	g_test_add_func("/log/topic-delete", test_log_topic_delete);
	g_test_add_func("/log/reject", test_log_reject);
	g_test_add_func("/log/plain-warning", test_log_plain_warning);
	g_test_add_func("/log/expect-missing", test_log_expect_missing);
	g_test_add_func("/log/expect-missing/subprocess", test_log_expect_missing_subprocess);
	g_test_add_func("/log/sanitize", test_log_sanitize);
	return g_test_run();
}
