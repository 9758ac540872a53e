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

"""A backfill of the shipped ``backfill_registrations`` DAG over ten days on the stack: its
task instances run on both Celery workers, each day registers exactly one version, and
re-processing the completed days registers none.

Both workers are used by design, not by chance: the backfill keeps up to four runs active,
so the scheduler queues several task instances at once, and a stack worker takes one task at
a time (``CELERY_WORKER_CONCURRENCY`` in ``tests.support.stack``), so a second task in flight
can only go to the other worker."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pendulum
import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from tests.support.examples import (
    DAG_ID,
    registered_versions,
    seed_training_runs,
)
from tests.support.stack import WORKERS

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

DAYS = 10


def run_backfill(stack: StackApi, days: list[pendulum.DateTime], reprocess: str) -> None:
    """Create a backfill over ``days`` through the REST API and wait until it completes."""
    body = {
        "dag_id": DAG_ID,
        "from_date": days[0].isoformat(),
        "to_date": days[-1].isoformat(),
        "reprocess_behavior": reprocess,
        "max_active_runs": 4,
    }
    backfill_id = stack.airflow("POST", "backfills", json=body)["id"]
    deadline = time.monotonic() + 420
    while stack.airflow("GET", f"backfills/{backfill_id}")["completed_at"] is None:
        assert time.monotonic() < deadline, f"backfill {backfill_id} not completed in time"
        time.sleep(3)


def test_backfill_over_ten_days_runs_on_both_workers_and_registers_each_day_once(
    stack: StackApi, use_connection: UseConnection
) -> None:
    use_connection(
        "stack_mlflow",
        stack.state.mlflow_url,
        login="airflow",
        password=stack.state.mlflow_airflow_password,
    )
    client = MlflowRegistryHook("stack_mlflow").get_conn()
    today = pendulum.today("UTC")
    days = [today.subtract(days=offset) for offset in range(DAYS + 2, 2, -1)]
    best_run_of_day = seed_training_runs(client, days)
    stack.wait_for_dag(DAG_ID)

    run_backfill(stack, days, "none")
    versions = registered_versions(client)
    by_day = {pendulum.parse(date).to_date_string(): run for date, run in versions.values()}
    assert len(versions) == DAYS
    assert by_day == best_run_of_day  # one version per day, from that day's best run
    attempts = stack.task_attempts(DAG_ID)
    backfill_attempts = [a for a in attempts if a[0].startswith("backfill__")]
    assert {state for _, _, _, state, _ in backfill_attempts} == {"success"}
    assert len({run_id for run_id, *_ in backfill_attempts}) == DAYS
    assert {host for *_, host in backfill_attempts} == {f"stack-{worker}" for worker in WORKERS}

    first_tries = final_tries(stack)
    run_backfill(stack, days, "completed")
    assert registered_versions(client) == versions  # nothing new, nothing changed
    second_tries = final_tries(stack)
    assert second_tries.keys() == first_tries.keys()
    assert all(second_tries[run] > first_tries[run] for run in first_tries)  # all ran again


def final_tries(stack: StackApi) -> dict[str, int]:
    """Backfill run id to the try number of its (successful) task instance."""
    rows = stack.query(
        "SELECT run_id, try_number, state FROM task_instance "
        "WHERE dag_id = %s AND run_id LIKE 'backfill__%%'",
        DAG_ID,
    )
    assert {state for *_, state in rows} == {"success"}
    return {run_id: try_number for run_id, try_number, _ in rows}
