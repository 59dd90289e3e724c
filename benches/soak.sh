#!/usr/bin/env bash
# Soak (issue 17): a steady mixed load (paced, not saturating: about 400 JWKS, 200
# client_credentials, 200 introspection and 200 refresh requests and 5 password logins per
# second) against two instances on one PostgreSQL and one Redis for
# DURATION seconds (default 600) in 10-second rounds — password logins, refresh rotation,
# client_credentials, introspection and JWKS, each round's kinds spread over both
# instances — with a key rotation every minute. Every round samples both instances' RSS,
# each kind's p99 and its failures into soak.csv, and the script renders soak.png.
#   bash benches/soak.sh [duration_seconds] [out_dir]
# Rate limits and lockout are off (one address, few accounts: see benches/lib.sh), so any
# failure is a real one. Needs wrk and PostgreSQL + Redis (scripts/services).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-600}
OUT=${2:-benches/results}
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check matplotlib
bash scripts/services
cargo build --release --quiet --bin tessera

ADMIN_TOKEN=$(openssl rand -hex 32)
export TESSERA_ADMIN_TOKENS="soak:$(printf %s "$ADMIN_TOKEN" | sha256sum | cut -d' ' -f1)"
export TESSERA_HASH_QUEUE=256 TESSERA_ACCESS_TOKEN_TTL=3600
source benches/lib.sh
start_tessera
A=$TPID
TESSERA_PUBLIC_ADDR=127.0.0.1:18090 TESSERA_ADMIN_ADDR=127.0.0.1:18091 \
  ./target/release/tessera serve >"$WORK/tessera-b.log" 2>&1 &
B=$!
trap 'kill $B 2>/dev/null || true; cleanup_tessera' EXIT
for _ in $(seq 1 100); do curl -sf localhost:18090/readyz >/dev/null && break; sleep 0.2; done

PASSWORD=correct-Horse-battery-staple-42 EMAIL=soak@example.com
curl -sf -o /dev/null localhost:18080/api/v1/accounts -H 'content-type: application/json' \
  -d "{\"email\":\"soak@example.com\",\"password\":\"$PASSWORD\"}"
bench_client
for _ in $(seq 1 200); do
  curl -sf -u "$ID:$SECRET" localhost:18080/oauth2/token -d grant_type=client_credentials; echo
done | python3 -c 'import json,sys; [print(json.loads(l)["access_token"]) for l in sys.stdin if l.strip()]' >"$WORK/access"

cat >"$WORK/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&client_id=spa&scope=email&username=soak%40example.com&password=$PASSWORD"
delay = function() return 150 end
LUA
cc_lua "$WORK/cc.lua" 4
introspect_lua "$WORK/introspect.lua" "$WORK/access" 4
# each round refreshes sessions made for it: every response's token is the next request's
refresh_lua "$WORK/round-tokens" "$WORK/refresh.lua" 8
cat >"$WORK/jwks.lua" <<LUA
delay = function() return 2 end
LUA

rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
CSV="$OUT/soak.csv"
echo "second,rss_a_mib,rss_b_mib,kind,instance,requests,failures,p99_ms" >"$CSV"
ROUNDS=$((DURATION / 10))
START=$(date +%s)
for round in $(seq 0 $((ROUNDS - 1))); do
  if [ "$round" -gt 0 ] && [ $((round % 6)) -eq 0 ]; then
    curl -sf -o /dev/null -X POST -H "authorization: Bearer $ADMIN_TOKEN" localhost:18081/admin/keys/rotate \
      || echo "round $round: key rotation failed" >&2
  fi
  # this round's kinds alternate between the instances
  if [ $((round % 2)) -eq 0 ]; then P=18080; Q=18090; else P=18090; Q=18080; fi
  PORT=$Q login_sessions 6 "$WORK/round-tokens"
  LOAD=()
  W=(wrk -t1 -d9s --timeout 10s --latency)
  "${W[@]}" -c1 -s "$WORK/jwks.lua" http://127.0.0.1:$P/.well-known/jwks.json >"$WORK/jwks.txt" & LOAD+=($!)
  "${W[@]}" -c1 -s "$WORK/cc.lua" http://127.0.0.1:$Q/oauth2/token >"$WORK/cc.txt" & LOAD+=($!)
  "${W[@]}" -c1 -s "$WORK/introspect.lua" http://127.0.0.1:$P/oauth2/introspect >"$WORK/introspect.txt" & LOAD+=($!)
  "${W[@]}" -c2 -s "$WORK/refresh.lua" http://127.0.0.1:$Q/oauth2/token >"$WORK/refresh.txt" & LOAD+=($!)
  "${W[@]}" -c1 -s "$WORK/login.lua" http://127.0.0.1:$P/oauth2/token >"$WORK/login.txt" & LOAD+=($!)
  wait "${LOAD[@]}"
  SECOND=$(( $(date +%s) - START ))
  RA=$(rss $A); RB=$(rss $B)
  for kind in jwks cc introspect refresh login; do
    case $kind in jwks|introspect|login) INSTANCE=$P ;; *) INSTANCE=$Q ;; esac
    python3 - "$WORK/$kind.txt" "$SECOND,$RA,$RB,$kind,$INSTANCE" >>"$CSV" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
bad += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")
print(f"{sys.argv[2]},{total},{bad},{p99:.2f}")
PY
  done
  echo "round $round at ${SECOND}s: RSS a ${RA} MiB, b ${RB} MiB" >&2
done

python3 - "$CSV" "$OUT/soak.png" <<'PY'
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = list(csv.DictReader(open(sys.argv[1])))
fig, (rss, p99, fails) = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
seconds = sorted({int(r["second"]) for r in rows})
first = {int(r["second"]): r for r in rows}
rss.plot(seconds, [float(first[s]["rss_a_mib"]) for s in seconds], label="instance A")
rss.plot(seconds, [float(first[s]["rss_b_mib"]) for s in seconds], label="instance B")
rss.set_ylabel("RSS (MiB)"); rss.legend(); rss.set_ylim(bottom=0)
for kind in ["jwks", "cc", "introspect", "refresh", "login"]:
    mine = [r for r in rows if r["kind"] == kind]
    p99.plot([int(r["second"]) for r in mine], [float(r["p99_ms"]) for r in mine], label=kind)
    fails.plot([int(r["second"]) for r in mine], [int(r["failures"]) for r in mine], label=kind)
p99.set_ylabel("p99 per 10 s round (ms)"); p99.set_yscale("log"); p99.legend(ncol=5)
fails.set_ylabel("failed requests per round"); fails.set_xlabel("seconds (key rotation every 60 s)")
fails.legend(ncol=5)
for ax in (rss, p99, fails):
    for s in range(60, max(seconds) + 1, 60):
        ax.axvline(s, color="grey", linewidth=0.5, alpha=0.5)
fig.suptitle("tessera soak: two instances, one PostgreSQL + Redis, mixed load")
fig.tight_layout(); fig.savefig(sys.argv[2], dpi=90)
PY
python3 - "$CSV" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for kind in ["jwks", "cc", "introspect", "refresh", "login"]:
    mine = [r for r in rows if r["kind"] == kind]
    total = sum(int(r["requests"]) for r in mine); fails = sum(int(r["failures"]) for r in mine)
    p99 = [float(r["p99_ms"]) for r in mine]
    print(f"{kind}: {total} requests, {fails} failed, p99 median {statistics.median(p99):.2f} ms, max {max(p99):.2f} ms")
seconds = sorted({int(r["second"]) for r in rows}); first = {int(r["second"]): r for r in rows}
warm = [s for s in seconds if s >= 60] or seconds
for side in ["a", "b"]:
    values = [float(first[s][f"rss_{side}_mib"]) for s in warm]
    print(f"RSS {side} after warm-up (60 s on): min {min(values):.1f} MiB, max {max(values):.1f} MiB, first {values[0]:.1f}, last {values[-1]:.1f}")
PY
