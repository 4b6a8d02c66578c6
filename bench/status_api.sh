#!/usr/bin/env bash
# Status API under load: wrk against GET /api/v1/releases/{id} (rotating over all releases) and
# GET / (the status page, every release) with 100 releases x 50 items while probes run, vs the
# trivial handler GET /-/healthy on the same server in the same run.
#
# Probes while measuring: 50 HTTP probes (one per checklist item) x 100 releases, every 10 s,
# spread evenly (genconfig.py --spread) = 500 runs/s against nginx (keep-alive), so results are
# being recorded throughout. wrk: 1 thread, CONNS connections (16), SECS s (10) per endpoint,
# after a 2 s warm-up; 2 cores are shared by wrk, shipwatch and nginx, which the ratio cancels.
# Also printed: shipwatch's CPU during each wrk run and the probes' schedule lag meanwhile
# (does API load delay probes?).
#
# With perf available, each endpoint is then profiled for 6 s under the same load (PROFILE=0 skips).
#
# Usage: bash bench/status_api.sh        (CONNS=16 SECS=10 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need nginx wrk curl python3
CONNS=${CONNS:-16}
SECS=${SECS:-10}
PROFILE=${PROFILE:-1}
work=$(mktemp -d)
trap bench_cleanup EXIT
ulimit -n 65536 2>/dev/null || true
build_shipwatch
start_nginx on
cp config/release-checklist.md "$work/"
python3 bench/genconfig.py --probes 50 --every 10s --spread --url "http://127.0.0.1:$NGINX_PORT/" > "$work/c.yaml"
start_shipwatch "$work/c.yaml"
ids=()
for i in $(seq 1 100); do ids+=("$(create_release "svc$i" 1.0.0)"); done
sleep 11 # every probe has run at least once

cat > "$work/rotate.lua" <<LUA
local ids = { $(printf '"%s",' "${ids[@]}") }
local i = 0
request = function()
  i = i % #ids + 1
  return wrk.format("GET", "/api/v1/releases/" .. ids[i])
end
LUA

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r)"
echo "shipwatch $(cd "$BENCH_ROOT" && git rev-parse --short HEAD)$(cd "$BENCH_ROOT" && git diff --quiet HEAD -- src || echo '+dirty'); 100 releases x 50 items, 500 probe runs/s; wrk -t1 -c$CONNS -d${SECS}s"
echo "sizes: /api/v1/releases/{id} $(curl -fs "$SW_URL/api/v1/releases/${ids[0]}" | wc -c) B, / $(curl -fs "$SW_URL/" | wc -c) B ($(curl -fs -H 'Accept-Encoding: gzip' "$SW_URL/" | wc -c) B gzipped), /-/healthy $(curl -fs "$SW_URL/-/healthy" | wc -c) B"

# Same-size references: nginx serving the exact bytes of a release and of the page from its
# page cache (what "as fast as sending these bytes" means on this machine, through the same wrk).
mkdir -p "$work/nginx-on/static"
curl -fs "$SW_URL/api/v1/releases/${ids[0]}" > "$work/nginx-on/static/release.json"
curl -fs "$SW_URL/" > "$work/nginx-on/static/page.html"

ROWS=()
# bench NAME PATH [LUA] [HEADER] [URL]
bench() {
  local args=(-t1 -c"$CONNS" --latency)
  [ -n "${3:-}" ] && args+=(-s "$3")
  [ -n "${4:-}" ] && args+=(-H "$4")
  wrk "${args[@]}" -d2s "${5:-$SW_URL}$2" >/dev/null # warm-up
  local c0 t0 c1 t1 out
  c0=$(ticks "$SW_PID"); t0=$(now_ms)
  out=$(wrk "${args[@]}" -d"${SECS}s" "${5:-$SW_URL}$2")
  c1=$(ticks "$SW_PID"); t1=$(now_ms)
  local rps p50 p99 errs lag
  rps=$(awk '/^Requests\/sec/ { print $2 }' <<< "$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<< "$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<< "$out")
  errs=$(awk '/Non-2xx/ { print $NF } /Socket errors/ { print }' <<< "$out" | tr '\n' ' ')
  lag=$(python3 bench/lag.py "$work/sw.db" 10000 "$t0" "$t1" --config "$work/c.yaml")
  local cores
  cores=$(awk -v c=$((c1 - c0)) -v w=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz / (w / 1000) }')
  ROWS+=("$(printf '%-26s %10s %9s %9s %6s %7s %8s %8s %s' "$1" "$rps" "$p50" "$p99" "$cores" \
    "$(awk -v c="$cores" -v r="$rps" 'BEGIN { printf "%.1f", c * 1e6 / r }')" \
    "$(sed -n 's/.*lag_p99_ms=\([^ ]*\).*/\1/p' <<< "$lag")" \
    "$(sed -n 's/.*rows_per_s=\([^ ]*\).*/\1/p' <<< "$lag")" "${errs:-0}")")
}
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0; else if (v ~ /s$/) printf "%.3f", v * 1000; else print v }'; }

bench "GET /-/healthy (trivial)" /-/healthy
bench "GET /api/v1/releases/{id}" /api/v1/releases/x "$work/rotate.lua"
bench "GET / (status page)" /
bench "GET / gzip (as browsers)" / "" "Accept-Encoding: gzip, deflate, br"
bench "nginx: same bytes as {id}" /static/release.json "" "" "http://127.0.0.1:$NGINX_PORT"
bench "nginx: same bytes as /" /static/page.html "" "" "http://127.0.0.1:$NGINX_PORT"

echo
printf '%-26s %10s %9s %9s %6s %7s %8s %8s %s\n' endpoint "req/s" p50 p99 cores "µs/req" "lag_p99" "runs/s" "errors"
printf '%s\n' "${ROWS[@]}"
col() { printf '%s\n' "${ROWS[@]}" | awk -v n="$1" -v f="$2" 'index($0, n) == 1 { print $(NF - 8 + f) }'; }
h=$(col "GET /-/healthy" 1); r=$(col "GET /api/v1/releases" 1); i=$(col "GET / (status" 1); z=$(col "GET / gzip" 1)
echo
echo "(cores = shipwatch's CPU during the run; µs/req = shipwatch CPU per request; lag_p99 = probe schedule lag p99 in ms meanwhile; runs/s = probe results stored meanwhile, 500 planned)"
echo "ratios vs /-/healthy (same server, same run; goal >= 0.50x throughput, p99 <= 10 ms):"
echo "  /api/v1/releases/{id}: throughput $(ratio "$r" "$h")x, CPU per request $(ratio "$(col "GET /api/v1/releases" 5)" "$(col "GET /-/healthy" 5)")x, p50 $(to_ms "$(col "GET /api/v1/releases" 2)") ms, p99 $(to_ms "$(col "GET /api/v1/releases" 3)") ms"
echo "  / (status page):       throughput $(ratio "$i" "$h")x, CPU per request $(ratio "$(col "GET / (status" 5)" "$(col "GET /-/healthy" 5)")x, p50 $(to_ms "$(col "GET / (status" 2)") ms, p99 $(to_ms "$(col "GET / (status" 3)") ms"
echo "  / gzip (browsers):      throughput $(ratio "$z" "$h")x, CPU per request $(ratio "$(col "GET / gzip" 5)" "$(col "GET /-/healthy" 5)")x, p50 $(to_ms "$(col "GET / gzip" 2)") ms, p99 $(to_ms "$(col "GET / gzip" 3)") ms"
echo "same-size references (nginx serving the same bytes from a file, same wrk; shipwatch / nginx):"
echo "  /api/v1/releases/{id}: throughput $(ratio "$r" "$(col "nginx: same bytes as {id}" 1)")x"
echo "  / (status page):       throughput $(ratio "$i" "$(col "nginx: same bytes as /" 1)")x"
echo "  /-/healthy:            p50 $(to_ms "$(col "GET /-/healthy" 2)") ms, p99 $(to_ms "$(col "GET /-/healthy" 3)") ms"

# profile NAME PATH [LUA]: where shipwatch's CPU goes while wrk hammers PATH.
profile() {
  local args=(-t1 -c"$CONNS")
  [ -n "${3:-}" ] && args+=(-s "$3")
  wrk "${args[@]}" -d10s "$SW_URL$2" >/dev/null &
  local w=$!
  sleep 2
  perf record -F 499 --call-graph dwarf,16384 -p "$SW_PID" -o "$work/api.perf" -- sleep 6 >/dev/null 2>&1 || true
  wait "$w" || true
  echo "perf profile of shipwatch under wrk on $1 (% of its CPU samples, inclusive; lines overlap):"
  perf report -i "$work/api.perf" --children --sort sym -g none --stdio 2>/dev/null |
    awk '/%/ && !/^#/ { pct = $1; $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, ""); print pct "\t" $0 }' |
    awk -F'\t' '
      $2 ~ /Json<T> as axum_core::response::into_response::IntoResponse>::into_response$/ { a["JSON serialization of the response (serde_json)"] = $1 }
      $2 ~ /web::index::page$/                              { a["HTML rendering of the page (maud), view building included"] = $1 }
      $2 ~ /web::layout::window$/                           { a["  of which window/progress formatting (layout::window)"] = $1 }
      $2 ~ /Engine>::release_json$/                         { a["Engine::release_json (snapshot, cached items JSON, window)"] = $1 }
      $2 ~ /Engine>::releases$/                             { a["view building: Engine::releases (all releases)"] = $1 }
      $2 ~ /Inner>::record_group$/                          { a["probe results: Inner::record_group (the 500 runs/s)"] = $1 }
      $2 ~ /^do_syscall_64$/                                { a["kernel, via syscalls (socket I/O, futex, epoll)"] = $1 }
      $2 ~ /^__x64_sys_futex$/                              { a["futex (lock waits and wake-ups: state mutex, malloc arenas)"] = $1 }
      $2 ~ /^__GI___libc_realloc \(inlined\)$/              { a["realloc (growing output buffers)"] = $1 }
      END { for (k in a) printf "  %6.1f%%  %s\n", a[k], k }' | sort -k1 -nr
}
if [ "$PROFILE" = 1 ] && perf stat -e task-clock true >/dev/null 2>&1; then
  echo
  profile "/api/v1/releases/{id}" /api/v1/releases/x "$work/rotate.lua"
  profile "/ (status page)" /
fi
