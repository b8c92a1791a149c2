/*
 * Restoring many topics after a crash, with the real broker and the real persistence service.
 *
 * The service is given what a crash leaves behind for 200 topics: a snapshot whose message id R
 * of each topic is a reservation, and the messages saved. Each topic differs from its neighbours
 * (how many messages, where the snapshot was taken, which ids the queues wait for) and is one of:
 * ids reserved and never published above the last message (phantoms), the same with the window
 * walked over full sub-pages, a graceful stop (nothing reserved), a message stored far above the
 * others in the reserved range (a hole), messages saved after the snapshot above R, and a topic
 * without queues. The broker restores them probing several topics at once; every topic's id
 * counter and every queue's ranges must be exactly what that topic alone gives, so that an answer
 * applied to the wrong topic shows. Then the broker is killed with SIGKILL after it saved its own
 * snapshot and started again, and the service is killed while the probes run: the attempt fails
 * and is retried whole once the service is back, with the same result.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "dtest.h"

#define N_TOPICS 200
#define RESERVE  100000

enum {
	KIND_PHANTOMS,
	KIND_FULL_SUB_PAGES,
	KIND_GRACEFUL,
	KIND_HOLE,
	KIND_ABOVE,
	KIND_NO_QUEUES,
	N_KINDS,
};

typedef struct {
	gchar *name;
	gint kind;
	gint64 stored;     /* ids 0..stored-1 are saved */
	gint64 hole_id;    /* one more saved id, far above them (KIND_HOLE) */
	gint64 above;      /* ids R..R+above-1 are saved after the snapshot (KIND_ABOVE) */
	gint64 reserved;   /* R */
	gint64 consumed_q; /* queue q waits for [consumed_q, R - 1] */
	gboolean has_r;    /* a second queue r, for [consumed_r, +5] and [consumed_r + 10, R - 1] */
	gint64 consumed_r;
	gint64 counter; /* the id counter expected after the restore */
	GArray *want_q; /* MsbPersistRange expected in q after the restore */
	GArray *want_r;
} Topic;

static void
topic_clear(Topic *t)
{
	g_free(t->name);
	g_clear_pointer(&t->want_q, g_array_unref);
	g_clear_pointer(&t->want_r, g_array_unref);
}

static void
ranges_add(GArray *ranges, gint64 from, gint64 to)
{
	MsbPersistRange r = {from, to};

	if (from > to)
		return;
	if (ranges->len > 0 &&
	    g_array_index(ranges, MsbPersistRange, ranges->len - 1).to_id + 1 == from) {
		g_array_index(ranges, MsbPersistRange, ranges->len - 1).to_id = to;
		return;
	}
	g_array_append_val(ranges, r);
}

/* Topic @i: its crash state and what the restore must make of it. */
static void
topic_init(Topic *t, guint i)
{
	gint64 next_at_snapshot;
	gint64 top; /* the highest id the queues keep */

	t->name = g_strdup_printf("restore-%03u", i);
	t->kind = (gint)(i % N_KINDS);
	t->stored = 30 + (gint64)(i * 37) % 400; /* 37 and 400 coprime: distinct for each i */
	if (t->kind == KIND_FULL_SUB_PAGES)
		t->stored = 1000 * (1 + (gint64)(i / N_KINDS) % 3);
	next_at_snapshot = t->stored - (gint64)(i % 4);
	t->reserved = t->kind == KIND_GRACEFUL ? t->stored : next_at_snapshot + RESERVE;
	t->hole_id = t->kind == KIND_HOLE ? next_at_snapshot + RESERVE / 2 + i : -1;
	t->above = t->kind == KIND_ABOVE ? 1 + (gint64)(i * 13) % 1500 : 0;
	t->consumed_q = (gint64)(i % 7);
	t->has_r = t->kind != KIND_NO_QUEUES && i % 2 == 0;
	t->consumed_r = 3 + (gint64)(i % 5);
	t->counter = t->reserved + t->above;

	switch (t->kind) {
	case KIND_HOLE:
		top = t->hole_id;
		break;
	case KIND_ABOVE:
		top = t->reserved + t->above - 1;
		break;
	default:
		top = t->stored - 1;
		break;
	}
	t->want_q = g_array_new(FALSE, FALSE, sizeof(MsbPersistRange));
	t->want_r = g_array_new(FALSE, FALSE, sizeof(MsbPersistRange));
	ranges_add(t->want_q, t->consumed_q, top);
	ranges_add(t->want_r, t->consumed_r, t->consumed_r + 5);
	ranges_add(t->want_r, t->consumed_r + 10, top);
}

static void
saved_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	guint *pending = user_data;
	g_autoptr(GError) error = NULL;

	msb_persistence_client_save_messages_finish(MSB_PERSISTENCE_CLIENT(source), result, &error);
	g_assert_no_error(error);
	(*pending)--;
}

/* Save @n messages from @first_id to @t, counted in *@pending until the service has them. */
static void
save_messages(MsbPersistenceClient *client, const Topic *t, gint64 first_id, gsize n,
              guint *pending)
{
	MsbPersistMessage *msgs = ptest_messages_new(first_id, n);

	/* encoded before it returns */
	msb_persistence_client_save_messages_async(client, t->name, msgs, n, FALSE, NULL, saved_cb,
	                                           pending);
	(*pending)++;
	ptest_messages_free(msgs, n);
}

/* Save what the crash left for @t: its messages (the snapshot is saved for all at once). */
static void
topic_save_messages(MsbPersistenceClient *client, const Topic *t, guint *pending)
{
	save_messages(client, t, 0, (gsize)t->stored, pending);
	if (t->hole_id >= 0)
		save_messages(client, t, t->hole_id, 1, pending);
	if (t->above > 0)
		save_messages(client, t, t->reserved, (gsize)t->above, pending);
}

static MsbPersistTopicSnapshot *
topic_snapshot(const Topic *t)
{
	MsbPersistTopicSnapshot *ts = msb_persist_topic_snapshot_new(t->name, t->reserved, TRUE);
	MsbPersistQueueSnapshot *qs;

	if (t->kind == KIND_NO_QUEUES)
		return ts;
	qs = msb_persist_topic_snapshot_add_queue(ts, "q", MSB_PERSIST_QUEUE_PERMANENT);
	msb_persist_queue_snapshot_add_range(qs, t->consumed_q, t->reserved - 1);
	if (t->has_r) {
		qs = msb_persist_topic_snapshot_add_queue(ts, "r", MSB_PERSIST_QUEUE_PERMANENT);
		msb_persist_queue_snapshot_add_range(qs, t->consumed_r, t->consumed_r + 5);
		msb_persist_queue_snapshot_add_range(qs, t->consumed_r + 10, t->reserved - 1);
	}
	return ts;
}

static void
assert_queue(const Topic *t, JsonArray *queues, const gchar *name, GArray *want)
{
	for (guint i = 0; i < json_array_get_length(queues); i++) {
		JsonObject *q = json_array_get_object_element(queues, i);
		JsonArray *data;
		g_autoptr(GString) got = g_string_new(NULL);
		g_autoptr(GString) expected = g_string_new(NULL);

		if (g_strcmp0(json_object_get_string_member(q, "id"), name) != 0)
			continue;
		data = json_object_get_array_member(q, "data");
		for (guint r = 0; r < json_array_get_length(data); r++) {
			JsonObject *range = json_array_get_object_element(data, r);
			g_string_append_printf(got, "[%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] ",
			                       json_object_get_int_member(range, "fromId"),
			                       json_object_get_int_member(range, "toId"));
		}
		for (guint r = 0; r < want->len; r++) {
			const MsbPersistRange *range = &g_array_index(want, MsbPersistRange, r);
			g_string_append_printf(expected,
			                       "[%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] ",
			                       range->from_id, range->to_id);
		}
		if (!g_str_equal(got->str, expected->str))
			g_error("topic %s (kind %d) queue %s waits for %sinstead of %s", t->name,
			        t->kind, name, got->str, expected->str);
		return;
	}
	g_error("topic %s has no queue %s", t->name, name);
}

/* Every topic's counter and queues in the broker's /api/status are those of @topics. */
static void
assert_restored(ItestBroker *b, const Topic *topics, gint64 counter_add)
{
	g_autoptr(JsonNode) root = itest_broker_get_json(b, "/api/status?fresh=true");
	JsonObject *status = json_node_get_object(root);
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(status, "topics"), "items");
	JsonObject *queues = json_object_get_object_member(status, "queues");
	guint found = 0;

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *item = json_array_get_object_element(items, i);
		const gchar *name = json_object_get_string_member(item, "id");
		const Topic *t;
		JsonArray *list;
		guint n;

		if (!g_str_has_prefix(name, "restore-"))
			continue;
		n = (guint)g_ascii_strtoull(name + strlen("restore-"), NULL, 10);
		g_assert_cmpuint(n, <, N_TOPICS);
		t = &topics[n];
		g_assert_cmpstr(t->name, ==, name);
		found++;
		if (json_object_get_int_member(item, "messageId") != t->counter + counter_add)
			g_error("topic %s (kind %d): id counter %" G_GINT64_FORMAT
			        " instead of %" G_GINT64_FORMAT,
			        name, t->kind, json_object_get_int_member(item, "messageId"),
			        t->counter + counter_add);
		list = json_object_get_array_member(json_object_get_object_member(queues, name),
		                                    "queues");
		if (t->kind == KIND_NO_QUEUES) {
			g_assert_cmpuint(json_array_get_length(list), ==, 0);
			continue;
		}
		g_assert_cmpuint(json_array_get_length(list), ==, t->has_r ? 2 : 1);
		assert_queue(t, list, "q", t->want_q);
		if (t->has_r)
			assert_queue(t, list, "r", t->want_r);
	}
	g_assert_cmpuint(found, ==, N_TOPICS);
}

/* How many reads of our topics the service has answered (its --verbose log has one line each). */
static guint
count_probes(PtestService *ps)
{
	g_autofree gchar *log = ptest_service_log(ps);
	guint n = 0;

	for (const gchar *at = strstr(log, " restore-"); at != NULL;
	     at = strstr(at + 1, " restore-"))
		n++;
	return n;
}

/* Log the broker's "restored ..." lines (calls, concurrency and time of each restore) and its
 * failed attempts. */
static void
log_restores(ItestBroker *b)
{
	g_autofree gchar *log = NULL;
	g_auto(GStrv) lines = NULL;

	g_assert_true(g_file_get_contents(b->log_path, &log, NULL, NULL));
	lines = g_strsplit(log, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (strstr(lines[i], ": restored ") != NULL ||
		    strstr(lines[i], " failed: ") != NULL)
			g_test_message("%s", lines[i]);
	}
}

static void
test_restore_many_topics(void)
{
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autofree gchar *target = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) snapshot =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_persist_topic_snapshot_free);
	Topic topics[N_TOPICS] = {0};
	guint pending = 0;
	guint probes_before;
	gint64 start_us;

	ptest_service_start(ps, 0);
	target = ptest_service_target(ps);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < N_TOPICS; i++) {
		topic_init(&topics[i], i);
		topic_save_messages(client, &topics[i], &pending);
		g_ptr_array_add(snapshot, topic_snapshot(&topics[i]));
	}
	ITEST_WAIT_FOR_MS(pending == 0, 60000);
	g_assert_true(ptest_save_snapshot(client, snapshot, &error));
	g_assert_no_error(error);

	b = dtest_broker_new(ps, NULL);
	b->capture_log = TRUE;
	start_us = g_get_monotonic_time();
	itest_broker_start(b, 0);
	g_test_message("restored in %.2f s", (gdouble)(g_get_monotonic_time() - start_us) / 1e6);
	assert_restored(b, topics, 0);
	/* the probes of several topics ran side by side (MSB_PERSISTENCE_RESTORE_CALLS) */
	g_assert_cmpuint(itest_broker_log_count(b, "at most 16 at once"), ==, 1);
	g_assert_cmpuint(itest_broker_log_count(b, "cannot tell which reserved ids"), ==, 0);

	/* its own snapshot (every counter reserved 100,000 ahead again) saved, then a crash */
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_snapshots_total") >= 1);
	itest_broker_kill(b);
	g_assert_true(WIFSIGNALED(b->wait_status));
	/* and the service dies while the probes run: calls fail, the attempt is retried whole */
	probes_before = count_probes(ps);
	start_us = g_get_monotonic_time();
	itest_broker_spawn(b, 0);
	ITEST_WAIT_FOR(count_probes(ps) >= probes_before + 10);
	ptest_service_stop(ps, SIGKILL);
	/* the kill came before the restore was done (it takes hundreds of calls) */
	g_assert_false(itest_broker_is_running(b) &&
	               g_file_test(b->ready_path, G_FILE_TEST_EXISTS));
	ptest_service_start(ps, ps->grpc_port);
	itest_broker_wait_ready(b, 0, 30000);
	g_test_message("restored in %.2f s", (gdouble)(g_get_monotonic_time() - start_us) / 1e6);
	log_restores(b);
	g_assert_cmpuint(itest_broker_log_count(b, "Page failed: "), >=, 1);
	assert_restored(b, topics, RESERVE);
	g_assert_cmpuint(itest_broker_log_count(b, "at most 16 at once"), ==, 2);

	itest_broker_free(b);
	ptest_service_free(ps);
	for (guint i = 0; i < N_TOPICS; i++)
		topic_clear(&topics[i]);
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	g_test_add_func("/restore/many-topics-after-crash", test_restore_many_topics);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
