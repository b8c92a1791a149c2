/*
 * The harness of the durability tests: the real broker (itest.h) with persistence, talking to
 * the real my-service-bus-persistence (ptest.h) on a port chosen per test, plus what those tests
 * need on top: publishes with persist_immediately, a consumer that records what arrives, the
 * broker's Prometheus metrics, the service's /api/status, and waiting until the service's queue
 * snapshot says something.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "itest.h"
#include "ptest.h"

G_BEGIN_DECLS

/* ptest_init() (g_test_init(), grpc_init()) and the checks of itest_init(). */
void
dtest_init(int *argc, char ***argv);

/* A broker (not started) whose GrpcUrl is @ps's gRPC port (@ps started once, or that port set)
 * with EventuallyPersistenceDelay 1s, and @settings added ("Key: Value" lines, may be NULL). */
ItestBroker *
dtest_broker_new(PtestService *ps, const gchar *settings);
/* With capture_log, after itest_broker_spawn(): wait for the HTTP listener's log line and take
 * its port (the ready file comes only once persistence has answered). */
void
dtest_broker_wait_http(ItestBroker *b);

/* The content of the message published as number @n of a test: "<prefix>-<n>" padded with
 * bytes derived from @n to @size bytes (at least the text). Free it. */
GBytes *
dtest_content(const gchar *prefix, guint n, gsize size);
/* One Publish to @topic of @count messages dtest_content(@prefix, @first…, @size). */
void
dtest_publish(ItestRaw *r, const gchar *topic, gint64 request_id, const gchar *prefix, guint first,
              guint count, gsize size, gboolean persist_immediately);
/* Connect, greet (P = 3) and sync. */
ItestRaw *
dtest_connect(ItestBroker *b, const gchar *name);

/* What a consumer received, in order. */
typedef struct {
	GArray *ids;        /* gint64 */
	GArray *attempts;   /* gint32 */
	GPtrArray *content; /* GBytes */
} DtestReceived;

DtestReceived *
dtest_received_new(void);
void
dtest_received_free(DtestReceived *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DtestReceived, dtest_received_free)
/* Take the next NewMessages of @sub, record its messages and, when @confirm, confirm it with
 * packet 8. Returns the number of messages. */
guint
dtest_receive(ItestRaw *sub, DtestReceived *into, gboolean confirm, const gchar *topic,
              const gchar *queue);
/* Index of the first message whose content is @content, or -1. */
gint
dtest_received_find(DtestReceived *r, GBytes *content);

/* The value of the sample @series (the metric name with its labels, as printed) in the
 * broker's /metrics; fails if it is not there. */
gdouble
dtest_metric(ItestBroker *b, const gchar *series);
/* The service's /api/status, parsed. */
JsonNode *
dtest_service_status(PtestService *ps);
/* max_id of @topic in the service's /api/status, -1 if it is not listed. */
gint64
dtest_service_max_id(PtestService *ps, const gchar *topic);

/* Poll the service's queue snapshot (GetSnapshot) until it lists @queue of @topic and none of
 * its ranges holds an id below @min_id: the broker has saved a snapshot with that state. */
void
dtest_wait_snapshot(MsbPersistenceClient *client, const gchar *topic, const gchar *queue,
                    gint64 min_id);

G_END_DECLS
