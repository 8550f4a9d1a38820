#!/usr/bin/env bash
# Builds the Python package (crates/python) into a wheel with maturin, installs it into a
# fresh venv and runs its pytest suite (crates/python/tests) there.
#
#   bash scripts/python-test.sh [pytest args]
#
# maturin and the test dependencies, every one pinned in crates/python/requirements-test.txt,
# live in a build venv made once in ~/.cache/abforge/python-venv (ABFORGE_CACHE_DIR moves it;
# rebuilt when that file or the Python version changes, like scripts/engines-venv.sh); their
# wheels are kept in ~/.cache/abforge/wheels, from which the fresh venv installs them offline.
# The wheel is built in CARGO_TARGET_DIR (default ~/.cache/abforge/target), in the dev profile
# like the cargo tests. ABFORGE_BIN names the CLI the tests compare with (default
# $CARGO_TARGET_DIR/debug/abforge); without one those comparisons are skipped.
# PYTHON picks the interpreter (default python3; CPython >= 3.10).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ABFORGE_CACHE_DIR:-$HOME/.cache/abforge}"
VENV="$CACHE/python-venv"
REQS="$ROOT/crates/python/requirements-test.txt"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

say() { printf 'python-test: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install CPython >= 3.10 or set PYTHON"
want="$(sha256sum "$REQS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
stamp="$VENV/.abforge-stamp"
pip_flags=(--disable-pip-version-check --no-input --quiet)
if [[ ! -x "$VENV/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "building the build venv in $VENV (once)"
  rm -rf "$VENV"
  mkdir -p "$CACHE/wheels"
  "$PYTHON" -m venv "$VENV"
  if ! "$VENV/bin/pip" install "${pip_flags[@]}" --no-index --find-links "$CACHE/wheels" -r "$REQS" 2>/dev/null; then
    "$VENV/bin/pip" download "${pip_flags[@]}" --only-binary=:all: -d "$CACHE/wheels" -r "$REQS"
    "$VENV/bin/pip" install "${pip_flags[@]}" --no-index --find-links "$CACHE/wheels" -r "$REQS"
  fi
  echo "$want" >"$stamp"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/abforge-python.XXXXXX")"
trap 'rm -rf "$work"' EXIT

say "building the wheel (maturin, abi3)"
(cd "$ROOT/crates/python" && "$VENV/bin/maturin" build --quiet --out "$work/dist" >&2)
wheel="$(ls "$work"/dist/abforge_lab-*.whl)"

say "installing $(basename "$wheel") into a fresh venv"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install "${pip_flags[@]}" --no-index --find-links "$CACHE/wheels" \
  -r "$REQS" "$wheel"

export ABFORGE_BIN="${ABFORGE_BIN:-$CARGO_TARGET_DIR/debug/abforge}"
# From the tests' folder, so `import abforge` finds the installed wheel, not the sources.
cd "$ROOT/crates/python/tests"
exec "$work/venv/bin/python" -m pytest -q -p no:cacheprovider . "$@"
