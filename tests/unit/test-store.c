/*
 * MsbStore: round trips, sealed and open sub-pages, restart (Q1), re-saves (Q2), saves into a
 * sealed sub-page (Q3), torn and damaged files, the snapshot's atomic replace, group commit with
 * 16 threads, injected write errors, delete/restore, 4 MiB messages and 100k messages.
 */
#include "msb-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static gchar *
make_dir(void)
{
	g_autoptr(GError) error = NULL;
	gchar *dir = g_dir_make_tmp("msb-store-XXXXXX", &error);
	g_assert_no_error(error);
	return dir;
}

static void
remove_dir(gchar *dir)
{
	g_autoptr(GError) error = NULL;
	msb_io_remove_tree(dir, &error);
	g_assert_no_error(error);
	g_free(dir);
}

static MsbStore *
open_store(const gchar *dir)
{
	g_autoptr(GError) error = NULL;
	MsbStore *store = msb_store_new(dir);

	/* only full sub-pages and explicit seal_all seal, so tests know what is sealed */
	msb_store_set_seal_idle(store, 3600 * G_TIME_SPAN_SECOND);
	g_assert_true(msb_store_recover(store, &error));
	g_assert_no_error(error);
	g_assert_true(msb_store_is_ready(store));
	return store;
}

static MsbStoreMessage *
make_msg(gint64 id, const gchar *tag)
{
	g_autofree gchar *text = g_strdup_printf("%s-%" G_GINT64_FORMAT, tag, id);
	g_autoptr(GBytes) content = g_bytes_new(text, strlen(text));
	MsbStoreMessage *m = msb_store_message_new(id, 1700000000000000 + id % 1000000, content);
	if (id % 3 == 0)
		msb_store_message_add_header(m, "trace", tag);
	if (id % 5 == 0)
		msb_store_message_add_header(m, "ключ", "значение");
	return m;
}

/* Saves ids [from, to] in saves of @per_save messages. */
static void
save_range(MsbStore *store, const gchar *topic, gint64 from, gint64 to, guint per_save,
           const gchar *tag)
{
	for (gint64 id = from; id <= to;) {
		g_autoptr(GPtrArray) msgs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_message_free);
		g_autoptr(GError) error = NULL;
		for (guint i = 0; i < per_save && id <= to; i++)
			g_ptr_array_add(msgs, make_msg(id++, tag));
		g_assert_true(msb_store_save_messages(store, topic,
		                                      (const MsbStoreMessage *const *)msgs->pdata,
		                                      msgs->len, &error));
		g_assert_no_error(error);
	}
}

static void
check_msg(const MsbStoreMessage *m, gint64 id, const gchar *tag)
{
	g_autoptr(MsbStoreMessage) want = make_msg(id, tag);
	g_assert_nonnull(m);
	g_assert_cmpint(m->id, ==, id);
	g_assert_true(msb_store_message_equal(m, want));
}

/* Every id in [from, to] present, with @tag, and nothing else. */
static void
check_range(MsbStore *store, const gchar *topic, gint64 from, gint64 to, const gchar *tag)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) got = msb_store_read_range(store, topic, from, to, &error);

	g_assert_no_error(error);
	g_assert_nonnull(got);
	g_assert_cmpuint(got->len, ==, (guint)(to - from + 1));
	for (guint i = 0; i < got->len; i++)
		check_msg(g_ptr_array_index(got, i), from + i, tag);
}

static MsbStoreTopicInfo *
topic_info(MsbStore *store, const gchar *topic)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) topics = msb_store_list_topics(store, &error);

	g_assert_no_error(error);
	for (guint i = 0; i < topics->len; i++) {
		MsbStoreTopicInfo *info = g_ptr_array_index(topics, i);
		if (g_strcmp0(info->name, topic) == 0)
			return g_ptr_array_steal_index(topics, i);
	}
	return NULL;
}

static gchar *
wal_path(const gchar *dir, const gchar *topic, guint no)
{
	g_autofree gchar *name = g_strdup_printf("wal-%010u.log", no);
	return g_build_filename(dir, "topics", topic, name, NULL);
}

static guint64
file_size(const gchar *path)
{
	GStatBuf st;
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	return (guint64)st.st_size;
}

static void
maintain(MsbStore *store, gboolean seal_all)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(msb_store_run_maintenance(store, seal_all, &error));
	g_assert_no_error(error);
}

/* ---- basics -------------------------------------------------------------------------------- */

static void
test_store_round_trip(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbStoreMessage) one = NULL;
	g_autoptr(MsbStoreMessage) empty = msb_store_message_new(7, 1, NULL);
	g_autoptr(MsbStoreMessage) neg = msb_store_message_new(-1, 1, NULL);
	g_autoptr(GPtrArray) none = NULL;
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	const MsbStoreMessage *bad[] = {neg};
	const MsbStoreMessage *emp[] = {empty};
	const gchar *bad_names[] = {
	        "ab",         "../etc",
	        "a/b/c",      "UPPER",
	        "with space", "..",
	        "",           "x234567890123456789012345678901234567890123456789012345678901234",
	        "topic\n",    NULL};

	save_range(store, "orders", 0, 99, 10, "a");
	check_range(store, "orders", 0, 99, "a");
	check_range(store, "orders", 17, 17, "a");
	one = msb_store_read_message(store, "orders", 42, &error);
	g_assert_no_error(error);
	check_msg(one, 42, "a");
	g_clear_pointer(&one, msb_store_message_free);
	one = msb_store_read_message(store, "orders", 100, &error);
	g_assert_no_error(error);
	g_assert_null(one);
	/* a range past what exists, an inverted range, an unknown topic: no messages, no error */
	none = msb_store_read_range(store, "orders", 100, 1000000000, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(none->len, ==, 0);
	g_clear_pointer(&none, g_ptr_array_unref);
	none = msb_store_read_range(store, "orders", 50, 10, &error);
	g_assert_cmpuint(none->len, ==, 0);
	g_clear_pointer(&none, g_ptr_array_unref);
	none = msb_store_read_range(store, "no-such-topic", 0, G_MAXINT64, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(none->len, ==, 0);
	g_clear_pointer(&none, g_ptr_array_unref);

	/* zero-length content */
	g_assert_true(msb_store_save_messages(store, "empties", emp, 1, &error));
	g_assert_no_error(error);
	one = msb_store_read_message(store, "empties", 7, &error);
	g_assert_no_error(error);
	g_assert_nonnull(one);
	g_assert_cmpuint(g_bytes_get_size(one->content), ==, 0);

	/* bad input is refused with an error and nothing is written */
	g_assert_false(msb_store_save_messages(store, "orders", bad, 1, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	for (guint i = 0; bad_names[i] != NULL; i++) {
		g_assert_false(msb_store_topic_name_is_valid(bad_names[i]));
		g_assert_false(msb_store_save_messages(store, bad_names[i], emp, 1, &error));
		g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
		none = msb_store_read_range(store, bad_names[i], 0, 10, &error);
		g_assert_null(none);
		g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
	}
	g_assert_true(msb_store_topic_name_is_valid("abc"));
	g_assert_true(msb_store_topic_name_is_valid("my-topic-01"));

	info = topic_info(store, "orders");
	g_assert_nonnull(info);
	g_assert_cmpint(info->min_id, ==, 0);
	g_assert_cmpint(info->max_id, ==, 99);
	g_assert_cmpint(info->count, ==, 100);
	g_assert_cmpuint(info->disk_bytes, >, 100 * 16);
	g_assert_cmpint(info->last_save_us, >, 0);
	g_assert_cmpint(info->delete_after_us, ==, 0);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_not_ready(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = msb_store_new(dir);
	g_autoptr(MsbStore) second = NULL;
	g_autoptr(MsbStore) other = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbStoreMessage) m = make_msg(1, "x");
	const MsbStoreMessage *msgs[] = {m};

	g_assert_false(msb_store_is_ready(store));
	g_assert_false(msb_store_save_messages(store, "abc", msgs, 1, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_READY);
	g_clear_error(&error);
	g_assert_null(msb_store_read_range(store, "abc", 0, 1, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_READY);
	g_clear_error(&error);
	g_assert_true(msb_store_recover(store, &error));
	g_assert_no_error(error);

	/* one folder, one store: a second open fails and says why */
	second = msb_store_new(dir);
	g_assert_false(msb_store_recover(second, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_BUSY);
	g_assert_nonnull(strstr(error->message, dir));
	g_clear_error(&error);
	g_clear_pointer(&store, msb_store_close);
	g_clear_pointer(&second, msb_store_close);
	other = msb_store_open(dir, &error);
	g_assert_no_error(error);
	g_assert_nonnull(other);
	g_clear_pointer(&other, msb_store_close);
	remove_dir(dir);
}

static void
recover_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	gboolean *done = user_data;
	g_assert_true(msb_store_recover_finish(NULL, res, &error));
	g_assert_no_error(error);
	*done = TRUE;
}

static void
test_store_recover_async(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	gboolean done = FALSE;

	save_range(store, "async-topic", 0, 9, 5, "a");
	g_clear_pointer(&store, msb_store_close);
	store = msb_store_new(dir);
	msb_store_recover_async(store, NULL, recover_done_cb, &done);
	while (!done)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(msb_store_is_ready(store));
	check_range(store, "async-topic", 0, 9, "a");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* ---- sealing and the quirks we fix -------------------------------------------------------- */

static void
test_store_sealed_and_open(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	MsbStoreStats st;

	save_range(store, "mixed", 0, 2499, 100, "s");
	maintain(store, FALSE);
	/* sub-pages 0 and 1 are full and sealed; 2 is half full and stays open */
	info = topic_info(store, "mixed");
	g_assert_cmpuint(info->sealed_sub_pages, ==, 2);
	g_assert_cmpuint(info->open_sub_pages, ==, 1);
	g_assert_cmpint(info->count, ==, 2500);
	g_clear_pointer(&info, msb_store_topic_info_free);
	msb_store_get_stats(store, &st);
	g_assert_cmpuint(st.seals, ==, 2);
	check_range(store, "mixed", 0, 2499, "s");
	check_range(store, "mixed", 990, 2010, "s");
	check_range(store, "mixed", 1999, 2000, "s");

	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_range(store, "mixed", 0, 2499, "s");
	info = topic_info(store, "mixed");
	g_assert_cmpuint(info->sealed_sub_pages, ==, 2);
	g_assert_cmpuint(info->open_sub_pages, ==, 1);
	g_clear_pointer(&info, msb_store_topic_info_free);

	/* sealing the open one too; the write-ahead segment holding nothing live goes away */
	maintain(store, TRUE);
	info = topic_info(store, "mixed");
	g_assert_cmpuint(info->sealed_sub_pages, ==, 3);
	g_assert_cmpuint(info->open_sub_pages, ==, 0);
	g_clear_pointer(&info, msb_store_topic_info_free);
	check_range(store, "mixed", 0, 2499, "s");
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_range(store, "mixed", 0, 2499, "s");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* The last sub-page of the id space ends at G_MAXINT64, 192 ids short of a whole one: saving,
 * sealing, reading and reopening it compute no id past G_MAXINT64 (UBSan halts the test if one
 * does; found by fuzz-store). */
static void
test_store_last_sub_page(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(GPtrArray) msgs =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_message_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	const gint64 first = G_MAXINT64 - 9;

	for (gint64 i = 0; i < 10; i++)
		g_ptr_array_add(msgs, make_msg(first + i, "z"));
	g_assert_true(msb_store_save_messages(
	        store, "the-end", (const MsbStoreMessage *const *)msgs->pdata, msgs->len, &error));
	g_assert_no_error(error);
	g_assert_cmpint(msb_store_sub_page_last_id(G_MAXINT64 / MSB_STORE_SUB_PAGE_SIZE), ==,
	                G_MAXINT64);
	g_assert_cmpint(msb_store_sub_page_last_id(3), ==, 3999);
	check_range(store, "the-end", first, G_MAXINT64, "z");
	maintain(store, TRUE);
	info = topic_info(store, "the-end");
	g_assert_cmpuint(info->sealed_sub_pages, ==, 1);
	check_range(store, "the-end", first, G_MAXINT64, "z");
	check_range(store, "the-end", G_MAXINT64 - 2, G_MAXINT64, "z");
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_range(store, "the-end", first, G_MAXINT64, "z");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_idle_sealing(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = msb_store_new(dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbStoreTopicInfo) info = NULL;

	msb_store_set_seal_idle(store, 0);
	g_assert_true(msb_store_recover(store, &error));
	save_range(store, "idle", 0, 10, 11, "i");
	save_range(store, "idle", 1000, 1010, 11, "i");
	maintain(store, FALSE);
	/* the topic moved on past sub-page 0, which was idle: sealed; 1 is the newest: open */
	info = topic_info(store, "idle");
	g_assert_cmpuint(info->sealed_sub_pages, ==, 1);
	g_assert_cmpuint(info->open_sub_pages, ==, 1);
	check_range(store, "idle", 0, 10, "i");
	check_range(store, "idle", 1000, 1010, "i");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_reopen_q1(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	g_autoptr(MsbStoreMessage) m = NULL;
	g_autoptr(GError) error = NULL;

	save_range(store, "alpha", 0, 1499, 250, "q1");
	save_range(store, "beta", 5000, 5009, 3, "q1");
	maintain(store, FALSE);
	g_clear_pointer(&store, msb_store_close);

	/* a new store on the same folder, no save since: everything is found on disk */
	store = open_store(dir);
	m = msb_store_read_message(store, "alpha", 1234, &error);
	g_assert_no_error(error);
	check_msg(m, 1234, "q1");
	check_range(store, "alpha", 0, 1499, "q1");
	check_range(store, "beta", 5000, 5009, "q1");
	info = topic_info(store, "beta");
	g_assert_cmpint(info->min_id, ==, 5000);
	g_assert_cmpint(info->max_id, ==, 5009);
	g_assert_cmpint(info->count, ==, 10);
	g_assert_cmpint(info->last_save_us, >, 0);
	/* and writing goes on where it stopped */
	save_range(store, "alpha", 1500, 1600, 50, "q1");
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_range(store, "alpha", 0, 1600, "q1");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_resave_q2(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(MsbStoreTopicInfo) info = NULL;

	save_range(store, "resave", 0, 99, 100, "old");
	save_range(store, "resave", 50, 149, 7, "new");
	save_range(store, "resave", 50, 149, 100, "new"); /* the same again */
	check_range(store, "resave", 0, 49, "old");
	check_range(store, "resave", 50, 149, "new");
	info = topic_info(store, "resave");
	g_assert_cmpint(info->count, ==, 150);
	g_clear_pointer(&info, msb_store_topic_info_free);
	g_clear_pointer(&store, msb_store_close);

	store = open_store(dir);
	check_range(store, "resave", 0, 49, "old");
	check_range(store, "resave", 50, 149, "new");
	info = topic_info(store, "resave");
	g_assert_cmpint(info->count, ==, 150);
	g_clear_pointer(&info, msb_store_topic_info_free);
	maintain(store, TRUE);
	check_range(store, "resave", 50, 149, "new");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_save_into_sealed_q3(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(GError) error = NULL;

	/* sub-page 0 sealed with a gap at 500..599 */
	save_range(store, "sealed", 0, 499, 100, "v1");
	save_range(store, "sealed", 600, 999, 100, "v1");
	maintain(store, TRUE);
	info = topic_info(store, "sealed");
	g_assert_cmpuint(info->sealed_sub_pages, ==, 1);
	g_assert_cmpuint(info->open_sub_pages, ==, 0);
	g_clear_pointer(&info, msb_store_topic_info_free);

	/* late arrivals into the gap (leaving 599 out, so it is not full) and a replacement of
	 * sealed ids */
	save_range(store, "sealed", 500, 598, 100, "v1");
	save_range(store, "sealed", 10, 19, 10, "v2");
	check_range(store, "sealed", 0, 9, "v1");
	check_range(store, "sealed", 10, 19, "v2");
	check_range(store, "sealed", 20, 598, "v1");
	check_range(store, "sealed", 600, 999, "v1");
	info = topic_info(store, "sealed");
	g_assert_cmpint(info->count, ==, 999);
	g_assert_cmpuint(info->open_sub_pages, ==, 1);
	g_clear_pointer(&info, msb_store_topic_info_free);

	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_range(store, "sealed", 10, 19, "v2");
	check_range(store, "sealed", 500, 598, "v1");
	/* re-sealing writes a superseding block; the old one is garbage */
	maintain(store, TRUE);
	info = topic_info(store, "sealed");
	g_assert_cmpuint(info->open_sub_pages, ==, 0);
	g_clear_pointer(&info, msb_store_topic_info_free);
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	got = msb_store_read_range(store, "sealed", 0, 999, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(got->len, ==, 999);
	check_range(store, "sealed", 0, 9, "v1");
	check_range(store, "sealed", 10, 19, "v2");
	check_range(store, "sealed", 20, 598, "v1");
	check_range(store, "sealed", 600, 999, "v1");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static guint
count_files(const gchar *dir, const gchar *prefix)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;
	guint n = 0;
	while (d != NULL && (name = g_dir_read_name(d)) != NULL)
		n += g_str_has_prefix(name, prefix);
	return n;
}

static void
test_store_segment_rotation(void)
{
	gchar *dir = make_dir();
	g_autofree gchar *tdir = g_build_filename(dir, "topics", "rot", NULL);
	g_autoptr(MsbStore) store = msb_store_new(dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) cuts = NULL;
	MsbStoreStats st;

	/* tiny files: every seal and almost every save starts a new one */
	msb_store_set_seal_idle(store, 3600 * G_TIME_SPAN_SECOND);
	msb_store_set_segment_limits(store, 4096, 4096);
	g_assert_true(msb_store_recover(store, &error));
	save_range(store, "rot", 0, 4999, 100, "v1");
	maintain(store, TRUE);
	for (guint round = 0; round < 3; round++) {
		/* re-sealing sub-page 0 again and again leaves old data files with nothing live */
		save_range(store, "rot", 0, 9, 10, round % 2 ? "v1" : "v2");
		maintain(store, TRUE);
	}
	msb_store_get_stats(store, &st);
	g_assert_cmpuint(st.seals, ==, 8);
	g_assert_cmpuint(st.files_removed, >, 0);
	g_assert_cmpuint(count_files(tdir, "data-"), <, 8);
	/* only the newest write-ahead segment survives once everything is sealed */
	g_assert_cmpuint(count_files(tdir, "wal-"), ==, 1);
	check_range(store, "rot", 0, 9, "v2");
	check_range(store, "rot", 10, 4999, "v1");
	g_clear_pointer(&store, msb_store_close);

	store = open_store(dir);
	cuts = msb_store_get_recovery_cuts(store);
	g_assert_cmpuint(cuts->len, ==, 0);
	check_range(store, "rot", 0, 9, "v2");
	check_range(store, "rot", 10, 4999, "v1");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* ---- damage -------------------------------------------------------------------------------- */

static GBytes *
read_file(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *data = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &data, &len, &error));
	return g_bytes_new_take(data, len);
}

static void
write_file(const gchar *path, const guint8 *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(g_file_set_contents(path, (const gchar *)data, (gssize)len, &error));
}

static guint
count_cuts(MsbStore *store, const gchar *path, guint64 *offset, guint64 *bytes)
{
	g_autoptr(GPtrArray) cuts = msb_store_get_recovery_cuts(store);
	guint n = 0;
	for (guint i = 0; i < cuts->len; i++) {
		const MsbStoreCut *c = g_ptr_array_index(cuts, i);
		if (g_strcmp0(c->path, path) != 0)
			continue;
		n++;
		*offset = c->offset;
		*bytes = c->bytes;
	}
	return n;
}

static void
test_store_torn_tail(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *wal = wal_path(dir, "torn", 1);
	g_autoptr(GBytes) pristine = NULL;
	const guint8 *bytes;
	gsize total;
	guint64 good;
	guint step = g_test_slow() ? 1 : 3;

	save_range(store, "torn", 0, 8, 1, "t");
	g_clear_pointer(&store, msb_store_close);
	good = file_size(wal);
	store = open_store(dir);
	save_range(store, "torn", 9, 9, 1, "t");
	g_clear_pointer(&store, msb_store_close);
	pristine = read_file(wal);
	bytes = g_bytes_get_data(pristine, &total);
	g_assert_cmpuint(total, >, good);

	/* a crash anywhere inside the last record: cut back to the record before */
	for (guint64 cut = good + 1; cut < total; cut += step) {
		guint64 off = 0;
		guint64 len = 0;
		g_autoptr(MsbStoreMessage) m = NULL;
		g_autoptr(GError) error = NULL;

		write_file(wal, bytes, (gsize)cut);
		store = open_store(dir);
		check_range(store, "torn", 0, 8, "t");
		m = msb_store_read_message(store, "torn", 9, &error);
		g_assert_no_error(error);
		g_assert_null(m);
		g_assert_cmpuint(count_cuts(store, wal, &off, &len), ==, 1);
		g_assert_cmpuint(off, ==, good);
		g_assert_cmpuint(len, ==, cut - good);
		g_clear_pointer(&store, msb_store_close);
		g_assert_cmpuint(file_size(wal), ==, good);
	}
	/* a flipped byte anywhere in the last record: never served */
	for (guint64 pos = good; pos < total; pos += step) {
		g_autofree guint8 *copy = g_memdup2(bytes, total);
		g_autoptr(MsbStoreMessage) m = NULL;
		g_autoptr(GError) error = NULL;
		guint64 off = 0;
		guint64 len = 0;

		copy[pos] ^= 0x40;
		write_file(wal, copy, total);
		store = open_store(dir);
		check_range(store, "torn", 0, 8, "t");
		m = msb_store_read_message(store, "torn", 9, &error);
		g_assert_no_error(error);
		g_assert_null(m);
		g_assert_cmpuint(count_cuts(store, wal, &off, &len), ==, 1);
		g_assert_cmpuint(off, ==, good);
		g_clear_pointer(&store, msb_store_close);
	}
	/* after a cut the store goes on normally */
	store = open_store(dir);
	save_range(store, "torn", 9, 20, 4, "t");
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_range(store, "torn", 0, 20, "t");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* The fuzz target's entry point: the same recovery and reads, no threads, sealing on demand on
 * the caller's thread, and what it did is there for the next normal open. */
static void
test_store_recover_only(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *wal = wal_path(dir, "rec-only", 1);
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) good = NULL;
	g_autoptr(GByteArray) torn = g_byte_array_new();
	guint64 off = 0;
	guint64 len = 0;

	save_range(store, "rec-only", 0, 1499, 100, "r");
	maintain(store, FALSE); /* sub-page 0 is full: sealed */
	save_range(store, "rec-only", 1500, 1599, 100, "r");
	g_clear_pointer(&store, msb_store_close);
	/* a torn record at the end of the segment, cut by recovery */
	good = read_file(wal);
	g_byte_array_append(torn, g_bytes_get_data(good, NULL), (guint)g_bytes_get_size(good));
	g_byte_array_append(torn, (const guint8 *)"MSBR\x01\x02\x03", 7);
	write_file(wal, torn->data, torn->len);

	store = msb_store_open_recover_only(dir, &error);
	g_assert_no_error(error);
	g_assert_nonnull(store);
	g_assert_null(store->writer);
	g_assert_null(store->sealer);
	g_assert_true(msb_store_is_ready(store));
	check_range(store, "rec-only", 0, 1599, "r");
	g_assert_cmpuint(count_cuts(store, wal, &off, &len), ==, 1);
	g_assert_cmpuint(off, ==, g_bytes_get_size(good));
	g_assert_cmpuint(len, ==, 7);
	g_assert_cmpuint(file_size(wal), ==, g_bytes_get_size(good));
	info = topic_info(store, "rec-only");
	g_assert_cmpint(info->count, ==, 1600);
	g_assert_cmpuint(info->sealed_sub_pages, ==, 1);
	g_assert_cmpuint(info->open_sub_pages, ==, 1);
	g_clear_pointer(&info, msb_store_topic_info_free);
	/* sealing runs on this thread, as the writer would have run it */
	maintain(store, TRUE);
	info = topic_info(store, "rec-only");
	g_assert_cmpuint(info->sealed_sub_pages, ==, 2);
	g_assert_cmpuint(info->open_sub_pages, ==, 0);
	g_clear_pointer(&info, msb_store_topic_info_free);
	check_range(store, "rec-only", 0, 1599, "r");
	g_clear_pointer(&store, msb_store_close);

	store = open_store(dir);
	check_range(store, "rec-only", 0, 1599, "r");
	info = topic_info(store, "rec-only");
	g_assert_cmpuint(info->sealed_sub_pages, ==, 2);
	g_assert_cmpuint(info->open_sub_pages, ==, 0);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_corrupt_middle(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *wal = wal_path(dir, "middle", 1);
	g_autofree gchar *aside = NULL;
	g_autoptr(GBytes) pristine = NULL;
	g_autofree guint8 *copy = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) got = NULL;
	guint64 rec5;
	guint64 off = 0;
	guint64 len = 0;
	gsize total;

	save_range(store, "middle", 0, 4, 1, "m");
	g_clear_pointer(&store, msb_store_close);
	rec5 = file_size(wal);
	store = open_store(dir);
	save_range(store, "middle", 5, 9, 1, "m");
	g_clear_pointer(&store, msb_store_close);

	pristine = read_file(wal);
	copy = g_memdup2(g_bytes_get_data(pristine, &total), g_bytes_get_size(pristine));
	copy[rec5 + MSB_FRAME_HEADER_SIZE + 12] ^= 0xff; /* inside record 5's payload */
	write_file(wal, copy, total);
	store = open_store(dir);
	/* the first bad record ends the file: 0..4 are served, 5..9 are not, the rest is kept */
	got = msb_store_read_range(store, "middle", 0, 100, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(got->len, ==, 5);
	check_range(store, "middle", 0, 4, "m");
	g_assert_cmpuint(count_cuts(store, wal, &off, &len), ==, 1);
	g_assert_cmpuint(off, ==, rec5);
	g_assert_cmpuint(len, ==, total - rec5);
	aside = g_strdup_printf("%s.damaged-%" G_GUINT64_FORMAT, wal, rec5);
	g_assert_true(g_file_test(aside, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(file_size(aside), ==, total - rec5);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_corrupt_sealed_block(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *data =
	        g_build_filename(dir, "topics", "blocks", "data-0000000001.dat", NULL);
	g_autoptr(GBytes) pristine = NULL;
	g_autofree guint8 *copy = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(MsbStoreMessage) m = NULL;
	gsize total;
	guint64 off = 0;
	guint64 len = 0;

	save_range(store, "blocks", 0, 1999, 500, "b");
	maintain(store, FALSE);
	g_clear_pointer(&store, msb_store_close);
	pristine = read_file(data);
	total = g_bytes_get_size(pristine);
	/* a byte in the second block (sub-page 1) rots */
	copy = g_memdup2(g_bytes_get_data(pristine, NULL), total);
	copy[total - 100] ^= 0x01;
	write_file(data, copy, total);
	store = open_store(dir);
	check_range(store, "blocks", 0, 999, "b");
	got = msb_store_read_range(store, "blocks", 0, 1999, &error);
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT);
	g_assert_nonnull(strstr(error->message, data));
	g_assert_null(got);
	g_clear_error(&error);
	m = msb_store_read_message(store, "blocks", 1500, &error);
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT);
	g_assert_null(m);
	g_clear_error(&error);
	g_clear_pointer(&store, msb_store_close);

	/* bytes after the last indexed block (a seal that never committed) are cut at start */
	{
		g_autofree guint8 *longer = g_malloc0(total + 300);
		memcpy(longer, g_bytes_get_data(pristine, NULL), total);
		write_file(data, longer, total + 300);
	}
	store = open_store(dir);
	g_assert_cmpuint(count_cuts(store, data, &off, &len), ==, 1);
	g_assert_cmpuint(off, ==, total);
	g_assert_cmpuint(len, ==, 300);
	check_range(store, "blocks", 0, 1999, "b");
	g_clear_pointer(&store, msb_store_close);
	g_assert_cmpuint(file_size(data), ==, total);
	remove_dir(dir);
}

/*
 * A read that fails its checks names the topic and sub-page and is remembered for the service's
 * damaged list (file, offset, reason, reads); reads of sound sub-pages add nothing, and a
 * deleted topic takes its entries with it.
 */
static void
test_store_damaged_list(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *data =
	        g_build_filename(dir, "topics", "blocks", "data-0000000001.dat", NULL);
	g_autoptr(GBytes) pristine = NULL;
	g_autofree guint8 *copy = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(GPtrArray) damaged = NULL;
	g_autoptr(MsbStoreMessage) m = NULL;
	const MsbStoreDamage *d;
	gsize total;

	save_range(store, "blocks", 0, 2999, 500, "b");
	save_range(store, "other", 0, 999, 500, "o");
	maintain(store, FALSE);
	g_clear_pointer(&store, msb_store_close);
	pristine = read_file(data);
	total = g_bytes_get_size(pristine);
	/* a byte in the last block (sub-page 2) rots */
	copy = g_memdup2(g_bytes_get_data(pristine, NULL), total);
	copy[total - 100] ^= 0x01;
	write_file(data, copy, total);
	store = open_store(dir);

	/* nothing is damaged until it is read */
	damaged = msb_store_list_damaged(store);
	g_assert_cmpuint(damaged->len, ==, 0);
	g_clear_pointer(&damaged, g_ptr_array_unref);
	check_range(store, "blocks", 0, 1999, "b");
	check_range(store, "other", 0, 999, "o");
	damaged = msb_store_list_damaged(store);
	g_assert_cmpuint(damaged->len, ==, 0);
	g_clear_pointer(&damaged, g_ptr_array_unref);

	got = msb_store_read_range(store, "blocks", 2000, 2999, &error);
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT);
	g_assert_null(got);
	g_assert_true(g_str_has_prefix(error->message, "Topic blocks sub-page 2 is damaged: "));
	g_assert_nonnull(strstr(error->message, data));
	g_clear_error(&error);
	/* a read of one id of it fails the same way and counts */
	m = msb_store_read_message(store, "blocks", 2500, &error);
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT);
	g_assert_null(m);
	g_clear_error(&error);

	damaged = msb_store_list_damaged(store);
	g_assert_cmpuint(damaged->len, ==, 1);
	d = g_ptr_array_index(damaged, 0);
	g_assert_cmpstr(d->topic, ==, "blocks");
	g_assert_cmpint(d->sub_page, ==, 2);
	g_assert_cmpstr(d->path, ==, data);
	g_assert_cmpuint(d->offset, >, 16);
	g_assert_cmpuint(d->offset, <, total - 100);
	g_assert_nonnull(strstr(d->reason, "sub-page 2"));
	g_assert_cmpuint(d->failed_reads, ==, 2);
	g_assert_cmpint(d->first_us, >, 0);
	g_assert_cmpint(d->last_us, >=, d->first_us);
	g_clear_pointer(&damaged, g_ptr_array_unref);
	/* the sound sub-pages still read */
	check_range(store, "blocks", 0, 1999, "b");

	/* deleted: its damage is not listed any more */
	g_assert_true(msb_store_delete_topic(
	        store, "blocks", g_get_real_time() + G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC,
	        &error));
	g_assert_no_error(error);
	damaged = msb_store_list_damaged(store);
	g_assert_cmpuint(damaged->len, ==, 0);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_torn_index(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *index = g_build_filename(dir, "topics", "idx-topic", "index.log", NULL);
	g_autoptr(GBytes) pristine = NULL;
	guint64 one_seal;
	gsize total;

	/* sub-page 0 sealed and its log records collected; sub-page 1 open */
	save_range(store, "idx-topic", 0, 999, 1000, "x");
	maintain(store, FALSE);
	one_seal = file_size(index);
	save_range(store, "idx-topic", 1000, 1999, 1000, "x");
	g_clear_pointer(&store, msb_store_close);
	/* now seal sub-page 1 and crash with its index record torn */
	store = open_store(dir);
	maintain(store, FALSE);
	g_clear_pointer(&store, msb_store_close);
	pristine = read_file(index);
	total = g_bytes_get_size(pristine);
	g_assert_cmpuint(total, >, one_seal);
	for (guint64 cut = one_seal + 1; cut < total; cut += 17) {
		write_file(index, g_bytes_get_data(pristine, NULL), (gsize)cut);
		store = open_store(dir);
		check_range(store, "idx-topic", 0, 1999, "x");
		/* its write-ahead records were removed only after the index record was durable,
		 * so a torn index record means they are still there */
		g_clear_pointer(&store, msb_store_close);
	}
	remove_dir(dir);
}

/*
 * An index record with a valid checksum but an absurd part count is damage, not an allocation
 * of that many parts (4 billion parts cost 23 GB), and so is a sub-page whose ids overflow gint64
 * (found by fuzz-store).
 */
static void
test_store_index_absurd_parts(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *index = g_build_filename(dir, "topics", "idx-parts", "index.log", NULL);
	g_autoptr(GBytes) pristine = NULL;
	guint8 payload[MSB_INDEX_PAYLOAD];
	gsize len = 0;
	const guint8 *data;

	save_range(store, "idx-parts", 0, 999, 1000, "x");
	maintain(store, FALSE);
	g_clear_pointer(&store, msb_store_close);
	pristine = read_file(index);
	data = g_bytes_get_data(pristine, &len);
	g_assert_cmpuint(len, ==, MSB_FILE_HEADER_SIZE + MSB_FRAME_HEADER_SIZE + MSB_INDEX_PAYLOAD);
	for (guint variant = 0; variant < 3; variant++) {
		g_autoptr(GByteArray) damaged = g_byte_array_new();
		g_autoptr(GPtrArray) cuts = NULL;
		gboolean found = FALSE;

		memcpy(payload, data + MSB_FILE_HEADER_SIZE + MSB_FRAME_HEADER_SIZE,
		       sizeof(payload));
		msb_put_u64(payload + 8, msb_get_u64(payload + 8) + 1);
		if (variant == 0)
			/* the same generation again, newer, in more parts than ids */
			msb_put_u32(payload + 20, 100000);
		else if (variant == 1)
			/* a sub-page whose ids do not fit in gint64 (their arithmetic overflowed)
			 */
			msb_put_u64(payload, (guint64)(G_MAXINT64 / 1000));
		else
			/* a sequence number after which no record can be numbered */
			msb_put_u64(payload + 8, (guint64)G_MAXINT64);
		g_byte_array_append(damaged, data, (guint)len);
		msb_frame_append(damaged, MSB_REC_INDEX, payload, sizeof(payload));
		write_file(index, damaged->data, damaged->len);

		store = open_store(dir);
		check_range(store, "idx-parts", 0, 999, "x");
		cuts = msb_store_get_recovery_cuts(store);
		for (guint i = 0; i < cuts->len; i++) {
			const MsbStoreCut *c = g_ptr_array_index(cuts, i);
			if (g_strcmp0(c->path, index) == 0) {
				g_assert_nonnull(strstr(c->reason, "malformed index record"));
				g_assert_cmpuint(c->offset, ==, len);
				found = TRUE;
			}
		}
		g_assert_true(found);
		g_clear_pointer(&store, msb_store_close);
		/* recovery cut the record: put the pristine index back for the next variant */
		write_file(index, data, len);
	}
	remove_dir(dir);
}

/*
 * An index record that points past the end of its data file (its block was lost) is not used;
 * sealing then must not append to that file, or its next block would land where the record
 * points and the next recovery would take it for that record's generation (found by fuzz-store:
 * the sub-page read back as damaged after a seal and a reopen). @wrap: an offset and length whose
 * sum wraps around (found by fuzz-store too).
 */
static void
index_past_end(gboolean wrap)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *index = g_build_filename(dir, "topics", "idx-stale", "index.log", NULL);
	g_autofree gchar *data_path =
	        g_build_filename(dir, "topics", "idx-stale", "data-0000000001.dat", NULL);
	g_autoptr(GBytes) pristine = NULL;
	g_autoptr(GBytes) data_file = NULL;
	g_autoptr(GByteArray) stale = g_byte_array_new();
	guint8 payload[MSB_INDEX_PAYLOAD];
	gsize len = 0;
	const guint8 *data;

	save_range(store, "idx-stale", 0, 999, 1000, "s");
	maintain(store, FALSE); /* sub-page 0 sealed into data-0000000001.dat */
	save_range(store, "idx-stale", 1000, 1009, 10, "s");
	g_clear_pointer(&store, msb_store_close);

	/* a record for sub-page 1, newer than anything, at the data file's end */
	data_file = read_file(data_path);
	pristine = read_file(index);
	data = g_bytes_get_data(pristine, &len);
	memcpy(payload, data + len - MSB_INDEX_PAYLOAD, sizeof(payload));
	msb_put_u64(payload, 1);
	msb_put_u64(payload + 8, 1000000);
	msb_put_u32(payload + 28, 10);
	if (wrap) {
		/* offset + length wraps around to a small number */
		msb_put_u64(payload + 32, G_GUINT64_CONSTANT(0xFFFFFFFF00000010));
		msb_put_u32(payload + 40, G_MAXUINT32);
	} else {
		msb_put_u64(payload + 32, g_bytes_get_size(data_file));
		msb_put_u32(payload + 40, MSB_FRAME_HEADER_SIZE + MSB_BLOCK_PAYLOAD_HEAD + 1);
	}
	memset(payload + 48, 0, MSB_BITMAP_BYTES);
	for (guint i = 0; i < 10; i++)
		msb_bitmap_set(payload + 48, i);
	g_byte_array_append(stale, data, (guint)len);
	msb_frame_append(stale, MSB_REC_INDEX, payload, sizeof(payload));
	write_file(index, stale->data, stale->len);

	store = open_store(dir);
	check_range(store, "idx-stale", 0, 1009, "s");
	maintain(store, TRUE); /* seals sub-page 1 */
	check_range(store, "idx-stale", 0, 1009, "s");
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_range(store, "idx-stale", 0, 1009, "s");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

static void
test_store_index_past_end(void)
{
	index_past_end(FALSE);
	index_past_end(TRUE);
}

/*
 * The only index record that names the last data file is a complete generation of sub-page 1, newer
 * than anything, whose offset + length wraps around to less than a file header (both found by
 * fuzz-store, together in one input):
 * - recovery took that sum for where the file's committed blocks end and cut the file there, into
 *   its header, as if an interrupted seal had left the rest;
 * - the next seal wrote sub-page 1 again with its real, lower sequence number, and dropped the
 *   write-ahead segment it came from; the next recovery took the damaged generation for the newest
 *   and did not fall back to the good one, so the sub-page's messages were gone.
 */
static void
test_store_index_newest_unusable(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *index = g_build_filename(dir, "topics", "idx-new", "index.log", NULL);
	g_autofree gchar *data_path =
	        g_build_filename(dir, "topics", "idx-new", "data-0000000001.dat", NULL);
	g_autofree gchar *wal1 = wal_path(dir, "idx-new", 1);
	g_autofree gchar *wal2 = wal_path(dir, "idx-new", 2);
	g_autoptr(GBytes) pristine = NULL;
	g_autoptr(GBytes) wal = NULL;
	g_autoptr(GByteArray) damaged = g_byte_array_new();
	guint8 payload[MSB_INDEX_PAYLOAD];
	gsize len = 0;
	const guint8 *data;
	guint64 data_size;

	save_range(store, "idx-new", 0, 999, 1000, "n");
	maintain(store, FALSE); /* sub-page 0 sealed into data-0000000001.dat */
	save_range(store, "idx-new", 1000, 1009, 10, "n");
	g_clear_pointer(&store, msb_store_close);
	data_size = file_size(data_path);

	/* the index keeps only one record: sub-page 1, whose offset + length wraps to 15 */
	pristine = read_file(index);
	data = g_bytes_get_data(pristine, &len);
	memcpy(payload, data + len - MSB_INDEX_PAYLOAD, sizeof(payload));
	msb_put_u64(payload, 1);
	msb_put_u64(payload + 8, 1000000);
	msb_put_u32(payload + 28, 10);
	msb_put_u64(payload + 32, G_GUINT64_CONSTANT(0xFFFFFFFF00000010));
	msb_put_u32(payload + 40, G_MAXUINT32);
	memset(payload + 48, 0, MSB_BITMAP_BYTES);
	for (guint i = 0; i < 10; i++)
		msb_bitmap_set(payload + 48, i);
	g_byte_array_append(damaged, data, MSB_FILE_HEADER_SIZE);
	msb_frame_append(damaged, MSB_REC_INDEX, payload, sizeof(payload));
	write_file(index, damaged->data, damaged->len);
	/* an empty second write-ahead segment: the first is no longer the tail, so a seal that
	 * moves all of its messages into blocks removes it */
	wal = read_file(wal1);
	write_file(wal2, g_bytes_get_data(wal, NULL), MSB_FILE_HEADER_SIZE);

	store = open_store(dir);
	/* a record that points nowhere says nothing about where the file's blocks end */
	g_assert_cmpuint(file_size(data_path), ==, data_size);
	check_range(store, "idx-new", 0, 1009, "n");
	maintain(store, TRUE); /* seals sub-pages 0 and 1 */
	check_range(store, "idx-new", 0, 1009, "n");
	g_clear_pointer(&store, msb_store_close);
	g_assert_false(g_file_test(wal1, G_FILE_TEST_EXISTS));
	store = open_store(dir);
	check_range(store, "idx-new", 0, 1009, "n");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/*
 * An index record names data file 1, which is missing (its generation cannot be used); the first
 * data file a seal then creates must not take that number, or the next recovery reads the old
 * record's block from the new file and serves its sub-page as damaged (found by fuzz-store).
 */
static void
test_store_index_names_missing_file(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autofree gchar *tpl_index = g_build_filename(dir, "topics", "idx-tpl", "index.log", NULL);
	g_autofree gchar *index = g_build_filename(dir, "topics", "idx-miss", "index.log", NULL);
	g_autofree gchar *data1 =
	        g_build_filename(dir, "topics", "idx-miss", "data-0000000001.dat", NULL);
	g_autofree gchar *data2 =
	        g_build_filename(dir, "topics", "idx-miss", "data-0000000002.dat", NULL);
	g_autoptr(GBytes) tpl = NULL;
	g_autoptr(GByteArray) damaged = g_byte_array_new();
	guint8 payload[MSB_INDEX_PAYLOAD];
	gsize len = 0;
	const guint8 *data;

	/* a sealed sub-page elsewhere gives a well-formed index record to start from */
	save_range(store, "idx-tpl", 0, 999, 1000, "t");
	maintain(store, FALSE);
	save_range(store, "idx-miss", 0, 9, 10, "m");
	g_clear_pointer(&store, msb_store_close);
	g_assert_false(g_file_test(data1, G_FILE_TEST_EXISTS));

	/* sub-page 5 (no message of ours) in data file 1, which does not exist */
	tpl = read_file(tpl_index);
	data = g_bytes_get_data(tpl, &len);
	memcpy(payload, data + len - MSB_INDEX_PAYLOAD, sizeof(payload));
	msb_put_u64(payload, 5);
	msb_put_u64(payload + 8, 1);
	msb_put_u32(payload + 24, 1);
	msb_put_u32(payload + 28, 4);
	msb_put_u64(payload + 32, MSB_FILE_HEADER_SIZE + 2);
	msb_put_u32(payload + 40, 157);
	memset(payload + 48, 0, MSB_BITMAP_BYTES);
	for (guint i = 0; i < 4; i++)
		msb_bitmap_set(payload + 48, i);
	g_byte_array_append(damaged, data, MSB_FILE_HEADER_SIZE);
	msb_frame_append(damaged, MSB_REC_INDEX, payload, sizeof(payload));
	write_file(index, damaged->data, damaged->len);

	for (guint round = 0; round < 2; round++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) all = NULL;

		store = open_store(dir);
		all = msb_store_read_range(store, "idx-miss", 0, G_MAXINT64, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(all->len, ==, 10);
		check_range(store, "idx-miss", 0, 9, "m");
		if (round == 0) {
			maintain(store, TRUE); /* seals sub-page 0 into a new data file */
			g_assert_false(g_file_test(data1, G_FILE_TEST_EXISTS));
			g_assert_true(g_file_test(data2, G_FILE_TEST_EXISTS));
		}
		g_clear_pointer(&store, msb_store_close);
	}
	remove_dir(dir);
}

/* ---- snapshot ------------------------------------------------------------------------------ */

static void
test_store_snapshot(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) a = g_bytes_new_static("snapshot A", 10);
	g_autoptr(GBytes) b = g_bytes_new_static("snapshot B, longer", 18);
	g_autoptr(GBytes) empty = g_bytes_new_static("", 0);
	g_autoptr(GBytes) got = NULL;
	g_autofree gchar *tmp = g_build_filename(dir, "queue-snapshot.tmp", NULL);
	g_autofree gchar *snap = g_build_filename(dir, "queue-snapshot", NULL);

	got = msb_store_load_snapshot(store, &error);
	g_assert_no_error(error);
	g_assert_null(got);
	g_assert_true(msb_store_save_snapshot(store, a, &error));
	g_assert_no_error(error);
	got = msb_store_load_snapshot(store, &error);
	g_assert_true(g_bytes_equal(got, a));
	g_clear_pointer(&got, g_bytes_unref);

	/* a failed write (disk full) or flush leaves the previous snapshot */
	msb_store_inject_fault(store, MSB_STORE_FAULT_WRITE, 1, ENOSPC);
	g_assert_false(msb_store_save_snapshot(store, b, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
	g_assert_nonnull(strstr(error->message, "queue-snapshot.tmp"));
	g_clear_error(&error);
	g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
	msb_store_inject_fault(store, MSB_STORE_FAULT_SYNC, 1, EIO);
	g_assert_false(msb_store_save_snapshot(store, b, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
	g_clear_error(&error);
	got = msb_store_load_snapshot(store, &error);
	g_assert_true(g_bytes_equal(got, a));
	g_clear_pointer(&got, g_bytes_unref);
	g_clear_pointer(&store, msb_store_close);

	/* a crash during a save leaves a temporary file: ignored and removed */
	write_file(tmp, (const guint8 *)"half a snap", 11);
	store = open_store(dir);
	g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
	got = msb_store_load_snapshot(store, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(got, a));
	g_clear_pointer(&got, g_bytes_unref);
	g_assert_true(msb_store_save_snapshot(store, b, &error));
	got = msb_store_load_snapshot(store, &error);
	g_assert_true(g_bytes_equal(got, b));
	g_clear_pointer(&got, g_bytes_unref);
	g_assert_true(msb_store_save_snapshot(store, empty, &error));
	got = msb_store_load_snapshot(store, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(got), ==, 0);
	g_clear_pointer(&got, g_bytes_unref);
	g_clear_pointer(&store, msb_store_close);

	/* a damaged snapshot is an error, not garbage */
	write_file(snap, (const guint8 *)"MSB-SNP\nrubbish rubbish rubbish!!", 33);
	store = open_store(dir);
	got = msb_store_load_snapshot(store, &error);
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT);
	g_assert_null(got);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* ---- concurrency and group commit ---------------------------------------------------------- */

#define N_SAVERS        16
#define SAVES_PER_SAVER 40

typedef struct {
	MsbStore *store;
	guint index;
} Saver;

static gpointer
saver_thread(gpointer data)
{
	Saver *s = data;
	g_autofree gchar *own = g_strdup_printf("own-%02u", s->index);

	for (guint i = 0; i < SAVES_PER_SAVER; i++) {
		/* all savers share one topic (each its own id range) and each has one alone */
		gint64 id = (gint64)s->index * 1000 + i * 2;
		save_range(s->store, "shared", id, id + 1, 2, "c");
		if (i % 4 == 0)
			save_range(s->store, own, i, i, 1, "c");
	}
	return NULL;
}

static void
test_store_group_commit(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	Saver savers[N_SAVERS];
	GThread *threads[N_SAVERS];
	MsbStoreStats st;
	g_autoptr(MsbStoreTopicInfo) info = NULL;

	for (guint i = 0; i < N_SAVERS; i++) {
		savers[i].store = store;
		savers[i].index = i;
		threads[i] = g_thread_new("saver", saver_thread, &savers[i]);
	}
	for (guint i = 0; i < N_SAVERS; i++)
		g_thread_join(threads[i]);
	msb_store_get_stats(store, &st);
	g_test_message("group commit: %" G_GUINT64_FORMAT " saves, %" G_GUINT64_FORMAT
	               " commits, %" G_GUINT64_FORMAT " fsyncs (%.1f saves per fsync)",
	               st.saves, st.commits, st.commit_fsyncs,
	               (double)st.saves / MAX(st.commit_fsyncs, 1));
	g_assert_cmpuint(st.saves, ==, N_SAVERS * (SAVES_PER_SAVER + SAVES_PER_SAVER / 4));
	g_assert_cmpuint(st.commit_fsyncs, <, st.saves);
	g_assert_cmpuint(st.commits, <, st.saves);
	g_clear_pointer(&store, msb_store_close);

	store = open_store(dir);
	info = topic_info(store, "shared");
	g_assert_cmpint(info->count, ==, N_SAVERS * SAVES_PER_SAVER * 2);
	for (guint i = 0; i < N_SAVERS; i++) {
		g_autofree gchar *own = g_strdup_printf("own-%02u", i);
		g_autoptr(GPtrArray) got = NULL;
		g_autoptr(GError) error = NULL;
		check_range(store, "shared", i * 1000, i * 1000 + SAVES_PER_SAVER * 2 - 1, "c");
		got = msb_store_read_range(store, own, 0, 1000, &error);
		g_assert_cmpuint(got->len, ==, SAVES_PER_SAVER / 4);
	}
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* Readers run while a writer saves and seals: every read sees whole, correct messages. */
typedef struct {
	MsbStore *store;
	gint stop;
	guint reads;
} Reader;

static gpointer
reader_thread(gpointer data)
{
	Reader *r = data;
	while (!g_atomic_int_get(&r->stop)) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) got = msb_store_read_range(r->store, "busy", 0, 5000, &error);
		gint64 prev = -1;

		g_assert_no_error(error);
		/* A range read copies each sub-page's locations in turn, not all at once: a
		 * sub-page read first may lack ids saved before a later one was read (the writer
		 * may save 750-999 and then 1000-1249 while sub-page 0 is being read). What holds:
		 * every message whole and correct, in ascending id order, and each sub-page read as
		 * one moment of it: ids are saved in order, so those of one sub-page run from its
		 * first with no gap. */
		for (guint i = 0; i < got->len; i++) {
			const MsbStoreMessage *m = g_ptr_array_index(got, i);
			g_assert_cmpint(m->id, >, prev);
			g_assert_cmpint(m->id, <, 5000);
			if (m->id % MSB_STORE_SUB_PAGE_SIZE != 0)
				g_assert_cmpint(m->id, ==, prev + 1);
			check_msg(m, m->id, "r");
			prev = m->id;
		}
		r->reads++;
	}
	return NULL;
}

static void
test_store_read_while_writing(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	Reader r = {store, 0, 0};
	GThread *t = g_thread_new("reader", reader_thread, &r);

	for (gint64 id = 0; id < 5000; id += 250) {
		save_range(store, "busy", id, id + 249, 250, "r");
		if (id % 1000 == 750)
			maintain(store, FALSE);
	}
	g_atomic_int_set(&r.stop, 1);
	g_thread_join(t);
	g_assert_cmpuint(r.reads, >, 0);
	check_range(store, "busy", 0, 4999, "r");
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* Every id of @want (id -> tag) holds the message saved last with its tag, and nothing else is
 * stored in [0, @max_id]. */
static void
check_wanted(MsbStore *store, const gchar *topic, GHashTable *want, gint64 max_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) got = msb_store_read_range(store, topic, 0, max_id, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(got->len, ==, g_hash_table_size(want));
	for (guint i = 0; i < got->len; i++) {
		const MsbStoreMessage *m = g_ptr_array_index(got, i);
		const gchar *tag = g_hash_table_lookup(want, &m->id);
		g_assert_nonnull(tag);
		check_msg(m, m->id, tag);
	}
}

static void
want_range(GHashTable *want, GPtrArray *tags, gint64 from, gint64 to, const gchar *tag)
{
	gchar *owned = g_strdup(tag);

	g_ptr_array_add(tags, owned);
	for (gint64 id = from; id <= to; id++)
		g_hash_table_insert(want, g_memdup2(&id, sizeof(id)), owned);
}

/*
 * The sealer thread seals while saves go on into the same sub-pages: each round fills a new
 * sub-page (which the sealer then takes) and re-saves ids of the three before it, which it is
 * sealing or has sealed. Every id keeps the content saved last, now, after a restart (which
 * replays the log against what the seals cover), and after sealing everything and restarting.
 */
static void
test_store_save_while_sealing(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = msb_store_new(dir);
	g_autoptr(GHashTable) want =
	        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	g_autoptr(GPtrArray) tags = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	MsbStoreStats stats = {0};
	const guint rounds = 40;

	/* the sealer looks for work every millisecond */
	msb_store_set_seal_period(store, 1000);
	msb_store_set_seal_idle(store, 3600 * G_TIME_SPAN_SECOND);
	g_assert_true(msb_store_recover(store, &error));
	g_assert_no_error(error);
	for (guint round = 0; round < rounds; round++) {
		gint64 base = (gint64)round * 1000;
		g_autofree gchar *tag = g_strdup_printf("r%u", round);

		save_range(store, "busy", base, base + 999, 100, "v1");
		want_range(want, tags, base, base + 999, "v1");
		for (guint back = 1; back <= 3 && back <= round; back++) {
			gint64 from =
			        (gint64)(round - back) * 1000 + (round * 37 + back * 101) % 900;
			for (gint64 id = from; id < from + 60; id += 20) {
				save_range(store, "busy", id, id + 9, 5, tag);
				want_range(want, tags, id, id + 9, tag);
			}
		}
	}
	msb_store_get_stats(store, &stats);
	g_assert_cmpuint(stats.seals, >, 0);
	check_wanted(store, "busy", want, rounds * 1000);

	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_wanted(store, "busy", want, rounds * 1000);
	maintain(store, TRUE);
	info = topic_info(store, "busy");
	g_assert_cmpuint(info->open_sub_pages, ==, 0);
	g_assert_cmpuint(info->sealed_sub_pages, ==, rounds);
	check_wanted(store, "busy", want, rounds * 1000);
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_wanted(store, "busy", want, rounds * 1000);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* ---- write errors -------------------------------------------------------------------------- */

static void
test_store_write_errors(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(GPtrArray) msgs =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_message_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	MsbStoreStats st;
	guint64 wal_size;
	g_autofree gchar *wal = wal_path(dir, "faulty", 1);

	save_range(store, "faulty", 0, 99, 50, "f");
	wal_size = file_size(wal);
	for (gint64 id = 100; id < 150; id++)
		g_ptr_array_add(msgs, make_msg(id, "f"));

	/* the disk fills up in the middle of the write */
	msb_store_inject_fault(store, MSB_STORE_FAULT_WRITE, 1, ENOSPC);
	g_assert_false(msb_store_save_messages(
	        store, "faulty", (const MsbStoreMessage *const *)msgs->pdata, msgs->len, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
	g_assert_nonnull(strstr(error->message, wal));
	g_clear_error(&error);
	g_assert_cmpuint(file_size(wal), ==, wal_size); /* rolled back */
	got = msb_store_read_range(store, "faulty", 100, 149, &error);
	g_assert_cmpuint(got->len, ==, 0);
	g_clear_pointer(&got, g_ptr_array_unref);

	/* the flush fails */
	msb_store_inject_fault(store, MSB_STORE_FAULT_SYNC, 1, EIO);
	g_assert_false(msb_store_save_messages(
	        store, "faulty", (const MsbStoreMessage *const *)msgs->pdata, msgs->len, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
	g_clear_error(&error);
	g_assert_cmpuint(file_size(wal), ==, wal_size);
	got = msb_store_read_range(store, "faulty", 100, 149, &error);
	g_assert_cmpuint(got->len, ==, 0);
	g_clear_pointer(&got, g_ptr_array_unref);
	msb_store_get_stats(store, &st);
	g_assert_cmpuint(st.write_errors, ==, 2);

	/* a new topic whose folder cannot be set up */
	msb_store_inject_fault(store, MSB_STORE_FAULT_SYNC, 1, EIO);
	g_assert_false(msb_store_save_messages(
	        store, "new-topic", (const MsbStoreMessage *const *)msgs->pdata, 1, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
	g_clear_error(&error);
	g_assert_null(topic_info(store, "new-topic"));

	/* the broker retries: now it works, nothing lost, nothing twice */
	g_assert_true(msb_store_save_messages(
	        store, "faulty", (const MsbStoreMessage *const *)msgs->pdata, msgs->len, &error));
	g_assert_no_error(error);
	g_assert_true(msb_store_save_messages(
	        store, "new-topic", (const MsbStoreMessage *const *)msgs->pdata, 1, &error));
	check_range(store, "faulty", 0, 149, "f");

	/* sealing fails: the data stays in the log and is still served; a later seal works */
	msb_store_inject_fault(store, MSB_STORE_FAULT_WRITE, 2, ENOSPC);
	maintain(store, TRUE);
	info = topic_info(store, "faulty");
	g_assert_cmpuint(info->open_sub_pages, ==, 1);
	g_clear_pointer(&info, msb_store_topic_info_free);
	check_range(store, "faulty", 0, 149, "f");
	msb_store_inject_fault(store, MSB_STORE_FAULT_SYNC, 2, EIO);
	maintain(store, TRUE);
	check_range(store, "faulty", 0, 149, "f");
	maintain(store, TRUE);
	info = topic_info(store, "faulty");
	g_assert_cmpuint(info->open_sub_pages, ==, 0);
	g_assert_cmpint(info->count, ==, 150);
	g_clear_pointer(&info, msb_store_topic_info_free);
	g_clear_pointer(&store, msb_store_close);

	store = open_store(dir);
	got = msb_store_read_range(store, "faulty", 0, G_MAXINT64, &error);
	g_assert_cmpuint(got->len, ==, 150);
	check_range(store, "faulty", 0, 149, "f");
	info = topic_info(store, "faulty");
	g_assert_cmpint(info->count, ==, 150);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* ---- delete / restore ---------------------------------------------------------------------- */

static void
test_store_delete_restore(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	g_autoptr(MsbStoreMessage) m = make_msg(50, "d");
	const MsbStoreMessage *msgs[] = {m};
	g_autofree gchar *folder = g_build_filename(dir, "topics", "doomed", NULL);
	gint64 later = g_get_real_time() + 3600 * G_TIME_SPAN_SECOND;
	gint64 next = -1;

	save_range(store, "doomed", 0, 41, 7, "d");
	g_assert_false(msb_store_delete_topic(store, "never-was", later, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_true(msb_store_delete_topic(store, "doomed", later, &error));
	g_assert_no_error(error);
	got = msb_store_read_range(store, "doomed", 0, 100, &error);
	g_assert_cmpuint(got->len, ==, 0);
	g_clear_pointer(&got, g_ptr_array_unref);
	info = topic_info(store, "doomed");
	g_assert_cmpint(info->delete_after_us, ==, later);
	g_clear_pointer(&info, msb_store_topic_info_free);
	g_assert_false(msb_store_save_messages(store, "doomed", msgs, 1, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_TOPIC_DELETED);
	g_clear_error(&error);

	/* the soft delete survives a restart, and so does the restore */
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	info = topic_info(store, "doomed");
	g_assert_cmpint(info->delete_after_us, ==, later);
	g_clear_pointer(&info, msb_store_topic_info_free);
	maintain(store, FALSE);
	g_assert_true(g_file_test(folder, G_FILE_TEST_IS_DIR));
	g_assert_true(msb_store_restore_topic(store, "doomed", &next, &error));
	g_assert_no_error(error);
	g_assert_cmpint(next, ==, 42);
	check_range(store, "doomed", 0, 41, "d");
	g_clear_pointer(&store, msb_store_close);
	store = open_store(dir);
	check_range(store, "doomed", 0, 41, "d");
	g_assert_true(msb_store_restore_topic(store, "doomed", &next, &error)); /* live: fine */
	g_assert_cmpint(next, ==, 42);

	/* a moment in the past: removed at the next maintenance pass */
	g_assert_true(msb_store_delete_topic(store, "doomed", g_get_real_time() - 1, &error));
	g_assert_false(msb_store_restore_topic(store, "doomed", &next, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_FOUND);
	g_clear_error(&error);
	maintain(store, FALSE);
	g_assert_false(g_file_test(folder, G_FILE_TEST_EXISTS));
	g_assert_null(topic_info(store, "doomed"));
	g_assert_false(msb_store_restore_topic(store, "doomed", &next, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_FOUND);
	g_clear_error(&error);
	/* the name can be used again, from scratch */
	g_assert_true(msb_store_save_messages(store, "doomed", msgs, 1, &error));
	info = topic_info(store, "doomed");
	g_assert_cmpint(info->count, ==, 1);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

/* ---- size ---------------------------------------------------------------------------------- */

static void
test_store_big_messages(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = open_store(dir);
	g_autoptr(GPtrArray) msgs =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_message_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);
	g_autoptr(MsbStoreMessage) too_big = NULL;
	const MsbStoreMessage *tb[1];

	for (gint64 id = 0; id < 3; id++) {
		gsize len = 4u << 20;
		guint32 *buf = g_malloc(len);
		g_autoptr(GBytes) content = NULL;
		for (gsize i = 0; i < len / 4; i++)
			buf[i] = id == 1 ? (guint32)i : g_rand_int(rand); /* 1 compresses well */
		content = g_bytes_new_take(buf, len);
		g_ptr_array_add(msgs, msb_store_message_new(id, id, content));
	}
	g_assert_true(msb_store_save_messages(
	        store, "big", (const MsbStoreMessage *const *)msgs->pdata, msgs->len, &error));
	g_assert_no_error(error);
	for (guint round = 0; round < 3; round++) {
		g_autoptr(GPtrArray) got = msb_store_read_range(store, "big", 0, 10, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(got->len, ==, 3);
		for (guint i = 0; i < 3; i++)
			g_assert_true(msb_store_message_equal(g_ptr_array_index(got, i),
			                                      g_ptr_array_index(msgs, i)));
		if (round == 0)
			maintain(store, TRUE);
		if (round == 1) {
			g_clear_pointer(&store, msb_store_close);
			store = open_store(dir);
		}
	}
	{
		g_autoptr(GBytes) huge = g_bytes_new_take(g_malloc0(MSB_STORE_MAX_CONTENT + 1),
		                                          MSB_STORE_MAX_CONTENT + 1);
		too_big = msb_store_message_new(5, 0, huge);
	}
	tb[0] = too_big;
	g_assert_false(msb_store_save_messages(store, "big", tb, 1, &error));
	g_assert_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT);
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

typedef struct {
	gint64 next;
	guint n;
} CountCtx;

static gboolean
count_cb(MsbStoreMessage *msg, gpointer user_data)
{
	CountCtx *c = user_data;
	g_assert_cmpint(msg->id, ==, c->next);
	c->next++;
	c->n++;
	msb_store_message_free(msg);
	return TRUE;
}

static gboolean
stop_cb(MsbStoreMessage *msg, gpointer user_data)
{
	guint *n = user_data;
	msb_store_message_free(msg);
	return ++(*n) < 10;
}

static void
test_store_many_messages(void)
{
	gchar *dir = make_dir();
	g_autoptr(MsbStore) store = msb_store_new(dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbStoreTopicInfo) info = NULL;
	gint64 n = g_test_slow() ? 1000000 : 101000;
	CountCtx c = {0, 0};
	guint stopped = 0;

	/* small segments, so that rotation and collection of segments are exercised too */
	msb_store_set_seal_idle(store, 3600 * G_TIME_SPAN_SECOND);
	msb_store_set_segment_limits(store, 1u << 20, 4u << 20);
	g_assert_true(msb_store_recover(store, &error));
	for (gint64 id = 0; id < n; id += 1000) {
		g_autoptr(GPtrArray) msgs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_message_free);
		for (gint64 i = id; i < id + 1000 && i < n; i++) {
			g_autoptr(GBytes) content = g_bytes_new(&i, sizeof(i));
			g_ptr_array_add(msgs, msb_store_message_new(i, i, content));
		}
		g_assert_true(msb_store_save_messages(store, "many",
		                                      (const MsbStoreMessage *const *)msgs->pdata,
		                                      msgs->len, &error));
	}
	maintain(store, FALSE);
	g_clear_pointer(&store, msb_store_close);

	store = open_store(dir);
	info = topic_info(store, "many");
	g_assert_cmpint(info->count, ==, n);
	g_assert_cmpint(info->min_id, ==, 0);
	g_assert_cmpint(info->max_id, ==, n - 1);
	g_assert_cmpuint(info->open_sub_pages, ==, 0);
	g_assert_cmpuint(info->sealed_sub_pages, ==, (guint)(n / 1000));
	/* page 0 whole, then a range across the page boundary */
	g_assert_true(msb_store_read_range_foreach(store, "many", 0, 99999, count_cb, &c, &error));
	g_assert_cmpuint(c.n, ==, 100000);
	c.next = 99990;
	c.n = 0;
	g_assert_true(
	        msb_store_read_range_foreach(store, "many", 99990, 100009, count_cb, &c, &error));
	g_assert_cmpuint(c.n, ==, 20);
	g_assert_true(msb_store_read_range_foreach(store, "many", 0, G_MAXINT64, stop_cb, &stopped,
	                                           &error));
	g_assert_cmpuint(stopped, ==, 10);
	for (gint64 id = 0; id < n; id += 7919) {
		g_autoptr(MsbStoreMessage) m = msb_store_read_message(store, "many", id, &error);
		g_assert_no_error(error);
		g_assert_nonnull(m);
		g_assert_cmpint(m->created, ==, id);
		g_assert_cmpmem(g_bytes_get_data(m->content, NULL), g_bytes_get_size(m->content),
		                &id, sizeof(id));
	}
	g_clear_pointer(&store, msb_store_close);
	remove_dir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* the store warns about the damage some tests provoke; criticals stay fatal */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_test_add_func("/store/round-trip", test_store_round_trip);
	g_test_add_func("/store/not-ready-and-lock", test_store_not_ready);
	g_test_add_func("/store/recover-async", test_store_recover_async);
	g_test_add_func("/store/sealed-and-open", test_store_sealed_and_open);
	g_test_add_func("/store/last-sub-page", test_store_last_sub_page);
	g_test_add_func("/store/idle-sealing", test_store_idle_sealing);
	g_test_add_func("/store/reopen-q1", test_store_reopen_q1);
	g_test_add_func("/store/resave-q2", test_store_resave_q2);
	g_test_add_func("/store/save-into-sealed-q3", test_store_save_into_sealed_q3);
	g_test_add_func("/store/segment-rotation", test_store_segment_rotation);
	g_test_add_func("/store/torn-tail", test_store_torn_tail);
	g_test_add_func("/store/recover-only", test_store_recover_only);
	g_test_add_func("/store/corrupt-middle", test_store_corrupt_middle);
	g_test_add_func("/store/corrupt-sealed-block", test_store_corrupt_sealed_block);
	g_test_add_func("/store/damaged-list", test_store_damaged_list);
	g_test_add_func("/store/torn-index", test_store_torn_index);
	g_test_add_func("/store/index-absurd-parts", test_store_index_absurd_parts);
	g_test_add_func("/store/index-past-end", test_store_index_past_end);
	g_test_add_func("/store/index-newest-unusable", test_store_index_newest_unusable);
	g_test_add_func("/store/index-names-missing-file", test_store_index_names_missing_file);
	g_test_add_func("/store/snapshot", test_store_snapshot);
	g_test_add_func("/store/group-commit", test_store_group_commit);
	g_test_add_func("/store/read-while-writing", test_store_read_while_writing);
	g_test_add_func("/store/save-while-sealing", test_store_save_while_sealing);
	g_test_add_func("/store/write-errors", test_store_write_errors);
	g_test_add_func("/store/delete-restore", test_store_delete_restore);
	g_test_add_func("/store/big-messages", test_store_big_messages);
	g_test_add_func("/store/many-messages", test_store_many_messages);
	return g_test_run();
}
