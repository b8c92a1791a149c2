/*
 * The status page and the metrics as text, from an MsbBrokerStats (see msb-status-render.h).
 *
 * The JSON keeps the field names and types of the reference broker's status API (node.md §6.4),
 * so that its UIs and the multi-environment dashboard read it; fields of ours ("persistence",
 * "state", "messagesPublished", …) come on top and never replace one of them. The subscriber's
 * "deliveryStateStr", the sessions' durations as text and the "system" memory are computed here,
 * the rest is copied.
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-status-render.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "msb-history.h" /* MSB_HISTORY_LEN */
#include "msb-types.h"   /* MsbSessionKind */
#include "msb-config.h"
#include "msb-metrics.h"

/* ---- /api/status ----
 *
 * Written straight into one buffer, in the layout json-glib's generator gives (no blanks): a
 * tree of JsonNodes for 100,000 topics costs seconds and hundreds of megabytes. Strings that
 * are plain printable ASCII (every topic name, and nearly every other string) are copied as they
 * are; any other string is escaped by json-glib itself, so the text stays what it was.
 */

typedef struct {
	GString *out;
	gboolean comma; /* a value was written at this level: the next one needs a ',' */
} MsbJson;

static void
msb_json_sep(MsbJson *j)
{
	if (j->comma)
		g_string_append_c(j->out, ',');
	j->comma = TRUE;
}

static void
msb_json_string(MsbJson *j, const gchar *value)
{
	if (value == NULL) {
		g_string_append(j->out, "null");
		return;
	}
	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
			g_autoptr(JsonNode) node = json_node_init_string(json_node_alloc(), value);
			g_autofree gchar *text = json_to_string(node, FALSE);
			g_string_append(j->out, text);
			return;
		}
	}
	g_string_append_c(j->out, '"');
	g_string_append(j->out, value);
	g_string_append_c(j->out, '"');
}

/* "name": — then the value. @name is one of our field names (plain ASCII, nothing to escape:
 * checking each of the page's million keys for escapes cost a tenth of the rendering). */
static void
msb_json_key(MsbJson *j, const gchar *name)
{
	msb_json_sep(j);
	g_string_append_c(j->out, '"');
	g_string_append(j->out, name);
	g_string_append_len(j->out, "\":", 2);
}

/* "text": for a key that is not ours (a topic name) */
static void
msb_json_key_escaped(MsbJson *j, const gchar *text)
{
	msb_json_sep(j);
	msb_json_string(j, text);
	g_string_append_c(j->out, ':');
}

static void
msb_json_begin(MsbJson *j, gchar bracket)
{
	g_string_append_c(j->out, bracket);
	j->comma = FALSE;
}

static void
msb_json_end(MsbJson *j, gchar bracket)
{
	g_string_append_c(j->out, bracket);
	j->comma = TRUE;
}

/* The digits of @value: the page holds hundreds of thousands of numbers, and printf costs more
 * than the rest of the rendering together. */
static void
msb_json_append_int(MsbJson *j, gint64 value)
{
	gchar buf[24];
	gchar *p = buf + sizeof(buf);
	guint64 u = value < 0 ? -(guint64)value : (guint64)value;

	do {
		*--p = (gchar)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (value < 0)
		*--p = '-';
	g_string_append_len(j->out, p, buf + sizeof(buf) - p);
}

static void
msb_json_int(MsbJson *j, const gchar *name, gint64 value)
{
	msb_json_key(j, name);
	msb_json_append_int(j, value);
}

static void
msb_json_str(MsbJson *j, const gchar *name, const gchar *value)
{
	msb_json_key(j, name);
	msb_json_string(j, value);
}

/* "name":[v,v,…] */
static void
msb_json_int_array(MsbJson *j, const gchar *name, const gint32 *values, guint n)
{
	msb_json_key(j, name);
	g_string_append_c(j->out, '[');
	for (guint i = 0; i < n; i++) {
		if (i > 0)
			g_string_append_c(j->out, ',');
		msb_json_append_int(j, values[i]);
	}
	g_string_append_c(j->out, ']');
}

static void
msb_json_bool(MsbJson *j, const gchar *name, gboolean value)
{
	msb_json_key(j, name);
	g_string_append(j->out, value ? "true" : "false");
}

/* One entry per cached page: amount, size, pending and the sub-pages (0–99) present. */
static void
msb_status_add_pages(MsbJson *j, const MsbBrokerStats *stats, const MsbTopicStats *topic)
{
	guint i = 0;

	msb_json_key(j, "pages");
	msb_json_begin(j, '[');
	while (i < topic->n_sub_pages) {
		gint64 page = msb_broker_stats_sub_page(stats, topic, i)->no / 100;
		gint64 amount = 0;
		gint64 size = 0;
		gint64 pending = 0;

		msb_json_sep(j);
		msb_json_begin(j, '{');
		msb_json_int(j, "id", page);
		msb_json_key(j, "subPages");
		msb_json_begin(j, '[');
		for (; i < topic->n_sub_pages; i++) {
			const MsbSubPageStats *sp = msb_broker_stats_sub_page(stats, topic, i);
			if (sp->no / 100 != page)
				break;
			amount += sp->amount;
			size += sp->size;
			pending += sp->pending;
			msb_json_sep(j);
			msb_json_append_int(j, sp->no % 100);
		}
		msb_json_end(j, ']');
		msb_json_int(j, "amount", amount);
		msb_json_int(j, "size", size);
		msb_json_int(j, "persist_size", pending);
		msb_json_end(j, '}');
	}
	msb_json_end(j, ']');
}

/* @history_limit: the most recent values of each latency history shown */
static void
msb_status_add_subscribers(MsbJson *j, const MsbBrokerStats *stats, const MsbTopicStats *topic,
                           guint history_limit)
{
	msb_json_key(j, "subscribers");
	msb_json_begin(j, '[');
	for (guint q = 0; q < topic->n_queues; q++) {
		const MsbQueueStats *queue = msb_broker_stats_queue(stats, topic, q);
		for (guint i = 0; i < queue->n_subscribers; i++) {
			const MsbSubscriberStats *sub =
			        msb_broker_stats_subscriber(stats, queue, i);
			g_autofree gchar *state_str = NULL;

			if (sub->on_delivery)
				state_str = g_strdup_printf("%.1fs %" G_GINT64_FORMAT,
				                            (gdouble)sub->busy_us / G_USEC_PER_SEC,
				                            sub->in_flight);
			msb_json_sep(j);
			msb_json_begin(j, '{');
			msb_json_int(j, "id", sub->id);
			msb_json_int(j, "sessionId", sub->session_id);
			msb_json_str(j, "queueId", queue->name);
			msb_json_int(j, "active", sub->active);
			/* the values the reference broker shows: 0 idle, 2 on delivery */
			msb_json_int(j, "deliveryState", sub->on_delivery ? 2 : 0);
			msb_json_str(j, "deliveryStateStr", state_str != NULL ? state_str : "Idle");
			guint n = MIN(sub->n_history, history_limit);
			msb_json_int_array(j, "history",
			                   msb_broker_stats_history(stats, sub->first_history) +
			                           (sub->n_history - n),
			                   n);
			msb_json_end(j, '}');
		}
	}
	msb_json_end(j, ']');
}

static void
msb_status_add_publishers(MsbJson *j, const MsbBrokerStats *stats, const MsbTopicStats *topic)
{
	msb_json_key(j, "publishers");
	msb_json_begin(j, '[');
	for (guint i = 0; i < topic->n_publishers; i++) {
		const MsbPublisherStats *pub = msb_broker_stats_publisher(stats, topic, i);
		msb_json_sep(j);
		msb_json_begin(j, '{');
		msb_json_int(j, "sessionId", pub->session_id);
		msb_json_int(j, "active", pub->active);
		msb_json_end(j, '}');
	}
	msb_json_end(j, ']');
}

static void
msb_status_add_range(MsbJson *j, gint64 from, gint64 to)
{
	msb_json_sep(j);
	msb_json_begin(j, '{');
	msb_json_int(j, "fromId", from);
	msb_json_int(j, "toId", to);
	msb_json_end(j, '}');
}

static void
msb_status_add_queue(MsbJson *j, const MsbBrokerStats *stats, const MsbQueueStats *queue)
{
	msb_json_sep(j);
	msb_json_begin(j, '{');
	msb_json_str(j, "id", queue->name);
	msb_json_int(j, "queueType", queue->type);
	msb_json_int(j, "size", queue->waiting);
	msb_json_int(j, "onDelivery", queue->in_flight);
	msb_json_int(j, "subscribers", queue->n_subscribers);
	msb_json_key(j, "data");
	msb_json_begin(j, '[');
	/* the empty-range form: {cursor, cursor - 1} (node.md §2.4) */
	if (queue->n_ranges == 0)
		msb_status_add_range(j, queue->cursor, queue->cursor - 1);
	for (guint i = 0; i < queue->n_ranges; i++) {
		const MsbIdRange *r = msb_broker_stats_range(stats, queue, i);
		msb_status_add_range(j, r->from, r->to);
	}
	msb_json_end(j, ']');
	msb_json_end(j, '}');
}

static void
msb_status_add_system(MsbJson *j)
{
	g_autofree gchar *meminfo = NULL;
	gint64 total_kb = 0;
	gint64 avail_kb = 0;

	if (g_file_get_contents("/proc/meminfo", &meminfo, NULL, NULL)) {
		g_auto(GStrv) lines = g_strsplit(meminfo, "\n", -1);
		for (guint i = 0; lines[i] != NULL; i++) {
			if (g_str_has_prefix(lines[i], "MemTotal:"))
				total_kb = g_ascii_strtoll(lines[i] + 9, NULL, 10);
			else if (g_str_has_prefix(lines[i], "MemAvailable:"))
				avail_kb = g_ascii_strtoll(lines[i] + 13, NULL, 10);
		}
	}
	msb_json_key(j, "system");
	msb_json_begin(j, '{');
	msb_json_int(j, "usedmem", (total_kb - avail_kb) * 1024);
	msb_json_int(j, "totalmem", total_kb * 1024);
	msb_json_end(j, '}');
}

gchar *
msb_status_format_duration(gint64 us)
{
	gint64 secs;
	gint64 rest; /* below the unit, in ns */
	const gchar *unit;
	gint digits; /* of rest */
	GString *out;

	us = MAX(us, 0);
	secs = us / G_USEC_PER_SEC;
	if (secs >= 60) {
		gint64 days = secs / 86400;
		if (days > 0)
			return g_strdup_printf("%" G_GINT64_FORMAT "d:%02d:%02d:%02d", days,
			                       (gint)(secs / 3600 % 24), (gint)(secs / 60 % 60),
			                       (gint)(secs % 60));
		return g_strdup_printf("%02d:%02d:%02d", (gint)(secs / 3600),
		                       (gint)(secs / 60 % 60), (gint)(secs % 60));
	}
	/* Rust's Debug for Duration: the largest unit that is not 0, and the digits below it
	 * without trailing zeros ("12.3456s", "1.5ms", "250µs", "0ns") */
	if (secs > 0) {
		out = g_string_new(NULL);
		g_string_printf(out, "%" G_GINT64_FORMAT, secs);
		rest = us % G_USEC_PER_SEC * 1000;
		digits = 9;
		unit = "s";
	} else if (us >= 1000) {
		out = g_string_new(NULL);
		g_string_printf(out, "%" G_GINT64_FORMAT, us / 1000);
		rest = us % 1000 * 1000;
		digits = 6;
		unit = "ms";
	} else {
		return g_strdup_printf("%" G_GINT64_FORMAT "%s", us, us > 0 ? "µs" : "ns");
	}
	if (rest > 0) {
		g_autofree gchar *frac = g_strdup_printf("%0*" G_GINT64_FORMAT, digits, rest);
		gsize len = strlen(frac);
		while (len > 0 && frac[len - 1] == '0')
			len--;
		g_string_append_c(out, '.');
		g_string_append_len(out, frac, (gssize)len);
	}
	g_string_append(out, unit);
	return g_string_free(out, FALSE);
}

/* "tcp[P]" (a Unix socket is a TCP-protocol connection too) or "http" */
static gchar *
msb_status_session_type(const MsbSessionStats *session)
{
	if (session->kind == MSB_SESSION_KIND_HTTP)
		return g_strdup("http");
	return g_strdup_printf("tcp[%d]", session->protocol_version);
}

/* The index in @stats of every topic of @namespace_name, in name order. */
static GArray *
msb_status_namespace_topics(const MsbBrokerStats *stats, const gchar *namespace_name)
{
	GArray *topics = g_array_sized_new(FALSE, FALSE, sizeof(guint), stats->topics->len);

	for (guint t = 0; t < stats->topics->len; t++) {
		if (g_strcmp0(msb_broker_stats_topic(stats, t)->namespace_name, namespace_name) ==
		    0)
			g_array_append_val(topics, t);
	}
	return topics;
}

/* How many values of each subscriber's latency history a page of these topics shows. */
static guint
msb_status_history_limit(const MsbBrokerStats *stats, const GArray *topics)
{
	guint n_subscribers = 0;

	for (guint i = 0; i < topics->len; i++) {
		const MsbTopicStats *topic =
		        msb_broker_stats_topic(stats, g_array_index(topics, guint, i));
		for (guint q = 0; q < topic->n_queues; q++)
			n_subscribers += msb_broker_stats_queue(stats, topic, q)->n_subscribers;
	}
	if (n_subscribers == 0)
		return MSB_HISTORY_LEN;
	return CLAMP(MSB_STATUS_SUBSCRIBER_HISTORY_BUDGET / n_subscribers, 1, MSB_HISTORY_LEN);
}

static void
msb_status_add_session(MsbJson *j, const MsbSessionStats *session)
{
	g_autofree gchar *type = msb_status_session_type(session);
	g_autofree gchar *connected = msb_status_format_duration(session->connected_us);
	/* never sent anything: as long as it has been connected */
	g_autofree gchar *last_incoming = msb_status_format_duration(
	        session->last_incoming_us >= 0 ? session->last_incoming_us : session->connected_us);

	msb_json_sep(j);
	msb_json_begin(j, '{');
	msb_json_int(j, "id", session->id);
	msb_json_str(j, "name", session->name);
	msb_json_str(j, "namespace", session->namespace_name);
	msb_json_str(j, "type", type);
	msb_json_str(j, "ip", session->peer);
	msb_json_str(j, "version", session->version);
	msb_json_str(j, "envInfo", session->env_info);
	msb_json_str(j, "connected", connected);
	msb_json_str(j, "lastIncoming", last_incoming);
	msb_json_int(j, "readSize", (gint64)session->read_bytes);
	msb_json_int(j, "writtenSize", (gint64)session->written_bytes);
	msb_json_int(j, "readPerSec", session->read_per_sec);
	msb_json_int(j, "writtenPerSec", session->written_per_sec);
	msb_json_int(j, "publishes", (gint64)session->publishes);
	msb_json_end(j, '}');
}

/*
 * The members of node.md §6.4 for @topics (indices into @stats, in the order shown) and the
 * sessions in @sessions (ids; NULL: every session), without the closing brace, so that a caller
 * may add members of its own.
 */
static void
msb_status_write(MsbJson *j, const MsbBrokerStats *stats, const MsbHttpInfo *info,
                 const GArray *topics, GHashTable *sessions, guint history_limit)
{
	gint64 generation = (gint64)stats->generation;

	msb_json_begin(j, '{');

	msb_json_key(j, "topics");
	msb_json_begin(j, '{');
	msb_json_int(j, "snapshotId", generation);
	msb_json_key(j, "items");
	msb_json_begin(j, '[');
	for (guint i = 0; i < topics->len; i++) {
		const MsbTopicStats *topic =
		        msb_broker_stats_topic(stats, g_array_index(topics, guint, i));
		msb_json_sep(j);
		msb_json_begin(j, '{');
		msb_json_str(j, "id", topic->name);
		msb_json_int(j, "messageId", topic->next_id);
		msb_json_int(j, "packetPerSec", topic->packets_per_sec);
		msb_json_int(j, "messagesPerSec", topic->messages_per_sec);
		msb_json_int(j, "meanMessageSize", topic->mean_message_size);
		msb_json_int(j, "persistSize", topic->pending_count);
		msb_json_int_array(j, "publishHistory",
		                   msb_broker_stats_history(stats, topic->first_history),
		                   topic->n_history);
		msb_status_add_pages(j, stats, topic);
		msb_status_add_publishers(j, stats, topic);
		msb_status_add_subscribers(j, stats, topic, history_limit);
		msb_json_bool(j, "persist", topic->persist);
		msb_json_int(j, "deleted", topic->deleted_us);
		msb_json_int(j, "messagesPublished", (gint64)topic->messages_published);
		msb_json_int(j, "messagesLost", (gint64)topic->messages_lost);
		msb_json_end(j, '}');
	}
	msb_json_end(j, ']');
	msb_json_end(j, '}');

	msb_json_key(j, "queues");
	msb_json_begin(j, '{');
	for (guint i = 0; i < topics->len; i++) {
		const MsbTopicStats *topic =
		        msb_broker_stats_topic(stats, g_array_index(topics, guint, i));
		msb_json_key_escaped(j, topic->name);
		msb_json_begin(j, '{');
		msb_json_int(j, "snapshotId", generation);
		msb_json_key(j, "queues");
		msb_json_begin(j, '[');
		for (guint q = 0; q < topic->n_queues; q++)
			msb_status_add_queue(j, stats, msb_broker_stats_queue(stats, topic, q));
		msb_json_end(j, ']');
		msb_json_end(j, '}');
	}
	msb_json_end(j, '}');

	msb_json_key(j, "sessions");
	msb_json_begin(j, '{');
	msb_json_int(j, "snapshotId", generation);
	msb_json_key(j, "items");
	msb_json_begin(j, '[');
	for (guint i = 0; i < stats->sessions->len; i++) {
		const MsbSessionStats *session = msb_broker_stats_session(stats, i);
		if (sessions == NULL || g_hash_table_contains(sessions, &session->id))
			msb_status_add_session(j, session);
	}
	msb_json_end(j, ']');
	msb_json_end(j, '}');

	msb_status_add_system(j);
	/* a string for the UIs that read it as one; "" until the service told us (or in memory) */
	msb_json_str(j, "persistenceVersion",
	             info->persistence_version != NULL ? info->persistence_version : "");
	msb_json_str(j, "version", MSB_VERSION);
	/* node.md §6.4: only while delivery tracing is on */
	if (stats->debug != NULL)
		msb_json_str(j, "debug", stats->debug);
	msb_json_str(j, "state", info->state);

	msb_json_key(j, "persistence");
	msb_json_begin(j, '{');
	msb_json_str(j, "url", info->persistence_url);
	msb_json_bool(j, "up", info->persistence_up);
	msb_json_str(j, "lastError", info->persistence_error);
	msb_json_int(j, "pendingMessages", stats->pending_count);
	msb_json_int(j, "pendingBytes", stats->pending_bytes);
	msb_json_int(j, "oldestPendingAgeMs", info->oldest_pending_age_us / 1000);
	msb_json_int(j, "saves", (gint64)info->saves);
	msb_json_int(j, "saveFailures", (gint64)info->save_failures);
	msb_json_int(j, "loads", (gint64)info->loads);
	msb_json_int(j, "loadFailures", (gint64)info->load_failures);
	msb_json_int(j, "damagedLoads", (gint64)info->damaged_loads);
	msb_json_int(j, "snapshots", (gint64)info->snapshots);
	msb_json_int(j, "snapshotFailures", (gint64)info->snapshot_failures);
	msb_json_end(j, '}');
}

static GBytes *
msb_json_free_to_bytes(MsbJson *j)
{
	gsize len = j->out->len;
	return g_bytes_new_take(g_string_free(j->out, FALSE), len);
}

GBytes *
msb_status_render_json(const MsbBrokerStats *stats, const MsbHttpInfo *info,
                       const gchar *namespace_name)
{
	/* about 250 bytes per topic with no queue, 110 per queue and per subscriber (twice: in its
	 * topic and in the queues) and 3 per history value */
	MsbJson json = {g_string_sized_new(4096 + (gsize)stats->topics->len * 256 +
	                                   (gsize)stats->queues->len * 110 +
	                                   (gsize)stats->subscribers->len * 110 +
	                                   (gsize)stats->history->len * 3),
	                FALSE};
	g_autoptr(GArray) topics = msb_status_namespace_topics(stats, namespace_name);

	msb_status_write(&json, stats, info, topics, NULL, msb_status_history_limit(stats, topics));
	msb_json_end(&json, '}');
	return msb_json_free_to_bytes(&json);
}

/* ---- /api/Status/First: the first screen of the UI ---- */

gboolean
msb_status_sort_from_string(const gchar *text, MsbStatusSort *out)
{
	static const gchar *const names[] = {"name", "rate", "waiting", "persist"};

	g_return_val_if_fail(out != NULL, FALSE);
	for (guint i = 0; text != NULL && i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(text, names[i]) == 0) {
			*out = (MsbStatusSort)i;
			return TRUE;
		}
	}
	return FALSE;
}

static gint64
msb_status_topic_waiting(const MsbBrokerStats *stats, const MsbTopicStats *topic)
{
	gint64 waiting = 0;

	for (guint q = 0; q < topic->n_queues; q++)
		waiting += msb_broker_stats_queue(stats, topic, q)->waiting;
	return waiting;
}

typedef struct {
	guint index;
	gint64 key; /* larger first; ties in name order (the index) */
} MsbStatusSortEntry;

static gint
msb_status_sort_entry_cmp(gconstpointer a, gconstpointer b)
{
	const MsbStatusSortEntry *x = a;
	const MsbStatusSortEntry *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

typedef struct {
	const gchar *topic;
	const gchar *queue;
	gint64 size;
} MsbStatusProblem;

static gint
msb_status_problem_cmp(gconstpointer a, gconstpointer b)
{
	const MsbStatusProblem *x = a;
	const MsbStatusProblem *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return 0;
}

GBytes *
msb_status_render_json_first(const MsbBrokerStats *stats, const MsbHttpInfo *info,
                             const gchar *namespace_name, guint max_topics, MsbStatusSort sort)
{
	MsbJson json = {NULL, FALSE};
	MsbJson *j = &json;
	g_autoptr(GArray) all = NULL;
	g_autoptr(GArray) shown = NULL;
	g_autoptr(GArray) problems = NULL;
	g_autoptr(GHashTable) sessions = NULL;
	gint64 msgs = 0, packets = 0, persist = 0, waiting = 0, cached = 0, pages = 0;
	gint64 read_rate = 0, write_rate = 0;

	g_return_val_if_fail(stats != NULL, NULL);
	g_return_val_if_fail(info != NULL, NULL);
	g_return_val_if_fail(max_topics > 0, NULL);

	/* about 1 KB a topic with its queues; the whole page's estimate is in the function above */
	json.out = g_string_sized_new(4096 + (gsize)MIN(max_topics, stats->topics->len) * 1024);
	all = msb_status_namespace_topics(stats, namespace_name);
	shown = g_array_new(FALSE, FALSE, sizeof(guint));
	problems = g_array_new(FALSE, FALSE, sizeof(MsbStatusProblem));
	sessions = g_hash_table_new(g_int64_hash, g_int64_equal);

	/* the totals over the whole namespace, as the UI adds them up from a whole status */
	for (guint i = 0; i < all->len; i++) {
		const MsbTopicStats *topic =
		        msb_broker_stats_topic(stats, g_array_index(all, guint, i));
		gint64 last_page = -1;
		msgs += topic->messages_per_sec;
		packets += topic->packets_per_sec;
		persist += topic->pending_count;
		for (guint p = 0; p < topic->n_sub_pages; p++) {
			const MsbSubPageStats *sp = msb_broker_stats_sub_page(stats, topic, p);
			cached += sp->size;
			if (sp->no / 100 != last_page)
				pages++;
			last_page = sp->no / 100;
		}
		for (guint q = 0; q < topic->n_queues; q++) {
			const MsbQueueStats *queue = msb_broker_stats_queue(stats, topic, q);
			waiting += queue->waiting;
			if (queue->waiting > MSB_STATUS_PROBLEM_WAITING) {
				MsbStatusProblem problem = {topic->name, queue->name,
				                            queue->waiting};
				g_array_append_val(problems, problem);
			}
		}
	}
	for (guint i = 0; i < stats->sessions->len; i++) {
		read_rate += msb_broker_stats_session(stats, i)->read_per_sec;
		write_rate += msb_broker_stats_session(stats, i)->written_per_sec;
	}
	g_array_sort(problems, msb_status_problem_cmp);

	/* the first @max_topics in the UI's order */
	if (sort == MSB_STATUS_SORT_NAME) {
		g_array_append_vals(shown, all->data, MIN(all->len, max_topics));
	} else {
		g_autoptr(GArray) order =
		        g_array_sized_new(FALSE, FALSE, sizeof(MsbStatusSortEntry), all->len);
		for (guint i = 0; i < all->len; i++) {
			guint t = g_array_index(all, guint, i);
			const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
			MsbStatusSortEntry e = {t, 0};
			if (sort == MSB_STATUS_SORT_RATE)
				e.key = topic->messages_per_sec;
			else if (sort == MSB_STATUS_SORT_WAITING)
				e.key = msb_status_topic_waiting(stats, topic);
			else
				e.key = topic->pending_count;
			g_array_append_val(order, e);
		}
		g_array_sort(order, msb_status_sort_entry_cmp);
		for (guint i = 0; i < order->len && i < max_topics; i++)
			g_array_append_val(shown,
			                   g_array_index(order, MsbStatusSortEntry, i).index);
	}

	/* the sessions those topics name: their publishers' and subscribers' */
	for (guint i = 0; i < shown->len; i++) {
		const MsbTopicStats *topic =
		        msb_broker_stats_topic(stats, g_array_index(shown, guint, i));
		for (guint p = 0; p < topic->n_publishers; p++) {
			const MsbPublisherStats *pub = msb_broker_stats_publisher(stats, topic, p);
			g_hash_table_add(sessions, (gpointer)&pub->session_id);
		}
		for (guint q = 0; q < topic->n_queues; q++) {
			const MsbQueueStats *queue = msb_broker_stats_queue(stats, topic, q);
			for (guint s = 0; s < queue->n_subscribers; s++)
				g_hash_table_add(sessions, (gpointer)&msb_broker_stats_subscriber(
				                                   stats, queue, s)
				                                   ->session_id);
		}
	}

	/* the history limit of the whole page, so that the rows show what the whole page shows */
	msb_status_write(j, stats, info, shown, sessions, msb_status_history_limit(stats, all));

	msb_json_key(j, "summary");
	msb_json_begin(j, '{');
	msb_json_int(j, "topics", all->len);
	msb_json_int(j, "sessions", stats->sessions->len);
	msb_json_int(j, "messagesPerSec", msgs);
	msb_json_int(j, "packetPerSec", packets);
	msb_json_int(j, "persistSize", persist);
	msb_json_int(j, "waiting", waiting);
	msb_json_int(j, "cachedBytes", cached);
	msb_json_int(j, "pages", pages);
	msb_json_int(j, "readPerSec", read_rate);
	msb_json_int(j, "writtenPerSec", write_rate);
	msb_json_int(j, "problemQueues", problems->len);
	msb_json_key(j, "problems");
	msb_json_begin(j, '[');
	for (guint i = 0; i < problems->len && i < MSB_STATUS_FIRST_PROBLEMS; i++) {
		const MsbStatusProblem *p = &g_array_index(problems, MsbStatusProblem, i);
		msb_json_sep(j);
		msb_json_begin(j, '{');
		msb_json_str(j, "topic", p->topic);
		msb_json_str(j, "queue", p->queue);
		msb_json_int(j, "size", p->size);
		msb_json_end(j, '}');
	}
	msb_json_end(j, ']');
	msb_json_end(j, '}');

	msb_json_end(j, '}');
	return msb_json_free_to_bytes(j);
}

/* ---- /metrics ----
 *
 * Every family is written whole (HELP, TYPE, then all its samples), from the copy: a topic or
 * queue that is gone is simply not in it, so its series disappear. Topic metrics carry the
 * namespace label of the reference broker 2.8 (only "default" exists here).
 */

/* "name{namespace="default",topic="…"" — the caller adds more labels or the closing brace */
static void
msb_metrics_topic_begin(GString *out, const gchar *name, const MsbTopicStats *topic)
{
	g_string_append_printf(out, "%s{namespace=\"default\",topic=\"", name);
	msb_metrics_append_label(out, topic->name);
	g_string_append_c(out, '"');
}

typedef gint64 (*MsbTopicValueFunc)(const MsbTopicStats *topic);

/* one sample per topic: name{namespace="default",topic="..."} value, from a field or @func */
static void
msb_metrics_topic_family(GString *out, const MsbBrokerStats *stats, const gchar *name,
                         const gchar *type, const gchar *help, gsize offset, MsbTopicValueFunc func)
{
	msb_metrics_header(out, name, type, help);
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		gint64 value = func != NULL ? func(topic) : G_STRUCT_MEMBER(gint64, topic, offset);
		msb_metrics_topic_begin(out, name, topic);
		g_string_append_printf(out, "} %" G_GINT64_FORMAT "\n", value);
	}
}

#define MSB_TOPIC_FIELD(field) G_STRUCT_OFFSET(MsbTopicStats, field), NULL

static gint64
msb_metrics_queue_waiting(const MsbQueueStats *queue)
{
	return queue->waiting;
}

static gint64
msb_metrics_queue_in_flight(const MsbQueueStats *queue)
{
	return queue->in_flight;
}

static gint64
msb_metrics_queue_subscribers(const MsbQueueStats *queue)
{
	return queue->n_subscribers;
}

typedef gint64 (*MsbQueueValueFunc)(const MsbQueueStats *queue);

/* one sample per queue: name{namespace,topic,queue} value */
static void
msb_metrics_queue_family(GString *out, const MsbBrokerStats *stats, const gchar *name,
                         const gchar *help, MsbQueueValueFunc func)
{
	msb_metrics_header(out, name, "gauge", help);
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		for (guint q = 0; q < topic->n_queues; q++) {
			const MsbQueueStats *queue = msb_broker_stats_queue(stats, topic, q);
			msb_metrics_topic_begin(out, name, topic);
			g_string_append(out, ",queue=\"");
			msb_metrics_append_label(out, queue->name);
			g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n", func(queue));
		}
	}
}

/* Header plus one sample without labels: @us microseconds, in seconds. */
static void
msb_status_render_seconds(GString *out, const gchar *name, const gchar *type, const gchar *help,
                          gint64 us)
{
	msb_metrics_header(out, name, type, help);
	g_string_append_printf(out, "%s ", name);
	msb_metrics_append_double(out, (gdouble)us / G_USEC_PER_SEC);
	g_string_append_c(out, '\n');
}

GBytes *
msb_status_render_metrics(const MsbBrokerStats *stats, const MsbHttpInfo *info)
{
	/* measured: about 700 bytes per topic and 330 per queue */
	GString *out =
	        g_string_sized_new(8192 + stats->topics->len * 768 + stats->queues->len * 384);
	static const gchar *const kinds[] = {"tcp", "unix", "http"};
	static const gchar *const tcp_metrics[] = {"count", "ping_threads", "read_threads",
	                                           "connection_objects"};
	guint64 by_kind[G_N_ELEMENTS(kinds)] = {0};
	gint64 permanent_without_subscribers = 0;
	gint64 topics_without_queues = 0;
	gsize len;

	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		if (topic->n_queues == 0)
			topics_without_queues++;
		for (guint q = 0; q < topic->n_queues; q++) {
			const MsbQueueStats *queue = msb_broker_stats_queue(stats, topic, q);
			if ((queue->type & MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT) == 0 &&
			    queue->n_subscribers == 0)
				permanent_without_subscribers++;
		}
	}
	for (guint i = 0; i < stats->sessions->len; i++) {
		const MsbSessionStats *session = msb_broker_stats_session(stats, i);
		if (session->kind >= 0 && (guint)session->kind < G_N_ELEMENTS(kinds))
			by_kind[session->kind]++;
	}

	/* node.md §7, as the reference broker names them */
	msb_metrics_queue_family(out, stats, "topic_queue_size",
	                         "Messages waiting in a queue (not counting those in flight)",
	                         msb_metrics_queue_waiting);
	msb_metrics_topic_family(out, stats, "topic_persist_queue_size", "gauge",
	                         "Messages of the topic waiting to be saved",
	                         MSB_TOPIC_FIELD(pending_count));
	msb_metrics_topic_family(out, stats, "topic_data_size", "gauge",
	                         "Bytes of message content in memory",
	                         MSB_TOPIC_FIELD(cached_bytes));
	msb_metrics_topic_family(out, stats, "topic_messages_amount", "gauge", "Messages in memory",
	                         MSB_TOPIC_FIELD(cached_messages));
	msb_metrics_topic_family(out, stats, "topic_mean_message_size", "gauge",
	                         "Mean content size of the messages published since the start",
	                         MSB_TOPIC_FIELD(mean_message_size));
	msb_metrics_value(out, "permanent_queues_without_subscribers", "gauge",
	                  "Permanent queues with no subscriber",
	                  (guint64)permanent_without_subscribers);
	msb_metrics_value(out, "topics_without_queues", "gauge", "Topics with no queue",
	                  (guint64)topics_without_queues);
	msb_metrics_value(out, "http_connections_amount", "gauge",
	                  "Open connections to the HTTP port", info->http_connections);
	/* no thread per connection here: one read watch each, idle deadlines kept by the 1 s
	 * timer; the reference broker's task counters are all the connection count */
	msb_metrics_header(out, "tcp_connections", "gauge",
	                   "Client connections (count); the other tcp_metric values are the "
	                   "reference broker's per-connection task counters, the same here");
	for (guint i = 0; i < G_N_ELEMENTS(tcp_metrics); i++)
		g_string_append_printf(out, "tcp_connections{tcp_metric=\"%s\"} %u\n",
		                       tcp_metrics[i], info->tcp_connections);

	/* ours */
	msb_metrics_topic_family(out, stats, "topic_next_message_id", "gauge",
	                         "The id the next message of the topic gets",
	                         MSB_TOPIC_FIELD(next_id));
	msb_metrics_topic_family(out, stats, "msb_topic_messages_published_total", "counter",
	                         "Messages published to the topic since the start",
	                         MSB_TOPIC_FIELD(messages_published));
	msb_metrics_topic_family(out, stats, "msb_topic_published_bytes_total", "counter",
	                         "Content bytes published to the topic since the start",
	                         MSB_TOPIC_FIELD(published_bytes));
	msb_metrics_topic_family(out, stats, "msb_topic_messages_delivered_total", "counter",
	                         "Messages a subscriber confirmed since the start (each queue "
	                         "counts its own)",
	                         MSB_TOPIC_FIELD(messages_delivered));
	msb_metrics_topic_family(out, stats, "msb_topic_messages_redelivered_total", "counter",
	                         "Messages sent again after a failed or unconfirmed delivery",
	                         MSB_TOPIC_FIELD(messages_redelivered));
	msb_metrics_topic_family(out, stats, "msb_messages_lost_total", "counter",
	                         "Messages queues waited for that persistence reported damaged "
	                         "and that were skipped (OnDamagedMessages: skip)",
	                         MSB_TOPIC_FIELD(messages_lost));
	msb_metrics_queue_family(out, stats, "msb_queue_in_flight",
	                         "Messages of the queue delivered and not confirmed yet",
	                         msb_metrics_queue_in_flight);
	msb_metrics_queue_family(out, stats, "msb_queue_subscribers", "Subscribers of the queue",
	                         msb_metrics_queue_subscribers);
	msb_metrics_header(out, "msb_connections", "gauge",
	                   "Client sessions by how they are connected: tcp and unix (binary "
	                   "protocol sockets), http (HTTP publisher and subscriber sessions)");
	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++)
		g_string_append_printf(out, "msb_connections{kind=\"%s\"} %" G_GUINT64_FORMAT "\n",
		                       kinds[i], by_kind[i]);
	msb_metrics_histogram(out, "msb_delivery_latency_seconds",
	                      "From sending a batch to a subscriber to the confirmation that "
	                      "ends it",
	                      TRUE, NULL, &stats->delivery_latency);
	msb_metrics_header(out, "msb_build_info", "gauge", "Always 1; the version as a label");
	g_string_append(out, "msb_build_info{version=\"");
	msb_metrics_append_label(out, MSB_VERSION);
	g_string_append(out, "\"} 1\n");
	msb_metrics_value(out, "msb_up", "gauge",
	                  "1 once topics and queues are restored and clients served",
	                  g_strcmp0(info->state, "running") == 0);

	msb_metrics_value(out, "msb_persistence_enabled", "gauge",
	                  "1 when the broker saves to a persistence service (GrpcUrl)",
	                  info->persistence_url != NULL ? 1 : 0);
	msb_metrics_value(out, "msb_persistence_up", "gauge",
	                  "1 while the persistence service answers (always 0 in memory)",
	                  info->persistence_up ? 1 : 0);
	msb_metrics_value(out, "msb_persistence_pending_messages", "gauge",
	                  "Messages waiting to be saved", (guint64)stats->pending_count);
	msb_metrics_value(out, "msb_persistence_pending_bytes", "gauge",
	                  "Content bytes waiting to be saved", (guint64)stats->pending_bytes);
	msb_status_render_seconds(out, "msb_persistence_oldest_pending_seconds", "gauge",
	                          "How long the oldest unsaved message has waited",
	                          info->oldest_pending_age_us);
	msb_metrics_value(out, "msb_persistence_saves_total", "counter",
	                  "Message saves acknowledged", info->saves);
	msb_metrics_value(out, "msb_persistence_save_failures_total", "counter",
	                  "Message saves that failed", info->save_failures);
	msb_metrics_histogram(out, "msb_persistence_save_latency_seconds",
	                      "From handing a save to the persistence client to its "
	                      "acknowledgement",
	                      TRUE, NULL, &info->save_latency);
	msb_metrics_value(out, "msb_persistence_loads_total", "counter", "Sub-pages loaded back",
	                  info->loads);
	msb_metrics_value(out, "msb_persistence_load_failures_total", "counter",
	                  "Sub-page loads that failed", info->load_failures);
	msb_metrics_value(out, "msb_persistence_damaged_loads_total", "counter",
	                  "Sub-page loads the service answered with DATA_LOSS (damaged on disk)",
	                  info->damaged_loads);
	msb_metrics_value(out, "msb_persistence_snapshots_total", "counter",
	                  "Queue snapshots saved", info->snapshots);
	msb_metrics_value(out, "msb_persistence_snapshot_failures_total", "counter",
	                  "Queue snapshot saves that failed", info->snapshot_failures);
	msb_metrics_value(out, "msb_stats_collections_total", "counter",
	                  "Collections of the whole state made for the status page, metrics, the "
	                  "live UI and D-Bus",
	                  info->stats_collections);
	msb_metrics_histogram(out, "msb_stats_collect_slice_seconds",
	                      "Main-loop time of each slice of those collections (message service "
	                      "waits behind a slice; _sum is their whole main-loop time)",
	                      TRUE, NULL, &info->stats_slices);
	msb_status_render_seconds(out, "msb_stats_collect_slice_max_seconds", "gauge",
	                          "The longest such slice since the start",
	                          info->stats_slice_max_us);
	msb_status_render_seconds(out, "msb_stats_collect_cpu_seconds_total", "counter",
	                          "The main thread's CPU time in those slices (not inflated by "
	                          "preemption, unlike their durations)",
	                          info->stats_cpu_us);
	msb_status_render_seconds(out, "msb_stats_collect_slice_cpu_max_seconds", "gauge",
	                          "The most CPU time one such slice took since the start",
	                          info->stats_slice_cpu_max_us);
	msb_metrics_process(out);
	len = out->len;
	return g_bytes_new_take(g_string_free(out, FALSE), len);
}
