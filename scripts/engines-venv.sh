#!/usr/bin/env bash
# The Python venv of the engine adapters (engines/): made once, then reused.
#
#   bash scripts/engines-venv.sh     # make sure the venv exists; print its python's path
#
# The venv lives in ~/.cache/abforge/engines-venv (ABFORGE_CACHE_DIR moves it) and holds every
# package pinned in engines/requirements.txt. It is rebuilt only when that file or the Python
# version changes (a stamp file records both), like the tools venv of scripts/services.sh; the
# wheels downloaded are kept in ~/.cache/abforge/wheels, so a rebuild fetches only what changed.
# PYTHON picks the interpreter (default python3; the pins were resolved on CPython 3.11).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ABFORGE_CACHE_DIR:-$HOME/.cache/abforge}"
VENV="$CACHE/engines-venv"
REQS="$ROOT/engines/requirements.txt"
PYTHON="${PYTHON:-python3}"

say() { printf 'engines-venv: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install CPython 3.11 or set PYTHON"
want="$(sha256sum "$REQS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
stamp="$VENV/.abforge-stamp"
if [[ ! -x "$VENV/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "building the engines venv in $VENV (once; about a minute)"
  t0=$SECONDS
  rm -rf "$VENV"
  mkdir -p "$CACHE/wheels"
  "$PYTHON" -m venv "$VENV"
  pip=("$VENV/bin/pip" --disable-pip-version-check --no-input)
  if ! "${pip[@]}" install --quiet --no-index --find-links "$CACHE/wheels" -r "$REQS" 2>/dev/null; then
    "${pip[@]}" download --quiet --only-binary=:all: -d "$CACHE/wheels" -r "$REQS"
    "${pip[@]}" install --quiet --no-index --find-links "$CACHE/wheels" -r "$REQS"
  fi
  echo "$want" >"$stamp"
  say "venv ready in $((SECONDS - t0)) s"
fi
echo "$VENV/bin/python"
