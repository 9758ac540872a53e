"""`airflow backfill create` over past days, with a real scheduler, against a real MLflow server.

Starts api-server, scheduler and dag-processor (LocalExecutor, SQLite, temp AIRFLOW_HOME) on
the shipped `example_dags/backfill_registrations.py`. Select alone with `-m backfill`.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING

import pendulum
import pytest

from tests.conftest import REPO_ROOT
from tests.support.airflow_env import connection_json
from tests.support.airflow_services import AirflowServices

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow import MlflowClient

    from tests.support.mlflow_server import MlflowServer

DAG_ID = "backfill_registrations"
MODEL_NAME = "daily-forecaster"
EXPERIMENT_NAME = "daily-forecaster-training"
DAYS = 5


def seed_training_runs(client: MlflowClient, days: list[pendulum.DateTime]) -> dict[str, str]:
    """Two runs a day, at 06:00 and 18:00 UTC, each with a logged model named `model`; return
    day (YYYY-MM-DD) to the id of its more accurate run."""
    experiment_id = client.create_experiment(EXPERIMENT_NAME)
    best = {}
    for index, day in enumerate(days):
        for hour, accuracy in ((6, 0.91 + index / 100), (18, 0.71 + index / 100)):
            start = day.add(hours=hour)
            run_id = client.create_run(
                experiment_id, start_time=int(start.timestamp() * 1000)
            ).info.run_id
            client.log_metric(run_id, "accuracy", accuracy)
            client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
            if hour == 6:
                best[day.to_date_string()] = run_id
    return best


def registered_versions(client: MlflowClient) -> dict[str, tuple[str, str]]:
    """Version number to (logical date, source run id) of every version of the model."""
    return {
        v.version: (v.tags["airflow.logical_date"], v.tags["airflow.source_run_id"])
        for v in client.search_model_versions(f"name='{MODEL_NAME}'")
    }


def create_backfill(services: AirflowServices, args: list[str]) -> None:
    """Run ``airflow backfill create``, again while Airflow refuses it for a passing reason:
    the scheduler marks a backfill completed a little after its last run ends (until then a
    new one is refused), and the scheduler's writes can hold the shared SQLite file locked."""
    deadline = time.monotonic() + 120
    while True:
        try:
            services.cli(*args)
            return
        except RuntimeError as refused:
            passing = ("AlreadyRunningBackfill", "database is locked")
            if not any(reason in str(refused) for reason in passing):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(3)


@pytest.mark.backfill
def test_backfill_registers_each_day_once_and_reprocessing_registers_nothing(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    started = time.monotonic()
    client = MlflowClient(tracking_uri=mlflow_server.url)
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
        services.start()
        services.wait_for_dag(DAG_ID)
        services.cli("dags", "unpause", DAG_ID)

        first_pass = time.time()
        create_backfill(services, backfill)
        states = services.wait_for_runs(DAG_ID, "backfill__", DAYS, after=first_pass)
        assert set(states.values()) == {"success"}, services.log_tails()
        versions = registered_versions(client)
        by_day = {pendulum.parse(date).to_date_string(): run for date, run in versions.values()}
        assert len(versions) == DAYS
        assert by_day == best_run_of_day  # one version per day, from that day's best run

        second_pass = time.time()
        create_backfill(services, [*backfill, "--reprocess-behavior", "completed"])
        states = services.wait_for_runs(DAG_ID, "backfill__", DAYS, after=second_pass)
        assert set(states.values()) == {"success"}, services.log_tails()
        assert registered_versions(client) == versions  # nothing new, nothing changed
    finally:
        services.stop()
    print(f"\nreal-scheduler backfill test: {time.monotonic() - started:.0f} s")
