/*
 * MsbMemory: rate-limited malloc_trim() for the broker's periodic tick. The hot path never pays
 * for it: it runs from the 1 s timer, and only after a large amount was freed.
 */
#define G_LOG_DOMAIN "msb-memory"

#include "msb-memory.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#ifdef __GLIBC__
static gsize
msb_memory_free_bytes(void)
{
	/* every arena's free chunks; pages a trim returned still count, hence the base */
	struct mallinfo2 mi = mallinfo2();

	return mi.fordblks;
}
#endif

void
msb_memory_init(MsbMemory *self)
{
	g_return_if_fail(self != NULL);
	self->trims = 0;
#ifdef __GLIBC__
	self->free_base = msb_memory_free_bytes();
#else
	self->free_base = 0;
#endif
	self->free_last = self->free_base;
}

gboolean
msb_memory_maybe_trim(MsbMemory *self)
{
#ifdef __GLIBC__
	gsize free_bytes;
	gboolean quiet;
	gint64 started_us;

	g_return_val_if_fail(self != NULL, FALSE);
	free_bytes = msb_memory_free_bytes();
	/* free memory reused since the last trim lowers the base: new frees count from there */
	if (free_bytes < self->free_base)
		self->free_base = free_bytes;
	quiet = free_bytes < self->free_last + MSB_MEMORY_TRIM_QUIET_MIN &&
	        self->free_last < free_bytes + MSB_MEMORY_TRIM_QUIET_MIN;
	self->free_last = free_bytes;
	if (free_bytes - self->free_base < MSB_MEMORY_TRIM_THRESHOLD &&
	    (!quiet || free_bytes - self->free_base < MSB_MEMORY_TRIM_QUIET_MIN))
		return FALSE;
	started_us = g_get_monotonic_time();
	(void)malloc_trim(0);
	self->trims++;
	g_debug("returned free memory to the system (%" G_GSIZE_FORMAT
	        " MiB free in the heap) in %" G_GINT64_FORMAT " us",
	        free_bytes / (1024 * 1024), g_get_monotonic_time() - started_us);
	self->free_base = self->free_last = msb_memory_free_bytes();
	return TRUE;
#else
	g_return_val_if_fail(self != NULL, FALSE);
	return FALSE;
#endif
}
