/*
 * Open-files limit and listen backlog (see msb-os-limits.h). A daemon started by a shell or a
 * service manager usually gets a soft limit of 1024 open files while the hard limit allows far
 * more; a broker with thousands of clients needs the hard one, as Redis and RabbitMQ also raise
 * it (or ask for it) at start.
 */
#define G_LOG_DOMAIN "msb-os-limits"

#include "msb-os-limits.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* a value from a /proc/sys file, or @fallback when it cannot be read */
static guint64
msb_os_limits_read_sysctl(const gchar *path, guint64 fallback)
{
	g_autofree gchar *text = NULL;
	guint64 value = 0;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return fallback;
	if (!g_ascii_string_to_unsigned(g_strstrip(text), 10, 1, G_MAXINT32, &value, NULL))
		return fallback;
	return value;
}

guint64
msb_os_limits_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t old_soft;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		g_warning("cannot read the open files limit: %s", g_strerror(errno));
		return 0;
	}
	old_soft = rl.rlim_cur;
	/* an unlimited hard limit still cannot be set as the soft one: fs.nr_open is the cap */
	want = rl.rlim_max != RLIM_INFINITY
	               ? rl.rlim_max
	               : (rlim_t)msb_os_limits_read_sysctl("/proc/sys/fs/nr_open", 1048576);
	if (want <= old_soft) {
		g_message("open files limit: %" G_GUINT64_FORMAT " (the hard limit)",
		          (guint64)old_soft);
		return (guint64)old_soft;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		g_warning("open files limit: %" G_GUINT64_FORMAT
		          "; cannot raise it to %" G_GUINT64_FORMAT ": %s",
		          (guint64)old_soft, (guint64)want, g_strerror(errno));
		return (guint64)old_soft;
	}
	g_message("open files limit: raised from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
	          " (the hard limit)",
	          (guint64)old_soft, (guint64)want);
	return (guint64)want;
}

gint
msb_os_limits_get_somaxconn(void)
{
	return (gint)msb_os_limits_read_sysctl("/proc/sys/net/core/somaxconn", SOMAXCONN);
}
