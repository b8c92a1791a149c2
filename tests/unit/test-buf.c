/*
 * MsbBuf: appends are little-endian, growth keeps content, consume/compact keep unread bytes.
 */
#include "msb-buf.h"

static void
test_buf_le(void)
{
	MsbBuf buf;
	const guint8 expect[] = {0x07, 0x01, 0x00, 0x00, 0x00, 0xfe, 0xff,
	                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	msb_buf_init(&buf, 0);
	msb_buf_put_u8(&buf, 7);
	msb_buf_put_i32(&buf, 1);
	msb_buf_put_i64(&buf, -2);
	g_assert_cmpmem(buf.data, buf.len, expect, sizeof(expect));
	msb_buf_patch_i32(&buf, 1, 0x01020304);
	g_assert_cmpint(buf.data[1], ==, 0x04);
	g_assert_cmpint(buf.data[4], ==, 0x01);
	msb_buf_clear(&buf);
}

static void
test_buf_grow_consume(void)
{
	MsbBuf buf;

	msb_buf_init(&buf, 4);
	for (guint i = 0; i < 100000; i++)
		msb_buf_put_u8(&buf, (guint8)i);
	g_assert_cmpuint(msb_buf_pending(&buf), ==, 100000);
	msb_buf_consume(&buf, 99990);
	g_assert_cmpuint(msb_buf_pending(&buf), ==, 10);
	g_assert_cmpuint(msb_buf_head(&buf)[0], ==, (guint8)99990);
	msb_buf_compact(&buf);
	g_assert_cmpuint(buf.off, ==, 0);
	g_assert_cmpuint(buf.data[9], ==, (guint8)99999);
	msb_buf_shrink(&buf, 64);
	g_assert_cmpuint(buf.cap, ==, 64);
	g_assert_cmpuint(buf.data[9], ==, (guint8)99999);
	msb_buf_consume(&buf, 10);
	g_assert_cmpuint(buf.len, ==, 0);
	msb_buf_clear(&buf);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/buf/little-endian", test_buf_le);
	g_test_add_func("/buf/grow-consume", test_buf_grow_consume);
	return g_test_run();
}
