#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need (PostgreSQL, Chromium), builds once
# (debug, with tests), starts a throwaway PostgreSQL cluster on a free loopback port, runs every
# test against that build, then stops the cluster. Extra arguments go to `swift test`
# (e.g. ./test.sh --filter ExactCacheTests).
set -euo pipefail
cd "$(dirname "$0")"
started=$(date +%s)

scripts/install-deps.sh --test

echo "==> building (debug, with tests)"
swift build --build-tests

echo "==> starting a throwaway PostgreSQL cluster"
if cluster_env=$(scripts/postgres-test-cluster.sh start); then
  eval "$cluster_env"
  trap 'scripts/postgres-test-cluster.sh stop "$PARROT_TEST_POSTGRES_DIR" >/dev/null 2>&1 || true' EXIT
else
  echo "!!! PostgreSQL could not be started: the PostgreSQL tests will FAIL in CI and be SKIPPED (loudly) locally." >&2
fi

echo "==> running tests"
status=0
swift test --skip-build "$@" || status=$?
echo "==> test suite finished in $(( $(date +%s) - started )) s with status $status"
exit $status
