"""Hooks: one Airflow connection in, one isolated MLflow client out.

``MlflowRegistryHook`` is imported on first use (PEP 562), so that the modules beside it, which
need neither Airflow nor the hook class, can be imported without Airflow (the command line's
fast path: :mod:`airflow_mlflow_registry.standalone`).
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
