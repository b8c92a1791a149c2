#!/bin/bash
# The packages as a user gets them, in one command: build them (packaging/build-deb.sh, with
# lintian) or take a folder of built .debs, install the five with apt-get, check the installed
# units (systemd-analyze verify, and security with exposure at most 2.5), start the installed
# services as the packaged user with the installed settings, publish and subscribe through the
# installed msbctl and through a program built against the installed libmsb-client-dev, reload
# with SIGHUP, stop with SIGTERM, purge the five and check that nothing of them is left.
#
# Where systemd is PID 1 the services are started with systemctl. Where it is not (CI containers),
# each unit's ExecStart= runs as systemd would run it: packaging/unit-exec.py reads the installed
# unit (User=, Group=, UMask=, LimitNOFILE=, NoNewPrivileges=, Environment=, *Directory=) and the
# program is started through setpriv as that user, after the runtime and state folders are made
# with the unit's owner and mode.
#
# Needs root (it installs and purges packages system-wide; it refuses to run when one of the five
# is already installed, so that it never purges someone's installation), a machine where the
# packages' ports (the installed settings: 6421, 6123, 7123, 7124) are free, and what
# scripts/install-deps.sh installs plus dpkg-dev, debhelper, lintian (build) and systemd (for
# systemd-analyze; not running).
#
# Usage: packaging/test-install.sh [DEB-FOLDER]
#   DEB-FOLDER: take the .debs from there (lintian runs on them) instead of building them.
#   VERBOSE=1 shows the output of every step; by default only one line per step, and the logs of
#   the failing step on failure.
# Exit status 0 when everything passed; non-zero with the reason on stderr otherwise. On failure
# (or Ctrl-C) it stops what it started and purges the packages.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
PACKAGES="my-service-bus my-service-bus-persistence msbctl libmsb-client0 libmsb-client-dev"
UNITS="my-service-bus-persistence.service my-service-bus.service" # start order (After=)
MAX_EXPOSURE=2.5
VERBOSE=${VERBOSE:-0}

work=$(mktemp -d /tmp/test-install.XXXXXX)
chmod 0755 "$work"
installed=0
declare -A PID=() NPID=() STARTED=()
started_dirs=()
step_log="$work/step.log"
t0=$(date +%s)

say() { echo "test-install: $*"; }
fail() {
    echo "test-install: FAILED: $*" >&2
    exit 1
}
# run a step quietly; its output goes to the terminal when it fails (or with VERBOSE=1)
quiet() {
    if [ "$VERBOSE" = 1 ]; then
        "$@"
        return
    fi
    if ! "$@" >"$step_log" 2>&1; then
        echo "test-install: this command failed: $*" >&2
        tail -n 60 "$step_log" >&2
        return 1
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for unit in "${!PID[@]}"; do
        local pid=${PID[$unit]}
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        if [ "$rc" != 0 ] && [ -s "$work/$unit.log" ]; then
            echo "test-install: the last lines of $unit's output:" >&2
            tail -n 30 "$work/$unit.log" >&2
        fi
    done
    for unit in "${!NPID[@]}"; do kill "${NPID[$unit]}" 2>/dev/null || true; done
    for d in "${started_dirs[@]}"; do rm -rf "$d"; done
    if [ "$installed" = 1 ]; then
        echo "test-install: purging the packages after the failure" >&2
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $PACKAGES >/dev/null 2>&1 ||
            echo "test-install: apt-get purge failed; purge by hand: apt-get purge $PACKAGES" >&2
    fi
    rm -rf "$work"
    if [ "$rc" != 0 ]; then
        echo "test-install: FAILED after $(($(date +%s) - t0)) s" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" = 0 ] || fail "needs root: it installs and purges packages (run it with sudo)"
for p in $PACKAGES; do
    if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
        fail "$p is installed on this machine; this test purges what it installs, so it runs only where none of the five is installed (apt-get purge $PACKAGES)"
    fi
done
for cmd in systemd-analyze setpriv python3 cc pkg-config apt-get; do
    command -v "$cmd" >/dev/null 2>&1 || fail "$cmd is not installed (scripts/install-deps.sh installs what the test needs)"
done

# ---- build or take the packages ----
if [ $# -ge 1 ]; then
    debs=$(cd "$1" && pwd)
    say "taking the packages from $debs; lintian on them"
    quiet lintian --fail-on error,warning "$debs"/*.deb || fail "lintian reports errors or warnings"
else
    debs="$work/debs"
    say "building the packages (packaging/build-deb.sh, then lintian)"
    quiet "$here/packaging/build-deb.sh" "$debs" || fail "the package build or lintian failed"
fi
files=""
for p in $PACKAGES; do
    f=$(ls "$debs/${p}"_*.deb 2>/dev/null | head -n 1) || true
    [ -n "$f" ] || fail "no ${p}_*.deb in $debs"
    files="$files $f"
done

# ---- install ----
say "installing:$(for f in $files; do printf ' %s' "$(basename "$f")"; done)"
installed=1
# shellcheck disable=SC2086
quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $files ||
    fail "apt-get install of the packages failed"
declare -A LIST=()
for p in $PACKAGES; do
    LIST[$p]="$work/$p.list"
    dpkg -L "$p" >"${LIST[$p]}"
done
getent passwd myservicebus >/dev/null || fail "the package did not create the user myservicebus (sysusers.d)"
for f in /etc/my-service-bus/my-service-bus.yaml /etc/my-service-bus/persistence.yaml; do
    [ -f "$f" ] || fail "$f is not installed"
done
getent group myservicebus-admin >/dev/null ||
    fail "the package did not create the group myservicebus-admin (sysusers.d)"
# enabled on install (deb-systemd-helper links the units even where systemd does not run); the
# maintainer scripts start them on install, restart them on upgrade and stop them on remove
for u in my-service-bus my-service-bus-persistence; do
    [ -L "/etc/systemd/system/multi-user.target.wants/$u.service" ] ||
        fail "$u.service is not enabled after the install"
    grep -q "_dh_action=restart" "/var/lib/dpkg/info/$u.postinst" ||
        fail "$u.postinst does not restart the service on upgrade"
    grep -q "deb-systemd-invoke stop" "/var/lib/dpkg/info/$u.prerm" ||
        fail "$u.prerm does not stop the service on remove"
done

# ---- the installed units ----
declare -A UNITFILE=()
for u in $UNITS; do
    f=$(grep -h -E "/systemd/system/$u\$" "$work"/*.list | head -n 1) || true
    [ -n "$f" ] && [ -f "$f" ] || fail "$u is not installed by the packages"
    UNITFILE[$u]=$f
done
say "systemd-analyze verify ${UNITFILE[*]}"
# verify prints its findings (warnings included) and may exit 0: any output is a failure
verify_out=$(systemd-analyze verify "${UNITFILE[@]}" 2>&1) || {
    echo "$verify_out" >&2
    fail "systemd-analyze verify failed"
}
[ -z "$verify_out" ] || {
    echo "$verify_out" >&2
    fail "systemd-analyze verify reported the lines above"
}
for u in $UNITS; do
    # --threshold is exposure x 10; the command fails above it
    threshold=$(python3 -c "print(int(round($MAX_EXPOSURE * 10)))")
    if ! out=$(systemd-analyze security --offline=true --threshold="$threshold" --no-pager "${UNITFILE[$u]}" 2>&1); then
        echo "$out" | tail -n 40 >&2
        fail "systemd-analyze security rates $u above exposure $MAX_EXPOSURE"
    fi
    level=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: *//p')
    say "systemd-analyze security $u: $level"
done

# ---- start the services ----
# Reads "Key: value" from a settings file (the keys this test needs are top-level scalars).
setting() { # FILE KEY DEFAULT
    local v
    v=$(sed -n "s/^$2:[[:space:]]*\\([^#[:space:]]*\\).*/\\1/p" "$1" | tail -n 1)
    echo "${v:-$3}"
}
http_get() { # URL: the body on stdout, non-zero when no 200
    python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.stdout.write(r.read().decode())
except Exception as e:
    sys.stderr.write(f"{sys.argv[1]}: {e}\n")
    sys.exit(1)
EOF
}
wait_http() { # UNIT URL
    for _ in $(seq 150); do
        if [ -n "${PID[$1]:-}" ] && ! kill -0 "${PID[$1]}" 2>/dev/null; then
            fail "$1 exited while starting"
        fi
        http_get "$2" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail "$1 does not answer $2 after 30 s"
}

persistence_conf=/etc/my-service-bus/persistence.yaml
broker_conf=/etc/my-service-bus/my-service-bus.yaml
p_http=$(setting "$persistence_conf" HttpPort 7123)
b_http=$(setting "$broker_conf" HttpPort 6123)
b_tcp=$(setting "$broker_conf" TcpPort 6421)

if [ -d /run/systemd/system ]; then
    mode=systemd
    say "systemd is running: systemctl start $UNITS"
    # shellcheck disable=SC2086
    quiet systemctl start $UNITS || fail "systemctl start failed"
    for u in $UNITS; do
        systemctl is-active --quiet "$u" || {
            systemctl status --no-pager "$u" >&2 || true
            fail "$u is not active"
        }
    done
else
    mode=setpriv
    for p in $b_tcp $b_http $p_http; do
        if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            fail "port $p on 127.0.0.1 is in use; the installed settings need it"
        fi
    done
    for u in $UNITS; do
        python3 "$here/packaging/unit-exec.py" "${UNITFILE[$u]}" >"$work/$u.sh" ||
            fail "cannot read $u the way systemd runs it"
        # shellcheck disable=SC1090
        . "$work/$u.sh"
        uid=$(id -u "$U_USER")
        gid=$(getent group "$U_GROUP" | cut -d: -f3)
        [ -n "$gid" ] || fail "$u: Group=$U_GROUP does not exist"
        for d in "${U_DIRS[@]}"; do
            read -r path dmode kind <<<"$d"
            # systemd makes these before ExecStart, owned by User:Group; it removes the runtime
            # folder when the service stops
            [ "$kind" = RuntimeDirectory ] && [ ! -e "$path" ] && started_dirs+=("$path")
            install -d -o "$uid" -g "$gid" -m "$dmode" "$path"
        done
        nnp=()
        [ "$U_NNP" = yes ] || [ "$U_NNP" = true ] && nnp=(--no-new-privs)
        notify=()
        if [ "$U_TYPE" = notify ] || [ "$U_TYPE" = notify-reload ]; then
            # systemd's notification socket: the service must say READY=1 (and STOPPING=1)
            python3 "$here/packaging/unit-exec.py" --listen "$work/$u.notify" "$work/$u.notify.log" &
            NPID[$u]=$!
            for _ in $(seq 50); do [ -S "$work/$u.notify" ] && break; sleep 0.1; done
            [ -S "$work/$u.notify" ] || fail "cannot make the notification socket for $u"
            notify=("NOTIFY_SOCKET=$work/$u.notify")
            [ -z "$U_WATCHDOG_USEC" ] || notify+=("WATCHDOG_USEC=$U_WATCHDOG_USEC")
        fi
        say "starting $u as $U_USER: ${U_ARGV[*]}"
        (
            # systemd gives the watchdog to the main process only: its pid is this subshell's
            [ -z "$U_WATCHDOG_USEC" ] || notify+=("WATCHDOG_PID=$BASHPID")
            cd "$U_WORKDIR"
            umask "$U_UMASK"
            if [ -n "$U_NOFILE" ]; then
                ulimit -n "${U_NOFILE%%:*}" 2>/dev/null ||
                    echo "test-install: cannot set LimitNOFILE=$U_NOFILE here (container limit); going on with $(ulimit -n)" >&2
            fi
            exec env -i "${U_ENV[@]}" "${notify[@]}" setpriv --reuid="$uid" --regid="$gid" --init-groups \
                "${nnp[@]}" -- "${U_ARGV[@]}"
        ) >"$work/$u.log" 2>&1 &
        PID[$u]=$!
        STARTED[$u]=$(date +%s)
        cp "$work/$u.sh" "$work/$u.unit"
        if [ -n "${NPID[$u]:-}" ]; then
            for _ in $(seq 300); do
                grep -q '^READY=1$' "$work/$u.notify.log" && break
                kill -0 "${PID[$u]}" 2>/dev/null || fail "$u exited while starting"
                sleep 0.1
            done
            grep -q '^READY=1$' "$work/$u.notify.log" ||
                fail "$u (Type=$U_TYPE) did not send READY=1 in 30 s; systemd would fail its start"
        fi
        case $u in
        my-service-bus-persistence.service) wait_http "$u" "http://127.0.0.1:$p_http/api/isalive" ;;
        my-service-bus.service) wait_http "$u" "http://127.0.0.1:$b_http/api/isalive" ;;
        esac
        owner=$(ps -o user= -p "${PID[$u]}" | tr -d ' ')
        [ "$owner" = "$U_USER" ] || fail "$u runs as $owner, not $U_USER"
    done
fi
wait_http my-service-bus-persistence.service "http://127.0.0.1:$p_http/api/isalive"
wait_http my-service-bus.service "http://127.0.0.1:$b_http/api/isalive"
say "both services answer (/api/isalive on $p_http and $b_http)"

# ---- publish and subscribe ----
topic="test-install-$$"
say "msbctl publish/subscribe on $topic (127.0.0.1:$b_tcp)"
# the broker serves clients once it has restored from the persistence service: retry a while
ok=0
for _ in $(seq 30); do
    if /usr/bin/msbctl publish -a "127.0.0.1:$b_tcp" -t "$topic" --create-topic "before the queue" \
        >"$step_log" 2>&1; then
        ok=1
        break
    fi
    sleep 0.5
done
[ "$ok" = 1 ] || {
    cat "$step_log" >&2
    fail "msbctl publish to the installed broker failed"
}
/usr/bin/msbctl subscribe -a "127.0.0.1:$b_tcp" -t "$topic" -q pkg -n 1 >"$work/sub.out" 2>&1 &
sub=$!
# a permanent queue sees what is published after it exists: publish until the subscriber has it
for _ in $(seq 50); do
    kill -0 "$sub" 2>/dev/null || break
    /usr/bin/msbctl publish -a "127.0.0.1:$b_tcp" -t "$topic" "hello from msbctl" >/dev/null 2>&1 || true
    sleep 0.2
done
if kill -0 "$sub" 2>/dev/null; then
    kill "$sub"
    wait "$sub" 2>/dev/null || true
    cat "$work/sub.out" >&2
    fail "msbctl subscribe did not receive the message published with msbctl"
fi
wait "$sub" || {
    cat "$work/sub.out" >&2
    fail "msbctl subscribe failed"
}
grep -q "hello from msbctl" "$work/sub.out" || {
    cat "$work/sub.out" >&2
    fail "msbctl subscribe printed something else than the published message"
}

say "a program built against the installed libmsb-client-dev (pkg-config msb-client)"
# shellcheck disable=SC2046
quiet cc -Wall -Wextra -Werror -o "$work/client" "$here/packaging/test-install-client.c" \
    $(pkg-config --cflags --libs msb-client) || fail "cannot build against the installed libmsb-client-dev"
lib=$(ldd "$work/client" | awk '$1 == "libmsb-client.so.0" { print $3 }')
[ -n "$lib" ] && dpkg -S "$(readlink -f "$lib")" 2>/dev/null | grep -q '^libmsb-client0' ||
    fail "the program is not linked to the libmsb-client.so.0 of libmsb-client0 (ldd: ${lib:-none})"
address="127.0.0.1:$b_tcp"
[ -S /run/my-service-bus/msb.sock ] && address="unix:/run/my-service-bus/msb.sock"
quiet "$work/client" "$address" "$topic-c" || fail "publish and subscribe with libmsb-client through $address failed"

# ---- reload ----
say "reload (SIGHUP) keeps the broker running"
if [ "$mode" = systemd ]; then
    before=$(systemctl show -P MainPID my-service-bus.service)
    quiet systemctl reload my-service-bus.service || fail "systemctl reload my-service-bus failed"
    sleep 1
    systemctl is-active --quiet my-service-bus.service || fail "the broker stopped after reload"
    [ "$(systemctl show -P MainPID my-service-bus.service)" = "$before" ] ||
        fail "the broker restarted instead of reloading"
else
    # shellcheck source=/dev/null
    . "$work/my-service-bus.service.unit"
    reload=()
    for w in "${U_RELOAD[@]}"; do reload+=("${w//\$MAINPID/${PID[my-service-bus.service]}}"); done
    [ ${#reload[@]} -gt 0 ] || fail "my-service-bus.service has no ExecReload="
    quiet "${reload[@]}" || fail "ExecReload= (${reload[*]}) failed"
    sleep 1
    kill -0 "${PID[my-service-bus.service]}" 2>/dev/null || fail "the broker exited after SIGHUP"
fi
wait_http my-service-bus.service "http://127.0.0.1:$b_http/api/isalive"
quiet /usr/bin/msbctl publish -a "127.0.0.1:$b_tcp" -t "$topic" "after the reload" ||
    fail "publish after the reload failed"

# ---- stop ----
say "stopping (SIGTERM)"
if [ "$mode" = systemd ]; then
    # shellcheck disable=SC2086
    quiet systemctl stop my-service-bus.service my-service-bus-persistence.service || fail "systemctl stop failed"
else
    for u in my-service-bus.service my-service-bus-persistence.service; do
        pid=${PID[$u]}
        kill -TERM "$pid"
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && fail "$u still runs 30 s after SIGTERM"
        rc=0
        wait "$pid" || rc=$?
        unset "PID[$u]"
        # systemd counts an exit on SIGTERM as a clean stop too
        [ "$rc" = 0 ] || [ "$rc" = 143 ] || {
            tail -n 30 "$work/$u.log" >&2
            fail "$u exited with status $rc on SIGTERM"
        }
        if grep -E -e '-(CRITICAL|ERROR) \*\*' -e 'runtime error|AddressSanitizer' "$work/$u.log" >&2; then
            fail "$u logged the errors above"
        fi
        if [ -n "${NPID[$u]:-}" ]; then
            kill "${NPID[$u]}"
            wait "${NPID[$u]}" 2>/dev/null || true
            unset "NPID[$u]"
            grep -q '^STOPPING=1$' "$work/$u.notify.log" || fail "$u (Type=notify) did not send STOPPING=1 when it stopped"
            # the program must have pinged in every WatchdogSec= while it ran, or systemd kills it
            # shellcheck source=/dev/null
            . "$work/$u.unit"
            if [ -n "$U_WATCHDOG_USEC" ] && [ $(($(date +%s) - ${STARTED[$u]})) -gt $((U_WATCHDOG_USEC / 1000000)) ]; then
                grep -q '^WATCHDOG=1$' "$work/$u.notify.log" ||
                    fail "$u ran longer than WatchdogSec= without sending WATCHDOG=1"
            fi
            say "$u notified: $(grep -c . "$work/$u.notify.log") lines ($(grep -E -m 3 '^(READY|STATUS|STOPPING)=' "$work/$u.notify.log" | tr '\n' ' '))"
        fi
    done
    for d in "${started_dirs[@]}"; do rm -rf "$d"; done
    started_dirs=()
fi

# ---- purge ----
say "apt-get purge $PACKAGES"
# shellcheck disable=SC2086
quiet env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $PACKAGES || fail "apt-get purge failed"
installed=0
left=""
for p in $PACKAGES; do
    if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
        left="$left
  dpkg still knows $p: $(dpkg-query -W -f='${db:Status-Abbrev}' "$p")"
    fi
    while IFS= read -r f; do
        [ -n "$f" ] && [ "$f" != "/." ] || continue
        if [ -d "$f" ]; then
            # a folder stays only when another package owns it too
            dpkg -S "$f" >/dev/null 2>&1 || left="$left
  $f (a folder of $p that no other package owns)"
        elif [ -e "$f" ] || [ -L "$f" ]; then
            left="$left
  $f (from $p)"
        fi
    done <"${LIST[$p]}"
done
for f in /etc/my-service-bus /var/lib/my-service-bus /var/lib/my-service-bus-persistence \
    /run/my-service-bus /etc/systemd/system/multi-user.target.wants/my-service-bus.service \
    /etc/systemd/system/multi-user.target.wants/my-service-bus-persistence.service \
    /var/lib/systemd/deb-systemd-helper-enabled/my-service-bus.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-enabled/my-service-bus-persistence.service.dsh-also; do
    [ -e "$f" ] || [ -L "$f" ] && left="$left
  $f"
done
for f in /var/lib/my-service-bus*; do
    [ -e "$f" ] && left="$left
  $f"
done
if pgrep -u myservicebus >/dev/null 2>&1; then
    left="$left
  processes of myservicebus: $(pgrep -u myservicebus -a)"
fi
[ -z "$left" ] || fail "left behind after the purge:$left"

say "passed in $(($(date +%s) - t0)) s (services started with $mode)"
