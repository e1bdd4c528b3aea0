#!/usr/bin/env bash
# Parrot benchmarks (issue 9): one command, a table on stdout and bench/results.md.
#
#   bench/run.sh            # full run: concurrency 1, 16, 64, 256; 10 s runs after 2 s warm-up
#   bench/run.sh --quick    # concurrency 1, 16, 64; 5 s runs after 1 s warm-up; fewer SSE/memory requests
#   bench/run.sh --quick --scenarios 2,4   # any bench.py option passes through (see bench/README.md)
#   bench/run.sh --quick --from-head       # measure the last commit, not the work tree being edited
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

ORIG_ARGS="$*"
log() { echo "[run.sh $(date +%H:%M:%S)] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/parrot-bench.XXXXXX")"
chmod 755 "$WORK" # nginx's workers (user nobody) read the static answer from inside it
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
# --from-head (or PARROT_BENCH_FROM_HEAD=1): build a clean snapshot of the last commit
# (`git archive HEAD`, read-only for the repository) instead of the work tree, e.g. while other
# people edit the work tree; the report then names exactly what was measured.
FROM_HEAD="${PARROT_BENCH_FROM_HEAD:-0}"
pass=()
for arg in "$@"; do
  if [[ "$arg" == --from-head ]]; then FROM_HEAD=1; else pass+=("$arg"); fi
done
set -- ${pass[@]+"${pass[@]}"}
# Both modes build from a copy in .build-bench-src: one package path for the one scratch path
# (.build-bench). Building the work tree and the snapshot alternately into the same scratch
# path left SwiftPM reporting "complete" without recompiling what had changed.
SRC="$ROOT/.build-bench-src"
BUILD_NOTE=""
SOURCE_COMMIT=""
if [[ "$FROM_HEAD" != 1 ]]; then
  mkdir -p "$SRC"
  rm -rf "$SRC/Sources" "$SRC/Tests" "$SRC/.bench-commit"
  cp -R "$ROOT/Sources" "$SRC/Sources"
  # Package.swift names the test target: without its directory SwiftPM refuses the package.
  cp -R "$ROOT/Tests" "$SRC/Tests"
  cp "$ROOT/Package.swift" "$SRC/"
  [[ -f "$ROOT/Package.resolved" ]] && cp -p "$ROOT/Package.resolved" "$SRC/"
else
  commit="$(git -C "$ROOT" rev-parse HEAD)"
  if [[ "$(cat "$SRC/.bench-commit" 2>/dev/null)" != "$commit" ]]; then
    rm -rf "$SRC"
    mkdir -p "$SRC"
    git -C "$ROOT" archive HEAD | tar -x -C "$SRC"
    echo "$commit" >"$SRC/.bench-commit"
  fi
  # Package.resolved is not committed: reuse the work tree's so no resolution is needed.
  [[ -f "$ROOT/Package.resolved" ]] && cp -p "$ROOT/Package.resolved" "$SRC/"
  SOURCE_COMMIT="$commit"
  BUILD_NOTE="Binaries built from a clean snapshot of commit $commit (git archive HEAD), not the work tree."
fi
BIN="$ROOT/.build-bench/release"
if [[ "${PARROT_BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  for product in mock-upstream bare-hummingbird parrot; do
    log "building $product (release, --scratch-path .build-bench, sources in $SRC)"
    for attempt in 1 2 3; do
      if swift build -c release --package-path "$SRC" --scratch-path "$ROOT/.build-bench" --product "$product" \
        >"$WORK/build-$product.log" 2>&1; then
        break
      fi
      # A file edited by someone else during the build: try again; anything else is fatal.
      if ((attempt < 3)) && grep -q "was modified during the build" "$WORK/build-$product.log"; then
        log "a source file changed during the build; building again"
        continue
      fi
      tail -n 30 "$WORK/build-$product.log" >&2
      log "build of $product failed"
      exit 1
    done
  done
fi
[[ -x "$BIN/parrot" && -x "$BIN/mock-upstream" && -x "$BIN/bare-hummingbird" ]] || { log "missing binaries in $BIN"; exit 1; }
if [[ "${PARROT_BENCH_SKIP_BUILD:-0}" == 1 ]]; then
  SOURCE_COMMIT=""
  BUILD_NOTE="PARROT_BENCH_SKIP_BUILD=1: the binaries already in .build-bench/release were used (parrot built $(date -u -r "$BIN/parrot" '+%Y-%m-%d %H:%M UTC')); the commit above may not be what they were built from."
fi

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
      if [[ -z "$PG_URL" ]]; then
        PG_NOTE="scripts/postgres-test-cluster.sh printed no URL"
      else
        # The cluster's role may create databases but not tables in `postgres`'s public schema
        # (PostgreSQL 15+): give the benchmark a database of its own.
        PSQL="$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1 || true)"
        if [[ -n "$PSQL" ]] && "$PSQL" -q "$PG_URL" -v ON_ERROR_STOP=1 -c "CREATE DATABASE parrot_bench" >"$WORK/pg-db.log" 2>&1; then
          PG_URL="${PG_URL/\/postgres\?//parrot_bench?}"
        else
          PG_NOTE="could not create a database in the throwaway cluster: $(tail -n 2 "$WORK/pg-db.log" 2>/dev/null | tr '\n' ' ')"
          PG_URL=""
        fi
      fi
    else
      PG_NOTE="scripts/postgres-test-cluster.sh start failed: $(tail -n 2 "$WORK/pg.log" | tr '\n' ' ')"
    fi
  else
    PG_NOTE="PARROT_BENCH_POSTGRES_URL is not set and scripts/postgres-test-cluster.sh does not exist"
  fi
fi

# ---------------------------------------------------------------- run
args=(--command "bench/run.sh${ORIG_ARGS:+ $ORIG_ARGS}" --bin-dir "$BIN" --work-dir "$WORK/run" --pidfile "$PIDFILE" --litellm "$LITELLM"
  --litellm-note "$LITELLM_NOTE" --postgres-url "$PG_URL" --postgres-note "$PG_NOTE")
[[ -z "$BUILD_NOTE" ]] || args+=(--build-note "$BUILD_NOTE")
[[ -z "$SOURCE_COMMIT" ]] || args+=(--source-commit "$SOURCE_COMMIT")
python3 "$BENCH_DIR/bench.py" "${args[@]}" "$@" &
BENCH_PID=$!
wait "$BENCH_PID"
