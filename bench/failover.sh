#!/usr/bin/env bash
# Failover (issue 12): three replicas on one PostgreSQL, the leader killed with SIGKILL
# ROUNDS times (default 20) at random moments, a release created and ticked through a follower
# before each kill, and a webhook receiver counting `release.started` deliveries by idempotency
# key. Prints takeover time p50/max (and max as a multiple of the lease), ticks lost,
# notifications lost and delivered twice. See tests/failover_bench.rs.
#
# Usage: bash bench/failover.sh            (LEASE_S=2 ROUNDS=20 by default)
# Needs Debian's postgresql (the harness starts its own server in a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
LEASE_S=${LEASE_S:-2} ROUNDS=${ROUNDS:-20} \
  cargo test --release --quiet --test failover_bench -- --ignored --nocapture 2>&1 | grep -E '^FAILOVER|panicked|error'
