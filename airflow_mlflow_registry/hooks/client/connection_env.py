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

"""Read an Airflow connection from its ``AIRFLOW_CONN_<ID>`` environment variable without
importing Airflow, with the field values Airflow's own parsing gives.

Airflow's look-up asks a custom secrets backend first, when one is configured, then the
environment variables, then the metadata DB (``airflow connections get``; outside a task,
``BaseHook.get_connection`` skips the DB). :func:`environment_connection` answers only when its
answer is certainly Airflow's: the variable is set and no custom secrets backend is configured
(neither in ``AIRFLOW__SECRETS__BACKEND*`` / ``AIRFLOW__WORKERS__SECRETS_BACKEND*`` nor in
``airflow.cfg``). In every other case it returns None and the caller asks Airflow.

The value is parsed as Airflow 3's task SDK ``Connection`` parses it (``from_json`` when it
starts with ``{``, else ``from_uri``): percent-decoded user, password, host and schema, a host
with its own protocol (``mlflow://https://host``), query parameters as extras, or the JSON of
``__extra__``. A value Airflow would reject, or one whose form this module does not know (a
JSON key Airflow's ``Connection`` has no field for), is left to Airflow too.
``tests/hooks/test_connection_env.py`` compares the result with Airflow's on many values.
This module imports nothing but the standard library.
"""

from __future__ import annotations

import configparser
import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from airflow_mlflow_registry.hooks.client.connection_config import ConnectionFields

log = logging.getLogger(__name__)

CONN_ENV_PREFIX = "AIRFLOW_CONN_"
#: Environment variables that configure a custom secrets backend (with their ``_CMD`` and
#: ``_SECRET`` forms, which these prefixes cover).
_BACKEND_ENV_PREFIXES = ("AIRFLOW__SECRETS__BACKEND", "AIRFLOW__WORKERS__SECRETS_BACKEND")
#: ``airflow.cfg`` options that configure one: (section, option prefix).
_BACKEND_OPTIONS = (("secrets", "backend"), ("workers", "secrets_backend"))
#: In Airflow's multi-team mode, ``AIRFLOW_CONN__<TEAM>___<ID>`` names a team's connection.
_TEAM_SEPARATOR = "___"
#: The fields of Airflow's ``Connection`` that its JSON form may set.
_JSON_FIELDS = frozenset(
    {"conn_type", "description", "host", "schema", "login", "password", "port", "extra"}
)
_EXTRA_KEY = "__extra__"


class UnparsableConnectionError(ValueError):
    """The variable's value is not a connection this module parses the way Airflow does."""


@dataclass(frozen=True)
class EnvironmentConnection:
    """An Airflow connection's fields, as Airflow's ``Connection`` holds them (``extra`` is the
    JSON text; :attr:`extra_dejson` its parsed value)."""

    conn_id: str
    conn_type: str | None = None
    description: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None

    @property
    def extra_dejson(self) -> Any:
        """``extra`` parsed as JSON; ``{}`` when it is empty or not JSON (as in Airflow, which
        logs the error)."""
        if not self.extra:
            return {}
        try:
            return json.loads(self.extra)
        except json.JSONDecodeError:
            log.error("Connection %r: extra is not valid JSON; ignoring it.", self.conn_id)
            return {}


def environment_connection(conn_id: str) -> EnvironmentConnection | None:
    """Connection ``conn_id`` from ``AIRFLOW_CONN_<CONN_ID>``, or None when Airflow's look-up
    may give another answer (see the module docstring) and must be asked instead."""
    value = os.environ.get(CONN_ENV_PREFIX + conn_id.upper())
    if not value or _TEAM_SEPARATOR in conn_id or custom_secrets_backend_configured():
        return None
    try:
        return parse_connection(conn_id, value)
    except (UnparsableConnectionError, ValueError, TypeError):
        return None


def parse_connection(conn_id: str, value: str) -> EnvironmentConnection:
    """Parse the JSON or URI form of a connection, as Airflow's secrets backends do.

    :raises UnparsableConnectionError: for a value Airflow would reject or that this module
        leaves to Airflow (also ``ValueError`` for an invalid port).
    """
    value = value.strip()
    if not value:
        raise UnparsableConnectionError(f"Connection {conn_id!r}: only whitespace")
    if value.startswith("{"):
        return connection_from_json(conn_id, value)
    return connection_from_uri(conn_id, value)


def connection_from_json(conn_id: str, value: str) -> EnvironmentConnection:
    """The JSON form: ``{"conn_type": ..., "host": ..., "extra": {...} or "<json>"}``."""
    fields = json.loads(value)
    if not isinstance(fields, dict) or not fields.keys() <= _JSON_FIELDS:
        raise UnparsableConnectionError(f"Connection {conn_id!r}: not a connection's JSON form")
    extra = fields.pop("extra", None)
    if extra:
        fields["extra"] = extra if isinstance(extra, str) else json.dumps(extra)
    conn_type = fields.pop("conn_type", None)
    if conn_type:
        fields["conn_type"] = _normalized_conn_type(conn_type)
    port = fields.pop("port", None)
    if port:
        fields["port"] = int(port)
    return EnvironmentConnection(conn_id=conn_id, **fields)


def connection_from_uri(conn_id: str, uri: str) -> EnvironmentConnection:
    """The URI form: ``<conn-type>://[login[:password]@]host[:port][/schema][?extras]``, where
    host may carry its own protocol (``mlflow://https://host``) and ``__extra__`` may hold the
    extra's JSON."""
    protocols = uri.count("://")
    if protocols > 2:
        raise UnparsableConnectionError(f"Connection {conn_id!r}: more than two '://'")
    host_has_protocol = protocols == 2
    conn_type = urlsplit(uri).scheme
    rest = uri.replace(f"{conn_type}://", "" if host_has_protocol else "//")
    if host_has_protocol:
        protocol_part = rest.split("://", 1)[0]
        if "@" in protocol_part or ":" in protocol_part:
            raise UnparsableConnectionError(f"Connection {conn_id!r}: invalid host protocol")
    parts = urlsplit(rest)
    host = _hostname(parts.hostname, parts.netloc)
    if host and host_has_protocol and parts.scheme:
        host = f"{parts.scheme}://{host}"
    extra = None
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = query[_EXTRA_KEY] if _EXTRA_KEY in query else json.dumps(query)
    return EnvironmentConnection(
        conn_id=conn_id,
        conn_type=_normalized_conn_type(conn_type),
        host=host,
        schema=unquote(parts.path[1:]),
        login=unquote(parts.username) if parts.username else parts.username,
        password=unquote(parts.password) if parts.password else parts.password,
        port=parts.port,
        extra=extra,
    )


def custom_secrets_backend_configured() -> bool:
    """True when Airflow may be configured to ask a custom secrets backend before the
    environment: an ``AIRFLOW__SECRETS__BACKEND*`` or ``AIRFLOW__WORKERS__SECRETS_BACKEND*``
    variable is set, or ``airflow.cfg`` sets such an option (or cannot be read as a config
    file). Its ``*_kwargs`` options alone configure nothing."""
    for name, value in os.environ.items():
        if name.startswith(_BACKEND_ENV_PREFIXES) and not name.endswith("_KWARGS") and value:
            return True
    path = _airflow_config_path()
    if not os.path.exists(path):
        return False
    config = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        config.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return True
    return any(
        option.startswith(prefix) and not option.endswith("_kwargs") and value.strip()
        for section, prefix in _BACKEND_OPTIONS
        if config.has_section(section)
        for option, value in config.items(section, raw=True)
    )


def _airflow_config_path() -> str:
    """Where Airflow reads ``airflow.cfg``: ``$AIRFLOW_CONFIG``, else ``$AIRFLOW_HOME`` (default
    ``~/airflow``) ``/airflow.cfg``, with variables and ``~`` expanded."""
    configured = os.environ.get("AIRFLOW_CONFIG")
    if configured is not None:
        return _expand(configured)
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return os.path.join(_expand(home), "airflow.cfg")


def _expand(path: str) -> str:
    """``path`` with ``~`` and environment variables expanded until nothing changes."""
    while True:
        expanded = os.path.expandvars(os.path.expanduser(path))
        if expanded == path:
            return path
        path = expanded


def _hostname(hostname: str | None, netloc: str) -> str:
    """The host of a URI's authority, percent-decoded; a host containing an encoded ``/``
    (a path-like host) is taken from the authority as written, before decoding."""
    host = unquote(hostname or "")
    if "/" in host:
        host = netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        host = unquote(host)
    return host


def _normalized_conn_type(conn_type: str) -> str:
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


def airflow_connection(conn_id: str) -> ConnectionFields:
    """Connection ``conn_id`` as ``airflow connections get`` finds it: in a custom secrets
    backend, an ``AIRFLOW_CONN_*`` variable or the metadata DB. Imports Airflow.

    :raises AirflowNotFoundException: when none of them defines it.
    """
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)
