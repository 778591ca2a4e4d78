#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what the end-to-end tests
# need (Debian packages, npm dependencies), compiles the binary, and runs `bun test` with
# the e2e suites pointed at the compiled binary.
# While developing, TDFS_SKIP_E2E=1 skips the suites that start daemons; CI never sets it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
./node_modules/.bin/bun run build:bin
export TDFS_BIN="$PWD/dist/2dfs"
# --timeout: e2e suites start real daemons; bun's 5 s default is for unit tests (a preload's
# setDefaultTimeout did not reach every file).
exec ./node_modules/.bin/bun test --timeout 120000 "$@"
