/*
 * The API's own documentation routes (see msb-http-docs.h). The document is written by hand in
 * data/openapi.json; test-openapi checks it lists exactly the routes the router has, so the two
 * cannot drift apart.
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-http-docs.h"

#include <gio/gio.h>

#include "msb-api-docs-resources.h"

#define MSB_API_DOCS_PREFIX "/org/myservicebus/api/"

static void
msb_http_docs_serve(MsbHttpCall *call, const gchar *name, const gchar *content_type)
{
	SoupServerMessage *msg = msb_http_call_get_message(call);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_strconcat(MSB_API_DOCS_PREFIX, name, NULL);
	g_autoptr(GBytes) bytes =
	        g_resource_lookup_data(msb_api_docs_get_resource(), path, 0, &error);

	if (bytes == NULL) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Content-Type",
	                             content_type);
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg), bytes);
}

static void
msb_http_docs_redirect_cb(MsbHttpCall *call, gpointer user_data)
{
	soup_server_message_set_redirect(msb_http_call_get_message(call), SOUP_STATUS_FOUND,
	                                 "/swagger/index.html");
}

static void
msb_http_docs_page_cb(MsbHttpCall *call, gpointer user_data)
{
	msb_http_docs_serve(call, "swagger.html", "text/html; charset=utf-8");
}

static void
msb_http_docs_yaml_cb(MsbHttpCall *call, gpointer user_data)
{
	msb_http_docs_serve(call, "openapi.yaml", "application/yaml; charset=utf-8");
}

static void
msb_http_docs_json_cb(MsbHttpCall *call, gpointer user_data)
{
	msb_http_docs_serve(call, "openapi.json", "application/json");
}

static const MsbHttpRoute msb_http_docs_routes[] = {
        {"GET", "/swagger", MSB_HTTP_ROUTE_NONE, msb_http_docs_redirect_cb},
        {"GET", "/swagger/index.html", MSB_HTTP_ROUTE_NONE, msb_http_docs_page_cb},
        {"GET", "/swagger/v1/swagger.yaml", MSB_HTTP_ROUTE_NONE, msb_http_docs_yaml_cb},
        {"GET", "/swagger/v1/swagger.json", MSB_HTTP_ROUTE_NONE, msb_http_docs_json_cb},
};

void
msb_http_docs_register(MsbHttpRouter *router)
{
	g_return_if_fail(router != NULL);
	msb_http_router_add(router, msb_http_docs_routes, G_N_ELEMENTS(msb_http_docs_routes), NULL);
}

GBytes *
msb_http_docs_get_openapi_json(void)
{
	return g_resource_lookup_data(msb_api_docs_get_resource(),
	                              MSB_API_DOCS_PREFIX "openapi.json", 0, NULL);
}
