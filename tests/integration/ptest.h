/*
 * The harness of the persistence integration tests: start the real my-service-bus-persistence
 * ($MSB_PERSISTENCE) on 127.0.0.1 with ephemeral ports and a temporary DataPath, make raw gRPC
 * calls to it (for requests our client would never send: corrupt chunks, unknown methods,
 * undecodable messages), read its HTTP endpoints, and drive MsbPersistenceClient from a test's
 * main loop.
 *
 * Every service is spawned with PR_SET_PDEATHSIG, so it dies with the test process even when an
 * assertion aborts the test before its teardown; ptest_service_free() stops it with SIGTERM and
 * asserts a clean exit (status 0, so no sanitizer report).
 */
#pragma once

#include <gio/gio.h>
#include <grpc/grpc.h>

#include "msb-persistence-client.h"

G_BEGIN_DECLS

#define PTEST_TIMEOUT_MS 10000

/* g_test_init(), grpc_init(), SIGPIPE ignored, $MSB_PERSISTENCE checked. */
void
ptest_init(int *argc, char ***argv);
/* grpc_shutdown(); call at the end of main() after g_test_run(). */
void
ptest_shutdown(void);

typedef struct {
	gchar *dir;       /* temporary, removed by ptest_service_free() */
	gchar *data_path; /* dir/data unless changed before the start */
	gchar *ready_path;
	gchar *log_path; /* the service's stdout and stderr, with --verbose */
	GPid pid;        /* 0 when not running */
	gint wait_status;
	guint16 grpc_port; /* of the last start */
	guint16 http_port;
	GPtrArray *extra_args; /* added to the command line of the next starts */
	/* set before starting: "NAME=VALUE" strings (NULL-terminated) added to its environment,
	 * and the name of a variable set to its own pid (as systemd sets $WATCHDOG_PID) */
	const gchar *const *env;
	const gchar *env_pid;
} PtestService;

PtestService *
ptest_service_new(void);
/* Start with --grpc-port @grpc_port (0 = ephemeral) and wait until it listens and has
 * recovered (/api/status says ready). */
void
ptest_service_start(PtestService *s, guint16 grpc_port);
/* Start and wait only for the ready file (the service listens, recovery may still run). */
void
ptest_service_start_listening(PtestService *s, guint16 grpc_port);
/* Spawn without waiting; for starts that are expected to fail. */
void
ptest_service_spawn(PtestService *s, guint16 grpc_port);
/* Wait up to @timeout_ms for the exit; FALSE if still running. */
gboolean
ptest_service_wait_exit(PtestService *s, guint timeout_ms);
/* Send @signo, wait for the exit (SIGKILL and fail after 15 s); returns the wait status. */
gint
ptest_service_stop(PtestService *s, gint signo);
void
ptest_service_free(PtestService *s);
/* "127.0.0.1:PORT"; free it */
gchar *
ptest_service_target(PtestService *s);
/* The log so far; free it */
gchar *
ptest_service_log(PtestService *s);

/* A free TCP port on 127.0.0.1 (bound and released). */
guint16
ptest_free_port(void);

/* ---- HTTP ---- */

/* GET @path over HTTP/1.0; the body, with *@status the status code. */
gchar *
ptest_http_get(guint16 port, const gchar *path, guint *status);

/* ---- raw gRPC calls ---- */

typedef struct {
	grpc_status_code status;
	gchar *details;
	GPtrArray *responses; /* GBytes */
	gint64 elapsed_us;
	gchar *retry_pushback; /* the grpc-retry-pushback-ms trailer, or NULL */
} PtestReply;

void
ptest_reply_free(PtestReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PtestReply, ptest_reply_free)

/* Call @path at @target with @requests (GBytes; may be empty) as a stream, then collect every
 * response and the status. Works for every kind of method. */
PtestReply *
ptest_raw_call(const gchar *target, const gchar *path, GPtrArray *requests, guint timeout_ms);
/* The same with one request message. */
PtestReply *
ptest_raw_call1(const gchar *target, const gchar *path, GBytes *request, guint timeout_ms);

/* ---- the client on the default main context ---- */

/* Iterate the default main context until *@result is set (fails after PTEST_TIMEOUT_MS). */
void
ptest_wait_result(GAsyncResult **result);
/* A GAsyncReadyCallback that stores a reference to the result in *user_data. */
void
ptest_store_result_cb(GObject *source, GAsyncResult *result, gpointer user_data);

/* Iterate the default main context until @expr holds; fail after @ms. */
#define PTEST_WAIT_FOR_MS(expr, ms)                                                              \
	G_STMT_START                                                                             \
	{                                                                                        \
		gint64 _deadline = g_get_monotonic_time() + (gint64)(ms)*1000;                   \
		while (!(expr)) {                                                                \
			if (g_get_monotonic_time() > _deadline)                                  \
				g_assertion_message(G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, \
				                    "timed out waiting for " #expr);             \
			if (!g_main_context_iteration(NULL, FALSE))                              \
				g_usleep(2000);                                                  \
		}                                                                                \
	}                                                                                        \
	G_STMT_END

/* Synchronous wrappers over the client's _async/_finish pairs, for test readability. */
gboolean
ptest_ping(MsbPersistenceClient *c, GError **error);
gchar *
ptest_get_version(MsbPersistenceClient *c, GError **error);
GPtrArray *
ptest_get_snapshot(MsbPersistenceClient *c, GError **error);
gboolean
ptest_save_snapshot(MsbPersistenceClient *c, GPtrArray *topics, GError **error);
gboolean
ptest_save_messages(MsbPersistenceClient *c, const gchar *topic, const MsbPersistMessage *msgs,
                    gsize n, gboolean compressed, GError **error);
MsbMessageBatch *
ptest_get_page(MsbPersistenceClient *c, const gchar *topic, gint64 page, gint64 from, gint64 to,
               GError **error);
MsbMessageBatch *
ptest_get_sub_page(MsbPersistenceClient *c, const gchar *topic, gint64 sub, GError **error);
MsbMessageBatch *
ptest_get_page_compressed(MsbPersistenceClient *c, const gchar *topic, gint64 page, gint64 from,
                          gint64 to, gint32 version, GError **error);
MsbMessageBatch *
ptest_get_message(MsbPersistenceClient *c, const gchar *topic, gint64 id, GError **error);
gboolean
ptest_delete_topic(MsbPersistenceClient *c, const gchar *topic, gint64 after_us, GError **error);
gboolean
ptest_restore_topic(MsbPersistenceClient *c, const gchar *topic, gboolean *restored,
                    gint64 *next_id, GError **error);

/* ---- test messages ---- */

/* @n messages with ids @first_id…, content of (id % 7) * 10 bytes derived from the id (so id
 * 0, 7, 14… are empty) and headers "k"="v<id>" on odd ids; free with ptest_messages_free(). */
MsbPersistMessage *
ptest_messages_new(gint64 first_id, gsize n);
void
ptest_messages_free(MsbPersistMessage *msgs, gsize n);
/* Assert that @batch holds exactly @expected (same order, ids, created, content, headers). */
void
ptest_assert_batch(const MsbMessageBatch *batch, const MsbPersistMessage *expected, gsize n);

G_END_DECLS
