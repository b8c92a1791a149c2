/*
 * The G3 persistence methods: request decoding, validation, the store calls and the mapping of
 * their outcome onto gRPC statuses. Everything that touches the store runs in MsbGrpcServer's
 * pool (the store fsyncs and reads files); only Ping and GetVersion run inline, because they
 * must answer even while recovery runs and cost nothing.
 *
 * Status decisions (also in docs/persistence-service.md):
 *   - not recovered yet: UNAVAILABLE for everything but Ping and GetVersion (G3 used CANCELLED;
 *     UNAVAILABLE is what clients retry)
 *   - an undecodable request, an empty or invalid TopicId, a negative page: INVALID_ARGUMENT
 *   - an upload that is not a valid ZIP or payload: INVALID_ARGUMENT, naming what was wrong
 *   - an upload above MSB_PERSISTENCE_MAX_UPLOAD: RESOURCE_EXHAUSTED
 *   - reads of a topic we do not have: OK and empty (GetPage, GetSubPage, an empty ZIP for
 *     GetPageCompressed) or the MessageId = -1 sentinel (GetMessage), as persistence.md §5.2
 *   - a write the disk refused (ENOSPC, EIO…): UNAVAILABLE with the reason; nothing is
 *     acknowledged, and a retry of the same messages is safe
 *   - stored bytes that fail their checksum: DATA_LOSS
 */
#define G_LOG_DOMAIN "msb-persistence-service"

#include "msb-persistence-service.h"

#include <string.h>

#include "messages_persistence.pb-c.h"
#include "msb-config.h"
#include "msb-message-codec.h"
#include "msb-persist-paths.h"
#include "msb-persistence-request.h"
#include "msb-zip.h"
#include "queue_persistence.pb-c.h"

struct _MsbPersistenceService {
	MsbStore *store;
	gint ready; /* atomic */
	gint64 created_us;
	GMutex lock;
	MsbPersistenceServiceStats stats;
};

static void
msb_pb_free(ProtobufCMessage *message)
{
	protobuf_c_message_free_unpacked(message, NULL);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ProtobufCMessage, msb_pb_free)

/* ---- statuses ---------------------------------------------------------------------------- */

static grpc_status_code
msb_status_for_error(const GError *error)
{
	if (error->domain == MSB_STORE_ERROR) {
		switch (error->code) {
		case MSB_STORE_ERROR_INVALID_ARGUMENT:
			return GRPC_STATUS_INVALID_ARGUMENT;
		case MSB_STORE_ERROR_NOT_READY:
		case MSB_STORE_ERROR_CLOSED:
		case MSB_STORE_ERROR_BUSY:
			return GRPC_STATUS_UNAVAILABLE;
		case MSB_STORE_ERROR_NOT_FOUND:
			return GRPC_STATUS_NOT_FOUND;
		case MSB_STORE_ERROR_TOPIC_DELETED:
			return GRPC_STATUS_FAILED_PRECONDITION;
		case MSB_STORE_ERROR_CORRUPT:
			return GRPC_STATUS_DATA_LOSS;
		default:
			return GRPC_STATUS_INTERNAL;
		}
	}
	/* the disk said no (full, read-only, failing): nothing was stored; worth a retry later */
	if (error->domain == G_IO_ERROR)
		return GRPC_STATUS_UNAVAILABLE;
	if (error->domain == MSB_PERSISTENCE_REQUEST_ERROR)
		return GRPC_STATUS_INVALID_ARGUMENT;
	if (error->domain == MSB_ZIP_ERROR || error->domain == MSB_MESSAGE_CODEC_ERROR) {
		if ((error->domain == MSB_ZIP_ERROR && error->code == MSB_ZIP_ERROR_TOO_LARGE) ||
		    (error->domain == MSB_MESSAGE_CODEC_ERROR &&
		     error->code == MSB_MESSAGE_CODEC_ERROR_TOO_LARGE))
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	return GRPC_STATUS_INTERNAL;
}

static void
msb_finish_error(MsbGrpcCall *call, grpc_status_code code, const gchar *format, ...)
        G_GNUC_PRINTF(3, 4);

/* Answers @code; a fault on our side is a warning, a bad request only a message. */
static void
msb_finish_error(MsbGrpcCall *call, grpc_status_code code, const gchar *format, ...)
{
	g_autofree gchar *details = NULL;
	va_list args;

	va_start(args, format);
	details = g_strdup_vprintf(format, args);
	va_end(args);
	if (code == GRPC_STATUS_INVALID_ARGUMENT || code == GRPC_STATUS_NOT_FOUND ||
	    code == GRPC_STATUS_FAILED_PRECONDITION || code == GRPC_STATUS_RESOURCE_EXHAUSTED ||
	    code == GRPC_STATUS_CANCELLED)
		g_message("%s: %s: %s", msb_grpc_call_get_path(call), msb_grpc_status_name(code),
		          details);
	else
		g_warning("%s: %s: %s", msb_grpc_call_get_path(call), msb_grpc_status_name(code),
		          details);
	msb_grpc_call_finish(call, code, details);
}

static void
msb_finish_gerror(MsbGrpcCall *call, const GError *error, const gchar *what)
{
	msb_finish_error(call, msb_status_for_error(error), "%s: %s", what, error->message);
}

/* The client went away or its deadline passed: the status reaches no one, but ends the call. */
static void
msb_finish_broken(MsbGrpcCall *call)
{
	g_debug("%s: the client went away before the call ended", msb_grpc_call_get_path(call));
	msb_grpc_call_finish(call, GRPC_STATUS_CANCELLED, "the client went away");
}

/* ---- requests ---------------------------------------------------------------------------- */

/* The decoded request, or NULL after answering INVALID_ARGUMENT. */
static ProtobufCMessage *
msb_unpack_request(MsbGrpcCall *call, const ProtobufCMessageDescriptor *desc)
{
	g_autoptr(GBytes) bytes = msb_grpc_call_get_request(call);
	ProtobufCMessage *message;
	gsize len = 0;
	const guint8 *data;

	if (bytes == NULL) {
		msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT,
		                 "the call carries no %s request message", desc->short_name);
		return NULL;
	}
	data = g_bytes_get_data(bytes, &len);
	message = protobuf_c_message_unpack(desc, NULL, len, data);
	if (message == NULL)
		msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT,
		                 "the request (%" G_GSIZE_FORMAT " bytes) is not a valid %s", len,
		                 desc->short_name);
	return message;
}

/* TRUE when @topic can name a stored topic; else answers INVALID_ARGUMENT. */
static gboolean
msb_check_topic(MsbGrpcCall *call, const gchar *topic)
{
	g_autoptr(GError) error = NULL;

	if (msb_persistence_request_check_topic(topic, &error))
		return TRUE;
	msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", error->message);
	return FALSE;
}

/* ---- sending messages -------------------------------------------------------------------- */

/* A MessageContentGrpcModel view of @msg; free the arrays with msb_record_clear(). */
typedef struct {
	Persistence__MessageContentGrpcModel rec;
	Persistence__MessageContentMetaDataItem *items;
	Persistence__MessageContentMetaDataItem **ptrs;
} MsbRecord;

static void
msb_record_init(MsbRecord *r, const MsbStoreMessage *msg)
{
	guint n = msg->headers != NULL ? msg->headers->len : 0;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(msg->content, &len);

	persistence__message_content_grpc_model__init(&r->rec);
	r->rec.messageid = msg->id;
	r->rec.created = msg->created;
	r->rec.data.data = (guint8 *)data;
	r->rec.data.len = len;
	r->items = NULL;
	r->ptrs = NULL;
	if (n == 0)
		return;
	r->items = g_new(Persistence__MessageContentMetaDataItem, n);
	r->ptrs = g_new(Persistence__MessageContentMetaDataItem *, n);
	for (guint i = 0; i < n; i++) {
		const MsbStoreHeader *h = g_ptr_array_index(msg->headers, i);

		persistence__message_content_meta_data_item__init(&r->items[i]);
		r->items[i].key = h->key;
		r->items[i].value = h->value;
		r->ptrs[i] = &r->items[i];
	}
	r->rec.n_metadata = n;
	r->rec.metadata = r->ptrs;
}

static void
msb_record_clear(MsbRecord *r)
{
	g_free(r->items);
	g_free(r->ptrs);
}

typedef struct {
	MsbGrpcCall *call;
	gboolean broken;
	guint n_sent;
} MsbStreamCtx;

static gboolean
msb_stream_message_cb(MsbStoreMessage *msg, gpointer user_data)
{
	MsbStreamCtx *ctx = user_data;
	MsbRecord r;
	gboolean ok;

	msb_record_init(&r, msg);
	ok = msb_grpc_call_send_message(ctx->call, &r.rec.base);
	msb_record_clear(&r);
	msb_store_message_free(msg);
	if (!ok) {
		ctx->broken = TRUE;
		return FALSE;
	}
	ctx->n_sent++;
	return TRUE;
}

/* Streams [from, to] of @topic as MessageContentGrpcModel messages and ends the call. */
static void
msb_stream_range(MsbPersistenceService *self, MsbGrpcCall *call, const gchar *topic, gint64 from,
                 gint64 to)
{
	MsbStreamCtx ctx = {call, FALSE, 0};
	g_autoptr(GError) error = NULL;

	/* an unknown topic has no messages: an empty stream, as persistence.md §5.2 */
	if (from <= to && !msb_store_read_range_foreach(self->store, topic, from, to,
	                                                msb_stream_message_cb, &ctx, &error)) {
		g_autofree gchar *what = g_strdup_printf("cannot read messages %" G_GINT64_FORMAT
		                                         "-%" G_GINT64_FORMAT " of topic %s",
		                                         from, to, topic);
		msb_finish_gerror(call, error, what);
		return;
	}
	if (ctx.broken) {
		msb_finish_broken(call);
		return;
	}
	g_debug("%s %s [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]: %u messages",
	        msb_grpc_call_get_path(call), topic, from, to, ctx.n_sent);
	msb_grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

/* msb_persistence_request_page_range(); FALSE after answering INVALID_ARGUMENT. */
static gboolean
msb_page_range(MsbGrpcCall *call, const Persistence__GetPageGrpcRequest *req, gint64 *lo,
               gint64 *hi)
{
	g_autoptr(GError) error = NULL;

	if (msb_persistence_request_page_range(req, lo, hi, &error))
		return TRUE;
	msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", error->message);
	return FALSE;
}

/* ---- the methods ------------------------------------------------------------------------- */

static void
msb_handle_ping(MsbGrpcCall *call, gpointer user_data)
{
	Persistence__Empty empty = PERSISTENCE__EMPTY__INIT;

	msb_grpc_call_finish_with_message(call, &empty.base);
}

static void
msb_handle_get_version(MsbGrpcCall *call, gpointer user_data)
{
	Persistence__GetVersionGrpcResponse resp = PERSISTENCE__GET_VERSION_GRPC_RESPONSE__INIT;

	resp.version = (char *)MSB_VERSION;
	msb_grpc_call_finish_with_message(call, &resp.base);
}

static void
msb_handle_get_message(MsbGrpcCall *call, gpointer user_data)
{
	MsbPersistenceService *self = user_data;
	g_autoptr(ProtobufCMessage) message = NULL;
	const Persistence__GetMessageGrpcRequest *req;
	g_autoptr(MsbStoreMessage) msg = NULL;
	g_autoptr(GError) error = NULL;
	MsbRecord r;

	message = msb_unpack_request(call, &persistence__get_message_grpc_request__descriptor);
	if (message == NULL)
		return;
	req = (const Persistence__GetMessageGrpcRequest *)message;
	if (!msb_check_topic(call, req->topicid))
		return;
	msg = msb_store_read_message(self->store, req->topicid, req->messageid, &error);
	if (error != NULL) {
		g_autofree gchar *what =
		        g_strdup_printf("cannot read message %" G_GINT64_FORMAT " of topic %s",
		                        req->messageid, req->topicid);
		msb_finish_gerror(call, error, what);
		return;
	}
	if (msg == NULL) {
		/* not found is not an error in this protocol: the sentinel id -1 says so */
		Persistence__MessageContentGrpcModel none =
		        PERSISTENCE__MESSAGE_CONTENT_GRPC_MODEL__INIT;

		none.messageid = -1;
		msb_grpc_call_finish_with_message(call, &none.base);
		return;
	}
	msb_record_init(&r, msg);
	msb_grpc_call_finish_with_message(call, &r.rec.base);
	msb_record_clear(&r);
}

static void
msb_handle_get_page(MsbGrpcCall *call, gpointer user_data)
{
	MsbPersistenceService *self = user_data;
	g_autoptr(ProtobufCMessage) message = NULL;
	const Persistence__GetPageGrpcRequest *req;
	gint64 lo;
	gint64 hi;

	message = msb_unpack_request(call, &persistence__get_page_grpc_request__descriptor);
	if (message == NULL)
		return;
	req = (const Persistence__GetPageGrpcRequest *)message;
	if (!msb_check_topic(call, req->topicid) || !msb_page_range(call, req, &lo, &hi))
		return;
	msb_stream_range(self, call, req->topicid, lo, hi);
}

static void
msb_handle_get_sub_page(MsbGrpcCall *call, gpointer user_data)
{
	MsbPersistenceService *self = user_data;
	g_autoptr(ProtobufCMessage) message = NULL;
	const Persistence__GetSubPageGrpcRequest *req;
	g_autoptr(GError) error = NULL;
	gint64 lo;
	gint64 hi;

	message = msb_unpack_request(call, &persistence__get_sub_page_grpc_request__descriptor);
	if (message == NULL)
		return;
	req = (const Persistence__GetSubPageGrpcRequest *)message;
	if (!msb_check_topic(call, req->topicid))
		return;
	if (!msb_persistence_request_sub_page_range(req->subpageno, &lo, &hi, &error)) {
		msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", error->message);
		return;
	}
	msb_stream_range(self, call, req->topicid, lo, hi);
}

/* MsbPersistMessage views of store messages, for the codec. */
typedef struct {
	GArray *messages; /* MsbPersistMessage */
	GPtrArray *header_blocks;
} MsbViews;

static void
msb_views_init(MsbViews *v, GPtrArray *msgs)
{
	v->messages = g_array_sized_new(FALSE, FALSE, sizeof(MsbPersistMessage), msgs->len);
	v->header_blocks = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < msgs->len; i++) {
		const MsbStoreMessage *m = g_ptr_array_index(msgs, i);
		guint n = m->headers != NULL ? m->headers->len : 0;
		MsbPersistMessage pm = {0};
		MsbPersistHeader *headers = NULL;

		if (n > 0) {
			headers = g_new(MsbPersistHeader, n);
			for (guint j = 0; j < n; j++) {
				const MsbStoreHeader *h = g_ptr_array_index(m->headers, j);
				headers[j].key = h->key;
				headers[j].value = h->value;
			}
			g_ptr_array_add(v->header_blocks, headers);
		}
		pm.id = m->id;
		pm.created_us = m->created;
		pm.content = g_bytes_get_data(m->content, &pm.content_len);
		pm.headers = headers;
		pm.n_headers = n;
		g_array_append_val(v->messages, pm);
	}
}

static void
msb_views_clear(MsbViews *v)
{
	g_array_unref(v->messages);
	g_ptr_array_unref(v->header_blocks);
}

/* the zlib level of GetPageCompressed replies */
#define MSB_PAGE_ZIP_LEVEL 1

static GBytes *
msb_build_page_zip(GPtrArray *msgs, gint32 version, GError **error)
{
	MsbViews v;
	GBytes *zip = NULL;

	msb_views_init(&v, msgs);
	if (version == 0) {
		/* single entry "d" holding the list (§6.2) */
		g_autoptr(GBytes) list = msb_message_codec_encode_list(
		        (const MsbPersistMessage *)v.messages->data, v.messages->len);
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(list, &len);

		/* zlib's fastest level: a reply is unpacked once, right away, and a page of 100,000
		 * small messages costs several times the CPU of reading it at the default level */
		g_autoptr(MsbZipWriter) single = msb_zip_writer_new(MSB_PAGE_ZIP_LEVEL);

		if (msb_zip_writer_add(single, MSB_ZIP_SINGLE_ENTRY_NAME, data, len, error))
			zip = msb_zip_writer_finish(single, error);
	} else {
		/* one entry per message, named by its id (§6.3) */
		g_autoptr(MsbZipWriter) writer = msb_zip_writer_new(MSB_PAGE_ZIP_LEVEL);
		gboolean ok = TRUE;

		for (guint i = 0; ok && i < v.messages->len; i++) {
			const MsbPersistMessage *pm =
			        &g_array_index(v.messages, MsbPersistMessage, i);
			g_autoptr(GBytes) rec = msb_message_codec_encode_record(pm);
			gsize len = 0;
			const guint8 *data = g_bytes_get_data(rec, &len);

			ok = msb_zip_writer_add_id(writer, pm->id, data, len, error);
		}
		if (ok)
			zip = msb_zip_writer_finish(writer, error);
	}
	msb_views_clear(&v);
	return zip;
}

static void
msb_handle_get_page_compressed(MsbGrpcCall *call, gpointer user_data)
{
	MsbPersistenceService *self = user_data;
	g_autoptr(ProtobufCMessage) message = NULL;
	const Persistence__GetPageGrpcRequest *req;
	g_autoptr(GPtrArray) msgs = NULL;
	g_autoptr(GPtrArray) chunks = NULL;
	g_autoptr(GBytes) zip = NULL;
	g_autoptr(GError) error = NULL;
	gint64 lo;
	gint64 hi;

	message = msb_unpack_request(call, &persistence__get_page_grpc_request__descriptor);
	if (message == NULL)
		return;
	req = (const Persistence__GetPageGrpcRequest *)message;
	if (!msb_check_topic(call, req->topicid) || !msb_page_range(call, req, &lo, &hi))
		return;
	if (lo <= hi)
		msgs = msb_store_read_range(self->store, req->topicid, lo, hi, &error);
	else
		msgs = g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_message_free);
	if (msgs == NULL) {
		g_autofree gchar *what = g_strdup_printf("cannot read messages %" G_GINT64_FORMAT
		                                         "-%" G_GINT64_FORMAT " of topic %s",
		                                         lo, hi, req->topicid);
		msb_finish_gerror(call, error, what);
		return;
	}
	/* a ZIP is produced even when no message exists (§5.2) */
	zip = msb_build_page_zip(msgs, req->version, &error);
	if (zip == NULL) {
		msb_finish_error(call,
		                 error->domain == MSB_ZIP_ERROR &&
		                                 error->code == MSB_ZIP_ERROR_TOO_LARGE
		                         ? GRPC_STATUS_RESOURCE_EXHAUSTED
		                         : GRPC_STATUS_INTERNAL,
		                 "cannot build the ZIP of %u messages of topic %s%s: %s", msgs->len,
		                 req->topicid,
		                 req->version != 0 ? " (one entry per message; Version 0 has no "
		                                     "entry limit)"
		                                   : "",
		                 error->message);
		return;
	}
	chunks = msb_chunks_split(zip, MSB_PERSISTENCE_PAGE_CHUNK_SIZE);
	for (guint i = 0; i < chunks->len; i++) {
		Persistence__CompressedMessageChunkModel chunk =
		        PERSISTENCE__COMPRESSED_MESSAGE_CHUNK_MODEL__INIT;
		gsize len = 0;

		chunk.chunk.data = (guint8 *)g_bytes_get_data(g_ptr_array_index(chunks, i), &len);
		chunk.chunk.len = len;
		if (!msb_grpc_call_send_message(call, &chunk.base)) {
			msb_finish_broken(call);
			return;
		}
	}
	msb_grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

/* Keeps a decoded batch alive while store messages refer to its bytes. */
typedef struct {
	gint refs;
	MsbMessageBatch *batch;
} MsbBatchRef;

static void
msb_batch_ref_unref(gpointer data)
{
	MsbBatchRef *ref = data;

	if (g_atomic_int_dec_and_test(&ref->refs)) {
		msb_message_batch_free(ref->batch);
		g_free(ref);
	}
}

/* Store messages for @batch, their contents pointing into it (no copy). */
static GPtrArray *
msb_store_messages_from_batch(MsbBatchRef *ref)
{
	const MsbMessageBatch *batch = ref->batch;
	GPtrArray *out = g_ptr_array_new_full((guint)batch->n_messages,
	                                      (GDestroyNotify)msb_store_message_free);

	for (gsize i = 0; i < batch->n_messages; i++) {
		const MsbPersistMessage *pm = &batch->messages[i];
		g_autoptr(GBytes) content = NULL;
		MsbStoreMessage *m;

		g_atomic_int_inc(&ref->refs);
		content = g_bytes_new_with_free_func(pm->content, pm->content_len,
		                                     msb_batch_ref_unref, ref);
		m = msb_store_message_new(pm->id, pm->created_us, content);
		for (gsize j = 0; j < pm->n_headers; j++)
			msb_store_message_add_header(
			        m, pm->headers[j].key != NULL ? pm->headers[j].key : "",
			        pm->headers[j].value != NULL ? pm->headers[j].value : "");
		g_ptr_array_add(out, m);
	}
	return out;
}

/* Reads every chunk of a client-streaming upload; NULL after answering. */
static GByteArray *
msb_receive_upload(MsbPersistenceService *self, MsbGrpcCall *call)
{
	g_autoptr(GByteArray) acc = g_byte_array_new();
	guint n_chunks = 0;

	for (;;) {
		g_autoptr(GBytes) bytes = NULL;
		g_autoptr(ProtobufCMessage) message = NULL;
		g_autoptr(GError) error = NULL;
		const Persistence__CompressedMessageChunkModel *chunk;
		gsize len = 0;
		const guint8 *data;

		if (!msb_grpc_call_recv(call, &bytes)) {
			msb_finish_broken(call);
			return NULL;
		}
		if (bytes == NULL)
			break;
		data = g_bytes_get_data(bytes, &len);
		/* CompressedMessageChunkModel and UnCompressedMessageChunkModel are both {1 Chunk}
		 */
		message = protobuf_c_message_unpack(
		        &persistence__compressed_message_chunk_model__descriptor, NULL, len, data);
		if (message == NULL) {
			msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT,
			                 "stream message %u (%" G_GSIZE_FORMAT
			                 " bytes) is not a chunk message {1 Chunk bytes}",
			                 n_chunks + 1, len);
			return NULL;
		}
		chunk = (const Persistence__CompressedMessageChunkModel *)message;
		if (!msb_chunks_append(acc, chunk->chunk.data, chunk->chunk.len,
		                       MSB_PERSISTENCE_MAX_UPLOAD, &error)) {
			msb_finish_error(
			        call, GRPC_STATUS_RESOURCE_EXHAUSTED,
			        "the upload is larger than %u bytes; send fewer messages per "
			        "call (%s)",
			        MSB_PERSISTENCE_MAX_UPLOAD, error->message);
			return NULL;
		}
		n_chunks++;
	}
	if (acc->len == 0) {
		msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT,
		                 "the upload is empty (%u chunks): expected the chunks of a "
		                 "NewMessagesPayloadModel {1 TopicId, 2 messages}",
		                 n_chunks);
		return NULL;
	}
	g_mutex_lock(&self->lock);
	self->stats.upload_bytes += acc->len;
	g_mutex_unlock(&self->lock);
	return g_steal_pointer(&acc);
}

static void
msb_save_upload(MsbPersistenceService *self, MsbGrpcCall *call, gboolean compressed)
{
	g_autoptr(GByteArray) acc = NULL;
	g_autoptr(GPtrArray) batches = NULL;
	g_autoptr(GPtrArray) refs = g_ptr_array_new_with_free_func(msb_batch_ref_unref);
	g_autoptr(GPtrArray) lists =
	        g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
	g_autoptr(GArray) items = g_array_new(FALSE, TRUE, sizeof(MsbStoreSaveItem));
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) topics = g_string_new(NULL);
	guint n_messages = 0;

	acc = msb_receive_upload(self, call);
	if (acc == NULL)
		return;
	batches = msb_persistence_request_decode_upload(acc->data, acc->len, compressed,
	                                                MSB_PERSISTENCE_MAX_UPLOAD, &error);
	if (batches == NULL) {
		msb_finish_error(call, msb_status_for_error(error), "%s", error->message);
		return;
	}
	g_clear_pointer(&acc, g_byte_array_unref);
	/* the store's messages point into the batches: a reference per message keeps each alive */
	g_ptr_array_set_free_func(batches, NULL);
	for (guint i = 0; i < batches->len; i++) {
		MsbBatchRef *ref = g_new0(MsbBatchRef, 1);

		ref->refs = 1;
		ref->batch = g_ptr_array_index(batches, i);
		g_ptr_array_add(refs, ref);
	}

	for (guint i = 0; i < refs->len; i++) {
		MsbBatchRef *ref = g_ptr_array_index(refs, i);
		GPtrArray *list;
		MsbStoreSaveItem item;

		list = msb_store_messages_from_batch(ref);
		g_ptr_array_add(lists, list);
		item.topic = ref->batch->topic_id;
		item.msgs = (const MsbStoreMessage *const *)list->pdata;
		item.n_msgs = list->len;
		g_array_append_val(items, item);
		n_messages += list->len;
		g_string_append_printf(topics, "%s%s", i > 0 ? ", " : "", item.topic);
	}
	/* one group commit for everything in the call; returns once it is on disk */
	if (!msb_store_save_batch(self->store, (const MsbStoreSaveItem *)items->data, items->len,
	                          &error)) {
		g_autofree gchar *what = g_strdup_printf(
		        "cannot store %u messages of topic %s (nothing of this call "
		        "is acknowledged; retrying it is safe)",
		        n_messages, topics->str);
		msb_finish_gerror(call, error, what);
		return;
	}
	g_mutex_lock(&self->lock);
	if (compressed)
		self->stats.uploads_compressed++;
	else
		self->stats.uploads_uncompressed++;
	self->stats.last_save_us = g_get_real_time();
	g_mutex_unlock(&self->lock);
	g_debug("%s: stored %u messages of %s", msb_grpc_call_get_path(call), n_messages,
	        topics->str);
	msb_grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void
msb_handle_save_messages(MsbGrpcCall *call, gpointer user_data)
{
	msb_save_upload(user_data, call, TRUE);
}

static void
msb_handle_save_messages_uncompressed(MsbGrpcCall *call, gpointer user_data)
{
	msb_save_upload(user_data, call, FALSE);
}

static void
msb_handle_delete_topic(MsbGrpcCall *call, gpointer user_data)
{
	MsbPersistenceService *self = user_data;
	g_autoptr(ProtobufCMessage) message = NULL;
	const Persistence__DeleteTopicGrpcRequest *req;
	g_autoptr(GError) error = NULL;
	Persistence__Empty empty = PERSISTENCE__EMPTY__INIT;
	gint64 after;

	message = msb_unpack_request(call, &persistence__delete_topic_grpc_request__descriptor);
	if (message == NULL)
		return;
	req = (const Persistence__DeleteTopicGrpcRequest *)message;
	if (!msb_check_topic(call, req->topicid))
		return;
	/* 0 means "live" to the store; a moment in the past means "as soon as possible" */
	after = MAX(req->deleteafter, 1);
	if (!msb_store_delete_topic(self->store, req->topicid, after, &error)) {
		/* a topic that never had a message stored is already as deleted as it gets; the
		 * broker may delete such a topic, and must not retry for ever */
		if (!g_error_matches(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_FOUND)) {
			g_autofree gchar *what =
			        g_strdup_printf("cannot delete topic %s", req->topicid);
			msb_finish_gerror(call, error, what);
			return;
		}
		g_debug("DeleteTopic %s: not stored here; nothing to delete", req->topicid);
	}
	msb_grpc_call_finish_with_message(call, &empty.base);
}

static void
msb_handle_restore_topic(MsbGrpcCall *call, gpointer user_data)
{
	MsbPersistenceService *self = user_data;
	g_autoptr(ProtobufCMessage) message = NULL;
	const Persistence__RestoreTopicGrpcRequest *req;
	Persistence__RestoreTopicGrpcResponse resp = PERSISTENCE__RESTORE_TOPIC_GRPC_RESPONSE__INIT;
	g_autoptr(GError) error = NULL;
	gint64 next = 0;

	message = msb_unpack_request(call, &persistence__restore_topic_grpc_request__descriptor);
	if (message == NULL)
		return;
	req = (const Persistence__RestoreTopicGrpcRequest *)message;
	if (!msb_check_topic(call, req->topicid))
		return;
	if (msb_store_restore_topic(self->store, req->topicid, &next, &error)) {
		resp.result = TRUE;
		resp.messageid = next;
	} else if (g_error_matches(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_FOUND)) {
		/* the response has a field for exactly this: nothing to restore */
		resp.result = FALSE;
		resp.messageid = 0;
	} else {
		g_autofree gchar *what = g_strdup_printf("cannot restore topic %s", req->topicid);
		msb_finish_gerror(call, error, what);
		return;
	}
	msb_grpc_call_finish_with_message(call, &resp.base);
}

static void
msb_handle_get_snapshot(MsbGrpcCall *call, gpointer user_data)
{
	MsbPersistenceService *self = user_data;
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ProtobufCMessage) message = NULL;
	const Persistence__SaveQueueSnapshotGrpcRequest *snap;
	gsize len = 0;
	const guint8 *data;

	blob = msb_store_load_snapshot(self->store, &error);
	if (error != NULL) {
		msb_finish_gerror(call, error, "cannot load the queue snapshot");
		return;
	}
	/* never saved: a broker with no topics */
	if (blob == NULL) {
		msb_grpc_call_finish(call, GRPC_STATUS_OK, NULL);
		return;
	}
	data = g_bytes_get_data(blob, &len);
	message = protobuf_c_message_unpack(
	        &persistence__save_queue_snapshot_grpc_request__descriptor, NULL, len, data);
	if (message == NULL) {
		msb_finish_error(call, GRPC_STATUS_DATA_LOSS,
		                 "the stored queue snapshot (%" G_GSIZE_FORMAT
		                 " bytes) cannot be decoded",
		                 len);
		return;
	}
	snap = (const Persistence__SaveQueueSnapshotGrpcRequest *)message;
	for (gsize i = 0; i < snap->n_queuesnapshot; i++) {
		if (!msb_grpc_call_send_message(call, &snap->queuesnapshot[i]->base)) {
			msb_finish_broken(call);
			return;
		}
	}
	msb_grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void
msb_handle_save_snapshot(MsbGrpcCall *call, gpointer user_data)
{
	MsbPersistenceService *self = user_data;
	g_autoptr(GBytes) bytes = msb_grpc_call_get_request(call);
	g_autoptr(ProtobufCMessage) message = NULL;
	g_autoptr(GError) error = NULL;
	const Persistence__SaveQueueSnapshotGrpcRequest *snap;
	Persistence__Empty empty = PERSISTENCE__EMPTY__INIT;
	gsize len = 0;
	const guint8 *data;

	if (bytes == NULL) {
		msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT,
		                 "the call carries no SaveQueueSnapshotGrpcRequest");
		return;
	}
	data = g_bytes_get_data(bytes, &len);
	message = protobuf_c_message_unpack(
	        &persistence__save_queue_snapshot_grpc_request__descriptor, NULL, len, data);
	if (message == NULL) {
		msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT,
		                 "the request (%" G_GSIZE_FORMAT
		                 " bytes) is not a valid SaveQueueSnapshotGrpcRequest",
		                 len);
		return;
	}
	snap = (const Persistence__SaveQueueSnapshotGrpcRequest *)message;
	if (!msb_persistence_request_check_snapshot(snap, &error)) {
		msb_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", error->message);
		return;
	}
	/* stored as received, so that GetSnapshot gives the broker back exactly what it sent */
	if (!msb_store_save_snapshot(self->store, bytes, &error)) {
		msb_finish_gerror(call, error, "cannot store the queue snapshot");
		return;
	}
	g_mutex_lock(&self->lock);
	self->stats.snapshots_saved++;
	g_mutex_unlock(&self->lock);
	msb_grpc_call_finish_with_message(call, &empty.base);
}

/* ---- the service ------------------------------------------------------------------------- */

static grpc_status_code
msb_service_gate(gpointer user_data, gchar **details)
{
	MsbPersistenceService *self = user_data;

	if (g_atomic_int_get(&self->ready))
		return GRPC_STATUS_OK;
	*details = g_strdup_printf("my-service-bus-persistence is still recovering its data "
	                           "(for %" G_GINT64_FORMAT " ms so far); retry shortly",
	                           (g_get_monotonic_time() - self->created_us) / 1000);
	return GRPC_STATUS_UNAVAILABLE;
}

MsbPersistenceService *
msb_persistence_service_new(MsbStore *store)
{
	MsbPersistenceService *self;

	g_return_val_if_fail(store != NULL, NULL);
	self = g_new0(MsbPersistenceService, 1);
	self->store = store;
	self->created_us = g_get_monotonic_time();
	g_mutex_init(&self->lock);
	return self;
}

void
msb_persistence_service_free(MsbPersistenceService *service)
{
	if (service == NULL)
		return;
	g_mutex_clear(&service->lock);
	g_free(service);
}

void
msb_persistence_service_register(MsbPersistenceService *service, MsbGrpcServer *server)
{
	const MsbGrpcMethodFlags quick = MSB_GRPC_METHOD_FLAG_INLINE | MSB_GRPC_METHOD_FLAG_UNGATED;

	g_return_if_fail(service != NULL);
	g_return_if_fail(server != NULL);

	msb_grpc_server_set_gate(server, msb_service_gate, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_GET_SNAPSHOT, MSB_GRPC_SERVER_STREAMING,
	                           MSB_GRPC_METHOD_FLAG_NONE, msb_handle_get_snapshot, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_SAVE_SNAPSHOT, MSB_GRPC_UNARY,
	                           MSB_GRPC_METHOD_FLAG_NONE, msb_handle_save_snapshot, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_GET_VERSION, MSB_GRPC_UNARY, quick,
	                           msb_handle_get_version, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_GET_MESSAGE, MSB_GRPC_UNARY,
	                           MSB_GRPC_METHOD_FLAG_NONE, msb_handle_get_message, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_GET_PAGE_COMPRESSED,
	                           MSB_GRPC_SERVER_STREAMING, MSB_GRPC_METHOD_FLAG_NONE,
	                           msb_handle_get_page_compressed, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_GET_PAGE, MSB_GRPC_SERVER_STREAMING,
	                           MSB_GRPC_METHOD_FLAG_NONE, msb_handle_get_page, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_GET_SUB_PAGE, MSB_GRPC_SERVER_STREAMING,
	                           MSB_GRPC_METHOD_FLAG_NONE, msb_handle_get_sub_page, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_SAVE_MESSAGES,
	                           MSB_GRPC_CLIENT_STREAMING, MSB_GRPC_METHOD_FLAG_NONE,
	                           msb_handle_save_messages, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_SAVE_MESSAGES_UNCOMPRESSED,
	                           MSB_GRPC_CLIENT_STREAMING, MSB_GRPC_METHOD_FLAG_NONE,
	                           msb_handle_save_messages_uncompressed, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_DELETE_TOPIC, MSB_GRPC_UNARY,
	                           MSB_GRPC_METHOD_FLAG_NONE, msb_handle_delete_topic, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_RESTORE_TOPIC, MSB_GRPC_UNARY,
	                           MSB_GRPC_METHOD_FLAG_NONE, msb_handle_restore_topic, service);
	msb_grpc_server_add_method(server, MSB_PERSIST_PATH_PING, MSB_GRPC_UNARY, quick,
	                           msb_handle_ping, service);
}

void
msb_persistence_service_set_ready(MsbPersistenceService *service)
{
	g_return_if_fail(service != NULL);
	g_atomic_int_set(&service->ready, TRUE);
}

gboolean
msb_persistence_service_is_ready(MsbPersistenceService *service)
{
	g_return_val_if_fail(service != NULL, FALSE);
	return g_atomic_int_get(&service->ready);
}

void
msb_persistence_service_get_stats(MsbPersistenceService *service, MsbPersistenceServiceStats *stats)
{
	g_return_if_fail(service != NULL);
	g_return_if_fail(stats != NULL);
	g_mutex_lock(&service->lock);
	*stats = service->stats;
	g_mutex_unlock(&service->lock);
}
