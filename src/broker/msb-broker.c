/*
 * MsbBroker: packet handling, delivery passes and periodic work.
 *
 * Reject texts for publish failures keep the Rust broker's wording (protocol.md §11.9) because
 * clients may log or match them; every other Reject starts with the name of what failed
 * ("Subscribe", "Confirm", "CreateTopic", "Namespace", "Greeting") so that a client can tell it
 * apart from a failed publish, which is the only Reject that replaces a PublishResponse.
 */
#define G_LOG_DOMAIN "msb-broker"

#include "msb-broker.h"

#include <string.h>

#include "msb-broker-private.h"
#include "msb-log.h"
#include "msb-session.h"

G_DEFINE_QUARK(msb - broker - error - quark, msb_broker_error)

gint64
msb_broker_now(MsbBroker *broker)
{
	if (broker->cb.now_monotonic != NULL)
		return broker->cb.now_monotonic(broker->user_data);
	return g_get_monotonic_time();
}

gint64
msb_broker_wall(MsbBroker *broker)
{
	if (broker->cb.now_wall != NULL)
		return broker->cb.now_wall(broker->user_data);
	return g_get_real_time();
}

static void
msb_session_free(MsbSession *session)
{
	g_queue_clear_full(&session->deferred, (GDestroyNotify)msb_deferred_response_free);
	g_ptr_array_unref(session->subscribers);
	msb_buf_clear(&session->out);
	g_free(session->peer);
	g_free(session->name);
	g_free(session->version);
	g_free(session->env_info);
	g_free(session->namespace_name);
	msb_session_clear_reject_log(session);
	g_free(session);
}

static gint
msb_topic_cmp_name_key(gconstpointer a, gconstpointer b)
{
	return strcmp(a, b);
}

static gint
msb_session_cmp_id_key(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;

	return x < y ? -1 : x > y;
}

MsbBroker *
msb_broker_new(const MsbBrokerConfig *config, const MsbBrokerCallbacks *callbacks,
               gpointer user_data)
{
	MsbBroker *broker;

	g_return_val_if_fail(config != NULL, NULL);
	g_return_val_if_fail(callbacks != NULL, NULL);
	g_return_val_if_fail(config->max_delivery_size > 0, NULL);
	g_return_val_if_fail(config->send_buffer_size > 0, NULL);

	broker = g_new0(MsbBroker, 1);
	broker->config = *config;
	broker->cb = *callbacks;
	broker->user_data = user_data;
	broker->topics = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                       (GDestroyNotify)msb_topic_free);
	broker->sessions = g_hash_table_new_full(g_direct_hash, g_direct_equal,
	                                         (GDestroyNotify)msb_session_free, NULL);
	broker->topics_by_name = g_tree_new(msb_topic_cmp_name_key);
	broker->sessions_by_id = g_tree_new(msb_session_cmp_id_key);
	broker->dirty_topics = g_ptr_array_new();
	broker->waiting_sessions = g_hash_table_new(g_direct_hash, g_direct_equal);
	broker->deleted_topics = g_ptr_array_new();
	return broker;
}

void
msb_broker_free(MsbBroker *broker)
{
	if (broker == NULL)
		return;
	msb_broker_admin_free(broker);
	msb_broker_events_free(broker);
	g_ptr_array_unref(broker->dirty_topics);
	g_hash_table_unref(broker->waiting_sessions);
	g_tree_unref(broker->topics_by_name);
	g_free(broker->gc_pass_last);
	g_tree_unref(broker->sessions_by_id);
	/* topics first: freeing a queue detaches its subscribers from their sessions */
	g_hash_table_unref(broker->topics);
	g_hash_table_unref(broker->sessions);
	g_free(broker);
}

const MsbBrokerConfig *
msb_broker_get_config(MsbBroker *broker)
{
	g_return_val_if_fail(broker != NULL, NULL);
	return &broker->config;
}

void
msb_broker_set_config(MsbBroker *broker, const MsbBrokerConfig *config)
{
	g_return_if_fail(broker != NULL);
	g_return_if_fail(config != NULL);
	g_return_if_fail(config->max_delivery_size > 0);
	g_return_if_fail(config->send_buffer_size > 0);
	g_return_if_fail(config->persistence == broker->config.persistence);
	broker->config = *config;
}

void
msb_broker_mark_dirty(MsbBroker *broker, MsbTopic *topic)
{
	if (topic->dirty)
		return;
	topic->dirty = TRUE;
	g_ptr_array_add(broker->dirty_topics, topic);
}

/* ---- topics ---- */

MsbTopic *
msb_broker_find_topic(MsbBroker *broker, const gchar *name)
{
	g_return_val_if_fail(broker != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);
	return g_hash_table_lookup(broker->topics, name);
}

MsbTopic *
msb_broker_create_topic(MsbBroker *broker, const gchar *name, GError **error)
{
	MsbTopic *topic;

	g_return_val_if_fail(broker != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	topic = g_hash_table_lookup(broker->topics, name);
	if (topic != NULL && topic->deleted_us != 0) {
		/* a soft-deleted topic comes back only through a restore (node.md §2.2) */
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_DELETED,
		            "TopicIsDeleted { topic_id: \"%s\" }", name);
		return NULL;
	}
	if (topic != NULL)
		return topic;
	if (broker->restoring) {
		g_set_error(
		        error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_BUSY,
		        "topic %s cannot be created while topics are restored from persistence; "
		        "try again in a moment",
		        name);
		return NULL;
	}
	if (!msb_topic_name_validate(name, strlen(name), error))
		return NULL;
	topic = msb_topic_new(name, 0, TRUE);
	topic->track_pending = broker->config.persistence && topic->persist;
	if (broker->config.persistence) {
		/* no id of it may be seen before a snapshot that lists the topic is saved */
		topic->reserved_until = 0;
		if (broker->cb.snapshot_wanted != NULL)
			broker->cb.snapshot_wanted(broker->user_data);
	}
	msb_broker_add_topic(broker, topic);
	msb_info_fields(MSB_LOG_TOPIC(name), "topic %s created", name);
	return topic;
}

void
msb_broker_add_topic(MsbBroker *broker, MsbTopic *topic)
{
	g_hash_table_insert(broker->topics, topic->name, topic);
	g_tree_insert(broker->topics_by_name, topic->name, topic);
	broker->generation++;
	msb_broker_emit_topic(broker, MSB_BROKER_EVENT_TOPIC_CREATED, topic->name);
}

GPtrArray *
msb_broker_list_topics(MsbBroker *broker)
{
	GPtrArray *list;

	g_return_val_if_fail(broker != NULL, NULL);
	list = g_ptr_array_sized_new(g_hash_table_size(broker->topics));
	for (GTreeNode *node = g_tree_node_first(broker->topics_by_name); node != NULL;
	     node = g_tree_node_next(node))
		g_ptr_array_add(list, g_tree_node_value(node));
	return list;
}

/* ---- sessions ---- */

GPtrArray *
msb_broker_list_sessions(MsbBroker *broker)
{
	GPtrArray *list;

	g_return_val_if_fail(broker != NULL, NULL);
	list = g_ptr_array_sized_new(g_hash_table_size(broker->sessions));
	for (GTreeNode *node = g_tree_node_first(broker->sessions_by_id); node != NULL;
	     node = g_tree_node_next(node))
		g_ptr_array_add(list, g_tree_node_value(node));
	return list;
}

MsbSession *
msb_broker_session_new(MsbBroker *broker, MsbSessionKind kind, const gchar *peer,
                       gpointer user_data)
{
	MsbSession *session;

	g_return_val_if_fail(broker != NULL, NULL);
	session = g_new0(MsbSession, 1);
	session->id = broker->next_session_id++;
	session->kind = kind;
	session->peer = g_strdup(peer);
	session->user_data = user_data;
	session->subscribers = g_ptr_array_new();
	session->connected_us = msb_broker_wall(broker);
	msb_buf_init(&session->out, 0);
	g_hash_table_add(broker->sessions, session);
	g_tree_insert(broker->sessions_by_id, &session->id, session);
	return session;
}

void
msb_broker_session_close(MsbBroker *broker, MsbSession *session)
{
	gint64 now;
	MsbBrokerEvent event = {.kind = MSB_BROKER_EVENT_SESSION_CLOSED};
	g_autofree gchar *name = NULL;
	g_autofree gchar *peer = NULL;

	g_return_if_fail(broker != NULL);
	g_return_if_fail(session != NULL);

	now = msb_broker_now(broker);
	/* every in-flight batch of this session goes back to its queue and out again at once */
	while (session->subscribers->len > 0) {
		MsbSubscriber *sub = g_ptr_array_steal_index(session->subscribers,
		                                             session->subscribers->len - 1);
		MsbQueue *queue = sub->queue;
		msb_broker_mark_dirty(broker, queue->topic);
		if (msb_broker_tracing(broker, queue->topic->name, queue->name)) {
			g_autofree gchar *ids = msb_broker_ids_text(&sub->in_flight, 20);
			msb_broker_trace(broker,
			                 "%s: session %" G_GINT64_FORMAT
			                 " closed; subscriber %" G_GINT64_FORMAT " returns %s",
			                 queue->name, session->id, sub->id, ids);
		}
		msb_queue_remove_subscriber(queue, sub, now);
	}
	msb_session_log_rejects_left_out(session);
	{
		g_autofree gchar *shown = msb_log_sanitize(session->name);
		MsbLogFields fields = msb_session_log_fields(session);

		msb_debug_fields(&fields, "session %" G_GINT64_FORMAT " (%s) closed", session->id,
		                 shown != NULL ? shown : "not greeted");
	}
	g_hash_table_remove(broker->waiting_sessions, session);
	/* told once the session is gone from the broker, so its fields are copied first */
	if (session->greeted && msb_broker_has_listeners(broker)) {
		event.session_id = session->id;
		event.session_kind = session->kind;
		event.session_name = name = g_strdup(session->name);
		event.peer = peer = g_strdup(session->peer);
	}
	g_tree_remove(broker->sessions_by_id, &session->id);
	g_hash_table_remove(broker->sessions, session);
	broker->generation++;
	if (name != NULL)
		msb_broker_emit(broker, &event);
	msb_broker_run_deliveries(broker);
}

void
msb_broker_session_count_io(MsbBroker *broker, MsbSession *session, gsize read, gsize written)
{
	gint64 now;
	gint64 second;

	g_return_if_fail(broker != NULL);
	g_return_if_fail(session != NULL);
	now = msb_broker_now(broker);
	second = msb_history_second(now);
	if (read > 0) {
		session->read_bytes += read;
		session->last_incoming_us = now;
		msb_rate_add(&session->read_rate, second, (gint64)read);
	}
	if (written > 0) {
		session->written_bytes += written;
		msb_rate_add(&session->written_rate, second, (gint64)written);
	}
}

void
msb_broker_session_drained(MsbBroker *broker, MsbSession *session)
{
	g_return_if_fail(broker != NULL);
	g_return_if_fail(session != NULL);
	for (guint i = 0; i < session->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(session->subscribers, i);
		msb_broker_mark_dirty(broker, sub->queue->topic);
	}
	msb_broker_run_deliveries(broker);
}

void
msb_broker_output(MsbBroker *broker, MsbSession *session)
{
	broker->cb.output_ready(session, broker->user_data);
}

/* The reason a MsbBrokerError gives a Reject, for its log line (a static string). */
static const gchar *
msb_broker_error_reason(const GError *error)
{
	if (error->domain != MSB_BROKER_ERROR)
		return "Error";
	switch (error->code) {
	case MSB_BROKER_ERROR_TOPIC_NOT_FOUND:
		return "TopicNotFound";
	case MSB_BROKER_ERROR_QUEUE_NOT_FOUND:
		return "QueueNotFound";
	case MSB_BROKER_ERROR_INVALID_NAME:
		return "InvalidName";
	case MSB_BROKER_ERROR_SHUTTING_DOWN:
		return "ShuttingDown";
	case MSB_BROKER_ERROR_ALREADY_SUBSCRIBED:
		return "AlreadySubscribed";
	case MSB_BROKER_ERROR_NOT_SUPPORTED:
		return "NotSupported";
	case MSB_BROKER_ERROR_TOPIC_DELETED:
		return "TopicIsDeleted";
	default:
		return "Protocol";
	}
}

/* Every Reject is logged, per session at most once per MSB_SESSION_REJECT_LOG_INTERVAL_US for
 * each @reason (a static string). */
static void
msb_broker_reject(MsbBroker *broker, MsbSession *session, const gchar *reason, const gchar *format,
                  ...) G_GNUC_PRINTF(4, 5);

static void
msb_broker_reject(MsbBroker *broker, MsbSession *session, const gchar *reason, const gchar *format,
                  ...)
{
	g_autofree gchar *text = NULL;
	va_list args;

	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	msb_session_log_reject(session, reason, text, msb_broker_now(broker));
	msb_wire_put_reject(&session->out, text);
	msb_broker_output(broker, session);
}

/* A failed publish: Reject now, or after the answers held before it, so that it keeps its place. */
static void
msb_broker_reject_publish(MsbBroker *broker, MsbSession *session, const gchar *reason,
                          const gchar *format, ...) G_GNUC_PRINTF(4, 5);

static void
msb_broker_reject_publish(MsbBroker *broker, MsbSession *session, const gchar *reason,
                          const gchar *format, ...)
{
	MsbDeferredResponse *held;
	va_list args;

	if (g_queue_is_empty(&session->deferred)) {
		g_autofree gchar *text = NULL;
		va_start(args, format);
		text = g_strdup_vprintf(format, args);
		va_end(args);
		msb_broker_reject(broker, session, reason, "%s", text);
		return;
	}
	held = g_new0(MsbDeferredResponse, 1);
	va_start(args, format);
	held->reject = g_strdup_vprintf(format, args);
	va_end(args);
	msb_session_log_reject(session, reason, held->reject, msb_broker_now(broker));
	g_queue_push_tail(&session->deferred, held);
	g_hash_table_add(broker->waiting_sessions, session);
}

/* A pstr as a C string; names are ≤ 255 bytes and validated UTF-8 without NUL. */
static void
msb_wire_str_copy(const MsbWireStr *s, gchar buf[256])
{
	memcpy(buf, s->str, s->len);
	buf[s->len] = '\0';
}

/* ---- packets ---- */

static gboolean
msb_broker_handle_greeting(MsbBroker *broker, MsbSession *session, const MsbPacket *packet,
                           GError **error)
{
	gchar name[256];
	g_auto(GStrv) parts = NULL;
	gint32 version = packet->greeting.protocol_version;

	msb_wire_str_copy(&packet->greeting.name, name);
	if (session->greeted) {
		msb_broker_reject(broker, session, "Greeting",
		                  "Greeting: this connection has already sent a Greeting");
		g_set_error_literal(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_PROTOCOL,
		                    "second Greeting on one connection");
		return FALSE;
	}
	if (version < MSB_WIRE_PROTOCOL_MIN) {
		msb_broker_reject(broker, session, "Greeting",
		                  "Greeting: protocol version %d is not supported; use 2 or 3",
		                  version);
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_PROTOCOL,
		            "client %s asked for unsupported protocol version %d", name, version);
		return FALSE;
	}
	session->protocol_version = MIN(version, MSB_WIRE_PROTOCOL_MAX);
	session->greeted = TRUE;
	parts = g_strsplit(name, ";", 3);
	session->name = g_strdup(parts[0] != NULL ? parts[0] : "");
	if (parts[0] != NULL && parts[1] != NULL) {
		session->version = g_strdup(parts[1]);
		if (parts[2] != NULL)
			session->env_info = g_strdup(parts[2]);
	}
	{
		g_autofree gchar *shown = msb_log_sanitize(name);
		MsbLogFields fields = msb_session_log_fields(session);

		msb_debug_fields(&fields,
		                 "session %" G_GINT64_FORMAT
		                 " from %s: greeted as '%s' (protocol %d)",
		                 session->id, session->peer, shown, session->protocol_version);
	}
	if (msb_broker_has_listeners(broker)) {
		MsbBrokerEvent event = {
		        .kind = MSB_BROKER_EVENT_SESSION_CONNECTED,
		        .session_id = session->id,
		        .session_name = session->name,
		        .peer = session->peer,
		        .session_kind = session->kind,
		};
		msb_broker_emit(broker, &event);
	}
	return TRUE;
}

static gboolean
msb_namespace_validate(const gchar *name, gsize len, const gchar **reason)
{
	if (len < 1 || len > 63) {
		*reason = "It must be 1 to 63 characters long";
		return FALSE;
	}
	if (name[0] == '-') {
		*reason = "It may not start with '-'";
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		gchar c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			*reason = "It may contain only a-z, 0-9 and '-'";
			return FALSE;
		}
	}
	return TRUE;
}

static void
msb_broker_handle_set_namespace(MsbBroker *broker, MsbSession *session, const MsbPacket *packet)
{
	gchar name[256];
	const gchar *reason = NULL;
	const gchar *current;

	msb_wire_str_copy(&packet->set_namespace.name, name);
	if (!session->greeted) {
		msb_broker_reject(broker, session, "Namespace",
		                  "Namespace can not be set before the Greeting packet");
		return;
	}
	if (!msb_namespace_validate(name, packet->set_namespace.name.len, &reason)) {
		msb_broker_reject(broker, session, "Namespace", "Namespace '%s' is invalid. %s",
		                  name, reason);
		return;
	}
	current = session->namespace_name != NULL ? session->namespace_name : "default";
	if (g_strcmp0(current, name) == 0)
		return;
	if (session->namespace_locked) {
		msb_broker_reject(broker, session, "Namespace",
		                  "Namespace can not be changed to '%s' after the connection has "
		                  "published or subscribed",
		                  name);
		return;
	}
	g_clear_pointer(&session->namespace_name, g_free);
	if (g_strcmp0(name, "default") == 0)
		return;
	/* Namespaces other than "default" are not built yet. Remember the choice so that this
	 * connection's publishes and subscribes are refused rather than silently landing in the
	 * default namespace. */
	session->namespace_name = g_strdup(name);
	msb_broker_reject(broker, session, "Namespace",
	                  "Namespace '%s' is not supported by this broker (only 'default'); "
	                  "publishes and subscribes on this connection will be refused",
	                  name);
}

static MsbTopic *
msb_broker_resolve_topic(MsbBroker *broker, const gchar *name, gboolean auto_create, GError **error)
{
	MsbTopic *topic = g_hash_table_lookup(broker->topics, name);
	g_autoptr(GError) error_local = NULL;

	if (topic != NULL && topic->deleted_us != 0) {
		/* existing subscribers and confirmations go on; nothing new starts */
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_DELETED,
		            "TopicIsDeleted { topic_id: \"%s\" }", name);
		return NULL;
	}
	if (topic != NULL)
		return topic;
	if (!auto_create) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND,
		            "TopicNotFound { topic_id: \"%s\" }", name);
		return NULL;
	}
	topic = msb_broker_create_topic(broker, name, &error_local);
	if (topic == NULL) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME,
		            "TopicOrQueueValidationError(\"%s\")", error_local->message);
		return NULL;
	}
	return topic;
}

static void
msb_broker_handle_publish(MsbBroker *broker, MsbSession *session, const MsbPacket *packet)
{
	gchar name[256];
	MsbTopic *topic;
	guint n;
	gint64 first;
	gint64 pending_before;
	gboolean need_durable;
	gboolean need_reserved;
	g_autoptr(GError) error = NULL;

	msb_wire_str_copy(&packet->publish.topic, name);
	session->namespace_locked = TRUE;
	if (session->namespace_name != NULL) {
		msb_broker_reject_publish(broker, session, "NotSupported",
		                          "NotSupported { namespace: \"%s\" }",
		                          session->namespace_name);
		return;
	}
	if (broker->shutting_down) {
		msb_broker_reject_publish(broker, session, "ShuttingDown", "ShuttingDown");
		return;
	}
	topic = msb_broker_resolve_topic(broker, name, broker->config.auto_create_topic_on_publish,
	                                 &error);
	if (topic == NULL) {
		msb_broker_reject_publish(broker, session, msb_broker_error_reason(error), "%s",
		                          error->message);
		return;
	}
	n = packet->publish.n_messages;
	if (topic->track_pending && broker->config.max_pending_bytes > 0 && n > 0 &&
	    (gsize)broker->pending_bytes >= broker->config.max_pending_bytes) {
		/* persistence is down or behind: refuse rather than grow without bound */
		msb_broker_reject_publish(
		        broker, session, "PersistenceUnavailable",
		        "PersistenceUnavailable { pending_bytes: %" G_GINT64_FORMAT
		        ", limit: %" G_GSIZE_FORMAT " }",
		        broker->pending_bytes, broker->config.max_pending_bytes);
		return;
	}
	pending_before = topic->pending_bytes;
	first = msb_topic_append(topic, packet->publish.messages, n, msb_broker_wall(broker));
	msb_topic_count_publish(topic, session->id, n, msb_history_second(msb_broker_now(broker)));
	session->publishes++;
	if (n > 0) {
		msb_broker_mark_dirty(broker, topic);
		broker->generation++;
		if (msb_broker_tracing(broker, topic->name, NULL))
			msb_broker_trace(broker,
			                 "publish by session %" G_GINT64_FORMAT
			                 ": ids %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
			                 session->id, first, first + n - 1);
	}
	if (topic->track_pending && n > 0) {
		broker->pending_bytes += topic->pending_bytes - pending_before;
		broker->pending_count += n;
		if (broker->cb.save_wanted != NULL)
			broker->cb.save_wanted(broker->user_data);
	}
	if (n > 0 && broker->config.persistence &&
	    topic->next_id + MSB_BROKER_ID_RESERVE / 2 > topic->reserved_until &&
	    broker->cb.snapshot_wanted != NULL)
		broker->cb.snapshot_wanted(broker->user_data);
	/*
	 * Held answers: a persist_immediately publish once its messages are saved; a publish whose
	 * ids go beyond the saved reservation once a snapshot reserving them is saved (until then a
	 * crash could hand the same ids out again); and every answer after a held one, so that a
	 * connection's responses keep their order.
	 */
	need_durable = packet->publish.persist_immediately && topic->track_pending && n > 0;
	need_reserved = n > 0 && first + n - 1 >= topic->reserved_until;
	if (need_durable || need_reserved || !g_queue_is_empty(&session->deferred)) {
		MsbDeferredResponse *held = g_new0(MsbDeferredResponse, 1);
		held->request_id = packet->publish.request_id;
		if (need_durable || need_reserved) {
			held->topic = topic;
			held->wait_id = first + n - 1;
			held->need_durable = need_durable;
		}
		g_queue_push_tail(&session->deferred, held);
		g_hash_table_add(broker->waiting_sessions, session);
		msb_broker_release_deferred(broker);
		return;
	}
	msb_wire_put_publish_response(&session->out, packet->publish.request_id);
	msb_broker_output(broker, session);
}

static void
msb_broker_evict_subscribers(MsbBroker *broker, MsbQueue *queue)
{
	gint64 now = msb_broker_now(broker);

	while (queue->subscribers->len > 0) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, 0);
		g_info("subscriber %" G_GINT64_FORMAT " of %s/%s evicted by a new subscriber of "
		       "the single-connection queue",
		       sub->id, queue->topic->name, queue->name);
		msb_session_forget_subscriber(sub->session, sub);
		msb_queue_remove_subscriber(queue, sub, now);
	}
}

static void
msb_broker_handle_subscribe(MsbBroker *broker, MsbSession *session, const MsbPacket *packet)
{
	gchar topic_name[256];
	gchar queue_name[256];
	MsbQueueType type = msb_queue_type_from_wire(packet->subscribe.queue_type);
	MsbTopic *topic;
	MsbQueue *queue;
	MsbSubscriber *sub;
	gboolean queue_created = FALSE;
	g_autoptr(GError) error = NULL;

	msb_wire_str_copy(&packet->subscribe.topic, topic_name);
	msb_wire_str_copy(&packet->subscribe.queue, queue_name);
	session->namespace_locked = TRUE;
	if (session->namespace_name != NULL) {
		msb_broker_reject(broker, session, "NotSupported",
		                  "Subscribe to %s/%s failed: namespace '%s' is not supported",
		                  topic_name, queue_name, session->namespace_name);
		return;
	}
	topic = msb_broker_resolve_topic(broker, topic_name,
	                                 broker->config.auto_create_topic_on_subscribe, &error);
	if (topic == NULL) {
		msb_broker_reject(broker, session, msb_broker_error_reason(error),
		                  "Subscribe to %s/%s failed: %s", topic_name, queue_name,
		                  error->message);
		return;
	}
	queue = msb_topic_find_queue(topic, queue_name);
	if (queue != NULL) {
		for (guint i = 0; i < session->subscribers->len; i++) {
			MsbSubscriber *other = g_ptr_array_index(session->subscribers, i);
			if (other->queue == queue) {
				msb_broker_reject(broker, session, "AlreadySubscribed",
				                  "Subscribe to %s/%s failed: this connection is "
				                  "already subscribed to that queue",
				                  topic_name, queue_name);
				return;
			}
		}
		if (queue->type != type) {
			msb_info_fields(MSB_LOG_QUEUE(topic_name, queue_name),
			                "queue %s/%s changes type from %d to %d", topic_name,
			                queue_name, queue->type, type);
			queue->type = type;
		}
		if (msb_queue_type_is_single_connection(type))
			msb_broker_evict_subscribers(broker, queue);
	} else {
		queue = msb_topic_add_queue(topic, queue_name, type, msb_broker_now(broker));
		queue_created = TRUE;
		msb_info_fields(MSB_LOG_QUEUE(topic_name, queue_name),
		                "queue %s/%s created (type %d)", topic_name, queue_name, type);
	}
	sub = msb_queue_add_subscriber(queue, session, broker->next_subscriber_id++);
	sub->subscribed_wall_us = msb_broker_wall(broker);
	g_ptr_array_add(session->subscribers, sub);
	broker->generation++;
	if (msb_broker_tracing(broker, topic_name, queue_name))
		msb_broker_trace(broker,
		                 "%s: session %" G_GINT64_FORMAT
		                 " subscribed as subscriber %" G_GINT64_FORMAT,
		                 queue_name, session->id, sub->id);
	g_debug("session %" G_GINT64_FORMAT " subscribed to %s/%s as subscriber %" G_GINT64_FORMAT,
	        session->id, topic_name, queue_name, sub->id);
	msb_broker_mark_dirty(broker, topic);
	if (queue_created)
		msb_broker_emit_queue(broker, MSB_BROKER_EVENT_QUEUE_CREATED, topic_name,
		                      queue_name, type);
}

static void
msb_broker_handle_create_topic(MsbBroker *broker, MsbSession *session, const MsbPacket *packet)
{
	gchar name[256];
	g_autoptr(GError) error = NULL;

	msb_wire_str_copy(&packet->create_topic.topic, name);
	if (session->namespace_name != NULL) {
		msb_broker_reject(broker, session, "NotSupported",
		                  "CreateTopic %s failed: namespace '%s' is not supported", name,
		                  session->namespace_name);
		return;
	}
	if (msb_broker_create_topic(broker, name, &error) == NULL)
		msb_broker_reject(broker, session, msb_broker_error_reason(error),
		                  "CreateTopic %s failed: %s", name, error->message);
}

/* Build an id set from wire ranges, skipping the ones that cannot name a message id. */
static void
msb_id_set_from_wire(MsbIdSet *set, const MsbWireRange *ranges, guint n)
{
	for (guint i = 0; i < n; i++) {
		gint64 from = MAX(ranges[i].from_id, 0);
		gint64 to = MIN(ranges[i].to_id, G_MAXINT64 - 1);
		if (from <= to)
			msb_id_set_add_range(set, from, to);
	}
}

static void
msb_broker_handle_confirm(MsbBroker *broker, MsbSession *session, const MsbPacket *packet)
{
	gboolean ids_packet = packet->id == MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK ||
	                      packet->id == MSB_PACKET_INTERMEDIARY_CONFIRM;
	const MsbWireStr *wtopic = ids_packet ? &packet->confirm_ids.topic : &packet->confirm.topic;
	const MsbWireStr *wqueue = ids_packet ? &packet->confirm_ids.queue : &packet->confirm.queue;
	gint64 confirmation_id =
	        ids_packet ? packet->confirm_ids.confirmation_id : packet->confirm.confirmation_id;
	gchar topic_name[256];
	gchar queue_name[256];
	MsbTopic *topic;
	MsbQueue *queue;
	MsbSubscriber *sub;
	MsbIdSet done;
	gint64 in_flight;
	guint64 delivered;
	gint64 now;

	msb_wire_str_copy(wtopic, topic_name);
	msb_wire_str_copy(wqueue, queue_name);
	topic = g_hash_table_lookup(broker->topics, topic_name);
	if (topic == NULL) {
		msb_broker_reject(broker, session, "TopicNotFound",
		                  "Confirm for %s/%s failed: TopicNotFound { topic_id: \"%s\" }",
		                  topic_name, queue_name, topic_name);
		return;
	}
	queue = msb_topic_find_queue(topic, queue_name);
	if (queue == NULL) {
		msb_broker_reject(broker, session, "QueueNotFound",
		                  "Confirm for %s/%s failed: QueueNotFound { queue_id: \"%s\" }",
		                  topic_name, queue_name, queue_name);
		return;
	}
	sub = msb_queue_find_subscriber(queue, confirmation_id);
	if (sub == NULL || sub->session != session || sub->state != MSB_SUBSCRIBER_ON_DELIVERY) {
		/* an evicted or gone subscriber, or a batch already ended: nothing to do */
		g_debug("session %" G_GINT64_FORMAT ": %s for %s/%s id %" G_GINT64_FORMAT
		        " has no batch in flight; ignored",
		        session->id, msb_packet_id_to_string(packet->id), topic_name, queue_name,
		        confirmation_id);
		return;
	}
	if (msb_broker_tracing(broker, topic_name, queue_name)) {
		g_autofree gchar *ids = msb_broker_ids_text(&sub->in_flight, 20);
		msb_broker_trace(broker, "%s: subscriber %" G_GINT64_FORMAT " %s; in flight: %s",
		                 queue_name, sub->id, msb_packet_id_to_string(packet->id), ids);
	}
	in_flight = msb_id_set_count(&sub->in_flight);
	delivered = sub->delivered;
	now = msb_broker_now(broker);
	if (packet->id != MSB_PACKET_INTERMEDIARY_CONFIRM)
		msb_histogram_observe(&broker->delivery_latency, now - sub->delivery_started_us);
	switch (packet->id) {
	case MSB_PACKET_NEW_MESSAGES_CONFIRMATION:
		msb_queue_confirm_all(queue, sub);
		break;
	case MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL:
		msb_queue_end_batch(queue, sub, NULL);
		break;
	case MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK:
	case MSB_PACKET_INTERMEDIARY_CONFIRM:
		msb_id_set_init(&done, 0);
		msb_id_set_from_wire(&done, packet->confirm_ids.ranges,
		                     packet->confirm_ids.n_ranges);
		if (packet->id == MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK)
			msb_queue_end_batch(queue, sub, &done);
		else
			msb_queue_confirm_partial(queue, sub, &done, now);
		msb_id_set_clear(&done);
		break;
	default:
		g_assert_not_reached();
	}
	topic->messages_delivered += sub->delivered - delivered;
	/* the latency history counts whole batches: what is still in flight is counted when the
	 * batch ends */
	if (sub->state == MSB_SUBSCRIBER_IDLE) {
		gint64 ok = (gint64)(sub->delivered - delivered);
		msb_subscriber_count_batch(sub, msb_history_second(now),
		                           now - sub->delivery_started_us, ok, in_flight - ok);
	}
	topic->gc_due = TRUE;
	broker->generation++;
	msb_broker_mark_dirty(broker, topic);
}

gboolean
msb_broker_handle_packet(MsbBroker *broker, MsbSession *session, const MsbPacket *packet,
                         GError **error)
{
	g_return_val_if_fail(broker != NULL, FALSE);
	g_return_val_if_fail(session != NULL, FALSE);
	g_return_val_if_fail(packet != NULL, FALSE);

	switch (packet->id) {
	case MSB_PACKET_PING:
		msb_wire_put_pong(&session->out);
		msb_broker_output(broker, session);
		return TRUE;
	case MSB_PACKET_GREETING:
		return msb_broker_handle_greeting(broker, session, packet, error);
	case MSB_PACKET_SET_NAMESPACE:
		msb_broker_handle_set_namespace(broker, session, packet);
		return TRUE;
	case MSB_PACKET_PONG:
	case MSB_PACKET_PUBLISH_RESPONSE:
	case MSB_PACKET_SUBSCRIBE_RESPONSE:
	case MSB_PACKET_NEW_MESSAGES:
	case MSB_PACKET_REJECT:
	case MSB_PACKET_MESSAGES_CONFIRMATION_LEGACY:
		/* server-to-client packets and the obsolete C# confirmation: decoded, ignored */
		return TRUE;
	default:
		break;
	}

	/* the rest needs a session: before Greeting it is parsed and dropped (protocol.md §5.5) */
	if (!session->greeted) {
		g_debug("session %" G_GINT64_FORMAT ": %s before Greeting dropped", session->id,
		        msb_packet_id_to_string(packet->id));
		return TRUE;
	}
	switch (packet->id) {
	case MSB_PACKET_PACKET_VERSIONS:
		if (packet->packet_versions.has_new_messages_version)
			session->new_messages_version =
			        packet->packet_versions.new_messages_version;
		break;
	case MSB_PACKET_PUBLISH:
		msb_broker_handle_publish(broker, session, packet);
		break;
	case MSB_PACKET_SUBSCRIBE:
		msb_broker_handle_subscribe(broker, session, packet);
		break;
	case MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS:
		msb_broker_handle_create_topic(broker, session, packet);
		break;
	case MSB_PACKET_NEW_MESSAGES_CONFIRMATION:
	case MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL:
	case MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK:
	case MSB_PACKET_INTERMEDIARY_CONFIRM:
		msb_broker_handle_confirm(broker, session, packet);
		break;
	default:
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_PROTOCOL,
		            "unexpected packet id %d", packet->id);
		return FALSE;
	}
	return TRUE;
}

/* ---- delivery ---- */

static MsbSubscriber *
msb_broker_idle_subscriber(MsbBroker *broker, MsbQueue *queue)
{
	for (guint i = 0; i < queue->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
		if (sub->state != MSB_SUBSCRIBER_IDLE || sub->session->closing)
			continue;
		/* a slow consumer gets nothing new until its socket drains */
		if (msb_buf_pending(&sub->session->out) >= broker->config.send_buffer_size)
			continue;
		return sub;
	}
	return NULL;
}

/* One NewMessages batch for @sub from @queue; FALSE when there was nothing to send. */
static gboolean
msb_broker_deliver_batch(MsbBroker *broker, MsbTopic *topic, MsbQueue *queue, MsbSubscriber *sub,
                         gint64 now)
{
	MsbSession *session = sub->session;
	MsbBuf *out = &session->out;
	/* counted from the unread head, like count_at: writing the batch may compact the buffer
	 * (msb_buf_grow() moves the pending bytes to the front), and a rollback to an absolute
	 * offset would then expose stale bytes as output */
	gsize start = msb_buf_pending(out);
	gsize count_at = 0;
	gsize bytes = 0;
	guint count = 0;
	guint redelivered = 0;
	gint32 attempt;
	guint max_count = queue->max_messages_per_payload;
	MsbSubPage *sp = NULL;

	if (!msb_wire_new_messages_begin(out, topic->name, queue->name, sub->id, &count_at, NULL))
		return FALSE;
	while (bytes < broker->config.max_delivery_size && (max_count == 0 || count < max_count) &&
	       !msb_id_set_is_empty(&queue->waiting)) {
		gint64 id = msb_id_set_min(&queue->waiting);
		MsbMessage *msg;

		if (id >= topic->reserved_until)
			break; /* not reserved by a saved snapshot yet: not visible */
		if (id >= topic->next_id) {
			/* a cursor moved past the end (SetMessageId): nothing published there */
			msb_id_set_remove_range(&queue->waiting, id, G_MAXINT64 - 1);
			break;
		}
		if (sp == NULL || !msb_sub_page_holds(sp, id)) {
			sp = msb_topic_find_sub_page(topic, id);
			if (msb_broker_can_reload(broker, topic)) {
				/* the sub-page needed now first (loads may be served in order),
				 * then read ahead so that a backlog streams instead of stalling */
				if (sp == NULL)
					msb_broker_request_load(broker, topic, msb_sub_page_no(id),
					                        FALSE);
				for (gint64 k = 1; k <= MSB_TOPIC_READ_AHEAD; k++)
					msb_broker_request_load(broker, topic,
					                        msb_sub_page_no(id) + k, FALSE);
			}
		}
		if (msb_broker_can_reload(broker, topic) &&
		    (sp == NULL || msb_sub_page_get(sp, id)->state == MSB_MESSAGE_ABSENT)) {
			/* Saved and collected, or never loaded (after a restart the write sub-page
			 * holds only what was published since): the batch ends here and resumes
			 * once the sub-page is loaded (node.md §3.8). An absent id is not a
			 * missing one: consuming it would lose a saved message. */
			if (sp != NULL)
				msb_broker_request_load(broker, topic, msb_sub_page_no(id), TRUE);
			break;
		}
		if (sp == NULL) {
			/* In memory there is no other copy: GC only drops what no queue needs, so
			 * this is a gap; skip the rest of the sub-page. */
			gint64 last = (msb_sub_page_no(id) + 1) * MSB_SUB_PAGE_SIZE - 1;
			msb_warning_fields(MSB_LOG_QUEUE(topic->name, queue->name),
			                   "%s/%s: messages %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
			                   " are not in memory; skipped",
			                   topic->name, queue->name, id, last);
			msb_id_set_remove_range(&queue->waiting, id, last);
			continue;
		}
		msg = msb_sub_page_get(sp, id);
		msb_id_set_pop_min(&queue->waiting);
		if (msg->state != MSB_MESSAGE_LOADED)
			continue; /* missing: consumed without delivery */
		attempt = msb_queue_get_attempt(queue, id);
		if (attempt > 0)
			redelivered++;
		msb_wire_new_messages_add(
		        out, session->protocol_version, session->new_messages_version, id, attempt,
		        msg->data, msg->headers_len, msb_message_content(msg), msg->content_len);
		msb_id_set_add(&sub->in_flight, id);
		bytes += msg->content_len;
		count++;
	}
	if (count == 0) {
		out->len = out->off + start;
		return FALSE;
	}
	msb_wire_new_messages_end(out, count_at, count);
	topic->messages_redelivered += redelivered;
	sub->state = MSB_SUBSCRIBER_ON_DELIVERY;
	sub->delivery_started_us = sub->last_update_us = now;
	sub->last_delivered_wall_us = msb_broker_wall(broker);
	sub->last_delivered_amount = count;
	if (msb_broker_tracing(broker, topic->name, queue->name)) {
		g_autofree gchar *ids = msb_broker_ids_text(&sub->in_flight, 20);
		msb_broker_trace(broker,
		                 "%s: batch of %u messages (%" G_GSIZE_FORMAT
		                 " bytes) to subscriber %" G_GINT64_FORMAT
		                 " of session %" G_GINT64_FORMAT ": %s",
		                 queue->name, count, bytes, sub->id, session->id, ids);
	}
	sub->delivery_second = msb_history_second(now);
	msb_broker_output(broker, session);
	return TRUE;
}

static void
msb_broker_deliver_topic(MsbBroker *broker, MsbTopic *topic, gint64 now)
{
	for (guint q = 0; q < topic->queues->len; q++) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, q);
		while (!msb_id_set_is_empty(&queue->waiting)) {
			MsbSubscriber *sub = msb_broker_idle_subscriber(broker, queue);
			if (sub == NULL)
				break;
			if (!msb_broker_deliver_batch(broker, topic, queue, sub, now))
				break;
		}
	}
}

void
msb_broker_run_deliveries(MsbBroker *broker)
{
	gint64 now;

	g_return_if_fail(broker != NULL);
	if (broker->dirty_topics->len == 0 || broker->delivering)
		return;
	broker->delivering = TRUE;
	now = msb_broker_now(broker);
	/* the length is re-read: a pass may make another topic due */
	for (guint i = 0; i < broker->dirty_topics->len; i++) {
		MsbTopic *topic = g_ptr_array_index(broker->dirty_topics, i);
		topic->dirty = FALSE;
		msb_broker_deliver_topic(broker, topic, now);
		if (topic->gc_due)
			msb_topic_gc(topic, msb_broker_can_reload(broker, topic));
	}
	g_ptr_array_set_size(broker->dirty_topics, 0);
	broker->delivering = FALSE;
}

/* ---- periodic work ---- */

static void
msb_broker_kick_dead_subscribers(MsbBroker *broker, gint64 now)
{
	GHashTableIter iter;
	gpointer key;
	g_autoptr(GPtrArray) dead = g_ptr_array_new();

	g_hash_table_iter_init(&iter, broker->sessions);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		MsbSession *session = key;
		if (session->closing)
			continue;
		for (guint i = 0; i < session->subscribers->len; i++) {
			MsbSubscriber *sub = g_ptr_array_index(session->subscribers, i);
			if (sub->state == MSB_SUBSCRIBER_ON_DELIVERY &&
			    now - sub->last_update_us > broker->config.delivery_timeout_us) {
				g_autofree gchar *shown = msb_log_sanitize(session->name);
				MsbLogFields fields = msb_session_log_fields(session);

				fields.topic = sub->queue->topic->name;
				fields.queue = sub->queue->name;
				msb_warning_fields(
				        &fields,
				        "session %" G_GINT64_FORMAT
				        " (%s): subscriber %" G_GINT64_FORMAT
				        " of %s/%s has held a batch for %" G_GINT64_FORMAT
				        " ms without confirming; disconnecting it",
				        session->id, shown, sub->id, sub->queue->topic->name,
				        sub->queue->name, (now - sub->last_update_us) / 1000);
				g_ptr_array_add(dead, session);
				break;
			}
		}
	}
	/* the callback may close sessions right away, so not while iterating */
	for (guint i = 0; i < dead->len; i++) {
		MsbSession *session = g_ptr_array_index(dead, i);
		session->closing = TRUE;
		broker->cb.disconnect(session, "delivery timeout", broker->user_data);
	}
}

/* Publishers whose session is gone leave the status page (and the topic's memory). */
static void
msb_broker_prune_publishers(MsbBroker *broker, MsbTopic *topic)
{
	if (topic->publishers == NULL)
		return;
	for (guint i = topic->publishers->len; i > 0; i--) {
		MsbTopicPublisher *p = &g_array_index(topic->publishers, MsbTopicPublisher, i - 1);
		if (g_tree_lookup(broker->sessions_by_id, &p->session_id) == NULL)
			g_array_remove_index_fast(topic->publishers, i - 1);
	}
}

static void
msb_broker_gc_topic(MsbBroker *broker, MsbTopic *topic, gint64 now)
{
	for (guint q = topic->queues->len; q > 0; q--) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, q - 1);
		/* deleted once *more* than the timeout has passed (node.md §2.5), the same
		 * strict rule as the delivery timeout */
		if (!msb_queue_type_is_auto_delete(queue->type) || queue->subscribers->len > 0 ||
		    now - queue->last_unsubscribe_us <= broker->config.queue_gc_timeout_us)
			continue;
		g_autofree gchar *name = g_strdup(queue->name);
		MsbQueueType type = queue->type;

		msb_info_fields(MSB_LOG_QUEUE(topic->name, queue->name),
		                "queue %s/%s deleted: no subscriber for %" G_GINT64_FORMAT " ms",
		                topic->name, queue->name,
		                (now - queue->last_unsubscribe_us) / 1000);
		msb_topic_remove_queue(topic, queue);
		broker->generation++;
		msb_broker_emit_queue(broker, MSB_BROKER_EVENT_QUEUE_REMOVED, topic->name, name,
		                      type);
	}
	msb_broker_prune_publishers(broker, topic);
	msb_topic_gc(topic, msb_broker_can_reload(broker, topic));
}

void
msb_broker_tick_begin(MsbBroker *broker)
{
	gint64 now;

	g_return_if_fail(broker != NULL);
	now = msb_broker_now(broker);
	msb_broker_kick_dead_subscribers(broker, now);
	msb_broker_hard_delete_due(broker);
	/* a pass still under way goes on from its cursor: two passes would only repeat work */
	if (!broker->gc_pass_running) {
		broker->gc_pass_running = TRUE;
		g_clear_pointer(&broker->gc_pass_last, g_free);
	}
	msb_broker_run_deliveries(broker);
}

gboolean
msb_broker_tick_step(MsbBroker *broker, guint budget)
{
	GTreeNode *node;
	MsbTopic *topic = NULL;
	gint64 now;

	g_return_val_if_fail(broker != NULL, FALSE);
	g_return_val_if_fail(budget > 0, FALSE);
	if (!broker->gc_pass_running)
		return FALSE;
	/* each slice reads the clock: a queue judged later has only waited longer */
	now = msb_broker_now(broker);
	node = broker->gc_pass_last == NULL
	               ? g_tree_node_first(broker->topics_by_name)
	               : g_tree_upper_bound(broker->topics_by_name, broker->gc_pass_last);
	for (guint n = 0; node != NULL && n < budget; node = g_tree_node_next(node), n++) {
		topic = g_tree_node_value(node);
		msb_broker_gc_topic(broker, topic, now);
	}
	/* what the GC changed is delivered now, as when the pass ran in one go */
	msb_broker_run_deliveries(broker);
	if (node == NULL) {
		broker->gc_pass_running = FALSE;
		g_clear_pointer(&broker->gc_pass_last, g_free);
		return FALSE;
	}
	g_free(broker->gc_pass_last);
	broker->gc_pass_last = g_strdup(topic->name);
	return TRUE;
}

void
msb_broker_tick(MsbBroker *broker)
{
	g_return_if_fail(broker != NULL);
	msb_broker_tick_begin(broker);
	while (msb_broker_tick_step(broker, G_MAXUINT))
		;
}

void
msb_broker_begin_shutdown(MsbBroker *broker)
{
	g_return_if_fail(broker != NULL);
	broker->shutting_down = TRUE;
}

guint
msb_broker_count_batches_in_flight(MsbBroker *broker)
{
	GHashTableIter iter;
	gpointer key;
	guint n = 0;

	g_return_val_if_fail(broker != NULL, 0);
	g_hash_table_iter_init(&iter, broker->sessions);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		MsbSession *session = key;
		for (guint i = 0; i < session->subscribers->len; i++) {
			MsbSubscriber *sub = g_ptr_array_index(session->subscribers, i);
			if (sub->state == MSB_SUBSCRIBER_ON_DELIVERY)
				n++;
		}
	}
	return n;
}
