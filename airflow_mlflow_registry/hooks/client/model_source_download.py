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

"""Downloading the files of a model source through one connection: every form of source is
resolved through that connection's own tracking server and registry (its credentials, TLS and
host), never through MLflow's process-wide resolution (``MLFLOW_TRACKING_URI``, environment
credentials).

A source resolves to an artifact location:

- ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/latest`` (or a
  stage): the version is read from the connection's registry, and its own source resolved in
  turn (at most :data:`MAX_SOURCE_HOPS` times);
- ``models:/<logged model id>``: the logged model's artifact location, read from the
  connection's tracking server;
- ``runs:/<run_id>/<path>``: ``<path>`` under the run's artifact location, likewise;
- any other URI (``mlflow-artifacts:/...``, ``s3://...``, a local path): itself.

A location in the artifact store the connection's tracking server proxies
(``mlflow-artifacts:/...``, ``mlflow server --serve-artifacts``) is downloaded with the
connection's credentials; one in a bucket of its direct-access S3 store (extras
``aws_conn_id`` and ``artifact_buckets``) with its AWS connection's identity. Any other
location (``s3://`` elsewhere, ``gs://``, ``wasbs://``, ``dbfs:/``, ``file://``, a local path,
another host's ``mlflow-artifacts://`` or ``http(s)://`` URL) would be read with the worker's
own identity: its cloud credentials, file system and network position, which whoever
registered the version may not have. Such a location is refused with
:class:`~airflow_mlflow_registry.exceptions.AmbientSourceRefusedError` unless the caller allows
ambient credentials.

This module imports mlflow at top level; the hook imports it lazily.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlflow.store.artifact.utils.models import _parse_model_uri, get_model_name_and_version

from airflow_mlflow_registry.exceptions import AmbientSourceRefusedError, MlflowRegistryError
from airflow_mlflow_registry.hooks.client.artifact_binding import BoundTrackingServiceClient
from airflow_mlflow_registry.utils.redaction import display_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.tracking._model_registry.client import ModelRegistryClient

#: How many ``models:/<name>/<version>`` sources pointing at further registered versions are
#: followed before giving up (a cycle of versions would otherwise never end).
MAX_SOURCE_HOPS = 8


@dataclass(frozen=True)
class ArtifactLocation:
    """The files of a model source: ``path`` (``""`` for all) under the artifact URI
    ``artifact_uri``."""

    artifact_uri: str
    path: str = ""


def resolve_model_source(
    tracking_client: BoundTrackingServiceClient,
    registry_client: ModelRegistryClient | None,
    source: str,
) -> ArtifactLocation:
    """Where the files of ``source`` are, read through the given (bound) clients.

    :raises MlflowException: when a look-up fails (the version, alias, run or logged model
        does not exist, the server cannot be reached, ...), or when ``source`` names a
        registered version and no ``registry_client`` is given, or after
        :data:`MAX_SOURCE_HOPS` registered versions pointing at further versions.
    """
    from mlflow.exceptions import MlflowException

    for _ in range(MAX_SOURCE_HOPS + 1):
        scheme, _, rest = source.partition(":")
        if scheme == "runs":
            run_id, _, path = rest.lstrip("/").partition("/")
            run = tracking_client.get_run(run_id)
            return ArtifactLocation(run.info.artifact_uri, path.strip("/"))
        if scheme != "models":
            return ArtifactLocation(source)
        parsed = _parse_model_uri(source)
        if parsed.model_id is not None:
            logged_model = tracking_client.get_logged_model(parsed.model_id)
            return ArtifactLocation(logged_model.artifact_location)
        if registry_client is None:
            raise MlflowException(
                f"{source} names a registered model version, which this client cannot read."
            )
        name, version = get_model_name_and_version(registry_client, source)
        source = str(registry_client.get_model_version(name, version).source or "")
    raise MlflowException(
        f"Gave up after {MAX_SOURCE_HOPS} registered versions whose source is another "
        f"registered version (last: {source})."
    )


def download_model_source(
    tracking_client: BoundTrackingServiceClient,
    registry_client: ModelRegistryClient | None,
    source: str,
    download_dir: str,
    *,
    allow_ambient_credentials: bool,
) -> str:
    """Download the files of the model source ``source`` into ``download_dir`` through the
    given (bound) clients; return their local directory (with ``allow_ambient_credentials``,
    a local directory ``source`` is returned itself).

    :raises AmbientSourceRefusedError: when ``source`` is neither served by the clients'
        tracking server nor in the connection's ``artifact_buckets`` and
        ``allow_ambient_credentials`` is false; nothing was read then.
    :raises MlflowException: when resolving ``source`` fails (see
        :func:`resolve_model_source`).
    :raises Exception: what the artifact repository raises when a download fails.
    """
    if os.path.isdir(source) and allow_ambient_credentials:
        return source
    location = resolve_model_source(tracking_client, registry_client, source)
    access = tracking_client.artifact_access
    if not access.serves(location.artifact_uri) and not allow_ambient_credentials:
        raise AmbientSourceRefusedError(
            f"The model files of {display_uri(source)} are at "
            f"{display_uri(location.artifact_uri)}, which is neither the tracking server's "
            "proxied artifact store nor a bucket of the connection's 'artifact_buckets': "
            "reading them would use this worker's own credentials and file system, not the "
            "connection's. No file was read. Set allow_ambient_credentials=True to read such "
            "sources with the worker's identity."
        )
    repository = access.repository(location.artifact_uri, allow_ambient_credentials=True)
    local_dir: str = repository.download_artifacts(location.path, download_dir)
    return local_dir


def download_through_client(
    client: MlflowClient, source: str, download_dir: str, *, allow_ambient_credentials: bool
) -> str:
    """:func:`download_model_source` through the tracking and registry clients of ``client``,
    a client built by :func:`~airflow_mlflow_registry.hooks.client.client_binding.build_client`.

    :raises MlflowRegistryError: when ``client`` does not talk to an MLflow tracking server
        (a local store has no bound artifact transport).
    :raises AmbientSourceRefusedError: see :func:`download_model_source`.
    """
    from airflow_mlflow_registry.hooks.client.mlflow_compat import (
        registry_client_of,
        tracking_client_of,
    )

    tracking_client = tracking_client_of(client)
    if not isinstance(tracking_client, BoundTrackingServiceClient):
        raise MlflowRegistryError(
            f"Reading model files through {tracking_client.tracking_uri} is not supported: "
            "the connection must name an MLflow tracking server (http:// or https://), not a "
            "local store."
        )
    return download_model_source(
        tracking_client,
        registry_client_of(client),
        source,
        download_dir,
        allow_ambient_credentials=allow_ambient_credentials,
    )
