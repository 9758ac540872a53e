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

"""Time from a registry change to the DAG run it starts: MLflow webhooks vs the polling watch.

Starts a real Airflow deployment (api-server with the provider's webhook receiver, scheduler,
dag-processor, triggerer; ``tests/support/airflow_deployment.py``) and an ``mlflow server``
that delivers webhooks over HTTPS through a TLS-terminating proxy with a private CA
(``tests/support/webhook_stack.py``). Three DAGs, each scheduled on one model's asset:

- ``webhook``: the asset of connection ``mlflow_bench`` (which has the webhook), no watcher;
- ``poll (N s)``: the asset of connection ``mlflow_bench_poll`` (same server, no webhook) with
  a polling ``MlflowRegistryEventTrigger`` at ``--poll-interval`` seconds;
- ``poll (60 s, default)``: the same with the default interval, for ``--default-changes``
  changes only (each takes about half a minute).

Each change is one ``create_model_version`` by a plain ``MlflowClient``; its latency is from
just before that request to the ``queued_at`` of the DAG run it started (the scheduler's
creation of the run). Changes are made one at a time, the variants interleaved, so each
change gets its own run and all variants see the same machine load. Before each change of a
polling variant the script waits a random time in ``[0, interval)``: a change then lands at a
random point of the poll cycle, as an outside change does (without it, one round of the loop
takes about one default interval and every change would land at the same phase). Prints
Markdown tables.

    .venv/bin/python benchmarks/webhook_latency.py [--changes 20] [--poll-interval 5]
        [--default-changes 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import exit_on_sigterm, markdown_table, median, p90

from tests.support.airflow_deployment import AirflowDeployment
from tests.support.webhook_stack import WebhookStack, time_to_run

WEBHOOK_CONN, POLL_CONN = "mlflow_bench", "mlflow_bench_poll"

DAGS = """
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, AssetWatcher

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger


def polled(model, **options):
    trigger = MlflowRegistryEventTrigger(
        model_name=model, mlflow_conn_id="{poll}", start_after_version=0, **options
    )
    return model_asset("{poll}", model, watchers=[AssetWatcher(name=model, trigger=trigger)])


for dag_id, asset in [
    ("bench_webhook", model_asset("{webhook}", "bench_webhook")),
    ("bench_poll", polled("bench_poll", poll_interval={interval})),
    ("bench_poll_default", polled("bench_poll_default")),
]:
    with DAG(dag_id, schedule=[asset], catchup=False):
        EmptyOperator(task_id="consume")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20, help="changes per fast variant")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--default-changes", type=int, default=5)
    args = parser.parse_args()
    exit_on_sigterm()
    root = Path(tempfile.mkdtemp(prefix="webhook-latency-"))
    deployment = AirflowDeployment(root / "airflow", "http://127.0.0.1:9")
    stack = WebhookStack(root / "webhooks", deployment, WEBHOOK_CONN)
    try:
        deployment.start()
        stack.start()
        deployment.rest(
            "POST",
            "connections",
            json={"connection_id": POLL_CONN, "conn_type": "mlflow", "host": stack.server.url},
        )
        dag_file = root / "bench_dags.py"
        dag_file.write_text(
            textwrap.dedent(DAGS).format(
                webhook=WEBHOOK_CONN, poll=POLL_CONN, interval=args.poll_interval
            )
        )
        for dag_id in ("bench_webhook", "bench_poll", "bench_poll_default"):
            deployment.add_dag(dag_file, dag_id)
        client = stack.client()
        variants = {
            "webhook": "bench_webhook",
            f"poll ({args.poll_interval:g} s)": "bench_poll",
            "poll (60 s, default)": "bench_poll_default",
        }
        for model in variants.values():
            client.create_registered_model(model)
        # Not timed: the first change also makes the source run and warms every path up.
        for model in variants.values():
            time_to_run(deployment, model, lambda m=model: stack.new_version(m), timeout=300)
        latencies: dict[str, list[float]] = {name: [] for name in variants}
        for index in range(args.changes):
            for name, model in variants.items():
                if model == "bench_poll_default" and index >= args.default_changes:
                    continue
                if model != "bench_webhook":
                    interval = 60.0 if model == "bench_poll_default" else args.poll_interval
                    time.sleep(random.uniform(0, interval))
                latencies[name].append(
                    time_to_run(
                        deployment,
                        model,
                        lambda m=model: stack.new_version(m),
                        timeout=300,
                    )
                )
                print(f"{name} change {index + 1}: {latencies[name][-1]:.2f} s", flush=True)
        rows = [
            (name, len(values), f"{median(values):.2f}", f"{p90(values):.2f}")
            for name, values in latencies.items()
        ]
        print(markdown_table(("path", "changes", "median (s)", "p90 (s)"), rows))
        webhook = median(latencies["webhook"])
        print(
            markdown_table(
                ("polling median / webhook median", "ratio"),
                [
                    (name, f"{median(values) / webhook:.1f}x")
                    for name, values in latencies.items()
                    if name != "webhook"
                ],
            )
        )
    finally:
        stack.stop()
        deployment.stop()


if __name__ == "__main__":
    main()
