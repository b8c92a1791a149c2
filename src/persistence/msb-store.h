/*
 * MsbStore: the durable message store of my-service-bus-persistence.
 *
 * A library with no network code: the gRPC layer decodes requests and calls these functions from
 * its worker threads. Every call is thread-safe. Saves are durable when they return (one fdatasync
 * is shared by all saves that arrive while the previous one runs: group commit). Reads see every
 * message on disk, whether or not the topic was written since start. The on-disk format is
 * described in docs/storage-format.md.
 */
#pragma once

#include <gio/gio.h>

#include "msb-metrics.h"

G_BEGIN_DECLS

#define MSB_STORE_ERROR (msb_store_error_quark())
GQuark
msb_store_error_quark(void);

/* I/O failures (ENOSPC, EIO, EACCES…) are reported in the G_IO_ERROR domain instead. */
typedef enum {
	MSB_STORE_ERROR_INVALID_ARGUMENT, /* bad topic name, negative id, oversized message… */
	MSB_STORE_ERROR_NOT_READY,        /* recovery has not finished (answer UNAVAILABLE) */
	MSB_STORE_ERROR_CLOSED,           /* msb_store_close() has begun */
	MSB_STORE_ERROR_NOT_FOUND,        /* no such topic (or it has already been removed) */
	MSB_STORE_ERROR_TOPIC_DELETED,    /* the topic is soft-deleted: restore it first */
	MSB_STORE_ERROR_CORRUPT,          /* stored bytes fail their checksum; never served */
	MSB_STORE_ERROR_BUSY,             /* the data folder is locked by another process */
} MsbStoreError;

/* Largest message content accepted by a save. */
#define MSB_STORE_MAX_CONTENT (64u * 1024u * 1024u)
/* Limits on the headers of one message (count and key+value bytes). */
#define MSB_STORE_MAX_HEADERS      4096u
#define MSB_STORE_MAX_HEADER_BYTES (1024u * 1024u)

#define MSB_STORE_SUB_PAGE_SIZE 1000

/* The last id sub-page @sub_no can hold: the last sub-page ends at G_MAXINT64, 192 ids short of a
 * whole one, and its end must not be computed past it. */
static inline gint64
msb_store_sub_page_last_id(gint64 sub_no)
{
	gint64 base = sub_no * MSB_STORE_SUB_PAGE_SIZE;

	return G_MAXINT64 - base < MSB_STORE_SUB_PAGE_SIZE - 1 ? G_MAXINT64
	                                                       : base + MSB_STORE_SUB_PAGE_SIZE - 1;
}
#define MSB_STORE_PAGE_SIZE 100000

typedef struct {
	gchar *key;   /* UTF-8 */
	gchar *value; /* UTF-8 */
} MsbStoreHeader;

typedef struct {
	gint64 id;          /* >= 0 */
	gint64 created;     /* microseconds since the Unix epoch */
	GBytes *content;    /* never NULL in messages returned by the store; NULL = empty on save */
	GPtrArray *headers; /* of MsbStoreHeader*, in order; NULL or empty = none */
} MsbStoreMessage;

MsbStoreMessage *
msb_store_message_new(gint64 id, gint64 created, GBytes *content);
void
msb_store_message_add_header(MsbStoreMessage *msg, const gchar *key, const gchar *value);
void
msb_store_message_free(MsbStoreMessage *msg);
/* TRUE when id, created, content and headers (in order) are all the same. */
gboolean
msb_store_message_equal(const MsbStoreMessage *a, const MsbStoreMessage *b);

typedef struct {
	gchar *name;
	gint64 min_id; /* -1 when the topic holds no message */
	gint64 max_id; /* -1 when the topic holds no message */
	gint64 count;  /* distinct ids stored */
	guint64 disk_bytes;
	gint64 last_save_us; /* wall clock of the last save; after a restart the newest file mtime
	                      */
	gint64 delete_after_us; /* 0 = live; otherwise soft-deleted, removed at this moment */
	guint sealed_sub_pages;
	guint open_sub_pages; /* sub-pages with data still in the write-ahead log */
} MsbStoreTopicInfo;

void
msb_store_topic_info_free(MsbStoreTopicInfo *info);

/* What recovery cut off or skipped (also logged). */
typedef struct {
	gchar *path;
	guint64 offset;
	guint64 bytes;
	gchar *reason;
} MsbStoreCut;

/* A sub-page whose stored bytes failed their checks when read (also logged). */
typedef struct {
	gchar *topic;
	gint64 sub_page;
	gchar *path;     /* the data file or segment holding the damaged block or record */
	guint64 offset;  /* of that block or record in @path */
	gchar *reason;   /* the error the read failed with */
	gint64 first_us; /* wall clock of the first failed read */
	gint64 last_us;  /* and of the latest */
	guint64 failed_reads;
} MsbStoreDamage;

void
msb_store_damage_free(MsbStoreDamage *damage);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbStoreDamage, msb_store_damage_free)

typedef struct {
	guint64 saves;          /* successful save requests (one per topic per call) */
	guint64 messages_saved; /* messages in them */
	guint64 commits;        /* group commits that made at least one save durable */
	guint64 commit_fsyncs;  /* fdatasync calls spent on those commits */
	guint64 seals;          /* sub-pages compressed into sealed blocks */
	guint64 seal_fsyncs;
	guint64 write_errors; /* failed writes/fsyncs reported to a caller */
	guint64 files_removed;
	gint64 recovery_us; /* how long msb_store_recover() took */
} MsbStoreStats;

typedef struct _MsbStore MsbStore;

/* Creates the store object; touches nothing on disk. Set options, then msb_store_recover(). */
MsbStore *
msb_store_new(const gchar *data_path);

/*
 * Options (call before msb_store_recover()).
 * seal_idle_us: a sub-page that is not full is sealed once a later sub-page of its topic holds
 * data and nothing was saved into it for this long (default 10 s).
 */
void
msb_store_set_seal_idle(MsbStore *store, gint64 seal_idle_us);
/* How often the sealer thread looks for sub-pages to seal when it has nothing left to do
 * (default 500 ms). */
void
msb_store_set_seal_period(MsbStore *store, gint64 period_us);
/* Size at which a write-ahead segment / sealed data file is closed and a new one started. */
void
msb_store_set_segment_limits(MsbStore *store, guint64 wal_bytes, guint64 data_bytes);

/*
 * Opens (creating if needed) the data folder, takes its lock and recovers: cuts torn tails,
 * rebuilds the in-memory index, starts the writer thread. Blocking; may run in any thread. Until
 * it returns TRUE, every other call fails with MSB_STORE_ERROR_NOT_READY.
 */
gboolean
msb_store_recover(MsbStore *store, GError **error);
void
msb_store_recover_async(MsbStore *store, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data);
gboolean
msb_store_recover_finish(MsbStore *store, GAsyncResult *result, GError **error);
gboolean
msb_store_is_ready(MsbStore *store);

/* msb_store_new() + msb_store_recover(); NULL on error. */
MsbStore *
msb_store_open(const gchar *data_path, GError **error);

/*
 * Graceful stop: finishes queued requests (each is made durable or fails), stops the writer
 * thread, closes files and frees the store. Must not race with msb_store_recover().
 */
void
msb_store_close(MsbStore *store);

/* [a-z0-9-], 3 to 63 characters. */
gboolean
msb_store_topic_name_is_valid(const gchar *topic);

/*
 * Saves @n_msgs messages to @topic (creating it). Returns once they are on disk. Re-saving an id
 * replaces the stored copy (the newest save wins). On error nothing of this call is acknowledged;
 * retrying the same messages is safe.
 */
gboolean
msb_store_save_messages(MsbStore *store, const gchar *topic, const MsbStoreMessage *const *msgs,
                        guint n_msgs, GError **error);

typedef struct {
	const gchar *topic;
	const MsbStoreMessage *const *msgs;
	guint n_msgs;
} MsbStoreSaveItem;

/* Several topics in one group commit. FALSE when any item failed (the others are durable). */
gboolean
msb_store_save_batch(MsbStore *store, const MsbStoreSaveItem *items, guint n_items, GError **error);

/*
 * Calls @func for each stored message with from_id <= id <= to_id, ascending. Memory use is
 * bounded by one sealed block, whatever the range. @func owns @msg (free it or keep it) and
 * returns FALSE to stop early.
 * An unknown or soft-deleted topic has no messages (TRUE, no call).
 */
typedef gboolean (*MsbStoreMessageFunc)(MsbStoreMessage *msg, gpointer user_data);
gboolean
msb_store_read_range_foreach(MsbStore *store, const gchar *topic, gint64 from_id, gint64 to_id,
                             MsbStoreMessageFunc func, gpointer user_data, GError **error);
/* The same, collected: GPtrArray of MsbStoreMessage* (owning), ascending, only existing ids. */
GPtrArray *
msb_store_read_range(MsbStore *store, const gchar *topic, gint64 from_id, gint64 to_id,
                     GError **error);
/* NULL without error when the message does not exist. */
MsbStoreMessage *
msb_store_read_message(MsbStore *store, const gchar *topic, gint64 id, GError **error);

/*
 * Soft delete: the topic disappears from reads and refuses saves; its files are removed at
 * @delete_after_us (wall clock, µs since the Unix epoch; a past moment removes them at the next
 * maintenance pass, within a second).
 */
gboolean
msb_store_delete_topic(MsbStore *store, const gchar *topic, gint64 delete_after_us, GError **error);
/*
 * Undoes a soft delete that has not reached its moment. Sets @next_message_id to max stored id + 1
 * (0 when empty). Also succeeds for a live topic. NOT_FOUND when the topic is unknown or gone.
 */
gboolean
msb_store_restore_topic(MsbStore *store, const gchar *topic, gint64 *next_message_id,
                        GError **error);

/* GPtrArray of MsbStoreTopicInfo*, sorted by name, soft-deleted topics included. */
GPtrArray *
msb_store_list_topics(MsbStore *store, GError **error);

/* Queue snapshot: one opaque blob, replaced atomically. */
gboolean
msb_store_save_snapshot(MsbStore *store, GBytes *snapshot, GError **error);
/* NULL without error when no snapshot was ever saved. */
GBytes *
msb_store_load_snapshot(MsbStore *store, GError **error);

void
msb_store_get_stats(MsbStore *store, MsbStoreStats *stats);
/* A copy of the latency histogram of every fsync and fdatasync the store made (thread-safe). */
void
msb_store_get_fsync_latency(MsbStore *store, MsbHistogram *histogram);
/* GPtrArray of MsbStoreCut* describing what the last recovery cut off. */
GPtrArray *
msb_store_get_recovery_cuts(MsbStore *store);

/*
 * GPtrArray of MsbStoreDamage*, by topic and sub-page: the sub-pages whose last read failed with
 * MSB_STORE_ERROR_CORRUPT. An entry goes when a later read of its sub-page succeeds (it was
 * saved and sealed again) or its topic is removed.
 */
GPtrArray *
msb_store_list_damaged(MsbStore *store);

/*
 * Runs one maintenance pass now in the writer thread and waits for it: removes topics past their
 * delete moment and seals sealable sub-pages; with @seal_all also every open sub-page (even a
 * partly filled newest one). Normally this runs on its own twice a second.
 */
gboolean
msb_store_run_maintenance(MsbStore *store, gboolean seal_all, GError **error);

/*
 * Testing only: make the @nth next write (or fdatasync) fail with errno @errno_value. A failed
 * write first writes half of its bytes, like a real disk filling up. @nth = 0 disarms.
 */
typedef enum {
	MSB_STORE_FAULT_WRITE,
	MSB_STORE_FAULT_SYNC,
} MsbStoreFault;
void
msb_store_inject_fault(MsbStore *store, MsbStoreFault fault, guint nth, gint errno_value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbStoreMessage, msb_store_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbStoreTopicInfo, msb_store_topic_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbStore, msb_store_close)

G_END_DECLS
