/*
 * MsbServer: listeners, connections, the 1 s timer and graceful shutdown.
 *
 * Everything runs on the main loop. After a connection's input has been handled the server runs
 * the broker's pending delivery passes and then flushes every connection that got output, so
 * one read of many publishes ends in one send per affected client.
 */
#define G_LOG_DOMAIN "msb-server"

#include "msb-server.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "msb-broker.h"
#include "msb-connection.h"
#include "msb-http.h"
#include "msb-persistence.h"
#include "msb-session.h"

/* graceful shutdown: how long in-flight batches get to be confirmed */
#define MSB_SERVER_DRAIN_TIMEOUT_US (1 * G_USEC_PER_SEC)
/* graceful shutdown: how long pending messages and the final snapshot get to be saved */
#define MSB_SERVER_SAVE_TIMEOUT_US (30 * G_USEC_PER_SEC)

struct _MsbServer {
	MsbSettings *settings; /* not owned */
	MsbBroker *broker;
	MsbPersistence *persistence; /* NULL in memory */
	MsbHttp *http;
	GSourceFunc listening;
	gpointer listening_data;
	gboolean stopping;
	GSocketService *service;
	guint16 tcp_port;
	gchar *unix_path;        /* the socket file we created, removed at exit */
	GHashTable *connections; /* MsbConnection* → itself, one reference each */
	GPtrArray *dirty;        /* MsbConnection* with output to flush (references) */
	guint flush_idle_id;
	guint tick_id;
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
	MsbConnection *conn = session->user_data;

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
	MsbConnection *conn = session->user_data;

	if (conn != NULL)
		msb_connection_close(conn, reason);
}

static void
msb_server_connection_closed_cb(MsbConnection *conn, gpointer user_data)
{
	MsbServer *server = user_data;

	g_hash_table_remove(server->connections, conn);
}

static void
msb_server_input_done_cb(MsbConnection *conn, gpointer user_data)
{
	MsbServer *server = user_data;

	msb_broker_run_deliveries(server->broker);
	msb_server_flush_all(server);
}

static gboolean
msb_server_incoming_cb(GSocketService *service, GSocketConnection *sockconn, GObject *source,
                       gpointer user_data)
{
	MsbServer *server = user_data;
	MsbConnectionHooks hooks = {
	        .closed = msb_server_connection_closed_cb,
	        .input_done = msb_server_input_done_cb,
	};
	MsbConnection *conn;

	if (server->shutdown_id != 0) {
		(void)g_io_stream_close(G_IO_STREAM(sockconn), NULL, NULL);
		return TRUE;
	}
	conn = msb_connection_new(sockconn, server->broker, server->settings->max_packet_size,
	                          server->settings->send_buffer_size, &hooks, server);
	g_hash_table_add(server->connections, conn);
	return TRUE;
}

static gboolean
msb_server_tick_cb(gpointer user_data)
{
	MsbServer *server = user_data;
	gint64 now = g_get_monotonic_time();
	g_autoptr(GPtrArray) idle = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, server->connections);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		/* clients ping every 3 s; silence means a dead peer (protocol.md §5.4) */
		if (now - msb_connection_get_last_receive(key) >
		    server->settings->connection_timeout_us)
			g_ptr_array_add(idle, key);
	}
	for (guint i = 0; i < idle->len; i++)
		msb_connection_close(g_ptr_array_index(idle, i),
		                     "nothing received within ConnectionTimeout");
	msb_broker_tick(server->broker);
	msb_server_flush_all(server);
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

MsbServer *
msb_server_new(const MsbSettings *settings, GError **error)
{
	MsbServer *server;
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
	MsbBrokerCallbacks callbacks = {
	        .output_ready = msb_server_output_ready_cb,
	        .disconnect = msb_server_disconnect_cb,
	        .save_wanted = msb_server_save_wanted_cb,
	        .load_sub_page = msb_server_load_sub_page_cb,
	        .snapshot_wanted = msb_server_snapshot_wanted_cb,
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
	}
	server = g_new0(MsbServer, 1);
	server->settings = (MsbSettings *)settings;
	server->persistence = persistence;
	server->broker = msb_broker_new(&config, &callbacks, server);
	server->connections = g_hash_table_new_full(g_direct_hash, g_direct_equal,
	                                            (GDestroyNotify)msb_connection_unref, NULL);
	server->dirty = g_ptr_array_new_with_free_func((GDestroyNotify)msb_connection_unref);
	return server;
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
	g_clear_handle_id(&server->shutdown_id, g_source_remove);
	if (server->service != NULL) {
		g_socket_service_stop(server->service);
		g_socket_listener_close(G_SOCKET_LISTENER(server->service));
		g_clear_object(&server->service);
	}
	msb_server_close_all(server, "broker stopped");
	if (server->unix_path != NULL) {
		(void)g_unlink(server->unix_path);
		g_free(server->unix_path);
	}
	g_clear_pointer(&server->http, msb_http_free);
	/* before the broker: calls still in flight must find it gone, not freed */
	g_clear_pointer(&server->persistence, msb_persistence_free);
	g_ptr_array_unref(server->dirty);
	g_hash_table_unref(server->connections);
	msb_broker_free(server->broker);
	g_free(server);
}

static gboolean
msb_server_add_unix(MsbServer *server, const gchar *path, GError **error)
{
	g_autoptr(GSocketAddress) addr = NULL;
	GStatBuf st;

	/* a socket file left by a broker that did not exit cleanly would make bind() fail */
	if (g_lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			            "ListenUnixSocket %s exists and is not a socket; remove it or "
			            "choose another path",
			            path);
			return FALSE;
		}
		(void)g_unlink(path);
	}
	addr = g_unix_socket_address_new(path);
	if (!g_socket_listener_add_address(G_SOCKET_LISTENER(server->service), addr,
	                                   G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL,
	                                   NULL, error)) {
		g_prefix_error(error, "cannot listen on Unix socket %s: ", path);
		return FALSE;
	}
	server->unix_path = g_strdup(path);
	return TRUE;
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

/* Bind the client listeners: only once topics and queues are restored (node.md §4.1). */
static gboolean
msb_server_listen_clients(MsbServer *server, GError **error)
{
	g_autoptr(GInetAddress) inet = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	g_autoptr(GSocketAddress) effective = NULL;
	const MsbSettings *settings = server->settings;

	server->service = g_socket_service_new();
	inet = g_inet_address_new_from_string(settings->listen_address);
	if (inet == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "ListenAddress %s is not an IP address", settings->listen_address);
		return FALSE;
	}
	addr = g_inet_socket_address_new(inet, settings->tcp_port);
	if (!g_socket_listener_add_address(G_SOCKET_LISTENER(server->service), addr,
	                                   G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
	                                   &effective, error)) {
		g_prefix_error(error,
		               "cannot listen on %s:%u (TcpPort): ", settings->listen_address,
		               settings->tcp_port);
		return FALSE;
	}
	server->tcp_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
	if (settings->listen_unix_socket != NULL &&
	    !msb_server_add_unix(server, settings->listen_unix_socket, error))
		return FALSE;

	g_signal_connect(server->service, "incoming", G_CALLBACK(msb_server_incoming_cb), server);
	g_socket_service_start(server->service);
	server->tick_id = g_timeout_add_seconds(1, msb_server_tick_cb, server);
	g_message("listening on %s:%u%s%s", settings->listen_address, server->tcp_port,
	          server->unix_path != NULL ? " and unix:" : "",
	          server->unix_path != NULL ? server->unix_path : "");
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
		/* nothing can be served without the port: a supervisor must see the failure */
		g_printerr("my-service-bus: %s\n", error->message);
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

	/* HTTP first: it answers (status, metrics) before clients are served */
	server->http = msb_http_new(server->broker, msb_server_http_info_cb, server);
	if (!msb_http_listen(server->http, settings->listen_address, settings->http_port,
	                     &settings->http, error))
		return FALSE;
	if (server->persistence != NULL) {
		msb_persistence_start(server->persistence, server->broker, msb_server_restored_cb,
		                      server);
		return TRUE;
	}
	return msb_server_listen_clients(server, error);
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
	if (server->service != NULL) {
		g_socket_service_stop(server->service);
		g_socket_listener_close(G_SOCKET_LISTENER(server->service));
	}
	if (server->unix_path != NULL)
		(void)g_unlink(server->unix_path);
	msb_broker_begin_shutdown(server->broker);
	server->shutdown_done = done;
	server->shutdown_done_data = done_data;
	server->shutdown_started_us = g_get_monotonic_time();
	server->shutdown_id = g_timeout_add(50, msb_server_shutdown_step_cb, server);
}
