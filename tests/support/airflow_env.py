"""Airflow connections for tests, written as ``AIRFLOW_CONN_<ID>`` JSON the way users do."""

from __future__ import annotations

import json
from typing import Any


def connection_env_var(conn_id: str) -> str:
    """The environment variable Airflow reads connection ``conn_id`` from."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_json(host: str, **fields: Any) -> str:
    """JSON form of an ``mlflow`` connection; ``login``/``password``/``port`` are top-level
    fields, anything else goes to ``extra``."""
    top = {key: fields.pop(key) for key in ("login", "password", "port") if key in fields}
    return json.dumps({"conn_type": "mlflow", "host": host, **top, "extra": fields})
