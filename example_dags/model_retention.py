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

"""Weekly retention for ``iris-classifier``: delete versions older than 30 days, always keeping
the 5 newest and every version an alias points at (``staging``, ``production``).

Trigger it with ``{"dry_run": true}`` as the run's configuration to see what would be deleted
without deleting anything: the ``preview`` task always runs as a dry run and pushes the list to
XCom, and ``delete`` is skipped on a dry run. Deleting needs MANAGE permission on the model
(see the Permissions page of the documentation, ``docs/permissions.rst``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_mlflow_registry.operators import DeleteOldModelVersionsOperator

MODEL_NAME = "iris-classifier"
# [START howto_retention_rule]
RULE = {"keep_latest": 5, "older_than": "P30D"}
# [END howto_retention_rule]


@dag(
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"dry_run": False},
    tags=["mlflow", "example"],
    doc_md=__doc__,
)
def model_retention() -> None:
    # [START howto_operator_delete_old_model_versions]
    preview = DeleteOldModelVersionsOperator(
        task_id="preview", model_name=MODEL_NAME, dry_run=True, **RULE
    )

    @task.short_circuit
    def not_a_dry_run(params: dict) -> bool:
        return not params["dry_run"]

    delete = DeleteOldModelVersionsOperator(task_id="delete", model_name=MODEL_NAME, **RULE)
    preview >> not_a_dry_run() >> delete
    # [END howto_operator_delete_old_model_versions]


model_retention()
