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

"""The shipped `example_dags/champion_if_better.py`, as shipped, against a real `mlflow server`:
the first challenger becomes champion (no champion yet), a weaker one is registered as
challenger but not promoted, and the skipped promotion skips the task after it. Two DAG runs
that train and log a model take about half a minute here: end-to-end tier."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.examples import load_example
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer


@pytest.mark.e2e
@pytest.mark.usefixtures("airflow_db")
def test_champion_moves_only_when_the_challengers_run_metric_is_better(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    use_connection("mlflow_default", mlflow_server.url)
    example = load_example("champion_if_better")
    model = unique("champion-example")
    example.MODEL_NAME = model  # the DAG reads it when it is built
    dag = example.champion_if_better()
    client = mlflow_server.client()

    first = run_dag(dag, run_conf={"C": 1.0})
    assert set(task_states(first).values()) == {"success"}
    promoted = xcom_value(first, "promote")
    assert promoted["changed"] is True and promoted["previous_version"] is None
    champion = client.get_model_version_by_alias(model, "champion")
    assert champion.version == promoted["version"]
    first_accuracy = client.get_run(champion.run_id).data.metrics["accuracy"]
    assert promoted["metric_value"] == first_accuracy > 0.9

    weaker = run_dag(dag, run_conf={"C": 0.01})
    states = {task: state for (task, _), state in task_states(weaker).items()}
    assert states == {
        "train": "success",
        "register_challenger": "success",
        "promote": "skipped",
        "announce": "skipped",
    }
    challenger = client.get_model_version_by_alias(model, "challenger")
    assert int(challenger.version) == int(champion.version) + 1
    assert client.get_run(challenger.run_id).data.metrics["accuracy"] < first_accuracy
    assert client.get_model_version_by_alias(model, "champion").version == champion.version
