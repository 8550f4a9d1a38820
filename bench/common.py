"""Shared helpers of the side-by-side benchmarks: paths, building abforge, and timing a
whole process under /usr/bin/time -v after the baseline's `quiet.py` says the machine is idle."""
import os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("ABFORGE_SHARED_BENCH", os.path.join(ROOT, "..", "shared", "bench"))
VENV_PY = os.path.join(os.environ.get("BENCH_VENV", os.path.expanduser("~/.cache/abforge-bench/venv")), "bin", "python")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/abforge/target"))


def build_abforge():
    """Builds the benchmark profile of the `abforge` binary and returns its path
    (ABFORGE_BIN names an already built binary instead, e.g. target/release/abforge)."""
    if os.environ.get("ABFORGE_BIN"):
        return os.environ["ABFORGE_BIN"]
    subprocess.run(["cargo", "build", "--quiet", "--profile", "bench-release", "-p", "abforge-cli"], cwd=ROOT,
                   check=True, env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    return os.path.join(TARGET, "bench-release", "abforge")


def timed(cmd, env=None, quiet_max=60):
    """Runs `cmd` once, after waiting (at most `quiet_max` s) for an idle machine; wall s, CPU
    s, peak RSS MiB, stdout."""
    subprocess.run([sys.executable, os.path.join(SHARED, "quiet.py"), str(quiet_max), "90"], capture_output=True)
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    wall = 0.0
    for part in w.split(":"):
        wall = wall * 60 + float(part)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    cpu = float(re.search(r"User time \(seconds\): (\S+)", p.stderr).group(1)) + float(
        re.search(r"System time \(seconds\): (\S+)", p.stderr).group(1))
    return {"wall_s": wall, "peak_rss_mib": round(rss, 1), "cpu_s": round(cpu, 2), "stdout": p.stdout}
