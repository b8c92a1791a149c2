/*
 * SIGHUP (issue 7, item 3): the broker keeps running and keeps its in-memory messages, reads its
 * settings file again, applies and logs the keys that can change at run time, names the ones
 * that need a restart, and keeps its settings when the file now has an error.
 */
#include <signal.h>

#include "itest.h"

static ItestBroker *
start_logging_broker(const gchar *settings)
{
	ItestBroker *b = itest_broker_new(settings);

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	return b;
}

static void
sighup(ItestBroker *b)
{
	g_assert_cmpint(b->pid, >, 0);
	g_assert_cmpint(kill(b->pid, SIGHUP), ==, 0);
}

static void
test_reload_keeps_messages(void)
{
	ItestBroker *b = start_logging_broker(NULL);
	g_autoptr(ItestRaw) pub = itest_raw_connect(b);
	g_autoptr(ItestRaw) sub = itest_raw_connect(b);
	g_autoptr(ItestPacket) batch = NULL;
	const gchar *contents[] = {"one", "two", "three"};

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "kept");
	itest_raw_greet(sub, "consumer", 3, 1);
	itest_raw_subscribe(sub, "kept", "q", MSB_QUEUE_TYPE_PERMANENT);
	itest_raw_sync(sub);
	itest_raw_free(g_steal_pointer(&sub));
	/* in memory only (GrpcUrl none): a broker that dies loses these */
	itest_raw_publish(pub, "kept", 1, contents, 3, FALSE);
	itest_raw_expect_publish_response(pub, 1);

	itest_broker_write_settings(b, "DeliveryTimeout: 5s\nMaxDeliverySize: 1000000\n");
	sighup(b);
	itest_broker_wait_log(b, "reload: DeliveryTimeout: 00:00:30 -> 00:00:05", 1,
	                      ITEST_TIMEOUT_MS);
	itest_broker_wait_log(b, "applied only after a restart: MaxDeliverySize", 1,
	                      ITEST_TIMEOUT_MS);
	g_assert_true(itest_broker_is_running(b));
	/* the publisher's connection is still served */
	itest_raw_sync(pub);

	sub = itest_raw_connect(b);
	itest_raw_greet(sub, "consumer", 3, 1);
	itest_raw_subscribe(sub, "kept", "q", MSB_QUEUE_TYPE_PERMANENT);
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 3);
	for (guint i = 0; i < 3; i++)
		g_assert_cmpmem(g_bytes_get_data(itest_packet_message(batch, i)->content, NULL),
		                g_bytes_get_size(itest_packet_message(batch, i)->content),
		                contents[i], strlen(contents[i]));
	itest_raw_confirm(sub, TRUE, "kept", "q", batch->confirmation_id);
	itest_raw_sync(sub);
	itest_broker_free(b);
}

static void
test_reload_applies_and_rejects_bad_file(void)
{
	ItestBroker *b = start_logging_broker(NULL);
	g_autoptr(ItestRaw) silent = itest_raw_connect(b);

	itest_raw_greet(silent, "silent", 3, 1);
	itest_raw_sync(silent);

	/* an error in the file: nothing changes, the broker keeps running */
	itest_broker_write_settings(b, "ConnectionTimeout: 1s\nDeliveryTimeout: banana\n");
	sighup(b);
	itest_broker_wait_log(b, "still running on the settings in use", 1, ITEST_TIMEOUT_MS);
	g_assert_cmpuint(itest_broker_log_count(b, "DeliveryTimeout"), >=, 1);
	g_assert_true(itest_broker_is_running(b));
	itest_raw_sync(silent);

	/* the same change in a good file: logged from the old value, which the bad file left */
	itest_broker_write_settings(b, "ConnectionTimeout: 1s\n");
	sighup(b);
	itest_broker_wait_log(b, "reload: ConnectionTimeout: 00:00:30 -> 00:00:01", 1,
	                      ITEST_TIMEOUT_MS);
	/* the command line's ports are kept: nothing here needs a restart */
	g_assert_cmpuint(itest_broker_log_count(b, "applied only after a restart"), ==, 0);
	/* and it takes effect: a connection silent for 1 s is closed */
	itest_raw_wait_closed(silent, 5000);
	g_assert_true(itest_broker_is_running(b));

	/* nothing changed: said so */
	sighup(b);
	itest_broker_wait_log(b, "has no changes", 1, ITEST_TIMEOUT_MS);
	itest_broker_free(b);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	g_test_add_func("/reload/keeps-messages", test_reload_keeps_messages);
	g_test_add_func("/reload/applies-and-rejects-bad-file",
	                test_reload_applies_and_rejects_bad_file);
	return g_test_run();
}
