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

/*
 * The Content-Security-Policy of an HTML page of the UI (@html, @len bytes): its own files only,
 * and each inline script of the page ("<script>" with no attribute, up to "</script>") by the
 * base64 SHA-256 of its text ('sha256-…', CSP level 2), so that the page's boot script may be
 * inline (docs/ui.md, "Performance") while any other inline script stays blocked.
 */
gchar *
msb_http_ui_page_csp(const gchar *html, gsize len);

G_END_DECLS
