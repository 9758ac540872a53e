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

"""`airflow connections test` (the UI's Test button, from the CLI) on real servers."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.support.airflow_env import connection_env_var, connection_json

if TYPE_CHECKING:
    from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.e2e


def test_airflow_connections_test_reports_success_wrong_password_and_unreachable_host(
    auth_mlflow_server: MlflowServer, unused_port: int, airflow_env: dict[str, str]
) -> None:
    wrong_password = "definitely-wrong-password"
    connections = {
        "cli_good": connection_json(
            auth_mlflow_server.url, **auth_mlflow_server.sign_in_as("alice")
        ),
        "cli_wrong_password": connection_json(
            auth_mlflow_server.url, login="alice", password=wrong_password
        ),
        "cli_unreachable": connection_json(f"http://127.0.0.1:{unused_port}"),
    }
    env = {**airflow_env, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
    env.update({connection_env_var(conn_id): value for conn_id, value in connections.items()})
    # The three CLI processes run side by side: each spends ~10 s importing Airflow.
    processes = {
        conn_id: subprocess.Popen(
            [sys.executable, "-m", "airflow", "connections", "test", conn_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for conn_id in connections
    }
    results = {
        conn_id: (p.communicate(timeout=180)[0], p.returncode) for conn_id, p in processes.items()
    }

    output, code = results["cli_good"]
    assert code == 0 and "Connection success!" in output, output

    output, code = results["cli_wrong_password"]
    assert code != 0 and "Connection failed!" in output, output
    assert "authentication failed" in output
    assert wrong_password not in output

    output, code = results["cli_unreachable"]
    assert code != 0 and "could not connect" in output, output
