#!/bin/sh
# The long run of the randomized crash test (tests/crash/msb-crash-test.c): publishers with and
# without persist_immediately and consumers run while my-service-bus and
# my-service-bus-persistence are killed with SIGKILL at random moments, cycle after cycle; at the
# end every message that had to survive is checked, and no confirmed message may come twice.
#
#   scripts/crash-test.sh [--build DIR] [--cycles N] [--seconds S] [--seed X] [OPTION...]
#
# --build: a configured build folder (default: build; an ASan build is the best choice, a
# release build runs more cycles). --cycles: stop after N kill cycles (default 0: as many as fit).
# --seconds: start no cycle after about S seconds (default 600). --seed: the random choices
# (kinds and moments of the kills, traffic); printed at the start, so a failing run can be
# repeated with the same choices (the interleaving depends on the machine). Other options go to
# the program (--rate, --publishers, --delay-ms, --slack-ms, --keep, ...; see
# build/tests/crash/msb-crash-test --help).
# The run is nice'd. Exit status 0: no violation; 1: violations, listed with the folders kept.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
cycles=0
seconds=600
seed=
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --cycles) cycles=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
    esac
done
case "$build" in /*) ;; *) build=$(pwd)/$build ;; esac

meson compile -C "$build" tests/crash/msb-crash-test src/node/my-service-bus \
    src/persistence/my-service-bus-persistence >/dev/null

export MSB_BROKER="$build/src/node/my-service-bus"
export MSB_PERSISTENCE="$build/src/persistence/my-service-bus-persistence"
export LD_LIBRARY_PATH="$build/src/client${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export G_DEBUG=fatal-criticals
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}

set -- --cycles "$cycles" --seconds "$seconds" ${seed:+--crash-seed "$seed"} "$@"
exec nice "$build/tests/crash/msb-crash-test" "$@"
