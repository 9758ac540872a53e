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

"""`airflow backfill create` over past days, with a real scheduler, against a real MLflow server.

Starts api-server, scheduler and dag-processor (LocalExecutor, SQLite, temp AIRFLOW_HOME) on
the shipped `example_dags/backfill_registrations.py`. Select alone with `-m backfill`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import time
from typing import TYPE_CHECKING, Any

import pendulum
import pytest

from tests.conftest import REPO_ROOT
from tests.support.airflow_env import connection_json
from tests.support.airflow_services import AirflowServices
from tests.support.examples import (
    DAG_ID,
    TASK_ID,
    registered_versions,
    seed_training_runs,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mlflow_server import MlflowServer

DAYS = 5


def register_task_outcomes(services: AirflowServices) -> dict[str, tuple[int, dict[str, Any]]]:
    """Backfill run id to (try number, XCom record) of its ``register_best_run`` task
    instance, read from the deployment's metadata DB."""
    with contextlib.closing(sqlite3.connect(services.home / "airflow.db")) as db:
        tries = dict(
            db.execute(
                "SELECT run_id, try_number FROM task_instance WHERE dag_id = ? AND task_id = ?",
                (DAG_ID, TASK_ID),
            ).fetchall()
        )
        records = dict(
            db.execute(
                "SELECT run_id, value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ?",
                (DAG_ID, TASK_ID, "return_value"),
            ).fetchall()
        )
    return {
        run_id: (tries[run_id], decode_json(value))
        for run_id, value in records.items()
        if run_id.startswith("backfill__")
    }


def decode_json(value: str) -> Any:
    """A JSON column's value, which may hold JSON encoded as a JSON string."""
    decoded = json.loads(value)
    return json.loads(decoded) if isinstance(decoded, str) else decoded


def wait_for_backfills_completed(services: AirflowServices, timeout: float = 120) -> None:
    """Block until the scheduler has marked every backfill of the DAG completed (it checks
    every 30 s); until then Airflow refuses a new backfill of the DAG."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(services.home / "airflow.db")) as db:
            (open_backfills,) = db.execute(
                "SELECT count(*) FROM backfill WHERE dag_id = ? AND completed_at IS NULL",
                (DAG_ID,),
            ).fetchone()
        if open_backfills == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill still open after {timeout} s{services.log_tails()}")
        time.sleep(3)


def create_backfill_alone(services: AirflowServices, args: list[str]) -> None:
    """Run ``airflow backfill create`` while no other Airflow process writes to the metadata DB.

    On SQLite, Airflow creates a backfill's runs in a transaction that reads before it writes;
    in WAL mode a commit by another process in between makes SQLite refuse the write ("database
    is locked", which no busy timeout waits out). Airflow has then committed the backfill and
    part of its runs (with ``--reprocess-behavior completed``: some dates already cleared for
    another try), so the command cannot simply be sent again. The scheduler (the one process
    that writes all the time) is therefore stopped while the command runs; the dag-processor
    is stopped once the DAG is parsed, and the api-server writes only for running tasks.
    """
    services.stop("scheduler")
    services.cli(*args)
    services.start("scheduler")


@pytest.mark.e2e
@pytest.mark.backfill
@pytest.mark.timeout(1200)  # 933 s measured on 2 cores at load 12-16 (other suites running)
def test_backfill_registers_each_day_once_and_reprocessing_registers_nothing(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    client = mlflow_server.client()
    today = pendulum.today("UTC")
    days = [today.subtract(days=offset) for offset in range(DAYS + 2, 2, -1)]
    best_run_of_day = seed_training_runs(client, days)

    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(REPO_ROOT / "example_dags" / f"{DAG_ID}.py", dags_folder)
    services = AirflowServices(
        tmp_path / "airflow", dags_folder, {"mlflow_default": connection_json(mlflow_server.url)}
    )
    backfill = [
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", days[0].to_date_string(), "--to-date", days[-1].to_date_string(),
    ]  # fmt: skip
    try:
        services.start("api-server", "dag-processor")
        services.wait_for_dag(DAG_ID)
        services.stop("dag-processor")  # the DAG is in the DB: nothing more to parse
        services.cli("dags", "unpause", DAG_ID)

        first_pass = time.time()
        create_backfill_alone(services, backfill)
        states = services.wait_for_runs(DAG_ID, "backfill__", DAYS, after=first_pass)
        assert set(states.values()) == {"success"}, services.log_tails()
        versions = registered_versions(client)
        by_day = {pendulum.parse(date).to_date_string(): run for date, run in versions.values()}
        assert len(versions) == DAYS
        assert by_day == best_run_of_day  # one version per day, from that day's best run
        first = register_task_outcomes(services)
        assert sorted((t, r["created"]) for t, r in first.values()) == [(1, True)] * DAYS

        wait_for_backfills_completed(services)
        second_pass = time.time()
        create_backfill_alone(services, [*backfill, "--reprocess-behavior", "completed"])
        states = services.wait_for_runs(DAG_ID, "backfill__", DAYS, after=second_pass)
        assert set(states.values()) == {"success"}, services.log_tails()
        assert registered_versions(client) == versions  # nothing new, nothing changed
        # The second pass did run the registration: try 2 of the same task instances found
        # the version try 1 registered.
        second = register_task_outcomes(services)
        assert set(second) == set(first)
        for run_id, (try_number, record) in second.items():
            assert (try_number, record["created"]) == (2, False), run_id
            assert record["version"] == first[run_id][1]["version"]
            assert record["lineage"]["airflow.try_number"] == "1"  # the attempt that created it
    finally:
        services.stop()
    # Reached only on success: a failed run keeps the home (service logs, metadata DB) to read.
    shutil.rmtree(services.home, ignore_errors=True)
    print(f"\nreal-scheduler backfill test: {time.monotonic() - started:.0f} s")
