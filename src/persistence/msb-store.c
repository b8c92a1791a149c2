/*
 * MsbStore: the public API, the in-memory index, the writer thread and the sealer thread.
 *
 * Every save goes through one writer thread. Callers queue a request and sleep; the writer takes
 * everything queued, appends it, issues one fdatasync per touched file and only then publishes
 * the new locations in the index and wakes the callers. So a save costs one fsync however many
 * savers share it (group commit), a failed write never becomes visible, and readers never see
 * data that is not yet durable. Sealing (compressing full sub-pages into the data files) runs in
 * a thread of its own, so that no save waits behind it.
 */
#define G_LOG_DOMAIN "msb-persistence-store"

#include "msb-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define MSB_STORE_FORMAT_MARKER   "msb-store 1\n"
#define MSB_MAINTENANCE_PERIOD_US (500 * G_TIME_SPAN_MILLISECOND)
/* the sealer looks at the topics again after this much work (new full sub-pages, stop) */
#define MSB_SEAL_SLICE_US (50 * G_TIME_SPAN_MILLISECOND)
/* a batch stops growing at this many bytes so that one commit does not hold up the next */
#define MSB_BATCH_MAX_BYTES (64u << 20)
/* at most this many files of one batch are flushed at the same time */
#define MSB_SYNC_PARALLEL 16

G_DEFINE_QUARK(msb - store - error - quark, msb_store_error)

/* ---- messages ---------------------------------------------------------------------------- */

MsbStoreMessage *
msb_store_message_new(gint64 id, gint64 created, GBytes *content)
{
	MsbStoreMessage *msg = g_new0(MsbStoreMessage, 1);
	msg->id = id;
	msg->created = created;
	msg->content = content != NULL ? g_bytes_ref(content) : g_bytes_new(NULL, 0);
	return msg;
}

void
msb_store_message_add_header(MsbStoreMessage *msg, const gchar *key, const gchar *value)
{
	gsize klen;
	gsize vlen;
	MsbStoreHeader *h;

	g_return_if_fail(msg != NULL);
	g_return_if_fail(key != NULL && value != NULL);
	klen = strlen(key);
	vlen = strlen(value);
	if (msg->headers == NULL)
		msg->headers = g_ptr_array_new_with_free_func(g_free);
	/* one allocation, so that every header is freed by g_free() like the decoded ones */
	h = g_malloc(sizeof(*h) + klen + 1 + vlen + 1);
	h->key = memcpy((gchar *)(h + 1), key, klen + 1);
	h->value = memcpy(h->key + klen + 1, value, vlen + 1);
	g_ptr_array_add(msg->headers, h);
}

void
msb_store_message_free(MsbStoreMessage *msg)
{
	if (msg == NULL)
		return;
	g_clear_pointer(&msg->content, g_bytes_unref);
	g_clear_pointer(&msg->headers, g_ptr_array_unref);
	g_free(msg);
}

gboolean
msb_store_message_equal(const MsbStoreMessage *a, const MsbStoreMessage *b)
{
	guint na;
	guint nb;

	g_return_val_if_fail(a != NULL && b != NULL, FALSE);
	if (a->id != b->id || a->created != b->created)
		return FALSE;
	if (a->content == NULL || b->content == NULL) {
		gsize la = a->content != NULL ? g_bytes_get_size(a->content) : 0;
		gsize lb = b->content != NULL ? g_bytes_get_size(b->content) : 0;
		if (la != 0 || lb != 0)
			return FALSE;
	} else if (!g_bytes_equal(a->content, b->content)) {
		return FALSE;
	}
	na = a->headers != NULL ? a->headers->len : 0;
	nb = b->headers != NULL ? b->headers->len : 0;
	if (na != nb)
		return FALSE;
	for (guint i = 0; i < na; i++) {
		const MsbStoreHeader *ha = g_ptr_array_index(a->headers, i);
		const MsbStoreHeader *hb = g_ptr_array_index(b->headers, i);
		if (g_strcmp0(ha->key, hb->key) != 0 || g_strcmp0(ha->value, hb->value) != 0)
			return FALSE;
	}
	return TRUE;
}

void
msb_store_topic_info_free(MsbStoreTopicInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->name);
	g_free(info);
}

static void
msb_store_cut_free(MsbStoreCut *cut)
{
	g_free(cut->path);
	g_free(cut->reason);
	g_free(cut);
}

/* ---- topics and sub-pages ---------------------------------------------------------------- */

gboolean
msb_store_topic_name_is_valid(const gchar *topic)
{
	gsize len;

	if (topic == NULL)
		return FALSE;
	len = strlen(topic);
	if (len < 3 || len > 63)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		gchar c = topic[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return FALSE;
	}
	return TRUE;
}

gboolean
msb_store_check_topic_name(const gchar *topic, GError **error)
{
	if (msb_store_topic_name_is_valid(topic))
		return TRUE;
	g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT,
	            "Invalid topic name \"%s\": use 3 to 63 characters from a-z, 0-9 and -",
	            topic != NULL ? topic : "(null)");
	return FALSE;
}

gboolean
msb_store_check_ready(MsbStore *store, GError **error)
{
	gint state = g_atomic_int_get(&store->state);

	if (state == MSB_STATE_READY)
		return TRUE;
	if (state == MSB_STATE_CLOSING) {
		g_set_error_literal(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CLOSED,
		                    "The message store is shutting down");
		return FALSE;
	}
	g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_READY,
	            "The message store in %s is still recovering; try again shortly",
	            store->data_path);
	return FALSE;
}

static gint
msb_cmp_i64(gconstpointer a, gconstpointer b, gpointer user_data)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;
	return x < y ? -1 : (x > y ? 1 : 0);
}

void
msb_block_ref_free(gpointer data)
{
	MsbBlockRef *b = data;
	if (b->file != NULL)
		b->file->live--;
	msb_store_file_unref(b->file);
	g_free(b);
}

static void
msb_sub_page_free(gpointer data)
{
	MsbSubPage *sub = data;

	g_clear_pointer(&sub->blocks, g_ptr_array_unref);
	for (guint i = 0; sub->overlay != NULL && i < MSB_STORE_SUB_PAGE_SIZE; i++) {
		if (sub->overlay[i].file != NULL) {
			sub->overlay[i].file->live--;
			msb_store_file_unref(sub->overlay[i].file);
		}
	}
	g_free(sub->overlay);
	g_free(sub);
}

MsbTopic *
msb_topic_new(const gchar *topics_path, const gchar *name)
{
	MsbTopic *topic = g_new0(MsbTopic, 1);

	topic->name = g_strdup(name);
	topic->dir = g_build_filename(topics_path, name, NULL);
	topic->subs = g_tree_new_full(msb_cmp_i64, NULL, NULL, msb_sub_page_free);
	topic->open_subs = g_hash_table_new(NULL, NULL);
	topic->wals = g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_file_unref);
	topic->datas = g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_file_unref);
	topic->next_lsn = 1;
	topic->next_wal_no = 1;
	topic->next_data_no = 1;
	return topic;
}

void
msb_topic_free(MsbTopic *topic)
{
	if (topic == NULL)
		return;
	g_hash_table_unref(topic->open_subs);
	g_tree_destroy(topic->subs);
	g_ptr_array_unref(topic->wals);
	g_ptr_array_unref(topic->datas);
	msb_store_file_unref(topic->index);
	g_free(topic->name);
	g_free(topic->dir);
	g_free(topic);
}

MsbSubPage *
msb_topic_get_sub(MsbTopic *topic, gint64 sub_no, gboolean create)
{
	MsbSubPage *sub = g_tree_lookup(topic->subs, &sub_no);

	if (sub != NULL || !create)
		return sub;
	sub = g_new0(MsbSubPage, 1);
	sub->no = sub_no;
	sub->covers_lsn = -1;
	g_tree_insert(topic->subs, &sub->no, sub);
	return sub;
}

void
msb_sub_page_recount(MsbSubPage *sub)
{
	memset(sub->present, 0, sizeof(sub->present));
	for (guint i = 0; sub->blocks != NULL && i < sub->blocks->len; i++) {
		const MsbBlockRef *b = g_ptr_array_index(sub->blocks, i);
		for (guint j = 0; j < MSB_BITMAP_BYTES; j++)
			sub->present[j] |= b->bitmap[j];
	}
	for (guint i = 0; sub->overlay != NULL && i < MSB_STORE_SUB_PAGE_SIZE; i++) {
		if (sub->overlay[i].file != NULL)
			msb_bitmap_set(sub->present, i);
	}
	sub->count = msb_bitmap_count(sub->present);
}

static gboolean
msb_topic_sum_cb(gpointer key, gpointer value, gpointer data)
{
	*(gint64 *)data += ((MsbSubPage *)value)->count;
	return FALSE;
}

void
msb_topic_recount(MsbTopic *topic)
{
	topic->count = 0;
	g_tree_foreach(topic->subs, msb_topic_sum_cb, &topic->count);
}

void
msb_topic_update_disk_bytes(MsbTopic *topic)
{
	guint64 n = topic->index != NULL ? msb_file_get_size(topic->index) : 0;
	for (guint i = 0; i < topic->wals->len; i++)
		n += msb_file_get_size(g_ptr_array_index(topic->wals, i));
	for (guint i = 0; i < topic->datas->len; i++)
		n += msb_file_get_size(g_ptr_array_index(topic->datas, i));
	topic->disk_bytes = n;
}

void
msb_topic_apply_record(MsbTopic *topic, gint64 id, const MsbRecRef *ref, gint64 now_mono)
{
	MsbSubPage *sub = msb_topic_get_sub(topic, id / MSB_STORE_SUB_PAGE_SIZE, TRUE);
	guint i = (guint)(id % MSB_STORE_SUB_PAGE_SIZE);
	MsbRecRef *slot;

	if (sub->overlay == NULL)
		sub->overlay = g_new0(MsbRecRef, MSB_STORE_SUB_PAGE_SIZE);
	slot = &sub->overlay[i];
	if (slot->file != NULL) {
		if (slot->lsn > ref->lsn)
			return;
		/* re-saved id: the newest copy wins, the old record becomes garbage */
		slot->file->live--;
		msb_store_file_unref(slot->file);
	} else {
		sub->n_overlay++;
	}
	*slot = *ref;
	msb_store_file_ref(slot->file);
	slot->file->live++;
	topic->applied_lsn = MAX(topic->applied_lsn, ref->lsn);
	if (!msb_bitmap_get(sub->present, i)) {
		msb_bitmap_set(sub->present, i);
		sub->count++;
		topic->count++;
	}
	sub->last_write_mono = now_mono;
	g_hash_table_add(topic->open_subs, sub);
}

/* Removes files of @files (but never the last, which is appended to) that nothing points to. */
static void
msb_collect_from(MsbStore *store, GPtrArray *files, GPtrArray *unlink_paths)
{
	for (guint i = 0; i + 1 < files->len;) {
		MsbStoreFile *f = g_ptr_array_index(files, i);
		if (f->live > 0) {
			i++;
			continue;
		}
		f->removed = TRUE;
		g_ptr_array_add(unlink_paths, g_strdup(f->path));
		store->stats.files_removed++;
		g_ptr_array_remove_index(files, i);
	}
}

void
msb_topic_collect_files(MsbStore *store, MsbTopic *topic, GPtrArray *unlink_paths)
{
	msb_collect_from(store, topic->wals, unlink_paths);
	msb_topic_collect_data_files(store, topic, unlink_paths);
}

void
msb_topic_collect_data_files(MsbStore *store, MsbTopic *topic, GPtrArray *unlink_paths)
{
	msb_collect_from(store, topic->datas, unlink_paths);
	msb_topic_update_disk_bytes(topic);
}

void
msb_store_add_cut(MsbStore *store, const gchar *path, guint64 offset, guint64 bytes,
                  const gchar *reason)
{
	MsbStoreCut *cut = g_new0(MsbStoreCut, 1);
	cut->path = g_strdup(path);
	cut->offset = offset;
	cut->bytes = bytes;
	cut->reason = g_strdup(reason);
	msb_lock(&store->lock);
	g_ptr_array_add(store->cuts, cut);
	msb_unlock(&store->lock);
}

/* ---- requests ---------------------------------------------------------------------------- */

typedef enum {
	MSB_REQ_SAVE,
	MSB_REQ_DELETE,
	MSB_REQ_RESTORE,
	MSB_REQ_MAINTENANCE,
} MsbReqKind;

typedef struct {
	gint64 id;
	guint64 offset;
	guint32 length;
	gint64 lsn;
} MsbPendingRec;

typedef struct {
	MsbReqKind kind;
	const gchar *topic;
	const MsbStoreMessage *const *msgs;
	guint n_msgs;
	gint64 arg;
	gint64 next_id;
	gboolean done;
	GError *error;
	/* writer only */
	MsbTopic *t;
	MsbStoreFile *file; /* where this request was appended */
	GArray *recs;       /* MsbPendingRec */
} MsbRequest;

typedef struct {
	MsbStoreFile *file;
	guint64 size_before;
	MsbStoreIo *io;
	GError *error; /* of its flush */
} MsbTouched;

static void
msb_request_clear(MsbRequest *req)
{
	g_clear_error(&req->error);
	g_clear_pointer(&req->recs, g_array_unref);
	g_clear_pointer(&req->file, msb_store_file_unref);
}

static gsize
msb_request_bytes(const MsbRequest *req)
{
	gsize n = 64;
	for (guint i = 0; i < req->n_msgs; i++) {
		const MsbStoreMessage *m = req->msgs[i];
		n += 64 + (m->content != NULL ? g_bytes_get_size(m->content) : 0);
	}
	return n;
}

/* Queues @reqs and sleeps until the writer has finished all of them. */
static void
msb_store_submit(MsbStore *store, MsbRequest **reqs, guint n)
{
	/* nobody would ever answer (msb_store_open_recover_only() is for reading) */
	g_assert(store->writer != NULL);
	msb_lock(&store->queue_lock);
	if (store->stopping) {
		for (guint i = 0; i < n; i++) {
			g_set_error_literal(&reqs[i]->error, MSB_STORE_ERROR,
			                    MSB_STORE_ERROR_CLOSED,
			                    "The message store is shutting down");
			reqs[i]->done = TRUE;
		}
		msb_unlock(&store->queue_lock);
		return;
	}
	for (guint i = 0; i < n; i++)
		g_queue_push_tail(&store->queue, reqs[i]);
	g_atomic_int_add(&store->queued, (gint)n);
	pthread_cond_signal(&store->queue_cond);
	for (guint i = 0; i < n; i++) {
		while (!reqs[i]->done)
			msb_cond_wait(&store->done_cond, &store->queue_lock);
	}
	msb_unlock(&store->queue_lock);
}

/* ---- writer: appending ------------------------------------------------------------------- */

static void
msb_touch(GArray *touched, MsbStoreFile *file)
{
	MsbTouched t = {file, file->size, NULL, NULL};
	for (guint i = 0; i < touched->len; i++) {
		if (g_array_index(touched, MsbTouched, i).file == file)
			return;
	}
	g_array_append_val(touched, t);
}

/* Undo a failed append. If even that fails, the file's tail is unknown: never append to it. */
void
msb_rollback_file(MsbStoreFile *file, guint64 size)
{
	g_autoptr(GError) error = NULL;

	if (!msb_io_truncate(file->fd, file->path, size, &error)) {
		g_warning("%s; the file is closed for writing and checked at the next start",
		          error->message);
		file->broken = TRUE;
		return;
	}
	msb_file_set_size(file, size);
}

static MsbTopic *
msb_writer_create_topic(MsbStore *store, const gchar *name, GError **error)
{
	g_autoptr(GError) local = NULL;
	MsbTopic *topic = msb_topic_new(store->topics_path, name);
	MsbStoreFile *index;

	if (g_mkdir(topic->dir, 0755) != 0) {
		msb_io_set_error(error, errno, "Cannot create topic folder %s", topic->dir);
		msb_topic_free(topic);
		return NULL;
	}
	if (!msb_io_sync_dir(&store->io, store->topics_path, &local))
		goto fail;
	index = msb_store_file_create(&store->io, topic->dir, MSB_FILE_INDEX, 0, &local);
	if (index == NULL)
		goto fail;
	topic->index = index;
	msb_topic_update_disk_bytes(topic);
	msb_lock(&store->lock);
	g_hash_table_insert(store->topics, topic->name, topic);
	msb_unlock(&store->lock);
	g_debug("created topic %s in %s", name, topic->dir);
	return topic;
fail:
	/* a half-created folder holds nothing acknowledged: remove it so a retry starts clean */
	msb_io_remove_tree(topic->dir, NULL);
	msb_topic_free(topic);
	g_propagate_error(error, g_steal_pointer(&local));
	return NULL;
}

MsbStoreFile *
msb_topic_tail_file(MsbStore *store, MsbTopic *topic, MsbFileKind kind, GError **error)
{
	gboolean is_wal = kind == MSB_FILE_WAL;
	GPtrArray *files = is_wal ? topic->wals : topic->datas;
	guint32 *next_no = is_wal ? &topic->next_wal_no : &topic->next_data_no;
	MsbStoreFile *last = files->len > 0 ? g_ptr_array_index(files, files->len - 1) : NULL;
	MsbStoreFile *file;
	guint64 no;

	g_return_val_if_fail(kind == MSB_FILE_WAL || kind == MSB_FILE_DATA, NULL);
	if (last != NULL && !last->broken &&
	    last->size < (is_wal ? store->wal_max : store->data_max))
		return last;
	no = MAX(last != NULL ? (guint64)last->no + 1 : 1, *next_no);
	if (no > MSB_FILE_MAX_NO) {
		/* an I/O error, as a full disk is: the save fails and nothing is skipped */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
		            "Topic folder %s has used every file number up to %u; move the topic's "
		            "files away or renumber them",
		            topic->dir, MSB_FILE_MAX_NO);
		return NULL;
	}
	file = msb_store_file_create(&store->io, topic->dir, kind, (guint32)no, error);
	if (file == NULL)
		return NULL;
	*next_no = file->no + 1;
	msb_lock(&store->lock);
	g_ptr_array_add(files, file);
	msb_topic_update_disk_bytes(topic);
	msb_unlock(&store->lock);
	return file;
}

static gboolean
msb_writer_save(MsbStore *store, MsbRequest *req, GArray *touched, GError **error)
{
	g_autoptr(GByteArray) heads = g_byte_array_new();
	g_autofree struct iovec *iov = NULL;
	g_autofree gsize *head_off = NULL;
	MsbStoreFile *wal;
	MsbTopic *topic = g_hash_table_lookup(store->topics, req->topic);
	guint n_iov = 0;
	guint64 offset;

	if (topic == NULL)
		topic = msb_writer_create_topic(store, req->topic, error);
	if (topic == NULL)
		return FALSE;
	if (topic->delete_after_us != 0) {
		g_autoptr(GDateTime) when =
		        g_date_time_new_from_unix_utc(topic->delete_after_us / G_USEC_PER_SEC);
		g_autofree gchar *iso = when != NULL ? g_date_time_format_iso8601(when) : NULL;
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_TOPIC_DELETED,
		            "Topic %s is deleted and will be removed at %s; restore it before "
		            "saving into it",
		            req->topic, iso != NULL ? iso : "(unknown)");
		return FALSE;
	}
	wal = msb_topic_tail_file(store, topic, MSB_FILE_WAL, error);
	if (wal == NULL)
		return FALSE;

	/* record = frame header | lsn | message head | content; contents are written in place */
	head_off = g_new(gsize, req->n_msgs + 1);
	req->recs = g_array_sized_new(FALSE, FALSE, sizeof(MsbPendingRec), req->n_msgs);
	offset = wal->size;
	for (guint i = 0; i < req->n_msgs; i++) {
		const MsbStoreMessage *m = req->msgs[i];
		gsize hsize = msb_message_head_size(m);
		gsize clen = m->content != NULL ? g_bytes_get_size(m->content) : 0;
		guint32 plen = (guint32)(8 + hsize + clen);
		guint8 *h;
		guint32 crc;
		MsbPendingRec rec = {m->id, offset, MSB_FRAME_HEADER_SIZE + plen,
		                     topic->next_lsn++};

		head_off[i] = heads->len;
		g_byte_array_set_size(heads, heads->len + MSB_FRAME_HEADER_SIZE + 8 + (guint)hsize);
		h = heads->data + head_off[i];
		crc = msb_frame_header_begin(h, MSB_REC_MESSAGE, plen);
		msb_put_u64(h + MSB_FRAME_HEADER_SIZE, (guint64)rec.lsn);
		msb_message_head_write(h + MSB_FRAME_HEADER_SIZE + 8, m);
		crc = msb_crc32(crc, h + MSB_FRAME_HEADER_SIZE, 8 + hsize);
		if (clen > 0)
			crc = msb_crc32(crc, g_bytes_get_data(m->content, NULL), clen);
		msb_frame_header_finish(h, crc);
		g_array_append_val(req->recs, rec);
		offset += rec.length;
	}
	head_off[req->n_msgs] = heads->len;
	/* the byte array may have moved while growing, so the iovecs are built afterwards */
	iov = g_new(struct iovec, 2 * (gsize)req->n_msgs);
	for (guint i = 0; i < req->n_msgs; i++) {
		const MsbStoreMessage *m = req->msgs[i];
		gsize clen = m->content != NULL ? g_bytes_get_size(m->content) : 0;
		iov[n_iov].iov_base = heads->data + head_off[i];
		iov[n_iov].iov_len = head_off[i + 1] - head_off[i];
		n_iov++;
		if (clen > 0) {
			iov[n_iov].iov_base = (void *)g_bytes_get_data(m->content, NULL);
			iov[n_iov].iov_len = clen;
			n_iov++;
		}
	}
	msb_touch(touched, wal);
	if (!msb_io_pwritev(&store->io, wal->fd, wal->path, iov, n_iov, wal->size, error)) {
		msb_rollback_file(wal, wal->size);
		return FALSE;
	}
	msb_file_set_size(wal, offset);
	req->t = topic;
	req->file = msb_store_file_ref(wal);
	return TRUE;
}

static gboolean
msb_writer_topic_state(MsbStore *store, MsbRequest *req, GArray *touched, GError **error)
{
	MsbTopic *topic = g_hash_table_lookup(store->topics, req->topic);
	g_autoptr(GByteArray) frame = g_byte_array_new();
	guint8 payload[MSB_DELETE_PAYLOAD];
	gint64 now = g_get_real_time();
	guint64 before;

	if (topic == NULL || (req->kind == MSB_REQ_RESTORE && topic->delete_after_us != 0 &&
	                      now >= topic->delete_after_us)) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_NOT_FOUND,
		            "Topic %s is not stored here%s", req->topic,
		            topic != NULL ? " (its deletion time has passed)" : "");
		return FALSE;
	}
	req->t = topic;
	if (req->kind == MSB_REQ_RESTORE && topic->delete_after_us == 0)
		return TRUE; /* live already: nothing to write */
	if (topic->index->broken) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "%s could not be repaired after a write error; restart the service",
		            topic->index->path);
		return FALSE;
	}
	if (req->kind == MSB_REQ_DELETE) {
		msb_put_u64(payload, (guint64)req->arg);
		msb_put_u64(payload + 8, (guint64)now);
		msb_frame_append(frame, MSB_REC_TOPIC_DELETE, payload, MSB_DELETE_PAYLOAD);
	} else {
		msb_put_u64(payload, (guint64)now);
		msb_frame_append(frame, MSB_REC_TOPIC_RESTORE, payload, MSB_RESTORE_PAYLOAD);
	}
	msb_touch(touched, topic->index);
	before = topic->index->size;
	if (!msb_io_pwrite(&store->io, topic->index->fd, topic->index->path, frame->data,
	                   frame->len, before, error)) {
		msb_rollback_file(topic->index, before);
		return FALSE;
	}
	msb_file_set_size(topic->index, before + frame->len);
	req->file = msb_store_file_ref(topic->index);
	return TRUE;
}

static gint64
msb_topic_max_id(MsbTopic *topic)
{
	GTreeNode *last = g_tree_node_last(topic->subs);
	const MsbSubPage *sub;
	gint bit;

	if (last == NULL)
		return -1;
	sub = g_tree_node_value(last);
	bit = msb_bitmap_last(sub->present, 0, MSB_STORE_SUB_PAGE_SIZE - 1);
	return bit < 0 ? -1 : sub->no * MSB_STORE_SUB_PAGE_SIZE + bit;
}

static gint64
msb_topic_min_id(MsbTopic *topic)
{
	GTreeNode *first = g_tree_node_first(topic->subs);
	const MsbSubPage *sub;
	gint bit;

	if (first == NULL)
		return -1;
	sub = g_tree_node_value(first);
	bit = msb_bitmap_first(sub->present, 0, MSB_STORE_SUB_PAGE_SIZE - 1);
	return bit < 0 ? -1 : sub->no * MSB_STORE_SUB_PAGE_SIZE + bit;
}

/* ---- writer: maintenance ----------------------------------------------------------------- */

/* Removes a topic whose delete moment has passed: rename into trash/ (atomic), then delete. */
static void
msb_writer_gc_topic(MsbStore *store, MsbTopic *topic)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dest = NULL;

	dest = g_strdup_printf("%s/%s.%" G_GINT64_FORMAT, store->trash_path, topic->name,
	                       g_get_real_time());
	if (g_rename(topic->dir, dest) != 0) {
		int errsv = errno;
		msb_warning_fields(MSB_LOG_TOPIC(topic->name),
		                   "Cannot move deleted topic %s from %s to %s: %s; will retry",
		                   topic->name, topic->dir, dest, g_strerror(errsv));
		return;
	}
	if (!msb_io_sync_dir(&store->io, store->topics_path, &error)) {
		g_warning("%s", error->message);
		g_clear_error(&error);
	}
	msb_lock(&store->lock);
	g_hash_table_steal(store->topics, topic->name);
	store->stats.files_removed += topic->wals->len + topic->datas->len + 1;
	msb_unlock(&store->lock);
	msb_message_fields(MSB_LOG_TOPIC(topic->name),
	                   "Removed deleted topic %s (%" G_GINT64_FORMAT " messages)", topic->name,
	                   topic->count);
	if (!msb_io_remove_tree(dest, &error))
		g_warning("Cannot remove %s: %s; it is removed at the next start", dest,
		          error->message);
	/* readers that still hold one of its files keep reading it until they let go */
	msb_topic_free(topic);
}

/*
 * Removes the write-ahead segments that sealing emptied. The writer does it, between commits:
 * a segment it wrote records to in a commit that is not applied yet would look empty to anyone
 * else.
 */
static void
msb_writer_collect_wals(MsbStore *store)
{
	g_autoptr(GPtrArray) unlink_paths = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer value;

	if (!g_atomic_int_compare_and_exchange(&store->wals_free, 1, 0))
		return;
	msb_lock(&store->lock);
	g_hash_table_iter_init(&iter, store->topics);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		MsbTopic *topic = value;
		if (!topic->wals_free)
			continue;
		topic->wals_free = FALSE;
		msb_collect_from(store, topic->wals, unlink_paths);
		msb_topic_update_disk_bytes(topic);
	}
	msb_unlock(&store->lock);
	msb_store_unlink_paths(unlink_paths);
}

/* Removes the deleted topics whose time has come. Only while nobody seals (seal_lock): if the
 * sealer is busy, the next pass does it. */
static void
msb_writer_gc(MsbStore *store, gboolean wait_for_sealer)
{
	g_autoptr(GPtrArray) due = g_ptr_array_new();
	GHashTableIter iter;
	gpointer value;
	gint64 now = g_get_real_time();

	store->last_maintenance_mono = g_get_monotonic_time();
	if (wait_for_sealer)
		msb_lock(&store->seal_lock);
	else if (pthread_mutex_trylock(&store->seal_lock) != 0)
		return;
	/* the writer is the only thread that adds or removes topics: no lock needed to look */
	g_hash_table_iter_init(&iter, store->topics);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		MsbTopic *topic = value;
		if (topic->delete_after_us != 0 && now >= topic->delete_after_us)
			g_ptr_array_add(due, topic);
	}
	for (guint i = 0; i < due->len; i++)
		msb_writer_gc_topic(store, g_ptr_array_index(due, i));
	msb_unlock(&store->seal_lock);
}

/* An explicit maintenance request: GC, then sealing (everything open with @seal_all) while the
 * caller waits. */
static void
msb_writer_maintenance(MsbStore *store, gboolean seal_all)
{
	msb_writer_gc(store, TRUE);
	msb_lock(&store->seal_lock);
	msb_seal_pass(store, seal_all, G_MAXINT64);
	msb_unlock(&store->seal_lock);
	msb_writer_collect_wals(store);
}

/* ---- sealer: the loop -------------------------------------------------------------------- */

/*
 * Seals in slices of MSB_SEAL_SLICE_US, back to back while there is work, else every
 * seal_period_us. It runs at a lower priority than the writer and the gRPC threads:
 * sealing can wait, a save should not.
 */
static gpointer
msb_sealer_thread(gpointer data)
{
	MsbStore *store = data;
	gboolean more = FALSE;

	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
		g_debug("cannot lower the sealer's priority: %s", g_strerror(errno));
	for (;;) {
		gint64 next = g_get_monotonic_time() + store->seal_period_us;

		msb_lock(&store->queue_lock);
		while (!more && !store->stopping &&
		       msb_cond_wait_until(&store->seal_cond, &store->queue_lock, next))
			;
		if (store->stopping) {
			msb_unlock(&store->queue_lock);
			break;
		}
		msb_unlock(&store->queue_lock);
		msb_lock(&store->seal_lock);
		more = msb_seal_pass(store, FALSE, g_get_monotonic_time() + MSB_SEAL_SLICE_US);
		msb_unlock(&store->seal_lock);
	}
	return NULL;
}

/* ---- writer: the loop -------------------------------------------------------------------- */

static void *
msb_sync_thread(void *data)
{
	MsbTouched *t = data;
	msb_io_sync(t->io, t->file->fd, t->file->path, &t->error);
	return NULL;
}

/*
 * Flushes every file written by the batch. Several files (several topics) are flushed in
 * parallel: the file system then commits them together (one ext4 journal commit for all), so
 * savers into different topics share a flush nearly as well as savers into one topic.
 */
static void
msb_sync_touched(MsbStore *store, GArray *touched)
{
	pthread_t threads[MSB_SYNC_PARALLEL];
	guint i = 0;

	while (i < touched->len) {
		guint started = 0;
		guint first = i;
		for (; i < touched->len && started < MSB_SYNC_PARALLEL; i++) {
			MsbTouched *t = &g_array_index(touched, MsbTouched, i);
			t->io = &store->io;
			if (t->file->size == t->size_before)
				continue;
			/* the writer flushes the first file itself; extra threads only when needed
			 */
			if (i == first ||
			    pthread_create(&threads[started], NULL, msb_sync_thread, t) != 0)
				msb_sync_thread(t);
			else
				started++;
		}
		for (guint j = 0; j < started; j++)
			pthread_join(threads[j], NULL);
	}
}

static void
msb_writer_commit(MsbStore *store, GPtrArray *batch)
{
	g_autoptr(GArray) touched = g_array_new(FALSE, FALSE, sizeof(MsbTouched));
	gint64 now_mono;
	guint64 fsyncs = 0;
	guint saves = 0;

	for (guint i = 0; i < batch->len; i++) {
		MsbRequest *req = g_ptr_array_index(batch, i);
		if (req->kind == MSB_REQ_SAVE)
			msb_writer_save(store, req, touched, &req->error);
		else if (req->kind == MSB_REQ_DELETE || req->kind == MSB_REQ_RESTORE)
			msb_writer_topic_state(store, req, touched, &req->error);
	}
	/* one flush per file, however many requests wrote to it */
	msb_sync_touched(store, touched);
	for (guint i = 0; i < touched->len; i++) {
		MsbTouched *t = &g_array_index(touched, MsbTouched, i);

		if (t->file->size == t->size_before)
			continue; /* every write to it failed and was rolled back */
		fsyncs++;
		if (t->error == NULL)
			continue;
		/* after a failed fsync the page cache cannot be trusted: cut the batch off again */
		msb_rollback_file(t->file, t->size_before);
		for (guint j = 0; j < batch->len; j++) {
			MsbRequest *req = g_ptr_array_index(batch, j);
			if (req->file == t->file && req->error == NULL)
				req->error = g_error_copy(t->error);
		}
		g_clear_error(&t->error);
	}
	now_mono = g_get_monotonic_time();
	msb_lock(&store->lock);
	for (guint i = 0; i < batch->len; i++) {
		MsbRequest *req = g_ptr_array_index(batch, i);
		if (req->error != NULL) {
			if (req->kind != MSB_REQ_MAINTENANCE && req->error->domain == G_IO_ERROR)
				store->stats.write_errors++;
			continue;
		}
		if (req->kind == MSB_REQ_SAVE && req->recs != NULL && req->t != NULL) {
			for (guint j = 0; j < req->recs->len; j++) {
				const MsbPendingRec *p =
				        &g_array_index(req->recs, MsbPendingRec, j);
				MsbRecRef ref = {req->file, p->offset, p->length, p->lsn};
				msb_topic_apply_record(req->t, p->id, &ref, now_mono);
			}
			req->t->last_save_us = g_get_real_time();
			msb_topic_update_disk_bytes(req->t);
			store->stats.saves++;
			store->stats.messages_saved += req->n_msgs;
			saves++;
		} else if (req->kind == MSB_REQ_DELETE) {
			req->t->delete_after_us = MAX(req->arg, 1);
			msb_topic_update_disk_bytes(req->t);
		} else if (req->kind == MSB_REQ_RESTORE) {
			req->t->delete_after_us = 0;
			req->next_id = msb_topic_max_id(req->t) + 1;
			msb_topic_update_disk_bytes(req->t);
		}
	}
	if (saves > 0) {
		store->stats.commits++;
		store->stats.commit_fsyncs += fsyncs;
	}
	msb_unlock(&store->lock);

	for (guint i = 0; i < batch->len; i++) {
		MsbRequest *req = g_ptr_array_index(batch, i);
		if (req->kind == MSB_REQ_MAINTENANCE)
			msb_writer_maintenance(store, req->arg != 0);
	}
}

static gpointer
msb_writer_thread(gpointer data)
{
	MsbStore *store = data;

	msb_lock(&store->queue_lock);
	for (;;) {
		g_autoptr(GPtrArray) batch = g_ptr_array_new();
		gsize bytes = 0;
		gint64 next = store->last_maintenance_mono + MSB_MAINTENANCE_PERIOD_US;

		while (g_queue_is_empty(&store->queue) && !store->stopping) {
			if (!msb_cond_wait_until(&store->queue_cond, &store->queue_lock, next))
				break;
		}
		if (g_queue_is_empty(&store->queue) && store->stopping)
			break;
		while (!g_queue_is_empty(&store->queue) && bytes < MSB_BATCH_MAX_BYTES) {
			MsbRequest *req = g_queue_pop_head(&store->queue);
			bytes += req->kind == MSB_REQ_SAVE ? msb_request_bytes(req) : 64;
			g_ptr_array_add(batch, req);
		}
		g_atomic_int_add(&store->queued, -(gint)batch->len);
		msb_unlock(&store->queue_lock);

		if (batch->len > 0)
			msb_writer_commit(store, batch);

		msb_lock(&store->queue_lock);
		for (guint i = 0; i < batch->len; i++)
			((MsbRequest *)g_ptr_array_index(batch, i))->done = TRUE;
		pthread_cond_broadcast(&store->done_cond);
		/* between commits, after their callers are woken: the segments sealing emptied,
		 * and now and then the deleted topics */
		if (g_atomic_int_get(&store->wals_free) ||
		    g_get_monotonic_time() >=
		            store->last_maintenance_mono + MSB_MAINTENANCE_PERIOD_US) {
			msb_unlock(&store->queue_lock);
			msb_writer_collect_wals(store);
			if (g_get_monotonic_time() >=
			    store->last_maintenance_mono + MSB_MAINTENANCE_PERIOD_US)
				msb_writer_gc(store, FALSE);
			msb_lock(&store->queue_lock);
		}
	}
	msb_unlock(&store->queue_lock);
	return NULL;
}

/* ---- public API -------------------------------------------------------------------------- */

MsbStore *
msb_store_new(const gchar *data_path)
{
	MsbStore *store;

	g_return_val_if_fail(data_path != NULL && data_path[0] != '\0', NULL);
	store = g_new0(MsbStore, 1);
	store->data_path = g_strdup(data_path);
	store->topics_path = g_build_filename(data_path, "topics", NULL);
	store->trash_path = g_build_filename(data_path, "trash", NULL);
	store->snapshot_path = g_build_filename(data_path, "queue-snapshot", NULL);
	store->snapshot_tmp_path = g_build_filename(data_path, "queue-snapshot.tmp", NULL);
	store->lock_fd = -1;
	store->seal_idle_us = 10 * G_TIME_SPAN_SECOND;
	store->seal_period_us = MSB_MAINTENANCE_PERIOD_US;
	store->wal_max = 32u << 20;
	store->data_max = 1u << 30;
	/* zlib's fastest level: sealing takes CPU time that saves and the broker need (a service
	 * on a small machine shares it). A sub-page of 1,000 JSON-like 100-byte messages took 2.4
	 * ms at the default level (6) and 0.86 ms at level 1, for 23% more bytes (18.5 against 22.7
	 * KB of 116 KB; bench/RESULTS.md) */
	store->compress_level = 1;
	store->topics = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                      (GDestroyNotify)msb_topic_free);
	store->cuts = g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_cut_free);
	store->damaged = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                       (GDestroyNotify)msb_store_damage_free);
	pthread_mutex_init(&store->lock, NULL);
	pthread_mutex_init(&store->queue_lock, NULL);
	msb_cond_init(&store->queue_cond);
	msb_cond_init(&store->done_cond);
	pthread_mutex_init(&store->snapshot_lock, NULL);
	pthread_mutex_init(&store->seal_lock, NULL);
	msb_cond_init(&store->seal_cond);
	g_queue_init(&store->queue);
	return store;
}

void
msb_store_set_seal_period(MsbStore *store, gint64 period_us)
{
	g_return_if_fail(store != NULL);
	g_return_if_fail(g_atomic_int_get(&store->state) == MSB_STATE_NEW);
	store->seal_period_us = CLAMP(period_us, 1, MSB_MAINTENANCE_PERIOD_US);
}

void
msb_store_set_seal_idle(MsbStore *store, gint64 seal_idle_us)
{
	g_return_if_fail(store != NULL);
	g_return_if_fail(g_atomic_int_get(&store->state) == MSB_STATE_NEW);
	store->seal_idle_us = MAX(seal_idle_us, 0);
}

void
msb_store_set_segment_limits(MsbStore *store, guint64 wal_bytes, guint64 data_bytes)
{
	g_return_if_fail(store != NULL);
	g_return_if_fail(g_atomic_int_get(&store->state) == MSB_STATE_NEW);
	store->wal_max = MAX(wal_bytes, 4096);
	store->data_max = MAX(data_bytes, 4096);
}

static gboolean
msb_store_prepare_folder(MsbStore *store, GError **error)
{
	g_autofree gchar *lock_path = g_build_filename(store->data_path, ".lock", NULL);
	g_autofree gchar *marker = g_build_filename(store->data_path, "format", NULL);
	g_autofree gchar *contents = NULL;

	if (g_mkdir_with_parents(store->data_path, 0755) != 0) {
		msb_io_set_error(error, errno, "Cannot create the data folder %s",
		                 store->data_path);
		return FALSE;
	}
	store->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (store->lock_fd < 0) {
		msb_io_set_error(error, errno, "Cannot open %s", lock_path);
		return FALSE;
	}
	if (flock(store->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_BUSY,
		            "The data folder %s is in use by another process (it holds %s)",
		            store->data_path, lock_path);
		return FALSE;
	}
	if (g_file_get_contents(marker, &contents, NULL, NULL)) {
		if (g_strcmp0(contents, MSB_STORE_FORMAT_MARKER) != 0) {
			g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
			            "%s says \"%s\"; this program reads \"%s\" data folders",
			            marker, g_strstrip(contents), "msb-store 1");
			return FALSE;
		}
	} else {
		int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		gboolean ok;
		if (fd < 0) {
			msb_io_set_error(error, errno, "Cannot create %s", marker);
			return FALSE;
		}
		ok = msb_io_pwrite(&store->io, fd, marker, MSB_STORE_FORMAT_MARKER,
		                   strlen(MSB_STORE_FORMAT_MARKER), 0, error) &&
		     msb_io_sync(&store->io, fd, marker, error);
		close(fd);
		if (!ok || !msb_io_sync_dir(&store->io, store->data_path, error))
			return FALSE;
	}
	if (g_mkdir_with_parents(store->topics_path, 0755) != 0) {
		msb_io_set_error(error, errno, "Cannot create %s", store->topics_path);
		return FALSE;
	}
	/* whatever is in trash/ was being deleted when the service stopped */
	if (!msb_io_remove_tree(store->trash_path, error))
		return FALSE;
	if (g_mkdir_with_parents(store->trash_path, 0755) != 0) {
		msb_io_set_error(error, errno, "Cannot create %s", store->trash_path);
		return FALSE;
	}
	msb_snapshot_cleanup(store);
	return TRUE;
}

/* Recovery, then (with @threads, always but for msb_store_open_recover_only()) the writer and
 * the sealer. */
static gboolean
msb_store_recover_real(MsbStore *store, gboolean threads, GError **error)
{
	gint64 t0 = g_get_monotonic_time();

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	if (!g_atomic_int_compare_and_exchange(&store->state, MSB_STATE_NEW,
	                                       MSB_STATE_RECOVERING)) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT,
		            "The message store in %s is already open", store->data_path);
		return FALSE;
	}
	if (!msb_store_prepare_folder(store, error) || !msb_store_recover_topics(store, error)) {
		/* leave it as new so that the caller may fix the problem and try again */
		msb_lock(&store->lock);
		g_hash_table_remove_all(store->topics);
		msb_unlock(&store->lock);
		if (store->lock_fd >= 0)
			close(store->lock_fd);
		store->lock_fd = -1;
		g_atomic_int_set(&store->state, MSB_STATE_NEW);
		return FALSE;
	}
	store->last_maintenance_mono = g_get_monotonic_time();
	if (threads) {
		store->writer = g_thread_new("msb-store-writer", msb_writer_thread, store);
		store->sealer = g_thread_new("msb-store-sealer", msb_sealer_thread, store);
	}
	msb_lock(&store->lock);
	store->stats.recovery_us = g_get_monotonic_time() - t0;
	g_debug("message store %s ready: %u topics, recovered in %" G_GINT64_FORMAT " ms",
	        store->data_path, g_hash_table_size(store->topics),
	        store->stats.recovery_us / 1000);
	msb_unlock(&store->lock);
	g_atomic_int_set(&store->state, MSB_STATE_READY);
	return TRUE;
}

gboolean
msb_store_recover(MsbStore *store, GError **error)
{
	return msb_store_recover_real(store, TRUE, error);
}

static void
msb_store_recover_thread(GTask *task, gpointer source, gpointer task_data,
                         GCancellable *cancellable)
{
	GError *error = NULL;
	if (msb_store_recover(task_data, &error))
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_error(task, error);
}

void
msb_store_recover_async(MsbStore *store, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(store != NULL);
	task = g_task_new(NULL, cancellable, callback, user_data);
	g_task_set_source_tag(task, msb_store_recover_async);
	g_task_set_task_data(task, store, NULL);
	g_task_run_in_thread(task, msb_store_recover_thread);
}

gboolean
msb_store_recover_finish(MsbStore *store, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

gboolean
msb_store_is_ready(MsbStore *store)
{
	g_return_val_if_fail(store != NULL, FALSE);
	return g_atomic_int_get(&store->state) == MSB_STATE_READY;
}

MsbStore *
msb_store_open(const gchar *data_path, GError **error)
{
	MsbStore *store = msb_store_new(data_path);

	if (!msb_store_recover(store, error)) {
		msb_store_close(store);
		return NULL;
	}
	return store;
}

MsbStore *
msb_store_open_recover_only(const gchar *data_path, GError **error)
{
	MsbStore *store = msb_store_new(data_path);

	store->io.no_sync = TRUE;
	if (!msb_store_recover_real(store, FALSE, error)) {
		msb_store_close(store);
		return NULL;
	}
	return store;
}

void
msb_store_close(MsbStore *store)
{
	if (store == NULL)
		return;
	g_atomic_int_set(&store->state, MSB_STATE_CLOSING);
	msb_lock(&store->queue_lock);
	store->stopping = TRUE;
	pthread_cond_signal(&store->queue_cond);
	pthread_cond_signal(&store->seal_cond);
	msb_unlock(&store->queue_lock);
	/* the sealer first: an explicit maintenance request in the writer may wait for its pass */
	if (store->sealer != NULL)
		g_thread_join(store->sealer);
	if (store->writer != NULL)
		g_thread_join(store->writer);
	g_hash_table_unref(store->topics);
	g_ptr_array_unref(store->cuts);
	g_hash_table_unref(store->damaged);
	if (store->lock_fd >= 0)
		close(store->lock_fd);
	pthread_mutex_destroy(&store->lock);
	pthread_mutex_destroy(&store->queue_lock);
	pthread_cond_destroy(&store->queue_cond);
	pthread_cond_destroy(&store->done_cond);
	pthread_mutex_destroy(&store->snapshot_lock);
	pthread_mutex_destroy(&store->seal_lock);
	pthread_cond_destroy(&store->seal_cond);
	g_free(store->data_path);
	g_free(store->topics_path);
	g_free(store->trash_path);
	g_free(store->snapshot_path);
	g_free(store->snapshot_tmp_path);
	g_free(store);
}

gboolean
msb_store_save_batch(MsbStore *store, const MsbStoreSaveItem *items, guint n_items, GError **error)
{
	g_autofree MsbRequest *reqs = NULL;
	g_autofree MsbRequest **ptrs = NULL;
	guint n = 0;
	gboolean ok = TRUE;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(items != NULL || n_items == 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!msb_store_check_ready(store, error))
		return FALSE;
	/* validate everything first: a bad item fails the call before anything is written */
	for (guint i = 0; i < n_items; i++) {
		if (!msb_store_check_topic_name(items[i].topic, error))
			return FALSE;
		g_return_val_if_fail(items[i].msgs != NULL || items[i].n_msgs == 0, FALSE);
		for (guint j = 0; j < items[i].n_msgs; j++) {
			g_return_val_if_fail(items[i].msgs[j] != NULL, FALSE);
			if (!msb_message_validate(items[i].msgs[j], error)) {
				g_prefix_error(error, "Topic %s: ", items[i].topic);
				return FALSE;
			}
		}
	}
	reqs = g_new0(MsbRequest, n_items);
	ptrs = g_new0(MsbRequest *, n_items);
	for (guint i = 0; i < n_items; i++) {
		if (items[i].n_msgs == 0)
			continue;
		reqs[n].kind = MSB_REQ_SAVE;
		reqs[n].topic = items[i].topic;
		reqs[n].msgs = items[i].msgs;
		reqs[n].n_msgs = items[i].n_msgs;
		ptrs[n] = &reqs[n];
		n++;
	}
	if (n == 0)
		return TRUE;
	msb_store_submit(store, ptrs, n);
	for (guint i = 0; i < n; i++) {
		if (reqs[i].error != NULL && ok) {
			g_propagate_error(error, g_steal_pointer(&reqs[i].error));
			ok = FALSE;
		}
		msb_request_clear(&reqs[i]);
	}
	return ok;
}

gboolean
msb_store_save_messages(MsbStore *store, const gchar *topic, const MsbStoreMessage *const *msgs,
                        guint n_msgs, GError **error)
{
	MsbStoreSaveItem item = {topic, msgs, n_msgs};
	return msb_store_save_batch(store, &item, 1, error);
}

static gboolean
msb_store_simple_request(MsbStore *store, MsbRequest *req, GError **error)
{
	gboolean ok;

	msb_store_submit(store, &req, 1);
	ok = req->error == NULL;
	if (!ok)
		g_propagate_error(error, g_steal_pointer(&req->error));
	msb_request_clear(req);
	return ok;
}

gboolean
msb_store_delete_topic(MsbStore *store, const gchar *topic, gint64 delete_after_us, GError **error)
{
	MsbRequest req = {.kind = MSB_REQ_DELETE, .topic = topic, .arg = delete_after_us};

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	if (!msb_store_check_ready(store, error) || !msb_store_check_topic_name(topic, error))
		return FALSE;
	return msb_store_simple_request(store, &req, error);
}

gboolean
msb_store_restore_topic(MsbStore *store, const gchar *topic, gint64 *next_message_id,
                        GError **error)
{
	MsbRequest req = {.kind = MSB_REQ_RESTORE, .topic = topic};
	gint64 next;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	if (!msb_store_check_ready(store, error) || !msb_store_check_topic_name(topic, error))
		return FALSE;
	if (!msb_store_simple_request(store, &req, error))
		return FALSE;
	next = req.next_id;
	if (next_message_id != NULL)
		*next_message_id = next;
	return TRUE;
}

gboolean
msb_store_run_maintenance(MsbStore *store, gboolean seal_all, GError **error)
{
	MsbRequest req = {.kind = MSB_REQ_MAINTENANCE, .arg = seal_all};

	g_return_val_if_fail(store != NULL, FALSE);
	if (!msb_store_check_ready(store, error))
		return FALSE;
	if (store->writer == NULL) {
		/* msb_store_open_recover_only(): no other thread, so the caller can be the writer
		 */
		msb_writer_maintenance(store, seal_all);
		return TRUE;
	}
	return msb_store_simple_request(store, &req, error);
}

static gint
msb_cmp_info(gconstpointer a, gconstpointer b)
{
	const MsbStoreTopicInfo *x = *(MsbStoreTopicInfo *const *)a;
	const MsbStoreTopicInfo *y = *(MsbStoreTopicInfo *const *)b;
	return strcmp(x->name, y->name);
}

static gboolean
msb_count_sealed_cb(gpointer key, gpointer value, gpointer data)
{
	if (((MsbSubPage *)value)->blocks != NULL)
		(*(guint *)data)++;
	return FALSE;
}

GPtrArray *
msb_store_list_topics(MsbStore *store, GError **error)
{
	g_autoptr(GPtrArray) out =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_topic_info_free);
	GHashTableIter iter;
	gpointer value;

	g_return_val_if_fail(store != NULL, NULL);
	if (!msb_store_check_ready(store, error))
		return NULL;
	msb_lock(&store->lock);
	g_hash_table_iter_init(&iter, store->topics);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		MsbTopic *topic = value;
		MsbStoreTopicInfo *info = g_new0(MsbStoreTopicInfo, 1);
		info->name = g_strdup(topic->name);
		info->min_id = msb_topic_min_id(topic);
		info->max_id = msb_topic_max_id(topic);
		info->count = topic->count;
		info->disk_bytes = topic->disk_bytes;
		info->last_save_us = topic->last_save_us;
		info->delete_after_us = topic->delete_after_us;
		info->open_sub_pages = g_hash_table_size(topic->open_subs);
		g_tree_foreach(topic->subs, msb_count_sealed_cb, &info->sealed_sub_pages);
		g_ptr_array_add(out, info);
	}
	msb_unlock(&store->lock);
	g_ptr_array_sort(out, msb_cmp_info);
	return g_steal_pointer(&out);
}

void
msb_store_get_stats(MsbStore *store, MsbStoreStats *stats)
{
	g_return_if_fail(store != NULL && stats != NULL);
	msb_lock(&store->lock);
	*stats = store->stats;
	msb_unlock(&store->lock);
}

void
msb_store_get_fsync_latency(MsbStore *store, MsbHistogram *histogram)
{
	g_return_if_fail(store != NULL && histogram != NULL);
	msb_histogram_copy_atomic(&store->io.fsync_latency, histogram);
}

GPtrArray *
msb_store_get_recovery_cuts(MsbStore *store)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_cut_free);

	g_return_val_if_fail(store != NULL, out);
	msb_lock(&store->lock);
	for (guint i = 0; i < store->cuts->len; i++) {
		const MsbStoreCut *c = g_ptr_array_index(store->cuts, i);
		MsbStoreCut *copy = g_new0(MsbStoreCut, 1);
		copy->path = g_strdup(c->path);
		copy->offset = c->offset;
		copy->bytes = c->bytes;
		copy->reason = g_strdup(c->reason);
		g_ptr_array_add(out, copy);
	}
	msb_unlock(&store->lock);
	return out;
}

void
msb_store_inject_fault(MsbStore *store, MsbStoreFault fault, guint nth, gint errno_value)
{
	g_return_if_fail(store != NULL);
	if (fault == MSB_STORE_FAULT_WRITE) {
		g_atomic_int_set(&store->io.fail_write_errno, errno_value);
		g_atomic_int_set(&store->io.fail_write_nth, (gint)nth);
	} else {
		g_atomic_int_set(&store->io.fail_sync_errno, errno_value);
		g_atomic_int_set(&store->io.fail_sync_nth, (gint)nth);
	}
}

gboolean
msb_store_save_snapshot(MsbStore *store, GBytes *snapshot, GError **error)
{
	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(snapshot != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	if (!msb_store_check_ready(store, error))
		return FALSE;
	return msb_snapshot_save(store, snapshot, error);
}

GBytes *
msb_store_load_snapshot(MsbStore *store, GError **error)
{
	g_return_val_if_fail(store != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);
	if (!msb_store_check_ready(store, error))
		return NULL;
	return msb_snapshot_load(store, error);
}
