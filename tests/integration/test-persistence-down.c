/*
 * The broker when its persistence service is not there:
 *  - at start-up (the broker first): HTTP answers with state "waiting for persistence", metrics
 *    say msb_up 0, the client port is not bound and no ready file is written, and the log says
 *    it waits and keeps retrying (every 5 s); once the service starts on its port, the broker
 *    restores and binds within about 6 s and serves;
 *  - at run time (the service SIGKILLed): publishing and delivery continue from memory, the
 *    metrics say msb_persistence_up 0 with pending messages growing, and at MaxUnsavedSize
 *    publishes get Reject "PersistenceUnavailable ..." (exactly at the ceiling); once the
 *    service is back on the same port and data, everything pending is saved (pending 0,
 *    msb_persistence_saves_total grows), publishes work again, and after a broker crash every
 *    accepted message is there, the rejected ones are not, and new ids are above every accepted
 *    one (with a gap: the counter restarts past the reservation of the last saved snapshot);
 *    and msb_persistence_up follows the service going and coming back while the broker has
 *    nothing to save.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>

#include "dtest.h"

#define SIZE 100

static void
assert_connect_refused(guint16 port)
{
	g_autoptr(GInetAddress) inet = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(inet, port);
	g_autoptr(GError) error = NULL;
	g_autoptr(ItestRaw) r = itest_raw_connect_full(addr, 0, TRUE, &error);

	g_assert_null(r);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static const gchar *
state_of(ItestBroker *b, const gchar *path)
{
	static gchar state[64];
	g_autoptr(JsonNode) root = itest_broker_get_json(b, path);

	g_strlcpy(state, json_object_get_string_member(json_node_get_object(root), "state"),
	          sizeof(state));
	return state;
}

static void
test_down_at_startup(void)
{
	PtestService *ps = ptest_service_new();
	guint16 tcp_port = ptest_free_port();
	ItestBroker *b;
	g_autofree gchar *needle = NULL;
	g_autoptr(JsonNode) status = NULL;
	g_autoptr(ItestRaw) r = NULL;
	JsonObject *persistence;
	gint64 t0;

	ps->grpc_port = ptest_free_port();
	b = dtest_broker_new(ps, NULL);
	b->capture_log = TRUE;
	itest_broker_spawn(b, tcp_port);
	dtest_broker_wait_http(b);

	/* HTTP is up and says why nothing else is */
	g_assert_cmpstr(state_of(b, "/api/isalive"), ==, "waiting for persistence");
	g_assert_cmpstr(state_of(b, "/api/status?fresh=true"), ==, "waiting for persistence");
	g_assert_cmpfloat(dtest_metric(b, "msb_up"), ==, 0);
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_up"), ==, 0);

	/* the log says so, and that it keeps trying */
	needle = g_strdup_printf("waiting for persistence at 127.0.0.1:%u", ps->grpc_port);
	itest_broker_wait_log(b, needle, 1, ITEST_TIMEOUT_MS);
	g_assert_cmpuint(itest_broker_log_count(b, "retrying, reported every 5 s"), >=, 1);
	status = itest_broker_get_json(b, "/api/status?fresh=true");
	persistence = json_object_get_object_member(json_node_get_object(status), "persistence");
	g_assert_false(json_object_get_boolean_member(persistence, "up"));
	g_assert_nonnull(
	        strstr(json_object_get_string_member(persistence, "lastError"), "cannot connect"));
	/* clients are not served yet */
	assert_connect_refused(tcp_port);
	g_assert_false(g_file_test(b->ready_path, G_FILE_TEST_EXISTS));
	g_assert_true(itest_broker_is_running(b));

	t0 = g_get_monotonic_time();
	ptest_service_start(ps, ps->grpc_port);
	itest_broker_wait_ready(b, tcp_port, 6500);
	g_test_message("the broker was listening %" G_GINT64_FORMAT
	               " ms after the service was started",
	               (g_get_monotonic_time() - t0) / 1000);
	g_assert_cmpstr(state_of(b, "/api/isalive"), ==, "running");
	g_assert_cmpfloat(dtest_metric(b, "msb_up"), ==, 1);
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_up"), ==, 1);
	g_assert_cmpuint(itest_broker_log_count(b, "restored 0 topics and 0 queues"), ==, 1);

	/* and serves, persistence included */
	r = dtest_connect(b, "pub");
	itest_raw_create_topic(r, "events");
	dtest_publish(r, "events", 1, "m", 0, 3, SIZE, TRUE);
	itest_raw_expect_publish_response(r, 1);
	g_assert_cmpint(dtest_service_max_id(ps, "events"), ==, 2);

	g_clear_pointer(&r, itest_raw_free);
	itest_broker_free(b);
	ptest_service_free(ps);
}

/* Publish message @n alone; TRUE if accepted, FALSE for Reject "PersistenceUnavailable". */
static gboolean
publish_one(ItestRaw *pub, guint n, gint64 request_id)
{
	g_autoptr(ItestPacket) p = NULL;

	dtest_publish(pub, "events", request_id, "m", n, 1, SIZE, FALSE);
	p = itest_raw_next(pub);
	if (p->id == MSB_PACKET_REJECT) {
		g_test_message("message %u: %s", n, p->text);
		g_assert_true(g_str_has_prefix(p->text, "PersistenceUnavailable"));
		return FALSE;
	}
	g_assert_cmpint(p->id, ==, MSB_PACKET_PUBLISH_RESPONSE);
	g_assert_cmpint(p->request_id, ==, request_id);
	return TRUE;
}

static void
test_down_at_run_time(void)
{
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autofree gchar *target = NULL;
	g_autofree gchar *failed = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(DtestReceived) live = dtest_received_new();
	g_autoptr(DtestReceived) archive = dtest_received_new();
	g_autoptr(GBytes) sentinel = dtest_content("after", 0, SIZE);
	ItestRaw *pub;
	ItestRaw *sub;
	guint n = 0;
	gint64 rid = 1;
	guint accepted_while_down = 0;
	gdouble saves_before;

	ptest_service_start(ps, 0);
	/* 40 messages of SIZE bytes */
	b = dtest_broker_new(ps, "MaxUnsavedSize: 4000\n");
	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	target = ptest_service_target(ps);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);

	pub = dtest_connect(b, "pub");
	itest_raw_create_topic(pub, "events");
	itest_raw_sync(pub);
	/* "archive": permanent, nobody reads it, so it keeps every message for the end */
	sub = dtest_connect(b, "archive");
	itest_raw_subscribe(sub, "events", "archive", 0);
	itest_raw_sync(sub);
	itest_raw_free(sub);
	/* "live": a consumer that confirms everything */
	sub = dtest_connect(b, "live");
	itest_raw_subscribe(sub, "events", "live", 0);
	itest_raw_sync(sub);
	dtest_wait_snapshot(client, "events", "archive", 0);
	/* the last change: once it is saved the broker has nothing to tell the service */
	dtest_wait_snapshot(client, "events", "live", 0);
	g_clear_object(&client);

	/* down and back while nothing needs saving: the metrics follow the service */
	ptest_service_stop(ps, SIGKILL);
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_up") == 0);
	ptest_service_start(ps, ps->grpc_port);
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_up") == 1);

	dtest_publish(pub, "events", rid, "m", n, 10, SIZE, FALSE);
	itest_raw_expect_publish_response(pub, rid++);
	n += 10;
	while (live->ids->len < n)
		dtest_receive(sub, live, TRUE, "events", "live");
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_pending_messages") == 0);
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_up"), ==, 1);
	saves_before = dtest_metric(b, "msb_persistence_saves_total");
	g_assert_cmpfloat(saves_before, >, 0);

	/* the service dies: publishing and delivery go on from memory */
	ptest_service_stop(ps, SIGKILL);
	dtest_publish(pub, "events", rid, "m", n, 10, SIZE, FALSE);
	itest_raw_expect_publish_response(pub, rid++);
	n += 10;
	accepted_while_down += 10;
	while (live->ids->len < n)
		dtest_receive(sub, live, TRUE, "events", "live");
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_up") == 0);
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_pending_messages"), ==, 10);
	failed = g_strdup_printf("persistence at 127.0.0.1:%u failed", ps->grpc_port);
	itest_broker_wait_log(b, failed, 1, ITEST_TIMEOUT_MS);

	/* up to the ceiling, then a clear refusal, never a silent loss */
	while (publish_one(pub, n, rid++)) {
		n++;
		accepted_while_down++;
		g_assert_cmpuint(accepted_while_down, <=, 40);
	}
	g_assert_cmpuint(accepted_while_down, ==, 40);
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_pending_messages"), ==, 40);
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_pending_bytes"), ==, 40 * SIZE);
	g_assert_false(publish_one(pub, n, rid++));
	while (live->ids->len < n)
		dtest_receive(sub, live, TRUE, "events", "live");

	/* back on the same port and data: everything pending is saved */
	ptest_service_start(ps, ps->grpc_port);
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_pending_messages") == 0);
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_up") == 1);
	g_assert_cmpfloat(dtest_metric(b, "msb_persistence_saves_total"), >, saves_before);
	g_assert_cmpint(dtest_service_max_id(ps, "events"), ==, n - 1);
	/* and publishes work again, persist_immediately too */
	g_assert_true(publish_one(pub, n++, rid++));
	dtest_publish(pub, "events", rid, "m", n, 5, SIZE, TRUE);
	itest_raw_expect_publish_response(pub, rid++);
	n += 5;
	while (live->ids->len < n)
		dtest_receive(sub, live, TRUE, "events", "live");
	for (guint i = 0; i < n; i++)
		g_assert_cmpint(g_array_index(live->ids, gint64, i), ==, i);

	itest_raw_free(pub);
	itest_raw_free(sub);

	/* a crash now loses nothing that was accepted */
	itest_broker_kill(b);
	itest_broker_start(b, 0);
	sub = dtest_connect(b, "archive");
	itest_raw_subscribe(sub, "events", "archive", 0);
	itest_raw_barrier(sub);
	pub = dtest_connect(b, "pub");
	dtest_publish(pub, "events", 1, "after", 0, 1, SIZE, TRUE);
	itest_raw_expect_publish_response(pub, 1);
	while (dtest_received_find(archive, sentinel) < 0)
		dtest_receive(sub, archive, TRUE, "events", "archive");
	g_assert_cmpuint(archive->ids->len, ==, n + 1);
	for (guint i = 0; i < n; i++) {
		g_autoptr(GBytes) want = dtest_content("m", i, SIZE);
		g_assert_cmpint(g_array_index(archive->ids, gint64, i), ==, i);
		g_assert_true(g_bytes_equal(g_ptr_array_index(archive->content, i), want));
	}
	/* the next id is above every id accepted before the crash (not exactly the next one:
	 * after a crash the counter restarts past what the last saved snapshot reserved) */
	g_test_message("the next id after the crash is %" G_GINT64_FORMAT,
	               g_array_index(archive->ids, gint64, n));
	g_assert_cmpint(g_array_index(archive->ids, gint64, n), >=, n);
	itest_raw_free(pub);
	itest_raw_free(sub);

	itest_broker_free(b);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	g_test_add_func("/persistence-down/startup", test_down_at_startup);
	g_test_add_func("/persistence-down/run-time", test_down_at_run_time);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
