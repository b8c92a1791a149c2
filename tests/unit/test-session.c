/*
 * The rate-limited log of Rejects kept per session (msb_session_log_reject()): one line per
 * reason per MSB_SESSION_REJECT_LOG_INTERVAL_US, naming the client, with the count of the lines
 * left out in the next one and when the connection ends.
 */
#include "msb-session.h"
#include "msb-test-log.h"

#define S G_USEC_PER_SEC

static void
test_session_reject_log(void)
{
	MsbSession session = {0};

	session.id = 7;
	session.peer = (gchar *)"10.0.0.1:5000";
	session.name = (gchar *)"billing";
	session.version = (gchar *)"1.2";

	msb_test_log_expect("msb-session", G_LOG_LEVEL_MESSAGE,
	                    "Reject to client 'billing' 1.2 at 10.0.0.1:5000 (session 7): "
	                    "Subscribe to t/q failed: TopicNotFound*");
	msb_session_log_reject(&session, "TopicNotFound", "Subscribe to t/q failed: TopicNotFound",
	                       100 * S);
	msb_test_log_assert_expected();

	/* within the interval: counted, not logged; another reason is logged on its own */
	for (guint i = 0; i < 5; i++)
		msb_session_log_reject(&session, "TopicNotFound", "again", 101 * S + i);
	msb_test_log_expect("msb-session", G_LOG_LEVEL_MESSAGE, "*: ShuttingDown");
	msb_session_log_reject(&session, "ShuttingDown", "ShuttingDown", 102 * S);
	msb_test_log_assert_expected();

	/* after the interval: logged, with the count of the ones left out */
	msb_test_log_expect("msb-session", G_LOG_LEVEL_MESSAGE,
	                    "*: later (and 5 more for TopicNotFound in the last 10 s, not logged)");
	msb_session_log_reject(&session, "TopicNotFound", "later", 110 * S);
	msb_test_log_assert_expected();

	/* left out since, reported at the end of the connection */
	msb_session_log_reject(&session, "TopicNotFound", "again", 111 * S);
	msb_session_log_reject(&session, "TopicNotFound", "again", 112 * S);
	msb_test_log_expect("msb-session", G_LOG_LEVEL_MESSAGE,
	                    "client 'billing' 1.2 at 10.0.0.1:5000 (session 7) disconnected after "
	                    "2 more Rejects for TopicNotFound that were not logged");
	msb_session_log_rejects_left_out(&session);
	msb_test_log_assert_expected();
	msb_session_clear_reject_log(&session);
	g_assert_null(session.reject_log);
}

static void
test_session_reject_log_before_greeting(void)
{
	MsbSession session = {0};

	session.id = 3;
	session.peer = (gchar *)"unix";
	msb_test_log_expect("msb-session", G_LOG_LEVEL_MESSAGE,
	                    "Reject to a client at unix (session 3, no Greeting yet): Greeting*");
	msb_session_log_reject(&session, "Greeting",
	                       "Greeting: protocol version 1 is not supported", 0);
	msb_test_log_assert_expected();
	msb_session_clear_reject_log(&session);
}

/* a client cannot forge log lines: control characters in its name or topic become '?' */
static void
test_session_reject_log_control_chars(void)
{
	MsbSession session = {0};

	session.id = 4;
	session.peer = (gchar *)"10.0.0.2:6000";
	session.name = (gchar *)"evil\nmy-service-bus-Message: fake";
	msb_test_log_expect("msb-session", G_LOG_LEVEL_MESSAGE,
	                    "Reject to client 'evil?my-service-bus-Message: fake' at "
	                    "10.0.0.2:6000 (session 4): TopicNotFound { topic_id: \"a?b\" }");
	msb_session_log_reject(&session, "TopicNotFound", "TopicNotFound { topic_id: \"a\rb\" }",
	                       0);
	msb_test_log_assert_expected();
	msb_session_clear_reject_log(&session);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	msb_test_log_init();
	g_test_add_func("/session/reject-log", test_session_reject_log);
	g_test_add_func("/session/reject-log-before-greeting",
	                test_session_reject_log_before_greeting);
	g_test_add_func("/session/reject-log-control-chars", test_session_reject_log_control_chars);
	return g_test_run();
}
