#!/usr/bin/env bash
# Refresh-token rotations/s (every request rotates a real token chain), introspections/s
# over 1,000 distinct access tokens round-robin, and the Redis commands one refresh costs
# (INFO commandstats over the refresh run).
#   bash benches/session_load.sh [duration_seconds] [connections]
# TESSERA_VERIFIED_TOKEN_CACHE=0 turns the verified-signature cache off for comparison;
# BENCH_STORE=embedded runs it on the embedded store (see benches/lib.sh).
# Needs wrk (installed from Debian if missing), PostgreSQL and Redis (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bash scripts/services
cargo build --release --quiet --bin tessera

source benches/lib.sh
start_tessera

PASSWORD=correct-Horse-battery-staple-42
curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}"
bench_client

# one session per connection; scope without openid: access token only (ES256), as an SPA refresh
EMAIL=bench@example.com login_sessions $((CONNS + 8)) "$WORK/tokens"
for _ in $(seq 1 1000); do
  curl -sf -u "$ID:$SECRET" localhost:18080/oauth2/token -d grant_type=client_credentials; echo
done | python3 -c 'import json,sys; [print(json.loads(l)["access_token"]) for l in sys.stdin if l.strip()]' >"$WORK/access"

refresh_lua "$WORK/tokens" "$WORK/refresh.lua"
introspect_lua "$WORK/introspect.lua" "$WORK/access"
redis_calls() { [ -n "${DATABASE_URL:-}" ] || { echo 0; return; }; redis-cli INFO commandstats | python3 -c 'import re,sys; print(sum(int(m) for m in re.findall(r"calls=(\d+)", sys.stdin.read())))'; }
evalsha_calls() { [ -n "${DATABASE_URL:-}" ] || { echo 0; return; }; redis-cli INFO commandstats | python3 -c 'import re,sys; m=re.search(r"cmdstat_evalsha:calls=(\d+)", sys.stdin.read()); print(m.group(1) if m else 0)'; }

echo "== refresh_token rotation (-t1 -c$CONNS, each connection its own chain)" >&2
BEFORE=$(redis_calls); EBEFORE=$(evalsha_calls)
wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/refresh.lua" http://127.0.0.1:18080/oauth2/token >"$WORK/refresh.txt"
AFTER=$(redis_calls); EAFTER=$(evalsha_calls)
grep -E "requests in|Requests/sec|Non-2xx|  50%|  99%" "$WORK/refresh.txt" >&2 || true
REFRESH=$(ok_rate "$WORK/refresh.txt")
TOTAL=$(awk '/requests in/ {print $1}' "$WORK/refresh.txt")
if [ -n "${PROFILE_INTROSPECTION:-}" ]; then
  (sleep 3; perf record -F 1999 -g -p "$TPID" -o "$PROFILE_INTROSPECTION" -- sleep 5 >/dev/null 2>&1) &
fi
echo "== introspection, 1,000 distinct access tokens round-robin (-t1 -c64), cache entries: ${TESSERA_VERIFIED_TOKEN_CACHE:-10000}" >&2
wrk -t1 -c64 -d"${DURATION}s" --latency -s "$WORK/introspect.lua" http://127.0.0.1:18080/oauth2/introspect >"$WORK/introspect.txt"
grep -E "Requests/sec|Non-2xx|  50%|  99%" "$WORK/introspect.txt" >&2 || true
INTRO=$(ok_rate "$WORK/introspect.txt")

echo
echo "refreshes_per_s=$REFRESH introspections_per_s=$INTRO"
echo "redis_round_trips_per_refresh=$(python3 -c "print(f'{($EAFTER-$EBEFORE)/$TOTAL:.2f}')") (EVALSHA) redis_commands_per_refresh=$(python3 -c "print(f'{($AFTER-$BEFORE)/$TOTAL:.2f}')") (including the script's own and INFO)"
