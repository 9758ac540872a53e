"""The MLflow server dies and comes back on the same store: registrations that were running, or
that start while it is down, fail within the connection's timeout budget with a clear message,
and their Airflow retries after the restart register each task instance exactly once."""

from __future__ import annotations

import threading
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
TIMEOUT_SECONDS = 2
MAX_RETRIES = 1
# Transport backoff, scheduling and the client build on a busy two-core machine.
MARGIN_SECONDS = 5.0
FAIL_BUDGET_SECONDS = TIMEOUT_SECONDS * (MAX_RETRIES + 1) + MARGIN_SECONDS


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


def stop_when_create_arrives(server: MlflowServer, proxy: FaultProxy) -> threading.Thread:
    """Stop ``server`` as soon as a create request reaches ``proxy`` (waits at most 30 s)."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            CREATE in path for _, path in proxy.requests_seen
        ):
            time.sleep(0.01)
        server.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_server_killed_mid_registration_fails_fast_and_retry_after_restart_adds_no_duplicate(
    tmp_path: Path, use_connection: UseConnection, summary_lines: list[str]
) -> None:
    from mlflow import MlflowClient

    server = MlflowServer(tmp_path / "store")
    server.start()
    try:
        server.wait_until_ready()
        with FaultProxy(server.url) as proxy:
            options = {"timeout": TIMEOUT_SECONDS, "max_retries": MAX_RETRIES}
            use_connection("restart_direct", server.url, **options)
            use_connection("restart_proxied", proxy.url, **options)
            model = unique("restart")
            assert register("restart_direct", model, "before", 1)["version"] == "1"

            # The create commits, its reply is held, and the server is killed meanwhile.
            proxy.add_fault("POST", CREATE, "delay_reply", seconds=3 * TIMEOUT_SECONDS)
            watcher = stop_when_create_arrives(server, proxy)
            mid_elapsed, mid_message = timed_failure("restart_proxied", model, "mid")
            watcher.join()
            # A task instance starting while the server is down.
            down_elapsed, down_message = timed_failure("restart_direct", model, "down")

            server = MlflowServer(server.root, port=server.port)
            server.start()
            server.wait_until_ready()
            mid = register("restart_proxied", model, "mid", try_number=2)
            down = register("restart_direct", model, "down", try_number=2)
            stored = MlflowClient(tracking_uri=server.url).search_model_versions(
                f"name = '{model}'"
            )
    finally:
        server.stop()

    summary_lines.append(
        f"server restart: killed mid-create failed after {mid_elapsed:.1f} s, down server "
        f"after {down_elapsed:.1f} s (budget {FAIL_BUDGET_SECONDS:.0f} s): {down_message}"
    )
    for elapsed, message in ((mid_elapsed, mid_message), (down_elapsed, down_message)):
        assert elapsed < FAIL_BUDGET_SECONDS, f"took {elapsed:.1f} s: {message}"
        assert model in message
        assert "could not connect" in message or "timeout" in message, message
    assert (mid["version"], mid["created"]) == ("2", False)  # committed before the crash
    assert mid["lineage"]["airflow.try_number"] == "1"
    assert (down["version"], down["created"]) == ("3", True)
    assert sorted(version.version for version in stored) == ["1", "2", "3"]
    assert len({version.tags[REGISTRATION_KEY_TAG] for version in stored}) == 3
