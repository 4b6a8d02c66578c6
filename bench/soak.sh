#!/usr/bin/env bash
# Soak test (issue 6, "Load"; not run in CI): the daemon under sustained API load while probes
# run and releases are created, deployed, ticked and waived. It checks that nothing answers 5xx,
# that memory does not grow, and that the daemon is alive and ready at the end. It exits non-zero
# when a check fails.
#
# What runs (everything on 127.0.0.1, free ports):
#   - target: nginx (keep-alive, `return 200 "ok\n"`, bench/lib.sh start_nginx).
#   - daemon: the release binary (`cargo build --release --locked`, copied into a temp dir), with
#     a config from bench/genconfig.py: PROBES (1000) HTTP probes every EVERY (10s), spread evenly
#     over the interval (--spread). They are bound round-robin to 40 of the 50 checklist items;
#     the last MANUAL (10) items are left manual for tick/waive. The config sets an api_token.
#   - BASE (1) base release, created planned and then deployed, with a 1h window. It runs
#     PROBES / EVERY = 100 probe runs/s throughout.
#   - mutation loop (bench/soak.py churn). Every CREATE_EVERY s (2) it:
#       - creates a planned release with window CHURN_MIN/CHURN_MAX (1s/2s) and deploys it;
#       - alternately ticks and waives its MANUAL manual items;
#       - makes three calls whose 4xx is the right answer: deploy again (409), tick an automated
#         item (409), create without the token (401).
#     The short window keeps the probe load bounded. Each churn release starts its 1,000 probe
#     tasks, runs about 200 of them, then fails at max ("automated items not complete"), and its
#     tasks are cancelled. So tasks are started and stopped all the time, and closed releases
#     accumulate in memory at one per CREATE_EVERY s.
#   - RSS sampler: VmRSS from /proc/PID/status every second (bench/soak.py rss).
#   - after a WARMUP (30 s: three probe intervals, so every probe of the base release has a result
#     and most of the start-up growth is over; wrk with the same mix for the last 5 s),
#     `wrk -tTHREADS -cCONNS -dDURATION` (2, 100, 60 s). It uses a Lua mix over the releases known
#     at its start, 20 requests per round:
#     8 GET /api/v1/releases/{id}, 4 GET /api/v1/releases, 4 GET /, 3 GET /metrics, and
#     1 GET /api/v1/releases/soak-missing-N (404 expected; counted apart). Its response() hook
#     counts statuses; done() prints them with req/s and latency percentiles.
#
# Checks:
#   - no 5xx, from wrk and from the mutation loop;
#   - no non-2xx under wrk other than the expected 404s, and every mutation answered with its
#     expected status;
#   - no socket errors or timeouts under wrk (--timeout WRK_TIMEOUT, 10s);
#   - memory: the mean VmRSS of the last RSS_WINDOW s (10) of the wrk run is at most
#       (mean of its first RSS_WINDOW s) x RSS_RATIO (1.10) + RSS_ABS_MIB (2 MiB)
#       + (releases added during the run) x RSS_PER_RELEASE_KIB (512 KiB).
#     Closed releases stay in memory, so releases added during the run (about 30 in 60 s)
#     legitimately add heap. With 1,000 probes, glibc's malloc_stats puts that at about
#     300-500 KiB of live heap per churn release. The report also prints the growth per release
#     added and the least-squares trend. MALLOC_STATS=1 adds glibc's heap figures (in use vs
#     taken from the system) before and after the run, read through gdb; that tells live data
#     from allocator retention;
#   - probes kept running (at least 50% of the planned runs); the daemon is alive and /-/ready is
#     200 at the end; no panic in its log.
#
# Also printed: requests/s, p50/p99/max latency, probes executed (shipwatch_probe_runs_total),
# releases created, ticks and waives, each mutation's latency, and the WARN/ERROR lines of the
# daemon log.
#
# Usage: bash bench/soak.sh     (~2.5 min with a warm build; needs nginx-light, wrk, curl, python3)
# Env overrides: DURATION=60 PROBES=1000 EVERY=10s BASE=1 THREADS=2 CONNS=100 CREATE_EVERY=2
#   CHURN_MIN=1s CHURN_MAX=2s MANUAL=10 WARMUP=30 RSS_WINDOW=10 RSS_RATIO=1.10 RSS_ABS_MIB=2
#   RSS_PER_RELEASE_KIB=512 WRK_TIMEOUT=10s
#   KEEP=1 (keep the temp dir: config, daemon log, samples, sw.db)
#   CHURN=0 (no mutation loop: growth under read load alone)
#   MALLOC_STATS=1 (glibc heap in use vs from the system, via gdb, before and after wrk)
# The daemon inherits the environment, so e.g. MALLOC_ARENA_MAX=2 bash bench/soak.sh runs it
# with fewer glibc arenas.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need nginx wrk curl python3
DURATION=${DURATION:-60}
PROBES=${PROBES:-1000}
EVERY=${EVERY:-10s}
BASE=${BASE:-1}
THREADS=${THREADS:-2}
CONNS=${CONNS:-100}
CREATE_EVERY=${CREATE_EVERY:-2}
CHURN_MIN=${CHURN_MIN:-1s}
CHURN_MAX=${CHURN_MAX:-2s}
MANUAL=${MANUAL:-10}
WARMUP=${WARMUP:-30}
RSS_WINDOW=${RSS_WINDOW:-10}
RSS_RATIO=${RSS_RATIO:-1.10}
RSS_ABS_MIB=${RSS_ABS_MIB:-2}
RSS_PER_RELEASE_KIB=${RSS_PER_RELEASE_KIB:-512}
MALLOC_STATS=${MALLOC_STATS:-0}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
KEEP=${KEEP:-0}
CHURN=${CHURN:-1}
[ "$WARMUP" -ge 6 ] || { echo "WARMUP must be at least 6 (s)" >&2; exit 2; }
TOKEN="soak-$RANDOM$RANDOM"
export CREATE_EVERY CHURN_MIN CHURN_MAX

work=$(mktemp -d -t shipwatch-soak.XXXXXX)
CHURN_PID= RSS_PID= WRK_PID=
soak_cleanup() {
  local rc=$?
  # The helpers first (the churn loop writes its summary on SIGTERM), then nginx and the daemon.
  for p in $WRK_PID $CHURN_PID $RSS_PID; do kill "$p" 2>/dev/null || true; done
  for p in $WRK_PID $CHURN_PID $RSS_PID; do wait "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then
    local keep=$work
    work=""
    bench_cleanup || true
    echo "kept: $keep"
  else
    bench_cleanup || true
  fi
  exit "$rc"
}
trap soak_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ulimit -n 65536 2>/dev/null || true

echo "building: cargo build --release --locked"
(cd "$BENCH_ROOT" && cargo build --release --locked --quiet)
cp "$BENCH_ROOT/target/release/shipwatch" "$work/shipwatch"
BIN="$work/shipwatch"

start_nginx on
cp config/release-checklist.md "$work/"
python3 bench/genconfig.py --probes "$PROBES" --every "$EVERY" --spread --manual "$MANUAL" --api-token "$TOKEN" \
  --url "http://127.0.0.1:$NGINX_PORT/" > "$work/c.yaml"
start_shipwatch "$work/c.yaml"
LOG="$work/c.yaml.log"

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r)"
echo "shipwatch $(cd "$BENCH_ROOT" && git rev-parse --short HEAD)$(cd "$BENCH_ROOT" && git diff --quiet HEAD -- src || echo '+dirty') at $SW_URL (pid $SW_PID); target nginx at 127.0.0.1:$NGINX_PORT"
echo "config: $PROBES HTTP probes every $EVERY (spread), bound to $((50 - MANUAL)) items, $MANUAL manual items; api_token set"

# post PATH JSON: a mutating call with the token; prints the body, fails on non-2xx.
post() {
  curl -fsS -X POST "$SW_URL$1" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' ${2:+-d "$2"}
}
for i in $(seq 1 "$BASE"); do
  id=$(post /api/v1/releases "{\"service\":\"soak-base$i\",\"version\":\"1.0.0\",\"planned\":true,\"window\":{\"min\":\"1h\",\"max\":\"2h\"}}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  post "/api/v1/releases/$id/deploy" >/dev/null
  BASE_ID=${BASE_ID:-$id}
  echo "base release $id deployed"
done

python3 bench/soak.py rss "$SW_PID" "$work/rss.txt" &
RSS_PID=$!
if [ "$CHURN" = 1 ]; then
  python3 bench/soak.py churn "$SW_URL" "$TOKEN" "$work/churn.json" &
  CHURN_PID=$!
fi
echo "warm-up ${WARMUP} s (mutation loop running; wrk with the same mix for the last 5 s)"
sleep $((WARMUP - 5))

# The wrk script: ids of the releases known now.
ids=$(curl -fsS "$SW_URL/api/v1/releases" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d if isinstance(d, list) else d.get("releases", [])
print(",".join(json.dumps(r["id"]) for r in d))')
cat > "$work/soak.lua" <<LUA
-- generated by bench/soak.sh: a mix of reads; counts statuses (expected 404s apart).
local ids = { $ids }
local plan = { "one", "list", "one", "page", "metrics", "one", "list", "one", "page", "missing",
               "one", "metrics", "one", "list", "page", "one", "metrics", "one", "list", "page" }
local threads = {}
local n, j = 0, 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  n, j = tid * 7, tid * 5
  n2xx, n404x, n4xx, n5xx, nother, bad = 0, 0, 0, 0, 0, ""
end

function request()
  n = n + 1
  local k = plan[n % #plan + 1]
  if k == "one" then
    j = j + 1
    return wrk.format("GET", "/api/v1/releases/" .. ids[j % #ids + 1])
  elseif k == "list" then
    return wrk.format("GET", "/api/v1/releases")
  elseif k == "page" then
    return wrk.format("GET", "/")
  elseif k == "metrics" then
    return wrk.format("GET", "/metrics")
  else
    return wrk.format("GET", "/api/v1/releases/soak-missing-" .. n)
  end
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    n2xx = n2xx + 1
    return
  end
  if status == 404 and body:find("soak-missing-", 1, true) then
    n404x = n404x + 1
    return
  end
  if status >= 500 then n5xx = n5xx + 1 elseif status >= 400 then n4xx = n4xx + 1 else nother = nother + 1 end
  if #bad < 2000 then bad = bad .. "SOAK_BAD " .. status .. " " .. body:sub(1, 200):gsub("\n", " ") .. "\n" end
end

function done(summary, latency, requests)
  local t = { n2xx = 0, n404x = 0, n4xx = 0, n5xx = 0, nother = 0 }
  local b = ""
  for _, th in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
    b = b .. th:get("bad")
  end
  local e = summary.errors
  local s = summary.duration / 1e6
  io.write(string.format(
    "SOAK_WRK requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f bytes=%d n2xx=%d n404x=%d n4xx=%d n5xx=%d nother=%d e_connect=%d e_read=%d e_write=%d e_timeout=%d e_status=%d\n",
    summary.requests, s, summary.requests / s, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.bytes, t.n2xx, t.n404x, t.n4xx, t.n5xx, t.nother,
    e.connect, e.read, e.write, e.timeout, e.status))
  io.write(b)
end
LUA
wrk -t"$THREADS" -c"$CONNS" -d5s --timeout "$WRK_TIMEOUT" -s "$work/soak.lua" "$SW_URL" >/dev/null

# MALLOC_STATS=1: glibc's malloc_stats() through gdb (the daemon stops for a moment; outside the
# measured window): heap in use (live objects) vs bytes taken from the system (RSS-ish).
mstat() {
  [ "$MALLOC_STATS" = 1 ] || return 0
  timeout 30 gdb -p "$SW_PID" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || { echo "$1: gdb failed" >> "$work/malloc.txt"; return 0; }
  sleep 0.3
  awk -v l="$1" '/^Total \(incl. mmap\):/ { f = 1 } f && /^system bytes/ { s = $NF } f && /^in use bytes/ { u = $NF; f = 0 }
    END { printf "%s: from the system %.1f MiB, in use %.1f MiB\n", l, s / 1048576, u / 1048576 }' "$LOG" >> "$work/malloc.txt"
}
metric() { python3 bench/soak.py metric "$SW_URL" "$1"; }
nrel() { curl -fsS "$SW_URL/api/v1/releases" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d if isinstance(d, list) else d.get("releases", [])))'; }
REL0=$(nrel)
RUNS0=$(metric shipwatch_probe_runs_total)
echo "sizes now: /api/v1/releases/{base} $(curl -fsS "$SW_URL/api/v1/releases/$BASE_ID" | wc -c) B, /api/v1/releases $(curl -fsS "$SW_URL/api/v1/releases" | wc -c) B, / $(curl -fsS "$SW_URL/" | wc -c) B, /metrics $(curl -fsS "$SW_URL/metrics" | wc -c) B"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --timeout $WRK_TIMEOUT over $REL0 releases (mutation loop and probes continue)"
mstat "before wrk"
T0=$(now_ms)
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" -s "$work/soak.lua" "$SW_URL" > "$work/wrk.out" 2>&1 &
WRK_PID=$!
wait "$WRK_PID" || echo "wrk exited with status $?"
WRK_PID=
T1=$(now_ms)
mstat "after wrk"

# Stop the mutation loop and the sampler, then look at the daemon.
if [ -n "$CHURN_PID" ]; then
  kill -TERM "$CHURN_PID" 2>/dev/null || true
  wait "$CHURN_PID" 2>/dev/null || echo "mutation loop exited with status $?"
  CHURN_PID=
fi
ALIVE=0
if [ -r "/proc/$SW_PID/stat" ] && [ "$(awk '{ print $3 }' "/proc/$SW_PID/stat")" != Z ]; then ALIVE=1; fi
HWM=$(hwm_kib "$SW_PID" 2>/dev/null || echo 0)
kill -TERM "$RSS_PID" 2>/dev/null || true
wait "$RSS_PID" 2>/dev/null || true
RSS_PID=
READY=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$SW_URL/-/ready" || true)
RUNS1=$(metric shipwatch_probe_runs_total 2>/dev/null || echo "$RUNS0")
REL1=$(nrel 2>/dev/null || echo "$REL0")

set +e
python3 bench/soak.py report wrk_out="$work/wrk.out" churn="$CHURN" churn_out="$work/churn.json" rss_out="$work/rss.txt" log="$LOG" \
  wrk_t0="$T0" wrk_t1="$T1" rss_window="$RSS_WINDOW" rss_ratio="$RSS_RATIO" rss_abs_mib="$RSS_ABS_MIB" rss_per_release_kib="$RSS_PER_RELEASE_KIB" malloc_out="$work/malloc.txt" \
  threads="$THREADS" conns="$CONNS" duration="$DURATION" wrk_timeout="$WRK_TIMEOUT" \
  mix="8 one release : 4 list : 4 / : 3 /metrics : 1 unknown id (404)" \
  create_every="$CREATE_EVERY" churn_min="$CHURN_MIN" churn_max="$CHURN_MAX" probes="$PROBES" every="$EVERY" base="$BASE" \
  runs0="$RUNS0" runs1="$RUNS1" rel_start="$REL0" rel_end="$REL1" hwm="${HWM:-0}" alive="$ALIVE" ready="$READY"
RC=$?
set -e
exit "$RC"
