/*
 * MsbPersistence: the broker's link to my-service-bus-persistence. It connects the domain model's
 * persistence side (msb-persist.h: what to save, what is durable, what to load) to the gRPC
 * client (msb-persistence-client.h): it restores topics and queues at start-up, saves pending
 * messages as soon as they are published (several saves in flight), saves a snapshot after
 * each change once the messages it refers to are saved, loads sub-pages back for lagging queues,
 * retries whatever failed, and drains everything at shutdown.
 */
#pragma once

#include <gio/gio.h>

#include "msb-broker.h"
#include "msb-http.h"
#include "msb-settings.h"

G_BEGIN_DECLS

typedef struct _MsbPersistence MsbPersistence;

/* Creates the link; fails only for a GrpcUrl that cannot be used. Install the returned
 * callbacks before the broker is created: see msb_persistence_bind(). */
MsbPersistence *
msb_persistence_new(const gchar *url, gint64 eventually_persistence_delay_us, gboolean compressed,
                    GError **error);
void
msb_persistence_free(MsbPersistence *self);
/* Settings reloaded at run time (SIGHUP): they apply to the next saves. */
void
msb_persistence_set_options(MsbPersistence *self, gint64 eventually_persistence_delay_us,
                            gboolean compressed);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbPersistence, msb_persistence_free)

/* What a load that the service answers with DATA_LOSS does (OnDamagedMessages), default skip. */
void
msb_persistence_set_on_damaged(MsbPersistence *self, MsbOnDamaged on_damaged);

/* Fill the persistence callbacks of @callbacks (save_wanted, load_sub_page); the broker must be
 * created with @self as the user data those callbacks get (the server forwards them). */
void
msb_persistence_save_wanted(MsbPersistence *self);
void
msb_persistence_load_sub_page(MsbPersistence *self, MsbTopic *topic, gint64 sub_page_no);
void
msb_persistence_snapshot_wanted(MsbPersistence *self);
/* The broker's delete_topic(): DeleteTopic, then msb_broker_topic_delete_done(). */
void
msb_persistence_delete_topic(MsbPersistence *self, const gchar *topic, gint64 delete_after_us);

/*
 * Restore topics and queues from the snapshot (retrying every 5 s while the service is not
 * there, saying so in the log), then call @ready. Only after that may clients be served.
 */
void
msb_persistence_start(MsbPersistence *self, MsbBroker *broker, GSourceFunc ready,
                      gpointer ready_data);
gboolean
msb_persistence_is_restored(MsbPersistence *self);

/*
 * Graceful shutdown: save every pending message and a final snapshot, retrying, for at most
 * @timeout_us; then call @done. Publishes must already be refused.
 */
void
msb_persistence_drain(MsbPersistence *self, gint64 timeout_us, GSourceFunc done,
                      gpointer done_data);

/* The gRPC client, for readers of stored messages (the message browser). */
MsbPersistenceClient *
msb_persistence_get_client(MsbPersistence *self);

/* For /api/status and /metrics. */
void
msb_persistence_get_info(MsbPersistence *self, MsbHttpInfo *info);

G_END_DECLS
