"""Standalone mode (the command line without Airflow) never changes a process that has
imported Airflow, and the provider's errors are the same classes in either mode."""

from __future__ import annotations

from airflow_mlflow_registry import exceptions, standalone
from airflow_mlflow_registry.version_compat import AirflowException


def test_a_process_that_imported_airflow_cannot_enter_standalone_mode() -> None:
    assert standalone.enter_standalone_mode() is False
    assert standalone.is_standalone() is False


def test_provider_errors_derive_from_exception_not_airflow_exception() -> None:
    assert exceptions.MlflowRegistryError.__bases__ == (Exception,)
    for error in (
        exceptions.MlflowRegistryError,
        exceptions.MlflowConnectionConfigError,
        exceptions.MlflowRequestError,
        exceptions.ModelRegistrationError,
        exceptions.SourceVersionNotFoundError,
    ):
        assert not issubclass(error, AirflowException), error
