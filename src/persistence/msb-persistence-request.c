/*
 * The checks on decoded G3 requests and the upload decoding: see msb-persistence-request.h. The
 * messages name the field and what was expected, since they reach the broker's log as the
 * status details.
 */
#define G_LOG_DOMAIN "msb-persistence-request"

#include "msb-persistence-request.h"

#include "msb-message-codec.h"
#include "msb-store.h"
#include "msb-zip.h"

/* clang-format off */
G_DEFINE_QUARK(msb-persistence-request-error-quark, msb_persistence_request_error)
/* clang-format on */

gboolean
msb_persistence_request_check_topic(const gchar *topic, GError **error)
{
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (topic == NULL || topic[0] == '\0') {
		g_set_error_literal(error, MSB_PERSISTENCE_REQUEST_ERROR,
		                    MSB_PERSISTENCE_REQUEST_ERROR_INVALID, "TopicId is empty");
		return FALSE;
	}
	if (!msb_store_topic_name_is_valid(topic)) {
		g_autofree gchar *shown = g_utf8_make_valid(topic, -1);
		g_set_error(error, MSB_PERSISTENCE_REQUEST_ERROR,
		            MSB_PERSISTENCE_REQUEST_ERROR_INVALID,
		            "Invalid TopicId \"%s\": a topic name has 3 to 63 characters from "
		            "a-z, 0-9 and -",
		            shown);
		return FALSE;
	}
	return TRUE;
}

gboolean
msb_persistence_request_page_range(const Persistence__GetPageGrpcRequest *req, gint64 *lo,
                                   gint64 *hi, GError **error)
{
	gint64 first;
	gint64 last;

	g_return_val_if_fail(req != NULL && lo != NULL && hi != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (req->pageno < 0 || req->pageno > G_MAXINT64 / MSB_STORE_PAGE_SIZE - 1) {
		g_set_error(error, MSB_PERSISTENCE_REQUEST_ERROR,
		            MSB_PERSISTENCE_REQUEST_ERROR_INVALID,
		            "PageNo %" G_GINT64_FORMAT " is out of range (expected 0 or more)",
		            req->pageno);
		return FALSE;
	}
	first = req->pageno * MSB_STORE_PAGE_SIZE;
	last = first + MSB_STORE_PAGE_SIZE - 1;
	if ((req->frommessageid == 0 && req->tomessageid == 0) ||
	    req->frommessageid > req->tomessageid) {
		*lo = first;
		*hi = last;
		return TRUE;
	}
	*lo = MAX(req->frommessageid, first);
	*hi = MIN(req->tomessageid, last);
	return TRUE;
}

gboolean
msb_persistence_request_sub_page_range(gint64 sub_page_no, gint64 *lo, gint64 *hi, GError **error)
{
	g_return_val_if_fail(lo != NULL && hi != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (sub_page_no < 0 || sub_page_no > G_MAXINT64 / MSB_STORE_SUB_PAGE_SIZE - 1) {
		g_set_error(error, MSB_PERSISTENCE_REQUEST_ERROR,
		            MSB_PERSISTENCE_REQUEST_ERROR_INVALID,
		            "SubPageNo %" G_GINT64_FORMAT " is out of range (expected 0 or more)",
		            sub_page_no);
		return FALSE;
	}
	*lo = sub_page_no * MSB_STORE_SUB_PAGE_SIZE;
	*hi = *lo + MSB_STORE_SUB_PAGE_SIZE - 1;
	return TRUE;
}

gboolean
msb_persistence_request_check_snapshot(const Persistence__SaveQueueSnapshotGrpcRequest *snap,
                                       GError **error)
{
	g_return_val_if_fail(snap != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	for (gsize i = 0; i < snap->n_queuesnapshot; i++) {
		const Persistence__TopicAndQueuesSnapshotGrpcModel *rec = snap->queuesnapshot[i];

		if (rec->topicid == NULL || rec->topicid[0] == '\0') {
			g_set_error(error, MSB_PERSISTENCE_REQUEST_ERROR,
			            MSB_PERSISTENCE_REQUEST_ERROR_INVALID,
			            "snapshot record %" G_GSIZE_FORMAT ": TopicId is empty", i);
			return FALSE;
		}
		if (!g_utf8_validate(rec->topicid, -1, NULL)) {
			g_set_error(error, MSB_PERSISTENCE_REQUEST_ERROR,
			            MSB_PERSISTENCE_REQUEST_ERROR_INVALID,
			            "snapshot record %" G_GSIZE_FORMAT
			            ": TopicId is not valid UTF-8",
			            i);
			return FALSE;
		}
		if (rec->messageid < 0) {
			g_set_error(error, MSB_PERSISTENCE_REQUEST_ERROR,
			            MSB_PERSISTENCE_REQUEST_ERROR_INVALID,
			            "snapshot record %" G_GSIZE_FORMAT
			            " (topic %s): MessageId %" G_GINT64_FORMAT " is negative",
			            i, rec->topicid, rec->messageid);
			return FALSE;
		}
		for (gsize j = 0; j < rec->n_queuesnapshots; j++) {
			const gchar *queue = rec->queuesnapshots[j]->queueid;

			if (queue != NULL && !g_utf8_validate(queue, -1, NULL)) {
				g_set_error(error, MSB_PERSISTENCE_REQUEST_ERROR,
				            MSB_PERSISTENCE_REQUEST_ERROR_INVALID,
				            "snapshot record %" G_GSIZE_FORMAT
				            " (topic %s): queue %" G_GSIZE_FORMAT
				            ": QueueId is not valid UTF-8",
				            i, rec->topicid, j);
				return FALSE;
			}
		}
	}
	return TRUE;
}

/* One NewMessagesPayloadModel, with its TopicId checked; @where names it in messages. */
static MsbMessageBatch *
msb_decode_payload(const guint8 *data, gsize len, gsize max, const gchar *where, GError **error)
{
	g_autoptr(MsbMessageBatch) batch = NULL;

	batch = msb_message_codec_decode_upload(data, len, max, error);
	if (batch == NULL) {
		g_prefix_error(
		        error,
		        "%s is not a NewMessagesPayloadModel {1 TopicId, 2 messages}: ", where);
		return NULL;
	}
	if (!msb_persistence_request_check_topic(batch->topic_id, error))
		return NULL;
	return g_steal_pointer(&batch);
}

GPtrArray *
msb_persistence_request_decode_upload(const guint8 *data, gsize len, gboolean compressed, gsize max,
                                      GError **error)
{
	g_autoptr(GPtrArray) batches =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_message_batch_free);
	g_autoptr(GPtrArray) entries = NULL;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!compressed) {
		MsbMessageBatch *batch = msb_decode_payload(data, len, max, "the upload", error);
		if (batch == NULL)
			return NULL;
		g_ptr_array_add(batches, batch);
		return g_steal_pointer(&batches);
	}
	entries = msb_zip_unpack(data, len, max, error);
	if (entries == NULL) {
		g_prefix_error(
		        error,
		        "the upload (%" G_GSIZE_FORMAT " bytes) is not a valid ZIP archive: ", len);
		return NULL;
	}
	if (entries->len == 0) {
		g_set_error_literal(error, MSB_PERSISTENCE_REQUEST_ERROR,
		                    MSB_PERSISTENCE_REQUEST_ERROR_INVALID,
		                    "the upload is a ZIP archive without entries");
		return NULL;
	}
	/* G3 brokers send one entry "d"; any other layout is accepted as long as every entry
	 * holds an upload payload of its own */
	for (guint i = 0; i < entries->len; i++) {
		const MsbZipEntry *entry = g_ptr_array_index(entries, i);
		g_autofree gchar *where = g_strdup_printf("ZIP entry \"%s\"", entry->name);
		gsize n = 0;
		const guint8 *d = g_bytes_get_data(entry->data, &n);
		MsbMessageBatch *batch = msb_decode_payload(d, n, max, where, error);

		if (batch == NULL)
			return NULL;
		g_ptr_array_add(batches, batch);
	}
	return g_steal_pointer(&batches);
}
