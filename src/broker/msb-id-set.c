/*
 * MsbIdSet implementation. The live ranges are ranges[head, len); popping from the front only
 * advances head, and the array is compacted when it has to grow.
 */
#define G_LOG_DOMAIN "msb-id-set"

#include "msb-id-set.h"

#include <string.h>

void
msb_id_set_init(MsbIdSet *set, gint64 cursor)
{
	g_return_if_fail(set != NULL);
	memset(set, 0, sizeof(*set));
	set->cursor = cursor;
}

void
msb_id_set_clear(MsbIdSet *set)
{
	g_return_if_fail(set != NULL);
	g_clear_pointer(&set->ranges, g_free);
	set->head = set->len = set->cap = 0;
	set->count = 0;
}

void
msb_id_set_reset(MsbIdSet *set, gint64 cursor)
{
	g_return_if_fail(set != NULL);
	set->head = set->len = 0;
	set->count = 0;
	set->cursor = cursor;
}

static void
msb_id_set_make_room(MsbIdSet *set, guint extra)
{
	guint live = set->len - set->head;

	if (set->len + extra <= set->cap)
		return;
	if (set->head > 0) {
		memmove(set->ranges, set->ranges + set->head, live * sizeof(MsbIdRange));
		set->head = 0;
		set->len = live;
		if (set->len + extra <= set->cap)
			return;
	}
	set->cap = MAX(set->cap * 2, MAX(live + extra, 4u));
	set->ranges = g_renew(MsbIdRange, set->ranges, set->cap);
}

/* Replace the live ranges [lo, hi) with the @n ranges in @repl. */
static void
msb_id_set_splice(MsbIdSet *set, guint lo, guint hi, const MsbIdRange *repl, guint n)
{
	guint removed = hi - lo;

	if (n > removed) {
		guint lo_off = lo - set->head;
		guint hi_off = hi - set->head;
		msb_id_set_make_room(set, n - removed);
		lo = set->head + lo_off;
		hi = set->head + hi_off;
	}
	if (n != removed)
		memmove(set->ranges + lo + n, set->ranges + hi,
		        (set->len - hi) * sizeof(MsbIdRange));
	if (n > 0)
		memcpy(set->ranges + lo, repl, n * sizeof(MsbIdRange));
	set->len = set->len - removed + n;
	if (set->head == set->len)
		set->head = set->len = 0;
}

/* First live index whose range ends at or after @id (len if none). */
static guint
msb_id_set_lower_bound(const MsbIdSet *set, gint64 id)
{
	guint lo = set->head;
	guint hi = set->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].to < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
msb_id_set_add_range(MsbIdSet *set, gint64 from, gint64 to)
{
	MsbIdRange merged;
	gint64 overlap = 0;
	guint lo;
	guint hi;

	g_return_if_fail(set != NULL);
	g_return_if_fail(from >= 0 && from <= to && to < G_MAXINT64);

	/* the hot path: a run appended after everything we hold */
	if (set->len > set->head) {
		MsbIdRange *last = &set->ranges[set->len - 1];
		if (from > last->to + 1) {
			msb_id_set_make_room(set, 1);
			set->ranges[set->len].from = from;
			set->ranges[set->len].to = to;
			set->len++;
			set->count += to - from + 1;
			return;
		}
		if (from == last->to + 1) {
			last->to = to;
			set->count += to - from + 1;
			return;
		}
	} else {
		set->head = set->len = 0;
		msb_id_set_make_room(set, 1);
		set->ranges[0].from = from;
		set->ranges[0].to = to;
		set->len = 1;
		set->count = to - from + 1;
		return;
	}

	/* general case: merge with every range that overlaps or touches [from, to] */
	lo = msb_id_set_lower_bound(set, from - 1);
	merged.from = from;
	merged.to = to;
	for (hi = lo; hi < set->len && set->ranges[hi].from <= to + 1; hi++) {
		const MsbIdRange *r = &set->ranges[hi];
		gint64 ov_from = MAX(r->from, from);
		gint64 ov_to = MIN(r->to, to);
		if (ov_from <= ov_to)
			overlap += ov_to - ov_from + 1;
		merged.from = MIN(merged.from, r->from);
		merged.to = MAX(merged.to, r->to);
	}
	msb_id_set_splice(set, lo, hi, &merged, 1);
	set->count += (to - from + 1) - overlap;
}

void
msb_id_set_merge(MsbIdSet *set, const MsbIdSet *other)
{
	g_return_if_fail(set != NULL);
	g_return_if_fail(other != NULL);
	for (guint i = other->head; i < other->len; i++)
		msb_id_set_add_range(set, other->ranges[i].from, other->ranges[i].to);
}

static void
msb_id_set_became_empty(MsbIdSet *set, gint64 next)
{
	set->head = set->len = 0;
	set->count = 0;
	set->cursor = MAX(set->cursor, next);
}

gint64
msb_id_set_pop_min(MsbIdSet *set)
{
	gint64 first = 0;

	g_return_val_if_fail(set != NULL, -1);
	g_return_val_if_fail(set->count > 0, -1);
	msb_id_set_pop_run(set, 1, &first);
	return first;
}

gint64
msb_id_set_pop_run(MsbIdSet *set, gint64 max, gint64 *first)
{
	MsbIdRange *r;
	gint64 n;

	g_return_val_if_fail(set != NULL, 0);
	g_return_val_if_fail(first != NULL, 0);
	if (set->count == 0 || max <= 0)
		return 0;
	r = &set->ranges[set->head];
	n = MIN(max, r->to - r->from + 1);
	*first = r->from;
	r->from += n;
	set->count -= n;
	if (r->from > r->to) {
		set->head++;
		if (set->head == set->len)
			msb_id_set_became_empty(set, *first + n);
	}
	return n;
}

gboolean
msb_id_set_contains(const MsbIdSet *set, gint64 id)
{
	guint i;

	g_return_val_if_fail(set != NULL, FALSE);
	i = msb_id_set_lower_bound(set, id);
	return i < set->len && set->ranges[i].from <= id;
}

gint64
msb_id_set_count_range(const MsbIdSet *set, gint64 from, gint64 to)
{
	gint64 n = 0;

	g_return_val_if_fail(set != NULL, 0);
	if (from > to || set->count == 0)
		return 0;
	for (guint i = msb_id_set_lower_bound(set, from); i < set->len && set->ranges[i].from <= to;
	     i++)
		n += MIN(set->ranges[i].to, to) - MAX(set->ranges[i].from, from) + 1;
	return n;
}

gint64
msb_id_set_remove_range(MsbIdSet *set, gint64 from, gint64 to)
{
	MsbIdRange repl[2];
	guint n_repl = 0;
	gint64 removed = 0;
	gint64 max_before;
	guint lo;
	guint hi;

	g_return_val_if_fail(set != NULL, 0);
	from = MAX(from, 0);
	if (from > to || set->count == 0)
		return 0;
	max_before = msb_id_set_max(set);
	lo = msb_id_set_lower_bound(set, from);
	for (hi = lo; hi < set->len && set->ranges[hi].from <= to; hi++) {
		const MsbIdRange *r = &set->ranges[hi];
		removed += MIN(r->to, to) - MAX(r->from, from) + 1;
	}
	if (hi == lo)
		return 0;
	if (set->ranges[lo].from < from) {
		repl[n_repl].from = set->ranges[lo].from;
		repl[n_repl].to = from - 1;
		n_repl++;
	}
	if (set->ranges[hi - 1].to > to) {
		repl[n_repl].from = to + 1;
		repl[n_repl].to = set->ranges[hi - 1].to;
		n_repl++;
	}
	msb_id_set_splice(set, lo, hi, repl, n_repl);
	set->count -= removed;
	if (set->count == 0)
		msb_id_set_became_empty(set, MIN(to, max_before) + 1);
	return removed;
}

void
msb_id_set_remove_before(MsbIdSet *set, gint64 id)
{
	g_return_if_fail(set != NULL);
	if (id <= 0)
		return;
	msb_id_set_remove_range(set, 0, id - 1);
	if (set->count == 0)
		set->cursor = MAX(set->cursor, id);
}

gint64
msb_id_set_cursor(const MsbIdSet *set)
{
	g_return_val_if_fail(set != NULL, 0);
	if (set->count == 0)
		return set->cursor;
	return msb_id_set_min(set);
}

gchar *
msb_id_set_to_string(const MsbIdSet *set)
{
	GString *str = g_string_new("[");

	g_return_val_if_fail(set != NULL, NULL);
	for (guint i = set->head; i < set->len; i++) {
		const MsbIdRange *r = &set->ranges[i];
		if (i > set->head)
			g_string_append(str, ", ");
		if (r->from == r->to)
			g_string_append_printf(str, "%" G_GINT64_FORMAT, r->from);
		else
			g_string_append_printf(str, "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
			                       r->from, r->to);
	}
	g_string_append_c(str, ']');
	return g_string_free(str, FALSE);
}
