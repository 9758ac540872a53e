# Copyright 2026 The airflow-mlflow-registry authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Standalone mode (the command line without Airflow) never changes a process that has
imported Airflow, and the provider's errors are the same classes in either mode."""

from __future__ import annotations

from airflow_mlflow_registry import exceptions
from airflow_mlflow_registry.utils import standalone
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
