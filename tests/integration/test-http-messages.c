/*
 * GET /api/Messages, the message browser's API: pages of a topic's messages from memory, and
 * from the persistence service for those memory no longer holds (after a restart); 400 and 404.
 */
#define G_LOG_DOMAIN "test-http-messages"

#include <string.h>

#include "dtest.h"

static JsonObject *
get_messages(ItestBroker *b, const gchar *query, guint expect_status, JsonNode **keep)
{
	g_autofree gchar *path = g_strdup_printf("/api/Messages?%s", query);
	guint status = 0;
	g_autofree gchar *body = itest_broker_http(b, "GET", path, NULL, NULL, NULL, &status);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	if (status != expect_status)
		g_error("GET %s: %u %s (expected %u)", path, status, body, expect_status);
	if (expect_status != 200) {
		g_assert_cmpstr(body, !=, "");
		return NULL;
	}
	json_parser_load_from_data(parser, body, -1, &error);
	g_assert_no_error(error);
	*keep = json_node_copy(json_parser_get_root(parser));
	return json_node_get_object(*keep);
}

static JsonObject *
message_at(JsonObject *page, guint i)
{
	JsonArray *messages = json_object_get_array_member(page, "messages");
	g_assert_cmpuint(json_array_get_length(messages), >, i);
	return json_array_get_object_element(messages, i);
}

static guint
n_messages(JsonObject *page)
{
	return json_array_get_length(json_object_get_array_member(page, "messages"));
}

static void
assert_content(JsonObject *m, const guint8 *expect, gsize expect_len)
{
	gsize len = 0;
	g_autofree guchar *content =
	        g_base64_decode(json_object_get_string_member(m, "content"), &len);

	g_assert_cmpmem(content, len, expect, expect_len);
	g_assert_cmpint(json_object_get_int_member(m, "size"), ==, (gint64)expect_len);
}

static void
test_messages_memory(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) sub = itest_raw_connect(f->broker);
	const gchar *const contents[] = {"first", "{\"n\":2}", "third"};
	g_autoptr(JsonNode) n1 = NULL;
	g_autoptr(JsonNode) n2 = NULL;
	g_autoptr(JsonNode) n3 = NULL;
	JsonObject *page;
	JsonObject *m;
	JsonArray *headers;

	itest_raw_greet(pub, "messages-test", 3, -1);
	itest_raw_create_topic(pub, "browse");
	/* in memory, what no queue needs is collected within a second: a queue holds them */
	itest_raw_greet(sub, "messages-test-sub", 3, -1);
	itest_raw_subscribe(sub, "browse", "keep", 0);
	itest_raw_sync(sub);
	itest_raw_publish(pub, "browse", 1, contents, 3, TRUE);
	itest_raw_expect_publish_response(pub, 1);

	page = get_messages(f->broker, "topicId=browse", 200, &n1);
	g_assert_cmpstr(json_object_get_string_member(page, "topicId"), ==, "browse");
	g_assert_cmpint(json_object_get_int_member(page, "minId"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(page, "nextId"), ==, 3);
	g_assert_cmpuint(n_messages(page), ==, 3);
	for (guint i = 0; i < 3; i++) {
		m = message_at(page, i);
		g_assert_cmpint(json_object_get_int_member(m, "id"), ==, i);
		assert_content(m, (const guint8 *)contents[i], strlen(contents[i]));
		g_assert_cmpstr(json_object_get_string_member(m, "source"), ==, "memory");
		/* RFC 3339, UTC */
		g_assert_true(g_str_has_suffix(json_object_get_string_member(m, "created"), "Z"));
		headers = json_object_get_array_member(m, "headers");
		g_assert_cmpuint(json_array_get_length(headers), ==, 1);
		g_assert_cmpstr(json_object_get_string_member(
		                        json_array_get_object_element(headers, 0), "key"),
		                ==, "k");
		g_assert_cmpstr(json_object_get_string_member(
		                        json_array_get_object_element(headers, 0), "value"),
		                ==, "v");
	}

	/* a page of one from id 1, and where the next one starts */
	page = get_messages(f->broker, "topicid=browse&fromId=1&limit=1", 200, &n2);
	g_assert_cmpuint(n_messages(page), ==, 1);
	g_assert_cmpint(json_object_get_int_member(message_at(page, 0), "id"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(page, "nextId"), ==, 2);
	/* past the end: empty */
	page = get_messages(f->broker, "topicId=browse&fromId=3", 200, &n3);
	g_assert_cmpuint(n_messages(page), ==, 0);

	/* bad requests */
	get_messages(f->broker, "topicId=nosuchtopic", 404, NULL);
	get_messages(f->broker, "fromId=0", 400, NULL);
	get_messages(f->broker, "topicId=browse&limit=0", 400, NULL);
	get_messages(f->broker, "topicId=browse&limit=101", 400, NULL);
	get_messages(f->broker, "topicId=browse&limit=ten", 400, NULL);
	get_messages(f->broker, "topicId=browse&fromId=-1", 400, NULL);
}

/* After a restart nothing of the topic is in memory: the messages come from the service. */
static void
test_messages_persistence(void)
{
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(ItestRaw) pub = NULL;
	const gchar *const contents[] = {"stored-0", "stored-1", "stored-2"};
	g_autoptr(JsonNode) n1 = NULL;
	g_autoptr(JsonNode) n2 = NULL;
	g_autoptr(JsonNode) n3 = NULL;
	JsonObject *page;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, NULL);
	itest_broker_start(b, 0);
	pub = dtest_connect(b, "messages-test");
	itest_raw_create_topic(pub, "stored");
	itest_raw_publish(pub, "stored", 1, contents, 3, TRUE);
	itest_raw_expect_publish_response(pub, 1);
	/* in memory before the restart */
	page = get_messages(b, "topicId=stored", 200, &n1);
	g_assert_cmpuint(n_messages(page), ==, 3);
	g_assert_cmpstr(json_object_get_string_member(message_at(page, 0), "source"), ==, "memory");
	g_clear_pointer(&pub, itest_raw_free);

	/* a graceful stop saves everything; the restart loads no sub-page (no queue needs one) */
	itest_broker_stop(b, SIGTERM);
	g_assert_cmpint(dtest_service_max_id(ps, "stored"), ==, 2);
	itest_broker_start(b, 0);

	page = get_messages(b, "topicId=stored&fromId=0", 200, &n2);
	g_assert_cmpuint(n_messages(page), ==, 3);
	for (guint i = 0; i < 3; i++) {
		JsonObject *m = message_at(page, i);
		JsonArray *headers = json_object_get_array_member(m, "headers");

		g_assert_cmpint(json_object_get_int_member(m, "id"), ==, i);
		g_assert_cmpstr(json_object_get_string_member(m, "source"), ==, "persistence");
		assert_content(m, (const guint8 *)contents[i], strlen(contents[i]));
		g_assert_cmpuint(json_array_get_length(headers), ==, 1);
		g_assert_cmpstr(json_object_get_string_member(
		                        json_array_get_object_element(headers, 0), "value"),
		                ==, "v");
		g_assert_false(json_object_get_null_member(m, "created"));
	}
	/* a limit inside what the service has: the next page starts at the first one left out */
	page = get_messages(b, "topicId=stored&fromId=1&limit=1", 200, &n3);
	g_assert_cmpuint(n_messages(page), ==, 1);
	g_assert_cmpint(json_object_get_int_member(message_at(page, 0), "id"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(page, "nextId"), ==, 2);
	get_messages(b, "topicId=nosuchtopic", 404, NULL);

	itest_broker_free(b);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	dtest_init(&argc, &argv);
	ITEST_ADD("/http-messages/memory", NULL, test_messages_memory);
	g_test_add_func("/http-messages/persistence", test_messages_persistence);
	return g_test_run();
}
