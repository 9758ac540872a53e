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

"""The shipped example DAGs run as shipped, end to end, against a real `mlflow server`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum
import pytest

from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.examples import load_example

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer


def model_asset_events(asset_uri: str, dag_id: str) -> list[dict[str, Any]]:
    """``extra`` of every event DAG ``dag_id`` recorded in the metadata DB for the asset
    ``asset_uri``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == asset_uri, AssetEvent.source_dag_id == dag_id)
            .order_by(AssetEvent.id)
            .all()
        )
        return [dict(row.extra) for row in rows]


@pytest.mark.usefixtures("airflow_db")
def test_register_model_example_trains_logs_and_registers_as_staging(
    mlflow_server: MlflowServer, use_connection: UseConnection, tmp_path: Path
) -> None:
    import mlflow.artifacts
    import yaml

    use_connection("mlflow_default", mlflow_server.url)
    example = load_example("register_model")
    dag = example.register_model()
    # The same logical and run-after dates give the same run id: the second run re-runs the
    # same task instances.
    same_run = {"logical_date": pendulum.now("UTC").start_of("second")}
    same_run["run_after"] = same_run["logical_date"]
    dag_run = run_dag(dag, **same_run)
    assert set(task_states(dag_run).values()) == {"success"}
    record = xcom_value(dag_run, "register")
    assert record["model_name"] == example.MODEL_NAME
    assert record["aliases"] == ["staging"] and record["created"] is True
    # The accuracy is a run metric (what the promotions compare), not a version tag.
    assert "accuracy" not in record["tags"]
    client = mlflow_server.client()
    assert client.get_run(record["run_id"]).data.metrics["accuracy"] > 0.8
    staging = client.get_model_version_by_alias(example.MODEL_NAME, "staging")
    assert staging.version == record["version"]
    # The registered source is the run's logged model (hook.log_model), holding a real,
    # loadable model with a signature naming the four iris columns and the predicted label,
    # and an input example.
    assert record["source"].startswith("models:/m-")
    logged = client.get_logged_model(record["source"].removeprefix("models:/"))
    assert logged.source_run_id == record["run_id"]
    artifacts = {a.path for a in client.list_logged_model_artifacts(logged.model_id)}
    assert {"MLmodel", "input_example.json"} <= artifacts
    mlmodel = yaml.safe_load(
        Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"{logged.artifact_location}/MLmodel",
                dst_path=str(tmp_path),
                tracking_uri=mlflow_server.url,
            )
        ).read_text()
    )
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert [column["name"] for column in inputs] == [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
    assert json.loads(mlmodel["signature"]["outputs"])
    assert mlmodel["saved_input_example_info"]["artifact_path"] == "input_example.json"

    # The register task emitted the model's asset once. Re-running the whole DAG run retrains
    # (a new run, so a new source): the register task registers a new version that supersedes
    # the first, moves `staging` to it and emits one more asset event (a real change).
    asset_uri = f"mlflow://airflow_connection/mlflow_default/{example.MODEL_NAME}"
    assert [e["version"] for e in model_asset_events(asset_uri, dag.dag_id)] == [record["version"]]
    rerun = run_dag(dag, **same_run)
    assert rerun.run_id == dag_run.run_id
    retrained = xcom_value(rerun, "register")
    assert retrained["created"] is True
    assert retrained["run_id"] != record["run_id"]
    assert int(retrained["version"]) == int(record["version"]) + 1
    assert retrained["lineage"]["airflow.supersedes_version"] == record["version"]
    assert (
        client.get_model_version_by_alias(example.MODEL_NAME, "staging").version
        == (retrained["version"])
    )
    assert [e["version"] for e in model_asset_events(asset_uri, dag.dag_id)] == [
        record["version"],
        retrained["version"],
    ]


@pytest.mark.usefixtures("airflow_db")
def test_register_model_example_runs_against_basic_auth_server_with_proxied_artifacts(
    auth_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As shipped, with ``mlflow_default`` holding alice's credentials and no
    ``MLFLOW_TRACKING_*`` variable: the model is uploaded through the server's artifact proxy
    and registered (the server answers 401 to any request without credentials)."""
    from airflow_mlflow_registry.hooks import MlflowRegistryHook

    for name in [key for key in os.environ if key.startswith("MLFLOW_TRACKING_")]:
        monkeypatch.delenv(name)
    server = auth_mlflow_server
    use_connection("mlflow_default", server.url, **server.sign_in_as("alice"))
    example = load_example("register_model")

    dag_run = run_dag(example.register_model())

    assert set(task_states(dag_run).values()) == {"success"}
    record = xcom_value(dag_run, "register")
    assert record["aliases"] == ["staging"] and record["created"] is True
    client = MlflowRegistryHook().get_conn()
    logged = client.get_logged_model(record["source"].removeprefix("models:/"))
    assert logged.artifact_location.startswith("mlflow-artifacts:")
    assert "MLmodel" in {a.path for a in client.list_logged_model_artifacts(logged.model_id)}
