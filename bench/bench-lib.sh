# bench-lib.sh: what the bench scripts share; sourced, not run.
#
# The caller sets REPO, PEERS, BUILD_DIR, WORK (its temp dir), OURS (its result lines),
# STEP_WAIT_IDLE and IDLE_MAX before it uses these; `missing` collects what need_cmd did not find.
# shellcheck shell=bash

log() { printf '[%4ss] %s\n' "$SECONDS" "$*" >&2; }

missing=()
need_cmd() { # command package
	command -v "$1" >/dev/null || missing+=("$1 (package $2)")
}

# need_peer_tools: what the peer harness (run-peers.sh) needs
need_peer_tools() {
	need_cmd nats-server nats-server
	need_cmd go golang-go
	need_cmd redis-server redis-server
	need_cmd redis-benchmark redis-tools
	need_cmd redis-cli redis-tools
	need_cmd iperf3 iperf3
	need_cmd gcc gcc
	# shellcheck disable=SC2144 # one directory at most; the glob spares naming its host
	[ -d /usr/share/gocode/src/*/nats-io/nats.go ] ||
		missing+=("nats.go under /usr/share/gocode/src (package golang-github-nats-io-go-nats-dev)")
	[ -x "$PEERS/run-peers.sh" ] || missing+=("$PEERS/run-peers.sh (the peer harness; set PEERS=dir)")
}

# exit_if_missing SCRIPT: report what need_cmd did not find and exit 2
exit_if_missing() {
	pkg-config --exists 'gio-2.0 >= 2.74' 2>/dev/null || missing+=("gio-2.0 >= 2.74 (package libglib2.0-dev)")
	[ "${#missing[@]}" -eq 0 ] && return 0
	echo "$1: missing:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	echo "On Debian 12: apt-get install -y meson ninja-build gcc pkg-config libglib2.0-dev nats-server golang-go golang-github-nats-io-go-nats-dev redis-server redis-tools iperf3 strace" >&2
	exit 2
}

stop_pid() { # stop one process we started, by pid, then reap it
	local pid=$1
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# build_ours TARGET...: the release build in $BUILD_DIR (without the tests), then TARGETs
build_ours() {
	log "building ours: release build in $BUILD_DIR (without the tests: the bench needs only the programs)"
	if [ -f "$BUILD_DIR/build.ninja" ]; then
		meson configure "$BUILD_DIR" -Dbuildtype=release -Dtests=false >/dev/null
	else
		meson setup "$BUILD_DIR" "$REPO" --buildtype=release -Dtests=false >/dev/null
	fi
	ninja -C "$BUILD_DIR" "$@" >/dev/null
}

# build_peers: a copy of $PEERS in $WORK/peers (nothing is written into it) and its natsbench
build_peers() {
	log "building the peer harness (a copy of $PEERS in $WORK/peers)"
	cp -r "$PEERS" "$WORK/peers"
	chmod -R u+w "$WORK/peers"
	rm -rf "$WORK/peers/build" "$WORK/peers/results"
	mkdir -p "$WORK/peers/build"
	(cd "$WORK/peers" && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS='' \
		timeout 300 go build -o build/natsbench ./natsbench)
	# shellcheck disable=SC2034 # for the caller
	NATSBENCH="$WORK/peers/build/natsbench"
}

# busy_cores SECONDS: cores busy (user, nice, system, irq, softirq, steal) over SECONDS
busy_cores() {
	local a b
	a=$(head -1 /proc/stat)
	sleep "$1"
	b=$(head -1 /proc/stat)
	awk -v a="$a" -v b="$b" -v s="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " "); busy = 0
		for (i = 2; i <= 9; i++) if (i != 5 && i != 6) busy += y[i] - x[i]
		printf "%.2f", busy / hz / s }'
}

# Every figure here is a ratio of two programs sharing 2 cores: anything else running (a build,
# a test suite) skews it. wait_quiet SECONDS: wait until the machine is quiet (at most
# SECONDS; then measure anyway, with a warning); sets BUSY.
wait_quiet() {
	local limit=$1 waited=0
	BUSY=$(busy_cores 1)
	[ "$limit" -gt 0 ] || return 0
	while awk -v b="$BUSY" -v m="$IDLE_MAX" 'BEGIN { exit !(b > m) }' && [ "$waited" -lt "$limit" ]; do
		[ "$waited" -gt 0 ] || log "the machine is busy ($BUSY cores); waiting up to ${limit}s for it to be quiet"
		sleep 2
		waited=$((waited + 3))
		BUSY=$(busy_cores 1)
	done
	if awk -v b="$BUSY" -v m="$IDLE_MAX" 'BEGIN { exit !(b > m) }'; then
		log "warning: the machine is still busy ($BUSY cores); measuring anyway (see other_cores)"
	fi
}

# env_common: the lines of the env file both scripts write
env_common() {
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "kernel: $(uname -srm)"
	echo "cpus: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "cc: $(cc --version | head -1)"
	echo "glib: $(pkg-config --modversion glib-2.0)"
	echo "git: $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
}

# shellcheck disable=SC1003 # the set is a double quote and a backslash
jstr() { printf '%s' "$1" | tr -d '"\\' | tr '\n\t' '  '; }

# step BROKER TEST RUN CMD...: one measurement printing a JSON line; a crash or a timeout
# becomes a failed line instead of aborting the run.
step() {
	local broker=$1 test=$2 run=$3 rc=0
	shift 3
	wait_quiet "$STEP_WAIT_IDLE"
	"$@" >"$WORK/step.out" 2>"$WORK/step.err" || rc=$?
	grep '^{' "$WORK/step.out" >>"$OURS" || true
	if ! grep -q '^{' "$WORK/step.out"; then
		printf '{"broker":"%s","test":"%s","run":%d,"ok":false,"error":"%s","metrics":{}}\n' \
			"$broker" "$test" "$run" "$(jstr "exit $rc: $(tail -c 300 "$WORK/step.err")")" >>"$OURS"
		log "  $broker $test run $run FAILED (exit $rc): $(tail -c 300 "$WORK/step.err")"
	elif [ "$rc" -ne 0 ] || grep -q '"ok":false' "$WORK/step.out"; then
		log "  $broker $test run $run FAILED: $(grep -o '"error":"[^"]*"' "$WORK/step.out" | head -1)"
	fi
}

# get BROKER TEST METRIC: "median min max" from $WORK/summary.md (natsbench -mode summary;
# commas dropped), or "".
get() {
	awk -F'|' -v b="$1" -v t="$2" -v m="$3" '
		function trim(s) { gsub(/^ +| +$/, "", s); gsub(/,/, "", s); return s }
		trim($2) == b && trim($3) == t && trim($4) == m { print trim($5), trim($6), trim($7); exit }
	' "$WORK/summary.md"
}

# ratio_row LABEL OURS_BROKER OURS_TEST PEER_BROKER PEER_TEST METRIC DIR(ge|le) TARGET [PEER_METRIC]:
# one table row "| label | ours | peer | ours / peer (min–max) | verdict |" from the summary;
# DIR ge: met when ours / peer >= TARGET; le: met when <= TARGET; "-" as DIR: no target.
ratio_row() {
	local label=$1 ob=$2 ot=$3 pb=$4 pt=$5 metric=$6 dir=$7 target=$8 pmetric=${9:-$6} o n
	o=$(get "$ob" "$ot" "$metric")
	n=$(get "$pb" "$pt" "$pmetric")
	awk -v label="$label" -v o="$o" -v n="$n" -v dir="$dir" -v target="$target" '
		function fmt(v) {
			if (v == "") return "-"
			if (v + 0 >= 1000) { s = sprintf("%.0f", v); out = "";
				while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
				return s out }
			return sprintf("%.3g", v)
		}
		BEGIN {
			split(o, a, " "); split(n, b, " ")
			ours = (o == "") ? "failed" : fmt(a[1]) " (" fmt(a[2]) "–" fmt(a[3]) ")"
			peer = (n == "") ? "-" : fmt(b[1]) " (" fmt(b[2]) "–" fmt(b[3]) ")"
			ratio = "-"; verdict = "-"
			if (o != "" && n != "" && b[1] > 0) {
				r = a[1] / b[1]
				# the range of the ratio: worst and best pairing of our runs with theirs
				lo = (b[3] > 0) ? a[2] / b[3] : 0; hi = (b[2] > 0) ? a[3] / b[2] : 0
				ratio = sprintf("%.2f (%.2f–%.2f)", r, lo, hi)
				t = sprintf("%.1f", target)
				if (dir == "ge") verdict = (r >= target) ? "met (≥ " t ")" : "missed (≥ " t ")"
				else if (dir == "le") verdict = (r <= target) ? "met (≤ " t ")" : "missed (≤ " t ")"
			}
			printf "| %s | %s | %s | %s | %s |\n", label, ours, peer, ratio, verdict
		}'
}

# Start an in-memory broker (binary $1) with its settings, ready file and log in folder $2, on
# free ports of 127.0.0.1; sets PID (stop it in the caller's EXIT trap), PORT and HTTP_PORT.
start_memory_broker() { # broker dir
	rm -f "$2/ready"
	printf 'GrpcUrl: none\nListenAddress: 127.0.0.1\n' >"$2/settings.yaml"
	"$1" --settings "$2/settings.yaml" --tcp-port 0 --http-port 0 \
		--ready-file "$2/ready" >"$2/broker.log" 2>&1 &
	PID=$!
	for _ in $(seq 200); do
		[ -s "$2/ready" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$2/ready" ] || { cat "$2/broker.log" >&2; echo "the broker did not start" >&2; return 1; }
	PORT=$(sed -n 's/^tcp_port=//p' "$2/ready")
	HTTP_PORT=$(sed -n 's/^http_port=//p' "$2/ready")
}
