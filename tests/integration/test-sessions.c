/*
 * Sessions against the real broker, over raw sockets with the bytes of protocol.md §11: Ping/Pong
 * before and after Greeting, what is ignored before Greeting, the protocol versions accepted and
 * refused, Greeting name forms and how they are split (as /api/status shows them), a second
 * Greeting, PacketVersions before Greeting, a typical Rust connection start, and every Reject the
 * contract asks for (missing topic as the exact §11.9 bytes, failed and duplicate Subscribe,
 * confirmations for unknown topics and queues, texts capped at 255 bytes) with the connection
 * kept open; the C# CreateTopicIfNotExists answered by 8 Pongs.
 */
#include "itest.h"

/* ---- Ping ---- */

static void
test_ping_pong(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autoptr(ItestPacket) pong = NULL;

	/* before any Greeting: Ping is the one packet that is answered */
	itest_raw_send_hex(r, "00");
	pong = itest_raw_expect(r, MSB_PACKET_PONG);
	itest_assert_bytes_hex(pong->raw, "01");

	itest_raw_send_hex(r, ITEST_HEX_GREETING_RUST);
	/* three Pings in one write: three Pongs, in order, nothing else */
	itest_raw_send_hex(r, "00 00 00");
	for (guint i = 0; i < 3; i++) {
		g_autoptr(ItestPacket) p = itest_raw_expect(r, MSB_PACKET_PONG);
		itest_assert_bytes_hex(p->raw, "01");
	}
	itest_raw_assert_quiet(r);
}

/* ---- before Greeting ---- */

static void
test_before_greeting(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) sub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) early = itest_raw_connect(f->broker);
	g_autofree gchar *text = NULL;

	itest_raw_greet(sub, "subscriber", 3, 1);
	itest_raw_create_topic(sub, "orders");
	itest_raw_subscribe(sub, "orders", "billing", 0);
	itest_raw_sync(sub);

	/* a Publish before Greeting (parsed in the P < 3 form, which is the §11.3 P = 2 bytes)
	 * gets no PublishResponse and no Reject: the Pong of the next Ping comes first */
	itest_raw_send_hex(early, ITEST_HEX_PUBLISH_P2);
	/* nor do Subscribe, CreateTopicIfNotExists and a confirmation for an unknown topic */
	itest_raw_subscribe(early, "orders", "billing", 0);
	itest_raw_create_topic(early, "early-topic");
	itest_raw_confirm(early, TRUE, "no-such-topic", "q", 0);
	itest_raw_assert_quiet(early);

	/* the early Publish was dropped: the subscriber got nothing */
	itest_raw_assert_quiet(sub);

	itest_raw_greet(early, "late", 3, 1);
	/* the early CreateTopicIfNotExists was dropped: the topic does not exist */
	{
		const gchar *contents[] = {"x"};
		itest_raw_publish(early, "early-topic", 7, contents, 1, FALSE);
		text = itest_raw_expect_reject(early);
		g_assert_cmpstr(text, ==, "TopicNotFound { topic_id: \"early-topic\" }");
	}
	/* the early Subscribe was dropped: subscribing now is not a duplicate */
	itest_raw_subscribe(early, "orders", "billing", 0);
	itest_raw_assert_quiet(early);
}

/* ---- protocol versions ---- */

static void
test_protocol_versions_refused(ItestFixture *f, gconstpointer data)
{
	const gint32 refused[] = {0, 1, -1, G_MININT32};

	for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
		g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
		g_autofree gchar *text = NULL;

		itest_raw_greet(r, "old-client", refused[i], -1);
		text = itest_raw_expect_reject(r);
		g_assert_true(g_str_has_prefix(text, "Greeting: protocol version"));
		itest_raw_wait_closed(r, ITEST_TIMEOUT_MS);
		g_assert_cmpuint(itest_raw_n_queued(r), ==, 0);
	}
}

static void
test_protocol_versions_accepted(ItestFixture *f, gconstpointer data)
{
	/* 2, 3, and anything above 3 behaves as 3 (headers in Publish and NewMessages) */
	const gint32 accepted[] = {2, 3, 4, 100, G_MAXINT32};
	g_autoptr(ItestRaw) admin = itest_raw_connect(f->broker);

	itest_raw_greet(admin, "admin", 3, 1);
	itest_raw_create_topic(admin, "versions");
	itest_raw_sync(admin);
	for (guint i = 0; i < G_N_ELEMENTS(accepted); i++) {
		g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
		g_autoptr(ItestPacket) batch = NULL;
		g_autofree gchar *queue = g_strdup_printf("q%u", i);
		const gchar *contents[] = {"payload"};
		ItestMessage *m;

		itest_raw_greet(r, "client", accepted[i], 1);
		itest_raw_subscribe(r, "versions", queue, 1);
		itest_raw_publish(r, "versions", 100 + i, contents, 1, TRUE);
		itest_raw_expect_publish_response(r, 100 + i);
		batch = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);
		g_assert_cmpuint(batch->messages->len, ==, 1);
		m = itest_packet_message(batch, 0);
		g_assert_cmpmem(g_bytes_get_data(m->content, NULL), g_bytes_get_size(m->content),
		                "payload", 7);
		/* P = 2 cannot carry headers either way; P ≥ 3 gets the header back */
		g_assert_cmpuint(m->n_headers, ==, accepted[i] >= 3 ? 1 : 0);
		itest_raw_confirm(r, TRUE, "versions", queue, batch->confirmation_id);
		itest_raw_sync(r);
	}
}

static void
test_second_greeting(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autofree gchar *text = NULL;

	itest_raw_greet(r, "first", 3, 1);
	itest_raw_sync(r);
	itest_raw_greet(r, "second", 3, 1);
	text = itest_raw_expect_reject(r);
	g_assert_true(g_str_has_prefix(text, "Greeting"));
	itest_raw_wait_closed(r, ITEST_TIMEOUT_MS);
}

/* ---- Greeting names ---- */

static void
test_greeting_names(ItestFixture *f, gconstpointer data)
{
	g_autofree gchar *longest = g_strnfill(255, 'n');
	/* name;version;env-info, the C# form, no version, extra segments, empty, 255 bytes,
	 * multi-byte UTF-8 */
	const gchar *names[] = {
	        "demo:1.0;1.1.5",
	        "demo:1.0;1.1.5;prod-eu",
	        "MyApp;ClientVersion:1.3.15.0",
	        "only-a-name",
	        "a;b;c;d;e",
	        ";;",
	        "",
	        longest,
	        "имя;версия;среда",
	};
	g_autoptr(ItestRaw) raw_rust = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) raw_csharp = itest_raw_connect(f->broker);

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
		g_autofree gchar *text = NULL;
		const gchar *contents[] = {"x"};

		itest_raw_greet(r, names[i], 3, 1);
		itest_raw_sync(r);
		/* the session exists: a Publish is answered (here with a Reject) */
		itest_raw_publish(r, "missing", i, contents, 1, FALSE);
		text = itest_raw_expect_reject(r);
		g_assert_cmpstr(text, ==, "TopicNotFound { topic_id: \"missing\" }");
		itest_raw_sync(r);
	}

	/* the literal §11.1 Greetings */
	itest_raw_send_hex(raw_rust, ITEST_HEX_GREETING_RUST);
	itest_raw_assume(raw_rust, 3, -1);
	itest_raw_send_hex(raw_rust, ITEST_HEX_PUBLISH_P3);
	{
		g_autoptr(ItestPacket) p = itest_raw_expect(raw_rust, MSB_PACKET_REJECT);
		itest_assert_bytes_hex(p->raw, ITEST_HEX_REJECT_ORDERS);
	}
	itest_raw_send_hex(raw_csharp, ITEST_HEX_GREETING_CSHARP);
	itest_raw_assume(raw_csharp, 2, -1);
	itest_raw_send_hex(raw_csharp, ITEST_HEX_PUBLISH_P2);
	{
		g_autoptr(ItestPacket) p = itest_raw_expect(raw_csharp, MSB_PACKET_REJECT);
		itest_assert_bytes_hex(p->raw, ITEST_HEX_REJECT_ORDERS);
	}
}

/* The session greeted with @name in /api/status, or NULL. */
static JsonObject *
find_session(JsonNode *status, const gchar *name)
{
	JsonArray *items = json_object_get_array_member(
	        json_object_get_object_member(json_node_get_object(status), "sessions"), "items");

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *s = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(s, "name"), name) == 0)
			return s;
	}
	return NULL;
}

static void
assert_member(JsonObject *o, const gchar *member, const gchar *expect)
{
	if (expect == NULL)
		g_assert_true(json_object_get_null_member(o, member));
	else
		g_assert_cmpstr(json_object_get_string_member(o, member), ==, expect);
}

static void
test_greeting_name_parts(ItestFixture *f, gconstpointer data)
{
	/* the name is split on ';' into name, version and environment info (protocol.md §5.2) */
	const struct {
		const gchar *greeting;
		gint32 protocol;
		const gchar *name;
		const gchar *version;
		const gchar *env_info;
		const gchar *type;
	} cases[] = {
	        {"demo:1.0;1.1.5;prod-eu", 3, "demo:1.0", "1.1.5", "prod-eu", "tcp[3]"},
	        {"MyApp;ClientVersion:1.3.15.0", 2, "MyApp", "ClientVersion:1.3.15.0", NULL,
	         "tcp[2]"},
	        {"only-a-name", 3, "only-a-name", NULL, NULL, "tcp[3]"},
	        {"first;second;third;fourth", 4, "first", "second", "third;fourth", "tcp[3]"},
	};
	ItestRaw *raws[G_N_ELEMENTS(cases)];
	g_autoptr(JsonNode) status = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		raws[i] = itest_raw_connect(f->broker);
		itest_raw_greet(raws[i], cases[i].greeting, cases[i].protocol, 1);
		itest_raw_sync(raws[i]);
	}
	status = itest_broker_get_json(f->broker, "/api/status?fresh=true");
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		JsonObject *s = find_session(status, cases[i].name);

		g_assert_nonnull(s);
		assert_member(s, "version", cases[i].version);
		assert_member(s, "envInfo", cases[i].env_info);
		assert_member(s, "type", cases[i].type);
		itest_raw_free(raws[i]);
	}
}

/* ---- a Rust client's connection start (§11.11) ---- */

static void
test_rust_connection_start(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autoptr(ItestPacket) response = NULL;
	g_autoptr(ItestPacket) batch = NULL;
	g_autoptr(ItestPacket) next = NULL;

	/* Greeting ‖ PacketVersions ‖ CreateTopicIfNotExists ‖ Subscribe in one burst */
	itest_raw_send_hex(r, ITEST_HEX_GREETING_RUST ITEST_HEX_PACKET_VERSIONS
	                              ITEST_HEX_CREATE_ORDERS ITEST_HEX_SUBSCRIBE_ORDERS_BILLING);
	itest_raw_assume(r, 3, 1);
	itest_raw_send_hex(r, ITEST_HEX_PUBLISH_P3);
	response = itest_raw_expect(r, MSB_PACKET_PUBLISH_RESPONSE);
	itest_assert_bytes_hex(response->raw, ITEST_HEX_PUBLISH_RESPONSE_1);

	/* ids 0 and 1 of the new topic, to the first subscriber of this broker (id 0), in the
	 * P = 3 layout of §11.6 */
	batch = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);
	itest_assert_bytes_hex(batch->raw,
	                       "07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67"
	                       " 00 00 00 00 00 00 00 00"             /* confirmation id 0 */
	                       " 02 00 00 00"                         /* 2 messages */
	                       " 00 00 00 00 00 00 00 00 00 00 00 00" /* id 0, attempt 0 */
	                       " 01 08 74 72 61 63 65 2D 69 64 03 61 62 63 02 00 00 00 68 69"
	                       " 01 00 00 00 00 00 00 00 00 00 00 00" /* id 1, attempt 0 */
	                       " 00 03 00 00 00 01 02 03");
	/* §11.7 All OK for confirmation id 0 */
	itest_raw_send_hex(
	        r, "08 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 00 00 00 00 00 00 00 00");
	itest_raw_sync(r);
	/* confirmed: the next publish brings only id 2 */
	{
		const gchar *contents[] = {"third"};
		itest_raw_publish(r, "orders", 2, contents, 1, FALSE);
	}
	itest_raw_expect_publish_response(r, 2);
	next = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(next->messages->len, ==, 1);
	g_assert_cmpint(itest_packet_message(next, 0)->id, ==, 2);
	g_assert_cmpint(itest_packet_message(next, 0)->attempt, ==, 0);
}

/* ---- PacketVersions before Greeting is lost ---- */

static void
test_packet_versions_before_greeting(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) pub = itest_raw_connect(f->broker);
	g_autoptr(ItestRaw) sub = itest_raw_connect(f->broker);
	g_autoptr(ItestPacket) batch = NULL;

	itest_raw_greet(pub, "publisher", 3, 1);
	itest_raw_create_topic(pub, "orders");
	itest_raw_sync(pub);

	/* {7 → 1} before Greeting is not stored (protocol.md §4.2): deliveries use V7 = 0 */
	itest_raw_send_hex(sub, ITEST_HEX_PACKET_VERSIONS ITEST_HEX_GREETING_CSHARP);
	itest_raw_assume(sub, 2, 0);
	itest_raw_send_hex(sub, ITEST_HEX_SUBSCRIBE_ORDERS_BILLING);
	itest_raw_sync(sub);

	itest_raw_send_hex(pub, ITEST_HEX_PUBLISH_P3);
	itest_raw_expect_publish_response(pub, 1);
	batch = itest_raw_expect(sub, MSB_PACKET_NEW_MESSAGES);
	/* the §11.6 V7 = 0 layout (no attempt, no headers), confirmation id 0, ids 0 and 1 */
	itest_assert_bytes_hex(batch->raw, "07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67"
	                                   " 00 00 00 00 00 00 00 00 02 00 00 00"
	                                   " 00 00 00 00 00 00 00 00 02 00 00 00 68 69"
	                                   " 01 00 00 00 00 00 00 00 03 00 00 00 01 02 03");
}

/* ---- Rejects ---- */

static void
test_reject_publish_missing_topic(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autoptr(ItestPacket) reject = NULL;

	itest_raw_send_hex(r, ITEST_HEX_GREETING_RUST ITEST_HEX_PACKET_VERSIONS);
	itest_raw_assume(r, 3, 1);
	itest_raw_send_hex(r, ITEST_HEX_PUBLISH_P3);
	/* exactly the 38 bytes of §11.9, and nothing before or after it */
	reject = itest_raw_expect(r, MSB_PACKET_REJECT);
	itest_assert_bytes_hex(reject->raw, ITEST_HEX_REJECT_ORDERS);
	itest_raw_assert_quiet(r);

	/* the connection is kept and works */
	itest_raw_send_hex(r, ITEST_HEX_CREATE_ORDERS ITEST_HEX_PUBLISH_P3);
	itest_raw_expect_publish_response(r, 1);
}

static void
test_reject_subscribe(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autofree gchar *missing = NULL;
	g_autofree gchar *duplicate = NULL;
	g_autoptr(ItestPacket) batch = NULL;
	const gchar *contents[] = {"once"};

	itest_raw_greet(r, "subscriber", 3, 1);
	itest_raw_subscribe(r, "nope", "q", 0);
	missing = itest_raw_expect_reject(r);
	g_assert_cmpstr(missing, ==,
	                "Subscribe to nope/q failed: TopicNotFound { topic_id: \"nope\" }");
	itest_raw_sync(r);

	itest_raw_create_topic(r, "nope");
	itest_raw_subscribe(r, "nope", "q", 0);
	itest_raw_assert_quiet(r);
	itest_raw_subscribe(r, "nope", "q", 1);
	duplicate = itest_raw_expect_reject(r);
	g_assert_true(g_str_has_prefix(duplicate, "Subscribe to nope/q failed"));
	g_assert_nonnull(strstr(duplicate, "already subscribed"));
	itest_raw_sync(r);

	/* the first subscription is intact and there is only one: one batch, one message */
	itest_raw_publish(r, "nope", 1, contents, 1, FALSE);
	itest_raw_expect_publish_response(r, 1);
	batch = itest_raw_expect(r, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(batch->messages->len, ==, 1);
	itest_raw_assert_quiet(r);
}

static void
test_reject_confirm_unknown(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	const gint64 ids[] = {0};

	itest_raw_greet(r, "confirmer", 3, 1);
	itest_raw_create_topic(r, "known");
	itest_raw_subscribe(r, "known", "q", 0);
	itest_raw_sync(r);

	/* every confirmation kind, for an unknown topic and for an unknown queue */
	for (guint kind = 0; kind < 4; kind++) {
		for (guint unknown_queue = 0; unknown_queue < 2; unknown_queue++) {
			const gchar *topic = unknown_queue ? "known" : "unknown";
			const gchar *queue = unknown_queue ? "no-queue" : "q";
			g_autofree gchar *text = NULL;
			g_autofree gchar *expect = NULL;

			if (kind < 2)
				itest_raw_confirm(r, kind == 0, topic, queue, 0);
			else
				itest_raw_confirm_ids(r, kind == 3, topic, queue, 0, ids, 1);
			text = itest_raw_expect_reject(r);
			expect = unknown_queue
			                 ? g_strdup("Confirm for known/no-queue failed: "
			                            "QueueNotFound { "
			                            "queue_id: \"no-queue\" }")
			                 : g_strdup("Confirm for unknown/q failed: TopicNotFound { "
			                            "topic_id: \"unknown\" }");
			g_assert_cmpstr(text, ==, expect);
			itest_raw_sync(r);
		}
	}
	/* a known queue with nothing in flight: ignored, no Reject */
	itest_raw_confirm(r, TRUE, "known", "q", 0);
	itest_raw_confirm(r, TRUE, "known", "q", 12345);
	itest_raw_assert_quiet(r);
}

static void
assert_reject_capped(ItestPacket *p)
{
	gsize len = 0;
	const guint8 *raw = g_bytes_get_data(p->raw, &len);

	g_assert_cmpint(p->id, ==, MSB_PACKET_REJECT);
	g_assert_cmpuint(len, ==, 2 + raw[1]);
	/* the long name made the text longer than a pstr holds: cut to ≤ 255 bytes on a
	 * character boundary */
	g_assert_cmpuint(raw[1], >=, 250);
	g_assert_true(g_utf8_validate(p->text, -1, NULL));
	g_assert_cmpuint(strlen(p->text), ==, raw[1]);
}

static void
test_reject_capped(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autoptr(GString) name = g_string_new(NULL);
	g_autoptr(ItestPacket) sub_reject = NULL;
	g_autoptr(ItestPacket) pub_reject = NULL;
	const gchar *contents[] = {"x"};

	/* 127 two-byte characters and one byte: 255 bytes, the longest pstr */
	for (guint i = 0; i < 127; i++)
		g_string_append(name, "é");
	g_string_append_c(name, 'a');
	g_assert_cmpuint(name->len, ==, 255);

	itest_raw_greet(r, "long-names", 3, 1);
	itest_raw_subscribe(r, name->str, name->str, 0);
	sub_reject = itest_raw_expect(r, MSB_PACKET_REJECT);
	assert_reject_capped(sub_reject);
	g_assert_true(g_str_has_prefix(sub_reject->text, "Subscribe to "));

	itest_raw_publish(r, name->str, 1, contents, 1, FALSE);
	pub_reject = itest_raw_expect(r, MSB_PACKET_REJECT);
	assert_reject_capped(pub_reject);
	g_assert_true(g_str_has_prefix(pub_reject->text, "TopicNotFound { topic_id: \""));
	itest_raw_sync(r);
}

/* ---- the C# CreateTopicIfNotExists ---- */

static void
test_csharp_create_topic(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	g_autoptr(ItestPacket) response = NULL;

	itest_raw_send_hex(r, ITEST_HEX_GREETING_CSHARP ITEST_HEX_PACKET_VERSIONS);
	itest_raw_assume(r, 2, 1);
	/* topic only, then the eight zero bytes are eight Pings: eight one-byte Pongs */
	itest_raw_send_hex(r, ITEST_HEX_CREATE_ORDERS_CSHARP);
	for (guint i = 0; i < 8; i++) {
		g_autoptr(ItestPacket) p = itest_raw_expect(r, MSB_PACKET_PONG);
		itest_assert_bytes_hex(p->raw, "01");
	}
	itest_raw_assert_quiet(r);
	/* and the topic exists */
	itest_raw_send_hex(r, ITEST_HEX_PUBLISH_P2);
	response = itest_raw_expect(r, MSB_PACKET_PUBLISH_RESPONSE);
	itest_assert_bytes_hex(response->raw, ITEST_HEX_PUBLISH_RESPONSE_1);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/session/ping-pong", NULL, test_ping_pong);
	ITEST_ADD("/session/before-greeting", NULL, test_before_greeting);
	ITEST_ADD("/session/protocol-versions-refused", NULL, test_protocol_versions_refused);
	ITEST_ADD("/session/protocol-versions-accepted", NULL, test_protocol_versions_accepted);
	ITEST_ADD("/session/second-greeting", NULL, test_second_greeting);
	ITEST_ADD("/session/greeting-names", NULL, test_greeting_names);
	ITEST_ADD("/session/greeting-name-parts", NULL, test_greeting_name_parts);
	ITEST_ADD("/session/rust-connection-start", NULL, test_rust_connection_start);
	ITEST_ADD("/session/packet-versions-before-greeting", NULL,
	          test_packet_versions_before_greeting);
	ITEST_ADD("/session/reject/publish-missing-topic", NULL, test_reject_publish_missing_topic);
	ITEST_ADD("/session/reject/subscribe", NULL, test_reject_subscribe);
	ITEST_ADD("/session/reject/confirm-unknown", NULL, test_reject_confirm_unknown);
	ITEST_ADD("/session/reject/capped", NULL, test_reject_capped);
	ITEST_ADD("/session/csharp-create-topic", NULL, test_csharp_create_topic);
	return g_test_run();
}
