#!/usr/bin/env bash
# run-bench.sh: our broker side by side with the peer harness (../shared/bench), in one run.
#
# 1. builds a release build of ours (meson, build-bench/ in the repo) and the peer harness's
#    natsbench (Go, offline, GOPATH mode over Debian's nats.go source);
# 2. starts our broker (GrpcUrl: none, 127.0.0.1, a free port, a temp dir) and runs
#    `msbctl bench` pub, pubsub, fanout, latency, latency_1cpu, latency_rr and
#    latency_rr_1cpu RUNS times; with INTERLEAVE=1 (the default) a nats-server started the way
#    run-peers.sh starts it is measured with the harness's own natsbench right after each of
#    our measurements (rows "nats_il"), so that a slow phase of the machine hits both;
# 3. stops both and runs the peer harness's run-peers.sh (NATS, Redis, machine limits) from a
#    copy in the temp dir, so that nothing is written into ../shared;
# 4. tables our medians, the NATS medians of the matching rows of the same run and the
#    ratios against the targets.
#
# Every process it starts is stopped by pid on exit, also on failure or Ctrl-C; every
# measurement has a timeout. Results go to bench/results/ (gitignored): bench-<stamp>.jsonl
# (our rows and the peers' rows), bench-<stamp>.md (the tables) and the peer harness's own
# peers-<stamp>.* files. See bench/README.md.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PEERS=${PEERS:-$(cd "$REPO/.." && pwd)/shared/bench}
RUNS=${RUNS:-3}
N=${N:-2000000}          # pub, pubsub: messages (NATS's N)
FANOUT_N=${FANOUT_N:-$N} # fanout: messages, each delivered to 4 queues
LAT_N=${LAT_N:-10000}    # latency: timed round trips, after 1,000 warm-up ones
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
OUT_DIR=${OUT_DIR:-$HERE/results}
BENCH_ARGS=${BENCH_ARGS:-} # extra `msbctl bench` options for pubsub and fanout, e.g. --one-thread
PEERS_RUN=${PEERS_RUN:-1}  # 0: skip run-peers.sh (our rows only, no ratios)
INTERLEAVE=${INTERLEAVE:-1} # 1: also measure NATS's core rows between ours, run by run
PEERS_TIME_BUDGET=${PEERS_TIME_BUDGET:-400} # run-peers.sh hard limit (its own default, 235 s, is tight on a loaded machine)
WAIT_IDLE=${WAIT_IDLE:-300} # seconds to wait for a quiet machine before measuring (0: do not wait)
STEP_WAIT_IDLE=${STEP_WAIT_IDLE:-60} # the same before each of our measurements and before the peers
IDLE_MAX=${IDLE_MAX:-0.15}  # "quiet": at most this many cores busy over one second

# shellcheck source=bench/bench-lib.sh
. "$HERE/bench-lib.sh"

# ---- what is needed ----------------------------------------------------------------

need_cmd meson meson
need_cmd ninja ninja-build
need_cmd cc gcc
need_cmd pkg-config pkg-config
need_cmd timeout coreutils
need_cmd taskset util-linux
[ "$INTERLEAVE" != 1 ] || need_cmd nats-server nats-server
if [ "$PEERS_RUN" = 1 ]; then
	need_peer_tools
else
	need_cmd go golang-go
fi
exit_if_missing run-bench.sh
command -v strace >/dev/null || log "strace not installed (package strace): the peer harness skips its fsync census"
for port in 4222 6379; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		log "warning: something listens on 127.0.0.1:$port (a system nats-server or redis-server?); stop it so that it takes no CPU during the run"
	fi
done

# ---- temp dir and cleanup ------------------------------------------------------------

WORK=$(mktemp -d /tmp/msbbench.XXXXXX)
MSB_PID=""
NATS_PID=""
cleanup() {
	stop_pid "$MSB_PID"
	stop_pid "$NATS_PID"
	MSB_PID="" NATS_PID=""
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
JSONL="$OUT_DIR/bench-$STAMP.jsonl"
TABLE="$OUT_DIR/bench-$STAMP.md"
OURS="$WORK/ours.jsonl"
: >"$OURS"

# ---- build ---------------------------------------------------------------------------

build_ours src/node/my-service-bus src/tools/msbctl
MSB="$BUILD_DIR/src/node/my-service-bus"
MSBCTL="$BUILD_DIR/src/tools/msbctl"
build_peers

# ---- a quiet machine -------------------------------------------------------------------

wait_quiet "$WAIT_IDLE"

# ---- versions ------------------------------------------------------------------------

{
	env_common
	echo "ours: $("$MSB" --version), $("$MSBCTL" --version), buildtype $(meson configure "$BUILD_DIR" 2>/dev/null | awk '$1 == "buildtype" {print $2; exit}')"
	echo "busy cores before the run (1 s sample, not ours): $BUSY; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "settings: RUNS=$RUNS N=$N FANOUT_N=$FANOUT_N LAT_N=$LAT_N STEP_TIMEOUT=$STEP_TIMEOUT BENCH_ARGS='$BENCH_ARGS' INTERLEAVE=$INTERLEAVE"
} >"$WORK/env.txt"
cat "$WORK/env.txt" >&2

# ---- our broker ----------------------------------------------------------------------

mkdir -p "$WORK/msb"
HTTP_PORT=$("$NATSBENCH" -mode freeport)
cat >"$WORK/msb/settings.yaml" <<EOF
GrpcUrl: none
ListenAddress: 127.0.0.1
HttpPort: $HTTP_PORT
EOF
log "starting our broker (settings $WORK/msb/settings.yaml, a free TCP port)"
"$MSB" --settings "$WORK/msb/settings.yaml" --tcp-port 0 --ready-file "$WORK/msb/ready" \
	>"$WORK/msb/broker.log" 2>&1 &
MSB_PID=$!
for _ in $(seq 200); do
	[ -s "$WORK/msb/ready" ] && break
	kill -0 "$MSB_PID" 2>/dev/null || break
	sleep 0.05
done
MSB_PORT=$(awk -F= '/^tcp_port=/ {print $2}' "$WORK/msb/ready" 2>/dev/null || true)
if [ -z "$MSB_PORT" ] || ! kill -0 "$MSB_PID" 2>/dev/null; then
	echo "run-bench.sh: our broker did not start: $(tail -c 500 "$WORK/msb/broker.log")" >&2
	exit 1
fi
log "our broker: pid $MSB_PID, 127.0.0.1:$MSB_PORT"

if [ "$INTERLEAVE" = 1 ]; then
	# the same configuration as run-peers.sh's default server
	mkdir -p "$WORK/nats"
	NATS_PORT=$("$NATSBENCH" -mode freeport)
	printf 'listen: 127.0.0.1:%s\njetstream {\n  store_dir: "%s"\n}\n' "$NATS_PORT" "$WORK/nats/js" \
		>"$WORK/nats/nats.conf"
	nats-server -c "$WORK/nats/nats.conf" >"$WORK/nats/nats.log" 2>&1 &
	NATS_PID=$!
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null && break
		kill -0 "$NATS_PID" 2>/dev/null || break
		sleep 0.05
	done
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null; then
		echo "run-bench.sh: nats-server did not start: $(tail -c 500 "$WORK/nats/nats.log")" >&2
		exit 1
	fi
	log "nats-server for the interleaved rows: pid $NATS_PID, 127.0.0.1:$NATS_PORT"
fi

mb() { # msbctl bench under the step deadline (CPU 0 only when ONE_CPU is set)
	local pin=()
	if [ -n "${ONE_CPU:-}" ]; then pin=(taskset -c 0); fi
	timeout -k 5 $((STEP_TIMEOUT + 15)) "${pin[@]}" "$MSBCTL" bench --address "127.0.0.1:$MSB_PORT" \
		--server-pid "$MSB_PID" --timeout "$STEP_TIMEOUT" "$@"
}

# natsbench against the interleaved nats-server, with run-peers.sh's flags. Its rows are
# renamed to broker "nats_il" so that they do not mix with run-peers.sh's own, and get
# other_cores_max: the machine's busy time over the whole natsbench process (connecting
# included) minus the client's and server's CPU of the timed part, per second of the whole
# process: an upper bound of what others used (natsbench cannot measure it exactly, as ours
# does with other_cores).
nbi() {
	local pin=() a b t0 t1 rc=0
	if [ -n "${ONE_CPU:-}" ]; then pin=(taskset -c 0); fi
	a=$(head -1 /proc/stat)
	t0=$(date +%s.%N)
	timeout -k 5 $((STEP_TIMEOUT + 15)) "${pin[@]}" "$NATSBENCH" -timeout "${STEP_TIMEOUT}s" \
		-clk-tck "$(getconf CLK_TCK)" -url "nats://127.0.0.1:$NATS_PORT" -server-pid "$NATS_PID" \
		-size 100 "$@" >"$WORK/nbi.out" || rc=$?
	t1=$(date +%s.%N)
	b=$(head -1 /proc/stat)
	awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '
		function val(key) {
			if (!match($0, "\"" key "\":[-0-9.e+]+")) return 0
			return substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0
		}
		/^\{/ {
			split(a, x, " "); split(b, y, " "); busy = 0
			for (i = 2; i <= 9; i++) if (i != 5 && i != 6) busy += y[i] - x[i]
			other = (busy / hz - val("client_cpu_s") - val("server_cpu_s")) / (t1 - t0)
			sub(/^\{"broker":"nats"/, "{\"broker\":\"nats_il\"")
			if (index($0, "\"metrics\":{}") == 0)
				sub(/"metrics":\{/, sprintf("\"metrics\":{\"other_cores_max\":%.3f,", other))
		}
		{ print }' "$WORK/nbi.out"
	return "$rc"
}

# on_one_cpu PID CMD...: like the peer harness's latency_1cpu row: the server PID and the
# client on CPU 0, then all CPUs again.
on_one_cpu() {
	local pid=$1 rc=0
	shift
	taskset -a -p -c 0 "$pid" >/dev/null
	ONE_CPU=1 "$@" || rc=$?
	taskset -a -p -c "0-$(($(nproc) - 1))" "$pid" >/dev/null
	return "$rc"
}

# nats_step TEST RUN NATSBENCH-ARGS...: the interleaved NATS row, when INTERLEAVE=1
nats_step() {
	local test=$1 run=$2
	shift 2
	[ "$INTERLEAVE" = 1 ] || return 0
	if [ "$test" = latency_1cpu ]; then
		step nats_il "$test" "$run" on_one_cpu "$NATS_PID" nbi -run "$run" "$@"
	else
		step nats_il "$test" "$run" nbi -run "$run" "$@"
	fi
}

for run in $(seq "$RUNS"); do
	log "ours${NATS_PID:+ and NATS interleaved}, run $run"
	step msb pub "$run" mb pub --run "$run" -n "$N"
	nats_step pub "$run" -mode pub -n "$N"
	# shellcheck disable=SC2086 # BENCH_ARGS is a list of options
	step msb pubsub "$run" mb pubsub --run "$run" -n "$N" $BENCH_ARGS
	nats_step pubsub "$run" -mode pubsub -n "$N"
	# shellcheck disable=SC2086
	step msb fanout "$run" mb fanout --run "$run" -n "$FANOUT_N" --subs 4 $BENCH_ARGS
	nats_step fanout "$run" -mode fanout -n "$FANOUT_N" -subs 4
	step msb latency "$run" mb latency --run "$run" --lat-n "$LAT_N"
	nats_step latency "$run" -mode latency -lat-n "$LAT_N"
	step msb latency_1cpu "$run" on_one_cpu "$MSB_PID" mb latency --run "$run" --lat-n "$LAT_N" --name latency_1cpu
	nats_step latency_1cpu "$run" -mode latency -lat-n "$LAT_N" -name latency_1cpu
	step msb latency_rr "$run" mb reqrep --run "$run" --lat-n "$LAT_N"
	step msb latency_rr_1cpu "$run" on_one_cpu "$MSB_PID" mb reqrep --run "$run" --lat-n "$LAT_N" --name latency_rr_1cpu
done
log "stopping our broker${NATS_PID:+ and the interleaved nats-server}"
stop_pid "$MSB_PID"
stop_pid "$NATS_PID"
MSB_PID="" NATS_PID=""
# anything the broker complained about (but the expected in-memory warning) is shown
grep -v 'GrpcUrl is none' "$WORK/msb/broker.log" | grep 'CRITICAL\|ERROR\|WARNING' >&2 || true

# ---- the peers -----------------------------------------------------------------------

: >"$WORK/peers.jsonl"
if [ "$PEERS_RUN" = 1 ]; then
	wait_quiet "$STEP_WAIT_IDLE"
	PEERS_BUSY_BEFORE=$BUSY
	log "running the peer harness (run-peers.sh, about 2.5 minutes)"
	mkdir -p "$WORK/peers-out"
	peers_rc=0
	RUNS=$RUNS N=$N FANOUT_N=$FANOUT_N LAT_N=$LAT_N OUT_DIR="$WORK/peers-out" TIME_BUDGET=$PEERS_TIME_BUDGET \
		"$WORK/peers/run-peers.sh" >"$WORK/peers.stdout" || peers_rc=$?
	cat "$WORK/peers-out"/peers-*.jsonl >"$WORK/peers.jsonl" 2>/dev/null || true
	cp "$WORK/peers-out"/peers-* "$OUT_DIR/" 2>/dev/null || true
	# shellcheck disable=SC2012 # our own file names
	PEERS_FILES=$(cd "$WORK/peers-out" && ls peers-* 2>/dev/null | tr '\n' ' ')
	[ "$peers_rc" -eq 0 ] || log "run-peers.sh exited with status $peers_rc"
fi
cat "$OURS" "$WORK/peers.jsonl" >"$JSONL"
{
	[ -z "${PEERS_BUSY_BEFORE:-}" ] || echo "busy cores just before run-peers.sh (1 s sample): $PEERS_BUSY_BEFORE"
	[ -z "${peers_rc:-}" ] || echo "run-peers.sh exit status: $peers_rc"
	echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$WORK/env.txt"

# ---- tables --------------------------------------------------------------------------

"$NATSBENCH" -mode summary <"$JSONL" >"$WORK/summary.md"

# row LABEL OURS_TEST NATS_TEST METRIC TARGET(ge|le); the NATS rows are those of broker $PEER
row() { ratio_row "$1" msb "$2" "$PEER" "$3" "$4" "$5" 1; }

{
	echo "# run-bench.sh $STAMP"
	echo
	echo '```'
	cat "$WORK/env.txt"
	[ -z "${PEERS_FILES:-}" ] || echo "peer harness files: $PEERS_FILES"
	echo '```'
	echo
	for PEER in nats nats_il; do
		grep -q "^| $PEER | " "$WORK/summary.md" || continue
		if [ "$PEER" = nats ]; then
			echo "## Ours against NATS of run-peers.sh, same invocation (median (min–max) of $RUNS runs)"
		else
			echo "## Ours against NATS measured between ours, run by run (nats_il; median (min–max) of $RUNS runs)"
		fi
		echo
		echo "| target | ours | NATS | ours / NATS (min–max) | target |"
		echo "|---|---:|---:|---:|---|"
		row "(a) publish only, msgs/s" pub pub msgs_per_s ge
		row "(b) 1 pub → 1 sub, delivered msgs/s" pubsub pubsub msgs_per_s ge
		row "(c) 1 pub → 4 subs, deliveries/s" fanout fanout deliveries_per_s ge
		row "(d) latency p99 µs (ours: publish → delivery; NATS: request/reply)" latency latency p99_us le
		row "(d) latency p50 µs" latency latency p50_us le
		row "(d') same, all on CPU 0, p99 µs" latency_1cpu latency_1cpu p99_us le
		row "(d') same, all on CPU 0, p50 µs" latency_1cpu latency_1cpu p50_us le
		row "(d\") like for like: our request/reply (4 one-way trips) p99 µs" latency_rr latency p99_us le
		row "(d\") like for like, p50 µs" latency_rr latency p50_us le
		row "(d\") like for like, all on CPU 0, p99 µs" latency_rr_1cpu latency_1cpu p99_us le
		row "(d\") like for like, all on CPU 0, p50 µs" latency_rr_1cpu latency_1cpu p50_us le
		echo
	done
	echo "The ratio's range pairs our worst run with NATS's best and the other way round."
	echo "(d) is the target as set: our publish → delivery (2 one-way trips) against NATS"
	echo "request/reply (4). (d\") is the same shape as NATS's: a responder publishes each request"
	echo "back to a reply topic. Our latency rows also carry resp_p*_us (publish → PublishResponse)."
	echo
	echo "## Who was busy during our runs (cores, median (min–max))"
	echo
	echo "other_cores is what the machine did besides the client and the broker (other processes,"
	echo "kernel threads); well above 0.05 means the run shared the machine. run-peers.sh's rows"
	echo "(broker nats) have no such figure."
	echo
	echo "| broker | test | client_cores | server_cores | other_cores (nats_il: upper bound) |"
	echo "|---|---|---:|---:|---:|"
	for b in msb nats_il nats; do
		for t in pub pubsub fanout latency latency_1cpu latency_rr latency_rr_1cpu; do
			[ -n "$(get "$b" "$t" client_cores)" ] || continue
			printf '| %s | %s |' "$b" "$t"
			for m in client_cores server_cores other_cores; do
				[ "$b" != nats_il ] || [ "$m" != other_cores ] || m=other_cores_max
				printf ' %s |' "$(get "$b" "$t" "$m" | awk '{ if (NF) printf "%.2f (%.2f–%.2f)", $1, $2, $3; else printf "-" }')"
			done
			echo
		done
	done
	echo
	echo "## Every metric (ours and the peers)"
	echo
	cat "$WORK/summary.md"
} >"$TABLE"

sed -n '/^## Ours against NATS/,/^The ratio/p' "$TABLE" | grep -v '^The ratio'

log "done in ${SECONDS}s; raw: $JSONL; tables: $TABLE"
