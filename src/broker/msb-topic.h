/*
 * MsbTopic: one topic's id counter, its cached sub-pages and its queues (node.md §2.2–§2.3, §5).
 *
 * Publishing appends to the write sub-page and fans the new id range out to every queue. Garbage
 * collection drops what no queue needs any more: whole sub-pages below the smallest id any queue
 * waits for or has in flight (and, with persistence, only once they are persisted).
 */
#pragma once

#include <glib.h>

#include "msb-history.h"
#include "msb-queue.h"
#include "msb-sub-page.h"

G_BEGIN_DECLS

struct _MsbTopic {
	gchar *name;
	gint64 next_id;        /* the id the next published message gets */
	gboolean persist;      /* messages are handed to persistence */
	GHashTable *sub_pages; /* gint64 sub-page no → MsbSubPage*, owned */
	MsbSubPage *write_sp;  /* the sub-page of next_id - 1, cached */
	MsbSubPage *read_sp;   /* last sub-page a delivery read from, cached */
	GPtrArray *queues;     /* MsbQueue*, owned */
	gboolean dirty;        /* queued for a delivery pass (managed by MsbBroker) */
	gboolean gc_due;       /* a GC pass may free something */
	/*
	 * Persistence bookkeeping, used only when the broker has a persistence service. Saves are
	 * handed out in id order, as consecutive ranges, several at a time (one save at a time
	 * would make a busy topic wait a whole round trip to the service per fsync); they may
	 * settle in any order, and "durable" is a watermark over the ranges settled from below.
	 */
	gboolean track_pending; /* persistence on and persist = TRUE: new ids are pending */
	gint64 durable_until;   /* every id below is saved, or needs no saving */
	gint64 save_cursor;     /* ids below were handed to a save (≥ durable_until) */
	GArray *saves;          /* MsbTopicSave: the ranges handed out since durable_until */
	guint saves_in_flight;  /* of those, not settled yet */
	gint64 handed_count;    /* pending messages in the saves in flight */
	gint64 handed_bytes;    /* and their content bytes */
	gboolean save_failed;   /* one failed: nothing new is handed out until all have settled */
	guint64 save_turn;      /* when it last got a save batch: the longest waiting goes first */
	/* ids below this may be seen (delivered, acknowledged): a saved snapshot reserves them,
	 * so that a restart after a crash never hands them out again; G_MAXINT64 in memory */
	gint64 reserved_until;
	gint64 pending_bytes; /* content bytes of the ids still pending */
	gint64 pending_count;
	GHashTable *loading; /* sub-page nos being loaded from persistence (gint64 set) */
	/* statistics */
	guint64 messages_published;
	guint64 publish_packets;
	MsbRate packets_rate; /* publish packets per second */
	MsbRate messages_rate;
	MsbHistory publish_history; /* messages per second */
	GArray *publishers;         /* MsbTopicPublisher, NULL until the first publish */
	gint64 cached_bytes;
	gint64 cached_messages;
	/* ids a queue waited for that persistence reported damaged, skipped (OnDamagedMessages) */
	guint64 messages_lost;
	/* soft delete (node.md §2.2): 0 = live, else the wall-clock µs after which the topic is
	 * hard-deleted (1 = at the next tick); publish, subscribe and create are refused */
	gint64 deleted_us;
	gboolean delete_in_flight; /* the persistence service is asked to delete it */
	gboolean delete_confirmed; /* it did: removed once no save or load is in flight */
	guint delete_failures;     /* DeleteTopic calls that failed, for the log */
	/* for the metrics, since the start */
	guint64 published_bytes;      /* content bytes published */
	guint64 messages_delivered;   /* confirmed by a subscriber (each queue counts) */
	guint64 messages_redelivered; /* sent again after a failed or unconfirmed delivery */
};

/* A session that published to the topic, and when it last did. Sessions that are gone are
 * dropped by the broker's periodic pass. */
typedef struct {
	gint64 session_id;
	gint64 second; /* of its last publish */
} MsbTopicPublisher;

/* A range of ids handed to one save; kept until durable_until passes it. */
typedef struct {
	gint64 from_id;
	gint64 to_id;
	gboolean done; /* saved; a failed one stays FALSE */
} MsbTopicSave;

/* Topic names are 3–63 bytes of [a-z0-9-], not starting or ending with '-', no "--", and not
 * "topics" (node.md §2.2). */
gboolean
msb_topic_name_validate(const gchar *name, gsize len, GError **error);

MsbTopic *
msb_topic_new(const gchar *name, gint64 next_id, gboolean persist);
void
msb_topic_free(MsbTopic *topic);

MsbQueue *
msb_topic_find_queue(MsbTopic *topic, const gchar *name);
MsbQueue *
msb_topic_add_queue(MsbTopic *topic, const gchar *name, MsbQueueType type, gint64 now_us);
void
msb_topic_remove_queue(MsbTopic *topic, MsbQueue *queue);

/* Store @n messages under consecutive ids and enqueue them in every queue; returns the first id. */
gint64
msb_topic_append(MsbTopic *topic, const MsbWireMessage *messages, guint n, gint64 created_us);

/* Count one publish packet of @n messages by session @session_id in @second,
 * for the status page's rates, history and publishers. */
void
msb_topic_count_publish(MsbTopic *topic, gint64 session_id, guint n, gint64 second);
/* Bring the per-second statistics up to @second (before they are read). */
void
msb_topic_roll_stats(MsbTopic *topic, gint64 second);
/* "active" of a publisher or subscriber on the status page: 2 in the second of its last publish
 * or delivery, counting down to 0 over the seconds after it. */
static inline gint
msb_activity(gint64 last_second, gint64 second)
{
	return second - last_second >= 2 ? 0 : second - last_second <= 0 ? 2 : 1;
}

/* The cached sub-page holding @id, or NULL. */
MsbSubPage *
msb_topic_find_sub_page(MsbTopic *topic, gint64 id);

/* Smallest id that a queue waits for or has in flight (the GC floor), at most next_id. */
gint64
msb_topic_min_needed_id(MsbTopic *topic);

/*
 * Drop cached data no queue needs; returns the number of sub-pages dropped. With @can_reload
 * (the topic is persisted) also sub-pages between what queues read now and the write sub-page,
 * once they are saved: they are loaded again when a queue gets there.
 */
guint
msb_topic_gc(MsbTopic *topic, gboolean can_reload);

/* With @can_reload, the sub-pages a queue reads next are kept: this many after its current one. */
#define MSB_TOPIC_READ_AHEAD 2

G_END_DECLS
