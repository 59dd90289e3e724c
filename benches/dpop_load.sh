#!/usr/bin/env bash
# What DPoP costs (book § DPoP and PAR): client_credentials and refresh with a DPoP proof
# against the same without, in the same run, and tessera-verify's DPoP verification rate
# against its bearer rate.
#   bash benches/dpop_load.sh [duration_seconds] [workers]
# BENCH_STORE=embedded runs it on the embedded store (see benches/lib.sh).
# Needs PostgreSQL and Redis for the default store (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
WORKERS=${2:-32}
[ "${BENCH_STORE:-external}" = embedded ] || bash scripts/services
cargo build --release --quiet --locked --bin tessera --example dpop_load

export TESSERA_ISSUER=http://127.0.0.1:18080
source benches/lib.sh
start_tessera
curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"correct-Horse-battery-staple-42"}'
bench_client
echo "== ${BENCH_STORE:-external} store, $WORKERS workers, ${DURATION}s per phase" >&2
./target/release/examples/dpop_load http://127.0.0.1:18080 "$TESSERA_ISSUER" "$ID" "$SECRET" \
  "$DURATION" "$WORKERS" "$TPID"
