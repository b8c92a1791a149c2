/*
 * MsbHttpMessages: the message browser's API, GET /api/Messages?topicId=T&fromId=N&limit=M.
 *
 * Messages in memory come from the broker's read (msb_broker_read_messages()); with a persistence
 * service, those memory no longer holds (collected, or not loaded since a restart) come from it
 * (GetPage), asynchronously: the request is paused meanwhile, the main loop never waits.
 */
#pragma once

#include "msb-broker-stats.h"
#include "msb-http-router.h"
#include "msb-persistence-client.h"

G_BEGIN_DECLS

typedef struct _MsbHttpMessages MsbHttpMessages;

/* Adds the route to @router; @broker outlives the result. */
MsbHttpMessages *
msb_http_messages_new(MsbHttpRouter *router, MsbBroker *broker);
/* Requests still waiting for persistence are dropped (their connections see no answer). */
void
msb_http_messages_free(MsbHttpMessages *self);
/* NULL: in memory only. */
void
msb_http_messages_set_persistence(MsbHttpMessages *self, MsbPersistenceClient *client);

G_END_DECLS
