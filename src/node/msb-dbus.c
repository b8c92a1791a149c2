/*
 * The D-Bus adapter (see msb-dbus.h). Everything runs on the main loop except finding the bus's
 * address and connecting to it, which may block (autolaunch, a dead socket) and run in a worker.
 *
 * Requests that outlive a call (a stats collection, an authorization, a connection attempt) hold
 * an MsbDbusHandle rather than the MsbDbus itself: msb_dbus_free() clears the handle's pointer
 * and the late answer finds nobody to deliver to.
 */
#define G_LOG_DOMAIN "msb-dbus"

#include "msb-dbus.h"

#include "msb-broker-admin.h"
#include "msb-config.h"
#include "msb-dbus-auth.h"
#include "msb-dbus-error.h"
#include "msb-dbus-generated.h"
#include "msb-dbus-objects.h"

/* reconnecting to a bus that went: first after 1 s, then doubling up to this */
#define MSB_DBUS_RECONNECT_MAX_S 30

typedef struct {
	gint ref_count;
	MsbDbus *self; /* NULL once freed */
} MsbDbusHandle;

struct _MsbDbus {
	MsbBroker *broker;      /* not owned */
	MsbStatsReader *reader; /* not owned */
	MsbDbusBus bus;
	MsbHttpInfoFunc info_func;
	gpointer info_data;
	MsbDbusHandle *handle;
	MsbDbusAuth *auth;
	GCancellable *cancellable;
	/* the connection, NULL while there is none */
	GDBusConnection *connection;
	gulong closed_id;
	guint name_id;
	gboolean connecting;
	gboolean bus_missing; /* warned that the bus is not there; quiet until it is back */
	guint reconnect_id;
	guint reconnect_s;
	/* the exported objects, kept across reconnections */
	GDBusObjectManagerServer *server;
	MsbDbusBroker1 *manager;
	MsbDbusObjects *objects; /* the topic and queue objects below the manager */
	guint refresh_id;
	gboolean refresh_pending;
};

static MsbDbusHandle *
msb_dbus_handle_ref(MsbDbusHandle *handle)
{
	g_atomic_int_inc(&handle->ref_count);
	return handle;
}

static void
msb_dbus_handle_unref(MsbDbusHandle *handle)
{
	if (g_atomic_int_dec_and_test(&handle->ref_count))
		g_free(handle);
}

MsbDbusBus
msb_dbus_bus_default(void)
{
	const gchar *invocation_id = g_getenv("INVOCATION_ID");

	return invocation_id != NULL && invocation_id[0] != '\0' ? MSB_DBUS_BUS_SYSTEM
	                                                         : MSB_DBUS_BUS_SESSION;
}

const gchar *
msb_dbus_bus_to_string(MsbDbusBus bus)
{
	switch (bus) {
	case MSB_DBUS_BUS_SYSTEM:
		return "system";
	case MSB_DBUS_BUS_SESSION:
		return "session";
	default:
		return "none";
	}
}

/* ---- errors ---- */

void
msb_dbus_return_error(GDBusMethodInvocation *invocation, const GError *error)
{
	MsbDbusError code = MSB_DBUS_ERROR_FAILED;

	g_return_if_fail(G_IS_DBUS_METHOD_INVOCATION(invocation));
	g_return_if_fail(error != NULL);
	if (error->domain == MSB_DBUS_ERROR) {
		if (error->code >= 0 && error->code <= MSB_DBUS_ERROR_LAST)
			code = error->code;
	} else if (error->domain == MSB_BROKER_ERROR) {
		switch (error->code) {
		case MSB_BROKER_ERROR_TOPIC_NOT_FOUND:
			code = MSB_DBUS_ERROR_TOPIC_NOT_FOUND;
			break;
		case MSB_BROKER_ERROR_QUEUE_NOT_FOUND:
			code = MSB_DBUS_ERROR_QUEUE_NOT_FOUND;
			break;
		case MSB_BROKER_ERROR_SESSION_NOT_FOUND:
			code = MSB_DBUS_ERROR_SESSION_NOT_FOUND;
			break;
		case MSB_BROKER_ERROR_INVALID_NAME:
			code = MSB_DBUS_ERROR_INVALID_NAME;
			break;
		case MSB_BROKER_ERROR_INVALID_ARGUMENT:
			code = MSB_DBUS_ERROR_INVALID_ARGUMENT;
			break;
		case MSB_BROKER_ERROR_TOPIC_DELETED:
			code = MSB_DBUS_ERROR_TOPIC_DELETED;
			break;
		case MSB_BROKER_ERROR_BUSY:
			code = MSB_DBUS_ERROR_BUSY;
			break;
		case MSB_BROKER_ERROR_NOT_SUPPORTED:
			code = MSB_DBUS_ERROR_NOT_SUPPORTED;
			break;
		case MSB_BROKER_ERROR_SHUTTING_DOWN:
			code = MSB_DBUS_ERROR_SHUTTING_DOWN;
			break;
		default:
			code = MSB_DBUS_ERROR_FAILED;
			break;
		}
	} else {
		g_warning("D-Bus %s.%s: %s",
		          g_dbus_method_invocation_get_interface_name(invocation),
		          g_dbus_method_invocation_get_method_name(invocation), error->message);
	}
	g_dbus_method_invocation_return_error_literal(invocation, MSB_DBUS_ERROR, (gint)code,
	                                              error->message);
}

/* ---- the manager's properties ---- */

static const gchar *
msb_dbus_persistence_state(const MsbHttpInfo *info)
{
	if (info->persistence_url == NULL)
		return "memory";
	if (g_strcmp0(info->state, "waiting for persistence") == 0)
		return "restoring";
	return info->persistence_up ? "connected" : "unavailable";
}

/* The generated setters emit PropertiesChanged (coalesced per main-loop turn); set a value only
 * when it changed so that an idle broker sends nothing. */
static void
msb_dbus_set_string(MsbDbusBroker1 *manager, const gchar *name, const gchar *value)
{
	g_autofree gchar *old = NULL;

	g_object_get(manager, name, &old, NULL);
	if (g_strcmp0(old, value) != 0)
		g_object_set(manager, name, value, NULL);
}

static void
msb_dbus_refresh_persistence(MsbDbus *self)
{
	MsbHttpInfo info = {0};

	if (self->info_func != NULL)
		self->info_func(&info, self->info_data);
	msb_dbus_set_string(self->manager, "persistence-state", msb_dbus_persistence_state(&info));
	msb_dbus_set_string(self->manager, "persistence-version",
	                    info.persistence_version != NULL ? info.persistence_version : "");
}

static void
msb_dbus_refresh_manager(MsbDbus *self, const MsbBrokerStats *stats)
{
	MsbDbusBroker1 *manager = self->manager;
	guint64 messages_per_sec = 0;

	msb_dbus_refresh_persistence(self);
	for (guint i = 0; i < stats->topics->len; i++) {
		const MsbTopicStats *topic = msb_broker_stats_topic(stats, i);
		if (topic->messages_per_sec > 0)
			messages_per_sec += (guint64)topic->messages_per_sec;
	}
	if (msb_dbus_broker1_get_topic_count(manager) != stats->topics->len)
		msb_dbus_broker1_set_topic_count(manager, stats->topics->len);
	if (msb_dbus_broker1_get_session_count(manager) != stats->sessions->len)
		msb_dbus_broker1_set_session_count(manager, stats->sessions->len);
	if (msb_dbus_broker1_get_messages_per_second(manager) != messages_per_sec)
		msb_dbus_broker1_set_messages_per_second(manager, messages_per_sec);
}

static void
msb_dbus_refresh_ready_cb(MsbBrokerStats *stats, gpointer user_data)
{
	MsbDbusHandle *handle = user_data;
	MsbDbus *self = handle->self;

	if (self == NULL)
		return;
	self->refresh_pending = FALSE;
	msb_dbus_refresh_manager(self, stats);
	msb_dbus_objects_update(self->objects, stats);
}

static gboolean
msb_dbus_refresh_cb(gpointer user_data)
{
	MsbDbus *self = user_data;

	/* nobody can read them without a bus; one collection at a time */
	if (self->connection == NULL || self->refresh_pending)
		return G_SOURCE_CONTINUE;
	self->refresh_pending = TRUE;
	/* the once-a-second state the live UI's tick also reads: one collection serves both */
	msb_stats_reader_request_recent(self->reader, msb_dbus_refresh_ready_cb,
	                                msb_dbus_handle_ref(self->handle),
	                                (GDestroyNotify)msb_dbus_handle_unref);
	return G_SOURCE_CONTINUE;
}

/* ---- methods ---- */

static GVariant *
msb_dbus_params(GDBusMethodInvocation *invocation)
{
	return g_dbus_method_invocation_get_parameters(invocation);
}

typedef void (*MsbDbusOp)(MsbDbus *self, GDBusMethodInvocation *invocation);

typedef struct {
	MsbDbusHandle *handle;
	GDBusMethodInvocation *invocation; /* the call's own reference, passed on to the answer */
	MsbDbusOp op;
} MsbDbusAuthorizing;

static void
msb_dbus_authorized_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbDbusAuthorizing *req = user_data;
	MsbDbus *self = req->handle->self;
	g_autoptr(GError) error = NULL;

	if (self == NULL) {
		g_dbus_method_invocation_return_error_literal(req->invocation, MSB_DBUS_ERROR,
		                                              MSB_DBUS_ERROR_SHUTTING_DOWN,
		                                              "the broker is stopping");
	} else if (!msb_dbus_auth_check_finish(self->auth, result, &error)) {
		msb_dbus_return_error(req->invocation, error);
	} else {
		/* who changed what: the administrator's audit trail */
		g_autofree gchar *args = g_variant_print(msb_dbus_params(req->invocation), FALSE);

		g_message("D-Bus: %s%s from %s",
		          g_dbus_method_invocation_get_method_name(req->invocation), args,
		          g_dbus_method_invocation_get_sender(req->invocation));
		req->op(self, req->invocation);
		/* a caller that reads the state next (over D-Bus or HTTP) must see its change */
		msb_stats_reader_note_write(self->reader);
	}
	msb_dbus_handle_unref(req->handle);
	g_free(req);
}

/* Methods that change state run @op once the caller is authorized. */
static gboolean
msb_dbus_authorize(MsbDbus *self, GDBusMethodInvocation *invocation, MsbDbusOp op)
{
	MsbDbusAuthorizing *req = g_new0(MsbDbusAuthorizing, 1);

	req->handle = msb_dbus_handle_ref(self->handle);
	req->invocation = invocation;
	req->op = op;
	msb_dbus_auth_check_async(self->auth, invocation, self->cancellable, msb_dbus_authorized_cb,
	                          req);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
msb_dbus_create_topic(MsbDbus *self, GDBusMethodInvocation *invocation)
{
	const gchar *name = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;

	g_variant_get(msb_dbus_params(invocation), "(&s)", &name);
	if (msb_broker_create_topic(self->broker, name, &error) == NULL) {
		msb_dbus_return_error(invocation, error);
		return;
	}
	path = msb_dbus_objects_topic_path(name);
	msb_dbus_broker1_complete_create_topic(self->manager, invocation, path);
}

static void
msb_dbus_delete_topic(MsbDbus *self, GDBusMethodInvocation *invocation)
{
	const gchar *name = NULL;
	gint64 moment = 0;
	g_autoptr(GError) error = NULL;

	g_variant_get(msb_dbus_params(invocation), "(&sx)", &name, &moment);
	if (!msb_broker_delete_topic(self->broker, name, moment, &error)) {
		msb_dbus_return_error(invocation, error);
		return;
	}
	msb_dbus_broker1_complete_delete_topic(self->manager, invocation);
}

static void
msb_dbus_restore_topic(MsbDbus *self, GDBusMethodInvocation *invocation)
{
	const gchar *name = NULL;
	g_autoptr(GError) error = NULL;

	g_variant_get(msb_dbus_params(invocation), "(&s)", &name);
	if (!msb_broker_undelete_topic(self->broker, name, &error)) {
		msb_dbus_return_error(invocation, error);
		return;
	}
	msb_dbus_broker1_complete_restore_topic(self->manager, invocation);
}

static void
msb_dbus_set_topic_persist(MsbDbus *self, GDBusMethodInvocation *invocation)
{
	const gchar *name = NULL;
	gboolean persist = FALSE;
	g_autoptr(GError) error = NULL;

	g_variant_get(msb_dbus_params(invocation), "(&sb)", &name, &persist);
	if (!msb_broker_set_topic_persist(self->broker, name, persist, &error)) {
		msb_dbus_return_error(invocation, error);
		return;
	}
	msb_dbus_broker1_complete_set_topic_persist(self->manager, invocation);
}

static void
msb_dbus_delete_queue(MsbDbus *self, GDBusMethodInvocation *invocation)
{
	const gchar *topic = NULL;
	const gchar *queue = NULL;
	g_autoptr(GError) error = NULL;

	g_variant_get(msb_dbus_params(invocation), "(&s&s)", &topic, &queue);
	if (!msb_broker_delete_queue(self->broker, topic, queue, &error)) {
		msb_dbus_return_error(invocation, error);
		return;
	}
	msb_dbus_broker1_complete_delete_queue(self->manager, invocation);
}

static void
msb_dbus_set_queue_message_id(MsbDbus *self, GDBusMethodInvocation *invocation)
{
	const gchar *topic = NULL;
	const gchar *queue = NULL;
	gint64 message_id = 0;
	g_autoptr(GError) error = NULL;

	g_variant_get(msb_dbus_params(invocation), "(&s&sx)", &topic, &queue, &message_id);
	if (!msb_broker_set_queue_message_id(self->broker, topic, queue, message_id, &error)) {
		msb_dbus_return_error(invocation, error);
		return;
	}
	msb_dbus_broker1_complete_set_queue_message_id(self->manager, invocation);
}

static void
msb_dbus_set_queue_max_messages(MsbDbus *self, GDBusMethodInvocation *invocation)
{
	const gchar *topic = NULL;
	const gchar *queue = NULL;
	gint64 max_messages = 0;
	g_autoptr(GError) error = NULL;

	g_variant_get(msb_dbus_params(invocation), "(&s&sx)", &topic, &queue, &max_messages);
	if (!msb_broker_set_queue_max_messages(self->broker, topic, queue, max_messages, &error)) {
		msb_dbus_return_error(invocation, error);
		return;
	}
	msb_dbus_broker1_complete_set_queue_max_messages_per_payload(self->manager, invocation);
}

static void
msb_dbus_kick_session(MsbDbus *self, GDBusMethodInvocation *invocation)
{
	gint64 id = 0;
	g_autoptr(GError) error = NULL;

	g_variant_get(msb_dbus_params(invocation), "(x)", &id);
	if (!msb_broker_kick_session(self->broker, id, &error)) {
		msb_dbus_return_error(invocation, error);
		return;
	}
	msb_dbus_broker1_complete_kick_session(self->manager, invocation);
}

static gboolean
msb_dbus_handle_create_topic_cb(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation,
                                const gchar *name, gpointer user_data)
{
	return msb_dbus_authorize(user_data, invocation, msb_dbus_create_topic);
}

static gboolean
msb_dbus_handle_delete_topic_cb(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation,
                                const gchar *name, gint64 moment, gpointer user_data)
{
	return msb_dbus_authorize(user_data, invocation, msb_dbus_delete_topic);
}

static gboolean
msb_dbus_handle_restore_topic_cb(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation,
                                 const gchar *name, gpointer user_data)
{
	return msb_dbus_authorize(user_data, invocation, msb_dbus_restore_topic);
}

static gboolean
msb_dbus_handle_set_topic_persist_cb(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation,
                                     const gchar *name, gboolean persist, gpointer user_data)
{
	return msb_dbus_authorize(user_data, invocation, msb_dbus_set_topic_persist);
}

static gboolean
msb_dbus_handle_delete_queue_cb(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation,
                                const gchar *topic, const gchar *queue, gpointer user_data)
{
	return msb_dbus_authorize(user_data, invocation, msb_dbus_delete_queue);
}

static gboolean
msb_dbus_handle_set_queue_message_id_cb(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation,
                                        const gchar *topic, const gchar *queue, gint64 id,
                                        gpointer user_data)
{
	return msb_dbus_authorize(user_data, invocation, msb_dbus_set_queue_message_id);
}

static gboolean
msb_dbus_handle_set_queue_max_messages_cb(MsbDbusBroker1 *manager,
                                          GDBusMethodInvocation *invocation, const gchar *topic,
                                          const gchar *queue, gint64 max, gpointer user_data)
{
	return msb_dbus_authorize(user_data, invocation, msb_dbus_set_queue_max_messages);
}

static gboolean
msb_dbus_handle_kick_session_cb(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation,
                                gint64 id, gpointer user_data)
{
	return msb_dbus_authorize(user_data, invocation, msb_dbus_kick_session);
}

/* ListSessions reads every session: from a collection, like the REST status. */
typedef struct {
	MsbDbusHandle *handle;
	GDBusMethodInvocation *invocation;
} MsbDbusListing;

static void
msb_dbus_listing_free(MsbDbusListing *listing)
{
	/* answered by now unless the broker went first */
	if (listing->invocation != NULL)
		g_dbus_method_invocation_return_error_literal(listing->invocation, MSB_DBUS_ERROR,
		                                              MSB_DBUS_ERROR_SHUTTING_DOWN,
		                                              "the broker is stopping");
	msb_dbus_handle_unref(listing->handle);
	g_free(listing);
}

static const gchar *
msb_dbus_session_kind(gint kind)
{
	/* MsbSessionKind's order */
	static const gchar *const kinds[] = {"tcp", "unix", "http"};

	return kind >= 0 && (guint)kind < G_N_ELEMENTS(kinds) ? kinds[kind] : "";
}

static void
msb_dbus_sessions_ready_cb(MsbBrokerStats *stats, gpointer user_data)
{
	MsbDbusListing *listing = user_data;
	GVariantBuilder sessions;

	if (listing->handle->self == NULL)
		return;
	g_variant_builder_init(&sessions, G_VARIANT_TYPE("aa{sv}"));
	for (guint i = 0; i < stats->sessions->len; i++) {
		const MsbSessionStats *s = msb_broker_stats_session(stats, i);
		GVariantBuilder b;

		g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&b, "{sv}", "id", g_variant_new_int64(s->id));
		g_variant_builder_add(&b, "{sv}", "name",
		                      g_variant_new_string(s->name != NULL ? s->name : ""));
		g_variant_builder_add(&b, "{sv}", "version",
		                      g_variant_new_string(s->version != NULL ? s->version : ""));
		g_variant_builder_add(&b, "{sv}", "peer",
		                      g_variant_new_string(s->peer != NULL ? s->peer : ""));
		g_variant_builder_add(&b, "{sv}", "kind",
		                      g_variant_new_string(msb_dbus_session_kind(s->kind)));
		g_variant_builder_add(&b, "{sv}", "protocol-version",
		                      g_variant_new_int32(s->protocol_version));
		g_variant_builder_add(&b, "{sv}", "connected-seconds",
		                      g_variant_new_int64(s->connected_us / G_USEC_PER_SEC));
		g_variant_builder_add(&b, "{sv}", "publishes", g_variant_new_uint64(s->publishes));
		g_variant_builder_add(&b, "{sv}", "read-bytes",
		                      g_variant_new_uint64(s->read_bytes));
		g_variant_builder_add(&b, "{sv}", "written-bytes",
		                      g_variant_new_uint64(s->written_bytes));
		g_variant_builder_add_value(&sessions, g_variant_builder_end(&b));
	}
	g_dbus_method_invocation_return_value(g_steal_pointer(&listing->invocation),
	                                      g_variant_new("(aa{sv})", &sessions));
}

static gboolean
msb_dbus_handle_list_sessions_cb(MsbDbusBroker1 *manager, GDBusMethodInvocation *invocation,
                                 gpointer user_data)
{
	MsbDbus *self = user_data;
	MsbDbusListing *listing = g_new0(MsbDbusListing, 1);

	listing->handle = msb_dbus_handle_ref(self->handle);
	listing->invocation = invocation;
	msb_stats_reader_request(self->reader, msb_dbus_sessions_ready_cb, listing,
	                         (GDestroyNotify)msb_dbus_listing_free);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- the bus ---- */

static void
msb_dbus_connect(MsbDbus *self);

static gboolean
msb_dbus_reconnect_cb(gpointer user_data)
{
	MsbDbus *self = user_data;

	self->reconnect_id = 0;
	msb_dbus_connect(self);
	return G_SOURCE_REMOVE;
}

static void
msb_dbus_schedule_reconnect(MsbDbus *self)
{
	if (self->reconnect_id != 0)
		return;
	self->reconnect_s =
	        self->reconnect_s == 0 ? 1 : MIN(self->reconnect_s * 2, MSB_DBUS_RECONNECT_MAX_S);
	self->reconnect_id = g_timeout_add_seconds(self->reconnect_s, msb_dbus_reconnect_cb, self);
}

static void
msb_dbus_name_acquired_cb(GDBusConnection *conn, const gchar *name, gpointer user_data)
{
	MsbDbus *self = user_data;

	g_message("D-Bus: %s on the %s bus", name, msb_dbus_bus_to_string(self->bus));
}

static void
msb_dbus_name_lost_cb(GDBusConnection *conn, const gchar *name, gpointer user_data)
{
	MsbDbus *self = user_data;

	/* a closed connection is reported (once) by msb_dbus_closed_cb() */
	if (conn == NULL || g_dbus_connection_is_closed(conn))
		return;
	g_warning("D-Bus: %s is owned by another process on the %s bus; messages are served "
	          "as before, and the name is taken when that process releases it",
	          name, msb_dbus_bus_to_string(self->bus));
}

static void
msb_dbus_disconnect(MsbDbus *self)
{
	g_clear_handle_id(&self->name_id, g_bus_unown_name);
	g_dbus_object_manager_server_set_connection(self->server, NULL);
	if (self->connection != NULL) {
		g_dbus_interface_skeleton_unexport_from_connection(
		        G_DBUS_INTERFACE_SKELETON(self->manager), self->connection);
		g_clear_signal_handler(&self->closed_id, self->connection);
		g_clear_object(&self->connection);
	}
}

static void
msb_dbus_closed_cb(GDBusConnection *conn, gboolean remote_peer_vanished, GError *error,
                   gpointer user_data)
{
	MsbDbus *self = user_data;

	g_warning("D-Bus: lost the connection to the %s bus (%s); messages are served as before, "
	          "reconnecting",
	          msb_dbus_bus_to_string(self->bus), error != NULL ? error->message : "closed");
	self->bus_missing = TRUE;
	msb_dbus_disconnect(self);
	self->reconnect_s = 0;
	msb_dbus_schedule_reconnect(self);
}

static void
msb_dbus_connected(MsbDbus *self, GDBusConnection *conn)
{
	g_autoptr(GError) error = NULL;

	self->connection = g_object_ref(conn);
	g_dbus_connection_set_exit_on_close(conn, FALSE);
	self->closed_id = g_signal_connect(conn, "closed", G_CALLBACK(msb_dbus_closed_cb), self);
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self->manager), conn,
	                                      MSB_DBUS_MANAGER_PATH, &error)) {
		/* only a second object at our path could cause it: a bug, not a bus problem */
		g_warning("D-Bus: cannot export %s: %s", MSB_DBUS_MANAGER_PATH, error->message);
		msb_dbus_disconnect(self);
		return;
	}
	g_dbus_object_manager_server_set_connection(self->server, conn);
	/* the first collection may take a moment on a large broker: the cheap part now */
	msb_dbus_refresh_persistence(self);
	self->name_id = g_bus_own_name_on_connection(
	        conn, MSB_DBUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE, msb_dbus_name_acquired_cb,
	        msb_dbus_name_lost_cb, self, NULL);
	if (self->bus_missing)
		g_message("D-Bus: connected to the %s bus again",
		          msb_dbus_bus_to_string(self->bus));
	self->bus_missing = FALSE;
	self->reconnect_s = 0;
	(void)msb_dbus_refresh_cb(self);
}

static void
msb_dbus_connect_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	MsbDbusBus bus = GPOINTER_TO_INT(task_data);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *address = NULL;
	GDBusConnection *conn;

	address = g_dbus_address_get_for_bus_sync(bus == MSB_DBUS_BUS_SYSTEM ? G_BUS_TYPE_SYSTEM
	                                                                     : G_BUS_TYPE_SESSION,
	                                          cancellable, &error);
	if (address == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	/* our own connection, not the process-wide singleton: it is dropped and made anew when
	 * the bus restarts */
	conn = g_dbus_connection_new_for_address_sync(
	        address,
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, cancellable, &error);
	if (conn == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, conn, g_object_unref);
}

static void
msb_dbus_connect_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbDbusHandle *handle = user_data;
	MsbDbus *self = handle->self;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = NULL;

	conn = g_task_propagate_pointer(G_TASK(result), &error);
	if (self == NULL) {
		msb_dbus_handle_unref(handle);
		return;
	}
	msb_dbus_handle_unref(handle);
	self->connecting = FALSE;
	if (conn != NULL) {
		msb_dbus_connected(self, conn);
		return;
	}
	if (!self->bus_missing)
		g_warning("D-Bus: the %s bus is not available (%s); messages are served without "
		          "D-Bus management, which starts when the bus is there",
		          msb_dbus_bus_to_string(self->bus), error->message);
	else
		g_debug("D-Bus: the %s bus is still not available: %s",
		        msb_dbus_bus_to_string(self->bus), error->message);
	self->bus_missing = TRUE;
	msb_dbus_schedule_reconnect(self);
}

static void
msb_dbus_connect(MsbDbus *self)
{
	g_autoptr(GTask) task = NULL;

	if (self->connecting || self->connection != NULL)
		return;
	self->connecting = TRUE;
	task = g_task_new(NULL, self->cancellable, msb_dbus_connect_done_cb,
	                  msb_dbus_handle_ref(self->handle));
	g_task_set_task_data(task, GINT_TO_POINTER(self->bus), NULL);
	g_task_run_in_thread(task, msb_dbus_connect_thread);
}

/* ---- the object ---- */

MsbDbus *
msb_dbus_new(MsbBroker *broker, MsbStatsReader *reader, MsbDbusBus bus, const gchar *admin_group,
             MsbHttpInfoFunc info_func, gpointer info_data)
{
	MsbDbus *self;

	g_return_val_if_fail(broker != NULL, NULL);
	g_return_val_if_fail(reader != NULL, NULL);
	g_return_val_if_fail(bus != MSB_DBUS_BUS_NONE, NULL);

	self = g_new0(MsbDbus, 1);
	self->broker = broker;
	self->reader = reader;
	self->bus = bus;
	self->info_func = info_func;
	self->info_data = info_data;
	self->handle = g_new0(MsbDbusHandle, 1);
	self->handle->ref_count = 1;
	self->handle->self = self;
	self->auth = msb_dbus_auth_new(bus == MSB_DBUS_BUS_SYSTEM, admin_group);
	self->cancellable = g_cancellable_new();

	self->manager = msb_dbus_broker1_skeleton_new();
	msb_dbus_broker1_set_version(self->manager, MSB_VERSION);
	msb_dbus_broker1_set_persistence_version(self->manager, "");
	msb_dbus_broker1_set_persistence_state(self->manager, "");
	g_signal_connect(self->manager, "handle-create-topic",
	                 G_CALLBACK(msb_dbus_handle_create_topic_cb), self);
	g_signal_connect(self->manager, "handle-delete-topic",
	                 G_CALLBACK(msb_dbus_handle_delete_topic_cb), self);
	g_signal_connect(self->manager, "handle-restore-topic",
	                 G_CALLBACK(msb_dbus_handle_restore_topic_cb), self);
	g_signal_connect(self->manager, "handle-set-topic-persist",
	                 G_CALLBACK(msb_dbus_handle_set_topic_persist_cb), self);
	g_signal_connect(self->manager, "handle-delete-queue",
	                 G_CALLBACK(msb_dbus_handle_delete_queue_cb), self);
	g_signal_connect(self->manager, "handle-set-queue-message-id",
	                 G_CALLBACK(msb_dbus_handle_set_queue_message_id_cb), self);
	g_signal_connect(self->manager, "handle-set-queue-max-messages-per-payload",
	                 G_CALLBACK(msb_dbus_handle_set_queue_max_messages_cb), self);
	g_signal_connect(self->manager, "handle-list-sessions",
	                 G_CALLBACK(msb_dbus_handle_list_sessions_cb), self);
	g_signal_connect(self->manager, "handle-kick-session",
	                 G_CALLBACK(msb_dbus_handle_kick_session_cb), self);

	/* the server's objects are strictly below its path: the manager interface is exported on
	 * the same path, beside the server's org.freedesktop.DBus.ObjectManager */
	self->server = g_dbus_object_manager_server_new(MSB_DBUS_MANAGER_PATH);
	self->objects = msb_dbus_objects_new(broker, self->server, self->manager);
	return self;
}

void
msb_dbus_start(MsbDbus *self)
{
	g_return_if_fail(self != NULL);
	if (self->refresh_id == 0)
		self->refresh_id = g_timeout_add_seconds(1, msb_dbus_refresh_cb, self);
	msb_dbus_connect(self);
}

void
msb_dbus_set_admin_group(MsbDbus *self, const gchar *admin_group)
{
	g_return_if_fail(self != NULL);
	msb_dbus_auth_set_admin_group(self->auth, admin_group);
}

void
msb_dbus_free(MsbDbus *self)
{
	if (self == NULL)
		return;
	g_cancellable_cancel(self->cancellable);
	self->handle->self = NULL;
	msb_dbus_handle_unref(self->handle);
	g_clear_handle_id(&self->refresh_id, g_source_remove);
	g_clear_handle_id(&self->reconnect_id, g_source_remove);
	msb_dbus_disconnect(self);
	/* off the bus already: nobody is told of the objects going */
	g_clear_pointer(&self->objects, msb_dbus_objects_free);
	g_clear_object(&self->server);
	g_clear_object(&self->manager);
	g_clear_object(&self->cancellable);
	msb_dbus_auth_free(self->auth);
	g_free(self);
}
