/*
 * MsbPersistenceClient: the G3 persistence calls of the broker on the gRPC C core.
 *
 * Threads (see ../shared/notes-grpc-c-core.md §7, §8, §13):
 *   - the caller's main context encodes requests (cheap copies) and gets the results;
 *   - up to MAX_WORKERS worker threads, started on demand, each with its own pluck completion
 *     queue, run the calls as blocking code (one batch, wait, the next batch), compress, unzip
 *     and decode, and hand the result back through an idle source on the task's context;
 *   - one watcher thread keeps a connectivity watch armed with try_to_connect, which is what
 *     makes the C core notice a restarted service within the reconnect backoff (capped at
 *     300 ms here) instead of at its 5 s backup poll, and publishes "connected".
 * Every call sets WAIT_FOR_READY and a deadline, so it rides out a restart of the service when
 * the deadline allows, and fails with a clear message when it does not.
 *
 * Lifetime: a job holds its GTask, the GTask holds the client, so the client is disposed only
 * when no job is left; dispose then stops the idle workers and the watcher and destroys the
 * channel. Jobs never drop the last reference of a task in a worker (they give the task back
 * to its main context first), so dispose never runs in a worker thread.
 */
#define G_LOG_DOMAIN "msb-link-grpc"

#include "msb-persistence-client.h"

#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "messages_persistence.pb-c.h"
#include "msb-config-file.h"
#include "msb-persist-paths.h"
#include "msb-zip.h"
#include "queue_persistence.pb-c.h"

#define DEFAULT_PORT 7124
/* a response message may be this large: a GetPageCompressed chunk is 4 MiB plus framing, and
 * a single message up to the store's 64 MiB content limit must still come back */
#define MAX_RECEIVE_MESSAGE (80 * 1024 * 1024)
/* one call carries at most this much payload; a larger batch of messages goes as several */
#define MAX_UPLOAD_PAYLOAD (32 * 1024 * 1024)
/* a joined GetPageCompressed archive, and what it may unzip to */
#define MAX_PAGE_ZIP    (512 * 1024 * 1024)
#define MAX_WORKERS     16
#define RECONNECT_MS    300
#define WATCH_PERIOD_MS 1000

G_DEFINE_QUARK(msb - persistence - error - quark, msb_persistence_error)

/* ---- errors and URLs --------------------------------------------------------------------- */

gboolean
msb_persistence_error_is_transient(const GError *error)
{
	g_return_val_if_fail(error != NULL, FALSE);
	if (error->domain != MSB_PERSISTENCE_ERROR)
		return FALSE;
	switch (error->code) {
	case MSB_PERSISTENCE_ERROR_CANCELLED:
	case MSB_PERSISTENCE_ERROR_DEADLINE_EXCEEDED:
	case MSB_PERSISTENCE_ERROR_RESOURCE_EXHAUSTED:
	case MSB_PERSISTENCE_ERROR_ABORTED:
	case MSB_PERSISTENCE_ERROR_INTERNAL:
	case MSB_PERSISTENCE_ERROR_UNAVAILABLE:
	case MSB_PERSISTENCE_ERROR_UNKNOWN:
		return TRUE;
	default:
		return FALSE;
	}
}

gchar *
msb_persistence_parse_url(const gchar *url, GError **error)
{
	const gchar *expected = "expected http://HOST:PORT such as http://127.0.0.1:7124, or "
	                        "unix:/PATH";
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) local = NULL;
	const gchar *scheme;
	const gchar *host;
	gint port;

	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (url == NULL || url[0] == '\0') {
		g_set_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_INVALID_URL,
		            "The persistence URL is empty (%s)", expected);
		return NULL;
	}
	if (g_str_has_prefix(url, "unix:")) {
		if (url[5] == '\0') {
			g_set_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_INVALID_URL,
			            "The persistence URL %s has no socket path (%s)", url,
			            expected);
			return NULL;
		}
		return g_strdup(url);
	}
	/* persistence.md §1: a value starting with / or ~/ is a Unix socket */
	if (url[0] == '/')
		return g_strconcat("unix:", url, NULL);
	if (g_str_has_prefix(url, "~/"))
		return g_strconcat("unix:", msb_config_home_dir(), url + 1, NULL);
	if (strstr(url, "://") == NULL) {
		/* a bare host:port, as gRPC itself takes it */
		if (strchr(url, ':') == NULL)
			return g_strdup_printf("%s:%d", url, DEFAULT_PORT);
		return g_strdup(url);
	}
	uri = g_uri_parse(url, G_URI_FLAGS_NONE, &local);
	if (uri == NULL) {
		g_set_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_INVALID_URL,
		            "The persistence URL %s is not a URL: %s (%s)", url, local->message,
		            expected);
		return NULL;
	}
	scheme = g_uri_get_scheme(uri);
	if (g_ascii_strcasecmp(scheme, "https") == 0) {
		g_set_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_INVALID_URL,
		            "The persistence URL %s uses https, but the persistence protocol is "
		            "cleartext HTTP/2 (use http://)",
		            url);
		return NULL;
	}
	if (g_ascii_strcasecmp(scheme, "http") != 0) {
		g_set_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_INVALID_URL,
		            "The persistence URL %s has the scheme %s: (%s)", url, scheme,
		            expected);
		return NULL;
	}
	host = g_uri_get_host(uri);
	if (host == NULL || host[0] == '\0') {
		g_set_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_INVALID_URL,
		            "The persistence URL %s has no host (%s)", url, expected);
		return NULL;
	}
	port = g_uri_get_port(uri);
	if (port <= 0)
		port = DEFAULT_PORT;
	if (strchr(host, ':') != NULL)
		return g_strdup_printf("[%s]:%d", host, port);
	return g_strdup_printf("%s:%d", host, port);
}

/* ---- snapshot records -------------------------------------------------------------------- */

static void
msb_persist_queue_snapshot_free(MsbPersistQueueSnapshot *queue)
{
	g_free(queue->queue_id);
	g_array_unref(queue->ranges);
	g_free(queue);
}

MsbPersistTopicSnapshot *
msb_persist_topic_snapshot_new(const gchar *topic_id, gint64 message_id, gboolean persist)
{
	MsbPersistTopicSnapshot *topic;

	g_return_val_if_fail(topic_id != NULL, NULL);
	topic = g_new0(MsbPersistTopicSnapshot, 1);
	topic->topic_id = g_strdup(topic_id);
	topic->message_id = message_id;
	topic->persist = persist;
	topic->queues =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_persist_queue_snapshot_free);
	return topic;
}

MsbPersistQueueSnapshot *
msb_persist_topic_snapshot_add_queue(MsbPersistTopicSnapshot *topic, const gchar *queue_id,
                                     MsbPersistQueueType queue_type)
{
	MsbPersistQueueSnapshot *queue;

	g_return_val_if_fail(topic != NULL, NULL);
	g_return_val_if_fail(queue_id != NULL, NULL);
	queue = g_new0(MsbPersistQueueSnapshot, 1);
	queue->queue_id = g_strdup(queue_id);
	queue->queue_type = queue_type;
	queue->ranges = g_array_new(FALSE, FALSE, sizeof(MsbPersistRange));
	g_ptr_array_add(topic->queues, queue);
	return queue;
}

void
msb_persist_queue_snapshot_add_range(MsbPersistQueueSnapshot *queue, gint64 from_id, gint64 to_id)
{
	MsbPersistRange range = {from_id, to_id};

	g_return_if_fail(queue != NULL);
	g_array_append_val(queue->ranges, range);
}

void
msb_persist_topic_snapshot_free(MsbPersistTopicSnapshot *topic)
{
	if (topic == NULL)
		return;
	g_free(topic->topic_id);
	g_ptr_array_unref(topic->queues);
	g_free(topic);
}

/* ---- the object -------------------------------------------------------------------------- */

typedef enum {
	M_GET_SNAPSHOT,
	M_SAVE_SNAPSHOT,
	M_GET_VERSION,
	M_GET_MESSAGE,
	M_GET_PAGE_COMPRESSED,
	M_GET_PAGE,
	M_GET_SUB_PAGE,
	M_SAVE_MESSAGES,
	M_SAVE_MESSAGES_UNCOMPRESSED,
	M_DELETE_TOPIC,
	M_RESTORE_TOPIC,
	M_PING,
	N_METHODS,
} MsbMethod;

typedef enum {
	SHAPE_UNARY,
	SHAPE_SERVER_STREAMING,
	SHAPE_CLIENT_STREAMING,
} MsbShape;

static const struct {
	const gchar *path;
	const gchar *name;
	MsbShape shape;
	gboolean bulk; /* gets the bulk timeout */
} methods[N_METHODS] = {
        [M_GET_SNAPSHOT] = {MSB_PERSIST_PATH_GET_SNAPSHOT, "GetSnapshot", SHAPE_SERVER_STREAMING,
                            TRUE},
        [M_SAVE_SNAPSHOT] = {MSB_PERSIST_PATH_SAVE_SNAPSHOT, "SaveSnapshot", SHAPE_UNARY, TRUE},
        [M_GET_VERSION] = {MSB_PERSIST_PATH_GET_VERSION, "GetVersion", SHAPE_UNARY, FALSE},
        [M_GET_MESSAGE] = {MSB_PERSIST_PATH_GET_MESSAGE, "GetMessage", SHAPE_UNARY, FALSE},
        [M_GET_PAGE_COMPRESSED] = {MSB_PERSIST_PATH_GET_PAGE_COMPRESSED, "GetPageCompressed",
                                   SHAPE_SERVER_STREAMING, TRUE},
        [M_GET_PAGE] = {MSB_PERSIST_PATH_GET_PAGE, "GetPage", SHAPE_SERVER_STREAMING, TRUE},
        [M_GET_SUB_PAGE] = {MSB_PERSIST_PATH_GET_SUB_PAGE, "GetSubPage", SHAPE_SERVER_STREAMING,
                            TRUE},
        [M_SAVE_MESSAGES] = {MSB_PERSIST_PATH_SAVE_MESSAGES, "SaveMessages", SHAPE_CLIENT_STREAMING,
                             TRUE},
        [M_SAVE_MESSAGES_UNCOMPRESSED] = {MSB_PERSIST_PATH_SAVE_MESSAGES_UNCOMPRESSED,
                                          "SaveMessagesUncompressed", SHAPE_CLIENT_STREAMING, TRUE},
        [M_DELETE_TOPIC] = {MSB_PERSIST_PATH_DELETE_TOPIC, "DeleteTopic", SHAPE_UNARY, FALSE},
        [M_RESTORE_TOPIC] = {MSB_PERSIST_PATH_RESTORE_TOPIC, "RestoreTopic", SHAPE_UNARY, FALSE},
        [M_PING] = {MSB_PERSIST_PATH_PING, "Ping", SHAPE_UNARY, FALSE},
};

/* Lets the watcher thread reach the object for notifications without holding a reference. */
typedef struct {
	gint refs;
	GMutex lock;
	MsbPersistenceClient *client; /* NULL once disposed */
} MsbNotifier;

struct _MsbPersistenceClient {
	GObject parent_instance;
	gchar *target;
	grpc_channel *channel;
	void *handles[N_METHODS];
	guint call_timeout_ms;
	guint bulk_timeout_ms;
	gboolean connected; /* as last notified on the main context */
	gint state;         /* atomic: the watcher's latest grpc_connectivity_state */
	MsbNotifier *notifier;
	GMainContext *context; /* where "connected" is notified */
	gboolean disposed;

	GThread *watcher;
	grpc_completion_queue *watch_cq;
	GMutex watch_lock; /* the channel pointer and watch_stop */
	gboolean watch_stop;

	GAsyncQueue *jobs;
	GPtrArray *workers; /* GThread */
};

enum {
	PROP_0,
	PROP_CONNECTED,
	N_PROPS,
};
static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE(MsbPersistenceClient, msb_persistence_client, G_TYPE_OBJECT)

/* the job that tells a worker to exit */
static gint stop_marker;
#define STOP_JOB ((gpointer)&stop_marker)

/*
 * Runs @func on @context from another thread. Not g_main_context_invoke(): from a thread with
 * no thread-default context of its own it runs @func at once, in that thread, whenever
 * @context is the global default and nobody iterates it at that instant.
 */
static void
msb_invoke_on(GMainContext *context, GSourceFunc func, gpointer data, GDestroyNotify destroy)
{
	GSource *source = g_idle_source_new();

	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_callback(source, func, data, destroy);
	g_source_set_static_name(source, "msb-persistence-client");
	g_source_attach(source, context);
	g_source_unref(source);
}

static MsbNotifier *
msb_notifier_ref(MsbNotifier *n)
{
	g_atomic_int_inc(&n->refs);
	return n;
}

static void
msb_notifier_unref(gpointer data)
{
	MsbNotifier *n = data;

	if (!g_atomic_int_dec_and_test(&n->refs))
		return;
	g_mutex_clear(&n->lock);
	g_free(n);
}

static gboolean
msb_notify_connected_cb(gpointer data)
{
	MsbNotifier *n = data;
	MsbPersistenceClient *self = NULL;
	gboolean now;

	g_mutex_lock(&n->lock);
	if (n->client != NULL)
		self = g_object_ref(n->client);
	g_mutex_unlock(&n->lock);
	if (self == NULL)
		return G_SOURCE_REMOVE;
	now = g_atomic_int_get(&self->state) == GRPC_CHANNEL_READY;
	if (now != self->connected) {
		self->connected = now;
		g_debug("persistence service at %s: %s", self->target,
		        now ? "connected" : "not connected");
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_CONNECTED]);
	}
	g_object_unref(self);
	return G_SOURCE_REMOVE;
}

/* With watch_lock held. */
static void
msb_watcher_publish(MsbPersistenceClient *self, grpc_connectivity_state state)
{
	gint old = g_atomic_int_get(&self->state);

	g_atomic_int_set(&self->state, (gint)state);
	if ((old == GRPC_CHANNEL_READY) == (state == GRPC_CHANNEL_READY))
		return;
	/* the notifier, not the object: the object may be going away meanwhile */
	msb_invoke_on(self->context, msb_notify_connected_cb, msb_notifier_ref(self->notifier),
	              msb_notifier_unref);
}

static gpointer
msb_watcher_thread(gpointer data)
{
	MsbPersistenceClient *self = data;
	grpc_connectivity_state state;

	g_mutex_lock(&self->watch_lock);
	/* a client disposed at once may have destroyed the channel before we ran */
	if (self->watch_stop) {
		g_mutex_unlock(&self->watch_lock);
		return NULL;
	}
	state = grpc_channel_check_connectivity_state(self->channel, 1);
	msb_watcher_publish(self, state);
	while (!self->watch_stop) {
		gpr_timespec deadline =
		        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
		                     gpr_time_from_millis(WATCH_PERIOD_MS, GPR_TIMESPAN));

		grpc_channel_watch_connectivity_state(self->channel, state, deadline,
		                                      self->watch_cq, self);
		g_mutex_unlock(&self->watch_lock);
		/* returns on a state change, at the deadline, or when dispose destroys the channel
		 */
		grpc_completion_queue_next(self->watch_cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
		                           NULL);
		g_mutex_lock(&self->watch_lock);
		if (self->watch_stop)
			break;
		/* try_to_connect: an idle channel (after the service went away) starts connecting
		 * again at once instead of waiting for the next call */
		state = grpc_channel_check_connectivity_state(self->channel, 1);
		msb_watcher_publish(self, state);
	}
	g_mutex_unlock(&self->watch_lock);
	return NULL;
}

/* ---- jobs -------------------------------------------------------------------------------- */

typedef struct _MsbJob MsbJob;
typedef void (*MsbJobRun)(MsbPersistenceClient *self, MsbJob *job, grpc_completion_queue *cq);

struct _MsbJob {
	GTask *task;
	MsbJobRun run;
	MsbMethod method;
	gint64 deadline_us; /* monotonic */
	guint timeout_ms;
	GPtrArray *requests; /* GBytes: the request message(s), or the upload payloads */
	gchar *topic_id;
	gint64 message_id;

	/* the outcome, handed to the task on its own context */
	GError *error;
	gpointer result;
	GDestroyNotify result_free;
	gboolean has_bool;
};

static void
msb_job_free(MsbJob *job)
{
	g_clear_object(&job->task);
	g_clear_pointer(&job->requests, g_ptr_array_unref);
	g_free(job->topic_id);
	g_clear_error(&job->error);
	if (job->result != NULL && job->result_free != NULL)
		job->result_free(job->result);
	g_free(job);
}

static gboolean
msb_job_complete_cb(gpointer data)
{
	MsbJob *job = data;

	if (job->error != NULL)
		g_task_return_error(job->task, g_steal_pointer(&job->error));
	else if (job->has_bool)
		g_task_return_boolean(job->task, TRUE);
	else
		g_task_return_pointer(job->task, g_steal_pointer(&job->result), job->result_free);
	msb_job_free(job);
	return G_SOURCE_REMOVE;
}

static gpointer
msb_worker_thread(gpointer data)
{
	MsbPersistenceClient *self = data;
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);

	for (;;) {
		MsbJob *job = g_async_queue_pop(self->jobs);

		if (job == STOP_JOB)
			break;
		job->run(self, job, cq);
		/* from here on the job belongs to the task's context, where it is freed */
		msb_invoke_on(g_task_get_context(job->task), msb_job_complete_cb, job, NULL);
	}
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
	               .type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	return NULL;
}

static MsbJob *
msb_job_new(MsbPersistenceClient *self, MsbMethod method, MsbJobRun run, GCancellable *cancellable,
            GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
	MsbJob *job = g_new0(MsbJob, 1);

	job->task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(job->task, source_tag);
	job->run = run;
	job->method = method;
	job->timeout_ms = methods[method].bulk ? self->bulk_timeout_ms : self->call_timeout_ms;
	/* measured from now, so time spent waiting for a free worker counts too */
	job->deadline_us = g_get_monotonic_time() + (gint64)job->timeout_ms * 1000;
	job->requests = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	return job;
}

static void
msb_job_push(MsbPersistenceClient *self, MsbJob *job)
{
	g_async_queue_lock(self->jobs);
	/* a negative length means that many workers wait; otherwise start one if allowed */
	if (g_async_queue_length_unlocked(self->jobs) >= 0 && self->workers->len < MAX_WORKERS)
		g_ptr_array_add(self->workers,
		                g_thread_new("msb-persist-call", msb_worker_thread, self));
	g_async_queue_push_unlocked(self->jobs, job);
	g_async_queue_unlock(self->jobs);
}

/* ---- one call on the C core -------------------------------------------------------------- */

typedef gboolean (*MsbResponseFunc)(GBytes *message, gpointer user_data, GError **error);

static GBytes *
msb_bb_to_bytes(grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader reader;
	grpc_slice slice;
	GBytes *bytes;

	if (!grpc_byte_buffer_reader_init(&reader, bb))
		return NULL;
	slice = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	bytes = g_bytes_new(GRPC_SLICE_START_PTR(slice), GRPC_SLICE_LENGTH(slice));
	grpc_slice_unref(slice);
	return bytes;
}

static grpc_byte_buffer *
msb_bytes_to_bb(GBytes *bytes)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	grpc_slice slice = len > 0 ? grpc_slice_from_copied_buffer((const char *)data, len)
	                           : grpc_empty_slice();
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);

	grpc_slice_unref(slice);
	return bb;
}

static gboolean
msb_pluck(grpc_completion_queue *cq, void *tag)
{
	grpc_event ev =
	        grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

	return ev.type == GRPC_OP_COMPLETE && ev.success != 0;
}

static void
msb_call_cancel_cb(GCancellable *cancellable, gpointer data)
{
	grpc_call_cancel(data, NULL);
}

static gboolean
msb_start_and_wait(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, gsize n)
{
	grpc_call_error err = grpc_call_start_batch(call, ops, n, call, NULL);

	if (err != GRPC_CALL_OK) {
		g_critical("cannot start a gRPC batch: call error %d", err);
		return FALSE;
	}
	return msb_pluck(cq, call);
}

static void
msb_set_status_error(MsbPersistenceClient *self, GError **error, MsbMethod method,
                     grpc_status_code code, const gchar *details, guint timeout_ms)
{
	const gchar *name = methods[method].name;
	gboolean ready = g_atomic_int_get(&self->state) == GRPC_CHANNEL_READY;

	switch (code) {
	case GRPC_STATUS_UNAVAILABLE:
		g_set_error(error, MSB_PERSISTENCE_ERROR, code,
		            "persistence service at %s is unavailable: %s: %s (is "
		            "my-service-bus-persistence running there and done starting?)",
		            self->target, name, details);
		break;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		if (!ready)
			g_set_error(
			        error, MSB_PERSISTENCE_ERROR, code,
			        "persistence service at %s is unavailable: no connection within "
			        "%u ms for %s (is my-service-bus-persistence running there?)",
			        self->target, timeout_ms, name);
		else
			g_set_error(error, MSB_PERSISTENCE_ERROR, code,
			            "persistence service at %s did not complete %s within %u ms (a "
			            "slow disk, or a very large request)",
			            self->target, name, timeout_ms);
		break;
	case GRPC_STATUS_UNIMPLEMENTED:
		g_set_error(error, MSB_PERSISTENCE_ERROR, code,
		            "persistence service at %s does not implement %s (%s); it must speak "
		            "the G3 persistence protocol",
		            self->target, name, details);
		break;
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		g_set_error(error, MSB_PERSISTENCE_ERROR, code,
		            "persistence service at %s refused %s as too large or out of space: %s",
		            self->target, name, details);
		break;
	default:
		g_set_error(error, MSB_PERSISTENCE_ERROR, (gint)code,
		            "persistence service at %s failed %s (gRPC status %d): %s",
		            self->target, name, code, details);
		break;
	}
}

/* Passes one received message to @on_response; FALSE stops the call. */
static gboolean
msb_deliver(grpc_byte_buffer *bb, MsbResponseFunc on_response, gpointer user_data,
            GError **response_error)
{
	g_autoptr(GBytes) bytes = msb_bb_to_bytes(bb);

	if (bytes == NULL) {
		g_set_error_literal(response_error, MSB_PERSISTENCE_ERROR,
		                    MSB_PERSISTENCE_ERROR_BAD_RESPONSE,
		                    "a compressed message (we never ask for compression)");
		return FALSE;
	}
	return on_response == NULL || on_response(bytes, user_data, response_error);
}

/*
 * Runs one call: sends @requests (one for unary and server-streaming calls, any number for
 * client streaming), passes every response message to @on_response, and turns the status into
 * an error. The batches follow notes-grpc-c-core.md §4, except that RECV_STATUS_ON_CLIENT and
 * RECV_INITIAL_METADATA are posted first, in batches of their own: a service that answers before
 * it has read the request (an UNAVAILABLE from its start-up gate, say) sends a Trailers-Only
 * response at once, our next send then fails, and in this gRPC version the status of such a
 * call is delivered only once the initial metadata has been asked for; skipping that after the
 * failed send left the call waiting for its deadline.
 */
static gboolean
msb_client_call_once(MsbPersistenceClient *self, grpc_completion_queue *cq, MsbJob *job,
                     MsbMethod method, GPtrArray *requests, MsbResponseFunc on_response,
                     gpointer user_data, gint *pushback_ms, GError **error)
{
	GCancellable *cancellable = g_task_get_cancellable(job->task);
	MsbShape shape = methods[method].shape;
	gint64 left_us = job->deadline_us - g_get_monotonic_time();
	grpc_metadata_array initial_md;
	grpc_metadata_array trailing_md;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_byte_buffer *recv_bb = NULL;
	GError *response_error = NULL;
	g_autofree gchar *details_str = NULL;
	gulong cancel_id = 0;
	grpc_call *call;
	grpc_op status_op = {0};
	grpc_op md_op = {0};
	grpc_op ops[4];
	gsize n;
	gboolean ok;
	gboolean usable = TRUE;

	if (g_cancellable_set_error_if_cancelled(cancellable, error))
		return FALSE;
	if (left_us <= 0) {
		msb_set_status_error(self, error, method, GRPC_STATUS_DEADLINE_EXCEEDED, "",
		                     job->timeout_ms);
		return FALSE;
	}
	call = grpc_channel_create_registered_call(
	        self->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, self->handles[method],
	        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	                     gpr_time_from_micros(left_us, GPR_TIMESPAN)),
	        NULL);
	if (cancellable != NULL)
		cancel_id = g_cancellable_connect(cancellable, G_CALLBACK(msb_call_cancel_cb), call,
		                                  NULL);
	grpc_metadata_array_init(&initial_md);
	grpc_metadata_array_init(&trailing_md);

	status_op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	status_op.data.recv_status_on_client.trailing_metadata = &trailing_md;
	status_op.data.recv_status_on_client.status = &status;
	status_op.data.recv_status_on_client.status_details = &details;
	ok = grpc_call_start_batch(call, &status_op, 1, &status, NULL) == GRPC_CALL_OK;
	g_assert(ok);
	/* the same for the initial metadata: a status that arrives as Trailers-Only is only
	 * handed over once the initial metadata has been asked for */
	md_op.op = GRPC_OP_RECV_INITIAL_METADATA;
	md_op.data.recv_initial_metadata.recv_initial_metadata = &initial_md;
	ok = grpc_call_start_batch(call, &md_op, 1, &initial_md, NULL) == GRPC_CALL_OK;
	g_assert(ok);

	memset(ops, 0, sizeof(ops));
	/* wait for a connection until the deadline instead of failing while the service
	 * restarts */
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY;
	if (shape == SHAPE_CLIENT_STREAMING) {
		/* RECV_INITIAL_METADATA stays out of this batch: it completes only when the
		 * service answers, which is after we have sent everything */
		ok = msb_start_and_wait(call, cq, ops, 1);
		for (guint i = 0; ok && i < requests->len; i++) {
			memset(ops, 0, sizeof(ops));
			ops[0].op = GRPC_OP_SEND_MESSAGE;
			ops[0].data.send_message.send_message =
			        msb_bytes_to_bb(g_ptr_array_index(requests, i));
			ok = msb_start_and_wait(call, cq, ops, 1);
			grpc_byte_buffer_destroy(ops[0].data.send_message.send_message);
		}
		if (ok) {
			memset(ops, 0, sizeof(ops));
			ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
			ops[1].op = GRPC_OP_RECV_MESSAGE;
			ops[1].data.recv_message.recv_message = &recv_bb;
			ok = msb_start_and_wait(call, cq, ops, 2);
		}
		if (ok && recv_bb != NULL)
			usable = msb_deliver(recv_bb, on_response, user_data, &response_error);
	} else {
		ops[1].op = GRPC_OP_SEND_MESSAGE;
		ops[1].data.send_message.send_message =
		        msb_bytes_to_bb(g_ptr_array_index(requests, 0));
		ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
		n = 3;
		if (shape == SHAPE_UNARY) {
			ops[3].op = GRPC_OP_RECV_MESSAGE;
			ops[3].data.recv_message.recv_message = &recv_bb;
			n = 4;
		}
		ok = msb_start_and_wait(call, cq, ops, n);
		grpc_byte_buffer_destroy(ops[1].data.send_message.send_message);
		if (shape == SHAPE_UNARY) {
			if (ok && recv_bb != NULL)
				usable = msb_deliver(recv_bb, on_response, user_data,
				                     &response_error);
		} else {
			/* one message a batch until the end of the stream (a NULL buffer) */
			while (ok && usable) {
				memset(ops, 0, sizeof(ops));
				ops[0].op = GRPC_OP_RECV_MESSAGE;
				ops[0].data.recv_message.recv_message = &recv_bb;
				if (!msb_start_and_wait(call, cq, ops, 1) || recv_bb == NULL)
					break;
				usable = msb_deliver(recv_bb, on_response, user_data,
				                     &response_error);
				g_clear_pointer(&recv_bb, grpc_byte_buffer_destroy);
			}
		}
	}
	/* what we cannot use, we need not wait for */
	if (!usable)
		grpc_call_cancel(call, NULL);
	/* both always complete: with the answer, at the deadline, or on cancellation */
	msb_pluck(cq, &initial_md);
	msb_pluck(cq, &status);

	if (cancel_id != 0)
		g_cancellable_disconnect(cancellable, cancel_id);
	g_clear_pointer(&recv_bb, grpc_byte_buffer_destroy);
	details_str =
	        g_strndup((const gchar *)GRPC_SLICE_START_PTR(details), GRPC_SLICE_LENGTH(details));
	grpc_slice_unref(details);
	for (gsize i = 0; status == GRPC_STATUS_UNAVAILABLE && i < trailing_md.count; i++) {
		const grpc_metadata *md = &trailing_md.metadata[i];

		if (grpc_slice_str_cmp(md->key, "grpc-retry-pushback-ms") == 0) {
			g_autofree gchar *value =
			        g_strndup((const gchar *)GRPC_SLICE_START_PTR(md->value),
			                  GRPC_SLICE_LENGTH(md->value));
			gint64 ms = g_ascii_strtoll(value, NULL, 10);

			*pushback_ms = (gint)CLAMP(ms, 0, 60000);
		}
	}
	grpc_metadata_array_destroy(&initial_md);
	grpc_metadata_array_destroy(&trailing_md);
	grpc_call_unref(call);

	if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
		g_clear_error(&response_error);
		return FALSE;
	}
	if (response_error != NULL) {
		g_propagate_prefixed_error(error, response_error,
		                           "persistence service at %s sent a %s response we cannot "
		                           "use: ",
		                           self->target, methods[method].name);
		return FALSE;
	}
	if (status != GRPC_STATUS_OK) {
		msb_set_status_error(self, error, method, status, details_str, job->timeout_ms);
		return FALSE;
	}
	return TRUE;
}

/*
 * msb_client_call_once(), again while the service answers "not now": UNAVAILABLE with
 * grpc-retry-pushback-ms, which ours sends while it recovers at start-up or shuts down. Every
 * call is idempotent (saves replace by id, a snapshot replaces the last), so a retry is safe;
 * any other error comes back at once.
 */
static gboolean
msb_client_call(MsbPersistenceClient *self, grpc_completion_queue *cq, MsbJob *job,
                MsbMethod method, GPtrArray *requests, MsbResponseFunc on_response,
                gpointer user_data, GError **error)
{
	GCancellable *cancellable = g_task_get_cancellable(job->task);

	for (;;) {
		g_autoptr(GError) local = NULL;
		gint pushback_ms = -1;
		gint64 retry_at;

		if (msb_client_call_once(self, cq, job, method, requests, on_response, user_data,
		                         &pushback_ms, &local))
			return TRUE;
		retry_at = g_get_monotonic_time() + (gint64)pushback_ms * 1000;
		if (pushback_ms < 0 || retry_at >= job->deadline_us) {
			g_propagate_error(error, g_steal_pointer(&local));
			return FALSE;
		}
		g_debug("%s: %s; retrying in %d ms", methods[method].name, local->message,
		        pushback_ms);
		while (g_get_monotonic_time() < retry_at) {
			if (g_cancellable_set_error_if_cancelled(cancellable, error))
				return FALSE;
			g_usleep(MIN(10000, MAX(retry_at - g_get_monotonic_time(), 0)));
		}
	}
}

static void
msb_set_bad_response(GError **error, const gchar *what)
{
	g_set_error(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_BAD_RESPONSE,
	            "the response is not a valid %s", what);
}

/* ---- the methods: requests ---------------------------------------------------------------- */

static GBytes *
msb_pack(const ProtobufCMessage *message)
{
	gsize len = protobuf_c_message_get_packed_size(message);
	guint8 *buf = g_malloc(len > 0 ? len : 1);

	protobuf_c_message_pack(message, buf);
	return g_bytes_new_take(buf, len);
}

static GBytes *
msb_empty_request(void)
{
	return g_bytes_new(NULL, 0);
}

/* a unary call whose response we only need to be OK */
static void
msb_run_simple(MsbPersistenceClient *self, MsbJob *job, grpc_completion_queue *cq)
{
	if (msb_client_call(self, cq, job, job->method, job->requests, NULL, NULL, &job->error))
		job->has_bool = TRUE;
}

static gboolean
msb_version_cb(GBytes *message, gpointer user_data, GError **error)
{
	MsbJob *job = user_data;
	Persistence__GetVersionGrpcResponse *resp;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);

	resp = persistence__get_version_grpc_response__unpack(NULL, len, data);
	if (resp == NULL || !g_utf8_validate(resp->version, -1, NULL)) {
		if (resp != NULL)
			persistence__get_version_grpc_response__free_unpacked(resp, NULL);
		msb_set_bad_response(error, "GetVersionGrpcResponse");
		return FALSE;
	}
	job->result = g_strdup(resp->version);
	job->result_free = g_free;
	persistence__get_version_grpc_response__free_unpacked(resp, NULL);
	return TRUE;
}

static void
msb_run_get_version(MsbPersistenceClient *self, MsbJob *job, grpc_completion_queue *cq)
{
	msb_client_call(self, cq, job, M_GET_VERSION, job->requests, msb_version_cb, job,
	                &job->error);
}

static MsbPersistTopicSnapshot *
msb_topic_from_pb(const Persistence__TopicAndQueuesSnapshotGrpcModel *rec, GError **error)
{
	g_autoptr(MsbPersistTopicSnapshot) topic = NULL;
	gboolean persist = TRUE; /* absent means true (§3.2) */

	if (!g_utf8_validate(rec->topicid, -1, NULL)) {
		msb_set_bad_response(error, "snapshot record (TopicId is not UTF-8)");
		return NULL;
	}
	if (rec->persist_presence_case ==
	    PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__PERSIST_PRESENCE_PERSIST)
		persist = rec->persist != 0;
	topic = msb_persist_topic_snapshot_new(rec->topicid, rec->messageid, persist);
	for (gsize i = 0; i < rec->n_queuesnapshots; i++) {
		const Persistence__QueueSnapshotGrpcModel *q = rec->queuesnapshots[i];
		MsbPersistQueueSnapshot *queue;
		MsbPersistQueueType type;

		if (!g_utf8_validate(q->queueid, -1, NULL)) {
			msb_set_bad_response(error, "snapshot record (a QueueId is not UTF-8)");
			return NULL;
		}
		switch ((gint)q->queuetype) {
		case MSB_PERSIST_QUEUE_PERMANENT:
		case MSB_PERSIST_QUEUE_PERMANENT_SINGLE_CONNECTION:
			type = (MsbPersistQueueType)q->queuetype;
			break;
		default:
			/* §3.1: the broker reads any other value as delete-on-disconnect */
			type = MSB_PERSIST_QUEUE_AUTO_DELETE;
			break;
		}
		queue = msb_persist_topic_snapshot_add_queue(topic, q->queueid, type);
		for (gsize j = 0; j < q->n_ranges; j++)
			msb_persist_queue_snapshot_add_range(queue, q->ranges[j]->fromid,
			                                     q->ranges[j]->toid);
	}
	return g_steal_pointer(&topic);
}

static gboolean
msb_snapshot_cb(GBytes *message, gpointer user_data, GError **error)
{
	GPtrArray *topics = user_data;
	Persistence__TopicAndQueuesSnapshotGrpcModel *rec;
	MsbPersistTopicSnapshot *topic;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);

	rec = persistence__topic_and_queues_snapshot_grpc_model__unpack(NULL, len, data);
	if (rec == NULL) {
		msb_set_bad_response(error, "TopicAndQueuesSnapshotGrpcModel");
		return FALSE;
	}
	topic = msb_topic_from_pb(rec, error);
	persistence__topic_and_queues_snapshot_grpc_model__free_unpacked(rec, NULL);
	if (topic == NULL)
		return FALSE;
	g_ptr_array_add(topics, topic);
	return TRUE;
}

static void
msb_run_get_snapshot(MsbPersistenceClient *self, MsbJob *job, grpc_completion_queue *cq)
{
	g_autoptr(GPtrArray) topics =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_persist_topic_snapshot_free);

	if (!msb_client_call(self, cq, job, M_GET_SNAPSHOT, job->requests, msb_snapshot_cb, topics,
	                     &job->error))
		return;
	job->result = g_steal_pointer(&topics);
	job->result_free = (GDestroyNotify)g_ptr_array_unref;
}

static GBytes *
msb_encode_snapshot(GPtrArray *topics)
{
	Persistence__SaveQueueSnapshotGrpcRequest req =
	        PERSISTENCE__SAVE_QUEUE_SNAPSHOT_GRPC_REQUEST__INIT;
	g_autoptr(GPtrArray) blocks = g_ptr_array_new_with_free_func(g_free);
	Persistence__TopicAndQueuesSnapshotGrpcModel **recs;

	recs = g_new0(Persistence__TopicAndQueuesSnapshotGrpcModel *, topics->len + 1);
	g_ptr_array_add(blocks, recs);
	for (guint i = 0; i < topics->len; i++) {
		const MsbPersistTopicSnapshot *t = g_ptr_array_index(topics, i);
		Persistence__TopicAndQueuesSnapshotGrpcModel *rec =
		        g_new(Persistence__TopicAndQueuesSnapshotGrpcModel, 1);
		Persistence__QueueSnapshotGrpcModel **queues =
		        g_new0(Persistence__QueueSnapshotGrpcModel *, t->queues->len + 1);

		g_ptr_array_add(blocks, rec);
		g_ptr_array_add(blocks, queues);
		persistence__topic_and_queues_snapshot_grpc_model__init(rec);
		rec->topicid = t->topic_id;
		rec->messageid = t->message_id;
		/* always sent, so that "absent means true" never has to be relied on */
		rec->persist_presence_case =
		        PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__PERSIST_PRESENCE_PERSIST;
		rec->persist = t->persist;
		rec->n_queuesnapshots = t->queues->len;
		rec->queuesnapshots = queues;
		for (guint j = 0; j < t->queues->len; j++) {
			const MsbPersistQueueSnapshot *q = g_ptr_array_index(t->queues, j);
			Persistence__QueueSnapshotGrpcModel *qm =
			        g_new(Persistence__QueueSnapshotGrpcModel, 1);
			Persistence__QueueIndexRangeGrpcModel *ranges =
			        g_new(Persistence__QueueIndexRangeGrpcModel, q->ranges->len + 1);
			Persistence__QueueIndexRangeGrpcModel **range_ptrs =
			        g_new0(Persistence__QueueIndexRangeGrpcModel *, q->ranges->len + 1);

			g_ptr_array_add(blocks, qm);
			g_ptr_array_add(blocks, ranges);
			g_ptr_array_add(blocks, range_ptrs);
			persistence__queue_snapshot_grpc_model__init(qm);
			qm->queueid = q->queue_id;
			qm->queuetype = (Persistence__QueueTypePersistenceGrpcEnum)q->queue_type;
			qm->n_ranges = q->ranges->len;
			qm->ranges = range_ptrs;
			for (guint k = 0; k < q->ranges->len; k++) {
				const MsbPersistRange *r =
				        &g_array_index(q->ranges, MsbPersistRange, k);

				persistence__queue_index_range_grpc_model__init(&ranges[k]);
				ranges[k].fromid = r->from_id;
				ranges[k].toid = r->to_id;
				range_ptrs[k] = &ranges[k];
			}
			queues[j] = qm;
		}
		recs[i] = rec;
	}
	req.n_queuesnapshot = topics->len;
	req.queuesnapshot = recs;
	return msb_pack(&req.base);
}

/* Upload payloads → one call each, chunked, zipped first when asked. */
static void
msb_run_save_messages(MsbPersistenceClient *self, MsbJob *job, grpc_completion_queue *cq)
{
	gboolean compressed = job->method == M_SAVE_MESSAGES;

	for (guint i = 0; i < job->requests->len; i++) {
		GBytes *payload = g_ptr_array_index(job->requests, i);
		g_autoptr(GBytes) body = NULL;
		g_autoptr(GPtrArray) pieces = NULL;
		g_autoptr(GPtrArray) chunks =
		        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

		if (compressed) {
			gsize len = 0;
			const guint8 *data = g_bytes_get_data(payload, &len);

			body = msb_zip_pack_single(data, len, &job->error);
			if (body == NULL) {
				g_prefix_error(&job->error,
				               "cannot zip %" G_GSIZE_FORMAT
				               " bytes of messages for topic %s: ",
				               len, job->topic_id);
				return;
			}
		} else {
			body = g_bytes_ref(payload);
		}
		/* ≤ 3 MiB per stream message: below every 4 MiB default receive limit (§11) */
		pieces = msb_chunks_split(body, MSB_ZIP_CHUNK_SIZE);
		for (guint j = 0; j < pieces->len; j++) {
			Persistence__CompressedMessageChunkModel chunk =
			        PERSISTENCE__COMPRESSED_MESSAGE_CHUNK_MODEL__INIT;
			gsize len = 0;

			chunk.chunk.data =
			        (guint8 *)g_bytes_get_data(g_ptr_array_index(pieces, j), &len);
			chunk.chunk.len = len;
			g_ptr_array_add(chunks, msb_pack(&chunk.base));
		}
		if (!msb_client_call(self, cq, job, job->method, chunks, NULL, NULL, &job->error))
			return;
	}
	job->has_bool = TRUE;
}

static gboolean
msb_record_cb(GBytes *message, gpointer user_data, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);

	return msb_message_batch_add_record(user_data, data, len, MAX_RECEIVE_MESSAGE, error);
}

static void
msb_run_get_records(MsbPersistenceClient *self, MsbJob *job, grpc_completion_queue *cq)
{
	g_autoptr(MsbMessageBatch) batch = msb_message_batch_new();

	if (!msb_client_call(self, cq, job, job->method, job->requests, msb_record_cb, batch,
	                     &job->error))
		return;
	if (job->method == M_GET_MESSAGE && batch->n_messages == 1 &&
	    batch->messages[0].id != job->message_id) {
		/* the not-found sentinel (MessageId -1, §5.2) */
		g_clear_pointer(&batch, msb_message_batch_free);
		batch = msb_message_batch_new();
	}
	job->result = g_steal_pointer(&batch);
	job->result_free = (GDestroyNotify)msb_message_batch_free;
}

static gboolean
msb_chunk_cb(GBytes *message, gpointer user_data, GError **error)
{
	GByteArray *acc = user_data;
	Persistence__CompressedMessageChunkModel *chunk;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);
	gboolean ok;

	chunk = persistence__compressed_message_chunk_model__unpack(NULL, len, data);
	if (chunk == NULL) {
		msb_set_bad_response(error, "CompressedMessageChunkModel");
		return FALSE;
	}
	ok = msb_chunks_append(acc, chunk->chunk.data, chunk->chunk.len, MAX_PAGE_ZIP, error);
	persistence__compressed_message_chunk_model__free_unpacked(chunk, NULL);
	return ok;
}

static void
msb_run_get_page_compressed(MsbPersistenceClient *self, MsbJob *job, grpc_completion_queue *cq)
{
	g_autoptr(GByteArray) acc = g_byte_array_new();
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(MsbMessageBatch) batch = NULL;
	g_autoptr(GError) local = NULL;
	const MsbZipEntry *first;

	if (!msb_client_call(self, cq, job, M_GET_PAGE_COMPRESSED, job->requests, msb_chunk_cb, acc,
	                     &job->error))
		return;
	entries = msb_zip_unpack(acc->data, acc->len, MAX_PAGE_ZIP, &local);
	if (entries == NULL) {
		g_set_error(&job->error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_BAD_RESPONSE,
		            "persistence service at %s sent a GetPageCompressed archive we cannot "
		            "read: %s",
		            self->target, local->message);
		return;
	}
	first = entries->len > 0 ? g_ptr_array_index(entries, 0) : NULL;
	/* §6.3 reader rule: a first entry "d" is the list, anything else one record per entry */
	if (first != NULL && g_str_equal(first->name, MSB_ZIP_SINGLE_ENTRY_NAME)) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(first->data, &len);

		batch = msb_message_codec_decode_list(data, len, MAX_PAGE_ZIP, &local);
	} else {
		batch = msb_message_batch_new();
		for (guint i = 0; i < entries->len; i++) {
			const MsbZipEntry *entry = g_ptr_array_index(entries, i);
			gsize len = 0;
			const guint8 *data = g_bytes_get_data(entry->data, &len);

			if (!msb_message_batch_add_record(batch, data, len, MAX_RECEIVE_MESSAGE,
			                                  &local)) {
				g_clear_pointer(&batch, msb_message_batch_free);
				break;
			}
		}
	}
	if (batch == NULL) {
		g_set_error(&job->error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_BAD_RESPONSE,
		            "persistence service at %s sent a GetPageCompressed archive we cannot "
		            "decode: %s",
		            self->target, local->message);
		return;
	}
	job->result = g_steal_pointer(&batch);
	job->result_free = (GDestroyNotify)msb_message_batch_free;
}

typedef struct {
	gboolean restored;
	gint64 next_message_id;
} MsbRestoreResult;

static gboolean
msb_restore_cb(GBytes *message, gpointer user_data, GError **error)
{
	MsbJob *job = user_data;
	Persistence__RestoreTopicGrpcResponse *resp;
	MsbRestoreResult *result;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);

	resp = persistence__restore_topic_grpc_response__unpack(NULL, len, data);
	if (resp == NULL) {
		msb_set_bad_response(error, "RestoreTopicGrpcResponse");
		return FALSE;
	}
	result = g_new0(MsbRestoreResult, 1);
	result->restored = resp->result != 0;
	result->next_message_id = resp->messageid;
	persistence__restore_topic_grpc_response__free_unpacked(resp, NULL);
	job->result = result;
	job->result_free = g_free;
	return TRUE;
}

static void
msb_run_restore_topic(MsbPersistenceClient *self, MsbJob *job, grpc_completion_queue *cq)
{
	if (msb_client_call(self, cq, job, M_RESTORE_TOPIC, job->requests, msb_restore_cb, job,
	                    &job->error) &&
	    job->result == NULL)
		msb_set_bad_response(&job->error, "RestoreTopicGrpcResponse (none came)");
}

/* ---- GObject ----------------------------------------------------------------------------- */

static void
msb_persistence_client_get_property(GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
	MsbPersistenceClient *self = MSB_PERSISTENCE_CLIENT(object);

	switch (prop_id) {
	case PROP_CONNECTED:
		g_value_set_boolean(value, self->connected);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
msb_persistence_client_dispose(GObject *object)
{
	MsbPersistenceClient *self = MSB_PERSISTENCE_CLIENT(object);

	if (!self->disposed) {
		self->disposed = TRUE;
		g_mutex_lock(&self->notifier->lock);
		self->notifier->client = NULL;
		g_mutex_unlock(&self->notifier->lock);
		/* every job holds a reference to us, so the workers are idle */
		for (guint i = 0; i < self->workers->len; i++)
			g_async_queue_push(self->jobs, STOP_JOB);
		for (guint i = 0; i < self->workers->len; i++)
			g_thread_join(g_ptr_array_index(self->workers, i));
		g_ptr_array_set_size(self->workers, 0);
		/* destroying the channel ends the watch the watcher waits for */
		g_mutex_lock(&self->watch_lock);
		self->watch_stop = TRUE;
		g_clear_pointer(&self->channel, grpc_channel_destroy);
		g_mutex_unlock(&self->watch_lock);
		if (self->watcher != NULL)
			g_thread_join(g_steal_pointer(&self->watcher));
		if (self->watch_cq != NULL) {
			grpc_completion_queue_shutdown(self->watch_cq);
			while (grpc_completion_queue_next(self->watch_cq,
			                                  gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
			               .type != GRPC_QUEUE_SHUTDOWN)
				;
			g_clear_pointer(&self->watch_cq, grpc_completion_queue_destroy);
		}
	}
	G_OBJECT_CLASS(msb_persistence_client_parent_class)->dispose(object);
}

static void
msb_persistence_client_finalize(GObject *object)
{
	MsbPersistenceClient *self = MSB_PERSISTENCE_CLIENT(object);

	g_free(self->target);
	g_main_context_unref(self->context);
	g_async_queue_unref(self->jobs);
	g_ptr_array_unref(self->workers);
	msb_notifier_unref(self->notifier);
	g_mutex_clear(&self->watch_lock);
	G_OBJECT_CLASS(msb_persistence_client_parent_class)->finalize(object);
	grpc_shutdown();
}

static void
msb_persistence_client_class_init(MsbPersistenceClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->get_property = msb_persistence_client_get_property;
	object_class->dispose = msb_persistence_client_dispose;
	object_class->finalize = msb_persistence_client_finalize;
	props[PROP_CONNECTED] =
	        g_param_spec_boolean("connected", "Connected",
	                             "Whether the channel to the persistence service is connected",
	                             FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, N_PROPS, props);
}

static void
msb_persistence_client_init(MsbPersistenceClient *self)
{
	grpc_init();
	self->call_timeout_ms = MSB_PERSISTENCE_CALL_TIMEOUT_MS;
	self->bulk_timeout_ms = MSB_PERSISTENCE_BULK_TIMEOUT_MS;
	self->state = GRPC_CHANNEL_IDLE;
	self->notifier = g_new0(MsbNotifier, 1);
	self->notifier->refs = 1;
	g_mutex_init(&self->notifier->lock);
	self->notifier->client = self;
	g_mutex_init(&self->watch_lock);
	self->jobs = g_async_queue_new();
	self->workers = g_ptr_array_new();
	self->context = g_main_context_ref_thread_default();
}

MsbPersistenceClient *
msb_persistence_client_new(const gchar *url, GError **error)
{
	g_autofree gchar *target = NULL;
	g_autoptr(MsbPersistenceClient) self = NULL;
	grpc_channel_credentials *creds;
	grpc_arg args[4];
	grpc_channel_args channel_args = {G_N_ELEMENTS(args), args};

	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	target = msb_persistence_parse_url(url, error);
	if (target == NULL)
		return NULL;
	self = g_object_new(MSB_TYPE_PERSISTENCE_CLIENT, NULL);
	self->target = g_steal_pointer(&target);

	/* both sides enforce their own receive limit (notes §5): pages and chunks are large */
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = MAX_RECEIVE_MESSAGE;
	/* reconnect within a few hundred ms of the service coming back (notes §7) */
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
	args[1].value.integer = 100;
	args[2].type = GRPC_ARG_INTEGER;
	args[2].key = (char *)GRPC_ARG_MIN_RECONNECT_BACKOFF_MS;
	args[2].value.integer = 100;
	args[3].type = GRPC_ARG_INTEGER;
	args[3].key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
	args[3].value.integer = RECONNECT_MS;
	creds = grpc_insecure_credentials_create();
	self->channel = grpc_channel_create(self->target, creds, &channel_args);
	grpc_channel_credentials_release(creds);
	for (guint i = 0; i < N_METHODS; i++)
		self->handles[i] =
		        grpc_channel_register_call(self->channel, methods[i].path, NULL, NULL);
	self->watch_cq = grpc_completion_queue_create_for_next(NULL);
	self->watcher = g_thread_new("msb-persist-watch", msb_watcher_thread, self);
	return g_steal_pointer(&self);
}

const gchar *
msb_persistence_client_get_target(MsbPersistenceClient *self)
{
	g_return_val_if_fail(MSB_IS_PERSISTENCE_CLIENT(self), NULL);
	return self->target;
}

gboolean
msb_persistence_client_get_connected(MsbPersistenceClient *self)
{
	g_return_val_if_fail(MSB_IS_PERSISTENCE_CLIENT(self), FALSE);
	return self->connected;
}

void
msb_persistence_client_set_timeouts(MsbPersistenceClient *self, guint call_timeout_ms,
                                    guint bulk_timeout_ms)
{
	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	if (call_timeout_ms > 0)
		self->call_timeout_ms = call_timeout_ms;
	if (bulk_timeout_ms > 0)
		self->bulk_timeout_ms = bulk_timeout_ms;
}

/* ---- the public calls -------------------------------------------------------------------- */

#define MSB_CHECK_FINISH(self, result, tag)                                              \
	G_STMT_START                                                                     \
	{                                                                                \
		g_return_val_if_fail(MSB_IS_PERSISTENCE_CLIENT(self), 0);                \
		g_return_val_if_fail(g_task_is_valid(result, self), 0);                  \
		g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == (tag), 0); \
	}                                                                                \
	G_STMT_END

void
msb_persistence_client_ping_async(MsbPersistenceClient *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	job = msb_job_new(self, M_PING, msb_run_simple, cancellable, callback, user_data,
	                  msb_persistence_client_ping_async);
	g_ptr_array_add(job->requests, msb_empty_request());
	msb_job_push(self, job);
}

gboolean
msb_persistence_client_ping_finish(MsbPersistenceClient *self, GAsyncResult *result, GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_ping_async);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
msb_persistence_client_get_version_async(MsbPersistenceClient *self, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	job = msb_job_new(self, M_GET_VERSION, msb_run_get_version, cancellable, callback,
	                  user_data, msb_persistence_client_get_version_async);
	g_ptr_array_add(job->requests, msb_empty_request());
	msb_job_push(self, job);
}

gchar *
msb_persistence_client_get_version_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                          GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_get_version_async);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
msb_persistence_client_get_snapshot_async(MsbPersistenceClient *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data)
{
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	job = msb_job_new(self, M_GET_SNAPSHOT, msb_run_get_snapshot, cancellable, callback,
	                  user_data, msb_persistence_client_get_snapshot_async);
	g_ptr_array_add(job->requests, msb_empty_request());
	msb_job_push(self, job);
}

GPtrArray *
msb_persistence_client_get_snapshot_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                           GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_get_snapshot_async);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
msb_persistence_client_save_snapshot_async(MsbPersistenceClient *self, GPtrArray *topics,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data)
{
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	g_return_if_fail(topics != NULL);
	job = msb_job_new(self, M_SAVE_SNAPSHOT, msb_run_simple, cancellable, callback, user_data,
	                  msb_persistence_client_save_snapshot_async);
	g_ptr_array_add(job->requests, msb_encode_snapshot(topics));
	msb_job_push(self, job);
}

gboolean
msb_persistence_client_save_snapshot_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                            GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_save_snapshot_async);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
msb_persistence_client_save_messages_async(MsbPersistenceClient *self, const gchar *topic_id,
                                           const MsbPersistMessage *messages, gsize n_messages,
                                           gboolean compressed, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data)
{
	MsbJob *job;
	gsize done = 0;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	g_return_if_fail(topic_id != NULL);
	g_return_if_fail(messages != NULL || n_messages == 0);

	job = msb_job_new(self, compressed ? M_SAVE_MESSAGES : M_SAVE_MESSAGES_UNCOMPRESSED,
	                  msb_run_save_messages, cancellable, callback, user_data,
	                  msb_persistence_client_save_messages_async);
	job->topic_id = g_strdup(topic_id);
	/* a protobuf copy now, so that the caller may free its messages when we return */
	while (done < n_messages) {
		gsize n = msb_message_codec_fit_upload(topic_id, messages + done, n_messages - done,
		                                       MAX_UPLOAD_PAYLOAD);

		g_ptr_array_add(job->requests,
		                msb_message_codec_encode_upload(topic_id, messages + done, n));
		done += n;
	}
	if (job->requests->len == 0) {
		/* nothing to store is stored at once */
		g_task_return_boolean(job->task, TRUE);
		msb_job_free(job);
		return;
	}
	msb_job_push(self, job);
}

gboolean
msb_persistence_client_save_messages_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                            GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_save_messages_async);
	return g_task_propagate_boolean(G_TASK(result), error);
}

static GBytes *
msb_page_request(const gchar *topic_id, gint64 page_no, gint64 from_id, gint64 to_id,
                 gint32 version)
{
	Persistence__GetPageGrpcRequest req = PERSISTENCE__GET_PAGE_GRPC_REQUEST__INIT;

	req.topicid = (char *)topic_id;
	req.pageno = page_no;
	req.frommessageid = from_id;
	req.tomessageid = to_id;
	req.version = version;
	return msb_pack(&req.base);
}

void
msb_persistence_client_get_page_async(MsbPersistenceClient *self, const gchar *topic_id,
                                      gint64 page_no, gint64 from_id, gint64 to_id,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data)
{
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	g_return_if_fail(topic_id != NULL);
	job = msb_job_new(self, M_GET_PAGE, msb_run_get_records, cancellable, callback, user_data,
	                  msb_persistence_client_get_page_async);
	/* Version 1, as the Rust broker sends it (§9.5); GetPage ignores it */
	g_ptr_array_add(job->requests, msb_page_request(topic_id, page_no, from_id, to_id, 1));
	msb_job_push(self, job);
}

MsbMessageBatch *
msb_persistence_client_get_page_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                       GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_get_page_async);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
msb_persistence_client_get_sub_page_async(MsbPersistenceClient *self, const gchar *topic_id,
                                          gint64 sub_page_no, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data)
{
	Persistence__GetSubPageGrpcRequest req = PERSISTENCE__GET_SUB_PAGE_GRPC_REQUEST__INIT;
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	g_return_if_fail(topic_id != NULL);
	job = msb_job_new(self, M_GET_SUB_PAGE, msb_run_get_records, cancellable, callback,
	                  user_data, msb_persistence_client_get_sub_page_async);
	req.topicid = (char *)topic_id;
	req.subpageno = sub_page_no;
	g_ptr_array_add(job->requests, msb_pack(&req.base));
	msb_job_push(self, job);
}

MsbMessageBatch *
msb_persistence_client_get_sub_page_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                           GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_get_sub_page_async);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
msb_persistence_client_get_page_compressed_async(MsbPersistenceClient *self, const gchar *topic_id,
                                                 gint64 page_no, gint64 from_id, gint64 to_id,
                                                 gint32 version, GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data)
{
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	g_return_if_fail(topic_id != NULL);
	job = msb_job_new(self, M_GET_PAGE_COMPRESSED, msb_run_get_page_compressed, cancellable,
	                  callback, user_data, msb_persistence_client_get_page_compressed_async);
	g_ptr_array_add(job->requests,
	                msb_page_request(topic_id, page_no, from_id, to_id, version));
	msb_job_push(self, job);
}

MsbMessageBatch *
msb_persistence_client_get_page_compressed_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                                  GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_get_page_compressed_async);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
msb_persistence_client_get_message_async(MsbPersistenceClient *self, const gchar *topic_id,
                                         gint64 message_id, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
	Persistence__GetMessageGrpcRequest req = PERSISTENCE__GET_MESSAGE_GRPC_REQUEST__INIT;
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	g_return_if_fail(topic_id != NULL);
	job = msb_job_new(self, M_GET_MESSAGE, msb_run_get_records, cancellable, callback,
	                  user_data, msb_persistence_client_get_message_async);
	job->message_id = message_id;
	req.topicid = (char *)topic_id;
	req.messageid = message_id;
	g_ptr_array_add(job->requests, msb_pack(&req.base));
	msb_job_push(self, job);
}

MsbMessageBatch *
msb_persistence_client_get_message_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                          GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_get_message_async);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
msb_persistence_client_delete_topic_async(MsbPersistenceClient *self, const gchar *topic_id,
                                          gint64 delete_after_us, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data)
{
	Persistence__DeleteTopicGrpcRequest req = PERSISTENCE__DELETE_TOPIC_GRPC_REQUEST__INIT;
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	g_return_if_fail(topic_id != NULL);
	job = msb_job_new(self, M_DELETE_TOPIC, msb_run_simple, cancellable, callback, user_data,
	                  msb_persistence_client_delete_topic_async);
	req.topicid = (char *)topic_id;
	req.deleteafter = delete_after_us;
	g_ptr_array_add(job->requests, msb_pack(&req.base));
	msb_job_push(self, job);
}

gboolean
msb_persistence_client_delete_topic_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                           GError **error)
{
	MSB_CHECK_FINISH(self, result, msb_persistence_client_delete_topic_async);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
msb_persistence_client_restore_topic_async(MsbPersistenceClient *self, const gchar *topic_id,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data)
{
	Persistence__RestoreTopicGrpcRequest req = PERSISTENCE__RESTORE_TOPIC_GRPC_REQUEST__INIT;
	MsbJob *job;

	g_return_if_fail(MSB_IS_PERSISTENCE_CLIENT(self));
	g_return_if_fail(topic_id != NULL);
	job = msb_job_new(self, M_RESTORE_TOPIC, msb_run_restore_topic, cancellable, callback,
	                  user_data, msb_persistence_client_restore_topic_async);
	req.topicid = (char *)topic_id;
	g_ptr_array_add(job->requests, msb_pack(&req.base));
	msb_job_push(self, job);
}

gboolean
msb_persistence_client_restore_topic_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                            gboolean *restored, gint64 *next_message_id,
                                            GError **error)
{
	g_autofree MsbRestoreResult *res = NULL;

	MSB_CHECK_FINISH(self, result, msb_persistence_client_restore_topic_async);
	res = g_task_propagate_pointer(G_TASK(result), error);
	if (res == NULL)
		return FALSE;
	if (restored != NULL)
		*restored = res->restored;
	if (next_message_id != NULL)
		*next_message_id = res->next_message_id;
	return TRUE;
}
