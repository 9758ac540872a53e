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

"""MLflow webhooks delivered over HTTPS (a private CA) to the receiver on a real api-server,
with a scheduler, dag-processor and triggerer (the shared deployment), changes made by a plain
``MlflowClient``."""

from __future__ import annotations

import json
import statistics
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.webhooks.signature import DELIVERY_ID_HEADER
from tests.support.webhook_delivery import signed_delivery, version_created
from tests.support.webhook_stack import (
    RECEIVER_PATH,
    WebhookStack,
    asset_id,
    asset_payloads,
    dag_runs,
    time_to_run,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.airflow_deployment import AirflowDeployment

# The first test also waits for the shared deployment, the MLflow server and three DAG parses.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CONN_ID = "mlflow_webhooks"
# A connection no MLflow webhook delivers to: only the tests' own deliveries reach its assets.
MANUAL_CONN_ID = "mlflow_webhooks_manual"
DAGS = Path(__file__).with_name("dags_webhooks.py")


@pytest.fixture(scope="module")
def stack(
    airflow_deployment: AirflowDeployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebhookStack]:
    stack = WebhookStack(tmp_path_factory.mktemp("webhooks"), airflow_deployment, CONN_ID)
    try:
        stack.start()
        for dag_id in ("wh_versions", "wh_both", "wh_reconcile", "wh_dedup"):
            airflow_deployment.add_dag(DAGS, dag_id)
        yield stack
    finally:
        # The deployment outlives this module: its watchers must stop polling this server.
        (airflow_deployment.dags_folder / DAGS.name).unlink(missing_ok=True)
        stack.stop()


def test_cli_created_the_webhook_and_never_printed_its_secret(stack: WebhookStack) -> None:
    secret = stack.secret()
    assert len(secret) >= 40
    listed = stack.cli("webhooks", "list", "--json")
    [webhook] = [w for w in json.loads(listed.stdout) if w["url"] == stack.receiver_url]
    assert webhook["status"] == "ACTIVE"
    assert webhook["events"] == ["model_version.created", "model_version_alias.created"]
    tested = stack.cli("webhooks", "test", webhook["webhook_id"], "--json")
    result = json.loads(tested.stdout)
    # MLflow's example delivery names a model no DAG uses: verified over HTTPS, then ignored.
    assert result["success"] and result["response_status"] == 200, result
    assert json.loads(result["response_body"])["status"] == "ignored"
    created = stack.created
    assert created is not None and webhook["webhook_id"] in created.stdout
    outputs = (created, listed, tested)
    assert all(secret not in output.stdout + output.stderr for output in outputs)


def test_versions_and_alias_moves_start_one_run_each(stack: WebhookStack) -> None:
    deployment, client = stack.deployment, stack.client()
    client.create_registered_model("wh_versions")
    latencies = []
    for _ in range(3):
        latencies.append(
            time_to_run(deployment, "wh_versions", lambda: stack.new_version("wh_versions"))
        )
    for version in ("1", "3"):
        latencies.append(
            time_to_run(
                deployment,
                "wh_versions",
                lambda v=version: client.set_registered_model_alias("wh_versions", "prod", v),
            )
        )
    uri = model_asset(CONN_ID, "wh_versions").uri
    payloads = [e["payload"] for e in asset_payloads(deployment, asset_id(deployment, uri))]
    assert [(p["event"], p["version"], p["alias"]) for p in payloads] == [
        ("new_version", "1", None),
        ("new_version", "2", None),
        ("new_version", "3", None),
        ("alias_moved", "1", "prod"),
        ("alias_moved", "3", "prod"),
    ]
    assert payloads[4]["previous_version"] == "1"
    assert payloads[0]["model_uri"] == "models:/wh_versions/1"
    assert payloads[0]["status"] == "READY" and payloads[0]["tracking_uri"] == stack.server.url
    assert len(dag_runs(deployment, "wh_versions")) == 5
    print(
        f"webhook latency: median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s"
    )


def test_forged_replayed_oversized_and_malformed_deliveries_are_refused_and_logged(
    stack: WebhookStack,
) -> None:
    deployment = stack.deployment
    url = f"{deployment.url}{RECEIVER_PATH}/{CONN_ID}"
    secret = stack.secret()
    uri = model_asset(CONN_ID, "wh_versions").uri
    events_before = len(asset_payloads(deployment, asset_id(deployment, uri)))
    api_log = deployment.home / "api-server.log"
    log_start = len(api_log.read_text())
    body = version_created("wh_versions", "1")
    forged = signed_delivery("not-the-secret", body)
    stale = signed_delivery(secret, body, age=3600)
    huge = signed_delivery(secret, {**body, "data": {**body["data"], "description": "x" * 300_000}})
    malformed = signed_delivery(secret, {"entity": "model_version", "action": "created"})
    answers = {
        name: requests.post(url, data=raw, headers=headers, timeout=60)
        for name, (raw, headers) in {
            "forged": forged,
            "replayed": stale,
            "too large": huge,
            "malformed": malformed,
        }.items()
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        "forged": 401,
        "replayed": 401,
        "too large": 413,
        "malformed": 400,
    }
    assert len(asset_payloads(deployment, asset_id(deployment, uri))) == events_before
    log = api_log.read_text()[log_start:]
    for _, headers in (forged, stale, huge, malformed):
        [line] = [line for line in log.splitlines() if headers[DELIVERY_ID_HEADER] in line]
        assert "Rejected MLflow webhook delivery" in line
    assert "Traceback" not in log


def test_delivery_id_already_recorded_is_a_duplicate_even_for_a_change_not_recorded(
    stack: WebhookStack,
) -> None:
    deployment, client = stack.deployment, stack.client()
    secret = f"manual-{uuid.uuid4().hex}"
    stack.add_connection(MANUAL_CONN_ID, secret)
    client.create_registered_model("wh_dedup")
    # MLflow's own deliveries of these go to the other connection, whose wh_dedup asset no DAG
    # uses: nothing is recorded on this connection's asset but what this test sends.
    first, second = stack.new_version("wh_dedup"), stack.new_version("wh_dedup")
    url = f"{deployment.url}{RECEIVER_PATH}/{MANUAL_CONN_ID}"
    asset = asset_id(deployment, model_asset(MANUAL_CONN_ID, "wh_dedup").uri)

    def send(raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
        response = requests.post(url, data=raw, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return dict(response.json())

    raw, headers = signed_delivery(secret, version_created("wh_dedup", first))
    assert send(raw, headers)["status"] == "recorded"
    delivery_id = headers[DELIVERY_ID_HEADER]
    # The same delivery id announcing a version nothing recorded: only the id stops it.
    reused = signed_delivery(secret, version_created("wh_dedup", second), delivery_id=delivery_id)
    answer = send(*reused)
    assert answer["status"] == "duplicate"
    assert answer["detail"] == f"delivery {delivery_id} already recorded"
    assert [e["payload"]["version"] for e in asset_payloads(deployment, asset)] == [first]
    # That version under a delivery id of its own is recorded.
    assert send(*signed_delivery(secret, version_created("wh_dedup", second)))["status"] == (
        "recorded"
    )
    assert [e["payload"]["version"] for e in asset_payloads(deployment, asset)] == [first, second]


def watch_cursor(deployment: AirflowDeployment, asset: int) -> dict[str, Any] | None:
    """The polling watch's stored cursor on ``asset`` (Airflow 3.3 state store), or None."""
    entries = deployment.rest("GET", f"assets/{asset}/state-store")["asset_state_store"]
    cursors = [e for e in entries if e["key"].startswith("mlflow_registry_event_cursor:")]
    return cursors[0]["value"] if cursors else None


def events_by_version(deployment: AirflowDeployment, asset: int) -> dict[str, list[str]]:
    """For each version with a ``new_version`` event, the paths that recorded one."""
    found: dict[str, list[str]] = {}
    for extra in asset_payloads(deployment, asset):
        if extra["payload"]["event"] == "new_version":
            path = "webhook" if extra.get("from_webhook") else "poll"
            found.setdefault(extra["payload"]["version"], []).append(path)
    return found


def settled(
    deployment: AirflowDeployment, asset: int, versions: int
) -> dict[str, list[str]] | None:
    """The events once every version has one and the watch's stored watermark has passed the
    last: the poll has handled each version (it stores its cursor 3 s after the events it
    yielded, which the triggerer has recorded by then)."""
    cursor = watch_cursor(deployment, asset) or {}
    found = events_by_version(deployment, asset)
    if len(found) < versions or int(cursor.get("version") or 0) < versions:
        return None
    return found


def test_both_paths_on_give_one_event_per_version_and_both_contribute(stack: WebhookStack) -> None:
    deployment, client = stack.deployment, stack.client()
    asset = asset_id(deployment, model_asset(CONN_ID, "wh_both").uri)
    deployment.wait_for(lambda: watch_cursor(deployment, asset), "the watch's first poll")
    client.create_registered_model("wh_both")
    for _ in range(5):
        stack.new_version("wh_both")
    found = deployment.wait_for(lambda: settled(deployment, asset, 5), "5 versions settled")
    # With the webhook disabled, further versions reach Airflow through the watch alone; MLflow
    # may use its cached webhook list for a second, so versions are made one at a time until
    # one arrives by the poll.
    stack.set_webhook_status("DISABLED")
    try:
        for count in range(6, 11):
            stack.new_version("wh_both")
            found = deployment.wait_for(
                lambda c=count: settled(deployment, asset, c), f"{count} versions settled"
            )
            if found[str(count)] == ["poll"]:
                break
    finally:
        stack.set_webhook_status("ACTIVE")
    print(f"both paths: {found}")
    assert sorted(found, key=int) == [str(v) for v in range(1, count + 1)]
    assert {version: len(paths) for version, paths in found.items() if len(paths) != 1} == {}
    assert found[str(count)] == ["poll"]
    assert "webhook" in {found[str(v)][0] for v in range(1, 6)}
    # Airflow 3.3.2 may leave events of a burst on one asset without a run until the asset's
    # next event (the scheduler deletes the asset's queue row after a run consumed only the
    # earlier ones), so not every version need be in a run: none may be in two.
    runs_by_version = deployment.wait_for(
        lambda: versions_in_runs(deployment, "wh_both"), "the runs of wh_both to end"
    )
    print(f"both paths: versions in runs {runs_by_version}")
    assert runs_by_version
    assert {v: runs for v, runs in runs_by_version.items() if len(runs) != 1} == {}


def versions_in_runs(deployment: AirflowDeployment, dag_id: str) -> dict[str, list[str]] | None:
    """For each version, the runs of ``dag_id`` whose triggering events name it, once no run
    is queued or running (None before; also while Airflow answers the listing with 500, see
    :func:`~tests.support.webhook_stack.asset_payloads`)."""
    found: dict[str, list[str]] = {}
    for run in dag_runs(deployment, dag_id):
        if run["state"] in ("queued", "running"):
            return None
        path = f"{deployment.url}/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}"
        response = deployment.api().get(f"{path}/upstreamAssetEvents", timeout=60)
        if not response.ok:
            return None
        for event in response.json()["asset_events"]:
            found.setdefault(event["extra"]["payload"]["version"], []).append(run["dag_run_id"])
    return found or None


def test_polling_watch_emits_versions_made_while_the_api_server_was_down(
    stack: WebhookStack,
) -> None:
    deployment, client = stack.deployment, stack.client()
    asset = asset_id(deployment, model_asset(CONN_ID, "wh_reconcile").uri)
    deployment.wait_for(lambda: watch_cursor(deployment, asset), "the watch's first poll")
    client.create_registered_model("wh_reconcile")
    failures_before = stack.server.log_path.read_text().count("Failed to send webhook")
    deployment.services.stop("api-server")
    try:
        for _ in range(3):
            stack.new_version("wh_reconcile")
        # Each delivery is retried, then given up: MLflow logs one failure per version.
        deployment.wait_for(
            lambda: (
                stack.server.log_path.read_text().count("Failed to send webhook")
                >= failures_before + 3
            ),
            "MLflow to give up 3 deliveries",
        )
    finally:
        deployment.services.start("api-server")
    deployment.wait_for(
        lambda: requests.get(f"{deployment.url}/api/v2/version", timeout=5).ok,
        "the api-server to answer again",
    )
    found = deployment.wait_for(lambda: settled(deployment, asset, 3), "3 versions settled")
    assert found == {"1": ["poll"], "2": ["poll"], "3": ["poll"]}


def test_cli_deletes_the_webhook(stack: WebhookStack) -> None:
    webhook_id = stack.webhook["webhook_id"]
    deleted = stack.cli("webhooks", "delete", webhook_id, "--json")
    assert json.loads(deleted.stdout) == {"webhook_id": webhook_id, "deleted": True}
    listed = json.loads(stack.cli("webhooks", "list", "--json").stdout)
    assert webhook_id not in [webhook["webhook_id"] for webhook in listed]
