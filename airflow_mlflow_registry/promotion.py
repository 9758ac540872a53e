"""Deprecated: renamed :mod:`airflow_mlflow_registry.version_copy` (it copies versions; a
promotion moves an alias). Importing a name from here warns and returns the one there."""

from __future__ import annotations

import warnings
from typing import Any

from airflow_mlflow_registry import version_copy


def __getattr__(name: str) -> Any:
    value = getattr(version_copy, name)
    warnings.warn(
        f"airflow_mlflow_registry.promotion.{name} is deprecated: import it from "
        "airflow_mlflow_registry.version_copy.",
        DeprecationWarning,
        stacklevel=2,
    )
    return value
