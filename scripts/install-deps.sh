#!/usr/bin/env bash
# Installs the system packages Parrot needs to build and run (and, with --test, what the test
# suite needs: a PostgreSQL server, Chromium and a Python venv with the openai SDK). Idempotent: installs only what is missing.
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

# The official client SDKs the suite drives Parrot with ("real clients are the judge"), in a
# venv of the checkout's own that later runs reuse.
if [[ "${1:-}" == "--test" ]]; then
  venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
  if ! "$venv/bin/python" -c 'import openai' >/dev/null 2>&1; then
    echo "==> creating $venv with the openai SDK" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check 'openai==3.57.0' >&2
  fi
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "error: the Swift toolchain (swift 6) is not on PATH; install it from swift.org first" >&2
  exit 1
fi
