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

"""``example_dags/model_retention.py`` runs as shipped (on its own model name) against a real
`mlflow server`: a dry run only previews, a real run deletes by the rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pendulum
import pytest

from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.examples import load_example
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_retention_example_previews_on_a_dry_run_and_deletes_by_its_rule(
    default_registry: MlflowClient,
) -> None:
    model = unique("retention-example")
    for _ in range(7):
        add_version(default_registry, model)
    default_registry.set_registered_model_alias(model, "production", "1")
    example = load_example("model_retention")
    dag = example.model_retention()
    for task_id in ("preview", "delete"):
        dag.get_task(task_id).model_name = model
    # Due 60 days from now: every version is older than the rule's 30 days.
    due = pendulum.now("UTC").add(days=60)

    dry = run_dag(dag, run_conf={"dry_run": True}, logical_date=due, run_after=due)
    states = task_states(dry)
    assert (states[("preview", -1)], states[("delete", -1)]) == ("success", "skipped")
    assert [e["version"] for e in xcom_value(dry, "preview")["would_delete"]] == ["2"]
    assert len(default_registry.search_model_versions(f"name = '{model}'")) == 7

    later = due.add(seconds=1)
    real = run_dag(dag, run_conf={"dry_run": False}, logical_date=later, run_after=later)
    assert set(task_states(real).values()) == {"success"}
    record = xcom_value(real, "delete")
    assert [e["version"] for e in record["deleted"]] == ["2"]
    assert record["protected"] == [{"version": "1", "reason": "alias 'production'"}]
    left = sorted(
        int(mv.version) for mv in default_registry.search_model_versions(f"name = '{model}'")
    )
    assert left == [1, 3, 4, 5, 6, 7]
