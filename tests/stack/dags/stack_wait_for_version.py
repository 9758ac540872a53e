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

"""Stack tier: a deferrable ModelVersionSensor waits in the triggerer until the alias
``ready`` of the model named in the run's conf points at a version."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.sensors import ModelVersionSensor


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"model_name": "stack-sensor"},
)
def stack_wait_for_version() -> None:
    ModelVersionSensor(
        task_id="wait",
        model_name="{{ params.model_name }}",
        alias="ready",
        deferrable=True,
        poke_interval=2,
        timeout=600,
    )


stack_wait_for_version()
