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
	body = msb_status_render_json(stats, &info);
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

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/status-render/json-is-json-glib", test_render_json_is_json_glib);
	g_test_add_func("/status-render/metrics", test_render_metrics);

	return g_test_run();
}
