/*
 * MsbServer: the my-service-bus process around the domain model. It owns the listeners (TCP and
 * the optional Unix socket, both through one GSocketService), the client connections, the
 * once-a-second timer and graceful shutdown.
 */
#pragma once

#include <gio/gio.h>

#include "msb-dbus.h"
#include "msb-settings.h"

G_BEGIN_DECLS

typedef struct _MsbServer MsbServer;

/* Fails only for a GrpcUrl that cannot be used. */
MsbServer *
msb_server_new(const MsbSettings *settings, GError **error);
void
msb_server_free(MsbServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbServer, msb_server_free)

/*
 * Bind HTTP, restore from persistence (if any), then bind the client listeners and call
 * @listening. In memory the client listeners are bound before this returns.
 */
gboolean
msb_server_start(MsbServer *server, GSourceFunc listening, gpointer listening_data, GError **error);
/* Before msb_server_start(): the bus for D-Bus management (default MSB_DBUS_BUS_NONE). */
void
msb_server_set_dbus_bus(MsbServer *server, MsbDbusBus bus);

/* Client connections open now (TCP and Unix socket). */
guint
msb_server_get_connection_count(MsbServer *server);
/* The bound TCP port (useful with TcpPort 0). */
guint16
msb_server_get_tcp_port(MsbServer *server);
guint16
msb_server_get_http_port(MsbServer *server);

/* The settings passed to msb_server_new() were reloaded (msb_settings_reload()): apply the ones
 * that may change at run time. */
void
msb_server_apply_settings(MsbServer *server);

/* Stop accepting, refuse publishes, give in-flight batches a moment to be confirmed, close every
 * connection, then call @done. */
void
msb_server_shutdown(MsbServer *server, GSourceFunc done, gpointer done_data);

G_END_DECLS
