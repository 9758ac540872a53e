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

"""Train a challenger and make it the ``champion`` of ``iris-classifier`` only if it is better.

``train`` fits a logistic regression (regularisation strength from the ``C`` parameter), logs
its test accuracy as the ``accuracy`` metric of an MLflow run and logs the model through the
connection (``hook.log_model``). ``register_challenger`` registers it and points
``challenger`` at it. ``promote`` compares the ``accuracy`` metric of the runs behind
``challenger`` and ``champion``: it moves ``champion`` only when the challenger is strictly
better, and is skipped otherwise (the log states both values), which skips ``announce`` too.
When no version is ``champion`` yet, the first challenger becomes champion.

Trigger it with ``{"C": 0.01}`` to train a weaker model and watch the promotion skip.
Runs after ``register_model`` in the examples' order; ``promote_across_registries`` then copies
the champion to a production registry.
"""

# [START champion_if_better]
from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.operators import (
    RegisterModelVersionOperator,
    SetModelVersionAliasOperator,
)

MODEL_NAME = "iris-classifier"
EXPERIMENT_NAME = "airflow-iris"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"C": 1.0},
    tags=["mlflow", "example"],
    doc_md=__doc__,
)
def champion_if_better() -> None:
    @task
    def train(params: dict[str, Any]) -> str:
        """Fit a logistic regression on iris; log its accuracy (a run metric) and the model."""
        import mlflow.sklearn
        import sklearn
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        hook = MlflowRegistryHook(mlflow_conn_id="mlflow_default")
        client = hook.get_conn()
        experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
        run = client.create_run(
            experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT_NAME)
        )
        x_train, x_test, y_train, y_test = train_test_split(
            *load_iris(return_X_y=True), test_size=0.3, random_state=0
        )
        model = LogisticRegression(C=params["C"], max_iter=500).fit(x_train, y_train)
        # The promotion compares this run metric, not a tag.
        client.log_metric(run.info.run_id, "accuracy", model.score(x_test, y_test))
        # [START howto_hook_log_model]
        logged = hook.log_model(
            mlflow.sklearn,
            model,
            run_id=run.info.run_id,
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
        # [END howto_hook_log_model]
        client.set_terminated(run.info.run_id)
        return logged["model_uri"]  # models:/m-<logged model id>

    register = RegisterModelVersionOperator(
        task_id="register_challenger",
        model_name=MODEL_NAME,
        model_uri="{{ ti.xcom_pull(task_ids='train') }}",
        aliases=["challenger"],
    )
    # [START howto_operator_promote_if_better]
    promote = SetModelVersionAliasOperator(
        task_id="promote",
        model_name=MODEL_NAME,
        alias="champion",
        best_metric="accuracy",  # metric_direction="min" for a loss
        candidate_alias="challenger",
        require_improvement=True,  # else skipped, and so are the tasks after it
    )
    # [END howto_operator_promote_if_better]

    @task
    def announce(promotion: dict[str, Any]) -> str:
        """Runs only when ``champion`` moved."""
        return f"champion is now version {promotion['version']} ({promotion['metric_value']})"

    train() >> register >> promote
    announce(promote.output)


champion_if_better()
# [END champion_if_better]
