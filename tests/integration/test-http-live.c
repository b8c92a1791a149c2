/*
 * /api/ws, the UI's live push: status frames once a second over a WebSocket (libsoup client),
 * shared collections for many sockets, and the bounds for a client that does not read.
 */
#define G_LOG_DOMAIN "test-http-live"

#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>

#include "itest.h"

typedef struct {
	SoupSession *session;
	SoupWebsocketConnection *ws;
	GError *error;
	gboolean done;
	GPtrArray *frames; /* JsonNode*, parsed */
	gboolean closed;
} LiveClient;

static void
live_client_message_cb(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
	LiveClient *c = data;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(type, ==, SOUP_WEBSOCKET_DATA_TEXT);
	json_parser_load_from_data(parser, g_bytes_get_data(message, NULL),
	                           (gssize)g_bytes_get_size(message), &error);
	g_assert_no_error(error);
	g_ptr_array_add(c->frames, json_node_copy(json_parser_get_root(parser)));
}

static void
live_client_closed_cb(SoupWebsocketConnection *ws, gpointer data)
{
	LiveClient *c = data;
	c->closed = TRUE;
}

static void
live_client_connected_cb(GObject *source, GAsyncResult *res, gpointer data)
{
	LiveClient *c = data;

	c->ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), res, &c->error);
	c->done = TRUE;
}

static LiveClient *
live_client_connect(ItestBroker *b, const gchar *query)
{
	LiveClient *c = g_new0(LiveClient, 1);
	g_autofree gchar *uri = g_strdup_printf("ws://127.0.0.1:%u/api/ws%s", b->http_port, query);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", uri);

	c->session = soup_session_new();
	/* permessage-deflate, as browsers ask for: the bytes on the wire are not the frame's */
	if (!soup_session_has_feature(c->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER))
		soup_session_add_feature_by_type(c->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
	c->frames = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
	soup_session_websocket_connect_async(c->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
	                                     live_client_connected_cb, c);
	ITEST_WAIT_FOR(c->done);
	g_assert_no_error(c->error);
	g_assert_nonnull(soup_websocket_connection_get_extensions(c->ws));
	g_signal_connect(c->ws, "message", G_CALLBACK(live_client_message_cb), c);
	g_signal_connect(c->ws, "closed", G_CALLBACK(live_client_closed_cb), c);
	return c;
}

static void
live_client_free(LiveClient *c)
{
	if (c->ws != NULL) {
		g_signal_handlers_disconnect_by_data(c->ws, c);
		if (soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
		g_object_unref(c->ws);
	}
	g_clear_error(&c->error);
	g_ptr_array_unref(c->frames);
	g_object_unref(c->session);
	g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LiveClient, live_client_free)

/* messageId of @topic in a status frame, -1 when it is not listed */
static gint64
frame_message_id(JsonNode *frame, const gchar *topic)
{
	JsonObject *root = json_node_get_object(frame);
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(root, "topics"), "items");

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *t = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(t, "id"), topic) == 0)
			return json_object_get_int_member(t, "messageId");
	}
	return -1;
}

static JsonNode *
last_frame(LiveClient *c)
{
	g_assert_cmpuint(c->frames->len, >, 0);
	return g_ptr_array_index(c->frames, c->frames->len - 1);
}

/* Frames arrive once a second, are the status JSON, and show a publish made meanwhile. Runs
 * past HttpIdleTimeout and HttpRequestTimeout: an upgraded connection is not an HTTP exchange. */
static void
test_live_frames(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) pub = itest_client_new(f->broker);
	g_autoptr(LiveClient) c = NULL;
	guint n;

	itest_client_connect(pub);
	itest_client_publish_text(pub, "live-orders", "one");
	c = live_client_connect(f->broker, "?ns=default");

	/* the first frame comes at once */
	ITEST_WAIT_FOR_MS(c->frames->len >= 1, 3000);
	{
		JsonObject *root = json_node_get_object(last_frame(c));
		g_assert_true(json_object_has_member(root, "topics"));
		g_assert_true(json_object_has_member(root, "queues"));
		g_assert_true(json_object_has_member(root, "sessions"));
	}
	g_assert_cmpint(frame_message_id(last_frame(c), "live-orders"), ==, 1);

	itest_client_publish_text(pub, "live-orders", "two");
	ITEST_WAIT_FOR_MS(frame_message_id(last_frame(c), "live-orders") == 2, 5000);

	/* HttpIdleTimeout and HttpRequestTimeout are 1 s here: frames keep coming well past them */
	n = c->frames->len;
	ITEST_WAIT_FOR_MS(c->frames->len >= n + 5, 10000);
	g_assert_false(c->closed);
	g_assert_cmpint(soup_websocket_connection_get_state(c->ws), ==, SOUP_WEBSOCKET_STATE_OPEN);
}

/* Three sockets: one collection a second between them, not three. */
static void
test_live_shared(void)
{
	ItestBroker *b = itest_broker_new(NULL);
	g_autoptr(LiveClient) c1 = NULL;
	g_autoptr(LiveClient) c2 = NULL;
	g_autoptr(LiveClient) c3 = NULL;
	guint collections;
	guint frames;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	c1 = live_client_connect(b, "");
	c2 = live_client_connect(b, "");
	c3 = live_client_connect(b, "?ns=default");
	itest_broker_wait_log(b, "live: collection", 1, 5000);
	ITEST_WAIT_FOR_MS(c1->frames->len >= 4 && c2->frames->len >= 4 && c3->frames->len >= 4,
	                  10000);
	collections = itest_broker_log_count(b, "live: collection");
	frames = c1->frames->len + c2->frames->len + c3->frames->len;
	g_test_message("%u frames to three sockets from %u collections", frames, collections);
	/* the first socket alone got a collection or two before the others came */
	g_assert_cmpuint(collections, <=, MAX(c1->frames->len, c3->frames->len) + 1);
	g_assert_cmpuint(itest_broker_log_count(b, "for 3 sockets"), >=, 3);
	itest_broker_free(b);
}

/* POST @path with the session key @key (NULL: none); its status. @key_out: the session key of
 * a Greeting's answer. */
static guint
session_post(ItestBroker *b, const gchar *path, const gchar *key, gchar **key_out)
{
	g_autofree gchar *auth = key != NULL ? g_strdup_printf("Bearer %s", key) : NULL;
	const gchar *headers[] = {"Authorization", auth, NULL};
	g_autofree gchar *body = NULL;
	guint status = 0;

	body = itest_broker_http(b, "POST", path, "application/json", NULL,
	                         key != NULL ? headers : NULL, &status);
	if (key_out != NULL) {
		g_autoptr(JsonNode) root = json_from_string(body, NULL);
		g_assert_nonnull(root);
		*key_out = g_strdup(
		        json_object_get_string_member(json_node_get_object(root), "session"));
	}
	return status;
}

/*
 * Every UI consumer together: four live sockets (three of the default namespace, one of
 * another), four pollers (/api/Status of both namespaces, /status, /metrics, ten times a second
 * each) and an HTTP publisher session pinging as often, for 3 s: at most one collection a second
 * between all of them (plus one for a tick or poll just past the second), and one rendering per
 * collection, page and namespace. Before, the session's pings (POSTs) counted as writes, so each
 * round of polls after one started a collection of its own (about 10 a second), the push asked
 * for a collection of its own every second besides the pollers', and the two namespaces' pages
 * replaced each other's rendering, so each round rendered both again.
 */
static void
test_live_and_pollers_share(void)
{
	ItestBroker *b = itest_broker_new(NULL);
	g_autoptr(LiveClient) c1 = NULL;
	g_autoptr(LiveClient) c2 = NULL;
	g_autoptr(LiveClient) c3 = NULL;
	g_autoptr(LiveClient) other = NULL;
	static const gchar *const polls[] = {"/api/Status", "/status", "/metrics",
	                                     "/api/Status?ns=other"};
	g_autofree gchar *key = NULL;
	guint collections_before;
	guint collections;
	guint renderings_before;
	guint renderings;
	guint rounds = 0;
	gint64 started;
	gint64 elapsed;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	g_assert_cmpuint(session_post(b, "/api/Greeting?name=pinger&version=1", NULL, &key), ==,
	                 200);
	c1 = live_client_connect(b, "");
	c2 = live_client_connect(b, "");
	c3 = live_client_connect(b, "?ns=default");
	other = live_client_connect(b, "?ns=other");
	ITEST_WAIT_FOR_MS(c1->frames->len >= 1 && c2->frames->len >= 1 && c3->frames->len >= 1 &&
	                          other->frames->len >= 1,
	                  5000);
	collections_before = itest_broker_log_count(b, " finished for ");
	renderings_before = itest_broker_log_count(b, "rendered the ");
	started = g_get_monotonic_time();
	while (g_get_monotonic_time() - started < 3 * G_USEC_PER_SEC) {
		g_assert_cmpuint(session_post(b, "/api/Greeting/Ping", key, NULL), ==, 204);
		for (guint i = 0; i < G_N_ELEMENTS(polls); i++) {
			guint status = 0;
			g_free(itest_broker_http(b, "GET", polls[i], NULL, NULL, NULL, &status));
			g_assert_cmpuint(status, ==, 200);
		}
		rounds++;
		itest_run_for(100);
	}
	elapsed = g_get_monotonic_time() - started;
	collections = itest_broker_log_count(b, " finished for ") - collections_before;
	renderings = itest_broker_log_count(b, "rendered the ") - renderings_before;
	g_test_message("%u rounds of pings and polls in %" G_GINT64_FORMAT
	               " ms, four live sockets: %u collections, %u renderings; frames %u %u %u %u",
	               rounds, elapsed / 1000, collections, renderings, c1->frames->len,
	               c2->frames->len, c3->frames->len, other->frames->len);
	g_assert_cmpuint(rounds, >=, 5);
	/* the push went on meanwhile */
	g_assert_cmpuint(c1->frames->len, >=, 3);
	g_assert_cmpuint(c3->frames->len, >=, 3);
	g_assert_cmpuint(other->frames->len, >=, 3);
	/* one a second, one more for a tick or poll that came just past the second */
	g_assert_cmpuint(collections, <=, elapsed / G_USEC_PER_SEC + 2);
	/* the status page of each namespace (polls and push) and the metrics: one rendering each
	 * per collection */
	g_assert_cmpuint(renderings, <=, 3 * collections + 3);
	itest_broker_free(b);
}

/* Over the cap (half of HttpMaxConnections) a socket is refused with 503. */
static void
test_live_cap(ItestFixture *f, gconstpointer data)
{
	g_autoptr(LiveClient) c1 = live_client_connect(f->broker, "");
	G_GNUC_UNUSED g_autoptr(LiveClient) c2 = live_client_connect(f->broker, "");
	g_autofree gchar *uri = g_strdup_printf("ws://127.0.0.1:%u/api/ws", f->broker->http_port);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", uri);
	LiveClient c3 = {0};

	c3.session = soup_session_new();
	soup_session_websocket_connect_async(c3.session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
	                                     live_client_connected_cb, &c3);
	ITEST_WAIT_FOR(c3.done);
	g_assert_null(c3.ws);
	g_assert_nonnull(c3.error);
	g_assert_cmpuint(soup_message_get_status(msg), ==, SOUP_STATUS_SERVICE_UNAVAILABLE);
	g_clear_error(&c3.error);
	g_object_unref(c3.session);

	/* a closed socket frees its place */
	soup_websocket_connection_close(c1->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
	ITEST_WAIT_FOR(c1->closed);
	{
		g_autoptr(LiveClient) c4 = NULL;
		for (guint attempt = 0; attempt < 50 && c4 == NULL; attempt++) {
			/* the server may see the close a moment after the client */
			g_autoptr(SoupMessage) m = soup_message_new("GET", uri);
			LiveClient probe = {0};
			probe.session = soup_session_new();
			soup_session_websocket_connect_async(probe.session, m, NULL, NULL,
			                                     G_PRIORITY_DEFAULT, NULL,
			                                     live_client_connected_cb, &probe);
			ITEST_WAIT_FOR(probe.done);
			if (probe.ws != NULL) {
				c4 = g_new0(LiveClient, 1);
				*c4 = probe;
				c4->frames = g_ptr_array_new_with_free_func(
				        (GDestroyNotify)json_node_unref);
				g_signal_connect(c4->ws, "message",
				                 G_CALLBACK(live_client_message_cb), c4);
			} else {
				g_clear_error(&probe.error);
				g_object_unref(probe.session);
				itest_run_for(100);
			}
		}
		g_assert_nonnull(c4);
		ITEST_WAIT_FOR_MS(c4->frames->len >= 1, 5000);
	}
}

/* A raw WebSocket client that never reads: its frames are skipped, not queued without end, and
 * it is closed once it took nothing for HttpIdleTimeout. */
static void
test_live_slow_reader(void)
{
	ItestBroker *b = itest_broker_new("HttpIdleTimeout: 00:00:04");
	g_autoptr(ItestRaw) raw = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	g_autoptr(GSocket) sock = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *handshake = "GET /api/ws HTTP/1.1\r\n"
	                         "Host: 127.0.0.1\r\n"
	                         "Upgrade: websocket\r\n"
	                         "Connection: Upgrade\r\n"
	                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                         "Sec-WebSocket-Version: 13\r\n\r\n";
	gint rcvbuf = 4096;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	/* a status page of about 100 KB, larger than the client's receive buffer */
	raw = itest_raw_connect(b);
	itest_raw_greet(raw, "slow-reader-test", 3, -1);
	for (guint i = 0; i < 400; i++) {
		g_autofree gchar *name = g_strdup_printf("slow-reader-topic-%04u", i);
		itest_raw_create_topic(raw, name);
	}
	itest_raw_sync(raw);

	sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
	                    &error);
	g_assert_no_error(error);
	g_assert_cmpint(
	        setsockopt(g_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)),
	        ==, 0);
	addr = g_inet_socket_address_new_from_string("127.0.0.1", b->http_port);
	g_assert_true(g_socket_connect(sock, addr, NULL, &error));
	g_assert_cmpint(g_socket_send(sock, handshake, strlen(handshake), NULL, &error), ==,
	                (gssize)strlen(handshake));

	/* it reads nothing: after the first frame or two, the broker skips it each second */
	itest_broker_wait_log(b, "live: a frame skipped", 3, 10000);
	g_assert_cmpuint(itest_broker_log_count(b, "for 1 sockets"), >=, 4);
	/* and closes it once nothing got through for HttpIdleTimeout */
	itest_broker_wait_log(b, "closing a live UI socket", 1, 15000);
	g_assert_cmpuint(itest_broker_log_count(b, "closing a live UI socket"), ==, 1);
	itest_broker_free(b);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/http-live/frames",
	          "HttpIdleTimeout: 00:00:01\nHttpRequestTimeout: 00:00:01\n"
	          "AutoCreateTopicOnPublish: true",
	          test_live_frames);
	g_test_add_func("/http-live/shared", test_live_shared);
	g_test_add_func("/http-live/with-pollers", test_live_and_pollers_share);
	ITEST_ADD("/http-live/cap", "HttpMaxConnections: 5", test_live_cap);
	g_test_add_func("/http-live/slow-reader", test_live_slow_reader);
	return g_test_run();
}
