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

"""``MlflowRegistryEventTrigger.run()`` against a real `mlflow server`, through a proxy that
counts requests; registry changes are made with a plain ``MlflowClient``. Outside a triggerer
there is no asset state store: the cursor lives in the trigger (as on Airflow 3.0 to 3.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.aliases import MoveReason
from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger
from tests.support.model_versions import add_version, unique
from tests.support.trigger_runner import (
    BY_ALIAS,
    SEARCH,
    WATCH_POLL_SECONDS,
    RunningTrigger,
    polls,
    wait_until,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer

MODEL = "/api/2.0/mlflow/registered-models/get"
SET_TAG = "/api/2.0/mlflow/registered-models/set-tag"

pytestmark = pytest.mark.compat  # also on each Airflow and MLflow client of the matrix


def alias_watch(
    mlflow_server: MlflowServer, prefix: str, alias: str
) -> tuple[MlflowClient, str, str, str, MlflowRegistryEventTrigger]:
    """A model whose ``alias`` points at version 1 of 2, and a trigger watching that alias
    through connection ``watched``: (client, model, first, second, trigger)."""
    client: MlflowClient = mlflow_server.client()
    model = unique(prefix)
    first = add_version(client, model, aliases=[alias])
    second = add_version(client, model)
    trigger = MlflowRegistryEventTrigger(
        model_name=model, mlflow_conn_id="watched", alias=alias, poll_interval=WATCH_POLL_SECONDS
    )
    return client, model, first, second, trigger


def test_new_versions_emit_once_each_in_order_with_one_request_per_poll(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    client = mlflow_server.client()
    model = unique("watched")
    add_version(client, model)  # exists before the watch: not an event
    trigger = MlflowRegistryEventTrigger(
        model_name=model, mlflow_conn_id="watched", poll_interval=WATCH_POLL_SECONDS
    )
    with RunningTrigger(trigger) as running:
        wait_until(lambda: polls(proxy, SEARCH) >= 3, "three polls")
        assert running.payloads == []  # an unchanged registry emits nothing

        added = [add_version(client, model, tags={"n": str(n)}) for n in range(3)]
        wait_until(lambda: len(running.payloads) == 3, "three events")
        settled = polls(proxy, SEARCH)
        wait_until(lambda: polls(proxy, SEARCH) >= settled + 3, "three more polls")
        payloads = list(running.payloads)
    assert added == ["2", "3", "4"]
    assert [p["version"] for p in payloads] == added
    for n, payload in enumerate(payloads):
        assert payload["event"] == "new_version"
        assert payload["alias"] is None
        assert payload["model_uri"] == f"models:/{model}/{n + 2}"
        assert payload["tags"] == {"n": str(n)}
        assert payload["source"] == f"runs:/{payload['run_id']}/model"
        assert payload["status"] == "READY"
        assert payload["tracking_uri"] == proxy.url
    # Every request of the watch was one bounded search: one per poll.
    assert {path.split("?")[0] for _, path in proxy.requests_seen} == {SEARCH}
    assert all("max_results=100" in path for _, path in proxy.requests_seen)


def test_tag_filter_and_start_after_version(proxy: FaultProxy, mlflow_server: MlflowServer) -> None:
    client = mlflow_server.client()
    model = unique("watched-tags")
    add_version(client, model, tags={"validated": "true"})
    add_version(client, model)
    trigger = MlflowRegistryEventTrigger(
        model_name=model,
        mlflow_conn_id="watched",
        tags={"validated": "true"},
        poll_interval=WATCH_POLL_SECONDS,
        start_after_version=0,
    )
    with RunningTrigger(trigger) as running:
        wait_until(lambda: len(running.payloads) == 1, "the existing validated version")
        third = add_version(client, model, tags={"validated": "true"})
        wait_until(lambda: len(running.payloads) == 2, "the new validated version")
        settled = polls(proxy, SEARCH)
        wait_until(lambda: polls(proxy, SEARCH) >= settled + 3, "three more polls")
        versions = [p["version"] for p in running.payloads]
    assert versions == ["1", third]


def test_alias_moves_and_rollbacks_emit_with_the_previous_version(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    client, model, first, second, trigger = alias_watch(
        mlflow_server, "watched-alias", "production"
    )
    with RunningTrigger(trigger) as running:
        wait_until(lambda: polls(proxy, BY_ALIAS) >= 3, "three polls")
        assert running.payloads == []  # the alias's holder at the start is not a move

        client.set_registered_model_alias(model, "production", second)
        wait_until(lambda: len(running.payloads) == 1, "the move")
        client.set_registered_model_alias(model, "production", first)  # rollback
        wait_until(lambda: len(running.payloads) == 2, "the rollback")
        settled = polls(proxy, BY_ALIAS)
        wait_until(lambda: polls(proxy, BY_ALIAS) >= settled + 3, "three more polls")
        payloads = list(running.payloads)
    assert [(p["event"], p["alias"], p["version"], p["previous_version"]) for p in payloads] == [
        ("alias_moved", "production", second, first),
        ("alias_moved", "production", first, second),
    ]
    assert payloads[1]["aliases"] == ["production"]
    # Each move made outside the provider costs two reads of the model (its ledger; the second
    # after a settling wait) and one ledger entry (recorded as seen); polls that find no move
    # read only the alias.
    sent = [(method, path.split("?")[0]) for method, path in proxy.requests_seen]
    assert {path for _, path in sent} == {BY_ALIAS, MODEL, SET_TAG}
    assert sent.count(("GET", MODEL)) == 4 and sent.count(("POST", SET_TAG)) == 2
    assert [p["ledger_entry"]["kind"] for p in payloads] == ["seen", "seen"]


def test_alias_move_events_carry_the_ledger_entry_who_and_why(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    """A move made by the provider reaches the event with its ledger entry (who, why, kind,
    verified); a move made with a plain client reaches it as seen, author unknown."""
    client, model, first, second, trigger = alias_watch(mlflow_server, "watched-ledger", "champion")
    hook = MlflowRegistryHook(mlflow_conn_id="watched")
    with RunningTrigger(trigger) as running:
        wait_until(lambda: polls(proxy, BY_ALIAS) >= 2, "two polls")
        reason = MoveReason(MoveKind.APPROVAL, {"approvers": "ann, bob"})
        hook.set_model_version_alias(model, "champion", second, reason)
        wait_until(lambda: len(running.payloads) == 1, "the approved move")
        client.set_registered_model_alias(model, "champion", first)
        wait_until(lambda: len(running.payloads) == 2, "the outside move")
        payloads = list(running.payloads)
    approved, outside = (p["ledger_entry"] for p in payloads)
    assert (approved["kind"], approved["to_version"], approved["status"]) == (
        "approval",
        second,
        "verified",
    )
    assert approved["why"] == {"approvers": "ann, bob"} and approved["by"].startswith("cli:")
    assert (outside["kind"], outside["by"], outside["from_version"], outside["to_version"]) == (
        "seen",
        "unknown",
        second,
        first,
    )


def test_without_a_state_store_a_restarted_trigger_starts_from_the_registry_as_it_is(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    """Airflow before 3.3 gives a trigger no state store (as here, outside a triggerer): a
    new instance of the same trigger, as a restarted triggerer makes, neither replays what the
    first one emitted nor emits what was registered while none ran."""

    client = mlflow_server.client()
    model = unique("watched-restart")
    add_version(client, model)

    def watch() -> RunningTrigger:
        return RunningTrigger(
            MlflowRegistryEventTrigger(
                model_name=model, mlflow_conn_id="watched", poll_interval=WATCH_POLL_SECONDS
            )
        )

    with watch() as first:
        wait_until(lambda: polls(proxy, SEARCH) >= 2, "two polls")
        emitted = add_version(client, model)
        wait_until(lambda: len(first.payloads) == 1, "the event of the first instance")
    assert first.payloads[0]["version"] == emitted

    while_down = add_version(client, model)
    proxy.reset_counts()
    with watch() as second:
        wait_until(lambda: polls(proxy, SEARCH) >= 4, "four polls after the restart")
        assert second.payloads == []  # neither `emitted` again nor `while_down`
        after = add_version(client, model)
        wait_until(lambda: len(second.payloads) == 1, "the event after the restart")
    assert int(while_down) < int(after)
    assert second.payloads[0]["version"] == after


def test_a_watch_that_may_not_write_ledger_tags_still_emits_the_move(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    """The watch's connection is refused the ledger tag (403, as without EDIT on the model):
    the move is emitted all the same, without a ledger entry."""
    client, model, first, second, trigger = alias_watch(
        mlflow_server, "watched-readonly", "champion"
    )
    proxy.add_fault("POST", "/registered-models/set-tag", "403_before_forward", times=5)
    with RunningTrigger(trigger) as running:
        wait_until(lambda: polls(proxy, BY_ALIAS) >= 2, "two polls")
        client.set_registered_model_alias(model, "champion", second)
        wait_until(lambda: len(running.payloads) == 1, "the move")
        (payload,) = running.payloads
    assert (payload["version"], payload["previous_version"]) == (second, first)
    assert payload["ledger_entry"] is None
    assert proxy.faults_injected >= 1
    assert not [
        k for k in client.get_registered_model(model).tags if k.startswith("airflow.ledger.")
    ]
