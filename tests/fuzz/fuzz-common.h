/*
 * What the libFuzzer targets share: the check macro (an abort is what libFuzzer reports as a
 * crash) and a log writer that keeps the fuzzers quiet and fast but turns every critical (a
 * g_return_if_fail() that fired) into a crash, since hostile bytes must never reach one.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                 \
		}                                                                                \
	} while (0)

static GLogWriterOutput
fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
		g_log_writer_standard_streams(level, fields, n_fields, user_data);
		abort();
	}
	/* warnings about damaged input are expected by the thousand: drop them, unless asked */
	if (user_data != NULL && (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE)))
		return g_log_writer_standard_streams(level, fields, n_fields, user_data);
	return G_LOG_WRITER_HANDLED;
}

static inline void
fuzz_init_logging(void)
{
	/* MSB_FUZZ_VERBOSE=1 shows warnings, to see what a seed reaches */
	g_log_set_writer_func(fuzz_log_writer,
	                      g_getenv("MSB_FUZZ_VERBOSE") != NULL ? (gpointer) "verbose" : NULL,
	                      NULL);
}

/* Reads a little-endian u16 from @*p if two bytes remain, advancing; else 0. */
static inline guint
fuzz_take_u16(const guint8 **p, const guint8 *end)
{
	guint v;
	if (end - *p < 2)
		return 0;
	v = (guint)(*p)[0] | ((guint)(*p)[1] << 8);
	*p += 2;
	return v;
}
