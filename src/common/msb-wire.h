/*
 * The My Service Bus binary TCP protocol codec (../shared/spec/protocol.md), with no I/O.
 *
 * Decoding is incremental and zero-copy: msb_wire_decode() looks at the bytes buffered so far and
 * either returns one whole packet (whose strings and payloads are views into those bytes, valid
 * until the caller consumes them) or says it needs more. Every length and count is checked against
 * the bytes available and against the decoder's ceiling before it is used, so a hostile length is
 * a protocol error, never an allocation.
 *
 * Encoding appends to an MsbBuf. Packets whose layout depends on the connection state take the
 * protocol version P (from Greeting) and, for NewMessages, V7 (PacketVersions key 7).
 */
#pragma once

#include <glib.h>

#include "msb-buf.h"

G_BEGIN_DECLS

#define MSB_WIRE_ERROR (msb_wire_error_quark())
GQuark
msb_wire_error_quark(void);

typedef enum {
	MSB_WIRE_ERROR_UNKNOWN_PACKET, /* packet id > 16 */
	MSB_WIRE_ERROR_NEGATIVE_LENGTH,
	MSB_WIRE_ERROR_TOO_LARGE, /* a length, count or packet above the ceiling */
	MSB_WIRE_ERROR_INVALID_UTF8,
	MSB_WIRE_ERROR_INVALID_ARGUMENT, /* encoder: a string longer than 255 bytes, and so on */
} MsbWireError;

typedef enum {
	MSB_PACKET_PING = 0,
	MSB_PACKET_PONG = 1,
	MSB_PACKET_GREETING = 2,
	MSB_PACKET_PUBLISH = 3,
	MSB_PACKET_PUBLISH_RESPONSE = 4,
	MSB_PACKET_SUBSCRIBE = 5,
	MSB_PACKET_SUBSCRIBE_RESPONSE = 6,
	MSB_PACKET_NEW_MESSAGES = 7,
	MSB_PACKET_NEW_MESSAGES_CONFIRMATION = 8,
	MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS = 9,
	MSB_PACKET_MESSAGES_CONFIRMATION_LEGACY = 10, /* C# only; decoded, ignored */
	MSB_PACKET_PACKET_VERSIONS = 11,
	MSB_PACKET_REJECT = 12,
	MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL = 13,
	MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK = 14,
	MSB_PACKET_INTERMEDIARY_CONFIRM = 15,
	MSB_PACKET_SET_NAMESPACE = 16,
} MsbPacketId;

#define MSB_PACKET_ID_LAST MSB_PACKET_SET_NAMESPACE

const gchar *
msb_packet_id_to_string(MsbPacketId id);

/* Queue type byte of Subscribe: bit 0 = delete on disconnect, bit 1 = single connection. */
typedef enum {
	MSB_QUEUE_TYPE_PERMANENT = 0,
	MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT = 1,
	MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION = 2,
	MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION = 3,
} MsbQueueType;

/* Any value > 3 is DeleteOnDisconnect (protocol.md §7.1). */
MsbQueueType
msb_queue_type_from_wire(guint8 value);

/* The lowest protocol version we accept; ≥ 3 is treated as 3. */
#define MSB_WIRE_PROTOCOL_MIN 2
#define MSB_WIRE_PROTOCOL_MAX 3

/* A UTF-8 string view: not NUL-terminated, at most 255 bytes, already validated. */
typedef struct {
	const gchar *str;
	guint8 len;
} MsbWireStr;

/*
 * One message of a Publish (C→S) or NewMessages (S→C) packet. @headers is the raw encoded header
 * block exactly as on the wire: a u8 pair count then that many (pstr key, pstr value) pairs, so a
 * broker can store it and send it on verbatim; for P < 3 it is empty (headers_len 0) and
 * n_headers is 0. Iterate it with msb_wire_headers_next().
 */
typedef struct {
	gint64 id;       /* NewMessages only */
	gint32 attempt;  /* NewMessages with P ≥ 3 or V7 = 1; otherwise 0 */
	guint n_headers; /* 0..255 */
	const guint8 *headers;
	gsize headers_len;
	const guint8 *content;
	gsize content_len;
} MsbWireMessage;

/* Inclusive id interval as on the wire (packets 14, 15). */
typedef struct {
	gint64 from_id;
	gint64 to_id;
} MsbWireRange;

typedef struct {
	MsbPacketId id;
	union {
		struct {
			MsbWireStr name;
			gint32 protocol_version;
		} greeting;
		struct {
			MsbWireStr topic;
			gint64 request_id;
			gboolean persist_immediately;
			guint n_messages;
			const MsbWireMessage *messages; /* owned by the decoder */
		} publish;
		struct {
			gint64 request_id;
		} publish_response;
		struct {
			MsbWireStr topic;
			MsbWireStr queue;
			guint8 queue_type; /* raw byte; see msb_queue_type_from_wire() */
		} subscribe;
		struct {
			MsbWireStr topic;
			MsbWireStr queue;
		} subscribe_response;
		struct {
			MsbWireStr topic;
			MsbWireStr queue;
			gint64 confirmation_id;
			guint n_messages;
			const MsbWireMessage *messages; /* owned by the decoder */
		} new_messages;
		/* packets 8 and 13 */
		struct {
			MsbWireStr topic;
			MsbWireStr queue;
			gint64 confirmation_id;
		} confirm;
		struct {
			MsbWireStr topic;
		} create_topic;
		/* packet 10 (C# layout, no confirmation id): counts only, intervals not kept */
		struct {
			MsbWireStr topic;
			MsbWireStr queue;
			guint n_ok;
			guint n_not_ok;
		} legacy_confirmation;
		struct {
			guint n_entries;
			gboolean has_new_messages_version;
			gint32 new_messages_version; /* the value for key 7, if present (last one
			                                wins) */
		} packet_versions;
		struct {
			MsbWireStr message;
		} reject;
		/* packets 14 and 15 */
		struct {
			guint8 packet_version; /* ignored */
			MsbWireStr topic;
			MsbWireStr queue;
			gint64 confirmation_id;
			guint n_ranges;
			const MsbWireRange *ranges; /* owned by the decoder, host byte order */
		} confirm_ids;
		struct {
			MsbWireStr name;
		} set_namespace;
	};
} MsbPacket;

typedef enum {
	MSB_WIRE_DECODE_OK,
	MSB_WIRE_DECODE_NEED_MORE,
	MSB_WIRE_DECODE_ERROR,
} MsbWireDecodeResult;

/*
 * Per-connection decoder state. The caller owns P and V7: it sets protocol_version after a
 * Greeting and new_messages_version after PacketVersions, before decoding the next packet.
 */
typedef struct {
	gint32 protocol_version;     /* P; 0 until Greeting */
	gint32 new_messages_version; /* V7; 0 until PacketVersions */
	gsize max_packet_size;       /* ceiling for one packet and any length inside it */
	/* private */
	GArray *messages; /* MsbWireMessage scratch, reused */
	GArray *ranges;   /* MsbWireRange scratch, reused */
	gsize need;       /* NEED_MORE: total bytes the packet needs at least */
} MsbWireDecoder;

/* The ceiling msb_wire_decoder_init() uses when given 0. */
#define MSB_WIRE_DEFAULT_MAX_PACKET_SIZE (64 * 1024 * 1024)

/* @max_packet_size 0 means MSB_WIRE_DEFAULT_MAX_PACKET_SIZE. */
void
msb_wire_decoder_init(MsbWireDecoder *dec, gsize max_packet_size);
void
msb_wire_decoder_clear(MsbWireDecoder *dec);

/*
 * Decode one packet from the front of @data.
 *
 * OK: *out is filled and *consumed is its size in bytes. Views in *out point into @data and into
 *   the decoder's scratch arrays; both stay valid until the next call.
 * NEED_MORE: @data holds a prefix of a valid packet; *consumed is set to the total number of bytes
 *   known to be needed (at least len + 1), so the caller can wait for that many before trying
 * again. ERROR: @error says why; the stream cannot be resynchronised and the connection must be
 * closed.
 */
MsbWireDecodeResult
msb_wire_decode(MsbWireDecoder *dec, const guint8 *data, gsize len, MsbPacket *out, gsize *consumed,
                GError **error);

/* Iterate a raw header block (from MsbWireMessage.headers, or one built with
 * msb_wire_put_headers()). @pos starts at 0. Returns FALSE at the end. */
gboolean
msb_wire_headers_next(const guint8 *headers, gsize headers_len, gsize *pos, MsbWireStr *key,
                      MsbWireStr *value);

/* ---- encoding ---- */

typedef struct {
	const gchar *key; /* NUL-terminated UTF-8, ≤ 255 bytes */
	const gchar *value;
} MsbWireHeader;

/* Cut @str to at most 255 bytes on a UTF-8 character boundary (for Reject texts). */
gsize
msb_wire_utf8_cap(const gchar *str, gsize len, gsize max);

void
msb_wire_put_ping(MsbBuf *buf);
void
msb_wire_put_pong(MsbBuf *buf);
gboolean
msb_wire_put_greeting(MsbBuf *buf, const gchar *name, gint32 protocol_version, GError **error);
void
msb_wire_put_publish_response(MsbBuf *buf, gint64 request_id);
gboolean
msb_wire_put_subscribe(MsbBuf *buf, const gchar *topic, const gchar *queue, guint8 queue_type,
                       GError **error);
gboolean
msb_wire_put_subscribe_response(MsbBuf *buf, const gchar *topic, const gchar *queue,
                                GError **error);
/* packet 8 (@all_ok) or 13 */
gboolean
msb_wire_put_confirm(MsbBuf *buf, gboolean all_ok, const gchar *topic, const gchar *queue,
                     gint64 confirmation_id, GError **error);
/* packet 14 (@intermediary FALSE) or 15 */
gboolean
msb_wire_put_confirm_ids(MsbBuf *buf, gboolean intermediary, const gchar *topic, const gchar *queue,
                         gint64 confirmation_id, const MsbWireRange *ranges, guint n_ranges,
                         GError **error);
gboolean
msb_wire_put_create_topic(MsbBuf *buf, const gchar *topic, GError **error);
/* packet 11 with the single entry clients send: key 7 → @new_messages_version */
void
msb_wire_put_packet_versions(MsbBuf *buf, gint32 new_messages_version);
/* Reject: @message is cut to 255 bytes on a UTF-8 boundary; invalid UTF-8 is replaced. */
void
msb_wire_put_reject(MsbBuf *buf, const gchar *message);
gboolean
msb_wire_put_set_namespace(MsbBuf *buf, const gchar *name, GError **error);

/* A header block (u8 count + pairs) for P ≥ 3 Publish; FALSE if a string is too long, invalid
 * UTF-8 or there are more than 255 pairs. Nothing is written on failure. */
gboolean
msb_wire_put_headers(MsbBuf *buf, const MsbWireHeader *headers, guint n_headers, GError **error);

/*
 * Publish is built in three steps so that a caller can append messages without an intermediate
 * array: begin (returns the offset of the count field), add each message, end.
 *
 * @count_at is counted from the buffer's unread head (buf->off), not from buf->data, so it stays
 * right when msb_buf_grow() compacts the buffer between begin and end; pass it back to _end()
 * unchanged and do not consume from @buf in between.
 */
gboolean
msb_wire_publish_begin(MsbBuf *buf, const gchar *topic, gint64 request_id, gsize *count_at,
                       GError **error);
/* @headers is a raw block from msb_wire_put_headers()/MsbWireMessage, or NULL for none;
 * for P < 3 headers are not sent. The block is copied as is, not validated again. */
void
msb_wire_publish_add(MsbBuf *buf, gint32 protocol_version, const guint8 *headers, gsize headers_len,
                     const guint8 *content, gsize content_len);
void
msb_wire_publish_end(MsbBuf *buf, gsize count_at, guint n_messages, gboolean persist_immediately);

/*
 * NewMessages likewise: begin, add each message with the receiving session's P and V7, end.
 * @headers is a raw block; it is dropped for P < 3 and written as "0 pairs" when NULL for P ≥ 3.
 */
gboolean
msb_wire_new_messages_begin(MsbBuf *buf, const gchar *topic, const gchar *queue,
                            gint64 confirmation_id, gsize *count_at, GError **error);
void
msb_wire_new_messages_add(MsbBuf *buf, gint32 protocol_version, gint32 new_messages_version,
                          gint64 id, gint32 attempt, const guint8 *headers, gsize headers_len,
                          const guint8 *content, gsize content_len);
void
msb_wire_new_messages_end(MsbBuf *buf, gsize count_at, guint n_messages);

G_END_DECLS
