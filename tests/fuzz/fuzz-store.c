/*
 * libFuzzer target for the store's recovery from on-disk bytes (src/persistence/msb-store-*.c):
 * the input becomes the files of a data folder (write-ahead segments, sealed data files, an
 * index, a queue snapshot) in one reused temporary folder, and the store is opened on it.
 *
 * Speed: most inputs are opened with msb_store_open_recover_only(), the same recovery without
 * the writer and sealer threads and without fsync (and sealing, when asked, runs on this thread),
 * and only some get the oracles that seal and open again (each doubles an input's work): a
 * checksum of the input decides, so that a crash reproduces from its file alone. One input in
 * FUZZ_THREADS_ONE_IN goes through msb_store_open() with the threads, as the service runs it,
 * with the oracles its flags ask for; of the others, one in FUZZ_ORACLES_ONE_IN.
 *
 * The files are built from items, so that the fuzzer can reach past the checksums:
 *   byte 0: flags; bit 0 seal everything after opening, bit 1 open a second time after closing
 *           (for the inputs that get these oracles, see above)
 *   then items: h, u16 length, payload
 *     h bits 0-2: the file: 0 wal-1, 1 wal-2, 2 data-1, 3 data-2, 4 index.log, 5 queue-snapshot,
 *                 6 wal-1 of a second topic, 7 the file of the previous item
 *     h bit 3:    raw bytes (no frame; as the first item of a file also no file header)
 *     h bits 4-6: the frame's record type: 0 the file's own (MESSAGE, BLOCK or INDEX), 1-5 as
 *                 is, 6 and 7 types that do not exist
 *     h bit 7:    help: a BLOCK payload's bytes after its 40-byte head are deflated and its
 *                 uncompressed length set; an INDEX record gets the length and checksum of the
 *                 frame it points at, if there is one
 *   A file gets a valid file header before its first framed item, and frames get valid
 *   checksums (the fuzzer could not find them); anything can still be garbage by raw items.
 *
 * Oracles, each an abort: recovery either fails with an error or opens; reading every topic
 * gives ascending ids that match the topic's count and min/max; sealing everything and opening
 * the folder again do not change what is read; nothing crashes, hangs or reads out of bounds.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz-common.h"
/* msb_store_open_recover_only() */
#include "msb-store-private.h"

#define FUZZ_TOPIC       "fuzz-topic"
#define FUZZ_TOPIC_OTHER "fuzz-other"
#define FUZZ_N_FILES     7
/* one input in this many takes the service's own path (threads, fsync); see above */
#define FUZZ_THREADS_ONE_IN 64
/* one input in this many of the others gets the seal and reopen oracles its flags ask for */
#define FUZZ_ORACLES_ONE_IN 4

static gchar *fuzz_dir;
static gchar *fuzz_topics_dir;
static gchar *fuzz_snapshot_path;

static const gchar *const fuzz_paths[FUZZ_N_FILES] = {
        "topics/" FUZZ_TOPIC "/wal-0000000001.log",
        "topics/" FUZZ_TOPIC "/wal-0000000002.log",
        "topics/" FUZZ_TOPIC "/data-0000000001.dat",
        "topics/" FUZZ_TOPIC "/data-0000000002.dat",
        "topics/" FUZZ_TOPIC "/index.log",
        "queue-snapshot",
        "topics/" FUZZ_TOPIC_OTHER "/wal-0000000001.log",
};
static const guint16 fuzz_own_type[FUZZ_N_FILES] = {
        MSB_REC_MESSAGE, MSB_REC_MESSAGE, MSB_REC_BLOCK, MSB_REC_BLOCK, MSB_REC_INDEX, 0,
        MSB_REC_MESSAGE,
};
static const gchar *const fuzz_magic[FUZZ_N_FILES] = {
        MSB_FILE_MAGIC_WAL,  MSB_FILE_MAGIC_WAL,   MSB_FILE_MAGIC_DATA,
        MSB_FILE_MAGIC_DATA, MSB_FILE_MAGIC_INDEX, NULL,
        MSB_FILE_MAGIC_WAL,
};

static void
fuzz_cleanup(void)
{
	if (fuzz_dir != NULL) {
		g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fuzz_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "fuzz-store: could not remove %s\n", fuzz_dir);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const gchar *base = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : NULL;
	g_autofree gchar *tmpl = g_build_filename(base != NULL ? base : g_get_tmp_dir(),
	                                          "msb-fuzz-store-XXXXXX", NULL);

	fuzz_init_logging();
	fuzz_dir = g_mkdtemp(g_steal_pointer(&tmpl));
	if (fuzz_dir == NULL) {
		fprintf(stderr, "fuzz-store: cannot create a temporary folder: %s\n",
		        g_strerror(errno));
		abort();
	}
	fuzz_topics_dir = g_build_filename(fuzz_dir, "topics", NULL);
	fuzz_snapshot_path = g_build_filename(fuzz_dir, "queue-snapshot", NULL);
	atexit(fuzz_cleanup);
	return 0;
}

/* Empties a folder (no recursion needed beyond the two levels the store uses). */
static void
fuzz_empty_dir(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;

	if (dir == NULL)
		return;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);

		/* one call for a file or a symbolic link; a folder refuses (EISDIR on Linux) */
		if (unlink(child) == 0)
			continue;
		FUZZ_CHECK(errno == EISDIR || errno == EPERM);
		fuzz_empty_dir(child);
		FUZZ_CHECK(rmdir(child) == 0);
	}
}

typedef struct {
	GByteArray *bytes[FUZZ_N_FILES];
	GArray *index_fixups; /* guint: offsets of INDEX payloads in bytes[4] */
} FuzzFiles;

static void
fuzz_block_help(GByteArray *payload)
{
	gsize raw_len;
	uLongf out_len;
	g_autofree guint8 *out = NULL;

	if (payload->len < MSB_BLOCK_PAYLOAD_HEAD)
		return;
	raw_len = payload->len - MSB_BLOCK_PAYLOAD_HEAD;
	out_len = compressBound(raw_len);
	out = g_malloc(out_len);
	FUZZ_CHECK(compress2(out, &out_len, payload->data + MSB_BLOCK_PAYLOAD_HEAD, raw_len, 1) ==
	           Z_OK);
	msb_put_u32(payload->data + 24, (guint32)raw_len);
	msb_put_u32(payload->data + 28, MSB_CODEC_ZLIB);
	g_byte_array_set_size(payload, MSB_BLOCK_PAYLOAD_HEAD);
	g_byte_array_append(payload, out, out_len);
}

/* An INDEX record points at a frame: give it that frame's length and checksum. */
static void
fuzz_index_help(FuzzFiles *files, guint at)
{
	guint8 *p = files->bytes[4]->data + at;
	guint8 *hdr = p - MSB_FRAME_HEADER_SIZE;
	guint32 no = msb_get_u32(p + 24);
	guint64 offset = msb_get_u64(p + 32);
	GByteArray *data;
	guint16 type;
	guint32 len;
	guint32 crc;

	if (no != 1 && no != 2)
		return;
	data = files->bytes[2 + no - 1];
	if (data == NULL || offset > data->len || data->len - offset < MSB_FRAME_HEADER_SIZE)
		return;
	if (msb_frame_parse_header(data->data + offset, data->len - offset, &type, &len, &crc) ==
	    MSB_FRAME_BAD_MAGIC)
		return;
	msb_put_u32(p + 40, MSB_FRAME_HEADER_SIZE + len);
	msb_put_u32(p + 44, crc);
	/* the INDEX frame's own checksum covers what was just changed */
	len = msb_get_u32(hdr + 8);
	type = msb_get_u16(hdr + 12);
	crc = msb_frame_header_begin(hdr, type, len);
	msb_frame_header_finish(hdr, msb_crc32(crc, p, len));
}

static void
fuzz_build(FuzzFiles *files, const guint8 *p, const guint8 *end)
{
	guint last = 0;

	while (end - p >= 3) {
		guint h = *p++;
		gsize n = fuzz_take_u16(&p, end);
		guint target = h & 0x7;

		n = MIN(n, (gsize)(end - p));
		gboolean raw = (h & 0x08) != 0;
		guint type_sel = (h >> 4) & 0x7;
		gboolean help = (h & 0x80) != 0;
		GByteArray *out;

		if (target == 7)
			target = last;
		last = target;
		if (files->bytes[target] == NULL) {
			files->bytes[target] = g_byte_array_new();
			if (!raw && fuzz_magic[target] != NULL) {
				guint8 hdr[MSB_FILE_HEADER_SIZE];
				msb_file_header_write(hdr, fuzz_magic[target]);
				g_byte_array_append(files->bytes[target], hdr, sizeof(hdr));
			}
		}
		out = files->bytes[target];
		if (raw || fuzz_magic[target] == NULL) {
			g_byte_array_append(out, p, (guint)n);
		} else {
			g_autoptr(GByteArray) payload = g_byte_array_new();
			guint16 type = type_sel == 0   ? fuzz_own_type[target]
			               : type_sel == 6 ? 6
			               : type_sel == 7 ? 0xffff
			                               : (guint16)type_sel;

			g_byte_array_append(payload, p, (guint)n);
			if (help && type == MSB_REC_BLOCK)
				fuzz_block_help(payload);
			if (help && type == MSB_REC_INDEX && target == 4 &&
			    payload->len >= MSB_INDEX_PAYLOAD) {
				guint at = out->len + MSB_FRAME_HEADER_SIZE;
				g_array_append_val(files->index_fixups, at);
			}
			msb_frame_append(out, type, payload->data, payload->len);
		}
		p += n;
	}
	/* after everything, so that an index may come before the data it points into */
	for (guint i = 0; i < files->index_fixups->len; i++)
		fuzz_index_help(files, g_array_index(files->index_fixups, guint, i));
}

static void
fuzz_write(const FuzzFiles *files)
{
	for (guint i = 0; i < FUZZ_N_FILES; i++) {
		g_autofree gchar *path = NULL;
		g_autofree gchar *dir = NULL;

		if (files->bytes[i] == NULL)
			continue;
		path = g_build_filename(fuzz_dir, fuzz_paths[i], NULL);
		dir = g_path_get_dirname(path);
		/* g_mkdir_with_parents() looks at every level; usually only the last is missing */
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			FUZZ_CHECK(g_mkdir_with_parents(dir, 0755) == 0);
		/* written in place: no temporary file, no rename, no fsync */
		FUZZ_CHECK(g_file_set_contents_full(path, (const gchar *)files->bytes[i]->data,
		                                    files->bytes[i]->len, G_FILE_SET_CONTENTS_NONE,
		                                    0644, NULL));
	}
}

typedef struct {
	GChecksum *sum;
	gint64 last_id;
	gint64 n;
} FuzzRead;

static gboolean
fuzz_read_cb(MsbStoreMessage *msg, gpointer user_data)
{
	FuzzRead *r = user_data;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(msg->content, &len);
	guint32 n_headers = msg->headers != NULL ? msg->headers->len : 0;

	FUZZ_CHECK(msg->id > r->last_id);
	r->last_id = msg->id;
	r->n++;
	g_checksum_update(r->sum, (const guchar *)&msg->id, sizeof(msg->id));
	g_checksum_update(r->sum, (const guchar *)&msg->created, sizeof(msg->created));
	g_checksum_update(r->sum, (const guchar *)&len, sizeof(len));
	if (len > 0)
		g_checksum_update(r->sum, data, len);
	g_checksum_update(r->sum, (const guchar *)&n_headers, sizeof(n_headers));
	for (guint i = 0; i < n_headers; i++) {
		const MsbStoreHeader *h = g_ptr_array_index(msg->headers, i);
		FUZZ_CHECK(g_utf8_validate(h->key, -1, NULL) &&
		           g_utf8_validate(h->value, -1, NULL));
		g_checksum_update(r->sum, (const guchar *)h->key, (gssize)strlen(h->key) + 1);
		g_checksum_update(r->sum, (const guchar *)h->value, (gssize)strlen(h->value) + 1);
	}
	msb_store_message_free(msg);
	return TRUE;
}

/*
 * Everything the store serves, as a digest; NULL when a read failed (damage found only when
 * reading is reported, never served).
 */
static gchar *
fuzz_read_all(MsbStore *store)
{
	g_autoptr(GPtrArray) topics = NULL;
	g_autoptr(GChecksum) all = g_checksum_new(G_CHECKSUM_SHA256);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) snapshot = NULL;
	gboolean ok = TRUE;

	topics = msb_store_list_topics(store, &error);
	FUZZ_CHECK(topics != NULL);
	for (guint i = 0; i < topics->len; i++) {
		const MsbStoreTopicInfo *info = g_ptr_array_index(topics, i);
		FuzzRead r = {g_checksum_new(G_CHECKSUM_SHA256), -1, 0};
		g_autoptr(GError) read_error = NULL;

		FUZZ_CHECK(msb_store_topic_name_is_valid(info->name));
		/* a soft-deleted topic serves nothing, and maintenance may remove it */
		if (info->delete_after_us != 0) {
			g_checksum_free(r.sum);
			continue;
		}
		g_checksum_update(all, (const guchar *)info->name, (gssize)strlen(info->name) + 1);
		if (!msb_store_read_range_foreach(store, info->name, 0, G_MAXINT64, fuzz_read_cb,
		                                  &r, &read_error)) {
			FUZZ_CHECK(read_error != NULL);
			ok = FALSE;
		} else {
			FUZZ_CHECK(r.n == info->count);
			FUZZ_CHECK(info->count == 0 ? info->min_id == -1 && info->max_id == -1
			                            : info->max_id == r.last_id);
			if (info->count > 0) {
				g_autoptr(MsbStoreMessage) first = NULL;
				g_autoptr(GError) first_error = NULL;

				first = msb_store_read_message(store, info->name, info->min_id,
				                               &first_error);
				FUZZ_CHECK(first != NULL || first_error != NULL);
			}
		}
		if (g_getenv("MSB_FUZZ_VERBOSE") != NULL)
			fprintf(stderr, "fuzz-store: %s: %" G_GINT64_FORMAT " messages read, %s\n",
			        info->name, r.n, read_error != NULL ? read_error->message : "ok");
		g_checksum_update(all, (const guchar *)g_checksum_get_string(r.sum), -1);
		g_checksum_free(r.sum);
	}
	snapshot = msb_store_load_snapshot(store, &error);
	if (snapshot != NULL)
		g_checksum_update(all, g_bytes_get_data(snapshot, NULL),
		                  (gssize)g_bytes_get_size(snapshot));
	else if (error != NULL)
		ok = FALSE;
	return ok ? g_strdup(g_checksum_get_string(all)) : NULL;
}

/*
 * Back to an empty data folder for the next input. The fuzz target writes only topic folders and
 * the queue snapshot, and the store adds nothing else at the top but what every recovery creates
 * the same way (the format marker, the lock file, topics/ and trash/, which recovery empties):
 * those stay.
 */
static void
fuzz_reset(void)
{
	fuzz_empty_dir(fuzz_topics_dir);
	FUZZ_CHECK(unlink(fuzz_snapshot_path) == 0 || errno == ENOENT);
}

static MsbStore *
fuzz_open(gboolean threads, GError **error)
{
	return threads ? msb_store_open(fuzz_dir, error)
	               : msb_store_open_recover_only(fuzz_dir, error);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzFiles files = {{NULL}, g_array_new(FALSE, FALSE, sizeof(guint))};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *sealed = NULL;
	MsbStore *store;
	gboolean threads;
	guint32 crc;
	guint flags;

	if (size < 1)
		return 0;
	crc = msb_crc32(0, data, size);
	threads = crc % FUZZ_THREADS_ONE_IN == 0;
	flags = data[0];
	if (!threads && crc / FUZZ_THREADS_ONE_IN % FUZZ_ORACLES_ONE_IN != 0)
		flags &= ~3u;
	fuzz_build(&files, data + 1, data + size);
	fuzz_write(&files);
	for (guint i = 0; i < FUZZ_N_FILES; i++)
		if (files.bytes[i] != NULL)
			g_byte_array_unref(files.bytes[i]);
	g_array_unref(files.index_fixups);

	store = fuzz_open(threads, &error);
	if (store == NULL) {
		FUZZ_CHECK(error != NULL);
		if (g_getenv("MSB_FUZZ_VERBOSE") != NULL)
			fprintf(stderr, "fuzz-store: not opened: %s\n", error->message);
		goto out;
	}
	before = fuzz_read_all(store);
	if (flags & 1) {
		g_autoptr(GError) seal_error = NULL;
		if (msb_store_run_maintenance(store, TRUE, &seal_error)) {
			sealed = fuzz_read_all(store);
			/* sealing moves data from the log into blocks: what is served stays */
			if (before != NULL && sealed != NULL)
				FUZZ_CHECK(strcmp(before, sealed) == 0);
		}
	}
	msb_store_close(store);
	if (flags & 2) {
		g_autofree gchar *after = NULL;

		store = fuzz_open(threads, &error);
		/* what recovery accepted once, it accepts again, and serves the same */
		FUZZ_CHECK(store != NULL);
		after = fuzz_read_all(store);
		if (sealed != NULL || (before != NULL && !(flags & 1)))
			FUZZ_CHECK(after != NULL &&
			           strcmp(after, sealed != NULL ? sealed : before) == 0);
		msb_store_close(store);
	}
out:
	fuzz_reset();
	return 0;
}
