#!/usr/bin/env bash
# Checks the AWS deployment (deploy/aws/template.yaml, AWS SAM) with cfn-lint from the tools
# venv (pinned in scripts/requirements-test.txt; scripts/services.sh builds the venv once):
# every rule, the informational ones too, against a few regions — any finding fails. Then
# deploy/aws/check_template.py (least-privilege IAM, the resources docs/deploy.md describes) and
# the container's entrypoint with `sh -n`.
#
#   bash scripts/cfn-lint.sh        # called by scripts/test.sh (ABFORGE_SKIP_AIRFLOW=1 skips it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV_BIN="$(bash scripts/services.sh venv)"
TEMPLATE=deploy/aws/template.yaml
say() { printf 'cfn-lint: %s\n' "$*" >&2; }
say "$("$VENV_BIN/cfn-lint" --version) on $TEMPLATE"
if ! "$VENV_BIN/cfn-lint" --include-checks I --regions us-east-1 eu-west-1 ap-southeast-2 -- "$TEMPLATE"; then
  say "FAILED: the findings above"
  exit 1
fi
say "no errors, warnings or informational findings"
# What cfn-lint does not check: least-privilege IAM, and the deployment docs/deploy.md describes.
"$VENV_BIN/python" deploy/aws/check_template.py "$TEMPLATE"
sh -n deploy/aws/entrypoint.sh
say "passed"
