#!/usr/bin/env bash
# The outbox over SMTP (book § Email), in one run against one local SMTP server (aiosmtpd,
# tests/interop/smtp_sink.py, plain SMTP on loopback):
#   1. the sink's ceiling: messages/s a plain SMTP client (Python's smtplib, one connection)
#      delivers to it;
#   2. the outbox's throughput: N password resets asked for at once (the reset links and
#      their messages written in one transaction each), timed until the sink holds all N;
#      reported as messages/s and as a ratio to the ceiling;
#   3. what a reset request costs the server, in CPU per request, for an address with an
#      account (token, sealed message, one transaction, the SMTP delivery) and for one
#      without (nothing written, nothing sent): the difference is the reset's whole cost,
#      outbox included. Both answer 202 at once; the work runs after the answer.
#   bash benches/outbox_load.sh [messages]      # default 2000
# BENCH_STORE=embedded runs it on the embedded store (see benches/lib.sh).
# Needs PostgreSQL and Redis for the default store (scripts/services), and aiosmtpd
# (scripts/setup installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
[ "${BENCH_STORE:-external}" = embedded ] || bash scripts/services
cargo build --release --quiet --locked --bin tessera

SINK_PORT=18025
SINK_DIR=$(mktemp -d)
python3 tests/interop/smtp_sink.py "$SINK_DIR" "$SINK_PORT" >"$SINK_DIR.ready" &
SINK_PID=$!
for _ in $(seq 1 50); do grep -q ready "$SINK_DIR.ready" 2>/dev/null && break; sleep 0.1; done
stop_sink() { kill "$SINK_PID" 2>/dev/null || true; rm -rf "$SINK_DIR" "$SINK_DIR.ready"; }

received() { find "$SINK_DIR" -name '*.json' | wc -l; }
# Waits until the sink holds $1 messages (at most 300 s); prints the seconds it took
# from $2 (epoch seconds, fractional).
wait_received() {
  local want=$1 since=$2
  for _ in $(seq 1 3000); do
    [ "$(received)" -ge "$want" ] && break
    sleep 0.1
  done
  python3 -c "import time; print(f'{time.time() - $since:.3f}')"
}
cpu_seconds() { awk '{print ($14 + $15) / 100}' "/proc/$TPID/stat"; }

# 1. the ceiling: smtplib over one connection, N messages of the size tessera sends
START=$(python3 -c 'import time; print(time.time())')
python3 - "$SINK_PORT" "$N" <<'PY'
import smtplib, sys
from email.message import EmailMessage
port, n = int(sys.argv[1]), int(sys.argv[2])
body = "x" * 1200
with smtplib.SMTP("127.0.0.1", port) as smtp:
    for i in range(n):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "no-reply@example.com", f"u{i}@example.com", "ceiling"
        m.set_content(body)
        m.add_alternative(f"<p>{body}</p>", subtype="html")
        smtp.send_message(m)
PY
CEILING_S=$(wait_received "$N" "$START")
rm -f "$SINK_DIR"/*.json

source benches/lib.sh
export TESSERA_SMTP_URL="smtp://127.0.0.1:$SINK_PORT?tls=none" \
  TESSERA_MAIL_FROM=no-reply@example.com \
  TESSERA_PASSWORD_RESET_URL=https://app.example.com/reset \
  TESSERA_EMAIL_VERIFICATION=off \
  TESSERA_RATE_LIMIT_FORGOT_EMAIL=0 TESSERA_RATE_LIMIT_FORGOT_IP=0
start_tessera
trap 'stop_sink; cleanup_tessera' EXIT
echo "== ${BENCH_STORE:-external} store, $N messages" >&2

# the accounts: 200, registered in parallel (hashing dominates)
USERS=200
seq 1 "$USERS" | xargs -P 4 -I{} curl -sf -o /dev/null localhost:18080/api/v1/accounts \
  -H 'content-type: application/json' \
  -d '{"email":"u{}@example.com","password":"correct-Horse-battery-staple-42"}'

# $1 reset requests, 8 at a time; the i-th for the address awk's "$2" prints
resets() {
  seq 1 "$1" | awk -v users="$USERS" "{ print $2 }" | xargs -P 8 -I{} curl -sf -o /dev/null \
    localhost:18080/api/v1/password/forgot -H 'content-type: application/json' -d '{"email":"{}"}'
}

# 2. the outbox's throughput
CPU0=$(cpu_seconds)
START=$(python3 -c 'import time; print(time.time())')
resets "$N" '"u" ($1 % users + 1) "@example.com"' 
ASKED_S=$(python3 -c "import time; print(f'{time.time() - $START:.3f}')")
OUTBOX_S=$(wait_received "$N" "$START")
CPU_KNOWN=$(python3 -c "print(f'{($(cpu_seconds) - $CPU0) / $N * 1000:.3f}')")

# 3. an address without an account: the same request, nothing written or sent
CPU0=$(cpu_seconds)
resets "$N" '"nobody" $1 "@example.com"' 
sleep 1
CPU_UNKNOWN=$(python3 -c "print(f'{($(cpu_seconds) - $CPU0) / $N * 1000:.3f}')")

python3 - "$N" "$CEILING_S" "$ASKED_S" "$OUTBOX_S" "$CPU_KNOWN" "$CPU_UNKNOWN" "$(received)" <<'PY'
import sys
n, ceiling, asked, outbox, known, unknown = int(sys.argv[1]), *map(float, sys.argv[2:7])
got = sys.argv[7]
print(f"sink ceiling (smtplib, 1 connection): {n / ceiling:.0f} messages/s")
print(f"outbox: {n} resets asked in {asked:.2f} s, all {got} delivered in {outbox:.2f} s: "
      f"{n / outbox:.0f} messages/s = {n / outbox / (n / ceiling):.2f} x the ceiling")
print(f"server CPU per reset request: {known:.2f} ms with an account (issue, outbox, SMTP), "
      f"{unknown:.2f} ms without; the reset's own cost {known - unknown:.2f} ms")
PY
