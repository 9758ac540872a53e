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

"""32 task instances register versions of one model at once, each pointing the same alias at
its version, against the stack's PostgreSQL-backed, authenticated MLflow server (two
workers)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TaskInstanceLineage
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

TASK_INSTANCES = 32
DEADLINE_SECONDS = 300


def test_32_concurrent_registrations_on_postgres_give_distinct_versions_and_one_alias(
    stack: StackApi, use_connection: UseConnection
) -> None:
    use_connection(
        "stack_mlflow",
        stack.state.mlflow_url,
        login="airflow",
        password=stack.state.mlflow_airflow_password,
        timeout=120,
    )
    model = unique("stack-concurrent")
    start_together = threading.Barrier(TASK_INSTANCES, timeout=DEADLINE_SECONDS)

    def lineage(index: int) -> TaskInstanceLineage:
        return TaskInstanceLineage("stack_concurrency", "register", f"manual__{index}")

    def task_instance(index: int) -> dict[str, Any]:
        hook = MlflowRegistryHook("stack_mlflow")
        hook.get_conn()  # build the client before the barrier, so the requests overlap
        start_together.wait()
        return hook.register_model_version(
            model, f"s3://stack-bucket/{index}", lineage=lineage(index), aliases=["champion"]
        )

    with ThreadPoolExecutor(max_workers=TASK_INSTANCES) as executor:
        futures = [executor.submit(task_instance, index) for index in range(TASK_INSTANCES)]
        records = [future.result(timeout=DEADLINE_SECONDS) for future in futures]

    stored = {v["version"]: v for v in stack.model_versions(model)}
    versions = [record["version"] for record in records]
    assert len(set(versions)) == TASK_INSTANCES
    assert sorted(stored, key=int) == [str(n) for n in range(1, TASK_INSTANCES + 1)]
    for index, record in enumerate(records):
        assert record["created"] is True
        assert stored[record["version"]]["source"] == f"s3://stack-bucket/{index}"
        key = lineage(index).registration_key(model)
        assert stored[record["version"]]["tags"][REGISTRATION_KEY_TAG] == key
    # An alias names one version: the model has exactly this alias, on one of the 32.
    aliases = stack.aliases(model)
    assert list(aliases) == ["champion"]
    assert aliases["champion"] in versions
