/*
 * The administrative REST routes (see msb-http-admin.h). Status codes follow node.md §6.2: an
 * unknown topic is 403 where the reference documents it (create, delete, persist, delete queue,
 * SetMessageId) and 404 elsewhere; bad input is 400 with a text naming the parameter. The topic
 * list reads the whole broker, so it is answered from an MsbStatsReader collection (made in slices)
 * and rendered in a worker thread, never in one go on the main loop.
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-http-admin.h"

#include "msb-broker-admin.h"

struct _MsbHttpAdmin {
	MsbBroker *broker;
	MsbStatsReader *reader;
};

/* set on a paused message once libsoup has finished it (the client went away) */
#define MSB_HTTP_ADMIN_GONE "msb-http-admin-gone"

static gboolean
msb_http_admin_namespace(MsbHttpAdmin *self, MsbHttpCall *call)
{
	g_autoptr(GError) error = NULL;

	if (msb_broker_check_namespace(self->broker, msb_http_call_get_namespace(call), &error))
		return TRUE;
	msb_http_call_reply_error(call, error, 0);
	return FALSE;
}

/* A required query string that must not be empty. */
static const gchar *
msb_http_admin_required(MsbHttpCall *call, const gchar *name)
{
	g_autoptr(GError) error = NULL;
	const gchar *value = NULL;

	if (!msb_http_call_query_string(call, name, TRUE, &value, &error)) {
		msb_http_call_reply_error(call, error, 0);
		return NULL;
	}
	if (value[0] == '\0') {
		g_autofree gchar *text =
		        g_strdup_printf("the query parameter '%s' must not be empty\n", name);
		msb_http_call_reply_text(call, SOUP_STATUS_BAD_REQUEST, text);
		return NULL;
	}
	return value;
}

/* The namespace checked and the required "topicId" of a topic route; NULL once answered. */
static const gchar *
msb_http_admin_topic(MsbHttpAdmin *self, MsbHttpCall *call)
{
	if (!msb_http_admin_namespace(self, call))
		return NULL;
	return msb_http_admin_required(call, "topicId");
}

static gchar *
msb_http_admin_time(gint64 wall_us)
{
	g_autoptr(GDateTime) secs = NULL;
	g_autoptr(GDateTime) dt = NULL;

	if (wall_us <= 0)
		return NULL;
	secs = g_date_time_new_from_unix_utc(wall_us / G_USEC_PER_SEC);
	if (secs == NULL)
		return NULL;
	dt = g_date_time_add(secs, wall_us % G_USEC_PER_SEC);
	return dt != NULL ? g_date_time_format_iso8601(dt) : NULL;
}

static void
msb_http_admin_add_time(JsonBuilder *b, const gchar *name, gint64 wall_us)
{
	g_autofree gchar *text = msb_http_admin_time(wall_us);

	json_builder_set_member_name(b, name);
	if (text != NULL)
		json_builder_add_string_value(b, text);
	else
		json_builder_add_null_value(b);
}

static void
msb_http_admin_reply_builder(MsbHttpCall *call, JsonBuilder *b)
{
	g_autoptr(JsonNode) root = json_builder_get_root(b);

	msb_http_call_reply_json(call, SOUP_STATUS_OK, root);
}

/* ---- namespaces ---- */

static void
msb_http_admin_namespaces_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GPtrArray) list = msb_broker_list_namespaces(self->broker);
	g_autoptr(JsonBuilder) b = json_builder_new();

	/* node.md §6.2: this one ignores ns */
	json_builder_begin_array(b);
	for (guint i = 0; i < list->len; i++) {
		const MsbNamespaceInfo *info = g_ptr_array_index(list, i);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "name");
		json_builder_add_string_value(b, info->name);
		json_builder_set_member_name(b, "topicsAmount");
		json_builder_add_int_value(b, info->topics);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	msb_http_admin_reply_builder(call, b);
}

/* ---- topics ---- */

static void
msb_http_admin_create_topic_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	const gchar *topic;

	topic = msb_http_admin_topic(self, call);
	if (topic == NULL)
		return;
	if (msb_broker_create_topic(self->broker, topic, &error) == NULL) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_FORBIDDEN);
		return;
	}
	msb_http_call_reply_text(call, SOUP_STATUS_OK, "Topic is created");
}

/* The topic list: a collection (in slices on the main loop), rendered in a thread. */
static void
msb_http_admin_msg_gone_cb(SoupServerMessage *msg, gpointer user_data)
{
	g_object_set_data(G_OBJECT(msg), MSB_HTTP_ADMIN_GONE, GINT_TO_POINTER(1));
}

static void
msb_http_admin_render_topics(GTask *task, gpointer source, gpointer task_data,
                             GCancellable *cancellable)
{
	MsbBrokerStats *stats = task_data;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_array(b);
	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, t);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, topic->name);
		json_builder_set_member_name(b, "messageId");
		json_builder_add_int_value(b, topic->next_id);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	root = json_builder_get_root(b);
	g_task_return_pointer(task, json_to_string(root, FALSE), g_free);
}

static void
msb_http_admin_topics_rendered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SoupServerMessage) msg = user_data;
	gchar *json = g_task_propagate_pointer(G_TASK(result), NULL);

	if (g_object_get_data(G_OBJECT(msg), MSB_HTTP_ADMIN_GONE) != NULL) {
		g_free(json);
		return;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, json,
	                                 strlen(json));
	soup_server_message_unpause(msg);
}

static void
msb_http_admin_topics_ready_cb(MsbBrokerStats *stats, gpointer user_data)
{
	SoupServerMessage *msg = user_data;
	g_autoptr(GTask) task = NULL;

	if (g_object_get_data(G_OBJECT(msg), MSB_HTTP_ADMIN_GONE) != NULL)
		return;
	/* the task owns a reference to the message until it answers */
	task = g_task_new(NULL, NULL, msb_http_admin_topics_rendered_cb, g_object_ref(msg));
	g_task_set_task_data(task, msb_broker_stats_ref(stats),
	                     (GDestroyNotify)msb_broker_stats_unref);
	g_task_run_in_thread(task, msb_http_admin_render_topics);
}

static void
msb_http_admin_list_topics_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	SoupServerMessage *msg = msb_http_call_get_message(call);

	if (!msb_http_admin_namespace(self, call))
		return;
	g_signal_connect(msg, "finished", G_CALLBACK(msb_http_admin_msg_gone_cb), NULL);
	if (g_signal_lookup("disconnected", SOUP_TYPE_SERVER_MESSAGE) != 0)
		g_signal_connect(msg, "disconnected", G_CALLBACK(msb_http_admin_msg_gone_cb), NULL);
	soup_server_message_pause(msg);
	msb_stats_reader_request(self->reader, msb_http_admin_topics_ready_cb, g_object_ref(msg),
	                         g_object_unref);
}

/* hardDeleteMoment: an ISO 8601 date and time (UTC unless it says otherwise), as the UI sends
 * from toISOString(); absent means now. */
static gboolean
msb_http_admin_parse_moment(MsbHttpCall *call, gint64 *moment_us)
{
	const gchar *value = msb_http_call_get_query(call, "hardDeleteMoment");
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
	g_autoptr(GDateTime) dt = NULL;

	if (value == NULL || value[0] == '\0') {
		*moment_us = 0;
		return TRUE;
	}
	dt = g_date_time_new_from_iso8601(value, utc);
	if (dt == NULL) {
		g_autofree gchar *text = g_strdup_printf(
		        "the query parameter 'hardDeleteMoment' must be an ISO 8601 date and time "
		        "such as 2026-01-31T12:00:00Z, not '%s'\n",
		        value);
		msb_http_call_reply_text(call, SOUP_STATUS_BAD_REQUEST, text);
		return FALSE;
	}
	*moment_us = g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
	return TRUE;
}

static void
msb_http_admin_delete_topic_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	const gchar *topic;
	gint64 moment = 0;

	if (!msb_http_admin_namespace(self, call))
		return;
	topic = msb_http_admin_required(call, "topicId");
	if (topic == NULL || !msb_http_admin_parse_moment(call, &moment))
		return;
	if (!msb_broker_delete_topic(self->broker, topic, moment, &error)) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_FORBIDDEN);
		return;
	}
	msb_http_call_reply_empty(call);
}

static void
msb_http_admin_restore_topic_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	const gchar *topic;
	gboolean restored;

	topic = msb_http_admin_topic(self, call);
	if (topic == NULL)
		return;
	/* unknown, not deleted or too late: {"restored": false} (node.md §6.2) */
	restored = msb_broker_undelete_topic(self->broker, topic, &error);
	if (!restored)
		g_debug("restore %s: %s", topic, error->message);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "restored");
	json_builder_add_boolean_value(b, restored);
	json_builder_end_object(b);
	msb_http_admin_reply_builder(call, b);
}

static void
msb_http_admin_persist_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	SoupMessageBody *req =
	        soup_server_message_get_request_body(msb_http_call_get_message(call));
	JsonObject *body = NULL;
	const gchar *topic = NULL;
	gboolean persist = TRUE;
	g_autofree gchar *text = NULL;

	if (!msb_http_admin_namespace(self, call))
		return;
	/* the reference takes a body; the query is accepted too, for curl users */
	if (req->length > 0) {
		body = msb_http_call_get_body_object(call, &error);
		if (body == NULL) {
			msb_http_call_reply_error(call, error, 0);
			return;
		}
	}
	if (!msb_http_bodies_decode_persist(body, msb_http_call_get_query(call, "topicId"),
	                                    msb_http_call_get_query(call, "persist"), &topic,
	                                    &persist, &error)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	if (!msb_broker_set_topic_persist(self->broker, topic, persist, &error)) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_FORBIDDEN);
		return;
	}
	/* the reference says "Topic is created" here (node.md §10 item 19) */
	text = g_strdup_printf("Topic %s: persist is %s", topic, persist ? "true" : "false");
	msb_http_call_reply_text(call, SOUP_STATUS_OK, text);
}

/* ---- queues ---- */

static void
msb_http_admin_list_queues_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_auto(GStrv) names = NULL;
	const gchar *topic;

	topic = msb_http_admin_topic(self, call);
	if (topic == NULL)
		return;
	names = msb_broker_list_queue_names(self->broker, topic, &error);
	if (names == NULL) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_NOT_FOUND);
		return;
	}
	json_builder_begin_array(b);
	for (guint i = 0; names[i] != NULL; i++)
		json_builder_add_string_value(b, names[i]);
	json_builder_end_array(b);
	msb_http_admin_reply_builder(call, b);
}

static void
msb_http_admin_delete_queue_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	const gchar *topic;
	const gchar *queue;

	if (!msb_http_admin_namespace(self, call))
		return;
	if ((topic = msb_http_admin_required(call, "topicId")) == NULL ||
	    (queue = msb_http_admin_required(call, "queueId")) == NULL)
		return;
	if (!msb_broker_delete_queue(self->broker, topic, queue, &error)) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_FORBIDDEN);
		return;
	}
	msb_http_call_reply_empty(call);
}

static void
msb_http_admin_set_message_id_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	const gchar *topic;
	const gchar *queue;
	gint64 message_id = 0;

	if (!msb_http_admin_namespace(self, call))
		return;
	if ((topic = msb_http_admin_required(call, "topicId")) == NULL ||
	    (queue = msb_http_admin_required(call, "queueId")) == NULL)
		return;
	if (!msb_http_call_query_int64(call, "messageId", TRUE, &message_id, &error) ||
	    !msb_broker_set_queue_message_id(self->broker, topic, queue, message_id, &error)) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_FORBIDDEN);
		return;
	}
	msb_http_call_reply_empty(call);
}

static void
msb_http_admin_set_max_messages_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	const gchar *topic;
	const gchar *queue;
	gint64 max_messages = 0;

	if (!msb_http_admin_namespace(self, call))
		return;
	if ((topic = msb_http_admin_required(call, "topicId")) == NULL ||
	    (queue = msb_http_admin_required(call, "queueId")) == NULL)
		return;
	/* optional: absent means no limit */
	if ((msb_http_call_get_query(call, "maxMessages") != NULL &&
	     !msb_http_call_query_int64(call, "maxMessages", FALSE, &max_messages, &error)) ||
	    !msb_broker_set_queue_max_messages(self->broker, topic, queue, max_messages, &error)) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_FORBIDDEN);
		return;
	}
	msb_http_call_reply_empty(call);
}

/* ---- sessions ---- */

static void
msb_http_admin_kick_session_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	gint64 id = 0;

	if (!msb_http_call_query_int64(call, "connectionId", TRUE, &id, &error) ||
	    !msb_broker_kick_session(self->broker, id, &error)) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_NOT_FOUND);
		return;
	}
	msb_http_call_reply_empty(call);
}

/* ---- debug ---- */

static void
msb_http_admin_min_message_id_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	const gchar *topic;
	gint64 min_id = 0;

	topic = msb_http_admin_topic(self, call);
	if (topic == NULL)
		return;
	if (!msb_broker_get_min_message_id(self->broker, topic, &min_id, &error)) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_NOT_FOUND);
		return;
	}
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "min_message_id");
	json_builder_add_int_value(b, min_id);
	json_builder_end_object(b);
	msb_http_admin_reply_builder(call, b);
}

static void
msb_http_admin_debug_queues_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GPtrArray) queues = NULL;
	const gchar *topic;

	topic = msb_http_admin_topic(self, call);
	if (topic == NULL)
		return;
	queues = msb_broker_debug_queues(self->broker, topic, &error);
	if (queues == NULL) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_NOT_FOUND);
		return;
	}
	json_builder_begin_array(b);
	for (guint q = 0; q < queues->len; q++) {
		const MsbDebugQueue *dq = g_ptr_array_index(queues, q);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "name");
		json_builder_add_string_value(b, dq->name);
		json_builder_set_member_name(b, "queue_type");
		json_builder_add_string_value(b, msb_queue_type_to_string(dq->type));
		json_builder_set_member_name(b, "subscribers");
		json_builder_begin_array(b);
		for (guint i = 0; i < dq->subscribers->len; i++) {
			const MsbDebugSubscriber *ds =
			        &g_array_index(dq->subscribers, MsbDebugSubscriber, i);
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "id");
			json_builder_add_int_value(b, ds->id);
			json_builder_set_member_name(b, "session_id");
			json_builder_add_int_value(b, ds->session_id);
			msb_http_admin_add_time(b, "subscribed", ds->subscribed_us);
			json_builder_set_member_name(b, "delivery_status");
			json_builder_add_string_value(b, ds->on_delivery ? "OnDelivery" : "Idle");
			msb_http_admin_add_time(b, "last_delivered", ds->last_delivered_us);
			json_builder_set_member_name(b, "last_delivered_amount");
			json_builder_add_int_value(b, ds->last_delivered_amount);
			/* when the batch now out was compiled and sent; null when idle */
			msb_http_admin_add_time(b, "delivery_compilation", ds->delivery_started_us);
			json_builder_set_member_name(b, "on_delivery_amount");
			json_builder_add_int_value(b, ds->in_flight);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	msb_http_admin_reply_builder(call, b);
}

static void
msb_http_admin_on_delivery_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	const gchar *topic;
	const gchar *queue;
	gint64 id = 0;

	if (!msb_http_admin_namespace(self, call))
		return;
	if ((topic = msb_http_admin_required(call, "topicId")) == NULL ||
	    (queue = msb_http_admin_required(call, "queueId")) == NULL)
		return;
	if (!msb_http_call_query_int64(call, "subscriberId", TRUE, &id, &error) ||
	    (text = msb_broker_debug_on_delivery(self->broker, topic, queue, id, &error)) == NULL) {
		msb_http_call_reply_error(call, error, SOUP_STATUS_NOT_FOUND);
		return;
	}
	msb_http_call_reply_text(call, SOUP_STATUS_OK, text);
}

static void
msb_http_admin_console_target_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	const gchar *topic;
	const gchar *queue = msb_http_call_get_query(call, "queueId");

	topic = msb_http_admin_required(call, "topicId");
	if (topic == NULL)
		return;
	if (!msb_broker_trace_set_target(self->broker, topic, queue, &error)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	text = g_strdup_printf("Delivery tracing is on for %s / %s", topic,
	                       queue != NULL && queue[0] != '\0' ? queue : "*");
	msb_http_call_reply_text(call, SOUP_STATUS_OK, text);
}

static void
msb_http_admin_console_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GPtrArray) records = NULL;
	const gchar *topic = NULL;
	const gchar *queue = NULL;
	gint64 tail = 0;
	gboolean clear = FALSE;
	gboolean enabled;
	guint count;

	if ((msb_http_call_get_query(call, "tail") != NULL &&
	     !msb_http_call_query_int64(call, "tail", FALSE, &tail, &error)) ||
	    (msb_http_call_get_query(call, "clear") != NULL &&
	     !msb_http_call_query_bool(call, "clear", FALSE, &clear, &error))) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	if (tail < 0 || tail > MSB_TRACE_RECORDS) {
		msb_http_call_reply_text(call, SOUP_STATUS_BAD_REQUEST,
		                         "the query parameter 'tail' must be 0 (all) to 1000\n");
		return;
	}
	/* clearing changes state: the admin token covers it as it covers the other actions */
	if (clear && !msb_http_call_check_admin(call))
		return;
	enabled = msb_broker_trace_get_target(self->broker, &topic, &queue);
	count = msb_broker_trace_count(self->broker);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "enabled");
	json_builder_add_boolean_value(b, enabled);
	json_builder_set_member_name(b, "topic_id");
	if (topic != NULL)
		json_builder_add_string_value(b, topic);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "queue_id");
	if (queue != NULL)
		json_builder_add_string_value(b, queue);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "records_count");
	json_builder_add_int_value(b, count);
	records = msb_broker_trace_read(self->broker, (guint)tail, clear);
	json_builder_set_member_name(b, "records");
	json_builder_begin_array(b);
	for (guint i = 0; i < records->len; i++) {
		const MsbTraceRecord *record = g_ptr_array_index(records, i);
		json_builder_begin_object(b);
		msb_http_admin_add_time(b, "date", record->wall_us);
		json_builder_set_member_name(b, "data");
		json_builder_add_string_value(b, record->data);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	msb_http_admin_reply_builder(call, b);
}

static void
msb_http_admin_console_off_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpAdmin *self = user_data;

	msb_broker_trace_stop(self->broker);
	msb_http_call_reply_text(call, SOUP_STATUS_OK, "Delivery tracing is off");
}

static const MsbHttpRoute msb_http_admin_routes[] = {
        {"GET", "/api/Namespaces/List", MSB_HTTP_ROUTE_NONE, msb_http_admin_namespaces_cb},
        {"POST", "/api/Topics/Create", MSB_HTTP_ROUTE_ADMIN, msb_http_admin_create_topic_cb},
        {"GET", "/api/Topics/Create", MSB_HTTP_ROUTE_NONE, msb_http_admin_list_topics_cb},
        {"DELETE", "/api/Topics/Delete", MSB_HTTP_ROUTE_ADMIN, msb_http_admin_delete_topic_cb},
        {"PUT", "/api/Topics/Restore", MSB_HTTP_ROUTE_ADMIN, msb_http_admin_restore_topic_cb},
        {"POST", "/api/Topics/Persist", MSB_HTTP_ROUTE_ADMIN, msb_http_admin_persist_cb},
        {"GET", "/api/Queues", MSB_HTTP_ROUTE_NONE, msb_http_admin_list_queues_cb},
        {"DELETE", "/api/Queues", MSB_HTTP_ROUTE_ADMIN, msb_http_admin_delete_queue_cb},
        {"POST", "/api/Queues/SetMessageId", MSB_HTTP_ROUTE_ADMIN,
         msb_http_admin_set_message_id_cb},
        {"POST", "/api/Queues/SetMaxMessagePerPayload", MSB_HTTP_ROUTE_ADMIN,
         msb_http_admin_set_max_messages_cb},
        {"DELETE", "/api/Sessions", MSB_HTTP_ROUTE_ADMIN, msb_http_admin_kick_session_cb},
        {"GET", "/api/Debug/MinMessageId", MSB_HTTP_ROUTE_NONE, msb_http_admin_min_message_id_cb},
        {"GET", "/api/Debug/GetQueues", MSB_HTTP_ROUTE_NONE, msb_http_admin_debug_queues_cb},
        {"GET", "/api/Debug/OnDelivery", MSB_HTTP_ROUTE_NONE, msb_http_admin_on_delivery_cb},
        {"POST", "/api/Debug/Console/Target", MSB_HTTP_ROUTE_ADMIN,
         msb_http_admin_console_target_cb},
        {"GET", "/api/Debug/Console", MSB_HTTP_ROUTE_NONE, msb_http_admin_console_cb},
        {"DELETE", "/api/Debug/Console", MSB_HTTP_ROUTE_ADMIN, msb_http_admin_console_off_cb},
};

MsbHttpAdmin *
msb_http_admin_new(MsbHttpRouter *router, MsbBroker *broker, MsbStatsReader *reader)
{
	MsbHttpAdmin *self;

	g_return_val_if_fail(router != NULL, NULL);
	g_return_val_if_fail(broker != NULL, NULL);
	g_return_val_if_fail(reader != NULL, NULL);
	self = g_new0(MsbHttpAdmin, 1);
	self->broker = broker;
	self->reader = reader;
	msb_http_router_add(router, msb_http_admin_routes, G_N_ELEMENTS(msb_http_admin_routes),
	                    self);
	return self;
}

void
msb_http_admin_free(MsbHttpAdmin *self)
{
	g_free(self);
}
