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

"""Copy throughput between two S3 artifact stores: a 200 MB model version copied from one MLflow
server to another, each server proxying its own S3 endpoint (``--artifacts-destination
s3://...``; two moto servers on 127.0.0.1, two "accounts"). Two variants, interleaved, each
copy in a fresh subprocess so that its peak RSS is its own:

- **provider**: ``MlflowRegistryHook.copy_model_version_from`` (what ``CopyModelVersionOperator``
  runs): download through the source connection, upload and register through the target's;
- **plain MLflow**: a plain ``MlflowClient`` per server, MLflow's own download-then-log:
  ``mlflow.artifacts.download_artifacts("models:/<name>/<version>")``, then a logged model on
  the target (``create_logged_model`` + ``log_model_artifacts``) registered with
  ``create_model_version``.

Each child imports MLflow and the provider first, then times the copy alone and prints its
peak RSS (``ru_maxrss``) and how far that peak rose above the RSS after the imports: a 200 MB
file held in memory would show as a rise of 200 MB or more. Usage (from the repository root)::

    .venv/bin/python benchmarks/copy_throughput.py --rounds 3 --megabytes 200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT, exit_on_sigterm, markdown_table, median

from tests.support.s3_server import proxied_s3_mlflow_server

CHUNK = 8 * 1024 * 1024
SOURCE_MODEL = "bench-copy-source"


def child(variant: str, source_url: str, target_url: str, target_name: str) -> None:
    """One copy in this (fresh) process; prints as JSON its wall time (imports excluded), its
    peak RSS and its RSS once everything was imported (both KiB)."""
    import resource

    import mlflow
    from mlflow import MlflowClient

    from airflow_mlflow_registry.hooks import MlflowRegistryHook

    def copy_with_provider() -> None:
        MlflowRegistryHook(mlflow_conn_id="bench_target").copy_model_version_from(
            MlflowRegistryHook(mlflow_conn_id="bench_source"),
            SOURCE_MODEL,
            version="1",
            target_model_name=target_name,
        )

    def copy_with_plain_mlflow() -> None:
        mlflow.set_tracking_uri(source_url)
        mlflow.set_registry_uri(source_url)
        with tempfile.TemporaryDirectory() as scratch:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{SOURCE_MODEL}/1", dst_path=scratch
            )
            target = MlflowClient(tracking_uri=target_url, registry_uri=target_url)
            experiment = target.get_experiment_by_name("bench-copies")
            experiment_id = (
                experiment.experiment_id if experiment else target.create_experiment("bench-copies")
            )
            logged = target.create_logged_model(experiment_id, name="model")
            target.log_model_artifacts(logged.model_id, local)
            target.create_registered_model(target_name)
            target.create_model_version(
                target_name, f"models:/{logged.model_id}", model_id=logged.model_id
            )

    copy = copy_with_provider if variant == "provider" else copy_with_plain_mlflow
    baseline = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    start = time.monotonic()
    copy()
    elapsed = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "max_rss_kib": peak, "baseline_kib": baseline // 1024}))


def seed(source_url: str, megabytes: int, scratch: Path) -> None:
    """Version 1 of ``SOURCE_MODEL`` on the source: a logged model with ``MLmodel`` and one
    ``weights.bin`` of ``megabytes`` random MB, written and uploaded in streams."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=source_url)
    experiment_id = client.create_experiment("bench-source")
    logged = client.create_logged_model(experiment_id, name="model")
    local = scratch / "model"
    local.mkdir()
    (local / "MLmodel").write_text("artifact_path: model\n")
    with (local / "weights.bin").open("wb") as weights:
        for _ in range(megabytes * 1024 * 1024 // CHUNK):
            weights.write(os.urandom(CHUNK))
    client.log_model_artifacts(logged.model_id, str(local))
    client.create_registered_model(SOURCE_MODEL)
    client.create_model_version(
        SOURCE_MODEL, f"models:/{logged.model_id}", model_id=logged.model_id
    )


def copy_once(variant: str, source_url: str, target_url: str, target_name: str) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_CONN_BENCH_SOURCE": json.dumps(
            {"conn_type": "mlflow", "host": source_url, "extra": {"timeout": 300}}
        ),
        "AIRFLOW_CONN_BENCH_TARGET": json.dumps(
            {"conn_type": "mlflow", "host": target_url, "extra": {"timeout": 300}}
        ),
        "PYTHONPATH": str(REPO_ROOT),
    }
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant, source_url, target_url, target_name],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{variant} copy failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    root = Path(tempfile.mkdtemp(prefix="bench-copy-"))
    os.environ.setdefault("AIRFLOW_HOME", str(root / "airflow"))
    with (
        proxied_s3_mlflow_server(root / "source", "source-bucket") as source_s3,
        proxied_s3_mlflow_server(root / "target", "target-bucket") as target_s3,
    ):
        assert source_s3.mlflow is not None and target_s3.mlflow is not None
        source_url, target_url = source_s3.mlflow.url, target_s3.mlflow.url
        started = time.monotonic()
        seed(source_url, args.megabytes, root)
        print(f"seeded {args.megabytes} MB in {time.monotonic() - started:.1f} s", flush=True)
        results: dict[str, list[dict]] = {"provider": [], "plain MLflow": []}
        for round_number in range(args.rounds):
            order = ["provider", "plain MLflow"]
            if round_number % 2:
                order.reverse()
            for variant in order:
                kind = "provider" if variant == "provider" else "plain"
                result = copy_once(kind, source_url, target_url, f"copy-{kind}-{round_number}")
                results[variant].append(result)
                print(f"round {round_number + 1} {variant}: {result}", flush=True)
        objects = len(target_s3.object_keys("target-bucket"))
    rows = []
    for variant, samples in results.items():
        seconds = [sample["seconds"] for sample in samples]
        rss = [sample["max_rss_kib"] / 1024 for sample in samples]
        growth = [(sample["max_rss_kib"] - sample["baseline_kib"]) / 1024 for sample in samples]
        rows.append(
            [
                variant,
                len(samples),
                f"{median(seconds):.1f}",
                f"{min(seconds):.1f}",
                f"{max(seconds):.1f}",
                f"{args.megabytes / median(seconds):.1f}",
                f"{median(rss):.0f}",
                f"{max(rss):.0f}",
                f"{max(growth):.0f}",
            ]
        )
    print()
    print(
        markdown_table(
            [
                "variant",
                "copies",
                "median (s)",
                "min (s)",
                "max (s)",
                "MB/s (median)",
                "peak RSS median (MiB)",
                "peak RSS max (MiB)",
                "peak over post-import RSS, max (MiB)",
            ],
            rows,
        )
    )
    provider, plain = (median([s["seconds"] for s in results[v]]) for v in results)
    print(f"\nmedian ratio provider/plain: {provider / plain:.2f}x; target objects: {objects}")


if __name__ == "__main__":
    main()
