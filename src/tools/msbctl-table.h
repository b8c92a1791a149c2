/*
 * MsbctlTable: what an msbctl listing prints, kept once as typed cells and rendered either as an
 * aligned text table for people or as JSON for scripts, so that both outputs always carry the
 * same rows. No I/O: the renderers return strings (tests/unit/test-msbctl.c).
 *
 * Each column has a header for the text table (or the label of a record, see
 * msbctl_table_render_record()) and a key for JSON (snake_case, so that `jq .message_id` works).
 * Text cells have control characters escaped and are aligned by their display width (wide CJK
 * characters take two columns); numbers are right-aligned.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
	MSBCTL_COLUMN_TEXT,   /* left-aligned; JSON string (or null) */
	MSBCTL_COLUMN_NUMBER, /* right-aligned; JSON number */
	MSBCTL_COLUMN_BOOL,   /* "yes"/"no"; JSON true/false */
} MsbctlColumnKind;

typedef struct _MsbctlTable MsbctlTable;

MsbctlTable *
msbctl_table_new(void);
void
msbctl_table_free(MsbctlTable *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbctlTable, msbctl_table_free)

/* Columns come first, rows after; returns the column's index. A NULL @header keeps the column
 * out of the text table and the record (JSON only), a NULL @json_key out of JSON (text only). */
guint
msbctl_table_add_column(MsbctlTable *self, const gchar *header, const gchar *json_key,
                        MsbctlColumnKind kind);
guint
msbctl_table_get_n_rows(MsbctlTable *self);

/* Start a row; its cells are then set by column index, unset cells print "-" and JSON null;
 * empty text prints "-" too (JSON keeps ""). */
void
msbctl_table_add_row(MsbctlTable *self);
/* @text may be NULL (printed as "-", JSON null); @display overrides the text table's rendering
 * of a number or bool cell when not NULL (e.g. a size in KiB while JSON keeps bytes). */
void
msbctl_table_set_text(MsbctlTable *self, guint column, const gchar *text);
void
msbctl_table_set_int(MsbctlTable *self, guint column, gint64 value, const gchar *display);
void
msbctl_table_set_uint(MsbctlTable *self, guint column, guint64 value, const gchar *display);
void
msbctl_table_set_bool(MsbctlTable *self, guint column, gboolean value);
/* Any JSON value (taken), printed as @display (NULL: "-"), e.g. a queue's ranges. */
void
msbctl_table_set_json(MsbctlTable *self, guint column, JsonNode *json, const gchar *display);

/* Sort the rows by the text of @column (byte order of UTF-8, i.e. by code point). */
void
msbctl_table_sort(MsbctlTable *self, guint column);

/* Header line and one line per row, columns two spaces apart, no trailing spaces. */
gchar *
msbctl_table_render_text(MsbctlTable *self);
/* The first row as "Header: value" lines, the values aligned (msbctl status). */
gchar *
msbctl_table_render_record(MsbctlTable *self);
/* An array of objects (one per row), or with @record the first row's object; pretty-printed,
 * ending in a newline. */
gchar *
msbctl_table_render_json(MsbctlTable *self, gboolean record);

/* The JSON node of one row (for JSON Lines output, msbctl monitor). */
JsonNode *
msbctl_table_row_to_json(MsbctlTable *self, guint row);

/* @text with control characters and invalid UTF-8 escaped (\n, \t, \xNN), safe to print in one
 * table cell or one line of a terminal. */
gchar *
msbctl_escape_text(const gchar *text);
/* The columns @text takes in a terminal (wide characters count two, combining marks none). */
gsize
msbctl_display_width(const gchar *text);

G_END_DECLS
