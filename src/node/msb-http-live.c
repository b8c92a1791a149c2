/*
 * MsbHttpLive: /api/ws, the status pushed to the UI once a second (see msb-http-live.h).
 *
 * Cost is per second, not per browser: one tick asks MsbStatsReader for a recent collection newer
 * than the one it pushed last (a poller's, when one started in the last second; else a new one,
 * which the pollers then share), renders the JSON once per namespace that has sockets, in the
 * render thread of the status requests (sharing their rendering of the same collection), and
 * hands the same bytes to each socket. So the pollers and the push together cost one collection
 * a second, not one each.
 *
 * Bounds. libsoup queues every frame it is given without limit and (3.2) does not say how much
 * waits, so a browser that stops reading (a frozen tab, a dead peer without a reset) would make
 * the broker buffer a status page a second for ever. libsoup writes what it queued as soon as the
 * socket takes it, so while the kernel still holds bytes of the socket that it has not sent
 * (TCP_INFO tcpi_notsent_bytes: the client's window is closed, or the link is slower than the
 * frames), libsoup may hold more: that socket misses this second and gets a fresh frame once it
 * caught up. So each socket holds at most about one frame here besides the kernel's buffer.
 * (Counting the bytes handed to libsoup against those acknowledged does not work: with
 * permessage-deflate, which browsers ask for, the bytes on the wire are fewer.) A socket whose
 * client acknowledged nothing for HttpIdleTimeout while frames waited is closed. Sockets are capped
 * at half of HttpMaxConnections, so live pages cannot take the port from the REST API and the
 * status pollers.
 *
 * Thread. The sockets live in a thread of their own, with its own GMainContext: the main loop
 * polls every file descriptor it watches at each iteration (GLib's poll() is linear in them), so
 * twenty open pages made every message delivered pay for twenty more sockets, and the writes of
 * the frames (the kernel's loopback work, libsoup's UTF-8 check and copy) ran between deliveries.
 * The main thread keeps the ticks, the collections and the renderings; it does the upgrade
 * handshake itself (instead of soup_server_add_websocket_handler(), which would create the
 * connection on the main loop), steals the connection once the 101 is written and hands it to
 * the live thread, which creates the SoupWebsocketConnection there and sends the frames it is
 * given. A socket's GIOStream is released on the main thread, as MsbHttpServer watches it there.
 */
#define G_LOG_DOMAIN "msb-http-live"

#include "msb-http-live.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MSB_HTTP_LIVE_PERIOD_MS 1000
/* what a client may send in one message (it is read and dropped) */
#define MSB_HTTP_LIVE_MAX_INCOMING 4096

/* A socket, owned by the live thread. */
typedef struct {
	MsbHttpLive *live;
	SoupWebsocketConnection *ws;
	GIOStream *stream; /* released on the main thread, after @ws */
	GSocket *socket;
	gchar *ns;
	gboolean has_tcp_info;   /* else only "is it writable" tells whether it reads */
	guint64 acked_seen;      /* TCP bytes acknowledged, as last read */
	gint64 stalled_since_us; /* bytes waited and nothing was acknowledged since; 0 if not */
} MsbHttpLiveSocket;

/* An upgraded connection on its way to the live thread. */
typedef struct {
	MsbHttpLive *live;
	GIOStream *stream;
	GSocket *socket;
	GUri *uri;
	gchar *origin;
	GList *extensions; /* SoupWebsocketExtension*, accepted in the handshake */
	gchar *ns;
} MsbHttpLiveAdopt;

/* A socket gone: what the main thread releases and counts. */
typedef struct {
	MsbHttpLive *live;
	GIOStream *stream;
	gchar *ns;
} MsbHttpLiveGone;

/* A frame for the sockets of a namespace. */
typedef struct {
	MsbHttpLive *live;
	gchar *ns;
	GBytes *json;
} MsbHttpLiveFrame;

struct _MsbHttpLive {
	/* main thread */
	MsbHttp *http;
	MsbStatsReader *reader;
	MsbHttpServer *server;
	GMainContext *main_context;
	GHashTable *namespaces; /* namespace (owned) -> sockets open or opening, as a pointer */
	guint n_sockets;        /* the sum of @namespaces */
	guint max_sockets;
	guint timer_id;
	gboolean collecting;    /* a collection asked for by a tick has not come yet */
	MsbBrokerStats *pushed; /* the collection of the last push, so that the next is newer */
	GHashTable *rendering;  /* namespaces (owned strings) whose frame is being rendered */
	GPtrArray *extensions;  /* the extensions' classes we accept (permessage-deflate) */
	/* the live thread */
	GMainContext *context;
	GMainLoop *loop;
	GThread *thread;
	GPtrArray *sockets; /* MsbHttpLiveSocket*, owned */
	gint64 idle_timeout_us;
	/* both, under @lock */
	GMutex lock;
	GPtrArray *gone; /* MsbHttpLiveGone*, for the main thread */
	guint gone_id;   /* the main-thread source that takes them */
	guint64 frames_sent;
	guint64 frames_skipped;
};

/* One namespace's frame being rendered. */
typedef struct {
	MsbHttpLive *live;
	gchar *ns;
} MsbHttpLiveRender;

static void
msb_http_live_gone_free(MsbHttpLiveGone *g)
{
	g_object_unref(g->stream);
	g_free(g->ns);
	g_free(g);
}

/*
 * Run @func in the live thread. Not g_main_context_invoke(), which runs it in the calling thread
 * when the live thread does not hold its context at that moment (before its loop started).
 */
static void
msb_http_live_post(MsbHttpLive *live, GSourceFunc func, gpointer data, GDestroyNotify destroy)
{
	g_autoptr(GSource) source = g_idle_source_new();

	g_source_set_callback(source, func, data, destroy);
	g_source_attach(source, live->context);
}

/* Main thread: forget the sockets gone, and release their streams here. */
static void
msb_http_live_take_gone(MsbHttpLive *live)
{
	g_autoptr(GPtrArray) gone = NULL;

	g_mutex_lock(&live->lock);
	gone = g_steal_pointer(&live->gone);
	live->gone = g_ptr_array_new_with_free_func((GDestroyNotify)msb_http_live_gone_free);
	live->gone_id = 0;
	g_mutex_unlock(&live->lock);
	for (guint i = 0; i < gone->len; i++) {
		MsbHttpLiveGone *g = g_ptr_array_index(gone, i);
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(live->namespaces, g->ns));

		if (n <= 1)
			g_hash_table_remove(live->namespaces, g->ns);
		else
			g_hash_table_insert(live->namespaces, g_strdup(g->ns),
			                    GUINT_TO_POINTER(n - 1));
		live->n_sockets--;
		g_debug("a live UI socket closed (%u open)", live->n_sockets);
	}
}

static gboolean
msb_http_live_gone_cb(gpointer user_data)
{
	msb_http_live_take_gone(user_data);
	return G_SOURCE_REMOVE;
}

/* Live thread: once @ws is finalized (its references to the stream dropped), in an idle. */
static gboolean
msb_http_live_release_cb(gpointer user_data)
{
	MsbHttpLiveGone *g = user_data;
	MsbHttpLive *live = g->live;

	g_mutex_lock(&live->lock);
	g_ptr_array_add(live->gone, g);
	if (live->gone_id == 0) {
		g_autoptr(GSource) source = g_idle_source_new();
		g_source_set_callback(source, msb_http_live_gone_cb, live, NULL);
		live->gone_id = g_source_attach(source, live->main_context);
	}
	g_mutex_unlock(&live->lock);
	return G_SOURCE_REMOVE;
}

static void
msb_http_live_ws_finalized_cb(gpointer data, GObject *where_the_object_was)
{
	MsbHttpLiveGone *g = data;
	g_autoptr(GSource) source = g_idle_source_new();

	g_source_set_callback(source, msb_http_live_release_cb, g, NULL);
	g_source_attach(source, g->live->context);
}

static void
msb_http_live_socket_free(MsbHttpLiveSocket *s)
{
	MsbHttpLiveGone *g = g_new0(MsbHttpLiveGone, 1);

	g->live = s->live;
	g->stream = g_steal_pointer(&s->stream);
	g->ns = g_steal_pointer(&s->ns);
	g_object_weak_ref(G_OBJECT(s->ws), msb_http_live_ws_finalized_cb, g);
	g_signal_handlers_disconnect_by_data(s->ws, s);
	if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
	g_object_unref(s->ws);
	g_clear_object(&s->socket);
	g_free(s);
}

/* The kernel's bytes of @socket not sent yet, and those the peer acknowledged so far. */
static gboolean
msb_http_live_tcp_info(GSocket *socket, guint64 *notsent, guint64 *acked)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (getsockopt(g_socket_get_fd(socket), IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_notsent_bytes) + sizeof(info.tcpi_notsent_bytes))
		return FALSE;
	*notsent = info.tcpi_notsent_bytes;
	*acked = info.tcpi_bytes_acked;
	return TRUE;
}

/*
 * Whether @s may be handed a frame now: FALSE while the kernel still holds bytes of it that it
 * could not send. Also notes how long such a socket has had nothing acknowledged.
 */
static gboolean
msb_http_live_socket_ready(MsbHttpLiveSocket *s, gint64 now_us)
{
	guint64 notsent = 0;
	guint64 acked = 0;

	if (!s->has_tcp_info || !msb_http_live_tcp_info(s->socket, &notsent, &acked))
		return (g_socket_condition_check(s->socket, G_IO_OUT) & G_IO_OUT) != 0;
	if (notsent == 0 || acked != s->acked_seen)
		s->stalled_since_us = notsent == 0 ? 0 : now_us;
	else if (s->stalled_since_us == 0)
		s->stalled_since_us = now_us;
	s->acked_seen = acked;
	return notsent == 0;
}

/* Live thread. */
static gboolean
msb_http_live_send_cb(gpointer user_data)
{
	MsbHttpLiveFrame *frame = user_data;
	MsbHttpLive *live = frame->live;
	gint64 now_us = g_get_monotonic_time();
	guint64 sent = 0;
	guint64 skipped = 0;

	for (guint i = 0; i < live->sockets->len;) {
		MsbHttpLiveSocket *s = g_ptr_array_index(live->sockets, i);

		if (g_strcmp0(s->ns, frame->ns) != 0 ||
		    soup_websocket_connection_get_state(s->ws) != SOUP_WEBSOCKET_STATE_OPEN) {
			i++;
			continue;
		}
		if (msb_http_live_socket_ready(s, now_us)) {
			soup_websocket_connection_send_message(s->ws, SOUP_WEBSOCKET_DATA_TEXT,
			                                       frame->json);
			sent++;
			i++;
			continue;
		}
		skipped++;
		g_debug("live: a frame skipped: the client has not taken the previous ones");
		if (s->stalled_since_us != 0 &&
		    now_us - s->stalled_since_us >= live->idle_timeout_us) {
			g_message("closing a live UI socket: its client took nothing for "
			          "HttpIdleTimeout");
			/* frees @s; "closed" is not emitted for it any more */
			g_ptr_array_remove_index_fast(live->sockets, i);
			continue;
		}
		i++;
	}
	g_mutex_lock(&live->lock);
	live->frames_sent += sent;
	live->frames_skipped += skipped;
	g_mutex_unlock(&live->lock);
	return G_SOURCE_REMOVE;
}

static void
msb_http_live_frame_free(MsbHttpLiveFrame *frame)
{
	g_bytes_unref(frame->json);
	g_free(frame->ns);
	g_free(frame);
}

static void
msb_http_live_rendered_cb(GBytes *json, gpointer user_data)
{
	MsbHttpLiveRender *r = user_data;
	MsbHttpLiveFrame *frame = g_new0(MsbHttpLiveFrame, 1);

	g_hash_table_remove(r->live->rendering, r->ns);
	/* the same bytes for every socket, handed over without a copy */
	frame->live = r->live;
	frame->ns = g_strdup(r->ns);
	frame->json = g_bytes_ref(json);
	msb_http_live_post(r->live, msb_http_live_send_cb, frame,
	                   (GDestroyNotify)msb_http_live_frame_free);
}

static void
msb_http_live_render_free(MsbHttpLiveRender *r)
{
	g_free(r->ns);
	g_free(r);
}

static void
msb_http_live_stats_ready_cb(MsbBrokerStats *stats, gpointer user_data)
{
	MsbHttpLive *live = user_data;
	GHashTableIter iter;
	gpointer ns;

	live->collecting = FALSE;
	g_clear_pointer(&live->pushed, msb_broker_stats_unref);
	live->pushed = msb_broker_stats_ref(stats);
	g_debug("live: collection %" G_GUINT64_FORMAT " for %u sockets",
	        msb_stats_reader_get_collections(live->reader), live->n_sockets);
	g_hash_table_iter_init(&iter, live->namespaces);
	while (g_hash_table_iter_next(&iter, &ns, NULL)) {
		MsbHttpLiveRender *r;

		/* one rendering per namespace at a time: a slow one makes the next second skip */
		if (g_hash_table_contains(live->rendering, ns))
			continue;
		g_hash_table_add(live->rendering, g_strdup(ns));
		r = g_new0(MsbHttpLiveRender, 1);
		r->live = live;
		r->ns = g_strdup(ns);
		msb_http_render_status(live->http, stats, r->ns, msb_http_live_rendered_cb, r,
		                       (GDestroyNotify)msb_http_live_render_free);
	}
}

static gboolean
msb_http_live_tick_cb(gpointer user_data)
{
	MsbHttpLive *live = user_data;

	if (live->n_sockets == 0) {
		live->timer_id = 0;
		g_clear_pointer(&live->pushed, msb_broker_stats_unref);
		return G_SOURCE_REMOVE;
	}
	/* a collection slower than a second: this tick is answered by it, not by another one */
	if (!live->collecting) {
		live->collecting = TRUE;
		msb_stats_reader_request_newer(live->reader, live->pushed,
		                               msb_http_live_stats_ready_cb, live, NULL);
	}
	return G_SOURCE_CONTINUE;
}

/* Live thread. */
static void
msb_http_live_closed_cb(SoupWebsocketConnection *ws, gpointer user_data)
{
	MsbHttpLiveSocket *s = user_data;

	g_ptr_array_remove_fast(s->live->sockets, s);
}

static void
msb_http_live_adopt_free(MsbHttpLiveAdopt *a)
{
	g_clear_object(&a->stream);
	g_clear_object(&a->socket);
	g_clear_pointer(&a->uri, g_uri_unref);
	g_free(a->origin);
	g_list_free_full(a->extensions, g_object_unref);
	g_free(a->ns);
	g_free(a);
}

/* Live thread: the WebSocket is created here, so that its I/O is watched by this thread. */
static gboolean
msb_http_live_adopt_cb(gpointer user_data)
{
	MsbHttpLiveAdopt *a = user_data;
	MsbHttpLive *live = a->live;
	MsbHttpLiveSocket *s = g_new0(MsbHttpLiveSocket, 1);
	guint64 notsent = 0;

	s->live = live;
	s->stream = g_steal_pointer(&a->stream);
	s->ws = soup_websocket_connection_new(s->stream, a->uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
	                                      a->origin, NULL, g_steal_pointer(&a->extensions));
	s->socket = g_steal_pointer(&a->socket);
	s->ns = g_steal_pointer(&a->ns);
	s->has_tcp_info = msb_http_live_tcp_info(s->socket, &notsent, &s->acked_seen);
	soup_websocket_connection_set_max_incoming_payload_size(s->ws, MSB_HTTP_LIVE_MAX_INCOMING);
	g_signal_connect(s->ws, "closed", G_CALLBACK(msb_http_live_closed_cb), s);
	g_ptr_array_add(live->sockets, s);
	return G_SOURCE_REMOVE;
}

/* Main thread: the 101 is written; the connection leaves libsoup's server for the live thread. */
static void
msb_http_live_upgraded_cb(SoupServerMessage *msg, gpointer user_data)
{
	MsbHttpLiveAdopt *a = g_object_steal_data(G_OBJECT(msg), "msb-http-live-adopt");
	MsbHttpLive *live = a->live;
	GSocket *socket = msb_http_server_upgraded(msg);
	guint n;

	g_signal_handlers_disconnect_by_func(msg, msb_http_live_upgraded_cb, user_data);
	a->stream = soup_server_message_steal_connection(msg);
	/* several handshakes may have passed the cap's check at once */
	if (socket == NULL || a->stream == NULL || live->n_sockets >= live->max_sockets) {
		if (a->stream != NULL)
			g_io_stream_close(a->stream, NULL, NULL);
		msb_http_live_adopt_free(a);
		return;
	}
	a->socket = g_object_ref(socket);
	a->uri = g_uri_ref(soup_server_message_get_uri(msg));
	a->origin = g_strdup(soup_message_headers_get_one(
	        soup_server_message_get_request_headers(msg), "Origin"));
	n = GPOINTER_TO_UINT(g_hash_table_lookup(live->namespaces, a->ns));
	g_hash_table_insert(live->namespaces, g_strdup(a->ns), GUINT_TO_POINTER(n + 1));
	live->n_sockets++;
	g_debug("a live UI socket opened for namespace %s (%u open)", a->ns, live->n_sockets);
	msb_http_live_post(live, msb_http_live_adopt_cb, a,
	                   (GDestroyNotify)msb_http_live_adopt_free);
	if (live->timer_id == 0) {
		live->timer_id =
		        g_timeout_add(MSB_HTTP_LIVE_PERIOD_MS, msb_http_live_tick_cb, live);
		/* the page has something to show at once, not after a second */
		msb_http_live_tick_cb(live);
	}
}

/*
 * Main thread. Over the cap, the client gets 503 and polls /api/Status instead; else the
 * handshake is answered here (a request that is no WebSocket handshake gets libsoup's 400).
 */
static void
msb_http_live_request_cb(SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer user_data)
{
	MsbHttpLive *live = user_data;
	g_autoptr(GHashTable) params = NULL;
	const gchar *query_str = g_uri_get_query(soup_server_message_get_uri(msg));
	const gchar *ns = NULL;
	GList *extensions = NULL;
	MsbHttpLiveAdopt *a;

	if (live->n_sockets >= live->max_sockets) {
		soup_server_message_set_status(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
		                             "Retry-After", "10");
		soup_server_message_set_response(
		        msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC,
		        "too many live UI sockets; poll /api/Status\n",
		        strlen("too many live UI sockets; poll /api/Status\n"));
		return;
	}
	if (!soup_websocket_server_process_handshake(msg, NULL, NULL, live->extensions,
	                                             &extensions))
		return;
	if (query_str != NULL)
		params =
		        g_uri_parse_params(query_str, -1, "&", G_URI_PARAMS_CASE_INSENSITIVE, NULL);
	if (params != NULL)
		ns = g_hash_table_lookup(params, "ns");
	if (ns == NULL || *ns == '\0')
		ns = "default";
	a = g_new0(MsbHttpLiveAdopt, 1);
	a->live = live;
	a->ns = g_strdup(ns);
	a->extensions = extensions;
	/* if the client goes before the 101 is written, the handler never runs: @a goes with msg */
	g_object_set_data_full(G_OBJECT(msg), "msb-http-live-adopt", a,
	                       (GDestroyNotify)msb_http_live_adopt_free);
	g_signal_connect(msg, "wrote-informational", G_CALLBACK(msb_http_live_upgraded_cb), a);
}

static gpointer
msb_http_live_thread(gpointer user_data)
{
	MsbHttpLive *live = user_data;

	g_main_context_push_thread_default(live->context);
	g_main_loop_run(live->loop);
	/* what the stop left: the sockets closed, their releases queued */
	g_ptr_array_set_size(live->sockets, 0);
	while (g_main_context_iteration(live->context, FALSE))
		;
	g_main_context_pop_thread_default(live->context);
	return NULL;
}

MsbHttpLive *
msb_http_live_new(MsbHttp *http, MsbStatsReader *reader, MsbHttpServer *server,
                  const MsbHttpLimits *limits)
{
	MsbHttpLive *live;
	SoupServer *soup;

	g_return_val_if_fail(http != NULL, NULL);
	g_return_val_if_fail(reader != NULL, NULL);
	g_return_val_if_fail(server != NULL, NULL);
	g_return_val_if_fail(limits != NULL, NULL);

	live = g_new0(MsbHttpLive, 1);
	live->http = http;
	live->reader = reader;
	live->server = server;
	live->main_context = g_main_context_ref_thread_default();
	live->namespaces = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	live->sockets = g_ptr_array_new_with_free_func((GDestroyNotify)msb_http_live_socket_free);
	live->max_sockets = (guint)MAX(1, MIN(limits->max_connections / 2, (gint64)G_MAXUINT));
	live->idle_timeout_us = limits->idle_timeout_us;
	live->rendering = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	live->extensions = g_ptr_array_new_with_free_func(g_type_class_unref);
	g_ptr_array_add(live->extensions, g_type_class_ref(SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE));
	g_mutex_init(&live->lock);
	live->gone = g_ptr_array_new_with_free_func((GDestroyNotify)msb_http_live_gone_free);
	live->context = g_main_context_new();
	live->loop = g_main_loop_new(live->context, FALSE);
	live->thread = g_thread_new("msb-http-live", msb_http_live_thread, live);
	soup = msb_http_server_get_soup(server);
	soup_server_add_handler(soup, "/api/ws", msb_http_live_request_cb, live, NULL);
	return live;
}

static gboolean
msb_http_live_quit_cb(gpointer user_data)
{
	MsbHttpLive *live = user_data;

	g_main_loop_quit(live->loop);
	return G_SOURCE_REMOVE;
}

void
msb_http_live_free(MsbHttpLive *live)
{
	if (live == NULL)
		return;
	if (live->timer_id != 0)
		g_source_remove(live->timer_id);
	soup_server_remove_handler(msb_http_server_get_soup(live->server), "/api/ws");
	/* the thread closes its sockets and ends; then their streams are released here */
	msb_http_live_post(live, msb_http_live_quit_cb, live, NULL);
	g_thread_join(live->thread);
	g_mutex_lock(&live->lock);
	if (live->gone_id != 0)
		g_source_destroy(
		        g_main_context_find_source_by_id(live->main_context, live->gone_id));
	live->gone_id = 0;
	g_mutex_unlock(&live->lock);
	msb_http_live_take_gone(live);
	g_ptr_array_unref(live->sockets);
	g_ptr_array_unref(live->gone);
	g_main_loop_unref(live->loop);
	g_main_context_unref(live->context);
	g_mutex_clear(&live->lock);
	g_ptr_array_unref(live->extensions);
	g_hash_table_destroy(live->namespaces);
	g_hash_table_destroy(live->rendering);
	g_clear_pointer(&live->pushed, msb_broker_stats_unref);
	g_main_context_unref(live->main_context);
	g_free(live);
}

guint
msb_http_live_get_n_sockets(MsbHttpLive *live)
{
	g_return_val_if_fail(live != NULL, 0);
	return live->n_sockets;
}

guint64
msb_http_live_get_frames_sent(MsbHttpLive *live)
{
	guint64 n;

	g_return_val_if_fail(live != NULL, 0);
	g_mutex_lock(&live->lock);
	n = live->frames_sent;
	g_mutex_unlock(&live->lock);
	return n;
}

guint64
msb_http_live_get_frames_skipped(MsbHttpLive *live)
{
	guint64 n;

	g_return_val_if_fail(live != NULL, 0);
	g_mutex_lock(&live->lock);
	n = live->frames_skipped;
	g_mutex_unlock(&live->lock);
	return n;
}
