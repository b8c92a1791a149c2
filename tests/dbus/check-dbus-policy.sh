#!/bin/sh
# The system bus policy (data/org.myservicebus.Broker1.conf.in) on a private dbus-daemon that
# denies like the system bus (a copy of /usr/share/dbus-1/system.conf's default policy: nobody
# may own names or send method calls unless a policy punches a hole) and includes our policy,
# generated from the same template meson installs, with the user the test chooses:
# - the configured service user and root may own org.myservicebus.Broker1, another user may not
#   (the bus answers AccessDenied);
# - any user may introspect the service, read its properties and objects and call its methods,
#   but not write properties (the bus itself refuses: the deny-by-default is in force).
# As root, the other users are processes dropped with setpriv: the service user is "daemon"
# (uid 1) and the stranger uid 65534; then the whole script runs again as uid 65534. As another
# user, the service user is the test's own user, and a second bus whose policy names a different
# user proves the test's user is refused.
# Usage: check-dbus-policy.sh POLICY_TEMPLATE TEST_SERVICE
set -eu
template=$1
service=$2
name=org.myservicebus.Broker1
path=/org/myservicebus/Broker1

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
for tool in dbus-daemon gdbus setpriv; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (scripts/install-deps.sh installs it)"
done

tmp=$(mktemp -d)
# the socket is reached by the dropped-privilege clients too
chmod 755 "$tmp"
daemon_pids=""
service_pid=""
cleanup() {
    if [ -n "$service_pid" ]; then
        kill "$service_pid" 2>/dev/null || true
        wait "$service_pid" 2>/dev/null || true
    fi
    for p in $daemon_pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_for_file FILE: up to 10 s for FILE to have content
wait_for_file() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        [ "$i" -le 100 ] || return 1
        sleep 0.1
    done
}

# start_bus LABEL DBUS_USER: a system-like bus with our policy for DBUS_USER; sets $address
start_bus() {
    dir="$tmp/$1"
    mkdir "$dir"
    chmod 755 "$dir"
    sed "s|@DBUS_USER@|$2|g" "$template" > "$dir/$name.conf"
    if grep -n '@[A-Za-z_]*@' "$dir/$name.conf" >&2; then
        fail "the template has a placeholder this test does not fill (keep it in step with data/meson.build)"
    fi
    cat > "$dir/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=$dir/socket</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>$dir/$name.conf</include>
</busconfig>
EOF
    dbus-daemon --config-file="$dir/bus.conf" --nofork --print-address=3 \
        3>"$dir/address" 2>"$dir/daemon.log" &
    daemon_pids="$daemon_pids $!"
    wait_for_file "$dir/address" || { cat "$dir/daemon.log" >&2; fail "dbus-daemon did not start"; }
    address=$(head -n 1 "$dir/address")
    # a policy the daemon cannot parse is an error at start; one it ignores is a warning
    if grep -i "configuration file" "$dir/daemon.log" >&2; then
        fail "dbus-daemon complained about the configuration"
    fi
}

# as UID CMD...: run CMD as that uid (and its primary group), or as ourselves for "self"
as() {
    who=$1
    shift
    if [ "$who" = self ]; then
        "$@"
    else
        gid=$(getent passwd "$who" | cut -d: -f4)
        setpriv --reuid="$who" --regid="${gid:-$who}" --clear-groups "$@"
    fi
}

# uid_of WHO: the uid "as WHO" runs with
uid_of() {
    if [ "$1" = self ]; then id -u; else echo "$1"; fi
}

# bus_call UID DEST PATH METHOD ARGS...: gdbus call on the test bus as UID
bus_call() {
    who=$1
    dest=$2
    object=$3
    method=$4
    shift 4
    as "$who" gdbus call --address "$address" --timeout 10 --dest "$dest" \
        --object-path "$object" --method "$method" "$@"
}

# expect_own UID: UID may own the name (and gives it back by leaving)
expect_own() {
    out=$(bus_call "$1" org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.RequestName "$name" 4 2>&1) ||
        fail "uid $(uid_of "$1") could not own $name: $out"
    [ "$out" = "(uint32 1,)" ] || fail "uid $(uid_of "$1"): RequestName answered $out, not 1 (primary owner)"
    echo "ok: uid $(uid_of "$1") may own $name"
}

# expect_denied WHAT OUTPUT: a call failed because the bus policy refused it
expect_denied() {
    case "$2" in
    *org.freedesktop.DBus.Error.AccessDenied*) echo "ok: $1 refused by the bus" ;;
    *) fail "$1: expected AccessDenied from the bus, got: $2" ;;
    esac
}

# expect_not_own UID: the bus refuses UID the name, although UID is connected and may talk
expect_not_own() {
    bus_call "$1" org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListNames \
        >/dev/null || fail "uid $(uid_of "$1") cannot even talk to the bus"
    if out=$(bus_call "$1" org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.RequestName "$name" 4 2>&1); then
        fail "uid $(uid_of "$1") may own $name (answer $out) but the policy does not name it"
    fi
    expect_denied "owning $name as uid $(uid_of "$1")" "$out"
}

# expect_client UID: UID uses the service the way the policy allows, and no further
expect_client() {
    who=$1
    out=$(as "$who" gdbus introspect --address "$address" --dest "$name" --object-path "$path" 2>&1) ||
        fail "uid $(uid_of "$who") cannot introspect: $out"
    case "$out" in
    *"interface $name {"*CreateTopic*) ;;
    *) fail "introspection as uid $(uid_of "$who") does not show the interface: $out" ;;
    esac
    out=$(bus_call "$who" "$name" "$path" org.freedesktop.DBus.Properties.Get "$name" Version 2>&1) ||
        fail "Properties.Get as uid $(uid_of "$who") refused: $out"
    [ "$out" = "(<'test'>,)" ] || fail "Properties.Get as uid $(uid_of "$who") answered $out"
    out=$(bus_call "$who" "$name" "$path" org.freedesktop.DBus.Properties.GetAll "$name" 2>&1) ||
        fail "Properties.GetAll as uid $(uid_of "$who") refused: $out"
    case "$out" in *"'Version': <'test'>"*) ;; *) fail "GetAll as uid $(uid_of "$who") answered $out" ;; esac
    bus_call "$who" "$name" "$path" org.freedesktop.DBus.Peer.Ping >/dev/null ||
        fail "Peer.Ping as uid $(uid_of "$who") refused"
    out=$(bus_call "$who" "$name" "$path" "$name.CreateTopic" "orders.$who" 2>&1) ||
        fail "CreateTopic as uid $(uid_of "$who") refused: $out"
    topic_path="$path/topic/$(echo "orders.$who" | sed 's/\./_2e/g')"
    [ "$out" = "(objectpath '$topic_path',)" ] || fail "CreateTopic as uid $(uid_of "$who") answered $out"
    out=$(bus_call "$who" "$name" "$path" "$name.ListSessions" 2>&1) ||
        fail "ListSessions as uid $(uid_of "$who") refused: $out"
    [ "$out" = "(@aa{sv} [],)" ] || fail "ListSessions as uid $(uid_of "$who") answered $out"
    out=$(bus_call "$who" "$name" "$path" org.freedesktop.DBus.ObjectManager.GetManagedObjects 2>&1) ||
        fail "GetManagedObjects as uid $(uid_of "$who") refused: $out"
    case "$out" in *"'$topic_path'"*"'orders.$who'"*) ;; *) fail "GetManagedObjects as uid $(uid_of "$who"): $out" ;; esac
    echo "ok: uid $(uid_of "$who") may introspect, read properties and objects, call methods"
    # Set is not opened by the policy: the bus refuses it before the service sees it
    if out=$(bus_call "$who" "$name" "$path" org.freedesktop.DBus.Properties.Set \
        "$name" Version "<'x'>" 2>&1); then
        fail "Properties.Set as uid $(uid_of "$who") was let through: $out"
    fi
    expect_denied "Properties.Set as uid $(uid_of "$who")" "$out"
}

# start_service: the test service owns the name on the current bus, as ourselves
start_service() {
    rm -f "$tmp/ready"
    "$service" "$address" "$tmp/ready" &
    service_pid=$!
    wait_for_file "$tmp/ready" || fail "the test service did not get $name"
}

stop_service() {
    kill "$service_pid"
    status=0
    wait "$service_pid" || status=$?
    service_pid=""
    [ "$status" = 0 ] || fail "the test service ended with status $status"
}

# run_unprivileged: this script again as uid 65534, from copies it can read (the build and source
# folders may be private to root), so that CI, which runs as root, covers both ways
run_unprivileged() {
    u="$tmp/unprivileged"
    mkdir "$u"
    cp "$0" "$u/check.sh"
    cp "$template" "$u/policy.conf.in"
    cp "$service" "$u/dbus-test-service"
    lsan=${LSAN_OPTIONS:-}
    supp=$(echo "$lsan" | sed -n 's/.*suppressions=\([^:]*\).*/\1/p')
    if [ -n "$supp" ] && [ -r "$supp" ]; then
        cp "$supp" "$u/lsan.supp"
        lsan=$(echo "$lsan" | sed "s|suppressions=[^:]*|suppressions=$u/lsan.supp|")
    fi
    chmod -R a+rX "$u"
    echo "-- again as uid 65534"
    as 65534 env LSAN_OPTIONS="$lsan" TMPDIR=/tmp sh "$u/check.sh" "$u/policy.conf.in" \
        "$u/dbus-test-service" || fail "the unprivileged run failed"
}

if [ "$(id -u)" = 0 ]; then
    service_user=$(id -u daemon) || fail "no user daemon to act as the service user"
    stranger=65534
    start_bus root-run daemon
    expect_own 0
    expect_own "$service_user"
    expect_not_own "$stranger"
    start_service
    expect_client "$stranger"
    stop_service
    run_unprivileged
else
    me=$(id -un)
    other=nobody
    [ "$me" != nobody ] || other=daemon
    start_bus user-run "$me"
    expect_own self
    start_service
    expect_client self
    stop_service
    start_bus other-user "$other"
    expect_not_own self
fi
echo "dbus policy ok"
