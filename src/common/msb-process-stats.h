/*
 * MsbProcessStats: what the process costs the machine (memory, CPU, file descriptors, start
 * time), read from /proc/self for /metrics (process_* families) and the status pages of both
 * programs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	guint64 resident_bytes;
	guint64 virtual_bytes;
	gdouble cpu_seconds;        /* user + system */
	gdouble start_time_seconds; /* Unix time the process started */
	guint64 open_fds;
	guint64 max_fds; /* the soft open-files limit */
} MsbProcessStats;

/* FALSE (and @stats zeroed) when /proc/self cannot be read. */
gboolean
msb_process_stats_read(MsbProcessStats *stats);

G_END_DECLS
