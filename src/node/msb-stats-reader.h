/*
 * MsbStatsReader: reads the broker's whole state for the HTTP status page and metrics (and any
 * later reader, such as D-Bus) without stalling message service.
 *
 * A read is an MsbStatsCollection run in slices of about a millisecond on the main loop, between
 * client I/O, at the same priority as it so that a busy broker cannot starve it. Readers share
 * collections: a request is answered by the first collection that starts after it was made, so
 * it shows everything that happened before it (a client that did something and then asks sees
 * it), and any number of requests made while one collection runs are all answered by the next
 * one: at most one collection runs at a time, however many clients poll.
 */
#pragma once

#include <glib.h>

#include "msb-broker-stats.h"

G_BEGIN_DECLS

typedef struct _MsbStatsReader MsbStatsReader;

/* @stats is borrowed: take a reference to keep it. */
typedef void (*MsbStatsReadyFunc)(MsbBrokerStats *stats, gpointer user_data);

MsbStatsReader *
msb_stats_reader_new(MsbBroker *broker);
/* Requests still waiting are dropped: their @destroy is called, their @func is not. */
void
msb_stats_reader_free(MsbStatsReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbStatsReader, msb_stats_reader_free)

/* Call @func on the main loop with a copy of the state made after this call; then @destroy. */
void
msb_stats_reader_request(MsbStatsReader *reader, MsbStatsReadyFunc func, gpointer user_data,
                         GDestroyNotify destroy);

/* Collections finished so far (for tests and logs). */
guint64
msb_stats_reader_get_collections(MsbStatsReader *reader);

G_END_DECLS
