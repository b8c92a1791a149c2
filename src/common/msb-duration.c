/*
 * The duration parser and formatter shared by every settings file (forms listed in
 * msb-duration.h). Written by hand rather than with sscanf() so that every rejected spelling gets
 * a reason a user can act on and so that overflow is detected instead of wrapping.
 */
#define G_LOG_DOMAIN "msb-duration"

#include "msb-duration.h"

#include <glib/gi18n.h>
#include <string.h>

#define US_PER_MS  G_GUINT64_CONSTANT(1000)
#define US_PER_S   G_GUINT64_CONSTANT(1000000)
#define US_PER_MIN (60 * US_PER_S)
#define US_PER_H   (60 * US_PER_MIN)
#define US_PER_DAY (24 * US_PER_H)

/* longer input is cut in messages: a log line should not carry a whole pasted file */
#define QUOTE_MAX_CHARS 64

G_DEFINE_QUARK(msb - duration - error - quark, msb_duration_error)

/* "TEXT" with quotes, backslashes and control characters escaped, cut after QUOTE_MAX_CHARS */
static gchar *
quote_text(const gchar *text)
{
	GString *out = g_string_new("\"");
	guint chars = 0;

	for (const gchar *p = text; *p != '\0'; p++) {
		guchar c = (guchar)*p;

		/* count characters, not bytes, and never cut inside a UTF-8 sequence */
		if ((c & 0xc0) != 0x80 && chars++ == QUOTE_MAX_CHARS) {
			g_string_append(out, "…");
			break;
		}
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (gchar)c);
	}
	g_string_append_c(out, '"');
	return g_string_free(out, FALSE);
}

/* a copy of MSB_DURATION_EXPECTED that xgettext can see; tests/unit/test-duration.c finds the
 * macro's text in the errors, so the two cannot drift apart */

static const gchar *msb_duration_expected =
        N_("a duration such as 00:00:20, 1d 00:00:10, 500ms or 20s");
G_STATIC_ASSERT(sizeof(MSB_DURATION_EXPECTED) ==
                sizeof("a duration such as 00:00:20, 1d 00:00:10, 500ms or 20s"));

static gboolean
fail(GError **error, MsbDurationError code, const gchar *text, const gchar *reason)
{
	g_autofree gchar *shown = quote_text(text);

	if (reason != NULL)
		g_set_error(error, MSB_DURATION_ERROR, code,
		            _("%s is not a duration (%s; expected %s)"), shown, _(reason),
		            _(msb_duration_expected));
	else
		g_set_error(error, MSB_DURATION_ERROR, code,
		            _("%s is not a duration (expected %s)"), shown,
		            _(msb_duration_expected));
	return FALSE;
}

/*
 * Read one or more decimal digits. *@too_big is set, rather than the value wrapping, when the
 * number exceeds G_MAXINT64; reading continues so that the caller still sees the whole field.
 */
static gboolean
read_number(const gchar **p, const gchar *end, guint64 *out, guint *n_digits, gboolean *too_big)
{
	guint64 v = 0;
	guint n = 0;

	while (*p < end && g_ascii_isdigit(**p)) {
		if (!g_uint64_checked_mul(&v, v, 10) ||
		    !g_uint64_checked_add(&v, v, (guint64)(**p - '0')) || v > G_MAXINT64)
			*too_big = TRUE;
		(*p)++;
		n++;
	}
	*out = v;
	*n_digits = n;
	return n > 0;
}

/* After the '.', up to 6 digits, scaled to microseconds ("5" = 500000). */
static gboolean
read_fraction(const gchar **p, const gchar *end, guint64 *out_us, const gchar **reason)
{
	guint64 v = 0;
	guint n = 0;

	while (*p < end && g_ascii_isdigit(**p)) {
		if (n == 6) {
			*reason = N_("at most 6 digits after the decimal point (microseconds)");
			return FALSE;
		}
		v = v * 10 + (guint64)(**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0) {
		*reason = N_("digits must follow the decimal point");
		return FALSE;
	}
	for (; n < 6; n++)
		v *= 10;
	*out_us = v;
	return TRUE;
}

static gboolean
is_unit(const gchar *p, const gchar *end, const gchar *unit)
{
	gsize len = strlen(unit);

	return (gsize)(end - p) == len && g_ascii_strncasecmp(p, unit, len) == 0;
}

/* total = sum of field × unit, or FALSE when it leaves gint64 */
static gboolean
add_scaled(guint64 *total, guint64 field, guint64 unit)
{
	guint64 part;

	return g_uint64_checked_mul(&part, field, unit) &&
	       g_uint64_checked_add(total, *total, part) && *total <= G_MAXINT64;
}

/*
 * The colon forms, positioned just after the first field's ':'. @first is the hours (with days or
 * three fields) or the minutes (two fields).
 */
static gboolean
parse_clock(const gchar *text, const gchar *p, const gchar *end, guint64 first, guint first_digits,
            gboolean first_big, gboolean have_days, guint64 days, gint64 *out_us, GError **error)
{
	guint64 f2 = 0;
	guint64 f3 = 0;
	guint64 frac = 0;
	guint64 hours = 0;
	guint64 minutes;
	guint64 seconds;
	guint64 total = 0;
	guint n2 = 0;
	guint n3 = 0;
	gboolean big = first_big;
	gboolean three = FALSE;
	const gchar *reason = NULL;

	if (!read_number(&p, end, &f2, &n2, &big))
		return fail(error, MSB_DURATION_ERROR_INVALID, text, N_("digits must follow ':'"));
	if (p < end && *p == ':') {
		p++;
		three = TRUE;
		if (!read_number(&p, end, &f3, &n3, &big))
			return fail(error, MSB_DURATION_ERROR_INVALID, text,
			            N_("digits must follow ':'"));
	}
	if (p < end && *p == '.') {
		p++;
		if (!read_fraction(&p, end, &frac, &reason))
			return fail(error, MSB_DURATION_ERROR_INVALID, text, reason);
	}
	if (p != end)
		return fail(error, MSB_DURATION_ERROR_INVALID, text, NULL);
	if (have_days && !three)
		return fail(error, MSB_DURATION_ERROR_INVALID, text,
		            N_("days must be followed by HH:MM:SS"));

	if (three) {
		hours = first;
		minutes = f2;
		seconds = f3;
	} else {
		minutes = first;
		seconds = f2;
	}
	/*
	 * Two digits at most for minutes and seconds (and for hours after a day count), as in the
	 * documented forms: "00:000:20" is more likely a typo than a meaning.
	 */
	if (n2 > 2 || n3 > 2 || (!three && first_digits > 2))
		return fail(error, MSB_DURATION_ERROR_INVALID, text,
		            N_("minutes and seconds have at most two digits"));
	if (have_days && first_digits > 2)
		return fail(error, MSB_DURATION_ERROR_INVALID, text,
		            N_("hours after a day count have at most two digits"));
	if (minutes > 59)
		return fail(error, MSB_DURATION_ERROR_INVALID, text,
		            N_("minutes must be 00 to 59"));
	if (seconds > 59)
		return fail(error, MSB_DURATION_ERROR_INVALID, text,
		            N_("seconds must be 00 to 59"));
	/* with a day count, 24 hours or more would be a second way to write days */
	if (have_days && hours > 23)
		return fail(error, MSB_DURATION_ERROR_INVALID, text,
		            N_("hours must be 00 to 23 after a day count"));
	if (big || !add_scaled(&total, days, US_PER_DAY) || !add_scaled(&total, hours, US_PER_H) ||
	    !add_scaled(&total, minutes, US_PER_MIN) || !add_scaled(&total, seconds, US_PER_S) ||
	    !add_scaled(&total, frac, 1))
		return fail(error, MSB_DURATION_ERROR_OVERFLOW, text, N_("too large"));
	*out_us = (gint64)total;
	return TRUE;
}

gboolean
msb_duration_parse(const gchar *text, gint64 *out_us, GError **error)
{
	const gchar *p;
	const gchar *end;
	const gchar *reason = NULL;
	guint64 n = 0;
	guint64 frac = 0;
	guint64 total = 0;
	guint n_digits = 0;
	gboolean big = FALSE;

	g_return_val_if_fail(text != NULL, FALSE);
	g_return_val_if_fail(out_us != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	p = text;
	end = text + strlen(text);
	while (p < end && g_ascii_isspace(*p))
		p++;
	while (end > p && g_ascii_isspace(end[-1]))
		end--;

	if (p == end)
		return fail(error, MSB_DURATION_ERROR_INVALID, text, N_("the value is empty"));
	if (*p == '-')
		return fail(error, MSB_DURATION_ERROR_INVALID, text,
		            N_("a duration cannot be negative"));
	if (*p == '+')
		return fail(error, MSB_DURATION_ERROR_INVALID, text, N_("no sign is allowed"));
	if (!read_number(&p, end, &n, &n_digits, &big))
		return fail(error, MSB_DURATION_ERROR_INVALID, text, NULL);

	if (p == end)
		return fail(error, MSB_DURATION_ERROR_INVALID, text,
		            N_("a number needs a unit, such as 20s or 500ms"));

	if (*p == ':')
		return parse_clock(text, p + 1, end, n, n_digits, big, FALSE, 0, out_us, error);

	if (*p == 'd' || *p == 'D') {
		guint64 hours = 0;

		p++;
		if (p == end || !g_ascii_isspace(*p))
			return fail(error, MSB_DURATION_ERROR_INVALID, text,
			            N_("days must be followed by a space and HH:MM:SS"));
		while (p < end && g_ascii_isspace(*p))
			p++;
		if (!read_number(&p, end, &hours, &n_digits, &big) || p == end || *p != ':')
			return fail(error, MSB_DURATION_ERROR_INVALID, text,
			            N_("days must be followed by HH:MM:SS"));
		if (big)
			return fail(error, MSB_DURATION_ERROR_OVERFLOW, text, N_("too large"));
		return parse_clock(text, p + 1, end, hours, n_digits, FALSE, TRUE, n, out_us,
		                   error);
	}

	if (is_unit(p, end, "ms")) {
		if (big || !add_scaled(&total, n, US_PER_MS))
			return fail(error, MSB_DURATION_ERROR_OVERFLOW, text, N_("too large"));
		*out_us = (gint64)total;
		return TRUE;
	}

	if (*p == '.') {
		p++;
		if (!read_fraction(&p, end, &frac, &reason))
			return fail(error, MSB_DURATION_ERROR_INVALID, text, reason);
		if (is_unit(p, end, "ms"))
			return fail(error, MSB_DURATION_ERROR_INVALID, text,
			            N_("milliseconds must be whole; write 1.5ms as 0.0015s"));
	}
	if (is_unit(p, end, "s")) {
		if (big || !add_scaled(&total, n, US_PER_S) || !add_scaled(&total, frac, 1))
			return fail(error, MSB_DURATION_ERROR_OVERFLOW, text, N_("too large"));
		*out_us = (gint64)total;
		return TRUE;
	}

	return fail(error, MSB_DURATION_ERROR_INVALID, text, NULL);
}

/* ".5", ".000001": the fraction with trailing zeros dropped */
static void
append_fraction(GString *out, guint64 frac_us)
{
	gchar digits[8];
	gint len;

	g_snprintf(digits, sizeof(digits), "%06u", (guint)frac_us);
	len = 6;
	while (len > 0 && digits[len - 1] == '0')
		len--;
	g_string_append_c(out, '.');
	g_string_append_len(out, digits, len);
}

gchar *
msb_duration_to_string(gint64 us)
{
	GString *out = g_string_new(NULL);
	guint64 u;

	if (us < 0) {
		g_string_append_c(out, '-');
		/* -(G_MININT64) does not fit in gint64, so negate in unsigned arithmetic */
		u = (guint64)0 - (guint64)us;
	} else {
		u = (guint64)us;
	}

	if (u == 0) {
		g_string_append(out, "00:00:00");
	} else if (u < US_PER_S) {
		if (u % US_PER_MS == 0) {
			g_string_append_printf(out, "%ums", (guint)(u / US_PER_MS));
		} else {
			g_string_append_c(out, '0');
			append_fraction(out, u);
			g_string_append_c(out, 's');
		}
	} else {
		guint64 days = u / US_PER_DAY;
		guint64 rem = u % US_PER_DAY;

		if (days > 0)
			g_string_append_printf(out, "%" G_GUINT64_FORMAT "d ", days);
		g_string_append_printf(out, "%02u:%02u:%02u", (guint)(rem / US_PER_H),
		                       (guint)(rem % US_PER_H / US_PER_MIN),
		                       (guint)(rem % US_PER_MIN / US_PER_S));
		if (rem % US_PER_S != 0)
			append_fraction(out, rem % US_PER_S);
	}
	return g_string_free(out, FALSE);
}
