/*
 * The ZIP container of the persistence protocol (../shared/spec/persistence.md §6), in memory,
 * with zlib and no I/O.
 *
 * Both sides of the G3 link need it: the broker zips its upload when PersistCompressed is set,
 * and the persistence service unzips uploads, stores sub pages as single-entry archives and
 * answers GetPageCompressed. We write the plain form (sizes and CRC-32 in the local header, a
 * central directory, an end record); we read what other writers produce (data descriptors,
 * stored entries, archive comments) by walking end record → central directory → local headers.
 * Every offset and size is checked against the buffer before it is used, and the total
 * uncompressed size is checked against the caller's limit before anything is inflated, so a
 * hostile archive is an error, never an over-read or a large allocation.
 *
 * The chunk helpers implement §6.4: a payload travels as consecutive pieces of at most N bytes
 * that the receiver concatenates in arrival order.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MSB_ZIP_ERROR (msb_zip_error_quark())
GQuark
msb_zip_error_quark(void);

typedef enum {
	MSB_ZIP_ERROR_TRUNCATED, /* the bytes end inside a record or an entry */
	MSB_ZIP_ERROR_CORRUPT,   /* a bad signature, an offset outside the archive, bad deflate */
	MSB_ZIP_ERROR_CRC_MISMATCH, /* an entry's CRC-32 does not match its data */
	MSB_ZIP_ERROR_UNSUPPORTED,  /* zip64, encryption, several disks, a method other than 0 or 8
	                             */
	MSB_ZIP_ERROR_TOO_LARGE, /* above the caller's limit, or more than ZIP without zip64 holds
	                          */
	MSB_ZIP_ERROR_FAILED,    /* zlib itself failed (out of memory) */
} MsbZipError;

/* The one entry of the single-entry layout (§6.2). */
#define MSB_ZIP_SINGLE_ENTRY_NAME "d"

/* What we cut our own payloads into (§6.4): the C# value; with protobuf and gRPC framing a piece
 * stays well below the 4 MiB default receive limit of tonic and gRPC C core (§11). */
#define MSB_ZIP_CHUNK_SIZE (3 * 1024 * 1024)

/* Without zip64 an archive holds at most this many entries. */
#define MSB_ZIP_MAX_ENTRIES 65535

typedef struct {
	gchar *name; /* as stored; never contains NUL */
	GBytes *data;
} MsbZipEntry;

void
msb_zip_entry_free(MsbZipEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbZipEntry, msb_zip_entry_free)

/* Writing: add entries in the order they should appear, then finish. */
typedef struct _MsbZipWriter MsbZipWriter;

/* @level: a zlib level 0–9, or -1 for zlib's default (6). */
MsbZipWriter *
msb_zip_writer_new(gint level);
void
msb_zip_writer_free(MsbZipWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbZipWriter, msb_zip_writer_free)

gboolean
msb_zip_writer_add(MsbZipWriter *writer, const gchar *name, const guint8 *data, gsize len,
                   GError **error);
/* The entry-per-message layout (§6.3) names each entry by the message id in decimal. */
gboolean
msb_zip_writer_add_id(MsbZipWriter *writer, gint64 id, const guint8 *data, gsize len,
                      GError **error);
/* Appends the central directory and the end record and returns the archive; after this only
 * msb_zip_writer_free() may be called. */
GBytes *
msb_zip_writer_finish(MsbZipWriter *writer, GError **error);

/* The single-entry layout (§6.2): one deflated entry named "d". */
GBytes *
msb_zip_pack_single(const guint8 *data, gsize len, GError **error);

/* Every entry of an archive, in central-directory order, as a GPtrArray of MsbZipEntry.
 * @max_total caps the sum of the uncompressed sizes. */
GPtrArray *
msb_zip_unpack(const guint8 *zip, gsize len, gsize max_total, GError **error);

/* The data of a single-entry archive; anything but exactly one entry named "d" is an error. */
GBytes *
msb_zip_unpack_single(const guint8 *zip, gsize len, gsize max_total, GError **error);

/* §6.4: @payload cut into consecutive views (GBytes, no copy) of at most @max_chunk bytes each.
 * An empty payload gives no chunks. */
GPtrArray *
msb_chunks_split(GBytes *payload, gsize max_chunk);

/* The receiving side of §6.4: appends one chunk, failing (MSB_ZIP_ERROR_TOO_LARGE) once the
 * whole would exceed @max_total, so a peer cannot make us buffer without bound. */
gboolean
msb_chunks_append(GByteArray *acc, const guint8 *chunk, gsize len, gsize max_total, GError **error);

/* All @chunks (GBytes) concatenated, or an error if they add up to more than @max_total. */
GBytes *
msb_chunks_join(GPtrArray *chunks, gsize max_total, GError **error);

G_END_DECLS
