/*
 * /api/Status and the legacy /status against the real broker (node.md §6.4): after a publisher
 * published, a subscriber received and confirmed, and another queue kept its messages, every
 * field the original UIs and the multi-environment dashboard read is there with its type, and
 * its value matches what the test did: ids, counts, the sessions' ids, names, types and byte
 * counts, queue sizes and ranges, publisher and subscriber "active", history lengths, and the
 * namespace filter (topics of the namespace asked for, sessions of all). No timing is asserted:
 * the per-second values are checked for range and type here, and exactly in the unit tests
 * with a fake clock. /api/Status/First, the UI's first screen, is checked here too.
 */
#include <string.h>

#include "itest.h"

#define MESSAGE_SIZE 10

static JsonNode *
get_status(ItestBroker *b, const gchar *path, const gchar *ns)
{
	const gchar *headers[] = {"ns", ns, NULL};
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *body = NULL;
	guint status = 0;

	body = itest_broker_http(b, "GET", path, NULL, NULL, ns != NULL ? headers : NULL, &status);
	g_assert_cmpuint(status, ==, 200);
	json_parser_load_from_data(parser, body, -1, &error);
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

/* The member exists and holds a value of @type (G_TYPE_INT64, G_TYPE_STRING, G_TYPE_BOOLEAN), or
 * JSON_NODE_ARRAY / JSON_NODE_OBJECT with @type 0. */
static JsonNode *
member(JsonObject *o, const gchar *name, JsonNodeType node_type, GType type)
{
	JsonNode *node = json_object_get_member(o, name);

	if (node == NULL)
		g_error("member \"%s\" is missing", name);
	if (JSON_NODE_TYPE(node) != node_type)
		g_error("member \"%s\" is a %s", name, json_node_type_name(node));
	if (type != 0 && json_node_get_value_type(node) != type)
		g_error("member \"%s\" holds a %s, not a %s", name,
		        g_type_name(json_node_get_value_type(node)), g_type_name(type));
	return node;
}

static gint64
int_member(JsonObject *o, const gchar *name)
{
	return json_node_get_int(member(o, name, JSON_NODE_VALUE, G_TYPE_INT64));
}

static const gchar *
str_member(JsonObject *o, const gchar *name)
{
	return json_node_get_string(member(o, name, JSON_NODE_VALUE, G_TYPE_STRING));
}

static JsonArray *
array_member(JsonObject *o, const gchar *name)
{
	return json_node_get_array(member(o, name, JSON_NODE_ARRAY, 0));
}

static JsonObject *
object_member(JsonObject *o, const gchar *name)
{
	return json_node_get_object(member(o, name, JSON_NODE_OBJECT, 0));
}

/* An array of up to 120 integers (a per-second history). */
static guint
check_history(JsonArray *history)
{
	guint n = json_array_get_length(history);

	g_assert_cmpuint(n, <=, 120);
	for (guint i = 0; i < n; i++) {
		JsonNode *v = json_array_get_element(history, i);
		g_assert_true(JSON_NODE_HOLDS_VALUE(v));
		g_assert_true(json_node_get_value_type(v) == G_TYPE_INT64);
	}
	return n;
}

/* "12.3456s", "1.5ms", "250µs", "0ns", "HH:MM:SS" or "Nd:HH:MM:SS" */
static void
check_duration(const gchar *text)
{
	if (!g_regex_match_simple("^([0-9]+(\\.[0-9]+)?(s|ms|µs|ns)|([0-9]+d:)?[0-9]{2}:[0-9]{2}:"
	                          "[0-9]{2})$",
	                          text, 0, 0))
		g_error("\"%s\" is not a duration as the status page shows it", text);
}

static JsonObject *
find_by(JsonArray *items, const gchar *key, const gchar *value)
{
	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *o = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member_with_default(o, key, NULL), value) == 0)
			return o;
	}
	return NULL;
}

static JsonObject *
find_session(JsonArray *items, gint64 id)
{
	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *o = json_array_get_object_element(items, i);
		if (json_object_get_int_member(o, "id") == id)
			return o;
	}
	return NULL;
}

/* present, a string or null */
static void
check_optional_string(JsonObject *o, const gchar *name)
{
	JsonNode *node = json_object_get_member(o, name);

	g_assert_nonnull(node);
	g_assert_true(
	        JSON_NODE_HOLDS_NULL(node) ||
	        (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING));
}

static void
check_session(JsonObject *s)
{
	g_assert_cmpint(int_member(s, "id"), >=, 0);
	str_member(s, "name");
	str_member(s, "namespace");
	str_member(s, "type");
	str_member(s, "ip");
	check_optional_string(s, "version");
	check_optional_string(s, "envInfo");
	check_duration(str_member(s, "connected"));
	check_duration(str_member(s, "lastIncoming"));
	g_assert_cmpint(int_member(s, "readSize"), >, 0);
	g_assert_cmpint(int_member(s, "writtenSize"), >, 0);
	g_assert_cmpint(int_member(s, "readPerSec"), >=, 0);
	g_assert_cmpint(int_member(s, "writtenPerSec"), >=, 0);
}

static gboolean
status_without_session(ItestBroker *b, const gchar *name, JsonNode **node)
{
	g_clear_pointer(node, json_node_unref);
	*node = get_status(b, "/api/Status?fresh=true", NULL);
	return find_by(array_member(object_member(json_node_get_object(*node), "sessions"),
	                            "items"),
	               "name", name) == NULL;
}

static void
test_status_fields(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) sub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) audit = itest_raw_connect(f->broker);
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(JsonNode) other = NULL;
	g_autoptr(JsonNode) legacy = NULL;
	JsonObject *root;
	JsonObject *topic;
	JsonObject *o;
	JsonArray *items;
	JsonArray *sessions;
	JsonArray *queues;
	JsonArray *data_ranges;
	gint64 pub_id;
	gint64 sub_id;
	gboolean found = FALSE;

	itest_raw_greet(pub, "status-pub;1.2.3;env-a", 3, -1);
	itest_raw_greet(sub, "status-sub", 3, -1);
	itest_raw_greet(audit, "status-audit", 3, -1);
	itest_raw_create_topic(pub, "orders");
	itest_raw_create_topic(pub, "alpha");
	itest_raw_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	itest_raw_subscribe(audit, "orders", "audit", MSB_QUEUE_TYPE_PERMANENT);
	itest_raw_sync(sub);
	itest_raw_sync(audit);
	itest_raw_publish_sized(pub, "orders", 1, 3, MESSAGE_SIZE);
	itest_raw_expect_publish_response(pub, 1);
	itest_raw_publish_sized(pub, "orders", 2, 2, MESSAGE_SIZE);
	itest_raw_expect_publish_response(pub, 2);
	/* billing: receive and confirm everything (the two publishes may come as one batch or
	 * two); audit: receive a batch and go away without confirming, so that its messages wait
	 * in the queue again and stay in memory */
	for (guint received = 0; received < 5;) {
		g_autoptr(ItestPacket) p = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
		itest_raw_confirm(sub, TRUE, p->topic, p->queue, p->confirmation_id);
		received += p->messages->len;
	}
	itest_raw_barrier(sub);
	itest_packet_free(itest_raw_expect(audit, MSB_PACKET_NEW_MESSAGES));
	g_clear_pointer(&audit, itest_raw_free);
	ITEST_WAIT_FOR(status_without_session(f->broker, "status-audit", &node));
	root = json_node_get_object(node);

	/* sessions: every one, with the §6.4 fields */
	sessions = array_member(object_member(root, "sessions"), "items");
	int_member(object_member(root, "sessions"), "snapshotId");
	for (guint i = 0; i < json_array_get_length(sessions); i++)
		check_session(json_array_get_object_element(sessions, i));
	o = find_by(sessions, "name", "status-pub");
	g_assert_nonnull(o);
	pub_id = int_member(o, "id");
	g_assert_cmpstr(str_member(o, "type"), ==, "tcp[3]");
	g_assert_cmpstr(str_member(o, "namespace"), ==, "default");
	g_assert_cmpstr(str_member(o, "version"), ==, "1.2.3");
	g_assert_cmpstr(str_member(o, "envInfo"), ==, "env-a");
	g_assert_true(g_str_has_prefix(str_member(o, "ip"), "127.0.0.1:"));
	/* two publishes of 3 and 2 messages of 10 bytes, plus the greeting and topic creation */
	g_assert_cmpint(int_member(o, "readSize"), >, 5 * MESSAGE_SIZE);
	o = find_by(sessions, "name", "status-sub");
	g_assert_nonnull(o);
	sub_id = int_member(o, "id");
	g_assert_cmpint(int_member(o, "writtenSize"), >, 5 * MESSAGE_SIZE);
	g_assert_true(json_object_get_null_member(o, "version"));

	/* topics */
	items = array_member(object_member(root, "topics"), "items");
	int_member(object_member(root, "topics"), "snapshotId");
	g_assert_cmpuint(json_array_get_length(items), ==, 2);
	g_assert_nonnull(find_by(items, "id", "alpha"));
	topic = find_by(items, "id", "orders");
	g_assert_nonnull(topic);
	g_assert_cmpint(int_member(topic, "messageId"), ==, 5);
	g_assert_cmpint(int_member(topic, "packetPerSec"), >=, 0);
	g_assert_cmpint(int_member(topic, "packetPerSec"), <=, 2);
	g_assert_cmpint(int_member(topic, "messagesPerSec"), >=, 0);
	g_assert_cmpint(int_member(topic, "messagesPerSec"), <=, 5);
	g_assert_cmpint(int_member(topic, "meanMessageSize"), ==, MESSAGE_SIZE);
	g_assert_cmpint(int_member(topic, "persistSize"), ==, 0); /* in memory */
	check_history(array_member(topic, "publishHistory"));
	member(topic, "persist", JSON_NODE_VALUE, G_TYPE_BOOLEAN);
	int_member(topic, "deleted");
	/* one page, id 0, one sub-page (0), five messages of ten bytes */
	o = json_array_get_object_element(array_member(topic, "pages"), 0);
	g_assert_cmpuint(json_array_get_length(array_member(topic, "pages")), ==, 1);
	g_assert_cmpint(int_member(o, "id"), ==, 0);
	g_assert_cmpint(int_member(o, "amount"), ==, 5);
	g_assert_cmpint(int_member(o, "size"), ==, 5 * MESSAGE_SIZE);
	g_assert_cmpint(int_member(o, "persist_size"), ==, 0);
	g_assert_cmpuint(json_array_get_length(array_member(o, "subPages")), ==, 1);
	g_assert_cmpint(json_array_get_int_element(array_member(o, "subPages"), 0), ==, 0);
	/* the publisher, by its session id */
	g_assert_cmpuint(json_array_get_length(array_member(topic, "publishers")), ==, 1);
	o = json_array_get_object_element(array_member(topic, "publishers"), 0);
	g_assert_cmpint(int_member(o, "sessionId"), ==, pub_id);
	g_assert_cmpint(int_member(o, "active"), >=, 0);
	g_assert_cmpint(int_member(o, "active"), <=, 2);
	/* the subscriber of billing (audit's left) */
	g_assert_cmpuint(json_array_get_length(array_member(topic, "subscribers")), ==, 1);
	for (guint i = 0; i < 1; i++) {
		o = json_array_get_object_element(array_member(topic, "subscribers"), i);
		g_assert_cmpint(int_member(o, "id"), >=, 0);
		g_assert_cmpint(int_member(o, "sessionId"), ==, sub_id);
		str_member(o, "queueId");
		g_assert_cmpint(int_member(o, "active"), >=, 0);
		g_assert_cmpint(int_member(o, "active"), <=, 2);
		g_assert_cmpint(int_member(o, "deliveryState"), ==, 0); /* all confirmed */
		g_assert_cmpstr(str_member(o, "deliveryStateStr"), ==, "Idle");
		check_history(array_member(o, "history"));
	}
	g_assert_nonnull(find_by(array_member(topic, "subscribers"), "queueId", "billing"));

	/* queues of orders: billing empty, its cursor at 5 (the empty-range form); audit waits
	 * for all five */
	o = object_member(object_member(root, "queues"), "orders");
	int_member(o, "snapshotId");
	queues = array_member(o, "queues");
	g_assert_cmpuint(json_array_get_length(queues), ==, 2);
	for (guint i = 0; i < 2; i++) {
		gboolean is_audit;
		o = json_array_get_object_element(queues, i);
		is_audit = g_strcmp0(str_member(o, "id"), "audit") == 0;
		g_assert_cmpint(int_member(o, "queueType"), ==, MSB_QUEUE_TYPE_PERMANENT);
		g_assert_cmpint(int_member(o, "size"), ==, is_audit ? 5 : 0);
		g_assert_cmpint(int_member(o, "onDelivery"), ==, 0);
		data_ranges = array_member(o, "data");
		g_assert_cmpuint(json_array_get_length(data_ranges), ==, 1);
		o = json_array_get_object_element(data_ranges, 0);
		g_assert_cmpint(int_member(o, "fromId"), ==, is_audit ? 0 : 5);
		g_assert_cmpint(int_member(o, "toId"), ==, 4);
	}
	g_assert_cmpuint(json_array_get_length(array_member(
	                         object_member(object_member(root, "queues"), "alpha"), "queues")),
	                 ==, 0);

	/* the rest of the top level */
	o = object_member(root, "system");
	g_assert_cmpint(int_member(o, "totalmem"), >, 0);
	g_assert_cmpint(int_member(o, "usedmem"), >, 0);
	str_member(root, "persistenceVersion");
	str_member(root, "version");
	/* tracing is off, MCP writes are closed: both omitted */
	g_assert_false(json_object_has_member(root, "debug"));
	g_assert_false(json_object_has_member(root, "mcpWritesRemainingSecs"));

	/* another namespace: no topic, no queue, but every session */
	other = get_status(f->broker, "/api/Status?fresh=true", "tenant");
	root = json_node_get_object(other);
	g_assert_cmpuint(
	        json_array_get_length(array_member(object_member(root, "topics"), "items")), ==, 0);
	g_assert_cmpuint(json_object_get_size(object_member(root, "queues")), ==, 0);
	sessions = array_member(object_member(root, "sessions"), "items");
	g_assert_nonnull(find_session(sessions, pub_id));
	g_assert_nonnull(find_session(sessions, sub_id));

	/* the legacy path and ?ns= */
	legacy = get_status(f->broker, "/status?ns=default&fresh=true", NULL);
	root = json_node_get_object(legacy);
	items = array_member(object_member(root, "topics"), "items");
	topic = find_by(items, "id", "orders");
	g_assert_nonnull(topic);
	for (guint i = 0; i < json_array_get_length(array_member(topic, "publishers")); i++) {
		o = json_array_get_object_element(array_member(topic, "publishers"), i);
		if (int_member(o, "sessionId") == pub_id)
			found = TRUE;
	}
	g_assert_true(found);
}

/* A publisher whose connection closed leaves the topic's publishers. */
static void
test_status_publisher_gone(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(JsonNode) node = NULL;
	JsonObject *topic;

	itest_raw_greet(pub, "gone-pub", 3, -1);
	itest_raw_create_topic(pub, "orders");
	itest_raw_publish_sized(pub, "orders", 1, 1, MESSAGE_SIZE);
	itest_raw_expect_publish_response(pub, 1);
	g_clear_pointer(&pub, itest_raw_free);
	/* the broker sees the close a little later */
	ITEST_WAIT_FOR(status_without_session(f->broker, "gone-pub", &node));
	topic = find_by(array_member(object_member(json_node_get_object(node), "topics"), "items"),
	                "id", "orders");
	g_assert_nonnull(topic);
	g_assert_cmpuint(json_array_get_length(array_member(topic, "publishers")), ==, 0);
	g_assert_cmpint(int_member(topic, "meanMessageSize"), ==, MESSAGE_SIZE);
}

/* /api/Status/First (the UI's first screen): the first topics in the order asked for, with a
 * summary of the namespace; bad parameters get a 400 with a readable text. */
static void
test_status_first(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(JsonNode) by_rate = NULL;
	JsonObject *root;
	JsonObject *summary;
	JsonArray *items;
	const gchar *bad[] = {"/api/Status/First?topics=0", "/api/Status/First?topics=501",
	                      "/api/Status/First?topics=many", "/api/Status/First?sort=size"};

	itest_raw_greet(pub, "first-pub", 3, -1);
	itest_raw_create_topic(pub, "alpha");
	itest_raw_create_topic(pub, "beta");
	itest_raw_create_topic(pub, "gamma");
	itest_raw_publish_sized(pub, "gamma", 1, 3, MESSAGE_SIZE);
	itest_raw_expect_publish_response(pub, 1);

	/* any case, as every path */
	node = get_status(f->broker, "/api/status/first?topics=2&fresh=true", NULL);
	root = json_node_get_object(node);
	items = array_member(object_member(root, "topics"), "items");
	g_assert_cmpuint(json_array_get_length(items), ==, 2);
	g_assert_cmpstr(str_member(json_array_get_object_element(items, 0), "id"), ==, "alpha");
	g_assert_cmpstr(str_member(json_array_get_object_element(items, 1), "id"), ==, "beta");
	g_assert_true(json_object_has_member(object_member(root, "queues"), "alpha"));
	g_assert_false(json_object_has_member(object_member(root, "queues"), "gamma"));
	summary = object_member(root, "summary");
	g_assert_cmpint(int_member(summary, "topics"), ==, 3);
	g_assert_cmpint(int_member(summary, "sessions"), >=, 1);
	g_assert_cmpint(int_member(summary, "problemQueues"), ==, 0);
	str_member(root, "version");

	/* another order (the orders themselves are checked in test-status-render.c, with a fake
	 * clock): one topic of the three */
	by_rate = get_status(f->broker, "/api/Status/First?topics=1&sort=Rate", NULL);
	items = array_member(object_member(json_node_get_object(by_rate), "topics"), "items");
	g_assert_cmpuint(json_array_get_length(items), ==, 1);
	g_assert_cmpint(
	        int_member(object_member(json_node_get_object(by_rate), "summary"), "topics"), ==,
	        3);

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		guint status = 0;
		g_autofree gchar *body =
		        itest_broker_http(f->broker, "GET", bad[i], NULL, NULL, NULL, &status);
		g_assert_cmpuint(status, ==, 400);
		g_assert_nonnull(strstr(body, "the query parameter"));
	}
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/status/fields", NULL, test_status_fields);
	ITEST_ADD("/status/publisher-gone", NULL, test_status_publisher_gone);
	ITEST_ADD("/status/first", NULL, test_status_first);
	return g_test_run();
}
