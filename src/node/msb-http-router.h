/*
 * MsbHttpRouter: the broker's HTTP routes in one table, and MsbHttpCall, what a route handler
 * gets: the request's query, namespace and JSON body, and replies with the status codes the
 * REST API uses (node.md §6.1).
 *
 * Each part of the HTTP adapter (status and metrics, administration, HTTP sessions, the UI)
 * registers its own routes; the table is also what the OpenAPI document is checked against. Paths
 * match case-insensitively as in the reference broker. The router enforces what every route shares:
 * the method (405 with Allow), the admin token on routes that change state (401), and the mapping
 * of a domain GError to its status code, so that no handler writes those rules again.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "msb-http-bodies.h"

G_BEGIN_DECLS

typedef struct _MsbHttpRouter MsbHttpRouter;
typedef struct _MsbHttpCall MsbHttpCall;

typedef enum {
	MSB_HTTP_ROUTE_NONE = 0,
	/* changes the broker's state: needs the admin token when HttpAdminToken is set */
	MSB_HTTP_ROUTE_ADMIN = 1 << 0,
} MsbHttpRouteFlags;

typedef void (*MsbHttpRouteFunc)(MsbHttpCall *call, gpointer user_data);

typedef struct {
	const gchar *method; /* "GET", "POST", "PUT", "DELETE" (HEAD is served by GET) */
	const gchar *path;   /* as documented, e.g. "/api/Topics/Create"; matched in any case */
	MsbHttpRouteFlags flags;
	MsbHttpRouteFunc func;
} MsbHttpRoute;

MsbHttpRouter *
msb_http_router_new(void);
void
msb_http_router_free(MsbHttpRouter *router);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbHttpRouter, msb_http_router_free)

/* Add @n_routes routes (the array must outlive the router); @user_data goes to their handlers. */
void
msb_http_router_add(MsbHttpRouter *router, const MsbHttpRoute *routes, guint n_routes,
                    gpointer user_data);
/* GET and HEAD requests for a path no route has (the UI's pages); NULL: 404. */
void
msb_http_router_set_fallback(MsbHttpRouter *router, MsbHttpRouteFunc func, gpointer user_data);
/* Routes flagged MSB_HTTP_ROUTE_ADMIN need "Authorization: Bearer @token"; NULL or "": none. */
void
msb_http_router_set_admin_token(MsbHttpRouter *router, const gchar *token);
/* Answer browsers of @origin (or "*") with CORS headers, preflights included; NULL: none. */
void
msb_http_router_set_cors_origin(MsbHttpRouter *router, const gchar *origin);
/*
 * Whether the request of @msg was an admin action that passed the token check (a route flagged
 * MSB_HTTP_ROUTE_ADMIN, or msb_http_call_check_admin()): its client may read the state next and
 * must see its change. HTTP publisher and subscriber sessions' traffic is not.
 */
gboolean
msb_http_router_changed_state(SoupServerMessage *msg);
/* Every route, in the order added (const MsbHttpRoute*); free the array. */
GPtrArray *
msb_http_router_list(MsbHttpRouter *router);

/* The SoupServer handler: pass @router as its user data. */
void
msb_http_router_handle(SoupServer *server, SoupServerMessage *msg, const char *path,
                       GHashTable *query, gpointer router);

/* ---- MsbHttpCall: one request, valid until the handler returns (ref the message to keep it) */

SoupServerMessage *
msb_http_call_get_message(MsbHttpCall *call);
/*
 * For a route that changes state only with some parameters (so is not flagged
 * MSB_HTTP_ROUTE_ADMIN): TRUE when the request carries the admin token or none is set; else the
 * call is answered 401 and FALSE returned.
 */
gboolean
msb_http_call_check_admin(MsbHttpCall *call);
const gchar *
msb_http_call_get_method(MsbHttpCall *call);
/* A query parameter, its name matched in any case; NULL when absent. */
const gchar *
msb_http_call_get_query(MsbHttpCall *call, const gchar *name);
/* A header; NULL when absent. */
const gchar *
msb_http_call_get_header(MsbHttpCall *call, const gchar *name);
/* The namespace of an admin or read request: the "ns" header, else ?ns=, else "default". */
const gchar *
msb_http_call_get_namespace(MsbHttpCall *call);

/*
 * Typed query parameters. Absent and not @required: FALSE without error and *out untouched.
 * Absent and @required, or malformed: FALSE with MSB_HTTP_ERROR_BAD_REQUEST naming the parameter.
 */
gboolean
msb_http_call_query_string(MsbHttpCall *call, const gchar *name, gboolean required,
                           const gchar **out, GError **error);
gboolean
msb_http_call_query_int64(MsbHttpCall *call, const gchar *name, gboolean required, gint64 *out,
                          GError **error);
gboolean
msb_http_call_query_bool(MsbHttpCall *call, const gchar *name, gboolean required, gboolean *out,
                         GError **error);
/* The body as a JSON object (a JSON body, or a form-urlencoded one as string members); the
 * object belongs to @call. MSB_HTTP_ERROR_BAD_REQUEST when it is neither. */
JsonObject *
msb_http_call_get_body_object(MsbHttpCall *call, GError **error);

/* Replies. Each sets the status and body of the message. */
void
msb_http_call_reply_text(MsbHttpCall *call, guint status, const gchar *text);
void
msb_http_call_reply_json(MsbHttpCall *call, guint status, JsonNode *root);
/* An already-encoded JSON text, taken. */
void
msb_http_call_reply_json_text(MsbHttpCall *call, guint status, gchar *json);
/* 204, no body. */
void
msb_http_call_reply_empty(MsbHttpCall *call);
/* The same for a message answered after its handler returned (paused meanwhile). */
void
msb_http_message_reply_empty(SoupServerMessage *msg);
/*
 * An error as its status code, with the message as a readable text body: MSB_HTTP_ERROR codes as
 * they say; MSB_BROKER_ERROR TOPIC_NOT_FOUND, QUEUE_NOT_FOUND, SESSION_NOT_FOUND and
 * SUBSCRIBER_NOT_FOUND 404 unless the route documents 403 (@not_found_status 0 = 404),
 * INVALID_ARGUMENT 400, BUSY 409; the other broker errors (invalid name, topic deleted, shutting
 * down, …) 403 as in the reference (node.md §6.1); anything else 500.
 */
void
msb_http_call_reply_error(MsbHttpCall *call, const GError *error, guint not_found_status);

G_END_DECLS
