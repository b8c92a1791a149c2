#!/bin/sh
# Set up and run My Service Bus on built-in defaults, from a fresh Debian 12 machine:
# installs the build dependencies, builds (release), and starts the broker in the foreground.
# Extra arguments go to my-service-bus (try --help). Stop it with Ctrl-C (graceful shutdown).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build-release ] || meson setup build-release --buildtype=release
meson compile -C build-release
exec ./build-release/src/node/my-service-bus "$@"
