/*
 * MsbPersistenceClient: the broker's client for my-service-bus-persistence, generation G3 of the
 * persistence protocol (../shared/spec/persistence.md Appendix A.1), on the gRPC C core.
 *
 * Every call is asynchronous in the GIO style (_async / _finish, GCancellable) and does its
 * network work, encoding, compression and decoding in the client's own worker threads, never on
 * the main loop; the callback runs on the thread-default main context of the caller of _async
 * (create the client and call it from the same context). Every call has a deadline (the call
 * timeout for small calls, the bulk timeout for snapshots, pages and saves) and waits for a
 * connection until then (WAIT_FOR_READY), so a call made while the service restarts succeeds
 * once it is back instead of failing at once. A watcher thread keeps the connection polled and
 * re-established within a few hundred milliseconds of the service coming back, and publishes
 * the "connected" property for logs and metrics.
 *
 * Errors are in MSB_PERSISTENCE_ERROR with the gRPC status as the code, and a message that says
 * which service, which call and what to do; a cancelled call fails with G_IO_ERROR_CANCELLED.
 */
#pragma once

#include <gio/gio.h>

#include "msb-message-codec.h"

G_BEGIN_DECLS

#define MSB_PERSISTENCE_ERROR (msb_persistence_error_quark())
GQuark
msb_persistence_error_quark(void);

/* 1 to 16 are the gRPC status codes, with their meaning. */
typedef enum {
	MSB_PERSISTENCE_ERROR_CANCELLED = 1, /* cancelled by the service or the gRPC library */
	MSB_PERSISTENCE_ERROR_UNKNOWN = 2,
	MSB_PERSISTENCE_ERROR_INVALID_ARGUMENT = 3,  /* the service refused the request as bad */
	MSB_PERSISTENCE_ERROR_DEADLINE_EXCEEDED = 4, /* no answer (or no connection) in time */
	MSB_PERSISTENCE_ERROR_NOT_FOUND = 5,
	MSB_PERSISTENCE_ERROR_ALREADY_EXISTS = 6,
	MSB_PERSISTENCE_ERROR_PERMISSION_DENIED = 7,
	MSB_PERSISTENCE_ERROR_RESOURCE_EXHAUSTED = 8, /* too large, or out of space */
	MSB_PERSISTENCE_ERROR_FAILED_PRECONDITION = 9,
	MSB_PERSISTENCE_ERROR_ABORTED = 10,
	MSB_PERSISTENCE_ERROR_OUT_OF_RANGE = 11,
	MSB_PERSISTENCE_ERROR_UNIMPLEMENTED = 12, /* not a G3 persistence service */
	MSB_PERSISTENCE_ERROR_INTERNAL = 13,
	MSB_PERSISTENCE_ERROR_UNAVAILABLE = 14, /* not running, starting, or its disk failed */
	MSB_PERSISTENCE_ERROR_DATA_LOSS = 15,
	MSB_PERSISTENCE_ERROR_UNAUTHENTICATED = 16,
	MSB_PERSISTENCE_ERROR_BAD_RESPONSE = 100, /* an answer we cannot decode */
	MSB_PERSISTENCE_ERROR_INVALID_URL = 101,  /* GrpcUrl cannot be used */
} MsbPersistenceError;

/* TRUE for errors that a later retry of the same call may not have: the service is down,
 * starting, slow or out of disk space. FALSE for bad requests and for cancellation. */
gboolean
msb_persistence_error_is_transient(const GError *error);

/*
 * The gRPC target for a GrpcUrl: "http://host:port" → "host:port" (port 7124 when missing,
 * IPv6 hosts in brackets), "unix:/path", "/path" and "~/path" → "unix:/path", and a bare
 * "host:port" as it is. https:// is refused: the protocol is cleartext HTTP/2.
 */
gchar *
msb_persistence_parse_url(const gchar *url, GError **error);

/* ---- snapshot records (TopicAndQueuesSnapshotGrpcModel, persistence.md §3.2) ---- */

typedef enum {
	MSB_PERSIST_QUEUE_PERMANENT = 0,
	MSB_PERSIST_QUEUE_AUTO_DELETE = 1, /* any unknown type reads as this (§3.1) */
	MSB_PERSIST_QUEUE_PERMANENT_SINGLE_CONNECTION = 2,
} MsbPersistQueueType;

typedef struct {
	gint64 from_id; /* inclusive */
	gint64 to_id;   /* inclusive; an empty queue is one range with to_id = from_id - 1 */
} MsbPersistRange;

typedef struct {
	gchar *queue_id;
	MsbPersistQueueType queue_type;
	GArray *ranges; /* MsbPersistRange */
} MsbPersistQueueSnapshot;

typedef struct {
	gchar *topic_id;
	gint64 message_id; /* the next id the broker will assign */
	gboolean persist;  /* absent on the wire reads as TRUE */
	GPtrArray *queues; /* MsbPersistQueueSnapshot, owned */
} MsbPersistTopicSnapshot;

MsbPersistTopicSnapshot *
msb_persist_topic_snapshot_new(const gchar *topic_id, gint64 message_id, gboolean persist);
/* The new queue belongs to @topic. */
MsbPersistQueueSnapshot *
msb_persist_topic_snapshot_add_queue(MsbPersistTopicSnapshot *topic, const gchar *queue_id,
                                     MsbPersistQueueType queue_type);
void
msb_persist_queue_snapshot_add_range(MsbPersistQueueSnapshot *queue, gint64 from_id, gint64 to_id);
void
msb_persist_topic_snapshot_free(MsbPersistTopicSnapshot *topic);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbPersistTopicSnapshot, msb_persist_topic_snapshot_free)

/* ---- the client ---- */

#define MSB_TYPE_PERSISTENCE_CLIENT (msb_persistence_client_get_type())
G_DECLARE_FINAL_TYPE(MsbPersistenceClient, msb_persistence_client, MSB, PERSISTENCE_CLIENT, GObject)

/* Default deadlines, from the start of the _async call. */
#define MSB_PERSISTENCE_CALL_TIMEOUT_MS 10000
#define MSB_PERSISTENCE_BULK_TIMEOUT_MS 60000

/* Creates the channel and starts connecting in the background; fails only for a bad @url. */
MsbPersistenceClient *
msb_persistence_client_new(const gchar *url, GError **error);
/* "127.0.0.1:7124" or "unix:/path", as used in messages */
const gchar *
msb_persistence_client_get_target(MsbPersistenceClient *self);
/* TRUE while the channel is connected (the "connected" property; its notify signal is emitted
 * on the context the client was created on). */
gboolean
msb_persistence_client_get_connected(MsbPersistenceClient *self);
/* @call_timeout_ms: Ping, GetVersion, GetMessage, DeleteTopic, RestoreTopic; @bulk_timeout_ms:
 * snapshots, pages and saves. 0 keeps the current value. Applies to calls started afterwards. */
void
msb_persistence_client_set_timeouts(MsbPersistenceClient *self, guint call_timeout_ms,
                                    guint bulk_timeout_ms);

void
msb_persistence_client_ping_async(MsbPersistenceClient *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean
msb_persistence_client_ping_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                   GError **error);

void
msb_persistence_client_get_version_async(MsbPersistenceClient *self, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
/* The service's version string; free it. */
gchar *
msb_persistence_client_get_version_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                          GError **error);

void
msb_persistence_client_get_snapshot_async(MsbPersistenceClient *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
/* GPtrArray of MsbPersistTopicSnapshot (owning); empty when nothing was ever saved. */
GPtrArray *
msb_persistence_client_get_snapshot_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                           GError **error);

/* @topics: MsbPersistTopicSnapshot; encoded before this returns, so the caller keeps it. */
void
msb_persistence_client_save_snapshot_async(MsbPersistenceClient *self, GPtrArray *topics,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data);
gboolean
msb_persistence_client_save_snapshot_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                            GError **error);

/*
 * Stores @messages of @topic_id: SaveMessages with a zipped payload when @compressed, else
 * SaveMessagesUncompressed, each payload cut into chunks of at most 3 MiB; a very large batch
 * goes as several calls. The messages are encoded before this returns, so the caller may free
 * them. Succeeds once the service has them on disk.
 */
void
msb_persistence_client_save_messages_async(MsbPersistenceClient *self, const gchar *topic_id,
                                           const MsbPersistMessage *messages, gsize n_messages,
                                           gboolean compressed, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
gboolean
msb_persistence_client_save_messages_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                            GError **error);

/* GetPage: the messages of page @page_no with from_id <= id <= to_id; 0/0 = the whole page. */
void
msb_persistence_client_get_page_async(MsbPersistenceClient *self, const gchar *topic_id,
                                      gint64 page_no, gint64 from_id, gint64 to_id,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
/* The messages, ascending; an unknown topic gives an empty batch. */
MsbMessageBatch *
msb_persistence_client_get_page_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                       GError **error);

void
msb_persistence_client_get_sub_page_async(MsbPersistenceClient *self, const gchar *topic_id,
                                          gint64 sub_page_no, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
MsbMessageBatch *
msb_persistence_client_get_sub_page_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                           GError **error);

/* GetPageCompressed: like GetPage, as a ZIP (@version 0: one entry "d", else one entry per
 * message), unzipped here. */
void
msb_persistence_client_get_page_compressed_async(MsbPersistenceClient *self, const gchar *topic_id,
                                                 gint64 page_no, gint64 from_id, gint64 to_id,
                                                 gint32 version, GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
MsbMessageBatch *
msb_persistence_client_get_page_compressed_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                                  GError **error);

void
msb_persistence_client_get_message_async(MsbPersistenceClient *self, const gchar *topic_id,
                                         gint64 message_id, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
/* A batch of one message, or of none when the service does not have it. */
MsbMessageBatch *
msb_persistence_client_get_message_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                          GError **error);

/* Soft delete: the service removes the topic's data at @delete_after_us (µs since the epoch;
 * a past moment means as soon as possible). */
void
msb_persistence_client_delete_topic_async(MsbPersistenceClient *self, const gchar *topic_id,
                                          gint64 delete_after_us, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
gboolean
msb_persistence_client_delete_topic_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                           GError **error);

void
msb_persistence_client_restore_topic_async(MsbPersistenceClient *self, const gchar *topic_id,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data);
/* TRUE when the call worked; *@restored says whether the service had the topic to restore,
 * *@next_message_id is then its highest stored id + 1. */
gboolean
msb_persistence_client_restore_topic_finish(MsbPersistenceClient *self, GAsyncResult *result,
                                            gboolean *restored, gint64 *next_message_id,
                                            GError **error);

G_END_DECLS
