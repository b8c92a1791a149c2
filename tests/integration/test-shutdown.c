/*
 * Graceful shutdown of the real broker on SIGTERM and on SIGINT: it stops accepting (a new
 * connect is refused), refuses publishes with Reject "ShuttingDown" (raw, and as
 * MSB_CLIENT_ERROR_REJECTED through libmsb-client) while connections stay open, keeps delivering
 * and taking confirmations while batches are in flight, closes every connection once none is in
 * flight (SIGTERM case) or after about 1 s (SIGINT case, a batch never confirmed), and exits with
 * status 0.
 */
#include <signal.h>
#include <sys/wait.h>

#include "itest.h"

/* one 10-byte message per batch */
#define SHUTDOWN_SETTINGS "MaxDeliverySize: 10\n"

/* Publish to a topic without queues until the broker answers ShuttingDown. */
static void
wait_for_shutting_down(ItestRaw *pub)
{
	const gchar *contents[] = {"probe"};
	gint64 deadline = g_get_monotonic_time() + ITEST_TIMEOUT_MS * 1000;

	for (gint64 rid = 1000;; rid++) {
		g_autoptr(ItestPacket) p = NULL;

		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		itest_raw_publish(pub, "probes", rid, contents, 1, FALSE);
		p = itest_raw_next(pub);
		if (p->id == MSB_PACKET_REJECT) {
			g_assert_cmpstr(p->text, ==, "ShuttingDown");
			return;
		}
		g_assert_cmpint(p->id, ==, MSB_PACKET_PUBLISH_RESPONSE);
		g_assert_cmpint(p->request_id, ==, rid);
	}
}

static void
assert_connect_refused(ItestBroker *b)
{
	g_autoptr(GInetAddress) inet = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(inet, b->port);
	g_autoptr(GError) error = NULL;
	g_autoptr(ItestRaw) r = itest_raw_connect_full(addr, 0, TRUE, &error);

	g_assert_null(r);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

typedef struct {
	ItestRaw *pub;
	ItestRaw *sub;
	ItestRaw *idle;
	ItestPacket *held;
} Clients;

static void
clients_setup(ItestBroker *b, Clients *c)
{
	c->pub = itest_raw_connect(b);
	itest_raw_greet(c->pub, "publisher", 3, 1);
	itest_raw_create_topic(c->pub, "jobs");
	itest_raw_create_topic(c->pub, "probes");
	itest_raw_sync(c->pub);
	c->sub = itest_raw_connect(b);
	itest_raw_greet(c->sub, "subscriber", 3, 1);
	itest_raw_subscribe(c->sub, "jobs", "q", 0);
	itest_raw_sync(c->sub);
	c->idle = itest_raw_connect(b);
	itest_raw_greet(c->idle, "idle", 3, 1);
	itest_raw_sync(c->idle);

	/* two batches' worth: one goes out, one waits */
	itest_raw_publish_sized(c->pub, "jobs", 1, 2, 10);
	itest_raw_expect_publish_response(c->pub, 1);
	c->held = itest_raw_expect(c->sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpuint(c->held->messages->len, ==, 1);
	g_assert_cmpint(itest_packet_message(c->held, 0)->id, ==, 0);
}

static void
clients_clear(Clients *c)
{
	itest_raw_free(c->pub);
	itest_raw_free(c->sub);
	itest_raw_free(c->idle);
	itest_packet_free(c->held);
}

static void
assert_clean_exit(ItestBroker *b)
{
	g_assert_true(itest_broker_wait_exit(b, ITEST_TIMEOUT_MS));
	g_assert_true(WIFEXITED(b->wait_status));
	g_assert_cmpint(WEXITSTATUS(b->wait_status), ==, 0);
}

static void
test_sigterm_drains(ItestFixture *f, gconstpointer data)
{
	Clients c;
	g_autoptr(ItestPacket) second = NULL;

	clients_setup(f->broker, &c);
	g_assert_cmpint(kill(f->broker->pid, SIGTERM), ==, 0);
	wait_for_shutting_down(c.pub);
	assert_connect_refused(f->broker);

	/* still connected while a batch is in flight; confirmations are taken and the next batch
	 * is delivered */
	itest_raw_sync(c.sub);
	itest_raw_sync(c.idle);
	itest_raw_confirm(c.sub, TRUE, "jobs", "q", c.held->confirmation_id);
	second = itest_raw_expect(c.sub, MSB_PACKET_NEW_MESSAGES);
	g_assert_cmpint(itest_packet_message(second, 0)->id, ==, 1);
	/* confirming the last batch in flight lets the broker finish: every connection closes */
	itest_raw_confirm(c.sub, TRUE, "jobs", "q", second->confirmation_id);
	itest_raw_wait_closed(c.sub, ITEST_TIMEOUT_MS);
	itest_raw_wait_closed(c.pub, ITEST_TIMEOUT_MS);
	itest_raw_wait_closed(c.idle, ITEST_TIMEOUT_MS);
	g_assert_cmpuint(itest_raw_n_queued(c.sub), ==, 0);
	assert_clean_exit(f->broker);
	clients_clear(&c);
}

static void
rejected_publish_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GError **error = user_data;

	g_assert_false(msb_client_publish_finish(MSB_CLIENT(source), res, error));
	g_assert_nonnull(*error);
}

static void
disconnected_cb(MsbClient *client, const GError *error, gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
}

static void
test_sigint_times_out(ItestFixture *f, gconstpointer data)
{
	Clients c;
	g_autoptr(MsbClient) client = itest_client_new(f->broker);
	g_autoptr(GError) error = NULL;
	gboolean disconnected = FALSE;
	const MsbMessage msg = {(const guint8 *)"late", 4, NULL, 0};
	gint64 signalled;

	clients_setup(f->broker, &c);
	itest_client_connect(client);
	itest_client_sync(client);
	g_signal_connect(client, "disconnected", G_CALLBACK(disconnected_cb), &disconnected);

	signalled = g_get_monotonic_time();
	g_assert_cmpint(kill(f->broker->pid, SIGINT), ==, 0);
	wait_for_shutting_down(c.pub);
	assert_connect_refused(f->broker);

	/* the client library reports the refusal as a Reject with the broker's text */
	msb_client_publish_async(client, "jobs", &msg, 1, FALSE, NULL, rejected_publish_cb, &error);
	ITEST_WAIT_FOR(error != NULL);
	g_assert_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED);
	g_assert_cmpstr(error->message, ==, "ShuttingDown");

	/* the batch is never confirmed: the broker gives it about a second, then closes */
	itest_raw_sync(c.sub);
	itest_raw_wait_closed(c.sub, ITEST_TIMEOUT_MS);
	itest_raw_wait_closed(c.pub, ITEST_TIMEOUT_MS);
	itest_raw_wait_closed(c.idle, ITEST_TIMEOUT_MS);
	g_assert_cmpint(c.sub->eof_us - signalled, >=, 1 * G_USEC_PER_SEC);
	ITEST_WAIT_FOR(disconnected);
	assert_clean_exit(f->broker);
	clients_clear(&c);
}

static void
test_idle_exit(ItestFixture *f, gconstpointer data)
{
	g_autoptr(ItestRaw) r = itest_raw_connect(f->broker);
	gint status;

	/* nothing in flight: the broker closes its connections and exits at once */
	itest_raw_greet(r, "idle", 3, 1);
	itest_raw_sync(r);
	status = itest_broker_stop(f->broker, SIGTERM);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	itest_raw_wait_closed(r, ITEST_TIMEOUT_MS);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/shutdown/sigterm-drains", SHUTDOWN_SETTINGS, test_sigterm_drains);
	ITEST_ADD("/shutdown/sigint-times-out", SHUTDOWN_SETTINGS, test_sigint_times_out);
	ITEST_ADD("/shutdown/idle", NULL, test_idle_exit);
	return g_test_run();
}
