/*
 * The queue snapshot: one opaque blob from the gRPC layer, replaced as a whole. Written to a
 * temporary file, flushed, renamed over the old one and the folder flushed, so that a crash at
 * any moment leaves either the old or the new snapshot, complete; a header with length and CRC
 * lets a load tell a damaged file from a good one.
 */
#define G_LOG_DOMAIN "msb-persistence-store"

#include "msb-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MSB_SNAPSHOT_MAGIC  "MSB-SNP\n"
#define MSB_SNAPSHOT_HEADER 32u

void
msb_snapshot_cleanup(MsbStore *store)
{
	/* a temporary file is what a crash during a save left: the previous snapshot stands */
	if (g_unlink(store->snapshot_tmp_path) == 0)
		g_message("Removed %s, left by an interrupted snapshot save",
		          store->snapshot_tmp_path);
}

static gboolean
msb_snapshot_save_locked(MsbStore *store, GBytes *blob, GError **error)
{
	guint8 hdr[MSB_SNAPSHOT_HEADER];
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(blob, &len);
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)data, len}};
	int fd;

	memcpy(hdr, MSB_SNAPSHOT_MAGIC, 8);
	msb_put_u32(hdr + 8, MSB_FILE_VERSION);
	msb_put_u32(hdr + 12, 0);
	msb_put_u64(hdr + 16, len);
	msb_put_u32(hdr + 24, msb_crc32(0, data, len));
	msb_put_u32(hdr + 28, msb_crc32(0, hdr, 28));

	fd = open(store->snapshot_tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		msb_io_set_error(error, errno, "Cannot create %s", store->snapshot_tmp_path);
		return FALSE;
	}
	if (!msb_io_pwritev(&store->io, fd, store->snapshot_tmp_path, iov, len > 0 ? 2 : 1, 0,
	                    error) ||
	    !msb_io_sync(&store->io, fd, store->snapshot_tmp_path, error)) {
		close(fd);
		g_unlink(store->snapshot_tmp_path);
		return FALSE;
	}
	close(fd);
	if (g_rename(store->snapshot_tmp_path, store->snapshot_path) != 0) {
		msb_io_set_error(error, errno, "Cannot rename %s to %s", store->snapshot_tmp_path,
		                 store->snapshot_path);
		g_unlink(store->snapshot_tmp_path);
		return FALSE;
	}
	/* the rename is durable only once the folder is */
	return msb_io_sync_dir(&store->io, store->data_path, error);
}

static GBytes *
msb_snapshot_load_locked(MsbStore *store, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autofree gchar *contents = NULL;
	gsize size = 0;
	guint64 len;

	if (!g_file_get_contents(store->snapshot_path, &contents, &size, &local)) {
		if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return NULL;
		g_propagate_prefixed_error(error, g_steal_pointer(&local),
		                           "Cannot read the queue snapshot: ");
		return NULL;
	}
	if (size < MSB_SNAPSHOT_HEADER || memcmp(contents, MSB_SNAPSHOT_MAGIC, 8) != 0 ||
	    msb_get_u32((guint8 *)contents + 28) != msb_crc32(0, contents, 28) ||
	    msb_get_u32((guint8 *)contents + 8) != MSB_FILE_VERSION) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
		            "%s is not a queue snapshot (bad header)", store->snapshot_path);
		return NULL;
	}
	len = msb_get_u64((guint8 *)contents + 16);
	if (len != size - MSB_SNAPSHOT_HEADER ||
	    msb_get_u32((guint8 *)contents + 24) !=
	            msb_crc32(0, contents + MSB_SNAPSHOT_HEADER, (gsize)len)) {
		g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
		            "%s is damaged (length or checksum mismatch)", store->snapshot_path);
		return NULL;
	}
	return g_bytes_new(contents + MSB_SNAPSHOT_HEADER, (gsize)len);
}

/* one writer at a time, and a load never sees the rename half-way through a save */
gboolean
msb_snapshot_save(MsbStore *store, GBytes *blob, GError **error)
{
	gboolean ok;

	msb_lock(&store->snapshot_lock);
	ok = msb_snapshot_save_locked(store, blob, error);
	msb_unlock(&store->snapshot_lock);
	return ok;
}

GBytes *
msb_snapshot_load(MsbStore *store, GError **error)
{
	GBytes *blob;

	msb_lock(&store->snapshot_lock);
	blob = msb_snapshot_load_locked(store, error);
	msb_unlock(&store->snapshot_lock);
	return blob;
}
