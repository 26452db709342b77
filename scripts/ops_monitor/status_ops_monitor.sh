#!/bin/sh
# Kept for people used to the old script: `ops-atomic status` does the work.
# Arguments pass through, e.g. `--json`. The root is this repository unless
# OPS_ATOMIC_ROOT says otherwise. The binary: `ops-atomic` on PATH, else
# target/release/ops-atomic, else `cargo run --release`.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${OPS_ATOMIC_ROOT:-$repo}
if command -v ops-atomic >/dev/null 2>&1; then
  exec ops-atomic --root "$root" status "$@"
elif [ -x "$repo/target/release/ops-atomic" ]; then
  exec "$repo/target/release/ops-atomic" --root "$root" status "$@"
else
  exec cargo run --quiet --release --manifest-path "$repo/Cargo.toml" -- --root "$root" status "$@"
fi
