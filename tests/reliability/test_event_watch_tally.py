"""Lifecycle tally (events): a registry-event watch in a real triggerer, killed with SIGKILL at
random points of a concurrent burst of versions made by plain ``MlflowClient`` threads.

Claim: no version is lost; a version is emitted twice only when a kill falls between the
event's hand-over to the triggerer's supervisor and the cursor's write (the trigger's commit
margin), so duplicates are at most one per kill (one event per poll). Airflow 3.3's asset
state store keeps the cursor across the kills. Api-server, scheduler, dag-processor and
triggerer (LocalExecutor, SQLite) and an `mlflow server`; the deployment reaches the server
through a proxy that counts the watch's polls, which bound "nothing more is emitted".
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from functools import partial
from typing import TYPE_CHECKING

import pytest

from tests.support.airflow_env import connection_json
from tests.support.airflow_services import AirflowServices
from tests.support.bearer_proxy import ForwardingProxy
from tests.support.model_versions import add_version, unique
from tests.support.trigger_runner import SEARCH, polls, write_watcher_dag

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

DAG_ID = "event_watch_tally"
WRITERS = 3
KILLS = 3
POLL_INTERVAL = 1


def wait_for(condition: Callable[[], object], what: str, services: AirflowServices) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in 300 s{services.log_tails(30)}")
        time.sleep(1)


@pytest.mark.timeout(1200)
def test_triggerer_killed_during_a_burst_loses_no_version(
    mlflow_server: MlflowServer, tmp_path: Path, summary_lines: list[str]
) -> None:
    from mlflow import MlflowClient

    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    model = unique("tally-events")
    MlflowClient(tracking_uri=mlflow_server.url).create_registered_model(model)
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    write_watcher_dag(dags_folder, DAG_ID, model, POLL_INTERVAL)
    proxy = ForwardingProxy(mlflow_server.url)
    proxy.start()
    services = AirflowServices(
        tmp_path / "airflow", dags_folder, {"mlflow_default": connection_json(proxy.url)}
    )
    # A killed triggerer's watchers move to the next one once its heartbeat is this old.
    services.env["AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC"] = "1"
    services.env["AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD"] = "5"
    created: list[str] = []
    windows: list[tuple[float, float]] = []
    kill_times: list[float] = []
    lock = threading.Lock()

    kills_done = threading.Event()

    def write_versions(writer_rng: random.Random) -> None:
        """Versions at random intervals until the last kill is done."""
        client = MlflowClient(tracking_uri=mlflow_server.url)
        start = time.monotonic()
        while not kills_done.is_set():
            version = add_version(client, model)
            with lock:
                created.append(version)
            time.sleep(writer_rng.uniform(2, 5))
        with lock:
            windows.append((start, time.monotonic()))

    def watch_running(since: int) -> bool:
        log = (services.home / "triggerer.log").read_text(errors="replace")
        return "starting" in log[since:]

    try:
        services.start()
        services.start("triggerer")
        services.wait_for_dag(DAG_ID)
        services.cli("dags", "unpause", DAG_ID)
        wait_for(
            lambda: services.query("SELECT value FROM asset_state_store"),
            "the watch's first cursor",
            services,
        )
        writers = [
            threading.Thread(target=write_versions, args=(random.Random(seed + n),))
            for n in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        for _ in range(KILLS):
            # A random point while the watch runs: restarted, polling, emitting.
            offset = (services.home / "triggerer.log").stat().st_size
            time.sleep(rng.uniform(0.5, 4))
            kill_times.append(time.monotonic())
            services.kill("triggerer")
            services.start("triggerer")
            wait_for(partial(watch_running, offset), "the watch in the new triggerer", services)
        time.sleep(rng.uniform(0.5, 4))
        kills_done.set()
        for writer in writers:
            writer.join()

        wanted = set(created)
        wait_for(
            lambda: wanted <= {p["version"] for p in services.trigger_payloads(model)},
            "an event for every version",
            services,
        )
        settled = polls(proxy, SEARCH, model)
        wait_for(lambda: polls(proxy, SEARCH, model) >= settled + 5, "five more polls", services)
        emitted = [p["version"] for p in services.trigger_payloads(model)]
    finally:
        services.stop()
        proxy.stop()

    counts = Counter(emitted)
    lost = sorted(wanted - set(counts), key=int)
    duplicates = sum(n - 1 for n in counts.values())
    line = (
        f"lifecycle tally (events): versions={len(wanted)} events={len(emitted)} "
        f"kills={len(kill_times)} lost={len(lost)} duplicates={duplicates} seed={seed}"
    )
    summary_lines.append(line)
    print(f"\n{line}")
    # The writers ran at once, and every kill fell while all of them were writing.
    all_writing = (max(start for start, _ in windows), min(end for _, end in windows))
    assert len(windows) == WRITERS
    assert all(all_writing[0] <= moment <= all_writing[1] for moment in kill_times)
    assert len(wanted) == len(created)
    assert lost == []
    assert set(counts) == wanted
    assert duplicates <= len(kill_times)
