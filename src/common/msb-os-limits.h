/*
 * The operating system's limits that a server meets first under load: the open-files limit
 * (every client connection is a file descriptor) and the listen backlog (connections the kernel
 * holds until they are accepted). Shared by the broker and the persistence service.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the hard limit is
 * unlimited) and log the result. Returns the soft limit in effect afterwards.
 */
guint64
msb_os_limits_raise_nofile(void);

/* The largest listen backlog the kernel grants: net.core.somaxconn, else SOMAXCONN. */
gint
msb_os_limits_get_somaxconn(void);

G_END_DECLS
