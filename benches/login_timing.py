"""Times refused password logins (issue 12, book § Configuration): imported bcrypt accounts, an argon2
account and unknown emails, interleaved, each a wrong password. Prints p10/p50/p90 (ms)
per kind and whether the middle 80 % of every kind overlaps the others'.
Usage: login_timing.py BASE_URL ROUNDS"""
import json
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

base, rounds = sys.argv[1], int(sys.argv[2])
kinds = {
    "bcrypt cost 10": "bcrypt10@example.com",
    "bcrypt cost 12": "bcrypt12@example.com",
    "argon2id (registered)": "argon@example.com",
    "unknown email": "nobody-{n}@example.com",
}


def attempt(email):
    body = urllib.parse.urlencode({
        "grant_type": "password", "client_id": "spa", "username": email,
        "password": "a-Wrong-password-for-timing-1",
    }).encode()
    started = time.perf_counter()
    try:
        urllib.request.urlopen(urllib.request.Request(base + "/oauth2/token", data=body), timeout=30)
        raise SystemExit("a wrong password was accepted")
    except urllib.error.HTTPError as e:
        if e.code != 400:
            raise SystemExit(f"expected 400, got {e.code}: {e.read()!r}")
    return (time.perf_counter() - started) * 1000


samples = {k: [] for k in kinds}
for n in range(rounds + 3):
    for kind, email in kinds.items():
        took = attempt(email.format(n=n))
        if n >= 3:  # the first rounds warm up the pool and the per-kind averages
            samples[kind].append(took)

ranges = {}
for kind, values in samples.items():
    q = statistics.quantiles(values, n=10)
    ranges[kind] = (q[0], q[-1])
    print(f"{kind:24} p10 {q[0]:7.1f}  p50 {statistics.median(values):7.1f}  p90 {q[-1]:7.1f} ms  (n={len(values)})")
low = max(r[0] for r in ranges.values())
high = min(r[1] for r in ranges.values())
print(json.dumps({"overlap_ms": [round(low, 1), round(high, 1)], "overlaps": low <= high}))
