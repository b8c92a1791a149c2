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
} MsbStatsRequest;

struct _MsbStatsReader {
	MsbBroker *broker;
	MsbStatsCollection *collection; /* running, or NULL */
	GArray *current;                /* MsbStatsRequest: answered by the running collection */
	GArray *next;                   /* made while it runs: answered by the next one */
	guint slice_id;
	guint64 collections;
};

static void
msb_stats_request_clear(MsbStatsRequest *req)
{
	if (req->destroy != NULL)
		req->destroy(req->user_data);
}

MsbStatsReader *
msb_stats_reader_new(MsbBroker *broker)
{
	MsbStatsReader *reader;

	g_return_val_if_fail(broker != NULL, NULL);
	reader = g_new0(MsbStatsReader, 1);
	reader->broker = broker;
	reader->current = g_array_new(FALSE, FALSE, sizeof(MsbStatsRequest));
	reader->next = g_array_new(FALSE, FALSE, sizeof(MsbStatsRequest));
	g_array_set_clear_func(reader->current, (GDestroyNotify)msb_stats_request_clear);
	g_array_set_clear_func(reader->next, (GDestroyNotify)msb_stats_request_clear);
	return reader;
}

void
msb_stats_reader_free(MsbStatsReader *reader)
{
	if (reader == NULL)
		return;
	g_clear_handle_id(&reader->slice_id, g_source_remove);
	g_clear_pointer(&reader->collection, msb_stats_collection_free);
	g_array_unref(reader->current);
	g_array_unref(reader->next);
	g_free(reader);
}

static void
msb_stats_reader_finish(MsbStatsReader *reader)
{
	g_autoptr(MsbBrokerStats) stats = msb_stats_collection_finish(reader->collection);
	g_autoptr(GArray) done = reader->current;

	reader->collection = NULL;
	reader->collections++;
	/* the callbacks may make new requests: those wait for the next collection */
	reader->current = reader->next;
	reader->next = g_array_new(FALSE, FALSE, sizeof(MsbStatsRequest));
	g_array_set_clear_func(reader->next, (GDestroyNotify)msb_stats_request_clear);
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

	if (reader->collection == NULL)
		reader->collection = msb_stats_collection_new(reader->broker);
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

void
msb_stats_reader_request(MsbStatsReader *reader, MsbStatsReadyFunc func, gpointer user_data,
                         GDestroyNotify destroy)
{
	MsbStatsRequest req = {func, user_data, destroy};

	g_return_if_fail(reader != NULL);
	g_return_if_fail(func != NULL);
	/* a running collection may have passed what the caller just changed */
	g_array_append_val(reader->collection != NULL ? reader->next : reader->current, req);
	if (reader->slice_id == 0) {
		/* the same priority as socket I/O: served in turn with it, never starved by it */
		reader->slice_id = g_idle_add_full(G_PRIORITY_DEFAULT, msb_stats_reader_slice_cb,
		                                   reader, NULL);
	}
}

guint64
msb_stats_reader_get_collections(MsbStatsReader *reader)
{
	g_return_val_if_fail(reader != NULL, 0);
	return reader->collections;
}
