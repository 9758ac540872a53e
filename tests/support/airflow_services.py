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

"""A real Airflow deployment for tests: api-server, scheduler and dag-processor processes
(LocalExecutor, SQLite metadata DB, free ports) in a temporary ``AIRFLOW_HOME``."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_SERVICES = ("api-server", "scheduler", "dag-processor")


class AirflowServices:
    """Airflow's three long-running services for ``dags_folder``, each in its own process
    group, logging to ``home/<service>.log``. ``connections`` maps conn ids to their
    ``AIRFLOW_CONN_*`` values; ``settings`` are further environment variables (``AIRFLOW__*``
    options), applied last. ``start()`` migrates the DB first; ``stop()`` kills every group.
    Services can be started and stopped one by one (a restarted one appends to its log).
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        connections: dict[str, str],
        settings: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.api_port = find_unused_port()
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            # Four processes share one SQLite file: wait for locks instead of failing.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db?timeout=60",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                f"http://127.0.0.1:{self.api_port}/execution/"
            ),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(find_unused_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            **{f"AIRFLOW_CONN_{conn_id.upper()}": value for conn_id, value in connections.items()},
            **(settings or {}),
        }
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._migrated = False

    def cli(self, *args: str, timeout: float = 180) -> str:
        """Run ``airflow <args>`` against this deployment; return stdout, raise on failure."""
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self, *services: str) -> None:
        """Launch ``services`` (default: all three) that are not running, without waiting for
        them; the first call migrates the metadata DB."""
        if not self._migrated:
            self.home.mkdir(parents=True, exist_ok=True)
            self.cli("db", "migrate")
            self._migrated = True
        for service in services or _SERVICES:
            if service in self._processes:
                continue
            with (self.home / f"{service}.log").open("ab") as log:
                self._processes[service] = subprocess.Popen(
                    [sys.executable, "-m", "airflow", service],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def stop(self, *services: str) -> None:
        """Stop ``services`` (default: all running ones): SIGTERM to each process group, SIGKILL
        after 10 s."""
        stopping = {
            name: process
            for name, process in self._processes.items()
            if not services or name in services
        }
        for process in stopping.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name, process in stopping.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            del self._processes[name]

    def kill(self, service: str) -> None:
        """SIGKILL ``service``'s process group (a crash: nothing is flushed or cleaned up)."""
        process = self._processes.pop(service)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run on the metadata DB (SQLite)."""
        with sqlite3.connect(self.home / "airflow.db", timeout=60) as db:
            return list(db.execute(sql))

    def trigger_payloads(self, model_name: str) -> list[dict[str, Any]]:
        """Payloads of the asset events that triggers emitted for ``model_name``, oldest
        first."""
        rows = self.query("SELECT extra FROM asset_event ORDER BY id")
        extras = [json.loads(extra) if isinstance(extra, str) else extra for (extra,) in rows]
        payloads = [extra["payload"] for extra in extras if extra.get("from_trigger")]
        return [payload for payload in payloads if payload.get("model_name") == model_name]

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's runs as ``airflow dags list-runs`` reports them."""
        output = self.cli("dags", "list-runs", dag_id, "-o", "json")
        # Log lines can precede the JSON on stdout; the JSON is the line that starts with '['.
        rows = [line for line in output.splitlines() if line.startswith(("[{", "[]"))]
        return list(json.loads(rows[-1])) if rows else []

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Block until the dag-processor has written ``dag_id`` to the metadata DB."""
        deadline = time.monotonic() + timeout
        while dag_id not in self.cli("dags", "list", "-o", "plain"):
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG {dag_id} not parsed within {timeout} s{self.log_tails()}")
            time.sleep(2)

    def wait_for_runs(
        self, dag_id: str, run_id_prefix: str, count: int, after: float, timeout: float = 240
    ) -> dict[str, str]:
        """Block until ``count`` runs whose id starts with ``run_id_prefix`` have ended after
        ``after`` (epoch seconds); return run id to state."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            runs = [r for r in self.dag_runs(dag_id) if r["run_id"].startswith(run_id_prefix)]
            done = {
                run["run_id"]: run["state"]
                for run in runs
                if run["state"] in ("success", "failed") and _ended_after(run, after)
            }
            if len(done) >= count:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)}/{count} runs finished: {runs}{self.log_tails()}")
            time.sleep(3)

    def wait_for(
        self, condition: Callable[[], Any], what: str, timeout: float = 240, interval: float = 2
    ) -> Any:
        """Poll ``condition`` every ``interval`` seconds until it returns something truthy;
        return that.

        :raises TimeoutError: after ``timeout`` seconds, naming ``what``, with the last 30 lines
            of each service log.
        :raises RuntimeError: when a running service has exited.
        """
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached in {timeout} s{self.log_tails(30)}")
            time.sleep(interval)
        return result

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of each service log, for failure messages."""
        tails = []
        for service in dict.fromkeys((*_SERVICES, *self._processes)):
            path = self.home / f"{service}.log"
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"\n--- {service}.log\n" + "\n".join(text))
        return "".join(tails)

    def _check_alive(self) -> None:
        for service, process in self._processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"airflow {service} exited ({process.returncode}){self.log_tails()}"
                )


def _ended_after(run: dict[str, Any], after: float) -> bool:
    import pendulum

    end_date = run.get("end_date")
    return bool(end_date) and pendulum.parse(end_date).timestamp() > after  # type: ignore[union-attr]
