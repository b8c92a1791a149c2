/*
 * The authorization of the D-Bus methods that change state (see msb-dbus-auth.h). polkit is asked
 * with a plain D-Bus call (no libpolkit dependency); when it is not there (containers, CI, a
 * private test bus) the caller's uid, from the bus's GetConnectionCredentials, decides.
 */
#define G_LOG_DOMAIN "msb-dbus"

#include "msb-dbus-auth.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "msb-dbus-error.h"

/* polkit may show a password dialog: give the user time to answer it */
#define MSB_DBUS_AUTH_POLKIT_TIMEOUT_MS (5 * 60 * 1000)
/* CheckAuthorization flags: AllowUserInteraction */
#define MSB_DBUS_AUTH_POLKIT_ALLOW_INTERACTION 0x1
/* the user database's records are small; a bigger one is not a user we know */
#define MSB_DBUS_AUTH_MAX_NSS_BUFFER (1024 * 1024)
#define MSB_DBUS_AUTH_MAX_GROUPS     65536

struct _MsbDbusAuth {
	gboolean system_bus;
	gchar *admin_group;
};

typedef struct {
	GDBusMethodInvocation *invocation; /* a reference */
	gchar *admin_group;
	gboolean system_bus;
	guint32 uid;
} MsbDbusAuthCheck;

static void
msb_dbus_auth_check_free(MsbDbusAuthCheck *check)
{
	g_object_unref(check->invocation);
	g_free(check->admin_group);
	g_free(check);
}

MsbDbusAuth *
msb_dbus_auth_new(gboolean system_bus, const gchar *admin_group)
{
	MsbDbusAuth *auth = g_new0(MsbDbusAuth, 1);

	auth->system_bus = system_bus;
	msb_dbus_auth_set_admin_group(auth, admin_group);
	return auth;
}

void
msb_dbus_auth_free(MsbDbusAuth *auth)
{
	if (auth == NULL)
		return;
	g_free(auth->admin_group);
	g_free(auth);
}

void
msb_dbus_auth_set_admin_group(MsbDbusAuth *auth, const gchar *admin_group)
{
	g_return_if_fail(auth != NULL);
	g_free(auth->admin_group);
	auth->admin_group =
	        admin_group != NULL && admin_group[0] != '\0' ? g_strdup(admin_group) : NULL;
}

/* getpwuid_r() and friends want a buffer of a size they only tell by failing */
static gboolean
msb_dbus_auth_lookup_user(guint32 uid, struct passwd *pw, gchar **buf)
{
	struct passwd *result = NULL;

	for (gsize size = 4096; size <= MSB_DBUS_AUTH_MAX_NSS_BUFFER; size *= 2) {
		gint rc;

		g_free(*buf);
		*buf = g_malloc(size);
		rc = getpwuid_r((uid_t)uid, pw, *buf, size, &result);
		if (rc == ERANGE)
			continue;
		return rc == 0 && result != NULL;
	}
	return FALSE;
}

static gboolean
msb_dbus_auth_lookup_group(const gchar *name, struct group *gr, gchar **buf)
{
	struct group *result = NULL;

	for (gsize size = 4096; size <= MSB_DBUS_AUTH_MAX_NSS_BUFFER; size *= 2) {
		gint rc;

		g_free(*buf);
		*buf = g_malloc(size);
		rc = getgrnam_r(name, gr, *buf, size, &result);
		if (rc == ERANGE)
			continue;
		return rc == 0 && result != NULL;
	}
	return FALSE;
}

gboolean
msb_dbus_auth_uid_in_group(guint32 uid, const gchar *group)
{
	struct passwd pw;
	struct group gr;
	g_autofree gchar *pw_buf = NULL;
	g_autofree gchar *gr_buf = NULL;
	g_autofree gid_t *groups = NULL;
	gint n = 64;

	g_return_val_if_fail(group != NULL, FALSE);
	if (!msb_dbus_auth_lookup_user(uid, &pw, &pw_buf))
		return FALSE;
	if (!msb_dbus_auth_lookup_group(group, &gr, &gr_buf))
		return FALSE;
	if (pw.pw_gid == gr.gr_gid)
		return TRUE;
	for (;;) {
		gint got = n;

		groups = g_renew(gid_t, groups, n);
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &got) >= 0) {
			for (gint i = 0; i < got; i++) {
				if (groups[i] == gr.gr_gid)
					return TRUE;
			}
			return FALSE;
		}
		/* too small: @got says how many there are */
		if (got <= n || got > MSB_DBUS_AUTH_MAX_GROUPS)
			return FALSE;
		n = got;
	}
}

static void
msb_dbus_auth_refuse(GTask *task, const gchar *why)
{
	MsbDbusAuthCheck *check = g_task_get_task_data(task);

	g_message("D-Bus: refused %s.%s from %s: %s",
	          g_dbus_method_invocation_get_interface_name(check->invocation),
	          g_dbus_method_invocation_get_method_name(check->invocation),
	          g_dbus_method_invocation_get_sender(check->invocation), why);
	g_task_return_new_error(task, MSB_DBUS_ERROR, MSB_DBUS_ERROR_NOT_AUTHORIZED,
	                        "not authorized to change the broker: %s", why);
}

static void
msb_dbus_auth_group_thread(GTask *task, gpointer source, gpointer task_data,
                           GCancellable *cancellable)
{
	MsbDbusAuthCheck *check = task_data;

	g_task_return_boolean(task, msb_dbus_auth_uid_in_group(check->uid, check->admin_group));
}

static void
msb_dbus_auth_group_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	MsbDbusAuthCheck *check = g_task_get_task_data(task);
	g_autofree gchar *why = NULL;

	if (g_task_propagate_boolean(G_TASK(result), NULL)) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	why = g_strdup_printf("uid %u is not 0 and not a member of the group %s (DBusAdminGroup)",
	                      check->uid, check->admin_group);
	msb_dbus_auth_refuse(task, why);
}

static void
msb_dbus_auth_credentials_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	MsbDbusAuthCheck *check = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) creds = NULL;
	g_autoptr(GTask) lookup = NULL;

	reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	if (reply == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (reply == NULL) {
		g_autofree gchar *why = g_strdup_printf(
		        "the caller's credentials are not known (%s)", error->message);
		msb_dbus_auth_refuse(task, why);
		return;
	}
	creds = g_variant_get_child_value(reply, 0);
	if (!g_variant_lookup(creds, "UnixUserID", "u", &check->uid)) {
		msb_dbus_auth_refuse(task, "the bus does not tell the caller's uid");
		return;
	}
	if (!check->system_bus) {
		/* the session bus is the user's own: its owner may */
		if (check->uid == (guint32)getuid()) {
			g_task_return_boolean(task, TRUE);
		} else {
			g_autofree gchar *why = g_strdup_printf(
			        "uid %u does not own this session bus (uid %u does)", check->uid,
			        (guint)getuid());
			msb_dbus_auth_refuse(task, why);
		}
		return;
	}
	if (check->uid == 0) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	if (check->admin_group == NULL) {
		g_autofree gchar *why =
		        g_strdup_printf("uid %u is not 0 and no DBusAdminGroup is set", check->uid);
		msb_dbus_auth_refuse(task, why);
		return;
	}
	/* the user database may be on the network: not on the main loop */
	lookup = g_task_new(NULL, g_task_get_cancellable(task), msb_dbus_auth_group_done_cb,
	                    g_object_ref(task));
	g_task_set_task_data(lookup, check, NULL);
	g_task_run_in_thread(lookup, msb_dbus_auth_group_thread);
}

static void
msb_dbus_auth_by_credentials(GTask *task)
{
	MsbDbusAuthCheck *check = g_task_get_task_data(task);
	GDBusConnection *conn = g_dbus_method_invocation_get_connection(check->invocation);

	g_dbus_connection_call(
	        conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	        "GetConnectionCredentials",
	        g_variant_new("(s)", g_dbus_method_invocation_get_sender(check->invocation)),
	        G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, g_task_get_cancellable(task),
	        msb_dbus_auth_credentials_cb, g_object_ref(task));
}

static void
msb_dbus_auth_polkit_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	gboolean authorized = FALSE;
	gboolean challenge = FALSE;

	reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	if (reply == NULL) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
		/* no polkit on this bus (or it failed): the uid and group rule decides */
		g_debug("D-Bus: polkit did not answer (%s); checking the caller's uid",
		        error->message);
		msb_dbus_auth_by_credentials(task);
		return;
	}
	g_variant_get(reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
	if (authorized) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	msb_dbus_auth_refuse(
	        task, challenge ? "polkit asks for authentication (action " MSB_DBUS_AUTH_ACTION
	                          "), and none was given"
	                        : "polkit refused the action " MSB_DBUS_AUTH_ACTION);
}

void
msb_dbus_auth_check_async(MsbDbusAuth *auth, GDBusMethodInvocation *invocation,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	MsbDbusAuthCheck *check;
	GVariantBuilder subject;

	g_return_if_fail(auth != NULL);
	g_return_if_fail(G_IS_DBUS_METHOD_INVOCATION(invocation));

	task = g_task_new(NULL, cancellable, callback, user_data);
	g_task_set_source_tag(task, msb_dbus_auth_check_async);
	check = g_new0(MsbDbusAuthCheck, 1);
	check->invocation = g_object_ref(invocation);
	check->admin_group = g_strdup(auth->admin_group);
	check->system_bus = auth->system_bus;
	g_task_set_task_data(task, check, (GDestroyNotify)msb_dbus_auth_check_free);
	if (g_dbus_method_invocation_get_sender(invocation) == NULL) {
		msb_dbus_auth_refuse(task, "the caller has no bus name");
		return;
	}
	if (!auth->system_bus) {
		msb_dbus_auth_by_credentials(task);
		return;
	}
	g_variant_builder_init(&subject, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(
	        &subject, "{sv}", "name",
	        g_variant_new_string(g_dbus_method_invocation_get_sender(invocation)));
	g_dbus_connection_call(g_dbus_method_invocation_get_connection(invocation),
	                       "org.freedesktop.PolicyKit1",
	                       "/org/freedesktop/PolicyKit1/Authority",
	                       "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
	                       g_variant_new("((sa{sv})s@a{ss}us)", "system-bus-name", &subject,
	                                     MSB_DBUS_AUTH_ACTION,
	                                     g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0),
	                                     MSB_DBUS_AUTH_POLKIT_ALLOW_INTERACTION, ""),
	                       G_VARIANT_TYPE("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE,
	                       MSB_DBUS_AUTH_POLKIT_TIMEOUT_MS, cancellable,
	                       msb_dbus_auth_polkit_cb, g_steal_pointer(&task));
}

gboolean
msb_dbus_auth_check_finish(MsbDbusAuth *auth, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}
