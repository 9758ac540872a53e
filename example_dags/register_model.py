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

"""Train a tiny scikit-learn model, log it to MLflow, and register it as ``staging``.

Runs as shipped against the ``mlflow_default`` connection: ``bash .ci/example.sh`` points that
connection at a local SQLite MLflow store and runs this DAG with ``airflow dags test``.
Retrying or clearing ``register`` returns the version registered before (``created: false``).

The model is logged through the connection with ``hook.log_model`` (an MLflow 3 logged model
of the training run, registered as ``models:/m-<id>``), with a signature (input columns and
output type, inferred from the training data) and an input example, so the registry shows its
schema and registries that require a signature (Unity Catalog) accept it. Its test accuracy is
the run metric ``accuracy``, which the promotions compare. ``register`` emits the model's asset
(``mlflow://airflow_connection/mlflow_default/iris-classifier``) when it registers a version
or moves ``staging``; ``promote_on_new_version.py`` is scheduled on it. A re-run that
changes nothing emits nothing, so the two DAGs cannot trigger each other in a loop.

The asset is named by the connection id: parsing this file reads no connection.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.operators import RegisterModelVersionOperator

EXPERIMENT_NAME = "airflow-iris"
MODEL_NAME = "iris-classifier"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mlflow", "example"],
    doc_md=__doc__,
)
def register_model() -> None:
    @task
    def train_and_log() -> dict[str, object]:
        """Fit a logistic regression on iris, log its accuracy as a run metric and the model
        (with a signature and an input example) through the connection."""
        import mlflow.sklearn
        import sklearn
        from mlflow.models import infer_signature
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        hook = MlflowRegistryHook()
        client = hook.get_conn()
        experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
        experiment_id = (
            experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT_NAME)
        )
        run_id = client.create_run(experiment_id, run_name="iris-logreg").info.run_id

        # A DataFrame, so the signature names the four input columns.
        features, labels = load_iris(return_X_y=True, as_frame=True)
        x_train, x_test, y_train, y_test = train_test_split(
            features, labels, test_size=0.3, random_state=0
        )
        model = LogisticRegression(max_iter=500).fit(x_train, y_train)
        accuracy = float(model.score(x_test, y_test))
        client.log_param(run_id, "max_iter", 500)
        # Promotions (promote_on_new_version, champion_if_better) compare this run metric.
        client.log_metric(run_id, "accuracy", accuracy)
        logged = hook.log_model(
            mlflow.sklearn,
            model,
            run_id=run_id,
            signature=infer_signature(x_train, model.predict(x_train)),
            input_example=x_train.head(3),
            # Explicit requirements skip MLflow's slow dependency inference.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
        client.set_terminated(run_id)
        return {"model_uri": logged["model_uri"], "accuracy": accuracy}

    trained = train_and_log()
    # [START howto_operator_register_model_version]
    RegisterModelVersionOperator(
        task_id="register",
        model_name=MODEL_NAME,
        model_uri="{{ ti.xcom_pull(task_ids='train_and_log')['model_uri'] }}",
        description="Logistic regression on iris, trained by Airflow run {{ run_id }}.",
        tags={"trained_by": "{{ dag.dag_id }}"},
        aliases=["staging"],
        emit_asset=True,
    ).set_upstream(trained)
    # [END howto_operator_register_model_version]


register_model()
