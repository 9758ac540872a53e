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
