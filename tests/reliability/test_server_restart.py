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

"""The MLflow server crashes (SIGKILL) and comes back on the same store: a registration whose
create the server had committed when it died, and one that starts while it is down, fail fast
with a clear message (a few requests, not MLflow's default retries), and their Airflow retries
after the restart register each task instance exactly once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.exceptions import MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TaskInstanceLineage
from tests.support.fault_proxy import FaultProxy
from tests.support.mlflow_server import MlflowServer
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import UseConnection

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

CREATE = "/model-versions/create"
# Only the tries that fail against the dead server use these, so that they fail fast; the
# tries on the healthy server use the connection defaults (a loaded machine can take longer
# than TIMEOUT_SECONDS to answer).
TIMEOUT_SECONDS = 2
MAX_RETRIES = 1
# A bound no load on the test machine reaches (the failures take a few seconds), far below what
# MLflow's defaults take against a dead server (about 247 s).
FAIL_BOUND_SECONDS = 60


def register(conn_id: str, model: str, run_id: str, try_number: int) -> dict[str, Any]:
    """One Airflow try of task instance ``run_id``: a new hook, as in a new worker process."""
    lineage = TaskInstanceLineage("restart", "register", run_id, try_number=try_number)
    return MlflowRegistryHook(conn_id).register_model_version(
        model, f"s3://bucket/{run_id}", lineage=lineage
    )


def timed_failure(conn_id: str, model: str, run_id: str) -> tuple[float, str]:
    """Seconds until try 1 of ``run_id`` failed, and its message."""
    started = time.monotonic()
    with pytest.raises(MlflowRequestError) as raised:
        register(conn_id, model, run_id, try_number=1)
    return time.monotonic() - started, str(raised.value)


def test_server_killed_mid_registration_fails_fast_and_retry_after_restart_adds_no_duplicate(
    tmp_path: Path, use_connection: UseConnection, summary_lines: list[str]
) -> None:
    server = MlflowServer(tmp_path / "store")
    server.start()
    try:
        server.wait_until_ready()
        with FaultProxy(server.url) as proxy:
            use_connection("restart_direct", server.url)
            use_connection("restart_proxied", proxy.url)
            fail_fast = {"timeout": TIMEOUT_SECONDS, "max_retries": MAX_RETRIES}
            use_connection("restart_direct_fail_fast", server.url, **fail_fast)
            use_connection("restart_proxied_fail_fast", proxy.url, **fail_fast)
            model = unique("restart")
            assert register("restart_direct", model, "before", 1)["version"] == "1"

            # The server commits the create and answers; the proxy kills it with SIGKILL
            # before passing the reply on, and drops the reply.
            proxy.add_fault("POST", CREATE, "drop_reply", after_forward=server.kill)
            mid_elapsed, mid_message = timed_failure("restart_proxied_fail_fast", model, "mid")
            mid_requests = len(proxy.requests_seen)
            assert proxy.faults_injected == 1
            # A task instance starting while the server is down.
            down_elapsed, down_message = timed_failure("restart_direct_fail_fast", model, "down")

            server = MlflowServer(server.root, port=server.port)
            server.start()
            server.wait_until_ready()
            mid = register("restart_proxied", model, "mid", try_number=2)
            down = register("restart_direct", model, "down", try_number=2)
            stored = server.client().search_model_versions(f"name = '{model}'")
    finally:
        server.stop()

    summary_lines.append(
        f"server restart: killed mid-create failed after {mid_elapsed:.1f} s and "
        f"{mid_requests} requests, down server after {down_elapsed:.1f} s: {down_message}"
    )
    # The key look-up, the create and the look-up after its lost reply, each sent at most
    # MAX_RETRIES + 1 times: not MLflow's default 8 attempts of each.
    assert mid_requests <= 3 * (MAX_RETRIES + 1), mid_requests
    for elapsed, message in ((mid_elapsed, mid_message), (down_elapsed, down_message)):
        assert elapsed < FAIL_BOUND_SECONDS, f"took {elapsed:.1f} s: {message}"
        assert model in message
        assert "could not connect" in message or "timeout" in message, message
    assert (mid["version"], mid["created"]) == ("2", False)  # committed before the crash
    assert mid["lineage"]["airflow.try_number"] == "1"
    assert (down["version"], down["created"]) == ("3", True)
    assert sorted(version.version for version in stored) == ["1", "2", "3"]
    assert len({version.tags[REGISTRATION_KEY_TAG] for version in stored}) == 3
