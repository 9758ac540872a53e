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

# Build the user documentation (docs/) into HTML with Sphinx, warnings as errors: a broken
# include, a missing [START]/[END] marker, an unresolved cross-reference or a malformed
# docstring fails the build. Bootstraps .venv itself; output in docs/_build/html.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh

OUT="$ROOT/docs/_build/html"
# autodoc imports the package, hence Airflow: keep Airflow's generated config out of ~/airflow.
export AIRFLOW_HOME="$ROOT/docs/_build/airflow-home"
mkdir -p "$AIRFLOW_HOME"
echo ">> sphinx-build docs -> $OUT"
# -E: read every page again, so a warning of an unchanged page is reported on every build.
"$ROOT/.venv/bin/python" -m sphinx -b html -E -n -W --keep-going -q docs "$OUT"
cat <<MSG

Documentation built. Open it in a browser:
  file://$OUT/index.html
or serve it: $ROOT/.venv/bin/python -m http.server --directory $OUT 8000
MSG
