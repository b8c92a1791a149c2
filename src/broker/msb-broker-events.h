/*
 * Broker change events: topics and queues that come and go, sessions that greet and close, told
 * to listeners (the D-Bus object tree and its signals) at the moment they happen rather than a
 * second later through MsbBrokerStats.
 *
 * A listener is called synchronously, on the thread that drives the broker, once the broker's
 * state shows the change (a created topic can be found, a removed one cannot). Events carry
 * names and numbers, never broker structures, so that adapters stay out of the domain model's
 * types; the strings are valid only during the call. A listener may read the broker but must not
 * change it (it runs in the middle of an operation), nor add listeners; it may remove listeners.
 * With no listener an event costs one comparison.
 */
#pragma once

#include <glib.h>

#include "msb-wire.h"

G_BEGIN_DECLS

typedef struct _MsbBroker MsbBroker;

typedef enum {
	/* a topic was created: by a client, an adapter, or restored at start */
	MSB_BROKER_EVENT_TOPIC_CREATED,
	/* soft-deleted (again: its moment moved); hard_delete_moment_us says when it goes */
	MSB_BROKER_EVENT_TOPIC_DELETED,
	/* a soft delete was undone */
	MSB_BROKER_EVENT_TOPIC_RESTORED,
	/* hard-deleted: the topic is gone (its queues' QUEUE_REMOVED come first) */
	MSB_BROKER_EVENT_TOPIC_REMOVED,
	/* a queue was created: by a subscription or restored at start */
	MSB_BROKER_EVENT_QUEUE_CREATED,
	/* a queue went: deleted, collected (delete-on-disconnect), or with its topic */
	MSB_BROKER_EVENT_QUEUE_REMOVED,
	/* a session greeted (TCP, Unix socket, and HTTP sessions, which greet when opened) */
	MSB_BROKER_EVENT_SESSION_CONNECTED,
	/* a session that had greeted was closed */
	MSB_BROKER_EVENT_SESSION_CLOSED,
} MsbBrokerEventKind;

typedef struct {
	MsbBrokerEventKind kind;
	const gchar *topic;           /* topic and queue events */
	const gchar *queue;           /* queue events */
	MsbQueueType queue_type;      /* queue events */
	gint64 hard_delete_moment_us; /* TOPIC_DELETED: wall clock; 1 means at the next tick */
	gint64 session_id;            /* session events */
	const gchar *session_name;    /* session events: the Greeting name */
	const gchar *peer;            /* session events: "ip:port" or "unix" */
	gint session_kind;            /* session events: MsbSessionKind */
} MsbBrokerEvent;

typedef void (*MsbBrokerEventFunc)(const MsbBrokerEvent *event, gpointer user_data);

/* Returns an id for msb_broker_remove_listener() (never 0). Listeners are called in the order
 * they were added. */
guint
msb_broker_add_listener(MsbBroker *broker, MsbBrokerEventFunc func, gpointer user_data);
void
msb_broker_remove_listener(MsbBroker *broker, guint id);

/* "topic-created", … (for logs and tests). */
const gchar *
msb_broker_event_kind_to_string(MsbBrokerEventKind kind);

G_END_DECLS
