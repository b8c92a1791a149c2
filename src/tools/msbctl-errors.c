/*
 * D-Bus errors → exit statuses and messages for msbctl (see the header). One table, so that the
 * statuses documented in --help and the ones returned cannot drift apart.
 */
#define G_LOG_DOMAIN "msbctl"

#include "msbctl-errors.h"
#include "msbctl.h"

typedef struct {
	const gchar *name;
	int status;
	const gchar *hint; /* appended to the message, or NULL */
} MsbctlErrorRule;

static const MsbctlErrorRule msbctl_error_rules[] = {
        {MSBCTL_DBUS_ERROR_PREFIX "TopicNotFound", MSBCTL_EXIT_NOT_FOUND, NULL},
        {MSBCTL_DBUS_ERROR_PREFIX "QueueNotFound", MSBCTL_EXIT_NOT_FOUND, NULL},
        {MSBCTL_DBUS_ERROR_PREFIX "SessionNotFound", MSBCTL_EXIT_NOT_FOUND, NULL},
        {MSBCTL_DBUS_ERROR_PREFIX "InvalidName", MSBCTL_EXIT_INVALID, NULL},
        {MSBCTL_DBUS_ERROR_PREFIX "InvalidArgument", MSBCTL_EXIT_INVALID, NULL},
        {MSBCTL_DBUS_ERROR_PREFIX "TopicDeleted", MSBCTL_EXIT_CONFLICT,
         "restore it first with msbctl restore-topic"},
        {MSBCTL_DBUS_ERROR_PREFIX "Busy", MSBCTL_EXIT_BUSY, "try again shortly"},
        {MSBCTL_DBUS_ERROR_PREFIX "ShuttingDown", MSBCTL_EXIT_UNREACHABLE, NULL},
        {MSBCTL_DBUS_ERROR_PREFIX "NotAuthorized", MSBCTL_EXIT_NOT_AUTHORIZED,
         "run msbctl as root or as a member of the broker's DBusAdminGroup, or let polkit "
         "allow org.myservicebus.Broker1.manage"},
        {MSBCTL_DBUS_ERROR_PREFIX "NotSupported", MSBCTL_EXIT_FAIL, NULL},
        {MSBCTL_DBUS_ERROR_PREFIX "Failed", MSBCTL_EXIT_FAIL, NULL},
        {"org.freedesktop.DBus.Error.AccessDenied", MSBCTL_EXIT_NOT_AUTHORIZED,
         "the bus policy refused the call; is data/org.myservicebus.Broker1.conf installed?"},
        {"org.freedesktop.DBus.Error.ServiceUnknown", MSBCTL_EXIT_UNREACHABLE,
         "is my-service-bus running on this bus?"},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", MSBCTL_EXIT_UNREACHABLE,
         "is my-service-bus running on this bus?"},
        {"org.freedesktop.DBus.Error.NoReply", MSBCTL_EXIT_UNREACHABLE,
         "the broker did not answer in time"},
        {"org.freedesktop.DBus.Error.Timeout", MSBCTL_EXIT_UNREACHABLE, NULL},
        {"org.freedesktop.DBus.Error.TimedOut", MSBCTL_EXIT_UNREACHABLE, NULL},
        {"org.freedesktop.DBus.Error.Disconnected", MSBCTL_EXIT_UNREACHABLE, NULL},
        {"org.freedesktop.DBus.Error.NoServer", MSBCTL_EXIT_UNREACHABLE, NULL},
        {"org.freedesktop.DBus.Error.UnknownMethod", MSBCTL_EXIT_FAIL,
         "the broker does not offer this call; is it older than msbctl?"},
        {"org.freedesktop.DBus.Error.UnknownObject", MSBCTL_EXIT_FAIL,
         "the broker does not offer this object; is it older than msbctl?"},
        {"org.freedesktop.DBus.Error.UnknownInterface", MSBCTL_EXIT_FAIL,
         "the broker does not offer this interface; is it older than msbctl?"},
};

static const MsbctlErrorRule *
msbctl_error_rule(const GError *error, gchar **out_name)
{
	g_autofree gchar *name = NULL;

	if (error == NULL || !g_dbus_error_is_remote_error(error))
		return NULL;
	name = g_dbus_error_get_remote_error(error);
	for (guint i = 0; name != NULL && i < G_N_ELEMENTS(msbctl_error_rules); i++) {
		if (g_strcmp0(name, msbctl_error_rules[i].name) == 0) {
			if (out_name != NULL)
				*out_name = g_steal_pointer(&name);
			return &msbctl_error_rules[i];
		}
	}
	if (out_name != NULL)
		*out_name = g_steal_pointer(&name);
	return NULL;
}

int
msbctl_error_exit_status(const GError *error)
{
	const MsbctlErrorRule *rule;

	g_return_val_if_fail(error != NULL, MSBCTL_EXIT_FAIL);
	rule = msbctl_error_rule(error, NULL);
	if (rule != NULL)
		return rule->status;
	/* local failures of a call: the connection went or the broker did not answer */
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED))
		return MSBCTL_EXIT_UNREACHABLE;
	if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
		return MSBCTL_EXIT_NOT_AUTHORIZED;
	return MSBCTL_EXIT_FAIL;
}

gchar *
msbctl_error_message(const GError *error)
{
	g_autoptr(GError) copy = NULL;
	g_autofree gchar *name = NULL;
	const MsbctlErrorRule *rule;
	GString *out;

	g_return_val_if_fail(error != NULL, NULL);
	rule = msbctl_error_rule(error, &name);
	copy = g_error_copy(error);
	g_dbus_error_strip_remote_error(copy);
	out = g_string_new(copy->message);
	if (rule != NULL && rule->hint != NULL)
		g_string_append_printf(out, "; %s", rule->hint);
	if (name != NULL)
		g_string_append_printf(out, " (%s)", name);
	return g_string_free(out, FALSE);
}

const gchar *
msbctl_exit_statuses_help(void)
{
	return "Exit status:\n"
	       "  0  success\n"
	       "  1  failed for another reason (the message says why)\n"
	       "  2  bad command line\n"
	       "  3  no such topic, queue or session\n"
	       "  4  not authorized (the broker or the bus policy refused the caller)\n"
	       "  5  invalid name or value (the broker refused it)\n"
	       "  6  broker not reachable: no bus, the broker is not on it, or no answer\n"
	       "  7  the topic is soft-deleted: restore it first\n"
	       "  8  the broker is busy (restoring topics, a hard delete under way): try again\n";
}
