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

"""`airflow-mlflow-registry register-version --idempotency-key KEY` run by several processes at
once (two CI jobs registering the same build) against a real `mlflow server`: one version per
key and source, whatever the overlap.

Each process talks to the server through its own :class:`~tests.support.gate_proxy.GateProxy`,
which holds each process's create until every process has sent one: all of them looked the key
up before any create, and the recorded create windows prove the creates overlapped.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.cli import run_cli
from tests.support.gate_proxy import CREATE_VERSION, GateProxy, barrier_wait, intersect, span
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.support.mlflow_server import MlflowServer

PROCESSES = 4


@pytest.mark.e2e  # four CLI processes importing MLflow at once: too slow for the default tier
def test_concurrent_registrations_with_one_idempotency_key_converge_on_one_version(
    mlflow_server: MlflowServer, airflow_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """Four processes register the same source with the same key at once; their creates are
    in flight together. Afterwards the model has one version with the key, the lowest; every
    process printed it, exactly one says it created it, and the alias is on it."""
    model, key = unique("same-key"), unique("ci-build")
    plain_client.create_registered_model(model)
    source = "s3://bucket/build/model"
    everyone_created = threading.Barrier(PROCESSES)
    proxies = [GateProxy(mlflow_server.url) for _ in range(PROCESSES)]
    for proxy in proxies:
        proxy.hold(CREATE_VERSION, [1], barrier_wait(everyone_created))
        proxy.start()
    try:
        env = dict(airflow_env)
        for i, proxy in enumerate(proxies):
            env[connection_env_var(f"via_proxy_{i}")] = connection_json(proxy.url)
        command = ["register-version", model, "--model-uri", source, "--idempotency-key", key]
        results = run_cli(
            env,
            *(
                [*command, "--alias", "ci", "--json", "--conn-id", f"via_proxy_{i}"]
                for i in range(PROCESSES)
            ),
        )
    finally:
        for proxy in proxies:
            proxy.stop()
    creates = [span(proxy.windows(CREATE_VERSION)) for proxy in proxies]
    assert intersect(*creates), creates

    assert [result.code for result in results] == [0] * PROCESSES, results
    records = [result.json() for result in results]
    keyed = plain_client.search_model_versions(
        f"name = '{model}' AND tags.`{REGISTRATION_KEY_TAG}` = '{key}'"
    )
    assert [mv.version for mv in keyed] == ["1"], [mv.version for mv in keyed]
    assert [record["version"] for record in records] == ["1"] * PROCESSES
    assert sorted(record["created"] for record in records) == [False] * (PROCESSES - 1) + [True]
    assert plain_client.get_model_version_by_alias(model, "ci").version == "1"
