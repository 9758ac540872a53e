"""Triggers: waits that run in the triggerer, without holding a worker slot."""

from __future__ import annotations

from airflow_mlflow_registry.triggers.model_version import MlflowModelVersionTrigger

__all__ = ["MlflowModelVersionTrigger"]
