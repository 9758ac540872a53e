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

"""Many task instances register versions of one model at the same moment, each pointing the
same alias at its version, against a real `mlflow server`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.exceptions import MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.version_creation import PERMISSION_GRANT_WAITS
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TaskInstanceLineage
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.reliability

TASK_INSTANCES = 16
DEADLINE_SECONDS = 120


@pytest.mark.parametrize("server_kind", ["plain", "basic_auth"])
def test_concurrent_task_instances_get_distinct_versions_and_alias_lands_on_one(
    server_kind: str, request: pytest.FixtureRequest, use_connection: UseConnection
) -> None:
    """A new model: every task instance's first create finds no model. On a basic-auth server
    a non-admin user gets 403 (not 404) for it, and all but one find the model already created
    by a sibling when they create it: each must still register its version."""
    if server_kind == "plain":
        server: MlflowServer = request.getfixturevalue("mlflow_server")
        use_connection("concurrent", server.url, timeout=30)
        use_connection("concurrent_reader", server.url)
    else:
        server = request.getfixturevalue("auth_mlflow_server")
        use_connection("concurrent", server.url, **server.sign_in_as("alice"), timeout=30)
        use_connection(
            "concurrent_reader",
            server.url,
            login=server.admin_username,
            password=server.admin_password,
        )
    model = unique("concurrent")
    start_together = threading.Barrier(TASK_INSTANCES, timeout=DEADLINE_SECONDS)

    def task_instance(index: int) -> dict[str, Any]:
        lineage = TaskInstanceLineage("concurrency", "register", f"manual__{index}")
        hook = MlflowRegistryHook("concurrent")
        hook.get_conn()  # build the client before the barrier, so the requests overlap
        start_together.wait()
        return hook.register_model_version(
            model, f"s3://bucket/{index}", lineage=lineage, aliases=["champion"]
        )

    with ThreadPoolExecutor(max_workers=TASK_INSTANCES) as executor:
        futures = [executor.submit(task_instance, index) for index in range(TASK_INSTANCES)]
        records = [future.result(timeout=DEADLINE_SECONDS) for future in futures]

    client = MlflowRegistryHook("concurrent_reader").get_conn()
    stored = {v.version: v for v in client.search_model_versions(f"name = '{model}'")}
    versions = [record["version"] for record in records]
    assert len(set(versions)) == TASK_INSTANCES
    assert sorted(stored, key=int) == [str(n) for n in range(1, TASK_INSTANCES + 1)]
    for index, record in enumerate(records):
        key = TaskInstanceLineage("concurrency", "register", f"manual__{index}").registration_key(
            model
        )
        assert stored[record["version"]].tags[REGISTRATION_KEY_TAG] == key
        assert stored[record["version"]].source == f"s3://bucket/{index}"
        assert record["created"] is True
    champion = client.get_model_version_by_alias(model, "champion").version
    assert champion in versions
    assert client.get_registered_model(model).aliases == {"champion": champion}


CREATE = "/model-versions/create"


def test_a_403_after_a_sibling_created_the_model_is_sent_again_until_permission_arrives(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """MLflow's basic-auth server saves a new model, then grants its creator permission: a
    concurrent task of the same user can find the model existing and still get 403 for its
    version (seen on the PostgreSQL-backed stack with several server workers). The proxy plays
    that window: the version's first two creates get 403 while the model exists."""

    model = unique("grant-pending")
    mlflow_server.client().create_registered_model(model)
    use_connection("grant_pending", fault_proxy.url)
    fault_proxy.add_fault("POST", CREATE, "403_before_forward", times=2)

    record = MlflowRegistryHook("grant_pending").register_model_version(
        model, "s3://bucket/m", lineage=TaskInstanceLineage("grant", "register", "manual__1")
    )

    assert fault_proxy.faults_injected == 2
    assert record["version"] == "1" and record["created"] is True
    stored = mlflow_server.client().search_model_versions(f"name = '{model}'")
    assert [v.version for v in stored] == ["1"]


def test_a_user_without_permission_on_an_existing_model_still_gets_the_403(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """The waits for a pending grant are bounded: a lasting 403 fails the registration after
    the first create, the model check and ``len(PERMISSION_GRANT_WAITS) + 1`` further creates."""

    model = unique("no-permission")
    mlflow_server.client().create_registered_model(model)
    use_connection("no_permission", fault_proxy.url)
    fault_proxy.add_fault("POST", CREATE, "403_before_forward", times=None)

    with pytest.raises(MlflowRequestError, match="403"):
        MlflowRegistryHook("no_permission").register_model_version(
            model, "s3://bucket/m", lineage=TaskInstanceLineage("grant", "register", "manual__1")
        )

    creates = [path for method, path in fault_proxy.requests_seen if CREATE in path]
    assert len(creates) == 1 + len(PERMISSION_GRANT_WAITS) + 1
    assert mlflow_server.client().search_model_versions(f"name = '{model}'") == []
