#!/usr/bin/env bash
# run-status-bench.sh: how long Pings wait while the whole state is read over HTTP (issue 7 §4).
#
# Starts a broker (GrpcUrl: none, 127.0.0.1, free ports, a temp dir), creates TOPICS topics
# (CreateTopicIfNotExists, pipelined), then measures Ping round trips on one connection
#   1. for BASE_SECONDS with no HTTP request (what the broker's own periodic work costs), and
#   2. while CLIENTS clients fetch PATHS in a loop, FETCHES requests each,
# and prints one line per phase: pings, worst, p99 and median round trip in ms, and the
# requests' median and worst time. The broker is stopped by pid on exit, also on failure.
#
#   BROKER=build-rel/src/node/my-service-bus bench/run-status-bench.sh
#
# Build the broker without sanitizers (meson setup build-rel --buildtype=release). Needs
# python3 (standard library only).
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/bench-lib.sh
. "$HERE/bench-lib.sh"
BROKER=${BROKER:-$REPO/build-rel/src/node/my-service-bus}
TOPICS=${TOPICS:-100000}
CLIENTS=${CLIENTS:-3}
FETCHES=${FETCHES:-5}
PATHS=${PATHS:-/api/status,/metrics}
BASE_SECONDS=${BASE_SECONDS:-5}

command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
[ -x "$BROKER" ] || { echo "no broker at $BROKER (meson setup build-rel --buildtype=release)" >&2; exit 1; }

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

start_memory_broker "$BROKER" "$DIR"

timeout 600 python3 - "$PORT" "$HTTP_PORT" "$TOPICS" "$CLIENTS" "$FETCHES" "$PATHS" \
	"$BASE_SECONDS" <<'EOF'
import socket, sys, threading, time, urllib.request

port, http_port, n_topics, clients, fetches = (int(x) for x in sys.argv[1:6])
paths = sys.argv[6].split(",")
base_seconds = float(sys.argv[7])

def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def recv_until_pong(s):
    while True:
        d = s.recv(65536)
        if not d:
            raise SystemExit("the broker closed the connection")
        if d[-1:] == b"\x01":
            return

# topics: Greeting (Rust client, P = 3), then CreateTopicIfNotExists for each, then a Ping
t0 = time.monotonic()
s = connect()
s.sendall(bytes.fromhex("020E64656D6F3A312E303B312E312E3503000000"))
buf = bytearray()
for i in range(n_topics):
    name = b"topic-%06d" % i
    buf += bytes([9, len(name)]) + name
s.sendall(buf + b"\x00")
recv_until_pong(s)
s.close()
print("%d topics created in %.0f ms" % (n_topics, (time.monotonic() - t0) * 1000))

def pinger(stop, rtts):
    p = connect()
    while not stop.is_set():
        t = time.perf_counter()
        p.sendall(b"\x00")
        if p.recv(1) != b"\x01":
            raise SystemExit("no Pong")
        rtts.append(time.perf_counter() - t)
        time.sleep(0.002)
    p.close()

def fetcher(i, times, errors):
    for k in range(fetches):
        path = paths[(i + k) % len(paths)]
        t = time.perf_counter()
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (http_port, path), timeout=120) as r:
                body = r.read()
                if r.status != 200 or len(body) < n_topics * 10:
                    errors.append("%s: status %d, %d bytes" % (path, r.status, len(body)))
        except Exception as e:
            errors.append("%s: %s" % (path, e))
        times.append(time.perf_counter() - t)

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] * 1000 if v else float("nan")

def report(name, rtts, times=None):
    line = "%-22s pings %6d  worst %8.1f ms  p99 %7.1f ms  median %6.2f ms" % (
        name, len(rtts), max(rtts) * 1000, pct(rtts, 0.99), pct(rtts, 0.5))
    if times:
        line += "  | requests %d: median %.0f ms, worst %.0f ms" % (
            len(times), pct(times, 0.5), max(times) * 1000)
    print(line, flush=True)

stop = threading.Event(); rtts = []
th = threading.Thread(target=pinger, args=(stop, rtts)); th.start()
time.sleep(base_seconds); stop.set(); th.join()
report("no HTTP", rtts)

stop = threading.Event(); rtts = []; times = []; errors = []
th = threading.Thread(target=pinger, args=(stop, rtts)); th.start()
time.sleep(0.5)
fs = [threading.Thread(target=fetcher, args=(i, times, errors)) for i in range(clients)]
for f in fs: f.start()
for f in fs: f.join()
stop.set(); th.join()
report("%d clients x %d reads" % (clients, fetches), rtts, times)
if errors:
    raise SystemExit("failed requests: %s" % errors[:3])
EOF
