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


"""``example_dags/rollback_on_failed_check.py``, as shipped, in a running Airflow (the shared
``airflow_deployment``: api-server, scheduler, dag-processor, triggerer) against a real
``mlflow server``: a promotion whose check fails is rolled back to the previous champion, and
the alias ledger shows the promotion and the rollback, each signed and by its task; a
promotion whose check passes stays."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.alias_ledger import EntryStatus, read_entries
from airflow_mlflow_registry.utils.signing import RecordSigner
from tests.conftest import REPO_ROOT
from tests.support.airflow_env import SIGNING_SECRET
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.support.airflow_deployment import AirflowDeployment
    from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DAG_ID = "rollback_on_failed_check"


def seeded(client: MlflowClient, challenger_accuracy: float) -> tuple[str, str, str]:
    """A model whose ``champion`` (version 1) passes the check and whose ``challenger``
    (version 2) has ``challenger_accuracy``; both aliases set with a plain client."""
    model = unique("rollback-example")
    champion = add_version(client, model, {"accuracy": 0.97}, aliases=["champion"])
    challenger = add_version(
        client, model, {"accuracy": challenger_accuracy}, aliases=["challenger"]
    )
    return model, champion, challenger


def test_a_failed_check_rolls_champion_back_and_the_ledger_shows_both_moves(
    airflow_deployment: AirflowDeployment, mlflow_server: MlflowServer
) -> None:
    client = mlflow_server.client()
    airflow_deployment.add_dag(REPO_ROOT / "example_dags" / f"{DAG_ID}.py", DAG_ID)
    failing, previous, promoted = seeded(client, challenger_accuracy=0.5)
    passing, _, good = seeded(client, challenger_accuracy=0.95)
    failing_run = airflow_deployment.trigger(DAG_ID, unique("fails"), {"model_name": failing})
    passing_run = airflow_deployment.trigger(DAG_ID, unique("passes"), {"model_name": passing})
    for run_id in (failing_run, passing_run):
        assert airflow_deployment.wait_for_run(DAG_ID, run_id, timeout=600) == "success"

    def states(run_id: str) -> list[str]:
        return [
            airflow_deployment.task_instance(DAG_ID, run_id, task)["state"]
            for task in ("promote", "post_promotion_check", "rollback")
        ]

    assert states(failing_run) == ["success", "failed", "success"]
    assert states(passing_run) == ["success", "success", "skipped"]
    assert client.get_model_version_by_alias(failing, "champion").version == previous
    assert client.get_model_version_by_alias(passing, "champion").version == good

    record = airflow_deployment.xcom(DAG_ID, failing_run, "rollback")
    assert (record["version"], record["previous_version"]) == (previous, promoted)
    entries = read_entries(
        failing, client.get_registered_model(failing).tags, RecordSigner(SIGNING_SECRET)
    )
    champion = [e for e in entries if e.alias == "champion"]
    assert all(e.status is EntryStatus.VERIFIED for e in champion)
    # The plain client's first champion is recorded as seen by the promotion, before it moves.
    assert [(e.kind, e.from_version, e.to_version) for e in champion] == [
        ("seen", None, previous),
        ("set_alias", previous, promoted),
        ("rollback", promoted, previous),
    ]
    _, promotion, rollback = champion
    assert promotion.by == f"{DAG_ID}/{failing_run}/promote/try 1"
    assert rollback.by == f"{DAG_ID}/{failing_run}/rollback/try 1"
    assert rollback.why == {
        "reason": f"post_promotion_check failed in run {failing_run}",
        "rolled_back_from": promoted,
        "steps": "1",
    }
    assert record["ledger_entry"]["entry_id"] == rollback.entry_id
