/*
 * libFuzzer target for the REST API's bodies (src/node/msb-http-bodies.c): the JSON and form
 * bodies the broker decodes and the Await package JSON it writes.
 *
 * Input: a selector byte, then the body.
 *   selector bits 0-2: what the body goes through
 *     0 Publish, 1 Subscribe, 2 Confirm, 3 Topics/Persist: a JSON body, that decoder
 *     4 a form-urlencoded body, through all four decoders (the router accepts one anywhere)
 *     5 a JSON body, through all four decoders
 *     6 the Await package of the body decoded by the wire codec as a NewMessages packet (its
 *       id byte 7 implied), protocol version 3 (2 with bit 3 set, then V7 from bit 4)
 *     7 the Await package of messages built from the bytes without the wire codec: topic,
 *       queue and header blocks that are not UTF-8, hold NUL or are malformed
 *   bits 3-5 for Persist: the query has topicId (bit 3), persist (bit 4) = "true" or, with
 *     bit 5, "no"
 *   bit 3 for the other JSON bodies (0-2, 5): the body is its first byte repeated (second
 *     byte + 1) × 1024 times, then the rest, so that deep nesting and long runs are reached
 *
 * Oracles, each an abort:
 *   - a decoder fails with a GError in MSB_HTTP_ERROR (BAD_REQUEST) whose message is non-empty
 *     UTF-8, or succeeds without one and its values keep its rules: a Publish has one message
 *     per element, each content the exact decoding of its base64 (length and bytes) and each
 *     header block well formed with the very keys and values of the body; Subscribe names of
 *     1 to 255 bytes of UTF-8 and a queue type of the three HTTP ones; Confirm one entry per
 *     element, someOk exactly when ranges are there, every range 0 ≤ from ≤ to; Persist a topic
 *     from the body or the query and a true boolean;
 *   - the package is valid UTF-8, parses with json-glib and gives back the topic, queue,
 *     confirmation id, and per message the id, attempt, every header key and value and the
 *     content bytes exactly (bytes that are not UTF-8, and NUL, as U+FFFD each, as
 *     g_utf8_make_valid() writes them).
 */
#include <string.h>

#include "fuzz-common.h"
#include "msb-http-bodies.h"

enum {
	FUZZ_PUBLISH,
	FUZZ_SUBSCRIBE,
	FUZZ_CONFIRM,
	FUZZ_PERSIST,
	FUZZ_FORM_ALL,
	FUZZ_JSON_ALL,
	FUZZ_PACKAGE_WIRE,
	FUZZ_PACKAGE_RAW,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init_logging();
	return 0;
}

static void
fuzz_check_error(gboolean ok, const GError *error)
{
	if (ok) {
		FUZZ_CHECK(error == NULL);
		return;
	}
	FUZZ_CHECK(error != NULL);
	FUZZ_CHECK(error->domain == MSB_HTTP_ERROR);
	FUZZ_CHECK(error->code == MSB_HTTP_ERROR_BAD_REQUEST);
	FUZZ_CHECK(error->message != NULL && error->message[0] != '\0');
	FUZZ_CHECK(g_utf8_validate(error->message, -1, NULL));
}

/* A member by name in any case, written apart from the module's so as to check it. */
static JsonNode *
fuzz_member(JsonObject *obj, const gchar *name)
{
	g_autoptr(GList) members = json_object_get_members(obj);

	if (json_object_has_member(obj, name))
		return json_object_get_member(obj, name);
	for (GList *l = members; l != NULL; l = l->next) {
		if (g_ascii_strcasecmp(l->data, name) == 0)
			return json_object_get_member(obj, l->data);
	}
	return NULL;
}

static const gchar *
fuzz_string_member(JsonObject *obj, const gchar *name)
{
	JsonNode *node = fuzz_member(obj, name);

	FUZZ_CHECK(node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	           json_node_get_value_type(node) == G_TYPE_STRING);
	return json_node_get_string(node);
}

static void
fuzz_check_name(const gchar *name)
{
	gsize n;

	FUZZ_CHECK(name != NULL);
	n = strlen(name);
	FUZZ_CHECK(n >= 1 && n <= 255);
	FUZZ_CHECK(g_utf8_validate(name, (gssize)n, NULL));
}

static gboolean
fuzz_base64_char(gchar c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* @content must be what @text says in strict, padded base64. */
static void
fuzz_check_base64(const gchar *text, const guint8 *content, gsize content_len)
{
	gsize len = strlen(text);
	gsize pad = 0;
	g_autofree gchar *again = NULL;
	gsize last;

	FUZZ_CHECK(len % 4 == 0);
	while (pad < len && text[len - 1 - pad] == '=')
		pad++;
	FUZZ_CHECK(pad <= 2);
	for (gsize i = 0; i < len - pad; i++)
		FUZZ_CHECK(fuzz_base64_char(text[i]));
	FUZZ_CHECK(content_len == len / 4 * 3 - pad);
	/* encoded again: the same text, but for the unused low bits of the last character
	 * before the padding (RFC 4648 §3.5: decoders may accept them set) */
	again = g_base64_encode(content, content_len);
	FUZZ_CHECK(strlen(again) == len);
	last = pad > 0 ? len - pad - 1 : len;
	FUZZ_CHECK(memcmp(again, text, last) == 0);
	FUZZ_CHECK(memcmp(again + len - pad, text + len - pad, pad) == 0);
}

static void
fuzz_publish(JsonObject *body)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbHttpPublishBody) p = msb_http_bodies_decode_publish(body, &error);
	JsonArray *array;
	const guint8 *next;

	fuzz_check_error(p != NULL, error);
	if (p == NULL)
		return;
	array = json_node_get_array(fuzz_member(body, "messages"));
	FUZZ_CHECK(p->messages->len == json_array_get_length(array));
	FUZZ_CHECK(p->contents->len == p->messages->len);
	next = p->headers.data;
	for (guint i = 0; i < p->messages->len; i++) {
		const MsbWireMessage *m = &g_array_index(p->messages, MsbWireMessage, i);
		JsonObject *obj = json_array_get_object_element(array, i);
		JsonNode *hnode = fuzz_member(obj, "headers");
		JsonArray *harray = hnode != NULL && JSON_NODE_HOLDS_ARRAY(hnode)
		                            ? json_node_get_array(hnode)
		                            : NULL;
		guint n_pairs = harray != NULL ? json_array_get_length(harray) : 0;
		gsize at = 1;

		fuzz_check_base64(fuzz_string_member(obj, "base64Message"), m->content,
		                  m->content_len);
		/* the blocks follow each other in the one buffer */
		FUZZ_CHECK(m->headers == next);
		FUZZ_CHECK(m->headers_len >= 1 && m->headers[0] == n_pairs);
		FUZZ_CHECK(m->n_headers == n_pairs);
		next += m->headers_len;
		FUZZ_CHECK(next <= p->headers.data + p->headers.len);
		for (guint j = 0; j < n_pairs; j++) {
			JsonObject *h = json_array_get_object_element(harray, j);
			const gchar *want[2] = {fuzz_string_member(h, "key"),
			                        fuzz_string_member(h, "value")};

			for (guint s = 0; s < 2; s++) {
				gsize n;

				FUZZ_CHECK(at < m->headers_len);
				n = m->headers[at++];
				FUZZ_CHECK(n <= m->headers_len - at);
				FUZZ_CHECK(n == strlen(want[s]));
				FUZZ_CHECK(memcmp(m->headers + at, want[s], n) == 0);
				FUZZ_CHECK(g_utf8_validate((const gchar *)m->headers + at,
				                           (gssize)n, NULL));
				at += n;
			}
		}
		FUZZ_CHECK(at == m->headers_len);
	}
	if (p->messages->len > 0)
		FUZZ_CHECK(next == p->headers.data + p->headers.len);
	else
		FUZZ_CHECK(p->headers.len == 0);
}

static void
fuzz_subscribe(JsonObject *body)
{
	g_autoptr(GError) error = NULL;
	MsbHttpSubscribeBody s = {NULL, NULL, 0xff};
	gboolean ok = msb_http_bodies_decode_subscribe(body, &s, &error);

	fuzz_check_error(ok, error);
	if (!ok)
		return;
	fuzz_check_name(s.topic);
	fuzz_check_name(s.queue);
	FUZZ_CHECK(g_strcmp0(s.topic, fuzz_string_member(body, "topicId")) == 0);
	FUZZ_CHECK(g_strcmp0(s.queue, fuzz_string_member(body, "queueId")) == 0);
	FUZZ_CHECK(s.queue_type == MSB_QUEUE_TYPE_PERMANENT ||
	           s.queue_type == MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT ||
	           s.queue_type == MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION);
	FUZZ_CHECK(msb_queue_type_from_wire(s.queue_type) == s.queue_type);
}

static void
fuzz_confirm(JsonObject *body)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) entries = msb_http_bodies_decode_confirm(body, &error);
	JsonArray *array;

	fuzz_check_error(entries != NULL, error);
	if (entries == NULL)
		return;
	array = json_node_get_array(fuzz_member(body, "confirmation"));
	FUZZ_CHECK(entries->len == json_array_get_length(array));
	for (guint i = 0; i < entries->len; i++) {
		const MsbHttpConfirmEntry *e = &g_array_index(entries, MsbHttpConfirmEntry, i);
		JsonObject *obj = json_array_get_object_element(array, i);

		fuzz_check_name(e->topic);
		fuzz_check_name(e->queue);
		FUZZ_CHECK(g_strcmp0(e->topic, fuzz_string_member(obj, "topicId")) == 0);
		FUZZ_CHECK(g_strcmp0(e->queue, fuzz_string_member(obj, "queueId")) == 0);
		FUZZ_CHECK(e->kind == MSB_HTTP_CONFIRM_ALL_OK ||
		           e->kind == MSB_HTTP_CONFIRM_ALL_FAIL ||
		           e->kind == MSB_HTTP_CONFIRM_SOME_OK);
		FUZZ_CHECK((e->kind == MSB_HTTP_CONFIRM_SOME_OK) == (e->ranges != NULL));
		if (e->ranges == NULL)
			continue;
		FUZZ_CHECK(e->ranges->len ==
		           json_array_get_length(json_node_get_array(fuzz_member(obj, "someOk"))));
		for (guint j = 0; j < e->ranges->len; j++) {
			const MsbWireRange *r = &g_array_index(e->ranges, MsbWireRange, j);
			FUZZ_CHECK(r->from_id >= 0 && r->from_id <= r->to_id);
		}
	}
}

static void
fuzz_persist(JsonObject *body, guint8 selector)
{
	const gchar *query_topic = (selector & 0x08) != 0 ? "query-topic" : NULL;
	const gchar *query_persist =
	        (selector & 0x10) != 0 ? ((selector & 0x20) != 0 ? "no" : "true") : NULL;
	g_autoptr(GError) error = NULL;
	const gchar *topic = NULL;
	gboolean persist = 7;
	JsonNode *node;
	gboolean ok = msb_http_bodies_decode_persist(body, query_topic, query_persist, &topic,
	                                             &persist, &error);

	fuzz_check_error(ok, error);
	if (!ok)
		return;
	FUZZ_CHECK(topic != NULL);
	FUZZ_CHECK(persist == TRUE || persist == FALSE);
	node = body != NULL ? json_object_get_member(body, "persist") : NULL;
	if (node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	    json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
		FUZZ_CHECK(persist == json_node_get_boolean(node));
	} else {
		const gchar *text = node != NULL ? json_node_get_string(node) : query_persist;
		FUZZ_CHECK(text != NULL);
		FUZZ_CHECK(persist == (g_ascii_strcasecmp(text, "true") == 0));
		FUZZ_CHECK(persist || g_ascii_strcasecmp(text, "false") == 0);
	}
	if (body == NULL || !json_object_has_member(body, "topicId")) {
		FUZZ_CHECK(topic == query_topic);
	} else {
		node = json_object_get_member(body, "topicId");
		FUZZ_CHECK(json_node_get_value_type(node) == G_TYPE_STRING);
		FUZZ_CHECK(topic == json_node_get_string(node));
	}
}

static void
fuzz_decoders(JsonObject *body, guint kind, guint8 selector)
{
	if (kind == FUZZ_PUBLISH || kind > FUZZ_PERSIST)
		fuzz_publish(body);
	if (kind == FUZZ_SUBSCRIBE || kind > FUZZ_PERSIST)
		fuzz_subscribe(body);
	if (kind == FUZZ_CONFIRM || kind > FUZZ_PERSIST)
		fuzz_confirm(body);
	if (kind == FUZZ_PERSIST || kind > FUZZ_PERSIST)
		fuzz_persist(body, selector);
}

/* ---- the package ---- */

static void
fuzz_check_string(JsonObject *obj, const gchar *name, const gchar *raw, gsize len)
{
	g_autofree gchar *want = g_utf8_make_valid(raw != NULL ? raw : "", (gssize)len);
	JsonNode *node = json_object_get_member(obj, name);

	FUZZ_CHECK(node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	           json_node_get_value_type(node) == G_TYPE_STRING);
	FUZZ_CHECK(strcmp(json_node_get_string(node), want) == 0);
}

static void
fuzz_check_int(JsonObject *obj, const gchar *name, gint64 want)
{
	JsonNode *node = json_object_get_member(obj, name);

	FUZZ_CHECK(node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	           json_node_get_value_type(node) == G_TYPE_INT64);
	FUZZ_CHECK(json_node_get_int(node) == want);
}

static void
fuzz_package(const MsbPacket *packet)
{
	g_autofree gchar *json = msb_http_bodies_write_package(packet);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonObject *root;
	JsonNode *node;
	JsonArray *messages;

	FUZZ_CHECK(json != NULL);
	FUZZ_CHECK(g_utf8_validate(json, -1, NULL));
	if (!json_parser_load_from_data(parser, json, -1, &error)) {
		fprintf(stderr, "fuzz-http-json: the package is not JSON: %s\n%s\n", error->message,
		        json);
		FUZZ_CHECK(FALSE);
	}
	node = json_parser_get_root(parser);
	FUZZ_CHECK(node != NULL && JSON_NODE_HOLDS_OBJECT(node));
	root = json_node_get_object(node);
	FUZZ_CHECK(json_object_get_size(root) == 4);
	fuzz_check_string(root, "topic_id", packet->new_messages.topic.str,
	                  packet->new_messages.topic.len);
	fuzz_check_string(root, "queue_id", packet->new_messages.queue.str,
	                  packet->new_messages.queue.len);
	fuzz_check_int(root, "confirmation_id", packet->new_messages.confirmation_id);
	node = json_object_get_member(root, "messages");
	FUZZ_CHECK(node != NULL && JSON_NODE_HOLDS_ARRAY(node));
	messages = json_node_get_array(node);
	FUZZ_CHECK(json_array_get_length(messages) == packet->new_messages.n_messages);
	for (guint i = 0; i < packet->new_messages.n_messages; i++) {
		const MsbWireMessage *m = &packet->new_messages.messages[i];
		JsonNode *mnode = json_array_get_element(messages, i);
		JsonObject *obj;
		JsonArray *headers;
		g_autofree guchar *content = NULL;
		gsize content_len = 0;
		guint n = 0;
		gsize at = 1;

		FUZZ_CHECK(JSON_NODE_HOLDS_OBJECT(mnode));
		obj = json_node_get_object(mnode);
		FUZZ_CHECK(json_object_get_size(obj) == 4);
		fuzz_check_int(obj, "id", m->id);
		fuzz_check_int(obj, "attempt_no", m->attempt);
		node = json_object_get_member(obj, "headers");
		FUZZ_CHECK(node != NULL && JSON_NODE_HOLDS_ARRAY(node));
		headers = json_node_get_array(node);
		/* the pairs that lie whole inside the block, as far as they go */
		while (at < m->headers_len) {
			gsize klen = m->headers[at];
			gsize vlen;
			JsonNode *h;

			if (m->headers_len - at - 1 < klen + 1)
				break;
			vlen = m->headers[at + 1 + klen];
			if (m->headers_len - at - 2 - klen < vlen)
				break;
			FUZZ_CHECK(n < json_array_get_length(headers));
			h = json_array_get_element(headers, n);
			FUZZ_CHECK(JSON_NODE_HOLDS_OBJECT(h));
			FUZZ_CHECK(json_object_get_size(json_node_get_object(h)) == 2);
			fuzz_check_string(json_node_get_object(h), "key",
			                  (const gchar *)m->headers + at + 1, klen);
			fuzz_check_string(json_node_get_object(h), "value",
			                  (const gchar *)m->headers + at + 2 + klen, vlen);
			at += 2 + klen + vlen;
			n++;
		}
		FUZZ_CHECK(n == json_array_get_length(headers));
		node = json_object_get_member(obj, "content");
		FUZZ_CHECK(node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
		           json_node_get_value_type(node) == G_TYPE_STRING);
		FUZZ_CHECK(strlen(json_node_get_string(node)) == (m->content_len + 2) / 3 * 4);
		content = g_base64_decode(json_node_get_string(node), &content_len);
		FUZZ_CHECK(content_len == m->content_len);
		FUZZ_CHECK(content_len == 0 || memcmp(content, m->content, content_len) == 0);
	}
}

/* @body as a NewMessages packet without its id byte, as the wire codec decodes it. */
static void
fuzz_package_wire(const guint8 *body, gsize len, guint8 selector)
{
	g_autofree guint8 *bytes = g_malloc(len + 1);
	g_autoptr(GError) error = NULL;
	MsbWireDecoder dec;
	MsbPacket packet;
	gsize consumed = 0;

	bytes[0] = MSB_PACKET_NEW_MESSAGES;
	if (len > 0)
		memcpy(bytes + 1, body, len);
	msb_wire_decoder_init(&dec, len + 1);
	dec.protocol_version = (selector & 0x08) != 0 ? 2 : MSB_WIRE_PROTOCOL_MAX;
	dec.new_messages_version = (selector & 0x10) != 0 ? 1 : 0;
	if (msb_wire_decode(&dec, bytes, len + 1, &packet, &consumed, &error) ==
	    MSB_WIRE_DECODE_OK) {
		FUZZ_CHECK(packet.id == MSB_PACKET_NEW_MESSAGES);
		fuzz_package(&packet);
	}
	msb_wire_decoder_clear(&dec);
}

/* Takes a u8-length-prefixed run of bytes from @*p (as many as there are). */
static const guint8 *
fuzz_take_bytes(const guint8 **p, const guint8 *end, gsize *len)
{
	const guint8 *at;
	gsize n;

	if (*p >= end) {
		*len = 0;
		return *p;
	}
	n = **p;
	*p += 1;
	n = MIN(n, (gsize)(end - *p));
	at = *p;
	*p += n;
	*len = n;
	return at;
}

/*
 * @body as raw fields: topic and queue (u8 length + bytes), the confirmation id (u16), then
 * messages while bytes remain: id (u16), attempt (u8), a header block (u16 length + bytes) and
 * the content (u8 length + bytes).
 */
static void
fuzz_package_raw(const guint8 *body, gsize len)
{
	const guint8 *p = body;
	const guint8 *end = body + len;
	g_autoptr(GArray) messages = g_array_new(FALSE, TRUE, sizeof(MsbWireMessage));
	MsbPacket packet = {.id = MSB_PACKET_NEW_MESSAGES};
	gsize n;

	packet.new_messages.topic.str = (const gchar *)fuzz_take_bytes(&p, end, &n);
	packet.new_messages.topic.len = (guint8)n;
	packet.new_messages.queue.str = (const gchar *)fuzz_take_bytes(&p, end, &n);
	packet.new_messages.queue.len = (guint8)n;
	packet.new_messages.confirmation_id = (gint64)fuzz_take_u16(&p, end) - 30000;
	while (p < end) {
		MsbWireMessage m = {0};
		guint hlen;

		/* 0 to -1, through G_MININT64 and G_MAXINT64 */
		m.id = (gint64)((guint64)fuzz_take_u16(&p, end) *
		                G_GUINT64_CONSTANT(0x0001000100010001));
		m.attempt = p < end ? (gint32)*p++ - 1 : 0;
		/* not inside MIN(), which evaluates it twice */
		hlen = fuzz_take_u16(&p, end);
		hlen = MIN(hlen, (guint)(end - p));
		m.headers = hlen > 0 ? p : NULL;
		m.headers_len = hlen;
		m.n_headers = hlen > 0 ? p[0] : 0;
		p += hlen;
		m.content = fuzz_take_bytes(&p, end, &m.content_len);
		g_array_append_val(messages, m);
	}
	packet.new_messages.n_messages = messages->len;
	packet.new_messages.messages = (const MsbWireMessage *)messages->data;
	fuzz_package(&packet);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const guint8 *body;
	gsize len;
	guint kind;

	if (size < 1)
		return 0;
	kind = data[0] & 0x07;
	body = data + 1;
	len = size - 1;
	switch (kind) {
	case FUZZ_PACKAGE_WIRE:
		fuzz_package_wire(body, len, data[0]);
		break;
	case FUZZ_PACKAGE_RAW:
		fuzz_package_raw(body, len);
		break;
	case FUZZ_FORM_ALL: {
		g_autoptr(JsonObject) obj = msb_http_bodies_parse_form((const gchar *)body, len);
		JsonObjectIter iter;
		JsonNode *member;

		FUZZ_CHECK(obj != NULL);
		json_object_iter_init(&iter, obj);
		while (json_object_iter_next(&iter, NULL, &member))
			FUZZ_CHECK(JSON_NODE_HOLDS_VALUE(member) &&
			           json_node_get_value_type(member) == G_TYPE_STRING);
		fuzz_decoders(obj, kind, data[0]);
		break;
	}
	default: {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonObject) obj = NULL;
		g_autofree gchar *repeated = NULL;

		if (kind != FUZZ_PERSIST && (data[0] & 0x08) != 0 && len >= 2) {
			gsize n = ((gsize)body[1] + 1) * 1024;

			repeated = g_malloc(n + len - 2);
			memset(repeated, body[0], n);
			memcpy(repeated + n, body + 2, len - 2);
			body = (const guint8 *)repeated;
			len = n + len - 2;
		}
		obj = msb_http_bodies_parse_json((const gchar *)body, len, &error);

		fuzz_check_error(obj != NULL, error);
		if (obj != NULL)
			fuzz_decoders(obj, kind, data[0]);
		/* Persist also runs without a body: the query alone */
		if (kind == FUZZ_PERSIST && len == 0)
			fuzz_persist(NULL, data[0]);
		break;
	}
	}
	return 0;
}
