/*
 * Durations: every documented form, the variants we chose to accept, the spellings we reject
 * (with the reason in the message), overflow, and that the formatter's output parses back.
 */
#include <string.h>

#include "msb-duration.h"

#define S  G_GINT64_CONSTANT(1000000)
#define MS G_GINT64_CONSTANT(1000)

typedef struct {
	const gchar *text;
	gint64 us;
} Good;

static void
test_duration_good(void)
{
	static const Good cases[] = {
	        /* the contract's forms */
	        {"00:00:20", 20 * S},
	        {"00:00:05", 5 * S},
	        {"01:02:03", 3723 * S},
	        {"05:30", 330 * S},
	        {"1d 00:00:10", 86410 * S},
	        {"2d 23:59:59", (2 * 86400 + 86399) * S},
	        {"500ms", 500 * MS},
	        {"0ms", 0},
	        {"20s", 20 * S},
	        {"0s", 0},
	        {"00:00:00", 0},
	        /* our variants */
	        {"48:00:00", 48 * 3600 * S},
	        {"0:5", 5 * S},
	        {"1:02:03", 3723 * S},
	        {"00:00:01.5", 1500 * MS},
	        {"00:00:00.000001", 1},
	        {"01:01.25", 61250 * MS},
	        {"1d  00:00:00.5", 86400 * S + 500 * MS},
	        {"1.5s", 1500 * MS},
	        {"0.000001s", 1},
	        {"20S", 20 * S},
	        {"500MS", 500 * MS},
	        {"1D 00:00:00", 86400 * S},
	        {"  20s\t", 20 * S},
	        {"9223372036854775ms", G_GINT64_CONSTANT(9223372036854775) * MS},
	        {"106751991d 04:00:54.775807", G_MAXINT64},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		gint64 us = -1;

		g_test_message("%s", cases[i].text);
		g_assert_true(msb_duration_parse(cases[i].text, &us, &error));
		g_assert_no_error(error);
		g_assert_cmpint(us, ==, cases[i].us);
	}
}

typedef struct {
	const gchar *text;
	gint code;
	const gchar *reason; /* a substring of the message, or NULL */
} Bad;

static void
test_duration_bad(void)
{
	static const Bad cases[] = {
	        {"20", MSB_DURATION_ERROR_INVALID, "needs a unit"},
	        {"", MSB_DURATION_ERROR_INVALID, "empty"},
	        {"   ", MSB_DURATION_ERROR_INVALID, "empty"},
	        {"-5s", MSB_DURATION_ERROR_INVALID, "negative"},
	        {"-00:00:05", MSB_DURATION_ERROR_INVALID, "negative"},
	        {"+5s", MSB_DURATION_ERROR_INVALID, "sign"},
	        {"abc", MSB_DURATION_ERROR_INVALID, NULL},
	        {"s", MSB_DURATION_ERROR_INVALID, NULL},
	        {"ms", MSB_DURATION_ERROR_INVALID, NULL},
	        {"20 s", MSB_DURATION_ERROR_INVALID, NULL},
	        {"20m", MSB_DURATION_ERROR_INVALID, NULL},
	        {"20min", MSB_DURATION_ERROR_INVALID, NULL},
	        {"20sec", MSB_DURATION_ERROR_INVALID, NULL},
	        {"1.5ms", MSB_DURATION_ERROR_INVALID, "whole"},
	        {"1.s", MSB_DURATION_ERROR_INVALID, "digits must follow"},
	        {"1.1234567s", MSB_DURATION_ERROR_INVALID, "6 digits"},
	        {"00:60", MSB_DURATION_ERROR_INVALID, "seconds"},
	        {"60:00", MSB_DURATION_ERROR_INVALID, "minutes"},
	        {"00:60:00", MSB_DURATION_ERROR_INVALID, "minutes"},
	        {"00:00:60", MSB_DURATION_ERROR_INVALID, "seconds"},
	        {"00:000:20", MSB_DURATION_ERROR_INVALID, "two digits"},
	        {"00:00:", MSB_DURATION_ERROR_INVALID, "digits must follow"},
	        {":00:00", MSB_DURATION_ERROR_INVALID, NULL},
	        {"00::00", MSB_DURATION_ERROR_INVALID, "digits must follow"},
	        {"00:00:00:00", MSB_DURATION_ERROR_INVALID, NULL},
	        {"00:00:05 x", MSB_DURATION_ERROR_INVALID, NULL},
	        {"00:00:05.", MSB_DURATION_ERROR_INVALID, "digits must follow"},
	        {"1d", MSB_DURATION_ERROR_INVALID, "days must be followed"},
	        {"1d00:00:00", MSB_DURATION_ERROR_INVALID, "days must be followed"},
	        {"1d 00:10", MSB_DURATION_ERROR_INVALID, "HH:MM:SS"},
	        {"1d 24:00:00", MSB_DURATION_ERROR_INVALID, "hours"},
	        {"1d 100:00:00", MSB_DURATION_ERROR_INVALID, "hours after a day count"},
	        {"1d 20s", MSB_DURATION_ERROR_INVALID, "days must be followed"},
	        {"0x10s", MSB_DURATION_ERROR_INVALID, NULL},
	        {"1e3ms", MSB_DURATION_ERROR_INVALID, NULL},
	        {"00:00:20 // x", MSB_DURATION_ERROR_INVALID, NULL},
	        /* overflow, in each form */
	        {"9223372036854776ms", MSB_DURATION_ERROR_OVERFLOW, "too large"},
	        {"9223372036855s", MSB_DURATION_ERROR_OVERFLOW, "too large"},
	        {"99999999999999999999999s", MSB_DURATION_ERROR_OVERFLOW, "too large"},
	        {"2562047789:00:00", MSB_DURATION_ERROR_OVERFLOW, "too large"},
	        {"106751992d 00:00:00", MSB_DURATION_ERROR_OVERFLOW, "too large"},
	        {"106751991d 04:00:54.775808", MSB_DURATION_ERROR_OVERFLOW, "too large"},
	        {"99999999999999999999d 00:00:00", MSB_DURATION_ERROR_OVERFLOW, "too large"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *quoted =
		        g_strdup_printf("\"%s\" is not a duration", cases[i].text);
		gint64 us = 42;

		g_test_message("%s", cases[i].text);
		g_assert_false(msb_duration_parse(cases[i].text, &us, &error));
		g_assert_error(error, MSB_DURATION_ERROR, cases[i].code);
		g_assert_cmpint(us, ==, 42);
		g_assert_nonnull(strstr(error->message, quoted));
		g_assert_nonnull(strstr(error->message, MSB_DURATION_EXPECTED));
		if (cases[i].reason != NULL)
			g_assert_nonnull(strstr(error->message, cases[i].reason));
	}
}

static void
test_duration_message(void)
{
	g_autoptr(GError) error = NULL;
	gint64 us = 0;

	g_assert_false(msb_duration_parse("20", &us, &error));
	g_assert_cmpstr(error->message, ==,
	                "\"20\" is not a duration (a number needs a unit, such as 20s or 500ms; "
	                "expected a duration such as 00:00:20, 1d 00:00:10, 500ms or 20s)");
	g_clear_error(&error);

	/* control characters and quotes are escaped, long text is cut */
	g_assert_false(msb_duration_parse("a\"b\x01", &us, &error));
	g_assert_nonnull(strstr(error->message, "\"a\\\"b\\x01\""));
	g_clear_error(&error);
	{
		g_autofree gchar *longtext = g_strnfill(500, '7');

		g_assert_false(msb_duration_parse(longtext, &us, &error));
		g_assert_nonnull(strstr(error->message, "…"));
		g_assert_cmpuint(strlen(error->message), <, 250);
	}
}

typedef struct {
	gint64 us;
	const gchar *text;
} Fmt;

static void
test_duration_to_string(void)
{
	static const Fmt cases[] = {
	        {0, "00:00:00"},
	        {500 * MS, "500ms"},
	        {1 * MS, "1ms"},
	        {500, "0.0005s"},
	        {1, "0.000001s"},
	        {20 * S, "00:00:20"},
	        {1500 * MS, "00:00:01.5"},
	        {3723 * S, "01:02:03"},
	        {86410 * S, "1d 00:00:10"},
	        {365 * 86400 * S, "365d 00:00:00"},
	        {-20 * S, "-00:00:20"},
	        {G_MAXINT64, "106751991d 04:00:54.775807"},
	        {G_MININT64, "-106751991d 04:00:54.775808"},
	};
	static const gint64 round_trip[] = {
	        0,      1,        999,       1000,      999999,        S,         S + 1, 59 * S,
	        60 * S, 3599 * S, 86399 * S, 86400 * S, 86400 * S + 1, G_MAXINT64};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = msb_duration_to_string(cases[i].us);

		g_assert_cmpstr(text, ==, cases[i].text);
	}
	for (guint i = 0; i < G_N_ELEMENTS(round_trip); i++) {
		g_autofree gchar *text = msb_duration_to_string(round_trip[i]);
		g_autoptr(GError) error = NULL;
		gint64 us = -1;

		g_assert_true(msb_duration_parse(text, &us, &error));
		g_assert_no_error(error);
		g_assert_cmpint(us, ==, round_trip[i]);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/duration/good", test_duration_good);
	g_test_add_func("/duration/bad", test_duration_bad);
	g_test_add_func("/duration/message", test_duration_message);
	g_test_add_func("/duration/to-string", test_duration_to_string);
	return g_test_run();
}
