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
from airflow_mlflow_registry.operators.rollback_model_version_alias import (
    RollbackModelVersionAliasOperator,
)
from airflow_mlflow_registry.operators.set_model_version_alias import (
    SetModelVersionAliasOperator,
)

__all__ = [
    "ApproveModelVersionOperator",
    "CopyModelVersionOperator",
    "DeleteOldModelVersionsOperator",
    "RegisterModelVersionOperator",
    "RollbackModelVersionAliasOperator",
    "SetModelVersionAliasOperator",
]
