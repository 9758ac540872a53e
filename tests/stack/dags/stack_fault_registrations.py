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

"""Stack tier: eight mapped registrations of one model through the ``mlflow_faults``
connection (a fault-injecting proxy in front of the stack's MLflow server), retried by
Airflow while a test kills a Celery worker and the MLflow server."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.operators import RegisterModelVersionOperator

TASK_INSTANCES = 8


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"model_name": "stack-faults"},
)
def stack_fault_registrations() -> None:
    RegisterModelVersionOperator.partial(
        task_id="register",
        model_name="{{ params.model_name }}",
        mlflow_conn_id="mlflow_faults",
        # Enough attempts to outlast a restart of the MLflow server on a loaded machine.
        retries=8,
        retry_delay=timedelta(seconds=10),
    ).expand(model_uri=[f"s3://stack-faults/{index}" for index in range(TASK_INSTANCES)])


stack_fault_registrations()
