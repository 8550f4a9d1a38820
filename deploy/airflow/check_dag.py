"""Checks the abforge_weekly DAG as Airflow itself loads it (a DagBag of the dags folder):
no import errors, the tasks, their order, the schedule and the run settings.

    python check_dag.py DAGS_FOLDER      # with the Airflow venv's python; exit 1 on a failure

scripts/airflow-test.sh runs it before `airflow dags test`.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from airflow.dag_processing.dagbag import DagBag

DAG_ID = "abforge_weekly"
LAKE = ["bronze", "silver", "gold"]


def main(folder: str) -> int:
    bag = DagBag(dag_folder=folder, include_examples=False) if _takes_examples() else DagBag(dag_folder=folder)
    problems: list[str] = []

    def expect(cond: bool, what: str) -> None:
        if not cond:
            problems.append(what)

    expect(not bag.import_errors, f"import errors: {bag.import_errors}")
    dag = bag.dags.get(DAG_ID)
    if dag is None:
        print(f"check_dag: no DAG {DAG_ID!r} in {folder}: {sorted(bag.dags)}", file=sys.stderr)
        return 1
    tasks = {t.task_id: t for t in dag.tasks}
    want = ["shards", "shard.generate", "shard.land", "publish", *LAKE, "analyze"]
    expect(sorted(tasks) == sorted(want), f"tasks {sorted(tasks)}, expected {sorted(want)}")

    def down(task_id: str) -> set[str]:
        return set(tasks[task_id].downstream_task_ids) if task_id in tasks else set()

    order = ["shards", "shard.generate", "shard.land", "publish", *LAKE, "analyze"]
    # The shard list feeds the whole mapped group: both of its tasks come after it.
    expect(down("shards") == {"shard.generate", "shard.land"}, f"shards → {sorted(down('shards'))}")
    for a, b in zip(order[1:], order[2:]):
        expect(down(a) == {b}, f"{a} → {sorted(down(a))}, expected → {b}")
    expect(down("analyze") == set(), f"analyze → {sorted(down('analyze'))}, expected nothing")

    # generate and land are mapped (dynamic task mapping), per shard, in one mapped group.
    for t in ("shard.generate", "shard.land"):
        if t in tasks:
            expect(
                tasks[t].get_closest_mapped_task_group() is not None,
                f"{t} is not in a mapped task group",
            )
    for t in dag.tasks:
        expect(t.trigger_rule == "all_success", f"{t.task_id}: trigger rule {t.trigger_rule}")

    # Schedule and run settings.
    timetable = dag.timetable
    expect(type(timetable).__name__ == "CronTriggerTimetable", f"timetable {type(timetable).__name__}")
    cron = getattr(timetable, "expression", None)
    zone = getattr(timetable, "timezone", None)
    expect(cron == "0 9 * * MON", f"cron {cron!r}")
    expect(str(zone) == "UTC", f"time zone {zone}")
    expect(dag.catchup is False, "catchup must be off")
    expect(dag.max_active_runs == 1, f"max_active_runs {dag.max_active_runs}")
    for t in dag.tasks:
        expect(t.retries >= 1, f"{t.task_id}: retries {t.retries}")
        expect(bool(t.retry_exponential_backoff), f"{t.task_id}: no exponential backoff")
        expect(t.max_retry_delay == timedelta(minutes=10), f"{t.task_id}: max_retry_delay {t.max_retry_delay}")

    for p in problems:
        print(f"check_dag: {p}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"check_dag: {DAG_ID}: {len(tasks)} tasks ({', '.join(order)}), cron 0 9 * * MON UTC, "
        "catchup off, max_active_runs 1, retries with exponential backoff: ok"
    )
    return 0


def _takes_examples() -> bool:
    import inspect

    return "include_examples" in inspect.signature(DagBag.__init__).parameters


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
