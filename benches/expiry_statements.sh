#!/usr/bin/env bash
# Benchmark (BENCHMARKS.md § Cost as the data grows: the ladder): on an embedded store of
# 1,000,000 users, sessions and audit events, times (sqlite3 .timer, three times each)
# the statements the expiry sweep and the audit listing ran before issue 26 against the
# ones they run now: the sweep's "expires_at <= now OR abs_exp <= now" (a table scan
# before migration V6; NOT INDEXED reproduces it) against each expiry through its index,
# and the audit listing for one user with the catch-all "(:u IS NULL OR user_id = :u)"
# against "user_id = :u".
#
#   cargo build --release --locked --bin tessera --example datagen
#   bash benches/expiry_statements.sh          # needs sqlite3
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export TESSERA_KEK="$(openssl rand -base64 32)" TESSERA_LOG=warn
unset DATABASE_URL REDIS_URL
TESSERA_DATA_DIR=$W/base ./target/release/tessera migrate >/dev/null
TESSERA_DATA_DIR=$W/base ./target/release/tessera export > $W/base.jsonl 2>/dev/null
TESSERA_DATA_DIR=$W/base ./target/release/examples/datagen $W/base.jsonl $W/stream.jsonl --users 1000000 --sessions 1000000 --clients 10000 --audit 1000000 2>/dev/null
TESSERA_DATA_DIR=$W/data ./target/release/tessera import $W/stream.jsonl >/dev/null
rm $W/stream.jsonl
DB=$W/data/tessera.db
NOW_US=$(( $(date +%s) * 1000000 )); NOW_S=$(date +%s)
USER=$(sqlite3 $DB "SELECT user_id FROM audit_events WHERE id = 500000")
for i in 1 2 3; do
sqlite3 $DB <<SQL
.parameter init
.parameter set :u '$USER'
.timer on
SELECT 'old sweep: families by expires_at OR abs_exp (as before V6: a scan)', count(*) FROM refresh_families NOT INDEXED WHERE expires_at <= $NOW_US OR abs_exp <= $NOW_S;
SELECT 'new sweep: expires_at through its index', count(*) FROM (SELECT id FROM refresh_families WHERE expires_at <= $NOW_US LIMIT 1000);
SELECT 'new sweep: abs_exp through its index', count(*) FROM (SELECT id FROM refresh_families WHERE abs_exp <= $NOW_S LIMIT 1000);
SELECT 'old audit query, one user', count(*) FROM (SELECT id FROM audit_events WHERE (:u IS NULL OR user_id = :u) AND (:t IS NULL OR event_type = :t) AND (:s IS NULL OR at >= :s) AND (:b IS NULL OR id < :b) ORDER BY id DESC LIMIT 50);
SELECT 'new audit query, one user', count(*) FROM (SELECT id FROM audit_events WHERE user_id = :u ORDER BY id DESC LIMIT 50);
SQL
done
