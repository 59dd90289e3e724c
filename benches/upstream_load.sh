#!/usr/bin/env bash
# Upstream sign-ins/s on the hosted pages, against codes for an already signed-in browser
# in the same run (book § Upstream providers). The provider is the tests' scripted OpenID
# provider, served by the load process itself on 127.0.0.1:18090.
#   bash benches/upstream_load.sh [duration_seconds] [workers]
# BENCH_STORE=embedded runs it on the embedded store (see benches/lib.sh).
# Needs PostgreSQL and Redis for the default store (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
WORKERS=${2:-16}
[ "${BENCH_STORE:-external}" = embedded ] || bash scripts/services
cargo build --release --quiet --locked --bin tessera --example upstream_load

source benches/lib.sh
start_tessera
CLIENT=$(./target/release/tessera clients create --name "Upstream bench" --public --first-party \
  --grant authorization_code --scope openid --scope email --redirect-uri http://127.0.0.1:9/cb |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
echo '{"id": "bench", "kind": "oidc", "name": "Bench IdP", "issuer": "http://127.0.0.1:18090",
  "client_id": "tessera-at-fake", "client_secret": "fake-secret-0123456789",
  "scopes": ["openid", "email"]}' | ./target/release/tessera providers add >/dev/null
echo "== ${BENCH_STORE:-external} store, $WORKERS workers, ${DURATION}s per phase" >&2
./target/release/examples/upstream_load http://127.0.0.1:18080 "$CLIENT" 18090 "$DURATION" "$WORKERS" "$TPID"
