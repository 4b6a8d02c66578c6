#!/usr/bin/env bash
# Checklist scale (issue 10, defect 11): cost must grow linearly with the checklist.
#
# 1. In process (examples/checklist_scale.rs): parse + id assignment, get() of every id and
#    render() with every item marked, for 1k/10k/100k items of three shapes (identical texts,
#    the team's checklist repeated under distinct headings, distinct texts). Reference: the
#    same source walked by pulldown-cmark alone.
# 2. The real daemon: a checklist of N items (default: identical texts, N = 10,000 and 100,000),
#    start -> /-/ready, then 3 x (POST /api/v1/releases {"service":"x","version":"K"} and the
#    first GET /api/v1/releases/{id}, which builds the items JSON), then 5 more GETs (cached
#    items JSON), the ticked checklist.md and the HTML page once. Reference: curl reading the
#    same JSON bytes from a file (file://), 5 times.
#
# Usage: bash bench/checklist_scale.sh
#   SIZES="1000 10000 100000"   sizes for the in-process part
#   DAEMON_SIZES="10000 100000" checklist sizes for the daemon part
#   SHAPE=identical             shape of the daemon's checklist (identical, mixed, distinct)
#   OLD_BIN=path OLD_SIZES="5000 10000"  also run the daemon part with another binary (an
#                               older commit), at sizes it can finish within the 30 s timeout
# Needs cargo, curl, python3. Listens on 127.0.0.1 only; every loop is bounded.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"1000 10000 100000"}
DAEMON_SIZES=${DAEMON_SIZES:-"10000 100000"}
SHAPE=${SHAPE:-identical}
work=$(mktemp -d)
trap bench_cleanup EXIT

(cd "$BENCH_ROOT" && cargo build --release --quiet --bin shipwatch --example checklist_scale)
cp "$BENCH_ROOT/target/release/shipwatch" "$work/shipwatch"
cp "$BENCH_ROOT/target/release/examples/checklist_scale" "$work/checklist_scale"
GEN="$work/checklist_scale"

echo "== in process: parse + ids, get() of every id, render() with every item marked (median of 5, 3 above 50k)"
# shellcheck disable=SC2086
"$GEN" $SIZES

# Median of numbers, one per argument.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# Seconds (curl's time_total) -> milliseconds, 1 decimal.
to_ms() { awk -v s="$1" 'BEGIN { printf "%.1f\n", s * 1000 }'; }
# curl $1 into file $2; prints "status seconds bytes".
get() { curl -s -o "$2" -w '%{http_code} %{time_total} %{size_download}\n' --max-time 120 "$1"; }

# daemon_run LABEL N: start $BIN on a checklist of N identical items and time the API.
daemon_run() {
  local label=$1 n=$2 d="$work/$1-$2"
  mkdir -p "$d"
  "$GEN" --write "$n" "$SHAPE" "$d/c.md"
  cat > "$d/c.yaml" <<YAML
server: { listen: 127.0.0.1:0 }
storage: { sqlite: ./sw.db }
checklist: c.md
YAML
  local t0 t1
  t0=$(now_ms)
  start_shipwatch "$d/c.yaml"
  t1=$(now_ms)
  local ready=$((t1 - t0)) posts=() colds=() warms=() refs=() status secs bytes id
  for v in 1 2 3; do
    read -r status secs bytes < <(curl -s -o "$d/post.json" -w '%{http_code} %{time_total} %{size_download}\n' \
      --max-time 120 -X POST "$SW_URL/api/v1/releases" -H 'content-type: application/json' \
      -d "{\"service\":\"x\",\"version\":\"$v\"}")
    [ "$status" = 201 ] || { echo "POST answered $status: $(head -c 300 "$d/post.json")" >&2; exit 1; }
    posts+=("$secs")
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$d/post.json")
    read -r status secs bytes < <(get "$SW_URL/api/v1/releases/$id" "$d/release.json")
    [ "$status" = 200 ] || { echo "GET answered $status" >&2; exit 1; }
    colds+=("$secs")
  done
  python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); assert len(d["items"]) == int(sys.argv[2]), len(d["items"])' \
    "$d/release.json" "$n"
  for _ in 1 2 3 4 5; do
    read -r status secs _ < <(get "$SW_URL/api/v1/releases/$id" "$d/release.json")
    [ "$status" = 200 ] || { echo "GET answered $status" >&2; exit 1; }
    warms+=("$secs")
  done
  for _ in 1 2 3 4 5; do
    refs+=("$(curl -s -o /dev/null -w '%{time_total}' "file://$d/release.json")")
  done
  local md page
  read -r status md _ < <(get "$SW_URL/api/v1/releases/$id/checklist.md" "$d/checklist.md")
  read -r status page _ < <(get "$SW_URL/releases/$id" "$d/page.html")
  local cold warm ref
  cold=$(median "${colds[@]}")
  warm=$(median "${warms[@]}")
  ref=$(median "${refs[@]}")
  printf '%-7s %7d items: ready %5d ms | POST %7.1f ms | GET first %7.1f ms, cached %6.1f ms, %5.1f MiB | file:// same bytes %5.1f ms (first %.1fx, cached %.1fx) | checklist.md %6.1f ms | HTML %6.1f ms | RSS %d MiB\n' \
    "$label" "$n" "$ready" "$(to_ms "$(median "${posts[@]}")")" "$(to_ms "$cold")" "$(to_ms "$warm")" \
    "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" "$(to_ms "$ref")" \
    "$(ratio "$cold" "$ref")" "$(ratio "$warm" "$ref")" "$(to_ms "$md")" "$(to_ms "$page")" "$(($(rss_kib "$SW_PID") / 1024))"
  echo "$label $n $cold $warm" >> "$work/daemon.txt"
  stop_shipwatch
}

echo "== daemon: checklist of N items ($SHAPE), 3 releases (first GET builds the items JSON), 5 cached GETs"
BIN="$work/shipwatch"
for n in $DAEMON_SIZES; do daemon_run now "$n"; done
if [ -n "${OLD_BIN:-}" ]; then
  cp "$OLD_BIN" "$work/shipwatch-old"
  BIN="$work/shipwatch-old"
  for n in ${OLD_SIZES:-"5000 10000"}; do daemon_run before "$n"; done
fi

echo "== linearity of GET /api/v1/releases/{id} (time ratio for the item ratio; equal = linear)"
awk '{ k[NR] = $1; n[NR] = $2; c[NR] = $3; w[NR] = $4 }
  END { for (i = 2; i <= NR; i++) if (k[i] == k[i - 1])
    printf "%-7s %d / %d items (%.0fx): first GET %.1fx, cached GET %.1fx\n", k[i], n[i], n[i - 1], n[i] / n[i - 1], c[i] / c[i - 1], w[i] / w[i - 1] }' \
  "$work/daemon.txt"
