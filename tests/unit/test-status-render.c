/*
 * The status page's JSON, written without a JsonNode tree (msb-status-render.c): it must be the
 * very text json-glib's generator gives for the same document, escapes included (a client's
 * Greeting name may hold quotes, control bytes and any UTF-8), and the metrics must list each
 * topic and queue.
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "broker-fixture.h"
#include "msb-broker-stats.h"
#include "msb-history.h"
#include "msb-status-render.h"

static void
test_render_json_is_json_glib(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *odd = client_new_raw(fx);
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autofree gchar *again = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GPtrArray) batches = NULL;
	MsbHttpInfo info = {
	        .state = "running",
	        .persistence_url = "http://127.0.0.1:1/\"x\"",
	        .persistence_error = "line 1\nline 2\t\\",
	        .saves = 7,
	};
	const gchar *name = "we\"ird\\ app\t\x01\x1f\x7f caf\xc3\xa9";
	JsonObject *root;
	JsonArray *sessions;
	gboolean found = FALSE;

	g_assert_true(c_greet_full(odd, name, 3, &error));
	g_assert_no_error(error);
	make_topic(fx, "orders");
	make_topic(fx, "alpha");
	c_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_n(pub, "orders", 1500, 3));
	batches = c_read(sub);
	fx->mono += SEC / 2;

	stats = msb_broker_collect_stats(fx->broker);
	body = msb_status_render_json(stats, &info, "default");
	text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	/* json-glib writes the parsed document back as the same text */
	again = json_to_string(json_parser_get_root(parser), FALSE);
	g_assert_cmpstr(again, ==, text);

	root = json_node_get_object(json_parser_get_root(parser));
	sessions = json_object_get_array_member(json_object_get_object_member(root, "sessions"),
	                                        "items");
	for (guint i = 0; i < json_array_get_length(sessions); i++) {
		JsonObject *s = json_array_get_object_element(sessions, i);
		if (g_strcmp0(json_object_get_string_member(s, "name"), name) == 0)
			found = TRUE;
	}
	g_assert_true(found);
	g_assert_cmpstr(json_object_get_string_member(
	                        json_object_get_object_member(root, "persistence"), "lastError"),
	                ==, info.persistence_error);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
	                         json_object_get_object_member(root, "topics"), "items")),
	                 ==, 2);
	/* the subscriber on delivery: "0.5s <ids in flight>" */
	g_assert_nonnull(strstr(text, "\"deliveryStateStr\":\"0.5s "));
}

static void
test_render_metrics(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 1);
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *text = NULL;
	MsbHttpInfo info = {.state = "running", .tcp_connections = 3};

	make_topic(fx, "orders");
	make_topic(fx, "alpha");
	c_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	stats = msb_broker_collect_stats(fx->broker);
	body = msb_status_render_metrics(stats, &info);
	text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	g_assert_nonnull(strstr(text, "\ntopic_queue_size{namespace=\"default\",topic=\"orders\","
	                              "queue=\"billing\"} 0\n"));
	g_assert_nonnull(
	        strstr(text, "\ntopic_next_message_id{namespace=\"default\",topic=\"alpha\"} 0\n"));
	g_assert_nonnull(strstr(text, "\ntopics_without_queues 1\n"));
	g_assert_nonnull(strstr(text, "\npermanent_queues_without_subscribers 0\n"));
	g_assert_nonnull(strstr(text, "\ntcp_connections{tcp_metric=\"count\"} 3\n"));
	g_assert_nonnull(strstr(text, "\nmsb_up 1\n"));
}

static void
test_format_duration(void)
{
	const struct {
		gint64 us;
		const gchar *text;
	} cases[] = {
	        {0, "0ns"},
	        {-5, "0ns"},
	        {1, "1µs"},
	        {250, "250µs"},
	        {1000, "1ms"},
	        {1500, "1.5ms"},
	        {1001, "1.001ms"},
	        {999999, "999.999ms"},
	        {1000000, "1s"},
	        {12345600, "12.3456s"},
	        {12000001, "12.000001s"},
	        {59999999, "59.999999s"},
	        {60 * SEC, "00:01:00"},
	        {3723 * SEC + 500000, "01:02:03"},
	        {86399 * SEC, "23:59:59"},
	        {86400 * SEC, "1d:00:00:00"},
	        {(2 * 86400 + 3 * 3600 + 4 * 60 + 5) * SEC, "2d:03:04:05"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = msb_status_format_duration(cases[i].us);
		g_assert_cmpstr(text, ==, cases[i].text);
	}
}

static JsonObject *
parse_status(JsonParser *parser, const MsbBrokerStats *stats, const gchar *ns)
{
	MsbHttpInfo info = {.state = "running"};
	g_autoptr(GBytes) body = msb_status_render_json(stats, &info, ns);
	g_autoptr(GError) error = NULL;

	json_parser_load_from_data(parser, g_bytes_get_data(body, NULL),
	                           (gssize)g_bytes_get_size(body), &error);
	g_assert_no_error(error);
	return json_node_get_object(json_parser_get_root(parser));
}

/* The §6.4 fields of topics, subscribers, publishers and sessions, and the namespace filter:
 * topics of the namespace asked for, sessions of all. */
static void
test_render_fields(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 2, 0);
	Client *other = client_new(fx, 3, 1);
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(JsonParser) parser2 = json_parser_new();
	g_autoptr(GPtrArray) batches = NULL;
	JsonObject *root;
	JsonObject *topic;
	JsonObject *s;
	JsonArray *items;
	JsonArray *sessions;

	/* a Unix-socket client speaks the TCP protocol: "tcp[P]"; an HTTP session: "http" */
	MsbSession *unix_session =
	        msb_broker_session_new(fx->broker, MSB_SESSION_KIND_UNIX, "unix", NULL);
	MsbSession *http_session =
	        msb_broker_session_new(fx->broker, MSB_SESSION_KIND_HTTP, "127.0.0.1:1", NULL);

	make_topic(fx, "orders");
	c_namespace(other, "tenant");
	c_read(other);
	c_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_n(pub, "orders", 4, 50));
	batches = c_read(sub);
	fx->mono += SEC;
	fx->wall += 75 * SEC;
	stats = msb_broker_collect_stats(fx->broker);

	root = parse_status(parser, stats, "default");
	items = json_object_get_array_member(json_object_get_object_member(root, "topics"),
	                                     "items");
	g_assert_cmpuint(json_array_get_length(items), ==, 1);
	topic = json_array_get_object_element(items, 0);
	g_assert_cmpstr(json_object_get_string_member(topic, "id"), ==, "orders");
	g_assert_cmpint(json_object_get_int_member(topic, "messageId"), ==, 4);
	g_assert_cmpint(json_object_get_int_member(topic, "packetPerSec"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(topic, "messagesPerSec"), ==, 4);
	g_assert_cmpint(json_object_get_int_member(topic, "meanMessageSize"), ==, 50);
	g_assert_cmpuint(
	        json_array_get_length(json_object_get_array_member(topic, "publishHistory")), ==,
	        1);
	g_assert_cmpint(json_array_get_int_element(
	                        json_object_get_array_member(topic, "publishHistory"), 0),
	                ==, 4);
	s = json_array_get_object_element(json_object_get_array_member(topic, "publishers"), 0);
	g_assert_cmpint(json_object_get_int_member(s, "sessionId"), ==,
	                msb_session_get_id(pub->session));
	g_assert_cmpint(json_object_get_int_member(s, "active"), ==, 1);
	s = json_array_get_object_element(json_object_get_array_member(topic, "subscribers"), 0);
	g_assert_cmpint(json_object_get_int_member(s, "sessionId"), ==,
	                msb_session_get_id(sub->session));
	g_assert_cmpint(json_object_get_int_member(s, "active"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(s, "deliveryState"), ==, 2);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(json_object_get_member(s, "history")));
	g_assert_true(
	        json_object_has_member(json_object_get_object_member(root, "queues"), "orders"));
	sessions = json_object_get_array_member(json_object_get_object_member(root, "sessions"),
	                                        "items");
	g_assert_cmpuint(json_array_get_length(sessions), ==, 5);
	for (guint i = 0; i < json_array_get_length(sessions); i++) {
		s = json_array_get_object_element(sessions, i);
		gint64 id = json_object_get_int_member(s, "id");
		if (id == msb_session_get_id(unix_session) ||
		    id == msb_session_get_id(http_session)) {
			g_assert_cmpstr(json_object_get_string_member(s, "type"), ==,
			                id == msb_session_get_id(http_session) ? "http" : "tcp[0]");
			continue;
		}
		if (id == msb_session_get_id(sub->session))
			g_assert_cmpstr(json_object_get_string_member(s, "type"), ==, "tcp[2]");
		else
			g_assert_cmpstr(json_object_get_string_member(s, "type"), ==, "tcp[3]");
		g_assert_cmpstr(json_object_get_string_member(s, "namespace"), ==,
		                id == msb_session_get_id(other->session) ? "tenant" : "default");
		g_assert_cmpstr(json_object_get_string_member(s, "connected"), ==, "00:01:15");
		g_assert_cmpint(json_object_get_int_member(s, "readSize"), ==, 0);
		g_assert_cmpint(json_object_get_int_member(s, "writtenPerSec"), ==, 0);
	}

	/* another namespace: no topic, no queue, every session */
	root = parse_status(parser2, stats, "tenant");
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
	                         json_object_get_object_member(root, "topics"), "items")),
	                 ==, 0);
	g_assert_cmpuint(json_object_get_size(json_object_get_object_member(root, "queues")), ==,
	                 0);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
	                         json_object_get_object_member(root, "sessions"), "items")),
	                 ==, 5);
	msb_broker_session_close(fx->broker, unix_session);
	msb_broker_session_close(fx->broker, http_session);
}

/* Past MSB_STATUS_SUBSCRIBER_HISTORY_BUDGET values in all, each latency history shows only its
 * most recent seconds. */
static void
test_render_history_budget(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	const guint n_queues = 2 * MSB_STATUS_SUBSCRIBER_HISTORY_BUDGET / MSB_HISTORY_LEN;
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GPtrArray) batches = NULL;
	JsonArray *subs;
	JsonObject *topic;

	make_topic(fx, "orders");
	for (guint q = 0; q < n_queues; q++) {
		g_autofree gchar *queue = g_strdup_printf("q%04u", q);
		c_subscribe(sub, "orders", queue, MSB_QUEUE_TYPE_PERMANENT);
	}
	expect_response(pub, c_publish_n(pub, "orders", 1, 10));
	batches = c_read(sub);
	g_assert_cmpuint(batches->len, ==, n_queues);
	fx->mono += SEC / 10;
	for (guint i = 0; i < batches->len; i++)
		c_ok(sub, g_ptr_array_index(batches, i));
	/* every history: the delivery's second and 99 seconds of nothing */
	fx->mono += 100 * SEC;
	stats = msb_broker_collect_stats(fx->broker);
	topic = json_array_get_object_element(
	        json_object_get_array_member(
	                json_object_get_object_member(parse_status(parser, stats, "default"),
	                                              "topics"),
	                "items"),
	        0);
	g_assert_cmpstr(json_object_get_string_member(topic, "id"), ==, "orders");
	subs = json_object_get_array_member(topic, "subscribers");
	g_assert_cmpuint(json_array_get_length(subs), ==, n_queues);
	for (guint i = 0; i < n_queues; i++) {
		JsonArray *h = json_object_get_array_member(json_array_get_object_element(subs, i),
		                                            "history");
		g_assert_cmpuint(json_array_get_length(h), ==, MSB_HISTORY_LEN / 2);
		/* the most recent: the zeros, not the delivery's second */
		g_assert_cmpint(json_array_get_int_element(h, 0), ==, 0);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/status-render/json-is-json-glib", test_render_json_is_json_glib);
	g_test_add_func("/status-render/metrics", test_render_metrics);
	g_test_add_func("/status-render/format-duration", test_format_duration);
	g_test_add_func("/status-render/fields", test_render_fields);
	g_test_add_func("/status-render/history-budget", test_render_history_budget);

	return g_test_run();
}
