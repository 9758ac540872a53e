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

"""The Unity Catalog registry store copies a new version's model files into UC storage: it
downloads the source, validates its signature, then uploads. The download must use the
connection's credentials, not MLflow's environment ones.

No Databricks here. What runs for real: MLflow's own ``UcModelRegistryStore`` code for
``create_model_version`` (source resolution, signature validation, the run look-up sent to
the workspace), with the workspace played by the token-checking proxy in front of a local
``mlflow server`` (same REST API for runs and artifacts). What is intercepted: the store's
``_create_and_finalize_model_version``, the step that sends UC-only requests (create,
temporary storage credentials, finalize) and uploads to cloud storage, none of which exists
here; the test replaces it with a recorder of the local model directory it is handed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.hooks import MlflowRegistryHook

if TYPE_CHECKING:
    import pytest

    from tests.conftest import UseConnection
    from tests.support.bearer_proxy import BearerProxy


def test_uc_create_gets_the_source_downloaded_with_the_connection_credentials(
    bearer_proxy: BearerProxy,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import mlflow.sklearn
    import sklearn
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from airflow_mlflow_registry.hooks.client.mlflow_compat import uc_registry_store_class

    use_connection(
        "dbx_uc_create", "databricks", databricks_host=bearer_proxy.url, token=bearer_proxy.token
    )
    client = MlflowRegistryHook(mlflow_conn_id="dbx_uc_create").get_conn()
    experiment_id = client.create_experiment(f"uc-{os.getpid()}-{tmp_path.name}")
    run_id = client.create_run(experiment_id).info.run_id
    features = [[0.0], [1.0], [2.0], [3.0]]
    model = LogisticRegression().fit(features, [0, 0, 1, 1])
    mlflow.sklearn.save_model(
        model,
        str(tmp_path / "model"),
        signature=infer_signature(features, model.predict(features)),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    client.log_artifacts(run_id, str(tmp_path / "model"), artifact_path="model")

    handed: dict[str, Any] = {}

    def record_upload(store: Any, **kwargs: Any) -> ModelVersion:
        local_dir = Path(kwargs["local_model_dir"])
        handed["files"] = sorted(p.name for p in local_dir.iterdir())
        handed["full_name"] = kwargs["full_name"]
        return ModelVersion(kwargs["full_name"], "1", creation_timestamp=0)

    monkeypatch.setattr(
        uc_registry_store_class(), "_create_and_finalize_model_version", record_upload
    )
    # What MLflow's own download would use: another workspace's host and token.
    monkeypatch.setenv("DATABRICKS_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-environment-token")

    version = client.create_model_version(
        "main.default.uc_model", f"runs:/{run_id}/model", run_id=run_id
    )

    assert version.version == "1"
    assert handed["full_name"] == "main.default.uc_model"
    assert "MLmodel" in handed["files"]
