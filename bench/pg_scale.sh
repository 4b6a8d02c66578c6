#!/usr/bin/env bash
# Scheduler at scale on PostgreSQL (issue 12): 10,000 bindings every 10 s (200 probes x 50
# releases, as in scheduler_scale.sh) against nginx, once on SQLite (the reference, same run)
# and once on PostgreSQL (one replica, leading; Debian's server started here in a temp dir,
# Unix socket only, default durability settings). For each: schedule lag p50/p99/max (the
# stored results read back by bench/lag.py; PostgreSQL's are copied into a scratch SQLite file
# first), shipwatch's CPU, and on PostgreSQL the server's CPU (all its processes) and its
# committed transactions per second (pg_stat_database).
#
# Usage: bash bench/pg_scale.sh       (MEASURE=60 by default; ~4 min plus the release build)
# Needs nginx, curl, python3 and Debian's postgresql.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need nginx curl python3
MEASURE=${MEASURE:-60}
work=$(mktemp -d)
trap 'stop_pg; bench_cleanup' EXIT
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
RUNAS=(); [ "$(id -u)" = 0 ] && RUNAS=(runuser -u postgres --)
stop_pg() { [ -n "${PGDATA_DIR:-}" ] && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast stop >/dev/null 2>&1 || true; }

build_shipwatch
start_nginx on

# PostgreSQL in $work/pg, listening on a socket there only.
chmod 755 "$work"; mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
PGDATA_DIR=$work/pg/data
"${RUNAS[@]}" "$PGBIN/initdb" -A trust -U postgres -E UTF8 -D "$PGDATA_DIR" >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -w -D "$PGDATA_DIR" -l "$work/pg/log" \
  -o "-c listen_addresses='' -c unix_socket_directories='$work/pg' -c port=5432" start >/dev/null
PSQL=("$PGBIN/psql" -h "$work/pg" -p 5432 -U postgres -At)
"${PSQL[@]}" -c "CREATE DATABASE sw" >/dev/null
PG_URL="host=$work/pg port=5432 user=postgres dbname=sw"
# The server's CPU: the postmaster and its children (backends, checkpointer, WAL writer...).
pg_ticks() {
  local pm t=0; pm=$(head -1 "$PGDATA_DIR/postmaster.pid")
  for p in $pm $(pgrep -P "$pm" || true); do t=$((t + $(ticks "$p" 2>/dev/null || echo 0))); done
  echo "$t"
}
pg_commits() { "${PSQL[@]}" -d sw -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'sw'"; }

ROWS=()
# run NAME STORAGE_YAML: config + daemon + 50 releases, warm up, measure.
run() {
  local name=$1 storage=$2 dir=$work/$1
  mkdir -p "$dir"; cp config/release-checklist.md "$dir/"
  python3 bench/genconfig.py --probes 200 --every 10s --spread --url "http://127.0.0.1:$NGINX_PORT/" |
    sed "s|^storage: .*|$storage|" > "$dir/c.yaml"
  start_shipwatch "$dir/c.yaml"
  until curl -fs "$SW_URL/api/v1/cluster" | grep -q '"leading":true'; do sleep 0.1; done
  for i in $(seq 1 50); do create_release "svc$i" 1.0.0 >/dev/null; done
  sleep 11
  local c0 p0 x0 t0 c1 p1 x1 t1
  c0=$(ticks "$SW_PID"); p0=$(pg_ticks); t0=$(now_ms)
  x0=$([ "$name" = postgres ] && pg_commits || echo 0)
  sleep "$MEASURE"
  c1=$(ticks "$SW_PID"); p1=$(pg_ticks); t1=$(now_ms)
  x1=$([ "$name" = postgres ] && pg_commits || echo 0)
  stop_shipwatch
  local db=$dir/sw.db
  if [ "$name" = postgres ]; then
    db=$dir/copy.db
    "${PSQL[@]}" -d sw -F $'\t' -c "SELECT release_id, probe, at_ms FROM results WHERE at_ms >= $t0 AND at_ms < $t1" > "$dir/results.tsv"
    "${PSQL[@]}" -d sw -F $'\t' -c "SELECT id, body FROM releases" > "$dir/releases.tsv"
    python3 - "$db" "$dir/results.tsv" "$dir/releases.tsv" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE results (release_id TEXT, probe TEXT, at_ms INTEGER)")
con.execute("CREATE TABLE releases (id TEXT, body TEXT)")
for line in open(sys.argv[2]):
    r, p, at = line.rstrip("\n").split("\t")
    con.execute("INSERT INTO results VALUES (?, ?, ?)", (r, p, int(at)))
for line in open(sys.argv[3]):
    i, body = line.rstrip("\n").split("\t", 1)
    con.execute("INSERT INTO releases VALUES (?, ?)", (i, body))
con.commit()
PY
  fi
  local lag; lag=$(python3 bench/lag.py "$db" 10000 "$t0" "$t1" --config "$dir/c.yaml")
  local v; v() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<< "$lag"; }
  ROWS+=("$(awk -v n="$name" -v w=$((t1 - t0)) -v c=$((c1 - c0)) -v p=$((p1 - p0)) -v x=$((x1 - x0)) -v hz="$HZ" \
    -v runs="$(v rows)" -v p50="$(v lag_p50_ms)" -v p99="$(v lag_p99_ms)" -v mx="$(v lag_max_ms)" 'BEGIN {
      s = w / 1000; printf "%-9s %5.0f %8.1f %7s %7s %7s %6.2f %6.2f %8.1f", n, s, runs / s, p50, p99, mx, c / hz / s, (n == "postgres" ? p / hz / s : 0), x / s }')")
}

echo "machine: $(nproc) cores, shipwatch $(git rev-parse --short HEAD), $("$PGBIN/postgres" --version)"
run sqlite "storage: { sqlite: ./sw.db }"
run postgres "storage: { postgres: { url: \"$PG_URL\", pool: 8 } }"
echo
printf '%-9s %5s %8s %7s %7s %7s %6s %6s %8s\n' store secs stored/s p50_ms p99_ms max_ms sw_cpu db_cpu commits/s
printf '%s\n' "${ROWS[@]}"
get() { printf '%s\n' "${ROWS[@]}" | awk -v n="$1" -v f="$2" '$1 == n { print $f }'; }
echo "postgres vs sqlite (same run): p99 lag $(get postgres 5) ms vs $(get sqlite 5) ms; shipwatch CPU $(ratio "$(get postgres 7)" "$(get sqlite 7)")x"
echo "goal: p99 lag <= 50 ms on PostgreSQL: $(get postgres 5) ms"
