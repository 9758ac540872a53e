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

"""What the receiver records, served by a real uvicorn process
(:class:`~tests.support.webhook_receiver.ReceiverServer`) on this session's metadata DB, reading
versions from a real MLflow server through the connection: a late alias delivery and a delivery
from another MLflow workspace record nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.aliases import MoveReason
from airflow_mlflow_registry.webhooks.shared_secret import secret_variable_key
from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.dag_runs import write_dag_to_db
from tests.support.model_versions import add_version, unique
from tests.support.webhook_delivery import alias_created, signed_delivery, version_created
from tests.support.webhook_receiver import ReceiverServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

SECRET = "test-webhook-secret-recording-0123"
CONN_ID = "mlflow_wh_default"  # no workspace field: the server's default workspace
TEAM_B_CONN_ID = "mlflow_wh_team_b"  # workspace "team-b"


@pytest.fixture(scope="module")
def receiver(
    mlflow_server: MlflowServer, airflow_db: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReceiverServer]:
    """The receiver with a secret for both connections, both pointing at ``mlflow_server``."""
    environment = {
        connection_env_var(CONN_ID): connection_json(mlflow_server.url),
        connection_env_var(TEAM_B_CONN_ID): connection_json(mlflow_server.url, workspace="team-b"),
    }
    for conn_id in (CONN_ID, TEAM_B_CONN_ID):
        environment[f"AIRFLOW_VAR_{secret_variable_key(conn_id).upper()}"] = SECRET
    server = ReceiverServer(tmp_path_factory.mktemp("receiver-recording"), environment)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def consumed_model(conn_id: str, model: str) -> str:
    """Write a DAG scheduled on ``model``'s asset to the metadata DB; return the asset's URI."""
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    asset = model_asset(conn_id, model)
    with DAG(f"consume_{model}", schedule=[asset]) as dag:
        EmptyOperator(task_id="consume")
    write_dag_to_db(dag)
    return asset.uri


def recorded(uri: str) -> list[dict[str, Any]]:
    """The payloads of the events recorded on asset ``uri``, newest first."""
    from airflow.utils.session import create_session

    from airflow_mlflow_registry.webhooks.recording import find_asset_id, recent_payloads

    with create_session() as session:
        asset_id = find_asset_id(session, uri)
        assert asset_id is not None, f"asset {uri} is not active"
        return recent_payloads(session, asset_id)


def test_late_alias_delivery_is_ignored_once_the_alias_has_moved_on(
    receiver: ReceiverServer, plain_client: MlflowClient
) -> None:
    model = unique("wh-alias")
    assert [add_version(plain_client, model) for _ in range(3)] == ["1", "2", "3"]
    uri = consumed_model(CONN_ID, model)
    plain_client.set_registered_model_alias(model, "champion", "2")
    late = signed_delivery(SECRET, alias_created(model, "champion", "2"))  # D1, delayed
    plain_client.set_registered_model_alias(model, "champion", "3")
    current = signed_delivery(SECRET, alias_created(model, "champion", "3"))  # D2
    answer = receiver.post(CONN_ID, *current)
    assert answer.json()["status"] == "recorded", answer.text
    answer = receiver.post(CONN_ID, *late)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored", answer.text
    assert "points at version 3" in answer.json()["detail"]
    assert [(p["event"], p["alias"], p["version"]) for p in recorded(uri)] == [
        ("alias_moved", "champion", "3")
    ]


def test_alias_move_events_carry_the_ledger_entry(
    receiver: ReceiverServer,
    plain_client: MlflowClient,
    mlflow_server: MlflowServer,
    use_connection: UseConnection,
) -> None:
    """The receiver adds the alias ledger's entry of the move to the event: who and why for a
    move the provider made (verified with the signing secret the api-server reads), seen and
    author unknown for a move made with a plain client."""
    model = unique("wh-ledger")
    assert [add_version(plain_client, model) for _ in range(2)] == ["1", "2"]
    uri = consumed_model(CONN_ID, model)
    use_connection("wh_ledger_mover", mlflow_server.url)
    hook = MlflowRegistryHook(mlflow_conn_id="wh_ledger_mover")
    reason = MoveReason(MoveKind.SET_ALIAS, {"metric": "auc", "metric_value": "0.93"})
    hook.set_model_version_alias(model, "champion", "1", reason)
    answer = receiver.post(CONN_ID, *signed_delivery(SECRET, alias_created(model, "champion", "1")))
    assert answer.json()["status"] == "recorded", answer.text
    plain_client.set_registered_model_alias(model, "champion", "2")
    answer = receiver.post(CONN_ID, *signed_delivery(SECRET, alias_created(model, "champion", "2")))
    assert answer.json()["status"] == "recorded", answer.text
    outside, moved = (p["ledger_entry"] for p in recorded(uri))
    assert (moved["kind"], moved["status"], moved["why"]) == (
        "set_alias",
        "verified",
        {"metric": "auc", "metric_value": "0.93"},
    )
    assert (outside["kind"], outside["by"], outside["status"], outside["from_version"]) == (
        "seen",
        "unknown",
        "verified",
        "1",
    )


def test_delivery_from_another_workspace_is_refused(
    receiver: ReceiverServer, plain_client: MlflowClient
) -> None:
    model = unique("wh-workspace")
    add_version(plain_client, model)
    uri = consumed_model(CONN_ID, model)
    for conn_id, workspace in [(CONN_ID, "team-b"), (TEAM_B_CONN_ID, None)]:
        fields = {"workspace": workspace} if workspace else {}
        answer = receiver.post(
            conn_id, *signed_delivery(SECRET, version_created(model, "1", **fields))
        )
        assert answer.status_code == 403, (conn_id, answer.text)
    assert recorded(uri) == []
    # The same delivery from the connection's own workspace is recorded.
    same = signed_delivery(SECRET, version_created(model, "1", workspace="default"))
    answer = receiver.post(CONN_ID, *same)
    assert answer.json()["status"] == "recorded", answer.text
    assert [(p["event"], p["version"]) for p in recorded(uri)] == [("new_version", "1")]
