/*
 * The message browser's read of a topic (see msb-broker-messages.h). It visits the topic's
 * cached sub-pages only, in id order, and copies what it returns, so the caller may keep the
 * result after the broker has moved on.
 */
#define G_LOG_DOMAIN "msb-broker"

#include "msb-broker-messages.h"

#include "msb-broker.h"
#include "msb-topic.h"
#include "msb-wire.h"

MsbMessageCopy *
msb_message_copy_new(gint64 id, gint64 created_us, GBytes *content)
{
	MsbMessageCopy *msg = g_new0(MsbMessageCopy, 1);

	msg->id = id;
	msg->created_us = created_us;
	msg->headers = g_array_new(FALSE, FALSE, sizeof(MsbMessageHeaderCopy));
	msg->content = g_bytes_ref(content);
	return msg;
}

void
msb_message_copy_add_header(MsbMessageCopy *msg, const gchar *key, gsize key_len,
                            const gchar *value, gsize value_len)
{
	MsbMessageHeaderCopy h = {g_strndup(key, key_len), g_strndup(value, value_len)};

	g_return_if_fail(msg != NULL);
	g_array_append_val(msg->headers, h);
}

void
msb_message_copy_free(MsbMessageCopy *msg)
{
	if (msg == NULL)
		return;
	for (guint i = 0; i < msg->headers->len; i++) {
		MsbMessageHeaderCopy *h = &g_array_index(msg->headers, MsbMessageHeaderCopy, i);
		g_free(h->key);
		g_free(h->value);
	}
	g_array_unref(msg->headers);
	g_bytes_unref(msg->content);
	g_free(msg);
}

void
msb_messages_read_clear(MsbMessagesRead *read)
{
	g_clear_pointer(&read->messages, g_ptr_array_unref);
}

static MsbMessageCopy *
msb_messages_copy(gint64 id, const MsbMessage *slot)
{
	g_autoptr(GBytes) content = g_bytes_new(msb_message_content(slot), slot->content_len);
	MsbMessageCopy *msg = msb_message_copy_new(id, slot->created_us, content);
	MsbWireStr key;
	MsbWireStr value;
	gsize pos = 0;

	/* the block was validated when it was published or loaded */
	while (msb_wire_headers_next(slot->data, slot->headers_len, &pos, &key, &value))
		msb_message_copy_add_header(msg, key.str, key.len, value.str, value.len);
	return msg;
}

static gint
msb_messages_cmp_no(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

gboolean
msb_broker_read_messages(MsbBroker *broker, const gchar *topic_name, gint64 from_id, guint limit,
                         gboolean stop_at_gap, MsbMessagesRead *out, GError **error)
{
	MsbTopic *topic;
	g_autoptr(GArray) nos = g_array_new(FALSE, FALSE, sizeof(gint64));
	GHashTableIter iter;
	gpointer key;
	gpointer value;
	gint64 id = MAX(from_id, 0);

	g_return_val_if_fail(broker != NULL, FALSE);
	g_return_val_if_fail(topic_name != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);

	memset(out, 0, sizeof(*out));
	out->gap_id = -1;
	topic = msb_broker_find_topic(broker, topic_name);
	if (topic == NULL) {
		g_set_error(error, MSB_BROKER_ERROR, MSB_BROKER_ERROR_TOPIC_NOT_FOUND,
		            "topic %s not found", topic_name);
		return FALSE;
	}
	out->next_id = topic->next_id;
	out->min_id = topic->next_id;
	out->messages = g_ptr_array_new_with_free_func((GDestroyNotify)msb_message_copy_free);

	g_hash_table_iter_init(&iter, topic->sub_pages);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		MsbSubPage *sp = value;

		if (sp->n_loaded > 0) {
			for (gint64 i = msb_sub_page_first_id(sp);
			     i < msb_sub_page_first_id(sp) + MSB_SUB_PAGE_SIZE; i++) {
				if (i >= out->min_id)
					break;
				if (msb_sub_page_get(sp, i)->state == MSB_MESSAGE_LOADED) {
					out->min_id = i;
					break;
				}
			}
		}
		if ((sp->no + 1) * MSB_SUB_PAGE_SIZE > id)
			g_array_append_val(nos, sp->no);
	}
	g_array_sort(nos, msb_messages_cmp_no);

	for (guint n = 0; n < nos->len && out->messages->len < limit && id < topic->next_id; n++) {
		gint64 no = g_array_index(nos, gint64, n);
		MsbSubPage *sp = g_hash_table_lookup(topic->sub_pages, &no);
		gint64 end = MIN((no + 1) * MSB_SUB_PAGE_SIZE, topic->next_id);

		if (id < msb_sub_page_first_id(sp)) {
			/* a whole sub-page (or more) not in memory */
			if (stop_at_gap)
				break;
			id = msb_sub_page_first_id(sp);
		}
		for (; id < end && out->messages->len < limit; id++) {
			const MsbMessage *slot = msb_sub_page_get(sp, id);

			if (slot->state == MSB_MESSAGE_LOADED)
				g_ptr_array_add(out->messages, msb_messages_copy(id, slot));
			else if (slot->state == MSB_MESSAGE_ABSENT && stop_at_gap)
				break;
		}
		if (id < end && out->messages->len < limit)
			break; /* stopped at a gap inside the sub-page */
	}
	if (stop_at_gap && out->messages->len < limit && id < topic->next_id)
		out->gap_id = id;
	out->scanned_to =
	        out->messages->len < limit && out->gap_id < 0 ? MAX(id, topic->next_id) : id;
	return TRUE;
}
