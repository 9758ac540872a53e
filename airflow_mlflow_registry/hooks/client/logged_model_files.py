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

"""The files of an MLflow 3 logged model, listed and deleted through one connection: the
artifact repository bound to that connection
(:class:`~airflow_mlflow_registry.hooks.client.artifact_binding.ArtifactAccess`), never one
built from the worker's environment.

Only a location the connection reaches with its own identity is touched: the store its server
proxies (``mlflow-artifacts:/...``, ``mlflow server --artifacts-destination``) or one of the
buckets of its direct-access S3 store (``artifact_buckets``, with its ``aws_conn_id``). Any
other location would be deleted with the worker's own identity, and is refused.

This module imports mlflow at top level; the hook imports it lazily.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from airflow_mlflow_registry.exceptions import MlflowRegistryError
from airflow_mlflow_registry.hooks.client.artifact_binding import BoundTrackingServiceClient
from airflow_mlflow_registry.hooks.client.mlflow_compat import tracking_client_of
from airflow_mlflow_registry.utils.redaction import display_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.store.artifact.artifact_repo import ArtifactRepository


class LoggedModelFiles:
    """The files under ``artifact_location`` (a logged model's), through ``client``'s bound
    artifact repository.

    :raises MlflowRegistryError: when ``client`` does not talk to a tracking server, or the
        location is not in the artifact store that server proxies (naming the location).
    """

    def __init__(self, client: MlflowClient, artifact_location: str) -> None:
        tracking_client = tracking_client_of(client)
        if not isinstance(tracking_client, BoundTrackingServiceClient):
            raise MlflowRegistryError(
                f"Deleting model files through {tracking_client.tracking_uri} is not "
                "supported: the connection must name an MLflow tracking server."
            )
        access = tracking_client.artifact_access
        if not access.serves(artifact_location):
            raise MlflowRegistryError(
                f"The files at {display_uri(artifact_location)} are neither served by the "
                f"tracking server {display_uri(tracking_client.tracking_uri)} (its proxied "
                "artifact store) nor in the connection's S3 buckets ('artifact_buckets'): "
                "deleting them would use the worker's own credentials, so they are left alone."
            )
        self._repository: ArtifactRepository = access.repository(
            artifact_location, allow_ambient_credentials=False
        )

    def sizes(self) -> dict[str, int]:
        """Every file's size in bytes, by path relative to the location (empty when nothing is
        left). One request per directory.

        :raises Exception: what the repository raises when a listing fails.
        """
        found: dict[str, int] = {}
        directories: list[str | None] = [None]
        while directories:
            for info in self._repository.list_artifacts(directories.pop()):
                if info.is_dir:
                    directories.append(info.path)
                else:
                    found[posixpath.normpath(info.path)] = int(info.file_size or 0)
        return found

    def delete(self) -> None:
        """Delete every file under the location (one request; the server deletes the prefix).

        :raises Exception: what the repository raises when the delete fails.
        """
        self._repository.delete_artifacts()
