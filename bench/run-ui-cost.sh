#!/usr/bin/env bash
# run-ui-cost.sh: what the UI's readers cost the broker's main loop, counted by the broker itself
# (issue 8 item 5, second bullet, without the noise of a latency percentile on a loaded machine).
#
# For each SIZES entry (TOPICSxQUEUES): a broker in memory with that state (BACKLOG messages in
# each queue, bench/ui-load.py populate), then BROWSERS browsers' worth of UI load (bench/ui-load.py
# load: one /api/ws socket and one /api/Status poll a second each) for SECONDS seconds. The
# broker's own /metrics before and after give, over the window:
#   - collections of the whole state a second (msb_stats_collections_total),
#   - the main thread's CPU time in collection slices, µs a second
#     (msb_stats_collect_cpu_seconds_total): what the readers cost message service, which a busy
#     machine does not inflate,
#   - their wall time, slices a second and their distribution (msb_stats_collect_slice_seconds),
#     and the longest slice since the start, in CPU and wall time: a message that arrives
#     during a slice waits behind it (a preempted slice reads longer on the wall clock).
#
#   meson setup build-plain --buildtype=release && meson compile -C build-plain
#   bench/run-ui-cost.sh                 # BROKER=... to measure another build
#
# Every process it starts is stopped by pid on exit. Prints one Markdown table.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build-plain}
BROKER=${BROKER:-$BUILD_DIR/src/node/my-service-bus}
SIZES=${SIZES:-"100x10 1000x10"}
BACKLOG=${BACKLOG:-10}
BROWSERS=${BROWSERS:-20}
UI_LOAD=${UI_LOAD:-both}
SECONDS_LOAD=${SECONDS_LOAD:-20}

# shellcheck source=bench/bench-lib.sh
. "$HERE/bench-lib.sh"

need_cmd python3 python3
[ -x "$BROKER" ] || missing+=("$BROKER (meson setup build-plain --buildtype=release; meson compile -C build-plain)")
exit_if_missing run-ui-cost.sh

WORK=$(mktemp -d /tmp/msbuicost.XXXXXX)
MSB_PID=""
LOAD_PID=""
cleanup() {
	stop_pid "$LOAD_PID"
	stop_pid "$MSB_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scrape() { # file
	python3 - "$HTTP_PORT" >"$1" <<'EOF'
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode())
EOF
}

echo "| state | load | s | collections/s | slices/s | main-thread CPU in slices, µs/s | wall time in slices, µs/s | slices ≤100 µs / ≤250 µs / ≤500 µs / ≤1 ms / >1 ms (wall) | longest slice, CPU µs | longest slice, wall µs | broker CPU, all threads, s/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for size in $SIZES; do
	topics=${size%x*} queues=${size#*x}
	dir=$WORK/msb-$size
	mkdir -p "$dir"
	start_memory_broker "$BROKER" "$dir" || { MSB_PID=$PID; exit 1; }
	MSB_PID=$PID
	timeout 300 python3 "$HERE/ui-load.py" populate "$PORT" "$topics" "$queues" "$BACKLOG"
	scrape "$WORK/before.txt"
	cpu_before=$(awk '{print $14 + $15}' "/proc/$MSB_PID/stat")
	python3 "$HERE/ui-load.py" load "$HTTP_PORT" "$BROWSERS" "$UI_LOAD" >"$WORK/load.out" 2>"$WORK/load.err" &
	LOAD_PID=$!
	start=$(date +%s.%N)
	sleep "$SECONDS_LOAD"
	scrape "$WORK/after.txt"
	end=$(date +%s.%N)
	cpu_after=$(awk '{print $14 + $15}' "/proc/$MSB_PID/stat")
	stop_pid "$LOAD_PID"
	LOAD_PID=""
	python3 - "$WORK/before.txt" "$WORK/after.txt" "$start" "$end" "$size" "$BROWSERS $UI_LOAD" \
		"$cpu_before" "$cpu_after" "$(getconf CLK_TCK)" "$BACKLOG" <<'EOF'
import re, sys
def read(path):
    v = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        v[name] = float(value)
    return v
a, b = read(sys.argv[1]), read(sys.argv[2])
s = float(sys.argv[4]) - float(sys.argv[3])
d = lambda k: b.get(k, 0) - a.get(k, 0)
n = "msb_stats_collect_slice_seconds"
cum = lambda le: d('%s_bucket{le="%s"}' % (n, le))
buckets = [cum("0.0001"), cum("0.00025"), cum("0.0005"), cum("0.001")]
total = d(n + "_count")
shares = [buckets[0]] + [buckets[i] - buckets[i - 1] for i in range(1, 4)] + [total - buckets[3]]
cpu = (float(sys.argv[8]) - float(sys.argv[7])) / float(sys.argv[9]) / s
print("| %s, %s msgs a queue | %s | %.1f | %.2f | %.1f | %.0f | %.0f | %s | %.0f | %.0f | %.3f |" % (
    sys.argv[5], sys.argv[10], sys.argv[6], s, d("msb_stats_collections_total") / s, total / s,
    d("msb_stats_collect_cpu_seconds_total") * 1e6 / s, d(n + "_sum") * 1e6 / s,
    " / ".join("%d" % x for x in shares),
    b.get("msb_stats_collect_slice_cpu_max_seconds", 0) * 1e6,
    b.get("msb_stats_collect_slice_max_seconds", 0) * 1e6, cpu))
EOF
	stop_pid "$MSB_PID"
	MSB_PID=""
done
