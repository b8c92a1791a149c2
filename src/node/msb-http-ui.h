/*
 * The web UI (ui/ in the source tree, compiled into the program as a GResource) on the broker's
 * HTTP port: GET / and /index.html, every file of the UI by its path, and index.html for any
 * other GET outside /api/ (the single-page app's fallback, node.md §6.1).
 */
#pragma once

#include "msb-http-router.h"

G_BEGIN_DECLS

/* Add the UI's routes and the fallback to @router. */
void
msb_http_ui_register(MsbHttpRouter *router);

G_END_DECLS
