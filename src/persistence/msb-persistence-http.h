/*
 * The HTTP side of my-service-bus-persistence (persistence.md §10, our version): /api/isalive,
 * /api/status (JSON) and /metrics (Prometheus text), served by libsoup on the main loop. It only
 * reads: the store's index and counters, the gRPC server's call counters.
 */
#pragma once

#include <gio/gio.h>

#include "msb-grpc-server.h"
#include "msb-http-limits.h"
#include "msb-persistence-service.h"
#include "msb-store.h"

G_BEGIN_DECLS

typedef struct _MsbPersistenceHttp MsbPersistenceHttp;

/* What the endpoints report besides the store: set by the program as things happen. */
typedef enum {
	MSB_PERSISTENCE_RECOVERY_RUNNING,
	MSB_PERSISTENCE_RECOVERY_DONE,
	MSB_PERSISTENCE_RECOVERY_FAILED,
} MsbPersistenceRecovery;

/* Everything is kept by reference and must outlive the HTTP server. */
MsbPersistenceHttp *
msb_persistence_http_new(MsbStore *store, MsbPersistenceService *service, MsbGrpcServer *grpc,
                         const gchar *data_path);
/* @port 0 picks a free port; *@bound_port gets it. @limits are copied. */
gboolean
msb_persistence_http_listen(MsbPersistenceHttp *http, const gchar *address, guint16 port,
                            const MsbHttpLimits *limits, guint16 *bound_port, GError **error);
void
msb_persistence_http_set_recovery(MsbPersistenceHttp *http, MsbPersistenceRecovery state,
                                  const gchar *error_message);
void
msb_persistence_http_free(MsbPersistenceHttp *http);

/* The bodies, for tests and for the endpoints; free them. */
gchar *
msb_persistence_http_build_status(MsbPersistenceHttp *http);
/* {"damaged": [...]}: the sub-pages whose stored bytes failed their checks (GET /api/damaged) */
gchar *
msb_persistence_http_build_damaged(MsbPersistenceHttp *http);
gchar *
msb_persistence_http_build_metrics(MsbPersistenceHttp *http);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbPersistenceHttp, msb_persistence_http_free)

G_END_DECLS
