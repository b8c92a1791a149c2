/*
 * Durability of the real broker with the real persistence service, across crashes and restarts
 * on the same data:
 *  - crash safety: a stream of publishes (confirmed, unconfirmed, older than
 *    EventuallyPersistenceDelay, persist_immediately, just published), then SIGKILL of the broker,
 *    of both, or of the service first and then the broker; after restarting both, every message
 *    acknowledged with persist_immediately and every message older than the delay is delivered
 *    with its content, unconfirmed ones come back, confirmed ones do not, nothing comes twice,
 *    no id comes back with another content, and new publishes get ids above every id that was
 *    ever acknowledged, even one acknowledged from memory and lost (ids are reserved by saved
 *    snapshots: after a crash the counter restarts past the reservation, leaving a gap);
 *  - a torn write (the newest file's last bytes truncated, or overwritten): recovery keeps every
 *    record before it, says in its log and in /api/status exactly what it cut, and the broker
 *    delivers everything before it and does not reuse the lost id;
 *  - graceful shutdown: SIGTERM right after publishing saves every pending message and a final
 *    snapshot before exit 0 (then the service is SIGKILLed); after the restart everything is
 *    there, the batch in flight at shutdown comes back, and the next id follows on exactly (the
 *    final snapshot reserves no ids: no gap);
 *  - PersistCompressed true and false both, checked in the service's upload counters.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dtest.h"

#define TOPIC "orders"
#define QUEUE "q"
#define SIZE  40

/* the default MaxDeliverySize fits every batch of these tests: one batch per delivery */

static void
assert_upload_mode(PtestService *ps, gboolean compressed)
{
	g_autoptr(JsonNode) root = dtest_service_status(ps);
	JsonObject *grpc = json_object_get_object_member(json_node_get_object(root), "grpc");
	gint64 zipped = json_object_get_int_member(grpc, "uploads_compressed");
	gint64 plain = json_object_get_int_member(grpc, "uploads_uncompressed");

	g_test_message("uploads: %" G_GINT64_FORMAT " compressed, %" G_GINT64_FORMAT
	               " uncompressed",
	               zipped, plain);
	g_assert_cmpint(compressed ? zipped : plain, >, 0);
	g_assert_cmpint(compressed ? plain : zipped, ==, 0);
}

static const gchar *
compressed_setting(gboolean compressed)
{
	return compressed ? "PersistCompressed: true\n" : "PersistCompressed: false\n";
}

static void
assert_content(DtestReceived *r, guint i, const gchar *prefix, guint n)
{
	g_autoptr(GBytes) want = dtest_content(prefix, n, SIZE);

	if (!g_bytes_equal(g_ptr_array_index(r->content, i), want))
		g_error("message %u (id %" G_GINT64_FORMAT ") does not have the content of %s-%u",
		        i, g_array_index(r->ids, gint64, i), prefix, n);
}

/* Subscribe to QUEUE on a new connection and publish one persist_immediately sentinel on
 * another; receive (confirming) until the sentinel arrives. Returns what came, sentinel last. */
static DtestReceived *
receive_until_sentinel(ItestBroker *b)
{
	g_autoptr(ItestRaw) sub = dtest_connect(b, "sub-after");
	g_autoptr(ItestRaw) pub = dtest_connect(b, "pub-after");
	g_autoptr(GBytes) sentinel = dtest_content("after", 0, SIZE);
	DtestReceived *r = dtest_received_new();

	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	itest_raw_barrier(sub);
	dtest_publish(pub, TOPIC, 1, "after", 0, 1, SIZE, TRUE);
	itest_raw_expect_publish_response(pub, 1);
	while (dtest_received_find(r, sentinel) < 0)
		dtest_receive(sub, r, TRUE, TOPIC, QUEUE);
	g_assert_cmpint(dtest_received_find(r, sentinel), ==, (gint)r->ids->len - 1);
	/* nothing after the sentinel: it has the highest id */
	itest_raw_assert_quiet(sub);
	return r;
}

/* ids strictly ascending: in order, none twice */
static void
assert_ascending(DtestReceived *r)
{
	for (guint i = 1; i < r->ids->len; i++)
		g_assert_cmpint(g_array_index(r->ids, gint64, i - 1), <,
		                g_array_index(r->ids, gint64, i));
}

/* ---- crash safety ---- */

typedef enum {
	KILL_BROKER,            /* the broker alone, the service keeps running */
	KILL_BOTH,              /* the broker, then at once the service (a host crash) */
	KILL_PERSISTENCE_FIRST, /* the service, then publishes from memory, then the broker */
} KillMode;

typedef struct {
	KillMode mode;
	gboolean compressed;
} CrashCase;

static void
test_crash(gconstpointer data)
{
	const CrashCase *c = data;
	g_autoptr(DtestReceived) before = dtest_received_new();
	g_autoptr(DtestReceived) after = NULL;
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autofree gchar *target = NULL;
	g_autoptr(GError) error = NULL;
	ItestRaw *pub;
	ItestRaw *sub;
	guint held;
	gint64 sentinel_id;
	gint64 came_back_max = -1;
	/* the highest id a PublishResponse was sent for */
	const gint64 acknowledged_max = 349;
	guint recent_back = 0;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, compressed_setting(c->compressed));
	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	target = ptest_service_target(ps);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);

	pub = dtest_connect(b, "pub");
	itest_raw_create_topic(pub, TOPIC);
	itest_raw_sync(pub);
	sub = dtest_connect(b, "sub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	itest_raw_sync(sub);
	/* the queue must be in a saved snapshot to survive a crash */
	dtest_wait_snapshot(client, TOPIC, QUEUE, 0);

	/* 0..99: delivered and confirmed, and the snapshot says so */
	dtest_publish(pub, TOPIC, 1, "m", 0, 50, SIZE, FALSE);
	dtest_publish(pub, TOPIC, 2, "m", 50, 50, SIZE, FALSE);
	itest_raw_expect_publish_response(pub, 1);
	itest_raw_expect_publish_response(pub, 2);
	while (before->ids->len < 100)
		dtest_receive(sub, before, TRUE, TOPIC, QUEUE);
	g_assert_cmpuint(before->ids->len, ==, 100);
	for (guint i = 0; i < 100; i++) {
		g_assert_cmpint(g_array_index(before->ids, gint64, i), ==, i);
		assert_content(before, i, "m", i);
	}
	dtest_wait_snapshot(client, TOPIC, QUEUE, 100);

	/* 100..199: one batch delivered and never confirmed, the rest waiting */
	dtest_publish(pub, TOPIC, 3, "m", 100, 50, SIZE, FALSE);
	dtest_publish(pub, TOPIC, 4, "m", 150, 50, SIZE, FALSE);
	itest_raw_expect_publish_response(pub, 3);
	itest_raw_expect_publish_response(pub, 4);
	held = dtest_receive(sub, before, FALSE, TOPIC, QUEUE);
	g_assert_cmpuint(held, >, 0);
	g_assert_cmpint(g_array_index(before->ids, gint64, 100), ==, 100);

	/* the contract: saved within EventuallyPersistenceDelay (1 s); nothing to wait on but
	 * the clock */
	itest_run_for(1500);

	/* 200..299: persist_immediately, answered once durable */
	dtest_publish(pub, TOPIC, 5, "m", 200, 50, SIZE, TRUE);
	dtest_publish(pub, TOPIC, 6, "m", 250, 50, SIZE, TRUE);
	itest_raw_expect_publish_response(pub, 5);
	itest_raw_expect_publish_response(pub, 6);

	if (c->mode == KILL_PERSISTENCE_FIRST) {
		assert_upload_mode(ps, c->compressed);
		ptest_service_stop(ps, SIGKILL);
	}
	/* 300..349: acknowledged from memory just now; may or may not survive */
	dtest_publish(pub, TOPIC, 7, "m", 300, 50, SIZE, FALSE);
	itest_raw_expect_publish_response(pub, 7);

	if (c->mode != KILL_PERSISTENCE_FIRST)
		assert_upload_mode(ps, c->compressed);
	itest_broker_kill(b);
	if (c->mode == KILL_BOTH)
		ptest_service_stop(ps, SIGKILL);
	g_assert_true(WIFSIGNALED(b->wait_status));
	itest_raw_free(pub);
	itest_raw_free(sub);

	if (ps->pid == 0)
		ptest_service_start(ps, ps->grpc_port);
	itest_broker_start(b, 0);
	after = receive_until_sentinel(b);

	assert_ascending(after);
	for (guint i = 0; i + 1 < after->ids->len; i++) {
		gint64 id = g_array_index(after->ids, gint64, i);

		/* confirmed before the crash, and the snapshot said so: never again */
		g_assert_cmpint(id, >=, 100);
		g_assert_cmpint(id, <, 350);
		/* the same id has the same content: it was not handed out twice */
		assert_content(after, i, "m", (guint)id);
		came_back_max = MAX(came_back_max, id);
		if (id >= 300)
			recent_back++;
	}
	/* unconfirmed, older than the delay, persist_immediately: every one of them */
	g_assert_cmpuint(after->ids->len, >=, 200 + 1);
	for (guint i = 0; i < 200; i++)
		g_assert_cmpint(g_array_index(after->ids, gint64, i), ==, 100 + i);
	sentinel_id = g_array_index(after->ids, gint64, after->ids->len - 1);
	g_test_message("%u of the 50 messages published just before the crash came back; the next "
	               "id is %" G_GINT64_FORMAT,
	               recent_back, sentinel_id);
	g_assert_cmpint(sentinel_id, >, came_back_max);
	/* ids are never reused: not even 300..349, which were acknowledged but, with the service
	 * gone (persistence-first) or perhaps not yet saved, may be lost */
	g_assert_cmpint(sentinel_id, >, acknowledged_max);
	if (c->mode == KILL_PERSISTENCE_FIRST)
		/* the service was gone: those were only ever in memory */
		g_assert_cmpuint(recent_back, ==, 0);

	/* publishes acknowledged from memory after the restart: new ids too, after the
	 * sentinel's, each with its own content */
	{
		g_autoptr(ItestRaw) sub_new = dtest_connect(b, "sub-new");
		g_autoptr(ItestRaw) pub_new = dtest_connect(b, "pub-new");
		g_autoptr(DtestReceived) fresh = dtest_received_new();

		itest_raw_subscribe(sub_new, TOPIC, QUEUE, 0);
		itest_raw_barrier(sub_new);
		dtest_publish(pub_new, TOPIC, 1, "new", 0, 50, SIZE, FALSE);
		itest_raw_expect_publish_response(pub_new, 1);
		while (fresh->ids->len < 50)
			dtest_receive(sub_new, fresh, TRUE, TOPIC, QUEUE);
		g_assert_cmpuint(fresh->ids->len, ==, 50);
		for (guint i = 0; i < 50; i++) {
			g_assert_cmpint(g_array_index(fresh->ids, gint64, i), ==,
			                sentinel_id + 1 + i);
			assert_content(fresh, i, "new", i);
		}
		itest_raw_assert_quiet(sub_new);
	}

	itest_broker_free(b);
	ptest_service_free(ps);
}

/* ---- a torn write ---- */

/* The newest of DIR's wal-*.log and data-*.dat (modification time, then name). */
static gchar *
newest_data_file(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autofree gchar *best = NULL;
	gint64 best_mtime = -1;
	const gchar *name;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = NULL;
		GStatBuf st;
		gint64 mtime;

		if (!(g_str_has_prefix(name, "wal-") && g_str_has_suffix(name, ".log")) &&
		    !(g_str_has_prefix(name, "data-") && g_str_has_suffix(name, ".dat")))
			continue;
		path = g_build_filename(dir, name, NULL);
		g_assert_cmpint(g_stat(path, &st), ==, 0);
		mtime = (gint64)st.st_mtim.tv_sec * G_GINT64_CONSTANT(1000000000) +
		        st.st_mtim.tv_nsec;
		if (mtime > best_mtime || (mtime == best_mtime && g_strcmp0(path, best) > 0)) {
			g_free(best);
			best = g_steal_pointer(&path);
			best_mtime = mtime;
		}
	}
	g_assert_nonnull(best);
	return g_steal_pointer(&best);
}

/* storage-format.md: frame (16) + lsn (8) + message header (24) + content, no headers */
#define RECORD_BYTES (16 + 8 + 24 + SIZE)

static void
test_torn_write(gconstpointer data)
{
	gboolean truncate_it = GPOINTER_TO_INT(data);
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(DtestReceived) after = NULL;
	g_autofree gchar *topic_dir = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *log = NULL;
	g_autoptr(JsonNode) status = NULL;
	JsonArray *cuts;
	JsonObject *cut = NULL;
	GStatBuf st;
	gint64 size;
	gint64 cut_at;
	ItestRaw *pub;
	ItestRaw *sub;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, NULL);
	itest_broker_start(b, 0);
	pub = dtest_connect(b, "pub");
	itest_raw_create_topic(pub, TOPIC);
	sub = dtest_connect(b, "sub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	itest_raw_sync(sub);
	/* a permanent queue with nobody reading it keeps every message */
	itest_raw_free(sub);
	dtest_publish(pub, TOPIC, 1, "m", 0, 30, SIZE, TRUE);
	dtest_publish(pub, TOPIC, 2, "m", 30, 30, SIZE, TRUE);
	itest_raw_expect_publish_response(pub, 1);
	itest_raw_expect_publish_response(pub, 2);
	itest_raw_free(pub);
	/* a clean stop of the broker (final snapshot: next id 60); the service just dies */
	g_assert_cmpint(itest_broker_stop(b, SIGTERM), ==, 0);
	ptest_service_stop(ps, SIGKILL);

	topic_dir = g_build_filename(ps->data_path, "topics", TOPIC, NULL);
	path = newest_data_file(topic_dir);
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	size = st.st_size;
	g_test_message("damaging the end of %s (%" G_GINT64_FORMAT " bytes)", path, size);
	g_assert_cmpint(size, >, 16 + 60 * RECORD_BYTES - 1);
	if (truncate_it) {
		/* a torn write: the last record is only partly on disk */
		g_assert_cmpint(truncate(path, size - 5), ==, 0);
	} else {
		/* the last bytes overwritten: the record fails its checksum */
		FILE *f = fopen(path, "r+b");
		g_assert_nonnull(f);
		g_assert_cmpint(fseek(f, -3, SEEK_END), ==, 0);
		g_assert_cmpuint(fwrite("\xde\xad\xbf", 1, 3, f), ==, 3);
		g_assert_cmpint(fclose(f), ==, 0);
	}
	cut_at = size - RECORD_BYTES;

	ptest_service_start(ps, ps->grpc_port);
	log = ptest_service_log(ps);
	if (strstr(log, path) == NULL || strstr(log, "torn or damaged tail") == NULL)
		g_error("the service's log does not say what it cut from %s:\n%s", path, log);
	status = dtest_service_status(ps);
	cuts = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(status), "recovery"), "cuts");
	for (guint i = 0; i < json_array_get_length(cuts); i++) {
		JsonObject *o = json_array_get_object_element(cuts, i);
		if (g_strcmp0(json_object_get_string_member(o, "path"), path) == 0) {
			g_assert_null(cut);
			cut = o;
		}
	}
	g_assert_cmpuint(json_array_get_length(cuts), ==, 1);
	g_assert_nonnull(cut);
	/* exactly the last record, from where it starts */
	g_assert_cmpint(json_object_get_int_member(cut, "offset"), ==, cut_at);
	g_assert_cmpint(json_object_get_int_member(cut, "bytes"), ==,
	                truncate_it ? RECORD_BYTES - 5 : RECORD_BYTES);
	g_assert_nonnull(strstr(json_object_get_string_member(cut, "reason"), "torn"));
	/* and the file ends where the last good record does */
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_size, ==, cut_at);
	g_assert_cmpint(dtest_service_max_id(ps, TOPIC), ==, 58);

	itest_broker_start(b, 0);
	after = receive_until_sentinel(b);
	g_assert_cmpuint(after->ids->len, ==, 59 + 1);
	for (guint i = 0; i < 59; i++) {
		g_assert_cmpint(g_array_index(after->ids, gint64, i), ==, i);
		assert_content(after, i, "m", i);
	}
	/* id 59 was acknowledged: its record is gone, its id is not handed out again */
	g_assert_cmpint(g_array_index(after->ids, gint64, 59), ==, 60);

	itest_broker_free(b);
	ptest_service_free(ps);
}

/* ---- graceful shutdown ---- */

static void
test_shutdown_drains(gconstpointer data)
{
	gboolean compressed = GPOINTER_TO_INT(data);
	g_autoptr(DtestReceived) before = dtest_received_new();
	g_autoptr(DtestReceived) after = NULL;
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(JsonNode) status = NULL;
	ItestRaw *pub;
	ItestRaw *sub;
	guint held;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, compressed_setting(compressed));
	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	pub = dtest_connect(b, "pub");
	itest_raw_create_topic(pub, TOPIC);
	itest_raw_sync(pub);
	sub = dtest_connect(b, "sub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	itest_raw_sync(sub);

	/* no waiting for a save or a snapshot: the shutdown has to do both */
	for (guint i = 0; i < 4; i++)
		dtest_publish(pub, TOPIC, i + 1, "m", i * 50, 50, SIZE, FALSE);
	for (guint i = 0; i < 4; i++)
		itest_raw_expect_publish_response(pub, i + 1);
	held = dtest_receive(sub, before, FALSE, TOPIC, QUEUE);
	g_assert_cmpuint(held, >, 0);
	g_assert_cmpint(kill(b->pid, SIGTERM), ==, 0);
	g_assert_true(itest_broker_wait_exit(b, ITEST_TIMEOUT_MS));
	g_assert_true(WIFEXITED(b->wait_status));
	g_assert_cmpint(WEXITSTATUS(b->wait_status), ==, 0);
	g_assert_cmpuint(itest_broker_log_count(
	                         b, "shutdown: every message and the final snapshot are saved"),
	                 ==, 1);
	itest_raw_free(pub);
	itest_raw_free(sub);

	status = dtest_service_status(ps);
	g_assert_cmpint(dtest_service_max_id(ps, TOPIC), ==, 199);
	g_assert_cmpint(json_object_get_int_member(
	                        json_object_get_object_member(json_node_get_object(status), "grpc"),
	                        "snapshots_saved"),
	                >, 0);
	assert_upload_mode(ps, compressed);
	/* nothing graceful on the service's side */
	ptest_service_stop(ps, SIGKILL);
	ptest_service_start(ps, ps->grpc_port);

	itest_broker_start(b, 0);
	after = receive_until_sentinel(b);
	assert_ascending(after);
	/* all 200, the batch in flight at shutdown included, then the next id */
	g_assert_cmpuint(after->ids->len, ==, 200 + 1);
	for (guint i = 0; i < 200; i++) {
		g_assert_cmpint(g_array_index(after->ids, gint64, i), ==, i);
		assert_content(after, i, "m", i);
	}
	g_assert_cmpint(g_array_index(after->ids, gint64, 200), ==, 200);

	itest_broker_free(b);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	static const CrashCase kill_broker = {KILL_BROKER, TRUE};
	static const CrashCase kill_both = {KILL_BOTH, FALSE};
	static const CrashCase kill_persistence_first = {KILL_PERSISTENCE_FIRST, TRUE};
	int ret;

	dtest_init(&argc, &argv);
	g_test_add_data_func("/durability/crash/broker", &kill_broker, test_crash);
	g_test_add_data_func("/durability/crash/both", &kill_both, test_crash);
	g_test_add_data_func("/durability/crash/persistence-first", &kill_persistence_first,
	                     test_crash);
	g_test_add_data_func("/durability/torn-write/truncated", GINT_TO_POINTER(TRUE),
	                     test_torn_write);
	g_test_add_data_func("/durability/torn-write/overwritten", GINT_TO_POINTER(FALSE),
	                     test_torn_write);
	g_test_add_data_func("/durability/shutdown/compressed", GINT_TO_POINTER(TRUE),
	                     test_shutdown_drains);
	g_test_add_data_func("/durability/shutdown/uncompressed", GINT_TO_POINTER(FALSE),
	                     test_shutdown_drains);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
