/*
 * MsbDbusObjects: the D-Bus object tree below the manager object (docs in
 * data/org.myservicebus.Broker1.xml): one org.myservicebus.Broker1.Topic object per topic and one
 * org.myservicebus.Broker1.Queue object per queue, exported through the manager's
 * GDBusObjectManagerServer, and the manager's TopicCreated / TopicDeleted / QueueCreated /
 * QueueDeleted / SessionConnected / SessionDisconnected signals.
 *
 * Objects appear and go at once, on the broker's change events (msb-broker-events.h); their
 * properties are set from one MsbBrokerStats a second (msb_dbus_objects_update()), so that D-Bus
 * costs message delivery nothing per message.
 */
#pragma once

#include <gio/gio.h>

#include "msb-broker-stats.h"
#include "msb-dbus-generated.h"
#include "msb-dbus.h"

G_BEGIN_DECLS

typedef struct _MsbDbusObjects MsbDbusObjects;

/*
 * Export every topic and queue the broker has now, and follow its changes from now on. @server
 * is the manager's object manager (at MSB_DBUS_MANAGER_PATH) and @manager the skeleton whose
 * signals are emitted; both are referenced. The broker must outlive the result.
 */
MsbDbusObjects *
msb_dbus_objects_new(MsbBroker *broker, GDBusObjectManagerServer *server, MsbDbusBroker1 *manager);
/*
 * Set every object's properties from @stats (a collection made after the objects were exported
 * is best; an older one never brings back what an event changed since). Only values that changed
 * are set, so each object emits at most one PropertiesChanged per call. Objects of topics and
 * queues that @stats lists but that are gone are not made again.
 */
void
msb_dbus_objects_update(MsbDbusObjects *self, MsbBrokerStats *stats);
/* Unexports every object and stops following the broker. */
void
msb_dbus_objects_free(MsbDbusObjects *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbDbusObjects, msb_dbus_objects_free)

/* Exported objects, topics and queues together (for tests and logs). */
guint
msb_dbus_objects_count(MsbDbusObjects *self);

/* The object path of topic @topic: MSB_DBUS_MANAGER_PATH "/topic/" + the escaped name. */
gchar *
msb_dbus_objects_topic_path(const gchar *topic);
/* The object path of queue @queue of @topic: the topic's path + "/queue/" + the escaped name. */
gchar *
msb_dbus_objects_queue_path(const gchar *topic, const gchar *queue);

G_END_DECLS
