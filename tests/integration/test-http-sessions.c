/*
 * HTTP publisher and subscriber sessions (node.md §6.1–6.3) against the real broker: Greeting
 * and Ping, the session key in Authorization (401 without it), an HTTP Publish delivered to a
 * TCP subscriber with its headers, a TCP Publish awaited over HTTP and confirmed with every
 * kind (allOk empties the queue, allFail redelivers with the next attempt number, someOk keeps
 * only the rest), the long poll (an empty answer after HttpAwaitTimeout, 409 for a second Await
 * of the same session), an idle session that expires and one that holds a batch past
 * DeliveryTimeout, their in-flight message going to another subscriber, and persistImmediately
 * answered only once the persistence service has the message.
 */
#include <libsoup/soup.h>
#include <signal.h>

#include "dtest.h"

#define TOPIC "orders"
#define QUEUE "billing"
/* a short long-poll keeps these tests quick */
#define QUICK_AWAIT "HttpAwaitTimeout: 700ms\n"

/* ---- HTTP helpers ---- */

/* @method @path with @body (JSON, may be NULL) and, when @key is set, Authorization: Bearer. */
static gchar *
http_call(ItestBroker *b, const gchar *path, const gchar *key, const gchar *body, guint *status)
{
	g_autofree gchar *auth = key != NULL ? g_strdup_printf("Bearer %s", key) : NULL;
	const gchar *headers[] = {"Authorization", auth, NULL};

	return itest_broker_http(b, "POST", path, "application/json", body,
	                         key != NULL ? headers : NULL, status);
}

static void
http_expect(ItestBroker *b, const gchar *path, const gchar *key, const gchar *body, guint expected)
{
	guint status = 0;
	g_autofree gchar *text = http_call(b, path, key, body, &status);

	if (status != expected)
		g_error("POST %s: %u (%s), expected %u", path, status, text, expected);
}

/* Greeting: a new session's key. */
static gchar *
greet(ItestBroker *b, const gchar *path)
{
	guint status = 0;
	g_autofree gchar *text = http_call(b, path, NULL, NULL, &status);
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *key;

	g_assert_cmpuint(status, ==, 200);
	root = json_from_string(text, &error);
	g_assert_no_error(error);
	key = json_object_get_string_member(json_node_get_object(root), "session");
	g_assert_true(g_uuid_string_is_valid(key));
	return g_strdup(key);
}

static void
subscribe(ItestBroker *b, const gchar *key, const gchar *queue, const gchar *type_json)
{
	g_autofree gchar *body = g_strdup_printf("{\"topicId\": \"" TOPIC
	                                         "\", \"queueId\": \"%s\", \"queueType\": %s}",
	                                         queue, type_json);

	http_expect(b, "/api/Subscribers/Subscribe", key, body, 204);
}

/* An Await answered at once (a package is queued): its JSON. */
static JsonObject *
await_package(ItestBroker *b, const gchar *key)
{
	guint status = 0;
	g_autofree gchar *text = http_call(b, "/api/Subscribers/Await", key, NULL, &status);
	g_autoptr(GError) error = NULL;
	JsonNode *root;
	JsonObject *obj;

	g_assert_cmpuint(status, ==, 200);
	root = json_from_string(text, &error);
	g_assert_no_error(error);
	obj = json_object_ref(json_node_get_object(root));
	json_node_unref(root);
	g_assert_cmpstr(json_object_get_string_member(obj, "topic_id"), ==, TOPIC);
	return obj;
}

/* The ids and attempt numbers of a package's messages. */
static void
assert_package(JsonObject *package, const gint64 *ids, const gint64 *attempts, guint n)
{
	JsonArray *messages = json_object_get_array_member(package, "messages");

	g_assert_cmpuint(json_array_get_length(messages), ==, n);
	for (guint i = 0; i < n; i++) {
		JsonObject *m = json_array_get_object_element(messages, i);
		g_assert_cmpint(json_object_get_int_member(m, "id"), ==, ids[i]);
		g_assert_cmpint(json_object_get_int_member(m, "attempt_no"), ==, attempts[i]);
	}
}

static void
confirm(ItestBroker *b, const gchar *key, JsonObject *package, const gchar *what)
{
	g_autofree gchar *body =
	        g_strdup_printf("{\"confirmation\": [{\"topicId\": \"%s\", \"queueId\": \"%s\", "
	                        "\"subscriberId\": %" G_GINT64_FORMAT ", %s}]}",
	                        json_object_get_string_member(package, "topic_id"),
	                        json_object_get_string_member(package, "queue_id"),
	                        json_object_get_int_member(package, "confirmation_id"), what);

	http_expect(b, "/api/Subscribers/Confirm", key, body, 204);
}

/* An HTTP request on the default main context, for requests that wait (the long poll). */
typedef struct {
	SoupSession *session;
	SoupMessage *msg;
	gboolean done;
	guint status;
	gchar *body;
	gint64 started_us;
	gint64 elapsed_us;
} AsyncCall;

static void
async_call_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	AsyncCall *c = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes =
	        soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);

	c->done = TRUE;
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return; /* the test aborted it */
	g_assert_no_error(error);
	c->status = soup_message_get_status(c->msg);
	c->body = g_strdup("");
	if (g_bytes_get_size(bytes) > 0) {
		g_free(c->body);
		c->body = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	}
	c->elapsed_us = g_get_monotonic_time() - c->started_us;
}

static AsyncCall *
async_post(ItestBroker *b, const gchar *path, const gchar *key, const gchar *body)
{
	AsyncCall *c = g_new0(AsyncCall, 1);
	g_autofree gchar *uri = g_strdup_printf("http://127.0.0.1:%u%s", b->http_port, path);
	g_autofree gchar *auth = g_strdup_printf("Bearer %s", key);

	c->session = soup_session_new();
	soup_session_set_timeout(c->session, ITEST_TIMEOUT_MS / 1000);
	c->msg = soup_message_new("POST", uri);
	soup_message_headers_replace(soup_message_get_request_headers(c->msg), "Authorization",
	                             auth);
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
		soup_message_set_request_body_from_bytes(c->msg, "application/json", bytes);
	}
	c->started_us = g_get_monotonic_time();
	soup_session_send_and_read_async(c->session, c->msg, G_PRIORITY_DEFAULT, NULL,
	                                 async_call_done_cb, c);
	return c;
}

static AsyncCall *
async_await(ItestBroker *b, const gchar *key)
{
	return async_post(b, "/api/Subscribers/Await", key, NULL);
}

static void
async_call_free(AsyncCall *c)
{
	g_object_unref(c->msg);
	g_object_unref(c->session);
	g_free(c->body);
	g_free(c);
}

/* TOPIC/@queue in /api/status: its size, in-flight count and type (the TCP byte). */
static void
queue_counts_full(ItestBroker *b, const gchar *queue, gint64 *size, gint64 *on_delivery,
                  gint64 *type)
{
	g_autoptr(JsonNode) root = itest_broker_get_json(b, "/api/status?fresh=true");
	JsonObject *topic = json_object_get_object_member(
	        json_object_get_object_member(json_node_get_object(root), "queues"), TOPIC);
	JsonArray *queues = json_object_get_array_member(topic, "queues");

	for (guint i = 0; i < json_array_get_length(queues); i++) {
		JsonObject *q = json_array_get_object_element(queues, i);
		if (g_strcmp0(json_object_get_string_member(q, "id"), queue) == 0) {
			*size = json_object_get_int_member(q, "size");
			*on_delivery = json_object_get_int_member(q, "onDelivery");
			*type = json_object_get_int_member(q, "queueType");
			return;
		}
	}
	g_error("no queue %s in /api/status", queue);
}

static void
queue_counts(ItestBroker *b, const gchar *queue, gint64 *size, gint64 *on_delivery)
{
	gint64 type;

	queue_counts_full(b, queue, size, on_delivery, &type);
}

static gint64
queue_type(ItestBroker *b, const gchar *queue)
{
	gint64 size;
	gint64 on_delivery;
	gint64 type = -1;

	queue_counts_full(b, queue, &size, &on_delivery, &type);
	return type;
}

static ItestRaw *
tcp_publisher(ItestFixture *f)
{
	ItestRaw *r = itest_raw_connect(f->broker);

	itest_raw_greet(r, "tcp-publisher", 3, 1);
	itest_raw_create_topic(r, TOPIC);
	itest_raw_sync(r);
	return r;
}

static void
tcp_publish(ItestRaw *pub, gint64 request_id, const gchar *const *contents, guint n)
{
	itest_raw_publish(pub, TOPIC, request_id, contents, n, TRUE);
	itest_raw_expect_publish_response(pub, request_id);
}

/* ---- tests ---- */

static void
test_greeting_ping_auth(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autofree gchar *key = greet(b, "/api/Greeting?name=http-test&version=1.2");
	g_autofree gchar *legacy = greet(b, "/greeting?name=legacy");
	const gchar *bare[] = {"Authorization", key, NULL};
	const gchar *scheme[] = {"Authorization", "Basic   wrong", NULL};
	g_autofree gchar *text = NULL;
	g_autoptr(JsonNode) status = NULL;
	JsonArray *sessions;
	gboolean seen = FALSE;
	guint code = 0;

	g_assert_cmpstr(key, !=, legacy);
	/* the last token of Authorization, whatever comes before it */
	http_expect(b, "/api/Greeting/Ping", key, NULL, 204);
	g_free(itest_broker_http(b, "POST", "/api/Greeting/Ping", NULL, NULL, bare, &code));
	g_assert_cmpuint(code, ==, 204);
	http_expect(b, "/Greeting/Ping", legacy, NULL, 204);

	/* no key, an unknown key */
	http_expect(b, "/api/Greeting/Ping", NULL, NULL, 401);
	g_free(itest_broker_http(b, "POST", "/api/Greeting/Ping", NULL, NULL, scheme, &code));
	g_assert_cmpuint(code, ==, 401);
	http_expect(b, "/api/Greeting/Ping", "6f9619ff-8b86-d011-b42d-00c04fc964ff", NULL, 401);
	http_expect(b, "/api/Publish?topicId=" TOPIC, NULL, "{\"messages\": []}", 401);
	http_expect(b, "/api/Subscribers/Subscribe", NULL, "{}", 401);
	http_expect(b, "/api/Subscribers/Await", NULL, NULL, 401);
	http_expect(b, "/api/Subscribers/Confirm", NULL, "{\"confirmation\": []}", 401);

	/* a Greeting needs a name; GET is not the method */
	text = http_call(b, "/api/Greeting?version=1", NULL, NULL, &code);
	g_assert_cmpuint(code, ==, 400);
	g_assert_nonnull(strstr(text, "name"));
	g_free(itest_broker_http(b, "GET", "/api/Greeting?name=x", NULL, NULL, NULL, &code));
	g_assert_cmpuint(code, ==, 405);
	/* a namespace the broker does not serve: its Reject, and no session */
	g_free(text);
	text = http_call(b, "/api/Greeting?name=x&ns=elsewhere", NULL, NULL, &code);
	g_assert_cmpuint(code, ==, 403);
	g_assert_nonnull(strstr(text, "elsewhere"));

	/* the session is a broker session like any other, its bytes counted (a body it sent) */
	g_free(itest_broker_http(b, "POST", "/api/Topics/Create?topicId=" TOPIC, NULL, NULL, NULL,
	                         &code));
	g_assert_cmpuint(code, ==, 200);
	http_expect(b, "/api/Subscribers/Subscribe", key,
	            "{\"topicId\": \"" TOPIC "\", \"queueId\": \"q\", \"queueType\": 1}", 204);
	status = itest_broker_get_json(b, "/api/status?fresh=true");
	sessions = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(status), "sessions"), "items");
	for (guint i = 0; i < json_array_get_length(sessions); i++) {
		JsonObject *s = json_array_get_object_element(sessions, i);
		if (g_strcmp0(json_object_get_string_member(s, "name"), "http-test") == 0) {
			g_assert_cmpstr(json_object_get_string_member(s, "version"), ==, "1.2");
			g_assert_cmpstr(json_object_get_string_member(s, "type"), ==, "http");
			g_assert_cmpint(json_object_get_int_member(s, "readSize"), >, 0);
			seen = TRUE;
		}
	}
	g_assert_true(seen);
}

static void
test_publish_to_tcp(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = tcp_publisher(f);
	g_autoptr(ItestRaw) sub = itest_raw_connect(b);
	g_autofree gchar *key = greet(b, "/api/Greeting?name=http-publisher&version=1");
	g_autoptr(ItestPacket) p = NULL;
	g_autofree gchar *text = NULL;
	MsbWireStr k;
	MsbWireStr v;
	gsize pos = 0;
	guint code = 0;

	itest_raw_greet(sub, "tcp-subscriber", 3, 1);
	itest_raw_subscribe(sub, TOPIC, QUEUE, MSB_QUEUE_TYPE_PERMANENT);
	itest_raw_barrier(sub);

	/* "hi" with a header, then 01 02 03 with headers null; the legacy path */
	http_expect(b, "/api/Publish?topicId=" TOPIC, key,
	            "{\"messages\": [{\"headers\": [{\"key\": \"trace-id\", \"value\": \"abc\"}], "
	            "\"base64Message\": \"aGk=\"}, {\"headers\": null, \"base64Message\": "
	            "\"AQID\"}]}",
	            204);
	p = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(p->messages->len, ==, 2);
	g_assert_cmpint(itest_packet_message(p, 0)->id, ==, 0);
	g_assert_cmpmem(g_bytes_get_data(itest_packet_message(p, 0)->content, NULL), 2, "hi", 2);
	g_assert_cmpuint(itest_packet_message(p, 0)->n_headers, ==, 1);
	g_assert_true(msb_wire_headers_next(
	        g_bytes_get_data(itest_packet_message(p, 0)->headers, NULL),
	        g_bytes_get_size(itest_packet_message(p, 0)->headers), &pos, &k, &v));
	g_assert_cmpmem(k.str, k.len, "trace-id", 8);
	g_assert_cmpmem(v.str, v.len, "abc", 3);
	g_assert_cmpuint(itest_packet_message(p, 1)->n_headers, ==, 0);
	g_assert_cmpmem(g_bytes_get_data(itest_packet_message(p, 1)->content, NULL), 3,
	                "\x01\x02\x03", 3);
	itest_raw_confirm(sub, TRUE, TOPIC, QUEUE, p->confirmation_id);
	g_clear_pointer(&p, itest_packet_free);
	http_expect(b, "/Publish?topicId=" TOPIC, key,
	            "{\"messages\": [{\"base64Message\": \"\"}]}", 204);
	p = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpint(itest_packet_message(p, 0)->id, ==, 2);
	g_assert_cmpuint(g_bytes_get_size(itest_packet_message(p, 0)->content), ==, 0);

	/* bad base64 (a character outside the alphabet, a length that is not a multiple of 4), a
	 * body without messages, a missing topic: 400, and nothing is published */
	http_expect(b, "/api/Publish?topicId=" TOPIC, key,
	            "{\"messages\": [{\"base64Message\": \"aGk=\"}, {\"base64Message\": "
	            "\"a*k=\"}]}",
	            400);
	http_expect(b, "/api/Publish?topicId=" TOPIC, key,
	            "{\"messages\": [{\"base64Message\": \"aGk\"}]}", 400);
	http_expect(b, "/api/Publish?topicId=" TOPIC, key, "{\"items\": []}", 400);
	http_expect(b, "/api/Publish", key, "{\"messages\": []}", 400);
	/* a topic that does not exist: the broker's Reject, as 403 */
	text = http_call(b, "/api/Publish?topicId=nowhere", key,
	                 "{\"messages\": [{\"base64Message\": \"aGk=\"}]}", &code);
	g_assert_cmpuint(code, ==, 403);
	g_assert_nonnull(strstr(text, "TopicNotFound"));
	itest_raw_confirm(sub, TRUE, TOPIC, QUEUE, p->confirmation_id);
	itest_raw_assert_quiet(sub);
	(void)pub;
}

static void
test_http_to_http(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = tcp_publisher(f);
	g_autofree gchar *key = greet(b, "/api/Greeting?name=both&version=1");
	g_autoptr(JsonObject) package = NULL;
	JsonObject *m;
	JsonArray *headers;

	/* what JSON must escape, and UTF-8, survive both ways */
	subscribe(b, key, QUEUE, "\"Permanent\"");
	http_expect(b, "/api/Publish?topicId=" TOPIC, key,
	            "{\"messages\": [{\"headers\": [{\"key\": \"q\\\"uote\", \"value\": "
	            "\"back\\\\slash\\nline\\ttab\\u0001 \u00fcn\u00ef\"}, {\"key\": \"\", "
	            "\"value\": \"\"}], \"base64Message\": \"/+8A\"}]}",
	            204);
	package = await_package(b, key);
	m = json_array_get_object_element(json_object_get_array_member(package, "messages"), 0);
	g_assert_cmpstr(json_object_get_string_member(m, "content"), ==, "/+8A");
	headers = json_object_get_array_member(m, "headers");
	g_assert_cmpuint(json_array_get_length(headers), ==, 2);
	g_assert_cmpstr(
	        json_object_get_string_member(json_array_get_object_element(headers, 0), "key"), ==,
	        "q\"uote");
	g_assert_cmpstr(
	        json_object_get_string_member(json_array_get_object_element(headers, 0), "value"),
	        ==, "back\\slash\nline\ttab\001 \u00fcn\u00ef");
	g_assert_cmpstr(
	        json_object_get_string_member(json_array_get_object_element(headers, 1), "key"), ==,
	        "");
	confirm(b, key, package, "\"allOk\": true");
	(void)pub;
}

static void
test_await_confirm_all_ok(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = tcp_publisher(f);
	g_autofree gchar *key = greet(b, "/api/Greeting?name=http-subscriber&version=1");
	const gchar *contents[] = {"one", "two"};
	const gint64 ids[] = {0, 1};
	const gint64 zero[] = {0, 0};
	g_autoptr(JsonObject) package = NULL;
	JsonObject *m;
	JsonObject *h;
	gint64 size = -1;
	gint64 on_delivery = -1;
	guint code = 0;
	g_autofree gchar *text = NULL;

	/* the case name */
	subscribe(b, key, QUEUE, "\"Permanent\"");
	tcp_publish(pub, 1, contents, 2);
	package = await_package(b, key);
	g_assert_cmpstr(json_object_get_string_member(package, "queue_id"), ==, QUEUE);
	assert_package(package, ids, zero, 2);
	m = json_array_get_object_element(json_object_get_array_member(package, "messages"), 1);
	g_assert_cmpstr(json_object_get_string_member(m, "content"), ==, "dHdv"); /* "two" */
	h = json_array_get_object_element(json_object_get_array_member(m, "headers"), 0);
	g_assert_cmpstr(json_object_get_string_member(h, "key"), ==, "k");
	g_assert_cmpstr(json_object_get_string_member(h, "value"), ==, "v");
	queue_counts(b, QUEUE, &size, &on_delivery);
	g_assert_cmpint(size, ==, 0);
	g_assert_cmpint(on_delivery, ==, 2);

	/* a confirmation for a queue that does not exist: 403, and nothing changes */
	text = http_call(b, "/api/Subscribers/Confirm", key,
	                 "{\"confirmation\": [{\"topicId\": \"" TOPIC
	                 "\", \"queueId\": \"none\", \"subscriberId\": 0, \"allOk\": true}]}",
	                 &code);
	g_assert_cmpuint(code, ==, 403);
	g_assert_nonnull(strstr(text, "QueueNotFound"));
	http_expect(b, "/api/Subscribers/Confirm", key,
	            "{\"confirmation\": [{\"topicId\": \"" TOPIC "\", \"queueId\": \"" QUEUE
	            "\", \"subscriberId\": 0}]}",
	            400);

	confirm(b, key, package, "\"allOk\": true, \"allFail\": false, \"someOk\": []");
	queue_counts(b, QUEUE, &size, &on_delivery);
	g_assert_cmpint(size, ==, 0);
	g_assert_cmpint(on_delivery, ==, 0);

	/* the HTTP numbering: 0 is DeleteIfNoSubscribers (TCP 1), and the queue gets every
	 * message from now on; a form body works too, its values all strings */
	subscribe(b, key, "temporary", "0");
	{
		g_autofree gchar *auth = g_strdup_printf("Bearer %s", key);
		const gchar *headers[] = {"Authorization", auth, NULL};

		g_free(itest_broker_http(b, "POST", "/api/Subscribers/Subscribe",
		                         "application/x-www-form-urlencoded",
		                         "topicId=" TOPIC "&queueId=form&queueType=2", headers,
		                         &code));
		g_assert_cmpuint(code, ==, 204);
	}
	http_expect(b, "/api/Subscribers/Subscribe", key,
	            "{\"topicId\": \"" TOPIC "\", \"queueId\": \"q3\", \"queueType\": 3}", 400);
	http_expect(b, "/api/Subscribers/Subscribe", key,
	            "{\"topicId\": \"" TOPIC "\", \"queueId\": \"q3\", \"queueType\": \"Forever\"}",
	            400);
	g_free(text);
	text = http_call(b, "/api/Subscribers/Subscribe", key,
	                 "{\"topicId\": \"missing\", \"queueId\": \"q\", \"queueType\": 1}", &code);
	g_assert_cmpuint(code, ==, 403);
	g_assert_nonnull(strstr(text, "TopicNotFound"));
	g_assert_cmpint(queue_type(b, QUEUE), ==, MSB_QUEUE_TYPE_PERMANENT);
	g_assert_cmpint(queue_type(b, "temporary"), ==, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	g_assert_cmpint(queue_type(b, "form"), ==, MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION);
}

static void
test_confirm_fail_and_some(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = tcp_publisher(f);
	g_autofree gchar *key = greet(b, "/api/Greeting?name=http-subscriber&version=1");
	const gchar *contents[] = {"a", "b", "c"};
	const gint64 ids[] = {0, 1, 2};
	const gint64 attempt0[] = {0, 0, 0};
	const gint64 attempt1[] = {1, 1, 1};
	const gint64 middle[] = {1};
	const gint64 middle_attempt[] = {2};
	g_autoptr(JsonObject) first = NULL;
	g_autoptr(JsonObject) second = NULL;
	g_autoptr(JsonObject) third = NULL;
	gint64 size = -1;
	gint64 on_delivery = -1;

	/* the numeric id 1 is Permanent in the HTTP numbering */
	subscribe(b, key, QUEUE, "1");
	tcp_publish(pub, 1, contents, 3);
	first = await_package(b, key);
	assert_package(first, ids, attempt0, 3);

	/* allFail: everything again, attempt 1 */
	confirm(b, key, first, "\"allFail\": true, \"someOk\": []");
	second = await_package(b, key);
	assert_package(second, ids, attempt1, 3);
	g_assert_cmpint(json_object_get_int_member(second, "confirmation_id"), ==,
	                json_object_get_int_member(first, "confirmation_id"));

	/* someOk 0 and 2 (ids as strings, as §6.2 documents them): only 1 comes back */
	confirm(b, key, second,
	        "\"allOk\": false, \"someOk\": [{\"fromId\": \"0\", \"toId\": \"0\"}, "
	        "{\"fromId\": 2, \"toId\": 2}]");
	third = await_package(b, key);
	assert_package(third, middle, middle_attempt, 1);
	confirm(b, key, third, "\"allOk\": true");
	queue_counts(b, QUEUE, &size, &on_delivery);
	g_assert_cmpint(size, ==, 0);
	g_assert_cmpint(on_delivery, ==, 0);
}

static void
test_await_long_poll(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = tcp_publisher(f);
	g_autofree gchar *key = greet(b, "/api/Greeting?name=http-subscriber&version=1");
	g_autofree gchar *other = greet(b, "/api/Greeting?name=another&version=1");
	const gchar *contents[] = {"late"};
	AsyncCall *parked;
	AsyncCall *second;
	AsyncCall *third;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *m;

	subscribe(b, key, QUEUE, "\"Permanent\"");

	/*
	 * Two Awaits of one session at once, on two connections: whichever comes first waits
	 * and, nothing being there, gets an empty 2xx after HttpAwaitTimeout (700 ms); the other
	 * is refused with 409 at once. Another session's Await waits as usual.
	 */
	parked = async_await(b, key);
	second = async_await(b, key);
	third = async_await(b, other);
	ITEST_WAIT_FOR(parked->done && second->done && third->done);
	if (parked->status == 409) {
		AsyncCall *tmp = parked;
		parked = second;
		second = tmp;
	}
	g_assert_cmpuint(second->status, ==, 409);
	g_assert_nonnull(strstr(second->body, "one at a time"));
	g_assert_cmpuint(parked->status, ==, 204);
	g_assert_cmpstr(parked->body, ==, "");
	g_assert_cmpint(parked->elapsed_us, >=, 600 * 1000);
	g_assert_cmpuint(third->status, ==, 204);
	g_assert_cmpint(third->elapsed_us, >=, 600 * 1000);
	async_call_free(parked);
	async_call_free(second);
	async_call_free(third);

	/* a client that gives up its Await frees the slot: the next one waits, no 409 */
	parked = async_await(b, key);
	itest_run_for(100);
	soup_session_abort(parked->session);
	ITEST_WAIT_FOR(parked->done);
	async_call_free(parked);
	itest_run_for(100);
	second = async_await(b, key);
	ITEST_WAIT_FOR(second->done);
	g_assert_cmpuint(second->status, ==, 204);
	async_call_free(second);

	/* a package published while an Await waits answers it at once */
	parked = async_await(b, key);
	itest_run_for(100);
	g_assert_false(parked->done);
	tcp_publish(pub, 1, contents, 1);
	ITEST_WAIT_FOR(parked->done);
	g_assert_cmpuint(parked->status, ==, 200);
	root = json_from_string(parked->body, &error);
	g_assert_no_error(error);
	m = json_array_get_object_element(
	        json_object_get_array_member(json_node_get_object(root), "messages"), 0);
	g_assert_cmpint(json_object_get_int_member(m, "id"), ==, 0);
	g_assert_cmpstr(json_object_get_string_member(m, "content"), ==, "bGF0ZQ==");
	async_call_free(parked);
}

static void
test_session_expires(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = tcp_publisher(f);
	g_autoptr(ItestRaw) sub = itest_raw_connect(b);
	g_autofree gchar *key = greet(b, "/api/Greeting?name=http-subscriber&version=1");
	const gchar *contents[] = {"held"};
	const gint64 ids[] = {0};
	const gint64 zero[] = {0};
	g_autoptr(JsonObject) package = NULL;
	g_autoptr(ItestPacket) p = NULL;
	gint64 size = -1;
	gint64 on_delivery = -1;

	subscribe(b, key, QUEUE, "\"Permanent\"");
	tcp_publish(pub, 1, contents, 1);
	package = await_package(b, key);
	assert_package(package, ids, zero, 1);

	/* a TCP subscriber of the same queue gets nothing while the HTTP session holds it */
	itest_raw_greet(sub, "tcp-subscriber", 3, 1);
	itest_raw_subscribe(sub, TOPIC, QUEUE, MSB_QUEUE_TYPE_PERMANENT);
	itest_raw_assert_quiet(sub);
	queue_counts(b, QUEUE, &size, &on_delivery);
	g_assert_cmpint(on_delivery, ==, 1);

	/* no call for HttpSessionTimeout (1 s): the session ends and the message goes out again */
	p = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpint(itest_packet_message(p, 0)->id, ==, 0);
	g_assert_cmpint(itest_packet_message(p, 0)->attempt, ==, 1);
	http_expect(b, "/api/Greeting/Ping", key, NULL, 401);
	http_expect(b, "/api/Subscribers/Await", key, NULL, 401);
}

static void
test_delivery_timeout(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = tcp_publisher(f);
	g_autoptr(ItestRaw) sub = itest_raw_connect(b);
	g_autofree gchar *key = greet(b, "/api/Greeting?name=slow&version=1");
	const gchar *contents[] = {"held"};
	g_autoptr(JsonObject) package = NULL;
	g_autoptr(ItestPacket) p = NULL;
	guint status = 204;

	subscribe(b, key, QUEUE, "\"Permanent\"");
	tcp_publish(pub, 1, contents, 1);
	package = await_package(b, key);
	itest_raw_greet(sub, "tcp-subscriber", 3, 1);
	itest_raw_subscribe(sub, TOPIC, QUEUE, MSB_QUEUE_TYPE_PERMANENT);
	itest_raw_barrier(sub);

	/* pings keep the session, but the batch held past DeliveryTimeout (1 s) ends it as a
	 * dead subscriber: its message goes to the other subscriber and its key is refused */
	while (status == 204) {
		g_free(http_call(b, "/api/Greeting/Ping", key, NULL, &status));
		if (status == 204)
			itest_run_for(200);
	}
	g_assert_cmpuint(status, ==, 401);
	p = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpint(itest_packet_message(p, 0)->id, ==, 0);
	g_assert_cmpint(itest_packet_message(p, 0)->attempt, ==, 1);
}

/* persistSize of TOPIC in /api/status: messages not saved yet */
static gint64
persist_size(ItestBroker *b)
{
	g_autoptr(JsonNode) root = itest_broker_get_json(b, "/api/status?fresh=true");
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(root), "topics"), "items");

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *t = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(t, "id"), TOPIC) == 0)
			return json_object_get_int_member(t, "persistSize");
	}
	g_error("no topic %s in /api/status", TOPIC);
}

static void
test_persist_immediately(void)
{
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(ItestRaw) pub = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *other = NULL;
	const gchar *one = "{\"messages\": [{\"base64Message\": \"aGk=\"}]}";
	AsyncCall *durable;
	AsyncCall *after;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, NULL);
	itest_broker_start(b, 0);
	pub = dtest_connect(b, "creator");
	itest_raw_create_topic(pub, TOPIC);
	itest_raw_sync(pub);
	key = greet(b, "/api/Greeting?name=durable&version=1");
	other = greet(b, "/api/Greeting?name=other&version=1");

	/* the first publish of a new topic waits for the snapshot that reserves its ids */
	http_expect(b, "/api/Publish?topicId=" TOPIC, key, one, 204);
	ITEST_WAIT_FOR(dtest_service_max_id(ps, TOPIC) == 0);
	ITEST_WAIT_FOR(persist_size(b) == 0);

	/* the service is down: a persistImmediately publish (id 1) is accepted but not answered,
	 * nor is the next publish of the same session (id 2), which must not overtake it; another
	 * session's publish is answered from memory */
	ptest_service_stop(ps, SIGKILL);
	durable = async_post(b, "/api/Publish?topicId=" TOPIC "&persistImmediately=true", key, one);
	ITEST_WAIT_FOR(persist_size(b) == 1);
	after = async_post(b, "/api/Publish?topicId=" TOPIC, key, one);
	ITEST_WAIT_FOR(persist_size(b) == 2);
	http_expect(b, "/api/Publish?topicId=" TOPIC, other, one, 204);
	g_assert_cmpint(persist_size(b), ==, 3);
	itest_run_for(300);
	g_assert_false(durable->done);
	g_assert_false(after->done);

	/* back: answered once the service holds it */
	ptest_service_start(ps, ps->grpc_port);
	ITEST_WAIT_FOR(durable->done);
	g_assert_cmpuint(durable->status, ==, 204);
	g_assert_cmpint(dtest_service_max_id(ps, TOPIC), >=, 1);
	ITEST_WAIT_FOR(after->done);
	g_assert_cmpuint(after->status, ==, 204);
	async_call_free(durable);
	async_call_free(after);

	itest_raw_free(g_steal_pointer(&pub));
	itest_broker_free(b);
	ptest_service_free(ps);
}

/* One request on @conn and the head of its answer (an empty answer has nothing after it). */
static gchar *
raw_http_exchange(GSocketConnection *conn, const gchar *request)
{
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	g_autoptr(GString) head = g_string_new(NULL);
	g_autoptr(GError) error = NULL;

	g_output_stream_write_all(out, request, strlen(request), NULL, NULL, &error);
	g_assert_no_error(error);
	while (strstr(head->str, "\r\n\r\n") == NULL) {
		gchar c;
		gssize n = g_input_stream_read(in, &c, 1, NULL, &error);

		g_assert_no_error(error);
		if (n == 0)
			break; /* the server closed the connection */
		g_string_append_c(head, c);
	}
	return g_strdup(head->str);
}

static void
test_keep_alive(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autofree gchar *key = greet(b, "/api/Greeting?name=keep-alive&version=1");
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *request = g_strdup_printf("POST /api/Greeting/Ping HTTP/1.1\r\n"
	                                            "Host: 127.0.0.1\r\n"
	                                            "Authorization: Bearer %s\r\n"
	                                            "Content-Length: 0\r\n\r\n",
	                                            key);

	/* a client polls Await and Confirm on one connection: an empty answer must not end it */
	g_socket_client_set_timeout(client, ITEST_TIMEOUT_MS / 1000);
	conn = g_socket_client_connect_to_host(client, "127.0.0.1", b->http_port, NULL, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *head = raw_http_exchange(conn, request);

		g_assert_true(g_str_has_prefix(head, "HTTP/1.1 204 "));
		g_assert_null(strstr(head, "Connection: close"));
	}
}

static void
test_reload(void)
{
	ItestBroker *b = itest_broker_new("HttpAwaitTimeout: 8s\n");
	g_autofree gchar *key = NULL;
	AsyncCall *c;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	key = greet(b, "/api/Greeting?name=reload&version=1");
	/* SIGHUP: the next Await waits the new HttpAwaitTimeout, well before the old one */
	itest_broker_write_settings(b, "HttpAwaitTimeout: 200ms\n");
	g_assert_cmpint(kill(b->pid, SIGHUP), ==, 0);
	itest_broker_wait_log(b, "reload: HttpAwaitTimeout: ", 1, ITEST_TIMEOUT_MS);
	c = async_await(b, key);
	ITEST_WAIT_FOR_MS(c->done, 4000);
	g_assert_cmpuint(c->status, ==, 204);
	async_call_free(c);
	itest_broker_free(b);
}

/*
 * HttpMaxSessions: a Greeting beyond the cap gets 503 with a text naming the setting, the
 * sessions open keep working, and a session that ends makes room; before the cap, any number of
 * Greetings each held a broker session for a minute.
 */
static void
test_max_sessions(void)
{
	ItestBroker *b = itest_broker_new("HttpMaxSessions: 2\nHttpSessionTimeout: 1s\n");
	g_autofree gchar *first = NULL;
	g_autofree gchar *second = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *third = NULL;
	guint code = 0;

	itest_broker_start(b, 0);
	first = greet(b, "/api/Greeting?name=one&version=1");
	second = greet(b, "/api/Greeting?name=two&version=1");
	text = http_call(b, "/api/Greeting?name=three&version=1", NULL, NULL, &code);
	g_assert_cmpuint(code, ==, 503);
	g_assert_nonnull(strstr(text, "HttpMaxSessions"));
	http_expect(b, "/api/Greeting/Ping", first, NULL, 204);
	/* the second expires (no call for HttpSessionTimeout) while the first pings: room again */
	for (guint i = 0; i < 6; i++) {
		itest_run_for(300);
		http_expect(b, "/api/Greeting/Ping", first, NULL, 204);
	}
	http_expect(b, "/api/Greeting/Ping", second, NULL, 401);
	third = greet(b, "/api/Greeting?name=three&version=1");
	http_expect(b, "/api/Greeting/Ping", third, NULL, 204);
	itest_broker_free(b);
}

static void
test_calls_keep_session(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autofree gchar *key = greet(b, "/api/Greeting?name=pinger&version=1");

	/* pings every 300 ms for twice HttpSessionTimeout (1 s) keep it */
	for (guint i = 0; i < 7; i++) {
		itest_run_for(300);
		http_expect(b, "/api/Greeting/Ping", key, NULL, 204);
	}
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	ITEST_ADD("/http-sessions/greeting-ping-auth", NULL, test_greeting_ping_auth);
	g_test_add_func("/http-sessions/max-sessions", test_max_sessions);
	ITEST_ADD("/http-sessions/publish-to-tcp", NULL, test_publish_to_tcp);
	ITEST_ADD("/http-sessions/http-to-http", NULL, test_http_to_http);
	ITEST_ADD("/http-sessions/await-confirm-all-ok", NULL, test_await_confirm_all_ok);
	ITEST_ADD("/http-sessions/confirm-fail-and-some", NULL, test_confirm_fail_and_some);
	ITEST_ADD("/http-sessions/await-long-poll", QUICK_AWAIT, test_await_long_poll);
	ITEST_ADD("/http-sessions/session-expires", "HttpSessionTimeout: 1s\n",
	          test_session_expires);
	ITEST_ADD("/http-sessions/calls-keep-session", "HttpSessionTimeout: 1s\n",
	          test_calls_keep_session);
	ITEST_ADD("/http-sessions/keep-alive", NULL, test_keep_alive);
	ITEST_ADD("/http-sessions/delivery-timeout", "DeliveryTimeout: 1s\n",
	          test_delivery_timeout);
	g_test_add_func("/http-sessions/persist-immediately", test_persist_immediately);
	g_test_add_func("/http-sessions/reload", test_reload);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
