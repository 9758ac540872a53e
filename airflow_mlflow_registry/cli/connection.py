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

"""The command line's connection: read from its ``AIRFLOW_CONN_<ID>`` variable without Airflow
when that is certainly what Airflow would use, else looked up through Airflow."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls


def connect(conn_id: str, workspace: str | None = None) -> RegistryCalls:
    """The registry calls of connection ``conn_id``: its config is read and validated on first
    use (:attr:`RegistryCalls.config`), its client built on first request. ``workspace``, when
    given, replaces the connection's MLflow workspace (validated like the connection's field).

    A connection in its ``AIRFLOW_CONN_<ID>`` variable, when that is certainly what Airflow
    would use (:func:`~airflow_mlflow_registry.hooks.client.connection_env.environment_connection`),
    is read without Airflow, and this process enters standalone mode; any other is looked up
    through Airflow
    (:func:`~airflow_mlflow_registry.hooks.client.connection_env.airflow_connection`).
    """
    from airflow_mlflow_registry.hooks.client.connection_env import (
        airflow_connection,
        environment_connection,
    )
    from airflow_mlflow_registry.utils.standalone import enter_standalone_mode

    from_environment = environment_connection(conn_id)
    if from_environment is not None:
        enter_standalone_mode()
    from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

    def read_config() -> MlflowConnectionConfig:
        config = MlflowConnectionConfig.from_connection(
            from_environment or airflow_connection(conn_id)
        )
        return config if workspace is None else config.in_workspace(workspace)

    return RegistryCalls.building(read_config)
