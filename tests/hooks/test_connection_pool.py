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

"""One hook shared by many threads, against a real `mlflow server` behind a counting proxy: its
HTTP connections are kept and reused (no "Connection pool is full, discarding connection"
warning from urllib3), up to the connection's `pool_size`."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from tests.support.bearer_proxy import ForwardingProxy
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

THREADS = 32
ROUNDS = 4
POOL_FULL = "Connection pool is full"


class _Records(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def urllib3_warnings() -> Iterator[_Records]:
    """What urllib3's connection pools log at WARNING and above while the test runs (a handler
    on urllib3's own logger: Airflow's logging setup may stop propagation to the root)."""
    logger = logging.getLogger("urllib3.connectionpool")
    handler = _Records()
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def counting_proxy(mlflow_server: MlflowServer) -> Iterator[ForwardingProxy]:
    """A proxy of its own in front of the plain server, counting connections accepted."""
    with ForwardingProxy(mlflow_server.url) as proxy:
        yield proxy


def read_model_together(client: MlflowClient, model: str, threads: int) -> None:
    """``threads`` threads read registered model ``model`` through ``client`` at the same
    moment, ``ROUNDS`` times; raises the first failure of any thread."""
    start_together = threading.Barrier(threads)
    failures: list[BaseException] = []

    def read_rounds() -> None:
        try:
            for _ in range(ROUNDS):
                start_together.wait(timeout=120)
                assert client.get_registered_model(model).name == model
        except BaseException as exc:  # raised again in the calling thread
            failures.append(exc)
            start_together.abort()

    workers = [threading.Thread(target=read_rounds) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]


@pytest.mark.parametrize(
    ("threads", "pool_size"), [(32, None), (40, 64)], ids=["default-pool", "pool_size-64"]
)
def test_one_hook_shared_by_many_threads_reuses_connections_without_pool_full_warnings(
    threads: int,
    pool_size: int | None,
    counting_proxy: ForwardingProxy,
    use_connection: UseConnection,
    urllib3_warnings: _Records,
) -> None:
    """Every thread sends a request at the same moment, four rounds, through one hook: with
    the default ``pool_size`` (32) for 32 threads, or ``pool_size`` 64 for 40, at most one
    connection per thread is ever opened and urllib3 never discards one. With MLflow's own
    pool (10 per host), the connections beyond 10 were discarded each round and opened again
    the next."""
    options = {} if pool_size is None else {"pool_size": pool_size}
    conn_id = unique("pool").replace("-", "_")
    use_connection(conn_id, counting_proxy.url, timeout=60, max_retries=0, **options)
    client = MlflowRegistryHook(conn_id).get_conn()
    model = unique("pooled")
    client.create_registered_model(model)
    counting_proxy.reset_counts()

    read_model_together(client, model, threads)

    assert counting_proxy.forwarded_count == threads * ROUNDS
    warnings = [record.getMessage() for record in urllib3_warnings.records]
    assert not [message for message in warnings if POOL_FULL in message], warnings[:3]
    assert counting_proxy.connections_accepted <= threads
