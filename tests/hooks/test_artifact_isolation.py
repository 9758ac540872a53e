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

"""Artifacts under the connection's identity: uploads, listings and downloads through a basic-auth
`mlflow server` that proxies its artifact store (``--serve-artifacts``, MLflow's default), from
two users in threads, while the environment holds the other user's credentials.

The server's default permission is NO_PERMISSIONS, so each user's experiment is closed to the
other user: an artifact request sent with the environment's credentials is refused (403), and
every passing upload, listing and download was made as its own user. MLflow alone builds
artifact repositories from ``MLFLOW_TRACKING_*`` and caches them process-wide by run id.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_mlflow_registry.hooks import MlflowRegistryHook

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

USERS = ("alice", "bob")
THREADS_PER_USER = 2


@pytest.fixture
def experiments(
    private_auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> dict[str, tuple[MlflowRegistryHook, str]]:
    """Per user: a hook on their own connection and an experiment they created (closed to the
    other user by the server's default permission)."""
    made = {}
    for user in USERS:
        use_connection(
            f"art_{user}",
            private_auth_mlflow_server.url,
            **private_auth_mlflow_server.sign_in_as(user),
        )
        hook = MlflowRegistryHook(mlflow_conn_id=f"art_{user}")
        made[user] = (hook, hook.get_conn().create_experiment(f"art-{user}-{uuid.uuid4().hex}"))
    return made


@pytest.mark.compat
def test_artifact_uploads_and_downloads_run_as_their_own_user_under_a_hostile_environment(
    private_auth_mlflow_server: MlflowServer,
    experiments: dict[str, tuple[MlflowRegistryHook, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    checked = 0
    for environment_user in USERS:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", environment_user)
        monkeypatch.setenv(
            "MLFLOW_TRACKING_PASSWORD", private_auth_mlflow_server.passwords[environment_user]
        )
        barrier = threading.Barrier(len(USERS) * THREADS_PER_USER)

        def round_trip(
            user: str, thread: int, env_user: str = environment_user, start=barrier
        ) -> None:
            hook, experiment_id = experiments[user]
            client = hook.get_conn()
            run = client.create_run(experiment_id)
            assert run.info.artifact_uri.startswith("mlflow-artifacts:")
            content = f"{user} {thread} {uuid.uuid4().hex}"
            source = tmp_path / f"{env_user}-{user}-{thread}" / "notes.txt"
            source.parent.mkdir()
            source.write_text(content)
            start.wait(timeout=60)
            client.log_artifact(run.info.run_id, str(source), artifact_path="docs")
            client.log_text(run.info.run_id, content, "text/written.txt")
            listed = [info.path for info in client.list_artifacts(run.info.run_id, "docs")]
            assert listed == ["docs/notes.txt"]
            destination = tmp_path / f"{env_user}-{user}-{thread}-down"
            destination.mkdir()
            local = client.download_artifacts(run.info.run_id, "", str(destination))
            assert (Path(local) / "docs" / "notes.txt").read_text() == content
            assert (Path(local) / "text" / "written.txt").read_text() == content

        with ThreadPoolExecutor(max_workers=len(USERS) * THREADS_PER_USER) as pool:
            futures = [
                pool.submit(round_trip, user, thread)
                for thread in range(THREADS_PER_USER)
                for user in USERS
            ]
            for future in futures:
                future.result(timeout=300)
                checked += 1
    assert checked == 2 * len(USERS) * THREADS_PER_USER


@pytest.mark.compat
def test_environment_credentials_would_be_refused_on_the_other_users_artifacts(
    private_auth_mlflow_server: MlflowServer,
    experiments: dict[str, tuple[MlflowRegistryHook, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The premise of the tests here: MLflow's own client, which reads the environment, is
    refused on the other user's artifacts, for uploads and for listings."""

    hook, experiment_id = experiments["alice"]
    run_id = hook.get_conn().create_run(experiment_id).info.run_id
    (tmp_path / "a.txt").write_text("x")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", private_auth_mlflow_server.passwords["bob"])
    environment_client = private_auth_mlflow_server.client()
    with pytest.raises(Exception, match=r"403|PERMISSION_DENIED"):
        environment_client.log_artifact(run_id, str(tmp_path / "a.txt"))
    hook.get_conn().log_artifact(run_id, str(tmp_path / "a.txt"))
    with pytest.raises(Exception, match=r"403|PERMISSION_DENIED"):
        environment_client.list_artifacts(run_id)


def test_log_model_uploads_an_mlflow_model_as_the_connection_user(
    private_auth_mlflow_server: MlflowServer,
    experiments: dict[str, tuple[MlflowRegistryHook, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow.sklearn
    import sklearn
    from sklearn.linear_model import LogisticRegression

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", private_auth_mlflow_server.passwords["bob"])
    hook, experiment_id = experiments["alice"]
    client = hook.get_conn()
    run_id = client.create_run(experiment_id).info.run_id
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])

    logged = hook.log_model(
        mlflow.sklearn,
        model,
        run_id=run_id,
        name="model",
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )

    assert logged["model_uri"] == f"models:/{logged['model_id']}"
    assert client.get_logged_model(logged["model_id"]).status.to_int() == 2  # READY
    files = {info.path for info in client.list_logged_model_artifacts(logged["model_id"])}
    assert "MLmodel" in files and any(name.startswith("model.") for name in files), files
    artifact_root = logged["artifact_location"].removeprefix("mlflow-artifacts:")
    mlmodel = requests.get(
        f"{private_auth_mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts{artifact_root}/MLmodel",
        timeout=30,
        **private_auth_mlflow_server.admin_request_options(),
    )
    mlmodel.raise_for_status()
    assert "sklearn" in mlmodel.text and logged["model_id"] in mlmodel.text
    record = hook.register_model_version(
        f"art-model-{uuid.uuid4().hex[:8]}", logged["model_uri"], idempotency_key="k"
    )
    assert record["run_id"] == run_id
