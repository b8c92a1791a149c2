/*
 * msb-store-bench: measures group commit. N threads each save batches of messages into a fresh
 * store (one topic each, or all into one with --same-topic) and the program reports saves and
 * messages per fsync and per second. Not installed; run it on the disk you care about:
 *
 *   msb-store-bench [--threads 16] [--saves 200] [--batch 1] [--size 256] [--same-topic] DIR
 */
#define G_LOG_DOMAIN "msb-persistence-store-bench"

#include "msb-store.h"

#include <stdlib.h>

static gint opt_threads = 16;
static gint opt_saves = 200;
static gint opt_batch = 1;
static gint opt_size = 256;
static gboolean opt_same_topic = FALSE;

typedef struct {
	MsbStore *store;
	guint index;
	gint64 next_id;
} BenchThread;

static gpointer
bench_thread(gpointer data)
{
	BenchThread *t = data;
	g_autofree gchar *topic =
	        opt_same_topic ? g_strdup("bench-topic") : g_strdup_printf("bench-%02u", t->index);
	g_autofree guint8 *payload = g_malloc0((gsize)opt_size);
	g_autoptr(GBytes) content = g_bytes_new(payload, (gsize)opt_size);

	for (gint i = 0; i < opt_saves; i++) {
		g_autoptr(GPtrArray) msgs =
		        g_ptr_array_new_with_free_func((GDestroyNotify)msb_store_message_free);
		g_autoptr(GError) error = NULL;
		for (gint j = 0; j < opt_batch; j++) {
			gint64 id = opt_same_topic ? (gint64)t->index * 100000000 + t->next_id++
			                           : t->next_id++;
			g_ptr_array_add(msgs,
			                msb_store_message_new(id, g_get_real_time(), content));
		}
		if (!msb_store_save_messages(t->store, topic,
		                             (const MsbStoreMessage *const *)msgs->pdata, msgs->len,
		                             &error))
			g_error("save failed: %s", error->message);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new("DIR");
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbStore) store = NULL;
	g_autofree BenchThread *threads = NULL;
	g_autofree GThread **handles = NULL;
	MsbStoreStats st;
	gint64 t0;
	gdouble secs;
	GOptionEntry entries[] = {
	        {"threads", 't', 0, G_OPTION_ARG_INT, &opt_threads, "Concurrent savers", "N"},
	        {"saves", 'n', 0, G_OPTION_ARG_INT, &opt_saves, "Saves per thread", "N"},
	        {"batch", 'b', 0, G_OPTION_ARG_INT, &opt_batch, "Messages per save", "N"},
	        {"size", 's', 0, G_OPTION_ARG_INT, &opt_size, "Message content bytes", "BYTES"},
	        {"same-topic", 0, 0, G_OPTION_ARG_NONE, &opt_same_topic, "All threads, one topic",
	         NULL},
	        {NULL}};

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 || opt_threads < 1 ||
	    opt_saves < 1 || opt_batch < 1 || opt_size < 0) {
		g_printerr("usage: msb-store-bench [OPTION…] DIR (a new or empty folder)\n");
		return EXIT_FAILURE;
	}
	store = msb_store_open(argv[1], &error);
	if (store == NULL) {
		g_printerr("%s\n", error->message);
		return EXIT_FAILURE;
	}
	threads = g_new0(BenchThread, opt_threads);
	handles = g_new0(GThread *, opt_threads);
	t0 = g_get_monotonic_time();
	for (gint i = 0; i < opt_threads; i++) {
		threads[i].store = store;
		threads[i].index = (guint)i;
		handles[i] = g_thread_new("saver", bench_thread, &threads[i]);
	}
	for (gint i = 0; i < opt_threads; i++)
		g_thread_join(handles[i]);
	secs = (gdouble)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
	msb_store_get_stats(store, &st);
	g_print("threads=%d saves=%" G_GUINT64_FORMAT " messages=%" G_GUINT64_FORMAT
	        " commits=%" G_GUINT64_FORMAT " fsyncs=%" G_GUINT64_FORMAT "\n",
	        opt_threads, st.saves, st.messages_saved, st.commits, st.commit_fsyncs);
	g_print("saves/fsync=%.1f messages/fsync=%.1f saves/s=%.0f messages/s=%.0f "
	        "elapsed=%.2fs\n",
	        (gdouble)st.saves / MAX(st.commit_fsyncs, 1),
	        (gdouble)st.messages_saved / MAX(st.commit_fsyncs, 1), st.saves / secs,
	        st.messages_saved / secs, secs);
	return EXIT_SUCCESS;
}
