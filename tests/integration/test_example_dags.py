"""The shipped example DAGs run as shipped, end to end, against a real `mlflow server`."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO_ROOT
from tests.support.dag_runs import run_dag, task_states, xcom_value

if TYPE_CHECKING:
    from types import ModuleType

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer


def load_example(name: str) -> ModuleType:
    path = REPO_ROOT / "example_dags" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_dags_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.usefixtures("airflow_db")
def test_register_model_example_trains_logs_and_registers_as_staging(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    from mlflow import MlflowClient

    use_connection("mlflow_default", mlflow_server.url)
    example = load_example("register_model")
    dag = example.register_model()
    dag_run = run_dag(dag)
    assert set(task_states(dag_run).values()) == {"success"}
    record = xcom_value(dag_run, "register")
    assert record["model_name"] == example.MODEL_NAME
    assert record["aliases"] == ["staging"] and record["created"] is True
    assert float(record["tags"]["accuracy"]) > 0.8
    client = MlflowClient(tracking_uri=mlflow_server.url)
    staging = client.get_model_version_by_alias(example.MODEL_NAME, "staging")
    assert staging.version == record["version"]
    # The registered source holds a real, loadable model artifact.
    artifacts = {a.path for a in client.list_artifacts(record["run_id"], "model")}
    assert "model/MLmodel" in artifacts
