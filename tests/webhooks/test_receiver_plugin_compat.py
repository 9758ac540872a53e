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

"""The webhook receiver under each matrix entry's Airflow (``compat``): Airflow's plugins manager
loads it from the package's ``airflow.plugins`` entry point and mounts its FastAPI app as the
api-server does, and a signed ``model_version.created`` delivery, served by a real uvicorn in
this venv, is recorded as an asset event for a real version on a real MLflow server."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pendulum
import pytest
import requests
from airflow.sdk import DAG, task

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.plugins.webhooks import MlflowRegistryWebhookPlugin
from airflow_mlflow_registry.webhooks.receiver import URL_PREFIX
from airflow_mlflow_registry.webhooks.shared_secret import secret_variable_key
from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.dag_runs import write_dag_to_db
from tests.support.model_versions import add_version, unique
from tests.support.plugin_app_server import PluginAppServer
from tests.support.plugin_mounts import assert_listed_and_mounted_at
from tests.support.webhook_delivery import DELIVERY_ID_HEADER, signed_delivery, version_created

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow import MlflowClient

    from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.compat, pytest.mark.usefixtures("airflow_db")]

CONN_ID = "mlflow_webhook_compat"
SECRET = "compat-webhook-secret-0123456789"


def test_plugins_manager_lists_the_receiver_and_mounts_its_app_at_the_prefix() -> None:
    assert_listed_and_mounted_at(MlflowRegistryWebhookPlugin, URL_PREFIX)


def asset_event_extras(uri: str) -> list[dict[str, Any]]:
    """The ``extra`` of every event of the asset ``uri`` in the metadata DB, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(
            session.scalars(
                select(AssetEvent.extra)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .where(AssetModel.uri == uri)
                .order_by(AssetEvent.id)
            )
        )


# It starts a uvicorn process with Airflow in it: the end-to-end tier, not the default suite
# (the matrix selects `compat` whatever else is marked).
@pytest.mark.e2e
def test_signed_version_created_delivery_over_uvicorn_is_recorded_as_an_asset_event(
    mlflow_server: MlflowServer,
    plain_client: MlflowClient,
    airflow_env: dict[str, str],
    tmp_path: Path,
) -> None:
    model = unique("webhook-compat")
    asset = model_asset(CONN_ID, model)
    start = pendulum.datetime(2026, 1, 1)
    with DAG(unique("webhook_compat"), schedule=[asset], start_date=start) as dag:

        @task
        def consume() -> None:
            """Never runs: the DAG only makes the asset active."""

        consume()
    write_dag_to_db(dag)
    version = add_version(plain_client, model)
    created = plain_client.get_model_version(model, version)
    payload = version_created(model, version)
    payload["data"].update(source=created.source, run_id=created.run_id)  # as MLflow sends it
    body, headers = signed_delivery(SECRET, payload)
    env = {
        **airflow_env,
        connection_env_var(CONN_ID): connection_json(mlflow_server.url),
        f"AIRFLOW_VAR_{secret_variable_key(CONN_ID).upper()}": SECRET,
    }

    with PluginAppServer(sys.executable, env, tmp_path / "plugin-app-server.log") as server:
        response = requests.post(
            f"{server.url}{URL_PREFIX}/{CONN_ID}", data=body, headers=headers, timeout=120
        )
        log = server.log_tail()

    assert response.status_code == 200, response.text + log
    answer = response.json()
    assert (answer["status"], answer["delivery_id"]) == ("recorded", headers[DELIVERY_ID_HEADER])
    [extra] = asset_event_extras(asset.uri)
    assert extra["from_webhook"] is True
    payload = extra["payload"]
    assert (payload["model_name"], payload["version"]) == (model, version)
    assert payload["delivery_id"] == headers[DELIVERY_ID_HEADER]
    assert payload["run_id"] == created.run_id
    assert SECRET not in log
