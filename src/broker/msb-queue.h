/*
 * MsbQueue and MsbSubscriber: a subscriber group of a topic and its members (node.md §2.4–§3.5).
 *
 * A queue owns the ids waiting for delivery, the per-id failed-delivery counters and its
 * subscribers in subscription order. A subscriber is one Subscribe of one session; while a batch is
 * out it owns the batch's ids. Returning a batch (nack, disconnect, eviction, dead subscriber)
 * merges the ids back into the queue and counts one more failed delivery for each.
 */
#pragma once

#include <glib.h>

#include "msb-history.h"
#include "msb-id-set.h"
#include "msb-types.h"
#include "msb-wire.h"

G_BEGIN_DECLS

typedef enum {
	MSB_SUBSCRIBER_IDLE = 0,
	MSB_SUBSCRIBER_ON_DELIVERY = 2, /* the values the status API shows */
} MsbSubscriberState;

typedef struct {
	gint64 id; /* the confirmation id on the wire */
	MsbQueue *queue;
	MsbSession *session;
	MsbSubscriberState state;
	MsbIdSet in_flight;
	gint64 delivery_started_us; /* monotonic */
	gint64 last_update_us;      /* monotonic: delivery start or last intermediary confirm */
	guint64 delivered;          /* messages confirmed, for statistics */
	/* for the debug API (wall clock µs) */
	gint64 subscribed_wall_us;
	gint64 last_delivered_wall_us; /* when the last batch went out, 0 before */
	guint last_delivered_amount;   /* its messages */
	/* the status page: "active" and the latency of the last two minutes */
	gint64 delivery_second; /* the second its last batch started in */
	MsbHistory history;     /* µs per message, negative for failed deliveries */
	gint64 ok_us;           /* the second being accumulated: confirmed batches */
	gint64 ok_count;
	gint64 failed_us; /* and batches (or parts) that failed */
	gint64 failed_count;
} MsbSubscriber;

struct _MsbQueue {
	gchar *name;
	MsbTopic *topic;
	MsbQueueType type;
	MsbIdSet waiting;
	GPtrArray *subscribers; /* MsbSubscriber*, subscription order; owned */
	GHashTable *attempts;   /* gint64 id → failed deliveries (GINT_TO_POINTER); lazily made */
	gint64 last_unsubscribe_us;     /* monotonic; for delete-on-disconnect GC */
	guint max_messages_per_payload; /* 0 = no limit */
};

MsbQueue *
msb_queue_new(MsbTopic *topic, const gchar *name, MsbQueueType type, gint64 cursor, gint64 now_us);
/* Frees the queue and its subscribers; their in-flight ids are dropped with it. */
void
msb_queue_free(MsbQueue *queue);

MsbSubscriber *
msb_queue_add_subscriber(MsbQueue *queue, MsbSession *session, gint64 subscriber_id);
MsbSubscriber *
msb_queue_find_subscriber(MsbQueue *queue, gint64 subscriber_id);
/* Detach and free @sub, returning its in-flight ids to the queue as failed. */
void
msb_queue_remove_subscriber(MsbQueue *queue, MsbSubscriber *sub, gint64 now_us);

/* Failed deliveries so far of @id; the attempt number of its next delivery. */
gint32
msb_queue_get_attempt(MsbQueue *queue, gint64 id);

/* The subscriber's batch ended: ids in @done are confirmed, every other in-flight id goes back
 * to the queue as failed. @done may be NULL (all failed). The subscriber becomes idle. */
void
msb_queue_end_batch(MsbQueue *queue, MsbSubscriber *sub, const MsbIdSet *done);
/* Every in-flight id is confirmed; the subscriber becomes idle. */
void
msb_queue_confirm_all(MsbQueue *queue, MsbSubscriber *sub);
/* Intermediary confirmation: @done leaves the batch, which stays in flight. */
void
msb_queue_confirm_partial(MsbQueue *queue, MsbSubscriber *sub, const MsbIdSet *done, gint64 now_us);

/*
 * A batch of the subscriber ended @duration_us after it started, @ok of its messages confirmed
 * and @failed not, in @second. The second's history value is the mean µs per confirmed message,
 * or, if any failed, the negative mean µs per failed one (failures are what an operator looks
 * for in the chart).
 */
void
msb_subscriber_count_batch(MsbSubscriber *sub, gint64 second, gint64 duration_us, gint64 ok,
                           gint64 failed);
/* Bring the latency history up to @second (before it is read). */
void
msb_subscriber_roll_stats(MsbSubscriber *sub, gint64 second);

/* Smallest id the queue still needs (waiting or in flight), or G_MAXINT64 when none. */
gint64
msb_queue_min_needed_id(MsbQueue *queue);

/* Ids in flight over all subscribers. */
gint64
msb_queue_in_flight_count(MsbQueue *queue);

G_END_DECLS
