#!/usr/bin/env bash
# run-bench-persistence.sh: our broker with its persistence service, side by side with the peer
# harness (../shared/bench), in one run (issue 3).
#
# 1. builds ours (release, build-bench/ in the repo: my-service-bus, my-service-bus-persistence,
#    msbctl) and the peer harness's natsbench (Go, offline);
# 2. starts my-service-bus-persistence (127.0.0.1, free ports, its DataPath in the temp dir under
#    /tmp, the file system the harness's dd writes to) and the broker pointing at it;
# 3. RUNS times: `msbctl bench` persist-pub (a), persist-immediate with 100 and with 1 message per
#    publish (b) and backlog (c); with INTERLEAVE=1 (the default) right after them the peer rows
#    they are compared with, measured with the harness's own tools and settings: JetStream
#    PublishAsync + pull consume (natsbench -mode js), Redis XADD with appendfsync always at
#    `-c 50 -P 16`, and dd oflag=dsync of 256 x 1 MiB (rows nats_il, redis_il, machine_il);
# 4. with strace, an fsync census of our service (a second service under strace --seccomp-bpf,
#    counting the fsync family during one persist-immediate run of each shape);
# 5. stops ours and runs the harness's run-peers.sh (its full default run) from a copy;
# 6. tables our medians against the peer medians of the same invocation and the targets.
#
# Every process it starts is stopped by pid on exit, also on failure or Ctrl-C; every
# measurement has a timeout. Results go to bench/results/ (gitignored): persist-<stamp>.jsonl,
# persist-<stamp>.md and the peer harness's peers-<stamp>.* files. See bench/README.md.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PEERS=${PEERS:-$(cd "$REPO/.." && pwd)/shared/bench}
RUNS=${RUNS:-3}
PUB_N=${PUB_N:-500000}         # (a) persist-pub messages (JetStream's JS_N)
PUB_WINDOW=${PUB_WINDOW:-1000} # (a) publishes of 100 in flight: 100,000 messages, 10 MB
IMM_N=${IMM_N:-1000000}        # (b) persist-immediate, 100 per publish (Redis's XADD_N)
IMM_WINDOW=${IMM_WINDOW:-2}    # (b) publishes in flight per connection: 16 x 2 x 100 = 3,200 messages
IMM1_N=${IMM1_N:-200000}       # (b) persist-immediate, 1 per publish
IMM1_WINDOW=${IMM1_WINDOW:-50} # (b) 16 x 50 = 800 messages in flight, as Redis's 50 x 16
IMM1_WIDE=${IMM1_WIDE:-200}    # (b) and again with 16 x 200 = 3,200 in flight, as 100/publish (0: not)
PUBLISHERS=${PUBLISHERS:-16}   # (b) connections
BACKLOG_N=${BACKLOG_N:-500000} # (c) backlog messages (JetStream's JS_N)
JS_N=${JS_N:-500000}           # the harness's JetStream rows
XADD_N=${XADD_N:-1000000}      # the harness's Redis XADD rows
STEP_TIMEOUT=${STEP_TIMEOUT:-120}
# where the temp dir (the service's DataPath, dd's file) goes; /dev/shm takes the disk out
WORK_BASE=${WORK_BASE:-/tmp}
CENSUS=${CENSUS:-1}               # 1: count our service's fsyncs under strace
CENSUS_N=${CENSUS_N:-200000}      # census of persist-immediate, 100 per publish
CENSUS1_N=${CENSUS1_N:-50000}     # and 1 per publish
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
OUT_DIR=${OUT_DIR:-$HERE/results}
PEERS_RUN=${PEERS_RUN:-1}   # 0: skip run-peers.sh
INTERLEAVE=${INTERLEAVE:-1} # 1: also measure the peer rows between ours, run by run
PEERS_TIME_BUDGET=${PEERS_TIME_BUDGET:-400}
WAIT_IDLE=${WAIT_IDLE:-300}
STEP_WAIT_IDLE=${STEP_WAIT_IDLE:-60}
IDLE_MAX=${IDLE_MAX:-0.15}
SIZE=100
PIPELINE=16

# shellcheck source=bench/bench-lib.sh
. "$HERE/bench-lib.sh"

# ---- what is needed ----------------------------------------------------------------

need_cmd meson meson
need_cmd ninja ninja-build
need_cmd cc gcc
need_cmd pkg-config pkg-config
need_cmd timeout coreutils
need_cmd dd coreutils
if [ "$INTERLEAVE" = 1 ]; then
	need_cmd nats-server nats-server
	need_cmd redis-server redis-server
	need_cmd redis-benchmark redis-tools
	need_cmd redis-cli redis-tools
fi
if [ "$PEERS_RUN" = 1 ]; then
	need_peer_tools
else
	need_cmd go golang-go
fi
exit_if_missing run-bench-persistence.sh
if [ "$CENSUS" = 1 ] && ! command -v strace >/dev/null; then
	log "strace not installed (package strace): no fsync census"
	CENSUS=0
fi

# ---- temp dir and cleanup ------------------------------------------------------------

WORK=$(mktemp -d "$WORK_BASE/msbbench.XXXXXX")
PIDS=() # every server we start, stopped by pid on exit
cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[$i]}"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
JSONL="$OUT_DIR/persist-$STAMP.jsonl"
TABLE="$OUT_DIR/persist-$STAMP.md"
OURS="$WORK/ours.jsonl"
: >"$OURS"

# ---- build ---------------------------------------------------------------------------

build_ours src/node/my-service-bus src/persistence/my-service-bus-persistence src/tools/msbctl
MSB="$BUILD_DIR/src/node/my-service-bus"
MSBP="$BUILD_DIR/src/persistence/my-service-bus-persistence"
MSBCTL="$BUILD_DIR/src/tools/msbctl"
build_peers
freeport() { "$NATSBENCH" -mode freeport; }
wait_quiet "$WAIT_IDLE"

{
	env_common
	echo "ours: $("$MSB" --version), $("$MSBP" --version 2>&1 | head -1), $("$MSBCTL" --version), buildtype $(meson configure "$BUILD_DIR" 2>/dev/null | awk '$1 == "buildtype" {print $2; exit}')"
	echo "/tmp: $(df -T /tmp | awk 'NR == 2 {print $1, $2}'), the service's DataPath is under $WORK (device $(stat -c %d "$WORK"), /tmp's $(stat -c %d /tmp))"
	echo "busy cores before the run (1 s sample, not ours): $BUSY; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "settings: RUNS=$RUNS PUB_N=$PUB_N PUB_WINDOW=$PUB_WINDOW IMM_N=$IMM_N IMM_WINDOW=$IMM_WINDOW IMM1_N=$IMM1_N IMM1_WINDOW=$IMM1_WINDOW IMM1_WIDE=$IMM1_WIDE PUBLISHERS=$PUBLISHERS BACKLOG_N=$BACKLOG_N JS_N=$JS_N XADD_N=$XADD_N STEP_TIMEOUT=$STEP_TIMEOUT INTERLEAVE=$INTERLEAVE CENSUS=$CENSUS WORK_BASE=$WORK_BASE"
} >"$WORK/env.txt"
cat "$WORK/env.txt" >&2

# ---- our servers ---------------------------------------------------------------------

# wait_file FILE PID: until FILE is written or PID is gone (20 s)
wait_file() {
	for _ in $(seq 400); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# start_persistence DIR [WRAPPER...]: the service with its data in DIR/data; sets PS_PID (the
# service's own pid, from its ready file), PS_WRAP_PID (the pid we started), PS_HTTP, PS_GRPC
start_persistence() {
	local dir=$1
	shift
	mkdir -p "$dir"
	"$@" "$MSBP" --grpc-port 0 --http-port 0 --listen-address 127.0.0.1 --data-path "$dir/data" \
		--ready-file "$dir/ready" >"$dir/service.log" 2>&1 &
	PS_WRAP_PID=$!
	PIDS+=("$PS_WRAP_PID")
	if ! wait_file "$dir/ready" "$PS_WRAP_PID"; then
		echo "run-bench-persistence.sh: my-service-bus-persistence did not start: $(tail -c 500 "$dir/service.log")" >&2
		exit 1
	fi
	PS_PID=$(awk -F= '/^pid=/ {print $2}' "$dir/ready")
	# under a wrapper (strace) the service is its child: stopped first, the wrapper then ends
	[ "$PS_PID" = "$PS_WRAP_PID" ] || PIDS+=("$PS_PID")
	PS_GRPC=$(awk -F= '/^grpc_port=/ {print $2}' "$dir/ready")
	PS_HTTP=$(awk -F= '/^http_port=/ {print $2}' "$dir/ready")
}

# start_broker DIR GRPC_PORT: the broker with persistence; sets B_PID B_PORT B_HTTP
start_broker() {
	local dir=$1
	mkdir -p "$dir"
	B_HTTP=$(freeport)
	# everything else default: EventuallyPersistenceDelay 5 s, MaxUnsavedSize 1 GiB
	cat >"$dir/settings.yaml" <<-EOF
		GrpcUrl: http://127.0.0.1:$2
		ListenAddress: 127.0.0.1
		HttpPort: $B_HTTP
	EOF
	"$MSB" --settings "$dir/settings.yaml" --tcp-port 0 --ready-file "$dir/ready" \
		>"$dir/broker.log" 2>&1 &
	B_PID=$!
	PIDS+=("$B_PID")
	# the broker serves (and writes its ready file) once it has restored from the service
	if ! wait_file "$dir/ready" "$B_PID"; then
		echo "run-bench-persistence.sh: our broker did not start: $(tail -c 500 "$dir/broker.log")" >&2
		exit 1
	fi
	B_PORT=$(awk -F= '/^tcp_port=/ {print $2}' "$dir/ready")
}

log "starting my-service-bus-persistence (DataPath $WORK/persist/data) and the broker"
start_persistence "$WORK/persist"
MSBP_PID=$PS_PID MSBP_HTTP=$PS_HTTP
start_broker "$WORK/msb" "$PS_GRPC"
MSB_PID=$B_PID MSB_PORT=$B_PORT MSB_HTTP=$B_HTTP
log "service: pid $MSBP_PID, gRPC 127.0.0.1:$PS_GRPC; broker: pid $MSB_PID, 127.0.0.1:$MSB_PORT, HTTP $MSB_HTTP"

# mb ARGS...: msbctl bench against the broker of $MB_BROKER (default: the main one)
mb() {
	timeout -k 5 $((STEP_TIMEOUT + 15)) "$MSBCTL" bench --address "127.0.0.1:${MB_PORT:-$MSB_PORT}" \
		--server-pid "${MB_PID:-$MSB_PID}" --http "127.0.0.1:${MB_HTTP:-$MSB_HTTP}" \
		--persistence-http "127.0.0.1:${MB_PHTTP:-$MSBP_HTTP}" --persistence-pid "${MB_PPID:-$MSBP_PID}" \
		--data-path "${MB_DATA:-$WORK/persist/data}" --timeout "$STEP_TIMEOUT" "$@"
}

# ---- the interleaved peers ---------------------------------------------------------

# Started the way run-peers.sh starts its own: 127.0.0.1, free ports, data in the temp dir.
if [ "$INTERLEAVE" = 1 ]; then
	mkdir -p "$WORK/nats" "$WORK/redis"
	NATS_PORT=$(freeport)
	printf 'listen: 127.0.0.1:%s\njetstream {\n  store_dir: "%s"\n}\n' "$NATS_PORT" "$WORK/nats/js" \
		>"$WORK/nats/nats.conf"
	nats-server -c "$WORK/nats/nats.conf" >"$WORK/nats/nats.log" 2>&1 &
	NATS_PID=$!
	PIDS+=("$NATS_PID")
	REDIS_PORT=$(freeport)
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK/redis" --save '' --daemonize no \
		--logfile "$WORK/redis/redis.log" --auto-aof-rewrite-percentage 0 \
		--appendonly yes --appendfsync always &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	for port in "$NATS_PORT" "$REDIS_PORT"; do
		for _ in $(seq 200); do
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
			sleep 0.05
		done
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "run-bench-persistence.sh: a peer server did not start on $port: $(tail -c 300 "$WORK/nats/nats.log" "$WORK/redis/redis.log")" >&2
			exit 1
		fi
	done
	log "interleaved peers: nats-server pid $NATS_PID (JetStream), redis-server pid $REDIS_PID (appendfsync always)"
fi

CLK=$(getconf CLK_TCK)
PAYLOAD=$(head -c "$SIZE" /dev/zero | tr '\0' x)

# nats_js RUN: JetStream PublishAsync + pull consume with run-peers.sh's flags; the rows are
# renamed to broker nats_il
nats_js() {
	timeout -k 5 $((STEP_TIMEOUT + 15)) "$NATSBENCH" -timeout "${STEP_TIMEOUT}s" -clk-tck "$CLK" \
		-url "nats://127.0.0.1:$NATS_PORT" -server-pid "$NATS_PID" -size "$SIZE" -run "$1" \
		-mode js -js-n "$JS_N" -js-variant default | sed 's/^{"broker":"nats"/{"broker":"nats_il"/'
}

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# redis_xadd RUN: XADD with appendfsync always, 50 connections, pipeline 16, as run-peers.sh
redis_xadd() {
	local t0 t1 c0 c1 csv len
	timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" DEL bench.stream >/dev/null
	c0=$(cpu_ticks "$REDIS_PID")
	t0=$(date +%s.%N)
	timeout -k 2 "$STEP_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 50 -P "$PIPELINE" \
		-n "$XADD_N" --precision 3 --csv XADD bench.stream '*' f "$PAYLOAD" >"$WORK/rb.csv" 2>"$WORK/rb.err"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$REDIS_PID")
	csv=$(grep -v '^"test"' "$WORK/rb.csv" | tail -1)
	[ -n "$csv" ] || { echo "redis-benchmark printed no result: $(tail -c 200 "$WORK/rb.err")" >&2; return 1; }
	len=$(timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" XLEN bench.stream)
	[ "${len:-0}" -ge "$XADD_N" ] || { echo "XLEN $len < $XADD_N: entries missing" >&2; return 1; }
	awk -F'","' -v run="$1" -v n="$XADD_N" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v clk="$CLK" '{
		gsub(/"/, "", $0); split($0, f, ",")
		printf "{\"broker\":\"redis_il\",\"test\":\"xadd_aof_always_c50_P16\",\"run\":%d,\"ok\":true,", run
		printf "\"params\":{\"clients\":50,\"pipeline\":16,\"requests\":%d,\"size\":100,\"config\":\"appendonly yes, appendfsync always\"},", n
		printf "\"metrics\":{\"msgs_per_s\":%s,\"wall_s\":%.3f,\"server_cores\":%.3f}}\n", f[2], t1 - t0, (c1 - c0) / clk / (t1 - t0)
	}' <<<"$csv"
}

# dd_1mib RUN: run-peers.sh's fsync_1MiB row, into the same file system (the temp dir)
dd_1mib() {
	local f="$WORK/dd.fsync_1MiB" out
	rm -f "$f"
	out=$(timeout -s INT 30 dd if=/dev/zero of="$f" bs=1M count=256 oflag=dsync 2>&1) || true
	rm -f "$f"
	awk -v run="$1" '
		/ copied, / { bytes = $1; n = split($0, parts, ", "); split(parts[n-1], t, " "); secs = t[1] }
		END {
			if (secs <= 0) { print "dd failed" > "/dev/stderr"; exit 1 }
			printf "{\"broker\":\"machine_il\",\"test\":\"fsync_1MiB\",\"run\":%d,\"ok\":true,\"params\":{\"block\":1048576,\"flags\":\"oflag=dsync\",\"fs\":\"/tmp\"},\"metrics\":{\"writes_per_s\":%.1f,\"MB_per_s\":%.2f,\"bytes\":%d}}\n", run, bytes / 1048576 / secs, bytes / secs / 1e6, bytes
		}' <<<"$out"
}

# ---- the measurements ------------------------------------------------------------------

for run in $(seq "$RUNS"); do
	log "ours${NATS_PID:+ and the peers interleaved}, run $run"
	step msb persist_pub "$run" mb persist-pub --run "$run" -n "$PUB_N" --window "$PUB_WINDOW"
	[ "$INTERLEAVE" != 1 ] || step nats_il js_pub_default "$run" nats_js "$run"
	step msb persist_immediate "$run" mb persist-immediate --run "$run" -n "$IMM_N" \
		--publishers "$PUBLISHERS" --window "$IMM_WINDOW" --batch 100
	step msb persist_immediate_b1 "$run" mb persist-immediate --run "$run" -n "$IMM1_N" \
		--publishers "$PUBLISHERS" --window "$IMM1_WINDOW" --batch 1 --name persist_immediate_b1
	[ "$IMM1_WIDE" = 0 ] || step msb persist_immediate_b1_wide "$run" mb persist-immediate --run "$run" \
		-n "$IMM1_N" --publishers "$PUBLISHERS" --window "$IMM1_WIDE" --batch 1 --name persist_immediate_b1_wide
	if [ "$INTERLEAVE" = 1 ]; then
		step redis_il xadd_aof_always_c50_P16 "$run" redis_xadd "$run"
		step machine_il fsync_1MiB "$run" dd_1mib "$run"
	fi
	step msb backlog_consume "$run" mb backlog --run "$run" -n "$BACKLOG_N"
done
log "stopping our broker and service${NATS_PID:+ and the interleaved peers}"
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
	stop_pid "${PIDS[$i]}"
done
PIDS=()
grep 'CRITICAL\|ERROR\|WARNING' "$WORK/msb/broker.log" "$WORK/persist/service.log" >&2 || true

# ---- fsync census --------------------------------------------------------------------

# A second service under strace, which stops only on the fsync family (seccomp-bpf), so the
# rest runs at full speed; a broker of its own points at it. Counts only, like the harness's.
SYNC_CALLS=fsync,fdatasync,sync_file_range,syncfs,msync
census_count() { grep -cE '^[0-9]+ +(fsync|fdatasync|sync_file_range|syncfs|msync)\(' "$WORK/census.strace" || true; }

# census_run TEST N ARGS...: one persist-immediate run; the fsync calls during it, and until the
# service has sealed what it can (no fsync for 1 s, at most 30 s)
census_run() {
	local test=$1 n=$2 before during after now last
	shift 2
	before=$(census_count)
	mb persist-immediate -n "$n" --publishers "$PUBLISHERS" --name "$test" "$@" >"$WORK/census.out" || true
	during=$(($(census_count) - before))
	grep -q '"ok":true' "$WORK/census.out" || { echo "census run failed: $(tail -c 300 "$WORK/census.out")" >&2; return 1; }
	last=-1
	for _ in $(seq 30); do
		sleep 1
		now=$(census_count)
		[ "$now" = "$last" ] && break
		last=$now
	done
	after=$(($(census_count) - before))
	awk -v t="$test" -v n="$n" -v f="$during" -v g="$after" 'BEGIN {
		printf "{\"broker\":\"msb\",\"test\":\"fsync_census_%s\",\"run\":1,\"ok\":true,", t
		printf "\"params\":{\"msgs\":%d,\"counted\":\"strace -f --seccomp-bpf on my-service-bus-persistence, during one persist-immediate run; with_sealing: until its seals stop\"},", n
		printf "\"metrics\":{\"fsyncs\":%d,\"fsyncs_per_1k_msgs\":%.2f,\"fsyncs_with_sealing\":%d", f, f * 1000 / n, g
		if (f > 0) printf ",\"msgs_per_fsync\":%.1f", n / f
		if (g > 0) printf ",\"msgs_per_fsync_with_sealing\":%.1f", n / g
		printf "}}\n" }'
}

if [ "$CENSUS" = 1 ]; then
	log "fsync census of our service under strace (counts only)"
	start_persistence "$WORK/census" strace -f --seccomp-bpf -qq -e trace="$SYNC_CALLS" -o "$WORK/census.strace"
	MB_PPID=$PS_PID MB_PHTTP=$PS_HTTP MB_DATA="$WORK/census/data"
	start_broker "$WORK/census-msb" "$PS_GRPC"
	MB_PID=$B_PID MB_PORT=$B_PORT MB_HTTP=$B_HTTP
	step msb fsync_census_persist_immediate 1 census_run persist_immediate "$CENSUS_N" \
		--window "$IMM_WINDOW" --batch 100
	step msb fsync_census_persist_immediate_b1 1 census_run persist_immediate_b1 "$CENSUS1_N" \
		--window "$IMM1_WINDOW" --batch 1
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[$i]}"
	done
	PIDS=()
	unset MB_PPID MB_PHTTP MB_DATA MB_PID MB_PORT MB_HTTP
fi

# ---- the peers -----------------------------------------------------------------------

: >"$WORK/peers.jsonl"
if [ "$PEERS_RUN" = 1 ]; then
	wait_quiet "$STEP_WAIT_IDLE"
	PEERS_BUSY_BEFORE=$BUSY
	log "running the peer harness (run-peers.sh, about 2.5 minutes)"
	mkdir -p "$WORK/peers-out"
	peers_rc=0
	RUNS=$RUNS JS_N=$JS_N XADD_N=$XADD_N OUT_DIR="$WORK/peers-out" TIME_BUDGET=$PEERS_TIME_BUDGET \
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

# value BROKER TEST METRIC: the median, or "-"
value() {
	get "$1" "$2" "$3" | awk '
		{ v = $1 }
		END {
			if (v == "") { printf "-"; exit }
			if (v + 0 < 1000) { printf "%.3g", v; exit }
			s = sprintf("%.0f", v); out = ""
			while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
			printf "%s%s", s, out
		}'
}

{
	echo "# run-bench-persistence.sh $STAMP"
	echo
	echo '```'
	cat "$WORK/env.txt"
	[ -z "${PEERS_FILES:-}" ] || echo "peer harness files: $PEERS_FILES"
	echo '```'
	echo
	for SET in peers interleaved; do
		if [ "$SET" = peers ]; then
			NATS=nats REDIS=redis MACHINE=machine
			echo "## Ours against run-peers.sh's rows, same invocation (median (min–max) of $RUNS runs)"
		else
			NATS=nats_il REDIS=redis_il MACHINE=machine_il
			grep -q "^| nats_il | " "$WORK/summary.md" || continue
			echo "## Ours against the peer rows measured between ours, run by run (median (min–max) of $RUNS runs)"
		fi
		echo
		echo "| target | ours | peer | ours / peer (min–max) | target |"
		echo "|---|---:|---:|---:|---|"
		ratio_row "(a) persist-pub, acknowledged msgs/s / JetStream PublishAsync" msb persist_pub "$NATS" js_pub_default msgs_per_s ge 3
		ratio_row "(a) persist-pub, msgs/s until all saved / JetStream PublishAsync" msb persist_pub "$NATS" js_pub_default saved_msgs_per_s ge 3 msgs_per_s
		ratio_row "(b) persist_immediate, 16 conns, 100/publish, msgs/s / Redis XADD always -c 50 -P 16" msb persist_immediate "$REDIS" xadd_aof_always_c50_P16 msgs_per_s ge 1
		ratio_row "(b) persist_immediate, 16 conns, 1/publish, msgs/s / Redis XADD always -c 50 -P 16" msb persist_immediate_b1 "$REDIS" xadd_aof_always_c50_P16 msgs_per_s ge 1
		ratio_row "(b) the same with $((PUBLISHERS * IMM1_WIDE)) in flight (as 100/publish)" msb persist_immediate_b1_wide "$REDIS" xadd_aof_always_c50_P16 msgs_per_s ge 1
		ratio_row "(b) payload MB/s, 100/publish / dd oflag=dsync 1 MiB" msb persist_immediate "$MACHINE" fsync_1MiB MB_per_s - 0
		ratio_row "(b) data folder growth MB/s, 100/publish / dd 1 MiB" msb persist_immediate "$MACHINE" fsync_1MiB disk_growth_MB_per_s - 0 MB_per_s
		ratio_row "(b) bytes the service wrote, MB/s, 100/publish / dd 1 MiB" msb persist_immediate "$MACHINE" fsync_1MiB persistence_written_MB_per_s - 0 MB_per_s
		ratio_row "(b) payload MB/s, 1/publish / dd 1 MiB" msb persist_immediate_b1 "$MACHINE" fsync_1MiB MB_per_s - 0
		ratio_row "(c) backlog loaded back, msgs/s / JetStream pull consume" msb backlog_consume "$NATS" js_consume_default msgs_per_s ge 1
		echo
	done
	echo "The ratio's range pairs our worst run with the peer's best and the other way round."
	echo
	echo "## Messages per fsync"
	echo
	echo "| path | messages per fsync |"
	echo "|---|---:|"
	echo "| ours, persist_immediate 100/publish: store commits (messages saved / commit fsyncs) | $(value msb persist_immediate msgs_per_fsync) |"
	echo "| ours, the same with the seal fsyncs | $(value msb persist_immediate msgs_per_store_fsync) |"
	echo "| ours, persist_immediate 1/publish: store commits | $(value msb persist_immediate_b1 msgs_per_fsync) |"
	echo "| ours, the same with the seal fsyncs | $(value msb persist_immediate_b1 msgs_per_store_fsync) |"
	echo "| ours, persist-pub (saved within EventuallyPersistenceDelay): store commits | $(value msb persist_pub msgs_per_fsync) |"
	echo "| ours, census under strace, 100/publish, during the run / with sealing | $(value msb fsync_census_persist_immediate msgs_per_fsync) / $(value msb fsync_census_persist_immediate msgs_per_fsync_with_sealing) |"
	echo "| ours, census under strace, 1/publish, during the run / with sealing | $(value msb fsync_census_persist_immediate_b1 msgs_per_fsync) / $(value msb fsync_census_persist_immediate_b1 msgs_per_fsync_with_sealing) |"
	echo "| Redis XADD appendfsync always -c 50 -P 16 (harness census) | $(value redis fsync_census_xadd_aof_always_c50_P16 msgs_per_fsync) |"
	echo "| Redis XADD appendfsync always -c 1 -P 16 (harness census) | $(value redis fsync_census_xadd_aof_always_c1_P16 msgs_per_fsync) |"
	echo "| RabbitMQ classic, 1,000 unconfirmed (harness census, RABBIT=1 only) | $(value rabbitmq fsync_census_confirm_classic msgs_per_fsync) |"
	echo "| RabbitMQ quorum, 1,000 unconfirmed (harness census, RABBIT=1 only) | $(value rabbitmq fsync_census_confirm_quorum msgs_per_fsync) |"
	echo "| NATS JetStream (harness census: fsyncs during 100,000 messages) | $(value nats fsync_census_js_default fsyncs) fsyncs |"
	echo
	echo "## Latency of persist_immediate: publish → PublishResponse (after the service's fsync), µs"
	echo
	echo "| shape | p50 | p90 | p99 | max |"
	echo "|---|---:|---:|---:|---:|"
	for t in persist_immediate persist_immediate_b1 persist_immediate_b1_wide; do
		echo "| $t | $(value msb $t p50_us) | $(value msb $t p90_us) | $(value msb $t p99_us) | $(value msb $t max_us) |"
	done
	echo
	echo "## Who was busy during our runs (cores, medians)"
	echo
	echo "| test | client | broker | persistence service | others |"
	echo "|---|---:|---:|---:|---:|"
	for t in persist_pub persist_immediate persist_immediate_b1 persist_immediate_b1_wide backlog_consume; do
		echo "| $t | $(value msb $t client_cores) | $(value msb $t server_cores) | $(value msb $t persistence_cores) | $(value msb $t other_cores) |"
	done
	echo
	echo "## Every metric (ours and the peers)"
	echo
	cat "$WORK/summary.md"
} >"$TABLE"

sed -n '/^## Ours against/,/^## Who was busy/p' "$TABLE" | grep -v '^## Who was busy'

log "done in ${SECONDS}s; raw: $JSONL; tables: $TABLE"
