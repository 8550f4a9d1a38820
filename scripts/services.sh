#!/usr/bin/env bash
# The local services and tools that abforge's tests use, installed and run by the project itself.
#
#   bash scripts/services.sh venv    # make sure the tools venv exists; print its bin/ folder
#   bash scripts/services.sh start   # start moto (S3 + DynamoDB) on a free loopback port
#   bash scripts/services.sh env     # print `export …` lines for the running services
#   bash scripts/services.sh stop    # stop them
#   bash scripts/services.sh status
#
# Every subcommand is idempotent: `start` twice leaves one server (and rewrites the env file),
# `stop` with nothing running succeeds.
#
# The venv (moto[server], schemathesis, cargo-lambda, ziglang, awscli; every package pinned in
# scripts/requirements-test.txt) lives in ~/.cache/abforge/venv and is built once: it is
# rebuilt only when requirements-test.txt or the Python version changes. The wheels downloaded
# are kept in ~/.cache/abforge/wheels. ABFORGE_CACHE_DIR moves both.
#
# The server's state (PID file, log, env file) lives in ABFORGE_SERVICES_DIR, by default
# target/services in this checkout; scripts/test.sh gives each run its own temporary folder so
# that runs in parallel do not stop each other's server. The env file (services.env, KEY=VALUE
# lines, usable with `set -a; . FILE; set +a` or `cargo lambda watch --env-file`) holds:
#   ABFORGE_TEST_S3_ENDPOINT=http://127.0.0.1:PORT   ABFORGE_TEST_S3_BUCKET=abforge-test
#   ABFORGE_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT (the same server)
#   AWS_ACCESS_KEY_ID=test  AWS_SECRET_ACCESS_KEY=test  AWS_REGION=us-east-1 (and AWS_DEFAULT_REGION)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ABFORGE_CACHE_DIR:-$HOME/.cache/abforge}"
VENV="$CACHE/venv"
REQS="$ROOT/scripts/requirements-test.txt"
STATE="${ABFORGE_SERVICES_DIR:-$ROOT/target/services}"
PIDFILE="$STATE/moto.pid"
ENVFILE="$STATE/services.env"
LOG="$STATE/moto.log"
BUCKET="${ABFORGE_TEST_S3_BUCKET:-abforge-test}"
PYTHON="${PYTHON:-python3}"

say() { printf 'services: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Builds the venv unless it is there and was built from the same requirements and Python.
ensure_venv() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install CPython 3.11 or set PYTHON"
  local stamp want
  want="$(sha256sum "$REQS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  stamp="$VENV/.abforge-stamp"
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  say "building the tools venv in $VENV (once; about a minute)"
  local t0=$SECONDS
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  "$PYTHON" -m venv "$VENV"
  # Wheels are kept in $CACHE/wheels (pip's own HTTP cache stores nothing behind some proxies),
  # so a rebuild downloads only what changed, then installs from there alone.
  mkdir -p "$CACHE/wheels"
  local pip=("$VENV/bin/pip" --disable-pip-version-check --no-input)
  if ! "${pip[@]}" install --quiet --no-index --find-links "$CACHE/wheels" -r "$REQS" 2>/dev/null; then
    "${pip[@]}" download --quiet --only-binary=:all: -d "$CACHE/wheels" -r "$REQS"
    "${pip[@]}" install --quiet --no-index --find-links "$CACHE/wheels" -r "$REQS"
  fi
  echo "$want" >"$stamp"
  say "venv ready in $((SECONDS - t0)) s"
}

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until moto answers on PORT (up to 60 s); fails early if the process died.
wait_ready() {
  local pid="$1" port="$2" i
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if "$VENV/bin/python" - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1).read()
PY
      return 0
    fi
    sleep 0.1
  done
  return 1
}

create_bucket() {
  local port="$1"
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
    "$VENV/bin/python" - "http://127.0.0.1:$port" "$BUCKET" <<'PY'
import sys, boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
s3.head_bucket(Bucket=bucket)
PY
}

write_env() {
  local port="$1" tmp="$ENVFILE.tmp"
  cat >"$tmp" <<EOF
ABFORGE_TEST_S3_ENDPOINT=http://127.0.0.1:$port
ABFORGE_TEST_S3_BUCKET=$BUCKET
ABFORGE_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$port
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
EOF
  mv "$tmp" "$ENVFILE"
}

start() {
  ensure_venv
  mkdir -p "$STATE"
  local pid port attempt
  if pid="$(running_pid)" && [[ -f "$STATE/moto.port" ]]; then
    port="$(cat "$STATE/moto.port")"
    if wait_ready "$pid" "$port"; then
      create_bucket "$port"
      write_env "$port"
      say "moto already running (pid $pid) on 127.0.0.1:$port; env in $ENVFILE"
      return 0
    fi
    stop
  fi
  # A port picked free can be taken before moto binds it: try a few.
  for attempt in 1 2 3; do
    port="$(free_port)"
    # setsid: its own process group, so that `stop` ends the server and any child it made.
    setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    echo "$port" >"$STATE/moto.port"
    if wait_ready "$pid" "$port"; then
      create_bucket "$port"
      write_env "$port"
      say "moto (S3 + DynamoDB) running (pid $pid) on 127.0.0.1:$port, bucket $BUCKET; env in $ENVFILE"
      return 0
    fi
    say "moto did not come up on port $port (attempt $attempt); log:"
    tail -n 20 "$LOG" >&2 || true
    stop
  done
  die "could not start moto_server"
}

stop() {
  local pid i
  if pid="$(running_pid)"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "stopped moto (pid $pid)"
  fi
  rm -f "$PIDFILE" "$STATE/moto.port" "$ENVFILE"
}

print_env() {
  if [[ ! -f "$ENVFILE" ]] || ! running_pid >/dev/null; then
    die "no services running (run: $0 start)"
  fi
  sed -e 's/^/export /' "$ENVFILE"
}

case "${1:-}" in
  venv) ensure_venv; echo "$VENV/bin" ;;
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  status)
    if pid="$(running_pid)"; then echo "moto running (pid $pid): $(head -1 "$ENVFILE" 2>/dev/null)"; else echo "not running"; exit 3; fi ;;
  *) echo "usage: $0 venv|start|stop|env|status" >&2; exit 2 ;;
esac
