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

"""The S3 artifact store of one ``mlflow`` connection, reached with the identity of the Airflow
AWS connection it names (extras ``aws_conn_id`` and ``artifact_buckets``).

MLflow's own S3 repository builds its boto3 client from the worker's environment on every
call (``AWS_*`` variables, ``AWS_PROFILE``, ``MLFLOW_S3_ENDPOINT_URL``, instance roles) and
shares it process-wide, so two connections in one worker cannot use two cloud accounts.
:class:`ConnectionS3Store` builds one boto3 client per connection through the Amazon provider's
``AwsBaseHook`` (the AWS connection's keys or role, region and ``endpoint_url``; endpoint URLs
from the environment or a profile are ignored), and :class:`BoundS3ArtifactRepository` is
MLflow's S3 repository sending every request with it. MLflow's other S3 settings
(``MLFLOW_S3_UPLOAD_EXTRA_ARGS``, ``MLFLOW_S3_EXPECTED_BUCKET_OWNER``) still apply.

This module imports mlflow at top level and the Amazon provider when the first client is
built; the hook imports it lazily.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository

from airflow_mlflow_registry.exceptions import MlflowConnectionConfigError
from airflow_mlflow_registry.hooks.client import mlflow_compat


class ConnectionS3Store:
    """The buckets ``buckets`` of connection ``mlflow_conn_id``'s artifact store and the boto3
    S3 client of AWS connection ``aws_conn_id`` that reaches them, built on first use (then
    shared by the connection's threads: boto3 clients are thread-safe)."""

    def __init__(self, mlflow_conn_id: str, aws_conn_id: str, buckets: tuple[str, ...]) -> None:
        self.mlflow_conn_id = mlflow_conn_id
        self.aws_conn_id = aws_conn_id
        self.buckets = frozenset(buckets)
        self._lock = threading.Lock()
        self._client: Any = None

    def holds(self, artifact_uri: str) -> bool:
        """Whether ``artifact_uri`` is an ``s3://`` URI in one of this store's buckets."""
        parts = urlsplit(artifact_uri)
        return parts.scheme == "s3" and parts.netloc in self.buckets

    def s3_client(self) -> Any:
        """The AWS connection's boto3 S3 client (built once, on the first call).

        :raises MlflowConnectionConfigError: see :func:`aws_connection_s3_client`.
        """
        with self._lock:
            if self._client is None:
                self._client = aws_connection_s3_client(self.mlflow_conn_id, self.aws_conn_id)
            return self._client


def aws_connection_s3_client(mlflow_conn_id: str, aws_conn_id: str) -> Any:
    """A boto3 S3 client with the identity, region and endpoint URL of Airflow AWS connection
    ``aws_conn_id`` (built by the Amazon provider's ``AwsBaseHook``, role assumption
    included), named by ``mlflow`` connection ``mlflow_conn_id``. Endpoint URLs set in the
    environment (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``) or a profile are ignored.

    :raises MlflowConnectionConfigError: when the Amazon provider is not installed, or no
        Airflow connection ``aws_conn_id`` exists (the Amazon hook would fall back to the
        worker's own identity).
    """
    try:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    except ImportError as exc:
        raise MlflowConnectionConfigError(
            f"Connection {mlflow_conn_id!r}: extra 'aws_conn_id' ({aws_conn_id!r}) needs the "
            "Amazon provider, which is not installed here: install "
            "'airflow-mlflow-registry[amazon]' (apache-airflow-providers-amazon) on every "
            "worker that uses this connection, or clear 'aws_conn_id' and 'artifact_buckets'."
        ) from exc
    from botocore.config import Config

    from airflow_mlflow_registry.version_compat import AirflowNotFoundException, BaseHook

    try:
        BaseHook.get_connection(aws_conn_id)
    except AirflowNotFoundException as exc:
        raise MlflowConnectionConfigError(
            f"Connection {mlflow_conn_id!r}: extra 'aws_conn_id' names the Airflow connection "
            f"{aws_conn_id!r}, which does not exist; create that AWS connection or fix "
            "'aws_conn_id'. Nothing was sent to S3."
        ) from exc
    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="s3")
    config = hook.config.merge(Config(ignore_configured_endpoint_urls=True))
    return hook.get_client_type(config=config)


class BoundS3ArtifactRepository(S3ArtifactRepository):
    """MLflow's S3 artifact repository for ``artifact_uri`` (in one of ``store``'s buckets),
    sending every request (uploads, listings, downloads, deletes) with ``store``'s client."""

    def __init__(self, artifact_uri: str, store: ConnectionS3Store, tracking_uri: str) -> None:
        init_kwargs = mlflow_compat.artifact_repository_init_kwargs(
            tracking_uri, S3ArtifactRepository
        )
        super().__init__(artifact_uri, **init_kwargs)
        self.connection_store = store

    def _get_s3_client(self) -> Any:
        return self.connection_store.s3_client()
