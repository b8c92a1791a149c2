/*
 * MsbBuf growth and compaction; the appends themselves are inline in msb-buf.h.
 */
#define G_LOG_DOMAIN "msb-buf"

#include "msb-buf.h"

void
msb_buf_init(MsbBuf *buf, gsize reserve)
{
	g_return_if_fail(buf != NULL);
	buf->data = reserve > 0 ? g_malloc(reserve) : NULL;
	buf->cap = reserve;
	buf->len = 0;
	buf->off = 0;
}

void
msb_buf_clear(MsbBuf *buf)
{
	g_return_if_fail(buf != NULL);
	g_clear_pointer(&buf->data, g_free);
	buf->cap = buf->len = buf->off = 0;
}

void
msb_buf_grow(MsbBuf *buf, gsize extra)
{
	gsize pending = buf->len - buf->off;
	gsize need;
	gsize cap;
	guint8 *data;

	/* Reuse the consumed front only when moving the unread bytes is cheap: compacting a big
	 * unsent output after every partial send would copy it over and over. */
	if (buf->off > 0 && buf->off >= pending && buf->cap - pending >= extra) {
		msb_buf_compact(buf);
		return;
	}
	if (G_MAXSIZE - pending < extra)
		g_error("buffer size overflow");
	need = pending + extra;
	cap = buf->cap > 0 ? buf->cap : 256;
	while (cap < need)
		cap = cap > G_MAXSIZE / 2 ? need : cap * 2;
	if (buf->off == 0) {
		buf->data = g_realloc(buf->data, cap);
	} else {
		/* copy only the unread bytes into the new block */
		data = g_malloc(cap);
		if (pending > 0)
			memcpy(data, buf->data + buf->off, pending);
		g_free(buf->data);
		buf->data = data;
		buf->len = pending;
		buf->off = 0;
	}
	buf->cap = cap;
}

void
msb_buf_compact(MsbBuf *buf)
{
	gsize pending = buf->len - buf->off;

	if (buf->off == 0)
		return;
	if (pending > 0)
		memmove(buf->data, buf->data + buf->off, pending);
	buf->len = pending;
	buf->off = 0;
}

/* Give memory back after a burst (a large delivery), keeping @keep_cap for the steady state. */
void
msb_buf_shrink(MsbBuf *buf, gsize keep_cap)
{
	msb_buf_compact(buf);
	if (buf->cap <= keep_cap || buf->len > keep_cap)
		return;
	buf->data = g_realloc(buf->data, keep_cap);
	buf->cap = keep_cap;
}
