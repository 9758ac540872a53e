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

"""``MlflowRegistryEventTrigger`` where events used to be lost or duplicated: a re-created
model, versions tagged late, versions stuck in PENDING_REGISTRATION, failing state-store
writes, backlogs. A real `mlflow server`, changes made with a plain ``MlflowClient``; the proxy
in front of the server counts the trigger's polls and fakes the status an open-source server
never reports (PENDING_REGISTRATION). "Nothing emitted" is bounded by observed polls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger
from tests.support.model_versions import add_version, unique
from tests.support.trigger_runner import (
    SEARCH,
    MemoryStateStore,
    RunningTrigger,
    pending,
    polls,
    versions,
    wait_until,
    watch,
    within_polls,
)

if TYPE_CHECKING:
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer
    from tests.support.trigger_runner import Logs

pytestmark = pytest.mark.compat  # also on each Airflow and MLflow client of the matrix


def test_recreated_model_restarts_the_watch_with_a_warning(
    proxy: FaultProxy, mlflow_server: MlflowServer, logs: Logs
) -> None:
    client = mlflow_server.client()
    model = unique("recreated")
    for _ in range(2):
        add_version(client, model)
    store = MemoryStateStore()
    with watch(model, store) as running:
        wait_until(lambda: store.writes >= 1, "the first cursor")
        client.delete_registered_model(model)
        first = add_version(client, model)  # re-creates the model: version 1 again
        second = add_version(client, model)
        within_polls(proxy, model, 10, lambda: len(running.payloads) >= 2)
        assert versions(running) == [first, second] == ["1", "2"]
    assert "restarting the watch" in logs.text
    assert "deleted and re-created" in logs.text or "another creation time" in logs.text


def test_version_tagged_after_a_higher_one_was_emitted_is_emitted(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    client = mlflow_server.client()
    model = unique("tagged-late")
    add_version(client, model)
    with watch(model, tags={"validated": "true"}) as running:
        wait_until(lambda: polls(proxy, SEARCH, model) >= 2, "two polls")
        late = add_version(client, model)  # registered, validated, tagged below
        early = add_version(client, model, tags={"validated": "true"})
        wait_until(lambda: len(running.payloads) == 1, "the version tagged at once")
        client.set_model_version_tag(model, late, "validated", "true")
        within_polls(proxy, model, 10, lambda: len(running.payloads) >= 2)
        assert versions(running) == [early, late] == ["3", "2"]


def test_pending_version_does_not_hold_back_later_ones_and_is_emitted_when_ready(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    client = mlflow_server.client()
    model = unique("pending")
    add_version(client, model)
    with watch(model) as running:
        wait_until(lambda: polls(proxy, SEARCH, model) >= 1, "the first poll")
        proxy.add_fault("GET", SEARCH, "rewrite_json", times=None, rewrite=pending("2"))
        stuck = add_version(client, model)
        later = add_version(client, model)
        within_polls(proxy, model, 10, lambda: bool(running.payloads))
        assert versions(running) == [later]
        proxy.clear_faults()  # the registration finishes: READY
        within_polls(proxy, model, 10, lambda: len(running.payloads) >= 2)
        assert versions(running) == [later, stuck] == ["3", "2"]


def test_newest_version_pending_at_the_first_poll_is_emitted_when_ready(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    client = mlflow_server.client()
    model = unique("pending-first")
    add_version(client, model)
    stuck = add_version(client, model)
    proxy.add_fault("GET", SEARCH, "rewrite_json", times=None, rewrite=pending(stuck))
    with watch(model) as running:
        wait_until(lambda: polls(proxy, SEARCH, model) >= 3, "three polls")
        assert running.payloads == []
        proxy.clear_faults()
        within_polls(proxy, model, 10, lambda: bool(running.payloads))
        assert versions(running) == [stuck] == ["2"]


def test_failed_cursor_writes_emit_no_duplicate(
    proxy: FaultProxy, mlflow_server: MlflowServer, logs: Logs
) -> None:
    """Writes 2 and 3 (the first ones after an event) fail with ``OSError``: the event is
    emitted once, the cursor is stored by a later poll. Duplicates are counted."""

    client = mlflow_server.client()
    model = unique("store-fails")
    add_version(client, model)
    store = MemoryStateStore(fail_writes={2, 3})
    with watch(model, store) as running:
        wait_until(lambda: store.writes >= 1, "the first cursor")
        added = [add_version(client, model) for _ in range(2)]
        wait_until(lambda: store.failed_writes == 2, "two failed writes")
        within_polls(proxy, model, 10, lambda: len(running.payloads) > 2)
        duplicates = len(running.payloads) - len(set(versions(running)))
        assert duplicates == 0
        assert versions(running) == added
        assert running.failures == []
    assert next(iter(store.values.values()))["version"] == int(added[-1])
    assert "could not write the cursor" in logs.text


def test_backlog_drains_up_to_max_events_per_poll_in_one_poll(
    proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    client = mlflow_server.client()
    model = unique("backlog")
    backlog = [add_version(client, model) for _ in range(7)]
    trigger = MlflowRegistryEventTrigger(
        model_name=model,
        mlflow_conn_id="watched",
        poll_interval=600,  # one poll during the test
        start_after_version=0,
        max_events_per_poll=5,
    )
    with RunningTrigger(trigger) as running:
        wait_until(lambda: len(running.payloads) == 5, "the first poll's events")
        assert polls(proxy, SEARCH, model) == 1
        assert versions(running) == backlog[:5]
