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

"""Parse and validate an ``mlflow`` Airflow connection into an immutable config.

Where each setting lives in an Airflow ``Connection``:

* ``host``: the tracking URI (``https://mlflow.example.com/prefix``, ``http://127.0.0.1:5000``,
  ``databricks``, ``sqlite:///path/mlflow.db``, ``file:///path/mlruns``,
  ``postgresql://db/mlflow``). A host without a scheme (as the URI form
  ``mlflow://mlflow.example.com:5000/prefix`` produces) means ``https``; the ``port`` and
  ``schema`` fields, hidden in the UI, are then merged in as port and path prefix.
* ``login`` / ``password``: HTTP basic auth; for a database tracking URI, the database user and
  password, put into the URI only to connect.
* ``extra``: ``token``, ``insecure_tls``, ``ca_bundle_path``, ``client_cert_path``,
  ``databricks_host``, ``registry_uri``, ``timeout``, ``max_retries``, ``pool_size``,
  ``workspace``, ``aws_conn_id``, ``artifact_buckets``.

Each field is checked by its validator in :mod:`~.connection_fields`.
"""

from __future__ import annotations

import base64
import os
import socket
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import quote

from airflow_mlflow_registry.exceptions import MlflowConnectionConfigError
from airflow_mlflow_registry.hooks.client.connection_fields import (
    DATABRICKS_SCHEMES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_POOL_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_RETRIES_LIMIT,
    POOL_SIZE_LIMIT,
    REST_SCHEMES,
    check_rest_url,
    check_store_uri,
    optional_path,
    optional_str,
    parse_artifact_buckets,
    parse_bool,
    parse_bounded_int,
    parse_timeout,
    parse_tracking_uri,
    parse_workspace,
    read_extra,
    uri_scheme,
    with_database_credentials,
)
from airflow_mlflow_registry.utils.redaction import (
    DATABASE_SCHEMES,
    display_uri,
    uri_secrets,
)


class ConnectionFields(Protocol):
    """The fields of an Airflow connection this module reads: Airflow's ``Connection``, or an
    :class:`~airflow_mlflow_registry.hooks.client.connection_env.EnvironmentConnection` read from an
    ``AIRFLOW_CONN_*`` variable without Airflow."""

    @property
    def conn_id(self) -> str: ...
    @property
    def host(self) -> str | None: ...
    @property
    def port(self) -> int | None: ...
    @property
    def schema(self) -> str | None: ...
    @property
    def login(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def extra_dejson(self) -> Any: ...


@dataclass(frozen=True)
class MlflowConnectionConfig:
    """Everything needed to build an MLflow client for one connection. Immutable.

    ``tracking_uri`` and ``registry_uri`` are what the client connects to, and may carry a
    database password: show :attr:`display_tracking_uri` instead. Secrets (``password``,
    ``token``, the URIs) are excluded from ``repr`` so the config can be logged.
    """

    conn_id: str
    tracking_uri: str = field(repr=False)
    registry_uri: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    insecure_tls: bool = False
    ca_bundle_path: str | None = None
    client_cert_path: str | None = None
    databricks_host: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    pool_size: int = DEFAULT_POOL_SIZE
    #: The MLflow workspace (``mlflow server --enable-workspaces``) every request of this
    #: connection is sent to; None: the server's default workspace.
    workspace: str | None = None
    #: The Airflow AWS connection whose identity reads and writes the server's S3 artifact
    #: store (``artifact_buckets``) for this connection; None: no S3 identity of its own.
    aws_conn_id: str | None = None
    #: The S3 buckets of the server's artifact store, reached with ``aws_conn_id``'s identity.
    artifact_buckets: tuple[str, ...] = ()

    @property
    def display_tracking_uri(self) -> str:
        """The tracking URI as it may be shown, logged or stored: user info and query values
        replaced by ``***`` (:func:`~airflow_mlflow_registry.utils.redaction.display_uri`)."""
        return display_uri(self.tracking_uri)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret of this connection, in each form it may appear in text: the password
        (also percent-encoded), the basic-auth header value, the token, and the credentials
        inside the tracking and registry URIs."""
        found: list[str | None] = [self.token]
        if self.password:
            found += [self.password, quote(self.password, safe="")]
            if self.username:
                pair = f"{self.username}:{self.password}".encode()
                found.append(base64.b64encode(pair).decode())
        found += [*uri_secrets(self.tracking_uri), *uri_secrets(self.registry_uri)]
        return tuple(dict.fromkeys(secret for secret in found if secret))

    def check_certificate_files(self) -> None:
        """Check that ``ca_bundle_path`` and ``client_cert_path`` are readable files here.

        Called where a client is built (a worker, the triggerer, or the API server for the Test
        button), not where the connection is only parsed (e.g. a DAG processor reading a model
        asset), because the files need to exist only where the connection is used.

        :raises MlflowConnectionConfigError: naming the field, this host and where the file
            must be readable.
        """
        for field_name in ("ca_bundle_path", "client_cert_path"):
            path = getattr(self, field_name)
            if path is not None and not (os.path.isfile(path) and os.access(path, os.R_OK)):
                raise MlflowConnectionConfigError(
                    f"Connection {self.conn_id!r}: extra {field_name!r} points at {path!r}, "
                    f"which is not a readable file on host {socket.gethostname()!r} (checked "
                    f"by process {os.getpid()} before connecting). The file must be readable "
                    "on every machine that uses this connection: the workers and triggerers "
                    "that run its tasks, and the API server for the Test button. Fix the "
                    "path or the file permissions."
                )

    @property
    def uses_rest(self) -> bool:
        """True when the tracking store is reached over HTTP (a server or Databricks)."""
        return uri_scheme(self.tracking_uri) in REST_SCHEMES | DATABRICKS_SCHEMES

    @property
    def is_databricks(self) -> bool:
        """True when the tracking URI names Databricks."""
        return uri_scheme(self.tracking_uri) in DATABRICKS_SCHEMES

    @property
    def rest_host(self) -> str:
        """Base URL that REST calls go to: the tracking server, or the Databricks workspace."""
        if self.is_databricks:
            assert self.databricks_host is not None  # guaranteed by validation
            return self.databricks_host
        return self.tracking_uri

    @property
    def ui_base_url(self) -> str | None:
        """Base URL of the MLflow web UI, or None when the tracking store is not http(s)."""
        host = self.rest_host
        return host.rstrip("/") if uri_scheme(host) in REST_SCHEMES else None

    def in_workspace(self, workspace: str) -> MlflowConnectionConfig:
        """This config with MLflow workspace ``workspace`` instead of its own (empty: none).

        :raises MlflowConnectionConfigError: as for the connection's extra 'workspace'.
        """
        return replace(self, workspace=parse_workspace(self.conn_id, workspace, self.tracking_uri))

    @classmethod
    def from_connection(cls, conn: ConnectionFields) -> MlflowConnectionConfig:
        """Validate ``conn`` and return its config.

        :raises MlflowConnectionConfigError: naming the offending field and how to fix it.
        """
        conn_id = conn.conn_id
        extra = read_extra(conn_id, conn.extra_dejson)
        tracking_uri = parse_tracking_uri(conn_id, conn.host, conn.port, conn.schema)
        username = conn.login or None
        password = conn.password or None
        token = optional_str(extra.get("token"))
        if username and password and uri_scheme(tracking_uri).split("+")[0] in DATABASE_SCHEMES:
            tracking_uri = with_database_credentials(conn_id, tracking_uri, username, password)

        if bool(username) != bool(password):
            missing = "Password" if username else "Username (login)"
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: basic auth needs both Username and Password; "
                f"set {missing} or clear both."
            )
        if token and username:
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: both a bearer token (extra 'token') and basic auth "
                "(Username/Password) are set; remove the token or clear Username and Password."
            )

        insecure_tls = parse_bool(conn_id, "insecure_tls", extra.get("insecure_tls"))
        ca_bundle_path = optional_path(extra.get("ca_bundle_path"))
        client_cert_path = optional_path(extra.get("client_cert_path"))
        if insecure_tls and ca_bundle_path:
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: 'insecure_tls' disables certificate checks, so "
                "'ca_bundle_path' would be ignored; remove one of them (prefer the CA bundle)."
            )

        databricks_host = optional_str(extra.get("databricks_host"))
        if uri_scheme(tracking_uri) in DATABRICKS_SCHEMES:
            if not databricks_host:
                raise MlflowConnectionConfigError(
                    f"Connection {conn_id!r}: Tracking URI is 'databricks' but extra "
                    "'databricks_host' is empty; set it to the workspace URL, e.g. "
                    "https://adb-1234.5.azuredatabricks.net."
                )
            databricks_host = check_rest_url(conn_id, "databricks_host", databricks_host)
            if not token:
                raise MlflowConnectionConfigError(
                    f"Connection {conn_id!r}: Databricks needs a personal access token; set "
                    "extra 'token' (and clear Username/Password)."
                )
        elif databricks_host:
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: 'databricks_host' is only used when Tracking URI is "
                "'databricks'; set Tracking URI to 'databricks' or remove 'databricks_host'."
            )

        registry_uri = optional_str(extra.get("registry_uri"))
        if registry_uri:
            check_store_uri(conn_id, "registry_uri", registry_uri)
        workspace = parse_workspace(conn_id, extra.get("workspace"), tracking_uri)
        aws_conn_id = optional_str(extra.get("aws_conn_id"))
        artifact_buckets = parse_artifact_buckets(conn_id, extra.get("artifact_buckets"))
        _check_artifact_store(conn_id, tracking_uri, aws_conn_id, artifact_buckets)

        return cls(
            conn_id=conn_id,
            tracking_uri=tracking_uri,
            registry_uri=registry_uri,
            username=username,
            password=password,
            token=token,
            insecure_tls=insecure_tls,
            ca_bundle_path=ca_bundle_path,
            client_cert_path=client_cert_path,
            databricks_host=databricks_host,
            timeout=parse_timeout(conn_id, extra.get("timeout")),
            max_retries=parse_bounded_int(
                conn_id,
                "max_retries",
                extra.get("max_retries"),
                DEFAULT_MAX_RETRIES,
                0,
                MAX_RETRIES_LIMIT,
            ),
            pool_size=parse_bounded_int(
                conn_id,
                "pool_size",
                extra.get("pool_size"),
                DEFAULT_POOL_SIZE,
                1,
                POOL_SIZE_LIMIT,
                " (at least the number of threads sharing one hook)",
            ),
            workspace=workspace,
            aws_conn_id=aws_conn_id,
            artifact_buckets=artifact_buckets,
        )


def _check_artifact_store(
    conn_id: str, tracking_uri: str, aws_conn_id: str | None, artifact_buckets: tuple[str, ...]
) -> None:
    """Extras ``aws_conn_id`` and ``artifact_buckets`` go together, with an MLflow server.

    :raises MlflowConnectionConfigError: naming the missing or misplaced extra.
    """
    if not aws_conn_id and not artifact_buckets:
        return
    if uri_scheme(tracking_uri) not in REST_SCHEMES:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extras 'aws_conn_id' and 'artifact_buckets' are for an "
            "MLflow tracking server whose artifact store is in S3 (an http or https Tracking "
            "URI); remove them, or point Tracking URI at the server."
        )
    if not artifact_buckets:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extra 'aws_conn_id' is set but 'artifact_buckets' is "
            "empty; set it to the S3 bucket(s) of the server's artifact store (the bucket of "
            "its --default-artifact-root), e.g. mlflow-artifacts."
        )
    if not aws_conn_id:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extra 'artifact_buckets' is set but 'aws_conn_id' is "
            "empty; set it to the Airflow AWS connection whose identity reads and writes "
            "those buckets, or clear 'artifact_buckets'."
        )
