/*
 * MsbStatsReader: shared, sliced collections of the broker's state (see msb-stats-reader.h).
 */
#define G_LOG_DOMAIN "msb-stats"

#include "msb-stats-reader.h"

/* Main-loop time one slice may take; a Ping waits for at most about this long behind it. */
#define MSB_STATS_SLICE_US 1000
/* Work per step between clock readings (see msb_stats_collection_step()). */
#define MSB_STATS_STEP_BUDGET 64

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
	guint slice_id;
	guint ready_id;
	guint expire_id;
	/* the newest finished collection, while recent requests may use it */
	MsbBrokerStats *latest;
	gint64 latest_started_us;
	guint64 latest_writes;
	guint64 writes; /* msb_stats_reader_note_write() calls */
	guint64 collections;
};

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
	g_clear_handle_id(&reader->slice_id, g_source_remove);
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

static gboolean
msb_stats_reader_slice_cb(gpointer user_data)
{
	MsbStatsReader *reader = user_data;
	gint64 until = g_get_monotonic_time() + MSB_STATS_SLICE_US;

	if (reader->collection == NULL) {
		reader->collection = msb_stats_collection_new(reader->broker);
		reader->collection_started_us = g_get_monotonic_time();
		reader->collection_writes = reader->writes;
	}
	while (!msb_stats_collection_step(reader->collection, MSB_STATS_STEP_BUDGET)) {
		if (g_get_monotonic_time() >= until)
			return G_SOURCE_CONTINUE;
	}
	msb_stats_reader_finish(reader);
	if (reader->current->len > 0)
		return G_SOURCE_CONTINUE; /* the next collection starts in the next slice */
	reader->slice_id = 0;
	return G_SOURCE_REMOVE;
}

static void
msb_stats_reader_add(MsbStatsReader *reader, MsbStatsRequest *req)
{
	/* a running collection may have passed what the caller just changed */
	g_array_append_vals(reader->collection != NULL ? reader->next : reader->current, req, 1);
	if (reader->slice_id == 0) {
		/* the same priority as socket I/O: served in turn with it, never starved by it */
		reader->slice_id = g_idle_add_full(G_PRIORITY_DEFAULT, msb_stats_reader_slice_cb,
		                                   reader, NULL);
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

void
msb_stats_reader_request_recent(MsbStatsReader *reader, MsbStatsReadyFunc func, gpointer user_data,
                                GDestroyNotify destroy)
{
	MsbStatsRequest req = {func, user_data, destroy, NULL};
	gint64 since;

	g_return_if_fail(reader != NULL);
	g_return_if_fail(func != NULL);
	since = g_get_monotonic_time() - MSB_STATS_READER_RECENT_US;
	if (reader->latest != NULL && reader->latest_writes == reader->writes &&
	    reader->latest_started_us >= since) {
		req.stats = msb_broker_stats_ref(reader->latest);
		g_array_append_val(reader->ready, req);
		if (reader->ready_id == 0)
			reader->ready_id = g_idle_add_full(G_PRIORITY_DEFAULT,
			                                   msb_stats_reader_ready_cb, reader, NULL);
		return;
	}
	/* the running collection is recent enough: no need to wait for the next one */
	if (reader->collection != NULL && reader->collection_writes == reader->writes &&
	    reader->collection_started_us >= since) {
		g_array_append_val(reader->current, req);
		return;
	}
	msb_stats_reader_add(reader, &req);
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
