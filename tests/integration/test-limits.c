/*
 * Connections and descriptors of the real broker (and the persistence service's gRPC listener):
 * the listen backlog takes a reconnect storm, accepting pauses at the open-files limit without
 * flooding the log and resumes, MaxConnections refuses the extra client, a connection without a
 * Greeting or with a packet trickling in is closed after its deadline, the bytes of unfinished
 * packets have a ceiling, and a second broker cannot take a live broker's Unix socket or TCP port.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "dtest.h"
#include "msb-os-limits.h"

/* clients of the reconnect storm */
#define STORM 1000

/* The Send-Q column of `ss -ltn` for a listening TCP socket: its listen backlog; -1 when there
 * is no `ss` (iproute2) to ask. */
static gint
listen_backlog_of(guint16 port)
{
	g_autofree gchar *filter = g_strdup_printf("sport = :%u", port);
	const gchar *argv[] = {"ss", "-ltnH", filter, NULL};
	g_autofree gchar *out = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) fields = NULL;
	gint status = 0;
	g_autofree gchar *ss = g_find_program_in_path("ss");
	guint n = 0;

	if (ss == NULL) {
		g_test_message("no ss (iproute2): listen backlog not checked");
		return -1;
	}
	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
	             NULL, NULL, &out, NULL, &status, &error);
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_test_message("ss: %s", out);
	fields = g_strsplit_set(g_strstrip(out), " \t", -1);
	/* State Recv-Q Send-Q Local Peer, blanks collapsed */
	for (guint i = 0; fields[i] != NULL; i++) {
		if (fields[i][0] == '\0')
			continue;
		if (n++ == 2)
			return (gint)g_ascii_strtoll(fields[i], NULL, 10);
	}
	g_assert_not_reached();
}

/* Send what the socket takes now; FALSE once the broker has closed the connection. */
static gboolean
send_or_closed(ItestRaw *r, const guint8 *data, gsize len)
{
	gsize done = 0;
	ItestWait w;

	itest_wait_begin(&w, ITEST_TIMEOUT_MS);
	while (done < len && !r->eof) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_send_with_blocking(r->socket, (const gchar *)data + done,
		                                       len - done, FALSE, NULL, &error);

		if (n < 0 && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			break; /* reset by the broker's close */
		if (n > 0)
			done += (gsize)n;
		else if (!itest_wait_iterate(&w))
			g_error("could not send %" G_GSIZE_FORMAT " bytes in time", len);
	}
	itest_wait_end(&w);
	return done == len && !r->eof;
}

/* A P = 2 Publish of one message of @size bytes to "orders" (request 1), whole. */
static GBytes *
publish_packet(gsize size)
{
	MsbBuf buf;
	g_autofree guint8 *content = g_malloc0(size);
	gsize len;

	msb_buf_init(&buf, size + 64);
	msb_buf_put_u8(&buf, MSB_PACKET_PUBLISH);
	msb_buf_put_u8(&buf, 6);
	msb_buf_put(&buf, "orders", 6);
	msb_buf_put_i64(&buf, 1);
	msb_buf_put_i32(&buf, 1);
	msb_buf_put_i32(&buf, (gint32)size);
	msb_buf_put(&buf, content, size);
	msb_buf_put_u8(&buf, 0); /* persist_immediately */
	len = msb_buf_pending(&buf);
	return g_bytes_new_take(g_steal_pointer(&buf.data), len);
}

static void
test_backlog(void)
{
	ItestBroker *b = itest_broker_new("GreetingTimeout: 60s\n");
	g_autoptr(GPtrArray) socks = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GInetAddress) inet = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = NULL;
	guint connected = 0;
	guint answered = 0;
	gint backlog;

	itest_broker_start(b, 0);
	backlog = listen_backlog_of(b->port);
	if (backlog >= 0)
		g_assert_cmpint(backlog, ==, msb_os_limits_get_somaxconn());

	/* A stopped broker accepts nothing, so every handshake must be completed by the kernel
	 * into the listen queue: with a backlog of 10 all but 11 would stay unanswered and retry
	 * for seconds, as in a reconnect storm against a busy broker. */
	addr = g_inet_socket_address_new(inet, b->port);
	g_assert_cmpint(kill(b->pid, SIGSTOP), ==, 0);
	for (guint i = 0; i < STORM; i++) {
		g_autoptr(GError) error = NULL;
		GSocket *s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
		                          G_SOCKET_PROTOCOL_TCP, &error);

		g_assert_no_error(error);
		g_socket_set_blocking(s, FALSE);
		if (!g_socket_connect(s, addr, NULL, &error))
			g_assert_error(error, G_IO_ERROR, G_IO_ERROR_PENDING);
		g_ptr_array_add(socks, s);
	}
	for (guint i = 0; i < STORM; i++) {
		GSocket *s = g_ptr_array_index(socks, i);

		ITEST_WAIT_FOR(g_socket_condition_check(s, G_IO_OUT) != 0);
		if (g_socket_check_connect_result(s, NULL))
			connected++;
	}
	g_assert_cmpuint(connected, ==, STORM);

	/* once it runs again, it serves them all */
	g_assert_cmpint(kill(b->pid, SIGCONT), ==, 0);
	for (guint i = 0; i < STORM; i++) {
		g_autoptr(GError) error = NULL;
		const gchar ping = 0;

		g_assert_cmpint(g_socket_send(g_ptr_array_index(socks, i), &ping, 1, NULL, &error),
		                ==, 1);
		g_assert_no_error(error);
	}
	for (guint i = 0; i < STORM; i++) {
		GSocket *s = g_ptr_array_index(socks, i);
		gchar pong = 0x7f;

		ITEST_WAIT_FOR(g_socket_condition_check(s, G_IO_IN) != 0);
		if (g_socket_receive(s, &pong, 1, NULL, NULL) == 1 && pong == MSB_PACKET_PONG)
			answered++;
	}
	g_assert_cmpuint(answered, ==, STORM);
	g_ptr_array_set_size(socks, 0);
	itest_broker_free(b);
}

static void
test_persistence_backlog(void)
{
	PtestService *s = ptest_service_new();
	gint backlog;
	g_autofree gchar *log = NULL;

	/* gRPC core sizes its own backlog (net.core.somaxconn); this checks it stays so */
	ptest_service_start_listening(s, 0);
	backlog = listen_backlog_of(s->grpc_port);
	/* it also raised its open-files limit and said so */
	log = ptest_service_log(s);
	g_assert_nonnull(strstr(log, "open files limit: "));
	ptest_service_free(s);
	if (backlog < 0) {
		g_test_skip("needs ss (iproute2)");
		return;
	}
	g_assert_cmpint(backlog, ==, msb_os_limits_get_somaxconn());
}

static void
test_fd_limit(void)
{
	ItestBroker *b = itest_broker_new("GreetingTimeout: 60s\n");
	g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func((GDestroyNotify)itest_raw_free);
	g_autoptr(ItestRaw) first = NULL;
	g_autoptr(ItestRaw) later = NULL;

	b->capture_log = TRUE;
	b->nofile_limit = 100;
	itest_broker_start(b, 0);
	itest_broker_wait_log(b, "open files limit: 100", 1, ITEST_TIMEOUT_MS);
	first = itest_raw_connect(b);
	itest_raw_greet(first, "first", 3, 1);
	itest_raw_sync(first);

	/* more clients than descriptors: the kernel completes them all into the backlog */
	for (guint i = 0; i < 150; i++)
		g_ptr_array_add(extra, itest_raw_connect(b));
	itest_broker_wait_log(b, "Too many open files", 1, ITEST_TIMEOUT_MS);
	/* the clients it has are still served while it cannot accept */
	itest_raw_sync(first);
	itest_run_for(1500);
	itest_raw_sync(first);
	/* one message per interval, not one per attempt */
	g_assert_cmpuint(itest_broker_log_count(b, "Too many open files"), <=, 2);

	/* descriptors free up: the queued ones are accepted, and then a new one */
	g_ptr_array_set_size(extra, 0);
	later = itest_raw_connect(b);
	itest_raw_greet(later, "later", 3, 1);
	itest_raw_sync(later);
	itest_raw_sync(first);
	itest_broker_free(b);
}

static void
test_max_connections(void)
{
	ItestBroker *b = itest_broker_new("MaxConnections: 2\n");
	g_autoptr(ItestRaw) a = NULL;
	g_autoptr(ItestRaw) c = NULL;
	g_autoptr(ItestRaw) x = NULL;
	g_autoptr(ItestRaw) y = NULL;
	g_autofree gchar *text = NULL;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	a = itest_raw_connect(b);
	itest_raw_greet(a, "a", 3, 1);
	itest_raw_sync(a);
	c = itest_raw_connect(b);
	itest_raw_greet(c, "c", 3, 1);
	itest_raw_sync(c);

	/* the third is told why and closed */
	x = itest_raw_connect(b);
	text = itest_raw_expect_reject(x);
	g_assert_nonnull(strstr(text, "MaxConnections"));
	itest_raw_wait_closed(x, ITEST_TIMEOUT_MS);
	itest_broker_wait_log(b, "refusing new connections: MaxConnections (2)", 1,
	                      ITEST_TIMEOUT_MS);
	itest_raw_sync(a);

	/* room again after one leaves */
	g_clear_pointer(&a, itest_raw_free);
	itest_broker_wait_log(b, "closed by the client", 1, ITEST_TIMEOUT_MS);
	y = itest_raw_connect(b);
	itest_raw_greet(y, "y", 3, 1);
	itest_raw_sync(y);
	itest_broker_free(b);
}

static void
test_greeting_timeout(void)
{
	ItestBroker *b = itest_broker_new("GreetingTimeout: 1s\n");
	g_autoptr(ItestRaw) silent = NULL;
	g_autoptr(ItestRaw) greeted = NULL;
	g_autoptr(ItestPacket) pong = NULL;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	silent = itest_raw_connect(b);
	greeted = itest_raw_connect(b);
	itest_raw_greet(greeted, "greeted", 3, 1);
	itest_raw_sync(greeted);
	/* a Ping is not a Greeting */
	itest_raw_send_hex(silent, "00");
	pong = itest_raw_expect(silent, MSB_PACKET_PONG);
	itest_raw_wait_closed(silent, ITEST_TIMEOUT_MS);
	itest_broker_wait_log(b, "no Greeting within GreetingTimeout", 1, ITEST_TIMEOUT_MS);
	itest_raw_sync(greeted);
	itest_broker_free(b);
}

static void
test_packet_deadline(void)
{
	ItestBroker *b = itest_broker_new("PacketReceiveTimeout: 1s\n");
	g_autoptr(ItestRaw) slow = NULL;
	g_autoptr(ItestRaw) other = NULL;
	g_autoptr(GBytes) packet = publish_packet(1000);
	const guint8 *bytes = g_bytes_get_data(packet, NULL);
	guint sent = 0;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	slow = itest_raw_connect(b);
	itest_raw_greet(slow, "slow", 2, 1);
	itest_raw_create_topic(slow, "orders");
	itest_raw_sync(slow);
	other = itest_raw_connect(b);
	itest_raw_greet(other, "other", 3, 1);

	/* one byte every 200 ms keeps ConnectionTimeout happy, but the packet never ends */
	while (!slow->eof && sent < 60) {
		if (!send_or_closed(slow, bytes + sent, 1))
			break;
		sent++;
		itest_run_for(200);
	}
	itest_raw_wait_closed(slow, ITEST_TIMEOUT_MS);
	g_assert_cmpuint(sent, <, 60);
	itest_broker_wait_log(b, "not received whole within PacketReceiveTimeout", 1,
	                      ITEST_TIMEOUT_MS);
	itest_raw_sync(other);
	itest_broker_free(b);
}

static void
test_incomplete_ceiling(void)
{
	ItestBroker *b = itest_broker_new("MaxDeliverySize: 983040\n"
	                                  "MaxPacketSize: 1 MiB\n"
	                                  "MaxIncompletePacketsSize: 2 MiB\n");
	g_autoptr(GBytes) packet = publish_packet(750000);
	const guint8 *bytes = g_bytes_get_data(packet, NULL);
	gsize len = g_bytes_get_size(packet);
	/* all but the last 1000 bytes: 749 kB held per connection, three cross 2 MiB */
	gsize part = len - 1000;
	ItestRaw *conns[3];
	guint n_closed = 0;

	b->capture_log = TRUE;
	itest_broker_start(b, 0);
	for (guint i = 0; i < G_N_ELEMENTS(conns); i++) {
		conns[i] = itest_raw_connect(b);
		itest_raw_greet(conns[i], "holder", 2, 1);
		itest_raw_create_topic(conns[i], "orders");
		itest_raw_sync(conns[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(conns); i++)
		(void)send_or_closed(conns[i], bytes, part);
	/* the connection whose read crossed the ceiling goes, named in the log */
	itest_broker_wait_log(b, "above MaxIncompletePacketsSize", 1, ITEST_TIMEOUT_MS);
	ITEST_WAIT_FOR(conns[0]->eof || conns[1]->eof || conns[2]->eof);
	/* the others finish their packets and are answered */
	for (guint i = 0; i < G_N_ELEMENTS(conns); i++) {
		if (conns[i]->eof) {
			n_closed++;
			continue;
		}
		g_assert_true(send_or_closed(conns[i], bytes + part, len - part));
		itest_raw_expect_publish_response(conns[i], 1);
		itest_raw_sync(conns[i]);
	}
	g_assert_cmpuint(n_closed, ==, 1);
	g_assert_cmpuint(itest_broker_log_count(b, "above MaxIncompletePacketsSize"), ==, 1);
	for (guint i = 0; i < G_N_ELEMENTS(conns); i++)
		itest_raw_free(conns[i]);
	itest_broker_free(b);
}

static void
test_second_broker_unix(void)
{
	ItestBroker *first = itest_broker_new("ListenUnixSocket: @DIR@/broker.sock\n");
	g_autofree gchar *path = itest_broker_path(first, "broker.sock");
	g_autofree gchar *settings = g_strdup_printf("ListenUnixSocket: %s\n", path);
	ItestBroker *second = itest_broker_new(settings);
	g_autoptr(ItestRaw) raw = NULL;

	itest_broker_start(first, 0);
	second->capture_log = TRUE;
	itest_broker_spawn(second, 0);
	g_assert_true(itest_broker_wait_exit(second, ITEST_TIMEOUT_MS));
	g_assert_true(WIFEXITED(second->wait_status));
	g_assert_cmpint(WEXITSTATUS(second->wait_status), !=, 0);
	g_assert_cmpuint(itest_broker_log_count(second, "is served by another process"), ==, 1);
	g_assert_cmpuint(itest_broker_log_count(second, path), >=, 1);

	/* the first one is still there on its socket */
	raw = itest_raw_connect_unix(path);
	itest_raw_greet(raw, "still-here", 3, 1);
	itest_raw_sync(raw);
	itest_broker_free(second);
	itest_broker_free(first);
}

static void
test_tcp_port_in_use(void)
{
	ItestBroker *first = itest_broker_new(NULL);
	ItestBroker *second = itest_broker_new(NULL);
	g_autofree gchar *needle = NULL;
	g_autoptr(ItestRaw) raw = NULL;

	itest_broker_start(first, 0);
	second->capture_log = TRUE;
	itest_broker_spawn(second, first->port);
	g_assert_true(itest_broker_wait_exit(second, ITEST_TIMEOUT_MS));
	g_assert_true(WIFEXITED(second->wait_status));
	g_assert_cmpint(WEXITSTATUS(second->wait_status), !=, 0);
	needle = g_strdup_printf("port %u is in use", first->port);
	g_assert_cmpuint(itest_broker_log_count(second, needle), ==, 1);
	g_assert_cmpuint(itest_broker_log_count(second, "TcpPort or --tcp-port"), ==, 1);

	raw = itest_raw_connect(first);
	itest_raw_greet(raw, "still-here", 3, 1);
	itest_raw_sync(raw);
	itest_broker_free(second);
	itest_broker_free(first);
}

/* The ports are taken at start, not after the restore: a broker whose persistence service is not
 * there (it would wait for it for ever) still fails at once on a port in use. */
static void
test_port_in_use_before_restore(void)
{
	ItestBroker *first = itest_broker_new(NULL);
	g_autofree gchar *settings =
	        g_strdup_printf("GrpcUrl: http://127.0.0.1:%u\n", ptest_free_port());
	ItestBroker *second = itest_broker_new(settings);
	g_autofree gchar *needle = NULL;

	itest_broker_start(first, 0);
	second->capture_log = TRUE;
	itest_broker_spawn(second, first->port);
	g_assert_true(itest_broker_wait_exit(second, ITEST_TIMEOUT_MS));
	g_assert_true(WIFEXITED(second->wait_status));
	g_assert_cmpint(WEXITSTATUS(second->wait_status), !=, 0);
	needle = g_strdup_printf("port %u is in use", first->port);
	g_assert_cmpuint(itest_broker_log_count(second, needle), ==, 1);
	itest_broker_free(second);
	itest_broker_free(first);
}

int
main(int argc, char **argv)
{
	int ret;

	dtest_init(&argc, &argv);
	/* STORM sockets here, and the broker's own */
	(void)msb_os_limits_raise_nofile();
	g_test_add_func("/limits/backlog", test_backlog);
	g_test_add_func("/limits/persistence-backlog", test_persistence_backlog);
	g_test_add_func("/limits/fd-limit", test_fd_limit);
	g_test_add_func("/limits/max-connections", test_max_connections);
	g_test_add_func("/limits/greeting-timeout", test_greeting_timeout);
	g_test_add_func("/limits/packet-deadline", test_packet_deadline);
	g_test_add_func("/limits/incomplete-ceiling", test_incomplete_ceiling);
	g_test_add_func("/limits/second-broker-unix", test_second_broker_unix);
	g_test_add_func("/limits/tcp-port-in-use", test_tcp_port_in_use);
	g_test_add_func("/limits/port-in-use-before-restore", test_port_in_use_before_restore);
	ret = g_test_run();
	ptest_shutdown();
	return ret;
}
