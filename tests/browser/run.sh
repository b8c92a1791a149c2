#!/bin/sh
# The browser test: playwright-core from package-lock.json (npm ci once, when node_modules is
# missing; that needs the npm registry, nothing else does), then ui-test.mjs.
set -eu
cd "$(dirname "$0")"
if [ ! -f node_modules/playwright-core/package.json ]; then
    echo "browser test: installing playwright-core from package-lock.json (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
fi
exec node ui-test.mjs
