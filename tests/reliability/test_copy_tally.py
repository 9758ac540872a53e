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

"""Copies under lost replies and overlapping attempts, retried the way Airflow retries a task:
each task instance copies its own source version through a fault proxy in front of the target
(a real ``mlflow server``); a failed attempt is followed by the next try, and some task
instances run two attempts at the same time (a zombie try and its retry). At the end the
server itself is asked: one live version per task instance, holding its source version's
files, and one logged model per copy. The tally is printed in pytest's terminal summary."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.exceptions import MlflowRegistryError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.version_copy import COPY_KEY_TAG
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TaskInstanceLineage
from tests.support.copies import copied_files, model_files
from tests.support.model_versions import unique
from tests.support.tallies import (
    MAX_ATTEMPTS,
    AttemptTally,
    FiredFaults,
    PlannedFaults,
    publish_tally,
    run_collecting_errors,
    versions_per_key,
)

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultKind, FaultProxy
    from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

CREATE_VERSION = "/model-versions/create"
SEARCH_VERSIONS = "/model-versions/search"
LOGGED_MODELS = "/mlflow/logged-models"
UPLOAD = "/mlflow-artifacts/artifacts/"
TIMEOUT_SECONDS = 10
ROUNDS = 2  # task instances per plan


@dataclass(frozen=True)
class CopyPlan:
    """Faults for one task instance's copy, as ``(method, path fragment, kind, times, body
    fragment)``, added before its first attempt; with ``overlap`` its attempts 1 and 2 run at
    the same time."""

    name: str
    faults: tuple[tuple[str, str, FaultKind, int, str], ...] = ()
    overlap: bool = False


# The logged-model create is the POST to /logged-models whose body names one experiment_id
# (the search for an earlier copy names experiment_ids).
PLANS = (
    CopyPlan(
        "logged-model create reply lost",
        (("POST", LOGGED_MODELS, "drop_reply", 1, '"experiment_id"'),),
    ),
    CopyPlan("file upload reply lost", (("PUT", UPLOAD, "drop_reply", 1, ""),)),
    CopyPlan("finalize 503", (("PATCH", LOGGED_MODELS, "503_before_forward", 1, ""),)),
    CopyPlan("version create reply lost", (("POST", CREATE_VERSION, "drop_reply", 1, ""),)),
    CopyPlan(
        "version create 503 after commit",
        (("POST", CREATE_VERSION, "503_after_forward", 1, ""),),
    ),
    CopyPlan("key look-up 503 twice", (("GET", SEARCH_VERSIONS, "503_before_forward", 2, ""),)),
    CopyPlan("overlapping attempts", overlap=True),
    CopyPlan(
        "overlapping attempts, a version create reply lost",
        (("POST", CREATE_VERSION, "drop_reply", 1, ""),),
        overlap=True,
    ),
)


@dataclass
class Tally(AttemptTally):
    overlapping: int = 0
    fired: list[FiredFaults] = field(default_factory=list)
    thread_errors: list[str] = field(default_factory=list)


def source_versions(client: MlflowClient, model: str, count: int, tmp_path: Path) -> dict:
    """``count`` versions of a new source model ``model``, each from its own run holding
    fresh files; returns the files by version."""
    client.create_registered_model(model)
    experiment_id = client.create_experiment(unique("copy-tally-source"))
    files = {}
    for _ in range(count):
        run_id = client.create_run(experiment_id).info.run_id
        model_dir, version_files = model_files(tmp_path, "tally", run_id)
        client.log_artifacts(run_id, str(model_dir), "model")
        version = client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
        files[version.version] = version_files
    return files


def run_task_instance(
    proxy: FaultProxy,
    source_model: str,
    source_version: str,
    target_model: str,
    run_id: str,
    plan: CopyPlan,
    tally: Tally,
) -> None:
    """Copy for task instance ``run_id`` under ``plan``, retrying like Airflow; record in
    ``tally`` how many of the plan's faults fired and what the overlapping attempts (run in
    threads) raised."""
    windows: dict[int, tuple[float, float]] = {}

    def attempt(try_number: int) -> bool:
        lineage = TaskInstanceLineage("copy_tally", "copy", run_id, try_number=try_number)
        start = time.monotonic()
        try:
            # New hooks per attempt, as each Airflow try runs in a new process.
            record = MlflowRegistryHook("copy_tally_target").copy_model_version_from(
                MlflowRegistryHook("copy_tally_source"),
                source_model,
                version=source_version,
                target_model_name=target_model,
                lineage=lineage,
            )
        except MlflowRegistryError as exc:
            named = source_model in str(exc) or target_model in str(exc)
            assert named, f"{plan.name}: the error names no model: {exc}"
            with tally.lock:
                tally.failed_attempts += 1
            return False
        finally:
            with tally.lock:
                tally.attempts += 1
                windows[try_number] = (start, time.monotonic())
        with tally.lock:
            tally.records[run_id] = record
        return True

    faults = [
        (method, path, kind, times, {"body_contains": body})
        for method, path, kind, times, body in plan.faults
    ]
    with PlannedFaults(proxy, plan.name, faults) as planned:
        first_try = 1
        if plan.overlap:
            errors = run_collecting_errors([partial(attempt, 1), partial(attempt, 2)])
            tally.thread_errors += [f"{plan.name}: {error}" for error in errors]
            if not errors:
                (start_1, end_1), (start_2, end_2) = windows[1], windows[2]
                assert max(start_1, start_2) < min(end_1, end_2), (
                    f"{plan.name}: no overlap {windows}"
                )
                tally.overlapping += 1
            first_try = 3
        if run_id not in tally.records:
            for try_number in range(first_try, MAX_ATTEMPTS + 1):
                if attempt(try_number):
                    break
    assert planned.fired is not None
    tally.fired.append(planned.fired)
    tally.injected += planned.fired.fired


def test_copies_under_lost_replies_and_overlapping_attempts_leave_one_version_each(
    fault_proxy: FaultProxy,
    mlflow_server: MlflowServer,
    plain_client: MlflowClient,
    use_connection: UseConnection,
    summary_lines: list[str],
    tmp_path: Path,
) -> None:
    plain = plain_client
    use_connection("copy_tally_source", mlflow_server.url)
    use_connection("copy_tally_target", fault_proxy.url, timeout=TIMEOUT_SECONDS, max_retries=1)
    use_connection("copy_tally_check", mlflow_server.url)
    source_model, target_model = unique("copy-tally-source"), unique("copy-tally")
    plans = [plan for _ in range(ROUNDS) for plan in PLANS]
    files = source_versions(plain, source_model, len(plans), tmp_path)
    run_ids = [f"scheduled__2026-02-{day:02d}" for day in range(1, len(plans) + 1)]
    tally = Tally()
    for index, (run_id, plan) in enumerate(zip(run_ids, plans, strict=True)):
        source_version = str(index + 1)
        run_task_instance(
            fault_proxy, source_model, source_version, target_model, run_id, plan, tally
        )
    # Deletes of a duplicate version or of a losing attempt's logged model.
    settling_deletes = sum(1 for method, _ in fault_proxy.requests_seen if method == "DELETE")

    # Ask the server directly, not through the code under test.
    stored = plain.search_model_versions(f"name = '{target_model}'", max_results=1000)
    keys = {
        run_id: TaskInstanceLineage("copy_tally", "copy", run_id).registration_key(target_model)
        for run_id in run_ids
    }
    duplicates, losses = versions_per_key(stored, keys.values())
    experiment_id = plain.get_experiment_by_name("airflow-model-copies").experiment_id
    logged = plain.search_logged_models(
        [experiment_id], filter_string=f"name = '{source_model}'", max_results=1000
    )
    per_copy = Counter(model.tags.get(COPY_KEY_TAG) for model in logged)
    orphans = sum(count - 1 for count in per_copy.values())
    tally_line = (
        f"lifecycle tally (copy): copies={len(run_ids)} injected={tally.injected} "
        f"attempts={tally.attempts} failed_attempts={tally.failed_attempts} "
        f"overlapping={tally.overlapping} settling_deletes={settling_deletes} "
        f"duplicates={duplicates} losses={losses} orphan_logged_models={orphans}"
    )
    publish_tally(summary_lines, tally_line)

    assert tally.thread_errors == []
    # Every faulted task instance's faults fired, each as often as planned.
    unfired = [fired for fired in tally.fired if fired.fired != fired.planned]
    assert unfired == [], unfired
    assert [fired.plan for fired in tally.fired] == [plan.name for plan in plans]
    assert tally.failed_attempts > 0
    assert tally.overlapping == 2 * ROUNDS
    assert (duplicates, losses, orphans) == (0, 0, 0)
    assert len(stored) == len(run_ids) and len(logged) == len(run_ids)
    check = MlflowRegistryHook("copy_tally_check")
    by_key = {mv.tags[REGISTRATION_KEY_TAG]: mv for mv in stored}
    for index, run_id in enumerate(run_ids):
        version = by_key[keys[run_id]]
        record = tally.records[run_id]  # every task instance ended with a record
        assert (record["version"], record["source"]) == (version.version, version.source)
        assert version.tags["airflow.copied_from.version"] == str(index + 1)
        assert copied_files(check, record, tmp_path) == files[str(index + 1)]
