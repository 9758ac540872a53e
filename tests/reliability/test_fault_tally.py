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

"""Exactly-once registration under a barrage of transport faults, retried the way Airflow
retries a task: many task instances register versions of one model through the fault proxy in
front of a real `mlflow server`; every failed attempt is followed by a new hook call with the
next try number. At the end the server itself is asked: one version per task instance, no
duplicate, none lost. The tally is printed in pytest's terminal summary."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.exceptions import MlflowRegistryError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TaskInstanceLineage
from tests.support.model_versions import unique
from tests.support.tallies import (
    MAX_ATTEMPTS,
    AttemptTally,
    PlannedFaults,
    publish_tally,
    versions_per_key,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultKind, FaultProxy

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

CREATE = "/model-versions/create"
SEARCH = "/model-versions/search"
# A normal reply on a busy 2-core machine comes well within TIMEOUT_SECONDS; a held reply
# (delay_reply) is held far longer, so only injected delays time out.
TIMEOUT_SECONDS = 10
DELAY_SECONDS = 3 * TIMEOUT_SECONDS
TASK_INSTANCES = 30
WATCH_SECONDS = 5.0


@dataclass(frozen=True)
class FaultPlan:
    """Faults for one task instance: ``faults`` are added before its first attempt (each fires
    on the next matching requests, whichever attempt sends them); connections are refused for
    the whole of each attempt in ``refuse_attempts``; with ``refuse_during_create``, they are
    refused while attempt 1's create request is in flight (its reply held by a delay)."""

    name: str
    faults: tuple[tuple[str, str, FaultKind, int], ...] = ()
    refuse_attempts: frozenset[int] = field(default_factory=frozenset)
    refuse_during_create: bool = False


PLANS = (
    FaultPlan("create reply dropped after commit", (("POST", CREATE, "drop_reply", 1),)),
    FaultPlan("create 503 after commit", (("POST", CREATE, "503_after_forward", 1),)),
    FaultPlan("create 503 before commit, twice", (("POST", CREATE, "503_before_forward", 2),)),
    FaultPlan("create reply held past the timeout", (("POST", CREATE, "delay_reply", 1),)),
    FaultPlan("look-up 503 twice: attempt fails", (("GET", SEARCH, "503_before_forward", 2),)),
    FaultPlan(
        "look-up reply dropped, create 503 after commit",
        (("GET", SEARCH, "drop_reply", 1), ("POST", CREATE, "503_after_forward", 1)),
    ),
    FaultPlan(
        "look-up held past the timeout, create reply dropped",
        (("GET", SEARCH, "delay_reply", 1), ("POST", CREATE, "drop_reply", 1)),
    ),
    FaultPlan("connection refused on attempt 1", refuse_attempts=frozenset({1})),
    FaultPlan(
        "connections refused while the create is in flight",
        (("POST", CREATE, "delay_reply", 1),),
        refuse_during_create=True,
    ),
    FaultPlan(
        "three attempts: look-up fails, creates 503, then the reply is lost",
        (
            ("GET", SEARCH, "503_before_forward", 2),
            ("POST", CREATE, "503_before_forward", 2),
            ("POST", CREATE, "drop_reply", 1),
        ),
    ),
)


def creates_seen(proxy: FaultProxy) -> int:
    return sum(1 for method, path in proxy.requests_seen if method == "POST" and CREATE in path)


def refuse_once_create_arrives(proxy: FaultProxy, creates_before: int) -> threading.Thread:
    """Refuse connections as soon as a new create request reaches the proxy (bounded wait)."""

    def watch() -> None:
        deadline = time.monotonic() + WATCH_SECONDS
        while creates_seen(proxy) == creates_before and time.monotonic() < deadline:
            time.sleep(0.01)
        proxy.refuse_connections(True)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def run_task_instance(
    proxy: FaultProxy, model: str, run_id: str, plan: FaultPlan, tally: AttemptTally
) -> None:
    """Register once for task instance ``run_id`` under ``plan``, retrying like Airflow; its
    final record goes to ``tally.records`` under its registration key."""
    faults = [
        (method, path, kind, times, {"seconds": DELAY_SECONDS} if kind == "delay_reply" else {})
        for method, path, kind, times in plan.faults
    ]
    with PlannedFaults(proxy, plan.name, faults) as planned:
        register_with_retries(proxy, model, run_id, plan, tally)
    assert planned.fired is not None
    tally.injected += planned.fired.fired


def register_with_retries(
    proxy: FaultProxy, model: str, run_id: str, plan: FaultPlan, tally: AttemptTally
) -> None:
    """The attempts of task instance ``run_id``, connections refused as ``plan`` says."""
    for try_number in range(1, MAX_ATTEMPTS + 1):
        watcher = None
        if try_number in plan.refuse_attempts:
            proxy.refuse_connections(True)
            tally.injected += 1
        elif plan.refuse_during_create and try_number == 1:
            watcher = refuse_once_create_arrives(proxy, creates_seen(proxy))
            tally.injected += 1
        lineage = TaskInstanceLineage("fault_tally", "register", run_id, try_number=try_number)
        tally.attempts += 1
        try:
            # A new hook per attempt, as each Airflow try runs in a new process.
            record = MlflowRegistryHook("faulty").register_model_version(
                model, f"s3://bucket/{run_id}", lineage=lineage
            )
        except MlflowRegistryError as exc:
            assert model in str(exc), f"{plan.name}: error does not name the model: {exc}"
            tally.failed_attempts += 1
            continue
        finally:
            if watcher is not None:
                watcher.join()
            proxy.refuse_connections(False)
        tally.records[lineage.registration_key(model)] = record
        break


def test_fault_barrage_leaves_exactly_one_version_per_task_instance(
    fault_proxy: FaultProxy,
    plain_client: MlflowClient,
    use_connection: UseConnection,
    summary_lines: list[str],
) -> None:
    use_connection("faulty", fault_proxy.url, timeout=TIMEOUT_SECONDS, max_retries=1)
    model = unique("fault-tally")
    tally = AttemptTally()
    run_ids = [f"scheduled__2026-01-{day:02d}" for day in range(1, TASK_INSTANCES + 1)]
    for index, run_id in enumerate(run_ids):
        run_task_instance(fault_proxy, model, run_id, PLANS[index % len(PLANS)], tally)

    # Ask the server directly, not through the code under test.
    stored = plain_client.search_model_versions(f"name = '{model}'", max_results=1000)
    keys = [
        TaskInstanceLineage("fault_tally", "register", run_id).registration_key(model)
        for run_id in run_ids
    ]
    duplicates, losses = versions_per_key(stored, keys)
    tally_line = (
        f"fault tally: injected={tally.injected} task_instances={len(run_ids)} "
        f"attempts={tally.attempts} failed_attempts={tally.failed_attempts} "
        f"duplicates={duplicates} losses={losses}"
    )
    publish_tally(summary_lines, tally_line)

    assert tally.injected >= 50
    assert tally.failed_attempts > 0  # some faults did reach Airflow as a failed try
    assert (duplicates, losses) == (0, 0)
    assert len(stored) == len(run_ids)  # nothing without a key either
    versions_by_key = {version.tags[REGISTRATION_KEY_TAG]: version.version for version in stored}
    assert sorted(tally.records) == sorted(keys)  # every task instance ended with a record
    for key, record in tally.records.items():
        assert record["version"] == versions_by_key[key]
        assert record["status"] == "READY"
