/*
 * MsbPersistenceService: the G3 persistence protocol (../shared/spec/persistence.md Appendix
 * A.1) on top of MsbStore. Each handler decodes its request, validates it, calls the store in a
 * pool thread of MsbGrpcServer and turns the outcome into a response or a status a client can
 * act on. How the protocol maps onto the store, and which status each bad request gets, is
 * written down in docs/persistence-service.md.
 */
#pragma once

#include "msb-grpc-server.h"
#include "msb-store.h"

G_BEGIN_DECLS

/* Largest joined upload (all chunks of one SaveMessages / SaveMessagesUncompressed call). */
#define MSB_PERSISTENCE_MAX_UPLOAD (256u * 1024u * 1024u)
/* GetPageCompressed cuts its ZIP into chunks of this size (persistence.md §6.4, as the Rust
 * service). Our client raises its receive limit; a default C-core or tonic client would need
 * to as well. */
#define MSB_PERSISTENCE_PAGE_CHUNK_SIZE (4u * 1024u * 1024u)

typedef struct _MsbPersistenceService MsbPersistenceService;

typedef struct {
	guint64 uploads_compressed;   /* SaveMessages calls that stored their messages */
	guint64 uploads_uncompressed; /* SaveMessagesUncompressed calls likewise */
	guint64 upload_bytes;         /* joined chunk bytes received by both */
	guint64 snapshots_saved;
	gint64 last_save_us; /* wall clock of the last successful save; 0 = none since start */
} MsbPersistenceServiceStats;

/* @store is kept by reference and must outlive the service. */
MsbPersistenceService *
msb_persistence_service_new(MsbStore *store);
void
msb_persistence_service_free(MsbPersistenceService *service);

/* Registers every G3 method of both services on @server, and the gate that keeps all but
 * Ping and GetVersion answering UNAVAILABLE until msb_persistence_service_set_ready(). */
void
msb_persistence_service_register(MsbPersistenceService *service, MsbGrpcServer *server);

/* Recovery has finished: serve everything. */
void
msb_persistence_service_set_ready(MsbPersistenceService *service);
gboolean
msb_persistence_service_is_ready(MsbPersistenceService *service);

void
msb_persistence_service_get_stats(MsbPersistenceService *service,
                                  MsbPersistenceServiceStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbPersistenceService, msb_persistence_service_free)

G_END_DECLS
