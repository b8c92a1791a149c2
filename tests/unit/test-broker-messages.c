/*
 * msb_broker_read_messages(), the message browser's read of a topic: copies from memory in id
 * order with decoded headers, pages by limit, gaps skipped in memory and reported with
 * persistence.
 */
#include <string.h>

#include "broker-fixture.h"
#include "msb-broker-messages.h"

static MsbMessageCopy *
msg_at(MsbMessagesRead *r, guint i)
{
	g_assert_cmpuint(r->messages->len, >, i);
	return g_ptr_array_index(r->messages, i);
}

static void
assert_text(MsbMessageCopy *m, const gchar *text)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(m->content, &len);
	g_assert_cmpmem(data, len, text, strlen(text));
}

static void
test_read_memory(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 0);
	Client *pub = client_new(fx, 3, 0);
	const MsbWireHeader hdr = {"trace-id", "abc"};
	MsbBuf hbuf;
	g_autoptr(GBytes) block = NULL;
	const GBytes *headers[2];
	const guint8 *contents[2] = {(const guint8 *)"zero", (const guint8 *)"one"};
	const gsize lens[2] = {4, 3};
	const gchar *const more[] = {"two", "three", "four", NULL};
	MsbMessagesRead r;
	g_autoptr(GError) error = NULL;

	msb_buf_init(&hbuf, 0);
	g_assert_true(msb_wire_put_headers(&hbuf, &hdr, 1, NULL));
	block = g_bytes_new(msb_buf_head(&hbuf), msb_buf_pending(&hbuf));
	msb_buf_clear(&hbuf);
	headers[0] = block;
	headers[1] = NULL;

	make_topic(fx, "orders");
	/* a queue that holds them: in memory, what no queue needs is collected */
	c_subscribe(sub, "orders", "q", MSB_QUEUE_TYPE_PERMANENT);
	c_publish_raw(pub, "orders", 1, 2, headers, contents, lens);
	expect_response(pub, 1);
	c_publish(pub, "orders", more);

	g_assert_true(msb_broker_read_messages(fx->broker, "orders", 0, 3, FALSE, &r, &error));
	g_assert_no_error(error);
	g_assert_cmpint(r.next_id, ==, 5);
	g_assert_cmpint(r.min_id, ==, 0);
	g_assert_cmpuint(r.messages->len, ==, 3);
	g_assert_cmpint(r.gap_id, ==, -1);
	g_assert_cmpint(r.scanned_to, ==, 3);
	for (guint i = 0; i < 3; i++)
		g_assert_cmpint(msg_at(&r, i)->id, ==, i);
	assert_text(msg_at(&r, 0), "zero");
	assert_text(msg_at(&r, 2), "two");
	g_assert_cmpuint(msg_at(&r, 0)->headers->len, ==, 1);
	g_assert_cmpstr(g_array_index(msg_at(&r, 0)->headers, MsbMessageHeaderCopy, 0).key, ==,
	                "trace-id");
	g_assert_cmpstr(g_array_index(msg_at(&r, 0)->headers, MsbMessageHeaderCopy, 0).value, ==,
	                "abc");
	g_assert_cmpuint(msg_at(&r, 2)->headers->len, ==, 0);
	g_assert_cmpint(msg_at(&r, 0)->created_us, ==, fx->wall);
	msb_messages_read_clear(&r);

	/* the rest, then nothing past the end */
	g_assert_true(msb_broker_read_messages(fx->broker, "orders", 3, 100, FALSE, &r, NULL));
	g_assert_cmpuint(r.messages->len, ==, 2);
	assert_text(msg_at(&r, 1), "four");
	g_assert_cmpint(r.scanned_to, ==, 5);
	msb_messages_read_clear(&r);
	g_assert_true(msb_broker_read_messages(fx->broker, "orders", 9, 100, FALSE, &r, NULL));
	g_assert_cmpuint(r.messages->len, ==, 0);
	msb_messages_read_clear(&r);

	g_assert_false(msb_broker_read_messages(fx->broker, "nope", 0, 10, FALSE, &r, &error));
	g_assert_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND);
}

/* Restored from a snapshot: nothing in memory. With persistence the first id not held is the
 * gap; published ones after it are in memory. */
static void
test_read_gap(void)
{
	MsbBrokerConfig config = default_config();
	g_autoptr(Fixture) fx = NULL;
	Client *pub;
	MsbMessagesRead r;
	g_autoptr(GError) error = NULL;

	config.persistence = TRUE;
	fx = fixture_new_with(&config);
	g_assert_nonnull(msb_broker_restore_topic(fx->broker, "orders", 2500, 2499, TRUE, &error));
	g_assert_no_error(error);
	pub = client_new(fx, 3, 0);
	/* stored at once; the answer waits for a snapshot that reserves the id */
	c_publish1(pub, "orders", "new");

	g_assert_true(msb_broker_read_messages(fx->broker, "orders", 0, 20, TRUE, &r, NULL));
	g_assert_cmpuint(r.messages->len, ==, 0);
	g_assert_cmpint(r.gap_id, ==, 0);
	g_assert_cmpint(r.min_id, ==, 2500);
	g_assert_cmpint(r.next_id, ==, 2501);
	msb_messages_read_clear(&r);

	/* inside the sub-page of the new message, below it: a gap too */
	g_assert_true(msb_broker_read_messages(fx->broker, "orders", 2100, 20, TRUE, &r, NULL));
	g_assert_cmpint(r.gap_id, ==, 2100);
	msb_messages_read_clear(&r);

	/* without stop_at_gap (memory only), the missing ones are skipped */
	g_assert_true(msb_broker_read_messages(fx->broker, "orders", 0, 20, FALSE, &r, NULL));
	g_assert_cmpuint(r.messages->len, ==, 1);
	g_assert_cmpint(msg_at(&r, 0)->id, ==, 2500);
	assert_text(msg_at(&r, 0), "new");
	g_assert_cmpint(r.gap_id, ==, -1);
	g_assert_cmpint(r.scanned_to, ==, 2501);
	msb_messages_read_clear(&r);

	g_assert_true(msb_broker_read_messages(fx->broker, "orders", 2500, 20, TRUE, &r, NULL));
	g_assert_cmpuint(r.messages->len, ==, 1);
	g_assert_cmpint(r.gap_id, ==, -1);
	msb_messages_read_clear(&r);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/broker-messages/memory", test_read_memory);
	g_test_add_func("/broker-messages/gap", test_read_gap);
	return g_test_run();
}
