/*
 * msbctl's administration commands without a bus: the tables (alignment by display width,
 * escaping, text-only and JSON-only columns, JSON types), the command-line values (booleans, ids,
 * the hard-delete moment, the bus choice), the printed values (moments, durations, ranges), the
 * D-Bus error → exit status and message mapping, and monitor's event lines.
 */
#include <string.h>

#include "msb-dbus-error.h"
#include "msbctl-errors.h"
#include "msbctl-event.h"
#include "msbctl-table.h"
#include "msbctl-values.h"
#include "msbctl.h"

#define S G_GINT64_CONSTANT(1000000)

/* the broker's error names as data/org.myservicebus.Broker1.xml lists them */
#define BROKER_ERROR "org.myservicebus.Broker1.Error."

/* 2026-12-07T22:00:00Z */
#define MOMENT (G_GINT64_CONSTANT(1796680800) * S)

static MsbctlTable *
make_topics_table(void)
{
	MsbctlTable *table = msbctl_table_new();
	guint name = msbctl_table_add_column(table, "TOPIC", "name", MSBCTL_COLUMN_TEXT);
	guint id = msbctl_table_add_column(table, "MESSAGE-ID", "message_id", MSBCTL_COLUMN_NUMBER);
	guint persist = msbctl_table_add_column(table, "PERSIST", "persist", MSBCTL_COLUMN_BOOL);
	guint note = msbctl_table_add_column(table, "NOTE", NULL, MSBCTL_COLUMN_TEXT);
	guint hidden = msbctl_table_add_column(table, NULL, "hidden", MSBCTL_COLUMN_NUMBER);

	msbctl_table_add_row(table);
	msbctl_table_set_text(table, name, "orders");
	msbctl_table_set_int(table, id, 12345, NULL);
	msbctl_table_set_bool(table, persist, TRUE);
	msbctl_table_set_text(table, note, "first");
	msbctl_table_set_int(table, hidden, 7, NULL);
	msbctl_table_add_row(table);
	msbctl_table_set_text(table, name, "a");
	msbctl_table_set_int(table, id, 5, NULL);
	msbctl_table_set_bool(table, persist, FALSE);
	/* note empty, hidden unset */
	msbctl_table_set_text(table, note, "");
	return table;
}

static void
test_table_text(void)
{
	g_autoptr(MsbctlTable) table = make_topics_table();
	g_autofree gchar *text = msbctl_table_render_text(table);

	g_assert_cmpstr(text, ==,
	                "TOPIC   MESSAGE-ID  PERSIST  NOTE\n"
	                "orders       12345  yes      first\n"
	                "a                5  no       -\n");
	msbctl_table_sort(table, 0);
	g_clear_pointer(&text, g_free);
	text = msbctl_table_render_text(table);
	g_assert_cmpstr(text, ==,
	                "TOPIC   MESSAGE-ID  PERSIST  NOTE\n"
	                "a                5  no       -\n"
	                "orders       12345  yes      first\n");
}

static void
test_table_empty(void)
{
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	g_autofree gchar *text = NULL;
	g_autofree gchar *json = NULL;

	msbctl_table_add_column(table, "QUEUE", "name", MSBCTL_COLUMN_TEXT);
	msbctl_table_add_column(table, "SIZE", "size", MSBCTL_COLUMN_NUMBER);
	text = msbctl_table_render_text(table);
	g_assert_cmpstr(text, ==, "QUEUE  SIZE\n");
	json = msbctl_table_render_json(table, FALSE);
	g_assert_cmpstr(json, ==, "[]\n");
}

/* Empty text prints "-" (a reader splitting on blanks keeps its columns); JSON keeps "". */
static void
test_table_empty_text(void)
{
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	g_autofree gchar *text = NULL;
	g_autofree gchar *json = NULL;

	msbctl_table_add_column(table, "NAME", "name", MSBCTL_COLUMN_TEXT);
	msbctl_table_add_column(table, "VERSION", "version", MSBCTL_COLUMN_TEXT);
	msbctl_table_add_column(table, "N", "n", MSBCTL_COLUMN_NUMBER);
	msbctl_table_add_row(table);
	msbctl_table_set_text(table, 0, "a");
	msbctl_table_set_text(table, 1, "");
	msbctl_table_set_int(table, 2, 1, NULL);
	text = msbctl_table_render_text(table);
	g_assert_cmpstr(text, ==,
	                "NAME  VERSION  N\n"
	                "a     -        1\n");
	json = msbctl_table_render_json(table, FALSE);
	g_assert_nonnull(strstr(json, "\"version\" : \"\""));
}

static void
test_table_wide_and_escaped(void)
{
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	g_autofree gchar *text = NULL;
	g_autofree gchar *json = NULL;

	msbctl_table_add_column(table, "NAME", "name", MSBCTL_COLUMN_TEXT);
	msbctl_table_add_column(table, "N", "n", MSBCTL_COLUMN_NUMBER);
	msbctl_table_add_row(table);
	/* two wide characters: four columns */
	msbctl_table_set_text(table, 0, "注文");
	msbctl_table_set_int(table, 1, 1, NULL);
	msbctl_table_add_row(table);
	/* a control character cannot break the line; é composed of e + U+0301 is one column */
	msbctl_table_set_text(table, 0, "a\nb");
	msbctl_table_set_int(table, 1, 2, NULL);
	msbctl_table_add_row(table);
	msbctl_table_set_text(table, 0, "e\xcc\x81");
	msbctl_table_set_int(table, 1, 3, NULL);
	text = msbctl_table_render_text(table);
	g_assert_cmpstr(text, ==,
	                "NAME  N\n"
	                "注文  1\n"
	                "a\\nb  2\n"
	                "e\xcc\x81     3\n");
	/* JSON keeps the text as it is */
	json = msbctl_table_render_json(table, FALSE);
	g_assert_nonnull(strstr(json, "\"a\\nb\""));
}

static void
test_table_json(void)
{
	g_autoptr(MsbctlTable) table = make_topics_table();
	g_autofree gchar *json = msbctl_table_render_json(table, FALSE);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonArray *rows;
	JsonObject *first;
	JsonObject *second;

	g_assert_true(json_parser_load_from_data(parser, json, -1, &error));
	g_assert_no_error(error);
	rows = json_node_get_array(json_parser_get_root(parser));
	g_assert_cmpuint(json_array_get_length(rows), ==, 2);
	first = json_array_get_object_element(rows, 0);
	second = json_array_get_object_element(rows, 1);
	g_assert_cmpstr(json_object_get_string_member(first, "name"), ==, "orders");
	g_assert_cmpint(json_object_get_int_member(first, "message_id"), ==, 12345);
	g_assert_true(json_object_get_boolean_member(first, "persist"));
	g_assert_cmpint(json_object_get_int_member(first, "hidden"), ==, 7);
	/* a text-only column is not in JSON */
	g_assert_false(json_object_has_member(first, "NOTE"));
	g_assert_cmpuint(json_object_get_size(first), ==, 4);
	/* an unset cell is null */
	g_assert_true(json_object_get_null_member(second, "hidden"));
	g_assert_false(json_object_get_boolean_member(second, "persist"));
}

static void
test_table_record(void)
{
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	g_autofree gchar *text = NULL;
	g_autofree gchar *json = NULL;

	msbctl_table_add_column(table, "Version", "version", MSBCTL_COLUMN_TEXT);
	msbctl_table_add_column(table, "Persistence state", "persistence_state",
	                        MSBCTL_COLUMN_TEXT);
	msbctl_table_add_column(table, "Topics", "topic_count", MSBCTL_COLUMN_NUMBER);
	msbctl_table_add_column(table, "Messages per second", "messages_per_second",
	                        MSBCTL_COLUMN_NUMBER);
	msbctl_table_add_row(table);
	msbctl_table_set_text(table, 0, "0.1.0");
	msbctl_table_set_text(table, 1, "memory");
	msbctl_table_set_uint(table, 2, 3, NULL);
	msbctl_table_set_uint(table, 3, G_MAXUINT64, NULL);
	text = msbctl_table_render_record(table);
	g_assert_cmpstr(text, ==,
	                "Version:              0.1.0\n"
	                "Persistence state:    memory\n"
	                "Topics:               3\n"
	                "Messages per second:  18446744073709551615\n");
	json = msbctl_table_render_json(table, TRUE);
	g_assert_nonnull(strstr(json, "\"version\" : \"0.1.0\""));
	g_assert_nonnull(strstr(json, "\"topic_count\" : 3"));
}

static void
test_table_set_json(void)
{
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	g_autoptr(GVariant) ranges =
	        g_variant_ref_sink(g_variant_new_parsed("@a(xx) [(0, 4), (7, 7)]"));
	g_autofree gchar *display = msbctl_format_ranges(ranges, 4);
	g_autofree gchar *text = NULL;
	g_autofree gchar *json = NULL;

	msbctl_table_add_column(table, "RANGES", "ranges", MSBCTL_COLUMN_TEXT);
	msbctl_table_add_row(table);
	msbctl_table_set_json(table, 0, msbctl_ranges_to_json(ranges), display);
	text = msbctl_table_render_text(table);
	g_assert_cmpstr(text, ==, "RANGES\n0-4,7\n");
	json = msbctl_table_render_json(table, FALSE);
	g_assert_nonnull(strstr(json, "\"ranges\" : [\n"));
	g_assert_nonnull(strstr(json, "0,\n"));
}

static void
test_escape(void)
{
	const struct {
		const gchar *in;
		const gchar *out;
	} cases[] = {
	        {"plain", "plain"},
	        {"tab\there", "tab\\there"},
	        {"cr\r", "cr\\r"},
	        {"back\\slash", "back\\\\slash"},
	        {"bell\x07", "bell\\x07"},
	        {"del\x7f", "del\\x7f"},
	        {"bad\xff utf8", "bad\\xff utf8"},
	        {"c1\xc2\x85", "c1\\u0085"},
	        {"ünïcödé", "ünïcödé"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *out = msbctl_escape_text(cases[i].in);
		g_assert_cmpstr(out, ==, cases[i].out);
	}
	g_assert_cmpuint(msbctl_display_width("abc"), ==, 3);
	g_assert_cmpuint(msbctl_display_width("注文"), ==, 4);
	g_assert_cmpuint(msbctl_display_width("e\xcc\x81"), ==, 1);
}

static void
test_parse_bool(void)
{
	const gchar *yes[] = {"on", "ON", "yes", "true", "True", "1"};
	const gchar *no[] = {"off", "no", "FALSE", "0"};
	const gchar *bad[] = {"", "2", "onn", "y", " on"};

	for (guint i = 0; i < G_N_ELEMENTS(yes); i++) {
		gboolean v = FALSE;
		g_assert_true(msbctl_parse_bool(yes[i], &v, NULL));
		g_assert_true(v);
	}
	for (guint i = 0; i < G_N_ELEMENTS(no); i++) {
		gboolean v = TRUE;
		g_assert_true(msbctl_parse_bool(no[i], &v, NULL));
		g_assert_false(v);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		gboolean v = TRUE;
		g_assert_false(msbctl_parse_bool(bad[i], &v, &error));
		g_assert_error(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID);
		g_assert_nonnull(strstr(error->message, "on or off"));
		g_assert_true(v);
	}
}

static void
test_parse_int64(void)
{
	const gchar *bad[] = {
	        "", "-1", "+1", " 1", "1 ", "1.5", "0x10", "abc", "9223372036854775808"};
	gint64 v = -1;

	g_assert_true(msbctl_parse_int64("0", 0, "message id", &v, NULL));
	g_assert_cmpint(v, ==, 0);
	g_assert_true(msbctl_parse_int64("9223372036854775807", 0, "message id", &v, NULL));
	g_assert_cmpint(v, ==, G_MAXINT64);
	g_assert_true(msbctl_parse_int64("-5", -10, "offset", &v, NULL));
	g_assert_cmpint(v, ==, -5);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		v = 42;
		g_test_message("%s", bad[i]);
		g_assert_false(msbctl_parse_int64(bad[i], 0, "message id", &v, &error));
		g_assert_error(error, MSBCTL_VALUE_ERROR, MSBCTL_VALUE_ERROR_INVALID);
		g_assert_nonnull(strstr(error->message, "the message id must be a whole number"));
		g_assert_cmpint(v, ==, 42);
	}
}

static void
test_parse_moment(void)
{
	const gint64 now = MOMENT;
	gint64 out = -1;
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	g_autoptr(GError) e3 = NULL;
	g_autoptr(GError) e4 = NULL;

	/* neither: the broker's next tick */
	g_assert_true(msbctl_parse_hard_delete_moment(NULL, NULL, now, &out, NULL));
	g_assert_cmpint(out, ==, 0);
	g_assert_true(msbctl_parse_hard_delete_moment("600s", NULL, now, &out, NULL));
	g_assert_cmpint(out, ==, now + 600 * S);
	g_assert_true(msbctl_parse_hard_delete_moment("1d 00:00:00", NULL, now, &out, NULL));
	g_assert_cmpint(out, ==, now + 86400 * S);
	g_assert_true(
	        msbctl_parse_hard_delete_moment(NULL, "2026-12-07T23:00:00Z", now, &out, NULL));
	g_assert_cmpint(out, ==, MOMENT + 3600 * S);
	g_assert_true(msbctl_parse_hard_delete_moment(NULL, "2026-12-08T01:00:00.5+02:00", now,
	                                              &out, NULL));
	g_assert_cmpint(out, ==, MOMENT + 3600 * S + S / 2);
	/* local time: main() runs the tests in UTC */
	g_assert_true(
	        msbctl_parse_hard_delete_moment(NULL, "2026-12-07T22:30:00", now, &out, NULL));
	g_assert_cmpint(out, ==, MOMENT + 1800 * S);
	g_assert_true(msbctl_parse_hard_delete_moment(NULL, "now", now, &out, NULL));
	g_assert_cmpint(out, ==, now);

	out = 42;
	g_assert_false(msbctl_parse_hard_delete_moment("600s", "now", now, &out, &e1));
	g_assert_nonnull(strstr(e1->message, "not both"));
	g_assert_false(msbctl_parse_hard_delete_moment("600", NULL, now, &out, &e2));
	g_assert_nonnull(strstr(e2->message, "--hard-delete-in: \"600\" is not a duration"));
	g_assert_false(msbctl_parse_hard_delete_moment(NULL, "tomorrow", now, &out, &e3));
	g_assert_nonnull(strstr(e3->message, "--at: \"tomorrow\" is not an ISO 8601"));
	g_assert_false(msbctl_parse_hard_delete_moment("106751991d 04:00:54.775807", NULL, now,
	                                               &out, &e4));
	g_assert_nonnull(strstr(e4->message, "too far"));
	g_assert_cmpint(out, ==, 42);
}

static void
test_choose_bus(void)
{
	GBusType bus = G_BUS_TYPE_NONE;
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;

	g_assert_true(msbctl_choose_bus(FALSE, FALSE, NULL, &bus, NULL));
	g_assert_cmpint(bus, ==, G_BUS_TYPE_SYSTEM);
	g_assert_true(msbctl_choose_bus(FALSE, FALSE, "session", &bus, NULL));
	g_assert_cmpint(bus, ==, G_BUS_TYPE_SESSION);
	g_assert_true(msbctl_choose_bus(FALSE, FALSE, "system", &bus, NULL));
	g_assert_cmpint(bus, ==, G_BUS_TYPE_SYSTEM);
	g_assert_true(msbctl_choose_bus(FALSE, FALSE, "", &bus, NULL));
	g_assert_cmpint(bus, ==, G_BUS_TYPE_SYSTEM);
	/* the options win over the environment */
	g_assert_true(msbctl_choose_bus(FALSE, TRUE, "session", &bus, NULL));
	g_assert_cmpint(bus, ==, G_BUS_TYPE_SYSTEM);
	g_assert_true(msbctl_choose_bus(TRUE, FALSE, "system", &bus, NULL));
	g_assert_cmpint(bus, ==, G_BUS_TYPE_SESSION);
	g_assert_false(msbctl_choose_bus(TRUE, TRUE, NULL, &bus, &e1));
	g_assert_nonnull(strstr(e1->message, "not both"));
	g_assert_false(msbctl_choose_bus(FALSE, FALSE, "user", &bus, &e2));
	g_assert_nonnull(strstr(e2->message, "MSBCTL_BUS"));
}

static void
test_format(void)
{
	g_autoptr(GTimeZone) plus2 = g_time_zone_new_identifier("+02:00");
	g_autofree gchar *utc = msbctl_format_moment(MOMENT + 123456, NULL);
	g_autofree gchar *local = msbctl_format_moment(MOMENT, plus2);
	g_autofree gchar *s0 = msbctl_format_seconds(0);
	g_autofree gchar *s1 = msbctl_format_seconds(3723);
	g_autofree gchar *s2 = msbctl_format_seconds(2 * 86400 + 59);
	g_autoptr(GVariant) none = g_variant_ref_sink(g_variant_new_parsed("@a(xx) []"));
	g_autoptr(GVariant) many = g_variant_ref_sink(
	        g_variant_new_parsed("@a(xx) [(1, 1), (3, 5), (8, 8), (10, 20)]"));
	g_autofree gchar *r0 = msbctl_format_ranges(none, 4);
	g_autofree gchar *r1 = msbctl_format_ranges(many, 4);
	g_autofree gchar *r2 = msbctl_format_ranges(many, 2);
	g_autofree gchar *r3 = msbctl_format_ranges(NULL, 2);
	g_autofree gchar *h0 = msbctl_format_hard_delete(TRUE, 0, NULL);
	g_autofree gchar *h1 = msbctl_format_hard_delete(TRUE, 1, NULL);
	g_autofree gchar *h2 = msbctl_format_hard_delete(TRUE, MOMENT, plus2);

	g_assert_null(msbctl_format_moment(0, NULL));
	g_assert_null(msbctl_format_hard_delete(FALSE, MOMENT, NULL));
	g_assert_cmpstr(h0, ==, "next tick");
	g_assert_cmpstr(h1, ==, "next tick");
	g_assert_cmpstr(h2, ==, "until 2026-12-08T00:00:00+02:00");
	g_assert_cmpstr(utc, ==, "2026-12-07T22:00:00Z");
	g_assert_cmpstr(local, ==, "2026-12-08T00:00:00+02:00");
	g_assert_cmpstr(s0, ==, "00:00:00");
	g_assert_cmpstr(s1, ==, "01:02:03");
	g_assert_cmpstr(s2, ==, "2d 00:00:59");
	g_assert_cmpstr(r0, ==, "-");
	g_assert_cmpstr(r1, ==, "1,3-5,8,10-20");
	g_assert_cmpstr(r2, ==, "1,3-5 (+2 more)");
	g_assert_cmpstr(r3, ==, "-");
}

static void
test_errors(void)
{
	const struct {
		const gchar *name;
		int status;
		const gchar *hint; /* in the message, or NULL */
	} cases[] = {
	        {BROKER_ERROR "TopicNotFound", MSBCTL_EXIT_NOT_FOUND, NULL},
	        {BROKER_ERROR "QueueNotFound", MSBCTL_EXIT_NOT_FOUND, NULL},
	        {BROKER_ERROR "SessionNotFound", MSBCTL_EXIT_NOT_FOUND, NULL},
	        {BROKER_ERROR "InvalidName", MSBCTL_EXIT_INVALID, NULL},
	        {BROKER_ERROR "InvalidArgument", MSBCTL_EXIT_INVALID, NULL},
	        {BROKER_ERROR "TopicDeleted", MSBCTL_EXIT_CONFLICT, "restore-topic"},
	        {BROKER_ERROR "Busy", MSBCTL_EXIT_BUSY, "try again"},
	        {BROKER_ERROR "NotSupported", MSBCTL_EXIT_FAIL, NULL},
	        {BROKER_ERROR "ShuttingDown", MSBCTL_EXIT_UNREACHABLE, NULL},
	        {BROKER_ERROR "NotAuthorized", MSBCTL_EXIT_NOT_AUTHORIZED, "DBusAdminGroup"},
	        {BROKER_ERROR "Failed", MSBCTL_EXIT_FAIL, NULL},
	        {BROKER_ERROR "SomethingNew", MSBCTL_EXIT_FAIL, NULL},
	        {"org.freedesktop.DBus.Error.AccessDenied", MSBCTL_EXIT_NOT_AUTHORIZED, "policy"},
	        {"org.freedesktop.DBus.Error.ServiceUnknown", MSBCTL_EXIT_UNREACHABLE,
	         "is my-service-bus running"},
	        {"org.freedesktop.DBus.Error.NameHasNoOwner", MSBCTL_EXIT_UNREACHABLE, NULL},
	        {"org.freedesktop.DBus.Error.NoReply", MSBCTL_EXIT_UNREACHABLE, NULL},
	        {"org.freedesktop.DBus.Error.UnknownMethod", MSBCTL_EXIT_FAIL, "older"},
	        {"com.example.Whatever", MSBCTL_EXIT_FAIL, NULL},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		/* what GDBus builds from an error reply */
		g_autoptr(GError) error =
		        g_dbus_error_new_for_dbus_error(cases[i].name, "the broker's words");
		g_autofree gchar *message = msbctl_error_message(error);
		g_autofree gchar *suffix = g_strdup_printf(" (%s)", cases[i].name);

		g_test_message("%s: %s", cases[i].name, message);
		g_assert_cmpint(msbctl_error_exit_status(error), ==, cases[i].status);
		g_assert_true(g_str_has_prefix(message, "the broker's words"));
		g_assert_true(g_str_has_suffix(message, suffix));
		g_assert_null(strstr(message, "GDBus.Error"));
		if (cases[i].hint != NULL)
			g_assert_nonnull(strstr(message, cases[i].hint));
	}
}

/* An MSB_DBUS_ERROR made in this process (not a reply) is named all the same. */
static void
test_errors_domain(void)
{
	g_autoptr(GError) error =
	        g_error_new_literal(MSB_DBUS_ERROR, MSB_DBUS_ERROR_QUEUE_NOT_FOUND, "no queue q");
	g_autofree gchar *message = msbctl_error_message(error);

	g_assert_cmpint(msbctl_error_exit_status(error), ==, MSBCTL_EXIT_NOT_FOUND);
	g_assert_cmpstr(message, ==, "no queue q (" BROKER_ERROR "QueueNotFound)");
}

static void
test_errors_local(void)
{
	g_autoptr(GError) timeout =
	        g_error_new_literal(G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Timeout was reached");
	g_autoptr(GError) closed =
	        g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED, "The connection is closed");
	g_autoptr(GError) other = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "boom");
	g_autofree gchar *message = msbctl_error_message(timeout);

	g_assert_cmpint(msbctl_error_exit_status(timeout), ==, MSBCTL_EXIT_UNREACHABLE);
	g_assert_cmpint(msbctl_error_exit_status(closed), ==, MSBCTL_EXIT_UNREACHABLE);
	g_assert_cmpint(msbctl_error_exit_status(other), ==, MSBCTL_EXIT_FAIL);
	g_assert_cmpstr(message, ==, "Timeout was reached");
}

static void
test_exit_statuses_help(void)
{
	const gchar *help = msbctl_exit_statuses_help();
	const int statuses[] = {
	        MSBCTL_EXIT_OK,          MSBCTL_EXIT_FAIL,           MSBCTL_EXIT_USAGE,
	        MSBCTL_EXIT_NOT_FOUND,   MSBCTL_EXIT_NOT_AUTHORIZED, MSBCTL_EXIT_INVALID,
	        MSBCTL_EXIT_UNREACHABLE, MSBCTL_EXIT_CONFLICT,       MSBCTL_EXIT_BUSY};

	/* every status a command can return is explained, each once */
	for (guint i = 0; i < G_N_ELEMENTS(statuses); i++) {
		g_autofree gchar *line = g_strdup_printf("\n  %d  ", statuses[i]);
		const gchar *at = strstr(help, line);
		g_assert_nonnull(at);
		g_assert_null(strstr(at + 1, line));
	}
}

static void
test_event_text(void)
{
	g_autoptr(GTimeZone) plus2 = g_time_zone_new_identifier("+02:00");
	g_autoptr(GVariant) args = g_variant_ref_sink(
	        g_variant_new("(so)", "orders", "/org/myservicebus/Broker1/topic/orders"));
	g_autoptr(GVariant) changed = g_variant_ref_sink(
	        g_variant_new_parsed("{'MessageId': <int64 5>, 'Persist': <true>}"));
	const gchar *names[] = {"name", "topic", NULL};
	const gchar *invalidated[] = {"Ranges", NULL};
	MsbctlEvent signal = {MSBCTL_EVENT_SIGNAL, MOMENT + 1500};
	MsbctlEvent change = {MSBCTL_EVENT_CHANGED, MOMENT};
	MsbctlEvent queue = {MSBCTL_EVENT_ADDED, MOMENT};
	MsbctlEvent broker = {MSBCTL_EVENT_CHANGED, MOMENT};
	MsbctlEvent gone = {MSBCTL_EVENT_VANISHED, MOMENT};
	g_autofree gchar *l1 = NULL;
	g_autofree gchar *l2 = NULL;
	g_autofree gchar *l3 = NULL;
	g_autofree gchar *l4 = NULL;
	g_autofree gchar *l5 = NULL;

	signal.name = "TopicCreated";
	signal.values = args;
	signal.arg_names = names;
	l1 = msbctl_event_render(&signal, FALSE, NULL);
	g_assert_cmpstr(l1, ==,
	                "2026-12-07T22:00:00.001Z signal TopicCreated name='orders' "
	                "topic='/org/myservicebus/Broker1/topic/orders'\n");

	change.topic = "it's";
	change.object_path = "/org/myservicebus/Broker1/topic/it_27s";
	change.values = changed;
	change.invalidated = invalidated;
	l2 = msbctl_event_render(&change, FALSE, plus2);
	g_assert_cmpstr(l2, ==,
	                "2026-12-08 00:00:00.000 changed topic \"it's\" MessageId=5 Persist=true "
	                "Ranges=?\n");

	queue.topic = "orders";
	queue.queue = "q1";
	queue.object_path = "/org/myservicebus/Broker1/topic/orders/queue/q1";
	l3 = msbctl_event_render(&queue, FALSE, NULL);
	g_assert_cmpstr(l3, ==,
	                "2026-12-07T22:00:00.000Z added queue 'orders'/'q1' "
	                "/org/myservicebus/Broker1/topic/orders/queue/q1\n");

	broker.object_path = "/org/myservicebus/Broker1";
	broker.values = changed;
	l4 = msbctl_event_render(&broker, FALSE, NULL);
	g_assert_cmpstr(l4, ==,
	                "2026-12-07T22:00:00.000Z changed broker MessageId=5 Persist=true\n");
	l5 = msbctl_event_render(&gone, FALSE, NULL);
	g_assert_cmpstr(l5, ==, "2026-12-07T22:00:00.000Z broker-vanished\n");
}

static JsonObject *
parse_object(JsonParser *parser, const gchar *line)
{
	g_autoptr(GError) error = NULL;

	/* one line, one object */
	g_assert_true(g_str_has_suffix(line, "\n"));
	g_assert_true(strchr(line, '\n') == line + strlen(line) - 1);
	g_assert_true(json_parser_load_from_data(parser, line, -1, &error));
	g_assert_no_error(error);
	return json_node_get_object(json_parser_get_root(parser));
}

static void
test_event_json(void)
{
	g_autoptr(GVariant) args = g_variant_ref_sink(g_variant_new("(xs)", (gint64)7, "c1"));
	g_autoptr(GVariant) changed = g_variant_ref_sink(
	        g_variant_new_parsed("{'Size': <int64 3>, 'Ranges': <@a(xx) [(1, 3)]>}"));
	const gchar *names[] = {"id", "name", NULL};
	MsbctlEvent signal = {MSBCTL_EVENT_SIGNAL, MOMENT};
	MsbctlEvent change = {MSBCTL_EVENT_CHANGED, MOMENT};
	MsbctlEvent appeared = {MSBCTL_EVENT_APPEARED, MOMENT};
	g_autoptr(JsonParser) p1 = json_parser_new();
	g_autoptr(JsonParser) p2 = json_parser_new();
	g_autoptr(JsonParser) p3 = json_parser_new();
	g_autofree gchar *l1 = NULL;
	g_autofree gchar *l2 = NULL;
	g_autofree gchar *l3 = NULL;
	JsonObject *o;
	JsonArray *ranges;

	signal.name = "SessionDisconnected";
	signal.values = args;
	signal.arg_names = names;
	l1 = msbctl_event_render(&signal, TRUE, NULL);
	o = parse_object(p1, l1);
	g_assert_cmpstr(json_object_get_string_member(o, "time"), ==, "2026-12-07T22:00:00.000Z");
	g_assert_cmpstr(json_object_get_string_member(o, "event"), ==, "signal");
	g_assert_cmpstr(json_object_get_string_member(o, "signal"), ==, "SessionDisconnected");
	g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(o, "args"), "id"),
	                ==, 7);
	g_assert_cmpstr(
	        json_object_get_string_member(json_object_get_object_member(o, "args"), "name"), ==,
	        "c1");

	change.topic = "orders";
	change.queue = "q1";
	change.object_path = "/org/myservicebus/Broker1/topic/orders/queue/q1";
	change.values = changed;
	l2 = msbctl_event_render(&change, TRUE, NULL);
	o = parse_object(p2, l2);
	g_assert_cmpstr(json_object_get_string_member(o, "event"), ==, "changed");
	g_assert_cmpstr(json_object_get_string_member(o, "kind"), ==, "queue");
	g_assert_cmpstr(json_object_get_string_member(o, "topic"), ==, "orders");
	g_assert_cmpstr(json_object_get_string_member(o, "queue"), ==, "q1");
	g_assert_cmpint(
	        json_object_get_int_member(json_object_get_object_member(o, "changed"), "Size"), ==,
	        3);
	ranges =
	        json_object_get_array_member(json_object_get_object_member(o, "changed"), "Ranges");
	g_assert_cmpint(json_array_get_int_element(json_array_get_array_element(ranges, 0), 1), ==,
	                3);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "invalidated")), ==,
	                 0);

	appeared.name = ":1.42";
	l3 = msbctl_event_render(&appeared, TRUE, NULL);
	o = parse_object(p3, l3);
	g_assert_cmpstr(json_object_get_string_member(o, "event"), ==, "broker-appeared");
	g_assert_cmpstr(json_object_get_string_member(o, "owner"), ==, ":1.42");
}

int
main(int argc, char **argv)
{
	/* local times in these tests are UTC */
	g_setenv("TZ", "UTC", TRUE);
	g_test_init(&argc, &argv, NULL);
	/* as msbctl does before its first call */
	msbctl_errors_init();
	g_test_add_func("/msbctl/table/text", test_table_text);
	g_test_add_func("/msbctl/table/empty", test_table_empty);
	g_test_add_func("/msbctl/table/empty-text", test_table_empty_text);
	g_test_add_func("/msbctl/table/wide-and-escaped", test_table_wide_and_escaped);
	g_test_add_func("/msbctl/table/json", test_table_json);
	g_test_add_func("/msbctl/table/record", test_table_record);
	g_test_add_func("/msbctl/table/set-json", test_table_set_json);
	g_test_add_func("/msbctl/escape", test_escape);
	g_test_add_func("/msbctl/values/bool", test_parse_bool);
	g_test_add_func("/msbctl/values/int64", test_parse_int64);
	g_test_add_func("/msbctl/values/hard-delete-moment", test_parse_moment);
	g_test_add_func("/msbctl/values/bus", test_choose_bus);
	g_test_add_func("/msbctl/values/format", test_format);
	g_test_add_func("/msbctl/errors/remote", test_errors);
	g_test_add_func("/msbctl/errors/domain", test_errors_domain);
	g_test_add_func("/msbctl/errors/local", test_errors_local);
	g_test_add_func("/msbctl/errors/help", test_exit_statuses_help);
	g_test_add_func("/msbctl/event/text", test_event_text);
	g_test_add_func("/msbctl/event/json", test_event_json);
	return g_test_run();
}
