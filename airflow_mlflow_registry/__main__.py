"""``python -m airflow_mlflow_registry``: the ``airflow-mlflow-registry`` command line."""

from __future__ import annotations

from airflow_mlflow_registry.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
