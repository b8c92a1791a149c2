/*
 * msbctl's administration commands over D-Bus (see the header). Listings read the object tree
 * through the generated object manager client (one GetManagedObjects call brings every topic and
 * queue with its properties) or the manager's proxy; changes call the manager's methods. What is
 * printed is built as an MsbctlTable so that the text and --json outputs hold the same rows.
 */
#define G_LOG_DOMAIN "msbctl"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "msb-i18n.h"

#include "msbctl-admin.h"
#include "msbctl-errors.h"
#include "msbctl-table.h"
#include "msbctl-values.h"

/* Queue ranges shown in a text table; --json has them all. */
#define MSBCTL_RANGES_SHOWN 4

static const gchar *msbctl_admin_environment_help =
        N_("Environment:\n"
           "  MSBCTL_BUS  \"session\" or \"system\": the bus when neither --session nor "
           "--system is given\n"
           "              (default: the system bus)\n\n");

int
msbctl_admin_parse(MsbctlAdmin *self, int *argc, char ***argv, const gchar *parameter_string,
                   const gchar *summary, const GOptionEntry *entries, gboolean with_json,
                   guint n_args)
{
	g_autoptr(GOptionContext) context = g_option_context_new(parameter_string);
	g_autoptr(GArray) all = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
	g_autoptr(GError) error = NULL;
	g_autofree gchar *description = NULL;
	const GOptionEntry bus_entries[] = {
	        {"system", 0, 0, G_OPTION_ARG_NONE, &self->system,
	         N_("Talk to the broker on the system bus (the default)"), NULL},
	        {"session", 0, 0, G_OPTION_ARG_NONE, &self->session,
	         N_("Talk to the broker on the session bus (a broker started with --session-bus)"),
	         NULL},
	};
	const GOptionEntry json_entry = {
	        "json",      'j',
	        0,           G_OPTION_ARG_NONE,
	        &self->json, N_("Print JSON for scripts instead of a table"),
	        NULL};

	for (guint i = 0; entries != NULL && entries[i].long_name != NULL; i++)
		g_array_append_val(all, entries[i]);
	if (with_json)
		g_array_append_val(all, json_entry);
	g_array_append_vals(all, bus_entries, G_N_ELEMENTS(bus_entries));

	/* the entries, the parameter string and the summary are marked N_(): GOption translates
	 * them; the description is put together here, so it is translated here */
	g_option_context_set_translation_domain(context, msb_i18n_get_domain());
	description =
	        g_strconcat(_(msbctl_admin_environment_help), msbctl_exit_statuses_help(), NULL);
	g_option_context_set_summary(context, summary);
	g_option_context_set_description(context, description);
	g_option_context_add_main_entries(context, (const GOptionEntry *)all->data, NULL);
	if (!g_option_context_parse(context, argc, argv, &error)) {
		g_printerr(_("%s: %s\nRun '%s --help' for the options.\n"), g_get_prgname(),
		           error->message, g_get_prgname());
		return MSBCTL_EXIT_USAGE;
	}
	/* GOption leaves the "--" that lets a name start with "-" */
	for (int i = 1; i < *argc; i++) {
		if (g_strcmp0((*argv)[i], "--") == 0) {
			memmove(&(*argv)[i], &(*argv)[i + 1], sizeof(gchar *) * (gsize)(*argc - i));
			(*argc)--;
			break;
		}
	}
	if ((guint)(*argc - 1) != n_args) {
		g_printerr(ngettext("%s: expected %s, got %d argument\nRun '%s --help' for the "
		                    "options.\n",
		                    "%s: expected %s, got %d arguments\nRun '%s --help' for the "
		                    "options.\n",
		                    *argc - 1),
		           g_get_prgname(),
		           parameter_string != NULL && parameter_string[0] != '\0'
		                   ? _(parameter_string)
		                   : _("no arguments"),
		           *argc - 1, g_get_prgname());
		return MSBCTL_EXIT_USAGE;
	}
	if (!msbctl_choose_bus(self->session, self->system, g_getenv("MSBCTL_BUS"), &self->bus_type,
	                       &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return MSBCTL_EXIT_USAGE;
	}
	return MSBCTL_EXIT_OK;
}

const gchar *
msbctl_admin_bus_label(MsbctlAdmin *self)
{
	return self->bus_type == G_BUS_TYPE_SESSION ? "session" : "system";
}

GDBusConnection *
msbctl_admin_connect(MsbctlAdmin *self, int *status)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection;

	msbctl_errors_init();
	connection = g_bus_get_sync(self->bus_type, NULL, &error);

	if (connection == NULL) {
		g_printerr(_("%s: cannot connect to the %s bus: %s\n"), g_get_prgname(),
		           msbctl_admin_bus_label(self), error->message);
		*status = MSBCTL_EXIT_UNREACHABLE;
	}
	return connection;
}

int
msbctl_admin_report(const GError *error)
{
	g_autofree gchar *message = msbctl_error_message(error);

	g_printerr("%s: %s\n", g_get_prgname(), message);
	return msbctl_error_exit_status(error);
}

int
msbctl_admin_report_absent(MsbctlAdmin *self)
{
	if (self->bus_type == G_BUS_TYPE_SESSION)
		g_printerr(_("%s: the broker is not on the %s bus (no one owns %s); is "
		             "my-service-bus running with --session-bus?\n"),
		           g_get_prgname(), msbctl_admin_bus_label(self), MSBCTL_BUS_NAME);
	else
		g_printerr(_("%s: the broker is not on the %s bus (no one owns %s); is "
		             "my-service-bus running, or was it started with --session-bus (then "
		             "use --session)?\n"),
		           g_get_prgname(), msbctl_admin_bus_label(self), MSBCTL_BUS_NAME);
	return MSBCTL_EXIT_UNREACHABLE;
}

/* The manager's proxy, its properties loaded when @with_properties; NULL after printing why. */
static MsbDbusBroker1 *
msbctl_admin_manager(MsbctlAdmin *self, gboolean with_properties, int *status)
{
	g_autoptr(GDBusConnection) connection = msbctl_admin_connect(self, status);
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *owner = NULL;
	GDBusProxyFlags flags =
	        G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS;

	if (connection == NULL)
		return NULL;
	if (!with_properties)
		flags |= G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES;
	manager = msb_dbus_broker1_proxy_new_sync(connection, flags, MSBCTL_BUS_NAME,
	                                          MSBCTL_MANAGER_PATH, NULL, &error);
	if (manager == NULL) {
		*status = msbctl_admin_report(error);
		return NULL;
	}
	owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(manager));
	if (owner == NULL) {
		*status = msbctl_admin_report_absent(self);
		return NULL;
	}
	return g_steal_pointer(&manager);
}

/* Every topic and queue object; NULL after printing why. */
static GDBusObjectManager *
msbctl_admin_objects(MsbctlAdmin *self, int *status)
{
	g_autoptr(GDBusConnection) connection = msbctl_admin_connect(self, status);
	g_autoptr(GDBusObjectManager) objects = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *owner = NULL;

	if (connection == NULL)
		return NULL;
	objects = msb_dbus_object_manager_client_new_sync(
	        connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, MSBCTL_BUS_NAME,
	        MSBCTL_MANAGER_PATH, NULL, &error);
	if (objects == NULL) {
		*status = msbctl_admin_report(error);
		return NULL;
	}
	owner = g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(objects));
	if (owner == NULL) {
		*status = msbctl_admin_report_absent(self);
		return NULL;
	}
	return g_steal_pointer(&objects);
}

static void
msbctl_admin_print_table(MsbctlAdmin *self, MsbctlTable *table, gboolean record)
{
	g_autofree gchar *text = NULL;

	if (self->json)
		text = msbctl_table_render_json(table, record);
	else if (record)
		text = msbctl_table_render_record(table);
	else
		text = msbctl_table_render_text(table);
	fputs(text, stdout);
}

/* A name for a message: escaped, so that a control character cannot garble the terminal. */
static gchar *
msbctl_admin_quote(const gchar *name)
{
	g_autofree gchar *escaped = msbctl_escape_text(name);
	return g_strdup_printf("\"%s\"", escaped);
}

/* ---- topics ---- */

int
msbctl_topics_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(GDBusObjectManager) objects = NULL;
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	g_autoptr(GTimeZone) local = g_time_zone_new_local();
	GList *list;
	int status;
	guint c_name, c_id, c_rate, c_persist, c_queues, c_cached, c_pending, c_deleted_text,
	        c_deleted, c_moment;

	status = msbctl_admin_parse(
	        &self, &argc, &argv, NULL,
	        N_("List the broker's topics: next message id, messages per "
	           "second, persist,\nqueues, messages cached and waiting to be "
	           "persisted, and for a soft-deleted\ntopic when it is deleted for "
	           "good."),
	        NULL, TRUE, 0);
	if (status != MSBCTL_EXIT_OK)
		return status;
	objects = msbctl_admin_objects(&self, &status);
	if (objects == NULL)
		return status;

	c_name = msbctl_table_add_column(table, _("TOPIC"), "name", MSBCTL_COLUMN_TEXT);
	c_id = msbctl_table_add_column(table, _("MESSAGE-ID"), "message_id", MSBCTL_COLUMN_NUMBER);
	c_rate = msbctl_table_add_column(table, _("MSG/S"), "messages_per_second",
	                                 MSBCTL_COLUMN_NUMBER);
	c_persist = msbctl_table_add_column(table, _("PERSIST"), "persist", MSBCTL_COLUMN_BOOL);
	c_queues = msbctl_table_add_column(table, _("QUEUES"), "queue_count", MSBCTL_COLUMN_NUMBER);
	c_cached = msbctl_table_add_column(table, _("CACHED"), "cached_messages",
	                                   MSBCTL_COLUMN_NUMBER);
	c_pending = msbctl_table_add_column(table, _("PENDING"), "pending_messages",
	                                    MSBCTL_COLUMN_NUMBER);
	c_deleted_text = msbctl_table_add_column(table, _("DELETED"), NULL, MSBCTL_COLUMN_TEXT);
	c_deleted = msbctl_table_add_column(table, NULL, "deleted", MSBCTL_COLUMN_BOOL);
	c_moment = msbctl_table_add_column(table, NULL, "hard_delete_moment", MSBCTL_COLUMN_TEXT);

	list = g_dbus_object_manager_get_objects(objects);
	for (GList *l = list; l != NULL; l = l->next) {
		MsbDbusBroker1Topic *topic = msb_dbus_object_peek_broker1_topic(l->data);
		gint64 moment;

		if (topic == NULL)
			continue;
		moment = msb_dbus_broker1_topic_get_hard_delete_moment(topic);
		msbctl_table_add_row(table);
		msbctl_table_set_text(table, c_name, msb_dbus_broker1_topic_get_name(topic));
		msbctl_table_set_int(table, c_id, msb_dbus_broker1_topic_get_message_id(topic),
		                     NULL);
		msbctl_table_set_uint(table, c_rate,
		                      msb_dbus_broker1_topic_get_messages_per_second(topic), NULL);
		msbctl_table_set_bool(table, c_persist, msb_dbus_broker1_topic_get_persist(topic));
		msbctl_table_set_uint(table, c_queues,
		                      msb_dbus_broker1_topic_get_queue_count(topic), NULL);
		msbctl_table_set_int(table, c_cached,
		                     msb_dbus_broker1_topic_get_cached_messages(topic), NULL);
		msbctl_table_set_int(table, c_pending,
		                     msb_dbus_broker1_topic_get_pending_messages(topic), NULL);
		msbctl_table_set_bool(table, c_deleted, msb_dbus_broker1_topic_get_deleted(topic));
		if (msb_dbus_broker1_topic_get_deleted(topic)) {
			g_autofree gchar *text = msbctl_format_hard_delete(TRUE, moment, local);
			/* "at the next tick" has no moment to give a script */
			g_autofree gchar *at_utc =
			        moment > 1 ? msbctl_format_moment(moment, NULL) : NULL;
			msbctl_table_set_text(table, c_deleted_text, text);
			msbctl_table_set_text(table, c_moment, at_utc);
		}
	}
	g_list_free_full(list, g_object_unref);
	msbctl_table_sort(table, c_name);
	msbctl_admin_print_table(&self, table, FALSE);
	return MSBCTL_EXIT_OK;
}

/* ---- queues ---- */

static gboolean
msbctl_admin_has_topic(GList *objects, const gchar *name)
{
	for (GList *l = objects; l != NULL; l = l->next) {
		MsbDbusBroker1Topic *topic = msb_dbus_object_peek_broker1_topic(l->data);
		if (topic != NULL && g_strcmp0(msb_dbus_broker1_topic_get_name(topic), name) == 0)
			return TRUE;
	}
	return FALSE;
}

int
msbctl_queues_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(GDBusObjectManager) objects = NULL;
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	GList *list;
	const gchar *name;
	int status;
	guint c_name, c_type, c_size, c_delivery, c_subscribers, c_ranges;

	status = msbctl_admin_parse(&self, &argc, &argv, N_("TOPIC"),
	                            N_("List a topic's queues: type, messages waiting, messages on "
	                               "delivery, subscribers\nand the ids waiting (as ranges)."),
	                            NULL, TRUE, 1);
	if (status != MSBCTL_EXIT_OK)
		return status;
	name = argv[1];
	objects = msbctl_admin_objects(&self, &status);
	if (objects == NULL)
		return status;

	c_name = msbctl_table_add_column(table, _("QUEUE"), "name", MSBCTL_COLUMN_TEXT);
	c_type = msbctl_table_add_column(table, _("TYPE"), "queue_type", MSBCTL_COLUMN_TEXT);
	c_size = msbctl_table_add_column(table, _("SIZE"), "size", MSBCTL_COLUMN_NUMBER);
	c_delivery = msbctl_table_add_column(table, _("ON-DELIVERY"), "on_delivery",
	                                     MSBCTL_COLUMN_NUMBER);
	c_subscribers = msbctl_table_add_column(table, _("SUBSCRIBERS"), "subscriber_count",
	                                        MSBCTL_COLUMN_NUMBER);
	c_ranges = msbctl_table_add_column(table, _("RANGES"), "ranges", MSBCTL_COLUMN_TEXT);

	list = g_dbus_object_manager_get_objects(objects);
	if (!msbctl_admin_has_topic(list, name)) {
		g_autofree gchar *quoted = msbctl_admin_quote(name);
		g_list_free_full(list, g_object_unref);
		g_printerr(_("%s: the broker has no topic %s\n"), g_get_prgname(), quoted);
		return MSBCTL_EXIT_NOT_FOUND;
	}
	for (GList *l = list; l != NULL; l = l->next) {
		MsbDbusBroker1Queue *queue = msb_dbus_object_peek_broker1_queue(l->data);
		GVariant *ranges;
		g_autofree gchar *ranges_text = NULL;

		if (queue == NULL || g_strcmp0(msb_dbus_broker1_queue_get_topic(queue), name) != 0)
			continue;
		ranges = msb_dbus_broker1_queue_get_ranges(queue);
		ranges_text = msbctl_format_ranges(ranges, MSBCTL_RANGES_SHOWN);
		msbctl_table_add_row(table);
		msbctl_table_set_text(table, c_name, msb_dbus_broker1_queue_get_name(queue));
		msbctl_table_set_text(table, c_type, msb_dbus_broker1_queue_get_queue_type(queue));
		msbctl_table_set_int(table, c_size, msb_dbus_broker1_queue_get_size(queue), NULL);
		msbctl_table_set_int(table, c_delivery,
		                     msb_dbus_broker1_queue_get_on_delivery(queue), NULL);
		msbctl_table_set_uint(table, c_subscribers,
		                      msb_dbus_broker1_queue_get_subscriber_count(queue), NULL);
		msbctl_table_set_json(table, c_ranges, msbctl_ranges_to_json(ranges), ranges_text);
	}
	g_list_free_full(list, g_object_unref);
	msbctl_table_sort(table, c_name);
	msbctl_admin_print_table(&self, table, FALSE);
	return MSBCTL_EXIT_OK;
}

/* ---- sessions ---- */

static void
msbctl_admin_set_lookup(MsbctlTable *table, guint column, GVariant *dict, const gchar *key,
                        gboolean bytes)
{
	g_autoptr(GVariant) value = g_variant_lookup_value(dict, key, NULL);

	if (value == NULL)
		return;
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
		msbctl_table_set_text(table, column, g_variant_get_string(value, NULL));
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT64)) {
		msbctl_table_set_int(table, column, g_variant_get_int64(value), NULL);
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT32)) {
		msbctl_table_set_int(table, column, g_variant_get_int32(value), NULL);
	} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64)) {
		guint64 v = g_variant_get_uint64(value);
		g_autofree gchar *display =
		        bytes ? g_format_size_full(v, G_FORMAT_SIZE_IEC_UNITS) : NULL;
		msbctl_table_set_uint(table, column, v, display);
	}
}

int
msbctl_sessions_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	g_autoptr(GVariant) sessions = NULL;
	g_autoptr(GError) error = NULL;
	GVariantIter iter;
	GVariant *dict;
	int status;
	guint c_id, c_name, c_kind, c_peer, c_version, c_protocol, c_connected, c_connected_text,
	        c_publishes, c_read, c_written;

	status = msbctl_admin_parse(
	        &self, &argc, &argv, NULL,
	        N_("List the connected client sessions (TCP, Unix socket and "
	           "HTTP): id, client name,\nkind, peer, client version, protocol "
	           "version, time connected, publishes and\nbytes read and "
	           "written."),
	        NULL, TRUE, 0);
	if (status != MSBCTL_EXIT_OK)
		return status;
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_list_sessions_sync(manager, &sessions, NULL, &error))
		return msbctl_admin_report(error);

	c_id = msbctl_table_add_column(table, _("ID"), "id", MSBCTL_COLUMN_NUMBER);
	c_name = msbctl_table_add_column(table, _("NAME"), "name", MSBCTL_COLUMN_TEXT);
	c_kind = msbctl_table_add_column(table, _("KIND"), "kind", MSBCTL_COLUMN_TEXT);
	c_peer = msbctl_table_add_column(table, _("PEER"), "peer", MSBCTL_COLUMN_TEXT);
	c_version = msbctl_table_add_column(table, _("VERSION"), "version", MSBCTL_COLUMN_TEXT);
	c_protocol = msbctl_table_add_column(table, _("PROTOCOL"), "protocol_version",
	                                     MSBCTL_COLUMN_NUMBER);
	c_connected_text =
	        msbctl_table_add_column(table, _("CONNECTED"), NULL, MSBCTL_COLUMN_NUMBER);
	c_connected =
	        msbctl_table_add_column(table, NULL, "connected_seconds", MSBCTL_COLUMN_NUMBER);
	c_publishes =
	        msbctl_table_add_column(table, _("PUBLISHES"), "publishes", MSBCTL_COLUMN_NUMBER);
	c_read = msbctl_table_add_column(table, _("READ"), "read_bytes", MSBCTL_COLUMN_NUMBER);
	c_written =
	        msbctl_table_add_column(table, _("WRITTEN"), "written_bytes", MSBCTL_COLUMN_NUMBER);

	g_variant_iter_init(&iter, sessions);
	while ((dict = g_variant_iter_next_value(&iter)) != NULL) {
		gint64 seconds = 0;

		msbctl_table_add_row(table);
		msbctl_admin_set_lookup(table, c_id, dict, "id", FALSE);
		msbctl_admin_set_lookup(table, c_name, dict, "name", FALSE);
		msbctl_admin_set_lookup(table, c_kind, dict, "kind", FALSE);
		msbctl_admin_set_lookup(table, c_peer, dict, "peer", FALSE);
		msbctl_admin_set_lookup(table, c_version, dict, "version", FALSE);
		msbctl_admin_set_lookup(table, c_protocol, dict, "protocol-version", FALSE);
		msbctl_admin_set_lookup(table, c_connected, dict, "connected-seconds", FALSE);
		if (g_variant_lookup(dict, "connected-seconds", "x", &seconds)) {
			g_autofree gchar *text = msbctl_format_seconds(seconds);
			msbctl_table_set_text(table, c_connected_text, text);
		}
		msbctl_admin_set_lookup(table, c_publishes, dict, "publishes", FALSE);
		msbctl_admin_set_lookup(table, c_read, dict, "read-bytes", TRUE);
		msbctl_admin_set_lookup(table, c_written, dict, "written-bytes", TRUE);
		g_variant_unref(dict);
	}
	msbctl_admin_print_table(&self, table, FALSE);
	return MSBCTL_EXIT_OK;
}

/* ---- status ---- */

int
msbctl_status_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(MsbctlTable) table = msbctl_table_new();
	g_autofree gchar *owner = NULL;
	int status;
	guint c_bus, c_owner, c_version, c_pversion, c_pstate, c_sessions, c_topics, c_rate;

	status = msbctl_admin_parse(
	        &self, &argc, &argv, NULL,
	        N_("Show the broker's totals: version, persistence service version "
	           "and state,\nsessions, topics and messages per second."),
	        NULL, TRUE, 0);
	if (status != MSBCTL_EXIT_OK)
		return status;
	manager = msbctl_admin_manager(&self, TRUE, &status);
	if (manager == NULL)
		return status;
	owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(manager));

	c_bus = msbctl_table_add_column(table, _("Bus"), "bus", MSBCTL_COLUMN_TEXT);
	c_owner =
	        msbctl_table_add_column(table, _("Unique name"), "unique_name", MSBCTL_COLUMN_TEXT);
	c_version = msbctl_table_add_column(table, _("Version"), "version", MSBCTL_COLUMN_TEXT);
	c_pversion = msbctl_table_add_column(table, _("Persistence version"), "persistence_version",
	                                     MSBCTL_COLUMN_TEXT);
	c_pstate = msbctl_table_add_column(table, _("Persistence state"), "persistence_state",
	                                   MSBCTL_COLUMN_TEXT);
	c_sessions = msbctl_table_add_column(table, _("Sessions"), "session_count",
	                                     MSBCTL_COLUMN_NUMBER);
	c_topics = msbctl_table_add_column(table, _("Topics"), "topic_count", MSBCTL_COLUMN_NUMBER);
	c_rate = msbctl_table_add_column(table, _("Messages per second"), "messages_per_second",
	                                 MSBCTL_COLUMN_NUMBER);
	msbctl_table_add_row(table);
	msbctl_table_set_text(table, c_bus, msbctl_admin_bus_label(&self));
	msbctl_table_set_text(table, c_owner, owner);
	msbctl_table_set_text(table, c_version, msb_dbus_broker1_get_version(manager));
	/* "" until the persistence service answered: shown as "-", JSON null */
	{
		const gchar *pversion = msb_dbus_broker1_get_persistence_version(manager);
		msbctl_table_set_text(table, c_pversion,
		                      pversion != NULL && pversion[0] != '\0' ? pversion : NULL);
	}
	msbctl_table_set_text(table, c_pstate, msb_dbus_broker1_get_persistence_state(manager));
	msbctl_table_set_uint(table, c_sessions, msb_dbus_broker1_get_session_count(manager), NULL);
	msbctl_table_set_uint(table, c_topics, msb_dbus_broker1_get_topic_count(manager), NULL);
	msbctl_table_set_uint(table, c_rate, msb_dbus_broker1_get_messages_per_second(manager),
	                      NULL);
	msbctl_admin_print_table(&self, table, TRUE);
	return MSBCTL_EXIT_OK;
}

/* ---- changes ---- */

int
msbctl_create_topic_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *quoted = NULL;
	int status;

	status = msbctl_admin_parse(&self, &argc, &argv, N_("TOPIC"),
	                            N_("Create a topic. Creating a topic that exists succeeds and "
	                               "changes nothing."),
	                            NULL, FALSE, 1);
	if (status != MSBCTL_EXIT_OK)
		return status;
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_create_topic_sync(manager, argv[1], &path, NULL, &error))
		return msbctl_admin_report(error);
	quoted = msbctl_admin_quote(argv[1]);
	g_print(_("Topic %s exists: %s\n"), quoted, path);
	return MSBCTL_EXIT_OK;
}

int
msbctl_delete_topic_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GTimeZone) local = g_time_zone_new_local();
	g_autofree gchar *in_text = NULL;
	g_autofree gchar *at_text = NULL;
	g_autofree gchar *quoted = NULL;
	g_autofree gchar *when = NULL;
	gint64 moment = 0;
	int status;
	const GOptionEntry entries[] = {
	        {"hard-delete-in", 0, 0, G_OPTION_ARG_STRING, &in_text,
	         N_("Delete it for good after DURATION (00:10:00, 600s, 1d 00:00:00); until then "
	            "restore-topic undoes it"),
	         N_("DURATION")},
	        {"at", 0, 0, G_OPTION_ARG_STRING, &at_text,
	         N_("Delete it for good at TIME, ISO 8601 (2026-12-31T23:00:00 is local time, "
	            "…Z is UTC), or \"now\""),
	         N_("TIME")},
	        {NULL},
	};

	status = msbctl_admin_parse(
	        &self, &argc, &argv, N_("TOPIC"),
	        N_("Soft-delete a topic: it refuses publishes and subscriptions "
	           "until it is restored\n(msbctl restore-topic) or its "
	           "hard-delete moment passes, when its messages\nare deleted for "
	           "good. Without --hard-delete-in or --at, that moment is the\n"
	           "broker's next periodic tick, as with the REST API. Deleting a "
	           "deleted topic\nmoves its moment."),
	        entries, FALSE, 1);
	if (status != MSBCTL_EXIT_OK)
		return status;
	if (!msbctl_parse_hard_delete_moment(in_text, at_text, g_get_real_time(), &moment,
	                                     &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return MSBCTL_EXIT_USAGE;
	}
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_delete_topic_sync(manager, argv[1], moment, NULL, &error))
		return msbctl_admin_report(error);
	quoted = msbctl_admin_quote(argv[1]);
	when = msbctl_format_moment(moment, local);
	if (when != NULL)
		g_print(_("Deleted topic %s; it goes for good at %s unless restored\n"), quoted,
		        when);
	else
		g_print(_("Deleted topic %s; it goes for good at the broker's next tick unless "
		          "restored\n"),
		        quoted);
	return MSBCTL_EXIT_OK;
}

int
msbctl_restore_topic_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *quoted = NULL;
	int status;

	status =
	        msbctl_admin_parse(&self, &argc, &argv, N_("TOPIC"),
	                           N_("Undo a soft delete (msbctl delete-topic) before the topic's "
	                              "hard-delete moment."),
	                           NULL, FALSE, 1);
	if (status != MSBCTL_EXIT_OK)
		return status;
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_restore_topic_sync(manager, argv[1], NULL, &error))
		return msbctl_admin_report(error);
	quoted = msbctl_admin_quote(argv[1]);
	g_print(_("Restored topic %s\n"), quoted);
	return MSBCTL_EXIT_OK;
}

int
msbctl_set_persist_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *quoted = NULL;
	gboolean persist = FALSE;
	int status;

	status = msbctl_admin_parse(
	        &self, &argc, &argv, N_("TOPIC on|off"),
	        N_("Whether messages published to TOPIC from now on are saved to "
	           "the persistence\nservice (on/off, yes/no, true/false, 1/0). "
	           "Messages already published keep\ntheir state."),
	        NULL, FALSE, 2);
	if (status != MSBCTL_EXIT_OK)
		return status;
	if (!msbctl_parse_bool(argv[2], &persist, &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return MSBCTL_EXIT_USAGE;
	}
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_set_topic_persist_sync(manager, argv[1], persist, NULL, &error))
		return msbctl_admin_report(error);
	quoted = msbctl_admin_quote(argv[1]);
	g_print(persist ? _("Topic %s: persist on\n") : _("Topic %s: persist off\n"), quoted);
	return MSBCTL_EXIT_OK;
}

int
msbctl_delete_queue_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *topic = NULL;
	g_autofree gchar *queue = NULL;
	int status;

	status = msbctl_admin_parse(
	        &self, &argc, &argv, N_("TOPIC QUEUE"),
	        N_("Remove a queue with its subscribers; their messages in flight "
	           "go with it and\ntheir sessions stay connected. A queue that is "
	           "not there is success."),
	        NULL, FALSE, 2);
	if (status != MSBCTL_EXIT_OK)
		return status;
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_delete_queue_sync(manager, argv[1], argv[2], NULL, &error))
		return msbctl_admin_report(error);
	topic = msbctl_admin_quote(argv[1]);
	queue = msbctl_admin_quote(argv[2]);
	g_print(_("Queue %s of topic %s is gone\n"), queue, topic);
	return MSBCTL_EXIT_OK;
}

int
msbctl_set_message_id_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *topic = NULL;
	g_autofree gchar *queue = NULL;
	gint64 id = 0;
	int status;

	status = msbctl_admin_parse(
	        &self, &argc, &argv, N_("TOPIC QUEUE ID"),
	        N_("Move a queue's position: ID is the first message id it waits "
	           "for, everything\nbelow counts as consumed. Ids in flight stay "
	           "in flight."),
	        NULL, FALSE, 3);
	if (status != MSBCTL_EXIT_OK)
		return status;
	if (!msbctl_parse_int64(argv[3], 0, _("message id"), &id, &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return MSBCTL_EXIT_USAGE;
	}
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_set_queue_message_id_sync(manager, argv[1], argv[2], id, NULL,
	                                                     &error))
		return msbctl_admin_report(error);
	topic = msbctl_admin_quote(argv[1]);
	queue = msbctl_admin_quote(argv[2]);
	/* %lld: xgettext does not expand G_GINT64_FORMAT */
	g_print(_("Queue %s of topic %s waits for message id %lld\n"), queue, topic, (long long)id);
	return MSBCTL_EXIT_OK;
}

int
msbctl_set_max_messages_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *topic = NULL;
	g_autofree gchar *queue = NULL;
	gint64 max = 0;
	int status;

	status = msbctl_admin_parse(&self, &argc, &argv, N_("TOPIC QUEUE N"),
	                            N_("Deliver at most N messages per batch to the queue's "
	                               "subscribers (0: no limit).\nKept in memory only: a restart "
	                               "forgets it."),
	                            NULL, FALSE, 3);
	if (status != MSBCTL_EXIT_OK)
		return status;
	if (!msbctl_parse_int64(argv[3], 0, _("number of messages"), &max, &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return MSBCTL_EXIT_USAGE;
	}
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_set_queue_max_messages_per_payload_sync(
	            manager, argv[1], argv[2], max, NULL, &error))
		return msbctl_admin_report(error);
	topic = msbctl_admin_quote(argv[1]);
	queue = msbctl_admin_quote(argv[2]);
	if (max == 0)
		g_print(_("Queue %s of topic %s: no limit of messages per batch\n"), queue, topic);
	else
		g_print(ngettext("Queue %s of topic %s: at most %lld messages per batch\n",
		                 "Queue %s of topic %s: at most %lld messages per batch\n",
		                 (gulong)max),
		        queue, topic, (long long)max);
	return MSBCTL_EXIT_OK;
}

int
msbctl_kick_run(int argc, char **argv)
{
	MsbctlAdmin self = {0};
	g_autoptr(MsbDbusBroker1) manager = NULL;
	g_autoptr(GError) error = NULL;
	gint64 id = 0;
	int status;

	status =
	        msbctl_admin_parse(&self, &argc, &argv, N_("SESSION-ID"),
	                           N_("Close a session's connection (the id from msbctl sessions); "
	                              "its messages in\nflight go back to their queues."),
	                           NULL, FALSE, 1);
	if (status != MSBCTL_EXIT_OK)
		return status;
	if (!msbctl_parse_int64(argv[1], 0, _("session id"), &id, &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return MSBCTL_EXIT_USAGE;
	}
	manager = msbctl_admin_manager(&self, FALSE, &status);
	if (manager == NULL)
		return status;
	if (!msb_dbus_broker1_call_kick_session_sync(manager, id, NULL, &error))
		return msbctl_admin_report(error);
	g_print(_("Kicked session %lld\n"), (long long)id);

	return MSBCTL_EXIT_OK;
}
