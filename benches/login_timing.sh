#!/usr/bin/env bash
# Refused logins take the same time whatever the account (issue 12, book § Configuration): imported
# bcrypt accounts (cost 10 and 12, as Express apps make them), a registered argon2id
# account and unknown emails, each with a wrong password, interleaved.
#   bash benches/login_timing.sh [rounds]
# Rate limits and the lockout are off (benches/lib.sh): the same few emails fail on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-40}
bash scripts/services
python3 -c "import bcrypt" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check bcrypt
cargo build --release --quiet --bin tessera
source benches/lib.sh
start_tessera

curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d '{"email":"argon@example.com","password":"correct-Horse-battery-staple-42"}'
python3 - >"$WORK/import.jsonl" <<'PY'
import bcrypt, json
for cost in (10, 12):
    hashed = bcrypt.hashpw(b"correct-Horse-battery-staple-42", bcrypt.gensalt(cost)).decode()
    print(json.dumps({"email": f"bcrypt{cost}@example.com", "password_hash": hashed}))
PY
./target/release/tessera users import "$WORK/import.jsonl" >/dev/null
python3 benches/login_timing.py http://127.0.0.1:18080 "$ROUNDS"
