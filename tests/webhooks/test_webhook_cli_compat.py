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

"""The ``webhooks`` commands on an ``mlflow-skinny`` without MLflow's webhook API (before 3.3):
a refusal that says what to upgrade. Marked ``compat``: the matrix entries with an older client
run it; with a 3.3+ client it is skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.cli import EXIT_FAILED
from airflow_mlflow_registry.hooks.client.mlflow_compat import supports_webhooks
from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.cli import run_cli_in_process

if TYPE_CHECKING:
    from collections.abc import Sequence

CONN_ID = "mlflow_old_client"


@pytest.mark.compat
@pytest.mark.parametrize(
    "command",
    [("webhooks", "list"), ("webhooks", "test", "w-1"), ("webhooks", "delete", "w-1")],
    ids=["list", "test", "delete"],
)
def test_webhook_commands_refuse_a_client_without_the_webhook_api(
    command: Sequence[str], unused_port: int, airflow_env: dict[str, str]
) -> None:
    from mlflow import MlflowClient

    if supports_webhooks(MlflowClient):
        pytest.skip("this mlflow-skinny has the webhook API (3.3+)")
    # Nothing listens there: the refusal must come before any request.
    server = f"http://127.0.0.1:{unused_port}"
    env = {
        **airflow_env,
        connection_env_var(CONN_ID): connection_json(server, max_retries=0, timeout=2),
    }
    [result] = run_cli_in_process(env, [*command, "--conn-id", CONN_ID])
    assert result.code == EXIT_FAILED, result
    assert "need mlflow-skinny 3.3 or newer" in result.stderr, result.stderr
