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

"""The snippet files under docs/snippets/ that the pages include run: the DAG builds (its
operators check their arguments when built), the permission grant works against a real
basic-auth server, and so does the workspace set-up on a server with workspaces."""

from __future__ import annotations

import importlib.util
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO_ROOT
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from types import ModuleType

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

SNIPPETS = REPO_ROOT / "docs" / "snippets"


def load_snippet(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_snippet_{name}", SNIPPETS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rollback_and_wait_snippet_builds_its_dag() -> None:
    dag = load_snippet("rollback_and_wait").rollback_and_wait()
    assert [task.task_id for task in dag.topological_sort()] == [
        "promote",
        "rollback",
        "wait_for_new_champion",
    ]
    assert dag.get_task("wait_for_new_champion").deferrable is True


def test_four_eyes_snippet_chains_two_gates_that_each_need_two_people() -> None:
    from airflow_mlflow_registry.version_compat import HITL_MISSING

    if HITL_MISSING is not None:
        pytest.skip(HITL_MISSING)
    dag = load_snippet("four_eyes").four_eyes()
    first, second = (dag.get_task(f"approve_{n}") for n in (1, 2))
    assert first.downstream_task_ids == {"approve_2"}
    for gate in (first, second):
        assert gate.policy.required_approvals == 2 and gate.policy.exclude_triggering_user
        assert [user["name"] for user in gate.assigned_users] == ["alice", "bob"]


def test_grant_permissions_snippet_gives_the_user_edit_on_the_model_and_read_on_runs(
    auth_mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    server = auth_mlflow_server
    # Created by the admin, so alice has only the server default (READ) until the grant.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", server.admin_username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin_password)
    model = unique("granted")
    admin = server.client()
    admin.create_registered_model(model)
    experiment_id = admin.create_experiment(unique("granted-runs"))

    def permission(resource_type: str, resource_id: str) -> Any:
        answer = requests.get(
            f"{server.url}/api/3.0/mlflow/users/permissions/get",
            params={
                "username": "alice",
                "resource_type": resource_type,
                "resource_id": resource_id,
            },
            **server.admin_request_options(),
        )
        answer.raise_for_status()
        return answer.json()["permission"]

    assert permission("registered_model", model) == "READ"
    load_snippet("grant_permissions").grant_registration_permissions(
        server.url, "alice", model, experiment_id
    )
    assert permission("registered_model", model) == "EDIT"
    assert permission("experiment", experiment_id) == "READ"


def test_workspace_snippet_lets_the_user_work_in_that_workspace_only(
    workspaces_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow.exceptions import MlflowException

    from airflow_mlflow_registry.hooks import MlflowRegistryHook

    server = workspaces_mlflow_server
    server.create_user("carol")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", server.admin_username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin_password)
    load_snippet("workspace_permissions").set_up_team_workspace(server.url, "team-c", "carol")
    for conn_id, workspace in (("carol_c", "team-c"), ("carol_a", "team-a")):
        use_connection(conn_id, server.url, **server.sign_in_as("carol"), workspace=workspace)
    model = unique("carol")

    created = MlflowRegistryHook(mlflow_conn_id="carol_c").get_conn().create_registered_model(model)
    assert created.name == model
    with pytest.raises(MlflowException, match="403"):
        MlflowRegistryHook(mlflow_conn_id="carol_a").get_conn().create_registered_model(model)


@pytest.mark.e2e
@pytest.mark.usefixtures("airflow_db")
def test_rollback_and_wait_snippet_runs_promote_rollback_and_the_deferred_sensor(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """The whole snippet DAG with ``dag.test()`` (which runs the sensor's trigger inline):
    ``champion`` goes to the challenger, back to the old champion, and the sensor returns once
    someone outside Airflow points ``champion`` at a newer version. About a minute of DAG
    runs: end-to-end tier."""

    from tests.support.dag_runs import run_dag, task_states, xcom_value
    from tests.support.model_versions import add_version

    use_connection("mlflow_default", mlflow_server.url)
    snippet = load_snippet("rollback_and_wait")
    model = unique("rollback-snippet")
    snippet.MODEL_NAME = model  # the DAG reads it when it is built
    client = mlflow_server.client()
    old = add_version(client, model, aliases=["champion"])
    challenger = add_version(client, model, aliases=["challenger"])
    seen: list[str] = []
    newer: list[str] = []

    def move_champion_after_the_rollback() -> None:
        """Outside Airflow: once champion went to the challenger and came back, register a
        newer version and point champion at it (what the sensor waits for)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            current = client.get_model_version_by_alias(model, "champion").version
            if not seen or seen[-1] != current:
                seen.append(current)
            if seen[-3:] == [old, challenger, old]:
                newer.append(add_version(client, model, aliases=["champion"]))
                return
            time.sleep(0.05)

    mover = threading.Thread(target=move_champion_after_the_rollback, daemon=True)
    mover.start()
    dag_run = run_dag(snippet.rollback_and_wait())
    mover.join(timeout=60)

    assert set(task_states(dag_run).values()) == {"success"}, task_states(dag_run)
    assert xcom_value(dag_run, "promote")["previous_version"] == old
    assert xcom_value(dag_run, "rollback")["version"] == old
    assert newer and xcom_value(dag_run, "wait_for_new_champion")["version"] == newer[0]
