"""Renders benches/ladder.sh's CSV (BENCHMARKS.md § Cost as the data grows: the ladder):
one panel per measured request kind, throughput (solid, left axis) and p99 latency
(dashed, right axis) against the number of users and sessions, a line per store, and
one of start-up time. Prints
each rate as a ratio to the smallest rung's (password sign-in per raw argon2id hash).

    python3 benches/ladder_plot.py benches/results/ladder.csv benches/results/ladder.png
"""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RATES = ["client_credentials", "refresh", "introspection", "userinfo", "password_sign_in",
         "jwks", "feed_reads_few", "feed_reads_many"]
COLOURS = {"embedded": "tab:blue", "external": "tab:orange"}
NAMES = {"embedded": "embedded (SQLite)", "external": "PostgreSQL + Redis"}

rows = list(csv.DictReader(open(sys.argv[1])))
value = {(r["store"], int(r["n"]), r["metric"]): r for r in rows}
stores = sorted({r["store"] for r in rows})
rungs = sorted({int(r["n"]) for r in rows if int(r["n"]) > 0})


def rate(store, n, metric):
    """Requests/s; password sign-in as logins per raw hash."""
    r = value.get((store, n, metric))
    if r is None:
        return None
    v = float(r["value"])
    if metric == "password_sign_in":
        raw = value.get((store, n, "raw_argon2id_per_s"))
        return v / float(raw["value"]) if raw else None
    return v


for store in stores:
    for n in rungs[1:]:
        for metric in RATES:
            now, first = rate(store, n, metric), rate(store, rungs[0], metric)
            if now is not None and first:
                print(f"{store:9} {n:>8} {metric:20} {now / first:.2f}")
        startup = value.get((store, n, "startup_s"))
        empty = value.get((store, 0, "startup_s"))
        if startup and empty:
            print(f"{store:9} {n:>8} {'startup - empty (s)':20} "
                  f"{float(startup['value']) - float(empty['value']):+.3f}")

fig, axes = plt.subplots(3, 3, figsize=(16, 12))
for ax, metric in zip(axes.flat, RATES):
    right = ax.twinx()
    for store in stores:
        xs = [n for n in rungs if (store, n, metric) in value]
        ys = [rate(store, n, metric) for n in xs]
        p99 = [float(value[(store, n, metric)]["p99_ms"]) for n in xs]
        ax.plot(xs, ys, "o-", color=COLOURS.get(store), label=f"{NAMES.get(store, store)}: rate")
        right.plot(xs, p99, "s--", color=COLOURS.get(store), alpha=0.6,
                   label=f"{NAMES.get(store, store)}: p99")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    right.set_ylim(bottom=0)
    ax.set_title(metric.replace("_", " ") + (" (per raw hash)" if metric == "password_sign_in" else ""))
    ax.set_xlabel("users = sessions = feed events")
    ax.set_ylabel("logins per hash" if metric == "password_sign_in" else "requests/s")
    right.set_ylabel("p99 ms")
ax = axes.flat[len(RATES)]
for store in stores:
    xs = [n for n in rungs if (store, n, "startup_s") in value]
    ax.plot(xs, [float(value[(store, n, "startup_s")]["value"]) for n in xs], "o-",
            color=COLOURS.get(store))
    if (store, 0, "startup_s") in value:
        ax.axhline(float(value[(store, 0, "startup_s")]["value"]), color=COLOURS.get(store),
                   linestyle=":", label=f"{NAMES.get(store, store)}: empty store")
ax.set_xscale("log")
ax.set_ylim(bottom=0)
ax.set_title("start-up, spawn to ready (dotted: empty store)")
ax.set_xlabel("users = sessions = feed events")
ax.set_ylabel("seconds")
handles = axes.flat[0].get_legend_handles_labels()
extra = axes.flat[0].figure.axes[-1].get_legend_handles_labels()
fig.legend(handles[0] + extra[0], handles[1] + extra[1], loc="lower center", ncol=4)
fig.suptitle("tessera: throughput (solid) and p99 (dashed) against data size (benches/ladder.sh)")
fig.tight_layout(rect=(0, 0.05, 1, 0.96))
fig.savefig(sys.argv[2], dpi=80)
