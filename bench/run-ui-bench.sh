#!/usr/bin/env bash
# run-ui-bench.sh: what the live web UI costs (issue 8 item 5, second and third bullets).
#
#   1. Delivery latency (msbctl bench latency: publish -> delivery -> confirm, one at a time)
#      with no UI open, then with BROWSERS browsers' worth of UI load (bench/ui-load.py: one
#      /api/ws socket and one /api/Status poll a second each), ROUNDS times alternating; p50,
#      p99 and max of each run.
#   2. The UI in Chromium (bench/ui-render-bench.mjs): time to first render and per update,
#      from the page's own Performance API figures (window.msbPerf).
#
# The broker has TOPICS topics with QUEUES permanent queues each (what the UI shows); the
# latency runs use a topic of their own. Build without sanitizers first:
#
#   meson setup build-rel --buildtype=release && meson compile -C build-rel
#   BROKER=build-rel/src/node/my-service-bus MSBCTL=build-rel/src/tools/msbctl bench/run-ui-bench.sh
#
# Needs python3, node and Debian's chromium (tests/browser/node_modules: run `npm ci` there).
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BROKER=${BROKER:-$REPO/build-rel/src/node/my-service-bus}
MSBCTL=${MSBCTL:-$REPO/build-rel/src/tools/msbctl}
TOPICS=${TOPICS:-1000}
QUEUES=${QUEUES:-10}
BROWSERS=${BROWSERS:-20}
ROUNDS=${ROUNDS:-2}
LAT_N=${LAT_N:-5000}
UPDATES=${UPDATES:-15}

[ -x "$BROKER" ] || { echo "no broker at $BROKER" >&2; exit 1; }
[ -x "$MSBCTL" ] || { echo "no msbctl at $MSBCTL" >&2; exit 1; }

DIR=$(mktemp -d)
PID=
LOAD=
cleanup() {
	[ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null && wait "$LOAD" 2>/dev/null
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

printf 'GrpcUrl: none\nListenAddress: 127.0.0.1\n' >"$DIR/settings.yaml"
"$BROKER" --settings "$DIR/settings.yaml" --tcp-port 0 --http-port 0 \
	--ready-file "$DIR/ready" >"$DIR/broker.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	[ -s "$DIR/ready" ] && break
	sleep 0.1
done
[ -s "$DIR/ready" ] || { cat "$DIR/broker.log" >&2; echo "the broker did not start" >&2; exit 1; }
PORT=$(sed -n 's/^tcp_port=//p' "$DIR/ready")
HTTP_PORT=$(sed -n 's/^http_port=//p' "$DIR/ready")

# topics and permanent queues: subscribe on one connection, then close it (the queues stay)
python3 - "$PORT" "$TOPICS" "$QUEUES" <<'EOF'
import socket, sys
port, n_topics, n_queues = (int(x) for x in sys.argv[1:4])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(bytes.fromhex("020E64656D6F3A312E303B312E312E3503000000"))
buf = bytearray()
for t in range(n_topics):
    name = b"topic-%04d" % t
    buf += bytes([9, len(name)]) + name
    for q in range(n_queues):
        queue = b"queue-%02d" % q
        buf += bytes([5, len(name)]) + name + bytes([len(queue)]) + queue + b"\x00"
s.sendall(buf + b"\x00")
got = b""
while not got.endswith(b"\x01"):
    d = s.recv(1 << 20)
    if not d:
        raise SystemExit("the broker closed the connection")
    got = d
s.close()
EOF
STATUS_BYTES=$(python3 -c "import urllib.request,sys; print(len(urllib.request.urlopen('http://127.0.0.1:$HTTP_PORT/api/Status').read()))")
echo "broker: $TOPICS topics x $QUEUES queues, /api/Status $STATUS_BYTES bytes"

latency() {
	"$MSBCTL" bench -a "127.0.0.1:$PORT" --lat-n "$LAT_N" --warmup 500 --name "$1" latency |
		python3 -c "
import json, sys
m = json.loads(sys.stdin.read().strip().splitlines()[-1])['metrics']
print('%-10s publish->delivery p50 %7.0f us  p99 %7.0f us  p99.9 %7.0f us  max %7.0f us' %
      ('$1', m['p50_us'], m['p99_us'], m['p999_us'], m['max_us']))"
}

for round in $(seq "$ROUNDS"); do
	latency "no-ui-$round"
	python3 "$HERE/ui-load.py" "$HTTP_PORT" "$BROWSERS" 2>>"$DIR/load.log" &
	LOAD=$!
	sleep 3
	latency "ui-x$BROWSERS-$round"
	kill "$LOAD"
	wait "$LOAD" 2>/dev/null || true
	LOAD=
	tail -1 "$DIR/load.log" || true
	sleep 2
done

MSB_HTTP_PORT=$HTTP_PORT MSB_TCP_PORT=$PORT UPDATES=$UPDATES node "$HERE/ui-render-bench.mjs"
