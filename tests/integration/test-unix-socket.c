/*
 * The Unix socket listener (ListenUnixSocket) of the real broker: the same protocol as TCP, raw
 * and through libmsb-client with "unix:/path", sharing topics and queues with TCP clients; a
 * stale socket file left by a killed broker does not prevent the next start; a path that is not
 * a socket makes the start fail and is left alone; a graceful stop removes the socket file.
 */
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "itest.h"

#define UNIX_SETTINGS "ListenUnixSocket: @DIR@/broker.sock\n"

static gboolean
is_socket(const gchar *path)
{
	GStatBuf st;

	return g_lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void
test_unix_protocol(ItestFixture *f, gconstpointer data)
{
	g_autofree gchar *path = itest_broker_path(f->broker, "broker.sock");
	g_autofree gchar *address = g_strconcat("unix:", path, NULL);
	g_autoptr(ItestRaw) raw = itest_raw_connect_unix(path);
	g_autoptr(ItestRaw) tcp = itest_raw_connect(f->broker);
	g_autoptr(MsbClient) client = msb_client_new(address, "unix-client");
	g_autoptr(GPtrArray) got = itest_received_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(ItestPacket) pong = NULL;
	const MsbHeader header = {"via", "unix"};
	const MsbMessage msg = {(const guint8 *)"over unix", 9, &header, 1};
	const gchar *contents[] = {"over tcp"};

	g_assert_true(is_socket(path));
	/* raw bytes over the Unix socket, as over TCP */
	itest_raw_send_hex(raw, "00");
	pong = itest_raw_expect(raw, MSB_PACKET_PONG);
	itest_assert_bytes_hex(pong->raw, "01");
	itest_raw_send_hex(raw, ITEST_HEX_GREETING_RUST ITEST_HEX_PACKET_VERSIONS
	                                ITEST_HEX_CREATE_ORDERS ITEST_HEX_SUBSCRIBE_ORDERS_BILLING);
	itest_raw_assume(raw, 3, 1);
	itest_raw_sync(raw);

	/* the client library with a unix: address publishes and consumes */
	msb_client_set_ping_interval(client, 1000);
	msb_client_subscribe(client, "orders", "lib", MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT,
	                     itest_confirm_all_cb, got, NULL, &error);
	g_assert_no_error(error);
	itest_client_connect(client);
	itest_client_sync(client);
	itest_client_publish(client, "orders", &msg, 1, &error);
	g_assert_no_error(error);

	/* and a TCP client shares the topic */
	itest_raw_greet(tcp, "tcp", 3, 1);
	itest_raw_publish(tcp, "orders", 1, contents, 1, TRUE);
	itest_raw_expect_publish_response(tcp, 1);

	ITEST_WAIT_FOR(got->len == 2);
	{
		const ItestReceived *a = g_ptr_array_index(got, 0);
		const ItestReceived *b = g_ptr_array_index(got, 1);
		g_assert_cmpint(a->id, ==, 0);
		g_assert_cmpmem(g_bytes_get_data(a->content, NULL), g_bytes_get_size(a->content),
		                "over unix", 9);
		g_assert_cmpuint(a->headers->len, ==, 1);
		g_assert_cmpstr(g_ptr_array_index(a->headers, 0), ==, "via=unix");
		g_assert_cmpint(b->id, ==, 1);
		g_assert_cmpstr(g_ptr_array_index(b->headers, 0), ==, "k=v");
	}
	for (guint n = 0; n < 2;) {
		g_autoptr(ItestPacket) p = itest_raw_expect(raw, MSB_PACKET_NEW_MESSAGES);
		for (guint i = 0; i < p->messages->len; i++, n++)
			g_assert_cmpint(itest_packet_message(p, i)->id, ==, n);
		itest_raw_confirm(raw, TRUE, "orders", "billing", p->confirmation_id);
	}
	itest_raw_assert_quiet(raw);
	msb_client_close(client);
}

static void
test_stale_socket(ItestFixture *f, gconstpointer data)
{
	g_autofree gchar *path = itest_broker_path(f->broker, "broker.sock");
	g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
	g_autoptr(GError) error = NULL;
	g_autoptr(ItestRaw) refused = NULL;
	g_autoptr(ItestRaw) raw = NULL;

	/* a broker that cannot clean up leaves its socket file behind */
	itest_broker_kill(f->broker);
	g_assert_true(is_socket(path));
	refused = itest_raw_connect_full(addr, 0, TRUE, &error);
	g_assert_null(refused);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);

	/* the next one starts anyway and serves on that path */
	itest_broker_start(f->broker, 0);
	raw = itest_raw_connect_unix(path);
	itest_raw_greet(raw, "after-restart", 3, 1);
	itest_raw_sync(raw);
}

static void
test_removed_on_stop(ItestFixture *f, gconstpointer data)
{
	g_autofree gchar *path = itest_broker_path(f->broker, "broker.sock");
	gint status;

	g_assert_true(is_socket(path));
	status = itest_broker_stop(f->broker, SIGTERM);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void
test_not_a_socket(void)
{
	ItestBroker *b = itest_broker_new(UNIX_SETTINGS);
	g_autofree gchar *path = itest_broker_path(b, "broker.sock");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;

	/* an ordinary file where the socket should go: not ours to delete */
	g_file_set_contents(path, "precious", -1, &error);
	g_assert_no_error(error);
	itest_broker_spawn(b, 0);
	g_assert_true(itest_broker_wait_exit(b, ITEST_TIMEOUT_MS));
	g_assert_true(WIFEXITED(b->wait_status));
	g_assert_cmpint(WEXITSTATUS(b->wait_status), !=, 0);
	g_assert_false(g_file_test(b->ready_path, G_FILE_TEST_EXISTS));
	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(text, ==, "precious");
	itest_broker_free(b);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/unix/protocol", UNIX_SETTINGS, test_unix_protocol);
	ITEST_ADD("/unix/stale-socket", UNIX_SETTINGS, test_stale_socket);
	ITEST_ADD("/unix/removed-on-stop", UNIX_SETTINGS, test_removed_on_stop);
	g_test_add_func("/unix/not-a-socket", test_not_a_socket);
	return g_test_run();
}
