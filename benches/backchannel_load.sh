#!/usr/bin/env bash
# Back-channel logout (book § Integrating), in one run against one local receiver (a Python
# ThreadingHTTPServer on loopback that counts the logout tokens POSTed to it):
#   1. the receiver's ceiling: POSTs/s a plain client (Python http.client, 4 keep-alive
#      connections, as many as the outbox delivers at once) makes to it with a body the size
#      of tessera's;
#   2. tessera: N sessions of one user at a client with a backchannel_logout_uri, ended at
#      once by an operator (`revoke-sessions`); the time until the receiver holds N logout
#      tokens, each signed (RS256) at delivery, as tokens/s and as a ratio to the ceiling;
#   3. what the back channel adds to ending sessions: the revoke-sessions call for N
#      sessions at that client against N sessions at a client without a back channel.
#   bash benches/backchannel_load.sh [sessions]      # default 1000
# BENCH_STORE=embedded runs it on the embedded store (see benches/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
[ "${BENCH_STORE:-external}" = embedded ] || bash scripts/services
cargo build --release --quiet --locked --bin tessera

RP_PORT=18090
python3 - "$RP_PORT" <<'PY' &
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count, lock = 0, threading.Lock()
class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if body.startswith(b"logout_token="):
            with lock: count += 1
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def do_GET(self):
        global count
        with lock:
            text = str(count).encode()
            if self.path == "/reset": count = 0
        self.send_response(200); self.send_header("content-length", str(len(text))); self.end_headers()
        self.wfile.write(text)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
PY
RP_PID=$!
for _ in $(seq 1 50); do curl -sf "localhost:$RP_PORT/count" >/dev/null && break; sleep 0.1; done
received() { curl -sf "localhost:$RP_PORT/count"; }
now() { python3 -c 'import time; print(time.time())'; }
# Waits until the receiver holds $1 tokens (at most 300 s); prints the seconds since $2.
wait_received() {
  for _ in $(seq 1 3000); do [ "$(received)" -ge "$1" ] && break; sleep 0.1; done
  python3 -c "import time; print(f'{time.time() - $2:.3f}')"
}

# 1. the ceiling
START=$(now)
python3 - "$RP_PORT" "$N" <<'PY'
import http.client, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
body = "logout_token=" + "x" * 900
def post(k):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(k):
        c.request("POST", "/bc", body, {"content-type": "application/x-www-form-urlencoded"})
        c.getresponse().read()
threads = [threading.Thread(target=post, args=(n // 4 + (i < n % 4),)) for i in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
PY
CEILING_S=$(wait_received "$N" "$START")
curl -sf "localhost:$RP_PORT/reset" >/dev/null

source benches/lib.sh
ADMIN=$(openssl rand -hex 24)
export TESSERA_EMAIL_VERIFICATION=off \
  TESSERA_ADMIN_TOKENS="bench:$(printf %s "$ADMIN" | sha256sum | cut -d' ' -f1)"
start_tessera
trap 'kill $RP_PID 2>/dev/null || true; cleanup_tessera' EXIT
echo "== ${BENCH_STORE:-external} store, $N sessions" >&2
PASSWORD=correct-Horse-battery-staple-42
# a client: --backchannel-logout-uri and the like as $@; sets ID and SECRET
client() {
  local made
  made=$(./target/release/tessera clients create --name rp --grant password --grant refresh_token \
    --first-party --scope openid "$@")
  ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$made")
  SECRET=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$made")
}
# a user with $N sessions at client $ID; prints the user's id
user_with_sessions() {
  local email=$1
  curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$PASSWORD\"}"
  seq 1 "$N" | xargs -P 4 -I{} curl -sf -o /dev/null -u "$ID:$SECRET" localhost:18080/oauth2/token \
    -d grant_type=password -d scope=openid -d "username=$email" --data-urlencode "password=$PASSWORD"
  curl -sf -H "authorization: Bearer $ADMIN" "localhost:18081/admin/users?email=$email" | python3 -c 'import json,sys; print(json.load(sys.stdin)["users"][0]["id"])'
}
# ends every session of user $1; prints the call's seconds
revoke() {
  curl -sf -o /dev/null -w '%{time_total}' -X POST -H "authorization: Bearer $ADMIN" \
    "localhost:18081/admin/users/$1/revoke-sessions"
}

# 3 (control). sessions at a client without a back channel
client
PLAIN_USER=$(user_with_sessions plain@example.com)
PLAIN_S=$(revoke "$PLAIN_USER")

# 2. sessions at a client with one
client --backchannel-logout-uri "http://127.0.0.1:$RP_PORT/bc"
RP_USER=$(user_with_sessions rp@example.com)
START=$(now)
RP_S=$(revoke "$RP_USER")
DELIVERED_S=$(wait_received "$N" "$START")

python3 - "$N" "$CEILING_S" "$DELIVERED_S" "$PLAIN_S" "$RP_S" "$(received)" <<'PY'
import sys
n, ceiling, delivered, plain, rp = int(sys.argv[1]), *map(float, sys.argv[2:6])
got = sys.argv[6]
print(f"receiver ceiling (http.client, 4 connections): {n / ceiling:.0f} POSTs/s")
print(f"back channel: {n} sessions ended, all {got} logout tokens delivered in {delivered:.2f} s: "
      f"{n / delivered:.0f} tokens/s = {n / delivered / (n / ceiling):.2f} x the ceiling")
print(f"revoke-sessions for {n} sessions: {plain * 1000:.0f} ms without a back channel, "
      f"{rp * 1000:.0f} ms with one ({rp / plain:.2f} x)")
PY
