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

# The end-to-end tier (marker `e2e`): tests that start Airflow's own processes (api-server,
# scheduler, dag-processor, triggerer; `airflow connections test`), build and install the
# wheel, drive headless Chromium, or stop and restart an MLflow server. Each costs tens of
# seconds to minutes, so they run here rather than in the default suite (.ci/test.sh). Same
# bootstrap, same servers; extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh
started=$SECONDS
echo ">> pytest -m e2e"
status=0
"$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider -m e2e --durations=15 "$@" || status=$?
echo ">> e2e tier: $((SECONDS - started)) s"
exit "$status"
