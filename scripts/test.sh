#!/usr/bin/env bash
# Runs every check and test of abforge, installing what they need first. Idempotent.
#   bash scripts/test.sh            # what CI runs
# The cargo target folder lives outside the clone (default ~/.cache/abforge/target), so
# repeated runs and CI on the same machine build incrementally.
#
# Before clippy and the tests, scripts/check-docs.py (system python3, standard library only)
# checks that every relative link and #anchor of the repository's Markdown files resolves;
# after the cargo tests, scripts/check-doc-commands.py runs every command the docs show with
# the binary they built and compares each output's shape with the docs'.
#
# Besides cargo's checks it installs (once, cached in ~/.cache/abforge) a Python venv of test
# tools and starts a local S3 + DynamoDB server (moto) and a private PostgreSQL cluster (the
# server installed with apt-get when missing) for the tests: scripts/services.sh. After
# the cargo tests come the fault-injection suite (scripts/chaos.sh, short form, on services of
# its own), the engine adapters against their libraries and `calibrate --engine` end to end
# (engines/test.sh, in the venv of scripts/engines-venv.sh), the Python package built with
# maturin, installed into a fresh venv and tested with pytest (scripts/python-test.sh; its
# build venv cached in ~/.cache/abforge/python-venv), schemathesis against a live
# `abforge serve` (scripts/api-fuzz.sh), the
# dashboard in headless Chromium (scripts/dashboard-test.sh: Debian's chromium and npm's
# playwright-core, installed once), the Lambda function under the runtime emulator (scripts/lambda-test.sh) and the AWS mode end to
# end with the params published through it (scripts/aws-mode-test.sh), then the AWS template
# with cfn-lint (scripts/cfn-lint.sh) and the Airflow DAG in real Airflow (scripts/airflow-test.sh,
# its venv cached in ~/.cache/abforge/airflow-venv). Each of these can be skipped, with a
# message, by ABFORGE_SKIP_SERVICES=1, ABFORGE_SKIP_CHAOS=1, ABFORGE_SKIP_FUZZ=1, ABFORGE_SKIP_E2E=1 (Chromium),
# ABFORGE_SKIP_LAMBDA=1 (the Lambda and the AWS mode), ABFORGE_SKIP_AIRFLOW=1 (cfn-lint and
# Airflow), ABFORGE_SKIP_ENGINES=1 (the engine adapters), ABFORGE_SKIP_PYTHON=1 (the Python
# package).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
# No incremental-compilation caches: on a target folder shared by every run they grow by
# gigabytes a week (19 GB was measured), and a CI build recompiles the workspace anyway.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
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

step "docs: every relative link and #anchor of the Markdown files (scripts/check-docs.py)"
python3 scripts/test_check_docs.py
python3 scripts/check-docs.py
python3 scripts/test_check_doc_commands.py

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the store's backends as cargo features: each alone, and the API and Lambda without a database client (scripts/check-features.sh)"
bash scripts/check-features.sh

skip() { printf '==> SKIPPED: %s\n' "$*"; }

if [[ "${ABFORGE_SKIP_SERVICES:-}" == 1 ]]; then
  skip "test services (ABFORGE_SKIP_SERVICES=1): the S3 and PostgreSQL tests do not run"
else
  step "test services: moto (S3 + DynamoDB) and PostgreSQL on loopback, tools venv in ~/.cache/abforge/venv"
  # Each run has its own services (and PostgreSQL cluster), stopped and deleted however the
  # script ends.
  ABFORGE_SERVICES_DIR="$(mktemp -d "${TMPDIR:-/tmp}/abforge-services.XXXXXX")"
  export ABFORGE_SERVICES_DIR
  trap 'bash scripts/services.sh purge; rm -rf "$ABFORGE_SERVICES_DIR"' EXIT
  trap 'exit 130' INT TERM
  bash scripts/services.sh start
  set -a
  # shellcheck disable=SC1091
  . "$ABFORGE_SERVICES_DIR/services.env"
  set +a
fi

step "tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  # nextest does not run doctests.
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast
fi

step "docs: every command of a console block, run and its output's shape compared (scripts/check-doc-commands.py)"
ABFORGE_BIN="$CARGO_TARGET_DIR/debug/abforge" python3 scripts/check-doc-commands.py

if [[ "${ABFORGE_SKIP_ENGINES:-}" == 1 ]]; then
  skip "the engine adapters (ABFORGE_SKIP_ENGINES=1)"
else
  step "the engine adapters: each against its library, the protocol, calibrate --engine end to end (engines/test.sh)"
  ABFORGE_BIN="$CARGO_TARGET_DIR/debug/abforge" bash engines/test.sh
fi

if [[ "${ABFORGE_SKIP_PYTHON:-}" == 1 ]]; then
  skip "the Python package (ABFORGE_SKIP_PYTHON=1)"
else
  step "the Python package: maturin wheel, fresh venv, pytest against the CLI (scripts/python-test.sh)"
  ABFORGE_BIN="$CARGO_TARGET_DIR/debug/abforge" bash scripts/python-test.sh
fi

if [[ "${ABFORGE_SKIP_CHAOS:-}" == 1 || "${ABFORGE_SKIP_SERVICES:-}" == 1 ]]; then
  skip "the fault-injection suite (ABFORGE_SKIP_CHAOS=1 or ABFORGE_SKIP_SERVICES=1)"
else
  step "fault injection, short form: kill -9 in every step, outages, a full disk (scripts/chaos.sh)"
  bash scripts/chaos.sh
fi

if [[ "${ABFORGE_SKIP_FUZZ:-}" == 1 ]]; then
  skip "schemathesis against abforge serve (ABFORGE_SKIP_FUZZ=1)"
else
  step "schemathesis against abforge serve: local folder, S3, token"
  # The binary the CLI's integration tests just built: building it alone (-p abforge-cli)
  # would resolve other features and compile a second set of dependencies.
  ABFORGE_BIN="$CARGO_TARGET_DIR/debug/abforge" bash scripts/api-fuzz.sh
fi

if [[ "${ABFORGE_SKIP_E2E:-}" == 1 ]]; then
  skip "the dashboard in headless Chromium (ABFORGE_SKIP_E2E=1)"
else
  step "the dashboard in headless Chromium: every page, a filter, bad input, numbers against the JSON twins"
  ABFORGE_BIN="$CARGO_TARGET_DIR/debug/abforge" bash scripts/dashboard-test.sh
fi

if [[ "${ABFORGE_SKIP_LAMBDA:-}" == 1 ]]; then
  skip "the Lambda function under the runtime emulator and the AWS mode end to end (ABFORGE_SKIP_LAMBDA=1)"
else
  step "the Lambda function under the runtime emulator (cargo lambda)"
  bash scripts/lambda-test.sh
  step "the AWS mode end to end: PostgreSQL, S3, DynamoDB, params through the Lambda function"
  # The bootstrap lambda-test.sh just built, and the CLI the tests built.
  ABFORGE_LAMBDA_BOOTSTRAP="$CARGO_TARGET_DIR/lambda/abforge-lambda/bootstrap" \
    ABFORGE_BIN="$CARGO_TARGET_DIR/debug/abforge" bash scripts/aws-mode-test.sh
fi

if [[ "${ABFORGE_SKIP_AIRFLOW:-}" == 1 ]]; then
  skip "cfn-lint of the AWS template and the Airflow DAG in Airflow (ABFORGE_SKIP_AIRFLOW=1)"
else
  step "the AWS deployment template: cfn-lint and least-privilege IAM"
  bash scripts/cfn-lint.sh
  step "the Airflow DAG in Airflow 3: imports, then airflow dags test on embedded and AWS-like backends"
  ABFORGE_BIN="$CARGO_TARGET_DIR/debug/abforge" bash scripts/airflow-test.sh
fi
