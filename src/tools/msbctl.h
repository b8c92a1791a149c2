/*
 * What msbctl's subcommands share: the command table entry and the defaults.
 *
 * Each subcommand lives behind one entry point `int run(int argc, char **argv)` that gets argv
 * with the subcommand name as argv[0], parses its own options with GOptionContext (so it has its
 * own --help) and returns the process exit status. msbctl.c holds the table.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MSBCTL_DEFAULT_ADDRESS "127.0.0.1:6421"

/* exit statuses */
#define MSBCTL_EXIT_OK    0
#define MSBCTL_EXIT_FAIL  1 /* the operation failed: Reject, disconnect, cannot connect */
#define MSBCTL_EXIT_USAGE 2 /* bad command line */

typedef struct {
	const gchar *name;
	const gchar *description;
	int (*run)(int argc, char **argv);
} MsbctlCommand;

G_END_DECLS
