#!/usr/bin/env bash
# Installs what Parrot needs, builds it (release) and starts it on its defaults:
# http://127.0.0.1:8080, SQLite cache in .parrot/cache.sqlite, proxy.conf when present.
# Extra arguments go to `parrot serve` (e.g. ./run.sh --port 9000).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
swift build -c release --product parrot
exec .build/release/parrot serve "$@"
