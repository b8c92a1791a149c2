/*
 * MsbStatsReader: shared, sliced collections of the broker's state (see msb-stats-reader.h).
 */
#define G_LOG_DOMAIN "msb-stats"

#include "msb-stats-reader.h"

#include <time.h>

/*
 * Main-loop time one slice may take; a message that arrives meanwhile waits for at most about
 * this long behind it, which is what the readers add to delivery latency.
 */
#define MSB_STATS_SLICE_US 250
/*
 * Slices run at idle priority, below socket I/O and below the flush of clients' output
 * (G_PRIORITY_HIGH_IDLE, msb-server.c): a slice runs when no message is waiting to be read or
 * written, so none waits behind it. Running them at the priority of I/O, as before, also put
 * them above the flush: every reply and delivery made during a collection waited for its end.
 * If the loop stays busy this long without a slice, a timer runs one, so that a broker that is
 * never idle still answers its readers (slowly: one slice per period).
 */
#define MSB_STATS_STARVED_US (50 * 1000)
/* Work per step between clock readings (see msb_stats_collection_step()). */
#define MSB_STATS_STEP_BUDGET 16

typedef struct {
	MsbStatsReadyFunc func;
	gpointer user_data;
	GDestroyNotify destroy;
	MsbBrokerStats *stats; /* the answer, for a request in @ready */
} MsbStatsRequest;

struct _MsbStatsReader {
	MsbBroker *broker;
	MsbStatsCollection *collection; /* running, or NULL */
	gint64 collection_started_us;
	guint64 collection_writes; /* @writes when it started */
	GArray *current;           /* MsbStatsRequest: answered by the running collection */
	GArray *next;              /* made while it runs: answered by the next one */
	GArray *ready;             /* recent requests answered by @latest, in the next idle */
	GSource *slice;       /* the idle source that runs slices, while collections are wanted */
	guint starved_id;     /* raises its priority when it has not run for MSB_STATS_STARVED_US */
	gint64 last_slice_us; /* when a slice last ended (or the source was added) */
	guint ready_id;
	guint expire_id;
	/* the newest finished collection, while recent requests may use it */
	MsbBrokerStats *latest;
	gint64 latest_started_us;
	guint64 latest_writes;
	guint64 writes; /* msb_stats_reader_note_write() calls */
	guint64 collections;
	MsbHistogram slices; /* main-loop µs of each slice, on the wall clock */
	gint64 slice_max_us;
	gint64 cpu_us; /* the main thread's CPU time in slices */
	gint64 slice_cpu_max_us;
};

static void
msb_stats_reader_stop_slices(MsbStatsReader *reader);

static void
msb_stats_request_clear(MsbStatsRequest *req)
{
	g_clear_pointer(&req->stats, msb_broker_stats_unref);
	if (req->destroy != NULL)
		req->destroy(req->user_data);
}

static GArray *
msb_stats_requests_new(void)
{
	GArray *requests = g_array_new(FALSE, FALSE, sizeof(MsbStatsRequest));

	g_array_set_clear_func(requests, (GDestroyNotify)msb_stats_request_clear);
	return requests;
}

MsbStatsReader *
msb_stats_reader_new(MsbBroker *broker)
{
	MsbStatsReader *reader;

	g_return_val_if_fail(broker != NULL, NULL);
	reader = g_new0(MsbStatsReader, 1);
	reader->broker = broker;
	reader->current = msb_stats_requests_new();
	reader->next = msb_stats_requests_new();
	reader->ready = msb_stats_requests_new();
	return reader;
}

void
msb_stats_reader_free(MsbStatsReader *reader)
{
	if (reader == NULL)
		return;
	msb_stats_reader_stop_slices(reader);
	g_clear_handle_id(&reader->ready_id, g_source_remove);
	g_clear_handle_id(&reader->expire_id, g_source_remove);
	g_clear_pointer(&reader->collection, msb_stats_collection_free);
	g_clear_pointer(&reader->latest, msb_broker_stats_unref);
	g_array_unref(reader->current);
	g_array_unref(reader->next);
	g_array_unref(reader->ready);
	g_free(reader);
}

/* Recent requests may not use a collection older than this: it goes, and its memory with it. */
static gboolean
msb_stats_reader_expire_cb(gpointer user_data)
{
	MsbStatsReader *reader = user_data;

	g_clear_pointer(&reader->latest, msb_broker_stats_unref);
	reader->expire_id = 0;
	return G_SOURCE_REMOVE;
}

static void
msb_stats_reader_finish(MsbStatsReader *reader)
{
	g_autoptr(MsbBrokerStats) stats = msb_stats_collection_finish(reader->collection);
	g_autoptr(GArray) done = reader->current;

	reader->collection = NULL;
	reader->collections++;
	g_debug("collection %" G_GUINT64_FORMAT " finished for %u requests", reader->collections,
	        done->len);
	g_clear_pointer(&reader->latest, msb_broker_stats_unref);
	g_clear_handle_id(&reader->expire_id, g_source_remove);
	if (reader->collection_writes == reader->writes) {
		reader->latest = msb_broker_stats_ref(stats);
		reader->latest_started_us = reader->collection_started_us;
		reader->latest_writes = reader->collection_writes;
		reader->expire_id = g_timeout_add(MSB_STATS_READER_RECENT_US / 1000,
		                                  msb_stats_reader_expire_cb, reader);
	}
	/* the callbacks may make new requests: those wait for the next collection */
	reader->current = reader->next;
	reader->next = msb_stats_requests_new();
	for (guint i = 0; i < done->len; i++) {
		MsbStatsRequest *req = &g_array_index(done, MsbStatsRequest, i);
		req->func(stats, req->user_data);
	}
}

/* No collection is wanted any more (or the reader goes). */
static void
msb_stats_reader_stop_slices(MsbStatsReader *reader)
{
	if (reader->slice != NULL) {
		g_source_destroy(reader->slice);
		g_clear_pointer(&reader->slice, g_source_unref);
	}
	g_clear_handle_id(&reader->starved_id, g_source_remove);
}

static gboolean
msb_stats_reader_slice_cb(gpointer user_data);

/* The loop had I/O ready for MSB_STATS_STARVED_US without a slice: this timer runs one. */
static gboolean
msb_stats_reader_starved_cb(gpointer user_data)
{
	MsbStatsReader *reader = user_data;

	if (reader->slice == NULL ||
	    g_get_monotonic_time() - reader->last_slice_us < MSB_STATS_STARVED_US)
		return G_SOURCE_CONTINUE;
	/* the last slice of the last collection removes this timer */
	msb_stats_reader_slice_cb(reader);
	return reader->starved_id != 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* The calling thread's CPU time: unlike the wall clock, it does not count a preemption. */
static gint64
msb_stats_thread_cpu_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void
msb_stats_reader_note_slice(MsbStatsReader *reader, gint64 us, gint64 cpu_us)
{
	msb_histogram_observe(&reader->slices, us);
	reader->slice_max_us = MAX(reader->slice_max_us, us);
	reader->cpu_us += MAX(cpu_us, 0);
	reader->slice_cpu_max_us = MAX(reader->slice_cpu_max_us, cpu_us);
}

static gboolean
msb_stats_reader_slice_cb(gpointer user_data)
{
	MsbStatsReader *reader = user_data;
	gint64 start = g_get_monotonic_time();
	gint64 start_cpu = msb_stats_thread_cpu_us();
	gint64 until = start + MSB_STATS_SLICE_US;
	gboolean again = TRUE;

	if (reader->collection == NULL) {
		reader->collection = msb_stats_collection_new(reader->broker);
		reader->collection_started_us = start;
		reader->collection_writes = reader->writes;
	}
	for (;;) {
		if (msb_stats_collection_step(reader->collection, MSB_STATS_STEP_BUDGET)) {
			msb_stats_reader_finish(reader);
			/* requests made meanwhile: their collection starts in the next slice */
			again = reader->current->len > 0;
			break;
		}
		if (g_get_monotonic_time() >= until)
			break;
	}
	reader->last_slice_us = g_get_monotonic_time();
	msb_stats_reader_note_slice(reader, reader->last_slice_us - start,
	                            msb_stats_thread_cpu_us() - start_cpu);
	if (again)
		return G_SOURCE_CONTINUE;
	msb_stats_reader_stop_slices(reader);
	return G_SOURCE_REMOVE;
}

static void
msb_stats_reader_add(MsbStatsReader *reader, MsbStatsRequest *req)
{
	/* a running collection may have passed what the caller just changed */
	g_array_append_vals(reader->collection != NULL ? reader->next : reader->current, req, 1);
	if (reader->slice == NULL) {
		/* below socket I/O: a slice runs when no message waits, so none waits behind it */
		reader->slice = g_idle_source_new();
		g_source_set_priority(reader->slice, G_PRIORITY_DEFAULT_IDLE);
		g_source_set_callback(reader->slice, msb_stats_reader_slice_cb, reader, NULL);
		g_source_attach(reader->slice, NULL);
		reader->last_slice_us = g_get_monotonic_time();
		reader->starved_id =
		        g_timeout_add_full(G_PRIORITY_DEFAULT, MSB_STATS_STARVED_US / 1000,
		                           msb_stats_reader_starved_cb, reader, NULL);
	}
}

void
msb_stats_reader_request(MsbStatsReader *reader, MsbStatsReadyFunc func, gpointer user_data,
                         GDestroyNotify destroy)
{
	MsbStatsRequest req = {func, user_data, destroy, NULL};

	g_return_if_fail(reader != NULL);
	g_return_if_fail(func != NULL);
	msb_stats_reader_add(reader, &req);
}

static gboolean
msb_stats_reader_ready_cb(gpointer user_data)
{
	MsbStatsReader *reader = user_data;
	g_autoptr(GArray) done = reader->ready;

	reader->ready_id = 0;
	/* the callbacks may make new requests */
	reader->ready = msb_stats_requests_new();
	for (guint i = 0; i < done->len; i++) {
		MsbStatsRequest *req = &g_array_index(done, MsbStatsRequest, i);
		req->func(req->stats, req->user_data);
	}
	return G_SOURCE_REMOVE;
}

static void
msb_stats_reader_add_recent(MsbStatsReader *reader, MsbBrokerStats *than, MsbStatsReadyFunc func,
                            gpointer user_data, GDestroyNotify destroy)
{
	MsbStatsRequest req = {func, user_data, destroy, NULL};
	gint64 since = g_get_monotonic_time() - MSB_STATS_READER_RECENT_US;

	if (reader->latest != NULL && reader->latest != than &&
	    reader->latest_writes == reader->writes && reader->latest_started_us >= since) {
		req.stats = msb_broker_stats_ref(reader->latest);
		g_array_append_val(reader->ready, req);
		if (reader->ready_id == 0)
			reader->ready_id = g_idle_add_full(G_PRIORITY_DEFAULT,
			                                   msb_stats_reader_ready_cb, reader, NULL);
		return;
	}
	/* the running collection is recent enough (and newer than any finished one, @than
	 * included): no need to wait for the next one */
	if (reader->collection != NULL && reader->collection_writes == reader->writes &&
	    reader->collection_started_us >= since) {
		g_array_append_val(reader->current, req);
		return;
	}
	msb_stats_reader_add(reader, &req);
}

void
msb_stats_reader_request_recent(MsbStatsReader *reader, MsbStatsReadyFunc func, gpointer user_data,
                                GDestroyNotify destroy)
{
	g_return_if_fail(reader != NULL);
	g_return_if_fail(func != NULL);
	msb_stats_reader_add_recent(reader, NULL, func, user_data, destroy);
}

void
msb_stats_reader_request_newer(MsbStatsReader *reader, MsbBrokerStats *than, MsbStatsReadyFunc func,
                               gpointer user_data, GDestroyNotify destroy)
{
	g_return_if_fail(reader != NULL);
	g_return_if_fail(func != NULL);
	msb_stats_reader_add_recent(reader, than, func, user_data, destroy);
}

void
msb_stats_reader_note_write(MsbStatsReader *reader)
{
	g_return_if_fail(reader != NULL);
	reader->writes++;
	g_clear_pointer(&reader->latest, msb_broker_stats_unref);
	g_clear_handle_id(&reader->expire_id, g_source_remove);
}

guint64
msb_stats_reader_get_collections(MsbStatsReader *reader)
{
	g_return_val_if_fail(reader != NULL, 0);
	return reader->collections;
}

void
msb_stats_reader_get_costs(MsbStatsReader *reader, MsbStatsReaderCosts *costs)
{
	g_return_if_fail(reader != NULL);
	g_return_if_fail(costs != NULL);
	costs->collections = reader->collections;
	costs->slices = reader->slices;
	costs->slice_max_us = reader->slice_max_us;
	costs->cpu_us = reader->cpu_us;
	costs->slice_cpu_max_us = reader->slice_cpu_max_us;
}
