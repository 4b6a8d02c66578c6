#!/usr/bin/env bash
# Footprint: time from process start to /-/ready answering 200, idle RSS after 3 s, binary size.
# Reference measured in the same run: python3's http.server (start to first 200, idle RSS).
# Also (not a goal, for context): the same after a restart with 100 releases x 50 items in the
# store (recovery before listening; 50 probes per release against a closed port, every 1h, so
# each is run once within the default 5 s jitter), and the binary's stripped size.
# Usage: bash bench/startup.sh   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=target/release/shipwatch
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cp config/release-checklist.md "$work/"
cat > "$work/c.yaml" <<YAML
server: { listen: 127.0.0.1:0 }
storage: { sqlite: ./sw.db }
checklist: release-checklist.md
probes:
  health: { http: { url: "http://127.0.0.1:9/healthz" }, every: 30s }
items:
  run-post-deploy-smoke-tests-on-production: { probes: [health] }
YAML

ms() { date +%s%3N; }

# start → ready, 5 runs, median
times=()
for i in 1 2 3 4 5; do
  rm -f "$work"/sw.db*
  t0=$(ms)
  rm -f "$work/out" # a stale line from the previous run must not be read as this one's
  "$BIN" run --config "$work/c.yaml" > "$work/out" 2>/dev/null &
  pid=$!
  url=""
  while [ -z "$url" ]; do url=$(sed -n 's/^listening on //p' "$work/out" 2>/dev/null || true); done
  until curl -fs "$url/-/ready" >/dev/null 2>&1; do :; done
  t1=$(ms)
  times+=($((t1 - t0)))
  if [ "$i" = 5 ]; then sleep 3; rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status); fi
  kill -TERM $pid; wait $pid || true
done
sw_ready=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)

# reference: python3 -m http.server
rtimes=()
for i in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 20000))
  t0=$(ms)
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
  pid=$!
  until curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1; do :; done
  t1=$(ms)
  rtimes+=($((t1 - t0)))
  if [ "$i" = 5 ]; then sleep 3; rrss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status); fi
  kill $pid; wait $pid 2>/dev/null || true
done
ref_ready=$(printf '%s\n' "${rtimes[@]}" | sort -n | sed -n 3p)
size=$(stat -c %s "$BIN")
strip -o "$work/stripped" "$BIN" 2>/dev/null && ssize=$(stat -c %s "$work/stripped") || ssize=0

# restart with 100 releases x 50 items in the store
rm -f "$work"/sw.db*
python3 bench/genconfig.py --probes 50 --every 1h --url "http://127.0.0.1:9/healthz" > "$work/full.yaml"
rm -f "$work/out" # a stale line from the previous run must not be read as this one's
"$BIN" run --config "$work/full.yaml" > "$work/out" 2>/dev/null &
pid=$!
url=""
while [ -z "$url" ]; do url=$(sed -n 's/^listening on //p' "$work/out" 2>/dev/null || true); done
until curl -fs "$url/-/ready" >/dev/null 2>&1; do :; done
for i in $(seq 1 100); do
  curl -fs -X POST "$url/api/v1/releases" -H 'content-type: application/json' \
    -d "{\"service\":\"svc$i\",\"version\":\"1.0.0\",\"window\":{\"min\":\"1h\",\"max\":\"2h\"}}" >/dev/null
done
kill -TERM $pid; wait $pid || true
ftimes=()
for i in 1 2 3 4 5; do
  t0=$(ms)
  rm -f "$work/out" # a stale line from the previous run must not be read as this one's
  "$BIN" run --config "$work/full.yaml" > "$work/out" 2>/dev/null &
  pid=$!
  url=""
  while [ -z "$url" ]; do url=$(sed -n 's/^listening on //p' "$work/out" 2>/dev/null || true); done
  until curl -fs "$url/-/ready" >/dev/null 2>&1; do :; done
  t1=$(ms)
  ftimes+=($((t1 - t0)))
  if [ "$i" = 5 ]; then sleep 8; frss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status); fi
  kill -TERM $pid; wait $pid || true
done
full_ready=$(printf '%s\n' "${ftimes[@]}" | sort -n | sed -n 3p)

echo "shipwatch: start→/-/ready ${sw_ready} ms (median of 5), idle RSS $((rss / 1024)) MiB (${rss} KiB), binary $((size / 1048576)) MiB ($((ssize / 1048576)) MiB stripped)"
echo "reference python3 http.server: start→200 ${ref_ready} ms, idle RSS $((rrss / 1024)) MiB (${rrss} KiB)"
awk -v a="$sw_ready" -v b="$ref_ready" -v c="$rss" -v d="$rrss" 'BEGIN { printf "ratios vs reference: startup %.2fx, idle RSS %.2fx\n", a/b, c/d }'
echo "shipwatch restarted with 100 releases x 50 items stored: start→/-/ready ${full_ready} ms (median of 5), RSS 8 s later $((frss / 1024)) MiB (5,000 probe tasks, each run once)"
