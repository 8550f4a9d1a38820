#!/usr/bin/env bash
# Measures the line coverage of the whole workspace with cargo-tarpaulin, per crate and in
# total, the `abforge` processes that the CLI's tests start included.
#
#   bash scripts/coverage.sh                 # prints the report folder at the end
#   ABFORGE_COVERAGE_OUT=DIR bash scripts/coverage.sh
#   bash scripts/coverage.sh -- --test-threads=1   # arguments after -- go to every test binary
#
# What it does:
# - installs cargo-tarpaulin (pinned, `cargo install --locked`) into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/abforge/tools when it is not there; it builds in a
#   temporary folder of its own, not in the shared cargo target folder;
# - starts the test services (moto for S3 and DynamoDB, PostgreSQL) as scripts/test.sh does,
#   in a state folder of its own (ABFORGE_SERVICES_DIR, a fresh temporary folder unless set),
#   purged when the script ends, so the S3, DynamoDB and PostgreSQL tests run too
#   (ABFORGE_SKIP_SERVICES=1 skips them);
# - runs `cargo tarpaulin --workspace --engine llvm`: rustc's own instrumentation
#   (-Cinstrument-coverage), whose .profraw files tarpaulin reads itself, so no llvm-tools
#   component is needed. The build goes to $CARGO_TARGET_DIR/coverage (CARGO_TARGET_DIR
#   defaults to ~/.cache/abforge/target; the instrumented build never touches the ordinary
#   one beside it), with only abforge's own crates instrumented (this script, as
#   RUSTC_WRAPPER, drops -Cinstrument-coverage from every other crate: a faster build and
#   small .profraw files) and no debug info (coverage needs none);
# - the CLI's subprocesses: the `abforge` binary the tests run (CARGO_BIN_EXE_abforge) is
#   built instrumented too, inherits tarpaulin's LLVM_PROFILE_FILE (…_%m-%p.profraw: one
#   file per process) and is one of the objects tarpaulin maps the counters of every test
#   binary's run through, so lines reached only through the binary are counted;
# - counts the lines of crates/*/src only: the tests (#[cfg(test)] modules and #[test]
#   functions, tarpaulin's default, and crates/*/tests) and the benches are left out;
# - writes, to the report folder ($CARGO_TARGET_DIR/coverage/report unless
#   ABFORGE_COVERAGE_OUT is set): tarpaulin-report.json and lcov.info (every line),
#   coverage.json and coverage.md (per crate and in total, with the uncovered lines of each
#   file) and tarpaulin.log.
#
# Doctests are not run (tarpaulin needs a nightly toolchain for them). The tests run with
# `cargo test`'s harness (threads in one process per test binary), as scripts/test.sh runs
# them without cargo-nextest. A full first run takes about an hour on 2 cores; see
# docs/coverage.md.
set -euo pipefail

# As RUSTC_WRAPPER (set below): instrument abforge's own crates only. Cargo runs
# `coverage.sh RUSTC ARGS…` with the crate's CARGO_MANIFEST_DIR in the environment.
if [[ "${ABFORGE_COVERAGE_WRAPPER:-}" == 1 && $# -ge 1 && "$1" != -- ]]; then
  rustc="$1"
  shift
  if [[ "${CARGO_MANIFEST_DIR:-}" == "$ABFORGE_COVERAGE_ROOT"/crates/* ]]; then
    exec "$rustc" "$@"
  fi
  args=()
  skip_next=0
  for a in "$@"; do
    if ((skip_next)); then
      skip_next=0
      [[ "$a" == instrument-coverage* ]] && continue
      args+=(-C "$a")
      continue
    fi
    case "$a" in
      -Cinstrument-coverage | -Cinstrument-coverage=*) continue ;;
      -C) skip_next=1; continue ;;
    esac
    args+=("$a")
  done
  exec "$rustc" "${args[@]}"
fi

TARPAULIN_VERSION=0.37.5
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/abforge/tools"
COV_TARGET="$CARGO_TARGET_DIR/coverage"
OUT="${ABFORGE_COVERAGE_OUT:-$COV_TARGET/report}"
TEST_ARGS=()
if [[ "${1:-}" == -- ]]; then
  shift
  TEST_ARGS=("$@")
elif [[ $# -gt 0 ]]; then
  echo "usage: bash scripts/coverage.sh [-- TEST-BINARY-ARGS…]" >&2
  exit 2
fi

step() { printf '\n==> %s\n' "$*"; }

step "cargo-tarpaulin $TARPAULIN_VERSION in $TOOLS"
TARPAULIN="$TOOLS/bin/cargo-tarpaulin"
if ! [[ -x "$TARPAULIN" ]] || ! "$TARPAULIN" tarpaulin --version 2>/dev/null | grep -qF " $TARPAULIN_VERSION"; then
  # No default features: they are coveralls' upload (git2, OpenSSL), not used here. The build
  # goes to cargo's own temporary folder, not to the shared target folder.
  env -u CARGO_TARGET_DIR nice -n 10 cargo install --locked --no-default-features \
    cargo-tarpaulin --version "$TARPAULIN_VERSION" --root "$TOOLS"
fi
"$TARPAULIN" tarpaulin --version

if [[ "${ABFORGE_SKIP_SERVICES:-}" == 1 ]]; then
  printf '==> SKIPPED: %s\n' "test services (ABFORGE_SKIP_SERVICES=1): the S3 and PostgreSQL tests do not run"
else
  step "test services: moto (S3 + DynamoDB) and PostgreSQL on loopback"
  if [[ -z "${ABFORGE_SERVICES_DIR:-}" ]]; then
    ABFORGE_SERVICES_DIR="$(mktemp -d "${TMPDIR:-/tmp}/abforge-services.XXXXXX")"
    trap 'bash scripts/services.sh purge; rm -rf "$ABFORGE_SERVICES_DIR"' EXIT
  else
    trap 'bash scripts/services.sh stop' EXIT
  fi
  export ABFORGE_SERVICES_DIR
  trap 'exit 130' INT TERM
  bash scripts/services.sh start
  set -a
  # shellcheck disable=SC1091
  . "$ABFORGE_SERVICES_DIR/services.env"
  set +a
fi

step "tests under coverage (build in $COV_TARGET, report in $OUT)"
mkdir -p "$OUT"
rm -f "$OUT"/tarpaulin-report.json "$OUT"/lcov.info
export ABFORGE_COVERAGE_WRAPPER=1 ABFORGE_COVERAGE_ROOT="$ROOT"
# Cargo executes the wrapper itself: a two-line one that runs this script with bash.
mkdir -p "$COV_TARGET"
printf '#!/bin/sh\nexec bash "%s" "$@"\n' "$ROOT/scripts/coverage.sh" >"$COV_TARGET/rustc-wrapper"
chmod +x "$COV_TARGET/rustc-wrapper"
export RUSTC_WRAPPER="$COV_TARGET/rustc-wrapper"
export RUST_BACKTRACE=1
t0=$SECONDS
status=0
# --rustflags: tarpaulin adds -Cdebuginfo=2 for every crate unless given one; the first wins.
nice -n 10 "$TARPAULIN" tarpaulin \
  --workspace --locked --engine llvm --skip-clean --no-fail-fast --color never \
  --target-dir "$COV_TARGET" \
  --rustflags=-Cdebuginfo=0 \
  --exclude-files 'crates/*/tests/*' 'crates/*/benches/*' 'bench/*' 'tests/*' \
  --out Json --out Lcov --output-dir "$OUT" \
  ${TEST_ARGS[@]+-- "${TEST_ARGS[@]}"} \
  2>&1 | tee "$OUT/tarpaulin.log" || status=$?
unset RUSTC_WRAPPER ABFORGE_COVERAGE_WRAPPER
elapsed=$((SECONDS - t0))

[[ -f "$OUT/tarpaulin-report.json" ]] || {
  echo "coverage: tarpaulin wrote no report (exit $status); see $OUT/tarpaulin.log" >&2
  exit 1
}

step "per crate"
python3 - "$OUT" "$ROOT" "$elapsed" "$status" <<'PY'
import json, os, sys
from collections import defaultdict

out, root, elapsed, status = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
report = json.load(open(os.path.join(out, "tarpaulin-report.json")))
crates = defaultdict(lambda: {"covered": 0, "coverable": 0, "files": []})
for f in report["files"]:
    path = os.path.relpath(os.path.join(*f["path"]), root)
    parts = path.split(os.sep)
    # Only the crates' sources: tests, benches and anything else are not in the denominator.
    if len(parts) < 4 or parts[0] != "crates" or parts[2] != "src":
        continue
    lines = [t for t in f["traces"] if "Line" in t["stats"]]
    uncovered = sorted({t["line"] for t in lines if t["stats"]["Line"] == 0})
    coverable = len({t["line"] for t in lines})
    c = crates[parts[1]]
    c["covered"] += coverable - len(uncovered)
    c["coverable"] += coverable
    c["files"].append({"path": path, "covered": coverable - len(uncovered),
                       "coverable": coverable, "uncovered_lines": uncovered})

def pct(c, n):
    return round(100.0 * c / n, 2) if n else None  # a crate of constants only has no lines

total_c = sum(c["covered"] for c in crates.values())
total_n = sum(c["coverable"] for c in crates.values())
doc = {
    "tool": "cargo-tarpaulin --engine llvm",
    "seconds": elapsed,
    "tests_exit_status": status,
    "total": {"covered": total_c, "coverable": total_n, "percent": pct(total_c, total_n)},
    "crates": {name: {"covered": c["covered"], "coverable": c["coverable"],
                      "percent": pct(c["covered"], c["coverable"]),
                      "files": sorted(c["files"], key=lambda f: f["path"])}
               for name, c in sorted(crates.items())},
}
json.dump(doc, open(os.path.join(out, "coverage.json"), "w"), indent=1)

def ranges(lines):
    out, start, prev = [], None, None
    for l in lines:
        if start is None:
            start = prev = l
        elif l == prev + 1:
            prev = l
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = l
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)

md = ["| crate | covered | lines | coverage |", "|---|---:|---:|---:|"]
for name, c in doc["crates"].items():
    shown = "—" if c["percent"] is None else f"{c['percent']:.1f} %"
    md.append(f"| `{name}` | {c['covered']} | {c['coverable']} | {shown} |")
md.append(f"| **total** | **{total_c}** | **{total_n}** | **{pct(total_c, total_n):.1f} %** |")
table = "\n".join(md)
detail = ["", "## Uncovered lines by file", "",
          "| file | covered | lines | uncovered lines |", "|---|---:|---:|---|"]
for name, c in doc["crates"].items():
    for f in sorted(c["files"], key=lambda f: -(f["coverable"] - f["covered"])):
        if f["uncovered_lines"]:
            detail.append(f"| `{f['path']}` | {f['covered']} | {f['coverable']} | "
                          f"{ranges(f['uncovered_lines'])} |")
with open(os.path.join(out, "coverage.md"), "w") as fh:
    fh.write("# Line coverage\n\n" + table + "\n" + "\n".join(detail) + "\n")
print(table)
print(f"\ntotal: {pct(total_c, total_n):.2f} % ({total_c} of {total_n} lines); "
      f"tarpaulin ran {elapsed // 60} min {elapsed % 60} s")
PY

step "report in $OUT"
echo "$OUT"
if [[ $status -ne 0 ]]; then
  echo "coverage: some tests failed (tarpaulin exit $status); the figures count what ran" >&2
  exit "$status"
fi
