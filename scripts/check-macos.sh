#!/usr/bin/env bash
# Type-checks (and lints) the whole crate, tests included, for macOS on this
# Linux machine: the product runs on Macs, CI on Linux, so the
# `#[cfg(target_os = "macos")]` code is otherwise never compiled here.
#
#   scripts/check-macos.sh            # aarch64-apple-darwin (Apple silicon)
#   TARGET=x86_64-apple-darwin scripts/check-macos.sh
#
# Needs the target's standard library (`rustup target add`, which needs
# static.rust-lang.org: not part of the test command, whose CI reaches the
# package registries only). Nothing is linked: `cargo check` only, so the C
# that ring's build script compiles goes through a stand-in compiler that
# writes empty objects (there is no macOS SDK here).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${TARGET:-aarch64-apple-darwin}"
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
fake="$(mktemp -d)"
trap 'rm -rf "$fake"' EXIT
cat > "$fake/cc" <<'CC'
#!/bin/sh
out=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift ;; -o*) out="${1#-o}" ;; esac
  shift
done
[ -n "$out" ] && : > "$out"
exit 0
CC
cat > "$fake/ar" <<'AR'
#!/bin/sh
for a in "$@"; do case "$a" in *.a) printf '!<arch>\n' > "$a"; exit 0 ;; esac; done
AR
chmod +x "$fake/cc" "$fake/ar"
env_cc="CC_${target//-/_}" env_ar="AR_${target//-/_}"
export "$env_cc=$fake/cc" "$env_ar=$fake/ar"
cargo clippy --target "$target" --all-targets -- -D warnings
echo "==> $target: checks and lints clean"
