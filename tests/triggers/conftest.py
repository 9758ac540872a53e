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
