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

"""The approval scenarios of tests/integration/test_approve_model_version.py, one task each,
all in one run (the models and versions come from the run's conf, seeded by the test)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.operators import ApproveModelVersionOperator


class FailOnceAfterTheDecision(ApproveModelVersionOperator):
    """Fails its first try right after the decision was recorded (and the alias moved): the
    retry must neither ask again nor move the alias again."""

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        record = super().execute_complete(context, event)
        if context["ti"].try_number == 1:
            raise RuntimeError("failing the first try after the decision, as a crash would")
        return record


def conf(key: str) -> str:
    return "{{ dag_run.conf['" + key + "'] }}"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def approval_scenarios() -> None:
    ApproveModelVersionOperator(
        task_id="approve_in_ui",
        model_name=conf("ui_model"),
        alias="champion",
        from_alias="challenger",
        compare_metrics=["accuracy", "f1"],
    )
    ApproveModelVersionOperator(
        task_id="reject",
        model_name=conf("reject_model"),
        alias="champion",
        version=conf("reject_version"),
    )
    ApproveModelVersionOperator(
        task_id="expire",
        model_name=conf("expire_model"),
        alias="champion",
        from_alias="challenger",
        response_timeout=timedelta(seconds=15),
        defaults="Reject",
    )
    FailOnceAfterTheDecision(
        task_id="retry_after_approval",
        model_name=conf("retry_model"),
        alias="champion",
        from_alias="challenger",
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
    # Gates for `staging` whose candidates carry forged approvals naming `champion`, and two
    # `champion` gates: one whose alias moves while it waits, one whose request is rewritten.
    for task_id, alias in [
        ("forged_plain", "staging"),
        ("forged_keyed", "staging"),
        ("stale", "champion"),
    ]:
        ApproveModelVersionOperator(
            task_id=task_id,
            model_name=conf(f"{task_id}_model"),
            alias=alias,
            from_alias="challenger",
        )
    ApproveModelVersionOperator(
        task_id="xcom_changed",
        model_name=conf("xcom_model"),
        alias="champion",
        version=conf("xcom_candidate"),
    )
    # Four eyes: two chained gates, each asking one person; the second one moves `champion`.
    for chain in ("four_eyes", "same_person"):
        first, second = (
            ApproveModelVersionOperator(
                task_id=f"{chain}_{n}",
                model_name=conf(f"{chain}_model"),
                alias="champion",
                from_alias="challenger",
                required_approvals=2,
            )
            for n in (1, 2)
        )
        first >> second
    ApproveModelVersionOperator(
        task_id="self_approval",
        model_name=conf("self_approval_model"),
        alias="champion",
        from_alias="challenger",
        exclude_triggering_user=True,
    )
    ApproveModelVersionOperator(
        task_id="guard_blocks",
        model_name=conf("guard_model"),
        alias="champion",
        from_alias="challenger",
        guard_metric="accuracy",
    )


approval_scenarios()
