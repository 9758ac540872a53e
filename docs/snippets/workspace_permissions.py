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
