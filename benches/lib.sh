# Shared set-up for the load scripts: source it, then call start_tessera.
# With BENCH_STORE=embedded the server runs on the embedded store in $WORK/data
# (no PostgreSQL, no Redis); otherwise (the default, "external")
# start_tessera creates a throw-away database, a work dir ($WORK) and a Redis prefix, starts
# the release binary on 127.0.0.1:18080/18081 with the caller's TESSERA_* settings, waits
# until it is ready, and removes everything on exit. The server's pid is in $TPID.
# Rate limits and lockout are off unless the caller sets them: every load comes from one
# address and a few accounts, which the production defaults would (rightly) refuse.

start_tessera() {
  DB=tessera_bench_$$
  WORK=$(mktemp -d)
  trap cleanup_tessera EXIT
  if [ "${BENCH_STORE:-external}" = embedded ]; then
    unset DATABASE_URL REDIS_URL
    export TESSERA_DATA_DIR="$WORK/data"
  else
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB REDIS_URL=redis://127.0.0.1:6379 \
      TESSERA_REDIS_PREFIX="bench$$:"
  fi
  export TESSERA_KEK="$(openssl rand -base64 32)" \
    TESSERA_PUBLIC_ADDR=127.0.0.1:18080 TESSERA_ADMIN_ADDR=127.0.0.1:18081 \
    TESSERA_LOG=${TESSERA_LOG:-warn} \
    TESSERA_RATE_LIMIT_LOGIN_IP=${TESSERA_RATE_LIMIT_LOGIN_IP:-0} \
    TESSERA_LOCKOUT_ACCOUNT_CEILING=${TESSERA_LOCKOUT_ACCOUNT_CEILING:-0} \
    TESSERA_RATE_LIMIT_REGISTER_IP=${TESSERA_RATE_LIMIT_REGISTER_IP:-0} \
    TESSERA_LOCKOUT_THRESHOLD=${TESSERA_LOCKOUT_THRESHOLD:-0}
  ./target/release/tessera serve >"$WORK/tessera.log" 2>&1 &
  TPID=$!
  for _ in $(seq 1 100); do curl -sf localhost:18080/readyz >/dev/null && break; sleep 0.2; done
}

cleanup_tessera() {
  kill "${TPID:-}" 2>/dev/null || true; wait 2>/dev/null || true
  if [ -n "${TESSERA_DATA_DIR:-}" ] && [ -f "$TESSERA_DATA_DIR/tessera.db" ]; then
    echo "embedded_db_bytes=$(du -cb "$TESSERA_DATA_DIR"/tessera.db* | tail -1 | cut -f1) ($(cd "$TESSERA_DATA_DIR" && du -b tessera.db* | awk '{printf "%s %s; ", $2, $1}'))" >&2
  fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null || true
  redis-cli --scan --pattern "bench$$:*" | xargs -r redis-cli del >/dev/null || true
  rm -rf "$WORK"
}

# Successful requests per second in a wrk output file ($1) over $DURATION seconds.
ok_rate() {
  python3 - "$1" "$DURATION" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{(total - (int(bad.group(1)) if bad else 0)) / float(sys.argv[2]):.1f}")
PY
}

# A confidential client_credentials client: sets ID and SECRET.
bench_client() {
  local client
  client=$(./target/release/tessera clients create --name bench --grant client_credentials)
  ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$client")
  SECRET=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$client")
}

# $1 sessions of the password grant for $EMAIL / $PASSWORD at port ${PORT:-18080}: their
# refresh tokens, one per line, into file $2.
login_sessions() {
  for _ in $(seq 1 "$1"); do
    curl -sf "localhost:${PORT:-18080}/oauth2/token" -d grant_type=password -d client_id=spa -d scope=email \
      -d "username=$EMAIL" --data-urlencode "password=$PASSWORD"; echo
  done | python3 -c 'import json,sys; [print(json.loads(l)["refresh_token"]) for l in sys.stdin if l.strip()]' >"$2"
}

# A wrk script (file $2) rotating the refresh tokens of file $1: each answer's token is
# sent next, so every connection follows its own chain; $3 ms between requests (default 0).
refresh_lua() {
  cat >"$2" <<LUA
local tokens = {}
for line in io.lines("$1") do tokens[#tokens + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  local token = table.remove(tokens, 1) or "tsr_exhausted"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&client_id=spa&refresh_token=" .. token)
end
response = function(status, headers, body)
  local token = body:match('"refresh_token":"(tsr_[^"]+)"')
  if token then tokens[#tokens + 1] = token end
end
delay = function() return ${3:-0} end
LUA
}

# A wrk script (file $1) asking for client_credentials tokens as $ID / $SECRET; $2 ms
# between requests (default 0).
cc_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)"
wrk.body = "grant_type=client_credentials"
delay = function() return ${2:-0} end
LUA
}

# A wrk script (file $1) introspecting the access tokens of file $2 round-robin as $ID /
# $SECRET; $3 ms between requests (without it, no delay callback: wrk sends at once).
introspect_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)"
local tokens, next = {}, 0
for line in io.lines("$2") do tokens[#tokens + 1] = line end
request = function()
  next = next % #tokens + 1
  return wrk.format(nil, nil, nil, "token=" .. tokens[next])
end
${3:+delay = function() return $3 end}
LUA
}
