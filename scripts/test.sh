#!/usr/bin/env bash
# Runs every check and test of abforge, installing what they need first. Idempotent.
#   bash scripts/test.sh            # what CI runs
# The cargo target folder lives outside the clone (default ~/.cache/abforge/target), so
# repeated runs and CI on the same machine build incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: $(cargo --version)"
if command -v rustup >/dev/null 2>&1; then
  for c in clippy rustfmt; do
    rustup component list --installed | grep -q "^$c" || rustup component add "$c"
  done
fi

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  # nextest does not run doctests.
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast
fi
