"""Operator extra links: buttons on a task instance that open MLflow."""

from __future__ import annotations

from airflow_mlflow_registry.links.mlflow import MlflowModelVersionLink

__all__ = ["MlflowModelVersionLink"]
