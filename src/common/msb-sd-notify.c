/*
 * MsbSdNotify (see msb-sd-notify.h): the only file that calls libsystemd. Both programs call
 * these functions; without libsystemd they do nothing, so that the programs build and run the
 * same way elsewhere (--ready-file is what tests and other supervisors use).
 */
#define G_LOG_DOMAIN "msb-sd-notify"

#include "msb-sd-notify.h"

#ifdef MSB_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* what EXTEND_TIMEOUT_USEC= may be sent as often as */
#define MSB_SD_NOTIFY_EXTEND_EVERY_US G_USEC_PER_SEC

gboolean
msb_sd_notify_supported(void)
{
#ifdef MSB_HAVE_LIBSYSTEMD
	return TRUE;
#else
	return FALSE;
#endif
}

#ifdef MSB_HAVE_LIBSYSTEMD
static void
msb_sd_notify_send(const gchar *state)
{
	gint r = sd_notify(0, state);

	/* 0: not run by systemd (no $NOTIFY_SOCKET), the usual case outside a service */
	if (r < 0)
		g_debug("sd_notify(%s): %s", state, g_strerror(-r));
}

static gchar *
msb_sd_notify_status_line(const gchar *format, va_list args) G_GNUC_PRINTF(1, 0);

/* "STATUS=…\n" from @format, on one line, or "" for a NULL @format */
static gchar *
msb_sd_notify_status_line(const gchar *format, va_list args)
{
	g_autofree gchar *text = NULL;

	if (format == NULL)
		return g_strdup("");
	text = g_strdup_vprintf(format, args);
	g_strdelimit(text, "\r\n", ' ');
	return g_strdup_printf("STATUS=%s\n", text);
}
#endif

#ifdef MSB_HAVE_LIBSYSTEMD
static void
msb_sd_notify_state_va(const gchar *state, const gchar *format, va_list args) G_GNUC_PRINTF(2, 0);

/* @state ("READY=1", "STOPPING=1") with an optional STATUS= line */
static void
msb_sd_notify_state_va(const gchar *state, const gchar *format, va_list args)
{
	g_autofree gchar *status = msb_sd_notify_status_line(format, args);
	g_autofree gchar *text = g_strdup_printf("%s\n%s", state, status);

	msb_sd_notify_send(text);
}
#endif

void
msb_sd_notify_ready(const gchar *format, ...)
{
#ifdef MSB_HAVE_LIBSYSTEMD
	va_list args;

	va_start(args, format);
	msb_sd_notify_state_va("READY=1", format, args);
	va_end(args);
#endif
}

void
msb_sd_notify_status(const gchar *format, ...)
{
#ifdef MSB_HAVE_LIBSYSTEMD
	g_autofree gchar *status = NULL;
	va_list args;

	g_return_if_fail(format != NULL);
	va_start(args, format);
	status = msb_sd_notify_status_line(format, args);
	va_end(args);
	msb_sd_notify_send(status);
#endif
}

void
msb_sd_notify_reloading(void)
{
#ifdef MSB_HAVE_LIBSYSTEMD
	/* systemd ≥ 253 wants the time of the reload request with RELOADING=1; GLib's monotonic
	 * clock is CLOCK_MONOTONIC, the one it means */
	g_autofree gchar *state = g_strdup_printf(
	        "RELOADING=1\nSTATUS=Reloading the settings\nMONOTONIC_USEC=%" G_GINT64_FORMAT "\n",
	        g_get_monotonic_time());
	msb_sd_notify_send(state);
#endif
}

void
msb_sd_notify_stopping(const gchar *format, ...)
{
#ifdef MSB_HAVE_LIBSYSTEMD
	va_list args;

	va_start(args, format);
	msb_sd_notify_state_va("STOPPING=1", format, args);
	va_end(args);
#endif
}

void
msb_sd_notify_extend_timeout(gint64 usec)
{
#ifdef MSB_HAVE_LIBSYSTEMD
	static gint64 last_us = 0;
	gint64 now = g_get_monotonic_time();
	g_autofree gchar *state = NULL;

	g_return_if_fail(usec > 0);
	if (last_us != 0 && now - last_us < MSB_SD_NOTIFY_EXTEND_EVERY_US)
		return;
	last_us = now;
	state = g_strdup_printf("EXTEND_TIMEOUT_USEC=%" G_GINT64_FORMAT, usec);
	msb_sd_notify_send(state);
#endif
}

#ifdef MSB_HAVE_LIBSYSTEMD
static gboolean
msb_sd_notify_watchdog_cb(gpointer user_data)
{
	msb_sd_notify_send("WATCHDOG=1");
	return G_SOURCE_CONTINUE;
}
#endif

gint64
msb_sd_notify_watchdog_start(void)
{
#ifdef MSB_HAVE_LIBSYSTEMD
	static guint watchdog_id = 0;
	uint64_t usec = 0;
	gint r = sd_watchdog_enabled(0, &usec);
	guint interval_ms;

	g_return_val_if_fail(watchdog_id == 0, 0);
	if (r < 0) {
		g_warning("the systemd watchdog settings are not usable ($WATCHDOG_USEC, "
		          "$WATCHDOG_PID): %s; not answering the watchdog",
		          g_strerror(-r));
		return 0;
	}
	if (r == 0)
		return 0;
	/* half the interval, so that one late tick is not yet a missed one */
	interval_ms = (guint)MIN(MAX(usec / 2000, 1), G_MAXUINT);
	msb_sd_notify_send("WATCHDOG=1");
	/* the default priority: a main loop too busy to run it is what the watchdog is for */
	watchdog_id = g_timeout_add(interval_ms, msb_sd_notify_watchdog_cb, NULL);
	g_source_set_name_by_id(watchdog_id, "[msb] systemd watchdog");
	g_debug("systemd watchdog: %" G_GUINT64_FORMAT " ms, answered every %u ms",
	        (guint64)usec / 1000, interval_ms);
	return (gint64)usec;
#else
	return 0;
#endif
}
