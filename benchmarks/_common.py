"""Shared pieces of the benchmarks: a local ``mlflow server`` with a counting proxy in front,
statistics, and Markdown tables. Everything listens on 127.0.0.1 only.

Run the benchmarks from the repository root (``.venv/bin/python benchmarks/<name>.py``): the
server comes from ``tests/support/mlflow_server.py``, the proxy from
``tests/support/bearer_proxy.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.bearer_proxy import BearerProxy  # noqa: E402
from tests.support.mlflow_server import MlflowServer  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def local_registry(conn_id: str = "mlflow_bench") -> Iterator[tuple[MlflowServer, BearerProxy]]:
    """A fresh ``mlflow server`` (own temporary store) and a counting proxy in front of it
    (``BearerProxy`` with no token); Airflow connection ``conn_id`` points at the proxy, with
    a 30 s timeout. Both are stopped on exit."""
    root = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
    os.environ.setdefault("AIRFLOW_HOME", str(root / "airflow"))
    server = MlflowServer(root / "server")
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
