/*
 * MsbSubPage: the in-memory store of 1,000 consecutive message ids (node.md §2.3).
 *
 * The sub-page is the unit of the cache, of garbage collection and (with persistence) of loading
 * and saving. Each id is absent, loaded or missing (asked for and not found). Small messages are
 * copied into arena blocks owned by the sub-page, so publishing costs one memcpy and dropping a
 * sub-page frees everything at once; large ones get their own allocation so that they can be
 * freed as soon as no queue needs them. The ids still to be handed to persistence are kept in a
 * bitmap ("pending persistence"), which the persistence layer drains.
 */
#pragma once

#include <glib.h>

#include "msb-persist.h" /* MSB_SUB_PAGE_SIZE, msb_sub_page_no() */

G_BEGIN_DECLS

typedef enum {
	MSB_MESSAGE_ABSENT = 0,
	MSB_MESSAGE_LOADED,
	MSB_MESSAGE_MISSING,
} MsbMessageState;

typedef struct {
	guint8 *data; /* the raw header block (headers_len bytes), then the content */
	gint64 created_us;
	guint32 headers_len;
	guint32 content_len;
	guint8 state; /* MsbMessageState */
	guint8 own_alloc;
} MsbMessage;

static inline const guint8 *
msb_message_content(const MsbMessage *msg)
{
	return msg->data + msg->headers_len;
}

typedef struct _MsbSubPageBlock MsbSubPageBlock;

typedef struct {
	gint64 no; /* ids no*1000 .. no*1000+999 */
	guint n_loaded;
	guint n_missing;
	gsize content_bytes;
	guint n_pending;      /* ids pending persistence */
	gint64 dropped_below; /* msb_sub_page_drop_before() found nothing to keep below this */
	guint64 pending[(MSB_SUB_PAGE_SIZE + 63) / 64];
	MsbSubPageBlock *blocks; /* arena, newest first */
	MsbMessage slots[MSB_SUB_PAGE_SIZE];
} MsbSubPage;

MsbSubPage *
msb_sub_page_new(gint64 no);
void
msb_sub_page_free(MsbSubPage *sp);

static inline gint64
msb_sub_page_first_id(const MsbSubPage *sp)
{
	return sp->no * MSB_SUB_PAGE_SIZE;
}

static inline gboolean
msb_sub_page_holds(const MsbSubPage *sp, gint64 id)
{
	return id >= sp->no * MSB_SUB_PAGE_SIZE && id < (sp->no + 1) * MSB_SUB_PAGE_SIZE;
}

static inline MsbMessage *
msb_sub_page_get(MsbSubPage *sp, gint64 id)
{
	return &sp->slots[id - sp->no * MSB_SUB_PAGE_SIZE];
}

/* Store a copy of the message; replaces whatever the slot held. */
void
msb_sub_page_put(MsbSubPage *sp, gint64 id, gint64 created_us, const guint8 *headers,
                 gsize headers_len, const guint8 *content, gsize content_len);
/* Mark an id as asked for and not found. */
void
msb_sub_page_put_missing(MsbSubPage *sp, gint64 id);
/* Forget messages below @id (those with their own allocation are freed now). */
void
msb_sub_page_drop_before(MsbSubPage *sp, gint64 id);
/* Forget the message @id, unless it is pending persistence. */
void
msb_sub_page_drop(MsbSubPage *sp, gint64 id);

void
msb_sub_page_set_pending(MsbSubPage *sp, gint64 id, gboolean pending);
gboolean
msb_sub_page_is_pending(const MsbSubPage *sp, gint64 id);

static inline gboolean
msb_sub_page_has_pending(const MsbSubPage *sp)
{
	return sp->n_pending > 0;
}

/* Bytes held by the sub-page (slots, arena, large messages). */
gsize
msb_sub_page_memory(const MsbSubPage *sp);

G_END_DECLS
