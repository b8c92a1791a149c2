/*
 * The D-Bus object tree (msb-dbus-objects.c) on a private bus (GTestDBus starts its own
 * dbus-daemon and stops it), with an in-process broker driven by the broker fixture: objects
 * appear and go as topics and queues do, seen by an ObjectManager client on a second connection
 * and by `gdbus introspect --recurse`; names that need escaping; the manager's signals, each after
 * its object; properties that follow the stats, changed ones only, and never undone by a stale
 * collection.
 */
#include <gio/gio.h>

#include "broker-fixture.h"
#include "msb-broker-admin.h"
#include "msb-broker-stats.h"
#include "msb-dbus-objects.h"

#define ROOT MSB_DBUS_MANAGER_PATH

typedef struct {
	GTestDBus *bus;
	Fixture *fx;
	GDBusConnection *server_conn;
	GDBusConnection *client_conn;
	GDBusObjectManagerServer *server;
	MsbDbusBroker1 *manager;
	MsbDbusObjects *objects;
	GDBusObjectManager *client;
	GPtrArray *signals;        /* gchar*: "Member (args)" in arrival order */
	GHashTable *props_changed; /* object path → number of PropertiesChanged */
	guint signal_sub;
	guint props_sub;
} Env;

static gboolean timed_out;

static gboolean
timeout_cb(gpointer user_data)
{
	timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

/* Run the main loop until @cond holds (10 s at most: then the assertion fails). */
#define WAIT_FOR(cond)                                                   \
	G_STMT_START                                                     \
	{                                                                \
		guint _id = g_timeout_add_seconds(10, timeout_cb, NULL); \
		timed_out = FALSE;                                       \
		while (!(cond) && !timed_out)                            \
			g_main_context_iteration(NULL, TRUE);            \
		if (!timed_out)                                          \
			g_source_remove(_id);                            \
		g_assert_true(cond);                                     \
	}                                                                \
	G_STMT_END

static void
signal_cb(GDBusConnection *conn, const gchar *sender, const gchar *path, const gchar *iface,
          const gchar *member, GVariant *params, gpointer user_data)
{
	Env *env = user_data;
	g_autofree gchar *args = g_variant_print(params, FALSE);

	/* the object a signal names is there (or gone) when the signal arrives */
	if (g_strcmp0(member, "TopicCreated") == 0 || g_strcmp0(member, "QueueCreated") == 0) {
		const gchar *object_path = NULL;
		g_autoptr(GDBusObject) object = NULL;

		if (g_strcmp0(member, "TopicCreated") == 0)
			g_variant_get(params, "(&s&o)", NULL, &object_path);
		else
			g_variant_get(params, "(&s&s&o)", NULL, NULL, &object_path);
		object = g_dbus_object_manager_get_object(env->client, object_path);
		g_assert_nonnull(object);
	}
	g_ptr_array_add(env->signals, g_strdup_printf("%s %s", member, args));
}

static void
props_cb(GDBusConnection *conn, const gchar *sender, const gchar *path, const gchar *iface,
         const gchar *member, GVariant *params, gpointer user_data)
{
	Env *env = user_data;
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(env->props_changed, path));

	g_hash_table_insert(env->props_changed, g_strdup(path), GUINT_TO_POINTER(n + 1));
}

static void
client_ready_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Env *env = user_data;
	g_autoptr(GError) error = NULL;

	env->client = msb_dbus_object_manager_client_new_finish(result, &error);
	g_assert_no_error(error);
}

static GDBusConnection *
env_connect(Env *env)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *conn = g_dbus_connection_new_for_address_sync(
	        g_test_dbus_get_bus_address(env->bus),
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);

	g_assert_no_error(error);
	return conn;
}

/* The server side as MsbDbus sets it up (the manager object at ROOT), and a client. @before runs
 * on the broker before the objects are made. */
static Env *
env_new(void (*before)(Fixture *fx))
{
	Env *env = g_new0(Env, 1);
	g_autoptr(GError) error = NULL;

	env->bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	g_test_dbus_up(env->bus);
	env->fx = fixture_new();
	if (before != NULL)
		before(env->fx);
	env->server_conn = env_connect(env);
	env->client_conn = env_connect(env);
	env->signals = g_ptr_array_new_with_free_func(g_free);
	env->props_changed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	/* an object manager exports only objects below its path: the manager's own interface is
	 * exported on the connection */
	env->server = g_dbus_object_manager_server_new(ROOT);
	env->manager = msb_dbus_broker1_skeleton_new();
	g_assert_true(g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(env->manager),
	                                               env->server_conn, ROOT, &error));
	env->objects = msb_dbus_objects_new(env->fx->broker, env->server, env->manager);
	g_dbus_object_manager_server_set_connection(env->server, env->server_conn);

	env->signal_sub = g_dbus_connection_signal_subscribe(
	        env->client_conn, g_dbus_connection_get_unique_name(env->server_conn),
	        "org.myservicebus.Broker1", NULL, ROOT, NULL, G_DBUS_SIGNAL_FLAGS_NONE, signal_cb,
	        env, NULL);
	env->props_sub = g_dbus_connection_signal_subscribe(
	        env->client_conn, g_dbus_connection_get_unique_name(env->server_conn),
	        "org.freedesktop.DBus.Properties", "PropertiesChanged", NULL, NULL,
	        G_DBUS_SIGNAL_FLAGS_NONE, props_cb, env, NULL);
	/* not _sync: the server answers from this thread's main loop */
	msb_dbus_object_manager_client_new(env->client_conn,
	                                   G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
	                                   g_dbus_connection_get_unique_name(env->server_conn),
	                                   ROOT, NULL, client_ready_cb, env);
	WAIT_FOR(env->client != NULL);
	return env;
}

static void
env_free(Env *env)
{
	g_dbus_connection_signal_unsubscribe(env->client_conn, env->signal_sub);
	g_dbus_connection_signal_unsubscribe(env->client_conn, env->props_sub);
	g_object_unref(env->client);
	msb_dbus_objects_free(env->objects);
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(env->manager));
	g_object_unref(env->manager);
	g_object_unref(env->server);
	g_dbus_connection_close_sync(env->client_conn, NULL, NULL);
	g_dbus_connection_close_sync(env->server_conn, NULL, NULL);
	g_object_unref(env->client_conn);
	g_object_unref(env->server_conn);
	fixture_free(env->fx);
	g_ptr_array_unref(env->signals);
	g_hash_table_unref(env->props_changed);
	g_test_dbus_down(env->bus);
	g_object_unref(env->bus);
	g_free(env);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Env, env_free)

static gboolean
has_object(Env *env, const gchar *path)
{
	g_autoptr(GDBusObject) object = g_dbus_object_manager_get_object(env->client, path);
	return object != NULL;
}

static MsbDbusBroker1Topic *
topic_proxy(Env *env, const gchar *path)
{
	g_autoptr(GDBusObject) object = g_dbus_object_manager_get_object(env->client, path);

	g_assert_nonnull(object);
	/* the object manager client keeps the proxy alive */
	return msb_dbus_object_peek_broker1_topic(MSB_DBUS_OBJECT(object));
}

static MsbDbusBroker1Queue *
queue_proxy(Env *env, const gchar *path)
{
	g_autoptr(GDBusObject) object = g_dbus_object_manager_get_object(env->client, path);

	g_assert_nonnull(object);
	return msb_dbus_object_peek_broker1_queue(MSB_DBUS_OBJECT(object));
}

/* The signals since the last call, "; "-separated, and forget them. */
static gchar *
take_signals(Env *env)
{
	g_autoptr(GString) str = g_string_new(NULL);

	for (guint i = 0; i < env->signals->len; i++) {
		if (i > 0)
			g_string_append(str, "; ");
		g_string_append(str, g_ptr_array_index(env->signals, i));
	}
	g_ptr_array_set_size(env->signals, 0);
	return g_strdup(str->str);
}

#define WAIT_SIGNALS(env, n, expect)                  \
	G_STMT_START                                  \
	{                                             \
		g_autofree gchar *_got = NULL;        \
		WAIT_FOR((env)->signals->len >= (n)); \
		_got = take_signals(env);             \
		g_assert_cmpstr(_got, ==, (expect));  \
	}                                             \
	G_STMT_END

static void
update(Env *env)
{
	g_autoptr(MsbBrokerStats) stats = msb_broker_collect_stats(env->fx->broker);
	msb_dbus_objects_update(env->objects, stats);
}

/* ---- paths ---- */

static void
test_paths(void)
{
	struct {
		const gchar *topic;
		const gchar *queue;
		const gchar *path;
	} cases[] = {
	        {"orders", NULL, ROOT "/topic/orders"},
	        {"a.b-c", NULL, ROOT "/topic/a_2eb_2dc"},
	        {"orders", "a.b-c", ROOT "/topic/orders/queue/a_2eb_2dc"},
	        {"orders", "Q_1", ROOT "/topic/orders/queue/Q_5f1"},
	        {"orders", "é✓", ROOT "/topic/orders/queue/_c3_a9_e2_9c_93"},
	        {"orders", "", ROOT "/topic/orders/queue/_"},
	        {"orders", "_", ROOT "/topic/orders/queue/_5f"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *path =
		        cases[i].queue == NULL
		                ? msb_dbus_objects_topic_path(cases[i].topic)
		                : msb_dbus_objects_queue_path(cases[i].topic, cases[i].queue);
		g_assert_cmpstr(path, ==, cases[i].path);
		g_assert_true(g_variant_is_object_path(path));
	}
}

/* ---- objects and signals ---- */

static void
before_existing(Fixture *fx)
{
	Client *c = client_new(fx, 3, 0);

	make_topic(fx, "existing");
	c_subscribe(c, "existing", "q", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	client_close(c);
}

/* What exists when the objects are made is exported, without signals. */
static void
test_existing(void)
{
	g_autoptr(Env) env = env_new(before_existing);
	MsbDbusBroker1Queue *queue;

	WAIT_FOR(has_object(env, ROOT "/topic/existing/queue/q"));
	g_assert_true(has_object(env, ROOT "/topic/existing"));
	g_assert_cmpstr(msb_dbus_broker1_topic_get_name(topic_proxy(env, ROOT "/topic/existing")),
	                ==, "existing");
	queue = queue_proxy(env, ROOT "/topic/existing/queue/q");
	g_assert_cmpstr(msb_dbus_broker1_queue_get_topic(queue), ==, "existing");
	g_assert_cmpstr(msb_dbus_broker1_queue_get_name(queue), ==, "q");
	g_assert_cmpstr(msb_dbus_broker1_queue_get_queue_type(queue), ==, "DeleteOnDisconnect");
	g_assert_cmpuint(msb_dbus_objects_count(env->objects), ==, 2);

	/* the first signal is the next change's: nothing was told of the existing ones */
	make_topic(env->fx, "next");
	WAIT_SIGNALS(env, 1, "TopicCreated ('next', '" ROOT "/topic/next')");
}

static void
test_lifecycle(void)
{
	g_autoptr(Env) env = env_new(NULL);
	Client *c = client_new_raw(env->fx);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *expect = NULL;
	gint64 later = env->fx->wall + 3600 * SEC;
	MsbDbusBroker1Topic *topic;

	/* sessions: at the Greeting */
	g_assert_true(c_greet_full(c, "app;1.0", 3, &error));
	WAIT_SIGNALS(env, 1, "SessionConnected (0, 'app', '127.0.0.1:40000')");

	/* a topic (TopicCreated checks that its object is there when it arrives) */
	make_topic(env->fx, "orders");
	WAIT_SIGNALS(env, 1, "TopicCreated ('orders', '" ROOT "/topic/orders')");
	topic = topic_proxy(env, ROOT "/topic/orders");
	g_assert_cmpstr(msb_dbus_broker1_topic_get_name(topic), ==, "orders");
	g_assert_false(msb_dbus_broker1_topic_get_deleted(topic));

	/* queues */
	c_subscribe(c, "orders", "a.b-c", MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT);
	c_subscribe(c, "orders", "keep", MSB_QUEUE_TYPE_PERMANENT);
	WAIT_SIGNALS(env, 2,
	             "QueueCreated ('orders', 'a.b-c', '" ROOT "/topic/orders/queue/a_2eb_2dc'); "
	             "QueueCreated ('orders', 'keep', '" ROOT "/topic/orders/queue/keep')");
	g_assert_cmpstr(msb_dbus_broker1_queue_get_queue_type(
	                        queue_proxy(env, ROOT "/topic/orders/queue/keep")),
	                ==, "Permanent");
	g_assert_cmpuint(msb_dbus_objects_count(env->objects), ==, 3);

	/* the session goes; its delete-on-disconnect queue is collected later */
	client_close(c);
	WAIT_SIGNALS(env, 1, "SessionDisconnected (0, 'app')");
	env->fx->mono += 21 * SEC;
	msb_broker_tick(env->fx->broker);
	WAIT_SIGNALS(env, 1, "QueueDeleted ('orders', 'a.b-c')");
	WAIT_FOR(!has_object(env, ROOT "/topic/orders/queue/a_2eb_2dc"));

	/* soft delete: told with the moment, and the object says so at once (no update) */
	g_assert_true(msb_broker_delete_topic(env->fx->broker, "orders", later, NULL));
	expect = g_strdup_printf("TopicDeleted ('orders', %" G_GINT64_FORMAT ")", later);
	WAIT_SIGNALS(env, 1, expect);
	WAIT_FOR(msb_dbus_broker1_topic_get_deleted(topic));
	g_assert_cmpint(msb_dbus_broker1_topic_get_hard_delete_moment(topic), ==, later);
	g_assert_true(msb_broker_undelete_topic(env->fx->broker, "orders", NULL));
	WAIT_FOR(!msb_dbus_broker1_topic_get_deleted(topic));
	g_assert_cmpint(msb_dbus_broker1_topic_get_hard_delete_moment(topic), ==, 0);

	/* hard delete: its queues and then the topic go */
	g_assert_true(msb_broker_delete_topic(env->fx->broker, "orders", 0, NULL));
	WAIT_SIGNALS(env, 1, "TopicDeleted ('orders', 1)");
	msb_broker_tick(env->fx->broker);
	WAIT_SIGNALS(env, 1, "QueueDeleted ('orders', 'keep')");
	WAIT_FOR(!has_object(env, ROOT "/topic/orders"));
	g_assert_false(has_object(env, ROOT "/topic/orders/queue/keep"));
	g_assert_cmpuint(msb_dbus_objects_count(env->objects), ==, 0);

	/* an admin queue delete */
	make_topic(env->fx, "again");
	c = client_new(env->fx, 3, 0);
	c_subscribe(c, "again", "q", MSB_QUEUE_TYPE_PERMANENT);
	WAIT_SIGNALS(env, 3,
	             "TopicCreated ('again', '" ROOT "/topic/again'); "
	             "SessionConnected (1, 'test-app:1.0', '127.0.0.1:40000'); "
	             "QueueCreated ('again', 'q', '" ROOT "/topic/again/queue/q')");
	g_assert_true(msb_broker_delete_queue(env->fx->broker, "again", "q", NULL));
	WAIT_SIGNALS(env, 1, "QueueDeleted ('again', 'q')");
	WAIT_FOR(!has_object(env, ROOT "/topic/again/queue/q"));
	g_assert_true(has_object(env, ROOT "/topic/again"));
}

static void
introspect_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	gchar **out = user_data;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), result, out, NULL,
	                                                   &error));
	g_assert_no_error(error);
}

/* Restored names are not checked against today's rules: whatever a snapshot holds gets a valid
 * path, seen with `gdbus introspect --recurse` (served while it runs). */
static void
test_escaping(void)
{
	g_autoptr(Env) env = env_new(NULL);
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	MsbTopic *topic;

	msb_broker_set_restoring(env->fx->broker, TRUE);
	topic = msb_broker_restore_topic(env->fx->broker, "Legacy.Topic", 0, -1, TRUE, NULL);
	g_assert_nonnull(topic);
	msb_broker_restore_queue(env->fx->broker, topic, 0, "a.b-c", MSB_QUEUE_TYPE_PERMANENT, NULL,
	                         0);
	msb_broker_restore_queue(env->fx->broker, topic, 0, "очередь✓", MSB_QUEUE_TYPE_PERMANENT,
	                         NULL, 0);
	msb_broker_set_restoring(env->fx->broker, FALSE);
	WAIT_SIGNALS(env, 3,
	             "TopicCreated ('Legacy.Topic', '" ROOT "/topic/Legacy_2eTopic'); "
	             "QueueCreated ('Legacy.Topic', 'a.b-c', '" ROOT
	             "/topic/Legacy_2eTopic/queue/a_2eb_2dc'); "
	             "QueueCreated ('Legacy.Topic', 'очередь✓', '" ROOT
	             "/topic/Legacy_2eTopic/queue/"
	             "_d0_be_d1_87_d0_b5_d1_80_d0_b5_d0_b4_d1_8c_e2_9c_93')");
	g_assert_cmpstr(msb_dbus_broker1_queue_get_name(queue_proxy(
	                        env, ROOT "/topic/Legacy_2eTopic/queue/"
	                                  "_d0_be_d1_87_d0_b5_d1_80_d0_b5_d0_b4_d1_8c_e2_9c_93")),
	                ==, "очередь✓");

	proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "gdbus", "introspect",
	                        "--address", g_test_dbus_get_bus_address(env->bus), "--dest",
	                        g_dbus_connection_get_unique_name(env->server_conn),
	                        "--object-path", ROOT, "--recurse", NULL);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8_async(proc, NULL, NULL, introspect_done_cb, &out);
	WAIT_FOR(out != NULL);
	g_assert_true(g_subprocess_get_if_exited(proc));
	g_assert_cmpint(g_subprocess_get_exit_status(proc), ==, 0);
	g_assert_nonnull(strstr(out, "node " ROOT "/topic/Legacy_2eTopic {"));
	g_assert_nonnull(strstr(out, "node " ROOT "/topic/Legacy_2eTopic/queue/a_2eb_2dc {"));
	g_assert_nonnull(strstr(out, "interface org.myservicebus.Broker1.Queue {"));
	g_assert_nonnull(strstr(out, "readonly s Name = 'a.b-c';"));
}

/* ---- properties ---- */

static void
test_properties(void)
{
	g_autoptr(Env) env = env_new(NULL);
	Client *sub;
	Client *pub;
	MsbDbusBroker1Topic *topic;
	MsbDbusBroker1Queue *queue;
	g_autoptr(GVariant) ranges = NULL;
	g_autoptr(MsbBrokerStats) stale = NULL;
	guint changes;

	make_topic(env->fx, "orders");
	sub = client_new(env->fx, 3, 0);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	client_close(sub);
	pub = client_new(env->fx, 3, 0);
	c_publish(pub, "orders", (const gchar *const[]){"a", "b", "c", NULL});
	expect_response(pub, 1);
	WAIT_SIGNALS(env, 5,
	             "TopicCreated ('orders', '" ROOT "/topic/orders'); "
	             "SessionConnected (0, 'test-app:1.0', '127.0.0.1:40000'); "
	             "QueueCreated ('orders', 'q', '" ROOT "/topic/orders/queue/q'); "
	             "SessionDisconnected (0, 'test-app:1.0'); "
	             "SessionConnected (1, 'test-app:1.0', '127.0.0.1:40000')");
	topic = topic_proxy(env, ROOT "/topic/orders");
	queue = queue_proxy(env, ROOT "/topic/orders/queue/q");
	/* not set before the first update */
	g_assert_cmpint(msb_dbus_broker1_topic_get_message_id(topic), ==, 0);

	/* the rate is of the last whole second */
	env->fx->mono += SEC;
	update(env);
	WAIT_FOR(msb_dbus_broker1_topic_get_message_id(topic) == 3);
	WAIT_FOR(msb_dbus_broker1_queue_get_size(queue) == 3);
	g_assert_true(msb_dbus_broker1_topic_get_persist(topic));
	g_assert_cmpuint(msb_dbus_broker1_topic_get_queue_count(topic), ==, 1);
	g_assert_cmpint(msb_dbus_broker1_topic_get_cached_messages(topic), ==, 3);
	g_assert_cmpuint(msb_dbus_broker1_topic_get_messages_per_second(topic), ==, 3);
	g_assert_cmpint(msb_dbus_broker1_queue_get_on_delivery(queue), ==, 0);
	g_assert_cmpuint(msb_dbus_broker1_queue_get_subscriber_count(queue), ==, 0);
	ranges = msb_dbus_broker1_queue_dup_ranges(queue);
	{
		g_autofree gchar *text = g_variant_print(ranges, FALSE);
		g_assert_cmpstr(text, ==, "[(0, 2)]");
	}

	/* one PropertiesChanged per object per update, and none when nothing changed */
	WAIT_FOR(g_hash_table_size(env->props_changed) >= 2);
	g_assert_cmpuint(
	        GPOINTER_TO_UINT(g_hash_table_lookup(env->props_changed, ROOT "/topic/orders")), ==,
	        1);
	g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(env->props_changed,
	                                                      ROOT "/topic/orders/queue/q")),
	                 ==, 1);
	update(env);
	/* a change elsewhere shows that the bus has carried everything the update sent */
	make_topic(env->fx, "marker");
	WAIT_SIGNALS(env, 1, "TopicCreated ('marker', '" ROOT "/topic/marker')");
	changes = GPOINTER_TO_UINT(g_hash_table_lookup(env->props_changed, ROOT "/topic/orders"));
	g_assert_cmpuint(changes, ==, 1);

	/* a subscriber takes the messages: the queue follows */
	sub = client_new(env->fx, 3, 0);
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	update(env);
	WAIT_FOR(msb_dbus_broker1_queue_get_on_delivery(queue) == 3);
	g_assert_cmpint(msb_dbus_broker1_queue_get_size(queue), ==, 0);
	g_assert_cmpuint(msb_dbus_broker1_queue_get_subscriber_count(queue), ==, 1);

	/* a collection made before a delete does not show the topic live again */
	stale = msb_broker_collect_stats(env->fx->broker);
	g_assert_true(msb_broker_delete_topic(env->fx->broker, "orders", 0, NULL));
	WAIT_FOR(msb_dbus_broker1_topic_get_deleted(topic));
	msb_dbus_objects_update(env->objects, stale);
	make_topic(env->fx, "marker2");
	WAIT_SIGNALS(env, 3,
	             "SessionConnected (2, 'test-app:1.0', '127.0.0.1:40000'); "
	             "TopicDeleted ('orders', 1); "
	             "TopicCreated ('marker2', '" ROOT "/topic/marker2')");
	g_assert_true(msb_dbus_broker1_topic_get_deleted(topic));
	g_assert_cmpint(msb_dbus_broker1_topic_get_hard_delete_moment(topic), ==, 1);
	/* a newer one does */
	g_assert_true(msb_broker_undelete_topic(env->fx->broker, "orders", NULL));
	WAIT_FOR(!msb_dbus_broker1_topic_get_deleted(topic));
	update(env);
	g_assert_false(msb_dbus_broker1_topic_get_deleted(topic));
}

static void
test_many_topics(void)
{
	g_autoptr(Env) env = env_new(NULL);

	for (guint i = 0; i < 1000; i++) {
		g_autofree gchar *name = g_strdup_printf("topic-%04u", i);
		make_topic(env->fx, name);
	}
	update(env);
	g_assert_cmpuint(msb_dbus_objects_count(env->objects), ==, 1000);
	WAIT_FOR(env->signals->len == 1000);
	WAIT_FOR(has_object(env, ROOT "/topic/topic_2d0999"));
	{
		GList *objects = g_dbus_object_manager_get_objects(env->client);
		g_assert_cmpuint(g_list_length(objects), ==, 1000);
		g_list_free_full(objects, g_object_unref);
	}

	/* freeing the tree unexports everything */
	g_clear_pointer(&env->objects, msb_dbus_objects_free);
	WAIT_FOR(!has_object(env, ROOT "/topic/topic_2d0000"));
	WAIT_FOR(!has_object(env, ROOT "/topic/topic_2d0999"));
	env->objects = msb_dbus_objects_new(env->fx->broker, env->server, env->manager);
	WAIT_FOR(has_object(env, ROOT "/topic/topic_2d0999"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dbus-objects/paths", test_paths);
	g_test_add_func("/dbus-objects/existing", test_existing);
	g_test_add_func("/dbus-objects/lifecycle", test_lifecycle);
	g_test_add_func("/dbus-objects/escaping", test_escaping);
	g_test_add_func("/dbus-objects/properties", test_properties);
	g_test_add_func("/dbus-objects/many-topics", test_many_topics);
	return g_test_run();
}
