/*
 * The persistence service's settings: defaults (no file at all), both key spellings and the Rust
 * service's `data`, "~/" expansion, the checks with messages that name the file, the line, the
 * key and what was expected, the ignored Rust-only keys, the search order with a temporary
 * $HOME, and that the start-up text reads back to the same values.
 */
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <string.h>

#include "msb-config-diff.h"
#include "msb-config-file.h"
#include "msb-persistence-settings.h"

#define ORIGIN "/etc/p.yaml"

static MsbPersistenceSettings *
load_text(const gchar *text, GError **error)
{
	return msb_persistence_settings_load_from_data(text, strlen(text), ORIGIN, error);
}

static MsbPersistenceSettings *
load_ok(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	MsbPersistenceSettings *settings = load_text(text, &error);

	g_assert_no_error(error);
	g_assert_nonnull(settings);
	return settings;
}

/* loading @text fails with @code and a message containing every string of the NULL-terminated
 * list */
static void
assert_fails(const gchar *text, gint code, ...)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbPersistenceSettings) settings = NULL;
	const gchar *sub;
	va_list args;

	g_test_message("loading: %s", text);
	settings = load_text(text, &error);
	g_assert_null(settings);
	g_assert_error(error, MSB_CONFIG_ERROR, code);
	g_test_message("message: %s", error->message);
	va_start(args, code);
	while ((sub = va_arg(args, const gchar *)) != NULL) {
		if (strstr(error->message, sub) == NULL)
			g_error("\"%s\" is not in \"%s\"", sub, error->message);
	}
	va_end(args);
}

static gboolean
warnings_contain(MsbPersistenceSettings *settings, const gchar *a, const gchar *b)
{
	for (guint i = 0; i < settings->warnings->len; i++) {
		const gchar *w = g_ptr_array_index(settings->warnings, i);

		if (strstr(w, a) != NULL && (b == NULL || strstr(w, b) != NULL))
			return TRUE;
	}
	return FALSE;
}

static void
test_defaults(void)
{
	g_autoptr(MsbPersistenceSettings) settings = msb_persistence_settings_new_defaults();
	g_autofree gchar *data =
	        g_build_filename(g_get_user_data_dir(), "my-service-bus-persistence", NULL);

	g_assert_null(settings->source);
	g_assert_cmpstr(settings->data_path, ==, data);
	g_assert_cmpuint(settings->grpc_port, ==, 7124);
	g_assert_cmpuint(settings->http_port, ==, 7123);
	g_assert_null(settings->listen_unix_socket);
	g_assert_cmpstr(settings->listen_address, ==, "0.0.0.0");
	g_assert_cmpint(settings->shutdown_timeout_us, ==, 5 * G_USEC_PER_SEC);
	g_assert_cmpuint(settings->warnings->len, ==, 0);
}

static void
test_pascal(void)
{
	g_autoptr(MsbPersistenceSettings) s = load_ok("DataPath: /var/lib/msb\n"
	                                              "GrpcPort: 8124\n"
	                                              "HttpPort: 8123\n"
	                                              "ListenUnixSocket: /run/msb.sock\n"
	                                              "ListenAddress: 127.0.0.1\n"
	                                              "ShutdownTimeout: 00:00:10\n");

	g_assert_cmpstr(s->source, ==, ORIGIN);
	g_assert_cmpstr(s->data_path, ==, "/var/lib/msb");
	g_assert_cmpuint(s->grpc_port, ==, 8124);
	g_assert_cmpuint(s->http_port, ==, 8123);
	g_assert_cmpstr(s->listen_unix_socket, ==, "/run/msb.sock");
	g_assert_cmpstr(s->listen_address, ==, "127.0.0.1");
	g_assert_cmpint(s->shutdown_timeout_us, ==, 10 * G_USEC_PER_SEC);
	g_assert_cmpuint(s->warnings->len, ==, 0);
}

static void
test_snake(void)
{
	g_autoptr(MsbPersistenceSettings) s = load_ok("data_path: /srv/msb/\n"
	                                              "grpc_port: 9124\n"
	                                              "http_port: 9123\n"
	                                              "listen_unix_socket: \"\"\n"
	                                              "listen_address: \"::\"\n"
	                                              "shutdown_timeout: 500ms\n");
	/* the Rust service's key, with its trailing '/' stripped like there */
	g_autoptr(MsbPersistenceSettings) r = load_ok("data: /home/u/msb-data//\n");

	g_assert_cmpstr(s->data_path, ==, "/srv/msb");
	g_assert_cmpuint(s->grpc_port, ==, 9124);
	g_assert_cmpuint(s->http_port, ==, 9123);
	g_assert_null(s->listen_unix_socket);
	g_assert_cmpstr(s->listen_address, ==, "::");
	g_assert_cmpint(s->shutdown_timeout_us, ==, 500 * 1000);
	g_assert_cmpstr(r->data_path, ==, "/home/u/msb-data");
}

static void
test_home_expansion(void)
{
	g_autofree gchar *old_home = g_strdup(g_getenv("HOME"));
	g_autoptr(MsbPersistenceSettings) s = NULL;

	g_setenv("HOME", "/home/tester", TRUE);
	s = load_ok("DataPath: ~/msb\nListenUnixSocket: ~/msb.sock\n");
	g_assert_cmpstr(s->data_path, ==, "/home/tester/msb");
	g_assert_cmpstr(s->listen_unix_socket, ==, "/home/tester/msb.sock");
	if (old_home != NULL)
		g_setenv("HOME", old_home, TRUE);
	else
		g_unsetenv("HOME");
}

/* the HTTP port's limits: the same keys and checks as the broker's, a smaller body limit */
static void
test_http_limits(void)
{
	g_autoptr(MsbPersistenceSettings) defaults = msb_persistence_settings_new_defaults();
	g_autoptr(MsbPersistenceSettings) s = NULL;

	g_assert_cmpint(defaults->http.max_body_size, ==, 64 * 1024);
	g_assert_cmpint(defaults->http.idle_timeout_us, ==, 60 * G_USEC_PER_SEC);
	g_assert_cmpint(defaults->http.request_timeout_us, ==, 30 * G_USEC_PER_SEC);
	g_assert_cmpint(defaults->http.max_connections, ==, 1024);
	g_assert_cmpint(defaults->http.listen_backlog, ==, 4096);

	s = load_ok("HttpMaxBodySize: 1 KiB\n"
	            "http_idle_timeout: 250ms\n"
	            "HttpRequestTimeout: 00:01:00\n"
	            "http_max_connections: 3\n"
	            "HttpListenBacklog: 77\n");
	g_assert_cmpint(s->http.max_body_size, ==, 1024);
	g_assert_cmpint(s->http.idle_timeout_us, ==, 250000);
	g_assert_cmpint(s->http.request_timeout_us, ==, 60 * G_USEC_PER_SEC);
	g_assert_cmpint(s->http.max_connections, ==, 3);
	g_assert_cmpint(s->http.listen_backlog, ==, 77);

	assert_fails("HttpMaxBodySize: lots\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1:", "HttpMaxBodySize", NULL);
	assert_fails("HttpIdleTimeout: -1s\n", MSB_CONFIG_ERROR_INVALID_VALUE, "HttpIdleTimeout",
	             NULL);
	assert_fails("HttpRequestTimeout: 0ms\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpRequestTimeout", NULL);
	assert_fails("HttpMaxConnections: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpMaxConnections", NULL);
	assert_fails("HttpListenBacklog: 100000\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpListenBacklog", NULL);
}

static void
test_bad_values(void)
{
	assert_fails("GrpcPort: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE, ORIGIN ":1:", "GrpcPort",
	             NULL);
	assert_fails("HttpPort: 70000\n", MSB_CONFIG_ERROR_INVALID_VALUE, ":1:", "HttpPort", NULL);
	assert_fails("# ports\nGrpcPort: 7000\nHttpPort: 7000\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ":3:", "HttpPort", "both 7000", NULL);
	assert_fails("HttpPort: 7124\n", MSB_CONFIG_ERROR_INVALID_VALUE, "HttpPort", "both 7124",
	             NULL);
	assert_fails("DataPath:\n", MSB_CONFIG_ERROR_INVALID_VALUE, ":1:", "DataPath", "empty",
	             NULL);
	assert_fails("ListenAddress: localhost\n", MSB_CONFIG_ERROR_INVALID_VALUE, "ListenAddress",
	             "not an IP address", NULL);
	assert_fails("ShutdownTimeout: 5\n", MSB_CONFIG_ERROR_INVALID_VALUE, "ShutdownTimeout",
	             "not a duration", NULL);
	assert_fails("DataPath: /a\ndata: /b\n", MSB_CONFIG_ERROR_DUPLICATE_KEY, "DataPath", "data",
	             NULL);
	{
		g_autofree gchar *text = g_strdup_printf("ListenUnixSocket: /%0200d\n", 0);
		assert_fails(text, MSB_CONFIG_ERROR_INVALID_VALUE, "ListenUnixSocket", "bytes long",
		             NULL);
	}
	assert_fails("  DataPath: /x\n", MSB_CONFIG_ERROR_PARSE, NULL);
}

static void
test_warnings(void)
{
	g_autoptr(MsbPersistenceSettings) s = load_ok("data: /x\n"
	                                              "max_response_records_amount: 100\n"
	                                              "delete_topic_secret_key: secret\n"
	                                              "s3_conn_string: Endpoint=x;\n"
	                                              "grpcport: 7000 // typo\n");

	g_assert_true(warnings_contain(s, "max_response_records_amount", "ignored"));
	g_assert_true(warnings_contain(s, "delete_topic_secret_key", "ignored"));
	g_assert_true(warnings_contain(s, "s3_conn_string", "S3"));
	g_assert_true(warnings_contain(s, "grpcport", "GrpcPort"));
	/* an unknown key never changes a setting */
	g_assert_cmpuint(s->grpc_port, ==, 7124);
}

static void
test_search_order(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *home = g_dir_make_tmp("msb-psettings-XXXXXX", &error);
	g_autofree gchar *old_home = g_strdup(g_getenv("HOME"));
	g_autofree gchar *home_file = NULL;
	g_autofree gchar *other = NULL;
	g_autoptr(MsbPersistenceSettings) a = NULL;
	g_autoptr(MsbPersistenceSettings) b = NULL;
	g_autoptr(MsbPersistenceSettings) c = NULL;
	g_autoptr(MsbPersistenceSettings) d = NULL;

	g_assert_no_error(error);
	g_setenv("HOME", home, TRUE);
	home_file = g_build_filename(home, ".myservicebus-persistence", NULL);
	other = g_build_filename(home, "other.yaml", NULL);

	/* no file: the built-in defaults */
	a = msb_persistence_settings_load(NULL, &error);
	g_assert_no_error(error);
	g_assert_null(a->source);

	/* $HOME/.myservicebus-persistence */
	g_file_set_contents(home_file, "GrpcPort: 7001\n", -1, &error);
	g_assert_no_error(error);
	b = msb_persistence_settings_load(NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(b->source, ==, home_file);
	g_assert_cmpuint(b->grpc_port, ==, 7001);

	/* --settings wins, and must exist */
	g_file_set_contents(other, "GrpcPort: 7002\n", -1, &error);
	g_assert_no_error(error);
	c = msb_persistence_settings_load(other, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(c->grpc_port, ==, 7002);
	g_unlink(other);
	d = msb_persistence_settings_load(other, &error);
	g_assert_null(d);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* a file that is there but bad is an error, not a fallback to the defaults */
	g_file_set_contents(home_file, "GrpcPort: nope\n", -1, &error);
	g_assert_no_error(error);
	g_assert_null(msb_persistence_settings_load(NULL, &error));
	g_assert_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_INVALID_VALUE);
	g_clear_error(&error);

	g_unlink(home_file);
	g_rmdir(home);
	if (old_home != NULL)
		g_setenv("HOME", old_home, TRUE);
	else
		g_unsetenv("HOME");
}

static void
test_to_string(void)
{
	g_autoptr(MsbPersistenceSettings) s = load_ok("DataPath: \"/data/with \\\"quote\\\"\"\n"
	                                              "GrpcPort: 8001\nHttpPort: 8002\n"
	                                              "ListenUnixSocket: /run/p.sock\n"
	                                              "ShutdownTimeout: 1.5s\n");
	g_autofree gchar *text = msb_persistence_settings_to_string(s);
	g_autoptr(MsbPersistenceSettings) back = NULL;
	g_autoptr(MsbPersistenceSettings) defaults = msb_persistence_settings_new_defaults();
	g_autofree gchar *dtext = msb_persistence_settings_to_string(defaults);
	g_autoptr(MsbPersistenceSettings) dback = NULL;

	g_test_message("%s", text);
	back = load_ok(text);
	g_assert_cmpstr(back->data_path, ==, s->data_path);
	g_assert_cmpuint(back->grpc_port, ==, 8001);
	g_assert_cmpuint(back->http_port, ==, 8002);
	g_assert_cmpstr(back->listen_unix_socket, ==, "/run/p.sock");
	g_assert_cmpstr(back->listen_address, ==, "0.0.0.0");
	g_assert_cmpint(back->shutdown_timeout_us, ==, 1500 * 1000);
	dback = load_ok(dtext);
	g_assert_null(dback->listen_unix_socket);
	g_assert_cmpstr(dback->data_path, ==, defaults->data_path);
}

/* SIGHUP: ShutdownTimeout applies at run time, DataPath and ports only after a restart */
static void
test_reload(void)
{
	g_autoptr(MsbPersistenceSettings) current =
	        load_ok("DataPath: /tmp/a\nGrpcPort: 8001\nShutdownTimeout: 5s\n");
	g_autoptr(MsbPersistenceSettings) loaded =
	        load_ok("DataPath: /tmp/b\nGrpcPort: 8001\nShutdownTimeout: 2s\n");
	g_autoptr(GPtrArray) changes = msb_persistence_settings_reload(current, loaded);
	guint reloadable = 0;

	g_assert_cmpuint(changes->len, ==, 2);
	for (guint i = 0; i < changes->len; i++) {
		const MsbConfigChange *c = g_ptr_array_index(changes, i);
		if (g_strcmp0(c->key, "ShutdownTimeout") == 0) {
			g_assert_nonnull(c->reloadable);
			reloadable++;
		} else {
			g_assert_cmpstr(c->key, ==, "DataPath");
			g_assert_null(c->reloadable);
		}
	}
	g_assert_cmpuint(reloadable, ==, 1);
	g_assert_cmpint(current->shutdown_timeout_us, ==, 2 * G_USEC_PER_SEC);
	g_assert_cmpstr(current->data_path, ==, "/tmp/a");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/persistence-settings/defaults", test_defaults);
	g_test_add_func("/persistence-settings/pascal", test_pascal);
	g_test_add_func("/persistence-settings/snake", test_snake);
	g_test_add_func("/persistence-settings/home-expansion", test_home_expansion);
	g_test_add_func("/persistence-settings/bad-values", test_bad_values);
	g_test_add_func("/persistence-settings/http-limits", test_http_limits);
	g_test_add_func("/persistence-settings/warnings", test_warnings);
	g_test_add_func("/persistence-settings/search-order", test_search_order);
	g_test_add_func("/persistence-settings/to-string", test_to_string);
	g_test_add_func("/persistence-settings/reload", test_reload);
	return g_test_run();
}
