"""Standalone mode (the command line without Airflow) never changes a process that has
imported Airflow: there the provider's errors stay `AirflowException` subclasses and secrets
are still registered with Airflow's masker."""

from __future__ import annotations

from airflow_mlflow_registry import exceptions, standalone
from airflow_mlflow_registry.version_compat import AirflowException


def test_a_process_that_imported_airflow_cannot_enter_standalone_mode() -> None:
    assert standalone.enter_standalone_mode() is False
    assert standalone.is_standalone() is False
    for error in (
        exceptions.MlflowRegistryError,
        exceptions.MlflowConnectionConfigError,
        exceptions.MlflowRequestError,
        exceptions.ModelRegistrationError,
    ):
        assert issubclass(error, AirflowException), error
