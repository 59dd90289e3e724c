#!/usr/bin/env bash
# Benchmark (BENCHMARKS.md § Cost as the data grows): moving a large store. Builds a
# signed export of N users, N live sessions, 10,000 clients and N audit events with
# benches/datagen.rs, then times `tessera import` into a fresh embedded store and into a
# fresh PostgreSQL + Redis store, and `tessera export` back out of each, with each
# process's peak RSS (GNU time). Prints one line a step: rows, seconds, rows/s, peak RSS.
#
#   cargo build --release --locked --bin tessera --example datagen
#   bash benches/import_scale.sh [N]        # N: users and sessions, default 100000
#
# Needs PostgreSQL and Redis on loopback (as the test suite does) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
BIN=./target/release/tessera
GEN=./target/release/examples/datagen
[ -x "$BIN" ] && [ -x "$GEN" ] || {
  echo "build first: cargo build --release --locked --bin tessera --example datagen" >&2
  exit 2
}
WORK=$(mktemp -d)
DB=tessera_scale_$$
PREFIX="scale$$:"
cleanup() {
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null || true
  redis-cli --scan --pattern "$PREFIX*" | xargs -r -n 1000 redis-cli del >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export TESSERA_KEK="$(openssl rand -base64 32)" TESSERA_LOG=warn
unset DATABASE_URL REDIS_URL

# a step: its name, the rows it moved, then the command; GNU time reports the peak RSS
step() {
  local name=$1 rows=$2
  shift 2
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@"
  read -r secs kib <"$WORK/time"
  awk -v n="$name" -v r="$rows" -v s="$secs" -v k="$kib" \
    'BEGIN { printf "%-22s rows=%d seconds=%.1f rows_per_s=%.0f peak_rss_mib=%.0f\n", n, r, s, r / (s > 0 ? s : 1), k / 1024 }'
}

TESSERA_DATA_DIR="$WORK/base" "$BIN" migrate >/dev/null
TESSERA_DATA_DIR="$WORK/base" "$BIN" export >"$WORK/base.jsonl" 2>/dev/null
ROWS=$((3 * N + 10000))
step datagen "$ROWS" env TESSERA_DATA_DIR="$WORK/base" "$GEN" "$WORK/base.jsonl" "$WORK/stream.jsonl" \
  --users "$N" --sessions "$N" --clients 10000 --audit "$N" 2>"$WORK/datagen.log"
echo "stream_bytes=$(stat -c %s "$WORK/stream.jsonl")"

step import_embedded "$ROWS" \
  sh -c "TESSERA_DATA_DIR='$WORK/embedded' '$BIN' import '$WORK/stream.jsonl' >/dev/null"
echo "embedded_db_bytes=$(du -cb "$WORK/embedded"/tessera.db* | tail -1 | cut -f1)"
step export_embedded "$ROWS" \
  sh -c "TESSERA_DATA_DIR='$WORK/embedded' '$BIN' export >'$WORK/embedded.jsonl' 2>/dev/null"
rm -f "$WORK/embedded.jsonl"
step import_embedded_stdin "$ROWS" \
  sh -c "TESSERA_DATA_DIR='$WORK/stdin' '$BIN' import <'$WORK/stream.jsonl' >/dev/null"
rm -rf "$WORK/stdin"

psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
PG="DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB REDIS_URL=redis://127.0.0.1:6379 TESSERA_REDIS_PREFIX=$PREFIX"
step import_postgres_redis "$ROWS" \
  sh -c "env $PG '$BIN' import '$WORK/stream.jsonl' >/dev/null"
step export_postgres_redis "$ROWS" \
  sh -c "env $PG '$BIN' export >'$WORK/pg.jsonl' 2>/dev/null"
echo "exported_rows=$(($(wc -l <"$WORK/pg.jsonl") - 2))"
