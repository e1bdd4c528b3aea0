#!/usr/bin/env bash
# Parrot benchmarks (issue 9): one command, a table on stdout and bench/results.md.
#
#   bench/run.sh            # full run: concurrency 1, 16, 64, 256; 10 s runs after 2 s warm-up
#   bench/run.sh --quick    # concurrency 1, 16, 64; 5 s runs after 1 s warm-up; fewer SSE/memory requests
#   bench/run.sh --quick --scenarios 2,4   # any bench.py option passes through (see bench/README.md)
#
# Installs wrk and nginx with apt-get when missing, LiteLLM into bench/.venv (pip), builds the
# release binaries into .build-bench (never the shared .build), starts everything on 127.0.0.1,
# and stops every process it started on exit (trap), whatever happens.
#
# Environment:
#   PARROT_BENCH_POSTGRES_URL   use this PostgreSQL for the PostgreSQL rows (else a throwaway
#                               cluster from scripts/postgres-test-cluster.sh when it works)
#   PARROT_BENCH_SKIP_BUILD=1   use the binaries already in .build-bench/release
#   PARROT_BENCH_NO_LITELLM=1   skip installing LiteLLM (the report says so)
#   PARROT_BENCH_VENV=DIR       where LiteLLM's virtualenv lives (default bench/.venv)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
cd "$ROOT"

log() { echo "[run.sh $(date +%H:%M:%S)] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/parrot-bench.XXXXXX")"
PIDFILE="$WORK/pids"
: >"$PIDFILE"
BENCH_PID=""
PG_DIR=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [[ -n "$BENCH_PID" ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$BENCH_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$BENCH_PID" 2>/dev/null || true
  fi
  # Whatever bench.py had running and did not stop itself: each is its own process group.
  if [[ -s "$PIDFILE" ]]; then
    while read -r pid name; do
      [[ -n "$pid" ]] || continue
      log "stopping leftover $name (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done <"$PIDFILE"
    sleep 1
    while read -r pid _; do
      [[ -n "$pid" ]] || continue
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done <"$PIDFILE"
  fi
  if [[ -n "$PG_DIR" ]]; then
    scripts/postgres-test-cluster.sh stop "$PG_DIR" >/dev/null 2>&1 || log "could not stop the PostgreSQL cluster in $PG_DIR"
  fi
  if [[ "${PARROT_BENCH_KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- tools
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} with apt-get"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi
# Debian starts a system nginx on port 80 when it can; the benchmark uses only its own.

# ---------------------------------------------------------------- build
BIN="$ROOT/.build-bench/release"
if [[ "${PARROT_BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "building mock-upstream and parrot (release, --scratch-path .build-bench)"
  swift build -c release --scratch-path .build-bench --product mock-upstream >&2
  swift build -c release --scratch-path .build-bench --product parrot >&2
fi
[[ -x "$BIN/parrot" && -x "$BIN/mock-upstream" ]] || { log "missing binaries in $BIN"; exit 1; }

# ---------------------------------------------------------------- LiteLLM
VENV="${PARROT_BENCH_VENV:-$BENCH_DIR/.venv}"
LITELLM=""
LITELLM_NOTE=""
if [[ "${PARROT_BENCH_NO_LITELLM:-0}" == 1 ]]; then
  LITELLM_NOTE="skipped (PARROT_BENCH_NO_LITELLM=1)"
elif [[ -x "$VENV/bin/litellm" ]]; then
  LITELLM="$VENV/bin/litellm"
else
  log "installing LiteLLM proxy into $VENV (pip)"
  if python3 -m venv "$VENV" >"$WORK/pip.log" 2>&1 \
    && "$VENV/bin/pip" install -q --upgrade pip >>"$WORK/pip.log" 2>&1 \
    && "$VENV/bin/pip" install -q 'litellm[proxy]' >>"$WORK/pip.log" 2>&1 \
    && [[ -x "$VENV/bin/litellm" ]]; then
    LITELLM="$VENV/bin/litellm"
  else
    LITELLM_NOTE="pip install 'litellm[proxy]' failed: $(tail -n 3 "$WORK/pip.log" | tr '\n' ' ')"
    log "$LITELLM_NOTE"
  fi
fi

# ---------------------------------------------------------------- PostgreSQL
PG_URL="${PARROT_BENCH_POSTGRES_URL:-}"
PG_NOTE=""
if [[ -z "$PG_URL" ]]; then
  if [[ -x scripts/postgres-test-cluster.sh ]]; then
    log "starting a throwaway PostgreSQL cluster (scripts/postgres-test-cluster.sh)"
    if exports="$(scripts/postgres-test-cluster.sh start 2>"$WORK/pg.log")"; then
      PG_URL="$(sed -n 's/^export PARROT_TEST_POSTGRES_URL=//p' <<<"$exports")"
      PG_DIR="$(sed -n 's/^export PARROT_TEST_POSTGRES_DIR=//p' <<<"$exports")"
      [[ -n "$PG_URL" ]] || PG_NOTE="scripts/postgres-test-cluster.sh printed no URL"
    else
      PG_NOTE="scripts/postgres-test-cluster.sh start failed: $(tail -n 2 "$WORK/pg.log" | tr '\n' ' ')"
    fi
  else
    PG_NOTE="PARROT_BENCH_POSTGRES_URL is not set and scripts/postgres-test-cluster.sh does not exist"
  fi
fi

# ---------------------------------------------------------------- run
args=(--bin-dir "$BIN" --work-dir "$WORK/run" --pidfile "$PIDFILE" --litellm "$LITELLM"
  --litellm-note "$LITELLM_NOTE" --postgres-url "$PG_URL" --postgres-note "$PG_NOTE")
python3 "$BENCH_DIR/bench.py" "${args[@]}" "$@" &
BENCH_PID=$!
wait "$BENCH_PID"
