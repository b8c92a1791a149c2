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
/*
 * /api/Status/First, the UI's first screen: a queue with more waiting messages than this is a
 * "problematic queue" (the UI's PROBLEM_WAITING, ui/js/model.js), and at most this many of them
 * are listed, the largest first (their number is given too).
 */
#define MSB_STATUS_PROBLEM_WAITING 10000
#define MSB_STATUS_FIRST_PROBLEMS  100
/* the most topics one /api/Status/First answer shows */
#define MSB_STATUS_FIRST_MAX_TOPICS 500

/* The orders of the UI's topic list (its "Sort" box). */
typedef enum {
	MSB_STATUS_SORT_NAME,    /* by name */
	MSB_STATUS_SORT_RATE,    /* messages per second, most first */
	MSB_STATUS_SORT_WAITING, /* messages waiting in the topic's queues, most first */
	MSB_STATUS_SORT_PERSIST, /* messages waiting to be saved, most first */
} MsbStatusSort;

/* "name", "rate", "waiting" or "persist" (any case); FALSE for anything else. */
gboolean
msb_status_sort_from_string(const gchar *text, MsbStatusSort *out);

/*
 * The first screen of the UI in one small answer: the status page of node.md §6.4 with only the
 * first @max_topics topics of @namespace_name in the order @sort (ties in name order), their
 * queues and the sessions they name, each exactly as the whole page shows it, and a "summary"
 * member with what the UI otherwise adds up over every topic (counts, totals, the problematic
 * queues). At a thousand topics it is a hundredth of the whole page (docs/ui.md, "Performance").
 */
GBytes *
msb_status_render_json_first(const MsbBrokerStats *stats, const MsbHttpInfo *info,
                             const gchar *namespace_name, guint max_topics, MsbStatusSort sort);
/* A duration as the status page's "connected" and "lastIncoming" show it: under a minute as
 * Rust's Debug does ("12.3456s", "1.5ms"), else "HH:MM:SS" or "Nd:HH:MM:SS". */
gchar *
msb_status_format_duration(gint64 us);
GBytes *
msb_status_render_metrics(const MsbBrokerStats *stats, const MsbHttpInfo *info);

G_END_DECLS
