#!/usr/bin/env bash
# Installs the system packages Parrot needs to build and run (and, with --test, what the test
# suite needs: a PostgreSQL server and Chromium). Idempotent: installs only what is missing.
set -euo pipefail

want=(libsqlite3-dev zlib1g-dev libssl-dev)
if [[ "${1:-}" == "--test" ]]; then
  want+=(postgresql chromium)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing: ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "error: the Swift toolchain (swift 6) is not on PATH; install it from swift.org first" >&2
  exit 1
fi
