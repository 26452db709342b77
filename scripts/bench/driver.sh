# Shared by scripts/bench.sh and scripts/soak.sh (sourced, not run): check
# the tools, build the release binary, run a Python driver bounded in time,
# and stop it (it then stops its servers) whenever this script exits.

require_tools() { # tool...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "error: $tool not found (Debian: apt-get install -y python3 redis-server redis-tools postgresql postgresql-client curl)" >&2
      exit 1
    }
  done
}

# The binary under test: $OPS_ATOMIC_BIN, else a fresh release build.
build_release() {
  if [ -z "${OPS_ATOMIC_BIN:-}" ]; then
    echo "==> cargo build --release" >&2
    cargo build --release --quiet
  fi
}

driver_pid=
stop_driver() {
  if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    wait "$driver_pid" 2>/dev/null || true
  fi
}

# run_driver SECONDS SCRIPT.py ARGS...: exits with the driver's status; a
# driver still running after SECONDS is stopped and reported.
run_driver() {
  local seconds=$1 script=$2 status=0
  shift 2
  trap stop_driver EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  timeout --signal=TERM "$seconds" python3 "$script" "$@" &
  driver_pid=$!
  wait "$driver_pid" || status=$?
  if [ "$status" -eq 124 ]; then
    echo "FAIL: $script did not finish within $seconds s (stopped)" >&2
  fi
  exit "$status"
}
