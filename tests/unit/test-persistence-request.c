/*
 * The persistence service's checks on decoded G3 requests (msb-persistence-request.c): topic
 * names, the page and sub-page ranges at the edges of gint64, snapshot records, and uploads in
 * both forms, with the messages the broker's log will show.
 */
#include <string.h>

#include "msb-message-codec.h"
#include "msb-persistence-request.h"
#include "msb-zip.h"

static void
assert_invalid(const GError *error, const gchar *needle)
{
	g_assert_error(error, MSB_PERSISTENCE_REQUEST_ERROR, MSB_PERSISTENCE_REQUEST_ERROR_INVALID);
	if (strstr(error->message, needle) == NULL)
		g_error("\"%s\" does not contain \"%s\"", error->message, needle);
}

static void
test_topic(void)
{
	const gchar *bad[] = {"", "ab", "Orders", "a b", "x/../y", "\xff\xfe\xfd"};

	g_assert_true(msb_persistence_request_check_topic("orders-1", NULL));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(msb_persistence_request_check_topic(bad[i], &error));
		assert_invalid(error, bad[i][0] == '\0' ? "TopicId is empty" : "Invalid TopicId");
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_false(msb_persistence_request_check_topic(NULL, &error));
		assert_invalid(error, "TopicId is empty");
	}
}

static void
test_page_range(void)
{
	Persistence__GetPageGrpcRequest req = PERSISTENCE__GET_PAGE_GRPC_REQUEST__INIT;
	gint64 lo = 0;
	gint64 hi = 0;

	req.pageno = 2;
	g_assert_true(msb_persistence_request_page_range(&req, &lo, &hi, NULL));
	g_assert_cmpint(lo, ==, 200000);
	g_assert_cmpint(hi, ==, 299999);
	/* reversed: the whole page, as the Rust service */
	req.frommessageid = 250000;
	req.tomessageid = 240000;
	g_assert_true(msb_persistence_request_page_range(&req, &lo, &hi, NULL));
	g_assert_cmpint(lo, ==, 200000);
	g_assert_cmpint(hi, ==, 299999);
	/* clamped to the page */
	req.frommessageid = 1;
	req.tomessageid = G_MAXINT64;
	g_assert_true(msb_persistence_request_page_range(&req, &lo, &hi, NULL));
	g_assert_cmpint(lo, ==, 200000);
	g_assert_cmpint(hi, ==, 299999);
	/* the last page whose ids fit in gint64, and the first that does not */
	req.frommessageid = 0;
	req.tomessageid = 0;
	req.pageno = G_MAXINT64 / 100000 - 1;
	g_assert_true(msb_persistence_request_page_range(&req, &lo, &hi, NULL));
	g_assert_cmpint(hi, ==, req.pageno * 100000 + 99999);
	for (guint i = 0; i < 3; i++) {
		g_autoptr(GError) error = NULL;
		req.pageno = i == 0 ? -1 : i == 1 ? G_MAXINT64 / 100000 : G_MAXINT64;
		g_assert_false(msb_persistence_request_page_range(&req, &lo, &hi, &error));
		assert_invalid(error, "PageNo");
	}
}

static void
test_sub_page_range(void)
{
	gint64 lo = 0;
	gint64 hi = 0;
	const gint64 bad[] = {-1, G_MAXINT64 / 1000, G_MAXINT64, G_MININT64};

	g_assert_true(msb_persistence_request_sub_page_range(7, &lo, &hi, NULL));
	g_assert_cmpint(lo, ==, 7000);
	g_assert_cmpint(hi, ==, 7999);
	g_assert_true(
	        msb_persistence_request_sub_page_range(G_MAXINT64 / 1000 - 1, &lo, &hi, NULL));
	g_assert_cmpint(hi, ==, (G_MAXINT64 / 1000 - 1) * 1000 + 999);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(msb_persistence_request_sub_page_range(bad[i], &lo, &hi, &error));
		assert_invalid(error, "SubPageNo");
	}
}

static void
test_snapshot(void)
{
	Persistence__SaveQueueSnapshotGrpcRequest snap =
	        PERSISTENCE__SAVE_QUEUE_SNAPSHOT_GRPC_REQUEST__INIT;
	Persistence__TopicAndQueuesSnapshotGrpcModel rec =
	        PERSISTENCE__TOPIC_AND_QUEUES_SNAPSHOT_GRPC_MODEL__INIT;
	Persistence__QueueSnapshotGrpcModel queue = PERSISTENCE__QUEUE_SNAPSHOT_GRPC_MODEL__INIT;
	Persistence__TopicAndQueuesSnapshotGrpcModel *recs[] = {&rec};
	Persistence__QueueSnapshotGrpcModel *queues[] = {&queue};
	g_autoptr(GError) error = NULL;

	/* no record at all is a valid (empty) snapshot */
	g_assert_true(msb_persistence_request_check_snapshot(&snap, NULL));
	snap.n_queuesnapshot = 1;
	snap.queuesnapshot = recs;
	rec.topicid = (gchar *)"orders";
	rec.messageid = 5;
	rec.n_queuesnapshots = 1;
	rec.queuesnapshots = queues;
	queue.queueid = (gchar *)"billing";
	g_assert_true(msb_persistence_request_check_snapshot(&snap, NULL));

	queue.queueid = (gchar *)"bad \xff";
	g_assert_false(msb_persistence_request_check_snapshot(&snap, &error));
	assert_invalid(error, "QueueId is not valid UTF-8");
	g_clear_error(&error);
	queue.queueid = (gchar *)"billing";
	rec.messageid = -1;
	g_assert_false(msb_persistence_request_check_snapshot(&snap, &error));
	assert_invalid(error, "MessageId -1 is negative");
	g_clear_error(&error);
	rec.messageid = 0;
	rec.topicid = (gchar *)"";
	g_assert_false(msb_persistence_request_check_snapshot(&snap, &error));
	assert_invalid(error, "snapshot record 0: TopicId is empty");
}

static GBytes *
upload_payload(const gchar *topic)
{
	static const guint8 content[] = {'h', 'i'};
	MsbPersistMessage m = {.id = 42, .created_us = 1, .content = content, .content_len = 2};

	return msb_message_codec_encode_upload(topic, &m, 1);
}

static void
test_upload(void)
{
	g_autoptr(GBytes) payload = upload_payload("orders");
	g_autoptr(GBytes) bad_topic = upload_payload("Orders!");
	g_autoptr(GBytes) zip = NULL;
	g_autoptr(GBytes) empty_zip = NULL;
	g_autoptr(GBytes) bad_zip = NULL;
	g_autoptr(GPtrArray) batches = NULL;
	g_autoptr(MsbZipWriter) writer = msb_zip_writer_new(-1);
	g_autoptr(MsbZipWriter) empty_writer = msb_zip_writer_new(-1);
	g_autoptr(MsbZipWriter) bad_writer = msb_zip_writer_new(-1);
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *data;

	/* uncompressed */
	data = g_bytes_get_data(payload, &len);
	batches = msb_persistence_request_decode_upload(data, len, FALSE, 1024, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(batches->len, ==, 1);
	g_assert_cmpstr(((MsbMessageBatch *)g_ptr_array_index(batches, 0))->topic_id, ==, "orders");
	g_clear_pointer(&batches, g_ptr_array_unref);

	/* a ZIP with two entries, each a payload */
	g_assert_true(msb_zip_writer_add(writer, "d", data, len, NULL));
	g_assert_true(msb_zip_writer_add(writer, "e", data, len, NULL));
	zip = msb_zip_writer_finish(writer, NULL);
	data = g_bytes_get_data(zip, &len);
	batches = msb_persistence_request_decode_upload(data, len, TRUE, 1024, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(batches->len, ==, 2);
	g_clear_pointer(&batches, g_ptr_array_unref);

	/* the same bytes uncompressed are not a payload */
	g_assert_null(msb_persistence_request_decode_upload(data, len, FALSE, 1024, &error));
	g_assert_true(error->domain == MSB_MESSAGE_CODEC_ERROR);
	g_assert_nonnull(strstr(error->message, "the upload is not a NewMessagesPayloadModel"));
	g_clear_error(&error);

	/* a payload is not a ZIP */
	data = g_bytes_get_data(payload, &len);
	g_assert_null(msb_persistence_request_decode_upload(data, len, TRUE, 1024, &error));
	g_assert_true(error->domain == MSB_ZIP_ERROR);
	g_assert_nonnull(strstr(error->message, "is not a valid ZIP archive"));
	g_clear_error(&error);

	/* a ZIP without entries */
	empty_zip = msb_zip_writer_finish(empty_writer, NULL);
	data = g_bytes_get_data(empty_zip, &len);
	g_assert_null(msb_persistence_request_decode_upload(data, len, TRUE, 1024, &error));
	assert_invalid(error, "a ZIP archive without entries");
	g_clear_error(&error);

	/* an entry naming a topic that cannot exist */
	data = g_bytes_get_data(bad_topic, &len);
	g_assert_null(msb_persistence_request_decode_upload(data, len, FALSE, 1024, &error));
	assert_invalid(error, "Invalid TopicId \"Orders!\"");
	g_clear_error(&error);
	g_assert_true(msb_zip_writer_add(bad_writer, "d", data, len, NULL));
	bad_zip = msb_zip_writer_finish(bad_writer, NULL);
	data = g_bytes_get_data(bad_zip, &len);
	g_assert_null(msb_persistence_request_decode_upload(data, len, TRUE, 1024, &error));
	assert_invalid(error, "Invalid TopicId");
	g_clear_error(&error);

	/* above the ceiling */
	data = g_bytes_get_data(payload, &len);
	g_assert_null(msb_persistence_request_decode_upload(data, len, FALSE, len - 1, &error));
	g_assert_error(error, MSB_MESSAGE_CODEC_ERROR, MSB_MESSAGE_CODEC_ERROR_TOO_LARGE);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/persistence-request/topic", test_topic);
	g_test_add_func("/persistence-request/page-range", test_page_range);
	g_test_add_func("/persistence-request/sub-page-range", test_sub_page_range);
	g_test_add_func("/persistence-request/snapshot", test_snapshot);
	g_test_add_func("/persistence-request/upload", test_upload);
	return g_test_run();
}
