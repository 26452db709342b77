#!/usr/bin/env bash
# The project's test command (README "Quick start"); CI runs it via .ci/run.
#
# 1. Installs what the integration tests need when it is missing:
#    redis-server, the PostgreSQL server binaries, the Nagios plugins of
#    monitoring-plugins-basic (/usr/lib/nagios/plugins, for [[command]]
#    checks), node_exporter (prometheus-node-exporter), prometheus (and its
#    promtool), prometheus-alertmanager (and amtool), prometheus-pushgateway
#    (tests/fleet.rs), lsof, podman and a docker CLI (tests/stack.rs) and chromium (the
#    status page is read in a real headless browser), from apt (as root, or through sudo). Installing starts no system service and creates no
#    cluster: the tests start their own servers on free loopback ports.
# 2. Runs cargo fmt --check, cargo clippy --all-targets -- -D warnings and
#    cargo test (the whole suite), and fails if any of them fails.
#
# Environment: OPS_ATOMIC_PG_BIN (folder with initdb and postgres),
# OPS_ATOMIC_REDIS_SERVER (path to redis-server) and OPS_ATOMIC_NODE_EXPORTER
# (path to node_exporter) and OPS_ATOMIC_CHROMIUM (path to chromium) override
# the search.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n==> %s\n' "$*" >&2; }
die() {
  printf '\nerror: %s\n' "$*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root or sudo to run: $*"
  fi
}

find_redis() {
  if [ -n "${OPS_ATOMIC_REDIS_SERVER:-}" ]; then
    [ -x "$OPS_ATOMIC_REDIS_SERVER" ] || die "OPS_ATOMIC_REDIS_SERVER=$OPS_ATOMIC_REDIS_SERVER is not executable"
    echo "$OPS_ATOMIC_REDIS_SERVER"
    return 0
  fi
  local p
  for p in "$(command -v redis-server 2>/dev/null)" /usr/bin/redis-server /usr/sbin/redis-server /usr/local/bin/redis-server; do
    if [ -n "$p" ] && [ -x "$p" ]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# The highest /usr/lib/postgresql/<version>/bin holding initdb and postgres.
find_pg_bin() {
  if [ -n "${OPS_ATOMIC_PG_BIN:-}" ]; then
    [ -x "$OPS_ATOMIC_PG_BIN/postgres" ] && [ -x "$OPS_ATOMIC_PG_BIN/initdb" ] ||
      die "OPS_ATOMIC_PG_BIN=$OPS_ATOMIC_PG_BIN holds no initdb and postgres"
    echo "$OPS_ATOMIC_PG_BIN"
    return 0
  fi
  local d best=""
  while IFS= read -r d; do
    if [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then best=$d; fi
  done < <(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V)
  [ -n "$best" ] || return 1
  echo "$best"
}

find_node_exporter() {
  if [ -n "${OPS_ATOMIC_NODE_EXPORTER:-}" ]; then
    [ -x "$OPS_ATOMIC_NODE_EXPORTER" ] || die "OPS_ATOMIC_NODE_EXPORTER=$OPS_ATOMIC_NODE_EXPORTER is not executable"
    echo "$OPS_ATOMIC_NODE_EXPORTER"
    return 0
  fi
  local p
  for p in /usr/bin/prometheus-node-exporter "$(command -v node_exporter 2>/dev/null)"; do
    if [ -n "$p" ] && [ -x "$p" ]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

find_chromium() {
  if [ -n "${OPS_ATOMIC_CHROMIUM:-}" ]; then
    [ -x "$OPS_ATOMIC_CHROMIUM" ] || die "OPS_ATOMIC_CHROMIUM=$OPS_ATOMIC_CHROMIUM is not executable"
    echo "$OPS_ATOMIC_CHROMIUM"
    return 0
  fi
  local p
  for p in /usr/bin/chromium "$(command -v chromium 2>/dev/null)"; do
    if [ -n "$p" ] && [ -x "$p" ]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# --- 1. Servers the integration tests start -------------------------------

missing=()
find_redis >/dev/null || missing+=(redis-server)
find_pg_bin >/dev/null || missing+=(postgresql)
[ -x /usr/lib/nagios/plugins/check_dummy ] || missing+=(monitoring-plugins-basic)
find_node_exporter >/dev/null || missing+=(prometheus-node-exporter)
# Chromium only recommends a font; without one the page would be screenshot without text.
find_chromium >/dev/null || missing+=(chromium fonts-liberation)
# tests/fleet.rs: promtool and prometheus, amtool and alertmanager, the Pushgateway.
[ -x /usr/bin/promtool ] && [ -x /usr/bin/prometheus ] || missing+=(prometheus)
[ -x /usr/bin/amtool ] && [ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
[ -x /usr/bin/prometheus-pushgateway ] || missing+=(prometheus-pushgateway)
# tests/stack.rs holds the port owner it finds to the real lsof.
command -v lsof >/dev/null 2>&1 || missing+=(lsof)
# tests/stack.rs: the stub Engine is held to the real docker CLI (Debian's docker.io
# package brings it; its daemon is never started), and a real Podman service is asked.
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v podman >/dev/null 2>&1 || missing+=(podman)

cleanup_install() {
  if [ -n "${created_policy:-}" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
  if [ -n "${created_cluster_conf:-}" ]; then as_root rm -f "$created_cluster_conf"; fi
}

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing[*]} and there is no apt-get: install them with your package manager, or set OPS_ATOMIC_REDIS_SERVER / OPS_ATOMIC_PG_BIN"
  log "installing ${missing[*]} (apt)"
  trap cleanup_install EXIT
  # No service may start during the install (policy-rc.d exit 101 = "forbidden")...
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    created_policy=1
  fi
  # ...and the postgresql package creates no "main" cluster on port 5432.
  if [ ! -e /etc/postgresql-common/createcluster.d/ops-atomic-test.conf ]; then
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    as_root sh -c 'echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/ops-atomic-test.conf'
    created_cluster_conf=/etc/postgresql-common/createcluster.d/ops-atomic-test.conf
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  cleanup_install
  trap - EXIT
fi

redis=$(find_redis) || die "redis-server is still missing after installing it: the integration tests need it (apt-get install -y redis-server)"
pg_bin=$(find_pg_bin) || die "PostgreSQL server binaries are still missing after installing them: the integration tests need them (apt-get install -y postgresql)"
[ -x /usr/lib/nagios/plugins/check_dummy ] || die "the Nagios plugins are still missing after installing them: the [[command]] tests need them (apt-get install -y monitoring-plugins-basic)"
node_exporter=$(find_node_exporter) || die "node_exporter is still missing after installing it: tests/export.rs needs it (apt-get install -y prometheus-node-exporter)"
chromium=$(find_chromium) || die "chromium is still missing after installing it: tests/page.rs reads the status page in it (apt-get install -y chromium)"
for fleet_tool in promtool prometheus amtool prometheus-alertmanager prometheus-pushgateway; do
  [ -x "/usr/bin/$fleet_tool" ] || die "/usr/bin/$fleet_tool is still missing after installing it: tests/fleet.rs needs it (apt-get install -y prometheus prometheus-alertmanager prometheus-pushgateway)"
done
command -v lsof >/dev/null 2>&1 || die "lsof is still missing after installing it: tests/stack.rs cross-checks port owners with it (apt-get install -y lsof)"
command -v docker >/dev/null 2>&1 || die "the docker CLI is still missing after installing docker.io: tests/stack.rs holds its stub Engine to it"
command -v podman >/dev/null 2>&1 || die "podman is still missing after installing it: tests/stack.rs asks a real Podman service (apt-get install -y podman)"
export OPS_ATOMIC_REDIS_SERVER=$redis OPS_ATOMIC_PG_BIN=$pg_bin OPS_ATOMIC_NODE_EXPORTER=$node_exporter OPS_ATOMIC_CHROMIUM=$chromium
log "redis-server: $redis; PostgreSQL binaries: $pg_bin; node_exporter: $node_exporter; chromium: $chromium"

# --- 2. Checks --------------------------------------------------------------

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs)"
for component in rustfmt clippy; do
  sub=${component/rustfmt/fmt}
  if ! cargo "$sub" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || die "cargo $sub is missing: install the $component component"
    log "installing the $component component"
    rustup component add "$component" || die "cannot install the $component component"
  fi
done

failed=()
step() {
  local name=$1
  shift
  log "$name: $*"
  if "$@"; then
    log "$name: ok"
  else
    log "$name: FAILED"
    failed+=("$name")
  fi
}

step fmt cargo fmt --all -- --check
step clippy cargo clippy --all-targets -- -D warnings
step test cargo test --no-fail-fast

if [ ${#failed[@]} -gt 0 ]; then
  die "failed: ${failed[*]}"
fi
log "all checks passed"
