#!/bin/sh
# The broker's structures are private to src/broker (docs/architecture.md, "Layers"): adapters
# (src/node, the tools, benchmarks, integration tests) read and change the broker only through
# the functions of its public headers (msb-broker.h, msb-types.h, msb-broker-admin.h,
# msb-broker-stats.h, msb-broker-messages.h, msb-persist.h, msb-history.h, msb-id-set.h), so
# that the rules live in one place. This fails when
#  - a file outside src/broker includes a private header, except the broker's own unit tests
#    listed below, which test its internals;
#  - a public header of src/broker includes a private one (adapters would get the structures
#    through it);
#  - a file outside src/broker defines one of the private structures itself.
# Usage: check-broker-headers.sh SOURCE_ROOT
set -eu
cd "$1"

private="msb-topic.h msb-queue.h msb-session.h msb-sub-page.h msb-broker-private.h"
# The broker's unit tests (and their fixture): they look at topics, queues and sessions directly.
allowed="tests/unit/broker-fixture.c tests/unit/test-broker.c tests/unit/test-broker-admin.c
tests/unit/test-broker-persist.c tests/unit/test-broker-stats.c tests/unit/test-session.c"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked files and new ones not ignored, so a file not committed yet is checked too
    files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' | sort -u)
else
    files=$(find src tests bench proto -name '*.c' -o -name '*.h' 2>/dev/null | sed 's|^\./||')
fi
[ -n "$files" ] || { echo "no C sources found under $1" >&2; exit 1; }

names=$(echo "$private" | sed 's/\./\\./g; s/ /|/g')
include_re="^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]([^\">]*/)?($names)[\">]"
struct_re="struct[[:space:]]+_Msb(Broker|Topic|Queue|Session|Subscriber)[[:space:]]*\{"

is_private() {
    for p in $private; do
        [ "$(basename "$1")" = "$p" ] && return 0
    done
    return 1
}

is_allowed() {
    for a in $allowed; do
        [ "$1" = "$a" ] && return 0
    done
    return 1
}

bad=""
for f in $files; do
    [ -f "$f" ] || continue
    case "$f" in
    src/broker/*.h)
        is_private "$f" && continue
        if grep -Eq "$include_re" "$f"; then
            bad="$bad
  $f (a public broker header) includes $(grep -Eo "($names)" "$f" | sort -u | tr '\n' ' ')"
        fi
        ;;
    src/broker/*) ;;
    *)
        if grep -Eq "$include_re" "$f" && ! is_allowed "$f"; then
            bad="$bad
  $f includes $(grep -E "$include_re" "$f" | grep -Eo "($names)" | sort -u | tr '\n' ' ')"
        fi
        if grep -Eq "$struct_re" "$f"; then
            bad="$bad
  $f defines a broker structure: $(grep -Eo "$struct_re" "$f" | head -1)"
        fi
        ;;
    esac
done

if [ -n "$bad" ]; then
    cat >&2 <<EOF
the broker's structures are private to src/broker; use the functions of msb-broker.h and the
other public broker headers (or add an accessor there) instead:$bad
EOF
    exit 1
fi
echo "broker headers ok"
