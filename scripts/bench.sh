#!/usr/bin/env bash
# The heartbeat benchmark (README "Performance").
#
# Builds the release binary, starts a real redis-server, a PostgreSQL cluster
# (initdb in a temp folder; as root it runs as the `ops-atomic-test` system
# user), an HTTP stub, TCP services, a channel sink and "hung" listeners on
# free loopback ports, then measures every scenario of issue 20 (healthy, the
# full house, an incident to 7 channels, scale, hung, daily, summary, events,
# page when the binary has it, the full house minus each part, the
# process-table scan at 300 processes) and the baselines (the shell heartbeat
# and the seed's Node.js heartbeat) with scripts/bench/runone (fork + wait4:
# wall, user+sys CPU, peak RSS), and prints markdown tables (also written to
# target/bench/bench-<UTC time>.md, or $BENCH_OUT).
#
#   scripts/bench.sh                 # 30 runs per fast scenario, 20 for the slow ones
#   BENCH_RUNS=50 BENCH_SLOW_RUNS=30 scripts/bench.sh   # more runs
#   OPS_ATOMIC_BIN=/path/ops-atomic scripts/bench.sh   # skip the build, measure that binary
#
# Needs: cargo, cc, python3 (std library only), redis-server, redis-cli,
# PostgreSQL server binaries (/usr/lib/postgresql/*/bin), psql, curl; node and
# npm for the Node.js baseline (its `redis` and `pg` clients are installed with
# `npm ci` from scripts/bench/baseline_node/package-lock.json into
# target/bench/baseline_node; without them that row says why). Loopback only.
# Every server is stopped and the temp folder removed on exit (any exit).
# Exits non-zero when a target is missed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/bench/driver.sh
require_tools python3 redis-server redis-cli psql curl
build_release
# The whole benchmark takes about 5 minutes; it never takes more than 25.
run_driver 1500 scripts/bench/bench.py "$@"
