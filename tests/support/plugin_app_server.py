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

"""Airflow plugins' FastAPI apps, mounted by Airflow's own code and served by a real uvicorn.

The api-server mounts each plugin's ``fastapi_apps`` entry with
``airflow.api_fastapi.app.init_plugins``; :class:`PluginAppServer` runs exactly that in a
separate process of any venv's Python, on a fresh FastAPI app served by uvicorn on 127.0.0.1,
without the rest of the api-server (its UI, its REST API, its start-up cost). Run as
``python -m tests.support.plugin_app_server PORT`` from the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from tests.support.processes import ServerProcess, StartedOnEnter
from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from collections.abc import Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]


class PluginAppServer(StartedOnEnter):
    """The plugin apps of the Airflow beside ``python``, served on ``url`` while in a ``with``
    block. ``env`` is the whole environment of the server process (Airflow's settings, its
    connections and variables); its output goes to ``log_path``."""

    def __init__(self, python: str, env: Mapping[str, str], log_path: Path) -> None:
        self.python = python
        self.env = dict(env)
        self.log_path = log_path
        self.port = find_unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ServerProcess("plugin app server", self.log_path)

    def start(self, timeout: float = 180) -> None:
        """Launch the server and block until it answers HTTP.

        :raises RuntimeError: with the log's tail, if the process exits or does not answer
            within ``timeout`` seconds.
        """
        self._server.launch(
            [self.python, "-m", "tests.support.plugin_app_server", str(self.port)],
            self._answers,
            env=self.env,
            cwd=REPO_ROOT,
            timeout=timeout,
        )

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 10 s. Safe to call twice."""
        self._server.stop()

    def log_tail(self) -> str:
        """The end of the server's output, for failure messages."""
        return self._server.tail()

    def _answers(self) -> bool:
        try:
            requests.get(f"{self.url}/", timeout=5)
        except requests.RequestException:
            return False
        return True


def serve(port: int) -> None:
    """Mount the plugins' FastAPI apps as the api-server does and serve them on ``port``."""
    import uvicorn
    from airflow.api_fastapi.app import init_plugins
    from fastapi import FastAPI

    app = FastAPI()
    init_plugins(app)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")


if __name__ == "__main__":
    serve(int(sys.argv[1]))
