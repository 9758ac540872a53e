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

"""A real ``mlflow server`` subprocess for tests: plain HTTP, basic auth, HTTPS or mutual TLS."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import requests

from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from mlflow import MlflowClient

    from tests.support.certs import TlsCerts

_STOP_GRACE_SECONDS = 5.0
#: Environment variable naming the Python that runs ``mlflow server``: the client under test may
#: be an ``mlflow-skinny`` without the server (e.g. an older client in a compatibility venv).
SERVER_PYTHON_ENV = "MLFLOW_TEST_SERVER_PYTHON"


class MlflowServer:
    """One ``mlflow server`` (uvicorn, one worker) on 127.0.0.1, with its own SQLite store
    (unless ``backend_store_uri`` names another), artifact directory and log file under
    ``root``.

    ``start()`` returns at once; ``wait_until_ready()`` blocks until it serves requests;
    ``stop()`` kills its whole process group. Options:

    - ``basic_auth``: the ``basic-auth`` app; the admin is ``admin_username`` with a random
      password; ``default_permission`` (``READ`` unless given): a user may read, not change,
      what others made; with ``NO_PERMISSIONS`` a user cannot even see it.
    - ``certs``: serve HTTPS with ``certs.server_pem``/``server_key``.
    - ``mutual_tls`` (needs ``certs``): also require a client certificate signed by
      ``certs.ca_pem``.
    - ``port``: listen on this port instead of a free one; with the ``root`` of a stopped
      server, a new instance restarts that server on the same store and URL.
    - ``python``: the Python whose ``mlflow`` serves (default :func:`server_python`), e.g. an
      older MLflow's venv.
    - ``environment``: variables added to the server's environment (a copy of this process's).
    - ``backend_store_uri``: the tracking and registry store, e.g. a ``postgresql+psycopg://``
      database (default ``sqlite:///<root>/mlflow.db``).
    - ``workers``: uvicorn worker processes (default 1; several need a database store, whose
      schema must exist before they start).
    - ``artifacts_destination``: where the proxied artifact store lives (default
      ``<root>/artifacts``), e.g. ``s3://bucket/path`` with the endpoint and keys in
      ``environment`` (``S3Server.server_environment()``).
    - ``workspaces``: ``--enable-workspaces`` (MLflow 3.10+; the SQL store holds them):
      :meth:`create_workspace`, and with basic auth :meth:`grant_workspace`.
    - ``default_artifact_root``: a direct-access artifact store (``--default-artifact-root
      <it> --no-serve-artifacts``, e.g. ``s3://bucket/root``): clients read and write it
      themselves. The server itself never touches it for runs, logged models and versions
      (measured with bogus AWS variables: it needs no S3 endpoint or keys).

    Attributes: ``url`` (``http(s)://127.0.0.1:<port>``), ``port``, ``root``,
    ``backend_store_uri``, ``log_path``,
    ``passwords`` (username to password for the admin and every user made with
    :meth:`create_user`; empty without basic auth).
    """

    admin_username = "admin"

    def __init__(
        self,
        root: Path,
        *,
        basic_auth: bool = False,
        default_permission: str = "READ",
        certs: TlsCerts | None = None,
        mutual_tls: bool = False,
        port: int | None = None,
        python: str | None = None,
        environment: Mapping[str, str] | None = None,
        backend_store_uri: str | None = None,
        workers: int = 1,
        workspaces: bool = False,
        default_artifact_root: str | None = None,
        artifacts_destination: str | None = None,
    ) -> None:
        if mutual_tls and certs is None:
            raise ValueError("mutual_tls=True needs certs")
        self.root = root
        self.basic_auth = basic_auth
        self.default_permission = default_permission
        self.certs = certs
        self.mutual_tls = mutual_tls
        self.port = port or find_unused_port()
        self.python = python or server_python()
        self.extra_environment = dict(environment or {})
        self.backend_store_uri = backend_store_uri or f"sqlite:///{root}/mlflow.db"
        self.workers = workers
        self.workspaces = workspaces
        self.default_artifact_root = default_artifact_root
        self.artifacts_destination = artifacts_destination or f"{root}/artifacts"
        self.url = f"{'https' if certs else 'http'}://127.0.0.1:{self.port}"
        self.log_path = root / "server.log"
        self.passwords: dict[str, str] = {}
        if basic_auth:
            self.passwords[self.admin_username] = secrets.token_urlsafe(16)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def admin_password(self) -> str:
        """The admin's password; raises ``KeyError`` without basic auth."""
        return self.passwords[self.admin_username]

    def sign_in_as(self, username: str) -> dict[str, str]:
        """The connection fields that sign in as ``username``: ``login`` and its password.

        :param username: the admin or a user made with :meth:`create_user`.
        :return: ``{"login": username, "password": ...}``, to spread into a connection.
        :raises KeyError: no such user on this server (or no basic auth).
        """
        return {"login": username, "password": self.passwords[username]}

    def start(self) -> None:
        """Launch the server in its own process group and return without waiting."""
        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            self.python, "-m", "mlflow", "server",
            "--backend-store-uri", self.backend_store_uri,
            *self._artifact_options(),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--workers", str(self.workers),
        ]  # fmt: skip
        if self.basic_auth:
            command += ["--app-name", "basic-auth"]
        if self.workspaces:
            command += ["--enable-workspaces"]
        if self.certs is not None:
            uvicorn_opts = (
                f"--ssl-certfile {self.certs.server_pem} --ssl-keyfile {self.certs.server_key}"
            )
            if self.mutual_tls:
                # 2 is ssl.CERT_REQUIRED: the handshake fails without a client certificate.
                uvicorn_opts += f" --ssl-ca-certs {self.certs.ca_pem} --ssl-cert-reqs 2"
            command += ["--uvicorn-opts", uvicorn_opts]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.root,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _artifact_options(self) -> list[str]:
        if self.default_artifact_root is None:
            return ["--artifacts-destination", self.artifacts_destination]
        return ["--default-artifact-root", self.default_artifact_root, "--no-serve-artifacts"]

    def wait_until_ready(self, timeout: float = 300.0) -> None:
        """Block until ``/health`` answers, then send one registry request to warm it up.

        Raises ``RuntimeError`` with the tail of the server log if the process exits, the
        warm-up request fails or ``timeout`` seconds pass (the default leaves room for several
        servers and Airflow processes starting at once on two busy cores).
        """
        process = self._started_process()
        deadline = time.monotonic() + timeout
        while not self._answers_health():
            if process.poll() is not None:
                raise self._failure(f"exited with code {process.returncode} during startup")
            if time.monotonic() > deadline:
                raise self._failure(f"did not answer /health within {timeout:.0f} s")
            time.sleep(0.25)
        # The first registry request initialises the store lazily and can take seconds.
        response = requests.get(
            f"{self.url}/api/2.0/mlflow/registered-models/search",
            params={"max_results": 1},
            timeout=max(deadline - time.monotonic(), 30.0),
            **self.admin_request_options(),
        )
        if response.status_code != 200:
            raise self._failure(f"warm-up request answered {response.status_code}")

    def stop(self) -> None:
        """Send SIGTERM to the server's process group, SIGKILL whatever is left after a few
        seconds, and reap the server process. Safe to call more than once.
        """
        process = self._started_process()
        _signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_STOP_GRACE_SECONDS)
        # Also reaches workers that outlive the `mlflow server` parent.
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()

    def kill(self) -> None:
        """Crash the server: SIGKILL to its whole process group (no request in flight
        finishes, nothing is flushed), then reap it. ``stop()`` afterwards does nothing."""
        process = self._started_process()
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()

    def admin_request_options(self) -> dict[str, Any]:
        """Keyword arguments for ``requests`` that reach this server as its most privileged
        client: the CA to trust, the client certificate and the admin's credentials, as the
        server's options require.
        """
        return {
            "verify": str(self.certs.ca_pem) if self.certs else True,
            "cert": str(self.certs.client_pem) if self.certs and self.mutual_tls else None,
            "auth": (self.admin_username, self.admin_password) if self.basic_auth else None,
        }

    def create_user(self, username: str) -> str:
        """Create the non-admin ``username`` with a random 22-character password through the
        auth REST API, record it in ``passwords`` and return it. Needs basic auth; raises
        ``requests.HTTPError`` if the server refuses.
        """
        password = secrets.token_urlsafe(16)
        response = requests.post(
            f"{self.url}/api/2.0/mlflow/users/create",
            json={"username": username, "password": password},
            timeout=30,
            **self.admin_request_options(),
        )
        response.raise_for_status()
        self.passwords[username] = password
        return password

    def create_workspace(self, name: str) -> None:
        """Create MLflow workspace ``name`` as the admin (needs ``workspaces``); raises
        ``requests.HTTPError`` if the server refuses."""
        self._admin_post("/api/3.0/mlflow/workspaces", {"name": name})

    def grant_workspace(self, username: str, workspace: str) -> None:
        """Let ``username`` use everything in ``workspace``: a role of that workspace with the
        workspace-wide ``USE`` grant, assigned to the user (needs basic auth and
        ``workspaces``). This is the only permission the user gets there."""
        role = self._admin_post(
            "/api/3.0/mlflow/roles/create", {"workspace": workspace, "name": f"{username}-use"}
        )["role"]
        self._admin_post(
            "/api/3.0/mlflow/roles/permissions/add",
            {
                "role_id": role["id"],
                "resource_type": "workspace",
                "resource_pattern": "*",
                "permission": "USE",
            },
        )
        self._admin_post(
            "/api/3.0/mlflow/roles/assign", {"username": username, "role_id": role["id"]}
        )

    def client(self) -> MlflowClient:
        """A plain ``MlflowClient`` of this server, for arranging and checking registry content
        independently of the code under test. It has no credentials of its own: on a basic-auth
        server it sends those of the ``MLFLOW_TRACKING_*`` environment variables, if any."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url)

    def model_permission(self, model_name: str, username: str) -> str:
        """The permission ``username`` holds on registered model ``model_name`` (needs basic
        auth): its creator holds MANAGE, others the server default. Raises
        ``requests.HTTPError`` if the server refuses."""
        answer = self._admin_request(
            "GET",
            "/api/3.0/mlflow/users/permissions/get",
            params=_model_permission_fields(model_name, username),
        )
        return str(answer["permission"])

    def grant_model_permission(self, model_name: str, username: str, permission: str) -> None:
        """Give ``username`` ``permission`` (``READ``, ``EDIT``, ...) on registered model
        ``model_name``, not on its runs (needs basic auth). Raises ``requests.HTTPError`` if the
        server refuses."""
        fields = {**_model_permission_fields(model_name, username), "permission": permission}
        self._admin_request("POST", "/api/3.0/mlflow/users/permissions/grant", json=fields)

    def _admin_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._admin_request("POST", path, json=body)

    def _admin_request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        response = requests.request(
            method, f"{self.url}{path}", timeout=30, **options, **self.admin_request_options()
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's combined stdout and stderr."""
        with self.log_path.open(errors="replace") as log:
            return "".join(deque(log, maxlen=lines))

    def _environment(self) -> dict[str, str]:
        environment = {**os.environ, **self.extra_environment}
        # Job execution spawns seven huey consumer processes that tests never use; without
        # them startup is ~8 s faster on two cores.
        environment["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        if self.basic_auth:
            auth_config = self.root / "basic_auth.ini"
            auth_config.write_text(
                "[mlflow]\n"
                f"default_permission = {self.default_permission}\n"
                f"database_uri = sqlite:///{self.root}/basic_auth.db\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                # Without the cache every request spends ~0.4 s checking a password hash.
                "auth_cache_ttl_seconds = 60\n"
            )
            environment["MLFLOW_AUTH_CONFIG_PATH"] = str(auth_config)
            environment["MLFLOW_AUTH_ADMIN_USERNAME"] = self.admin_username
            environment["MLFLOW_AUTH_ADMIN_PASSWORD"] = self.admin_password
            environment["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_hex(16)
        return environment

    def _answers_health(self) -> bool:
        options = self.admin_request_options()
        try:
            return requests.get(f"{self.url}/health", timeout=2, **options).status_code == 200
        except requests.RequestException:
            return False

    def _started_process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("MlflowServer.start() was not called")
        return self._process

    def _failure(self, what: str) -> RuntimeError:
        return RuntimeError(f"mlflow server at {self.url} {what}; log tail:\n{self.log_tail()}")


def _model_permission_fields(model_name: str, username: str) -> dict[str, str]:
    return {"username": username, "resource_type": "registered_model", "resource_id": model_name}


def server_python() -> str:
    """The Python that runs ``mlflow server``: ``$MLFLOW_TEST_SERVER_PYTHON``, else this one."""
    return os.environ.get(SERVER_PYTHON_ENV) or sys.executable


def _signal_group(process_group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(process_group, signum)
