/*
 * ZIP reading and writing for the persistence protocol (persistence.md §6) and the §6.4 chunks.
 *
 * Record layouts are from PKWARE's APPNOTE.TXT (sections 4.3.7, 4.3.9, 4.3.12, 4.3.16); all
 * numbers are little-endian. Only what a ZIP without zip64 can express is supported, which is
 * plenty for sub pages and uploads (a few MiB each).
 */
#define G_LOG_DOMAIN "msb-zip"

#include "msb-zip.h"

#include <string.h>
#include <zlib.h>

#include "msb-buf.h"

/* clang-format off */
G_DEFINE_QUARK(msb-zip-error-quark, msb_zip_error)
/* clang-format on */

#define ZIP_LOCAL_SIG     0x04034b50u
#define ZIP_CENTRAL_SIG   0x02014b50u
#define ZIP_EOCD_SIG      0x06054b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u

#define ZIP_LOCAL_SIZE     30
#define ZIP_CENTRAL_SIZE   46
#define ZIP_EOCD_SIZE      22
#define ZIP64_LOCATOR_SIZE 20
#define ZIP_MAX_COMMENT    0xffff

#define ZIP_FLAG_ENCRYPTED        0x0001u
#define ZIP_FLAG_DATA_DESCRIPTOR  0x0008u
#define ZIP_FLAG_STRONG_ENCRYPTED 0x0040u

#define ZIP_METHOD_STORED  0
#define ZIP_METHOD_DEFLATE 8

/* 2.0: the first version with deflate; what the Rust zip crate and Info-ZIP write for it */
#define ZIP_VERSION_NEEDED 20

/* 1980-01-01 00:00:00, the DOS epoch: timestamps mean nothing here (§6.1), and a fixed one makes
 * the output reproducible */
#define ZIP_DOS_TIME 0
#define ZIP_DOS_DATE ((1 << 5) | 1)

/* zlib counts in uInt; feed it at most this much at a time so that any gsize works */
#define ZIP_ZLIB_STEP (1u << 30)

/* Hand zlib the next step of input and of output room once it has used up the last one. */
static void
zip_zlib_feed(z_stream *zs, gsize *in_left, gsize *out_left)
{
	if (zs->avail_in == 0 && *in_left > 0) {
		zs->avail_in = *in_left > ZIP_ZLIB_STEP ? ZIP_ZLIB_STEP : (uInt)*in_left;
		*in_left -= zs->avail_in;
	}
	if (zs->avail_out == 0 && *out_left > 0) {
		zs->avail_out = *out_left > ZIP_ZLIB_STEP ? ZIP_ZLIB_STEP : (uInt)*out_left;
		*out_left -= zs->avail_out;
	}
}

/* 0xffffffff in a size or offset field means "see the zip64 extra field" */
#define ZIP_U32_MAX 0xffffffffu

typedef struct {
	gchar *name;
	guint32 crc;
	guint32 csize;
	guint32 usize;
	guint32 offset;
} ZipCentralRecord;

struct _MsbZipWriter {
	MsbBuf out;
	GArray *records; /* ZipCentralRecord */
	gint level;
	gboolean finished;
};

void
msb_zip_entry_free(MsbZipEntry *entry)
{
	if (entry == NULL)
		return;
	g_free(entry->name);
	if (entry->data != NULL)
		g_bytes_unref(entry->data);
	g_free(entry);
}

static inline guint16
zip_get_u16(const guint8 *p)
{
	return (guint16)(p[0] | (p[1] << 8));
}

static inline guint32
zip_get_u32(const guint8 *p)
{
	return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

static inline void
zip_put_u16(MsbBuf *buf, guint16 v)
{
	guint8 b[2] = {v & 0xff, v >> 8};
	msb_buf_put(buf, b, sizeof(b));
}

static inline void
zip_put_u32(MsbBuf *buf, guint32 v)
{
	guint8 b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
	msb_buf_put(buf, b, sizeof(b));
}

static inline void
zip_patch_u32(MsbBuf *buf, gsize at, guint32 v)
{
	guint8 b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
	memcpy(buf->data + at, b, sizeof(b));
}

static guint32
zip_crc32(const guint8 *data, gsize len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	while (len > 0) {
		uInt step = len > ZIP_ZLIB_STEP ? ZIP_ZLIB_STEP : (uInt)len;
		crc = crc32(crc, data, step);
		data += step;
		len -= step;
	}
	return (guint32)crc;
}

static void
zip_central_record_clear(gpointer data)
{
	ZipCentralRecord *rec = data;
	g_free(rec->name);
}

MsbZipWriter *
msb_zip_writer_new(gint level)
{
	MsbZipWriter *writer;

	g_return_val_if_fail(level >= -1 && level <= 9, NULL);

	writer = g_new0(MsbZipWriter, 1);
	msb_buf_init(&writer->out, 0);
	writer->records = g_array_new(FALSE, FALSE, sizeof(ZipCentralRecord));
	g_array_set_clear_func(writer->records, zip_central_record_clear);
	writer->level = level;
	return writer;
}

void
msb_zip_writer_free(MsbZipWriter *writer)
{
	if (writer == NULL)
		return;
	msb_buf_clear(&writer->out);
	g_array_unref(writer->records);
	g_free(writer);
}

/* Raw deflate (no zlib header: ZIP frames the stream itself) of @data, appended to @out. */
static gboolean
zip_deflate(MsbBuf *out, const guint8 *data, gsize len, gint level, GError **error)
{
	z_stream zs = {0};
	gsize in_left = len;
	gsize bound;
	gsize out_start;
	gsize out_left;
	int rc;

	rc = deflateInit2(&zs, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	if (rc != Z_OK) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_FAILED,
		            "cannot start deflate: zlib error %d", rc);
		return FALSE;
	}
	/* deflateBound() is exact enough for one Z_FINISH pass, so the loop below does not need
	 * to grow the buffer */
	bound = deflateBound(&zs, (uLong)len);
	out_start = out->len;
	zs.next_out = msb_buf_reserve(out, bound);
	out_left = bound;
	zs.next_in = (Bytef *)data;
	do {
		zip_zlib_feed(&zs, &in_left, &out_left);
		rc = deflate(&zs, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
	} while (rc == Z_OK);
	if (rc != Z_STREAM_END) {
		deflateEnd(&zs);
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_FAILED,
		            "deflate failed: zlib error %d", rc);
		return FALSE;
	}
	out->len = out_start + (bound - out_left - zs.avail_out);
	deflateEnd(&zs);
	return TRUE;
}

gboolean
msb_zip_writer_add(MsbZipWriter *writer, const gchar *name, const guint8 *data, gsize len,
                   GError **error)
{
	ZipCentralRecord rec = {0};
	gsize name_len;
	gsize header_at;
	gsize data_at;
	gsize csize;

	g_return_val_if_fail(writer != NULL, FALSE);
	g_return_val_if_fail(!writer->finished, FALSE);
	g_return_val_if_fail(name != NULL && name[0] != '\0', FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	name_len = strlen(name);
	if (name_len > 0xffff) {
		g_set_error(
		        error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE,
		        "a ZIP entry name is limited to 65535 bytes, this one has %" G_GSIZE_FORMAT,
		        name_len);
		return FALSE;
	}
	if (writer->records->len >= MSB_ZIP_MAX_ENTRIES) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE,
		            "a ZIP without zip64 holds at most %u entries", MSB_ZIP_MAX_ENTRIES);
		return FALSE;
	}
	/* the offsets and sizes of every record must fit the 32-bit fields (no zip64) */
	if (len >= ZIP_U32_MAX || writer->out.len >= ZIP_U32_MAX) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE,
		            "the archive would pass 4 GiB, which needs zip64 (not supported)");
		return FALSE;
	}

	header_at = writer->out.len;
	zip_put_u32(&writer->out, ZIP_LOCAL_SIG);
	zip_put_u16(&writer->out, ZIP_VERSION_NEEDED);
	zip_put_u16(&writer->out, 0); /* flags: sizes and CRC are in this header */
	zip_put_u16(&writer->out, ZIP_METHOD_DEFLATE);
	zip_put_u16(&writer->out, ZIP_DOS_TIME);
	zip_put_u16(&writer->out, ZIP_DOS_DATE);
	zip_put_u32(&writer->out, 0); /* CRC-32, patched below */
	zip_put_u32(&writer->out, 0); /* compressed size, patched below */
	zip_put_u32(&writer->out, (guint32)len);
	zip_put_u16(&writer->out, (guint16)name_len);
	zip_put_u16(&writer->out, 0); /* extra field length */
	msb_buf_put(&writer->out, name, name_len);
	data_at = writer->out.len;

	if (!zip_deflate(&writer->out, data, len, writer->level, error)) {
		writer->out.len = header_at;
		return FALSE;
	}
	csize = writer->out.len - data_at;
	if (csize >= ZIP_U32_MAX || writer->out.len >= ZIP_U32_MAX) {
		writer->out.len = header_at;
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE,
		            "the archive would pass 4 GiB, which needs zip64 (not supported)");
		return FALSE;
	}

	rec.name = g_strdup(name);
	rec.crc = zip_crc32(data, len);
	rec.csize = (guint32)csize;
	rec.usize = (guint32)len;
	rec.offset = (guint32)header_at;
	zip_patch_u32(&writer->out, header_at + 14, rec.crc);
	zip_patch_u32(&writer->out, header_at + 18, rec.csize);
	g_array_append_val(writer->records, rec);
	return TRUE;
}

gboolean
msb_zip_writer_add_id(MsbZipWriter *writer, gint64 id, const guint8 *data, gsize len,
                      GError **error)
{
	gchar name[G_ASCII_DTOSTR_BUF_SIZE];

	g_snprintf(name, sizeof(name), "%" G_GINT64_FORMAT, id);
	return msb_zip_writer_add(writer, name, data, len, error);
}

GBytes *
msb_zip_writer_finish(MsbZipWriter *writer, GError **error)
{
	gsize cd_at;
	gsize cd_size;
	guint8 *data;
	gsize len;

	g_return_val_if_fail(writer != NULL, NULL);
	g_return_val_if_fail(!writer->finished, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	writer->finished = TRUE;
	cd_at = writer->out.len;
	for (guint i = 0; i < writer->records->len; i++) {
		const ZipCentralRecord *rec = &g_array_index(writer->records, ZipCentralRecord, i);
		gsize name_len = strlen(rec->name);

		zip_put_u32(&writer->out, ZIP_CENTRAL_SIG);
		zip_put_u16(&writer->out, ZIP_VERSION_NEEDED); /* made by: MS-DOS host, 2.0 */
		zip_put_u16(&writer->out, ZIP_VERSION_NEEDED);
		zip_put_u16(&writer->out, 0); /* flags */
		zip_put_u16(&writer->out, ZIP_METHOD_DEFLATE);
		zip_put_u16(&writer->out, ZIP_DOS_TIME);
		zip_put_u16(&writer->out, ZIP_DOS_DATE);
		zip_put_u32(&writer->out, rec->crc);
		zip_put_u32(&writer->out, rec->csize);
		zip_put_u32(&writer->out, rec->usize);
		zip_put_u16(&writer->out, (guint16)name_len);
		zip_put_u16(&writer->out, 0); /* extra field length */
		zip_put_u16(&writer->out, 0); /* comment length */
		zip_put_u16(&writer->out, 0); /* disk number start */
		zip_put_u16(&writer->out, 0); /* internal attributes */
		zip_put_u32(&writer->out, 0); /* external attributes */
		zip_put_u32(&writer->out, rec->offset);
		msb_buf_put(&writer->out, rec->name, name_len);
	}
	cd_size = writer->out.len - cd_at;
	if (cd_at >= ZIP_U32_MAX || cd_size >= ZIP_U32_MAX) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE,
		            "the archive would pass 4 GiB, which needs zip64 (not supported)");
		return NULL;
	}
	zip_put_u32(&writer->out, ZIP_EOCD_SIG);
	zip_put_u16(&writer->out, 0); /* this disk */
	zip_put_u16(&writer->out, 0); /* disk with the central directory */
	zip_put_u16(&writer->out, (guint16)writer->records->len);
	zip_put_u16(&writer->out, (guint16)writer->records->len);
	zip_put_u32(&writer->out, (guint32)cd_size);
	zip_put_u32(&writer->out, (guint32)cd_at);
	zip_put_u16(&writer->out, 0); /* comment length */

	/* deflateBound() over-reserves; do not hand a mostly empty block to a long-lived owner */
	len = writer->out.len;
	data = writer->out.data;
	if (writer->out.cap - len > len / 8)
		data = g_realloc(data, len);
	writer->out.data = NULL;
	writer->out.len = writer->out.cap = writer->out.off = 0;
	return g_bytes_new_take(data, len);
}

GBytes *
msb_zip_pack_single(const guint8 *data, gsize len, GError **error)
{
	g_autoptr(MsbZipWriter) writer = msb_zip_writer_new(Z_DEFAULT_COMPRESSION);

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!msb_zip_writer_add(writer, MSB_ZIP_SINGLE_ENTRY_NAME, data, len, error))
		return NULL;
	return msb_zip_writer_finish(writer, error);
}

/* Inflates exactly @out_len bytes from @in into @out, which has room for @out_len + 1: the spare
 * byte is how we notice a stream that holds more than its entry declares. */
static gboolean
zip_inflate(const guint8 *in, gsize in_len, guint8 *out, gsize out_len, const gchar *name,
            GError **error)
{
	z_stream zs = {0};
	gsize in_left = in_len;
	gsize out_left = out_len + 1;
	gsize produced;
	int rc;

	rc = inflateInit2(&zs, -MAX_WBITS);
	if (rc != Z_OK) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_FAILED,
		            "cannot start inflate: zlib error %d", rc);
		return FALSE;
	}
	zs.next_in = (Bytef *)in;
	zs.next_out = out;
	for (;;) {
		zip_zlib_feed(&zs, &in_left, &out_left);
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_OK)
			continue;
		if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
			inflateEnd(&zs);
			g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
			            "entry %s: the deflate data ends early", name);
			return FALSE;
		}
		if (rc == Z_BUF_ERROR && zs.avail_out == 0 && out_left == 0) {
			inflateEnd(&zs);
			g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
			            "entry %s inflates to more than its declared %" G_GSIZE_FORMAT
			            " bytes",
			            name, out_len);
			return FALSE;
		}
		if (rc == Z_BUF_ERROR)
			continue; /* one of the buffers is refilled above */
		inflateEnd(&zs);
		g_set_error(error, MSB_ZIP_ERROR,
		            rc == Z_MEM_ERROR ? MSB_ZIP_ERROR_FAILED : MSB_ZIP_ERROR_CORRUPT,
		            "entry %s: bad deflate data (%s)", name,
		            zs.msg != NULL ? zs.msg : "zlib error");
		return FALSE;
	}
	produced = (out_len + 1) - out_left - zs.avail_out;
	inflateEnd(&zs);
	if (produced != out_len) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "entry %s inflates to %" G_GSIZE_FORMAT
		            " bytes, not the declared %" G_GSIZE_FORMAT,
		            name, produced, out_len);
		return FALSE;
	}
	return TRUE;
}

/* The end record: the last 22 bytes, or earlier by the length of an archive comment. */
static gboolean
zip_find_eocd(const guint8 *zip, gsize len, gsize *eocd_at, GError **error)
{
	gsize lowest;

	if (len < ZIP_EOCD_SIZE) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TRUNCATED,
		            "%" G_GSIZE_FORMAT
		            " bytes cannot be a ZIP archive (the end record alone "
		            "takes 22)",
		            len);
		return FALSE;
	}
	lowest = len - ZIP_EOCD_SIZE > ZIP_MAX_COMMENT ? len - ZIP_EOCD_SIZE - ZIP_MAX_COMMENT : 0;
	for (gsize at = len - ZIP_EOCD_SIZE + 1; at-- > lowest;) {
		/* the comment length must account for exactly the rest of the bytes, which also
		 * keeps a signature inside a comment from being taken for the record */
		if (zip_get_u32(zip + at) == ZIP_EOCD_SIG &&
		    at + ZIP_EOCD_SIZE + zip_get_u16(zip + at + 20) == len) {
			*eocd_at = at;
			return TRUE;
		}
	}
	g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
	            "not a ZIP archive, or a truncated one: no end-of-central-directory record");
	return FALSE;
}

/* One central-directory record at @at, checked against the directory's end. */
static gboolean
zip_read_central(const guint8 *zip, gsize *at, gsize cd_end, guint idx, ZipCentralRecord *rec,
                 guint16 *method, GError **error)
{
	const guint8 *p = zip + *at;
	guint16 flags;
	gsize name_len;
	gsize extra_len;
	gsize comment_len;

	if (cd_end - *at < ZIP_CENTRAL_SIZE) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "central directory record %u runs past the directory", idx);
		return FALSE;
	}
	if (zip_get_u32(p) != ZIP_CENTRAL_SIG) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "central directory record %u has a bad signature", idx);
		return FALSE;
	}
	flags = zip_get_u16(p + 8);
	*method = zip_get_u16(p + 10);
	rec->crc = zip_get_u32(p + 16);
	rec->csize = zip_get_u32(p + 20);
	rec->usize = zip_get_u32(p + 24);
	name_len = zip_get_u16(p + 28);
	extra_len = zip_get_u16(p + 30);
	comment_len = zip_get_u16(p + 32);
	rec->offset = zip_get_u32(p + 42);
	if (cd_end - *at - ZIP_CENTRAL_SIZE < name_len + extra_len + comment_len) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "central directory record %u runs past the directory", idx);
		return FALSE;
	}
	if (name_len == 0 || memchr(p + ZIP_CENTRAL_SIZE, '\0', name_len) != NULL) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "central directory record %u has an empty name or one with a NUL byte",
		            idx);
		return FALSE;
	}
	rec->name = g_strndup((const gchar *)p + ZIP_CENTRAL_SIZE, name_len);
	*at += ZIP_CENTRAL_SIZE + name_len + extra_len + comment_len;

	if ((flags & (ZIP_FLAG_ENCRYPTED | ZIP_FLAG_STRONG_ENCRYPTED)) != 0) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED,
		            "entry %s is encrypted; encrypted archives are not supported",
		            rec->name);
		return FALSE;
	}
	if (rec->csize == ZIP_U32_MAX || rec->usize == ZIP_U32_MAX || rec->offset == ZIP_U32_MAX) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED,
		            "entry %s uses zip64, which is not supported", rec->name);
		return FALSE;
	}
	if (zip_get_u16(p + 34) != 0) {
		g_set_error(
		        error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED,
		        "entry %s starts on another disk; multi-disk archives are not supported",
		        rec->name);
		return FALSE;
	}
	if (*method != ZIP_METHOD_STORED && *method != ZIP_METHOD_DEFLATE) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED,
		            "entry %s uses compression method %u; only stored (0) and deflate (8) "
		            "are supported",
		            rec->name, *method);
		return FALSE;
	}
	if (*method == ZIP_METHOD_STORED && rec->csize != rec->usize) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "stored entry %s declares %u bytes compressed but %u uncompressed",
		            rec->name, rec->csize, rec->usize);
		return FALSE;
	}
	return TRUE;
}

/* The local header of @rec: where its data starts, after checking that the header agrees with
 * the central directory and that the data lies before the directory. */
static gboolean
zip_locate_data(const guint8 *zip, gsize cd_at, const ZipCentralRecord *rec, guint16 method,
                gsize *data_at, GError **error)
{
	const guint8 *p;
	guint16 flags;
	guint32 crc;
	guint32 csize;
	guint32 usize;
	gsize name_len;
	gsize extra_len;
	gsize start;

	if (rec->offset > cd_at || cd_at - rec->offset < ZIP_LOCAL_SIZE) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "entry %s: its local header at offset %u lies outside the archive data",
		            rec->name, rec->offset);
		return FALSE;
	}
	p = zip + rec->offset;
	if (zip_get_u32(p) != ZIP_LOCAL_SIG) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "entry %s: no local header at offset %u", rec->name, rec->offset);
		return FALSE;
	}
	flags = zip_get_u16(p + 6);
	crc = zip_get_u32(p + 14);
	csize = zip_get_u32(p + 18);
	usize = zip_get_u32(p + 22);
	name_len = zip_get_u16(p + 26);
	extra_len = zip_get_u16(p + 28);
	if ((flags & (ZIP_FLAG_ENCRYPTED | ZIP_FLAG_STRONG_ENCRYPTED)) != 0) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED,
		            "entry %s is encrypted; encrypted archives are not supported",
		            rec->name);
		return FALSE;
	}
	if (zip_get_u16(p + 8) != method) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "entry %s: the local header and the central directory disagree on the "
		            "compression method",
		            rec->name);
		return FALSE;
	}
	/* with a data descriptor (bit 3) the writer did not know some of these yet and left them
	 * zero: Python leaves all three, Info-ZIP writing to a pipe fills in only the size */
	if ((flags & ZIP_FLAG_DATA_DESCRIPTOR) != 0) {
		crc = crc != 0 ? crc : rec->crc;
		csize = csize != 0 ? csize : rec->csize;
		usize = usize != 0 ? usize : rec->usize;
	}
	if (crc != rec->crc || csize != rec->csize || usize != rec->usize) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "entry %s: the local header and the central directory disagree on its "
		            "size or CRC",
		            rec->name);
		return FALSE;
	}
	start = (gsize)rec->offset + ZIP_LOCAL_SIZE;
	if (cd_at - start < name_len + extra_len ||
	    cd_at - start - name_len - extra_len < rec->csize) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "entry %s: its data runs into the central directory", rec->name);
		return FALSE;
	}
	if (name_len != strlen(rec->name) || memcmp(p + ZIP_LOCAL_SIZE, rec->name, name_len) != 0) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "entry %s: the local header names it differently", rec->name);
		return FALSE;
	}
	*data_at = start + name_len + extra_len;
	return TRUE;
}

static MsbZipEntry *
zip_extract(const guint8 *zip, gsize data_at, ZipCentralRecord *rec, guint16 method, GError **error)
{
	g_autofree guint8 *out = NULL;
	MsbZipEntry *entry;

	/* +1: see zip_inflate(); the caller has checked usize against its limit */
	out = g_malloc((gsize)rec->usize + 1);
	if (method == ZIP_METHOD_STORED) {
		if (rec->usize > 0)
			memcpy(out, zip + data_at, rec->usize);
	} else if (rec->csize == 0 && rec->usize == 0) {
		/* no deflate stream at all; Python's zipfile reads this as empty, and so do we */
	} else if (!zip_inflate(zip + data_at, rec->csize, out, rec->usize, rec->name, error)) {
		return NULL;
	}
	if (zip_crc32(out, rec->usize) != rec->crc) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CRC_MISMATCH,
		            "entry %s: CRC-32 mismatch, the archive is damaged", rec->name);
		return NULL;
	}
	entry = g_new0(MsbZipEntry, 1);
	entry->name = g_steal_pointer(&rec->name);
	entry->data = g_bytes_new_take(g_steal_pointer(&out), rec->usize);
	return entry;
}

GPtrArray *
msb_zip_unpack(const guint8 *zip, gsize len, gsize max_total, GError **error)
{
	g_autoptr(GArray) records = NULL;
	g_autoptr(GArray) methods = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	const guint8 *eocd;
	gsize eocd_at = 0;
	guint n_entries;
	gsize cd_size;
	gsize cd_at;
	gsize at;
	guint64 total = 0;

	g_return_val_if_fail(zip != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!zip_find_eocd(zip, len, &eocd_at, error))
		return NULL;
	eocd = zip + eocd_at;
	if (eocd_at >= ZIP64_LOCATOR_SIZE &&
	    zip_get_u32(zip + eocd_at - ZIP64_LOCATOR_SIZE) == ZIP64_LOCATOR_SIG) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED,
		            "the archive uses zip64, which is not supported");
		return NULL;
	}
	if (zip_get_u16(eocd + 4) != 0 || zip_get_u16(eocd + 6) != 0 ||
	    zip_get_u16(eocd + 8) != zip_get_u16(eocd + 10)) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED,
		            "the archive spans several disks, which is not supported");
		return NULL;
	}
	n_entries = zip_get_u16(eocd + 10);
	cd_size = zip_get_u32(eocd + 12);
	cd_at = zip_get_u32(eocd + 16);
	if (cd_size == ZIP_U32_MAX || cd_at == ZIP_U32_MAX) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_UNSUPPORTED,
		            "the archive uses zip64, which is not supported");
		return NULL;
	}
	if (cd_at > eocd_at || eocd_at - cd_at < cd_size) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TRUNCATED,
		            "the central directory (%" G_GSIZE_FORMAT
		            " bytes at offset %" G_GSIZE_FORMAT
		            ") lies outside the %" G_GSIZE_FORMAT
		            " bytes before the end record; the "
		            "archive is truncated or damaged",
		            cd_size, cd_at, eocd_at);
		return NULL;
	}
	/* a count the directory cannot hold must not size an allocation */
	if ((gsize)n_entries * ZIP_CENTRAL_SIZE > cd_size) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "the end record counts %u entries, more than a %" G_GSIZE_FORMAT
		            "-byte central directory holds",
		            n_entries, cd_size);
		return NULL;
	}

	/* the whole directory first, so that the size limit is checked before inflating */
	records = g_array_sized_new(FALSE, TRUE, sizeof(ZipCentralRecord), n_entries);
	g_array_set_clear_func(records, zip_central_record_clear);
	methods = g_array_sized_new(FALSE, TRUE, sizeof(guint16), n_entries);
	at = cd_at;
	for (guint i = 0; i < n_entries; i++) {
		ZipCentralRecord rec = {0};
		guint16 method = 0;
		gboolean ok = zip_read_central(zip, &at, cd_at + cd_size, i, &rec, &method, error);

		g_array_append_val(records, rec); /* also on failure: it owns rec.name */
		if (!ok)
			return NULL;
		g_array_append_val(methods, method);
		total += rec.usize;
		if (total > max_total) {
			g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE,
			            "the archive unpacks to more than the limit of %" G_GSIZE_FORMAT
			            " bytes",
			            max_total);
			return NULL;
		}
	}

	entries = g_ptr_array_new_full(n_entries, (GDestroyNotify)msb_zip_entry_free);
	for (guint i = 0; i < n_entries; i++) {
		ZipCentralRecord *rec = &g_array_index(records, ZipCentralRecord, i);
		guint16 method = g_array_index(methods, guint16, i);
		gsize data_at = 0;
		MsbZipEntry *entry;

		if (!zip_locate_data(zip, cd_at, rec, method, &data_at, error))
			return NULL;
		entry = zip_extract(zip, data_at, rec, method, error);
		if (entry == NULL)
			return NULL;
		g_ptr_array_add(entries, entry);
	}
	return g_steal_pointer(&entries);
}

GBytes *
msb_zip_unpack_single(const guint8 *zip, gsize len, gsize max_total, GError **error)
{
	g_autoptr(GPtrArray) entries = NULL;
	MsbZipEntry *entry;

	g_return_val_if_fail(zip != NULL || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	entries = msb_zip_unpack(zip, len, max_total, error);
	if (entries == NULL)
		return NULL;
	if (entries->len != 1) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "expected a single-entry archive (entry \"d\"), found %u entries",
		            entries->len);
		return NULL;
	}
	entry = g_ptr_array_index(entries, 0);
	if (g_strcmp0(entry->name, MSB_ZIP_SINGLE_ENTRY_NAME) != 0) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_CORRUPT,
		            "expected the single entry to be named \"d\", found \"%s\"",
		            entry->name);
		return NULL;
	}
	return g_bytes_ref(entry->data);
}

GPtrArray *
msb_chunks_split(GBytes *payload, gsize max_chunk)
{
	GPtrArray *chunks;
	gsize len;

	g_return_val_if_fail(payload != NULL, NULL);
	g_return_val_if_fail(max_chunk > 0, NULL);

	len = g_bytes_get_size(payload);
	chunks = g_ptr_array_new_full((guint)MIN(len / max_chunk + 1, G_MAXUINT),
	                              (GDestroyNotify)g_bytes_unref);
	for (gsize at = 0; at < len; at += max_chunk)
		g_ptr_array_add(chunks,
		                g_bytes_new_from_bytes(payload, at, MIN(max_chunk, len - at)));
	return chunks;
}

gboolean
msb_chunks_append(GByteArray *acc, const guint8 *chunk, gsize len, gsize max_total, GError **error)
{
	g_return_val_if_fail(acc != NULL, FALSE);
	g_return_val_if_fail(chunk != NULL || len == 0, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	/* GByteArray counts in guint */
	max_total = MIN(max_total, (gsize)G_MAXUINT);
	if (acc->len > max_total || max_total - acc->len < len) {
		g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE,
		            "the chunks add up to more than the limit of %" G_GSIZE_FORMAT " bytes",
		            max_total);
		return FALSE;
	}
	if (len > 0)
		g_byte_array_append(acc, chunk, (guint)len);
	return TRUE;
}

GBytes *
msb_chunks_join(GPtrArray *chunks, gsize max_total, GError **error)
{
	g_autoptr(GByteArray) acc = NULL;
	gsize total = 0;

	g_return_val_if_fail(chunks != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	/* sum first, so that the result is allocated once and an oversized set allocates nothing */
	for (guint i = 0; i < chunks->len; i++) {
		gsize n = g_bytes_get_size(g_ptr_array_index(chunks, i));
		if (total > max_total || max_total - total < n || n > G_MAXUINT - total) {
			g_set_error(error, MSB_ZIP_ERROR, MSB_ZIP_ERROR_TOO_LARGE,
			            "the chunks add up to more than the limit of %" G_GSIZE_FORMAT
			            " bytes",
			            max_total);
			return NULL;
		}
		total += n;
	}
	acc = g_byte_array_sized_new((guint)total);
	for (guint i = 0; i < chunks->len; i++) {
		gsize n = 0;
		const guint8 *d = g_bytes_get_data(g_ptr_array_index(chunks, i), &n);
		if (n > 0)
			g_byte_array_append(acc, d, (guint)n);
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&acc));
}
