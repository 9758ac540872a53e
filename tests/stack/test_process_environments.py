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

"""Credentials and database access of the stack's processes: no process the stack starts
has an ``MLFLOW_TRACKING_*`` variable (the hook's client takes its credentials from the
Airflow connection; only ``mlflow server`` hands its own workers ``MLFLOW_TRACKING_URI``, its
backend store) and none has MLflow credentials in its environment; the Celery workers get
neither the metadata DB's address nor the Fernet key (their task processes read connections
through the api-server)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from tests.support.stack import MLFLOW_SERVERS, WORKERS

if TYPE_CHECKING:
    from tests.support.stack_api import StackApi

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]


def stack_process_environments(stack: StackApi) -> dict[str, set[str]]:
    """``pid: command line`` to the environment variable names of every running process of
    the stack (each service's process group, children such as Celery's pool included)."""
    groups = set(stack.state.pids.values())
    environments = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(process.pid) in groups:
                command = " ".join(process.info["cmdline"] or [])
                environments[f"{process.pid}: {command}"] = set(process.environ())
        except (psutil.Error, ProcessLookupError):
            continue
    return environments


def _in_group(command: str, pgid: int) -> bool:
    pid = int(command.split(":", 1)[0])
    try:
        return os.getpgid(pid) == pgid
    except ProcessLookupError:
        return False


def test_no_stack_process_has_mlflow_tracking_variables_and_workers_have_no_metadata_db(
    stack: StackApi,
) -> None:
    environments = stack_process_environments(stack)
    commands = " ".join(environments)
    for service in ("mlflow server", "celery worker", "scheduler", "triggerer", "api_server"):
        assert service in commands
    # Each `mlflow server` hands its uvicorn workers MLFLOW_TRACKING_URI (its own backend
    # store, no credentials): the server's children are held to "no credentials" only.
    server_children = {
        c
        for c in environments
        for server in MLFLOW_SERVERS
        if "mlflow server" not in c and _in_group(c, stack.state.pids[server])
    }
    leaked = {
        command: sorted(name for name in names if name.startswith("MLFLOW_TRACKING_"))
        for command, names in environments.items()
        if command not in server_children
        and any(name.startswith("MLFLOW_TRACKING_") for name in names)
    }
    assert leaked == {}
    credentials = {f"MLFLOW_TRACKING_{part}" for part in ("USERNAME", "PASSWORD", "TOKEN")}
    assert all(not (names & credentials) for names in environments.values())

    workers = {c: names for c, names in environments.items() if "celery worker" in c}
    assert len(workers) >= len(WORKERS)
    for names in workers.values():
        assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in names
        assert "AIRFLOW__CORE__FERNET_KEY" not in names
    # Only the command line's audit logger opens the default SQLite file of a worker's own
    # AIRFLOW_HOME; it holds no table, so no metadata ever went there.
    for worker in WORKERS:
        default_db = Path(stack.state.root) / "airflow" / worker / "airflow.db"
        if default_db.exists():
            with sqlite3.connect(default_db) as connection:
                assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []
