/*
 * Encoders and checkers for the store's byte layouts. Everything that reads stored bytes goes
 * through here and checks every length against what is available, so a damaged file can make a
 * read fail but never make it overrun a buffer.
 */
#define G_LOG_DOMAIN "msb-persistence-store"

#include "msb-store-format.h"

#include <string.h>
#include <zlib.h>

guint
msb_bitmap_count(const guint8 *bm)
{
	guint n = 0;
	for (guint i = 0; i < MSB_BITMAP_BYTES; i++)
		n += (guint)__builtin_popcount(bm[i]);
	return n;
}

gint
msb_bitmap_first(const guint8 *bm, guint lo, guint hi)
{
	for (guint i = lo; i <= hi && i < MSB_STORE_SUB_PAGE_SIZE; i++) {
		if (bm[i / 8] == 0 && i % 8 == 0) {
			i += 7;
			continue;
		}
		if (msb_bitmap_get(bm, i))
			return (gint)i;
	}
	return -1;
}

gint
msb_bitmap_last(const guint8 *bm, guint lo, guint hi)
{
	if (hi >= MSB_STORE_SUB_PAGE_SIZE)
		hi = MSB_STORE_SUB_PAGE_SIZE - 1;
	for (gint i = (gint)hi; i >= (gint)lo; i--) {
		if (msb_bitmap_get(bm, (guint)i))
			return i;
	}
	return -1;
}

guint32
msb_crc32(guint32 crc, const void *data, gsize len)
{
	const guint8 *p = data;

	/* zlib takes a uInt length */
	while (len > 0) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
		crc = (guint32)crc32(crc, p, chunk);
		p += chunk;
		len -= chunk;
	}
	return crc;
}

void
msb_file_header_write(guint8 *out, const gchar *magic)
{
	memcpy(out, magic, 8);
	msb_put_u32(out + 8, MSB_FILE_VERSION);
	msb_put_u32(out + 12, msb_crc32(0, out, 12));
}

gboolean
msb_file_header_check(const guint8 *hdr, const gchar *magic)
{
	if (memcmp(hdr, magic, 8) != 0)
		return FALSE;
	if (msb_get_u32(hdr + 12) != msb_crc32(0, hdr, 12))
		return FALSE;
	return msb_get_u32(hdr + 8) == MSB_FILE_VERSION;
}

guint32
msb_frame_header_begin(guint8 *hdr, guint16 type, guint32 payload_len)
{
	msb_put_u32(hdr, MSB_FRAME_MAGIC);
	msb_put_u32(hdr + 4, 0);
	msb_put_u32(hdr + 8, payload_len);
	msb_put_u16(hdr + 12, type);
	msb_put_u16(hdr + 14, 0);
	return msb_crc32(0, hdr + 8, 8);
}

void
msb_frame_header_finish(guint8 *hdr, guint32 crc)
{
	msb_put_u32(hdr + 4, crc);
}

const gchar *
msb_frame_status_to_string(MsbFrameStatus status)
{
	switch (status) {
	case MSB_FRAME_OK:
		return "ok";
	case MSB_FRAME_SHORT:
		return "record is cut short (torn write)";
	case MSB_FRAME_BAD_MAGIC:
		return "no record header here";
	case MSB_FRAME_BAD_LENGTH:
		return "record length is implausible";
	case MSB_FRAME_BAD_CRC:
		return "record checksum mismatch";
	}
	return "unknown";
}

MsbFrameStatus
msb_frame_parse_header(const guint8 *hdr, gsize avail, guint16 *type, guint32 *payload_len,
                       guint32 *crc)
{
	guint32 len;

	if (avail < MSB_FRAME_HEADER_SIZE)
		return MSB_FRAME_SHORT;
	if (msb_get_u32(hdr) != MSB_FRAME_MAGIC)
		return MSB_FRAME_BAD_MAGIC;
	len = msb_get_u32(hdr + 8);
	if (len > MSB_FRAME_MAX_PAYLOAD || msb_get_u16(hdr + 14) != 0)
		return MSB_FRAME_BAD_LENGTH;
	if (type != NULL)
		*type = msb_get_u16(hdr + 12);
	if (payload_len != NULL)
		*payload_len = len;
	if (crc != NULL)
		*crc = msb_get_u32(hdr + 4);
	return MSB_FRAME_OK;
}

MsbFrameStatus
msb_frame_check(const guint8 *frame, gsize avail, guint16 *type, guint32 *payload_len)
{
	guint32 len = 0;
	guint32 crc = 0;
	MsbFrameStatus st = msb_frame_parse_header(frame, avail, type, &len, &crc);

	if (st != MSB_FRAME_OK)
		return st;
	if (avail - MSB_FRAME_HEADER_SIZE < len)
		return MSB_FRAME_SHORT;
	if (msb_crc32(msb_crc32(0, frame + 8, 8), frame + MSB_FRAME_HEADER_SIZE, len) != crc)
		return MSB_FRAME_BAD_CRC;
	if (payload_len != NULL)
		*payload_len = len;
	return MSB_FRAME_OK;
}

void
msb_frame_append(GByteArray *buf, guint16 type, const guint8 *payload, gsize len)
{
	guint8 hdr[MSB_FRAME_HEADER_SIZE];
	guint32 crc = msb_frame_header_begin(hdr, type, (guint32)len);

	crc = msb_crc32(crc, payload, len);
	msb_frame_header_finish(hdr, crc);
	g_byte_array_append(buf, hdr, sizeof(hdr));
	g_byte_array_append(buf, payload, (guint)len);
}

gboolean
msb_message_validate(const MsbStoreMessage *msg, GError **error)
{
	gsize header_bytes = 0;
	guint n_headers = msg->headers != NULL ? msg->headers->len : 0;

	if (msg->id < 0) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT,
		            "Message id %" G_GINT64_FORMAT " is negative; ids start at 0", msg->id);
		return FALSE;
	}
	if (msg->content != NULL && g_bytes_get_size(msg->content) > MSB_STORE_MAX_CONTENT) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT,
		            "Message %" G_GINT64_FORMAT " has %" G_GSIZE_FORMAT
		            " bytes of content; the limit is %u",
		            msg->id, g_bytes_get_size(msg->content), MSB_STORE_MAX_CONTENT);
		return FALSE;
	}
	if (n_headers > MSB_STORE_MAX_HEADERS) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT,
		            "Message %" G_GINT64_FORMAT " has %u headers; the limit is %u", msg->id,
		            n_headers, MSB_STORE_MAX_HEADERS);
		return FALSE;
	}
	for (guint i = 0; i < n_headers; i++) {
		const MsbStoreHeader *h = g_ptr_array_index(msg->headers, i);
		if (h == NULL || h->key == NULL || h->value == NULL ||
		    !g_utf8_validate(h->key, -1, NULL) || !g_utf8_validate(h->value, -1, NULL)) {
			g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT,
			            "Header %u of message %" G_GINT64_FORMAT
			            " is missing or not valid UTF-8",
			            i, msg->id);
			return FALSE;
		}
		header_bytes += strlen(h->key) + strlen(h->value);
	}
	if (header_bytes > MSB_STORE_MAX_HEADER_BYTES) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_INVALID_ARGUMENT,
		            "Headers of message %" G_GINT64_FORMAT " take %" G_GSIZE_FORMAT
		            " bytes; the limit is %u",
		            msg->id, header_bytes, MSB_STORE_MAX_HEADER_BYTES);
		return FALSE;
	}
	return TRUE;
}

gsize
msb_message_head_size(const MsbStoreMessage *msg)
{
	gsize n = MSB_MESSAGE_FIXED;
	guint n_headers = msg->headers != NULL ? msg->headers->len : 0;

	for (guint i = 0; i < n_headers; i++) {
		const MsbStoreHeader *h = g_ptr_array_index(msg->headers, i);
		n += 8 + strlen(h->key) + strlen(h->value);
	}
	return n;
}

void
msb_message_head_write(guint8 *out, const MsbStoreMessage *msg)
{
	guint n_headers = msg->headers != NULL ? msg->headers->len : 0;
	gsize clen = msg->content != NULL ? g_bytes_get_size(msg->content) : 0;
	guint8 *p = out + MSB_MESSAGE_FIXED;

	msb_put_u64(out, (guint64)msg->id);
	msb_put_u64(out + 8, (guint64)msg->created);
	msb_put_u32(out + 16, n_headers);
	msb_put_u32(out + 20, (guint32)clen);
	for (guint i = 0; i < n_headers; i++) {
		const MsbStoreHeader *h = g_ptr_array_index(msg->headers, i);
		gsize klen = strlen(h->key);
		gsize vlen = strlen(h->value);
		msb_put_u32(p, (guint32)klen);
		msb_put_u32(p + 4, (guint32)vlen);
		memcpy(p + 8, h->key, klen);
		memcpy(p + 8 + klen, h->value, vlen);
		p += 8 + klen + vlen;
	}
}

void
msb_message_append(GByteArray *buf, const MsbStoreMessage *msg)
{
	gsize head = msb_message_head_size(msg);
	guint old = buf->len;

	g_byte_array_set_size(buf, old + (guint)head);
	msb_message_head_write(buf->data + old, msg);
	if (msg->content != NULL && g_bytes_get_size(msg->content) > 0) {
		gsize clen = 0;
		const guint8 *c = g_bytes_get_data(msg->content, &clen);
		g_byte_array_append(buf, c, (guint)clen);
	}
}

gsize
msb_message_skip(const guint8 *p, gsize len, gint64 *id)
{
	guint32 n_headers;
	guint32 clen;
	gsize off = MSB_MESSAGE_FIXED;

	if (len < MSB_MESSAGE_FIXED || msb_get_i64(p) < 0)
		return 0;
	n_headers = msb_get_u32(p + 16);
	clen = msb_get_u32(p + 20);
	if (n_headers > MSB_STORE_MAX_HEADERS)
		return 0;
	for (guint32 i = 0; i < n_headers; i++) {
		guint64 kv;
		if (len - off < 8)
			return 0;
		kv = (guint64)msb_get_u32(p + off) + msb_get_u32(p + off + 4);
		off += 8;
		if (kv > len - off)
			return 0;
		off += kv;
	}
	if (clen > len - off)
		return 0;
	*id = msb_get_i64(p);
	return off + clen;
}

MsbStoreMessage *
msb_message_decode(GBytes *owner, const guint8 *p, gsize len, gboolean copy, gsize *consumed)
{
	g_autoptr(MsbStoreMessage) msg = NULL;
	guint32 n_headers;
	guint32 clen;
	gsize off = MSB_MESSAGE_FIXED;

	if (len < MSB_MESSAGE_FIXED)
		return NULL;
	n_headers = msb_get_u32(p + 16);
	clen = msb_get_u32(p + 20);
	if (msb_get_i64(p) < 0 || n_headers > MSB_STORE_MAX_HEADERS || clen > MSB_STORE_MAX_CONTENT)
		return NULL;
	msg = g_new0(MsbStoreMessage, 1);
	msg->id = msb_get_i64(p);
	msg->created = msb_get_i64(p + 8);
	for (guint32 i = 0; i < n_headers; i++) {
		guint32 klen;
		guint32 vlen;
		MsbStoreHeader *h;

		if (len - off < 8)
			return NULL;
		klen = msb_get_u32(p + off);
		vlen = msb_get_u32(p + off + 4);
		off += 8;
		if (klen > len - off || vlen > len - off - klen)
			return NULL;
		if (!g_utf8_validate_len((const gchar *)p + off, klen, NULL) ||
		    !g_utf8_validate_len((const gchar *)p + off + klen, vlen, NULL))
			return NULL;
		if (msg->headers == NULL)
			msg->headers = g_ptr_array_new_with_free_func(g_free);
		/* key and value in one allocation: the header is freed with a single g_free() */
		h = g_malloc(sizeof(*h) + klen + 1 + vlen + 1);
		h->key = (gchar *)(h + 1);
		h->value = h->key + klen + 1;
		memcpy(h->key, p + off, klen);
		h->key[klen] = '\0';
		memcpy(h->value, p + off + klen, vlen);
		h->value[vlen] = '\0';
		g_ptr_array_add(msg->headers, h);
		off += klen + vlen;
	}
	if (clen > len - off)
		return NULL;
	if (copy || owner == NULL)
		msg->content = g_bytes_new(p + off, clen);
	else
		msg->content = g_bytes_new_from_bytes(
		        owner, (gsize)(p + off - (const guint8 *)g_bytes_get_data(owner, NULL)),
		        clen);
	off += clen;
	if (consumed != NULL)
		*consumed = off;
	return g_steal_pointer(&msg);
}

void
msb_index_entry_write(guint8 *out, const MsbIndexEntry *e)
{
	msb_put_u64(out, (guint64)e->sub_no);
	msb_put_u64(out + 8, (guint64)e->covers_lsn);
	msb_put_u32(out + 16, e->part);
	msb_put_u32(out + 20, e->nparts);
	msb_put_u32(out + 24, e->data_file_no);
	msb_put_u32(out + 28, e->count);
	msb_put_u64(out + 32, e->offset);
	msb_put_u32(out + 40, e->length);
	msb_put_u32(out + 44, e->block_crc);
	memcpy(out + 48, e->bitmap, MSB_BITMAP_BYTES);
}

gboolean
msb_index_entry_read(MsbIndexEntry *e, const guint8 *payload, gsize len)
{
	if (len != MSB_INDEX_PAYLOAD)
		return FALSE;
	e->sub_no = msb_get_i64(payload);
	e->covers_lsn = msb_get_i64(payload + 8);
	e->part = msb_get_u32(payload + 16);
	e->nparts = msb_get_u32(payload + 20);
	e->data_file_no = msb_get_u32(payload + 24);
	e->count = msb_get_u32(payload + 28);
	e->offset = msb_get_u64(payload + 32);
	e->length = msb_get_u32(payload + 40);
	e->block_crc = msb_get_u32(payload + 44);
	memcpy(e->bitmap, payload + 48, MSB_BITMAP_BYTES);
	/* a part holds at least one message of its sub-page: more parts than ids is damage, and
	 * recovery allocates per part */
	/* and every id it marks must be a gint64: sub_no * 1000 + bit cannot overflow */
	if (e->sub_no < 0 || e->sub_no > G_MAXINT64 / MSB_STORE_SUB_PAGE_SIZE ||
	    (e->sub_no == G_MAXINT64 / MSB_STORE_SUB_PAGE_SIZE &&
	     msb_bitmap_last(e->bitmap, 0, MSB_STORE_SUB_PAGE_SIZE - 1) >
	             (gint)(G_MAXINT64 % MSB_STORE_SUB_PAGE_SIZE)))
		return FALSE;
	/* recovery numbers the next record after the highest sequence number it saw */
	if (e->covers_lsn < 0 || e->covers_lsn == G_MAXINT64)
		return FALSE;
	/* a file name recovery would accept: files are numbered from 1 */
	if (e->data_file_no == 0 || e->data_file_no > MSB_FILE_MAX_NO)
		return FALSE;
	return e->nparts > 0 && e->nparts <= MSB_STORE_SUB_PAGE_SIZE && e->part < e->nparts &&
	       e->count == msb_bitmap_count(e->bitmap) && e->count > 0 &&
	       e->length > MSB_FRAME_HEADER_SIZE + MSB_BLOCK_PAYLOAD_HEAD;
}

void
msb_block_head_write(guint8 *out, const MsbBlockHead *h)
{
	msb_put_u64(out, (guint64)h->sub_no);
	msb_put_u64(out + 8, (guint64)h->covers_lsn);
	msb_put_u32(out + 16, h->part);
	msb_put_u32(out + 20, h->count);
	msb_put_u32(out + 24, h->raw_len);
	msb_put_u32(out + 28, h->codec);
	msb_put_u64(out + 32, 0);
}

gboolean
msb_block_head_read(MsbBlockHead *h, const guint8 *payload, gsize len)
{
	if (len < MSB_BLOCK_PAYLOAD_HEAD)
		return FALSE;
	h->sub_no = msb_get_i64(payload);
	h->covers_lsn = msb_get_i64(payload + 8);
	h->part = msb_get_u32(payload + 16);
	h->count = msb_get_u32(payload + 20);
	h->raw_len = msb_get_u32(payload + 24);
	h->codec = msb_get_u32(payload + 28);
	return h->codec == MSB_CODEC_ZLIB && h->raw_len <= MSB_FRAME_MAX_PAYLOAD;
}
