/*
 * Reading: a sub-page is served from its sealed blocks merged with the newer write-ahead records
 * (the overlay), in id order, one block in memory at a time. The same merge feeds the sealer, so
 * what is sealed is exactly what a reader would have seen. Every record is checked against its
 * checksum before a byte of it is served. A sub-page that fails its checks is remembered (file,
 * offset, reason) so that the service can list damaged blocks for an operator, who otherwise
 * sees only the broker skipping ids.
 */
#define G_LOG_DOMAIN "msb-persistence-store"

#include "msb-store-private.h"

#include <zlib.h>

static void
msb_block_ref_copy_free(gpointer data)
{
	MsbBlockRef *b = data;
	msb_store_file_unref(b->file);
	g_free(b);
}

static void
msb_plan_rec_clear(gpointer data)
{
	MsbPlanRec *r = data;
	msb_store_file_unref(r->rec.file);
}

MsbReadPlan *
msb_read_plan_new(const MsbSubPage *sub, guint lo, guint hi)
{
	MsbReadPlan *plan = g_new0(MsbReadPlan, 1);

	plan->sub_no = sub->no;
	plan->lo = lo;
	plan->hi = hi;
	plan->blocks = g_ptr_array_new_with_free_func(msb_block_ref_copy_free);
	plan->overlay = g_array_new(FALSE, FALSE, sizeof(MsbPlanRec));
	g_array_set_clear_func(plan->overlay, msb_plan_rec_clear);
	for (guint i = 0; sub->blocks != NULL && i < sub->blocks->len; i++) {
		const MsbBlockRef *b = g_ptr_array_index(sub->blocks, i);
		MsbBlockRef *copy;
		if (msb_bitmap_first(b->bitmap, lo, hi) < 0)
			continue;
		copy = g_memdup2(b, sizeof(*b));
		msb_store_file_ref(copy->file);
		g_ptr_array_add(plan->blocks, copy);
	}
	for (guint i = lo; sub->overlay != NULL && i <= hi; i++) {
		MsbPlanRec r;
		if (sub->overlay[i].file == NULL)
			continue;
		r.id = sub->no * MSB_STORE_SUB_PAGE_SIZE + i;
		r.rec = sub->overlay[i];
		msb_store_file_ref(r.rec.file);
		g_array_append_val(plan->overlay, r);
	}
	return plan;
}

void
msb_read_plan_free(MsbReadPlan *plan)
{
	if (plan == NULL)
		return;
	g_ptr_array_unref(plan->blocks);
	g_array_unref(plan->overlay);
	g_free(plan);
}

static GBytes *
msb_read_frame_crc(MsbStoreFile *file, guint64 offset, guint32 length, guint16 want_type,
                   guint32 *crc_out, GError **error)
{
	g_autoptr(GBytes) whole = NULL;
	guint8 *buf;
	guint16 type = 0;
	guint32 plen = 0;
	MsbFrameStatus st;

	/* the length comes from the disk: check it before allocating (a damaged index record
	 * asked for 4 GiB, found by fuzz-store) */
	if (length < MSB_FRAME_HEADER_SIZE ||
	    length - MSB_FRAME_HEADER_SIZE > MSB_FRAME_MAX_PAYLOAD) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
		            "Index points to a %u-byte record at offset %" G_GUINT64_FORMAT
		            " of %s (a record is at most %u bytes)",
		            length, offset, file->path,
		            MSB_FRAME_HEADER_SIZE + MSB_FRAME_MAX_PAYLOAD);
		return NULL;
	}
	buf = g_malloc(length);
	whole = g_bytes_new_take(buf, length);
	if (!msb_io_pread(file->fd, file->path, buf, length, offset, error))
		return NULL;
	st = msb_frame_check(buf, length, &type, &plen);
	if (st == MSB_FRAME_OK && (plen + MSB_FRAME_HEADER_SIZE != length || type != want_type))
		st = MSB_FRAME_BAD_LENGTH;
	if (st != MSB_FRAME_OK) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
		            "Record at offset %" G_GUINT64_FORMAT " of %s is damaged (%s); it is "
		            "not served",
		            offset, file->path, msb_frame_status_to_string(st));
		return NULL;
	}
	if (crc_out != NULL)
		*crc_out = msb_get_u32(buf + 4);
	return g_bytes_new_from_bytes(whole, MSB_FRAME_HEADER_SIZE, plen);
}

GBytes *
msb_read_frame(MsbStoreFile *file, guint64 offset, guint32 length, guint16 want_type,
               GError **error)
{
	return msb_read_frame_crc(file, offset, length, want_type, NULL, error);
}

/* The message of the record @ref whose payload (lsn and encoding) is @payload. */
static MsbStoreMessage *
msb_record_decode(const MsbRecRef *ref, GBytes *payload, gboolean copy, gint64 want_id, gint64 *lsn,
                  GError **error)
{
	const guint8 *p;
	gsize len = 0;
	gsize used = 0;
	MsbStoreMessage *msg;

	p = g_bytes_get_data(payload, &len);
	msg = len >= MSB_WAL_PAYLOAD_FIXED
	              ? msb_message_decode(payload, p + 8, len - 8, copy, &used)
	              : NULL;
	if (msg == NULL || used != len - 8 || (want_id >= 0 && msg->id != want_id)) {
		msb_store_message_free(msg);
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
		            "Message record at offset %" G_GUINT64_FORMAT
		            " of %s does not decode to message %" G_GINT64_FORMAT,
		            ref->offset, ref->file->path, want_id);
		return NULL;
	}
	if (lsn != NULL)
		*lsn = msb_get_i64(p);
	return msg;
}

MsbStoreMessage *
msb_read_record(const MsbRecRef *ref, gint64 want_id, gint64 *lsn, GError **error)
{
	g_autoptr(GBytes) payload = NULL;

	payload = msb_read_frame(ref->file, ref->offset, ref->length, MSB_REC_MESSAGE, error);
	if (payload == NULL)
		return NULL;
	return msb_record_decode(ref, payload, FALSE, want_id, lsn, error);
}

/*
 * Consecutive write-ahead records of a sub-page mostly lie back to back in one segment (a save
 * appends them with one write), so the overlay is read in spans of adjacent records, one pread
 * per span instead of one per record. Every record is still checked on its own.
 */
#define MSB_READ_SPAN_BYTES (1u << 20)

typedef struct {
	MsbStoreFile *file; /* not referenced: the plan holds the file */
	guint64 offset;
	guint64 end;
	GBytes *bytes;
} MsbReadSpan;

static void
msb_read_span_clear(MsbReadSpan *span)
{
	g_clear_pointer(&span->bytes, g_bytes_unref);
	span->file = NULL;
	span->offset = span->end = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MsbReadSpan, msb_read_span_clear)

/* The record of overlay entry @oi of @plan, from @span, which is refilled when it does not hold
 * it. */
static MsbStoreMessage *
msb_read_overlay(MsbReadPlan *plan, guint oi, MsbReadSpan *span, GError **error)
{
	const MsbPlanRec *r = &g_array_index(plan->overlay, MsbPlanRec, oi);
	const MsbRecRef *ref = &r->rec;
	g_autoptr(GBytes) payload = NULL;
	const guint8 *buf;
	guint16 type = 0;
	guint32 plen = 0;
	MsbFrameStatus st;
	gsize at;

	if (span->bytes == NULL || span->file != ref->file || ref->offset < span->offset ||
	    ref->offset + ref->length > span->end) {
		guint64 end = ref->offset + ref->length;
		guint8 *data;

		if (ref->length < MSB_FRAME_HEADER_SIZE)
			return msb_read_record(ref, r->id, NULL, error); /* reports it */
		for (guint j = oi + 1; j < plan->overlay->len; j++) {
			const MsbRecRef *next = &g_array_index(plan->overlay, MsbPlanRec, j).rec;
			if (next->file != ref->file || next->offset != end ||
			    end + next->length - ref->offset > MSB_READ_SPAN_BYTES)
				break;
			end += next->length;
		}
		msb_read_span_clear(span);
		data = g_malloc(end - ref->offset);
		span->bytes = g_bytes_new_take(data, end - ref->offset);
		if (!msb_io_pread(ref->file->fd, ref->file->path, data, end - ref->offset,
		                  ref->offset, error)) {
			msb_read_span_clear(span);
			return NULL;
		}
		span->file = ref->file;
		span->offset = ref->offset;
		span->end = end;
	}
	at = ref->offset - span->offset;
	buf = (const guint8 *)g_bytes_get_data(span->bytes, NULL) + at;
	st = msb_frame_check(buf, ref->length, &type, &plen);
	if (st == MSB_FRAME_OK &&
	    (plen + MSB_FRAME_HEADER_SIZE != ref->length || type != MSB_REC_MESSAGE))
		st = MSB_FRAME_BAD_LENGTH;
	if (st != MSB_FRAME_OK) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
		            "Record at offset %" G_GUINT64_FORMAT " of %s is damaged (%s); it is "
		            "not served",
		            ref->offset, ref->file->path, msb_frame_status_to_string(st));
		return NULL;
	}
	payload = g_bytes_new_from_bytes(span->bytes, at + MSB_FRAME_HEADER_SIZE, plen);
	/* a small record gets its own copy, so that it does not keep the whole span alive */
	return msb_record_decode(ref, payload, ref->length < (span->end - span->offset) / 4, r->id,
	                         NULL, error);
}

/* Reads, checks and inflates one sealed block. */
static GBytes *
msb_read_block(const MsbBlockRef *b, gint64 sub_no, GError **error)
{
	g_autoptr(GBytes) payload = NULL;
	MsbBlockHead head;
	const guint8 *p;
	gsize len = 0;
	guint32 crc = 0;
	guint8 *raw;
	uLongf raw_len;
	int zr;

	payload = msb_read_frame_crc(b->file, b->offset, b->length, MSB_REC_BLOCK, &crc, error);
	if (payload == NULL)
		return NULL;
	p = g_bytes_get_data(payload, &len);
	if (crc != b->crc || !msb_block_head_read(&head, p, len) || head.sub_no != sub_no ||
	    head.count != b->count) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
		            "Sealed block at offset %" G_GUINT64_FORMAT
		            " of %s is not the one the index expects",
		            b->offset, b->file->path);
		return NULL;
	}
	raw = g_malloc(MAX(head.raw_len, 1));
	raw_len = head.raw_len;
	zr = uncompress(raw, &raw_len, p + MSB_BLOCK_PAYLOAD_HEAD, len - MSB_BLOCK_PAYLOAD_HEAD);
	if (zr != Z_OK || raw_len != head.raw_len) {
		g_free(raw);
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
		            "Sealed block at offset %" G_GUINT64_FORMAT
		            " of %s does not decompress (zlib %d)",
		            b->offset, b->file->path, zr);
		return NULL;
	}
	return g_bytes_new_take(raw, head.raw_len);
}

gboolean
msb_read_plan_run(MsbReadPlan *plan, MsbStoreMessageFunc func, gpointer user_data,
                  gboolean *stopped, GError **error)
{
	gint64 base = plan->sub_no * MSB_STORE_SUB_PAGE_SIZE;
	gint64 last_id = msb_store_sub_page_last_id(plan->sub_no);
	/* offsets past the last id of the last sub-page select nothing */
	gint64 hi_id = plan->hi > last_id - base ? last_id : base + plan->hi;
	gint64 lo_id = plan->lo > last_id - base ? G_MAXINT64 : base + plan->lo;
	guint oi = 0;
	g_auto(MsbReadSpan) span = {0};

	*stopped = FALSE;

#define EMIT(m)                              \
	do {                                 \
		if (!func((m), user_data)) { \
			*stopped = TRUE;     \
			return TRUE;         \
		}                            \
	} while (0)
#define EMIT_OVERLAY()                                                                        \
	do {                                                                                  \
		MsbStoreMessage *m_ = msb_read_overlay(plan, oi, &span, error);               \
		if (m_ == NULL) {                                                             \
			const MsbPlanRec *r_ = &g_array_index(plan->overlay, MsbPlanRec, oi); \
			plan->bad_path = r_->rec.file->path;                                  \
			plan->bad_offset = r_->rec.offset;                                    \
			return FALSE;                                                         \
		}                                                                             \
		oi++;                                                                         \
		EMIT(m_);                                                                     \
	} while (0)

	for (guint bi = 0; bi < plan->blocks->len; bi++) {
		const MsbBlockRef *b = g_ptr_array_index(plan->blocks, bi);
		g_autoptr(GBytes) raw = msb_read_block(b, plan->sub_no, error);
		const guint8 *p;
		gsize left = 0;
		gsize total;
		gint64 prev = -1;
		guint seen = 0;

		/* where a failure below is */
		plan->bad_path = b->file->path;
		plan->bad_offset = b->offset;
		if (raw == NULL)
			return FALSE;
		p = g_bytes_get_data(raw, &left);
		total = left;
		while (left > 0) {
			gint64 id = -1;
			gsize n = msb_message_skip(p, left, &id);

			if (n == 0 || id <= prev || id < base || id > last_id ||
			    !msb_bitmap_get(b->bitmap, (guint)(id - base))) {
				g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
				            "Sealed block at offset %" G_GUINT64_FORMAT
				            " of %s holds malformed messages",
				            b->offset, b->file->path);
				return FALSE;
			}
			prev = id;
			seen++;
			if (id >= lo_id && id <= hi_id) {
				while (oi < plan->overlay->len &&
				       g_array_index(plan->overlay, MsbPlanRec, oi).id < id)
					EMIT_OVERLAY();
				if (oi < plan->overlay->len &&
				    g_array_index(plan->overlay, MsbPlanRec, oi).id == id) {
					/* a newer copy in the write-ahead log wins */
					EMIT_OVERLAY();
				} else {
					/* a small message gets its own copy so that it does not
					 * keep the whole block alive */
					MsbStoreMessage *m =
					        msb_message_decode(raw, p, n, n < total / 4, NULL);
					if (m == NULL) {
						g_set_error(
						        error, MSB_STORE_ERROR,
						        MSB_STORE_ERROR_CORRUPT,
						        "Sealed block at offset %" G_GUINT64_FORMAT
						        " of %s holds malformed messages",
						        b->offset, b->file->path);
						return FALSE;
					}
					EMIT(m);
				}
			}
			p += n;
			left -= n;
		}
		if (seen != b->count) {
			g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
			            "Sealed block at offset %" G_GUINT64_FORMAT
			            " of %s holds %u messages, the index says %u",
			            b->offset, b->file->path, seen, b->count);
			return FALSE;
		}
	}
	while (oi < plan->overlay->len)
		EMIT_OVERLAY();
#undef EMIT
#undef EMIT_OVERLAY
	plan->bad_path = NULL;
	return TRUE;
}

void
msb_store_damage_free(MsbStoreDamage *damage)
{
	if (damage == NULL)
		return;
	g_free(damage->topic);
	g_free(damage->path);
	g_free(damage->reason);
	g_free(damage);
}

static MsbStoreDamage *
msb_store_damage_copy(const MsbStoreDamage *d)
{
	MsbStoreDamage *copy = g_memdup2(d, sizeof(*d));

	copy->topic = g_strdup(d->topic);
	copy->path = g_strdup(d->path);
	copy->reason = g_strdup(d->reason);
	return copy;
}

/*
 * After a read of @plan's sub-page: with @error (a failed read), a damaged sub-page is named in
 * the error and remembered; without, a sub-page read in full is not damaged (any more).
 */
static void
msb_store_note_damage(MsbStore *store, const gchar *topic, MsbReadPlan *plan, GError **error)
{
	g_autofree gchar *key = g_strdup_printf("%s/%" G_GINT64_FORMAT, topic, plan->sub_no);
	MsbStoreDamage *d;

	if (error == NULL) {
		msb_lock(&store->lock);
		if (g_hash_table_size(store->damaged) > 0)
			g_hash_table_remove(store->damaged, key);
		msb_unlock(&store->lock);
		return;
	}
	if (*error == NULL || !g_error_matches(*error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT))
		return;
	g_prefix_error(error, "Topic %s sub-page %" G_GINT64_FORMAT " is damaged: ", topic,
	               plan->sub_no);
	msb_lock(&store->lock);
	d = g_hash_table_lookup(store->damaged, key);
	if (d == NULL) {
		d = g_new0(MsbStoreDamage, 1);
		d->topic = g_strdup(topic);
		d->sub_page = plan->sub_no;
		d->first_us = g_get_real_time();
		g_hash_table_insert(store->damaged, g_strdup(key), d);
		msb_warning_fields(MSB_LOG_TOPIC(topic), "%s", (*error)->message);
	}
	g_free(d->path);
	d->path = g_strdup(plan->bad_path != NULL ? plan->bad_path : "");
	d->offset = plan->bad_offset;
	g_free(d->reason);
	d->reason = g_strdup((*error)->message);
	d->last_us = g_get_real_time();
	d->failed_reads++;
	msb_unlock(&store->lock);
}

static gint
msb_store_damage_cmp(gconstpointer a, gconstpointer b)
{
	const MsbStoreDamage *x = *(const MsbStoreDamage *const *)a;
	const MsbStoreDamage *y = *(const MsbStoreDamage *const *)b;
	gint c = g_strcmp0(x->topic, y->topic);

	if (c != 0)
		return c;
	return x->sub_page < y->sub_page ? -1 : x->sub_page > y->sub_page;
}

GPtrArray *
msb_store_list_damaged(MsbStore *store)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_damage_free);
	GHashTableIter iter;
	gpointer value;

	g_return_val_if_fail(store != NULL, out);
	msb_lock(&store->lock);
	g_hash_table_iter_init(&iter, store->damaged);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		const MsbStoreDamage *d = value;
		const MsbTopic *topic = g_hash_table_lookup(store->topics, d->topic);

		/* a removed topic took its damage with it */
		if (topic == NULL || topic->delete_after_us != 0) {
			g_hash_table_iter_remove(&iter);
			continue;
		}
		g_ptr_array_add(out, msb_store_damage_copy(d));
	}
	msb_unlock(&store->lock);
	g_ptr_array_sort(out, msb_store_damage_cmp);
	return out;
}

gboolean
msb_store_read_range_foreach(MsbStore *store, const gchar *topic_name, gint64 from_id, gint64 to_id,
                             MsbStoreMessageFunc func, gpointer user_data, GError **error)
{
	gint64 cursor;
	gint64 last_sub;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(func != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!msb_store_check_ready(store, error))
		return FALSE;
	if (!msb_store_topic_name_is_valid(topic_name)) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT,
		            "Invalid topic name \"%s\": use 3 to 63 characters a-z, 0-9 or -",
		            topic_name != NULL ? topic_name : "(null)");
		return FALSE;
	}
	from_id = MAX(from_id, 0);
	if (to_id < from_id)
		return TRUE;
	cursor = from_id / MSB_STORE_SUB_PAGE_SIZE;
	last_sub = to_id / MSB_STORE_SUB_PAGE_SIZE;
	while (cursor <= last_sub) {
		g_autoptr(MsbReadPlan) plan = NULL;
		MsbTopic *topic;
		GTreeNode *node = NULL;
		gboolean stopped = FALSE;

		/* one sub-page at a time: the lock is held only to copy its locations */
		msb_lock(&store->lock);
		topic = g_hash_table_lookup(store->topics, topic_name);
		if (topic != NULL && topic->delete_after_us == 0)
			node = g_tree_lower_bound(topic->subs, &cursor);
		if (node != NULL) {
			const MsbSubPage *sub = g_tree_node_value(node);
			cursor = sub->no;
			if (sub->no <= last_sub) {
				guint lo = sub->no == from_id / MSB_STORE_SUB_PAGE_SIZE
				                   ? (guint)(from_id % MSB_STORE_SUB_PAGE_SIZE)
				                   : 0;
				guint hi = sub->no == last_sub
				                   ? (guint)(to_id % MSB_STORE_SUB_PAGE_SIZE)
				                   : MSB_STORE_SUB_PAGE_SIZE - 1;
				plan = msb_read_plan_new(sub, lo, hi);
			}
		}
		msb_unlock(&store->lock);
		if (plan == NULL)
			break;
		if (!msb_read_plan_run(plan, func, user_data, &stopped, error)) {
			msb_store_note_damage(store, topic_name, plan, error);
			return FALSE;
		}
		if (!stopped && plan->lo == 0 && plan->hi == MSB_STORE_SUB_PAGE_SIZE - 1)
			msb_store_note_damage(store, topic_name, plan, NULL);
		if (stopped)
			break;
		cursor++;
	}
	return TRUE;
}

static gboolean
msb_collect_cb(MsbStoreMessage *msg, gpointer user_data)
{
	g_ptr_array_add(user_data, msg);
	return TRUE;
}

GPtrArray *
msb_store_read_range(MsbStore *store, const gchar *topic, gint64 from_id, gint64 to_id,
                     GError **error)
{
	g_autoptr(GPtrArray) out =
	        g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_message_free);

	g_return_val_if_fail(store != NULL, NULL);
	if (!msb_store_read_range_foreach(store, topic, from_id, to_id, msb_collect_cb, out, error))
		return NULL;
	return g_steal_pointer(&out);
}

MsbStoreMessage *
msb_store_read_message(MsbStore *store, const gchar *topic, gint64 id, GError **error)
{
	g_autoptr(GPtrArray) found = NULL;

	g_return_val_if_fail(store != NULL, NULL);
	if (id < 0)
		return NULL;
	found = msb_store_read_range(store, topic, id, id, error);
	if (found == NULL || found->len == 0)
		return NULL;
	return g_ptr_array_steal_index(found, 0);
}
