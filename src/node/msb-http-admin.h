/*
 * MsbHttpAdmin: the REST API's administrative and debug routes (node.md §6.2): namespaces,
 * topics (create, list, delete, restore, persist), queues (list, delete, SetMessageId,
 * SetMaxMessagePerPayload), kicking a session, and the debug endpoints. A thin adapter: every rule
 * is in msb-broker-admin.h; this file parses the request and maps the GError to a status code.
 */
#pragma once

#include "msb-broker-stats.h"
#include "msb-http-router.h"
#include "msb-stats-reader.h"

G_BEGIN_DECLS

typedef struct _MsbHttpAdmin MsbHttpAdmin;

/* Adds the routes to @router; @broker and @reader must outlive the returned object, which must
 * outlive the router's requests. */
MsbHttpAdmin *
msb_http_admin_new(MsbHttpRouter *router, MsbBroker *broker, MsbStatsReader *reader);
void
msb_http_admin_free(MsbHttpAdmin *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbHttpAdmin, msb_http_admin_free)

G_END_DECLS
