#!/usr/bin/env bash
# Login flood (issue 6, book § Configuration): JWKS and refresh latency while password logins arrive at
# about 5x what the hashing pool can do, against the same paced load with no flood, plus
# the server's peak RSS.
#   bash benches/flood_load.sh [duration_seconds] [flood_factor]
# 1. capacity: logins/s the pool sustains (closed loop, 8 connections);
# 2. idle: paced JWKS (~1,000/s) and refresh (~100/s) load, p50/p99 of each;
# 3. flood: the same paced load while wrk offers flood_factor x capacity logins/s;
# peak RSS is VmHWM of the server process at the end.
# Rate limits and lockout are off (benches/lib.sh): the flood would otherwise be refused
# by them before it reached the pool, which is what production wants but not what this
# measures. Needs wrk, PostgreSQL and Redis.
# FLOOD_NICE=19 runs the flood's wrk at the lowest priority, as if the attacker were on
# another machine; by default (0) it competes for the same two cores as everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15}
FACTOR=${2:-5}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bash scripts/services
cargo build --release --quiet --bin tessera

source benches/lib.sh
start_tessera
PASSWORD=correct-Horse-battery-staple-42
curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d "{\"email\":\"flood@example.com\",\"password\":\"$PASSWORD\"}"
REFRESH_CONNS=4
EMAIL=flood@example.com
# one session per refresh connection, logged in before any flood
login_sessions $((REFRESH_CONNS + 2)) "$WORK/tokens-idle"
login_sessions $((REFRESH_CONNS + 2)) "$WORK/tokens-flood"
refresh_lua "$WORK/tokens-idle" "$WORK/refresh-idle.lua" 40
refresh_lua "$WORK/tokens-flood" "$WORK/refresh-flood.lua" 40

cat >"$WORK/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&client_id=spa&scope=email&username=flood%40example.com&password=$PASSWORD"
local pace = tonumber(os.getenv("PACE_MS") or "0")
delay = function() return pace end
LUA
cat >"$WORK/jwks.lua" <<'LUA'
delay = function() return 4 end
LUA
stats() { # file -> "rps p50 p99 non2xx"
  python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(label):
    m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", t)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print(f"{rps:.0f} {ms(' 50'):.2f} {ms(' 99'):.2f} {bad.group(1) if bad else 0}")
PY
}
paced_load() { # label
  wrk -t1 -c4 -d"${DURATION}s" --latency -s "$WORK/jwks.lua" http://127.0.0.1:18080/.well-known/jwks.json >"$WORK/jwks-$1.txt" &
  local j=$!
  wrk -t1 -c"$REFRESH_CONNS" -d"${DURATION}s" --latency -s "$WORK/refresh-$1.lua" http://127.0.0.1:18080/oauth2/token >"$WORK/refresh-$1.txt" &
  local r=$!
  wait $j $r
}

echo "== capacity: closed-loop logins, 8 connections, ${DURATION}s" >&2
PACE_MS=0 wrk -t1 -c8 -d"${DURATION}s" --latency -s "$WORK/login.lua" http://127.0.0.1:18080/oauth2/token >"$WORK/capacity.txt"
read -r CAP_RPS _ _ CAP_BAD < <(stats "$WORK/capacity.txt")
CAPACITY=$(python3 -c "print(round(($CAP_RPS * $DURATION - $CAP_BAD) / $DURATION, 1))")
echo "logins/s: $CAPACITY (non-2xx: $CAP_BAD)" >&2

echo "== idle: paced JWKS and refresh" >&2
paced_load idle

FLOOD_CONNS=64
OFFER=$(python3 -c "print($CAPACITY * $FACTOR)")
PACE=$(python3 -c "print(max(1, int($FLOOD_CONNS * 1000 / $OFFER)))")
echo "== flood: ${FACTOR}x capacity = $OFFER logins/s offered ($FLOOD_CONNS connections, ${PACE} ms apart)" >&2
PACE_MS=$PACE nice -n "${FLOOD_NICE:-0}" wrk -t1 -c$FLOOD_CONNS -d"$((DURATION + 4))s" --latency -s "$WORK/login.lua" http://127.0.0.1:18080/oauth2/token >"$WORK/flood.txt" &
FLOOD=$!
sleep 2
paced_load flood
wait $FLOOD
PEAK_RSS=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$TPID/status)

read -r F_RPS F_P50 F_P99 F_BAD < <(stats "$WORK/flood.txt")
echo
echo "capacity_logins_per_s=$CAPACITY"
echo "flood: offered≈$OFFER/s answered=$F_RPS/s non2xx(503 shed)=$F_BAD p50=${F_P50}ms p99=${F_P99}ms"
for kind in jwks refresh; do
  read -r I_RPS I_P50 I_P99 I_BAD < <(stats "$WORK/$kind-idle.txt")
  read -r L_RPS L_P50 L_P99 L_BAD < <(stats "$WORK/$kind-flood.txt")
  RATIO=$(python3 -c "print(round($L_P99 / $I_P99, 2))")
  echo "$kind: idle ${I_RPS}/s p50=${I_P50}ms p99=${I_P99}ms non2xx=$I_BAD | flood ${L_RPS}/s p50=${L_P50}ms p99=${L_P99}ms non2xx=$L_BAD | p99 flood/idle=$RATIO"
done
echo "peak_rss_mib=$PEAK_RSS"
