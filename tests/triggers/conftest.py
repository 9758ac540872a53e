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

"""Fixtures of the trigger tests: a fault-injecting proxy the watched connection points at,
and the logs of a running trigger."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.fault_proxy import FaultProxy
from tests.support.trigger_runner import Logs

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Logs:
    """What the test's triggers logged (see :class:`Logs`)."""
    return Logs(caplog, capsys)


@pytest.fixture
def proxy(mlflow_server: MlflowServer, use_connection: UseConnection) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of ``mlflow_server`` (counting requests, no faults yet);
    connection ``watched`` points at it."""
    with FaultProxy(mlflow_server.url) as fault_proxy:
        use_connection("watched", fault_proxy.url)
        yield fault_proxy
