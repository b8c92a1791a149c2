/*
 * MsbBuf: a growable byte buffer with a read offset.
 *
 * Every connection has one for input and one for output, and the codec encodes straight into an
 * output buffer, so appends are inline and little-endian by construction (the wire is LE). A
 * buffer never shrinks on its own; msb_buf_compact() moves unread bytes to the front.
 */
#pragma once

#include <glib.h>
#include <string.h>

G_BEGIN_DECLS

typedef struct {
	guint8 *data;
	gsize len; /* bytes written */
	gsize off; /* bytes already consumed from the front */
	gsize cap;
} MsbBuf;

void
msb_buf_init(MsbBuf *buf, gsize reserve);
void
msb_buf_clear(MsbBuf *buf);
void
msb_buf_grow(MsbBuf *buf, gsize extra);
void
msb_buf_compact(MsbBuf *buf);
void
msb_buf_shrink(MsbBuf *buf, gsize keep_cap);

static inline gsize
msb_buf_pending(const MsbBuf *buf)
{
	return buf->len - buf->off;
}

static inline const guint8 *
msb_buf_head(const MsbBuf *buf)
{
	/* NULL + 0 is undefined behaviour in C, so an unallocated buffer has no head */
	return buf->data != NULL ? buf->data + buf->off : NULL;
}

static inline void
msb_buf_consume(MsbBuf *buf, gsize n)
{
	buf->off += n;
	if (buf->off == buf->len)
		buf->off = buf->len = 0;
}

/* Room for at least @extra more bytes; returns where they go. */
static inline guint8 *
msb_buf_reserve(MsbBuf *buf, gsize extra)
{
	if (G_UNLIKELY(buf->cap - buf->len < extra))
		msb_buf_grow(buf, extra);
	return buf->data + buf->len;
}

static inline void
msb_buf_put(MsbBuf *buf, const void *src, gsize n)
{
	if (n == 0)
		return;
	memcpy(msb_buf_reserve(buf, n), src, n);
	buf->len += n;
}

static inline void
msb_buf_put_u8(MsbBuf *buf, guint8 v)
{
	*msb_buf_reserve(buf, 1) = v;
	buf->len += 1;
}

static inline void
msb_buf_put_i32(MsbBuf *buf, gint32 v)
{
	guint32 le = GUINT32_TO_LE((guint32)v);
	msb_buf_put(buf, &le, 4);
}

static inline void
msb_buf_put_i64(MsbBuf *buf, gint64 v)
{
	guint64 le = GUINT64_TO_LE((guint64)v);
	msb_buf_put(buf, &le, 8);
}

static inline void
msb_buf_patch_i32(MsbBuf *buf, gsize at, gint32 v)
{
	guint32 le = GUINT32_TO_LE((guint32)v);
	memcpy(buf->data + at, &le, 4);
}

G_END_DECLS
