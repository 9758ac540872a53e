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

"""The shipped `example_dags/promote_on_new_version.py`, as shipped, against a real
`mlflow server`: its asset schedule, and its guarded promotion of `staging` to `production`."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pendulum
import pytest
from airflow.sdk import DAG, Asset

from airflow_mlflow_registry.operators import RegisterModelVersionOperator
from tests.conftest import REPO_ROOT
from tests.support.airflow_env import connection_env_var
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.examples import load_example
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_example_imports_without_importing_mlflow_or_a_connection(
    airflow_env: dict[str, str],
) -> None:
    """Imported in a fresh process where ``mlflow_default`` is not defined."""
    env = {k: v for k, v in airflow_env.items() if k != connection_env_var("mlflow_default")}
    code = (
        "import runpy, sys; "
        f"runpy.run_path({str(REPO_ROOT / 'example_dags' / 'promote_on_new_version.py')!r}); "
        "print(sorted(m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def asset_uris(condition: object) -> set[str]:
    """URIs of the assets in a schedule's asset condition (nested any/all included)."""
    if isinstance(condition, Asset):
        return {condition.uri}
    return set().union(*(asset_uris(item) for item in getattr(condition, "objects", ())))


def test_shipped_dags_cannot_trigger_each_other_in_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The asset graph of example_dags/ as a real DagBag parses it: a DAG triggers another
    when one of its tasks' outlets is in the other's schedule. The only edge is
    register_model -> promote_on_new_version, and no DAG can reach itself. (That an
    unchanged re-run of `register` emits nothing is shown by a real run in
    test_example_dags.py.) Parsing reads no connection: none is defined, and a look-up
    fails the test."""
    from airflow.dag_processing.dagbag import DagBag

    from airflow_mlflow_registry.version_compat import BaseHook

    def no_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"connection looked up while parsing: {args} {kwargs}")

    monkeypatch.delenv(connection_env_var("mlflow_default"), raising=False)
    monkeypatch.setattr(BaseHook, "get_connection", no_lookup)
    bag = DagBag(dag_folder=str(REPO_ROOT / "example_dags"))
    assert bag.import_errors == {}
    assert set(bag.dags) == {
        "register_model",
        "promote_on_new_version",
        "champion_if_better",
        "backfill_registrations",
        "model_retention",
        "promote_across_registries",
        "on_model_registry_events",
        "approve_and_promote",
        "rollback_on_failed_check",
    }
    emits = {
        dag_id: {o.uri for task in dag.tasks for o in task.outlets if isinstance(o, Asset)}
        for dag_id, dag in bag.dags.items()
    }
    consumes = {
        dag_id: asset_uris(getattr(dag.timetable, "asset_condition", None))
        for dag_id, dag in bag.dags.items()
    }
    triggers = {
        (producer, consumer)
        for producer in bag.dags
        for consumer in bag.dags
        if emits[producer] & consumes[consumer]
    }
    assert triggers == {("register_model", "promote_on_new_version")}

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        frontier = [start]
        while frontier:
            current = frontier.pop()
            for producer, consumer in triggers:
                if producer == current and consumer not in seen:
                    seen.add(consumer)
                    frontier.append(consumer)
        return seen

    assert all(dag_id not in reachable(dag_id) for dag_id in bag.dags)


def test_promotes_staging_only_when_better_and_is_queued_by_a_registration(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    use_connection("mlflow_default", mlflow_server.url)
    client: MlflowClient = mlflow_server.client()
    example = load_example("promote_on_new_version")
    model = example.MODEL_NAME
    dag = example.promote_on_new_version()
    assert example.MODEL_ASSET.uri == f"mlflow://airflow_connection/mlflow_default/{model}"
    assert list(dag.timetable.asset_condition.objects) == [example.MODEL_ASSET]

    production = add_version(client, model, {"accuracy": 0.80}, aliases=["production"])
    better = add_version(client, model, {"accuracy": 0.90}, aliases=["staging"])
    dag_run = run_dag(dag)
    record = xcom_value(dag_run, "promote")
    assert (record["version"], record["previous_version"]) == (better, production)
    assert client.get_model_version_by_alias(model, "production").version == better

    # A registration that emits the model's asset queues a run of the (unpaused) example DAG.
    with create_session() as session:
        session.query(DagModel).filter_by(dag_id=dag.dag_id).update({"is_paused": False})
    experiment_id = client.create_experiment(unique("exp"))
    worse_run = client.create_run(experiment_id).info.run_id
    client.log_metric(worse_run, "accuracy", 0.5)
    with DAG(unique("dag_register"), schedule=None, start_date=pendulum.now("UTC")) as producer:
        RegisterModelVersionOperator(
            task_id="register",
            model_name=model,
            model_uri=f"runs:/{worse_run}/model",
            aliases=["staging"],
            emit_asset=True,
        )
    run_dag(producer)
    with create_session() as session:
        queued = session.query(AssetDagRunQueue).filter_by(target_dag_id=dag.dag_id).count()
    assert queued == 1

    # The worse staging version is not promoted: the task is skipped.
    assert task_states(run_dag(dag)) == {("promote", -1): "skipped"}
    assert client.get_model_version_by_alias(model, "production").version == better
