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

"""Faults on the stack: a Celery worker is killed with SIGKILL while one of its task
instances has a create request committed on the server but unanswered, and then the MLflow
server is killed and restarted. After Airflow's handling of the lost tasks (heartbeat
timeout, retry) and its retries, each task instance has exactly one version and none is
lost. The tally is printed in pytest's terminal summary."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.fault_proxy import FaultProxy
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.bearer_proxy import ProxiedRequest
    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

DAG_ID = "stack_fault_registrations"
TASK_INSTANCES = 8
CREATE = "/model-versions/create"
HOLD_SECONDS = 120.0  # longer than the test needs to find and kill the worker


class HoldingProxy(FaultProxy):
    """A :class:`FaultProxy` that also keeps the JSON body of each request a fault fired on,
    so the test learns which task instance's create is being held."""

    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url)
        self.faulted_bodies: list[dict[str, Any]] = []

    def _take_fault(self, request: ProxiedRequest) -> Any:
        fault = super()._take_fault(request)
        if fault is not None:
            with self._lock:
                self.faulted_bodies.append(json.loads(request.body))
        return fault


@pytest.fixture
def holding_proxy(stack: StackApi) -> Iterator[HoldingProxy]:
    with HoldingProxy(stack.state.mlflow_url) as proxy:
        yield proxy


def held_map_index(proxy: HoldingProxy, timeout: float = 300) -> int:
    """Block until a create request is held; return the map index its lineage tags name."""
    deadline = time.monotonic() + timeout
    while not proxy.faulted_bodies:
        assert time.monotonic() < deadline, "no create request reached the proxy in time"
        time.sleep(0.5)
    tags = {tag["key"]: tag["value"] for tag in proxy.faulted_bodies[0]["tags"]}
    return int(tags["airflow.map_index"])


def committed_versions(stack: StackApi, model: str, map_index: int) -> list[dict[str, Any]]:
    """The versions of ``model`` registered by the task instance with ``map_index``."""
    return [
        v for v in stack.model_versions(model) if v["tags"]["airflow.map_index"] == str(map_index)
    ]


def test_worker_sigkill_mid_registration_and_mlflow_restart_leave_one_version_per_task(
    stack: StackApi, holding_proxy: HoldingProxy, summary_lines: list[str]
) -> None:
    model = unique("stack-faults")
    # The model exists, owned by the connection's user, so the first create the proxy holds is
    # one the server commits. (For a model that does not exist yet the first create is refused
    # with 403 and nothing is committed: the task creates the model and sends the version again
    # only after its read timeout, which is not the fault under test.)
    stack.mlflow("POST", "registered-models/create", json={"name": model}, user="airflow")
    connection = {**stack.state.connections()["mlflow_default"], "host": holding_proxy.url}
    connection["extra"] = json.dumps({"timeout": HOLD_SECONDS / 2})
    stack.airflow("POST", "connections", json={"connection_id": "mlflow_faults", **connection})
    # The first create is forwarded (the server commits it) and its reply held.
    holding_proxy.add_fault("POST", CREATE, "delay_reply", 1, seconds=HOLD_SECONDS)
    stack.wait_for_dag(DAG_ID)
    run_id = stack.trigger(DAG_ID, conf={"model_name": model})

    map_index = held_map_index(holding_proxy)
    # The proxy records the request before forwarding it: wait until the server committed it.
    deadline = time.monotonic() + HOLD_SECONDS / 2
    while not (committed := committed_versions(stack, model, map_index)):
        assert time.monotonic() < deadline, "the held create was not committed in time"
        time.sleep(0.5)
    assert len(committed) == 1  # the held create is on the server, its task waits for it
    hostname = stack.query(
        "SELECT hostname FROM task_instance WHERE dag_id = %s AND run_id = %s AND map_index = %s",
        DAG_ID,
        run_id,
        map_index,
    )[0][0]
    worker = hostname.removeprefix("stack-")
    os.killpg(stack.state.pids[worker], signal.SIGKILL)  # the worker and its task processes

    os.killpg(stack.state.pids["mlflow"], signal.SIGKILL)
    time.sleep(5)  # the other task instances fail against the dead server meanwhile
    stack.script("restart-mlflow")
    stack.script("start-worker", worker)

    assert stack.wait_for_run(DAG_ID, run_id, timeout=600) == "success"
    attempts = [a for a in stack.task_attempts(DAG_ID) if a[0] == run_id]
    finals = {m: t for _, m, t, state, _ in attempts if state == "success"}
    assert sorted(finals) == list(range(TASK_INSTANCES))
    versions = stack.model_versions(model)
    by_index: dict[int, list[str]] = {}
    for version in versions:
        by_index.setdefault(int(version["tags"]["airflow.map_index"]), []).append(version["source"])
    duplicates = sum(len(sources) - 1 for sources in by_index.values())
    losses = TASK_INSTANCES - len(by_index)
    assert duplicates == 0 and losses == 0, by_index
    assert by_index == {i: [f"s3://stack-faults/{i}"] for i in range(TASK_INSTANCES)}
    # The killed attempt's version was found by the retry, not created again.
    record = stack.xcom(DAG_ID, run_id, "register", map_index)
    assert record["created"] is False and record["version"] == committed[0]["version"]
    assert finals[map_index] >= 2

    total_attempts = sum(finals.values())
    summary_lines.append(
        f"stack fault tally: worker_sigkilled={hostname} mlflow_restarts=1 "
        f"task_instances={TASK_INSTANCES} attempts={total_attempts} "
        f"failed_attempts={total_attempts - TASK_INSTANCES} duplicates={duplicates} "
        f"losses={losses}"
    )
