#!/usr/bin/env bash
# Copyright 2026 The airflow-mlflow-registry authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# The default test suite: lint, format check, type check, then pytest (real MLflow servers and
# real Airflow). Bootstraps .venv itself. Extra arguments go to pytest. Three tiers run
# separately: the end-to-end tier (marker `e2e`): bash .ci/e2e-tests.sh; the stack tier
# (tests/stack, marker `stack`): bash .ci/stack-tests.sh; the tests against older MLflow
# servers (marker `servers`), in the matrix: bash .ci/matrix.sh
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
# `-m "not stack and not servers and not e2e"` comes first, so a `-m` given by the caller replaces it.
exec "$PY" -m pytest -p no:cacheprovider -m "not stack and not servers and not e2e" --durations=25 "$@"
