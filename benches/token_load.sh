#!/usr/bin/env bash
# Password logins/s against the raw argon2id verification rate measured in the same run,
# and client_credentials tokens/s (ES256) on keep-alive connections.
#   bash benches/token_load.sh [duration_seconds]
# Needs wrk (installed from Debian if missing), PostgreSQL and Redis (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bash scripts/services
cargo build --release --quiet --bin tessera --example hash_rate

export TESSERA_HASH_QUEUE=256
source benches/lib.sh
start_tessera

PASSWORD=correct-Horse-battery-staple-42
curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}"
bench_client

cat >"$WORK/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&client_id=spa&scope=openid&username=bench%40example.com&password=$PASSWORD"
LUA
cat >"$WORK/cc.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)"
wrk.body = "grant_type=client_credentials"
LUA

echo "== raw argon2id (same parameters, one thread per core)" >&2
RAW=$(./target/release/examples/hash_rate "$DURATION" | tee /dev/stderr | sed 's/.*per_second=//')
echo "== password grant logins" >&2
wrk -t2 -c8 -d"${DURATION}s" --latency -s "$WORK/login.lua" http://127.0.0.1:18080/oauth2/token >"$WORK/login.txt"
grep -E "Requests/sec|Non-2xx|  50%|  99%" "$WORK/login.txt" >&2 || true
LOGINS=$(ok_rate "$WORK/login.txt")
echo "== client_credentials" >&2
wrk -t1 -c64 -d"${DURATION}s" --latency -s "$WORK/cc.lua" http://127.0.0.1:18080/oauth2/token >"$WORK/cc.txt"
grep -E "Requests/sec|Non-2xx|  50%|  99%" "$WORK/cc.txt" >&2 || true
CC=$(ok_rate "$WORK/cc.txt")

echo
echo "raw_argon2_per_s=$RAW logins_per_s=$LOGINS ratio=$(python3 -c "print(f'{$LOGINS/$RAW:.3f}')")"
echo "client_credentials_per_s=$CC"
