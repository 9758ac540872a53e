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

"""`connection_env` reads `AIRFLOW_CONN_*` without Airflow and must give exactly the connection
Airflow's own look-up gives (the hook's `BaseHook.get_connection`), or leave the value to Airflow.

Each value is read both ways in this process; no server is needed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.hooks.client.connection_env import (
    custom_secrets_backend_configured,
    environment_connection,
)
from airflow_mlflow_registry.version_compat import AirflowNotFoundException, BaseHook

if TYPE_CHECKING:
    from pathlib import Path

CONN_ID = "env_parity"
FIELDS = ("conn_id", "conn_type", "description", "host", "schema", "login", "password", "port")

URI_VALUES = [
    "mlflow://mlflow.example.com:5000/prefix",
    "mlflow://alice:p%40ss%2Fw%3Ard%20x@mlflow.example.com:443/api?token=abc&timeout=5",
    "mlflow://https://mlflow.example.com",
    "mlflow://http://127.0.0.1%3A5000",  # Airflow's get_uri() of host http://127.0.0.1:5000
    "mlflow://https://alice:p%3Aw@mlflow.example.com:8443/base",
    "mlflow://https%3A%2F%2Fmlflow.example.com%2Fpath",  # an encoded '/' in the host
    "mlflow://user@h%2Fost:5000/x",
    "mlflow://?__extra__=%7B%22token%22%3A+%22t%22%2C+%22timeout%22%3A+3%7D",
    "mlflow://host/?insecure_tls=true&ca_bundle_path=%2Fetc%2Fca.pem",
    "mlflow://host?a=1&a=2&flag",
    "mlflow://host/sch%2Fema?__extra__=not-json",
    "mlflow-custom://host",
    "postgresql://u:p@db:5432/mlflow",
    "mlflow://:only-a-password@host",
    "mlflow://h%C3%A9st/x?k=%20v",
    "databricks",
    "  mlflow://padded.example.com  ",
    '["not", "json"]',
]
JSON_VALUES = [
    {
        "conn_type": "mlflow",
        "host": "http://127.0.0.1:5000",
        "login": "alice",
        "password": "p@ss/word",
        "extra": {"timeout": 3, "token": None},
    },
    {"conn_type": "my-type", "port": "5000", "extra": json.dumps({"token": "x"})},
    {"host": "h", "port": 0, "extra": {}, "description": "d", "schema": "s"},
    {"host": "h", "extra": "not json"},
    {"conn_type": "postgresql", "host": "db", "password": None},
]
# Values Airflow's look-up rejects (reported as "not defined"): left to Airflow.
REJECTED_VALUES = [
    "mlflow://host:notaport",
    "a://b://c://d",
    "mlflow://us:er@https://host",
    "mlflow://alice:pw@https://mlflow.example.com:8443/base",
    json.dumps({"host": "h", "port": "abc"}),
    json.dumps({"host": "h", "unknown_field": 1}),
    "{not json",
    "   ",
]


def airflow_reads(conn_id: str) -> dict[str, object] | None:
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    return {**{f: getattr(conn, f) for f in FIELDS}, "extra": conn.extra, "x": conn.extra_dejson}


def environment_reads(conn_id: str) -> dict[str, object] | None:
    conn = environment_connection(conn_id)
    if conn is None:
        return None
    return {**{f: getattr(conn, f) for f in FIELDS}, "extra": conn.extra, "x": conn.extra_dejson}


@pytest.mark.parametrize(
    "value", [*URI_VALUES, *(json.dumps(fields) for fields in JSON_VALUES)], ids=repr
)
def test_environment_connection_has_the_fields_airflow_parses(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", value)
    expected = airflow_reads(CONN_ID)
    assert expected is not None, "Airflow parses this value"
    assert environment_reads(CONN_ID) == expected


@pytest.mark.parametrize("value", REJECTED_VALUES, ids=repr)
def test_values_airflow_rejects_are_left_to_airflow(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", value)
    assert airflow_reads(CONN_ID) is None
    assert environment_reads(CONN_ID) is None


def test_a_custom_secrets_backend_in_the_environment_or_airflow_cfg_leaves_it_to_airflow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", "mlflow://host")
    config = tmp_path / "airflow.cfg"
    monkeypatch.setenv("AIRFLOW_CONFIG", str(config))
    for name in ("AIRFLOW__SECRETS__BACKEND", "AIRFLOW__WORKERS__SECRETS_BACKEND_CMD"):
        monkeypatch.delenv(name, raising=False)
    assert environment_connection(CONN_ID) is not None  # no airflow.cfg at all

    config.write_text('[secrets]\nbackend =\nbackend_kwargs = {"a": 1}\n')
    assert not custom_secrets_backend_configured()
    assert environment_connection(CONN_ID) is not None

    config.write_text("[secrets]\nbackend = my.vault.Backend\n")
    assert custom_secrets_backend_configured()
    assert environment_connection(CONN_ID) is None

    config.write_text("[workers]\nsecrets_backend = my.vault.Backend\n")
    assert environment_connection(CONN_ID) is None

    config.write_text("[secrets\nbroken")
    assert environment_connection(CONN_ID) is None

    config.write_text("")
    monkeypatch.setenv("AIRFLOW__WORKERS__SECRETS_BACKEND_CMD", "cat /run/backend-name")
    assert environment_connection(CONN_ID) is None
    monkeypatch.delenv("AIRFLOW__WORKERS__SECRETS_BACKEND_CMD")
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", "my.vault.Backend")
    assert environment_connection(CONN_ID) is None


def test_a_team_connection_id_is_left_to_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TEAM___X", "mlflow://host")
    assert environment_connection("team___x") is None
