/*
 * One line of `msbctl monitor`: a broker signal, a property change of the broker, a topic or a
 * queue, an object added or removed, or the broker appearing on or leaving the bus; rendered as
 * text for people or as one JSON object per line (JSON Lines) for scripts. Pure: the monitor
 * (msbctl-monitor.c) fills an MsbctlEvent from the bus and prints what this returns.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
	MSBCTL_EVENT_SIGNAL,   /* a manager signal: @name, @values (the args tuple), @arg_names */
	MSBCTL_EVENT_CHANGED,  /* PropertiesChanged: @values (a{sv}), @invalidated */
	MSBCTL_EVENT_ADDED,    /* a topic or queue object appeared */
	MSBCTL_EVENT_REMOVED,  /* a topic or queue object went */
	MSBCTL_EVENT_APPEARED, /* the broker took its name: @name is its unique name */
	MSBCTL_EVENT_VANISHED, /* the broker left the bus */
} MsbctlEventKind;

typedef struct {
	MsbctlEventKind kind;
	gint64 time_us; /* since the epoch */
	const gchar *name;
	const gchar *object_path;        /* CHANGED, ADDED, REMOVED */
	const gchar *topic;              /* the subject: NULL for the broker itself */
	const gchar *queue;              /* NULL unless the subject is a queue */
	GVariant *values;                /* SIGNAL: a tuple; CHANGED: a{sv} */
	const gchar *const *arg_names;   /* SIGNAL: one per tuple child, or NULL */
	const gchar *const *invalidated; /* CHANGED: property names, or NULL */
} MsbctlEvent;

/* One line with its "\n". Text: the time in @tz (NULL: UTC) to the millisecond, then e.g.
 * "signal TopicCreated name='orders' topic='/org/…'" or "changed topic 'orders' MessageId=5";
 * JSON: {"time", "event", …} with the values as JSON (time always UTC). */
gchar *
msbctl_event_render(const MsbctlEvent *event, gboolean json, GTimeZone *tz);

G_END_DECLS
