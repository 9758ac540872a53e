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

"""Fixtures. Session-scoped ones start real network services on 127.0.0.1: MLflow servers
(plain, basic auth, HTTPS, mutual TLS), a bearer-token proxy, a silent listener, an unused
port. Airflow runs against a temporary ``AIRFLOW_HOME`` (set in ``pytest_configure``, before
Airflow is imported) with a SQLite metadata DB; connections come from ``AIRFLOW_CONN_*``.

An ``mlflow server`` takes 13-23 s to start on two cores. So the first server fixture set up
launches, without waiting, every server that any selected test needs; each server fixture
then waits only for its own server, and the startups overlap. Everything started here is
stopped at the end of the session, whatever the outcome.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from tests.support.airflow_env import SIGNING_SECRET, connection_env_var, connection_json
from tests.support.bearer_proxy import BearerProxy
from tests.support.certs import TlsCerts, make_tls_certs
from tests.support.fault_proxy import FaultProxy
from tests.support.mlflow_server import MlflowServer
from tests.support.s3_server import S3Server
from tests.support.s3_stores import (
    STORE_NAMES,
    DirectStore,
    hostile_environment,
    store_bucket,
)
from tests.support.silent_server import SilentServer, find_unused_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

# The shared Airflow deployment of the end-to-end tests (fixture ``airflow_deployment``).
pytest_plugins = ("tests.support.airflow_deployment",)

AIRFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Point Airflow at a throw-away home and SQLite DB before any test imports Airflow."""
    os.environ.update(airflow_settings())


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the throw-away Airflow home (metadata DB, logs) when the session ends."""
    shutil.rmtree(AIRFLOW_TEST_HOME, ignore_errors=True)


def airflow_settings() -> dict[str, str]:
    """Environment for an Airflow process (this one or a subprocess) run by the tests."""
    return {
        "AIRFLOW_HOME": str(AIRFLOW_TEST_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_TEST_HOME}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(AIRFLOW_TEST_HOME / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        # Airflow's signing secret (approvals, the alias ledger), as a deployment sets it.
        "AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET": SIGNING_SECRET,
    }


class UseConnection(Protocol):
    """Define an ``mlflow`` connection for this test as ``AIRFLOW_CONN_<ID>`` (JSON form)."""

    def __call__(self, conn_id: str, host: str, **fields: Any) -> str: ...


@pytest.fixture
def use_connection(monkeypatch: pytest.MonkeyPatch) -> UseConnection:
    """Sets ``AIRFLOW_CONN_<ID>`` for the test's duration; returns the variable's name."""

    def define(conn_id: str, host: str, **fields: Any) -> str:
        name = connection_env_var(conn_id)
        monkeypatch.setenv(name, connection_json(host, **fields))
        return name

    return define


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh Airflow metadata DB (SQLite in the test ``AIRFLOW_HOME``), made once a session."""
    from airflow.utils.db import resetdb

    resetdb()


@pytest.fixture
def airflow_env() -> dict[str, str]:
    """A copy of this process's environment (with the test Airflow settings) for subprocesses."""
    return {**os.environ, **airflow_settings()}


# Server fixture name -> how to build its server from (root directory, TLS material).
_SERVER_FACTORIES: dict[str, Callable[[Path, TlsCerts], MlflowServer]] = {
    "mlflow_server": lambda root, certs: MlflowServer(root),
    "auth_mlflow_server": lambda root, certs: MlflowServer(root, basic_auth=True),
    "private_auth_mlflow_server": lambda root, certs: MlflowServer(
        root, basic_auth=True, default_permission="NO_PERMISSIONS"
    ),
    "https_mlflow_server": lambda root, certs: MlflowServer(root, certs=certs),
    "mtls_mlflow_server": lambda root, certs: MlflowServer(root, certs=certs, mutual_tls=True),
    # Webhooks to 127.0.0.1 (the workspace webhook test) need private addresses allowed.
    "workspaces_mlflow_server": lambda root, certs: MlflowServer(
        root,
        basic_auth=True,
        default_permission="NO_PERMISSIONS",
        workspaces=True,
        environment={"MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true"},
    ),
    # MLflow 3.17 refuses https:// model sources unless told otherwise; users who register
    # pre-signed URLs run their server like this.
    "https_sources_mlflow_server": lambda root, certs: MlflowServer(
        root, environment={"MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES": "https"}
    ),
    # Direct-access S3 artifact stores (clients read and write s3://store-<x>/root).
    **{
        f"s3_store_{name}_mlflow_server": (
            lambda root, certs, name=name: MlflowServer(
                root, default_artifact_root=f"s3://{store_bucket(name)}/root"
            )
        )
        for name in STORE_NAMES
    },
}


class _ServerPool:
    """The session's MLflow servers: at most one per server fixture name."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, certs: TlsCerts) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._certs = certs
        self._servers: dict[str, MlflowServer] = {}

    def launch(self, fixture_names: Iterable[str]) -> None:
        """Start, without waiting, the servers of those ``fixture_names`` that are server
        fixtures and not started yet.
        """
        for name in fixture_names:
            if name in _SERVER_FACTORIES and name not in self._servers:
                root = self._tmp_path_factory.mktemp(name)
                server = _SERVER_FACTORIES[name](root, self._certs)
                server.start()
                self._servers[name] = server

    def ready(self, fixture_name: str) -> MlflowServer:
        """The server of ``fixture_name``, started if needed and ready to serve."""
        self.launch([fixture_name])
        server = self._servers[fixture_name]
        server.wait_until_ready()
        return server

    def stop_all(self) -> None:
        """Stop every server started so far, in parallel: each may take seconds to exit."""
        with ThreadPoolExecutor() as executor:
            list(executor.map(MlflowServer.stop, self._servers.values()))


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TlsCerts:
    """PEM files: a CA, a server cert for 127.0.0.1/localhost, a client cert+key, another CA."""
    return make_tls_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def _mlflow_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tls_certs: TlsCerts
) -> Iterator[_ServerPool]:
    """Launches every MLflow server the selected tests need, without waiting; stops them all
    at session end.
    """
    pool = _ServerPool(tmp_path_factory, tls_certs)
    try:
        for item in request.session.items:
            pool.launch(getattr(item, "fixturenames", ()))
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """A running plain-HTTP MLflow server without authentication."""
    return _mlflow_servers.ready("mlflow_server")


@pytest.fixture(scope="session")
def auth_mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """A running plain-HTTP MLflow server with the basic-auth app (default permission READ).

    Users: the admin (``admin_username``, ``admin_password``) and the non-admins ``alice`` and
    ``bob``, with distinct random passwords in ``passwords["alice"]``/``passwords["bob"]``.
    """
    server = _mlflow_servers.ready("auth_mlflow_server")
    server.create_user("alice")
    server.create_user("bob")
    return server


@pytest.fixture(scope="session")
def private_auth_mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """Like ``auth_mlflow_server`` (users ``alice`` and ``bob``), but with default permission
    NO_PERMISSIONS: a user can neither read nor change what another user made."""
    server = _mlflow_servers.ready("private_auth_mlflow_server")
    server.create_user("alice")
    server.create_user("bob")
    return server


@pytest.fixture(scope="session")
def workspaces_mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """A running MLflow server with workspaces (``--enable-workspaces``, SQLite store) and the
    basic-auth app with default permission NO_PERMISSIONS. Workspaces ``team-a`` and
    ``team-b``; users ``alice`` (may use ``team-a`` only) and ``bob`` (``team-b`` only), passwords
    in ``passwords``; the admin sees every workspace."""
    server = _mlflow_servers.ready("workspaces_mlflow_server")
    for user, workspace in (("alice", "team-a"), ("bob", "team-b")):
        server.create_workspace(workspace)
        server.create_user(user)
        server.grant_workspace(user, workspace)
    return server


@pytest.fixture(scope="session")
def https_mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """A running MLflow server on HTTPS with the ``tls_certs`` server certificate."""
    return _mlflow_servers.ready("https_mlflow_server")


@pytest.fixture(scope="session")
def mtls_mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """A running MLflow server on HTTPS that requires a client certificate signed by
    ``tls_certs.ca_pem`` (``tls_certs.client_pem`` is one).
    """
    return _mlflow_servers.ready("mtls_mlflow_server")


@pytest.fixture(scope="session")
def https_sources_mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """A running plain-HTTP MLflow server that accepts ``https://`` model sources, such as
    pre-signed URLs."""
    return _mlflow_servers.ready("https_sources_mlflow_server")


@pytest.fixture(scope="session")
def s3_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, S3Server]]:
    """S3 endpoints ``a``, ``b`` (the stores' own) and ``hostile`` (the worker environment's),
    each holding every store's bucket."""
    root = tmp_path_factory.mktemp("s3")
    endpoints = {name: S3Server(root / name, name=name) for name in (*STORE_NAMES, "hostile")}
    try:
        for endpoint in endpoints.values():
            endpoint.start()
            for name in STORE_NAMES:
                endpoint.create_bucket(store_bucket(name))
        yield endpoints
    finally:
        for endpoint in endpoints.values():
            endpoint.stop()


@pytest.fixture
def direct_stores(
    s3_endpoints: dict[str, S3Server],
    s3_store_a_mlflow_server: MlflowServer,
    s3_store_b_mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, DirectStore]:
    """Stores ``a`` and ``b``: each an MLflow server with direct S3 access to its own endpoint,
    with its AWS and MLflow connections defined for the test."""
    servers = {"a": s3_store_a_mlflow_server, "b": s3_store_b_mlflow_server}
    stores = {name: DirectStore(name, s3_endpoints[name], servers[name]) for name in STORE_NAMES}
    for store in stores.values():
        for variable, value in store.connection_variables().items():
            monkeypatch.setenv(variable, value)
    return stores


@pytest.fixture
def hostile_aws_environment(
    s3_endpoints: dict[str, S3Server], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> S3Server:
    """This process's environment set up for the ``hostile`` endpoint's account (keys,
    profile, endpoint variables) for the test's duration; returns that endpoint."""
    hostile = s3_endpoints["hostile"]
    for variable, value in hostile_environment(hostile, tmp_path / "hostile-aws").items():
        monkeypatch.setenv(variable, value)
    return hostile


@pytest.fixture(scope="session")
def s3_store_a_mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """An MLflow server whose clients read and write ``s3://store-a/root`` themselves."""
    return _mlflow_servers.ready("s3_store_a_mlflow_server")


@pytest.fixture(scope="session")
def s3_store_b_mlflow_server(_mlflow_servers: _ServerPool) -> MlflowServer:
    """An MLflow server whose clients read and write ``s3://store-b/root`` themselves."""
    return _mlflow_servers.ready("s3_store_b_mlflow_server")


@pytest.fixture(scope="session")
def bearer_proxy(mlflow_server: MlflowServer) -> Iterator[BearerProxy]:
    """A running :class:`BearerProxy` in front of ``mlflow_server`` that forwards only requests
    with ``Authorization: Bearer <bearer_proxy.token>`` (a random token). Shared by the
    session: call ``reset_counts()`` before counting requests.
    """
    with BearerProxy(mlflow_server.url, token=secrets.token_urlsafe(24)) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def silent_server() -> Iterator[SilentServer]:
    """A running TCP listener (``.url``, ``.port``) that accepts connections, never answers."""
    with SilentServer() as server:
        yield server


@pytest.fixture(scope="session")
def unused_port() -> int:
    """A 127.0.0.1 port with nothing listening: connections to it are refused."""
    return find_unused_port()


@pytest.fixture
def fault_proxy(mlflow_server: MlflowServer) -> Iterator[FaultProxy]:
    """A running :class:`FaultProxy` in front of ``mlflow_server``, fresh for each test (no
    faults, zero counts, accepting connections) and stopped after it.
    """
    with FaultProxy(mlflow_server.url) as proxy:
        yield proxy


if TYPE_CHECKING:
    from mlflow import MlflowClient


@pytest.fixture
def default_registry(mlflow_server: MlflowServer, use_connection: UseConnection) -> MlflowClient:
    """Points ``mlflow_default`` at ``mlflow_server``; returns a plain ``MlflowClient`` on it,
    to arrange and check registry content independently of the code under test."""

    use_connection("mlflow_default", mlflow_server.url)
    return mlflow_server.client()


@pytest.fixture
def plain_client(mlflow_server: MlflowServer) -> MlflowClient:
    """A plain ``MlflowClient`` of ``mlflow_server``, for seeding and checking."""

    return mlflow_server.client()


@pytest.fixture
def cli_env(mlflow_server: MlflowServer, airflow_env: dict[str, str]) -> dict[str, str]:
    """Environment for the command line (a process or ``cli.main``) where ``mlflow_default``
    is ``mlflow_server``."""
    return {
        **airflow_env,
        connection_env_var("mlflow_default"): connection_json(mlflow_server.url),
    }


_SUMMARY_LINES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def summary_lines(request: pytest.FixtureRequest) -> list[str]:
    """Lines to show in pytest's terminal summary (which is printed without ``-s``): a test
    appends results worth reading in CI logs, such as the fault-injection tally."""
    return request.config.stash.setdefault(_SUMMARY_LINES, [])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the lines collected through the ``summary_lines`` fixture, if any."""
    lines = config.stash.get(_SUMMARY_LINES, [])
    if lines:
        terminalreporter.section("reliability summary")
        for line in lines:
            terminalreporter.write_line(line)
