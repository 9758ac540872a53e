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

"""MLflow webhooks delivered to a real Airflow deployment, for the end-to-end tests and
``benchmarks/webhook_latency.py``.

:class:`WebhookStack` starts an ``mlflow server`` (SQLite store, so webhooks work) that may
deliver to private addresses and over http (``MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS``,
``MLFLOW_WEBHOOK_ALLOWED_SCHEMES``), re-reads its webhook list every second
(``MLFLOW_WEBHOOK_CACHE_TTL=1``) and trusts a private CA, plus a TLS-terminating proxy with a
certificate of that CA in front of the deployment's api-server. MLflow's delivery ignores
``REQUESTS_CA_BUNDLE`` (its session has ``trust_env = False``) and verifies against the
``certifi`` bundle only, so the server process gets a ``sitecustomize`` that points
``certifi.where()`` at certifi's bundle plus the test CA: what adding a private CA to the
MLflow server's Python environment does in production.

It adds an ``mlflow`` connection ``conn_id`` to the deployment (REST API) and creates the
webhook with the provider's own CLI (``airflow-mlflow-registry webhooks create``) in the
deployment's environment, so the secret lands in the deployment's metadata DB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any

from tests.support.certs import make_tls_certs
from tests.support.mlflow_server import MlflowServer
from tests.support.tls_proxy import TlsTerminatingProxy

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow import MlflowClient

    from tests.support.airflow_deployment import AirflowDeployment

RECEIVER_PATH = "/mlflow-registry/webhooks"

_SITECUSTOMIZE = """
import os

_bundle = os.environ.get("WEBHOOK_TEST_CA_BUNDLE")
if _bundle:
    import certifi

    certifi.where = lambda: _bundle
"""


class WebhookStack:
    """An MLflow server delivering webhooks to ``deployment`` through HTTPS (see the module
    documentation). ``start()`` blocks until the webhook exists; ``stop()`` stops the server
    and the proxy (the deployment is the caller's)."""

    def __init__(self, root: Path, deployment: AirflowDeployment, conn_id: str) -> None:
        import certifi

        self.root = root
        self.deployment = deployment
        self.conn_id = conn_id
        self.certs = make_tls_certs(root / "certs")
        site = root / "site"
        site.mkdir(parents=True, exist_ok=True)
        (site / "sitecustomize.py").write_text(textwrap.dedent(_SITECUSTOMIZE))
        bundle = root / "ca-bundle.pem"
        bundle.write_text(
            open(certifi.where()).read() + "\n" + self.certs.ca_pem.read_text()  # noqa: SIM115
        )
        self.server = MlflowServer(
            root / "mlflow",
            environment={
                "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
                "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
                "MLFLOW_WEBHOOK_CACHE_TTL": "1",
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p
                ),
                "WEBHOOK_TEST_CA_BUNDLE": str(bundle),
            },
        )
        self.proxy = TlsTerminatingProxy(deployment.url, self.certs)
        self.receiver_url = f"{self.proxy.url}{RECEIVER_PATH}/{conn_id}"
        self.webhook: dict[str, Any] = {}
        #: The finished ``webhooks create`` process (its stdout and stderr).
        self.created: subprocess.CompletedProcess[str] | None = None
        self._run_id: str | None = None

    def start(self) -> None:
        """Start the server and the proxy, add the connection, create the webhook."""
        (self.root / "mlflow").mkdir(parents=True, exist_ok=True)
        self.server.start()
        self.proxy.start()
        self.server.wait_until_ready()
        self.deployment.rest(
            "POST",
            "connections",
            json={"connection_id": self.conn_id, "conn_type": "mlflow", "host": self.server.url},
        )
        self.created = self.cli("webhooks", "create", "--url", self.receiver_url, "--json")
        self.webhook = json.loads(self.created.stdout)

    def stop(self) -> None:
        self.proxy.stop()
        self.server.stop()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``airflow-mlflow-registry <args> --conn-id <conn_id>`` in the deployment's
        environment (its metadata DB)."""
        result = subprocess.run(
            [sys.executable, "-m", "airflow_mlflow_registry", *args, "--conn-id", self.conn_id],
            env=self.deployment.services.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check:
            assert result.returncode == 0, f"{args}: {result.stdout} {result.stderr}"
        return result

    def secret(self, conn_id: str | None = None) -> str:
        """The webhook secret of ``conn_id`` (default: the stack's connection) as stored in the
        deployment (``airflow variables get``)."""
        from airflow_mlflow_registry.webhooks.shared_secret import secret_variable_key

        key = secret_variable_key(conn_id or self.conn_id)
        output = self.deployment.services.cli("variables", "get", key)
        return output.strip().splitlines()[-1]

    def add_connection(self, conn_id: str, secret: str) -> None:
        """Add ``mlflow`` connection ``conn_id`` to this server, with webhook secret ``secret``
        in the deployment; no MLflow webhook delivers to it."""
        from airflow_mlflow_registry.webhooks.shared_secret import secret_variable_key

        self.deployment.rest(
            "POST",
            "connections",
            json={"connection_id": conn_id, "conn_type": "mlflow", "host": self.server.url},
        )
        self.deployment.services.cli("variables", "set", secret_variable_key(conn_id), secret)

    def set_webhook_status(self, status: str) -> None:
        """Set the webhook ``ACTIVE`` or ``DISABLED`` in MLflow."""
        self.client().update_webhook(self.webhook["webhook_id"], status=status)

    def client(self) -> MlflowClient:
        """A plain ``MlflowClient`` of the server (what a notebook or CI job uses)."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.server.url, registry_uri=self.server.url)

    def new_version(self, model: str) -> str:
        """Register a new version of ``model`` with one ``create_model_version`` request (its
        source a run made once); return its number."""
        client = self.client()
        if self._run_id is None:
            experiment = client.create_experiment(f"webhooks-{self.conn_id}")
            self._run_id = client.create_run(experiment).info.run_id
        source = f"runs:/{self._run_id}/model"
        return str(client.create_model_version(model, source, run_id=self._run_id).version)


def asset_id(deployment: AirflowDeployment, uri: str) -> int:
    """The id of the asset with ``uri`` (it must exist: a parsed DAG declares it)."""
    assets = deployment.rest("GET", "assets", params={"uri_pattern": uri, "limit": 100})["assets"]
    [found] = [a for a in assets if a["uri"] == uri]
    return int(found["id"])


def asset_payloads(deployment: AirflowDeployment, asset: int) -> list[dict[str, Any]]:
    """``extra`` of every event of asset ``asset``, oldest first.

    Airflow 3.3.2 answers this listing with 500 while a DAG run an event created has no
    ``start_date`` yet (``AssetEventResponse`` requires one): asked again until it answers."""

    def listing() -> list[dict[str, Any]] | None:
        response = deployment.api().get(
            f"{deployment.url}/api/v2/assets/events",
            params={"asset_id": asset, "limit": 1000},
            timeout=60,
        )
        if response.status_code == 500:
            return None
        assert response.ok, f"GET assets/events: {response.status_code} {response.text}"
        return list(response.json()["asset_events"]) or [{}]

    events = [e for e in deployment.wait_for(listing, "the asset events", 120) if e]
    return [event["extra"] for event in sorted(events, key=lambda event: event["id"])]


def dag_runs(deployment: AirflowDeployment, dag_id: str) -> list[dict[str, Any]]:
    """Every run of ``dag_id``, oldest first."""
    return list(
        deployment.rest("GET", f"dags/{dag_id}/dagRuns", params={"limit": 1000, "order_by": "id"})[
            "dag_runs"
        ]
    )


def time_to_run(
    deployment: AirflowDeployment, dag_id: str, change: Any, timeout: float = 240
) -> float:
    """Make one registry change (``change()``), wait for the next run of ``dag_id``; return
    seconds from just before the change's request to the run's creation (``queued_at``)."""
    from datetime import datetime

    before = len(dag_runs(deployment, dag_id))
    started = time.time()
    change()

    def new_run() -> dict[str, Any] | None:
        runs = dag_runs(deployment, dag_id)
        return runs[before] if len(runs) > before else None

    run = _poll(new_run, timeout, f"a run of {dag_id}", deployment)
    created = datetime.fromisoformat(run["queued_at"]).timestamp()
    return created - started


def _poll(condition: Any, timeout: float, what: str, deployment: AirflowDeployment) -> Any:
    """Like ``deployment.wait_for`` but every 0.2 s: the latency figures need a fine wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{deployment.services.log_tails()}")
