/*
 * The administrative operations of msb-broker-admin.h, driven through the broker fixture: soft and
 * hard topic deletion (with and without persistence), restore, persist flag, queue deletion,
 * message id and batch-size limits, kicking sessions, the debug reads and the trace console.
 */
#include <string.h>

#include "broker-fixture.h"
#include "msb-broker-admin.h"
#include "msb-broker-stats.h"
#include "msb-session.h"
#include "msb-test-log.h"
#include "msb-topic.h"

static MsbBrokerConfig
persist_config(void)
{
	MsbBrokerConfig config = default_config();
	config.persistence = TRUE;
	return config;
}

/* ---- soft delete ---- */

static void
test_soft_delete_refuses_new(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);
	Client *pub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(RxPacket) first = NULL;
	g_autoptr(RxPacket) second = NULL;
	MsbTopic *topic;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_publish1(pub, "orders", "one");
	expect_response(pub, 1);
	first = expect_batch(sub, "orders", "q");
	c_publish1(pub, "orders", "two");
	expect_response(pub, 2);

	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", fx->wall + 3600 * SEC, &error));
	g_assert_no_error(error);
	topic = msb_broker_find_topic(fx->broker, "orders");
	g_assert_cmpint(topic->deleted_us, ==, fx->wall + 3600 * SEC);

	/* publish, subscribe and create are refused with TopicIsDeleted */
	c_publish1(pub, "orders", "three");
	expect_reject_exact(pub, "TopicIsDeleted { topic_id: \"orders\" }");
	c_subscribe(pub, "orders", "other", MSB_QUEUE_TYPE_PERMANENT);
	expect_reject(pub, "Subscribe to orders/other failed: TopicIsDeleted");
	c_create_topic(pub, "orders");
	expect_reject(pub, "CreateTopic orders failed: TopicIsDeleted");
	g_assert_null(msb_broker_create_topic(fx->broker, "orders", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_DELETED);
	g_assert_cmpint(topic->next_id, ==, 2);

	/* the existing subscriber goes on: its confirmation works and it gets what was published */
	c_ok(sub, first);
	second = expect_batch(sub, "orders", "q");
	assert_ids(second, "1");
	c_ok(sub, second);
	expect_none(sub);

	/* the status shows the moment */
	{
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		g_assert_cmpint(msb_broker_stats_topic(stats, 0)->deleted_us, ==,
		                fx->wall + 3600 * SEC);
	}
}

static void
test_delete_unknown(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GError) error = NULL;

	g_assert_false(msb_broker_delete_topic(fx->broker, "nosuch", 0, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
	g_assert_cmpstr(error->message, ==, "TopicNotFound { topic_id: \"nosuch\" }");
	g_clear_error(&error);
	g_assert_false(msb_broker_delete_topic(fx->broker, "", 0, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT);
}

/* In memory: a past moment means the next tick; a future one waits for it. */
static void
test_hard_delete_memory(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(RxPacket) batch = NULL;

	make_topic(fx, "now-topic");
	make_topic(fx, "later-topic");
	c_subscribe(sub, "now-topic", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(sub, "later-topic", "q", MSB_QUEUE_TYPE_PERMANENT);
	g_assert_cmpuint(sub->session->subscribers->len, ==, 2);

	g_assert_true(msb_broker_delete_topic(fx->broker, "now-topic", fx->wall - SEC, NULL));
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "now-topic")->deleted_us, ==, 1);
	g_assert_true(
	        msb_broker_delete_topic(fx->broker, "later-topic", fx->wall + 10 * SEC, NULL));

	msb_broker_tick(fx->broker);
	g_assert_null(msb_broker_find_topic(fx->broker, "now-topic"));
	g_assert_nonnull(msb_broker_find_topic(fx->broker, "later-topic"));
	/* in memory nothing is asked of an adapter */
	g_assert_cmpuint(fx->deletes->len, ==, 0);
	/* the subscriber's session stays, without that subscription */
	g_assert_cmpuint(sub->session->subscribers->len, ==, 1);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);

	fx->wall += 9 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_nonnull(msb_broker_find_topic(fx->broker, "later-topic"));
	fx->wall += 2 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_null(msb_broker_find_topic(fx->broker, "later-topic"));
	g_assert_cmpuint(sub->session->subscribers->len, ==, 0);

	/* the name is free again: a new topic starts from id 0 */
	make_topic(fx, "now-topic");
	c_subscribe(sub, "now-topic", "q", MSB_QUEUE_TYPE_PERMANENT);
	{
		Client *pub = client_new(fx, 3, 0);
		c_publish1(pub, "now-topic", "x");
		expect_response(pub, 1);
	}
	batch = expect_batch(sub, "now-topic", "q");
	assert_ids(batch, "0");
}

static void
test_restore(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;

	make_topic(fx, "orders");
	g_assert_false(msb_broker_undelete_topic(fx->broker, "orders", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(msb_broker_undelete_topic(fx->broker, "nosuch", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
	g_clear_error(&error);

	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", fx->wall + 60 * SEC, NULL));
	/* deleting again moves the moment */
	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", fx->wall + 30 * SEC, NULL));
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "orders")->deleted_us, ==,
	                fx->wall + 30 * SEC);
	g_assert_true(msb_broker_undelete_topic(fx->broker, "orders", &error));
	g_assert_no_error(error);
	g_assert_cmpint(msb_broker_find_topic(fx->broker, "orders")->deleted_us, ==, 0);
	c_publish1(pub, "orders", "back");
	expect_response(pub, 1);
	/* restored: the moment passing does nothing */
	fx->wall += 60 * SEC;
	msb_broker_tick(fx->broker);
	g_assert_nonnull(msb_broker_find_topic(fx->broker, "orders"));

	/* once wiped it cannot be restored */
	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", 0, NULL));
	msb_broker_tick(fx->broker);
	g_assert_false(msb_broker_undelete_topic(fx->broker, "orders", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
}

/*
 * With persistence: the hard delete waits for the topic's saves, asks the adapter, hands out no
 * save meanwhile, cannot be undone once asked, retries after a failure, and removes the topic
 * (and its unsaved messages from the totals) only after the adapter confirmed.
 */
static void
test_hard_delete_persistence(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	Client *pub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) failure = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_FAILED, "down");
	MsbSaveBatch batch;
	guint snapshots;

	make_topic(fx, "orders");
	fixture_save_snapshot(fx);
	c_publish1(pub, "orders", "a");
	expect_response(pub, 1);
	msb_save_batch_init(&batch);
	g_assert_true(msb_broker_take_save_batch(fx->broker, 1 << 20, 1000, &batch));
	c_publish1(pub, "orders", "b");
	expect_response(pub, 2);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 2);

	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", 0, NULL));
	/* a save is out: no DeleteTopic may overtake it */
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->deletes->len, ==, 0);
	msb_broker_save_done(fx->broker, &batch);
	msb_save_batch_clear(&batch);

	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->deletes->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(fx->deletes, 0), ==, "orders");
	/* asked once, not again while the call is out */
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->deletes->len, ==, 1);
	/* no save is handed out for it now: it would fail or revive it */
	msb_save_batch_init(&batch);
	g_assert_false(msb_broker_take_save_batch(fx->broker, 1 << 20, 1000, &batch));
	msb_save_batch_clear(&batch);
	g_assert_false(msb_broker_undelete_topic(fx->broker, "orders", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_BUSY);

	/* a failure keeps the topic; the next tick asks again */
	msb_test_log_expect("msb-broker", G_LOG_LEVEL_WARNING, "*could not delete it: down*");
	msb_broker_topic_delete_done(fx->broker, "orders", failure);
	msb_test_log_assert_expected();
	g_assert_nonnull(msb_broker_find_topic(fx->broker, "orders"));
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->deletes->len, ==, 2);

	snapshots = fx->snapshot_wanted;
	msb_broker_topic_delete_done(fx->broker, "orders", NULL);
	g_assert_null(msb_broker_find_topic(fx->broker, "orders"));
	/* the unsaved message no longer counts; a snapshot without the topic is wanted */
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);
	g_assert_cmpint(msb_broker_get_pending_bytes(fx->broker), ==, 0);
	g_assert_cmpuint(fx->snapshot_wanted, >, snapshots);
	{
		g_autoptr(GPtrArray) snaps = msb_broker_build_snapshot(fx->broker, FALSE);
		g_assert_cmpuint(snaps->len, ==, 0);
	}
	/* a late answer for a topic that is gone is ignored */
	msb_broker_topic_delete_done(fx->broker, "orders", NULL);
}

/* A persist_immediately publish still waiting for its save when the topic is wiped gets a
 * Reject: its messages will never be durable. */
static void
test_hard_delete_held_answer(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	Client *pub = client_new(fx, 3, 0);
	const guint8 *contents[] = {(const guint8 *)"x"};
	const gsize lens[] = {1};

	make_topic(fx, "orders");
	fixture_save_snapshot(fx);
	c_publish_full(pub, "orders", 7, 1, NULL, contents, lens, TRUE);
	expect_none(pub);
	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", 0, NULL));
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->deletes->len, ==, 1);
	msb_broker_topic_delete_done(fx->broker, "orders", NULL);
	g_assert_null(msb_broker_find_topic(fx->broker, "orders"));
	expect_reject_exact(pub, "TopicIsDeleted { topic_id: \"orders\" }");
}

/* A load out for the topic holds up its removal after DeleteTopic succeeded. */
static void
test_hard_delete_waits_for_load(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	MsbTopic *topic;
	LoadRequest *req;

	topic = make_topic(fx, "orders");
	topic->next_id = 5000; /* as restored: ids not in memory */
	fixture_save_snapshot(fx);
	{
		Client *sub = client_new(fx, 3, 0);
		MsbQueue *queue;
		c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
		queue = find_queue(fx, "orders", "q");
		msb_id_set_add_range(&queue->waiting, 0, 10);
		msb_broker_wake_topic(fx->broker, topic);
	}
	g_assert_cmpuint(fx->loads->len, >, 0);
	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", 0, NULL));
	msb_broker_tick(fx->broker);
	/* loads are out: it waits for them before asking */
	g_assert_cmpuint(fx->deletes->len, ==, 0);
	for (guint i = 0; i < fx->loads->len; i++) {
		req = &g_array_index(fx->loads, LoadRequest, i);
		msb_broker_sub_page_load_failed(fx->broker, req->topic, req->no);
	}
	g_array_set_size(fx->loads, 0);
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->deletes->len, ==, 1);
	/* no new load starts for a topic being deleted */
	msb_broker_wake_topic(fx->broker, topic);
	g_assert_cmpuint(fx->loads->len, ==, 0);
	msb_broker_topic_delete_done(fx->broker, "orders", NULL);
	g_assert_null(msb_broker_find_topic(fx->broker, "orders"));
}

static void
test_persist_flag(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	Client *pub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;
	MsbTopic *topic = make_topic(fx, "orders");
	guint snapshots = fx->snapshot_wanted;

	fixture_save_snapshot(fx);
	g_assert_true(msb_broker_set_topic_persist(fx->broker, "orders", FALSE, &error));
	g_assert_no_error(error);
	g_assert_false(topic->persist);
	g_assert_cmpuint(fx->snapshot_wanted, >, snapshots);
	c_publish1(pub, "orders", "not saved");
	expect_response(pub, 1);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 0);
	g_assert_true(msb_broker_set_topic_persist(fx->broker, "orders", TRUE, &error));
	c_publish1(pub, "orders", "saved");
	expect_response(pub, 2);
	g_assert_cmpint(msb_broker_get_pending_count(fx->broker), ==, 1);
	g_assert_false(msb_broker_set_topic_persist(fx->broker, "nosuch", TRUE, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
}

/* ---- queues ---- */

static void
test_delete_queue(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = NULL;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(sub, "orders", "keep", MSB_QUEUE_TYPE_PERMANENT);
	c_publish1(sub, "orders", "x");
	{
		/* the response and a batch from each queue */
		g_autoptr(GPtrArray) got = c_read(sub);
		g_assert_cmpuint(got->len, ==, 3);
	}

	names = msb_broker_list_queue_names(fx->broker, "orders", &error);
	g_assert_no_error(error);
	g_assert_cmpstrv(names, ((const gchar *const[]){"q", "keep", NULL}));

	g_assert_true(msb_broker_delete_queue(fx->broker, "orders", "q", &error));
	g_assert_no_error(error);
	g_assert_null(find_queue(fx, "orders", "q"));
	g_assert_nonnull(find_queue(fx, "orders", "keep"));
	/* the session stays, without that subscriber; its confirmation fails */
	g_assert_cmpuint(sub->session->subscribers->len, ==, 1);
	g_assert_cmpuint(fx->disconnects->len, ==, 0);
	c_confirm_id(sub, MSB_PACKET_NEW_MESSAGES_CONFIRMATION, "orders", "q", 0);
	expect_reject(sub, "Confirm for orders/q failed: QueueNotFound");

	/* absent queue: success; absent topic: not found */
	g_assert_true(msb_broker_delete_queue(fx->broker, "orders", "q", &error));
	g_assert_no_error(error);
	g_assert_false(msb_broker_delete_queue(fx->broker, "nosuch", "q", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
	g_clear_error(&error);
	g_assert_null(msb_broker_list_queue_names(fx->broker, "nosuch", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
}

static void
test_set_message_id(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);
	Client *pub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;
	RxPacket *batch;
	MsbQueue *queue;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	/* a queue nobody reads keeps the messages in memory, so that they can be replayed */
	{
		Client *holder = client_new(fx, 3, 0);
		c_subscribe(holder, "orders", "hold", MSB_QUEUE_TYPE_PERMANENT);
		client_close(holder);
	}
	expect_response(pub, c_publish_n(pub, "orders", 10, 4));
	batch = expect_batch(sub, "orders", "q");
	assert_ids(batch, "0-9");
	c_ok(sub, batch);
	rx_packet_free(batch);
	queue = find_queue(fx, "orders", "q");
	g_assert_true(msb_id_set_is_empty(&queue->waiting));

	/* back to 3: delivered at once (the reference waits for the next event) */
	g_assert_true(msb_broker_set_queue_message_id(fx->broker, "orders", "q", 3, &error));
	g_assert_no_error(error);
	batch = expect_batch(sub, "orders", "q");
	assert_ids(batch, "3-9");

	/* while a batch is out its ids are not made to wait a second time */
	g_assert_true(msb_broker_set_queue_message_id(fx->broker, "orders", "q", 0, &error));
	g_assert_cmpint(msb_id_set_count(&queue->waiting), ==, 3);
	c_ok(sub, batch);
	rx_packet_free(batch);
	batch = expect_batch(sub, "orders", "q");
	assert_ids(batch, "0-2");

	/* forward, while the subscriber is busy: 10 and 11 are skipped */
	expect_response(pub, c_publish_n(pub, "orders", 5, 4));
	g_assert_true(msb_broker_set_queue_message_id(fx->broker, "orders", "q", 12, &error));
	c_ok(sub, batch);
	rx_packet_free(batch);
	batch = expect_batch(sub, "orders", "q");
	assert_ids(batch, "12-14");
	c_ok(sub, batch);
	rx_packet_free(batch);
	g_assert_true(msb_broker_set_queue_message_id(fx->broker, "orders", "q", 100, &error));
	g_assert_true(msb_id_set_is_empty(&queue->waiting));
	g_assert_cmpint(msb_id_set_cursor(&queue->waiting), ==, 100);
	expect_none(sub);

	g_assert_false(msb_broker_set_queue_message_id(fx->broker, "orders", "q", -1, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(msb_broker_set_queue_message_id(fx->broker, "orders", "nosuch", 0, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_QUEUE_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(msb_broker_set_queue_message_id(fx->broker, "nosuch", "q", 0, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
}

static void
test_max_messages(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);
	Client *pub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;
	RxPacket *batch;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	g_assert_true(msb_broker_set_queue_max_messages(fx->broker, "orders", "q", 3, &error));
	g_assert_no_error(error);
	expect_response(pub, c_publish_n(pub, "orders", 8, 4));
	for (guint i = 0; i < 2; i++) {
		batch = expect_batch(sub, "orders", "q");
		g_assert_cmpuint(batch->messages->len, ==, 3);
		c_ok(sub, batch);
		rx_packet_free(batch);
	}
	batch = expect_batch(sub, "orders", "q");
	assert_ids(batch, "6-7");
	c_ok(sub, batch);
	rx_packet_free(batch);
	/* 0 lifts the limit */
	g_assert_true(msb_broker_set_queue_max_messages(fx->broker, "orders", "q", 0, &error));
	expect_response(pub, c_publish_n(pub, "orders", 8, 4));
	batch = expect_batch(sub, "orders", "q");
	assert_ids(batch, "8-15");
	rx_packet_free(batch);

	g_assert_false(msb_broker_set_queue_max_messages(fx->broker, "orders", "q", -1, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(
	        msb_broker_set_queue_max_messages(fx->broker, "orders", "nosuch", 1, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_QUEUE_NOT_FOUND);
}

/* ---- sessions and namespaces ---- */

static void
test_kick_session(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *a = client_new(fx, 3, 0);
	Client *b = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;

	g_assert_true(msb_broker_kick_session(fx->broker, b->session->id, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fx->disconnects->len, ==, 1);
	g_assert_true(g_ptr_array_index(fx->disconnects, 0) == b->session);
	g_assert_cmpstr(g_ptr_array_index(fx->reasons, 0), ==, "kicked by an administrator");
	/* kicking a session on its way out again does not ask twice */
	g_assert_true(msb_broker_kick_session(fx->broker, b->session->id, &error));
	g_assert_cmpuint(fx->disconnects->len, ==, 1);
	(void)a;

	g_assert_false(msb_broker_kick_session(fx->broker, 12345, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_SESSION_NOT_FOUND);
}

static void
test_create_while_restoring(void)
{
	MsbBrokerConfig config = persist_config();
	g_autoptr(Fixture) fx = fixture_new_with(&config);
	g_autoptr(GError) error = NULL;

	msb_broker_set_restoring(fx->broker, TRUE);
	g_assert_null(msb_broker_create_topic(fx->broker, "orders", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_BUSY);
	g_clear_error(&error);
	/* the restore itself goes on */
	g_assert_nonnull(msb_broker_restore_topic(fx->broker, "orders", 100, -1, TRUE, &error));
	g_assert_no_error(error);
	msb_broker_set_restoring(fx->broker, FALSE);
	g_assert_nonnull(msb_broker_create_topic(fx->broker, "other", &error));
	g_assert_no_error(error);
}

static void
test_namespaces(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;
	MsbNamespaceInfo *info;

	make_topic(fx, "aaa");
	make_topic(fx, "bbb");
	list = msb_broker_list_namespaces(fx->broker);
	g_assert_cmpuint(list->len, ==, 1);
	info = g_ptr_array_index(list, 0);
	g_assert_cmpstr(info->name, ==, "default");
	g_assert_cmpuint(info->topics, ==, 2);
	g_assert_true(msb_broker_check_namespace(fx->broker, NULL, NULL));
	g_assert_true(msb_broker_check_namespace(fx->broker, "default", NULL));
	g_assert_false(msb_broker_check_namespace(fx->broker, "other", &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_NOT_SUPPORTED);
}

/* ---- debug reads ---- */

static void
test_debug_reads(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);
	Client *pub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) queues = NULL;
	g_autoptr(GPtrArray) got = NULL;
	g_autofree gchar *on_delivery = NULL;
	g_autofree gchar *idle = NULL;
	const MsbDebugQueue *dq;
	const MsbDebugSubscriber *ds;
	gint64 min_id = -1;

	make_topic(fx, "orders");
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(sub, "orders", "idle", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	expect_response(pub, c_publish_n(pub, "orders", 5, 4));
	got = c_read(sub);
	g_assert_cmpuint(got->len, ==, 2);
	for (guint i = 0; i < got->len; i++) {
		RxPacket *batch = g_ptr_array_index(got, i);
		if (g_strcmp0(batch->queue, "idle") == 0)
			c_ok(sub, batch);
	}

	/* the GC floor: queue q has 0-4 in flight */
	g_assert_true(msb_broker_get_min_message_id(fx->broker, "orders", &min_id, &error));
	g_assert_no_error(error);
	g_assert_cmpint(min_id, ==, 0);
	g_assert_false(msb_broker_get_min_message_id(fx->broker, "nosuch", &min_id, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
	g_clear_error(&error);

	queues = msb_broker_debug_queues(fx->broker, "orders", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(queues->len, ==, 2);
	dq = g_ptr_array_index(queues, 0);
	g_assert_cmpstr(dq->name, ==, "q");
	g_assert_cmpstr(msb_queue_type_to_string(dq->type), ==, "Permanent");
	g_assert_cmpuint(dq->subscribers->len, ==, 1);
	ds = &g_array_index(dq->subscribers, MsbDebugSubscriber, 0);
	g_assert_cmpint(ds->session_id, ==, sub->session->id);
	g_assert_true(ds->on_delivery);
	g_assert_cmpint(ds->in_flight, ==, 5);
	g_assert_cmpint(ds->subscribed_us, ==, fx->wall);
	g_assert_cmpint(ds->last_delivered_us, ==, fx->wall);
	g_assert_cmpint(ds->delivery_started_us, ==, fx->wall);
	g_assert_cmpuint(ds->last_delivered_amount, ==, 5);
	dq = g_ptr_array_index(queues, 1);
	g_assert_cmpstr(msb_queue_type_to_string(dq->type), ==, "DeleteOnDisconnect");
	g_assert_false(g_array_index(dq->subscribers, MsbDebugSubscriber, 0).on_delivery);

	on_delivery = msb_broker_debug_on_delivery(fx->broker, "orders", "q", ds->id, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(on_delivery, ==, "[0-4]");
	idle = msb_broker_debug_on_delivery(
	        fx->broker, "orders", "idle",
	        g_array_index(dq->subscribers, MsbDebugSubscriber, 0).id, &error);
	g_assert_cmpstr(idle, ==, "None");
	g_assert_null(msb_broker_debug_on_delivery(fx->broker, "orders", "q", 999, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_SUBSCRIBER_NOT_FOUND);
}

/* ---- the trace console ---- */

static void
test_trace(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);
	Client *pub = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) records = NULL;
	const gchar *topic = NULL;
	const gchar *queue = NULL;
	RxPacket *batch;

	make_topic(fx, "orders");
	make_topic(fx, "other");
	g_assert_false(msb_broker_trace_get_target(fx->broker, &topic, &queue));
	g_assert_false(msb_broker_trace_set_target(fx->broker, "", NULL, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	g_assert_true(msb_broker_trace_set_target(fx->broker, "orders", "q", &error));
	g_assert_true(msb_broker_trace_get_target(fx->broker, &topic, &queue));
	g_assert_cmpstr(topic, ==, "orders");
	g_assert_cmpstr(queue, ==, "q");
	{
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		g_assert_cmpstr(stats->debug, ==, "orders / q");
	}
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(pub, "orders", "untraced", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(pub, "other", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_publish_n(pub, "orders", 3, 4);
	c_publish_n(pub, "other", 3, 4);
	g_ptr_array_unref(c_read(pub)); /* responses and the untraced batches */
	batch = expect_batch(sub, "orders", "q");
	c_ok(sub, batch);
	rx_packet_free(batch);

	records = msb_broker_trace_read(fx->broker, 0, FALSE);
	/* subscribe, publish, batch, confirmation of orders/q only */
	g_assert_cmpuint(records->len, ==, 4);
	g_assert_true(strstr(((MsbTraceRecord *)g_ptr_array_index(records, 0))->data,
	                     "subscribed") != NULL);
	g_assert_true(strstr(((MsbTraceRecord *)g_ptr_array_index(records, 1))->data, "ids 0-2") !=
	              NULL);
	g_assert_true(strstr(((MsbTraceRecord *)g_ptr_array_index(records, 2))->data,
	                     "batch of 3 messages") != NULL);
	g_assert_true(strstr(((MsbTraceRecord *)g_ptr_array_index(records, 3))->data,
	                     "NewMessagesConfirmation") != NULL);
	g_assert_cmpint(((MsbTraceRecord *)g_ptr_array_index(records, 0))->wall_us, ==, fx->wall);
	g_clear_pointer(&records, g_ptr_array_unref);

	/* tail and clear */
	records = msb_broker_trace_read(fx->broker, 1, TRUE);
	g_assert_cmpuint(records->len, ==, 1);
	g_clear_pointer(&records, g_ptr_array_unref);
	g_assert_cmpuint(msb_broker_trace_count(fx->broker), ==, 0);

	/* a ring of MSB_TRACE_RECORDS: the oldest go */
	g_assert_true(msb_broker_trace_set_target(fx->broker, "orders", NULL, &error));
	for (guint i = 0; i < MSB_TRACE_RECORDS + 10; i++) {
		c_publish_n(pub, "orders", 1, 1);
		g_ptr_array_unref(c_read(pub));
	}
	g_assert_cmpuint(msb_broker_trace_count(fx->broker), ==, MSB_TRACE_RECORDS);
	{
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		g_assert_cmpstr(stats->debug, ==, "orders / *");
	}

	msb_broker_trace_stop(fx->broker);
	g_assert_false(msb_broker_trace_get_target(fx->broker, NULL, NULL));
	g_assert_cmpuint(msb_broker_trace_count(fx->broker), ==, 0);
	c_publish_n(pub, "orders", 1, 1);
	g_ptr_array_unref(c_read(pub));
	g_assert_cmpuint(msb_broker_trace_count(fx->broker), ==, 0);
	{
		g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(fx->broker);
		g_assert_null(stats->debug);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	msb_test_log_init();

	g_test_add_func("/broker-admin/topic/soft-delete", test_soft_delete_refuses_new);
	g_test_add_func("/broker-admin/topic/delete-unknown", test_delete_unknown);
	g_test_add_func("/broker-admin/topic/hard-delete-memory", test_hard_delete_memory);
	g_test_add_func("/broker-admin/topic/restore", test_restore);
	g_test_add_func("/broker-admin/topic/hard-delete-persistence",
	                test_hard_delete_persistence);
	g_test_add_func("/broker-admin/topic/hard-delete-held-answer",
	                test_hard_delete_held_answer);
	g_test_add_func("/broker-admin/topic/hard-delete-waits-for-load",
	                test_hard_delete_waits_for_load);
	g_test_add_func("/broker-admin/topic/persist", test_persist_flag);
	g_test_add_func("/broker-admin/queue/delete", test_delete_queue);
	g_test_add_func("/broker-admin/queue/set-message-id", test_set_message_id);
	g_test_add_func("/broker-admin/queue/max-messages", test_max_messages);
	g_test_add_func("/broker-admin/session/kick", test_kick_session);
	g_test_add_func("/broker-admin/namespaces", test_namespaces);
	g_test_add_func("/broker-admin/topic/create-while-restoring", test_create_while_restoring);
	g_test_add_func("/broker-admin/debug/reads", test_debug_reads);
	g_test_add_func("/broker-admin/trace", test_trace);

	return g_test_run();
}
