/*
 * The text of /api/status (the JSON the UI polls, node.md §6.4) and of /metrics (Prometheus,
 * node.md §7), made from a copy of the broker's state. Pure functions of their arguments (plus
 * /proc/meminfo for the status page's "system"), safe in any thread: the HTTP listener runs them
 * in a worker thread so that a large state costs the main loop nothing.
 */
#pragma once

#include <glib.h>

#include "msb-broker-stats.h"
#include "msb-http.h"

G_BEGIN_DECLS

GBytes *
msb_status_render_json(const MsbBrokerStats *stats, const MsbHttpInfo *info);
GBytes *
msb_status_render_metrics(const MsbBrokerStats *stats, const MsbHttpInfo *info);

G_END_DECLS
