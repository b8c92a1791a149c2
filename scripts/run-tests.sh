#!/bin/sh
# Install the dependencies, build with AddressSanitizer + UndefinedBehaviorSanitizer and run the
# whole test suite, and the memory suite in a build without sanitizers; then build the libFuzzer
# targets with clang and fuzz each for a bounded time (FUZZ_SECONDS per target: 30 in CI, 10
# otherwise; 0 skips it; six targets, ~3 min in CI); then the ThreadSanitizer run of the store,
# the persistence service and the gRPC client (scripts/run-tsan.sh, about 2 minutes; RUN_TSAN=0
# skips it). With CI=true or PACKAGE_TEST=1 it ends with packaging/test-install.sh: build the Debian
# packages (running the suite once more, without sanitizers), lintian, install them system-wide,
# run, use and purge them (about 6 min on a quiet 2-core machine, see packaging/README.md). Off by
# default on a developer's machine since it installs and purges packages; PACKAGE_TEST=0 skips it
# in CI.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

if [ "${CI:-}" = "true" ]; then default_fuzz=30; else default_fuzz=10; fi
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
if [ "${RUN_TSAN:-1}" != 0 ]; then
    ./scripts/run-tsan.sh
fi
if [ "${CI:-}" = "true" ]; then default_package_test=1; else default_package_test=0; fi
if [ "${PACKAGE_TEST:-$default_package_test}" = 1 ]; then
    ./packaging/test-install.sh
fi
echo "run-tests: all passed"
