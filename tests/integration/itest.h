/*
 * The integration-test harness: start the real my-service-bus process, talk to it over raw
 * sockets and through libmsb-client, and wait for events with deadlines.
 *
 * Brokers: every ItestBroker has its own temporary directory (settings file, ready file, Unix
 * socket), listens on 127.0.0.1 with ephemeral ports (--tcp-port 0 --http-port 0, read back from
 * --ready-file) and is spawned with PR_SET_PDEATHSIG, so it dies with the test process even when
 * an assertion aborts it before the fixture's teardown runs. The path comes from $MSB_BROKER (set
 * by meson).
 *
 * Raw connections: an ItestRaw is a socket whose input is read on the default main context and
 * decoded with the real codec into ItestPacket records, so a test can send exact bytes and check
 * exact bytes. "Nothing else came" is checked without sleeping: the broker answers a connection's
 * packets in order, so after a Ping the next packet must be the Pong (itest_raw_sync()).
 *
 * Waiting: ITEST_WAIT_FOR() iterates the default main context until a condition holds and fails
 * the test after a deadline; nothing in the tests sleeps for a fixed time to assert a result.
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>
#include <json-glib/json-glib.h>

#include "msb-client.h"
#include "msb-wire.h"

G_BEGIN_DECLS

/* how long any single wait may take before the test fails */
#define ITEST_TIMEOUT_MS 10000

/* g_test_init() plus what every integration test needs (SIGPIPE ignored, $MSB_BROKER set). */
void
itest_init(int *argc, char ***argv);

/* ---- protocol.md §11 vectors ---- */

/* §11.1: Rust client (P = 3) "demo:1.0;1.1.5", and the C# client (P = 2) */
#define ITEST_HEX_GREETING_RUST "02 0E 64 65 6D 6F 3A 31 2E 30 3B 31 2E 31 2E 35 03 00 00 00"
#define ITEST_HEX_GREETING_CSHARP                          \
	"02 1C 4D 79 41 70 70 3B 43 6C 69 65 6E 74 56 65 " \
	"72 73 69 6F 6E 3A 31 2E 33 2E 31 35 2E 30 02 00 " \
	"00 00"
/* §11.2 PacketVersions {7 → 1} */
#define ITEST_HEX_PACKET_VERSIONS "0B 01 07 01 00 00 00"
/* §11.11 CreateTopicIfNotExists "orders" (topic only) */
#define ITEST_HEX_CREATE_ORDERS "09 06 6F 72 64 65 72 73"
/* §11.5 Subscribe orders/billing, Permanent */
#define ITEST_HEX_SUBSCRIBE_ORDERS_BILLING "05 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 00"
/* §11.3 Publish P = 3 to orders, request 1: {trace-id=abc, "hi"}, {no headers, 01 02 03} */
#define ITEST_HEX_PUBLISH_P3                               \
	"03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 " \
	"02 00 00 00 01 08 74 72 61 63 65 2D 69 64 03 61 " \
	"62 63 02 00 00 00 68 69 00 03 00 00 00 01 02 03 " \
	"00"
/* §11.3 the same from a P = 2 client (no headers) */
#define ITEST_HEX_PUBLISH_P2                               \
	"03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 " \
	"02 00 00 00 02 00 00 00 68 69 03 00 00 00 01 02 " \
	"03 00"
/* §11.4 PublishResponse request 1 */
#define ITEST_HEX_PUBLISH_RESPONSE_1 "04 01 00 00 00 00 00 00 00"
/* §11.9 Reject TopicNotFound { topic_id: "orders" } (38 bytes) */
#define ITEST_HEX_REJECT_ORDERS                            \
	"0C 24 54 6F 70 69 63 4E 6F 74 46 6F 75 6E 64 20 " \
	"7B 20 74 6F 70 69 63 5F 69 64 3A 20 22 6F 72 64 " \
	"65 72 73 22 20 7D"
/* §11.10 C# CreateTopicIfNotExists "orders" with MaxMessagesInCache = 0 (i64) */
#define ITEST_HEX_CREATE_ORDERS_CSHARP "09 06 6F 72 64 65 72 73 00 00 00 00 00 00 00 00"

/* ---- waiting ---- */

typedef struct {
	gint64 deadline_us;
	guint tick_id;
} ItestWait;

void
itest_wait_begin(ItestWait *w, guint timeout_ms);
/* One main-context iteration; FALSE once the deadline has passed. */
gboolean
itest_wait_iterate(ItestWait *w);
void
itest_wait_end(ItestWait *w);

/* Iterate the default main context until @expr holds; fail after @ms milliseconds. Conditions
 * that are not main-context events (files, /proc) are re-checked every 10 ms. */
#define ITEST_WAIT_FOR_MS(expr, ms)                                                              \
	G_STMT_START                                                                             \
	{                                                                                        \
		ItestWait _w;                                                                    \
		itest_wait_begin(&_w, (ms));                                                     \
		while (!(expr)) {                                                                \
			if (!itest_wait_iterate(&_w))                                            \
				g_assertion_message(G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, \
				                    "timed out waiting for " #expr);             \
		}                                                                                \
		itest_wait_end(&_w);                                                             \
	}                                                                                        \
	G_STMT_END
#define ITEST_WAIT_FOR(expr) ITEST_WAIT_FOR_MS(expr, ITEST_TIMEOUT_MS)

/* Run the default main context for @ms milliseconds (for pacing a client, never to wait for a
 * result). */
void
itest_run_for(guint ms);

/* Bytes from hex text; blanks and anything else that is not a hex digit are skipped. */
GBytes *
itest_hex(const gchar *text);
void
itest_assert_bytes_hex(GBytes *got, const gchar *expect_hex);

/* ---- the broker process ---- */

typedef struct {
	gchar *dir;           /* per-test temporary directory, removed by itest_broker_free() */
	gchar *settings_path; /* dir/settings.yaml */
	gchar *ready_path;    /* dir/ready */
	GPid pid;             /* 0 when not running */
	guint watch_id;
	guint16 port;      /* the TCP port of the last start */
	guint16 http_port; /* its HTTP port (status, metrics) */
	gboolean exited;
	gint wait_status;       /* of the last exit, as from waitpid() */
	gboolean exit_expected; /* the test stopped it or waited for its exit */
	guint n_starts;
	/* set before starting: run with --verbose and send its log (stdout and stderr) to log_path
	 * instead of the test's, for itest_broker_wait_log() */
	gboolean capture_log;
	gchar *log_path; /* dir/broker.log */
	/* set before starting, if not capture_log: a descriptor above 2 (a pipe's write end) that
	 * gets the broker's stdout and stderr instead of the test's */
	gint log_fd;
	/* set before starting: appended to $ASAN_OPTIONS for the broker (a memory measurement
	 * needs a small quarantine: AddressSanitizer keeps freed memory resident in it) */
	const gchar *asan_options;
	/* set before starting: the broker's open-files limit, soft and hard (0: inherited) */
	guint64 nofile_limit;
	/* set before starting: the D-Bus option ("--session-bus", "--system-bus"; "": none, the
	 * broker's default); NULL: --no-dbus, so that no test broker meets the user's own bus */
	const gchar *dbus_option;
	/* set before starting: "NAME=VALUE" strings (NULL-terminated) added to its environment,
	 * and the name of a variable set to its own pid (as systemd sets $WATCHDOG_PID) */
	const gchar *const *env;
	const gchar *env_pid;
	pid_t parent_pid; /* for the child set-up */
} ItestBroker;

/*
 * A broker whose settings are the harness defaults (GrpcUrl none, ListenAddress 127.0.0.1,
 * generous DeliveryTimeout and ConnectionTimeout so that only the tests about them see them) with
 * @settings ("Key: Value" lines, may be NULL) added; a key in @settings replaces the default. The
 * text @DIR@ in @settings is replaced by the broker's temporary directory. Not started yet.
 */
ItestBroker *
itest_broker_new(const gchar *settings);
/* Write the settings file again as itest_broker_new() does (for a restart or a SIGHUP). */
void
itest_broker_write_settings(ItestBroker *b, const gchar *settings);
/* Start on an ephemeral port (@port 0) or on @port, and wait until it is listening. */
void
itest_broker_start(ItestBroker *b, guint16 port);
/* Spawn without waiting for the ready file (for starts that are expected to fail). */
void
itest_broker_spawn(ItestBroker *b, guint16 port);
/* After itest_broker_spawn(): wait up to @timeout_ms until it is listening (the ready file) and
 * read its ports; fails if it exits first. @port as given to the spawn. */
void
itest_broker_wait_ready(ItestBroker *b, guint16 port, guint timeout_ms);
/* Wait up to @timeout_ms for the process to exit; FALSE if it is still running. */
gboolean
itest_broker_wait_exit(ItestBroker *b, guint timeout_ms);
/* Send @signo and wait for the exit; SIGKILL and fail if it does not exit within 10 s. Returns the
 * wait status. */
gint
itest_broker_stop(ItestBroker *b, gint signo);
/* SIGKILL and reap. */
void
itest_broker_kill(ItestBroker *b);
/* Stop (SIGTERM) if running and assert a clean exit (status 0, so no sanitizer report), remove
 * the directory. */
void
itest_broker_free(ItestBroker *b);
gboolean
itest_broker_is_running(ItestBroker *b);
/* "127.0.0.1:PORT"; free it */
gchar *
itest_broker_address(ItestBroker *b);
/* dir/name; free it */
gchar *
itest_broker_path(ItestBroker *b, const gchar *name);
/* With capture_log: wait until the log has @needle at least @count times; on timeout, print the
 * log and fail. */
void
itest_broker_wait_log(ItestBroker *b, const gchar *needle, guint count, guint timeout_ms);
/* With capture_log: how often @needle is in the log so far. */
guint
itest_broker_log_count(ItestBroker *b, const gchar *needle);
/* GET @path from the broker's HTTP listener and parse the JSON reply. */
JsonNode *
itest_broker_get_json(ItestBroker *b, const gchar *path);
/*
 * Send @method @path (query included) to the broker's HTTP listener with @body (NULL: none) of
 * @content_type, and the headers of @headers ("Name", "value", …, NULL-terminated; may be NULL).
 * Returns the response body as text (never NULL) and its status in *@status.
 */
gchar *
itest_broker_http(ItestBroker *b, const gchar *method, const gchar *path, const gchar *content_type,
                  const gchar *body, const gchar *const *headers, guint *status);
/* VmRSS of the running broker, in KiB. */
gsize
itest_broker_rss_kib(ItestBroker *b);

/* The usual fixture: one broker started with the test data (a settings string) as its settings;
 * teardown stops it with SIGTERM and asserts exit status 0. */
typedef struct {
	ItestBroker *broker;
} ItestFixture;

void
itest_fixture_setup(ItestFixture *f, gconstpointer settings);
/* The same with the default settings, for tests whose data is something else. */
void
itest_fixture_setup_default(ItestFixture *f, gconstpointer data);
void
itest_fixture_teardown(ItestFixture *f, gconstpointer settings);

#define ITEST_ADD(path, settings, func)                                           \
	g_test_add((path), ItestFixture, (settings), itest_fixture_setup, (func), \
	           itest_fixture_teardown)

/* ---- raw connections ---- */

typedef struct {
	gint64 id;
	gint32 attempt;
	guint n_headers;
	GBytes *headers; /* the raw header block (count + pairs); empty for P < 3 */
	GBytes *content;
} ItestMessage;

typedef struct {
	MsbPacketId id;
	GBytes *raw; /* the whole packet as received */
	/* PublishResponse */
	gint64 request_id;
	/* Reject */
	gchar *text;
	/* NewMessages */
	gchar *topic;
	gchar *queue;
	gint64 confirmation_id;
	GArray *messages; /* ItestMessage */
} ItestPacket;

void
itest_packet_free(ItestPacket *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItestPacket, itest_packet_free)

static inline ItestMessage *
itest_packet_message(ItestPacket *p, guint i)
{
	g_assert_nonnull(p->messages);
	g_assert_cmpuint(i, <, p->messages->len);
	return &g_array_index(p->messages, ItestMessage, i);
}

typedef struct {
	GSocketConnection *conn;
	GSocket *socket;
	GSource *in_source; /* NULL while not reading */
	MsbBuf in;
	MsbWireDecoder dec;
	GQueue packets; /* ItestPacket*, oldest first */
	gboolean eof;   /* the broker closed the connection (or reset it) */
	gint64 eof_us;  /* monotonic time the close was seen */
	gint32 protocol_version;
} ItestRaw;

/* Connect to the broker's TCP port; reading starts at once. */
ItestRaw *
itest_raw_connect(ItestBroker *b);
/* Connect to a Unix socket. */
ItestRaw *
itest_raw_connect_unix(const gchar *path);
/*
 * The general form: @address is a GSocketAddress; @rcvbuf > 0 sets SO_RCVBUF (and SO_SNDBUF)
 * before connecting; @read FALSE leaves the input unread (a consumer that never reads). Returns
 * NULL and sets @error if the connection fails.
 */
ItestRaw *
itest_raw_connect_full(GSocketAddress *address, gint rcvbuf, gboolean read, GError **error);
void
itest_raw_free(ItestRaw *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItestRaw, itest_raw_free)

/* Blocking send of all bytes (10 s socket timeout); fails the test on error. */
void
itest_raw_send(ItestRaw *r, const void *data, gsize len);
void
itest_raw_send_buf(ItestRaw *r, MsbBuf *buf);
void
itest_raw_send_hex(ItestRaw *r, const gchar *hex);
/* Try to send without blocking: bytes written, 0 if the socket would block. */
gsize
itest_raw_send_nonblocking(ItestRaw *r, const void *data, gsize len);

/* Greeting (and, for @protocol_version < 3 or when asked, PacketVersions {7 → @v7}); the
 * decoder follows. @v7 < 0 sends no PacketVersions. */
void
itest_raw_greet(ItestRaw *r, const gchar *name, gint32 protocol_version, gint32 v7);
/* After sending a Greeting (and PacketVersions) as literal bytes: encode and decode as the broker
 * now does. @v7 < 0 leaves V7 as it is. */
void
itest_raw_assume(ItestRaw *r, gint32 protocol_version, gint32 v7);
void
itest_raw_ping(ItestRaw *r);
void
itest_raw_create_topic(ItestRaw *r, const gchar *topic);
void
itest_raw_subscribe(ItestRaw *r, const gchar *topic, const gchar *queue, guint8 queue_type);
/* One Publish of @n messages with the given contents (NUL-terminated strings) and, for P ≥ 3, one
 * header "k"="v" per message when @with_header. */
void
itest_raw_publish(ItestRaw *r, const gchar *topic, gint64 request_id, const gchar *const *contents,
                  guint n, gboolean with_header);
/* Publish @n messages of @size bytes each (byte i of message j is (j + i) & 0xff). */
void
itest_raw_publish_sized(ItestRaw *r, const gchar *topic, gint64 request_id, guint n, gsize size);
/* Packet 8 (@all_ok) or 13. */
void
itest_raw_confirm(ItestRaw *r, gboolean all_ok, const gchar *topic, const gchar *queue,
                  gint64 confirmation_id);
/* Packet 14 (@intermediary FALSE) or 15 for the single ids in @ids. */
void
itest_raw_confirm_ids(ItestRaw *r, gboolean intermediary, const gchar *topic, const gchar *queue,
                      gint64 confirmation_id, const gint64 *ids, guint n_ids);

/* Start reading a connection created with @read FALSE. */
void
itest_raw_start_reading(ItestRaw *r);
/* Stop reading (the socket's receive buffer fills up and the broker's sends block). */
void
itest_raw_stop_reading(ItestRaw *r);
/* Wait for the next packet (fails on timeout or if the connection closes first). */
ItestPacket *
itest_raw_next(ItestRaw *r);
/* Wait for the next packet and check its id. */
ItestPacket *
itest_raw_expect(ItestRaw *r, MsbPacketId id);
/* The next packet is PublishResponse(@request_id). */
void
itest_raw_expect_publish_response(ItestRaw *r, gint64 request_id);
/* The next packet is Reject; returns its text (free it). */
gchar *
itest_raw_expect_reject(ItestRaw *r);
/* Send a Ping and check that the next packet is its Pong: nothing else was sent before it, and
 * the connection is still open. */
void
itest_raw_sync(ItestRaw *r);
/* Send a Ping and wait for its Pong, which is removed; other packets (say, a batch that may come
 * before or after it) stay queued. A barrier: the broker has handled what we sent before. */
void
itest_raw_barrier(ItestRaw *r);
/* Nothing but answers to our Pings has been or will be sent for what we sent so far: two
 * Ping/Pong round trips. (One is not enough for deliveries: a batch made due by a packet is
 * written after the Pong of a Ping that the broker read together with it.) */
void
itest_raw_assert_quiet(ItestRaw *r);
/* Wait for the broker to close the connection within @timeout_ms; packets received before the
 * close stay queued. */
void
itest_raw_wait_closed(ItestRaw *r, guint timeout_ms);
/* Packets received and not yet taken. */
guint
itest_raw_n_queued(ItestRaw *r);

/* ---- libmsb-client ---- */

/* A client for @b (TCP) with quick pings (300 ms) and reconnects (100 ms), auto reconnect off;
 * not connected yet. */
MsbClient *
itest_client_new(ItestBroker *b);
/* Connect and wait for it (fails the test on error). */
void
itest_client_connect(MsbClient *client);
/* Publish and wait for the answer; FALSE and @error on failure. */
gboolean
itest_client_publish(MsbClient *client, const gchar *topic, const MsbMessage *messages, guint n,
                     GError **error);
/* Wait until the broker has handled everything @client sent so far (its Subscribes, say): an
 * empty Publish is answered in order after them, with PublishResponse or Reject. */
void
itest_client_sync(MsbClient *client);
/* Publish one message with @text as content, assert success. */
void
itest_client_publish_text(MsbClient *client, const gchar *topic, const gchar *text);

/* A received message, copied out of its delivery. */
typedef struct {
	gint64 id;
	gint32 attempt;
	gint64 confirmation_id;
	GBytes *content;
	GPtrArray *headers; /* "key=value" strings, in order */
} ItestReceived;

void
itest_received_free(ItestReceived *m);
/* Copy every message of @delivery onto @into (a GPtrArray of ItestReceived with free func). */
void
itest_received_append(GPtrArray *into, MsbDelivery *delivery);
GPtrArray *
itest_received_new(void);

/* A delivery callback that records every message into the GPtrArray given as user data and
 * confirms the batch with packet 8. */
void
itest_confirm_all_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data);

/* ---- msbctl ---- */

/* Spawn msbctl (from $MSBCTL) with @args (NULL-terminated, without the program) and the extra
 * environment @env ("NAME=VALUE", NULL-terminated; may be NULL); it dies with the test. */
GSubprocess *
itest_msbctl_spawn(const gchar *const *args, const gchar *const *env, GSubprocessFlags flags);
/* The same run by the command line @prefix (NULL-terminated; e.g. setpriv to run as another
 * user), or by itself when @prefix is NULL. */
GSubprocess *
itest_msbctl_spawn_full(const gchar *const *prefix, const gchar *const *args,
                        const gchar *const *env, GSubprocessFlags flags);
/* Run msbctl with @args, feeding @input; returns the exit status, with its stdout and stderr.
 * Fails the test if it runs for more than ITEST_TIMEOUT_MS. */
gint
itest_run_msbctl(const gchar *const *args, const gchar *input, gchar **out, gchar **err);
/* The same with the extra environment @env (as for itest_msbctl_spawn()). */
gint
itest_run_msbctl_env(const gchar *const *args, const gchar *const *env, const gchar *input,
                     gchar **out, gchar **err);
/* The same run by @prefix (as for itest_msbctl_spawn_full()). */
gint
itest_run_msbctl_full(const gchar *const *prefix, const gchar *const *args, const gchar *const *env,
                      const gchar *input, gchar **out, gchar **err);

/* ---- a private D-Bus ---- */

/* A dbus-daemon of the test's own (session-like, but every uid may connect, so that a caller
 * running as another user can be refused by the broker), with its socket in a temporary folder;
 * it dies with the test. Never the user's session or system bus. */
typedef struct _ItestBus ItestBus;

ItestBus *
itest_bus_new(void);
/* "unix:path=…" */
const gchar *
itest_bus_get_address(ItestBus *bus);
/* A new connection of the test's own to it (not the process-wide singleton). */
GDBusConnection *
itest_bus_connect(ItestBus *bus);
void
itest_bus_free(ItestBus *bus);
/* Kill the daemon (clients see the bus go); itest_bus_restart() starts a new one at the same
 * address. */
void
itest_bus_kill(ItestBus *bus);
void
itest_bus_restart(ItestBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItestBus, itest_bus_free)
/* Start @b with @option ("--session-bus" or "--system-bus") on @bus (the address goes into the
 * variable the option reads, for the broker only) and wait until it listens and owns
 * org.myservicebus.Broker1. */
void
itest_broker_start_on_bus(ItestBroker *b, const gchar *option, ItestBus *bus);

G_END_DECLS
