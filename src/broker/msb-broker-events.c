/*
 * The broker's change-event listeners (see msb-broker-events.h). The list is an array walked by
 * index: a listener removed while an event is being told is only blanked, and the array is
 * compacted once the outermost emission is over, so that removing (itself or another) from a
 * callback is safe.
 */
#define G_LOG_DOMAIN "msb-broker"

#include "msb-broker-events.h"

#include "msb-broker-private.h"

typedef struct {
	guint id;
	MsbBrokerEventFunc func; /* NULL: removed during an emission */
	gpointer user_data;
} MsbBrokerListener;

guint
msb_broker_add_listener(MsbBroker *broker, MsbBrokerEventFunc func, gpointer user_data)
{
	MsbBrokerListener listener = {0};

	g_return_val_if_fail(broker != NULL, 0);
	g_return_val_if_fail(func != NULL, 0);
	g_return_val_if_fail(broker->emitting == 0, 0);
	if (broker->listeners == NULL)
		broker->listeners = g_array_new(FALSE, TRUE, sizeof(MsbBrokerListener));
	listener.id = ++broker->next_listener_id;
	listener.func = func;
	listener.user_data = user_data;
	g_array_append_val(broker->listeners, listener);
	return listener.id;
}

static void
msb_broker_listeners_compact(MsbBroker *broker)
{
	for (guint i = broker->listeners->len; i > 0; i--) {
		if (g_array_index(broker->listeners, MsbBrokerListener, i - 1).func == NULL)
			g_array_remove_index(broker->listeners, i - 1);
	}
}

void
msb_broker_remove_listener(MsbBroker *broker, guint id)
{
	g_return_if_fail(broker != NULL);
	g_return_if_fail(id != 0);
	for (guint i = 0; broker->listeners != NULL && i < broker->listeners->len; i++) {
		MsbBrokerListener *listener =
		        &g_array_index(broker->listeners, MsbBrokerListener, i);
		if (listener->id != id || listener->func == NULL)
			continue;
		listener->func = NULL;
		if (broker->emitting == 0)
			msb_broker_listeners_compact(broker);
		return;
	}
	g_warning("no broker listener with id %u", id);
}

void
msb_broker_emit_real(MsbBroker *broker, const MsbBrokerEvent *event)
{
	broker->emitting++;
	for (guint i = 0; i < broker->listeners->len; i++) {
		MsbBrokerListener *listener =
		        &g_array_index(broker->listeners, MsbBrokerListener, i);
		if (listener->func != NULL)
			listener->func(event, listener->user_data);
	}
	if (--broker->emitting == 0)
		msb_broker_listeners_compact(broker);
}

void
msb_broker_emit_topic(MsbBroker *broker, MsbBrokerEventKind kind, const gchar *topic)
{
	MsbBrokerEvent event = {.kind = kind, .topic = topic};

	msb_broker_emit(broker, &event);
}

void
msb_broker_emit_queue(MsbBroker *broker, MsbBrokerEventKind kind, const gchar *topic,
                      const gchar *queue, MsbQueueType type)
{
	MsbBrokerEvent event = {.kind = kind, .topic = topic, .queue = queue, .queue_type = type};

	msb_broker_emit(broker, &event);
}

void
msb_broker_events_free(MsbBroker *broker)
{
	g_clear_pointer(&broker->listeners, g_array_unref);
}

const gchar *
msb_broker_event_kind_to_string(MsbBrokerEventKind kind)
{
	switch (kind) {
	case MSB_BROKER_EVENT_TOPIC_CREATED:
		return "topic-created";
	case MSB_BROKER_EVENT_TOPIC_DELETED:
		return "topic-deleted";
	case MSB_BROKER_EVENT_TOPIC_RESTORED:
		return "topic-restored";
	case MSB_BROKER_EVENT_TOPIC_REMOVED:
		return "topic-removed";
	case MSB_BROKER_EVENT_QUEUE_CREATED:
		return "queue-created";
	case MSB_BROKER_EVENT_QUEUE_REMOVED:
		return "queue-removed";
	case MSB_BROKER_EVENT_SESSION_CONNECTED:
		return "session-connected";
	case MSB_BROKER_EVENT_SESSION_CLOSED:
		return "session-closed";
	default:
		return "unknown";
	}
}
