#!/bin/sh
# A long fuzzing campaign: every libFuzzer target of a build, one after the other (never two at
# once), each until it has executed RUNS inputs or its time is up, with a persistent corpus
# outside the repository so that each campaign starts where the last one stopped.
#
# Usage: run-campaign.sh [-r RUNS] [-t SECONDS] [-u HH:MM] [-c CORPUS_DIR] BUILD_DIR [TARGET...]
#   -r RUNS      executions per target (default 10000000)
#   -t SECONDS   time limit per target (default 3600)
#   -u HH:MM     stop everything at this UTC time: each target gets at most an equal share of
#                the time left (a target that finishes early leaves its share to the next)
#   -c DIR       persistent corpora, DIR/<target>/ (default $HOME/.cache/msb-fuzz); crashes go
#                to DIR/artifacts/
#   TARGET       names without "fuzz-" (default: every target in BUILD_DIR/tests/fuzz)
# Build: CC=clang meson setup build-fuzz -Dfuzzing=enabled -Db_sanitize=address,undefined
#        -Db_lundef=false && meson compile -C build-fuzz
# Prints, per target, the executions (libFuzzer's stat::number_of_executed_units), the time
# and the crashes (artifact files) found; exits 1 if any target crashed. Run it under nice.
set -eu
runs=10000000
seconds=3600
until_hm=
corpus_root=${HOME:-/tmp}/.cache/msb-fuzz
while getopts r:t:u:c: opt; do
    case $opt in
    r) runs=$OPTARG ;;
    t) seconds=$OPTARG ;;
    u) until_hm=$OPTARG ;;
    c) corpus_root=$OPTARG ;;
    *) sed -n '2,18p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    for t in "$build"/tests/fuzz/fuzz-*; do
        [ -f "$t" ] && [ -x "$t" ] && set -- "$@" "$(basename "$t" | sed 's/^fuzz-//')"
    done
fi
[ $# -ge 1 ] || { echo "run-campaign: no targets in $build/tests/fuzz" >&2; exit 1; }
deadline=
if [ -n "$until_hm" ]; then
    deadline=$(date -u -d "$until_hm" +%s)
    [ "$deadline" -gt "$(date -u +%s)" ] || deadline=$((deadline + 86400))
fi
mkdir -p "$corpus_root/artifacts"
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
left=$#
crashed=0
for name in "$@"; do
    target="$build/tests/fuzz/fuzz-$name"
    [ -x "$target" ] || { echo "run-campaign: no $target" >&2; exit 1; }
    budget=$seconds
    if [ -n "$deadline" ]; then
        share=$(( ($deadline - $(date -u +%s)) / left ))
        [ "$share" -lt "$budget" ] && budget=$share
    fi
    left=$((left - 1))
    if [ "$budget" -le 0 ]; then
        printf '%-22s skipped (no time left)\n' "$name" >>"$summary"
        continue
    fi
    corpus="$corpus_root/$name"
    mkdir -p "$corpus"
    log="$corpus_root/$name.log"
    before=$(ls "$corpus_root/artifacts" | grep -c "^$name-" || true)
    echo "run-campaign: fuzz-$name: up to $runs runs or ${budget}s, corpus $corpus, log $log"
    start=$(date -u +%s)
    rc=0
    "$target" -runs="$runs" -max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$corpus_root/artifacts/$name-" -print_final_stats=1 \
        "$corpus" "$here/corpus/$name" >"$log" 2>&1 || rc=$?
    took=$(( $(date -u +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    after=$(ls "$corpus_root/artifacts" | grep -c "^$name-" || true)
    found=$((after - before))
    [ "$rc" -ne 0 ] && [ "$found" -eq 0 ] && found="exit $rc"
    [ "$rc" -ne 0 ] && crashed=1
    printf '%-22s stat::number_of_executed_units: %s in %ss, crashes: %s\n' \
        "$name" "${execs:-?}" "$took" "$found" | tee -a "$summary"
done
echo "run-campaign: summary (artifacts in $corpus_root/artifacts)"
cat "$summary"
exit $crashed
