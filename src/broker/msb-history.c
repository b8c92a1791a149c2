/*
 * MsbRate and MsbHistory: per-second counters rolled forward lazily (see msb-history.h).
 */
#define G_LOG_DOMAIN "msb-broker"

#include "msb-history.h"

#include <string.h>

void
msb_rate_add(MsbRate *rate, gint64 second, gint64 n)
{
	g_return_if_fail(rate != NULL);
	if (second > rate->second) {
		rate->last = second == rate->second + 1 ? rate->current : 0;
		rate->current = 0;
		rate->second = second;
	}
	rate->current += n;
}

gint64
msb_rate_get(const MsbRate *rate, gint64 second)
{
	g_return_val_if_fail(rate != NULL, 0);
	if (second <= rate->second)
		return rate->last;
	if (second == rate->second + 1)
		return rate->current;
	return 0;
}

static void
msb_history_push(MsbHistory *history, gint32 value)
{
	if (history->len < MSB_HISTORY_LEN) {
		history->values[(history->start + history->len) % MSB_HISTORY_LEN] = value;
		history->len++;
		return;
	}
	history->values[history->start] = value;
	history->start = (history->start + 1) % MSB_HISTORY_LEN;
}

gboolean
msb_history_roll(MsbHistory *history, gint64 second, gint32 value)
{
	gint64 gap;

	g_return_val_if_fail(history != NULL, FALSE);
	if (second <= history->second)
		return FALSE;
	/* seconds with nothing in them, between the one that closes and @second */
	gap = second - history->second - 1;
	if (value != 0) {
		if (history->values == NULL)
			history->values = g_new0(gint32, MSB_HISTORY_LEN);
		msb_history_push(history, value);
		history->last_nonzero = history->second;
	} else if (history->values != NULL) {
		msb_history_push(history, 0);
	}
	if (history->values != NULL) {
		if (second - 1 - history->last_nonzero >= MSB_HISTORY_LEN) {
			/* nothing but zeros left: give the memory back */
			msb_history_clear(history);
		} else {
			for (gint64 i = 0; i < MIN(gap, MSB_HISTORY_LEN); i++)
				msb_history_push(history, 0);
		}
	}
	history->second = second;
	return TRUE;
}

guint
msb_history_copy(const MsbHistory *history, gint32 *out)
{
	guint first;

	g_return_val_if_fail(history != NULL, 0);
	if (history->len == 0)
		return 0;
	/* the ring in two pieces: from the oldest to the end of the array, then from its start */
	first = MIN(history->len, MSB_HISTORY_LEN - history->start);
	memcpy(out, history->values + history->start, first * sizeof(gint32));
	memcpy(out + first, history->values, (history->len - first) * sizeof(gint32));
	return history->len;
}

void
msb_history_clear(MsbHistory *history)
{
	g_return_if_fail(history != NULL);
	g_clear_pointer(&history->values, g_free);
	history->start = 0;
	history->len = 0;
}
