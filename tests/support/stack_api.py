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

"""Talk to a running stack (``tests.support.stack``) the way an operator of it would: Airflow's
REST API as the admin user, its metadata DB for task-instance history, and MLflow's REST API
as the MLflow admin (plain ``requests``: independent of the provider under test)."""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING, Any

import requests

from tests.support.stack import REPO_ROOT, StackState

if TYPE_CHECKING:
    from pathlib import Path

_FINISHED = ("success", "failed")


class StackApi:
    """Clients for the stack recorded under ``root``; reload with :meth:`refresh` after a
    service was restarted (its process id changes)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = StackState.load(root)
        self._token: str | None = None

    def refresh(self) -> None:
        self.state = StackState.load(self.root)

    def script(self, *args: str, timeout: float = 600) -> None:
        """Run ``bash .ci/stack.sh <args> --dir <root>``; raise with its output on failure."""
        result = subprocess.run(
            ["bash", str(REPO_ROOT / ".ci" / "stack.sh"), *args, "--dir", str(self.root)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{result.stderr[-4000:]}")
        self.refresh()

    # --- Airflow ------------------------------------------------------------------------

    def airflow(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2/<path>`` as the admin; return the JSON answer, raise on an error."""
        if self._token is None:
            response = requests.post(
                f"{self.state.airflow_url}/auth/token",
                json={"username": "admin", "password": self.state.airflow_admin_password},
                timeout=60,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        response = requests.request(
            method,
            f"{self.state.airflow_url}/api/v2/{path}",
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=60,
            **kwargs,
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 300, *, paused: bool = False) -> None:
        """Block until the dag-processor has parsed ``dag_id``; then unpause it (or, with
        ``paused``, leave it paused)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.airflow("PATCH", f"dags/{dag_id}", json={"is_paused": paused})
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Start a manual run of ``dag_id`` (no logical date); return its run id."""
        body = {"logical_date": None, "conf": conf or {}}
        return str(self.airflow("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def wait_for_first_run(self, dag_id: str, timeout: float = 300) -> str:
        """Block until ``dag_id`` has a run (started by the scheduler); return its run id."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.airflow("GET", f"dags/{dag_id}/dagRuns")["dag_runs"]
            if runs:
                return str(runs[0]["dag_run_id"])
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} has no run after {timeout:.0f} s")
            time.sleep(2)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 420) -> str:
        """Block until the run ends; return its state (``success`` or ``failed``)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.airflow("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in _FINISHED:
                return str(state)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} still {state} after {timeout:.0f} s")
            time.sleep(2)

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        """The ``return_value`` XCom of one task instance, deserialized."""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        entry = self.airflow("GET", path, params={"map_index": map_index, "deserialize": True})
        return entry["value"]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on Airflow's metadata DB."""
        import psycopg

        url = self.state.airflow_db_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as connection:
            return connection.execute(sql, params).fetchall()

    def task_attempts(self, dag_id: str) -> list[tuple[str, int, int, str, str]]:
        """Every attempt of every task instance of ``dag_id``, past tries included: rows of
        ``(run_id, map_index, try_number, state, hostname)``."""
        columns = "run_id, map_index, try_number, state, coalesce(hostname, '')"
        return [
            (str(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[4]))
            for r in self.query(
                f"SELECT {columns} FROM task_instance WHERE dag_id = %s "
                f"UNION ALL SELECT {columns} FROM task_instance_history WHERE dag_id = %s",
                dag_id,
                dag_id,
            )
        ]

    def s3_object_keys(self, endpoint: str, bucket: str) -> list[str]:
        """Every object key in ``bucket`` on the stack's S3 endpoint ``endpoint``, listed with
        that endpoint's own keys."""
        from tests.support.s3_server import object_keys, s3_client

        keys = self.state.s3_endpoints[endpoint]
        client = s3_client(keys["url"], keys["access_key_id"], keys["secret_access_key"])
        return object_keys(client, bucket)

    # --- MLflow -------------------------------------------------------------------------

    def mlflow(
        self,
        method: str,
        endpoint: str,
        *,
        user: str = "admin",
        server: str = "mlflow",
        **kwargs: Any,
    ) -> Any:
        """Call ``/api/2.0/mlflow/<endpoint>`` of MLflow server ``server`` (see
        ``MLFLOW_SERVERS``; all have the same users) as the MLflow ``user`` (``admin``, or
        ``airflow``: the user of Airflow's ``mlflow`` connections); return the JSON answer."""
        passwords = {
            "admin": self.state.mlflow_admin_password,
            "airflow": self.state.mlflow_airflow_password,
        }
        response = requests.request(
            method,
            f"{self.state.mlflow_server_url(server)}/api/2.0/mlflow/{endpoint}",
            auth=(user, passwords[user]),
            timeout=60,
            **kwargs,
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {endpoint} answered {response.status_code}")
        return response.json()

    def model_versions(self, model_name: str, server: str = "mlflow") -> list[dict[str, Any]]:
        """Every version of ``model_name`` on MLflow server ``server`` (all pages), tags as a
        dict."""
        versions: list[dict[str, Any]] = []
        page_token = None
        while True:
            params = {"filter": f"name = '{model_name}'", "max_results": 200}
            if page_token:
                params["page_token"] = page_token
            answer = self.mlflow("GET", "model-versions/search", params=params, server=server)
            for version in answer.get("model_versions", []):
                version["tags"] = {t["key"]: t["value"] for t in version.get("tags", [])}
                versions.append(version)
            page_token = answer.get("next_page_token")
            if not page_token:
                return versions

    def aliases(self, model_name: str, server: str = "mlflow") -> dict[str, str]:
        """Alias to version of ``model_name`` on MLflow server ``server``."""
        model = self.mlflow(
            "GET", "registered-models/get", params={"name": model_name}, server=server
        )
        return {a["alias"]: a["version"] for a in model["registered_model"].get("aliases", [])}
