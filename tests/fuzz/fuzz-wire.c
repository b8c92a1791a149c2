/*
 * libFuzzer target for the wire codec (src/common/msb-wire.c).
 *
 * Input: a config byte, a split byte, then a client byte stream.
 *   config bits 0-1: the starting P: 0, 2, 3 or 5 (5 stands for "any P above 3")
 *   config bit 2:    the starting V7: 0 or 1
 *   config bits 3-5: the ceiling: 16, 64, 256, 1 KiB, 4 KiB, 64 KiB, 1 MiB, 16 MiB
 *   split:           where the stream is cut for the two-part feed (a fraction of its length)
 *
 * The stream is decoded packet by packet the way the broker does (Greeting and PacketVersions
 * change P and V7 for what follows) until NEED_MORE or ERROR. Oracles, each an abort:
 *   - the same stream fed in two parts, the first part from an exactly sized copy, decodes to
 *     the same packets and the same final verdict, and the NEED_MORE hints are honest;
 *   - every decoded packet re-encodes to the very bytes it came from (bools and the ignored
 *     version byte of 14/15 normalised), and the re-encoding decodes to the same packet;
 *   - Publish messages re-encoded as NewMessages in every layout decode back to themselves;
 *   - the stream's bytes taken as a string are refused or encoded exactly as the pstr rules say.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msb-wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz-wire: %s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                                         \
			abort();                                                          \
		}                                                                         \
	} while (0)

static const gint32 fuzz_protocols[] = {0, 2, 3, 5};
static const gsize fuzz_ceilings[] = {16, 64, 256, 1024, 4096, 65536, 1 << 20, 16 << 20};

typedef struct {
	gint32 p;
	gint32 v7;
	gsize ceiling;
} FuzzConfig;

/* A canonical rendering of a decode result, to compare two runs over the same bytes. */
static void
sum_bytes(GByteArray *sum, const void *data, gsize len)
{
	guint64 n = len;
	g_byte_array_append(sum, (const guint8 *)&n, sizeof(n));
	if (len > 0)
		g_byte_array_append(sum, data, (guint)len);
}

static void
sum_u64(GByteArray *sum, guint64 v)
{
	g_byte_array_append(sum, (const guint8 *)&v, sizeof(v));
}

static void
sum_str(GByteArray *sum, MsbWireStr s)
{
	FUZZ_CHECK(g_utf8_validate_len(s.str, s.len, NULL));
	sum_bytes(sum, s.str, s.len);
}

static void
sum_messages(GByteArray *sum, const MsbWireMessage *msgs, guint n)
{
	sum_u64(sum, n);
	for (guint i = 0; i < n; i++) {
		const MsbWireMessage *m = &msgs[i];
		MsbWireStr k;
		MsbWireStr v;
		gsize pos = 0;
		guint pairs = 0;

		sum_u64(sum, (guint64)m->id);
		sum_u64(sum, (guint64)(gint64)m->attempt);
		sum_u64(sum, m->n_headers);
		sum_bytes(sum, m->headers, m->headers_len);
		sum_bytes(sum, m->content, m->content_len);
		/* the raw block iterates to exactly its pair count and length */
		while (msb_wire_headers_next(m->headers, m->headers_len, &pos, &k, &v)) {
			sum_str(sum, k);
			sum_str(sum, v);
			pairs++;
		}
		FUZZ_CHECK(pairs == m->n_headers);
		if (m->headers_len > 0) {
			FUZZ_CHECK(m->headers[0] == m->n_headers);
			FUZZ_CHECK(pos == (m->n_headers > 0 ? m->headers_len : 0));
		}
	}
}

static void
sum_packet(GByteArray *sum, const MsbPacket *pkt, gsize consumed)
{
	sum_u64(sum, 0x4f4b); /* "OK" */
	sum_u64(sum, pkt->id);
	sum_u64(sum, consumed);
	switch (pkt->id) {
	case MSB_PACKET_PING:
	case MSB_PACKET_PONG:
		break;
	case MSB_PACKET_GREETING:
		sum_str(sum, pkt->greeting.name);
		sum_u64(sum, (guint64)(gint64)pkt->greeting.protocol_version);
		break;
	case MSB_PACKET_PUBLISH:
		sum_str(sum, pkt->publish.topic);
		sum_u64(sum, (guint64)pkt->publish.request_id);
		sum_u64(sum, pkt->publish.persist_immediately ? 1 : 0);
		FUZZ_CHECK(pkt->publish.persist_immediately == TRUE ||
		           pkt->publish.persist_immediately == FALSE);
		sum_messages(sum, pkt->publish.messages, pkt->publish.n_messages);
		break;
	case MSB_PACKET_PUBLISH_RESPONSE:
		sum_u64(sum, (guint64)pkt->publish_response.request_id);
		break;
	case MSB_PACKET_SUBSCRIBE:
		sum_str(sum, pkt->subscribe.topic);
		sum_str(sum, pkt->subscribe.queue);
		sum_u64(sum, pkt->subscribe.queue_type);
		FUZZ_CHECK(msb_queue_type_from_wire(pkt->subscribe.queue_type) <=
		           MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION);
		break;
	case MSB_PACKET_SUBSCRIBE_RESPONSE:
		sum_str(sum, pkt->subscribe_response.topic);
		sum_str(sum, pkt->subscribe_response.queue);
		break;
	case MSB_PACKET_NEW_MESSAGES:
		sum_str(sum, pkt->new_messages.topic);
		sum_str(sum, pkt->new_messages.queue);
		sum_u64(sum, (guint64)pkt->new_messages.confirmation_id);
		sum_messages(sum, pkt->new_messages.messages, pkt->new_messages.n_messages);
		break;
	case MSB_PACKET_NEW_MESSAGES_CONFIRMATION:
	case MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL:
		sum_str(sum, pkt->confirm.topic);
		sum_str(sum, pkt->confirm.queue);
		sum_u64(sum, (guint64)pkt->confirm.confirmation_id);
		break;
	case MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS:
		sum_str(sum, pkt->create_topic.topic);
		break;
	case MSB_PACKET_MESSAGES_CONFIRMATION_LEGACY:
		sum_str(sum, pkt->legacy_confirmation.topic);
		sum_str(sum, pkt->legacy_confirmation.queue);
		sum_u64(sum, pkt->legacy_confirmation.n_ok);
		sum_u64(sum, pkt->legacy_confirmation.n_not_ok);
		break;
	case MSB_PACKET_PACKET_VERSIONS:
		sum_u64(sum, pkt->packet_versions.n_entries);
		sum_u64(sum, pkt->packet_versions.has_new_messages_version ? 1 : 0);
		sum_u64(sum, (guint64)(gint64)pkt->packet_versions.new_messages_version);
		break;
	case MSB_PACKET_REJECT:
		sum_str(sum, pkt->reject.message);
		break;
	case MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK:
	case MSB_PACKET_INTERMEDIARY_CONFIRM:
		sum_u64(sum, pkt->confirm_ids.packet_version);
		sum_str(sum, pkt->confirm_ids.topic);
		sum_str(sum, pkt->confirm_ids.queue);
		sum_u64(sum, (guint64)pkt->confirm_ids.confirmation_id);
		sum_u64(sum, pkt->confirm_ids.n_ranges);
		for (guint i = 0; i < pkt->confirm_ids.n_ranges; i++) {
			sum_u64(sum, (guint64)pkt->confirm_ids.ranges[i].from_id);
			sum_u64(sum, (guint64)pkt->confirm_ids.ranges[i].to_id);
		}
		break;
	case MSB_PACKET_SET_NAMESPACE:
		sum_str(sum, pkt->set_namespace.name);
		break;
	default:
		FUZZ_CHECK(FALSE);
	}
}

static gchar *
fuzz_strdup(MsbWireStr s)
{
	return g_strndup(s.str, s.len);
}

/* Decode @bytes alone with a fresh decoder and return its rendering. */
static GByteArray *
fuzz_decode_one(const guint8 *bytes, gsize len, gint32 p, gint32 v7)
{
	GByteArray *sum = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed = 0;

	msb_wire_decoder_init(&dec, len);
	dec.protocol_version = p;
	dec.new_messages_version = v7;
	FUZZ_CHECK(msb_wire_decode(&dec, bytes, len, &pkt, &consumed, &error) ==
	           MSB_WIRE_DECODE_OK);
	FUZZ_CHECK(consumed == len);
	sum_packet(sum, &pkt, consumed);
	msb_wire_decoder_clear(&dec);
	return sum;
}

/* Publish messages as NewMessages in all three layouts must come back unchanged. */
static void
fuzz_cross_layout(const MsbPacket *pkt)
{
	static const gint32 layouts[][2] = {{3, 0}, {2, 1}, {2, 0}};
	g_autofree gchar *topic = fuzz_strdup(pkt->publish.topic);

	for (guint l = 0; l < G_N_ELEMENTS(layouts); l++) {
		gint32 p = layouts[l][0];
		gint32 v7 = layouts[l][1];
		MsbWireDecoder dec;
		MsbPacket back;
		gsize consumed;
		gsize count_at;
		MsbBuf buf;

		msb_buf_init(&buf, 0);
		FUZZ_CHECK(msb_wire_new_messages_begin(&buf, topic, "q", 77, &count_at, NULL));
		for (guint i = 0; i < pkt->publish.n_messages; i++) {
			const MsbWireMessage *m = &pkt->publish.messages[i];
			msb_wire_new_messages_add(&buf, p, v7, (gint64)i - 1, (gint32)i, m->headers,
			                          m->headers_len, m->content, m->content_len);
		}
		msb_wire_new_messages_end(&buf, count_at, pkt->publish.n_messages);

		msb_wire_decoder_init(&dec, buf.len);
		dec.protocol_version = p;
		dec.new_messages_version = v7;
		FUZZ_CHECK(msb_wire_decode(&dec, buf.data, buf.len, &back, &consumed, NULL) ==
		           MSB_WIRE_DECODE_OK);
		FUZZ_CHECK(consumed == buf.len);
		FUZZ_CHECK(back.id == MSB_PACKET_NEW_MESSAGES);
		FUZZ_CHECK(back.new_messages.confirmation_id == 77);
		FUZZ_CHECK(back.new_messages.topic.len == pkt->publish.topic.len);
		FUZZ_CHECK(back.new_messages.n_messages == pkt->publish.n_messages);
		for (guint i = 0; i < pkt->publish.n_messages; i++) {
			const MsbWireMessage *a = &pkt->publish.messages[i];
			const MsbWireMessage *b = &back.new_messages.messages[i];
			FUZZ_CHECK(b->id == (gint64)i - 1);
			FUZZ_CHECK(b->attempt == (p >= 3 || v7 == 1 ? (gint32)i : 0));
			FUZZ_CHECK(b->content_len == a->content_len);
			FUZZ_CHECK(a->content_len == 0 ||
			           memcmp(a->content, b->content, a->content_len) == 0);
			if (p >= 3) {
				/* a header-less P < 3 publish reaches P ≥ 3 as "0 pairs" */
				FUZZ_CHECK(b->n_headers == a->n_headers);
				if (a->headers_len > 0) {
					FUZZ_CHECK(b->headers_len == a->headers_len);
					FUZZ_CHECK(memcmp(a->headers, b->headers, a->headers_len) ==
					           0);
				} else {
					FUZZ_CHECK(b->headers_len == 1 && b->headers[0] == 0);
				}
			} else {
				FUZZ_CHECK(b->n_headers == 0 && b->headers_len == 0);
			}
		}
		msb_wire_decoder_clear(&dec);
		msb_buf_clear(&buf);
	}
}

/*
 * Re-encode @pkt, decoded from @orig under @p / @v7, and check it gives the same bytes and,
 * decoded again, the same packet.
 */
static void
fuzz_round_trip(const MsbPacket *pkt, const guint8 *orig, gsize len, gint32 p, gint32 v7)
{
	g_autofree guint8 *expect = g_memdup2(orig, len);
	MsbBuf buf;
	gboolean have = TRUE;

	msb_buf_init(&buf, 0);
	switch (pkt->id) {
	case MSB_PACKET_PING:
		msb_wire_put_ping(&buf);
		break;
	case MSB_PACKET_PONG:
		msb_wire_put_pong(&buf);
		break;
	case MSB_PACKET_GREETING: {
		g_autofree gchar *name = fuzz_strdup(pkt->greeting.name);
		FUZZ_CHECK(msb_wire_put_greeting(&buf, name, pkt->greeting.protocol_version, NULL));
		break;
	}
	case MSB_PACKET_PUBLISH: {
		g_autofree gchar *topic = fuzz_strdup(pkt->publish.topic);
		gsize count_at;

		FUZZ_CHECK(msb_wire_publish_begin(&buf, topic, pkt->publish.request_id, &count_at,
		                                  NULL));
		for (guint i = 0; i < pkt->publish.n_messages; i++) {
			const MsbWireMessage *m = &pkt->publish.messages[i];
			msb_wire_publish_add(&buf, p, m->headers, m->headers_len, m->content,
			                     m->content_len);
		}
		msb_wire_publish_end(&buf, count_at, pkt->publish.n_messages,
		                     pkt->publish.persist_immediately);
		expect[len - 1] = expect[len - 1] > 0 ? 1 : 0;
		fuzz_cross_layout(pkt);
		break;
	}
	case MSB_PACKET_PUBLISH_RESPONSE:
		msb_wire_put_publish_response(&buf, pkt->publish_response.request_id);
		break;
	case MSB_PACKET_SUBSCRIBE: {
		g_autofree gchar *topic = fuzz_strdup(pkt->subscribe.topic);
		g_autofree gchar *queue = fuzz_strdup(pkt->subscribe.queue);
		FUZZ_CHECK(msb_wire_put_subscribe(&buf, topic, queue, pkt->subscribe.queue_type,
		                                  NULL));
		break;
	}
	case MSB_PACKET_SUBSCRIBE_RESPONSE: {
		g_autofree gchar *topic = fuzz_strdup(pkt->subscribe_response.topic);
		g_autofree gchar *queue = fuzz_strdup(pkt->subscribe_response.queue);
		FUZZ_CHECK(msb_wire_put_subscribe_response(&buf, topic, queue, NULL));
		break;
	}
	case MSB_PACKET_NEW_MESSAGES: {
		g_autofree gchar *topic = fuzz_strdup(pkt->new_messages.topic);
		g_autofree gchar *queue = fuzz_strdup(pkt->new_messages.queue);
		gsize count_at;

		FUZZ_CHECK(msb_wire_new_messages_begin(
		        &buf, topic, queue, pkt->new_messages.confirmation_id, &count_at, NULL));
		for (guint i = 0; i < pkt->new_messages.n_messages; i++) {
			const MsbWireMessage *m = &pkt->new_messages.messages[i];
			msb_wire_new_messages_add(&buf, p, v7, m->id, m->attempt, m->headers,
			                          m->headers_len, m->content, m->content_len);
		}
		msb_wire_new_messages_end(&buf, count_at, pkt->new_messages.n_messages);
		break;
	}
	case MSB_PACKET_NEW_MESSAGES_CONFIRMATION:
	case MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL: {
		g_autofree gchar *topic = fuzz_strdup(pkt->confirm.topic);
		g_autofree gchar *queue = fuzz_strdup(pkt->confirm.queue);
		FUZZ_CHECK(msb_wire_put_confirm(&buf,
		                                pkt->id == MSB_PACKET_NEW_MESSAGES_CONFIRMATION,
		                                topic, queue, pkt->confirm.confirmation_id, NULL));
		break;
	}
	case MSB_PACKET_CREATE_TOPIC_IF_NOT_EXISTS: {
		g_autofree gchar *topic = fuzz_strdup(pkt->create_topic.topic);
		FUZZ_CHECK(msb_wire_put_create_topic(&buf, topic, NULL));
		break;
	}
	case MSB_PACKET_PACKET_VERSIONS:
		/* only the one-entry form clients send has an encoder */
		if (pkt->packet_versions.n_entries == 1 &&
		    pkt->packet_versions.has_new_messages_version)
			msb_wire_put_packet_versions(&buf,
			                             pkt->packet_versions.new_messages_version);
		else
			have = FALSE;
		break;
	case MSB_PACKET_REJECT: {
		/* a valid text of ≤ 255 bytes goes out unchanged */
		g_autofree gchar *text = fuzz_strdup(pkt->reject.message);
		msb_wire_put_reject(&buf, text);
		break;
	}
	case MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK:
	case MSB_PACKET_INTERMEDIARY_CONFIRM: {
		g_autofree gchar *topic = fuzz_strdup(pkt->confirm_ids.topic);
		g_autofree gchar *queue = fuzz_strdup(pkt->confirm_ids.queue);
		FUZZ_CHECK(msb_wire_put_confirm_ids(
		        &buf, pkt->id == MSB_PACKET_INTERMEDIARY_CONFIRM, topic, queue,
		        pkt->confirm_ids.confirmation_id, pkt->confirm_ids.ranges,
		        pkt->confirm_ids.n_ranges, NULL));
		expect[1] = 0;
		break;
	}
	case MSB_PACKET_SET_NAMESPACE: {
		g_autofree gchar *name = fuzz_strdup(pkt->set_namespace.name);
		FUZZ_CHECK(msb_wire_put_set_namespace(&buf, name, NULL));
		break;
	}
	case MSB_PACKET_MESSAGES_CONFIRMATION_LEGACY:
	default:
		have = FALSE;
		break;
	}

	if (have) {
		g_autoptr(GByteArray) a = NULL;
		g_autoptr(GByteArray) b = NULL;

		FUZZ_CHECK(buf.len == len);
		FUZZ_CHECK(memcmp(buf.data, expect, len) == 0);
		/* the original, normalised, and the re-encoding decode alike */
		a = fuzz_decode_one(expect, len, p, v7);
		b = fuzz_decode_one(buf.data, buf.len, p, v7);
		FUZZ_CHECK(a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
	}
	msb_buf_clear(&buf);
}

/*
 * Arbitrary bytes as a string: the pstr encoders take it exactly when it is ≤ 255 bytes of valid
 * UTF-8 and write nothing otherwise; Reject always writes a valid, capped, decodable packet.
 */
static void
fuzz_encoders(const guint8 *stream, gsize len)
{
	g_autofree gchar *s = g_strndup((const gchar *)stream, MIN(len, 600));
	gsize n = strlen(s);
	gboolean utf8 = g_utf8_validate_len(s, n, NULL);
	gboolean fits = n <= 255 && utf8;
	MsbWireHeader hdr = {s, "v"};
	MsbWireDecoder dec;
	MsbPacket pkt;
	gsize consumed;
	gsize count_at;
	MsbBuf buf;

	msb_buf_init(&buf, 0);
	msb_wire_decoder_init(&dec, 0);
	dec.protocol_version = 3;

	for (guint i = 0; i < 4; i++) {
		g_autoptr(GError) error = NULL;
		gboolean ok = FALSE;

		buf.len = 0;
		msb_buf_put_u8(&buf, 0xaa);
		if (i == 0)
			ok = msb_wire_put_create_topic(&buf, s, &error);
		else if (i == 1)
			ok = msb_wire_put_subscribe(&buf, "t", s, 1, &error);
		else if (i == 2)
			ok = msb_wire_put_headers(&buf, &hdr, 1, &error);
		else
			ok = msb_wire_publish_begin(&buf, s, 1, &count_at, &error);
		FUZZ_CHECK(ok == fits);
		if (!ok) {
			FUZZ_CHECK(error != NULL && error->domain == MSB_WIRE_ERROR &&
			           error->code == MSB_WIRE_ERROR_INVALID_ARGUMENT);
			FUZZ_CHECK(buf.len == 1 && buf.data[0] == 0xaa);
		} else {
			FUZZ_CHECK(error == NULL);
		}
	}
	if (fits) {
		buf.len = 0;
		FUZZ_CHECK(msb_wire_put_create_topic(&buf, s, NULL));
		FUZZ_CHECK(msb_wire_decode(&dec, buf.data, buf.len, &pkt, &consumed, NULL) ==
		           MSB_WIRE_DECODE_OK);
		FUZZ_CHECK(pkt.create_topic.topic.len == n &&
		           memcmp(pkt.create_topic.topic.str, s, n) == 0);
	}

	buf.len = 0;
	msb_wire_put_reject(&buf, s);
	FUZZ_CHECK(msb_wire_decode(&dec, buf.data, buf.len, &pkt, &consumed, NULL) ==
	           MSB_WIRE_DECODE_OK);
	FUZZ_CHECK(consumed == buf.len && pkt.id == MSB_PACKET_REJECT);
	if (utf8) {
		/* cut on a character boundary: at most 3 bytes short of 255 */
		gsize m = pkt.reject.message.len;
		FUZZ_CHECK(memcmp(pkt.reject.message.str, s, m) == 0);
		FUZZ_CHECK(n <= 255 ? m == n : (m >= 252 && m <= 255));
		FUZZ_CHECK(m == n || ((guint8)s[m] & 0xc0) != 0x80);
	}

	msb_wire_decoder_clear(&dec);
	msb_buf_clear(&buf);
}

/*
 * Decode @stream as one connection would. With @split < len, the decoder first sees only an
 * exactly sized copy of the first @split bytes, then (on NEED_MORE) the whole stream. Returns
 * the rendering of every packet and of the final verdict.
 */
static GByteArray *
fuzz_run(const FuzzConfig *cfg, const guint8 *stream, gsize len, gsize split, gboolean oracles)
{
	GByteArray *sum = g_byte_array_new();
	g_autofree guint8 *prefix = split < len && split > 0 ? g_memdup2(stream, split) : NULL;
	const guint8 *base = prefix != NULL ? prefix : stream;
	gsize have = split < len ? split : len;
	gsize prefix_hint = 0;
	MsbWireDecoder dec;
	gsize off = 0;

	msb_wire_decoder_init(&dec, cfg->ceiling);
	dec.protocol_version = cfg->p;
	dec.new_messages_version = cfg->v7;
	for (;;) {
		g_autoptr(GError) error = NULL;
		gint32 p = dec.protocol_version;
		gint32 v7 = dec.new_messages_version;
		MsbPacket pkt;
		gsize consumed = 0;
		MsbWireDecodeResult r =
		        msb_wire_decode(&dec, base + off, have - off, &pkt, &consumed, &error);

		if (r == MSB_WIRE_DECODE_NEED_MORE) {
			FUZZ_CHECK(error == NULL);
			FUZZ_CHECK(consumed > have - off);
			FUZZ_CHECK(consumed <= cfg->ceiling);
			FUZZ_CHECK(dec.need == consumed);
			FUZZ_CHECK(consumed >= prefix_hint);
			if (have < len) {
				/* the rest arrives: go on from the same offset */
				prefix_hint = consumed;
				base = stream;
				have = len;
				continue;
			}
			sum_u64(sum, 0x4e4d); /* "NM" */
			sum_u64(sum, consumed);
			break;
		}
		if (r == MSB_WIRE_DECODE_ERROR) {
			FUZZ_CHECK(error != NULL && error->domain == MSB_WIRE_ERROR);
			FUZZ_CHECK(error->code != MSB_WIRE_ERROR_INVALID_ARGUMENT);
			sum_u64(sum, 0x4552); /* "ER" */
			sum_u64(sum, (guint64)error->code);
			break;
		}
		FUZZ_CHECK(r == MSB_WIRE_DECODE_OK && error == NULL);
		FUZZ_CHECK(consumed >= 1 && consumed <= have - off && consumed <= cfg->ceiling);
		/* a hint given on a prefix never overshot the packet */
		FUZZ_CHECK(prefix_hint <= consumed);
		prefix_hint = 0;
		sum_packet(sum, &pkt, consumed);
		if (oracles)
			fuzz_round_trip(&pkt, base + off, consumed, p, v7);

		/* the state changes apply to the next packet, as in the broker */
		if (pkt.id == MSB_PACKET_GREETING)
			dec.protocol_version = pkt.greeting.protocol_version;
		else if (pkt.id == MSB_PACKET_PACKET_VERSIONS &&
		         pkt.packet_versions.has_new_messages_version)
			dec.new_messages_version = pkt.packet_versions.new_messages_version;
		off += consumed;
		if (off == have && have < len) {
			base = stream;
			have = len;
		}
	}
	msb_wire_decoder_clear(&dec);
	return sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GByteArray) whole = NULL;
	g_autoptr(GByteArray) parts = NULL;
	FuzzConfig cfg;
	const guint8 *stream;
	gsize len;
	gsize split;

	if (size < 2)
		return 0;
	cfg.p = fuzz_protocols[data[0] & 0x3];
	cfg.v7 = (data[0] >> 2) & 0x1;
	cfg.ceiling = fuzz_ceilings[(data[0] >> 3) & 0x7];
	stream = data + 2;
	len = size - 2;
	split = (gsize)(((guint64)len * data[1]) / 255);

	whole = fuzz_run(&cfg, stream, len, len, TRUE);
	parts = fuzz_run(&cfg, stream, len, split, FALSE);
	FUZZ_CHECK(whole->len == parts->len && memcmp(whole->data, parts->data, whole->len) == 0);
	fuzz_encoders(stream, len);
	return 0;
}
