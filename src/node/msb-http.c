/*
 * MsbHttp: JSON status and Prometheus metrics over libsoup 3.
 *
 * Paths match case-insensitively, as in the reference broker (node.md §6.1), so /status,
 * /Status and /api/status all work. The status page and the metrics show the whole broker: they are
 * copied from it in short slices on the main loop and rendered in a worker thread while the
 * request waits (paused), so that a large state never stalls message service.
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-http.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sys/resource.h>
#include <unistd.h>

#include "msb-config.h"
#include "msb-http-live.h"
#include "msb-http-messages.h"
#include "msb-http-admin.h"
#include "msb-http-docs.h"
#include "msb-http-router.h"
#include "msb-http-server.h"
#include "msb-http-session.h"
#include "msb-http-ui.h"
#include "msb-stats-reader.h"
#include "msb-status-render.h"

/* what a whole-state request shows */
typedef enum {
	MSB_HTTP_VIEW_STATUS,
	MSB_HTTP_VIEW_METRICS,
	MSB_HTTP_N_VIEWS,
} MsbHttpView;

typedef struct _MsbHttpRender MsbHttpRender;

/* set on a waiting message once libsoup has finished it (the client went away) */
#define MSB_HTTP_GONE "msb-http-gone"

struct _MsbHttp {
	MsbBroker *broker;
	MsbStatsReader *reader;
	/* per view: the rendering that requests answered by the same collection join */
	MsbHttpRender *renders[MSB_HTTP_N_VIEWS];
	GThreadPool *render_pool; /* one thread */
	GPtrArray *rendering;     /* MsbHttpRender* queued or running (not owned) */
	GMainContext *context;    /* where renderings end */
	MsbHttpInfoFunc info_func;
	gpointer info_data;
	MsbHttpServer *server;
	MsbHttpRouter *router;
	MsbHttpLive *live;         /* /api/ws, once listening */
	MsbHttpMessages *messages; /* /api/Messages */
	MsbHttpAdmin *admin;
	MsbHttpSessions *sessions;
	gint64 started_us; /* wall clock */
};

static void
msb_http_get_info(MsbHttp *http, MsbHttpInfo *info)
{
	memset(info, 0, sizeof(*info));
	info->state = "running";
	if (http->info_func != NULL)
		http->info_func(info, http->info_data);
	if (http->server != NULL)
		info->http_connections = msb_http_server_get_n_connections(http->server);
}

/* ---- /api/isalive ---- */

static void
msb_http_isalive_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttp *http = user_data;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GDateTime) started =
	        g_date_time_new_from_unix_utc(http->started_us / G_USEC_PER_SEC);
	g_autofree gchar *started_str = g_date_time_format_iso8601(started);
	g_autoptr(JsonNode) root = NULL;
	MsbHttpInfo info;

	msb_http_get_info(http, &info);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, "my-service-bus");
	json_builder_set_member_name(b, "version");
	json_builder_add_string_value(b, MSB_VERSION);
	json_builder_set_member_name(b, "started");
	json_builder_add_string_value(b, started_str);
	json_builder_set_member_name(b, "state");
	json_builder_add_string_value(b, info.state);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	msb_http_call_reply_json(call, SOUP_STATUS_OK, root);
}

/* ---- /api/status and /metrics ----
 *
 * Both show the whole broker, which takes long with many topics: the state is copied in slices
 * on the main loop (MsbStatsReader), rendered in a worker thread, and the message is paused
 * meanwhile. The requests answered by one collection share one rendering per view.
 */

struct _MsbHttpRender {
	gint ref_count; /* main thread only */
	MsbHttp *http;  /* NULL once the listener is gone */
	MsbHttpView view;
	MsbBrokerStats *stats;
	MsbHttpInfo info; /* its strings are copies, for the worker thread */
	GPtrArray *msgs;  /* SoupServerMessage*, paused, waiting for the text */
	GBytes *body;     /* the text, set by the render thread */
	gchar *ns;        /* the namespace whose topics the status page shows */
	/* msb_http_render_status(): who gets the text instead of (or besides) @msgs */
	MsbHttpRenderedFunc func;
	gpointer func_data;
	GDestroyNotify func_destroy;
};

/* One paused request waiting for a collection. */
typedef struct {
	MsbHttp *http;
	MsbHttpView view;
	gchar *namespace_name;
	SoupServerMessage *msg;
} MsbHttpWait;

static MsbHttpRender *
msb_http_render_ref(MsbHttpRender *render)
{
	render->ref_count++;
	return render;
}

static void
msb_http_render_unref(MsbHttpRender *render)
{
	if (--render->ref_count > 0)
		return;
	msb_broker_stats_unref(render->stats);
	g_clear_pointer(&render->body, g_bytes_unref);
	if (render->func_destroy != NULL)
		render->func_destroy(render->func_data);
	g_free(render->ns);
	g_free((gchar *)render->info.state);
	g_free((gchar *)render->info.persistence_url);
	g_free((gchar *)render->info.persistence_version);
	g_free((gchar *)render->info.persistence_error);
	g_ptr_array_unref(render->msgs);
	g_free(render);
}

static gboolean
msb_http_render_done_cb(gpointer user_data)
{
	MsbHttpRender *render = user_data;
	const gchar *content_type = render->view == MSB_HTTP_VIEW_STATUS
	                                    ? "application/json"
	                                    : "text/plain; version=0.0.4; charset=utf-8";

	if (render->http != NULL) {
		g_ptr_array_remove_fast(render->http->rendering, render);
		for (guint i = 0; i < render->msgs->len; i++) {
			SoupServerMessage *msg = g_ptr_array_index(render->msgs, i);
			/* the client went away while it waited: libsoup is done with it */
			if (g_object_get_data(G_OBJECT(msg), MSB_HTTP_GONE) != NULL)
				continue;
			soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
			soup_message_headers_replace(soup_server_message_get_response_headers(msg),
			                             "Content-Type", content_type);
			soup_message_body_append_bytes(soup_server_message_get_response_body(msg),
			                               render->body);
			soup_server_message_unpause(msg);
		}
		if (render->func != NULL)
			render->func(render->body, render->func_data);
		if (render->http->renders[render->view] == render) {
			render->http->renders[render->view] = NULL;
			msb_http_render_unref(render);
		}
	}
	msb_http_render_unref(render);
	return G_SOURCE_REMOVE;
}

/*
 * The render thread: one, at a lower CPU priority than the main loop (a thread's nice value is
 * its own on Linux), so that on a busy machine rendering 25 MB of text does not take the CPU
 * from message service.
 */
static void
msb_http_render_thread(gpointer data, gpointer user_data)
{
	static gboolean niced = FALSE;
	MsbHttpRender *render = data;
	GMainContext *context = user_data;

	if (!niced) {
		niced = TRUE;
		errno = 0;
		if (setpriority(PRIO_PROCESS, (id_t)gettid(),
		                getpriority(PRIO_PROCESS, (id_t)gettid()) + 10) != 0)
			g_debug("cannot lower the render thread's priority: %s", g_strerror(errno));
	}
	if (render->view == MSB_HTTP_VIEW_STATUS)
		render->body = msb_status_render_json(render->stats, &render->info, render->ns);
	else
		render->body = msb_status_render_metrics(render->stats, &render->info);
	g_main_context_invoke(context, msb_http_render_done_cb, render);
}

/* A rendering of @stats, queued on the render thread; the caller owns the reference returned. */
static MsbHttpRender *
msb_http_render_start(MsbHttp *http, MsbHttpView view, MsbBrokerStats *stats, const gchar *ns,
                      MsbHttpRenderedFunc func, gpointer func_data, GDestroyNotify func_destroy)
{
	MsbHttpRender *render;
	MsbHttpInfo info;

	msb_http_get_info(http, &info);
	render = g_new0(MsbHttpRender, 1);
	render->ref_count = 1;
	render->http = http;
	render->view = view;
	render->stats = msb_broker_stats_ref(stats);
	render->info = info;
	render->info.state = g_strdup(info.state);
	render->info.persistence_url = g_strdup(info.persistence_url);
	render->info.persistence_version = g_strdup(info.persistence_version);
	render->info.persistence_error = g_strdup(info.persistence_error);
	render->msgs = g_ptr_array_new_with_free_func(g_object_unref);
	render->ns = g_strdup(ns);
	render->func = func;
	render->func_data = func_data;
	render->func_destroy = func_destroy;
	/* the thread's reference, dropped by msb_http_render_done_cb() */
	g_ptr_array_add(http->rendering, render);
	g_thread_pool_push(http->render_pool, msb_http_render_ref(render), NULL);
	return render;
}

static void
msb_http_stats_ready_cb(MsbBrokerStats *stats, gpointer user_data)
{
	MsbHttpWait *wait = user_data;
	MsbHttp *http = wait->http;
	MsbHttpRender *render = http->renders[wait->view];

	/* the first request answered by this collection starts the rendering, the others (of the
	 * same namespace) join */
	if (render == NULL || render->stats != stats ||
	    g_strcmp0(render->ns, wait->namespace_name) != 0) {
		if (render != NULL)
			msb_http_render_unref(render);
		render = msb_http_render_start(http, wait->view, stats, wait->namespace_name, NULL,
		                               NULL, NULL);
		http->renders[wait->view] = render;
	}
	g_ptr_array_add(render->msgs, g_steal_pointer(&wait->msg));
}

void
msb_http_render_status(MsbHttp *http, MsbBrokerStats *stats, const gchar *ns,
                       MsbHttpRenderedFunc func, gpointer user_data, GDestroyNotify destroy)
{
	g_return_if_fail(http != NULL);
	g_return_if_fail(stats != NULL);
	g_return_if_fail(ns != NULL);
	g_return_if_fail(func != NULL);
	msb_http_render_unref(msb_http_render_start(http, MSB_HTTP_VIEW_STATUS, stats, ns, func,
	                                            user_data, destroy));
}

static void
msb_http_wait_free(MsbHttpWait *wait)
{
	g_clear_object(&wait->msg);
	g_free(wait->namespace_name);
	g_free(wait);
}

static void
msb_http_msg_gone_cb(SoupServerMessage *msg, gpointer user_data)
{
	g_object_set_data(G_OBJECT(msg), MSB_HTTP_GONE, GINT_TO_POINTER(1));
}

static void
msb_http_read_state(MsbHttp *http, SoupServerMessage *msg, MsbHttpView view,
                    const gchar *namespace_name)
{
	MsbHttpWait *wait = g_new0(MsbHttpWait, 1);

	wait->http = http;
	wait->view = view;
	wait->namespace_name = g_strdup(namespace_name);
	wait->msg = g_object_ref(msg);
	/* a paused message whose connection closes must not be answered (nor unpaused) */
	g_signal_connect(msg, "finished", G_CALLBACK(msb_http_msg_gone_cb), NULL);
	if (g_signal_lookup("disconnected", SOUP_TYPE_SERVER_MESSAGE) != 0)
		g_signal_connect(msg, "disconnected", G_CALLBACK(msb_http_msg_gone_cb), NULL);
	soup_server_message_pause(msg);
	msb_stats_reader_request(http->reader, msb_http_stats_ready_cb, wait,
	                         (GDestroyNotify)msb_http_wait_free);
}

static void
msb_http_status_cb(MsbHttpCall *call, gpointer user_data)
{
	msb_http_read_state(user_data, msb_http_call_get_message(call), MSB_HTTP_VIEW_STATUS,
	                    msb_http_call_get_namespace(call));
}

static void
msb_http_metrics_cb(MsbHttpCall *call, gpointer user_data)
{
	msb_http_read_state(user_data, msb_http_call_get_message(call), MSB_HTTP_VIEW_METRICS,
	                    NULL);
}

static const MsbHttpRoute msb_http_routes[] = {
        {"GET", "/api/isalive", MSB_HTTP_ROUTE_NONE, msb_http_isalive_cb},
        {"GET", "/api/Status", MSB_HTTP_ROUTE_NONE, msb_http_status_cb},
        {"GET", "/Status", MSB_HTTP_ROUTE_NONE, msb_http_status_cb},
        {"GET", "/metrics", MSB_HTTP_ROUTE_NONE, msb_http_metrics_cb},
};

MsbHttp *
msb_http_new(MsbBroker *broker, MsbHttpInfoFunc info_func, gpointer user_data)
{
	MsbHttp *http;

	g_return_val_if_fail(broker != NULL, NULL);
	http = g_new0(MsbHttp, 1);
	http->broker = broker;
	http->info_func = info_func;
	http->info_data = user_data;
	http->started_us = g_get_real_time();
	http->reader = msb_stats_reader_new(broker);
	http->context = g_main_context_ref_thread_default();
	http->rendering = g_ptr_array_new();
	http->render_pool = g_thread_pool_new(msb_http_render_thread, http->context, 1, TRUE, NULL);
	http->router = msb_http_router_new();
	msb_http_router_add(http->router, msb_http_routes, G_N_ELEMENTS(msb_http_routes), http);
	http->messages = msb_http_messages_new(http->router, broker);
	http->admin = msb_http_admin_new(http->router, broker, http->reader);
	msb_http_docs_register(http->router);
	http->sessions = msb_http_sessions_new(http->router, broker);
	msb_http_ui_register(http->router);
	return http;
}

void
msb_http_free(MsbHttp *http)
{
	if (http == NULL)
		return;
	g_clear_pointer(&http->live, msb_http_live_free);
	g_clear_pointer(&http->messages, msb_http_messages_free);
	/* before the listener: their waiting requests are answered */
	g_clear_pointer(&http->sessions, msb_http_sessions_free);
	g_clear_pointer(&http->server, msb_http_server_free);
	g_clear_pointer(&http->router, msb_http_router_free);
	g_clear_pointer(&http->admin, msb_http_admin_free);
	/* renderings still queued or running finish, and answer nobody */
	for (guint v = 0; v < G_N_ELEMENTS(http->renders); v++) {
		if (http->renders[v] != NULL)
			msb_http_render_unref(g_steal_pointer(&http->renders[v]));
	}
	for (guint i = 0; i < http->rendering->len; i++) {
		MsbHttpRender *render = g_ptr_array_index(http->rendering, i);
		render->http = NULL;
		g_ptr_array_set_size(render->msgs, 0);
	}
	g_ptr_array_unref(http->rendering);
	msb_stats_reader_free(http->reader);
	g_thread_pool_free(http->render_pool, FALSE, TRUE);
	g_main_context_unref(http->context);
	g_free(http);
}

gboolean
msb_http_listen(MsbHttp *http, const gchar *address, guint16 port, const MsbHttpLimits *limits,
                GError **error)
{
	g_return_val_if_fail(http != NULL, FALSE);
	g_return_val_if_fail(http->server == NULL, FALSE);
	g_return_val_if_fail(limits != NULL, FALSE);

	http->server = msb_http_server_new("my-service-bus/" MSB_VERSION, limits);
	soup_server_add_handler(msb_http_server_get_soup(http->server), NULL,
	                        msb_http_router_handle, http->router, NULL);
	if (!msb_http_server_listen(http->server, address, port, error)) {
		g_prefix_error(error, "cannot listen for HTTP on %s:%u (HttpPort): ", address,
		               port);
		g_clear_pointer(&http->server, msb_http_server_free);
		return FALSE;
	}
	http->live = msb_http_live_new(http, http->reader, http->server, limits);
	g_message("HTTP (status, metrics) on %s:%u", address,
	          msb_http_server_get_port(http->server));
	return TRUE;
}

void
msb_http_set_persistence_client(MsbHttp *http, MsbPersistenceClient *client)
{
	g_return_if_fail(http != NULL);
	msb_http_messages_set_persistence(http->messages, client);
}

MsbHttpLive *
msb_http_get_live(MsbHttp *http)
{
	g_return_val_if_fail(http != NULL, NULL);
	return http->live;
}

MsbHttpRouter *
msb_http_get_router(MsbHttp *http)
{
	g_return_val_if_fail(http != NULL, NULL);
	return http->router;
}

MsbStatsReader *
msb_http_get_stats_reader(MsbHttp *http)
{
	g_return_val_if_fail(http != NULL, NULL);
	return http->reader;
}

MsbHttpSessions *
msb_http_get_sessions(MsbHttp *http)
{
	g_return_val_if_fail(http != NULL, NULL);
	return http->sessions;
}

guint16
msb_http_get_port(MsbHttp *http)
{
	g_return_val_if_fail(http != NULL, 0);
	return http->server != NULL ? msb_http_server_get_port(http->server) : 0;
}
