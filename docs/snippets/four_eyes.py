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

"""Code shown in the docs that no example DAG holds: two people approve before ``champion``
moves. A complete DAG of two chained approval gates with ``required_approvals=2``; built by
tests/docs/test_snippets.py, and the same chain runs end to end in the approval scenarios."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.operators import ApproveModelVersionOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def four_eyes() -> None:
    # [START howto_operator_four_eyes]
    first, second = (
        ApproveModelVersionOperator(
            task_id=f"approve_{n}",
            model_name="churn",
            alias="champion",
            from_alias="challenger",
            required_approvals=2,
            exclude_triggering_user=True,
            assigned_users=[{"id": "alice", "name": "alice"}, {"id": "bob", "name": "bob"}],
        )
        for n in (1, 2)
    )
    first >> second
    # [END howto_operator_four_eyes]


four_eyes()
