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

"""Several versions registered at once, with Airflow's own processes (the shared
``airflow_deployment``: LocalExecutor, SQLite, a real triggerer and scheduler).

A watch that emits a burst's versions in one poll records one asset event per version, each in
its own transaction, milliseconds apart. Up to Airflow 3.3 the scheduler keeps one queue entry
per asset and DAG and gives a run the events up to that entry's creation time: events recorded
after the entry was created and before the run was made have no run and no queue entry left,
and are consumed by the run the next change of the asset starts (apache/airflow#56749,
#56050; Airflow 3.4 queues each event by reference instead, #70972). These tests pin what a
user of the trigger gets: every event reaches exactly one run, whose
``triggering_asset_events`` holds it, at the latest with the next change.

Markers ``e2e`` and ``event_trigger``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.assets import model_asset
from tests.support.model_versions import add_version, unique
from tests.support.trigger_runner import write_watcher_dag

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.airflow_deployment import AirflowDeployment
    from tests.support.mlflow_server import MlflowServer

BURST = 5
POLL_INTERVAL = 5
# Scheduler heartbeats (one per loop, 1 s apart here) watched after the burst settled: a run
# still to come would have been created in the first of them.
QUIET_HEARTBEAT_SECONDS = 5


class BurstLedger:
    """What the metadata DB says about one DAG and the events of its model's asset."""

    def __init__(self, deployment: AirflowDeployment, dag_id: str, model: str) -> None:
        self.services = deployment.services
        self.dag_id = dag_id
        self.uri = model_asset("mlflow_default", model).uri

    def events(self) -> list[tuple[int, str, str]]:
        """``(event id, version, timestamp)`` of the asset's events, oldest first."""
        rows = self.services.query(
            "SELECT e.id, e.extra, e.timestamp FROM asset_event e JOIN asset a "
            f"ON a.id = e.asset_id WHERE a.uri = '{self.uri}' ORDER BY e.id"
        )
        return [(i, _extra(extra)["payload"]["version"], ts) for i, extra, ts in rows]

    def runs(self) -> dict[str, tuple[str, str, list[int]]]:
        """Run id to ``(state, run_after, ids of the events it consumed)``."""
        runs: dict[str, tuple[str, str, list[int]]] = {}
        for run_id, state, run_after, event_id in self.services.query(
            "SELECT r.run_id, r.state, r.run_after, x.event_id FROM dag_run r "
            "LEFT JOIN dagrun_asset_event x ON x.dag_run_id = r.id "
            f"WHERE r.dag_id = '{self.dag_id}' ORDER BY r.id, x.event_id"
        ):
            consumed = runs.setdefault(run_id, (state, run_after, []))[2]
            if event_id is not None:
                consumed.append(event_id)
        return runs

    def queued(self) -> int:
        """Queue entries (``asset_dag_run_queue``) waiting for a run of the DAG."""
        rows = self.services.query(
            f"SELECT COUNT(*) FROM asset_dag_run_queue WHERE target_dag_id = '{self.dag_id}'"
        )
        return int(rows[0][0])

    def cursor_stored(self) -> bool:
        rows = self.services.query(
            "SELECT COUNT(*) FROM asset_state_store s JOIN asset a ON a.id = s.asset_id "
            f"WHERE a.uri = '{self.uri}'"
        )
        return int(rows[0][0]) > 0

    def scheduler_heartbeat(self) -> datetime:
        """The running scheduler's latest heartbeat (one per scheduler loop)."""
        rows = self.services.query(
            "SELECT MAX(latest_heartbeat) FROM job WHERE job_type = 'SchedulerJob' "
            "AND state = 'running'"
        )
        return datetime.fromisoformat(str(rows[0][0]))

    def settled(self, events: int) -> bool:
        """``events`` events recorded, none queued, every run ended."""
        runs = self.runs()
        return (
            len(self.events()) >= events
            and self.queued() == 0
            and bool(runs)
            and all(state in ("success", "failed") for state, _, _ in runs.values())
        )


def _extra(value: Any) -> dict[str, Any]:
    return dict(json.loads(value) if isinstance(value, str) else value)


def settle(deployment: AirflowDeployment, ledger: BurstLedger, events: int) -> None:
    """Wait until ``ledger`` is settled for ``events`` events, then through
    :data:`QUIET_HEARTBEAT_SECONDS` of scheduler loops, and check it is still settled."""
    deployment.wait_for(lambda: ledger.settled(events), f"{events} events settled")
    start = ledger.scheduler_heartbeat()
    deployment.wait_for(
        lambda: (ledger.scheduler_heartbeat() - start).total_seconds() >= QUIET_HEARTBEAT_SECONDS,
        "scheduler loops after the events settled",
    )
    assert ledger.settled(events)


@pytest.mark.e2e
@pytest.mark.event_trigger
@pytest.mark.timeout(900)
def test_burst_events_each_reach_one_run_at_the_latest_with_the_next_change(
    airflow_deployment: AirflowDeployment, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    model = unique("burst")
    dag_id = model.replace("-", "_")
    client.create_registered_model(model)
    dag_file = write_watcher_dag(tmp_path, dag_id, model, POLL_INTERVAL, max_events_per_poll=BURST)
    airflow_deployment.add_dag(dag_file, dag_id)
    ledger = BurstLedger(airflow_deployment, dag_id, model)
    airflow_deployment.wait_for(ledger.cursor_stored, "the watch's first cursor")

    with ThreadPoolExecutor(BURST) as pool:
        burst = sorted(pool.map(lambda _: add_version(client, model), range(BURST)), key=int)
    settle(airflow_deployment, ledger, BURST)

    events = ledger.events()
    assert sorted((version for _, version, _ in events), key=int) == burst  # one event each
    runs = ledger.runs()
    consumed = [event_id for _, _, ids in runs.values() for event_id in ids]
    assert len(consumed) == len(set(consumed))  # no event in two runs
    latest_run_after = max(run_after for _, run_after, _ in runs.values())
    timestamps = {event_id: ts for event_id, _, ts in events}
    for _, run_after, ids in runs.values():
        # The 3.3 window: a run holds the events up to its queue entry's creation (run_after).
        assert all(timestamps[event_id] <= run_after for event_id in ids)
    waiting = [event_id for event_id, _, _ in events if event_id not in consumed]
    # Events without a run: none is queued (settled), all came after the last run's window.
    assert all(timestamps[event_id] > latest_run_after for event_id in waiting)
    print(
        f"\nburst of {BURST}: {len(runs)} run(s) carrying {len(consumed)} event(s), "
        f"{len(waiting)} event(s) waiting for the next change"
    )

    sixth = add_version(client, model)
    settle(airflow_deployment, ledger, BURST + 1)
    events = ledger.events()
    versions = {event_id: version for event_id, version, _ in events}
    runs = ledger.runs()
    carried = [versions[event_id] for _, _, ids in runs.values() for event_id in ids]
    assert sorted(carried, key=int) == [*burst, sixth]  # each version in exactly one run
    # Each run's task saw, in triggering_asset_events, every event the run consumed.
    for run_id, (state, _, ids) in runs.items():
        assert state == "success"
        handled = airflow_deployment.xcom(dag_id, run_id, "handled_versions")
        assert sorted(handled, key=int) == sorted((versions[i] for i in ids), key=int)
