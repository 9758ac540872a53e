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

"""RegisterModelVersionOperator in real DAG runs (`dag.test()`) against a real `mlflow server`."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from airflow_mlflow_registry.operators import RegisterModelVersionOperator
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.usefixtures("airflow_db")
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def new_run(client: MlflowClient) -> str:
    """A real MLflow run (a `runs:/` source must name an existing run)."""
    experiment_id = client.create_experiment(unique("exp"))
    return client.create_run(experiment_id).info.run_id


@pytest.fixture
def plain_client(mlflow_server: MlflowServer, use_connection: UseConnection) -> MlflowClient:
    """`mlflow_default` points at the plain server; returns a client for checking results."""

    use_connection("mlflow_default", mlflow_server.url)
    return mlflow_server.client()


@pytest.mark.compat
def test_registration_records_tags_alias_lineage_and_every_xcom_field(
    plain_client: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = unique("reg")
    run_id = new_run(plain_client)
    with DAG(unique("dag_register"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator(
            task_id="register",
            model_name=model,
            model_uri=f"runs:/{run_id}/model",
            description="first version",
            tags={"team": "ml", "epochs": 3},
            aliases=["staging"],
        )
    dag_run = run_dag(dag)
    record = xcom_value(dag_run, "register")

    assert record["model_name"] == model
    assert record["version"] == "1"
    assert record["model_uri"] == f"models:/{model}/1"
    assert record["source"] == f"runs:/{run_id}/model"
    assert record["run_id"] == run_id
    assert record["status"] == "READY"
    assert record["aliases"] == ["staging"]
    assert record["tags"] == {"team": "ml", "epochs": "3"}
    assert record["created"] is True
    assert record["tracking_uri"] == mlflow_server.url
    assert record["model_version_url"] == f"{mlflow_server.url}/#/models/{model}/versions/1"
    registered_at = pendulum.parse(record["registered_at"])
    assert abs((pendulum.now("UTC") - registered_at).total_seconds()) < 600
    lineage = record["lineage"]
    assert lineage["airflow.dag_id"] == dag.dag_id
    assert lineage["airflow.task_id"] == "register"
    assert lineage["airflow.run_id"] == dag_run.run_id
    assert lineage["airflow.map_index"] == "-1"
    assert lineage["airflow.try_number"] == "1"
    assert pendulum.parse(lineage["airflow.logical_date"]) == dag_run.logical_date
    assert pendulum.parse(lineage["airflow.data_interval_start"]) == dag_run.data_interval_start
    assert pendulum.parse(lineage["airflow.data_interval_end"]) == dag_run.data_interval_end
    assert len(lineage[REGISTRATION_KEY_TAG]) == 64
    json.dumps(record)  # plain JSON all the way down

    version = plain_client.get_model_version(model, "1")
    assert version.run_id == run_id and version.description == "first version"
    assert {**record["tags"], **lineage}.items() <= version.tags.items()
    assert plain_client.get_model_version_by_alias(model, "staging").version == "1"


def test_logged_model_uri_registers_with_its_model_id(plain_client: MlflowClient) -> None:
    model = unique("logged")
    run_id = new_run(plain_client)
    experiment_id = plain_client.get_run(run_id).info.experiment_id
    logged = plain_client.create_logged_model(experiment_id, source_run_id=run_id)
    with DAG(unique("dag_logged"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator(
            task_id="register", model_name=model, model_uri=f"models:/{logged.model_id}"
        )
    record = xcom_value(run_dag(dag), "register")
    assert record["source"] == f"models:/{logged.model_id}"
    assert record["run_id"] == run_id  # the logged model's source run


class RegisterThenFailOnFirstTry(RegisterModelVersionOperator):
    """Registers, then fails its first try: the retry must reuse the version."""

    def execute(self, context: Any) -> dict[str, Any]:
        record = super().execute(context)
        if context["ti"].try_number == 1:
            raise RuntimeError("failing after registration, to force a retry")
        return record


def test_retry_of_the_same_task_instance_returns_the_same_version(
    plain_client: MlflowClient,
) -> None:
    model = unique("retry")
    with DAG(unique("dag_retry"), schedule=None, start_date=START) as dag:
        RegisterThenFailOnFirstTry(
            task_id="register",
            model_name=model,
            model_uri="s3://bucket/retry-model",
            aliases=["staging"],
            retries=1,
            retry_delay=timedelta(seconds=0),
        )
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("register", -1): "success"}
    record = xcom_value(dag_run, "register")
    assert record["created"] is False
    assert record["version"] == "1"
    assert record["lineage"]["airflow.try_number"] == "1"  # the attempt that created it
    assert [v.version for v in plain_client.search_model_versions(f"name='{model}'")] == ["1"]


def test_mapped_task_registers_one_version_per_map_index(plain_client: MlflowClient) -> None:
    model = unique("mapped")
    with DAG(unique("dag_mapped"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator.partial(task_id="register", model_name=model).expand(
            model_uri=[f"s3://bucket/shard-{i}" for i in range(3)]
        )
    dag_run = run_dag(dag)
    records = [xcom_value(dag_run, "register", map_index=i) for i in range(3)]
    assert sorted(r["version"] for r in records) == ["1", "2", "3"]
    assert [r["lineage"]["airflow.map_index"] for r in records] == ["0", "1", "2"]
    assert [r["source"] for r in records] == [f"s3://bucket/shard-{i}" for i in range(3)]
    assert len(plain_client.search_model_versions(f"name='{model}'")) == 3


def test_every_templated_field_is_rendered(plain_client: MlflowClient) -> None:
    run_id = new_run(plain_client)
    with DAG(
        unique("dag_templates"),
        schedule=None,
        start_date=START,
        params={"suffix": "tpl", "run": run_id, "alias": "candidate"},
    ) as dag:
        RegisterModelVersionOperator(
            task_id="register",
            model_name="model-{{ params.suffix }}-{{ dag.dag_id | length }}",
            model_uri="runs:/{{ params.run }}/model",
            run_id="{{ params.run }}",
            description="trained in {{ run_id }}",
            tags={"airflow_run": "{{ run_id }}", "suffix": "{{ params.suffix }}"},
            aliases=["{{ params.alias }}"],
        )
    dag_run = run_dag(dag)
    record = xcom_value(dag_run, "register")
    assert record["model_name"] == f"model-tpl-{len(dag.dag_id)}"
    assert record["source"] == f"runs:/{run_id}/model"
    assert record["run_id"] == run_id
    assert record["tags"] == {"airflow_run": dag_run.run_id, "suffix": "tpl"}
    assert record["aliases"] == ["candidate"]
    version = plain_client.get_model_version(record["model_name"], record["version"])
    assert version.description == f"trained in {dag_run.run_id}"


def test_connection_secrets_reach_no_xcom_rendered_field_or_log(
    auth_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    password = auth_mlflow_server.passwords["alice"]
    use_connection("mlflow_alice", auth_mlflow_server.url, login="alice", password=password)
    caplog.set_level(logging.DEBUG)
    with DAG(unique("dag_secrets"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator(
            task_id="register",
            model_name=unique("secret"),
            model_uri="s3://bucket/m",
            tags={"conn": "{{ conn.mlflow_alice.host }}"},
            mlflow_conn_id="mlflow_alice",
        )
    dag_run = run_dag(dag)
    record = xcom_value(dag_run, "register")
    assert record["created"] is True
    with create_session() as session:
        rendered = session.query(RenderedTaskInstanceFields).filter_by(run_id=dag_run.run_id).one()
        rendered_text = json.dumps(rendered.rendered_fields)
    assert auth_mlflow_server.url in rendered_text  # the rendered fields were really read
    output = capsys.readouterr()
    for text in (json.dumps(record), rendered_text, caplog.text, output.out, output.err):
        assert password not in text


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"model_name": ""}, "model_name"),
        ({"model_name": "a/b"}, "model_name"),
        ({"model_uri": "ftp://x/y"}, "model_uri"),
        ({"model_uri": "runs:/only-run-id"}, "model_uri"),
        ({"tags": {"k": ["not", "a", "string"]}}, "tags"),
        ({"tags": {"k" * 300: "v"}}, "tags"),
        ({"tags": {"airflow.dag_id": "spoof"}}, "tags"),
        ({"tags": {"{{ params.key }}": "v"}}, "tags"),
        ({"aliases": ["prod env"]}, "aliases"),
        ({"aliases": ["latest"]}, "aliases"),
        ({"aliases": "staging"}, "aliases"),
        ({"await_registration_for": -5}, "await_registration_for"),
    ],
)
def test_bad_arguments_fail_at_dag_parse_naming_the_argument(
    kwargs: dict[str, Any], argument: str
) -> None:
    arguments = {"task_id": "register", "model_name": "m", "model_uri": "s3://b/m", **kwargs}
    with pytest.raises(ValueError, match=argument):
        RegisterModelVersionOperator(**arguments)


def test_lost_create_reply_with_airflow_retry_ends_with_exactly_one_version(
    fault_proxy: FaultProxy, use_connection: UseConnection, mlflow_server: MlflowServer
) -> None:
    """Try 1: the create commits, its reply is lost, and the look-up after it fails, so try 1
    fails. Try 2 (an Airflow retry of the same task instance) must find that version."""

    use_connection("mlflow_faulty", fault_proxy.url, timeout=2, max_retries=0)
    searches: list[dict[str, Any]] = []

    def garble_second_search(body: dict[str, Any]) -> dict[str, Any]:
        searches.append(body)
        return {"model_versions": "unreadable"} if len(searches) == 2 else body

    fault_proxy.add_fault("POST", "/model-versions/create", "drop_reply")
    fault_proxy.add_fault(
        "GET", "/model-versions/search", "rewrite_json", times=None, rewrite=garble_second_search
    )
    model = unique("lost")
    # An existing model: the fault targets the create of its version.
    mlflow_server.client().create_registered_model(model)
    with DAG(unique("dag_lost_reply"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator(
            task_id="register",
            model_name=model,
            model_uri="s3://bucket/lost",
            mlflow_conn_id="mlflow_faulty",
            retries=2,
            retry_delay=timedelta(seconds=0),
        )
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("register", -1): "success"}
    record = xcom_value(dag_run, "register")
    assert (record["version"], record["created"]) == ("1", False)
    found = mlflow_server.client().search_model_versions(f"name='{model}'")
    assert [v.version for v in found] == ["1"]
    assert len(searches) == 3  # try 1: before and after the create; try 2: the look-up
