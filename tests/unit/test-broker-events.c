/*
 * The broker's change events (msb-broker-events.h), driven through the broker fixture: every way a
 * topic, queue or session comes and goes, each told once, at once, with names, and only once the
 * broker's state shows it.
 */
#include "broker-fixture.h"
#include "msb-broker-admin.h"
#include "msb-broker-events.h"

typedef struct {
	Fixture *fx;
	GPtrArray *log; /* gchar*: one line per event */
} Recorder;

static void
recorder_cb(const MsbBrokerEvent *event, gpointer user_data)
{
	Recorder *rec = user_data;
	const gchar *kind = msb_broker_event_kind_to_string(event->kind);
	MsbTopic *topic =
	        event->topic != NULL ? msb_broker_find_topic(rec->fx->broker, event->topic) : NULL;
	gchar *line;

	switch (event->kind) {
	case MSB_BROKER_EVENT_TOPIC_CREATED:
	case MSB_BROKER_EVENT_TOPIC_RESTORED:
		g_assert_nonnull(topic);
		line = g_strdup_printf("%s %s", kind, event->topic);
		break;
	case MSB_BROKER_EVENT_TOPIC_REMOVED:
		/* told once it is gone */
		g_assert_null(topic);
		line = g_strdup_printf("%s %s", kind, event->topic);
		break;
	case MSB_BROKER_EVENT_TOPIC_DELETED:
		g_assert_nonnull(topic);
		line = g_strdup_printf("%s %s at %" G_GINT64_FORMAT, kind, event->topic,
		                       event->hard_delete_moment_us);
		break;
	case MSB_BROKER_EVENT_QUEUE_CREATED:
		g_assert_nonnull(find_queue(rec->fx, event->topic, event->queue));
		line = g_strdup_printf("%s %s/%s type %d", kind, event->topic, event->queue,
		                       event->queue_type);
		break;
	case MSB_BROKER_EVENT_QUEUE_REMOVED:
		g_assert_null(find_queue(rec->fx, event->topic, event->queue));
		line = g_strdup_printf("%s %s/%s type %d", kind, event->topic, event->queue,
		                       event->queue_type);
		break;
	case MSB_BROKER_EVENT_SESSION_CONNECTED:
	case MSB_BROKER_EVENT_SESSION_CLOSED: {
		g_autoptr(GPtrArray) sessions = msb_broker_list_sessions(rec->fx->broker);
		gboolean listed = FALSE;
		for (guint i = 0; i < sessions->len; i++)
			listed |= msb_session_get_id(g_ptr_array_index(sessions, i)) ==
			          event->session_id;
		g_assert_true(listed == (event->kind == MSB_BROKER_EVENT_SESSION_CONNECTED));
		line = g_strdup_printf("%s %" G_GINT64_FORMAT " '%s' from %s kind %d", kind,
		                       event->session_id, event->session_name, event->peer,
		                       event->session_kind);
		break;
	}
	default:
		g_assert_not_reached();
	}
	g_ptr_array_add(rec->log, line);
}

static Recorder *
recorder_new(Fixture *fx)
{
	Recorder *rec = g_new0(Recorder, 1);

	rec->fx = fx;
	rec->log = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpuint(msb_broker_add_listener(fx->broker, recorder_cb, rec), !=, 0);
	return rec;
}

static void
recorder_free(Recorder *rec)
{
	g_ptr_array_unref(rec->log);
	g_free(rec);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Recorder, recorder_free)

/* The events since the last call, "; "-separated, and forget them. */
static gchar *
recorder_take(Recorder *rec)
{
	g_autoptr(GString) str = g_string_new(NULL);

	for (guint i = 0; i < rec->log->len; i++) {
		if (i > 0)
			g_string_append(str, "; ");
		g_string_append(str, g_ptr_array_index(rec->log, i));
	}
	g_ptr_array_set_size(rec->log, 0);
	return g_strdup(str->str);
}

#define assert_events(rec, expect)                           \
	G_STMT_START                                         \
	{                                                    \
		g_autofree gchar *_got = recorder_take(rec); \
		g_assert_cmpstr(_got, ==, (expect));         \
	}                                                    \
	G_STMT_END

static void
test_topics(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(Recorder) rec = recorder_new(fx);
	Client *c = client_new(fx, 3, 0);
	g_autoptr(GError) error = NULL;

	assert_events(rec, "session-connected 0 'test-app:1.0' from 127.0.0.1:40000 kind 0");

	/* by an adapter; creating it again changes nothing and tells nothing */
	make_topic(fx, "orders");
	assert_events(rec, "topic-created orders");
	make_topic(fx, "orders");
	assert_events(rec, "");
	/* a refused name tells nothing */
	g_assert_null(msb_broker_create_topic(fx->broker, "bad name!", &error));
	assert_events(rec, "");

	/* by a client: CreateTopicIfNotExists, and auto-creation on publish */
	c_create_topic(c, "from-client");
	assert_events(rec, "topic-created from-client");
	{
		MsbBrokerConfig config = *msb_broker_get_config(fx->broker);
		config.auto_create_topic_on_publish = TRUE;
		msb_broker_set_config(fx->broker, &config);
	}
	c_publish1(c, "auto", "x");
	expect_response(c, 1);
	assert_events(rec, "topic-created auto");
}

static void
test_queues(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *a;
	Client *b;
	g_autoptr(Recorder) rec = NULL;

	make_topic(fx, "orders");
	a = client_new(fx, 3, 0);
	b = client_new(fx, 3, 0);
	rec = recorder_new(fx);

	/* created by the first subscription only */
	c_subscribe(a, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	assert_events(rec, "queue-created orders/q type 0");
	c_subscribe(b, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	assert_events(rec, "");
	/* a refused subscription creates nothing */
	c_subscribe(a, "nosuch", "q", MSB_QUEUE_TYPE_PERMANENT);
	expect_reject(a, "Subscribe to nosuch/q failed");
	assert_events(rec, "");

	/* deleted by an administrator (again: nothing) */
	g_assert_true(msb_broker_delete_queue(fx->broker, "orders", "q", NULL));
	assert_events(rec, "queue-removed orders/q type 0");
	g_assert_true(msb_broker_delete_queue(fx->broker, "orders", "q", NULL));
	assert_events(rec, "");
}

/* A delete-on-disconnect queue collected once its last subscriber has been gone long enough. */
static void
test_queue_gc(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(Recorder) rec = NULL;
	Client *c;

	make_topic(fx, "orders");
	c = client_new(fx, 3, 0);
	rec = recorder_new(fx);
	c_subscribe(c, "orders", "temp", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	c_subscribe(c, "orders", "keep", MSB_QUEUE_TYPE_PERMANENT);
	assert_events(rec, "queue-created orders/temp type 1; queue-created orders/keep type 0");
	client_close(c);
	assert_events(rec, "session-closed 0 'test-app:1.0' from 127.0.0.1:40000 kind 0");

	fx->mono += 20 * SEC;
	msb_broker_tick(fx->broker);
	assert_events(rec, ""); /* not more than the timeout yet */
	fx->mono += 1;
	msb_broker_tick(fx->broker);
	assert_events(rec, "queue-removed orders/temp type 1");
	msb_broker_tick(fx->broker);
	assert_events(rec, "");
}

/* Soft delete, a moved moment, restore, and the hard delete in memory with its queues. */
static void
test_delete_restore_memory(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(Recorder) rec = NULL;
	Client *c;
	gint64 later;

	make_topic(fx, "orders");
	c = client_new(fx, 3, 0);
	c_subscribe(c, "orders", "q1", MSB_QUEUE_TYPE_PERMANENT);
	c_subscribe(c, "orders", "q2", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	rec = recorder_new(fx);
	later = fx->wall + 3600 * SEC;

	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", later, NULL));
	{
		g_autofree gchar *expect =
		        g_strdup_printf("topic-deleted orders at %" G_GINT64_FORMAT, later);
		assert_events(rec, expect);
	}
	/* deleting again moves the moment: told again */
	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", later + SEC, NULL));
	{
		g_autofree gchar *expect =
		        g_strdup_printf("topic-deleted orders at %" G_GINT64_FORMAT, later + SEC);
		assert_events(rec, expect);
	}
	g_assert_true(msb_broker_undelete_topic(fx->broker, "orders", NULL));
	assert_events(rec, "topic-restored orders");
	/* a refused restore tells nothing */
	g_assert_false(msb_broker_undelete_topic(fx->broker, "orders", NULL));
	assert_events(rec, "");

	/* a moment in the past: removed at the next tick, its queues first */
	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", 0, NULL));
	assert_events(rec, "topic-deleted orders at 1");
	msb_broker_tick(fx->broker);
	assert_events(rec, "queue-removed orders/q1 type 0; queue-removed orders/q2 type 1; "
	                   "topic-removed orders");
	/* the session stays */
	g_assert_nonnull(c->session);
	client_close(c);
	assert_events(rec, "session-closed 0 'test-app:1.0' from 127.0.0.1:40000 kind 0");
}

/* With persistence the topic goes when the service confirmed the delete, not before. */
static void
test_hard_delete_persistence(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	g_autoptr(Recorder) rec = NULL;

	config.persistence = TRUE;
	fx = fixture_new_with(&config);
	rec = recorder_new(fx);
	make_topic(fx, "orders");
	fixture_save_snapshot(fx);
	assert_events(rec, "topic-created orders");

	g_assert_true(msb_broker_delete_topic(fx->broker, "orders", 0, NULL));
	assert_events(rec, "topic-deleted orders at 1");
	msb_broker_tick(fx->broker);
	g_assert_cmpuint(fx->deletes->len, ==, 1);
	assert_events(rec, "");
	msb_broker_topic_delete_done(fx->broker, "orders", NULL);
	assert_events(rec, "topic-removed orders");
}

/* The restore at start tells every topic and queue as created. */
static void
test_restore_at_start(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	g_autoptr(Recorder) rec = NULL;
	MsbIdRange ranges[] = {{5, 9}};
	MsbTopic *topic;

	config.persistence = TRUE;
	fx = fixture_new_with(&config);
	rec = recorder_new(fx);
	msb_broker_set_restoring(fx->broker, TRUE);
	topic = msb_broker_restore_topic(fx->broker, "orders", 10, 9, TRUE, NULL);
	g_assert_nonnull(topic);
	msb_broker_restore_queue(fx->broker, topic, 10, "q", MSB_QUEUE_TYPE_PERMANENT, ranges, 1);
	/* a queue listed twice is one queue */
	msb_broker_restore_queue(fx->broker, topic, 10, "q", MSB_QUEUE_TYPE_PERMANENT, ranges, 1);
	msb_broker_restore_queue(fx->broker, topic, 10, "single",
	                         MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION, NULL, 0);
	/* a topic listed twice is refused and tells nothing */
	g_assert_null(msb_broker_restore_topic(fx->broker, "orders", 10, 9, TRUE, NULL));
	msb_broker_set_restoring(fx->broker, FALSE);
	assert_events(rec, "topic-created orders; queue-created orders/q type 0; "
	                   "queue-created orders/single type 2");
}

static void
test_sessions(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(Recorder) rec = recorder_new(fx);
	Client *raw = client_new_raw(fx);
	Client *c = client_new_raw(fx);
	g_autoptr(GError) error = NULL;

	/* nothing before the Greeting, and nothing when a session that never greeted goes */
	assert_events(rec, "");
	client_close(raw);
	assert_events(rec, "");

	g_assert_true(c_greet_full(c, "app;2.0;env", 3, &error));
	assert_events(rec, "session-connected 1 'app' from 127.0.0.1:40000 kind 0");
	/* a second Greeting is refused and tells nothing */
	g_assert_false(c_greet_full(c, "other", 3, NULL));
	assert_events(rec, "");

	/* kicked: told when the adapter closes it */
	fx->close_in_callback = TRUE;
	g_assert_true(msb_broker_kick_session(fx->broker, 1, NULL));
	assert_events(rec, "session-closed 1 'app' from 127.0.0.1:40000 kind 0");
}

static guint second_id;
static guint first_calls;

static void
remove_other_cb(const MsbBrokerEvent *event, gpointer user_data)
{
	MsbBroker *broker = user_data;

	first_calls++;
	if (second_id != 0) {
		msb_broker_remove_listener(broker, second_id);
		second_id = 0;
	}
}

static void
count_cb(const MsbBrokerEvent *event, gpointer user_data)
{
	guint *n = user_data;
	(*n)++;
}

/* Listeners are called in order; one removed from a callback is not called again. */
static void
test_listeners(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	guint first;
	guint third;
	guint n2 = 0;
	guint n3 = 0;

	first = msb_broker_add_listener(fx->broker, remove_other_cb, fx->broker);
	second_id = msb_broker_add_listener(fx->broker, count_cb, &n2);
	third = msb_broker_add_listener(fx->broker, count_cb, &n3);
	g_assert_cmpuint(first, !=, second_id);

	make_topic(fx, "aaa");
	g_assert_cmpuint(first_calls, ==, 1);
	g_assert_cmpuint(n2, ==, 0); /* removed by the first before its turn */
	g_assert_cmpuint(n3, ==, 1);

	msb_broker_remove_listener(fx->broker, third);
	make_topic(fx, "bbb");
	g_assert_cmpuint(first_calls, ==, 2);
	g_assert_cmpuint(n3, ==, 1);
	msb_broker_remove_listener(fx->broker, first);
	make_topic(fx, "ccc");
	g_assert_cmpuint(first_calls, ==, 2);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/broker-events/topics", test_topics);
	g_test_add_func("/broker-events/queues", test_queues);
	g_test_add_func("/broker-events/queue-gc", test_queue_gc);
	g_test_add_func("/broker-events/delete-restore-memory", test_delete_restore_memory);
	g_test_add_func("/broker-events/hard-delete-persistence", test_hard_delete_persistence);
	g_test_add_func("/broker-events/restore-at-start", test_restore_at_start);
	g_test_add_func("/broker-events/sessions", test_sessions);
	g_test_add_func("/broker-events/listeners", test_listeners);
	return g_test_run();
}
