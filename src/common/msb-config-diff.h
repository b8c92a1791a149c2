/*
 * What changed between two versions of a program's settings, for a reload on SIGHUP (both
 * programs). The settings are compared as their "Key: Value" text (the programs' *_to_string()),
 * so a key added to that text is compared with no code here; a key becomes reloadable with one
 * line in the program's MsbConfigReloadable table, which also says which plain field of the
 * settings structure to copy.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A setting a running program takes over from a reloaded file: a field of plain data (no
 * pointers) of @size bytes at @offset in the program's settings structure. */
typedef struct {
	const gchar *key; /* PascalCase, as in the *_to_string() text */
	gsize offset;
	gsize size;
} MsbConfigReloadable;

#define MSB_CONFIG_RELOADABLE(type, key, field)                                  \
	{                                                                        \
		key, G_STRUCT_OFFSET(type, field), sizeof(((type *)NULL)->field) \
	}

typedef struct {
	gchar *key;
	gchar *old_value; /* as in the settings text; "" when the key was not there */
	gchar *new_value;
	const MsbConfigReloadable *reloadable; /* NULL: the change needs a restart */
} MsbConfigChange;

void
msb_config_change_free(MsbConfigChange *change);

/*
 * The keys whose values differ between @old_text and @new_text ("Key: Value" lines), in the
 * order of @new_text, then the keys only @old_text has. Returns MsbConfigChange*, empty when
 * nothing changed.
 */
GPtrArray *
msb_config_diff(const gchar *old_text, const gchar *new_text, const MsbConfigReloadable *table,
                guint n_table);

/* Copy the field of every reloadable change from @loaded into @current (same structure type). */
void
msb_config_apply_changes(gpointer current, gconstpointer loaded, GPtrArray *changes);

/*
 * Log @changes from reloading @origin: each applied key "old -> new", then the keys that changed
 * but need a restart; one line when nothing changed.
 */
void
msb_config_log_changes(GPtrArray *changes, const gchar *origin);

G_END_DECLS
