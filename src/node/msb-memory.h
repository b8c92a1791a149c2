/*
 * MsbMemory: gives memory freed by the broker back to the system. A consumed backlog frees
 * hundreds of MiB in sub-pages of a few dozen KiB, below malloc's mmap threshold: the heap keeps
 * them, and with a few live allocations above them it cannot shrink, so RSS stays at its peak
 * with nothing in memory. malloc_trim() returns the free pages inside the heap.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* malloc's free bytes grew this much since the last trim: trim, even while memory is being freed */
#define MSB_MEMORY_TRIM_THRESHOLD (32 * 1024 * 1024)
/* ... or this much, once they stopped changing (the rest of a backlog, after its last trim) */
#define MSB_MEMORY_TRIM_QUIET_MIN (4 * 1024 * 1024)

typedef struct {
	gsize free_base; /* malloc's free bytes after the last trim, or the lowest since */
	gsize free_last; /* at the previous call */
	guint64 trims;
} MsbMemory;

void
msb_memory_init(MsbMemory *self);
/*
 * Once a second or so (it costs a walk of malloc's free lists): trim when at least
 * MSB_MEMORY_TRIM_THRESHOLD bytes were freed since the last trim, or at least
 * MSB_MEMORY_TRIM_QUIET_MIN and the free bytes changed by less than that since the previous call.
 * Returns TRUE if it trimmed.
 */
gboolean
msb_memory_maybe_trim(MsbMemory *self);

G_END_DECLS
