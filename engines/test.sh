#!/usr/bin/env bash
# Runs the engine adapters' tests (engines/tests) in the engines venv.
#
#   bash engines/test.sh [pytest args]
#
# The venv comes from scripts/engines-venv.sh (built once, cached). No cargo, no network besides
# the first venv build.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$(bash "$ROOT/scripts/engines-venv.sh")"
cd "$ROOT"
exec "$PY" -m pytest -q -p no:cacheprovider -W ignore::FutureWarning -W ignore::DeprecationWarning engines/tests "$@"
