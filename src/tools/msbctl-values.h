/*
 * The values msbctl's administration commands read from their command line (booleans, ids, the
 * hard-delete moment) and the broker's values they print (moments, durations, id ranges, byte
 * counts). Kept apart from the D-Bus calls so that every rule is unit-tested without a bus; no
 * I/O here, the clock comes in as an argument.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MSBCTL_VALUE_ERROR (msbctl_value_error_quark())
GQuark
msbctl_value_error_quark(void);

typedef enum {
	MSBCTL_VALUE_ERROR_INVALID, /* the text is not a value of that kind */
} MsbctlValueError;

/* The bus of the administration commands: --session or --system when given (not both), else
 * $MSBCTL_BUS (@env_value: "session" or "system"), else the system bus, where the packaged
 * broker runs. */
gboolean
msbctl_choose_bus(gboolean session, gboolean system, const gchar *env_value, GBusType *out,
                  GError **error);
/* on/off, yes/no, true/false, 1/0, any case. */
gboolean
msbctl_parse_bool(const gchar *text, gboolean *out, GError **error);
/* A whole decimal number in [@min, G_MAXINT64]; @what names it in the error ("message id"). */
gboolean
msbctl_parse_int64(const gchar *text, gint64 min, const gchar *what, gint64 *out, GError **error);
/*
 * The hard-delete moment of `delete-topic` in microseconds since the Unix epoch: @in_text is a
 * duration (msb-duration: "00:10:00", "600s", "1d 00:00:00") after @now_us, @at_text an ISO 8601
 * date and time, local time unless it names a zone ("2026-12-31T23:00:00Z"), or "now". At most
 * one of them; neither: 0, which the broker reads as "at its next tick", as REST does.
 */
gboolean
msbctl_parse_hard_delete_moment(const gchar *in_text, const gchar *at_text, gint64 now_us,
                                gint64 *out_us, GError **error);

/* @us (since the epoch) as ISO 8601 to the second, in @tz (NULL: UTC, "…Z"); NULL for 0. */
gchar *
msbctl_format_moment(gint64 us, GTimeZone *tz);
/* How `topics` shows a topic's deletion: NULL when not @deleted, "next tick" for the moments
 * the broker reads as "at its next periodic tick" (0 and 1, as REST's deleted field), else
 * "until " and the moment in @tz (NULL: UTC). */
gchar *
msbctl_format_hard_delete(gboolean deleted, gint64 moment_us, GTimeZone *tz);
/* Seconds as "00:05:10", "1d 02:03:04". */
gchar *
msbctl_format_seconds(gint64 seconds);
/* An a(xx) of inclusive id ranges as "0-4,7,9-12", at most @max_ranges of them and then
 * " (+N more)"; "-" when empty. */
gchar *
msbctl_format_ranges(GVariant *ranges, guint max_ranges);
/* The same ranges as JSON [[from, to], …]. */
JsonNode *
msbctl_ranges_to_json(GVariant *ranges);

G_END_DECLS
