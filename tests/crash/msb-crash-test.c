/*
 * msb-crash-test: the randomized crash test of the broker and its persistence service (issue 7).
 *
 * It owns one broker and one persistence service (the dtest harness: temporary folders, ports
 * chosen at the first start and kept across restarts), publishers and consumers on libmsb-client,
 * and a schedule of SIGKILLs drawn from a seeded random generator: the broker alone, the service
 * alone, both at once, the service and later the broker, the broker again while it starts, or the
 * service while the broker restores from it, at random moments while messages flow. Publishers use
 * persist_immediately, or not, or either per publish; every message has a unique content (topic,
 * publisher, sequence number and filler derived from them), and every acknowledgement is recorded
 * with its time on the monotonic clock and the broker instance that gave it. Consumers record every
 * delivery and confirmation; some batches are confirmed late or failed on purpose, so that batches
 * are in flight at the kills.
 *
 * At the end the publishers stop, the broker is stopped gracefully and started again, a
 * persist_immediately sentinel per topic is published and every queue is drained past it. Then:
 *  - every message acknowledged with persist_immediately was delivered on every queue;
 *  - every other acknowledged message was delivered on every queue if the broker instance that
 *    acknowledged it had, before its end, EventuallyPersistenceDelay plus a slack with the
 *    service up (after a service restart, also a reconnect allowance), or ended gracefully;
 *  - no message was delivered again on a queue after it was confirmed there, unless a broker
 *    crash came before the confirmation could be in a saved queue snapshot (a tick of 1 s plus a
 *    slack, with the service up), or the consumer's connection dropped right after confirming;
 *  - every content came with one id only, every id with one content only, and every content is
 *    intact.
 * Violations are listed and the exit status is 1. The timing of the kills is random but depends on
 * the machine's speed too: a seed repeats the same choices, not the same interleaving.
 */
#define G_LOG_DOMAIN "msb-crash-test"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "dtest.h"

#define N_TOPICS              2
#define N_QUEUES              2 /* per topic (the report of a missing message names two) */
#define N_CONSUMERS_PER_QUEUE 2
#define MAX_BATCH             20   /* messages in one publish */
#define SNAPSHOT_TICK_MS      1000 /* the broker saves a changed queue snapshot once a second */
#define VIOLATIONS_SHOWN      20

typedef enum {
	CRASH_MSG_SENT = 1 << 0,
	CRASH_MSG_ACKED = 1 << 1,
	CRASH_MSG_FAILED = 1 << 2,
	CRASH_MSG_IMMEDIATE = 1 << 3,
} CrashMsgFlags;

/* a message on one queue: times are milliseconds since the start plus 1 (0: never) */
typedef struct {
	guint32 confirm_ms;
	guint16 deliveries;
	guint16 confirms;
} CrashMark;

typedef struct {
	gint64 id; /* the id it was first delivered with, -1 before */
	guint32 ack_ms;
	guint16 instance; /* the broker instance that acknowledged it, from 1 */
	guint8 flags;
	CrashMark q[N_QUEUES];
} CrashMsg;

typedef struct {
	gint64 up_ms;
	gint64 down_ms; /* G_MAXINT64 while up */
} CrashInterval;

typedef struct {
	gint64 ready_ms;
	gint64 end_ms; /* G_MAXINT64 while running */
	gboolean graceful;
} CrashInstance;

typedef struct _Crash Crash;

typedef enum {
	CRASH_MODE_EVENTUAL,
	CRASH_MODE_IMMEDIATE,
	CRASH_MODE_MIXED,
} CrashMode;

typedef struct {
	Crash *crash;
	guint index;
	guint topic;
	CrashMode mode;
	MsbClient *client;
	GArray *msgs; /* CrashMsg by sequence number */
	guint16 instance;
	guint in_flight;
	gdouble tokens;
} CrashPublisher;

typedef struct {
	CrashPublisher *pub;
	guint first;
	guint count;
} CrashPublish;

typedef struct {
	Crash *crash;
	guint topic;
	guint queue;
	MsbClient *client;
	guint gen;             /* connects and disconnects so far */
	guint16 instance;      /* the broker instance of the connection */
	GArray *unexpected_ms; /* disconnects while the broker was running and not just ended */
	gboolean got_sentinel;
	gint64 last_delivery_ms;
} CrashConsumer;

typedef enum {
	CRASH_V_MISSING,   /* a message that had to survive did not come */
	CRASH_V_DUPLICATE, /* delivered again after a confirmation that had to hold */
	CRASH_V_ID_REUSED, /* one id, two contents */
	CRASH_V_TWO_IDS,   /* one content, two ids */
	CRASH_V_CONTENT,   /* a content that was never published, or damaged */
	CRASH_V_PROCESS,   /* a process did not stop cleanly */
	CRASH_V_KINDS,
} CrashViolation;

static const gchar *const crash_violation_names[CRASH_V_KINDS] = {
        "missing",
        "delivered again after confirmation",
        "id given to two contents",
        "content with two ids",
        "unknown or damaged content",
        "process exit",
};

struct _Crash {
	GRand *rand;      /* traffic and consumers: follows the timing */
	GRand *kill_rand; /* the kill schedule: the same for the same seed */
	gint64 t0_us;
	PtestService *ps;
	ItestBroker *b;
	guint16 broker_port;
	guint16 instance;  /* of the broker running now or last */
	GArray *instances; /* CrashInstance, [instance - 1] */
	GArray *service;   /* CrashInterval */
	GPtrArray *publishers;
	GPtrArray *consumers;
	gboolean stopping;
	gboolean draining;
	gboolean closing;
	guint tick_id;

	/* options */
	gint cycles;
	gint seconds;
	gint n_publishers;
	gint rate;
	gint delay_ms;
	gint slack_ms;
	gint reconnect_ms;
	gint confirm_slack_ms;
	gint min_run_ms;
	gint max_run_ms;
	gint max_down_ms;
	gboolean keep;

	/* counts */
	guint n_cycles;
	guint kills_broker;
	guint kills_service;
	guint kills_by_kind[6];
	guint64 published;
	guint64 acked;
	guint64 acked_immediate;
	guint64 failed;
	guint64 delivered;
	guint64 confirmed;
	guint64 failed_batches;
	guint64 late_confirms;
	guint64 dropped_confirms;
	guint64 redelivered_unconfirmed;
	guint64 redelivered_after_crash;
	guint64 redelivered_after_drop;
	guint64 duplicates_after_confirm;
	guint64 lost_allowed;
	guint64 required;
	guint64 required_by_delay;
	guint64 confirms_across_kills;
	guint64 missing;
	guint64 unacked_delivered;
	gint64 lost_max_age_ms;
	guint64 lost_service_up;
	gint64 lost_service_up_max_age_ms;
	GHashTable *errors; /* publish error text → count */
	GPtrArray *violations;
	guint64 n_violations;
	guint64 n_by_kind[CRASH_V_KINDS];
};

static gint64
crash_now_ms(Crash *c)
{
	return (g_get_monotonic_time() - c->t0_us) / 1000;
}

/* Count a violation; the first VIOLATIONS_SHOWN of each kind are listed. */
G_GNUC_PRINTF(3, 4)
static void
crash_violation(Crash *c, CrashViolation kind, const gchar *format, ...)
{
	va_list args;
	gchar *text;

	c->n_violations++;
	if (c->n_by_kind[kind]++ >= VIOLATIONS_SHOWN)
		return;
	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	g_printerr("VIOLATION at %.3f s: %s\n", crash_now_ms(c) / 1000.0, text);
	g_ptr_array_add(c->violations, text);
}

/* ---- contents ---- */

static guint32
crash_hash(guint topic, guint pub, guint32 seq)
{
	guint32 h = seq * 2654435761u ^ (pub + 1) * 40503u ^ (topic + 1) * 97u;

	h ^= h >> 15;
	h *= 2246822519u;
	h ^= h >> 13;
	return h;
}

/* "T<topic> P<publisher> S<sequence> " and filler: mostly short, now and then up to 20 KB */
static GBytes *
crash_content(guint topic, guint pub, guint32 seq)
{
	guint32 h = crash_hash(topic, pub, seq);
	gsize filler = h % 199 == 0 ? 4000 + h % 16000 : h % 120;
	GString *s = g_string_new(NULL);
	gsize len;

	g_string_printf(s, "T%u P%u S%u ", topic, pub, seq);
	for (gsize i = 0; i < filler; i++)
		g_string_append_c(s, (gchar)('a' + (h + i * 7) % 26));
	len = s->len;
	return g_bytes_new_take(g_string_free(s, FALSE), len);
}

/* Parse the header of a content; FALSE if it is not one of ours. */
static gboolean
crash_parse(const guint8 *data, gsize len, guint *topic, guint *pub, guint32 *seq)
{
	gchar head[48];
	gchar *end = NULL;
	gsize n = MIN(len, sizeof(head) - 1);
	guint64 v;

	memcpy(head, data, n);
	head[n] = '\0';
	if (head[0] != 'T')
		return FALSE;
	v = g_ascii_strtoull(head + 1, &end, 10);
	if (end == head + 1 || v >= N_TOPICS || strncmp(end, " P", 2) != 0)
		return FALSE;
	*topic = (guint)v;
	v = g_ascii_strtoull(end + 2, &end, 10);
	if (v > G_MAXUINT16 || strncmp(end, " S", 2) != 0)
		return FALSE;
	*pub = (guint)v;
	v = g_ascii_strtoull(end + 2, &end, 10);
	if (v > G_MAXUINT32 || *end != ' ')
		return FALSE;
	*seq = (guint32)v;
	return TRUE;
}

static gchar *
crash_topic_name(guint topic)
{
	return g_strdup_printf("crash-%u", topic);
}

static gchar *
crash_queue_name(guint queue)
{
	return g_strdup_printf("q%u", queue);
}

/* ---- the timing rules ---- */

/*
 * Had the broker instance @inst, between @t_ms and its end @end_ms, @need_ms with the service up
 * (after a service restart while it ran: from the restart plus the reconnect allowance on)?
 */
static gboolean
crash_settled(Crash *c, guint16 inst, gint64 t_ms, gint64 end_ms, gint64 need_ms)
{
	const CrashInstance *ci = &g_array_index(c->instances, CrashInstance, inst - 1);

	for (guint j = 0; j < c->service->len; j++) {
		const CrashInterval *s = &g_array_index(c->service, CrashInterval, j);
		gint64 from = s->up_ms > ci->ready_ms ? s->up_ms + c->reconnect_ms : s->up_ms;
		gint64 start = MAX(t_ms, from);
		gint64 end = MIN(s->down_ms, end_ms);

		if (end - start >= need_ms)
			return TRUE;
	}
	return FALSE;
}

/* Was the service up from @from_ms to @to_ms without a restart? */
static gboolean
crash_service_up_throughout(Crash *c, gint64 from_ms, gint64 to_ms)
{
	for (guint j = 0; j < c->service->len; j++) {
		const CrashInterval *s = &g_array_index(c->service, CrashInterval, j);

		if (s->up_ms <= from_ms && s->down_ms >= to_ms)
			return TRUE;
	}
	return FALSE;
}

/* The broker instance running at @t_ms (its end may be later), 0 if none. */
static guint16
crash_instance_at(Crash *c, gint64 t_ms)
{
	for (guint i = c->instances->len; i > 0; i--) {
		const CrashInstance *ci = &g_array_index(c->instances, CrashInstance, i - 1);

		if (ci->ready_ms <= t_ms)
			return (guint16)i;
	}
	return 0;
}

/*
 * A message confirmed at @confirm_ms on queue @cons came again at @now_ms: allowed if a broker
 * instance ended before the confirmation could be in a saved queue snapshot, or if a consumer of
 * the queue lost its connection in between (the confirmation may not have been sent).
 */
static gboolean
crash_redelivery_excused(Crash *c, CrashConsumer *cons, gint64 confirm_ms, gint64 now_ms,
                         gboolean *by_crash)
{
	guint16 inst = crash_instance_at(c, confirm_ms);

	*by_crash = FALSE;
	if (inst > 0) {
		const CrashInstance *ci = &g_array_index(c->instances, CrashInstance, inst - 1);

		if (ci->end_ms <= now_ms) {
			gboolean settled =
			        ci->graceful
			                ? ci->end_ms - confirm_ms >= c->confirm_slack_ms
			                : crash_settled(c, inst, confirm_ms, ci->end_ms,
			                                SNAPSHOT_TICK_MS + c->confirm_slack_ms);
			if (!settled) {
				*by_crash = TRUE;
				return TRUE;
			}
		}
	}
	for (guint i = 0; i < c->consumers->len; i++) {
		CrashConsumer *other = g_ptr_array_index(c->consumers, i);

		if (other->topic != cons->topic || other->queue != cons->queue)
			continue;
		for (guint j = 0; j < other->unexpected_ms->len; j++) {
			gint64 d = g_array_index(other->unexpected_ms, gint64, j);
			if (d >= confirm_ms - 100 && d <= now_ms)
				return TRUE;
		}
	}
	return FALSE;
}

/* ---- publishers ---- */

static void
crash_published_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	CrashPublish *p = user_data;
	CrashPublisher *pub = p->pub;
	Crash *c = pub->crash;
	g_autoptr(GError) error = NULL;
	gboolean ok = msb_client_publish_finish(MSB_CLIENT(source), result, &error);
	gint64 now = crash_now_ms(c);

	pub->in_flight--;
	for (guint i = 0; i < p->count; i++) {
		CrashMsg *m = &g_array_index(pub->msgs, CrashMsg, p->first + i);

		if (ok) {
			m->flags |= CRASH_MSG_ACKED;
			m->ack_ms = (guint32)(now + 1);
			m->instance = pub->instance;
			c->acked++;
			if (m->flags & CRASH_MSG_IMMEDIATE)
				c->acked_immediate++;
		} else {
			m->flags |= CRASH_MSG_FAILED;
			c->failed++;
		}
	}
	if (!ok) {
		/* counted by the text without its numbers (request ids, ports) */
		const gchar *why = strstr(error->message, "answered: ");
		gchar *key =
		        g_strndup(why != NULL ? why + strlen("answered: ") : error->message, 60);
		guint n;

		for (gchar *q = key; *q != '\0'; q++) {
			if (g_ascii_isdigit(*q))
				*q = '#';
		}
		n = GPOINTER_TO_UINT(g_hash_table_lookup(c->errors, key));

		g_hash_table_insert(c->errors, key, GUINT_TO_POINTER(n + 1));
	}
	g_free(p);
}

static void
crash_publish_one(CrashPublisher *pub, guint count)
{
	Crash *c = pub->crash;
	g_autofree gchar *topic = crash_topic_name(pub->topic);
	MsbMessage messages[MAX_BATCH];
	GBytes *contents[MAX_BATCH];
	CrashPublish *p = g_new0(CrashPublish, 1);
	gboolean immediate = pub->mode == CRASH_MODE_IMMEDIATE ||
	                     (pub->mode == CRASH_MODE_MIXED && g_rand_boolean(c->rand));

	p->pub = pub;
	p->first = pub->msgs->len;
	p->count = count;
	g_array_set_size(pub->msgs, pub->msgs->len + count);
	for (guint i = 0; i < count; i++) {
		CrashMsg *m = &g_array_index(pub->msgs, CrashMsg, p->first + i);
		gsize len = 0;

		m->id = -1;
		m->flags = CRASH_MSG_SENT | (immediate ? CRASH_MSG_IMMEDIATE : 0);
		contents[i] = crash_content(pub->topic, pub->index, p->first + i);
		messages[i].content = g_bytes_get_data(contents[i], &len);
		messages[i].content_len = len;
		messages[i].headers = NULL;
		messages[i].n_headers = 0;
	}
	c->published += count;
	pub->in_flight++;
	msb_client_publish_async(pub->client, topic, messages, count, immediate, NULL,
	                         crash_published_cb, p);
	/* encoded at once: nothing is retained */
	for (guint i = 0; i < count; i++)
		g_bytes_unref(contents[i]);
}

static void
crash_connected_cb(MsbClient *client, gpointer user_data)
{
	CrashPublisher *pub = user_data;

	/* every answer on this connection comes from the broker running now */
	pub->instance = pub->crash->instance;
}

/* every 20 ms: each publisher gets its share of the rate and publishes while its window allows */
static gboolean
crash_tick_cb(gpointer user_data)
{
	Crash *c = user_data;

	if (c->stopping)
		return G_SOURCE_CONTINUE;
	for (guint i = 0; i < c->publishers->len; i++) {
		CrashPublisher *pub = g_ptr_array_index(c->publishers, i);
		guint window = pub->mode == CRASH_MODE_EVENTUAL ? 8 : 4;

		pub->tokens = MIN(pub->tokens + c->rate / 50.0, (gdouble)c->rate);
		/* while the broker is down every publish would fail at once */
		if (!msb_client_is_connected(pub->client))
			continue;
		while (pub->in_flight < window && pub->tokens >= 1.0) {
			guint n = (guint)g_rand_int_range(c->rand, 1, MAX_BATCH + 1);

			n = MIN(n, (guint)pub->tokens);
			pub->tokens -= n;
			crash_publish_one(pub, n);
		}
	}
	return G_SOURCE_CONTINUE;
}

/* ---- consumers ---- */

static CrashMsg *
crash_lookup(Crash *c, CrashConsumer *cons, const MsbReceivedMessage *rm)
{
	guint topic;
	guint pub_index;
	guint32 seq;
	CrashPublisher *pub;
	g_autoptr(GBytes) want = NULL;

	if (!crash_parse(rm->content, rm->content_len, &topic, &pub_index, &seq) ||
	    topic != cons->topic || pub_index >= c->publishers->len) {
		crash_violation(c, CRASH_V_CONTENT,
		                "topic %u queue %u: id %" G_GINT64_FORMAT
		                " has a content that was never published (%" G_GSIZE_FORMAT
		                " bytes)",
		                cons->topic, cons->queue, rm->id, rm->content_len);
		return NULL;
	}
	pub = g_ptr_array_index(c->publishers, pub_index);
	if (pub->topic != topic || seq >= pub->msgs->len) {
		crash_violation(c, CRASH_V_CONTENT,
		                "topic %u: id %" G_GINT64_FORMAT " is P%u S%u, never published",
		                topic, rm->id, pub_index, seq);
		return NULL;
	}
	want = crash_content(topic, pub_index, seq);
	if (g_bytes_get_size(want) != rm->content_len ||
	    memcmp(g_bytes_get_data(want, NULL), rm->content, rm->content_len) != 0) {
		crash_violation(c, CRASH_V_CONTENT,
		                "topic %u: id %" G_GINT64_FORMAT " (P%u S%u) has a damaged content",
		                topic, rm->id, pub_index, seq);
		return NULL;
	}
	return &g_array_index(pub->msgs, CrashMsg, seq);
}

static void
crash_confirm(CrashConsumer *cons, MsbDelivery *delivery)
{
	Crash *c = cons->crash;
	gint64 now = crash_now_ms(c);

	msb_delivery_confirm_all(delivery);
	for (guint i = 0; i < msb_delivery_get_n_messages(delivery); i++) {
		const MsbReceivedMessage *rm = msb_delivery_get_message(delivery, i);
		guint topic;
		guint pub_index;
		guint32 seq;
		CrashPublisher *pub;
		CrashMark *mark;

		if (!crash_parse(rm->content, rm->content_len, &topic, &pub_index, &seq) ||
		    pub_index >= c->publishers->len)
			continue;
		pub = g_ptr_array_index(c->publishers, pub_index);
		if (seq >= pub->msgs->len)
			continue;
		mark = &g_array_index(pub->msgs, CrashMsg, seq).q[cons->queue];
		mark->confirm_ms = (guint32)(now + 1);
		if (mark->confirms < G_MAXUINT16)
			mark->confirms++;
		c->confirmed++;
	}
}

typedef struct {
	CrashConsumer *cons;
	MsbDelivery *delivery;
	guint gen;
} CrashLate;

static gboolean
crash_late_confirm_cb(gpointer user_data)
{
	CrashLate *late = user_data;

	if (late->cons->gen == late->gen) {
		crash_confirm(late->cons, late->delivery);
		late->cons->crash->late_confirms++;
	} else {
		/* the connection that carried it is gone: the broker has it back already */
		late->cons->crash->dropped_confirms++;
	}
	msb_delivery_unref(late->delivery);
	g_free(late);
	return G_SOURCE_REMOVE;
}

static void
crash_delivery_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	CrashConsumer *cons = user_data;
	Crash *c = cons->crash;
	gint64 now = crash_now_ms(c);
	guint roll;

	cons->last_delivery_ms = now;
	for (guint i = 0; i < msb_delivery_get_n_messages(delivery); i++) {
		const MsbReceivedMessage *rm = msb_delivery_get_message(delivery, i);
		CrashMsg *m;
		CrashMark *mark;

		c->delivered++;
		if (rm->content_len >= 8 && memcmp(rm->content, "SENTINEL", 8) == 0) {
			cons->got_sentinel = TRUE;
			continue;
		}
		m = crash_lookup(c, cons, rm);
		if (m == NULL)
			continue;
		if (m->id < 0)
			m->id = rm->id;
		else if (m->id != rm->id)
			crash_violation(
			        c, CRASH_V_TWO_IDS,
			        "topic %u queue %u: one content came with ids %" G_GINT64_FORMAT
			        " and %" G_GINT64_FORMAT,
			        cons->topic, cons->queue, m->id, rm->id);
		mark = &m->q[cons->queue];
		if (mark->deliveries > 0) {
			if (mark->confirm_ms != 0) {
				gboolean by_crash = FALSE;

				if (!crash_redelivery_excused(c, cons, (gint64)mark->confirm_ms - 1,
				                              now, &by_crash)) {
					c->duplicates_after_confirm++;
					crash_violation(
					        c, CRASH_V_DUPLICATE,
					        "topic %u queue %u: id %" G_GINT64_FORMAT
					        " delivered again (attempt %d) after it was "
					        "confirmed at %.3f s",
					        cons->topic, cons->queue, rm->id, rm->attempt,
					        (mark->confirm_ms - 1) / 1000.0);
				} else if (by_crash) {
					c->redelivered_after_crash++;
				} else {
					c->redelivered_after_drop++;
				}
			} else {
				c->redelivered_unconfirmed++;
			}
		}
		if (mark->deliveries < G_MAXUINT16)
			mark->deliveries++;
	}

	/* mostly confirmed at once; some later, some failed, so that batches are in flight when
	 * the kills come and returned messages are redelivered */
	roll = c->draining ? 0 : (guint)g_rand_int_range(c->rand, 0, 100);
	if (roll < 85) {
		crash_confirm(cons, delivery);
	} else if (roll < 97) {
		CrashLate *late = g_new0(CrashLate, 1);

		late->cons = cons;
		late->delivery = msb_delivery_ref(delivery);
		late->gen = cons->gen;
		g_timeout_add((guint)g_rand_int_range(c->rand, 1, 300), crash_late_confirm_cb,
		              late);
	} else {
		msb_delivery_fail_all(delivery);
		c->failed_batches++;
	}
}

static void
crash_consumer_connected_cb(MsbClient *client, gpointer user_data)
{
	CrashConsumer *cons = user_data;

	cons->gen++;
	cons->instance = cons->crash->instance;
}

static void
crash_consumer_disconnected_cb(MsbClient *client, const GError *error, gpointer user_data)
{
	CrashConsumer *cons = user_data;
	Crash *c = cons->crash;
	gint64 now = crash_now_ms(c);

	cons->gen++;
	/* the broker of that connection was killed or stopped (the close may be seen before the
	 * exit is), or the test closes its clients */
	if (c->closing || cons->instance != c->instance ||
	    g_array_index(c->instances, CrashInstance, c->instances->len - 1).end_ms != G_MAXINT64)
		return;
	g_array_append_val(cons->unexpected_ms, now);
	g_printerr("note: consumer of topic %u queue %u disconnected at %.3f s with the broker "
	           "running: %s\n",
	           cons->topic, cons->queue, now / 1000.0, error != NULL ? error->message : "?");
}

/* ---- processes ---- */

static MsbClient *
crash_client_new(Crash *c, const gchar *name)
{
	g_autofree gchar *address = g_strdup_printf("127.0.0.1:%u", c->broker_port);
	MsbClient *client = msb_client_new(address, name);

	msb_client_set_reconnect_delay(client, 100);
	/* the test blocks its main loop while the service restarts: no false dead links */
	msb_client_set_ping_interval(client, 5000);
	msb_client_set_auto_reconnect(client, TRUE);
	return client;
}

static void
crash_check_alive(Crash *c)
{
	gint status = 0;

	if (c->b->exited && !c->b->exit_expected)
		g_error("the broker died on its own (wait status 0x%x); its log: %s",
		        c->b->wait_status, c->b->log_path);
	if (c->ps->pid != 0 && waitpid(c->ps->pid, &status, WNOHANG) == c->ps->pid) {
		c->ps->pid = 0;
		g_error("the persistence service died on its own (wait status 0x%x); its log: %s",
		        status, c->ps->log_path);
	}
}

static void
crash_broker_spawn(Crash *c)
{
	c->instance++;
	itest_broker_spawn(c->b, c->broker_port);
}

/* After crash_broker_spawn(): the instance serves from now on (a start killed before its ready
 * file was seen is recorded too, from its kill: it may have answered a publish or two). */
static void
crash_broker_serving(Crash *c)
{
	CrashInstance ci = {0, G_MAXINT64, FALSE};

	ci.ready_ms = crash_now_ms(c);
	g_array_append_val(c->instances, ci);
}

static void
crash_broker_wait_ready(Crash *c)
{
	/* restore reads the whole snapshot and probes every topic: give it time on a busy host,
	 * and a restore that failed with the service retries after 5 s */
	itest_broker_wait_ready(c->b, c->broker_port, 60000);
	c->broker_port = c->b->port;
	crash_broker_serving(c);
}

static void
crash_broker_start(Crash *c)
{
	crash_broker_spawn(c);
	crash_broker_wait_ready(c);
}

static void
crash_broker_end(Crash *c, gboolean graceful)
{
	CrashInstance *ci = &g_array_index(c->instances, CrashInstance, c->instances->len - 1);

	ci->end_ms = crash_now_ms(c);
	ci->graceful = graceful;
	if (graceful) {
		gint status = itest_broker_stop(c->b, SIGTERM);

		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			crash_violation(c, CRASH_V_PROCESS,
			                "the broker's graceful stop ended with wait status 0x%x",
			                status);
	} else {
		crash_check_alive(c);
		itest_broker_kill(c->b);
		/* not a death of its own just before the kill */
		if (!WIFSIGNALED(c->b->wait_status) || WTERMSIG(c->b->wait_status) != SIGKILL)
			g_error("the broker ended with wait status 0x%x instead of SIGKILL; its "
			        "log: %s",
			        c->b->wait_status, c->b->log_path);
		c->kills_broker++;
	}
}

static void
crash_service_start(Crash *c)
{
	CrashInterval s = {0, G_MAXINT64};

	ptest_service_start(c->ps, c->ps->grpc_port);
	s.up_ms = crash_now_ms(c);
	g_array_append_val(c->service, s);
}

static void
crash_service_kill(Crash *c)
{
	CrashInterval *s = &g_array_index(c->service, CrashInterval, c->service->len - 1);

	gint status;

	s->down_ms = crash_now_ms(c);
	crash_check_alive(c);
	status = ptest_service_stop(c->ps, SIGKILL);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		g_error("the persistence service ended with wait status 0x%x instead of SIGKILL; "
		        "its "
		        "log: %s",
		        status, c->ps->log_path);
	c->kills_service++;
}

static void
crash_run_for(Crash *c, gint ms)
{
	if (ms > 0)
		itest_run_for((guint)ms);
	crash_check_alive(c);
}

static const gchar *const crash_kind_names[] = {
        "broker",
        "service",
        "both",
        "service, later broker",
        "broker, again during its start",
        "broker, then service during the broker's start",
};

static void
crash_cycle(Crash *c)
{
	gint kind;
	gint r = g_rand_int_range(c->kill_rand, 0, 100);

	kind = r < 30 ? 0 : r < 47 ? 1 : r < 72 ? 2 : r < 85 ? 3 : r < 95 ? 4 : 5;
	c->kills_by_kind[kind]++;
	crash_run_for(c, g_rand_int_range(c->kill_rand, c->min_run_ms, c->max_run_ms + 1));
	switch (kind) {
	case 0:
		crash_broker_end(c, FALSE);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, c->max_down_ms + 1));
		crash_broker_start(c);
		break;
	case 1:
		crash_service_kill(c);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, c->max_down_ms + 1));
		crash_service_start(c);
		break;
	case 2:
		crash_broker_end(c, FALSE);
		crash_service_kill(c);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, c->max_down_ms + 1));
		crash_service_start(c);
		crash_broker_start(c);
		break;
	case 3:
		crash_service_kill(c);
		/* the broker goes on from memory for a while */
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, 1500));
		crash_broker_end(c, FALSE);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, c->max_down_ms + 1));
		crash_service_start(c);
		crash_broker_start(c);
		break;
	case 4:
		crash_broker_end(c, FALSE);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, c->max_down_ms + 1));
		/* restoring, saving its first snapshot, binding, or just serving */
		crash_broker_spawn(c);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, 400));
		crash_broker_serving(c);
		crash_broker_end(c, FALSE);
		crash_broker_start(c);
		break;
	default:
		crash_broker_end(c, FALSE);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, c->max_down_ms + 1));
		/* the broker's restore calls fail and are retried (every 5 s) */
		crash_broker_spawn(c);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, 150));
		crash_service_kill(c);
		crash_run_for(c, g_rand_int_range(c->kill_rand, 0, c->max_down_ms + 1));
		crash_service_start(c);
		crash_broker_wait_ready(c);
		break;
	}
	c->n_cycles++;
	g_print("cycle %u: killed %s at %.1f s; %" G_GUINT64_FORMAT
	        " acknowledged, %" G_GUINT64_FORMAT " delivered so far\n",
	        c->n_cycles, crash_kind_names[kind], crash_now_ms(c) / 1000.0, c->acked,
	        c->delivered);
}

/* ---- the end ---- */

static gboolean
crash_all_sentinels(Crash *c)
{
	for (guint i = 0; i < c->consumers->len; i++) {
		CrashConsumer *cons = g_ptr_array_index(c->consumers, i);
		gboolean queue_has = FALSE;

		/* one consumer per queue gets it */
		for (guint j = 0; j < c->consumers->len; j++) {
			CrashConsumer *o = g_ptr_array_index(c->consumers, j);
			if (o->topic == cons->topic && o->queue == cons->queue && o->got_sentinel)
				queue_has = TRUE;
		}
		if (!queue_has)
			return FALSE;
	}
	return TRUE;
}

static gboolean
crash_publishers_idle(Crash *c)
{
	for (guint i = 0; i < c->publishers->len; i++) {
		CrashPublisher *pub = g_ptr_array_index(c->publishers, i);
		if (pub->in_flight > 0)
			return FALSE;
	}
	return TRUE;
}

static gint64
crash_last_delivery(Crash *c)
{
	gint64 last = 0;

	for (guint i = 0; i < c->consumers->len; i++) {
		CrashConsumer *cons = g_ptr_array_index(c->consumers, i);
		last = MAX(last, cons->last_delivery_ms);
	}
	return last;
}

static void
crash_drain(Crash *c)
{
	g_autoptr(MsbClient) client = NULL;
	g_autoptr(GError) error = NULL;

	c->stopping = TRUE;
	ITEST_WAIT_FOR_MS(crash_publishers_idle(c), 120000);
	crash_broker_end(c, TRUE);
	crash_broker_start(c);
	c->draining = TRUE;
	client = crash_client_new(c, "crash-sentinel");
	msb_client_set_auto_reconnect(client, FALSE);
	if (!msb_client_connect_sync(client, NULL, &error))
		g_error("sentinel publisher: %s", error->message);
	for (guint t = 0; t < N_TOPICS; t++) {
		g_autofree gchar *topic = crash_topic_name(t);
		g_autofree gchar *text = g_strdup_printf("SENTINEL T%u", t);
		MsbMessage m = {(const guint8 *)text, strlen(text), NULL, 0};

		if (!msb_client_publish_sync(client, topic, &m, 1, TRUE, NULL, &error))
			g_error("sentinel publish to %s: %s", topic, error->message);
	}
	ITEST_WAIT_FOR_MS(crash_all_sentinels(c), 120000);
	/* late redeliveries would come at once: wait for a quiet second */
	ITEST_WAIT_FOR_MS(crash_now_ms(c) - crash_last_delivery(c) > 1000, 60000);
	msb_client_close(client);
}

typedef struct {
	gint64 id;
	guint32 pub;
	guint32 seq;
} CrashIdKey;

static gint
crash_id_key_cmp(gconstpointer a, gconstpointer b)
{
	const CrashIdKey *x = a;
	const CrashIdKey *y = b;

	return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

static void
crash_check(Crash *c)
{
	for (guint t = 0; t < N_TOPICS; t++) {
		g_autoptr(GArray) keys = g_array_new(FALSE, FALSE, sizeof(CrashIdKey));

		for (guint p = 0; p < c->publishers->len; p++) {
			CrashPublisher *pub = g_ptr_array_index(c->publishers, p);

			if (pub->topic != t)
				continue;
			for (guint s = 0; s < pub->msgs->len; s++) {
				CrashMsg *m = &g_array_index(pub->msgs, CrashMsg, s);
				gboolean required = FALSE;
				gboolean delivered_somewhere = FALSE;
				gboolean missing_somewhere = FALSE;
				const CrashInstance *ci;

				if (m->id >= 0) {
					CrashIdKey k = {m->id, p, s};
					g_array_append_val(keys, k);
				}
				for (guint q = 0; q < N_QUEUES; q++) {
					if (m->q[q].deliveries > 0)
						delivered_somewhere = TRUE;
					else
						missing_somewhere = TRUE;
				}
				for (guint q = 0; q < N_QUEUES; q++) {
					gint64 at = (gint64)m->q[q].confirm_ms - 1;
					guint16 inst = at >= 0 ? crash_instance_at(c, at) : 0;
					const CrashInstance *cq =
					        inst > 0 ? &g_array_index(c->instances,
					                                  CrashInstance, inst - 1)
					                 : NULL;

					/* a confirmation that had to hold across a kill */
					if (cq != NULL && !cq->graceful &&
					    cq->end_ms != G_MAXINT64 &&
					    crash_settled(c, inst, at, cq->end_ms,
					                  SNAPSHOT_TICK_MS + c->confirm_slack_ms))
						c->confirms_across_kills++;
				}
				if (!(m->flags & CRASH_MSG_ACKED)) {
					if (delivered_somewhere)
						c->unacked_delivered++;
					continue;
				}
				ci = &g_array_index(c->instances, CrashInstance, m->instance - 1);
				if (m->flags & CRASH_MSG_IMMEDIATE)
					required = TRUE;
				else if (ci->graceful)
					required = TRUE;
				else
					required = crash_settled(c, m->instance,
					                         (gint64)m->ack_ms - 1, ci->end_ms,
					                         c->delay_ms + c->slack_ms);
				if (required)
					c->required++;
				if (required && !(m->flags & CRASH_MSG_IMMEDIATE) && !ci->graceful)
					c->required_by_delay++;
				if (!missing_somewhere)
					continue;
				if (!required) {
					c->lost_allowed++;
					c->lost_max_age_ms =
					        MAX(c->lost_max_age_ms,
					            ci->end_ms - ((gint64)m->ack_ms - 1));
					if (crash_service_up_throughout(c, (gint64)m->ack_ms - 1,
					                                ci->end_ms)) {
						c->lost_service_up++;
						c->lost_service_up_max_age_ms =
						        MAX(c->lost_service_up_max_age_ms,
						            ci->end_ms - ((gint64)m->ack_ms - 1));
					}
					continue;
				}
				c->missing++;
				crash_violation(
				        c, CRASH_V_MISSING,
				        "topic %u: P%u S%u (%s, acknowledged at %.3f s by broker "
				        "instance %u, which was %s at %.3f s) is missing on "
				        "%s (first id %" G_GINT64_FORMAT ")",
				        t, p, s,
				        m->flags & CRASH_MSG_IMMEDIATE ? "persist_immediately"
				                                       : "eventual",
				        (m->ack_ms - 1) / 1000.0, m->instance,
				        ci->graceful ? "stopped" : "killed", ci->end_ms / 1000.0,
				        m->q[0].deliveries > 0   ? "queue q1"
				        : m->q[1].deliveries > 0 ? "queue q0"
				                                 : "both queues",
				        m->id);
			}
		}
		/* ids are never reused: one id, one content */
		g_array_sort(keys, crash_id_key_cmp);
		for (guint i = 1; i < keys->len; i++) {
			const CrashIdKey *a = &g_array_index(keys, CrashIdKey, i - 1);
			const CrashIdKey *b = &g_array_index(keys, CrashIdKey, i);

			if (a->id == b->id)
				crash_violation(c, CRASH_V_ID_REUSED,
				                "topic %u: id %" G_GINT64_FORMAT
				                " was given to P%u S%u and to P%u S%u",
				                t, a->id, a->pub, a->seq, b->pub, b->seq);
		}
	}
}

static void
crash_summary(Crash *c)
{
	GHashTableIter iter;
	gpointer key;
	gpointer value;

	g_print("\n== crash test summary ==\n");
	g_print("cycles: %u in %.1f s (kills: broker %u, service %u)\n", c->n_cycles,
	        crash_now_ms(c) / 1000.0, c->kills_broker, c->kills_service);
	for (guint k = 0; k < G_N_ELEMENTS(crash_kind_names); k++)
		g_print("  cycles that killed %s: %u\n", crash_kind_names[k], c->kills_by_kind[k]);
	g_print("messages: published %" G_GUINT64_FORMAT ", acknowledged %" G_GUINT64_FORMAT
	        " (persist_immediately %" G_GUINT64_FORMAT "), failed %" G_GUINT64_FORMAT "\n",
	        c->published, c->acked, c->acked_immediate, c->failed);
	g_hash_table_iter_init(&iter, c->errors);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_print("  publish errors \"%s\": %u\n", (const gchar *)key,
		        GPOINTER_TO_UINT(value));
	g_print("deliveries: %" G_GUINT64_FORMAT " messages, %" G_GUINT64_FORMAT
	        " confirmed (%" G_GUINT64_FORMAT " late), %" G_GUINT64_FORMAT
	        " batches failed on purpose, %" G_GUINT64_FORMAT " late confirmations dropped\n",
	        c->delivered, c->confirmed, c->late_confirms, c->failed_batches,
	        c->dropped_confirms);
	g_print("redeliveries: %" G_GUINT64_FORMAT " before any confirmation, %" G_GUINT64_FORMAT
	        " after a confirmation a crash came too early to save, %" G_GUINT64_FORMAT
	        " after a consumer's connection dropped\n",
	        c->redelivered_unconfirmed, c->redelivered_after_crash, c->redelivered_after_drop);
	g_print("confirmations that had to hold across a kill: %" G_GUINT64_FORMAT
	        " (the last one of each message and queue)\n",
	        c->confirms_across_kills);
	g_print("required to survive: %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
	        " of them acknowledged from memory, old enough at a kill); lost and allowed "
	        "(acknowledged from "
	        "memory too shortly before a kill): %" G_GUINT64_FORMAT " (oldest %" G_GINT64_FORMAT
	        " ms before its broker's kill); not acknowledged but "
	        "delivered: %" G_GUINT64_FORMAT "\n",
	        c->required, c->required_by_delay, c->lost_allowed, c->lost_max_age_ms,
	        c->unacked_delivered);
	g_print("lost and allowed with the service up from acknowledgement to kill: "
	        "%" G_GUINT64_FORMAT " (oldest %" G_GINT64_FORMAT " ms before the kill)\n",
	        c->lost_service_up, c->lost_service_up_max_age_ms);
	g_print("rules: EventuallyPersistenceDelay %d ms + slack %d ms (+ %d ms after a service "
	        "restart); confirmations settle in %d ms + %d ms\n",
	        c->delay_ms, c->slack_ms, c->reconnect_ms, SNAPSHOT_TICK_MS, c->confirm_slack_ms);
	g_print("missing: %" G_GUINT64_FORMAT "; duplicates after confirmation: %" G_GUINT64_FORMAT
	        "; violations: %" G_GUINT64_FORMAT "\n",
	        c->missing, c->duplicates_after_confirm, c->n_violations);
	for (guint k = 0; k < CRASH_V_KINDS; k++) {
		if (c->n_by_kind[k] > 0)
			g_print("  %s: %" G_GUINT64_FORMAT "\n", crash_violation_names[k],
			        c->n_by_kind[k]);
	}
	if (c->n_violations > 0) {
		g_print("violations (at most %d of each kind):\n", VIOLATIONS_SHOWN);
		for (guint i = 0; i < c->violations->len; i++)
			g_print("  %s\n", (const gchar *)g_ptr_array_index(c->violations, i));
	}
}

/* ---- set-up ---- */

static void
crash_setup(Crash *c)
{
	g_autofree gchar *settings = NULL;
	g_autofree gchar *delay = g_strdup_printf("%dms", c->delay_ms);
	g_autoptr(MsbClient) admin = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = NULL;
	g_autoptr(MsbPersistenceClient) pc = NULL;

	c->ps = ptest_service_new();
	crash_service_start(c);
	settings = g_strdup_printf("GrpcUrl: http://127.0.0.1:%u\n"
	                           "EventuallyPersistenceDelay: %s\n",
	                           c->ps->grpc_port, delay);
	c->b = itest_broker_new(settings);
	c->b->capture_log = TRUE;
	crash_broker_start(c);
	g_print("broker folder %s, service folder %s\n", c->b->dir, c->ps->dir);

	/* topics and permanent queues first, in a saved snapshot, so that every message
	 * published from now on belongs to every queue */
	admin = crash_client_new(c, "crash-admin");
	msb_client_set_auto_reconnect(admin, FALSE);
	if (!msb_client_connect_sync(admin, NULL, &error))
		g_error("connect: %s", error->message);
	for (guint t = 0; t < N_TOPICS; t++) {
		g_autofree gchar *topic = crash_topic_name(t);

		msb_client_create_topic(admin, topic, &error);
		g_assert_no_error(error);
	}
	for (guint t = 0; t < N_TOPICS; t++) {
		for (guint q = 0; q < N_QUEUES; q++) {
			for (guint k = 0; k < N_CONSUMERS_PER_QUEUE; k++) {
				CrashConsumer *cons = g_new0(CrashConsumer, 1);
				g_autofree gchar *topic = crash_topic_name(t);
				g_autofree gchar *queue = crash_queue_name(q);
				g_autofree gchar *name =
				        g_strdup_printf("crash-sub-%u-%u-%u", t, q, k);

				cons->crash = c;
				cons->topic = t;
				cons->queue = q;
				cons->unexpected_ms = g_array_new(FALSE, FALSE, sizeof(gint64));
				cons->client = crash_client_new(c, name);
				/* the topic exists: this client does not create it, so its
				 * subscription cannot recreate a topic lost by a bug */
				g_signal_connect(cons->client, "connected",
				                 G_CALLBACK(crash_consumer_connected_cb), cons);
				g_signal_connect(cons->client, "disconnected",
				                 G_CALLBACK(crash_consumer_disconnected_cb), cons);
				msb_client_subscribe(cons->client, topic, queue,
				                     MSB_CLIENT_QUEUE_PERMANENT, crash_delivery_cb,
				                     cons, NULL, &error);
				g_assert_no_error(error);
				if (!msb_client_connect_sync(cons->client, NULL, &error))
					g_error("connect: %s", error->message);
				g_ptr_array_add(c->consumers, cons);
			}
		}
	}
	itest_client_sync(admin);
	for (guint i = 0; i < c->consumers->len; i++)
		itest_client_sync(((CrashConsumer *)g_ptr_array_index(c->consumers, i))->client);
	target = ptest_service_target(c->ps);
	pc = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	for (guint t = 0; t < N_TOPICS; t++) {
		g_autofree gchar *topic = crash_topic_name(t);
		for (guint q = 0; q < N_QUEUES; q++) {
			g_autofree gchar *queue = crash_queue_name(q);
			dtest_wait_snapshot(pc, topic, queue, 0);
		}
	}
	msb_client_close(admin);

	for (gint i = 0; i < c->n_publishers; i++) {
		CrashPublisher *pub = g_new0(CrashPublisher, 1);
		g_autofree gchar *name = g_strdup_printf("crash-pub-%d", i);

		pub->crash = c;
		pub->index = (guint)i;
		pub->topic = (guint)i % N_TOPICS;
		/* per topic: immediate, eventual, then mixed */
		pub->mode = (i / N_TOPICS) % 3 == 0   ? CRASH_MODE_IMMEDIATE
		            : (i / N_TOPICS) % 3 == 1 ? CRASH_MODE_EVENTUAL
		                                      : CRASH_MODE_MIXED;
		pub->msgs = g_array_new(FALSE, TRUE, sizeof(CrashMsg));
		pub->client = crash_client_new(c, name);
		g_signal_connect(pub->client, "connected", G_CALLBACK(crash_connected_cb), pub);
		if (!msb_client_connect_sync(pub->client, NULL, &error))
			g_error("connect: %s", error->message);
		g_ptr_array_add(c->publishers, pub);
	}
	c->tick_id = g_timeout_add(20, crash_tick_cb, c);
}

static void
crash_free_parts(Crash *c)
{
	g_clear_handle_id(&c->tick_id, g_source_remove);
	c->closing = TRUE;
	for (guint i = 0; i < c->publishers->len; i++) {
		CrashPublisher *pub = g_ptr_array_index(c->publishers, i);
		msb_client_close(pub->client);
		g_object_unref(pub->client);
		g_array_unref(pub->msgs);
		g_free(pub);
	}
	for (guint i = 0; i < c->consumers->len; i++) {
		CrashConsumer *cons = g_ptr_array_index(c->consumers, i);
		msb_client_close(cons->client);
		g_object_unref(cons->client);
		g_array_unref(cons->unexpected_ms);
		g_free(cons);
	}
	/* late confirmations still queued let go of their deliveries */
	itest_run_for(350);
}

/* Stop both, move their folders (logs, data) aside for a look, free the rest. */
static void
crash_keep(Crash *c)
{
	g_autofree gchar *broker_dir = g_strconcat(c->b->dir, "-kept", NULL);
	g_autofree gchar *service_dir = g_strconcat(c->ps->dir, "-kept", NULL);

	itest_broker_stop(c->b, SIGTERM);
	ptest_service_stop(c->ps, SIGTERM);
	if (g_rename(c->b->dir, broker_dir) != 0 || g_rename(c->ps->dir, service_dir) != 0)
		g_error("cannot move the folders aside: %s", g_strerror(errno));
	g_print("kept for inspection: %s (broker.log) and %s (service.log, data)\n", broker_dir,
	        service_dir);
	itest_broker_free(c->b);
	ptest_service_free(c->ps);
}

static void
test_crash_random(gconstpointer data)
{
	Crash *c = (Crash *)data;
	gint64 deadline_ms = (gint64)c->seconds * 1000;

	crash_setup(c);
	while ((c->cycles <= 0 || c->n_cycles < (guint)c->cycles) &&
	       (c->seconds <= 0 || crash_now_ms(c) + c->max_run_ms + 2000 < deadline_ms))
		crash_cycle(c);
	crash_drain(c);
	crash_check(c);
	crash_summary(c);
	crash_free_parts(c);
	if (c->n_violations > 0 || c->keep) {
		/* main() exits 1: g_test_fail() would abort the program */
		crash_keep(c);
		return;
	}
	itest_broker_free(c->b);
	ptest_service_free(c->ps);
}

int
main(int argc, char **argv)
{
	Crash c = {0};
	gint64 seed = -1;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	int ret;
	GOptionEntry entries[] = {
	        {"cycles", 0, 0, G_OPTION_ARG_INT, &c.cycles, "Kill cycles (0: until --seconds)",
	         "N"},
	        {"seconds", 0, 0, G_OPTION_ARG_INT, &c.seconds,
	         "Stop starting cycles after about this long (0: no limit)", "S"},
	        {"crash-seed", 0, 0, G_OPTION_ARG_INT64, &seed,
	         "Random seed of the kills and the traffic (default: from the clock; --seed is "
	         "GLib's)",
	         "X"},
	        {"publishers", 0, 0, G_OPTION_ARG_INT, &c.n_publishers,
	         "Publishers (per topic: immediate, eventual, mixed, ...)", "N"},
	        {"rate", 0, 0, G_OPTION_ARG_INT, &c.rate, "Messages per second per publisher", "N"},
	        {"delay-ms", 0, 0, G_OPTION_ARG_INT, &c.delay_ms,
	         "The broker's EventuallyPersistenceDelay", "MS"},
	        {"slack-ms", 0, 0, G_OPTION_ARG_INT, &c.slack_ms,
	         "Allowance on top of the delay before an acknowledged message must survive", "MS"},
	        {"reconnect-ms", 0, 0, G_OPTION_ARG_INT, &c.reconnect_ms,
	         "Allowance for the broker to reach a restarted service", "MS"},
	        {"confirm-slack-ms", 0, 0, G_OPTION_ARG_INT, &c.confirm_slack_ms,
	         "Allowance on top of the 1 s snapshot tick before a confirmation must survive",
	         "MS"},
	        {"min-run-ms", 0, 0, G_OPTION_ARG_INT, &c.min_run_ms, "Shortest run between kills",
	         "MS"},
	        {"max-run-ms", 0, 0, G_OPTION_ARG_INT, &c.max_run_ms, "Longest run between kills",
	         "MS"},
	        {"max-down-ms", 0, 0, G_OPTION_ARG_INT, &c.max_down_ms,
	         "Longest time a killed process stays down", "MS"},
	        {"keep", 0, 0, G_OPTION_ARG_NONE, &c.keep,
	         "Keep the folders of both programs (logs, data) also when nothing failed", NULL},
	        {NULL},
	};

	c.cycles = 0;
	c.seconds = 60;
	c.n_publishers = 6;
	c.rate = 300;
	c.delay_ms = 200;
	c.slack_ms = 300;
	c.reconnect_ms = 3000;
	c.confirm_slack_ms = 1000;
	c.min_run_ms = 200;
	c.max_run_ms = 3000;
	c.max_down_ms = 500;

	/* ours first, so that --help shows them; GLib's test options stay for g_test_init() */
	context = g_option_context_new("- randomized crash test of the broker and its service");
	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_set_ignore_unknown_options(context, TRUE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		return 2;
	}
	dtest_init(&argc, &argv);
	/* the clients' debug messages would drown the summary */
	g_log_set_debug_enabled(FALSE);
	if (c.n_publishers < 1 || c.n_publishers > 60 || c.rate < 1 || c.delay_ms < 0 ||
	    c.slack_ms < 0 || c.reconnect_ms < 0 || c.confirm_slack_ms < 0 || c.min_run_ms < 0 ||
	    c.max_run_ms < c.min_run_ms || c.max_down_ms < 0) {
		g_printerr("invalid option values\n");
		return 2;
	}
	if (seed < 0)
		seed = g_get_real_time() % 1000000;
	g_print("seed %" G_GINT64_FORMAT " (rerun with --crash-seed %" G_GINT64_FORMAT ")\n", seed,
	        seed);
	c.rand = g_rand_new_with_seed((guint32)seed + 1);
	c.kill_rand = g_rand_new_with_seed((guint32)seed);
	c.t0_us = g_get_monotonic_time();
	c.instances = g_array_new(FALSE, FALSE, sizeof(CrashInstance));
	c.service = g_array_new(FALSE, FALSE, sizeof(CrashInterval));
	c.publishers = g_ptr_array_new();
	c.consumers = g_ptr_array_new();
	c.violations = g_ptr_array_new_with_free_func(g_free);
	c.errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	c.lost_max_age_ms = -1;
	c.lost_service_up_max_age_ms = -1;

	g_test_add_data_func("/crash/random", &c, test_crash_random);
	ret = g_test_run();
	if (ret == 0 && c.n_violations > 0)
		ret = 1;

	g_ptr_array_unref(c.publishers);
	g_ptr_array_unref(c.consumers);
	g_ptr_array_unref(c.violations);
	g_hash_table_unref(c.errors);
	g_array_unref(c.instances);
	g_array_unref(c.service);
	g_rand_free(c.rand);
	g_rand_free(c.kill_rand);
	ptest_shutdown();
	return ret;
}
