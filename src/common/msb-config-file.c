/*
 * The "Key: Value" settings file parser and its typed getters (syntax in msb-config-file.h).
 *
 * Why not GKeyFile or a YAML library: the files are the original project's flat YAML subset, and
 * what matters is that every mistake is reported with the file, the line, the key and what was
 * expected. A full YAML parser would accept nested documents we would then have to reject, and a
 * GKeyFile would need [groups]. The parser keeps (key, value, line) triples; meaning is given
 * later, by the program's key table in msb_config_file_bind().
 */
#define G_LOG_DOMAIN "msb-config"

#include "msb-config-file.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "msb-duration.h"

/* longer values are cut in messages: a log line should not carry a whole pasted certificate */
#define QUOTE_MAX_CHARS 64

#define KIB G_GINT64_CONSTANT(1024)

struct _MsbConfigFile {
	gchar *origin;
	GPtrArray *entries;  /* of MsbConfigEntry *, file order */
	GPtrArray *warnings; /* of gchar * */
	const MsbConfigKey *keys;
	gsize n_keys;
	GHashTable *by_id; /* GINT_TO_POINTER(id) → MsbConfigEntry * (borrowed from entries) */
	gboolean bound;
};

G_DEFINE_QUARK(msb - config - error - quark, msb_config_error)

static void
entry_free(MsbConfigEntry *entry)
{
	g_free(entry->key);
	g_free(entry->value);
	g_free(entry);
}

gchar *
msb_config_quote(const gchar *text)
{
	GString *out = g_string_new("\"");
	guint chars = 0;

	g_return_val_if_fail(text != NULL, NULL);

	for (const gchar *p = text; *p != '\0'; p++) {
		guchar c = (guchar)*p;

		/* count characters, not bytes, and never cut inside a UTF-8 sequence */
		if ((c & 0xc0) != 0x80 && chars++ == QUOTE_MAX_CHARS) {
			g_string_append(out, "…");
			break;
		}
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (gchar)c);
	}
	g_string_append_c(out, '"');
	return g_string_free(out, FALSE);
}

void
msb_config_append_quoted(GString *out, const gchar *value)
{
	g_return_if_fail(out != NULL);
	g_return_if_fail(value != NULL);
	g_string_append_c(out, '"');
	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

static gboolean
is_blank(gchar c)
{
	return c == ' ' || c == '\t';
}

static gboolean
is_key_char(gchar c)
{
	return g_ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
}

static gboolean
parse_error(GError **error, const gchar *origin, guint line, const gchar *format, ...)
        G_GNUC_PRINTF(4, 5);

/* Set a PARSE error "ORIGIN:LINE: message". */
static gboolean
parse_error(GError **error, const gchar *origin, guint line, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_PARSE, "%s:%u: %s", origin, line,
	            msg);
	return FALSE;
}

/*
 * A quoted value starting at *@p (on the quote). Leaves *@p after the closing quote. YAML's
 * escapes are many; these are the ones a path or URL could need.
 */
static gboolean
parse_quoted(const gchar **p, GString *out, const gchar **reason)
{
	gchar quote = **p;
	const gchar *s = *p + 1;

	for (;; s++) {
		if (*s == '\0') {
			*reason = quote == '"' ? _("the closing \" is missing")
			                       : _("the closing ' is missing");
			return FALSE;
		}
		if (quote == '\'' && *s == '\'') {
			/* '' inside single quotes is one quote, as in YAML */
			if (s[1] == '\'') {
				g_string_append_c(out, '\'');
				s++;
				continue;
			}
			break;
		}
		if (quote == '"' && *s == '"')
			break;
		if (quote == '"' && *s == '\\') {
			s++;
			switch (*s) {
			case '"':
			case '\\':
			case '/':
				g_string_append_c(out, *s);
				break;
			case 'n':
				g_string_append_c(out, '\n');
				break;
			case 't':
				g_string_append_c(out, '\t');
				break;
			default:
				*reason =
				        _("unknown escape inside \"...\" (known: \\\" \\\\ \\/ \\n "
				          "\\t)");
				return FALSE;
			}
			continue;
		}
		g_string_append_c(out, *s);
	}
	*p = s + 1;
	return TRUE;
}

/*
 * Everything after the ':' of one line. @raw starts right after the ':', so a '#' or "//" there
 * (no whitespace before it) is part of the value, as YAML has it: "Url:#x" is the value "#x".
 */
static gboolean
parse_value(const gchar *raw, gchar **out_value, gchar **out_note, const gchar **reason)
{
	const gchar *s = raw;
	const gchar *rest;
	const gchar *cut = NULL;
	g_autoptr(GString) value = g_string_new(NULL);

	while (is_blank(*s))
		s++;

	if (*s == '"' || *s == '\'') {
		rest = s;
		if (!parse_quoted(&rest, value, reason))
			return FALSE;
		s = rest;
		while (is_blank(*s))
			s++;
		if (*s != '\0' && !(s > rest && (*s == '#' || g_str_has_prefix(s, "//")))) {
			*reason = _("unexpected text after the closing quote");
			return FALSE;
		}
		cut = s;
	} else {
		/* the first " #" or " //" ends the value */
		for (const gchar *q = s; *q != '\0'; q++) {
			if (q > raw && is_blank(q[-1]) &&
			    (*q == '#' || g_str_has_prefix(q, "//"))) {
				cut = q;
				break;
			}
		}
		if (cut == NULL)
			cut = s + strlen(s);
		g_string_append_len(value, s, cut - s);
		while (value->len > 0 && is_blank(value->str[value->len - 1]))
			g_string_truncate(value, value->len - 1);
	}

	*out_note = NULL;
	if (g_str_has_prefix(cut, "//"))
		*out_note = g_strstrip(g_strdup(cut + 2));
	*out_value = g_string_free(g_steal_pointer(&value), FALSE);
	return TRUE;
}

static gboolean
parse_line(MsbConfigFile *cf, gchar *line, guint lineno, GHashTable *seen, GError **error)
{
	gsize len = strlen(line);
	gchar *colon;
	gchar *key_end;
	const gchar *reason = NULL;
	g_autofree gchar *value = NULL;
	g_autofree gchar *note = NULL;
	MsbConfigEntry *entry;
	gpointer first_line;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	{
		g_autofree gchar *trimmed = g_strstrip(g_strdup(line));

		if (trimmed[0] == '\0' || trimmed[0] == '#')
			return TRUE;
		/* a YAML document start marker, accepted before the first setting */
		if (g_strcmp0(trimmed, "---") == 0 && cf->entries->len == 0)
			return TRUE;
	}
	if (is_blank(line[0]))
		return parse_error(error, cf->origin, lineno,
		                   _("indented line: nested YAML is not supported (expected \"Key: "
		                     "Value\" at the start of the line)"));

	colon = strchr(line, ':');
	if (colon == NULL) {
		g_autofree gchar *shown = msb_config_quote(line);

		return parse_error(error, cf->origin, lineno,
		                   _("%s has no ':' (expected \"Key: Value\")"), shown);
	}
	key_end = colon;
	while (key_end > line && is_blank(key_end[-1]))
		key_end--;
	for (const gchar *k = line; k < key_end; k++) {
		if (!is_key_char(*k)) {
			g_autofree gchar *key = g_strndup(line, key_end - line);
			g_autofree gchar *shown = msb_config_quote(key);

			return parse_error(
			        error, cf->origin, lineno,
			        _("%s is not a valid key (expected letters, digits, '_', "
			          "'-' or '.' before the ':')"),
			        shown);
		}
	}
	if (key_end == line)
		return parse_error(error, cf->origin, lineno,
		                   _("the key before the ':' is empty (expected \"Key: Value\")"));
	*key_end = '\0';

	if (!parse_value(colon + 1, &value, &note, &reason))
		return parse_error(error, cf->origin, lineno, "%s: %s", line, reason);

	if (g_hash_table_lookup_extended(seen, line, NULL, &first_line)) {
		g_set_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_DUPLICATE_KEY,
		            _("%s:%u: %s: set twice, on line %u and on line %u (keep one)"),
		            cf->origin, lineno, line, GPOINTER_TO_UINT(first_line), lineno);
		return FALSE;
	}

	entry = g_new0(MsbConfigEntry, 1);
	entry->key = g_strdup(line);
	entry->value = g_steal_pointer(&value);
	entry->line = lineno;
	entry->id = -1;
	g_ptr_array_add(cf->entries, entry);
	g_hash_table_insert(seen, entry->key, GUINT_TO_POINTER(lineno));

	if (note != NULL) {
		g_autofree gchar *shown = msb_config_quote(note);

		g_ptr_array_add(
		        cf->warnings,
		        g_strdup_printf(_("%s:%u: %s: the text after \" //\" is ignored (%s); "
		                          "use '#' for comments"),
		                        cf->origin, lineno, entry->key, shown));
	}
	return TRUE;
}

/* the 1-based line that @pos is on */
static guint
line_of(const gchar *data, const gchar *pos)
{
	guint line = 1;

	for (const gchar *p = data; p < pos; p++) {
		if (*p == '\n')
			line++;
	}
	return line;
}

MsbConfigFile *
msb_config_file_new_from_data(const gchar *data, gssize len, const gchar *origin, GError **error)
{
	g_autoptr(MsbConfigFile) cf = NULL;
	g_autoptr(GHashTable) seen = NULL;
	g_auto(GStrv) lines = NULL;
	g_autofree gchar *copy = NULL;
	const gchar *bad = NULL;
	gsize n;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(origin != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	n = len < 0 ? strlen(data) : (gsize)len;
	if (n > MSB_CONFIG_FILE_MAX_SIZE) {
		g_set_error(
		        error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_PARSE,
		        _("%s: %zu bytes is too large for a settings file (expected at most %d)"),
		        origin, n, MSB_CONFIG_FILE_MAX_SIZE);
		return NULL;
	}
	/* NUL bytes fail here too, which is what makes the strsplit below safe */
	if (n > 0 && !g_utf8_validate(data, (gssize)n, &bad)) {
		parse_error(error, origin, line_of(data, bad),
		            _("not UTF-8 text (expected a text file of \"Key: Value\" lines)"));
		return NULL;
	}

	cf = g_new0(MsbConfigFile, 1);
	cf->origin = g_strdup(origin);
	cf->entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
	cf->warnings = g_ptr_array_new_with_free_func(g_free);
	cf->by_id = g_hash_table_new(g_direct_hash, g_direct_equal);

	copy = g_strndup(n > 0 ? data : "", n);
	/* a UTF-8 byte order mark, as some Windows editors write it, is not part of the first key
	 */
	lines = g_strsplit(g_str_has_prefix(copy, "\xef\xbb\xbf") ? copy + 3 : copy, "\n", -1);
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (!parse_line(cf, lines[i], i + 1, seen, error))
			return NULL;
	}
	return g_steal_pointer(&cf);
}

MsbConfigFile *
msb_config_file_new_from_path(const gchar *path, GError **error)
{
	g_autoptr(GByteArray) buf = NULL;
	gint fd;
	gint saved_errno = 0;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	/*
	 * open()/read() rather than g_file_get_contents() so that a mistaken path such as /dev/zero
	 * fails at the size ceiling instead of reading forever, and so that errno maps onto
	 * G_IO_ERROR codes the caller can test (G_IO_ERROR_NOT_FOUND: fall back to defaults).
	 */
	fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		saved_errno = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved_errno),
		            _("Cannot open settings file %s: %s"), path, g_strerror(saved_errno));
		return NULL;
	}
	buf = g_byte_array_new();
	for (;;) {
		guint8 chunk[4096];
		gssize got = read(fd, chunk, sizeof(chunk));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			saved_errno = errno;
			break;
		}
		if (got == 0)
			break;
		g_byte_array_append(buf, chunk, (guint)got);
		if (buf->len > MSB_CONFIG_FILE_MAX_SIZE)
			break;
	}
	g_close(fd, NULL);
	if (saved_errno != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved_errno),
		            _("Cannot read settings file %s: %s"), path, g_strerror(saved_errno));
		return NULL;
	}
	return msb_config_file_new_from_data((const gchar *)buf->data, buf->len, path, error);
}

MsbConfigFile *
msb_config_file_open(const gchar *path, const gchar *default_path, GError **error)
{
	g_autoptr(GError) local = NULL;
	MsbConfigFile *cf;

	g_return_val_if_fail(path != NULL || default_path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (path != NULL)
		return msb_config_file_new_from_path(path, error);
	cf = msb_config_file_new_from_path(default_path, &local);
	if (cf == NULL && !g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
		g_propagate_error(error, g_steal_pointer(&local));
	return cf;
}

void
msb_config_file_free(MsbConfigFile *cf)
{
	if (cf == NULL)
		return;
	g_free(cf->origin);
	g_ptr_array_unref(cf->entries);
	g_ptr_array_unref(cf->warnings);
	g_hash_table_unref(cf->by_id);
	g_free(cf);
}

const gchar *
msb_config_file_get_origin(MsbConfigFile *cf)
{
	g_return_val_if_fail(cf != NULL, NULL);
	return cf->origin;
}

guint
msb_config_file_get_n_entries(MsbConfigFile *cf)
{
	g_return_val_if_fail(cf != NULL, 0);
	return cf->entries->len;
}

const MsbConfigEntry *
msb_config_file_get_entry(MsbConfigFile *cf, guint index)
{
	g_return_val_if_fail(cf != NULL, NULL);
	g_return_val_if_fail(index < cf->entries->len, NULL);
	return g_ptr_array_index(cf->entries, index);
}

GPtrArray *
msb_config_file_get_warnings(MsbConfigFile *cf)
{
	g_return_val_if_fail(cf != NULL, NULL);
	return cf->warnings;
}

/* lower case without '_' and '-', so that "debugmode" and "Debug_Mode" can be told what we meant */
static gchar *
fold_key(const gchar *key)
{
	GString *out = g_string_new(NULL);

	for (const gchar *p = key; *p != '\0'; p++) {
		if (*p != '_' && *p != '-')
			g_string_append_c(out, g_ascii_tolower(*p));
	}
	return g_string_free(out, FALSE);
}

static const MsbConfigKey *
find_key(MsbConfigFile *cf, const gchar *name)
{
	for (gsize i = 0; i < cf->n_keys; i++) {
		for (guint j = 0; j < G_N_ELEMENTS(cf->keys[i].names); j++) {
			if (cf->keys[i].names[j] == NULL)
				break;
			if (g_strcmp0(cf->keys[i].names[j], name) == 0)
				return &cf->keys[i];
		}
	}
	return NULL;
}

static const MsbConfigKey *
find_key_by_id(MsbConfigFile *cf, gint id)
{
	for (gsize i = 0; i < cf->n_keys; i++) {
		if (cf->keys[i].id == id)
			return &cf->keys[i];
	}
	return NULL;
}

static const gchar *
find_similar_spelling(MsbConfigFile *cf, const gchar *name)
{
	g_autofree gchar *folded = fold_key(name);

	for (gsize i = 0; i < cf->n_keys; i++) {
		for (guint j = 0; j < G_N_ELEMENTS(cf->keys[i].names); j++) {
			g_autofree gchar *other = NULL;

			if (cf->keys[i].names[j] == NULL)
				break;
			other = fold_key(cf->keys[i].names[j]);
			if (g_strcmp0(folded, other) == 0)
				return cf->keys[i].names[0];
		}
	}
	return NULL;
}

gboolean
msb_config_file_bind(MsbConfigFile *cf, const MsbConfigKey *keys, gsize n_keys, GError **error)
{
	g_return_val_if_fail(cf != NULL, FALSE);
	g_return_val_if_fail(keys != NULL || n_keys == 0, FALSE);
	g_return_val_if_fail(!cf->bound, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	cf->keys = keys;
	cf->n_keys = n_keys;
	for (guint i = 0; i < cf->entries->len; i++) {
		MsbConfigEntry *entry = g_ptr_array_index(cf->entries, i);
		const MsbConfigKey *key = find_key(cf, entry->key);
		MsbConfigEntry *first;

		if (key == NULL) {
			const gchar *similar = find_similar_spelling(cf, entry->key);

			if (similar != NULL)
				g_ptr_array_add(
				        cf->warnings,
				        g_strdup_printf(_("%s:%u: unknown key %s ignored (did "
				                          "you mean %s? keys are case-sensitive)"),
				                        cf->origin, entry->line, entry->key,
				                        similar));
			else
				g_ptr_array_add(cf->warnings,
				                g_strdup_printf(_("%s:%u: unknown key %s ignored"),
				                                cf->origin, entry->line,
				                                entry->key));
			continue;
		}
		g_return_val_if_fail(key->id >= 0, FALSE);
		first = g_hash_table_lookup(cf->by_id, GINT_TO_POINTER(key->id));
		if (first != NULL) {
			g_set_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_DUPLICATE_KEY,
			            _("%s:%u: %s: the same setting as %s on line %u (keep one)"),
			            cf->origin, entry->line, entry->key, first->key, first->line);
			return FALSE;
		}
		entry->id = key->id;
		g_hash_table_insert(cf->by_id, GINT_TO_POINTER(key->id), entry);
	}
	cf->bound = TRUE;
	return TRUE;
}

const MsbConfigEntry *
msb_config_file_lookup(MsbConfigFile *cf, gint id)
{
	g_return_val_if_fail(cf != NULL, NULL);
	g_return_val_if_fail(cf->bound, NULL);
	return g_hash_table_lookup(cf->by_id, GINT_TO_POINTER(id));
}

gboolean
msb_config_file_require(MsbConfigFile *cf, gint id, GError **error)
{
	const MsbConfigKey *key;

	g_return_val_if_fail(cf != NULL, FALSE);
	g_return_val_if_fail(cf->bound, FALSE);

	if (msb_config_file_lookup(cf, id) != NULL)
		return TRUE;
	key = find_key_by_id(cf, id);
	g_return_val_if_fail(key != NULL && key->names[0] != NULL, FALSE);
	g_set_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_NOT_FOUND,
	            _("%s: %s is not set (expected a line \"%s: VALUE\")"), cf->origin,
	            key->names[0], key->names[0]);
	return FALSE;
}

/* "ORIGIN:LINE: KEY: ", or "ORIGIN: KEY: " with the first spelling when the file lacks @id */
static gchar *
prefix_for(MsbConfigFile *cf, gint id)
{
	const MsbConfigEntry *entry = g_hash_table_lookup(cf->by_id, GINT_TO_POINTER(id));
	const MsbConfigKey *key;

	if (entry != NULL)
		return g_strdup_printf("%s:%u: %s: ", cf->origin, entry->line, entry->key);
	key = find_key_by_id(cf, id);
	return g_strdup_printf("%s: %s: ", cf->origin,
	                       key != NULL && key->names[0] != NULL ? key->names[0] : "?");
}

static gboolean
set_error_valist(MsbConfigFile *cf, gint id, GError **error, const gchar *format, va_list args)
        G_GNUC_PRINTF(4, 0);

static gboolean
set_error_valist(MsbConfigFile *cf, gint id, GError **error, const gchar *format, va_list args)
{
	g_autofree gchar *prefix = prefix_for(cf, id);
	g_autofree gchar *msg = g_strdup_vprintf(format, args);

	g_set_error(error, MSB_CONFIG_ERROR, MSB_CONFIG_ERROR_INVALID_VALUE, "%s%s", prefix, msg);
	return FALSE;
}

gboolean
msb_config_file_set_error(MsbConfigFile *cf, gint id, GError **error, const gchar *format, ...)
{
	va_list args;

	g_return_val_if_fail(cf != NULL, FALSE);
	g_return_val_if_fail(format != NULL, FALSE);

	va_start(args, format);
	set_error_valist(cf, id, error, format, args);
	va_end(args);
	return FALSE;
}

/* the getters' errors: "PREFIX\"VALUE\" WHAT (expected EXPECTED)" */
static gboolean
invalid_value(MsbConfigFile *cf, const MsbConfigEntry *entry, GError **error, const gchar *what,
              const gchar *expected)
{
	g_autofree gchar *shown = msb_config_quote(entry->value);

	return msb_config_file_set_error(cf, entry->id, error, _("%s %s (expected %s)"), shown,
	                                 what, expected);
}

void
msb_config_file_warn(MsbConfigFile *cf, gint id, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *prefix = NULL;
	g_autofree gchar *msg = NULL;

	g_return_if_fail(cf != NULL);
	g_return_if_fail(format != NULL);

	prefix = prefix_for(cf, id);
	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_ptr_array_add(cf->warnings, g_strconcat(prefix, msg, NULL));
}

static const MsbConfigEntry *
entry_for_get(MsbConfigFile *cf, gint id)
{
	g_return_val_if_fail(cf != NULL, NULL);
	g_return_val_if_fail(cf->bound, NULL);
	return g_hash_table_lookup(cf->by_id, GINT_TO_POINTER(id));
}

gboolean
msb_config_file_get_string(MsbConfigFile *cf, gint id, const gchar **out, GError **error)
{
	const MsbConfigEntry *entry;

	g_return_val_if_fail(cf != NULL && cf->bound, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);

	entry = entry_for_get(cf, id);
	if (entry != NULL)
		*out = entry->value;
	return TRUE;
}

gboolean
msb_config_file_get_bool(MsbConfigFile *cf, gint id, gboolean *out, GError **error)
{
	static const gchar *const yes[] = {"true", "yes", "on", "1"};
	static const gchar *const no[] = {"false", "no", "off", "0"};
	const MsbConfigEntry *entry;

	g_return_val_if_fail(cf != NULL && cf->bound, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	entry = entry_for_get(cf, id);
	if (entry == NULL)
		return TRUE;
	for (guint i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (g_ascii_strcasecmp(entry->value, yes[i]) == 0) {
			*out = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp(entry->value, no[i]) == 0) {
			*out = FALSE;
			return TRUE;
		}
	}
	return invalid_value(cf, entry, error, _("is not a boolean"),
	                     _("true or false; yes/no, on/off and 1/0 work too"));
}

/*
 * A decimal integer with an optional '-': no '+', no spaces, no hex, no trailing text, since
 * "4194304 " after quote stripping or "0x10" would otherwise surprise somebody.
 * *@too_big is set when the digits are fine but leave gint64.
 */
static gboolean
parse_integer(const gchar *text, const gchar **end, gint64 *out, gboolean *too_big)
{
	const gchar *p = text;
	gboolean negative = FALSE;
	guint64 v = 0;
	guint64 limit;

	*too_big = FALSE;
	if (*p == '-') {
		negative = TRUE;
		p++;
	}
	if (!g_ascii_isdigit(*p))
		return FALSE;
	/* |G_MININT64| is one more than G_MAXINT64 */
	limit = negative ? (guint64)G_MAXINT64 + 1 : (guint64)G_MAXINT64;
	for (; g_ascii_isdigit(*p); p++) {
		if (!g_uint64_checked_mul(&v, v, 10) ||
		    !g_uint64_checked_add(&v, v, (guint64)(*p - '0')) || v > limit)
			*too_big = TRUE;
	}
	*end = p;
	if (*too_big)
		return TRUE;
	*out = negative ? (gint64)((guint64)0 - v) : (gint64)v;
	return TRUE;
}

static gchar *
range_text(const gchar *noun, gint64 min, gint64 max, const gchar *unit)
{
	if (min == G_MININT64 && max == G_MAXINT64)
		return g_strdup(noun);
	if (max == G_MAXINT64)
		return g_strdup_printf(_("%s of at least %lld%s"), noun, (long long)min, unit);
	if (min == G_MININT64)
		return g_strdup_printf(_("%s of at most %lld%s"), noun, (long long)max, unit);
	/* TRANSLATORS: "a whole number from 1 to 100" */
	return g_strdup_printf(_("%s from %lld to %lld%s"), noun, (long long)min, (long long)max,
	                       unit);
}

gboolean
msb_config_file_get_int64(MsbConfigFile *cf, gint id, gint64 min, gint64 max, gint64 *out,
                          GError **error)
{
	const MsbConfigEntry *entry;
	const gchar *end = NULL;
	gint64 v = 0;
	gboolean too_big = FALSE;
	g_autofree gchar *expected = NULL;

	g_return_val_if_fail(cf != NULL && cf->bound, FALSE);
	g_return_val_if_fail(min <= max, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	entry = entry_for_get(cf, id);
	if (entry == NULL)
		return TRUE;
	expected = range_text(_("a whole number"), min, max, "");
	if (!parse_integer(entry->value, &end, &v, &too_big) || *end != '\0')
		return invalid_value(cf, entry, error, _("is not a whole number"), expected);
	if (too_big || v < min || v > max)
		return invalid_value(cf, entry, error, _("is out of range"), expected);
	*out = v;
	return TRUE;
}

gboolean
msb_config_file_get_port(MsbConfigFile *cf, gint id, guint16 *out, GError **error)
{
	const MsbConfigEntry *entry;
	const gchar *end = NULL;
	gint64 v = 0;
	gboolean too_big = FALSE;
	const gchar *expected = _("a port number from 1 to 65535");

	g_return_val_if_fail(cf != NULL && cf->bound, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	entry = entry_for_get(cf, id);
	if (entry == NULL)
		return TRUE;
	if (!parse_integer(entry->value, &end, &v, &too_big) || *end != '\0')
		return invalid_value(cf, entry, error, _("is not a port number"), expected);
	if (too_big || v < 1 || v > G_MAXUINT16)
		return invalid_value(cf, entry, error, _("is out of range"), expected);
	*out = (guint16)v;
	return TRUE;
}

gboolean
msb_config_file_get_duration(MsbConfigFile *cf, gint id, gint64 min_us, gint64 max_us,
                             gint64 *out_us, GError **error)
{
	const MsbConfigEntry *entry;
	g_autoptr(GError) local = NULL;
	g_autofree gchar *lo = NULL;
	g_autofree gchar *hi = NULL;
	g_autofree gchar *expected = NULL;
	gint64 v = 0;

	g_return_val_if_fail(cf != NULL && cf->bound, FALSE);
	g_return_val_if_fail(0 <= min_us && min_us <= max_us, FALSE);
	g_return_val_if_fail(out_us != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	entry = entry_for_get(cf, id);
	if (entry == NULL)
		return TRUE;
	if (!msb_duration_parse(entry->value, &v, &local))
		return msb_config_file_set_error(cf, id, error, "%s", local->message);
	if (v < min_us || v > max_us) {
		lo = msb_duration_to_string(min_us);
		hi = msb_duration_to_string(max_us);
		if (max_us == G_MAXINT64)
			expected = g_strdup_printf(_("a duration of at least %s"), lo);
		else
			expected = g_strdup_printf(_("a duration from %s to %s"), lo, hi);
		return invalid_value(cf, entry, error, _("is out of range"), expected);
	}
	*out_us = v;
	return TRUE;
}

/* "1073741824 (1 GiB)" when the number is a whole number of a binary unit, else "1000" */
static gchar *
size_text(gint64 v)
{
	static const gchar *const units[] = {"GiB", "MiB", "KiB"};
	gint64 scale = KIB * KIB * KIB;

	for (guint i = 0; i < G_N_ELEMENTS(units); i++, scale /= KIB) {
		if (v >= scale && v % scale == 0)
			return g_strdup_printf("%" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " %s)", v,
			                       v / scale, units[i]);
	}
	return g_strdup_printf("%" G_GINT64_FORMAT, v);
}

gboolean
msb_config_file_get_size(MsbConfigFile *cf, gint id, gint64 min, gint64 max, gint64 *out,
                         GError **error)
{
	const MsbConfigEntry *entry;
	const gchar *end = NULL;
	gint64 v = 0;
	gint64 scale = 1;
	gboolean too_big = FALSE;
	g_autofree gchar *lo = NULL;
	g_autofree gchar *hi = NULL;
	g_autofree gchar *expected = NULL;
	const gchar *syntax = _("a size in bytes such as 4194304 or 4 MiB");

	g_return_val_if_fail(cf != NULL && cf->bound, FALSE);
	g_return_val_if_fail(0 <= min && min <= max, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	entry = entry_for_get(cf, id);
	if (entry == NULL)
		return TRUE;
	if (entry->value[0] == '-')
		return invalid_value(cf, entry, error, _("is not a size (it cannot be negative)"),
		                     syntax);
	if (!parse_integer(entry->value, &end, &v, &too_big))
		return invalid_value(cf, entry, error, _("is not a size"), syntax);
	if (*end == ' ')
		end++;
	if (*end != '\0') {
		if (g_ascii_strcasecmp(end, "KiB") == 0)
			scale = KIB;
		else if (g_ascii_strcasecmp(end, "MiB") == 0)
			scale = KIB * KIB;
		else if (g_ascii_strcasecmp(end, "GiB") == 0)
			scale = KIB * KIB * KIB;
		else
			/* KB/MB are ambiguous (1000 or 1024), so they are refused, not guessed */
			return invalid_value(cf, entry, error,
			                     _("is not a size (the unit may be KiB, MiB or GiB, "
			                       "1024-based)"),
			                     syntax);
	}
	if (!too_big && v > G_MAXINT64 / scale)
		too_big = TRUE;
	lo = size_text(min);
	hi = size_text(max);
	if (max == G_MAXINT64)
		expected = g_strdup_printf(_("a size of at least %s bytes"), lo);
	else
		expected = g_strdup_printf(_("a size from %s to %s bytes"), lo, hi);
	if (too_big || v * scale < min || v * scale > max)
		return invalid_value(cf, entry, error, _("is out of range"), expected);
	*out = v * scale;
	return TRUE;
}

gboolean
msb_config_file_get_ip_address(MsbConfigFile *cf, gint id, gchar **out, GError **error)
{
	const gchar *value = NULL;
	g_autoptr(GInetAddress) addr = NULL;

	g_return_val_if_fail(out != NULL, FALSE);
	if (!msb_config_file_get_string(cf, id, &value, error))
		return FALSE;
	if (value == NULL)
		return TRUE;
	addr = g_inet_address_new_from_string(value);
	if (addr == NULL) {
		g_autofree gchar *shown = msb_config_quote(value);
		return msb_config_file_set_error(
		        cf, id, error,
		        _("%s is not an IP address (expected a numeric IPv4 or IPv6 address such "
		          "as "
		          "0.0.0.0, 127.0.0.1 or ::; host names are not looked up)"),
		        shown);
	}
	g_free(*out);
	*out = g_strdup(value);
	return TRUE;
}

gboolean
msb_config_file_get_socket_path(MsbConfigFile *cf, gint id, gchar **out, GError **error)
{
	const gchar *value = NULL;
	g_autofree gchar *path = NULL;
	struct sockaddr_un addr_un;

	g_return_val_if_fail(out != NULL, FALSE);
	if (!msb_config_file_get_string(cf, id, &value, error))
		return FALSE;
	if (value == NULL)
		return TRUE;
	if (value[0] == '\0') {
		g_clear_pointer(out, g_free);
		return TRUE;
	}
	path = msb_config_expand_home(value);
	/* a longer path cannot be bound at all, so say so now instead of at start-up */
	if (strlen(path) >= sizeof(addr_un.sun_path))
		return msb_config_file_set_error(cf, id, error,
		                                 _("the path %s is %zu bytes long (expected a "
		                                   "socket path of at most %zu bytes, the limit "
		                                   "of the operating system)"),

		                                 path, strlen(path), sizeof(addr_un.sun_path) - 1);
	g_free(*out);
	*out = g_steal_pointer(&path);
	return TRUE;
}

const gchar *
msb_config_home_dir(void)
{
	const gchar *home = g_getenv("HOME");

	return home != NULL && home[0] != '\0' ? home : g_get_home_dir();
}

gchar *
msb_config_expand_home(const gchar *value)
{
	g_return_val_if_fail(value != NULL, NULL);
	if (strcmp(value, "~") == 0)
		return g_strdup(msb_config_home_dir());
	if (g_str_has_prefix(value, "~/"))
		return g_build_filename(msb_config_home_dir(), value + 2, NULL);
	return g_strdup(value);
}
