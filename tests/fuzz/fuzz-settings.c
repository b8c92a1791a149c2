/*
 * libFuzzer target for the settings files of both programs: the "Key: Value" parser
 * (src/common/msb-config-file.c) and the two key tables and value checks on top of it
 * (src/common/msb-settings.c, src/persistence/msb-persistence-settings.c).
 *
 * Input: a selector byte (bit 0: 0 the broker's settings, 1 the persistence service's), then
 * the file's bytes.
 *
 * Oracles, each an abort:
 *   - a refusal is an MSB_CONFIG_ERROR (or a G_IO_ERROR) with a message naming the origin;
 *   - accepted settings, printed with *_to_string(), load again, and print the same text;
 *   - the parser alone: every entry's key and value are valid UTF-8 and its line is in range.
 */
#include <gio/gio.h>
#include <string.h>

#include "fuzz-common.h"
#include "msb-config-file.h"
#include "msb-persistence-settings.h"
#include "msb-settings.h"

#define FUZZ_ORIGIN "fuzz.yaml"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init_logging();
	/* "~" in socket paths expands to this, the same on every run */
	g_setenv("HOME", "/nonexistent-fuzz-home", TRUE);
	return 0;
}

static void
fuzz_check_error(const GError *error)
{
	FUZZ_CHECK(error != NULL);
	FUZZ_CHECK(error->domain == MSB_CONFIG_ERROR || error->domain == G_IO_ERROR);
	FUZZ_CHECK(strstr(error->message, FUZZ_ORIGIN) != NULL);
}

static void
fuzz_parser(const gchar *text, gsize len)
{
	g_autoptr(MsbConfigFile) cf = NULL;
	g_autoptr(GError) error = NULL;
	guint lines = 1;

	for (gsize i = 0; i < len; i++)
		lines += text[i] == '\n';
	cf = msb_config_file_new_from_data(text, (gssize)len, FUZZ_ORIGIN, &error);
	if (cf == NULL) {
		fuzz_check_error(error);
		return;
	}
	for (guint i = 0; i < msb_config_file_get_n_entries(cf); i++) {
		const MsbConfigEntry *e = msb_config_file_get_entry(cf, i);
		FUZZ_CHECK(g_utf8_validate(e->key, -1, NULL) && e->key[0] != '\0');
		FUZZ_CHECK(g_utf8_validate(e->value, -1, NULL));
		FUZZ_CHECK(e->line >= 1 && e->line <= lines);
	}
}

static void
fuzz_broker(const gchar *text, gsize len)
{
	g_autoptr(MsbSettings) s = NULL;
	g_autoptr(MsbSettings) again = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *printed = NULL;
	g_autofree gchar *reprinted = NULL;

	s = msb_settings_load_from_data(text, len, FUZZ_ORIGIN, &error);
	if (s == NULL) {
		fuzz_check_error(error);
		return;
	}
	printed = msb_settings_to_string(s);
	again = msb_settings_load_from_data(printed, strlen(printed), FUZZ_ORIGIN, &error);
	if (again == NULL)
		fprintf(stderr, "printed settings do not load: %s\n%s\n", error->message, printed);
	FUZZ_CHECK(again != NULL);
	reprinted = msb_settings_to_string(again);
	FUZZ_CHECK(strcmp(printed, reprinted) == 0);
}

static void
fuzz_persistence(const gchar *text, gsize len)
{
	g_autoptr(MsbPersistenceSettings) s = NULL;
	g_autoptr(MsbPersistenceSettings) again = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *printed = NULL;
	g_autofree gchar *reprinted = NULL;

	s = msb_persistence_settings_load_from_data(text, len, FUZZ_ORIGIN, &error);
	if (s == NULL) {
		fuzz_check_error(error);
		return;
	}
	printed = msb_persistence_settings_to_string(s);
	again = msb_persistence_settings_load_from_data(printed, strlen(printed), FUZZ_ORIGIN,
	                                                &error);
	if (again == NULL)
		fprintf(stderr, "printed settings do not load: %s\n%s\n", error->message, printed);
	FUZZ_CHECK(again != NULL);
	reprinted = msb_persistence_settings_to_string(again);
	FUZZ_CHECK(strcmp(printed, reprinted) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exactly sized copy: ASan sees a read past the end of the text */
	g_autofree gchar *text = NULL;
	gsize len;

	if (size < 1)
		return 0;
	len = size - 1;
	text = g_malloc(MAX(len, 1));
	memcpy(text, data + 1, len);
	fuzz_parser(text, len);
	if (data[0] & 1)
		fuzz_persistence(text, len);
	else
		fuzz_broker(text, len);
	return 0;
}
