/*
 * `msbctl bench`: the broker's own benchmark over the TCP protocol, shaped like the peer harness
 * in ../shared/bench (natsbench) so that both can be tabled and compared in one run.
 *
 * This file owns the four measurements (pub, pubsub, fanout, latency), the end-to-end checks that
 * make a fast number trustworthy (every message delivered exactly once, in id order, with the
 * sequence number the publisher stamped into it), the CPU accounting of client and server, and
 * the JSON result line. The line has natsbench's format ({"broker","test","run","ok","error",
 * "params","metrics"}, same metric names) so that `natsbench -mode summary` reads it unchanged.
 *
 * Why it is built this way: the bench must not be the bottleneck. The messages of one Publish
 * are one pre-built MsbMessage array over one payload block (only the 8-byte sequence number is
 * rewritten per message, no allocation), many publishes are kept in flight (--window), and
 * subscribers confirm each batch inside the delivery callback. The subscribers run in a second
 * thread with their own GMainContext (msb-client is single-threaded per client, so each client
 * stays on the thread that made it); on 2 cores that is 15-20% faster than one context for all
 * clients, which --one-thread selects (bench/RESULTS.md).
 */
#define G_LOG_DOMAIN "msbctl-bench"

#include <math.h> /* isfinite(), a macro: no libm */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <msb-client.h>

#include "msb-i18n.h"
#include "msbctl-bench.h"
#include "msbctl.h"

#define BENCH_SEQ_BYTES 8 /* the sequence number stamped at the start of each payload */

typedef enum {
	BENCH_MODE_PUB,
	BENCH_MODE_PUBSUB,
	BENCH_MODE_FANOUT,
	BENCH_MODE_LATENCY,
	BENCH_MODE_REQREP,
	BENCH_MODE_PERSIST_PUB,
	BENCH_MODE_PERSIST_IMMEDIATE,
	BENCH_MODE_BACKLOG,
} BenchMode;

typedef struct {
	BenchMode mode;
	const gchar *mode_name;
	gchar *address;
	gchar *name; /* test name in the output; NULL: the mode's own */
	gint64 n;
	gint size;
	gint batch;
	gint window;
	gint subs;
	gint lat_n;
	gint warmup;
	gint run;
	gint server_pid;
	gint timeout_s;
	/* the persistence modes */
	gchar *http;             /* the broker's HTTP host:port: /metrics */
	gchar *persistence_http; /* the persistence service's HTTP host:port: /api/status */
	gchar *data_path;        /* the service's DataPath, to measure what it grows by */
	gint persistence_pid;
	gint publishers;         /* persist-immediate: connections */
	gint topics;             /* persist-immediate: 1 (shared) or one per publisher */
	gint64 max_memory;       /* backlog: messages of the topic in memory before consuming */
	gdouble persist_delay_s; /* EventuallyPersistenceDelay: saved within this */
	gboolean one_thread;     /* every client on the main thread's context */
	MsbClientQueueType queue_type;
	const gchar *queue_type_name;
	gdouble clk_tck;
} BenchOpts;

/* ---- clocks and CPU accounting ---- */

static gint64
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

typedef struct {
	gdouble self_s;        /* this process, every thread (getrusage) */
	gdouble server_s;      /* utime + stime of --server-pid */
	gdouble syscr;         /* the server's read-family syscalls */
	gdouble syscw;         /* and write-family ones (see bench/README.md: not send()) */
	gdouble busy_s;        /* every CPU of the machine, non-idle time (/proc/stat) */
	gdouble persist_s;     /* utime + stime of --persistence-pid */
	gdouble persist_wchar; /* bytes it passed to write-family calls: its files */
} BenchCpu;

static gdouble
bench_proc_cpu(const BenchOpts *opts, gint pid)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *p;

	if (pid <= 0)
		return 0;
	path = g_strdup_printf("/proc/%d/stat", pid);
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	/* the command name may contain spaces and parentheses: fields start after the last ')' */
	p = strrchr(text, ')');
	if (p == NULL)
		return 0;
	fields = g_strsplit_set(p + 1, " \n", -1);
	/* after ')': [0] is empty, [1] state, ... utime and stime are fields 14 and 15 of stat */
	if (g_strv_length(fields) < 15)
		return 0;
	return (g_ascii_strtod(fields[12], NULL) + g_ascii_strtod(fields[13], NULL)) /
	       opts->clk_tck;
}

static void
bench_proc_io(gint pid, gdouble *syscr, gdouble *syscw, gdouble *wchar)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;

	*syscr = *syscw = *wchar = 0;
	if (pid <= 0)
		return;
	path = g_strdup_printf("/proc/%d/io", pid);
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "syscr: "))
			*syscr = g_ascii_strtod(lines[i] + 7, NULL);
		else if (g_str_has_prefix(lines[i], "syscw: "))
			*syscw = g_ascii_strtod(lines[i] + 7, NULL);
		else if (g_str_has_prefix(lines[i], "wchar: "))
			*wchar = g_ascii_strtod(lines[i] + 7, NULL);
	}
}

/* Non-idle seconds of all CPUs together: user, nice, system, irq, softirq and steal. */
static gdouble
bench_machine_busy(const BenchOpts *opts)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) fields = NULL;
	gchar *eol;
	gdouble busy = 0;

	if (!g_file_get_contents("/proc/stat", &text, NULL, NULL) ||
	    !g_str_has_prefix(text, "cpu "))
		return 0;
	eol = strchr(text, '\n');
	if (eol != NULL)
		*eol = '\0';
	fields = g_strsplit_set(text, " ", -1);
	/* "cpu", "", user nice system idle iowait irq softirq steal ... */
	if (g_strv_length(fields) < 10)
		return 0;
	for (guint i = 2; i <= 9; i++) {
		if (i == 5 || i == 6) /* idle, iowait */
			continue;
		busy += g_ascii_strtod(fields[i], NULL);
	}
	return busy / opts->clk_tck;
}

static BenchCpu
bench_cpu_sample(const BenchOpts *opts)
{
	BenchCpu cpu = {0};
	struct rusage ru;
	gdouble unused_r, unused_w, wchar;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu.self_s = (gdouble)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		             (gdouble)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;

	cpu.server_s = bench_proc_cpu(opts, opts->server_pid);
	bench_proc_io(opts->server_pid, &cpu.syscr, &cpu.syscw, &wchar);
	cpu.persist_s = bench_proc_cpu(opts, opts->persistence_pid);
	bench_proc_io(opts->persistence_pid, &unused_r, &unused_w, &cpu.persist_wchar);
	cpu.busy_s = bench_machine_busy(opts);
	return cpu;
}

/* ---- the JSON result line ---- */

typedef struct {
	GString *params;
	GString *metrics;
} BenchResult;

static void
bench_json_string(GString *out, const gchar *s)
{
	g_string_append_c(out, '"');
	for (const guchar *p = (const guchar *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(out, "\\u%04x", *p);
		else
			g_string_append_c(out, (gchar)*p);
	}
	g_string_append_c(out, '"');
}

/* Six significant digits, like natsbench's round3(); integers without an exponent. */
static void
bench_json_number(GString *out, gdouble v)
{
	gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
	gdouble r;

	if (!isfinite(v)) {
		g_string_append(out, "0");
		return;
	}
	g_ascii_formatd(buf, sizeof(buf), "%.6g", v);
	r = g_ascii_strtod(buf, NULL);
	if (r > -1e15 && r < 1e15 && r == (gdouble)(gint64)r)
		g_ascii_formatd(buf, sizeof(buf), "%.0f", r);
	g_string_append(out, buf);
}

static void
bench_result_init(BenchResult *res)
{
	res->params = g_string_new(NULL);
	res->metrics = g_string_new(NULL);
}

static void
bench_result_clear(BenchResult *res)
{
	g_string_free(res->params, TRUE);
	g_string_free(res->metrics, TRUE);
}

/* Start the next "key": member of a JSON object being built in @obj. */
static void
bench_json_key(GString *obj, const gchar *key)
{
	if (obj->len > 0)
		g_string_append_c(obj, ',');
	bench_json_string(obj, key);
	g_string_append_c(obj, ':');
}

static void
bench_param_num(BenchResult *res, const gchar *key, gdouble v)
{
	bench_json_key(res->params, key);
	bench_json_number(res->params, v);
}

static void
bench_param_str(BenchResult *res, const gchar *key, const gchar *v)
{
	bench_json_key(res->params, key);
	bench_json_string(res->params, v);
}

static void
bench_metric(BenchResult *res, const gchar *key, gdouble v)
{
	bench_json_key(res->metrics, key);
	bench_json_number(res->metrics, v);
}

/* CPU use since @before over @wall seconds; @msgs > 0 adds the server's syscalls per message. */
static void
bench_metric_cpu(BenchResult *res, const BenchOpts *opts, const BenchCpu *before, gdouble wall,
                 gdouble msgs)
{
	BenchCpu after = bench_cpu_sample(opts);

	bench_metric(res, "client_cpu_s", after.self_s - before->self_s);
	bench_metric(res, "client_cores", (after.self_s - before->self_s) / wall);
	/* what neither we nor the broker used: other processes and the kernel's own threads; a
	 * large value means the measurement shared the machine */
	bench_metric(res, "machine_cores", (after.busy_s - before->busy_s) / wall);
	if (opts->server_pid > 0)
		bench_metric(res, "other_cores",
		             ((after.busy_s - before->busy_s) - (after.self_s - before->self_s) -
		              (after.server_s - before->server_s) -
		              (after.persist_s - before->persist_s)) /
		                     wall);
	if (opts->persistence_pid > 0) {
		bench_metric(res, "persistence_cpu_s", after.persist_s - before->persist_s);
		bench_metric(res, "persistence_cores",
		             (after.persist_s - before->persist_s) / wall);
		bench_metric(res, "persistence_written_MB",
		             (after.persist_wchar - before->persist_wchar) / 1e6);
		bench_metric(res, "persistence_written_MB_per_s",
		             (after.persist_wchar - before->persist_wchar) / 1e6 / wall);
	}
	if (opts->server_pid <= 0)
		return;
	bench_metric(res, "server_cpu_s", after.server_s - before->server_s);
	bench_metric(res, "server_cores", (after.server_s - before->server_s) / wall);
	if (msgs > 0) {
		bench_metric(res, "server_rsys_per_msg", (after.syscr - before->syscr) / msgs);
		bench_metric(res, "server_wsys_per_msg", (after.syscw - before->syscw) / msgs);
	}
}

static const gchar *
bench_test_name(const BenchOpts *opts)
{
	return opts->name != NULL ? opts->name : opts->mode_name;
}

static void
bench_emit(const BenchOpts *opts, gboolean ok, const gchar *error, BenchResult *res)
{
	g_autoptr(GString) line = g_string_new("{\"broker\":\"msb\",\"test\":");

	bench_json_string(line, bench_test_name(opts));
	g_string_append_printf(line, ",\"run\":%d,\"ok\":%s", opts->run, ok ? "true" : "false");
	if (error != NULL) {
		g_string_append(line, ",\"error\":");
		bench_json_string(line, error);
	}
	g_string_append_printf(line, ",\"params\":{%s},\"metrics\":{%s}}\n", res->params->str,
	                       res->metrics->str);
	fputs(line->str, stdout);
	fflush(stdout);
}

/* ---- clients ---- */

/* What a run shares between its clients and, unless --one-thread, between its two threads. */
typedef struct {
	const BenchOpts *opts;
	gchar *topic;
	gchar *reply_topic; /* reqrep only */
	gint64 deadline_ns;
	GMutex lock;
	GError *error; /* the first failure of any client or check; under lock */
	gint failed;   /* atomic: error is set */
	/* persistence modes: a publish Reject is counted (the row fails at the end) instead of
	 * ending the run at once, so that a run says how many were refused */
	gboolean count_rejects;
} BenchRun;

static void
bench_run_fail(BenchRun *run, GError *error)
{
	g_mutex_lock(&run->lock);
	if (run->error == NULL)
		run->error = error;
	else
		g_error_free(error);
	g_mutex_unlock(&run->lock);
	g_atomic_int_set(&run->failed, 1);
}

static gboolean
bench_run_failed(BenchRun *run)
{
	return g_atomic_int_get(&run->failed) != 0;
}

static gboolean
bench_run_timed_out(BenchRun *run)
{
	return bench_now_ns() > run->deadline_ns;
}

static void
bench_disconnected_cb(MsbClient *client, const GError *error, gpointer user_data)
{
	BenchRun *run = user_data;

	bench_run_fail(run, g_error_new(MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_DISCONNECTED,
	                                "%s lost its connection: %s",
	                                (const gchar *)g_object_get_data(G_OBJECT(client), "role"),
	                                error->message));
}

/* The Reject texts that are not about a publish (msb-client.h, "Reject matching"). */
static gboolean
bench_reject_is_publish(const gchar *text)
{
	static const gchar *const others[] = {"Subscribe",   "Confirm",  "Namespace",
	                                      "CreateTopic", "Greeting", "Packet"};

	for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
		if (g_str_has_prefix(text, others[i]))
			return FALSE;
	}
	return TRUE;
}

static void
bench_rejected_cb(MsbClient *client, const gchar *text, gpointer user_data)
{
	BenchRun *run = user_data;

	/* the publish it failed counts it (bench_pub_cb) */
	if (run->count_rejects && bench_reject_is_publish(text))
		return;
	bench_run_fail(run, g_error_new(MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED,
	                                "the broker sent Reject to %s: %s",
	                                (const gchar *)g_object_get_data(G_OBJECT(client), "role"),
	                                text));
}

/* Wake the thread-default context at least every 100 ms, so deadlines are noticed. */
static gboolean
bench_tick_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* A connected client on the thread-default context that has sent CreateTopicIfNotExists. */
static MsbClient *
bench_client_new(BenchRun *run, const gchar *role, GError **error)
{
	g_autoptr(MsbClient) client = msb_client_new(run->opts->address, "msbctl-bench");

	g_object_set_data_full(G_OBJECT(client), "role", g_strdup(role), g_free);
	msb_client_set_auto_reconnect(client, FALSE);
	if (!msb_client_create_topic(client, run->topic, error))
		return NULL;
	if (run->reply_topic != NULL && !msb_client_create_topic(client, run->reply_topic, error))
		return NULL;
	if (!msb_client_connect_sync(client, NULL, error)) {
		g_prefix_error(error, "%s: ", role);
		return NULL;
	}
	g_signal_connect(client, "disconnected", G_CALLBACK(bench_disconnected_cb), run);
	g_signal_connect(client, "rejected", G_CALLBACK(bench_rejected_cb), run);
	return g_steal_pointer(&client);
}

static void
bench_client_close(MsbClient *client, BenchRun *run)
{
	if (client == NULL)
		return;
	g_signal_handlers_disconnect_by_data(client, run);
	msb_client_close(client);
	g_object_unref(client);
}

/* ---- subscribers ---- */

typedef struct {
	BenchRun *run;
	MsbClient *client;
	gchar *queue;
	gint64 expected;
	gint64 received;
	gint64 next_id; /* -1 until the first message */
	gint64 batches;
	gint64 end_ns; /* when the last expected message arrived */
	gint done;     /* atomic */
	/* latency mode: the timestamp of the last delivery, read by the same thread */
	gint64 last_delivery_ns;
	gint64 last_seq;
} BenchSub;

static void
bench_sub_check_fail(BenchSub *sub, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static void
bench_sub_check_fail(BenchSub *sub, const gchar *format, ...)
{
	g_autofree gchar *text = NULL;
	va_list args;

	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	bench_run_fail(sub->run, g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED,
	                                     "queue %s: after %" G_GINT64_FORMAT
	                                     " of %" G_GINT64_FORMAT " messages: %s",
	                                     sub->queue, sub->received, sub->expected, text));
}

static inline gint64
bench_read_seq(const guint8 *content)
{
	guint64 le;

	memcpy(&le, content, sizeof(le));
	return (gint64)GUINT64_FROM_LE(le);
}

/* Throughput modes: check every message, confirm the batch, note the end. */
static void
bench_sub_delivery_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	BenchSub *sub = user_data;
	guint n = msb_delivery_get_n_messages(delivery);
	gint size = sub->run->opts->size;
	gboolean seq = size >= BENCH_SEQ_BYTES;

	sub->batches++;
	for (guint i = 0; i < n; i++) {
		const MsbReceivedMessage *m = msb_delivery_get_message(delivery, i);

		if (sub->next_id >= 0 && m->id != sub->next_id) {
			bench_sub_check_fail(
			        sub, "got id %" G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT,
			        m->id, sub->next_id);
			break;
		}
		if (m->content_len != (gsize)size) {
			bench_sub_check_fail(sub,
			                     "id %" G_GINT64_FORMAT " has %" G_GSIZE_FORMAT
			                     " bytes, not %d",
			                     m->id, m->content_len, size);
			break;
		}
		if (seq && bench_read_seq(m->content) != sub->received) {
			bench_sub_check_fail(sub,
			                     "id %" G_GINT64_FORMAT
			                     " carries sequence number %" G_GINT64_FORMAT
			                     ", expected %" G_GINT64_FORMAT,
			                     m->id, bench_read_seq(m->content), sub->received);
			break;
		}
		if (m->attempt != 0) {
			bench_sub_check_fail(sub,
			                     "id %" G_GINT64_FORMAT " is a redelivery (attempt %d)",
			                     m->id, m->attempt);
			break;
		}
		sub->next_id = m->id + 1;
		sub->received++;
	}
	msb_delivery_confirm_all(delivery);
	if (sub->received > sub->expected)
		bench_sub_check_fail(sub, "more messages than were published");
	if (sub->received >= sub->expected && !g_atomic_int_get(&sub->done)) {
		sub->end_ns = bench_now_ns();
		g_atomic_int_set(&sub->done, 1);
	}
}

/* Latency mode: one message per delivery; the publisher side reads the timestamp. */
static void
bench_sub_latency_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	BenchSub *sub = user_data;
	gint64 now = bench_now_ns();
	guint n = msb_delivery_get_n_messages(delivery);

	msb_delivery_confirm_all(delivery);
	if (n != 1) {
		bench_sub_check_fail(sub, "a batch of %u messages; expected one at a time", n);
		return;
	}
	sub->last_delivery_ns = now;
	sub->last_seq = bench_read_seq(msb_delivery_get_message(delivery, 0)->content);
	sub->received++;
}

static void
bench_reply_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	BenchSub *sub = user_data;
	g_autoptr(GError) error = NULL;

	if (!msb_client_publish_finish(MSB_CLIENT(source), res, &error)) {
		g_prefix_error(&error, "responder: ");
		bench_run_fail(sub->run, g_steal_pointer(&error));
	}
}

/* reqrep: the responder confirms each request and publishes its payload to the reply topic. */
static void
bench_sub_responder_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	BenchSub *sub = user_data;
	guint n = msb_delivery_get_n_messages(delivery);

	msb_delivery_confirm_all(delivery);
	for (guint i = 0; i < n; i++) {
		const MsbReceivedMessage *m = msb_delivery_get_message(delivery, i);
		MsbMessage reply = {m->content, m->content_len, NULL, 0};

		msb_client_publish_async(client, sub->run->reply_topic, &reply, 1, FALSE, NULL,
		                         bench_reply_cb, sub);
	}
	sub->received += n;
}

/*
 * The subscribers of one run: created, subscribed and known to be subscribed (a Publish of no
 * messages on the same connection is answered only after the Subscribe before it was handled)
 * on whatever context is thread-default for the caller.
 */
typedef struct {
	BenchRun *run;
	guint n;
	BenchSub *subs;
	MsbDeliveryFunc func;
	/* the subscriber thread (not with --one-thread) */
	GThread *thread;
	GMainContext *context;
	GCond cond;
	gint phase; /* under run->lock: 0 starting, 1 subscribed (or failed), 2 finished */
	gint stop;  /* atomic: the main thread asks the subscriber thread to stop */
} BenchSubGroup;

static gboolean
bench_group_setup(BenchSubGroup *group, GError **error)
{
	BenchRun *run = group->run;

	for (guint i = 0; i < group->n; i++) {
		BenchSub *sub = &group->subs[i];
		g_autofree gchar *role = g_strdup_printf("subscriber %u", i);

		sub->client = bench_client_new(run, role, error);
		if (sub->client == NULL)
			return FALSE;
		if (!msb_client_subscribe(sub->client, run->topic, sub->queue,
		                          run->opts->queue_type, group->func, sub, NULL, error))
			return FALSE;
		if (!msb_client_publish_sync(sub->client, run->topic, NULL, 0, FALSE, NULL,
		                             error)) {
			g_prefix_error(error,
			               "%s: waiting for the Subscribe to be handled: ", role);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
bench_group_done(BenchSubGroup *group)
{
	for (guint i = 0; i < group->n; i++) {
		if (!g_atomic_int_get(&group->subs[i].done))
			return FALSE;
	}
	return TRUE;
}

static void
bench_group_close(BenchSubGroup *group)
{
	for (guint i = 0; i < group->n; i++) {
		bench_client_close(group->subs[i].client, group->run);
		group->subs[i].client = NULL;
	}
}

static void
bench_group_set_phase(BenchSubGroup *group, gint phase)
{
	g_mutex_lock(&group->run->lock);
	group->phase = phase;
	g_cond_broadcast(&group->cond);
	g_mutex_unlock(&group->run->lock);
}

static gpointer
bench_group_thread(gpointer user_data)
{
	BenchSubGroup *group = user_data;
	BenchRun *run = group->run;
	g_autoptr(GError) error = NULL;
	GSource *tick;

	g_main_context_push_thread_default(group->context);
	tick = g_timeout_source_new(100);
	g_source_set_callback(tick, bench_tick_cb, NULL, NULL);
	g_source_attach(tick, group->context);
	if (!bench_group_setup(group, &error))
		bench_run_fail(run, g_steal_pointer(&error));
	bench_group_set_phase(group, 1);
	while (!bench_run_failed(run) && !g_atomic_int_get(&group->stop) &&
	       !bench_group_done(group) && !bench_run_timed_out(run))
		g_main_context_iteration(group->context, TRUE);
	/* the main thread may still be publishing; it reads the results after phase 2 */
	bench_group_set_phase(group, 2);
	while (!g_atomic_int_get(&group->stop))
		g_main_context_iteration(group->context, TRUE);
	bench_group_close(group);
	g_source_destroy(tick);
	g_source_unref(tick);
	g_main_context_pop_thread_default(group->context);
	return NULL;
}

static void
bench_group_init(BenchSubGroup *group, BenchRun *run, guint n, gint64 expected,
                 MsbDeliveryFunc func)
{
	memset(group, 0, sizeof(*group));
	group->run = run;
	group->n = n;
	group->func = func;
	group->subs = g_new0(BenchSub, n);
	g_cond_init(&group->cond);
	for (guint i = 0; i < n; i++) {
		group->subs[i].run = run;
		group->subs[i].queue = g_strdup_printf("bench-q%u", i);
		group->subs[i].expected = expected;
		group->subs[i].next_id = -1;
	}
}

/* Start the subscribers (in their own thread if @threaded) and wait until they are subscribed. */
static gboolean
bench_group_start(BenchSubGroup *group, gboolean threaded)
{
	g_autoptr(GError) error = NULL;

	if (!threaded) {
		if (!bench_group_setup(group, &error)) {
			bench_run_fail(group->run, g_steal_pointer(&error));
			return FALSE;
		}
		return TRUE;
	}
	group->context = g_main_context_new();
	group->thread = g_thread_new("bench-subscribers", bench_group_thread, group);
	g_mutex_lock(&group->run->lock);
	while (group->phase < 1)
		g_cond_wait(&group->cond, &group->run->lock);
	g_mutex_unlock(&group->run->lock);
	return !bench_run_failed(group->run);
}

/* In their own thread: wait until the subscribers are finished (done, failed or out of time). */
static void
bench_group_wait(BenchSubGroup *group)
{
	if (group->thread == NULL)
		return;
	g_mutex_lock(&group->run->lock);
	while (group->phase < 2)
		g_cond_wait(&group->cond, &group->run->lock);
	g_mutex_unlock(&group->run->lock);
}

static void
bench_group_free(BenchSubGroup *group)
{
	if (group->thread != NULL) {
		g_atomic_int_set(&group->stop, 1);
		g_main_context_wakeup(group->context);
		g_thread_join(group->thread);
		g_main_context_unref(group->context);
	} else {
		bench_group_close(group);
	}
	for (guint i = 0; i < group->n; i++)
		g_free(group->subs[i].queue);
	g_free(group->subs);
	g_cond_clear(&group->cond);
}

/* ---- the publisher ---- */

typedef struct {
	BenchRun *run;
	MsbClient *client;
	const gchar *topic;
	gboolean persist_immediately;
	MsbMessage *messages; /* batch entries over payload */
	guint8 *payload;
	gint64 total;    /* messages to publish */
	gint64 sent;     /* messages handed to the client */
	gint64 answered; /* publishes answered (with run->count_rejects, rejected ones too) */
	gint64 n_publishes;
	gint in_flight;
	gint64 start_ns;
	gint64 last_answer_ns;
	gint64 rejects;
	gchar *first_reject;
	/* publish -> answer of each accepted publish (NULL: not kept); the send times of the
	 * publishes in flight are a ring, as a connection's publishes are answered in order */
	gint64 *lat_ns;
	gint64 n_lat;
	gint64 *sent_ns;
} BenchPublisher;

static void
bench_pub_fill(BenchPublisher *pub);

static void
bench_pub_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	BenchPublisher *pub = user_data;
	g_autoptr(GError) error = NULL;
	gint64 now = bench_now_ns();
	gint64 sent_ns =
	        pub->sent_ns != NULL ? pub->sent_ns[pub->answered % pub->run->opts->window] : 0;

	pub->in_flight--;
	if (!msb_client_publish_finish(MSB_CLIENT(source), res, &error)) {
		if (pub->run->count_rejects &&
		    g_error_matches(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED)) {
			if (pub->rejects++ == 0)
				pub->first_reject = g_strdup(error->message);
			pub->answered++;
			pub->last_answer_ns = now;
			bench_pub_fill(pub);
			return;
		}
		g_prefix_error(&error, "publish #%" G_GINT64_FORMAT ": ", pub->answered + 1);
		bench_run_fail(pub->run, g_steal_pointer(&error));
		return;
	}
	if (pub->lat_ns != NULL)
		pub->lat_ns[pub->n_lat++] = now - sent_ns;
	pub->answered++;
	pub->last_answer_ns = now;
	bench_pub_fill(pub);
}

/* Keep --window publishes in flight until every message is handed over. */
static void
bench_pub_fill(BenchPublisher *pub)
{
	const BenchOpts *opts = pub->run->opts;

	while (pub->in_flight < opts->window && pub->sent < pub->total &&
	       !bench_run_failed(pub->run)) {
		guint n = (guint)MIN((gint64)opts->batch, pub->total - pub->sent);

		if (opts->size >= BENCH_SEQ_BYTES) {
			for (guint i = 0; i < n; i++) {
				guint64 le = GUINT64_TO_LE((guint64)(pub->sent + i));
				memcpy(pub->payload + (gsize)i * opts->size, &le, sizeof(le));
			}
		}
		if (pub->sent_ns != NULL)
			pub->sent_ns[pub->n_publishes % opts->window] = bench_now_ns();
		msb_client_publish_async(pub->client, pub->topic, pub->messages, n,
		                         pub->persist_immediately, NULL, bench_pub_cb, pub);
		pub->sent += n;
		pub->in_flight++;
		pub->n_publishes++;
	}
}

static void
bench_pub_init(BenchPublisher *pub, BenchRun *run, gint64 total)
{
	const BenchOpts *opts = run->opts;

	memset(pub, 0, sizeof(*pub));
	pub->run = run;
	pub->topic = run->topic;
	pub->total = total;
	pub->payload = g_malloc((gsize)opts->batch * opts->size);
	memset(pub->payload, 'x', (gsize)opts->batch * opts->size);
	pub->messages = g_new0(MsbMessage, opts->batch);
	for (gint i = 0; i < opts->batch; i++) {
		pub->messages[i].content = pub->payload + (gsize)i * opts->size;
		pub->messages[i].content_len = (gsize)opts->size;
	}
}

static void
bench_pub_clear(BenchPublisher *pub)
{
	bench_client_close(pub->client, pub->run);
	pub->client = NULL;
	g_free(pub->payload);
	g_free(pub->messages);
	g_free(pub->first_reject);
	g_free(pub->lat_ns);
	g_free(pub->sent_ns);
}

/* Keep publish -> answer times (bench_pub_init() first). */
static void
bench_pub_keep_latency(BenchPublisher *pub)
{
	const BenchOpts *opts = pub->run->opts;

	pub->lat_ns = g_new(gint64, (pub->total + opts->batch - 1) / opts->batch + 1);
	pub->sent_ns = g_new0(gint64, opts->window);
}

static gboolean
bench_pub_finished(BenchPublisher *pub)
{
	return pub->sent >= pub->total && pub->in_flight == 0;
}

/* ---- the measurements ---- */

static void
bench_common_params(BenchResult *res, const BenchOpts *opts)
{
	bench_param_num(res, "size", opts->size);
	bench_param_num(res, "publishers", 1);
}

static void
bench_run_init(BenchRun *run, const BenchOpts *opts)
{
	static const gchar *const mode_tags[] = {
	        [BENCH_MODE_PUB] = "pub",
	        [BENCH_MODE_PUBSUB] = "ps",
	        [BENCH_MODE_FANOUT] = "fo",
	        [BENCH_MODE_LATENCY] = "lat",
	        [BENCH_MODE_REQREP] = "rr",
	        [BENCH_MODE_PERSIST_PUB] = "ppub",
	        [BENCH_MODE_PERSIST_IMMEDIATE] = "pimm",
	        [BENCH_MODE_BACKLOG] = "blog",
	};
	static guint counter = 0;

	memset(run, 0, sizeof(*run));
	run->opts = opts;
	g_mutex_init(&run->lock);
	/* a fresh topic per measurement: ids start at 0 and no old queue sees the messages */
	run->topic = g_strdup_printf("bench-%s-%d-r%d-%u", mode_tags[opts->mode], (gint)getpid(),
	                             opts->run, counter++);
	if (opts->mode == BENCH_MODE_REQREP)
		run->reply_topic = g_strconcat(run->topic, "-rep", NULL);
	run->deadline_ns = bench_now_ns() + (gint64)opts->timeout_s * 1000000000;
}

static void
bench_run_clear(BenchRun *run)
{
	g_clear_error(&run->error);
	g_free(run->topic);
	g_free(run->reply_topic);
	g_mutex_clear(&run->lock);
}

/* Emit the failure line for @run's first error (or @why), and return the exit status. */
static int
bench_emit_failure(const BenchOpts *opts, BenchRun *run, BenchResult *res, const gchar *why)
{
	g_autofree gchar *text = NULL;

	g_mutex_lock(&run->lock);
	text = g_strdup(run->error != NULL ? run->error->message : why);
	g_mutex_unlock(&run->lock);
	/* not translated: the same text is the result line's error, which tools read */
	bench_emit(opts, FALSE, text != NULL ? text : "failed", res);
	g_printerr("%s: %s %s\n", g_get_prgname(), bench_test_name(opts), text);
	return MSBCTL_EXIT_FAIL;
}

/* pub / pubsub / fanout: one publisher, 0, 1 or --subs subscribers. */
static int
bench_throughput(const BenchOpts *opts)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	guint n_subs = opts->mode == BENCH_MODE_PUB      ? 0
	               : opts->mode == BENCH_MODE_PUBSUB ? 1
	                                                 : (guint)opts->subs;
	gboolean threaded = !opts->one_thread && n_subs > 0;
	g_autoptr(GError) error = NULL;
	BenchRun run;
	BenchSubGroup group;
	BenchPublisher pub;
	BenchResult res;
	BenchCpu cpu0;
	GSource *tick;
	gint64 end_ns;
	gdouble wall;
	gdouble pub_wall;
	int status = MSBCTL_EXIT_OK;

	bench_run_init(&run, opts);
	bench_result_init(&res);
	bench_param_num(&res, "msgs", (gdouble)opts->n);
	bench_common_params(&res, opts);
	if (n_subs > 0) {
		bench_param_num(&res, "subscribers", n_subs);
		bench_param_str(&res, "queue_type", opts->queue_type_name);
		bench_param_str(&res, "threads", threaded ? "pub+sub" : "one");
	}
	bench_param_num(&res, "batch", opts->batch);
	bench_param_num(&res, "window", opts->window);

	tick = g_timeout_source_new(100);
	g_source_set_callback(tick, bench_tick_cb, NULL, NULL);
	g_source_attach(tick, context);
	bench_group_init(&group, &run, n_subs, opts->n, bench_sub_delivery_cb);
	bench_pub_init(&pub, &run, opts->n);

	if (!bench_group_start(&group, threaded)) {
		status = bench_emit_failure(opts, &run, &res, "subscribing failed");
		goto out;
	}
	pub.client = bench_client_new(&run, "publisher", &error);
	if (pub.client == NULL) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}

	cpu0 = bench_cpu_sample(opts);
	pub.start_ns = bench_now_ns();
	bench_pub_fill(&pub);
	while (!bench_run_failed(&run) && !bench_run_timed_out(&run) &&
	       !(bench_pub_finished(&pub) && (threaded || bench_group_done(&group))))
		g_main_context_iteration(context, TRUE);
	if (threaded && !bench_run_failed(&run))
		bench_group_wait(&group);

	if (bench_run_failed(&run)) {
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	if (!bench_pub_finished(&pub) || !bench_group_done(&group)) {
		g_autoptr(GString) why = g_string_new(NULL);
		g_string_printf(why,
		                "deadline of %d s exceeded: %" G_GINT64_FORMAT
		                " of %" G_GINT64_FORMAT " publishes answered",
		                opts->timeout_s, pub.answered, pub.n_publishes);
		for (guint i = 0; i < n_subs; i++)
			g_string_append_printf(why, ", %s received %" G_GINT64_FORMAT,
			                       group.subs[i].queue, group.subs[i].received);
		bench_metric(&res, "published", (gdouble)pub.sent);
		status = bench_emit_failure(opts, &run, &res, why->str);
		goto out;
	}

	end_ns = pub.last_answer_ns;
	for (guint i = 0; i < n_subs; i++)
		end_ns = MAX(end_ns, group.subs[i].end_ns);
	wall = (gdouble)(end_ns - pub.start_ns) / 1e9;
	pub_wall = (gdouble)(pub.last_answer_ns - pub.start_ns) / 1e9;
	bench_metric(&res, "wall_s", wall);
	bench_metric(&res, "msgs_per_s", (gdouble)opts->n / wall);
	if (n_subs > 0)
		bench_metric(&res, "pub_msgs_per_s", (gdouble)opts->n / pub_wall);
	if (n_subs > 1) {
		bench_metric(&res, "deliveries_per_s", (gdouble)opts->n * n_subs / wall);
		bench_metric(&res, "delivered_MB_per_s",
		             (gdouble)opts->n * n_subs * opts->size / wall / 1e6);
	} else {
		bench_metric(&res, "MB_per_s", (gdouble)opts->n * opts->size / wall / 1e6);
	}
	if (n_subs > 0) {
		gint64 batches = 0;
		for (guint i = 0; i < n_subs; i++)
			batches += group.subs[i].batches;
		bench_metric(&res, "msgs_per_batch", (gdouble)opts->n * n_subs / batches);
	}
	bench_metric(&res, "publishes", (gdouble)pub.n_publishes);
	bench_metric_cpu(&res, opts, &cpu0, wall, (gdouble)opts->n);
	bench_emit(opts, TRUE, NULL, &res);

out:
	bench_pub_clear(&pub);
	bench_group_free(&group);
	g_source_destroy(tick);
	g_source_unref(tick);
	bench_result_clear(&res);
	bench_run_clear(&run);
	return status;
}

/* ---- latency ---- */

typedef struct {
	BenchPublisher *pub;
	BenchSub *sub;
	gint64 t0_ns;
	gboolean answered;
	gint64 answer_ns;
	gint64 seq; /* of the message in flight */
	gboolean in_flight;
} BenchPing;

static void
bench_ping_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	BenchPing *ping = user_data;
	g_autoptr(GError) error = NULL;

	ping->answer_ns = bench_now_ns();
	if (!msb_client_publish_finish(MSB_CLIENT(source), res, &error)) {
		bench_run_fail(ping->pub->run, g_steal_pointer(&error));
		return;
	}
	ping->answered = TRUE;
}

static int
bench_cmp_i64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values, like natsbench's pct(). */
static gint64
bench_pct(const gint64 *sorted, gsize n, gdouble p)
{
	gint64 k = (gint64)(p * (gdouble)n + 0.999999) - 1;

	k = CLAMP(k, 0, (gint64)n - 1);
	return sorted[k];
}

static void
bench_latency_metrics(BenchResult *res, const gchar *prefix, gint64 *ns, gsize n)
{
	g_autofree gchar *k50 = g_strconcat(prefix, "p50_us", NULL);
	g_autofree gchar *k90 = g_strconcat(prefix, "p90_us", NULL);
	g_autofree gchar *k99 = g_strconcat(prefix, "p99_us", NULL);
	g_autofree gchar *k999 = g_strconcat(prefix, "p999_us", NULL);
	g_autofree gchar *kmax = g_strconcat(prefix, "max_us", NULL);
	g_autofree gchar *kmean = g_strconcat(prefix, "mean_us", NULL);
	gdouble sum = 0;

	qsort(ns, n, sizeof(gint64), bench_cmp_i64);
	for (gsize i = 0; i < n; i++)
		sum += (gdouble)ns[i];
	bench_metric(res, k50, (gdouble)bench_pct(ns, n, 0.50) / 1e3);
	bench_metric(res, k90, (gdouble)bench_pct(ns, n, 0.90) / 1e3);
	bench_metric(res, k99, (gdouble)bench_pct(ns, n, 0.99) / 1e3);
	bench_metric(res, k999, (gdouble)bench_pct(ns, n, 0.999) / 1e3);
	bench_metric(res, kmax, (gdouble)ns[n - 1] / 1e3);
	bench_metric(res, kmean, sum / (gdouble)n / 1e3);
}

/*
 * One message at a time: publish, wait for its PublishResponse and its delivery, repeat.
 * latency: publisher → broker → subscriber (two one-way trips). reqrep: the shape of NATS
 * request/reply (four): the requester publishes, a responder on its own connection gets the
 * request, confirms it and publishes the payload to a reply topic, and the requester's own
 * connection, subscribed to that topic, receives it.
 */
static int
bench_latency(const BenchOpts *opts)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	g_autoptr(GError) error = NULL;
	g_autofree gint64 *deliv_ns = g_new(gint64, opts->lat_n);
	g_autofree gint64 *resp_ns = g_new(gint64, opts->lat_n);
	BenchRun run;
	BenchSubGroup group;
	BenchPublisher pub;
	BenchPing ping = {0};
	BenchSub reply_sub = {0};
	gboolean rr = opts->mode == BENCH_MODE_REQREP;
	BenchResult res;
	BenchCpu cpu0 = {0};
	GSource *tick;
	gint64 start_ns = 0;
	gint total = opts->warmup + opts->lat_n;
	gdouble wall;
	int status = MSBCTL_EXIT_OK;

	bench_run_init(&run, opts);
	bench_result_init(&res);
	bench_param_num(&res, "requests", opts->lat_n);
	bench_param_num(&res, "warmup", opts->warmup);
	bench_param_num(&res, "size", opts->size);
	bench_param_str(&res, "queue_type", opts->queue_type_name);
	bench_param_str(&res, "measures",
	                rr ? "request published to reply received (p*_us), request published to "
	                     "its PublishResponse (resp_p*_us)"
	                   : "publish to delivery received (p*_us), publish to "
	                     "PublishResponse (resp_p*_us)");

	tick = g_timeout_source_new(100);
	g_source_set_callback(tick, bench_tick_cb, NULL, NULL);
	g_source_attach(tick, context);
	bench_group_init(&group, &run, 1, total,
	                 rr ? bench_sub_responder_cb : bench_sub_latency_cb);
	bench_pub_init(&pub, &run, total);
	reply_sub.run = &run;
	reply_sub.queue = g_strdup("bench-rep");
	reply_sub.expected = total;
	ping.pub = &pub;
	ping.sub = rr ? &reply_sub : &group.subs[0];

	if (!bench_group_start(&group, FALSE)) {
		status = bench_emit_failure(opts, &run, &res, "subscribing failed");
		goto out;
	}
	pub.client = bench_client_new(&run, rr ? "requester" : "publisher", &error);
	if (pub.client == NULL ||
	    (rr &&
	     (!msb_client_subscribe(pub.client, run.reply_topic, reply_sub.queue, opts->queue_type,
	                            bench_sub_latency_cb, &reply_sub, NULL, &error) ||
	      !msb_client_publish_sync(pub.client, run.reply_topic, NULL, 0, FALSE, NULL,
	                               &error)))) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}

	for (gint i = 0; i < total && !bench_run_failed(&run) && !bench_run_timed_out(&run); i++) {
		guint64 le = GUINT64_TO_LE((guint64)i);
		gint64 before = ping.sub->received;

		if (i == opts->warmup) {
			cpu0 = bench_cpu_sample(opts);
			start_ns = bench_now_ns();
		}
		memcpy(pub.payload, &le, sizeof(le));
		ping.answered = FALSE;
		ping.t0_ns = bench_now_ns();
		msb_client_publish_async(pub.client, run.topic, pub.messages, 1, FALSE, NULL,
		                         bench_ping_cb, &ping);
		while (!bench_run_failed(&run) && !bench_run_timed_out(&run) &&
		       !(ping.answered && ping.sub->received > before))
			g_main_context_iteration(context, TRUE);
		if (bench_run_failed(&run) || bench_run_timed_out(&run))
			break;
		if (ping.sub->last_seq != i) {
			bench_sub_check_fail(ping.sub,
			                     "delivered sequence number %" G_GINT64_FORMAT
			                     ", expected %d",
			                     ping.sub->last_seq, i);
			break;
		}
		if (i >= opts->warmup) {
			deliv_ns[i - opts->warmup] = ping.sub->last_delivery_ns - ping.t0_ns;
			resp_ns[i - opts->warmup] = ping.answer_ns - ping.t0_ns;
		}
	}
	if (bench_run_failed(&run)) {
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	if (ping.sub->received < total) {
		g_autofree gchar *why = g_strdup_printf(
		        "deadline of %d s exceeded after %" G_GINT64_FORMAT " of %d round trips",
		        opts->timeout_s, ping.sub->received, total);
		status = bench_emit_failure(opts, &run, &res, why);
		goto out;
	}
	wall = (gdouble)(bench_now_ns() - start_ns) / 1e9;
	bench_latency_metrics(&res, "", deliv_ns, (gsize)opts->lat_n);
	bench_latency_metrics(&res, "resp_", resp_ns, (gsize)opts->lat_n);
	bench_metric(&res, "wall_s", wall);
	bench_metric(&res, "rtt_per_s", opts->lat_n / wall);
	bench_metric_cpu(&res, opts, &cpu0, wall, opts->lat_n);
	bench_emit(opts, TRUE, NULL, &res);

out:
	bench_pub_clear(&pub);
	bench_group_free(&group);
	g_free(reply_sub.queue);
	g_source_destroy(tick);
	g_source_unref(tick);
	bench_result_clear(&res);
	bench_run_clear(&run);
	return status;
}

/* ---- the persistence modes: the broker's /metrics, the service's /api/status ---- */

/*
 * GET http://@address@path over HTTP/1.0 (one request per connection), blocking: the body of a
 * 200 answer, or NULL. Used only between the timed phases of a measurement, or to poll once the
 * clients have nothing left to do.
 */
static gchar *
bench_http_get(const gchar *address, const gchar *path, GError **error)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autofree gchar *request = NULL;
	GInputStream *in;
	const gchar *body;
	const gchar *length;
	gchar buf[16384];
	gssize n;

	g_socket_client_set_timeout(client, 10);
	conn = g_socket_client_connect_to_host(client, address, 80, NULL, error);
	if (conn == NULL)
		return NULL;
	request = g_strdup_printf("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, address);
	if (!g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), request,
	                               strlen(request), NULL, NULL, error))
		return NULL;
	in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	for (;;) {
		n = g_input_stream_read(in, buf, sizeof(buf), NULL, error);
		if (n < 0)
			return NULL;
		if (n == 0)
			break;
		g_string_append_len(text, buf, n);
		/* stop at Content-Length: the server need not close first */
		body = strstr(text->str, "\r\n\r\n");
		length = body != NULL
		                 ? g_strstr_len(text->str, body - text->str, "\r\nContent-Length:")
		                 : NULL;
		if (length == NULL && body != NULL)
			length = g_strstr_len(text->str, body - text->str, "\r\ncontent-length:");
		if (length != NULL && (gsize)(text->str + text->len - (body + 4)) >=
		                              (gsize)g_ascii_strtoull(length + 17, NULL, 10))
			break;
	}
	body = strstr(text->str, "\r\n\r\n");
	if (!g_str_has_prefix(text->str, "HTTP/1.") || text->len < 12 ||
	    strncmp(text->str + 8, " 200", 4) != 0 || body == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "GET http://%s%s: unexpected answer \"%.60s\"", address, path,
		            text->str);
		return NULL;
	}
	return g_strdup(body + 4);
}

/* The value of metric @name in Prometheus text: the line without labels, or with @topic the one
 * whose topic label is @topic; -1 when there is none. */
static gdouble
bench_prom_value(const gchar *text, const gchar *name, const gchar *topic)
{
	g_autofree gchar *label = topic != NULL ? g_strdup_printf("topic=\"%s\"", topic) : NULL;
	gsize len = strlen(name);

	for (const gchar *line = text; line != NULL && *line != '\0';) {
		const gchar *eol = strchr(line, '\n');
		const gchar *end = eol != NULL ? eol : line + strlen(line);

		if (strncmp(line, name, len) == 0 && (line[len] == ' ' || line[len] == '{')) {
			const gchar *close =
			        line[len] == '{' ? memchr(line, '}', end - line) : NULL;
			gboolean match = line[len] == '{' ? label != NULL && close != NULL &&
			                                            g_strstr_len(line, close - line,
			                                                         label) != NULL
			                                  : label == NULL;
			if (match) {
				const gchar *sp = end;
				while (sp > line && sp[-1] != ' ')
					sp--;
				return g_ascii_strtod(sp, NULL);
			}
		}
		line = eol != NULL ? eol + 1 : NULL;
	}
	return -1;
}

/* The number after "@key": in JSON text (the first such key); -1 when there is none. */
static gdouble
bench_json_value(const gchar *text, const gchar *key)
{
	g_autofree gchar *quoted = g_strdup_printf("\"%s\"", key);
	const gchar *p = strstr(text, quoted);

	if (p == NULL)
		return -1;
	p += strlen(quoted);
	while (g_ascii_isspace(*p))
		p++;
	if (*p != ':')
		return -1;
	p++;
	while (g_ascii_isspace(*p))
		p++;
	if (!g_ascii_isdigit(*p) && *p != '-')
		return -1;
	return g_ascii_strtod(p, NULL);
}

/* Bytes of the regular files under @path (the files the service may delete meanwhile are
 * skipped). */
static gint64
bench_dir_bytes(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	gint64 total = 0;

	if (dir == NULL)
		return 0;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		GStatBuf st;

		if (g_lstat(child, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			total += bench_dir_bytes(child);
		else if (S_ISREG(st.st_mode))
			total += (gint64)st.st_size;
	}
	return total;
}

/* What the broker's /metrics says about persistence and one topic. */
typedef struct {
	gdouble pending;       /* msb_persistence_pending_messages: every topic */
	gdouble topic_pending; /* topic_persist_queue_size of the topic (-1: not there yet) */
	gdouble in_memory;     /* topic_messages_amount of the topic */
	gdouble oldest_s;      /* msb_persistence_oldest_pending_seconds */
	gdouble saves;         /* msb_persistence_saves_total */
	gdouble loads;         /* msb_persistence_loads_total */
} BenchBrokerStats;

static gboolean
bench_broker_stats(const BenchOpts *opts, const gchar *topic, BenchBrokerStats *st, GError **error)
{
	g_autofree gchar *text = bench_http_get(opts->http, "/metrics?fresh=true", error);

	if (text == NULL) {
		g_prefix_error(error, "the broker's metrics: ");
		return FALSE;
	}
	st->pending = bench_prom_value(text, "msb_persistence_pending_messages", NULL);
	st->topic_pending = bench_prom_value(text, "topic_persist_queue_size", topic);
	st->in_memory = bench_prom_value(text, "topic_messages_amount", topic);
	st->oldest_s = bench_prom_value(text, "msb_persistence_oldest_pending_seconds", NULL);
	st->saves = bench_prom_value(text, "msb_persistence_saves_total", NULL);
	st->loads = bench_prom_value(text, "msb_persistence_loads_total", NULL);
	if (st->pending < 0 || st->saves < 0 || st->loads < 0 || st->oldest_s < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "the broker's metrics at %s have no msb_persistence_* values: is it "
		            "running with persistence?",
		            opts->http);
		return FALSE;
	}
	return TRUE;
}

/* The persistence service's store counters (/api/status) and the size of its data folder. */
typedef struct {
	gboolean have;
	gdouble messages_saved;
	gdouble commits;
	gdouble commit_fsyncs;
	gdouble seals;
	gdouble seal_fsyncs;
	gdouble snapshots;
	gint64 dir_bytes;
} BenchStoreStats;

static gboolean
bench_store_stats(const BenchOpts *opts, BenchStoreStats *st, GError **error)
{
	g_autofree gchar *text = NULL;

	memset(st, 0, sizeof(*st));
	if (opts->data_path != NULL)
		st->dir_bytes = bench_dir_bytes(opts->data_path);
	if (opts->persistence_http == NULL)
		return TRUE;
	text = bench_http_get(opts->persistence_http, "/api/status", error);
	if (text == NULL) {
		g_prefix_error(error, "the persistence service's status: ");
		return FALSE;
	}
	st->messages_saved = bench_json_value(text, "messages_saved");
	st->commits = bench_json_value(text, "commits");
	st->commit_fsyncs = bench_json_value(text, "commit_fsyncs");
	st->seals = bench_json_value(text, "seals");
	st->seal_fsyncs = bench_json_value(text, "seal_fsyncs");
	st->snapshots = bench_json_value(text, "snapshots_saved");
	if (st->messages_saved < 0 || st->commits < 0 || st->commit_fsyncs < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "the persistence service's status at %s has no store counters",
		            opts->persistence_http);
		return FALSE;
	}
	st->have = TRUE;
	return TRUE;
}

/* What the store did between @a and @b, over @wall seconds. */
static void
bench_metric_store(BenchResult *res, const BenchOpts *opts, const BenchStoreStats *a,
                   const BenchStoreStats *b, gdouble wall)
{
	gdouble saved = b->messages_saved - a->messages_saved;
	gdouble commit_fsyncs = b->commit_fsyncs - a->commit_fsyncs;
	gdouble seal_fsyncs = b->seal_fsyncs - a->seal_fsyncs;

	if (opts->data_path != NULL) {
		bench_metric(res, "disk_growth_MB", (gdouble)(b->dir_bytes - a->dir_bytes) / 1e6);
		bench_metric(res, "disk_growth_MB_per_s",
		             (gdouble)(b->dir_bytes - a->dir_bytes) / 1e6 / wall);
	}
	if (!a->have || !b->have)
		return;
	bench_metric(res, "store_messages_saved", saved);
	bench_metric(res, "store_commits", b->commits - a->commits);
	bench_metric(res, "store_commit_fsyncs", commit_fsyncs);
	bench_metric(res, "store_seals", b->seals - a->seals);
	bench_metric(res, "store_seal_fsyncs", seal_fsyncs);
	bench_metric(res, "store_snapshots", b->snapshots - a->snapshots);
	if (commit_fsyncs > 0) {
		bench_metric(res, "msgs_per_fsync", saved / commit_fsyncs);
		bench_metric(res, "commits_per_fsync", (b->commits - a->commits) / commit_fsyncs);
	}
	if (commit_fsyncs + seal_fsyncs > 0)
		bench_metric(res, "msgs_per_store_fsync", saved / (commit_fsyncs + seal_fsyncs));
}

static void
bench_persist_params(BenchResult *res, const BenchOpts *opts, gint publishers)
{
	bench_param_num(res, "msgs", (gdouble)opts->n);
	bench_param_num(res, "size", opts->size);
	bench_param_num(res, "publishers", publishers);
	bench_param_num(res, "batch", opts->batch);
	bench_param_num(res, "window", opts->window);
}

/* Poll the broker until nothing is pending (and, with @max_memory >= 0, @topic has at most that
 * many messages in memory); TRUE and the time it was seen, or FALSE (the run failed). */
static gboolean
bench_wait_saved(BenchRun *run, const gchar *topic, gint64 max_memory, BenchBrokerStats *st,
                 gdouble *oldest_max_s, gint64 *seen_ns, gdouble *first_pending)
{
	g_autoptr(GError) error = NULL;

	for (guint polls = 0;; polls++) {
		if (!bench_broker_stats(run->opts, topic, st, &error)) {
			bench_run_fail(run, g_steal_pointer(&error));
			return FALSE;
		}
		*seen_ns = bench_now_ns();
		if (polls == 0 && first_pending != NULL)
			*first_pending = st->pending;
		*oldest_max_s = MAX(*oldest_max_s, st->oldest_s);
		if (st->pending == 0 && st->topic_pending == 0 &&
		    (max_memory < 0 || (st->in_memory >= 0 && st->in_memory <= max_memory)))
			return TRUE;
		if (bench_run_timed_out(run)) {
			bench_run_fail(run,
			               g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			                           "deadline of %d s exceeded waiting for the "
			                           "broker: %.0f messages pending (%.0f of the "
			                           "topic), %.0f of the topic in memory",
			                           run->opts->timeout_s, st->pending,
			                           st->topic_pending, st->in_memory));
			return FALSE;
		}
		g_usleep(2000);
	}
}

/* The row fails when a publish was refused: @pubs are every publisher of the run. */
static gboolean
bench_check_rejects(BenchRun *run, BenchResult *res, BenchPublisher *pubs, guint n_pubs)
{
	gint64 rejects = 0;
	const gchar *first = NULL;

	for (guint i = 0; i < n_pubs; i++) {
		rejects += pubs[i].rejects;
		if (first == NULL)
			first = pubs[i].first_reject;
	}
	bench_metric(res, "rejects", (gdouble)rejects);
	if (rejects == 0)
		return TRUE;
	bench_run_fail(run, g_error_new(MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED,
	                                "%" G_GINT64_FORMAT " publishes were rejected, the first "
	                                "with: %s",
	                                rejects, first));
	return FALSE;
}

/* The row fails when the service did not store what was acknowledged (counted, not read back). */
static gboolean
bench_check_stored(BenchRun *run, const BenchStoreStats *a, const BenchStoreStats *b, gint64 n)
{
	if (!a->have || !b->have || b->messages_saved - a->messages_saved >= (gdouble)n)
		return TRUE;
	bench_run_fail(run,
	               g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED,
	                           "the persistence service stored %.0f messages, %" G_GINT64_FORMAT
	                           " were acknowledged",
	                           b->messages_saved - a->messages_saved, n));
	return FALSE;
}

/* Iterate the thread-default context until @pubs are finished or the run failed or timed out. */
static gboolean
bench_pubs_run(BenchRun *run, GMainContext *context, BenchPublisher *pubs, guint n_pubs)
{
	for (;;) {
		gboolean finished = TRUE;

		for (guint i = 0; i < n_pubs; i++)
			finished = finished && bench_pub_finished(&pubs[i]);
		if (finished)
			return TRUE;
		if (bench_run_failed(run))
			return FALSE;
		if (bench_run_timed_out(run)) {
			gint64 answered = 0;
			gint64 publishes = 0;
			for (guint i = 0; i < n_pubs; i++) {
				answered += pubs[i].answered;
				publishes += pubs[i].n_publishes;
			}
			bench_run_fail(run,
			               g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			                           "deadline of %d s exceeded: %" G_GINT64_FORMAT
			                           " of %" G_GINT64_FORMAT " publishes answered",
			                           run->opts->timeout_s, answered, publishes));
			return FALSE;
		}
		g_main_context_iteration(context, TRUE);
	}
}

/*
 * persist-pub: one publisher as in pub, to a broker with persistence; publishes are acknowledged
 * from memory and saved within EventuallyPersistenceDelay. Two clocks: to the last
 * PublishResponse (msgs_per_s) and to the moment the broker's /metrics shows nothing pending
 * (saved_msgs_per_s). Fails when a publish is rejected (MaxUnsavedSize), when the service stored
 * fewer messages than were acknowledged, or when a message waited to be saved longer than
 * --persist-delay.
 */
static int
bench_persist_pub(const BenchOpts *opts)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	g_autoptr(GError) error = NULL;
	BenchRun run;
	BenchPublisher pub;
	BenchResult res;
	BenchCpu cpu0;
	BenchBrokerStats b0 = {0};
	BenchBrokerStats b1 = {0};
	BenchStoreStats s0 = {0};
	BenchStoreStats s1 = {0};
	GSource *tick;
	gint64 saved_ns = 0;
	gdouble oldest_max_s = 0;
	gdouble wall;
	gdouble saved_wall;
	gdouble pending_at_ack = -1;
	int status = MSBCTL_EXIT_OK;

	bench_run_init(&run, opts);
	run.count_rejects = TRUE;
	bench_result_init(&res);
	bench_persist_params(&res, opts, 1);
	bench_param_str(&res, "persist_immediately", "no");
	tick = g_timeout_source_new(100);
	g_source_set_callback(tick, bench_tick_cb, NULL, NULL);
	g_source_attach(tick, context);
	bench_pub_init(&pub, &run, opts->n);

	pub.client = bench_client_new(&run, "publisher", &error);
	if (pub.client == NULL || !bench_broker_stats(opts, run.topic, &b0, &error) ||
	    !bench_store_stats(opts, &s0, &error)) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	cpu0 = bench_cpu_sample(opts);
	pub.start_ns = bench_now_ns();
	bench_pub_fill(&pub);
	/* the first poll after the last answer says what was still unsaved then */
	if (bench_pubs_run(&run, context, &pub, 1))
		bench_wait_saved(&run, run.topic, -1, &b1, &oldest_max_s, &saved_ns,
		                 &pending_at_ack);
	if (bench_run_failed(&run)) {
		bench_metric(&res, "published", (gdouble)pub.sent);
		bench_check_rejects(&run, &res, &pub, 1);
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	wall = (gdouble)(pub.last_answer_ns - pub.start_ns) / 1e9;
	saved_wall = (gdouble)(saved_ns - pub.start_ns) / 1e9;
	bench_metric(&res, "wall_s", wall);
	bench_metric(&res, "msgs_per_s", (gdouble)opts->n / wall);
	bench_metric(&res, "MB_per_s", (gdouble)opts->n * opts->size / wall / 1e6);
	bench_metric(&res, "saved_wall_s", saved_wall);
	bench_metric(&res, "saved_msgs_per_s", (gdouble)opts->n / saved_wall);
	bench_metric(&res, "save_lag_s", saved_wall - wall);
	bench_metric(&res, "pending_at_ack", pending_at_ack);
	bench_metric(&res, "oldest_pending_max_s", oldest_max_s);
	bench_metric(&res, "publishes", (gdouble)pub.n_publishes);
	bench_metric(&res, "saves", b1.saves - b0.saves);
	if (b1.saves > b0.saves)
		bench_metric(&res, "msgs_per_save", (gdouble)opts->n / (b1.saves - b0.saves));
	bench_metric_cpu(&res, opts, &cpu0, saved_wall, (gdouble)opts->n);
	if (!bench_store_stats(opts, &s1, &error)) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	bench_metric_store(&res, opts, &s0, &s1, saved_wall);
	if (!bench_check_rejects(&run, &res, &pub, 1) ||
	    !bench_check_stored(&run, &s0, &s1, opts->n)) {
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	if (oldest_max_s > opts->persist_delay_s) {
		bench_run_fail(&run, g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED,
		                                 "a message waited %.3f s to be saved, longer than "
		                                 "EventuallyPersistenceDelay (%.3f s)",
		                                 oldest_max_s, opts->persist_delay_s));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	bench_emit(opts, TRUE, NULL, &res);

out:
	bench_pub_clear(&pub);
	g_source_destroy(tick);
	g_source_unref(tick);
	bench_result_clear(&res);
	bench_run_clear(&run);
	return status;
}

/*
 * persist-immediate: --publishers connections, each keeping --window persist_immediately publishes
 * of --batch messages in flight, into one topic (or --topics N: one per publisher); a
 * PublishResponse comes only once the service has acknowledged the save, after its fsync. The
 * clock runs from the first publish to the last answer; p*_us are publish -> answer.
 */
static int
bench_persist_immediate(const BenchOpts *opts)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	g_autoptr(GError) error = NULL;
	guint n_pubs = (guint)opts->publishers;
	BenchPublisher *pubs = g_new0(BenchPublisher, n_pubs);
	gchar **topics = g_new0(gchar *, n_pubs + 1);
	g_autofree gint64 *lat = NULL;
	gint64 n_lat = 0;
	BenchRun run;
	BenchResult res;
	BenchCpu cpu0;
	BenchBrokerStats b0 = {0};
	BenchBrokerStats b1 = {0};
	BenchStoreStats s0 = {0};
	BenchStoreStats s1 = {0};
	GSource *tick;
	gint64 start_ns;
	gint64 end_ns = 0;
	gdouble wall;
	int status = MSBCTL_EXIT_OK;

	bench_run_init(&run, opts);
	run.count_rejects = TRUE;
	bench_result_init(&res);
	bench_persist_params(&res, opts, (gint)n_pubs);
	bench_param_num(&res, "topics", opts->topics);
	bench_param_str(&res, "persist_immediately", "yes");
	bench_param_str(&res, "measures",
	                "first publish to last PublishResponse; p*_us: publish to its "
	                "PublishResponse (sent after the service acknowledged the save)");
	tick = g_timeout_source_new(100);
	g_source_set_callback(tick, bench_tick_cb, NULL, NULL);
	g_source_attach(tick, context);
	for (guint i = 0; i < n_pubs; i++) {
		gint64 share = opts->n / n_pubs + (i < (guint)(opts->n % n_pubs) ? 1 : 0);

		bench_pub_init(&pubs[i], &run, share);
		bench_pub_keep_latency(&pubs[i]);
		pubs[i].persist_immediately = TRUE;
		if (opts->topics > 1) {
			topics[i] = g_strdup_printf("%s-p%u", run.topic, i);
			pubs[i].topic = topics[i];
		}
	}
	for (guint i = 0; i < n_pubs && error == NULL; i++) {
		g_autofree gchar *role = g_strdup_printf("publisher %u", i);

		pubs[i].client = bench_client_new(&run, role, &error);
		if (pubs[i].client != NULL && opts->topics > 1)
			msb_client_create_topic(pubs[i].client, pubs[i].topic, &error);
	}
	if (error != NULL || !bench_broker_stats(opts, run.topic, &b0, &error) ||
	    !bench_store_stats(opts, &s0, &error)) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}

	cpu0 = bench_cpu_sample(opts);
	start_ns = bench_now_ns();
	for (guint i = 0; i < n_pubs; i++) {
		pubs[i].start_ns = start_ns;
		bench_pub_fill(&pubs[i]);
	}
	bench_pubs_run(&run, context, pubs, n_pubs);
	if (bench_run_failed(&run)) {
		bench_check_rejects(&run, &res, pubs, n_pubs);
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	for (guint i = 0; i < n_pubs; i++)
		end_ns = MAX(end_ns, pubs[i].last_answer_ns);
	wall = (gdouble)(end_ns - start_ns) / 1e9;
	bench_metric_cpu(&res, opts, &cpu0, wall, (gdouble)opts->n);
	if (!bench_store_stats(opts, &s1, &error) ||
	    !bench_broker_stats(opts, run.topic, &b1, &error)) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	bench_metric(&res, "wall_s", wall);
	bench_metric(&res, "msgs_per_s", (gdouble)opts->n / wall);
	bench_metric(&res, "MB_per_s", (gdouble)opts->n * opts->size / wall / 1e6);
	for (guint i = 0; i < n_pubs; i++)
		n_lat += pubs[i].n_lat;
	lat = g_new(gint64, MAX(n_lat, 1));
	n_lat = 0;
	for (guint i = 0; i < n_pubs; i++) {
		memcpy(lat + n_lat, pubs[i].lat_ns, (gsize)pubs[i].n_lat * sizeof(gint64));
		n_lat += pubs[i].n_lat;
	}
	if (n_lat > 0)
		bench_latency_metrics(&res, "", lat, (gsize)n_lat);
	{
		gint64 publishes = 0;
		for (guint i = 0; i < n_pubs; i++)
			publishes += pubs[i].n_publishes;
		bench_metric(&res, "publishes", (gdouble)publishes);
	}
	bench_metric(&res, "saves", b1.saves - b0.saves);
	if (b1.saves > b0.saves)
		bench_metric(&res, "msgs_per_save", (gdouble)opts->n / (b1.saves - b0.saves));
	bench_metric_store(&res, opts, &s0, &s1, wall);
	if (!bench_check_rejects(&run, &res, pubs, n_pubs) ||
	    !bench_check_stored(&run, &s0, &s1, opts->n)) {
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	bench_emit(opts, TRUE, NULL, &res);

out:
	for (guint i = 0; i < n_pubs; i++)
		bench_pub_clear(&pubs[i]);
	g_free(pubs);
	g_strfreev(topics);
	g_source_destroy(tick);
	g_source_unref(tick);
	bench_result_clear(&res);
	bench_run_clear(&run);
	return status;
}

/* backlog: the queue maker's subscriber must never get anything (nothing is published yet). */
static void
bench_sub_unexpected_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	BenchSub *sub = user_data;

	msb_delivery_fail_all(delivery);
	bench_sub_check_fail(sub, "a delivery before anything was published");
}

/*
 * backlog: a fresh topic gets a permanent queue with no subscriber (a client subscribes, is known
 * to be subscribed, and disconnects); -n messages are published to it as in persist-pub; once
 * every one is saved and the broker has dropped the sub-pages nobody reads next (the topic holds
 * at most --max-memory messages in memory), a subscriber reads the queue with confirm-all. The
 * clock runs from its Subscribe to the last message; every id must arrive once, in order, from 0.
 */
static int
bench_backlog(const BenchOpts *opts)
{
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	g_autoptr(GError) error = NULL;
	BenchRun run;
	BenchSubGroup group;
	BenchPublisher pub;
	BenchResult res;
	BenchCpu cpu0;
	BenchBrokerStats b0 = {0};
	BenchBrokerStats b2 = {0};
	MsbClient *maker = NULL;
	BenchSub maker_sub = {0};
	GSource *tick;
	gint64 saved_ns = 0;
	gint64 start_ns;
	gdouble oldest_max_s = 0;
	gdouble wall;
	int status = MSBCTL_EXIT_OK;

	bench_run_init(&run, opts);
	run.count_rejects = TRUE;
	bench_result_init(&res);
	bench_persist_params(&res, opts, 1);
	bench_param_str(&res, "queue_type", "permanent");
	bench_param_num(&res, "max_memory", (gdouble)opts->max_memory);
	bench_param_str(&res, "measures",
	                "Subscribe to the last message received, every message loaded back from "
	                "the persistence service but the last sub-pages");
	tick = g_timeout_source_new(100);
	g_source_set_callback(tick, bench_tick_cb, NULL, NULL);
	g_source_attach(tick, context);
	bench_group_init(&group, &run, 1, opts->n, bench_sub_delivery_cb);
	g_free(group.subs[0].queue);
	group.subs[0].queue = g_strdup("bench-backlog");
	group.subs[0].next_id = 0; /* a fresh topic: the first id is 0 */
	bench_pub_init(&pub, &run, opts->n);
	maker_sub.run = &run;
	maker_sub.queue = group.subs[0].queue;

	/* the queue: permanent, so it stays and collects every message with nobody reading */
	maker = bench_client_new(&run, "queue maker", &error);
	if (maker == NULL ||
	    !msb_client_subscribe(maker, run.topic, group.subs[0].queue, MSB_CLIENT_QUEUE_PERMANENT,
	                          bench_sub_unexpected_cb, &maker_sub, NULL, &error) ||
	    !msb_client_publish_sync(maker, run.topic, NULL, 0, FALSE, NULL, &error)) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	bench_client_close(maker, &run);
	maker = NULL;

	pub.client = bench_client_new(&run, "publisher", &error);
	if (pub.client == NULL) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	pub.start_ns = bench_now_ns();
	bench_pub_fill(&pub);
	if (bench_pubs_run(&run, context, &pub, 1))
		bench_wait_saved(&run, run.topic, opts->max_memory, &b0, &oldest_max_s, &saved_ns,
		                 NULL);
	bench_client_close(pub.client, &run);
	pub.client = NULL;
	if (bench_run_failed(&run)) {
		bench_check_rejects(&run, &res, &pub, 1);
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	if (!bench_check_rejects(&run, &res, &pub, 1)) {
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	bench_metric(&res, "publish_msgs_per_s",
	             (gdouble)opts->n / ((gdouble)(pub.last_answer_ns - pub.start_ns) / 1e9));
	bench_metric(&res, "save_wait_s", (gdouble)(saved_ns - pub.last_answer_ns) / 1e9);
	bench_metric(&res, "in_memory_at_start", b0.in_memory);

	/* the subscriber on its own connection, in this thread: nothing else runs now */
	group.subs[0].client = bench_client_new(&run, "subscriber", &error);
	if (group.subs[0].client == NULL) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	cpu0 = bench_cpu_sample(opts);
	start_ns = bench_now_ns();
	if (!msb_client_subscribe(group.subs[0].client, run.topic, group.subs[0].queue,
	                          MSB_CLIENT_QUEUE_PERMANENT, bench_sub_delivery_cb, &group.subs[0],
	                          NULL, &error)) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	while (!bench_run_failed(&run) && !bench_run_timed_out(&run) && !bench_group_done(&group))
		g_main_context_iteration(context, TRUE);
	if (!bench_run_failed(&run) && !bench_group_done(&group))
		bench_run_fail(&run, g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
		                                 "deadline of %d s exceeded: %" G_GINT64_FORMAT
		                                 " of %" G_GINT64_FORMAT " messages received",
		                                 opts->timeout_s, group.subs[0].received, opts->n));
	if (bench_run_failed(&run)) {
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	wall = (gdouble)(group.subs[0].end_ns - start_ns) / 1e9;
	bench_metric_cpu(&res, opts, &cpu0, wall, (gdouble)opts->n);
	/* the loads of the consumption: from when the subscriber connected */
	if (!bench_broker_stats(opts, run.topic, &b2, &error)) {
		bench_run_fail(&run, g_steal_pointer(&error));
		status = bench_emit_failure(opts, &run, &res, NULL);
		goto out;
	}
	bench_metric(&res, "wall_s", wall);
	bench_metric(&res, "msgs_per_s", (gdouble)opts->n / wall);
	bench_metric(&res, "MB_per_s", (gdouble)opts->n * opts->size / wall / 1e6);
	bench_metric(&res, "loads", b2.loads - b0.loads);
	if (b2.loads > b0.loads)
		bench_metric(&res, "msgs_per_load", (gdouble)opts->n / (b2.loads - b0.loads));
	bench_metric(&res, "msgs_per_batch", (gdouble)opts->n / (gdouble)group.subs[0].batches);
	bench_emit(opts, TRUE, NULL, &res);

out:
	bench_client_close(maker, &run);
	bench_pub_clear(&pub);
	bench_group_free(&group);
	g_source_destroy(tick);
	g_source_unref(tick);
	bench_result_clear(&res);
	bench_run_clear(&run);
	return status;
}

/* ---- command line ---- */

static gboolean
bench_parse_mode(const gchar *name, BenchOpts *opts)
{
	const struct {
		const gchar *name;
		const gchar *test; /* the default test name in the output */
		BenchMode mode;
	} modes[] = {
	        {"pub", "pub", BENCH_MODE_PUB},
	        {"pubsub", "pubsub", BENCH_MODE_PUBSUB},
	        {"fanout", "fanout", BENCH_MODE_FANOUT},
	        {"latency", "latency", BENCH_MODE_LATENCY},
	        {"reqrep", "latency_rr", BENCH_MODE_REQREP},
	        {"persist-pub", "persist_pub", BENCH_MODE_PERSIST_PUB},
	        {"persist-immediate", "persist_immediate", BENCH_MODE_PERSIST_IMMEDIATE},
	        {"backlog", "backlog_consume", BENCH_MODE_BACKLOG},
	};
	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		if (g_strcmp0(name, modes[i].name) == 0) {
			opts->mode = modes[i].mode;
			opts->mode_name = modes[i].test;
			return TRUE;
		}
	}
	g_printerr(_("%s: unknown mode \"%s\"; use pub, pubsub, fanout, latency, reqrep, "
	             "persist-pub, persist-immediate or backlog\n"),
	           g_get_prgname(), name);
	return FALSE;
}

static gboolean
bench_parse_queue_type(const gchar *name, BenchOpts *opts)
{
	if (name == NULL || g_strcmp0(name, "delete-on-disconnect") == 0) {
		opts->queue_type = MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT;
		opts->queue_type_name = "delete-on-disconnect";
		return TRUE;
	}
	if (g_strcmp0(name, "permanent") == 0) {
		opts->queue_type = MSB_CLIENT_QUEUE_PERMANENT;
		opts->queue_type_name = "permanent";
		return TRUE;
	}
	g_printerr(_("%s: unknown --queue-type \"%s\"; use delete-on-disconnect or permanent\n"),
	           g_get_prgname(), name);
	return FALSE;
}

static gboolean
bench_check_range(const gchar *option, gint64 value, gint64 min, gint64 max)
{
	if (value >= min && value <= max)
		return TRUE;
	g_printerr(_("%s: %s must be from %lld to %lld\n"), g_get_prgname(), option, (long long)min,
	           (long long)max);

	return FALSE;
}

int
msbctl_bench_run(int argc, char **argv)
{
	BenchOpts opts = {0};
	g_autofree gchar *queue_type = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	gint64 n = 2000000;
	int status;
	const GOptionEntry entries[] = {
	        {"address", 'a', 0, G_OPTION_ARG_STRING, &opts.address, MSBCTL_ADDRESS_HELP,
	         N_("ADDRESS")},
	        {"n", 'n', 0, G_OPTION_ARG_INT64, &n,
	         N_("Messages to publish in pub, pubsub and fanout (default 2000000)"), "N"},
	        {"size", 0, 0, G_OPTION_ARG_INT, &opts.size, N_("Payload bytes (default 100)"),
	         N_("BYTES")},
	        {"batch", 0, 0, G_OPTION_ARG_INT, &opts.batch,
	         N_("Messages per Publish packet (default 100)"), "N"},
	        {"window", 0, 0, G_OPTION_ARG_INT, &opts.window,
	         N_("Publishes in flight (default 1000)"), "N"},
	        {"subs", 0, 0, G_OPTION_ARG_INT, &opts.subs,
	         N_("fanout: queues on the topic, one subscriber each (default 4)"), "N"},
	        {"lat-n", 0, 0, G_OPTION_ARG_INT, &opts.lat_n,
	         N_("latency: timed round trips (default 10000)"), "N"},
	        {"warmup", 0, 0, G_OPTION_ARG_INT, &opts.warmup,
	         N_("latency: untimed round trips first (default 1000)"), "N"},
	        {"queue-type", 0, 0, G_OPTION_ARG_STRING, &queue_type,
	         N_("delete-on-disconnect (default) or permanent"), N_("TYPE")},
	        {"one-thread", 0, 0, G_OPTION_ARG_NONE, &opts.one_thread,
	         N_("pubsub, fanout: run every client in the main thread's context (default: the "
	            "subscribers in a second thread with their own context)"),
	         NULL},
	        {"run", 0, 0, G_OPTION_ARG_INT, &opts.run,
	         N_("Run number in the output (default 1)"), "N"},
	        {"name", 0, 0, G_OPTION_ARG_STRING, &opts.name,
	         N_("Test name in the output (default: the mode)"), N_("NAME")},
	        {"server-pid", 0, 0, G_OPTION_ARG_INT, &opts.server_pid,
	         N_("Broker pid, to report its CPU use and syscalls per message"), "PID"},
	        {"timeout", 0, 0, G_OPTION_ARG_INT, &opts.timeout_s,
	         N_("Give up on a measurement after this many seconds (default 60)"),
	         N_("SECONDS")},
	        {"http", 0, 0, G_OPTION_ARG_STRING, &opts.http,
	         N_("persist-*, backlog: the broker's HTTP host:port, for /metrics (required)"),
	         N_("ADDRESS")},
	        {"persistence-http", 0, 0, G_OPTION_ARG_STRING, &opts.persistence_http,
	         N_("persist-*, backlog: the persistence service's HTTP host:port, for its store "
	            "counters (/api/status)"),
	         N_("ADDRESS")},
	        {"persistence-pid", 0, 0, G_OPTION_ARG_INT, &opts.persistence_pid,
	         N_("The persistence service's pid, to report its CPU use and bytes written"),
	         "PID"},
	        {"data-path", 0, 0, G_OPTION_ARG_FILENAME, &opts.data_path,
	         N_("The persistence service's DataPath, to report what it grows by"), N_("DIR")},
	        {"publishers", 0, 0, G_OPTION_ARG_INT, &opts.publishers,
	         N_("persist-immediate: publisher connections (default 16)"), "N"},
	        {"topics", 0, 0, G_OPTION_ARG_INT, &opts.topics,
	         N_("persist-immediate: 1 (default) for one topic shared by the publishers, or "
	            "--publishers for one each"),
	         "N"},
	        {"max-memory", 0, 0, G_OPTION_ARG_INT64, &opts.max_memory,
	         N_("backlog: consume once the topic holds at most this many messages in memory "
	            "(default 10000)"),
	         "N"},
	        {"persist-delay", 0, 0, G_OPTION_ARG_DOUBLE, &opts.persist_delay_s,
	         N_("persist-pub: the broker's EventuallyPersistenceDelay in seconds; a message "
	            "waiting longer fails the row (default 5)"),
	         N_("SECONDS")},
	        {NULL},
	};

	opts.size = 100;
	opts.batch = 100;
	opts.window = -1; /* 1000, or 16 for persist-immediate */
	opts.subs = 4;
	opts.publishers = 16;
	opts.topics = 1;
	opts.max_memory = 10000;
	opts.persist_delay_s = 5;
	opts.lat_n = 10000;
	opts.warmup = 1000;
	opts.run = 1;
	opts.timeout_s = 60;
	opts.clk_tck = (gdouble)sysconf(_SC_CLK_TCK);
	if (opts.clk_tck <= 0)
		opts.clk_tck = 100;

	context = g_option_context_new(N_("MODE"));
	g_option_context_set_translation_domain(context, msb_i18n_get_domain());
	g_option_context_set_summary(
	        context,
	        _("Measure the broker over TCP and print one JSON result line (the format of the "
	          "peer\nharness, so that `natsbench -mode summary` tables it). MODE is one of:\n"
	          "  pub      publish throughput: N messages in Publish packets of --batch, "
	          "--window "
	          "in flight;\n"
	          "           the clock stops at the last PublishResponse\n"
	          "  pubsub   publish -> one subscriber -> confirm; every message must arrive "
	          "once, "
	          "in order\n"
	          "  fanout   the same with --subs queues of one subscriber each "
	          "(deliveries_per_s)\n"
	          "  latency  one message at a time: publish -> delivery received and confirmed; "
	          "--warmup\n"
	          "           untimed, then --lat-n timed; percentiles of publish -> delivery and "
	          "of\n"
	          "           publish -> PublishResponse\n"
	          "  reqrep   latency in the shape of NATS request/reply (test name latency_rr): a "
	          "responder\n"
	          "           confirms each request and publishes it back to a reply topic that "
	          "the\n"
	          "           requester's connection consumes; percentiles of request -> reply\n"
	          "With a broker that persists (--http required):\n"
	          "  persist-pub        pub, acknowledged from memory; also the rate until the "
	          "broker's\n"
	          "                     /metrics shows nothing pending (saved_msgs_per_s); a "
	          "Reject fails it\n"
	          "  persist-immediate  --publishers connections, --window persist_immediately "
	          "publishes in\n"
	          "                     flight each (default 16), answered after the service's "
	          "fsync\n"
	          "  backlog            a permanent queue with no subscriber gets N messages; once "
	          "they are\n"
	          "                     saved and dropped from memory, one subscriber reads them "
	          "back"));
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr(_("%s: %s\nRun '%s --help' for the options.\n"), g_get_prgname(),
		           error->message, g_get_prgname());
		g_free(opts.address);
		g_free(opts.name);
		g_free(opts.http);
		g_free(opts.persistence_http);
		g_free(opts.data_path);
		return MSBCTL_EXIT_USAGE;
	}
	status = MSBCTL_EXIT_USAGE;
	if (argc != 2) {
		g_printerr(_("%s: give exactly one MODE (pub, pubsub, fanout, latency, reqrep, "
		             "persist-pub, persist-immediate or backlog)\n"),
		           g_get_prgname());
		goto out;
	}
	if (!bench_parse_mode(argv[1], &opts) || !bench_parse_queue_type(queue_type, &opts))
		goto out;
	if (!bench_check_range("--n", n, 1, G_MAXINT64 / 2) ||
	    !bench_check_range("--size", opts.size, 0, 16 * 1024 * 1024) ||
	    !bench_check_range("--batch", opts.batch, 1, 1000000) ||
	    (opts.window != -1 && !bench_check_range("--window", opts.window, 1, 1000000)) ||
	    !bench_check_range("--publishers", opts.publishers, 1, 1024) ||
	    !bench_check_range("--max-memory", opts.max_memory, 0, G_MAXINT64 / 2) ||
	    !bench_check_range("--subs", opts.subs, 1, 64) ||
	    !bench_check_range("--lat-n", opts.lat_n, 1, 100000000) ||
	    !bench_check_range("--warmup", opts.warmup, 0, 100000000) ||
	    !bench_check_range("--timeout", opts.timeout_s, 1, 86400))
		goto out;
	if ((opts.mode == BENCH_MODE_LATENCY || opts.mode == BENCH_MODE_REQREP) &&
	    opts.size < BENCH_SEQ_BYTES) {
		g_printerr(_("%s: latency and reqrep need --size of at least %d (the sequence "
		             "number)\n"),
		           g_get_prgname(), BENCH_SEQ_BYTES);
		goto out;
	}
	if (opts.topics != 1 && opts.topics != opts.publishers) {
		g_printerr(_("%s: --topics must be 1 or --publishers (%d)\n"), g_get_prgname(),
		           opts.publishers);
		goto out;
	}
	if ((opts.mode == BENCH_MODE_PERSIST_PUB || opts.mode == BENCH_MODE_PERSIST_IMMEDIATE ||
	     opts.mode == BENCH_MODE_BACKLOG) &&
	    opts.http == NULL) {
		g_printerr(_("%s: %s needs --http, the broker's HTTP host:port\n"), g_get_prgname(),
		           argv[1]);
		goto out;
	}
	if (opts.mode == BENCH_MODE_BACKLOG && opts.size < BENCH_SEQ_BYTES) {
		g_printerr(_("%s: backlog needs --size of at least %d (the sequence number)\n"),
		           g_get_prgname(), BENCH_SEQ_BYTES);
		goto out;
	}
	if (opts.window == -1)
		opts.window = opts.mode == BENCH_MODE_PERSIST_IMMEDIATE ? 16 : 1000;
	if (opts.address == NULL)
		opts.address = g_strdup(MSBCTL_DEFAULT_ADDRESS);
	opts.n = n;

	if (opts.mode == BENCH_MODE_LATENCY || opts.mode == BENCH_MODE_REQREP)
		status = bench_latency(&opts);
	else if (opts.mode == BENCH_MODE_PERSIST_PUB)
		status = bench_persist_pub(&opts);
	else if (opts.mode == BENCH_MODE_PERSIST_IMMEDIATE)
		status = bench_persist_immediate(&opts);
	else if (opts.mode == BENCH_MODE_BACKLOG)
		status = bench_backlog(&opts);
	else
		status = bench_throughput(&opts);
out:
	g_free(opts.address);
	g_free(opts.name);
	g_free(opts.http);
	g_free(opts.persistence_http);
	g_free(opts.data_path);
	return status;
}
