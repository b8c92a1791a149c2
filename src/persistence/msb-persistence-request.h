/*
 * What a decoded G3 request must satisfy before the persistence service takes it to the store,
 * and the decoding of an upload (SaveMessages, SaveMessagesUncompressed) into message batches.
 * No gRPC and no store I/O: the service's handlers turn a refusal into INVALID_ARGUMENT (or what
 * msb_status_for_error() says for a ZIP or codec error), and tests/fuzz/fuzz-persistence-request.c
 * runs this very code on hostile requests without a network.
 */
#pragma once

#include <glib.h>

#include "messages_persistence.pb-c.h"
#include "queue_persistence.pb-c.h"

G_BEGIN_DECLS

#define MSB_PERSISTENCE_REQUEST_ERROR (msb_persistence_request_error_quark())
GQuark
msb_persistence_request_error_quark(void);

typedef enum {
	MSB_PERSISTENCE_REQUEST_ERROR_INVALID, /* a field out of range or not what it must be */
} MsbPersistenceRequestError;

/* A TopicId that can name a stored topic. */
gboolean
msb_persistence_request_check_topic(const gchar *topic, GError **error);

/*
 * The ids a page request asks for, [*@lo, *@hi] (*@lo > *@hi: none). 0/0 and a reversed pair
 * mean the whole page PageNo (the first is ours and the brief's, the second what the Rust
 * service does, persistence.md Q6); otherwise [From, To] within page PageNo, so that a request
 * can never ask for more than one page.
 */
gboolean
msb_persistence_request_page_range(const Persistence__GetPageGrpcRequest *req, gint64 *lo,
                                   gint64 *hi, GError **error);

/* The ids of sub-page @sub_page_no. */
gboolean
msb_persistence_request_sub_page_range(gint64 sub_page_no, gint64 *lo, gint64 *hi, GError **error);

/* Any bad record refuses the whole snapshot: half a snapshot would lose queues. */
gboolean
msb_persistence_request_check_snapshot(const Persistence__SaveQueueSnapshotGrpcRequest *snap,
                                       GError **error);

/*
 * The joined chunks of an upload as MsbMessageBatch (owned; at least one, each with a valid
 * TopicId): one NewMessagesPayloadModel, or with @compressed a ZIP archive whose every entry
 * holds one (G3 brokers send one entry "d"). @max caps the unzipped and decoded size.
 */
GPtrArray *
msb_persistence_request_decode_upload(const guint8 *data, gsize len, gboolean compressed, gsize max,
                                      GError **error);

G_END_DECLS
