#!/usr/bin/env bash
# The abforge_weekly DAG (deploy/airflow/dags) in real Airflow 3: a venv of apache-airflow
# (~/.cache/abforge/airflow-venv, every package pinned in scripts/requirements-airflow.txt,
# built once: rebuilt only when that file or the Python version changes; wheels kept in
# ~/.cache/abforge/wheels), a throw-away AIRFLOW_HOME with a SQLite metadata database
# (`airflow db migrate`), then:
#
#   1. deploy/airflow/check_dag.py: the DAG imports without errors through a DagBag, with its
#      tasks, their order, its schedule and its run settings;
#   2. `airflow dags test abforge_weekly 2026-11-23` on the embedded backends (a SQLite file and
#      a folder), settings from the environment: every task instance succeeded, 200 000
#      customers landed once each, the run succeeded, the params object is there with the
#      run's blueprint hash, the lake's bronze, silver and gold have the run's rows (`abforge
#      lake query`), `abforge runs show` has every step of every shard;
#   3. bad input: with a blueprint that does not exist, generate exits with 2 and each of its
#      mapped task instances fails on its first try (no retry), the rest upstream_failed;
#   4. the same as 2 on PostgreSQL (a fresh database), S3 and DynamoDB (moto), settings from
#      Airflow itself — the Connection abforge_db and the Variables abforge_bin,
#      abforge_run_log_url, abforge_object_store_url — checked with psql, the AWS CLI and
#      `abforge lake query` on S3.
#
#   bash scripts/airflow-test.sh        # called by scripts/test.sh (ABFORGE_SKIP_AIRFLOW=1 skips)
#   bash scripts/airflow-test.sh venv   # only build the venv (once); print its bin/ folder
#
# The abforge binary is ABFORGE_BIN, else the debug build the cargo tests made
# ($CARGO_TARGET_DIR/debug/abforge), built when missing. The services are scripts/test.sh's
# (its ABFORGE_TEST_* variables), else started here and stopped at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
CACHE="${ABFORGE_CACHE_DIR:-$HOME/.cache/abforge}"
VENV="$CACHE/airflow-venv"
REQS="$ROOT/scripts/requirements-airflow.txt"
PYTHON="${PYTHON:-python3}"
DATE=2026-11-23
RUN_ID=seed-20261123
SHARDS=3

say() { printf 'airflow-test: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- the venv ------------------------------------------------------------------------------
ensure_venv() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install CPython 3.11 or set PYTHON"
  local want stamp="$VENV/.abforge-stamp"
  want="$(sha256sum "$REQS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  if [[ -x "$VENV/bin/airflow" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  say "building the Airflow venv in $VENV (once; about a minute)"
  local t0=$SECONDS
  rm -rf "$VENV"
  mkdir -p "$CACHE/wheels"
  "$PYTHON" -m venv "$VENV"
  local pip=("$VENV/bin/pip" --disable-pip-version-check --no-input)
  if ! "${pip[@]}" install --quiet --no-index --find-links "$CACHE/wheels" -r "$REQS" 2>/dev/null; then
    "${pip[@]}" download --quiet --only-binary=:all: -d "$CACHE/wheels" -r "$REQS"
    "${pip[@]}" install --quiet --no-index --find-links "$CACHE/wheels" -r "$REQS"
  fi
  echo "$want" >"$stamp"
  say "Airflow venv ready in $((SECONDS - t0)) s ($("$VENV/bin/airflow" version 2>/dev/null | tail -n 1))"
}

# `airflow-test.sh venv`: only make sure the venv is there (e.g. to warm a CI machine's cache).
if [[ "${1:-}" == venv ]]; then
  ensure_venv
  echo "$VENV/bin"
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/abforge-airflow.XXXXXX")"
OWN_SERVICES=""
cleanup() {
  if [[ -n "$OWN_SERVICES" ]]; then
    ABFORGE_SERVICES_DIR="$OWN_SERVICES" bash scripts/services.sh purge >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_venv
AF="$VENV/bin/airflow"
APY="$VENV/bin/python"

# ---- abforge -------------------------------------------------------------------------------
BIN="${ABFORGE_BIN:-$CARGO_TARGET_DIR/debug/abforge}"
if [[ ! -x "$BIN" ]]; then
  say "building abforge (cargo build -p abforge-cli)"
  cargo build --locked -p abforge-cli --bin abforge
  BIN="$CARGO_TARGET_DIR/debug/abforge"
fi
for s in generate land publish bronze silver gold analyze; do
  "$BIN" pipeline step "$s" --help >/dev/null || die "$BIN has no pipeline step $s"
done
say "abforge: $BIN ($("$BIN" --version))"

# A clean environment for Airflow and abforge: nothing of the caller's ABFORGE_*/AIRFLOW_*/AWS
# endpoint settings leaks in.
for v in $(env | sed -n 's/^\(ABFORGE_[A-Z_]*\|AIRFLOW_[A-Z_]*\|AIRFLOW__[A-Z_]*\)=.*/\1/p'); do
  case "$v" in ABFORGE_TEST_* | ABFORGE_CACHE_DIR | ABFORGE_SERVICES_DIR) ;; *) unset "$v" ;; esac
done
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_S3 RUST_LOG
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/deploy/airflow/dags"
export AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING
export ABFORGE_BLUEPRINT="$ROOT/examples/seed.toml"
export ABFORGE_SHARDS=$SHARDS

# A fresh AIRFLOW_HOME with its metadata database.
airflow_home() {
  export AIRFLOW_HOME="$WORK/$1/airflow"
  mkdir -p "$AIRFLOW_HOME"
  "$AF" db migrate >"$WORK/$1/migrate.log" 2>&1 || { tail -n 30 "$WORK/$1/migrate.log" >&2; die "airflow db migrate failed"; }
}

# Runs the DAG for $DATE and checks every task instance's state.
dags_test() {
  local pass="$1" t0=$SECONDS
  if ! "$AF" dags test abforge_weekly "$DATE" >"$WORK/$pass/dags-test.log" 2>&1; then
    tail -n 60 "$WORK/$pass/dags-test.log" >&2
    die "[$pass] airflow dags test failed"
  fi
  say "[$pass] airflow dags test abforge_weekly $DATE: $((SECONDS - t0)) s"
  "$APY" - "$AIRFLOW_HOME/airflow.db" "$SHARDS" "$pass" <<'PY'
import sqlite3, sys
db, shards, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db)
runs = c.execute("SELECT state FROM dag_run WHERE dag_id = 'abforge_weekly'").fetchall()
assert runs == [("success",)], f"dag runs: {runs}"
states = {}
for task, index, state in c.execute(
    "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = 'abforge_weekly'"
):
    states.setdefault(task, []).append((index, state))
want = {
    "shards": [(-1, "success")],
    "shard.generate": [(k, "success") for k in range(shards)],
    "shard.land": [(k, "success") for k in range(shards)],
    "publish": [(-1, "success")],
    "bronze": [(-1, "success")],
    "silver": [(-1, "success")],
    "gold": [(-1, "success")],
    "analyze": [(-1, "success")],
}
got = {k: sorted(v) for k, v in states.items()}
assert got == want, f"task states {got}, expected {want}"
print(f"airflow-test: [{name}] task instances: {sum(len(v) for v in got.values())}, as expected")
PY
}

# `abforge runs show` of the run: succeeded, every step of every shard succeeded once.
check_run_log() {
  local pass="$1"
  "$BIN" runs show "$RUN_ID" --json >"$WORK/$pass/show.json"
  "$APY" - "$WORK/$pass/show.json" "$SHARDS" "$pass" <<'PY'
import json, sys
show, shards, name = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
assert show["run"]["status"] == "succeeded", show["run"]
assert show["run"]["rows"] == 200000, show["run"]
got = sorted((a["step"], a["shard"] or "", a["status"]) for a in show["attempts"])
want = sorted(
    [(s, f"{k}/{shards}", "succeeded") for s in ("generate", "land") for k in range(shards)]
    + [(s, "", "succeeded") for s in ["publish", "bronze", "silver", "gold", "analyze"]]
)
assert got == want, f"attempts {got}, expected {want}"
assert len(show["results"]) >= 8, show["results"]
print(f"airflow-test: [{name}] run log: {len(got)} attempts, all succeeded; {len(show['results'])} decisions")
PY
}

# The lake (`abforge lake query`): bronze and silver have the run's 200 000 customers, gold
# sums them per metric, gold/ab_results has the run's decisions.
check_lake() {
  local pass="$1" results="$2"
  "$BIN" lake query --json "SELECT (SELECT COUNT(*) FROM bronze_customers WHERE run_id = '$RUN_ID') AS bronze,
      (SELECT COUNT(DISTINCT customer_id) FROM silver_customers WHERE run_id = '$RUN_ID') AS silver,
      (SELECT COUNT(*) FROM gold_ab_results WHERE run_id = '$RUN_ID') AS decisions" >"$WORK/$pass/lake.json"
  "$BIN" lake query --json "SELECT metric, SUM(n) AS n FROM gold_group_daily
      WHERE experiment_id = 'seed' AND run_date = DATE '$DATE' GROUP BY metric" >"$WORK/$pass/gold.json"
  "$APY" - "$WORK/$pass/lake.json" "$WORK/$pass/gold.json" "$results" "$pass" <<'PY'
import json, sys
[lake], gold, results, name = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3]), sys.argv[4]
assert lake == {"bronze": 200000, "silver": 200000, "decisions": results}, (lake, results)
assert gold and all(g["n"] == 200000 for g in gold), gold
print(f"airflow-test: [{name}] lake: bronze and silver 200000 customers, gold {len(gold)} metrics x 200000, {results} decisions")
PY
}

# ---- 1. the DAG as Airflow loads it -------------------------------------------------------
airflow_home check
"$APY" deploy/airflow/check_dag.py "$AIRFLOW__CORE__DAGS_FOLDER" 2> >(grep -v '\[info' >&2)

# ---- 2. embedded backends, settings from the environment ---------------------------------
pass=embedded
airflow_home $pass
export ABFORGE_BIN="$BIN" ABFORGE_DATA_DIR="$WORK/$pass/data"
dags_test $pass
DB="$ABFORGE_DATA_DIR/abforge.sqlite"
"$APY" - "$DB" "$ABFORGE_DATA_DIR/objects/params/seed/$RUN_ID.json" "$RUN_ID" <<'PY'
import json, sqlite3, sys
db, params, run = sys.argv[1:4]
c = sqlite3.connect(db)
n, distinct = c.execute("SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM customers WHERE run_id = ?", (run,)).fetchone()
assert (n, distinct) == (200000, 200000), (n, distinct)
status, rows, bp_hash = c.execute('SELECT status, "rows", blueprint_hash FROM runs WHERE run_id = ?', (run,)).fetchone()
assert (status, rows) == ("succeeded", 200000), (status, rows)
doc = json.load(open(params))
assert doc["run_id"] == run and doc["blueprint_hash"] == bp_hash, (doc["run_id"], doc["blueprint_hash"], bp_hash)
print(f"airflow-test: [embedded] SQLite: {n} customers, run {status}; params {doc['run_id']} hash {bp_hash[:12]}… matches")
PY
check_run_log $pass
check_lake $pass "$("$APY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM ab_results WHERE run_id = ?", (sys.argv[2],)).fetchone()[0])' "$DB" "$RUN_ID")"

# ---- 3. bad input: exit code 2 fails the task at once, with no retry -----------------------
pass=bad-input
airflow_home $pass
export ABFORGE_BLUEPRINT="$WORK/$pass/missing.toml" ABFORGE_DATA_DIR="$WORK/$pass/data"
t0=$SECONDS
"$AF" dags test abforge_weekly "$DATE" >"$WORK/$pass/dags-test.log" 2>&1 || true
"$APY" - "$AIRFLOW_HOME/airflow.db" "$SHARDS" "$WORK/$pass/dags-test.log" <<'PY'
import sqlite3, sys
db, shards, log = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
c = sqlite3.connect(db)
runs = c.execute("SELECT state FROM dag_run WHERE dag_id = 'abforge_weekly'").fetchall()
assert runs == [("failed",)], f"dag runs: {runs}"
gen = sorted(c.execute(
    "SELECT map_index, state, try_number FROM task_instance WHERE task_id = 'shard.generate'"
).fetchall())
assert gen == [(k, "failed", 1) for k in range(shards)], f"generate: {gen} (expected failed on the first try)"
later = c.execute(
    "SELECT DISTINCT state FROM task_instance WHERE task_id IN ('publish', 'analyze')"
).fetchall()
assert later == [("upstream_failed",)], f"publish/analyze: {later}"
assert "bad input (exit 2)" in log and "missing.toml does not exist" in log, "no bad-input message in the log"
print("airflow-test: [bad-input] a missing blueprint fails generate on its first try (exit 2, no retry); the run failed")
PY
say "[$pass] $((SECONDS - t0)) s"
[[ ! -e "$ABFORGE_DATA_DIR" ]] || die "[$pass] bad input wrote $(find "$ABFORGE_DATA_DIR" | head)"
export ABFORGE_BLUEPRINT="$ROOT/examples/seed.toml"
unset ABFORGE_BIN ABFORGE_DATA_DIR

# ---- 4. PostgreSQL + S3 + DynamoDB, settings from Airflow Connections and Variables -------
if [[ -z "${ABFORGE_TEST_DATABASE_URL:-}" || -z "${ABFORGE_TEST_S3_ENDPOINT:-}" ]]; then
  OWN_SERVICES="$WORK/services"
  ABFORGE_SERVICES_DIR="$OWN_SERVICES" bash scripts/services.sh start
  set -a
  # shellcheck disable=SC1091
  . "$OWN_SERVICES/services.env"
  set +a
fi
TOOLS="$(bash scripts/services.sh venv)"
pass=aws
airflow_home $pass
tag="$$_$(date +%s)"
dbname="abforge_airflow_$tag"
psql "$ABFORGE_TEST_DATABASE_URL" -X -q -c "CREATE DATABASE $dbname"
# The database replaced, the query (sslmode=verify-full&sslrootcert=…) kept.
pg_base="${ABFORGE_TEST_DATABASE_URL%%\?*}"
pg_url="${pg_base%/*}/$dbname${ABFORGE_TEST_DATABASE_URL#"$pg_base"}"
pg_hostport="${ABFORGE_TEST_DATABASE_URL#*@}"
pg_hostport="${pg_hostport%%[/?]*}"
table="abforge-airflow-$tag"
prefix="airflow-$tag"
"$AF" connections add abforge_db --conn-type postgres --conn-host "${pg_hostport%:*}" \
  --conn-port "${pg_hostport##*:}" --conn-login postgres --conn-schema "$dbname" >/dev/null
"$AF" variables set abforge_bin "$BIN" >/dev/null
"$AF" variables set abforge_run_log_url "dynamodb://$table" >/dev/null
"$AF" variables set abforge_object_store_url "s3://$ABFORGE_TEST_S3_BUCKET/$prefix" >/dev/null
export AWS_ENDPOINT_URL="$ABFORGE_TEST_S3_ENDPOINT" AWS_ENDPOINT_URL_DYNAMODB="$ABFORGE_TEST_DYNAMODB_ENDPOINT" AWS_ALLOW_HTTP=true
# A data folder that must stay unused: nothing embedded.
export ABFORGE_DATA_DIR="$WORK/$pass/unused"
dags_test $pass
[[ ! -e "$ABFORGE_DATA_DIR" ]] || die "[$pass] the embedded data folder was used: $(find "$ABFORGE_DATA_DIR" | head)"
psql_q() { psql "$pg_url" -X -At -c "$1"; }
[[ "$(psql_q "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM customers WHERE run_id = '$RUN_ID'")" == "200000|200000" ]] \
  || die "[$pass] psql: customers $(psql_q "SELECT COUNT(*) FROM customers WHERE run_id = '$RUN_ID'")"
[[ "$(psql_q "SELECT status, rows FROM runs WHERE run_id = '$RUN_ID'")" == "succeeded|200000" ]] \
  || die "[$pass] psql: run $(psql_q "SELECT status, rows FROM runs WHERE run_id = '$RUN_ID'")"
results="$(psql_q "SELECT COUNT(*) FROM ab_results WHERE run_id = '$RUN_ID'")"
((results >= 8)) || die "[$pass] psql: $results results"
bp_hash="$(psql_q "SELECT blueprint_hash FROM runs WHERE run_id = '$RUN_ID'")"
say "[$pass] psql: 200000 customers once each, run succeeded, $results decisions"
# The params object and the run log items, read with the AWS CLI.
"$TOOLS/aws" s3 cp --endpoint-url "$ABFORGE_TEST_S3_ENDPOINT" --only-show-errors \
  "s3://$ABFORGE_TEST_S3_BUCKET/$prefix/params/seed/$RUN_ID.json" "$WORK/$pass/params.json"
"$TOOLS/aws" dynamodb scan --endpoint-url "$ABFORGE_TEST_DYNAMODB_ENDPOINT" --table-name "$table" \
  --output json >"$WORK/$pass/scan.json"
"$APY" - "$WORK/$pass/params.json" "$WORK/$pass/scan.json" "$bp_hash" "$SHARDS" "$RUN_ID" <<'PY'
import json, sys
params, scan, bp_hash, shards, run = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
doc = json.load(open(params))
assert doc["run_id"] == run and doc["blueprint_hash"] == bp_hash, (doc["run_id"], doc["blueprint_hash"], bp_hash)
items = json.load(open(scan))["Items"]
got = sorted((i["step"]["S"], i.get("shard", {}).get("S", ""), i["status"]["S"]) for i in items)
want = sorted(
    [(s, f"{k}/{shards}", "succeeded") for s in ("generate", "land") for k in range(shards)]
    + [(s, "", "succeeded") for s in ["publish", "bronze", "silver", "gold", "analyze"]]
)
assert got == want, f"DynamoDB items {got}, expected {want}"
print(f"airflow-test: [aws] S3 params {run} hash {bp_hash[:12]}… matches; DynamoDB: {len(items)} items, all succeeded")
PY
ABFORGE_DATABASE_URL="$pg_url" ABFORGE_RUN_LOG_URL="dynamodb://$table" check_run_log $pass
ABFORGE_DATABASE_URL="$pg_url" ABFORGE_RUN_LOG_URL="dynamodb://$table" \
  ABFORGE_OBJECT_STORE_URL="s3://$ABFORGE_TEST_S3_BUCKET/$prefix" check_lake $pass "$results"
psql "$ABFORGE_TEST_DATABASE_URL" -X -q -c "DROP DATABASE $dbname WITH (FORCE)"
say "passed: the DAG loads as expected and runs end to end on the embedded backends and on PostgreSQL + S3 + DynamoDB"
