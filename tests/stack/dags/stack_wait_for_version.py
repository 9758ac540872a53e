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
