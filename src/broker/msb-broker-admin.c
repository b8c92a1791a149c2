/*
 * The administrative operations (see msb-broker-admin.h): soft and hard topic deletion, the
 * persist flag, queue deletion and cursors, kicking a session, and the debug reads and
 * delivery-trace console. Error texts for "not found" keep the reference's debug form
 * (`TopicNotFound { topic_id: "x" }`) because the REST API returns them as they are (node.md §6.1).
 */
#define G_LOG_DOMAIN "msb-broker"

#include "msb-broker-admin.h"

#include <string.h>

#include "msb-broker-private.h"
#include "msb-log.h"
#include "msb-session.h"

static MsbTopic *
msb_broker_admin_topic(MsbBroker *broker, const gchar *name, GError **error)
{
	MsbTopic *topic;

	if (name == NULL || name[0] == '\0') {
		g_set_error_literal(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT,
		                    "a topic id is required");
		return NULL;
	}
	topic = g_hash_table_lookup(broker->topics, name);
	if (topic == NULL)
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND,
		            "TopicNotFound { topic_id: \"%s\" }", name);
	return topic;
}

static MsbQueue *
msb_broker_admin_queue(MsbBroker *broker, const gchar *topic_name, const gchar *name,
                       GError **error)
{
	MsbTopic *topic = msb_broker_admin_topic(broker, topic_name, error);
	MsbQueue *queue;

	if (topic == NULL)
		return NULL;
	queue = name != NULL ? msb_topic_find_queue(topic, name) : NULL;
	if (queue == NULL)
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_QUEUE_NOT_FOUND,
		            "QueueNotFound { topic_id: \"%s\", queue_id: \"%s\" }", topic_name,
		            name != NULL ? name : "");
	return queue;
}

gchar *
msb_broker_ids_text(const MsbIdSet *set, guint max_ranges)
{
	GString *str = g_string_new("[");
	guint n = msb_id_set_n_ranges(set);

	for (guint i = 0; i < n && i < max_ranges; i++) {
		const MsbIdRange *r = msb_id_set_range(set, i);
		if (i > 0)
			g_string_append(str, ", ");
		if (r->from == r->to)
			g_string_append_printf(str, "%" G_GINT64_FORMAT, r->from);
		else
			g_string_append_printf(str, "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
			                       r->from, r->to);
	}
	if (n > max_ranges)
		g_string_append_printf(str, ", … (%u ranges)", n);
	g_string_append_c(str, ']');
	return g_string_free(str, FALSE);
}

void
msb_broker_set_restoring(MsbBroker *broker, gboolean restoring)
{
	g_return_if_fail(broker != NULL);
	broker->restoring = restoring;
}

/* ---- namespaces ---- */

void
msb_namespace_info_free(MsbNamespaceInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->name);
	g_free(info);
}

gboolean
msb_broker_check_namespace(MsbBroker *broker, const gchar *ns, GError **error)
{
	g_return_val_if_fail(broker != NULL, FALSE);
	if (ns == NULL || ns[0] == '\0' || g_strcmp0(ns, "default") == 0)
		return TRUE;
	g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_NOT_SUPPORTED,
	            "Namespace '%s' is not supported by this broker (only 'default')", ns);
	return FALSE;
}

GPtrArray *
msb_broker_list_namespaces(MsbBroker *broker)
{
	GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)msb_namespace_info_free);
	MsbNamespaceInfo *info;

	g_return_val_if_fail(broker != NULL, list);
	info = g_new0(MsbNamespaceInfo, 1);
	info->name = g_strdup("default");
	info->topics = g_hash_table_size(broker->topics);
	g_ptr_array_add(list, info);
	return list;
}

/* ---- topics ---- */

gboolean
msb_broker_delete_topic(MsbBroker *broker, const gchar *name, gint64 hard_delete_moment_us,
                        GError **error)
{
	MsbTopic *topic;
	gint64 now;

	g_return_val_if_fail(broker != NULL, FALSE);
	topic = msb_broker_admin_topic(broker, name, error);
	if (topic == NULL)
		return FALSE;
	if (topic->delete_in_flight || topic->delete_confirmed)
		return TRUE; /* going already */
	now = msb_broker_wall(broker);
	if (topic->deleted_us == 0)
		g_ptr_array_add(broker->deleted_topics, topic);
	/* 0 means live: a moment in the past is "as soon as possible" (node.md §6.2) */
	topic->deleted_us = hard_delete_moment_us > now ? hard_delete_moment_us : 1;
	broker->generation++;
	if (topic->deleted_us == 1)
		msb_message_fields(MSB_LOG_TOPIC(name),
		                   "topic %s deleted: it is removed at the next tick", name);
	else
		msb_message_fields(MSB_LOG_TOPIC(name),
		                   "topic %s deleted: it is removed in %" G_GINT64_FORMAT
		                   " s unless restored before",
		                   name, (topic->deleted_us - now) / G_USEC_PER_SEC);
	if (msb_broker_tracing(broker, name, NULL))
		msb_broker_trace(broker, "topic deleted (hard delete at %" G_GINT64_FORMAT ")",
		                 topic->deleted_us);
	if (msb_broker_has_listeners(broker)) {
		MsbBrokerEvent event = {
		        .kind = MSB_BROKER_EVENT_TOPIC_DELETED,
		        .topic = topic->name,
		        .hard_delete_moment_us = topic->deleted_us,
		};
		msb_broker_emit(broker, &event);
	}
	return TRUE;
}

gboolean
msb_broker_undelete_topic(MsbBroker *broker, const gchar *name, GError **error)
{
	MsbTopic *topic;

	g_return_val_if_fail(broker != NULL, FALSE);
	topic = msb_broker_admin_topic(broker, name, error);
	if (topic == NULL)
		return FALSE;
	if (topic->deleted_us == 0) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT,
		            "topic %s is not deleted", name);
		return FALSE;
	}
	if (topic->delete_in_flight || topic->delete_confirmed) {
		/* the persistence service is removing its messages: too late */
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_BUSY,
		            "topic %s is being removed and can no longer be restored", name);
		return FALSE;
	}
	topic->deleted_us = 0;
	g_ptr_array_remove_fast(broker->deleted_topics, topic);
	broker->generation++;
	msb_message_fields(MSB_LOG_TOPIC(name), "topic %s restored", name);
	msb_broker_emit_topic(broker, MSB_BROKER_EVENT_TOPIC_RESTORED, topic->name);
	return TRUE;
}

static gboolean
msb_topic_idle_for_removal(MsbTopic *topic)
{
	return topic->saves_in_flight == 0 && g_hash_table_size(topic->loading) == 0;
}

/* The hard delete: everything of the topic goes, its subscribers' sessions stay connected. */
static void
msb_broker_remove_topic(MsbBroker *broker, MsbTopic *topic)
{
	GHashTableIter iter;
	gpointer key;
	g_autofree gchar *name = g_strdup(topic->name);
	g_autoptr(GPtrArray) queues = NULL;
	g_autoptr(GArray) types = NULL;

	/* told once the topic is gone, so what they say is copied first */
	if (msb_broker_has_listeners(broker)) {
		queues = g_ptr_array_new_with_free_func(g_free);
		types = g_array_new(FALSE, FALSE, sizeof(MsbQueueType));
		for (guint q = 0; q < topic->queues->len; q++) {
			MsbQueue *queue = g_ptr_array_index(topic->queues, q);
			g_ptr_array_add(queues, g_strdup(queue->name));
			g_array_append_val(types, queue->type);
		}
	}
	msb_message_fields(MSB_LOG_TOPIC(topic->name),
	                   "topic %s removed (%" G_GINT64_FORMAT " messages published, %u queues)",
	                   topic->name, topic->next_id, topic->queues->len);
	/* what was never saved will not be: it no longer counts against MaxUnsavedSize */
	broker->pending_bytes -= topic->pending_bytes;
	broker->pending_count -= topic->pending_count;
	/* a publish answer held for it (persist_immediately, a reservation) can never be given */
	g_hash_table_iter_init(&iter, broker->waiting_sessions);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		MsbSession *session = key;
		for (GList *l = session->deferred.head; l != NULL; l = l->next) {
			MsbDeferredResponse *held = l->data;
			if (held->topic != topic)
				continue;
			held->topic = NULL;
			g_free(held->reject);
			held->reject =
			        g_strdup_printf("TopicIsDeleted { topic_id: \"%s\" }", topic->name);
		}
	}
	if (topic->dirty)
		g_ptr_array_remove(broker->dirty_topics, topic);
	g_ptr_array_remove_fast(broker->deleted_topics, topic);
	g_tree_remove(broker->topics_by_name, topic->name);
	/* frees the topic, its queues and subscribers (each forgotten by its session) */
	g_hash_table_remove(broker->topics, topic->name);
	broker->generation++;
	for (guint q = 0; queues != NULL && q < queues->len; q++)
		msb_broker_emit_queue(broker, MSB_BROKER_EVENT_QUEUE_REMOVED, name,
		                      g_ptr_array_index(queues, q),
		                      g_array_index(types, MsbQueueType, q));
	msb_broker_emit_topic(broker, MSB_BROKER_EVENT_TOPIC_REMOVED, name);
	if (broker->config.persistence && broker->cb.snapshot_wanted != NULL)
		broker->cb.snapshot_wanted(broker->user_data);
	msb_broker_release_deferred(broker);
}

void
msb_broker_hard_delete_due(MsbBroker *broker)
{
	g_autoptr(GPtrArray) due = NULL;
	gint64 now;

	if (broker->deleted_topics->len == 0)
		return;
	now = msb_broker_wall(broker);
	/* names: the callback may answer at once, and an answer removes the topic */
	due = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < broker->deleted_topics->len; i++) {
		MsbTopic *topic = g_ptr_array_index(broker->deleted_topics, i);
		if (topic->deleted_us <= now)
			g_ptr_array_add(due, g_strdup(topic->name));
	}
	for (guint i = 0; i < due->len; i++) {
		MsbTopic *topic = g_hash_table_lookup(broker->topics, g_ptr_array_index(due, i));

		if (topic == NULL || topic->deleted_us == 0 || topic->delete_in_flight)
			continue;
		if (!broker->config.persistence || broker->cb.delete_topic == NULL) {
			msb_broker_remove_topic(broker, topic);
			continue;
		}
		/* no save of it may reach the service after its DeleteTopic: wait for those out,
		 * and hand out no new ones (msb_broker_take_save_batch()) */
		if (!msb_topic_idle_for_removal(topic))
			continue;
		if (topic->delete_confirmed) {
			msb_broker_remove_topic(broker, topic);
			continue;
		}
		topic->delete_in_flight = TRUE;
		broker->cb.delete_topic(topic->name, topic->deleted_us, broker->user_data);
	}
}

void
msb_broker_topic_delete_done(MsbBroker *broker, const gchar *name, const GError *error)
{
	MsbTopic *topic;

	g_return_if_fail(broker != NULL);
	g_return_if_fail(name != NULL);
	topic = g_hash_table_lookup(broker->topics, name);
	if (topic == NULL || !topic->delete_in_flight)
		return;
	topic->delete_in_flight = FALSE;
	if (error != NULL) {
		/* retried every tick: a service that is down must not fill the log */
		if (topic->delete_failures++ % 60 == 0)
			msb_warning_fields(
			        MSB_LOG_TOPIC(name),
			        "topic %s: the persistence service could not delete it: %s; "
			        "retrying every second (%u failures so far)",
			        name, error->message, topic->delete_failures);
		return;
	}
	topic->delete_confirmed = TRUE;
	/* a load still out is waited for: it holds the topic */
	if (msb_topic_idle_for_removal(topic))
		msb_broker_remove_topic(broker, topic);
}

gboolean
msb_broker_set_topic_persist(MsbBroker *broker, const gchar *name, gboolean persist, GError **error)
{
	MsbTopic *topic;

	g_return_val_if_fail(broker != NULL, FALSE);
	topic = msb_broker_admin_topic(broker, name, error);
	if (topic == NULL)
		return FALSE;
	if (topic->persist == !!persist)
		return TRUE;
	topic->persist = !!persist;
	topic->track_pending = broker->config.persistence && topic->persist;
	broker->generation++;
	if (broker->config.persistence && broker->cb.snapshot_wanted != NULL)
		broker->cb.snapshot_wanted(broker->user_data);
	msb_message_fields(MSB_LOG_TOPIC(name), "topic %s: persist %s", name,
	                   persist ? "on" : "off");
	return TRUE;
}

GStrv
msb_broker_list_topic_names(MsbBroker *broker)
{
	GStrv names;
	guint i = 0;

	g_return_val_if_fail(broker != NULL, NULL);
	names = g_new0(gchar *, g_tree_nnodes(broker->topics_by_name) + 1);
	for (GTreeNode *node = g_tree_node_first(broker->topics_by_name); node != NULL;
	     node = g_tree_node_next(node))
		names[i++] = g_strdup(((MsbTopic *)g_tree_node_value(node))->name);
	return names;
}

/* ---- queues ---- */

GStrv
msb_broker_list_queue_names(MsbBroker *broker, const gchar *topic_name, GError **error)
{
	MsbTopic *topic;
	GStrv names;

	g_return_val_if_fail(broker != NULL, NULL);
	topic = msb_broker_admin_topic(broker, topic_name, error);
	if (topic == NULL)
		return NULL;
	names = g_new0(gchar *, topic->queues->len + 1);
	for (guint q = 0; q < topic->queues->len; q++)
		names[q] = g_strdup(((MsbQueue *)g_ptr_array_index(topic->queues, q))->name);
	return names;
}

gboolean
msb_broker_delete_queue(MsbBroker *broker, const gchar *topic_name, const gchar *queue_name,
                        GError **error)
{
	MsbTopic *topic;
	MsbQueue *queue;
	MsbQueueType type;

	g_return_val_if_fail(broker != NULL, FALSE);
	topic = msb_broker_admin_topic(broker, topic_name, error);
	if (topic == NULL)
		return FALSE;
	queue = queue_name != NULL ? msb_topic_find_queue(topic, queue_name) : NULL;
	if (queue == NULL)
		return TRUE; /* gone already: the same end state (node.md §2.7) */
	msb_message_fields(MSB_LOG_QUEUE(topic_name, queue_name),
	                   "queue %s/%s deleted: %" G_GINT64_FORMAT " waiting and %" G_GINT64_FORMAT
	                   " in-flight messages dropped, %u subscribers detached",
	                   topic_name, queue_name, msb_id_set_count(&queue->waiting),
	                   msb_queue_in_flight_count(queue), queue->subscribers->len);
	if (msb_broker_tracing(broker, topic_name, queue_name))
		msb_broker_trace(broker, "%s: queue deleted", queue_name);
	type = queue->type;
	msb_topic_remove_queue(topic, queue);
	broker->generation++;
	msb_broker_emit_queue(broker, MSB_BROKER_EVENT_QUEUE_REMOVED, topic_name, queue_name, type);
	/* what only this queue needed can go */
	msb_broker_mark_dirty(broker, topic);
	msb_broker_run_deliveries(broker);
	return TRUE;
}

gboolean
msb_broker_set_queue_message_id(MsbBroker *broker, const gchar *topic_name, const gchar *queue_name,
                                gint64 message_id, GError **error)
{
	MsbQueue *queue;
	MsbTopic *topic;

	g_return_val_if_fail(broker != NULL, FALSE);
	queue = msb_broker_admin_queue(broker, topic_name, queue_name, error);
	if (queue == NULL)
		return FALSE;
	if (message_id < 0) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT,
		            "the message id must not be negative, not %" G_GINT64_FORMAT,
		            message_id);
		return FALSE;
	}
	topic = queue->topic;
	msb_id_set_reset(&queue->waiting, message_id);
	if (message_id < topic->next_id)
		msb_id_set_add_range(&queue->waiting, message_id, topic->next_id - 1);
	/* a batch out now is delivered once, not twice: its ids come back only if it fails */
	for (guint i = 0; i < queue->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
		for (guint r = 0; r < msb_id_set_n_ranges(&sub->in_flight); r++) {
			const MsbIdRange *range = msb_id_set_range(&sub->in_flight, r);
			msb_id_set_remove_range(&queue->waiting, range->from, range->to);
		}
	}
	msb_message_fields(MSB_LOG_QUEUE(topic_name, queue_name),
	                   "queue %s/%s: message id set to %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
	                   " messages waiting)",
	                   topic_name, queue_name, message_id, msb_id_set_count(&queue->waiting));
	if (msb_broker_tracing(broker, topic_name, queue_name))
		msb_broker_trace(broker, "%s: message id set to %" G_GINT64_FORMAT, queue_name,
		                 message_id);
	topic->gc_due = TRUE;
	broker->generation++;
	/* unlike the reference (node.md §3.1), an idle subscriber gets the messages now */
	msb_broker_mark_dirty(broker, topic);
	msb_broker_run_deliveries(broker);
	return TRUE;
}

gboolean
msb_broker_set_queue_max_messages(MsbBroker *broker, const gchar *topic_name,
                                  const gchar *queue_name, gint64 max_messages, GError **error)
{
	MsbQueue *queue;

	g_return_val_if_fail(broker != NULL, FALSE);
	queue = msb_broker_admin_queue(broker, topic_name, queue_name, error);
	if (queue == NULL)
		return FALSE;
	if (max_messages < 0 || max_messages > G_MAXINT32) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT,
		            "the maximum messages per payload must be 0 (no limit) to %d, not "
		            "%" G_GINT64_FORMAT,
		            G_MAXINT32, max_messages);
		return FALSE;
	}
	queue->max_messages_per_payload = (guint)max_messages;
	msb_message_fields(MSB_LOG_QUEUE(topic_name, queue_name),
	                   "queue %s/%s: at most %" G_GINT64_FORMAT " messages per payload%s",
	                   topic_name, queue_name, max_messages,
	                   max_messages == 0 ? " (no limit)" : "");
	return TRUE;
}

/* ---- sessions ---- */

gboolean
msb_broker_kick_session(MsbBroker *broker, gint64 session_id, GError **error)
{
	MsbSession *session;

	g_return_val_if_fail(broker != NULL, FALSE);
	session = g_tree_lookup(broker->sessions_by_id, &session_id);
	if (session == NULL) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_SESSION_NOT_FOUND,
		            "SessionNotFound { id: %" G_GINT64_FORMAT " }", session_id);
		return FALSE;
	}
	if (session->closing)
		return TRUE;
	{
		g_autofree gchar *shown = msb_log_sanitize(session->name);
		MsbLogFields fields = msb_session_log_fields(session);

		msb_message_fields(
		        &fields, "session %" G_GINT64_FORMAT " (%s, %s) kicked by an administrator",
		        session_id, shown != NULL ? shown : "not greeted", session->peer);
	}
	session->closing = TRUE;
	broker->cb.disconnect(session, "kicked by an administrator", broker->user_data);
	return TRUE;
}

/* ---- debug reads ---- */

gboolean
msb_broker_get_min_message_id(MsbBroker *broker, const gchar *topic_name, gint64 *min_id,
                              GError **error)
{
	MsbTopic *topic;

	g_return_val_if_fail(broker != NULL, FALSE);
	g_return_val_if_fail(min_id != NULL, FALSE);
	topic = msb_broker_admin_topic(broker, topic_name, error);
	if (topic == NULL)
		return FALSE;
	*min_id = msb_topic_min_needed_id(topic);
	return TRUE;
}

void
msb_debug_queue_free(MsbDebugQueue *queue)
{
	if (queue == NULL)
		return;
	g_array_unref(queue->subscribers);
	g_free(queue->name);
	g_free(queue);
}

const gchar *
msb_queue_type_to_string(MsbQueueType type)
{
	if (msb_queue_type_is_single_connection(type))
		return "PermanentWithSingleConnection";
	if (msb_queue_type_is_auto_delete(type))
		return "DeleteOnDisconnect";
	return "Permanent";
}

GPtrArray *
msb_broker_debug_queues(MsbBroker *broker, const gchar *topic_name, GError **error)
{
	MsbTopic *topic;
	GPtrArray *list;
	gint64 now;
	gint64 wall;

	g_return_val_if_fail(broker != NULL, NULL);
	topic = msb_broker_admin_topic(broker, topic_name, error);
	if (topic == NULL)
		return NULL;
	now = msb_broker_now(broker);
	wall = msb_broker_wall(broker);
	list = g_ptr_array_new_with_free_func((GDestroyNotify)msb_debug_queue_free);
	for (guint q = 0; q < topic->queues->len; q++) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, q);
		MsbDebugQueue *dq = g_new0(MsbDebugQueue, 1);

		dq->name = g_strdup(queue->name);
		dq->type = queue->type;
		dq->subscribers = g_array_new(FALSE, TRUE, sizeof(MsbDebugSubscriber));
		for (guint i = 0; i < queue->subscribers->len; i++) {
			MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
			MsbDebugSubscriber ds = {
			        .id = sub->id,
			        .session_id = sub->session->id,
			        .subscribed_us = sub->subscribed_wall_us,
			        .on_delivery = sub->state == MSB_SUBSCRIBER_ON_DELIVERY,
			        .last_delivered_us = sub->last_delivered_wall_us,
			        .last_delivered_amount = sub->last_delivered_amount,
			        .in_flight = msb_id_set_count(&sub->in_flight),
			};
			if (ds.on_delivery)
				ds.delivery_started_us = wall - (now - sub->delivery_started_us);
			g_array_append_val(dq->subscribers, ds);
		}
		g_ptr_array_add(list, dq);
	}
	return list;
}

gchar *
msb_broker_debug_on_delivery(MsbBroker *broker, const gchar *topic_name, const gchar *queue_name,
                             gint64 subscriber_id, GError **error)
{
	MsbQueue *queue;
	MsbSubscriber *sub;

	g_return_val_if_fail(broker != NULL, NULL);
	queue = msb_broker_admin_queue(broker, topic_name, queue_name, error);
	if (queue == NULL)
		return NULL;
	sub = msb_queue_find_subscriber(queue, subscriber_id);
	if (sub == NULL) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_SUBSCRIBER_NOT_FOUND,
		            "SubscriberNotFound { topic_id: \"%s\", queue_id: \"%s\", id: "
		            "%" G_GINT64_FORMAT " }",
		            topic_name, queue_name, subscriber_id);
		return NULL;
	}
	if (sub->state != MSB_SUBSCRIBER_ON_DELIVERY)
		return g_strdup("None");
	return msb_broker_ids_text(&sub->in_flight, 10000);
}

/* ---- the delivery-trace console ---- */

void
msb_trace_record_free(MsbTraceRecord *record)
{
	if (record == NULL)
		return;
	g_free(record->data);
	g_free(record);
}

static void
msb_broker_trace_clear(MsbBroker *broker)
{
	if (broker->trace_records != NULL)
		g_queue_clear_full(broker->trace_records, (GDestroyNotify)msb_trace_record_free);
}

void
msb_broker_trace(MsbBroker *broker, const gchar *format, ...)
{
	MsbTraceRecord *record;
	va_list args;

	if (broker->trace_records == NULL)
		broker->trace_records = g_queue_new();
	record = g_new0(MsbTraceRecord, 1);
	record->wall_us = msb_broker_wall(broker);
	va_start(args, format);
	record->data = g_strdup_vprintf(format, args);
	va_end(args);
	g_queue_push_tail(broker->trace_records, record);
	while (broker->trace_records->length > MSB_TRACE_RECORDS)
		msb_trace_record_free(g_queue_pop_head(broker->trace_records));
}

gboolean
msb_broker_trace_set_target(MsbBroker *broker, const gchar *topic, const gchar *queue,
                            GError **error)
{
	g_return_val_if_fail(broker != NULL, FALSE);
	if (topic == NULL || topic[0] == '\0') {
		g_set_error_literal(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT,
		                    "a topic id is required");
		return FALSE;
	}
	g_free(broker->trace_topic);
	g_free(broker->trace_queue);
	broker->trace_topic = g_strdup(topic);
	broker->trace_queue = queue != NULL && queue[0] != '\0' ? g_strdup(queue) : NULL;
	msb_broker_trace_clear(broker);
	g_message("delivery tracing on for %s / %s", topic,
	          broker->trace_queue != NULL ? broker->trace_queue : "*");
	return TRUE;
}

void
msb_broker_trace_stop(MsbBroker *broker)
{
	g_return_if_fail(broker != NULL);
	if (broker->trace_topic != NULL)
		g_message("delivery tracing off");
	g_clear_pointer(&broker->trace_topic, g_free);
	g_clear_pointer(&broker->trace_queue, g_free);
	msb_broker_trace_clear(broker);
}

gboolean
msb_broker_trace_get_target(MsbBroker *broker, const gchar **topic, const gchar **queue)
{
	g_return_val_if_fail(broker != NULL, FALSE);
	if (topic != NULL)
		*topic = broker->trace_topic;
	if (queue != NULL)
		*queue = broker->trace_queue;
	return broker->trace_topic != NULL;
}

GPtrArray *
msb_broker_trace_read(MsbBroker *broker, guint tail, gboolean clear)
{
	GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)msb_trace_record_free);
	guint n;
	GList *l;

	g_return_val_if_fail(broker != NULL, list);
	n = msb_broker_trace_count(broker);
	if (tail == 0 || tail > n)
		tail = n;
	l = broker->trace_records != NULL ? g_queue_peek_nth_link(broker->trace_records, n - tail)
	                                  : NULL;
	for (; l != NULL; l = l->next) {
		const MsbTraceRecord *record = l->data;
		MsbTraceRecord *copy = g_new0(MsbTraceRecord, 1);
		copy->wall_us = record->wall_us;
		copy->data = g_strdup(record->data);
		g_ptr_array_add(list, copy);
	}
	if (clear)
		msb_broker_trace_clear(broker);
	return list;
}

guint
msb_broker_trace_count(MsbBroker *broker)
{
	g_return_val_if_fail(broker != NULL, 0);
	return broker->trace_records != NULL ? broker->trace_records->length : 0;
}

void
msb_broker_admin_free(MsbBroker *broker)
{
	g_ptr_array_unref(broker->deleted_topics);
	g_free(broker->trace_topic);
	g_free(broker->trace_queue);
	if (broker->trace_records != NULL)
		g_queue_free_full(broker->trace_records, (GDestroyNotify)msb_trace_record_free);
}
