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

"""Fixtures of the operator tests: the two registries of a copy, each with its own user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from tests.support.copies import SourceModel
from tests.support.fault_proxy import FaultProxy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer


def hook_as(
    use_connection: UseConnection,
    conn_id: str,
    server: MlflowServer,
    user: str,
    url: str | None = None,
    **fields: Any,
) -> MlflowRegistryHook:
    """A hook on the connection ``conn_id``, defined for this test, signed in to ``server`` as
    ``user``.

    :param url: where the connection points (a proxy in front of ``server``); ``server.url``
        if omitted.
    :param fields: further connection fields (``timeout``, ``max_retries``).
    :return: the hook, its client not built yet.
    """
    use_connection(conn_id, url or server.url, **server.sign_in_as(user), **fields)
    return MlflowRegistryHook(mlflow_conn_id=conn_id)


@pytest.fixture
def hostile_environment(
    private_auth_mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", private_auth_mlflow_server.passwords["bob"])


@pytest.fixture
def source_hook(
    private_auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> MlflowRegistryHook:
    return hook_as(use_connection, "copy_source", private_auth_mlflow_server, "alice")


@pytest.fixture
def source_model(source_hook: MlflowRegistryHook, tmp_path: Path) -> SourceModel:
    return SourceModel(source_hook, tmp_path)


@pytest.fixture
def target_hook(
    auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> MlflowRegistryHook:
    return hook_as(use_connection, "copy_target", auth_mlflow_server, "bob")


@pytest.fixture
def target_proxy(auth_mlflow_server: MlflowServer) -> Iterator[FaultProxy]:
    with FaultProxy(auth_mlflow_server.url) as proxy:
        yield proxy


@pytest.fixture
def proxied_target_hook(
    auth_mlflow_server: MlflowServer, target_proxy: FaultProxy, use_connection: UseConnection
) -> MlflowRegistryHook:
    """bob on the target, through ``target_proxy`` (10 s timeout, 2 HTTP retries)."""
    return hook_as(
        use_connection,
        "copy_target_proxy",
        auth_mlflow_server,
        "bob",
        url=target_proxy.url,
        timeout=10,
        max_retries=2,
    )
