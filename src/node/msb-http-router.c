/*
 * The route table and MsbHttpCall (see msb-http-router.h).
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-http-router.h"

#include "msb-broker.h"

typedef struct {
	const MsbHttpRoute *route;
	gpointer user_data;
} MsbHttpRouteEntry;

struct _MsbHttpRouter {
	GArray *entries;     /* MsbHttpRouteEntry, in the order added */
	GHashTable *by_path; /* lower-case path → GArray of entry indices (guint) */
	MsbHttpRouteFunc fallback;
	gpointer fallback_data;
	gchar *admin_token; /* NULL: none */
	gchar *cors_origin; /* NULL: no CORS headers */
};

struct _MsbHttpCall {
	MsbHttpRouter *router;
	SoupServerMessage *msg;
	GHashTable *query; /* may be NULL */
	JsonObject *body;  /* the decoded body, once asked for */
};

MsbHttpRouter *
msb_http_router_new(void)
{
	MsbHttpRouter *router = g_new0(MsbHttpRouter, 1);

	router->entries = g_array_new(FALSE, FALSE, sizeof(MsbHttpRouteEntry));
	router->by_path = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                        (GDestroyNotify)g_array_unref);
	return router;
}

void
msb_http_router_free(MsbHttpRouter *router)
{
	if (router == NULL)
		return;
	g_array_unref(router->entries);
	g_hash_table_unref(router->by_path);
	g_free(router->admin_token);
	g_free(router->cors_origin);
	g_free(router);
}

void
msb_http_router_add(MsbHttpRouter *router, const MsbHttpRoute *routes, guint n_routes,
                    gpointer user_data)
{
	g_return_if_fail(router != NULL);

	for (guint i = 0; i < n_routes; i++) {
		MsbHttpRouteEntry entry = {&routes[i], user_data};
		g_autofree gchar *lower = g_ascii_strdown(routes[i].path, -1);
		GArray *same = g_hash_table_lookup(router->by_path, lower);
		guint index = router->entries->len;

		if (same == NULL) {
			same = g_array_new(FALSE, FALSE, sizeof(guint));
			g_hash_table_insert(router->by_path, g_steal_pointer(&lower), same);
		}
		for (guint j = 0; j < same->len; j++) {
			const MsbHttpRouteEntry *other = &g_array_index(
			        router->entries, MsbHttpRouteEntry, g_array_index(same, guint, j));
			if (g_ascii_strcasecmp(other->route->method, routes[i].method) == 0)
				g_error("HTTP route %s %s added twice", routes[i].method,
				        routes[i].path);
		}
		g_array_append_val(router->entries, entry);
		g_array_append_val(same, index);
	}
}

void
msb_http_router_set_fallback(MsbHttpRouter *router, MsbHttpRouteFunc func, gpointer user_data)
{
	g_return_if_fail(router != NULL);
	router->fallback = func;
	router->fallback_data = user_data;
}

void
msb_http_router_set_admin_token(MsbHttpRouter *router, const gchar *token)
{
	g_return_if_fail(router != NULL);
	g_free(router->admin_token);
	router->admin_token = token != NULL && token[0] != '\0' ? g_strdup(token) : NULL;
}

void
msb_http_router_set_cors_origin(MsbHttpRouter *router, const gchar *origin)
{
	g_return_if_fail(router != NULL);
	g_free(router->cors_origin);
	router->cors_origin = origin != NULL && origin[0] != '\0' ? g_strdup(origin) : NULL;
}

GPtrArray *
msb_http_router_list(MsbHttpRouter *router)
{
	GPtrArray *list;

	g_return_val_if_fail(router != NULL, NULL);
	list = g_ptr_array_new();
	for (guint i = 0; i < router->entries->len; i++)
		g_ptr_array_add(
		        list, (gpointer)g_array_index(router->entries, MsbHttpRouteEntry, i).route);
	return list;
}

/* Compare in time that depends only on the length of @given, so that the answer's timing does
 * not tell how much of a guess was right. */
static gboolean
msb_http_token_equal(const gchar *given, const gchar *expected)
{
	gsize n = strlen(given);
	gsize m = strlen(expected);
	guint diff = n != m;

	for (gsize i = 0; i < n; i++)
		diff |= (guint)(guchar)given[i] ^ (guint)(guchar)expected[i % (m > 0 ? m : 1)];
	return diff == 0;
}

static gboolean
msb_http_router_authorized(MsbHttpRouter *router, SoupServerMessage *msg)
{
	const gchar *auth;

	if (router->admin_token == NULL)
		return TRUE;
	auth = soup_message_headers_get_one(soup_server_message_get_request_headers(msg),
	                                    "Authorization");
	if (auth == NULL || g_ascii_strncasecmp(auth, "Bearer ", 7) != 0)
		return FALSE;
	return msb_http_token_equal(auth + 7, router->admin_token);
}

gboolean
msb_http_call_check_admin(MsbHttpCall *call)
{
	if (!msb_http_router_authorized(call->router, call->msg)) {
		soup_message_headers_replace(soup_server_message_get_response_headers(call->msg),
		                             "WWW-Authenticate", "Bearer realm=\"my-service-bus\"");
		msb_http_call_reply_text(call, SOUP_STATUS_UNAUTHORIZED,
		                         "this action needs the admin token (HttpAdminToken): send "
		                         "Authorization: Bearer <token>\n");
		return FALSE;
	}
	/* read by msb_http_router_changed_state() once the answer is sent */
	g_object_set_data(G_OBJECT(call->msg), "msb-http-admin-action", GINT_TO_POINTER(1));
	return TRUE;
}

gboolean
msb_http_router_changed_state(SoupServerMessage *msg)
{
	g_return_val_if_fail(msg != NULL, FALSE);
	return g_object_get_data(G_OBJECT(msg), "msb-http-admin-action") != NULL;
}

static void
msb_http_call_clear(MsbHttpCall *call)
{
	g_clear_pointer(&call->body, json_object_unref);
}

void
msb_http_router_handle(SoupServer *server, SoupServerMessage *msg, const char *path,
                       GHashTable *query, gpointer user_data)
{
	MsbHttpRouter *router = user_data;
	g_autofree gchar *lower = g_ascii_strdown(path, -1);
	const gchar *method = soup_server_message_get_method(msg);
	const gchar *match = g_strcmp0(method, "HEAD") == 0 ? "GET" : method;
	GArray *same = g_hash_table_lookup(router->by_path, lower);
	MsbHttpCall call = {router, msg, query, NULL};
	const MsbHttpRouteEntry *found = NULL;

	(void)server;
	if (router->cors_origin != NULL) {
		SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

		soup_message_headers_replace(headers, "Access-Control-Allow-Origin",
		                             router->cors_origin);
		soup_message_headers_replace(headers, "Vary", "Origin");
	}
	for (guint j = 0; same != NULL && j < same->len; j++) {
		const MsbHttpRouteEntry *entry = &g_array_index(router->entries, MsbHttpRouteEntry,
		                                                g_array_index(same, guint, j));
		if (g_ascii_strcasecmp(entry->route->method, match) == 0)
			found = entry;
	}
	if (found == NULL && same != NULL) {
		g_autoptr(GString) allow = g_string_new(NULL);
		SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);
		g_autofree gchar *text = NULL;

		for (guint j = 0; j < same->len; j++) {
			const MsbHttpRouteEntry *entry = &g_array_index(
			        router->entries, MsbHttpRouteEntry, g_array_index(same, guint, j));
			g_string_append_printf(allow, "%s%s", allow->len > 0 ? ", " : "",
			                       entry->route->method);
		}
		soup_message_headers_replace(headers, "Allow", allow->str);
		/* a browser's preflight for a cross-origin call that HttpCorsOrigin allows */
		if (router->cors_origin != NULL && g_strcmp0(method, "OPTIONS") == 0) {
			soup_message_headers_replace(headers, "Access-Control-Allow-Methods",
			                             allow->str);
			soup_message_headers_replace(headers, "Access-Control-Allow-Headers",
			                             "Authorization, Content-Type, ns");
			soup_message_headers_replace(headers, "Access-Control-Max-Age", "600");
			msb_http_call_reply_empty(&call);
			return;
		}
		text = g_strdup_printf("%s is served with %s only\n", path, allow->str);
		msb_http_call_reply_text(&call, SOUP_STATUS_METHOD_NOT_ALLOWED, text);
		return;
	}
	if (found == NULL) {
		if (router->fallback != NULL && g_strcmp0(match, "GET") == 0 &&
		    !g_str_has_prefix(lower, "/api/"))
			router->fallback(&call, router->fallback_data);
		else
			msb_http_call_reply_text(&call, SOUP_STATUS_NOT_FOUND,
			                         "no such path; the API is listed at "
			                         "/swagger/v1/swagger.yaml\n");
		msb_http_call_clear(&call);
		return;
	}
	if ((found->route->flags & MSB_HTTP_ROUTE_ADMIN) != 0 && !msb_http_call_check_admin(&call))
		return;
	found->route->func(&call, found->user_data);
	msb_http_call_clear(&call);
}

/* ---- MsbHttpCall ---- */

SoupServerMessage *
msb_http_call_get_message(MsbHttpCall *call)
{
	return call->msg;
}

const gchar *
msb_http_call_get_method(MsbHttpCall *call)
{
	return soup_server_message_get_method(call->msg);
}

const gchar *
msb_http_call_get_query(MsbHttpCall *call, const gchar *name)
{
	GHashTableIter iter;
	gpointer key, value;

	if (call->query == NULL)
		return NULL;
	value = g_hash_table_lookup(call->query, name);
	if (value != NULL)
		return value;
	g_hash_table_iter_init(&iter, call->query);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		if (g_ascii_strcasecmp(key, name) == 0)
			return value;
	}
	return NULL;
}

const gchar *
msb_http_call_get_header(MsbHttpCall *call, const gchar *name)
{
	return soup_message_headers_get_one(soup_server_message_get_request_headers(call->msg),
	                                    name);
}

const gchar *
msb_http_call_get_namespace(MsbHttpCall *call)
{
	const gchar *ns = msb_http_call_get_header(call, "ns");

	if (ns == NULL || ns[0] == '\0')
		ns = msb_http_call_get_query(call, "ns");
	return ns != NULL && ns[0] != '\0' ? ns : "default";
}

gboolean
msb_http_call_query_string(MsbHttpCall *call, const gchar *name, gboolean required,
                           const gchar **out, GError **error)
{
	const gchar *value = msb_http_call_get_query(call, name);

	if (value == NULL) {
		if (required)
			g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
			            "the query parameter '%s' is required", name);
		return FALSE;
	}
	*out = value;
	return TRUE;
}

gboolean
msb_http_call_query_int64(MsbHttpCall *call, const gchar *name, gboolean required, gint64 *out,
                          GError **error)
{
	const gchar *value = NULL;
	gint64 number;

	if (!msb_http_call_query_string(call, name, required, &value, error))
		return FALSE;
	if (!g_ascii_string_to_signed(value, 10, G_MININT64, G_MAXINT64, &number, NULL)) {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "the query parameter '%s' must be an integer, not '%s'", name, value);
		return FALSE;
	}
	*out = number;
	return TRUE;
}

gboolean
msb_http_call_query_bool(MsbHttpCall *call, const gchar *name, gboolean required, gboolean *out,
                         GError **error)
{
	const gchar *value = NULL;

	if (!msb_http_call_query_string(call, name, required, &value, error))
		return FALSE;
	if (g_ascii_strcasecmp(value, "true") == 0) {
		*out = TRUE;
	} else if (g_ascii_strcasecmp(value, "false") == 0) {
		*out = FALSE;
	} else {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "the query parameter '%s' must be true or false, not '%s'", name,
		            value);
		return FALSE;
	}
	return TRUE;
}

JsonObject *
msb_http_call_get_body_object(MsbHttpCall *call, GError **error)
{
	SoupMessageBody *body = soup_server_message_get_request_body(call->msg);
	const gchar *type = soup_message_headers_get_content_type(
	        soup_server_message_get_request_headers(call->msg), NULL);
	g_autoptr(GBytes) bytes = NULL;

	if (call->body != NULL)
		return call->body;
	bytes = soup_message_body_flatten(body);
	if (g_strcmp0(type, "application/x-www-form-urlencoded") == 0)
		call->body = msb_http_bodies_parse_form(g_bytes_get_data(bytes, NULL),
		                                        g_bytes_get_size(bytes));
	else
		call->body = msb_http_bodies_parse_json(g_bytes_get_data(bytes, NULL),
		                                        g_bytes_get_size(bytes), error);
	return call->body;
}

static void
msb_http_call_set_body(MsbHttpCall *call, guint status, const gchar *content_type, gchar *body)
{
	soup_server_message_set_status(call->msg, status, NULL);
	soup_server_message_set_response(call->msg, content_type, SOUP_MEMORY_TAKE, body,
	                                 strlen(body));
}

void
msb_http_call_reply_text(MsbHttpCall *call, guint status, const gchar *text)
{
	msb_http_call_set_body(call, status, "text/plain; charset=utf-8", g_strdup(text));
}

void
msb_http_call_reply_json(MsbHttpCall *call, guint status, JsonNode *root)
{
	msb_http_call_reply_json_text(call, status, json_to_string(root, FALSE));
}

void
msb_http_call_reply_json_text(MsbHttpCall *call, guint status, gchar *json)
{
	msb_http_call_set_body(call, status, "application/json", json);
}

/*
 * libsoup 3.2 writes a 204 without a length, marks the response as ending at end-of-file while it
 * does (soup_message_headers_get_encoding() then says EOF) and closes the connection after it,
 * so every empty answer cost the client its keep-alive connection. A 204 has no body by
 * definition: once its head is written, say so, and the connection is kept.
 */
static void
msb_http_no_content_wrote_headers_cb(SoupServerMessage *msg, gpointer user_data)
{
	if (soup_server_message_get_status(msg) == SOUP_STATUS_NO_CONTENT)
		soup_message_headers_set_encoding(soup_server_message_get_response_headers(msg),
		                                  SOUP_ENCODING_NONE);
}

void
msb_http_message_reply_empty(SoupServerMessage *msg)
{
	soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, NULL);
	g_signal_connect(msg, "wrote-headers", G_CALLBACK(msb_http_no_content_wrote_headers_cb),
	                 NULL);
}

void
msb_http_call_reply_empty(MsbHttpCall *call)
{
	msb_http_message_reply_empty(call->msg);
}

void
msb_http_call_reply_error(MsbHttpCall *call, const GError *error, guint not_found_status)
{
	guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
	g_autofree gchar *text = g_strdup_printf("%s\n", error->message);

	if (not_found_status == 0)
		not_found_status = SOUP_STATUS_NOT_FOUND;
	if (error->domain == MSB_HTTP_ERROR) {
		static const guint http_status[] = {
		        [MSB_HTTP_ERROR_BAD_REQUEST] = SOUP_STATUS_BAD_REQUEST,
		        [MSB_HTTP_ERROR_UNAUTHORIZED] = SOUP_STATUS_UNAUTHORIZED,
		        [MSB_HTTP_ERROR_NOT_FOUND] = SOUP_STATUS_NOT_FOUND,
		        [MSB_HTTP_ERROR_CONFLICT] = SOUP_STATUS_CONFLICT,
		};
		if (error->code >= 0 && (gsize)error->code < G_N_ELEMENTS(http_status))
			status = http_status[error->code];
	} else if (error->domain == MSB_BROKER_ERROR) {
		switch (error->code) {
		case MSB_BROKER_ERROR_TOPIC_NOT_FOUND:
		case MSB_BROKER_ERROR_QUEUE_NOT_FOUND:
		case MSB_BROKER_ERROR_SESSION_NOT_FOUND:
		case MSB_BROKER_ERROR_SUBSCRIBER_NOT_FOUND:
			status = not_found_status;
			break;
		case MSB_BROKER_ERROR_INVALID_ARGUMENT:
			status = SOUP_STATUS_BAD_REQUEST;
			break;
		case MSB_BROKER_ERROR_BUSY:
			status = SOUP_STATUS_CONFLICT;
			break;
		default:
			status = SOUP_STATUS_FORBIDDEN;
			break;
		}
	} else {
		g_warning("HTTP %s %s: %s", soup_server_message_get_method(call->msg),
		          g_uri_get_path(soup_server_message_get_uri(call->msg)), error->message);
	}
	msb_http_call_reply_text(call, status, text);
}
