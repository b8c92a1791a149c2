/*
 * Sealing: turns the write-ahead records of a sub-page (merged with its previous sealed blocks,
 * if any) into compressed blocks in the topic's data file, then records them in the index.
 *
 * Rule: a sub-page with open records is sealed when all 1000 ids are present, or when a later
 * sub-page of the topic holds data and nothing was saved into this one for seal_idle_us. Order
 * of durability: blocks are written and flushed, then their index records are appended and
 * flushed; only then are the write-ahead records dropped. A crash in between leaves blocks that
 * no index record names (cut at the next start) and the records still in the log.
 */
#define G_LOG_DOMAIN "msb-store"

#include "msb-store-private.h"

#include <glib/gstdio.h>
#include <string.h>
#include <zlib.h>

/* raw bytes per block: small enough that reading one message inflates little */
#define MSB_SEAL_PART_BYTES (1u << 20)
#define MSB_SEAL_RETRY_US   (5 * G_TIME_SPAN_SECOND)

typedef struct {
	MsbStore *store;
	MsbSubPage *sub;
	MsbStoreFile *data;
	gint64 covers_lsn;
	GByteArray *part;
	guint8 bitmap[MSB_BITMAP_BYTES];
	guint32 count;
	GArray *entries; /* MsbIndexEntry */
	GError *error;
} MsbSealCtx;

static gboolean
msb_seal_flush_part(MsbSealCtx *c, GError **error)
{
	g_autofree guint8 *buf = NULL;
	uLongf clen;
	MsbBlockHead head = {0};
	MsbIndexEntry e = {0};
	guint32 plen;
	guint32 crc;
	int zr;

	if (c->part->len == 0)
		return TRUE;
	clen = compressBound(c->part->len);
	buf = g_malloc(MSB_FRAME_HEADER_SIZE + MSB_BLOCK_PAYLOAD_HEAD + clen);
	zr = compress2(buf + MSB_FRAME_HEADER_SIZE + MSB_BLOCK_PAYLOAD_HEAD, &clen, c->part->data,
	               c->part->len, c->store->compress_level);
	if (zr != Z_OK) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "Cannot compress sub-page %" G_GINT64_FORMAT " for %s (zlib %d)",
		            c->sub->no, c->data->path, zr);
		return FALSE;
	}
	head.sub_no = c->sub->no;
	head.covers_lsn = c->covers_lsn;
	head.part = c->entries->len;
	head.count = c->count;
	head.raw_len = c->part->len;
	head.codec = MSB_CODEC_ZLIB;
	msb_block_head_write(buf + MSB_FRAME_HEADER_SIZE, &head);
	plen = (guint32)(MSB_BLOCK_PAYLOAD_HEAD + clen);
	crc = msb_frame_header_begin(buf, MSB_REC_BLOCK, plen);
	crc = msb_crc32(crc, buf + MSB_FRAME_HEADER_SIZE, plen);
	msb_frame_header_finish(buf, crc);
	if (!msb_io_pwrite(&c->store->io, c->data->fd, c->data->path, buf,
	                   MSB_FRAME_HEADER_SIZE + plen, c->data->size, error))
		return FALSE;

	e.sub_no = c->sub->no;
	e.covers_lsn = c->covers_lsn;
	e.part = c->entries->len;
	e.data_file_no = c->data->no;
	e.count = c->count;
	e.offset = c->data->size;
	e.length = MSB_FRAME_HEADER_SIZE + plen;
	e.block_crc = crc;
	memcpy(e.bitmap, c->bitmap, MSB_BITMAP_BYTES);
	g_array_append_val(c->entries, e);
	c->data->size += e.length;

	g_byte_array_set_size(c->part, 0);
	memset(c->bitmap, 0, sizeof(c->bitmap));
	c->count = 0;
	return TRUE;
}

static gboolean
msb_seal_add_cb(MsbStoreMessage *msg, gpointer user_data)
{
	MsbSealCtx *c = user_data;
	gsize n = msb_message_head_size(msg) + g_bytes_get_size(msg->content);

	if (c->part->len > 0 && c->part->len + n > MSB_SEAL_PART_BYTES &&
	    !msb_seal_flush_part(c, &c->error)) {
		msb_store_message_free(msg);
		return FALSE;
	}
	msb_message_append(c->part, msg);
	msb_bitmap_set(c->bitmap, (guint)(msg->id % MSB_STORE_SUB_PAGE_SIZE));
	c->count++;
	msb_store_message_free(msg);
	return TRUE;
}

static MsbStoreFile *
msb_seal_data_file(MsbStore *store, MsbTopic *topic, GError **error)
{
	MsbStoreFile *last = topic->datas->len > 0
	                             ? g_ptr_array_index(topic->datas, topic->datas->len - 1)
	                             : NULL;
	MsbStoreFile *data;

	if (last != NULL && !last->broken && last->size < store->data_max)
		return last;
	data = msb_store_file_create(&store->io, topic->dir, MSB_FILE_DATA,
	                             MAX(last != NULL ? last->no + 1 : 1, topic->next_data_no),
	                             error);
	if (data == NULL)
		return NULL;
	topic->next_data_no = data->no + 1;
	msb_lock(&store->lock);
	g_ptr_array_add(topic->datas, data);
	msb_topic_update_disk_bytes(topic);
	msb_unlock(&store->lock);
	return data;
}

static void
msb_seal_unlink(GPtrArray *paths)
{
	for (guint i = 0; i < paths->len; i++) {
		const gchar *path = g_ptr_array_index(paths, i);
		if (g_unlink(path) != 0)
			g_warning("Cannot remove %s, which holds nothing needed any more: %s", path,
			          g_strerror(errno));
		else
			g_debug("removed %s", path);
	}
}

gboolean
msb_seal_sub_page(MsbStore *store, MsbTopic *topic, MsbSubPage *sub, GError **error)
{
	g_autoptr(MsbReadPlan) plan = NULL;
	g_autoptr(GByteArray) part = g_byte_array_new();
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(MsbIndexEntry));
	g_autoptr(GByteArray) idx = g_byte_array_new();
	g_autoptr(GPtrArray) unlink_paths = g_ptr_array_new_with_free_func(g_free);
	MsbSealCtx c = {0};
	MsbStoreFile *data;
	MsbStoreFile *index = topic->index;
	guint64 data_before;
	guint64 index_before = index->size;
	gboolean stopped = FALSE;
	guint fsyncs = 0;
	GPtrArray *blocks;

	if (index->broken) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "%s could not be repaired after a write error; restart the service",
		            index->path);
		return FALSE;
	}
	data = msb_seal_data_file(store, topic, error);
	if (data == NULL)
		return FALSE;
	data_before = data->size;

	c.store = store;
	c.sub = sub;
	c.data = data;
	/* every record of this sub-page written so far has a smaller lsn */
	c.covers_lsn = topic->next_lsn - 1;
	c.part = part;
	c.entries = entries;
	/* the writer is the only thread that changes the index, so it may read it unlocked */
	plan = msb_read_plan_new(sub, 0, MSB_STORE_SUB_PAGE_SIZE - 1);
	if (!msb_read_plan_run(plan, msb_seal_add_cb, &c, &stopped, error))
		goto fail;
	if (stopped) {
		g_propagate_error(error, g_steal_pointer(&c.error));
		goto fail;
	}
	if (!msb_seal_flush_part(&c, error))
		goto fail;
	if (entries->len == 0)
		return TRUE;
	fsyncs++;
	if (!msb_io_sync(&store->io, data->fd, data->path, error))
		goto fail;

	for (guint i = 0; i < entries->len; i++) {
		MsbIndexEntry *e = &g_array_index(entries, MsbIndexEntry, i);
		guint8 payload[MSB_INDEX_PAYLOAD];
		e->nparts = entries->len;
		msb_index_entry_write(payload, e);
		msb_frame_append(idx, MSB_REC_INDEX, payload, sizeof(payload));
	}
	/* the index record is the commit point of a seal */
	if (!msb_io_pwrite(&store->io, index->fd, index->path, idx->data, idx->len, index_before,
	                   error)) {
		msb_rollback_file(index, index_before);
		goto fail;
	}
	index->size = index_before + idx->len;
	fsyncs++;
	if (!msb_io_sync(&store->io, index->fd, index->path, error)) {
		msb_rollback_file(index, index_before);
		goto fail;
	}

	blocks = g_ptr_array_new_with_free_func(msb_block_ref_free);
	for (guint i = 0; i < entries->len; i++) {
		const MsbIndexEntry *e = &g_array_index(entries, MsbIndexEntry, i);
		MsbBlockRef *b = g_new0(MsbBlockRef, 1);
		b->file = msb_store_file_ref(data);
		b->offset = e->offset;
		b->length = e->length;
		b->crc = e->block_crc;
		b->count = e->count;
		memcpy(b->bitmap, e->bitmap, MSB_BITMAP_BYTES);
		g_ptr_array_add(blocks, b);
	}
	msb_lock(&store->lock);
	for (guint i = 0; i < blocks->len; i++)
		((MsbBlockRef *)g_ptr_array_index(blocks, i))->file->live++;
	g_clear_pointer(&sub->blocks, g_ptr_array_unref);
	sub->blocks = blocks;
	sub->covers_lsn = c.covers_lsn;
	for (guint i = 0; sub->overlay != NULL && i < MSB_STORE_SUB_PAGE_SIZE; i++) {
		if (sub->overlay[i].file != NULL) {
			sub->overlay[i].file->live--;
			msb_store_file_unref(sub->overlay[i].file);
		}
	}
	g_clear_pointer(&sub->overlay, g_free);
	sub->n_overlay = 0;
	g_hash_table_remove(topic->open_subs, sub);
	msb_sub_page_recount(sub);
	msb_topic_recount(topic);
	store->stats.seals++;
	store->stats.seal_fsyncs += fsyncs;
	msb_topic_collect_files(store, topic, unlink_paths);
	msb_unlock(&store->lock);
	msb_seal_unlink(unlink_paths);
	return TRUE;

fail:
	msb_lock(&store->lock);
	store->stats.seal_fsyncs += fsyncs;
	msb_unlock(&store->lock);
	g_clear_error(&c.error);
	msb_rollback_file(data, data_before);
	return FALSE;
}

static gint
msb_cmp_sub(gconstpointer a, gconstpointer b)
{
	const MsbSubPage *x = *(MsbSubPage *const *)a;
	const MsbSubPage *y = *(MsbSubPage *const *)b;
	return x->no < y->no ? -1 : (x->no > y->no ? 1 : 0);
}

gboolean
msb_seal_topic(MsbStore *store, MsbTopic *topic, gboolean all, gint64 deadline_mono)
{
	g_autoptr(GPtrArray) subs = NULL;
	GTreeNode *last;
	gint64 newest;
	gint64 now = g_get_monotonic_time();
	GHashTableIter iter;
	gpointer key;

	if (g_hash_table_size(topic->open_subs) == 0)
		return FALSE;
	if (!all && now < topic->seal_retry_mono)
		return FALSE;
	last = g_tree_node_last(topic->subs);
	newest = last != NULL ? ((MsbSubPage *)g_tree_node_value(last))->no : -1;
	subs = g_ptr_array_new();
	g_hash_table_iter_init(&iter, topic->open_subs);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(subs, key);
	g_ptr_array_sort(subs, msb_cmp_sub);
	for (guint i = 0; i < subs->len; i++) {
		MsbSubPage *sub = g_ptr_array_index(subs, i);
		g_autoptr(GError) error = NULL;
		gboolean full = sub->count == MSB_STORE_SUB_PAGE_SIZE;
		gboolean idle =
		        sub->no < newest && now - sub->last_write_mono >= store->seal_idle_us;

		if (!all && !full && !idle)
			continue;
		if (g_get_monotonic_time() >= deadline_mono)
			return TRUE;
		if (!msb_seal_sub_page(store, topic, sub, &error)) {
			/* the records stay in the log, nothing is lost; try again later */
			g_warning("Cannot seal sub-page %" G_GINT64_FORMAT
			          " of topic %s: %s; it stays in the write-ahead log and sealing "
			          "is retried in %d s",
			          sub->no, topic->name, error->message,
			          (int)(MSB_SEAL_RETRY_US / G_TIME_SPAN_SECOND));
			topic->seal_retry_mono = g_get_monotonic_time() + MSB_SEAL_RETRY_US;
			return FALSE;
		}
	}
	return FALSE;
}
