#!/usr/bin/env bash
# HTTP probe cost: CPU-seconds and wall time per 10,000 HTTP probes against one local target,
# shipwatch vs Debian's prometheus-blackbox-exporter (module http_2xx) doing the same probes.
#
# Target: nginx (one worker, `return 200 "ok\n"`, no access log); its CPU per probe is printed
# (tgt_µs/p, 25-50 µs) to show it is not the bottleneck. With `keepalive_timeout 0` nginx closes
# after every response, so *every probe opens a fresh TCP connection* for both tools (blackbox_exporter
# always does; shipwatch's reqwest client would otherwise reuse a pooled connection). A third
# run shows shipwatch as it behaves against a keep-alive target (pooled connections).
#
# Runs (each measured over MEASURE s after a 3 s warm-up; probes counted by nginx's stub_status):
#   paced:     ~500 probes/s. shipwatch: 10 releases x 50 probes (one per checklist item),
#              every 1s, jitter 1s. blackbox: wrk -t1 -c10 with an 18 ms delay per request.
#   saturated: as fast as each goes with 50 probes in flight. shipwatch: 1 release x 50 probes
#              with `every: 1ms` (a late probe runs again at once: 50 back-to-back loops).
#              blackbox: wrk -t1 -c50, no delay.
# CPU = utime+stime of the process from /proc/PID/stat (all threads). Ratios are shipwatch /
# blackbox_exporter from the same run. The wrk driver's CPU is not counted (Prometheus would be
# the driver); shipwatch's CPU includes recording every result (SQLite, rules), blackbox's
# includes rendering the metrics answer.
# The floor: bench/floor.c (compiled here with gcc -O2) does connect, one GET, read to close,
# close, sequentially FLOOR_N times against the same fresh-connection nginx; its CPU per probe is
# the least a probe can cost, and shipwatch's is printed as a multiple of it (issue 16: ≤ 2×).
# With perf available, a final 8 s profile of the paced shipwatch run splits its CPU.
#
# Usage: bash bench/http_probe_cost.sh        (MEASURE=20 by default; PROFILE=0 skips perf)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need nginx wrk curl python3 prometheus-blackbox-exporter gcc
MEASURE=${MEASURE:-20}
PROFILE=${PROFILE:-1}
work=$(mktemp -d)
trap bench_cleanup EXIT
ulimit -n 65536 2>/dev/null || true
build_shipwatch
cp config/release-checklist.md "$work/"

start_nginx off; FRESH_PORT=$NGINX_PORT; FRESH_WORKERS=$NGINX_WORKERS
start_nginx on; POOL_PORT=$NGINX_PORT; POOL_WORKERS=$NGINX_WORKERS

BB_PORT=$(free_port)
prometheus-blackbox-exporter --config.file=/etc/prometheus/blackbox.yml \
  --web.listen-address="127.0.0.1:$BB_PORT" --log.level=warn > "$work/bb.log" 2>&1 &
BB_PID=$!
BENCH_PIDS+=("$BB_PID")
until curl -fs "http://127.0.0.1:$BB_PORT/-/healthy" >/dev/null 2>&1; do sleep 0.05; done

gcc -O2 -o "$work/floor" bench/floor.c
FLOOR_N=${FLOOR_N:-20000}

ROWS=()
# row NAME PROBES WALL_MS CPU_TICKS TARGET_TICKS MEAN_PROBE_MS ERRORS
row() {
  ROWS+=("$(awk -v n="$1" -v p="$2" -v w="$3" -v c="$4" -v t="$5" -v m="$6" -v e="$7" -v hz="$HZ" 'BEGIN {
    cpu = c / hz; printf "%-34s %8d %7.1f %7.2f %9.0f %9.2f %9.1f %8.2f %10.3f %6d",
      n, p, w / 1000, cpu, cpu / p * 1e6, cpu / p * 1e4, w / p * 10, (t / hz) / p * 1e6, m, e }')")
}

# blackbox NAME TARGET_PORT WORKERS CONNECTIONS DELAY_MS
blackbox_run() {
  local url="http://127.0.0.1:$BB_PORT/probe?module=http_2xx&target=http://127.0.0.1:$2/"
  DELAY_MS=$5 wrk -t1 -c"$4" -d3s -s bench/blackbox.lua "$url" >/dev/null # warm-up
  local r0 c0 n0 t0 r1 c1 n1 t1 out
  r0=$(nginx_requests "$2"); c0=$(ticks "$BB_PID"); n0=$(ticks_sum $3); t0=$(now_ms)
  out=$(DELAY_MS=$5 wrk -t1 -c"$4" -d"${MEASURE}s" -s bench/blackbox.lua "$url")
  r1=$(nginx_requests "$2"); c1=$(ticks "$BB_PID"); n1=$(ticks_sum $3); t1=$(now_ms)
  local ok bad mean
  ok=$(sed -n 's/.*BB ok=\([0-9]*\).*/\1/p' <<< "$out")
  bad=$(sed -n 's/.*bad=\([0-9]*\).*/\1/p' <<< "$out")
  mean=$(sed -n 's/.*mean_probe_ms=\([0-9.]*\).*/\1/p' <<< "$out")
  row "$1" $((r1 - r0 - 1)) $((t1 - t0)) $((c1 - c0)) $((n1 - n0)) "$mean" "$bad"
  [ "$ok" -gt 0 ] || { echo "blackbox probes failed: $out" >&2; exit 1; }
}

# floor NAME TARGET_PORT WORKERS: FLOOR_N sequential connect-GET-read-close probes.
floor_run() {
  "$work/floor" "$2" 2000 >/dev/null # warm-up
  local r0 n0 t0 r1 n1 t1 out cpu_us
  r0=$(nginx_requests "$2"); n0=$(ticks_sum $3); t0=$(now_ms)
  out=$("$work/floor" "$2" "$FLOOR_N") || { echo "floor failed: $out" >&2; exit 1; }
  r1=$(nginx_requests "$2"); n1=$(ticks_sum $3); t1=$(now_ms)
  cpu_us=$(sed -n 's/.*cpu_us=\([0-9]*\).*/\1/p' <<< "$out")
  # Its own getrusage, in clock ticks like the others' /proc figures.
  row "$1" $((r1 - r0 - 1)) $((t1 - t0)) "$(awk -v u="$cpu_us" -v hz="$HZ" 'BEGIN { printf "%.3f", u * hz / 1e6 }')" $((n1 - n0)) 0 0
}

# shipwatch NAME TARGET_PORT WORKERS RELEASES PROBES EVERY JITTER [perf]
shipwatch_run() {
  local dir="$work/sw-$RANDOM"
  mkdir -p "$dir"; cp config/release-checklist.md "$dir/"
  python3 bench/genconfig.py --probes "$5" --every "$6" --jitter "$7" --url "http://127.0.0.1:$2/" > "$dir/c.yaml"
  start_shipwatch "$dir/c.yaml"
  for i in $(seq 1 "$4"); do create_release "svc$i" 1.0.0 >/dev/null; done
  sleep 3
  if [ "${8:-}" = perf ]; then
    perf record -F 199 --call-graph dwarf,16384 -p "$SW_PID" -o "$work/sw.perf" -- sleep 8 >/dev/null 2>&1 || true
    stop_shipwatch
    return
  fi
  local r0 c0 n0 t0 m0 s0 k0 e0 r1 c1 n1 t1 m1 s1 k1 e1 th0 th1
  r0=$(nginx_requests "$2"); c0=$(ticks "$SW_PID"); n0=$(ticks_sum $3); t0=$(now_ms); th0=$(thread_ticks "$SW_PID")
  s0=$(metric_sum shipwatch_probe_duration_seconds_sum); k0=$(metric_sum shipwatch_probe_duration_seconds_count)
  e0=$(curl -fs "$SW_URL/metrics" | awk '/^shipwatch_probe_runs_total/ && !/result="pass"/ { s += $NF } END { print s + 0 }')
  sleep "$MEASURE"
  r1=$(nginx_requests "$2"); c1=$(ticks "$SW_PID"); n1=$(ticks_sum $3); t1=$(now_ms); th1=$(thread_ticks "$SW_PID")
  s1=$(metric_sum shipwatch_probe_duration_seconds_sum); k1=$(metric_sum shipwatch_probe_duration_seconds_count)
  e1=$(curl -fs "$SW_URL/metrics" | awk '/^shipwatch_probe_runs_total/ && !/result="pass"/ { s += $NF } END { print s + 0 }')
  SW_THREADS=$(thread_split "$th0" "$th1")
  stop_shipwatch
  local mean
  mean=$(awk -v a="$s0" -v b="$s1" -v c="$k0" -v d="$k1" 'BEGIN { printf "%.3f", (b - a) / (d - c) * 1000 }')
  row "$1" $((r1 - r0 - 2)) $((t1 - t0)) $((c1 - c0)) $((n1 - n0)) "$mean" $((e1 - e0))
}

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r)"
echo "shipwatch $(cd "$BENCH_ROOT" && git rev-parse --short HEAD)$(cd "$BENCH_ROOT" && git diff --quiet HEAD -- src || echo '+dirty'); $(prometheus-blackbox-exporter --version 2>&1 | head -1); nginx $(nginx -v 2>&1 | cut -d/ -f2)"
echo "measuring ${MEASURE}s per run..."
floor_run "floor (C, connect-GET-close)" "$FRESH_PORT" "$FRESH_WORKERS"
blackbox_run "blackbox paced, fresh conn" "$FRESH_PORT" "$FRESH_WORKERS" 10 18
shipwatch_run "shipwatch paced, fresh conn" "$FRESH_PORT" "$FRESH_WORKERS" 10 50 1s 1s
SW_THREADS_PACED=$SW_THREADS
shipwatch_run "shipwatch paced, pooled (as is)" "$POOL_PORT" "$POOL_WORKERS" 10 50 1s 1s
blackbox_run "blackbox saturated c50, fresh" "$FRESH_PORT" "$FRESH_WORKERS" 50 0
shipwatch_run "shipwatch saturated c50, fresh" "$FRESH_PORT" "$FRESH_WORKERS" 1 50 1ms 0s

echo
printf '%-34s %8s %7s %7s %9s %9s %9s %8s %10s %6s\n' run probes wall_s cpu_s "µs/probe" "cpu_s/10k" "wall_s/10k" "tgt_µs/p" "probe_ms" errors
printf '%s\n' "${ROWS[@]}"
field() { awk -v n="$1" -v f="$2" 'substr($0, 1, 34) ~ "^" n { print $(NF - 10 + f) }' <<< "$(printf '%s\n' "${ROWS[@]}")"; }
bb_p=$(field "blackbox paced" 5); sw_p=$(field "shipwatch paced, fresh" 5); sw_pool=$(field "shipwatch paced, pooled" 5)
bb_s=$(field "blackbox saturated" 5); sw_s=$(field "shipwatch saturated" 5)
bb_w=$(field "blackbox saturated" 7); sw_w=$(field "shipwatch saturated" 7)
echo
echo "ratios (shipwatch / blackbox_exporter, same run):"
echo "  CPU per probe, paced, fresh connection:     $(ratio "$sw_p" "$bb_p")x   (goal <= 0.50x)"
echo "  CPU per probe, paced, shipwatch pooled:     $(ratio "$sw_pool" "$bb_p")x"
echo "  CPU per probe, saturated, fresh connection: $(ratio "$sw_s" "$bb_s")x"
echo "  wall time per 10,000, saturated c50:        $(ratio "$sw_w" "$bb_w")x"
fl=$(field "floor" 5)
echo "  CPU per probe, paced fresh, over the floor: $(ratio "$sw_p" "$fl")x   (shipwatch / floor; goal <= 2x)"
echo "  CPU per probe, blackbox paced, over floor:  $(ratio "$bb_p" "$fl")x"
echo "shipwatch CPU by thread (paced fresh run): $SW_THREADS_PACED"

if [ "$PROFILE" = 1 ] && perf stat -e task-clock true >/dev/null 2>&1; then
  shipwatch_run "profile" "$FRESH_PORT" "$FRESH_WORKERS" 10 50 1s 1s perf
  echo
  echo "perf profile of shipwatch, paced fresh (8 s, % of its CPU samples, inclusive):"
  perf report -i "$work/sw.perf" --children --sort sym -g none --stdio 2>/dev/null |
    awk '/%/ && !/^#/ { pct = $1; $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, ""); print pct "\t" $0 }' |
    awk -F'\t' '
      $2 ~ /Inner>::record_group$/                           { rec += $1 }
      $2 ~ /SqliteStore as shipwatch::store::Store>::apply$/ { sql += $1 }
      $2 ~ /engine::settle::settle$/                         { set += $1 }
      $2 ~ /probe::ProbeKind::run::\{\{closure\}\}$/         { run += $1 }
      $2 ~ /reqwest::connect::with_timeout::\{\{closure\}\}$/                { con += $1 }
      $2 ~ /^malloc_consolidate$|^_int_malloc$|^_int_free$|^malloc$|^unlink_chunk/ { mal += $1 }
      END {
        printf "  %5.1f%%  engine: Inner::record_group, the bookkeeping of results (blocking pool)\n", rec
        printf "  %5.1f%%    SQLite write, one transaction per group (Store::apply)\n", sql
        printf "  %5.1f%%    settle: rules and verdict\n", set
        printf "  %5.1f%%    the rest: apply_result, snapshots, routing\n", rec - sql - set
        printf "  %5.1f%%  probe: ProbeKind::run (request, response, checks)\n", run
        printf "  %5.1f%%  HTTP connect (hyper connector task: socket, connect)\n", con
        printf "  %5.1f%%  (self time in malloc/free, counted inside the lines above)\n", mal
      }' 
fi
