/*
 * msbctl: the command-line tool. This file owns main(), the subcommand table and the two TCP
 * subcommands built on libmsb-client: `publish` and `subscribe`.
 *
 * Subcommands plug in through the table below ({name, description, run}); each parses its own
 * options, so `msbctl <command> --help` works for all of them. The administration commands talk
 * to the broker over D-Bus (msbctl-admin.c, msbctl-monitor.c). `bench` lives in msbctl-bench.c
 * and is listed only when meson found that file (MSBCTL_HAVE_BENCH). `damaged` asks the
 * persistence service's HTTP port.
 */
#define G_LOG_DOMAIN "msbctl"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>

#include <msb-client.h>

#include "msbctl-admin.h"
#include "msb-i18n.h"
#include "msbctl-errors.h"
#include "msbctl.h"
#ifdef MSBCTL_HAVE_BENCH
#include "msbctl-bench.h"
#endif

/* Most messages one Publish packet carries when publishing many lines from stdin. */
#define MSBCTL_PUBLISH_BATCH 1000

static gboolean
msbctl_parse_options(const gchar *parameter_string, const gchar *summary,
                     const GOptionEntry *entries, int *argc, char ***argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new(parameter_string);
	g_autoptr(GError) error = NULL;

	/* the entries, the parameter string and the summary are marked N_(): GOption translates */
	g_option_context_set_translation_domain(context, msb_i18n_get_domain());
	g_option_context_set_summary(context, summary);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, argc, argv, &error)) {
		g_printerr(_("%s: %s\nRun '%s --help' for the options.\n"), g_get_prgname(),
		           error->message, g_get_prgname());
		return FALSE;
	}
	return TRUE;
}

static void
msbctl_rejected_cb(MsbClient *client, const gchar *text, gpointer user_data)
{
	g_printerr(_("%s: the broker sent Reject: %s\n"), g_get_prgname(), text);
}

static MsbClient *
msbctl_connect(const gchar *address, gint protocol, gboolean auto_reconnect)
{
	g_autoptr(MsbClient) client = msb_client_new(address, "msbctl");
	g_autoptr(GError) error = NULL;

	if (protocol != 0)
		msb_client_set_protocol_version(client, protocol);
	msb_client_set_auto_reconnect(client, FALSE);
	if (!msb_client_connect_sync(client, NULL, &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return NULL;
	}
	msb_client_set_auto_reconnect(client, auto_reconnect);
	return g_steal_pointer(&client);
}

static gboolean
msbctl_check_protocol(gint protocol)
{
	if (protocol == 0 || protocol == 2 || protocol == 3)
		return TRUE;
	g_printerr(_("%s: --protocol must be 2 or 3\n"), g_get_prgname());
	return FALSE;
}

/* ---- publish ---- */

typedef struct {
	guint outstanding;
	guint done;
	GError *error; /* the first failure */
} MsbctlPublishState;

static void
msbctl_publish_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	MsbctlPublishState *state = user_data;
	g_autoptr(GError) error = NULL;

	state->outstanding--;
	if (!msb_client_publish_finish(MSB_CLIENT(source), res, &error)) {
		if (state->error == NULL)
			state->error = g_steal_pointer(&error);
		return;
	}
	state->done++;
}

static gboolean
msbctl_parse_headers(gchar **specs, GArray *headers)
{
	for (guint i = 0; specs != NULL && specs[i] != NULL; i++) {
		gchar *eq = strchr(specs[i], '=');
		MsbHeader h;

		if (eq == NULL || eq == specs[i]) {
			g_printerr(_("%s: --header \"%s\" is not of the form key=value\n"),
			           g_get_prgname(), specs[i]);
			return FALSE;
		}
		*eq = '\0';
		h.key = specs[i];
		h.value = eq + 1;
		g_array_append_val(headers, h);
	}
	return TRUE;
}

/* Every line of stdin (without its line end) is one message. */
static GPtrArray *
msbctl_read_stdin_lines(GError **error)
{
	g_autoptr(GInputStream) raw = g_unix_input_stream_new(0, FALSE);
	g_autoptr(GDataInputStream) in = g_data_input_stream_new(raw);
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

	g_data_input_stream_set_newline_type(in, G_DATA_STREAM_NEWLINE_TYPE_ANY);
	for (;;) {
		gsize len = 0;
		g_autoptr(GError) error_local = NULL;
		gchar *line = g_data_input_stream_read_line(in, &len, NULL, &error_local);
		if (line == NULL) {
			if (error_local != NULL) {
				g_propagate_prefixed_error(error, g_steal_pointer(&error_local),
				                           _("Cannot read stdin: "));
				return NULL;
			}
			break;
		}
		g_ptr_array_add(lines, g_bytes_new_take(line, len));
	}
	return g_steal_pointer(&lines);
}

static int
msbctl_publish_run(int argc, char **argv)
{
	g_autofree gchar *address = NULL;
	g_autofree gchar *topic = NULL;
	g_auto(GStrv) header_specs = NULL;
	gboolean persist = FALSE;
	gboolean create_topic = FALSE;
	gint count = 1;
	gint protocol = 0;
	const GOptionEntry entries[] = {
	        {"address", 'a', 0, G_OPTION_ARG_STRING, &address, MSBCTL_ADDRESS_HELP,
	         N_("ADDRESS")},
	        {"topic", 't', 0, G_OPTION_ARG_STRING, &topic, N_("Topic to publish to (required)"),
	         N_("TOPIC")},
	        {"header", 'H', 0, G_OPTION_ARG_STRING_ARRAY, &header_specs,
	         N_("Add a header to every message (repeatable)"), N_("KEY=VALUE")},
	        {"persist", 'p', 0, G_OPTION_ARG_NONE, &persist,
	         N_("Ask the broker to persist before answering (persist_immediately)"), NULL},
	        {"count", 'n', 0, G_OPTION_ARG_INT, &count,
	         N_("Publish every message N times (default 1)"), "N"},
	        {"create-topic", 'c', 0, G_OPTION_ARG_NONE, &create_topic,
	         N_("Send CreateTopicIfNotExists first"), NULL},
	        {"protocol", 0, 0, G_OPTION_ARG_INT, &protocol,
	         N_("Protocol version to greet with, 2 or 3 (default 3)"), "P"},
	        {NULL},
	};
	g_autoptr(GArray) headers = g_array_new(FALSE, FALSE, sizeof(MsbHeader));
	g_autoptr(GPtrArray) contents = NULL;
	g_autoptr(GArray) messages = NULL;
	g_autoptr(MsbClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	MsbctlPublishState state = {0};
	guint n_publishes = 0;

	g_autofree gchar *published = NULL;
	g_autofree gchar *publishes = NULL;

	if (!msbctl_parse_options(N_("[MESSAGE…]"),
	                          N_("Publish each MESSAGE to a topic, or each line of standard "
	                             "input when no MESSAGE is "
	                             "given,\nand wait until the broker has answered every "
	                             "publish."),
	                          entries, &argc, &argv))
		return MSBCTL_EXIT_USAGE;
	if (topic == NULL) {
		g_printerr(_("%s: --topic is required\n"), g_get_prgname());
		return MSBCTL_EXIT_USAGE;
	}
	if (count < 1) {
		g_printerr(_("%s: --count must be at least 1\n"), g_get_prgname());
		return MSBCTL_EXIT_USAGE;
	}
	if (!msbctl_check_protocol(protocol) || !msbctl_parse_headers(header_specs, headers))
		return MSBCTL_EXIT_USAGE;

	if (argc > 1) {
		contents = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		for (int i = 1; i < argc; i++)
			g_ptr_array_add(contents, g_bytes_new(argv[i], strlen(argv[i])));
	} else {
		contents = msbctl_read_stdin_lines(&error);
		if (contents == NULL) {
			g_printerr("%s: %s\n", g_get_prgname(), error->message);
			return MSBCTL_EXIT_FAIL;
		}
	}

	if (contents->len == 0) {
		g_printerr(_("%s: nothing to publish: no MESSAGE given and standard input was "
		             "empty\n"),
		           g_get_prgname());
		return MSBCTL_EXIT_USAGE;
	}
	messages = g_array_sized_new(FALSE, FALSE, sizeof(MsbMessage), contents->len * count);
	for (gint c = 0; c < count; c++) {
		for (guint i = 0; i < contents->len; i++) {
			MsbMessage m = {0};
			m.content =
			        g_bytes_get_data(g_ptr_array_index(contents, i), &m.content_len);
			m.headers = (const MsbHeader *)headers->data;
			m.n_headers = headers->len;
			g_array_append_val(messages, m);
		}
	}

	client =
	        msbctl_connect(address != NULL ? address : MSBCTL_DEFAULT_ADDRESS, protocol, FALSE);
	if (client == NULL)
		return MSBCTL_EXIT_FAIL;
	g_signal_connect(client, "rejected", G_CALLBACK(msbctl_rejected_cb), NULL);
	if (create_topic && !msb_client_create_topic(client, topic, &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return MSBCTL_EXIT_USAGE;
	}

	/* all publishes in flight at once; the client batches them into few writes */
	for (guint off = 0; off < messages->len;) {
		guint n = MIN(messages->len - off, MSBCTL_PUBLISH_BATCH);
		msb_client_publish_async(client, topic, &g_array_index(messages, MsbMessage, off),
		                         n, persist, NULL, msbctl_publish_cb, &state);
		state.outstanding++;
		n_publishes++;
		off += n;
	}
	while (state.outstanding > 0)
		g_main_context_iteration(context, TRUE);
	msb_client_close(client);

	if (state.error != NULL) {
		/* the same English for one and many: scripts have matched this text */
		g_printerr(ngettext("%s: %u of %u publishes failed: %s\n",
		                    "%s: %u of %u publishes failed: %s\n", n_publishes),

		           g_get_prgname(), n_publishes - state.done, n_publishes,
		           state.error->message);
		g_error_free(state.error);
		return MSBCTL_EXIT_FAIL;
	}
	published = g_strdup_printf(ngettext("%u message", "%u messages", messages->len),
	                            messages->len);
	publishes =
	        g_strdup_printf(ngettext("%u publish", "%u publishes", n_publishes), n_publishes);
	/* TRANSLATORS: "Published 3 messages to topic "t" in 1 publish" */
	g_print(_("Published %s to topic \"%s\" in %s\n"), published, topic, publishes);
	return MSBCTL_EXIT_OK;
}

/* ---- subscribe ---- */

typedef struct {
	GMainLoop *loop;
	gint64 remaining; /* messages still to print; < 0: no limit */
	gboolean fail_first;
	gboolean hex;
	int exit_status;
} MsbctlSubscribeState;

static gboolean
msbctl_is_printable(const guint8 *data, gsize len)
{
	const gchar *end = NULL;

	if (!g_utf8_validate((const gchar *)data, (gssize)len, &end))
		return FALSE;
	for (const gchar *p = (const gchar *)data; p < end; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c != '\t' && c != '\n' && !g_unichar_isprint(c))
			return FALSE;
	}
	return TRUE;
}

static void
msbctl_print_message(const MsbReceivedMessage *m, gboolean hex)
{
	g_autoptr(GString) out = g_string_new(NULL);

	g_string_append_printf(out,
	                       "id %" G_GINT64_FORMAT ", attempt %d, %" G_GSIZE_FORMAT " byte%s\n",
	                       m->id, m->attempt, m->content_len, m->content_len == 1 ? "" : "s");
	for (guint i = 0; i < m->n_headers; i++)
		g_string_append_printf(out, "  header %s: %s\n", m->headers[i].key,
		                       m->headers[i].value);
	if (!hex && msbctl_is_printable(m->content, m->content_len)) {
		g_string_append(out, "  text: ");
		g_string_append_len(out, (const gchar *)m->content, (gssize)m->content_len);
		g_string_append_c(out, '\n');
	} else {
		g_string_append(out, "  hex:");
		for (gsize i = 0; i < m->content_len; i++)
			g_string_append_printf(out, " %02x", m->content[i]);
		g_string_append_c(out, '\n');
	}
	fputs(out->str, stdout);
}

static void
msbctl_delivery_cb(MsbClient *client, MsbDelivery *delivery, gpointer user_data)
{
	MsbctlSubscribeState *state = user_data;
	guint n = msb_delivery_get_n_messages(delivery);
	guint take = n;

	if (state->remaining == 0) {
		msb_delivery_fail_all(delivery);
		return;
	}
	if (state->fail_first) {
		state->fail_first = FALSE;
		/* %lld: xgettext does not expand G_GINT64_FORMAT */
		g_print(ngettext("Failing the first batch (%u message, confirmation id %lld) as "
		                 "asked; the broker redelivers it\n",
		                 "Failing the first batch (%u messages, confirmation id %lld) as "
		                 "asked; the broker redelivers it\n",
		                 n),
		        n, (long long)msb_delivery_get_confirmation_id(delivery));

		msb_delivery_fail_all(delivery);
		return;
	}
	if (state->remaining > 0 && (gint64)n > state->remaining)
		take = (guint)state->remaining;
	for (guint i = 0; i < take; i++)
		msbctl_print_message(msb_delivery_get_message(delivery, i), state->hex);
	fflush(stdout);
	if (take == n) {
		msb_delivery_confirm_all(delivery);
	} else {
		/* confirm what was printed; the rest goes back to the queue */
		g_autofree gint64 *ids = g_new(gint64, take);
		for (guint i = 0; i < take; i++)
			ids[i] = msb_delivery_get_message(delivery, i)->id;
		msb_delivery_confirm_some(delivery, ids, take);
	}
	if (state->remaining > 0) {
		state->remaining -= take;
		if (state->remaining == 0)
			g_main_loop_quit(state->loop);
	}
}

static void
msbctl_subscribe_rejected_cb(MsbClient *client, const gchar *text, gpointer user_data)
{
	MsbctlSubscribeState *state = user_data;

	g_printerr(_("%s: the broker sent Reject: %s\n"), g_get_prgname(), text);
	if (g_str_has_prefix(text, "Subscribe")) {
		state->exit_status = MSBCTL_EXIT_FAIL;
		g_main_loop_quit(state->loop);
	}
}

static void
msbctl_disconnected_cb(MsbClient *client, const GError *error, gpointer user_data)
{
	g_printerr(_("%s: disconnected: %s; reconnecting\n"), g_get_prgname(), error->message);
}

static void
msbctl_connected_cb(MsbClient *client, gpointer user_data)
{
	g_printerr(_("%s: reconnected to %s\n"), g_get_prgname(), msb_client_get_address(client));
}

static gboolean
msbctl_quit_cb(gpointer user_data)
{
	MsbctlSubscribeState *state = user_data;
	g_main_loop_quit(state->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean
msbctl_parse_queue_type(const gchar *name, MsbClientQueueType *type)
{
	const struct {
		const gchar *name;
		MsbClientQueueType type;
	} types[] = {
	        {"permanent", MSB_CLIENT_QUEUE_PERMANENT},
	        {"delete-on-disconnect", MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT},
	        {"single-connection", MSB_CLIENT_QUEUE_PERMANENT_SINGLE_CONNECTION},
	        {"delete-on-disconnect-single-connection",
	         MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT_SINGLE_CONNECTION},
	};
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		if (g_strcmp0(name, types[i].name) == 0) {
			*type = types[i].type;
			return TRUE;
		}
	}
	g_printerr(_("%s: unknown --type \"%s\"; use permanent, delete-on-disconnect, "
	             "single-connection or delete-on-disconnect-single-connection\n"),
	           g_get_prgname(), name);
	return FALSE;
}

static int
msbctl_subscribe_run(int argc, char **argv)
{
	g_autofree gchar *address = NULL;
	g_autofree gchar *topic = NULL;
	g_autofree gchar *queue = NULL;
	g_autofree gchar *type_name = NULL;
	gboolean fail_first = FALSE;
	gboolean hex = FALSE;
	gint count = 0;
	gint protocol = 0;
	const GOptionEntry entries[] = {
	        {"address", 'a', 0, G_OPTION_ARG_STRING, &address, MSBCTL_ADDRESS_HELP,
	         N_("ADDRESS")},
	        {"topic", 't', 0, G_OPTION_ARG_STRING, &topic,
	         N_("Topic to subscribe to (required)"), N_("TOPIC")},
	        {"queue", 'q', 0, G_OPTION_ARG_STRING, &queue, N_("Queue to consume (required)"),
	         N_("QUEUE")},
	        {"type", 0, 0, G_OPTION_ARG_STRING, &type_name,
	         N_("Queue type: permanent (default), delete-on-disconnect, single-connection or "
	            "delete-on-disconnect-single-connection"),
	         N_("TYPE")},
	        {"count", 'n', 0, G_OPTION_ARG_INT, &count,
	         N_("Exit after N messages (default: run until "
	            "interrupted)"),
	         "N"},
	        {"fail-first", 0, 0, G_OPTION_ARG_NONE, &fail_first,
	         N_("Fail the first batch so that it is redelivered"), NULL},
	        {"hex", 'x', 0, G_OPTION_ARG_NONE, &hex, N_("Always print the content as hex"),
	         NULL},
	        {"protocol", 0, 0, G_OPTION_ARG_INT, &protocol,
	         N_("Protocol version to greet with, 2 or 3 (default 3)"), "P"},
	        {NULL},
	};
	MsbClientQueueType type = MSB_CLIENT_QUEUE_PERMANENT;
	g_autoptr(MsbClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	MsbctlSubscribeState state = {0};
	guint sigint_id;
	guint sigterm_id;

	if (!msbctl_parse_options("",
	                          N_("Consume a queue: print every message (id, attempt, "
	                             "headers, content as text or hex)\nand confirm it."),
	                          entries, &argc, &argv))
		return MSBCTL_EXIT_USAGE;
	if (topic == NULL || queue == NULL) {
		g_printerr(_("%s: --topic and --queue are required\n"), g_get_prgname());
		return MSBCTL_EXIT_USAGE;
	}
	if (argc > 1) {
		g_printerr(_("%s: unexpected argument \"%s\"\n"), g_get_prgname(), argv[1]);
		return MSBCTL_EXIT_USAGE;
	}
	if (count < 0) {
		g_printerr(_("%s: --count must not be negative\n"), g_get_prgname());
		return MSBCTL_EXIT_USAGE;
	}
	if (!msbctl_check_protocol(protocol))
		return MSBCTL_EXIT_USAGE;
	if (type_name != NULL && !msbctl_parse_queue_type(type_name, &type))
		return MSBCTL_EXIT_USAGE;

	loop = g_main_loop_new(NULL, FALSE);
	state.loop = loop;
	state.remaining = count > 0 ? count : -1;
	state.fail_first = fail_first;
	state.hex = hex;
	state.exit_status = MSBCTL_EXIT_OK;

	client = msbctl_connect(address != NULL ? address : MSBCTL_DEFAULT_ADDRESS, protocol, TRUE);
	if (client == NULL)
		return MSBCTL_EXIT_FAIL;
	g_signal_connect(client, "rejected", G_CALLBACK(msbctl_subscribe_rejected_cb), &state);
	g_signal_connect(client, "disconnected", G_CALLBACK(msbctl_disconnected_cb), &state);
	g_signal_connect(client, "connected", G_CALLBACK(msbctl_connected_cb), &state);
	if (!msb_client_subscribe(client, topic, queue, type, msbctl_delivery_cb, &state, NULL,
	                          &error)) {
		g_printerr("%s: %s\n", g_get_prgname(), error->message);
		return MSBCTL_EXIT_USAGE;
	}
	g_printerr(_("%s: consuming queue \"%s\" of topic \"%s\" at %s\n"), g_get_prgname(), queue,
	           topic, msb_client_get_address(client));

	sigint_id = g_unix_signal_add(SIGINT, msbctl_quit_cb, &state);
	sigterm_id = g_unix_signal_add(SIGTERM, msbctl_quit_cb, &state);
	g_main_loop_run(loop);
	g_source_remove(sigint_id);
	g_source_remove(sigterm_id);
	/* sends the last confirmations still buffered */
	g_signal_handlers_disconnect_by_data(client, &state);
	msb_client_close(client);
	return state.exit_status;
}

/* ---- damaged ---- */

/* GET @url; the body, or NULL after printing why. */
static GBytes *
msbctl_http_get(const gchar *url)
{
	g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", 10, NULL);
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GError) error = NULL;

	msg = soup_message_new(SOUP_METHOD_GET, url);
	if (msg == NULL) {
		g_printerr(_("%s: %s is not an HTTP URL\n"), g_get_prgname(), url);
		return NULL;
	}
	body = soup_session_send_and_read(session, msg, NULL, &error);
	if (body == NULL) {
		g_printerr(_("%s: cannot get %s: %s\n"), g_get_prgname(), url, error->message);
		return NULL;
	}
	if (soup_message_get_status(msg) != SOUP_STATUS_OK) {
		g_printerr(_("%s: %s answered %u %s\n"), g_get_prgname(), url,
		           soup_message_get_status(msg), soup_message_get_reason_phrase(msg));
		return NULL;
	}
	return g_steal_pointer(&body);
}

static int
msbctl_damaged_run(int argc, char **argv)
{
	g_autofree gchar *base = NULL;
	g_autofree gchar *url = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonNode *root;
	JsonArray *list;
	gsize len = 0;
	const gchar *data;
	const GOptionEntry entries[] = {
	        {"url", 'u', 0, G_OPTION_ARG_STRING, &base,
	         N_("HTTP address of my-service-bus-persistence (default http://127.0.0.1:7123)"),
	         "URL"},
	        {NULL},
	};

	if (!msbctl_parse_options(
	            NULL,
	            N_("List the sub-pages the persistence service found damaged on disk "
	               "(GET /api/damaged)."),
	            entries, &argc, &argv))
		return MSBCTL_EXIT_USAGE;
	if (base == NULL)
		base = g_strdup("http://127.0.0.1:7123");
	/* "http://h:p/" must not become "http://h:p//api/damaged" */
	while (g_str_has_suffix(base, "/"))
		base[strlen(base) - 1] = '\0';
	url = g_strdup_printf("%s/api/damaged", base);
	body = msbctl_http_get(url);
	if (body == NULL)
		return MSBCTL_EXIT_FAIL;
	data = g_bytes_get_data(body, &len);
	if (!json_parser_load_from_data(parser, data, (gssize)len, &error) ||
	    !JSON_NODE_HOLDS_OBJECT(root = json_parser_get_root(parser)) ||
	    !json_object_has_member(json_node_get_object(root), "damaged")) {
		g_printerr(_("%s: %s did not answer a damaged list: %s\n"), g_get_prgname(), url,
		           error != NULL ? error->message : _("no \"damaged\" member"));
		return MSBCTL_EXIT_FAIL;
	}
	list = json_object_get_array_member(json_node_get_object(root), "damaged");
	if (json_array_get_length(list) == 0) {
		g_print(_("no damaged sub-pages\n"));
		return MSBCTL_EXIT_OK;
	}
	g_print("%-24s %9s %-23s %-10s %s\n", "TOPIC", "SUB-PAGE", "IDS", "READS", "FILE@OFFSET");
	for (guint i = 0; i < json_array_get_length(list); i++) {
		JsonObject *d = json_array_get_object_element(list, i);
		g_autofree gchar *ids =
		        g_strdup_printf("%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
		                        json_object_get_int_member_with_default(d, "from_id", 0),
		                        json_object_get_int_member_with_default(d, "to_id", 0));

		g_print("%-24s %9" G_GINT64_FORMAT " %-23s %-10" G_GINT64_FORMAT
		        " %s@%" G_GINT64_FORMAT "\n  %s\n",
		        json_object_get_string_member_with_default(d, "topic_id", "?"),
		        json_object_get_int_member_with_default(d, "sub_page", 0), ids,
		        json_object_get_int_member_with_default(d, "failed_reads", 0),
		        json_object_get_string_member_with_default(d, "path", "?"),
		        json_object_get_int_member_with_default(d, "offset", 0),
		        json_object_get_string_member_with_default(d, "reason", ""));
	}
	return MSBCTL_EXIT_OK;
}

/* ---- main ---- */

static const MsbctlCommand msbctl_commands[] = {
        {"status", N_("Show the broker's version, persistence state and totals (D-Bus)"),
         msbctl_status_run},
        {"topics", N_("List the topics (D-Bus)"), msbctl_topics_run},
        {"queues", N_("List a topic's queues (D-Bus)"), msbctl_queues_run},
        {"sessions", N_("List the connected sessions (D-Bus)"), msbctl_sessions_run},
        {"create-topic", N_("Create a topic (D-Bus)"), msbctl_create_topic_run},
        {"delete-topic", N_("Soft-delete a topic, with its hard-delete moment (D-Bus)"),
         msbctl_delete_topic_run},
        {"restore-topic", N_("Undo a topic's soft delete (D-Bus)"), msbctl_restore_topic_run},
        {"set-persist", N_("Turn a topic's persistence on or off (D-Bus)"), msbctl_set_persist_run},
        {"delete-queue", N_("Remove a queue (D-Bus)"), msbctl_delete_queue_run},
        {"set-message-id", N_("Move a queue's position (D-Bus)"), msbctl_set_message_id_run},
        {"set-max-messages", N_("Limit a queue's messages per delivery batch (D-Bus)"),
         msbctl_set_max_messages_run},
        {"kick", N_("Close a session's connection (D-Bus)"), msbctl_kick_run},
        {"monitor", N_("Print the broker's signals and property changes as they come (D-Bus)"),
         msbctl_monitor_run},
        {"publish", N_("Publish messages to a topic (TCP)"), msbctl_publish_run},
        {"subscribe", N_("Consume a queue and print its messages (TCP)"), msbctl_subscribe_run},
#ifdef MSBCTL_HAVE_BENCH
        {"bench", N_("Measure publish/deliver throughput (TCP)"), msbctl_bench_run},
#endif
        {"damaged", N_("List damaged sub-pages of the persistence service (HTTP)"),
         msbctl_damaged_run},
};

static void
msbctl_usage(FILE *out)
{
	fprintf(out, _("Usage:\n  msbctl COMMAND [OPTION…]\n\nCommands:\n"));
	for (guint i = 0; i < G_N_ELEMENTS(msbctl_commands); i++)
		fprintf(out, "  %-16s  %s\n", msbctl_commands[i].name,
		        _(msbctl_commands[i].description));
	fprintf(out,
	        _("\nRun 'msbctl COMMAND --help' for the options of a command.\n"
	          "The D-Bus commands talk to the broker on the system bus, or with --session\n"
	          "(or MSBCTL_BUS=session) on the session bus.\n\n%s"),
	        msbctl_exit_statuses_help());
}

static gboolean
msbctl_is_global_option(const gchar *arg)
{
	return g_strcmp0(arg, "--session") == 0 || g_strcmp0(arg, "--system") == 0 ||
	       g_strcmp0(arg, "--json") == 0;
}

int
main(int argc, char **argv)
{
	const gchar *name;
	g_autofree gchar **args = g_new0(gchar *, argc + 1);
	guint n_global = 0;

	msb_i18n_init("msbctl");
	/* "msbctl --session topics" as well as "msbctl topics --session": the options that every
	 * D-Bus command takes may come before the command; they are handed to it after its name */
	while (1 + n_global < (guint)argc && msbctl_is_global_option(argv[1 + n_global]))
		n_global++;
	args[0] = argv[0];
	if (1 + n_global < (guint)argc)
		args[1] = argv[1 + n_global];
	for (guint i = 0; i < n_global; i++)
		args[2 + i] = argv[1 + i];
	for (gint i = 2 + (gint)n_global; i < argc; i++)
		args[i] = argv[i];
	argv = args;
	if (argc < 2 + (gint)n_global) {
		msbctl_usage(stderr);
		return MSBCTL_EXIT_USAGE;
	}
	name = argv[1];
	if (g_strcmp0(name, "--help") == 0 || g_strcmp0(name, "-h") == 0 ||
	    g_strcmp0(name, "help") == 0) {
		msbctl_usage(stdout);
		return MSBCTL_EXIT_OK;
	}
	if (g_strcmp0(name, "--version") == 0) {
		g_print("msbctl %s\n", msb_client_get_version());
		return MSBCTL_EXIT_OK;
	}
	for (guint i = 0; i < G_N_ELEMENTS(msbctl_commands); i++) {
		if (g_strcmp0(name, msbctl_commands[i].name) == 0) {
			g_autofree gchar *prgname = g_strdup_printf("msbctl %s", name);
			g_set_prgname(prgname);
			return msbctl_commands[i].run(argc - 1, argv + 1);
		}
	}
	g_printerr(_("msbctl: unknown command \"%s\"\n\n"), name);

	msbctl_usage(stderr);
	return MSBCTL_EXIT_USAGE;
}
