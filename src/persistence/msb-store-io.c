/*
 * File plumbing for the store: reference-counted file handles, and the write/sync calls, all of
 * which go through one place so that errors name the file and the operation, and so that tests
 * can make the n-th write or fsync fail (a disk cannot be filled on demand in CI).
 */
#define G_LOG_DOMAIN "msb-persistence-store"

#include "msb-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

void
msb_io_set_error(GError **error, int errsv, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *what = NULL;

	va_start(args, format);
	what = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv), "%s: %s", what,
	            g_strerror(errsv));
}

/* TRUE when this call is the armed n-th one. */
static gboolean
msb_io_fault(gint *nth, gint *err, int *errsv)
{
	for (;;) {
		gint n = g_atomic_int_get(nth);
		if (n <= 0)
			return FALSE;
		if (g_atomic_int_compare_and_exchange(nth, n, n - 1)) {
			if (n != 1)
				return FALSE;
			*errsv = g_atomic_int_get(err);
			return TRUE;
		}
	}
}

MsbStoreFile *
msb_store_file_new(int fd, const gchar *path, MsbFileKind kind, guint32 no, guint64 size)
{
	MsbStoreFile *file = g_new0(MsbStoreFile, 1);
	file->ref = 1;
	file->fd = fd;
	file->path = g_strdup(path);
	file->kind = kind;
	file->no = no;
	msb_file_set_size(file, size);
	return file;
}

MsbStoreFile *
msb_store_file_ref(MsbStoreFile *file)
{
	g_atomic_int_inc(&file->ref);
	return file;
}

void
msb_store_file_unref(MsbStoreFile *file)
{
	if (file == NULL || !g_atomic_int_dec_and_test(&file->ref))
		return;
	if (file->fd >= 0)
		close(file->fd);
	g_free(file->path);
	g_free(file);
}

const gchar *
msb_store_file_magic(MsbFileKind kind)
{
	switch (kind) {
	case MSB_FILE_WAL:
		return MSB_FILE_MAGIC_WAL;
	case MSB_FILE_DATA:
		return MSB_FILE_MAGIC_DATA;
	case MSB_FILE_INDEX:
		return MSB_FILE_MAGIC_INDEX;
	}
	g_assert_not_reached();
}

gchar *
msb_store_file_name(MsbFileKind kind, guint32 no)
{
	switch (kind) {
	case MSB_FILE_WAL:
		return g_strdup_printf("wal-%010u.log", no);
	case MSB_FILE_DATA:
		return g_strdup_printf("data-%010u.dat", no);
	case MSB_FILE_INDEX:
		return g_strdup("index.log");
	}
	g_assert_not_reached();
}

gboolean
msb_store_file_parse_name(const gchar *name, MsbFileKind *kind, guint32 *no)
{
	const gchar *digits;
	const gchar *suffix;
	guint64 v = 0;

	if (g_strcmp0(name, "index.log") == 0) {
		*kind = MSB_FILE_INDEX;
		*no = 0;
		return TRUE;
	}
	if (g_str_has_prefix(name, "wal-")) {
		*kind = MSB_FILE_WAL;
		suffix = ".log";
	} else if (g_str_has_prefix(name, "data-")) {
		*kind = MSB_FILE_DATA;
		suffix = ".dat";
	} else {
		return FALSE;
	}
	digits = strchr(name, '-') + 1;
	if (strlen(digits) != 10 + 4 || strcmp(digits + 10, suffix) != 0)
		return FALSE;
	for (guint i = 0; i < 10; i++) {
		if (!g_ascii_isdigit(digits[i]))
			return FALSE;
		v = v * 10 + (guint64)(digits[i] - '0');
	}
	if (v == 0 || v > MSB_FILE_MAX_NO)
		return FALSE;
	*no = (guint32)v;
	return TRUE;
}

gboolean
msb_io_pwritev(MsbStoreIo *io, int fd, const gchar *path, const struct iovec *iov_in, guint n_iov,
               guint64 offset, GError **error)
{
	g_autofree struct iovec *iov = g_memdup2(iov_in, sizeof(struct iovec) * n_iov);
	gsize total = 0;
	gsize done = 0;
	guint first = 0;
	int errsv = 0;

	for (guint i = 0; i < n_iov; i++)
		total += iov[i].iov_len;
	if (msb_io_fault(&io->fail_write_nth, &io->fail_write_errno, &errsv)) {
		/* what a filling disk does: part of the data lands, then the error */
		gsize half = total / 2;
		for (guint i = 0; i < n_iov && half > 0; i++) {
			gsize n = MIN(half, iov[i].iov_len);
			if (pwrite(fd, iov[i].iov_base, n, (off_t)(offset + done)) != (ssize_t)n)
				break;
			done += n;
			half -= n;
		}
		msb_io_set_error(error, errsv,
		                 "Cannot write %" G_GSIZE_FORMAT
		                 " bytes at offset %" G_GUINT64_FORMAT " of %s",
		                 total, offset, path);
		return FALSE;
	}
	while (first < n_iov) {
		guint cnt = MIN(n_iov - first, (guint)IOV_MAX);
		ssize_t n = pwritev(fd, iov + first, (int)cnt, (off_t)(offset + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			msb_io_set_error(error, errno,
			                 "Cannot write %" G_GSIZE_FORMAT
			                 " bytes at offset %" G_GUINT64_FORMAT " of %s",
			                 total, offset, path);
			return FALSE;
		}
		if (n == 0) {
			msb_io_set_error(error, ENOSPC,
			                 "Cannot write %" G_GSIZE_FORMAT
			                 " bytes at offset %" G_GUINT64_FORMAT " of %s",
			                 total, offset, path);
			return FALSE;
		}
		done += (gsize)n;
		/* skip what was written, possibly part of an iovec */
		while (first < n_iov && (gsize)n >= iov[first].iov_len) {
			n -= (ssize_t)iov[first].iov_len;
			first++;
		}
		if (first < n_iov && n > 0) {
			iov[first].iov_base = (guint8 *)iov[first].iov_base + n;
			iov[first].iov_len -= (gsize)n;
		}
		while (first < n_iov && iov[first].iov_len == 0)
			first++;
	}
	return TRUE;
}

gboolean
msb_io_pwrite(MsbStoreIo *io, int fd, const gchar *path, const void *buf, gsize len, guint64 offset,
              GError **error)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	return msb_io_pwritev(io, fd, path, &iov, 1, offset, error);
}

static gboolean
msb_io_flush(MsbStoreIo *io, int fd, const gchar *path, gboolean full, GError **error)
{
	int errsv = 0;
	gint64 started_us;

	if (msb_io_fault(&io->fail_sync_nth, &io->fail_sync_errno, &errsv)) {
		msb_io_set_error(error, errsv, "Cannot flush %s to disk", path);
		return FALSE;
	}
	if (io->no_sync)
		return TRUE;
	started_us = g_get_monotonic_time();
	/* fdatasync still writes the file size, which is all the metadata a log needs */
	while ((full ? fsync(fd) : fdatasync(fd)) != 0) {
		if (errno == EINTR)
			continue;
		msb_io_set_error(error, errno, "Cannot flush %s to disk", path);
		return FALSE;
	}
	msb_histogram_observe_atomic(&io->fsync_latency, g_get_monotonic_time() - started_us);
	return TRUE;
}

gboolean
msb_io_sync(MsbStoreIo *io, int fd, const gchar *path, GError **error)
{
	return msb_io_flush(io, fd, path, FALSE, error);
}

gboolean
msb_io_sync_dir(MsbStoreIo *io, const gchar *dir, GError **error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	gboolean ok;

	if (fd < 0) {
		msb_io_set_error(error, errno, "Cannot open folder %s", dir);
		return FALSE;
	}
	/* makes new and renamed entries of the folder durable */
	ok = msb_io_flush(io, fd, dir, TRUE, error);
	close(fd);
	return ok;
}

gboolean
msb_io_truncate(int fd, const gchar *path, guint64 size, GError **error)
{
	while (ftruncate(fd, (off_t)size) != 0) {
		if (errno == EINTR)
			continue;
		msb_io_set_error(error, errno, "Cannot truncate %s to %" G_GUINT64_FORMAT " bytes",
		                 path, size);
		return FALSE;
	}
	return TRUE;
}

gboolean
msb_io_pread(int fd, const gchar *path, void *buf, gsize len, guint64 offset, GError **error)
{
	gsize done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (guint8 *)buf + done, len - done, (off_t)(offset + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			msb_io_set_error(error, errno,
			                 "Cannot read %" G_GSIZE_FORMAT
			                 " bytes at offset %" G_GUINT64_FORMAT " of %s",
			                 len, offset, path);
			return FALSE;
		}
		if (n == 0) {
			g_set_error(error, MSB_STORE_ERROR, MSB_STORE_ERROR_CORRUPT,
			            "%s ends before offset %" G_GUINT64_FORMAT
			            " that the index points to",
			            path, offset + len);
			return FALSE;
		}
		done += (gsize)n;
	}
	return TRUE;
}

MsbStoreFile *
msb_store_file_create(MsbStoreIo *io, const gchar *dir, MsbFileKind kind, guint32 no,
                      GError **error)
{
	g_autofree gchar *name = msb_store_file_name(kind, no);
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	guint8 hdr[MSB_FILE_HEADER_SIZE];
	int fd;

	/* O_TRUNC: a file of this number can only be the leftover of a create that failed */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		msb_io_set_error(error, errno, "Cannot create %s", path);
		return NULL;
	}
	msb_file_header_write(hdr, msb_store_file_magic(kind));
	if (!msb_io_pwrite(io, fd, path, hdr, sizeof(hdr), 0, error) ||
	    !msb_io_sync(io, fd, path, error) || !msb_io_sync_dir(io, dir, error)) {
		close(fd);
		g_unlink(path);
		return NULL;
	}
	return msb_store_file_new(fd, path, kind, no, MSB_FILE_HEADER_SIZE);
}

gboolean
msb_io_remove_tree(const gchar *path, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	const gchar *name;
	GStatBuf st;

	if (g_lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return TRUE;
		msb_io_set_error(error, errno, "Cannot inspect %s", path);
		return FALSE;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (g_unlink(path) != 0 && errno != ENOENT) {
			msb_io_set_error(error, errno, "Cannot remove %s", path);
			return FALSE;
		}
		return TRUE;
	}
	dir = g_dir_open(path, 0, error);
	if (dir == NULL)
		return FALSE;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		if (!msb_io_remove_tree(child, error))
			return FALSE;
	}
	if (g_rmdir(path) != 0 && errno != ENOENT) {
		msb_io_set_error(error, errno, "Cannot remove folder %s", path);
		return FALSE;
	}
	return TRUE;
}
