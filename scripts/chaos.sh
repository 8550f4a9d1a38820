#!/usr/bin/env bash
# The fault-injection suite (crates/cli/tests/chaos.rs) on services of its own: `pipeline run`
# killed with SIGKILL inside every step and rerun, PostgreSQL and the S3/DynamoDB server
# stopped mid-run and started again, a data folder that fills up. Each check compares every
# layer after the rerun with a clean run's, row for row.
#
#   bash scripts/chaos.sh          # the short form scripts/test.sh runs: one kill per step
#                                  # and backend set (14 kills), 20 000 customers
#   bash scripts/chaos.sh --long   # docs/reliability.md's figures: 3 kills per step and set
#                                  # (42 kills), 200 000 customers; figures in
#                                  # bench/results/chaos.jsonl
#
# It starts its own PostgreSQL and moto (a state folder of its own, stopped and deleted at
# the end), so that stopping them disturbs no other test. The tmpfs of the full-disk check
# needs root (CI runs as root); elsewhere that check is skipped with a note.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

long=0
case "${1:-}" in
  --long) long=1 ;;
  "") ;;
  *) echo "usage: $0 [--long]" >&2; exit 2 ;;
esac

if [[ $long == 1 ]]; then
  export ABFORGE_CHAOS_KILLS_PER_STEP="${ABFORGE_CHAOS_KILLS_PER_STEP:-3}"
  export ABFORGE_CHAOS_CUSTOMERS="${ABFORGE_CHAOS_CUSTOMERS:-200000}"
  mkdir -p bench/results
  export ABFORGE_CHAOS_REPORT="${ABFORGE_CHAOS_REPORT:-$PWD/bench/results/chaos.jsonl}"
else
  export ABFORGE_CHAOS_KILLS_PER_STEP="${ABFORGE_CHAOS_KILLS_PER_STEP:-1}"
  export ABFORGE_CHAOS_CUSTOMERS="${ABFORGE_CHAOS_CUSTOMERS:-20000}"
fi

# Services of its own: the outages stop them.
ABFORGE_SERVICES_DIR="$(mktemp -d "${TMPDIR:-/tmp}/abforge-chaos.XXXXXX")"
export ABFORGE_SERVICES_DIR
trap 'bash scripts/services.sh purge >/dev/null 2>&1 || true; rm -rf "$ABFORGE_SERVICES_DIR"' EXIT
bash scripts/services.sh start
set -a
# shellcheck disable=SC1091
. "$ABFORGE_SERVICES_DIR/services.env"
set +a

echo "chaos: $ABFORGE_CHAOS_KILLS_PER_STEP kill(s) per step and backend set, $ABFORGE_CHAOS_CUSTOMERS customers"
# One test at a time: the outages stop the servers every check uses. The whole workspace is
# selected (and filtered), so that the features, and the build, are those of scripts/test.sh.
cargo nextest run --workspace --locked -E 'binary_id(abforge-cli::chaos)' --run-ignored only \
  --test-threads 1 --no-fail-fast
