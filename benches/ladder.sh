#!/usr/bin/env bash
# Benchmark (BENCHMARKS.md § Cost as the data grows: the ladder): what each
# request costs as the store grows. Phase 1 fills, for each rung N (default 10,000,
# 100,000 and 1,000,000) and each store (embedded; PostgreSQL + Redis), a store of its own
# with N users, N live sessions, 10,000 clients and N audit events (benches/datagen.rs,
# then `tessera import`), N revocation-feed events and 1,000 revoked tokens, and sizes it:
# bytes per user, session, audit and feed event and blocklist entry (SQLite dbstat;
# pg_total_relation_size; Redis used_memory and MEMORY USAGE). Phase 2 measures every
# store in turn, ROUNDS times (the host's speed drifts: alternating rounds and taking
# medians keeps the drift out of the comparison), each time starting the server:
#   start-up time (spawn to /readyz), client_credentials, refresh (narrowed to `email`:
#   no ID token, whose RSA signature would hide the store's cost), introspection,
#   userinfo, JWKS, feed reads by a client that sees 1 event in 100 and by one that sees
#   all of them (wrk: successful requests/s and p99), password sign-in over random users
#   with the raw argon2id rate right after (logins per hash), and the server's RSS.
# Writes ladder-rounds.csv (every round) and ladder.csv (the medians) into OUT (default
# benches/results), prints each median rate as a ratio to the first rung's, and renders
# OUT/ladder.png.
#
#   cargo build --release --locked --bin tessera --example datagen --example hash_rate
#   bash benches/ladder.sh [N ...]   # DURATION=6 s a load, ROUNDS=3, STORES="embedded external", OUT
#
# Needs PostgreSQL and Redis on loopback (scripts/services), wrk, sqlite3 and matplotlib
# (installed if missing). At 1,000,000 it takes about 40 minutes, 3 GB of disk and 1.5 GB
# of Redis memory.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNGS=("$@")
[ ${#RUNGS[@]} -gt 0 ] || RUNGS=(10000 100000 1000000)
DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-3}
STORES=${STORES:-embedded external}
BIN=./target/release/tessera
GEN=./target/release/examples/datagen
[ -x "$BIN" ] && [ -x "$GEN" ] && [ -x ./target/release/examples/hash_rate ] || {
  echo "build first: cargo build --release --locked --bin tessera --example datagen --example hash_rate" >&2
  exit 2
}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check matplotlib
bash scripts/services

WORK=$(mktemp -d)
OUT=${OUT:-benches/results}
mkdir -p "$OUT"
CSV=$OUT/ladder.csv
ROUNDS_CSV=$OUT/ladder-rounds.csv
TPID=
DB=
PREFIX=
cleanup() {
  [ -n "$TPID" ] && kill "$TPID" 2>/dev/null && wait "$TPID" 2>/dev/null
  drop_stores
  rm -rf "$WORK"
}
trap cleanup EXIT
export TESSERA_KEK="$(openssl rand -base64 32)" TESSERA_LOG=warn \
  TESSERA_PUBLIC_ADDR=127.0.0.1:18080 TESSERA_ADMIN_ADDR=127.0.0.1:18081 \
  TESSERA_RATE_LIMIT_LOGIN_IP=0 TESSERA_LOCKOUT_ACCOUNT_CEILING=0 \
  TESSERA_LOCKOUT_THRESHOLD=0 TESSERA_RATE_LIMIT_REGISTER_IP=0 TESSERA_HASH_QUEUE=256 \
  TESSERA_RATE_LIMIT_REVOCATIONS_CLIENT=0
unset DATABASE_URL REDIS_URL TESSERA_DATA_DIR TESSERA_REDIS_PREFIX
echo "store,n,round,metric,value,p99_ms" >"$ROUNDS_CSV"
ROUND=0
# a measurement of rung $N's store $STORE in round $ROUND: metric, value, p99 ms
record() {
  echo "$STORE,$N,$ROUND,$1,$2,${3:-}" >>"$ROUNDS_CSV"
  printf '%-9s %8s r%s %-28s %12s %s\n' "$STORE" "$N" "$ROUND" "$1" "$2" "${3:+p99=${3}ms}"
}

# the settings of rung $2's store of kind $1, exported
use_store() {
  if [ "$1" = embedded ]; then
    unset DATABASE_URL REDIS_URL TESSERA_REDIS_PREFIX
    export TESSERA_DATA_DIR="$WORK/data-$2"
  else
    unset TESSERA_DATA_DIR
    DB=tessera_ladder_$$_$2 PREFIX="ladder$$n$2:"
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB REDIS_URL=redis://127.0.0.1:6379 \
      TESSERA_REDIS_PREFIX=$PREFIX
  fi
}
# the same, created empty and migrated
open_store() {
  use_store "$1" "$2"
  [ "$1" = embedded ] || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
  "$BIN" migrate >/dev/null
}
drop_stores() {
  for db in $(psql -h 127.0.0.1 -U postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'tessera_ladder_$$_%'"); do
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true
  done
  redis-cli --scan --pattern "ladder$$n*" | xargs -r -n 1000 redis-cli del >/dev/null || true
}
redis_used() { redis-cli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

# starts the server: its pid in TPID, the seconds from spawn to ready in STARTUP
start_server() {
  local begun ready
  ! curl -sf localhost:18080/readyz >/dev/null || { echo "something already listens on 18080" >&2; exit 1; }
  begun=$(date +%s.%N)
  "$BIN" serve >>"$WORK/serve.log" 2>&1 &
  TPID=$!
  for _ in $(seq 1 3000); do curl -sf localhost:18080/readyz >/dev/null && break; sleep 0.01; done
  ready=$(date +%s.%N)
  curl -sf localhost:18080/readyz >/dev/null || { echo "the server did not start:" >&2; tail "$WORK/serve.log" >&2; exit 1; }
  STARTUP=$(python3 -c "print(f'{$ready - $begun:.3f}')")
}
stop_server() { kill "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }

# a load: metric name, wrk connections, script, path; records successful requests/s and p99
load() {
  local name=$1 conns=$2 script=$3 path=$4
  wrk -t1 -c"$conns" -d"${DURATION}s" --latency -s "$script" "http://127.0.0.1:18080$path" >"$WORK/$name.txt"
  # shellcheck disable=SC2046
  record "$name" $(python3 - "$WORK/$name.txt" "$DURATION" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(f"{(total - (int(bad.group(1)) if bad else 0)) / float(sys.argv[2]):.1f} {p99:.2f}")
PY
)
  if grep -q "Non-2xx" "$WORK/$name.txt"; then grep "Non-2xx" "$WORK/$name.txt" >&2; fi
}
basic() { printf '%s:%s' "$1" "$2" | base64 -w0; }
json_field() { python3 -c "import json,sys; [print(json.loads(l)['$1']) for l in sys.stdin if l.strip()]"; }

# Lua scripts for wrk; the token files are written per rung
source benches/lib.sh
cat >"$WORK/cc.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(basic dg-0 dg-secret-0)"
wrk.body = "grant_type=client_credentials"
LUA
# lib.sh's refresh_lua, narrowed to `email` and without its delay callback
cat >"$WORK/refresh.lua" <<LUA
local tokens = {}
for line in io.lines("$WORK/refresh-tokens") do tokens[#tokens + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  local token = table.remove(tokens, 1) or "tsr_exhausted"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&client_id=spa&scope=email&refresh_token=" .. token)
end
response = function(status, headers, body)
  local token = body:match('"refresh_token":"(tsr_[^"]+)"')
  if token then tokens[#tokens + 1] = token end
end
LUA
ID=dg-0 SECRET=dg-secret-0 introspect_lua "$WORK/introspect.lua" "$WORK/cc-tokens"
cat >"$WORK/userinfo.lua" <<LUA
local tokens, next = {}, 0
for line in io.lines("$WORK/user-tokens") do tokens[#tokens + 1] = line end
request = function()
  next = next % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[next] }, nil)
end
LUA
cat >"$WORK/jwks.lua" <<LUA
wrk.method = "GET"
LUA
feed_lua() {
  cat >"$WORK/$1.lua" <<LUA
local cursors = {}
for line in io.lines("$WORK/cursors") do cursors[#cursors + 1] = line end
math.randomseed(7)
request = function()
  local path = "/oauth2/revocations?limit=100&after=" .. cursors[math.random(#cursors)]
  return wrk.format("GET", path, { ["Authorization"] = "Basic $(basic "$2" "$3")" }, nil)
end
LUA
}
feed_lua feed-few dg-0 dg-secret-0
feed_lua feed-many dg-2 dg-secret-2

TESSERA_DATA_DIR="$WORK/base" "$BIN" migrate >/dev/null
TESSERA_DATA_DIR="$WORK/base" "$BIN" export >"$WORK/base.jsonl" 2>/dev/null

echo "== phase 1: an empty store's start-up, then each rung's store filled and sized" >&2
N=0
for STORE in $STORES; do
  open_store "$STORE" empty
  for ROUND in 1 2 3; do start_server; record startup_s "$STARTUP"; stop_server; done
done
ROUND=0
for N in "${RUNGS[@]}"; do
  echo "== rung $N: generating" >&2
  env TESSERA_DATA_DIR="$WORK/base" "$GEN" "$WORK/base.jsonl" "$WORK/stream.jsonl" \
    --users "$N" --sessions "$N" --clients 10000 --audit "$N" \
    --tokens "$WORK/spa-tokens-$N" --token-count $((400 * ROUNDS)) 2>"$WORK/datagen.log"
  [ "$(wc -l <"$WORK/spa-tokens-$N")" = $((400 * ROUNDS)) ] ||
    { echo "rung $N has too few sessions on spa for $ROUNDS rounds (400 a round)" >&2; exit 2; }
  cat >"$WORK/login-$N.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
math.randomseed(11)
request = function()
  return wrk.format(nil, nil, nil, "grant_type=password&client_id=spa&scope=openid&username=user"
    .. math.random(0, $N - 1) .. "%40datagen.test&password=datagen-password")
end
LUA
  for STORE in $STORES; do
    echo "== rung $N, $STORE: importing" >&2
    open_store "$STORE" "$N"
    [ "$STORE" = external ] && BEFORE=$(redis_used)
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" import "$WORK/stream.jsonl" >/dev/null
    read -r secs kib <"$WORK/time"
    record import_s "$secs"
    record import_peak_rss_mib "$((kib / 1024))"
    [ "$STORE" = external ] && AFTER_IMPORT=$(redis_used)
    /usr/bin/time -f "%e" -o "$WORK/time" "$GEN" feed "$N" "$WORK/cursors-$STORE-$N" 2>>"$WORK/datagen.log"
    record feed_fill_s "$(cat "$WORK/time")"

    # 1,000 blocklist entries: client_credentials tokens, revoked
    start_server
    for _ in $(seq 1 1000); do
      curl -sf -u dg-0:dg-secret-0 localhost:18080/oauth2/token -d grant_type=client_credentials; echo
    done | json_field access_token >"$WORK/revoked"
    [ "$STORE" = external ] && BEFORE_BL=$(redis_used)
    while read -r token; do
      curl -sf -o /dev/null -u dg-0:dg-secret-0 localhost:18080/oauth2/revoke -d "token=$token" ||
        echo "revoke: $?" >&2
    done <"$WORK/revoked"
    stop_server

    if [ "$STORE" = embedded ]; then
      DBFILE="$TESSERA_DATA_DIR/tessera.db"
      sqlite3 "$DBFILE" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
      record store_bytes "$(du -cb "$DBFILE"* | tail -1 | cut -f1)"
      sqlite3 -csv "$DBFILE" "SELECT tbl_name, sum(pgsize) FROM dbstat JOIN sqlite_schema s USING (name) GROUP BY tbl_name" \
        >"$WORK/tables.csv"
      per() { awk -F, -v t="$1" -v n="$2" '$1 == t { printf "%.0f", $2 / n }' "$WORK/tables.csv"; }
      record bytes_per_user "$(per users "$N")"
      record bytes_per_session "$(per refresh_families "$N")"
      record bytes_per_audit_event "$(per audit_events "$N")"
      record bytes_per_feed_event "$(per revocation_feed "$N")"
      record bytes_per_blocklist_entry "$(per jti_blocklist 1000)"
    else
      rel() { psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT pg_total_relation_size('$1')"; }
      record store_bytes "$(psql -h 127.0.0.1 -U postgres -tAc "SELECT pg_database_size('$DB')")"
      record bytes_per_user "$(($(rel users) / N))"
      record bytes_per_audit_event "$(($(rel audit_events) / N))"
      record redis_bytes_per_session "$(((AFTER_IMPORT - BEFORE) / N))"
      FAMILY=$(redis-cli --scan --pattern "${PREFIX}fam:*" | awk "NR == 1")
      record redis_family_hash_bytes "$(redis-cli MEMORY USAGE "$FAMILY")"
      record redis_bytes_per_feed_event \
        "$(($(redis-cli MEMORY USAGE "${PREFIX}{revocations}:stream" SAMPLES 0) / N))"
      BL=$(redis-cli --scan --pattern "${PREFIX}bl:*" | awk "NR == 1")
      record redis_blocklist_key_bytes "$(redis-cli MEMORY USAGE "$BL")"
      record redis_bytes_per_blocklist_entry "$((($(redis_used) - BEFORE_BL) / 1000))"
    fi
  done
done
rm -f "$WORK/stream.jsonl"

echo "== phase 2: $ROUNDS rounds, each measuring every rung's store in turn" >&2
for ROUND in $(seq 1 "$ROUNDS"); do
  for N in "${RUNGS[@]}"; do
    # this round's own refresh chains and userinfo sessions (a rotated token is spent)
    sed -n "$((200 * ROUND - 199)),$((200 * ROUND))p" "$WORK/spa-tokens-$N" >"$WORK/refresh-tokens"
    sed -n "$((200 * (ROUNDS + ROUND) - 199)),$((200 * (ROUNDS + ROUND)))p" "$WORK/spa-tokens-$N" >"$WORK/userinfo-refresh"
    cp "$WORK/login-$N.lua" "$WORK/login.lua"
    for STORE in $STORES; do
      use_store "$STORE" "$N"
      cp "$WORK/cursors-$STORE-$N" "$WORK/cursors"
      start_server
      record startup_s "$STARTUP"
      for _ in $(seq 1 200); do
        curl -sf -u dg-0:dg-secret-0 localhost:18080/oauth2/token -d grant_type=client_credentials; echo
      done | json_field access_token >"$WORK/cc-tokens"
      while read -r token; do
        curl -sf localhost:18080/oauth2/token -d grant_type=refresh_token -d client_id=spa \
          -d "refresh_token=$token"; echo
      done <"$WORK/userinfo-refresh" | json_field access_token >"$WORK/user-tokens"
      [ "$(wc -l <"$WORK/user-tokens")" = 200 ] || { echo "userinfo tokens: $(wc -l <"$WORK/user-tokens")" >&2; exit 1; }

      load client_credentials 16 "$WORK/cc.lua" /oauth2/token
      load refresh 32 "$WORK/refresh.lua" /oauth2/token
      load introspection 64 "$WORK/introspect.lua" /oauth2/introspect
      load userinfo 64 "$WORK/userinfo.lua" /oauth2/userinfo
      load jwks 64 "$WORK/jwks.lua" /.well-known/jwks.json
      load feed_reads_few 16 "$WORK/feed-few.lua" /oauth2/revocations
      load feed_reads_many 16 "$WORK/feed-many.lua" /oauth2/revocations
      load password_sign_in 8 "$WORK/login.lua" /oauth2/token
      record rss_mib "$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$TPID/status")"
      stop_server
      record raw_argon2id_per_s "$(./target/release/examples/hash_rate "$DURATION" | sed 's/.*per_second=//')"
    done
  done
done

# each measurement's median over the rounds (and its p99's)
python3 - "$ROUNDS_CSV" "$CSV" <<'PY'
import csv, statistics, sys
groups = {}
for r in csv.DictReader(open(sys.argv[1])):
    groups.setdefault((r["store"], r["n"], r["metric"]), []).append(r)
with open(sys.argv[2], "w") as out:
    out.write("store,n,metric,value,p99_ms,rounds\n")
    for (store, n, metric), rows in groups.items():
        value = statistics.median(float(r["value"]) for r in rows)
        p99s = [float(r["p99_ms"]) for r in rows if r["p99_ms"]]
        p99 = f"{statistics.median(p99s):.2f}" if p99s else ""
        shown = f"{value:.0f}" if value == int(value) else f"{value:.3f}".rstrip("0")
        out.write(f"{store},{n},{metric},{shown},{p99},{len(rows)}\n")
PY
echo "== medians of $ROUNDS rounds: each rate against the first rung's (password sign-in: logins per raw hash)" >&2
python3 benches/ladder_plot.py "$CSV" "$OUT/ladder.png"
echo "wrote $CSV (medians), $ROUNDS_CSV (every round) and $OUT/ladder.png" >&2
