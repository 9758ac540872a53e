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

"""Promote the version ``staging`` points at to ``production``, but only when it is better.

Scheduled on the model's asset
(``mlflow://airflow_connection/mlflow_default/iris-classifier``): it runs each time a task
with ``emit_asset=True`` registers a version of the model or moves one of its aliases, e.g.
``register`` in ``register_model.py``. Such tasks emit nothing when they change nothing (a
re-run, an alias already in place), and ``promote`` emits no asset, so the example DAGs cannot
trigger each other in a loop. The ``promote`` task compares the ``accuracy`` metric of the
source runs of the ``staging`` and ``production`` versions: it moves ``production`` when
``staging`` is strictly better, and is skipped otherwise (the log states both values). Its
XCom keeps ``previous_version`` for a rollback.

The asset is named by the connection id: parsing this file reads no connection.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.operators import SetModelVersionAliasOperator

MODEL_NAME = "iris-classifier"
# [START howto_model_asset]
MODEL_ASSET = model_asset("mlflow_default", MODEL_NAME)
# [END howto_model_asset]


@dag(
    schedule=[MODEL_ASSET],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mlflow", "example"],
    doc_md=__doc__,
)
def promote_on_new_version() -> None:
    # [START howto_operator_promote_staging_if_better]
    SetModelVersionAliasOperator(
        task_id="promote",
        model_name=MODEL_NAME,
        alias="production",
        best_metric="accuracy",
        candidate_alias="staging",
        require_improvement=True,
    )
    # [END howto_operator_promote_staging_if_better]


promote_on_new_version()
