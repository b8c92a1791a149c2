/*
 * The broker's objects as adapters see them: opaque handles (their structures are private to
 * src/broker, so that every read and change of broker state goes through functions the broker
 * module owns) and the public enums that come with them. Adapters include msb-broker.h, which
 * includes this; only src/broker and the broker's own unit tests include the private headers
 * (msb-topic.h, msb-queue.h, msb-session.h, msb-sub-page.h, msb-broker-private.h), which
 * tests/check-broker-headers.sh enforces.
 */
#pragma once

#include <glib.h>

#include "msb-wire.h" /* MsbQueueType */

G_BEGIN_DECLS

typedef struct _MsbBroker MsbBroker;
typedef struct _MsbTopic MsbTopic;
typedef struct _MsbQueue MsbQueue;
typedef struct _MsbSession MsbSession;

/* how the client is connected (status "type", metrics by kind) */
typedef enum {
	MSB_SESSION_KIND_TCP,
	MSB_SESSION_KIND_UNIX,
	MSB_SESSION_KIND_HTTP,
} MsbSessionKind;

static inline gboolean
msb_queue_type_is_auto_delete(MsbQueueType type)
{
	return (type & MSB_QUEUE_TYPE_DELETE_ON_DISCONNECT) != 0;
}

static inline gboolean
msb_queue_type_is_single_connection(MsbQueueType type)
{
	return (type & MSB_QUEUE_TYPE_PERMANENT_SINGLE_CONNECTION) != 0;
}

G_END_DECLS
