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

"""Log a model in MLflow format through one client, without MLflow's fluent API.

``mlflow.<flavor>.log_model`` works on process-global state: the active run, the global
tracking URI, and environment credentials for every request and upload. There is no per-client
way to point it elsewhere. :func:`log_model` does what it does for the model itself with an
explicit client: it creates an MLflow 3 logged model linked to the run, saves the model with
the flavor's ``save_model`` into a temporary directory, uploads it to the logged model's
artifact location through the client, and marks the logged model READY (FAILED if any step
fails). Not done: metric copies per step, prompt links, serving-input validation and
Databricks-only steps of ``Model.log``.

mlflow is imported inside the function: importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType

    from mlflow import MlflowClient


def log_model(
    client: MlflowClient,
    flavor: ModuleType,
    model: Any,
    *,
    run_id: str,
    name: str = "model",
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    **save_kwargs: Any,
) -> dict[str, str]:
    """Log ``model`` with ``flavor`` (a module such as ``mlflow.sklearn``) as a logged model of
    run ``run_id``, named ``name``, through ``client`` alone.

    ``save_kwargs`` go to ``flavor.save_model`` (``pip_requirements``, ``signature``,
    ``input_example``, ...). Returns ``{"model_id", "model_uri" ("models:/<model_id>"),
    "run_id", "name", "artifact_location"}``, JSON-able for XCom.

    :raises Exception: whatever the client or the flavor raises; the logged model, once
        created, is then marked FAILED.
    """
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    experiment_id = client.get_run(run_id).info.experiment_id
    logged = client.create_logged_model(
        experiment_id,
        name=name,
        source_run_id=run_id,
        params={key: str(value) for key, value in (params or {}).items()},
        tags={key: str(value) for key, value in (tags or {}).items()},
        model_type=model_type,
    )
    try:
        client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
        metadata = Model(
            artifact_path=logged.artifact_location,
            model_uuid=logged.model_id,
            run_id=run_id,
            model_id=logged.model_id,
        )
        with tempfile.TemporaryDirectory() as tmp:
            local_path = os.path.join(tmp, "model")
            flavor.save_model(model, path=local_path, mlflow_model=metadata, **save_kwargs)
            client.log_model_artifacts(logged.model_id, local_path)
    except BaseException:
        with contextlib.suppress(Exception):  # keep the original error
            client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return {
        "model_id": logged.model_id,
        "model_uri": f"models:/{logged.model_id}",
        "run_id": run_id,
        "name": name,
        "artifact_location": logged.artifact_location,
    }
