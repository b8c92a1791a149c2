/*
 * Messages ↔ protobuf bytes for the persistence link (../shared/spec/persistence.md §3.5, §6.5).
 *
 * The G3 write path does not send messages as gRPC messages: the broker serialises one
 * NewMessagesPayloadModel {1 TopicId, 2 repeated record}, optionally zips it, and cuts it into
 * chunks; ZIP entries hold a MessagesListModel {1 repeated record} (single-entry layout) or one
 * bare record each (entry-per-message layout). This module turns arrays of messages into those
 * bytes and back, with the protoc-c code generated from persistence_payloads.proto. It knows
 * nothing about ZIP (src/common/msb-zip.h) or gRPC, so the broker's client and the persistence
 * service share it.
 *
 * Decoding never trusts the input: it refuses input above the caller's ceiling, turns malformed
 * protobuf and invalid UTF-8 into a GError, and caps the memory the decoded form may take (see
 * MSB_MESSAGE_CODEC_MEMORY_FACTOR).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MSB_MESSAGE_CODEC_ERROR (msb_message_codec_error_quark())
GQuark
msb_message_codec_error_quark(void);

typedef enum {
	MSB_MESSAGE_CODEC_ERROR_TOO_LARGE, /* above the caller's ceiling, or the memory cap */
	MSB_MESSAGE_CODEC_ERROR_MALFORMED, /* not the protobuf message expected, or bad UTF-8 */
} MsbMessageCodecError;

/* Decoding may use at most this many times the input size (plus 64 KiB) of memory. Measured:
 * records with content cost about 1×, the worst real shape (messages of nothing but one-letter
 * headers) about 16×; a flood of empty elements (2 wire bytes, about 100 bytes decoded) goes
 * beyond and is refused rather than allocated. */
#define MSB_MESSAGE_CODEC_MEMORY_FACTOR 32

/* A message header, MessageContentMetaDataItem {1 Key, 2 Value}. */
typedef struct {
	const gchar *key;   /* NULL encodes as "" */
	const gchar *value; /* NULL encodes as "" */
} MsbPersistHeader;

/* One record, MessageContentGrpcModel (§3.3): a view, the bytes belong to someone else. */
typedef struct {
	gint64 id;
	gint64 created_us; /* unix epoch microseconds, UTC */
	const guint8 *content;
	gsize content_len;
	const MsbPersistHeader *headers; /* in order */
	gsize n_headers;
} MsbPersistMessage;

/* Decoded messages. All pointers, including those inside the messages, stay valid until
 * msb_message_batch_free(). */
typedef struct {
	const gchar *topic_id; /* the upload payload's TopicId; NULL for a list or records */
	const MsbPersistMessage *messages;
	gsize n_messages;
} MsbMessageBatch;

/* Encoding cannot fail; each returns freshly allocated protobuf bytes. */
GBytes *
msb_message_codec_encode_list(const MsbPersistMessage *messages, gsize n_messages);
GBytes *
msb_message_codec_encode_upload(const gchar *topic_id, const MsbPersistMessage *messages,
                                gsize n_messages);
GBytes *
msb_message_codec_encode_record(const MsbPersistMessage *message);

/* What one message adds to a list or an upload payload: tag, length and record. */
gsize
msb_message_codec_element_size(const MsbPersistMessage *message);

/* How many messages from the front of @messages fit in an upload payload of at most @max_bytes
 * for @topic_id; at least 1 when @n_messages > 0, so that a message larger than @max_bytes still
 * goes, alone. Lets a caller cut a large batch into several uploads. */
gsize
msb_message_codec_fit_upload(const gchar *topic_id, const MsbPersistMessage *messages,
                             gsize n_messages, gsize max_bytes);

/* A MessagesListModel (§3.5): the content of a single-entry ZIP. */
MsbMessageBatch *
msb_message_codec_decode_list(const guint8 *data, gsize len, gsize max_len, GError **error);
/* A NewMessagesPayloadModel (§6.5): what G3 SaveMessages / SaveMessagesUncompressed carry. */
MsbMessageBatch *
msb_message_codec_decode_upload(const guint8 *data, gsize len, gsize max_len, GError **error);

/* For the entry-per-message layout (§6.3): start empty and add one bare record per entry. */
MsbMessageBatch *
msb_message_batch_new(void);
gboolean
msb_message_batch_add_record(MsbMessageBatch *batch, const guint8 *data, gsize len, gsize max_len,
                             GError **error);
void
msb_message_batch_free(MsbMessageBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbMessageBatch, msb_message_batch_free)

G_END_DECLS
