#!/usr/bin/env bash
# Benchmark (BENCHMARKS.md § Cost as the data grows: the ladder): what each
# request costs as the store grows. Phase 1 fills, for each rung N (default 10,000,
# 100,000 and 1,000,000) and each store (embedded; PostgreSQL + Redis), a store of its own
# with N users, N live sessions, 10,000 clients and N audit events (benches/datagen.rs,
# then `tessera import`), N revocation-feed events and 1,000 revoked tokens, and sizes it:
# bytes per user, session, audit and feed event and blocklist entry (SQLite dbstat;
# pg_total_relation_size; Redis used_memory and MEMORY USAGE). Phase 2 measures each
# store with a server per rung, all serving at once: first the start-up time (spawn to
# /readyz) ROUNDS times a rung, then ROUNDS rounds of loads. In a round each measurement
# runs on every rung back to back, seconds apart, in an order that turns with each
# measurement and round, so the host's drift (its speed wanders by 10-20 % over minutes)
# lands on every rung alike and each rung's ratio is taken within a round:
#   client_credentials, refresh (narrowed to `email`: no ID token, whose RSA signature
#   would hide the store's cost), introspection, userinfo, JWKS, feed reads by a client
#   that sees 1 event in 100 and by one that sees all of them (wrk: successful
#   requests/s, p99, and the server's CPU time per request from /proc), password sign-in
#   over random users with the raw argon2id rate right after (logins per hash), and
#   each server's RSS at the end of the round.
# Writes ladder-rounds.csv (every round), ladder.csv (the medians) and ladder-ratios.csv
# (each rate's median over the rounds of its ratio to the first rung's in the same round,
# with the lowest and highest) into OUT (default benches/results), prints the ratios, and
# renders OUT/ladder.png.
#
#   cargo build --release --locked --bin tessera --example datagen --example hash_rate
#   bash benches/ladder.sh [N ...]   # DURATION=6 s a load, ROUNDS=5, STORES="embedded external", OUT
#
# Needs PostgreSQL and Redis on loopback (scripts/services), wrk, sqlite3 and matplotlib
# (installed if missing). At 1,000,000 it takes about 45 minutes, 3 GB of disk and 1.5 GB
# of Redis memory.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNGS=("$@")
[ ${#RUNGS[@]} -gt 0 ] || RUNGS=(10000 100000 1000000)
DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-5}
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
PORT=18080
declare -A PIDS=() PORTS=()
DB=
PREFIX=
cleanup() {
  for pid in $TPID "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  drop_stores
  rm -rf "$WORK"
}
trap cleanup EXIT
export TESSERA_KEK="$(openssl rand -base64 32)" TESSERA_LOG=warn \
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

# starts the server on PORT (its admin listener on PORT + 1): its pid in TPID, the
# seconds from spawn to ready in STARTUP
start_server() {
  local begun ready
  ! curl -sf "localhost:$PORT/readyz" >/dev/null || { echo "something already listens on $PORT" >&2; exit 1; }
  begun=$(date +%s.%N)
  TESSERA_PUBLIC_ADDR=127.0.0.1:$PORT TESSERA_ADMIN_ADDR=127.0.0.1:$((PORT + 1)) \
    "$BIN" serve >>"$WORK/serve.log" 2>&1 &
  TPID=$!
  for _ in $(seq 1 3000); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.01; done
  ready=$(date +%s.%N)
  curl -sf "localhost:$PORT/readyz" >/dev/null || { echo "the server did not start:" >&2; tail "$WORK/serve.log" >&2; exit 1; }
  STARTUP=$(python3 -c "print(f'{$ready - $begun:.3f}')")
}
stop_server() { kill "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# a load on rung $N's server (PORT, pid $1): metric name, wrk connections, script, path;
# records successful requests/s and p99, and the server's CPU microseconds per request
load() {
  local pid=$1 name=$2 conns=$3 script=$4 path=$5 before after
  before=$(cpu_ticks "$pid")
  wrk -t1 -c"$conns" -d"${DURATION}s" --latency -s "$script" "http://127.0.0.1:$PORT$path" >"$WORK/$name.txt"
  after=$(cpu_ticks "$pid")
  # shellcheck disable=SC2046
  set -- $(python3 - "$WORK/$name.txt" "$DURATION" "$((after - before))" "$(getconf CLK_TCK)" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
cpu_us = int(sys.argv[3]) / int(sys.argv[4]) * 1e6 / max(total, 1)
print(f"{(total - (int(bad.group(1)) if bad else 0)) / float(sys.argv[2]):.1f} {p99:.2f} {cpu_us:.1f}")
PY
)
  record "$name" "$1" "$2"
  record "${name}_cpu_us" "$3"
  if grep -q "Non-2xx" "$WORK/$name.txt"; then grep "Non-2xx" "$WORK/$name.txt" >&2; fi
}
basic() { printf '%s:%s' "$1" "$2" | base64 -w0; }
json_field() { python3 -c "import json,sys; [print(json.loads(l)['$1']) for l in sys.stdin if l.strip()]"; }

# Lua scripts for wrk; rung_scripts N writes rung N's copies, which read its own files
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
for line in io.lines("$WORK/@RUNG@-refresh-tokens") do tokens[#tokens + 1] = line end
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
ID=dg-0 SECRET=dg-secret-0 introspect_lua "$WORK/introspect.lua" "$WORK/@RUNG@-cc-tokens"
cat >"$WORK/userinfo.lua" <<LUA
local tokens, next = {}, 0
for line in io.lines("$WORK/@RUNG@-user-tokens") do tokens[#tokens + 1] = line end
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
for line in io.lines("$WORK/@RUNG@-cursors") do cursors[#cursors + 1] = line end
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
  for ROUND in $(seq 1 "$ROUNDS"); do start_server; record startup_s "$STARTUP"; stop_server; done
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
      curl -sf -u dg-0:dg-secret-0 localhost:$PORT/oauth2/token -d grant_type=client_credentials; echo
    done | json_field access_token >"$WORK/revoked"
    [ "$STORE" = external ] && BEFORE_BL=$(redis_used)
    while read -r token; do
      curl -sf -o /dev/null -u dg-0:dg-secret-0 localhost:$PORT/oauth2/revoke -d "token=$token" ||
        echo "revoke: $?" >&2
    done <"$WORK/revoked"
    stop_server
    # what autovacuum would do minutes later, done now so that it cannot run during a load
    [ "$STORE" = embedded ] || psql -h 127.0.0.1 -U postgres -d "$DB" -qc "VACUUM (ANALYZE)"

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

rung_scripts() {
  for name in cc refresh introspect userinfo jwks feed-few feed-many; do
    sed "s/@RUNG@/$1/g" "$WORK/$name.lua" >"$WORK/$1-$name.lua"
  done
  cp "$WORK/login-$1.lua" "$WORK/$1-login.lua"
}
# name, wrk connections, script, path
MEASUREMENTS=(
  "client_credentials 16 cc /oauth2/token"
  "refresh 32 refresh /oauth2/token"
  "introspection 64 introspect /oauth2/introspect"
  "userinfo 64 userinfo /oauth2/userinfo"
  "jwks 64 jwks /.well-known/jwks.json"
  "feed_reads_few 16 feed-few /oauth2/revocations"
  "feed_reads_many 16 feed-many /oauth2/revocations"
  "password_sign_in 8 login /oauth2/token"
)
for N in "${RUNGS[@]}"; do rung_scripts "$N"; done

echo "== phase 2: each store's rungs served at once; $ROUNDS rounds of every measurement on every rung" >&2
for STORE in $STORES; do
  [ "$STORE" = embedded ] || psql -h 127.0.0.1 -U postgres -qc CHECKPOINT
  PORT=18080
  for ROUND in $(seq 1 "$ROUNDS"); do
    for N in "${RUNGS[@]}"; do use_store "$STORE" "$N"; start_server; record startup_s "$STARTUP"; stop_server; done
  done
  ROUND=0 i=0
  for N in "${RUNGS[@]}"; do
    use_store "$STORE" "$N"
    PORT=$((18080 + 10 * i)) i=$((i + 1))
    start_server
    PIDS[$N]=$TPID PORTS[$N]=$PORT TPID=
    cp "$WORK/cursors-$STORE-$N" "$WORK/$N-cursors"
    for _ in $(seq 1 200); do
      curl -sf -u dg-0:dg-secret-0 "localhost:$PORT/oauth2/token" -d grant_type=client_credentials; echo
    done | json_field access_token >"$WORK/$N-cc-tokens"
  done
  for ROUND in $(seq 1 "$ROUNDS"); do
    for N in "${RUNGS[@]}"; do
      PORT=${PORTS[$N]}
      # this round's own refresh chains and userinfo sessions (a rotated token is spent)
      sed -n "$((200 * ROUND - 199)),$((200 * ROUND))p" "$WORK/spa-tokens-$N" >"$WORK/$N-refresh-tokens"
      sed -n "$((200 * (ROUNDS + ROUND) - 199)),$((200 * (ROUNDS + ROUND)))p" "$WORK/spa-tokens-$N" |
        while read -r token; do
          curl -sf "localhost:$PORT/oauth2/token" -d grant_type=refresh_token -d client_id=spa \
            -d "refresh_token=$token"; echo
        done | json_field access_token >"$WORK/$N-user-tokens"
      [ "$(wc -l <"$WORK/$N-user-tokens")" = 200 ] || { echo "userinfo tokens: $(wc -l <"$WORK/$N-user-tokens")" >&2; exit 1; }
    done
    m=0
    for measurement in "${MEASUREMENTS[@]}"; do
      read -r name conns script path <<<"$measurement"
      # the rungs in an order turned by the round and the measurement
      for k in "${!RUNGS[@]}"; do
        N=${RUNGS[$(((k + ROUND + m) % ${#RUNGS[@]}))]}
        PORT=${PORTS[$N]}
        load "${PIDS[$N]}" "$name" "$conns" "$WORK/$N-$script.lua" "$path"
        [ "$name" != password_sign_in ] ||
          record raw_argon2id_per_s "$(./target/release/examples/hash_rate "$DURATION" | sed 's/.*per_second=//')"
      done
      m=$((m + 1))
    done
    for N in "${RUNGS[@]}"; do record rss_mib "$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/${PIDS[$N]}/status")"; done
  done
  for N in "${RUNGS[@]}"; do kill "${PIDS[$N]}"; wait "${PIDS[$N]}" 2>/dev/null || true; done
  PIDS=() PORTS=()
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
# each rate's ratio to the first rung's in the same round: the median over the rounds,
# the lowest and the highest (password sign-in: logins per raw hash)
echo "== each rate against the first rung's, within each round: median (lowest-highest) of $ROUNDS" >&2
python3 - "$ROUNDS_CSV" "$OUT/ladder-ratios.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
value = {(r["store"], int(r["n"]), int(r["round"]), r["metric"]): float(r["value"]) for r in rows}
rates = ["client_credentials", "refresh", "introspection", "userinfo", "password_sign_in",
         "jwks", "feed_reads_few", "feed_reads_many"]
costs = [m + "_cpu_us" for m in rates if m != "password_sign_in"]
def rate(store, n, rnd, metric):
    v = value.get((store, n, rnd, metric))
    if v is not None and metric == "password_sign_in":
        raw = value.get((store, n, rnd, "raw_argon2id_per_s"))
        v = v / raw if raw else None
    return v
stores = sorted({r["store"] for r in rows})
rungs = sorted({int(r["n"]) for r in rows if int(r["n"]) > 0})
rounds = sorted({int(r["round"]) for r in rows if int(r["round"]) > 0})
with open(sys.argv[2], "w") as out:
    out.write("store,n,metric,median_ratio,lowest,highest,rounds\n")
    for store in stores:
        for n in rungs[1:]:
            for metric in rates + costs:
                ratios = [rate(store, n, r, metric) / rate(store, rungs[0], r, metric) for r in rounds
                          if rate(store, n, r, metric) and rate(store, rungs[0], r, metric)]
                if not ratios:
                    continue
                line = (store, n, metric, statistics.median(ratios), min(ratios), max(ratios))
                out.write("%s,%d,%s,%.3f,%.3f,%.3f,%d\n" % (line + (len(ratios),)))
                print("%-9s %8d %-28s %.2f (%.2f-%.2f)" % line)
PY
python3 benches/ladder_plot.py "$CSV" "$OUT/ladder.png" >/dev/null
echo "wrote $CSV (medians), $ROUNDS_CSV (every round), $OUT/ladder-ratios.csv and $OUT/ladder.png" >&2
