/*
 * libmsb-client: a GLib client for My Service Bus (and wire-compatible brokers).
 *
 * An MsbClient is one TCP or Unix-socket connection, driven by the thread-default GMainContext
 * of the thread that created it. It greets, pings every 3 s, closes a link that has been silent
 * for 3 ping intervals and reconnects after a delay, re-sending its topics and subscriptions.
 * Publishes are pipelined: many may be in flight, each matched to its PublishResponse by request
 * id; a Reject or a disconnect fails the publish with a GError.
 *
 * Threading: every function (and msb_delivery_*) must be called on the thread that created the
 * client; callbacks and signals run on that thread's thread-default main context.
 *
 * Output is batched: publishes and confirmations are appended to one output buffer that is written
 * once per main-loop iteration, so a publish only reaches the broker when the main context runs.
 *
 * Signals:
 *  "connected"    (MsbClient *client, gpointer user_data): the link is up and the greeting burst
 *                 (Greeting, PacketVersions, every topic and subscription) is queued.
 *  "disconnected" (MsbClient *client, const GError *error, gpointer user_data): an established
 *                 link went down; @error says why. Pending publishes have already failed.
 *  "rejected"     (MsbClient *client, const gchar *text, gpointer user_data): the broker sent
 *                 Reject (see "Reject matching" below).
 *
 * Reject matching: the protocol has no request id in Reject. The broker answers a failed Publish
 * with Reject instead of PublishResponse, and answers in request order, so a Reject belongs to the
 * oldest publish still waiting. Our broker also sends Reject for errors that are not about a
 * publish; those texts start with "Subscribe", "Confirm", "Namespace", "CreateTopic", "Greeting"
 * or "Packet". A Reject whose text starts with one of these prefixes is only emitted as
 * "rejected"; any other Reject fails the oldest pending publish with MSB_CLIENT_ERROR_REJECTED
 * (the error message is the Reject text) and is then emitted as "rejected" too.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Marks the exported API; the library is built with hidden visibility for everything else. */
#if defined(__GNUC__) || defined(__clang__)
#define MSB_CLIENT_API __attribute__((visibility("default")))
#else
#define MSB_CLIENT_API
#endif

#define MSB_CLIENT_ERROR (msb_client_error_quark())
MSB_CLIENT_API GQuark
msb_client_error_quark(void);

typedef enum {
	MSB_CLIENT_ERROR_REJECTED,         /* the broker answered Reject; the message is its text */
	MSB_CLIENT_ERROR_DISCONNECTED,     /* the connection closed before the answer */
	MSB_CLIENT_ERROR_NOT_CONNECTED,    /* no connection, and none is being made */
	MSB_CLIENT_ERROR_INVALID_ARGUMENT, /* a name longer than 255 bytes, invalid UTF-8, ... */
	MSB_CLIENT_ERROR_PROTOCOL,         /* the broker sent bytes we cannot decode */
} MsbClientError;

/* Same values as the Subscribe queue_type byte. */
typedef enum {
	MSB_CLIENT_QUEUE_PERMANENT = 0,
	MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT = 1,
	MSB_CLIENT_QUEUE_PERMANENT_SINGLE_CONNECTION = 2,
	MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION = 3,
} MsbClientQueueType;

typedef struct {
	const gchar *key; /* NUL-terminated UTF-8, at most 255 bytes */
	const gchar *value;
} MsbHeader;

/* A message to publish; nothing is retained after msb_client_publish_async() returns. */
typedef struct {
	const guint8 *content;
	gsize content_len;
	const MsbHeader *headers; /* may be NULL when n_headers is 0 */
	guint n_headers;
} MsbMessage;

/* A delivered message; valid as long as its MsbDelivery is. */
typedef struct {
	gint64 id;
	gint32 attempt; /* 0 on first delivery, n on the n-th redelivery */
	const guint8 *content;
	gsize content_len;
	const MsbHeader *headers; /* NULL when n_headers is 0 */
	guint n_headers;
} MsbReceivedMessage;

#define MSB_TYPE_CLIENT (msb_client_get_type())
MSB_CLIENT_API
G_DECLARE_FINAL_TYPE(MsbClient, msb_client, MSB, CLIENT, GObject)

typedef struct _MsbDelivery MsbDelivery;

/*
 * Called on the client's main context for every NewMessages batch. The batch stays in flight at
 * the broker until it is confirmed with one of msb_delivery_confirm_all(), _fail_all() or
 * _confirm_some(); confirm inside the callback, or take a reference and confirm later. A delivery
 * released without a final confirmation is confirmed as failed, so its messages are redelivered.
 */
typedef void (*MsbDeliveryFunc)(MsbClient *client, MsbDelivery *delivery, gpointer user_data);

/* The library version, e.g. "0.1.0"; it is also the second part of the Greeting name. */
MSB_CLIENT_API const gchar *
msb_client_get_version(void);

/*
 * @address: "host:port" (TCP; the port defaults to 6421) or "unix:/path/to/socket".
 * @app_name: sent in Greeting as "<app_name>;<library version>" (NULL: the program name).
 * Nothing is checked or resolved until msb_client_connect_async().
 */
MSB_CLIENT_API MsbClient *
msb_client_new(const gchar *address, const gchar *app_name);

MSB_CLIENT_API const gchar *
msb_client_get_address(MsbClient *self);

/* 3 (default) or 2; must be set before connecting (it takes effect at the next connect). With 2
 * the wire cannot carry headers: published headers are dropped, delivered ones are empty. */
MSB_CLIENT_API void
msb_client_set_protocol_version(MsbClient *self, gint32 protocol_version);
/* Default TRUE: after a disconnect or a failed connect, reconnect after the reconnect delay. */
MSB_CLIENT_API void
msb_client_set_auto_reconnect(MsbClient *self, gboolean auto_reconnect);
/* Default 3000 ms; the link is declared dead after 3 intervals without any received byte. */
MSB_CLIENT_API void
msb_client_set_ping_interval(MsbClient *self, guint interval_ms);
/* Default 3000 ms. */
MSB_CLIENT_API void
msb_client_set_reconnect_delay(MsbClient *self, guint delay_ms);

/*
 * Connect and send Greeting, PacketVersions, the known topics and subscriptions. Completes at
 * once when already connected; joins the attempt in progress when connecting. Cancelling
 * @cancellable abandons this wait only (the attempt goes on; msb_client_close() stops it). A
 * failed attempt is reported here and, with auto reconnect, retried after the reconnect delay.
 */
MSB_CLIENT_API void
msb_client_connect_async(MsbClient *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data);
MSB_CLIENT_API gboolean
msb_client_connect_finish(MsbClient *self, GAsyncResult *result, GError **error);
/* Iterates the thread-default main context until connected or failed. */
MSB_CLIENT_API gboolean
msb_client_connect_sync(MsbClient *self, GCancellable *cancellable, GError **error);

/* Close the connection for good: pending publishes fail, no reconnect (until the next
 * msb_client_connect_async()). Output already buffered (say, the last confirmations) is written
 * first if the socket takes it without blocking. Emits "disconnected" if a link was up. */
MSB_CLIENT_API void
msb_client_close(MsbClient *self);
MSB_CLIENT_API gboolean
msb_client_is_connected(MsbClient *self);

/* CreateTopicIfNotExists: the broker does not answer it. Remembered and re-sent on reconnect. */
MSB_CLIENT_API gboolean
msb_client_create_topic(MsbClient *self, const gchar *topic, GError **error);

/*
 * Publish @n_messages (0 is allowed) in one Publish packet. The messages are encoded at once,
 * nothing is retained. Errors: MSB_CLIENT_ERROR_INVALID_ARGUMENT (bad topic or header, at once),
 * _NOT_CONNECTED (no link and no connect attempt in progress; while an attempt is in progress
 * the publish is queued and sent right after the greeting burst, or fails with _NOT_CONNECTED
 * if the attempt fails), _REJECTED, _DISCONNECTED. Cancelling @cancellable completes the call
 * with G_IO_ERROR_CANCELLED at once, but a publish already written may still be applied.
 */
MSB_CLIENT_API void
msb_client_publish_async(MsbClient *self, const gchar *topic, const MsbMessage *messages,
                         guint n_messages, gboolean persist_immediately, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data);
MSB_CLIENT_API gboolean
msb_client_publish_finish(MsbClient *self, GAsyncResult *result, GError **error);
/* Iterates the thread-default main context until answered. */
MSB_CLIENT_API gboolean
msb_client_publish_sync(MsbClient *self, const gchar *topic, const MsbMessage *messages,
                        guint n_messages, gboolean persist_immediately, GCancellable *cancellable,
                        GError **error);
/* Publishes sent (or queued while connecting) and not yet answered. */
MSB_CLIENT_API guint
msb_client_get_pending_publishes(MsbClient *self);

/*
 * Subscribe; remembered and re-sent on reconnect. One subscription per (topic, queue): a second
 * one fails with MSB_CLIENT_ERROR_INVALID_ARGUMENT. @destroy is called for @user_data when the
 * client is finalized (not when this function fails).
 */
MSB_CLIENT_API gboolean
msb_client_subscribe(MsbClient *self, const gchar *topic, const gchar *queue,
                     MsbClientQueueType queue_type, MsbDeliveryFunc func, gpointer user_data,
                     GDestroyNotify destroy, GError **error);

/* ---- deliveries ---- */

/*
 * A delivery holds one copy of the NewMessages packet; its messages, topic and queue point into
 * it. It keeps the client alive. Confirmations are dropped silently when the connection that
 * carried the batch is gone (the broker has already returned the messages to the queue).
 */
MSB_CLIENT_API MsbDelivery *
msb_delivery_ref(MsbDelivery *delivery);
MSB_CLIENT_API void
msb_delivery_unref(MsbDelivery *delivery);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbDelivery, msb_delivery_unref)

MSB_CLIENT_API const gchar *
msb_delivery_get_topic(MsbDelivery *delivery);
MSB_CLIENT_API const gchar *
msb_delivery_get_queue(MsbDelivery *delivery);
MSB_CLIENT_API gint64
msb_delivery_get_confirmation_id(MsbDelivery *delivery);
MSB_CLIENT_API guint
msb_delivery_get_n_messages(MsbDelivery *delivery);
MSB_CLIENT_API const MsbReceivedMessage *
msb_delivery_get_message(MsbDelivery *delivery, guint index);
/* TRUE once a final confirmation (8, 13 or 14) was made. */
MSB_CLIENT_API gboolean
msb_delivery_is_confirmed(MsbDelivery *delivery);

/* Final confirmations (the batch ends): packet 8, 13, 14. Only the first one counts. */
MSB_CLIENT_API void
msb_delivery_confirm_all(MsbDelivery *delivery);
MSB_CLIENT_API void
msb_delivery_fail_all(MsbDelivery *delivery);
/* @ids are done; every other message of the batch is returned for redelivery. The ids are sent as
 * sorted, merged inclusive ranges; their order and duplicates do not matter. */
MSB_CLIENT_API void
msb_delivery_confirm_some(MsbDelivery *delivery, const gint64 *ids, guint n_ids);
/* Packet 15: @ids are done, the batch stays in flight (also a heartbeat for slow handlers). May be
 * called any number of times before the final confirmation; ignored after it. */
MSB_CLIENT_API void
msb_delivery_confirm_intermediary(MsbDelivery *delivery, const gint64 *ids, guint n_ids);

G_END_DECLS
