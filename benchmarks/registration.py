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

"""Registration latency and request count: ``MlflowRegistryHook.register_model_version`` (with
lineage and one alias) against plain ``MlflowClient.create_model_version`` plus
``set_registered_model_alias``, interleaved, on a local ``mlflow server`` behind a counting
proxy. Prints a Markdown table.

    .venv/bin/python benchmarks/registration.py [--registrations 200]
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import TYPE_CHECKING

from _common import local_registry, markdown_table, median, p90

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.support.bearer_proxy import BearerProxy

ALIAS = "staging"


def measure(proxy: BearerProxy, register: Callable[[int], object], index: int) -> tuple[float, int]:
    """Seconds and HTTP requests one registration takes."""
    requests_before = len(proxy.requests_seen)
    started = time.perf_counter()
    register(index)
    return time.perf_counter() - started, len(proxy.requests_seen) - requests_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=200, help="per variant")
    count = parser.parse_args().registrations
    with local_registry() as (_, proxy):
        from mlflow import MlflowClient

        from airflow_mlflow_registry.hooks import MlflowRegistryHook
        from airflow_mlflow_registry.lineage import TaskInstanceLineage

        suffix = uuid.uuid4().hex[:6]
        hook_model, plain_model = f"bench-hook-{suffix}", f"bench-plain-{suffix}"
        hook = MlflowRegistryHook("mlflow_bench")
        client = MlflowClient(tracking_uri=proxy.url)
        client.create_registered_model(plain_model)

        def lineage(index: int) -> TaskInstanceLineage:
            return TaskInstanceLineage("bench", "register", f"scheduled__{index}")

        def with_hook(index: int) -> object:
            return hook.register_model_version(
                hook_model, f"s3://bucket/{index}", lineage=lineage(index), aliases=[ALIAS]
            )

        def plain(index: int) -> object:
            version = client.create_model_version(
                plain_model, f"s3://bucket/{index}", tags=lineage(index).as_tags()
            )
            client.set_registered_model_alias(plain_model, ALIAS, version.version)
            return version

        variants = {
            "provider hook (exactly-once, lineage, alias)": with_hook,
            "plain MlflowClient (create + alias)": plain,
        }
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in variants}
        for index in range(-5, count):  # five warm-up rounds, not recorded
            for name, register in variants.items():
                sample = measure(proxy, register, index)
                if index >= 0:
                    results[name].append(sample)

    rows = []
    for name, samples in results.items():
        seconds = [s for s, _ in samples]
        requests = {r for _, r in samples}
        rows.append(
            [
                name,
                len(samples),
                "/".join(str(r) for r in sorted(requests)),
                f"{median(seconds) * 1000:.1f}",
                f"{p90(seconds) * 1000:.1f}",
            ]
        )
    hook_s, plain_s = ([s for s, _ in results[name]] for name in variants)
    print(
        markdown_table(
            ["variant", "registrations", "HTTP requests each", "median (ms)", "p90 (ms)"], rows
        )
    )
    print()
    print(
        markdown_table(
            ["median ratio hook/plain", "p90 ratio hook/plain"],
            [[f"{median(hook_s) / median(plain_s):.2f}x", f"{p90(hook_s) / p90(plain_s):.2f}x"]],
        )
    )


if __name__ == "__main__":
    main()
