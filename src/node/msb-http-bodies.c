/*
 * The REST API's bodies, decoded and written (see msb-http-bodies.h).
 *
 * Field names bind in any case (as in the reference broker's C# days) for the session calls;
 * integers come as JSON numbers or decimal strings (form bodies, clients that quote ids).
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-http-bodies.h"

#include <libsoup/soup.h>
#include <string.h>

/* clang-format off */
G_DEFINE_QUARK(msb-http-error-quark, msb_http_error)
/* clang-format on */

gboolean
msb_http_bodies_check_name(const gchar *what, const gchar *value, GError **error)
{
	gsize len;

	g_return_val_if_fail(what != NULL, FALSE);
	g_return_val_if_fail(value != NULL, FALSE);
	len = strlen(value);
	if (len == 0 || len > 255 || !g_utf8_validate(value, (gssize)len, NULL)) {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "'%s' must be 1 to 255 bytes of UTF-8", what);
		return FALSE;
	}
	return TRUE;
}

/* ---- bodies ---- */

/*
 * json-glib (1.6) parses nested arrays and objects by recursion, with no limit: a body of
 * 100,000 '[' (200 KB, far below HttpMaxBodySize) ran the broker off its stack. The depth is
 * counted before json-glib sees the body. Brackets inside strings do not count; so that no
 * quote can hide brackets from the count, what json-glib's scanner takes beyond RFC 8259 and
 * could start a string or comment where this count sees none (single quotes, comments) is
 * refused as well.
 */
static gboolean
msb_http_bodies_check_json(const gchar *data, gsize len, GError **error)
{
	gboolean in_string = FALSE;
	guint depth = 0;

	for (gsize i = 0; i < len; i++) {
		gchar c = data[i];

		if (in_string) {
			if (c == '\\')
				i++; /* the escaped byte, a quote or not */
			else if (c == '"')
				in_string = FALSE;
			continue;
		}
		switch (c) {
		case '"':
			in_string = TRUE;
			break;
		case '[':
		case '{':
			if (++depth > MSB_HTTP_BODIES_MAX_DEPTH) {
				g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
				            "the body is not valid JSON: it nests deeper than %d "
				            "levels",
				            MSB_HTTP_BODIES_MAX_DEPTH);
				return FALSE;
			}
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		case '\'':
		case '/':
		case '#':
			g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
			            "the body is not valid JSON: '%c' at byte %" G_GSIZE_FORMAT
			            " (single quotes and comments are not JSON)",
			            c, i);
			return FALSE;
		default:
			break;
		}
	}
	return TRUE;
}

JsonObject *
msb_http_bodies_parse_json(const gchar *data, gsize len, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	g_autoptr(GError) local = NULL;
	JsonNode *root;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	if (!msb_http_bodies_check_json(data, len, error))
		return NULL;
	if (!json_parser_load_from_data(parser, data != NULL ? data : "", (gssize)len, &local)) {
		/* json-glib quotes the bad part cut at a byte count, which can split a character */
		g_autofree gchar *why = g_utf8_make_valid(local->message, -1);

		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "the body is not valid JSON: %s", why);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error_literal(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		                    "the body must be a JSON object");
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

JsonObject *
msb_http_bodies_parse_form(const gchar *data, gsize len)
{
	g_autofree gchar *text = g_strndup(data, len);
	g_autoptr(GHashTable) form = NULL;
	JsonObject *obj = json_object_new();
	GHashTableIter iter;
	gpointer key, value;

	g_return_val_if_fail(data != NULL || len == 0, obj);
	form = soup_form_decode(text != NULL ? text : "");
	g_hash_table_iter_init(&iter, form);
	while (g_hash_table_iter_next(&iter, &key, &value))
		json_object_set_string_member(obj, key, value);
	return obj;
}

/* ---- members ---- */

static JsonNode *
msb_json_member(JsonObject *obj, const gchar *name)
{
	g_autoptr(GList) members = NULL;
	JsonNode *node = json_object_get_member(obj, name);

	if (node != NULL)
		return node;
	members = json_object_get_members(obj);
	for (GList *l = members; l != NULL; l = l->next) {
		if (g_ascii_strcasecmp(l->data, name) == 0)
			return json_object_get_member(obj, l->data);
	}
	return NULL;
}

/* A string member; absent or null: NULL without error unless @required. */
static gboolean
msb_json_get_string(JsonObject *obj, const gchar *name, gboolean required, const gchar **out,
                    GError **error)
{
	JsonNode *node = msb_json_member(obj, name);

	*out = NULL;
	if (node == NULL || JSON_NODE_HOLDS_NULL(node)) {
		if (!required)
			return TRUE;
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "the body field '%s' is required", name);
		return FALSE;
	}
	if (json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "the body field '%s' must be a string", name);
		return FALSE;
	}
	*out = json_node_get_string(node);
	return TRUE;
}

/* An integer, as a JSON number or a decimal string. */
static gboolean
msb_json_node_get_int64(JsonNode *node, const gchar *name, gint64 *out, GError **error)
{
	if (node != NULL && JSON_NODE_HOLDS_VALUE(node)) {
		GType type = json_node_get_value_type(node);

		if (type == G_TYPE_INT64) {
			*out = json_node_get_int(node);
			return TRUE;
		}
		if (type == G_TYPE_STRING &&
		    g_ascii_string_to_signed(json_node_get_string(node), 10, G_MININT64, G_MAXINT64,
		                             out, NULL))
			return TRUE;
	}
	g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST, "'%s' must be an integer",
	            name);
	return FALSE;
}

/* A boolean member, or "true"/"false" in any case; absent or null is FALSE. */
static gboolean
msb_json_get_bool(JsonObject *obj, const gchar *name, gboolean *out, GError **error)
{
	JsonNode *node = msb_json_member(obj, name);

	*out = FALSE;
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
		*out = json_node_get_boolean(node);
		return TRUE;
	}
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
		const gchar *v = json_node_get_string(node);
		if (g_ascii_strcasecmp(v, "true") == 0 || g_ascii_strcasecmp(v, "false") == 0) {
			*out = g_ascii_strcasecmp(v, "true") == 0;
			return TRUE;
		}
	}
	g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
	            "the body field '%s' must be true or false", name);
	return FALSE;
}

/* ---- Publish ---- */

/*
 * Strict base64 (RFC 4648 §4, padded, no blanks): g_base64_decode() skips what it does not know,
 * and a message must not be stored other than the client sent it.
 */
static GBytes *
msb_http_base64_decode(const gchar *text, GError **error)
{
	gsize len = strlen(text);
	gsize pad = 0;
	guchar *data;
	gsize out_len = 0;

	if (len % 4 != 0)
		goto bad;
	while (pad < 2 && pad < len && text[len - 1 - pad] == '=')
		pad++;
	for (gsize i = 0; i < len - pad; i++) {
		gchar c = text[i];
		if (!g_ascii_isalnum(c) && c != '+' && c != '/')
			goto bad;
	}
	if (len == 0)
		return g_bytes_new(NULL, 0);
	data = g_base64_decode(text, &out_len);
	return g_bytes_new_take(data, out_len);
bad:
	g_set_error_literal(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
	                    "'base64Message' is not valid base64 (RFC 4648, padded with '=')");
	return NULL;
}

/* messages[@i]: its content to @publish->contents, its header block to @publish->headers. */
static gboolean
msb_http_bodies_publish_message(MsbHttpPublishBody *publish, JsonNode *item, guint i,
                                MsbWireMessage *m, GError **error)
{
	g_autoptr(GArray) pairs = g_array_new(FALSE, FALSE, sizeof(MsbWireHeader));
	g_autoptr(GError) local = NULL;
	const gchar *b64 = NULL;
	JsonObject *obj;
	JsonNode *hnode;
	GBytes *content;
	gsize at = publish->headers.len;

	if (!JSON_NODE_HOLDS_OBJECT(item)) {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "messages[%u] must be an object", i);
		return FALSE;
	}
	obj = json_node_get_object(item);
	if (!msb_json_get_string(obj, "base64Message", TRUE, &b64, error)) {
		g_prefix_error(error, "messages[%u]: ", i);
		return FALSE;
	}
	content = msb_http_base64_decode(b64, error);
	if (content == NULL) {
		g_prefix_error(error, "messages[%u]: ", i);
		return FALSE;
	}
	g_ptr_array_add(publish->contents, content);
	hnode = msb_json_member(obj, "headers");
	if (hnode != NULL && JSON_NODE_HOLDS_ARRAY(hnode)) {
		JsonArray *harray = json_node_get_array(hnode);

		for (guint j = 0; j < json_array_get_length(harray); j++) {
			JsonNode *hitem = json_array_get_element(harray, j);
			MsbWireHeader h = {NULL, NULL};

			if (!JSON_NODE_HOLDS_OBJECT(hitem) ||
			    !msb_json_get_string(json_node_get_object(hitem), "key", TRUE, &h.key,
			                         error) ||
			    !msb_json_get_string(json_node_get_object(hitem), "value", TRUE,
			                         &h.value, error)) {
				g_clear_error(error);
				g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
				            "messages[%u].headers[%u] must be {\"key\": string, "
				            "\"value\": string}",
				            i, j);
				return FALSE;
			}
			g_array_append_val(pairs, h);
		}
	} else if (hnode != NULL && !JSON_NODE_HOLDS_NULL(hnode)) {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "messages[%u].headers must be an array or null", i);
		return FALSE;
	}
	if (!msb_wire_put_headers(&publish->headers, (const MsbWireHeader *)pairs->data, pairs->len,
	                          &local)) {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "messages[%u].headers: %s", i, local->message);
		return FALSE;
	}
	m->n_headers = pairs->len;
	/* an offset until the buffer stops growing */
	m->headers = GSIZE_TO_POINTER(at);
	m->headers_len = publish->headers.len - at;
	m->content = g_bytes_get_data(content, &m->content_len);
	return TRUE;
}

MsbHttpPublishBody *
msb_http_bodies_decode_publish(JsonObject *body, GError **error)
{
	g_autoptr(MsbHttpPublishBody) publish = NULL;
	JsonNode *node;
	JsonArray *array;

	g_return_val_if_fail(body != NULL, NULL);
	node = msb_json_member(body, "messages");
	if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
		g_set_error_literal(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		                    "the body needs 'messages': [{\"headers\": [{\"key\": ..., "
		                    "\"value\": ...}] or null, \"base64Message\": ...}]");
		return NULL;
	}
	publish = g_new0(MsbHttpPublishBody, 1);
	publish->messages = g_array_new(FALSE, TRUE, sizeof(MsbWireMessage));
	publish->contents = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	msb_buf_init(&publish->headers, 0);
	array = json_node_get_array(node);
	for (guint i = 0; i < json_array_get_length(array); i++) {
		MsbWireMessage m = {0};

		if (!msb_http_bodies_publish_message(publish, json_array_get_element(array, i), i,
		                                     &m, error))
			return NULL;
		g_array_append_val(publish->messages, m);
	}
	for (guint i = 0; i < publish->messages->len; i++) {
		MsbWireMessage *m = &g_array_index(publish->messages, MsbWireMessage, i);
		m->headers = publish->headers.data + GPOINTER_TO_SIZE(m->headers);
	}
	return g_steal_pointer(&publish);
}

void
msb_http_publish_body_free(MsbHttpPublishBody *publish)
{
	if (publish == NULL)
		return;
	g_array_unref(publish->messages);
	g_ptr_array_unref(publish->contents);
	msb_buf_clear(&publish->headers);
	g_free(publish);
}

/* ---- Subscribe ---- */

/* queueType (node.md §6.2): the case name or the HTTP id, which is not TCP's. */
static gboolean
msb_http_bodies_queue_type(JsonObject *body, guint8 *wire, GError **error)
{
	static const struct {
		const gchar *name;
		gint64 http_id;
		MsbQueueType type;
	} types[] = {
	        {"DeleteIfNoSubscribers", 0, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT},
	        {"Permanent", 1, MSB_QUEUE_TYPE_PERMANENT},
	        {"PermanentSingleSubscriber", 2, MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION},
	        /* the TCP names, for clients that use them */
	        {"DeleteOnDisconnect", -1, MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT},
	        {"PermanentWithSingleConnection", -1, MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION},
	};
	JsonNode *node = msb_json_member(body, "queueType");
	gint64 id = -1;

	if (node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	    json_node_get_value_type(node) == G_TYPE_STRING) {
		const gchar *text = json_node_get_string(node);
		for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
			if (g_ascii_strcasecmp(text, types[i].name) == 0) {
				*wire = (guint8)types[i].type;
				return TRUE;
			}
		}
	}
	if (node != NULL && msb_json_node_get_int64(node, "queueType", &id, NULL)) {
		for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
			if (types[i].http_id == id && id >= 0) {
				*wire = (guint8)types[i].type;
				return TRUE;
			}
		}
	}
	g_set_error_literal(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
	                    "'queueType' must be DeleteIfNoSubscribers (0), Permanent (1) or "
	                    "PermanentSingleSubscriber (2)");
	return FALSE;
}

gboolean
msb_http_bodies_decode_subscribe(JsonObject *body, MsbHttpSubscribeBody *out, GError **error)
{
	MsbHttpSubscribeBody s = {NULL, NULL, 0};

	g_return_val_if_fail(body != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);
	if (!msb_json_get_string(body, "topicId", TRUE, &s.topic, error) ||
	    !msb_http_bodies_check_name("topicId", s.topic, error) ||
	    !msb_json_get_string(body, "queueId", TRUE, &s.queue, error) ||
	    !msb_http_bodies_check_name("queueId", s.queue, error) ||
	    !msb_http_bodies_queue_type(body, &s.queue_type, error))
		return FALSE;
	*out = s;
	return TRUE;
}

/* ---- Confirm ---- */

static void
msb_http_confirm_entry_clear(MsbHttpConfirmEntry *e)
{
	g_clear_pointer(&e->ranges, g_array_unref);
}

/* One entry: which batch, and allOk, allFail or someOk (in that order). */
static gboolean
msb_http_bodies_confirm_entry(JsonNode *item, guint i, MsbHttpConfirmEntry *e, GError **error)
{
	JsonObject *obj;
	JsonNode *some;
	gboolean all_ok = FALSE;
	gboolean all_fail = FALSE;

	if (!JSON_NODE_HOLDS_OBJECT(item)) {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "confirmation[%u] must be an object", i);
		return FALSE;
	}
	obj = json_node_get_object(item);
	if (!msb_json_get_string(obj, "topicId", TRUE, &e->topic, error) ||
	    !msb_http_bodies_check_name("topicId", e->topic, error) ||
	    !msb_json_get_string(obj, "queueId", TRUE, &e->queue, error) ||
	    !msb_http_bodies_check_name("queueId", e->queue, error) ||
	    !msb_json_node_get_int64(msb_json_member(obj, "subscriberId"), "subscriberId",
	                             &e->subscriber_id, error) ||
	    !msb_json_get_bool(obj, "allOk", &all_ok, error) ||
	    !msb_json_get_bool(obj, "allFail", &all_fail, error))
		goto bad;
	if (all_ok && all_fail) {
		g_set_error_literal(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		                    "allOk and allFail are both true");
		goto bad;
	}
	if (all_ok || all_fail) {
		e->kind = all_ok ? MSB_HTTP_CONFIRM_ALL_OK : MSB_HTTP_CONFIRM_ALL_FAIL;
		return TRUE;
	}
	some = msb_json_member(obj, "someOk");
	if (some == NULL || !JSON_NODE_HOLDS_ARRAY(some)) {
		g_set_error_literal(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		                    "say allOk: true, allFail: true, or someOk: [{\"fromId\", "
		                    "\"toId\"}, ...] (the ids done; the others are redelivered)");
		goto bad;
	}
	e->kind = MSB_HTTP_CONFIRM_SOME_OK;
	e->ranges = g_array_new(FALSE, FALSE, sizeof(MsbWireRange));
	for (guint j = 0; j < json_array_get_length(json_node_get_array(some)); j++) {
		JsonNode *r = json_array_get_element(json_node_get_array(some), j);
		MsbWireRange range;

		if (!JSON_NODE_HOLDS_OBJECT(r) ||
		    !msb_json_node_get_int64(msb_json_member(json_node_get_object(r), "fromId"),
		                             "fromId", &range.from_id, error) ||
		    !msb_json_node_get_int64(msb_json_member(json_node_get_object(r), "toId"),
		                             "toId", &range.to_id, error) ||
		    range.from_id > range.to_id || range.from_id < 0) {
			g_clear_error(error);
			g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
			            "someOk[%u] must be {\"fromId\": id, \"toId\": id} with 0 ≤ "
			            "fromId ≤ toId",
			            j);
			goto bad;
		}
		g_array_append_val(e->ranges, range);
	}
	return TRUE;
bad:
	g_prefix_error(error, "confirmation[%u]: ", i);
	return FALSE;
}

GArray *
msb_http_bodies_decode_confirm(JsonObject *body, GError **error)
{
	g_autoptr(GArray) entries = NULL;
	JsonNode *list;

	g_return_val_if_fail(body != NULL, NULL);
	list = msb_json_member(body, "confirmation");
	if (list == NULL || !JSON_NODE_HOLDS_ARRAY(list)) {
		g_set_error_literal(
		        error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		        "the body needs 'confirmation': [{\"topicId\", \"queueId\", "
		        "\"subscriberId\", \"allOk\" | \"allFail\" | \"someOk\"}, ...]");
		return NULL;
	}
	entries = g_array_new(FALSE, TRUE, sizeof(MsbHttpConfirmEntry));
	g_array_set_clear_func(entries, (GDestroyNotify)msb_http_confirm_entry_clear);
	for (guint i = 0; i < json_array_get_length(json_node_get_array(list)); i++) {
		MsbHttpConfirmEntry e = {0};

		if (!msb_http_bodies_confirm_entry(
		            json_array_get_element(json_node_get_array(list), i), i, &e, error)) {
			msb_http_confirm_entry_clear(&e);
			return NULL;
		}
		g_array_append_val(entries, e);
	}
	return g_steal_pointer(&entries);
}

/* ---- Persist ---- */

/* A body member as a string or bool, else the query parameter of that name (@query). Case
 * matters here, as it always has for the admin routes. */
static gboolean
msb_http_bodies_body_value(JsonObject *body, const gchar *name, const gchar *query,
                           gboolean want_bool, const gchar **str, gboolean *flag, GError **error)
{
	JsonNode *node = body != NULL ? json_object_get_member(body, name) : NULL;
	const gchar *text = NULL;

	if (node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	    json_node_get_value_type(node) == G_TYPE_BOOLEAN && want_bool) {
		*flag = json_node_get_boolean(node);
		return TRUE;
	}
	if (node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	    json_node_get_value_type(node) == G_TYPE_STRING)
		text = json_node_get_string(node);
	else if (node == NULL)
		text = query;
	if (text == NULL) {
		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "'%s' is required (a %s)", name, want_bool ? "boolean" : "string");
		return FALSE;
	}
	if (!want_bool) {
		*str = text;
		return TRUE;
	}
	if (g_ascii_strcasecmp(text, "true") == 0) {
		*flag = TRUE;
	} else if (g_ascii_strcasecmp(text, "false") == 0) {
		*flag = FALSE;
	} else {
		/* a form body or the query may hold any bytes; the answer is UTF-8 text */
		g_autofree gchar *shown = g_utf8_make_valid(text, -1);

		g_set_error(error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            "'%s' must be true or false, not '%s'", name, shown);
		return FALSE;
	}
	return TRUE;
}

gboolean
msb_http_bodies_decode_persist(JsonObject *body, const gchar *query_topic,
                               const gchar *query_persist, const gchar **topic, gboolean *persist,
                               GError **error)
{
	g_return_val_if_fail(topic != NULL, FALSE);
	g_return_val_if_fail(persist != NULL, FALSE);
	return msb_http_bodies_body_value(body, "topicId", query_topic, FALSE, topic, NULL,
	                                  error) &&
	       msb_http_bodies_body_value(body, "persist", query_persist, TRUE, NULL, persist,
	                                  error);
}

/* ---- the Await package ---- */

/* @len bytes as a JSON string; bytes that are not UTF-8 (or NUL) become U+FFFD. */
static void
msb_json_append_string(GString *out, const gchar *str, gsize len)
{
	g_autofree gchar *valid = NULL;

	if (len > 0 && !g_utf8_validate_len(str, len, NULL)) {
		valid = g_utf8_make_valid(str, (gssize)len);
		str = valid;
		len = strlen(valid);
	}
	g_string_append_c(out, '"');
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)str[i];

		if (c == '"' || c == '\\') {
			g_string_append_c(out, '\\');
			g_string_append_c(out, (gchar)c);
		} else if (c < 0x20) {
			g_string_append_printf(out, "\\u%04x", c);
		} else {
			g_string_append_c(out, (gchar)c);
		}
	}
	g_string_append_c(out, '"');
}

static void
msb_json_append_base64(GString *out, const guint8 *data, gsize len)
{
	gsize at = out->len;
	gint state = 0;
	gint save = 0;
	gsize n;

	/* what g_base64_encode_step() and _close() may write at most */
	g_string_set_size(out, at + (len / 3 + 1) * 4 + 8);
	n = g_base64_encode_step(data, len, FALSE, out->str + at, &state, &save);
	n += g_base64_encode_close(FALSE, out->str + at + n, &state, &save);
	g_string_truncate(out, at + n);
}

/*
 * Written directly rather than through a JsonNode tree: a batch of MaxDeliverySize in small
 * messages is some 40,000 of them, built on the main loop, and the tree took several times as
 * long.
 */
gchar *
msb_http_bodies_write_package(const MsbPacket *packet)
{
	gsize estimate = 128;
	GString *out;

	g_return_val_if_fail(packet != NULL, NULL);
	g_return_val_if_fail(packet->id == MSB_PACKET_NEW_MESSAGES, NULL);
	for (guint i = 0; i < packet->new_messages.n_messages; i++) {
		const MsbWireMessage *m = &packet->new_messages.messages[i];
		estimate += 80 + m->headers_len * 2 + m->content_len / 3 * 4 + 4;
	}
	out = g_string_sized_new(estimate);
	g_string_append(out, "{\"topic_id\":");
	msb_json_append_string(out, packet->new_messages.topic.str, packet->new_messages.topic.len);
	g_string_append(out, ",\"queue_id\":");
	msb_json_append_string(out, packet->new_messages.queue.str, packet->new_messages.queue.len);
	g_string_append_printf(out, ",\"confirmation_id\":%" G_GINT64_FORMAT ",\"messages\":[",
	                       packet->new_messages.confirmation_id);
	for (guint i = 0; i < packet->new_messages.n_messages; i++) {
		const MsbWireMessage *m = &packet->new_messages.messages[i];
		MsbWireStr key;
		MsbWireStr value;
		gsize pos = 0;
		gboolean first = TRUE;

		g_string_append_printf(
		        out, "%s{\"id\":%" G_GINT64_FORMAT ",\"attempt_no\":%d,\"headers\":[",
		        i > 0 ? "," : "", m->id, m->attempt);
		while (msb_wire_headers_next(m->headers, m->headers_len, &pos, &key, &value)) {
			g_string_append(out, first ? "{\"key\":" : ",{\"key\":");
			msb_json_append_string(out, key.str, key.len);
			g_string_append(out, ",\"value\":");
			msb_json_append_string(out, value.str, value.len);
			g_string_append_c(out, '}');
			first = FALSE;
		}
		g_string_append(out, "],\"content\":\"");
		msb_json_append_base64(out, m->content, m->content_len);
		g_string_append(out, "\"}");
	}
	g_string_append(out, "]}");
	return g_string_free(out, FALSE);
}
