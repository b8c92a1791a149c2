/*
 * MsbHttpSessions: publisher and subscriber sessions over HTTP (node.md §2.6, §6.2, §6.3):
 * Greeting, Ping, Publish, Subscribe, Await (long poll) and Confirm, authenticated by the session
 * key of the Authorization header, expiring after HttpSessionTimeout without a call.
 *
 * An HTTP session is an MsbSession of kind MSB_SESSION_KIND_HTTP, so the broker applies the same
 * rules to it as to a TCP client; see the top of msb-http-session.c for how.
 */
#pragma once

#include "msb-broker.h"
#include "msb-http-router.h"

G_BEGIN_DECLS

/* node.md §2.6 and §6.3: a session without a call for 60 s ends; an Await waits up to ~5 s */
#define MSB_HTTP_SESSION_DEFAULT_TIMEOUT_US       (60 * G_USEC_PER_SEC)
#define MSB_HTTP_SESSION_DEFAULT_AWAIT_TIMEOUT_US (5 * G_USEC_PER_SEC)
/* HttpMaxSessions's default (MSB_DEFAULT_HTTP_MAX_SESSIONS) */
#define MSB_HTTP_SESSION_DEFAULT_MAX 10000

typedef struct _MsbHttpSessions MsbHttpSessions;

/* Adds the session routes to @router. */
MsbHttpSessions *
msb_http_sessions_new(MsbHttpRouter *router, MsbBroker *broker);
/* Ends every HTTP session (their in-flight messages go back to their queues). */
void
msb_http_sessions_free(MsbHttpSessions *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbHttpSessions, msb_http_sessions_free)

/* HttpSessionTimeout and HttpAwaitTimeout; they apply from the next check on. */
void
msb_http_sessions_set_timeouts(MsbHttpSessions *self, gint64 session_timeout_us,
                               gint64 await_timeout_us);

/* HttpMaxSessions: a Greeting beyond @max open sessions is answered 503; those open stay. */
void
msb_http_sessions_set_max(MsbHttpSessions *self, guint max);

/* The broker's output_ready and disconnect callbacks for a session of kind HTTP. */
void
msb_http_session_output_ready(MsbSession *session);
void
msb_http_session_disconnect(MsbSession *session, const gchar *reason);

G_END_DECLS
