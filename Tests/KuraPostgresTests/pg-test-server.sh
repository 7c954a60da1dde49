#!/bin/sh
# A private PostgreSQL server for kura's tests (make test runs `start` before swift test and `stop` after).
#
#   Tests/KuraPostgresTests/pg-test-server.sh start   initdb in $KURA_PG_TEST_DIR (default /tmp/kura-pg-test),
#                                                     start postgres on a socket folder there and a free
#                                                     port on 127.0.0.1, trust authentication, and write
#                                                     the connection settings to $KURA_PG_TEST_DIR/env
#   Tests/KuraPostgresTests/pg-test-server.sh stop    stop it and remove the folder
#
# As root the server runs as the postgres user (Debian's postgresql package creates it); otherwise as
# the calling user. The programs come from `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
set -eu

BASE=${KURA_PG_TEST_DIR:-/tmp/kura-pg-test}

bindir() {
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
    echo "pg-test-server: initdb not found; install Debian's postgresql package (make test-deps does)" >&2
    exit 1
}

# Runs a command as the server's user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
    if [ -f "$BASE/data/postmaster.pid" ]; then
        as_owner "$(bindir)/pg_ctl" -D "$BASE/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$BASE"
}

case "${1:-}" in
start)
    stop
    BIN=$(bindir)
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$BASE/sock"
    chmod 755 "$BASE"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$BASE/sock"; chown postgres: "$BASE"; fi
    if locale -a 2>/dev/null | grep -qi '^c\.utf-\?8$'; then LOCALE=--locale=C.UTF-8; else LOCALE=--no-locale; fi
    as_owner "$BIN/initdb" -D "$BASE/data" -U postgres -A trust -E UTF8 $LOCALE --no-sync >"$BASE/initdb.log" 2>&1 || {
        cat "$BASE/initdb.log" >&2; exit 1; }
    cat >>"$BASE/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$BASE/sock'
fsync = off
synchronous_commit = off
wal_level = replica
max_wal_senders = 4
max_connections = 60
shared_buffers = 128MB
max_wal_size = 2GB
log_min_messages = warning
EOF
    as_owner "$BIN/pg_ctl" -D "$BASE/data" -l "$BASE/server.log" -w -t 60 start >/dev/null || {
        cat "$BASE/server.log" >&2; exit 1; }
    cat >"$BASE/env" <<EOF
PGHOST=$BASE/sock
PGPORT=$PORT
PGUSER=postgres
KURA_PG_TEST_BINDIR=$BIN
KURA_PG_TEST_DATA=$BASE/data
EOF
    chmod 644 "$BASE/env"
    echo "pg-test-server: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on $BASE/sock and 127.0.0.1:$PORT"
    ;;
stop)
    stop
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
