/*
 * Settings diffs for SIGHUP reloads: msb_config_diff() on "Key: Value" texts, and
 * msb_settings_reload() applying only the broker's reloadable keys.
 */
#include <string.h>

#include "msb-config-diff.h"
#include "msb-settings.h"

static const MsbConfigChange *
find_change(GPtrArray *changes, const gchar *key)
{
	for (guint i = 0; i < changes->len; i++) {
		const MsbConfigChange *c = g_ptr_array_index(changes, i);
		if (g_strcmp0(c->key, key) == 0)
			return c;
	}
	return NULL;
}

typedef struct {
	gint64 a;
	gboolean b;
	gint64 c;
} TestSettings;

static void
test_config_diff_text(void)
{
	static const MsbConfigReloadable table[] = {
	        MSB_CONFIG_RELOADABLE(TestSettings, "A", a),
	        MSB_CONFIG_RELOADABLE(TestSettings, "B", b),
	};
	g_autoptr(GPtrArray) none = NULL;
	g_autoptr(GPtrArray) changes = NULL;
	const MsbConfigChange *c;

	none = msb_config_diff("A: 1\nB: true\nC: x\n", "A: 1\nB: true\nC: x\n", table,
	                       G_N_ELEMENTS(table));
	g_assert_cmpuint(none->len, ==, 0);

	/* A changed (reloadable), C changed (restart), D new, E gone; B the same */
	changes = msb_config_diff("A: 1\nB: true\nC: x\nE: 5\n", "A: 2\nB: true\nC: y\nD: 4\n",
	                          table, G_N_ELEMENTS(table));
	g_assert_cmpuint(changes->len, ==, 4);
	c = g_ptr_array_index(changes, 0);
	g_assert_cmpstr(c->key, ==, "A");
	g_assert_cmpstr(c->old_value, ==, "1");
	g_assert_cmpstr(c->new_value, ==, "2");
	g_assert_true(c->reloadable == &table[0]);
	c = find_change(changes, "C");
	g_assert_nonnull(c);
	g_assert_cmpstr(c->old_value, ==, "x");
	g_assert_cmpstr(c->new_value, ==, "y");
	g_assert_null(c->reloadable);
	c = find_change(changes, "D");
	g_assert_nonnull(c);
	g_assert_cmpstr(c->old_value, ==, "");
	g_assert_cmpstr(c->new_value, ==, "4");
	c = find_change(changes, "E");
	g_assert_nonnull(c);
	g_assert_cmpstr(c->old_value, ==, "5");
	g_assert_cmpstr(c->new_value, ==, "");
	g_assert_null(find_change(changes, "B"));
}

static void
test_config_diff_apply(void)
{
	static const MsbConfigReloadable table[] = {
	        MSB_CONFIG_RELOADABLE(TestSettings, "A", a),
	        MSB_CONFIG_RELOADABLE(TestSettings, "B", b),
	};
	TestSettings current = {.a = 1, .b = FALSE, .c = 7};
	TestSettings loaded = {.a = 2, .b = FALSE, .c = 8};
	g_autoptr(GPtrArray) changes = NULL;

	changes = msb_config_diff("A: 1\nB: false\nC: 7\n", "A: 2\nB: false\nC: 8\n", table,
	                          G_N_ELEMENTS(table));
	msb_config_apply_changes(&current, &loaded, changes);
	g_assert_cmpint(current.a, ==, 2);
	g_assert_false(current.b);
	/* not reloadable: stays */
	g_assert_cmpint(current.c, ==, 7);
}

static MsbSettings *
load(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	MsbSettings *s = msb_settings_load_from_data(text, strlen(text), "test.yaml", &error);

	g_assert_no_error(error);
	g_assert_nonnull(s);
	return s;
}

static void
test_settings_reload(void)
{
	g_autoptr(MsbSettings) current = load("GrpcUrl: none\nDeliveryTimeout: 30s\nTcpPort: 6421\n"
	                                      "DebugMode: false\n");
	g_autoptr(MsbSettings) loaded = load("GrpcUrl: http://127.0.0.1:7124\nDeliveryTimeout: 2s\n"
	                                     "TcpPort: 7000\nDebugMode: true\n");
	g_autoptr(GPtrArray) changes = NULL;
	g_autoptr(MsbSettings) same = NULL;
	g_autoptr(GPtrArray) none = NULL;
	const MsbConfigChange *c;

	changes = msb_settings_reload(current, loaded);
	g_assert_cmpuint(changes->len, ==, 4);
	c = find_change(changes, "DeliveryTimeout");
	g_assert_nonnull(c);
	g_assert_nonnull(c->reloadable);
	g_assert_cmpstr(c->new_value, ==, "00:00:02");
	c = find_change(changes, "DebugMode");
	g_assert_nonnull(c);
	g_assert_nonnull(c->reloadable);
	c = find_change(changes, "TcpPort");
	g_assert_nonnull(c);
	g_assert_null(c->reloadable);
	c = find_change(changes, "GrpcUrl");
	g_assert_nonnull(c);
	g_assert_null(c->reloadable);

	/* the reloadable ones were applied, the others were not */
	g_assert_cmpint(current->delivery_timeout_us, ==, 2 * G_USEC_PER_SEC);
	g_assert_true(current->debug_mode);
	g_assert_cmpuint(current->tcp_port, ==, 6421);
	g_assert_null(current->grpc_url);

	/* reloading the same again: only the restart keys still differ */
	same = load("GrpcUrl: http://127.0.0.1:7124\nDeliveryTimeout: 2s\nTcpPort: 7000\n"
	            "DebugMode: true\n");
	none = msb_settings_reload(current, same);
	g_assert_cmpuint(none->len, ==, 2);
	g_assert_nonnull(find_change(none, "TcpPort"));
	g_assert_nonnull(find_change(none, "GrpcUrl"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config-diff/text", test_config_diff_text);
	g_test_add_func("/config-diff/apply", test_config_diff_apply);
	g_test_add_func("/config-diff/settings-reload", test_settings_reload);
	return g_test_run();
}
