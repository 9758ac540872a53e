"""Hooks: one Airflow connection in, one isolated MLflow client out."""

from __future__ import annotations

from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook

__all__ = ["MlflowRegistryHook"]
