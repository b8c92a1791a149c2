/*
 * HTTP publisher and subscriber sessions (see msb-http-session.h).
 *
 * One set of rules: every action of an HTTP session is the packet a TCP client would send
 * (Greeting, SetNamespace, Publish, Subscribe and the confirmations 8, 13 and 14), built in
 * memory and handed to msb_broker_handle_packet() for the session's MsbSession, so topics,
 * queues, delivery, attempt counters, held publish answers and Rejects work exactly as for TCP.
 * What the broker answers is what it answers every session: wire bytes in the session's output
 * buffer. Instead of writing them to a socket, msb_http_session_output_ready() decodes them with
 * the wire codec as soon as they are written:
 *
 *   - NewMessages becomes a package, the §6.3 JSON of an Await, queued for the session (each
 *     subscriber has at most one batch in flight, so the queue is short);
 *   - PublishResponse answers the oldest Publish waiting for its answer; a Reject answers the
 *     call being made when it came (Subscribe, Confirm, Greeting) or, outside such a call, the
 *     oldest waiting Publish, in the order the broker keeps for TCP (a held PublishResponse, say
 *     for persistImmediately, comes later, and a Reject never overtakes it).
 *
 * Decoding costs a copy of the batch, which the JSON and base64 of the answer cost anyway, and it
 * keeps the broker free of any HTTP knowledge. HTTP sessions use protocol version 3, so headers
 * and attempt numbers are in the bytes.
 *
 * A session ends after HttpSessionTimeout without an authenticated call (an Await waiting counts
 * as one), when the broker disconnects it (DeliveryTimeout, a kick), or with the listener; its
 * in-flight messages then go back to their queues (msb_broker_session_close()). A package handed
 * to an Await that never reached the client stays in flight until DeliveryTimeout, as bytes a
 * TCP client never read do.
 */
#define G_LOG_DOMAIN "msb-http-session"

#include "msb-http-session.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "msb-http-bodies.h"
#include "msb-http-server.h"
#include "msb-wire.h"

/* the broker's own bytes: no ceiling beyond what it wrote */
#define MSB_HTTP_SESSION_DECODER_MAX G_MAXSIZE
/* an emptied output buffer above MSB_HTTP_SESSION_BIG_BUFFER (a large batch grew it) is cut
 * back to MSB_HTTP_SESSION_IDLE_BUFFER; below it, it is kept for the next batch */
#define MSB_HTTP_SESSION_IDLE_BUFFER (64 * 1024)
#define MSB_HTTP_SESSION_BIG_BUFFER  (1024 * 1024)

typedef struct _MsbHttpSession MsbHttpSession;

/* A request answered later: its message is paused meanwhile. */
typedef struct {
	MsbHttpSession *session;
	SoupServerMessage *msg;
	gulong finished_id;
	gulong disconnected_id;
	gboolean paused;
	gboolean gone;     /* the client went away: libsoup is done with it */
	gint64 request_id; /* Publish */
	guint timeout_id;  /* Await */
} MsbHttpParked;

struct _MsbHttpSession {
	MsbHttpSessions *owner;
	gchar *key;
	MsbSession *session;
	gint64 last_call_us; /* monotonic */
	MsbWireDecoder dec;
	GQueue packages;      /* gchar*: Await answers (JSON), oldest first */
	GQueue publishes;     /* MsbHttpParked*: Publishes without their answer, oldest first */
	MsbHttpParked *await; /* the parked Await, or NULL */
	/* inside a Subscribe, Confirm or Greeting: the Rejects the broker answers it with */
	GString *call_rejects;
};

struct _MsbHttpSessions {
	MsbBroker *broker;
	GHashTable *by_key; /* session key → MsbHttpSession*, owned */
	gint64 session_timeout_us;
	gint64 await_timeout_us;
	guint max_sessions;
	guint expiry_id;
	gint64 expiry_interval_ms;
	gint64 next_request_id;
};

/* ---- replies on a SoupServerMessage (a parked request has no MsbHttpCall any more) ---- */

static void
msb_http_parked_reply(MsbHttpParked *p, guint status, const gchar *content_type, gchar *body)
{
	if (p->finished_id != 0)
		g_signal_handler_disconnect(p->msg, p->finished_id);
	if (p->disconnected_id != 0)
		g_signal_handler_disconnect(p->msg, p->disconnected_id);
	p->finished_id = p->disconnected_id = 0;
	if (p->gone) {
		g_free(body);
		return;
	}
	if (status == SOUP_STATUS_NO_CONTENT)
		msb_http_message_reply_empty(p->msg);
	else
		soup_server_message_set_status(p->msg, status, NULL);
	if (body != NULL) {
		gsize len = strlen(body);

		/* the status page's writtenSize and writtenPerSec */
		if (p->session != NULL && p->session->session != NULL)
			msb_broker_session_count_io(p->session->owner->broker, p->session->session,
			                            0, len);
		soup_server_message_set_response(p->msg, content_type, SOUP_MEMORY_TAKE, body, len);
	}
	if (p->paused)
		soup_server_message_unpause(p->msg);
	p->gone = TRUE; /* answered: nothing more goes to it */
}

static void
msb_http_parked_reply_text(MsbHttpParked *p, guint status, const gchar *text)
{
	msb_http_parked_reply(p, status, "text/plain; charset=utf-8",
	                      g_strdup_printf("%s\n", text));
}

static void
msb_http_parked_free(MsbHttpParked *p)
{
	if (p == NULL)
		return;
	g_clear_handle_id(&p->timeout_id, g_source_remove);
	if (p->finished_id != 0)
		g_signal_handler_disconnect(p->msg, p->finished_id);
	if (p->disconnected_id != 0)
		g_signal_handler_disconnect(p->msg, p->disconnected_id);
	g_object_unref(p->msg);
	g_free(p);
}

static MsbHttpParked *
msb_http_parked_new(MsbHttpSession *s, MsbHttpCall *call)
{
	MsbHttpParked *p = g_new0(MsbHttpParked, 1);

	p->session = s;
	p->msg = g_object_ref(msb_http_call_get_message(call));
	return p;
}

static void
msb_http_await_gone_cb(SoupServerMessage *msg, gpointer user_data)
{
	MsbHttpParked *p = user_data;
	MsbHttpSession *s = p->session;

	/* the client gave up: the slot is free for its next Await, the packages stay queued */
	p->gone = TRUE;
	if (s->await == p) {
		s->await = NULL;
		msb_http_parked_free(p);
	}
}

static void
msb_http_publish_gone_cb(SoupServerMessage *msg, gpointer user_data)
{
	MsbHttpParked *p = user_data;

	/* it stays in the queue, in its place, until the broker's answer for it comes */
	p->gone = TRUE;
}

/* The handler returns without an answer: libsoup waits until msb_http_parked_reply(). */
static void
msb_http_parked_pause(MsbHttpParked *p, GCallback gone_cb)
{
	p->paused = TRUE;
	p->finished_id = g_signal_connect(p->msg, "finished", gone_cb, p);
	if (g_signal_lookup("disconnected", SOUP_TYPE_SERVER_MESSAGE) != 0)
		p->disconnected_id = g_signal_connect(p->msg, "disconnected", gone_cb, p);
	soup_server_message_pause(p->msg);
}

/*
 * The parked Await's client hung up (libsoup does not read a paused connection, so it does not
 * notice): the slot is free, and a package must not go to it.
 */
static gboolean
msb_http_session_await_abandoned(MsbHttpSession *s)
{
	MsbHttpParked *p = s->await;

	if (p == NULL)
		return FALSE;
	if (!p->gone && !msb_http_server_message_hung_up(p->msg))
		return FALSE;
	s->await = NULL;
	/* an answer nobody reads, so that libsoup finds the connection closed and lets go of it
	 * now rather than at HttpRequestTimeout */
	msb_http_parked_reply(p, SOUP_STATUS_NO_CONTENT, NULL, NULL);
	msb_http_parked_free(p);
	return TRUE;
}

/* ---- sessions ---- */

static void
msb_http_session_free(MsbHttpSession *s)
{
	g_queue_clear_full(&s->packages, g_free);
	g_queue_clear_full(&s->publishes, (GDestroyNotify)msb_http_parked_free);
	msb_http_parked_free(s->await);
	msb_wire_decoder_clear(&s->dec);
	if (s->call_rejects != NULL)
		g_string_free(s->call_rejects, TRUE);
	g_free(s->key);
	g_free(s);
}

static void
msb_http_sessions_update_expiry(MsbHttpSessions *self);

/*
 * End @s: waiting requests get @status and @why, the broker's session is closed (its in-flight
 * messages go back to their queues and out again) and @s is freed.
 */
static void
msb_http_session_close(MsbHttpSession *s, guint status, const gchar *why)
{
	MsbHttpSessions *self = s->owner;
	MsbSession *session = s->session;

	g_hash_table_remove(self->by_key, s->key);
	if (s->await != NULL) {
		msb_http_parked_reply_text(s->await, status, why);
		g_clear_pointer(&s->await, msb_http_parked_free);
	}
	/* a Publish still waiting for durability: accepted, but its answer is lost with the
	 * session, as with a TCP connection that closes */
	while (!g_queue_is_empty(&s->publishes)) {
		MsbHttpParked *p = g_queue_pop_head(&s->publishes);
		msb_http_parked_reply_text(p, SOUP_STATUS_SERVICE_UNAVAILABLE,
		                           "the session ended before the publish was answered; the "
		                           "messages may or may not have been stored");
		msb_http_parked_free(p);
	}
	if (session != NULL) {
		s->session = NULL;
		msb_session_set_user_data(session, NULL);
		msb_broker_session_close(self->broker, session);
	}
	msb_http_session_free(s);
	msb_http_sessions_update_expiry(self);
}

static gboolean
msb_http_sessions_expiry_cb(gpointer user_data)
{
	MsbHttpSessions *self = user_data;
	gint64 now = g_get_monotonic_time();
	g_autoptr(GPtrArray) expired = g_ptr_array_new();
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, self->by_key);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		MsbHttpSession *s = value;
		/* a parked Await or Publish is a call still under way */
		if (s->await == NULL && g_queue_is_empty(&s->publishes) &&
		    now - s->last_call_us > self->session_timeout_us)
			g_ptr_array_add(expired, s);
	}
	for (guint i = 0; i < expired->len; i++) {
		MsbHttpSession *s = g_ptr_array_index(expired, i);
		g_message("HTTP session %" G_GINT64_FORMAT
		          " (%s) expired: no call for %" G_GINT64_FORMAT " ms (HttpSessionTimeout)",
		          msb_session_get_id(s->session), msb_session_get_name(s->session),
		          (now - s->last_call_us) / 1000);
		msb_http_session_close(s, SOUP_STATUS_UNAUTHORIZED, "the session expired");
	}
	return G_SOURCE_CONTINUE;
}

/* The expiry check runs while there are sessions, a few times per timeout (at most every 1 s). */
static void
msb_http_sessions_update_expiry(MsbHttpSessions *self)
{
	gint64 interval_ms = CLAMP(self->session_timeout_us / 4000, 10, 1000);

	if (g_hash_table_size(self->by_key) == 0 ||
	    (self->expiry_id != 0 && interval_ms != self->expiry_interval_ms))
		g_clear_handle_id(&self->expiry_id, g_source_remove);
	if (g_hash_table_size(self->by_key) > 0 && self->expiry_id == 0) {
		self->expiry_interval_ms = interval_ms;
		self->expiry_id =
		        g_timeout_add((guint)interval_ms, msb_http_sessions_expiry_cb, self);
	}
}

/* ---- what the broker writes for a session ---- */

static gchar *
msb_wire_str_dup(const MsbWireStr *s)
{
	return g_strndup(s->str, s->len);
}

/* Answer the parked Await with the oldest package, if both are there. */
static void
msb_http_session_serve_await(MsbHttpSession *s)
{
	MsbHttpParked *p = s->await;

	if (p == NULL || g_queue_is_empty(&s->packages) || msb_http_session_await_abandoned(s))
		return;
	s->await = NULL;
	msb_http_parked_reply(p, SOUP_STATUS_OK, "application/json",
	                      g_queue_pop_head(&s->packages));
	msb_http_parked_free(p);
	/* the client was there until now */
	s->last_call_us = g_get_monotonic_time();
}

/* The oldest Publish waiting is answered: 204 for its PublishResponse, 403 with @reject. */
static void
msb_http_session_answer_publish(MsbHttpSession *s, gint64 request_id, const gchar *reject)
{
	MsbHttpParked *p = g_queue_pop_head(&s->publishes);

	if (p == NULL) {
		g_warning("HTTP session %" G_GINT64_FORMAT ": %s with no Publish waiting; dropped",
		          msb_session_get_id(s->session),
		          reject != NULL ? "a Reject" : "a PublishResponse");
		return;
	}
	if (reject == NULL && p->request_id != request_id)
		g_warning("HTTP session %" G_GINT64_FORMAT ": PublishResponse %" G_GINT64_FORMAT
		          " for Publish %" G_GINT64_FORMAT,
		          msb_session_get_id(s->session), request_id, p->request_id);
	if (reject != NULL)
		msb_http_parked_reply_text(p, SOUP_STATUS_FORBIDDEN, reject);
	else
		msb_http_parked_reply(p, SOUP_STATUS_NO_CONTENT, NULL, NULL);
	msb_http_parked_free(p);
}

void
msb_http_session_output_ready(MsbSession *session)
{
	MsbHttpSession *s;
	MsbBuf *out;

	g_return_if_fail(session != NULL);
	g_return_if_fail(msb_session_get_kind(session) == MSB_SESSION_KIND_HTTP);
	s = msb_session_get_user_data(session);
	out = msb_session_get_output(session);
	while (msb_buf_pending(out) > 0) {
		g_autoptr(GError) error = NULL;
		MsbPacket packet;
		gsize consumed = 0;

		if (s == NULL) {
			/* the session is closing: nobody will ask for this */
			msb_buf_consume(out, msb_buf_pending(out));
			break;
		}
		if (msb_wire_decode(&s->dec, msb_buf_head(out), msb_buf_pending(out), &packet,
		                    &consumed, &error) != MSB_WIRE_DECODE_OK) {
			/* the broker writes whole packets before it says so */
			g_critical("HTTP session %" G_GINT64_FORMAT
			           ": cannot decode the broker's output: %s",
			           msb_session_get_id(session),
			           error != NULL ? error->message : "a partial packet");
			msb_buf_consume(out, msb_buf_pending(out));
			break;
		}
		switch (packet.id) {
		case MSB_PACKET_NEW_MESSAGES:
			g_queue_push_tail(&s->packages, msb_http_bodies_write_package(&packet));
			break;
		case MSB_PACKET_PUBLISH_RESPONSE:
			msb_http_session_answer_publish(s, packet.publish_response.request_id,
			                                NULL);
			break;
		case MSB_PACKET_REJECT: {
			g_autofree gchar *text = msb_wire_str_dup(&packet.reject.message);

			if (s->call_rejects != NULL)
				g_string_append_printf(s->call_rejects, "%s%s",
				                       s->call_rejects->len > 0 ? "\n" : "", text);
			else
				msb_http_session_answer_publish(s, 0, text);
			break;
		}
		default:
			/* Pong: nothing asks for it */
			break;
		}
		msb_buf_consume(out, consumed);
	}
	if (msb_buf_pending(out) == 0 && out->cap > MSB_HTTP_SESSION_BIG_BUFFER)
		msb_buf_shrink(out, MSB_HTTP_SESSION_IDLE_BUFFER);
	if (s != NULL)
		msb_http_session_serve_await(s);
}

void
msb_http_session_disconnect(MsbSession *session, const gchar *reason)
{
	MsbHttpSession *s;
	g_autofree gchar *why = NULL;

	g_return_if_fail(session != NULL);
	g_return_if_fail(msb_session_get_kind(session) == MSB_SESSION_KIND_HTTP);
	s = msb_session_get_user_data(session);
	if (s == NULL)
		return;
	g_message("HTTP session %" G_GINT64_FORMAT " (%s) closed: %s", msb_session_get_id(session),
	          msb_session_get_name(session), reason);
	why = g_strdup_printf("the session was closed: %s", reason);
	msb_http_session_close(s, SOUP_STATUS_UNAUTHORIZED, why);
}

/*
 * Hand @packet to the broker for @s, as if @s had sent it, and run the delivery passes it made
 * due. Returns the Rejects it was answered with at once (NULL: none); a packet that would close a
 * TCP connection counts as rejected.
 */
static gchar *
msb_http_session_call(MsbHttpSession *s, const MsbPacket *packet)
{
	MsbHttpSessions *self = s->owner;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) rejects = g_string_new(NULL);

	s->call_rejects = rejects;
	if (!msb_broker_handle_packet(self->broker, s->session, packet, &error) &&
	    rejects->len == 0)
		g_string_append(rejects, error->message);
	s->call_rejects = NULL;
	msb_broker_run_deliveries(self->broker);
	if (rejects->len == 0)
		return NULL;
	return g_string_free(g_steal_pointer(&rejects), FALSE);
}

/* ---- request input ---- */

static void
msb_http_reply_error_literal(MsbHttpCall *call, gint code, const gchar *text)
{
	g_autoptr(GError) error = g_error_new_literal(MSB_HTTP_ERROR, code, text);

	msb_http_call_reply_error(call, error, 0);
}

/* The session named by the Authorization header's last token (node.md §6.1), else 401. */
static MsbHttpSession *
msb_http_sessions_authenticate(MsbHttpSessions *self, MsbHttpCall *call)
{
	const gchar *auth = msb_http_call_get_header(call, "Authorization");
	g_autofree gchar *key = NULL;
	MsbHttpSession *s = NULL;

	if (auth != NULL) {
		g_autofree gchar *trimmed = g_strstrip(g_strdup(auth));
		const gchar *space = strrchr(trimmed, ' ');

		key = g_strdup(space != NULL ? space + 1 : trimmed);
		s = g_hash_table_lookup(self->by_key, key);
	}
	if (s == NULL) {
		soup_message_headers_replace(
		        soup_server_message_get_response_headers(msb_http_call_get_message(call)),
		        "WWW-Authenticate", "Bearer realm=\"my-service-bus session\"");
		msb_http_reply_error_literal(
		        call, MSB_HTTP_ERROR_UNAUTHORIZED,
		        auth == NULL ? "this call needs a session: send Authorization: Bearer "
		                       "<session> with the key POST /api/Greeting returned"
		                     : "unknown or expired session: call POST /api/Greeting again");
		return NULL;
	}
	s->last_call_us = g_get_monotonic_time();
	/* the status page's readSize, readPerSec and lastIncoming */
	msb_broker_session_count_io(
	        self->broker, s->session,
	        (gsize)soup_server_message_get_request_body(msb_http_call_get_message(call))
	                ->length,
	        0);
	return s;
}

static gchar *
msb_http_describe_peer(SoupServerMessage *msg)
{
	GSocketAddress *addr = soup_server_message_get_remote_address(msg);

	if (G_IS_INET_SOCKET_ADDRESS(addr)) {
		GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS(addr);
		g_autofree gchar *ip =
		        g_inet_address_to_string(g_inet_socket_address_get_address(inet));
		return g_strdup_printf("%s:%u", ip, g_inet_socket_address_get_port(inet));
	}
	return g_strdup("http");
}

static MsbWireStr
msb_wire_str_from(const gchar *s)
{
	MsbWireStr w = {s, (guint8)strlen(s)};

	return w;
}

/*
 * A session key: a version 4 UUID from the kernel's random source. Not g_uuid_string_random():
 * GRand is a Mersenne Twister, whose later outputs can be computed from enough earlier ones, and
 * any client can greet as often as it likes to collect them.
 */
static gchar *
msb_http_session_new_key(GError **error)
{
	guint8 b[16];

	if (getrandom(b, sizeof(b), 0) != (gssize)sizeof(b)) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "no random bytes for a session key: %s", g_strerror(errno));
		return NULL;
	}
	b[6] = (guint8)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (guint8)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	return g_strdup_printf(
	        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	        b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	        b[15]);
}

/* ---- routes ---- */

static void
msb_http_greeting_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpSessions *self = user_data;
	const gchar *name = NULL;
	const gchar *version = NULL;
	const gchar *ns = msb_http_call_get_namespace(call);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *greeting = NULL;
	g_autofree gchar *peer = NULL;
	g_autofree gchar *rejects = NULL;
	g_autofree gchar *json = NULL;
	g_autofree gchar *key = NULL;
	MsbHttpSession *s;
	MsbPacket packet = {.id = MSB_PACKET_GREETING};

	if (!msb_http_call_query_string(call, "name", TRUE, &name, &error) ||
	    !msb_http_bodies_check_name("name", name, &error)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	(void)msb_http_call_query_string(call, "version", FALSE, &version, NULL);
	greeting = version != NULL && version[0] != '\0' ? g_strdup_printf("%s;%s", name, version)
	                                                 : g_strdup(name);
	if (!msb_http_bodies_check_name("name;version", greeting, &error) ||
	    !msb_http_bodies_check_name("ns", ns, &error)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}

	/* each session holds a broker session and its in-flight messages until it expires */
	if (g_hash_table_size(self->by_key) >= self->max_sessions) {
		g_autofree gchar *text = g_strdup_printf("too many HTTP sessions: %u are open "
		                                         "(HttpMaxSessions); retry later, or use "
		                                         "the TCP protocol\n",
		                                         g_hash_table_size(self->by_key));
		g_debug("HTTP Greeting refused: %u sessions open", g_hash_table_size(self->by_key));
		soup_message_headers_replace(
		        soup_server_message_get_response_headers(msb_http_call_get_message(call)),
		        "Retry-After", "10");
		msb_http_call_reply_text(call, SOUP_STATUS_SERVICE_UNAVAILABLE, text);
		return;
	}
	key = msb_http_session_new_key(&error);
	if (key == NULL) {
		g_warning("%s", error->message);
		msb_http_call_reply_text(call, SOUP_STATUS_SERVICE_UNAVAILABLE, error->message);
		return;
	}
	s = g_new0(MsbHttpSession, 1);
	s->owner = self;
	s->key = g_steal_pointer(&key);
	s->last_call_us = g_get_monotonic_time();
	msb_wire_decoder_init(&s->dec, MSB_HTTP_SESSION_DECODER_MAX);
	s->dec.protocol_version = MSB_WIRE_PROTOCOL_MAX;
	peer = msb_http_describe_peer(msb_http_call_get_message(call));
	s->session = msb_broker_session_new(self->broker, MSB_SESSION_KIND_HTTP, peer, s);
	g_hash_table_insert(self->by_key, s->key, s);
	msb_http_sessions_update_expiry(self);

	packet.greeting.name = msb_wire_str_from(greeting);
	packet.greeting.protocol_version = MSB_WIRE_PROTOCOL_MAX;
	rejects = msb_http_session_call(s, &packet);
	if (rejects == NULL && g_strcmp0(ns, "default") != 0) {
		MsbPacket set_ns = {.id = MSB_PACKET_SET_NAMESPACE};

		set_ns.set_namespace.name = msb_wire_str_from(ns);
		rejects = msb_http_session_call(s, &set_ns);
	}
	if (rejects != NULL) {
		msb_http_session_close(s, SOUP_STATUS_FORBIDDEN, rejects);
		msb_http_call_reply_text(call, SOUP_STATUS_FORBIDDEN, rejects);
		return;
	}
	g_debug("HTTP session %" G_GINT64_FORMAT " from %s: greeted as '%s'",
	        msb_session_get_id(s->session), peer, greeting);
	json = g_strdup_printf("{\"session\":\"%s\"}", s->key);
	msb_http_call_reply_json_text(call, SOUP_STATUS_OK, g_steal_pointer(&json));
}

static void
msb_http_ping_cb(MsbHttpCall *call, gpointer user_data)
{
	if (msb_http_sessions_authenticate(user_data, call) != NULL)
		msb_http_call_reply_empty(call);
}

static void
msb_http_publish_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpSessions *self = user_data;
	MsbHttpSession *s = msb_http_sessions_authenticate(self, call);
	const gchar *topic = NULL;
	gboolean persist_immediately = FALSE;
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbHttpPublishBody) publish = NULL;
	JsonObject *body;
	MsbHttpParked *p;
	MsbPacket packet = {.id = MSB_PACKET_PUBLISH};

	if (s == NULL)
		return;
	if (!msb_http_call_query_string(call, "topicId", TRUE, &topic, &error) ||
	    !msb_http_bodies_check_name("topicId", topic, &error)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	/* absent: FALSE, and no error */
	if (!msb_http_call_query_bool(call, "persistImmediately", FALSE, &persist_immediately,
	                              &error) &&
	    error != NULL) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	body = msb_http_call_get_body_object(call, &error);
	if (body == NULL) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	publish = msb_http_bodies_decode_publish(body, &error);
	if (publish == NULL) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}

	p = msb_http_parked_new(s, call);
	p->request_id = self->next_request_id++;
	g_queue_push_tail(&s->publishes, p);
	packet.publish.topic = msb_wire_str_from(topic);
	packet.publish.request_id = p->request_id;
	packet.publish.persist_immediately = persist_immediately;
	packet.publish.n_messages = publish->messages->len;
	packet.publish.messages = (const MsbWireMessage *)publish->messages->data;
	/* its answer (PublishResponse or Reject) comes through the output, now or once held
	 * answers before it are released */
	if (!msb_broker_handle_packet(self->broker, s->session, &packet, &error) &&
	    g_queue_peek_tail(&s->publishes) == p) {
		/* not for a Publish; were it to happen, the call must still end */
		g_queue_pop_tail(&s->publishes);
		msb_http_parked_free(p);
		p = NULL;
		msb_http_call_reply_text(call, SOUP_STATUS_FORBIDDEN, error->message);
	}
	msb_broker_run_deliveries(self->broker);
	/* answers go from the head and nothing else was queued meanwhile: still the tail means
	 * still unanswered (held until persistence or a snapshot catches up) */
	if (p != NULL && g_queue_peek_tail(&s->publishes) == p)
		msb_http_parked_pause(p, G_CALLBACK(msb_http_publish_gone_cb));
}

static void
msb_http_subscribe_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpSessions *self = user_data;
	MsbHttpSession *s = msb_http_sessions_authenticate(self, call);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *rejects = NULL;
	MsbHttpSubscribeBody sub;
	JsonObject *body;
	MsbPacket packet = {.id = MSB_PACKET_SUBSCRIBE};

	if (s == NULL)
		return;
	body = msb_http_call_get_body_object(call, &error);
	if (body == NULL || !msb_http_bodies_decode_subscribe(body, &sub, &error)) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	packet.subscribe.topic = msb_wire_str_from(sub.topic);
	packet.subscribe.queue = msb_wire_str_from(sub.queue);
	packet.subscribe.queue_type = sub.queue_type;
	rejects = msb_http_session_call(s, &packet);
	if (rejects != NULL) {
		msb_http_call_reply_text(call, SOUP_STATUS_FORBIDDEN, rejects);
		return;
	}
	msb_http_call_reply_empty(call);
}

static gboolean
msb_http_await_timeout_cb(gpointer user_data)
{
	MsbHttpParked *p = user_data;
	MsbHttpSession *s = p->session;

	p->timeout_id = 0;
	/* nothing came: an empty answer, and the client asks again */
	s->await = NULL;
	msb_http_parked_reply(p, SOUP_STATUS_NO_CONTENT, NULL, NULL);
	msb_http_parked_free(p);
	s->last_call_us = g_get_monotonic_time();
	return G_SOURCE_REMOVE;
}

static void
msb_http_await_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpSessions *self = user_data;
	MsbHttpSession *s = msb_http_sessions_authenticate(self, call);
	MsbHttpParked *p;

	if (s == NULL)
		return;
	if (s->await != NULL && !msb_http_session_await_abandoned(s)) {
		msb_http_reply_error_literal(call, MSB_HTTP_ERROR_CONFLICT,
		                             "another Await of this session is waiting; one at a "
		                             "time per session");
		return;
	}
	if (!g_queue_is_empty(&s->packages)) {
		msb_http_call_reply_json_text(call, SOUP_STATUS_OK, g_queue_pop_head(&s->packages));
		return;
	}
	p = msb_http_parked_new(s, call);
	s->await = p;
	p->timeout_id = g_timeout_add((guint)MAX(self->await_timeout_us / 1000, 1),
	                              msb_http_await_timeout_cb, p);
	msb_http_parked_pause(p, G_CALLBACK(msb_http_await_gone_cb));
}

static void
msb_http_confirm_cb(MsbHttpCall *call, gpointer user_data)
{
	MsbHttpSessions *self = user_data;
	MsbHttpSession *s = msb_http_sessions_authenticate(self, call);
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) entries = NULL;
	g_autoptr(GString) rejects = g_string_new(NULL);
	JsonObject *body;

	if (s == NULL)
		return;
	/* all checked before any is acted on: a bad body changes nothing */
	body = msb_http_call_get_body_object(call, &error);
	if (body != NULL)
		entries = msb_http_bodies_decode_confirm(body, &error);
	if (entries == NULL) {
		msb_http_call_reply_error(call, error, 0);
		return;
	}
	for (guint i = 0; i < entries->len; i++) {
		MsbHttpConfirmEntry *e = &g_array_index(entries, MsbHttpConfirmEntry, i);
		g_autofree gchar *rejected = NULL;
		MsbPacket packet = {0};

		if (e->kind == MSB_HTTP_CONFIRM_SOME_OK) {
			packet.id = MSB_PACKET_CONFIRM_SOME_MESSAGES_AS_OK;
			packet.confirm_ids.topic = msb_wire_str_from(e->topic);
			packet.confirm_ids.queue = msb_wire_str_from(e->queue);
			packet.confirm_ids.confirmation_id = e->subscriber_id;
			packet.confirm_ids.n_ranges = e->ranges->len;
			packet.confirm_ids.ranges = (const MsbWireRange *)e->ranges->data;
		} else {
			packet.id = e->kind == MSB_HTTP_CONFIRM_ALL_OK
			                    ? MSB_PACKET_NEW_MESSAGES_CONFIRMATION
			                    : MSB_PACKET_ALL_MESSAGES_CONFIRMED_AS_FAIL;
			packet.confirm.topic = msb_wire_str_from(e->topic);
			packet.confirm.queue = msb_wire_str_from(e->queue);
			packet.confirm.confirmation_id = e->subscriber_id;
		}
		rejected = msb_http_session_call(s, &packet);
		if (rejected != NULL)
			g_string_append_printf(rejects, "%s%s", rejects->len > 0 ? "\n" : "",
			                       rejected);
	}
	/* node.md §3.4: an unknown topic or queue is 403 on HTTP; the other entries are done */
	if (rejects->len > 0) {
		msb_http_call_reply_text(call, SOUP_STATUS_FORBIDDEN, rejects->str);
		return;
	}
	msb_http_call_reply_empty(call);
}

static const MsbHttpRoute msb_http_session_routes[] = {
        {"POST", "/api/Greeting", MSB_HTTP_ROUTE_NONE, msb_http_greeting_cb},
        {"POST", "/Greeting", MSB_HTTP_ROUTE_NONE, msb_http_greeting_cb},
        {"POST", "/api/Greeting/Ping", MSB_HTTP_ROUTE_NONE, msb_http_ping_cb},
        {"POST", "/Greeting/Ping", MSB_HTTP_ROUTE_NONE, msb_http_ping_cb},
        {"POST", "/api/Publish", MSB_HTTP_ROUTE_NONE, msb_http_publish_cb},
        {"POST", "/Publish", MSB_HTTP_ROUTE_NONE, msb_http_publish_cb},
        {"POST", "/api/Subscribers/Subscribe", MSB_HTTP_ROUTE_NONE, msb_http_subscribe_cb},
        {"POST", "/api/Subscribers/Await", MSB_HTTP_ROUTE_NONE, msb_http_await_cb},
        {"POST", "/api/Subscribers/Confirm", MSB_HTTP_ROUTE_NONE, msb_http_confirm_cb},
};

MsbHttpSessions *
msb_http_sessions_new(MsbHttpRouter *router, MsbBroker *broker)
{
	MsbHttpSessions *self;

	g_return_val_if_fail(router != NULL, NULL);
	g_return_val_if_fail(broker != NULL, NULL);
	self = g_new0(MsbHttpSessions, 1);
	self->broker = broker;
	self->by_key = g_hash_table_new(g_str_hash, g_str_equal);
	self->session_timeout_us = MSB_HTTP_SESSION_DEFAULT_TIMEOUT_US;
	self->await_timeout_us = MSB_HTTP_SESSION_DEFAULT_AWAIT_TIMEOUT_US;
	self->max_sessions = MSB_HTTP_SESSION_DEFAULT_MAX;
	self->next_request_id = 1;
	msb_http_router_add(router, msb_http_session_routes, G_N_ELEMENTS(msb_http_session_routes),
	                    self);
	return self;
}

void
msb_http_sessions_set_timeouts(MsbHttpSessions *self, gint64 session_timeout_us,
                               gint64 await_timeout_us)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(session_timeout_us > 0);
	g_return_if_fail(await_timeout_us > 0);
	self->session_timeout_us = session_timeout_us;
	self->await_timeout_us = await_timeout_us;
	msb_http_sessions_update_expiry(self);
}

void
msb_http_sessions_set_max(MsbHttpSessions *self, guint max)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(max > 0);
	self->max_sessions = max;
}

void
msb_http_sessions_free(MsbHttpSessions *self)
{
	GHashTableIter iter;
	gpointer value;

	if (self == NULL)
		return;
	/* one at a time: closing one session delivers to the others */
	g_hash_table_iter_init(&iter, self->by_key);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		msb_http_session_close(value, SOUP_STATUS_SERVICE_UNAVAILABLE,
		                       "the broker is stopping");
		g_hash_table_iter_init(&iter, self->by_key);
	}
	g_clear_handle_id(&self->expiry_id, g_source_remove);
	g_hash_table_unref(self->by_key);
	g_free(self);
}
