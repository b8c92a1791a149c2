/*
 * MsbRate and MsbHistory: the per-second counters of the status page, rolled forward lazily
 * (seconds nobody looked at are filled in with 0), at most MSB_HISTORY_LEN seconds kept, memory
 * given back once only zeros are left.
 */
#include "msb-history.h"

static void
test_rate(void)
{
	MsbRate rate = {0};

	g_assert_cmpint(msb_rate_get(&rate, 100), ==, 0);
	msb_rate_add(&rate, 100, 3);
	msb_rate_add(&rate, 100, 4);
	/* the second being counted is not shown yet */
	g_assert_cmpint(msb_rate_get(&rate, 100), ==, 0);
	g_assert_cmpint(msb_rate_get(&rate, 101), ==, 7);
	/* two seconds later that second is not the last one any more */
	g_assert_cmpint(msb_rate_get(&rate, 102), ==, 0);
	msb_rate_add(&rate, 101, 5);
	g_assert_cmpint(msb_rate_get(&rate, 101), ==, 7);
	g_assert_cmpint(msb_rate_get(&rate, 102), ==, 5);
	/* a gap: the last whole second had nothing */
	msb_rate_add(&rate, 105, 1);
	g_assert_cmpint(msb_rate_get(&rate, 105), ==, 0);
	g_assert_cmpint(msb_rate_get(&rate, 106), ==, 1);
	/* an older "now" counts into the current second */
	msb_rate_add(&rate, 104, 1);
	g_assert_cmpint(msb_rate_get(&rate, 106), ==, 2);
}

static void
test_second(void)
{
	g_assert_cmpint(msb_history_second(0), ==, 0);
	g_assert_cmpint(msb_history_second(999999), ==, 0);
	g_assert_cmpint(msb_history_second(1000000), ==, 1);
	g_assert_cmpint(msb_history_second(-1), ==, -1);
	g_assert_cmpint(msb_history_second(-1000000), ==, -1);
	g_assert_cmpint(msb_history_second(-1000001), ==, -2);
}

static void
test_history_lazy(void)
{
	MsbHistory h = {0};
	gint32 out[MSB_HISTORY_LEN];

	/* nothing but zeros: no memory, no values */
	g_assert_true(msb_history_roll(&h, 1000, 0));
	g_assert_false(msb_history_roll(&h, 1000, 0));
	g_assert_true(msb_history_roll(&h, 1010, 0));
	g_assert_null(h.values);
	g_assert_cmpuint(msb_history_copy(&h, out), ==, 0);

	/* second 1010 closes with 5, 1011 and 1012 were empty */
	g_assert_true(msb_history_roll(&h, 1013, 5));
	g_assert_nonnull(h.values);
	g_assert_cmpuint(msb_history_copy(&h, out), ==, 3);
	g_assert_cmpint(out[0], ==, 5);
	g_assert_cmpint(out[1], ==, 0);
	g_assert_cmpint(out[2], ==, 0);
	/* an older second changes nothing */
	g_assert_false(msb_history_roll(&h, 1012, 9));
	g_assert_cmpuint(msb_history_copy(&h, out), ==, 3);
	g_assert_true(msb_history_roll(&h, 1014, -7));
	g_assert_cmpuint(msb_history_copy(&h, out), ==, 4);
	g_assert_cmpint(out[3], ==, -7);
	msb_history_clear(&h);
}

static void
test_history_wraps(void)
{
	MsbHistory h = {0};
	gint32 out[MSB_HISTORY_LEN];
	guint n;

	for (gint i = 1; i <= 300; i++)
		g_assert_true(msb_history_roll(&h, i + 1, i));
	n = msb_history_copy(&h, out);
	g_assert_cmpuint(n, ==, MSB_HISTORY_LEN);
	/* the last 120 seconds, oldest first */
	for (guint i = 0; i < n; i++)
		g_assert_cmpint(out[i], ==, 300 - MSB_HISTORY_LEN + 1 + (gint)i);

	/* a long gap pushes at most the ring's length of zeros */
	g_assert_true(msb_history_roll(&h, 301 + 50, 1));
	n = msb_history_copy(&h, out);
	g_assert_cmpuint(n, ==, MSB_HISTORY_LEN);
	g_assert_cmpint(out[MSB_HISTORY_LEN - 50], ==, 1);
	for (guint i = MSB_HISTORY_LEN - 49; i < n; i++)
		g_assert_cmpint(out[i], ==, 0);
	g_assert_cmpint(out[MSB_HISTORY_LEN - 51], ==, 300);

	/* two minutes of nothing: only zeros would be left, so the memory goes */
	g_assert_true(msb_history_roll(&h, 351 + MSB_HISTORY_LEN, 0));
	g_assert_null(h.values);
	g_assert_cmpuint(msb_history_copy(&h, out), ==, 0);
	msb_history_clear(&h);
}

static void
test_history_just_inside(void)
{
	MsbHistory h = {0};
	gint32 out[MSB_HISTORY_LEN];

	msb_history_roll(&h, 10, 0);
	/* second 10 closes with 4; at 130, seconds 10..129 are the last 120: 4 is still in */
	g_assert_true(msb_history_roll(&h, 130, 4));
	g_assert_cmpuint(msb_history_copy(&h, out), ==, MSB_HISTORY_LEN);
	g_assert_cmpint(out[0], ==, 4);
	g_assert_true(msb_history_roll(&h, 131, 0));
	g_assert_null(h.values);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/history/rate", test_rate);
	g_test_add_func("/history/second", test_second);
	g_test_add_func("/history/lazy", test_history_lazy);
	g_test_add_func("/history/wraps", test_history_wraps);
	g_test_add_func("/history/just-inside", test_history_just_inside);
	return g_test_run();
}
