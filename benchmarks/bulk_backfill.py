"""Throughput and memory of the command line's ``backfill`` over many runs: seeds an experiment
with ``--runs`` runs (each with an MLflow 3 logged model) on a local ``mlflow server``, then
times ``airflow-mlflow-registry backfill`` registering all of them, and reports registrations
per second and the CLI process's peak resident memory (``ru_maxrss`` of the child). Prints a
Markdown table.

    .venv/bin/python benchmarks/bulk_backfill.py [--runs 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import local_registry, markdown_table

CLI = Path(sys.executable).with_name("airflow-mlflow-registry")
SEED_THREADS = 8
START_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z; runs one minute apart from here


def seed_runs(tracking_uri: str, experiment: str, runs: int) -> float:
    """Create ``experiment`` with ``runs`` runs, each with a logged model named ``model``;
    returns seconds taken."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_id = client.create_experiment(experiment)
    started = time.perf_counter()

    def seed(index: int) -> None:
        start_ms = START_MS + index * 60_000
        run_id = client.create_run(experiment_id, start_time=start_ms).info.run_id
        client.create_logged_model(experiment_id, name="model", source_run_id=run_id)

    with ThreadPoolExecutor(SEED_THREADS) as executor:
        list(executor.map(seed, range(runs)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs to seed and backfill")
    runs = parser.parse_args().runs
    with local_registry() as (server, _):
        experiment, model = f"bulk-{uuid.uuid4().hex[:6]}", f"bulk-model-{uuid.uuid4().hex[:6]}"
        seed_seconds = seed_runs(server.url, experiment, runs)
        command = [
            str(CLI), "--conn-id", "mlflow_bench", "backfill", model,
            "--experiment", experiment, "--from", "2026-03-01", "--to", "2026-04-01",
            "--alias", "staging", "--json",
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(
            command, env=dict(os.environ), capture_output=True, text=True, timeout=600
        )
        elapsed = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    if done.returncode != 0:
        raise SystemExit(f"backfill exited {done.returncode}: {done.stderr[-2000:]}")
    counts = json.loads(done.stdout)["counts"]
    print(f"seeded {runs} runs with logged models in {seed_seconds:.0f} s")
    print()
    print(
        markdown_table(
            ["runs", "registered", "failed", "wall (s)", "registrations/s", "peak RSS (MiB)"],
            [
                [
                    runs,
                    counts["registered"],
                    counts["failed"],
                    f"{elapsed:.1f}",
                    f"{counts['registered'] / elapsed:.1f}",
                    f"{peak_kib / 1024:.0f}",
                ]
            ],
        )
    )


if __name__ == "__main__":
    main()
