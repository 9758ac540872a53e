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

"""Granting the connection's user what it needs on an MLflow basic-auth server, as shown in
docs/permissions.rst. Run by tests/docs/test_snippets.py against a real basic-auth server."""

from __future__ import annotations


def grant_registration_permissions(
    tracking_uri: str, username: str, model_name: str, experiment_id: str
) -> None:
    """Run by an MLflow admin: ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` of the
    admin's shell authenticate ``AuthServiceClient``."""
    # [START grant_permissions]
    from mlflow.server.auth.client import AuthServiceClient

    admin = AuthServiceClient(tracking_uri)
    # Register new versions of a model someone else created, and move its aliases:
    admin.grant_user_permission(username, "registered_model", model_name, "EDIT")
    # Delete versions (retention, duplicate clean-up):
    # admin.grant_user_permission(username, "registered_model", model_name, "MANAGE")
    # Read the training runs (run search, best_metric, backfill):
    admin.grant_user_permission(username, "experiment", experiment_id, "READ")
    # [END grant_permissions]
