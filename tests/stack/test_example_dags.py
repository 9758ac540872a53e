"""The shipped example DAGs, unchanged, on the stack: ``register_model`` trains a model, logs
it through the hook's client to the authenticated MLflow server (proxied artifacts) and
registers it as ``staging`` on a Celery worker; ``promote_on_new_version`` then promotes it.
(``backfill_registrations`` runs in ``test_backfill_on_workers.py``.) No process of the stack
has an ``MLFLOW_TRACKING_*`` variable: credentials come from the Airflow connection only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

if TYPE_CHECKING:
    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

MODEL_NAME = "iris-classifier"


def stack_process_environments(stack: StackApi) -> dict[str, set[str]]:
    """Command line to environment variable names of every running process of the stack
    (each service's process group, children included)."""
    groups = set(stack.state.pids.values())
    environments = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(process.pid) in groups:
                environments[" ".join(process.info["cmdline"] or [])] = set(process.environ())
        except (psutil.Error, ProcessLookupError):
            continue
    return environments


def test_example_dags_train_log_register_and_promote_on_the_stack(stack: StackApi) -> None:
    for dag_id in ("register_model", "promote_on_new_version"):
        stack.wait_for_dag(dag_id)

    run_id = stack.trigger("register_model")
    assert stack.wait_for_run("register_model", run_id) == "success"
    record = stack.xcom("register_model", run_id, "register")
    assert record["model_name"] == MODEL_NAME and record["aliases"] == ["staging"]
    assert record["created"] is True and float(record["tags"]["accuracy"]) > 0.8
    assert stack.aliases(MODEL_NAME)["staging"] == record["version"]
    # The model was logged through the proxied artifact store, as the `airflow` user.
    listed = stack.mlflow(
        "GET", "artifacts/list", params={"run_id": record["run_id"], "path": "model"}
    )
    assert "model/MLmodel" in {entry["path"] for entry in listed["files"]}
    artifacts = Path(stack.state.root) / "mlflow" / "artifacts"
    assert list(artifacts.rglob("MLmodel"))
    hosts = stack.query(
        "SELECT DISTINCT hostname FROM task_instance WHERE dag_id = %s AND run_id = %s",
        "register_model",
        run_id,
    )
    assert {host for (host,) in hosts} <= {"stack-worker-1", "stack-worker-2"}

    promote_run = stack.trigger("promote_on_new_version")
    assert stack.wait_for_run("promote_on_new_version", promote_run) == "success"
    assert stack.aliases(MODEL_NAME)["production"] == record["version"]

    environments = stack_process_environments(stack)
    assert len(environments) >= 8  # services, MLflow's workers, Celery's pool processes
    leaked = {
        command: sorted(n for n in names if n.startswith("MLFLOW_TRACKING_"))
        for command, names in environments.items()
        if any(n.startswith("MLFLOW_TRACKING_") for n in names)
    }
    assert leaked == {}
    workers = {c: n for c, n in environments.items() if "celery worker" in c}
    assert workers and all(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in names for names in workers.values()
    )
