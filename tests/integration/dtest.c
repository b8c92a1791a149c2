/*
 * The durability test harness (see dtest.h): broker and persistence service together.
 */
#include "dtest.h"

#include <string.h>

void
dtest_init(int *argc, char ***argv)
{
	ptest_init(argc, argv);
	if (g_getenv("MSB_BROKER") == NULL)
		g_error("$MSB_BROKER is not set; run the integration tests with meson test");
}

ItestBroker *
dtest_broker_new(PtestService *ps, const gchar *settings)
{
	g_autofree gchar *text = NULL;

	g_assert_cmpuint(ps->grpc_port, >, 0);
	text = g_strdup_printf("GrpcUrl: http://127.0.0.1:%u\n"
	                       "EventuallyPersistenceDelay: 1s\n"
	                       "%s",
	                       ps->grpc_port, settings != NULL ? settings : "");
	return itest_broker_new(text);
}

void
dtest_broker_wait_http(ItestBroker *b)
{
	const gchar *needle = "HTTP (status, metrics) on 127.0.0.1:";
	g_autofree gchar *text = NULL;
	const gchar *at;

	itest_broker_wait_log(b, needle, 1, ITEST_TIMEOUT_MS);
	g_assert_true(g_file_get_contents(b->log_path, &text, NULL, NULL));
	at = strstr(text, needle);
	g_assert_nonnull(at);
	b->http_port = (guint16)g_ascii_strtoull(at + strlen(needle), NULL, 10);
	g_assert_cmpuint(b->http_port, >, 0);
}

GBytes *
dtest_content(const gchar *prefix, guint n, gsize size)
{
	GString *s = g_string_new(NULL);
	gsize len;

	g_string_printf(s, "%s-%u", prefix, n);
	for (gsize i = s->len; i < size; i++)
		g_string_append_c(s, (gchar)('a' + (n + i) % 26));
	len = s->len;
	return g_bytes_new_take(g_string_free(s, FALSE), len);
}

void
dtest_publish(ItestRaw *r, const gchar *topic, gint64 request_id, const gchar *prefix, guint first,
              guint count, gsize size, gboolean persist_immediately)
{
	MsbBuf buf;
	gsize count_at = 0;
	g_autoptr(GError) error = NULL;

	msb_buf_init(&buf, 0);
	msb_wire_publish_begin(&buf, topic, request_id, &count_at, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < count; i++) {
		g_autoptr(GBytes) content = dtest_content(prefix, first + i, size);
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(content, &len);

		msb_wire_publish_add(&buf, r->protocol_version, NULL, 0, data, len);
	}
	msb_wire_publish_end(&buf, count_at, count, persist_immediately);
	itest_raw_send_buf(r, &buf);
	msb_buf_clear(&buf);
}

ItestRaw *
dtest_connect(ItestBroker *b, const gchar *name)
{
	ItestRaw *r = itest_raw_connect(b);

	itest_raw_greet(r, name, 3, 1);
	itest_raw_sync(r);
	return r;
}

DtestReceived *
dtest_received_new(void)
{
	DtestReceived *r = g_new0(DtestReceived, 1);

	r->ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	r->attempts = g_array_new(FALSE, FALSE, sizeof(gint32));
	r->content = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	return r;
}

void
dtest_received_free(DtestReceived *r)
{
	if (r == NULL)
		return;
	g_array_unref(r->ids);
	g_array_unref(r->attempts);
	g_ptr_array_unref(r->content);
	g_free(r);
}

guint
dtest_receive(ItestRaw *sub, DtestReceived *into, gboolean confirm, const gchar *topic,
              const gchar *queue)
{
	g_autoptr(ItestPacket) p = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);

	g_assert_cmpstr(p->topic, ==, topic);
	g_assert_cmpstr(p->queue, ==, queue);
	for (guint i = 0; i < p->messages->len; i++) {
		ItestMessage *m = itest_packet_message(p, i);

		g_array_append_val(into->ids, m->id);
		g_array_append_val(into->attempts, m->attempt);
		g_ptr_array_add(into->content, g_bytes_ref(m->content));
	}
	if (confirm)
		itest_raw_confirm(sub, TRUE, topic, queue, p->confirmation_id);
	return p->messages->len;
}

gint
dtest_received_find(DtestReceived *r, GBytes *content)
{
	for (guint i = 0; i < r->content->len; i++) {
		if (g_bytes_equal(g_ptr_array_index(r->content, i), content))
			return (gint)i;
	}
	return -1;
}

gdouble
dtest_metric(ItestBroker *b, const gchar *series)
{
	guint status = 0;
	g_autofree gchar *body = ptest_http_get(b->http_port, "/metrics?fresh=true", &status);
	g_auto(GStrv) lines = NULL;
	gsize len = strlen(series);

	g_assert_cmpuint(status, ==, 200);
	lines = g_strsplit(body, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (strncmp(lines[i], series, len) == 0 && lines[i][len] == ' ')
			return g_ascii_strtod(lines[i] + len + 1, NULL);
	}
	g_error("no sample %s in the broker's /metrics:\n%s", series, body);
	return 0;
}

JsonNode *
dtest_service_status(PtestService *ps)
{
	guint status = 0;
	g_autofree gchar *body = ptest_http_get(ps->http_port, "/api/status", &status);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(status, ==, 200);
	json_parser_load_from_data(parser, body, -1, &error);
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

gint64
dtest_service_max_id(PtestService *ps, const gchar *topic)
{
	g_autoptr(JsonNode) root = dtest_service_status(ps);
	JsonArray *topics = json_object_get_array_member(json_node_get_object(root), "topics");

	for (guint i = 0; i < json_array_get_length(topics); i++) {
		JsonObject *t = json_array_get_object_element(topics, i);
		if (g_strcmp0(json_object_get_string_member(t, "topic_id"), topic) == 0)
			return json_object_get_int_member(t, "max_id");
	}
	return -1;
}

/* Does @snapshot (MsbPersistTopicSnapshot*) have @queue of @topic with nothing below @min_id? */
static gboolean
dtest_snapshot_matches(GPtrArray *snapshot, const gchar *topic, const gchar *queue, gint64 min_id)
{
	for (guint t = 0; t < snapshot->len; t++) {
		MsbPersistTopicSnapshot *ts = g_ptr_array_index(snapshot, t);

		if (g_strcmp0(ts->topic_id, topic) != 0)
			continue;
		for (guint q = 0; q < ts->queues->len; q++) {
			MsbPersistQueueSnapshot *qs = g_ptr_array_index(ts->queues, q);

			if (g_strcmp0(qs->queue_id, queue) != 0)
				continue;
			for (guint r = 0; r < qs->ranges->len; r++) {
				const MsbPersistRange *range =
				        &g_array_index(qs->ranges, MsbPersistRange, r);
				/* the empty-range form {cursor, cursor - 1} holds no id */
				if (range->from_id <= range->to_id && range->from_id < min_id)
					return FALSE;
			}
			return TRUE;
		}
	}
	return FALSE;
}

void
dtest_wait_snapshot(MsbPersistenceClient *client, const gchar *topic, const gchar *queue,
                    gint64 min_id)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)ITEST_TIMEOUT_MS * 1000;

	for (;;) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) snapshot = ptest_get_snapshot(client, &error);

		g_assert_no_error(error);
		if (dtest_snapshot_matches(snapshot, topic, queue, min_id))
			return;
		if (g_get_monotonic_time() > deadline)
			g_error("timed out waiting for a queue snapshot of %s/%s without ids below "
			        "%" G_GINT64_FORMAT,
			        topic, queue, min_id);
		/* the broker saves a snapshot at most once a second */
		itest_run_for(50);
	}
}
