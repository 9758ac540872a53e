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

"""HTTP requests per registration, counted at a proxy in front of a real `mlflow server`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.version_creation import find_model_versions_by_key
from airflow_mlflow_registry.lineage import TaskInstanceLineage
from tests.support.bearer_proxy import BearerProxy

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

# The numbers docs/operators/register_model_version.rst ("Requests") states, with one alias:
# the move costs a read of the model before and after it and the ledger entry's tag.
FIRST_EVER_REGISTRATION = 8
NEW_VERSION_OF_EXISTING_MODEL = 6
RERUN = 3
PLAIN_CLIENT_BASELINE = 5


def test_requests_of_first_registration_new_version_and_rerun(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    from mlflow import MlflowClient

    model = f"economy-{uuid.uuid4().hex[:8]}"
    with BearerProxy(mlflow_server.url) as proxy:
        use_connection("counted", proxy.url)
        hook = MlflowRegistryHook(mlflow_conn_id="counted")

        def register(run_id: str, try_number: int) -> tuple[dict[str, object], list[object]]:
            lineage = TaskInstanceLineage("d", "t", run_id, try_number=try_number)
            proxy.reset_counts()
            record = hook.register_model_version(
                model, f"s3://bucket/{run_id}", aliases=["staging"], lineage=lineage
            )
            return record, list(proxy.requests_seen)

        first, first_requests = register("run-1", 1)
        second, second_requests = register("run-2", 1)
        again, rerun_requests = register("run-2", 2)

        # Baseline: plain MlflowClient, lineage as a separate tag, then the alias.
        plain = MlflowClient(tracking_uri=proxy.url)
        proxy.reset_counts()
        version = plain.create_model_version(model, "s3://bucket/m", await_creation_for=0)
        plain.set_model_version_tag(model, version.version, "airflow.dag_id", "d")
        plain.set_registered_model_alias(model, "staging", version.version)
        baseline = proxy.requests_seen

    print(
        f"\nrequests per registration: first-ever={len(first_requests)} "
        f"new-version={len(second_requests)} re-run={len(rerun_requests)} "
        f"plain MlflowClient create+tag+alias={len(baseline)}"
    )
    assert [r["created"] for r in (first, second, again)] == [True, True, False]
    assert (first["version"], second["version"], again["version"]) == ("1", "2", "2")
    assert len(first_requests) == FIRST_EVER_REGISTRATION, first_requests
    assert len(second_requests) == NEW_VERSION_OF_EXISTING_MODEL, second_requests
    assert len(rerun_requests) == RERUN, rerun_requests
    assert len(baseline) == PLAIN_CLIENT_BASELINE, baseline


def test_open_source_key_lookup_is_one_request(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """On the open-source registry the look-up filters by name and key on the server (one
    search), unlike Unity Catalog's (tests/hooks/test_unity_catalog_lookup.py)."""
    model = f"lookup-{uuid.uuid4().hex[:8]}"
    lineage = TaskInstanceLineage("d", "t", model)
    with BearerProxy(mlflow_server.url) as proxy:
        use_connection("counted", proxy.url)
        hook = MlflowRegistryHook(mlflow_conn_id="counted")
        hook.register_model_version(model, "s3://bucket/m", lineage=lineage)
        hook.register_model_version(model, "s3://bucket/other", idempotency_key="c" * 64)
        proxy.reset_counts()
        found = find_model_versions_by_key(
            hook.registry_calls, model, lineage.registration_key(model), run_id="0" * 32
        )
        lookup = proxy.requests_seen
    assert [mv.version for mv in found] == ["1"]
    assert [(method, path.split("?")[0]) for method, path in lookup] == [
        ("GET", "/api/2.0/mlflow/model-versions/search")
    ]
