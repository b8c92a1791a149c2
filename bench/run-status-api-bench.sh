#!/usr/bin/env bash
# run-status-api-bench.sh: server time and size of /api/Status at 1,000 topics × 10 queues and
# 200 sessions (issue 8, item 5).
#
# Builds the broker and bench/msb-status-bench without sanitizers in $BUILD (meson, release, no
# tests), starts the broker (GrpcUrl: none, 127.0.0.1, free ports, a temp dir), and runs
# msb-status-bench against it: 200 sessions, 1,000 topics of 10 queues each subscribed by one of
# the sessions, one message a second to every topic, every batch confirmed; after WARM seconds
# (120 fills the two-minute histories) REQUESTS sequential GET /api/Status. The broker is stopped
# by pid on exit, also on failure. The broker's CPU time per request is measured from
# /proc/PID/stat: its CPU over the requests minus what the traffic alone used in the 10 s before.
#
#   bench/run-status-api-bench.sh                 # about 2.5 minutes
#   WARM=10 REQUESTS=10 bench/run-status-api-bench.sh
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/bench-lib.sh
. "$HERE/bench-lib.sh"
BUILD=${BUILD:-$REPO/build-rel}
TOPICS=${TOPICS:-1000}
QUEUES=${QUEUES:-10}
SESSIONS=${SESSIONS:-200}
WARM=${WARM:-120}
REQUESTS=${REQUESTS:-30}

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" "$REPO" --buildtype=release -Dtests=false >/dev/null
fi
meson compile -C "$BUILD" my-service-bus msb-status-bench >/dev/null

DIR=$(mktemp -d)
PID=
cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

start_memory_broker "$BUILD/src/node/my-service-bus" "$DIR"

timeout $((WARM + 300)) "$BUILD/bench/msb-status-bench" "127.0.0.1:$PORT" "$HTTP_PORT" \
	"$TOPICS" "$QUEUES" "$SESSIONS" "$WARM" "$REQUESTS" "$PID"
echo "broker: $(grep -E '^VmHWM|^VmRSS' /proc/$PID/status | tr -s ' \t' ' ' | tr '\n' ' ')"
