/*
 * MsbHttpLive: /api/ws, the status pushed to the UI once a second (see msb-http-live.h).
 *
 * Cost is per second, not per browser: one tick asks MsbStatsReader for one collection (which
 * status requests made meanwhile share), renders the JSON once per namespace that has sockets,
 * in the render thread of the status requests, and hands the same bytes to each socket.
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
 */
#define G_LOG_DOMAIN "msb-http-live"

#include "msb-http-live.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MSB_HTTP_LIVE_PERIOD_MS 1000
/* what a client may send in one message (it is read and dropped) */
#define MSB_HTTP_LIVE_MAX_INCOMING 4096

typedef struct {
	MsbHttpLive *live;
	SoupWebsocketConnection *ws;
	GSocket *socket;
	gchar *ns;
	gboolean has_tcp_info;   /* else only "is it writable" tells whether it reads */
	guint64 acked_seen;      /* TCP bytes acknowledged, as last read */
	gint64 stalled_since_us; /* bytes waited and nothing was acknowledged since; 0 if not */
} MsbHttpLiveSocket;

struct _MsbHttpLive {
	MsbHttp *http;
	MsbStatsReader *reader;
	MsbHttpServer *server;
	GPtrArray *sockets; /* MsbHttpLiveSocket*, owned */
	guint max_sockets;
	gint64 idle_timeout_us;
	guint timer_id;
	gboolean collecting;   /* a collection asked for by a tick has not come yet */
	GHashTable *rendering; /* namespaces (owned strings) whose frame is being rendered */
	guint64 frames_sent;
	guint64 frames_skipped;
};

/* One namespace's frame being rendered. */
typedef struct {
	MsbHttpLive *live;
	gchar *ns;
} MsbHttpLiveRender;

static void
msb_http_live_socket_free(MsbHttpLiveSocket *s)
{
	g_signal_handlers_disconnect_by_data(s->ws, s);
	if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
	g_object_unref(s->ws);
	g_clear_object(&s->socket);
	g_free(s->ns);
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

static void
msb_http_live_send(MsbHttpLive *live, const gchar *ns, GBytes *json)
{
	gint64 now_us = g_get_monotonic_time();

	for (guint i = 0; i < live->sockets->len;) {
		MsbHttpLiveSocket *s = g_ptr_array_index(live->sockets, i);

		if (g_strcmp0(s->ns, ns) != 0 ||
		    soup_websocket_connection_get_state(s->ws) != SOUP_WEBSOCKET_STATE_OPEN) {
			i++;
			continue;
		}
		if (msb_http_live_socket_ready(s, now_us)) {
			soup_websocket_connection_send_message(s->ws, SOUP_WEBSOCKET_DATA_TEXT,
			                                       json);
			live->frames_sent++;
			i++;
			continue;
		}
		live->frames_skipped++;
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
}

static void
msb_http_live_rendered_cb(GBytes *json, gpointer user_data)
{
	MsbHttpLiveRender *r = user_data;

	g_hash_table_remove(r->live->rendering, r->ns);
	msb_http_live_send(r->live, r->ns, json);
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

	live->collecting = FALSE;
	g_debug("live: collection %" G_GUINT64_FORMAT " for %u sockets",
	        msb_stats_reader_get_collections(live->reader), live->sockets->len);
	for (guint i = 0; i < live->sockets->len; i++) {
		MsbHttpLiveSocket *s = g_ptr_array_index(live->sockets, i);
		MsbHttpLiveRender *r;

		/* one rendering per namespace at a time: a slow one makes the next second skip */
		if (g_hash_table_contains(live->rendering, s->ns))
			continue;
		g_hash_table_add(live->rendering, g_strdup(s->ns));
		r = g_new0(MsbHttpLiveRender, 1);
		r->live = live;
		r->ns = g_strdup(s->ns);
		msb_http_render_status(live->http, stats, r->ns, msb_http_live_rendered_cb, r,
		                       (GDestroyNotify)msb_http_live_render_free);
	}
}

static gboolean
msb_http_live_tick_cb(gpointer user_data)
{
	MsbHttpLive *live = user_data;

	if (live->sockets->len == 0) {
		live->timer_id = 0;
		return G_SOURCE_REMOVE;
	}
	/* a collection slower than a second: this tick is answered by it, not by another one */
	if (!live->collecting) {
		live->collecting = TRUE;
		msb_stats_reader_request(live->reader, msb_http_live_stats_ready_cb, live, NULL);
	}
	return G_SOURCE_CONTINUE;
}

static void
msb_http_live_closed_cb(SoupWebsocketConnection *ws, gpointer user_data)
{
	MsbHttpLiveSocket *s = user_data;

	g_debug("a live UI socket closed (%u open)", s->live->sockets->len - 1);
	g_ptr_array_remove_fast(s->live->sockets, s);
}

/* Before the upgrade: over the cap, the client gets 503 and polls /api/Status instead. */
static void
msb_http_live_request_cb(SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer user_data)
{
	MsbHttpLive *live = user_data;

	if (live->sockets->len < live->max_sockets)
		return;
	soup_server_message_set_status(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After",
	                             "10");
	soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC,
	                                 "too many live UI sockets; poll /api/Status\n",
	                                 strlen("too many live UI sockets; poll /api/Status\n"));
}

static void
msb_http_live_ws_cb(SoupServer *server, SoupServerMessage *msg, const char *path,
                    SoupWebsocketConnection *ws, gpointer user_data)
{
	MsbHttpLive *live = user_data;
	g_autoptr(GHashTable) params = NULL;
	const gchar *query = g_uri_get_query(soup_server_message_get_uri(msg));
	const gchar *ns = NULL;
	GSocket *socket = msb_http_server_upgraded(msg);
	MsbHttpLiveSocket *s;

	if (socket == NULL || live->sockets->len >= live->max_sockets) {
		soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
		return;
	}
	if (query != NULL)
		params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_CASE_INSENSITIVE, NULL);
	if (params != NULL)
		ns = g_hash_table_lookup(params, "ns");
	if (ns == NULL || *ns == '\0')
		ns = "default";

	s = g_new0(MsbHttpLiveSocket, 1);
	s->live = live;
	s->ws = g_object_ref(ws);
	s->socket = g_object_ref(socket);
	s->ns = g_strdup(ns);
	{
		guint64 notsent = 0;
		s->has_tcp_info = msb_http_live_tcp_info(socket, &notsent, &s->acked_seen);
	}
	soup_websocket_connection_set_max_incoming_payload_size(ws, MSB_HTTP_LIVE_MAX_INCOMING);
	g_signal_connect(ws, "closed", G_CALLBACK(msb_http_live_closed_cb), s);
	g_ptr_array_add(live->sockets, s);
	g_debug("a live UI socket opened for namespace %s (%u open)", ns, live->sockets->len);
	if (live->timer_id == 0) {
		live->timer_id =
		        g_timeout_add(MSB_HTTP_LIVE_PERIOD_MS, msb_http_live_tick_cb, live);
		/* the page has something to show at once, not after a second */
		msb_http_live_tick_cb(live);
	}
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
	live->sockets = g_ptr_array_new_with_free_func((GDestroyNotify)msb_http_live_socket_free);
	live->max_sockets = (guint)MAX(1, MIN(limits->max_connections / 2, (gint64)G_MAXUINT));
	live->idle_timeout_us = limits->idle_timeout_us;
	live->rendering = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	soup = msb_http_server_get_soup(server);
	soup_server_add_handler(soup, "/api/ws", msb_http_live_request_cb, live, NULL);
	soup_server_add_websocket_handler(soup, "/api/ws", NULL, NULL, msb_http_live_ws_cb, live,
	                                  NULL);
	return live;
}

void
msb_http_live_free(MsbHttpLive *live)
{
	if (live == NULL)
		return;
	if (live->timer_id != 0)
		g_source_remove(live->timer_id);
	soup_server_remove_handler(msb_http_server_get_soup(live->server), "/api/ws");
	g_ptr_array_unref(live->sockets);
	g_hash_table_destroy(live->rendering);
	g_free(live);
}

guint
msb_http_live_get_n_sockets(MsbHttpLive *live)
{
	g_return_val_if_fail(live != NULL, 0);
	return live->sockets->len;
}

guint64
msb_http_live_get_frames_sent(MsbHttpLive *live)
{
	g_return_val_if_fail(live != NULL, 0);
	return live->frames_sent;
}

guint64
msb_http_live_get_frames_skipped(MsbHttpLive *live)
{
	g_return_val_if_fail(live != NULL, 0);
	return live->frames_skipped;
}
