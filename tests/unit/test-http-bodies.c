/*
 * MsbHttpBodies without a server: every body the REST API decodes, good and bad (each error
 * message, word for word, since it is what a client reads), and the Await package JSON, parsed
 * back with json-glib.
 */
#include <string.h>

#include "msb-http-bodies.h"

static JsonObject *
parse(const gchar *json)
{
	g_autoptr(GError) error = NULL;
	JsonObject *obj = msb_http_bodies_parse_json(json, strlen(json), &error);

	g_assert_no_error(error);
	g_assert_nonnull(obj);
	return obj;
}

static void
test_bodies_parse(void)
{
	static const struct {
		const gchar *body;
		const gchar *error; /* a prefix; NULL: parses */
	} cases[] = {
	        {"{}", NULL},
	        {"{\"topicId\": \"t\"}", NULL},
	        {"", "the body must be a JSON object"},
	        {"{\"a\":", "the body is not valid JSON: "},
	        {"[1,2]", "the body must be a JSON object"},
	        {"42", "the body must be a JSON object"},
	        {"null", "the body must be a JSON object"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonObject) obj =
		        msb_http_bodies_parse_json(cases[i].body, strlen(cases[i].body), &error);

		g_test_message("%s -> %s", cases[i].body, error != NULL ? error->message : "ok");
		if (cases[i].error == NULL) {
			g_assert_no_error(error);
			g_assert_nonnull(obj);
		} else {
			g_assert_null(obj);
			g_assert_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST);
			g_assert_true(g_str_has_prefix(error->message, cases[i].error));
		}
	}
	/* the length is what counts, not a NUL */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonObject) obj = msb_http_bodies_parse_json("{}garbage", 2, &error);
		g_assert_no_error(error);
		g_assert_nonnull(obj);
	}
}

/*
 * json-glib parses nesting by recursion without a limit: 100,000 '[' overflowed the stack. The
 * depth is checked first, with the string and comment rules json-glib has, so that no quote
 * hides brackets from the check.
 */
static void
test_bodies_parse_deep(void)
{
	static const gchar *const prefixes[] = {
	        "", "{\"a\": ", "\"x\" ", "'\"' ", "/* \" */ ", "# \"\n", "// \"\n", "[\"\\\"\", ",
	};
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++) {
		g_autoptr(GString) body = g_string_new(prefixes[i]);
		g_autoptr(JsonObject) none = NULL;

		/* arrays, or objects in objects */
		for (guint j = 0; j < 500000; j++)
			g_string_append(body, i % 2 == 0 ? "[" : "{\"a\":");
		g_clear_error(&error);
		none = msb_http_bodies_parse_json(body->str, body->len, &error);
		g_test_message("%s… -> %s", prefixes[i], error != NULL ? error->message : "ok");
		g_assert_null(none);
		g_assert_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST);
	}
	g_assert_cmpstr(error->message, ==,
	                "the body is not valid JSON: it nests deeper than 64 levels");

	/* 64 levels are fine, brackets in strings do not count, 65 are not */
	for (guint depth = 64; depth <= 65; depth++) {
		g_autoptr(GString) nested = g_string_new("{\"s\": \"[[[{{{\\\"[[\", \"a\": ");
		g_autoptr(JsonObject) obj = NULL;

		for (guint j = 1; j < depth; j++)
			g_string_append_c(nested, '[');
		for (guint j = 1; j < depth; j++)
			g_string_append_c(nested, ']');
		g_string_append_c(nested, '}');
		g_clear_error(&error);
		obj = msb_http_bodies_parse_json(nested->str, nested->len, &error);
		if (depth == 64) {
			g_assert_no_error(error);
			g_assert_nonnull(obj);
		} else {
			g_assert_null(obj);
			g_assert_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST);
			g_assert_cmpstr(
			        error->message, ==,
			        "the body is not valid JSON: it nests deeper than 64 levels");
		}
	}
}

/* json-glib quotes a bad string in its message cut at a byte count, which can split a character
 * (found by fuzz-http-json); the message is a text/plain answer and must stay UTF-8. */
static void
test_bodies_parse_message_utf8(void)
{
	g_autoptr(GString) body = g_string_new("{\"a\": \"");
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = NULL;

	for (guint i = 0; i < 28; i++)
		g_string_append_c(body, 'x');
	g_string_append(body, "\xc3\xa9, \"b\": 1}");
	obj = msb_http_bodies_parse_json(body->str, body->len, &error);
	g_assert_null(obj);
	g_assert_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST);
	g_test_message("%s", error->message);
	g_assert_true(g_str_has_prefix(error->message, "the body is not valid JSON: "));
	g_assert_true(g_utf8_validate(error->message, -1, NULL));
}

static void
test_bodies_form(void)
{
	const gchar *text = "topicId=t%202&persist=true&empty=&x=%FF";
	g_autoptr(JsonObject) obj = msb_http_bodies_parse_form(text, strlen(text));
	g_autoptr(JsonObject) none = msb_http_bodies_parse_form("", 0);

	g_assert_cmpstr(json_object_get_string_member(obj, "topicId"), ==, "t 2");
	g_assert_cmpstr(json_object_get_string_member(obj, "persist"), ==, "true");
	g_assert_cmpstr(json_object_get_string_member(obj, "empty"), ==, "");
	g_assert_cmpstr(json_object_get_string_member(obj, "x"), ==, "\xff");
	g_assert_cmpuint(json_object_get_size(none), ==, 0);
}

static void
test_bodies_check_name(void)
{
	g_autofree gchar *long_name = g_strnfill(256, 'a');
	g_autoptr(GError) error = NULL;

	g_assert_true(msb_http_bodies_check_name("topicId", "orders", NULL));
	long_name[255] = '\0';
	g_assert_true(msb_http_bodies_check_name("topicId", long_name, NULL));
	long_name[255] = 'a';
	g_assert_false(msb_http_bodies_check_name("topicId", long_name, &error));
	g_assert_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST);
	g_assert_cmpstr(error->message, ==, "'topicId' must be 1 to 255 bytes of UTF-8");
	g_clear_error(&error);
	g_assert_false(msb_http_bodies_check_name("queueId", "", &error));
	g_assert_cmpstr(error->message, ==, "'queueId' must be 1 to 255 bytes of UTF-8");
	g_clear_error(&error);
	g_assert_false(msb_http_bodies_check_name("name", "a\xc3", &error));
	g_assert_cmpstr(error->message, ==, "'name' must be 1 to 255 bytes of UTF-8");
}

static void
test_bodies_publish(void)
{
	g_autoptr(JsonObject) body = parse(
	        "{\"Messages\": [{\"headers\": [{\"key\": \"trace-id\", \"value\": \"abc\"}, "
	        "{\"KEY\": \"k\", \"Value\": \"\"}], \"base64Message\": \"aGk=\"}, "
	        "{\"headers\": null, \"BASE64MESSAGE\": \"\"}, {\"base64Message\": \"AQID\"}]}");
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbHttpPublishBody) p = msb_http_bodies_decode_publish(body, &error);
	const MsbWireMessage *m;
	MsbWireStr key;
	MsbWireStr value;
	gsize pos = 0;

	g_assert_no_error(error);
	g_assert_nonnull(p);
	g_assert_cmpuint(p->messages->len, ==, 3);
	m = &g_array_index(p->messages, MsbWireMessage, 0);
	g_assert_cmpmem(m->content, m->content_len, "hi", 2);
	g_assert_cmpuint(m->n_headers, ==, 2);
	g_assert_cmpuint(m->headers[0], ==, 2);
	g_assert_true(msb_wire_headers_next(m->headers, m->headers_len, &pos, &key, &value));
	g_assert_cmpmem(key.str, key.len, "trace-id", 8);
	g_assert_cmpmem(value.str, value.len, "abc", 3);
	g_assert_true(msb_wire_headers_next(m->headers, m->headers_len, &pos, &key, &value));
	g_assert_cmpmem(key.str, key.len, "k", 1);
	g_assert_cmpuint(value.len, ==, 0);
	g_assert_false(msb_wire_headers_next(m->headers, m->headers_len, &pos, &key, &value));
	/* no headers: a block of zero pairs, as a P 3 Publish carries */
	m = &g_array_index(p->messages, MsbWireMessage, 1);
	g_assert_cmpuint(m->content_len, ==, 0);
	g_assert_cmpuint(m->n_headers, ==, 0);
	g_assert_cmpuint(m->headers_len, ==, 1);
	g_assert_cmpuint(m->headers[0], ==, 0);
	m = &g_array_index(p->messages, MsbWireMessage, 2);
	g_assert_cmpmem(m->content, m->content_len, "\x01\x02\x03", 3);
	g_assert_cmpuint(m->headers_len, ==, 1);
	/* the blocks lie one after the other in one buffer */
	g_assert_true(g_array_index(p->messages, MsbWireMessage, 0).headers == p->headers.data);
	g_assert_cmpuint(p->headers.len, ==, 1 + 1 + 8 + 1 + 3 + 1 + 1 + 1 + 0 + 1 + 1);
}

typedef enum {
	KIND_PUBLISH,
	KIND_SUBSCRIBE,
	KIND_CONFIRM,
} Kind;

/* Decode @json as @kind and return the error message (NULL: accepted). */
static gchar *
decode_error(Kind kind, const gchar *json)
{
	g_autoptr(JsonObject) body = parse(json);
	g_autoptr(GError) error = NULL;
	gboolean ok = FALSE;

	if (kind == KIND_PUBLISH) {
		g_autoptr(MsbHttpPublishBody) p = msb_http_bodies_decode_publish(body, &error);
		ok = p != NULL;
	} else if (kind == KIND_SUBSCRIBE) {
		MsbHttpSubscribeBody s;
		ok = msb_http_bodies_decode_subscribe(body, &s, &error);
	} else {
		g_autoptr(GArray) entries = msb_http_bodies_decode_confirm(body, &error);
		ok = entries != NULL;
	}
	if (ok) {
		g_assert_no_error(error);
		return NULL;
	}
	g_assert_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST);
	return g_strdup(error->message);
}

static void
check_errors(Kind kind, const gchar *const (*cases)[2], guint n)
{
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *message = decode_error(kind, cases[i][0]);

		g_test_message("%s -> %s", cases[i][0], message);
		g_assert_cmpstr(message, ==, cases[i][1]);
	}
}

static void
test_bodies_publish_bad(void)
{
	g_autofree gchar *long_key = g_strnfill(256, 'k');
	g_autofree gchar *long_json = g_strdup_printf(
	        "{\"messages\": [{\"headers\": [{\"key\": \"%s\", \"value\": \"v\"}], "
	        "\"base64Message\": \"\"}]}",
	        long_key);
	g_autoptr(GString) many = g_string_new("{\"messages\": [{\"base64Message\": \"\", "
	                                       "\"headers\": [");
	const gchar *const cases[][2] = {
	        {"{}", "the body needs 'messages': [{\"headers\": [{\"key\": ..., \"value\": ...}] "
	               "or null, \"base64Message\": ...}]"},
	        {"{\"messages\": {}}", "the body needs 'messages': [{\"headers\": [{\"key\": ..., "
	                               "\"value\": ...}] or null, \"base64Message\": ...}]"},
	        {"{\"messages\": [{\"base64Message\": \"\"}, 3]}", "messages[1] must be an object"},
	        {"{\"messages\": [{}]}", "messages[0]: the body field 'base64Message' is required"},
	        {"{\"messages\": [{\"base64Message\": null}]}",
	         "messages[0]: the body field 'base64Message' is required"},
	        {"{\"messages\": [{\"base64Message\": 12}]}",
	         "messages[0]: the body field 'base64Message' must be a string"},
	        {"{\"messages\": [{\"base64Message\": [\"aGk=\"]}]}",
	         "messages[0]: the body field 'base64Message' must be a string"},
	        {"{\"messages\": [{\"base64Message\": \"aGk\"}]}",
	         "messages[0]: 'base64Message' is not valid base64 (RFC 4648, padded with '=')"},
	        {"{\"messages\": [{\"base64Message\": \"aG k\"}]}",
	         "messages[0]: 'base64Message' is not valid base64 (RFC 4648, padded with '=')"},
	        {"{\"messages\": [{\"base64Message\": \"a===\"}]}",
	         "messages[0]: 'base64Message' is not valid base64 (RFC 4648, padded with '=')"},
	        {"{\"messages\": [{\"base64Message\": \"aG-_\"}]}",
	         "messages[0]: 'base64Message' is not valid base64 (RFC 4648, padded with '=')"},
	        {"{\"messages\": [{\"base64Message\": \"\", \"headers\": {}}]}",
	         "messages[0].headers must be an array or null"},
	        {"{\"messages\": [{\"base64Message\": \"\", \"headers\": \"k=v\"}]}",
	         "messages[0].headers must be an array or null"},
	        {"{\"messages\": [{\"base64Message\": \"\", \"headers\": [1]}]}",
	         "messages[0].headers[0] must be {\"key\": string, \"value\": string}"},
	        {"{\"messages\": [{\"base64Message\": \"\"}, {\"base64Message\": \"\", "
	         "\"headers\": "
	         "[{\"key\": \"k\", \"value\": \"v\"}, {\"key\": \"k\"}]}]}",
	         "messages[1].headers[1] must be {\"key\": string, \"value\": string}"},
	        {"{\"messages\": [{\"base64Message\": \"\", \"headers\": [{\"key\": 1, \"value\": "
	         "\"v\"}]}]}",
	         "messages[0].headers[0] must be {\"key\": string, \"value\": string}"},
	};
	g_autofree gchar *message = NULL;
	g_autofree gchar *message_many = NULL;

	check_errors(KIND_PUBLISH, cases, G_N_ELEMENTS(cases));
	/* what the wire codec refuses, in its own words after the place */
	message = decode_error(KIND_PUBLISH, long_json);
	g_assert_cmpstr(message, ==,
	                "messages[0].headers: header key is 256 bytes long, the wire allows 255");
	for (guint i = 0; i < 256; i++)
		g_string_append_printf(many, "%s{\"key\": \"k\", \"value\": \"v\"}",
		                       i > 0 ? ", " : "");
	g_string_append(many, "]}]}");
	message_many = decode_error(KIND_PUBLISH, many->str);
	g_assert_cmpstr(message_many, ==,
	                "messages[0].headers: 256 header pairs, the wire allows 255");
}

static void
test_bodies_subscribe(void)
{
	static const struct {
		const gchar *type;
		MsbQueueType wire;
	} cases[] = {
	        {"0", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT},
	        {"1", MSB_QUEUE_TYPE_PERMANENT},
	        {"2", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION},
	        {"\"1\"", MSB_QUEUE_TYPE_PERMANENT},
	        {"\"deleteifnosubscribers\"", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT},
	        {"\"Permanent\"", MSB_QUEUE_TYPE_PERMANENT},
	        {"\"PermanentSingleSubscriber\"", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION},
	        {"\"DeleteOnDisconnect\"", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT},
	        {"\"PermanentWithSingleConnection\"", MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *json = g_strdup_printf(
		        "{\"TopicId\": \"orders\", \"queueid\": \"billing\", \"queueType\": %s}",
		        cases[i].type);
		g_autoptr(JsonObject) body = parse(json);
		g_autoptr(GError) error = NULL;
		MsbHttpSubscribeBody s = {NULL, NULL, 0xff};

		g_assert_true(msb_http_bodies_decode_subscribe(body, &s, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(s.topic, ==, "orders");
		g_assert_cmpstr(s.queue, ==, "billing");
		g_assert_cmpuint(s.queue_type, ==, cases[i].wire);
	}
}

static void
test_bodies_subscribe_bad(void)
{
	const gchar *type_error = "'queueType' must be DeleteIfNoSubscribers (0), Permanent (1) or "
	                          "PermanentSingleSubscriber (2)";
	const gchar *const cases[][2] = {
	        {"{\"queueId\": \"q\", \"queueType\": 1}", "the body field 'topicId' is required"},
	        {"{\"topicId\": 5, \"queueId\": \"q\", \"queueType\": 1}",
	         "the body field 'topicId' must be a string"},
	        {"{\"topicId\": \"\", \"queueId\": \"q\", \"queueType\": 1}",
	         "'topicId' must be 1 to 255 bytes of UTF-8"},
	        {"{\"topicId\": \"t\", \"queueType\": 1}", "the body field 'queueId' is required"},
	        {"{\"topicId\": \"t\", \"queueId\": true, \"queueType\": 1}",
	         "the body field 'queueId' must be a string"},
	        {"{\"topicId\": \"t\", \"queueId\": \"\", \"queueType\": 1}",
	         "'queueId' must be 1 to 255 bytes of UTF-8"},
	        {"{\"topicId\": \"t\", \"queueId\": \"q\"}", type_error},
	        {"{\"topicId\": \"t\", \"queueId\": \"q\", \"queueType\": 3}", type_error},
	        {"{\"topicId\": \"t\", \"queueId\": \"q\", \"queueType\": -1}", type_error},
	        {"{\"topicId\": \"t\", \"queueId\": \"q\", \"queueType\": 1.0}", type_error},
	        {"{\"topicId\": \"t\", \"queueId\": \"q\", \"queueType\": \"Temporary\"}",
	         type_error},
	        {"{\"topicId\": \"t\", \"queueId\": \"q\", \"queueType\": null}", type_error},
	};

	check_errors(KIND_SUBSCRIBE, cases, G_N_ELEMENTS(cases));
}

static void
test_bodies_confirm(void)
{
	g_autoptr(JsonObject) body = parse(
	        "{\"confirmation\": [{\"topicId\": \"t\", \"queueId\": \"q\", \"subscriberId\": 7, "
	        "\"allOk\": true}, {\"topicId\": \"t\", \"queueId\": \"q\", \"subscriberId\": "
	        "\"-8\", \"allFail\": \"TRUE\", \"allOk\": null}, {\"topicId\": \"t2\", "
	        "\"queueId\": \"q2\", \"subscriberId\": 9, \"allOk\": false, \"someOk\": "
	        "[{\"fromId\": 0, \"toId\": \"5\"}, {\"FROMID\": \"9\", \"toid\": 9}]}, "
	        "{\"topicId\": \"t\", \"queueId\": \"q\", \"subscriberId\": 1, \"someOk\": []}]}");
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) entries = msb_http_bodies_decode_confirm(body, &error);
	MsbHttpConfirmEntry *e;
	g_autoptr(JsonObject) empty = parse("{\"confirmation\": []}");
	g_autoptr(GArray) none = msb_http_bodies_decode_confirm(empty, NULL);

	g_assert_no_error(error);
	g_assert_cmpuint(entries->len, ==, 4);
	e = &g_array_index(entries, MsbHttpConfirmEntry, 0);
	g_assert_cmpstr(e->topic, ==, "t");
	g_assert_cmpstr(e->queue, ==, "q");
	g_assert_cmpint(e->subscriber_id, ==, 7);
	g_assert_cmpint(e->kind, ==, MSB_HTTP_CONFIRM_ALL_OK);
	g_assert_null(e->ranges);
	e = &g_array_index(entries, MsbHttpConfirmEntry, 1);
	g_assert_cmpint(e->subscriber_id, ==, -8);
	g_assert_cmpint(e->kind, ==, MSB_HTTP_CONFIRM_ALL_FAIL);
	e = &g_array_index(entries, MsbHttpConfirmEntry, 2);
	g_assert_cmpstr(e->topic, ==, "t2");
	g_assert_cmpint(e->kind, ==, MSB_HTTP_CONFIRM_SOME_OK);
	g_assert_cmpuint(e->ranges->len, ==, 2);
	g_assert_cmpint(g_array_index(e->ranges, MsbWireRange, 0).from_id, ==, 0);
	g_assert_cmpint(g_array_index(e->ranges, MsbWireRange, 0).to_id, ==, 5);
	g_assert_cmpint(g_array_index(e->ranges, MsbWireRange, 1).from_id, ==, 9);
	g_assert_cmpint(g_array_index(e->ranges, MsbWireRange, 1).to_id, ==, 9);
	e = &g_array_index(entries, MsbHttpConfirmEntry, 3);
	g_assert_cmpint(e->kind, ==, MSB_HTTP_CONFIRM_SOME_OK);
	g_assert_cmpuint(e->ranges->len, ==, 0);
	g_assert_nonnull(none);
	g_assert_cmpuint(none->len, ==, 0);
}

static void
test_bodies_confirm_bad(void)
{
	const gchar *list_error = "the body needs 'confirmation': [{\"topicId\", \"queueId\", "
	                          "\"subscriberId\", \"allOk\" | \"allFail\" | \"someOk\"}, ...]";
	const gchar *say = "confirmation[0]: say allOk: true, allFail: true, or someOk: "
	                   "[{\"fromId\", \"toId\"}, ...] (the ids done; the others are "
	                   "redelivered)";
#define E0 "{\"topicId\": \"t\", \"queueId\": \"q\", \"subscriberId\": 1"
	const gchar *const cases[][2] = {
	        {"{}", list_error},
	        {"{\"confirmation\": {}}", list_error},
	        {"{\"confirmation\": [" E0 ", \"allOk\": true}, []]}",
	         "confirmation[1] must be an object"},
	        {"{\"confirmation\": [{\"queueId\": \"q\", \"subscriberId\": 1, \"allOk\": true}]}",
	         "confirmation[0]: the body field 'topicId' is required"},
	        {"{\"confirmation\": [{\"topicId\": 1, \"queueId\": \"q\"}]}",
	         "confirmation[0]: the body field 'topicId' must be a string"},
	        {"{\"confirmation\": [{\"topicId\": \"\", \"queueId\": \"q\"}]}",
	         "confirmation[0]: 'topicId' must be 1 to 255 bytes of UTF-8"},
	        {"{\"confirmation\": [{\"topicId\": \"t\", \"subscriberId\": 1}]}",
	         "confirmation[0]: the body field 'queueId' is required"},
	        {"{\"confirmation\": [{\"topicId\": \"t\", \"queueId\": \"\"}]}",
	         "confirmation[0]: 'queueId' must be 1 to 255 bytes of UTF-8"},
	        {"{\"confirmation\": [{\"topicId\": \"t\", \"queueId\": \"q\", \"allOk\": true}]}",
	         "confirmation[0]: 'subscriberId' must be an integer"},
	        {"{\"confirmation\": [{\"topicId\": \"t\", \"queueId\": \"q\", \"subscriberId\": "
	         "1.5, \"allOk\": true}]}",
	         "confirmation[0]: 'subscriberId' must be an integer"},
	        {"{\"confirmation\": [{\"topicId\": \"t\", \"queueId\": \"q\", \"subscriberId\": "
	         "\"1x\", \"allOk\": true}]}",
	         "confirmation[0]: 'subscriberId' must be an integer"},
	        {"{\"confirmation\": [" E0 ", \"allOk\": 1}]}",
	         "confirmation[0]: the body field 'allOk' must be true or false"},
	        {"{\"confirmation\": [" E0 ", \"allFail\": \"yes\"}]}",
	         "confirmation[0]: the body field 'allFail' must be true or false"},
	        {"{\"confirmation\": [" E0 ", \"allOk\": true, \"allFail\": true}]}",
	         "confirmation[0]: allOk and allFail are both true"},
	        {"{\"confirmation\": [" E0 "}]}", say},
	        {"{\"confirmation\": [" E0 ", \"someOk\": {}}]}", say},
	        {"{\"confirmation\": [" E0 ", \"someOk\": [{\"fromId\": 1, \"toId\": 2}, "
	         "{\"fromId\": 3, \"toId\": 2}]}]}",
	         "confirmation[0]: someOk[1] must be {\"fromId\": id, \"toId\": id} with 0 ≤ "
	         "fromId ≤ toId"},
	        {"{\"confirmation\": [" E0 ", \"someOk\": [{\"fromId\": -1, \"toId\": 2}]}]}",
	         "confirmation[0]: someOk[0] must be {\"fromId\": id, \"toId\": id} with 0 ≤ "
	         "fromId ≤ toId"},
	        {"{\"confirmation\": [" E0 ", \"someOk\": [{\"fromId\": 1}]}]}",
	         "confirmation[0]: someOk[0] must be {\"fromId\": id, \"toId\": id} with 0 ≤ "
	         "fromId ≤ toId"},
	        {"{\"confirmation\": [" E0 ", \"someOk\": [7]}]}",
	         "confirmation[0]: someOk[0] must be {\"fromId\": id, \"toId\": id} with 0 ≤ "
	         "fromId ≤ toId"},
	};
#undef E0

	check_errors(KIND_CONFIRM, cases, G_N_ELEMENTS(cases));
}

static void
test_bodies_persist(void)
{
	static const struct {
		const gchar *body; /* NULL: no body */
		const gchar *query_topic;
		const gchar *query_persist;
		const gchar *topic; /* NULL: the error */
		gboolean persist;
		const gchar *error;
	} cases[] = {
	        {"{\"topicId\": \"t\", \"persist\": false}", NULL, NULL, "t", FALSE, NULL},
	        {"{\"topicId\": \"t\", \"persist\": \"TRUE\"}", NULL, NULL, "t", TRUE, NULL},
	        {NULL, "q", "false", "q", FALSE, NULL},
	        {"{\"persist\": true}", "q", "false", "q", TRUE, NULL},
	        {"{\"topicId\": \"t\"}", "q", "true", "t", TRUE, NULL},
	        /* names are matched exactly on the admin routes */
	        {"{\"TopicId\": \"t\", \"persist\": true}", NULL, NULL, NULL, FALSE,
	         "'topicId' is required (a string)"},
	        {NULL, NULL, "true", NULL, FALSE, "'topicId' is required (a string)"},
	        {"{\"topicId\": 5, \"persist\": true}", "q", NULL, NULL, FALSE,
	         "'topicId' is required (a string)"},
	        {"{\"topicId\": true, \"persist\": true}", NULL, NULL, NULL, FALSE,
	         "'topicId' is required (a string)"},
	        {"{\"topicId\": \"t\"}", NULL, NULL, NULL, FALSE,
	         "'persist' is required (a boolean)"},
	        {"{\"topicId\": \"t\", \"persist\": 1}", NULL, "true", NULL, FALSE,
	         "'persist' is required (a boolean)"},
	        {"{\"topicId\": \"t\", \"persist\": \"yes\"}", NULL, NULL, NULL, FALSE,
	         "'persist' must be true or false, not 'yes'"},
	        {NULL, "t", "1", NULL, FALSE, "'persist' must be true or false, not '1'"},
	        /* a form body or the query can hold any bytes (%FF); the message is UTF-8 */
	        {NULL, "t", "tr\xffue", NULL, FALSE,
	         "'persist' must be true or false, not 'tr\xef\xbf\xbdue'"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonObject) body = cases[i].body != NULL ? parse(cases[i].body) : NULL;
		g_autoptr(GError) error = NULL;
		const gchar *topic = NULL;
		gboolean persist = !cases[i].persist;
		gboolean ok = msb_http_bodies_decode_persist(body, cases[i].query_topic,
		                                             cases[i].query_persist, &topic,
		                                             &persist, &error);

		g_test_message("%s -> %s", cases[i].body, error != NULL ? error->message : "ok");
		if (cases[i].topic != NULL) {
			g_assert_true(ok);
			g_assert_no_error(error);
			g_assert_cmpstr(topic, ==, cases[i].topic);
			g_assert_cmpint(persist, ==, cases[i].persist);
		} else {
			g_assert_false(ok);
			g_assert_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST);
			g_assert_cmpstr(error->message, ==, cases[i].error);
		}
	}
}

/* A NewMessages packet (P 3) with the given messages, encoded and decoded by the wire codec. */
static gchar *
package_of(const gchar *topic, const gchar *queue, gint64 confirmation_id,
           const MsbWireHeader *headers, guint n_headers, const guint8 *content, gsize len)
{
	MsbBuf buf;
	MsbBuf hdr;
	MsbWireDecoder dec;
	MsbPacket packet;
	gsize count_at = 0;
	gsize consumed = 0;
	gchar *json;

	msb_buf_init(&buf, 0);
	msb_buf_init(&hdr, 0);
	g_assert_true(msb_wire_put_headers(&hdr, headers, n_headers, NULL));
	g_assert_true(
	        msb_wire_new_messages_begin(&buf, topic, queue, confirmation_id, &count_at, NULL));
	msb_wire_new_messages_add(&buf, 3, 0, 41, 0, NULL, 0, (const guint8 *)"", 0);
	msb_wire_new_messages_add(&buf, 3, 0, G_MAXINT64, 3, hdr.data, hdr.len, content, len);
	msb_wire_new_messages_end(&buf, count_at, 2);
	msb_wire_decoder_init(&dec, 0);
	dec.protocol_version = 3;
	g_assert_cmpint(msb_wire_decode(&dec, buf.data, buf.len, &packet, &consumed, NULL), ==,
	                MSB_WIRE_DECODE_OK);
	json = msb_http_bodies_write_package(&packet);
	msb_wire_decoder_clear(&dec);
	msb_buf_clear(&hdr);
	msb_buf_clear(&buf);
	return json;
}

static void
test_bodies_package(void)
{
	const MsbWireHeader headers[] = {{"k\"\\", "line\nbreak\x01\x1f\x7f é"}, {"", ""}};
	const guint8 content[] = {0, 1, 2, 0xff, 0xfe};
	g_autofree gchar *json = package_of("top\"ic", "q\\", -5, headers, G_N_ELEMENTS(headers),
	                                    content, sizeof(content));
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonObject *root;
	JsonArray *messages;
	JsonObject *m;
	JsonArray *h;
	g_autofree guchar *decoded = NULL;
	gsize decoded_len = 0;

	g_assert_cmpstr(
	        json, ==,
	        "{\"topic_id\":\"top\\\"ic\",\"queue_id\":\"q\\\\\",\"confirmation_id\":-5,"
	        "\"messages\":[{\"id\":41,\"attempt_no\":0,\"headers\":[],\"content\":\"\"},"
	        "{\"id\":9223372036854775807,\"attempt_no\":3,\"headers\":[{\"key\":"
	        "\"k\\\"\\\\\",\"value\":\"line\\u000abreak\\u0001\\u001f\x7f é\"},{\"key\":"
	        "\"\",\"value\":\"\"}],\"content\":\"AAEC//4=\"}]}");
	g_assert_true(json_parser_load_from_data(parser, json, -1, &error));
	g_assert_no_error(error);
	root = json_node_get_object(json_parser_get_root(parser));
	g_assert_cmpstr(json_object_get_string_member(root, "topic_id"), ==, "top\"ic");
	g_assert_cmpstr(json_object_get_string_member(root, "queue_id"), ==, "q\\");
	messages = json_object_get_array_member(root, "messages");
	g_assert_cmpuint(json_array_get_length(messages), ==, 2);
	m = json_array_get_object_element(messages, 1);
	h = json_object_get_array_member(m, "headers");
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(h, 0), "key"),
	                ==, headers[0].key);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(h, 0), "value"),
	                ==, headers[0].value);
	decoded = g_base64_decode(json_object_get_string_member(m, "content"), &decoded_len);
	g_assert_cmpmem(decoded, decoded_len, content, sizeof(content));
}

/*
 * A header block is sent on as it was stored; were it not UTF-8, the answer must still be JSON:
 * each byte that is not UTF-8 (and NUL) becomes U+FFFD, as g_utf8_make_valid() writes it.
 */
static void
test_bodies_package_invalid_utf8(void)
{
	/* 1 pair: key "a\xff" (2 bytes), value "\xc3(\0z" (4 bytes) */
	const guint8 block[] = {1, 2, 'a', 0xff, 4, 0xc3, '(', 0, 'z'};
	MsbWireMessage m = {.id = 1,
	                    .attempt = 1,
	                    .n_headers = 1,
	                    .headers = block,
	                    .headers_len = sizeof(block),
	                    .content = (const guint8 *)"x",
	                    .content_len = 1};
	MsbPacket packet = {.id = MSB_PACKET_NEW_MESSAGES};
	g_autofree gchar *json = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonObject *h;

	packet.new_messages.topic = (MsbWireStr){"t\xe2\x82", 3};
	packet.new_messages.queue = (MsbWireStr){"q", 1};
	packet.new_messages.n_messages = 1;
	packet.new_messages.messages = &m;
	json = msb_http_bodies_write_package(&packet);
	g_assert_true(g_utf8_validate(json, -1, NULL));
	g_assert_true(json_parser_load_from_data(parser, json, -1, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(json_object_get_string_member(
	                        json_node_get_object(json_parser_get_root(parser)), "topic_id"),
	                ==, "t\xef\xbf\xbd\xef\xbf\xbd");
	h = json_array_get_object_element(
	        json_object_get_array_member(
	                json_array_get_object_element(
	                        json_object_get_array_member(
	                                json_node_get_object(json_parser_get_root(parser)),
	                                "messages"),
	                        0),
	                "headers"),
	        0);
	g_assert_cmpstr(json_object_get_string_member(h, "key"), ==, "a\xef\xbf\xbd");
	g_assert_cmpstr(json_object_get_string_member(h, "value"), ==,
	                "\xef\xbf\xbd(\xef\xbf\xbdz");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/http-bodies/parse", test_bodies_parse);
	g_test_add_func("/http-bodies/parse-deep", test_bodies_parse_deep);
	g_test_add_func("/http-bodies/parse-message-utf8", test_bodies_parse_message_utf8);
	g_test_add_func("/http-bodies/form", test_bodies_form);
	g_test_add_func("/http-bodies/check-name", test_bodies_check_name);
	g_test_add_func("/http-bodies/publish", test_bodies_publish);
	g_test_add_func("/http-bodies/publish-bad", test_bodies_publish_bad);
	g_test_add_func("/http-bodies/subscribe", test_bodies_subscribe);
	g_test_add_func("/http-bodies/subscribe-bad", test_bodies_subscribe_bad);
	g_test_add_func("/http-bodies/confirm", test_bodies_confirm);
	g_test_add_func("/http-bodies/confirm-bad", test_bodies_confirm_bad);
	g_test_add_func("/http-bodies/persist", test_bodies_persist);
	g_test_add_func("/http-bodies/package", test_bodies_package);
	g_test_add_func("/http-bodies/package-invalid-utf8", test_bodies_package_invalid_utf8);
	return g_test_run();
}
