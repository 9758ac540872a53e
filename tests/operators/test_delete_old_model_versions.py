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

"""Retention against a real `mlflow server`: ``DeleteOldModelVersionsOperator`` and
``hook.delete_expired_versions`` delete by rule, spare aliased versions, dry-run, filter by
tags, survive a partial run and lost replies, and stay within a bounded number of requests."""

from __future__ import annotations

import itertools
import math
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_mlflow_registry.exceptions import MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.operators import DeleteOldModelVersionsOperator
from airflow_mlflow_registry.retention import RetentionRule, parse_duration
from airflow_mlflow_registry.utils.openlineage_facets import deleted_versions_lineage
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.ledger import forge_entry
from tests.support.model_versions import add_version, set_version_status, unique

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer

START = pendulum.datetime(2026, 1, 1, tz="UTC")
DELETE = "/model-versions/delete"
SEARCH = "/model-versions/search"
ALIASES = "/registered-models/get"


def model_with_versions(
    client: MlflowClient, count: int, tags: dict[int, dict[str, str]] | None = None
) -> str:
    """A new model with versions 1..``count`` (``tags[n]`` on version n) of one run, made with
    a plain client (one request per version)."""
    model = unique("retention")
    assert add_version(client, model, tags=(tags or {}).get(1)) == "1"
    first = client.get_model_version(model, "1")
    for number in range(2, count + 1):
        version = client.create_model_version(
            model, first.source, run_id=first.run_id, tags=(tags or {}).get(number)
        )
        assert version.version == str(number)
    return model


def versions_left(client: MlflowClient, model: str) -> list[int]:
    return sorted(int(mv.version) for mv in client.search_model_versions(f"name = '{model}'"))


def deleted(record: dict[str, Any], key: str = "deleted") -> list[int]:
    return [int(entry["version"]) for entry in record[key]]


@pytest.fixture
def hook(default_registry: MlflowClient) -> MlflowRegistryHook:
    return MlflowRegistryHook()


@pytest.fixture
def proxied_hook(fault_proxy: FaultProxy, use_connection: UseConnection) -> MlflowRegistryHook:
    """A hook reaching the server through the fault proxy, with 2 HTTP retries."""
    use_connection("retention_proxy", fault_proxy.url, timeout=10, max_retries=2)
    return MlflowRegistryHook(mlflow_conn_id="retention_proxy")


# ------------------------------------------------------------------------------- the rule


def test_keep_latest_deletes_the_oldest_but_never_a_version_an_alias_points_at(
    default_registry: MlflowClient, hook: MlflowRegistryHook
) -> None:
    model = model_with_versions(default_registry, 6)
    default_registry.set_registered_model_alias(model, "production", "2")
    record = hook.delete_expired_versions(model, RetentionRule.of(keep_latest=2))
    assert deleted(record) == [1, 3, 4]
    assert record["protected"] == [{"version": "2", "reason": "alias 'production'"}]
    assert (record["examined"], record["remaining"], record["dry_run"]) == (6, 0, False)
    assert versions_left(default_registry, model) == [2, 5, 6]
    assert default_registry.get_model_version_by_alias(model, "production").version == "2"


def test_the_last_holders_of_each_alias_by_the_verified_ledger_are_kept(
    default_registry: MlflowClient, hook: MlflowRegistryHook
) -> None:
    """``champion`` moved 1 -> 2 -> 3 -> 4 through the provider: with the default
    ``keep_alias_holders`` (3) versions 4 (the holder), 3 and 2 stay, so a rollback two steps
    back still finds its target. A forged entry naming version 5 as a holder protects nothing,
    and ``keep_alias_holders=0`` keeps only what an alias points at."""
    model = model_with_versions(default_registry, 7)
    for version in ("1", "2", "3", "4"):
        hook.set_model_version_alias(model, "champion", version)
    forge_entry(default_registry, model, "champion", "4", "5", at=time.time_ns() // 1_000_000)
    rule = RetentionRule.of(keep_latest=1)
    assert rule.keep_alias_holders == 3
    record = hook.delete_expired_versions(model, rule, dry_run=True)
    assert deleted(record, "would_delete") == [1, 5, 6]
    assert record["protected"] == [
        {"version": "4", "reason": "alias 'champion'"},
        {"version": "3", "reason": "recent holder of alias 'champion'"},
        {"version": "2", "reason": "recent holder of alias 'champion'"},
    ]
    assert record["rule"]["keep_alias_holders"] == 3
    none_kept = hook.delete_expired_versions(
        model, RetentionRule.of(keep_latest=1, keep_alias_holders=0)
    )
    assert deleted(none_kept) == [1, 2, 3, 5, 6]
    assert versions_left(default_registry, model) == [4, 7]


def test_dry_run_deletes_nothing_and_lists_what_would_go(
    default_registry: MlflowClient, hook: MlflowRegistryHook
) -> None:
    model = model_with_versions(default_registry, 4)
    record = hook.delete_expired_versions(model, RetentionRule.of(keep_latest=1), dry_run=True)
    assert deleted(record, "would_delete") == [1, 2, 3]
    assert record["deleted"] == [] and record["dry_run"] is True
    assert versions_left(default_registry, model) == [1, 2, 3, 4]


def test_tag_filter_ranks_and_deletes_only_the_tagged_versions(
    default_registry: MlflowClient, hook: MlflowRegistryHook
) -> None:
    candidate = {"stage": "candidate"}
    model = model_with_versions(
        default_registry, 5, tags={1: candidate, 2: candidate, 4: candidate, 5: candidate}
    )
    rule = RetentionRule.of(keep_latest=1, tags={"stage": "candidate"})
    record = hook.delete_expired_versions(model, rule)
    assert deleted(record) == [1, 2, 4]
    assert record["examined"] == 4
    assert versions_left(default_registry, model) == [3, 5]


def test_older_than_deletes_versions_registered_before_the_cutoff_and_keep_latest_still_holds(
    default_registry: MlflowClient, hook: MlflowRegistryHook
) -> None:
    model = unique("retention-age")
    for _ in range(4):
        add_version(default_registry, model)
        time.sleep(0.05)  # distinct creation times (milliseconds)
    third = default_registry.get_model_version(model, "3").creation_timestamp
    # As of one day after version 3 was registered, versions 1 and 2 are older than a day.
    now = pendulum.from_timestamp(third / 1000, tz="UTC") + timedelta(days=1)
    rule = RetentionRule.of(older_than="P1D")
    dry = hook.delete_expired_versions(model, rule, now=now, dry_run=True)
    assert deleted(dry, "would_delete") == [1, 2]
    assert dry["cutoff"] == pendulum.from_timestamp(third / 1000, tz="UTC").isoformat()
    # With keep_latest=3 too, version 2 is among the three newest: only version 1 goes.
    both = RetentionRule.of(older_than="P1D", keep_latest=3)
    assert deleted(hook.delete_expired_versions(model, both, now=now)) == [1]
    assert versions_left(default_registry, model) == [2, 3, 4]


def test_max_deletions_deletes_the_oldest_and_counts_the_rest(
    default_registry: MlflowClient, hook: MlflowRegistryHook
) -> None:
    model = model_with_versions(default_registry, 5)
    rule = RetentionRule.of(keep_latest=1)
    first = hook.delete_expired_versions(model, rule, max_deletions=3)
    assert (deleted(first), first["remaining"]) == ([1, 2, 3], 1)
    second = hook.delete_expired_versions(model, rule, max_deletions=3)
    assert (deleted(second), second["remaining"]) == ([4], 0)
    assert versions_left(default_registry, model) == [5]


def test_keep_latest_counts_only_ready_versions_keeps_pending_and_deletes_failed(
    default_registry: MlflowClient,
    hook: MlflowRegistryHook,
    mlflow_server: MlflowServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Version 4 (the newest) is still PENDING_REGISTRATION and version 2 FAILED_REGISTRATION:
    keep_latest=1 keeps version 3, the newest READY one, never deletes the pending one, and
    deletes the failed one, saying so."""
    model = model_with_versions(default_registry, 4)
    set_version_status(mlflow_server.backend_store_uri, model, "2", "FAILED_REGISTRATION")
    set_version_status(mlflow_server.backend_store_uri, model, "4", "PENDING_REGISTRATION")
    with caplog.at_level("INFO", logger="airflow_mlflow_registry.retention"):
        record = hook.delete_expired_versions(model, RetentionRule.of(keep_latest=1))
    assert deleted(record) == [1, 2]
    assert [entry["status"] for entry in record["deleted"]] == ["READY", "FAILED_REGISTRATION"]
    assert record["failed_registrations_deleted"] == ["2"]
    assert record["protected"] == [{"version": "4", "reason": "PENDING_REGISTRATION"}]
    assert versions_left(default_registry, model) == [3, 4]
    assert f"Model {model!r} version 2 failed its registration (FAILED_REGISTRATION)" in caplog.text


def test_read_only_user_gets_a_permission_error_naming_the_fix_and_nothing_is_deleted(
    auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """A real 403 from the basic-auth server: alice may read the admin's model (default
    permission READ) but not delete its versions."""
    server = auth_mlflow_server
    use_connection("retention_admin", server.url, login="admin", password=server.admin_password)
    alice_password = server.passwords["alice"]
    use_connection("retention_alice", server.url, login="alice", password=alice_password)
    admin = MlflowRegistryHook(mlflow_conn_id="retention_admin").get_conn()
    model = model_with_versions(admin, 3)
    alice = MlflowRegistryHook(mlflow_conn_id="retention_alice")
    with pytest.raises(MlflowRequestError) as raised:
        alice.delete_expired_versions(model, RetentionRule.of(keep_latest=1))
    message = str(raised.value)
    assert f"Deleting model {model!r} version 1" in message
    assert "MANAGE permission" in message and "permission denied (HTTP 403)" in message
    assert alice_password not in message and server.admin_password not in message
    assert versions_left(admin, model) == [1, 2, 3]


# ------------------------------------------------------------------- retries and races


def test_retry_after_a_partial_run_deletes_the_rest_and_nothing_else(
    default_registry: MlflowClient, proxied_hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    model = model_with_versions(default_registry, 6)
    rule = RetentionRule.of(keep_latest=2)
    # The third delete (version 3) is refused: the attempt fails after two deletions.
    fault_proxy.add_fault("DELETE", DELETE, "403_before_forward", body_contains='"version": "3"')
    with pytest.raises(MlflowRequestError, match=rf"{model}.*version 3.*MANAGE"):
        proxied_hook.delete_expired_versions(model, rule)
    assert versions_left(default_registry, model) == [3, 4, 5, 6]
    retry = proxied_hook.delete_expired_versions(model, rule)
    assert deleted(retry) == [3, 4]
    assert versions_left(default_registry, model) == [5, 6]
    again = proxied_hook.delete_expired_versions(model, rule)
    assert (again["deleted"], again["would_delete"], again["examined"]) == ([], [], 2)


def test_delete_whose_reply_was_lost_counts_as_already_gone(
    default_registry: MlflowClient, proxied_hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    """The server deletes version 1 but the reply is lost; the transport re-sends the
    (idempotent) delete, which the server answers RESOURCE_DOES_NOT_EXIST."""
    model = model_with_versions(default_registry, 3)
    fault_proxy.add_fault("DELETE", DELETE, "drop_reply")
    record = proxied_hook.delete_expired_versions(model, RetentionRule.of(keep_latest=1))
    assert fault_proxy.faults_injected == 1
    assert (record["already_gone"], deleted(record)) == (["1"], [2])
    assert versions_left(default_registry, model) == [3]


def test_version_aliased_after_the_search_is_kept(
    default_registry: MlflowClient, proxied_hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    """The aliases are read again right before deleting: an alias set after the search (here:
    hidden from the search's read of the model) still protects its version."""
    model = model_with_versions(default_registry, 4)
    default_registry.set_registered_model_alias(model, "champion", "1")

    def without_aliases(body: dict[str, Any]) -> dict[str, Any]:
        body["registered_model"].pop("aliases", None)
        return body

    fault_proxy.add_fault("GET", "/registered-models/get", "rewrite_json", rewrite=without_aliases)
    record = proxied_hook.delete_expired_versions(model, RetentionRule.of(keep_latest=1))
    assert fault_proxy.faults_injected == 1
    assert deleted(record) == [2, 3]
    assert record["protected"] == [{"version": "1", "reason": "alias 'champion'"}]
    assert versions_left(default_registry, model) == [1, 4]


def test_alias_moved_onto_an_expired_version_while_retention_runs_keeps_version_and_alias(
    default_registry: MlflowClient, proxied_hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    """30 versions, keep_latest=5, `production` on version 30. Right after the server deleted
    version 3 (before its reply reaches retention), a rollback moves `production` onto
    version 20: retention must keep version 20, and with it the alias."""
    model = model_with_versions(default_registry, 30)
    default_registry.set_registered_model_alias(model, "production", "30")

    def rollback(body: dict[str, Any]) -> dict[str, Any]:
        default_registry.set_registered_model_alias(model, "production", "20")
        return body

    fault_proxy.add_fault(
        "DELETE", DELETE, "rewrite_json", rewrite=rollback, body_contains='"version": "3"'
    )
    record = proxied_hook.delete_expired_versions(model, RetentionRule.of(keep_latest=5))
    assert fault_proxy.faults_injected == 1
    assert deleted(record) == [n for n in range(1, 26) if n != 20]
    assert record["protected"] == [{"version": "20", "reason": "alias 'production'"}]
    assert versions_left(default_registry, model) == [20, 26, 27, 28, 29, 30]
    assert default_registry.get_model_version_by_alias(model, "production").version == "20"


def on_the_second_call(action: Callable[[], None]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A ``rewrite_json`` callback that runs ``action`` when the second matching reply passes
    (the first read of the model's aliases is the search's; the second, the check before the
    first delete, with ``keep_alias_holders=0``: no read of the ledger) and leaves every reply
    unchanged."""
    calls = itertools.count(1)

    def rewrite(body: dict[str, Any]) -> dict[str, Any]:
        if next(calls) == 2:
            action()
        return body

    return rewrite


def test_refused_delete_is_sent_again_only_after_a_fresh_check_of_the_aliases(
    default_registry: MlflowClient, proxied_hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    """`champion` is moved onto version 1 just after retention's check before deleting it was
    answered, and the delete of version 1 is refused with a 503 before reaching the server.
    The delete is not re-sent blindly after a back-off (which would widen the window to
    seconds): the aliases are read again first, and version 1 is kept."""
    model = model_with_versions(default_registry, 3)
    move = on_the_second_call(
        lambda: default_registry.set_registered_model_alias(model, "champion", "1")
    )
    fault_proxy.add_fault("GET", ALIASES, "rewrite_json", times=2, rewrite=move)
    fault_proxy.add_fault("DELETE", DELETE, "503_before_forward", body_contains='"version": "1"')
    record = proxied_hook.delete_expired_versions(
        model, RetentionRule.of(keep_latest=1, keep_alias_holders=0)
    )
    assert fault_proxy.faults_injected == 3
    assert deleted(record) == [2]
    assert record["protected"] == [{"version": "1", "reason": "alias 'champion'"}]
    assert record["aliases_vanished"] == []
    assert versions_left(default_registry, model) == [1, 3]
    assert default_registry.get_model_version_by_alias(model, "champion").version == "1"


def test_alias_moved_between_the_check_and_the_delete_is_lost_and_reported(
    default_registry: MlflowClient,
    proxied_hook: MlflowRegistryHook,
    fault_proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The window MLflow leaves open: `production` (on version 3) is moved onto version 1
    after the server answered retention's check before deleting version 1. MLflow deletes it
    with version 1; retention finds it missing at its next read and reports it."""
    model = model_with_versions(default_registry, 3)
    default_registry.set_registered_model_alias(model, "production", "3")
    move = on_the_second_call(
        lambda: default_registry.set_registered_model_alias(model, "production", "1")
    )
    fault_proxy.add_fault("GET", ALIASES, "rewrite_json", times=2, rewrite=move)
    with caplog.at_level("ERROR", logger="airflow_mlflow_registry.retention"):
        record = proxied_hook.delete_expired_versions(
            model, RetentionRule.of(keep_latest=1, keep_alias_holders=0)
        )
    assert deleted(record) == [1, 2]
    assert record["aliases_vanished"] == [
        {"alias": "production", "pointed_at": "3", "while_deleting": "1"}
    ]
    assert "alias 'production' (on version 3 before) disappeared while version 1" in caplog.text
    assert default_registry.get_registered_model(model).aliases == {}


def test_requests_are_paged_searches_and_two_per_deletion_never_one_per_version(
    default_registry: MlflowClient, proxied_hook: MlflowRegistryHook, fault_proxy: FaultProxy
) -> None:
    model = model_with_versions(default_registry, 7)
    fault_proxy.reset_counts()
    record = proxied_hook.delete_expired_versions(
        model, RetentionRule.of(keep_latest=5), page_size=3
    )
    assert deleted(record) == [1, 2]
    paths = [path.split("?")[0] for _, path in fault_proxy.requests_seen]
    assert paths.count("/api/2.0/mlflow/model-versions/search") == math.ceil(7 / 3)
    # The aliases are read with the search, the ledger once (for the recent holders of each
    # alias), the aliases again before each deletion and once after the last.
    assert paths.count("/api/2.0/mlflow/registered-models/get") == 1 + 1 + 2 + 1
    assert paths.count("/api/2.0/mlflow/model-versions/delete") == 2
    assert len(paths) == 3 + 1 + 1 + 2 * 2 + 1


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("arguments", "field", "fix"),
    [
        ({}, "keep_latest", "older_than"),
        ({"keep_latest": -1}, "keep_latest", "keep_latest=10"),
        ({"keep_latest": "ten"}, "keep_latest", "keep_latest=10"),
        ({"older_than": "30 days"}, "older_than", "P30D"),
        ({"older_than": "P1Y"}, "older_than", "P30D"),
        ({"older_than": -60}, "older_than", "P30D"),
        ({"older_than": "P9999999999D"}, "older_than", "P30D"),
        ({"older_than": 1e20}, "older_than", "P30D"),
        ({"keep_latest": 3, "tags": {"note": "it's"}}, "tags", "without quotes"),
        ({"keep_latest": 3, "max_deletions": 0}, "max_deletions", ">= 1"),
    ],
)
def test_bad_arguments_fail_at_parse_time_naming_the_field_and_the_fix(
    arguments: dict[str, Any], field: str, fix: str
) -> None:
    with pytest.raises(ValueError) as raised:
        DeleteOldModelVersionsOperator(task_id="retention", model_name="m", **arguments)
    assert field in str(raised.value) and fix in str(raised.value)


def test_templated_rule_is_checked_after_rendering() -> None:
    operator = DeleteOldModelVersionsOperator(
        task_id="retention", model_name="m", older_than="{{ params.age }}"
    )
    operator.older_than = "thirty days"  # as rendered
    with pytest.raises(ValueError, match="older_than must be a positive duration"):
        operator.execute({})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("P30D", timedelta(days=30)), ("PT12H", timedelta(hours=12)), ("P1W", timedelta(weeks=1)),
     ("P1DT1.5S", timedelta(days=1, seconds=1.5)), (90, timedelta(seconds=90))],
)  # fmt: skip
def test_durations_in_iso_8601_or_seconds(text: Any, expected: timedelta) -> None:
    assert parse_duration(text) == expected


# ------------------------------------------------------------------------ in a DAG run


@pytest.mark.usefixtures("airflow_db")
def test_operator_in_a_dag_run_pushes_the_deleted_versions_and_reports_their_lineage(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = model_with_versions(default_registry, 4)
    default_registry.set_registered_model_alias(model, "production", "1")
    time.sleep(1.5)  # every version is older than older_than (1 s) when the run is due
    with DAG(unique("dag_retention"), schedule=None, start_date=START) as dag:
        DeleteOldModelVersionsOperator(
            task_id="retention", model_name="{{ params.model }}", keep_latest="{{ params.keep }}",
            older_than=1, params={"model": model, "keep": "2"},
        )  # fmt: skip
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("retention", -1): "success"}
    record = xcom_value(dag_run, "retention")
    assert deleted(record) == [2]
    assert record["protected"] == [{"version": "1", "reason": "alias 'production'"}]
    assert record["tracking_uri"] == mlflow_server.url
    assert versions_left(default_registry, model) == [1, 3, 4]
    # Age is measured from the run's run_after, the same for every try.
    assert datetime.fromisoformat(record["cutoff"]) == dag_run.run_after - timedelta(seconds=1)
    pytest.importorskip("airflow.providers.openlineage")
    lineage = deleted_versions_lineage(record)
    namespace = f"mlflow://{mlflow_server.url.removeprefix('http://')}"
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(namespace, f"{model}/2")]
    assert lineage.outputs[0].facets["lifecycleStateChange"].lifecycleStateChange.value == "DROP"
    assert deleted_versions_lineage({**record, "deleted": []}).outputs == []
