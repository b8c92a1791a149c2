/*
 * What msbctl's subcommands share: the command table entry and the defaults.
 *
 * Each subcommand lives behind one entry point `int run(int argc, char **argv)` that gets argv
 * with the subcommand name as argv[0], parses its own options with GOptionContext (so it has its
 * own --help) and returns the process exit status. msbctl.c holds the table.
 */
#pragma once

#include <glib.h>
#include <glib/gi18n.h>

G_BEGIN_DECLS

#define MSBCTL_DEFAULT_ADDRESS "127.0.0.1:6421"
/* the --address help of the TCP commands, with MSBCTL_DEFAULT_ADDRESS spelled out: xgettext does
 * not expand macros, and a string pasted from one would not be extracted whole */
#define MSBCTL_ADDRESS_HELP N_("Broker address, host:port or unix:/path (default 127.0.0.1:6421)")

/* Exit statuses, documented in `msbctl --help` (msbctl_exit_statuses_help) and docs/msbctl.md.
 * 0-2 are what publish/subscribe always returned; 3-8 are the administration commands' more
 * precise answers, so that a script can tell "retry" from "fix the input". */
#define MSBCTL_EXIT_OK             0
#define MSBCTL_EXIT_FAIL           1 /* failed otherwise (publish/subscribe: Reject, cannot connect) */
#define MSBCTL_EXIT_USAGE          2 /* bad command line */
#define MSBCTL_EXIT_NOT_FOUND      3 /* no such topic, queue or session */
#define MSBCTL_EXIT_NOT_AUTHORIZED 4 /* the broker (or the bus policy) refused the caller */
#define MSBCTL_EXIT_INVALID        5 /* the broker refused a name or value */
#define MSBCTL_EXIT_UNREACHABLE    6 /* no bus, the broker is not on it, or it did not answer */
#define MSBCTL_EXIT_CONFLICT       7 /* the topic is soft-deleted (restore it first) */
#define MSBCTL_EXIT_BUSY           8 /* the broker is busy (restoring, hard delete): try again */

typedef struct {
	const gchar *name;
	const gchar *description;
	int (*run)(int argc, char **argv);
} MsbctlCommand;

G_END_DECLS
