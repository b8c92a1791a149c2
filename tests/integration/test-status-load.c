/*
 * Whole-state reads do not stall message service (issue 7 §4): a broker with 100,000 topics keeps
 * answering Pings (within 2 s, a generous bound for an ASan build) while clients fetch /api/status
 * and /metrics in a loop, and every answer is complete (valid JSON or Prometheus text listing every
 * topic).
 *
 * The Pings and the fetches run in threads of their own with blocking I/O, so that what this
 * process does (parsing 25 MB of JSON) cannot delay them; the bound is a correctness bound (a
 * broker that builds the page on its main loop holds Pings for seconds), not a measurement:
 * bench/run-status-bench.sh reports the delays.
 */
#include <string.h>

#include <libsoup/soup.h>

#include "itest.h"

#define N_TOPICS 100000
/* generous: an ASan build on a busy 2-core machine; a broker that renders on its main loop holds
 * Pings for longer than this with a single request */
#define MAX_PING_US (2 * G_USEC_PER_SEC)

typedef struct {
	guint16 port;
	gint stop;
	gint n_pings;
	gint64 max_rtt_us;
} Pinger;

static gpointer
pinger_thread(gpointer data)
{
	Pinger *p = data;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GError) error = NULL;
	GSocket *sock;

	conn = g_socket_client_connect_to_host(client, "127.0.0.1", p->port, NULL, &error);
	g_assert_no_error(error);
	sock = g_socket_connection_get_socket(conn);
	g_socket_set_timeout(sock, 60);
	{
		/* a connection without a Greeting is closed after GreetingTimeout */
		MsbBuf greeting;

		msb_buf_init(&greeting, 0);
		msb_wire_put_greeting(&greeting, "pinger", 3, &error);
		g_assert_no_error(error);
		g_assert_cmpint(g_socket_send(sock, (const gchar *)msb_buf_head(&greeting),
		                              msb_buf_pending(&greeting), NULL, &error),
		                ==, (gssize)msb_buf_pending(&greeting));
		g_assert_no_error(error);
		msb_buf_clear(&greeting);
	}
	while (!g_atomic_int_get(&p->stop)) {
		guint8 ping = MSB_PACKET_PING;
		guint8 pong = 0;
		gint64 t0 = g_get_monotonic_time();
		gint64 rtt;

		g_assert_cmpint(g_socket_send(sock, (const gchar *)&ping, 1, NULL, &error), ==, 1);
		g_assert_no_error(error);
		g_assert_cmpint(g_socket_receive(sock, (gchar *)&pong, 1, NULL, &error), ==, 1);
		g_assert_no_error(error);
		g_assert_cmpuint(pong, ==, MSB_PACKET_PONG);
		rtt = g_get_monotonic_time() - t0;
		if (rtt > p->max_rtt_us)
			p->max_rtt_us = rtt;
		g_atomic_int_inc(&p->n_pings);
		g_usleep(2000);
	}
	return NULL;
}

typedef struct {
	guint16 http_port;
	const gchar *path;
	guint rounds;
} Fetcher;

static gchar *
topic_name(guint i)
{
	return g_strdup_printf("topic-%06u", i);
}

static void
check_status(GBytes *body)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *first = topic_name(0);
	g_autofree gchar *last = topic_name(N_TOPICS - 1);
	JsonObject *root;
	JsonArray *items;

	json_parser_load_from_data(parser, g_bytes_get_data(body, NULL),
	                           (gssize)g_bytes_get_size(body), &error);
	g_assert_no_error(error);
	root = json_node_get_object(json_parser_get_root(parser));
	items = json_object_get_array_member(json_object_get_object_member(root, "topics"),
	                                     "items");
	g_assert_cmpuint(json_array_get_length(items), ==, N_TOPICS);
	g_assert_cmpstr(
	        json_object_get_string_member(json_array_get_object_element(items, 0), "id"), ==,
	        first);
	g_assert_cmpstr(json_object_get_string_member(
	                        json_array_get_object_element(items, N_TOPICS - 1), "id"),
	                ==, last);
	g_assert_cmpuint(json_object_get_size(json_object_get_object_member(root, "queues")), ==,
	                 N_TOPICS);
	g_assert_cmpstr(json_object_get_string_member(root, "state"), ==, "running");
	g_assert_true(json_object_has_member(root, "persistence"));
}

static void
check_metrics(GBytes *body)
{
	gsize len = 0;
	const gchar *text = g_bytes_get_data(body, &len);
	const gchar *end = text + len;
	const gchar *last_line = NULL;
	guint n_next_id = 0;

	/* line by line without copying (g_strsplit() is quadratic under ASan's strstr) */
	for (const gchar *line = text; line < end;) {
		const gchar *nl = memchr(line, '\n', (gsize)(end - line));
		g_assert_nonnull(nl); /* complete: every line ends */
		if ((gsize)(nl - line) > strlen("topic_next_message_id{") &&
		    memcmp(line, "topic_next_message_id{", strlen("topic_next_message_id{")) == 0)
			n_next_id++;
		last_line = line;
		line = nl + 1;
	}
	g_assert_cmpuint(n_next_id, ==, N_TOPICS);
	/* complete: ends with the last metric */
	g_assert_nonnull(last_line);
	g_assert_true(g_str_has_prefix(last_line, "process_start_time_seconds "));
}

static gpointer
fetcher_thread(gpointer data)
{
	Fetcher *f = data;
	g_autoptr(SoupSession) session = soup_session_new();
	g_autofree gchar *uri = g_strdup_printf("http://127.0.0.1:%u%s", f->http_port, f->path);

	soup_session_set_timeout(session, 60);
	for (guint r = 0; r < f->rounds; r++) {
		g_autoptr(SoupMessage) msg = soup_message_new("GET", uri);
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) body = soup_session_send_and_read(session, msg, NULL, &error);

		g_assert_no_error(error);
		g_assert_cmpuint(soup_message_get_status(msg), ==, SOUP_STATUS_OK);
		if (g_str_equal(f->path, "/metrics"))
			check_metrics(body);
		else
			check_status(body);
	}
	return NULL;
}

static void
create_topics(ItestBroker *b)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(b);
	gint64 t0 = g_get_monotonic_time();
	MsbBuf buf;

	itest_raw_greet(r, "creator", 3, -1);
	msb_buf_init(&buf, 0);
	for (guint i = 0; i < N_TOPICS; i++) {
		g_autofree gchar *name = topic_name(i);
		g_autoptr(GError) error = NULL;
		msb_wire_put_create_topic(&buf, name, &error);
		g_assert_no_error(error);
	}
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
	itest_raw_barrier(r);
	g_test_message("%u topics created in %" G_GINT64_FORMAT " ms", N_TOPICS,
	               (g_get_monotonic_time() - t0) / 1000);
}

static void
test_status_while_pinging(ItestFixture *f, gconstpointer data)
{
	Pinger pinger = {.port = f->broker->port};
	Fetcher fetchers[] = {
	        {f->broker->http_port, "/api/status", 1},
	        {f->broker->http_port, "/Status", 1},
	        {f->broker->http_port, "/metrics", 1},
	};
	GThread *threads[G_N_ELEMENTS(fetchers)];
	GThread *ping_thread;
	gint64 t0;
	gint n_before;

	create_topics(f->broker);

	ping_thread = g_thread_new("pinger", pinger_thread, &pinger);
	ITEST_WAIT_FOR(g_atomic_int_get(&pinger.n_pings) >= 10);
	n_before = g_atomic_int_get(&pinger.n_pings);
	t0 = g_get_monotonic_time();
	for (guint i = 0; i < G_N_ELEMENTS(fetchers); i++)
		threads[i] = g_thread_new("fetcher", fetcher_thread, &fetchers[i]);
	for (guint i = 0; i < G_N_ELEMENTS(fetchers); i++)
		g_thread_join(threads[i]);
	g_atomic_int_set(&pinger.stop, 1);
	g_thread_join(ping_thread);

	g_test_message("%d pings while 3 whole-state reads took %" G_GINT64_FORMAT
	               " ms; the slowest took %" G_GINT64_FORMAT " ms",
	               g_atomic_int_get(&pinger.n_pings) - n_before,
	               (g_get_monotonic_time() - t0) / 1000, pinger.max_rtt_us / 1000);
	g_assert_cmpint(g_atomic_int_get(&pinger.n_pings) - n_before, >, 10);
	g_assert_cmpint(pinger.max_rtt_us, <, MAX_PING_US);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	/* three whole-state pages of 100,000 topics (/metrics alone is 70 MB) rendered one after
	 * the other by an ASan build on a shared machine may take longer than the default 30 s
	 * HttpRequestTimeout, which would cut the last one; this test is about Pings */
	ITEST_ADD("/status-load/pings-while-fetching", "HttpRequestTimeout: 300s\n",
	          test_status_while_pinging);
	return g_test_run();
}
