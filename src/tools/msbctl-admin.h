/*
 * msbctl's administration commands over D-Bus (org.myservicebus.Broker1, see
 * data/org.myservicebus.Broker1.xml and docs/msbctl.md): the listings (topics, queues, sessions,
 * status), the changes (create-topic … kick) and what they share with `monitor`
 * (msbctl-monitor.c): the bus options, the connection and the error reporting. Every call goes
 * through the proxies gdbus-codegen generates from the interface XML.
 */
#pragma once

#include <msb-dbus-generated.h>

#include "msbctl.h"

G_BEGIN_DECLS

#define MSBCTL_BUS_NAME     "org.myservicebus.Broker1"
#define MSBCTL_MANAGER_PATH "/org/myservicebus/Broker1"

typedef struct {
	gboolean session;
	gboolean system;
	gboolean json;
	GBusType bus_type;
} MsbctlAdmin;

/*
 * Parse the command line of an administration command: @entries (may be NULL), the bus options
 * and, with @with_json, --json; then exactly @n_args positional arguments named by
 * @parameter_string. Prints the problem and returns MSBCTL_EXIT_USAGE, or MSBCTL_EXIT_OK.
 */
int
msbctl_admin_parse(MsbctlAdmin *self, int *argc, char ***argv, const gchar *parameter_string,
                   const gchar *summary, const GOptionEntry *entries, gboolean with_json,
                   guint n_args);
/* "system" or "session" */
const gchar *
msbctl_admin_bus_label(MsbctlAdmin *self);
/* The chosen bus; NULL after printing why (*status = MSBCTL_EXIT_UNREACHABLE). */
GDBusConnection *
msbctl_admin_connect(MsbctlAdmin *self, int *status);
/* Print "msbctl CMD: MESSAGE" for a failed call and return its exit status. */
int
msbctl_admin_report(const GError *error);
/* The message and status when no one owns org.myservicebus.Broker1 on the bus. */
int
msbctl_admin_report_absent(MsbctlAdmin *self);

int
msbctl_topics_run(int argc, char **argv);
int
msbctl_queues_run(int argc, char **argv);
int
msbctl_sessions_run(int argc, char **argv);
int
msbctl_status_run(int argc, char **argv);
int
msbctl_create_topic_run(int argc, char **argv);
int
msbctl_delete_topic_run(int argc, char **argv);
int
msbctl_restore_topic_run(int argc, char **argv);
int
msbctl_set_persist_run(int argc, char **argv);
int
msbctl_delete_queue_run(int argc, char **argv);
int
msbctl_set_message_id_run(int argc, char **argv);
int
msbctl_set_max_messages_run(int argc, char **argv);
int
msbctl_kick_run(int argc, char **argv);
/* msbctl-monitor.c */
int
msbctl_monitor_run(int argc, char **argv);

G_END_DECLS
