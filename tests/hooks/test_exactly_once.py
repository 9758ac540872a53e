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

"""Exactly-once registration when the network lies: lost replies, 503s after commit, read
timeouts, searches that miss, and statuses the open-source server never produces (faked by
the fault proxy in front of a real `mlflow server`)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.exceptions import MlflowRequestError, ModelRegistrationError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TaskInstanceLineage
from tests.support.model_versions import lineage, unique

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultKind, FaultProxy
    from tests.support.mlflow_server import MlflowServer

CREATE = "/model-versions/create"
SEARCH = "/model-versions/search"
GET = "/model-versions/get"
# A normal reply on a busy 2-core machine comes well within TIMEOUT_SECONDS; an injected delay
# (DELAY_SECONDS) is far beyond it, so only injected delays time out.
TIMEOUT_SECONDS = 10
DELAY_SECONDS = 3 * TIMEOUT_SECONDS
LOOKUP_HOLD_LIMIT_SECONDS = 60  # a bound on waiting for a held look-up, never reached


@pytest.fixture
def hook(fault_proxy: FaultProxy, use_connection: UseConnection) -> MlflowRegistryHook:
    """A hook reaching the server through the fault proxy, ``TIMEOUT_SECONDS`` timeout, 3 HTTP
    retries."""
    use_connection("faulty", fault_proxy.url, timeout=TIMEOUT_SECONDS, max_retries=3)
    return MlflowRegistryHook(mlflow_conn_id="faulty")


def existing_model(server: MlflowServer, prefix: str) -> str:
    """A new registered model, made with a plain client: the faults below target the create of
    a version of an existing model (the first version of a new model costs one more create,
    answered "does not exist"; see test_lost_reply_of_a_new_models_first_create_...)."""

    model = unique(prefix)
    server.client().create_registered_model(model)
    return model


def versions_of(server: MlflowServer, model: str) -> list[str]:
    found = server.client().search_model_versions(f"name='{model}'")
    return sorted(v.version for v in found)


def creates_sent(proxy: FaultProxy) -> int:
    return sum(1 for method, path in proxy.requests_seen if method == "POST" and CREATE in path)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("drop_reply", {}),
        ("503_after_forward", {}),
        ("500_after_forward", {}),
        ("delay_reply", {"seconds": DELAY_SECONDS}),
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
    model = existing_model(mlflow_server, kind.replace("_", "-"))
    fault_proxy.add_fault("POST", CREATE, kind, **options)
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model))
    assert fault_proxy.faults_injected == 1
    assert record["version"] == "1" and record["created"] is True
    assert versions_of(mlflow_server, model) == ["1"]
    assert creates_sent(fault_proxy) == 1  # neither MLflow's transport nor the hook re-sent it


@pytest.mark.parametrize("kind", ["503_before_forward", "500_before_forward"])
def test_5xx_before_commit_is_resent_once_and_creates_one_version(
    kind: FaultKind, hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    model = existing_model(mlflow_server, "before-commit")
    fault_proxy.add_fault("POST", CREATE, kind)
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model))
    assert record["version"] == "1"
    assert versions_of(mlflow_server, model) == ["1"]
    assert creates_sent(fault_proxy) == 2


def test_lost_reply_of_a_new_models_first_create_still_registers_one_version(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    """For a model that does not exist yet, the first create is answered "does not exist";
    losing that answer must not be taken for a version either."""
    model = unique("new-model")
    fault_proxy.add_fault("POST", CREATE, "drop_reply")
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model))
    assert (record["version"], record["created"]) == ("1", True)
    assert versions_of(mlflow_server, model) == ["1"]


def test_duplicate_from_a_resent_create_is_removed_and_lowest_version_wins(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    """The first create commits but its reply is lost, and the look-up after it misses (as a
    lagging replica could): the re-sent create makes version 2, which must be removed."""
    model = existing_model(mlflow_server, "duplicate")
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
    model = existing_model(mlflow_server, "attempts")
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
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    model = existing_model(mlflow_server, "rejected")
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
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    model = existing_model(mlflow_server, "pending")
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
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    model = existing_model(mlflow_server, "pending-ready")
    fault_proxy.add_fault("POST", CREATE, "rewrite_json", rewrite=_status("PENDING_REGISTRATION"))
    fault_proxy.add_fault("GET", GET, "rewrite_json", rewrite=_status("PENDING_REGISTRATION"))
    record = hook.register_model_version(
        model, "s3://b/m", lineage=lineage(model), await_registration_for=30
    )
    assert record["status"] == "READY"


def test_failed_registration_fails_with_status_message(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    model = existing_model(mlflow_server, "failed")
    fault_proxy.add_fault("POST", CREATE, "rewrite_json", rewrite=_status("PENDING_REGISTRATION"))
    fault_proxy.add_fault(
        "GET", GET, "rewrite_json", rewrite=_status("FAILED_REGISTRATION", "artifact copy failed")
    )
    with pytest.raises(ModelRegistrationError) as raised:
        hook.register_model_version(model, "s3://b/m", lineage=lineage(model))
    message = str(raised.value)
    assert model in message and "FAILED_REGISTRATION" in message
    assert "artifact copy failed" in message


# ------------------------------------------------ exactly once per task instance and source


def mapped_lineage(run_id: str, map_index: int, try_number: int) -> TaskInstanceLineage:
    return TaskInstanceLineage(
        dag_id="d", task_id="t", run_id=run_id, map_index=map_index, try_number=try_number
    )


def test_cleared_task_with_a_new_source_supersedes_its_version_and_moves_the_aliases(
    hook: MlflowRegistryHook, mlflow_server: MlflowServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Try 1 registers s3://b/old; the run is cleared to retrain: try 2 registers s3://b/new
    as a new version that supersedes version 1 and takes the alias; try 3 (a retry) reuses it;
    a clear back to the old source registers again, superseding version 2."""

    model = unique("cleared")
    first = hook.register_model_version(
        model, "s3://b/old", aliases=["staging"], lineage=lineage(model, 1)
    )
    with caplog.at_level("INFO", logger="airflow_mlflow_registry"):
        retrained = hook.register_model_version(
            model, "s3://b/new", aliases=["staging"], lineage=lineage(model, 2)
        )
    retried = hook.register_model_version(
        model, "s3://b/new", aliases=["staging"], lineage=lineage(model, 3)
    )
    reverted = hook.register_model_version(model, "s3://b/old", lineage=lineage(model, 4))

    assert (first["version"], first["created"]) == ("1", True)
    assert (retrained["version"], retrained["created"]) == ("2", True)
    assert retrained["source"] == "s3://b/new"
    assert retrained["lineage"]["airflow.supersedes_version"] == "1"
    assert "supersedes version 1" in caplog.text
    assert retrained["aliases"] == ["staging"]
    plain = mlflow_server.client()
    assert plain.get_model_version_by_alias(model, "staging").version == "2"
    assert (retried["version"], retried["created"]) == ("2", False)
    assert (reverted["version"], reverted["created"]) == ("3", True)
    assert reverted["lineage"]["airflow.supersedes_version"] == "2"
    assert versions_of(mlflow_server, model) == ["1", "2", "3"]


def test_reordered_expand_after_a_clear_registers_each_map_index_its_new_source(
    hook: MlflowRegistryHook, mlflow_server: MlflowServer
) -> None:
    model = unique("reordered")
    shards = ["s3://b/shard-a", "s3://b/shard-b"]
    before = [
        hook.register_model_version(model, uri, lineage=mapped_lineage(model, index, 1))
        for index, uri in enumerate(shards)
    ]
    after = [
        hook.register_model_version(model, uri, lineage=mapped_lineage(model, index, 2))
        for index, uri in enumerate(reversed(shards))
    ]
    assert [r["version"] for r in before] == ["1", "2"]
    assert [(r["version"], r["source"], r["created"]) for r in after] == [
        ("3", shards[1], True),
        ("4", shards[0], True),
    ]
    assert [r["lineage"]["airflow.supersedes_version"] for r in after] == ["1", "2"]
    assert [r["lineage"]["airflow.map_index"] for r in after] == ["0", "1"]
    assert versions_of(mlflow_server, model) == ["1", "2", "3", "4"]


def test_cleared_run_search_task_re_resolves_the_run(
    hook: MlflowRegistryHook, mlflow_server: MlflowServer
) -> None:
    """A run search is resolved on every attempt: a retry with no better run reuses the
    version; after a better run is logged, a clear registers that run's model instead."""

    from airflow_mlflow_registry.hooks.sources import RunSearch

    plain = mlflow_server.client()
    experiment_id = plain.create_experiment(unique("exp"))

    def log_run(accuracy: float) -> str:
        run_id = plain.create_run(experiment_id).info.run_id
        plain.log_metric(run_id, "accuracy", accuracy)
        return run_id

    model = unique("run-search")
    search = RunSearch(experiment_id=experiment_id, order_by=("metrics.accuracy DESC",))
    first_run = log_run(0.8)
    first = hook.register_model_version(model, run_search=search, lineage=lineage(model, 1))
    retried = hook.register_model_version(model, run_search=search, lineage=lineage(model, 2))
    better_run = log_run(0.9)
    cleared = hook.register_model_version(model, run_search=search, lineage=lineage(model, 3))

    assert (first["version"], first["run_id"]) == ("1", first_run)
    assert (retried["version"], retried["created"]) == ("1", False)
    assert (cleared["version"], cleared["created"], cleared["run_id"]) == ("2", True, better_run)
    assert cleared["source"] == f"runs:/{better_run}/model"
    assert cleared["lineage"]["airflow.supersedes_version"] == "1"
    assert cleared["lineage"]["airflow.source_run_id"] == better_run


def test_rerun_record_lists_every_alias_of_the_version(
    hook: MlflowRegistryHook, mlflow_server: MlflowServer
) -> None:
    model = unique("all-aliases")
    hook.register_model_version(model, "s3://b/m", aliases=["staging"], lineage=lineage(model, 1))
    mlflow_server.client().set_registered_model_alias(model, "champion", "1")
    again = hook.register_model_version(
        model, "s3://b/m", aliases=["staging"], lineage=lineage(model, 2)
    )
    assert (again["version"], again["created"]) == ("1", False)
    assert again["aliases"] == ["champion", "staging"]


# ------------------------------------------------ failed registrations never win


def _register_failed_earlier_version(server: MlflowServer, model: str) -> None:
    """Version 1 of ``model`` from an earlier attempt (same key and source); the proxy will
    report it FAILED_REGISTRATION (the open-source server never fails a registration)."""

    plain = server.client()
    plain.create_registered_model(model)
    key = lineage(model).registration_key(model)
    plain.create_model_version(model, "s3://b/m", tags={REGISTRATION_KEY_TAG: key})


def _version_1_failed(body: dict[str, Any]) -> dict[str, Any]:
    for version in body.get("model_versions", []):
        if version["version"] == "1":
            version["status"] = "FAILED_REGISTRATION"
    return body


def test_lookup_after_a_lost_create_reply_skips_a_failed_version(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    model = unique("failed-lookup")
    _register_failed_earlier_version(mlflow_server, model)
    fault_proxy.add_fault("POST", CREATE, "drop_reply")
    fault_proxy.add_fault("GET", SEARCH, "rewrite_json", times=None, rewrite=_version_1_failed)
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model, 2))
    assert (record["version"], record["status"], record["created"]) == ("2", "READY", True)
    assert versions_of(mlflow_server, model) == ["1", "2"]


def test_duplicate_clean_up_keeps_the_good_version_not_a_lower_failed_one(
    hook: MlflowRegistryHook, fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    """The create of version 2 commits but its reply is lost and the look-up after it misses,
    so the re-sent create makes version 3. Version 1 (failed) must neither win nor get
    version 2 deleted: version 2 stays, version 3 goes, version 1 is left alone."""
    model = unique("failed-dedupe")
    _register_failed_earlier_version(mlflow_server, model)
    searches: list[dict[str, Any]] = []

    def miss_the_second_search(body: dict[str, Any]) -> dict[str, Any]:
        searches.append(body)
        return {} if len(searches) == 2 else _version_1_failed(body)

    fault_proxy.add_fault("POST", CREATE, "drop_reply")
    fault_proxy.add_fault("GET", SEARCH, "rewrite_json", times=None, rewrite=miss_the_second_search)
    record = hook.register_model_version(model, "s3://b/m", lineage=lineage(model, 2))
    assert (record["version"], record["status"]) == ("2", "READY")
    assert creates_sent(fault_proxy) == 2
    assert versions_of(mlflow_server, model) == ["1", "2"]


# ------------------------------------------------ overlapping attempts


def test_two_overlapping_attempts_converge_on_one_version(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """Try 2 starts while try 1 is still running (a lost heartbeat, a cleared running task):
    try 2's look-up is answered before try 1 creates, and its reply is held (the proxy blocks
    in the rewrite) until try 1 has registered version 1. Try 2 then creates version 2,
    finds version 1 of the same registration and gives way: one version remains."""

    # The held look-up must not time out: this connection waits longer than the hold limit.
    use_connection("patient", fault_proxy.url, timeout=2 * LOOKUP_HOLD_LIMIT_SECONDS)
    hook = MlflowRegistryHook(mlflow_conn_id="patient")
    model = existing_model(mlflow_server, "overlap")
    lookup_answered = threading.Event()
    release_lookup = threading.Event()
    stale_lookups: list[dict[str, Any]] = []

    def hold_until_released(body: dict[str, Any]) -> dict[str, Any]:
        stale_lookups.append(body)
        lookup_answered.set()
        release_lookup.wait(LOOKUP_HOLD_LIMIT_SECONDS)
        return body

    fault_proxy.add_fault("GET", SEARCH, "rewrite_json", rewrite=hold_until_released)
    records: dict[int, dict[str, Any]] = {}

    def second_try() -> None:
        records[2] = hook.register_model_version(
            model, "s3://b/m", aliases=["staging"], lineage=lineage(model, 2)
        )

    overlapping = threading.Thread(target=second_try)
    overlapping.start()
    try:
        assert lookup_answered.wait(LOOKUP_HOLD_LIMIT_SECONDS)
        records[1] = hook.register_model_version(
            model, "s3://b/m", aliases=["staging"], lineage=lineage(model, 1)
        )
    finally:
        release_lookup.set()
        overlapping.join()

    assert stale_lookups == [{}]  # try 2 really looked before version 1 existed
    assert (records[1]["version"], records[1]["created"]) == ("1", True)
    assert (records[2]["version"], records[2]["created"]) == ("1", False)
    assert creates_sent(fault_proxy) == 2
    assert versions_of(mlflow_server, model) == ["1"]
    plain = mlflow_server.client()
    assert plain.get_model_version_by_alias(model, "staging").version == "1"


def test_concurrent_calls_with_one_idempotency_key_outside_a_task_converge_on_one_version(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """Eight threads (no task) register one source with one ``idempotency_key`` at once: the
    proxy holds every create until all eight have sent theirs, so all looked the key up before
    any create, and the recorded create windows intersect. One version remains, the lowest;
    every call returns it, exactly one with ``created`` true, and the alias is on it."""

    from tests.support.gate_proxy import CREATE_VERSION, GateProxy, barrier_wait, intersect

    threads = 8
    model, key = existing_model(mlflow_server, "same-key"), unique("key")
    with GateProxy(mlflow_server.url) as proxy:
        proxy.hold(CREATE_VERSION, range(1, threads + 1), barrier_wait(threading.Barrier(threads)))
        use_connection("gated", proxy.url, timeout=2 * LOOKUP_HOLD_LIMIT_SECONDS)
        hook = MlflowRegistryHook(mlflow_conn_id="gated")
        records: list[dict[str, Any]] = []

        def register() -> None:
            records.append(
                hook.register_model_version(
                    model, "s3://b/m", aliases=["staging"], idempotency_key=key
                )
            )

        workers = [threading.Thread(target=register) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        creates = proxy.windows(CREATE_VERSION)

    assert len(creates) == threads
    assert intersect(*((window.start, window.end) for window in creates)), creates
    assert [record["version"] for record in records] == ["1"] * threads
    assert sorted(record["created"] for record in records) == [False] * (threads - 1) + [True]
    assert versions_of(mlflow_server, model) == ["1"]
    plain = mlflow_server.client()
    assert plain.get_model_version_by_alias(model, "staging").version == "1"
