#!/usr/bin/env bash
# Complete authorization-code flows per second (book § Sign-in with the authorization-code flow, issue 15): authorize (PKCE S256)
# answered from an existing SSO session, then the code redeemed at /oauth2/token. Also the
# flow with a password sign-in on the hosted page, bounded by argon2, against the raw
# argon2id rate measured in the same run.
#   bash benches/authcode_load.sh [duration_seconds]
# BENCH_STORE=embedded runs it on the embedded store (see benches/lib.sh).
# Needs wrk (installed from Debian if missing), PostgreSQL and Redis (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bash scripts/services
cargo build --release --quiet --bin tessera --example hash_rate

export TESSERA_HASH_QUEUE=256
source benches/lib.sh
start_tessera

PASSWORD=correct-Horse-battery-staple-42
REDIRECT=https://app.example.com/cb
curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}"
CLIENT=$(./target/release/tessera clients create --name bench-spa --public --first-party \
  --grant authorization_code --grant refresh_token --redirect-uri "$REDIRECT" \
  --scope openid --scope email | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
VERIFIER=bench-verifier-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ
CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '=')
AUTHORIZE="/oauth2/authorize?response_type=code&client_id=$CLIENT&redirect_uri=$(python3 -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=''))" "$REDIRECT")&scope=openid&state=s&nonce=n&code_challenge=$CHALLENGE&code_challenge_method=S256"

# one sign-in on the hosted page gives the SSO cookie every flow below reuses
JAR="$WORK/jar"
PAGE=$(curl -sf -c "$JAR" -b "$JAR" "localhost:18080$AUTHORIZE")
FLOW=$(sed -n 's/.*name="flow" value="\([^"]*\)".*/\1/p' <<<"$PAGE" | head -1)
CSRF=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' <<<"$PAGE" | head -1)
curl -sf -o /dev/null -c "$JAR" -b "$JAR" localhost:18080/oauth2/authorize/signin \
  --data-urlencode "flow=$FLOW" --data-urlencode "csrf_token=$CSRF" \
  --data-urlencode "email=bench@example.com" --data-urlencode "password=$PASSWORD"
SSO=$(awk '$6 == "tessera_sso" {print $7}' "$JAR")
[ -n "$SSO" ] || { echo "no SSO cookie after the sign-in" >&2; exit 1; }

ENC_REDIRECT=$(python3 -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=''))" "$REDIRECT")
# one script for both runs: SSO=1 sends the SSO cookie (no page), else every flow signs in
cat >"$WORK/flow.lua" <<LUA
local codes, forms, threads = {}, {}, {}
flows = 0 -- global: done() reads it through thread:get
setup = function(thread) table.insert(threads, thread) end
local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
request = function()
  local code = table.remove(codes, 1)
  if code then
    return wrk.format("POST", "/oauth2/token",
      {["Content-Type"] = "application/x-www-form-urlencoded"},
      "grant_type=authorization_code&client_id=$CLIENT&code=" .. code ..
      "&redirect_uri=$ENC_REDIRECT&code_verifier=$VERIFIER")
  end
  local form = table.remove(forms, 1)
  if form then
    return wrk.format("POST", "/oauth2/authorize/signin",
      {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = "tessera_csrf=" .. form[3]},
      "flow=" .. urlencode(form[1]) .. "&csrf_token=" .. urlencode(form[2]) ..
      "&email=bench%40example.com&password=$PASSWORD")
  end
  if \$SSO_FLAG == 1 then
    return wrk.format("GET", "$AUTHORIZE", {["Cookie"] = "tessera_sso=$SSO"})
  end
  return wrk.format("GET", "$AUTHORIZE")
end
response = function(status, headers, body)
  if status == 303 then
    local code = (headers["location"] or headers["Location"] or ""):match("[?&]code=([^&]+)")
    if code then codes[#codes + 1] = code end
  elseif status == 200 and body:find('"access_token"', 1, true) then
    flows = flows + 1
  elseif status == 200 then
    local flow = body:match('name="flow" value="([^"]+)"')
    local csrf = body:match('name="csrf_token" value="([^"]+)"')
    local cookie = (headers["set-cookie"] or headers["Set-Cookie"] or ""):match("tessera_csrf=([^;]+)")
    if flow and csrf and cookie then forms[#forms + 1] = {flow, csrf, cookie} end
  end
end
done = function(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("flows") end
  io.write(string.format("flows=%d\\n", total))
end
LUA
echo "== raw argon2id (same parameters, one thread per core)" >&2
RAW=$(./target/release/examples/hash_rate "$DURATION" | tee /dev/stderr | sed 's/.*per_second=//')

echo "== SSO code flows: authorize (303 with a code) + token (200), -t1 -c32" >&2
sed "s/\$SSO_FLAG/1/" "$WORK/flow.lua" >"$WORK/sso.lua"
wrk -t1 -c32 -d"${DURATION}s" --latency -s "$WORK/sso.lua" http://127.0.0.1:18080/ >"$WORK/sso.txt"
grep -E "Requests/sec|Non-2xx|  50%|  99%|flows=" "$WORK/sso.txt" >&2 || true
FLOWS=$(python3 -c "print(f'{$(sed -n 's/^flows=//p' "$WORK/sso.txt") / $DURATION:.1f}')")

echo "== password code flows: sign-in page + form post (argon2) + token, -t1 -c8" >&2
sed "s/\$SSO_FLAG/0/" "$WORK/flow.lua" >"$WORK/password.lua"
wrk -t1 -c8 -d"${DURATION}s" --latency -s "$WORK/password.lua" http://127.0.0.1:18080/ >"$WORK/password.txt"
grep -E "Requests/sec|Non-2xx|  50%|  99%|flows=" "$WORK/password.txt" >&2 || true
PASSWORD_FLOWS=$(python3 -c "print(f'{$(sed -n 's/^flows=//p' "$WORK/password.txt") / $DURATION:.1f}')")
echo
echo "sso_code_flows_per_s=$FLOWS password_code_flows_per_s=$PASSWORD_FLOWS raw_argon2_per_s=$RAW ratio=$(python3 -c "print(f'{$PASSWORD_FLOWS/$RAW:.3f}')")"
