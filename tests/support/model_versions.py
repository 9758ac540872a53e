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

"""Registry content for tests, made with a plain ``MlflowClient`` (not the code under test)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from airflow_mlflow_registry.lineage import TaskInstanceLineage

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import pendulum
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion


def unique(prefix: str) -> str:
    """``prefix`` plus a random suffix: names that no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def lineage(run_id: str, try_number: int = 1) -> TaskInstanceLineage:
    """The lineage of try ``try_number`` of task ``d.t`` in DAG run ``run_id``."""
    return TaskInstanceLineage(dag_id="d", task_id="t", run_id=run_id, try_number=try_number)


def add_version(
    client: MlflowClient,
    model_name: str,
    metrics: Mapping[str, float] | None = None,
    *,
    tags: Mapping[str, str] | None = None,
    aliases: Iterable[str] = (),
    params: Mapping[str, str] | None = None,
) -> str:
    """Log a run with ``metrics`` and ``params``, register it as a new version of
    ``model_name`` (created when missing) with ``tags``, point ``aliases`` at it, and return
    the version number."""
    if not client.search_registered_models(filter_string=f"name = '{model_name}'"):
        client.create_registered_model(model_name)
    experiment_id = client.create_experiment(unique("exp"))
    run_id = client.create_run(experiment_id).info.run_id
    for key, value in (metrics or {}).items():
        client.log_metric(run_id, key, value)
    for key, value in (params or {}).items():
        client.log_param(run_id, key, value)
    version = client.create_model_version(
        model_name, f"runs:/{run_id}/model", run_id=run_id, tags=dict(tags or {})
    ).version
    for alias in aliases:
        client.set_registered_model_alias(model_name, alias, version)
    return str(version)


def epoch_ms(moment: pendulum.DateTime) -> int:
    """``moment`` as an MLflow timestamp (milliseconds since the epoch)."""
    return int(moment.timestamp() * 1000)


def seed_run(
    client: MlflowClient,
    experiment_id: str,
    start: pendulum.DateTime,
    *,
    logged_model: bool = True,
    accuracy: float = 0.9,
) -> str:
    """A run started at ``start`` with metric ``accuracy`` and a model: a logged model named
    `model`, or (``logged_model=False``) a tiny artifact under `model/`."""
    run_id = client.create_run(experiment_id, start_time=epoch_ms(start)).info.run_id
    client.log_metric(run_id, "accuracy", accuracy)
    if logged_model:
        client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
    else:
        client.log_text(run_id, "a tiny model", "model/MLmodel")
    return run_id


def versions_by_run(client: MlflowClient, model: str) -> dict[str, list[ModelVersion]]:
    """Every version of ``model`` on the server, grouped by source run id."""
    grouped: dict[str, list[ModelVersion]] = {}
    for version in client.search_model_versions(f"name='{model}'"):
        grouped.setdefault(version.run_id, []).append(version)
    return grouped


def set_version_status(backend_store_uri: str, model_name: str, version: str, status: str) -> None:
    """Give version ``version`` of ``model_name`` the registration ``status``
    (``PENDING_REGISTRATION``, ``FAILED_REGISTRATION``) in a running server's SQL store.

    Why through the database: the open-source server registers every version READY at once;
    only registries that copy artifacts (Databricks, Unity Catalog) leave a version pending or
    failed, and no REST call sets a status. Writing the row through MLflow's own
    ``SqlAlchemyStore`` on the server's ``backend_store_uri`` gives a real server a version in
    that state, which every later request (search, get, delete) then sees.
    """
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(backend_store_uri)
    with store.ManagedSessionMaker(read_only=False) as session:
        row = store._get_sql_model_version(session, model_name, version)
        assert isinstance(row, SqlModelVersion)
        row.status = status
    store.engine.dispose()
