#!/usr/bin/env bash
# The AWS mode end to end on this machine, laid out as deploy/aws/template.yaml deploys it:
# `abforge pipeline run` with its customers in PostgreSQL (a fresh database), its objects in S3
# (s3://BUCKET/PREFIX/pipeline), its run log in DynamoDB — moto and PostgreSQL from
# scripts/services.sh — and its params published through the Lambda function: the
# `cargo lambda build` bootstrap (x86_64, zig-linked) polling `cargo lambda watch`'s runtime
# emulator, whose HTTP side turns each request into an API Gateway HTTP API (v2) event, as API
# Gateway does; the function keeps the params in s3://BUCKET/PREFIX/api and wants the bearer
# token. Then everything is read back with the AWS CLI (tools venv) and psql, and the
# function's log shows the PUT it answered. Finally `pipeline step publish` without the token
# is refused (401) and fails the step.
#
#   bash scripts/aws-mode-test.sh      # called by scripts/test.sh after scripts/lambda-test.sh
#
# The bootstrap is built as scripts/lambda-test.sh builds it (the same flags, so its build is
# reused), unless ABFORGE_LAMBDA_BOOTSTRAP names one built already; abforge is ABFORGE_BIN,
# else the cargo tests' debug build, built when missing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
CACHE="${ABFORGE_CACHE_DIR:-$HOME/.cache/abforge}"
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$CACHE/zig}"
PROFILE="${ABFORGE_LAMBDA_PROFILE:-dev}"
TOKEN="aws-mode-test-token"
DATE=2026-11-23
RUN_ID=seed-20261123

say() { printf 'aws-mode-test: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

VENV_BIN="$(bash scripts/services.sh venv)"
export PATH="$VENV_BIN:$PATH"
PY="$VENV_BIN/python"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/abforge-aws-mode.XXXXXX")"
PIDS=()
OWN_SERVICES=""
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "$OWN_SERVICES" ]]; then
    ABFORGE_SERVICES_DIR="$OWN_SERVICES" bash scripts/services.sh purge >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${ABFORGE_TEST_DATABASE_URL:-}" || -z "${ABFORGE_TEST_S3_ENDPOINT:-}" ]]; then
  OWN_SERVICES="$WORK/services"
  ABFORGE_SERVICES_DIR="$OWN_SERVICES" bash scripts/services.sh start
  set -a
  # shellcheck disable=SC1091
  . "$OWN_SERVICES/services.env"
  set +a
fi

BIN="${ABFORGE_BIN:-$CARGO_TARGET_DIR/debug/abforge}"
if [[ ! -x "$BIN" ]]; then
  say "building abforge (cargo build -p abforge-cli)"
  cargo build --locked -p abforge-cli --bin abforge
  BIN="$CARGO_TARGET_DIR/debug/abforge"
fi

# 1. The Lambda bootstrap (as scripts/lambda-test.sh builds it: incremental after it).
if [[ "$PROFILE" == release ]]; then
  build_flags=(--release)
else
  build_flags=(--config 'profile.dev.package."*".opt-level=0')
fi
t0=$SECONDS
if [[ -n "${ABFORGE_LAMBDA_BOOTSTRAP:-}" ]]; then
  BOOTSTRAP="$ABFORGE_LAMBDA_BOOTSTRAP"
else
  cargo lambda build --locked --bin abforge-lambda "${build_flags[@]}" >"$WORK/build.log" 2>&1 \
    || { tail -n 30 "$WORK/build.log" >&2; die "cargo lambda build failed"; }
  BOOTSTRAP="$CARGO_TARGET_DIR/lambda/abforge-lambda/bootstrap"
fi
[[ -x "$BOOTSTRAP" ]] || die "no bootstrap at $BOOTSTRAP"
say "bootstrap $BOOTSTRAP ready in $((SECONDS - t0)) s"

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# 2. The emulator and the function: the params API at http://127.0.0.1:PORT.
PORT="$(free_port)"
cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$PORT" \
  </dev/null >"$WORK/emulator.log" 2>&1 &
EMULATOR=$!
PIDS+=("$EMULATOR")
# The function exits when the Runtime API refuses it: wait until the emulator listens (it runs
# `cargo metadata` first), up to 60 s.
deadline=$((SECONDS + 60))
until "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$PORT" 2>/dev/null; do
  if ! kill -0 "$EMULATOR" 2>/dev/null || ((SECONDS >= deadline)); then
    cat "$WORK/emulator.log" >&2
    die "cargo lambda watch does not listen on $PORT"
  fi
  sleep 0.2
done
tag="$$_$(date +%s)"
PREFIX="aws-mode-$tag"
env -u ABFORGE_DATA_DIR -u ABFORGE_OBJECT_STORE_URL \
  AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 \
  AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$PORT/.rt" RUST_LOG=info \
  ABFORGE_API_TOKEN="$TOKEN" ABFORGE_OBJECT_STORE_URL="s3://$ABFORGE_TEST_S3_BUCKET/$PREFIX/api" \
  AWS_ENDPOINT_URL="$ABFORGE_TEST_S3_ENDPOINT" \
  "$BOOTSTRAP" </dev/null >"$WORK/function.log" 2>&1 &
FUNCTION=$!
PIDS+=("$FUNCTION")
API="http://127.0.0.1:$PORT"
# A request sent before the function polls waits in the emulator's queue, hence the short
# timeout and the retries, up to 60 s.
deadline=$((SECONDS + 60))
until "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=2).read()' "$API" 2>/dev/null; do
  if ! kill -0 "$FUNCTION" 2>/dev/null || ((SECONDS >= deadline)); then
    cat "$WORK/emulator.log" "$WORK/function.log" >&2
    die "the function does not answer at $API"
  fi
  sleep 0.2
done
say "the params API (Lambda under cargo lambda's emulator) answers at $API"

# 3. The pipeline on PostgreSQL, S3 and DynamoDB, publishing through the function.
dbname="abforge_aws_mode_$tag"
psql "$ABFORGE_TEST_DATABASE_URL" -X -q -c "CREATE DATABASE $dbname"
# The database replaced, the query (sslmode=verify-full&sslrootcert=…) kept.
pg_base="${ABFORGE_TEST_DATABASE_URL%%\?*}"
pg_url="${pg_base%/*}/$dbname${ABFORGE_TEST_DATABASE_URL#"$pg_base"}"
table="abforge-aws-mode-$tag"
run_abforge() {
  env -u ABFORGE_CONFIG -u ABFORGE_BLUEPRINT -u AWS_ENDPOINT_URL_S3 \
    ABFORGE_DATA_DIR="$WORK/unused" ABFORGE_DATABASE_URL="$pg_url" \
    ABFORGE_RUN_LOG_URL="dynamodb://$table" \
    ABFORGE_OBJECT_STORE_URL="s3://$ABFORGE_TEST_S3_BUCKET/$PREFIX/pipeline" \
    ABFORGE_API_URL="$API" AWS_ENDPOINT_URL="$ABFORGE_TEST_S3_ENDPOINT" \
    AWS_ENDPOINT_URL_DYNAMODB="$ABFORGE_TEST_DYNAMODB_ENDPOINT" AWS_ALLOW_HTTP=true \
    "$BIN" "$@"
}
t0=$SECONDS
ABFORGE_API_TOKEN="$TOKEN" run_abforge pipeline run -b examples/seed.toml --run-date "$DATE" --json \
  >"$WORK/report.json" 2>"$WORK/run.log" || { cat "$WORK/run.log" >&2; die "pipeline run failed"; }
say "pipeline run: $((SECONDS - t0)) s"
[[ ! -e "$WORK/unused" ]] || die "the embedded data folder was used"

# 4. Read back: psql, the AWS CLI, the function's log.
psql_q() { psql "$pg_url" -X -At -c "$1"; }
[[ "$(psql_q "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM customers WHERE run_id = '$RUN_ID'")" == "200000|200000" ]] \
  || die "psql: customers"
[[ "$(psql_q "SELECT status, rows FROM runs WHERE run_id = '$RUN_ID'")" == "succeeded|200000" ]] || die "psql: the run"
results="$(psql_q "SELECT COUNT(*) FROM ab_results WHERE run_id = '$RUN_ID'")"
bp_hash="$(psql_q "SELECT blueprint_hash FROM runs WHERE run_id = '$RUN_ID'")"
((results >= 8)) || die "psql: $results results"
aws_() { aws --endpoint-url "$ABFORGE_TEST_S3_ENDPOINT" "$@"; }
aws_ s3 cp --only-show-errors "s3://$ABFORGE_TEST_S3_BUCKET/$PREFIX/api/params/seed/$RUN_ID.json" "$WORK/params.json"
aws_ s3 ls --recursive "s3://$ABFORGE_TEST_S3_BUCKET/$PREFIX/pipeline/runs/seed/$RUN_ID/" >"$WORK/runs.txt"
aws_ s3 ls --recursive "s3://$ABFORGE_TEST_S3_BUCKET/$PREFIX/" >"$WORK/all.txt"
aws --endpoint-url "$ABFORGE_TEST_DYNAMODB_ENDPOINT" dynamodb query --table-name "$table" \
  --key-condition-expression "run_id = :r" --expression-attribute-values "{\":r\": {\"S\": \"$RUN_ID\"}}" \
  --output json >"$WORK/items.json"
"$PY" - "$WORK" "$bp_hash" "$RUN_ID" "$PREFIX" <<'PY'
import json, os, sys
work, bp_hash, run, prefix = sys.argv[1:5]
doc = json.load(open(os.path.join(work, "params.json")))
assert doc["run_id"] == run and doc["blueprint_hash"] == bp_hash, (doc["run_id"], doc["blueprint_hash"], bp_hash)
assert doc["truth"]["experiment_id"] == "seed", doc["truth"].keys()
keys = [l.split()[-1] for l in open(os.path.join(work, "all.txt")) if l.strip()]
assert all(k.startswith((f"{prefix}/api/", f"{prefix}/pipeline/")) for k in keys), keys
assert [k for k in keys if k.startswith(f"{prefix}/api/")] == [f"{prefix}/api/params/seed/{run}.json"], keys
runs = open(os.path.join(work, "runs.txt")).read()
assert "customers/part-00000-of-00001.parquet" in runs and "analysis.json" in runs, runs
items = json.load(open(os.path.join(work, "items.json")))["Items"]
steps = {i["step"]["S"]: i["status"]["S"] for i in items}
report = json.load(open(os.path.join(work, "report.json")))
want = {s["step"]: "succeeded" for s in report["steps"]}
assert steps == want and "publish" in steps, (steps, want)
publish = next(i for i in items if i["step"]["S"] == "publish")
assert "201" in publish["message"]["S"], publish
print(f"aws-mode-test: S3: params at {prefix}/api/params/seed/{run}.json, hash {bp_hash[:12]}… as in PostgreSQL; "
      f"{len(keys)} objects; DynamoDB: {len(items)} items ({', '.join(want)}), all succeeded")
PY
if ! grep -q "PUT" "$WORK/function.log" || ! grep -q "/v1/experiments/seed/runs/$RUN_ID/params" "$WORK/function.log"; then
  tail -n 20 "$WORK/function.log" >&2
  die "the function's log has no PUT of the params"
fi
say "psql: 200000 customers once each, run succeeded, $results decisions; the function logged the PUT"

# 5. Without the token the function refuses the write (401) and the step fails (exit 1).
set +e
run_abforge pipeline step publish -b examples/seed.toml --run-date 2026-11-30 --attempts 1 \
  >"$WORK/refused.out" 2>"$WORK/refused.err"
code=$?
set -e
[[ $code -eq 1 ]] || { cat "$WORK/refused.err" >&2; die "publish without the token exited $code, expected 1"; }
grep -q "401" "$WORK/refused.err" || { cat "$WORK/refused.err" >&2; die "no 401 in the error"; }
psql "$ABFORGE_TEST_DATABASE_URL" -X -q -c "DROP DATABASE $dbname WITH (FORCE)"
say "passed: PostgreSQL + S3 + DynamoDB, params through the Lambda function (201 with the token, 401 without)"
