#!/bin/sh
# The C sources follow the repository's .clang-format (the code style is checked, not hoped for).
# Usage: check-format.sh SOURCE_ROOT
set -eu
cd "$1"
command -v clang-format >/dev/null 2>&1 || { echo "clang-format is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files '*.c' '*.h')
else
    files=$(find src tests proto -name '*.c' -o -name '*.h')
fi
bad=""
for f in $files; do
    [ -f "$f" ] || continue
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
    echo "not formatted with clang-format (run clang-format -i on them):$bad" >&2
    exit 1
fi
echo "format ok"
