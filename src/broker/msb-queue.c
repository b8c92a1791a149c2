/*
 * MsbQueue: waiting ids, subscribers and the failed-delivery counters.
 *
 * Attempt numbers follow the contract's decision: 0 on first delivery, n on the n-th redelivery;
 * every confirmation that marks an id done (all, some, intermediary) clears its counter.
 */
#define G_LOG_DOMAIN "msb-queue"

#include "msb-queue.h"

#include "msb-session.h"

static void
msb_subscriber_free(MsbSubscriber *sub)
{
	msb_id_set_clear(&sub->in_flight);
	msb_history_clear(&sub->history);
	g_free(sub);
}

MsbQueue *
msb_queue_new(MsbTopic *topic, const gchar *name, MsbQueueType type, gint64 cursor, gint64 now_us)
{
	MsbQueue *queue = g_new0(MsbQueue, 1);

	queue->name = g_strdup(name);
	queue->topic = topic;
	queue->type = type;
	msb_id_set_init(&queue->waiting, cursor);
	queue->subscribers = g_ptr_array_new_with_free_func((GDestroyNotify)msb_subscriber_free);
	queue->last_unsubscribe_us = now_us;
	return queue;
}

void
msb_queue_free(MsbQueue *queue)
{
	if (queue == NULL)
		return;
	for (guint i = 0; i < queue->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
		msb_session_forget_subscriber(sub->session, sub);
	}
	g_ptr_array_unref(queue->subscribers);
	g_clear_pointer(&queue->attempts, g_hash_table_unref);
	msb_id_set_clear(&queue->waiting);
	g_free(queue->name);
	g_free(queue);
}

MsbSubscriber *
msb_queue_add_subscriber(MsbQueue *queue, MsbSession *session, gint64 subscriber_id)
{
	MsbSubscriber *sub = g_new0(MsbSubscriber, 1);

	sub->id = subscriber_id;
	sub->queue = queue;
	sub->session = session;
	sub->state = MSB_SUBSCRIBER_IDLE;
	sub->delivery_second = G_MININT64 / 2; /* never: not active */
	msb_id_set_init(&sub->in_flight, 0);
	g_ptr_array_add(queue->subscribers, sub);
	return sub;
}

MsbSubscriber *
msb_queue_find_subscriber(MsbQueue *queue, gint64 subscriber_id)
{
	for (guint i = 0; i < queue->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
		if (sub->id == subscriber_id)
			return sub;
	}
	return NULL;
}

gint32
msb_queue_get_attempt(MsbQueue *queue, gint64 id)
{
	gpointer value;

	if (queue->attempts == NULL || g_hash_table_size(queue->attempts) == 0)
		return 0;
	value = g_hash_table_lookup(queue->attempts, &id);
	return GPOINTER_TO_INT(value);
}

static void
msb_queue_count_failure(MsbQueue *queue, gint64 id)
{
	gint64 *key;
	gint32 n;

	if (queue->attempts == NULL)
		queue->attempts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	n = msb_queue_get_attempt(queue, id);
	if (n == G_MAXINT32)
		return;
	key = g_new(gint64, 1);
	*key = id;
	g_hash_table_replace(queue->attempts, key, GINT_TO_POINTER(n + 1));
}

typedef struct {
	const MsbIdSet *a;
	const MsbIdSet *b; /* may be NULL */
} MsbQueueIdFilter;

static gboolean
msb_queue_attempt_in_sets(gpointer key, gpointer value, gpointer user_data)
{
	MsbQueueIdFilter *filter = user_data;
	gint64 id = *(gint64 *)key;

	return msb_id_set_contains(filter->a, id) &&
	       (filter->b == NULL || msb_id_set_contains(filter->b, id));
}

/*
 * Clear the counters of every id in @ids (and in @also, when given). Walks the counter table, not
 * the ids: a confirmation's ranges come from the network and may be arbitrarily wide.
 */
static void
msb_queue_clear_attempts(MsbQueue *queue, const MsbIdSet *ids, const MsbIdSet *also)
{
	MsbQueueIdFilter filter = {ids, also};

	if (queue->attempts == NULL || g_hash_table_size(queue->attempts) == 0)
		return;
	g_hash_table_foreach_remove(queue->attempts, msb_queue_attempt_in_sets, &filter);
}

/* Every id still in flight goes back to the queue with one more failure counted. */
static void
msb_queue_return_in_flight(MsbQueue *queue, MsbSubscriber *sub)
{
	MsbIdSet *ids = &sub->in_flight;

	for (guint i = 0; i < msb_id_set_n_ranges(ids); i++) {
		const MsbIdRange *r = msb_id_set_range(ids, i);
		for (gint64 id = r->from; id <= r->to; id++)
			msb_queue_count_failure(queue, id);
	}
	msb_id_set_merge(&queue->waiting, ids);
	msb_id_set_reset(ids, 0);
}

void
msb_queue_remove_subscriber(MsbQueue *queue, MsbSubscriber *sub, gint64 now_us)
{
	msb_queue_return_in_flight(queue, sub);
	queue->last_unsubscribe_us = now_us;
	g_ptr_array_remove(queue->subscribers, sub);
}

void
msb_queue_end_batch(MsbQueue *queue, MsbSubscriber *sub, const MsbIdSet *done)
{
	if (done != NULL) {
		msb_queue_clear_attempts(queue, done, &sub->in_flight);
		for (guint i = 0; i < msb_id_set_n_ranges(done); i++) {
			const MsbIdRange *r = msb_id_set_range(done, i);
			sub->delivered += msb_id_set_remove_range(&sub->in_flight, r->from, r->to);
		}
	}
	msb_queue_return_in_flight(queue, sub);
	sub->state = MSB_SUBSCRIBER_IDLE;
}

void
msb_queue_confirm_all(MsbQueue *queue, MsbSubscriber *sub)
{
	msb_queue_clear_attempts(queue, &sub->in_flight, NULL);
	sub->delivered += msb_id_set_count(&sub->in_flight);
	msb_id_set_reset(&sub->in_flight, 0);
	sub->state = MSB_SUBSCRIBER_IDLE;
}

void
msb_queue_confirm_partial(MsbQueue *queue, MsbSubscriber *sub, const MsbIdSet *done, gint64 now_us)
{
	msb_queue_clear_attempts(queue, done, &sub->in_flight);
	for (guint i = 0; i < msb_id_set_n_ranges(done); i++) {
		const MsbIdRange *r = msb_id_set_range(done, i);
		sub->delivered += msb_id_set_remove_range(&sub->in_flight, r->from, r->to);
	}
	sub->last_update_us = now_us;
}

gint64
msb_queue_min_needed_id(MsbQueue *queue)
{
	gint64 min = G_MAXINT64;

	if (!msb_id_set_is_empty(&queue->waiting))
		min = msb_id_set_min(&queue->waiting);
	for (guint i = 0; i < queue->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
		if (!msb_id_set_is_empty(&sub->in_flight))
			min = MIN(min, msb_id_set_min(&sub->in_flight));
	}
	return min;
}

gint64
msb_queue_in_flight_count(MsbQueue *queue)
{
	gint64 n = 0;

	for (guint i = 0; i < queue->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
		n += msb_id_set_count(&sub->in_flight);
	}
	return n;
}

void
msb_subscriber_roll_stats(MsbSubscriber *sub, gint64 second)
{
	gint64 value = 0;

	if (second <= sub->history.second)
		return;
	if (sub->failed_count > 0)
		value = -(sub->failed_us / sub->failed_count);
	else if (sub->ok_count > 0)
		value = sub->ok_us / sub->ok_count;
	msb_history_roll(&sub->history, second, (gint32)CLAMP(value, -G_MAXINT32, G_MAXINT32));
	sub->ok_us = sub->ok_count = sub->failed_us = sub->failed_count = 0;
}

void
msb_subscriber_count_batch(MsbSubscriber *sub, gint64 second, gint64 duration_us, gint64 ok,
                           gint64 failed)
{
	msb_subscriber_roll_stats(sub, second);
	if (ok > 0) {
		sub->ok_us += MAX(duration_us, 0);
		sub->ok_count += ok;
	}
	if (failed > 0) {
		sub->failed_us += MAX(duration_us, 0);
		sub->failed_count += failed;
	}
}
