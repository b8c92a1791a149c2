#!/bin/sh
# Install the Debian 12 packages needed to build, test and benchmark My Service Bus.
# The D-Bus tests (tests/dbus) need dbus-daemon, xmllint (libxml2-utils) and polkit's DTD
# (/usr/share/polkit-1/policyconfig-1.dtd, in polkitd); setpriv comes with util-linux. gettext
# compiles and checks the translations (po/).
# Idempotent and quick when everything is already there. Needs root (or sudo).
set -eu

PACKAGES="build-essential meson ninja-build pkg-config clang lld libclang-rt-14-dev clang-format
libglib2.0-dev libglib2.0-bin libsoup-3.0-dev libjson-glib-dev zlib1g-dev libsystemd-dev
libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
python3 zip unzip iproute2 scdoc bash-completion man-db groff-base gettext
dbus-daemon libxml2-utils polkitd"
# The Debian packages (packaging/): their build, lintian, and systemd-analyze for
# packaging/test-install.sh (systemd need not run). The Build-Depends of packaging/debian/control
# that the list above misses are installed at the end.
PACKAGES="$PACKAGES dpkg-dev debhelper lintian systemd"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# The browser test (tests/browser): Debian's chromium, and Node.js with npm (which fetches the
# pinned playwright-core once). A node or npm that is already there (from elsewhere) is used.
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
here=$(cd "$(dirname "$0")/.." && pwd)
builddeps_ok() {
    command -v dpkg-checkbuilddeps >/dev/null 2>&1 &&
        dpkg-checkbuilddeps "$here/packaging/debian/control" >/dev/null 2>&1
}
[ -z "$missing" ] && builddeps_ok && exit 0

SUDO=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install:$missing" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
updated=0
if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing"
    $SUDO apt-get update -q || echo "install-deps: apt-get update failed; trying the existing package lists" >&2
    updated=1
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $missing
fi
if ! builddeps_ok; then
    # packaging/ holds debian/: apt reads its Build-Depends (with the test tools, <!nocheck>)
    echo "install-deps: installing the Build-Depends of packaging/debian/control"
    [ "$updated" = 1 ] || $SUDO apt-get update -q || true
    $SUDO apt-get build-dep -y -q --no-install-recommends "$here/packaging"
    dpkg-checkbuilddeps "$here/packaging/debian/control"
fi
