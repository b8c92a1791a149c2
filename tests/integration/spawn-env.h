/*
 * The environment of a spawned program, shared by the harnesses (itest.c, ptest.c): extra
 * variables, and a variable that holds the program's own pid, which is known only after the
 * fork (systemd's $WATCHDOG_PID is such a variable).
 */
#pragma once

#include <glib.h>

/* @envp with the "NAME=VALUE" strings of @env (NULL-terminated, may be NULL) set. */
static inline gchar **
spawn_env_add(gchar **envp, const gchar *const *env)
{
	for (guint i = 0; env != NULL && env[i] != NULL; i++) {
		g_auto(GStrv) kv = g_strsplit(env[i], "=", 2);

		envp = g_environ_setenv(envp, kv[0], kv[1] != NULL ? kv[1] : "", TRUE);
	}
	return envp;
}

/* Start @argv (a GPtrArray of g_free'd strings, empty so far) with a shell that exports its own
 * pid as @name and then execs the program that follows: exec keeps the pid. */
static inline void
spawn_env_wrap_pid(GPtrArray *argv, const gchar *name)
{
	g_ptr_array_add(argv, g_strdup("/bin/sh"));
	g_ptr_array_add(argv, g_strdup("-c"));
	g_ptr_array_add(argv, g_strdup_printf("export %s=$$; exec \"$0\" \"$@\"", name));
}
