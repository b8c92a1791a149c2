/*
 * MsbRateLimit: at most one log message per interval for an event that can repeat thousands of
 * times a second (accept() at the open-files limit, refused connections). The messages that are
 * left out are counted, so that the next one can say how many there were.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	gint64 interval_us;
	gint64 next_us;     /* monotonic time before which nothing is logged */
	guint64 suppressed; /* events since the last message that was logged */
} MsbRateLimit;

#define MSB_RATE_LIMIT_INIT(interval_us) \
	{                                \
		(interval_us), 0, 0      \
	}

/* TRUE when a message may be logged at @now (monotonic microseconds, from the caller's clock);
 * then *@suppressed is how many were left out since the last one. */
static inline gboolean
msb_rate_limit_check_at(MsbRateLimit *rl, gint64 now, guint64 *suppressed)
{
	if (now < rl->next_us) {
		rl->suppressed++;
		return FALSE;
	}
	rl->next_us = now + rl->interval_us;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return TRUE;
}

/* msb_rate_limit_check_at() with the monotonic clock. */
static inline gboolean
msb_rate_limit_check(MsbRateLimit *rl, guint64 *suppressed)
{
	return msb_rate_limit_check_at(rl, g_get_monotonic_time(), suppressed);
}

G_END_DECLS
