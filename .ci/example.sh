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

# The main job: run example_dags/register_model.py end to end with `airflow dags test`,
# on an embedded default: a local SQLite MLflow store and an Airflow metadata DB, both under
# .local/ in the checkout. Bootstraps .venv itself; safe to run again (each run registers a
# new version and moves the `staging` alias to it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh

STORE="$ROOT/.local/mlflow"
export AIRFLOW_HOME="$ROOT/.local/airflow"
mkdir -p "$STORE" "$AIRFLOW_HOME"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/example_dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export AIRFLOW_CONN_MLFLOW_DEFAULT="{\"conn_type\": \"mlflow\", \"host\": \"sqlite:///$STORE/mlflow.db\"}"
AIRFLOW="$ROOT/.venv/bin/airflow"

echo ">> airflow db migrate ($AIRFLOW_HOME)"
"$AIRFLOW" db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || {
    tail -n 30 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }

echo ">> airflow dags test register_model (MLflow store: $STORE)"
# Run from the store directory: a SQLite tracking store keeps artifacts under ./mlruns.
(cd "$STORE" && "$AIRFLOW" dags test register_model > "$AIRFLOW_HOME/dags-test.log" 2>&1) || {
    tail -n 60 "$AIRFLOW_HOME/dags-test.log"; exit 1; }

echo ">> XCom record pushed by task 'register':"
"$ROOT/.venv/bin/python" - <<'PY'
import json

from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

with create_session() as session:
    row = (
        session.query(XComModel)
        .filter_by(dag_id="register_model", task_id="register", key="return_value")
        .order_by(XComModel.timestamp.desc())
        .first()
    )
    if row is None:
        raise SystemExit("no XCom record found: the DAG run did not register a model")
    print(json.dumps(XComModel.deserialize_value(row), indent=2))
PY

cat <<EOF

Open the MLflow UI on this store:
  $ROOT/.venv/bin/mlflow ui --backend-store-uri sqlite:///$STORE/mlflow.db --port 5000
then browse http://127.0.0.1:5000/#/models/iris-classifier
EOF

if [[ -f "$ROOT/docs/_build/html/index.html" ]]; then
    echo "Documentation: file://$ROOT/docs/_build/html/index.html"
else
    echo "Documentation: bash .ci/docs.sh builds it into $ROOT/docs/_build/html (open index.html)"
fi
