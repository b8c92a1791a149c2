#!/bin/sh
# Set up and run My Service Bus on built-in defaults, from a fresh Debian 12 machine: installs the
# build dependencies, builds (release), starts my-service-bus-persistence (data under
# $XDG_DATA_HOME/my-service-bus-persistence, i.e. ~/.local/share by default, gRPC on
# 127.0.0.1:7124 as the broker expects) and then the broker in the foreground (TCP 6421,
# HTTP 6123). Ctrl-C stops the broker gracefully (it saves what is pending), then the service.
# Extra arguments go to my-service-bus (try --help).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build-release ] || meson setup build-release --buildtype=release -Dtests=false
meson compile -C build-release

# its own session: Ctrl-C must reach only the broker, which needs the service to save what is
# pending while it shuts down
setsid ./build-release/src/persistence/my-service-bus-persistence &
persistence_pid=$!
stop_persistence() {
    kill -TERM "$persistence_pid" 2>/dev/null || true
    wait "$persistence_pid" 2>/dev/null || true
}
trap stop_persistence EXIT INT TERM

# the broker retries until the service answers, so no wait is needed here
./build-release/src/node/my-service-bus "$@" || status=$?
exit "${status:-0}"
