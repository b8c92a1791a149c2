#!/bin/sh
# Install the dependencies, build with AddressSanitizer + UndefinedBehaviorSanitizer and run the
# whole test suite, and the memory suite in a build without sanitizers; then build the libFuzzer
# target with clang and fuzz the decoder for a bounded time (FUZZ_SECONDS: 60 in CI, 15
# otherwise; 0 skips it).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

if [ "${CI:-}" = "true" ]; then default_fuzz=60; else default_fuzz=15; fi
FUZZ_SECONDS=${FUZZ_SECONDS:-$default_fuzz}

# -Db_lundef=false: meson's default -Wl,--no-undefined does not mix with sanitizer runtimes.
[ -d build-test ] || meson setup build-test -Db_sanitize=address,undefined -Db_lundef=false
meson compile -C build-test
meson test -C build-test --print-errorlogs --num-processes 2
# Memory given back to the system is measured with the real malloc: a build without sanitizers.
[ -d build-plain ] || meson setup build-plain
meson compile -C build-plain
meson test -C build-plain --print-errorlogs --suite memory

if [ "$FUZZ_SECONDS" -gt 0 ]; then
    [ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzzing=enabled \
        -Db_sanitize=address,undefined -Db_lundef=false
    meson compile -C build-fuzz
    ./tests/fuzz/run-fuzz.sh build-fuzz "$FUZZ_SECONDS"
fi
echo "run-tests: all passed"
