"""abforge's weekly run as an Airflow DAG (Airflow 3: ``airflow.sdk``).

Every Monday at 09:00 UTC, one run of the blueprint on that date (``{{ ds }}``), each step a
task calling ``abforge pipeline step STEP --run-date {{ ds }}``:

    shards ──▶ shard[k].generate ──▶ shard[k].land ──▶ publish ──▶ bronze ──▶ silver ──▶ gold ──▶ analyze
               (one mapped task group per shard k of N)

* ``generate`` and ``land`` fan out over N shards with dynamic task mapping: a mapped task
  group per shard, so shard k is landed as soon as it is generated (``--shard k/N``); the N
  shards together are exactly the whole run, on as many workers as Airflow has.
* ``bronze``, ``silver`` and ``gold`` build the run's lakehouse layers; ``analyze`` reads the
  run's customers from silver.
* Retries with exponential backoff (30 s, 1 min, 2 min, at most 10 min apart). An exit code
  of 2 — bad input: a blueprint, a setting — fails the task without retrying; a step that
  failed leaves its run resumable, and the next try (or ``abforge pipeline run``) resumes it.
* ``catchup=False`` (a first deploy runs no backlog; ``abforge pipeline backfill`` does that
  on purpose) and ``max_active_runs=1``.

Settings: each ``ABFORGE_*`` variable of the worker's environment is passed through to
abforge; an Airflow Variable named after it in lower case (``abforge_database_url``,
``abforge_object_store_url``, ``abforge_run_log_url``, ``abforge_api_url``,
``abforge_api_token``, ``abforge_blueprint``, ``abforge_data_dir``,
``abforge_retry_attempts``) overrides it, and so does an Airflow Connection ``abforge_db``
(PostgreSQL) for the database URL. The binary is the Variable ``abforge_bin``, else
``ABFORGE_BIN``, else ``abforge`` on the PATH; the shard count the Variable
``abforge_shards``, else ``ABFORGE_SHARDS``, else 4. Each task's return value (XCom) is the
step's JSON report (``--json``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from airflow.sdk import DAG, Connection, CronTriggerTimetable, Variable, task, task_group
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
)

log = logging.getLogger(__name__)

DAG_ID = "abforge_weekly"
CRON = "0 9 * * MON"
LAKE_STEPS = ("bronze", "silver", "gold")
DEFAULT_SHARDS = 4
MAX_SHARDS = 256

#: Settings passed to abforge: environment variable → Airflow Variable that overrides it.
SETTINGS = {
    name: name.lower()
    for name in (
        "ABFORGE_BIN",
        "ABFORGE_BLUEPRINT",
        "ABFORGE_CONFIG",
        "ABFORGE_DATA_DIR",
        "ABFORGE_DATABASE_URL",
        "ABFORGE_RUN_LOG_URL",
        "ABFORGE_OBJECT_STORE_URL",
        "ABFORGE_API_URL",
        "ABFORGE_API_TOKEN",
        "ABFORGE_RETRY_ATTEMPTS",
        "ABFORGE_RETRY_DELAY_MS",
        "ABFORGE_SHARDS",
    )
}
#: The Airflow Connection that, when defined, gives ABFORGE_DATABASE_URL.
DB_CONNECTION = "abforge_db"


def _database_url(conn) -> str:
    """``postgres://login:password@host:port/schema`` of a PostgreSQL Connection."""
    auth = ""
    if conn.login:
        auth = quote(conn.login, safe="")
        if conn.password:
            auth += ":" + quote(conn.password, safe="")
        auth += "@"
    port = f":{conn.port}" if conn.port else ""
    return f"postgres://{auth}{conn.host or 'localhost'}{port}/{quote(conn.schema or '', safe='')}"


def abforge_environment() -> dict[str, str]:
    """The worker's environment with the Airflow Variables and Connection applied."""
    env = dict(os.environ)
    for name, key in SETTINGS.items():
        value = Variable.get(key, default=None)
        if value not in (None, ""):
            env[name] = str(value)
    try:
        conn = Connection.get(DB_CONNECTION)
    except AirflowNotFoundException:
        conn = None
    if conn is not None:
        env["ABFORGE_DATABASE_URL"] = _database_url(conn)
    return env


def _run_date(run_date: str) -> str:
    """The rendered ``{{ ds }}``, or the context's when it was not rendered."""
    if "{{" in run_date:
        from airflow.sdk import get_current_context

        return get_current_context()["ds"]
    return run_date


def abforge_step(step: str, run_date: str, shard: str | None = None) -> dict:
    """``abforge pipeline step STEP --run-date DATE [--shard K/N] --json``: its report.

    Exit code 2 (bad input) fails the task for good; any other failure is retried.
    """
    env = abforge_environment()
    cmd = [env.get("ABFORGE_BIN", "abforge"), "pipeline", "step", step, "--run-date", _run_date(run_date)]
    if shard is not None:
        cmd += ["--shard", shard]
    cmd.append("--json")
    log.info("running %s", " ".join(cmd))
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise AirflowFailException(
            f"the abforge binary {cmd[0]!r} was not found: set the Airflow Variable abforge_bin "
            "or ABFORGE_BIN"
        ) from e
    for line in done.stderr.splitlines():
        log.info("abforge: %s", line)
    if done.returncode == 2:
        raise AirflowFailException(f"{step}: bad input (exit 2): {done.stderr.strip()}")
    if done.returncode != 0:
        raise AirflowException(f"{step} failed (exit {done.returncode}): {done.stderr.strip()}")
    report = json.loads(done.stdout)
    log.info("%s: %s", step, report.get("message") or report.get("state"))
    return report


default_args = {
    "owner": "abforge",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=2),
}

with DAG(
    dag_id=DAG_ID,
    description="abforge: generate, land, publish, bronze, silver, gold and analyze one weekly run",
    schedule=CronTriggerTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 5, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["abforge"],
    doc_md=__doc__,
) as dag:

    @task
    def shards() -> list[str]:
        """The shards, ``k/N``: N from the Variable abforge_shards or ABFORGE_SHARDS (4)."""
        raw = abforge_environment().get("ABFORGE_SHARDS", str(DEFAULT_SHARDS))
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if not 1 <= n <= MAX_SHARDS:
            raise AirflowFailException(f"abforge_shards: {raw!r} is not a whole number from 1 to {MAX_SHARDS}")
        return [f"{k}/{n}" for k in range(n)]

    @task_group(group_id="shard")
    def shard(part: str):
        """Generate shard k, then land it."""

        @task(task_id="generate")
        def generate(part: str, run_date: str) -> dict:
            return abforge_step("generate", run_date, shard=part)

        @task(task_id="land")
        def land(part: str, run_date: str) -> dict:
            return abforge_step("land", run_date, shard=part)

        generate(part, run_date="{{ ds }}") >> land(part, run_date="{{ ds }}")

    @task
    def publish(run_date: str) -> dict:
        return abforge_step("publish", run_date)

    def lake_task(step: str):
        @task(task_id=step)
        def run(run_date: str) -> dict:
            return abforge_step(step, run_date)

        return run

    @task
    def analyze(run_date: str) -> dict:
        return abforge_step("analyze", run_date)

    chain = [shard.expand(part=shards()), publish(run_date="{{ ds }}")]
    chain += [lake_task(step)(run_date="{{ ds }}") for step in LAKE_STEPS]
    chain.append(analyze(run_date="{{ ds }}"))
    for upstream, downstream in zip(chain, chain[1:]):
        upstream >> downstream
