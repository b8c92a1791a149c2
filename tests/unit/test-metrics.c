/*
 * /metrics as text: the strict exposition parser the tests use (mtest.c) rejects what Prometheus
 * would, MsbHistogram and the helpers of msb-metrics.c give text it accepts, and the broker's
 * rendering (msb-status-render.c) is valid, escapes queue names and drops deleted queues.
 */
#include <math.h>
#include <string.h>

#include "broker-fixture.h"
#include "msb-broker-stats.h"
#include "msb-metrics.h"
#include "msb-process-stats.h"
#include "msb-status-render.h"
#include "../integration/mtest.h"

#define HG "# HELP g A gauge\n# TYPE g gauge\n"
#define HH "# HELP h A histogram\n# TYPE h histogram\n"

/* what Prometheus reads */
static const gchar *const good_texts[] = {
        "",
        HG "g 1\n",
        HG "g{a=\"x\",b=\"y\",} 1.5e3 1700000000000\n",
        HG "g{a=\"q\\\"b\\\\n\\n\"} -Inf\n",
        HG "g{} NaN\n",
        "# a comment\n" HG "\n",
        "# HELP c Help with \\\\ and \\n\n# TYPE c counter\nc 3\n",
        HH "h_bucket{le=\"0.1\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
           "h_sum 3.5\nh_count 2\n",
        HH "h_bucket{x=\"a\",le=\"+Inf\"} 0\nh_sum{x=\"a\"} 0\nh_count{x=\"a\"} 0\n"
           "h_bucket{x=\"b\",le=\"+Inf\"} 1\nh_sum{x=\"b\"} 1\nh_count{x=\"b\"} 1\n",
        "# HELP s S\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n",
        /* a gauge may be negative whatever its name; so may a histogram's sum */
        "# HELP g_count G\n# TYPE g_count gauge\ng_count -1\n",
        HH "h_bucket{le=\"+Inf\"} 1\nh_sum -2.5\nh_count 1\n",
};

/* what it must not accept, and why */
static const gchar *const bad_texts[] = {
        HG "g 1",                                          /* no final line feed */
        HG "9g 1\n",                                       /* name starts with a digit */
        HG "g-x 1\n",                                      /* '-' in a name */
        HG "g{9a=\"x\"} 1\n",                              /* bad label name */
        HG "g{__a=\"x\"} 1\n",                             /* reserved label name */
        HG "g{a=\"x\",a=\"y\"} 1\n",                       /* label twice */
        HG "g{a=x} 1\n",                                   /* value not quoted */
        HG "g{a=\"x\\t\"} 1\n",                            /* unknown escape */
        HG "g{a=\"x\"\"} 1\n",                             /* unescaped quote */
        HG "g{a=\"x} 1\n",                                 /* unterminated */
        HG "g{a=\"x\" b=\"y\"} 1\n",                       /* no comma */
        HG "g{a=\"\xff\"} 1\n",                            /* not UTF-8 */
        HG "g one\n",                                      /* not a number */
        HG "g 0x10\n",                                     /* hex */
        HG "g 1 2 3\n",                                    /* text after the timestamp */
        HG "g 1 1.5\n",                                    /* non-integer timestamp */
        HG "g\n",                                          /* no value */
        HG "g 1\ng 2\n",                                   /* the same series twice */
        HG "g{a=\"1\",b=\"2\"} 1\ng{b=\"2\",a=\"1\"} 1\n", /* twice, labels reordered */
        "g 1\n",                                           /* no HELP or TYPE */
        "# TYPE g gauge\ng 1\n",                           /* no HELP */
        "# HELP g x\ng 1\n",                               /* no TYPE */
        HG "# TYPE g gauge\ng 1\n",                        /* second TYPE */
        HG "# HELP g again\ng 1\n",                        /* second HELP */
        HG "g 1\n# HELP g late\n",                         /* HELP after the samples */
        "# HELP g x\n# TYPE g gage\ng 1\n",                /* unknown type */
        "# HELP g x \\t\n# TYPE g gauge\ng 1\n",           /* bad HELP escape */
        HG "g{a=\"1\"} 1\n# HELP k K\n# TYPE k gauge\nk 1\ng{a=\"2\"} 1\n",   /* split */
        "# HELP g x\n# HELP k K\n# TYPE g gauge\n# TYPE k gauge\ng 1\nk 1\n", /* interleaved */
        " " HG "g 1\n",                                                       /* leading blank */
        "# HELP c C\n# TYPE c counter\nc -1\n",                               /* negative counter */
        HH "h 1\n",                                      /* plain sample of a histogram */
        HH "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", /* no +Inf */
        HH "h_bucket{le=\"1\"} 1\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
           "h_sum 1\nh_count 1\n", /* le not ascending */
        HH
        "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", /* not cumulative */
        HH "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", /* _count is not +Inf */
        HH "h_bucket{le=\"+Inf\"} 2\nh_sum 1\n",            /* no _count */
        HH "h_bucket{le=\"+Inf\"} 2\nh_count 2\n",          /* no _sum */
        HH "h_bucket 2\nh_sum 1\nh_count 2\n",              /* bucket without le */
        HH "h_bucket{le=\"x\"} 2\nh_sum 1\nh_count 2\n",    /* le not a number */
        HH "h_bucket{le=\"+Inf\"} 1\nh_bucket{le=\"2\"} 1\nh_sum 1\nh_count 1\n", /* after +Inf */
        "# HELP s S\n# TYPE s summary\ns{quantile=\"1.5\"} 1\ns_sum 1\ns_count 1\n",
        HH "h_bucket{le=\"+Inf\"} -1\nh_sum 1\nh_count -1\n",   /* negative count */
        "# HELP s S\n# TYPE s summary\ns_sum 1\ns_count NaN\n", /* NaN count */
};

static void
test_parser_accepts(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(good_texts); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(MtestMetrics) m = mtest_parse(good_texts[i], &error);
		if (m == NULL)
			g_error("good text %u refused: %s\n%s", i, error->message, good_texts[i]);
	}
}

static void
test_parser_rejects(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(bad_texts); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(MtestMetrics) m = mtest_parse(bad_texts[i], &error);
		if (m != NULL)
			g_error("bad text %u accepted:\n%s", i, bad_texts[i]);
		g_assert_nonnull(error);
		g_test_message("%u: %s", i, error->message);
	}
}

static void
test_parser_values(void)
{
	g_autoptr(MtestMetrics) m =
	        mtest_parse_or_fail(HG "g{a=\"q\\\"b\\\\n\\n\",b=\"\"} 1.5e3\n" HH
	                               "h_bucket{le=\"+Inf\"} 2\nh_sum 0.25\nh_count 2\n");

	g_assert_cmpfloat(mtest_value(m, "g", "a", "q\"b\\n\n", "b", "", NULL), ==, 1500);
	g_assert_null(mtest_find(m, "g", "a", "q\"b\\n\n", NULL));
	g_assert_cmpfloat(mtest_value(m, "h_sum", NULL), ==, 0.25);
	g_assert_cmpstr(mtest_family(m, "h")->type, ==, "histogram");
	g_assert_cmpuint(mtest_family(m, "h")->samples->len, ==, 3);
	g_assert_cmpstr(mtest_family(m, "g")->help, ==, "A gauge");
}

/* Escaped by msb_metrics_append_label(), read back by the parser: the same bytes. */
static void
test_label_escaping(void)
{
	const gchar *value = "a\"b\\c\nd\\\"\\n caf\xc3\xa9";
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(MtestMetrics) m = NULL;

	msb_metrics_header(out, "x", "gauge", "help with \\ and\nnewline");
	g_string_append(out, "x{v=\"");
	msb_metrics_append_label(out, value);
	g_string_append(out, "\"} 7\n");
	m = mtest_parse_or_fail(out->str);
	g_assert_cmpfloat(mtest_value(m, "x", "v", value, NULL), ==, 7);
	g_assert_cmpstr(mtest_family(m, "x")->help, ==, "help with \\ and\nnewline");
}

static void
test_histogram(void)
{
	MsbHistogram h = {0};
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(MtestMetrics) m = NULL;

	/* on a bound counts in that bucket; above the last one in +Inf only */
	msb_histogram_observe(&h, 100);
	msb_histogram_observe(&h, 101);
	msb_histogram_observe(&h, -5);
	msb_histogram_observe(&h, 20 * G_USEC_PER_SEC);
	g_assert_cmpuint(msb_histogram_count(&h), ==, 4);
	g_assert_cmpint(msb_histogram_quantile_us(&h, 0.5), ==, 100);
	g_assert_cmpint(msb_histogram_quantile_us(&h, 0.75), ==, 250);
	g_assert_cmpint(msb_histogram_quantile_us(&h, 1.0), ==, 10 * G_USEC_PER_SEC);

	msb_metrics_histogram(out, "lat_seconds", "Latency", TRUE, "k=\"v\"", &h);
	m = mtest_parse_or_fail(out->str);
	g_assert_cmpfloat(mtest_value(m, "lat_seconds_bucket", "k", "v", "le", "0.0001", NULL), ==,
	                  2);
	g_assert_cmpfloat(mtest_value(m, "lat_seconds_bucket", "k", "v", "le", "0.00025", NULL), ==,
	                  3);
	g_assert_cmpfloat(mtest_value(m, "lat_seconds_bucket", "k", "v", "le", "10", NULL), ==, 3);
	g_assert_cmpfloat(mtest_value(m, "lat_seconds_bucket", "k", "v", "le", "+Inf", NULL), ==,
	                  4);
	g_assert_cmpfloat(mtest_value(m, "lat_seconds_count", "k", "v", NULL), ==, 4);
	g_assert_cmpfloat(fabs(mtest_value(m, "lat_seconds_sum", "k", "v", NULL) - 20.000201), <,
	                  1e-9);
	g_assert_cmpuint(mtest_family(m, "lat_seconds")->samples->len, ==,
	                 MSB_HISTOGRAM_N_BOUNDS + 3);
}

#define N_THREADS      4
#define N_OBSERVATIONS 20000

static gpointer
observe_thread(gpointer data)
{
	for (gint i = 0; i < N_OBSERVATIONS; i++)
		msb_histogram_observe_atomic(data, i % 3000);
	return NULL;
}

/* Observers in several threads lose nothing. */
static void
test_histogram_atomic(void)
{
	MsbHistogram h = {0};
	MsbHistogram copy;
	GThread *threads[N_THREADS];
	guint64 sum = 0;

	for (guint i = 0; i < N_THREADS; i++)
		threads[i] = g_thread_new("observe", observe_thread, &h);
	for (guint i = 0; i < N_THREADS; i++)
		g_thread_join(threads[i]);
	for (gint i = 0; i < N_OBSERVATIONS; i++)
		sum += (guint64)(i % 3000);
	msb_histogram_copy_atomic(&h, &copy);
	g_assert_cmpuint(msb_histogram_count(&copy), ==, N_THREADS * N_OBSERVATIONS);
	g_assert_cmpuint(copy.sum_us, ==, N_THREADS * sum);
}

static void
test_process(void)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(MtestMetrics) m = NULL;
	MsbProcessStats ps;
	gdouble now = (gdouble)g_get_real_time() / G_USEC_PER_SEC;
	gdouble started;

	g_assert_true(msb_process_stats_read(&ps));
	msb_metrics_process(out);
	m = mtest_parse_or_fail(out->str);
	g_assert_cmpfloat(mtest_value(m, "process_resident_memory_bytes", NULL), >, 1024 * 1024);
	g_assert_cmpfloat(mtest_value(m, "process_virtual_memory_bytes", NULL), >=,
	                  mtest_value(m, "process_resident_memory_bytes", NULL));
	g_assert_cmpfloat(mtest_value(m, "process_cpu_seconds_total", NULL), >=, 0);
	/* stdin, stdout, stderr at least */
	g_assert_cmpfloat(mtest_value(m, "process_open_fds", NULL), >=, 3);
	g_assert_cmpfloat(mtest_value(m, "process_open_fds", NULL), <=,
	                  mtest_value(m, "process_max_fds", NULL));
	started = mtest_value(m, "process_start_time_seconds", NULL);
	g_assert_cmpfloat(started, <=, now + 1);
	g_assert_cmpfloat(started, >, now - 3600);
	g_assert_cmpstr(mtest_family(m, "process_cpu_seconds_total")->type, ==, "counter");
}

/* The broker's whole /metrics: valid; a queue name with a quote, a backslash and a newline
 * comes back as it was; a deleted queue's series are gone; the counters count. */
static void
test_render(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	Client *gone = client_new(fx, 3, 1);
	const gchar *odd = "q\"uo\\te\nline";
	MsbHttpInfo info = {.state = "running", .tcp_connections = 3, .http_connections = 1};
	g_autoptr(RxPacket) first = NULL;
	g_autoptr(RxPacket) again = NULL;

	make_topic(fx, "orders");
	make_topic(fx, "empty");
	c_subscribe(sub, "orders", odd, MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(gone, "orders", "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	expect_response(pub, c_publish_n(pub, "orders", 5, 10));
	/* failed once (redelivered), then confirmed after 10 ms (the bucket le="0.01") */
	first = expect_batch(sub, "orders", odd);
	c_fail(sub, first);
	again = expect_batch(sub, "orders", odd);
	assert_attempts(again, 1);
	fx->mono += SEC / 100;
	c_ok(sub, again);

	for (guint round = 0; round < 2; round++) {
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		g_autoptr(GBytes) body = msb_status_render_metrics(stats, &info);
		g_autofree gchar *text =
		        g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
		g_autoptr(MtestMetrics) m = mtest_parse_or_fail(text);
		gboolean temp_present = round == 0;

		g_assert_cmpfloat(mtest_value(m, "topic_queue_size", "namespace", "default",
		                              "topic", "orders", "queue", odd, NULL),
		                  ==, 0);
		g_assert_cmpfloat(mtest_value(m, "msb_topic_messages_published_total", "namespace",
		                              "default", "topic", "orders", NULL),
		                  ==, 5);
		g_assert_cmpfloat(mtest_value(m, "msb_topic_messages_delivered_total", "namespace",
		                              "default", "topic", "orders", NULL),
		                  ==, 5);
		g_assert_cmpfloat(mtest_value(m, "msb_topic_messages_redelivered_total",
		                              "namespace", "default", "topic", "orders", NULL),
		                  ==, 5);
		g_assert_cmpfloat(mtest_value(m, "topic_mean_message_size", "namespace", "default",
		                              "topic", "orders", NULL),
		                  ==, 10);
		g_assert_cmpfloat(mtest_value(m, "topic_mean_message_size", "namespace", "default",
		                              "topic", "empty", NULL),
		                  ==, 0);
		/* the failed batch at once, the other after 10 ms */
		g_assert_cmpfloat(
		        mtest_value(m, "msb_delivery_latency_seconds_bucket", "le", "0.0001", NULL),
		        ==, 1);
		g_assert_cmpfloat(
		        mtest_value(m, "msb_delivery_latency_seconds_bucket", "le", "0.005", NULL),
		        ==, 1);
		g_assert_cmpfloat(
		        mtest_value(m, "msb_delivery_latency_seconds_bucket", "le", "0.01", NULL),
		        ==, 2);
		g_assert_cmpfloat(mtest_value(m, "msb_delivery_latency_seconds_count", NULL), ==,
		                  2);
		g_assert_cmpfloat(mtest_value(m, "msb_delivery_latency_seconds_sum", NULL), ==,
		                  0.01);
		g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "tcp", NULL), ==,
		                  temp_present ? 3 : 2);
		g_assert_cmpfloat(mtest_value(m, "msb_connections", "kind", "http", NULL), ==, 0);
		g_assert_cmpfloat(mtest_value(m, "http_connections_amount", NULL), ==, 1);
		g_assert_cmpfloat(mtest_value(m, "tcp_connections", "tcp_metric", "count", NULL),
		                  ==, 3);
		g_assert_cmpfloat(mtest_value(m, "topics_without_queues", NULL), ==, 1);
		/* "temp" (waiting 5) while it exists, then no series of it at all */
		g_assert_cmpuint(mtest_count_with_label(m, "topic_queue_size", "queue", "temp"), ==,
		                 temp_present ? 1 : 0);
		g_assert_cmpuint(mtest_count_with_label(m, "msb_queue_in_flight", "queue", "temp"),
		                 ==, temp_present ? 1 : 0);
		g_assert_nonnull(mtest_family(m, "process_resident_memory_bytes"));

		/* the session goes, and the queue with it once its GC timeout has passed */
		if (round == 0) {
			client_close(gone);
			fx->mono += 3600 * SEC;
			msb_broker_tick(fx->broker);
			g_assert_null(find_queue(fx, "orders", "temp"));
		}
	}
}

/* No topic at all: http_connections_amount is there anyway (the reference broker left it out). */
static void
test_render_empty(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
	MsbHttpInfo info = {.state = "running", .http_connections = 2};
	g_autoptr(GBytes) body = msb_status_render_metrics(stats, &info);
	g_autofree gchar *text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	g_autoptr(MtestMetrics) m = mtest_parse_or_fail(text);

	g_assert_cmpfloat(mtest_value(m, "http_connections_amount", NULL), ==, 2);
	g_assert_cmpuint(mtest_family(m, "topic_queue_size")->samples->len, ==, 0);
	g_assert_cmpfloat(mtest_value(m, "msb_delivery_latency_seconds_count", NULL), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/metrics/parser/accepts", test_parser_accepts);
	g_test_add_func("/metrics/parser/rejects", test_parser_rejects);
	g_test_add_func("/metrics/parser/values", test_parser_values);
	g_test_add_func("/metrics/label-escaping", test_label_escaping);
	g_test_add_func("/metrics/histogram", test_histogram);
	g_test_add_func("/metrics/histogram-atomic", test_histogram_atomic);
	g_test_add_func("/metrics/process", test_process);
	g_test_add_func("/metrics/render", test_render);
	g_test_add_func("/metrics/render-empty", test_render_empty);

	return g_test_run();
}
