/*
 * libFuzzer target for the message-list codec (proto/msb-message-codec.c): what the persistence
 * service decodes from every upload and what the broker decodes from every page it reads back.
 *
 * Input: a selector byte, then protobuf bytes.
 *   selector bits 0-1: decode as 0 MessagesListModel, 1 NewMessagesPayloadModel, 2 one bare
 *                      record, 3 several bare records (u16 length-prefixed), as the
 *                      entry-per-message ZIP layout gives them
 *   selector bits 2-3: the input ceiling: the input length, 16 bytes, 1 KiB, 64 KiB
 *
 * Oracles, each an abort:
 *   - a refusal is an MSB_MESSAGE_CODEC_ERROR (TOO_LARGE above the ceiling);
 *   - decoded strings are valid UTF-8, and content pointers cover their lengths;
 *   - the decoded messages encode and decode back to themselves (or are refused by the memory
 *     cap, see fuzz_decoded_or_capped());
 *   - the encoders' sizes match msb_message_codec_element_size() and fit_upload() exactly.
 */
#include <string.h>

#include "fuzz-common.h"
#include "msb-message-codec.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init_logging();
	return 0;
}

static const gchar *
fuzz_str(const gchar *s)
{
	return s != NULL ? s : "";
}

static gboolean
fuzz_same_messages(const MsbMessageBatch *a, const MsbMessageBatch *b)
{
	if (a->n_messages != b->n_messages)
		return FALSE;
	for (gsize i = 0; i < a->n_messages; i++) {
		const MsbPersistMessage *x = &a->messages[i];
		const MsbPersistMessage *y = &b->messages[i];

		if (x->id != y->id || x->created_us != y->created_us ||
		    x->content_len != y->content_len || x->n_headers != y->n_headers)
			return FALSE;
		if (x->content_len > 0 && memcmp(x->content, y->content, x->content_len) != 0)
			return FALSE;
		for (gsize j = 0; j < x->n_headers; j++) {
			if (strcmp(fuzz_str(x->headers[j].key), fuzz_str(y->headers[j].key)) != 0 ||
			    strcmp(fuzz_str(x->headers[j].value), fuzz_str(y->headers[j].value)) !=
			            0)
				return FALSE;
		}
	}
	return TRUE;
}

static void
fuzz_check_batch(const MsbMessageBatch *batch)
{
	volatile guint8 sink = 0;

	if (batch->topic_id != NULL)
		FUZZ_CHECK(g_utf8_validate(batch->topic_id, -1, NULL));
	for (gsize i = 0; i < batch->n_messages; i++) {
		const MsbPersistMessage *m = &batch->messages[i];

		FUZZ_CHECK(m->content != NULL || m->content_len == 0);
		FUZZ_CHECK(m->headers != NULL || m->n_headers == 0);
		/* touch every byte: ASan reports a content pointer that overshoots */
		for (gsize k = 0; k < m->content_len; k++)
			sink ^= m->content[k];
		for (gsize j = 0; j < m->n_headers; j++) {
			FUZZ_CHECK(g_utf8_validate(fuzz_str(m->headers[j].key), -1, NULL));
			FUZZ_CHECK(g_utf8_validate(fuzz_str(m->headers[j].value), -1, NULL));
		}
	}
	(void)sink;
}

/*
 * A re-encoding may be refused by the memory cap (MSB_MESSAGE_CODEC_MEMORY_FACTOR) though its
 * messages were accepted: records decoded one by one each get a budget of their own, and a
 * re-encoding can be shorter than the input (overlong varints, fields at their default, unknown
 * fields dropped), so the same messages cost more per input byte. Anything else is a bug.
 */
static gboolean
fuzz_decoded_or_capped(const MsbMessageBatch *back, const GError *error)
{
	if (back != NULL)
		return TRUE;
	FUZZ_CHECK(
	        g_error_matches(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_TOO_LARGE));
	return FALSE;
}

/* Encodes @batch every way and checks that each decodes back to it, memory cap permitting. */
static void
fuzz_round_trip(const MsbMessageBatch *batch)
{
	const gchar *topic = batch->topic_id != NULL ? batch->topic_id : "fuzz-topic";
	g_autoptr(GBytes) list = NULL;
	g_autoptr(GBytes) upload = NULL;
	g_autoptr(MsbMessageBatch) back_list = NULL;
	g_autoptr(MsbMessageBatch) back_upload = NULL;
	g_autoptr(MsbMessageBatch) back_records = msb_message_batch_new();
	g_autoptr(GError) list_error = NULL;
	g_autoptr(GError) upload_error = NULL;
	gboolean records_ok = TRUE;
	gsize elements = 0;
	gsize len;

	list = msb_message_codec_encode_list(batch->messages, batch->n_messages);
	upload = msb_message_codec_encode_upload(topic, batch->messages, batch->n_messages);
	for (gsize i = 0; i < batch->n_messages; i++) {
		g_autoptr(GBytes) rec = msb_message_codec_encode_record(&batch->messages[i]);
		gsize element = msb_message_codec_element_size(&batch->messages[i]);
		gsize rec_len = g_bytes_get_size(rec);

		/* an element is its one-byte tag, the length varint and the record */
		FUZZ_CHECK(element > rec_len + 1 && element <= rec_len + 11);
		elements += element;
		if (records_ok) {
			g_autoptr(GError) error = NULL;
			records_ok = msb_message_batch_add_record(back_records,
			                                          g_bytes_get_data(rec, NULL),
			                                          rec_len, rec_len, &error);
			if (!records_ok)
				fuzz_decoded_or_capped(NULL, error);
		}
	}
	FUZZ_CHECK(g_bytes_get_size(list) == elements);

	len = g_bytes_get_size(list);
	back_list =
	        msb_message_codec_decode_list(g_bytes_get_data(list, NULL), len, len, &list_error);
	if (fuzz_decoded_or_capped(back_list, list_error)) {
		FUZZ_CHECK(back_list->topic_id == NULL);
		FUZZ_CHECK(fuzz_same_messages(batch, back_list));
	}

	len = g_bytes_get_size(upload);
	back_upload = msb_message_codec_decode_upload(g_bytes_get_data(upload, NULL), len, len,
	                                              &upload_error);
	if (fuzz_decoded_or_capped(back_upload, upload_error)) {
		FUZZ_CHECK(g_strcmp0(back_upload->topic_id, topic) == 0);
		FUZZ_CHECK(fuzz_same_messages(batch, back_upload));
	}
	if (records_ok)
		FUZZ_CHECK(fuzz_same_messages(batch, back_records));

	/* the broker cuts uploads with fit_upload(): it must be exact */
	FUZZ_CHECK(msb_message_codec_fit_upload(topic, batch->messages, batch->n_messages, len) ==
	           batch->n_messages);
	if (batch->n_messages > 1)
		FUZZ_CHECK(msb_message_codec_fit_upload(topic, batch->messages, batch->n_messages,
		                                        len - 1) < batch->n_messages);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(MsbMessageBatch) batch = NULL;
	g_autoptr(GError) error = NULL;
	const guint8 *in;
	gsize len;
	gsize ceiling;
	guint mode;

	if (size < 1)
		return 0;
	mode = data[0] & 0x3;
	in = data + 1;
	len = size - 1;
	switch ((data[0] >> 2) & 0x3) {
	case 0:
		ceiling = len;
		break;
	case 1:
		ceiling = 16;
		break;
	case 2:
		ceiling = 1024;
		break;
	default:
		ceiling = 65536;
		break;
	}

	if (mode == 0) {
		batch = msb_message_codec_decode_list(in, len, ceiling, &error);
	} else if (mode == 1) {
		batch = msb_message_codec_decode_upload(in, len, ceiling, &error);
	} else {
		const guint8 *p = in;
		const guint8 *end = in + len;

		batch = msb_message_batch_new();
		while (batch != NULL && (mode == 2 ? p == in : end - p >= 2)) {
			gsize n = mode == 2 ? len : fuzz_take_u16(&p, end);

			n = MIN(n, (gsize)(end - p));
			if (!msb_message_batch_add_record(batch, p, n, ceiling, &error))
				g_clear_pointer(&batch, msb_message_batch_free);
			p += n;
			if (mode == 2)
				break;
		}
	}
	if (batch == NULL) {
		FUZZ_CHECK(error != NULL && error->domain == MSB_MESSAGE_CODEC_ERROR);
		if (mode < 3 && len > ceiling)
			FUZZ_CHECK(error->code == MSB_MESSAGE_CODEC_ERROR_TOO_LARGE);
		return 0;
	}
	FUZZ_CHECK(error == NULL);
	fuzz_check_batch(batch);
	fuzz_round_trip(batch);
	return 0;
}
