#!/bin/sh
# What the three *_ops_monitor.sh wrappers run: `ops-atomic --root <root> "$@"`.
# The root is this repository unless OPS_ATOMIC_ROOT says otherwise. The
# binary: `ops-atomic` on PATH, else target/release/ops-atomic, else
# `cargo run --release`.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${OPS_ATOMIC_ROOT:-$repo}
if command -v ops-atomic >/dev/null 2>&1; then
  exec ops-atomic --root "$root" "$@"
elif [ -x "$repo/target/release/ops-atomic" ]; then
  exec "$repo/target/release/ops-atomic" --root "$root" "$@"
else
  exec cargo run --quiet --release --manifest-path "$repo/Cargo.toml" -- --root "$root" "$@"
fi
