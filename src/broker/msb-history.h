/*
 * Per-second statistics for the status page (node.md §6.4): MsbRate, a count per second of which
 * the last whole second is shown (publishes, messages, bytes read and written), and MsbHistory,
 * the last MSB_HISTORY_LEN whole seconds of a value (a topic's messages per second, a
 * subscriber's delivery latency).
 *
 * Both are rolled forward lazily, by whoever touches or reads them, with the second it is now:
 * seconds in which nothing happened are filled in with 0 at that moment. Nothing has to visit
 * every topic every second, so 100,000 idle topics cost no CPU; an idle history gives its memory
 * back once it holds nothing but zeros.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* how many seconds a history keeps (the status page shows two minutes) */
#define MSB_HISTORY_LEN 120

/* The second @us (monotonic µs) falls in. */
static inline gint64
msb_history_second(gint64 us)
{
	return us >= 0 ? us / G_USEC_PER_SEC : -((-us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
}

typedef struct {
	gint64 second;  /* the second being counted */
	gint64 current; /* counted in it so far */
	gint64 last;    /* the whole second before it */
} MsbRate;

void
msb_rate_add(MsbRate *rate, gint64 second, gint64 n);
/* What was counted in the whole second before @second (0 when nothing was). */
gint64
msb_rate_get(const MsbRate *rate, gint64 second);

typedef struct {
	gint64 second;       /* the second being accumulated (by the owner) */
	gint64 last_nonzero; /* the last closed second whose value was not 0 */
	gint32 *values;      /* ring of the closed seconds, NULL while it would hold only zeros */
	guint8 start;        /* the oldest */
	guint8 len;
} MsbHistory;

/*
 * Move to @second: the second being accumulated closes with @value (what its owner accumulated
 * in it), the seconds in between with 0. Returns TRUE when the second changed, and the owner
 * starts accumulating from 0 again. A @second before the current one is taken as the current
 * one (a clock never goes back, but a caller's "now" may be a little older).
 */
gboolean
msb_history_roll(MsbHistory *history, gint64 second, gint32 value);
/* Copy the closed seconds, oldest first, into @out (room for MSB_HISTORY_LEN); returns how many. */
guint
msb_history_copy(const MsbHistory *history, gint32 *out);
void
msb_history_clear(MsbHistory *history);

G_END_DECLS
