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

"""The provider-info dict: the single place Airflow learns about this package.

Airflow 3.2+ builds the connection form from ``conn-fields`` and ``ui-field-behaviour``
declared here, without importing the hook, so this module must stay import-free.
"""

from __future__ import annotations

from typing import Any

from airflow_mlflow_registry import __version__

HOOK_CLASS = "airflow_mlflow_registry.hooks.mlflow_registry.MlflowRegistryHook"


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata read through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-mlflow-registry",
        "name": "MLflow Model Registry",
        "description": "Register, trace and promote MLflow model versions from Airflow.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "mlflow",
                "hook-class-name": HOOK_CLASS,
                "hook-name": "MLflow",
                "ui-field-behaviour": {
                    "hidden-fields": ["port", "schema"],
                    "relabeling": {
                        "host": "Tracking URI",
                        "login": "Username",
                        "password": "Password",
                    },
                    "placeholders": {
                        "host": "https://mlflow.example.com, http://127.0.0.1:5000, databricks",
                        "login": "basic-auth username (leave empty for token auth)",
                        "password": "basic-auth password",
                        "extra": '{"timeout": 10, "max_retries": 2}',
                    },
                },
                "conn-fields": {
                    "token": {
                        "label": "Bearer token",
                        "description": "Token for bearer auth (Databricks personal access "
                        "token, or a proxy in front of MLflow). Leave Username and Password "
                        "empty when you set it.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "insecure_tls": {
                        "label": "Skip TLS verification (insecure)",
                        "description": "Do not verify the server certificate. For test "
                        "servers only; prefer a CA bundle. A warning is logged on each use.",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "ca_bundle_path": {
                        "label": "CA bundle path",
                        "description": "PEM file with the CA certificate(s) that signed the "
                        "server certificate (a private CA), on the worker's filesystem.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "client_cert_path": {
                        "label": "Client certificate path",
                        "description": "PEM file with the client certificate and its key, "
                        "for servers that require mutual TLS.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "databricks_host": {
                        "label": "Databricks workspace URL",
                        "description": "Required when the tracking URI is 'databricks', "
                        "e.g. https://adb-123.4.azuredatabricks.net (uses the bearer token).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "registry_uri": {
                        "label": "Registry URI",
                        "description": "Model registry server, when it is not the tracking "
                        "server. Uses the same credentials and TLS settings.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "Connect and read timeout of each HTTP request.",
                        "schema": {"type": ["number", "null"], "default": 10},
                    },
                    "max_retries": {
                        "label": "HTTP retries",
                        "description": "Retries of idempotent requests on connection errors, "
                        "429 and 5xx. Registration is never blindly re-sent.",
                        "schema": {"type": ["integer", "null"], "default": 2},
                    },
                    "workspace": {
                        "label": "MLflow workspace",
                        "description": "On an MLflow server with workspaces enabled (MLflow "
                        "3.10+, mlflow server --enable-workspaces): the workspace every request "
                        "of this connection goes to, whatever the worker's MLFLOW_WORKSPACE. "
                        "Empty: the server's default workspace.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "pool_size": {
                        "label": "HTTP connection pool size",
                        "description": "Open connections kept for reuse per server, 1 to 256: "
                        "at least the number of threads sharing one hook (e.g. a backfill's "
                        "--concurrency).",
                        "schema": {"type": ["integer", "null"], "default": 32},
                    },
                    "aws_conn_id": {
                        "label": "AWS connection for the artifact store",
                        "description": "For a server whose clients reach its S3 artifact "
                        "store directly (--default-artifact-root s3://... --no-serve-artifacts):"
                        " the Airflow AWS connection (keys or role, region, endpoint_url for "
                        "S3-compatible stores) that reads and writes the buckets below, "
                        "instead of the worker's own AWS identity. Needs the [amazon] extra.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "artifact_buckets": {
                        "label": "Artifact store buckets",
                        "description": "The S3 bucket(s) of the server's artifact store, "
                        "comma-separated (e.g. mlflow-artifacts). Required with the AWS "
                        "connection; files in other buckets are never read with it.",
                        "schema": {"type": ["string", "null"]},
                    },
                },
            }
        ],
        "hooks": [
            {
                "integration-name": "MLflow",
                "python-modules": ["airflow_mlflow_registry.hooks.mlflow_registry"],
            }
        ],
        "operators": [
            {
                "integration-name": "MLflow",
                "python-modules": [
                    "airflow_mlflow_registry.operators.approve_model_version",
                    "airflow_mlflow_registry.operators.copy_model_version",
                    "airflow_mlflow_registry.operators.delete_old_model_versions",
                    "airflow_mlflow_registry.operators.register_model_version",
                    "airflow_mlflow_registry.operators.rollback_model_version_alias",
                    "airflow_mlflow_registry.operators.set_model_version_alias",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "MLflow",
                "python-modules": ["airflow_mlflow_registry.sensors.model_version"],
            }
        ],
        "triggers": [
            {
                "integration-name": "MLflow",
                "python-modules": [
                    "airflow_mlflow_registry.triggers.model_version",
                    "airflow_mlflow_registry.triggers.registry_events",
                ],
            }
        ],
        "plugins": [
            {
                "name": "mlflow_registry_webhooks",
                "plugin-class": (
                    "airflow_mlflow_registry.plugins.webhooks.MlflowRegistryWebhookPlugin"
                ),
            },
            {
                "name": "mlflow_registry_alias_timeline",
                "plugin-class": (
                    "airflow_mlflow_registry.plugins.alias_timeline.MlflowAliasTimelinePlugin"
                ),
            },
        ],
        "extra-links": ["airflow_mlflow_registry.links.mlflow.MlflowModelVersionLink"],
        "asset-uris": [
            {
                "schemes": ["mlflow"],
                "handler": "airflow_mlflow_registry.assets.normalize_model_asset_uri",
                "to_openlineage_converter": (
                    "airflow_mlflow_registry.assets.model_asset_to_openlineage"
                ),
            }
        ],
        "integrations": [
            {
                "integration-name": "MLflow",
                "external-doc-url": "https://mlflow.org/docs/latest/ml/model-registry/",
                "tags": ["software"],
            }
        ],
    }
