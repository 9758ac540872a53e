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

"""React to registry changes made anywhere: new versions of ``churn-classifier`` and moves of
its ``production`` alias, whoever made them (a notebook, CI, the MLflow UI, another DAG).

Two ``AssetWatcher`` objects run ``MlflowRegistryEventTrigger`` in the triggerer: one on the
model's asset (``model_asset("mlflow_default", ...)``) emits an event for each new READY
version, the other, on an asset of its own for the alias, for each move of ``production``.
Each poll sends one request, every 60 s. Each watcher has its own asset because Airflow keeps
one queue entry per asset and DAG: two events of one asset arriving while the scheduler
creates a run (a version registered with its alias set wakes both watches at once) would
leave the second for the next run. A run that finds several events (``triggering_asset_events``,
by asset) handles each of them. The payload of each event is the version's record
(``version``, ``model_uri``, ``source``, ``run_id``, ``tags``, ...) plus ``event`` and
``alias``.

Needs a running triggerer. The model's asset is named by the connection id: parsing this file
reads no connection. On Airflow 3.3+ the triggers keep their cursors in the asset state store,
so a triggerer restart continues where it stopped; before 3.3 a restarted trigger starts from
the registry's state at that moment (changes made while it was down emit nothing).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, AssetWatcher, dag, task

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger

MODEL_NAME = "churn-classifier"
# [START howto_trigger_registry_events_new_versions]
NEW_VERSIONS = model_asset(
    "mlflow_default",
    MODEL_NAME,
    watchers=[
        AssetWatcher(
            name="churn-classifier-new-versions",
            trigger=MlflowRegistryEventTrigger(model_name=MODEL_NAME, poll_interval=60),
        )
    ],
)
# [END howto_trigger_registry_events_new_versions]
# [START howto_trigger_registry_events_alias]
PRODUCTION_MOVES = Asset(
    name="churn-classifier-production-alias",
    watchers=[
        AssetWatcher(
            name="churn-classifier-production-moves",
            trigger=MlflowRegistryEventTrigger(
                model_name=MODEL_NAME, alias="production", poll_interval=60
            ),
        )
    ],
)
# [END howto_trigger_registry_events_alias]


# [START howto_trigger_registry_events_dag]
@dag(
    schedule=NEW_VERSIONS | PRODUCTION_MOVES,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mlflow", "example", "event-driven"],
    doc_md=__doc__,
)
def on_model_registry_events() -> None:
    @task
    def handle_registry_events(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """One line per registry change this run was started for; returns their payloads."""
        payloads = [
            event.extra["payload"]
            for events in triggering_asset_events.values()
            for event in events
            if event.extra.get("from_trigger")
        ]
        for payload in payloads:
            print(
                f"{payload['event']}: {payload['model_uri']} (alias {payload['alias']}, "
                f"source {payload['source']}, tags {payload['tags']})"
            )
        return payloads

    handle_registry_events()
    # [END howto_trigger_registry_events_dag]


on_model_registry_events()
