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

# The stack tier: starts the production-like deployment of .ci/stack.sh (PostgreSQL, Redis,
# authenticated MLflow servers with local, proxied-S3 and direct-S3 artifacts on moto
# endpoints, Airflow with CeleryExecutor, triggerer and two workers), runs
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
