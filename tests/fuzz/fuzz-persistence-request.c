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
fuzz_topic(const gchar *topic)
{
	/* what msb_check_topic() in the service relies on */
	FUZZ_CHECK(topic != NULL);
	if (msb_store_topic_name_is_valid(topic))
		FUZZ_CHECK(strlen(topic) >= 3 && strlen(topic) <= 63);
}

static void
fuzz_request(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;

	if (desc == &persistence__get_message_grpc_request__descriptor) {
		fuzz_topic(((const Persistence__GetMessageGrpcRequest *)msg)->topicid);
	} else if (desc == &persistence__get_page_grpc_request__descriptor) {
		fuzz_topic(((const Persistence__GetPageGrpcRequest *)msg)->topicid);
	} else if (desc == &persistence__get_sub_page_grpc_request__descriptor) {
		fuzz_topic(((const Persistence__GetSubPageGrpcRequest *)msg)->topicid);
	} else if (desc == &persistence__delete_topic_grpc_request__descriptor) {
		fuzz_topic(((const Persistence__DeleteTopicGrpcRequest *)msg)->topicid);
	} else if (desc == &persistence__restore_topic_grpc_request__descriptor) {
		fuzz_topic(((const Persistence__RestoreTopicGrpcRequest *)msg)->topicid);
	} else if (desc == &persistence__save_queue_snapshot_grpc_request__descriptor) {
		const Persistence__SaveQueueSnapshotGrpcRequest *snap = (const void *)msg;
		for (gsize i = 0; i < snap->n_queuesnapshot; i++) {
			const Persistence__TopicAndQueuesSnapshotGrpcModel *rec =
			        snap->queuesnapshot[i];
			FUZZ_CHECK(rec != NULL && rec->topicid != NULL);
			(void)g_utf8_validate(rec->topicid, -1, NULL);
			for (gsize j = 0; j < rec->n_queuesnapshots; j++) {
				FUZZ_CHECK(rec->queuesnapshots[j] != NULL &&
				           rec->queuesnapshots[j]->queueid != NULL);
				(void)g_utf8_validate(rec->queuesnapshots[j]->queueid, -1, NULL);
				for (gsize k = 0; k < rec->queuesnapshots[j]->n_ranges; k++)
					FUZZ_CHECK(rec->queuesnapshots[j]->ranges[k] != NULL);
			}
		}
	}
}

/* One payload as the service decodes it, and the store messages it would build. */
static void
fuzz_payload(const guint8 *data, gsize len)
{
	g_autoptr(MsbMessageBatch) batch = NULL;
	g_autoptr(GError) error = NULL;

	batch = msb_message_codec_decode_upload(data, len, FUZZ_MAX_UPLOAD, &error);
	if (batch == NULL) {
		FUZZ_CHECK(error != NULL && error->domain == MSB_MESSAGE_CODEC_ERROR);
		return;
	}
	FUZZ_CHECK(batch->topic_id != NULL);
	fuzz_topic(batch->topic_id);
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

static void
fuzz_upload(const guint8 *p, const guint8 *end, gboolean compressed)
{
	g_autoptr(GByteArray) acc = g_byte_array_new();

	while (end - p >= 2) {
		gsize n = fuzz_take_u16(&p, end);
		ProtobufCMessage *msg;
		const Persistence__CompressedMessageChunkModel *chunk;
		g_autoptr(GError) error = NULL;
		gboolean ok;

		n = MIN(n, (gsize)(end - p));
		msg = fuzz_unpack(&persistence__compressed_message_chunk_model__descriptor, p, n);
		chunk = (const void *)msg;

		p += n;
		if (msg == NULL)
			return;
		FUZZ_CHECK(chunk->chunk.data != NULL || chunk->chunk.len == 0);
		ok = msb_chunks_append(acc, chunk->chunk.data, chunk->chunk.len, FUZZ_MAX_UPLOAD,
		                       &error);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (!ok) {
			FUZZ_CHECK(g_error_matches(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE));
			return;
		}
	}
	if (acc->len == 0)
		return;
	if (compressed) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) entries =
		        msb_zip_unpack(acc->data, acc->len, FUZZ_MAX_UPLOAD, &error);

		if (entries == NULL) {
			FUZZ_CHECK(error != NULL && error->domain == MSB_ZIP_ERROR);
			return;
		}
		for (guint i = 0; i < entries->len; i++) {
			const MsbZipEntry *e = g_ptr_array_index(entries, i);
			gsize len = 0;
			const guint8 *d = g_bytes_get_data(e->data, &len);
			fuzz_payload(d, len);
		}
	} else {
		fuzz_payload(acc->data, acc->len);
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
