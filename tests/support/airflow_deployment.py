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

"""One real Airflow deployment shared by the end-to-end tests of a session.

The fixture ``airflow_deployment`` (session scope; registered for every test through
``pytest_plugins`` in ``tests/conftest.py``) starts, once, the four long-running services of
:class:`~tests.support.airflow_services.AirflowServices` -- api-server, scheduler,
dag-processor and triggerer -- with LocalExecutor and a SQLite metadata DB in a temporary
``AIRFLOW_HOME``, and stops them all at the end of the session. What a test gets:

- ``mlflow_default`` is the session's ``mlflow_server`` (an ``AIRFLOW_CONN_*`` variable);
  other connections can be added through the REST API (:meth:`AirflowDeployment.api`).
- Logins of the simple auth manager: ``admin`` (role admin) and ``reviewer`` (role user),
  passwords in :data:`PASSWORDS`; :meth:`AirflowDeployment.api` returns a REST session
  logged in as one of them, :meth:`AirflowDeployment.log_in` signs a browser page in to the
  UI, ``url`` is the UI (``[api] base_url``).
- DAG files are added while it runs: :meth:`AirflowDeployment.add_dag` copies a file into the
  dags folder and waits until the dag-processor has parsed it. DAGs are unpaused at creation,
  so a test triggers runs right away (:meth:`AirflowDeployment.trigger`). Use DAG ids (and
  model names) of your own: the deployment, its DB and the MLflow server are shared.
- Waiting helpers that poll the REST API and fail with the services' log tails:
  :meth:`~AirflowDeployment.wait_for_task`, :meth:`~AirflowDeployment.wait_for_run`.

Starting it costs about a minute on two busy cores, once per session; a test module that needs
it only pays when selected (the fixture is lazy).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.support.airflow_env import SIGNING_SECRET, connection_json
from tests.support.airflow_services import AirflowServices
from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator
    from pathlib import Path

    from playwright.sync_api import Page

    from tests.support.mlflow_server import MlflowServer

#: Logins of the deployment's simple auth manager, and their roles.
USERS = {"admin": "admin", "reviewer": "user"}
PASSWORDS = {"admin": "admin-password", "reviewer": "reviewer-password"}
FINISHED = ("success", "failed", "skipped", "upstream_failed", "removed")


class AirflowDeployment:
    """Airflow's four services on free ports under ``home``; ``mlflow_url`` is the tracking URI
    of ``mlflow_default``. ``start()`` blocks until the REST API answers."""

    def __init__(self, home: Path, mlflow_url: str) -> None:
        self.home = home
        self.dags_folder = home / "dags"
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.passwords_file = home / "passwords.json"
        self.services = AirflowServices(
            home,
            self.dags_folder,
            {"mlflow_default": connection_json(mlflow_url)},
            settings={
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                    f"{user}:{role}" for user, role in USERS.items()
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET": SIGNING_SECRET,
                # The triggerer's log server, on a port no other deployment uses.
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(find_unused_port()),
            },
        )
        self.url = f"http://127.0.0.1:{self.services.api_port}"
        self.services.env["AIRFLOW__API__BASE_URL"] = self.url
        self._sessions: dict[str, requests.Session] = {}

    def start(self, timeout: float = 300) -> None:
        """Migrate the DB, start the four services and wait until the REST API answers."""
        # Written before the api-server starts: it keeps the passwords it finds.
        self.passwords_file.write_text(json.dumps(PASSWORDS))
        self.services.start()
        self.services.start("triggerer")
        self.wait_for(self._answers, "the api-server to answer", timeout)

    def stop(self) -> None:
        """Stop every service (SIGTERM, then SIGKILL after 10 s)."""
        self.services.stop()

    # ------------------------------------------------------------------------- REST API

    def api(self, user: str = "admin") -> requests.Session:
        """A REST session logged in as ``user`` (one of :data:`USERS`), made once."""
        if user not in self._sessions:
            response = requests.post(
                f"{self.url}/auth/token",
                json={"username": user, "password": PASSWORDS[user]},
                timeout=60,
            )
            response.raise_for_status()
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
            self._sessions[user] = session
        return self._sessions[user]

    def rest(self, method: str, path: str, user: str = "admin", **kwargs: Any) -> Any:
        """``method`` on ``/api/v2/<path>`` as ``user``; the decoded JSON body.

        :raises AssertionError: on a response other than 2xx, with its body.
        """
        response = self.api(user).request(method, f"{self.url}/api/v2/{path}", timeout=60, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def log_in(self, page: Page, user: str) -> None:
        """Sign ``page`` (a browser page, :func:`~tests.support.browser.chromium_page`) in to
        the UI as ``user`` (one of :data:`USERS`); return once the app has settled."""
        page.goto(f"{self.url}/", wait_until="networkidle")
        page.locator("input[name=username]").fill(user)
        page.locator("input[name=password]").fill(PASSWORDS[user])
        page.get_by_role("button", name="Sign in").click()
        # The login page is under the same origin: wait until the sign-in has navigated away
        # from it and the app has settled, else the next goto aborts that navigation
        # (ERR_ABORTED, seen once in a fresh-clone run).
        page.wait_for_url(lambda url: "/auth/login" not in url)
        page.wait_for_load_state("networkidle")

    def add_dag(self, source: Path, dag_id: str, timeout: float = 240) -> None:
        """Copy the DAG file ``source`` into the dags folder; wait until ``dag_id`` is parsed."""
        shutil.copy(source, self.dags_folder / source.name)

        def parsed() -> bool:
            response = self.api().get(f"{self.url}/api/v2/dags/{dag_id}", timeout=60)
            return response.status_code == 200

        self.wait_for(parsed, f"DAG {dag_id} to be parsed", timeout)

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> str:
        """Start a run of ``dag_id`` named ``run_id`` with ``conf``; return its run id."""
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}}
        return str(self.rest("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """The task instance as the REST API shows it (``state``, ``try_number``, ...)."""
        return dict(self.rest("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Collection[str],
        timeout: float = 240,
        *,
        try_number: int | None = None,
    ) -> dict[str, Any]:
        """Block until the task instance is in one of ``states`` (and at ``try_number`` when
        given); return it."""

        def reached() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id, task_id)
            right_try = try_number is None or ti["try_number"] == try_number
            return ti if ti["state"] in states and right_try else None

        return self.wait_for(reached, f"{dag_id}/{run_id}/{task_id} in {sorted(states)}", timeout)

    def wait_until_parked(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, timeout: float = 240
    ) -> None:
        """Block until the scheduler has handled the worker's exit of ``try_number`` of a task
        that parked waiting for a person (its log says ``TaskInstance Finished: ...
        state=awaiting_input`` or ``deferred``). A response given before that races Airflow's
        handling of the executor event: on 3.3.2 the scheduler then finds the task instance
        already resumed and marks it failed (seen with an answer 0.4 s after the park), which
        no person answering through the UI would run into."""
        parked = re.compile(
            rf"TaskInstance Finished: dag_id={re.escape(dag_id)}, task_id={re.escape(task_id)}, "
            rf"run_id={re.escape(run_id)}, .*state=(?:awaiting_input|deferred),.*"
            rf"try_number={try_number},"
        )
        log = self.services.home / "scheduler.log"

        def seen() -> bool:
            return bool(parked.search(log.read_text(errors="replace")))

        self.wait_for(seen, f"{dag_id}/{run_id}/{task_id} try {try_number} parked", timeout)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        """Block until the DAG run has ended; return its state."""

        def ended() -> str | None:
            state = self.rest("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]
            return str(state) if state in ("success", "failed") else None

        return self.wait_for(ended, f"run {dag_id}/{run_id} to end", timeout)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The value task ``task_id`` pushed under ``key`` in the run, deserialized."""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.rest("GET", path, params={"deserialize": "true", "stringify": "false"})["value"]

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 240) -> Any:
        """Poll ``condition`` every 2 s until it returns something truthy; return that.

        :raises TimeoutError: after ``timeout`` seconds, with the services' log tails.
        :raises RuntimeError: when a service has exited.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.services._check_alive()
            try:
                result = condition()
            except requests.ConnectionError:
                result = None
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout} s{self.services.log_tails(30)}")
            time.sleep(2)

    def _answers(self) -> bool:
        return requests.get(f"{self.url}/api/v2/version", timeout=5).status_code == 200


@pytest.fixture(scope="session")
def airflow_deployment(
    mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowDeployment]:
    """The session's running :class:`AirflowDeployment` (api-server, scheduler, dag-processor,
    triggerer), ``mlflow_default`` pointing at ``mlflow_server``; stopped at session end."""
    deployment = AirflowDeployment(tmp_path_factory.mktemp("airflow-deployment"), mlflow_server.url)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
