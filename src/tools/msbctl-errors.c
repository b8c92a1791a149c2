/*
 * D-Bus errors → exit statuses and messages for msbctl (see the header). One table per error
 * domain, so that the statuses documented in --help and the ones returned cannot drift apart;
 * the broker's error names come from msb-dbus-error (MSB_DBUS_ERROR), the bus's from GIO
 * (G_DBUS_ERROR), never spelled out here.
 */
#define G_LOG_DOMAIN "msbctl"

#include <glib/gi18n.h>
#include <msb-dbus-error.h>

#include "msbctl-errors.h"
#include "msbctl.h"

typedef struct {
	gint code;
	int status;
	const gchar *hint; /* appended to the message, or NULL */
} MsbctlErrorRule;

static const MsbctlErrorRule msbctl_broker_rules[] = {
        {MSB_DBUS_ERROR_TOPIC_NOT_FOUND, MSBCTL_EXIT_NOT_FOUND, NULL},
        {MSB_DBUS_ERROR_QUEUE_NOT_FOUND, MSBCTL_EXIT_NOT_FOUND, NULL},
        {MSB_DBUS_ERROR_SESSION_NOT_FOUND, MSBCTL_EXIT_NOT_FOUND, NULL},
        {MSB_DBUS_ERROR_INVALID_NAME, MSBCTL_EXIT_INVALID, NULL},
        {MSB_DBUS_ERROR_INVALID_ARGUMENT, MSBCTL_EXIT_INVALID, NULL},
        {MSB_DBUS_ERROR_TOPIC_DELETED, MSBCTL_EXIT_CONFLICT,
         N_("restore it first with msbctl restore-topic")},
        {MSB_DBUS_ERROR_BUSY, MSBCTL_EXIT_BUSY, N_("try again shortly")},
        {MSB_DBUS_ERROR_SHUTTING_DOWN, MSBCTL_EXIT_UNREACHABLE, NULL},
        {MSB_DBUS_ERROR_NOT_AUTHORIZED, MSBCTL_EXIT_NOT_AUTHORIZED,
         N_("run msbctl as root or as a member of the broker's DBusAdminGroup, or let polkit "
            "allow org.myservicebus.Broker1.manage")},
        {MSB_DBUS_ERROR_NOT_SUPPORTED, MSBCTL_EXIT_FAIL, NULL},
        {MSB_DBUS_ERROR_FAILED, MSBCTL_EXIT_FAIL, NULL},
};

static const MsbctlErrorRule msbctl_bus_rules[] = {
        {G_DBUS_ERROR_ACCESS_DENIED, MSBCTL_EXIT_NOT_AUTHORIZED,
         N_("the bus policy refused the call; is data/org.myservicebus.Broker1.conf installed?")},
        {G_DBUS_ERROR_SERVICE_UNKNOWN, MSBCTL_EXIT_UNREACHABLE,
         N_("is my-service-bus running on this bus?")},
        {G_DBUS_ERROR_NAME_HAS_NO_OWNER, MSBCTL_EXIT_UNREACHABLE,
         N_("is my-service-bus running on this bus?")},
        {G_DBUS_ERROR_NO_REPLY, MSBCTL_EXIT_UNREACHABLE, N_("the broker did not answer in time")},
        {G_DBUS_ERROR_TIMEOUT, MSBCTL_EXIT_UNREACHABLE, NULL},
        {G_DBUS_ERROR_TIMED_OUT, MSBCTL_EXIT_UNREACHABLE, NULL},
        {G_DBUS_ERROR_DISCONNECTED, MSBCTL_EXIT_UNREACHABLE, NULL},
        {G_DBUS_ERROR_NO_SERVER, MSBCTL_EXIT_UNREACHABLE, NULL},
        {G_DBUS_ERROR_UNKNOWN_METHOD, MSBCTL_EXIT_FAIL,
         N_("the broker does not offer this call; is it older than msbctl?")},
        {G_DBUS_ERROR_UNKNOWN_OBJECT, MSBCTL_EXIT_FAIL,
         N_("the broker does not offer this object; is it older than msbctl?")},
        {G_DBUS_ERROR_UNKNOWN_INTERFACE, MSBCTL_EXIT_FAIL,
         N_("the broker does not offer this interface; is it older than msbctl?")},
};

void
msbctl_errors_init(void)
{
	/* registers org.myservicebus.Broker1.Error.* so that replies come back in MSB_DBUS_ERROR */
	g_type_ensure(G_TYPE_DBUS_CONNECTION);
	(void)MSB_DBUS_ERROR;
}

static const MsbctlErrorRule *
msbctl_error_rule(const GError *error)
{
	const MsbctlErrorRule *rules = NULL;
	guint n_rules = 0;

	if (error->domain == MSB_DBUS_ERROR) {
		rules = msbctl_broker_rules;
		n_rules = G_N_ELEMENTS(msbctl_broker_rules);
	} else if (error->domain == G_DBUS_ERROR) {
		rules = msbctl_bus_rules;
		n_rules = G_N_ELEMENTS(msbctl_bus_rules);
	}
	for (guint i = 0; i < n_rules; i++) {
		if (rules[i].code == error->code)
			return &rules[i];
	}
	return NULL;
}

int
msbctl_error_exit_status(const GError *error)
{
	const MsbctlErrorRule *rule;

	g_return_val_if_fail(error != NULL, MSBCTL_EXIT_FAIL);
	rule = msbctl_error_rule(error);
	if (rule != NULL)
		return rule->status;
	/* local failures of a call: the connection went or the broker did not answer */
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
		return MSBCTL_EXIT_UNREACHABLE;
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
	rule = msbctl_error_rule(error);
	if (g_dbus_error_is_remote_error(error))
		name = g_dbus_error_get_remote_error(error);
	else if (error->domain == MSB_DBUS_ERROR)
		name = g_strdup(msb_dbus_error_to_name(error->code));
	copy = g_error_copy(error);
	g_dbus_error_strip_remote_error(copy);
	out = g_string_new(copy->message);
	if (rule != NULL && rule->hint != NULL)
		g_string_append_printf(out, "; %s", _(rule->hint));
	if (name != NULL)
		g_string_append_printf(out, " (%s)", name);
	return g_string_free(out, FALSE);
}

const gchar *
msbctl_exit_statuses_help(void)
{
	return _(
	        "Exit status:\n"
	        "  0  success\n"
	        "  1  failed for another reason (the message says why)\n"
	        "  2  bad command line\n"
	        "  3  no such topic, queue or session\n"
	        "  4  not authorized (the broker or the bus policy refused the caller)\n"
	        "  5  invalid name or value (the broker refused it)\n"
	        "  6  broker not reachable: no bus, the broker is not on it, or no answer\n"
	        "  7  the topic is soft-deleted: restore it first\n"
	        "  8  the broker is busy (restoring topics, a hard delete under way): try again\n");
}
