"""Sensors: wait for something to happen in the MLflow Model Registry."""

from __future__ import annotations

from airflow_mlflow_registry.sensors.model_version import ModelVersionSensor

__all__ = ["ModelVersionSensor"]
