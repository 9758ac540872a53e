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

"""The deferrable ModelVersionSensor defers into the stack's standalone triggerer and resumes
when a matching version is registered from outside Airflow."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.support.model_versions import unique

if TYPE_CHECKING:
    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

DAG_ID = "stack_wait_for_version"


def test_deferrable_sensor_waits_in_triggerer_and_resumes_on_outside_registration(
    stack: StackApi,
) -> None:
    model = unique("stack-sensor")
    stack.wait_for_dag(DAG_ID)
    run_id = stack.trigger(DAG_ID, conf={"model_name": model})

    # The task instance reaches `deferred`, and its trigger is taken by the triggerer job.
    deadline = time.monotonic() + 300
    while True:
        rows = stack.query(
            "SELECT ti.state, tr.triggerer_id, j.job_type FROM task_instance ti "
            "LEFT JOIN trigger tr ON tr.id = ti.trigger_id "
            "LEFT JOIN job j ON j.id = tr.triggerer_id "
            "WHERE ti.dag_id = %s AND ti.run_id = %s",
            DAG_ID,
            run_id,
        )
        state, triggerer_id, job_type = rows[0] if rows else (None, None, None)
        if state == "deferred" and triggerer_id is not None:
            break
        assert state not in ("success", "failed", "up_for_retry"), f"sensor ended as {state}"
        assert time.monotonic() < deadline, f"sensor not deferred in time (state {state})"
        time.sleep(1)
    assert job_type == "TriggererJob"

    # Registered from outside Airflow: plain REST calls as MLflow's admin.
    stack.mlflow("POST", "registered-models/create", json={"name": model})
    version = stack.mlflow(
        "POST", "model-versions/create", json={"name": model, "source": "s3://stack/sensor"}
    )["model_version"]["version"]
    stack.mlflow(
        "POST",
        "registered-models/alias",
        json={"name": model, "alias": "ready", "version": version},
    )

    assert stack.wait_for_run(DAG_ID, run_id) == "success"
    record = stack.xcom(DAG_ID, run_id, "wait")
    assert record["model_name"] == model and record["version"] == version
    assert (
        stack.query(
            "SELECT try_number, hostname FROM task_instance WHERE dag_id = %s AND run_id = %s",
            DAG_ID,
            run_id,
        )[0][0]
        == 1
    )  # resumed from the trigger's event, not retried
