/*
 * MsbDbusAuth: who may call the D-Bus methods that change the broker. Reads are open to every
 * caller; this decides for the others, asynchronously, so that a slow polkit (a password dialog)
 * or a slow user database (LDAP) never stalls the main loop:
 *
 *  - on the system bus, polkit decides (action org.myservicebus.Broker1.manage, user interaction
 *    allowed) when it answers;
 *  - otherwise, on the system bus, uid 0 and the members of the DBusAdminGroup group may;
 *  - on the session bus, the user who owns it (the broker's own uid) may.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MSB_DBUS_AUTH_ACTION "org.myservicebus.Broker1.manage"

typedef struct _MsbDbusAuth MsbDbusAuth;

MsbDbusAuth *
msb_dbus_auth_new(gboolean system_bus, const gchar *admin_group);
void
msb_dbus_auth_free(MsbDbusAuth *auth);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbDbusAuth, msb_dbus_auth_free)

/* The group whose members may (DBusAdminGroup); NULL or "": nobody but uid 0. */
void
msb_dbus_auth_set_admin_group(MsbDbusAuth *auth, const gchar *admin_group);

/* Decide for the caller of @invocation; @callback on the main loop. */
void
msb_dbus_auth_check_async(MsbDbusAuth *auth, GDBusMethodInvocation *invocation,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
/* TRUE when allowed; else FALSE with MSB_DBUS_ERROR_NOT_AUTHORIZED (or the cancellation). */
gboolean
msb_dbus_auth_check_finish(MsbDbusAuth *auth, GAsyncResult *result, GError **error);

/* Whether user @uid is a member of @group in the user database (its primary group counts).
 * Blocking (NSS): call it from a worker thread. */
gboolean
msb_dbus_auth_uid_in_group(guint32 uid, const gchar *group);

G_END_DECLS
