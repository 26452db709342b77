#!/usr/bin/env bash
# The endurance run (README "Performance").
#
# Builds the release binary, starts a real redis-server, a PostgreSQL cluster
# (as root: run as the `ops-atomic-test` system user), an HTTP stub and a
# Discord webhook sink on free loopback ports, then:
#   1. 1,000 heartbeats back to back while Redis, the API and the sink go
#      down and up on a schedule: every alert and recovery delivered exactly
#      once, state and history consistent, memory flat;
#   2. 5 rounds of 50 concurrent heartbeats: `runs` exact, one alert and one
#      recovery for the incident.
# Prints PASS/FAIL lines; exits non-zero on any FAIL.
#
#   scripts/soak.sh
#   SOAK_RUNS=200 scripts/soak.sh                       # a shorter phase 1
#   OPS_ATOMIC_BIN=/path/ops-atomic scripts/soak.sh     # skip the build
#
# Bounded: each heartbeat is killed after 60 s and the whole run after
# SOAK_TIMEOUT seconds (default 1200; it normally takes 1-2 minutes).
# Every server is stopped and the temp folder removed on exit (any exit).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/bench/driver.sh
require_tools python3 redis-server
build_release
run_driver "${SOAK_TIMEOUT:-1200}" scripts/bench/soak.py "$@"
