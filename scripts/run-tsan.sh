#!/bin/sh
# ThreadSanitizer run of the store, the persistence service and the broker's gRPC client:
# builds build-tsan with clang and -fsanitize=thread, then runs the store's unit tests and the
# persistence integration tests (which run the real service against MsbPersistenceClient).
# Any report fails the run. About two minutes on two cores.
#
# GLib and gRPC are not built with ThreadSanitizer, so two things make their synchronisation
# visible (details in tests/tsan/):
#   - tests/tsan/msb-tsan-glib.c, preloaded: GMutex, GCond, GRecMutex, GRWLock on pthread, and
#     the hand-offs through GAsyncQueue, GThreadPool and idle/timeout sources annotated;
#   - ignore_noninstrumented_modules=1: TSan ignores the memory accesses that its interceptors
#     (malloc, free, memcpy...) see from libraries without instrumentation (gRPC's and GLib's
#     internals); accesses in our code are all checked.
# tests/tsan/tsan.supp holds suppressions for library internals only, each with its reason.
set -eu
cd "$(dirname "$0")/.."
build=${TSAN_BUILD:-build-tsan}
cc=${CC:-clang}

[ -d "$build" ] || CC="$cc" meson setup "$build" -Db_sanitize=thread -Db_lundef=false
nice meson compile -C "$build" tests/unit/test-store src/persistence/my-service-bus-persistence \
    tests/integration/itest-persistence-grpc tests/integration/itest-persistence-client
shim="$PWD/$build/libmsb-tsan-glib.so"
# not instrumented itself, so that it also loads into programs without TSan (meson, a shell)
"$cc" -shared -fPIC -O1 -g -Wall -Wextra -Werror $(pkg-config --cflags glib-2.0) \
    tests/tsan/msb-tsan-glib.c -o "$shim" -ldl -lpthread

logs="$PWD/$build/tsan-logs"
rm -rf "$logs"
mkdir -p "$logs"
rc=0
# G_SLICE=always-malloc: GSlice's per-thread magazines hand memory between threads inside
# libglib, out of TSan's sight
LD_PRELOAD="$shim" G_SLICE=always-malloc \
TSAN_OPTIONS="ignore_noninstrumented_modules=1 halt_on_error=0 second_deadlock_stack=1 suppressions=$PWD/tests/tsan/tsan.supp log_path=$logs/tsan" \
    meson test -C "$build" --no-rebuild --timeout-multiplier 3 --print-errorlogs \
        store persistence-grpc persistence-client || rc=$?
if ls "$logs"/tsan.* >/dev/null 2>&1; then
    for f in "$logs"/tsan.*; do
        echo "==== $f"
        cat "$f"
    done
    echo "run-tsan: ThreadSanitizer reports above (one file per process)" >&2
    exit 1
fi
[ "$rc" -eq 0 ] || { echo "run-tsan: tests failed" >&2; exit "$rc"; }
echo "run-tsan: no ThreadSanitizer reports"
