#!/usr/bin/env bash
# The local services and tools that abforge's tests use, installed and run by the project itself.
#
#   bash scripts/services.sh venv    # make sure the tools venv exists; print its bin/ folder
#   bash scripts/services.sh start   # start moto (S3 + DynamoDB) and PostgreSQL on free loopback ports
#   bash scripts/services.sh env     # print `export …` lines for the running services
#   bash scripts/services.sh stop    # stop them
#   bash scripts/services.sh status
#   bash scripts/services.sh purge   # stop them and delete the PostgreSQL cluster
#   bash scripts/services.sh pg-stop|pg-start|moto-stop|moto-start
#                                    # one server down (PostgreSQL: an immediate shutdown, as a
#                                    # crash) and up again on the same port (the chaos suite's
#                                    # outages; moto starts empty, with the bucket made again)
#
# Every subcommand is idempotent: `start` twice leaves one server each (and rewrites the env file),
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
#   ABFORGE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/abforge_test?sslmode=verify-full&sslrootcert=STATE/pg-tls/ca.pem
#   ABFORGE_TEST_DATABASE_CA=STATE/pg-tls/ca.pem (the test CA, for the TLS tests)
#
# PostgreSQL: a private cluster made once by initdb (superuser `postgres`, trust authentication
# over its unix socket and 127.0.0.1 only, fsync off: test data only) in the state folder's
# postgres/ (or, when the `postgres` user cannot reach that folder, e.g. under a 0700 home, in
# /tmp/abforge-pg-<hash of the state folder>, named in postgres/root), started on a free
# loopback port with its socket in the cluster's folder; `start` creates database abforge_test
# in it. TLS is on: at start (when missing) openssl makes a test CA in the state folder's
# pg-tls/ and a server certificate it signs for localhost and 127.0.0.1 (P-256, 30 days), and
# the URL in the env file asks for sslmode=verify-full against that CA, so every PostgreSQL
# test runs over TLS with the certificate checked. The server comes from the newest /usr/lib/postgresql/*/bin, installed with `apt-get
# install postgresql` when there is none. PostgreSQL refuses to run as root: as root, the
# cluster belongs to the `postgres` system user (created when missing), and initdb and pg_ctl
# run as that user.
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
PGSTATE="$STATE/postgres"
PGTLS="$STATE/pg-tls"
PGDB=abforge_test

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

# Writes the env file for the servers running now (moto, PostgreSQL).
write_env() {
  local tmp="$ENVFILE.tmp" port
  : >"$tmp"
  if running_pid >/dev/null && [[ -f "$STATE/moto.port" ]]; then
    port="$(cat "$STATE/moto.port")"
    cat >>"$tmp" <<EOF
ABFORGE_TEST_S3_ENDPOINT=http://127.0.0.1:$port
ABFORGE_TEST_S3_BUCKET=$BUCKET
ABFORGE_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$port
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
EOF
  fi
  if port="$(pg_running_port)"; then
    # Quoted: the URL's `&` must not end the line when the file is sourced.
    echo "ABFORGE_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$port/$PGDB?sslmode=verify-full&sslrootcert=$PGTLS/ca.pem'" >>"$tmp"
    echo "ABFORGE_TEST_DATABASE_CA=$PGTLS/ca.pem" >>"$tmp"
  fi
  mv "$tmp" "$ENVFILE"
}

start() {
  mkdir -p "$STATE"
  start_moto
  pg_start
  write_env
  say "env in $ENVFILE"
}

start_moto() {
  ensure_venv
  local pid port attempt
  if pid="$(running_pid)" && [[ -f "$STATE/moto.port" ]]; then
    port="$(cat "$STATE/moto.port")"
    if wait_ready "$pid" "$port"; then
      create_bucket "$port"
      say "moto already running (pid $pid) on 127.0.0.1:$port"
      return 0
    fi
    stop_moto
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
      say "moto (S3 + DynamoDB) running (pid $pid) on 127.0.0.1:$port, bucket $BUCKET"
      return 0
    fi
    say "moto did not come up on port $port (attempt $attempt); log:"
    tail -n 20 "$LOG" >&2 || true
    stop_moto
  done
  die "could not start moto_server"
}

stop() {
  stop_moto
  pg_stop
  rm -f "$ENVFILE"
}

stop_moto() {
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
  rm -f "$PIDFILE" "$STATE/moto.port"
}

# ---- PostgreSQL ----------------------------------------------------------------------------

# The newest server's bin/ folder under /usr/lib/postgresql (nothing when none is installed).
pg_bin_dir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; fi
}

# Sets PGBIN, installing the server (`apt-get install postgresql`) when it is missing.
ensure_pg_bin() {
  PGBIN="$(pg_bin_dir)"
  [[ -n "$PGBIN" ]] && return 0
  command -v apt-get >/dev/null || die "no PostgreSQL server under /usr/lib/postgresql and no apt-get: install PostgreSQL"
  [[ $EUID -eq 0 ]] || die "no PostgreSQL server under /usr/lib/postgresql: install it as root (apt-get install postgresql)"
  say "installing the PostgreSQL server (apt-get install postgresql)"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql)
  if ! "${apt[@]}" >"$STATE/apt.log" 2>&1; then
    apt-get update -q >>"$STATE/apt.log" 2>&1 || true
    "${apt[@]}" >>"$STATE/apt.log" 2>&1 || { tail -n 20 "$STATE/apt.log" >&2; die "apt-get install postgresql failed"; }
  fi
  PGBIN="$(pg_bin_dir)"
  [[ -n "$PGBIN" ]] || die "apt-get installed postgresql but there is no initdb under /usr/lib/postgresql/*/bin"
}

# Runs a command as the cluster's owner: `postgres` when we are root (PostgreSQL refuses to
# run as root), ourselves otherwise.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The cluster's folder (data/, the socket, server.log): under the state folder when the
# cluster's owner can reach it, else in /tmp named by a hash of the state folder (so that it
# is found again), recorded in $PGSTATE/root.
pg_root() {
  if [[ -f "$PGSTATE/root" ]]; then
    cat "$PGSTATE/root"
  elif [[ $EUID -ne 0 ]] || { id postgres >/dev/null 2>&1 && runuser -u postgres -- test -x "$STATE" 2>/dev/null; }; then
    echo "$PGSTATE"
  else
    echo "/tmp/abforge-pg-$(printf '%s' "$STATE" | sha256sum | cut -c1-16)"
  fi
}

# Makes the test CA and the server's certificate for localhost and 127.0.0.1 (once per state
# folder), and copies the server's key and certificate into the cluster's folder, owned by
# the cluster's owner (the server refuses a key others can read).
pg_tls() {
  local root="$1"
  mkdir -p "$PGTLS"
  if [[ ! -f "$PGTLS/server.pem" ]] || ! openssl x509 -checkend 86400 -noout -in "$PGTLS/server.pem" >/dev/null; then
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout "$PGTLS/ca.key" -out "$PGTLS/ca.pem" -days 30 \
      -subj "/CN=abforge test CA" >/dev/null 2>&1 || die "openssl: cannot make the test CA"
    openssl req "${ec[@]}" -keyout "$PGTLS/server.key" -out "$PGTLS/server.csr" -subj "/CN=localhost" \
      >/dev/null 2>&1 || die "openssl: cannot make the server key"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$PGTLS/server.ext"
    openssl x509 -req -in "$PGTLS/server.csr" -CA "$PGTLS/ca.pem" -CAkey "$PGTLS/ca.key" \
      -CAcreateserial -days 30 -extfile "$PGTLS/server.ext" -out "$PGTLS/server.pem" \
      >/dev/null 2>&1 || die "openssl: cannot sign the server certificate"
  fi
  # shellcheck disable=SC2016
  as_pg sh -c 'umask 077; cat >"$1"' sh "$root/server.key" <"$PGTLS/server.key"
  # shellcheck disable=SC2016
  as_pg sh -c 'cat >"$1"' sh "$root/server.pem" <"$PGTLS/server.pem"
}

# Prints the port of the running cluster; fails when it is not running.
pg_running_port() {
  local root pid
  root="$(pg_root)"
  [[ -f "$root/data/postmaster.pid" && -f "$PGSTATE/port" ]] || return 1
  pid="$(head -n 1 "$root/data/postmaster.pid")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  cat "$PGSTATE/port"
}

# The server's options: loopback only, TLS on, no fsync (a test cluster: the machine does not
# crash under it). Commits stay synchronous: the chaos suite stops the server with `-m
# immediate`, and with synchronous_commit=off a commit already acknowledged to the client was
# lost with the WAL buffers (a run's results and its end), which no real server does.
pg_options() {
  local root="$1" port="$2"
  printf '%s' "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root" \
    " -c fsync=off -c full_page_writes=off -c max_connections=300" \
    " -c ssl=on -c ssl_cert_file=$root/server.pem -c ssl_key_file=$root/server.key"
}
pg_start() {
  mkdir -p "$PGSTATE"
  local root port attempt
  if port="$(pg_running_port)"; then
    PGBIN="$(pg_bin_dir)"
    pg_create_db "$port"
    say "PostgreSQL already running on 127.0.0.1:$port"
    return 0
  fi
  ensure_pg_bin
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres
  fi
  root="$(pg_root)"
  [[ "$root" == "$PGSTATE" ]] || echo "$root" >"$PGSTATE/root"
  if [[ ! -f "$root/data/PG_VERSION" ]]; then
    say "creating a PostgreSQL cluster in $root/data (once)"
    rm -rf "$root/data"
    mkdir -p "$root"
    if [[ $EUID -eq 0 ]]; then chown postgres: "$root"; fi
    chmod 0700 "$root"
    as_pg "$PGBIN/initdb" -D "$root/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      --no-sync >"$PGSTATE/initdb.log" 2>&1 || { tail -n 20 "$PGSTATE/initdb.log" >&2; die "initdb failed"; }
    # Trust, over the unix socket (in $root, 0700) and 127.0.0.1 only.
    printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' | as_pg tee "$root/data/pg_hba.conf" >/dev/null
  fi
  pg_tls "$root"
  # A port picked free can be taken before the server binds it: try a few.
  for attempt in 1 2 3; do
    port="$(free_port)"
    echo "$port" >"$PGSTATE/port"
    if as_pg "$PGBIN/pg_ctl" start -w -t 60 -D "$root/data" -l "$root/server.log" -o "$(pg_options "$root" "$port")" \
      >/dev/null 2>&1; then
      pg_create_db "$port"
      say "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') running on 127.0.0.1:$port (cluster $root/data), database $PGDB"
      return 0
    fi
    say "PostgreSQL did not come up on port $port (attempt $attempt); log:"
    tail -n 20 "$root/server.log" >&2 || true
    pg_stop
  done
  die "could not start PostgreSQL"
}

pg_create_db() {
  local psql=("$PGBIN/psql" -X -q "postgres://postgres@127.0.0.1:$1/postgres?sslmode=verify-full&sslrootcert=$PGTLS/ca.pem")
  if [[ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PGDB'")" != 1 ]]; then
    "${psql[@]}" -c "CREATE DATABASE $PGDB" >/dev/null
  fi
}

pg_stop() {
  local root
  root="$(pg_root)"
  if [[ -f "$root/data/postmaster.pid" ]]; then
    PGBIN="$(pg_bin_dir)"
    if [[ -n "$PGBIN" ]] && as_pg "$PGBIN/pg_ctl" stop -w -t 30 -m fast -D "$root/data" >/dev/null 2>&1; then
      say "stopped PostgreSQL (cluster $root/data)"
    fi
  fi
  rm -f "$PGSTATE/port"
}

# Stops the cluster and deletes it (with its folder in /tmp, if it has one).
pg_purge() {
  pg_stop
  local root
  root="$(pg_root)"
  if [[ "$root" != "$PGSTATE" && -d "$root" ]]; then rm -rf "$root"; fi
  rm -rf "$PGSTATE" "$PGTLS"
}

# The chaos suite's outages: a server down, then up on the port it had.
pg_down() {
  local root
  root="$(pg_root)"
  PGBIN="$(pg_bin_dir)"
  as_pg "$PGBIN/pg_ctl" stop -w -t 30 -m immediate -D "$root/data" >/dev/null 2>&1 || true
  say "PostgreSQL down (port $(cat "$PGSTATE/port" 2>/dev/null) kept)"
}

pg_up() {
  local root port
  root="$(pg_root)"
  port="$(cat "$PGSTATE/port")"
  PGBIN="$(pg_bin_dir)"
  as_pg "$PGBIN/pg_ctl" start -w -t 60 -D "$root/data" -l "$root/server.log" -o "$(pg_options "$root" "$port")" \
    >/dev/null 2>&1 || { tail -n 20 "$root/server.log" >&2; die "PostgreSQL did not come back on port $port"; }
  say "PostgreSQL up again on 127.0.0.1:$port"
}

moto_down() {
  local pid
  if pid="$(running_pid)"; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say "moto down (port $(cat "$STATE/moto.port" 2>/dev/null) kept)"
}

moto_up() {
  local port pid
  port="$(cat "$STATE/moto.port")"
  setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_ready "$pid" "$port" || { tail -n 20 "$LOG" >&2; die "moto did not come back on port $port"; }
  create_bucket "$port"
  say "moto up again on 127.0.0.1:$port (empty, bucket $BUCKET made again)"
}

print_env() {
  if [[ ! -f "$ENVFILE" ]] || ! { running_pid >/dev/null || pg_running_port >/dev/null; }; then
    die "no services running (run: $0 start)"
  fi
  sed -e 's/^/export /' "$ENVFILE"
}

case "${1:-}" in
  venv) ensure_venv; echo "$VENV/bin" ;;
  start) start ;;
  stop) stop ;;
  purge) stop; pg_purge ;;
  env) print_env ;;
  pg-stop) pg_down ;;
  pg-start) pg_up ;;
  moto-stop) moto_down ;;
  moto-start) moto_up ;;
  status)
    down=0
    if pid="$(running_pid)"; then echo "moto running (pid $pid) on 127.0.0.1:$(cat "$STATE/moto.port" 2>/dev/null)"; else echo "moto not running"; down=1; fi
    if port="$(pg_running_port)"; then
      echo "PostgreSQL running on 127.0.0.1:$port (cluster $(pg_root)/data, TLS): postgres://postgres@127.0.0.1:$port/$PGDB?sslmode=verify-full&sslrootcert=$PGTLS/ca.pem"
    else
      echo "PostgreSQL not running"; down=1
    fi
    [[ $down -eq 0 ]] || exit 3 ;;
  *) echo "usage: $0 venv|start|stop|purge|env|status|pg-stop|pg-start|moto-stop|moto-start" >&2; exit 2 ;;
esac
