/*
 * MsbIdSet: range merging, popping, removal and the empty-set cursor, checked against a plain
 * boolean-array model on random operations as well as on hand-picked cases.
 */
#include "msb-id-set.h"

static gchar *
set_str(MsbIdSet *set)
{
	return msb_id_set_to_string(set);
}

static void
assert_set(MsbIdSet *set, const gchar *expect, gint64 count)
{
	g_autofree gchar *str = set_str(set);
	g_assert_cmpstr(str, ==, expect);
	g_assert_cmpint(msb_id_set_count(set), ==, count);
}

static void
test_id_set_append_and_pop(void)
{
	MsbIdSet set;

	msb_id_set_init(&set, 0);
	g_assert_true(msb_id_set_is_empty(&set));
	g_assert_cmpint(msb_id_set_cursor(&set), ==, 0);
	msb_id_set_add_range(&set, 0, 9);
	msb_id_set_add_range(&set, 10, 19);
	assert_set(&set, "[0-19]", 20);
	msb_id_set_add(&set, 25);
	assert_set(&set, "[0-19, 25]", 21);
	g_assert_cmpint(msb_id_set_pop_min(&set), ==, 0);
	g_assert_cmpint(msb_id_set_pop_min(&set), ==, 1);
	assert_set(&set, "[2-19, 25]", 19);
	for (gint64 i = 2; i <= 19; i++)
		g_assert_cmpint(msb_id_set_pop_min(&set), ==, i);
	g_assert_cmpint(msb_id_set_pop_min(&set), ==, 25);
	g_assert_true(msb_id_set_is_empty(&set));
	/* the cursor is the next id after what was consumed */
	g_assert_cmpint(msb_id_set_cursor(&set), ==, 26);
	msb_id_set_clear(&set);
}

static void
test_id_set_merge_front(void)
{
	MsbIdSet set;
	MsbIdSet back;

	msb_id_set_init(&set, 0);
	msb_id_set_init(&back, 0);
	msb_id_set_add_range(&set, 100, 200);
	msb_id_set_add_range(&back, 10, 20);
	msb_id_set_add_range(&back, 50, 99);
	msb_id_set_merge(&set, &back);
	assert_set(&set, "[10-20, 50-200]", 11 + 151);
	/* overlapping and touching ranges collapse */
	msb_id_set_add_range(&set, 15, 60);
	assert_set(&set, "[10-200]", 191);
	msb_id_set_add_range(&set, 5, 9);
	msb_id_set_add_range(&set, 201, 201);
	assert_set(&set, "[5-201]", 197);
	msb_id_set_clear(&set);
	msb_id_set_clear(&back);
}

static void
test_id_set_remove(void)
{
	MsbIdSet set;

	msb_id_set_init(&set, 0);
	msb_id_set_add_range(&set, 0, 99);
	g_assert_cmpint(msb_id_set_remove_range(&set, 10, 19), ==, 10);
	assert_set(&set, "[0-9, 20-99]", 90);
	g_assert_true(msb_id_set_remove(&set, 50));
	g_assert_false(msb_id_set_remove(&set, 50));
	assert_set(&set, "[0-9, 20-49, 51-99]", 89);
	g_assert_true(msb_id_set_contains(&set, 9));
	g_assert_false(msb_id_set_contains(&set, 10));
	g_assert_true(msb_id_set_contains(&set, 51));
	g_assert_false(msb_id_set_contains(&set, 100));
	/* ranges from the network may be anything */
	g_assert_cmpint(msb_id_set_remove_range(&set, G_MININT64, -1), ==, 0);
	g_assert_cmpint(msb_id_set_remove_range(&set, 5, 2), ==, 0);
	msb_id_set_remove_before(&set, 30);
	assert_set(&set, "[30-49, 51-99]", 69);
	g_assert_cmpint(msb_id_set_remove_range(&set, 0, G_MAXINT64 - 1), ==, 69);
	g_assert_true(msb_id_set_is_empty(&set));
	g_assert_cmpint(msb_id_set_cursor(&set), ==, 100);
	msb_id_set_remove_before(&set, 500);
	g_assert_cmpint(msb_id_set_cursor(&set), ==, 500);
	msb_id_set_clear(&set);
}

static void
test_id_set_pop_run(void)
{
	MsbIdSet set;
	gint64 first = -1;

	msb_id_set_init(&set, 0);
	msb_id_set_add_range(&set, 10, 14);
	msb_id_set_add_range(&set, 20, 29);
	g_assert_cmpint(msb_id_set_pop_run(&set, 3, &first), ==, 3);
	g_assert_cmpint(first, ==, 10);
	g_assert_cmpint(msb_id_set_pop_run(&set, 100, &first), ==, 2);
	g_assert_cmpint(first, ==, 13);
	g_assert_cmpint(msb_id_set_pop_run(&set, 100, &first), ==, 10);
	g_assert_cmpint(first, ==, 20);
	g_assert_cmpint(msb_id_set_pop_run(&set, 100, &first), ==, 0);
	g_assert_cmpint(msb_id_set_cursor(&set), ==, 30);
	msb_id_set_clear(&set);
}

/* random operations against a boolean model */
static void
test_id_set_model(void)
{
	const gint64 n = 300;
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);

	for (guint round = 0; round < 200; round++) {
		gboolean model[300] = {FALSE};
		MsbIdSet set;

		msb_id_set_init(&set, 0);
		for (guint op = 0; op < 200; op++) {
			gint64 a = g_rand_int_range(rand, 0, (gint32)n);
			gint64 len = g_rand_int_range(rand, 0, 20); /* MIN() evaluates twice */
			gint64 b = MIN(n - 1, a + len);
			gint64 expect_count = 0;
			switch (g_rand_int_range(rand, 0, 4)) {
			case 0:
			case 1:
				msb_id_set_add_range(&set, a, b);
				for (gint64 i = a; i <= b; i++)
					model[i] = TRUE;
				break;
			case 2: {
				gint64 removed = 0;
				for (gint64 i = a; i <= b; i++) {
					removed += model[i];
					model[i] = FALSE;
				}
				g_assert_cmpint(msb_id_set_remove_range(&set, a, b), ==, removed);
				break;
			}
			default:
				if (!msb_id_set_is_empty(&set)) {
					gint64 min = msb_id_set_pop_min(&set);
					g_assert_true(model[min]);
					for (gint64 i = 0; i < min; i++)
						g_assert_false(model[i]);
					model[min] = FALSE;
				}
				break;
			}
			for (gint64 i = 0; i < n; i++) {
				g_assert_cmpint(msb_id_set_contains(&set, i), ==, model[i]);
				expect_count += model[i];
			}
			g_assert_cmpint(msb_id_set_count(&set), ==, expect_count);
			/* counting a window (the GC asks how much of a sub-page is needed) */
			{
				gint64 in_window = 0;
				for (gint64 i = a; i <= b; i++)
					in_window += model[i];
				g_assert_cmpint(msb_id_set_count_range(&set, a, b), ==, in_window);
				g_assert_cmpint(msb_id_set_count_range(&set, b, a - 1), ==, 0);
				g_assert_cmpint(msb_id_set_count_range(&set, 0, n - 1), ==,
				                expect_count);
			}
			/* ranges stay sorted, disjoint and non-adjacent */
			for (guint r = 0; r + 1 < msb_id_set_n_ranges(&set); r++)
				g_assert_cmpint(msb_id_set_range(&set, r)->to + 1, <,
				                msb_id_set_range(&set, r + 1)->from);
		}
		msb_id_set_clear(&set);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/id-set/append-and-pop", test_id_set_append_and_pop);
	g_test_add_func("/id-set/merge-front", test_id_set_merge_front);
	g_test_add_func("/id-set/remove", test_id_set_remove);
	g_test_add_func("/id-set/pop-run", test_id_set_pop_run);
	g_test_add_func("/id-set/model", test_id_set_model);
	return g_test_run();
}
