/*
 * Duration strings of the settings files (contract README "Settings file", node.md §1.2.3).
 * One parser for every duration so that the broker and the persistence service accept and reject
 * exactly the same spellings; values are microseconds, the unit of g_get_monotonic_time().
 *
 * Accepted (surrounding ASCII whitespace is ignored):
 *   HH:MM:SS[.f]      hours unbounded, minutes and seconds 0-59, e.g. 00:00:20, 48:00:00
 *   MM:SS[.f]         minutes and seconds 0-59, e.g. 05:30
 *   Nd HH:MM:SS[.f]   days, one or more spaces, then hours 0-23, e.g. 1d 00:00:10
 *   Nms               whole milliseconds, e.g. 500ms
 *   Ns, N.fs          seconds, e.g. 20s, 1.5s
 * where .f is up to 6 fractional digits (microsecond precision) and the unit letters d, ms, s are
 * case-insensitive. Rejected: a bare number ("20"), signs, empty text, fields with no digits,
 * minutes or seconds of 60 or more in the colon forms, and anything that does not fit in gint64.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MSB_DURATION_ERROR (msb_duration_error_quark())
GQuark
msb_duration_error_quark(void);

typedef enum {
	MSB_DURATION_ERROR_INVALID,  /* not one of the accepted forms */
	MSB_DURATION_ERROR_OVERFLOW, /* well formed but does not fit in gint64 microseconds */
} MsbDurationError;

/* What error messages say was expected; also used by msb-config-file. */
#define MSB_DURATION_EXPECTED "a duration such as 00:00:20, 1d 00:00:10, 500ms or 20s"

/*
 * Parse @text into microseconds. On failure @out_us is untouched and @error says
 * "\"TEXT\" is not a duration (REASON; expected a duration such as ...)".
 */
gboolean
msb_duration_parse(const gchar *text, gint64 *out_us, GError **error);

/*
 * Format @us for logs in a form msb_duration_parse() reads back exactly (for @us ≥ 0):
 * "00:00:00", "500ms", "0.0005s", "00:00:20", "00:00:01.5", "1d 00:00:10". Negative values
 * (not parseable, never produced by the parser) get a leading "-".
 */
gchar *
msb_duration_to_string(gint64 us);

G_END_DECLS
