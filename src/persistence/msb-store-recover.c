/*
 * Recovery at start: rebuilds the in-memory index of every topic folder from its index log and
 * its write-ahead segments, and cuts what a crash left half-written.
 *
 * Cost: the index log (about 200 bytes per sealed 1000 messages) and the write-ahead segments
 * (only data not yet sealed, plus records not yet collected) are read; sealed data files are
 * never read, only their size is checked. Every record read is checked against its checksum; the
 * first bad record ends what is used of that file. In the file that is appended to, it and
 * everything after it are cut off (truncated) and reported; if valid records follow the bad one
 * (damage in the middle, not a torn write), they are first copied aside to NAME.damaged-OFFSET.
 */
#define G_LOG_DOMAIN "msb-persistence-store"

#include "msb-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MSB_SCAN_CHUNK (1u << 20)

/* Sequential reader of the frames of one file. */
typedef struct {
	MsbStoreFile *file;
	guint64 file_size;
	GByteArray *buf;
	guint64 buf_start;
} MsbScanner;

static gboolean
msb_scanner_fill(MsbScanner *s, guint64 pos, gsize need, GError **error)
{
	gsize want;

	if (pos >= s->buf_start && pos + need <= s->buf_start + s->buf->len)
		return TRUE;
	want = (gsize)MIN(MAX((guint64)need, MSB_SCAN_CHUNK), s->file_size - pos);
	g_byte_array_set_size(s->buf, (guint)want);
	s->buf_start = pos;
	return msb_io_pread(s->file->fd, s->file->path, s->buf->data, want, pos, error);
}

/* The frame at @pos; *frame points into the scanner's buffer until the next call. */
static MsbFrameStatus
msb_scanner_next(MsbScanner *s, guint64 pos, const guint8 **frame, guint16 *type,
                 guint32 *payload_len, GError **error)
{
	guint32 len = 0;
	MsbFrameStatus st;
	const guint8 *p;

	if (s->file_size - pos < MSB_FRAME_HEADER_SIZE)
		return MSB_FRAME_SHORT;
	if (!msb_scanner_fill(s, pos, MSB_FRAME_HEADER_SIZE, error))
		return MSB_FRAME_SHORT;
	p = s->buf->data + (pos - s->buf_start);
	st = msb_frame_parse_header(p, MSB_FRAME_HEADER_SIZE, type, &len, NULL);
	if (st != MSB_FRAME_OK)
		return st;
	if (s->file_size - pos - MSB_FRAME_HEADER_SIZE < len)
		return MSB_FRAME_SHORT;
	if (!msb_scanner_fill(s, pos, MSB_FRAME_HEADER_SIZE + len, error))
		return MSB_FRAME_SHORT;
	p = s->buf->data + (pos - s->buf_start);
	st = msb_frame_check(p, MSB_FRAME_HEADER_SIZE + len, type, payload_len);
	*frame = p;
	return st;
}

/* TRUE when a valid frame starts somewhere after @from: the damage is not a torn tail. */
static gboolean
msb_valid_frame_after(MsbStoreFile *file, guint64 from, guint64 size)
{
	MsbScanner s = {file, size, g_byte_array_new(), 0};
	gboolean found = FALSE;

	for (guint64 pos = from + 1; pos + MSB_FRAME_HEADER_SIZE <= size && !found; pos++) {
		const guint8 *frame = NULL;
		guint16 type = 0;
		guint32 len = 0;
		if (!msb_scanner_fill(&s, pos, 4, NULL))
			break;
		if (msb_get_u32(s.buf->data + (pos - s.buf_start)) != MSB_FRAME_MAGIC)
			continue;
		found = msb_scanner_next(&s, pos, &frame, &type, &len, NULL) == MSB_FRAME_OK;
	}
	g_byte_array_unref(s.buf);
	return found;
}

static gboolean
msb_copy_aside(MsbStore *store, MsbStoreFile *file, guint64 from, guint64 size, gchar **out_path,
               GError **error)
{
	g_autofree gchar *path = g_strdup_printf("%s.damaged-%" G_GUINT64_FORMAT, file->path, from);
	g_autofree guint8 *buf = g_malloc(MSB_SCAN_CHUNK);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		msb_io_set_error(error, errno, "Cannot create %s", path);
		return FALSE;
	}
	for (guint64 pos = from; pos < size;) {
		gsize n = (gsize)MIN((guint64)MSB_SCAN_CHUNK, size - pos);
		if (!msb_io_pread(file->fd, file->path, buf, n, pos, error) ||
		    write(fd, buf, n) != (ssize_t)n) {
			if (error != NULL && *error == NULL)
				msb_io_set_error(error, errno, "Cannot write %s", path);
			close(fd);
			return FALSE;
		}
		pos += n;
	}
	if (!store->io.no_sync && fsync(fd) != 0) {
		msb_io_set_error(error, errno, "Cannot flush %s", path);
		close(fd);
		return FALSE;
	}
	close(fd);
	*out_path = g_steal_pointer(&path);
	return TRUE;
}

/*
 * Deals with a bad record at @bad of @file (@size bytes) of @topic: reports it and, when @is_tail
 * (the file is appended to), cuts the file there so that new records follow the last good one.
 */
static gboolean
msb_handle_bad_record(MsbStore *store, const MsbTopic *topic, MsbStoreFile *file, guint64 bad,
                      guint64 size, const gchar *why, gboolean is_tail, GError **error)
{
	g_autofree gchar *aside = NULL;
	g_autofree gchar *reason = NULL;
	gboolean middle = msb_valid_frame_after(file, bad, size);

	if (middle && is_tail && !msb_copy_aside(store, file, bad, size, &aside, error))
		return FALSE;
	if (middle) {
		reason = g_strdup_printf("damaged record (%s) followed by valid ones%s%s", why,
		                         aside != NULL ? "; the rest was copied to " : "",
		                         aside != NULL ? aside
		                                       : "; the rest of the file is ignored");
		msb_warning_fields(MSB_LOG_TOPIC(topic->name),
		                   "%s: %s at offset %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
		                   " bytes from there %s)",
		                   file->path, reason, bad, size - bad,
		                   is_tail ? "cut off" : "unused");
	} else {
		reason = g_strdup_printf("torn or damaged tail (%s)", why);
		msb_message_fields(
		        MSB_LOG_TOPIC(topic->name),
		        "%s: %s at offset %" G_GUINT64_FORMAT "; %" G_GUINT64_FORMAT " bytes %s",
		        file->path, reason, bad, size - bad, is_tail ? "cut off" : "ignored");
	}
	msb_store_add_cut(store, file->path, bad, size - bad, reason);
	if (is_tail) {
		if (!msb_io_truncate(file->fd, file->path, bad, error) ||
		    !msb_io_sync(&store->io, file->fd, file->path, error))
			return FALSE;
	}
	file->size = bad;
	return TRUE;
}

/* Opens an existing store file and checks its header. NULL + no error = unusable, skip it. */
static MsbStoreFile *
msb_open_file(MsbStore *store, const gchar *dir, MsbFileKind kind, guint32 no, gboolean is_tail,
              gint64 *mtime_us, GError **error)
{
	g_autofree gchar *name = msb_store_file_name(kind, no);
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	guint8 hdr[MSB_FILE_HEADER_SIZE];
	struct stat st;
	MsbStoreFile *file;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		msb_io_set_error(error, errno, "Cannot open %s", path);
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		msb_io_set_error(error, errno, "Cannot inspect %s", path);
		close(fd);
		return NULL;
	}
	*mtime_us = MAX(*mtime_us,
	                (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000);
	file = msb_store_file_new(fd, path, kind, no, (guint64)st.st_size);
	if ((guint64)st.st_size >= MSB_FILE_HEADER_SIZE) {
		if (!msb_io_pread(fd, path, hdr, sizeof(hdr), 0, error)) {
			msb_store_file_unref(file);
			return NULL;
		}
		if (msb_file_header_check(hdr, msb_store_file_magic(kind)))
			return file;
	}
	if (is_tail && (guint64)st.st_size < MSB_FILE_HEADER_SIZE) {
		/* created but its header never reached the disk: start it again */
		msb_file_header_write(hdr, msb_store_file_magic(kind));
		if (!msb_io_pwrite(&store->io, fd, path, hdr, sizeof(hdr), 0, error) ||
		    !msb_io_truncate(fd, path, sizeof(hdr), error) ||
		    !msb_io_sync(&store->io, fd, path, error)) {
			msb_store_file_unref(file);
			return NULL;
		}
		if (st.st_size > 0)
			msb_store_add_cut(store, path, 0, (guint64)st.st_size,
			                  "torn file header rewritten");
		file->size = MSB_FILE_HEADER_SIZE;
		return file;
	}
	g_warning("%s does not start with a valid %s header; it is left alone and not used", path,
	          kind == MSB_FILE_WAL ? "write-ahead"
	                               : (kind == MSB_FILE_DATA ? "data" : "index"));
	msb_store_add_cut(store, path, 0, (guint64)st.st_size, "bad file header; file not used");
	msb_store_file_unref(file);
	return NULL;
}

typedef struct {
	gint64 covers_lsn;
	guint32 nparts;
	guint32 got;
	MsbIndexEntry *entries;
} MsbStaged;

static void
msb_staged_free(gpointer data)
{
	MsbStaged *st = data;
	g_free(st->entries);
	g_free(st);
}

static MsbStoreFile *
msb_find_data(MsbTopic *topic, guint32 no)
{
	for (guint i = 0; i < topic->datas->len; i++) {
		MsbStoreFile *f = g_ptr_array_index(topic->datas, i);
		if (f->no == no)
			return f;
	}
	return NULL;
}

/* The newest complete generation of a sub-page becomes its blocks, if its blocks exist. */
static gboolean
msb_commit_generation(MsbTopic *topic, const MsbStaged *st, const gchar **why)
{
	g_autoptr(GPtrArray) blocks = g_ptr_array_new_with_free_func(msb_block_ref_free);
	MsbSubPage *sub;
	gint prev_last = -1;

	for (guint32 i = 0; i < st->nparts; i++) {
		const MsbIndexEntry *e = &st->entries[i];
		MsbStoreFile *data = msb_find_data(topic, e->data_file_no);
		MsbBlockRef *b;
		gint first = msb_bitmap_first(e->bitmap, 0, MSB_STORE_SUB_PAGE_SIZE - 1);

		/* (offset + length may wrap around: compare without adding) */
		if (data == NULL || e->offset < MSB_FILE_HEADER_SIZE || e->offset > data->size ||
		    e->length > data->size - e->offset) {
			/* Sealing must not append to that file: its new blocks would land where
			 * this record points, and the next recovery would take them for this
			 * generation's. */
			if (data != NULL && e->offset >= MSB_FILE_HEADER_SIZE)
				data->broken = TRUE;
			*why = "index record points past the end of its data file";
			return FALSE;
		}
		if (first <= prev_last) {
			*why = "index records of one sub-page overlap";
			return FALSE;
		}
		prev_last = msb_bitmap_last(e->bitmap, 0, MSB_STORE_SUB_PAGE_SIZE - 1);
		b = g_new0(MsbBlockRef, 1);
		b->file = msb_store_file_ref(data);
		b->file->live++;
		b->offset = e->offset;
		b->length = e->length;
		b->crc = e->block_crc;
		b->count = e->count;
		memcpy(b->bitmap, e->bitmap, MSB_BITMAP_BYTES);
		g_ptr_array_add(blocks, b);
	}
	sub = msb_topic_get_sub(topic, st->entries[0].sub_no, TRUE);
	g_clear_pointer(&sub->blocks, g_ptr_array_unref);
	sub->blocks = g_steal_pointer(&blocks);
	sub->covers_lsn = st->covers_lsn;
	msb_sub_page_recount(sub);
	return TRUE;
}

/* g_ptr_array_sort: newer generations (higher covers_lsn) first */
static gint
msb_staged_cmp_newest(gconstpointer a, gconstpointer b)
{
	const MsbStaged *x = *(const MsbStaged *const *)a;
	const MsbStaged *y = *(const MsbStaged *const *)b;
	return x->covers_lsn > y->covers_lsn ? -1 : (x->covers_lsn < y->covers_lsn ? 1 : 0);
}

/* Where the complete generations of each data file end: what lies beyond was never committed. */
static void
msb_note_data_ends(GHashTable *data_ends, const MsbStaged *st)
{
	for (guint32 i = 0; i < st->nparts; i++) {
		const MsbIndexEntry *e = &st->entries[i];
		gpointer key = GUINT_TO_POINTER(e->data_file_no);
		guint64 *end = g_hash_table_lookup(data_ends, key);
		if (end == NULL) {
			end = g_new0(guint64, 1);
			g_hash_table_insert(data_ends, key, end);
		}
		/* a record whose end wraps around claims everything: cutting at its wrapped end
		 * (below the file header even) would destroy the file */
		*end = MAX(*end, e->length > G_MAXUINT64 - e->offset ? G_MAXUINT64
		                                                     : e->offset + e->length);
	}
}

static gboolean
msb_replay_index(MsbStore *store, MsbTopic *topic, GHashTable *data_ends, gint64 *max_lsn,
                 GError **error)
{
	MsbStoreFile *index = topic->index;
	MsbScanner s = {index, index->size, g_byte_array_new(), 0};
	g_autoptr(GHashTable) staging =
	        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, msb_staged_free);
	/* every complete generation per sub-page, oldest record first: the newest one whose blocks
	 * exist is used (older ones may point to removed files, a newer one to damage) */
	g_autoptr(GHashTable) final = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
	                                                    (GDestroyNotify)g_ptr_array_unref);
	GHashTableIter iter;
	gpointer value;
	guint64 pos = MSB_FILE_HEADER_SIZE;
	guint64 good_end = pos;  /* end of the last complete unit */
	guint32 max_file_no = 0; /* the highest data file any index record names */
	const gchar *why = NULL;
	gboolean ok = TRUE;

	while (pos < index->size) {
		const guint8 *frame = NULL;
		const guint8 *payload;
		guint16 type = 0;
		guint32 len = 0;
		GError *local = NULL;
		MsbFrameStatus st = msb_scanner_next(&s, pos, &frame, &type, &len, &local);

		if (local != NULL) {
			g_propagate_error(error, local);
			ok = FALSE;
			goto out;
		}
		if (st != MSB_FRAME_OK) {
			why = msb_frame_status_to_string(st);
			break;
		}
		payload = frame + MSB_FRAME_HEADER_SIZE;
		if (type == MSB_REC_INDEX) {
			MsbIndexEntry e;
			MsbStaged *staged;
			if (!msb_index_entry_read(&e, payload, len)) {
				why = "malformed index record";
				break;
			}
			staged = g_hash_table_lookup(staging, &e.sub_no);
			if (staged == NULL || staged->covers_lsn != e.covers_lsn ||
			    staged->nparts != e.nparts) {
				gint64 *key = g_memdup2(&e.sub_no, sizeof(gint64));
				/* a different generation replaces an incomplete one */
				staged = g_new0(MsbStaged, 1);
				staged->covers_lsn = e.covers_lsn;
				staged->nparts = e.nparts;
				staged->entries = g_new0(MsbIndexEntry, e.nparts);
				g_hash_table_insert(staging, key, staged);
			}
			if (staged->entries[e.part].length != 0) {
				why = "index record repeats a part";
				break;
			}
			staged->entries[e.part] = e;
			max_file_no = MAX(max_file_no, e.data_file_no);
			staged->got++;
			*max_lsn = MAX(*max_lsn, e.covers_lsn);
			pos += MSB_FRAME_HEADER_SIZE + len;
			if (staged->got == staged->nparts) {
				GPtrArray *gens = g_hash_table_lookup(final, &e.sub_no);
				gpointer key = NULL;
				msb_note_data_ends(data_ends, staged);
				g_hash_table_steal_extended(staging, &e.sub_no, &key, NULL);
				if (gens == NULL) {
					gens = g_ptr_array_new_with_free_func(msb_staged_free);
					g_hash_table_insert(final, key, gens);
				} else {
					g_free(key);
				}
				g_ptr_array_add(gens, staged);
				good_end = pos;
			}
			continue;
		}
		if (type == MSB_REC_TOPIC_DELETE && len == MSB_DELETE_PAYLOAD) {
			topic->delete_after_us = MAX(msb_get_i64(payload), 1);
		} else if (type == MSB_REC_TOPIC_RESTORE && len == MSB_RESTORE_PAYLOAD) {
			topic->delete_after_us = 0;
		} else {
			why = "unknown record type";
			break;
		}
		pos += MSB_FRAME_HEADER_SIZE + len;
		good_end = pos;
	}
	/* A new data file must not take the number of a missing one that a record names: the next
	 * recovery would read that record's block from it (its sub-page then served as damaged). */
	if (max_file_no >= topic->next_data_no)
		topic->next_data_no = max_file_no + 1;
	g_hash_table_iter_init(&iter, final);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		GPtrArray *gens = value;

		/* newest first; of equal ones the first written, as before (the sort is stable) */
		g_ptr_array_sort(gens, msb_staged_cmp_newest);
		for (guint i = 0; i < gens->len; i++) {
			const MsbStaged *st = g_ptr_array_index(gens, i);
			const gchar *bad = NULL;
			if (msb_commit_generation(topic, st, &bad))
				break;
			msb_warning_fields(
			        MSB_LOG_TOPIC(topic->name),
			        "%s: sealed sub-page %" G_GINT64_FORMAT
			        " (the generation up to sequence number %" G_GINT64_FORMAT
			        ") is not used: %s%s",
			        index->path, st->entries[0].sub_no, st->covers_lsn, bad,
			        i + 1 < gens->len ? "; an older generation is tried" : "");
			msb_store_add_cut(store, index->path, 0, 0, bad);
		}
	}
	if (good_end < index->size) {
		/* a sealed generation whose index records were cut short ends where it began */
		if (why == NULL)
			why = "incomplete sealed sub-page";
		ok = msb_handle_bad_record(store, topic, index, good_end, index->size, why, TRUE,
		                           error);
	}
out:
	g_byte_array_unref(s.buf);
	return ok;
}

static gboolean
msb_scan_wal(MsbStore *store, MsbTopic *topic, MsbStoreFile *wal, gboolean is_tail, gint64 *max_lsn,
             GError **error)
{
	MsbScanner s = {wal, wal->size, g_byte_array_new(), 0};
	guint64 pos = MSB_FILE_HEADER_SIZE;
	const gchar *why = NULL;
	gint64 now = g_get_monotonic_time();
	gboolean ok = TRUE;

	while (pos < wal->size) {
		const guint8 *frame = NULL;
		const guint8 *payload;
		guint16 type = 0;
		guint32 len = 0;
		gint64 id = -1;
		gint64 lsn;
		GError *local = NULL;
		MsbFrameStatus st = msb_scanner_next(&s, pos, &frame, &type, &len, &local);
		MsbSubPage *sub;

		if (local != NULL) {
			g_propagate_error(error, local);
			ok = FALSE;
			goto out;
		}
		if (st != MSB_FRAME_OK) {
			why = msb_frame_status_to_string(st);
			break;
		}
		payload = frame + MSB_FRAME_HEADER_SIZE;
		if (type != MSB_REC_MESSAGE || len < MSB_WAL_PAYLOAD_FIXED ||
		    msb_message_skip(payload + 8, len - 8, &id) != len - 8) {
			why = "malformed message record";
			break;
		}
		lsn = msb_get_i64(payload);
		if (lsn < 0 || lsn == G_MAXINT64) { /* the next one could not be numbered */
			why = "message record with an impossible sequence number";
			break;
		}
		*max_lsn = MAX(*max_lsn, lsn);
		sub = msb_topic_get_sub(topic, id / MSB_STORE_SUB_PAGE_SIZE, FALSE);
		if (sub == NULL || sub->covers_lsn < lsn) {
			MsbRecRef ref = {wal, pos, MSB_FRAME_HEADER_SIZE + len, lsn};
			msb_topic_apply_record(topic, id, &ref, now);
		}
		pos += MSB_FRAME_HEADER_SIZE + len;
	}
	if (pos < wal->size)
		ok = msb_handle_bad_record(store, topic, wal, pos, wal->size, why, is_tail, error);
out:
	g_byte_array_unref(s.buf);
	return ok;
}

static gint
msb_cmp_u32(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a;
	guint32 y = *(const guint32 *)b;
	return x < y ? -1 : (x > y ? 1 : 0);
}

static MsbTopic *
msb_recover_topic(MsbStore *store, const gchar *name, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	g_autoptr(GArray) wal_nos = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GArray) data_nos = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GHashTable) data_ends = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	g_autoptr(GPtrArray) unlink_paths = g_ptr_array_new_with_free_func(g_free);
	MsbTopic *topic = msb_topic_new(store->topics_path, name);
	gboolean have_index = FALSE;
	gint64 max_lsn = 0;
	gint64 mtime = 0;
	const gchar *entry;

	/* callers always pass an error location: "NULL and no error" means "skip this file" */
	g_assert(error != NULL);
	dir = g_dir_open(topic->dir, 0, error);
	if (dir == NULL)
		goto fail;
	while ((entry = g_dir_read_name(dir)) != NULL) {
		MsbFileKind kind;
		guint32 no;
		if (!msb_store_file_parse_name(entry, &kind, &no))
			continue; /* e.g. *.damaged-N copies */
		if (kind == MSB_FILE_INDEX)
			have_index = TRUE;
		else
			g_array_append_val(kind == MSB_FILE_WAL ? wal_nos : data_nos, no);
	}
	g_array_sort(wal_nos, msb_cmp_u32);
	g_array_sort(data_nos, msb_cmp_u32);
	/* new files get numbers above every existing one, usable or not */
	if (wal_nos->len > 0)
		topic->next_wal_no = g_array_index(wal_nos, guint32, wal_nos->len - 1) + 1;
	if (data_nos->len > 0)
		topic->next_data_no = g_array_index(data_nos, guint32, data_nos->len - 1) + 1;

	for (guint i = 0; i < data_nos->len; i++) {
		guint32 no = g_array_index(data_nos, guint32, i);
		MsbStoreFile *f = msb_open_file(store, topic->dir, MSB_FILE_DATA, no,
		                                i + 1 == data_nos->len, &mtime, error);
		if (f == NULL && error != NULL && *error != NULL)
			goto fail;
		if (f != NULL)
			g_ptr_array_add(topic->datas, f);
	}
	if (have_index) {
		topic->index =
		        msb_open_file(store, topic->dir, MSB_FILE_INDEX, 0, TRUE, &mtime, error);
		if (topic->index == NULL) {
			if (error != NULL && *error == NULL)
				g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
				            "The index of topic %s in %s is not readable; move the "
				            "folder away to start without it",
				            name, topic->dir);
			goto fail;
		}
		if (!msb_replay_index(store, topic, data_ends, &max_lsn, error))
			goto fail;
	} else {
		/* the folder was created but its index never reached the disk */
		topic->index =
		        msb_store_file_create(&store->io, topic->dir, MSB_FILE_INDEX, 0, error);
		if (topic->index == NULL)
			goto fail;
	}

	/* blocks after the last indexed one were written by a seal that never committed */
	if (topic->datas->len > 0) {
		MsbStoreFile *last = g_ptr_array_index(topic->datas, topic->datas->len - 1);
		guint64 *end = g_hash_table_lookup(data_ends, GUINT_TO_POINTER(last->no));
		guint64 keep = end != NULL ? *end : MSB_FILE_HEADER_SIZE;
		if (last->size > keep) {
			msb_message_fields(
			        MSB_LOG_TOPIC(topic->name),
			        "%s: cutting %" G_GUINT64_FORMAT
			        " bytes at offset %" G_GUINT64_FORMAT
			        " left by an interrupted seal (the messages are still in the "
			        "write-ahead log)",
			        last->path, last->size - keep, keep);
			msb_store_add_cut(store, last->path, keep, last->size - keep,
			                  "sealed block without index record (interrupted seal)");
			if (!msb_io_truncate(last->fd, last->path, keep, error) ||
			    !msb_io_sync(&store->io, last->fd, last->path, error))
				goto fail;
			last->size = keep;
		}
	}

	for (guint i = 0; i < wal_nos->len; i++) {
		guint32 no = g_array_index(wal_nos, guint32, i);
		gboolean is_tail = i + 1 == wal_nos->len;
		MsbStoreFile *f =
		        msb_open_file(store, topic->dir, MSB_FILE_WAL, no, is_tail, &mtime, error);
		if (f == NULL && error != NULL && *error != NULL)
			goto fail;
		if (f == NULL)
			continue;
		g_ptr_array_add(topic->wals, f);
		if (!msb_scan_wal(store, topic, f, is_tail, &max_lsn, error))
			goto fail;
		if (!is_tail)
			f->broken = TRUE; /* only the last segment is appended to */
	}
	topic->next_lsn = max_lsn + 1;
	topic->last_save_us = mtime;
	msb_topic_recount(topic);
	msb_topic_collect_files(store, topic, unlink_paths);
	for (guint i = 0; i < unlink_paths->len; i++) {
		const gchar *path = g_ptr_array_index(unlink_paths, i);
		if (g_unlink(path) != 0)
			g_warning("Cannot remove %s, which holds nothing needed any more: %s", path,
			          g_strerror(errno));
	}
	g_debug("recovered topic %s: %" G_GINT64_FORMAT " messages, %u open sub-pages", name,
	        topic->count, g_hash_table_size(topic->open_subs));
	return topic;
fail:
	g_prefix_error(error, "Recovering topic %s: ", name);
	msb_topic_free(topic);
	return NULL;
}

gboolean
msb_store_recover_topics(MsbStore *store, GError **error)
{
	g_autoptr(GDir) dir = g_dir_open(store->topics_path, 0, error);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *entry;

	if (dir == NULL)
		return FALSE;
	while ((entry = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(store->topics_path, entry, NULL);
		if (!msb_store_topic_name_is_valid(entry)) {
			g_warning("Ignoring %s: \"%s\" is not a valid topic name", path, entry);
			continue;
		}
		if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
			g_warning("Ignoring %s: not a folder", path);
			continue;
		}
		g_ptr_array_add(names, g_strdup(entry));
	}
	for (guint i = 0; i < names->len; i++) {
		GError *local = NULL;
		MsbTopic *topic = msb_recover_topic(store, g_ptr_array_index(names, i), &local);
		if (topic == NULL) {
			g_propagate_error(error, local);
			return FALSE;
		}
		msb_lock(&store->lock);
		g_hash_table_insert(store->topics, topic->name, topic);
		msb_unlock(&store->lock);
	}
	return TRUE;
}
