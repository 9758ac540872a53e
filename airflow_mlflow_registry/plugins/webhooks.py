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

"""The Airflow plugin that mounts the webhook receiver on the api-server.

Installing the package is enough: Airflow finds it through the package's ``airflow.plugins``
entry point (and the ``plugins`` key of the provider info, which Airflow 3.3 reads only with
``[core] lazy_discover_providers = False``); it is mounted at
:data:`~airflow_mlflow_registry.webhooks.receiver.URL_PREFIX` on every supported Airflow minor
(3.0 to 3.3: plugin FastAPI apps exist since 3.0). The receiver's
FastAPI app is built when the plugin is loaded; the other Airflow processes load plugins too,
which costs them that build and nothing else.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_mlflow_registry.webhooks.receiver import URL_PREFIX, create_app


class MlflowRegistryWebhookPlugin(AirflowPlugin):
    """Mounts the MLflow registry webhook receiver (``POST <URL_PREFIX>/<conn-id>``)."""

    name = "mlflow_registry_webhooks"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "MLflow registry webhooks"}
    ]
