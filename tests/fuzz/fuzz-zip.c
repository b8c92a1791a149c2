/*
 * libFuzzer target for the ZIP reader (src/common/msb-zip.c) and the chunk helpers.
 *
 * Input: a selector byte, then the archive bytes.
 *   selector bits 0-1: the cap on uncompressed bytes: 64, 4 KiB, 256 KiB, 4 MiB
 *   selector bits 2-7: the chunk size for the split/join check, 1 + value
 *
 * Oracles, each an abort:
 *   - a refusal is an MSB_ZIP_ERROR with a message; a success respects the cap;
 *   - an accepted archive, written again by our writer, unpacks to the same entries;
 *   - the cap is exact: the total uncompressed size is accepted, one byte less is TOO_LARGE;
 *   - msb_zip_unpack_single() agrees with msb_zip_unpack() on single-entry "d" archives;
 *   - the bytes cut into chunks and joined again are the bytes.
 */
#include <string.h>

#include "fuzz-common.h"
#include "msb-zip.h"

static const gsize fuzz_caps[] = {64, 4096, 256 * 1024, 4 * 1024 * 1024};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init_logging();
	return 0;
}

static void
fuzz_check_error(const GError *error)
{
	FUZZ_CHECK(error != NULL);
	FUZZ_CHECK(error->domain == MSB_ZIP_ERROR);
	FUZZ_CHECK(error->message != NULL && error->message[0] != '\0');
}

static gboolean
fuzz_same_entries(GPtrArray *a, GPtrArray *b)
{
	if (a->len != b->len)
		return FALSE;
	for (guint i = 0; i < a->len; i++) {
		const MsbZipEntry *x = g_ptr_array_index(a, i);
		const MsbZipEntry *y = g_ptr_array_index(b, i);
		if (g_strcmp0(x->name, y->name) != 0 || !g_bytes_equal(x->data, y->data))
			return FALSE;
	}
	return TRUE;
}

static void
fuzz_rewrite(GPtrArray *entries, gsize cap)
{
	g_autoptr(MsbZipWriter) writer = msb_zip_writer_new(1);
	g_autoptr(GBytes) again = NULL;
	g_autoptr(GPtrArray) back = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *data;

	for (guint i = 0; i < entries->len; i++) {
		const MsbZipEntry *e = g_ptr_array_index(entries, i);
		gsize n = 0;
		const guint8 *d = g_bytes_get_data(e->data, &n);

		/* our writer needs a name; an archive with an empty one is only read */
		if (e->name[0] == '\0')
			return;
		FUZZ_CHECK(msb_zip_writer_add(writer, e->name, d, n, &error));
	}
	again = msb_zip_writer_finish(writer, &error);
	FUZZ_CHECK(again != NULL);
	data = g_bytes_get_data(again, &len);
	back = msb_zip_unpack(data, len, cap, &error);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(fuzz_same_entries(entries, back));
}

static void
fuzz_chunks(const guint8 *data, gsize len, gsize max_chunk)
{
	g_autoptr(GBytes) whole = g_bytes_new(data, len);
	g_autoptr(GPtrArray) chunks = msb_chunks_split(whole, max_chunk);
	g_autoptr(GBytes) joined = NULL;
	g_autoptr(GByteArray) acc = g_byte_array_new();
	g_autoptr(GError) error = NULL;

	FUZZ_CHECK(chunks->len == (len + max_chunk - 1) / max_chunk);
	for (guint i = 0; i < chunks->len; i++) {
		GBytes *c = g_ptr_array_index(chunks, i);
		gsize n = 0;
		const guint8 *d = g_bytes_get_data(c, &n);
		FUZZ_CHECK(n >= 1 && n <= max_chunk);
		FUZZ_CHECK(msb_chunks_append(acc, d, n, len, &error));
	}
	FUZZ_CHECK(acc->len == len && (len == 0 || memcmp(acc->data, data, len) == 0));
	joined = msb_chunks_join(chunks, len, &error);
	FUZZ_CHECK(joined != NULL && g_bytes_get_size(joined) == len);
	if (len > 0) {
		g_autoptr(GBytes) refused = msb_chunks_join(chunks, len - 1, &error);
		FUZZ_CHECK(refused == NULL);
		FUZZ_CHECK(g_error_matches(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(GBytes) single = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) single_error = NULL;
	const guint8 *zip;
	gsize len;
	gsize cap;
	gsize total = 0;

	if (size < 1)
		return 0;
	cap = fuzz_caps[data[0] & 0x3];
	zip = data + 1;
	len = size - 1;

	entries = msb_zip_unpack(zip, len, cap, &error);
	single = msb_zip_unpack_single(zip, len, cap, &single_error);
	if (entries == NULL) {
		fuzz_check_error(error);
		FUZZ_CHECK(single == NULL);
		fuzz_check_error(single_error);
	} else {
		FUZZ_CHECK(error == NULL);
		for (guint i = 0; i < entries->len; i++) {
			const MsbZipEntry *e = g_ptr_array_index(entries, i);
			FUZZ_CHECK(e->name != NULL && e->data != NULL);
			total += g_bytes_get_size(e->data);
		}
		FUZZ_CHECK(total <= cap);
		if (entries->len == 1 &&
		    strcmp(((MsbZipEntry *)g_ptr_array_index(entries, 0))->name,
		           MSB_ZIP_SINGLE_ENTRY_NAME) == 0) {
			FUZZ_CHECK(single != NULL);
			FUZZ_CHECK(g_bytes_equal(
			        single, ((MsbZipEntry *)g_ptr_array_index(entries, 0))->data));
		} else {
			FUZZ_CHECK(single == NULL);
			fuzz_check_error(single_error);
		}
		if (total > 0) {
			g_autoptr(GPtrArray) exact = msb_zip_unpack(zip, len, total, NULL);
			g_autoptr(GPtrArray) under = NULL;
			g_autoptr(GError) under_error = NULL;

			FUZZ_CHECK(exact != NULL && fuzz_same_entries(entries, exact));
			under = msb_zip_unpack(zip, len, total - 1, &under_error);
			FUZZ_CHECK(under == NULL);
			FUZZ_CHECK(g_error_matches(under_error, MSB_ZIP_ERROR,
			                           MSB_ZIP_ERROR_TOO_LARGE));
		}
		fuzz_rewrite(entries, cap);
	}
	fuzz_chunks(zip, len, 1 + (data[0] >> 2));
	return 0;
}
