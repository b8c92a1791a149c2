/*
 * Damaged data and crash restarts, with the real broker and the real persistence service:
 *  - a damaged sealed block: 5,000 messages are published to a queue nobody reads and sealed,
 *    both programs stop, one byte of the block holding sub-page 2 is flipped on disk, both
 *    start again and the queue is consumed. With the default OnDamagedMessages (skip) every
 *    message outside ids 2000-2999 is delivered, in order, with its content, and delivery goes
 *    on past the damage; msb_messages_lost_total counts the 1,000 skipped ids; the service lists
 *    the damaged sub-page in /api/damaged, /api/status and /metrics, and `msbctl damaged` prints
 *    it. With OnDamagedMessages: wait nothing after id 1999 is delivered and nothing is counted
 *    as lost;
 *  - a crash restart: after SIGKILL of the broker, the queue reports only the messages that were
 *    published (not the 100,000 ids the last snapshot reserved), and the first message published
 *    after the restart reaches its subscriber after a handful of sub-page loads, not 100; a
 *    message stored far above the others in the reserved range is still found and delivered.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "dtest.h"

#define TOPIC "orders"
#define QUEUE "q"
#define SIZE  40
#define LOST  "msb_messages_lost_total{namespace=\"default\",topic=\"" TOPIC "\"}"
#define QSIZE "topic_queue_size{namespace=\"default\",topic=\"" TOPIC "\",queue=\"" QUEUE "\"}"

/* sealed_sub_pages of TOPIC in the service's /api/status */
static gint64
sealed_sub_pages(PtestService *ps)
{
	g_autoptr(JsonNode) root = dtest_service_status(ps);
	JsonArray *topics = json_object_get_array_member(json_node_get_object(root), "topics");

	for (guint i = 0; i < json_array_get_length(topics); i++) {
		JsonObject *t = json_array_get_object_element(topics, i);
		if (g_strcmp0(json_object_get_string_member(t, "topic_id"), TOPIC) == 0)
			return json_object_get_int_member(t, "sealed_sub_pages");
	}
	return -1;
}

/*
 * Flip one byte inside the compressed bytes of the sealed block of @sub_page in TOPIC's data
 * files (storage-format.md: 16-byte file header, then BLOCK frames of a 16-byte frame header
 * and a payload starting with the i64 sub-page number, 40 bytes of block header before the
 * compressed bytes). Returns the path of the file.
 */
static gchar *
damage_block(PtestService *ps, gint64 sub_page)
{
	g_autofree gchar *dir = g_build_filename(ps->data_path, "topics", TOPIC, NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = NULL;
		g_autofree gchar *data = NULL;
		gsize len = 0;
		gsize at = 16;

		if (!g_str_has_prefix(name, "data-") || !g_str_has_suffix(name, ".dat"))
			continue;
		path = g_build_filename(dir, name, NULL);
		g_assert_true(g_file_get_contents(path, &data, &len, NULL));
		while (at + 16 + 40 < len) {
			guint32 plen;
			gint64 no;

			memcpy(&plen, data + at + 8, 4);
			memcpy(&no, data + at + 16, 8);
			plen = GUINT32_FROM_LE(plen);
			no = GINT64_FROM_LE(no);
			if (no == sub_page) {
				GError *error = NULL;

				g_assert_cmpuint(plen, >, 40 + 4);
				/* in the middle of the compressed bytes */
				data[at + 16 + 40 + (plen - 40) / 2] ^= 0x5a;
				g_file_set_contents(path, data, (gssize)len, &error);
				g_assert_no_error(error);
				g_test_message(
				        "flipped a byte of the block of sub-page %" G_GINT64_FORMAT
				        " at offset %" G_GSIZE_FORMAT " of %s",
				        sub_page, at, path);
				return g_steal_pointer(&path);
			}
			at += 16 + plen;
		}
	}
	g_error("no sealed block of sub-page %" G_GINT64_FORMAT " in %s", sub_page, dir);
	return NULL;
}

/* Run msbctl with @args (NULL-terminated, without the program); its stdout. */
static gchar *
run_msbctl(const gchar *const *args, gint *exit_status)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;

	g_ptr_array_add(argv, (gpointer)g_getenv("MSBCTL"));
	g_assert_nonnull(argv->pdata[0]);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL, (gchar **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
	             &status, &error);
	g_assert_no_error(error);
	g_test_message("msbctl %s: stdout:\n%s\nstderr:\n%s", args[0], out, err);
	*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return out;
}

/* GetPageCompressed and GetPage of the damaged sub-page both answer DATA_LOSS naming topic,
 * sub-page and file; the sound sub-page next to it reads. */
static void
assert_data_loss(PtestService *ps, const gchar *path)
{
	g_autofree gchar *target = ptest_service_target(ps);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbPersistenceClient) client = msb_persistence_client_new(target, &error);
	g_autoptr(MsbMessageBatch) batch = NULL;

	g_assert_no_error(error);
	for (guint compressed = 0; compressed < 2; compressed++) {
		g_autoptr(MsbMessageBatch) none =
		        compressed
		                ? ptest_get_page_compressed(client, TOPIC, 0, 2000, 2999, 0, &error)
		                : ptest_get_page(client, TOPIC, 0, 2000, 2999, &error);

		g_assert_null(none);
		g_assert_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_DATA_LOSS);
		g_assert_nonnull(strstr(error->message, "Topic " TOPIC " sub-page 2 is damaged"));
		g_assert_nonnull(strstr(error->message, path));
		g_clear_error(&error);
	}
	batch = ptest_get_sub_page(client, TOPIC, 3, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(batch->n_messages, ==, 1000);
}

/* The service's /api/damaged lists sub-page 2 of TOPIC, naming @path. */
static void
assert_service_lists_damage(PtestService *ps, const gchar *path)
{
	guint status = 0;
	g_autofree gchar *body = ptest_http_get(ps->http_port, "/api/damaged", &status);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *metrics = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *out = NULL;
	JsonArray *list;
	JsonObject *d;
	gint exit_status = -1;

	g_assert_cmpuint(status, ==, 200);
	json_parser_load_from_data(parser, body, -1, &error);
	g_assert_no_error(error);
	list = json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)),
	                                    "damaged");
	g_assert_cmpuint(json_array_get_length(list), ==, 1);
	d = json_array_get_object_element(list, 0);
	g_assert_cmpstr(json_object_get_string_member(d, "topic_id"), ==, TOPIC);
	g_assert_cmpint(json_object_get_int_member(d, "sub_page"), ==, 2);
	g_assert_cmpint(json_object_get_int_member(d, "from_id"), ==, 2000);
	g_assert_cmpint(json_object_get_int_member(d, "to_id"), ==, 2999);
	g_assert_cmpstr(json_object_get_string_member(d, "path"), ==, path);
	g_assert_nonnull(strstr(json_object_get_string_member(d, "reason"), "sub-page 2"));

	/* the status page has the same list */
	root = dtest_service_status(ps);
	list = json_object_get_array_member(json_node_get_object(root), "damaged");
	g_assert_cmpuint(json_array_get_length(list), ==, 1);
	g_assert_cmpint(
	        json_object_get_int_member(json_array_get_object_element(list, 0), "sub_page"), ==,
	        2);

	metrics = ptest_http_get(ps->http_port, "/metrics", &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(strstr(metrics, "\npersistence_damaged_sub_pages 1\n"));
	g_assert_nonnull(
	        strstr(metrics, "\npersistence_topic_damaged_sub_pages{topic=\"" TOPIC "\"} 1\n"));

	url = g_strdup_printf("http://127.0.0.1:%u/", ps->http_port);
	{
		const gchar *args[] = {"damaged", "--url", url, NULL};
		out = run_msbctl(args, &exit_status);
	}
	g_assert_cmpint(exit_status, ==, 0);
	g_assert_nonnull(strstr(out, TOPIC));
	g_assert_nonnull(strstr(out, "2000-2999"));
	g_assert_nonnull(strstr(out, path));
}

static void
test_damaged_block(gconstpointer data)
{
	gboolean skip = GPOINTER_TO_INT(data);
	const guint n = 5000;
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(DtestReceived) got = dtest_received_new();
	g_autofree gchar *damaged_path = NULL;
	ItestRaw *pub;
	ItestRaw *sub;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, skip ? NULL : "OnDamagedMessages: wait\n");
	itest_broker_start(b, 0);
	pub = dtest_connect(b, "pub");
	itest_raw_create_topic(pub, TOPIC);
	sub = dtest_connect(b, "sub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	itest_raw_sync(sub);
	/* the queue stays (permanent) and wants everything; nobody reads it for now */
	itest_raw_free(sub);
	for (guint i = 0; i < n / 500; i++)
		dtest_publish(pub, TOPIC, i + 1, "m", i * 500, 500, SIZE, FALSE);
	for (guint i = 0; i < n / 500; i++)
		itest_raw_expect_publish_response(pub, i + 1);
	ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_pending_messages") == 0);
	/* five full sub-pages: all sealed */
	ITEST_WAIT_FOR(sealed_sub_pages(ps) == n / 1000);
	itest_raw_free(pub);

	/* a clean stop of both, so that the broker has nothing in memory afterwards */
	g_assert_cmpint(itest_broker_stop(b, SIGTERM), ==, 0);
	ptest_service_stop(ps, SIGTERM);
	damaged_path = damage_block(ps, 2);
	ptest_service_start(ps, ps->grpc_port);
	itest_broker_start(b, 0);

	sub = dtest_connect(b, "sub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	if (skip) {
		g_autoptr(ItestRaw) pub2 = dtest_connect(b, "pub2");
		g_autoptr(GBytes) sentinel = dtest_content("after", 0, SIZE);

		/* one more, published now: delivery reaches it past the damage */
		dtest_publish(pub2, TOPIC, 1, "after", 0, 1, SIZE, TRUE);
		itest_raw_expect_publish_response(pub2, 1);
		while (dtest_received_find(got, sentinel) < 0)
			dtest_receive(sub, got, TRUE, TOPIC, QUEUE);
		g_assert_cmpuint(got->ids->len, ==, n - 1000 + 1);
		for (guint i = 0; i < n - 1000; i++) {
			guint id = i < 2000 ? i : i + 1000;
			g_autoptr(GBytes) want = dtest_content("m", id, SIZE);

			if (g_array_index(got->ids, gint64, i) != id)
				g_error("message %u has id %" G_GINT64_FORMAT ", expected %u", i,
				        g_array_index(got->ids, gint64, i), id);
			g_assert_true(g_bytes_equal(g_ptr_array_index(got->content, i), want));
		}
		g_assert_cmpint(g_array_index(got->ids, gint64, n - 1000), ==, n);
		itest_raw_assert_quiet(sub);
		g_assert_cmpfloat(dtest_metric(b, LOST), ==, 1000);
		g_assert_cmpfloat(dtest_metric(b, "msb_persistence_damaged_loads_total"), >=, 1);
	} else {
		/* everything before the damage, then nothing: it waits for the block */
		while (got->ids->len < 2000)
			dtest_receive(sub, got, TRUE, TOPIC, QUEUE);
		for (guint i = 0; i < 2000; i++)
			g_assert_cmpint(g_array_index(got->ids, gint64, i), ==, i);
		ITEST_WAIT_FOR(dtest_metric(b, "msb_persistence_damaged_loads_total") >= 2);
		itest_raw_assert_quiet(sub);
		g_assert_cmpuint(got->ids->len, ==, 2000);
		g_assert_cmpfloat(dtest_metric(b, LOST), ==, 0);
		g_assert_cmpfloat(dtest_metric(b, QSIZE), ==, n - 2000);
	}
	assert_service_lists_damage(ps, damaged_path);
	assert_data_loss(ps, damaged_path);

	itest_raw_free(sub);
	itest_broker_free(b);
	ptest_service_free(ps);
}

/* size of QUEUE in the broker's /api/status */
static gint64
status_queue_size(ItestBroker *b)
{
	g_autoptr(JsonNode) root = itest_broker_get_json(b, "/api/status?fresh=true");
	JsonObject *topic = json_object_get_object_member(
	        json_object_get_object_member(json_node_get_object(root), "queues"), TOPIC);
	JsonArray *queues = json_object_get_array_member(topic, "queues");

	for (guint i = 0; i < json_array_get_length(queues); i++) {
		JsonObject *q = json_array_get_object_element(queues, i);
		if (g_strcmp0(json_object_get_string_member(q, "id"), QUEUE) == 0)
			return json_object_get_int_member(q, "size");
	}
	g_error("no queue %s in /api/status", QUEUE);
	return -1;
}

/*
 * With @hole, a message at id HOLE_ID (inside the reserved window, far above the last published
 * one, as a save that succeeded while an earlier one was lost would leave) is stored before the
 * restart: the broker must find it and keep it, dropping only the ids above it.
 */
#define HOLE_ID 60000

static void
test_crash_phantoms(gconstpointer data)
{
	gboolean hole = GPOINTER_TO_INT(data);
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(DtestReceived) before = dtest_received_new();
	g_autoptr(DtestReceived) after = dtest_received_new();
	g_autoptr(MsbPersistenceClient) client = NULL;
	g_autofree gchar *target = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) sentinel = dtest_content("after", 0, SIZE);
	ItestRaw *pub;
	ItestRaw *sub;
	gdouble loads_before;
	gdouble loads;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, NULL);
	itest_broker_start(b, 0);
	target = ptest_service_target(ps);
	client = msb_persistence_client_new(target, &error);
	g_assert_no_error(error);

	pub = dtest_connect(b, "pub");
	itest_raw_create_topic(pub, TOPIC);
	sub = dtest_connect(b, "sub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	itest_raw_sync(sub);
	dtest_wait_snapshot(client, TOPIC, QUEUE, 0);
	/* 0..99 consumed, 100..299 waiting, all saved and in a saved snapshot */
	dtest_publish(pub, TOPIC, 1, "m", 0, 100, SIZE, TRUE);
	itest_raw_expect_publish_response(pub, 1);
	while (before->ids->len < 100)
		dtest_receive(sub, before, TRUE, TOPIC, QUEUE);
	itest_raw_free(sub);
	dtest_publish(pub, TOPIC, 2, "m", 100, 200, SIZE, TRUE);
	itest_raw_expect_publish_response(pub, 2);
	dtest_wait_snapshot(client, TOPIC, QUEUE, 100);
	g_assert_cmpfloat(dtest_metric(b, QSIZE), ==, 200);
	itest_run_for(1500);
	itest_raw_free(pub);

	itest_broker_kill(b);
	g_assert_true(WIFSIGNALED(b->wait_status));
	if (hole) {
		g_autoptr(GBytes) late = dtest_content("m", HOLE_ID, SIZE);
		MsbPersistMessage m = {0};

		m.id = HOLE_ID;
		m.created_us = g_get_real_time();
		m.content = g_bytes_get_data(late, &m.content_len);
		g_assert_true(ptest_save_messages(client, TOPIC, &m, 1, FALSE, &error));
		g_assert_no_error(error);
	}
	itest_broker_start(b, 0);

	if (hole) {
		/* ids up to the stored one stay (300..HOLE_ID-1 cannot be told from lost ones) */
		g_assert_cmpfloat(dtest_metric(b, QSIZE), ==, HOLE_ID + 1 - 100);
	} else {
		/* only the real messages wait, not the ids the snapshot reserved */
		g_assert_cmpfloat(dtest_metric(b, QSIZE), ==, 200);
		g_assert_cmpint(status_queue_size(b), ==, 200);
	}
	loads_before = dtest_metric(b, "msb_persistence_loads_total");

	sub = dtest_connect(b, "sub");
	pub = dtest_connect(b, "pub");
	itest_raw_subscribe(sub, TOPIC, QUEUE, 0);
	itest_raw_barrier(sub);
	dtest_publish(pub, TOPIC, 1, "after", 0, 1, SIZE, TRUE);
	itest_raw_expect_publish_response(pub, 1);
	while (dtest_received_find(after, sentinel) < 0)
		dtest_receive(sub, after, TRUE, TOPIC, QUEUE);
	loads = dtest_metric(b, "msb_persistence_loads_total") - loads_before;
	g_test_message("sub-pages loaded before the new message arrived: %.0f", loads);
	/* every real message, in order, then the new one */
	g_assert_cmpuint(after->ids->len, ==, hole ? 202 : 201);
	for (guint i = 0; i < after->ids->len - 1; i++) {
		gint64 id = i < 200 ? 100 + i : HOLE_ID;
		g_autoptr(GBytes) want = dtest_content("m", (guint)id, SIZE);
		g_assert_cmpint(g_array_index(after->ids, gint64, i), ==, id);
		g_assert_true(g_bytes_equal(g_ptr_array_index(after->content, i), want));
	}
	/* ids are never reused: the new one is past the reservation */
	g_assert_cmpint(g_array_index(after->ids, gint64, after->ids->len - 1), >=,
	                300 + 100000 - 1000);
	itest_raw_assert_quiet(sub);
	/* sub-page 0 and its read-ahead, not the 100 empty sub-pages up to the reservation */
	if (!hole)
		g_assert_cmpfloat(loads, <=, 5);
	g_assert_cmpfloat(dtest_metric(b, LOST), ==, 0);

	itest_raw_free(sub);
	itest_raw_free(pub);
	itest_broker_free(b);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	g_test_add_data_func("/damaged/block/skip", GINT_TO_POINTER(TRUE), test_damaged_block);
	g_test_add_data_func("/damaged/block/wait", GINT_TO_POINTER(FALSE), test_damaged_block);
	g_test_add_data_func("/damaged/crash-restart/no-phantoms", GINT_TO_POINTER(FALSE),
	                     test_crash_phantoms);
	g_test_add_data_func("/damaged/crash-restart/hole", GINT_TO_POINTER(TRUE),
	                     test_crash_phantoms);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
