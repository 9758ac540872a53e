"""Artifact repositories bound to one connection: uploads, listings and downloads of an MLflow
server's proxied artifact store (``mlflow-artifacts:`` URIs, ``mlflow server
--serve-artifacts``) with the connection's credentials, TLS, timeout and retries.

MLflow's own repositories for those URIs read credentials from ``MLFLOW_TRACKING_*``
environment variables on each request and are cached process-wide by run id, so they cannot
serve two identities in one process. :class:`ProxiedArtifactRepository` speaks the same
server API (``/api/2.0/mlflow-artifacts/artifacts``) through a connection's
:class:`~airflow_mlflow_registry.hooks.client_binding.RestTransport`. Uploads are sent once (a
file body cannot be replayed by the HTTP layer); listings, downloads and deletes are retried
like other idempotent requests. Files go up in one request each (no multipart upload) and come
down in one streamed request each.

This module imports mlflow at top level; the hook imports it lazily.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repo import ArtifactRepository, verify_artifact_path

from airflow_mlflow_registry.hooks import mlflow_compat

if TYPE_CHECKING:
    from airflow_mlflow_registry.hooks.client_binding import RestTransport

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


def _safe_relative_path(path: str) -> str:
    """``path`` as listed by the server, refused if it could escape the download directory."""
    if path.startswith("/") or ".." in path.split("/"):
        raise MlflowException(f"The artifact server listed an unsafe artifact path: {path!r}.")
    return path
