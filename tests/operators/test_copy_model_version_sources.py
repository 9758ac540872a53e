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

"""Where a copy reads the source version's files: only through the source connection.

The source is ``private_auth_mlflow_server`` as alice, the target ``auth_mlflow_server`` as
bob. ``global_registry`` points the worker's process-wide MLflow settings
(``MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``) at a third real server,
``mlflow_server``, which holds a model of the same name whose files differ: a copy that
resolved anything through MLflow's global registry would copy those files.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from airflow_mlflow_registry.exceptions import AmbientSourceRefusedError, MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.client.model_source_download import download_model_source
from tests.support.copies import SourceModel, copied_files, model_files
from tests.support.fault_proxy import FaultProxy
from tests.support.model_versions import lineage, unique

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

SOURCE_FORMS = ["models-version", "models-alias", "runs", "logged-model", "mlflow-artifacts"]


@pytest.fixture
def global_registry(
    mlflow_server: MlflowServer,
    source_model: SourceModel,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> dict[str, dict[str, bytes]]:
    """``mlflow_server`` as the worker's global registry, holding a model named like
    ``source_model`` (versions 1 and 2, ``champion`` on 1) with other files; returns those
    files by version."""

    client = mlflow_server.client()
    client.create_registered_model(source_model.name)
    experiment_id = client.create_experiment(unique("global"))
    files = {}
    for number in ("1", "2"):
        run_id = client.create_run(experiment_id).info.run_id
        model_dir, files[number] = model_files(tmp_path, "global", run_id)
        client.log_artifacts(run_id, str(model_dir), "model")
        client.create_model_version(source_model.name, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(source_model.name, "champion", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "global-user")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "global-password")
    return files


def version_of_form(model: SourceModel, form: str) -> str:
    """A version of ``model`` whose source has the form ``form``; its files are in
    ``model.files``."""
    client = model.hook.get_conn()
    if form == "models-version":  # what MLflow's own copy_model_version writes
        copy = client.copy_model_version(f"models:/{model.name}/1", model.name)
        assert copy.source == f"models:/{model.name}/1"
        model.files[copy.version] = model.files["1"]
        return str(copy.version)
    if form == "models-alias":
        return model.add_version(f"models:/{model.name}@champion", model.files["2"])
    if form == "runs":
        return "1"
    if form == "logged-model":
        return model.add_logged_model_version()
    assert form == "mlflow-artifacts"
    run_id = model.run_ids["1"]
    artifact_uri = client.get_run(run_id).info.artifact_uri
    assert artifact_uri.startswith("mlflow-artifacts:")
    return model.add_version(f"{artifact_uri}/model", model.files["1"], run_id=run_id)


def test_every_source_form_is_read_through_the_source_connection_not_the_global_registry(
    global_registry: dict[str, dict[str, bytes]],
    source_model: SourceModel,
    target_hook: MlflowRegistryHook,
    tmp_path: Path,
) -> None:
    for form in SOURCE_FORMS:
        version = version_of_form(source_model, form)
        record = target_hook.copy_model_version_from(
            source_model.hook,
            source_model.name,
            version=version,
            target_model_name=unique("copy-form"),
            lineage=lineage(unique("copy")),
        )
        assert record["copied_from"]["version"] == version, form
        files = copied_files(target_hook, record, tmp_path)
        assert files == source_model.files[version], form
        assert files not in global_registry.values(), form


@pytest.mark.e2e
def test_source_connection_down_fails_clearly_and_reads_nothing_from_the_global_registry(
    global_registry: dict[str, dict[str, bytes]],
    source_model: SourceModel,
    target_hook: MlflowRegistryHook,
    unused_port: int,
    use_connection: UseConnection,
    tmp_path: Path,
) -> None:
    """A ``models:/`` source resolved through a connection whose server is down fails with
    that server's address; nothing is downloaded, nothing reaches the target."""
    down_url = f"http://127.0.0.1:{unused_port}"
    use_connection(
        "copy_source_down", down_url, login="alice", password="unused-password", max_retries=0
    )
    down = MlflowRegistryHook(mlflow_conn_id="copy_source_down")
    client = down.get_conn()
    destination = tmp_path / "download"
    destination.mkdir()
    with pytest.raises(Exception, match=f"127.0.0.1:{unused_port}"):
        download_model_source(
            client._tracking_client,
            client._get_registry_client(),
            f"models:/{source_model.name}/1",
            str(destination),
            allow_ambient_credentials=False,
        )
    assert list(destination.iterdir()) == []
    target_model = unique("copy-down")
    with pytest.raises(
        MlflowRequestError, match=rf"'copy_source_down' \({down_url}\).*{source_model.name}"
    ):
        target_hook.copy_model_version_from(
            down, source_model.name, version=1, target_model_name=target_model
        )
    assert target_hook.get_conn().search_registered_models(f"name = '{target_model}'") == []


@pytest.fixture
def outside_store_version(source_model: SourceModel, tmp_path: Path) -> tuple[str, str]:
    """A version of ``source_model`` from a run of an experiment whose artifacts live in a
    local directory of this machine (``file://``), outside the source server's proxied
    store, holding a real file there. Returns the version and that directory's URI."""
    client = source_model.hook.get_conn()
    outside = (tmp_path / "outside-the-store").as_uri()
    experiment_id = client.create_experiment(unique("outside"), artifact_location=outside)
    run_id = client.create_run(experiment_id).info.run_id
    artifact_uri = client.get_run(run_id).info.artifact_uri
    assert artifact_uri.startswith(outside)
    model_dir = Path(urlsplit(artifact_uri).path) / "model"
    model_dir.mkdir(parents=True)
    files = {"secret.txt": b"only the worker may read this " + uuid.uuid4().bytes}
    (model_dir / "secret.txt").write_bytes(files["secret.txt"])
    version = source_model.add_version(f"runs:/{run_id}/model", files, run_id=run_id)
    return version, outside


def test_source_outside_the_served_store_is_refused_unless_ambient_credentials_are_allowed(
    outside_store_version: tuple[str, str],
    source_model: SourceModel,
    target_hook: MlflowRegistryHook,
    tmp_path: Path,
) -> None:
    """Refused: a ``file://`` location holding a real file here, and an ``s3://`` source;
    the target gets nothing (no experiment, no model). Allowed: the file is copied."""
    file_version, file_location = outside_store_version
    s3_location = f"s3://internal-bucket/{unique('models')}"
    s3_version = source_model.add_version(s3_location, {})
    target = target_hook.get_conn()
    for version, location in ((file_version, file_location), (s3_version, s3_location)):
        target_model, experiment = unique("copy-refused"), unique("copies")
        with pytest.raises(AmbientSourceRefusedError) as raised:
            target_hook.copy_model_version_from(
                source_model.hook,
                source_model.name,
                version=version,
                target_model_name=target_model,
                target_experiment_name=experiment,
            )
        message = str(raised.value)
        for expected in (source_model.name, f"version {version}", "'copy_source'", location):
            assert expected in message
        assert "allow_ambient_credentials=True" in message
        assert target.get_experiment_by_name(experiment) is None
        assert target.search_registered_models(f"name = '{target_model}'") == []

    record = target_hook.copy_model_version_from(
        source_model.hook,
        source_model.name,
        version=file_version,
        target_model_name=unique("copy-allowed"),
        allow_ambient_credentials=True,
    )
    assert copied_files(target_hook, record, tmp_path) == source_model.files[file_version]


@pytest.fixture
def source_proxy(private_auth_mlflow_server: MlflowServer) -> Iterator[FaultProxy]:
    with FaultProxy(private_auth_mlflow_server.url) as proxy:
        yield proxy


@pytest.mark.parametrize(
    "failure",
    [
        "403",
        pytest.param("401", marks=pytest.mark.e2e),
        pytest.param("connection lost", marks=pytest.mark.e2e),
    ],
)
def test_failed_source_download_names_connection_and_version_and_leaves_the_target_untouched(
    failure: str,
    source_model: SourceModel,
    source_proxy: FaultProxy,
    target_hook: MlflowRegistryHook,
    private_auth_mlflow_server: MlflowServer,
    auth_mlflow_server: MlflowServer,
    use_connection: UseConnection,
) -> None:
    """The version is read; its download then fails: with a real 403 (bob may read alice's
    registered model, not her runs), or, through ``source_proxy``, with a 401 or a connection
    closed without a reply on every artifact request."""
    server = private_auth_mlflow_server
    if failure == "403":
        server.grant_model_permission(source_model.name, "bob", "READ")
        use_connection("copy_source_failing", server.url, **server.sign_in_as("bob"))
    else:
        kind = "401_before_forward" if failure == "401" else "drop_reply"
        source_proxy.add_fault("GET", "/mlflow-artifacts/artifacts", kind, times=None)
        use_connection(
            "copy_source_failing",
            source_proxy.url,
            **server.sign_in_as("alice"),
            max_retries=0,
        )
    source = MlflowRegistryHook(mlflow_conn_id="copy_source_failing")
    target_model, experiment = unique("copy-failed"), unique("copies")
    with pytest.raises(MlflowRequestError) as raised:
        target_hook.copy_model_version_from(
            source,
            source_model.name,
            version=2,
            target_model_name=target_model,
            target_experiment_name=experiment,
        )
    message = str(raised.value)
    for expected in ("'copy_source_failing'", source_model.name, "version 2", "Downloading"):
        assert expected in message
    secrets = [*server.passwords.values(), *auth_mlflow_server.passwords.values()]
    assert not any(secret in message for secret in secrets)
    assert failure == "403" or source_proxy.faults_injected >= 1
    target = target_hook.get_conn()
    assert target.get_experiment_by_name(experiment) is None
    assert target.search_registered_models(f"name = '{target_model}'") == []
    assert "\n" not in message
