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

"""Finding the model to register for a data interval: the best matching training run.

A ``RunSearch`` names an experiment, an MLflow run filter (templated by the operator, so it can
use ``data_interval_start``/``data_interval_end``) and an ordering. The hook resolves it to the
MLflow 3 logged model of the chosen run when there is one (``models:/<model_id>``), else to
``runs:/<run_id>/<artifact_path>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_mlflow_registry.utils.validation import TAG_VALUE_MAX_LENGTH

DEFAULT_ARTIFACT_PATH = "model"


@dataclass(frozen=True)
class RunSearch:
    """Which run's model to register: the first run of the experiment matching ``run_filter``
    in ``order_by`` order (MLflow's default order, newest first, when empty)."""

    experiment_name: str | None = None
    experiment_id: str | None = None
    run_filter: str = ""
    order_by: tuple[str, ...] = ()
    artifact_path: str = DEFAULT_ARTIFACT_PATH

    def __post_init__(self) -> None:
        if bool(self.experiment_name) == bool(self.experiment_id):
            raise ValueError("Give exactly one of experiment_name and experiment_id.")

    def describe(self) -> str:
        """One line for messages: the experiment, the rendered filter and the ordering."""
        experiment = (
            f"experiment {self.experiment_name!r}"
            if self.experiment_name
            else f"experiment id {self.experiment_id}"
        )
        order = ", ".join(self.order_by) or "start_time DESC (default)"
        return f"{experiment}, filter {self.run_filter or '(none)'!r}, order by {order}"


@dataclass(frozen=True)
class ResolvedSource:
    """The run a ``RunSearch`` chose, and the model URI to register from it."""

    model_uri: str
    run_id: str
    experiment_id: str
    search: RunSearch
    logged_model_id: str | None = None

    def as_tags(self) -> dict[str, str]:
        """Lineage tags saying which run was chosen and by which filter."""
        tags = {
            "airflow.source_run_id": self.run_id,
            "airflow.source_experiment_id": self.experiment_id,
            "airflow.source_filter": self.search.run_filter[:TAG_VALUE_MAX_LENGTH],
        }
        if self.search.order_by:
            tags["airflow.source_order_by"] = ", ".join(self.search.order_by)
        return tags


def logged_model_id(model_uri: str | None) -> str | None:
    """The MLflow 3 logged-model id of a ``models:/m-<id>`` URI, else None (``runs:/`` and
    every other source)."""
    if model_uri and model_uri.startswith("models:/m-"):
        return model_uri[len("models:/") :].strip("/").split("/")[0]
    return None
