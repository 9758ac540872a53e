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

"""The shipped example DAGs, unchanged, on the stack: ``register_model`` trains a model, logs
it through the hook's client to the authenticated MLflow server (proxied artifacts) and
registers it as ``staging`` on a Celery worker; the model's asset event then starts
``promote_on_new_version``, which promotes it; ``model_retention``, triggered as shipped,
previews and applies its rule as the connection's user and keeps the fresh, aliased version.
(``backfill_registrations`` runs in ``test_backfill_on_workers.py``; that no stack process has
an ``MLFLOW_TRACKING_*`` variable is checked in ``test_process_environments.py``.)"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.stack import WORKERS

if TYPE_CHECKING:
    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

MODEL_NAME = "iris-classifier"


def test_example_dags_train_log_register_promote_and_retain_on_the_stack(stack: StackApi) -> None:
    for dag_id in ("register_model", "promote_on_new_version"):
        stack.wait_for_dag(dag_id)

    run_id = stack.trigger("register_model")
    assert stack.wait_for_run("register_model", run_id) == "success"
    record = stack.xcom("register_model", run_id, "register")
    assert record["model_name"] == MODEL_NAME and record["aliases"] == ["staging"]
    assert record["created"] is True and "accuracy" not in record["tags"]
    assert stack.aliases(MODEL_NAME)["staging"] == record["version"]
    # The accuracy is a metric of the training run (what the promotion compares).
    run = stack.mlflow("GET", "runs/get", params={"run_id": record["run_id"]})["run"]
    metrics = {metric["key"]: metric["value"] for metric in run["data"]["metrics"]}
    assert metrics["accuracy"] > 0.8
    # The model was logged (hook.log_model) through the proxied artifact store, as the
    # `airflow` user: the registered source is the run's logged model.
    assert record["source"].startswith("models:/m-")
    artifacts = Path(stack.state.root) / "mlflow" / "artifacts"
    assert list(artifacts.rglob("MLmodel"))
    # Both tasks ran on the stack's Celery workers (which one is Celery's choice; spreading
    # over both workers is asserted by the backfill test).
    hosts = stack.query(
        "SELECT task_id, hostname FROM task_instance WHERE dag_id = %s AND run_id = %s",
        "register_model",
        run_id,
    )
    assert sorted(task for task, _ in hosts) == ["register", "train_and_log"]
    assert {host for _, host in hosts} <= {f"stack-{worker}" for worker in WORKERS}

    # `register` emitted the model's asset: the scheduler starts the promotion DAG on it.
    promote_run = stack.wait_for_first_run("promote_on_new_version")
    assert stack.wait_for_run("promote_on_new_version", promote_run) == "success"
    assert stack.aliases(MODEL_NAME)["production"] == record["version"]

    # Retention as shipped (not a dry run): nothing of the model is 30 days old, so it
    # examines the version and deletes nothing.
    stack.wait_for_dag("model_retention")
    retention_run = stack.trigger("model_retention")
    assert stack.wait_for_run("model_retention", retention_run) == "success"
    preview = stack.xcom("model_retention", retention_run, "preview")
    deletion = stack.xcom("model_retention", retention_run, "delete")
    assert (preview["dry_run"], deletion["dry_run"]) == (True, False)
    assert preview["examined"] == deletion["examined"] == len(stack.model_versions(MODEL_NAME))
    assert preview["would_delete"] == deletion["deleted"] == []
    assert stack.aliases(MODEL_NAME) == {
        "staging": record["version"],
        "production": record["version"],
    }
