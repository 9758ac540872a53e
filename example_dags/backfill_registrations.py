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

"""Register the best training run of each day, and backfill past days safely.

A training pipeline logs one or more runs a day to the MLflow experiment
``daily-forecaster-training`` (each run logs an ``accuracy`` metric and its model under the
artifact path ``model``). This DAG runs once a day and registers, as a version of
``daily-forecaster``, the most accurate run that started inside its data interval. Days with
no training run are skipped, not failed; a missing (e.g. misspelled) experiment fails.

Backfill past days (needs a running scheduler, dag-processor and api-server, DAG unpaused)::

    airflow backfill create --dag-id backfill_registrations \\
        --from-date 2026-11-01 --to-date 2026-11-07

Each date registers one version tagged with its own ``airflow.logical_date`` and its chosen
run (``airflow.source_run_id``, ``airflow.source_filter``). Backfilling the same dates again
(``--reprocess-behavior completed`` re-runs completed dates with the same run ids) registers
nothing new: every task instance finds the version it registered before (``created: false``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.operators import RegisterModelVersionOperator

try:
    from airflow.sdk import CronDataIntervalTimetable  # Airflow 3.2 and later
except ImportError:  # Airflow 3.0 and 3.1
    from airflow.timetables.interval import CronDataIntervalTimetable

MODEL_NAME = "daily-forecaster"
EXPERIMENT_NAME = "daily-forecaster-training"


@dag(
    # Daily data intervals [D, D+1) with logical date D (a plain "@daily" cron schedule gives
    # zero-length intervals in Airflow 3): the interval bounds the day's training runs.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    tags=["mlflow", "example", "backfill"],
    doc_md=__doc__,
)
def backfill_registrations() -> None:
    # [START howto_operator_register_from_run_search]
    RegisterModelVersionOperator(
        task_id="register_best_run",
        model_name=MODEL_NAME,
        experiment_name=EXPERIMENT_NAME,
        run_filter=(
            "attributes.start_time >= {{ data_interval_start.int_timestamp * 1000 }} "
            "AND attributes.start_time < {{ data_interval_end.int_timestamp * 1000 }}"
        ),
        order_by=["metrics.accuracy DESC"],
        artifact_path="model",
        on_no_match="skip",
        tags={"trained_for": "{{ data_interval_start | ds }}"},
        retries=2,
    )
    # [END howto_operator_register_from_run_search]


backfill_registrations()
