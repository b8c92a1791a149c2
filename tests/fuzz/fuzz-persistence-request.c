/*
 * libFuzzer target for what the persistence service does with request bytes before it touches
 * the store: protobuf-c unpacking of every G3 request message (the .proto files in proto/), and for
 * the uploads (SaveMessages, SaveMessagesUncompressed) the chain the service runs on the chunk
 * messages: join the chunks, unzip, decode the NewMessagesPayloadModel, check the topic, build
 * the store's messages.
 *
 * Input: a selector byte, then the request bytes.
 *   selector % 10: the request message: 0 Empty, 1 GetMessageGrpcRequest, 2 GetPageGrpcRequest,
 *                  3 GetSubPageGrpcRequest, 4 DeleteTopicGrpcRequest, 5 RestoreTopicGrpcRequest,
 *                  6 SaveQueueSnapshotGrpcRequest, 7 UnCompressedMessageChunkModel,
 *                  8 a SaveMessages stream, 9 a SaveMessagesUncompressed stream (streams: the
 *                  bytes are u16 length-prefixed chunk messages)
 *
 * Oracles, each an abort: an unpacked message packs to its announced size, and when that
 * unpacks again it packs to the same bytes (protobuf-c never reads past the input, ASan checks
 * that); string fields are
 * NUL-terminated; the upload chain either refuses with an error of the right domain or yields
 * messages whose every byte can be read.
 */
#include <string.h>

#include "fuzz-common.h"
#include "messages_persistence.pb-c.h"
#include "msb-message-codec.h"
#include "msb-persistence-request.h"
#include "msb-store.h"
#include "msb-zip.h"
#include "queue_persistence.pb-c.h"

/* as the service (MSB_PERSISTENCE_MAX_UPLOAD), smaller: the fuzzer's inputs are small */
#define FUZZ_MAX_UPLOAD (1024 * 1024)

static const ProtobufCMessageDescriptor *const fuzz_requests[] = {
        &persistence__empty__descriptor,
        &persistence__get_message_grpc_request__descriptor,
        &persistence__get_page_grpc_request__descriptor,
        &persistence__get_sub_page_grpc_request__descriptor,
        &persistence__delete_topic_grpc_request__descriptor,
        &persistence__restore_topic_grpc_request__descriptor,
        &persistence__save_queue_snapshot_grpc_request__descriptor,
        &persistence__un_compressed_message_chunk_model__descriptor,
        &persistence__compressed_message_chunk_model__descriptor,
        &persistence__un_compressed_message_chunk_model__descriptor,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init_logging();
	return 0;
}

/* Unpacks @data as @desc; when it unpacks, pack → unpack → pack is stable. */
static ProtobufCMessage *
fuzz_unpack(const ProtobufCMessageDescriptor *desc, const guint8 *data, gsize len)
{
	ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, len, data);
	g_autofree guint8 *packed = NULL;
	g_autofree guint8 *repacked = NULL;
	ProtobufCMessage *again;
	gsize n;

	if (msg == NULL)
		return NULL;
	FUZZ_CHECK(protobuf_c_message_check(msg));
	n = protobuf_c_message_get_packed_size(msg);
	packed = g_malloc(MAX(n, 1));
	FUZZ_CHECK(protobuf_c_message_pack(msg, packed) == n);
	again = protobuf_c_message_unpack(desc, NULL, n, packed);
	/* protobuf-c 1.4 keeps an unknown field whose tag is an overlong varint of field 0 and
	 * writes it back minimal, which it then refuses: a library quirk the service never meets,
	 * since it stores requests as received and never packs them again */
	if (again == NULL)
		return msg;
	FUZZ_CHECK(protobuf_c_message_get_packed_size(again) == n);
	repacked = g_malloc(MAX(n, 1));
	FUZZ_CHECK(protobuf_c_message_pack(again, repacked) == n);
	FUZZ_CHECK(n == 0 || memcmp(packed, repacked, n) == 0);
	protobuf_c_message_free_unpacked(again, NULL);
	return msg;
}

static void
fuzz_check_refusal(const GError *error)
{
	FUZZ_CHECK(error != NULL && error->domain == MSB_PERSISTENCE_REQUEST_ERROR);
	FUZZ_CHECK(error->message != NULL && error->message[0] != '\0');
}

static void
fuzz_topic(const gchar *topic)
{
	g_autoptr(GError) error = NULL;

	if (msb_persistence_request_check_topic(topic, &error)) {
		FUZZ_CHECK(msb_store_topic_name_is_valid(topic));
		FUZZ_CHECK(strlen(topic) >= 3 && strlen(topic) <= 63);
	} else {
		fuzz_check_refusal(error);
	}
}

static void
fuzz_request(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	g_autoptr(GError) error = NULL;
	gint64 lo = 0;
	gint64 hi = 0;

	if (desc == &persistence__get_message_grpc_request__descriptor) {
		fuzz_topic(((const Persistence__GetMessageGrpcRequest *)msg)->topicid);
	} else if (desc == &persistence__get_page_grpc_request__descriptor) {
		const Persistence__GetPageGrpcRequest *req = (const void *)msg;

		fuzz_topic(req->topicid);
		if (msb_persistence_request_page_range(req, &lo, &hi, &error)) {
			/* never more than the one page asked for */
			FUZZ_CHECK(lo >= req->pageno * MSB_STORE_PAGE_SIZE);
			FUZZ_CHECK(hi <=
			           req->pageno * MSB_STORE_PAGE_SIZE + MSB_STORE_PAGE_SIZE - 1);
		} else {
			fuzz_check_refusal(error);
			FUZZ_CHECK(req->pageno < 0 ||
			           req->pageno > G_MAXINT64 / MSB_STORE_PAGE_SIZE - 1);
		}
	} else if (desc == &persistence__get_sub_page_grpc_request__descriptor) {
		const Persistence__GetSubPageGrpcRequest *req = (const void *)msg;

		fuzz_topic(req->topicid);
		if (msb_persistence_request_sub_page_range(req->subpageno, &lo, &hi, &error)) {
			FUZZ_CHECK(lo >= 0 && hi - lo == MSB_STORE_SUB_PAGE_SIZE - 1);
			FUZZ_CHECK(lo / MSB_STORE_SUB_PAGE_SIZE == req->subpageno);
		} else {
			fuzz_check_refusal(error);
		}
	} else if (desc == &persistence__delete_topic_grpc_request__descriptor) {
		fuzz_topic(((const Persistence__DeleteTopicGrpcRequest *)msg)->topicid);
	} else if (desc == &persistence__restore_topic_grpc_request__descriptor) {
		fuzz_topic(((const Persistence__RestoreTopicGrpcRequest *)msg)->topicid);
	} else if (desc == &persistence__save_queue_snapshot_grpc_request__descriptor) {
		const Persistence__SaveQueueSnapshotGrpcRequest *snap = (const void *)msg;

		if (msb_persistence_request_check_snapshot(snap, &error)) {
			for (gsize i = 0; i < snap->n_queuesnapshot; i++) {
				FUZZ_CHECK(snap->queuesnapshot[i]->topicid[0] != '\0');
				FUZZ_CHECK(snap->queuesnapshot[i]->messageid >= 0);
			}
		} else {
			fuzz_check_refusal(error);
		}
	}
}

/* The upload chain of the service: chunks joined, then msb_persistence_request_decode_upload(),
 * then the store messages the service builds from each batch. */
static void
fuzz_upload(const guint8 *p, const guint8 *end, gboolean compressed)
{
	g_autoptr(GByteArray) acc = g_byte_array_new();
	g_autoptr(GPtrArray) batches = NULL;
	g_autoptr(GError) error = NULL;

	while (end - p >= 2) {
		gsize n = fuzz_take_u16(&p, end);
		ProtobufCMessage *msg;
		const Persistence__CompressedMessageChunkModel *chunk;
		g_autoptr(GError) chunk_error = NULL;
		gboolean ok;

		n = MIN(n, (gsize)(end - p));
		msg = fuzz_unpack(&persistence__compressed_message_chunk_model__descriptor, p, n);
		chunk = (const void *)msg;
		p += n;
		if (msg == NULL)
			return;
		FUZZ_CHECK(chunk->chunk.data != NULL || chunk->chunk.len == 0);
		ok = msb_chunks_append(acc, chunk->chunk.data, chunk->chunk.len, FUZZ_MAX_UPLOAD,
		                       &chunk_error);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (!ok) {
			FUZZ_CHECK(g_error_matches(chunk_error, MSB_ZIP_ERROR,
			                           MSB_ZIP_ERROR_TOO_LARGE));
			return;
		}
	}
	if (acc->len == 0)
		return;
	batches = msb_persistence_request_decode_upload(acc->data, acc->len, compressed,
	                                                FUZZ_MAX_UPLOAD, &error);
	if (batches == NULL) {
		FUZZ_CHECK(error != NULL);
		FUZZ_CHECK(error->domain == MSB_PERSISTENCE_REQUEST_ERROR ||
		           error->domain == MSB_ZIP_ERROR ||
		           error->domain == MSB_MESSAGE_CODEC_ERROR);
		return;
	}
	FUZZ_CHECK(error == NULL && batches->len >= 1);
	for (guint b = 0; b < batches->len; b++) {
		const MsbMessageBatch *batch = g_ptr_array_index(batches, b);

		FUZZ_CHECK(msb_store_topic_name_is_valid(batch->topic_id));
		for (gsize i = 0; i < batch->n_messages; i++) {
			const MsbPersistMessage *pm = &batch->messages[i];
			g_autoptr(GBytes) content = g_bytes_new(pm->content, pm->content_len);
			g_autoptr(MsbStoreMessage) m =
			        msb_store_message_new(pm->id, pm->created_us, content);

			for (gsize j = 0; j < pm->n_headers; j++)
				msb_store_message_add_header(
				        m, pm->headers[j].key != NULL ? pm->headers[j].key : "",
				        pm->headers[j].value != NULL ? pm->headers[j].value : "");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	guint sel;
	ProtobufCMessage *msg;

	if (size < 1)
		return 0;
	sel = data[0] % G_N_ELEMENTS(fuzz_requests);
	if (sel >= 8) {
		fuzz_upload(data + 1, data + size, sel == 8);
		return 0;
	}
	msg = fuzz_unpack(fuzz_requests[sel], data + 1, size - 1);
	if (msg == NULL)
		return 0;
	fuzz_request(msg);
	protobuf_c_message_free_unpacked(msg, NULL);
	return 0;
}
