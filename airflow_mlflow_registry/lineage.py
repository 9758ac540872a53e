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

"""Where a model version came from: the Airflow task instance that registered it.

The lineage is written as ``airflow.*`` model-version tags in the same request that creates
the version, and is returned in the XCom record. Its ``registration_key`` identifies one task
instance across retries, clears and backfill re-runs, which is what makes registration
exactly-once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pendulum import DateTime

TAG_PREFIX = "airflow."
REGISTRATION_KEY_TAG = "airflow.registration_key"


@dataclass(frozen=True)
class TaskInstanceLineage:
    """Identity and dates of the task instance that registers a model version."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1
    try_number: int = 1
    logical_date: DateTime | None = None
    data_interval_start: DateTime | None = None
    data_interval_end: DateTime | None = None
    run_link: str | None = None

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> TaskInstanceLineage:
        """Read the lineage from an Airflow task context (``execute(context)``)."""
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=-1 if map_index is None else int(map_index),
            try_number=int(getattr(ti, "try_number", 1) or 1),
            logical_date=context.get("logical_date"),
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
            run_link=_task_instance_link(ti.dag_id, ti.run_id, ti.task_id, map_index),
        )

    def registration_key(self, model_name: str) -> str:
        """A hex digest naming (model, dag, run, task, map index): the same on every attempt.

        A digest, because MLflow search filters cannot escape quotes inside values.
        """
        identity = "\x1f".join(
            [model_name, self.dag_id, self.run_id, self.task_id, str(self.map_index)]
        )
        return hashlib.sha256(identity.encode()).hexdigest()

    def as_tags(self) -> dict[str, str]:
        """The ``airflow.*`` tags; dates as ISO-8601, omitted when the run has none."""
        tags = {
            "airflow.dag_id": self.dag_id,
            "airflow.task_id": self.task_id,
            "airflow.run_id": self.run_id,
            "airflow.map_index": str(self.map_index),
            "airflow.try_number": str(self.try_number),
        }
        dates = {
            "airflow.logical_date": self.logical_date,
            "airflow.data_interval_start": self.data_interval_start,
            "airflow.data_interval_end": self.data_interval_end,
        }
        tags.update({key: _iso(value) for key, value in dates.items() if value is not None})
        if self.run_link:
            tags["airflow.run_link"] = self.run_link
        return tags


def _iso(value: Any) -> str:
    import pendulum

    return pendulum.instance(value).in_timezone("UTC").isoformat()


def dag_run_link(dag_id: str, run_id: str) -> str | None:
    """Link to the DAG run in the Airflow UI, when ``[api] base_url`` is configured."""
    from airflow_mlflow_registry.version_compat import conf

    base_url = conf.get("api", "base_url", fallback=None)
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}"


def _task_instance_link(dag_id: str, run_id: str, task_id: str, map_index: Any) -> str | None:
    """Link to the task instance in the Airflow UI, when ``[api] base_url`` is configured."""
    run_link = dag_run_link(dag_id, run_id)
    if run_link is None:
        return None
    mapped = f"/mapped/{map_index}" if map_index is not None and int(map_index) >= 0 else ""
    return f"{run_link}/tasks/{task_id}{mapped}"
