/*
 * MsbctlTable: typed cells rendered as an aligned text table, a record or JSON (see the header).
 * Each cell keeps the text the table prints and the JSON node scripts get, built once when the
 * cell is set.
 */
#define G_LOG_DOMAIN "msbctl"

#include <glib/gi18n.h>
#include <string.h>

#include "msbctl-table.h"

typedef struct {
	gchar *header;
	gchar *json_key;
	MsbctlColumnKind kind;
} MsbctlColumn;

typedef struct {
	gchar *text;    /* NULL: unset, printed "-" */
	JsonNode *json; /* NULL: unset, JSON null */
} MsbctlCell;

struct _MsbctlTable {
	GArray *columns; /* MsbctlColumn */
	GPtrArray *rows; /* MsbctlCell[n_columns] */
};

static void
msbctl_column_clear(gpointer data)
{
	MsbctlColumn *column = data;
	g_free(column->header);
	g_free(column->json_key);
}

MsbctlTable *
msbctl_table_new(void)
{
	MsbctlTable *self = g_new0(MsbctlTable, 1);

	self->columns = g_array_new(FALSE, TRUE, sizeof(MsbctlColumn));
	g_array_set_clear_func(self->columns, msbctl_column_clear);
	self->rows = g_ptr_array_new();
	return self;
}

static void
msbctl_cell_clear(MsbctlCell *cell)
{
	g_clear_pointer(&cell->text, g_free);
	g_clear_pointer(&cell->json, json_node_unref);
}

void
msbctl_table_free(MsbctlTable *self)
{
	if (self == NULL)
		return;
	for (guint r = 0; r < self->rows->len; r++) {
		MsbctlCell *cells = g_ptr_array_index(self->rows, r);
		for (guint c = 0; c < self->columns->len; c++)
			msbctl_cell_clear(&cells[c]);
		g_free(cells);
	}
	g_ptr_array_unref(self->rows);
	g_array_unref(self->columns);
	g_free(self);
}

guint
msbctl_table_add_column(MsbctlTable *self, const gchar *header, const gchar *json_key,
                        MsbctlColumnKind kind)
{
	MsbctlColumn column = {g_strdup(header), g_strdup(json_key), kind};

	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail(header != NULL || json_key != NULL, 0);
	g_return_val_if_fail(self->rows->len == 0, 0);
	g_array_append_val(self->columns, column);
	return self->columns->len - 1;
}

guint
msbctl_table_get_n_rows(MsbctlTable *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->rows->len;
}

void
msbctl_table_add_row(MsbctlTable *self)
{
	g_return_if_fail(self != NULL);
	g_ptr_array_add(self->rows, g_new0(MsbctlCell, self->columns->len));
}

/* The cell @column of the last row, emptied for a new value. */
static MsbctlCell *
msbctl_table_cell(MsbctlTable *self, guint column)
{
	MsbctlCell *cells;

	g_return_val_if_fail(self->rows->len > 0, NULL);
	g_return_val_if_fail(column < self->columns->len, NULL);
	cells = g_ptr_array_index(self->rows, self->rows->len - 1);
	msbctl_cell_clear(&cells[column]);
	return &cells[column];
}

void
msbctl_table_set_text(MsbctlTable *self, guint column, const gchar *text)
{
	MsbctlCell *cell;

	g_return_if_fail(self != NULL);
	cell = msbctl_table_cell(self, column);
	if (cell == NULL || text == NULL)
		return;
	cell->text = g_strdup(text);
	cell->json = json_node_init_string(json_node_alloc(), text);
}

void
msbctl_table_set_int(MsbctlTable *self, guint column, gint64 value, const gchar *display)
{
	MsbctlCell *cell;

	g_return_if_fail(self != NULL);
	cell = msbctl_table_cell(self, column);
	if (cell == NULL)
		return;
	cell->text =
	        display != NULL ? g_strdup(display) : g_strdup_printf("%" G_GINT64_FORMAT, value);
	cell->json = json_node_init_int(json_node_alloc(), value);
}

void
msbctl_table_set_uint(MsbctlTable *self, guint column, guint64 value, const gchar *display)
{
	MsbctlCell *cell;

	g_return_if_fail(self != NULL);
	cell = msbctl_table_cell(self, column);
	if (cell == NULL)
		return;
	cell->text =
	        display != NULL ? g_strdup(display) : g_strdup_printf("%" G_GUINT64_FORMAT, value);
	/* JSON integers are signed 64-bit in json-glib; beyond that a double is the honest value */
	if (value <= G_MAXINT64)
		cell->json = json_node_init_int(json_node_alloc(), (gint64)value);
	else
		cell->json = json_node_init_double(json_node_alloc(), (gdouble)value);
}

void
msbctl_table_set_bool(MsbctlTable *self, guint column, gboolean value)
{
	MsbctlCell *cell;

	g_return_if_fail(self != NULL);
	cell = msbctl_table_cell(self, column);
	if (cell == NULL)
		return;
	cell->text = g_strdup(value ? _("yes") : _("no"));

	cell->json = json_node_init_boolean(json_node_alloc(), value);
}

void
msbctl_table_set_json(MsbctlTable *self, guint column, JsonNode *json, const gchar *display)
{
	MsbctlCell *cell;

	g_return_if_fail(self != NULL);
	g_return_if_fail(json != NULL);
	cell = msbctl_table_cell(self, column);
	if (cell == NULL) {
		json_node_unref(json);
		return;
	}
	cell->text = g_strdup(display);
	cell->json = json;
}

static gint
msbctl_table_compare_rows(gconstpointer a, gconstpointer b, gpointer user_data)
{
	const MsbctlCell *ra = *(const MsbctlCell *const *)a;
	const MsbctlCell *rb = *(const MsbctlCell *const *)b;
	guint column = GPOINTER_TO_UINT(user_data);

	return g_strcmp0(ra[column].text, rb[column].text);
}

void
msbctl_table_sort(MsbctlTable *self, guint column)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(column < self->columns->len);
	g_ptr_array_sort_with_data(self->rows, msbctl_table_compare_rows, GUINT_TO_POINTER(column));
}

gchar *
msbctl_escape_text(const gchar *text)
{
	GString *out = g_string_new(NULL);
	const gchar *p = text;
	const gchar *end = text + strlen(text);

	while (p < end) {
		gunichar c = g_utf8_get_char_validated(p, end - p);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_printf(out, "\\x%02x", (guint)(guchar)*p);
			p++;
			continue;
		}
		if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c == '\r')
			g_string_append(out, "\\r");
		else if (c == '\\')
			g_string_append(out, "\\\\");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else if (g_unichar_type(c) == G_UNICODE_CONTROL || c == 0x2028 || c == 0x2029)
			g_string_append_printf(out, "\\u%04x", c);
		else
			g_string_append_len(out, p, g_utf8_next_char(p) - p);
		p = g_utf8_next_char(p);
	}
	return g_string_free(out, FALSE);
}

gsize
msbctl_display_width(const gchar *text)
{
	gsize width = 0;

	g_return_val_if_fail(text != NULL, 0);
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_iszerowidth(c))
			continue;
		width += g_unichar_iswide(c) ? 2 : 1;
	}
	return width;
}

/* The escaped text of a cell as printed. */
static gchar *
msbctl_table_cell_text(const MsbctlCell *cell)
{
	/* an empty value would shift the columns after it for a reader splitting on blanks */
	return cell->text != NULL && cell->text[0] != '\0' ? msbctl_escape_text(cell->text)
	                                                   : g_strdup("-");
}

static void
msbctl_pad(GString *out, gsize n)
{
	for (gsize i = 0; i < n; i++)
		g_string_append_c(out, ' ');
}

gchar *
msbctl_table_render_text(MsbctlTable *self)
{
	guint n_columns;
	guint n_rows;
	g_autofree gsize *widths = NULL;
	g_autofree gchar **texts = NULL; /* (n_rows + 1) * n_columns, the header row first */
	GString *out = g_string_new(NULL);

	g_return_val_if_fail(self != NULL, NULL);
	n_columns = self->columns->len;
	n_rows = self->rows->len;
	widths = g_new0(gsize, n_columns);
	texts = g_new0(gchar *, (gsize)(n_rows + 1) * n_columns);
	for (guint c = 0; c < n_columns; c++)
		texts[c] = g_strdup(g_array_index(self->columns, MsbctlColumn, c).header);
	for (guint r = 0; r < n_rows; r++) {
		const MsbctlCell *cells = g_ptr_array_index(self->rows, r);
		for (guint c = 0; c < n_columns; c++)
			texts[(r + 1) * n_columns + c] = msbctl_table_cell_text(&cells[c]);
	}
	for (guint i = 0; i < (n_rows + 1) * n_columns; i++) {
		if (texts[i % n_columns] != NULL)
			widths[i % n_columns] =
			        MAX(widths[i % n_columns], msbctl_display_width(texts[i]));
	}

	for (guint r = 0; r <= n_rows; r++) {
		gsize line_start = out->len;
		gboolean first = TRUE;
		for (guint c = 0; c < n_columns; c++) {
			const MsbctlColumn *column = &g_array_index(self->columns, MsbctlColumn, c);
			const gchar *text = texts[r * n_columns + c];
			gsize fill;

			if (column->header == NULL)
				continue; /* for JSON only */
			fill = widths[c] - msbctl_display_width(text);
			if (!first)
				g_string_append(out, "  ");
			first = FALSE;
			if (column->kind == MSBCTL_COLUMN_NUMBER) {
				msbctl_pad(out, fill);
				g_string_append(out, text);
			} else {
				g_string_append(out, text);
				msbctl_pad(out, fill);
			}
		}
		/* no trailing spaces after a left-aligned last column */
		while (out->len > line_start && out->str[out->len - 1] == ' ')
			g_string_truncate(out, out->len - 1);
		g_string_append_c(out, '\n');
	}
	for (guint i = 0; i < (n_rows + 1) * n_columns; i++)
		g_free(texts[i]);
	return g_string_free(out, FALSE);
}

gchar *
msbctl_table_render_record(MsbctlTable *self)
{
	const MsbctlCell *cells;
	gsize width = 0;
	GString *out;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->rows->len > 0, NULL);
	cells = g_ptr_array_index(self->rows, 0);
	for (guint c = 0; c < self->columns->len; c++) {
		const MsbctlColumn *column = &g_array_index(self->columns, MsbctlColumn, c);
		if (column->header != NULL)
			width = MAX(width, msbctl_display_width(column->header) + 1);
	}
	out = g_string_new(NULL);
	for (guint c = 0; c < self->columns->len; c++) {
		const MsbctlColumn *column = &g_array_index(self->columns, MsbctlColumn, c);
		g_autofree gchar *text = NULL;

		if (column->header == NULL)
			continue;
		text = msbctl_table_cell_text(&cells[c]);
		g_string_append_printf(out, "%s:", column->header);
		msbctl_pad(out, width - msbctl_display_width(column->header) - 1 + 2);
		g_string_append_printf(out, "%s\n", text);
	}
	return g_string_free(out, FALSE);
}

JsonNode *
msbctl_table_row_to_json(MsbctlTable *self, guint row)
{
	JsonObject *object;
	JsonNode *node;
	const MsbctlCell *cells;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(row < self->rows->len, NULL);
	cells = g_ptr_array_index(self->rows, row);
	object = json_object_new();
	for (guint c = 0; c < self->columns->len; c++) {
		const MsbctlColumn *column = &g_array_index(self->columns, MsbctlColumn, c);
		if (column->json_key == NULL)
			continue; /* for people only */
		json_object_set_member(object, column->json_key,
		                       cells[c].json != NULL ? json_node_copy(cells[c].json)
		                                             : json_node_new(JSON_NODE_NULL));
	}
	node = json_node_init_object(json_node_alloc(), object);
	json_object_unref(object);
	return node;
}

gchar *
msbctl_table_render_json(MsbctlTable *self, gboolean record)
{
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autofree gchar *text = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	if (record) {
		g_return_val_if_fail(self->rows->len > 0, NULL);
		root = msbctl_table_row_to_json(self, 0);
	} else {
		JsonArray *array = json_array_new();
		for (guint r = 0; r < self->rows->len; r++)
			json_array_add_element(array, msbctl_table_row_to_json(self, r));
		root = json_node_init_array(json_node_alloc(), array);
		json_array_unref(array);
	}
	json_generator_set_root(generator, root);
	json_generator_set_pretty(generator, TRUE);
	json_generator_set_indent(generator, 2);
	text = json_generator_to_data(generator, NULL);
	return g_strconcat(text, "\n", NULL);
}
