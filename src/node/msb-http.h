/*
 * MsbHttp: the broker's HTTP listener (libsoup): /api/isalive, /api/status (the JSON the UI
 * polls, node.md §6.4) and Prometheus /metrics (node.md §7). It only reads: the broker, and what
 * the server tells it through MsbHttpInfo (start-up state, persistence link).
 */
#pragma once

#include <gio/gio.h>

/* the broker is only handed on (to MsbStatsReader): no broker struct is read here */
#include "msb-broker-stats.h"
#include "msb-http-limits.h"
#include "msb-http-router.h"
#include "msb-http-session.h"
#include "msb-metrics.h"

G_BEGIN_DECLS

typedef struct {
	const gchar *state; /* "waiting for persistence", "running", "shutting down" */
	guint tcp_connections;
	/* persistence; url is NULL when the broker runs in memory */
	const gchar *persistence_url;
	gboolean persistence_up;
	const gchar *persistence_version; /* may be NULL */
	const gchar *persistence_error;   /* the last failure, NULL when none */
	guint64 saves;
	guint64 save_failures;
	guint64 loads;
	guint64 load_failures;
	guint64 damaged_loads; /* loads answered DATA_LOSS */
	guint64 snapshots;
	guint64 snapshot_failures;
	gint64 oldest_pending_age_us; /* how long the oldest unsaved message has waited, or 0 */
	MsbHistogram save_latency;    /* acknowledged saves */
	guint http_connections;       /* open connections to the HTTP port (set by MsbHttp) */
	/* the status readers' collections and their main-loop slices (set by MsbHttp) */
	guint64 stats_collections;
	MsbHistogram stats_slices;
	gint64 stats_slice_max_us;
	gint64 stats_cpu_us;
	gint64 stats_slice_cpu_max_us;
} MsbHttpInfo;

typedef void (*MsbHttpInfoFunc)(MsbHttpInfo *info, gpointer user_data);

typedef struct _MsbHttp MsbHttp;

MsbHttp *
msb_http_new(MsbBroker *broker, MsbHttpInfoFunc info_func, gpointer user_data);
void
msb_http_free(MsbHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsbHttp, msb_http_free)

/* Port 0 picks a free one; see msb_http_get_port(). @limits are copied. */
gboolean
msb_http_listen(MsbHttp *http, const gchar *address, guint16 port, const MsbHttpLimits *limits,
                GError **error);
guint16
msb_http_get_port(MsbHttp *http);
/* The route table: the parts of the HTTP adapter add their routes to it. */
MsbHttpRouter *
msb_http_get_router(MsbHttp *http);
/* The stats reader the status pages use: other adapters (D-Bus) share its collections. */
typedef struct _MsbStatsReader MsbStatsReader;
MsbStatsReader *
msb_http_get_stats_reader(MsbHttp *http);
/* The HTTP publisher and subscriber sessions. */
MsbHttpSessions *
msb_http_get_sessions(MsbHttp *http);

typedef void (*MsbHttpRenderedFunc)(GBytes *json, gpointer user_data);
/*
 * Render @stats as the /api/Status JSON of namespace @ns in the render thread the status requests
 * use (or take the text of the status requests' rendering of the same @stats and @ns), and call
 * @func with the text on the main loop, never before this returns (not if @http is freed first);
 * @destroy is called with @user_data in any case.
 */
void
msb_http_render_status(MsbHttp *http, MsbBrokerStats *stats, const gchar *ns,
                       MsbHttpRenderedFunc func, gpointer user_data, GDestroyNotify destroy);

/* The persistence service's client, for messages no longer in memory (/api/Messages); NULL:
 * in memory only. */
typedef struct _MsbPersistenceClient MsbPersistenceClient;
void
msb_http_set_persistence_client(MsbHttp *http, MsbPersistenceClient *client);

/* The live push (/api/ws); NULL until listening. */
typedef struct _MsbHttpLive MsbHttpLive;
MsbHttpLive *
msb_http_get_live(MsbHttp *http);

G_END_DECLS
