#!/usr/bin/env bash
# The heartbeat benchmark (README "Performance").
#
# Builds the release binary, starts a real redis-server, a PostgreSQL cluster
# (initdb in a temp folder; as root it runs as the `ops-atomic-test` system
# user), an HTTP stub and "hung" listeners on free loopback ports, then
# measures every scenario with scripts/bench/runone (fork + wait4: wall, user+sys
# CPU, peak RSS) and prints a markdown table (also written to
# target/bench/bench-<UTC time>.md, or $BENCH_OUT).
#
#   scripts/bench.sh                 # 30 runs per fast scenario, 20 for hung and daily
#   BENCH_RUNS=50 scripts/bench.sh   # more runs
#   OPS_ATOMIC_BIN=/path/ops-atomic scripts/bench.sh   # skip the build, measure that binary
#
# Needs: cargo, cc, python3 (std library only), redis-server, redis-cli,
# PostgreSQL server binaries (/usr/lib/postgresql/*/bin), psql, curl. No network.
# Every server is stopped and the temp folder removed on exit (any exit).
# Exits non-zero when a target is missed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/bench/driver.sh
require_tools python3 redis-server redis-cli psql curl
build_release
# The whole benchmark takes about 3 minutes; it never takes more than 20.
run_driver 1200 scripts/bench/bench.py "$@"
