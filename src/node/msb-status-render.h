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

/*
 * The latency histories of all subscribers on one page hold at most about this many values: up
 * to 1,000 subscribers each shows its whole two minutes, with more each shows its most recent
 * seconds (12 s at 10,000), so that the page the UI fetches every second stays a few megabytes
 * (node.md §6.4 says "up to 120").
 */
#define MSB_STATUS_SUBSCRIBER_HISTORY_BUDGET 120000

/* Topics of @namespace_name only (node.md §6.4), sessions of every namespace. */
GBytes *
msb_status_render_json(const MsbBrokerStats *stats, const MsbHttpInfo *info,
                       const gchar *namespace_name);
/* A duration as the status page's "connected" and "lastIncoming" show it: under a minute as
 * Rust's Debug does ("12.3456s", "1.5ms"), else "HH:MM:SS" or "Nd:HH:MM:SS". */
gchar *
msb_status_format_duration(gint64 us);
GBytes *
msb_status_render_metrics(const MsbBrokerStats *stats, const MsbHttpInfo *info);

G_END_DECLS
