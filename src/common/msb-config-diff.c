/*
 * Settings diffs for SIGHUP reloads, shared by the broker and the persistence service: compare
 * the "Key: Value" texts, copy the reloadable fields, log what changed and what did not apply.
 */
#define G_LOG_DOMAIN "msb-config"

#include "msb-config-diff.h"

#include <string.h>

void
msb_config_change_free(MsbConfigChange *change)
{
	if (change == NULL)
		return;
	g_free(change->key);
	g_free(change->old_value);
	g_free(change->new_value);
	g_free(change);
}

/* key → value of every "Key: Value" line; keys listed in @order in the order they appear */
static GHashTable *
msb_config_diff_parse(const gchar *text, GPtrArray *order)
{
	GHashTable *values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		const gchar *colon = strchr(lines[i], ':');
		gchar *key;

		if (colon == NULL || colon == lines[i])
			continue;
		key = g_strndup(lines[i], (gsize)(colon - lines[i]));
		if (g_hash_table_contains(values, key)) {
			g_free(key);
			continue;
		}
		colon++;
		while (*colon == ' ')
			colon++;
		if (order != NULL)
			g_ptr_array_add(order, key);
		g_hash_table_insert(values, key, g_strdup(colon));
	}
	return values;
}

static const MsbConfigReloadable *
msb_config_diff_find(const MsbConfigReloadable *table, guint n_table, const gchar *key)
{
	for (guint i = 0; i < n_table; i++) {
		if (g_strcmp0(table[i].key, key) == 0)
			return &table[i];
	}
	return NULL;
}

static void
msb_config_diff_add(GPtrArray *changes, const gchar *key, const gchar *old_value,
                    const gchar *new_value, const MsbConfigReloadable *table, guint n_table)
{
	MsbConfigChange *change = g_new0(MsbConfigChange, 1);

	change->key = g_strdup(key);
	change->old_value = g_strdup(old_value != NULL ? old_value : "");
	change->new_value = g_strdup(new_value != NULL ? new_value : "");
	change->reloadable = msb_config_diff_find(table, n_table, key);
	g_ptr_array_add(changes, change);
}

GPtrArray *
msb_config_diff(const gchar *old_text, const gchar *new_text, const MsbConfigReloadable *table,
                guint n_table)
{
	GPtrArray *changes = g_ptr_array_new_with_free_func((GDestroyNotify)msb_config_change_free);
	g_autoptr(GPtrArray) old_order = g_ptr_array_new();
	g_autoptr(GPtrArray) new_order = g_ptr_array_new();
	g_autoptr(GHashTable) old_values = NULL;
	g_autoptr(GHashTable) new_values = NULL;

	g_return_val_if_fail(table != NULL || n_table == 0, changes);

	old_values = msb_config_diff_parse(old_text, old_order);
	new_values = msb_config_diff_parse(new_text, new_order);
	for (guint i = 0; i < new_order->len; i++) {
		const gchar *key = g_ptr_array_index(new_order, i);
		const gchar *new_value = g_hash_table_lookup(new_values, key);
		const gchar *old_value = g_hash_table_lookup(old_values, key);

		if (g_strcmp0(old_value, new_value) != 0)
			msb_config_diff_add(changes, key, old_value, new_value, table, n_table);
	}
	for (guint i = 0; i < old_order->len; i++) {
		const gchar *key = g_ptr_array_index(old_order, i);

		if (!g_hash_table_contains(new_values, key))
			msb_config_diff_add(changes, key, g_hash_table_lookup(old_values, key),
			                    NULL, table, n_table);
	}
	return changes;
}

void
msb_config_apply_changes(gpointer current, gconstpointer loaded, GPtrArray *changes)
{
	g_return_if_fail(current != NULL);
	g_return_if_fail(loaded != NULL);
	g_return_if_fail(changes != NULL);

	for (guint i = 0; i < changes->len; i++) {
		const MsbConfigChange *change = g_ptr_array_index(changes, i);
		const MsbConfigReloadable *r = change->reloadable;

		if (r != NULL)
			memcpy((guint8 *)current + r->offset, (const guint8 *)loaded + r->offset,
			       r->size);
	}
}

void
msb_config_log_changes(GPtrArray *changes, const gchar *origin)
{
	g_autoptr(GString) restart = g_string_new(NULL);
	guint applied = 0;

	g_return_if_fail(changes != NULL);

	for (guint i = 0; i < changes->len; i++) {
		const MsbConfigChange *change = g_ptr_array_index(changes, i);

		if (change->reloadable == NULL) {
			g_string_append_printf(restart, "%s%s", restart->len > 0 ? ", " : "",
			                       change->key);
			continue;
		}
		g_message("reload: %s: %s -> %s", change->key, change->old_value,
		          change->new_value);
		applied++;
	}
	if (restart->len > 0)
		g_warning("reload: changed in %s but applied only after a restart: %s", origin,
		          restart->str);
	if (applied == 0 && restart->len == 0)
		g_message("reload: %s has no changes", origin);
}
