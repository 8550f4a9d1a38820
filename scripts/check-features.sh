#!/usr/bin/env bash
# The store's backends are cargo features (sqlite, postgres, dynamodb, s3): checks that the
# store builds, clippy-clean, with none of them and with each alone, and that the params API
# and the Lambda, which use only the object store, compile no database client.
#
# usage: bash scripts/check-features.sh   (CARGO_TARGET_DIR as for the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

for features in "" sqlite postgres dynamodb s3; do
  echo "abforge-store with only: ${features:-(no backend)}"
  cargo clippy --locked -q -p abforge-store --no-default-features --features "$features" -- -D warnings
done

echo "abforge-api and abforge-lambda"
cargo clippy --locked -q -p abforge-api -p abforge-lambda -- -D warnings
for crate in abforge-api abforge-lambda; do
  clients="$(cargo tree --locked -q -p "$crate" -e normal --prefix none |
    grep -oE '^(rusqlite|libsqlite3-sys|tokio-postgres|aws-sdk-dynamodb) ' | sort -u || true)"
  if [[ -n "$clients" ]]; then
    echo "$crate depends on a database client: $clients" >&2
    exit 1
  fi
done
echo "features: ok"
