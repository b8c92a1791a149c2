/*
 * Rendering of msbctl monitor's events (see the header). Values are printed with
 * g_variant_print() in text, which quotes and escapes strings, and with json_gvariant_serialize()
 * in JSON.
 */
#define G_LOG_DOMAIN "msbctl"

#include <json-glib/json-glib.h>

#include "msbctl-event.h"

static const gchar *
msbctl_event_kind_name(MsbctlEventKind kind)
{
	switch (kind) {
	case MSBCTL_EVENT_SIGNAL:
		return "signal";
	case MSBCTL_EVENT_CHANGED:
		return "changed";
	case MSBCTL_EVENT_ADDED:
		return "added";
	case MSBCTL_EVENT_REMOVED:
		return "removed";
	case MSBCTL_EVENT_APPEARED:
		return "broker-appeared";
	case MSBCTL_EVENT_VANISHED:
		return "broker-vanished";
	}
	return "unknown";
}

static gchar *
msbctl_event_time(gint64 time_us, GTimeZone *tz)
{
	g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(time_us / G_USEC_PER_SEC);
	g_autoptr(GDateTime) dt = NULL;
	g_autofree gchar *seconds = NULL;
	gint ms = (gint)(time_us % G_USEC_PER_SEC / 1000);

	if (utc == NULL)
		return g_strdup("?");
	if (tz == NULL) {
		seconds = g_date_time_format(utc, "%Y-%m-%dT%H:%M:%S");
		return g_strdup_printf("%s.%03dZ", seconds, ms);
	}
	dt = g_date_time_to_timezone(utc, tz);
	seconds = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
	return g_strdup_printf("%s.%03d", seconds, ms);
}

/* "topic 'orders'", "queue 'orders'/'q'" or "broker" */
static void
msbctl_event_append_subject(GString *out, const MsbctlEvent *event)
{
	g_autoptr(GVariant) topic = NULL;
	g_autoptr(GVariant) queue = NULL;
	g_autofree gchar *topic_text = NULL;
	g_autofree gchar *queue_text = NULL;

	if (event->topic == NULL) {
		g_string_append(out, "broker");
		return;
	}
	topic = g_variant_ref_sink(g_variant_new_string(event->topic));
	topic_text = g_variant_print(topic, FALSE);
	if (event->queue == NULL) {
		g_string_append_printf(out, "topic %s", topic_text);
		return;
	}
	queue = g_variant_ref_sink(g_variant_new_string(event->queue));
	queue_text = g_variant_print(queue, FALSE);
	g_string_append_printf(out, "queue %s/%s", topic_text, queue_text);
}

static void
msbctl_event_append_value(GString *out, const gchar *name, GVariant *value)
{
	g_autofree gchar *text = g_variant_print(value, FALSE);
	g_string_append_printf(out, " %s=%s", name, text);
}

static gchar *
msbctl_event_render_text(const MsbctlEvent *event, GTimeZone *tz)
{
	g_autofree gchar *time = msbctl_event_time(event->time_us, tz);
	GString *out = g_string_new(time);

	g_string_append_printf(out, " %s", msbctl_event_kind_name(event->kind));
	switch (event->kind) {
	case MSBCTL_EVENT_SIGNAL:
		g_string_append_printf(out, " %s", event->name);
		for (gsize i = 0; event->values != NULL && i < g_variant_n_children(event->values);
		     i++) {
			g_autoptr(GVariant) value = g_variant_get_child_value(event->values, i);
			g_autofree gchar *fallback = g_strdup_printf("arg%" G_GSIZE_FORMAT, i);
			const gchar *name = fallback;

			if (event->arg_names != NULL &&
			    i < g_strv_length((gchar **)event->arg_names))
				name = event->arg_names[i];
			msbctl_event_append_value(out, name, value);
		}
		break;
	case MSBCTL_EVENT_CHANGED: {
		GVariantIter iter;
		const gchar *key;
		GVariant *value;

		g_string_append_c(out, ' ');
		msbctl_event_append_subject(out, event);
		if (event->values != NULL) {
			g_variant_iter_init(&iter, event->values);
			while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
				msbctl_event_append_value(out, key, value);
				g_variant_unref(value);
			}
		}
		for (guint i = 0; event->invalidated != NULL && event->invalidated[i] != NULL; i++)
			g_string_append_printf(out, " %s=?", event->invalidated[i]);
		break;
	}
	case MSBCTL_EVENT_ADDED:
	case MSBCTL_EVENT_REMOVED:
		g_string_append_c(out, ' ');
		msbctl_event_append_subject(out, event);
		g_string_append_printf(out, " %s", event->object_path);
		break;
	case MSBCTL_EVENT_APPEARED:
		g_string_append_printf(out, " %s", event->name != NULL ? event->name : "");
		break;
	case MSBCTL_EVENT_VANISHED:
		break;
	}
	g_string_append_c(out, '\n');
	return g_string_free(out, FALSE);
}

static gchar *
msbctl_event_render_json(const MsbctlEvent *event)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *time = msbctl_event_time(event->time_us, NULL);
	g_autofree gchar *text = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "time");
	json_builder_add_string_value(builder, time);
	json_builder_set_member_name(builder, "event");
	json_builder_add_string_value(builder, msbctl_event_kind_name(event->kind));
	if (event->kind == MSBCTL_EVENT_SIGNAL) {
		json_builder_set_member_name(builder, "signal");
		json_builder_add_string_value(builder, event->name);
		json_builder_set_member_name(builder, "args");
		json_builder_begin_object(builder);
		for (gsize i = 0; event->values != NULL && i < g_variant_n_children(event->values);
		     i++) {
			g_autoptr(GVariant) value = g_variant_get_child_value(event->values, i);
			g_autofree gchar *fallback = g_strdup_printf("arg%" G_GSIZE_FORMAT, i);

			json_builder_set_member_name(
			        builder,
			        event->arg_names != NULL &&
			                        i < g_strv_length((gchar **)event->arg_names)
			                ? event->arg_names[i]
			                : fallback);
			json_builder_add_value(builder, json_gvariant_serialize(value));
		}
		json_builder_end_object(builder);
	}
	if (event->kind == MSBCTL_EVENT_APPEARED) {
		json_builder_set_member_name(builder, "owner");
		json_builder_add_string_value(builder, event->name);
	}
	if (event->kind == MSBCTL_EVENT_CHANGED || event->kind == MSBCTL_EVENT_ADDED ||
	    event->kind == MSBCTL_EVENT_REMOVED) {
		json_builder_set_member_name(builder, "object");
		json_builder_add_string_value(builder, event->object_path);
		json_builder_set_member_name(builder, "kind");
		json_builder_add_string_value(builder, event->topic == NULL   ? "broker"
		                                       : event->queue == NULL ? "topic"
		                                                              : "queue");
		if (event->topic != NULL) {
			json_builder_set_member_name(builder, "topic");
			json_builder_add_string_value(builder, event->topic);
		}
		if (event->queue != NULL) {
			json_builder_set_member_name(builder, "queue");
			json_builder_add_string_value(builder, event->queue);
		}
	}
	if (event->kind == MSBCTL_EVENT_CHANGED) {
		GVariantIter iter;
		const gchar *key;
		GVariant *value;

		json_builder_set_member_name(builder, "changed");
		json_builder_begin_object(builder);
		if (event->values != NULL) {
			g_variant_iter_init(&iter, event->values);
			while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
				json_builder_set_member_name(builder, key);
				json_builder_add_value(builder, json_gvariant_serialize(value));
				g_variant_unref(value);
			}
		}
		json_builder_end_object(builder);
		json_builder_set_member_name(builder, "invalidated");
		json_builder_begin_array(builder);
		for (guint i = 0; event->invalidated != NULL && event->invalidated[i] != NULL; i++)
			json_builder_add_string_value(builder, event->invalidated[i]);
		json_builder_end_array(builder);
	}
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	text = json_generator_to_data(generator, NULL);
	return g_strconcat(text, "\n", NULL);
}

gchar *
msbctl_event_render(const MsbctlEvent *event, gboolean json, GTimeZone *tz)
{
	g_return_val_if_fail(event != NULL, NULL);
	return json ? msbctl_event_render_json(event) : msbctl_event_render_text(event, tz);
}
