#!/usr/bin/env bash
# Passkey sign-ins/s through the JSON API, against password sign-ins/s and the raw ECDSA
# P-256 verification rate of the same machine in the same run (book § Passkeys).
#   bash benches/passkey_load.sh [duration_seconds] [workers]
# BENCH_STORE=embedded runs it on the embedded store (see benches/lib.sh). The issuer is
# http://localhost:18080: WebAuthn refuses IP addresses.
# Needs PostgreSQL and Redis for the default store (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
WORKERS=${2:-16}
[ "${BENCH_STORE:-external}" = embedded ] || bash scripts/services
cargo build --release --quiet --locked --bin tessera --example passkey_load

source benches/lib.sh
export TESSERA_ISSUER=http://localhost:18080
start_tessera
echo "== ${BENCH_STORE:-external} store, $WORKERS workers, ${DURATION}s per phase" >&2
./target/release/examples/passkey_load http://localhost:18080 "$DURATION" "$WORKERS" "$TPID"
