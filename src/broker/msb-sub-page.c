/*
 * MsbSubPage storage: slots, the arena for small messages and the pending-persistence bitmap.
 */
#define G_LOG_DOMAIN "msb-sub-page"

#include "msb-sub-page.h"

#include <string.h>

/* Messages up to this size share arena blocks; bigger ones are allocated on their own. */
#define MSB_SUB_PAGE_SMALL_MESSAGE 4096
#define MSB_SUB_PAGE_BLOCK_SIZE    (64 * 1024)

struct _MsbSubPageBlock {
	MsbSubPageBlock *next;
	gsize used;
	gsize size;
	guint8 data[];
};

MsbSubPage *
msb_sub_page_new(gint64 no)
{
	MsbSubPage *sp;

	g_return_val_if_fail(no >= 0, NULL);
	/* slots start absent (zero); the whole struct is about 40 KiB */
	sp = g_new0(MsbSubPage, 1);
	sp->no = no;
	sp->dropped_below = no * MSB_SUB_PAGE_SIZE;
	return sp;
}

static void
msb_sub_page_forget(MsbSubPage *sp, MsbMessage *msg)
{
	if (msg->state == MSB_MESSAGE_LOADED) {
		sp->n_loaded--;
		sp->content_bytes -= msg->content_len;
	} else if (msg->state == MSB_MESSAGE_MISSING) {
		sp->n_missing--;
	}
	if (msg->own_alloc)
		g_free(msg->data);
	memset(msg, 0, sizeof(*msg));
}

void
msb_sub_page_free(MsbSubPage *sp)
{
	MsbSubPageBlock *block;

	if (sp == NULL)
		return;
	for (guint i = 0; i < MSB_SUB_PAGE_SIZE; i++) {
		if (sp->slots[i].own_alloc)
			g_free(sp->slots[i].data);
	}
	block = sp->blocks;
	while (block != NULL) {
		MsbSubPageBlock *next = block->next;
		g_free(block);
		block = next;
	}
	g_free(sp);
}

static guint8 *
msb_sub_page_alloc(MsbSubPage *sp, gsize size, gboolean *own)
{
	MsbSubPageBlock *block = sp->blocks;
	guint8 *p;

	if (size > MSB_SUB_PAGE_SMALL_MESSAGE) {
		*own = TRUE;
		return g_malloc(size);
	}
	*own = FALSE;
	if (block == NULL || block->size - block->used < size) {
		block = g_malloc(sizeof(MsbSubPageBlock) + MSB_SUB_PAGE_BLOCK_SIZE);
		block->size = MSB_SUB_PAGE_BLOCK_SIZE;
		block->used = 0;
		block->next = sp->blocks;
		sp->blocks = block;
	}
	p = block->data + block->used;
	block->used += size;
	return p;
}

void
msb_sub_page_put(MsbSubPage *sp, gint64 id, gint64 created_us, const guint8 *headers,
                 gsize headers_len, const guint8 *content, gsize content_len)
{
	MsbMessage *msg;
	gboolean own = FALSE;
	gsize size = headers_len + content_len;

	g_return_if_fail(sp != NULL);
	g_return_if_fail(msb_sub_page_holds(sp, id));
	g_return_if_fail(headers_len <= G_MAXUINT32 && content_len <= G_MAXUINT32);

	msg = msb_sub_page_get(sp, id);
	if (msg->state != MSB_MESSAGE_ABSENT)
		msb_sub_page_forget(sp, msg);
	/* a message (loaded back) below the watermark must be looked at by the next drop */
	sp->dropped_below = MIN(sp->dropped_below, id);
	msg->data = size > 0 ? msb_sub_page_alloc(sp, size, &own) : NULL;
	if (headers_len > 0)
		memcpy(msg->data, headers, headers_len);
	if (content_len > 0)
		memcpy(msg->data + headers_len, content, content_len);
	msg->own_alloc = own;
	msg->created_us = created_us;
	msg->headers_len = (guint32)headers_len;
	msg->content_len = (guint32)content_len;
	msg->state = MSB_MESSAGE_LOADED;
	sp->n_loaded++;
	sp->content_bytes += content_len;
}

void
msb_sub_page_put_missing(MsbSubPage *sp, gint64 id)
{
	MsbMessage *msg;

	g_return_if_fail(sp != NULL);
	g_return_if_fail(msb_sub_page_holds(sp, id));
	msg = msb_sub_page_get(sp, id);
	if (msg->state != MSB_MESSAGE_ABSENT)
		msb_sub_page_forget(sp, msg);
	sp->dropped_below = MIN(sp->dropped_below, id);
	msg->state = MSB_MESSAGE_MISSING;
	sp->n_missing++;
}

void
msb_sub_page_drop_before(MsbSubPage *sp, gint64 id)
{
	gint64 first;
	gint64 end;

	g_return_if_fail(sp != NULL);
	first = msb_sub_page_first_id(sp);
	end = MIN(id, first + MSB_SUB_PAGE_SIZE);
	/* GC calls this after every confirmation: start where the last call left off, so that a
	 * slowly rising floor costs what it frees, not a walk over the whole sub-page */
	for (gint64 i = MAX(first, sp->dropped_below); i < end; i++) {
		MsbMessage *msg = msb_sub_page_get(sp, i);
		if (msb_sub_page_is_pending(sp, i)) {
			/* kept until saved: look at it again next time */
			end = i;
			break;
		}
		if (msg->state != MSB_MESSAGE_ABSENT)
			msb_sub_page_forget(sp, msg);
	}
	sp->dropped_below = MAX(sp->dropped_below, end);
}

void
msb_sub_page_drop(MsbSubPage *sp, gint64 id)
{
	MsbMessage *msg;

	g_return_if_fail(sp != NULL);
	g_return_if_fail(msb_sub_page_holds(sp, id));
	msg = msb_sub_page_get(sp, id);
	if (msg->state != MSB_MESSAGE_ABSENT && !msb_sub_page_is_pending(sp, id))
		msb_sub_page_forget(sp, msg);
}

void
msb_sub_page_set_pending(MsbSubPage *sp, gint64 id, gboolean pending)
{
	guint idx;
	guint64 bit;
	gboolean was;

	g_return_if_fail(sp != NULL);
	g_return_if_fail(msb_sub_page_holds(sp, id));
	idx = (guint)(id - msb_sub_page_first_id(sp));
	bit = G_GUINT64_CONSTANT(1) << (idx % 64);
	was = (sp->pending[idx / 64] & bit) != 0;
	if (pending && !was) {
		sp->pending[idx / 64] |= bit;
		sp->n_pending++;
	} else if (!pending && was) {
		sp->pending[idx / 64] &= ~bit;
		sp->n_pending--;
	}
}

gboolean
msb_sub_page_is_pending(const MsbSubPage *sp, gint64 id)
{
	guint idx;

	g_return_val_if_fail(sp != NULL, FALSE);
	if (!msb_sub_page_holds(sp, id))
		return FALSE;
	idx = (guint)(id - msb_sub_page_first_id(sp));
	return (sp->pending[idx / 64] >> (idx % 64)) & 1;
}

gsize
msb_sub_page_memory(const MsbSubPage *sp)
{
	gsize total = sizeof(MsbSubPage);

	g_return_val_if_fail(sp != NULL, 0);
	for (const MsbSubPageBlock *b = sp->blocks; b != NULL; b = b->next)
		total += sizeof(MsbSubPageBlock) + b->size;
	for (guint i = 0; i < MSB_SUB_PAGE_SIZE; i++) {
		if (sp->slots[i].own_alloc)
			total += sp->slots[i].headers_len + sp->slots[i].content_len;
	}
	return total;
}
