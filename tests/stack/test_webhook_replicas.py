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

"""Two api-server processes on the stack's PostgreSQL metadata DB receive the same signed MLflow
webhook deliveries at once: each delivery is recorded as exactly one asset event.

Each delivery is posted to both api-servers from two threads released together; the send and
answer times of both requests are recorded, and the test checks that they overlapped. The
metadata DB (a row lock on the asset, taken by each recording transaction) is what decides
which replica records it (:mod:`airflow_mlflow_registry.webhooks.recording`)."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.webhooks.receiver import URL_PREFIX
from airflow_mlflow_registry.webhooks.shared_secret import secret_variable_key
from tests.support.stack import StackState, kill_service, start_api_server_replica
from tests.support.webhook_delivery import signed_delivery, version_created

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

DAG_ID = "stack_webhook_replicas"
MODEL = "stack-webhook-replicas"  # the asset of tests/stack/dags/stack_webhook_replicas.py
CONN_ID = "mlflow_default"
DELIVERIES = 4
REPLICA = "api-server-2"


@pytest.fixture(scope="module")
def second_api_server(stack: StackApi) -> Iterator[str]:
    """The URL of a second api-server on the stack's metadata DB; stopped after the module."""
    state = StackState.load(stack.root)
    url = start_api_server_replica(state, REPLICA)
    try:
        yield url
    finally:
        kill_service(StackState.load(stack.root), REPLICA)
        stack.refresh()


def new_version(stack: StackApi) -> str:
    """A new READY version of :data:`MODEL` (created when missing), registered as the MLflow
    admin from a run of the default experiment."""
    found = stack.mlflow("GET", "registered-models/search", params={"filter": f"name='{MODEL}'"})
    if not found.get("registered_models"):
        stack.mlflow("POST", "registered-models/create", json={"name": MODEL})
    run_id = stack.mlflow("POST", "runs/create", json={"experiment_id": "0"})["run"]["info"][
        "run_id"
    ]
    created = stack.mlflow(
        "POST",
        "model-versions/create",
        json={"name": MODEL, "source": f"runs:/{run_id}/model", "run_id": run_id},
    )
    return str(created["model_version"]["version"])


def post_to_both(urls: list[str], body: bytes, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Post one delivery to each of ``urls`` from its own thread, released together; per URL
    the answer's status and JSON and the ``sent``/``answered`` times (monotonic seconds)."""
    release = threading.Barrier(len(urls), timeout=60)

    def post(url: str) -> dict[str, Any]:
        release.wait()
        sent = time.monotonic()
        response = requests.post(
            f"{url}{URL_PREFIX}/{CONN_ID}", data=body, headers=headers, timeout=120
        )
        return {
            "status": response.status_code,
            "answer": response.json(),
            "sent": sent,
            "answered": time.monotonic(),
        }

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(post, urls))


def webhook_events(stack: StackApi) -> list[dict[str, Any]]:
    """Payloads of the receiver's asset events on :data:`MODEL`'s asset."""
    uri = model_asset(CONN_ID, MODEL).uri
    rows = stack.query(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.uri = %s ORDER BY e.id",
        uri,
    )
    return [extra["payload"] for (extra,) in rows if extra.get("from_webhook")]


def test_two_api_servers_given_the_same_deliveries_at_once_record_one_event_each(
    stack: StackApi, second_api_server: str
) -> None:
    stack.wait_for_dag(DAG_ID, paused=True)  # parsed: its asset is active
    secret = secrets.token_urlsafe(32)
    key = secret_variable_key(CONN_ID)
    with contextlib.suppress(RuntimeError):  # a stack kept from an earlier session
        stack.airflow("DELETE", f"variables/{key}")
    stack.airflow("POST", "variables", json={"key": key, "value": secret})
    urls = [stack.state.airflow_url, second_api_server]
    before = len(webhook_events(stack))

    versions = [new_version(stack) for _ in range(DELIVERIES)]
    results = {}
    for version in versions:
        body, headers = signed_delivery(secret, version_created(MODEL, version))
        results[version] = post_to_both(urls, body, headers)

    for version, (first, second) in results.items():
        assert first["status"] == second["status"] == 200, (version, first, second)
        # The two requests were in flight at the same time.
        assert max(first["sent"], second["sent"]) < min(first["answered"], second["answered"])
        statuses = sorted(r["answer"]["status"] for r in (first, second))
        assert statuses == ["duplicate", "recorded"], (version, first, second)
    recorded = webhook_events(stack)[before:]
    assert sorted(p["version"] for p in recorded) == versions
    assert all(p["event"] == "new_version" and p["model_name"] == MODEL for p in recorded)
