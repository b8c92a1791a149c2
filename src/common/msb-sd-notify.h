/*
 * MsbSdNotify: what both programs tell systemd (sd_notify(3)) when they run as a Type=notify
 * service: READY=1 once they serve clients, STATUS= lines saying what they wait for,
 * RELOADING=1 around a SIGHUP reload, STOPPING=1 when a graceful shutdown starts,
 * EXTEND_TIMEOUT_USEC= while a long start-up makes progress, and WATCHDOG=1 from the main loop.
 *
 * One process-wide adapter, because $NOTIFY_SOCKET is process-wide. Without libsystemd at build
 * time (the meson option systemd), or without $NOTIFY_SOCKET at run time, every call does
 * nothing.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Built with libsystemd. */
gboolean
msb_sd_notify_supported(void);
/* READY=1, with the STATUS= line @format (may be NULL: no status). */
void
msb_sd_notify_ready(const gchar *format, ...) G_GNUC_PRINTF(1, 2);
/* STATUS=: one line of free text (newlines become blanks). */
void
msb_sd_notify_status(const gchar *format, ...) G_GNUC_PRINTF(1, 2);
/* RELOADING=1 (with MONOTONIC_USEC=) before a reload; READY=1 with msb_sd_notify_ready() after
 * it. */
void
msb_sd_notify_reloading(void);
/* STOPPING=1 with the STATUS= line @format (may be NULL). */
void
msb_sd_notify_stopping(const gchar *format, ...) G_GNUC_PRINTF(1, 2);
/*
 * A start-up that takes long is still making progress: EXTEND_TIMEOUT_USEC=@usec (systemd gives
 * it at least @usec more from now). Sent at most once a second, so it may be called for every
 * step.
 */
void
msb_sd_notify_extend_timeout(gint64 usec);
/*
 * When systemd watches this process ($WATCHDOG_USEC, $WATCHDOG_PID: sd_watchdog_enabled(3)),
 * send WATCHDOG=1 now and from a timeout on the default main context at half the interval, so
 * that a main loop that stalls for longer is caught. Returns the interval in microseconds, 0 when
 * nothing watches. Call once, before the main loop runs.
 */
gint64
msb_sd_notify_watchdog_start(void);

G_END_DECLS
