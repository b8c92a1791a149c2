/*
 * A harness for driving MsbBroker without sockets, shared by test-broker and test-broker-persist:
 * fake monotonic and wall clocks, clients whose packets are encoded with the wire codec and
 * decoded the way the connection adapter does, and a client-side decoder for what the broker
 * writes into each session's output buffer. The persistence callbacks only record what they were
 * asked; the tests answer in their own time.
 */
#pragma once

#include <glib.h>

#include "msb-broker.h"

G_BEGIN_DECLS

#define SEC G_GINT64_CONSTANT(1000000) /* µs */

typedef struct _Client Client;

/* One load_sub_page() call. */
typedef struct {
	MsbTopic *topic;
	gint64 no;
} LoadRequest;

typedef struct {
	MsbBroker *broker;
	gint64 mono;
	gint64 wall;
	GPtrArray *disconnects; /* MsbSession*, in callback order */
	GPtrArray *reasons;     /* gchar*, parallel to disconnects */
	GPtrArray *clients;     /* Client*, owned */
	guint outputs;
	gboolean close_in_callback; /* like msb-server.c: close the session inside disconnect */
	guint save_wanted;          /* save_wanted() calls */
	GArray *loads;              /* LoadRequest, in callback order */
	guint snapshot_wanted;      /* snapshot_wanted() calls */
	GPtrArray *deletes;         /* gchar*: delete_topic() calls, topic names in order */
} Fixture;

struct _Client {
	Fixture *fx;
	MsbSession *session; /* NULL once closed */
	gint32 p;            /* what the client negotiated; decodes what it receives */
	gint32 v7;
	MsbWireDecoder dec;  /* server → client */
	MsbWireDecoder sdec; /* client → server, kept in step with the session like the adapter */
	gint64 next_request_id;
	gboolean notified; /* output_ready was called since the last c_read() */
};

MsbBrokerConfig
default_config(void);
Fixture *
fixture_new_with(const MsbBrokerConfig *config);
Fixture *
fixture_new(void);
void
fixture_free(Fixture *fx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fixture, fixture_free)
/* Build a snapshot and report it saved, as the adapter does on snapshot_wanted(): the ids it
 * reserves may be delivered and acknowledged. */
void
fixture_save_snapshot(Fixture *fx);

/* ---- clients ---- */

/* A connection that has not sent anything yet. */
Client *
client_new_raw(Fixture *fx);
/* Greeted with protocol @p and, when @v7 is not 0, PacketVersions {7 → v7}; no output. */
Client *
client_new(Fixture *fx, gint32 p, gint32 v7);
void
client_close(Client *c);
/*
 * Feed every packet in @buf to the broker as the adapter does (decoder kept at the session's P
 * and V7), then run the delivery passes. Returns what handle_packet() returned for the last
 * packet handled; stops at the first FALSE.
 */
gboolean
client_send_buf(Client *c, MsbBuf *buf, GError **error);
void
client_send(Client *c, MsbBuf *buf);

void
c_ping(Client *c);
gboolean
c_greet_full(Client *c, const gchar *name, gint32 version, GError **error);
void
c_greet(Client *c, gint32 version);
void
c_versions(Client *c, gint32 v7);
void
c_namespace(Client *c, const gchar *name);
void
c_create_topic(Client *c, const gchar *topic);
void
c_subscribe(Client *c, const gchar *topic, const gchar *queue, guint8 type);

/* Publish @n messages; message i has headers[i] (raw block, may be NULL) and contents[i] of
 * lens[i] bytes. Returns the request id used. */
gint64
c_publish_raw(Client *c, const gchar *topic, gint64 request_id, guint n,
              const GBytes *const *headers, const guint8 *const *contents, const gsize *lens);
/* The same with the persist_immediately flag. */
gint64
c_publish_full(Client *c, const gchar *topic, gint64 request_id, guint n,
               const GBytes *const *headers, const guint8 *const *contents, const gsize *lens,
               gboolean persist_immediately);
/* Publish the NULL-terminated strings as messages (no headers); returns the request id. */
gint64
c_publish(Client *c, const gchar *topic, const gchar *const *strs);
gint64
c_publish1(Client *c, const gchar *topic, const gchar *str);
/* Publish @n messages in one packet, message i of @sizes[i] bytes of 'a' + i % 26. */
gint64
c_publish_sizes(Client *c, const gchar *topic, guint n, const gsize *sizes);
/* Publish @n messages of @size bytes in one packet. */
gint64
c_publish_n(Client *c, const gchar *topic, guint n, gsize size);

void
c_confirm_id(Client *c, MsbPacketId kind, const gchar *topic, const gchar *queue,
             gint64 confirmation_id);
/* @ranges: n pairs of inclusive (from, to) */
void
c_confirm_ranges_id(Client *c, MsbPacketId kind, const gchar *topic, const gchar *queue,
                    gint64 confirmation_id, const gint64 *ranges, guint n);

/* ---- what the client receives ---- */

typedef struct {
	gint64 id;
	gint32 attempt;
	guint n_headers;
	GBytes *headers; /* raw block */
	GBytes *content;
} RxMessage;

typedef struct {
	MsbPacketId id;
	gsize size; /* bytes on the wire */
	gchar *text;
	gint64 request_id;
	gchar *topic;
	gchar *queue;
	gint64 confirmation_id;
	GArray *messages; /* RxMessage */
} RxPacket;

void
rx_packet_free(RxPacket *pkt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RxPacket, rx_packet_free)

/* Decode and consume everything the broker wrote for @c (RxPacket*). */
GPtrArray *
c_read(Client *c);
void
expect_none(Client *c);
RxPacket *
expect_one(Client *c, MsbPacketId id);
void
expect_pong(Client *c);
void
expect_reject(Client *c, const gchar *prefix);
void
expect_reject_exact(Client *c, const gchar *text);
void
expect_response(Client *c, gint64 request_id);
RxPacket *
expect_batch(Client *c, const gchar *topic, const gchar *queue);
RxMessage *
rx_msg(RxPacket *pkt, guint i);
/* "0-4, 7, 9-10"; also checks that the ids ascend. */
gchar *
batch_ids(RxPacket *pkt);
void
assert_ids(RxPacket *pkt, const gchar *expect);
void
assert_attempts(RxPacket *pkt, gint32 attempt);
void
assert_content(RxMessage *m, const gchar *expect);

/* Confirm a received batch with packet 8 or 13. */
void
c_confirm(Client *c, MsbPacketId kind, RxPacket *pkt);
void
c_ok(Client *c, RxPacket *pkt);
void
c_fail(Client *c, RxPacket *pkt);
void
c_confirm_ranges(Client *c, MsbPacketId kind, RxPacket *pkt, const gint64 *ranges, guint n);

/* ---- broker state ---- */

MsbTopic *
make_topic(Fixture *fx, const gchar *name);
MsbQueue *
find_queue(Fixture *fx, const gchar *topic, const gchar *queue);
/* A raw wire header block (u8 count + pairs). */
GBytes *
make_headers(const MsbWireHeader *hdrs, guint n);

G_END_DECLS
