#!/usr/bin/env python3
"""Schedule lag (actual start - planned start) and write rate from a shipwatch SQLite store.

Usage: lag.py DB EVERY_MS FROM_MS TO_MS (--config | --storm) C.yaml

Runs whose start (`results.at_ms`: the probe task's clock reading when it wakes) lies in
[FROM_MS, TO_MS) are counted. Planned starts of a (release, probe) series form a grid
base + j*EVERY:
  --config  the probes were generated with genconfig.py --spread (`jitter: 0s`, a distinct
            `initial_delay` per probe): base = the release's deployed_at + the probe's
            initial_delay, exactly what the scheduler plans (runner.rs).
  --storm   every probe is due at start-up (`jitter: 0s` after a restart, when deployed_at +
            initial_delay is long past): base = the first start seen in the window, for all.
A run's lag is measured from the latest planned start at or before it (1 ms tolerance for the
ms truncation of at_ms), so it is exact while lags stay below EVERY; a run later than EVERY
shifts the probe's schedule (runner.rs restarts from "now"), which shows as planned runs
missing: planned = grid points in the window, runs = rows stored.
Prints one line of key=value pairs.
"""
import json
import re
import sqlite3
import sys
from collections import defaultdict
from datetime import datetime, timezone

db, every, t_from, t_to = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
mode = sys.argv[5]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def rfc3339_ms(s):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", s)
    base = datetime.fromisoformat(m.group(1) + (m.group(3).replace("Z", "+00:00"))).astimezone(timezone.utc)
    frac = (m.group(2) or "0").ljust(9, "0")
    return int(base.timestamp()) * 1000 + int(frac) / 1e6


runs = defaultdict(list)
for rel, probe, at in con.execute(
    "SELECT release_id, probe, at_ms FROM results WHERE at_ms >= ? AND at_ms < ?", (t_from, t_to)
):
    runs[(rel, probe)].append(at)

cfg = open(sys.argv[6]).read()
delay = {}
for p, line in re.findall(r"^\s+(p\d+): (.*)$", cfg, re.M):
    m = re.search(r"initial_delay: (\d+)ms", line)
    delay[p] = int(m.group(1)) if m else 0
deployed = {}
for rid, body in con.execute("SELECT id, body FROM releases"):
    deployed[rid] = rfc3339_ms(json.loads(body)["deployed_at"])
if mode == "--config":
    base = {(r, p): deployed[r] + d for r in deployed for p, d in delay.items()}
else:
    t0 = min(min(v) for v in runs.values())
    base = {(r, p): t0 for r in deployed for p in delay}

lags = []
planned = 0
for k, b in base.items():
    # grid points in [t_from, t_to)
    first = max(0, -(-(t_from - b) // every))
    last = (t_to - 1 - b) // every
    planned += max(0, int(last - first + 1))
    for at in runs.get(k, []):
        off = at - b + 1  # 1 ms tolerance: at_ms is truncated
        lags.append(max(0.0, off % every - 1) if off >= 0 else 0.0)
lags.sort()
rows = sum(len(v) for v in runs.values())


def pct(p):
    return round(lags[min(len(lags) - 1, int(p / 100 * len(lags)))]) if lags else "nan"


secs = (t_to - t_from) / 1000
print(
    f"rows={rows} planned={planned} series={len(runs)} "
    f"lag_p50_ms={pct(50)} lag_p90_ms={pct(90)} lag_p99_ms={pct(99)} lag_max_ms={round(lags[-1]) if lags else 'nan'} "
    f"rows_per_s={rows / secs:.1f} planned_per_s={planned / secs:.1f}"
)
