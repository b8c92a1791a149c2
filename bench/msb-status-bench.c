/*
 * msb-status-bench: what one /api/Status costs at 1,000 topics × 10 queues and 200 sessions
 * (issue 8, item 5). Not a test: it measures and prints, run by bench/run-status-api-bench.sh.
 *
 * 200 client sessions (libmsb-client) connect to a running broker; the first creates the topics,
 * each queue of each topic is subscribed by one of the sessions (50 subscriptions per session),
 * every topic has one publisher session that publishes a message a second, and every batch is
 * confirmed at once, so that every topic has publishers, pages, a publish history, and every
 * subscriber a latency history, as on a live broker. After the warm-up (120 s fills the
 * histories) a thread of its own requests /api/Status one at a time, on one keep-alive
 * connection, while the traffic goes on, and prints for each request the time until the
 * response headers (the broker answers only once the page is rendered: the server's time plus
 * one loopback round trip), the time until the last byte, and the body size.
 */
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msb-client.h"

typedef struct {
	const gchar *address;
	guint16 http_port;
	guint n_topics;
	guint n_queues;
	guint n_sessions;
	guint warm_seconds;
	guint n_requests;
	gint broker_pid; /* 0: unknown */
	MsbClient **clients;
	guint64 delivered;
	guint64 publish_failures;
	GMainLoop *loop;
} Bench;

static void
bench_delivery_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	Bench *bench = user_data;

	bench->delivered += msb_delivery_get_n_messages(delivery);
	msb_delivery_confirm_all(delivery);
}

static void
bench_publish_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Bench *bench = user_data;
	g_autoptr(GError) error = NULL;

	if (!msb_client_publish_finish(MSB_CLIENT(source), result, &error))
		bench->publish_failures++;
}

/* Once a second: one 100-byte message to every topic, from its publisher session. */
static gboolean
bench_publish_tick_cb(gpointer user_data)
{
	Bench *bench = user_data;
	static guint8 content[100];
	MsbMessage msg = {content, sizeof(content), NULL, 0};

	for (guint t = 0; t < bench->n_topics; t++) {
		g_autofree gchar *topic = g_strdup_printf("topic-%04u", t);
		msb_client_publish_async(bench->clients[t % bench->n_sessions], topic, &msg, 1,
		                         FALSE, NULL, bench_publish_cb, bench);
	}
	return G_SOURCE_CONTINUE;
}

static gint
cmp_double(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a;
	gdouble y = *(const gdouble *)b;

	return x < y ? -1 : x > y;
}

static gdouble
percentile(GArray *sorted, gdouble p)
{
	guint i = MIN(sorted->len - 1, (guint)(p * sorted->len));

	return g_array_index(sorted, gdouble, i);
}

/* CPU time the broker process has used so far, in ms (utime + stime), or -1. */
static gdouble
broker_cpu_ms(Bench *bench)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *p;

	if (bench->broker_pid <= 0)
		return -1;
	path = g_strdup_printf("/proc/%d/stat", bench->broker_pid);
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return -1;
	/* after the command name in parentheses: state is field 3, utime 14, stime 15 */
	p = strrchr(text, ')');
	if (p == NULL)
		return -1;
	fields = g_strsplit(p + 2, " ", -1);
	if (g_strv_length(fields) < 13)
		return -1;
	return (gdouble)(g_ascii_strtoull(fields[11], NULL, 10) +
	                 g_ascii_strtoull(fields[12], NULL, 10)) *
	       1000.0 / (gdouble)sysconf(_SC_CLK_TCK);
}

static gboolean
bench_quit_cb(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_REMOVE;
}

static gpointer
bench_http_thread(gpointer data)
{
	Bench *bench = data;
	g_autoptr(SoupSession) session = soup_session_new();
	g_autofree gchar *uri = g_strdup_printf("http://127.0.0.1:%u/api/Status", bench->http_port);
	g_autoptr(GArray) headers_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) total_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	gsize min_size = G_MAXSIZE;
	gsize max_size = 0;

	gdouble cpu_base0;
	gdouble cpu_base1;
	gdouble cpu_req0;
	gdouble cpu_req1;
	gint64 base_us;
	gint64 req_us;

	g_usleep((gulong)bench->warm_seconds * G_USEC_PER_SEC);
	/* what the traffic alone costs the broker, to subtract from the requests' phase */
	cpu_base0 = broker_cpu_ms(bench);
	base_us = g_get_monotonic_time();
	g_usleep(10 * G_USEC_PER_SEC);
	cpu_base1 = broker_cpu_ms(bench);
	base_us = g_get_monotonic_time() - base_us;
	cpu_req0 = broker_cpu_ms(bench);
	req_us = g_get_monotonic_time();
	for (guint i = 0; i < bench->n_requests + 1; i++) {
		g_autoptr(SoupMessage) msg = soup_message_new("GET", uri);
		g_autoptr(GInputStream) in = NULL;
		g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable();
		g_autoptr(GError) error = NULL;
		gint64 t0 = g_get_monotonic_time();
		gint64 t1;
		gint64 t2;
		gssize size;

		in = soup_session_send(session, msg, NULL, &error);
		if (in == NULL)
			g_error("GET %s: %s", uri, error->message);
		t1 = g_get_monotonic_time();
		size = g_output_stream_splice(out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE, NULL,
		                              &error);
		t2 = g_get_monotonic_time();
		if (size < 0 || soup_message_get_status(msg) != SOUP_STATUS_OK)
			g_error("GET %s: status %u, %s", uri, soup_message_get_status(msg),
			        error != NULL ? error->message : "");
		if (i == 0)
			continue; /* the first opens the connection */
		{
			gdouble h = (gdouble)(t1 - t0) / 1000.0;
			gdouble t = (gdouble)(t2 - t0) / 1000.0;
			g_array_append_val(headers_ms, h);
			g_array_append_val(total_ms, t);
		}
		min_size = MIN(min_size, (gsize)size);
		max_size = MAX(max_size, (gsize)size);
		if (i == 1) {
			g_autofree gchar *path =
			        g_build_filename(g_get_tmp_dir(), "msb-status-bench.json", NULL);
			gconstpointer body =
			        g_memory_output_stream_get_data(G_MEMORY_OUTPUT_STREAM(out));
			g_file_set_contents(path, body, size, NULL);
			printf("one response saved in %s\n", path);
		}
		g_usleep(200 * 1000); /* the UI polls once a second; no need to hammer */
	}
	cpu_req1 = broker_cpu_ms(bench);
	req_us = g_get_monotonic_time() - req_us;
	if (cpu_base0 >= 0 && cpu_req1 >= 0) {
		gdouble base_rate = (cpu_base1 - cpu_base0) / (gdouble)base_us;
		gdouble extra = (cpu_req1 - cpu_req0) - base_rate * (gdouble)req_us;
		printf("broker CPU: traffic alone %.1f%% of a core; per request %.1f ms "
		       "(over the %u requests and the traffic meanwhile, minus the traffic's "
		       "rate)\n",
		       base_rate * 1e5, extra / (bench->n_requests + 1), bench->n_requests + 1);
	}
	g_array_sort(headers_ms, cmp_double);
	g_array_sort(total_ms, cmp_double);
	printf("requests %u: until headers median %.1f ms, p90 %.1f ms, worst %.1f ms; "
	       "until last byte median %.1f ms, p90 %.1f ms, worst %.1f ms\n",
	       headers_ms->len, percentile(headers_ms, 0.5), percentile(headers_ms, 0.9),
	       g_array_index(headers_ms, gdouble, headers_ms->len - 1), percentile(total_ms, 0.5),
	       percentile(total_ms, 0.9), g_array_index(total_ms, gdouble, total_ms->len - 1));
	printf("response size: %" G_GSIZE_FORMAT " .. %" G_GSIZE_FORMAT " bytes (%.2f MB)\n",
	       min_size, max_size, (gdouble)max_size / 1e6);
	g_idle_add(bench_quit_cb, bench->loop);
	return NULL;
}

int
main(int argc, char **argv)
{
	Bench bench = {0};
	g_autoptr(GError) error = NULL;
	GThread *thread;
	static guint8 content[100];
	MsbMessage msg = {content, sizeof(content), NULL, 0};
	gint64 t0;

	if (argc < 3) {
		fprintf(stderr,
		        "usage: %s HOST:TCP_PORT HTTP_PORT [TOPICS QUEUES SESSIONS WARM_SECONDS "
		        "REQUESTS BROKER_PID]\n",
		        argv[0]);
		return 2;
	}
	bench.address = argv[1];
	bench.http_port = (guint16)atoi(argv[2]);
	bench.n_topics = argc > 3 ? (guint)atoi(argv[3]) : 1000;
	bench.n_queues = argc > 4 ? (guint)atoi(argv[4]) : 10;
	bench.n_sessions = argc > 5 ? (guint)atoi(argv[5]) : 200;
	bench.warm_seconds = argc > 6 ? (guint)atoi(argv[6]) : 120;
	bench.n_requests = argc > 7 ? (guint)atoi(argv[7]) : 30;
	bench.broker_pid = argc > 8 ? atoi(argv[8]) : 0;
	bench.loop = g_main_loop_new(NULL, FALSE);
	bench.clients = g_new0(MsbClient *, bench.n_sessions);

	t0 = g_get_monotonic_time();
	for (guint s = 0; s < bench.n_sessions; s++) {
		g_autofree gchar *name = g_strdup_printf("bench-%03u", s);
		bench.clients[s] = msb_client_new(bench.address, name);
		msb_client_set_auto_reconnect(bench.clients[s], FALSE);
		if (!msb_client_connect_sync(bench.clients[s], NULL, &error))
			g_error("connect %s: %s", bench.address, error->message);
	}
	for (guint t = 0; t < bench.n_topics; t++) {
		g_autofree gchar *topic = g_strdup_printf("topic-%04u", t);
		if (!msb_client_create_topic(bench.clients[0], topic, &error))
			g_error("create %s: %s", topic, error->message);
	}
	/* answered once the broker has handled every CreateTopic before it */
	if (!msb_client_publish_sync(bench.clients[0], "topic-0000", &msg, 1, FALSE, NULL, &error))
		g_error("publish: %s", error->message);
	for (guint t = 0; t < bench.n_topics; t++) {
		g_autofree gchar *topic = g_strdup_printf("topic-%04u", t);
		for (guint q = 0; q < bench.n_queues; q++) {
			g_autofree gchar *queue = g_strdup_printf("queue-%02u", q);
			MsbClient *c = bench.clients[(t * bench.n_queues + q) % bench.n_sessions];
			if (!msb_client_subscribe(c, topic, queue, MSB_CLIENT_QUEUE_PERMANENT,
			                          bench_delivery_cb, &bench, NULL, &error))
				g_error("subscribe: %s", error->message);
		}
	}
	printf("%u sessions, %u topics, %u queues each: set up in %.1f s; warming up %u s\n",
	       bench.n_sessions, bench.n_topics, bench.n_queues,
	       (gdouble)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC, bench.warm_seconds);
	fflush(stdout);
	g_timeout_add_seconds(1, bench_publish_tick_cb, &bench);
	thread = g_thread_new("http", bench_http_thread, &bench);
	g_main_loop_run(bench.loop);
	g_thread_join(thread);
	printf("messages delivered during the run: %" G_GUINT64_FORMAT
	       ", publish failures: %" G_GUINT64_FORMAT "\n",
	       bench.delivered, bench.publish_failures);
	for (guint s = 0; s < bench.n_sessions; s++) {
		msb_client_close(bench.clients[s]);
		g_object_unref(bench.clients[s]);
	}
	g_free(bench.clients);
	g_main_loop_unref(bench.loop);
	return 0;
}
