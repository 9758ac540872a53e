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

"""The shipped example DAGs for tests: a module loaded from ``example_dags/`` by name, and what
the tests of ``backfill_registrations`` (one on a LocalExecutor deployment, one on the
production stack's workers) seed and read back."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

    import pendulum
    from mlflow import MlflowClient

EXAMPLE_DAGS_FOLDER = Path(__file__).resolve().parents[2] / "example_dags"


def load_example(name: str) -> ModuleType:
    """``example_dags/<name>.py``, imported as a module of its own (its DAGs defined, not run)."""
    path = EXAMPLE_DAGS_FOLDER / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_dags_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The backfill example: its DAG, the task that registers, and what it registers from.
DAG_ID = "backfill_registrations"
TASK_ID = "register_best_run"
MODEL_NAME = "daily-forecaster"
EXPERIMENT_NAME = "daily-forecaster-training"


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
