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
EMAIL=scale@example.com
cc_lua "$WORK/cc.lua"

PORTS=(18080 18090 18100)
for kind in client_credentials refresh; do
  for n in 1 2 3; do
    CONNS=$((16 / n))
    RUN=()
    for i in $(seq 0 $((n - 1))); do
      if [ "$kind" = refresh ]; then
        login_sessions $((CONNS + 4)) "$WORK/tokens-$n-$i"
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
