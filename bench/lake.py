#!/usr/bin/env python3
"""Side-by-side benchmark of the lakehouse (issue: the lakehouse).

abforge: `pipeline step bronze`, `silver` and `gold` of N customers of examples/seed.toml
(generated and landed in the embedded SQLite file first, untimed), each a process timed with
/usr/bin/time (wall, CPU, peak RSS). DuckDB (PyPI, from the tools venv): the same SQL — the
templates of crates/lake/sql/ with the slots filled for the same resolved blueprint — over the
same Parquet: the data files of abforge's bronze table, writing silver, quarantine and
group_daily as Parquet files (no Delta log: DuckDB writes none). DuckDB runs two forms of the
silver SQL: "steps", the three files as abforge runs them (the repeated customers collected,
then the quarantine and silver passes), and "window", the single query with a window over every
row (bench/silver_window.sql); the faster form is the one compared. Alternating A B A B, each
run after quiet.py says the machine is idle (when ../shared/bench is there). Prints one JSON
line per run and a summary with medians and the ratio of the silver + gold times (the part
both do from the same Parquet; abforge's bronze reads the relational store and is reported
alone).

usage: bench/lake.py [N=1e7] [--reps 3]
needs: the tools venv with duckdb (bash scripts/services.sh venv); about 4 GiB of disk at 1e7.
Don't run it on a busy machine: it takes minutes, and the numbers would say little.
"""
import argparse, glob, json, os, shutil, statistics, subprocess, sys, tempfile

from common import HERE, ROOT, build_abforge, timed

TOOLS_PY = os.path.join(os.environ.get("ABFORGE_CACHE_DIR", os.path.expanduser("~/.cache/abforge")),
                        "venv", "bin", "python")
SQL = os.path.join(ROOT, "crates", "lake", "sql")


def blueprint(n, work):
    src = open(os.path.join(ROOT, "examples", "seed.toml")).read()
    path = os.path.join(work, "seed.toml")
    open(path, "w").write(src.replace("customers = 200000", f"customers = {n}"))
    return path


def env_for(data):
    return {**os.environ, "ABFORGE_DATA_DIR": data, "RUST_LOG": "warn",
            "ABFORGE_DATABASE_URL": f"sqlite://{data}/abforge.sqlite",
            "ABFORGE_RUN_LOG_URL": f"sqlite://{data}/abforge.sqlite"}


def resolved(abforge, bp, run_date):
    """The run's resolved blueprint, as the params API stored it."""
    return json.loads(open(glob.glob(os.path.join(
        os.path.dirname(bp), "data", "objects", "params", "*", f"*-{run_date.replace('-', '')}.json"))[0]).read())


def q(name):
    return '"' + name.replace('"', '""') + '"'


def s(v):
    return "'" + str(v).replace("'", "''") + "'"


def fill(template, slots):
    # As crates/lake/src/sql.rs renders: whole-line comments (which name the slots) dropped.
    template = "\n".join(l for l in template.splitlines() if not l.lstrip().startswith("--"))
    for k, v in slots.items():
        template = template.replace("{{" + k + "}}", v)
    return template


def duckdb_sql(bp, experiment):
    """silver.sql and gold_group_daily.sql with their slots filled as crates/lake/src/sql.rs
    fills them (the same columns and rules, in the same order)."""
    import datetime
    cols = [("customer_id", "BIGINT"), ("experiment_id", "TEXT"), ("group", "TEXT")]
    cols += [(a, "TEXT") for a in bp.get("attributes", {})]
    cols.append(("purchase_date", "DATE"))
    metrics = bp["metrics"]
    for m, spec in metrics.items():
        integer = spec["distribution"] in ("poisson", "bernoulli", "negative_binomial")
        cols.append((m, "BIGINT" if integer else "DOUBLE"))
        if spec.get("pre_period"):
            cols.append((f"pre_{m}", "DOUBLE"))
    conformed = ",\n    ".join(
        (f"TRIM(CAST(bronze.{q(c)} AS VARCHAR)) AS {q(c)}" if t == "TEXT" else
         f"CAST(bronze.{q(c)} AS {t}) AS {q(c)}") for c, t in cols)
    rules = [(f"not_null:{c}", f"{q(c)} IS NULL") for c, _ in cols]
    rules.append(("experiment", f"experiment_id <> {s(experiment)}"))
    rules.append(("group", '"group" NOT IN (' + ", ".join(s(g) for g in bp["groups"]) + ")"))
    for a, values in bp.get("attributes", {}).items():
        rules.append((f"attribute:{a}", f"{q(a)} NOT IN (" + ", ".join(s(v) for v in values) + ")"))
    start = datetime.date.fromisoformat(str(bp["start_date"]))
    end = start + datetime.timedelta(days=int(bp["days"]))
    rules.append(("purchase_date", f"purchase_date < DATE '{start}' OR purchase_date >= DATE '{end}'"))
    inf, ninf = "CAST('inf' AS DOUBLE)", "CAST('-inf' AS DOUBLE)"
    for m, spec in metrics.items():
        off = float(spec.get("offset", 0))
        kind = spec["distribution"]
        if kind in ("poisson", "negative_binomial"):
            ok = f"{q(m)} >= {int(off)}"
        elif kind == "bernoulli":
            ok = f"{q(m)} IN ({int(off)}, {int(off) + 1})"
        elif kind in ("gamma", "lognormal"):
            ok = f"{q(m)} > CAST({off!r} AS DOUBLE) AND {q(m)} < {inf}"
        else:
            ok = f"{q(m)} > {ninf} AND {q(m)} < {inf}"
        if float(spec.get("zero_inflation", 0)) > 0:
            ok = f"({ok}) OR {q(m)} = 0"
        rules.append((f"metric:{m}", f"NOT ({ok})"))
        if spec.get("pre_period"):
            p = q(f"pre_{m}")
            rules.append((f"finite:pre_{m}", f"NOT ({p} > {ninf} AND {p} < {inf})"))
    checks = "\n      ".join(f"WHEN {c} THEN {s(r)}" for r, c in rules)
    column_list = ", ".join(q(c) for c, _ in cols)
    read = lambda name: open(os.path.join(SQL, name)).read()
    checked = fill(read("silver_checked.sql"), {"conformed": conformed, "checks": checks})
    repeated = fill(read("silver_repeated.sql"), {})
    silver = fill(read("silver.sql"), {"columns": column_list})
    window = fill(open(os.path.join(HERE, "silver_window.sql")).read(),
                  {"conformed": conformed, "checks": checks, "columns": column_list})
    gold = "\nUNION ALL\n".join(fill(read("gold_group_daily.sql"), {"metric": m}) for m in metrics)
    return {"checked": checked, "repeated": repeated, "silver": silver, "window": window, "gold": gold}


DUCKDB_RUN = r"""
import duckdb, json, sys, time
from deltalake import DeltaTable
bronze_dir, out, sql_json, form = sys.argv[1:5]
sql = json.load(open(sql_json))
# The data files of bronze's current version only: a rerun's replaced files stay on disk
# until a vacuum, and a glob would read them too.
files = [f.removeprefix("file://") for f in DeltaTable(bronze_dir).file_uris()]
con = duckdb.connect()
con.execute("SET preserve_insertion_order = false")
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW bronze AS SELECT * FROM read_parquet({files!r}, hive_partitioning = true)")
t0 = time.time()
if form == "steps":
    # As abforge runs it: the repeated customers collected first, then two passes.
    con.execute(f"CREATE VIEW checked AS {sql['checked']}")
    con.execute(f"CREATE TEMP TABLE repeated AS {sql['repeated']}")
    con.execute(f"CREATE VIEW classified AS {sql['silver']}")
else:
    # The single query with a window over every row.
    con.execute(f"CREATE VIEW classified AS {sql['window']}")
con.execute(f"COPY (SELECT * FROM classified WHERE rule IS NOT NULL) TO '{out}/quarantine.parquet' (FORMAT parquet)")
con.execute(f"COPY (SELECT * EXCLUDE (rule) FROM classified WHERE rule IS NULL) TO '{out}/silver' "
            "(FORMAT parquet, PARTITION_BY (experiment_id, run_date), OVERWRITE_OR_IGNORE)")
t1 = time.time()
con.execute(f"CREATE VIEW silver AS SELECT * FROM read_parquet('{out}/silver/**/*.parquet', hive_partitioning = true)")
run = sql["run"]
con.execute(f"CREATE VIEW run AS SELECT '{run['experiment_id']}' AS experiment_id, '{run['run_id']}' AS run_id, "
            f"DATE '{run['run_date']}' AS run_date")
con.execute(f"COPY ({sql['gold']}) TO '{out}/group_daily.parquet' (FORMAT parquet)")
t2 = time.time()
print(f'{{"silver_s": {t1 - t0:.3f}, "gold_s": {t2 - t1:.3f}}}')
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", default="1e7")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    n = int(float(a.n))
    if not os.path.exists(TOOLS_PY):
        sys.exit("the tools venv is missing: bash scripts/services.sh venv")
    abforge = build_abforge()
    work = tempfile.mkdtemp(prefix="abforge-lake-bench-")
    try:
        bp = blueprint(n, work)
        data = os.path.join(work, "data")
        env = env_for(data)
        run_date = "2026-11-23"
        common = ["-b", bp, "--run-date", run_date, "--json"]
        for step in ("generate", "land", "publish"):
            subprocess.run([abforge, "-q", "pipeline", "step", step] + common, env=env, check=True,
                           capture_output=True)
        params = resolved(abforge, bp, run_date)
        bpj = params["blueprint"]
        sql_json = os.path.join(work, "sql.json")
        run_id = os.path.basename(glob.glob(os.path.join(data, "objects", "params", "*", f"*-{run_date.replace('-', '')}.json"))[0])[:-5]
        json.dump({**duckdb_sql(bpj, bpj["id"]), "run": {"experiment_id": bpj["id"], "run_id": run_id, "run_date": run_date}},
                  open(sql_json, "w"))
        runs = []
        for rep in range(a.reps):
            r = {"rep": rep, "n": n}
            for step in ("bronze", "silver", "gold"):
                t = timed([abforge, "-q", "pipeline", "step", step] + common, env=env)
                r[f"abforge_{step}_s"] = t["wall_s"]
                r[f"abforge_{step}_peak_rss_mib"] = t["peak_rss_mib"]
            bronze = os.path.join(data, "objects", "lake", "bronze", "customers")
            for form in ("steps", "window"):
                out = os.path.join(work, f"duckdb-{rep}-{form}")
                os.makedirs(out, exist_ok=True)
                t = timed([TOOLS_PY, "-c", DUCKDB_RUN, bronze, out, sql_json, form])
                inner = json.loads(t["stdout"].strip().splitlines()[-1])
                r.update({f"duckdb_{form}_wall_s": t["wall_s"], f"duckdb_{form}_peak_rss_mib": t["peak_rss_mib"],
                          f"duckdb_{form}_silver_s": inner["silver_s"], f"duckdb_{form}_gold_s": inner["gold_s"]})
                shutil.rmtree(out, ignore_errors=True)
            print(json.dumps(r), file=sys.stderr)
            runs.append(r)
        med = lambda k: statistics.median(x[k] for x in runs)
        ours = med("abforge_silver_s") + med("abforge_gold_s")
        duck = {form: med(f"duckdb_{form}_silver_s") + med(f"duckdb_{form}_gold_s") for form in ("steps", "window")}
        best = min(duck, key=duck.get)
        summary = {
            "n": n, "reps": a.reps,
            "abforge_bronze_s": med("abforge_bronze_s"),
            "abforge_silver_s": med("abforge_silver_s"), "abforge_gold_s": med("abforge_gold_s"),
            "abforge_peak_rss_mib": max(max(x[f"abforge_{s}_peak_rss_mib"] for s in ("bronze", "silver", "gold"))
                                        for x in runs),
            **{f"duckdb_{form}_{k}": med(f"duckdb_{form}_{k}") for form in ("steps", "window") for k in ("silver_s", "gold_s")},
            **{f"duckdb_{form}_peak_rss_mib": max(x[f"duckdb_{form}_peak_rss_mib"] for x in runs) for form in ("steps", "window")},
            "duckdb_best_form": best,
            # abforge's silver + gold over DuckDB's, DuckDB on the faster of the two forms.
            "silver_plus_gold_ratio": round(ours / duck[best], 3) if duck[best] else None,
            "summary": True,
        }
        print(f"{'':24}{'abforge':>12}{'duckdb steps':>14}{'duckdb window':>15}")
        print(f"{'bronze (from SQLite) s':24}{summary['abforge_bronze_s']:>12.2f}{'—':>14}{'—':>15}")
        for k in ("silver", "gold"):
            print(f"{k + ' s':24}{summary[f'abforge_{k}_s']:>12.2f}{summary[f'duckdb_steps_{k}_s']:>14.2f}"
                  f"{summary[f'duckdb_window_{k}_s']:>15.2f}")
        print(f"{'peak RSS MiB':24}{summary['abforge_peak_rss_mib']:>12.0f}{summary['duckdb_steps_peak_rss_mib']:>14.0f}"
              f"{summary['duckdb_window_peak_rss_mib']:>15.0f}")
        print(f"silver + gold: abforge / duckdb ({best}) = {summary['silver_plus_gold_ratio']}")
        print(json.dumps(summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
