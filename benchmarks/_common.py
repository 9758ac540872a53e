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

"""Shared pieces of the benchmarks: a local ``mlflow server`` with a counting proxy in front,
a throw-away PostgreSQL database for it, statistics, and Markdown tables. Everything listens
on 127.0.0.1 only.

Run the benchmarks from the repository root (``.venv/bin/python benchmarks/<name>.py``): the
server comes from ``tests/support/mlflow_server.py``, the proxy from
``tests/support/bearer_proxy.py``, PostgreSQL from ``tests/support/stack.py`` (the stack
tier's).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.bearer_proxy import BearerProxy  # noqa: E402
from tests.support.mlflow_server import MlflowServer  # noqa: E402
from tests.support.silent_server import find_unused_port  # noqa: E402
from tests.support.stack import start_postgres, stop_postgres  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import FrameType


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit``, so that a killed benchmark still runs its ``finally``
    blocks and stops what it started (Ctrl-C already raises ``KeyboardInterrupt``)."""

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


@contextlib.contextmanager
def postgres_database(name: str = "mlflow") -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free port, started the way the stack tier starts
    its own (Debian's server binaries, as the ``postgres`` user when run as root, durability
    off), with database ``name`` owned by a role of that name. Yields its SQLAlchemy URL
    (``postgresql+psycopg://``, with the role's random password); stops the cluster and
    deletes its files on exit, also after a failed start."""
    data = Path(tempfile.mkdtemp(prefix="bench-postgres-")) / "data"
    port = find_unused_port()
    password = secrets.token_hex(16)
    try:
        start_postgres(data, port, secrets.token_hex(16), {name: password})
        yield f"postgresql+psycopg://{name}:{password}@127.0.0.1:{port}/{name}"
    finally:
        stop_postgres(data)


@contextlib.contextmanager
def local_registry(
    conn_id: str = "mlflow_bench", backend_store_uri: str | None = None, workers: int = 1
) -> Iterator[tuple[MlflowServer, BearerProxy]]:
    """A fresh ``mlflow server`` (its own temporary SQLite store, or ``backend_store_uri``;
    ``workers`` uvicorn workers) and a counting proxy in front of it (``BearerProxy`` with no
    token); Airflow connection ``conn_id`` points at the proxy, with a 30 s timeout. Both are
    stopped on exit."""
    root = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
    os.environ.setdefault("AIRFLOW_HOME", str(root / "airflow"))
    server = MlflowServer(root / "server", backend_store_uri=backend_store_uri, workers=workers)
    server.start()
    try:
        server.wait_until_ready()
        with BearerProxy(server.url, token=None) as proxy:
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
                {"conn_type": "mlflow", "host": proxy.url, "extra": {"timeout": 30}}
            )
            import airflow_mlflow_registry.hooks  # noqa: F401  (configures Airflow's logging)

            # One INFO line per registration would bury the tables.
            logging.getLogger("airflow_mlflow_registry").setLevel(logging.WARNING)
            yield server, proxy
    finally:
        server.stop()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p90(values: Sequence[float]) -> float:
    """The 90th percentile (inclusive method)."""
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
