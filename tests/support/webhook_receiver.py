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

"""MLflow webhook deliveries for tests: signed as MLflow signs them, sent to the receiver served
by a real uvicorn process.

- :func:`signed_delivery` builds a body and the headers of MLflow 3.17's own delivery code
  (``mlflow/webhooks/delivery.py``); :func:`version_created` and :func:`alias_created` are the
  payloads of the two events that become asset events.
- :class:`ReceiverServer` serves the receiver's FastAPI app
  (``airflow_mlflow_registry.webhooks.receiver:create_app``) with ``uvicorn`` on 127.0.0.1, in
  its own process, with this test session's Airflow settings (its metadata DB) plus the given
  environment (``AIRFLOW_VAR_*`` secrets, ``AIRFLOW_CONN_*`` connections). Its secrets backend
  is :class:`CountingSecretsBackend`, configured the Airflow way (``[secrets] backend``), so a
  test can count the variable look-ups the receiver makes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import requests
from airflow.secrets import BaseSecretsBackend

from tests.support.processes import ServerProcess
from tests.support.silent_server import find_unused_port

REPO_ROOT = Path(__file__).resolve().parents[2]


class CountingSecretsBackend(BaseSecretsBackend):
    """A secrets backend that defines nothing and appends each variable key it is asked for to
    the file ``log_path`` (one line each), so the look-ups of another process can be counted.
    Airflow then asks its next backends (environment variables, the metadata DB)."""

    def __init__(self, log_path: str) -> None:
        super().__init__()
        self.log_path = log_path

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        return None

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        with open(self.log_path, "a") as lookups:
            lookups.write(key + "\n")
        return None


class ReceiverServer:
    """The webhook receiver app under ``uvicorn`` on 127.0.0.1 (see the module documentation).

    ``start()`` waits until it answers; ``stop()`` ends its process group. ``url`` is the
    receiver's base (``<url>/<conn-id>`` receives); ``log_path`` holds its output;
    :meth:`variable_lookups` lists the variable keys its secrets backend was asked for.
    """

    def __init__(self, root: Path, environment: dict[str, str]) -> None:
        self.root = root
        self.port = find_unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "receiver.log"
        self.lookups_path = root / "variable-lookups.txt"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
            "AIRFLOW__SECRETS__BACKEND": f"{__name__}.{CountingSecretsBackend.__name__}",
            "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"log_path": str(self.lookups_path)}),
            **environment,
        }
        self._server = ServerProcess("the receiver", self.log_path)

    def start(self, timeout: float = 120) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.lookups_path.touch()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "airflow_mlflow_registry.webhooks.receiver:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self._server.launch(command, self._answers, env=self.env, cwd=REPO_ROOT, timeout=timeout)

    def stop(self) -> None:
        """End the receiver's process group. Safe to call twice."""
        self._server.stop(grace=30)

    def _answers(self) -> bool:
        try:
            requests.get(self.url, timeout=5)
        except requests.ConnectionError:
            return False
        return True

    def post(self, conn_id: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        """POST one delivery to connection ``conn_id``'s receiver URL."""
        return requests.post(f"{self.url}/{conn_id}", data=body, headers=headers, timeout=60)

    def log(self) -> str:
        """Everything the receiver process printed so far."""
        return self.log_path.read_text(errors="replace")

    def variable_lookups(self) -> list[str]:
        """The variable keys the receiver's secrets backend was asked for, in order."""
        return self.lookups_path.read_text().splitlines()
