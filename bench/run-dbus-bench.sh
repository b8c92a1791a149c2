#!/usr/bin/env bash
# run-dbus-bench.sh: what D-Bus management costs message delivery (issue 9: under 5%).
#
# Starts a private dbus-daemon (never the user's buses), then RUNS times, alternating:
#   dbus:   the broker on that bus (--session-bus) with TOPICS topics, so TOPICS topic objects
#           whose properties are refreshed once a second, and `gdbus monitor` attached to it
#           (every signal and PropertiesChanged is read by a client);
#   nodbus: the same broker with --no-dbus;
# and in each `msbctl bench pubsub` (throughput) and `msbctl bench latency` (p99). Prints the
# medians of both and the D-Bus cost in percent. Every process it starts is stopped by pid on
# exit, also on failure or Ctrl-C. Results: bench/results/dbus-<stamp>.jsonl (gitignored).
#
#   bench/run-dbus-bench.sh                 # builds build-bench/ (release) if needed
#   RUNS=1 bench/run-dbus-bench.sh   # a short run (a run must last several seconds: the
#                                     # properties are refreshed once a second)
#
# Needs dbus-daemon and gdbus (packages dbus-daemon, libglib2.0-bin) and python3.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
OUT_DIR=${OUT_DIR:-$HERE/results}
RUNS=${RUNS:-3}
TOPICS=${TOPICS:-1000}
N=${N:-5000000} # pubsub: messages (about 3 s: several D-Bus refreshes)
LAT_N=${LAT_N:-20000} # latency: timed round trips (a few seconds)
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
STEP_WAIT_IDLE=${STEP_WAIT_IDLE:-30} # seconds to wait for a quiet machine before a measurement
IDLE_MAX=${IDLE_MAX:-0.3}
MONITOR=${MONITOR:-1} # 0: no gdbus monitor attached (the broker's own D-Bus cost alone)

# shellcheck source=bench/bench-lib.sh
. "$HERE/bench-lib.sh"
need_cmd dbus-daemon dbus-daemon
need_cmd gdbus libglib2.0-bin
need_cmd python3 python3
need_cmd meson meson
exit_if_missing run-dbus-bench.sh

WORK=$(mktemp -d)
BUS_PID=
PID=
MON_PID=
cleanup() {
	stop_pid "$MON_PID"
	stop_pid "$PID"
	stop_pid "$BUS_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [ -z "${BROKER:-}" ]; then
	build_ours src/node/my-service-bus src/tools/msbctl
	BROKER=$BUILD_DIR/src/node/my-service-bus
	MSBCTL=$BUILD_DIR/src/tools/msbctl
fi
MSBCTL=${MSBCTL:-$(dirname "$BROKER")/../tools/msbctl}
mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%d-%H%M%S)
OURS=$OUT_DIR/dbus-$STAMP.jsonl
: >"$OURS"

# the private bus
dbus-daemon --session --nofork --nopidfile --print-address=3 3>"$WORK/bus-address" \
	>"$WORK/bus.log" 2>&1 &
BUS_PID=$!
for _ in $(seq 200); do
	[ -s "$WORK/bus-address" ] && break
	sleep 0.05
done
[ -s "$WORK/bus-address" ] || { cat "$WORK/bus.log" >&2; echo "dbus-daemon did not start" >&2; exit 1; }
BUS=$(head -1 "$WORK/bus-address")
log "private bus: $BUS (pid $BUS_PID)"

# start BUSOPT: the broker (in memory, free ports) and its topics; sets PID, PORT
start() {
	mkdir -p "$WORK/broker"
	rm -f "$WORK/broker/ready"
	printf 'GrpcUrl: none\nListenAddress: 127.0.0.1\n' >"$WORK/broker/settings.yaml"
	DBUS_SESSION_BUS_ADDRESS=$BUS "$BROKER" "$1" --settings "$WORK/broker/settings.yaml" \
		--tcp-port 0 --http-port 0 --ready-file "$WORK/broker/ready" \
		>"$WORK/broker/broker.log" 2>&1 &
	PID=$!
	for _ in $(seq 200); do
		[ -s "$WORK/broker/ready" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$WORK/broker/ready" ] || { cat "$WORK/broker/broker.log" >&2; echo "the broker did not start" >&2; exit 1; }
	PORT=$(sed -n 's/^tcp_port=//p' "$WORK/broker/ready")
	# the topics: Greeting, CreateTopicIfNotExists for each, then a Ping answered by a Pong
	timeout 60 python3 - "$PORT" "$TOPICS" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(bytes.fromhex("020E64656D6F3A312E303B312E312E3503000000"))
buf = bytearray()
for i in range(n):
    name = b"bench-topic-%06d" % i
    buf += bytes([9, len(name)]) + name
s.sendall(buf + b"\x00")
while True:
    d = s.recv(65536)
    if not d:
        raise SystemExit("the broker closed the connection")
    if d[-1:] == b"\x01":
        break
EOF
}

stop() {
	stop_pid "$MON_PID"
	MON_PID=
	stop_pid "$PID"
	PID=
}

# measure LABEL: pubsub and latency against the running broker
measure() {
	local label=$1 run=$2
	for mode in pubsub latency; do
		wait_quiet "$STEP_WAIT_IDLE"
		timeout -k 5 $((STEP_TIMEOUT + 15)) "$MSBCTL" bench --address "127.0.0.1:$PORT" \
			--server-pid "$PID" --timeout "$STEP_TIMEOUT" --run "$run" \
			--name "${mode}_$label" -n "$N" --lat-n "$LAT_N" "$mode" \
			| grep '^{' >>"$OURS" || log "  $label $mode run $run FAILED"
	done
}

for run in $(seq "$RUNS"); do
	log "run $run: with D-Bus ($TOPICS topic objects, gdbus monitor attached: $MONITOR)"
	start --session-bus
	for _ in $(seq 100); do
		gdbus introspect --address "$BUS" --dest org.myservicebus.Broker1 \
			--object-path /org/myservicebus/Broker1/topic/bench_2dtopic_2d000000 \
			>/dev/null 2>&1 && break
		sleep 0.1
	done
	if [ "$MONITOR" = 1 ]; then
		gdbus monitor --address "$BUS" --dest org.myservicebus.Broker1 >"$WORK/monitor.log" 2>&1 &
		MON_PID=$!
	fi
	sleep 2 # a property refresh or two before measuring
	measure dbus "$run"
	[ "$MONITOR" != 1 ] || log "  gdbus monitor read $(wc -l <"$WORK/monitor.log") lines"
	stop

	log "run $run: --no-dbus"
	start --no-dbus
	sleep 2
	measure nodbus "$run"
	stop
done

# medians and the cost
python3 - "$OURS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(test, metric):
    v = [r["metrics"][metric] for r in rows if r.get("test") == test and metric in r.get("metrics", {})]
    return (statistics.median(v), len(v)) if v else (None, 0)
print("| measure | with D-Bus | --no-dbus | D-Bus cost |")
print("|---|---|---|---|")
for test, metric, higher_better in [("pubsub", "msgs_per_s", True), ("latency", "p99_us", False),
                                    ("latency", "p50_us", False)]:
    d, nd = med(test + "_dbus", metric)
    o, no = med(test + "_nodbus", metric)
    if d is None or o is None:
        print("| %s %s | %s | %s | - |" % (test, metric, d, o))
        continue
    cost = (o - d) / o * 100 if higher_better else (d - o) / o * 100
    print("| %s %s (median of %d/%d) | %.0f | %.0f | %+.1f%% |" % (test, metric, nd, no, d, o, cost))
EOF
log "rows: $OURS"
