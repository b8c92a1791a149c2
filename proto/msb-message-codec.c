/*
 * The message codec: MsbPersistMessage arrays ↔ MessagesListModel, NewMessagesPayloadModel and
 * bare MessageContentGrpcModel bytes, through the protoc-c generated descriptors.
 *
 * Encoding points the generated structs at the caller's bytes and strings, so a message is
 * copied once, into the packed output. Decoding goes through a counting allocator: protobuf-c
 * allocates a struct per element, which for a hostile input of empty elements comes to some 50
 * times its size, so the input ceiling alone does not bound memory.
 */
#define G_LOG_DOMAIN "msb-message-codec"

#include "msb-message-codec.h"

#include <string.h>

#include "persistence_payloads.pb-c.h"

/* clang-format off */
G_DEFINE_QUARK(msb-message-codec-error-quark, msb_message_codec_error)
/* clang-format on */

#define CODEC_MEMORY_SLACK (64 * 1024)
/* each allocation remembers its size here; 16 keeps the result aligned for any type */
#define CODEC_ALLOC_PREFIX 16

typedef struct {
	gsize live;
	gsize budget;
	gboolean exceeded;
} CodecBudget;

typedef struct {
	MsbMessageBatch pub; /* first, so that the public pointer is the private one */
	CodecBudget budget;
	ProtobufCAllocator allocator; /* frees what it allocated, so it lives as long as that */
	GPtrArray *unpacked;          /* ProtobufCMessage, freed through allocator */
	GPtrArray *header_blocks;     /* MsbPersistHeader arrays */
	GArray *messages;             /* MsbPersistMessage */
} CodecBatch;

/* The generated structs for @n messages, pointing at the caller's data. */
typedef struct {
	Persistence__MessageContentGrpcModel *recs;
	Persistence__MessageContentGrpcModel **rec_ptrs;
	Persistence__MessageContentMetaDataItem *items;
	Persistence__MessageContentMetaDataItem **item_ptrs;
} CodecRecords;

static void
codec_records_init(CodecRecords *r, const MsbPersistMessage *messages, gsize n)
{
	gsize n_items = 0;
	gsize k = 0;

	for (gsize i = 0; i < n; i++)
		n_items += messages[i].n_headers;
	r->recs = g_new(Persistence__MessageContentGrpcModel, n);
	r->rec_ptrs = g_new(Persistence__MessageContentGrpcModel *, n);
	r->items = g_new(Persistence__MessageContentMetaDataItem, n_items);
	r->item_ptrs = g_new(Persistence__MessageContentMetaDataItem *, n_items);
	for (gsize i = 0; i < n; i++) {
		const MsbPersistMessage *m = &messages[i];
		Persistence__MessageContentGrpcModel *rec = &r->recs[i];

		persistence__message_content_grpc_model__init(rec);
		rec->messageid = m->id;
		rec->created = m->created_us;
		/* protobuf-c's structs are not const-correct; packing only reads */
		rec->data.data = (uint8_t *)m->content;
		rec->data.len = m->content_len;
		rec->n_metadata = m->n_headers;
		rec->metadata = m->n_headers > 0 ? &r->item_ptrs[k] : NULL;
		for (gsize j = 0; j < m->n_headers; j++, k++) {
			const MsbPersistHeader *h = &m->headers[j];

			persistence__message_content_meta_data_item__init(&r->items[k]);
			r->items[k].key = (char *)(h->key != NULL ? h->key : "");
			r->items[k].value = (char *)(h->value != NULL ? h->value : "");
			r->item_ptrs[k] = &r->items[k];
		}
		r->rec_ptrs[i] = rec;
	}
}

static void
codec_records_clear(CodecRecords *r)
{
	g_free(r->recs);
	g_free(r->rec_ptrs);
	g_free(r->items);
	g_free(r->item_ptrs);
}

static GBytes *
codec_pack(const ProtobufCMessage *msg)
{
	gsize size = protobuf_c_message_get_packed_size(msg);
	guint8 *buf = g_malloc(size);
	gsize written = protobuf_c_message_pack(msg, buf);

	g_assert(written == size);
	return g_bytes_new_take(buf, size);
}

static gboolean
codec_check_messages(const MsbPersistMessage *messages, gsize n_messages)
{
	for (gsize i = 0; i < n_messages; i++) {
		if (messages[i].content == NULL && messages[i].content_len > 0)
			return FALSE;
		if (messages[i].headers == NULL && messages[i].n_headers > 0)
			return FALSE;
	}
	return TRUE;
}

GBytes *
msb_message_codec_encode_list(const MsbPersistMessage *messages, gsize n_messages)
{
	Persistence__MessagesListModel list = PERSISTENCE__MESSAGES_LIST_MODEL__INIT;
	CodecRecords r;
	GBytes *out;

	g_return_val_if_fail(messages != NULL || n_messages == 0, NULL);
	g_return_val_if_fail(codec_check_messages(messages, n_messages), NULL);

	codec_records_init(&r, messages, n_messages);
	list.n_messages = n_messages;
	list.messages = r.rec_ptrs;
	out = codec_pack(&list.base);
	codec_records_clear(&r);
	return out;
}

GBytes *
msb_message_codec_encode_upload(const gchar *topic_id, const MsbPersistMessage *messages,
                                gsize n_messages)
{
	Persistence__NewMessagesPayloadModel payload =
	        PERSISTENCE__NEW_MESSAGES_PAYLOAD_MODEL__INIT;
	CodecRecords r;
	GBytes *out;

	g_return_val_if_fail(topic_id != NULL, NULL);
	g_return_val_if_fail(messages != NULL || n_messages == 0, NULL);
	g_return_val_if_fail(codec_check_messages(messages, n_messages), NULL);

	codec_records_init(&r, messages, n_messages);
	payload.topicid = (char *)topic_id;
	payload.n_messages = n_messages;
	payload.messages = r.rec_ptrs;
	out = codec_pack(&payload.base);
	codec_records_clear(&r);
	return out;
}

GBytes *
msb_message_codec_encode_record(const MsbPersistMessage *message)
{
	CodecRecords r;
	GBytes *out;

	g_return_val_if_fail(message != NULL, NULL);
	g_return_val_if_fail(codec_check_messages(message, 1), NULL);

	codec_records_init(&r, message, 1);
	out = codec_pack(&r.recs[0].base);
	codec_records_clear(&r);
	return out;
}

static gsize
codec_varint_size(guint64 v)
{
	gsize n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* A proto3 field of wire type 2 (string, bytes, message) with a one-byte tag; proto3 leaves an
 * empty string or bytes field out (@omit_empty), not an element of a repeated message field. */
static gsize
codec_len_field_size(gsize len, gboolean omit_empty)
{
	return omit_empty && len == 0 ? 0 : 1 + codec_varint_size(len) + len;
}

/* A proto3 int64 field with a one-byte tag: left out when 0, ten bytes of varint when negative. */
static gsize
codec_int64_field_size(gint64 v)
{
	return v == 0 ? 0 : 1 + codec_varint_size((guint64)v);
}

/*
 * What protobuf_c_message_get_packed_size() says for the MessageContentGrpcModel of @m, worked
 * out without building it: the broker sizes every upload by it, message by message
 * (msb_message_codec_fit_upload()), and building the struct for that cost more than encoding.
 */
static gsize
codec_record_size(const MsbPersistMessage *m)
{
	gsize size = codec_int64_field_size(m->id) + codec_int64_field_size(m->created_us) +
	             codec_len_field_size(m->content_len, TRUE);

	for (guint j = 0; j < m->n_headers; j++) {
		const MsbPersistHeader *h = &m->headers[j];
		gsize item = codec_len_field_size(h->key != NULL ? strlen(h->key) : 0, TRUE) +
		             codec_len_field_size(h->value != NULL ? strlen(h->value) : 0, TRUE);

		size += codec_len_field_size(item, FALSE);
	}
	return size;
}

gsize
msb_message_codec_element_size(const MsbPersistMessage *message)
{
	g_return_val_if_fail(message != NULL, 0);
	g_return_val_if_fail(codec_check_messages(message, 1), 0);

	/* field 1 (list) and field 2 (upload) both have a one-byte tag */
	return codec_len_field_size(codec_record_size(message), FALSE);
}

gsize
msb_message_codec_fit_upload(const gchar *topic_id, const MsbPersistMessage *messages,
                             gsize n_messages, gsize max_bytes)
{
	gsize topic_len;
	gsize total = 0;
	gsize n = 0;

	g_return_val_if_fail(topic_id != NULL, 0);
	g_return_val_if_fail(messages != NULL || n_messages == 0, 0);

	/* proto3 leaves an empty string out */
	topic_len = strlen(topic_id);
	if (topic_len > 0)
		total = 1 + codec_varint_size(topic_len) + topic_len;
	while (n < n_messages) {
		gsize element = msb_message_codec_element_size(&messages[n]);
		if (n > 0 && (total > max_bytes || max_bytes - total < element))
			break;
		total += element;
		n++;
	}
	return n;
}

static void *
codec_alloc(void *data, size_t size)
{
	CodecBudget *budget = data;
	guint8 *p;

	if (size > G_MAXSIZE - CODEC_ALLOC_PREFIX ||
	    size + CODEC_ALLOC_PREFIX > budget->budget - budget->live) {
		budget->exceeded = TRUE;
		return NULL; /* protobuf-c then fails the unpack and frees what it has */
	}
	p = g_try_malloc(size + CODEC_ALLOC_PREFIX);
	if (p == NULL)
		return NULL;
	memcpy(p, &size, sizeof(size));
	budget->live += size + CODEC_ALLOC_PREFIX;
	return p + CODEC_ALLOC_PREFIX;
}

static void
codec_free(void *data, void *pointer)
{
	CodecBudget *budget = data;
	guint8 *p;
	gsize size;

	if (pointer == NULL)
		return;
	p = (guint8 *)pointer - CODEC_ALLOC_PREFIX;
	memcpy(&size, p, sizeof(size));
	budget->live -= size + CODEC_ALLOC_PREFIX;
	g_free(p);
}

MsbMessageBatch *
msb_message_batch_new(void)
{
	CodecBatch *b = g_new0(CodecBatch, 1);

	b->allocator.alloc = codec_alloc;
	b->allocator.free = codec_free;
	b->allocator.allocator_data = &b->budget;
	b->unpacked = g_ptr_array_new();
	b->header_blocks = g_ptr_array_new_with_free_func(g_free);
	b->messages = g_array_new(FALSE, FALSE, sizeof(MsbPersistMessage));
	return &b->pub;
}

void
msb_message_batch_free(MsbMessageBatch *batch)
{
	CodecBatch *b = (CodecBatch *)batch;

	if (batch == NULL)
		return;
	for (guint i = 0; i < b->unpacked->len; i++)
		protobuf_c_message_free_unpacked(g_ptr_array_index(b->unpacked, i), &b->allocator);
	g_ptr_array_unref(b->unpacked);
	g_ptr_array_unref(b->header_blocks);
	g_array_unref(b->messages);
	g_free(b);
}

static ProtobufCMessage *
codec_unpack(CodecBatch *b, const ProtobufCMessageDescriptor *desc, const guint8 *data, gsize len,
             gsize max_len, GError **error)
{
	ProtobufCMessage *msg;
	gsize allowance;

	if (len > max_len) {
		g_set_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_TOO_LARGE,
		            "a %s of %" G_GSIZE_FORMAT
		            " bytes is above the limit of %" G_GSIZE_FORMAT " bytes",
		            desc->short_name, len, max_len);
		return NULL;
	}
	allowance = len <= (G_MAXSIZE - CODEC_MEMORY_SLACK) / MSB_MESSAGE_CODEC_MEMORY_FACTOR
	                    ? len * MSB_MESSAGE_CODEC_MEMORY_FACTOR + CODEC_MEMORY_SLACK
	                    : G_MAXSIZE;
	b->budget.budget =
	        allowance > G_MAXSIZE - b->budget.budget ? G_MAXSIZE : b->budget.budget + allowance;
	b->budget.exceeded = FALSE;
	msg = protobuf_c_message_unpack(desc, &b->allocator, len, data);
	if (msg == NULL && b->budget.exceeded) {
		g_set_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_TOO_LARGE,
		            "a %s of %" G_GSIZE_FORMAT " bytes would need more than %d times its "
		            "size in memory; refusing it",
		            desc->short_name, len, MSB_MESSAGE_CODEC_MEMORY_FACTOR);
		return NULL;
	}
	if (msg == NULL) {
		g_set_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_MALFORMED,
		            "%" G_GSIZE_FORMAT " bytes are not a valid %s protobuf message", len,
		            desc->short_name);
		return NULL;
	}
	return msg;
}

/* proto3 strings are UTF-8; protobuf-c does not check, and the broker hands these to clients. */
static gboolean
codec_check_utf8(const gchar *s, const gchar *what, gsize idx, GError **error)
{
	if (s == NULL || g_utf8_validate(s, -1, NULL))
		return TRUE;
	g_set_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_MALFORMED,
	            "record %" G_GSIZE_FORMAT ": the %s is not valid UTF-8", idx, what);
	return FALSE;
}

/* Appends views of @recs; checks everything first, so a failure leaves the batch unchanged. */
static gboolean
codec_batch_add(CodecBatch *b, Persistence__MessageContentGrpcModel *const *recs, gsize n,
                GError **error)
{
	MsbPersistHeader *headers = NULL;
	gsize n_headers = 0;
	gsize k = 0;

	for (gsize i = 0; i < n; i++) {
		for (gsize j = 0; j < recs[i]->n_metadata; j++) {
			if (!codec_check_utf8(recs[i]->metadata[j]->key, "header key",
			                      b->messages->len + i, error) ||
			    !codec_check_utf8(recs[i]->metadata[j]->value, "header value",
			                      b->messages->len + i, error))
				return FALSE;
		}
		n_headers += recs[i]->n_metadata;
	}
	if (n_headers > 0) {
		headers = g_new(MsbPersistHeader, n_headers);
		g_ptr_array_add(b->header_blocks, headers);
	}
	for (gsize i = 0; i < n; i++) {
		const Persistence__MessageContentGrpcModel *rec = recs[i];
		MsbPersistMessage m = {
		        .id = rec->messageid,
		        .created_us = rec->created,
		        .content = rec->data.data,
		        .content_len = rec->data.len,
		        .headers = rec->n_metadata > 0 ? &headers[k] : NULL,
		        .n_headers = rec->n_metadata,
		};

		for (gsize j = 0; j < rec->n_metadata; j++, k++) {
			headers[k].key = rec->metadata[j]->key;
			headers[k].value = rec->metadata[j]->value;
		}
		g_array_append_val(b->messages, m);
	}
	b->pub.messages = (const MsbPersistMessage *)b->messages->data;
	b->pub.n_messages = b->messages->len;
	return TRUE;
}

gboolean
msb_message_batch_add_record(MsbMessageBatch *batch, const guint8 *data, gsize len, gsize max_len,
                             GError **error)
{
	CodecBatch *b = (CodecBatch *)batch;
	Persistence__MessageContentGrpcModel *rec;

	g_return_val_if_fail(batch != NULL, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	rec = (Persistence__MessageContentGrpcModel *)codec_unpack(
	        b, &persistence__message_content_grpc_model__descriptor, data, len, max_len, error);
	if (rec == NULL)
		return FALSE;
	if (!codec_batch_add(b, &rec, 1, error)) {
		protobuf_c_message_free_unpacked(&rec->base, &b->allocator);
		return FALSE;
	}
	g_ptr_array_add(b->unpacked, rec);
	return TRUE;
}

MsbMessageBatch *
msb_message_codec_decode_list(const guint8 *data, gsize len, gsize max_len, GError **error)
{
	g_autoptr(MsbMessageBatch) batch = NULL;
	CodecBatch *b;
	Persistence__MessagesListModel *list;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	batch = msb_message_batch_new();
	b = (CodecBatch *)batch;
	list = (Persistence__MessagesListModel *)codec_unpack(
	        b, &persistence__messages_list_model__descriptor, data, len, max_len, error);
	if (list == NULL)
		return NULL;
	g_ptr_array_add(b->unpacked, list);
	if (!codec_batch_add(b, list->messages, list->n_messages, error))
		return NULL;
	return g_steal_pointer(&batch);
}

MsbMessageBatch *
msb_message_codec_decode_upload(const guint8 *data, gsize len, gsize max_len, GError **error)
{
	g_autoptr(MsbMessageBatch) batch = NULL;
	CodecBatch *b;
	Persistence__NewMessagesPayloadModel *payload;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	batch = msb_message_batch_new();
	b = (CodecBatch *)batch;
	payload = (Persistence__NewMessagesPayloadModel *)codec_unpack(
	        b, &persistence__new_messages_payload_model__descriptor, data, len, max_len, error);
	if (payload == NULL)
		return NULL;
	g_ptr_array_add(b->unpacked, payload);
	if (!g_utf8_validate(payload->topicid, -1, NULL)) {
		g_set_error_literal(error, MSB_MESSAGE_CODEC_ERROR,
		                    MSB_MESSAGE_CODEC_ERROR_MALFORMED,
		                    "the upload's TopicId is not valid UTF-8");
		return NULL;
	}
	b->pub.topic_id = payload->topicid;
	if (!codec_batch_add(b, payload->messages, payload->n_messages, error))
		return NULL;
	return g_steal_pointer(&batch);
}
