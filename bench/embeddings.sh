#!/usr/bin/env bash
# The per-input embeddings cache under a 1,000-input batch: all inputs missing vs 90 % cached
# (one upstream call for the other 100) vs all cached, through a real Parrot in front of the
# mock upstream (parrot-bench --embeddings, see Sources/parrot-bench/EmbeddingsBench.swift).
#
#   bench/embeddings.sh                     # release build into .build-bench (long the first time)
#   bench/embeddings.sh --debug             # the debug binaries already in .build/debug (labelled so)
#   bench/embeddings.sh --latency-ms 200    # the mock answers after 200 ms, like a real provider
#   extra flags go to parrot-bench: --rounds N --inputs N --dimensions N
#
# Prints measured numbers only. Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
cd "$ROOT"
build=release
latency=0
pass=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --debug) build=debug ;;
    --latency-ms) latency="$2"; shift ;;
    *) pass+=("$1") ;;
  esac
  shift
done
if [[ "$build" == release ]]; then
  SRC="$ROOT/.build-bench-src"
  source "$BENCH_DIR/work-tree-copy.sh"
  copy_work_tree "$ROOT" "$SRC"
  for product in parrot mock-upstream parrot-bench; do
    echo "[embeddings.sh] building $product (release, .build-bench)" >&2
    swift build -c release --package-path "$SRC" --scratch-path "$ROOT/.build-bench" --product "$product" >&2
  done
  BIN="$ROOT/.build-bench/release"
else
  BIN="$ROOT/.build/debug"
  echo "[embeddings.sh] DEBUG build: numbers are not representative of a release build" >&2
fi
WORK="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() {
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "[embeddings.sh] $1 did not answer" >&2; return 1
}
mock_port=$(free_port)
"$BIN/mock-upstream" --port "$mock_port" --latency-ms "$latency" >"$WORK/mock.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$mock_port/_mock/stats"
parrot_port=$(free_port)
env -u OPENAI_API_KEY PARROT_CACHE_PATH="$WORK/cache.sqlite" PARROT_LOG_LEVEL=warning \
  PARROT_PROVIDERS_OPENAI_BASE_URL="http://127.0.0.1:$mock_port/v1" \
  "$BIN/parrot" serve --host 127.0.0.1 --port "$parrot_port" >"$WORK/parrot.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$parrot_port/healthz"
echo "[embeddings.sh] $build build, mock upstream latency ${latency} ms, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/parrot-bench" --embeddings "http://127.0.0.1:$parrot_port/v1" "http://127.0.0.1:$mock_port/v1" "${pass[@]}"
