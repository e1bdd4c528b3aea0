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
# A watchdog: the suite takes ~3 min here; a test that hangs fails the run after
# PARROT_TEST_TIMEOUT_S (default 20 min) instead of holding CI until its own limit.
timeout -k 30 "${PARROT_TEST_TIMEOUT_S:-1200}" swift test --skip-build "$@" || status=$?
if [[ $status == 124 || $status == 137 ]]; then
  echo "!!! the test suite did not finish within ${PARROT_TEST_TIMEOUT_S:-1200} s: a test hung (see the last 'started' line above)" >&2
fi
echo "==> test suite finished in $(( $(date +%s) - started )) s with status $status"
exit $status
