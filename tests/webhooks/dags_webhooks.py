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

"""DAGs of the webhook end-to-end tests: one scheduled on a model's asset that only webhooks
feed, two whose assets a polling watch also feeds (both paths on), and one on the asset of a
connection no MLflow webhook delivers to (only the test's own deliveries reach it)."""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, AssetWatcher

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger

CONN_ID = "mlflow_webhooks"
MANUAL_CONN_ID = "mlflow_webhooks_manual"


def watched(model: str) -> object:
    trigger = MlflowRegistryEventTrigger(
        model_name=model,
        mlflow_conn_id=CONN_ID,
        poll_interval=2,
        start_after_version=0,
        webhook=True,
    )
    return model_asset(
        CONN_ID, model, watchers=[AssetWatcher(name=f"{model}_poll", trigger=trigger)]
    )


for dag_id, asset in [
    ("wh_versions", model_asset(CONN_ID, "wh_versions")),
    ("wh_both", watched("wh_both")),
    ("wh_reconcile", watched("wh_reconcile")),
    ("wh_dedup", model_asset(MANUAL_CONN_ID, "wh_dedup")),
]:
    with DAG(dag_id, schedule=[asset], catchup=False):
        EmptyOperator(task_id="consume")
