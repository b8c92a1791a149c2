/*
 * The OpenAPI document served at /swagger/v1/swagger.yaml (data/openapi.json) against the routes
 * the broker's HTTP adapter really registers: every route is documented and every documented
 * operation is a route, with the same admin-token requirement; the document is well formed
 * enough for tools (unique operation ids, a summary and responses everywhere, every $ref
 * resolves).
 */
#include <json-glib/json-glib.h>

#include "msb-broker.h"
#include "msb-config.h"
#include "msb-http-docs.h"
#include "msb-http.h"

/* "get /api/topics/create" */
static gchar *
route_key(const gchar *method, const gchar *path)
{
	g_autofree gchar *m = g_ascii_strdown(method, -1);

	return g_strdup_printf("%s %s", m, path);
}

static void
check_refs(JsonObject *root, JsonNode *node)
{
	if (JSON_NODE_HOLDS_OBJECT(node)) {
		JsonObject *obj = json_node_get_object(node);
		g_autoptr(GList) members = json_object_get_members(obj);

		if (json_object_has_member(obj, "$ref")) {
			const gchar *ref = json_object_get_string_member(obj, "$ref");
			g_auto(GStrv) parts = NULL;
			JsonObject *at = root;

			g_assert_true(g_str_has_prefix(ref, "#/"));
			parts = g_strsplit(ref + 2, "/", -1);
			for (guint i = 0; parts[i] != NULL; i++) {
				if (!json_object_has_member(at, parts[i]))
					g_error("$ref %s does not resolve", ref);
				at = json_object_get_object_member(at, parts[i]);
			}
		}
		for (GList *l = members; l != NULL; l = l->next)
			check_refs(root, json_object_get_member(obj, l->data));
	} else if (JSON_NODE_HOLDS_ARRAY(node)) {
		JsonArray *arr = json_node_get_array(node);

		for (guint i = 0; i < json_array_get_length(arr); i++)
			check_refs(root, json_array_get_element(arr, i));
	}
}

static void
test_openapi_matches_routes(void)
{
	MsbBrokerConfig config = {.max_delivery_size = 4 << 20,
	                          .delivery_timeout_us = G_USEC_PER_SEC,
	                          .send_buffer_size = 4 << 20};
	MsbBrokerCallbacks callbacks = {0};
	g_autoptr(MsbBroker) broker = msb_broker_new(&config, &callbacks, NULL);
	g_autoptr(MsbHttp) http = msb_http_new(broker, NULL, NULL);
	g_autoptr(GPtrArray) routes = msb_http_router_list(msb_http_get_router(http));
	g_autoptr(GBytes) json = msb_http_docs_get_openapi_json();
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) documented =
	        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GHashTable) op_ids = g_hash_table_new(g_str_hash, g_str_equal);
	JsonObject *root, *paths;
	g_autoptr(GList) path_names = NULL;
	guint missing = 0;

	g_assert_nonnull(json);
	json_parser_load_from_data(parser, g_bytes_get_data(json, NULL),
	                           (gssize)g_bytes_get_size(json), &error);
	g_assert_no_error(error);
	root = json_node_get_object(json_parser_get_root(parser));
	g_assert_cmpstr(json_object_get_string_member(root, "openapi"), ==, "3.0.3");
	g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(root, "info"),
	                                              "version"),
	                ==, MSB_VERSION);
	check_refs(root, json_parser_get_root(parser));

	paths = json_object_get_object_member(root, "paths");
	path_names = json_object_get_members(paths);
	for (GList *l = path_names; l != NULL; l = l->next) {
		JsonObject *item = json_object_get_object_member(paths, l->data);
		g_autoptr(GList) methods = json_object_get_members(item);

		for (GList *m = methods; m != NULL; m = m->next) {
			JsonObject *op = json_object_get_object_member(item, m->data);
			const gchar *op_id = json_object_get_string_member(op, "operationId");

			g_assert_nonnull(op_id);
			if (!g_hash_table_add(op_ids, (gpointer)op_id))
				g_error("operationId %s is used twice", op_id);
			g_assert_nonnull(json_object_get_string_member(op, "summary"));
			g_assert_true(json_object_has_member(op, "responses"));
			g_hash_table_insert(documented, route_key(m->data, l->data), op);
		}
	}

	for (guint i = 0; i < routes->len; i++) {
		const MsbHttpRoute *route = g_ptr_array_index(routes, i);
		g_autofree gchar *key = route_key(route->method, route->path);
		JsonObject *op = g_hash_table_lookup(documented, key);

		if (op == NULL) {
			g_test_message("registered but not in data/openapi.json: %s", key);
			missing++;
			continue;
		}
		/* the document says which routes need the admin token, as the router does */
		g_assert_cmpint(json_object_has_member(op, "security"), ==,
		                (route->flags & MSB_HTTP_ROUTE_ADMIN) != 0);
		g_hash_table_remove(documented, key);
	}
	/* the WebSocket is not a plain route: libsoup answers its upgrade itself */
	g_hash_table_remove(documented, "get /api/ws");
	{
		GHashTableIter iter;
		gpointer key;

		g_hash_table_iter_init(&iter, documented);
		while (g_hash_table_iter_next(&iter, &key, NULL)) {
			g_test_message("in data/openapi.json but not registered: %s",
			               (const gchar *)key);
			missing++;
		}
	}
	g_assert_cmpuint(missing, ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/openapi/matches-routes", test_openapi_matches_routes);
	return g_test_run();
}
