#!/usr/bin/env bash
# The whole test suite: lint, format check, type check, then pytest (real MLflow servers and
# real Airflow). Bootstraps .venv itself. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh
PY="$ROOT/.venv/bin/python"

echo ">> ruff check / ruff format --check / mypy"
"$ROOT/.venv/bin/ruff" check .
"$ROOT/.venv/bin/ruff" format --check .
"$ROOT/.venv/bin/mypy"

echo ">> pytest"
exec "$PY" -m pytest -p no:cacheprovider "$@"
