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


"""``RollbackModelVersionAliasOperator``: arguments checked when the DAG is parsed, and a DAG
run against a real server that rolls back by the ledger with templated arguments, pushes the
record and names the task instance as the entry's author."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.operators import RollbackModelVersionAliasOperator
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.ledger import promoted
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.support.mlflow_server import MlflowServer


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"to_version": "2", "steps": 1}, "not both"),
        ({"steps": 0}, "steps must be a whole number of at least 1"),
        ({"steps": 1.5}, "steps must be a whole number"),
        ({"to_version": "two"}, "to_version"),
    ],
)
def test_bad_arguments_fail_at_parse_time_naming_the_field(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RollbackModelVersionAliasOperator(
            task_id="rollback", model_name="m", alias="champion", **arguments
        )


@pytest.mark.usefixtures("airflow_db")
def test_operator_in_a_dag_run_rolls_back_and_pushes_the_ledger_entry(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = promoted(default_registry, MlflowRegistryHook(), 3, prefix="rollback-operator")
    dag_id = unique("dag_rollback")
    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        RollbackModelVersionAliasOperator(
            task_id="rollback", model_name="{{ params.model }}", alias="champion",
            steps="{{ params.steps }}", reason="canary failed in {{ run_id }}",
            params={"model": model, "steps": "2"},
        )  # fmt: skip
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("rollback", -1): "success"}
    record = xcom_value(dag_run, "rollback")
    assert (record["version"], record["previous_version"], record["steps"]) == ("1", "3", 2)
    assert record["changed"] is True and record["tracking_uri"] == mlflow_server.url
    assert record["model_uri"] == f"models:/{model}/1"
    entry = record["ledger_entry"]
    assert (entry["kind"], entry["status"]) == ("rollback", "verified")
    assert entry["by"] == f"{dag_id}/{dag_run.run_id}/rollback/try 1"
    assert entry["why"] == {
        "reason": f"canary failed in {dag_run.run_id}",
        "rolled_back_from": "3",
        "steps": "2",
    }
    assert default_registry.get_model_version_by_alias(model, "champion").version == "1"
