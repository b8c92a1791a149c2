/*
 * MsbDbusObjects (see msb-dbus-objects.h): a hash table topic name → its object and a table of
 * its queues, kept in step with the broker by its change events, so that an event or a lookup
 * during the once-a-second update costs the same with 10 topics or 100,000.
 *
 * What an event says (deleted, the hard-delete moment) is set on the object at once; the update
 * sets it again from the stats only when they were collected after that event (compared by the
 * broker's state generation), else a collection that started just before a delete would show the
 * topic live again for a second.
 */
#define G_LOG_DOMAIN "msb-dbus"

#include "msb-dbus-objects.h"

#include <string.h>

#include "msb-broker-admin.h"
#include "msb-broker-events.h"

typedef struct {
	MsbDbusObjectSkeleton *object;
	MsbDbusBroker1Queue *iface;
	GArray *ranges; /* MsbIdRange: what Ranges was last set to */
} MsbDbusQueueObject;

typedef struct {
	MsbDbusObjectSkeleton *object;
	MsbDbusBroker1Topic *iface;
	GHashTable *queues; /* name → MsbDbusQueueObject*, owned */
	/* the broker's state generation at the last delete or restore event */
	guint64 event_generation;
} MsbDbusTopicObject;

struct _MsbDbusObjects {
	MsbBroker *broker;
	GDBusObjectManagerServer *server;
	MsbDbusBroker1 *manager;
	GHashTable *topics; /* name → MsbDbusTopicObject*, owned */
	guint listener_id;
	guint n_objects;
};

/* An escaped name is never empty: "" would leave a path ending in '/'. Escaping never yields a
 * lone '_' (it writes '_' as "_5f"), so "" cannot clash with a real name. */
static gchar *
msb_dbus_objects_escape(const gchar *name)
{
	if (name[0] == '\0')
		return g_strdup("_");
	return g_dbus_escape_object_path(name);
}

gchar *
msb_dbus_objects_topic_path(const gchar *topic)
{
	g_autofree gchar *escaped = NULL;

	g_return_val_if_fail(topic != NULL, NULL);
	escaped = msb_dbus_objects_escape(topic);
	return g_strconcat(MSB_DBUS_MANAGER_PATH "/topic/", escaped, NULL);
}

gchar *
msb_dbus_objects_queue_path(const gchar *topic, const gchar *queue)
{
	g_autofree gchar *topic_path = NULL;
	g_autofree gchar *escaped = NULL;

	g_return_val_if_fail(topic != NULL, NULL);
	g_return_val_if_fail(queue != NULL, NULL);
	topic_path = msb_dbus_objects_topic_path(topic);
	escaped = msb_dbus_objects_escape(queue);
	return g_strconcat(topic_path, "/queue/", escaped, NULL);
}

static void
msb_dbus_objects_unexport(MsbDbusObjects *self, MsbDbusObjectSkeleton *object)
{
	const gchar *path = g_dbus_object_get_object_path(G_DBUS_OBJECT(object));

	if (!g_dbus_object_manager_server_unexport(self->server, path))
		g_warning("object %s was not exported", path);
	self->n_objects--;
}

static void
msb_dbus_queue_object_free(MsbDbusQueueObject *queue)
{
	g_object_unref(queue->iface);
	g_object_unref(queue->object);
	g_array_unref(queue->ranges);
	g_free(queue);
}

static void
msb_dbus_topic_object_free(MsbDbusTopicObject *topic)
{
	g_hash_table_unref(topic->queues);
	g_object_unref(topic->iface);
	g_object_unref(topic->object);
	g_free(topic);
}

/* ---- topics ---- */

/* The skeleton would send the changes from an idle callback; sent now, they keep their place
 * among the signals (a client sees a topic deleted and then TopicDeleted) and go out as one
 * PropertiesChanged per object. */
static void
msb_dbus_objects_flush(gpointer iface)
{
	g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(iface));
}

static MsbDbusTopicObject *
msb_dbus_objects_add_topic(MsbDbusObjects *self, const gchar *name)
{
	MsbDbusTopicObject *topic = g_hash_table_lookup(self->topics, name);
	g_autofree gchar *path = NULL;

	if (topic != NULL)
		return topic;
	path = msb_dbus_objects_topic_path(name);
	topic = g_new0(MsbDbusTopicObject, 1);
	topic->object = msb_dbus_object_skeleton_new(path);
	topic->iface = msb_dbus_broker1_topic_skeleton_new();
	topic->queues = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                      (GDestroyNotify)msb_dbus_queue_object_free);
	/* the rest follows from the next stats (within a second) */
	msb_dbus_broker1_topic_set_name(topic->iface, name);
	msb_dbus_object_skeleton_set_broker1_topic(topic->object, topic->iface);
	g_hash_table_insert(self->topics, g_strdup(name), topic);
	g_dbus_object_manager_server_export(self->server, G_DBUS_OBJECT_SKELETON(topic->object));
	self->n_objects++;
	return topic;
}

/* The topic's object and its queues' (the broker tells each queue's removal first; this is for
 * any left, and for msb_dbus_objects_free()). */
static void
msb_dbus_objects_unexport_topic(MsbDbusObjects *self, MsbDbusTopicObject *topic)
{
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, topic->queues);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		msb_dbus_objects_unexport(self, ((MsbDbusQueueObject *)value)->object);
	msb_dbus_objects_unexport(self, topic->object);
}

static void
msb_dbus_objects_remove_topic(MsbDbusObjects *self, const gchar *name)
{
	MsbDbusTopicObject *topic = g_hash_table_lookup(self->topics, name);

	if (topic == NULL)
		return;
	msb_dbus_objects_unexport_topic(self, topic);
	g_hash_table_remove(self->topics, name);
}

static void
msb_dbus_objects_set_deleted(MsbDbusObjects *self, const gchar *name, gint64 moment_us)
{
	MsbDbusTopicObject *topic = g_hash_table_lookup(self->topics, name);

	if (topic == NULL)
		return;
	topic->event_generation = msb_broker_get_state_generation(self->broker);
	msb_dbus_broker1_topic_set_deleted(topic->iface, moment_us != 0);
	msb_dbus_broker1_topic_set_hard_delete_moment(topic->iface, moment_us);
	msb_dbus_objects_flush(topic->iface);
}

/* ---- queues ---- */

static GVariant *
msb_dbus_objects_ranges_variant(const MsbIdRange *ranges, guint n)
{
	GVariantBuilder builder;

	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(xx)"));
	for (guint i = 0; i < n; i++)
		g_variant_builder_add(&builder, "(xx)", ranges[i].from, ranges[i].to);
	return g_variant_builder_end(&builder);
}

static MsbDbusQueueObject *
msb_dbus_objects_add_queue(MsbDbusObjects *self, const gchar *topic_name, const gchar *name,
                           MsbQueueType type)
{
	MsbDbusTopicObject *topic = g_hash_table_lookup(self->topics, topic_name);
	MsbDbusQueueObject *queue;
	g_autofree gchar *path = NULL;

	if (topic == NULL) {
		/* a queue is created in an existing topic, which was told first */
		g_warning("queue %s/%s created in a topic that has no object", topic_name, name);
		topic = msb_dbus_objects_add_topic(self, topic_name);
	}
	queue = g_hash_table_lookup(topic->queues, name);
	if (queue != NULL)
		return queue;
	path = msb_dbus_objects_queue_path(topic_name, name);
	queue = g_new0(MsbDbusQueueObject, 1);
	queue->object = msb_dbus_object_skeleton_new(path);
	queue->iface = msb_dbus_broker1_queue_skeleton_new();
	queue->ranges = g_array_new(FALSE, FALSE, sizeof(MsbIdRange));
	/* the rest follows from the next stats (within a second) */
	msb_dbus_broker1_queue_set_topic(queue->iface, topic_name);
	msb_dbus_broker1_queue_set_name(queue->iface, name);
	msb_dbus_broker1_queue_set_queue_type(queue->iface, msb_queue_type_to_string(type));
	msb_dbus_broker1_queue_set_ranges(queue->iface, msb_dbus_objects_ranges_variant(NULL, 0));
	msb_dbus_object_skeleton_set_broker1_queue(queue->object, queue->iface);
	g_hash_table_insert(topic->queues, g_strdup(name), queue);
	g_dbus_object_manager_server_export(self->server, G_DBUS_OBJECT_SKELETON(queue->object));
	self->n_objects++;
	return queue;
}

static void
msb_dbus_objects_remove_queue(MsbDbusObjects *self, const gchar *topic_name, const gchar *name)
{
	MsbDbusTopicObject *topic = g_hash_table_lookup(self->topics, topic_name);
	MsbDbusQueueObject *queue = topic != NULL ? g_hash_table_lookup(topic->queues, name) : NULL;

	if (queue == NULL)
		return;
	msb_dbus_objects_unexport(self, queue->object);
	g_hash_table_remove(topic->queues, name);
	msb_dbus_broker1_emit_queue_deleted(self->manager, topic_name, name);
}

/* ---- events ---- */

static void
msb_dbus_objects_event_cb(const MsbBrokerEvent *event, gpointer user_data)
{
	MsbDbusObjects *self = user_data;
	const gchar *session_name = event->session_name != NULL ? event->session_name : "";

	switch (event->kind) {
	case MSB_BROKER_EVENT_TOPIC_CREATED: {
		MsbDbusTopicObject *topic = msb_dbus_objects_add_topic(self, event->topic);
		msb_dbus_broker1_emit_topic_created(
		        self->manager, event->topic,
		        g_dbus_object_get_object_path(G_DBUS_OBJECT(topic->object)));
		break;
	}
	case MSB_BROKER_EVENT_TOPIC_DELETED:
		msb_dbus_objects_set_deleted(self, event->topic, event->hard_delete_moment_us);
		msb_dbus_broker1_emit_topic_deleted(self->manager, event->topic,
		                                    event->hard_delete_moment_us);
		break;
	case MSB_BROKER_EVENT_TOPIC_RESTORED:
		msb_dbus_objects_set_deleted(self, event->topic, 0);
		break;
	case MSB_BROKER_EVENT_TOPIC_REMOVED:
		msb_dbus_objects_remove_topic(self, event->topic);
		break;
	case MSB_BROKER_EVENT_QUEUE_CREATED: {
		MsbDbusQueueObject *queue = msb_dbus_objects_add_queue(
		        self, event->topic, event->queue, event->queue_type);
		msb_dbus_broker1_emit_queue_created(
		        self->manager, event->topic, event->queue,
		        g_dbus_object_get_object_path(G_DBUS_OBJECT(queue->object)));
		break;
	}
	case MSB_BROKER_EVENT_QUEUE_REMOVED:
		msb_dbus_objects_remove_queue(self, event->topic, event->queue);
		break;
	case MSB_BROKER_EVENT_SESSION_CONNECTED:
		msb_dbus_broker1_emit_session_connected(self->manager, event->session_id,
		                                        session_name,
		                                        event->peer != NULL ? event->peer : "");
		break;
	case MSB_BROKER_EVENT_SESSION_CLOSED:
		msb_dbus_broker1_emit_session_disconnected(self->manager, event->session_id,
		                                           session_name);
		break;
	default:
		break;
	}
}

MsbDbusObjects *
msb_dbus_objects_new(MsbBroker *broker, GDBusObjectManagerServer *server, MsbDbusBroker1 *manager)
{
	MsbDbusObjects *self;
	g_auto(GStrv) topics = NULL;

	g_return_val_if_fail(broker != NULL, NULL);
	g_return_val_if_fail(G_IS_DBUS_OBJECT_MANAGER_SERVER(server), NULL);
	g_return_val_if_fail(MSB_DBUS_IS_BROKER1(manager), NULL);

	self = g_new0(MsbDbusObjects, 1);
	self->broker = broker;
	self->server = g_object_ref(server);
	self->manager = g_object_ref(manager);
	self->topics = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                     (GDestroyNotify)msb_dbus_topic_object_free);
	/* what exists now, without signals: nobody was told of it as new */
	topics = msb_broker_list_topic_names(broker);
	for (guint t = 0; topics[t] != NULL; t++) {
		g_autoptr(GPtrArray) queues = msb_broker_debug_queues(broker, topics[t], NULL);

		msb_dbus_objects_add_topic(self, topics[t]);
		for (guint q = 0; queues != NULL && q < queues->len; q++) {
			const MsbDebugQueue *queue = g_ptr_array_index(queues, q);
			msb_dbus_objects_add_queue(self, topics[t], queue->name, queue->type);
		}
	}
	self->listener_id = msb_broker_add_listener(broker, msb_dbus_objects_event_cb, self);
	return self;
}

/* ---- properties ---- */

/* Set a property only when its value changed, and remember that something did. */
#define MSB_DBUS_SET_IF_CHANGED(iface_type, iface, prop, value, changed)    \
	G_STMT_START                                                        \
	{                                                                   \
		if (msb_dbus_##iface_type##_get_##prop(iface) != (value)) { \
			msb_dbus_##iface_type##_set_##prop(iface, (value)); \
			(changed) = TRUE;                                   \
		}                                                           \
	}                                                                   \
	G_STMT_END

static void
msb_dbus_objects_update_queue(MsbDbusQueueObject *queue, const MsbBrokerStats *stats,
                              const MsbQueueStats *qs)
{
	MsbDbusBroker1Queue *iface = queue->iface;
	const gchar *type = msb_queue_type_to_string(qs->type);
	const MsbIdRange *ranges = qs->n_ranges > 0 ? msb_broker_stats_range(stats, qs, 0) : NULL;
	gboolean changed = FALSE;

	if (g_strcmp0(msb_dbus_broker1_queue_get_queue_type(iface), type) != 0) {
		msb_dbus_broker1_queue_set_queue_type(iface, type);
		changed = TRUE;
	}
	MSB_DBUS_SET_IF_CHANGED(broker1_queue, iface, size, qs->waiting, changed);
	MSB_DBUS_SET_IF_CHANGED(broker1_queue, iface, on_delivery, qs->in_flight, changed);
	MSB_DBUS_SET_IF_CHANGED(broker1_queue, iface, subscriber_count, qs->n_subscribers, changed);
	/* compared with a copy of what was set: cheaper than building the variant every second */
	if (queue->ranges->len != qs->n_ranges ||
	    (qs->n_ranges > 0 &&
	     memcmp(queue->ranges->data, ranges, qs->n_ranges * sizeof(MsbIdRange)) != 0)) {
		g_array_set_size(queue->ranges, 0);
		if (qs->n_ranges > 0)
			g_array_append_vals(queue->ranges, ranges, qs->n_ranges);
		msb_dbus_broker1_queue_set_ranges(
		        iface, msb_dbus_objects_ranges_variant(ranges, qs->n_ranges));
		changed = TRUE;
	}
	if (changed)
		msb_dbus_objects_flush(iface);
}

static void
msb_dbus_objects_update_topic(MsbDbusTopicObject *topic, const MsbBrokerStats *stats,
                              const MsbTopicStats *ts)
{
	MsbDbusBroker1Topic *iface = topic->iface;
	gboolean changed = FALSE;

	MSB_DBUS_SET_IF_CHANGED(broker1_topic, iface, message_id, ts->next_id, changed);
	MSB_DBUS_SET_IF_CHANGED(broker1_topic, iface, messages_per_second,
	                        (guint64)MAX(ts->messages_per_sec, 0), changed);
	MSB_DBUS_SET_IF_CHANGED(broker1_topic, iface, persist, !!ts->persist, changed);
	/* an older collection than the last delete or restore event would undo it */
	if (stats->generation >= topic->event_generation) {
		MSB_DBUS_SET_IF_CHANGED(broker1_topic, iface, deleted, ts->deleted_us != 0,
		                        changed);
		MSB_DBUS_SET_IF_CHANGED(broker1_topic, iface, hard_delete_moment, ts->deleted_us,
		                        changed);
	}
	MSB_DBUS_SET_IF_CHANGED(broker1_topic, iface, queue_count, ts->n_queues, changed);
	MSB_DBUS_SET_IF_CHANGED(broker1_topic, iface, cached_messages, ts->cached_messages,
	                        changed);
	MSB_DBUS_SET_IF_CHANGED(broker1_topic, iface, pending_messages, ts->pending_count, changed);
	if (changed)
		msb_dbus_objects_flush(iface);

	for (guint q = 0; q < ts->n_queues; q++) {
		const MsbQueueStats *qs = msb_broker_stats_queue(stats, ts, q);
		MsbDbusQueueObject *queue = g_hash_table_lookup(topic->queues, qs->name);
		if (queue != NULL)
			msb_dbus_objects_update_queue(queue, stats, qs);
	}
}

void
msb_dbus_objects_update(MsbDbusObjects *self, MsbBrokerStats *stats)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(stats != NULL);

	for (guint t = 0; t < stats->topics->len; t++) {
		const MsbTopicStats *ts = msb_broker_stats_topic(stats, t);
		MsbDbusTopicObject *topic = g_hash_table_lookup(self->topics, ts->name);
		if (topic != NULL)
			msb_dbus_objects_update_topic(topic, stats, ts);
	}
}

guint
msb_dbus_objects_count(MsbDbusObjects *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->n_objects;
}

void
msb_dbus_objects_free(MsbDbusObjects *self)
{
	GHashTableIter iter;
	gpointer value;

	if (self == NULL)
		return;
	msb_broker_remove_listener(self->broker, self->listener_id);
	g_hash_table_iter_init(&iter, self->topics);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		msb_dbus_objects_unexport_topic(self, value);
	g_hash_table_unref(self->topics);
	g_object_unref(self->manager);
	g_object_unref(self->server);
	g_free(self);
}
