#!/usr/bin/env bash
# Issue 16's benchmarks, on one store (BENCH_STORE=embedded, or PostgreSQL + Redis):
# tessera-verify's verifications/s against raw josekit on the same token, with the feed
# followed; revocation-to-refusal at the default 5 s poll; the feed with 100,000 events.
#   bash benches/verify_load.sh [iterations] [revocations]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services
cargo build --release --quiet --bin tessera --example feed_throughput
cargo build --release --quiet -p tessera-verify --example bench

source benches/lib.sh
export TESSERA_ISSUER=http://127.0.0.1:18080
start_tessera
bench_client
echo "== store=${BENCH_STORE:-external}: verification, revocation to refusal" >&2
./target/release/examples/bench "$TESSERA_ISSUER" "$ID" "$SECRET" "${1:-20000}" "${2:-10}"
echo "== the feed with 100,000 events" >&2
./target/release/examples/feed_throughput "$TESSERA_ISSUER" "$ID" "$SECRET" 100000
