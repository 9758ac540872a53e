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

"""Lifecycle tally (events): a registry-event watch in a real triggerer, killed with SIGKILL at
random points of a concurrent burst of versions made by plain ``MlflowClient`` threads.

Claim: no version is lost; a version is emitted twice only when a kill falls between the
event's hand-over to the triggerer's supervisor and the cursor's write (the trigger's commit
margin), so duplicates are at most one per kill (one event per poll). Airflow 3.3's asset
state store keeps the cursor across the kills. Api-server, scheduler, dag-processor and
triggerer (LocalExecutor, SQLite) and an `mlflow server`; the deployment reaches the server
through a proxy that records when each of the watch's polls was in flight, and counts them
to bound "nothing more is emitted".

Each kill comes after a random pause (seeded; the seed is shown in pytest's summary before
anything is waited for) and falls in the phase the seed picks for it: during a poll (the
proxy holds the watch's next search and the triggerer is killed while it is in flight, so
its recorded window spans the kill) or during an emit (the triggerer is killed as soon as
its log shows that this trigger fired an event, before its next poll reaches the proxy).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.assets import model_asset
from tests.support.airflow_env import connection_json
from tests.support.airflow_services import AirflowServices
from tests.support.gate_proxy import SEARCH_VERSIONS, GateProxy
from tests.support.model_versions import add_version, unique
from tests.support.tallies import publish_tally
from tests.support.trigger_runner import SEARCH, polls, write_watcher_dag

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow import MlflowClient

    from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

DAG_ID = "event_watch_tally"
WRITERS = 3
KILLS = 3
POLL_INTERVAL = 1
WAIT_SECONDS = 300
#: The triggerer's log line for an event a trigger handed over ("Trigger fired event").
FIRED = "Trigger fired event"


@dataclass(frozen=True)
class Kill:
    """One SIGKILL of the triggerer: the ``phase`` it was aimed at (``"poll"`` or ``"emit"``),
    when it happened (``time.monotonic()``), and for an emit kill how many milliseconds after
    this trigger's "fired" line was seen, and how many searches reached the proxy in between
    plus those in flight at the kill (none, if the kill fell before the watch polled again)."""

    phase: str
    moment: float
    after_fired_ms: float = 0.0
    searches_since_fired: int = 0

    def describe(self) -> str:
        if self.phase == "poll":
            return "poll (search in flight)"
        return (
            f"emit ({self.after_fired_ms:.0f} ms after the fired line, "
            f"{self.searches_since_fired} searches since or in flight)"
        )


class Triggerer:
    """The deployment's triggerer, killed with SIGKILL in a chosen phase of the watch of
    trigger ``trigger_id`` and started again; ``kills`` records each kill."""

    def __init__(self, services: AirflowServices, proxy: GateProxy, trigger_id: int) -> None:
        self.services = services
        self.proxy = proxy
        self.trigger_id = trigger_id
        self.log = services.home / "triggerer.log"
        self.kills: list[Kill] = []

    def log_since(self, offset: int) -> str:
        return self.log.read_bytes()[offset:].decode(errors="replace")

    def kill_during_poll(self) -> None:
        """Kill the triggerer while the proxy holds the watch's next search."""
        killed = threading.Event()

        def kill_while_held() -> bool:
            self.services.kill("triggerer")
            self.kills.append(Kill("poll", time.monotonic()))
            killed.set()
            return True  # forwarded: the proxy records the request's whole window

        self.proxy.hold(SEARCH_VERSIONS, [1], kill_while_held)
        assert killed.wait(WAIT_SECONDS), f"no poll within {WAIT_SECONDS} s"

    def kill_during_emit(self) -> None:
        """Kill the triggerer as soon as its log shows that this trigger fired an event."""
        offset = self.log.stat().st_size
        marker = f"ID {self.trigger_id}"
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            searches = self._searches_seen()
            fired = any(
                FIRED in line and marker in line for line in self.log_since(offset).splitlines()
            )
            if fired:
                break
            assert time.monotonic() < deadline, f"no event fired within {WAIT_SECONDS} s"
            time.sleep(0.02)
        seen = time.monotonic()
        self.services.kill("triggerer")
        moment = time.monotonic()
        in_between = self._searches_seen() - searches + self.proxy.in_flight
        self.kills.append(Kill("emit", moment, (moment - seen) * 1000, in_between))

    def restart(self) -> None:
        """Start a triggerer and wait until it runs this trigger (its own start line)."""
        offset = self.log.stat().st_size
        self.services.start("triggerer")
        starting = f"trigger ID {self.trigger_id} starting"
        self.services.wait_for(
            lambda: starting in self.log_since(offset),
            "the watch in the new triggerer",
            timeout=WAIT_SECONDS,
            interval=1,
        )

    def _searches_seen(self) -> int:
        return polls(self.proxy, SEARCH)


def watch_trigger_id(services: AirflowServices, model: str) -> int:
    """The id of the trigger row of the DAG's watcher of ``model``'s asset."""
    uri = model_asset("mlflow_default", model).uri
    rows = services.query(
        "SELECT w.trigger_id FROM asset_watcher w JOIN asset a ON a.id = w.asset_id "
        f"WHERE w.name = 'new-versions' AND a.uri = '{uri}'"
    )
    assert len(rows) == 1, rows
    return int(rows[0][0])


@pytest.mark.timeout(1200)
def test_triggerer_killed_during_a_burst_loses_no_version(
    mlflow_server: MlflowServer,
    plain_client: MlflowClient,
    tmp_path: Path,
    summary_lines: list[str],
) -> None:
    seed = random.randrange(1_000_000)
    # Shown in the summary even when a wait below times out.
    publish_tally(summary_lines, f"event watch: seed={seed}")
    rng = random.Random(seed)
    # Both phases, then random ones; in a random order.
    phases = ["poll", "emit", *(rng.choice(["poll", "emit"]) for _ in range(KILLS - 2))]
    rng.shuffle(phases)
    model = unique("tally-events")
    plain_client.create_registered_model(model)
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    write_watcher_dag(dags_folder, DAG_ID, model, POLL_INTERVAL)
    proxy = GateProxy(mlflow_server.url)
    proxy.start()
    services = AirflowServices(
        tmp_path / "airflow", dags_folder, {"mlflow_default": connection_json(proxy.url)}
    )
    # A killed triggerer's watchers move to the next one once its heartbeat is this old.
    services.env["AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC"] = "1"
    services.env["AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD"] = "5"
    created: list[str] = []
    windows: list[tuple[float, float]] = []
    lock = threading.Lock()

    kills_done = threading.Event()

    def write_versions(writer_rng: random.Random) -> None:
        """Versions at random intervals until the last kill is done."""
        client = mlflow_server.client()
        start = time.monotonic()
        while not kills_done.is_set():
            version = add_version(client, model)
            with lock:
                created.append(version)
            time.sleep(writer_rng.uniform(2, 5))
        with lock:
            windows.append((start, time.monotonic()))

    try:
        services.start()
        services.start("triggerer")
        services.wait_for_dag(DAG_ID)
        services.cli("dags", "unpause", DAG_ID)
        services.wait_for(
            lambda: services.query("SELECT value FROM asset_state_store"),
            "the watch's first cursor",
            timeout=WAIT_SECONDS,
            interval=1,
        )
        triggerer = Triggerer(services, proxy, watch_trigger_id(services, model))
        writers = [
            threading.Thread(target=write_versions, args=(random.Random(seed + n),))
            for n in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        for phase in phases:
            time.sleep(rng.uniform(0.5, 4))
            if phase == "poll":
                triggerer.kill_during_poll()
            else:
                triggerer.kill_during_emit()
            triggerer.restart()
        time.sleep(rng.uniform(0.5, 4))
        kills_done.set()
        for writer in writers:
            writer.join()

        wanted = set(created)
        services.wait_for(
            lambda: wanted <= {p["version"] for p in services.trigger_payloads(model)},
            "an event for every version",
            timeout=WAIT_SECONDS,
            interval=1,
        )
        settled = polls(proxy, SEARCH, model)
        services.wait_for(
            lambda: polls(proxy, SEARCH, model) >= settled + 5,
            "five more polls",
            timeout=WAIT_SECONDS,
            interval=1,
        )
        emitted = [p["version"] for p in services.trigger_payloads(model)]
    finally:
        services.stop()
        proxy.stop()

    kills = triggerer.kills
    counts = Counter(emitted)
    lost = sorted(wanted - set(counts), key=int)
    duplicates = sum(n - 1 for n in counts.values())
    line = (
        f"lifecycle tally (events): versions={len(wanted)} events={len(emitted)} "
        f"kills={len(kills)} lost={len(lost)} duplicates={duplicates} seed={seed}"
    )
    publish_tally(summary_lines, line)
    publish_tally(summary_lines, "event watch kills: " + "; ".join(k.describe() for k in kills))
    # The writers ran at once, and every kill fell while all of them were writing.
    all_writing = (max(start for start, _ in windows), min(end for _, end in windows))
    assert len(windows) == WRITERS
    assert all(all_writing[0] <= kill.moment <= all_writing[1] for kill in kills)
    # Each kill fell in its phase: a poll kill inside the held search's recorded window; an
    # emit kill after this trigger's "fired" line, before its next search reached the proxy.
    assert [kill.phase for kill in kills] == phases
    searches = proxy.windows(SEARCH_VERSIONS)
    for kill in kills:
        if kill.phase == "poll":
            assert any(w.start <= kill.moment <= w.end for w in searches), (kill, searches)
        else:
            assert kill.searches_since_fired == 0, kill
    # Every version the writers made is on the server, and nothing else is.
    on_server = {mv.version for mv in plain_client.search_model_versions(f"name = '{model}'")}
    assert on_server == wanted
    assert lost == []
    assert set(counts) == wanted
    assert duplicates <= len(kills)
