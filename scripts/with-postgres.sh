#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server, then stops the server and deletes it.
# Usage: scripts/with-postgres.sh CMD [ARGS...]
#
# The command sees COUNTERSIGN_TEST_DATABASE_URL (an empty database `countersign_test`), PG_BIN
# (Debian's PostgreSQL binaries, also put on PATH), PG_DATA, PG_PORT and PG_LOG. The settings
# live in $PG_DATA/postgresql.conf, so a test can restart the server with plain pg_ctl:
#   runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w restart
# (without `runuser -u postgres --` when not root). The exit status is the command's.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

scripts/setup.sh postgres
# The newest installed version's binaries (Debian keeps them off PATH).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

# PostgreSQL refuses to run as root, so as root run its tools as the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

tmp=$(mktemp -d)
[ "$(id -u)" != 0 ] || chown postgres: "$tmp"
PG_DATA=$tmp/data PG_LOG=$tmp/log started=
# On any exit (success, failure, Ctrl-C, kill): stop the server at once and delete its folder.
cleanup() {
  [ -z "$started" ] || as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh cluster; fall back to no locale if C.UTF-8 is unavailable.
as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 \
  || { rm -rf "$PG_DATA"; as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1; } \
  || { cat "$tmp/initdb.log" >&2; exit 1; }

# A free loopback port: the kernel picks one, we release it and the server takes it.
PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Loopback TCP only, the socket in our folder, and durability off: the data is thrown away anyway.
cat >>"$PG_DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$tmp'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
EOF

# -l: the server's output goes to a file; on a pipe it would hold the pipe open.
started=1
as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null \
  || { echo "with-postgres: the server did not start; the end of its log:" >&2; tail -n 30 "$PG_LOG" >&2; exit 1; }
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres countersign_test

export COUNTERSIGN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/countersign_test"
export PG_BIN PG_DATA PG_PORT PG_LOG PATH="$PG_BIN:$PATH"
# Not exec, so the cleanup trap still runs afterwards.
status=0
"$@" || status=$?
exit "$status"
