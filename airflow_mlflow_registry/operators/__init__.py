"""Operators: thin wrappers that read the task context and call ``MlflowRegistryHook``."""

from __future__ import annotations

from airflow_mlflow_registry.operators.approve_model_version import (
    ApproveModelVersionOperator,
)
from airflow_mlflow_registry.operators.copy_model_version import CopyModelVersionOperator
from airflow_mlflow_registry.operators.delete_old_model_versions import (
    DeleteOldModelVersionsOperator,
)
from airflow_mlflow_registry.operators.register_model_version import (
    RegisterModelVersionOperator,
)
from airflow_mlflow_registry.operators.set_model_version_alias import (
    SetModelVersionAliasOperator,
)

__all__ = [
    "ApproveModelVersionOperator",
    "CopyModelVersionOperator",
    "DeleteOldModelVersionsOperator",
    "RegisterModelVersionOperator",
    "SetModelVersionAliasOperator",
]
