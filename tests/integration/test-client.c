/*
 * libmsb-client end to end against the real broker: many publishes in flight, each completed by
 * its own answer (with rejected ones interleaved); a Reject as MSB_CLIENT_ERROR_REJECTED with the
 * broker's text, and Rejects that are not about a publish leaving publishes alone; pending
 * publishes failing with MSB_CLIENT_ERROR_DISCONNECTED when the broker is killed; the delivery
 * callback confirming all, none, some and intermediary (with the attempt numbers that follow);
 * protocol 2 through the library; automatic reconnect after a broker restart on the same port,
 * which re-creates the topic, re-subscribes and receives new messages.
 */
#include <signal.h>

#include "itest.h"

/* ---- many publishes in flight ---- */

typedef struct {
	guint done;
	guint ok;
	GArray *failed; /* guint indexes */
	GError *first_error;
} Tally;

typedef struct {
	Tally *tally;
	guint index;
} PublishCall;

static void
tally_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PublishCall *call = user_data;
	g_autoptr(GError) error = NULL;

	if (msb_client_publish_finish(MSB_CLIENT(source), res, &error)) {
		call->tally->ok++;
	} else {
		g_array_append_val(call->tally->failed, call->index);
		if (call->tally->first_error == NULL)
			call->tally->first_error = g_steal_pointer(&error);
	}
	call->tally->done++;
	g_free(call);
}

static void
test_many_in_flight(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) pub = itest_client_new(f->broker);
	g_autoptr(MsbClient) sub = itest_client_new(f->broker);
	g_autoptr(GPtrArray) got = itest_received_new();
	g_autoptr(GError) error = NULL;
	Tally tally = {0, 0, g_array_new(FALSE, FALSE, sizeof(guint)), NULL};
	const guint n = 2000;
	guint n_good = 0;

	itest_client_connect(pub);
	msb_client_create_topic(pub, "inflight", &error);
	g_assert_no_error(error);
	itest_client_sync(pub);
	msb_client_subscribe(sub, "inflight", "q", MSB_CLIENT_QUEUE_PERMANENT, itest_confirm_all_cb,
	                     got, NULL, &error);
	g_assert_no_error(error);
	itest_client_connect(sub);
	itest_client_sync(sub);

	/* all at once, every seventh to a topic that does not exist */
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *text = g_strdup_printf("p%u", i);
		MsbMessage m = {(const guint8 *)text, strlen(text), NULL, 0};
		PublishCall *call = g_new0(PublishCall, 1);

		call->tally = &tally;
		call->index = i;
		msb_client_publish_async(pub, i % 7 == 3 ? "no-such-topic" : "inflight", &m, 1,
		                         FALSE, NULL, tally_cb, call);
		if (i % 7 != 3)
			n_good++;
	}
	g_assert_cmpuint(msb_client_get_pending_publishes(pub), ==, n);
	ITEST_WAIT_FOR(tally.done == n);
	g_assert_cmpuint(msb_client_get_pending_publishes(pub), ==, 0);
	g_assert_cmpuint(tally.ok, ==, n_good);
	g_assert_cmpuint(tally.failed->len, ==, n - n_good);
	for (guint i = 0; i < tally.failed->len; i++)
		g_assert_cmpuint(g_array_index(tally.failed, guint, i) % 7, ==, 3);
	g_assert_error(tally.first_error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED);
	g_assert_cmpstr(tally.first_error->message, ==,
	                "TopicNotFound { topic_id: \"no-such-topic\" }");

	/* the good ones are in the topic in publish order */
	ITEST_WAIT_FOR(got->len == n_good);
	for (guint i = 0, k = 0; i < n; i++) {
		g_autofree gchar *text = NULL;
		const ItestReceived *m;

		if (i % 7 == 3)
			continue;
		text = g_strdup_printf("p%u", i);
		m = g_ptr_array_index(got, k);
		g_assert_cmpint(m->id, ==, k);
		g_assert_cmpmem(g_bytes_get_data(m->content, NULL), g_bytes_get_size(m->content),
		                text, strlen(text));
		k++;
	}
	g_array_unref(tally.failed);
	g_clear_error(&tally.first_error);
	msb_client_close(pub);
	msb_client_close(sub);
}

/* ---- Reject ---- */

static void
rejected_cb(MsbClient *client, const gchar *text, gpointer user_data)
{
	g_ptr_array_add(user_data, g_strdup(text));
}

static void
test_reject(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) client = itest_client_new(f->broker);
	g_autoptr(GPtrArray) rejects = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) got = itest_received_new();
	g_autoptr(GError) error = NULL;
	const MsbMessage m = {(const guint8 *)"x", 1, NULL, 0};
	Tally tally = {0, 0, g_array_new(FALSE, FALSE, sizeof(guint)), NULL};

	g_signal_connect(client, "rejected", G_CALLBACK(rejected_cb), rejects);
	itest_client_connect(client);
	g_assert_false(itest_client_publish(client, "missing-topic", &m, 1, &error));
	g_assert_error(error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_REJECTED);
	g_assert_cmpstr(error->message, ==, "TopicNotFound { topic_id: \"missing-topic\" }");
	g_assert_cmpuint(rejects->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(rejects, 0), ==, error->message);
	g_clear_error(&error);
	g_assert_true(msb_client_is_connected(client));

	/* a Reject that answers a Subscribe does not fail the publish after it */
	msb_client_create_topic(client, "present", &error);
	g_assert_no_error(error);
	msb_client_subscribe(client, "absent", "q", MSB_CLIENT_QUEUE_PERMANENT,
	                     itest_confirm_all_cb, got, NULL, &error);
	g_assert_no_error(error);
	msb_client_close(client);
	itest_client_connect(client);
	for (guint i = 0; i < 3; i++) {
		PublishCall *call = g_new0(PublishCall, 1);
		call->tally = &tally;
		call->index = i;
		msb_client_publish_async(client, "present", &m, 1, FALSE, NULL, tally_cb, call);
	}
	ITEST_WAIT_FOR(tally.done == 3);
	g_assert_cmpuint(tally.ok, ==, 3);
	g_assert_cmpuint(rejects->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(rejects, 1), ==,
	                "Subscribe to absent/q failed: TopicNotFound { topic_id: \"absent\" }");
	g_assert_true(msb_client_is_connected(client));
	g_array_unref(tally.failed);
	msb_client_close(client);
}

/* ---- disconnect ---- */

static void
count_cb(MsbClient *client, gpointer user_data)
{
	(*(guint *)user_data)++;
}

static void
disconnected_cb(MsbClient *client, const GError *error, gpointer user_data)
{
	(*(guint *)user_data)++;
}

static void
test_disconnect_fails_pending(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) client = itest_client_new(f->broker);
	g_autoptr(GError) error = NULL;
	Tally tally = {0, 0, g_array_new(FALSE, FALSE, sizeof(guint)), NULL};
	const MsbMessage m = {(const guint8 *)"x", 1, NULL, 0};
	guint disconnects = 0;

	g_signal_connect(client, "disconnected", G_CALLBACK(disconnected_cb), &disconnects);
	itest_client_connect(client);
	msb_client_create_topic(client, "doomed", &error);
	g_assert_no_error(error);
	itest_client_sync(client);

	/* a broker that stops answering and then dies: what is pending fails as disconnected */
	g_assert_cmpint(kill(f->broker->pid, SIGSTOP), ==, 0);
	for (guint i = 0; i < 5; i++) {
		PublishCall *call = g_new0(PublishCall, 1);
		call->tally = &tally;
		call->index = i;
		msb_client_publish_async(client, "doomed", &m, 1, FALSE, NULL, tally_cb, call);
	}
	itest_run_for(50); /* let the client write them */
	g_assert_cmpuint(tally.done, ==, 0);
	itest_broker_kill(f->broker);
	ITEST_WAIT_FOR(tally.done == 5);
	g_assert_cmpuint(tally.ok, ==, 0);
	g_assert_error(tally.first_error, MSB_CLIENT_ERROR, MSB_CLIENT_ERROR_DISCONNECTED);
	g_assert_cmpuint(disconnects, ==, 1);
	g_assert_false(msb_client_is_connected(client));
	g_clear_error(&tally.first_error);
	g_array_unref(tally.failed);
}

/* ---- confirmation modes ---- */

typedef struct {
	GPtrArray *batches; /* GPtrArray of ItestReceived per batch */
	MsbDelivery *held;
} Script;

static void
scripted_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	Script *s = user_data;
	GPtrArray *batch = itest_received_new();
	guint n = s->batches->len;

	itest_received_append(batch, delivery);
	g_ptr_array_add(s->batches, batch);
	switch (n) {
	case 0: /* none */
		msb_delivery_fail_all(delivery);
		break;
	case 1: { /* some: 0 and 2 */
		const gint64 ids[] = {2, 0, 2};
		msb_delivery_confirm_some(delivery, ids, G_N_ELEMENTS(ids));
		break;
	}
	case 2: { /* intermediary for 1, and keep it */
		const gint64 ids[] = {1};
		msb_delivery_confirm_intermediary(delivery, ids, 1);
		s->held = msb_delivery_ref(delivery);
		break;
	}
	case 3: /* released unconfirmed: the library fails it */
		break;
	default:
		msb_delivery_confirm_all(delivery);
		break;
	}
}

static void
assert_batch(Script *s, guint index, const gint64 *ids, const gint32 *attempts, guint n)
{
	GPtrArray *batch;

	ITEST_WAIT_FOR(s->batches->len > index);
	batch = g_ptr_array_index(s->batches, index);
	g_assert_cmpuint(batch->len, ==, n);
	for (guint i = 0; i < n; i++) {
		const ItestReceived *m = g_ptr_array_index(batch, i);
		g_assert_cmpint(m->id, ==, ids[i]);
		g_assert_cmpint(m->attempt, ==, attempts[i]);
	}
}

static void
publish_texts(MsbClient *pub, guint n)
{
	g_autoptr(GError) error = NULL;
	MsbMessage msgs[8];

	g_assert_cmpuint(n, <=, G_N_ELEMENTS(msgs));
	for (guint i = 0; i < n; i++)
		msgs[i] = (MsbMessage){(const guint8 *)"m", 1, NULL, 0};
	itest_client_publish(pub, "modes", msgs, n, &error);
	g_assert_no_error(error);
}

static void
test_confirm_modes(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) pub = itest_client_new(f->broker);
	g_autoptr(MsbClient) sub = itest_client_new(f->broker);
	g_autoptr(GError) error = NULL;
	Script s = {g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref), NULL};

	itest_client_connect(pub);
	msb_client_create_topic(pub, "modes", &error);
	g_assert_no_error(error);
	itest_client_sync(pub);
	msb_client_subscribe(sub, "modes", "q", MSB_CLIENT_QUEUE_PERMANENT, scripted_cb, &s, NULL,
	                     &error);
	g_assert_no_error(error);
	itest_client_connect(sub);
	itest_client_sync(sub);

	publish_texts(pub, 5);
	{
		const gint64 ids[] = {0, 1, 2, 3, 4};
		const gint32 attempts[] = {0, 0, 0, 0, 0};
		assert_batch(&s, 0, ids, attempts, 5);
	}
	/* none confirmed: all back */
	{
		const gint64 ids[] = {0, 1, 2, 3, 4};
		const gint32 attempts[] = {1, 1, 1, 1, 1};
		assert_batch(&s, 1, ids, attempts, 5);
	}
	/* 0 and 2 confirmed: the rest back */
	{
		const gint64 ids[] = {1, 3, 4};
		const gint32 attempts[] = {2, 2, 2};
		assert_batch(&s, 2, ids, attempts, 3);
	}
	/* held, with 1 confirmed by IntermediaryConfirm: a new message waits for the batch */
	ITEST_WAIT_FOR(s.held != NULL);
	publish_texts(pub, 1);
	itest_client_sync(sub);
	g_assert_cmpuint(s.batches->len, ==, 3);
	g_assert_false(msb_delivery_is_confirmed(s.held));
	/* ending it with "all OK" confirms 3 and 4; then the new one comes */
	msb_delivery_confirm_all(s.held);
	g_assert_true(msb_delivery_is_confirmed(s.held));
	g_clear_pointer(&s.held, msb_delivery_unref);
	{
		const gint64 ids[] = {5};
		const gint32 attempts[] = {0};
		assert_batch(&s, 3, ids, attempts, 1);
	}
	/* released without a confirmation: failed by the library, so it comes again */
	{
		const gint64 ids[] = {5};
		const gint32 attempts[] = {1};
		assert_batch(&s, 4, ids, attempts, 1);
	}
	/* and nothing else comes back: the next batch is the next message */
	publish_texts(pub, 1);
	{
		const gint64 ids[] = {6};
		const gint32 attempts[] = {0};
		assert_batch(&s, 5, ids, attempts, 1);
	}
	itest_client_sync(sub);
	g_assert_cmpuint(s.batches->len, ==, 6);
	msb_client_close(pub);
	msb_client_close(sub);
	g_ptr_array_unref(s.batches);
}

/* ---- protocol 2 ---- */

static void
fail_first_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	GPtrArray *got = user_data;

	itest_received_append(got, delivery);
	if (got->len == 1)
		msb_delivery_fail_all(delivery);
	else
		msb_delivery_confirm_all(delivery);
}

static void
test_protocol_2(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) pub = itest_client_new(f->broker);
	g_autoptr(MsbClient) sub = itest_client_new(f->broker);
	g_autoptr(GPtrArray) got = itest_received_new();
	g_autoptr(GError) error = NULL;
	const MsbHeader header = {"dropped", "by P2"};
	const MsbMessage m = {(const guint8 *)"p2", 2, &header, 1};

	msb_client_set_protocol_version(pub, 2);
	msb_client_set_protocol_version(sub, 2);
	itest_client_connect(pub);
	msb_client_create_topic(pub, "legacy", &error);
	g_assert_no_error(error);
	itest_client_sync(pub);
	msb_client_subscribe(sub, "legacy", "q", MSB_CLIENT_QUEUE_PERMANENT, fail_first_cb, got,
	                     NULL, &error);
	g_assert_no_error(error);
	itest_client_connect(sub);
	itest_client_sync(sub);
	itest_client_publish(pub, "legacy", &m, 1, &error);
	g_assert_no_error(error);
	/* P = 2 carries no headers; with PacketVersions {7 → 1} it carries the attempt */
	ITEST_WAIT_FOR(got->len == 2);
	for (guint i = 0; i < 2; i++) {
		const ItestReceived *r = g_ptr_array_index(got, i);
		g_assert_cmpint(r->id, ==, 0);
		g_assert_cmpint(r->attempt, ==, i);
		g_assert_cmpuint(r->headers->len, ==, 0);
		g_assert_cmpmem(g_bytes_get_data(r->content, NULL), g_bytes_get_size(r->content),
		                "p2", 2);
	}
	msb_client_close(pub);
	msb_client_close(sub);
}

/* ---- reconnect ---- */

static void
test_reconnect(ItestFixture *f, gconstpointer data)
{
	g_autoptr(MsbClient) sub = itest_client_new(f->broker);
	g_autoptr(MsbClient) pub = NULL;
	g_autoptr(GPtrArray) got = itest_received_new();
	g_autoptr(GError) error = NULL;
	guint16 port = f->broker->port;
	guint connects = 0;
	guint disconnects = 0;

	msb_client_set_auto_reconnect(sub, TRUE);
	g_signal_connect(sub, "connected", G_CALLBACK(count_cb), &connects);
	g_signal_connect(sub, "disconnected", G_CALLBACK(disconnected_cb), &disconnects);
	/* the topic is remembered too: a broker without persistence comes back empty */
	msb_client_create_topic(sub, "events", &error);
	g_assert_no_error(error);
	msb_client_subscribe(sub, "events", "q", MSB_CLIENT_QUEUE_PERMANENT, itest_confirm_all_cb,
	                     got, NULL, &error);
	g_assert_no_error(error);
	itest_client_connect(sub);
	ITEST_WAIT_FOR(connects == 1);
	itest_client_sync(sub);
	pub = itest_client_new(f->broker);
	itest_client_connect(pub);
	itest_client_publish_text(pub, "events", "before");
	ITEST_WAIT_FOR(got->len == 1);
	msb_client_close(pub);
	g_clear_object(&pub);

	itest_broker_kill(f->broker);
	ITEST_WAIT_FOR(disconnects == 1);
	/* a few refused attempts while it is down, then it is back on the same port */
	itest_run_for(300);
	g_assert_false(msb_client_is_connected(sub));
	itest_broker_start(f->broker, port);
	ITEST_WAIT_FOR(connects == 2 && msb_client_is_connected(sub));
	itest_client_sync(sub);

	pub = itest_client_new(f->broker);
	itest_client_connect(pub);
	itest_client_publish_text(pub, "events", "after");
	ITEST_WAIT_FOR(got->len == 2);
	{
		const ItestReceived *m = g_ptr_array_index(got, 1);
		/* a new broker: ids start again */
		g_assert_cmpint(m->id, ==, 0);
		g_assert_cmpmem(g_bytes_get_data(m->content, NULL), g_bytes_get_size(m->content),
		                "after", 5);
	}
	msb_client_close(pub);
	msb_client_close(sub);
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/client/many-in-flight", NULL, test_many_in_flight);
	ITEST_ADD("/client/reject", NULL, test_reject);
	ITEST_ADD("/client/disconnect-fails-pending", NULL, test_disconnect_fails_pending);
	ITEST_ADD("/client/confirm-modes", NULL, test_confirm_modes);
	ITEST_ADD("/client/protocol-2", NULL, test_protocol_2);
	ITEST_ADD("/client/reconnect", NULL, test_reconnect);
	return g_test_run();
}
