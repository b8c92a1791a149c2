/*
 * Settings: the README's file, both key spellings, the syntax of msb-config-file (comments,
 * quotes, " // text"), the search order with a temporary $HOME, and that every rejected value
 * gives a message naming the file, the line, the key and what was expected.
 */
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <string.h>

#include "msb-config-file.h"
#include "msb-duration.h"
#include "msb-settings.h"

#define ORIGIN "/etc/x.yaml"
#define S      G_GINT64_CONSTANT(1000000)
#define MIB    (G_GINT64_CONSTANT(1024) * 1024)

static MsbSettings *
load_text(const gchar *text, GError **error)
{
	return msb_settings_load_from_data(text, strlen(text), ORIGIN, error);
}

static MsbSettings *
load_ok(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	MsbSettings *settings = load_text(text, &error);

	g_assert_no_error(error);
	g_assert_nonnull(settings);
	return settings;
}

/* loading @text fails with @code and a message containing every string of the NULL-terminated @...
 */
static void
assert_fails(const gchar *text, gint code, ...)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbSettings) settings = NULL;
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
warnings_contain(MsbSettings *settings, const gchar *a, const gchar *b)
{
	for (guint i = 0; i < settings->warnings->len; i++) {
		const gchar *w = g_ptr_array_index(settings->warnings, i);

		if (strstr(w, a) != NULL && (b == NULL || strstr(w, b) != NULL))
			return TRUE;
	}
	return FALSE;
}

static void
assert_defaults(MsbSettings *settings)
{
	g_assert_cmpstr(settings->grpc_url, ==, "http://127.0.0.1:7124");
	g_assert_cmpint(settings->max_unsaved_size, ==, 1024 * MIB);
	g_assert_cmpint(settings->on_damaged_messages, ==, MSB_ON_DAMAGED_SKIP);
	g_assert_cmpint(settings->eventually_persistence_delay_us, ==, 5 * S);
	g_assert_cmpint(settings->queue_gc_timeout_us, ==, 20 * S);
	g_assert_cmpint(settings->delivery_timeout_us, ==, 30 * S);
	g_assert_false(settings->debug_mode);
	g_assert_cmpint(settings->max_delivery_size, ==, 4194304);
	g_assert_false(settings->persist_compressed);
	g_assert_false(settings->auto_create_topic_on_publish);
	g_assert_false(settings->auto_create_topic_on_subscribe);
	g_assert_null(settings->listen_unix_socket);
	g_assert_cmpstr(settings->listen_address, ==, "0.0.0.0");
	g_assert_cmpuint(settings->tcp_port, ==, 6421);
	g_assert_cmpuint(settings->http_port, ==, 6123);
	g_assert_cmpint(settings->max_packet_size, ==, 4 * 4194304);
	g_assert_cmpint(settings->send_buffer_size, ==, 4 * MIB);
	g_assert_cmpint(settings->listen_backlog, ==, 0);
	g_assert_cmpint(settings->max_connections, ==, 10000);
	g_assert_cmpint(settings->greeting_timeout_us, ==, 5 * S);
	g_assert_cmpint(settings->packet_receive_timeout_us, ==, 60 * S);
	g_assert_cmpint(settings->max_incomplete_packets_size, ==, 256 * MIB);
	g_assert_cmpint(settings->http_session_timeout_us, ==, 60 * S);
	g_assert_cmpint(settings->http_await_timeout_us, ==, 5 * S);
	g_assert_nonnull(settings->warnings);
}

static void
test_settings_defaults(void)
{
	g_autoptr(MsbSettings) settings = msb_settings_new_defaults();

	assert_defaults(settings);
	g_assert_null(settings->source);
	g_assert_cmpuint(settings->warnings->len, ==, 0);
}

static void
test_settings_readme(void)
{
	/* verbatim from the original README */
	const gchar *text = "GrpcUrl: http://127.0.0.1:7124\n"
	                    "EventuallyPersistenceDelay: 00:00:05\n"
	                    "QueueGcTimeout: 00:00:20\n"
	                    "DebugMode: true\n"
	                    "MaxDeliverySize: 4194304\n";
	g_autoptr(MsbSettings) settings = load_ok(text);

	g_assert_cmpstr(settings->source, ==, ORIGIN);
	g_assert_cmpstr(settings->grpc_url, ==, "http://127.0.0.1:7124");
	g_assert_cmpint(settings->eventually_persistence_delay_us, ==, 5 * S);
	g_assert_cmpint(settings->queue_gc_timeout_us, ==, 20 * S);
	g_assert_true(settings->debug_mode);
	g_assert_cmpint(settings->max_delivery_size, ==, 4194304);
	g_assert_cmpint(settings->delivery_timeout_us, ==, 30 * S);
	g_assert_cmpuint(settings->warnings->len, ==, 0);
}

static void
test_settings_pascal_all(void)
{
	const gchar *text = "GrpcUrl: http://persistence.example:7124/\n"
	                    "EventuallyPersistenceDelay: 500ms\n"
	                    "QueueGcTimeout: 1d 00:00:10\n"
	                    "DeliveryTimeout: 45s\n"
	                    "ConnectionTimeout: 00:01:00\n"
	                    "DebugMode: YES\n"
	                    "MaxDeliverySize: 1 MiB\n"
	                    "PersistCompressed: on\n"
	                    "AutoCreateTopicOnPublish: 1\n"
	                    "AutoCreateTopicOnSubscribe: True\n"
	                    "ListenUnixSocket: /run/msb.sock\n"
	                    "ListenAddress: 127.0.0.1\n"
	                    "TcpPort: 16421\n"
	                    "HttpPort: 16123\n"
	                    "MaxPacketSize: 8MiB\n"
	                    "SendBufferSize: 65536\n"
	                    "MaxUnsavedSize: 64 MiB\n";
	g_autoptr(MsbSettings) settings = load_ok(text);

	g_assert_cmpstr(settings->grpc_url, ==, "http://persistence.example:7124/");
	g_assert_cmpint(settings->max_unsaved_size, ==, 64 * MIB);
	g_assert_cmpint(settings->eventually_persistence_delay_us, ==, 500000);
	g_assert_cmpint(settings->queue_gc_timeout_us, ==, 86410 * S);
	g_assert_cmpint(settings->delivery_timeout_us, ==, 45 * S);
	g_assert_cmpint(settings->connection_timeout_us, ==, 60 * S);
	g_assert_true(settings->debug_mode);
	g_assert_cmpint(settings->max_delivery_size, ==, MIB);
	g_assert_true(settings->persist_compressed);
	g_assert_true(settings->auto_create_topic_on_publish);
	g_assert_true(settings->auto_create_topic_on_subscribe);
	g_assert_cmpstr(settings->listen_unix_socket, ==, "/run/msb.sock");
	g_assert_cmpstr(settings->listen_address, ==, "127.0.0.1");
	g_assert_cmpuint(settings->tcp_port, ==, 16421);
	g_assert_cmpuint(settings->http_port, ==, 16123);
	g_assert_cmpint(settings->max_packet_size, ==, 8 * MIB);
	g_assert_cmpint(settings->send_buffer_size, ==, 65536);
	g_assert_cmpuint(settings->warnings->len, ==, 0);
}

static void
test_settings_snake_case(void)
{
	const gchar *text = "persistence_grpc_url: http://10.0.0.1:7124\n"
	                    "eventually_persistence_delay: 00:00:01\n"
	                    "queue_gc_timeout: 05:00\n"
	                    "delivery_timeout: 00:01:00\n"
	                    "debug_mode: false\n"
	                    "max_delivery_size: 1048576\n"
	                    "persist_compressed: true\n"
	                    "auto_create_topic_on_publish: true\n"
	                    "auto_create_topic_on_subscribe: no\n"
	                    "listen_unix_socket: /tmp/msb.sock\n"
	                    "listen_address: '::1'\n"
	                    "tcp_port: 7000\n"
	                    "http_port: 7001\n"
	                    "max_packet_size: 2097152\n"
	                    "send_buffer_size: 128 KiB\n";
	g_autoptr(MsbSettings) settings = load_ok(text);
	g_autoptr(MsbSettings) other = NULL;

	g_assert_cmpstr(settings->grpc_url, ==, "http://10.0.0.1:7124");
	g_assert_cmpint(settings->eventually_persistence_delay_us, ==, 1 * S);
	g_assert_cmpint(settings->queue_gc_timeout_us, ==, 300 * S);
	g_assert_cmpint(settings->delivery_timeout_us, ==, 60 * S);
	g_assert_false(settings->debug_mode);
	g_assert_cmpint(settings->max_delivery_size, ==, MIB);
	g_assert_true(settings->persist_compressed);
	g_assert_true(settings->auto_create_topic_on_publish);
	g_assert_false(settings->auto_create_topic_on_subscribe);
	g_assert_cmpstr(settings->listen_unix_socket, ==, "/tmp/msb.sock");
	g_assert_cmpstr(settings->listen_address, ==, "::1");
	g_assert_cmpuint(settings->tcp_port, ==, 7000);
	g_assert_cmpuint(settings->http_port, ==, 7001);
	g_assert_cmpint(settings->max_packet_size, ==, 2 * MIB);
	g_assert_cmpint(settings->send_buffer_size, ==, 128 * 1024);
	g_assert_cmpuint(settings->warnings->len, ==, 0);

	/* the third spelling of the URL */
	other = load_ok("grpc_url: http://h:1\n");
	g_assert_cmpstr(other->grpc_url, ==, "http://h:1");
}

static void
test_settings_annotation(void)
{
	/* verbatim from the original README */
	g_autoptr(MsbSettings) settings =
	        load_ok("DebugMode: false\n"
	                "GrpcUrl: http://127.0.0.1:7124 // my-service-bus-persistence should run "
	                "on this url\n");

	g_assert_cmpstr(settings->grpc_url, ==, "http://127.0.0.1:7124");
	g_assert_cmpuint(settings->warnings->len, ==, 1);
	g_assert_true(warnings_contain(settings, ORIGIN ":2: GrpcUrl: ", "ignored"));
	g_assert_true(warnings_contain(settings, "my-service-bus-persistence should run", NULL));
}

static void
test_settings_comments(void)
{
	g_autoptr(MsbSettings) settings = load_ok("# the broker's settings\n"
	                                          "\n"
	                                          "   # an indented comment\n"
	                                          "DebugMode: true # more logging\n"
	                                          "QueueGcTimeout: 00:00:30\t# tab before\n"
	                                          "ListenUnixSocket: /tmp/a#b\n"
	                                          "\n");

	g_assert_true(settings->debug_mode);
	g_assert_cmpint(settings->queue_gc_timeout_us, ==, 30 * S);
	/* '#' with no whitespace before it is part of the value, as in YAML */
	g_assert_cmpstr(settings->listen_unix_socket, ==, "/tmp/a#b");
	g_assert_cmpuint(settings->warnings->len, ==, 0);
	assert_fails("TcpPort: 7000#\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: TcpPort: ", "\"7000#\"", NULL);
}

static void
test_settings_quotes(void)
{
	g_autoptr(MsbSettings) settings = load_ok("GrpcUrl: \"http://127.0.0.1:7124\"\n"
	                                          "QueueGcTimeout: '00:00:20' # quoted\n"
	                                          "ListenUnixSocket: \"/tmp/a #b // c\"\n"
	                                          "DebugMode: \"true\"\n"
	                                          "ListenAddress: '127.0.0.1'\n");
	g_autoptr(MsbSettings) escapes = NULL;

	g_assert_cmpstr(settings->grpc_url, ==, "http://127.0.0.1:7124");
	g_assert_cmpint(settings->queue_gc_timeout_us, ==, 20 * S);
	g_assert_cmpstr(settings->listen_unix_socket, ==, "/tmp/a #b // c");
	g_assert_true(settings->debug_mode);
	g_assert_cmpuint(settings->warnings->len, ==, 0);

	escapes = load_ok("ListenUnixSocket: 'it''s \\n'\n");
	g_assert_cmpstr(escapes->listen_unix_socket, ==, "it's \\n");
	g_clear_pointer(&escapes, msb_settings_free);
	escapes = load_ok("ListenUnixSocket: \"q\\\"b\\\\s\" // note\n");
	g_assert_cmpstr(escapes->listen_unix_socket, ==, "q\"b\\s");
	g_assert_cmpuint(escapes->warnings->len, ==, 1);

	assert_fails("DebugMode: true\nGrpcUrl: \"http://x\n", MSB_CONFIG_ERROR_PARSE,
	             ORIGIN ":2:", "GrpcUrl", "closing \" is missing", NULL);
	assert_fails("GrpcUrl: 'http://x\n", MSB_CONFIG_ERROR_PARSE,
	             ORIGIN ":1:", "closing ' is missing", NULL);
	assert_fails("GrpcUrl: \"http://x\" y\n", MSB_CONFIG_ERROR_PARSE,
	             ORIGIN ":1:", "after the closing quote", NULL);
	assert_fails("GrpcUrl: \"a\\qb\"\n", MSB_CONFIG_ERROR_PARSE, ORIGIN ":1:", "escape", NULL);
	/* quotes strip, but a quoted number is still not a duration */
	assert_fails("QueueGcTimeout: \"20\"\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: QueueGcTimeout: \"20\" is not a duration", NULL);
}

static void
test_settings_syntax(void)
{
	g_autoptr(MsbSettings) settings = NULL;

	/* CRLF line ends, a byte order mark, a document marker, "Key : Value" */
	settings = load_ok("\xef\xbb\xbf---\r\nDebugMode : true\r\nTcpPort:7000\r\n");
	g_assert_true(settings->debug_mode);
	g_assert_cmpuint(settings->tcp_port, ==, 7000);
	g_clear_pointer(&settings, msb_settings_free);

	/* empty text is a file with nothing set */
	settings = load_ok("");
	assert_defaults(settings);
	g_assert_cmpstr(settings->source, ==, ORIGIN);

	assert_fails("DebugMode: true\n\nthis line has no colon\n", MSB_CONFIG_ERROR_PARSE,
	             ORIGIN ":3:", "\"this line has no colon\"", "no ':'", "Key: Value", NULL);
	assert_fails("DebugMode: true\n  TcpPort: 1\n", MSB_CONFIG_ERROR_PARSE,
	             ORIGIN ":2:", "indented", NULL);
	assert_fails("Debug Mode: true\n", MSB_CONFIG_ERROR_PARSE,
	             ORIGIN ":1:", "\"Debug Mode\" is not a valid key", NULL);
	assert_fails(": true\n", MSB_CONFIG_ERROR_PARSE, ORIGIN ":1:", "key", "empty", NULL);
	assert_fails("DebugMode: true\n---\n", MSB_CONFIG_ERROR_PARSE, ORIGIN ":2:", NULL);
	assert_fails("DebugMode: true\nListenUnixSocket: /tmp/\xff\n", MSB_CONFIG_ERROR_PARSE,
	             ORIGIN ":2:", "UTF-8", NULL);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbSettings) nul = NULL;
		const gchar data[] = "DebugMode: true\nTcp\0Port: 1\n";

		nul = msb_settings_load_from_data(data, sizeof(data) - 1, ORIGIN, &error);
		g_assert_null(nul);
		g_assert_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_PARSE);
		g_assert_nonnull(strstr(error->message, ORIGIN ":2:"));
	}
}

static void
test_settings_duplicates(void)
{
	assert_fails("DebugMode: true\nTcpPort: 1000\nDebugMode: false\n",
	             MSB_CONFIG_ERROR_DUPLICATE_KEY, ORIGIN ":3: DebugMode: ", "line 1", "line 3",
	             NULL);
	/* two spellings of one setting */
	assert_fails("GrpcUrl: http://a:1\n# c\npersistence_grpc_url: http://b:1\n",
	             MSB_CONFIG_ERROR_DUPLICATE_KEY, ORIGIN ":3: persistence_grpc_url: ", "GrpcUrl",
	             "line 1", NULL);
}

static void
test_settings_unknown_key(void)
{
	g_autoptr(MsbSettings) settings =
	        load_ok("DebugMode: true\nFooBar: 1\ndebugmode: 2\nqueuegctimeout: x\n");

	g_assert_true(settings->debug_mode);
	g_assert_cmpuint(settings->warnings->len, ==, 3);
	g_assert_true(warnings_contain(settings, ORIGIN ":2: unknown key FooBar", "ignored"));
	g_assert_true(warnings_contain(settings, ORIGIN ":3: unknown key debugmode",
	                               "did you mean DebugMode?"));
	g_assert_true(warnings_contain(settings, ORIGIN ":4:", "did you mean QueueGcTimeout?"));
}

static void
test_settings_bad_values(void)
{
	/* the message of the brief, in full */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(MsbSettings) settings =
		        load_text("GrpcUrl: none\nDebugMode: true\n\nQueueGcTimeout: 20\n", &error);

		g_assert_null(settings);
		g_assert_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_INVALID_VALUE);
		g_assert_cmpstr(
		        error->message, ==,
		        ORIGIN ":4: QueueGcTimeout: \"20\" is not a duration (a number "
		               "needs a unit, such as 20s or 500ms; expected " MSB_DURATION_EXPECTED
		               ")");
	}
	assert_fails("QueueGcTimeout: 00:61:00\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: QueueGcTimeout: ", "minutes", MSB_DURATION_EXPECTED, NULL);
	assert_fails("EventuallyPersistenceDelay: -1s\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: EventuallyPersistenceDelay: ", "negative", NULL);
	assert_fails("ConnectionTimeout: 0s\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: ConnectionTimeout: \"0s\" is out of range");
	assert_fails("DeliveryTimeout: 0s\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: DeliveryTimeout: \"0s\" is out of range",
	             "from 1ms to 365d 00:00:00", NULL);
	assert_fails("delivery_timeout: 366d 00:00:00\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: delivery_timeout: ", "out of range", "365d 00:00:00", NULL);

	/* booleans */
	assert_fails("DebugMode: maybe\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: DebugMode: \"maybe\" is not a boolean", "expected true or false",
	             NULL);
	assert_fails("TcpPort: 1\npersist_compressed: 2\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":2: persist_compressed: ", "boolean", NULL);
	assert_fails("AutoCreateTopicOnPublish:\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: AutoCreateTopicOnPublish: \"\" is not a boolean", NULL);

	/* ports */
	assert_fails("TcpPort: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: TcpPort: \"0\" is out of range", "1 to 65535", NULL);
	assert_fails("HttpPort: 70000\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpPort: \"70000\" is out of range", "1 to 65535", NULL);
	assert_fails("tcp_port: abc\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: tcp_port: \"abc\" is not a port number", "1 to 65535", NULL);
	assert_fails("TcpPort: -1\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: TcpPort: ", "1 to 65535", NULL);
	assert_fails("TcpPort: 99999999999999999999999\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: TcpPort: ", "out of range", NULL);
	assert_fails("TcpPort: 0x10\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: TcpPort: ", "not a port number", NULL);
	assert_fails("TcpPort: 7000\nHttpPort: 7000\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":2: HttpPort: ", "both 7000", NULL);
	assert_fails("HttpPort: 6421\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpPort: ", "both 6421", NULL);

	/* sizes */
	assert_fails("MaxDeliverySize: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxDeliverySize: \"0\" is out of range",
	             "from 1 to 1073741824 (1 GiB) bytes", NULL);
	assert_fails("MaxDeliverySize: 1073741825\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxDeliverySize: ", "out of range", NULL);
	assert_fails("MaxDeliverySize: 2 GiB\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxDeliverySize: \"2 GiB\" is out of range", NULL);
	assert_fails("MaxDeliverySize: 4MB\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxDeliverySize: \"4MB\" is not a size", "KiB, MiB or GiB", NULL);
	assert_fails("MaxDeliverySize: -5\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxDeliverySize: ", "negative", NULL);
	assert_fails("MaxDeliverySize: 99999999999 GiB\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxDeliverySize: ", "out of range", NULL);
	assert_fails("SendBufferSize: 65535\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: SendBufferSize: ", "at least 65536 (64 KiB) bytes", NULL);

	/* strings with a format */
	assert_fails("GrpcUrl: ftp://127.0.0.1:7124\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: GrpcUrl: ", "ftp", "an http:// URL", NULL);
	assert_fails("GrpcUrl: 127.0.0.1:7124\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: GrpcUrl: ", "an http:// URL", NULL);
	assert_fails("GrpcUrl: not a url\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: GrpcUrl: \"not a url\" is not a URL", "or none", NULL);
	assert_fails("GrpcUrl:\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: GrpcUrl: ", "an http:// URL", NULL);
	assert_fails("GrpcUrl: https://127.0.0.1:7124\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: GrpcUrl: ", "cleartext", NULL);
	assert_fails("GrpcUrl: unix:relative.sock\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: GrpcUrl: ", "absolute", NULL);
	assert_fails("MaxUnsavedSize: lots\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxUnsavedSize: ", NULL);
	assert_fails("ListenAddress: localhost\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: ListenAddress: \"localhost\" is not an IP address", NULL);
	assert_fails("ListenAddress:\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: ListenAddress: ", "IP address", NULL);
	{
		g_autofree gchar *longpath = g_strnfill(200, 'a');
		g_autofree gchar *text = g_strdup_printf("ListenUnixSocket: /%s\n", longpath);

		assert_fails(text, MSB_CONFIG_ERROR_INVALID_VALUE,
		             ORIGIN ":1: ListenUnixSocket: ", "at most 107 bytes", NULL);
	}
}

static void
test_settings_grpc_url(void)
{
	g_autoptr(MsbSettings) none = load_ok("GrpcUrl: none\n");
	g_autoptr(MsbSettings) upper = load_ok("persistence_grpc_url: NONE\n");
	g_autoptr(MsbSettings) http = load_ok("GrpcUrl: HTTP://Host.Example:7124/base\n");
	g_autoptr(MsbSettings) unix_socket = load_ok("GrpcUrl: unix:/run/msb-persistence.sock\n");

	g_assert_null(none->grpc_url);
	g_assert_null(upper->grpc_url);
	/* stored as written */
	g_assert_cmpstr(http->grpc_url, ==, "HTTP://Host.Example:7124/base");
	g_assert_cmpstr(unix_socket->grpc_url, ==, "unix:/run/msb-persistence.sock");
}

static void
test_settings_packet_size(void)
{
	g_autoptr(MsbSettings) small = load_ok("MaxDeliverySize: 1000\n");
	g_autoptr(MsbSettings) big = load_ok("MaxDeliverySize: 1 GiB\n");
	g_autoptr(MsbSettings) exact = load_ok("MaxDeliverySize: 1 MiB\nMaxPacketSize: 1114112\n");

	/* the default is 4 × MaxDeliverySize, but always room for a batch and within int32 */
	g_assert_cmpint(small->max_packet_size, ==, 1000 + 65536);
	g_assert_cmpint(big->max_packet_size, ==, G_MAXINT32);
	g_assert_cmpint(exact->max_packet_size, ==, MIB + 65536);

	assert_fails("MaxPacketSize: 65536\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxPacketSize: \"65536\" is too small for MaxDeliverySize 4194304",
	             "at least 4259840 bytes", NULL);
	assert_fails("max_delivery_size: 1 MiB\nmax_packet_size: 1114111\n",
	             MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":2: max_packet_size: ", "max_delivery_size 1048576",
	             "at least 1114112", NULL);
	assert_fails("MaxDeliverySize: 100\nMaxPacketSize: 65535\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":2: MaxPacketSize: \"65535\" is out of range",
	             "from 65536 (64 KiB) to 2147483647 bytes", NULL);
	assert_fails("MaxPacketSize: 2 GiB\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxPacketSize: ", "out of range", "2147483647", NULL);
}

static void
test_settings_connection_limits(void)
{
	g_autoptr(MsbSettings) set = load_ok("ListenBacklog: 128\n"
	                                     "MaxConnections: 2\n"
	                                     "GreetingTimeout: 1.5s\n"
	                                     "PacketReceiveTimeout: 500ms\n"
	                                     "MaxIncompletePacketsSize: 32 MiB\n");
	g_autoptr(MsbSettings) snake = load_ok("listen_backlog: 0\n"
	                                       "max_connections: 2147483647\n"
	                                       "max_incomplete_packets_size: 0\n");
	g_autoptr(MsbSettings) big = load_ok("MaxPacketSize: 1 GiB\nMaxDeliverySize: 64 MiB\n");

	g_assert_cmpint(set->listen_backlog, ==, 128);
	g_assert_cmpint(set->max_connections, ==, 2);
	g_assert_cmpint(set->greeting_timeout_us, ==, 1500 * 1000);
	g_assert_cmpint(set->packet_receive_timeout_us, ==, 500 * 1000);
	g_assert_cmpint(set->max_incomplete_packets_size, ==, 32 * MIB);
	g_assert_cmpint(snake->listen_backlog, ==, 0);
	g_assert_cmpint(snake->max_connections, ==, G_MAXINT32);
	g_assert_cmpint(snake->max_incomplete_packets_size, ==, 0);
	/* the default ceiling always leaves room for one whole packet */
	g_assert_cmpint(big->max_incomplete_packets_size, ==, 1024 * MIB);

	assert_fails("ListenBacklog: -1\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: ListenBacklog: ", NULL);
	assert_fails("ListenBacklog: 65536\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: ListenBacklog: ", NULL);
	assert_fails("MaxConnections: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxConnections: ", NULL);
	assert_fails("MaxConnections: many\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxConnections: ", NULL);
	assert_fails("GreetingTimeout: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: GreetingTimeout: ", NULL);
	assert_fails("PacketReceiveTimeout: soon\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: PacketReceiveTimeout: ", NULL);
	assert_fails("MaxIncompletePacketsSize: 1 MiB\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN
	             ":1: MaxIncompletePacketsSize: \"1 MiB\" is below MaxPacketSize 16777216",
	             NULL);
	assert_fails("MaxIncompletePacketsSize: -5\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: MaxIncompletePacketsSize: ", NULL);
}

static void
test_settings_legacy(void)
{
	g_autoptr(MsbSettings) settings = load_ok("GrpcUrl: http://127.0.0.1:7124\n"
	                                          "GrpcTimeoutSecs: 5\n"
	                                          "PersistTimerInterval: 00:00:01\n"
	                                          "PersistCompressed: true\n");
	g_autoptr(MsbSettings) snake = load_ok("persist_timer_interval: 00:00:01\n");

	g_assert_true(settings->persist_compressed);
	g_assert_cmpuint(settings->warnings->len, ==, 2);
	g_assert_true(warnings_contain(settings, ORIGIN ":2: GrpcTimeoutSecs: ", "ignored"));
	g_assert_true(warnings_contain(settings, ORIGIN ":3: PersistTimerInterval: ", "ignored"));
	g_assert_true(warnings_contain(snake, ORIGIN ":1: persist_timer_interval: ", "ignored"));

	assert_fails("GrpcTimeoutSecs: five\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: GrpcTimeoutSecs: \"five\" is not a whole number", NULL);
	assert_fails("persist_timer_interval: 1\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: persist_timer_interval: \"1\" is not a duration", NULL);
}

static void
test_settings_unix_socket(void)
{
	g_autofree gchar *home = g_dir_make_tmp("msb-settings-XXXXXX", NULL);
	g_autofree gchar *old_home = g_strdup(g_getenv("HOME"));
	g_autofree gchar *expect = NULL;
	g_autoptr(MsbSettings) tilde = NULL;
	g_autoptr(MsbSettings) empty = NULL;
	g_autoptr(MsbSettings) other = NULL;

	g_assert_nonnull(home);
	g_setenv("HOME", home, TRUE);
	tilde = load_ok("ListenUnixSocket: ~/msb.sock\n");
	expect = g_build_filename(home, "msb.sock", NULL);
	g_assert_cmpstr(tilde->listen_unix_socket, ==, expect);
	/* empty is off */
	empty = load_ok("ListenUnixSocket:\n");
	g_assert_null(empty->listen_unix_socket);
	/* only a leading "~/" is expanded */
	other = load_ok("ListenUnixSocket: ~user/x\n");
	g_assert_cmpstr(other->listen_unix_socket, ==, "~user/x");

	if (old_home != NULL)
		g_setenv("HOME", old_home, TRUE);
	else
		g_unsetenv("HOME");
	g_assert_cmpint(g_rmdir(home), ==, 0);
}

static void
test_settings_search_order(void)
{
	g_autofree gchar *home = g_dir_make_tmp("msb-settings-XXXXXX", NULL);
	g_autofree gchar *old_home = g_strdup(g_getenv("HOME"));
	g_autofree gchar *file = NULL;
	g_autofree gchar *explicit_file = NULL;
	g_autofree gchar *missing = NULL;
	g_autofree gchar *default_path = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbSettings) settings = NULL;

	g_assert_nonnull(home);
	g_setenv("HOME", home, TRUE);
	file = g_build_filename(home, ".myservicebus", NULL);
	explicit_file = g_build_filename(home, "explicit.yaml", NULL);
	missing = g_build_filename(home, "missing.yaml", NULL);
	default_path = msb_settings_get_default_path();
	g_assert_cmpstr(default_path, ==, file);

	/* no file at all: the defaults, with no source */
	settings = msb_settings_load(NULL, &error);
	g_assert_no_error(error);
	assert_defaults(settings);
	g_assert_null(settings->source);
	g_clear_pointer(&settings, msb_settings_free);

	/* $HOME/.myservicebus, read at run time */
	g_assert_true(g_file_set_contents(file, "DebugMode: true\nTcpPort: 7777\n", -1, NULL));
	settings = msb_settings_load(NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(settings->source, ==, file);
	g_assert_true(settings->debug_mode);
	g_assert_cmpuint(settings->tcp_port, ==, 7777);
	g_clear_pointer(&settings, msb_settings_free);

	/* a bad $HOME/.myservicebus is an error, not a silent fall back to the defaults */
	g_assert_true(g_file_set_contents(file, "DebugMode: true\nTcpPort: 0\n", -1, NULL));
	settings = msb_settings_load(NULL, &error);
	g_assert_null(settings);
	g_assert_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_INVALID_VALUE);
	g_assert_nonnull(strstr(error->message, file));
	g_assert_nonnull(strstr(error->message, ":2: TcpPort: "));
	g_clear_error(&error);

	/* an explicit file wins over $HOME/.myservicebus */
	g_assert_true(g_file_set_contents(explicit_file, "HttpPort: 8888\n", -1, NULL));
	settings = msb_settings_load(explicit_file, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(settings->source, ==, explicit_file);
	g_assert_cmpuint(settings->http_port, ==, 8888);
	g_assert_cmpuint(settings->tcp_port, ==, 6421);
	g_clear_pointer(&settings, msb_settings_free);

	/* an explicit file must exist */
	settings = msb_settings_load(missing, &error);
	g_assert_null(settings);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, missing));
	g_clear_error(&error);

	/* a directory where the file should be is reported, not skipped */
	settings = msb_settings_load(home, &error);
	g_assert_null(settings);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, home));
	g_clear_error(&error);

	g_assert_cmpint(g_unlink(file), ==, 0);
	g_assert_cmpint(g_unlink(explicit_file), ==, 0);
	if (old_home != NULL)
		g_setenv("HOME", old_home, TRUE);
	else
		g_unsetenv("HOME");
	g_assert_cmpint(g_rmdir(home), ==, 0);
}

static void
test_settings_to_string(void)
{
	g_autoptr(MsbSettings) defaults = msb_settings_new_defaults();
	g_autoptr(MsbSettings) custom = load_ok("GrpcUrl: http://h:7124\n"
	                                        "QueueGcTimeout: 1.5s\n"
	                                        "ListenUnixSocket: '/tmp/a \"b\" # c'\n"
	                                        "DebugMode: true\n"
	                                        "MaxDeliverySize: 1000\n"
	                                        "MaxConnections: 7\n"
	                                        "GreetingTimeout: 2s\n"
	                                        "MaxIncompletePacketsSize: 0\n"
	                                        "HttpSessionTimeout: 90s\n"
	                                        "HttpAwaitTimeout: 250ms\n"
	                                        "HttpMaxSessions: 42\n");
	MsbSettings *inputs[] = {defaults, custom};

	for (guint i = 0; i < G_N_ELEMENTS(inputs); i++) {
		MsbSettings *a = inputs[i];
		g_autofree gchar *text = msb_settings_to_string(a);
		g_autoptr(MsbSettings) b = load_ok(text);

		g_test_message("%s", text);
		g_assert_cmpuint(b->warnings->len, ==, 0);
		g_assert_cmpstr(a->grpc_url, ==, b->grpc_url);
		g_assert_cmpint(a->eventually_persistence_delay_us, ==,
		                b->eventually_persistence_delay_us);
		g_assert_cmpint(a->queue_gc_timeout_us, ==, b->queue_gc_timeout_us);
		g_assert_cmpint(a->delivery_timeout_us, ==, b->delivery_timeout_us);
		g_assert_cmpint(a->debug_mode, ==, b->debug_mode);
		g_assert_cmpint(a->max_delivery_size, ==, b->max_delivery_size);
		g_assert_cmpint(a->persist_compressed, ==, b->persist_compressed);
		g_assert_cmpint(a->auto_create_topic_on_publish, ==,
		                b->auto_create_topic_on_publish);
		g_assert_cmpint(a->auto_create_topic_on_subscribe, ==,
		                b->auto_create_topic_on_subscribe);
		g_assert_cmpstr(a->listen_unix_socket, ==, b->listen_unix_socket);
		g_assert_cmpstr(a->listen_address, ==, b->listen_address);
		g_assert_cmpuint(a->tcp_port, ==, b->tcp_port);
		g_assert_cmpuint(a->http_port, ==, b->http_port);
		g_assert_cmpint(a->max_packet_size, ==, b->max_packet_size);
		g_assert_cmpint(a->send_buffer_size, ==, b->send_buffer_size);
		g_assert_cmpint(a->on_damaged_messages, ==, b->on_damaged_messages);
		g_assert_cmpint(a->listen_backlog, ==, b->listen_backlog);
		g_assert_cmpint(a->max_connections, ==, b->max_connections);
		g_assert_cmpint(a->greeting_timeout_us, ==, b->greeting_timeout_us);
		g_assert_cmpint(a->packet_receive_timeout_us, ==, b->packet_receive_timeout_us);
		g_assert_cmpint(a->max_incomplete_packets_size, ==, b->max_incomplete_packets_size);
		g_assert_cmpint(a->http_session_timeout_us, ==, b->http_session_timeout_us);
		g_assert_cmpint(a->http_await_timeout_us, ==, b->http_await_timeout_us);
		g_assert_cmpint(a->http_max_sessions, ==, b->http_max_sessions);
	}
}

/* HttpMaxSessions: the default, both spellings, the range, and a reload */
static void
test_settings_http_max_sessions(void)
{
	g_autoptr(MsbSettings) defaults = msb_settings_new_defaults();
	g_autoptr(MsbSettings) pascal = load_ok("HttpMaxSessions: 1\n");
	g_autoptr(MsbSettings) snake = load_ok("http_max_sessions: 1000000\n");
	g_autoptr(MsbSettings) current = msb_settings_new_defaults();
	g_autoptr(GPtrArray) changes = NULL;

	g_assert_cmpint(defaults->http_max_sessions, ==, 10000);
	g_assert_cmpint(pascal->http_max_sessions, ==, 1);
	g_assert_cmpint(snake->http_max_sessions, ==, 1000000);
	assert_fails("HttpMaxSessions: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpMaxSessions: ", NULL);
	assert_fails("HttpMaxSessions: -5\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpMaxSessions: ", NULL);
	assert_fails("HttpMaxSessions: 1000001\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpMaxSessions: ", NULL);
	assert_fails("http_max_sessions: many\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: http_max_sessions: ", NULL);
	/* applies on SIGHUP, to the next Greeting */
	changes = msb_settings_reload(current, pascal);
	g_assert_cmpint(current->http_max_sessions, ==, 1);
}

/* HTTP sessions: both spellings, the ranges, and an Await that must end before its request is
 * cut by HttpRequestTimeout */
static void
test_settings_http_sessions(void)
{
	g_autoptr(MsbSettings) pascal = load_ok("HttpSessionTimeout: 00:02:00\n"
	                                        "HttpAwaitTimeout: 2s\n");
	g_autoptr(MsbSettings) snake = load_ok("http_session_timeout: 1ms\n"
	                                       "http_await_timeout: 29s\n");
	g_autoptr(MsbSettings) short_request = load_ok("HttpRequestTimeout: 4s\n");
	g_autoptr(MsbSettings) current = msb_settings_new_defaults();
	g_autoptr(GPtrArray) changes = NULL;

	g_assert_cmpint(pascal->http_session_timeout_us, ==, 120 * S);
	g_assert_cmpint(pascal->http_await_timeout_us, ==, 2 * S);
	g_assert_cmpint(snake->http_session_timeout_us, ==, 1000);
	g_assert_cmpint(snake->http_await_timeout_us, ==, 29 * S);
	/* the default wait gives way to a shorter HttpRequestTimeout */
	g_assert_cmpint(short_request->http_await_timeout_us, ==, 2 * S);

	assert_fails("HttpSessionTimeout: 0s\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpSessionTimeout: ", NULL);
	assert_fails("HttpSessionTimeout: 60\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpSessionTimeout", NULL);
	assert_fails("HttpAwaitTimeout: 0s\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpAwaitTimeout: ", NULL);
	assert_fails("HttpAwaitTimeout: 30s\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpAwaitTimeout: \"30s\" is not below HttpRequestTimeout", NULL);
	assert_fails("HttpRequestTimeout: 10s\nhttp_await_timeout: 10s\n",
	             MSB_CONFIG_ERROR_INVALID_VALUE, ORIGIN ":2: http_await_timeout: ", NULL);

	/* both apply on SIGHUP */
	changes = msb_settings_reload(current, pascal);
	g_assert_cmpint(current->http_session_timeout_us, ==, 120 * S);
	g_assert_cmpint(current->http_await_timeout_us, ==, 2 * S);
}

static void
test_settings_http_access(void)
{
	g_autoptr(MsbSettings) defaults = msb_settings_new_defaults();
	g_autoptr(MsbSettings) set = load_ok("HttpListenAddress: 127.0.0.1\n"
	                                     "HttpAdminToken: 0123456789abcdef0123\n"
	                                     "http_cors_origin: https://ops.example.com\n");
	g_autoptr(MsbSettings) other = load_ok("HttpAdminToken: 0123456789abcdef0124\n");
	g_autofree gchar *text = msb_settings_to_string(set);
	g_autofree gchar *other_text = msb_settings_to_string(other);
	g_autofree gchar *default_text = msb_settings_to_string(defaults);

	g_assert_null(defaults->http_listen_address);
	g_assert_null(defaults->http_admin_token);
	g_assert_null(defaults->http_cors_origin);
	g_assert_cmpstr(set->http_listen_address, ==, "127.0.0.1");
	g_assert_cmpstr(set->http_admin_token, ==, "0123456789abcdef0123");
	g_assert_cmpstr(set->http_cors_origin, ==, "https://ops.example.com");
	/* the token is never printed (the text goes into reload log lines), but a change shows */
	g_assert_null(strstr(text, "0123456789abcdef"));
	g_assert_nonnull(strstr(text, "HttpAdminToken: set (sha256 "));
	g_assert_nonnull(strstr(text, "HttpListenAddress: "));
	g_assert_cmpstr(strstr(text, "HttpAdminToken:"), !=, strstr(other_text, "HttpAdminToken:"));
	g_assert_nonnull(strstr(default_text, "HttpAdminToken: \n"));
	g_assert_null(strstr(default_text, "HttpListenAddress"));

	assert_fails("HttpListenAddress: localhost\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpListenAddress", "not an IP address", NULL);
	assert_fails("HttpAdminToken: short\n", MSB_CONFIG_ERROR_INVALID_VALUE, "HttpAdminToken",
	             "at least 16", NULL);
	assert_fails("HttpAdminToken: 'has a space in it 0123'\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "printable ASCII without spaces", NULL);
	assert_fails("HttpCorsOrigin: ops.example.com\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpCorsOrigin", "expected an origin", NULL);
}

static void
test_settings_dbus_admin_group(void)
{
	g_autoptr(MsbSettings) current = msb_settings_new_defaults();
	g_autoptr(MsbSettings) set = load_ok("DBusAdminGroup: wheel\n");
	g_autoptr(MsbSettings) snake = load_ok("dbus_admin_group: msb-admins\n");
	g_autoptr(MsbSettings) empty = load_ok("DBusAdminGroup: ''\n");
	g_autoptr(MsbSettings) longest = NULL;
	g_autoptr(GPtrArray) changes = NULL;
	g_autofree gchar *text = msb_settings_to_string(set);
	g_autofree gchar *name64 = g_strnfill(MSB_SETTINGS_MAX_GROUP_NAME, 'g');
	g_autofree gchar *name65 = g_strnfill(MSB_SETTINGS_MAX_GROUP_NAME + 1, 'g');
	g_autofree gchar *line64 = g_strdup_printf("DBusAdminGroup: %s\n", name64);
	g_autofree gchar *line65 = g_strdup_printf("DBusAdminGroup: %s\n", name65);

	g_assert_cmpstr(current->dbus_admin_group, ==, "myservicebus-admin");
	g_assert_cmpstr(set->dbus_admin_group, ==, "wheel");
	g_assert_cmpstr(snake->dbus_admin_group, ==, "msb-admins");
	g_assert_cmpstr(empty->dbus_admin_group, ==, "");
	g_assert_nonnull(strstr(text, "DBusAdminGroup: \"wheel\"\n"));
	longest = load_ok(line64);
	g_assert_cmpstr(longest->dbus_admin_group, ==, name64);

	assert_fails(line65, MSB_CONFIG_ERROR_INVALID_VALUE, "DBusAdminGroup", "at most 64", NULL);
	assert_fails("DBusAdminGroup: 'two words'\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "DBusAdminGroup", "expected a group name", NULL);
	assert_fails("DBusAdminGroup: -dash\n", MSB_CONFIG_ERROR_INVALID_VALUE, "DBusAdminGroup",
	             "expected a group name", NULL);
	assert_fails("DBusAdminGroup: a/b\n", MSB_CONFIG_ERROR_INVALID_VALUE, "DBusAdminGroup",
	             "expected a group name", NULL);

	/* applies on SIGHUP */
	changes = msb_settings_reload(current, set);
	g_assert_cmpuint(changes->len, ==, 1);
	g_assert_cmpstr(current->dbus_admin_group, ==, "wheel");
}

static void
test_settings_on_damaged(void)
{
	g_autoptr(MsbSettings) wait = load_ok("OnDamagedMessages: wait\n");
	g_autoptr(MsbSettings) skip = load_ok("on_damaged_messages: SKIP\n");
	g_autofree gchar *text = msb_settings_to_string(wait);

	g_assert_cmpint(wait->on_damaged_messages, ==, MSB_ON_DAMAGED_WAIT);
	g_assert_cmpint(skip->on_damaged_messages, ==, MSB_ON_DAMAGED_SKIP);
	g_assert_nonnull(strstr(text, "OnDamagedMessages: wait\n"));
	assert_fails("OnDamagedMessages: drop\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: OnDamagedMessages: \"drop\" is not a choice", "skip", "wait",
	             NULL);
	assert_fails("OnDamagedMessages:\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: OnDamagedMessages: \"\" is not a choice", NULL);
}

/* msb-config-file on its own, with a key table of its own, as the persistence service uses it */
enum {
	PKEY_DATA_PATH,
	PKEY_GRPC_PORT,
	PKEY_LEVEL,
};

static const MsbConfigKey persistence_keys[] = {
        {PKEY_DATA_PATH, {"DataPath", "data_path", NULL}},
        {PKEY_GRPC_PORT, {"GrpcPort", "grpc_port", NULL}},
        {PKEY_LEVEL, {"Level", NULL}},
};

/* the HTTP port's limits (msb-http-limits.c): defaults, both spellings, ranges */
static void
test_settings_http_limits(void)
{
	g_autoptr(MsbSettings) defaults = msb_settings_new_defaults();
	g_autoptr(MsbSettings) pascal = NULL;
	g_autoptr(MsbSettings) snake = NULL;
	g_autoptr(MsbSettings) edges = NULL;

	g_assert_cmpint(defaults->http.max_body_size, ==, 8 * MIB);
	g_assert_cmpint(defaults->http.idle_timeout_us, ==, 60 * S);
	g_assert_cmpint(defaults->http.request_timeout_us, ==, 30 * S);
	g_assert_cmpint(defaults->http.max_connections, ==, 1024);
	g_assert_cmpint(defaults->http.listen_backlog, ==, 4096);

	pascal = load_ok("HttpMaxBodySize: 16 MiB\n"
	                 "HttpIdleTimeout: 00:00:05\n"
	                 "HttpRequestTimeout: 1.5s\n"
	                 "HttpMaxConnections: 10\n"
	                 "HttpListenBacklog: 128\n");
	g_assert_cmpint(pascal->http.max_body_size, ==, 16 * MIB);
	g_assert_cmpint(pascal->http.idle_timeout_us, ==, 5 * S);
	g_assert_cmpint(pascal->http.request_timeout_us, ==, 1500000);
	g_assert_cmpint(pascal->http.max_connections, ==, 10);
	g_assert_cmpint(pascal->http.listen_backlog, ==, 128);

	snake = load_ok("http_max_body_size: 1024\n"
	                "http_idle_timeout: 500ms\n"
	                "http_request_timeout: 2s\n"
	                "http_max_connections: 1\n"
	                "http_listen_backlog: 65535\n");
	g_assert_cmpint(snake->http.max_body_size, ==, 1024);
	g_assert_cmpint(snake->http.idle_timeout_us, ==, 500000);
	g_assert_cmpint(snake->http.request_timeout_us, ==, 2 * S);
	g_assert_cmpint(snake->http.max_connections, ==, 1);
	g_assert_cmpint(snake->http.listen_backlog, ==, 65535);

	/* 0 bytes: no request may have a body; the range ends are accepted */
	edges = load_ok("HttpMaxBodySize: 0\nHttpMaxConnections: 1000000\nHttpListenBacklog: 1\n"
	                "HttpIdleTimeout: 1ms\n");
	g_assert_cmpint(edges->http.max_body_size, ==, 0);
	g_assert_cmpint(edges->http.max_connections, ==, 1000000);
	g_assert_cmpint(edges->http.listen_backlog, ==, 1);
	g_assert_cmpint(edges->http.idle_timeout_us, ==, 1000);

	assert_fails("HttpMaxBodySize: 2 GiB\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":1: HttpMaxBodySize: ", NULL);
	assert_fails("HttpMaxBodySize: -1\n", MSB_CONFIG_ERROR_INVALID_VALUE, "HttpMaxBodySize",
	             NULL);
	assert_fails("HttpMaxBodySize: 8 MB\n", MSB_CONFIG_ERROR_INVALID_VALUE, "HttpMaxBodySize",
	             NULL);
	assert_fails("HttpIdleTimeout: 60\n", MSB_CONFIG_ERROR_INVALID_VALUE, "HttpIdleTimeout",
	             NULL);
	assert_fails("HttpIdleTimeout: 0s\n", MSB_CONFIG_ERROR_INVALID_VALUE, "HttpIdleTimeout",
	             NULL);
	assert_fails("# x\nHttpRequestTimeout: soon\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             ORIGIN ":2: HttpRequestTimeout: ", NULL);
	assert_fails("HttpMaxConnections: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpMaxConnections", NULL);
	assert_fails("HttpMaxConnections: 1000001\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpMaxConnections", NULL);
	assert_fails("HttpListenBacklog: 0\n", MSB_CONFIG_ERROR_INVALID_VALUE, "HttpListenBacklog",
	             NULL);
	assert_fails("HttpListenBacklog: 65536\n", MSB_CONFIG_ERROR_INVALID_VALUE,
	             "HttpListenBacklog", NULL);
	assert_fails("HttpListenBacklog: 10\nhttp_listen_backlog: 20\n",
	             MSB_CONFIG_ERROR_DUPLICATE_KEY, "HttpListenBacklog", "http_listen_backlog",
	             NULL);
}

static void
test_config_file_generic(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbConfigFile) cf = NULL;
	const MsbConfigEntry *entry;
	const gchar *path = "unset";
	guint16 port = 1;
	gint64 level = 7;

	cf = msb_config_file_new_from_data("# persistence\ndata_path: /var/lib/msb\n\nOther: x\n",
	                                   -1, "p.yaml", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(msb_config_file_get_origin(cf), ==, "p.yaml");
	g_assert_cmpuint(msb_config_file_get_n_entries(cf), ==, 2);
	entry = msb_config_file_get_entry(cf, 0);
	g_assert_cmpstr(entry->key, ==, "data_path");
	g_assert_cmpstr(entry->value, ==, "/var/lib/msb");
	g_assert_cmpuint(entry->line, ==, 2);
	g_assert_cmpint(entry->id, ==, -1);
	entry = msb_config_file_get_entry(cf, 1);
	g_assert_cmpuint(entry->line, ==, 4);

	g_assert_true(
	        msb_config_file_bind(cf, persistence_keys, G_N_ELEMENTS(persistence_keys), &error));
	g_assert_no_error(error);
	g_assert_cmpint(msb_config_file_get_entry(cf, 0)->id, ==, PKEY_DATA_PATH);
	g_assert_cmpuint(msb_config_file_get_warnings(cf)->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(msb_config_file_get_warnings(cf), 0),
	                        "p.yaml:4: unknown key Other"));

	g_assert_true(msb_config_file_get_string(cf, PKEY_DATA_PATH, &path, &error));
	g_assert_cmpstr(path, ==, "/var/lib/msb");
	/* absent: untouched, no error */
	g_assert_true(msb_config_file_get_port(cf, PKEY_GRPC_PORT, &port, &error));
	g_assert_cmpuint(port, ==, 1);
	g_assert_true(msb_config_file_get_int64(cf, PKEY_LEVEL, 0, 9, &level, &error));
	g_assert_cmpint(level, ==, 7);
	g_assert_null(msb_config_file_lookup(cf, PKEY_LEVEL));

	g_assert_true(msb_config_file_require(cf, PKEY_DATA_PATH, &error));
	g_assert_false(msb_config_file_require(cf, PKEY_GRPC_PORT, &error));
	g_assert_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "p.yaml: GrpcPort is not set"));
	g_clear_error(&error);

	msb_config_file_warn(cf, PKEY_DATA_PATH, "a %s warning", "custom");
	g_assert_cmpstr(g_ptr_array_index(msb_config_file_get_warnings(cf), 1), ==,
	                "p.yaml:2: data_path: a custom warning");
	g_assert_false(msb_config_file_set_error(cf, PKEY_DATA_PATH, &error, "no %d", 1));
	g_assert_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_INVALID_VALUE);
	g_assert_cmpstr(error->message, ==, "p.yaml:2: data_path: no 1");
	g_clear_error(&error);
}

static void
test_config_file_int64(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbConfigFile) cf = NULL;
	gint64 level = 0;

	cf = msb_config_file_new_from_data("Level: -9223372036854775808\n", -1, "i.yaml", &error);
	g_assert_no_error(error);
	g_assert_true(
	        msb_config_file_bind(cf, persistence_keys, G_N_ELEMENTS(persistence_keys), &error));
	g_assert_true(
	        msb_config_file_get_int64(cf, PKEY_LEVEL, G_MININT64, G_MAXINT64, &level, &error));
	g_assert_no_error(error);
	g_assert_cmpint(level, ==, G_MININT64);
	g_assert_false(msb_config_file_get_int64(cf, PKEY_LEVEL, 0, 9, &level, &error));
	g_assert_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_INVALID_VALUE);
	g_assert_nonnull(strstr(error->message, "i.yaml:1: Level: "));
	g_assert_nonnull(
	        strstr(error->message, "out of range (expected a whole number from 0 to 9)"));
	g_assert_cmpint(level, ==, G_MININT64);
	g_clear_error(&error);
	g_clear_pointer(&cf, msb_config_file_free);

	cf = msb_config_file_new_from_data("Level: -9223372036854775809\n", -1, "i.yaml", &error);
	g_assert_true(
	        msb_config_file_bind(cf, persistence_keys, G_N_ELEMENTS(persistence_keys), &error));
	g_assert_false(
	        msb_config_file_get_int64(cf, PKEY_LEVEL, G_MININT64, G_MAXINT64, &level, &error));
	g_assert_nonnull(strstr(error->message, "out of range"));
	g_clear_error(&error);
	g_clear_pointer(&cf, msb_config_file_free);

	/* too large to be a settings file */
	{
		g_autofree gchar *big = g_strnfill(MSB_CONFIG_FILE_MAX_SIZE + 1, '#');

		cf = msb_config_file_new_from_data(big, -1, "big.yaml", &error);
		g_assert_null(cf);
		g_assert_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_PARSE);
		g_assert_nonnull(strstr(error->message, "big.yaml"));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/settings/defaults", test_settings_defaults);
	g_test_add_func("/settings/readme", test_settings_readme);
	g_test_add_func("/settings/pascal-all", test_settings_pascal_all);
	g_test_add_func("/settings/snake-case", test_settings_snake_case);
	g_test_add_func("/settings/annotation", test_settings_annotation);
	g_test_add_func("/settings/comments", test_settings_comments);
	g_test_add_func("/settings/quotes", test_settings_quotes);
	g_test_add_func("/settings/syntax", test_settings_syntax);
	g_test_add_func("/settings/duplicates", test_settings_duplicates);
	g_test_add_func("/settings/unknown-key", test_settings_unknown_key);
	g_test_add_func("/settings/bad-values", test_settings_bad_values);
	g_test_add_func("/settings/grpc-url", test_settings_grpc_url);
	g_test_add_func("/settings/packet-size", test_settings_packet_size);
	g_test_add_func("/settings/connection-limits", test_settings_connection_limits);
	g_test_add_func("/settings/legacy", test_settings_legacy);
	g_test_add_func("/settings/unix-socket", test_settings_unix_socket);
	g_test_add_func("/settings/search-order", test_settings_search_order);
	g_test_add_func("/settings/to-string", test_settings_to_string);
	g_test_add_func("/settings/on-damaged", test_settings_on_damaged);
	g_test_add_func("/settings/http-limits", test_settings_http_limits);
	g_test_add_func("/settings/http-access", test_settings_http_access);
	g_test_add_func("/settings/http-sessions", test_settings_http_sessions);
	g_test_add_func("/settings/http-max-sessions", test_settings_http_max_sessions);
	g_test_add_func("/settings/dbus-admin-group", test_settings_dbus_admin_group);
	g_test_add_func("/config-file/generic", test_config_file_generic);
	g_test_add_func("/config-file/int64", test_config_file_int64);
	return g_test_run();
}
