#!/usr/bin/env bash
# run-ui-bench.sh: what the live web UI costs (issue 8 item 5, second and third bullets), in one
# invocation.
#
#   1. latency: a broker with LAT_TOPICS topics x LAT_QUEUES permanent queues holding
#      LAT_BACKLOG messages each (what an operator's UI shows); `msbctl bench latency`
#      (publish -> delivery -> confirm, one message at a time, on a topic of its own; LAT_N
#      timed round trips, several seconds, so that each run spans several of the UI's 1 s
#      cycles) without UI load and with BROWSERS browsers' worth of it (bench/ui-load.py: one
#      /api/ws socket and one /api/Status poll a second each), RUNS times, in the order
#      none/ui, ui/none, none/ui... so that a drift of the machine hits both; medians of the
#      runs' p50/p99/p99.9 side by side, and the ratio of the p99 medians (target <= 1.10).
#   2. render: a broker with UI_TOPICS topics x UI_QUEUES queues; the UI in headless Chromium
#      (bench/ui-render-bench.mjs): time to first render and per update, from the page's own
#      Performance API figures (window.msbPerf), LOADS fresh page loads of UPDATES updates
#      each (targets 200 ms and 50 ms).
#
# MODE=latency or MODE=render runs one part only. Every process it starts is stopped by pid on
# exit, also on failure or Ctrl-C. Results go to bench/results/ (gitignored):
# ui-<stamp>.jsonl (every row) and ui-<stamp>.md (the tables, also printed).
#
#   meson setup build-plain --buildtype=release && meson compile -C build-plain
#   bench/run-ui-bench.sh            # BUILD_DIR=build-plain by default
#
# Needs python3 (standard library), node and Debian's chromium, and tests/browser/node_modules
# (`npm ci` in tests/browser) for the render part.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build-plain}
BROKER=${BROKER:-$BUILD_DIR/src/node/my-service-bus}
MSBCTL=${MSBCTL:-$BUILD_DIR/src/tools/msbctl}
MODE=${MODE:-all}               # all | latency | render
RUNS=${RUNS:-3}                 # latency: runs of each arm
LAT_N=${LAT_N:-100000}          # latency: timed round trips per run (about 6-10 s)
LAT_TOPICS=${LAT_TOPICS:-100}
LAT_QUEUES=${LAT_QUEUES:-10}
LAT_BACKLOG=${LAT_BACKLOG:-100} # messages waiting in each topic's queues
BROWSERS=${BROWSERS:-20}
UI_LOAD=${UI_LOAD:-both}        # latency: both, or only the WebSockets (ws) or only the polls (poll)
LOAD_ON=${LOAD_ON:-measured}    # latency: measured, or other: a control run, the same UI load on a
                                # second, identical broker (only the machine is shared)
UI_TOPICS=${UI_TOPICS:-1000}
UI_QUEUES=${UI_QUEUES:-10}
UI_BACKLOG=${UI_BACKLOG:-10}
LOADS=${LOADS:-3}               # render: fresh page loads
UPDATES=${UPDATES:-15}          # render: updates per page load
STEP_TIMEOUT=${STEP_TIMEOUT:-120}
OUT_DIR=${OUT_DIR:-$HERE/results}
STEP_WAIT_IDLE=${STEP_WAIT_IDLE:-20} # seconds to wait for a quiet machine before each step
IDLE_MAX=${IDLE_MAX:-0.15}           # "quiet": at most this many cores busy over one second

# shellcheck source=bench/bench-lib.sh
. "$HERE/bench-lib.sh"

need_cmd python3 python3
need_cmd timeout coreutils
if [ "$MODE" != latency ]; then
	need_cmd node nodejs
	need_cmd "${CHROMIUM:-chromium}" chromium
	[ -d "$REPO/tests/browser/node_modules/playwright-core" ] ||
		missing+=("tests/browser/node_modules/playwright-core (run: npm ci in tests/browser)")
fi
[ -x "$BROKER" ] || missing+=("$BROKER (meson setup build-plain --buildtype=release; meson compile -C build-plain)")
[ -x "$MSBCTL" ] || missing+=("$MSBCTL")
exit_if_missing run-ui-bench.sh

WORK=$(mktemp -d /tmp/msbuibench.XXXXXX)
MSB_PID=""
LOAD_PID=""
CTL_PID=""
cleanup() {
	stop_pid "$LOAD_PID"
	stop_pid "$CTL_PID"
	stop_pid "$MSB_PID"
	LOAD_PID="" MSB_PID=""
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
JSONL="$OUT_DIR/ui-$STAMP.jsonl"
TABLE="$OUT_DIR/ui-$STAMP.md"
: >"$JSONL"

# start_broker TOPICS QUEUES BACKLOG: a broker (GrpcUrl none, 127.0.0.1, free ports) with that
# state; sets MSB_PID, TCP_PORT, HTTP_PORT, STATUS_BYTES, STATUS_MS
start_broker() {
	local dir=$WORK/${4:-msb}
	mkdir -p "$dir"
	start_memory_broker "$BROKER" "$dir" || { MSB_PID=$PID; exit 1; }
	MSB_PID=$PID TCP_PORT=$PORT
	timeout 300 python3 "$HERE/ui-load.py" populate "$TCP_PORT" "$1" "$2" "$3"
	# its size, and its time seen from a client (median of 5 fetches, one at a time)
	read -r STATUS_BYTES STATUS_MS < <(python3 - "$HTTP_PORT" <<'EOF'
import statistics, sys, time, urllib.request
ms, n = [], 0
for _ in range(5):
    t = time.monotonic()
    n = len(urllib.request.urlopen("http://127.0.0.1:%s/api/Status" % sys.argv[1]).read())
    ms.append((time.monotonic() - t) * 1000)
print(n, "%.1f" % statistics.median(ms))
EOF
	)
	log "broker pid $MSB_PID: $1 topics x $2 queues, $3 messages each; /api/Status $STATUS_BYTES bytes, $STATUS_MS ms"
}

# latency_run ARM RUN: one `msbctl bench latency` row (with the UI load when ARM is ui)
latency_run() {
	local arm=$1 run=$2 rc=0 load="{}"
	wait_quiet "$STEP_WAIT_IDLE"
	local busy_before=$BUSY load_before
	load_before=$(cut -d' ' -f1 /proc/loadavg)
	if [ "$arm" = ui ]; then
		python3 "$HERE/ui-load.py" load "$LOAD_HTTP_PORT" "$BROWSERS" "$UI_LOAD" >"$WORK/load.out" 2>"$WORK/load.err" &
		LOAD_PID=$!
		sleep 3 # sockets open, first frames and polls answered
	fi
	timeout -k 5 $((STEP_TIMEOUT + 15)) "$MSBCTL" bench --address "127.0.0.1:$TCP_PORT" \
		--server-pid "$MSB_PID" --timeout "$STEP_TIMEOUT" --lat-n "$LAT_N" --run "$run" \
		--name "latency_$arm" latency >"$WORK/step.out" 2>"$WORK/step.err" || rc=$?
	if [ "$arm" = ui ]; then
		kill -TERM "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
		LOAD_PID=""
		load=$(grep '^{' "$WORK/load.out" | tail -1 || true)
		[ -n "$load" ] || load="{\"error\":\"$(jstr "$(tail -c 300 "$WORK/load.err")")\"}"
	fi
	local line
	line=$(grep '^{' "$WORK/step.out" | tail -1 || true)
	if [ -z "$line" ]; then
		log "  latency $arm run $run FAILED (exit $rc): $(tail -c 300 "$WORK/step.err")"
		line="{\"ok\":false,\"error\":\"$(jstr "exit $rc: $(tail -c 300 "$WORK/step.err")")\"}"
	fi
	printf '{"part":"latency","arm":"%s","run":%d,"busy_cores_before":%s,"loadavg1_before":%s,"msbctl":%s,"ui_load":%s}\n' \
		"$arm" "$run" "$busy_before" "$load_before" "$line" "$load" >>"$JSONL"
	python3 - "$arm" "$run" "$line" "$load" <<'EOF' >&2
import json, sys
arm, run, line, load = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
m = line.get("metrics", {})
extra = ""
if load:
    extra = "; load: %s frames/s, %s polls/s, errors %s" % (
        load.get("ws_frames_per_s"), load.get("polls_per_s"), load.get("errors"))
print("  latency %-4s run %s: p50 %s us, p99 %s us, p99.9 %s us, max %s us; other cores %s%s" % (
    arm, run, m.get("p50_us"), m.get("p99_us"), m.get("p999_us"), m.get("max_us"),
    m.get("other_cores"), extra))
EOF
}

{
	env_common
	echo "chromium: $("${CHROMIUM:-chromium}" --version 2>/dev/null | head -1 || echo none)"
	echo "node: $(node --version 2>/dev/null || echo none), python: $(python3 --version 2>&1)"
	echo "ours: $("$BROKER" --version), buildtype $(meson configure "$BUILD_DIR" 2>/dev/null | awk '$1 == "buildtype" {print $2; exit}')"
	echo "uptime at the start: $(uptime)"
	echo "settings: MODE=$MODE RUNS=$RUNS LAT_N=$LAT_N LAT_TOPICS=$LAT_TOPICS LAT_QUEUES=$LAT_QUEUES LAT_BACKLOG=$LAT_BACKLOG BROWSERS=$BROWSERS UI_LOAD=$UI_LOAD LOAD_ON=$LOAD_ON UI_TOPICS=$UI_TOPICS UI_QUEUES=$UI_QUEUES UI_BACKLOG=$UI_BACKLOG LOADS=$LOADS UPDATES=$UPDATES"
} >"$WORK/env.txt"
cat "$WORK/env.txt" >&2

if [ "$MODE" != render ]; then
	LOAD_HTTP_PORT=""
	if [ "$LOAD_ON" = other ]; then
		start_broker "$LAT_TOPICS" "$LAT_QUEUES" "$LAT_BACKLOG" ctl
		CTL_PID=$MSB_PID LOAD_HTTP_PORT=$HTTP_PORT MSB_PID=""
		log "control run: the UI load goes to the second broker (pid $CTL_PID), not to the measured one"
	fi
	start_broker "$LAT_TOPICS" "$LAT_QUEUES" "$LAT_BACKLOG"
	LAT_STATUS="$STATUS_BYTES bytes, $STATUS_MS ms a fetch"
	LOAD_HTTP_PORT=${LOAD_HTTP_PORT:-$HTTP_PORT}
	for run in $(seq "$RUNS"); do
		if [ $((run % 2)) = 1 ]; then order="none ui"; else order="ui none"; fi
		for arm in $order; do
			latency_run "$arm" "$run"
		done
	done
	stop_pid "$MSB_PID"
	stop_pid "$CTL_PID"
	MSB_PID="" CTL_PID=""
	grep -v 'GrpcUrl is none' "$WORK/msb/broker.log" | grep 'CRITICAL\|ERROR\|WARNING' >&2 || true
fi

if [ "$MODE" != latency ]; then
	start_broker "$UI_TOPICS" "$UI_QUEUES" "$UI_BACKLOG"
	UI_STATUS="$STATUS_BYTES bytes, $STATUS_MS ms a fetch"
	wait_quiet "$STEP_WAIT_IDLE"
	log "the UI in Chromium: $LOADS page loads, $UPDATES updates each"
	echo "{\"part\":\"render\",\"busy_cores_before\":$BUSY,\"loadavg1_before\":$(cut -d' ' -f1 /proc/loadavg)}" >>"$JSONL"
	MSB_HTTP_PORT=$HTTP_PORT MSB_TCP_PORT=$TCP_PORT LOADS=$LOADS UPDATES=$UPDATES \
		timeout -k 5 $((LOADS * (UPDATES * 3 + 120))) node "$HERE/ui-render-bench.mjs" |
		sed 's/^{/{"part":"render",/' >>"$JSONL"
	stop_pid "$MSB_PID"
	MSB_PID=""
fi

echo "uptime at the end: $(uptime)" >>"$WORK/env.txt"

# ---- the tables ----
python3 - "$JSONL" "$WORK/env.txt" "${LAT_STATUS:-}" "${UI_STATUS:-}" "$BROWSERS" <<'EOF' >"$TABLE"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
env, lat_bytes, ui_bytes, browsers = open(sys.argv[2]).read(), sys.argv[3], sys.argv[4], sys.argv[5]
print("```\n" + env.strip() + "\n```\n")
lat = [r for r in rows if r.get("part") == "latency"]
def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
def f(x, d=0):
    return "-" if x is None else ("{:,.%df}" % d).format(x)
if lat:
    print("Delivery latency, `msbctl bench latency` (publish -> delivery, one at a time), "
          "/api/Status %s; runs in order:\n" % lat_bytes)
    print("| run | arm | p50 µs | p99 µs | p99.9 µs | max µs | broker cores | other cores | busy before | UI load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in lat:
        m = r["msbctl"].get("metrics", {})
        u = r.get("ui_load") or {}
        ul = "-" if not u else "%s sockets, %s frames/s, %s polls/s (median %s ms), %s errors, load CPU %s s" % (
            u.get("ws_open"), u.get("ws_frames_per_s"), u.get("polls_per_s"), u.get("poll_median_ms"),
            u.get("errors"), u.get("load_cpu_s"))
        print("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["run"], r["arm"], f(m.get("p50_us")), f(m.get("p99_us")), f(m.get("p999_us")),
            f(m.get("max_us")), f(m.get("server_cores"), 2), f(m.get("other_cores"), 2),
            r["busy_cores_before"], ul))
    print()
    arms = {a: [r["msbctl"].get("metrics", {}) for r in lat if r["arm"] == a] for a in ("none", "ui")}
    print("| medians of %d runs | p50 µs | p99 µs | p99.9 µs | max µs |" % max(len(arms["none"]), len(arms["ui"])))
    print("|---|---|---|---|---|")
    meds = {}
    for a, label in (("none", "no UI"), ("ui", "%s browsers" % browsers)):
        meds[a] = {k: med([m.get(k) for m in arms[a]]) for k in ("p50_us", "p99_us", "p999_us", "max_us")}
        print("| %s | %s | %s | %s | %s |" % (label, f(meds[a]["p50_us"]), f(meds[a]["p99_us"]),
                                          f(meds[a]["p999_us"]), f(meds[a]["max_us"])))
    if meds["none"]["p99_us"] and meds["ui"]["p99_us"]:
        ratio = meds["ui"]["p99_us"] / meds["none"]["p99_us"]
        per_run = []
        for run in sorted({r["run"] for r in lat}):
            a = [r["msbctl"].get("metrics", {}).get("p99_us") for r in lat if r["run"] == run and r["arm"] == "none"]
            b = [r["msbctl"].get("metrics", {}).get("p99_us") for r in lat if r["run"] == run and r["arm"] == "ui"]
            if a and b and a[0] and b[0]:
                per_run.append(b[0] / a[0])
        print("\np99 with / without the UI: **%.2f** (target <= 1.10: %s); per run: %s\n" % (
            ratio, "met" if ratio <= 1.10 else "NOT met", ", ".join("%.2f" % x for x in per_run)))
ren = [r for r in rows if r.get("part") == "render" and "load" in r]
summ = [r for r in rows if r.get("part") == "render" and r.get("summary")]
if ren:
    print("The UI in Chromium, /api/Status %s, %d fresh page loads (ms; since navigation "
          "start unless said):\n" % (ui_bytes, len(ren)))
    keys = [("first render", "first_render_ms"), ("  from the first screen only (/api/Status/First)", "first_partial"),
            ("first render of the whole status", "full_render_ms"), ("document loaded", "document_ms"),
            ("DOMContentLoaded", "dom_content_loaded_ms"), ("JS/CSS loaded (last)", "assets_done_ms"),
            ("first status request (boot script) sent", "status_request_ms"),
            ("first status response received", "status_response_ms"), ("  its size, bytes", "status_bytes"),
            ("first status text arrived (WebSocket or poll)", "first_status_arrived_ms"),
            ("first update (parse+model+render)", "first_update_ms"), ("  parse", "first_parse_ms"),
            ("  model", "first_model_ms"), ("  render", "first_render_only_ms"),
            ("updates measured", "updates"), ("per update, median", "update_median_ms"),
            ("per update, p95", "update_p95_ms"), ("per update, max", "update_max_ms"),
            ("  parse, median", "parse_median_ms"), ("  model, median", "model_median_ms"),
            ("  render, median", "render_median_ms"), ("topic rows in the DOM", "topic_rows_in_dom"),
            ("live (WebSocket)", "live")]
    print("| | " + " | ".join("load %d" % r["load"] for r in ren) + " |")
    print("|---|" + "---|" * len(ren))
    for label, k in keys:
        print("| %s | %s |" % (label, " | ".join(str(r.get(k)) for r in ren)))
    if summ:
        s = summ[-1]
        print("\nFirst render, median of %d loads: **%s ms** (target < 200; the whole status first "
              "drawn at %s ms); per update, median of "
              "the loads' medians: **%s ms** (all %d updates: median %s, p95 %s, max %s; target < 50)\n" % (
                  s["loads"], s["first_render_median_ms"], s.get("full_render_median_ms"), s["update_median_of_medians_ms"],
                  s["updates"], s["update_median_all_ms"], s["update_p95_all_ms"], s["update_max_all_ms"]))
EOF
cat "$TABLE"
log "rows: $JSONL; tables: $TABLE"
