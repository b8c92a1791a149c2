/*
 * What msb-client.c (the connection) and msb-delivery.c (received batches and their
 * confirmations) share inside libmsb-client. Nothing here is exported.
 */
#pragma once

#include "msb-client.h"
#include "msb-wire.h"

G_BEGIN_DECLS

/* The generation changes on every disconnect; a delivery remembers the one it arrived on. */
guint
msb_client_get_generation(MsbClient *self);

/*
 * The output buffer to append one packet to, or NULL when the client is not connected or the
 * link of @generation is gone. Pair with msb_client_out_end(), which schedules the flush.
 */
MsbBuf *
msb_client_out_begin(MsbClient *self, guint generation);
void
msb_client_out_end(MsbClient *self);

/* msb-delivery.c: a delivery owning a copy of @packet (the whole NewMessages packet, @packet_len
 * bytes, as decoded into @pkt); its views are rebased onto the copy. */
MsbDelivery *
msb_delivery_new(MsbClient *client, guint generation, const guint8 *packet, gsize packet_len,
                 const MsbPacket *pkt);

G_END_DECLS
