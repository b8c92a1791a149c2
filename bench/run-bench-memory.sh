#!/bin/bash
# run-bench-memory.sh: does the broker give memory back once a backlog is gone? (issue 7, item 5)
#
# An in-memory broker (GrpcUrl: none) gets N messages (default 5,000,000, 100 bytes each) for a
# permanent queue with no subscriber; then one subscriber consumes them all. Second case: a
# delete-on-disconnect subscriber that never confirms (stopped with SIGSTOP) holds a backlog of N
# messages, is killed, and its queue is deleted after QueueGcTimeout (1 s here). For each case it
# prints the broker's VmRSS before the backlog, at its peak, and every second for 10 s after.
#
#   bench/run-bench-memory.sh [BUILD_DIR] [N]      (BUILD_DIR default build-rel: a release build)
#
# The broker runs with --verbose, so that its trims (with how long each took) are listed.
# Not a test: it measures. Allow about a minute for 5,000,000 messages on 2 cores.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$REPO/build-rel}
N=${2:-5000000}
BROKER=${MSB_BROKER:-$BUILD/src/node/my-service-bus}
MSBCTL=${MSBCTL:-$BUILD/src/tools/msbctl}
WORK=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[%4ss] %s\n' "$SECONDS" "$*" >&2; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_broker() {
	cat >"$WORK/settings.yaml" <<EOS
GrpcUrl: none
ListenAddress: 127.0.0.1
QueueGcTimeout: 1s
EOS
	rm -f "$WORK/ready"
	"$BROKER" --settings "$WORK/settings.yaml" --tcp-port 0 --http-port 0 \
		--ready-file "$WORK/ready" --verbose 2>"$WORK/broker.log" &
	BPID=$!
	pids+=("$BPID")
	for _ in $(seq 200); do [ -s "$WORK/ready" ] && break; sleep 0.05; done
	PORT=$(sed -n 's/^tcp_port=//p' "$WORK/ready")
	ADDR=127.0.0.1:$PORT
}

# after LABEL BEFORE: RSS every second for 10 s; prints the last one
after() {
	local label=$1 before=$2 r
	for s in $(seq 10); do
		sleep 1
		r=$(rss_kib "$BPID")
		log "$label: +${s}s VmRSS $((r / 1024)) MiB"
	done
	echo "$r"
}

report() { # LABEL BEFORE PEAK AFTER
	printf '%-28s N=%d  before %5d MiB  peak %5d MiB  after 10 s %5d MiB  (%+.0f%% of before)\n' \
		"$1" "$N" $(($2 / 1024)) $(($3 / 1024)) $(($4 / 1024)) \
		"$(echo "($4 - $2) * 100 / $2" | bc -l)"
}

payload=$(head -c 100 /dev/zero | tr '\0' 'x')
# N messages in chunks: one msbctl publish holds all its messages in memory and sends them at once
publish_n() {
	local left=$N c
	while [ "$left" -gt 0 ]; do
		c=$((left < 200000 ? left : 200000))
		"$MSBCTL" publish -a "$ADDR" -t bench -n "$c" "$payload" >/dev/null
		left=$((left - c))
	done
}

# --- case 1: a permanent queue's backlog, consumed ---
start_broker
"$MSBCTL" publish -a "$ADDR" -t bench -c warm >/dev/null
"$MSBCTL" subscribe -a "$ADDR" -t bench -q backlog -n 1 >/dev/null &
sp=$!
sleep 0.5
"$MSBCTL" publish -a "$ADDR" -t bench warm >/dev/null
wait "$sp"
before=$(rss_kib "$BPID")
log "case 1: before VmRSS $((before / 1024)) MiB; publishing $N messages"
publish_n
peak=$(rss_kib "$BPID")
log "case 1: backlog in memory, VmRSS $((peak / 1024)) MiB; consuming"
"$MSBCTL" subscribe -a "$ADDR" -t bench -q backlog -n "$N" >/dev/null
p2=$(rss_kib "$BPID")
[ "$p2" -gt "$peak" ] && peak=$p2
log "case 1: consumed, VmRSS $((p2 / 1024)) MiB"
last=$(after "case 1" "$before")
r1=$(report "backlog consumed" "$before" "$peak" "$last")
grep -h "returned free memory" "$WORK/broker.log" | sed 's/^/  case 1: /' >&2 || true
kill "$BPID"; wait "$BPID" || true

# --- case 2: a slow consumer's delete-on-disconnect queue, deleted ---
start_broker
"$MSBCTL" publish -a "$ADDR" -t bench -c warm >/dev/null
before=$(rss_kib "$BPID")
"$MSBCTL" subscribe -a "$ADDR" -t bench -q slow --type delete-on-disconnect >/dev/null &
sp=$!
pids+=("$sp")
sleep 0.5
kill -STOP "$sp"
log "case 2: before VmRSS $((before / 1024)) MiB; publishing $N messages to a stopped consumer"
publish_n
peak=$(rss_kib "$BPID")
log "case 2: backlog in memory, VmRSS $((peak / 1024)) MiB; killing the consumer"
kill -9 "$sp"; kill -CONT "$sp" 2>/dev/null || true; wait "$sp" 2>/dev/null || true
last=$(after "case 2" "$before")
r2=$(report "slow consumer's queue deleted" "$before" "$peak" "$last")
grep -h "returned free memory" "$WORK/broker.log" | sed 's/^/  case 2: /' >&2 || true
echo "$r1"
echo "$r2"
