/*
 * The YAML-style "Key: Value" settings files of the broker and of the persistence service
 * (contract README, "Settings file"). This layer knows the syntax and the value types, never a
 * particular program's keys: each program passes a key table naming its settings and maps the
 * typed values onto its own structure.
 *
 * Syntax, one setting a line:
 *   Key: Value           the key is letters, digits, '_', '-' or '.', at the start of the line;
 *                        blanks around the ':' are optional ("Key:Value", "Key : Value")
 *   # comment            whole line, or after a value when preceded by whitespace
 *   Key: Value // text   the text is ignored, with a warning (the original README does this)
 *   Key: "Value"         '...' or "..." quotes are stripped; inside "...", \" \\ \t \n escape;
 *                        inside '...', '' is a quote. Quote a value that contains " #" or " //".
 *   Key:                 an empty value
 * Blank lines and a "---" document marker are ignored. A line without ':', an indented line
 * (nested YAML), an unterminated quote or a key given twice is an error. Keys match exactly.
 *
 * Every error and warning starts with "ORIGIN:LINE: KEY: " so that the user can find the line.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MSB_CONFIG_ERROR (msb_config_error_quark())
GQuark
msb_config_error_quark(void);

typedef enum {
	MSB_CONFIG_ERROR_PARSE,         /* not "Key: Value" lines, or not UTF-8 */
	MSB_CONFIG_ERROR_DUPLICATE_KEY, /* one setting given twice, under one spelling or two */
	MSB_CONFIG_ERROR_INVALID_VALUE, /* a value of the wrong type or out of range */
	MSB_CONFIG_ERROR_NOT_FOUND,     /* a required key is absent */
} MsbConfigError;

/* Files above this are refused: a settings file is a few hundred bytes, a bigger one a mistake */
#define MSB_CONFIG_FILE_MAX_SIZE (1024 * 1024)

/* One setting of a program, under every spelling it accepts. */
typedef struct {
	gint id;               /* the program's identifier for the setting, ≥ 0 */
	const gchar *names[4]; /* accepted spellings, exact match; unused slots NULL */
} MsbConfigKey;

typedef struct {
	gchar *key;   /* as written in the file */
	gchar *value; /* quotes stripped, comments and surrounding whitespace removed */
	guint line;   /* 1-based */
	gint id;      /* MsbConfigKey.id after msb_config_file_bind(), else -1 */
} MsbConfigEntry;

typedef struct _MsbConfigFile MsbConfigFile;

/* Parse @data (@len bytes, or NUL-terminated when @len is -1); @origin names it in messages. */
MsbConfigFile *
msb_config_file_new_from_data(const gchar *data, gssize len, const gchar *origin, GError **error);

/*
 * Read and parse @path. When the file cannot be read the error is in the G_IO_ERROR domain (so
 * G_IO_ERROR_NOT_FOUND can be told apart) and names the file.
 */
MsbConfigFile *
msb_config_file_new_from_path(const gchar *path, GError **error);

/*
 * The settings search order both programs use: @path when given (it must exist), else
 * @default_path when it exists. Returns NULL with no error when neither applies, meaning "run on
 * the built-in defaults". Only "no such file" falls through: a default file that exists but
 * cannot be read is an error, since running on defaults instead would hide the mistake.
 */
MsbConfigFile *
msb_config_file_open(const gchar *path, const gchar *default_path, GError **error);

void
msb_config_file_free(MsbConfigFile *cf);

const gchar *
msb_config_file_get_origin(MsbConfigFile *cf);

/* The entries in file order. */
guint
msb_config_file_get_n_entries(MsbConfigFile *cf);
const MsbConfigEntry *
msb_config_file_get_entry(MsbConfigFile *cf, guint index);

/*
 * Warnings so far ("ORIGIN:LINE: ..." strings, element type gchar *, transfer none): ignored
 * "// text", unknown keys, and whatever the program adds with msb_config_file_warn(). They are
 * collected, never printed: the program logs them once it has set up logging.
 */
GPtrArray *
msb_config_file_get_warnings(MsbConfigFile *cf);

/*
 * Match every entry against @keys (@n_keys of them, kept by reference: use a static table). An
 * entry that matches no spelling is a warning ("unknown key ... ignored", with a "did you mean"
 * when only case, '_' or '-' differ); two entries for one setting, e.g. GrpcUrl and
 * persistence_grpc_url, are an error naming both lines. The typed getters below need this to have
 * succeeded.
 */
gboolean
msb_config_file_bind(MsbConfigFile *cf, const MsbConfigKey *keys, gsize n_keys, GError **error);

/* The entry for setting @id, or NULL when the file does not set it. */
const MsbConfigEntry *
msb_config_file_lookup(MsbConfigFile *cf, gint id);

/* MSB_CONFIG_ERROR_NOT_FOUND naming the setting's first spelling when the file does not set it. */
gboolean
msb_config_file_require(MsbConfigFile *cf, gint id, GError **error);

/*
 * Typed getters. When the file does not set @id they return TRUE and leave the output untouched,
 * so the caller fills in its default first. When the value does not parse or is out of range they
 * return FALSE with MSB_CONFIG_ERROR_INVALID_VALUE ("ORIGIN:LINE: KEY: what was wrong (expected
 * what)") and leave the output untouched. Ranges are inclusive.
 */

/* Any text, possibly empty; *@out points into @cf. */
gboolean
msb_config_file_get_string(MsbConfigFile *cf, gint id, const gchar **out, GError **error);

/* true/false, yes/no, on/off, 1/0, case-insensitive (on/off because YAML 1.1 has them). */
gboolean
msb_config_file_get_bool(MsbConfigFile *cf, gint id, gboolean *out, GError **error);

/* A decimal integer with an optional '-' in [@min, @max]. */
gboolean
msb_config_file_get_int64(MsbConfigFile *cf, gint id, gint64 min, gint64 max, gint64 *out,
                          GError **error);

/* A TCP/UDP port, 1 to 65535. */
gboolean
msb_config_file_get_port(MsbConfigFile *cf, gint id, guint16 *out, GError **error);

/* Any form of msb_duration_parse(), in microseconds, in [@min_us, @max_us]. */
gboolean
msb_config_file_get_duration(MsbConfigFile *cf, gint id, gint64 min_us, gint64 max_us,
                             gint64 *out_us, GError **error);

/*
 * Bytes: a plain integer, or an integer followed by KiB, MiB or GiB (1024-based, one space before
 * the suffix optional, case-insensitive), in [@min, @max]. KB/MB/GB are refused as ambiguous.
 */
gboolean
msb_config_file_get_size(MsbConfigFile *cf, gint id, gint64 min, gint64 max, gint64 *out,
                         GError **error);

/*
 * A numeric IPv4 or IPv6 address (host names are not looked up); *@out is freed and replaced by
 * a copy of the value.
 */
gboolean
msb_config_file_get_ip_address(MsbConfigFile *cf, gint id, gchar **out, GError **error);
/*
 * A Unix socket path, "~" expanded (msb_config_expand_home()), no longer than the operating
 * system can bind; *@out is freed and replaced, and an empty value sets it to NULL (no socket).
 */
gboolean
msb_config_file_get_socket_path(MsbConfigFile *cf, gint id, gchar **out, GError **error);

/* The user's home folder: $HOME first (g_get_home_dir() caches its answer for the life of the
 * process, and ignores a HOME set later, as a test or a service manager may do). */
const gchar *
msb_config_home_dir(void);
/* @value with "~" or a leading "~/" replaced by the home folder: the shell does that on a command
 * line, a settings file gets no shell. Free with g_free(). */
gchar *
msb_config_expand_home(const gchar *value);

/*
 * For checks the getters cannot make (a URL scheme, a value that depends on another key): set
 * MSB_CONFIG_ERROR_INVALID_VALUE with the "ORIGIN:LINE: KEY: " prefix of setting @id ("ORIGIN:
 * KEY: " with its first spelling when the file does not set it). Returns FALSE so that it can end
 * a check: `return msb_config_file_set_error(...)`.
 */
gboolean
msb_config_file_set_error(MsbConfigFile *cf, gint id, GError **error, const gchar *format, ...)
        G_GNUC_PRINTF(4, 5);

/* Add a warning with the prefix msb_config_file_set_error() would use. */
void
msb_config_file_warn(MsbConfigFile *cf, gint id, const gchar *format, ...) G_GNUC_PRINTF(3, 4);

/*
 * @text as it should appear in a message: in double quotes, with quotes, backslashes and control
 * characters escaped, cut with "…" after 64 characters.
 */
gchar *
msb_config_quote(const gchar *text);

/* Append @value as "..." with \ and " escaped, the way the parser reads quoted values back. */
void
msb_config_append_quoted(GString *out, const gchar *value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbConfigFile, msb_config_file_free)

G_END_DECLS
