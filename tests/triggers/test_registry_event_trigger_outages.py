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

"""``MlflowRegistryEventTrigger`` under outages and bounded waits: the connection moved to
another server, a registry answering 401/403 or refusing connections, and the end of the waits
for tags and for PENDING_REGISTRATION versions. Real `mlflow server` processes behind a
fault-injecting proxy; changes made with a plain ``MlflowClient``. End-to-end tier: each test
waits through several failing polls or a second server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.bearer_proxy import BearerProxy
from tests.support.fault_proxy import FaultProxy
from tests.support.model_versions import add_version, unique
from tests.support.trigger_runner import (
    SEARCH,
    MemoryStateStore,
    pending,
    polls,
    versions,
    wait_until,
    watch,
    within_polls,
)

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer
    from tests.support.trigger_runner import Logs

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def test_connection_pointed_at_another_server_restarts_the_watch(
    proxy: FaultProxy,
    mlflow_server: MlflowServer,
    https_sources_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    logs: Logs,
) -> None:
    model = unique("moved")
    here = mlflow_server.client()
    for _ in range(4):
        add_version(here, model)
    store = MemoryStateStore()
    with watch(model, store) as running:
        wait_until(lambda: store.writes >= 1, "the cursor on the first server")
    assert running.payloads == []

    there = https_sources_mlflow_server.client()
    add_version(there, model)
    with FaultProxy(https_sources_mlflow_server.url) as other:
        use_connection("watched", other.url)
        with watch(model, store) as running:
            wait_until(lambda: polls(other, SEARCH, model) >= 2, "two polls of the other server")
            added = add_version(there, model)
            within_polls(other, model, 10, lambda: bool(running.payloads))
            assert versions(running) == [added] == ["2"]
    assert "now points at" in logs.text


def test_untagged_version_is_not_emitted_after_its_recheck_wait(
    proxy: FaultProxy, mlflow_server: MlflowServer, logs: Logs
) -> None:
    client = mlflow_server.client()
    model = unique("tagged-too-late")
    with watch(model, tags={"validated": "true"}, untagged_recheck=0.5) as running:
        wait_until(lambda: polls(proxy, SEARCH, model) >= 1, "the first poll")
        late = add_version(client, model)
        wait_until(lambda: "without the watched tags after" in logs.text, "the dropped version")
        client.set_model_version_tag(model, late, "validated", "true")
        after = add_version(client, model, tags={"validated": "true"})
        within_polls(proxy, model, 10, lambda: len(running.payloads) >= 2)
        assert versions(running) == [after]


def test_pending_version_past_its_timeout_is_logged_and_emits_nothing(
    proxy: FaultProxy, mlflow_server: MlflowServer, logs: Logs
) -> None:
    client = mlflow_server.client()
    model = unique("pending-timeout")
    with watch(model, pending_timeout=0.5) as running:
        wait_until(lambda: polls(proxy, SEARCH, model) >= 1, "the first poll")
        proxy.add_fault("GET", SEARCH, "rewrite_json", times=None, rewrite=pending("1"))
        stuck = add_version(client, model)
        wait_until(lambda: "still pending registration after" in logs.text, "the timeout")
        proxy.clear_faults()
        later = add_version(client, model)
        within_polls(proxy, model, 10, lambda: len(running.payloads) >= 2)
        assert versions(running) == [later]
    assert f"version {stuck} is still pending registration after 0.5 s" in logs.text


def test_unreachable_and_refusing_server_are_logged_and_polled_again(
    proxy: FaultProxy,
    mlflow_server: MlflowServer,
    use_connection: UseConnection,
    logs: Logs,
) -> None:
    client = mlflow_server.client()
    model = unique("outage")
    with watch(model) as running:
        wait_until(lambda: polls(proxy, SEARCH, model) >= 1, "the first poll")
        proxy.add_fault("GET", SEARCH, "403_before_forward", times=3)
        during_403 = add_version(client, model)
        wait_until(lambda: proxy.faults_injected == 3, "three refused polls")
        within_polls(proxy, model, 10, lambda: bool(running.payloads))
        assert versions(running) == [during_403]

        proxy.refuse_connections(True)
        during_outage = add_version(client, model)
        wait_until(
            lambda: logs.text.count("could not connect to the server") >= 2, "two failed polls"
        )
        proxy.refuse_connections(False)
        within_polls(proxy, model, 10, lambda: len(running.payloads) >= 2)
        assert versions(running) == [during_403, during_outage]
        assert running.failures == []
    assert logs.text.count("permission denied (HTTP 403)") >= 3

    with BearerProxy(mlflow_server.url, token="right") as bearer:
        use_connection("watched", bearer.url, token="wrong")
        with watch(model, start_after_version=int(during_outage)) as running:
            wait_until(lambda: logs.text.count("(HTTP 401)") >= 2, "two polls answered 401")
            assert running.failures == []
            bearer.token = "wrong"  # the credentials are fixed on the server's side
            after = add_version(client, model)
            wait_until(lambda: bool(running.payloads), "the event after the 401s")
            assert versions(running) == [after]
