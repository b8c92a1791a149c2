/*
 * GET /api/Messages: a page of a topic's messages for the UI's message browser (see
 * msb-http-messages.h). Answer:
 *
 *   {"topicId": T, "minId": smallest id in memory, "nextId": fromId of the next page,
 *    "messages": [{"id", "size", "created" (RFC 3339 or null), "headers": [{"key", "value"}],
 *                  "content" (base64), "source": "memory" | "persistence"}]}
 *
 * limit defaults to 20 and may be 1 to 100, so that one answer stays small (100 messages of at
 * most MaxPacketSize each are read from memory in one go; a page from persistence is one call).
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-http-messages.h"

#include "msb-broker-messages.h"
#include "msb-broker.h"

#define MSB_HTTP_MESSAGES_DEFAULT_LIMIT 20
#define MSB_HTTP_MESSAGES_MAX_LIMIT     100

struct _MsbHttpMessages {
	MsbBroker *broker;
	MsbPersistenceClient *client; /* NULL in memory */
	GCancellable *cancellable;    /* cancels the persistence reads on free */
};

/* A request waiting for persistence. */
typedef struct {
	SoupServerMessage *msg;
	gboolean gone; /* the client went away */
	gchar *topic;
	guint limit;
	gint64 to_id; /* the last id asked for */
	MsbMessagesRead read;
} MsbHttpMessagesWait;

static void
msb_http_messages_add(JsonBuilder *b, const MsbMessageCopy *m, const gchar *source)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(m->content, &len);
	g_autofree gchar *content = g_base64_encode(data, len);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "id");
	json_builder_add_int_value(b, m->id);
	json_builder_set_member_name(b, "size");
	json_builder_add_int_value(b, (gint64)len);
	json_builder_set_member_name(b, "created");
	if (m->created_us > 0) {
		g_autoptr(GDateTime) secs =
		        g_date_time_new_from_unix_utc(m->created_us / G_USEC_PER_SEC);
		g_autoptr(GDateTime) dt =
		        secs != NULL ? g_date_time_add(secs, m->created_us % G_USEC_PER_SEC) : NULL;
		g_autofree gchar *text = dt != NULL ? g_date_time_format_iso8601(dt) : NULL;
		if (text != NULL)
			json_builder_add_string_value(b, text);
		else
			json_builder_add_null_value(b);
	} else {
		json_builder_add_null_value(b);
	}
	json_builder_set_member_name(b, "headers");
	json_builder_begin_array(b);
	for (guint i = 0; i < m->headers->len; i++) {
		const MsbMessageHeaderCopy *h = &g_array_index(m->headers, MsbMessageHeaderCopy, i);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "key");
		json_builder_add_string_value(b, h->key);
		json_builder_set_member_name(b, "value");
		json_builder_add_string_value(b, h->value);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "content");
	json_builder_add_string_value(b, content);
	json_builder_set_member_name(b, "source");
	json_builder_add_string_value(b, source);
	json_builder_end_object(b);
}

/* The answer: @read's messages from memory, then @loaded's from persistence (may be NULL). */
static gchar *
msb_http_messages_render(const gchar *topic, const MsbMessagesRead *read, GPtrArray *loaded,
                         gint64 next)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "topicId");
	json_builder_add_string_value(b, topic);
	json_builder_set_member_name(b, "minId");
	json_builder_add_int_value(b, read->min_id);
	json_builder_set_member_name(b, "nextId");
	json_builder_add_int_value(b, next);
	json_builder_set_member_name(b, "messages");
	json_builder_begin_array(b);
	for (guint i = 0; i < read->messages->len; i++)
		msb_http_messages_add(b, g_ptr_array_index(read->messages, i), "memory");
	for (guint i = 0; loaded != NULL && i < loaded->len; i++)
		msb_http_messages_add(b, g_ptr_array_index(loaded, i), "persistence");
	json_builder_end_array(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return json_to_string(root, FALSE);
}

static void
msb_http_messages_wait_free(MsbHttpMessagesWait *wait)
{
	g_object_unref(wait->msg);
	g_free(wait->topic);
	msb_messages_read_clear(&wait->read);
	g_free(wait);
}

static void
msb_http_messages_gone_cb(SoupServerMessage *msg, gpointer user_data)
{
	MsbHttpMessagesWait *wait = user_data;
	wait->gone = TRUE;
}

static void
msb_http_messages_reply(SoupServerMessage *msg, guint status, const gchar *content_type,
                        gchar *body)
{
	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, content_type, SOUP_MEMORY_TAKE, body, strlen(body));
	soup_server_message_unpause(msg);
}

static void
msb_http_messages_loaded_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	MsbHttpMessagesWait *wait = user_data;
	g_autoptr(GError) error = NULL;
	MsbMessageBatch *batch =
	        msb_persistence_client_get_page_finish(MSB_PERSISTENCE_CLIENT(source), res, &error);
	g_autoptr(GPtrArray) loaded =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_message_copy_free);
	gint64 from_id = wait->read.gap_id;
	gint64 next = wait->to_id + 1;

	g_signal_handlers_disconnect_by_data(wait->msg, wait);
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || wait->gone) {
		/* the listener is gone, or the client: nobody to answer */
		g_clear_pointer(&batch, msb_message_batch_free);
		msb_http_messages_wait_free(wait);
		return;
	}
	if (batch == NULL) {
		msb_http_messages_reply(
		        wait->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
		        g_strdup_printf(
		                "cannot read messages of %s from the persistence service: %s\n",
		                wait->topic, error->message));
		msb_http_messages_wait_free(wait);
		return;
	}
	for (gsize i = 0; i < batch->n_messages; i++) {
		const MsbPersistMessage *pm = &batch->messages[i];
		g_autoptr(GBytes) content = NULL;
		MsbMessageCopy *m;

		/* the service answers with what it has of the range; anything else is not ours */
		if (pm->id < from_id || pm->id > wait->to_id)
			continue;
		if (wait->read.messages->len + loaded->len >= wait->limit) {
			next = MIN(next, pm->id);
			continue;
		}
		content = g_bytes_new(pm->content, pm->content_len);
		m = msb_message_copy_new(pm->id, pm->created_us, content);
		for (gsize h = 0; h < pm->n_headers; h++) {
			const gchar *key = pm->headers[h].key != NULL ? pm->headers[h].key : "";
			const gchar *val = pm->headers[h].value != NULL ? pm->headers[h].value : "";
			msb_message_copy_add_header(m, key, strlen(key), val, strlen(val));
		}
		g_ptr_array_add(loaded, m);
	}
	msb_message_batch_free(batch);
	msb_http_messages_reply(wait->msg, SOUP_STATUS_OK, "application/json",
	                        msb_http_messages_render(wait->topic, &wait->read, loaded, next));
	msb_http_messages_wait_free(wait);
}

static void
msb_http_messages_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpMessages *self = user_data;
	g_autoptr(GError) error = NULL;
	const gchar *topic = NULL;
	gint64 from_id = 0;
	gint64 limit = MSB_HTTP_MESSAGES_DEFAULT_LIMIT;
	MsbMessagesRead read;
	MsbHttpMessagesWait *wait;
	gint64 sub_page_end;

	/* the optional ones return FALSE without an error when absent */
	if (!msb_http_call_query_string(call, "topicId", TRUE, &topic, &error) ||
	    (!msb_http_call_query_int64(call, "fromId", FALSE, &from_id, &error) && error) ||
	    (!msb_http_call_query_int64(call, "limit", FALSE, &limit, &error) && error)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	if (from_id < 0 || limit < 1 || limit > MSB_HTTP_MESSAGES_MAX_LIMIT) {
		g_set_error(&error, MSB_HTTP_ERROR, MSB_HTTP_ERROR_BAD_REQUEST,
		            from_id < 0 ? "fromId must be 0 or more"
		                        : "limit must be 1 to " G_STRINGIFY(
		                                  MSB_HTTP_MESSAGES_MAX_LIMIT));
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	if (!msb_broker_read_messages(self->broker, topic, from_id, (guint)limit,
	                              self->client != NULL, &read, &error)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	if (read.gap_id < 0) {
		msb_http_call_reply_json_text(
		        call, SOUP_STATUS_OK,
		        msb_http_messages_render(topic, &read, NULL, read.scanned_to));
		msb_messages_read_clear(&read);
		return;
	}

	/* the rest from persistence: one GetPage, within the gap's page */
	wait = g_new0(MsbHttpMessagesWait, 1);
	wait->msg = g_object_ref(msb_http_call_get_message(call));
	wait->topic = g_strdup(topic);
	wait->limit = (guint)limit;
	wait->read = read;
	/* to the end of the gap's sub-page (what the broker loads at once anyway): a stretch
	 * that persistence does not have either is stepped over a sub-page per request */
	sub_page_end = (msb_sub_page_no(read.gap_id) + 1) * MSB_SUB_PAGE_SIZE - 1;
	wait->to_id = MIN(sub_page_end, read.next_id - 1);
	g_signal_connect(wait->msg, "finished", G_CALLBACK(msb_http_messages_gone_cb), wait);
	if (g_signal_lookup("disconnected", SOUP_TYPE_SERVER_MESSAGE) != 0)
		g_signal_connect(wait->msg, "disconnected", G_CALLBACK(msb_http_messages_gone_cb),
		                 wait);
	soup_server_message_pause(wait->msg);
	msb_persistence_client_get_page_async(self->client, topic, msb_page_no(read.gap_id),
	                                      read.gap_id, wait->to_id, self->cancellable,
	                                      msb_http_messages_loaded_cb, wait);
}

static const MsbHttpRoute msb_http_messages_routes[] = {
        {"GET", "/api/Messages", MSB_HTTP_ROUTE_NONE, msb_http_messages_cb},
};

MsbHttpMessages *
msb_http_messages_new(MsbHttpRouter *router, MsbBroker *broker)
{
	MsbHttpMessages *self;

	g_return_val_if_fail(router != NULL, NULL);
	g_return_val_if_fail(broker != NULL, NULL);
	self = g_new0(MsbHttpMessages, 1);
	self->broker = broker;
	self->cancellable = g_cancellable_new();
	msb_http_router_add(router, msb_http_messages_routes,
	                    G_N_ELEMENTS(msb_http_messages_routes), self);
	return self;
}

void
msb_http_messages_free(MsbHttpMessages *self)
{
	if (self == NULL)
		return;
	g_cancellable_cancel(self->cancellable);
	g_object_unref(self->cancellable);
	g_clear_object(&self->client);
	g_free(self);
}

void
msb_http_messages_set_persistence(MsbHttpMessages *self, MsbPersistenceClient *client)
{
	g_return_if_fail(self != NULL);
	g_set_object(&self->client, client);
}
