/*
 * MsbStatsReader: reads the broker's whole state for the HTTP status page and metrics (and any
 * later reader, such as D-Bus) without stalling message service.
 *
 * A read is an MsbStatsCollection run in slices of about 250 µs on the main loop, at idle
 * priority: a slice runs when no client I/O is ready and no output waits to be flushed, so a
 * message seldom waits behind one; when the loop has been busy for 50 ms without a slice, a
 * timer runs one, so that a broker that is never idle still answers its readers. Readers share
 * collections: a request is answered by the first collection that starts after it was made, so
 * it shows everything that happened before it (a client that did something and then asks sees
 * it), and any number of requests made while one collection runs are all answered by the next
 * one: at most one collection runs at a time, however many clients poll.
 *
 * Pollers do not need that much: a request made with msb_stats_reader_request_recent() is
 * answered by the newest collection that started at most MSB_STATS_READER_RECENT_US before it
 * (finished, or still running), so any number of pollers cost about one collection a second
 * instead of one each. The UI's live push asks with msb_stats_reader_request_newer() for a
 * recent one other than the one it pushed last, so it takes the pollers' collection when there
 * is one, and the pollers take its: together about one a second. Writes made over HTTP are
 * noted (msb_stats_reader_note_write()): no collection that started before one answers a
 * later request, recent or not, so a client still reads what it just changed there.
 */
#pragma once

#include <glib.h>

#include "msb-broker-stats.h"
#include "msb-metrics.h"

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

/* How old the state answering a recent request may be (when its collection started). */
#define MSB_STATS_READER_RECENT_US (1 * G_USEC_PER_SEC)

/*
 * Like msb_stats_reader_request(), but the state may be up to MSB_STATS_READER_RECENT_US old (and
 * no older than the last noted write). @func is still called from the main loop, never before
 * this returns.
 */
void
msb_stats_reader_request_recent(MsbStatsReader *reader, MsbStatsReadyFunc func, gpointer user_data,
                                GDestroyNotify destroy);

/*
 * Like msb_stats_reader_request_recent(), but never answered by @than (a collection the caller
 * had already; may be NULL): a periodic reader (the UI's live push) takes a poller's collection
 * when there is a recent one, instead of asking for one of its own every period.
 */
void
msb_stats_reader_request_newer(MsbStatsReader *reader, MsbBrokerStats *than, MsbStatsReadyFunc func,
                               gpointer user_data, GDestroyNotify destroy);

/* The state changed in a way a client will want to read back: collections started before now
 * answer no later request. */
void
msb_stats_reader_note_write(MsbStatsReader *reader);

/* Collections finished so far (for tests and logs). */
guint64
msb_stats_reader_get_collections(MsbStatsReader *reader);

/*
 * What the collections cost the main loop so far: each slice's duration on the wall clock (its
 * callbacks included; what a message that came meanwhile waited at most), the longest, and the
 * main thread's CPU time in them (which, unlike the wall clock, a preemption does not inflate).
 */
typedef struct {
	guint64 collections;
	MsbHistogram slices;
	gint64 slice_max_us;
	gint64 cpu_us;
	gint64 slice_cpu_max_us;
} MsbStatsReaderCosts;

void
msb_stats_reader_get_costs(MsbStatsReader *reader, MsbStatsReaderCosts *costs);

G_END_DECLS
