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


"""Promote ``challenger`` to ``champion``, check the new champion, and roll back when the check
fails.

``promote`` points ``champion`` at the version ``challenger`` points at (set by
``champion_if_better``); the move is recorded in the model's alias ledger.
``post_promotion_check`` then checks the new champion: here, the ``accuracy`` its source run
logged must reach the ``min_accuracy`` param (put your own canary, shadow-traffic or data check
in its place); trigger it with ``{"min_accuracy": 0.999}`` to see a rollback. When the check fails,
``rollback`` (trigger rule ``one_failed``) points ``champion`` back at the version this run's
promotion replaced, after checking that ``champion`` is still where the ledger's last verified
entry says, and records the rollback with its reason. When the check passes, ``rollback`` is
skipped. ``airflow-mlflow-registry aliases history <model> champion`` shows both moves. When
the promotion moved nothing (``challenger`` was already ``champion``), there is nothing to roll
back, and ``rollback`` fails naming that rule.

Set the Airflow variable ``mlflow_registry_signing_secret`` (32+ random characters) once
before the first run: a rollback trusts only ledger entries signed with it.
Run it with another ``model_name`` param to keep your experiments apart.
"""

from __future__ import annotations

# [START rollback_on_failed_check]
import pendulum
from airflow.sdk import dag, task

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.operators import (
    RollbackModelVersionAliasOperator,
    SetModelVersionAliasOperator,
)

MODEL_NAME = "iris-classifier"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"model_name": MODEL_NAME, "min_accuracy": 0.9},
    tags=["mlflow", "example"],
    doc_md=__doc__,
)
def rollback_on_failed_check() -> None:
    promote = SetModelVersionAliasOperator(
        task_id="promote",
        model_name="{{ params.model_name }}",
        alias="champion",
        from_alias="challenger",
    )

    @task(retries=0)
    def post_promotion_check(promotion: dict[str, str], params: dict[str, object]) -> None:
        hook = MlflowRegistryHook()
        version = hook.get_model_version_entity(promotion["model_name"], promotion["version"])
        accuracy = hook.source_run_metric(version, "accuracy")
        wanted = float(params["min_accuracy"])  # type: ignore[arg-type]
        if accuracy is None or accuracy < wanted:
            raise RuntimeError(
                f"Version {promotion['version']} of {promotion['model_name']!r} failed its "
                f"post-promotion check: accuracy {accuracy} < {wanted}."
            )

    rollback = RollbackModelVersionAliasOperator(
        task_id="rollback",
        model_name="{{ params.model_name }}",
        alias="champion",
        # The version this run's promotion replaced (a failed promotion renders nothing).
        to_version="{{ ti.xcom_pull(task_ids='promote')['previous_version'] }}",
        reason="post_promotion_check failed in run {{ run_id }}",
        trigger_rule="one_failed",
    )
    post_promotion_check(promote.output) >> rollback


rollback_on_failed_check()
# [END rollback_on_failed_check]
