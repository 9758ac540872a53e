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

"""Train a model, register it as ``challenger``, and let a person promote it to ``champion``.

``train_and_log`` fits a logistic regression on iris (regularisation ``C`` from the DAG's
params) and logs its parameters and metrics; ``register`` registers it and points
``challenger`` at it. ``approve_champion`` then:

1. checks the guard: the challenger's ``accuracy`` must beat the current ``champion``'s (a
   first promotion passes); otherwise the task is skipped and nobody is asked;
2. asks a reviewer, in the Airflow UI (*Required actions*) or through the REST API, showing
   both versions side by side: metrics with the difference, parameters that differ, tags,
   source runs, lineage and links;
3. on *Approve*, moves ``champion`` to the challenger and records the decision on the version
   (``airflow.approval.*`` tags: status, who, when, comment, DAG run, Airflow's signature).

Set the Airflow variable ``mlflow_registry_signing_secret`` (32+ random characters) once
before the first run: approvals are recorded with Airflow's signature.

``deploy`` runs only after an approval (a rejection, or no answer within a day, skips it).
Run it with another ``model_name`` param to keep your experiments apart. Needs Airflow 3.1+.
"""

from __future__ import annotations

# [START approve_and_promote]
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.operators import (
    ApproveModelVersionOperator,
    RegisterModelVersionOperator,
)

EXPERIMENT_NAME = "airflow-iris-approval"
MODEL_NAME = "iris-classifier-reviewed"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"model_name": MODEL_NAME, "C": 1.0},
    tags=["mlflow", "example"],
    doc_md=__doc__,
)
def approve_and_promote() -> None:
    @task
    def train_and_log(params: dict[str, object]) -> dict[str, object]:
        """Fit a logistic regression on iris; log C, max_iter, accuracy and f1_macro."""
        import tempfile

        import mlflow.sklearn
        import sklearn
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score
        from sklearn.model_selection import train_test_split

        client = MlflowRegistryHook().get_conn()
        experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
        experiment_id = (
            experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT_NAME)
        )
        run_id = client.create_run(experiment_id, run_name="iris-logreg").info.run_id
        features, labels = load_iris(return_X_y=True, as_frame=True)
        x_train, x_test, y_train, y_test = train_test_split(
            features, labels, test_size=0.3, random_state=0
        )
        c = float(params["C"])  # type: ignore[arg-type]
        model = LogisticRegression(C=c, max_iter=500).fit(x_train, y_train)
        predicted = model.predict(x_test)
        client.log_param(run_id, "C", c)
        client.log_param(run_id, "max_iter", 500)
        client.log_metric(run_id, "accuracy", float(model.score(x_test, y_test)))
        client.log_metric(run_id, "f1_macro", float(f1_score(y_test, predicted, average="macro")))
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.sklearn.save_model(
                model,
                f"{tmp}/model",
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
            client.log_artifacts(run_id, f"{tmp}/model", artifact_path="model")
        client.set_terminated(run_id)
        return {"model_uri": f"runs:/{run_id}/model"}

    trained = train_and_log()
    register = RegisterModelVersionOperator(
        task_id="register",
        model_name="{{ params.model_name }}",
        model_uri=trained["model_uri"],
        tags={"trained_by": "{{ dag.dag_id }}"},
        aliases=["challenger"],
    )

    # [START howto_operator_approve_model_version]
    approve = ApproveModelVersionOperator(
        task_id="approve_champion",
        model_name="{{ params.model_name }}",
        alias="champion",
        from_alias="challenger",
        guard_metric="accuracy",
        compare_metrics=["accuracy", "f1_macro"],
        response_timeout=timedelta(days=1),
        defaults="Reject",
    )
    # [END howto_operator_approve_model_version]

    @task
    def deploy(promotion: dict[str, object]) -> str:
        """Stand-in for a deployment: reached only when the reviewer approved."""
        print(f"Deploying {promotion['model_uri']}, approved by {promotion['decided_by']}.")
        return str(promotion["model_uri"])

    register >> approve
    deploy(approve.output)


approve_and_promote()
# [END approve_and_promote]
