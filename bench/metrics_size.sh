#!/usr/bin/env bash
# /metrics size with N probes (default 1000), with and without per-probe duration histograms
# (`metrics: { probe_histograms: false }`): bytes and lines of GET /metrics after every probe
# has run at least twice for one release. Usage: bench/metrics_size.sh [N]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need python3 curl
N=${1:-1000}
work=$(mktemp -d)
trap bench_cleanup EXIT
build_shipwatch
cp "$BENCH_ROOT/config/release-checklist.md" "$work/"

# The probed target: a tiny HTTP server answering 200 to everything.
tport=$(free_port)
python3 -c "
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'ok')
    def log_message(self, *a): pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(('127.0.0.1', $tport), H).serve_forever()" 2> "$work/target.log" &
BENCH_PIDS+=($!)

measure() {  # $1 = true|false
  local dir="$work/$1" port
  mkdir -p "$dir"
  cp "$work/release-checklist.md" "$dir/"
  python3 "$BENCH_ROOT/bench/genconfig.py" --probes "$N" --every 2s --jitter 1s --url "http://127.0.0.1:$tport/" > "$dir/c.yaml"
  printf 'metrics: { probe_histograms: %s }\n' "$1" >> "$dir/c.yaml"
  port=$(free_port)
  (cd "$dir" && exec "$BIN" run --config c.yaml --listen "127.0.0.1:$port" > out.log 2> err.log) &
  local pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs -X POST -H 'content-type: application/json' -d '{"service":"bench","version":"1"}' \
    "http://127.0.0.1:$port/api/v1/releases" > /dev/null
  # Every probe has run at least twice (runs counted per probe).
  for _ in $(seq 300); do
    local low
    low=$(curl -fs "http://127.0.0.1:$port/metrics" \
      | awk -F'} ' '/^shipwatch_probe_runs_total\{.*result="pass"/ { if ($2 < 2) n++ } END { print n + 0 }')
    [ "$low" = 0 ] && break
    sleep 0.5
  done
  curl -fs "http://127.0.0.1:$port/metrics" > "$dir/metrics.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-22s %10d bytes %8d lines\n' "probe_histograms: $1" "$(wc -c < "$dir/metrics.txt")" "$(wc -l < "$dir/metrics.txt")"
}

echo "GET /metrics with $N probes, one release:"
measure true
measure false
on=$(wc -c < "$work/true/metrics.txt"); off=$(wc -c < "$work/false/metrics.txt")
python3 -c "print(f'without histograms: {$off/$on:.2f}x the size with them')"
