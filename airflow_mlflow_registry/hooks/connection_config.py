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
  ``workspace``.

Over 300 lines for one concept: each field has its own validator, whose message names the
field and the fix; they stay beside the dataclass they fill.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import socket
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from airflow_mlflow_registry.exceptions import MlflowConnectionConfigError
from airflow_mlflow_registry.utils.redaction import (
    DATABASE_SCHEMES,
    display_uri,
    split_userinfo,
    uri_secrets,
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
_HOST_AND_PORT = re.compile(r"[\w.-]+:\d+(/.*)?")
#: MLflow's rule for workspace names (``WorkspaceNameValidator``, MLflow 3.10+): 2 to 63
#: lower-case letters, digits and inner hyphens, not one of its reserved names.
_WORKSPACE_NAME = re.compile(r"[a-z0-9][-a-z0-9]{0,61}[a-z0-9]")
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
)


class ConnectionFields(Protocol):
    """The fields of an Airflow connection this module reads: Airflow's ``Connection``, or an
    :class:`~airflow_mlflow_registry.hooks.connection_env.EnvironmentConnection` read from an
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
        return _scheme(self.tracking_uri) in REST_SCHEMES | DATABRICKS_SCHEMES

    @property
    def is_databricks(self) -> bool:
        """True when the tracking URI names Databricks."""
        return _scheme(self.tracking_uri) in DATABRICKS_SCHEMES

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
        return host.rstrip("/") if _scheme(host) in REST_SCHEMES else None

    def in_workspace(self, workspace: str) -> MlflowConnectionConfig:
        """This config with MLflow workspace ``workspace`` instead of its own (empty: none).

        :raises MlflowConnectionConfigError: as for the connection's extra 'workspace'.
        """
        return replace(self, workspace=_workspace(self.conn_id, workspace, self.tracking_uri))

    @classmethod
    def from_connection(cls, conn: ConnectionFields) -> MlflowConnectionConfig:
        """Validate ``conn`` and return its config.

        :raises MlflowConnectionConfigError: naming the offending field and how to fix it.
        """
        conn_id = conn.conn_id
        extra = _read_extra(conn_id, conn.extra_dejson)
        tracking_uri = _tracking_uri(conn_id, conn.host, conn.port, conn.schema)
        username = conn.login or None
        password = conn.password or None
        token = _optional_str(extra.get("token"))
        if username and password and _scheme(tracking_uri).split("+")[0] in DATABASE_SCHEMES:
            tracking_uri = _with_database_credentials(conn_id, tracking_uri, username, password)

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

        insecure_tls = _bool_field(conn_id, "insecure_tls", extra.get("insecure_tls"))
        ca_bundle_path = _path(extra.get("ca_bundle_path"))
        client_cert_path = _path(extra.get("client_cert_path"))
        if insecure_tls and ca_bundle_path:
            raise MlflowConnectionConfigError(
                f"Connection {conn_id!r}: 'insecure_tls' disables certificate checks, so "
                "'ca_bundle_path' would be ignored; remove one of them (prefer the CA bundle)."
            )

        databricks_host = _optional_str(extra.get("databricks_host"))
        if _scheme(tracking_uri) in DATABRICKS_SCHEMES:
            if not databricks_host:
                raise MlflowConnectionConfigError(
                    f"Connection {conn_id!r}: Tracking URI is 'databricks' but extra "
                    "'databricks_host' is empty; set it to the workspace URL, e.g. "
                    "https://adb-1234.5.azuredatabricks.net."
                )
            databricks_host = _rest_url(conn_id, "databricks_host", databricks_host)
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

        registry_uri = _optional_str(extra.get("registry_uri"))
        if registry_uri:
            _check_store_uri(conn_id, "registry_uri", registry_uri)
        workspace = _workspace(conn_id, extra.get("workspace"), tracking_uri)

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
            timeout=_timeout(conn_id, extra.get("timeout")),
            max_retries=_bounded_int(
                conn_id,
                "max_retries",
                extra.get("max_retries"),
                DEFAULT_MAX_RETRIES,
                0,
                MAX_RETRIES_LIMIT,
            ),
            pool_size=_bounded_int(
                conn_id,
                "pool_size",
                extra.get("pool_size"),
                DEFAULT_POOL_SIZE,
                1,
                POOL_SIZE_LIMIT,
                " (at least the number of threads sharing one hook)",
            ),
            workspace=workspace,
        )


def _scheme(uri: str) -> str:
    if uri in DATABRICKS_SCHEMES:
        return uri
    return urlsplit(uri).scheme.lower()


def _read_extra(conn_id: str, extra: dict[str, Any]) -> dict[str, Any]:
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


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _with_database_credentials(conn_id: str, uri: str, username: str, password: str) -> str:
    """``uri`` with ``username:password@`` (percent-encoded) inserted as its user info."""
    prefix, userinfo, rest = split_userinfo(uri)
    if userinfo:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: the database Tracking URI has user info and the Username "
            "and Password fields are set too; remove 'user[:password]@' from the URI and keep "
            "the Username and Password fields."
        )
    return f"{prefix}{quote(username, safe='')}:{quote(password, safe='')}@{rest}"


def _tracking_uri(conn_id: str, host: str | None, port: int | None, schema: str | None) -> str:
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
    elif port and _scheme(host) in REST_SCHEMES and urlsplit(host).port is None:
        parts = urlsplit(host)
        host = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))
    _check_store_uri(conn_id, "Tracking URI", host)
    return host.rstrip("/") if _scheme(host) in REST_SCHEMES else host


def _check_store_uri(conn_id: str, field_name: str, uri: str) -> None:
    if _HOST_AND_PORT.fullmatch(uri):
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: {field_name} {uri!r} has no scheme; write "
            f"https://{uri} (or http://{uri} for a server without TLS)."
        )
    scheme = _scheme(uri)
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


def _rest_url(conn_id: str, field_name: str, url: str) -> str:
    if _scheme(url) not in REST_SCHEMES:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: {field_name!r} must be an http(s) URL, e.g. "
            "https://adb-1234.5.azuredatabricks.net."
        )
    _check_store_uri(conn_id, field_name, url)
    return url.rstrip("/")


def _workspace(conn_id: str, value: Any, tracking_uri: str) -> str | None:
    """Extra ``workspace``: an MLflow workspace name, for an MLflow server (http/https).

    :raises MlflowConnectionConfigError: for a name MLflow would refuse, or a tracking URI
        that is not an MLflow server.
    """
    workspace = _optional_str(value)
    if workspace is None:
        return None
    if _scheme(tracking_uri) not in REST_SCHEMES:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extra 'workspace' is only for an MLflow tracking server "
            "with workspaces enabled (an http or https Tracking URI); remove it, or point "
            "Tracking URI at the server."
        )
    if not _WORKSPACE_NAME.fullmatch(workspace) or workspace in RESERVED_WORKSPACE_NAMES:
        raise MlflowConnectionConfigError(
            f"Connection {conn_id!r}: extra 'workspace' must be an MLflow workspace name: 2 to "
            "63 lower-case letters, digits and hyphens, starting and ending with a letter or "
            f"digit, not one of {', '.join(sorted(RESERVED_WORKSPACE_NAMES))}; got "
            f"{workspace!r}."
        )
    return workspace


def _bool_field(conn_id: str, field_name: str, value: Any) -> bool:
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


def _path(value: Any) -> str | None:
    path = _optional_str(value)
    return None if path is None else os.path.expanduser(path)


def _timeout(conn_id: str, value: Any) -> float:
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


def _bounded_int(
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
