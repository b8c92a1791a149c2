/*
 * The byte layouts of the store's files (docs/storage-format.md): file headers, checksummed record
 * frames, the message encoding and the payloads of each record type. Pure functions, no I/O, so
 * that the layouts live in one place and can be tested alone.
 */
#pragma once

#include "msb-store.h"

G_BEGIN_DECLS

#define MSB_FILE_HEADER_SIZE 16u
#define MSB_FILE_VERSION     1u
#define MSB_FILE_MAGIC_WAL   "MSB-WAL\n"
#define MSB_FILE_MAGIC_DATA  "MSB-DAT\n"
#define MSB_FILE_MAGIC_INDEX "MSB-IDX\n"
/* Write-ahead segments and data files are numbered from 1 (wal-NNNNNNNNNN.log,
 * data-NNNNNNNNNN.dat); the next file takes the highest number seen plus one, which must not wrap.
 */
#define MSB_FILE_MAX_NO (G_MAXUINT32 - 1u)

/* 'M' 'S' 'B' 'R' as little-endian bytes */
#define MSB_FRAME_MAGIC       0x5242534du
#define MSB_FRAME_HEADER_SIZE 16u
/*
 * Anything longer is not a frame we wrote. A block holds at most one sub-page part (1 MiB) or one
 * maximal message, plus deflate's worst-case growth.
 */
#define MSB_FRAME_MAX_PAYLOAD (2u * MSB_STORE_MAX_CONTENT + 4u * MSB_STORE_MAX_HEADER_BYTES)

typedef enum {
	MSB_REC_MESSAGE = 1,       /* write-ahead log: one message */
	MSB_REC_BLOCK = 2,         /* sealed data file: compressed messages of a sub-page */
	MSB_REC_INDEX = 3,         /* index log: where a block is */
	MSB_REC_TOPIC_DELETE = 4,  /* index log: soft delete */
	MSB_REC_TOPIC_RESTORE = 5, /* index log: undo soft delete */
} MsbRecType;

/* Fixed parts of the payloads. */
#define MSB_MESSAGE_FIXED      24u /* id, created, n_headers, content_len */
#define MSB_WAL_PAYLOAD_FIXED  (8u + MSB_MESSAGE_FIXED)
#define MSB_BLOCK_PAYLOAD_HEAD 40u
#define MSB_BITMAP_BYTES       128u /* 1000 bits, padded */
#define MSB_INDEX_PAYLOAD      (48u + MSB_BITMAP_BYTES)
#define MSB_DELETE_PAYLOAD     16u
#define MSB_RESTORE_PAYLOAD    8u

#define MSB_CODEC_ZLIB 1u

static inline void
msb_put_u16(guint8 *p, guint16 v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static inline void
msb_put_u32(guint8 *p, guint32 v)
{
	for (guint i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static inline void
msb_put_u64(guint8 *p, guint64 v)
{
	for (guint i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static inline guint16
msb_get_u16(const guint8 *p)
{
	return (guint16)(p[0] | (p[1] << 8));
}

static inline guint32
msb_get_u32(const guint8 *p)
{
	return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

static inline guint64
msb_get_u64(const guint8 *p)
{
	return (guint64)msb_get_u32(p) | ((guint64)msb_get_u32(p + 4) << 32);
}

static inline gint64
msb_get_i64(const guint8 *p)
{
	return (gint64)msb_get_u64(p);
}

/* Bitmaps of a sub-page: bit i = id sub_no * 1000 + i. */
static inline gboolean
msb_bitmap_get(const guint8 *bm, guint i)
{
	return (bm[i / 8] >> (i % 8)) & 1;
}

static inline void
msb_bitmap_set(guint8 *bm, guint i)
{
	bm[i / 8] |= (guint8)(1u << (i % 8));
}

guint
msb_bitmap_count(const guint8 *bm);
/* First / last set bit in [lo, hi], or -1. */
gint
msb_bitmap_first(const guint8 *bm, guint lo, guint hi);
gint
msb_bitmap_last(const guint8 *bm, guint lo, guint hi);

guint32
msb_crc32(guint32 crc, const void *data, gsize len);

void
msb_file_header_write(guint8 *out, const gchar *magic);
gboolean
msb_file_header_check(const guint8 *hdr, const gchar *magic);

/*
 * Frame checksum = CRC-32 over header bytes 8..15 (length, type, flags) followed by the payload.
 * begin() writes the header without its checksum and returns the CRC of those 8 bytes; feed the
 * payload to msb_crc32() and store the result with finish().
 */
guint32
msb_frame_header_begin(guint8 *hdr, guint16 type, guint32 payload_len);
void
msb_frame_header_finish(guint8 *hdr, guint32 crc);

typedef enum {
	MSB_FRAME_OK,
	MSB_FRAME_SHORT,     /* fewer bytes than the header announces: a torn tail */
	MSB_FRAME_BAD_MAGIC, /* not a frame start */
	MSB_FRAME_BAD_LENGTH,
	MSB_FRAME_BAD_CRC,
} MsbFrameStatus;

const gchar *
msb_frame_status_to_string(MsbFrameStatus status);
/* Checks the header only (magic and length plausibility). */
MsbFrameStatus
msb_frame_parse_header(const guint8 *hdr, gsize avail, guint16 *type, guint32 *payload_len,
                       guint32 *crc);
/* Checks a complete frame of MSB_FRAME_HEADER_SIZE + payload_len bytes. */
MsbFrameStatus
msb_frame_check(const guint8 *frame, gsize avail, guint16 *type, guint32 *payload_len);

/* Appends a complete frame to @buf. */
void
msb_frame_append(GByteArray *buf, guint16 type, const guint8 *payload, gsize len);

/* Validation of a message before it is saved. */
gboolean
msb_message_validate(const MsbStoreMessage *msg, GError **error);
/* Bytes of the encoding of @msg without its content (which follows it on disk). */
gsize
msb_message_head_size(const MsbStoreMessage *msg);
/* Writes the encoding of @msg up to (not including) the content into @out. */
void
msb_message_head_write(guint8 *out, const MsbStoreMessage *msg);
/* Appends the full encoding of @msg (head + content). */
void
msb_message_append(GByteArray *buf, const MsbStoreMessage *msg);
/*
 * Decodes one message encoding at @p (@len bytes available). The content references @owner when
 * @copy is FALSE. Returns NULL when the bytes are malformed.
 */
MsbStoreMessage *
msb_message_decode(GBytes *owner, const guint8 *p, gsize len, gboolean copy, gsize *consumed);
/* Id and total length of the encoding at @p without decoding it; 0 when malformed. */
gsize
msb_message_skip(const guint8 *p, gsize len, gint64 *id);

typedef struct {
	gint64 sub_no;
	gint64 covers_lsn;
	guint32 part;
	guint32 nparts;
	guint32 data_file_no;
	guint32 count;
	guint64 offset; /* of the block frame in its data file */
	guint32 length; /* of the whole block frame */
	guint32 block_crc;
	guint8 bitmap[MSB_BITMAP_BYTES];
} MsbIndexEntry;

void
msb_index_entry_write(guint8 *out, const MsbIndexEntry *e);
gboolean
msb_index_entry_read(MsbIndexEntry *e, const guint8 *payload, gsize len);

typedef struct {
	gint64 sub_no;
	gint64 covers_lsn;
	guint32 part;
	guint32 count;
	guint32 raw_len;
	guint32 codec;
} MsbBlockHead;

void
msb_block_head_write(guint8 *out, const MsbBlockHead *h);
gboolean
msb_block_head_read(MsbBlockHead *h, const guint8 *payload, gsize len);

G_END_DECLS
