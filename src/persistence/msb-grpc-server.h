/*
 * MsbGrpcServer: a gRPC server on the C core (grpc/grpc.h) with one completion-queue thread, a
 * state machine per call and a worker pool for handlers that block.
 *
 * It knows nothing about persistence: the service registers its methods (path, kind, handler)
 * and writes its handlers as plain blocking code (receive, send, finish). The traps found with
 * the C core (../shared/notes-grpc-c-core.md) are handled here once: a generic request answers
 * unregistered methods UNIMPLEMENTED at once instead of leaving them queued until the client's
 * deadline, TCP listeners bind without SO_REUSEPORT and a Unix socket is guarded by a lock file,
 * so a second instance fails to start instead of silently sharing or stealing the address, and
 * every call context is freed only when both its last batch and its close notification are back.
 *
 * Threading: the completion-queue thread never blocks. It accepts calls, answers the gate and
 * runs handlers flagged INLINE (quick ones such as Ping); every other handler runs in a pool
 * thread, where msb_grpc_call_recv() and msb_grpc_call_send() wait for their batch, so a slow
 * save (an fsync) holds one pool thread and nothing else.
 */
#pragma once

#include <gio/gio.h>
#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

G_BEGIN_DECLS

/* status codes 0 (OK) to 16 (UNAUTHENTICATED) */
#define MSB_GRPC_N_STATUS 17

typedef struct _MsbGrpcServer MsbGrpcServer;
typedef struct _MsbGrpcCall MsbGrpcCall;

typedef enum {
	MSB_GRPC_UNARY,            /* one request message (with the call), one response */
	MSB_GRPC_SERVER_STREAMING, /* one request message, any number of responses */
	MSB_GRPC_CLIENT_STREAMING, /* requests read with msb_grpc_call_recv(), one response */
} MsbGrpcMethodKind;

typedef enum {
	MSB_GRPC_METHOD_FLAG_NONE = 0,
	/* run on the completion-queue thread: the handler must not block and may only finish */
	MSB_GRPC_METHOD_FLAG_INLINE = 1 << 0,
	/* not subject to the gate (answers while the service is still starting) */
	MSB_GRPC_METHOD_FLAG_UNGATED = 1 << 1,
} MsbGrpcMethodFlags;

/* Runs once per call; it must end the call with one of the msb_grpc_call_finish*() functions
 * (if it does not, the call is answered INTERNAL). */
typedef void (*MsbGrpcHandler)(MsbGrpcCall *call, gpointer user_data);

/* Called on the completion-queue thread before a gated method's handler; anything but
 * GRPC_STATUS_OK answers the call with that status and *@details (set it, it is freed). An
 * UNAVAILABLE answer carries the trailer grpc-retry-pushback-ms (100), which tells a client
 * that the service is starting or stopping and that a retry soon is worthwhile. */
typedef grpc_status_code (*MsbGrpcGateFunc)(gpointer user_data, gchar **details);

/* Per method and status code, how many calls ended so. */
typedef struct {
	const gchar *path; /* "unknown" for unregistered methods */
	guint64 by_code[MSB_GRPC_N_STATUS];
} MsbGrpcMethodStats;

/* @max_receive: largest request message accepted, in bytes; @max_workers: pool size. */
MsbGrpcServer *
msb_grpc_server_new(gsize max_receive, guint max_workers);
/* A batch (receive or send) that makes no progress for this long cancels its call (default
 * 30 s), so that a client that stops reading cannot hold a worker for ever. */
void
msb_grpc_server_set_op_timeout(MsbGrpcServer *server, gint64 timeout_us);
/* Register before msb_grpc_server_start(); @path is kept by reference (a string constant). */
void
msb_grpc_server_add_method(MsbGrpcServer *server, const gchar *path, MsbGrpcMethodKind kind,
                           MsbGrpcMethodFlags flags, MsbGrpcHandler handler, gpointer user_data);
void
msb_grpc_server_set_gate(MsbGrpcServer *server, MsbGrpcGateFunc gate, gpointer user_data);

/* Listen on @address (numeric IPv4 or IPv6) and @port (0 = any free port); *@bound_port gets
 * the port. Fails if the port is taken, by anyone, including another instance. */
gboolean
msb_grpc_server_add_tcp(MsbGrpcServer *server, const gchar *address, guint16 port,
                        guint16 *bound_port, GError **error);
/* Listen on the Unix socket @path too. PATH.lock is held (flock) for the life of the server, so
 * a second instance is refused instead of taking the socket over; a stale socket file is
 * replaced. */
gboolean
msb_grpc_server_add_unix(MsbGrpcServer *server, const gchar *path, GError **error);
gboolean
msb_grpc_server_start(MsbGrpcServer *server, GError **error);

/*
 * Graceful stop: no new calls; calls in flight get @grace_us to end, then they are cancelled.
 * @done runs on the thread-default main context of the caller once every call has ended and the
 * completion-queue thread has stopped. Call once.
 */
void
msb_grpc_server_shutdown(MsbGrpcServer *server, gint64 grace_us, GSourceFunc done,
                         gpointer user_data);
/* After msb_grpc_server_shutdown()'s @done (or when never started). */
void
msb_grpc_server_free(MsbGrpcServer *server);

/* A snapshot of the per-method counters, registered methods first; free with g_array_unref. */
GArray *
msb_grpc_server_get_stats(MsbGrpcServer *server);
/* Calls accepted and not yet ended. */
guint
msb_grpc_server_get_n_active(MsbGrpcServer *server);

/* ---- inside a handler ---- */

const gchar *
msb_grpc_call_get_path(MsbGrpcCall *call);
/* "ipv4:127.0.0.1:50312" and the like, for messages; free it */
gchar *
msb_grpc_call_get_peer(MsbGrpcCall *call);
/* The request of a unary or server-streaming method; NULL if the client sent none. */
GBytes *
msb_grpc_call_get_request(MsbGrpcCall *call);
/*
 * Client-streaming: the next request message. TRUE with *@message NULL once the client has
 * half-closed; FALSE when the call broke (client gone, deadline, cancelled, op timeout): then
 * finish it anyway (the status goes nowhere) and return.
 */
gboolean
msb_grpc_call_recv(MsbGrpcCall *call, GBytes **message);
/* Server-streaming: queue one response message. Returns as soon as the previous message has
 * been handed to the transport; FALSE when the call broke. */
gboolean
msb_grpc_call_send(MsbGrpcCall *call, GBytes *message);
gboolean
msb_grpc_call_send_message(MsbGrpcCall *call, const ProtobufCMessage *message);
/* End the call with @code (and @details, may be NULL for OK). For a unary method, end it with
 * msb_grpc_call_finish_with_message() instead when there is a response. */
void
msb_grpc_call_finish(MsbGrpcCall *call, grpc_status_code code, const gchar *details);
void
msb_grpc_call_finish_with_message(MsbGrpcCall *call, const ProtobufCMessage *message);
/* TRUE once the call broke (the client went away, or its deadline passed). */
gboolean
msb_grpc_call_is_broken(MsbGrpcCall *call);

/* The protobuf bytes of @message. */
GBytes *
msb_grpc_pack(const ProtobufCMessage *message);
const gchar *
msb_grpc_status_name(grpc_status_code code);

G_END_DECLS
