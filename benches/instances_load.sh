#!/usr/bin/env bash
# client_credentials and refresh throughput with 1, 2 and 3 instances on one PostgreSQL and
# one Redis (issue 17): one wrk per instance, all at once, 16 connections in all, summed.
# On this 2-core machine every instance, wrk, PostgreSQL and Redis share the same cores, so
# this shows where the machine, not only the shared backends, starts to limit.
#   bash benches/instances_load.sh [duration_seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bash scripts/services
cargo build --release --quiet --bin tessera

source benches/lib.sh
start_tessera
PIDS=("$TPID")
for port in 18090 18100; do
  TESSERA_PUBLIC_ADDR=127.0.0.1:$port TESSERA_ADMIN_ADDR=127.0.0.1:$((port + 1)) \
    ./target/release/tessera serve >"$WORK/tessera-$port.log" 2>&1 &
  PIDS+=($!)
done
trap 'kill "${PIDS[@]:1}" 2>/dev/null || true; cleanup_tessera' EXIT
for port in 18090 18100; do
  for _ in $(seq 1 100); do curl -sf "localhost:$port/readyz" >/dev/null && break; sleep 0.2; done
done
PASSWORD=correct-Horse-battery-staple-42
curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d "{\"email\":\"scale@example.com\",\"password\":\"$PASSWORD\"}"
bench_client
cat >"$WORK/cc.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)"
wrk.body = "grant_type=client_credentials"
LUA
sessions() { # $1 how many, $2 file
  for _ in $(seq 1 "$1"); do
    curl -sf localhost:18080/oauth2/token -d grant_type=password -d client_id=spa -d scope=email \
      -d username=scale@example.com --data-urlencode "password=$PASSWORD"; echo
  done | python3 -c 'import json,sys; [print(json.loads(l)["refresh_token"]) for l in sys.stdin if l.strip()]' >"$2"
}
refresh_lua() { # $1 token file, $2 script
  cat >"$2" <<LUA
local tokens = {}
for line in io.lines("$1") do tokens[#tokens + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  local token = table.remove(tokens, 1) or "tsr_exhausted"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&client_id=spa&refresh_token=" .. token)
end
response = function(status, headers, body)
  local token = body:match('"refresh_token":"(tsr_[^"]+)"')
  if token then tokens[#tokens + 1] = token end
end
LUA
}

PORTS=(18080 18090 18100)
for kind in client_credentials refresh; do
  for n in 1 2 3; do
    CONNS=$((16 / n))
    RUN=()
    for i in $(seq 0 $((n - 1))); do
      if [ "$kind" = refresh ]; then
        sessions $((CONNS + 4)) "$WORK/tokens-$n-$i"
        refresh_lua "$WORK/tokens-$n-$i" "$WORK/refresh-$n-$i.lua"
        SCRIPT="$WORK/refresh-$n-$i.lua"
      else
        SCRIPT="$WORK/cc.lua"
      fi
      wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$SCRIPT" "http://127.0.0.1:${PORTS[$i]}/oauth2/token" >"$WORK/$kind-$n-$i.txt" &
      RUN+=($!)
    done
    wait "${RUN[@]}"
    TOTAL=0
    for i in $(seq 0 $((n - 1))); do
      TOTAL=$(python3 -c "print(round($TOTAL + $(ok_rate "$WORK/$kind-$n-$i.txt"), 1))")
    done
    echo "$kind instances=$n ok_per_second=$TOTAL"
  done
done
