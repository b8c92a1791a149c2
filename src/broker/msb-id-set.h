/*
 * MsbIdSet: a set of message ids kept as sorted, disjoint, inclusive [from, to] ranges
 * (the reference broker's QueueWithIntervals, node.md §2.4).
 *
 * Queues hold their waiting ids in one, subscribers their in-flight ids. Ids arrive in ascending
 * runs and leave from the front, so appending at the end and popping the minimum are O(1); other
 * edits binary-search the ranges. An empty set remembers a cursor (the next id it expects), which
 * is what snapshots and the status API show as the range {from: cursor, to: cursor - 1}.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	gint64 from;
	gint64 to; /* inclusive */
} MsbIdRange;

typedef struct {
	MsbIdRange *ranges;
	guint head; /* first live range; ranges before it were popped */
	guint len;  /* one past the last live range */
	guint cap;
	gint64 count;
	gint64 cursor; /* when empty: the next id expected */
} MsbIdSet;

void
msb_id_set_init(MsbIdSet *set, gint64 cursor);
void
msb_id_set_clear(MsbIdSet *set);
/* Remove every id and set the cursor. */
void
msb_id_set_reset(MsbIdSet *set, gint64 cursor);

static inline gboolean
msb_id_set_is_empty(const MsbIdSet *set)
{
	return set->count == 0;
}

static inline gint64
msb_id_set_count(const MsbIdSet *set)
{
	return set->count;
}

static inline guint
msb_id_set_n_ranges(const MsbIdSet *set)
{
	return set->len - set->head;
}

static inline const MsbIdRange *
msb_id_set_range(const MsbIdSet *set, guint index)
{
	return &set->ranges[set->head + index];
}

/* Smallest id; the set must not be empty. */
static inline gint64
msb_id_set_min(const MsbIdSet *set)
{
	return set->ranges[set->head].from;
}

static inline gint64
msb_id_set_max(const MsbIdSet *set)
{
	return set->ranges[set->len - 1].to;
}

void
msb_id_set_add_range(MsbIdSet *set, gint64 from, gint64 to);

static inline void
msb_id_set_add(MsbIdSet *set, gint64 id)
{
	msb_id_set_add_range(set, id, id);
}

/* Union with @other. */
void
msb_id_set_merge(MsbIdSet *set, const MsbIdSet *other);

/* Remove and return the smallest id; the set must not be empty. */
gint64
msb_id_set_pop_min(MsbIdSet *set);

/* Remove up to @max ids from the front, but only from the first range: returns how many were
 * taken, starting at *first. Lets a delivery take a contiguous run in one step. */
gint64
msb_id_set_pop_run(MsbIdSet *set, gint64 max, gint64 *first);

gboolean
msb_id_set_contains(const MsbIdSet *set, gint64 id);

/* How many ids of [from, to] are in the set. */
gint64
msb_id_set_count_range(const MsbIdSet *set, gint64 from, gint64 to);

/* Remove [from, to] ∩ set; returns how many ids were removed. */
gint64
msb_id_set_remove_range(MsbIdSet *set, gint64 from, gint64 to);

static inline gboolean
msb_id_set_remove(MsbIdSet *set, gint64 id)
{
	return msb_id_set_remove_range(set, id, id) > 0;
}

/* Drop every id below @id. */
void
msb_id_set_remove_before(MsbIdSet *set, gint64 id);

/* The range to show for an empty set: {cursor, cursor - 1}. */
gint64
msb_id_set_cursor(const MsbIdSet *set);

/* "[0-9, 12, 15-20]" for logs and tests. */
gchar *
msb_id_set_to_string(const MsbIdSet *set);

G_END_DECLS
