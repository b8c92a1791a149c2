/*
 * Reading a topic's messages for the message browser (GET /api/Messages): copies of what the
 * broker holds in memory, so that an adapter never looks at sub-pages or topics.
 *
 * A read is bounded by @limit messages and by the sub-pages in memory (it visits only those), so
 * it is cheap enough for the main loop.
 */
#pragma once

#include <glib.h>

#include "msb-broker-stats.h"

G_BEGIN_DECLS

/* One header of a message, decoded from the wire block. */
typedef struct {
	gchar *key;
	gchar *value;
} MsbMessageHeaderCopy;

typedef struct {
	gint64 id;
	gint64 created_us; /* µs since the epoch; 0 when unknown */
	GArray *headers;   /* MsbMessageHeaderCopy */
	GBytes *content;
} MsbMessageCopy;

MsbMessageCopy *
msb_message_copy_new(gint64 id, gint64 created_us, GBytes *content);
void
msb_message_copy_add_header(MsbMessageCopy *msg, const gchar *key, gsize key_len,
                            const gchar *value, gsize value_len);
void
msb_message_copy_free(MsbMessageCopy *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbMessageCopy, msb_message_copy_free)

typedef struct {
	gint64 next_id;      /* the topic's next message id: ids below it were published */
	gint64 min_id;       /* the smallest id in memory; next_id when memory holds none */
	GPtrArray *messages; /* MsbMessageCopy*, ascending ids, owned */
	/*
	 * With @stop_at_gap: the first id at or above from_id, below next_id, that memory does not
	 * hold, met before @limit messages were copied (the caller may ask persistence for it);
	 * -1 when there is none. Without it, such ids are skipped (in memory only they are gone).
	 */
	gint64 gap_id;
	gint64 scanned_to; /* the first id not looked at: where a next page starts */
} MsbMessagesRead;

void
msb_messages_read_clear(MsbMessagesRead *read);

/*
 * Copy up to @limit messages of @topic with ids >= @from_id from memory, in id order.
 * MSB_BROKER_ERROR_TOPIC_NOT_FOUND for an unknown topic.
 */
gboolean
msb_broker_read_messages(MsbBroker *broker, const gchar *topic, gint64 from_id, guint limit,
                         gboolean stop_at_gap, MsbMessagesRead *out, GError **error);

G_END_DECLS
