/*
 * MsbServer: listeners, connections, the 1 s timer and graceful shutdown.
 *
 * Everything runs on the main loop. After a connection's input has been handled the server runs
 * the broker's pending delivery passes and then flushes every connection that got output, so
 * one read of many publishes ends in one send per affected client.
 */
#define G_LOG_DOMAIN "msb-server"

#include "msb-server.h"

#include "msb-broker.h"
#include "msb-connection.h"
#include "msb-http.h"
#include "msb-memory.h"
#include "msb-listener.h"
#include "msb-persistence.h"
#include "msb-rate-limit.h"
#include "msb-wire.h"

/* graceful shutdown: how long in-flight batches get to be confirmed */
#define MSB_SERVER_DRAIN_TIMEOUT_US (1 * G_USEC_PER_SEC)
/* graceful shutdown: how long pending messages and the final snapshot get to be saved */
#define MSB_SERVER_SAVE_TIMEOUT_US (30 * G_USEC_PER_SEC)
/* refused and timed-out connections are logged at most this often (per kind) */
#define MSB_SERVER_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)
/*
 * Topics visited per main-loop turn by the tick's GC pass. The whole pass took 60-400 ms at
 * 100,000 topics on a loaded 2-core machine, so a slice costs a few milliseconds and the pass
 * takes ~50 turns, with socket I/O served between them, instead of one stall every Ping waits on.
 */
#define MSB_SERVER_GC_SLICE 2000

struct _MsbServer {
	MsbSettings *settings; /* not owned */
	MsbBroker *broker;
	MsbPersistence *persistence; /* NULL in memory */
	MsbHttp *http;
	MsbDbusBus dbus_bus;
	MsbDbus *dbus; /* NULL without D-Bus */
	GSourceFunc listening;
	gpointer listening_data;
	gboolean stopping;
	MsbListener *listener;
	guint16 tcp_port;
	gsize incomplete_bytes; /* bytes of unfinished packets over all connections */
	MsbRateLimit refused_log;
	MsbRateLimit deadline_log;
	GHashTable *connections; /* MsbConnection* → itself, one reference each */
	GPtrArray *dirty;        /* MsbConnection* with output to flush (references) */
	guint flush_idle_id;
	guint tick_id;
	guint gc_slice_id; /* the rest of the tick's GC pass */
	MsbMemory memory;
	guint shutdown_id;
	gint64 shutdown_started_us;
	GSourceFunc shutdown_done;
	gpointer shutdown_done_data;
};

static void
msb_server_flush_all(MsbServer *server)
{
	/* flushing can make more output due (a drained consumer gets its next batch) */
	while (server->dirty->len > 0) {
		g_autoptr(GPtrArray) batch = server->dirty;
		server->dirty =
		        g_ptr_array_new_with_free_func((GDestroyNotify)msb_connection_unref);
		for (guint i = 0; i < batch->len; i++)
			msb_connection_flush(g_ptr_array_index(batch, i));
	}
}

static gboolean
msb_server_flush_idle_cb(gpointer user_data)
{
	MsbServer *server = user_data;

	server->flush_idle_id = 0;
	msb_broker_run_deliveries(server->broker);
	msb_server_flush_all(server);
	return G_SOURCE_REMOVE;
}

static void
msb_server_output_ready_cb(MsbSession *session, gpointer user_data)
{
	MsbServer *server = user_data;
	MsbConnection *conn = msb_session_get_user_data(session);

	if (msb_session_get_kind(session) == MSB_SESSION_KIND_HTTP) {
		msb_http_session_output_ready(session);
		return;
	}
	if (conn == NULL || msb_connection_is_closed(conn))
		return;
	for (guint i = 0; i < server->dirty->len; i++) {
		if (g_ptr_array_index(server->dirty, i) == conn)
			return;
	}
	g_ptr_array_add(server->dirty, msb_connection_ref(conn));
	if (server->flush_idle_id == 0)
		server->flush_idle_id = g_idle_add_full(G_PRIORITY_HIGH_IDLE,
		                                        msb_server_flush_idle_cb, server, NULL);
}

static void
msb_server_disconnect_cb(MsbSession *session, const gchar *reason, gpointer user_data)
{
	MsbConnection *conn = msb_session_get_user_data(session);

	if (msb_session_get_kind(session) == MSB_SESSION_KIND_HTTP)
		msb_http_session_disconnect(session, reason);
	else if (conn != NULL)
		msb_connection_close(conn, reason);
}

static void
msb_server_connection_closed_cb(MsbConnection *conn, gpointer user_data)
{
	MsbServer *server = user_data;

	g_hash_table_remove(server->connections, conn);
	/* a descriptor is free again: accepting may have paused at the open-files limit */
	if (server->listener != NULL)
		msb_listener_resume(server->listener);
}

static void
msb_server_input_done_cb(MsbConnection *conn, gpointer user_data)
{
	MsbServer *server = user_data;

	msb_broker_run_deliveries(server->broker);
	msb_server_flush_all(server);
}

/* Over MaxConnections: a Reject saying why (a C# client stops at it, a Rust one ignores it and
 * sees the close), then the close. Nothing is read, so this costs no session. */
static void
msb_server_refuse(MsbServer *server, GSocket *socket)
{
	MsbBuf reject;
	guint64 suppressed = 0;

	msb_buf_init(&reject, 64);
	msb_wire_put_reject(&reject, "Too many connections (MaxConnections); try again later");
	(void)g_socket_send(socket, (const gchar *)msb_buf_head(&reject), msb_buf_pending(&reject),
	                    NULL, NULL);
	msb_buf_clear(&reject);
	(void)g_socket_close(socket, NULL);
	if (msb_rate_limit_check(&server->refused_log, &suppressed))
		g_warning("refusing new connections: MaxConnections (%" G_GINT64_FORMAT
		          ") are open (%" G_GUINT64_FORMAT " more refused in the last %d s)",
		          server->settings->max_connections, suppressed,
		          (gint)(MSB_SERVER_LOG_INTERVAL_US / G_USEC_PER_SEC));
}

static void
msb_server_accepted_cb(GSocket *socket, gpointer user_data)
{
	MsbServer *server = user_data;
	MsbConnectionHooks hooks = {
	        .closed = msb_server_connection_closed_cb,
	        .input_done = msb_server_input_done_cb,
	};
	g_autoptr(GSocketConnection) sockconn = NULL;
	MsbConnection *conn;

	if (server->shutdown_id != 0) {
		(void)g_socket_close(socket, NULL);
		return;
	}
	if (g_hash_table_size(server->connections) >= (guint64)server->settings->max_connections) {
		msb_server_refuse(server, socket);
		return;
	}
	sockconn = g_socket_connection_factory_create_connection(socket);
	conn = msb_connection_new(sockconn, server->broker, server->settings->max_packet_size,
	                          server->settings->send_buffer_size, &hooks, server);
	msb_connection_set_incomplete_limit(conn, &server->incomplete_bytes,
	                                    (gsize)server->settings->max_incomplete_packets_size);
	g_hash_table_add(server->connections, conn);
}

/* The connection's deadlines: a Greeting soon after connecting, and every packet received whole
 * soon after its first bytes. NULL when it may stay. */
static const gchar *
msb_server_check_deadlines(MsbServer *server, MsbConnection *conn, gint64 now)
{
	const MsbSettings *settings = server->settings;
	MsbSession *session = msb_connection_get_session(conn);
	gint64 incomplete_since = msb_connection_get_incomplete_since(conn);

	/* clients ping every 3 s; silence means a dead peer (protocol.md §5.4) */
	if (now - msb_connection_get_last_receive(conn) > settings->connection_timeout_us)
		return "nothing received within ConnectionTimeout";
	if (session != NULL && !msb_session_is_greeted(session) &&
	    now - msb_connection_get_connected_at(conn) > settings->greeting_timeout_us)
		return "no Greeting within GreetingTimeout";
	if (incomplete_since != 0 && now - incomplete_since > settings->packet_receive_timeout_us)
		return "a packet was not received whole within PacketReceiveTimeout";
	return NULL;
}

static gboolean
msb_server_gc_slice_cb(gpointer user_data)
{
	MsbServer *server = user_data;

	if (msb_broker_tick_step(server->broker, MSB_SERVER_GC_SLICE))
		return G_SOURCE_CONTINUE;
	server->gc_slice_id = 0;
	return G_SOURCE_REMOVE;
}

static gboolean
msb_server_tick_cb(gpointer user_data)
{
	MsbServer *server = user_data;
	gint64 now = g_get_monotonic_time();
	g_autoptr(GPtrArray) expired = g_ptr_array_new();
	g_autoptr(GPtrArray) reasons = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, server->connections);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		const gchar *reason = msb_server_check_deadlines(server, key, now);

		msb_connection_release_idle_buffers(key);
		if (reason != NULL) {
			g_ptr_array_add(expired, key);
			g_ptr_array_add(reasons, (gpointer)reason);
		}
	}
	for (guint i = 0; i < expired->len; i++) {
		MsbConnection *conn = g_ptr_array_index(expired, i);
		const gchar *reason = g_ptr_array_index(reasons, i);
		guint64 suppressed = 0;

		/* a port scanner or a flood of half-open clients must not flood the log */
		if (msb_rate_limit_check(&server->deadline_log, &suppressed))
			g_message("%s: closing the connection: %s (%" G_GUINT64_FORMAT
			          " more connections closed for a deadline in the last %d s)",
			          msb_connection_get_peer(conn), reason, suppressed,
			          (gint)(MSB_SERVER_LOG_INTERVAL_US / G_USEC_PER_SEC));
		msb_connection_close(conn, reason);
	}
	/* a small broker finishes its pass here; a large one goes on in slices */
	msb_broker_tick_begin(server->broker);
	if (msb_broker_tick_step(server->broker, MSB_SERVER_GC_SLICE) && server->gc_slice_id == 0) {
		/* the same priority as socket I/O: served in turn with it, never starved by it */
		server->gc_slice_id =
		        g_idle_add_full(G_PRIORITY_DEFAULT, msb_server_gc_slice_cb, server, NULL);
	}
	msb_server_flush_all(server);
	/* after the tick's GC (its first slice, with many topics): a consumed backlog or a deleted
	 * queue is given back to the system */
	msb_memory_maybe_trim(&server->memory);
	return G_SOURCE_CONTINUE;
}

static void
msb_server_save_wanted_cb(gpointer user_data)
{
	MsbServer *server = user_data;

	if (server->persistence != NULL)
		msb_persistence_save_wanted(server->persistence);
}

static void
msb_server_snapshot_wanted_cb(gpointer user_data)
{
	MsbServer *server = user_data;

	if (server->persistence != NULL)
		msb_persistence_snapshot_wanted(server->persistence);
}

static void
msb_server_load_sub_page_cb(MsbTopic *topic, gint64 sub_page_no, gpointer user_data)
{
	MsbServer *server = user_data;

	if (server->persistence != NULL)
		msb_persistence_load_sub_page(server->persistence, topic, sub_page_no);
	else
		msb_broker_sub_page_load_failed(server->broker, topic, sub_page_no);
}

static void
msb_server_delete_topic_cb(const gchar *topic, gint64 delete_after_us, gpointer user_data)
{
	MsbServer *server = user_data;

	if (server->persistence != NULL)
		msb_persistence_delete_topic(server->persistence, topic, delete_after_us);
}

static MsbBrokerConfig
msb_server_broker_config(const MsbSettings *settings)
{
	MsbBrokerConfig config = {
	        .max_delivery_size = (gsize)settings->max_delivery_size,
	        .delivery_timeout_us = settings->delivery_timeout_us,
	        .queue_gc_timeout_us = settings->queue_gc_timeout_us,
	        .auto_create_topic_on_publish = settings->auto_create_topic_on_publish,
	        .auto_create_topic_on_subscribe = settings->auto_create_topic_on_subscribe,
	        .send_buffer_size = (gsize)settings->send_buffer_size,
	        .persistence = settings->grpc_url != NULL,
	        .max_pending_bytes = (gsize)settings->max_unsaved_size,
	};

	return config;
}

MsbServer *
msb_server_new(const MsbSettings *settings, GError **error)
{
	MsbServer *server;
	MsbBrokerConfig config = msb_server_broker_config(settings);
	MsbBrokerCallbacks callbacks = {
	        .output_ready = msb_server_output_ready_cb,
	        .disconnect = msb_server_disconnect_cb,
	        .save_wanted = msb_server_save_wanted_cb,
	        .load_sub_page = msb_server_load_sub_page_cb,
	        .snapshot_wanted = msb_server_snapshot_wanted_cb,
	        .delete_topic = msb_server_delete_topic_cb,
	};
	MsbPersistence *persistence = NULL;

	g_return_val_if_fail(settings != NULL, NULL);
	if (settings->grpc_url != NULL) {
		persistence = msb_persistence_new(settings->grpc_url,
		                                  settings->eventually_persistence_delay_us,
		                                  settings->persist_compressed, error);
		if (persistence == NULL) {
			g_prefix_error(error, "GrpcUrl %s: ", settings->grpc_url);
			return NULL;
		}
		msb_persistence_set_on_damaged(persistence, settings->on_damaged_messages);
	}
	server = g_new0(MsbServer, 1);
	server->settings = (MsbSettings *)settings;
	server->persistence = persistence;
	server->broker = msb_broker_new(&config, &callbacks, server);
	server->connections = g_hash_table_new_full(g_direct_hash, g_direct_equal,
	                                            (GDestroyNotify)msb_connection_unref, NULL);
	server->dirty = g_ptr_array_new_with_free_func((GDestroyNotify)msb_connection_unref);
	msb_memory_init(&server->memory);
	server->refused_log = (MsbRateLimit)MSB_RATE_LIMIT_INIT(MSB_SERVER_LOG_INTERVAL_US);
	server->deadline_log = (MsbRateLimit)MSB_RATE_LIMIT_INIT(MSB_SERVER_LOG_INTERVAL_US);
	return server;
}

void
msb_server_apply_settings(MsbServer *server)
{
	MsbBrokerConfig config;

	g_return_if_fail(server != NULL);
	/* ConnectionTimeout is read from the settings by every tick */
	config = msb_server_broker_config(server->settings);
	msb_broker_set_config(server->broker, &config);
	if (server->http != NULL) {
		msb_http_sessions_set_timeouts(msb_http_get_sessions(server->http),
		                               server->settings->http_session_timeout_us,
		                               server->settings->http_await_timeout_us);
		msb_http_sessions_set_max(msb_http_get_sessions(server->http),
		                          (guint)server->settings->http_max_sessions);
	}
	if (server->dbus != NULL)
		msb_dbus_set_admin_group(server->dbus, server->settings->dbus_admin_group);
	if (server->persistence != NULL)
		msb_persistence_set_options(server->persistence,
		                            server->settings->eventually_persistence_delay_us,
		                            server->settings->persist_compressed);
}

static void
msb_server_close_all(MsbServer *server, const gchar *reason)
{
	g_autoptr(GList) conns = g_hash_table_get_keys(server->connections);

	for (GList *l = conns; l != NULL; l = l->next)
		msb_connection_flush(l->data);
	for (GList *l = conns; l != NULL; l = l->next)
		msb_connection_close(l->data, reason);
}

void
msb_server_free(MsbServer *server)
{
	if (server == NULL)
		return;
	g_clear_handle_id(&server->flush_idle_id, g_source_remove);
	g_clear_handle_id(&server->tick_id, g_source_remove);
	g_clear_handle_id(&server->gc_slice_id, g_source_remove);
	g_clear_handle_id(&server->shutdown_id, g_source_remove);
	if (server->listener != NULL)
		msb_listener_close(server->listener);
	msb_server_close_all(server, "broker stopped");
	g_clear_pointer(&server->listener, msb_listener_free);
	/* before HTTP: it reads through HTTP's stats reader */
	g_clear_pointer(&server->dbus, msb_dbus_free);
	g_clear_pointer(&server->http, msb_http_free);
	/* before the broker: calls still in flight must find it gone, not freed */
	g_clear_pointer(&server->persistence, msb_persistence_free);
	g_ptr_array_unref(server->dirty);
	g_hash_table_unref(server->connections);
	msb_broker_free(server->broker);
	g_free(server);
}

static void
msb_server_http_info_cb(MsbHttpInfo *info, gpointer user_data)
{
	MsbServer *server = user_data;

	info->state = server->stopping ? "shutting down" : "running";
	info->tcp_connections = g_hash_table_size(server->connections);
	if (server->persistence != NULL) {
		const gchar *state = info->state;
		msb_persistence_get_info(server->persistence, info);
		/* "waiting for persistence" wins over "running", not over "shutting down" */
		if (server->stopping)
			info->state = state;
	}
}

/*
 * Bind the client sockets at start, so that a port or Unix socket in use fails the start at once
 * rather than after a restore; they listen only from msb_server_listen_clients() on, and a client
 * connecting before that is refused as if nothing were bound.
 */
static gboolean
msb_server_bind_clients(MsbServer *server, GError **error)
{
	g_autoptr(GInetAddress) inet = NULL;
	g_autoptr(GError) error_local = NULL;
	const MsbSettings *settings = server->settings;

	server->listener =
	        msb_listener_new(settings->listen_backlog, msb_server_accepted_cb, server);
	inet = g_inet_address_new_from_string(settings->listen_address);
	if (inet == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "ListenAddress %s is not an IP address", settings->listen_address);
		return FALSE;
	}
	if (!msb_listener_add_inet(server->listener, inet, settings->tcp_port, &server->tcp_port,
	                           &error_local)) {
		if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
			g_set_error(
			        error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
			        "cannot listen on %s:%u: port %u is in use (another "
			        "my-service-bus?); stop that process or choose another port with "
			        "TcpPort or --tcp-port",
			        settings->listen_address, settings->tcp_port, settings->tcp_port);
		else
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "cannot listen on %s:%u (TcpPort): %s",
			            settings->listen_address, settings->tcp_port,
			            error_local->message);
		return FALSE;
	}
	if (settings->listen_unix_socket != NULL &&
	    !msb_listener_add_unix(server->listener, settings->listen_unix_socket, error)) {
		g_prefix_error(error, "cannot listen on ListenUnixSocket %s: ",
		               settings->listen_unix_socket);
		return FALSE;
	}
	return TRUE;
}

/* Serve clients: only once topics and queues are restored (node.md §4.1). */
static gboolean
msb_server_listen_clients(MsbServer *server, GError **error)
{
	const MsbSettings *settings = server->settings;

	if (!msb_listener_start(server->listener, error))
		return FALSE;
	server->tick_id = g_timeout_add_seconds(1, msb_server_tick_cb, server);
	g_message("listening on %s:%u%s%s (listen backlog %d, MaxConnections %" G_GINT64_FORMAT ")",
	          settings->listen_address, server->tcp_port,
	          settings->listen_unix_socket != NULL ? " and unix:" : "",
	          settings->listen_unix_socket != NULL ? settings->listen_unix_socket : "",
	          msb_listener_get_backlog(server->listener), settings->max_connections);
	if (server->listening != NULL)
		server->listening(server->listening_data);
	return TRUE;
}

static gboolean
msb_server_restored_cb(gpointer user_data)
{
	MsbServer *server = user_data;
	g_autoptr(GError) error = NULL;

	if (server->stopping)
		return G_SOURCE_REMOVE;
	if (!msb_server_listen_clients(server, &error)) {
		/* nothing can be served without the port: a supervisor must see the failure, in
		 * the journal with the rest of the log */
		g_warning("%s", error->message);
		exit(1);
	}
	return G_SOURCE_REMOVE;
}

gboolean
msb_server_start(MsbServer *server, GSourceFunc listening, gpointer listening_data, GError **error)
{
	const MsbSettings *settings;

	g_return_val_if_fail(server != NULL, FALSE);
	settings = server->settings;
	server->listening = listening;
	server->listening_data = listening_data;
	if (!msb_server_bind_clients(server, error))
		return FALSE;

	/* HTTP first: it answers (status, metrics) before clients are served */
	server->http = msb_http_new(server->broker, msb_server_http_info_cb, server);
	if (server->persistence != NULL)
		msb_http_set_persistence_client(server->http,
		                                msb_persistence_get_client(server->persistence));
	msb_http_sessions_set_timeouts(msb_http_get_sessions(server->http),
	                               settings->http_session_timeout_us,
	                               settings->http_await_timeout_us);
	msb_http_sessions_set_max(msb_http_get_sessions(server->http),
	                          (guint)settings->http_max_sessions);
	msb_http_router_set_admin_token(msb_http_get_router(server->http),
	                                settings->http_admin_token);
	msb_http_router_set_cors_origin(msb_http_get_router(server->http),
	                                settings->http_cors_origin);
	if (!msb_http_listen(server->http,
	                     settings->http_listen_address != NULL ? settings->http_listen_address
	                                                           : settings->listen_address,
	                     settings->http_port, &settings->http, error))
		return FALSE;
	/* D-Bus answers from the start too (PersistenceState "restoring") */
	if (server->dbus_bus != MSB_DBUS_BUS_NONE) {
		server->dbus = msb_dbus_new(server->broker, msb_http_get_stats_reader(server->http),
		                            server->dbus_bus, settings->dbus_admin_group,
		                            msb_server_http_info_cb, server);
		msb_dbus_start(server->dbus);
	}
	if (server->persistence != NULL) {
		msb_persistence_start(server->persistence, server->broker, msb_server_restored_cb,
		                      server);
		return TRUE;
	}
	return msb_server_listen_clients(server, error);
}

void
msb_server_set_dbus_bus(MsbServer *server, MsbDbusBus bus)
{
	g_return_if_fail(server != NULL);
	g_return_if_fail(server->dbus == NULL);
	server->dbus_bus = bus;
}

guint
msb_server_get_connection_count(MsbServer *server)
{
	g_return_val_if_fail(server != NULL, 0);
	return g_hash_table_size(server->connections);
}

guint16
msb_server_get_tcp_port(MsbServer *server)
{
	g_return_val_if_fail(server != NULL, 0);
	return server->tcp_port;
}

guint16
msb_server_get_http_port(MsbServer *server)
{
	g_return_val_if_fail(server != NULL, 0);
	return server->http != NULL ? msb_http_get_port(server->http) : 0;
}

static gboolean
msb_server_shutdown_step_cb(gpointer user_data)
{
	MsbServer *server = user_data;
	guint in_flight = msb_broker_count_batches_in_flight(server->broker);

	if (in_flight > 0 &&
	    g_get_monotonic_time() - server->shutdown_started_us < MSB_SERVER_DRAIN_TIMEOUT_US)
		return G_SOURCE_CONTINUE;
	if (in_flight > 0)
		g_message("shutdown: %u batches still unconfirmed; closing anyway", in_flight);
	server->shutdown_id = 0;
	msb_broker_run_deliveries(server->broker);
	msb_server_flush_all(server);
	msb_server_close_all(server, "broker shutting down");
	g_message("shutdown: all connections closed");
	if (server->persistence != NULL)
		msb_persistence_drain(server->persistence, MSB_SERVER_SAVE_TIMEOUT_US,
		                      server->shutdown_done, server->shutdown_done_data);
	else if (server->shutdown_done != NULL)
		server->shutdown_done(server->shutdown_done_data);
	return G_SOURCE_REMOVE;
}

void
msb_server_shutdown(MsbServer *server, GSourceFunc done, gpointer done_data)
{
	g_return_if_fail(server != NULL);
	if (server->stopping)
		return;
	server->stopping = TRUE;
	g_message("shutdown: no longer accepting connections or publishes");
	if (server->listener != NULL)
		msb_listener_close(server->listener);
	msb_broker_begin_shutdown(server->broker);
	server->shutdown_done = done;
	server->shutdown_done_data = done_data;
	server->shutdown_started_us = g_get_monotonic_time();
	server->shutdown_id = g_timeout_add(50, msb_server_shutdown_step_cb, server);
}
