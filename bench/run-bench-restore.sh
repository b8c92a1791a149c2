#!/usr/bin/env bash
# run-bench-restore.sh: how long the broker takes to restore after a crash with many topics.
#
# Builds a release build with the test harness (build-rel/ in the repo, `meson setup build-rel
# --buildtype=release`), then for each count in TOPICS runs tests/integration/bench-restore.c:
# the real broker and persistence service on 127.0.0.1, that many topics each with a permanent
# queue and 1-20 persisted messages, then RUNS times: SIGKILL of the broker and a new start,
# timed from the spawn to its ready file (the client port is bound only after the restore). The
# harness stops every process it starts. Results go to bench/results/ (gitignored):
# restore-<stamp>.jsonl (one line per start) and restore-<stamp>.log (the programs' log, with
# the broker's "restored N topics ... (C calls to the service, at most K at once)" lines).
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build-rel}
OUT_DIR=${OUT_DIR:-$HERE/results}
TOPICS=${TOPICS:-"2000 10000"}
RUNS=${RUNS:-3}

log() { printf '[%4ss] %s\n' "$SECONDS" "$*" >&2; }

# the persistence service keeps several files open per topic: 10,000 topics need more than the
# usual 1,024 or 20,000 descriptors (as root the hard limit can be raised too)
ulimit -n "${NOFILE:-200000}" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
log "open files limit: $(ulimit -n)"

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
	log "meson setup $BUILD_DIR --buildtype=release"
	meson setup "$BUILD_DIR" "$REPO" --buildtype=release >/dev/null
fi
log "building my-service-bus, my-service-bus-persistence and bench-restore in $BUILD_DIR"
nice ninja -C "$BUILD_DIR" src/node/my-service-bus src/persistence/my-service-bus-persistence \
	tests/integration/bench-restore >/dev/null

mkdir -p "$OUT_DIR"
stamp=$(date -u +%Y%m%d-%H%M%S)
jsonl="$OUT_DIR/restore-$stamp.jsonl"
logf="$OUT_DIR/restore-$stamp.log"
export MSB_BROKER="$BUILD_DIR/src/node/my-service-bus"
export MSB_PERSISTENCE="$BUILD_DIR/src/persistence/my-service-bus-persistence"
for n in $TOPICS; do
	log "$n topics, $RUNS crash restarts"
	BENCH_TOPICS=$n BENCH_RUNS=$RUNS timeout 1800 "$BUILD_DIR/tests/integration/bench-restore" \
		2>>"$logf" | grep '^{' | tee -a "$jsonl"
done
grep -o 'restored [0-9]* topics.*' "$logf" >&2 || true
log "results: $jsonl, log: $logf"
