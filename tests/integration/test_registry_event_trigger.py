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

"""Event-driven scheduling on a model's registry with a real triggerer (issue 12, item 1).

Starts api-server, scheduler, dag-processor and triggerer (LocalExecutor, SQLite, temp
AIRFLOW_HOME) and an `mlflow server`. Versions are registered with a plain `MlflowClient`.
Beside the test's own DAG, the dags folder holds the example `on_model_registry_events`, run
as users copy it.
Markers `e2e` (the end-to-end tier, `bash .ci/e2e-tests.sh`) and `event_trigger` (this test
alone: `bash .ci/e2e-tests.sh -m event_trigger`); about ten minutes on two shared cores.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO_ROOT
from tests.support.airflow_env import connection_json
from tests.support.airflow_services import AirflowServices
from tests.support.bearer_proxy import ForwardingProxy
from tests.support.model_versions import add_version, unique
from tests.support.trigger_runner import SEARCH, polls, write_watcher_dag

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mlflow_server import MlflowServer

DAG_ID = "on_new_model_version"
EXAMPLE_DAG_ID = "on_model_registry_events"
EXAMPLE_MODEL = "churn-classifier"
POLL_INTERVAL = 5


def returned_by_example(services: AirflowServices) -> list[dict[str, Any]]:
    """Every payload the example's task returned (pushed to XCom), over all its runs."""
    rows = services.query(
        f"SELECT value FROM xcom WHERE dag_id = '{EXAMPLE_DAG_ID}' "
        "AND task_id = 'handle_registry_events' AND key = 'return_value'",
    )
    return [p for (value,) in rows for p in (json.loads(value) if value else [])]


@pytest.mark.e2e
@pytest.mark.event_trigger
@pytest.mark.timeout(1200)
def test_each_new_version_starts_one_run_and_a_restart_replays_nothing(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    client = mlflow_server.client()
    model = unique("watched")
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    write_watcher_dag(dags_folder, DAG_ID, model, POLL_INTERVAL)
    shutil.copy(REPO_ROOT / "example_dags" / f"{EXAMPLE_DAG_ID}.py", dags_folder)
    # The deployment reaches the server through a proxy that counts the watch's polls.
    proxy = ForwardingProxy(mlflow_server.url)
    proxy.start()
    services = AirflowServices(
        tmp_path / "airflow",
        dags_folder,
        {"mlflow_default": connection_json(proxy.url)},
    )
    try:
        services.start()
        services.start("triggerer")
        for dag_id in (DAG_ID, EXAMPLE_DAG_ID):
            services.wait_for_dag(dag_id)
            services.cli("dags", "unpause", dag_id)
        # Each trigger's first poll stores its cursor: the test's trigger (no model yet:
        # version 0) and the example's two (newest version, alias holder).
        services.wait_for(
            lambda: len(services.query("SELECT value FROM asset_state_store")) == 3,
            "the three triggers' first cursors",
        )
        # The example's watchers poll every 60 s: registered now, seen while the test goes on.
        example_version = add_version(client, EXAMPLE_MODEL, aliases=["production"])

        versions = [add_version(client, model, tags={"n": str(n)}) for n in range(3)]
        runs = services.wait_for_runs(DAG_ID, "asset_triggered__", 3, after=0)
        assert set(runs.values()) == {"success"}
        payloads = services.trigger_payloads(model)
        assert [p["version"] for p in payloads] == versions == ["1", "2", "3"]
        for n, payload in enumerate(payloads):
            assert payload["event"] == "new_version"
            assert payload["model_name"] == model
            assert payload["model_uri"] == f"models:/{model}/{n + 1}"
            assert payload["tags"] == {"n": str(n)}
            assert payload["source"] == f"runs:/{payload['run_id']}/model"
            assert payload["status"] == "READY"
        assert len(services.dag_runs(DAG_ID)) == 3

        log = services.home / "triggerer.log"
        offset = log.stat().st_size
        services.stop("triggerer")  # SIGTERM, as a deployment's restart does
        services.start("triggerer")
        services.wait_for(
            lambda: "starting" in log.read_text(errors="replace")[offset:],
            "the trigger started by the restarted triggerer",
        )
        # Nothing replayed: four polls of the restarted watch, counted at the proxy.
        restarted_polls = polls(proxy, SEARCH, model)
        services.wait_for(
            lambda: polls(proxy, SEARCH, model) >= restarted_polls + 4,
            "four polls after the restart",
        )
        assert len(services.trigger_payloads(model)) == 3
        assert len(services.dag_runs(DAG_ID)) == 3

        fourth = add_version(client, model)
        services.wait_for_runs(DAG_ID, "asset_triggered__", 4, after=0)
        assert [p["version"] for p in services.trigger_payloads(model)] == [*versions, fourth]
        assert len(services.dag_runs(DAG_ID)) == 4

        # Versions registered while no triggerer runs are emitted, one run each, once it is
        # back: the cursor in the asset state store says where the watch stopped.
        services.stop("triggerer")
        while_down = [add_version(client, model) for _ in range(2)]
        services.start("triggerer")
        services.wait_for_runs(DAG_ID, "asset_triggered__", 6, after=0)
        settled = polls(proxy, SEARCH, model)
        services.wait_for(lambda: polls(proxy, SEARCH, model) >= settled + 2, "two more polls")
        emitted = [p["version"] for p in services.trigger_payloads(model)]
        assert emitted == [*versions, fourth, *while_down] == ["1", "2", "3", "4", "5", "6"]
        assert len(services.dag_runs(DAG_ID)) == 6

        # The example DAG ran for both changes of its model (a new version, a move of
        # `production`), and its task returned each event's payload. Compared as sets: the
        # triggerer restarts above may fall within the 3 s after one of the example's events
        # (a documented replay of that event); exact counts are asserted on `model` above.
        def example_events() -> list[dict[str, Any]] | None:
            found = services.trigger_payloads(EXAMPLE_MODEL)
            return found if len(found) >= 2 else None

        def example_runs_done() -> list[dict[str, Any]] | None:
            runs = services.dag_runs(EXAMPLE_DAG_ID)
            ended = runs and all(run["state"] in ("success", "failed") for run in runs)
            return runs if ended and len(returned_by_example(services)) >= 2 else None

        events = services.wait_for(example_events, "the example's two events")
        assert {(p["event"], p["version"]) for p in events} == {
            ("alias_moved", example_version),
            ("new_version", example_version),
        }
        example_runs = services.wait_for(example_runs_done, "the example's runs to end")
        assert {r["state"] for r in example_runs} == {"success"}
        handled = returned_by_example(services)
        assert {(p["event"], p["version"], p["alias"]) for p in handled} == {
            ("alias_moved", example_version, "production"),
            ("new_version", example_version, None),
        }
    finally:
        services.stop()
        proxy.stop()
    print(f"\nreal-triggerer event test: {time.monotonic() - started:.0f} s")
