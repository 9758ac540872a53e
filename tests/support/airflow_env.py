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

"""Airflow connections for tests, written as ``AIRFLOW_CONN_<ID>`` JSON the way users do."""

from __future__ import annotations

import json
from typing import Any

#: Airflow's signing secret in the tests (Airflow variable ``mlflow_registry_signing_secret``,
#: set in the environment of the test process and of the e2e deployment): tests that forge
#: records use it to compute what a forger could copy.
SIGNING_SECRET = "e2e-deployment-signing-secret-0123456789"


def connection_env_var(conn_id: str) -> str:
    """The environment variable Airflow reads connection ``conn_id`` from."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_json(host: str, **fields: Any) -> str:
    """JSON form of an ``mlflow`` connection; ``login``/``password``/``port`` are top-level
    fields, anything else goes to ``extra``."""
    top = {key: fields.pop(key) for key in ("login", "password", "port") if key in fields}
    return json.dumps({"conn_type": "mlflow", "host": host, **top, "extra": fields})
