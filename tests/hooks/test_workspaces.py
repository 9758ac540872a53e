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

"""MLflow workspaces per connection, against a real ``mlflow server --enable-workspaces``
(SQLite store, basic auth, default permission NO_PERMISSIONS): ``alice`` may use workspace
``team-a`` only, ``bob`` ``team-b`` only (``workspaces_mlflow_server``).

MLflow chooses the workspace per process (``MLFLOW_WORKSPACE``, ``mlflow.set_workspace``); each
connection's client names its own in every request instead. What landed where is read back as
the admin with plain ``requests`` naming the workspace explicitly, not through the code under
test.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_mlflow_registry.exceptions import MlflowWorkspaceError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger
from tests.support.bearer_proxy import ForwardingProxy
from tests.support.model_versions import unique
from tests.support.trigger_runner import RunningTrigger, polls, wait_until

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

TEAMS = {"alice": "team-a", "bob": "team-b"}
THREADS = 20
VERSIONS_PER_THREAD = 1
SEARCH = "/api/2.0/mlflow/model-versions/search"


def use_team_connection(
    server: MlflowServer, use_connection: UseConnection, user: str, url: str | None = None
) -> str:
    """Connection ``ws_<user>``: ``user`` in the user's workspace, at ``url`` (the server)."""
    conn_id = f"ws_{user}"
    use_connection(conn_id, url or server.url, **server.sign_in_as(user), workspace=TEAMS[user])
    return conn_id


@pytest.fixture
def team_hooks(
    workspaces_mlflow_server: MlflowServer, use_connection: UseConnection
) -> dict[str, MlflowRegistryHook]:
    """A hook per user of ``TEAMS``, each on its own connection in the user's workspace."""
    return {
        user: MlflowRegistryHook(
            mlflow_conn_id=use_team_connection(workspaces_mlflow_server, use_connection, user)
        )
        for user in TEAMS
    }


def versions_in(server: MlflowServer, workspace: str, model_name: str) -> list[dict[str, Any]]:
    """Every version of ``model_name`` in ``workspace``, as the admin sees it."""
    response = requests.get(
        f"{server.url}{SEARCH}",
        params={"filter": f"name = '{model_name}'", "max_results": 1000},
        headers={"X-MLFLOW-WORKSPACE": workspace},
        timeout=30,
        **server.admin_request_options(),
    )
    response.raise_for_status()
    versions: list[dict[str, Any]] = response.json().get("model_versions", [])
    return versions


def tag(version: dict[str, Any], key: str) -> str | None:
    return next((t["value"] for t in version.get("tags", []) if t["key"] == key), None)


def test_two_workspaces_from_20_threads_in_one_process_never_cross(
    workspaces_mlflow_server: MlflowServer, team_hooks: dict[str, MlflowRegistryHook]
) -> None:
    server, hooks = workspaces_mlflow_server, team_hooks
    model = unique("shared-name")
    for hook in hooks.values():  # the same model name in both workspaces
        hook.get_conn().create_registered_model(model)
    start = threading.Barrier(THREADS)
    windows: dict[str, list[tuple[float, float]]] = {user: [] for user in TEAMS}

    def work(user: str, thread: int) -> None:
        client = hooks[user].get_conn()
        start.wait(timeout=60)
        began = time.monotonic()
        for index in range(VERSIONS_PER_THREAD):
            client.create_model_version(
                model, f"s3://bucket/{user}/{thread}/{index}", tags={"writer": user}
            )
        windows[user].append((began, time.monotonic()))

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [
            pool.submit(work, user, thread)
            for thread in range(THREADS // len(TEAMS))
            for user in TEAMS
        ]
        for future in futures:
            future.result(timeout=300)

    for user, workspace in TEAMS.items():
        versions = versions_in(server, workspace, model)
        assert len(versions) == THREADS // len(TEAMS) * VERSIONS_PER_THREAD
        assert {tag(version, "writer") for version in versions} == {user}
        assert all(f"/{user}/" in version["source"] for version in versions)
    assert versions_in(server, "default", model) == []
    # The two connections' requests overlapped in time.
    assert any(
        a_start < b_end and b_start < a_end
        for a_start, a_end in windows["alice"]
        for b_start, b_end in windows["bob"]
    )


def test_exactly_once_lookup_is_scoped_to_the_workspace(
    workspaces_mlflow_server: MlflowServer, team_hooks: dict[str, MlflowRegistryHook]
) -> None:
    server, hooks = workspaces_mlflow_server, team_hooks
    model = unique("keyed")
    first = {
        user: hook.register_model_version(
            model, f"s3://bucket/{user}/model", idempotency_key="same-key"
        )
        for user, hook in hooks.items()
    }
    again = hooks["alice"].register_model_version(
        model, "s3://bucket/alice/model", idempotency_key="same-key"
    )

    assert [record["created"] for record in first.values()] == [True, True]
    assert [record["workspace"] for record in first.values()] == list(TEAMS.values())
    assert (again["created"], again["version"]) == (False, first["alice"]["version"])
    for user, workspace in TEAMS.items():
        [version] = versions_in(server, workspace, model)
        assert version["version"] == first[user]["version"]
        assert version["source"] == f"s3://bucket/{user}/model"


def test_event_watch_in_one_workspace_ignores_versions_in_another(
    workspaces_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    server = workspaces_mlflow_server
    model = unique("watched")
    bob = MlflowRegistryHook(mlflow_conn_id=use_team_connection(server, use_connection, "bob"))
    with ForwardingProxy(server.url) as proxy:
        alice = MlflowRegistryHook(
            mlflow_conn_id=use_team_connection(server, use_connection, "alice", proxy.url)
        )
        for hook in (alice, bob):
            hook.get_conn().create_registered_model(model)
        trigger = MlflowRegistryEventTrigger(
            model_name=model, mlflow_conn_id="ws_alice", poll_interval=0.3
        )
        with RunningTrigger(trigger) as running:
            wait_until(lambda: polls(proxy, SEARCH) >= 2, "two polls")
            for index in range(2):
                bob.get_conn().create_model_version(model, f"s3://bucket/bob/{index}")
            seen = polls(proxy, SEARCH)
            wait_until(lambda: polls(proxy, SEARCH) >= seen + 3, "three more polls")
            ignored = list(running.payloads)
            alice.get_conn().create_model_version(model, "s3://bucket/alice/0")
            wait_until(lambda: len(running.payloads) == 1, "the version in team-a")
            payloads = list(running.payloads)

    assert ignored == []
    assert len(versions_in(server, "team-b", model)) == 2
    assert [(p["version"], p["source"]) for p in payloads] == [("1", "s3://bucket/alice/0")]


def test_hostile_process_workspace_is_ignored(
    workspaces_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``MLFLOW_WORKSPACE`` and ``mlflow.set_workspace``'s context variable name team-b: the
    team-a connection still writes to team-a, and a connection without a workspace to the
    default workspace."""
    from mlflow.utils import workspace_context

    server = workspaces_mlflow_server
    model = unique("hostile")
    use_connection(
        "ws_admin", server.url, login=server.admin_username, password=server.admin_password
    )
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-b")
    token = workspace_context._WORKSPACE.set("team-b")
    try:
        alice = MlflowRegistryHook(
            mlflow_conn_id=use_team_connection(server, use_connection, "alice")
        )
        admin = MlflowRegistryHook(mlflow_conn_id="ws_admin")
        for user, hook in (("alice", alice), ("admin", admin)):
            client = hook.get_conn()
            client.create_registered_model(model)
            client.create_model_version(model, f"s3://bucket/{user}/model")
    finally:
        workspace_context._WORKSPACE.reset(token)

    assert [v["source"] for v in versions_in(server, "team-a", model)] == [
        "s3://bucket/alice/model"
    ]
    assert [v["source"] for v in versions_in(server, "default", model)] == [
        "s3://bucket/admin/model"
    ]
    assert versions_in(server, "team-b", model) == []


def test_workspace_on_a_server_without_workspaces_or_missing_fails_clearly(
    workspaces_mlflow_server: MlflowServer,
    mlflow_server: MlflowServer,
    use_connection: UseConnection,
) -> None:
    use_connection("ws_disabled", mlflow_server.url, workspace="team-a")
    use_connection(
        "ws_missing",
        workspaces_mlflow_server.url,
        **workspaces_mlflow_server.sign_in_as("alice"),
        workspace="team-x",
    )

    with pytest.raises(MlflowWorkspaceError, match="does not have workspaces enabled"):
        MlflowRegistryHook(mlflow_conn_id="ws_disabled").get_conn().search_registered_models()
    with pytest.raises(MlflowWorkspaceError, match="'team-x' does not exist"):
        MlflowRegistryHook(mlflow_conn_id="ws_missing").get_conn().search_registered_models()
    ok, message = MlflowRegistryHook(mlflow_conn_id="ws_missing").test_connection()
    assert not ok
    assert "'team-x' does not exist" in message


def test_cli_uses_the_connection_workspace_or_the_workspace_option(
    workspaces_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    airflow_env: dict[str, str],
) -> None:
    from tests.support.cli import run_cli_in_process

    server = workspaces_mlflow_server
    model = unique("cli")
    client = MlflowRegistryHook(
        mlflow_conn_id=use_team_connection(server, use_connection, "alice")
    ).get_conn()
    client.create_registered_model(model)
    client.create_model_version(model, "s3://bucket/alice/cli")
    admin = {"login": server.admin_username, "password": server.admin_password}
    use_connection("ws_admin", server.url, **admin)
    get = ["get-version", model, "1", "--json"]

    by_connection, by_option, by_default = run_cli_in_process(
        {**airflow_env, **os.environ},
        [*get, "--conn-id", "ws_alice"],
        [*get, "--conn-id", "ws_admin", "--workspace", "team-a"],
        [*get, "--conn-id", "ws_admin"],
    )

    assert by_connection.json()["source"] == by_option.json()["source"] == "s3://bucket/alice/cli"
    assert by_default.code == 1  # the default workspace has no such model
    assert model in by_default.stderr


def test_webhooks_are_created_in_the_connection_workspace(
    workspaces_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """MLflow's webhook API has its own request path in the registry store: it goes through
    the connection's transport too. (MLflow lets only admins manage webhooks.)"""
    from mlflow.entities.webhook import WebhookAction, WebhookEntity, WebhookEvent

    server = workspaces_mlflow_server
    name = unique("hook")
    use_connection(
        "ws_admin_a",
        server.url,
        login=server.admin_username,
        password=server.admin_password,
        workspace="team-a",
    )
    client = MlflowRegistryHook(mlflow_conn_id="ws_admin_a").get_conn()
    event = WebhookEvent(WebhookEntity.MODEL_VERSION, WebhookAction.CREATED)
    client.create_webhook(name=name, url="https://127.0.0.1:9/hook", events=[event])

    def names_in(workspace: str) -> list[str]:
        response = requests.get(
            f"{server.url}/api/2.0/mlflow/webhooks",
            params={"max_results": 1000},
            headers={"X-MLFLOW-WORKSPACE": workspace},
            timeout=30,
            **server.admin_request_options(),
        )
        response.raise_for_status()
        return [webhook["name"] for webhook in response.json().get("webhooks", [])]

    assert name in names_in("team-a")
    assert name not in names_in("default")


def test_runs_artifacts_and_logged_models_use_the_connection_workspace(
    workspaces_mlflow_server: MlflowServer,
    team_hooks: dict[str, MlflowRegistryHook],
    tmp_path: Path,
) -> None:
    server = workspaces_mlflow_server
    client = team_hooks["alice"].get_conn()
    experiment_id = client.create_experiment(unique("exp"))
    run_id = client.create_run(experiment_id).info.run_id
    notes = tmp_path / "notes.txt"
    notes.write_text("team-a only")

    client.log_artifact(run_id, str(notes))
    listed = [info.path for info in client.list_artifacts(run_id)]
    downloaded = client.download_artifacts(run_id, "notes.txt", str(tmp_path))
    logged = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)

    assert listed == ["notes.txt"]
    assert Path(downloaded).read_text() == "team-a only"
    assert client.get_logged_model(logged.model_id).experiment_id == experiment_id
    for workspace, found in (("team-a", True), ("default", False)):
        response = requests.get(
            f"{server.url}/api/2.0/mlflow/runs/get",
            params={"run_id": run_id},
            headers={"X-MLFLOW-WORKSPACE": workspace},
            timeout=30,
            **server.admin_request_options(),
        )
        assert (response.status_code == 200) is found, (workspace, response.text)
