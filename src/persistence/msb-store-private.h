/*
 * Internal structures of MsbStore, shared by its source files (store, read, seal, recover,
 * snapshot, io). Not installed and not for the gRPC layer.
 *
 * Threads: the writer thread appends to the write-ahead segments (it alone, and it alone sets
 * their sizes and removes them) and commits saves; the sealer thread (msb-store-seal.c) writes the
 * data and index files, sealing in the background so that saves never wait for compression.
 * Both change the in-memory index, always under store->lock; the sealer works on what it copied
 * under the lock, and only drops the records it sealed. Whoever seals holds store->seal_lock, so
 * that a deleted topic is never freed (by the writer) while it is being sealed. Readers take
 * store->lock only to copy the locations they need (with references on the files, so that a file
 * removed meanwhile stays readable), then read without the lock.
 */
#pragma once

#include "msb-log.h"
#include "msb-metrics.h"
#include "msb-store.h"
#include "msb-store-format.h"

#include <pthread.h>
#include <sys/uio.h>
#include <time.h>

G_BEGIN_DECLS

/*
 * pthread locks rather than GMutex/GCond: GLib's futex-based ones are invisible to
 * ThreadSanitizer, and the store's correctness rests on exactly these locks (scripts/run-tsan.sh
 * checks them; it makes the GLib locks of the rest of the service visible with a preloaded shim).
 */
static inline void
msb_lock(pthread_mutex_t *m)
{
	if (G_UNLIKELY(pthread_mutex_lock(m) != 0))
		g_error("pthread_mutex_lock failed");
}

static inline void
msb_unlock(pthread_mutex_t *m)
{
	if (G_UNLIKELY(pthread_mutex_unlock(m) != 0))
		g_error("pthread_mutex_unlock failed");
}

static inline void
msb_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	/* g_get_monotonic_time() is CLOCK_MONOTONIC */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
}

static inline void
msb_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (G_UNLIKELY(pthread_cond_wait(c, m) != 0))
		g_error("pthread_cond_wait failed");
}

/* FALSE when @deadline_mono (g_get_monotonic_time() units) passed. */
static inline gboolean
msb_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, gint64 deadline_mono)
{
	struct timespec ts;
	ts.tv_sec = deadline_mono / G_USEC_PER_SEC;
	ts.tv_nsec = (deadline_mono % G_USEC_PER_SEC) * 1000;
	return pthread_cond_timedwait(c, m, &ts) == 0;
}

typedef struct {
	gint fail_write_nth;
	gint fail_write_errno;
	gint fail_sync_nth;
	gint fail_sync_errno;
	/* every fsync and fdatasync, from the writer's, the sync and the sealer threads */
	MsbHistogram fsync_latency;
	gboolean no_sync; /* msb_store_open_recover_only(): nothing is flushed to disk */
} MsbStoreIo;

typedef enum {
	MSB_FILE_WAL = 'w',
	MSB_FILE_DATA = 'd',
	MSB_FILE_INDEX = 'i',
} MsbFileKind;

typedef struct {
	gint ref;
	int fd;
	gchar *path;
	guint32 no;
	MsbFileKind kind;
	guint64 size;     /* writer: end of the last complete record */
	guint live;       /* under lock: index entries that point into this file */
	gboolean broken;  /* writer: a failed write could not be rolled back; never append again */
	gboolean removed; /* writer: unlinked */
} MsbStoreFile;

/* A file's size is set by the thread that appends to it (the writer for segments, the sealer
 * for data and index files) and read by the other one for the disk-use figures: relaxed atomics
 * make that well-defined; the owner's own reads need none. */
static inline void
msb_file_set_size(MsbStoreFile *file, guint64 size)
{
	__atomic_store_n(&file->size, size, __ATOMIC_RELAXED);
}

static inline guint64
msb_file_get_size(const MsbStoreFile *file)
{
	return __atomic_load_n(&file->size, __ATOMIC_RELAXED);
}

/* One message record in a write-ahead segment. */
typedef struct {
	MsbStoreFile *file; /* NULL = empty slot */
	guint64 offset;
	guint32 length; /* whole frame */
	gint64 lsn;
} MsbRecRef;

/* One sealed block (a part of a sealed sub-page) in a data file. */
typedef struct {
	MsbStoreFile *file;
	guint64 offset;
	guint32 length; /* whole frame */
	guint32 crc;    /* frame checksum, as also stored in the frame */
	guint32 count;
	guint8 bitmap[MSB_BITMAP_BYTES];
} MsbBlockRef;

typedef struct {
	gint64 no;
	gint64 covers_lsn;  /* the sealed generation holds every record with lsn <= this; -1 none */
	GPtrArray *blocks;  /* MsbBlockRef*, disjoint ascending id ranges; NULL when never sealed */
	MsbRecRef *overlay; /* [1000] newer than the sealed generation, or NULL */
	guint n_overlay;
	guint8 present[MSB_BITMAP_BYTES]; /* union of blocks and overlay */
	guint count;
	gint64 last_write_mono;
} MsbSubPage;

typedef struct {
	gchar *name;
	gchar *dir;
	GTree *subs;           /* gint64* (&sub->no) -> MsbSubPage* */
	GHashTable *open_subs; /* MsbSubPage* with n_overlay > 0 */
	GPtrArray *wals;       /* MsbStoreFile*, ascending; the last is appended to */
	GPtrArray *datas;      /* MsbStoreFile*, ascending; the last is appended to */
	MsbStoreFile *index;
	gint64 next_lsn;
	guint32 next_wal_no;  /* writer: lowest number a new segment may take */
	guint32 next_data_no; /* writer: lowest number a new data file may take */
	gint64 count;
	guint64 disk_bytes;
	gint64 last_save_us;
	gint64 delete_after_us; /* 0 = live */
	gint64 seal_retry_mono; /* sealer: no seal attempt before this after a failure */
	gint64 applied_lsn; /* under lock: the highest lsn in the index; a seal covers up to it */
	gboolean wals_free; /* under lock: sealing freed records: the writer collects segments */
} MsbTopic;

typedef enum {
	MSB_STATE_NEW,
	MSB_STATE_RECOVERING,
	MSB_STATE_READY,
	MSB_STATE_CLOSING,
} MsbStoreState;

struct _MsbStore {
	gchar *data_path;
	gchar *topics_path;
	gchar *trash_path;
	gchar *snapshot_path;
	gchar *snapshot_tmp_path;
	int lock_fd;
	gint state; /* MsbStoreState, atomic */
	MsbStoreIo io;

	gint64 seal_idle_us;
	gint64 seal_period_us;
	guint64 wal_max;
	guint64 data_max;
	gint compress_level;

	pthread_mutex_t lock;
	GHashTable *topics; /* name -> MsbTopic* */
	MsbStoreStats stats;
	GPtrArray *cuts;     /* MsbStoreCut*, written by recovery only */
	GHashTable *damaged; /* "topic/sub-page" -> MsbStoreDamage*, under lock */

	pthread_mutex_t queue_lock;
	pthread_cond_t queue_cond; /* the writer waits for work */
	pthread_cond_t done_cond;  /* callers wait for their requests */
	GQueue queue;
	gint queued; /* atomic: requests in the queue, not yet taken by the writer */
	gboolean stopping;
	GThread *writer;
	gint64 last_maintenance_mono;
	gint wals_free; /* atomic: some topic has wals_free set */

	pthread_mutex_t seal_lock; /* held by whoever seals (see above) */
	pthread_cond_t seal_cond;  /* with queue_lock: the sealer waits for its period or stop */
	GThread *sealer;

	pthread_mutex_t snapshot_lock;
};

/* msb-store-io.c */
MsbStoreFile *
msb_store_file_new(int fd, const gchar *path, MsbFileKind kind, guint32 no, guint64 size);
MsbStoreFile *
msb_store_file_ref(MsbStoreFile *file);
void
msb_store_file_unref(MsbStoreFile *file);
gchar *
msb_store_file_name(MsbFileKind kind, guint32 no);
gboolean
msb_store_file_parse_name(const gchar *name, MsbFileKind *kind, guint32 *no);
/* Creates @path with the file header of @kind, fsyncs it and its folder. */
MsbStoreFile *
msb_store_file_create(MsbStoreIo *io, const gchar *dir, MsbFileKind kind, guint32 no,
                      GError **error);
const gchar *
msb_store_file_magic(MsbFileKind kind);

gboolean
msb_io_pwritev(MsbStoreIo *io, int fd, const gchar *path, const struct iovec *iov, guint n_iov,
               guint64 offset, GError **error);
gboolean
msb_io_pwrite(MsbStoreIo *io, int fd, const gchar *path, const void *buf, gsize len, guint64 offset,
              GError **error);
gboolean
msb_io_sync(MsbStoreIo *io, int fd, const gchar *path, GError **error);
gboolean
msb_io_sync_dir(MsbStoreIo *io, const gchar *dir, GError **error);
gboolean
msb_io_truncate(int fd, const gchar *path, guint64 size, GError **error);
/* Reads exactly @len bytes; a short read is MSB_STORE_ERROR_CORRUPT (the index points past EOF). */
gboolean
msb_io_pread(int fd, const gchar *path, void *buf, gsize len, guint64 offset, GError **error);
gboolean
msb_io_remove_tree(const gchar *path, GError **error);
void
msb_io_set_error(GError **error, int errsv, const gchar *format, ...) G_GNUC_PRINTF(3, 4);

/* msb-store.c */
/*
 * Recovery alone, for the store-recovery fuzz target: the same recovery as msb_store_open(), but
 * without the writer and sealer threads and without flushing anything to disk, so that the
 * fuzz target spends its time in recovery rather than in thread starts and fsync. The store can
 * be read and closed; msb_store_run_maintenance() runs the writer's maintenance on the calling
 * thread; every other write is a programming error. Never for a data folder that matters:
 * nothing is durable.
 */
MsbStore *
msb_store_open_recover_only(const gchar *data_path, GError **error);
gboolean
msb_store_check_ready(MsbStore *store, GError **error);
gboolean
msb_store_check_topic_name(const gchar *topic, GError **error);
/* Under lock: records that @id now lives at @ref (newest lsn wins). */
void
msb_topic_apply_record(MsbTopic *topic, gint64 id, const MsbRecRef *ref, gint64 now_mono);
MsbTopic *
msb_topic_new(const gchar *topics_path, const gchar *name);
void
msb_topic_free(MsbTopic *topic);
MsbSubPage *
msb_topic_get_sub(MsbTopic *topic, gint64 sub_no, gboolean create);
void
msb_sub_page_recount(MsbSubPage *sub);
void
msb_topic_recount(MsbTopic *topic);
void
msb_topic_update_disk_bytes(MsbTopic *topic);
/* Drops WAL segments and data files that nothing points to any more (writer, under lock). */
void
msb_topic_collect_files(MsbStore *store, MsbTopic *topic, GPtrArray *unlink_paths);
/* The same for data files only (the sealer's). */
void
msb_topic_collect_data_files(MsbStore *store, MsbTopic *topic, GPtrArray *unlink_paths);
/* The segment (MSB_FILE_WAL, the writer's) or data file (MSB_FILE_DATA, the sealer's) that
 * @topic appends to: the last one, or a new one when that is full or broken. */
MsbStoreFile *
msb_topic_tail_file(MsbStore *store, MsbTopic *topic, MsbFileKind kind, GError **error);
/* Undoes a failed append; if that fails too the file is marked broken (never appended again). */
void
msb_rollback_file(MsbStoreFile *file, guint64 size);
/* Frees an MsbBlockRef held by a sub-page (under lock: drops the file's live count). */
void
msb_block_ref_free(gpointer data);
void
msb_store_add_cut(MsbStore *store, const gchar *path, guint64 offset, guint64 bytes,
                  const gchar *reason);

/* msb-store-read.c */
typedef struct {
	gint64 id;
	MsbRecRef rec; /* holds a file reference */
} MsbPlanRec;

typedef struct {
	gint64 sub_no;
	guint lo;
	guint hi;
	GPtrArray *blocks; /* MsbBlockRef* copies holding file references */
	GArray *overlay;   /* MsbPlanRec, ascending id */
	/* after a failed run: the file and offset of the block or record that failed */
	const gchar *bad_path;
	guint64 bad_offset;
} MsbReadPlan;

/* Under store->lock: what to read for ids sub_no*1000 + [lo, hi]. */
MsbReadPlan *
msb_read_plan_new(const MsbSubPage *sub, guint lo, guint hi);
void
msb_read_plan_free(MsbReadPlan *plan);
/* Without the lock: reads and merges (the overlay wins), calling @func in id order. */
gboolean
msb_read_plan_run(MsbReadPlan *plan, MsbStoreMessageFunc func, gpointer user_data,
                  gboolean *stopped, GError **error);
/* Reads and checks the frame at @ref; returns the payload. */
GBytes *
msb_read_frame(MsbStoreFile *file, guint64 offset, guint32 length, guint16 want_type,
               GError **error);
MsbStoreMessage *
msb_read_record(const MsbRecRef *ref, gint64 want_id, gint64 *lsn, GError **error);

/* msb-store-seal.c (with store->seal_lock held) */
/* Removes the files of @paths (msb_topic_collect_*() gave them: nothing points into them). */
void
msb_store_unlink_paths(GPtrArray *paths);
/* Whether a bounded sealing pass (@deadline_mono < G_MAXINT64) should stop now. */
static inline gboolean
msb_seal_time_is_up(gint64 deadline_mono)
{
	return deadline_mono != G_MAXINT64 && g_get_monotonic_time() >= deadline_mono;
}

/*
 * Seals what the sealing rule allows (everything open with @all) until @deadline_mono (G_MAXINT64:
 * no limit); TRUE when it stopped early with sealable sub-pages left.
 */
gboolean
msb_seal_topic(MsbStore *store, MsbTopic *topic, gboolean all, gint64 deadline_mono);
/* Seals what the rule allows (everything open with @all) in every live topic, until
 * @deadline_mono; TRUE when it stopped early with work left. */
gboolean
msb_seal_pass(MsbStore *store, gboolean all, gint64 deadline_mono);

/* msb-store-recover.c */
gboolean
msb_store_recover_topics(MsbStore *store, GError **error);

/* msb-store-snapshot.c */
gboolean
msb_snapshot_save(MsbStore *store, GBytes *blob, GError **error);
GBytes *
msb_snapshot_load(MsbStore *store, GError **error);
void
msb_snapshot_cleanup(MsbStore *store);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbReadPlan, msb_read_plan_free)

G_END_DECLS
