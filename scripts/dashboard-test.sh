#!/usr/bin/env bash
# The dashboard end to end in headless Chromium:
#
#   1. Debian's `chromium` (apt-get install, when /usr/bin/chromium is missing) and
#      playwright-core from npm (tests/e2e/package-lock.json, installed with `npm ci` into
#      ~/.cache/abforge/e2e-node, again only when the lock file changes; no browser download);
#   2. a fresh data folder: `abforge pipeline run` for three weekly dates, one calibration and
#      one power-curve sweep published to the lake (`calibrate --publish`), and one of the
#      scipy engine beside abforge's tests (`calibrate --engine scipy --publish`, in the venv
#      of scripts/engines-venv.sh; ABFORGE_SKIP_ENGINES=1 leaves it out and the /engines page
#      is checked empty);
#   3. `abforge serve` on a free loopback port, and tests/e2e/dashboard.cjs: every page is
#      opened, a filter followed, links clicked, and the numbers shown compared with the JSON
#      twins'; bad input (unknown experiment or run → 404 page, malformed parameter → 400
#      naming it); a second server on an empty folder shows how to make a lake;
#   4. screenshots of every page in target/dashboard-e2e/ (kept as test artifacts).
#
#   bash scripts/dashboard-test.sh      # called by scripts/test.sh (ABFORGE_SKIP_E2E=1 skips)
#
# The abforge binary is ABFORGE_BIN, else the debug build the cargo tests made.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abforge/target}"
CACHE="${ABFORGE_CACHE_DIR:-$HOME/.cache/abforge}"
NODE_DIR="$CACHE/e2e-node"
ARTIFACTS="$ROOT/target/dashboard-e2e"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

say() { printf 'dashboard-test: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

ensure_chromium() {
  [[ -x "$CHROMIUM" ]] && return 0
  command -v apt-get >/dev/null || die "no $CHROMIUM and no apt-get: install Chromium or set CHROMIUM"
  [[ $EUID -eq 0 ]] || die "no $CHROMIUM: install it as root (apt-get install chromium)"
  say "installing Chromium (apt-get install chromium; once)"
  local log="$CACHE/apt-chromium.log" apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium)
  mkdir -p "$CACHE"
  if ! "${apt[@]}" >"$log" 2>&1; then
    apt-get update -q >>"$log" 2>&1 || true
    "${apt[@]}" >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get install chromium failed"; }
  fi
  [[ -x "$CHROMIUM" ]] || die "apt-get installed chromium but there is no $CHROMIUM"
}

ensure_node_modules() {
  command -v node >/dev/null || die "node not found: install Node.js 20 or newer"
  local want stamp="$NODE_DIR/.abforge-stamp"
  want="$(sha256sum tests/e2e/package-lock.json | cut -d' ' -f1)"
  if [[ -d "$NODE_DIR/node_modules/playwright-core" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  say "installing playwright-core (npm ci in $NODE_DIR; once)"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp tests/e2e/package.json tests/e2e/package-lock.json "$NODE_DIR/"
  (cd "$NODE_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
  echo "$want" >"$stamp"
}

BIN="${ABFORGE_BIN:-$CARGO_TARGET_DIR/debug/abforge}"
if [[ ! -x "$BIN" ]]; then
  say "building abforge"
  cargo build -q -p abforge-cli
fi

ensure_chromium
ensure_node_modules

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Everything the server reads comes from these flags; nothing from the caller's ABFORGE_*.
unset ABFORGE_OBJECT_STORE_URL ABFORGE_DATABASE_URL ABFORGE_RUN_LOG_URL ABFORGE_API_URL \
  ABFORGE_API_TOKEN ABFORGE_CONFIG ABFORGE_API_READ_TOKEN_REQUIRED
export ABFORGE_DATA_DIR="$WORK/data"
cd "$WORK"

say "three weekly runs, a calibration and a power curve in $WORK/data"
for d in 2026-11-02 2026-11-09 2026-11-16; do
  "$BIN" pipeline run -b "$ROOT/examples/seed.toml" --run-date "$d" --quiet >/dev/null
done
"$BIN" calibrate -b "$ROOT/examples/seed.toml" -n 2000 -r 300 --publish --quiet >/dev/null
"$BIN" calibrate -b "$ROOT/examples/seed.toml" -n 2000 -r 150 \
  --sweep 'metrics.num_diff_items.treatment.lift=0..0.3:4' --publish --quiet >/dev/null
ENGINES=0
if [[ "${ABFORGE_SKIP_ENGINES:-}" != 1 ]]; then
  say "the scipy engine beside abforge's tests (engines venv: scripts/engines-venv.sh)"
  ABFORGE_ENGINE_PYTHON="$(bash "$ROOT/scripts/engines-venv.sh")" ABFORGE_ENGINES_DIR="$ROOT/engines" \
    "$BIN" calibrate -b "$ROOT/examples/seed.toml" -n 2000 -r 200 --engine scipy --publish --quiet >/dev/null
  ENGINES=1
fi

# Starts `abforge serve` on a free port with the given data folder; sets URL.
serve() {
  local out="$WORK/serve-$1.out"
  ABFORGE_DATA_DIR="$2" "$BIN" serve --addr 127.0.0.1:0 >"$out" 2>"$WORK/serve-$1.err" &
  PIDS+=($!)
  local i
  for i in $(seq 1 100); do
    URL="$(sed -n 's/^listening on //p' "$out" 2>/dev/null | head -n 1)"
    [[ -n "$URL" ]] && return 0
    sleep 0.1
  done
  cat "$WORK/serve-$1.err" >&2
  die "abforge serve did not start"
}
serve lake "$WORK/data"
LAKE_URL="$URL"
mkdir -p "$WORK/empty"
serve empty "$WORK/empty"
EMPTY_URL="$URL"

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
say "Chromium against $LAKE_URL (and $EMPTY_URL, no lake)"
NODE_PATH="$NODE_DIR/node_modules" CHROMIUM="$CHROMIUM" ENGINES="$ENGINES" \
  node "$ROOT/tests/e2e/dashboard.cjs" "$LAKE_URL" "$EMPTY_URL" "$ARTIFACTS"
[[ -d "$WORK/empty/objects/lake" ]] && die "the dashboard created a lake in the empty folder"
say "ok; screenshots in $ARTIFACTS"
