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

"""Source models for the copy tests, made with the source connection's own client (the
copy's user), and what the tests read back from the target."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.hooks.client.model_source_download import download_model_source
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from airflow_mlflow_registry.hooks import MlflowRegistryHook


def model_files(tmp_path: Path, label: str, run_id: str) -> tuple[Path, dict[str, bytes]]:
    """A fresh local ``model`` directory holding ``MLmodel`` and random ``weights.bin``, and
    its files by name."""
    model_dir = tmp_path / f"{label}-{uuid.uuid4().hex[:8]}" / "model"
    model_dir.mkdir(parents=True)
    files = {"MLmodel": f"artifact_path: model\nrun_id: {run_id}\n".encode()}
    files["weights.bin"] = uuid.uuid4().bytes * 64
    for file_name, content in files.items():
        (model_dir / file_name).write_bytes(content)
    return model_dir, files


class SourceModel:
    """A model on the source registry, made as the hook's user: version 1 and version 2
    (``champion``), each from its own run holding ``model/MLmodel`` and ``model/weights.bin``.
    ``files[version]`` are the files each version's source holds."""

    def __init__(self, hook: MlflowRegistryHook, tmp_path: Path, name: str | None = None) -> None:
        self.hook = hook
        self.tmp_path = tmp_path
        self.name = name or unique("copied")
        self.files: dict[str, dict[str, bytes]] = {}
        self.run_ids: dict[str, str] = {}
        client = hook.get_conn()
        self.experiment_id = client.create_experiment(unique("copy-source"))
        client.create_registered_model(self.name)
        for number in ("1", "2"):
            version = self.add_run_version(
                tags={"team": "fraud", "data": f"2026-0{number}"},
                description=f"source version {number}",
            )
            assert version == number
        client.set_registered_model_alias(self.name, "champion", "2")

    def add_run_version(self, experiment_id: str | None = None, **options: Any) -> str:
        """A new version from a new run of ``experiment_id`` (default: the model's) holding
        fresh files; returns its number."""
        client = self.hook.get_conn()
        run_id = client.create_run(experiment_id or self.experiment_id).info.run_id
        model_dir, files = model_files(self.tmp_path, "source", run_id)
        client.log_artifacts(run_id, str(model_dir), "model")
        version = client.create_model_version(
            self.name, f"runs:/{run_id}/model", run_id=run_id, **options
        ).version
        self.files[version], self.run_ids[version] = files, run_id
        return str(version)

    def add_version(self, source: str, files: dict[str, bytes], **options: Any) -> str:
        """A new version registering ``source``, whose files are ``files``; returns its
        number."""
        version = self.hook.get_conn().create_model_version(self.name, source, **options).version
        self.files[version] = files
        return str(version)

    def add_logged_model_version(self) -> str:
        """A new version of a new logged model (``models:/<model_id>``) holding fresh files."""
        from mlflow.entities import LoggedModelStatus

        client = self.hook.get_conn()
        logged = client.create_logged_model(self.experiment_id, name="model")
        model_dir, files = model_files(self.tmp_path, "logged", logged.model_id)
        client.log_model_artifacts(logged.model_id, str(model_dir))
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
        return self.add_version(f"models:/{logged.model_id}", files, model_id=logged.model_id)


def copied_files(target: MlflowRegistryHook, record: dict[str, Any], tmp_path: Path) -> dict:
    """The files of the target version, downloaded as the target's user."""
    destination = tmp_path / f"check-{uuid.uuid4().hex}"
    destination.mkdir()
    client = target.get_conn()
    local = Path(
        download_model_source(
            client._tracking_client,
            client._get_registry_client(),
            record["source"],
            str(destination),
            allow_ambient_credentials=False,
        )
    )
    return {path.name: path.read_bytes() for path in local.rglob("*") if path.is_file()}


def target_versions(target: MlflowRegistryHook, model: str) -> list[str]:
    """The numbers of every version of ``model`` on the target, lowest first."""
    found = target.get_conn().search_model_versions(f"name='{model}'")
    return sorted((mv.version for mv in found), key=int)
