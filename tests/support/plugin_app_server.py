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

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[2]


class PluginAppServer:
    """The plugin apps of the Airflow beside ``python``, served on ``url`` while in a ``with``
    block. ``env`` is the whole environment of the server process (Airflow's settings, its
    connections and variables); its output goes to ``log_path``."""

    def __init__(self, python: str, env: Mapping[str, str], log_path: Path) -> None:
        self.python = python
        self.env = dict(env)
        self.log_path = log_path
        self.port = find_unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> None:
        """Launch the server and block until it answers HTTP.

        :raises RuntimeError: with the log's tail, if the process exits or does not answer
            within ``timeout`` seconds.
        """
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.python, "-m", "tests.support.plugin_app_server", str(self.port)],
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None:
                raise RuntimeError(f"exited ({self._process.returncode}){self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"did not answer within {timeout} s{self.log_tail()}")
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 10 s. Safe to call twice."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None

    def log_tail(self, characters: int = 3000) -> str:
        """The end of the server's output, prefixed with a newline."""
        return "\n" + self.log_path.read_text(errors="replace")[-characters:]

    def __enter__(self) -> PluginAppServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

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
