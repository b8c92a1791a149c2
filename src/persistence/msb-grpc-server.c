/*
 * MsbGrpcServer: the C-core plumbing of the persistence service's gRPC server (see the header).
 *
 * A call context (MsbGrpcCall) is reference counted: the dispatcher (or the pool job running the
 * handler) holds one reference, and so does every batch in flight, including the
 * RECV_CLOSE_ON_SERVER batch started when the call arrives. The completion-queue thread drops a
 * batch's reference when its tag comes back, so the context and its grpc_call live exactly as
 * long as something may still touch them, whatever order the client, the handler and the
 * transport finish in.
 *
 * A handler has at most one batch of ours in flight (the C core allows one op of each kind, and
 * order matters), so a pool thread that wants to receive or send waits on the call's condition
 * variable until the completion-queue thread reports the previous batch. Sends do not wait for
 * their own completion: the next message is prepared while the previous one is on its way.
 */
#define G_LOG_DOMAIN "msb-persistence-grpc"

#include "msb-grpc-server.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "msb-socket-lock.h"

/* calls requested in advance per method, so that a burst does not wait for a re-arm */
#define REQUESTS_PER_METHOD   2
#define DEFAULT_OP_TIMEOUT_US (30 * G_USEC_PER_SEC)
/* below this a message is copied into a slice; above it the slice refers to the GBytes */
#define COPY_BELOW 4096
/* how far a handler may run ahead of the transport when streaming responses */
#define SEND_QUEUE_MESSAGES 256
#define SEND_QUEUE_BYTES    (8u * 1024u * 1024u)
/* what a "not now" answer tells the client to wait before it retries */
#define MSB_GRPC_RETRY_PUSHBACK_MS "100"

typedef enum {
	TAG_NEW,
	TAG_CLOSE,
	TAG_OP,
	TAG_SHUTDOWN,
} MsbTagKind;

typedef struct {
	MsbTagKind kind;
	MsbGrpcCall *call;
} MsbTag;

typedef struct {
	const gchar *path;
	MsbGrpcMethodKind kind;
	MsbGrpcMethodFlags flags;
	MsbGrpcHandler handler;
	gpointer user_data;
	void *handle; /* from grpc_server_register_method() */
	guint index;
} MsbGrpcMethod;

struct _MsbGrpcServer {
	grpc_server *server;
	grpc_completion_queue *cq;
	gsize max_receive;
	gint64 op_timeout_us;
	GPtrArray *methods; /* MsbGrpcMethod */
	MsbGrpcGateFunc gate;
	gpointer gate_data;
	GThread *cq_thread;
	GThreadPool *pool;
	gboolean started;
	gint shutting_down; /* atomic */
	MsbTag shutdown_tag;

	/* set under life_lock, read by the completion-queue thread after the queue shut down:
	 * that order otherwise rests on gRPC's internal locks, which ThreadSanitizer cannot see */
	GMainContext *done_context;
	GSourceFunc done;
	gpointer done_data;
	GSource *cancel_source;

	gint lock_fd;
	gchar *unix_path;

	GMutex stats_lock;
	guint64 (*counts)[MSB_GRPC_N_STATUS]; /* methods->len + 1 rows; the last is "unknown" */
	gint n_active;                        /* atomic */

	/* The queue may only be shut down once no context can start a batch any more: the
	 * shutdown tag says that the core is done with every call, not that our pool threads are
	 * (one may still be in an fsync, holding its call). */
	GMutex life_lock;
	guint n_contexts;
	gboolean shutdown_seen;
};

struct _MsbGrpcCall {
	MsbGrpcServer *server;
	MsbGrpcMethod *method; /* NULL: an unregistered method, from the generic request */
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_call_details details; /* generic requests only */
	grpc_byte_buffer *payload; /* the request of unary and server-streaming methods */
	MsbTag new_tag;
	MsbTag close_tag;
	MsbTag op_tag;
	gint refs; /* atomic */
	int cancelled;
	gboolean accepted;

	GMutex lock;
	GCond cond;
	gboolean op_pending; /* one batch of ours is in flight (or sends are queued behind it) */
	gboolean op_ok;
	grpc_byte_buffer *send_bb; /* of the batch in flight */
	GQueue send_queue;         /* grpc_byte_buffer: messages to send after send_bb */
	gsize queued_bytes;
	grpc_byte_buffer *recv_bb;
	gboolean sent_initial_md;
	gboolean finished;
	gboolean broken;
};

/* ---- bytes ↔ byte buffers ---------------------------------------------------------------- */

static void
msb_slice_box_free(gpointer data)
{
	grpc_slice *slice = data;

	grpc_slice_unref(*slice);
	g_free(slice);
}

/* One copy (readall joins the transport's slices); the GBytes then owns that slice. */
static GBytes *
msb_bb_to_bytes(grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader reader;
	grpc_slice *slice;

	if (!grpc_byte_buffer_reader_init(&reader, bb))
		return NULL;
	slice = g_new(grpc_slice, 1);
	*slice = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	/* taken from the heap copy: a small slice keeps its bytes inside the struct */
	return g_bytes_new_with_free_func(GRPC_SLICE_START_PTR(*slice), GRPC_SLICE_LENGTH(*slice),
	                                  msb_slice_box_free, slice);
}

static void
msb_bytes_unref_cb(void *data)
{
	g_bytes_unref(data);
}

static grpc_byte_buffer *
msb_bytes_to_bb(GBytes *bytes)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	grpc_slice slice;
	grpc_byte_buffer *bb;

	if (len == 0)
		slice = grpc_empty_slice();
	else if (len < COPY_BELOW)
		slice = grpc_slice_from_copied_buffer((const char *)data, len);
	else
		slice = grpc_slice_new_with_user_data((void *)data, len, msb_bytes_unref_cb,
		                                      g_bytes_ref(bytes));
	bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

static grpc_byte_buffer *
msb_message_to_bb(const ProtobufCMessage *message)
{
	gsize len = protobuf_c_message_get_packed_size(message);
	grpc_slice slice = grpc_slice_malloc(len);
	grpc_byte_buffer *bb;

	protobuf_c_message_pack(message, GRPC_SLICE_START_PTR(slice));
	bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

GBytes *
msb_grpc_pack(const ProtobufCMessage *message)
{
	gsize len;
	guint8 *buf;

	g_return_val_if_fail(message != NULL, NULL);
	len = protobuf_c_message_get_packed_size(message);
	buf = g_malloc(len > 0 ? len : 1);
	protobuf_c_message_pack(message, buf);
	return g_bytes_new_take(buf, len);
}

const gchar *
msb_grpc_status_name(grpc_status_code code)
{
	static const gchar *const names[MSB_GRPC_N_STATUS] = {
	        "OK",
	        "CANCELLED",
	        "UNKNOWN",
	        "INVALID_ARGUMENT",
	        "DEADLINE_EXCEEDED",
	        "NOT_FOUND",
	        "ALREADY_EXISTS",
	        "PERMISSION_DENIED",
	        "RESOURCE_EXHAUSTED",
	        "FAILED_PRECONDITION",
	        "ABORTED",
	        "OUT_OF_RANGE",
	        "UNIMPLEMENTED",
	        "INTERNAL",
	        "UNAVAILABLE",
	        "DATA_LOSS",
	        "UNAUTHENTICATED",
	};

	if ((gint)code < 0 || (gint)code >= MSB_GRPC_N_STATUS)
		return "UNKNOWN";
	return names[code];
}

/* ---- call contexts ----------------------------------------------------------------------- */

/* With life_lock held. */
static void
msb_server_maybe_shutdown_cq(MsbGrpcServer *server)
{
	if (server->shutdown_seen && server->n_contexts == 0) {
		server->shutdown_seen = FALSE;
		grpc_completion_queue_shutdown(server->cq);
	}
}

static MsbGrpcCall *
msb_call_new(MsbGrpcServer *server, MsbGrpcMethod *method)
{
	MsbGrpcCall *call = g_new0(MsbGrpcCall, 1);

	g_mutex_lock(&server->life_lock);
	server->n_contexts++;
	g_mutex_unlock(&server->life_lock);

	call->server = server;
	call->method = method;
	grpc_metadata_array_init(&call->md);
	if (method == NULL)
		grpc_call_details_init(&call->details);
	call->new_tag = (MsbTag){TAG_NEW, call};
	call->close_tag = (MsbTag){TAG_CLOSE, call};
	call->op_tag = (MsbTag){TAG_OP, call};
	call->refs = 1;
	g_queue_init(&call->send_queue);
	g_mutex_init(&call->lock);
	g_cond_init(&call->cond);
	return call;
}

static void
msb_call_ref(MsbGrpcCall *call)
{
	g_atomic_int_inc(&call->refs);
}

static void
msb_call_unref(MsbGrpcCall *call)
{
	MsbGrpcServer *server = call->server;

	if (!g_atomic_int_dec_and_test(&call->refs))
		return;
	if (call->accepted)
		g_atomic_int_add(&server->n_active, -1);
	if (call->call != NULL)
		grpc_call_unref(call->call);
	grpc_metadata_array_destroy(&call->md);
	if (call->method == NULL)
		grpc_call_details_destroy(&call->details);
	g_clear_pointer(&call->payload, grpc_byte_buffer_destroy);
	g_clear_pointer(&call->recv_bb, grpc_byte_buffer_destroy);
	g_clear_pointer(&call->send_bb, grpc_byte_buffer_destroy);
	g_queue_clear_full(&call->send_queue, (GDestroyNotify)grpc_byte_buffer_destroy);
	g_mutex_clear(&call->lock);
	g_cond_clear(&call->cond);
	g_free(call);

	g_mutex_lock(&server->life_lock);
	server->n_contexts--;
	msb_server_maybe_shutdown_cq(server);
	g_mutex_unlock(&server->life_lock);
}

/* Asks the core for the next call of @method (NULL: any unregistered method). */
static void
msb_server_request(MsbGrpcServer *server, MsbGrpcMethod *method)
{
	MsbGrpcCall *call = msb_call_new(server, method);
	grpc_call_error err;

	if (method != NULL)
		err = grpc_server_request_registered_call(
		        server->server, method->handle, &call->call, &call->deadline, &call->md,
		        method->kind == MSB_GRPC_CLIENT_STREAMING ? NULL : &call->payload,
		        server->cq, server->cq, &call->new_tag);
	else
		err = grpc_server_request_call(server->server, &call->call, &call->details,
		                               &call->md, server->cq, server->cq, &call->new_tag);
	if (err != GRPC_CALL_OK) {
		/* only a programming error gets here (a wrong payload mode, say) */
		g_critical("cannot request calls of %s: gRPC call error %d",
		           method != NULL ? method->path : "unregistered methods", err);
		msb_call_unref(call);
	}
}

static void
msb_server_on_op(MsbGrpcCall *call, gboolean ok);

/* Starts @ops as our batch in flight (op_pending is already TRUE); its completion drops the
 * reference taken here. */
static void
msb_call_launch(MsbGrpcCall *call, const grpc_op *ops, gsize n_ops)
{
	grpc_call_error err;

	msb_call_ref(call);
	err = grpc_call_start_batch(call->call, ops, n_ops, &call->op_tag, NULL);
	if (err != GRPC_CALL_OK) {
		g_critical("%s: cannot start a gRPC batch: call error %d",
		           msb_grpc_call_get_path(call), err);
		msb_server_on_op(call, FALSE);
	}
}

static void
msb_call_start_batch(MsbGrpcCall *call, const grpc_op *ops, gsize n_ops)
{
	g_mutex_lock(&call->lock);
	call->op_pending = TRUE;
	g_mutex_unlock(&call->lock);
	msb_call_launch(call, ops, n_ops);
}

/* With call->lock held: the op timeout passed without progress; cancel the call, which makes
 * the batch in flight fail at once (the core still owns its buffers until then). */
static void
msb_call_cancel_stalled_locked(MsbGrpcCall *call)
{
	g_mutex_unlock(&call->lock);
	g_warning("%s: no progress for %" G_GINT64_FORMAT " s; cancelling the call",
	          msb_grpc_call_get_path(call), call->server->op_timeout_us / G_USEC_PER_SEC);
	grpc_call_cancel_with_status(call->call, GRPC_STATUS_DEADLINE_EXCEEDED,
	                             "my-service-bus-persistence: the call made no progress and "
	                             "was cancelled",
	                             NULL);
	g_mutex_lock(&call->lock);
}

/*
 * Waits until no batch of ours is in flight and no send is queued. A batch that takes longer
 * than the op timeout means a client that stopped reading or sending: the call is cancelled,
 * and the wait goes on for the failure that follows.
 */
static gboolean
msb_call_wait(MsbGrpcCall *call)
{
	gint64 deadline = g_get_monotonic_time() + call->server->op_timeout_us;
	gboolean timed_out = FALSE;
	gboolean ok;

	g_mutex_lock(&call->lock);
	while (call->op_pending) {
		if (timed_out) {
			g_cond_wait(&call->cond, &call->lock);
			continue;
		}
		if (!g_cond_wait_until(&call->cond, &call->lock, deadline) && call->op_pending) {
			timed_out = TRUE;
			msb_call_cancel_stalled_locked(call);
		}
	}
	ok = !call->broken;
	g_mutex_unlock(&call->lock);
	return ok;
}

const gchar *
msb_grpc_call_get_path(MsbGrpcCall *call)
{
	g_return_val_if_fail(call != NULL, NULL);
	return call->method != NULL ? call->method->path : "(unregistered method)";
}

gchar *
msb_grpc_call_get_peer(MsbGrpcCall *call)
{
	char *peer;
	gchar *out;

	g_return_val_if_fail(call != NULL, NULL);
	peer = grpc_call_get_peer(call->call);
	out = g_strdup(peer != NULL ? peer : "(unknown peer)");
	gpr_free(peer);
	return out;
}

GBytes *
msb_grpc_call_get_request(MsbGrpcCall *call)
{
	g_return_val_if_fail(call != NULL, NULL);
	g_return_val_if_fail(call->method != NULL, NULL);
	g_return_val_if_fail(call->method->kind != MSB_GRPC_CLIENT_STREAMING, NULL);
	if (call->payload == NULL)
		return NULL;
	return msb_bb_to_bytes(call->payload);
}

gboolean
msb_grpc_call_recv(MsbGrpcCall *call, GBytes **message)
{
	grpc_op op = {0};

	g_return_val_if_fail(call != NULL, FALSE);
	g_return_val_if_fail(message != NULL, FALSE);
	g_return_val_if_fail(call->method != NULL, FALSE);
	g_return_val_if_fail(call->method->kind == MSB_GRPC_CLIENT_STREAMING, FALSE);
	g_return_val_if_fail(!call->finished, FALSE);

	*message = NULL;
	if (!msb_call_wait(call))
		return FALSE;
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &call->recv_bb;
	msb_call_start_batch(call, &op, 1);
	if (!msb_call_wait(call)) {
		g_clear_pointer(&call->recv_bb, grpc_byte_buffer_destroy);
		return FALSE;
	}
	/* NULL: the client half-closed */
	if (call->recv_bb == NULL)
		return TRUE;
	*message = msb_bb_to_bytes(call->recv_bb);
	g_clear_pointer(&call->recv_bb, grpc_byte_buffer_destroy);
	if (*message == NULL) {
		/* a compressed message we cannot read (we never enable compression) */
		grpc_call_cancel_with_status(call->call, GRPC_STATUS_INTERNAL,
		                             "my-service-bus-persistence could not read a message",
		                             NULL);
		call->broken = TRUE;
		return FALSE;
	}
	return TRUE;
}

/*
 * Queues @bb behind the send in flight, or starts it when there is none. The completion-queue
 * thread starts each queued message as soon as the previous one is done, so a long stream costs
 * no thread switch per message; the queue is bounded, so a slow client slows the handler down
 * instead of filling our memory.
 */
static gboolean
msb_call_send_bb(MsbGrpcCall *call, grpc_byte_buffer *bb)
{
	gint64 deadline = g_get_monotonic_time() + call->server->op_timeout_us;
	gboolean timed_out = FALSE;
	grpc_op ops[2] = {{0}};
	gsize n = 0;

	g_mutex_lock(&call->lock);
	while (!call->broken && call->op_pending &&
	       (call->send_queue.length >= SEND_QUEUE_MESSAGES ||
	        call->queued_bytes >= SEND_QUEUE_BYTES)) {
		if (timed_out) {
			g_cond_wait(&call->cond, &call->lock);
			continue;
		}
		if (!g_cond_wait_until(&call->cond, &call->lock, deadline)) {
			timed_out = TRUE;
			msb_call_cancel_stalled_locked(call);
		}
	}
	if (call->broken) {
		g_mutex_unlock(&call->lock);
		grpc_byte_buffer_destroy(bb);
		return FALSE;
	}
	if (call->op_pending) {
		g_queue_push_tail(&call->send_queue, bb);
		call->queued_bytes += grpc_byte_buffer_length(bb);
		g_mutex_unlock(&call->lock);
		return TRUE;
	}
	call->op_pending = TRUE;
	call->send_bb = bb;
	if (!call->sent_initial_md) {
		ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
		n++;
		call->sent_initial_md = TRUE;
	}
	g_mutex_unlock(&call->lock);
	ops[n].op = GRPC_OP_SEND_MESSAGE;
	ops[n].data.send_message.send_message = bb;
	n++;
	msb_call_launch(call, ops, n);
	return TRUE;
}

gboolean
msb_grpc_call_send(MsbGrpcCall *call, GBytes *message)
{
	g_return_val_if_fail(call != NULL, FALSE);
	g_return_val_if_fail(message != NULL, FALSE);
	g_return_val_if_fail(call->method != NULL, FALSE);
	g_return_val_if_fail(call->method->kind == MSB_GRPC_SERVER_STREAMING, FALSE);
	g_return_val_if_fail(!call->finished, FALSE);
	return msb_call_send_bb(call, msb_bytes_to_bb(message));
}

gboolean
msb_grpc_call_send_message(MsbGrpcCall *call, const ProtobufCMessage *message)
{
	g_return_val_if_fail(call != NULL, FALSE);
	g_return_val_if_fail(message != NULL, FALSE);
	g_return_val_if_fail(call->method != NULL, FALSE);
	g_return_val_if_fail(call->method->kind == MSB_GRPC_SERVER_STREAMING, FALSE);
	g_return_val_if_fail(!call->finished, FALSE);
	return msb_call_send_bb(call, msb_message_to_bb(message));
}

gboolean
msb_grpc_call_is_broken(MsbGrpcCall *call)
{
	gboolean broken;

	g_return_val_if_fail(call != NULL, TRUE);
	g_mutex_lock(&call->lock);
	broken = call->broken;
	g_mutex_unlock(&call->lock);
	return broken;
}

static void
msb_server_count(MsbGrpcServer *server, MsbGrpcCall *call, grpc_status_code code)
{
	guint row = call->method != NULL ? call->method->index : server->methods->len;

	if ((gint)code < 0 || (gint)code >= MSB_GRPC_N_STATUS)
		code = GRPC_STATUS_UNKNOWN;
	g_mutex_lock(&server->stats_lock);
	server->counts[row][code]++;
	g_mutex_unlock(&server->stats_lock);
}

/*
 * Ends the call. @retry: the answer means "not now" (starting, stopping) rather than "no", so
 * the status carries grpc-retry-pushback-ms, gRPC's trailer for "retry after this long"; our
 * client retries such answers within its deadline, and gets every other error at once.
 */
static void
msb_call_finish_full(MsbGrpcCall *call, grpc_status_code code, const gchar *details,
                     grpc_byte_buffer *bb, gboolean retry)
{
	grpc_op ops[3] = {{0}};
	gsize n = 0;
	grpc_slice details_slice;
	grpc_metadata pushback = {0};

	call->finished = TRUE;
	/* a send still in flight must be done first: one op of a kind at a time */
	msb_call_wait(call);
	msb_server_count(call->server, call, code);
	if (code != GRPC_STATUS_OK)
		g_debug("%s: %s: %s", msb_grpc_call_get_path(call), msb_grpc_status_name(code),
		        details != NULL ? details : "");
	if (!call->sent_initial_md) {
		ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
		n++;
		call->sent_initial_md = TRUE;
	}
	if (bb != NULL) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = bb;
		n++;
		call->send_bb = bb;
	}
	details_slice = grpc_slice_from_copied_string(details != NULL ? details : "");
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	if (retry) {
		pushback.key = grpc_slice_from_static_string("grpc-retry-pushback-ms");
		pushback.value = grpc_slice_from_static_string(MSB_GRPC_RETRY_PUSHBACK_MS);
		ops[n].data.send_status_from_server.trailing_metadata_count = 1;
		ops[n].data.send_status_from_server.trailing_metadata = &pushback;
	}
	ops[n].data.send_status_from_server.status = code;
	ops[n].data.send_status_from_server.status_details = &details_slice;
	n++;
	msb_call_start_batch(call, ops, n);
	/* the core copies the details and the metadata when the batch starts */
	grpc_slice_unref(details_slice);
}

static void
msb_call_finish_bb(MsbGrpcCall *call, grpc_status_code code, const gchar *details,
                   grpc_byte_buffer *bb)
{
	msb_call_finish_full(call, code, details, bb, FALSE);
}

void
msb_grpc_call_finish(MsbGrpcCall *call, grpc_status_code code, const gchar *details)
{
	g_return_if_fail(call != NULL);
	g_return_if_fail(!call->finished);
	msb_call_finish_bb(call, code, details, NULL);
}

void
msb_grpc_call_finish_with_message(MsbGrpcCall *call, const ProtobufCMessage *message)
{
	g_return_if_fail(call != NULL);
	g_return_if_fail(message != NULL);
	g_return_if_fail(!call->finished);
	msb_call_finish_bb(call, GRPC_STATUS_OK, NULL, msb_message_to_bb(message));
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void
msb_call_run_handler(MsbGrpcCall *call)
{
	call->method->handler(call, call->method->user_data);
	if (!call->finished) {
		g_critical("%s: the handler returned without answering", call->method->path);
		msb_grpc_call_finish(call, GRPC_STATUS_INTERNAL,
		                     "my-service-bus-persistence did not answer this call");
	}
}

static void
msb_server_worker(gpointer data, gpointer user_data)
{
	MsbGrpcCall *call = data;

	msb_call_run_handler(call);
	msb_call_unref(call);
}

static void
msb_server_answer_unknown(MsbGrpcCall *call)
{
	char *method = grpc_slice_to_c_string(call->details.method);
	g_autofree gchar *details = NULL;

	details = g_strdup_printf("my-service-bus-persistence does not serve %s (it speaks the G3 "
	                          "persistence protocol)",
	                          method);
	g_message("unknown method %s called; answering UNIMPLEMENTED", method);
	gpr_free(method);
	msb_call_finish_bb(call, GRPC_STATUS_UNIMPLEMENTED, details, NULL);
}

/* The "new call" tag of @call came back with @ok. Runs on the completion-queue thread. */
static void
msb_server_on_new(MsbGrpcServer *server, MsbGrpcCall *call, gboolean ok)
{
	grpc_op op = {0};
	grpc_call_error err;

	if (!ok) {
		/* the server is shutting down: this request will never get a call */
		msb_call_unref(call);
		return;
	}
	if (!g_atomic_int_get(&server->shutting_down))
		msb_server_request(server, call->method);
	call->accepted = TRUE;
	g_atomic_int_inc(&server->n_active);

	/* tells us about cancellation and the deadline, and must be in flight for the whole call */
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &call->cancelled;
	msb_call_ref(call);
	err = grpc_call_start_batch(call->call, &op, 1, &call->close_tag, NULL);
	if (err != GRPC_CALL_OK) {
		g_critical("cannot watch a call for its end: call error %d", err);
		msb_call_unref(call);
	}

	if (call->method == NULL) {
		msb_server_answer_unknown(call);
		msb_call_unref(call);
		return;
	}
	if (!(call->method->flags & MSB_GRPC_METHOD_FLAG_UNGATED)) {
		grpc_status_code code = GRPC_STATUS_OK;
		g_autofree gchar *details = NULL;

		if (g_atomic_int_get(&server->shutting_down)) {
			code = GRPC_STATUS_UNAVAILABLE;
			details = g_strdup("my-service-bus-persistence is shutting down");
		} else if (server->gate != NULL) {
			code = server->gate(server->gate_data, &details);
		}
		if (code != GRPC_STATUS_OK) {
			msb_call_finish_full(call, code, details, NULL,
			                     code == GRPC_STATUS_UNAVAILABLE);
			msb_call_unref(call);
			return;
		}
	}
	if (call->method->flags & MSB_GRPC_METHOD_FLAG_INLINE) {
		msb_call_run_handler(call);
		msb_call_unref(call);
		return;
	}
	/* the pool job owns the dispatcher's reference now */
	g_thread_pool_push(server->pool, call, NULL);
}

/* A batch of ours completed (on the completion-queue thread, or at once when it could not be
 * started): start the next queued send, or wake the handler. */
static void
msb_server_on_op(MsbGrpcCall *call, gboolean ok)
{
	grpc_byte_buffer *next = NULL;

	g_mutex_lock(&call->lock);
	g_clear_pointer(&call->send_bb, grpc_byte_buffer_destroy);
	call->op_ok = ok;
	if (!ok)
		call->broken = TRUE;
	if (!call->broken && call->send_queue.length > 0) {
		next = g_queue_pop_head(&call->send_queue);
		call->queued_bytes -= grpc_byte_buffer_length(next);
		call->send_bb = next;
	} else {
		g_queue_clear_full(&call->send_queue, (GDestroyNotify)grpc_byte_buffer_destroy);
		call->queued_bytes = 0;
		call->op_pending = FALSE;
	}
	g_cond_broadcast(&call->cond);
	g_mutex_unlock(&call->lock);
	if (next != NULL) {
		grpc_op op = {0};

		op.op = GRPC_OP_SEND_MESSAGE;
		op.data.send_message.send_message = next;
		msb_call_launch(call, &op, 1);
	}
	msb_call_unref(call);
}

static gboolean
msb_server_done_cb(gpointer data)
{
	MsbGrpcServer *server = data;

	if (server->cancel_source != NULL) {
		g_source_destroy(server->cancel_source);
		g_clear_pointer(&server->cancel_source, g_source_unref);
	}
	if (server->done != NULL)
		server->done(server->done_data);
	return G_SOURCE_REMOVE;
}

static gpointer
msb_server_cq_thread(gpointer data)
{
	MsbGrpcServer *server = data;
	GMainContext *done_context;

	for (;;) {
		grpc_event ev = grpc_completion_queue_next(
		        server->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		MsbTag *tag;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		tag = ev.tag;
		switch (tag->kind) {
		case TAG_NEW:
			msb_server_on_new(server, tag->call, ev.success != 0);
			break;
		case TAG_CLOSE:
			msb_call_unref(tag->call);
			break;
		case TAG_OP:
			msb_server_on_op(tag->call, ev.success != 0);
			break;
		case TAG_SHUTDOWN:
			/* the core is done with every call; the queue goes once we are too */
			g_mutex_lock(&server->life_lock);
			server->shutdown_seen = TRUE;
			msb_server_maybe_shutdown_cq(server);
			g_mutex_unlock(&server->life_lock);
			break;
		default:
			g_assert_not_reached();
		}
	}
	g_mutex_lock(&server->life_lock);
	done_context = server->done_context;
	g_mutex_unlock(&server->life_lock);
	if (done_context != NULL) {
		/* an idle source, not g_main_context_invoke(), which may run the callback right
		 * here when nobody iterates the context at this instant */
		GSource *source = g_idle_source_new();

		g_source_set_callback(source, msb_server_done_cb, server, NULL);
		g_source_attach(source, done_context);
		g_source_unref(source);
	}
	return NULL;
}

/* ---- the server -------------------------------------------------------------------------- */

MsbGrpcServer *
msb_grpc_server_new(gsize max_receive, guint max_workers)
{
	MsbGrpcServer *server;
	grpc_arg args[2];
	grpc_channel_args channel_args = {G_N_ELEMENTS(args), args};

	g_return_val_if_fail(max_receive > 0 && max_receive <= G_MAXINT, NULL);
	g_return_val_if_fail(max_workers > 0, NULL);

	server = g_new0(MsbGrpcServer, 1);
	grpc_init();
	server->max_receive = max_receive;
	server->op_timeout_us = DEFAULT_OP_TIMEOUT_US;
	server->methods = g_ptr_array_new_with_free_func(g_free);
	server->shutdown_tag = (MsbTag){TAG_SHUTDOWN, NULL};
	server->lock_fd = -1;
	g_mutex_init(&server->stats_lock);
	g_mutex_init(&server->life_lock);

	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = (int)max_receive;
	/* with SO_REUSEPORT a second instance would bind too and the kernel would share the calls
	 * between them; without it the second one fails to start, as it should */
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
	args[1].value.integer = 0;
	server->server = grpc_server_create(&channel_args, NULL);
	server->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(server->server, server->cq, NULL);
	server->pool = g_thread_pool_new(msb_server_worker, server, (gint)max_workers, FALSE, NULL);
	return server;
}

void
msb_grpc_server_set_op_timeout(MsbGrpcServer *server, gint64 timeout_us)
{
	g_return_if_fail(server != NULL);
	g_return_if_fail(timeout_us > 0);
	server->op_timeout_us = timeout_us;
}

void
msb_grpc_server_add_method(MsbGrpcServer *server, const gchar *path, MsbGrpcMethodKind kind,
                           MsbGrpcMethodFlags flags, MsbGrpcHandler handler, gpointer user_data)
{
	MsbGrpcMethod *method;

	g_return_if_fail(server != NULL);
	g_return_if_fail(path != NULL && path[0] == '/');
	g_return_if_fail(handler != NULL);
	g_return_if_fail(!server->started);

	method = g_new0(MsbGrpcMethod, 1);
	method->path = path;
	method->kind = kind;
	method->flags = flags;
	method->handler = handler;
	method->user_data = user_data;
	method->index = server->methods->len;
	/* a client-streaming method reads its messages itself; the others get theirs with the
	 * call */
	method->handle = grpc_server_register_method(
	        server->server, path, NULL,
	        kind == MSB_GRPC_CLIENT_STREAMING ? GRPC_SRM_PAYLOAD_NONE
	                                          : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
	        0);
	if (method->handle == NULL) {
		g_critical("cannot register gRPC method %s (registered twice?)", path);
		g_free(method);
		return;
	}
	g_ptr_array_add(server->methods, method);
}

void
msb_grpc_server_set_gate(MsbGrpcServer *server, MsbGrpcGateFunc gate, gpointer user_data)
{
	g_return_if_fail(server != NULL);
	server->gate = gate;
	server->gate_data = user_data;
}

gboolean
msb_grpc_server_add_tcp(MsbGrpcServer *server, const gchar *address, guint16 port,
                        guint16 *bound_port, GError **error)
{
	g_autofree gchar *target = NULL;
	grpc_server_credentials *creds;
	int bound;

	g_return_val_if_fail(server != NULL, FALSE);
	g_return_val_if_fail(address != NULL, FALSE);
	g_return_val_if_fail(!server->started, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	target = strchr(address, ':') != NULL ? g_strdup_printf("[%s]:%u", address, port)
	                                      : g_strdup_printf("%s:%u", address, port);
	creds = grpc_insecure_server_credentials_create();
	bound = grpc_server_add_http2_port(server->server, target, creds);
	grpc_server_credentials_release(creds);
	if (bound <= 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
		            "Cannot listen for gRPC on %s: the port is in use (another "
		            "my-service-bus-persistence?) or the address is not one of this "
		            "machine's; choose another with GrpcPort or --grpc-port",
		            target);
		return FALSE;
	}
	if (bound_port != NULL)
		*bound_port = (guint16)bound;
	return TRUE;
}

gboolean
msb_grpc_server_add_unix(MsbGrpcServer *server, const gchar *path, GError **error)
{
	g_autofree gchar *target = NULL;
	grpc_server_credentials *creds;
	int fd;
	int bound;

	g_return_val_if_fail(server != NULL, FALSE);
	g_return_val_if_fail(path != NULL && path[0] != '\0', FALSE);
	g_return_val_if_fail(!server->started, FALSE);
	g_return_val_if_fail(server->lock_fd < 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	/* gRPC unlinks whatever is at the path and binds: the lock keeps a second instance from
	 * silently taking the socket away from the first */
	fd = msb_socket_lock_acquire(path, error);
	if (fd < 0)
		return FALSE;
	target = g_strconcat("unix:", path, NULL);
	creds = grpc_insecure_server_credentials_create();
	bound = grpc_server_add_http2_port(server->server, target, creds);
	grpc_server_credentials_release(creds);
	if (bound <= 0) {
		close(fd);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "Cannot listen for gRPC on the Unix socket %s (does its folder exist "
		            "and is it writable?)",
		            path);
		return FALSE;
	}
	server->lock_fd = fd;
	server->unix_path = g_strdup(path);
	return TRUE;
}

gboolean
msb_grpc_server_start(MsbGrpcServer *server, GError **error)
{
	g_return_val_if_fail(server != NULL, FALSE);
	g_return_val_if_fail(!server->started, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	server->counts = g_malloc0_n(server->methods->len + 1, sizeof(*server->counts));
	grpc_server_start(server->server);
	server->started = TRUE;
	for (guint i = 0; i < server->methods->len; i++) {
		for (guint j = 0; j < REQUESTS_PER_METHOD; j++)
			msb_server_request(server, g_ptr_array_index(server->methods, i));
	}
	/* without an outstanding generic request, a call to an unknown method would wait for
	 * the client's deadline instead of failing at once */
	for (guint j = 0; j < REQUESTS_PER_METHOD; j++)
		msb_server_request(server, NULL);
	server->cq_thread = g_thread_new("msb-grpc-cq", msb_server_cq_thread, server);
	return TRUE;
}

static gboolean
msb_server_cancel_cb(gpointer data)
{
	MsbGrpcServer *server = data;
	guint n = msb_grpc_server_get_n_active(server);

	g_warning("%u gRPC call%s still running after the shutdown grace period; cancelling", n,
	          n == 1 ? "" : "s");
	grpc_server_cancel_all_calls(server->server);
	g_clear_pointer(&server->cancel_source, g_source_unref);
	return G_SOURCE_REMOVE;
}

void
msb_grpc_server_shutdown(MsbGrpcServer *server, gint64 grace_us, GSourceFunc done,
                         gpointer user_data)
{
	g_return_if_fail(server != NULL);
	g_return_if_fail(server->done_context == NULL);

	g_atomic_int_set(&server->shutting_down, TRUE);
	g_mutex_lock(&server->life_lock);
	server->done_context = g_main_context_ref_thread_default();
	server->done = done;
	server->done_data = user_data;
	g_mutex_unlock(&server->life_lock);
	if (!server->started) {
		GSource *source = g_idle_source_new();

		g_source_set_callback(source, msb_server_done_cb, server, NULL);
		g_source_attach(source, server->done_context);
		g_source_unref(source);
		return;
	}
	grpc_server_shutdown_and_notify(server->server, server->cq, &server->shutdown_tag);
	server->cancel_source = g_timeout_source_new((guint)MAX(grace_us / 1000, 0));
	g_source_set_callback(server->cancel_source, msb_server_cancel_cb, server, NULL);
	g_source_attach(server->cancel_source, server->done_context);
}

void
msb_grpc_server_free(MsbGrpcServer *server)
{
	if (server == NULL)
		return;
	if (server->cq_thread != NULL)
		g_thread_join(server->cq_thread);
	if (server->pool != NULL)
		g_thread_pool_free(server->pool, FALSE, TRUE);
	if (!server->started) {
		/* the core wants a shutdown before destroy even for a server that never ran */
		grpc_server_shutdown_and_notify(server->server, server->cq, &server->shutdown_tag);
		grpc_completion_queue_shutdown(server->cq);
		while (grpc_completion_queue_next(server->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
		                                  NULL)
		               .type != GRPC_QUEUE_SHUTDOWN)
			;
	}
	if (server->cancel_source != NULL) {
		g_source_destroy(server->cancel_source);
		g_source_unref(server->cancel_source);
	}
	grpc_server_destroy(server->server);
	grpc_completion_queue_destroy(server->cq);
	if (server->lock_fd >= 0) {
		/* ours while we hold the lock; leaving it would only make the next start replace it
		 */
		if (server->unix_path != NULL)
			unlink(server->unix_path);
		close(server->lock_fd);
	}
	g_free(server->unix_path);
	g_ptr_array_unref(server->methods);
	g_free(server->counts);
	g_mutex_clear(&server->stats_lock);
	g_mutex_clear(&server->life_lock);
	if (server->done_context != NULL)
		g_main_context_unref(server->done_context);
	g_free(server);
	grpc_shutdown();
}

GArray *
msb_grpc_server_get_stats(MsbGrpcServer *server)
{
	GArray *out;

	g_return_val_if_fail(server != NULL, NULL);
	out = g_array_new(FALSE, TRUE, sizeof(MsbGrpcMethodStats));
	if (server->counts == NULL)
		return out;
	g_mutex_lock(&server->stats_lock);
	for (guint i = 0; i <= server->methods->len; i++) {
		MsbGrpcMethodStats s = {0};

		s.path = i < server->methods->len
		                 ? ((MsbGrpcMethod *)g_ptr_array_index(server->methods, i))->path
		                 : "unknown";
		memcpy(s.by_code, server->counts[i], sizeof(s.by_code));
		g_array_append_val(out, s);
	}
	g_mutex_unlock(&server->stats_lock);
	return out;
}

guint
msb_grpc_server_get_n_active(MsbGrpcServer *server)
{
	g_return_val_if_fail(server != NULL, 0);
	return (guint)g_atomic_int_get(&server->n_active);
}
