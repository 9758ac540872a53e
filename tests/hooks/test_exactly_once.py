"""Exactly-once registration when the network lies: lost replies, 503s after commit, read
timeouts, searches that miss, and statuses the open-source server never produces (faked by
the fault proxy in front of a real `mlflow server`)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.exceptions import MlflowRequestError, ModelRegistrationError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.lineage import TaskInstanceLineage

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultKind, FaultProxy
    from tests.support.mlflow_server import MlflowServer

CREATE = "/model-versions/create"
SEARCH = "/model-versions/search"
GET = "/model-versions/get"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def lineage(run_id: str, try_number: int = 1) -> TaskInstanceLineage:
    return TaskInstanceLineage(dag_id="d", task_id="t", run_id=run_id, try_number=try_number)


@pytest.fixture
def hook(fault_proxy: FaultProxy, use_connection: UseConnection) -> MlflowRegistryHook:
    """A hook reaching the server through the fault proxy, 1 s timeout, 3 HTTP retries."""
    use_connection("faulty", fault_proxy.url, timeout=1, max_retries=3)
    return MlflowRegistryHook(mlflow_conn_id="faulty")


def versions_of(server: MlflowServer, model: str) -> list[str]:
    from mlflow import MlflowClient

    found = MlflowClient(tracking_uri=server.url).search_model_versions(f"name='{model}'")
    return sorted(v.version for v in found)


def creates_sent(proxy: FaultProxy) -> int:
    return sum(1 for method, path in proxy.requests_seen if method == "POST" and CREATE in path)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("drop_reply", {}),
        ("503_after_forward", {}),
        ("delay_reply", {"seconds": 2.5}),
    ],
)
@pytest.mark.compat
def test_create_committed_but_reply_lost_returns_that_version_without_resending(
    kind: FaultKind,
    options: dict[str, Any],
    hook: MlflowRegistryHook,
    fault_proxy: FaultProxy,
    mlflow_server: MlflowServer,
) -> None:
    model = unique(kind.replace("_", "-"))
    fault_proxy.add_fault("POST", CREATE, kind, **options)
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model))
    assert fault_proxy.faults_injected == 1
    assert record["version"] == "1" and record["created"] is True
    assert versions_of(mlflow_server, model) == ["1"]
    assert creates_sent(fault_proxy) == 1  # neither MLflow's transport nor the hook re-sent it


def test_503_before_commit_is_resent_once_and_creates_one_version(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    model = unique("before-commit")
    fault_proxy.add_fault("POST", CREATE, "503_before_forward")
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model))
    assert record["version"] == "1"
    assert versions_of(mlflow_server, model) == ["1"]
    assert creates_sent(fault_proxy) == 2


def test_duplicate_from_a_resent_create_is_removed_and_lowest_version_wins(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    """The first create commits but its reply is lost, and the look-up after it misses (as a
    lagging replica could): the re-sent create makes version 2, which must be removed."""
    model = unique("duplicate")
    fault_proxy.add_fault("POST", CREATE, "drop_reply")
    # Search 1 is the up-front look-up, search 2 the look-up after the lost reply.
    fault_proxy.add_fault("GET", SEARCH, "rewrite_json", times=2, rewrite=lambda body: {})
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model))
    assert record["version"] == "1"
    assert versions_of(mlflow_server, model) == ["1"]
    assert creates_sent(fault_proxy) == 2


def test_later_attempt_reuses_version_even_after_first_attempt_lost_its_reply(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    model = unique("attempts")
    searches = []

    def garble_after_first(body: dict[str, Any]) -> dict[str, Any]:
        searches.append(body)
        return body if len(searches) == 1 else {"model_versions": "unreadable"}

    # Attempt 1: the look-up passes, the create commits but its reply is lost, and every
    # look-up after that fails, so the attempt cannot tell and must fail.
    fault_proxy.add_fault("POST", CREATE, "drop_reply")
    fault_proxy.add_fault("GET", SEARCH, "rewrite_json", times=None, rewrite=garble_after_first)
    with pytest.raises(MlflowRequestError, match=model):
        hook.register_model_version(model, "s3://b/m", lineage=lineage(model, 1))
    fault_proxy.clear_faults()
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model, 2))
    assert (record["version"], record["created"]) == ("1", False)
    assert record["lineage"]["airflow.try_number"] == "1"
    assert versions_of(mlflow_server, model) == ["1"]


def test_rejected_create_fails_at_once_naming_the_model(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    model = unique("rejected")
    with pytest.raises(MlflowRequestError, match=model) as raised:
        hook.register_model_version(model, "file:///tmp/model", lineage=lineage(model))
    assert "file:///tmp/model" in str(raised.value)
    assert creates_sent(fault_proxy) == 1


def _status(status: str, message: str = "") -> Any:
    def rewrite(body: dict[str, Any]) -> dict[str, Any]:
        body["model_version"]["status"] = status
        body["model_version"]["status_message"] = message
        return body

    return rewrite


def test_version_stuck_pending_times_out_with_model_version_and_status(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    model = unique("pending")
    fault_proxy.add_fault("POST", CREATE, "rewrite_json", rewrite=_status("PENDING_REGISTRATION"))
    fault_proxy.add_fault(
        "GET", GET, "rewrite_json", times=None, rewrite=_status("PENDING_REGISTRATION", "copying")
    )
    with pytest.raises(ModelRegistrationError) as raised:
        hook.register_model_version(
            model, "s3://b/m", lineage=lineage(model), await_registration_for=1
        )
    message = str(raised.value)
    assert model in message and "version 1" in message
    assert "PENDING_REGISTRATION" in message and "copying" in message


def test_pending_version_that_becomes_ready_is_returned(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    model = unique("pending-ready")
    fault_proxy.add_fault("POST", CREATE, "rewrite_json", rewrite=_status("PENDING_REGISTRATION"))
    fault_proxy.add_fault("GET", GET, "rewrite_json", rewrite=_status("PENDING_REGISTRATION"))
    record = hook.register_model_version(
        model, "s3://b/m", lineage=lineage(model), await_registration_for=30
    )
    assert record["status"] == "READY"


def test_failed_registration_fails_with_status_message(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    model = unique("failed")
    fault_proxy.add_fault("POST", CREATE, "rewrite_json", rewrite=_status("PENDING_REGISTRATION"))
    fault_proxy.add_fault(
        "GET", GET, "rewrite_json", rewrite=_status("FAILED_REGISTRATION", "artifact copy failed")
    )
    with pytest.raises(ModelRegistrationError) as raised:
        hook.register_model_version(model, "s3://b/m", lineage=lineage(model))
    message = str(raised.value)
    assert model in message and "FAILED_REGISTRATION" in message
    assert "artifact copy failed" in message
