#!/usr/bin/env bash
# Schemathesis against a live `abforge serve`: every operation of its /openapi.json, with
# generated valid and invalid requests, every response checked against the document (status
# codes, content types, headers, body schemas) and for server errors. Three runs:
#   local    ABFORGE_DATA_DIR in a temporary folder
#   s3       ABFORGE_OBJECT_STORE_URL=s3://abforge-test/schemathesis on moto (scripts/services.sh)
#   token    local, with ABFORGE_API_TOKEN set and sent as `Authorization: Bearer …`
#
#   bash scripts/api-fuzz.sh              # called by scripts/test.sh; also works alone
#
# Seeded, so a run is reproducible; ABFORGE_FUZZ_EXAMPLES (default 30) bounds the generated
# cases per operation, ABFORGE_FUZZ_SEED (default 20261126) picks them. The server is
# ABFORGE_BIN if set (scripts/test.sh passes the binary its tests built), else
# `cargo build -p abforge-cli`'s.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
EXAMPLES="${ABFORGE_FUZZ_EXAMPLES:-30}"
SEED="${ABFORGE_FUZZ_SEED:-20261126}"
TOKEN="fuzz-token-$SEED"

say() { printf 'api-fuzz: %s\n' "$*" >&2; }

VENV_BIN="$(bash scripts/services.sh venv)"
BIN="${ABFORGE_BIN:-$CARGO_TARGET_DIR/debug/abforge}"
if [[ -z "${ABFORGE_BIN:-}" ]]; then
  cargo build --locked -q -p abforge-cli --bin abforge
fi
[[ -x "$BIN" ]] || { say "no abforge binary at $BIN"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/abforge-fuzz.XXXXXX")"
SERVER=""
OWN_SERVICES=""
cleanup() {
  if [[ -n "$SERVER" ]]; then
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  if [[ -n "$OWN_SERVICES" ]]; then
    ABFORGE_SERVICES_DIR="$OWN_SERVICES" bash scripts/services.sh stop || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${ABFORGE_TEST_S3_ENDPOINT:-}" ]]; then
  OWN_SERVICES="$WORK/services"
  ABFORGE_SERVICES_DIR="$OWN_SERVICES" bash scripts/services.sh start
  set -a
  # shellcheck disable=SC1091
  . "$OWN_SERVICES/services.env"
  set +a
fi

# Starts `abforge serve` on a free port with the given variables; sets ADDR.
serve() {
  local name="$1"
  shift
  env "$@" "$BIN" serve --addr 127.0.0.1:0 </dev/null >"$WORK/$name.out" 2>"$WORK/$name.log" &
  SERVER=$!
  local i line=""
  for ((i = 0; i < 300; i++)); do
    # The background shell may not have created the file yet.
    line="$(head -n 1 "$WORK/$name.out" 2>/dev/null || true)"
    [[ -n "$line" ]] && break
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.1
  done
  ADDR="$(grep -oE '127\.0\.0\.1:[0-9]+' <<<"$line" | head -n 1 || true)"
  if [[ -z "$ADDR" ]]; then
    say "[$name] abforge serve did not print its address; stdout: ${line:-<empty>}; log:"
    cat "$WORK/$name.log" >&2
    return 1
  fi
  # Ready when /readyz says so (the store answers).
  for ((i = 0; i < 100; i++)); do
    if "$VENV_BIN/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "http://$ADDR/readyz" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  say "[$name] /readyz never answered 200; log:"
  cat "$WORK/$name.log" >&2
  return 1
}

stop_server() {
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
}

fuzz() {
  local name="$1"
  shift
  local t0=$SECONDS
  say "[$name] schemathesis on http://$ADDR (seed $SEED, at most $EXAMPLES examples per operation)"
  # Run in $WORK: schemathesis would find no schemathesis.toml there but ours, given explicitly.
  if ! (cd "$WORK" && "$VENV_BIN/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" \
    run "http://$ADDR/openapi.json" \
    --checks all --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 \
    --generation-database none --no-color "$@"); then
    say "[$name] FAILED; server log (last 40 lines):"
    tail -n 40 "$WORK/$name.log" >&2
    return 1
  fi
  say "[$name] passed in $((SECONDS - t0)) s"
}

serve local -u ABFORGE_OBJECT_STORE_URL -u ABFORGE_API_TOKEN -u AWS_ENDPOINT_URL ABFORGE_DATA_DIR="$WORK/data-local"
fuzz local
stop_server

serve s3 -u ABFORGE_API_TOKEN ABFORGE_OBJECT_STORE_URL="s3://$ABFORGE_TEST_S3_BUCKET/schemathesis" \
  AWS_ENDPOINT_URL="$ABFORGE_TEST_S3_ENDPOINT"
fuzz s3
stop_server
# The S3 run did write to the bucket (the PUTs of the stateful phase).
"$VENV_BIN/python" - "$ABFORGE_TEST_S3_ENDPOINT" "$ABFORGE_TEST_S3_BUCKET" <<'PY'
import sys, boto3
endpoint, bucket = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
n = s3.list_objects_v2(Bucket=bucket, Prefix="schemathesis/params/").get("KeyCount", 0)
assert n > 0, f"the S3 run stored nothing under s3://{bucket}/schemathesis/params/"
print(f"api-fuzz: [s3] {n} params objects in s3://{bucket}/schemathesis/", file=sys.stderr)
PY

serve token -u ABFORGE_OBJECT_STORE_URL -u AWS_ENDPOINT_URL ABFORGE_DATA_DIR="$WORK/data-token" ABFORGE_API_TOKEN="$TOKEN"
fuzz token -H "Authorization: Bearer $TOKEN"
stop_server
