/*
 * What the domain model exchanges with a persistence service, as plain data: batches of messages
 * to save, messages loaded back, and queue snapshots. The broker decides what to save and when a
 * message is durable; encoding and transport are the adapter's (src/node) business.
 *
 * The rules (contract README, "Persistence decisions"):
 *  - messages of a topic are handed to saves in id order, as consecutive ranges, several in
 *    flight at once; the topic's durable_until watermark moves over the ranges saved from below,
 *    so every id below it is on disk whatever order the saves settle in;
 *  - ids are reserved: a snapshot's message_id is the topic's next id plus MSB_BROKER_ID_RESERVE,
 *    and no id at or above the reservation of the last *saved* snapshot is delivered or
 *    acknowledged (it waits, normally for a few milliseconds, for the next snapshot). After a
 *    crash the counter restarts at the reservation, so an id that anyone may have seen is never
 *    handed out again, even if its message was lost with the broker's memory; the final snapshot
 *    of a graceful shutdown reserves nothing, so a clean restart has no gap;
 *  - per queue a snapshot lists the waiting and in-flight ids (so that an unconfirmed message
 *    comes back) and the reserved ids not yet published (the queue gets those as they are);
 *    restored ids that persistence does not have are skipped as missing;
 *  - on restore the id counter is max(snapshot message_id, last persisted id + 1), and every queue
 *    also gets the ids saved after its snapshot, so nothing saved is skipped.
 */
#pragma once

#include <glib.h>

#include "msb-id-set.h"
#include "msb-types.h"
#include "msb-wire.h"

G_BEGIN_DECLS

/*
 * The geometry of the persistence contract: ids are stored in pages of 100,000 and sub-pages of
 * 1,000 (the unit of the broker's cache, of loading and of saving).
 */
#define MSB_SUB_PAGE_SIZE 1000
#define MSB_PAGE_SIZE     100000

static inline gint64
msb_sub_page_no(gint64 id)
{
	return id / MSB_SUB_PAGE_SIZE;
}

static inline gint64
msb_page_no(gint64 id)
{
	return id / MSB_PAGE_SIZE;
}

/* One message of a save batch; the bytes belong to the broker's sub-page and stay valid until
 * the save is settled with msb_broker_save_done() or msb_broker_save_failed(). */
typedef struct {
	gint64 id;
	gint64 created_us;
	const guint8 *headers; /* raw wire header block (u8 count + pairs), may be NULL */
	gsize headers_len;
	const guint8 *content;
	gsize content_len;
} MsbPendingMessage;

typedef struct {
	MsbTopic *topic;
	gint64 from_id; /* the batch settles every id in [from_id, to_id] */
	gint64 to_id;
	GArray *messages; /* MsbPendingMessage; may hold fewer ids than the range */
	gsize bytes;      /* content bytes */
} MsbSaveBatch;

void
msb_save_batch_init(MsbSaveBatch *batch);
void
msb_save_batch_clear(MsbSaveBatch *batch);

/* A message read back from persistence, for msb_broker_sub_page_loaded(). */
typedef struct {
	gint64 id;
	gint64 created_us;
	const guint8 *headers; /* raw wire header block, may be NULL */
	gsize headers_len;
	const guint8 *content;
	gsize content_len;
} MsbLoadedMessage;

typedef struct {
	gchar *name;
	MsbQueueType type;
	GArray *ranges; /* MsbIdRange, ascending; an empty queue is one range {cursor, cursor - 1}
	                 */
} MsbQueueSnapshot;

typedef struct {
	gchar *name;
	gint64 message_id; /* the reservation: ids below may be in use, none at or above it */
	gboolean persist;
	GPtrArray *queues; /* MsbQueueSnapshot* */
} MsbTopicSnapshot;

MsbQueueSnapshot *
msb_queue_snapshot_new(const gchar *name, MsbQueueType type);
void
msb_queue_snapshot_free(MsbQueueSnapshot *snap);
MsbTopicSnapshot *
msb_topic_snapshot_new(const gchar *name, gint64 message_id, gboolean persist);
void
msb_topic_snapshot_free(MsbTopicSnapshot *snap);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbQueueSnapshot, msb_queue_snapshot_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbTopicSnapshot, msb_topic_snapshot_free)

G_END_DECLS
