"""Does registration stay flat as a model grows? On a model with 10 existing versions and one
with 10,000, interleaved, on a local ``mlflow server``: the exactly-once look-up
(``find_model_versions_by_key``: one search with ``name = ... AND tags.key = ...``), the
provider's ``create_registered_model`` call that finds the model already there, a whole
``register_model_version`` with one alias, and plain ``MlflowClient.create_model_version`` plus
``set_registered_model_alias`` (what any client pays). Prints a Markdown table.

Seeding goes through the server's REST API (``model-versions/create``, each version with a
registration key and four lineage tags like the provider writes), from several threads: the
same code path as real registrations, not rows written into SQLite behind the server's back.

    .venv/bin/python benchmarks/scale.py [--big 10000] [--small 10] [--samples 50]
"""

from __future__ import annotations

import argparse
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import requests
from _common import local_registry, markdown_table, median, p90

if TYPE_CHECKING:
    from collections.abc import Callable

SEED_THREADS = 8


def seed(server_url: str, model: str, versions: int) -> float:
    """Create ``model`` with ``versions`` tagged versions; returns versions per second."""
    api = f"{server_url}/api/2.0/mlflow"
    requests.post(f"{api}/registered-models/create", json={"name": model}, timeout=60)
    started = time.perf_counter()

    def create(chunk: range) -> None:
        with requests.Session() as session:
            for index in chunk:
                tags = {
                    "airflow.registration_key": uuid.uuid4().hex * 2,
                    "airflow.dag_id": "seed",
                    "airflow.task_id": "register",
                    "airflow.run_id": f"seed__{index}",
                    "airflow.map_index": "-1",
                }
                body = {
                    "name": model,
                    "source": f"s3://bucket/seed/{index}",
                    "tags": [{"key": k, "value": v} for k, v in tags.items()],
                }
                response = session.post(f"{api}/model-versions/create", json=body, timeout=60)
                response.raise_for_status()

    chunks = [range(start, versions, SEED_THREADS) for start in range(SEED_THREADS)]
    with ThreadPoolExecutor(SEED_THREADS) as executor:
        list(executor.map(create, chunks))
    return versions / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=10_000, help="versions of the big model")
    parser.add_argument("--small", type=int, default=10, help="versions of the small model")
    parser.add_argument("--samples", type=int, default=50, help="measurements per model")
    args = parser.parse_args()
    with local_registry() as (server, proxy):
        from mlflow import MlflowClient

        from airflow_mlflow_registry.hooks import MlflowRegistryHook
        from airflow_mlflow_registry.lineage import TaskInstanceLineage

        suffix = uuid.uuid4().hex[:6]
        sizes = {f"scale-small-{suffix}": args.small, f"scale-big-{suffix}": args.big}
        seed_rates = {model: seed(server.url, model, n) for model, n in sizes.items()}
        hook = MlflowRegistryHook("mlflow_bench")
        client = MlflowClient(tracking_uri=proxy.url)  # through the proxy, like the hook

        def register(model: str, index: int) -> None:
            hook.register_model_version(
                model,
                f"s3://bucket/{index}",
                lineage=TaskInstanceLineage("scale", "register", f"run__{index}"),
                aliases=["staging"],
            )

        def plain(model: str, index: int) -> None:
            version = client.create_model_version(model, f"s3://bucket/plain/{index}")
            client.set_registered_model_alias(model, "plain", version.version)

        operations: dict[str, Callable[[str, int], object]] = {
            "key look-up": lambda model, _: hook.find_model_versions_by_key(
                model, uuid.uuid4().hex * 2
            ),
            "create_registered_model (exists)": lambda model, _: hook.ensure_registered_model(
                model
            ),
            "provider registration (4 requests)": register,
            "plain create + alias (3 requests)": plain,
        }
        samples = {(model, name): [] for model in sizes for name in operations}
        for index in range(-3, args.samples):  # three warm-up rounds, not recorded
            for model in sizes:
                for name, operation in operations.items():
                    started = time.perf_counter()
                    operation(model, index)
                    if index >= 0:
                        samples[model, name].append(time.perf_counter() - started)

    small, big = sizes
    rows = [
        [
            name,
            f"{median(samples[small, name]) * 1000:.1f}",
            f"{median(samples[big, name]) * 1000:.1f}",
            f"{p90(samples[big, name]) * 1000:.1f}",
            f"{median(samples[big, name]) / median(samples[small, name]):.2f}x",
        ]
        for name in operations
    ]
    print(f"seeding: {', '.join(f'{rate:.0f} versions/s' for rate in seed_rates.values())}")
    print()
    print(
        markdown_table(
            [
                "operation",
                f"median, {args.small:,} versions (ms)",
                f"median, {args.big:,} versions (ms)",
                f"p90, {args.big:,} versions (ms)",
                "ratio of medians",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
