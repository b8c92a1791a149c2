/*
 * MsbHttpDocs: the broker's HTTP API describing itself: the OpenAPI 3 document (data/openapi.json,
 * compiled into the program as a GResource, also as YAML) at /swagger/v1/swagger.yaml and
 * /swagger/v1/swagger.json, and a browsable page at /swagger.
 */
#pragma once

#include "msb-http-router.h"

G_BEGIN_DECLS

void
msb_http_docs_register(MsbHttpRouter *router);

/* The OpenAPI document as JSON (for tests). */
GBytes *
msb_http_docs_get_openapi_json(void);

G_END_DECLS
