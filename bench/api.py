#!/usr/bin/env python3
"""Side-by-side benchmark of the params API: `abforge serve` (axum, local object store)
against the seed's stack, ../shared/bench/api_fastapi (FastAPI + uvicorn + pydantic writing
JSON files), loaded by wrk on loopback with the same connections, threads and duration,
alternating A B A B (each rep after `quiet.py` says the machine is idle).

abforge modes (1000 run ids, pre-populated; body = bench/api/body.json, the same content
as the baseline's body.json written as a blueprint):
  GET      read a run's params (the stored blueprint + truth document); after the first
           read of an object, its rendered answer is reused while a stat of the file
           shows the same entity tag (inode, mtime, size)
  PUT      the same blueprint again (200 unchanged, no write): the body is byte for byte
           the one that made the stored object, whose tag has not changed, so the answer
           is known without validating again
  PUT_NEW  a new blueprint every request (its seed changes): validated, truth computed,
           written atomically (200 replaced) — the like-for-like of FastAPI's POST
FastAPI modes: GET and POST, as its own bench_api.py runs them.

usage: bench/api.py [--reps 3] [--duration 10] [--conns 32] [--threads 2] [--impl h11|httptools]
needs: ../shared/bench/setup.sh run once (its venv, wrk).
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

from common import HERE, SHARED, VENV_PY, build_abforge

LUA = os.path.join(HERE, "api")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet():
    subprocess.run([sys.executable, os.path.join(SHARED, "quiet.py"), "60", "90"], capture_output=True)


def wrk(script, port, a, duration):
    env = dict(os.environ, WRK_LUA_DIR=LUA)
    p = subprocess.run(["wrk", f"-t{a.threads}", f"-c{a.conns}", f"-d{duration}s", "--timeout", "5s",
                        "-s", os.path.join(LUA, script), f"http://127.0.0.1:{port}"],
                       capture_output=True, text=True, env=env, timeout=duration + 60)
    return json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])


def abforge_rep(binary, a):
    port = free_port()
    data = tempfile.mkdtemp(prefix="abforge-api-bench-")
    # Request logs off, as the baseline runs uvicorn with --no-access-log --log-level warning.
    srv = subprocess.Popen([binary, "-q", "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", data],
                           env=dict(os.environ, RUST_LOG="warn"),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        srv.stdout.readline()  # "listening on ..."
        body = open(os.path.join(LUA, "body.json"), "rb").read().strip()
        for i in range(1, 1001):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/experiments/bench/runs/run-{i}/params",
                                         data=body, headers={"Content-Type": "application/json"}, method="PUT")
            with urllib.request.urlopen(req) as r:
                assert r.status in (200, 201), r.status
        out = {}
        for mode, script in (("GET", "get.lua"), ("PUT", "put.lua"), ("PUT_NEW", "put_new.lua")):
            quiet()
            wrk(script, port, a, 3)  # warm-up
            out[mode] = wrk(script, port, a, a.duration)
        return out
    finally:
        srv.terminate()
        srv.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def fastapi_rep(a):
    quiet()
    p = subprocess.run([VENV_PY, os.path.join(SHARED, "api_fastapi", "bench_api.py"), "--workers", "1",
                        "--impl", a.impl, "--reps", "1", "--duration", str(a.duration),
                        "--threads", str(a.threads), "--conns", str(a.conns), "--port", str(free_port())],
                       capture_output=True, text=True, timeout=600)
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            out[r["mode"]] = r
    if not out:
        sys.exit(f"baseline failed:\n{p.stdout}\n{p.stderr}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--impl", choices=["h11", "httptools"], default="h11")
    a = ap.parse_args()
    binary = build_abforge()
    runs = {}
    for rep in range(a.reps):
        for name, fn in (("fastapi", lambda: fastapi_rep(a)), ("abforge", lambda: abforge_rep(binary, a))):
            for mode, r in fn().items():
                runs.setdefault((name, mode), []).append(r)
                sys.stderr.write(json.dumps({"rep": rep, "contender": name, "mode": mode, **r}) + "\n")
    med = {f"{n} {m}": {k: statistics.median(r[k] for r in v)
                        for k in ("req_per_s", "lat_p50_ms", "lat_p99_ms", "err_status", "err_timeout", "err_connect")}
           for (n, m), v in runs.items()}
    print(f"\nwrk -t{a.threads} -c{a.conns} -d{a.duration}s, {a.reps} alternating reps, medians; "
          f"FastAPI: 1 uvicorn worker, {a.impl}")
    print(f"{'server mode':<18} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for k, m in med.items():
        errs = m["err_status"] + m["err_timeout"] + m["err_connect"]
        print(f"{k:<18} {m['req_per_s']:>10,.0f} {m['lat_p50_ms']:>8.2f} {m['lat_p99_ms']:>8.2f} {errs:>7.0f}")
    ratios = {
        "GET": med["abforge GET"]["req_per_s"] / med["fastapi GET"]["req_per_s"],
        "PUT_NEW_vs_POST": med["abforge PUT_NEW"]["req_per_s"] / med["fastapi POST"]["req_per_s"],
        "PUT_vs_POST": med["abforge PUT"]["req_per_s"] / med["fastapi POST"]["req_per_s"],
    }
    for k, v in ratios.items():
        print(f"abforge / FastAPI req/s, {k}: {v:.1f}x")
    print(json.dumps({"bench": "api", "wrk": f"-t{a.threads} -c{a.conns} -d{a.duration}s", "reps": a.reps,
                      "fastapi_impl": a.impl, "medians": med, "ratios": ratios}))


if __name__ == "__main__":
    main()
