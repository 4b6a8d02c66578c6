#!/usr/bin/env bash
# Scheduler at scale: 10,000 probe runs scheduled every 10 s (1,000 runs/s) against a fast local
# target (nginx, keep-alive on: shipwatch's pooled connections, as it runs in production).
# "Bindings" = probe runs per interval: a probe runs once per release per tick however many
# items bind it, so 10,000 = 200 distinct probes (each bound to one of the 50 checklist items,
# 4 per item) x 50 releases.
#
# Runs (probe runs read back from the SQLite `results` table, see bench/lag.py):
# Planned starts are known exactly: probes get `jitter: 0s` and distinct `initial_delay`s
# spreading them evenly over the interval (genconfig.py --spread), so probe k of a release is
# planned at deployed_at + initial_delay_k + j*10s (runner.rs); lag = actual start (`at_ms`) -
# planned start.
#   reference  1,000 bindings (20 probes x 50 releases), REF s: the same code at a tenth of the
#              load, for the ratios.
#   scale      10,000 bindings (200 probes x 50 releases), MEASURE s (120 = the issue's 2 min).
#   restart    the scale store restarted with `jitter: 0s`: every probe of every release is due
#              at start-up (then every 10 s), a storm of 10,000 runs; lag from the first start
#              seen. Counted from launch for STORM s (+ time to ready); CPU from launch too.
#              Also start-to-ready with 50 releases in the store.
#   one-release 10,000 bindings as 10,000 distinct probes in ONE release, ONE s: the shape
#              that exposes per-result cost growing with the release's size.
# Lag = actual start - planned start (bench/lag.py). CPU from /proc/PID/stat over the window,
# RSS peak = VmHWM, write rate = result rows per second (one row per run), and results per
# transaction from shipwatch's own counters (the recorder groups results: up to 512 per
# transaction, gathered for up to 50 ms).
#
# Usage: bash bench/scheduler_scale.sh     (MEASURE=120 REF=15 STORM=20 ONE=15 by default; ~5 min)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need nginx curl python3
MEASURE=${MEASURE:-120}
REF=${REF:-15}
STORM=${STORM:-20}
ONE=${ONE:-15}
work=$(mktemp -d)
trap bench_cleanup EXIT
ulimit -n 65536 2>/dev/null || true
build_shipwatch
start_nginx on

ROWS=()
# measure NAME BINDINGS SECONDS DIR MODE: CPU, threads and RSS over SECONDS, then the lags.
# FROM_MS (optional): count runs from then instead of now (the restart counts from launch).
measure() {
  local name=$1 bindings=$2 secs=$3 dir=$4 mode=$5
  local c0 t0 th0 c1 t1 th1 hwm rss lag split
  local b0 r0 b1 r1
  c0=$(ticks "$SW_PID"); t0=$(now_ms); th0=$(thread_ticks "$SW_PID")
  b0=$(metric_sum shipwatch_result_batches_total); r0=$(metric_sum shipwatch_results_stored_total)
  sleep "$secs"
  [ -n "${FROM_MS:-}" ] && t0=$FROM_MS && c0=0 && th0="0 0 0 0" && b0=0 && r0=0
  c1=$(ticks "$SW_PID"); t1=$(now_ms); th1=$(thread_ticks "$SW_PID")
  b1=$(metric_sum shipwatch_result_batches_total); r1=$(metric_sum shipwatch_results_stored_total)
  hwm=$(hwm_kib "$SW_PID"); rss=$(rss_kib "$SW_PID")
  split=$(thread_split "$th0" "$th1")
  stop_shipwatch
  lag=$(python3 bench/lag.py "$dir/sw.db" 10000 "$t0" "$t1" "$mode" "$dir/c.yaml")
  local v
  v() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<< "$lag"; }
  ROWS+=("$(awk -v n="$name" -v b="$bindings" -v w=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$HZ" -v hwm="$hwm" -v rss="$rss" \
    -v runs="$(v rows)" -v planned="$(v planned)" -v p50="$(v lag_p50_ms)" -v p99="$(v lag_p99_ms)" -v mx="$(v lag_max_ms)" 'BEGIN {
      cpu = c / hz; s = w / 1000;
      printf "%-12s %8d %5.0f %8.1f %8.1f %8s %8s %8s %6.2f %7.0f %7.0f %7.0f",
        n, b, s, planned / s, runs / s, p50, p99, mx, cpu / s, cpu / runs * 1e6, hwm / 1024, rss / 1024 }')")
  echo "  $name: $split"
  awk -v n="$name" -v b=$((${b1%.*} - ${b0%.*})) -v r=$((${r1%.*} - ${r0%.*})) -v w=$((t1 - t0)) 'BEGIN {
    printf "  %s: %d results in %d transactions = %.1f results per transaction, %.1f transactions/s\n", n, r, b, (b ? r / b : 0), b / (w / 1000) }'
}

# setup NAME PROBES RELEASES: config + daemon + releases, warm up one interval.
setup() {
  local dir=$work/$1
  mkdir -p "$dir"; cp config/release-checklist.md "$dir/"
  python3 bench/genconfig.py --probes "$2" --every 10s --spread --url "http://127.0.0.1:$NGINX_PORT/" > "$dir/c.yaml"
  start_shipwatch "$dir/c.yaml"
  local t0; t0=$(now_ms)
  for i in $(seq 1 "$3"); do create_release "svc$i" 1.0.0 >/dev/null; done
  CREATE_MS=$(( ($(now_ms) - t0) / $3 ))
  sleep 11 # every series has started (10 s interval + initial_delay)
  DIR=$dir
}

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r)"
echo "shipwatch $(cd "$BENCH_ROOT" && git rev-parse --short HEAD)$(cd "$BENCH_ROOT" && git diff --quiet HEAD -- src || echo '+dirty'); target nginx $(nginx -v 2>&1 | cut -d/ -f2) keep-alive"
echo "CPU split by thread:"

setup reference 20 50
measure reference 1000 "$REF" "$DIR" --config

setup scale 200 50
CREATE_SCALE=$CREATE_MS
measure scale 10000 "$MEASURE" "$DIR" --config

# restart the scale store with `jitter: 0s`: everything is due at once
python3 bench/genconfig.py --probes 200 --every 10s --jitter 0s --url "http://127.0.0.1:$NGINX_PORT/" > "$work/scale/c.yaml"
FROM_MS=$(now_ms)
start_shipwatch "$work/scale/c.yaml"
READY_MS=$(( $(now_ms) - FROM_MS ))
measure restart 10000 "$STORM" "$work/scale" --storm
FROM_MS=

setup one-release 10000 1
measure one-release 10000 "$ONE" "$DIR" --config

echo
printf '%-12s %8s %5s %8s %8s %8s %8s %8s %6s %7s %7s %7s\n' run bindings secs planned/s stored/s "p50_ms" "p99_ms" "max_ms" cores "µs/run" "HWM_MB" "RSS_MB"
printf '%s\n' "${ROWS[@]}"
get() { printf '%s\n' "${ROWS[@]}" | awk -v n="$1" -v f="$2" '$1 == n { print $f }'; }
echo
echo "create release (POST, 50 items) while the others run: ${CREATE_SCALE} ms each; restart with 50 releases in the store: start to /-/ready ${READY_MS} ms"
echo "ratios, scale vs reference (10x the load, same run):"
echo "  CPU per run $(ratio "$(get scale 10)" "$(get reference 10)")x, cores $(ratio "$(get scale 9)" "$(get reference 9)")x, peak RSS $(ratio "$(get scale 11)" "$(get reference 11)")x, p99 lag $(get scale 7) ms vs $(get reference 7) ms"
echo "  restart storm vs steady scale: p99 lag $(get restart 7) ms vs $(get scale 7) ms, peak RSS $(ratio "$(get restart 11)" "$(get scale 11)")x"
echo "  one release of 10,000 probes vs 50 x 200: stored/s $(ratio "$(get one-release 5)" "$(get scale 5)")x, CPU per run $(ratio "$(get one-release 10)" "$(get scale 10)")x"
echo "goals (scale run): p99 lag <= 50 ms: $(get scale 7) ms; under one core: $(get scale 9) cores; peak RSS <= 150 MB: $(get scale 11) MB"
du -cm "$work"/scale/sw.db* | awk 'END { printf "store after the scale and restart runs: %d MB (sw.db + WAL)\n", $1 }'
