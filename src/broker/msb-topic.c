/*
 * MsbTopic: append, fan-out, sub-page lookup and garbage collection.
 */
#define G_LOG_DOMAIN "msb-topic"

#include "msb-topic.h"

#include <string.h>

#include "msb-broker.h"

const gchar *
msb_topic_get_name(const MsbTopic *topic)
{
	g_return_val_if_fail(topic != NULL, NULL);
	return topic->name;
}

gboolean
msb_topic_name_validate(const gchar *name, gsize len, GError **error)
{
	if (len < 3 || len > 63) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME,
		            "topic name must be 3 to 63 characters long, not %" G_GSIZE_FORMAT,
		            len);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		gchar c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME,
			            "topic name may contain only a-z, 0-9 and '-'");
			return FALSE;
		}
		if (c == '-' && i + 1 < len && name[i + 1] == '-') {
			g_set_error_literal(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME,
			                    "topic name may not contain \"--\"");
			return FALSE;
		}
	}
	if (name[0] == '-' || name[len - 1] == '-') {
		g_set_error_literal(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME,
		                    "topic name may not start or end with '-'");
		return FALSE;
	}
	if (len == 6 && memcmp(name, "topics", 6) == 0) {
		g_set_error_literal(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME,
		                    "\"topics\" is a reserved name");
		return FALSE;
	}
	return TRUE;
}

MsbTopic *
msb_topic_new(const gchar *name, gint64 next_id, gboolean persist)
{
	MsbTopic *topic = g_new0(MsbTopic, 1);

	topic->name = g_strdup(name);
	topic->next_id = next_id;
	topic->persist = persist;
	topic->sub_pages = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
	                                         (GDestroyNotify)msb_sub_page_free);
	topic->queues = g_ptr_array_new_with_free_func((GDestroyNotify)msb_queue_free);
	topic->durable_until = next_id;
	topic->save_cursor = next_id;
	topic->saves = g_array_new(FALSE, FALSE, sizeof(MsbTopicSave));
	topic->reserved_until = G_MAXINT64;
	topic->loading = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	return topic;
}

void
msb_topic_free(MsbTopic *topic)
{
	if (topic == NULL)
		return;
	g_ptr_array_unref(topic->queues);
	g_hash_table_unref(topic->loading);
	g_hash_table_unref(topic->sub_pages);
	g_array_unref(topic->saves);
	if (topic->publishers != NULL)
		g_array_unref(topic->publishers);
	msb_history_clear(&topic->publish_history);
	g_free(topic->name);
	g_free(topic);
}

MsbQueue *
msb_topic_find_queue(MsbTopic *topic, const gchar *name)
{
	for (guint i = 0; i < topic->queues->len; i++) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, i);
		if (g_strcmp0(queue->name, name) == 0)
			return queue;
	}
	return NULL;
}

MsbQueue *
msb_topic_add_queue(MsbTopic *topic, const gchar *name, MsbQueueType type, gint64 now_us)
{
	/* a new queue gets no history: it starts at the next id */
	MsbQueue *queue = msb_queue_new(topic, name, type, topic->next_id, now_us);

	g_ptr_array_add(topic->queues, queue);
	return queue;
}

void
msb_topic_remove_queue(MsbTopic *topic, MsbQueue *queue)
{
	g_ptr_array_remove(topic->queues, queue);
	topic->gc_due = TRUE;
}

MsbSubPage *
msb_topic_find_sub_page(MsbTopic *topic, gint64 id)
{
	gint64 no = msb_sub_page_no(id);

	if (topic->read_sp != NULL && topic->read_sp->no == no)
		return topic->read_sp;
	if (topic->write_sp != NULL && topic->write_sp->no == no)
		return topic->write_sp;
	topic->read_sp = g_hash_table_lookup(topic->sub_pages, &no);
	return topic->read_sp;
}

static MsbSubPage *
msb_topic_ensure_sub_page(MsbTopic *topic, gint64 id)
{
	MsbSubPage *sp = msb_topic_find_sub_page(topic, id);

	if (sp == NULL) {
		sp = msb_sub_page_new(msb_sub_page_no(id));
		g_hash_table_insert(topic->sub_pages, &sp->no, sp);
		/* a new sub-page: older ones may have become collectable */
		topic->gc_due = TRUE;
	}
	return sp;
}

gint64
msb_topic_append(MsbTopic *topic, const MsbWireMessage *messages, guint n, gint64 created_us)
{
	gint64 first = topic->next_id;
	MsbSubPage *sp = topic->write_sp;

	for (guint i = 0; i < n; i++) {
		const MsbWireMessage *m = &messages[i];
		gint64 id = topic->next_id++;

		if (sp == NULL || !msb_sub_page_holds(sp, id))
			sp = topic->write_sp = msb_topic_ensure_sub_page(topic, id);
		msb_sub_page_put(sp, id, created_us, m->headers, m->headers_len, m->content,
		                 m->content_len);
		if (topic->track_pending)
			msb_sub_page_set_pending(sp, id, TRUE);
		topic->cached_bytes += (gint64)m->content_len;
		topic->published_bytes += m->content_len;
	}
	if (topic->track_pending) {
		for (guint i = 0; i < n; i++)
			topic->pending_bytes += (gint64)messages[i].content_len;
		topic->pending_count += n;
	} else if (topic->durable_until == first && topic->save_cursor == first) {
		/* nothing older waits to be saved, and these need no saving */
		topic->durable_until = topic->save_cursor = topic->next_id;
	}
	topic->cached_messages += n;
	topic->messages_published += n;
	topic->publish_packets++;
	if (n > 0) {
		for (guint q = 0; q < topic->queues->len; q++) {
			MsbQueue *queue = g_ptr_array_index(topic->queues, q);
			msb_id_set_add_range(&queue->waiting, first, topic->next_id - 1);
		}
	}
	return first;
}

gint64
msb_topic_min_needed_id(MsbTopic *topic)
{
	gint64 min = topic->next_id;

	for (guint q = 0; q < topic->queues->len; q++)
		min = MIN(min, msb_queue_min_needed_id(g_ptr_array_index(topic->queues, q)));
	return min;
}

typedef struct {
	MsbTopic *topic;
	gint64 floor_no;
	gboolean can_reload;
	const MsbIdSet *needed; /* without can_reload */
	guint dropped;
} MsbTopicGcCtx;

/* Every id some queue still needs: waiting in it, or in flight to one of its subscribers. */
static void
msb_topic_needed_ids(MsbTopic *topic, MsbIdSet *needed)
{
	for (guint q = 0; q < topic->queues->len; q++) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, q);
		msb_id_set_merge(needed, &queue->waiting);
		for (guint i = 0; i < queue->subscribers->len; i++) {
			MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
			msb_id_set_merge(needed, &sub->in_flight);
		}
	}
}

/* Forget the messages of @sp that no queue needs; @sp itself stays. */
static void
msb_topic_gc_messages(MsbTopicGcCtx *ctx, MsbSubPage *sp, gint64 n_needed)
{
	gint64 first = msb_sub_page_first_id(sp);
	gsize bytes = sp->content_bytes;
	guint count = sp->n_loaded + sp->n_missing;

	/* a needed message is never forgotten, so this is the common "all needed" case */
	if ((gint64)count <= n_needed)
		return;
	for (gint64 id = first; id < first + MSB_SUB_PAGE_SIZE; id++) {
		if (msb_sub_page_get(sp, id)->state != MSB_MESSAGE_ABSENT &&
		    !msb_id_set_contains(ctx->needed, id))
			msb_sub_page_drop(sp, id);
	}
	ctx->topic->cached_bytes -= (gint64)(bytes - sp->content_bytes);
	ctx->topic->cached_messages -= count - (sp->n_loaded + sp->n_missing);
}

/*
 * In memory only, what no queue needs goes at or above the floor too; TRUE if @sp can be dropped
 * as a whole. The floor is the oldest id anyone needs, so one subscriber sitting on an old batch
 * (a consumer that stopped reading, say) holds it down, and without this everything published
 * after that batch would stay in memory however far the other subscribers have consumed. (With
 * persistence, sub-pages that no queue reads next are dropped and reloaded when needed.)
 */
static gboolean
msb_topic_gc_unneeded(MsbTopicGcCtx *ctx, MsbSubPage *sp)
{
	gint64 first = msb_sub_page_first_id(sp);
	gint64 n_needed = msb_id_set_count_range(ctx->needed, first, first + MSB_SUB_PAGE_SIZE - 1);

	if (n_needed == 0 && sp != ctx->topic->write_sp)
		return TRUE;
	msb_topic_gc_messages(ctx, sp, n_needed);
	return FALSE;
}

/* With persistence: is @no a sub-page some queue reads now or next? */
static gboolean
msb_topic_sub_page_wanted(MsbTopic *topic, gint64 no)
{
	for (guint q = 0; q < topic->queues->len; q++) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, q);
		gint64 at;
		if (msb_id_set_is_empty(&queue->waiting))
			continue;
		at = msb_sub_page_no(msb_id_set_min(&queue->waiting));
		if (no >= at && no <= at + MSB_TOPIC_READ_AHEAD)
			return TRUE;
	}
	return FALSE;
}

static gboolean
msb_topic_gc_sub_page(gpointer key, gpointer value, gpointer user_data)
{
	MsbTopicGcCtx *ctx = user_data;
	MsbSubPage *sp = value;

	if (msb_sub_page_has_pending(sp))
		return FALSE;
	if (sp == ctx->topic->write_sp ||
	    (sp->no >= ctx->floor_no &&
	     (!ctx->can_reload || msb_topic_sub_page_wanted(ctx->topic, sp->no)))) {
		if (ctx->can_reload || !msb_topic_gc_unneeded(ctx, sp))
			return FALSE;
	}
	ctx->topic->cached_bytes -= (gint64)sp->content_bytes;
	ctx->topic->cached_messages -= sp->n_loaded + sp->n_missing;
	if (ctx->topic->read_sp == sp)
		ctx->topic->read_sp = NULL;
	ctx->dropped++;
	return TRUE;
}

guint
msb_topic_gc(MsbTopic *topic, gboolean can_reload)
{
	gint64 floor = msb_topic_min_needed_id(topic);
	MsbIdSet needed;
	MsbTopicGcCtx ctx = {topic, msb_sub_page_no(floor), can_reload, &needed, 0};
	MsbSubPage *floor_sp;

	topic->gc_due = FALSE;
	msb_id_set_init(&needed, 0);
	if (!can_reload)
		msb_topic_needed_ids(topic, &needed);
	g_hash_table_foreach_remove(topic->sub_pages, msb_topic_gc_sub_page, &ctx);
	msb_id_set_clear(&needed);

	/* inside the sub-page that holds the floor, free what is below it */
	floor_sp = msb_topic_find_sub_page(topic, floor);
	if (floor_sp == NULL && topic->write_sp != NULL && topic->write_sp->no < ctx.floor_no)
		floor_sp = topic->write_sp;
	if (floor_sp != NULL) {
		gsize bytes = floor_sp->content_bytes;
		guint count = floor_sp->n_loaded + floor_sp->n_missing;
		msb_sub_page_drop_before(floor_sp, floor);
		topic->cached_bytes -= (gint64)(bytes - floor_sp->content_bytes);
		topic->cached_messages -= count - (floor_sp->n_loaded + floor_sp->n_missing);
	}
	return ctx.dropped;
}

void
msb_topic_roll_stats(MsbTopic *topic, gint64 second)
{
	/* the three move together: the history closes with what the rate counted */
	gint64 messages = second > topic->messages_rate.second ? topic->messages_rate.current : 0;

	msb_history_roll(&topic->publish_history, second, (gint32)MIN(messages, G_MAXINT32));
	msb_rate_add(&topic->messages_rate, second, 0);
	msb_rate_add(&topic->packets_rate, second, 0);
}

void
msb_topic_count_publish(MsbTopic *topic, gint64 session_id, guint n, gint64 second)
{
	MsbTopicPublisher pub = {session_id, second};

	msb_topic_roll_stats(topic, second);
	msb_rate_add(&topic->messages_rate, second, n);
	msb_rate_add(&topic->packets_rate, second, 1);
	if (topic->publishers == NULL)
		topic->publishers = g_array_new(FALSE, FALSE, sizeof(MsbTopicPublisher));
	/* a topic has a handful of publishers: a scan is cheaper than a hash table per topic */
	for (guint i = 0; i < topic->publishers->len; i++) {
		MsbTopicPublisher *p = &g_array_index(topic->publishers, MsbTopicPublisher, i);
		if (p->session_id == session_id) {
			p->second = second;
			return;
		}
	}
	g_array_append_val(topic->publishers, pub);
}
