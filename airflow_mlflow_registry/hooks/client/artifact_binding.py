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

"""Artifact repositories bound to one connection: uploads, listings and downloads of an MLflow
server's proxied artifact store (``mlflow-artifacts:`` URIs, ``mlflow server
--serve-artifacts``) with the connection's credentials, TLS, timeout and retries, of its
direct-access S3 store with the AWS connection it names
(:mod:`~airflow_mlflow_registry.hooks.client.s3_artifact_store`), chosen per location by
:class:`ArtifactAccess`, and the tracking client whose artifact operations use them
(:class:`BoundTrackingServiceClient`).

MLflow's own repositories for those URIs read credentials from ``MLFLOW_TRACKING_*``
environment variables on each request and are cached process-wide by run id, so they cannot
serve two identities in one process. :class:`ProxiedArtifactRepository` speaks the same
server API (``/api/2.0/mlflow-artifacts/artifacts``) through a connection's
:class:`~airflow_mlflow_registry.hooks.client.rest_transport.RestTransport`. Uploads are sent
once (a file body cannot be replayed by the HTTP layer); listings, downloads and deletes are retried
like other idempotent requests. Files go up in one request each (no multipart upload) and come
down in one streamed request each.

This module imports mlflow at top level; the hook imports it lazily.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repo import ArtifactRepository, verify_artifact_path
from mlflow.tracking._tracking_service.client import TrackingServiceClient

from airflow_mlflow_registry.exceptions import AmbientSourceRefusedError
from airflow_mlflow_registry.hooks.client import mlflow_compat
from airflow_mlflow_registry.hooks.client.s3_artifact_store import BoundS3ArtifactRepository
from airflow_mlflow_registry.utils.redaction import display_uri

if TYPE_CHECKING:
    from airflow_mlflow_registry.hooks.client.rest_transport import RestTransport
    from airflow_mlflow_registry.hooks.client.s3_artifact_store import ConnectionS3Store

#: The artifact-proxy API of ``mlflow server``, relative to the tracking URI.
PROXIED_ARTIFACTS_PATH = "/api/2.0/mlflow-artifacts/artifacts"
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


def proxied_artifact_root(artifact_uri: str, tracking_uri: str) -> str | None:
    """The path of ``artifact_uri`` inside the artifact store that the tracking server at
    ``tracking_uri`` proxies, or None when the URI is not served by that server.

    ``mlflow-artifacts:/1/abc/artifacts`` and ``<tracking_uri>/api/2.0/mlflow-artifacts/
    artifacts/1/abc/artifacts`` give ``1/abc/artifacts``; an ``mlflow-artifacts://host/...``
    URI names its own server and is served here only when ``host`` is the tracking server's,
    so the connection's credentials are never sent to another host.
    """
    parts = urlsplit(artifact_uri)
    if parts.scheme == "mlflow-artifacts":
        if parts.netloc and parts.netloc != urlsplit(tracking_uri).netloc:
            return None
        return parts.path.strip("/")
    served_prefix = tracking_uri.rstrip("/") + PROXIED_ARTIFACTS_PATH
    if artifact_uri == served_prefix or artifact_uri.startswith(served_prefix + "/"):
        return artifact_uri[len(served_prefix) :].strip("/")
    return None


class ProxiedArtifactRepository(ArtifactRepository):
    """The artifacts under ``root`` of the artifact store proxied by the tracking server that
    ``transport`` reaches (its credentials, TLS, timeout and retries).

    Implements MLflow's ``ArtifactRepository`` contract: paths are relative to ``root`` and
    use ``/``; ``list_artifacts`` of a path naming a single file is empty;
    ``download_artifacts`` (inherited) downloads a file or a directory tree.
    """

    def __init__(
        self, artifact_uri: str, root: str, transport: RestTransport, tracking_uri: str
    ) -> None:
        init_kwargs = mlflow_compat.artifact_repository_init_kwargs(tracking_uri)
        super().__init__(artifact_uri, **init_kwargs)
        self.root = root.strip("/")
        self.transport = transport

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Upload ``local_file`` to ``<artifact_path>/<its file name>``, in one request."""
        verify_artifact_path(artifact_path)
        file_name = os.path.basename(local_file)
        content_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        with open(local_file, "rb") as body:
            self.transport.send(
                "PUT",
                self._file_endpoint(artifact_path, file_name),
                retried=False,
                data=body,
                extra_headers={"Content-Type": content_type},
            )

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload every file under ``local_dir``, keeping its layout below ``artifact_path``."""
        verify_artifact_path(artifact_path)
        local_dir = os.path.abspath(local_dir)
        for directory, _, file_names in os.walk(local_dir):
            relative = os.path.relpath(directory, local_dir)
            parts = [] if relative == os.curdir else relative.split(os.sep)
            target = posixpath.join(artifact_path or "", *parts) or None
            for file_name in file_names:
                self.log_artifact(os.path.join(directory, file_name), target)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The files and directories directly under ``path`` (the root when None), by path."""
        listed = posixpath.join(self.root, path) if path else self.root
        response = self.transport.send(
            "GET", PROXIED_ARTIFACTS_PATH, retried=True, params={"path": listed}
        )
        infos = []
        for entry in response.json().get("files", []):
            name = _safe_relative_path(entry["path"])
            size = int(entry["file_size"]) if "file_size" in entry else None
            infos.append(
                FileInfo(posixpath.join(path, name) if path else name, entry["is_dir"], size)
            )
        names_itself = (
            path is not None
            and len(infos) == 1
            and not infos[0].is_dir
            and infos[0].path == posixpath.join(path, posixpath.basename(path))
        )
        return [] if names_itself else sorted(infos, key=lambda info: info.path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        response = self.transport.send(
            "GET", self._file_endpoint(remote_file_path), retried=True, stream=True
        )
        with open(local_path, "wb") as local_file:
            for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK_BYTES):
                local_file.write(chunk)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete ``artifact_path`` (everything under the root when None)."""
        self.transport.send("DELETE", self._file_endpoint(artifact_path), retried=True)

    def _file_endpoint(self, *relative_parts: str | None) -> str:
        parts = [self.root, *(part for part in relative_parts if part)]
        return posixpath.join(PROXIED_ARTIFACTS_PATH, *(part for part in parts if part))


class ArtifactAccess:
    """How one connection's client reaches artifact stores: the store its tracking server
    proxies (``mlflow-artifacts:``) with the connection's ``transport``, and the S3 buckets of
    its direct-access store (``s3_store``, when the connection names an AWS connection) with
    that AWS identity. Any other location would be reached with the worker's own identity.
    """

    def __init__(
        self, tracking_uri: str, transport: RestTransport, s3_store: ConnectionS3Store | None = None
    ) -> None:
        self.tracking_uri = tracking_uri
        self.transport = transport
        self.s3_store = s3_store

    def serves(self, artifact_uri: str) -> bool:
        """Whether ``artifact_uri`` is reached with this connection's own identity."""
        if proxied_artifact_root(artifact_uri, self.tracking_uri) is not None:
            return True
        return self.s3_store is not None and self.s3_store.holds(artifact_uri)

    def repository(
        self, artifact_uri: str, *, allow_ambient_credentials: bool
    ) -> ArtifactRepository:
        """The repository for ``artifact_uri``: bound to this connection when it
        :meth:`serves` it, else (with ``allow_ambient_credentials``) MLflow's own, which uses
        the worker's identity (cloud credentials, file system).

        :raises AmbientSourceRefusedError: when the location is not served and
            ``allow_ambient_credentials`` is false.
        """
        root = proxied_artifact_root(artifact_uri, self.tracking_uri)
        if root is not None:
            return ProxiedArtifactRepository(artifact_uri, root, self.transport, self.tracking_uri)
        if self.s3_store is not None and self.s3_store.holds(artifact_uri):
            return BoundS3ArtifactRepository(artifact_uri, self.s3_store, self.tracking_uri)
        if not allow_ambient_credentials:
            raise AmbientSourceRefusedError(self._refusal(artifact_uri))
        return mlflow_compat.mlflow_artifact_repository(artifact_uri, self.tracking_uri)

    def _refusal(self, artifact_uri: str) -> str:
        store = self.s3_store
        buckets = ", ".join(sorted(store.buckets)) if store else ""
        conn_id = repr(store.mlflow_conn_id) if store else "this connection"
        return (
            f"Connection {conn_id}: the artifact location {display_uri(artifact_uri)} is "
            "neither served by the tracking server nor in one of the buckets of extra "
            f"'artifact_buckets' ({buckets}); reaching it would use this worker's own "
            "credentials. Nothing was read or written. Add its bucket to 'artifact_buckets' "
            "if the connection's AWS identity should reach it."
        )


class BoundTrackingServiceClient(TrackingServiceClient):
    """``TrackingServiceClient`` that always uses the store it was given, and whose artifact
    operations use repositories bound to the same connection (MLflow's own build them from
    environment credentials and cache them process-wide by run id)."""

    def __init__(self, tracking_uri: str, store: Any, access: ArtifactAccess) -> None:
        self._bound_store = store
        self._artifact_access = access
        super().__init__(tracking_uri)

    @property
    def store(self) -> Any:
        return self._bound_store

    @property
    def artifact_access(self) -> ArtifactAccess:
        """How this client's artifact repositories reach artifact stores (the connection's
        credentials and AWS identity)."""
        return self._artifact_access

    def _get_artifact_repo(self, resource_id: str, *, resource: str = "run") -> Any:
        """The artifact repository of a run (``resource="run"``) or a logged model."""
        if resource == "run":
            location = self.get_run(resource_id).info.artifact_uri
        else:
            location = self.get_logged_model(resource_id).artifact_location
        # Without an S3 store of its own, a connection keeps MLflow's behaviour for locations
        # its server does not proxy; with one, it never falls back to the worker's identity.
        access = self._artifact_access
        return access.repository(location, allow_ambient_credentials=access.s3_store is None)

    def list_artifacts(self, run_id: str, path: str | None = None) -> Any:
        """The run's artifacts directly under ``path``, listed as this connection's user."""
        return self._get_artifact_repo(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Download the run's artifact file or directory ``path``; return its local path."""
        local_path: str = self._get_artifact_repo(run_id).download_artifacts(path, dst_path)
        return local_path


def _safe_relative_path(path: str) -> str:
    """``path`` as listed by the server, refused if it could escape the download directory."""
    if path.startswith("/") or ".." in path.split("/"):
        raise MlflowException(f"The artifact server listed an unsafe artifact path: {path!r}.")
    return path
