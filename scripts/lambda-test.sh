#!/usr/bin/env bash
# The abforge-lambda function under the Lambda runtime emulator, as AWS runs it: the `bootstrap`
# that `cargo lambda build` makes (cross-linked by zig for the provided.al2023 runtime) polls
# `cargo lambda watch --only-lambda-apis` (the Runtime API), and `cargo lambda invoke` sends each
# API Gateway event of crates/lambda/tests/events/cases.json through it, in order, checking the
# proxy responses (status, content type, x-request-id, body). Runs three times: on a local data
# folder, on S3 (moto, from scripts/services.sh), and on S3 with the token read from Secrets
# Manager (moto) instead of the environment; then checks that a missing secret stops the function.
#
#   bash scripts/lambda-test.sh            # called by scripts/test.sh; also works alone
#
# The build is the dev profile with dependencies unoptimised (opt-level 0 instead of the
# workspace's 3): a cold build takes about 3 minutes on 2 cores instead of 8, and a dozen
# requests do not need the speed. ABFORGE_LAMBDA_PROFILE=release builds what you would deploy
# (--release) instead. cargo lambda builds for the target x86_64-unknown-linux-gnu explicitly,
# in its own folder of CARGO_TARGET_DIR (default ~/.cache/abforge/target), so it shares no
# artifacts with the tests' build but is incremental across runs; zig's cache is
# ~/.cache/abforge/zig.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
CACHE="${ABFORGE_CACHE_DIR:-$HOME/.cache/abforge}"
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$CACHE/zig}"
EVENTS="$ROOT/crates/lambda/tests/events"
PROFILE="${ABFORGE_LAMBDA_PROFILE:-dev}"
TOKEN="lambda-test-token"

say() { printf 'lambda-test: %s\n' "$*" >&2; }

VENV_BIN="$(bash scripts/services.sh venv)"
export PATH="$VENV_BIN:$PATH"
PY="$VENV_BIN/python"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/abforge-lambda.XXXXXX")"
PIDS=()
OWN_SERVICES=""
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$OWN_SERVICES" ]]; then
    ABFORGE_SERVICES_DIR="$OWN_SERVICES" bash scripts/services.sh stop || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# S3: the services of scripts/test.sh, or our own.
if [[ -z "${ABFORGE_TEST_S3_ENDPOINT:-}" ]]; then
  OWN_SERVICES="$WORK/services"
  ABFORGE_SERVICES_DIR="$OWN_SERVICES" bash scripts/services.sh start
  set -a
  # shellcheck disable=SC1091
  . "$OWN_SERVICES/services.env"
  set +a
fi

# 1. The bootstrap.
if [[ "$PROFILE" == release ]]; then
  build_flags=(--release)
else
  build_flags=(--config 'profile.dev.package."*".opt-level=0')
fi
say "cargo lambda build ${build_flags[*]} (target x86_64-unknown-linux-gnu, linked by zig $("$PY" -m ziglang version))"
t0=$SECONDS
cargo lambda build --locked --bin abforge-lambda "${build_flags[@]}"
BOOTSTRAP="$CARGO_TARGET_DIR/lambda/abforge-lambda/bootstrap"
[[ -x "$BOOTSTRAP" ]] || { say "no bootstrap at $BOOTSTRAP"; exit 1; }
say "built $BOOTSTRAP in $((SECONDS - t0)) s"

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
  local pid="$1" port="$2" i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$port" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# 2. The emulator: the Runtime API the bootstrap polls, and the Invoke API.
PORT="$(free_port)"
cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$PORT" \
  </dev/null >"$WORK/emulator.log" 2>&1 &
EMULATOR=$!
PIDS+=("$EMULATOR")
if ! wait_port "$EMULATOR" "$PORT"; then
  say "the emulator did not start; its log:"
  cat "$WORK/emulator.log" >&2
  exit 1
fi
say "emulator on 127.0.0.1:$PORT"

# 3. One function instance per backend, each fed every case.
run_cases() {
  local name="$1"
  shift
  say "[$name] starting the bootstrap"
  # Only what the pass sets names the store, whatever the calling shell has.
  env -u ABFORGE_OBJECT_STORE_URL -u ABFORGE_DATA_DIR -u AWS_ENDPOINT_URL \
    AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$PORT/.rt" RUST_LOG=info \
    ABFORGE_API_TOKEN="$TOKEN" "$@" \
    "$BOOTSTRAP" </dev/null >"$WORK/$name.log" 2>&1 &
  local fn=$!
  PIDS+=("$fn")
  local out="$WORK/$name-responses"
  mkdir -p "$out"
  local i=0 event
  while read -r event; do
    i=$((i + 1))
    if ! cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$PORT" \
      --data-file "$EVENTS/$event" >"$out/$i.json" 2>"$out/$i.err"; then
      say "[$name] invoke #$i ($event) failed:"
      cat "$out/$i.err" >&2
      say "function log:"
      tail -n 40 "$WORK/$name.log" >&2
      return 1
    fi
  done < <("$PY" -c 'import json, sys; [print(c["event"]) for c in json.load(open(sys.argv[1]))]' "$EVENTS/cases.json")
  if ! "$PY" - "$EVENTS" "$out" "$name" <<'PY'; then
import json, os, sys

events, out, name = sys.argv[1:4]
cases = json.load(open(os.path.join(events, "cases.json")))

def subset(expected, actual, path="body"):
    """Every key of `expected` in `actual` with an equal value (objects recursively)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        errors = []
        for k, v in expected.items():
            if k not in actual:
                errors.append(f"{path}.{k}: missing")
            else:
                errors += subset(v, actual[k], f"{path}.{k}")
        return errors
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]

failures = 0
for i, case in enumerate(cases, 1):
    resp = json.load(open(os.path.join(out, f"{i}.json")))
    event = json.load(open(os.path.join(events, case["event"])))
    errors = []
    # REST (v1) answers carry multiValueHeaders, HTTP API (v2) answers headers.
    headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
    for k, v in (resp.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), ", ".join(v))
    if resp.get("statusCode") != case["status"]:
        errors.append(f"status {resp.get('statusCode')}, expected {case['status']}")
    ctype = headers.get("content-type", "")
    if not ctype.startswith(case.get("content_type", "application/json")):
        errors.append(f"content-type {ctype!r}")
    sent = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    want_id = sent.get("x-request-id") or event["requestContext"]["requestId"]
    if headers.get("x-request-id") != want_id:
        errors.append(f"x-request-id {headers.get('x-request-id')!r}, expected {want_id!r}")
    body = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        import base64
        body = base64.b64decode(body).decode()
    if "json" in case or case.get("content_type", "application/json").startswith("application/json"):
        try:
            doc = json.loads(body)
        except ValueError:
            errors.append(f"body is not JSON: {body[:200]!r}")
            doc = None
        if doc is not None:
            errors += subset(case.get("json", {}), doc)
            for key in case.get("non_empty", []):
                if not doc.get(key):
                    errors.append(f"body.{key} is missing or empty")
    for text in case.get("contains", []):
        if text not in body:
            errors.append(f"body lacks {text!r}")
    status = "ok" if not errors else "FAILED"
    print(f"lambda-test: [{name}] #{i:<2} {case['event']:<32} {resp.get('statusCode')} {status}")
    for e in errors:
        print(f"    {e}\n    response: {json.dumps(resp)[:600]}")
    failures += bool(errors)
print(f"lambda-{name}: {len(cases) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
PY
    say "[$name] function log:"
    tail -n 40 "$WORK/$name.log" >&2
    return 1
  fi
  kill -TERM "$fn" 2>/dev/null || true
  wait "$fn" 2>/dev/null || true
}

# lambda_http's own stage handling switched off on one pass, on (the default) on the other:
# the function strips the stage either way.
run_cases local-dir ABFORGE_DATA_DIR="$WORK/data" AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true
ls "$WORK/data/objects/params/checkout/r1.json" "$WORK/data/objects/params/checkout/r2.json" >/dev/null

PREFIX="lambda-test-$$"
run_cases s3 ABFORGE_OBJECT_STORE_URL="s3://$ABFORGE_TEST_S3_BUCKET/$PREFIX" \
  AWS_ENDPOINT_URL="$ABFORGE_TEST_S3_ENDPOINT"
# The params are in the bucket, where the function was told to put them.
"$PY" - "$ABFORGE_TEST_S3_ENDPOINT" "$ABFORGE_TEST_S3_BUCKET" "$PREFIX" <<'PY'
import sys, boto3
endpoint, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", []))
want = [f"{prefix}/params/checkout/r1.json", f"{prefix}/params/checkout/r2.json"]
assert keys == want, f"objects in s3://{bucket}/{prefix}: {keys}, expected {want}"
print(f"lambda-test: [s3] stored: {', '.join(keys)}")
PY
# The token from Secrets Manager (moto), as the deployed function reads it at cold start: the
# function's environment has no token, so `rest-put-no-token` is 401 only if the secret's is used.
SECRET_ARN="$("$PY" - "$ABFORGE_TEST_S3_ENDPOINT" "$TOKEN" "$PREFIX" <<'PY'
import sys, boto3
endpoint, token, prefix = sys.argv[1:4]
sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
print(sm.create_secret(Name=f"{prefix}/api-token", SecretString=token + "\n")["ARN"])
PY
)"
run_cases s3-secret ABFORGE_OBJECT_STORE_URL="s3://$ABFORGE_TEST_S3_BUCKET/$PREFIX-secret" \
  AWS_ENDPOINT_URL="$ABFORGE_TEST_S3_ENDPOINT" ABFORGE_API_TOKEN= \
  ABFORGE_API_TOKEN_SECRET_ARN="$SECRET_ARN"

# A secret that does not exist: the function refuses to start, naming it (no open API).
MISSING="${SECRET_ARN%-*}-missing"
set +e
env -u ABFORGE_API_TOKEN AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$PORT/.rt" \
  AWS_ENDPOINT_URL="$ABFORGE_TEST_S3_ENDPOINT" ABFORGE_DATA_DIR="$WORK/data" \
  ABFORGE_API_TOKEN_SECRET_ARN="$MISSING" timeout 60 "$BOOTSTRAP" </dev/null >"$WORK/missing.log" 2>&1
code=$?
set -e
if [[ $code -eq 0 || $code -eq 124 ]] || ! grep -q "reading the API token from $MISSING" "$WORK/missing.log"; then
  say "a missing secret: exit $code (expected a failure naming $MISSING); log:"
  cat "$WORK/missing.log" >&2
  exit 1
fi
say "[missing-secret] the function refused to start (exit $code), naming the secret"
say "passed: every case, on a local folder, on S3 and with the token from Secrets Manager, through the emulator"
