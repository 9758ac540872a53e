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

"""Hooks: one Airflow connection in, one isolated MLflow client out.

``MlflowRegistryHook`` is imported on first use (PEP 562), so that the modules beside it, which
need neither Airflow nor the hook class, can be imported without Airflow (the command line's
fast path: :mod:`airflow_mlflow_registry.utils.standalone`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook

__all__ = ["MlflowRegistryHook"]


def __getattr__(name: str) -> Any:
    if name == "MlflowRegistryHook":
        from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook

        return MlflowRegistryHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
