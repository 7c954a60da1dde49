#!/bin/sh
# Stored bytes per day for daily `kura backup --postgres` dumps of one database.
#
#   Benchmarks/postgres/daily-dedup.sh [SCALE] [CHUNK_AVG_KIB]     (defaults: 10, 1024)
#
# Starts a private server (Tests/KuraPostgresTests/pg-test-server.sh, in /tmp/kura-pg-bench), makes
# a database with `pgbench -i -s SCALE` (SCALE x 100,000 accounts; pgbench's rows are mostly blank
# padding, so they compress ~100:1) plus an `orders` table of SCALE x 100,000 rows of hex text
# (compresses ~2:1), then backs up once per simulated day into a fresh repository (chunker
# CHUNK_AVG/2, CHUNK_AVG, CHUNK_AVG*8 KiB) and prints a Markdown table of what each day stored:
#   day 1  the first dump
#   day 2  a small, recent change: 1,000 orders added, 100 recent orders and 100 neighbouring accounts updated
#   day 3  1,000 pgbench TPC-B transactions (1,000 accounts updated at random places; orders untouched)
#   day 4  no change at all
# Needs Debian's postgresql package and a built kura (KURA=.build/release/kura by default).
set -eu
cd "$(dirname "$0")/../.."
SCALE=${1:-10}
AVG=${2:-1024}
KURA=${KURA:-.build/release/kura}
export KURA_PG_TEST_DIR=/tmp/kura-pg-bench
WORK=$(mktemp -d /tmp/kura-pg-bench-repo.XXXXXX)
trap 'Tests/KuraPostgresTests/pg-test-server.sh stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT INT TERM

Tests/KuraPostgresTests/pg-test-server.sh start >/dev/null
. "$KURA_PG_TEST_DIR/env"
export PGHOST PGPORT PGUSER
export KURA_REPOSITORY="$WORK/repo" KURA_PASSWORD=bench KURA_CACHE_DIR="$WORK/cache"
"$KURA_PG_TEST_BINDIR/createdb" bench
"$KURA_PG_TEST_BINDIR/pgbench" -q -i -s "$SCALE" bench >/dev/null 2>&1
psql -q -d bench -c "CREATE TABLE orders (id bigserial PRIMARY KEY, customer int, item text, total numeric(12,2), placed timestamptz);
                     INSERT INTO orders (customer, item, total, placed)
                       SELECT i % 50000, md5(i::text) || ' ' || md5((i * 7)::text), (i % 1000) * 1.1, '2026-01-01'::timestamptz + i * interval '10 seconds'
                       FROM generate_series(1, $SCALE * 100000) i;"
"$KURA" init -q --chunk-min $((AVG / 2)) --chunk-avg "$AVG" --chunk-max $((AVG * 8))

day() {
    name=$1
    out=$("$KURA" backup --json --postgres "dbname=bench" --tag "$name")
    python3 - "$name" "$out" "$("$KURA" cat latest:/postgres/manifest.json)" <<'EOF'
import json, sys
name, backup, manifest = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
s, db = backup["summary"], manifest["databases"][0]
print(f"| {name} | {db['dumpBytes'] / 2**20:,.1f} MiB | {s['bytesAdded'] / 2**20:,.1f} MiB | {s['bytesStored'] / 2**20:,.2f} MiB "
      f"| {100 * s['bytesAdded'] / db['dumpBytes']:.1f} % | {s['durationSeconds']:.1f} s |")
EOF
}

echo "pgbench scale $SCALE + $((SCALE * 100000)) orders ($(psql -d bench -Atc "select pg_size_pretty(pg_database_size('bench'))") on disk), chunks $((AVG / 2))/$AVG/$((AVG * 8)) KiB, kura $("$KURA" --version), PostgreSQL $(psql -Atc 'show server_version')"
echo
echo "| day | dump | new chunks (plain) | stored (zstd, encrypted) | new / dump | time |"
echo "|---|---:|---:|---:|---:|---:|"
day "1: first dump"
psql -q -d bench -c "INSERT INTO orders (customer, item, total, placed) SELECT i, md5(random()::text), 9.99, now() FROM generate_series(1, 1000) i;
                     UPDATE orders SET total = total + 1 WHERE id > $SCALE * 100000 - 100;
                     UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid BETWEEN 5001 AND 5100;"
day "2: 1,000 orders added, 200 recent rows updated"
"$KURA_PG_TEST_BINDIR/pgbench" -n -t 1000 -c 1 bench >/dev/null 2>&1
day "3: 1,000 pgbench transactions (random rows)"
day "4: no change"
