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

"""The example DAGs' train-log-register-promote chain on the stack's two S3-backed MLflow
servers (both on the stack's PostgreSQL), through the Celery workers: ``mlflow_s3_proxied``
proxies its artifacts to an S3 bucket and holds that endpoint's keys itself;
``mlflow_s3_direct`` (``--no-serve-artifacts``) is written by the worker directly, with the
identity of the Airflow connection ``aws_s3_direct`` that its ``mlflow`` connection names. The
workers have neither store's keys in their environment: their own AWS settings (keys, profile,
region, ``AWS_ENDPOINT_URL``, ``MLFLOW_S3_ENDPOINT_URL``) name a third endpoint, another
"account" that has the direct store's bucket too, and that receives nothing.
(The examples are retargeted copies, see ``tests.support.stack_dags``.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from tests.support.stack import S3_STORES, WORKERS
from tests.support.stack_dags import s3_example_dag_id

if TYPE_CHECKING:
    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

MODEL_NAME = "iris-classifier"
# A request for an object (not the bucket itself) in either store's bucket.
_OBJECT_REQUEST = re.compile(r'"[A-Z]+ /stack-(direct|proxied)/\S')


def test_example_chain_passes_on_proxied_and_direct_s3_stores_through_celery_workers(
    stack: StackApi,
) -> None:
    state = stack.state
    for server in S3_STORES:
        for dag_id in ("register_model", "promote_on_new_version"):
            stack.wait_for_dag(s3_example_dag_id(dag_id, server))
    # Both chains at once: the two workers serve them side by side.
    runs = {
        server: stack.trigger(s3_example_dag_id("register_model", server)) for server in S3_STORES
    }
    models = {}
    for server, run_id in runs.items():
        dag_id = s3_example_dag_id("register_model", server)
        assert stack.wait_for_run(dag_id, run_id) == "success", server
        record = stack.xcom(dag_id, run_id, "register")
        assert record["created"] is True and record["aliases"] == ["staging"]
        # The model was logged with hook.log_model: an MLflow 3 logged model of the run.
        assert record["source"].startswith("models:/m-")
        assert stack.aliases(MODEL_NAME, server)["staging"] == record["version"]
        hosts = stack.query(
            "SELECT task_id, hostname FROM task_instance WHERE dag_id = %s AND run_id = %s",
            dag_id,
            run_id,
        )
        assert sorted(task for task, _ in hosts) == ["register", "train_and_log"]
        assert {host for _, host in hosts} <= {f"stack-{worker}" for worker in WORKERS}
        # `register` emitted the model's asset of this connection: its promotion DAG runs.
        promote = s3_example_dag_id("promote_on_new_version", server)
        promote_run = stack.wait_for_first_run(promote)
        assert stack.wait_for_run(promote, promote_run) == "success", server
        assert stack.aliases(MODEL_NAME, server)["production"] == record["version"]
        models[server] = record["source"].removeprefix("models:/")

    # Nothing reached the workers' ambient endpoint (its access log, read before this test
    # lists anything there, has no object request), and its copy of the buckets is empty.
    hostile_log = Path(state.root) / "s3" / "s3-hostile.log"
    assert not _OBJECT_REQUEST.search(hostile_log.read_text(errors="replace"))
    for _, bucket in S3_STORES.values():
        assert stack.s3_object_keys("s3-hostile", bucket) == []
    # Each model's files are in its own store's bucket, on its own endpoint (which refuses
    # any other keys: the direct store was written with aws_s3_direct's identity).
    for server, (endpoint, bucket) in S3_STORES.items():
        keys = stack.s3_object_keys(endpoint, bucket)
        assert any(models[server] in key and key.endswith("/MLmodel") for key in keys), server

    # The workers carry the hostile account's settings and no key of either store. (Celery's
    # retitled processes, the worker's main process and its pool, show an empty environment
    # in /proc: setproctitle writes over it. The rest are read; each worker has one at least.)
    hostile = state.s3_endpoints["s3-hostile"]
    store_keys = {
        state.s3_endpoints[endpoint][part]
        for endpoint, _ in S3_STORES.values()
        for part in ("access_key_id", "secret_access_key")
    }
    for worker in WORKERS:
        main = psutil.Process(state.pids[worker])
        readable = {}
        for process in (main, *main.children(recursive=True)):
            try:  # a task's processes may end (or be a zombie) meanwhile
                environment = process.environ()
                if environment:
                    readable[f"{process.pid}: {' '.join(process.cmdline())}"] = environment
            except psutil.Error:
                continue
        assert readable, worker
        for command, environment in readable.items():
            assert environment.get("AWS_ACCESS_KEY_ID") == hostile["access_key_id"], command
            assert environment.get("MLFLOW_S3_ENDPOINT_URL") == hostile["url"], command
            assert environment.get("AWS_ENDPOINT_URL") == hostile["url"], command
            assert not store_keys & set(environment.values()), command
