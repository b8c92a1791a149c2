/*
 * The HTTP-port tests both programs share (issue 7, item 1): the same cases run against the
 * broker (test-http-limits.c, through itest.c) and the persistence service
 * (test-persistence-http-limits.c, through ptest.c), each started with HTEST_SETTINGS. They talk
 * raw HTTP/1.1 over sockets, because the point is requests no HTTP library would send.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* short limits so that every case takes at most a few seconds */
#define HTEST_MAX_BODY   (64 * 1024)
#define HTEST_IDLE_MS    600
#define HTEST_REQUEST_MS 1200
#define HTEST_MAX_CONNS  8
#define HTEST_BACKLOG    300
#define HTEST_SETTINGS                 \
	"HttpMaxBodySize: 64 KiB\n"    \
	"HttpIdleTimeout: 600ms\n"     \
	"HttpRequestTimeout: 1200ms\n" \
	"HttpMaxConnections: 8\n"      \
	"HttpListenBacklog: 300\n"

/* What a case needs of the server under test; @paths are three GET paths that answer 200. */
typedef struct {
	guint16 port;
	GPid pid;
	const gchar *paths[3];
} HtestTarget;

/* Register every case under @prefix ("/http-limits/broker"); @target is filled in by @setup
 * before each case runs and cleared by @teardown after it. */
void
htest_add_cases(const gchar *prefix, HtestTarget *target, GTestFixtureFunc setup,
                GTestFixtureFunc teardown);

G_END_DECLS
