#!/usr/bin/env bash
# client_credentials tokens/s and refresh_token rotations/s with the DEFAULT configuration
# (issue 12: every rate limit and the lockout at their production defaults), measured in
# the same run, so the refresh rate is reported as a ratio of the client_credentials rate.
#   bash benches/default_config_load.sh [duration_seconds] [refresh_connections]
# The refresh sessions are set up by password logins from 127.0.0.2, 127.0.0.3, … (ten per
# address: the default per-address login limit), so nothing is relaxed for the set-up.
# Needs wrk (installed from Debian if missing), PostgreSQL and Redis (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bash scripts/services
cargo build --release --quiet --bin tessera

# the production defaults, spelled out so benches/lib.sh does not turn them off
export TESSERA_RATE_LIMIT_LOGIN_IP=10/900 TESSERA_RATE_LIMIT_REGISTER_IP=20/3600 \
  TESSERA_LOCKOUT_THRESHOLD=5 TESSERA_LOCKOUT_ACCOUNT_CEILING=100/3600
source benches/lib.sh
start_tessera

PASSWORD=correct-Horse-battery-staple-42
curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}"
bench_client

for n in $(seq 0 $((CONNS + 7))); do
  curl -sf --interface "127.0.0.$((n / 10 + 2))" localhost:18080/oauth2/token -d grant_type=password \
    -d client_id=spa -d scope=email -d username=bench@example.com --data-urlencode "password=$PASSWORD"
  echo
done | python3 -c 'import json,sys; [print(json.loads(l)["refresh_token"]) for l in sys.stdin if l.strip()]' >"$WORK/tokens"
[ "$(wc -l <"$WORK/tokens")" -ge "$CONNS" ] || { echo "could not set up $CONNS sessions" >&2; exit 1; }

cat >"$WORK/cc.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)"
wrk.body = "grant_type=client_credentials"
LUA
# a queue of the sessions' current tokens (ring indexes, a plain find of the new token),
# so the load generator spends as little of the shared CPU as it can
cat >"$WORK/refresh.lua" <<LUA
local tokens, head, tail = {}, 1, 0
for line in io.lines("$WORK/tokens") do tail = tail + 1; tokens[tail] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  local token = "tsr_exhausted"
  if head <= tail then token = tokens[head]; tokens[head] = nil; head = head + 1 end
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&client_id=spa&refresh_token=" .. token)
end
response = function(status, headers, body)
  local at = body:find('"refresh_token":"', 1, true)
  if at then tail = tail + 1; tokens[tail] = body:sub(at + 17, at + 63) end
end
LUA

echo "== client_credentials (-t1 -c64, basic auth, default limits)" >&2
wrk -t1 -c64 -d"${DURATION}s" --latency -s "$WORK/cc.lua" http://127.0.0.1:18080/oauth2/token >"$WORK/cc.txt"
grep -E "Requests/sec|Non-2xx|  50%|  99%" "$WORK/cc.txt" >&2 || true
CC=$(ok_rate "$WORK/cc.txt")
echo "== refresh_token rotation (-t1 -c$CONNS, each connection its own chain, public spa client)" >&2
wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/refresh.lua" http://127.0.0.1:18080/oauth2/token >"$WORK/refresh.txt"
grep -E "Requests/sec|Non-2xx|  50%|  99%" "$WORK/refresh.txt" >&2 || true
REFRESH=$(ok_rate "$WORK/refresh.txt")

echo
echo "client_credentials_per_s=$CC refreshes_per_s=$REFRESH refresh_to_cc=$(python3 -c "print(f'{$REFRESH/$CC:.3f}')")"
