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

"""Setting up a team's MLflow workspace and letting the team's service user work in it, as shown
in docs/connections/mlflow.rst. Run by tests/docs/test_snippets.py against a real server with
workspaces and basic auth."""

from __future__ import annotations


def set_up_team_workspace(tracking_uri: str, workspace: str, username: str) -> None:
    """Run by an MLflow admin: ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` of the
    admin's shell authenticate both clients."""
    # [START workspace_permissions]
    from mlflow import MlflowClient
    from mlflow.server.auth.client import AuthServiceClient

    MlflowClient(tracking_uri).create_workspace(workspace)
    admin = AuthServiceClient(tracking_uri)
    role = admin.create_role(workspace, f"{workspace}-airflow")
    # Everything in this workspace: models, versions, aliases, experiments, runs.
    admin.add_role_permission(role.id, "workspace", "*", "USE")
    admin.assign_role(username, role.id)
    # [END workspace_permissions]
