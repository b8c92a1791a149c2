/*
 * MsbDbus: the broker's D-Bus adapter (org.myservicebus.Broker1, see
 * data/org.myservicebus.Broker1.xml and docs/dbus.md). It owns the connection to the chosen bus
 * and the well-known name, the GDBusObjectManagerServer with the manager object, the manager's
 * properties (refreshed once a second from one MsbStatsReader collection) and its methods, which
 * call the same domain operations as the REST API (msb-broker-admin.h).
 *
 * The bus is optional for message service: when it is not there the broker logs one warning and
 * serves without it, and it connects (and takes the name) again when the bus comes back.
 */
#pragma once

#include <gio/gio.h>

#include "msb-broker.h"
#include "msb-http.h"
#include "msb-stats-reader.h"

G_BEGIN_DECLS

#define MSB_DBUS_NAME         "org.myservicebus.Broker1"
#define MSB_DBUS_MANAGER_PATH "/org/myservicebus/Broker1"

typedef enum {
	MSB_DBUS_BUS_NONE,
	MSB_DBUS_BUS_SESSION,
	MSB_DBUS_BUS_SYSTEM,
} MsbDbusBus;

/* The bus when the command line names none: the system bus when systemd started the broker
 * ($INVOCATION_ID is set), else the session bus. */
MsbDbusBus
msb_dbus_bus_default(void);
/* "system", "session", "none" */
const gchar *
msb_dbus_bus_to_string(MsbDbusBus bus);

typedef struct _MsbDbus MsbDbus;

/* @broker and @reader must outlive it; @info_func tells the persistence state. Connects only
 * from msb_dbus_start() on. */
MsbDbus *
msb_dbus_new(MsbBroker *broker, MsbStatsReader *reader, MsbDbusBus bus, const gchar *admin_group,
             MsbHttpInfoFunc info_func, gpointer info_data);
void
msb_dbus_free(MsbDbus *dbus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbDbus, msb_dbus_free)

void
msb_dbus_start(MsbDbus *dbus);
/* DBusAdminGroup was reloaded. */
void
msb_dbus_set_admin_group(MsbDbus *dbus, const gchar *admin_group);

/* Answer @invocation with @error mapped to MSB_DBUS_ERROR: the D-Bus twin of
 * msb_http_call_reply_error(). Takes over @invocation, as g_dbus_method_invocation_return_*. */
void
msb_dbus_return_error(GDBusMethodInvocation *invocation, const GError *error);

G_END_DECLS
