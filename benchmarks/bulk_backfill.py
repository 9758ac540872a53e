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

"""Throughput and memory of the command line's ``backfill`` over many runs, side by side with a
plain serial ``MlflowClient`` loop, on one ``mlflow server`` backed by PostgreSQL (the stack
tier's way of starting it) or SQLite.

Seeds one experiment per variant with ``--runs`` runs (each with an MLflow 3 logged model),
then, in the same run and against the same server:

- ``plain loop``: a Python process with a plain ``MlflowClient`` that, run after run (oldest
  first), creates a version from the run's logged model and points alias ``staging`` at it;
- ``backfill --concurrency N``: ``airflow-mlflow-registry backfill NAME --experiment E --from
  --to --alias staging --json --concurrency N``, for each ``N`` of ``--concurrency``.

Each variant is its own process, timed from start to exit (imports included) and measured for
peak resident memory (``ru_maxrss`` from ``wait4``). Both reach the server directly (no proxy).
Prints Markdown tables.

    .venv/bin/python benchmarks/bulk_backfill.py [--runs 1000] [--store postgresql|sqlite]
        [--concurrency 4 8] [--server-workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from _common import exit_on_sigterm, local_registry, markdown_table, postgres_database

from tests.support.stack import MLFLOW_WORKERS

CLI = Path(sys.executable).with_name("airflow-mlflow-registry")
SEED_THREADS = 8
START_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z; runs one minute apart from here
WINDOW = ["--from", "2026-03-01", "--to", "2026-04-01"]
TARGET_SPEEDUP = 3.0
# The plain loop, run as its own process: argv = tracking URI, model; stdin = JSON
# [[run_id, logged model id], ...].
PLAIN_LOOP = """
import json, sys
from mlflow import MlflowClient
uri, model, sources = sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())
client = MlflowClient(tracking_uri=uri)
client.create_registered_model(model)
for run_id, model_id in sources:
    version = client.create_model_version(
        model, f"models:/{model_id}", run_id=run_id, model_id=model_id
    ).version
    client.set_registered_model_alias(model, "staging", version)
print(len(sources))
"""


# Runs argv[2:] and writes its peak RSS (KiB, ru_maxrss of the children) to the file argv[1].
PEAK_RSS_LAUNCHER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as peak:
    peak.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


@dataclass(frozen=True)
class Measured:
    """One variant's process: what it registered, its wall time and peak memory."""

    variant: str
    registered: int
    failed: int
    seconds: float
    peak_mib: float


def create_tracking_schema(store_uri: str) -> None:
    """Create MLflow's tables in the database at ``store_uri`` once, before several server
    workers start (each would otherwise run the migrations at the same time)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(store_uri, tempfile.mkdtemp(prefix="bench-artifacts-")).engine.dispose()


def seed_runs(tracking_uri: str, experiment: str, runs: int) -> list[tuple[str, str]]:
    """Create ``experiment`` with ``runs`` runs a minute apart, each with a logged model named
    ``model``; return ``(run_id, logged model id)`` oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_id = client.create_experiment(experiment)

    def seed(index: int) -> tuple[str, str]:
        run_id = client.create_run(experiment_id, start_time=START_MS + index * 60_000).info.run_id
        model = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
        return run_id, model.model_id

    with ThreadPoolExecutor(SEED_THREADS) as executor:
        return list(executor.map(seed, range(runs)))


def run_measured(
    command: list[str], env: dict[str, str], stdin: str = ""
) -> tuple[str, float, float]:
    """Run ``command`` to its end; return its stdout, wall seconds and peak RSS (MiB).

    The peak is ``ru_maxrss`` of ``command`` as seen by a small launcher process
    (``PEAK_RSS_LAUNCHER``): a child forked from this large benchmark process would count this
    process's pages, shared until ``exec``, as its own.

    :raises SystemExit: when it exits with an error.
    """
    with ExitStack() as files:
        given, out, err, peak = (
            files.enter_context(tempfile.NamedTemporaryFile("w+")) for _ in range(4)
        )
        given.write(stdin)
        given.seek(0)
        started = time.perf_counter()
        code = subprocess.call(
            [sys.executable, "-c", PEAK_RSS_LAUNCHER, peak.name, *command],
            env=env,
            stdin=given,
            stdout=out,
            stderr=err,
        )
        seconds = time.perf_counter() - started
        for file in (out, err, peak):
            file.seek(0)
        output, errors, peak_kib = out.read(), err.read(), peak.read()
    if code != 0:
        raise SystemExit(f"{command[0]} exited {code}: {errors[-2000:]}")
    return output, seconds, int(peak_kib) / 1024  # KiB on Linux


def plain_loop(tracking_uri: str, sources: list[tuple[str, str]]) -> Measured:
    """The plain serial loop over ``sources`` in a process of its own."""
    model = f"plain-{uuid.uuid4().hex[:6]}"
    stdout, seconds, peak = run_measured(
        [sys.executable, "-c", PLAIN_LOOP, tracking_uri, model],
        dict(os.environ),
        stdin=json.dumps(sources),
    )
    return Measured("plain MlflowClient loop (serial)", int(stdout), 0, seconds, peak)


def cli_backfill(tracking_uri: str, experiment: str, concurrency: int) -> Measured:
    """``airflow-mlflow-registry backfill`` of ``experiment`` at ``concurrency``."""
    env = {
        **os.environ,
        "AIRFLOW_CONN_MLFLOW_BENCH_DIRECT": json.dumps(
            {"conn_type": "mlflow", "host": tracking_uri, "extra": {"timeout": 30}}
        ),
    }
    model = f"bulk-{uuid.uuid4().hex[:6]}"
    command = [
        str(CLI), "--conn-id", "mlflow_bench_direct", "backfill", model,
        "--experiment", experiment, *WINDOW, "--alias", "staging", "--json",
        "--concurrency", str(concurrency),
    ]  # fmt: skip
    stdout, seconds, peak = run_measured(command, env)
    counts = json.loads(stdout)["counts"]
    variant = f"`backfill --concurrency {concurrency}`"
    return Measured(variant, counts["registered"], counts["failed"], seconds, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs to seed per variant")
    parser.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[4, 8], help="backfill concurrencies"
    )
    parser.add_argument(
        "--server-workers",
        type=int,
        default=MLFLOW_WORKERS,
        help=f"uvicorn workers of the MLflow server (PostgreSQL only; default {MLFLOW_WORKERS}, "
        "as in the stack tier)",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    with ExitStack() as stack:
        store_uri, workers = None, 1
        if args.store == "postgresql":
            store_uri, workers = stack.enter_context(postgres_database()), args.server_workers
            create_tracking_schema(store_uri)
        server, _ = stack.enter_context(
            local_registry(backend_store_uri=store_uri, workers=workers)
        )
        started = time.perf_counter()
        plain_sources = seed_runs(server.url, f"plain-{uuid.uuid4().hex[:6]}", args.runs)
        experiments = {}
        for concurrency in args.concurrency:
            experiments[concurrency] = f"bulk-{uuid.uuid4().hex[:6]}"
            seed_runs(server.url, experiments[concurrency], args.runs)
        seeded = time.perf_counter() - started
        results = [plain_loop(server.url, plain_sources)]
        results += [
            cli_backfill(server.url, experiments[concurrency], concurrency)
            for concurrency in args.concurrency
        ]
    baseline = results[0].registered / results[0].seconds
    print(
        f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.store} store, {workers} server worker(s); seeded "
        f"{args.runs * (1 + len(args.concurrency))} runs with logged models in {seeded:.0f} s"
    )
    print()
    print(
        markdown_table(
            [
                "variant",
                "registered",
                "failed",
                "wall (s)",
                "registrations/s",
                "vs plain",
                "peak RSS (MiB)",
            ],
            [
                [
                    m.variant,
                    m.registered,
                    m.failed,
                    f"{m.seconds:.1f}",
                    f"{m.registered / m.seconds:.1f}",
                    f"{m.registered / m.seconds / baseline:.2f}x",
                    f"{m.peak_mib:.0f}",
                ]
                for m in results
            ],
        )
    )
    best = max(m.registered / m.seconds for m in results[1:]) / baseline
    verdict = "met" if best >= TARGET_SPEEDUP else "missed"
    print(f"\nTarget (at least {TARGET_SPEEDUP:.0f}x the plain loop): {verdict} ({best:.2f}x).")


if __name__ == "__main__":
    main()
