#!/bin/sh
# meson install puts the programs, libmsb-client, its header and its pkg-config file under the
# prefix, and a program builds against the installed library through pkg-config alone; the D-Bus
# files go where dbus-daemon, polkit and readers look for them; the man pages go to their
# sections under MANDIR (when they are built: MANDIR not empty) and msbctl's bash completion to
# COMPLETIONS_DIR.
# Usage: check-install.sh BUILD_DIR PREFIX [SANITIZERS [CC [DATADIR [DBUS_USER [MANDIR
#        [COMPLETIONS_DIR]]]]]]
set -eu
build=$1
prefix=$2
sanitize=${3:-none}
compiler=${4:-cc}
datadir=${5:-share}
dbus_user=${6:-myservicebus}
mandir=${7:-}
completions_dir=${8:-}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet
root="$dest$prefix"
for f in bin/my-service-bus bin/msbctl include/msb-client/msb-client.h; do
    [ -e "$root/$f" ] || { echo "missing after install: $prefix/$f" >&2; exit 1; }
done
case "$datadir" in
/*) share="$dest$datadir" ;;
*) share="$root/$datadir" ;;
esac
for f in dbus-1/interfaces/org.myservicebus.Broker1.xml dbus-1/system.d/org.myservicebus.Broker1.conf \
    polkit-1/actions/org.myservicebus.Broker1.policy \
    doc/my-service-bus/dbus/dbus-reference-org.myservicebus.Broker1.xml \
    doc/my-service-bus/dbus/dbus-reference-org.myservicebus.Broker1.Topic.xml \
    doc/my-service-bus/dbus/dbus-reference-org.myservicebus.Broker1.Queue.xml; do
    [ -s "$share/$f" ] || { echo "missing after install: $datadir/$f" >&2; exit 1; }
    xmllint --noout --nonet "$share/$f" || { echo "not well-formed XML: $datadir/$f" >&2; exit 1; }
done
[ -s "$share/polkit-1/rules.d/org.myservicebus.Broker1.rules" ] ||
    { echo "missing after install: $datadir/polkit-1/rules.d/org.myservicebus.Broker1.rules" >&2; exit 1; }
# the bus policy is the template with the service user filled in
conf="$share/dbus-1/system.d/org.myservicebus.Broker1.conf"
grep -q "<policy user=\"$dbus_user\">" "$conf" ||
    { echo "the installed bus policy does not name the service user $dbus_user" >&2; exit 1; }
if grep -n '@[A-Za-z_]*@' "$conf" >&2; then
    echo "the installed bus policy has an unfilled placeholder" >&2
    exit 1
fi
# a relative install folder is under the prefix, an absolute one under the staging root only
staged() {
    case "$1" in
    /*) echo "$dest$1" ;;
    *) echo "$root/$1" ;;
    esac
}
if [ -n "$mandir" ]; then
    man=$(staged "$mandir")
    for f in man8/my-service-bus.8 man8/my-service-bus-persistence.8 man1/msbctl.1 \
        man5/my-service-bus.yaml.5 man5/my-service-bus-persistence.yaml.5; do
        [ -s "$man/$f" ] || { echo "missing after install: $mandir/$f" >&2; exit 1; }
        grep -q '^\.TH ' "$man/$f" || { echo "not a man page: $mandir/$f" >&2; exit 1; }
    done
fi
if [ -n "$completions_dir" ]; then
    comp="$(staged "$completions_dir")/msbctl"
    [ -s "$comp" ] || { echo "missing after install: $completions_dir/msbctl" >&2; exit 1; }
    bash --norc --noprofile -c '. "$1" && complete -p msbctl' sh "$comp" | grep -q '_msbctl' ||
        { echo "the installed $completions_dir/msbctl does not complete msbctl" >&2; exit 1; }
fi
pc=$(find "$root" -name msb-client.pc | head -n 1)
lib=$(find "$root" -name 'libmsb-client.so*' | head -n 1)
[ -n "$pc" ] || { echo "missing after install: msb-client.pc" >&2; exit 1; }
[ -n "$lib" ] || { echo "missing after install: libmsb-client.so" >&2; exit 1; }
cat > "$dest/use.c" <<'EOC'
#include <msb-client.h>
int main(void) { MsbClient *c = msb_client_new("127.0.0.1:1", "install-check"); g_object_unref(c); return 0; }
EOC
# the .pc file names the real prefix: use a copy that names the staged one
mkdir "$dest/pc"
sed "s|^prefix=.*|prefix=$root|" "$pc" > "$dest/pc/msb-client.pc"
export PKG_CONFIG_PATH="$dest/pc"
flags=$(pkg-config --cflags --libs msb-client)
# a sanitized library needs a sanitized program to load it
san_flags=""
[ "$sanitize" = none ] || san_flags="-fsanitize=$sanitize"
# shellcheck disable=SC2086
"$compiler" $san_flags -o "$dest/use" "$dest/use.c" $flags
LD_LIBRARY_PATH="$(dirname "$lib")" "$dest/use"
echo "install ok: $prefix"
