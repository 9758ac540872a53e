"""Triggers: waits that run in the triggerer, without holding a worker slot, and watchers for
event-driven scheduling."""

from __future__ import annotations

from airflow_mlflow_registry.triggers.model_version import MlflowModelVersionTrigger
from airflow_mlflow_registry.triggers.registry_events import MlflowRegistryEventTrigger

__all__ = ["MlflowModelVersionTrigger", "MlflowRegistryEventTrigger"]
