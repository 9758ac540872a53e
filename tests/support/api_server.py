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

"""A real ``airflow api-server`` (the UI and the REST API) from any venv's Python, with a fresh
SQLite metadata DB, no login (the simple auth manager with everyone an admin) and connection
testing enabled."""

from __future__ import annotations

import os
import secrets
import subprocess
from typing import TYPE_CHECKING

import requests

from tests.support.processes import ServerProcess
from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from pathlib import Path


class ApiServer:
    """``python -m airflow api-server`` on 127.0.0.1 in its own process group.

    ``python`` is the interpreter of the venv whose Airflow (and installed provider) runs;
    ``home`` becomes ``AIRFLOW_HOME``. ``start()`` migrates the DB and waits until the server
    answers; ``stop()`` kills the group. ``url`` is the UI's base URL; ``cli()`` runs the same
    Airflow's command line against the same DB.
    """

    def __init__(self, python: str, home: Path) -> None:
        self.python = python
        self.home = home
        self.port = find_unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "api-server.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW_", "AIRFLOW__", "PYTEST", "VIRTUAL_ENV"))
        }
        self.env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            }
        )
        self._server = ServerProcess("api-server", self.log_path)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` with this server's settings; return the finished process."""
        return subprocess.run(
            [self.python, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=self.home,
        )

    def api(self) -> requests.Session:
        """A session for the REST API, with the token the simple auth manager hands to
        everyone when all users are admins (Airflow 3.0 requires it; 3.3 does not)."""
        session = requests.Session()
        response = session.get(f"{self.url}/auth/token", timeout=30)
        if response.ok:
            session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return session

    def start(self, timeout: float = 240) -> None:
        """Migrate the DB, launch the server, and block until its UI answers.

        :raises RuntimeError: with the log tail, if migration fails, the server exits or it
            does not answer within ``timeout`` seconds.
        """
        (self.home / "dags").mkdir(parents=True, exist_ok=True)
        migrated = self.cli("db", "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stderr[-3000:]}")
        self._server.launch(
            [self.python, "-m", "airflow", "api-server", "--port", str(self.port)],
            self._answers,
            env=self.env,
            cwd=self.home,
            timeout=timeout,
            interval=1,
        )

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 10 s. Safe to call twice."""
        self._server.stop()

    def tail(self) -> str:
        """The end of the server log, for failure messages."""
        return self._server.tail()

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/v2/version", timeout=5).status_code == 200
        except requests.RequestException:
            return False
