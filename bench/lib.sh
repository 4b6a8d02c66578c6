# Shared helpers for bench/*.sh (sourced, not run). Everything listens on 127.0.0.1 only.
# A script sets `work` (a temp dir) and an EXIT trap calling bench_cleanup.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HZ=$(getconf CLK_TCK)

need() {
  local missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]} (apt-get install wrk nginx-light sqlite3 prometheus-blackbox-exporter)" >&2
    exit 1
  fi
}

# Build the release binary and copy it into $work, so a rebuild by someone else during the
# run cannot swap it. Sets BIN.
build_shipwatch() {
  (cd "$BENCH_ROOT" && cargo build --release --quiet)
  cp "$BENCH_ROOT/target/release/shipwatch" "$work/shipwatch"
  BIN="$work/shipwatch"
}

BENCH_PIDS=()
bench_cleanup() {
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${work:-}" ] && rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# CPU time of a process (all its threads, live and exited) in clock ticks: utime + stime.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Several pids summed.
ticks_sum() { local t=0; for p in "$@"; do t=$((t + $(ticks "$p"))); done; echo "$t"; }
now_ms() { date +%s%3N; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# The target: nginx, one worker, `return 200 "ok\n"`, no access log; files put in
# $work/nginx-$1/static/ are served from /static/ (a same-size reference for big responses). $1 = on|off: keep-alive
# (off = `keepalive_timeout 0`: the server closes after every response, so every probe opens a
# fresh TCP connection whatever the client's pooling). Sets NGINX_PORT, NGINX_PID (master),
# NGINX_WORKERS (worker pids). /nginx_status is stub_status (its `requests` counts every
# request the target served: the ground truth for "how many probes ran").
start_nginx() {
  local ka=$1 dir="$work/nginx-$1"
  mkdir -p "$dir/tmp"
  NGINX_PORT=$(free_port)
  local kat="keepalive_timeout 0;"
  [ "$ka" = on ] && kat="keepalive_timeout 300s; keepalive_requests 100000000;"
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process on;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log crit;
worker_rlimit_nofile 65536;
events { worker_connections 30000; multi_accept on; }
http {
  access_log off;
  $kat
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=8192;
    location = /nginx_status { stub_status; }
    location /static/ { root $dir; }
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" &
  NGINX_PID=$!
  BENCH_PIDS+=("$NGINX_PID")
  until curl -fs "http://127.0.0.1:$NGINX_PORT/" >/dev/null 2>&1; do sleep 0.05; done
  NGINX_WORKERS=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
}
# Requests nginx has served so far (including this one).
nginx_requests() { curl -fs "http://127.0.0.1:$1/nginx_status" | awk 'NR == 3 { print $3 }'; }

# Start `shipwatch run` on config $1 (cwd = its directory). Sets SW_PID, SW_URL.
start_shipwatch() {
  local cfg=$1 out="$1.out"
  rm -f "$out" # a restart must not read the previous run's address
  (cd "$(dirname "$cfg")" && exec "$BIN" run --config "$cfg" --listen 127.0.0.1:0 > "$out" 2> "$cfg.log") &
  SW_PID=$!
  BENCH_PIDS+=("$SW_PID")
  SW_URL=""
  for _ in $(seq 1 600); do
    SW_URL=$(sed -n 's/^listening on //p' "$out" 2>/dev/null || true)
    [ -n "$SW_URL" ] && break
    sleep 0.05
  done
  [ -n "$SW_URL" ] || { echo "shipwatch did not start:" >&2; cat "$cfg.log" >&2; exit 1; }
  until curl -fs "$SW_URL/-/ready" >/dev/null 2>&1; do sleep 0.05; done
}
stop_shipwatch() { kill -TERM "$SW_PID" 2>/dev/null || true; wait "$SW_PID" 2>/dev/null || true; }

# POST a release; prints its id.
create_release() {
  curl -fs -X POST "$SW_URL/api/v1/releases" -H 'content-type: application/json' \
    -d "{\"service\":\"$1\",\"version\":\"$2\",\"window\":{\"min\":\"1h\",\"max\":\"2h\"}}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# Sum of a metric family's samples in shipwatch's /metrics (e.g. shipwatch_probe_runs_total).
metric_sum() {
  curl -fs "$SW_URL/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%.6f\n", s }'
}

# CPU of shipwatch's threads, in ticks: "MAIN WORKERS TOTAL THREADS". tokio names its async
# workers and its blocking-pool threads alike (tokio-rt-worker); the async workers (one per core
# with #[tokio::main]) are started first, so they are the lowest thread ids after the main one.
# Blocking-pool CPU (probe results are recorded there, SQLite included) = TOTAL - MAIN - WORKERS
# (that also counts blocking threads that have already exited).
thread_ticks() {
  local pid=$1 nw=${2:-$(nproc)}
  local main workers total n
  main=$(awk '{ print $14 + $15 }' "/proc/$pid/task/$pid/stat")
  workers=$(ls /proc/"$pid"/task | sort -n | grep -vx "$pid" | head -n "$nw" |
    while read -r t; do awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/task/$t/stat" 2>/dev/null; done |
    awk '{ s += $1 } END { print s + 0 }')
  total=$(ticks "$pid")
  n=$(ls /proc/"$pid"/task | wc -l)
  echo "$main $workers $total $n"
}
# Print the split between two thread_ticks snapshots ($1 = before, $2 = after).
thread_split() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[3] - x[3]; w = y[2] - x[2]; m = y[1] - x[1];
    if (t <= 0) t = 1;
    printf "async workers %.0f%%, blocking pool (record: rules + SQLite) %.0f%%, main %.0f%%; %d threads at the end\n",
      w / t * 100, (t - w - m) / t * 100, m / t * 100, y[4] }'
}

# x / y with 2 decimals (awk; y = 0 prints n/a).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f\n", a / b }'; }
