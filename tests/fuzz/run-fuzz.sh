#!/bin/sh
# Run every libFuzzer target of a build for a bounded time each (CI: scripts/run-tests.sh).
# Usage: run-fuzz.sh BUILD_DIR SECONDS_PER_TARGET
# Each target starts from its checked-in seed corpus (tests/fuzz/corpus/<name>/, read only);
# new inputs go to a temporary folder that is removed afterwards. A long campaign with a
# persistent corpus is tests/fuzz/run-campaign.sh.
set -eu
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
found=0
for target in "$build"/tests/fuzz/fuzz-*; do
    # only executables: meson also leaves fuzz-<name>.p object directories here
    [ -f "$target" ] && [ -x "$target" ] || continue
    found=1
    name=$(basename "$target")
    corpus_seed="$here/corpus/${name#fuzz-}"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "run-fuzz: $name for ${seconds}s (seed corpus $corpus_seed)"
    "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/" -print_final_stats=1 "$work" "$corpus_seed"
    rm -rf "$work"
    trap - EXIT
done
if [ "$found" = 0 ]; then
    echo "run-fuzz: no fuzz targets in $build/tests/fuzz (was -Dfuzzing=enabled used?)" >&2
    exit 1
fi
