/*
 * Command-line values in, broker values out, for msbctl's administration commands (see the
 * header). Durations use the settings files' parser so that msbctl and the broker accept the same
 * spellings.
 */
#define G_LOG_DOMAIN "msbctl"

#include <glib/gi18n.h>
#include <msb-duration.h>

#include "msbctl-values.h"

G_DEFINE_QUARK(msbctl - value - error - quark, msbctl_value_error)

gboolean
msbctl_choose_bus(gboolean session, gboolean system, const gchar *env_value, GBusType *out,
                  GError **error)
{
	if (session && system) {
		g_set_error_literal(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID,
		                    _("give --session or --system, not both"));
		return FALSE;
	}
	if (session || system) {
		*out = session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM;
		return TRUE;
	}
	if (env_value == NULL || env_value[0] == '\0' || g_strcmp0(env_value, "system") == 0) {
		*out = G_BUS_TYPE_SYSTEM;
		return TRUE;
	}
	if (g_strcmp0(env_value, "session") == 0) {
		*out = G_BUS_TYPE_SESSION;
		return TRUE;
	}
	g_set_error(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID,
	            _("MSBCTL_BUS must be \"session\" or \"system\", not \"%s\""), env_value);
	return FALSE;
}

gboolean
msbctl_parse_bool(const gchar *text, gboolean *out, GError **error)
{
	const gchar *yes[] = {"on", "yes", "true", "1"};
	const gchar *no[] = {"off", "no", "false", "0"};

	g_return_val_if_fail(text != NULL, FALSE);
	for (guint i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (g_ascii_strcasecmp(text, yes[i]) == 0) {
			*out = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp(text, no[i]) == 0) {
			*out = FALSE;
			return TRUE;
		}
	}
	g_set_error(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID,
	            _("\"%s\" is not on or off (also yes/no, true/false, 1/0)"), text);
	return FALSE;
}

gboolean
msbctl_parse_int64(const gchar *text, gint64 min, const gchar *what, gint64 *out, GError **error)
{
	gint64 value = 0;

	g_return_val_if_fail(text != NULL, FALSE);
	/* g_ascii_string_to_signed accepts a leading "+" and nothing else around the digits */
	if (text[0] == '+' ||
	    !g_ascii_string_to_signed(text, 10, G_MININT64, G_MAXINT64, &value, NULL) ||
	    value < min) {
		g_set_error(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID,
		            /* TRANSLATORS: the first %s is "message id", "session id" or "number
		             * of messages" */
		            _("the %s must be a whole number from %lld to %lld, not \"%s\""), what,
		            (long long)min, (long long)G_MAXINT64, text);
		return FALSE;
	}
	*out = value;
	return TRUE;
}

gboolean
msbctl_parse_hard_delete_moment(const gchar *in_text, const gchar *at_text, gint64 now_us,
                                gint64 *out_us, GError **error)
{
	if (in_text != NULL && at_text != NULL) {
		g_set_error_literal(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID,
		                    _("give --hard-delete-in or --at, not both"));
		return FALSE;
	}
	if (in_text != NULL) {
		gint64 duration = 0;
		g_autoptr(GError) error_local = NULL;

		if (!msb_duration_parse(in_text, &duration, &error_local)) {
			g_set_error(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID,
			            "--hard-delete-in: %s", error_local->message);
			return FALSE;
		}
		if (duration > G_MAXINT64 - now_us) {
			g_set_error(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID,
			            _("--hard-delete-in: \"%s\" is too far in the future"),
			            in_text);
			return FALSE;
		}
		*out_us = now_us + duration;
		return TRUE;
	}
	if (at_text != NULL) {
		g_autoptr(GTimeZone) local = g_time_zone_new_local();
		g_autoptr(GDateTime) dt = NULL;

		if (g_ascii_strcasecmp(at_text, "now") == 0) {
			*out_us = now_us;
			return TRUE;
		}
		dt = g_date_time_new_from_iso8601(at_text, local);
		if (dt == NULL) {
			g_set_error(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID,
			            _("--at: \"%s\" is not an ISO 8601 date and time such as "
			              "2026-12-31T23:00:00 (local time) or 2026-12-31T22:00:00Z"),
			            at_text);
			return FALSE;
		}
		*out_us =
		        g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
		return TRUE;
	}
	*out_us = 0;
	return TRUE;
}

gchar *
msbctl_format_moment(gint64 us, GTimeZone *tz)
{
	g_autoptr(GDateTime) utc = NULL;
	g_autoptr(GDateTime) dt = NULL;

	if (us == 0)
		return NULL;
	utc = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
	if (utc == NULL)
		return g_strdup_printf("%" G_GINT64_FORMAT "us", us);
	if (tz == NULL)
		return g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ");
	dt = g_date_time_to_timezone(utc, tz);
	return g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z");
}

gchar *
msbctl_format_hard_delete(gboolean deleted, gint64 moment_us, GTimeZone *tz)
{
	g_autofree gchar *moment = NULL;

	if (!deleted)
		return NULL;
	if (moment_us <= 1)
		return g_strdup(_("next tick"));
	moment = msbctl_format_moment(moment_us, tz);
	return g_strdup_printf(_("until %s"), moment);
}

gchar *
msbctl_format_seconds(gint64 seconds)
{
	gint64 s = MAX(seconds, 0);
	gint64 days = s / 86400;

	s %= 86400;
	if (days > 0)
		return g_strdup_printf("%" G_GINT64_FORMAT "d %02d:%02d:%02d", days,
		                       (gint)(s / 3600), (gint)(s / 60 % 60), (gint)(s % 60));
	return g_strdup_printf("%02d:%02d:%02d", (gint)(s / 3600), (gint)(s / 60 % 60),
	                       (gint)(s % 60));
}

static gboolean
msbctl_ranges_valid(GVariant *ranges)
{
	return ranges != NULL && g_variant_is_of_type(ranges, G_VARIANT_TYPE("a(xx)"));
}

gchar *
msbctl_format_ranges(GVariant *ranges, guint max_ranges)
{
	GString *out;
	gsize n;

	if (!msbctl_ranges_valid(ranges) || (n = g_variant_n_children(ranges)) == 0)
		return g_strdup("-");
	out = g_string_new(NULL);
	for (gsize i = 0; i < n && i < max_ranges; i++) {
		gint64 from = 0;
		gint64 to = 0;

		g_variant_get_child(ranges, i, "(xx)", &from, &to);
		if (i > 0)
			g_string_append_c(out, ',');
		if (from == to)
			g_string_append_printf(out, "%" G_GINT64_FORMAT, from);
		else
			g_string_append_printf(out, "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, from,
			                       to);
	}
	if (n > max_ranges)
		g_string_append_printf(out, " (+%" G_GSIZE_FORMAT " more)", n - max_ranges);
	return g_string_free(out, FALSE);
}

JsonNode *
msbctl_ranges_to_json(GVariant *ranges)
{
	JsonArray *array = json_array_new();
	JsonNode *node;

	for (gsize i = 0; msbctl_ranges_valid(ranges) && i < g_variant_n_children(ranges); i++) {
		JsonArray *pair = json_array_new();
		gint64 from = 0;
		gint64 to = 0;

		g_variant_get_child(ranges, i, "(xx)", &from, &to);
		json_array_add_int_element(pair, from);
		json_array_add_int_element(pair, to);
		json_array_add_array_element(array, pair);
	}
	node = json_node_init_array(json_node_alloc(), array);
	json_array_unref(array);
	return node;
}
