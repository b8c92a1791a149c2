/*
 * The administrative REST routes of node.md §6.2 against the real broker: each with good and bad
 * input (status codes and texts), and their effect seen by real TCP clients: a kicked session's
 * socket is closed, a deleted queue is gone, SetMessageId changes what is delivered next,
 * SetMaxMessagePerPayload limits the batches, soft delete refuses publishes until a restore, a
 * hard delete wipes the topic, and with a persistence service the service deletes it too.
 */
#include <string.h>

#include "dtest.h"

typedef struct {
	gchar *body;
	guint status;
} Reply;

static void
reply_clear(Reply *r)
{
	g_clear_pointer(&r->body, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Reply, reply_clear)

static Reply
http(ItestBroker *b, const gchar *method, const gchar *path)
{
	Reply r = {NULL, 0};

	r.body = itest_broker_http(b, method, path, NULL, NULL, NULL, &r.status);
	return r;
}

static Reply
http_body(ItestBroker *b, const gchar *method, const gchar *path, const gchar *type,
          const gchar *body)
{
	Reply r = {NULL, 0};

	r.body = itest_broker_http(b, method, path, type, body, NULL, &r.status);
	return r;
}

#define ASSERT_HTTP(b, method, path, expect_status)                                         \
	G_STMT_START                                                                        \
	{                                                                                   \
		g_auto(Reply) _r = http((b), (method), (path));                             \
		if (_r.status != (expect_status))                                           \
			g_error("%s %s: %u (%s), expected %u", (method), (path), _r.status, \
			        _r.body, (guint)(expect_status));                           \
	}                                                                                   \
	G_STMT_END

static JsonNode *
parse(const gchar *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

/* The topic item of /api/Status, or NULL. */
static JsonObject *
status_topic(JsonNode *status, const gchar *name)
{
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(status), "topics"), "items");

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *t = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(t, "id"), name) == 0)
			return t;
	}
	return NULL;
}

static gboolean
topic_listed(ItestBroker *b, const gchar *name)
{
	g_auto(Reply) r = http(b, "GET", "/api/Topics/Create");
	g_autoptr(JsonNode) root = NULL;
	JsonArray *list;

	g_assert_cmpuint(r.status, ==, 200);
	root = parse(r.body);
	list = json_node_get_array(root);
	for (guint i = 0; i < json_array_get_length(list); i++) {
		JsonObject *t = json_array_get_object_element(list, i);
		g_assert_true(json_object_has_member(t, "messageId"));
		if (g_strcmp0(json_object_get_string_member(t, "id"), name) == 0)
			return TRUE;
	}
	return FALSE;
}

static ItestRaw *
connect_as(ItestBroker *b, const gchar *name)
{
	ItestRaw *r = itest_raw_connect(b);

	itest_raw_greet(r, name, 3, 0);
	itest_raw_sync(r);
	return r;
}

static void
publish(ItestRaw *r, const gchar *topic, gint64 request_id, guint n)
{
	itest_raw_publish_sized(r, topic, request_id, n, 8);
	itest_raw_expect_publish_response(r, request_id);
}

/* ---- topics and namespaces ---- */

static void
test_topics(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *ns;

	{
		g_auto(Reply) r = http(b, "POST", "/api/Topics/Create?topicId=orders");
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "Topic is created");
	}
	/* idempotent, any case in the path */
	ASSERT_HTTP(b, "POST", "/api/topics/create?topicId=orders", 200);
	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=Bad_Name", 403);
	ASSERT_HTTP(b, "POST", "/api/Topics/Create", 400);
	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=", 400);
	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=other&ns=elsewhere", 403);
	g_assert_true(topic_listed(b, "orders"));
	g_assert_false(topic_listed(b, "other"));

	{
		g_auto(Reply) r = http(b, "GET", "/api/Namespaces/List");
		g_assert_cmpuint(r.status, ==, 200);
		root = parse(r.body);
		g_assert_cmpuint(json_array_get_length(json_node_get_array(root)), ==, 1);
		ns = json_array_get_object_element(json_node_get_array(root), 0);
		g_assert_cmpstr(json_object_get_string_member(ns, "name"), ==, "default");
		g_assert_cmpint(json_object_get_int_member(ns, "topicsAmount"), ==, 1);
	}
	/* a route that changes state does not answer GET, and the other way round */
	ASSERT_HTTP(b, "GET", "/api/Topics/Delete?topicId=orders", 405);
}

static void
test_soft_delete_restore(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) pub = connect_as(b, "pub");
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autoptr(GDateTime) later = g_date_time_add_hours(now, 24);
	g_autofree gchar *iso = g_date_time_format(later, "%Y-%m-%dT%H:%M:%S.000Z");
	g_autofree gchar *path =
	        g_strdup_printf("/api/Topics/Delete?topicId=orders&hardDeleteMoment=%s", iso);
	g_autoptr(JsonNode) status = NULL;
	g_autofree gchar *reject = NULL;

	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
	publish(pub, "orders", 1, 1);
	ASSERT_HTTP(b, "DELETE", "/api/Topics/Delete?topicId=nosuch", 403);
	ASSERT_HTTP(b, "DELETE", "/api/Topics/Delete?topicId=orders&hardDeleteMoment=tomorrow",
	            400);
	ASSERT_HTTP(b, "DELETE", "/api/Topics/Delete", 400);
	ASSERT_HTTP(b, "DELETE", path, 204);

	/* the status shows the moment (unix µs), publishes and creates are refused */
	status = itest_broker_get_json(b, "/api/Status?fresh=true");
	g_assert_cmpint(json_object_get_int_member(status_topic(status, "orders"), "deleted"), ==,
	                g_date_time_to_unix(later) * G_USEC_PER_SEC);
	itest_raw_publish_sized(pub, "orders", 2, 1, 8);
	reject = itest_raw_expect_reject(pub);
	g_assert_cmpstr(reject, ==, "TopicIsDeleted { topic_id: \"orders\" }");
	{
		g_auto(Reply) r = http(b, "POST", "/api/Topics/Create?topicId=orders");
		g_assert_cmpuint(r.status, ==, 403);
		g_assert_nonnull(strstr(r.body, "TopicIsDeleted"));
	}

	{
		g_auto(Reply) r = http(b, "PUT", "/api/Topics/Restore?topicId=orders");
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "{\"restored\":true}");
	}
	{
		g_auto(Reply) r = http(b, "PUT", "/api/Topics/Restore?topicId=orders");
		g_assert_cmpstr(r.body, ==, "{\"restored\":false}");
	}
	{
		g_auto(Reply) r = http(b, "PUT", "/api/Topics/Restore?topicId=nosuch");
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "{\"restored\":false}");
	}
	publish(pub, "orders", 3, 1);
	g_clear_pointer(&status, json_node_unref);
	status = itest_broker_get_json(b, "/api/Status?fresh=true");
	g_assert_cmpint(json_object_get_int_member(status_topic(status, "orders"), "deleted"), ==,
	                0);
	g_assert_cmpint(json_object_get_int_member(status_topic(status, "orders"), "messageId"), ==,
	                2);
}

/* A moment in the past: wiped at the next tick; its subscriber stays connected. */
static void
test_hard_delete(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) sub = connect_as(b, "sub");

	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
	itest_raw_subscribe(sub, "orders", "q", 0);
	itest_raw_sync(sub);
	ASSERT_HTTP(b, "DELETE",
	            "/api/Topics/Delete?topicId=orders&hardDeleteMoment=2020-01-01T00:00:00Z", 204);
	ITEST_WAIT_FOR(!topic_listed(b, "orders"));
	{
		g_auto(Reply) r = http(b, "PUT", "/api/Topics/Restore?topicId=orders");
		g_assert_cmpstr(r.body, ==, "{\"restored\":false}");
	}
	ASSERT_HTTP(b, "GET", "/api/Queues?topicId=orders", 404);
	itest_raw_sync(sub);
	/* the name can be used again */
	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
}

static void
test_persist(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(JsonNode) status = NULL;

	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
	{
		g_auto(Reply) r = http_body(b, "POST", "/api/Topics/Persist", "application/json",
		                            "{\"topicId\": \"orders\", \"persist\": false}");
		g_assert_cmpuint(r.status, ==, 200);
	}
	status = itest_broker_get_json(b, "/api/Status?fresh=true");
	g_assert_false(json_object_get_boolean_member(status_topic(status, "orders"), "persist"));
	{
		g_auto(Reply) r = http_body(b, "POST", "/api/Topics/Persist",
		                            "application/x-www-form-urlencoded",
		                            "topicId=orders&persist=true");
		g_assert_cmpuint(r.status, ==, 200);
	}
	g_clear_pointer(&status, json_node_unref);
	status = itest_broker_get_json(b, "/api/Status?fresh=true");
	g_assert_true(json_object_get_boolean_member(status_topic(status, "orders"), "persist"));
	{
		g_auto(Reply) r = http_body(b, "POST", "/api/Topics/Persist", "application/json",
		                            "{\"topicId\": \"nosuch\", \"persist\": true}");
		g_assert_cmpuint(r.status, ==, 403);
	}
	{
		g_auto(Reply) r = http_body(b, "POST", "/api/Topics/Persist", "application/json",
		                            "{\"topicId\": \"orders\", \"persist\": \"maybe\"}");
		g_assert_cmpuint(r.status, ==, 400);
	}
	{
		g_auto(Reply) r = http_body(b, "POST", "/api/Topics/Persist", "application/json",
		                            "{\"persist\": true}");
		g_assert_cmpuint(r.status, ==, 400);
	}
	{
		g_auto(Reply) r = http_body(b, "POST", "/api/Topics/Persist", "application/json",
		                            "[not json");
		g_assert_cmpuint(r.status, ==, 400);
	}
}

/* ---- queues ---- */

static void
test_queues(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) sub = connect_as(b, "sub");
	g_autoptr(ItestRaw) pub = connect_as(b, "pub");
	g_autoptr(ItestPacket) batch = NULL;

	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
	itest_raw_subscribe(sub, "orders", "q", 0);
	itest_raw_sync(sub);
	{
		g_auto(Reply) r = http(b, "GET", "/api/Queues?topicId=orders");
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "[\"q\"]");
	}
	ASSERT_HTTP(b, "GET", "/api/Queues?topicId=nosuch", 404);
	ASSERT_HTTP(b, "GET", "/api/Queues", 400);

	publish(pub, "orders", 1, 1);
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	ASSERT_HTTP(b, "DELETE", "/api/Queues?topicId=orders&queueId=q", 204);
	{
		g_auto(Reply) r = http(b, "GET", "/api/Queues?topicId=orders");
		g_assert_cmpstr(r.body, ==, "[]");
	}
	/* its subscriber's session stays; the confirmation is refused; nothing more arrives */
	itest_raw_confirm(sub, TRUE, "orders", "q", batch->confirmation_id);
	g_free(itest_raw_expect_reject(sub));
	publish(pub, "orders", 2, 1);
	itest_raw_assert_quiet(sub);
	/* again: success; unknown topic: 403; missing parameters: 400 */
	ASSERT_HTTP(b, "DELETE", "/api/Queues?topicId=orders&queueId=q", 204);
	ASSERT_HTTP(b, "DELETE", "/api/Queues?topicId=nosuch&queueId=q", 403);
	ASSERT_HTTP(b, "DELETE", "/api/Queues?topicId=orders", 400);
}

#define ADMIN_TOKEN "s3cret-admin-token-0123456789"

/* With HttpAdminToken set, a route that changes state needs the token; reads do not. */
static void
test_admin_token(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) sub = connect_as(b, "sub");
	static const gchar *const wrong[] = {"Authorization", "Bearer s3cret-admin-token-012345678",
	                                     NULL};
	static const gchar *const right[] = {"Authorization", "Bearer " ADMIN_TOKEN, NULL};
	guint status = 0;

	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 401);
	g_free(itest_broker_http(b, "POST", "/api/Topics/Create?topicId=orders", NULL, NULL, right,
	                         &status));
	g_assert_cmpuint(status, ==, 200);
	itest_raw_subscribe(sub, "orders", "q", 1);
	itest_raw_sync(sub);
	{
		g_autofree gchar *body =
		        itest_broker_http(b, "DELETE", "/api/Queues?topicId=orders&queueId=q", NULL,
		                          NULL, wrong, &status);
		g_assert_cmpuint(status, ==, 401);
		g_assert_nonnull(strstr(body, "HttpAdminToken"));
	}
	ASSERT_HTTP(b, "DELETE", "/api/Queues?topicId=orders&queueId=q", 401);
	ASSERT_HTTP(b, "DELETE", "/api/Sessions?connectionId=1", 401);
	/* nothing changed; reading needs no token */
	{
		g_auto(Reply) r = http(b, "GET", "/api/Queues?topicId=orders");
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "[\"q\"]");
	}
	ASSERT_HTTP(b, "GET", "/api/Status", 200);
	/* reading the delivery console needs no token, clearing it does */
	g_free(itest_broker_http(b, "POST", "/api/Debug/Console/Target?topicId=orders&queueId=q",
	                         NULL, NULL, right, &status));
	g_assert_cmpuint(status, ==, 200);
	{
		g_autoptr(ItestRaw) pub = connect_as(b, "pub");
		g_autoptr(JsonNode) root = NULL;
		g_autofree gchar *body = NULL;

		publish(pub, "orders", 1, 1);
		itest_raw_sync(pub);
		ASSERT_HTTP(b, "GET", "/api/Debug/Console", 200);
		body = itest_broker_http(b, "GET", "/api/Debug/Console?clear=true", NULL, NULL,
		                         NULL, &status);
		g_assert_cmpuint(status, ==, 401);
		g_assert_nonnull(strstr(body, "HttpAdminToken"));
		g_clear_pointer(&body, g_free);
		body = itest_broker_http(b, "GET", "/api/Debug/Console?clear=true", NULL, NULL,
		                         wrong, &status);
		g_assert_cmpuint(status, ==, 401);
		/* nothing was cleared */
		{
			g_auto(Reply) r = http(b, "GET", "/api/Debug/Console");
			root = parse(r.body);
			g_assert_cmpint(json_object_get_int_member(json_node_get_object(root),
			                                           "records_count"),
			                >, 0);
		}
		g_clear_pointer(&body, g_free);
		body = itest_broker_http(b, "GET", "/api/Debug/Console?clear=true", NULL, NULL,
		                         right, &status);
		g_assert_cmpuint(status, ==, 200);
		{
			g_auto(Reply) r = http(b, "GET", "/api/Debug/Console");
			g_clear_pointer(&root, json_node_unref);
			root = parse(r.body);
			g_assert_cmpint(json_object_get_int_member(json_node_get_object(root),
			                                           "records_count"),
			                ==, 0);
		}
	}
	g_free(itest_broker_http(b, "DELETE", "/api/Queues?topicId=orders&queueId=q", NULL, NULL,
	                         right, &status));
	g_assert_cmpuint(status, ==, 204);
	{
		g_auto(Reply) r = http(b, "GET", "/api/Queues?topicId=orders");
		g_assert_cmpstr(r.body, ==, "[]");
	}
}

static void
test_set_message_id(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) sub = connect_as(b, "sub");
	g_autoptr(ItestRaw) pub = connect_as(b, "pub");
	ItestPacket *batch;

	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
	/* a queue nobody reads keeps the messages in memory (no persistence here) */
	{
		g_autoptr(ItestRaw) holder = connect_as(b, "holder");
		itest_raw_subscribe(holder, "orders", "hold", 0);
		itest_raw_sync(holder);
	}
	itest_raw_subscribe(sub, "orders", "q", 0);
	itest_raw_sync(sub);
	publish(pub, "orders", 1, 5);
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 5);
	itest_raw_confirm(sub, TRUE, "orders", "q", batch->confirmation_id);
	itest_packet_free(batch);
	itest_raw_assert_quiet(sub);

	/* replay from 2: delivered at once */
	ASSERT_HTTP(b, "POST", "/api/Queues/SetMessageId?topicId=orders&queueId=q&messageId=2",
	            204);
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 3);
	g_assert_cmpint(itest_packet_message(batch, 0)->id, ==, 2);
	g_assert_cmpint(itest_packet_message(batch, 2)->id, ==, 4);
	itest_raw_confirm(sub, TRUE, "orders", "q", batch->confirmation_id);
	itest_packet_free(batch);

	ASSERT_HTTP(b, "POST", "/api/Queues/SetMessageId?topicId=orders&queueId=q&messageId=abc",
	            400);
	ASSERT_HTTP(b, "POST", "/api/Queues/SetMessageId?topicId=orders&queueId=q&messageId=-1",
	            400);
	ASSERT_HTTP(b, "POST", "/api/Queues/SetMessageId?topicId=orders&queueId=q", 400);
	ASSERT_HTTP(b, "POST", "/api/Queues/SetMessageId?topicId=orders&queueId=nosuch&messageId=1",
	            403);
	ASSERT_HTTP(b, "POST", "/api/Queues/SetMessageId?topicId=nosuch&queueId=q&messageId=1",
	            403);
	itest_raw_assert_quiet(sub);
}

static void
test_max_messages(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) sub = connect_as(b, "sub");
	g_autoptr(ItestRaw) pub = connect_as(b, "pub");
	guint total = 0;

	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
	itest_raw_subscribe(sub, "orders", "q", 0);
	itest_raw_sync(sub);
	ASSERT_HTTP(b, "POST",
	            "/api/Queues/SetMaxMessagePerPayload?topicId=orders&queueId=q&maxMessages=2",
	            204);
	publish(pub, "orders", 1, 7);
	while (total < 7) {
		g_autoptr(ItestPacket) batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
		g_assert_cmpuint(batch->messages->len, <=, 2);
		g_assert_cmpint(itest_packet_message(batch, 0)->id, ==, total);
		total += batch->messages->len;
		itest_raw_confirm(sub, TRUE, "orders", "q", batch->confirmation_id);
	}
	/* absent: no limit again */
	ASSERT_HTTP(b, "POST", "/api/Queues/SetMaxMessagePerPayload?topicId=orders&queueId=q", 204);
	publish(pub, "orders", 2, 7);
	{
		g_autoptr(ItestPacket) batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
		g_assert_cmpuint(batch->messages->len, ==, 7);
	}
	ASSERT_HTTP(b, "POST",
	            "/api/Queues/SetMaxMessagePerPayload?topicId=orders&queueId=q&maxMessages=-3",
	            400);
	ASSERT_HTTP(b, "POST",
	            "/api/Queues/SetMaxMessagePerPayload?topicId=orders&queueId=q&maxMessages=x",
	            400);
	ASSERT_HTTP(b, "POST",
	            "/api/Queues/SetMaxMessagePerPayload?topicId=orders&queueId=no&maxMessages=1",
	            403);
}

/* ---- sessions ---- */

static gint64
session_id(ItestBroker *b, const gchar *name)
{
	g_autoptr(JsonNode) status = itest_broker_get_json(b, "/api/Status?fresh=true");
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(status), "sessions"), "items");

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *s = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(s, "name"), name) == 0)
			return json_object_get_int_member(s, "id");
	}
	g_error("no session %s in the status", name);
}

static void
test_kick(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) victim = connect_as(b, "victim");
	g_autoptr(ItestRaw) other = connect_as(b, "other");
	g_autofree gchar *path = g_strdup_printf("/api/Sessions?connectionId=%" G_GINT64_FORMAT,
	                                         session_id(b, "victim"));

	ASSERT_HTTP(b, "DELETE", path, 204);
	itest_raw_wait_closed(victim, ITEST_TIMEOUT_MS);
	itest_raw_sync(other);
	ASSERT_HTTP(b, "DELETE", "/api/Sessions?connectionId=999999", 404);
	ASSERT_HTTP(b, "DELETE", "/api/Sessions?connectionId=me", 400);
	ASSERT_HTTP(b, "DELETE", "/api/Sessions", 400);
}

/* ---- debug ---- */

static void
test_debug(ItestFixture *f, gconstpointer data)
{
	ItestBroker *b = f->broker;
	g_autoptr(ItestRaw) sub = connect_as(b, "sub");
	g_autoptr(ItestRaw) pub = connect_as(b, "pub");
	g_autoptr(ItestPacket) batch = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonNode) status = NULL;
	g_autofree gchar *on_delivery = NULL;
	JsonObject *q;
	JsonObject *s;
	JsonObject *console;

	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
	ASSERT_HTTP(b, "POST", "/api/Debug/Console/Target?topicId=orders&queueId=q", 200);
	status = itest_broker_get_json(b, "/api/Status?fresh=true");
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(status), "debug"), ==,
	                "orders / q");
	itest_raw_subscribe(sub, "orders", "q", 0);
	itest_raw_sync(sub);
	publish(pub, "orders", 1, 3);
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);

	{
		g_auto(Reply) r = http(b, "GET", "/api/Debug/MinMessageId?topicId=orders");
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "{\"min_message_id\":0}");
	}
	ASSERT_HTTP(b, "GET", "/api/Debug/MinMessageId?topicId=nosuch", 404);
	{
		g_auto(Reply) r = http(b, "GET", "/api/Debug/GetQueues?topicId=orders");
		g_assert_cmpuint(r.status, ==, 200);
		root = parse(r.body);
		q = json_array_get_object_element(json_node_get_array(root), 0);
		g_assert_cmpstr(json_object_get_string_member(q, "name"), ==, "q");
		g_assert_cmpstr(json_object_get_string_member(q, "queue_type"), ==, "Permanent");
		s = json_array_get_object_element(json_object_get_array_member(q, "subscribers"),
		                                  0);
		g_assert_cmpint(json_object_get_int_member(s, "id"), ==, batch->confirmation_id);
		g_assert_cmpint(json_object_get_int_member(s, "session_id"), ==,
		                session_id(b, "sub"));
		g_assert_cmpstr(json_object_get_string_member(s, "delivery_status"), ==,
		                "OnDelivery");
		g_assert_cmpint(json_object_get_int_member(s, "last_delivered_amount"), ==, 3);
		g_assert_nonnull(json_object_get_string_member(s, "subscribed"));
		g_assert_nonnull(json_object_get_string_member(s, "last_delivered"));
	}
	ASSERT_HTTP(b, "GET", "/api/Debug/GetQueues?topicId=nosuch", 404);
	on_delivery = g_strdup_printf("/api/Debug/OnDelivery?topicId=orders&queueId=q&"
	                              "subscriberId=%" G_GINT64_FORMAT,
	                              batch->confirmation_id);
	{
		g_auto(Reply) r = http(b, "GET", on_delivery);
		g_assert_cmpuint(r.status, ==, 200);
		g_assert_cmpstr(r.body, ==, "[0-2]");
	}
	itest_raw_confirm(sub, TRUE, "orders", "q", batch->confirmation_id);
	itest_raw_sync(sub);
	{
		g_auto(Reply) r = http(b, "GET", on_delivery);
		g_assert_cmpstr(r.body, ==, "None");
	}
	ASSERT_HTTP(b, "GET", "/api/Debug/OnDelivery?topicId=orders&queueId=q&subscriberId=99",
	            404);
	ASSERT_HTTP(b, "GET", "/api/Debug/OnDelivery?topicId=orders&queueId=q&subscriberId=x", 400);

	/* the console saw subscribe, publish, the batch and its confirmation */
	{
		g_auto(Reply) r = http(b, "GET", "/api/Debug/Console");
		g_clear_pointer(&root, json_node_unref);
		root = parse(r.body);
		console = json_node_get_object(root);
		g_assert_true(json_object_get_boolean_member(console, "enabled"));
		g_assert_cmpstr(json_object_get_string_member(console, "topic_id"), ==, "orders");
		g_assert_cmpstr(json_object_get_string_member(console, "queue_id"), ==, "q");
		g_assert_cmpint(json_object_get_int_member(console, "records_count"), ==, 4);
		g_assert_cmpuint(
		        json_array_get_length(json_object_get_array_member(console, "records")), ==,
		        4);
	}
	{
		g_auto(Reply) r = http(b, "GET", "/api/Debug/Console?tail=1&clear=true");
		g_clear_pointer(&root, json_node_unref);
		root = parse(r.body);
		console = json_node_get_object(root);
		g_assert_cmpuint(
		        json_array_get_length(json_object_get_array_member(console, "records")), ==,
		        1);
		g_assert_nonnull(json_object_get_string_member(
		        json_array_get_object_element(
		                json_object_get_array_member(console, "records"), 0),
		        "date"));
	}
	ASSERT_HTTP(b, "GET", "/api/Debug/Console?tail=-1", 400);
	ASSERT_HTTP(b, "GET", "/api/Debug/Console?clear=perhaps", 400);
	ASSERT_HTTP(b, "POST", "/api/Debug/Console/Target", 400);
	ASSERT_HTTP(b, "DELETE", "/api/Debug/Console", 200);
	g_clear_pointer(&status, json_node_unref);
	status = itest_broker_get_json(b, "/api/Status?fresh=true");
	g_assert_false(json_object_has_member(json_node_get_object(status), "debug"));
	{
		g_auto(Reply) r = http(b, "GET", "/api/Debug/Console");
		g_clear_pointer(&root, json_node_unref);
		root = parse(r.body);
		g_assert_false(
		        json_object_get_boolean_member(json_node_get_object(root), "enabled"));
	}
}

/* ---- with a persistence service ---- */

static gboolean
service_holds_live(PtestService *ps, const gchar *topic)
{
	guint status = 0;
	g_autofree gchar *text = ptest_http_get(ps->http_port, "/api/status", &status);
	g_autoptr(JsonNode) root = NULL;
	JsonArray *topics;

	g_assert_cmpuint(status, ==, 200);
	root = parse(text);
	topics = json_object_get_array_member(json_node_get_object(root), "topics");
	for (guint i = 0; i < json_array_get_length(topics); i++) {
		JsonObject *t = json_array_get_object_element(topics, i);
		if (g_strcmp0(json_object_get_string_member(t, "topic_id"), topic) == 0)
			return !json_object_get_boolean_member(t, "deleted");
	}
	return FALSE;
}

static void
test_hard_delete_persistence(void)
{
	PtestService *ps = ptest_service_new();
	ItestBroker *b;
	g_autoptr(ItestRaw) pub = NULL;

	ptest_service_start(ps, 0);
	b = dtest_broker_new(ps, NULL);
	itest_broker_start(b, 0);
	pub = connect_as(b, "pub");
	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);
	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=kept", 200);
	dtest_publish(pub, "orders", 1, "m", 0, 10, 16, TRUE);
	itest_raw_expect_publish_response(pub, 1);
	dtest_publish(pub, "kept", 2, "m", 0, 10, 16, TRUE);
	itest_raw_expect_publish_response(pub, 2);
	g_assert_true(service_holds_live(ps, "orders"));

	ASSERT_HTTP(b, "DELETE", "/api/Topics/Delete?topicId=orders", 204);
	/* the broker asks the service (DeleteTopic), then drops the topic */
	ITEST_WAIT_FOR(!topic_listed(b, "orders"));
	g_assert_false(service_holds_live(ps, "orders"));
	g_assert_true(service_holds_live(ps, "kept"));
	g_assert_true(topic_listed(b, "kept"));

	itest_raw_free(g_steal_pointer(&pub));
	itest_broker_free(b);
	ptest_service_free(ps);
}

/* Before the restore (persistence not there yet) no topic may be created: it would clash with the
 * restored one. */
static void
test_create_while_restoring(void)
{
	PtestService *ps = ptest_service_new();
	ItestBroker *b;

	ps->grpc_port = ptest_free_port();
	b = dtest_broker_new(ps, NULL);
	b->capture_log = TRUE;
	itest_broker_spawn(b, 0);
	dtest_broker_wait_http(b);
	{
		g_auto(Reply) r = http(b, "POST", "/api/Topics/Create?topicId=orders");
		g_assert_cmpuint(r.status, ==, 409);
		g_assert_nonnull(strstr(r.body, "restored from persistence"));
	}
	ptest_service_start(ps, ps->grpc_port);
	itest_broker_wait_ready(b, 0, 30000);
	ASSERT_HTTP(b, "POST", "/api/Topics/Create?topicId=orders", 200);

	itest_broker_free(b);
	ptest_service_free(ps);
}

int
main(int argc, char **argv)
{
	dtest_init(&argc, &argv);

	ITEST_ADD("/http-admin/topics", NULL, test_topics);
	ITEST_ADD("/http-admin/topics/soft-delete-restore", NULL, test_soft_delete_restore);
	ITEST_ADD("/http-admin/topics/hard-delete", NULL, test_hard_delete);
	ITEST_ADD("/http-admin/topics/persist", NULL, test_persist);
	ITEST_ADD("/http-admin/queues/delete", NULL, test_queues);
	ITEST_ADD("/http-admin/queues/set-message-id", NULL, test_set_message_id);
	ITEST_ADD("/http-admin/admin-token", "HttpAdminToken: " ADMIN_TOKEN "\n", test_admin_token);
	ITEST_ADD("/http-admin/queues/max-messages", NULL, test_max_messages);
	ITEST_ADD("/http-admin/sessions/kick", NULL, test_kick);
	ITEST_ADD("/http-admin/debug", NULL, test_debug);
	g_test_add_func("/http-admin/topics/hard-delete-persistence", test_hard_delete_persistence);
	g_test_add_func("/http-admin/topics/create-while-restoring", test_create_while_restoring);

	return g_test_run();
}
