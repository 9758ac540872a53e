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

"""The provider (this venv's newest MLflow client) against older MLflow tracking servers.

Each server of ``.ci/matrix/servers.txt`` (the oldest supported 3.x, MLflow 3.0, and MLflow
2.22, which many teams still run) runs from its own pinned venv, built and cached by
``.ci/matrix/server-venv.sh``. Registration of ``runs:/`` and artifact URIs, aliases, the
sensor and the run search work on both; MLflow 3's logged models exist only on 3.x, and on
2.22 every call that needs them fails at once with one message naming the server's version.

Marker ``servers``: the matrix tier (``.ci/matrix.sh``) runs this file; the default suite
leaves it out (two more server venvs and servers).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pendulum
import pytest
import requests
from airflow.sdk import DAG

from airflow_mlflow_registry.exceptions import MlflowServerTooOldError
from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.operators import (
    RegisterModelVersionOperator,
    SetModelVersionAliasOperator,
)
from airflow_mlflow_registry.sensors import ModelVersionSensor
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.mlflow_server import MlflowServer
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mlflow import MlflowClient

    from tests.conftest import UseConnection

pytestmark = [pytest.mark.servers, pytest.mark.usefixtures("airflow_db")]
REPO_ROOT = Path(__file__).resolve().parents[2]
START = pendulum.datetime(2026, 1, 1, tz="UTC")
UPGRADE_ADVICE = "upgrade the tracking server to MLflow 3.x"


def server_names() -> list[str]:
    """The names of ``.ci/matrix/servers.txt``, in file order."""
    lines = (REPO_ROOT / ".ci" / "matrix" / "servers.txt").read_text().splitlines()
    return [line.split()[0] for line in lines if line.strip() and line[0] != "#"]


@dataclass(frozen=True)
class OlderServer:
    server: MlflowServer
    version: str  # what the server answers on GET /version
    client: MlflowClient  # a plain client of the server, for test data and checks

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


@pytest.fixture(scope="module", params=server_names())
def older_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OlderServer]:
    """One ``mlflow server`` from the named server venv (built or reused first)."""

    python = subprocess.run(
        ["bash", str(REPO_ROOT / ".ci" / "matrix" / "server-venv.sh"), request.param],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    server = MlflowServer(tmp_path_factory.mktemp(request.param), python=python)
    server.start()
    try:
        server.wait_until_ready()
        version = requests.get(f"{server.url}/version", timeout=30).text.strip()
        yield OlderServer(server, version, server.client())
    finally:
        server.stop()


@pytest.fixture
def registry(older_server: OlderServer, use_connection: UseConnection) -> OlderServer:
    """``older_server``, with ``mlflow_default`` pointing at it."""
    use_connection("mlflow_default", older_server.server.url)
    return older_server


def seed_runs(registry: OlderServer) -> tuple[str, dict[float, str]]:
    """An experiment with three runs logging ``accuracy``; on a 3.x server the best run also
    has a logged model named ``model``. Returns the experiment name and accuracy to run id."""
    client = registry.client
    experiment = unique("exp")
    experiment_id = client.create_experiment(experiment)
    runs = {}
    for accuracy in (0.6, 0.8, 0.7):
        run_id = client.create_run(experiment_id).info.run_id
        client.log_metric(run_id, "accuracy", accuracy)
        runs[accuracy] = run_id
    if registry.major >= 3:
        client.create_logged_model(experiment_id, name="model", source_run_id=runs[0.8])
    return experiment, runs


def test_dag_registers_run_and_artifact_uris_senses_the_alias_and_promotes_the_best_run(
    registry: OlderServer,
) -> None:
    experiment, runs = seed_runs(registry)
    artifact_uri = registry.client.get_run(runs[0.6]).info.artifact_uri
    model, artifact_model = unique("older"), unique("older-artifacts")
    with DAG(unique("dag_older"), schedule=None, start_date=START) as dag:
        register = RegisterModelVersionOperator(
            task_id="register_run",
            model_name=model,
            model_uri=f"runs:/{runs[0.6]}/model",
            tags={"team": "ml"},
            aliases=["staging"],
        )
        RegisterModelVersionOperator(
            task_id="register_artifacts",
            model_name=artifact_model,
            model_uri=f"{artifact_uri}/model",
        )
        wait = ModelVersionSensor(
            task_id="wait_for_staging",
            model_name=model,
            alias="staging",
            deferrable=True,
            poke_interval=1,
            timeout=120,
        )
        search = RegisterModelVersionOperator(
            task_id="register_best_run",
            model_name=model,
            experiment_name=experiment,
            run_filter="metrics.accuracy > 0.5",
            order_by=["metrics.accuracy DESC"],
        )
        promote = SetModelVersionAliasOperator(
            task_id="promote", model_name=model, alias="production", version="2"
        )
        register >> wait >> search >> promote
    dag_run = run_dag(dag)

    assert set(task_states(dag_run).values()) == {"success"}
    first = xcom_value(dag_run, "register_run")
    assert (first["version"], first["aliases"], first["tags"]) == ("1", ["staging"], {"team": "ml"})
    assert xcom_value(dag_run, "wait_for_staging")["version"] == "1"
    artifacts = xcom_value(dag_run, "register_artifacts")
    assert (artifacts["version"], artifacts["source"]) == ("1", f"{artifact_uri}/model")
    best = xcom_value(dag_run, "register_best_run")
    assert (best["version"], best["run_id"]) == ("2", runs[0.8])
    if registry.major >= 3:
        assert best["source"].startswith("models:/m-")  # the best run's logged model
    else:  # no logged models on MLflow 2: the run's artifact path
        assert best["source"] == f"runs:/{runs[0.8]}/model"
    assert registry.client.get_model_version_by_alias(model, "staging").version == "1"
    assert registry.client.get_model_version_by_alias(model, "production").version == "2"
    assert registry.client.get_model_version(model, "1").tags["team"] == "ml"


def test_logged_models_work_on_mlflow_3_and_fail_at_once_naming_the_version_on_mlflow_2(
    registry: OlderServer,
) -> None:
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    client = registry.client
    run_id = client.create_run(client.create_experiment(unique("exp"))).info.run_id
    hook = MlflowRegistryHook()
    model = unique("logged")
    fitted = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    if registry.major >= 3:
        logged = hook.log_model(mlflow.sklearn, fitted, run_id=run_id)
        record = hook.register_model_version(model, logged["model_uri"])
        assert (record["source"], record["run_id"]) == (logged["model_uri"], run_id)
        stored = client.get_model_version(model, "1")
        assert (stored.source, stored.run_id) == (logged["model_uri"], run_id)
        return
    with pytest.raises(MlflowServerTooOldError) as logging_error:
        hook.log_model(mlflow.sklearn, fitted, run_id=run_id)
    with pytest.raises(MlflowServerTooOldError) as registering_error:
        hook.register_model_version(model, "models:/m-0123456789abcdef0123456789abcdef")
    for error in (logging_error.value, registering_error.value):
        assert error.server_version == registry.version
        assert f"MLflow {registry.version}" in str(error) and UPGRADE_ADVICE in str(error)
    assert "CreateLoggedModel" in str(logging_error.value)
    assert "models:/m-0123456789abcdef0123456789abcdef" in str(registering_error.value)
    assert client.search_model_versions(f"name = '{model}'") == []


def test_a_workspace_on_a_server_before_workspaces_fails_naming_the_cause(
    registry: OlderServer, use_connection: UseConnection
) -> None:
    """Servers before MLflow 3.10 ignore the workspace header: a connection naming a workspace
    there would silently use the one registry, so the client refuses at its first request."""
    from airflow_mlflow_registry.exceptions import MlflowWorkspaceError
    from airflow_mlflow_registry.hooks import MlflowRegistryHook

    use_connection("old_workspace", registry.server.url, workspace="team-a")
    hook = MlflowRegistryHook(mlflow_conn_id="old_workspace")

    with pytest.raises(MlflowWorkspaceError, match="does not have workspaces enabled"):
        hook.get_conn().search_registered_models(max_results=1)
    # Without a workspace, the same server serves the connection (the header is sent empty).
    assert isinstance(MlflowRegistryHook().get_conn().search_registered_models(max_results=1), list)
