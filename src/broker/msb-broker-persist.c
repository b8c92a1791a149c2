/*
 * The broker's side of persistence: which messages are pending and who saves them, the durable
 * watermark and the PublishResponses held for persist_immediately, sub-pages loaded back,
 * snapshots and restore. The rules are in msb-persist.h.
 */
#define G_LOG_DOMAIN "msb-broker"

#include "msb-broker-private.h"
#include "msb-log.h"
#include "msb-session.h"

void
msb_save_batch_init(MsbSaveBatch *batch)
{
	g_return_if_fail(batch != NULL);
	batch->topic = NULL;
	batch->from_id = batch->to_id = -1;
	batch->bytes = 0;
	batch->messages = g_array_new(FALSE, FALSE, sizeof(MsbPendingMessage));
}

void
msb_save_batch_clear(MsbSaveBatch *batch)
{
	g_return_if_fail(batch != NULL);
	g_clear_pointer(&batch->messages, g_array_unref);
}

MsbQueueSnapshot *
msb_queue_snapshot_new(const gchar *name, MsbQueueType type)
{
	MsbQueueSnapshot *snap = g_new0(MsbQueueSnapshot, 1);

	snap->name = g_strdup(name);
	snap->type = type;
	snap->ranges = g_array_new(FALSE, FALSE, sizeof(MsbIdRange));
	return snap;
}

void
msb_queue_snapshot_free(MsbQueueSnapshot *snap)
{
	if (snap == NULL)
		return;
	g_array_unref(snap->ranges);
	g_free(snap->name);
	g_free(snap);
}

MsbTopicSnapshot *
msb_topic_snapshot_new(const gchar *name, gint64 message_id, gboolean persist)
{
	MsbTopicSnapshot *snap = g_new0(MsbTopicSnapshot, 1);

	snap->name = g_strdup(name);
	snap->message_id = message_id;
	snap->persist = persist;
	snap->queues = g_ptr_array_new_with_free_func((GDestroyNotify)msb_queue_snapshot_free);
	return snap;
}

void
msb_topic_snapshot_free(MsbTopicSnapshot *snap)
{
	if (snap == NULL)
		return;
	g_ptr_array_unref(snap->queues);
	g_free(snap->name);
	g_free(snap);
}

/* ---- saving ---- */

/*
 * A topic with a save in flight gets another one only for at least this much: what arrives
 * during one round trip to the service is then saved by the next, in one call. Small saves in
 * parallel would each cost a gRPC call and a commit in the service for few messages (with a
 * message per publish and 800 in flight they made saving slower, bench/RESULTS.md); large ones
 * are worth overlapping, so that the service writes one while the next is on its way.
 */
#define MSB_SAVE_AHEAD_MESSAGES 1000
#define MSB_SAVE_AHEAD_BYTES    (1024 * 1024)

/* Collect pending messages of @topic from its save cursor; FALSE if it has none there. */
static gboolean
msb_broker_collect(MsbTopic *topic, gsize max_bytes, guint max_messages, MsbSaveBatch *batch)
{
	gint64 id = topic->save_cursor;
	MsbSubPage *sp = NULL;

	g_array_set_size(batch->messages, 0);
	batch->bytes = 0;
	while (id < topic->next_id && batch->messages->len < max_messages &&
	       (batch->messages->len == 0 || batch->bytes < max_bytes)) {
		MsbPendingMessage pm;
		MsbMessage *msg;

		if (sp == NULL || !msb_sub_page_holds(sp, id))
			sp = msb_topic_find_sub_page(topic, id);
		if (sp == NULL) {
			/* a sub-page with pending ids is never collected: nothing to save here */
			id = (msb_sub_page_no(id) + 1) * MSB_SUB_PAGE_SIZE;
			continue;
		}
		if (!msb_sub_page_is_pending(sp, id)) {
			id++;
			continue;
		}
		msg = msb_sub_page_get(sp, id);
		/* at most max_bytes (the adapter sizes requests by it), unless one message alone
		 * is bigger */
		if (batch->messages->len > 0 && batch->bytes + msg->content_len > max_bytes)
			break;
		pm.id = id;
		pm.created_us = msg->created_us;
		pm.headers = msg->headers_len > 0 ? msg->data : NULL;
		pm.headers_len = msg->headers_len;
		pm.content = msb_message_content(msg);
		pm.content_len = msg->content_len;
		g_array_append_val(batch->messages, pm);
		batch->bytes += msg->content_len;
		id++;
	}
	batch->topic = topic;
	batch->from_id = topic->save_cursor;
	batch->to_id = MIN(id, topic->next_id) - 1;
	return batch->messages->len > 0;
}

gboolean
msb_broker_take_save_batch(MsbBroker *broker, gsize max_bytes, guint max_messages,
                           MsbSaveBatch *batch)
{
	GHashTableIter iter;
	gpointer value;
	MsbTopic *next;
	MsbTopicSave range;

	g_return_val_if_fail(broker != NULL, FALSE);
	g_return_val_if_fail(batch != NULL && batch->messages != NULL, FALSE);
	g_return_val_if_fail(max_messages > 0, FALSE);

	for (;;) {
		next = NULL;
		g_hash_table_iter_init(&iter, broker->topics);
		while (g_hash_table_iter_next(&iter, NULL, &value)) {
			MsbTopic *topic = value;

			if (topic->save_failed || topic->save_cursor >= topic->next_id)
				continue;
			/* being deleted by the service: a save now would fail, or revive it */
			if (topic->delete_in_flight || topic->delete_confirmed)
				continue;
			if (topic->pending_count == 0) {
				/* ids published while the topic was not persisted: nothing to save
				 */
				if (topic->saves_in_flight == 0)
					topic->durable_until = topic->save_cursor = topic->next_id;
				continue;
			}
			/* pending ids not in a save in flight are all at or above the save cursor
			 * (after a failure those below wait until every save has settled) */
			if (topic->pending_count <= topic->handed_count)
				continue;
			if (topic->saves_in_flight > 0 &&
			    topic->pending_count - topic->handed_count < MSB_SAVE_AHEAD_MESSAGES &&
			    topic->pending_bytes - topic->handed_bytes < MSB_SAVE_AHEAD_BYTES)
				continue;
			/* the least recently served first: a topic that always has something new
			 * by the time its save is handed out must not starve the others */
			if (next == NULL || topic->save_turn < next->save_turn)
				next = topic;
		}
		if (next == NULL)
			return FALSE;
		if (msb_broker_collect(next, max_bytes, max_messages, batch))
			break;
		/* nothing pending from its save cursor on (ids published while the topic was not
		 * persisted): they need no saving, and with nothing in flight the watermark passes
		 * them */
		g_return_val_if_fail(next->saves_in_flight == 0, FALSE);
		next->durable_until = next->save_cursor = batch->to_id + 1;
		g_array_set_size(next->saves, 0);
	}
	range.from_id = batch->from_id;
	range.to_id = batch->to_id;
	range.done = FALSE;
	g_array_append_val(next->saves, range);
	next->save_cursor = batch->to_id + 1;
	next->saves_in_flight++;
	next->handed_count += batch->messages->len;
	next->handed_bytes += (gint64)batch->bytes;
	next->save_turn = ++broker->save_turns;
	return TRUE;
}

/* The range of @topic's saves that starts at @from_id. */
static MsbTopicSave *
msb_topic_find_save(MsbTopic *topic, gint64 from_id)
{
	for (guint i = 0; i < topic->saves->len; i++) {
		MsbTopicSave *range = &g_array_index(topic->saves, MsbTopicSave, i);
		if (range->from_id == from_id)
			return range;
	}
	return NULL;
}

/* One of @topic's saves settled: move the watermark over the saved ranges from below, and once
 * nothing is in flight after a failure, hand out again from the watermark. */
static void
msb_topic_save_settled(MsbTopic *topic, const MsbSaveBatch *batch)
{
	guint saved = 0;

	topic->saves_in_flight--;
	topic->handed_count -= batch->messages->len;
	topic->handed_bytes -= (gint64)batch->bytes;
	while (saved < topic->saves->len) {
		const MsbTopicSave *range = &g_array_index(topic->saves, MsbTopicSave, saved);
		if (!range->done)
			break;
		topic->durable_until = MAX(topic->durable_until, range->to_id + 1);
		saved++;
	}
	g_array_remove_range(topic->saves, 0, saved);
	if (topic->save_failed && topic->saves_in_flight == 0) {
		/* saved ranges above the failed one are not pending any more: the next
		 * collection steps over them */
		g_array_set_size(topic->saves, 0);
		topic->save_cursor = topic->durable_until;
		topic->save_failed = FALSE;
	}
}

void
msb_broker_save_done(MsbBroker *broker, const MsbSaveBatch *batch)
{
	MsbTopic *topic;
	MsbTopicSave *range;
	MsbSubPage *sp = NULL;

	g_return_if_fail(broker != NULL);
	g_return_if_fail(batch != NULL && batch->topic != NULL);

	topic = batch->topic;
	range = msb_topic_find_save(topic, batch->from_id);
	g_return_if_fail(range != NULL && !range->done);
	range->done = TRUE;
	for (guint i = 0; i < batch->messages->len; i++) {
		const MsbPendingMessage *pm = &g_array_index(batch->messages, MsbPendingMessage, i);
		if (sp == NULL || !msb_sub_page_holds(sp, pm->id))
			sp = msb_topic_find_sub_page(topic, pm->id);
		if (sp == NULL || !msb_sub_page_is_pending(sp, pm->id))
			continue;
		msb_sub_page_set_pending(sp, pm->id, FALSE);
		topic->pending_bytes -= (gint64)pm->content_len;
		topic->pending_count--;
		broker->pending_bytes -= (gint64)pm->content_len;
		broker->pending_count--;
	}
	msb_topic_save_settled(topic, batch);
	topic->gc_due = TRUE;
	broker->generation++;
	msb_broker_mark_dirty(broker, topic);
	msb_broker_release_deferred(broker);
	if (topic->pending_count > topic->handed_count && broker->cb.save_wanted != NULL)
		broker->cb.save_wanted(broker->user_data);
	msb_broker_run_deliveries(broker);
}

void
msb_broker_save_failed(MsbBroker *broker, const MsbSaveBatch *batch)
{
	MsbTopic *topic;

	g_return_if_fail(broker != NULL);
	g_return_if_fail(batch != NULL && batch->topic != NULL);
	topic = batch->topic;
	g_return_if_fail(msb_topic_find_save(topic, batch->from_id) != NULL);
	/* the same ids are handed out again once the saves still in flight have settled */
	topic->save_failed = TRUE;
	msb_topic_save_settled(topic, batch);
}

gint64
msb_broker_get_pending_bytes(MsbBroker *broker)
{
	g_return_val_if_fail(broker != NULL, 0);
	return broker->pending_bytes;
}

gint64
msb_broker_get_pending_count(MsbBroker *broker)
{
	g_return_val_if_fail(broker != NULL, 0);
	return broker->pending_count;
}

gint64
msb_broker_get_oldest_pending_us(MsbBroker *broker)
{
	GHashTableIter iter;
	gpointer value;
	gint64 oldest = 0;

	g_return_val_if_fail(broker != NULL, 0);
	g_hash_table_iter_init(&iter, broker->topics);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		MsbTopic *topic = value;
		MsbSubPage *sp = NULL;

		if (topic->pending_count == 0)
			continue;
		/* saves go in id order, so the first pending id at or above the watermark is the
		 * oldest; ids published unpersisted in between are skipped */
		for (gint64 id = topic->durable_until; id < topic->next_id; id++) {
			if (sp == NULL || !msb_sub_page_holds(sp, id))
				sp = msb_topic_find_sub_page(topic, id);
			if (sp == NULL) {
				/* no pending id where nothing is cached: skip the sub-page */
				id = (msb_sub_page_no(id) + 1) * MSB_SUB_PAGE_SIZE - 1;
				continue;
			}
			if (!msb_sub_page_is_pending(sp, id))
				continue;
			if (oldest == 0 || msb_sub_page_get(sp, id)->created_us < oldest)
				oldest = msb_sub_page_get(sp, id)->created_us;
			break;
		}
	}
	return oldest;
}

guint
msb_broker_count_saves_in_flight(MsbBroker *broker)
{
	GHashTableIter iter;
	gpointer value;
	guint n = 0;

	g_return_val_if_fail(broker != NULL, 0);
	g_hash_table_iter_init(&iter, broker->topics);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		n += ((MsbTopic *)value)->saves_in_flight;
	return n;
}

void
msb_broker_release_deferred(MsbBroker *broker)
{
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, broker->waiting_sessions);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		MsbSession *session = key;
		gboolean wrote = FALSE;

		while (!g_queue_is_empty(&session->deferred)) {
			MsbDeferredResponse *held = g_queue_peek_head(&session->deferred);
			if (held->topic != NULL &&
			    (held->topic->reserved_until <= held->wait_id ||
			     (held->need_durable && held->topic->durable_until <= held->wait_id)))
				break;
			if (held->reject != NULL)
				msb_wire_put_reject(&session->out, held->reject);
			else
				msb_wire_put_publish_response(&session->out, held->request_id);
			msb_deferred_response_free(g_queue_pop_head(&session->deferred));
			wrote = TRUE;
		}
		if (wrote)
			msb_broker_output(broker, session);
		if (g_queue_is_empty(&session->deferred))
			g_hash_table_iter_remove(&iter);
	}
}

/* ---- loading ---- */

void
msb_broker_request_load(MsbBroker *broker, MsbTopic *topic, gint64 no, gboolean even_if_cached)
{
	gint64 *key;

	if (no < 0 || no * MSB_SUB_PAGE_SIZE >= topic->next_id)
		return;
	/* the service is deleting it: nothing to load, and a load would hold up its removal */
	if (topic->delete_in_flight || topic->delete_confirmed)
		return;
	if (g_hash_table_contains(topic->loading, &no))
		return;
	/* msb_topic_find_sub_page() takes an id, not a sub-page number */
	if (!even_if_cached && msb_topic_find_sub_page(topic, no * MSB_SUB_PAGE_SIZE) != NULL)
		return;
	if (broker->cb.load_sub_page == NULL)
		return;
	key = g_new(gint64, 1);
	*key = no;
	g_hash_table_add(topic->loading, key);
	g_debug("%s: loading sub-page %" G_GINT64_FORMAT " from persistence", topic->name, no);
	broker->cb.load_sub_page(topic, no, broker->user_data);
}

/* Does some queue of @topic wait for @id (or have it in flight)? */
static gboolean
msb_topic_needs_id(MsbTopic *topic, gint64 id)
{
	for (guint q = 0; q < topic->queues->len; q++) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, q);

		if (msb_id_set_contains(&queue->waiting, id))
			return TRUE;
		for (guint i = 0; i < queue->subscribers->len; i++) {
			MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
			if (msb_id_set_contains(&sub->in_flight, id))
				return TRUE;
		}
	}
	return FALSE;
}

/* Installs @messages as sub-page @sub_page_no; every other id not in memory becomes missing.
 * With @needed, counts the ids made missing that some queue waits for. */
static MsbSubPage *
msb_broker_install_sub_page(MsbBroker *broker, MsbTopic *topic, gint64 sub_page_no,
                            const MsbLoadedMessage *messages, guint n_messages, guint *needed)
{
	MsbSubPage *sp;
	gint64 first;
	gint64 end;
	gsize bytes_before;
	guint count_before;

	g_hash_table_remove(topic->loading, &sub_page_no);
	sp = msb_topic_find_sub_page(topic, sub_page_no * MSB_SUB_PAGE_SIZE);
	if (sp == NULL) {
		sp = msb_sub_page_new(sub_page_no);
		g_hash_table_insert(topic->sub_pages, &sp->no, sp);
	}
	bytes_before = sp->content_bytes;
	count_before = sp->n_loaded + sp->n_missing;
	/* only fill what is absent: anything in memory is at least as new as the stored copy */
	for (guint i = 0; i < n_messages; i++) {
		const MsbLoadedMessage *m = &messages[i];
		if (!msb_sub_page_holds(sp, m->id) ||
		    msb_sub_page_get(sp, m->id)->state != MSB_MESSAGE_ABSENT)
			continue;
		msb_sub_page_put(sp, m->id, m->created_us, m->headers, m->headers_len, m->content,
		                 m->content_len);
	}
	first = msb_sub_page_first_id(sp);
	end = MIN(first + MSB_SUB_PAGE_SIZE, topic->next_id);
	for (gint64 id = first; id < end; id++) {
		if (msb_sub_page_get(sp, id)->state != MSB_MESSAGE_ABSENT)
			continue;
		msb_sub_page_put_missing(sp, id);
		if (needed != NULL && msb_topic_needs_id(topic, id))
			(*needed)++;
	}
	topic->cached_bytes += (gint64)sp->content_bytes - (gint64)bytes_before;
	topic->cached_messages += (gint64)(sp->n_loaded + sp->n_missing) - count_before;
	return sp;
}

void
msb_broker_sub_page_loaded(MsbBroker *broker, MsbTopic *topic, gint64 sub_page_no,
                           const MsbLoadedMessage *messages, guint n_messages)
{
	MsbSubPage *sp;

	g_return_if_fail(broker != NULL);
	g_return_if_fail(topic != NULL);
	g_return_if_fail(sub_page_no >= 0);

	sp = msb_broker_install_sub_page(broker, topic, sub_page_no, messages, n_messages, NULL);
	g_debug("%s: sub-page %" G_GINT64_FORMAT " loaded: %u messages, %u missing", topic->name,
	        sub_page_no, sp->n_loaded, sp->n_missing);
	msb_broker_mark_dirty(broker, topic);
	msb_broker_run_deliveries(broker);
}

guint
msb_broker_sub_page_damaged(MsbBroker *broker, MsbTopic *topic, gint64 sub_page_no,
                            const gchar *reason)
{
	gint64 first = sub_page_no * MSB_SUB_PAGE_SIZE;
	guint lost = 0;

	g_return_val_if_fail(broker != NULL, 0);
	g_return_val_if_fail(topic != NULL, 0);
	g_return_val_if_fail(sub_page_no >= 0, 0);

	msb_broker_install_sub_page(broker, topic, sub_page_no, NULL, 0, &lost);
	topic->messages_lost += lost;
	msb_warning_fields(
	        MSB_LOG_TOPIC(topic->name),
	        "%s: messages %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
	        " cannot be loaded, persistence reports them damaged: %s; %u messages that "
	        "queues waited for are skipped as lost, delivery goes on with the next ids "
	        "(OnDamagedMessages: skip)",
	        topic->name, first, MIN(first + MSB_SUB_PAGE_SIZE, topic->next_id) - 1,
	        reason != NULL ? reason : "no reason given", lost);
	msb_broker_mark_dirty(broker, topic);
	msb_broker_run_deliveries(broker);
	return lost;
}

void
msb_broker_sub_page_load_failed(MsbBroker *broker, MsbTopic *topic, gint64 sub_page_no)
{
	g_return_if_fail(broker != NULL);
	g_return_if_fail(topic != NULL);
	/* never install an empty sub-page: that would skip messages that exist */
	g_hash_table_remove(topic->loading, &sub_page_no);
}

void
msb_broker_wake_topic(MsbBroker *broker, MsbTopic *topic)
{
	g_return_if_fail(broker != NULL);
	g_return_if_fail(topic != NULL);
	msb_broker_mark_dirty(broker, topic);
	msb_broker_run_deliveries(broker);
}

/* ---- snapshots and restore ---- */

guint64
msb_broker_get_state_generation(MsbBroker *broker)
{
	g_return_val_if_fail(broker != NULL, 0);
	return broker->generation;
}

static MsbQueueSnapshot *
msb_broker_snapshot_queue(MsbTopic *topic, MsbQueue *queue, gint64 reserve_until)
{
	MsbQueueSnapshot *snap = msb_queue_snapshot_new(queue->name, queue->type);
	MsbIdSet ids;

	/* in-flight ids too, so that an unconfirmed message comes back after a restart */
	msb_id_set_init(&ids, msb_id_set_cursor(&queue->waiting));
	msb_id_set_merge(&ids, &queue->waiting);
	for (guint i = 0; i < queue->subscribers->len; i++) {
		MsbSubscriber *sub = g_ptr_array_index(queue->subscribers, i);
		msb_id_set_merge(&ids, &sub->in_flight);
	}
	/* the reserved ids not published yet: this queue gets each of them when it is; an
	 * unpersisted topic's messages do not outlive a crash, so it skips them */
	if (reserve_until > topic->next_id && topic->track_pending)
		msb_id_set_add_range(&ids, topic->next_id, reserve_until - 1);
	if (msb_id_set_is_empty(&ids)) {
		MsbIdRange empty;
		empty.from = msb_id_set_cursor(&queue->waiting);
		empty.to = empty.from - 1;
		g_array_append_val(snap->ranges, empty);
	}
	for (guint i = 0; i < msb_id_set_n_ranges(&ids); i++)
		g_array_append_val(snap->ranges, *msb_id_set_range(&ids, i));
	msb_id_set_clear(&ids);
	return snap;
}

GPtrArray *
msb_broker_build_snapshot(MsbBroker *broker, gboolean final)
{
	g_autoptr(GPtrArray) topics = NULL;
	GPtrArray *snaps;

	g_return_val_if_fail(broker != NULL, NULL);
	topics = msb_broker_list_topics(broker);
	snaps = g_ptr_array_new_with_free_func((GDestroyNotify)msb_topic_snapshot_free);
	for (guint t = 0; t < topics->len; t++) {
		MsbTopic *topic = g_ptr_array_index(topics, t);
		/* never less than what an earlier snapshot reserved: those ids may have been seen;
		 * the final one covers what was published and reserves nothing more */
		gint64 reserve_until =
		        final ? topic->next_id
		              : MAX(topic->next_id + MSB_BROKER_ID_RESERVE, topic->reserved_until);
		MsbTopicSnapshot *snap;

		snap = msb_topic_snapshot_new(topic->name, reserve_until, topic->persist);
		for (guint q = 0; q < topic->queues->len; q++)
			g_ptr_array_add(
			        snap->queues,
			        msb_broker_snapshot_queue(
			                topic, g_ptr_array_index(topic->queues, q), reserve_until));
		g_ptr_array_add(snaps, snap);
	}
	return snaps;
}

void
msb_broker_snapshot_saved(MsbBroker *broker, GPtrArray *snaps)
{
	g_return_if_fail(broker != NULL);
	g_return_if_fail(snaps != NULL);
	for (guint i = 0; i < snaps->len; i++) {
		MsbTopicSnapshot *snap = g_ptr_array_index(snaps, i);
		MsbTopic *topic = g_hash_table_lookup(broker->topics, snap->name);
		if (topic == NULL || topic->reserved_until == G_MAXINT64 ||
		    snap->message_id <= topic->reserved_until)
			continue;
		topic->reserved_until = snap->message_id;
		/* what waited for the reservation may be delivered and answered now */
		msb_broker_mark_dirty(broker, topic);
	}
	msb_broker_release_deferred(broker);
	msb_broker_run_deliveries(broker);
}

MsbTopic *
msb_broker_restore_topic(MsbBroker *broker, const gchar *name, gint64 snapshot_message_id,
                         gint64 max_persisted_id, gboolean persist, GError **error)
{
	MsbTopic *topic;
	gint64 next;

	g_return_val_if_fail(broker != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	if (g_hash_table_contains(broker->topics, name)) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME,
		            "the snapshot lists topic %s twice", name);
		return NULL;
	}
	if (snapshot_message_id < 0) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_INVALID_NAME,
		            "the snapshot gives topic %s the negative message id %" G_GINT64_FORMAT,
		            name, snapshot_message_id);
		return NULL;
	}
	/* messages saved after the snapshot must not have their ids handed out again */
	next = MAX(snapshot_message_id, max_persisted_id + 1);
	topic = msb_topic_new(name, next, persist);
	topic->track_pending = broker->config.persistence && persist;
	/* the snapshot reserved up to its message id, and all of it may have been seen: new ids
	 * wait for the next snapshot */
	if (broker->config.persistence)
		topic->reserved_until = next;
	msb_broker_add_topic(broker, topic);
	msb_info_fields(MSB_LOG_TOPIC(name),
	                "topic %s restored: next id %" G_GINT64_FORMAT
	                " (snapshot %" G_GINT64_FORMAT ", last persisted %" G_GINT64_FORMAT ")",
	                name, next, snapshot_message_id, max_persisted_id);
	return topic;
}

MsbQueue *
msb_broker_restore_queue(MsbBroker *broker, MsbTopic *topic, gint64 snapshot_message_id,
                         const gchar *name, MsbQueueType type, const MsbIdRange *ranges,
                         guint n_ranges)
{
	MsbQueue *queue;
	gboolean created = FALSE;

	g_return_val_if_fail(broker != NULL, NULL);
	g_return_val_if_fail(topic != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);

	queue = msb_topic_find_queue(topic, name);
	if (queue == NULL) {
		queue = msb_topic_add_queue(topic, name, type, msb_broker_now(broker));
		created = TRUE;
	}
	for (guint i = 0; i < n_ranges; i++) {
		gint64 from = MAX(ranges[i].from, 0);
		gint64 to = MIN(ranges[i].to, topic->next_id - 1);
		if (ranges[i].from > ranges[i].to && msb_id_set_is_empty(&queue->waiting)) {
			/* the empty-range form: its from is the cursor */
			msb_id_set_reset(&queue->waiting, MIN(ranges[i].from, topic->next_id));
			continue;
		}
		if (from <= to)
			msb_id_set_add_range(&queue->waiting, from, to);
	}
	/* what was saved after the snapshot was published after it: every queue had it */
	if (snapshot_message_id < topic->next_id)
		msb_id_set_add_range(&queue->waiting, MAX(snapshot_message_id, 0),
		                     topic->next_id - 1);
	broker->generation++;
	if (created)
		msb_broker_emit_queue(broker, MSB_BROKER_EVENT_QUEUE_CREATED, topic->name, name,
		                      type);
	return queue;
}

gint64
msb_broker_restore_unpublished(MsbBroker *broker, MsbTopic *topic, gint64 from_id, gint64 to_id)
{
	gint64 dropped = 0;

	g_return_val_if_fail(broker != NULL, 0);
	g_return_val_if_fail(topic != NULL, 0);
	/* only ids the counter has passed: those below next_id are never handed out again */
	from_id = MAX(from_id, 0);
	to_id = MIN(to_id, topic->next_id - 1);
	if (from_id > to_id)
		return 0;
	for (guint q = 0; q < topic->queues->len; q++) {
		MsbQueue *queue = g_ptr_array_index(topic->queues, q);
		dropped += msb_id_set_remove_range(&queue->waiting, from_id, to_id);
	}
	if (dropped > 0) {
		broker->generation++;
		msb_info_fields(
		        MSB_LOG_TOPIC(topic->name),
		        "topic %s restored: ids %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
		        " were reserved but persistence holds none of them; dropped from %u "
		        "queues",
		        topic->name, from_id, to_id, topic->queues->len);
	}
	return dropped;
}
