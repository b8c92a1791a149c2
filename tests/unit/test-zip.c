/*
 * msb-zip against persistence.md §6: both layouts round-trip (empty to several MiB), archives
 * made by Info-ZIP's zip and by Python's zipfile (data descriptors, stored entries, comments)
 * are read, archives we make pass `unzip -t` and zipfile.testzip(), and damaged archives
 * (every truncation, every flipped byte, bad CRCs, lying or huge sizes, zip64, encryption,
 * several disks) give an error. Archives are parsed from exactly sized heap copies so that
 * AddressSanitizer catches any read past the end.
 *
 * External programs come from the environment (MSB_TEST_ZIP, MSB_TEST_UNZIP, MSB_TEST_PYTHON,
 * set by meson) or PATH; a sub-test whose program is missing is skipped, nothing else.
 */
#include "msb-zip.h"

#include <glib/gstdio.h>
#include <string.h>

#define T_LIMIT (64 * 1024 * 1024)

/* ---- helpers ---- */

static GBytes *
pattern_bytes(gsize len, guint32 seed, gboolean compressible)
{
	guint8 *data = g_malloc(len > 0 ? len : 1);
	guint32 x = seed | 1;

	for (gsize i = 0; i < len; i++) {
		/* xorshift: incompressible; or a short alphabet with runs: compressible */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = compressible ? (guint8)("abcdefgh"[(x >> 24) & 7]) : (guint8)x;
	}
	return g_bytes_new_take(data, len);
}

/* Unpack from an exactly sized heap copy, so that ASan sees any over-read. */
static GPtrArray *
unpack_exact(const guint8 *zip, gsize len, gsize max_total, GError **error)
{
	g_autofree guint8 *copy = len > 0 ? g_memdup2(zip, len) : NULL;
	return msb_zip_unpack(copy, len, max_total, error);
}

static void
assert_entry(GPtrArray *entries, guint idx, const gchar *name, const guint8 *data, gsize len)
{
	MsbZipEntry *e;

	g_assert_cmpuint(idx, <, entries->len);
	e = g_ptr_array_index(entries, idx);
	g_assert_cmpstr(e->name, ==, name);
	g_assert_cmpmem(g_bytes_get_data(e->data, NULL), g_bytes_get_size(e->data), data, len);
}

static guint16
get_u16(const guint8 *p)
{
	return (guint16)(p[0] | (p[1] << 8));
}

static guint32
get_u32(const guint8 *p)
{
	return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

static void
put_u16(guint8 *p, guint16 v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
put_u32(guint8 *p, guint32 v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* Offsets inside an archive we wrote (no comment, no extra fields). */
typedef struct {
	gsize eocd;
	gsize cd;
} ZipLayout;

static ZipLayout
layout_of(const guint8 *zip, gsize len)
{
	ZipLayout l;

	g_assert_cmpuint(len, >=, 22);
	l.eocd = len - 22;
	g_assert_cmphex(get_u32(zip + l.eocd), ==, 0x06054b50);
	l.cd = get_u32(zip + l.eocd + 16);
	return l;
}

static GBytes *
two_entry_archive(void)
{
	g_autoptr(MsbZipWriter) w = msb_zip_writer_new(-1);
	g_autoptr(GError) error = NULL;
	const gchar *a = "first entry, first entry, first entry";
	GBytes *zip;

	g_assert_true(msb_zip_writer_add(w, "a", (const guint8 *)a, strlen(a), &error));
	g_assert_no_error(error);
	g_assert_true(msb_zip_writer_add(w, "bb", (const guint8 *)"xyz", 3, &error));
	zip = msb_zip_writer_finish(w, &error);
	g_assert_no_error(error);
	return zip;
}

static void
assert_two_entries(GPtrArray *entries)
{
	const gchar *a = "first entry, first entry, first entry";

	g_assert_cmpuint(entries->len, ==, 2);
	assert_entry(entries, 0, "a", (const guint8 *)a, strlen(a));
	assert_entry(entries, 1, "bb", (const guint8 *)"xyz", 3);
}

/* An external program: the environment variable set by meson, else PATH. */
static gchar *
find_tool(const gchar *env, const gchar *name)
{
	const gchar *path = g_getenv(env);

	if (path != NULL && path[0] != '\0')
		return g_strdup(path);
	return g_find_program_in_path(name);
}

static gboolean
run_tool(const gchar *cwd, const gchar *const *argv, gchar **out, GError **error)
{
	g_autofree gchar *err = NULL;
	gint status = 0;

	if (!g_spawn_sync(cwd, (gchar **)argv, NULL,
	                  out == NULL ? G_SPAWN_STDOUT_TO_DEV_NULL : G_SPAWN_DEFAULT, NULL, NULL,
	                  out, &err, &status, error))
		return FALSE;
	if (!g_spawn_check_wait_status(status, error)) {
		g_prefix_error(error, "%s: %s: ", argv[0], err);
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	gchar *dir;
} TmpDir;

static void
tmp_dir_init(TmpDir *t)
{
	g_autoptr(GError) error = NULL;

	t->dir = g_dir_make_tmp("msb-test-zip-XXXXXX", &error);
	g_assert_no_error(error);
}

static gchar *
tmp_dir_write(TmpDir *t, const gchar *name, const guint8 *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	gchar *path = g_build_filename(t->dir, name, NULL);

	g_assert_true(g_file_set_contents(path, (const gchar *)data, (gssize)len, &error));
	g_assert_no_error(error);
	return path;
}

static void
tmp_dir_clear(TmpDir *t)
{
	g_autoptr(GDir) dir = g_dir_open(t->dir, 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(t->dir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(t->dir);
	g_free(t->dir);
}

static GBytes *
read_file_bytes(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *data = NULL;
	gsize len = 0;

	g_assert_true(g_file_get_contents(path, &data, &len, &error));
	g_assert_no_error(error);
	return g_bytes_new_take(data, len);
}

/* ---- round trips ---- */

static void
test_single_round_trip(void)
{
	struct {
		gsize len;
		gboolean compressible;
	} cases[] = {
	        {0, TRUE},
	        {1, TRUE},
	        {1000, FALSE},
	        {100 * 1024, TRUE},
	        {5 * 1024 * 1024 + 7, TRUE},  /* ≥ 5 MiB: several zlib passes */
	        {5 * 1024 * 1024 + 3, FALSE}, /* deflate output larger than input */
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GBytes) data =
		        pattern_bytes(cases[i].len, (guint32)i + 1, cases[i].compressible);
		g_autoptr(GBytes) zip = NULL;
		g_autoptr(GBytes) back = NULL;
		g_autoptr(GPtrArray) entries = NULL;
		g_autoptr(GError) error = NULL;
		gsize zlen = 0;
		const guint8 *z;

		zip = msb_zip_pack_single(g_bytes_get_data(data, NULL), cases[i].len, &error);
		g_assert_no_error(error);
		z = g_bytes_get_data(zip, &zlen);
		if (cases[i].compressible && cases[i].len > 1000)
			g_assert_cmpuint(zlen, <, cases[i].len / 2);

		back = msb_zip_unpack_single(z, zlen, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_true(g_bytes_equal(back, data));

		entries = unpack_exact(z, zlen, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entries->len, ==, 1);
		assert_entry(entries, 0, "d", g_bytes_get_data(data, NULL), cases[i].len);
	}
}

/* What §6.1 asks of the writer: deflate, sizes and CRC in the local header, no data descriptor,
 * a central directory and an end record without comment. Also reproducible. */
static void
test_single_layout(void)
{
	const gchar *text = "hello hello hello hello";
	g_autoptr(GBytes) zip = NULL;
	g_autoptr(GBytes) again = NULL;
	g_autoptr(GError) error = NULL;
	const guint8 *z;
	gsize len = 0;
	ZipLayout l;

	zip = msb_zip_pack_single((const guint8 *)text, strlen(text), &error);
	g_assert_no_error(error);
	z = g_bytes_get_data(zip, &len);
	g_assert_cmphex(get_u32(z), ==, 0x04034b50);
	g_assert_cmpuint(get_u16(z + 6), ==, 0); /* flags: no data descriptor */
	g_assert_cmpuint(get_u16(z + 8), ==, 8); /* deflate */
	g_assert_cmphex(get_u32(z + 14), ==,
	                0x8d3d51e3); /* CRC-32 of the text (Python zlib.crc32) */
	g_assert_cmpuint(get_u32(z + 18), >, 0);
	g_assert_cmpuint(get_u32(z + 22), ==, strlen(text));
	g_assert_cmpuint(get_u16(z + 26), ==, 1);
	g_assert_cmpint(z[30], ==, 'd');
	l = layout_of(z, len);
	g_assert_cmpuint(l.cd, ==, 30 + 1 + get_u32(z + 18));
	g_assert_cmphex(get_u32(z + l.cd), ==, 0x02014b50);
	g_assert_cmpuint(get_u16(z + l.eocd + 10), ==, 1);
	g_assert_cmpuint(get_u16(z + l.eocd + 20), ==, 0);

	again = msb_zip_pack_single((const guint8 *)text, strlen(text), &error);
	g_assert_true(g_bytes_equal(zip, again));
}

static void
test_per_message_round_trip(void)
{
	g_autoptr(MsbZipWriter) w = msb_zip_writer_new(1);
	g_autoptr(GPtrArray) data = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(GBytes) zip = NULL;
	g_autoptr(GError) error = NULL;
	const guint8 *z;
	gsize len = 0;

	for (guint i = 0; i < 200; i++) {
		/* every tenth message empty, one large */
		gsize n = i % 10 == 0 ? 0 : i == 7 ? 300 * 1024 : i * 3;
		GBytes *b = pattern_bytes(n, i + 100, i % 2 == 0);

		g_assert_true(
		        msb_zip_writer_add_id(w, 100000 + i, g_bytes_get_data(b, NULL), n, &error));
		g_assert_no_error(error);
		g_ptr_array_add(data, b);
	}
	zip = msb_zip_writer_finish(w, &error);
	g_assert_no_error(error);
	z = g_bytes_get_data(zip, &len);

	entries = unpack_exact(z, len, T_LIMIT, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(entries->len, ==, 200);
	for (guint i = 0; i < 200; i++) {
		g_autofree gchar *name = g_strdup_printf("%u", 100000 + i);
		GBytes *b = g_ptr_array_index(data, i);
		assert_entry(entries, i, name, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
	}

	/* not the single-entry layout */
	g_assert_null(msb_zip_unpack_single(z, len, T_LIMIT, &error));
	g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT);
}

static void
test_no_entries(void)
{
	g_autoptr(MsbZipWriter) w = msb_zip_writer_new(-1);
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(GBytes) zip = NULL;
	g_autoptr(GBytes) single = NULL;
	g_autoptr(GError) error = NULL;
	const guint8 *z;
	gsize len = 0;

	zip = msb_zip_writer_finish(w, &error);
	g_assert_no_error(error);
	z = g_bytes_get_data(zip, &len);
	g_assert_cmpuint(len, ==, 22);
	entries = unpack_exact(z, len, T_LIMIT, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(entries->len, ==, 0);

	single = msb_zip_unpack_single(z, len, T_LIMIT, &error);
	g_assert_null(single);
	g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT);
}

static void
test_writer_limits(void)
{
	g_autoptr(MsbZipWriter) w = msb_zip_writer_new(-1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *long_name = g_strnfill(65536, 'n');

	g_assert_false(msb_zip_writer_add(w, long_name, (const guint8 *)"x", 1, &error));
	g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE);
	g_clear_error(&error);

	/* a failed add leaves the writer usable */
	g_assert_true(msb_zip_writer_add(w, "ok", (const guint8 *)"x", 1, &error));
	g_assert_no_error(error);
	{
		g_autoptr(GBytes) zip = msb_zip_writer_finish(w, &error);
		g_autoptr(GPtrArray) entries = NULL;
		gsize len = 0;
		const guint8 *z = g_bytes_get_data(zip, &len);

		entries = unpack_exact(z, len, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entries->len, ==, 1);
		assert_entry(entries, 0, "ok", (const guint8 *)"x", 1);
	}
}

/* ---- archives from other writers ---- */

/* Info-ZIP's zip: a seekable file (sizes in the local header, empty files stored), stored
 * entries (-0), an archive comment (-z), and streaming to stdout (data descriptors). */
static void
test_info_zip(void)
{
	g_autofree gchar *zip = find_tool("MSB_TEST_ZIP", "zip");
	g_autoptr(GBytes) d = pattern_bytes(200 * 1024, 7, TRUE);
	g_autoptr(GBytes) big = pattern_bytes(64 * 1024, 8, FALSE);
	const guint8 *dd = g_bytes_get_data(d, NULL);
	const guint8 *bd = g_bytes_get_data(big, NULL);
	TmpDir t;

	if (zip == NULL) {
		g_test_skip("Info-ZIP zip is not installed (scripts/install-deps.sh installs it)");
		return;
	}
	tmp_dir_init(&t);
	g_free(tmp_dir_write(&t, "d", dd, g_bytes_get_size(d)));
	g_free(tmp_dir_write(&t, "empty", (const guint8 *)"", 0));
	g_free(tmp_dir_write(&t, "big", bd, g_bytes_get_size(big)));
	g_free(tmp_dir_write(&t, "comment.txt", (const guint8 *)"an archive comment\n", 19));

	{
		/* deflate, extra fields (no -X), an empty (stored) entry and an archive comment */
		const gchar *argv[] = {"/bin/sh", "-c",
		                       "\"$0\" -q a.zip d empty big && \"$0\" -q -z a.zip < "
		                       "comment.txt",
		                       zip, NULL};
		g_autoptr(GError) error = NULL;
		g_autofree gchar *path = g_build_filename(t.dir, "a.zip", NULL);
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(GPtrArray) entries = NULL;
		const guint8 *z;
		gsize len = 0;

		g_assert_true(run_tool(t.dir, argv, NULL, &error));
		g_assert_no_error(error);
		archive = read_file_bytes(path);
		z = g_bytes_get_data(archive, &len);
		g_assert_cmpuint(get_u16(z + len - 18 - 2), ==,
		                 18); /* the comment, newline dropped */
		entries = unpack_exact(z, len, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entries->len, ==, 3);
		assert_entry(entries, 0, "d", dd, g_bytes_get_size(d));
		assert_entry(entries, 1, "empty", (const guint8 *)"", 0);
		assert_entry(entries, 2, "big", bd, g_bytes_get_size(big));
	}
	{
		/* stored only */
		const gchar *argv[] = {zip, "-q", "-X", "-0", "s.zip", "d", "big", NULL};
		g_autoptr(GError) error = NULL;
		g_autofree gchar *path = g_build_filename(t.dir, "s.zip", NULL);
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(GPtrArray) entries = NULL;
		const guint8 *z;
		gsize len = 0;

		g_assert_true(run_tool(t.dir, argv, NULL, &error));
		g_assert_no_error(error);
		archive = read_file_bytes(path);
		z = g_bytes_get_data(archive, &len);
		g_assert_cmpuint(get_u16(z + 8), ==, 0);
		entries = unpack_exact(z, len, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entries->len, ==, 2);
		assert_entry(entries, 0, "d", dd, g_bytes_get_size(d));
		assert_entry(entries, 1, "big", bd, g_bytes_get_size(big));
	}
	{
		/* to a pipe: zip cannot seek back, so it writes data descriptors */
		const gchar *argv[] = {"/bin/sh", "-c", "\"$0\" -q -X - d big | cat > p.zip", zip,
		                       NULL};
		g_autoptr(GError) error = NULL;
		g_autofree gchar *path = g_build_filename(t.dir, "p.zip", NULL);
		g_autoptr(GBytes) archive = NULL;
		g_autoptr(GPtrArray) entries = NULL;
		const guint8 *z;
		gsize len = 0;

		g_assert_true(run_tool(t.dir, argv, NULL, &error));
		g_assert_no_error(error);
		archive = read_file_bytes(path);
		z = g_bytes_get_data(archive, &len);
		g_assert_cmpuint(len, >, 30);
		g_assert_cmpuint(get_u16(z + 6) & 0x08, !=, 0);
		entries = unpack_exact(z, len, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entries->len, ==, 2);
		assert_entry(entries, 0, "d", dd, g_bytes_get_size(d));
		assert_entry(entries, 1, "big", bd, g_bytes_get_size(big));
	}
	tmp_dir_clear(&t);
}

/* tests/data/zip-data-descriptor.zip, made by tests/data/make-zip-fixtures.py */
static void
test_python_data_descriptor(void)
{
	g_autofree gchar *path =
	        g_test_build_filename(G_TEST_DIST, "data", "zip-data-descriptor.zip", NULL);
	g_autofree gchar *d = NULL;
	g_autoptr(GBytes) archive = read_file_bytes(path);
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(GError) error = NULL;
	GString *s = g_string_new(NULL);
	const guint8 *z;
	gsize len = 0;

	for (guint i = 0; i < 50; i++)
		g_string_append(s, "single-entry payload ");
	d = g_string_free(s, FALSE);
	z = g_bytes_get_data(archive, &len);
	g_assert_cmpuint(get_u16(z + 6) & 0x08, !=, 0); /* the fixture has data descriptors */

	entries = unpack_exact(z, len, T_LIMIT, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(entries->len, ==, 3);
	assert_entry(entries, 0, "d", (const guint8 *)d, strlen(d));
	assert_entry(entries, 1, "stored", (const guint8 *)"0123456789", 10);
	assert_entry(entries, 2, "empty", (const guint8 *)"", 0);
}

/* One entry built by hand: method 8 with no data at all for an empty file (Python's zipfile
 * reads it as empty, unzip -t complains), and a local extra field that the central record does
 * not have. */
static void
test_hand_built(void)
{
	static const guint8 archive[] = {
	        /* local header: version 20, flags 0, method 8, time, date, CRC 0, sizes 0, name 1,
	         * extra 4 */
	        0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	        0, 0, 0, 1, 0, 4, 0, 'e', 0xfe, 0xca, 0, 0,
	        /* central record at 35 */
	        0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0,
	        0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'e',
	        /* end record: 1 entry, directory of 47 bytes at 35 */
	        0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0, 47, 0, 0, 0, 35, 0, 0, 0, 0, 0};
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = unpack_exact(archive, sizeof(archive), T_LIMIT, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(entries->len, ==, 1);
	assert_entry(entries, 0, "e", (const guint8 *)"", 0);
}

/* ---- archives we make, read by other readers ---- */

static void
test_read_by_others(void)
{
	g_autofree gchar *unzip = find_tool("MSB_TEST_UNZIP", "unzip");
	g_autofree gchar *python = find_tool("MSB_TEST_PYTHON", "python3");
	g_autoptr(GBytes) payload = pattern_bytes(1024 * 1024, 11, TRUE);
	g_autoptr(GBytes) single = NULL;
	g_autoptr(GBytes) multi = NULL;
	g_autoptr(GBytes) empty = NULL;
	g_autoptr(MsbZipWriter) w = msb_zip_writer_new(-1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *single_path = NULL;
	g_autofree gchar *multi_path = NULL;
	g_autofree gchar *empty_path = NULL;
	TmpDir t;

	if (unzip == NULL && python == NULL) {
		g_test_skip("neither unzip nor python3 is installed");
		return;
	}
	single = msb_zip_pack_single(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload),
	                             &error);
	g_assert_no_error(error);
	for (gint64 id = 0; id < 5; id++)
		g_assert_true(msb_zip_writer_add_id(w, id, (const guint8 *)"message", id, &error));
	multi = msb_zip_writer_finish(w, &error);
	g_assert_no_error(error);
	empty = msb_zip_pack_single(NULL, 0, &error);
	g_assert_no_error(error);

	tmp_dir_init(&t);
	single_path = tmp_dir_write(&t, "single.zip", g_bytes_get_data(single, NULL),
	                            g_bytes_get_size(single));
	multi_path = tmp_dir_write(&t, "multi.zip", g_bytes_get_data(multi, NULL),
	                           g_bytes_get_size(multi));
	empty_path = tmp_dir_write(&t, "empty.zip", g_bytes_get_data(empty, NULL),
	                           g_bytes_get_size(empty));

	if (unzip != NULL) {
		const gchar *paths[] = {single_path, multi_path, empty_path};
		for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
			const gchar *argv[] = {unzip, "-t", "-q", paths[i], NULL};
			g_assert_true(run_tool(t.dir, argv, NULL, &error));
			g_assert_no_error(error);
		}
	}
	if (python != NULL) {
		/* testzip() checks every CRC; the listing checks names, sizes and methods */
		const gchar *script =
		        "import sys, zipfile\n"
		        "for p in sys.argv[1:]:\n"
		        "    z = zipfile.ZipFile(p)\n"
		        "    assert z.testzip() is None, p\n"
		        "    print(' '.join('%s:%d:%d:%d' % (i.filename, i.file_size, "
		        "i.compress_type,\n"
		        "                   len(z.read(i))) for i in z.infolist()))\n";
		const gchar *argv[] = {python,     "-c",       script, single_path,
		                       multi_path, empty_path, NULL};
		g_autofree gchar *out = NULL;

		g_assert_true(run_tool(t.dir, argv, &out, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(out, ==,
		                "d:1048576:8:1048576\n"
		                "0:0:8:0 1:1:8:1 2:2:8:2 3:3:8:3 4:4:8:4\n"
		                "d:0:8:0\n");
	}
	tmp_dir_clear(&t);
}

/* ---- damaged archives ---- */

static void
test_truncated(void)
{
	g_autoptr(GBytes) zip = two_entry_archive();
	gsize len = 0;
	const guint8 *z = g_bytes_get_data(zip, &len);

	for (gsize cut = 0; cut < len; cut++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) entries = unpack_exact(z, cut, T_LIMIT, &error);

		g_assert_null(entries);
		g_assert_nonnull(error);
		g_assert_true(error->domain == MSB_ZIP_ERROR);
	}
	/* also the head of the archive with a valid-looking end record after it */
	for (gsize cut = 0; cut < len - 22; cut++) {
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *copy = g_malloc(cut + 22);
		g_autoptr(GPtrArray) entries = NULL;

		memcpy(copy, z, cut);
		memcpy(copy + cut, z + len - 22, 22);
		entries = unpack_exact(copy, cut + 22, T_LIMIT, &error);
		g_assert_null(entries);
		g_assert_nonnull(error);
	}
}

/* Any single damaged byte either fails or changes nothing we return (timestamps, attributes
 * and "version made by" are not checked). */
static void
test_flipped_bytes(void)
{
	g_autoptr(GBytes) zip = two_entry_archive();
	gsize len = 0;
	const guint8 *z = g_bytes_get_data(zip, &len);
	g_autofree guint8 *copy = g_memdup2(z, len);
	guint n_errors = 0;

	for (gsize at = 0; at < len; at++) {
		static const guint8 masks[] = {0x01, 0x80, 0xff};
		for (gsize m = 0; m < G_N_ELEMENTS(masks); m++) {
			g_autoptr(GError) error = NULL;
			g_autoptr(GPtrArray) entries = NULL;

			copy[at] ^= masks[m];
			entries = unpack_exact(copy, len, T_LIMIT, &error);
			copy[at] ^= masks[m];
			if (entries == NULL) {
				g_assert_nonnull(error);
				n_errors++;
				continue;
			}
			g_assert_no_error(error);
			assert_two_entries(entries);
		}
	}
	g_assert_cmpuint(n_errors, >, len);
}

static void
test_bad_fields(void)
{
	g_autoptr(GBytes) zip = two_entry_archive();
	gsize len = 0;
	const guint8 *z = g_bytes_get_data(zip, &len);
	ZipLayout l = layout_of(z, len);
	guint32 crc = get_u32(z + 14);
	guint32 csize = get_u32(z + 18);
	guint32 usize = get_u32(z + 22);
	struct {
		const gchar *what;
		gsize at[2]; /* the same field in the local header and the central record */
		guint32 value;
		gsize width;
		gint code;
	} cases[] = {
	        {"bad CRC", {14, l.cd + 16}, crc ^ 1, 4, MSB_ZIP_ERROR_CRC_MISMATCH},
	        {"usize too large", {22, l.cd + 24}, usize + 1, 4, MSB_ZIP_ERROR_CORRUPT},
	        {"usize too small", {22, l.cd + 24}, usize - 1, 4, MSB_ZIP_ERROR_CORRUPT},
	        {"csize too small", {18, l.cd + 20}, csize - 1, 4, MSB_ZIP_ERROR_CORRUPT},
	        {"csize past the data", {18, l.cd + 20}, csize + 100, 4, MSB_ZIP_ERROR_CORRUPT},
	        {"huge usize", {22, l.cd + 24}, 0xfffffffe, 4, MSB_ZIP_ERROR_TOO_LARGE},
	        {"zip64 usize", {22, l.cd + 24}, 0xffffffff, 4, MSB_ZIP_ERROR_UNSUPPORTED},
	        {"zip64 csize", {18, l.cd + 20}, 0xffffffff, 4, MSB_ZIP_ERROR_UNSUPPORTED},
	        {"encrypted", {6, l.cd + 8}, 0x0001, 2, MSB_ZIP_ERROR_UNSUPPORTED},
	        {"strong encryption", {6, l.cd + 8}, 0x0040, 2, MSB_ZIP_ERROR_UNSUPPORTED},
	        {"bzip2", {8, l.cd + 10}, 12, 2, MSB_ZIP_ERROR_UNSUPPORTED},
	        {"stored with csize != usize", {8, l.cd + 10}, 0, 2, MSB_ZIP_ERROR_CORRUPT},
	        {"local sizes disagree", {22, 22}, usize + 5, 4, MSB_ZIP_ERROR_CORRUPT},
	        {"central CRC disagrees",
	         {l.cd + 16, l.cd + 16},
	         crc ^ 2,
	         4,
	         MSB_ZIP_ERROR_CORRUPT},
	        {"local offset outside", {l.cd + 42, l.cd + 42}, l.cd, 4, MSB_ZIP_ERROR_CORRUPT},
	        {"local offset zip64",
	         {l.cd + 42, l.cd + 42},
	         0xffffffff,
	         4,
	         MSB_ZIP_ERROR_UNSUPPORTED},
	        {"start disk", {l.cd + 34, l.cd + 34}, 1, 2, MSB_ZIP_ERROR_UNSUPPORTED},
	        {"name length past the directory",
	         {l.cd + 28, l.cd + 28},
	         0xffff,
	         2,
	         MSB_ZIP_ERROR_CORRUPT},
	        {"this disk", {l.eocd + 4, l.eocd + 4}, 1, 2, MSB_ZIP_ERROR_UNSUPPORTED},
	        {"directory disk", {l.eocd + 6, l.eocd + 6}, 1, 2, MSB_ZIP_ERROR_UNSUPPORTED},
	        {"too many entries", {l.eocd + 8, l.eocd + 10}, 0xfffe, 2, MSB_ZIP_ERROR_CORRUPT},
	        {"one entry too many", {l.eocd + 8, l.eocd + 10}, 3, 2, MSB_ZIP_ERROR_CORRUPT},
	        {"directory size too large",
	         {l.eocd + 12, l.eocd + 12},
	         0x10000,
	         4,
	         MSB_ZIP_ERROR_TRUNCATED},
	        {"directory size zip64",
	         {l.eocd + 12, l.eocd + 12},
	         0xffffffff,
	         4,
	         MSB_ZIP_ERROR_UNSUPPORTED},
	        {"directory offset past the end",
	         {l.eocd + 16, l.eocd + 16},
	         (guint32)len,
	         4,
	         MSB_ZIP_ERROR_TRUNCATED},
	        {"directory offset off by one",
	         {l.eocd + 16, l.eocd + 16},
	         (guint32)l.cd + 1,
	         4,
	         MSB_ZIP_ERROR_TRUNCATED},
	        {"comment length", {l.eocd + 20, l.eocd + 20}, 1, 2, MSB_ZIP_ERROR_CORRUPT},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree guint8 *copy = g_memdup2(z, len);
		g_autoptr(GPtrArray) entries = NULL;
		g_autoptr(GError) error = NULL;

		for (gsize k = 0; k < 2; k++) {
			if (cases[i].width == 2)
				put_u16(copy + cases[i].at[k], (guint16)cases[i].value);
			else
				put_u32(copy + cases[i].at[k], cases[i].value);
		}
		g_test_message("%s", cases[i].what);
		entries = unpack_exact(copy, len, T_LIMIT, &error);
		g_assert_null(entries);
		g_assert_error(error, MSB_ZIP_ERROR, cases[i].code);
	}

	/* a size limit below the real total */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) entries = unpack_exact(z, len, usize + 2, &error);
		g_assert_null(entries);
		g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) entries = unpack_exact(z, len, usize + 3, &error);
		g_assert_no_error(error);
		assert_two_entries(entries);
	}
	/* bit 3 with zeroed local fields is accepted (the central directory has the truth) */
	{
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *copy = g_memdup2(z, len);
		g_autoptr(GPtrArray) entries = NULL;

		put_u16(copy + 6, 0x0008);
		memset(copy + 14, 0, 12);
		entries = unpack_exact(copy, len, T_LIMIT, &error);
		g_assert_no_error(error);
		assert_two_entries(entries);
	}
	/* ... but a local field that is filled in must still agree */
	{
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *copy = g_memdup2(z, len);
		g_autoptr(GPtrArray) entries = NULL;

		put_u16(copy + 6, 0x0008);
		memset(copy + 14, 0, 8);
		put_u32(copy + 22, usize + 1);
		entries = unpack_exact(copy, len, T_LIMIT, &error);
		g_assert_null(entries);
		g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT);
	}
}

/* Hostile archives built by hand: a huge declared size with hardly any data, many directory
 * records pointing at one entry, a zip64 locator, trailing bytes, plain garbage. */
static void
test_hostile(void)
{
	g_autoptr(GBytes) zip = two_entry_archive();
	gsize len = 0;
	const guint8 *z = g_bytes_get_data(zip, &len);
	ZipLayout l = layout_of(z, len);

	/* 0 and 21 bytes, 22 zero bytes, random bytes, an end record alone pointing nowhere */
	{
		static const guint8 zeros[64] = {0};
		g_autoptr(GBytes) noise = pattern_bytes(4096, 99, FALSE);
		const guint8 *inputs[] = {NULL, zeros, zeros, g_bytes_get_data(noise, NULL)};
		gsize lens[] = {0, 21, 22, 4096};

		for (gsize i = 0; i < G_N_ELEMENTS(inputs); i++) {
			g_autoptr(GError) error = NULL;
			g_autoptr(GPtrArray) entries =
			        unpack_exact(inputs[i], lens[i], T_LIMIT, &error);
			g_assert_null(entries);
			g_assert_nonnull(error);
		}
	}
	/* trailing bytes after the end record */
	{
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *copy = g_malloc0(len + 5);
		g_autoptr(GPtrArray) entries = NULL;

		memcpy(copy, z, len);
		entries = unpack_exact(copy, len + 5, T_LIMIT, &error);
		g_assert_null(entries);
		g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT);
	}
	/* a zip64 end-of-central-directory locator in front of the end record */
	{
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *copy = g_malloc0(len + 20);
		g_autoptr(GPtrArray) entries = NULL;

		memcpy(copy, z, l.eocd);
		put_u32(copy + l.eocd, 0x07064b50);
		memcpy(copy + l.eocd + 20, z + l.eocd, 22);
		entries = unpack_exact(copy, len + 20, T_LIMIT, &error);
		g_assert_null(entries);
		g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED);
	}
	/* 1,000 directory records for the same 1 MiB entry: 1 GB unpacked from a small archive */
	{
		g_autoptr(GBytes) payload = pattern_bytes(1024 * 1024, 5, TRUE);
		g_autoptr(GBytes) one = msb_zip_pack_single(g_bytes_get_data(payload, NULL),
		                                            g_bytes_get_size(payload), NULL);
		gsize olen = 0;
		const guint8 *o = g_bytes_get_data(one, &olen);
		ZipLayout ol = layout_of(o, olen);
		gsize rec_len = ol.eocd - ol.cd;
		guint n = 1000;
		gsize blen = ol.cd + n * rec_len + 22;
		g_autofree guint8 *bomb = g_malloc(blen);
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) entries = NULL;

		memcpy(bomb, o, ol.cd);
		for (guint i = 0; i < n; i++)
			memcpy(bomb + ol.cd + i * rec_len, o + ol.cd, rec_len);
		memcpy(bomb + blen - 22, o + ol.eocd, 22);
		put_u16(bomb + blen - 22 + 8, (guint16)n);
		put_u16(bomb + blen - 22 + 10, (guint16)n);
		put_u32(bomb + blen - 22 + 12, (guint32)(n * rec_len));
		entries = unpack_exact(bomb, blen, T_LIMIT, &error);
		g_assert_null(entries);
		g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE);
		g_clear_error(&error);

		/* with a limit that allows it, the same bytes are read 10 times */
		put_u16(bomb + blen - 22 + 8, 10);
		put_u16(bomb + blen - 22 + 10, 10);
		put_u32(bomb + blen - 22 + 12, (guint32)(10 * rec_len));
		memmove(bomb + ol.cd + 10 * rec_len, bomb + blen - 22, 22);
		entries = unpack_exact(bomb, ol.cd + 10 * rec_len + 22, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(entries->len, ==, 10);
	}
	/* deflate data that is garbage */
	{
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *copy = g_memdup2(z, len);
		g_autoptr(GPtrArray) entries = NULL;

		memset(copy + 31, 0xff, get_u32(z + 18));
		entries = unpack_exact(copy, len, T_LIMIT, &error);
		g_assert_null(entries);
		g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT);
	}
	/* an end record signature inside the comment is not taken for the record */
	{
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *copy = g_malloc(len + 30);
		g_autoptr(GPtrArray) entries = NULL;

		memcpy(copy, z, len);
		put_u16(copy + l.eocd + 20, 30);
		memset(copy + len, 'c', 30);
		memcpy(copy + len + 2, z + l.eocd, 22); /* a fake record with comment length 0 */
		put_u32(copy + len + 2 + 16, 0);
		entries = unpack_exact(copy, len + 30, T_LIMIT, &error);
		g_assert_no_error(error);
		assert_two_entries(entries);
	}
}

/* ---- chunks (§6.4) ---- */

static void
test_chunks(void)
{
	g_autoptr(GBytes) payload = pattern_bytes(3 * MSB_ZIP_CHUNK_SIZE + 1, 3, FALSE);
	g_autoptr(GBytes) exact = pattern_bytes(2 * MSB_ZIP_CHUNK_SIZE, 4, FALSE);
	g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
	g_autoptr(GPtrArray) chunks = msb_chunks_split(payload, MSB_ZIP_CHUNK_SIZE);
	g_autoptr(GPtrArray) chunks2 = msb_chunks_split(exact, MSB_ZIP_CHUNK_SIZE);
	g_autoptr(GPtrArray) chunks0 = msb_chunks_split(empty, MSB_ZIP_CHUNK_SIZE);
	g_autoptr(GByteArray) acc = g_byte_array_new();
	g_autoptr(GBytes) joined = NULL;
	g_autoptr(GBytes) joined0 = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(chunks->len, ==, 4);
	for (guint i = 0; i < 3; i++)
		g_assert_cmpuint(g_bytes_get_size(g_ptr_array_index(chunks, i)), ==,
		                 MSB_ZIP_CHUNK_SIZE);
	g_assert_cmpuint(g_bytes_get_size(g_ptr_array_index(chunks, 3)), ==, 1);
	g_assert_cmpuint(chunks2->len, ==, 2);
	g_assert_cmpuint(chunks0->len, ==, 0);

	joined = msb_chunks_join(chunks, 3 * MSB_ZIP_CHUNK_SIZE + 1, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(joined, payload));
	joined0 = msb_chunks_join(chunks0, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(joined0), ==, 0);

	g_assert_null(msb_chunks_join(chunks, 3 * MSB_ZIP_CHUNK_SIZE, &error));
	g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE);
	g_clear_error(&error);

	/* the streaming receiver */
	for (guint i = 0; i < chunks->len; i++) {
		gsize n = 0;
		const guint8 *d = g_bytes_get_data(g_ptr_array_index(chunks, i), &n);
		gboolean ok = msb_chunks_append(acc, d, n, 3 * MSB_ZIP_CHUNK_SIZE, &error);
		if (i < 3) {
			g_assert_no_error(error);
			g_assert_true(ok);
		} else {
			g_assert_false(ok);
			g_assert_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE);
		}
	}
	g_assert_cmpuint(acc->len, ==, 3 * MSB_ZIP_CHUNK_SIZE);
	g_assert_cmpmem(acc->data, acc->len, g_bytes_get_data(payload, NULL), acc->len);
	g_clear_error(&error);

	/* a payload zipped, chunked, joined and unzipped (the G3 SaveMessages path) */
	{
		g_autoptr(GBytes) data = pattern_bytes(7 * 1024 * 1024, 21, FALSE);
		g_autoptr(GBytes) zip = msb_zip_pack_single(g_bytes_get_data(data, NULL),
		                                            g_bytes_get_size(data), NULL);
		g_autoptr(GPtrArray) parts = msb_chunks_split(zip, MSB_ZIP_CHUNK_SIZE);
		g_autoptr(GBytes) whole = msb_chunks_join(parts, T_LIMIT, &error);
		g_autoptr(GBytes) back = NULL;
		gsize wlen = 0;
		const guint8 *w = g_bytes_get_data(whole, &wlen);

		g_assert_no_error(error);
		g_assert_cmpuint(parts->len, ==, 3);
		back = msb_zip_unpack_single(w, wlen, T_LIMIT, &error);
		g_assert_no_error(error);
		g_assert_true(g_bytes_equal(back, data));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/zip/single/round-trip", test_single_round_trip);
	g_test_add_func("/zip/single/layout", test_single_layout);
	g_test_add_func("/zip/per-message/round-trip", test_per_message_round_trip);
	g_test_add_func("/zip/no-entries", test_no_entries);
	g_test_add_func("/zip/writer-limits", test_writer_limits);
	g_test_add_func("/zip/other-writers/info-zip", test_info_zip);
	g_test_add_func("/zip/other-writers/python-data-descriptor", test_python_data_descriptor);
	g_test_add_func("/zip/other-writers/hand-built", test_hand_built);
	g_test_add_func("/zip/other-readers", test_read_by_others);
	g_test_add_func("/zip/damaged/truncated", test_truncated);
	g_test_add_func("/zip/damaged/flipped-bytes", test_flipped_bytes);
	g_test_add_func("/zip/damaged/bad-fields", test_bad_fields);
	g_test_add_func("/zip/damaged/hostile", test_hostile);
	g_test_add_func("/zip/chunks", test_chunks);
	return g_test_run();
}
