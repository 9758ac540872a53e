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

"""RegisterModelVersionOperator with a run search instead of a model URI (backfill mode)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_mlflow_registry.operators import RegisterModelVersionOperator
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.usefixtures("airflow_db")
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@pytest.fixture
def client(mlflow_server: MlflowServer, use_connection: UseConnection) -> MlflowClient:
    use_connection("mlflow_default", mlflow_server.url)
    return mlflow_server.client()


def seed(client: MlflowClient, logged_model_for: set[float]) -> tuple[str, dict[float, str]]:
    """An experiment with runs tagged `day=2026-03-0<n>`; accuracy to run id."""
    experiment = unique("exp")
    experiment_id = client.create_experiment(experiment)
    runs = {}
    for accuracy in (0.6, 0.8, 0.7):
        run_id = client.create_run(experiment_id, tags={"day": "2026-03-01"}).info.run_id
        client.log_metric(run_id, "accuracy", accuracy)
        if accuracy in logged_model_for:
            client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
        runs[accuracy] = run_id
    return experiment, runs


def registering_dag(experiment: str, model: str, run_filter: str, **kwargs: object) -> DAG:
    with DAG(
        unique("dag_search"), schedule=None, start_date=START, params={"day": "2026-03-01"}
    ) as dag:
        RegisterModelVersionOperator(
            task_id="register",
            model_name=model,
            experiment_name=experiment,
            run_filter=run_filter,
            order_by=["metrics.accuracy DESC"],
            **kwargs,  # type: ignore[arg-type]
        )
    return dag


def test_best_run_logged_model_is_registered_and_the_choice_recorded(client: MlflowClient) -> None:
    experiment, runs = seed(client, logged_model_for={0.8})
    model = unique("search")
    record = xcom_value(
        run_dag(registering_dag(experiment, model, "tags.day = '{{ params.day }}'")), "register"
    )
    assert record["run_id"] == runs[0.8]
    assert record["source"].startswith("models:/m-")
    assert record["lineage"]["airflow.source_run_id"] == runs[0.8]
    assert record["lineage"]["airflow.source_filter"] == "tags.day = '2026-03-01'"
    assert record["lineage"]["airflow.source_order_by"] == "metrics.accuracy DESC"


def test_run_without_logged_model_falls_back_to_runs_uri(client: MlflowClient) -> None:
    experiment, runs = seed(client, logged_model_for=set())
    model = unique("fallback")
    dag = registering_dag(experiment, model, "tags.day = '2026-03-01'", artifact_path="clf")
    record = xcom_value(run_dag(dag), "register")
    assert record["source"] == f"runs:/{runs[0.8]}/clf"


def test_no_matching_run_fails_showing_the_rendered_filter(
    client: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    experiment, _ = seed(client, logged_model_for=set())
    dag = registering_dag(experiment, unique("nomatch"), "tags.day = '{{ params.day }}-x'")
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("register", -1): "failed"}
    task_log = capsys.readouterr().out  # dag.test() prints task logs to stdout
    assert "No run to register" in task_log
    assert "tags.day = '2026-03-01-x'" in task_log and experiment in task_log


def test_no_matching_run_skips_when_asked(client: MlflowClient) -> None:
    experiment, _ = seed(client, logged_model_for=set())
    dag = registering_dag(experiment, unique("skip"), "tags.day = 'never'", on_no_match="skip")
    assert task_states(run_dag(dag)) == {("register", -1): "skipped"}


@pytest.mark.parametrize("by", ["experiment_name", "experiment_id"])
def test_missing_experiment_fails_even_with_skip_naming_the_experiment(
    client: MlflowClient, capsys: pytest.CaptureFixture[str], by: str
) -> None:
    """A misspelled experiment is a configuration error: skipping it would skip every day."""
    experiment, _ = seed(client, logged_model_for=set())
    misspelled = experiment.upper() if by == "experiment_name" else "987654321"
    with DAG(unique("dag_missing_exp"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator(
            task_id="register",
            model_name=unique("missing-exp"),
            run_filter="tags.day = '2026-03-01'",
            on_no_match="skip",
            **{by: misspelled},  # type: ignore[arg-type]
        )
    assert task_states(run_dag(dag)) == {("register", -1): "failed"}
    task_log = capsys.readouterr().out
    assert "ExperimentNotFoundError" in task_log
    name_in_message = repr(misspelled) if by == "experiment_name" else f"id {misspelled}"
    assert f"Experiment {name_in_message} does not exist" in task_log


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_uri": "s3://b/m", "experiment_name": "e"}, "not both"),
        ({}, "not both and not neither"),
        ({"experiment_name": "e", "experiment_id": "1"}, "experiment_name or experiment_id"),
        ({"experiment_name": "e", "on_no_match": "ignore"}, "on_no_match"),
    ],
)
def test_source_arguments_are_checked_at_parse(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RegisterModelVersionOperator(task_id="register", model_name="m", **kwargs)  # type: ignore[arg-type]
