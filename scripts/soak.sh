#!/usr/bin/env bash
# The endurance run (README "Performance").
#
# Builds the release binary, starts a real redis-server, a PostgreSQL cluster
# (as root: run as the `ops-atomic-test` system user), an HTTP stub, TCP
# services and a channel sink (Discord, Slack, ntfy, webhook) on free
# loopback ports, then:
#   1. 2,000 heartbeats back to back while Redis, PostgreSQL and a TCP
#      service fail in overlapping windows, a check flaps, one repair works
#      and one never helps, Slack answers 500 and Discord 429, a silence, a
#      dependency, quiet hours and a maintenance window: every message of 7
#      channels, every event and every repair compared exactly with a model
#      of the SPEC rules; files parse after every run; memory flat;
#   2. 5 rounds of 50 concurrent heartbeats with per-check incidents.
# Prints PASS/FAIL lines; exits non-zero on any FAIL.
#
#   scripts/soak.sh
#   SOAK_RUNS=500 scripts/soak.sh                       # a shorter phase 1 (>= 250)
#   OPS_ATOMIC_BIN=/path/ops-atomic scripts/soak.sh     # skip the build
#
# Bounded: each heartbeat is killed after 60 s and the whole run after
# SOAK_TIMEOUT seconds (default 1200; it normally takes 2-3 minutes).
# Every server is stopped and the temp folder removed on exit (any exit).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/bench/driver.sh
require_tools python3 redis-server
build_release
run_driver "${SOAK_TIMEOUT:-1200}" scripts/bench/soak.py "$@"
