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

"""Validators of the fields of an ``mlflow`` connection, one per field: each returns the
field's value or raises :class:`~airflow_mlflow_registry.exceptions.MlflowConnectionConfigError`
naming the field and the fix. :class:`~.connection_config.MlflowConnectionConfig` calls them.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from airflow_mlflow_registry.exceptions import MlflowConnectionConfigError
from airflow_mlflow_registry.utils.redaction import (
    DATABASE_SCHEMES,
    split_userinfo,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_RETRIES = 2
MAX_RETRIES_LIMIT = 10
# Open HTTP connections kept per host for reuse: one per thread sharing a client.
DEFAULT_POOL_SIZE = 32
POOL_SIZE_LIMIT = 256

REST_SCHEMES = frozenset({"http", "https"})
DATABRICKS_SCHEMES = frozenset({"databricks", "databricks-uc"})
LOCAL_SCHEMES = DATABASE_SCHEMES | {"file"}
# A bare ``host:port[/path]``: a tracking URI whose scheme was left out.
HOST_AND_PORT = re.compile(r"[\w.-]+:\d+(/.*)?")
#: MLflow's rule for workspace names (``WorkspaceNameValidator``, MLflow 3.10+): 2 to 63
#: lower-case letters, digits and inner hyphens, not one of its reserved names.
WORKSPACE_NAME = re.compile(r"[a-z0-9][-a-z0-9]{0,61}[a-z0-9]")
RESERVED_WORKSPACE_NAMES = frozenset({"workspaces", "api", "ajax-api", "static-files"})
EXTRA_FIELDS = (
    "token",
    "insecure_tls",
    "ca_bundle_path",
    "client_cert_path",
    "databricks_host",
    "registry_uri",
    "timeout",
    "max_retries",
    "pool_size",
    "workspace",
    "aws_conn_id",
    "artifact_buckets",
)
#: S3's rule for bucket names: 3 to 63 lower-case letters, digits, dots and hyphens, starting
#: and ending with a letter or digit.
S3_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def uri_scheme(uri: str) -> str:
    if uri in DATABRICKS_SCHEMES:
        return uri
    return urlsplit(uri).scheme.lower()


def read_extra(conn_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Accept bare keys and the legacy ``extra__mlflow__<key>`` form; warn on unknown keys."""
    known: dict[str, Any] = {}
    for key, value in extra.items():
        bare = key.removeprefix("extra__mlflow__")
        if bare in EXTRA_FIELDS:
            known[bare] = value
        else:
            log.warning(
                "Connection %r: ignoring unknown extra field %r; known fields: %s.",
                conn_id,
                key,
                ", ".join(EXTRA_FIELDS),
            )
    return known


def optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def with_database_credentials(conn_id: str, uri: str, username: str, password: str) -> str:
    """``uri`` with ``username:password@`` (percent-encoded) inserted as its user info."""
    prefix, userinfo, rest = split_userinfo(uri)
    if userinfo:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: the database Tracking URI has user info and the Username "
            "and Password fields are set too; remove 'user[:password]@' from the URI and keep "
            "the Username and Password fields."
        )
    return f"{prefix}{quote(username, safe='')}:{quote(password, safe='')}@{rest}"


def parse_tracking_uri(conn_id: str, host: str | None, port: int | None, schema: str | None) -> str:
    host = (host or "").strip()
    if not host:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: field 'Tracking URI' (host) is empty; set it to the MLflow "
            "server URL (e.g. https://mlflow.example.com), 'databricks', or a local store "
            "such as sqlite:///path/mlflow.db."
        )
    if host in DATABRICKS_SCHEMES:
        return host
    if "://" not in host and ":" not in host:
        # A bare host name, as the Airflow URI form mlflow://host:port/prefix yields.
        netloc = f"{host}:{port}" if port else host
        path = f"/{schema.strip('/')}" if schema else ""
        host = f"https://{netloc}{path}"
    elif port and uri_scheme(host) in REST_SCHEMES and urlsplit(host).port is None:
        parts = urlsplit(host)
        host = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))
    check_store_uri(conn_id, "Tracking URI", host)
    return host.rstrip("/") if uri_scheme(host) in REST_SCHEMES else host


def check_store_uri(conn_id: str, field_name: str, uri: str) -> None:
    if HOST_AND_PORT.fullmatch(uri):
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: {field_name} {uri!r} has no scheme; write "
            f"https://{uri} (or http://{uri} for a server without TLS)."
        )
    scheme = uri_scheme(uri)
    allowed = REST_SCHEMES | DATABRICKS_SCHEMES | LOCAL_SCHEMES
    if scheme not in allowed and scheme.split("+")[0] not in LOCAL_SCHEMES:
        shown = scheme or "(none)"
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: {field_name} has unsupported scheme {shown!r}; use one of "
            f"{', '.join(sorted(allowed))} (e.g. https://mlflow.example.com)."
        )
    if scheme in REST_SCHEMES:
        parts = urlsplit(uri)
        if not parts.hostname:
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: {field_name} has no host name; write it as "
                "https://host[:port][/prefix]."
            )
        if parts.username or parts.password:
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: {field_name} contains credentials; move them to the "
                "Username and Password fields and remove them from the URI."
            )
        if parts.query or parts.fragment:
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: {field_name} has a query string or fragment, which "
                "MLflow cannot use in a server URL; write it as https://host[:port][/prefix] "
                "and put a token in the extra 'token'."
            )


def check_rest_url(conn_id: str, field_name: str, url: str) -> str:
    if uri_scheme(url) not in REST_SCHEMES:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: {field_name!r} must be an http(s) URL, e.g. "
            "https://adb-1234.5.azuredatabricks.net."
        )
    check_store_uri(conn_id, field_name, url)
    return url.rstrip("/")


def parse_workspace(conn_id: str, value: Any, tracking_uri: str) -> str | None:
    """Extra ``workspace``: an MLflow workspace name, for an MLflow server (http/https).

    :raises MlflowConnectionConfigError: for a name MLflow would refuse, or a tracking URI
        that is not an MLflow server.
    """
    workspace = optional_str(value)
    if workspace is None:
        return None
    if uri_scheme(tracking_uri) not in REST_SCHEMES:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extra 'workspace' is only for an MLflow tracking server "
            "with workspaces enabled (an http or https Tracking URI); remove it, or point "
            "Tracking URI at the server."
        )
    if not WORKSPACE_NAME.fullmatch(workspace) or workspace in RESERVED_WORKSPACE_NAMES:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extra 'workspace' must be an MLflow workspace name: 2 to "
            "63 lower-case letters, digits and hyphens, starting and ending with a letter or "
            f"digit, not one of {', '.join(sorted(RESERVED_WORKSPACE_NAMES))}; got "
            f"{workspace!r}."
        )
    return workspace


def parse_artifact_buckets(conn_id: str, value: Any) -> tuple[str, ...]:
    """Extra ``artifact_buckets``: the S3 buckets of the server's artifact store, as a list or
    a comma-separated string; empty when unset.

    :raises MlflowConnectionConfigError: for a name S3 would refuse (``s3://`` or a path
        included, upper-case letters, ...).
    """
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    buckets = tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    for bucket in buckets:
        if not S3_BUCKET_NAME.fullmatch(bucket):
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: extra 'artifact_buckets' must name S3 buckets, "
                "comma-separated, without s3:// or a path (e.g. mlflow-artifacts,models-eu); "
                f"got {bucket!r}."
            )
    return buckets


def parse_bool(conn_id: str, field_name: str, value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise MlflowConnectionConfigError(
        f"Connection {conn_id!r}: extra {field_name!r} must be true or false, got {value!r}."
    )


def optional_path(value: Any) -> str | None:
    path = optional_str(value)
    return None if path is None else os.path.expanduser(path)


def parse_timeout(conn_id: str, value: Any) -> float:
    if value is None or value == "":
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extra 'timeout' must be a positive number of seconds, "
            f"got {value!r}."
        )
    return seconds


def parse_bounded_int(
    conn_id: str, name: str, value: Any, default: int, low: int, high: int, hint: str = ""
) -> int:
    """Extra ``name`` as an integer from ``low`` to ``high``; ``default`` when unset.

    :raises MlflowConnectionConfigError: naming the extra, the range and ``hint``.
    """
    if value is None or value == "":
        return default
    try:
        number: int | None = int(str(value))
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extra {name!r} must be an integer from {low} to "
            f"{high}{hint}, got {value!r}."
        )
    return number
