#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite.
#
#   scripts/postgres-test-cluster.sh start        # prints `export PARROT_TEST_POSTGRES_URL=…` and
#                                                 # `export PARROT_TEST_POSTGRES_DIR=…` on stdout
#   scripts/postgres-test-cluster.sh stop <dir>   # stops that cluster and removes <dir>
#
# Usage: eval "$(scripts/postgres-test-cluster.sh start)"; …; scripts/postgres-test-cluster.sh stop "$PARROT_TEST_POSTGRES_DIR"
#
# The cluster lives in a fresh temporary directory, listens on 127.0.0.1 only, on a free port,
# with fsync off (test data only). Unix-socket connections (inside the directory) are trusted, for
# this script; TCP connections need the password of the role `parrot` (CREATEDB), which is what
# the printed URL carries, so tests of wrong credentials mean something. PostgreSQL is installed
# with apt-get when no `initdb` is found. PostgreSQL refuses to run as root: as root, the
# cluster runs as the `postgres` system user when it exists, else as `parrot-pg` (created).
# Everything but the two export lines goes to stderr.
set -euo pipefail

log() { echo "postgres-test-cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

needed=(initdb pg_ctl pg_isready postgres psql)

has_all() {
  local tool
  for tool in "${needed[@]}"; do [[ -x "$1/$tool" ]] || return 1; done
}

# The directory holding every server binary: initdb's own directory (symlinks resolved) when
# initdb is on PATH, else the newest of Debian's /usr/lib/postgresql/<version>/bin.
find_bindir() {
  local dir
  if command -v initdb >/dev/null 2>&1; then
    dir=$(dirname "$(readlink -f "$(command -v initdb)")")
    if has_all "$dir"; then echo "$dir"; return 0; fi
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if has_all "$dir"; then echo "$dir"; return 0; fi
  done
  return 1
}

install_postgres() {
  command -v apt-get >/dev/null 2>&1 || die "no initdb found and no apt-get to install PostgreSQL; install it (any version >= 13) first"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "no initdb found; installing PostgreSQL needs root (or sudo)"
    sudo="sudo"
  fi
  log "installing PostgreSQL with apt-get"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >&2
}

# The user the server runs as: ourselves, or (as root) an unprivileged system user.
pick_user() {
  if [[ $(id -u) -ne 0 ]]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    if ! id parrot-pg >/dev/null 2>&1; then
      log "creating system user parrot-pg"
      useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin parrot-pg >&2
    fi
    echo parrot-pg
  fi
}

# Runs a command as the cluster's user, from inside the cluster directory.
as_user() {
  local user=$1
  shift
  if [[ "$user" == "$(id -un)" ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$user" -- "$@"
  else
    su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A start that fails half-way leaves no server running and no directory behind.
partial_dir=""
abandon() {
  [[ -n "$partial_dir" ]] || return 0
  stop "$partial_dir" >/dev/null 2>&1 || rm -rf "$partial_dir"
}

start() {
  trap abandon EXIT
  local bindir
  if ! bindir=$(find_bindir); then
    install_postgres
    bindir=$(find_bindir) || die "PostgreSQL was installed but no initdb was found"
  fi
  local user
  user=$(pick_user)

  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/parrot-pg.XXXXXX")
  chmod 700 "$dir"
  partial_dir=$dir
  printf 'user=%s\nbindir=%s\n' "$user" "$bindir" >"$dir/.parrot-pg-cluster"
  chown -R "$user" "$dir"
  cd "$dir"

  log "initdb in $dir (as $user, $("$bindir/postgres" --version))"
  as_user "$user" "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

  local port="" attempt
  for attempt in 1 2 3 4 5 6 7 8; do
    local candidate=$((20000 + RANDOM % 40000))
    port_in_use "$candidate" && continue
    cat >>"$dir/data/postgresql.conf" <<EOF
# parrot test cluster (attempt $attempt)
listen_addresses = '127.0.0.1'
port = $candidate
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
    if as_user "$user" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null 2>&1; then
      port=$candidate
      break
    fi
    log "could not start on port $candidate; trying another"
  done
  [[ -n "$port" ]] || { tail -n 20 "$dir/server.log" >&2 || true; die "the server did not start"; }

  # pg_ctl -w waited for the socket; make sure TCP answers too before handing out the URL.
  local deadline=$((SECONDS + 30))
  until as_user "$user" "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    ((SECONDS < deadline)) || die "the server does not accept TCP connections on 127.0.0.1:$port"
    sleep 0.2
  done

  local password
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  as_user "$user" "$bindir/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE parrot LOGIN CREATEDB PASSWORD '$password'" >&2 \
    || die "could not create the test role"

  partial_dir=""
  log "ready on 127.0.0.1:$port"
  echo "export PARROT_TEST_POSTGRES_URL=postgres://parrot:$password@127.0.0.1:$port/postgres?sslmode=disable"
  echo "export PARROT_TEST_POSTGRES_DIR=$dir"
}

stop() {
  local dir=${1:-}
  [[ -n "$dir" ]] || die "usage: $0 stop <dir>"
  [[ -f "$dir/.parrot-pg-cluster" ]] || die "$dir is not a cluster made by this script"
  local user bindir
  user=$(sed -n 's/^user=//p' "$dir/.parrot-pg-cluster")
  bindir=$(sed -n 's/^bindir=//p' "$dir/.parrot-pg-cluster")
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    (cd "$dir" && as_user "$user" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1) \
      || log "pg_ctl stop failed; removing the directory anyway"
  fi
  rm -rf "$dir"
  log "stopped and removed $dir"
}

case "${1:-start}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) die "usage: $0 start | stop <dir>" ;;
esac
