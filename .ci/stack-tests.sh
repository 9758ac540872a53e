#!/usr/bin/env bash
# The stack tier: starts the production-like deployment of .ci/stack.sh (PostgreSQL, Redis,
# authenticated MLflow server, Airflow with CeleryExecutor, triggerer and two workers), runs
# tests/stack against it, and stops it, also when a test fails or pytest is killed. Extra
# arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh
export STACK_DIR="$(mktemp -d -t stack-tier-XXXXXX)"
trap 'bash .ci/stack.sh down --dir "$STACK_DIR" >/dev/null 2>&1 || true; rm -rf "$STACK_DIR" "$STACK_DIR-dags"' EXIT
started=$SECONDS
echo ">> pytest -m stack (tests/stack)"
status=0
"$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider -m stack --durations=0 tests/stack "$@" || status=$?
echo ">> stack tier: $((SECONDS - started)) s"
exit "$status"
