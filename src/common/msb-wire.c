/*
 * The wire codec: the packet layouts of protocol.md §1–§4 under the decisions of the spec
 * README, decoded incrementally into views of the caller's bytes and encoded into an MsbBuf.
 * It does no I/O and keeps no state beyond MsbWireDecoder, so the broker, the client library
 * and the fuzzer share one implementation of the byte rules.
 */
#define G_LOG_DOMAIN "msb-wire"

#include "msb-wire.h"

#include <string.h>

/* clang-format off */
G_DEFINE_QUARK(msb-wire-error-quark, msb_wire_error)
/* clang-format on */

/*
 * The smallest possible size of each packet (id byte included), i.e. with every string empty and
 * every count zero. Decoding starts from this and adds what each length or count field implies,
 * so at any point the running total is a lower bound of the packet's real size.
 */
static const guint8 wire_min_size[MSB_PACKET_ID_LAST + 1] = {
        [MSB_PACKET_PING] = 1,
        [MSB_PACKET_PONG] = 1,
        [MSB_PACKET_GREETING] = 1 + 1 + 4,
        [MSB_PACKET_PUBLISH] = 1 + 1 + 8 + 4 + 1,
        [MSB_PACKET_PUBLISH_RESPONSE] = 1 + 8,
        [MSB_PACKET_SUBSCRIBE] = 1 + 1 + 1 + 1,
        [MSB_PACKET_SUBSCRIBE_RESPONSE] = 1 + 1 + 1,
        [MSB_PACKET_NEW_MESSAGES] = 1 + 1 + 1 + 8 + 4,
        [MSB_PACKET_NEW_MESSAGES_CONFIRMATION] = 1 + 1 + 1 + 8,
        [MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS] = 1 + 1,
        [MSB_PACKET_MESSAGES_CONFIRMATION_LEGACY] = 1 + 1 + 1 + 4 + 4,
        [MSB_PACKET_PACKET_VERSIONS] = 1 + 1,
        [MSB_PACKET_REJECT] = 1 + 1,
        [MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL] = 1 + 1 + 1 + 8,
        [MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK] = 1 + 1 + 1 + 1 + 8 + 4,
        [MSB_PACKET_INTERMEDIARY_CONFIRM] = 1 + 1 + 1 + 1 + 8 + 4,
        [MSB_PACKET_SET_NAMESPACE] = 1 + 1,
};

/* Minimum wire size of one message, by layout: the fixed fields plus an empty header block. */
#define WIRE_PUBLISH_MSG_MIN_P2 4               /* content length */
#define WIRE_PUBLISH_MSG_MIN_P3 (1 + 4)         /* header count, content length */
#define WIRE_NEW_MSG_MIN_P3     (8 + 4 + 1 + 4) /* id, attempt, header count, content length */
#define WIRE_NEW_MSG_MIN_V1     (8 + 4 + 4)     /* id, attempt, content length */
#define WIRE_NEW_MSG_MIN_V0     (8 + 4)         /* id, content length */
#define WIRE_RANGE_SIZE         16

/*
 * Scratch arrays keep their allocation between packets; after a packet with more elements than
 * this, the next smaller packet gets a fresh array so that one burst does not pin memory for the
 * life of the connection.
 */
#define WIRE_SCRATCH_KEEP 4096

const gchar *
msb_packet_id_to_string(MsbPacketId id)
{
	switch (id) {
	case MSB_PACKET_PING:
		return "Ping";
	case MSB_PACKET_PONG:
		return "Pong";
	case MSB_PACKET_GREETING:
		return "Greeting";
	case MSB_PACKET_PUBLISH:
		return "Publish";
	case MSB_PACKET_PUBLISH_RESPONSE:
		return "PublishResponse";
	case MSB_PACKET_SUBSCRIBE:
		return "Subscribe";
	case MSB_PACKET_SUBSCRIBE_RESPONSE:
		return "SubscribeResponse";
	case MSB_PACKET_NEW_MESSAGES:
		return "NewMessages";
	case MSB_PACKET_NEW_MESSAGES_CONFIRMATION:
		return "NewMessagesConfirmation";
	case MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS:
		return "CreateTopicIfNotExists";
	case MSB_PACKET_MESSAGES_CONFIRMATION_LEGACY:
		return "MessagesConfirmation";
	case MSB_PACKET_PACKET_VERSIONS:
		return "PacketVersions";
	case MSB_PACKET_REJECT:
		return "Reject";
	case MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL:
		return "AllMessagesConfirmedAsFail";
	case MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK:
		return "ConfirmSomeMessagesAsOk";
	case MSB_PACKET_INTERMEDIARY_CONFIRM:
		return "IntermediaryConfirm";
	case MSB_PACKET_SET_NAMESPACE:
		return "SetNamespace";
	default:
		return "Unknown";
	}
}

MsbQueueType
msb_queue_type_from_wire(guint8 value)
{
	/* the two low bits are flags; the reference SDK decodes anything unknown as auto-delete */
	if (value > MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION)
		return MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT;
	return (MsbQueueType)value;
}

void
msb_wire_decoder_init(MsbWireDecoder *dec, gsize max_packet_size)
{
	g_return_if_fail(dec != NULL);

	dec->protocol_version = 0;
	dec->new_messages_version = 0;
	dec->max_packet_size =
	        max_packet_size > 0 ? max_packet_size : MSB_WIRE_DEFAULT_MAX_PACKET_SIZE;
	dec->messages = g_array_new(FALSE, FALSE, sizeof(MsbWireMessage));
	dec->ranges = g_array_new(FALSE, FALSE, sizeof(MsbWireRange));
	dec->need = 0;
}

void
msb_wire_decoder_clear(MsbWireDecoder *dec)
{
	g_return_if_fail(dec != NULL);

	g_clear_pointer(&dec->messages, g_array_unref);
	g_clear_pointer(&dec->ranges, g_array_unref);
	dec->need = 0;
}

static inline gint32
wire_rd_i32(const guint8 *p)
{
	guint32 v;
	memcpy(&v, p, 4);
	return (gint32)GUINT32_FROM_LE(v);
}

static inline gint64
wire_rd_i64(const guint8 *p)
{
	guint64 v;
	memcpy(&v, p, 8);
	return (gint64)GUINT64_FROM_LE(v);
}

static inline void
wire_wr_i32(guint8 *p, gint32 v)
{
	guint32 le = GUINT32_TO_LE((guint32)v);
	memcpy(p, &le, 4);
}

static inline void
wire_wr_i64(guint8 *p, gint64 v)
{
	guint64 le = GUINT64_TO_LE((guint64)v);
	memcpy(p, &le, 8);
}

/*
 * Topic names and header keys are almost always short ASCII, so check that a word at a time
 * before falling back to the full validator. NUL is refused like g_utf8_validate_len() does: a
 * name with an embedded NUL would be cut short by every C string API downstream.
 */
static inline gboolean
wire_utf8_ok(const guint8 *s, gsize n)
{
	const guint64 high = G_GUINT64_CONSTANT(0x8080808080808080);
	const guint64 ones = G_GUINT64_CONSTANT(0x0101010101010101);
	gsize i = 0;

	for (; i + 8 <= n; i += 8) {
		guint64 w;
		memcpy(&w, s + i, 8);
		if (((w & high) | ((w - ones) & ~w & high)) != 0)
			break;
	}
	for (; i < n; i++) {
		if ((guint8)(s[i] - 1) >= 0x7f)
			return g_utf8_validate_len((const gchar *)s + i, n - i, NULL);
	}
	return TRUE;
}

/*
 * Sizes the message scratch for @n messages of at least @per bytes each, of which @avail bytes
 * are buffered: never more than those bytes can hold (plus the one being read), so a hostile
 * count costs nothing before its messages have actually arrived.
 */
static MsbWireMessage *
wire_scratch_messages(MsbWireDecoder *dec, guint32 n, gsize per, gsize avail)
{
	guint size = (guint)MIN((guint64)n, (guint64)(avail / per) + 1);

	if (dec->messages->len > WIRE_SCRATCH_KEEP && size <= WIRE_SCRATCH_KEEP) {
		g_array_unref(dec->messages);
		dec->messages = g_array_new(FALSE, FALSE, sizeof(MsbWireMessage));
	}
	g_array_set_size(dec->messages, size);
	return (MsbWireMessage *)(gpointer)dec->messages->data;
}

/* only once all @n ranges are buffered */
static MsbWireRange *
wire_scratch_ranges(MsbWireDecoder *dec, guint32 n)
{
	if (dec->ranges->len > WIRE_SCRATCH_KEEP && n <= WIRE_SCRATCH_KEEP) {
		g_array_unref(dec->ranges);
		dec->ranges = g_array_new(FALSE, FALSE, sizeof(MsbWireRange));
	}
	g_array_set_size(dec->ranges, n);
	return (MsbWireRange *)(gpointer)dec->ranges->data;
}

/*
 * Besides the read position the decoder keeps lb, the size the packet is known to have at least:
 * its fixed fields plus everything the length and count fields read so far imply. lb grows only
 * through WIRE_GROW, which fails the packet as TOO_LARGE as soon as lb passes the ceiling, before
 * the bytes are there. Each read is preceded by WIRE_NEED, which returns NEED_MORE with lb as the
 * hint; every read lies below lb, so the hint is always beyond the buffered bytes and never
 * beyond the real packet. Verdicts depend only on bytes already read, so a prefix of the input
 * either needs more or fails exactly as the whole of it does.
 */
#define WIRE_NEED(n)                                                 \
	do {                                                         \
		if (G_UNLIKELY((guint64)(n) > (guint64)(len - pos))) \
			goto need_more;                              \
	} while (0)

#define WIRE_GROW(n)                      \
	do {                              \
		lb += (guint64)(n);       \
		if (G_UNLIKELY(lb > max)) \
			goto too_large;   \
	} while (0)

/* a pstr, checked and stepped over */
#define WIRE_PSTR_SKIP()                                        \
	do {                                                    \
		guint8 n_;                                      \
		WIRE_NEED(1);                                   \
		n_ = p[pos];                                    \
		WIRE_GROW(n_);                                  \
		WIRE_NEED(1 + (gsize)n_);                       \
		if (G_UNLIKELY(!wire_utf8_ok(p + pos + 1, n_))) \
			goto invalid_utf8;                      \
		pos += 1 + (gsize)n_;                           \
	} while (0)

/* a pstr into the MsbWireStr @dst */
#define WIRE_PSTR(dst)                                   \
	do {                                             \
		gsize s_ = pos;                          \
		WIRE_PSTR_SKIP();                        \
		(dst).str = (const gchar *)(p + s_ + 1); \
		(dst).len = (guint8)(pos - s_ - 1);      \
	} while (0)

/* an i32 length or count, already known to be buffered */
#define WIRE_LEN(dst, name)                       \
	do {                                      \
		gint32 v_ = wire_rd_i32(p + pos); \
		if (G_UNLIKELY(v_ < 0)) {         \
			what = (name);            \
			negative = v_;            \
			goto negative_length;     \
		}                                 \
		(dst) = (guint32)v_;              \
		pos += 4;                         \
	} while (0)

/* the header block of one message: u8 pair count then (pstr key, pstr value) pairs */
#define WIRE_HEADERS(m)                                     \
	do {                                                \
		gsize h_ = pos;                             \
		guint k_ = p[pos++];                        \
		if (k_ > 0) {                               \
			WIRE_GROW(2 * k_);                  \
			for (guint j_ = 0; j_ < k_; j_++) { \
				WIRE_PSTR_SKIP();           \
				WIRE_PSTR_SKIP();           \
			}                                   \
		}                                           \
		(m)->n_headers = k_;                        \
		(m)->headers = p + h_;                      \
		(m)->headers_len = pos - h_;                \
	} while (0)

/* content length (already buffered) and content */
#define WIRE_CONTENT(m)                         \
	do {                                    \
		guint32 c_;                     \
		WIRE_LEN(c_, "content length"); \
		WIRE_GROW(c_);                  \
		WIRE_NEED(c_);                  \
		(m)->content = p + pos;         \
		(m)->content_len = c_;          \
		pos += c_;                      \
	} while (0)

MsbWireDecodeResult
msb_wire_decode(MsbWireDecoder *dec, const guint8 *data, gsize len, MsbPacket *out, gsize *consumed,
                GError **error)
{
	const guint8 *p = data;
	guint64 max;
	guint64 lb = 1;
	gsize pos = 0;
	const gchar *what = NULL;
	gint32 negative = 0;
	guint8 id = 0;

	g_return_val_if_fail(dec != NULL, MSB_WIRE_DECODE_ERROR);
	g_return_val_if_fail(dec->messages != NULL, MSB_WIRE_DECODE_ERROR);
	g_return_val_if_fail(data != NULL || len == 0, MSB_WIRE_DECODE_ERROR);
	g_return_val_if_fail(out != NULL, MSB_WIRE_DECODE_ERROR);
	g_return_val_if_fail(consumed != NULL, MSB_WIRE_DECODE_ERROR);
	g_return_val_if_fail(error == NULL || *error == NULL, MSB_WIRE_DECODE_ERROR);

	dec->need = 0;
	*consumed = 0;
	max = dec->max_packet_size;

	WIRE_NEED(1);
	id = p[pos++];
	if (G_UNLIKELY(id > MSB_PACKET_ID_LAST)) {
		g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_UNKNOWN_PACKET,
		            "unknown packet id %u", id);
		return MSB_WIRE_DECODE_ERROR;
	}
	out->id = (MsbPacketId)id;
	lb = 0;
	WIRE_GROW(wire_min_size[id]);

	switch ((MsbPacketId)id) {
	case MSB_PACKET_PING:
	case MSB_PACKET_PONG:
		break;

	case MSB_PACKET_GREETING:
		WIRE_PSTR(out->greeting.name);
		WIRE_NEED(4);
		out->greeting.protocol_version = wire_rd_i32(p + pos);
		pos += 4;
		break;

	case MSB_PACKET_PUBLISH: {
		MsbWireMessage *msgs;
		guint32 n;

		WIRE_PSTR(out->publish.topic);
		WIRE_NEED(8 + 4);
		out->publish.request_id = wire_rd_i64(p + pos);
		pos += 8;
		WIRE_LEN(n, "message count");
		if (dec->protocol_version >= 3) {
			WIRE_GROW((guint64)n * WIRE_PUBLISH_MSG_MIN_P3);
			msgs = wire_scratch_messages(dec, n, WIRE_PUBLISH_MSG_MIN_P3, len - pos);
			for (guint32 i = 0; i < n; i++) {
				MsbWireMessage *m = &msgs[i];
				WIRE_NEED(1);
				m->id = 0;
				m->attempt = 0;
				WIRE_HEADERS(m);
				WIRE_NEED(4);
				WIRE_CONTENT(m);
			}
		} else {
			WIRE_GROW((guint64)n * WIRE_PUBLISH_MSG_MIN_P2);
			msgs = wire_scratch_messages(dec, n, WIRE_PUBLISH_MSG_MIN_P2, len - pos);
			for (guint32 i = 0; i < n; i++) {
				MsbWireMessage *m = &msgs[i];
				WIRE_NEED(WIRE_PUBLISH_MSG_MIN_P2);
				m->id = 0;
				m->attempt = 0;
				m->n_headers = 0;
				m->headers = NULL;
				m->headers_len = 0;
				WIRE_CONTENT(m);
			}
		}
		WIRE_NEED(1);
		out->publish.persist_immediately = p[pos++] > 0;
		out->publish.n_messages = n;
		out->publish.messages = msgs;
		break;
	}

	case MSB_PACKET_PUBLISH_RESPONSE:
		WIRE_NEED(8);
		out->publish_response.request_id = wire_rd_i64(p + pos);
		pos += 8;
		break;

	case MSB_PACKET_SUBSCRIBE:
		WIRE_PSTR(out->subscribe.topic);
		WIRE_PSTR(out->subscribe.queue);
		WIRE_NEED(1);
		out->subscribe.queue_type = p[pos++];
		break;

	case MSB_PACKET_SUBSCRIBE_RESPONSE:
		WIRE_PSTR(out->subscribe_response.topic);
		WIRE_PSTR(out->subscribe_response.queue);
		break;

	case MSB_PACKET_NEW_MESSAGES: {
		MsbWireMessage *msgs;
		guint32 n;

		WIRE_PSTR(out->new_messages.topic);
		WIRE_PSTR(out->new_messages.queue);
		WIRE_NEED(8 + 4);
		out->new_messages.confirmation_id = wire_rd_i64(p + pos);
		pos += 8;
		WIRE_LEN(n, "message count");
		if (dec->protocol_version >= 3) {
			WIRE_GROW((guint64)n * WIRE_NEW_MSG_MIN_P3);
			msgs = wire_scratch_messages(dec, n, WIRE_NEW_MSG_MIN_P3, len - pos);
			for (guint32 i = 0; i < n; i++) {
				MsbWireMessage *m = &msgs[i];
				WIRE_NEED(WIRE_NEW_MSG_MIN_P3);
				m->id = wire_rd_i64(p + pos);
				m->attempt = wire_rd_i32(p + pos + 8);
				pos += 12;
				WIRE_HEADERS(m);
				WIRE_NEED(4);
				WIRE_CONTENT(m);
			}
		} else if (dec->new_messages_version == 1) {
			WIRE_GROW((guint64)n * WIRE_NEW_MSG_MIN_V1);
			msgs = wire_scratch_messages(dec, n, WIRE_NEW_MSG_MIN_V1, len - pos);
			for (guint32 i = 0; i < n; i++) {
				MsbWireMessage *m = &msgs[i];
				WIRE_NEED(WIRE_NEW_MSG_MIN_V1);
				m->id = wire_rd_i64(p + pos);
				m->attempt = wire_rd_i32(p + pos + 8);
				pos += 12;
				m->n_headers = 0;
				m->headers = NULL;
				m->headers_len = 0;
				WIRE_CONTENT(m);
			}
		} else {
			WIRE_GROW((guint64)n * WIRE_NEW_MSG_MIN_V0);
			msgs = wire_scratch_messages(dec, n, WIRE_NEW_MSG_MIN_V0, len - pos);
			for (guint32 i = 0; i < n; i++) {
				MsbWireMessage *m = &msgs[i];
				WIRE_NEED(WIRE_NEW_MSG_MIN_V0);
				m->id = wire_rd_i64(p + pos);
				m->attempt = 0;
				pos += 8;
				m->n_headers = 0;
				m->headers = NULL;
				m->headers_len = 0;
				WIRE_CONTENT(m);
			}
		}
		out->new_messages.n_messages = n;
		out->new_messages.messages = msgs;
		break;
	}

	case MSB_PACKET_NEW_MESSAGES_CONFIRMATION:
	case MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL:
		WIRE_PSTR(out->confirm.topic);
		WIRE_PSTR(out->confirm.queue);
		WIRE_NEED(8);
		out->confirm.confirmation_id = wire_rd_i64(p + pos);
		pos += 8;
		break;

	case MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS:
		/* topic only, like the Rust server: a C# client's trailing zero long parses as
		 * Pings */
		WIRE_PSTR(out->create_topic.topic);
		break;

	case MSB_PACKET_MESSAGES_CONFIRMATION_LEGACY: {
		guint32 n_ok;
		guint32 n_not_ok;

		WIRE_PSTR(out->legacy_confirmation.topic);
		WIRE_PSTR(out->legacy_confirmation.queue);
		WIRE_NEED(4);
		WIRE_LEN(n_ok, "ok interval count");
		WIRE_GROW((guint64)n_ok * WIRE_RANGE_SIZE);
		WIRE_NEED((guint64)n_ok * WIRE_RANGE_SIZE + 4);
		pos += (gsize)n_ok * WIRE_RANGE_SIZE;
		WIRE_LEN(n_not_ok, "not-ok interval count");
		WIRE_GROW((guint64)n_not_ok * WIRE_RANGE_SIZE);
		WIRE_NEED((guint64)n_not_ok * WIRE_RANGE_SIZE);
		pos += (gsize)n_not_ok * WIRE_RANGE_SIZE;
		out->legacy_confirmation.n_ok = n_ok;
		out->legacy_confirmation.n_not_ok = n_not_ok;
		break;
	}

	case MSB_PACKET_PACKET_VERSIONS: {
		guint k;

		WIRE_NEED(1);
		k = p[pos++];
		WIRE_GROW(5 * k);
		WIRE_NEED(5 * k);
		out->packet_versions.n_entries = k;
		out->packet_versions.has_new_messages_version = FALSE;
		out->packet_versions.new_messages_version = 0;
		for (guint i = 0; i < k; i++) {
			if (p[pos] == MSB_PACKET_NEW_MESSAGES) {
				out->packet_versions.has_new_messages_version = TRUE;
				out->packet_versions.new_messages_version =
				        wire_rd_i32(p + pos + 1);
			}
			pos += 5;
		}
		break;
	}

	case MSB_PACKET_REJECT:
		WIRE_PSTR(out->reject.message);
		break;

	case MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK:
	case MSB_PACKET_INTERMEDIARY_CONFIRM: {
		MsbWireRange *ranges;
		guint32 n;

		WIRE_NEED(1);
		out->confirm_ids.packet_version = p[pos++];
		WIRE_PSTR(out->confirm_ids.topic);
		WIRE_PSTR(out->confirm_ids.queue);
		WIRE_NEED(8 + 4);
		out->confirm_ids.confirmation_id = wire_rd_i64(p + pos);
		pos += 8;
		WIRE_LEN(n, "interval count");
		WIRE_GROW((guint64)n * WIRE_RANGE_SIZE);
		WIRE_NEED((guint64)n * WIRE_RANGE_SIZE);
		ranges = wire_scratch_ranges(dec, n);
		for (guint32 i = 0; i < n; i++) {
			ranges[i].from_id = wire_rd_i64(p + pos);
			ranges[i].to_id = wire_rd_i64(p + pos + 8);
			pos += WIRE_RANGE_SIZE;
		}
		out->confirm_ids.n_ranges = n;
		out->confirm_ids.ranges = ranges;
		break;
	}

	case MSB_PACKET_SET_NAMESPACE:
		WIRE_PSTR(out->set_namespace.name);
		break;
	}

	/* every byte read was accounted for in lb, and lb accounts for nothing unread */
	g_assert(pos == lb);
	*consumed = pos;
	return MSB_WIRE_DECODE_OK;

need_more:
	/* lb ≤ ceiling, so it fits a gsize; lb > len because the missing read lies below it */
	dec->need = (gsize)lb;
	*consumed = (gsize)lb;
	return MSB_WIRE_DECODE_NEED_MORE;

too_large:
	g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_TOO_LARGE,
	            "%s packet needs at least %" G_GUINT64_FORMAT
	            " bytes, more than the ceiling of %" G_GUINT64_FORMAT,
	            msb_packet_id_to_string((MsbPacketId)id), lb, max);
	return MSB_WIRE_DECODE_ERROR;

negative_length:
	g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_NEGATIVE_LENGTH,
	            "%s packet has a negative %s (%d) at offset %" G_GSIZE_FORMAT,
	            msb_packet_id_to_string((MsbPacketId)id), what, negative, pos);
	return MSB_WIRE_DECODE_ERROR;

invalid_utf8:
	g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_INVALID_UTF8,
	            "%s packet has a string that is not valid UTF-8 at offset %" G_GSIZE_FORMAT,
	            msb_packet_id_to_string((MsbPacketId)id), pos);
	return MSB_WIRE_DECODE_ERROR;
}

gboolean
msb_wire_headers_next(const guint8 *headers, gsize headers_len, gsize *pos, MsbWireStr *key,
                      MsbWireStr *value)
{
	gsize at;
	gsize klen;
	gsize vlen;

	g_return_val_if_fail(headers != NULL || headers_len == 0, FALSE);
	g_return_val_if_fail(pos != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	g_return_val_if_fail(value != NULL, FALSE);

	/* position 0 is the pair count; the block's length already delimits the pairs */
	at = *pos == 0 ? 1 : *pos;
	if (at >= headers_len)
		return FALSE;

	/* the block was validated when it was decoded or built; still never read past it */
	klen = headers[at];
	if (headers_len - at - 1 < klen + 1)
		return FALSE;
	vlen = headers[at + 1 + klen];
	if (headers_len - at - 2 - klen < vlen)
		return FALSE;

	key->str = (const gchar *)headers + at + 1;
	key->len = (guint8)klen;
	value->str = (const gchar *)headers + at + 2 + klen;
	value->len = (guint8)vlen;
	*pos = at + 2 + klen + vlen;
	return TRUE;
}

/* ---- encoding ---- */

gsize
msb_wire_utf8_cap(const gchar *str, gsize len, gsize max)
{
	gsize cut;

	g_return_val_if_fail(str != NULL || len == 0, 0);

	if (len <= max)
		return len;
	/* str[cut] is the first byte left out; if it continues a character, that character would
	 * be split, so leave all of it out */
	cut = max;
	while (cut > 0 && ((guint8)str[cut] & 0xc0) == 0x80)
		cut--;
	return cut;
}

static gboolean
wire_pstr_check(const gchar *str, const gchar *what, gsize *len, GError **error)
{
	gsize n = strlen(str);

	if (n > G_MAXUINT8) {
		g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_INVALID_ARGUMENT,
		            "%s is %" G_GSIZE_FORMAT " bytes long, the wire allows 255", what, n);
		return FALSE;
	}
	if (!wire_utf8_ok((const guint8 *)str, n)) {
		g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_INVALID_ARGUMENT,
		            "%s is not valid UTF-8", what);
		return FALSE;
	}
	*len = n;
	return TRUE;
}

/* only after wire_pstr_check(), so that a failing packet writes nothing at all */
static inline guint8 *
wire_wr_pstr(guint8 *w, const gchar *str, gsize len)
{
	*w++ = (guint8)len;
	memcpy(w, str, len);
	return w + len;
}

void
msb_wire_put_ping(MsbBuf *buf)
{
	g_return_if_fail(buf != NULL);
	msb_buf_put_u8(buf, MSB_PACKET_PING);
}

void
msb_wire_put_pong(MsbBuf *buf)
{
	g_return_if_fail(buf != NULL);
	msb_buf_put_u8(buf, MSB_PACKET_PONG);
}

gboolean
msb_wire_put_greeting(MsbBuf *buf, const gchar *name, gint32 protocol_version, GError **error)
{
	gsize n;
	guint8 *w;

	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(name != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!wire_pstr_check(name, "greeting name", &n, error))
		return FALSE;
	w = msb_buf_reserve(buf, 1 + 1 + n + 4);
	*w++ = MSB_PACKET_GREETING;
	w = wire_wr_pstr(w, name, n);
	wire_wr_i32(w, protocol_version);
	buf->len += 1 + 1 + n + 4;
	return TRUE;
}

void
msb_wire_put_publish_response(MsbBuf *buf, gint64 request_id)
{
	guint8 *w;

	g_return_if_fail(buf != NULL);

	w = msb_buf_reserve(buf, 9);
	w[0] = MSB_PACKET_PUBLISH_RESPONSE;
	wire_wr_i64(w + 1, request_id);
	buf->len += 9;
}

/* packets whose body is two strings and then @tail_len fixed bytes the caller writes */
static guint8 *
wire_put_two_pstr(MsbBuf *buf, guint8 id, const gchar *topic, const gchar *queue, gsize tail_len,
                  GError **error)
{
	gsize tn;
	gsize qn;
	guint8 *w;

	if (!wire_pstr_check(topic, "topic", &tn, error))
		return NULL;
	if (!wire_pstr_check(queue, "queue", &qn, error))
		return NULL;
	w = msb_buf_reserve(buf, 1 + 1 + tn + 1 + qn + tail_len);
	*w++ = id;
	w = wire_wr_pstr(w, topic, tn);
	w = wire_wr_pstr(w, queue, qn);
	buf->len += 1 + 1 + tn + 1 + qn + tail_len;
	return w;
}

gboolean
msb_wire_put_subscribe(MsbBuf *buf, const gchar *topic, const gchar *queue, guint8 queue_type,
                       GError **error)
{
	guint8 *w;

	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(topic != NULL, FALSE);
	g_return_val_if_fail(queue != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	w = wire_put_two_pstr(buf, MSB_PACKET_SUBSCRIBE, topic, queue, 1, error);
	if (w == NULL)
		return FALSE;
	*w = queue_type;
	return TRUE;
}

gboolean
msb_wire_put_subscribe_response(MsbBuf *buf, const gchar *topic, const gchar *queue, GError **error)
{
	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(topic != NULL, FALSE);
	g_return_val_if_fail(queue != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	return wire_put_two_pstr(buf, MSB_PACKET_SUBSCRIBE_RESPONSE, topic, queue, 0, error) !=
	       NULL;
}

gboolean
msb_wire_put_confirm(MsbBuf *buf, gboolean all_ok, const gchar *topic, const gchar *queue,
                     gint64 confirmation_id, GError **error)
{
	guint8 *w;

	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(topic != NULL, FALSE);
	g_return_val_if_fail(queue != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	w = wire_put_two_pstr(buf,
	                      all_ok ? MSB_PACKET_NEW_MESSAGES_CONFIRMATION
	                             : MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL,
	                      topic, queue, 8, error);
	if (w == NULL)
		return FALSE;
	wire_wr_i64(w, confirmation_id);
	return TRUE;
}

gboolean
msb_wire_put_confirm_ids(MsbBuf *buf, gboolean intermediary, const gchar *topic, const gchar *queue,
                         gint64 confirmation_id, const MsbWireRange *ranges, guint n_ranges,
                         GError **error)
{
	gsize tn;
	gsize qn;
	gsize total;
	guint8 *w;

	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(topic != NULL, FALSE);
	g_return_val_if_fail(queue != NULL, FALSE);
	g_return_val_if_fail(ranges != NULL || n_ranges == 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (n_ranges > G_MAXINT32) {
		g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_INVALID_ARGUMENT,
		            "%u intervals do not fit the wire's i32 count", n_ranges);
		return FALSE;
	}
	if (!wire_pstr_check(topic, "topic", &tn, error))
		return FALSE;
	if (!wire_pstr_check(queue, "queue", &qn, error))
		return FALSE;
	total = 1 + 1 + 1 + tn + 1 + qn + 8 + 4 + (gsize)n_ranges * WIRE_RANGE_SIZE;
	w = msb_buf_reserve(buf, total);
	*w++ = intermediary ? MSB_PACKET_INTERMEDIARY_CONFIRM
	                    : MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK;
	*w++ = 0; /* packet_version: every known client sends 0 */
	w = wire_wr_pstr(w, topic, tn);
	w = wire_wr_pstr(w, queue, qn);
	wire_wr_i64(w, confirmation_id);
	wire_wr_i32(w + 8, (gint32)n_ranges);
	w += 12;
	for (guint i = 0; i < n_ranges; i++) {
		wire_wr_i64(w, ranges[i].from_id);
		wire_wr_i64(w + 8, ranges[i].to_id);
		w += WIRE_RANGE_SIZE;
	}
	buf->len += total;
	return TRUE;
}

/* packets whose body is a single string: 9, 12, 16 */
static gboolean
wire_put_one_pstr(MsbBuf *buf, guint8 id, const gchar *str, const gchar *what, GError **error)
{
	gsize n;
	guint8 *w;

	if (!wire_pstr_check(str, what, &n, error))
		return FALSE;
	w = msb_buf_reserve(buf, 1 + 1 + n);
	*w++ = id;
	wire_wr_pstr(w, str, n);
	buf->len += 1 + 1 + n;
	return TRUE;
}

gboolean
msb_wire_put_create_topic(MsbBuf *buf, const gchar *topic, GError **error)
{
	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(topic != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	return wire_put_one_pstr(buf, MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS, topic, "topic", error);
}

void
msb_wire_put_packet_versions(MsbBuf *buf, gint32 new_messages_version)
{
	guint8 *w;

	g_return_if_fail(buf != NULL);

	w = msb_buf_reserve(buf, 7);
	w[0] = MSB_PACKET_PACKET_VERSIONS;
	w[1] = 1;
	w[2] = MSB_PACKET_NEW_MESSAGES;
	wire_wr_i32(w + 3, new_messages_version);
	buf->len += 7;
}

void
msb_wire_put_reject(MsbBuf *buf, const gchar *message)
{
	g_autofree gchar *valid = NULL;
	const gchar *text = message;
	gsize n;
	guint8 *w;

	g_return_if_fail(buf != NULL);
	g_return_if_fail(message != NULL);

	/* reasons often quote what the peer sent (a topic name, say), which may be anything */
	n = strlen(text);
	if (!wire_utf8_ok((const guint8 *)text, n)) {
		valid = g_utf8_make_valid(text, (gssize)n);
		text = valid;
		n = strlen(text);
	}
	/* the reference writers wrap the length byte and corrupt the stream; cut instead */
	n = msb_wire_utf8_cap(text, n, G_MAXUINT8);
	w = msb_buf_reserve(buf, 1 + 1 + n);
	*w++ = MSB_PACKET_REJECT;
	wire_wr_pstr(w, text, n);
	buf->len += 1 + 1 + n;
}

gboolean
msb_wire_put_set_namespace(MsbBuf *buf, const gchar *name, GError **error)
{
	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(name != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	return wire_put_one_pstr(buf, MSB_PACKET_SET_NAMESPACE, name, "namespace", error);
}

gboolean
msb_wire_put_headers(MsbBuf *buf, const MsbWireHeader *headers, guint n_headers, GError **error)
{
	gsize total = 1;
	guint8 *w;

	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(headers != NULL || n_headers == 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	/* the Rust writer silently drops pairs past 255; refusing is the honest choice */
	if (n_headers > G_MAXUINT8) {
		g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_INVALID_ARGUMENT,
		            "%u header pairs, the wire allows 255", n_headers);
		return FALSE;
	}
	for (guint i = 0; i < n_headers; i++) {
		gsize kn;
		gsize vn;

		if (headers[i].key == NULL || headers[i].value == NULL) {
			g_set_error(error, MSB_WIRE_ERROR, MSB_WIRE_ERROR_INVALID_ARGUMENT,
			            "header %u has no key or value", i);
			return FALSE;
		}
		if (!wire_pstr_check(headers[i].key, "header key", &kn, error))
			return FALSE;
		if (!wire_pstr_check(headers[i].value, "header value", &vn, error))
			return FALSE;
		total += 2 + kn + vn;
	}
	w = msb_buf_reserve(buf, total);
	*w++ = (guint8)n_headers;
	for (guint i = 0; i < n_headers; i++) {
		w = wire_wr_pstr(w, headers[i].key, strlen(headers[i].key));
		w = wire_wr_pstr(w, headers[i].value, strlen(headers[i].value));
	}
	buf->len += total;
	return TRUE;
}

gboolean
msb_wire_publish_begin(MsbBuf *buf, const gchar *topic, gint64 request_id, gsize *count_at,
                       GError **error)
{
	gsize n;
	guint8 *w;

	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(topic != NULL, FALSE);
	g_return_val_if_fail(count_at != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!wire_pstr_check(topic, "topic", &n, error))
		return FALSE;
	w = msb_buf_reserve(buf, 1 + 1 + n + 8 + 4);
	*w++ = MSB_PACKET_PUBLISH;
	w = wire_wr_pstr(w, topic, n);
	wire_wr_i64(w, request_id);
	wire_wr_i32(w + 8, 0);
	buf->len += 1 + 1 + n + 8 + 4;
	/* relative to the unread head: msb_buf_grow() may compact the buffer while adding */
	*count_at = buf->len - buf->off - 4;
	return TRUE;
}

void
msb_wire_publish_add(MsbBuf *buf, gint32 protocol_version, const guint8 *headers, gsize headers_len,
                     const guint8 *content, gsize content_len)
{
	gsize hlen = 0;
	gsize total;
	guint8 *w;

	g_return_if_fail(buf != NULL);
	g_return_if_fail(headers != NULL || headers_len == 0);
	g_return_if_fail(content != NULL || content_len == 0);
	g_return_if_fail(content_len <= G_MAXINT32);

	if (protocol_version >= 3)
		hlen = headers_len > 0 ? headers_len : 1;
	total = hlen + 4 + content_len;
	w = msb_buf_reserve(buf, total);
	if (hlen > 0) {
		if (headers_len > 0)
			memcpy(w, headers, headers_len);
		else
			*w = 0;
		w += hlen;
	}
	wire_wr_i32(w, (gint32)content_len);
	if (content_len > 0)
		memcpy(w + 4, content, content_len);
	buf->len += total;
}

void
msb_wire_publish_end(MsbBuf *buf, gsize count_at, guint n_messages, gboolean persist_immediately)
{
	g_return_if_fail(buf != NULL);
	g_return_if_fail(n_messages <= G_MAXINT32);
	g_return_if_fail(buf->off + count_at + 4 <= buf->len);

	msb_buf_patch_i32(buf, buf->off + count_at, (gint32)n_messages);
	msb_buf_put_u8(buf, persist_immediately ? 1 : 0);
}

gboolean
msb_wire_new_messages_begin(MsbBuf *buf, const gchar *topic, const gchar *queue,
                            gint64 confirmation_id, gsize *count_at, GError **error)
{
	guint8 *w;

	g_return_val_if_fail(buf != NULL, FALSE);
	g_return_val_if_fail(topic != NULL, FALSE);
	g_return_val_if_fail(queue != NULL, FALSE);
	g_return_val_if_fail(count_at != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	w = wire_put_two_pstr(buf, MSB_PACKET_NEW_MESSAGES, topic, queue, 8 + 4, error);
	if (w == NULL)
		return FALSE;
	wire_wr_i64(w, confirmation_id);
	wire_wr_i32(w + 8, 0);
	*count_at = buf->len - buf->off - 4;
	return TRUE;
}

void
msb_wire_new_messages_add(MsbBuf *buf, gint32 protocol_version, gint32 new_messages_version,
                          gint64 id, gint32 attempt, const guint8 *headers, gsize headers_len,
                          const guint8 *content, gsize content_len)
{
	gboolean with_attempt = protocol_version >= 3 || new_messages_version == 1;
	gsize hlen = 0;
	gsize total;
	guint8 *w;

	g_return_if_fail(buf != NULL);
	g_return_if_fail(headers != NULL || headers_len == 0);
	g_return_if_fail(content != NULL || content_len == 0);
	g_return_if_fail(content_len <= G_MAXINT32);

	/* a P < 3 subscriber never sees headers; a P ≥ 3 one always gets a header count */
	if (protocol_version >= 3)
		hlen = headers_len > 0 ? headers_len : 1;
	total = 8 + (with_attempt ? 4 : 0) + hlen + 4 + content_len;
	w = msb_buf_reserve(buf, total);
	wire_wr_i64(w, id);
	w += 8;
	if (with_attempt) {
		wire_wr_i32(w, attempt);
		w += 4;
	}
	if (hlen > 0) {
		if (headers_len > 0)
			memcpy(w, headers, headers_len);
		else
			*w = 0;
		w += hlen;
	}
	wire_wr_i32(w, (gint32)content_len);
	if (content_len > 0)
		memcpy(w + 4, content, content_len);
	buf->len += total;
}

void
msb_wire_new_messages_end(MsbBuf *buf, gsize count_at, guint n_messages)
{
	g_return_if_fail(buf != NULL);
	g_return_if_fail(n_messages <= G_MAXINT32);
	g_return_if_fail(buf->off + count_at + 4 <= buf->len);

	msb_buf_patch_i32(buf, buf->off + count_at, (gint32)n_messages);
}
