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
