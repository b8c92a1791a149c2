/*
 * MsbHttpLive: the UI's live push, GET /api/ws?ns=NAME (a WebSocket, no subprotocol).
 *
 * Once a second, while at least one socket is open, one collection of the broker's state
 * (MsbStatsReader, shared with the status requests) and one rendering of the /api/Status JSON per
 * namespace watched are sent to every socket of that namespace as one text frame: a hundred
 * browsers cost what one costs, apart from the sending. Clients send nothing; what they send is
 * read and dropped.
 */
#pragma once

#include <glib.h>

#include "msb-http-limits.h"
#include "msb-http-server.h"
#include "msb-http.h"
#include "msb-stats-reader.h"

G_BEGIN_DECLS

/* Adds the /api/ws handler to @server; @http renders, @reader collects (both outlive it). */
MsbHttpLive *
msb_http_live_new(MsbHttp *http, MsbStatsReader *reader, MsbHttpServer *server,
                  const MsbHttpLimits *limits);
/* Closes the sockets still open. */
void
msb_http_live_free(MsbHttpLive *live);

/* Sockets open now. */
guint
msb_http_live_get_n_sockets(MsbHttpLive *live);
/* Frames sent, and frames not sent to a socket whose client did not take the previous ones. */
guint64
msb_http_live_get_frames_sent(MsbHttpLive *live);
guint64
msb_http_live_get_frames_skipped(MsbHttpLive *live);

G_END_DECLS
