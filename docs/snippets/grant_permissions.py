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
