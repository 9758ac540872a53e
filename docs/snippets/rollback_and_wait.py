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

"""Code shown in the docs that no example DAG holds: rolling a promotion back, and waiting for
an alias to move. A complete DAG: ``promote`` points ``champion`` at what ``challenger`` points
at, ``rollback`` points it back at the version it pointed at before, and the sensor then waits
(in the triggerer) until ``champion`` moves past that version again. Run by
tests/docs/test_snippets.py against a real MLflow server."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.operators import SetModelVersionAliasOperator
from airflow_mlflow_registry.sensors import ModelVersionSensor

MODEL_NAME = "iris-classifier"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def rollback_and_wait() -> None:
    promote = SetModelVersionAliasOperator(
        task_id="promote", model_name=MODEL_NAME, alias="champion", from_alias="challenger"
    )
    # [START howto_operator_rollback]
    rollback = SetModelVersionAliasOperator(
        task_id="rollback",
        model_name=MODEL_NAME,
        alias="champion",
        version="{{ ti.xcom_pull(task_ids='promote')['previous_version'] }}",
    )
    # [END howto_operator_rollback]
    # [START howto_sensor_model_version]
    wait = ModelVersionSensor(
        task_id="wait_for_new_champion",
        model_name=MODEL_NAME,
        alias="champion",
        newer_than_version="{{ ti.xcom_pull(task_ids='rollback')['version'] }}",
        poke_interval=60,
        timeout=6 * 3600,
        deferrable=True,  # wait in the triggerer, no worker slot
    )
    # [END howto_sensor_model_version]
    promote >> rollback >> wait


rollback_and_wait()
