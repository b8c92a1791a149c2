#!/bin/sh
# Build the Debian packages in one command: copies the source tree (the files git knows, committed
# or not, without build folders) to a temporary folder, puts packaging/debian there as debian/,
# runs `dpkg-buildpackage -us -uc -b` offline, then lintian on the result.
# The repository keeps debian/ under packaging/ (the project layout), so the build never happens
# in the repository itself.
#
# Needs: dpkg-dev, debhelper, fakeroot (not used: Rules-Requires-Root: no), lintian, and the
# Build-Depends of packaging/debian/control (`dpkg-checkbuilddeps` in the copy says what is missing).
#
# Usage: packaging/build-deb.sh [OUTDIR]    (default: build-deb/ in the repository, git-ignored)
# The package build runs the test suite (dh_auto_test: all of it but the browser and style suites,
# see debian/rules). DEB_BUILD_OPTIONS is passed through; DEB_BUILD_OPTIONS=nocheck builds without
# the tests. Unless it names parallel=N, parallel=<number of CPUs> is added (debhelper otherwise
# compiles and tests one job at a time).
# Exits non-zero when the build fails or lintian reports an error or a warning.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# mktemp makes it 0700: the tests that drop to another user when run as root (msbctl-dbus runs
# msbctl as uid 65534) must reach the build folder's programs and libmsb-client.so.0
chmod 0755 "$work"
version=$(dpkg-parsechangelog -l "$here/packaging/debian/changelog" -S Version)
upstream=${version%-*}
src="$work/my-service-bus-$upstream"
mkdir "$src"

# the files git knows about (tracked, and new ones not ignored), as they are in the working tree;
# outside a git checkout (an unpacked tarball), everything but build folders
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # the inner shell expands $f
    (cd "$here" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -C "$src" -xf -
else
    (cd "$here" && tar --exclude='./build*' --exclude='./_build*' --exclude=./debian --exclude=./.git \
        --exclude=./tests/browser/node_modules -cf - .) |
        tar -C "$src" -xf -
fi
rm -rf "$src/debian"
cp -a "$here/packaging/debian" "$src/debian"

DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-}
case " $DEB_BUILD_OPTIONS " in
*" parallel="*) ;;
*) DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$(nproc)" ;;
esac
export DEB_BUILD_OPTIONS
echo "build-deb: building $version in $src (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
start=$(date +%s)
(cd "$src" && nice dpkg-buildpackage -us -uc -b)
end=$(date +%s)
echo "build-deb: dpkg-buildpackage took $((end - start)) s"

changes=$(ls "$work"/*.changes)
for f in "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo; do
    cp "$f" "$out/"
done
echo "build-deb: packages in $out:"
(cd "$out" && ls -1 ./*.deb)

# --fail-on warning: the issue asks for no error and no warning (overrides are in
# packaging/debian/*.lintian-overrides, each with its reason)
lintian --display-info --fail-on error,warning "$out/$(basename "$changes")"
echo "build-deb: lintian clean"
