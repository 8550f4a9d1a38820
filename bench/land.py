#!/usr/bin/env python3
"""Side-by-side benchmark of landing customers in PostgreSQL (issue: the pipeline).

abforge: `pipeline step generate` + `pipeline step land` of N customers of
examples/seed.toml (two processes: the part is written, then read and landed), and
`pipeline run` (generate lands the rows as it makes them: timed from the steps' common start
to land's commit), into PostgreSQL (binary COPY into fresh tables swapped in) and into the
embedded SQLite file; against the baselines of ../shared/bench on the same server:
`psql \\copy` of a CSV of N rows (pg_psql_copy.sh, generation of the CSV not timed),
psycopg COPY of a CSV buffer (pg_ingest.py copy_csv) and pandas `to_sql` (the seed's method,
at a smaller N since it is slow; compared in rows/s). Alternating, each run after quiet.py
says the machine is idle. Prints one JSON line per run and a summary with medians and ratios.

usage: bench/land.py [N=1e7] [--reps 3] [--to-sql-n 1e5]
needs: ../shared/bench/setup.sh run once (its venv, hyperfine, and PostgreSQL on
127.0.0.1:55432). abforge uses its own database there, abforge_bench.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

from common import HERE, ROOT, SHARED, VENV_PY, build_abforge, timed

PG = "postgres://postgres@127.0.0.1:55432/abforge_bench"
PSQL = ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", "55432", "-U", "postgres"]


def blueprint(n, work):
    src = open(os.path.join(ROOT, "examples", "seed.toml")).read()
    path = os.path.join(work, "seed.toml")
    open(path, "w").write(src.replace("customers = 200000", f"customers = {n}"))
    return path


def abforge_land(abforge, bp, work, database_url, tag):
    """generate then land, each a process; returns the step times and the total."""
    data = os.path.join(work, f"data-{tag}")
    env = {**os.environ, "ABFORGE_DATA_DIR": data, "ABFORGE_DATABASE_URL": database_url,
           "ABFORGE_RUN_LOG_URL": f"sqlite://{data}/runlog.sqlite", "RUST_LOG": "warn"}
    common = ["-b", bp, "--run-date", "2026-11-23", "--json"]
    g = timed([abforge, "-q", "pipeline", "step", "generate"] + common, env=env)
    l = timed([abforge, "-q", "pipeline", "step", "land"] + common, env=env)
    rows = json.loads(l["stdout"])["rows"]
    shutil.rmtree(data, ignore_errors=True)  # a run of 10^7 rows is gigabytes: keep the disk free
    return {"generate_s": g["wall_s"], "land_s": l["wall_s"], "total_s": g["wall_s"] + l["wall_s"],
            "land_peak_rss_mib": l["peak_rss_mib"], "rows": rows}


def abforge_run(abforge, bp, work, database_url, tag):
    """`pipeline run`, where generate lands the rows as it makes them: generate + land is the
    time from their common start to land's commit (land's duration in the run's report; the
    lake steps that follow are not counted)."""
    data = os.path.join(work, f"data-{tag}")
    env = {**os.environ, "ABFORGE_DATA_DIR": data, "ABFORGE_DATABASE_URL": database_url,
           "ABFORGE_RUN_LOG_URL": f"sqlite://{data}/runlog.sqlite", "RUST_LOG": "warn"}
    r = timed([abforge, "-q", "pipeline", "run", "-b", bp, "--run-date", "2026-11-23", "--json"], env=env)
    steps = {s["step"]: s for s in json.loads(r["stdout"])["steps"]}
    shutil.rmtree(data, ignore_errors=True)
    assert steps["land"]["state"] == "succeeded", steps
    return {"total_s": steps["land"]["duration_ms"] / 1000, "generate_s": steps["generate"]["duration_ms"] / 1000,
            "rows": steps["land"]["rows"], "process_peak_rss_mib": r["peak_rss_mib"]}


def psql_copy(n):
    p = subprocess.run(["bash", os.path.join(SHARED, "pg_psql_copy.sh"), str(n), "1"],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def pg_ingest(n, method):
    subprocess.run([sys.executable, os.path.join(SHARED, "quiet.py"), "60", "90"], capture_output=True)
    p = subprocess.run([VENV_PY, os.path.join(SHARED, "pg_ingest.py"), str(n), method],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", default="1e7")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--to-sql-n", default="1e5")
    a = ap.parse_args()
    n = int(float(a.n))
    abforge = build_abforge()
    subprocess.run(PSQL + ["-d", "postgres", "-c", "DROP DATABASE IF EXISTS abforge_bench"], check=True)
    subprocess.run(PSQL + ["-d", "postgres", "-c", "CREATE DATABASE abforge_bench"], check=True)
    work = tempfile.mkdtemp(prefix="abforge-land-")
    bp = blueprint(n, work)
    # The contenders, in the order they run in each rep: (name, run, the field timed or, for
    # abforge, None: the whole result, whose rows are checked). SQLite files live in the run's
    # data folder, which is removed after each run.
    sqlite = lambda tag: f"sqlite://{work}/data-{tag}/abforge.sqlite"
    contenders = [
        ("psql_copy", lambda rep: psql_copy(n), "ingest_s"),
        ("abforge_postgres", lambda rep: abforge_land(abforge, bp, work, PG, f"pg{rep}"), None),
        ("abforge_sqlite", lambda rep: abforge_land(abforge, bp, work, sqlite(f"sq{rep}"), f"sq{rep}"), None),
        ("abforge_run_postgres", lambda rep: abforge_run(abforge, bp, work, PG, f"runpg{rep}"), None),
        ("abforge_run_sqlite",
         lambda rep: abforge_run(abforge, bp, work, sqlite(f"runsq{rep}"), f"runsq{rep}"), None),
        ("copy_csv", lambda rep: pg_ingest(n, "copy_csv"), "ingest_s"),
    ]
    runs = {name: [] for name, _, _ in contenders}
    for rep in range(a.reps):
        for name, run, field in contenders:
            r = run(rep)
            if field is None:
                assert r["rows"] == n, r
            runs[name].append(r[field] if field else r)
            print(json.dumps({"rep": rep, "contender": name, **r}), flush=True)
    to_sql_n = int(float(a.to_sql_n))
    to_sql = pg_ingest(to_sql_n, "to_sql")
    print(json.dumps({"contender": "to_sql", **to_sql}), flush=True)

    med = statistics.median
    pg_total = med(r["total_s"] for r in runs["abforge_postgres"])
    pg_land = med(r["land_s"] for r in runs["abforge_postgres"])
    sq_land = med(r["land_s"] for r in runs["abforge_sqlite"])
    psql = med(runs["psql_copy"])
    run_pg = med(r["total_s"] for r in runs["abforge_run_postgres"])
    run_sq = med(r["total_s"] for r in runs["abforge_run_sqlite"])
    summary = {
        "bench": "land", "n": n, "reps": a.reps,
        "psql_copy_s": psql, "psycopg_copy_csv_s": med(runs["copy_csv"]),
        "abforge_pg_generate_plus_land_s": pg_total, "abforge_pg_land_s": pg_land,
        "abforge_sqlite_land_s": sq_land,
        "abforge_pg_rows_per_s_incl_generation": round(n / pg_total),
        "abforge_sqlite_land_rows_per_s": round(n / sq_land),
        "psql_copy_rows_per_s": round(n / psql),
        "to_sql_rows_per_s": to_sql["rows_per_s"], "to_sql_n": to_sql_n,
        "ratio_psql_over_abforge_pg_total": round(psql / pg_total, 2),
        "ratio_abforge_pg_over_to_sql_rows_per_s": round(n / pg_total / to_sql["rows_per_s"], 1),
        "abforge_run_pg_generate_and_land_s": run_pg, "abforge_run_sqlite_generate_and_land_s": run_sq,
        "abforge_run_sqlite_rows_per_s": round(n / run_sq),
        "ratio_psql_over_abforge_run_pg": round(psql / run_pg, 2),
        "ratio_abforge_run_pg_over_to_sql_rows_per_s": round(n / run_pg / to_sql["rows_per_s"], 1),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(json.dumps(summary))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "land.jsonl"), "a") as f:
        f.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
