#!/usr/bin/env bash
# JWKS throughput against a bare actix-web handler serving the same bytes, both measured in
# this run with the same load generator on this machine, plus tessera's idle RSS.
#   bash benches/jwks_load.sh [duration_seconds] [connections] [rounds]
# Both servers are pinned to CPU 0 and wrk to CPU 1 (taskset), so neither server competes
# with the load generator; rounds alternate bare/tessera and the medians are compared.
# Needs wrk (installed from Debian if missing), PostgreSQL and Redis (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-64}
ROUNDS=${3:-3}
WORKERS=${TESSERA_HTTP_WORKERS:-1}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bash scripts/services
cargo build --release --quiet --bin tessera --example bare_jwks

DB=tessera_bench_$$
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
WORK=$(mktemp -d)
cleanup() {
  kill "${TPID:-}" "${BPID:-}" "${HPID:-}" 2>/dev/null || true; wait 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  redis-cli --scan --pattern "bench$$:*" | xargs -r redis-cli del >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB REDIS_URL=redis://127.0.0.1:6379 \
TESSERA_REDIS_PREFIX="bench$$:" TESSERA_KEK="$(openssl rand -base64 32)" \
TESSERA_PUBLIC_ADDR=127.0.0.1:18080 TESSERA_ADMIN_ADDR=127.0.0.1:18081 \
TESSERA_HTTP_WORKERS=$WORKERS TESSERA_LOG=${TESSERA_LOG:-info} \
  taskset -c 0 ./target/release/tessera serve >"$WORK/tessera.log" 2>&1 &
TPID=$!
for _ in $(seq 1 100); do curl -sf localhost:18080/readyz >/dev/null && break; sleep 0.2; done
curl -sf -D "$WORK/headers.txt" localhost:18080/.well-known/jwks.json >"$WORK/jwks.json"
tail -n +2 "$WORK/headers.txt" | tr -d '\r' >"$WORK/headers"
sleep 2
IDLE_RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$TPID/status)

taskset -c 0 ./target/release/examples/bare_jwks 127.0.0.1:18180 "$WORK/jwks.json" "$WORKERS" &
BPID=$!
taskset -c 0 ./target/release/examples/bare_jwks 127.0.0.1:18181 "$WORK/jwks.json" "$WORKERS" "$WORK/headers" &
HPID=$!
sleep 1

rps() { taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$1" >"$WORK/wrk.txt"; grep -E "Requests/sec|  50%|  99%" "$WORK/wrk.txt" | tr -s ' ' | tr '\n' ' ' >&2; echo >&2; awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt"; }
BARE=(); SAME=(); TESS=()
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round bare (body only):         " >&2; BARE+=("$(rps http://127.0.0.1:18180/.well-known/jwks.json)")
  echo "round $round bare (tessera's headers): " >&2; SAME+=("$(rps http://127.0.0.1:18181/.well-known/jwks.json)")
  echo "round $round tessera:                  " >&2; TESS+=("$(rps http://127.0.0.1:18080/.well-known/jwks.json)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
LOADED_RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$TPID/status)

echo
echo "jwks_bytes=$(wc -c <"$WORK/jwks.json") workers=$WORKERS connections=$CONNS duration=${DURATION}s"
echo "bare_rps=[${BARE[*]}] bare_same_headers_rps=[${SAME[*]}] tessera_rps=[${TESS[*]}]"
B=$(median "${BARE[@]}"); H=$(median "${SAME[@]}"); T=$(median "${TESS[@]}")
echo "median bare_rps=$B bare_same_headers_rps=$H tessera_rps=$T"
echo "ratio_vs_bare=$(python3 -c "print(f'{$T/$B:.3f}')") ratio_vs_bare_same_headers=$(python3 -c "print(f'{$T/$H:.3f}')")"
echo "tessera_idle_rss_mib=$(python3 -c "print(f'{$IDLE_RSS_KB/1024:.1f}')") after_load_rss_mib=$(python3 -c "print(f'{$LOADED_RSS_KB/1024:.1f}')")"
