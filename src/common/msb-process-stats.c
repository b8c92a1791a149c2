/*
 * MsbProcessStats from /proc (see msb-process-stats.h). The fields of /proc/self/stat are
 * counted after the last ')', since the command name in parentheses may hold blanks.
 */
#define G_LOG_DOMAIN "msb-process"

#include "msb-process-stats.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* "btime" of /proc/stat: the boot time, in Unix seconds */
static gint64
msb_process_boot_time(void)
{
	g_autofree gchar *text = NULL;
	const gchar *p;

	if (!g_file_get_contents("/proc/stat", &text, NULL, NULL))
		return 0;
	p = strstr(text, "\nbtime ");
	return p != NULL ? g_ascii_strtoll(p + 7, NULL, 10) : 0;
}

static guint64
msb_process_count_fds(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	guint64 n = 0;

	if (dir == NULL)
		return 0;
	while (g_dir_read_name(dir) != NULL)
		n++;
	/* the descriptor GDir itself holds while reading */
	return n > 0 ? n - 1 : 0;
}

gboolean
msb_process_stats_read(MsbProcessStats *stats)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *end;
	struct rlimit lim;
	gdouble ticks = (gdouble)sysconf(_SC_CLK_TCK);
	glong page = sysconf(_SC_PAGESIZE);

	g_return_val_if_fail(stats != NULL, FALSE);
	memset(stats, 0, sizeof(*stats));
	if (!g_file_get_contents("/proc/self/stat", &text, NULL, NULL))
		return FALSE;
	end = strrchr(text, ')');
	if (end == NULL)
		return FALSE;
	/* fields[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24 */
	fields = g_strsplit(g_strstrip((gchar *)end + 1), " ", -1);
	if (g_strv_length(fields) < 22 || ticks <= 0 || page <= 0)
		return FALSE;
	stats->cpu_seconds = (gdouble)(g_ascii_strtoull(fields[11], NULL, 10) +
	                               g_ascii_strtoull(fields[12], NULL, 10)) /
	                     ticks;
	stats->start_time_seconds = (gdouble)msb_process_boot_time() +
	                            (gdouble)g_ascii_strtoull(fields[19], NULL, 10) / ticks;
	stats->virtual_bytes = g_ascii_strtoull(fields[20], NULL, 10);
	stats->resident_bytes = g_ascii_strtoull(fields[21], NULL, 10) * (guint64)page;
	stats->open_fds = msb_process_count_fds();
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
		stats->max_fds = lim.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : lim.rlim_cur;
	return TRUE;
}
