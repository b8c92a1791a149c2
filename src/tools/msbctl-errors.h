/*
 * What msbctl's administration commands say and return when a D-Bus call fails: the broker's
 * named errors (org.myservicebus.Broker1.Error.*, data/org.myservicebus.Broker1.xml) and the bus's
 * own (no such name, access denied, no reply) mapped onto the documented exit statuses of
 * msbctl.h, with a message a user can act on. Pure: it reads a GError and nothing else.
 *
 * The broker's errors are told apart by their MSB_DBUS_ERROR code (msb-dbus-error.h, registered
 * with GDBus by msbctl_errors_init()), the bus's by their G_DBUS_ERROR code.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Before the first D-Bus call: so that the broker's error replies come back as MSB_DBUS_ERROR. */
void
msbctl_errors_init(void);
/* The exit status for a failed call (MSBCTL_EXIT_*); MSBCTL_EXIT_FAIL for anything unknown. */
int
msbctl_error_exit_status(const GError *error);
/* The text to print after "msbctl COMMAND: ": the broker's message without GDBus's
 * "GDBus.Error:NAME: " prefix, followed by " (NAME)" for a D-Bus error, and a hint for the
 * errors a user can do something about (not authorized, broker gone). */
gchar *
msbctl_error_message(const GError *error);
/* The help text listing every exit status, shared by `msbctl --help` and each command's. */
const gchar *
msbctl_exit_statuses_help(void);

G_END_DECLS
