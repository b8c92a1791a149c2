/*
 * A client built against the INSTALLED libmsb-client-dev by packaging/test-install.sh
 * (cc test-install-client.c $(pkg-config --cflags --libs msb-client)): it proves that the header,
 * the pkg-config file and the shared library of the packages work together against the installed
 * broker. It creates TOPIC, subscribes to a queue of it, publishes one message and waits until
 * that message comes back; exit status 0 when it did, 1 otherwise (with the reason on stderr).
 *
 * Usage: test-install-client ADDRESS TOPIC     (ADDRESS: host:port or unix:/path)
 */

#include <msb-client.h>
#include <string.h>

typedef struct {
	GMainLoop *loop;
	gchar *expected;
	gboolean received;
} ClientState;

static void
on_delivery(MsbClient *client G_GNUC_UNUSED, MsbDelivery *delivery, gpointer user_data)
{
	ClientState *state = user_data;

	for (guint i = 0; i < msb_delivery_get_n_messages(delivery); i++) {
		const MsbReceivedMessage *m = msb_delivery_get_message(delivery, i);
		if (m->content_len == strlen(state->expected) &&
		    memcmp(m->content, state->expected, m->content_len) == 0)
			state->received = TRUE;
	}
	msb_delivery_confirm_all(delivery);
	if (state->received)
		g_main_loop_quit(state->loop);
}

static gboolean
on_timeout(gpointer user_data)
{
	ClientState *state = user_data;

	g_main_loop_quit(state->loop);
	return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
	g_autoptr(MsbClient) client = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autofree gchar *expected = NULL;
	ClientState state = {0};
	MsbMessage message = {0};

	if (argc != 3) {
		g_printerr("usage: %s ADDRESS TOPIC\n", argv[0]);
		return 2;
	}
	loop = g_main_loop_new(NULL, FALSE);
	expected = g_strdup_printf("hello from libmsb-client %s", msb_client_get_version());
	state.loop = loop;
	state.expected = expected;

	client = msb_client_new(argv[1], "test-install-client");
	msb_client_set_auto_reconnect(client, FALSE);
	if (!msb_client_connect_sync(client, NULL, &error)) {
		g_printerr("test-install-client: connect to %s: %s\n", argv[1], error->message);
		return 1;
	}
	if (!msb_client_create_topic(client, argv[2], &error) ||
	    !msb_client_subscribe(client, argv[2], "test-install-client",
	                          MSB_CLIENT_QUEUE_DELETE_ON_DISCONNECT, on_delivery, &state, NULL,
	                          &error)) {
		g_printerr("test-install-client: topic %s: %s\n", argv[2], error->message);
		return 1;
	}
	message.content = (const guint8 *)expected;
	message.content_len = strlen(expected);
	if (!msb_client_publish_sync(client, argv[2], &message, 1, TRUE, NULL, &error)) {
		g_printerr("test-install-client: publish to %s: %s\n", argv[2], error->message);
		return 1;
	}
	g_timeout_add_seconds(15, on_timeout, &state);
	g_main_loop_run(loop);
	msb_client_close(client);
	if (!state.received) {
		g_printerr(
		        "test-install-client: the published message did not come back in 15 s\n");
		return 1;
	}
	g_print("test-install-client: published and received \"%s\"\n", expected);
	return 0;
}
