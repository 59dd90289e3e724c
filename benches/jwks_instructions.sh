#!/usr/bin/env bash
# Instructions per JWKS request, counted by callgrind (repeatable where wall-clock rates
# are not: the same binary and input give the same count whatever else the machine does).
# Each binary runs twice on the same embedded data directory: with no JWKS request, and
# with N; the difference over N is one request's cost. The key-ring poll runs once a minute
# here, so the background work that passes with the (slow) run adds little to the count.
#   bash benches/jwks_instructions.sh [N] [BINARY...]     (default: 3000, this tree's release build)
# Compare two builds: bash benches/jwks_instructions.sh 3000 /tmp/old/target/release/tessera ./target/release/tessera
# Needs valgrind (installed from Debian if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000}
shift || true
BINARIES=("$@")
if [ ${#BINARIES[@]} -eq 0 ]; then
  cargo build --release --quiet --bin tessera
  BINARIES=(./target/release/tessera)
fi
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export TESSERA_DATA_DIR=$WORK/data TESSERA_PUBLIC_ADDR=127.0.0.1:18480 \
  TESSERA_ADMIN_ADDR=127.0.0.1:18481 TESSERA_HTTP_WORKERS=1 TESSERA_LOG=warn \
  TESSERA_KEYRING_POLL_INTERVAL=60

up() { for _ in $(seq 1 600); do curl -sf localhost:18480/healthz >/dev/null && return; sleep 0.5; done; exit 1; }

# the data directory (keys, KEK) made once, natively, so neither count includes key generation
"${BINARIES[0]}" serve >/dev/null 2>&1 &
up; kill -TERM $!; wait $! 2>/dev/null || true

count() { # binary, requests -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$1" serve >/dev/null 2>&1 &
  local pid=$!
  up
  python3 - "$2" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", 18480)
for _ in range(int(sys.argv[1])):
    c.request("GET", "/.well-known/jwks.json")
    c.getresponse().read()
PY
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  grep -m1 '^summary:\|^totals:' "$WORK/cg.out" | awk '{print $2}'
}

for bin in "${BINARIES[@]}"; do
  base=$(count "$bin" 0)
  loaded=$(count "$bin" "$N")
  echo "binary=$bin instructions_per_jwks_request=$(( (loaded - base) / N )) (base=$base, with_$N=$loaded)"
done
