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

"""Stack tier: the DAG that makes ``model_asset("mlflow_default", "stack-webhook-replicas")``
an active asset, so the webhook receiver records that model's deliveries. It stays paused
(the stack pauses DAGs at creation): the test counts asset events, not runs."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_mlflow_registry.assets import model_asset

MODEL_NAME = "stack-webhook-replicas"


@dag(
    schedule=[model_asset("mlflow_default", MODEL_NAME)],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def stack_webhook_replicas() -> None:
    @task
    def noop() -> None:
        return None

    noop()


stack_webhook_replicas()
