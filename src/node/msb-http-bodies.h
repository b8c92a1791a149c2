/*
 * MsbHttpBodies: the JSON of the REST API turned into plain C values and back, without I/O.
 *
 * Every request body the broker reads (a JSON object, or a form-urlencoded one as string
 * members) is decoded here, with a GError in MSB_HTTP_ERROR naming what is wrong, and the one
 * JSON the broker writes by hand (the package an Await answers with, node.md §6.3) is written
 * here. The HTTP handlers only fetch the bytes and act on the values, so each rule has one copy,
 * and the whole of it can be unit-tested and fuzzed (tests/fuzz/fuzz-http-json.c) without a
 * server or a broker.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "msb-buf.h"
#include "msb-wire.h"

G_BEGIN_DECLS

#define MSB_HTTP_ERROR (msb_http_error_quark())
GQuark
msb_http_error_quark(void);

typedef enum {
	MSB_HTTP_ERROR_BAD_REQUEST,  /* 400 */
	MSB_HTTP_ERROR_UNAUTHORIZED, /* 401 */
	MSB_HTTP_ERROR_NOT_FOUND,    /* 404 */
	MSB_HTTP_ERROR_CONFLICT,     /* 409 */
} MsbHttpError;

/* A name the wire can carry (topic, queue, client name, namespace): 1 to 255 bytes of UTF-8.
 * @what names the field in the error. */
gboolean
msb_http_bodies_check_name(const gchar *what, const gchar *value, GError **error);

/* The deepest nesting of arrays and objects a JSON body may have (the API's bodies need 4). */
#define MSB_HTTP_BODIES_MAX_DEPTH 64

/* A JSON body (RFC 8259: no comments or single quotes) that must be an object, nested at most
 * MSB_HTTP_BODIES_MAX_DEPTH deep; a new reference. */
JsonObject *
msb_http_bodies_parse_json(const gchar *data, gsize len, GError **error);
/* A form-urlencoded body as an object of string members; a new reference. Never fails. */
JsonObject *
msb_http_bodies_parse_form(const gchar *data, gsize len);

/*
 * POST /api/Publish: {"messages": [{"headers": [{"key", "value"}] or null, "base64Message"}]}.
 * The messages are wire messages (P 3 header blocks) pointing into the struct's own buffers.
 */
typedef struct {
	GArray *messages;    /* MsbWireMessage */
	GPtrArray *contents; /* GBytes, the decoded base64, one per message */
	MsbBuf headers;      /* the header blocks, one after the other */
} MsbHttpPublishBody;

MsbHttpPublishBody *
msb_http_bodies_decode_publish(JsonObject *body, GError **error);
void
msb_http_publish_body_free(MsbHttpPublishBody *publish);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbHttpPublishBody, msb_http_publish_body_free)

/* POST /api/Subscribers/Subscribe: {"topicId", "queueId", "queueType"}. The strings belong to
 * @body. */
typedef struct {
	const gchar *topic;
	const gchar *queue;
	guint8 queue_type; /* the wire byte (MsbQueueType) */
} MsbHttpSubscribeBody;

gboolean
msb_http_bodies_decode_subscribe(JsonObject *body, MsbHttpSubscribeBody *out, GError **error);

/* POST /api/Subscribers/Confirm: {"confirmation": [{"topicId", "queueId", "subscriberId",
 * "allOk" | "allFail" | "someOk": [{"fromId", "toId"}]}]}. */
typedef enum {
	MSB_HTTP_CONFIRM_ALL_OK,
	MSB_HTTP_CONFIRM_ALL_FAIL,
	MSB_HTTP_CONFIRM_SOME_OK,
} MsbHttpConfirmKind;

typedef struct {
	const gchar *topic; /* belongs to the body */
	const gchar *queue;
	gint64 subscriber_id; /* the confirmation id of the batch */
	MsbHttpConfirmKind kind;
	GArray *ranges; /* MsbWireRange, 0 ≤ from_id ≤ to_id; someOk only, else NULL */
} MsbHttpConfirmEntry;

/* The entries (MsbHttpConfirmEntry, in order, cleared with the array), all checked: a bad
 * entry anywhere fails the whole body. */
GArray *
msb_http_bodies_decode_confirm(JsonObject *body, GError **error);

/*
 * POST /api/Topics/Persist: "topicId" (string) and "persist" (boolean or "true"/"false") from
 * @body (NULL: no body), each taken from the query (@query_topic, @query_persist, NULL when
 * absent) when the body lacks it. *topic belongs to @body or the query.
 */
gboolean
msb_http_bodies_decode_persist(JsonObject *body, const gchar *query_topic,
                               const gchar *query_persist, const gchar **topic, gboolean *persist,
                               GError **error);

/*
 * The package of an Await (node.md §6.3) for a NewMessages packet: {"topic_id", "queue_id",
 * "confirmation_id", "messages": [{"id", "attempt_no", "headers": [{"key", "value"}],
 * "content"}]}, content in base64. Header bytes that are not UTF-8 (the wire codec refuses them,
 * but a header block is copied as it was stored) are written as U+FFFD, byte by byte, as
 * g_utf8_make_valid() does, so the answer is always valid JSON.
 */
gchar *
msb_http_bodies_write_package(const MsbPacket *packet);

G_END_DECLS
