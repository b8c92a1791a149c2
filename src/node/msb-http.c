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
	/* MsbHttpRender*, owned: the renderings of the newest collection, one per view and
	 * namespace, that every request and live push answered by that collection shares */
	GPtrArray *renders;
	guint expire_id;          /* drops the finished ones of @renders */
	GThreadPool *render_pool; /* one thread */
	GPtrArray *rendering;     /* MsbHttpRender* that will answer (not owned) */
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
	MsbStatsReaderCosts costs;

	memset(info, 0, sizeof(*info));
	info->state = "running";
	if (http->info_func != NULL)
		http->info_func(info, http->info_data);
	if (http->server != NULL)
		info->http_connections = msb_http_server_get_n_connections(http->server);
	msb_stats_reader_get_costs(http->reader, &costs);
	info->stats_collections = costs.collections;
	info->stats_slices = costs.slices;
	info->stats_slice_max_us = costs.slice_max_us;
	info->stats_cpu_us = costs.cpu_us;
	info->stats_slice_cpu_max_us = costs.slice_cpu_max_us;
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
 * meanwhile. The requests answered by one collection share one rendering per view and
 * namespace: those that
 * come while it runs join it, later ones (pollers answered by a recent collection) take its
 * text, kept until a newer collection replaces it or for MSB_STATS_READER_RECENT_US.
 */

/* Who gets a rendering's text besides the paused messages (the live push). */
typedef struct {
	MsbHttpRenderedFunc func;
	gpointer data;
	GDestroyNotify destroy;
} MsbHttpRenderWaiter;

struct _MsbHttpRender {
	gint ref_count; /* main thread only */
	MsbHttp *http;  /* NULL once the listener is gone */
	MsbHttpView view;
	MsbBrokerStats *stats;
	MsbHttpInfo info; /* its strings are copies, for the worker thread */
	GPtrArray *msgs;  /* SoupServerMessage*, paused, waiting for the text */
	GArray *waiters;  /* MsbHttpRenderWaiter */
	GBytes *body;     /* the text, set by the render thread */
	gchar *ns;        /* the namespace whose topics the status page shows */
	guint flush_id;   /* answers waiters that came once the text was there */
};

/* One paused request waiting for a collection. */
/* A paused request waiting for a collection: a status view, or the UI's first screen. */
typedef struct {
	MsbHttp *http;
	MsbHttpView view;
	gchar *namespace_name;
	SoupServerMessage *msg;
	guint max_topics;   /* /api/Status/First */
	MsbStatusSort sort; /* /api/Status/First */
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
	g_free(render->ns);
	g_free((gchar *)render->info.state);
	g_free((gchar *)render->info.persistence_url);
	g_free((gchar *)render->info.persistence_version);
	g_free((gchar *)render->info.persistence_error);
	g_ptr_array_unref(render->msgs);
	g_array_unref(render->waiters);
	g_free(render);
}

static void
msb_http_render_waiter_clear(MsbHttpRenderWaiter *w)
{
	if (w->destroy != NULL)
		w->destroy(w->data);
}

/* Hand the text to everyone waiting for it so far. */
static void
msb_http_render_answer(MsbHttpRender *render)
{
	const gchar *content_type = render->view == MSB_HTTP_VIEW_STATUS
	                                    ? "application/json"
	                                    : "text/plain; version=0.0.4; charset=utf-8";
	g_autoptr(GArray) waiters = render->waiters;

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
	g_ptr_array_set_size(render->msgs, 0);
	render->waiters = g_array_new(FALSE, FALSE, sizeof(MsbHttpRenderWaiter));
	g_array_set_clear_func(render->waiters, (GDestroyNotify)msb_http_render_waiter_clear);
	for (guint i = 0; i < waiters->len; i++) {
		MsbHttpRenderWaiter *w = &g_array_index(waiters, MsbHttpRenderWaiter, i);
		w->func(render->body, w->data);
	}
}

/* A finished rendering is kept for later requests of its collection, but not for ever. */
static gboolean
msb_http_render_expire_cb(gpointer user_data)
{
	MsbHttp *http = user_data;

	http->expire_id = 0;
	for (guint i = http->renders->len; i > 0; i--) {
		MsbHttpRender *render = g_ptr_array_index(http->renders, i - 1);
		if (render->body != NULL)
			g_ptr_array_remove_index_fast(http->renders, i - 1);
	}
	return G_SOURCE_REMOVE;
}

static gboolean
msb_http_render_done_cb(gpointer user_data)
{
	MsbHttpRender *render = user_data;
	MsbHttp *http = render->http;

	if (http != NULL) {
		g_debug("rendered the %s for %u requests",
		        render->view == MSB_HTTP_VIEW_STATUS ? "status" : "metrics",
		        render->msgs->len + render->waiters->len);
		g_ptr_array_remove_fast(http->rendering, render);
		msb_http_render_answer(render);
		if (g_ptr_array_find(http->renders, render, NULL)) {
			g_clear_handle_id(&http->expire_id, g_source_remove);
			http->expire_id = g_timeout_add(MSB_STATS_READER_RECENT_US / 1000,
			                                msb_http_render_expire_cb, http);
		}
	}
	msb_http_render_unref(render);
	return G_SOURCE_REMOVE;
}

static gboolean
msb_http_render_flush_cb(gpointer user_data)
{
	MsbHttpRender *render = user_data;

	render->flush_id = 0;
	if (render->http != NULL) {
		g_ptr_array_remove_fast(render->http->rendering, render);
		msb_http_render_answer(render);
	}
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

/*
 * The rendering of @stats in @view for namespace @ns: a kept one if one renders the same, else
 * a new one queued on the render thread, kept. Several namespaces' pages (live sockets and
 * pollers of each) each have theirs, so none replaces another's rendering of the same
 * collection. Borrowed.
 */
static MsbHttpRender *
msb_http_render_get(MsbHttp *http, MsbHttpView view, MsbBrokerStats *stats, const gchar *ns)
{
	MsbHttpRender *render;
	MsbHttpInfo info;

	/* a kept rendering holds its stats, so no other collection has that address */
	for (guint i = 0; i < http->renders->len; i++) {
		render = g_ptr_array_index(http->renders, i);
		if (render->view == view && render->stats == stats &&
		    g_strcmp0(render->ns, ns) == 0)
			return render;
	}
	/* those of other (older) collections are not wanted any more */
	for (guint i = http->renders->len; i > 0; i--) {
		render = g_ptr_array_index(http->renders, i - 1);
		if (render->stats != stats)
			g_ptr_array_remove_index_fast(http->renders, i - 1);
	}
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
	render->waiters = g_array_new(FALSE, FALSE, sizeof(MsbHttpRenderWaiter));
	g_array_set_clear_func(render->waiters, (GDestroyNotify)msb_http_render_waiter_clear);
	render->ns = g_strdup(ns);
	g_ptr_array_add(http->renders, render);
	/* the thread's reference, dropped by msb_http_render_done_cb() */
	g_ptr_array_add(http->rendering, render);
	g_thread_pool_push(http->render_pool, msb_http_render_ref(render), NULL);
	return render;
}

static void
msb_http_stats_ready_cb(MsbBrokerStats *stats, gpointer user_data)
{
	MsbHttpWait *wait = user_data;
	MsbHttpRender *render =
	        msb_http_render_get(wait->http, wait->view, stats, wait->namespace_name);

	g_ptr_array_add(render->msgs, g_steal_pointer(&wait->msg));
	if (render->body != NULL)
		msb_http_render_answer(render);
}

void
msb_http_render_status(MsbHttp *http, MsbBrokerStats *stats, const gchar *ns,
                       MsbHttpRenderedFunc func, gpointer user_data, GDestroyNotify destroy)
{
	MsbHttpRender *render;
	MsbHttpRenderWaiter w = {func, user_data, destroy};

	g_return_if_fail(http != NULL);
	g_return_if_fail(stats != NULL);
	g_return_if_fail(ns != NULL);
	g_return_if_fail(func != NULL);
	render = msb_http_render_get(http, MSB_HTTP_VIEW_STATUS, stats, ns);
	g_array_append_val(render->waiters, w);
	/* already rendered (for a status request): answered from the main loop, not from here */
	if (render->body != NULL && render->flush_id == 0) {
		g_ptr_array_add(http->rendering, render);
		render->flush_id = g_idle_add_full(G_PRIORITY_DEFAULT, msb_http_render_flush_cb,
		                                   msb_http_render_ref(render),
		                                   (GDestroyNotify)msb_http_render_unref);
	}
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

/* Pauses @msg until a collection answers it; free with msb_http_wait_free(). */
static MsbHttpWait *
msb_http_wait_new(MsbHttp *http, SoupServerMessage *msg, const gchar *namespace_name)
{
	MsbHttpWait *wait = g_new0(MsbHttpWait, 1);

	wait->http = http;
	wait->namespace_name = g_strdup(namespace_name);
	wait->msg = g_object_ref(msg);
	/* a paused message whose connection closes must not be answered (nor unpaused) */
	g_signal_connect(msg, "finished", G_CALLBACK(msb_http_msg_gone_cb), NULL);
	if (g_signal_lookup("disconnected", SOUP_TYPE_SERVER_MESSAGE) != 0)
		g_signal_connect(msg, "disconnected", G_CALLBACK(msb_http_msg_gone_cb), NULL);
	soup_server_message_pause(msg);
	return wait;
}

/*
 * ?fresh=true: answered by a collection that starts after the request (it shows everything done
 * before it, whoever did it); by default any collection started at most
 * MSB_STATS_READER_RECENT_US before it and after the last write over HTTP, so that pollers share
 * one collection and one rendering a second.
 */
static void
msb_http_read_state(MsbHttp *http, MsbHttpCall *call, MsbHttpView view, const gchar *namespace_name)
{
	SoupServerMessage *msg = msb_http_call_get_message(call);
	g_autoptr(GError) error = NULL;
	gboolean fresh = FALSE;
	MsbHttpWait *wait;

	if (!msb_http_call_query_bool(call, "fresh", FALSE, &fresh, &error) && error != NULL) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	wait = msb_http_wait_new(http, msg, namespace_name);
	wait->view = view;
	if (fresh)
		msb_stats_reader_request(http->reader, msb_http_stats_ready_cb, wait,
		                         (GDestroyNotify)msb_http_wait_free);
	else
		msb_stats_reader_request_recent(http->reader, msb_http_stats_ready_cb, wait,
		                                (GDestroyNotify)msb_http_wait_free);
}

static void
msb_http_status_cb(MsbHttpCall *call, gpointer user_data)
{
	msb_http_read_state(user_data, call, MSB_HTTP_VIEW_STATUS,
	                    msb_http_call_get_namespace(call));
}

static void
msb_http_metrics_cb(MsbHttpCall *call, gpointer user_data)
{
	msb_http_read_state(user_data, call, MSB_HTTP_VIEW_METRICS, NULL);
}

/*
 * /api/Status/First: the UI's first screen (msb_status_render_json_first()). It is a small part
 * of a collection the pollers share (any recent one, as /api/Status), rendered at once on the
 * main loop: its size is bounded by the topics it shows, not by the broker's.
 */
static void
msb_http_first_ready_cb(MsbBrokerStats *stats, gpointer user_data)
{
	MsbHttpWait *wait = user_data;
	SoupServerMessage *msg = wait->msg;
	g_autoptr(GBytes) body = NULL;
	MsbHttpInfo info;

	if (g_object_get_data(G_OBJECT(msg), MSB_HTTP_GONE) != NULL)
		return;
	msb_http_get_info(wait->http, &info);
	body = msb_status_render_json_first(stats, &info, wait->namespace_name, wait->max_topics,
	                                    wait->sort);
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Content-Type",
	                             "application/json");
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg), body);
	soup_server_message_unpause(msg);
}

static void
msb_http_status_first_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttp *http = user_data;
	SoupServerMessage *msg = msb_http_call_get_message(call);
	g_autoptr(GError) error = NULL;
	gint64 max_topics = 50;
	const gchar *sort_text = "name";
	MsbStatusSort sort = MSB_STATUS_SORT_NAME;
	MsbHttpWait *wait;

	if (!msb_http_call_query_int64(call, "topics", FALSE, &max_topics, &error) &&
	    error != NULL) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	if (max_topics < 1 || max_topics > MSB_STATUS_FIRST_MAX_TOPICS) {
		g_autofree gchar *text = g_strdup_printf(
		        "the query parameter 'topics' must be from 1 to %d, not %" G_GINT64_FORMAT,
		        MSB_STATUS_FIRST_MAX_TOPICS, max_topics);
		msb_http_call_reply_text(call, SOUP_STATUS_BAD_REQUEST, text);
		return;
	}
	msb_http_call_query_string(call, "sort", FALSE, &sort_text, NULL);
	if (!msb_status_sort_from_string(sort_text, &sort)) {
		g_autofree gchar *text = g_strdup_printf("the query parameter 'sort' must be name, "
		                                         "rate, waiting or persist, not '%s'",
		                                         sort_text);
		msb_http_call_reply_text(call, SOUP_STATUS_BAD_REQUEST, text);
		return;
	}
	wait = msb_http_wait_new(http, msg, msb_http_call_get_namespace(call));
	wait->max_topics = (guint)max_topics;
	wait->sort = sort;
	msb_stats_reader_request_recent(http->reader, msb_http_first_ready_cb, wait,
	                                (GDestroyNotify)msb_http_wait_free);
}

/*
 * An admin action (create/delete topic, set a queue's message id, ...) has been answered: its
 * client may read the state next, and must see its change. The traffic of HTTP publisher and
 * subscriber sessions (pings, publishes, confirms a second each) does not count, as that of TCP
 * sessions does not: else every ping would make the next poll collect anew, one collection per
 * poll. Such a client reads its own changes with ?fresh=true.
 */
static void
msb_http_request_done_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	MsbHttp *http = user_data;

	if (msb_http_router_changed_state(msg))
		msb_stats_reader_note_write(http->reader);
}

static const MsbHttpRoute msb_http_routes[] = {
        {"GET", "/api/isalive", MSB_HTTP_ROUTE_NONE, msb_http_isalive_cb},
        {"GET", "/api/Status", MSB_HTTP_ROUTE_NONE, msb_http_status_cb},
        {"GET", "/api/Status/First", MSB_HTTP_ROUTE_NONE, msb_http_status_first_cb},
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
	http->renders = g_ptr_array_new_with_free_func((GDestroyNotify)msb_http_render_unref);
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
	if (http->server != NULL)
		g_signal_handlers_disconnect_by_data(msb_http_server_get_soup(http->server), http);
	g_clear_pointer(&http->server, msb_http_server_free);
	g_clear_pointer(&http->router, msb_http_router_free);
	g_clear_pointer(&http->admin, msb_http_admin_free);
	/* renderings still queued or running finish, and answer nobody */
	g_clear_handle_id(&http->expire_id, g_source_remove);
	g_ptr_array_set_size(http->renders, 0);
	for (guint i = 0; i < http->rendering->len; i++) {
		MsbHttpRender *render = g_ptr_array_index(http->rendering, i);
		render->http = NULL;
		g_ptr_array_set_size(render->msgs, 0);
	}
	g_ptr_array_unref(http->rendering);
	g_ptr_array_unref(http->renders);
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
	g_signal_connect(msb_http_server_get_soup(http->server), "request-finished",
	                 G_CALLBACK(msb_http_request_done_cb), http);
	g_signal_connect(msb_http_server_get_soup(http->server), "request-aborted",
	                 G_CALLBACK(msb_http_request_done_cb), http);
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
