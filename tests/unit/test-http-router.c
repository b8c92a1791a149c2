/*
 * MsbHttpRouter in this process: a SoupServer on 127.0.0.1 with test routes, and a SoupSession
 * driven by the same main loop. Checks what the router decides for every route: matching in any
 * case, 405 with Allow, the admin token, CORS, the fallback, parameter and body errors, and the
 * status code of each kind of domain error.
 */
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "msb-broker.h"
#include "msb-http-router.h"

#define TOKEN "0123456789abcdef-token"

typedef struct {
	SoupServer *server;
	MsbHttpRouter *router;
	SoupSession *session;
	guint16 port;
	guint calls; /* handlers run */
} Fixture;

typedef struct {
	guint status;
	gchar *body;
	SoupMessageHeaders *headers;
} Reply;

static void
reply_clear(Reply *r)
{
	g_free(r->body);
	g_clear_pointer(&r->headers, soup_message_headers_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Reply, reply_clear)

static void
echo_cb(MsbHttpCall *call, gpointer user_data)
{
	Fixture *f = user_data;
	g_autofree gchar *text = g_strdup_printf(
	        "%s ns=%s topicId=%s", msb_http_call_get_method(call),
	        msb_http_call_get_namespace(call), msb_http_call_get_query(call, "topicid"));
	f->calls++;
	msb_http_call_reply_text(call, SOUP_STATUS_OK, text);
}

static void
admin_cb(MsbHttpCall *call, gpointer user_data)
{
	Fixture *f = user_data;

	f->calls++;
	msb_http_call_reply_empty(call);
}

/* GET /api/typed?n=&flag=: the typed parameters, as text */
static void
typed_cb(MsbHttpCall *call, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	gint64 n = 0;
	gboolean flag = FALSE;
	g_autofree gchar *text = NULL;

	if (!msb_http_call_query_int64(call, "n", TRUE, &n, &error) ||
	    (!msb_http_call_query_bool(call, "flag", FALSE, &flag, &error) && error != NULL)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	text = g_strdup_printf("n=%" G_GINT64_FORMAT " flag=%d", n, flag);
	msb_http_call_reply_text(call, SOUP_STATUS_OK, text);
}

/* POST /api/body: the "topicId" member of the body */
static void
body_cb(MsbHttpCall *call, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	JsonObject *body = msb_http_call_get_body_object(call, &error);

	if (body == NULL) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	msb_http_call_reply_text(call, SOUP_STATUS_OK,
	                         json_object_get_string_member_with_default(body, "topicId", "-"));
}

/* GET /api/fail?code=N&notfound=S: a broker error of that code */
static void
fail_cb(MsbHttpCall *call, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	gint64 code = 0;
	gint64 not_found = 0;

	g_assert_true(msb_http_call_query_int64(call, "code", TRUE, &code, NULL));
	msb_http_call_query_int64(call, "notfound", FALSE, &not_found, NULL);
	g_set_error(&error, MSB_BROKER_ERROR, (gint)code, "broker error %" G_GINT64_FORMAT, code);
	msb_http_call_reply_error(call, error, (guint)not_found);
}

static void
fallback_cb(MsbHttpCall *call, gpointer user_data)
{
	msb_http_call_reply_text(call, SOUP_STATUS_OK, "the UI");
}

static const MsbHttpRoute routes[] = {
        {"GET", "/api/Echo", MSB_HTTP_ROUTE_NONE, echo_cb},
        {"POST", "/api/Echo", MSB_HTTP_ROUTE_NONE, echo_cb},
        {"DELETE", "/api/Admin", MSB_HTTP_ROUTE_ADMIN, admin_cb},
        {"GET", "/api/Admin", MSB_HTTP_ROUTE_NONE, echo_cb},
        {"GET", "/api/typed", MSB_HTTP_ROUTE_NONE, typed_cb},
        {"POST", "/api/body", MSB_HTTP_ROUTE_NONE, body_cb},
        {"GET", "/api/fail", MSB_HTTP_ROUTE_NONE, fail_cb},
};

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSList) uris = NULL;

	f->server = soup_server_new(NULL, NULL);
	f->router = msb_http_router_new();
	msb_http_router_add(f->router, routes, G_N_ELEMENTS(routes), f);
	soup_server_add_handler(f->server, NULL, msb_http_router_handle, f->router, NULL);
	g_assert_true(soup_server_listen_local(f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
	g_assert_no_error(error);
	uris = soup_server_get_uris(f->server);
	f->port = (guint16)g_uri_get_port(uris->data);
	g_slist_free_full(g_steal_pointer(&uris), (GDestroyNotify)g_uri_unref);
	f->session = soup_session_new();
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_clear_object(&f->session);
	g_clear_object(&f->server);
	g_clear_pointer(&f->router, msb_http_router_free);
}

static void
sent_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GBytes **out = user_data;
	g_autoptr(GError) error = NULL;

	*out = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
	g_assert_no_error(error);
}

/* @headers: name, value, …, NULL */
static Reply
request(Fixture *f, const gchar *method, const gchar *path, const gchar *content_type,
        const gchar *body, ...)
{
	g_autofree gchar *uri = g_strdup_printf("http://127.0.0.1:%u%s", f->port, path);
	g_autoptr(SoupMessage) msg = soup_message_new(method, uri);
	g_autoptr(GBytes) reply = NULL;
	const gchar *name;
	va_list args;
	Reply r;

	va_start(args, body);
	while ((name = va_arg(args, const gchar *)) != NULL)
		soup_message_headers_replace(soup_message_get_request_headers(msg), name,
		                             va_arg(args, const gchar *));
	va_end(args);
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
		soup_message_set_request_body_from_bytes(msg, content_type, bytes);
	}
	soup_session_send_and_read_async(f->session, msg, G_PRIORITY_DEFAULT, NULL, sent_cb,
	                                 &reply);
	while (reply == NULL)
		g_main_context_iteration(NULL, TRUE);
	r.status = soup_message_get_status(msg);
	r.body = g_strndup(g_bytes_get_data(reply, NULL), g_bytes_get_size(reply));
	r.headers = soup_message_headers_ref(soup_message_get_response_headers(msg));
	return r;
}

static void
test_router_match(Fixture *f, gconstpointer data)
{
	{
		g_auto(Reply) r = request(f, "GET", "/API/ECHO?TopicId=t1", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "GET ns=default topicId=t1");
	}
	{
		/* the namespace: the header wins over the query */
		g_auto(Reply) r =
		        request(f, "POST", "/api/echo?ns=q", "text/plain", "", "ns", "h", NULL);
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "POST ns=h topicId=(null)");
	}
	{
		g_auto(Reply) r = request(f, "GET", "/api/echo?ns=q", NULL, NULL, NULL);
		g_assert_cmpstr(r.body, ==, "GET ns=q topicId=(null)");
	}
	{
		/* HEAD is served by GET */
		g_auto(Reply) r = request(f, "HEAD", "/api/Echo", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 200);
	}
	{
		g_auto(Reply) r = request(f, "PUT", "/api/echo", "text/plain", "x", NULL);
		g_assert_cmpuint(r.status, ==, 405);
		g_assert_cmpstr(soup_message_headers_get_one(r.headers, "Allow"), ==, "GET, POST");
	}
	{
		/* no fallback: 404; with one, GETs outside /api/ get it */
		g_auto(Reply) r = request(f, "GET", "/topics/x", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 404);
	}
	msb_http_router_set_fallback(f->router, fallback_cb, f);
	{
		g_auto(Reply) r = request(f, "GET", "/topics/x", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "the UI");
	}
	{
		g_auto(Reply) r = request(f, "GET", "/api/nothing", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 404);
		g_assert_nonnull(strstr(r.body, "swagger"));
	}
	{
		g_auto(Reply) r = request(f, "POST", "/topics/x", "text/plain", "x", NULL);
		g_assert_cmpuint(r.status, ==, 404);
	}
}

static void
test_router_list(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) list = msb_http_router_list(f->router);

	g_assert_cmpuint(list->len, ==, G_N_ELEMENTS(routes));
	for (guint i = 0; i < list->len; i++)
		g_assert_true(g_ptr_array_index(list, i) == &routes[i]);
}

static void
test_router_admin_token(Fixture *f, gconstpointer data)
{
	{
		/* no token set: open, as the reference broker */
		g_auto(Reply) r = request(f, "DELETE", "/api/admin", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 204);
		g_assert_cmpuint(f->calls, ==, 1);
	}
	msb_http_router_set_admin_token(f->router, TOKEN);
	{
		g_auto(Reply) r = request(f, "DELETE", "/api/admin", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 401);
		g_assert_nonnull(strstr(r.body, "HttpAdminToken"));
		g_assert_nonnull(soup_message_headers_get_one(r.headers, "WWW-Authenticate"));
	}
	{
		g_auto(Reply) r = request(f, "DELETE", "/api/admin", NULL, NULL, "Authorization",
		                          "Bearer " TOKEN "x", NULL);
		g_assert_cmpuint(r.status, ==, 401);
	}
	{
		g_auto(Reply) r = request(f, "DELETE", "/api/admin", NULL, NULL, "Authorization",
		                          "Bearer 0123456789abcdef-toke", NULL);
		g_assert_cmpuint(r.status, ==, 401);
	}
	{
		g_auto(Reply) r = request(f, "DELETE", "/api/admin", NULL, NULL, "Authorization",
		                          TOKEN, NULL);
		g_assert_cmpuint(r.status, ==, 401);
	}
	g_assert_cmpuint(f->calls, ==, 1);
	{
		g_auto(Reply) r = request(f, "DELETE", "/api/admin", NULL, NULL, "Authorization",
		                          "bearer " TOKEN, NULL);
		g_assert_cmpuint(r.status, ==, 204);
		g_assert_cmpuint(f->calls, ==, 2);
	}
	{
		/* read-only routes stay open */
		g_auto(Reply) r = request(f, "GET", "/api/admin", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 200);
	}
	msb_http_router_set_admin_token(f->router, "");
	{
		g_auto(Reply) r = request(f, "DELETE", "/api/admin", NULL, NULL, NULL);
		g_assert_cmpuint(r.status, ==, 204);
	}
}

static void
test_router_cors(Fixture *f, gconstpointer data)
{
	{
		g_auto(Reply) r = request(f, "GET", "/api/echo", NULL, NULL, NULL);
		g_assert_null(
		        soup_message_headers_get_one(r.headers, "Access-Control-Allow-Origin"));
	}
	{
		g_auto(Reply) r = request(f, "OPTIONS", "/api/admin", NULL, NULL, "Origin",
		                          "https://ops.example.com", NULL);
		g_assert_cmpuint(r.status, ==, 405);
		g_assert_null(
		        soup_message_headers_get_one(r.headers, "Access-Control-Allow-Origin"));
	}
	msb_http_router_set_cors_origin(f->router, "https://ops.example.com");
	{
		g_auto(Reply) r = request(f, "GET", "/api/echo", NULL, NULL, NULL);
		g_assert_cmpstr(
		        soup_message_headers_get_one(r.headers, "Access-Control-Allow-Origin"), ==,
		        "https://ops.example.com");
	}
	{
		g_auto(Reply) r = request(f, "OPTIONS", "/api/Admin", NULL, NULL, "Origin",
		                          "https://ops.example.com", NULL);
		g_assert_cmpuint(r.status, ==, 204);
		g_assert_cmpstr(
		        soup_message_headers_get_one(r.headers, "Access-Control-Allow-Methods"), ==,
		        "DELETE, GET");
		g_assert_nonnull(strstr(
		        soup_message_headers_get_one(r.headers, "Access-Control-Allow-Headers"),
		        "Authorization"));
	}
	/* the two GETs ran their handler, the preflights none */
	g_assert_cmpuint(f->calls, ==, 2);
}

static void
test_router_parameters(Fixture *f, gconstpointer data)
{
	static const struct {
		const gchar *path;
		guint status;
		const gchar *body;
	} cases[] = {
	        {"/api/typed?n=42", 200, "n=42 flag=0"},
	        {"/api/typed?N=-7&Flag=TRUE", 200, "n=-7 flag=1"},
	        {"/api/typed", 400, "the query parameter 'n' is required\n"},
	        {"/api/typed?n=4x", 400, "the query parameter 'n' must be an integer, not '4x'\n"},
	        {"/api/typed?n=99999999999999999999", 400, NULL},
	        {"/api/typed?n=1&flag=yes", 400,
	         "the query parameter 'flag' must be true or false, "
	         "not 'yes'\n"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(Reply) r = request(f, "GET", cases[i].path, NULL, NULL, NULL);
		g_test_message("%s -> %u %s", cases[i].path, r.status, r.body);
		g_assert_cmpuint(r.status, ==, cases[i].status);
		if (cases[i].body != NULL)
			g_assert_cmpstr(r.body, ==, cases[i].body);
	}
}

static void
test_router_body(Fixture *f, gconstpointer data)
{
	static const struct {
		const gchar *type;
		const gchar *body;
		guint status;
		const gchar *reply;
	} cases[] = {
	        {"application/json", "{\"topicId\":\"t1\",\"persist\":true}", 200, "t1"},
	        {"application/x-www-form-urlencoded", "topicId=t%202&persist=true", 200, "t 2"},
	        {"application/json", "{\"topicId\":", 400, NULL},
	        {"application/json", "[1,2]", 400, "the body must be a JSON object\n"},
	        {"application/json", "", 400, NULL},
	        {"text/plain", "\xff\xfe", 400, NULL},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(Reply) r =
		        request(f, "POST", "/api/body", cases[i].type, cases[i].body, NULL);
		g_test_message("%s -> %u %s", cases[i].body, r.status, r.body);
		g_assert_cmpuint(r.status, ==, cases[i].status);
		if (cases[i].reply != NULL)
			g_assert_cmpstr(r.body, ==, cases[i].reply);
	}
}

/* A body of a million '[' (2 MB, well within HttpMaxBodySize) took the broker down: json-glib
 * parses nesting by recursion and ran off the stack. It is a 400 now, and the next call works. */
static void
test_router_body_deep(Fixture *f, gconstpointer data)
{
	g_autofree gchar *deep = g_strnfill(1000000, '[');

	{
		g_auto(Reply) r = request(f, "POST", "/api/body", "application/json", deep, NULL);
		g_assert_cmpuint(r.status, ==, 400);
		g_assert_cmpstr(r.body, ==,
		                "the body is not valid JSON: it nests deeper than 64 levels\n");
	}
	{
		g_auto(Reply) r = request(f, "POST", "/api/body", "application/json",
		                          "{\"topicId\":\"t1\"}", NULL);
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "t1");
	}
}

static void
test_router_errors(Fixture *f, gconstpointer data)
{
	static const struct {
		gint code;
		guint not_found;
		guint status;
	} cases[] = {
	        {MSB_BROKER_ERROR_TOPIC_NOT_FOUND, 0, 404},
	        {MSB_BROKER_ERROR_TOPIC_NOT_FOUND, 403, 403},
	        {MSB_BROKER_ERROR_QUEUE_NOT_FOUND, 0, 404},
	        {MSB_BROKER_ERROR_INVALID_NAME, 0, 403},
	        {MSB_BROKER_ERROR_SHUTTING_DOWN, 0, 403},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *path = g_strdup_printf("/api/fail?code=%d&notfound=%u",
		                                         cases[i].code, cases[i].not_found);
		g_autofree gchar *text = g_strdup_printf("broker error %d\n", cases[i].code);
		g_auto(Reply) r = request(f, "GET", path, NULL, NULL, NULL);

		g_assert_cmpuint(r.status, ==, cases[i].status);
		g_assert_cmpstr(r.body, ==, text);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/http-router/match", Fixture, NULL, fixture_setup, test_router_match,
	           fixture_teardown);
	g_test_add("/http-router/list", Fixture, NULL, fixture_setup, test_router_list,
	           fixture_teardown);
	g_test_add("/http-router/admin-token", Fixture, NULL, fixture_setup,
	           test_router_admin_token, fixture_teardown);
	g_test_add("/http-router/cors", Fixture, NULL, fixture_setup, test_router_cors,
	           fixture_teardown);
	g_test_add("/http-router/parameters", Fixture, NULL, fixture_setup, test_router_parameters,
	           fixture_teardown);
	g_test_add("/http-router/body", Fixture, NULL, fixture_setup, test_router_body,
	           fixture_teardown);
	g_test_add("/http-router/body-deep", Fixture, NULL, fixture_setup, test_router_body_deep,
	           fixture_teardown);
	g_test_add("/http-router/errors", Fixture, NULL, fixture_setup, test_router_errors,
	           fixture_teardown);
	return g_test_run();
}
