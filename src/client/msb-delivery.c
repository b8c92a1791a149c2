/*
 * MsbDelivery: one received NewMessages batch and its confirmation (protocol.md §3.7, §3.8,
 * §3.13, §8.4).
 *
 * Owns the copy of the packet bytes (one allocation holds the struct, the message array, the
 * decoded headers as NUL-terminated strings and the packet copy, so a batch costs one malloc and
 * one memcpy), and the "only the first final confirmation counts" rule. A delivery freed without
 * a final confirmation sends AllMessagesConfirmedAsFail so the broker redelivers at once instead
 * of waiting for the delivery timeout. Confirmations are written through the client's output
 * buffer and dropped when the link the batch came on is gone.
 */
#define G_LOG_DOMAIN "msb-client"

#include <stdlib.h>

#include "msb-client-private.h"

struct _MsbDelivery {
	gint ref_count;
	gboolean finished; /* a final confirmation was made (or attempted) */
	guint generation;
	MsbClient *client; /* strong */
	const gchar *topic;
	const gchar *queue;
	gint64 confirmation_id;
	guint n_messages;
	MsbReceivedMessage *messages;
};

/* keep the arrays after the struct pointer-aligned */
#define MSB_DELIVERY_HEAD_SIZE \
	((sizeof(MsbDelivery) + sizeof(gpointer) * 2 - 1) & ~(sizeof(gpointer) * 2 - 1))

/* Rebase a view into the decoded packet onto the copy; an empty view gets a valid pointer. */
static inline const guint8 *
rebase(const guint8 *copy, const guint8 *packet, gsize packet_len, const guint8 *p, gsize len)
{
	if (p == NULL || len == 0 || p < packet || p + len > packet + packet_len)
		return copy;
	return copy + (p - packet);
}

static gchar *
put_str(gchar **strings, const gchar *str, gsize len)
{
	gchar *dst = *strings;
	if (len > 0)
		memcpy(dst, str, len);
	dst[len] = '\0';
	*strings += len + 1;
	return dst;
}

MsbDelivery *
msb_delivery_new(MsbClient *client, guint generation, const guint8 *packet, gsize packet_len,
                 const MsbPacket *pkt)
{
	const MsbWireMessage *wmsgs = pkt->new_messages.messages;
	guint n = pkt->new_messages.n_messages;
	gsize n_headers_total = 0;
	gsize strings_size = pkt->new_messages.topic.len + 1 + pkt->new_messages.queue.len + 1;
	gsize size;
	guint8 *block;
	MsbDelivery *self;
	MsbHeader *headers;
	gchar *strings;
	guint8 *copy;

	g_return_val_if_fail(pkt->id == MSB_PACKET_NEW_MESSAGES, NULL);

	/* A raw header block is 1 + Σ(1 + klen + 1 + vlen) bytes; the NUL-terminated strings need
	 * Σ(klen + 1 + vlen + 1), which is headers_len - 1. Sizes are bounded by the packet. */
	for (guint i = 0; i < n; i++) {
		if (wmsgs[i].n_headers == 0)
			continue;
		n_headers_total += wmsgs[i].n_headers;
		strings_size += wmsgs[i].headers_len;
	}
	size = MSB_DELIVERY_HEAD_SIZE + (gsize)n * sizeof(MsbReceivedMessage) +
	       n_headers_total * sizeof(MsbHeader) + strings_size + packet_len;
	block = g_malloc(size);
	self = (MsbDelivery *)block;
	self->messages = (MsbReceivedMessage *)(block + MSB_DELIVERY_HEAD_SIZE);
	headers = (MsbHeader *)(self->messages + n);
	strings = (gchar *)(headers + n_headers_total);
	copy = block + size - packet_len;
	memcpy(copy, packet, packet_len);

	self->ref_count = 1;
	self->finished = FALSE;
	self->generation = generation;
	self->client = g_object_ref(client);
	self->confirmation_id = pkt->new_messages.confirmation_id;
	self->n_messages = n;
	self->topic = put_str(&strings, pkt->new_messages.topic.str, pkt->new_messages.topic.len);
	self->queue = put_str(&strings, pkt->new_messages.queue.str, pkt->new_messages.queue.len);

	for (guint i = 0; i < n; i++) {
		const MsbWireMessage *wm = &wmsgs[i];
		MsbReceivedMessage *m = &self->messages[i];

		m->id = wm->id;
		m->attempt = wm->attempt;
		m->content = rebase(copy, packet, packet_len, wm->content, wm->content_len);
		m->content_len = wm->content_len;
		m->headers = NULL;
		m->n_headers = 0;
		if (wm->n_headers > 0) {
			MsbWireStr key;
			MsbWireStr value;
			gsize pos = 0;

			m->headers = headers;
			while (m->n_headers < wm->n_headers &&
			       msb_wire_headers_next(wm->headers, wm->headers_len, &pos, &key,
			                             &value)) {
				headers->key = put_str(&strings, key.str, key.len);
				headers->value = put_str(&strings, value.str, value.len);
				headers++;
				m->n_headers++;
			}
			/* a short block cannot pass the decoder; keep the arrays aligned anyway */
			headers += wm->n_headers - m->n_headers;
		}
	}
	return self;
}

MsbDelivery *
msb_delivery_ref(MsbDelivery *delivery)
{
	g_return_val_if_fail(delivery != NULL, NULL);
	g_return_val_if_fail(delivery->ref_count > 0, NULL);
	g_atomic_int_inc(&delivery->ref_count);
	return delivery;
}

void
msb_delivery_unref(MsbDelivery *delivery)
{
	g_return_if_fail(delivery != NULL);
	g_return_if_fail(delivery->ref_count > 0);
	if (!g_atomic_int_dec_and_test(&delivery->ref_count))
		return;
	if (!delivery->finished)
		msb_delivery_fail_all(delivery);
	g_object_unref(delivery->client);
	g_free(delivery);
}

const gchar *
msb_delivery_get_topic(MsbDelivery *delivery)
{
	g_return_val_if_fail(delivery != NULL, NULL);
	return delivery->topic;
}

const gchar *
msb_delivery_get_queue(MsbDelivery *delivery)
{
	g_return_val_if_fail(delivery != NULL, NULL);
	return delivery->queue;
}

gint64
msb_delivery_get_confirmation_id(MsbDelivery *delivery)
{
	g_return_val_if_fail(delivery != NULL, 0);
	return delivery->confirmation_id;
}

guint
msb_delivery_get_n_messages(MsbDelivery *delivery)
{
	g_return_val_if_fail(delivery != NULL, 0);
	return delivery->n_messages;
}

const MsbReceivedMessage *
msb_delivery_get_message(MsbDelivery *delivery, guint index)
{
	g_return_val_if_fail(delivery != NULL, NULL);
	g_return_val_if_fail(index < delivery->n_messages, NULL);
	return &delivery->messages[index];
}

gboolean
msb_delivery_is_confirmed(MsbDelivery *delivery)
{
	g_return_val_if_fail(delivery != NULL, FALSE);
	return delivery->finished;
}

static void
msb_delivery_send_confirm(MsbDelivery *delivery, gboolean all_ok)
{
	g_autoptr(GError) error = NULL;
	MsbBuf *out = msb_client_out_begin(delivery->client, delivery->generation);

	if (out == NULL) {
		g_debug("dropping the confirmation of %s/%s #%" G_GINT64_FORMAT
		        ": the link it came on is gone",
		        delivery->topic, delivery->queue, delivery->confirmation_id);
		return;
	}
	if (!msb_wire_put_confirm(out, all_ok, delivery->topic, delivery->queue,
	                          delivery->confirmation_id, &error))
		g_warning("cannot encode the confirmation of %s/%s: %s", delivery->topic,
		          delivery->queue, error->message);
	msb_client_out_end(delivery->client);
}

void
msb_delivery_confirm_all(MsbDelivery *delivery)
{
	g_return_if_fail(delivery != NULL);
	if (delivery->finished)
		return;
	delivery->finished = TRUE;
	msb_delivery_send_confirm(delivery, TRUE);
}

void
msb_delivery_fail_all(MsbDelivery *delivery)
{
	g_return_if_fail(delivery != NULL);
	if (delivery->finished)
		return;
	delivery->finished = TRUE;
	msb_delivery_send_confirm(delivery, FALSE);
}

static int
compare_i64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;
	return (x > y) - (x < y);
}

/* Sort the ids and merge them into inclusive ranges: {43, 40, 41, 41} → (40, 41), (43, 43). */
static GArray *
ids_to_ranges(const gint64 *ids, guint n_ids)
{
	g_autofree gint64 *sorted = NULL;
	GArray *ranges = g_array_sized_new(FALSE, FALSE, sizeof(MsbWireRange), MIN(n_ids, 64));

	if (n_ids == 0)
		return ranges;
	sorted = g_memdup2(ids, (gsize)n_ids * sizeof(gint64));
	qsort(sorted, n_ids, sizeof(gint64), compare_i64);
	for (guint i = 0; i < n_ids; i++) {
		MsbWireRange *last = ranges->len > 0
		                             ? &g_array_index(ranges, MsbWireRange, ranges->len - 1)
		                             : NULL;
		if (last != NULL && (sorted[i] <= last->to_id || sorted[i] - 1 == last->to_id)) {
			last->to_id = MAX(last->to_id, sorted[i]);
		} else {
			MsbWireRange r = {sorted[i], sorted[i]};
			g_array_append_val(ranges, r);
		}
	}
	return ranges;
}

static void
msb_delivery_send_ids(MsbDelivery *delivery, gboolean intermediary, const gint64 *ids, guint n_ids)
{
	g_autoptr(GArray) ranges = NULL;
	g_autoptr(GError) error = NULL;
	MsbBuf *out = msb_client_out_begin(delivery->client, delivery->generation);

	if (out == NULL) {
		g_debug("dropping the %s confirmation of %s/%s #%" G_GINT64_FORMAT
		        ": the link it came on is gone",
		        intermediary ? "intermediary" : "partial", delivery->topic, delivery->queue,
		        delivery->confirmation_id);
		return;
	}
	ranges = ids_to_ranges(ids, n_ids);
	if (!msb_wire_put_confirm_ids(out, intermediary, delivery->topic, delivery->queue,
	                              delivery->confirmation_id, (const MsbWireRange *)ranges->data,
	                              ranges->len, &error))
		g_warning("cannot encode the confirmation of %s/%s: %s", delivery->topic,
		          delivery->queue, error->message);
	msb_client_out_end(delivery->client);
}

void
msb_delivery_confirm_some(MsbDelivery *delivery, const gint64 *ids, guint n_ids)
{
	g_return_if_fail(delivery != NULL);
	g_return_if_fail(ids != NULL || n_ids == 0);
	if (delivery->finished)
		return;
	delivery->finished = TRUE;
	msb_delivery_send_ids(delivery, FALSE, ids, n_ids);
}

void
msb_delivery_confirm_intermediary(MsbDelivery *delivery, const gint64 *ids, guint n_ids)
{
	g_return_if_fail(delivery != NULL);
	g_return_if_fail(ids != NULL || n_ids == 0);
	if (delivery->finished)
		return;
	msb_delivery_send_ids(delivery, TRUE, ids, n_ids);
}
