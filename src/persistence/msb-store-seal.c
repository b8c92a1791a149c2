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
#define G_LOG_DOMAIN "msb-persistence-store"

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
	GArray *entries; /* MsbIndexEntry, of every sub-page of the pass */
	guint first;     /* the first entry of this sub-page: its part numbers count from it */
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
	head.part = c->entries->len - c->first;
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
	e.part = c->entries->len - c->first;
	e.data_file_no = c->data->no;
	e.count = c->count;
	e.offset = c->data->size;
	e.length = MSB_FRAME_HEADER_SIZE + plen;
	e.block_crc = crc;
	memcpy(e.bitmap, c->bitmap, MSB_BITMAP_BYTES);
	g_array_append_val(c->entries, e);
	msb_file_set_size(c->data, c->data->size + e.length);

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

void
msb_store_unlink_paths(GPtrArray *paths)
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

/* Reads @plan (@sub's blocks merged with its overlay, as copied under the lock) and writes it as
 * compressed blocks at the end of @data, neither flushed nor indexed yet; its index entries are
 * appended to @entries. */
static gboolean
msb_seal_write_blocks(MsbStore *store, MsbSubPage *sub, MsbReadPlan *plan, MsbStoreFile *data,
                      gint64 covers_lsn, GArray *entries, GError **error)
{
	g_autoptr(GByteArray) part = g_byte_array_new();
	MsbSealCtx c = {0};
	gboolean stopped = FALSE;

	c.store = store;
	c.sub = sub;
	c.data = data;
	c.covers_lsn = covers_lsn;
	c.part = part;
	c.entries = entries;
	c.first = entries->len;
	if (!msb_read_plan_run(plan, msb_seal_add_cb, &c, &stopped, error))
		return FALSE;
	if (stopped) {
		g_propagate_error(error, g_steal_pointer(&c.error));
		return FALSE;
	}
	return msb_seal_flush_part(&c, error);
}

/* sub-pages sealed together, sharing the flush of the data file and of the index */
#define MSB_SEAL_BATCH 64

/*
 * Seals @subs[0..@n) of @topic in one pass: the blocks of each are written to the data file, the
 * data file is flushed once, the index records of all of them are appended with one write and
 * flushed once (the commit point of every seal of the pass), and only then is their write-ahead
 * state dropped. So a pass costs two flushes however many sub-pages it seals. The pass takes at
 * least one sub-page and stops early when msb_seal_time_is_up() or once the data file is full;
 * *@n_done says how many of @subs it handled. On failure nothing of the pass is kept: the blocks
 * and index records written are cut off again and every record stays in the log.
 *
 * The writer goes on saving meanwhile, also into these sub-pages: what the pass seals is fixed
 * at its start, under the lock, as every record applied to the index so far (lsn up to the
 * topic's applied_lsn; those written since have larger ones). Only those records leave the
 * overlay when the pass is committed; newer ones stay, and the sub-page stays open for them.
 */
static gboolean
msb_seal_sub_pages(MsbStore *store, MsbTopic *topic, MsbSubPage *const *subs, guint n,
                   gint64 deadline_mono, guint *n_done, GError **error)
{
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(MsbIndexEntry));
	g_autoptr(GArray) ends = g_array_new(FALSE, FALSE, sizeof(guint)); /* per sub-page */
	g_autoptr(GByteArray) idx = g_byte_array_new();
	g_autoptr(GPtrArray) unlink_paths = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) plans =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_read_plan_free);
	MsbStoreFile *data;
	MsbStoreFile *index = topic->index;
	guint64 data_before;
	guint64 index_before = index->size;
	gint64 covers_lsn;
	guint fsyncs = 0;
	guint done = 0;
	guint sealed = 0;

	*n_done = 0;
	msb_lock(&store->lock);
	covers_lsn = topic->applied_lsn;
	for (guint i = 0; i < n; i++)
		g_ptr_array_add(plans, msb_read_plan_new(subs[i], 0, MSB_STORE_SUB_PAGE_SIZE - 1));
	msb_unlock(&store->lock);
	if (index->broken) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "%s could not be repaired after a write error; restart the service",
		            index->path);
		return FALSE;
	}
	data = msb_topic_tail_file(store, topic, MSB_FILE_DATA, error);
	if (data == NULL)
		return FALSE;
	data_before = data->size;

	while (done < n) {
		if (done > 0 &&
		    (msb_seal_time_is_up(deadline_mono) || data->size >= store->data_max))
			break;
		if (!msb_seal_write_blocks(store, subs[done], g_ptr_array_index(plans, done), data,
		                           covers_lsn, entries, error))
			goto fail;
		g_array_append_val(ends, entries->len);
		done++;
	}
	*n_done = done;
	if (entries->len == 0)
		return TRUE; /* nothing was open in them after all */
	fsyncs++;
	if (!msb_io_sync(&store->io, data->fd, data->path, error))
		goto fail;

	for (guint s = 0, from = 0; s < done; s++) {
		guint to = g_array_index(ends, guint, s);
		for (guint i = from; i < to; i++) {
			MsbIndexEntry *e = &g_array_index(entries, MsbIndexEntry, i);
			guint8 payload[MSB_INDEX_PAYLOAD];
			e->nparts = to - from;
			msb_index_entry_write(payload, e);
			msb_frame_append(idx, MSB_REC_INDEX, payload, sizeof(payload));
		}
		from = to;
	}
	/* the index records are the commit point of the seals */
	if (!msb_io_pwrite(&store->io, index->fd, index->path, idx->data, idx->len, index_before,
	                   error)) {
		msb_rollback_file(index, index_before);
		goto fail;
	}
	msb_file_set_size(index, index_before + idx->len);
	fsyncs++;
	if (!msb_io_sync(&store->io, index->fd, index->path, error)) {
		msb_rollback_file(index, index_before);
		goto fail;
	}

	msb_lock(&store->lock);
	for (guint s = 0, from = 0; s < done; s++) {
		MsbSubPage *sub = subs[s];
		guint to = g_array_index(ends, guint, s);
		GPtrArray *blocks;

		if (to == from)
			continue; /* it had nothing to seal */
		blocks = g_ptr_array_new_with_free_func(msb_block_ref_free);
		for (guint i = from; i < to; i++) {
			const MsbIndexEntry *e = &g_array_index(entries, MsbIndexEntry, i);
			MsbBlockRef *b = g_new0(MsbBlockRef, 1);
			b->file = msb_store_file_ref(data);
			b->offset = e->offset;
			b->length = e->length;
			b->crc = e->block_crc;
			b->count = e->count;
			memcpy(b->bitmap, e->bitmap, MSB_BITMAP_BYTES);
			b->file->live++;
			g_ptr_array_add(blocks, b);
		}
		from = to;
		g_clear_pointer(&sub->blocks, g_ptr_array_unref);
		sub->blocks = blocks;
		sub->covers_lsn = covers_lsn;
		for (guint i = 0; sub->overlay != NULL && i < MSB_STORE_SUB_PAGE_SIZE; i++) {
			MsbRecRef *slot = &sub->overlay[i];
			/* saved while the pass ran: not in these blocks, still in the log */
			if (slot->file == NULL || slot->lsn > covers_lsn)
				continue;
			slot->file->live--;
			msb_store_file_unref(slot->file);
			slot->file = NULL;
			sub->n_overlay--;
		}
		if (sub->n_overlay == 0) {
			g_clear_pointer(&sub->overlay, g_free);
			g_hash_table_remove(topic->open_subs, sub);
		}
		msb_sub_page_recount(sub);
		sealed++;
	}
	msb_topic_recount(topic);
	store->stats.seals += sealed;
	store->stats.seal_fsyncs += fsyncs;
	/* data files are ours; the segments are the writer's to remove, between its commits */
	msb_topic_collect_data_files(store, topic, unlink_paths);
	topic->wals_free = TRUE;
	g_atomic_int_set(&store->wals_free, 1);
	msb_unlock(&store->lock);
	msb_store_unlink_paths(unlink_paths);
	return TRUE;

fail:
	msb_lock(&store->lock);
	store->stats.seal_fsyncs += fsyncs;
	msb_unlock(&store->lock);
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

	if (!all && now < topic->seal_retry_mono)
		return FALSE;
	/* the writer adds sub-pages and records meanwhile: choose under the lock (sub-pages are
	 * never freed while the topic lives, and it lives while we hold seal_lock) */
	subs = g_ptr_array_new();
	msb_lock(&store->lock);
	last = g_tree_node_last(topic->subs);
	newest = last != NULL ? ((MsbSubPage *)g_tree_node_value(last))->no : -1;
	g_hash_table_iter_init(&iter, topic->open_subs);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		MsbSubPage *sub = key;
		gboolean full = sub->count == MSB_STORE_SUB_PAGE_SIZE;
		gboolean idle =
		        sub->no < newest && now - sub->last_write_mono >= store->seal_idle_us;

		if (all || full || idle)
			g_ptr_array_add(subs, sub);
	}
	msb_unlock(&store->lock);
	g_ptr_array_sort(subs, msb_cmp_sub);
	for (guint i = 0; i < subs->len;) {
		g_autoptr(GError) error = NULL;
		guint done = 0;

		if (msb_seal_time_is_up(deadline_mono))
			return TRUE;
		if (!msb_seal_sub_pages(store, topic, (MsbSubPage *const *)subs->pdata + i,
		                        MIN(subs->len - i, MSB_SEAL_BATCH), deadline_mono, &done,
		                        &error)) {
			/* the records stay in the log, nothing is lost; try again later */
			msb_warning_fields(
			        MSB_LOG_TOPIC(topic->name),
			        "Cannot seal sub-page %" G_GINT64_FORMAT
			        " of topic %s: %s; it stays in the write-ahead log and sealing "
			        "is retried in %d s",
			        ((MsbSubPage *)g_ptr_array_index(subs, i))->no, topic->name,
			        error->message, (int)(MSB_SEAL_RETRY_US / G_TIME_SPAN_SECOND));
			topic->seal_retry_mono = g_get_monotonic_time() + MSB_SEAL_RETRY_US;
			return FALSE;
		}
		i += done;
	}
	return FALSE;
}

static gint
msb_cmp_topic_name(gconstpointer a, gconstpointer b)
{
	const MsbTopic *x = *(MsbTopic *const *)a;
	const MsbTopic *y = *(MsbTopic *const *)b;
	return strcmp(x->name, y->name);
}

gboolean
msb_seal_pass(MsbStore *store, gboolean all, gint64 deadline_mono)
{
	g_autoptr(GPtrArray) topics = g_ptr_array_new();
	GHashTableIter iter;
	gpointer value;
	gboolean more = FALSE;

	msb_lock(&store->lock);
	g_hash_table_iter_init(&iter, store->topics);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		MsbTopic *topic = value;
		/* a deleted topic is not sealed: it is restored as it is, or removed */
		if (topic->delete_after_us == 0 && g_hash_table_size(topic->open_subs) > 0)
			g_ptr_array_add(topics, topic);
	}
	msb_unlock(&store->lock);
	g_ptr_array_sort(topics, msb_cmp_topic_name);
	for (guint i = 0; i < topics->len; i++) {
		if (msb_seal_time_is_up(deadline_mono)) {
			more = TRUE;
			break;
		}
		if (msb_seal_topic(store, g_ptr_array_index(topics, i), all, deadline_mono))
			more = TRUE;
	}
	return more;
}
