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

"""A production-like deployment on 127.0.0.1, started and stopped by one command.

``python -m tests.support.stack up [--dir D] [--dags-folder F]`` (wrapped by ``.ci/stack.sh``)
starts, on free ports:

- PostgreSQL (Debian's server binaries; as the ``postgres`` user when run as root) with the
  databases ``airflow`` and ``mlflow``, each owned by its own password-protected role;
- Redis (``redis-server``, password-protected) as the Celery broker and result backend;
- ``mlflow server`` on the ``mlflow`` database: several uvicorn workers, the ``basic-auth``
  app, ``--serve-artifacts``; an admin and a user ``airflow`` for the Airflow connection;
- three S3 endpoints (moto, :class:`~tests.support.s3_server.S3Server`, each with keys of its
  own) and two more ``mlflow server`` processes on their own databases, same users: one proxying
  its artifacts to an S3 bucket (``--artifacts-destination s3://...``, the server holds that
  endpoint's keys), one whose clients reach their S3 bucket themselves
  (``--default-artifact-root s3://... --no-serve-artifacts``) through the Airflow connection
  ``aws_s3_direct``; the third endpoint is "another account" the Celery workers' own AWS
  environment points at;
- Airflow on the ``airflow`` database with the CeleryExecutor: api-server, scheduler,
  dag-processor, a standalone triggerer and two Celery workers with distinct hostnames.

The connections ``mlflow_default``, ``mlflow_s3_proxied`` and ``mlflow_s3_direct`` (user
``airflow``) and ``aws_s3_direct`` are stored, encrypted, in the metadata DB. The Celery
workers get neither the metadata DB's address nor the connections (their task processes read
them through the api-server, Airflow 3's Task SDK) nor any S3 store's keys, and their results
go to Redis. No process gets an ``MLFLOW_TRACKING_*`` variable.

Everything the deployment needs to be used or stopped (addresses, credentials, process ids,
the environment of the Airflow CLI) is written to ``D/stack.json``; ``down`` kills every
process group recorded there and stops PostgreSQL, whatever state the stack is in.
``restart mlflow`` and ``start worker-1`` bring back a service killed on purpose by a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from tests.support.s3_server import REGION, S3Server
from tests.support.s3_stores import hostile_environment
from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from collections.abc import Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_FILE = "stack.json"
WORKERS = ("worker-1", "worker-2")
AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", *WORKERS)
MLFLOW_WORKERS = 2
# One task slot per Celery worker, a prefetch of one and late acknowledgement (Airflow's
# defaults for the last two, set explicitly): a worker running a task holds its message
# unacknowledged and asks the broker for no other, so while two task instances are in flight
# they are on different workers. A backfill with several active runs therefore uses both.
CELERY_WORKER_CONCURRENCY = 1
#: The MLflow servers, each on a database (and an Airflow connection, but ``mlflow_default``
#: for the first) of its name: artifacts proxied to a local directory, proxied to S3, and
#: read and written by the clients on S3 directly.
MLFLOW_SERVERS = ("mlflow", "mlflow_s3_proxied", "mlflow_s3_direct")
DATABASES = ("airflow", *MLFLOW_SERVERS)  # each owned by a role of the same name
#: The S3 endpoints: the two stores' and the one the Celery workers' ambient AWS settings name.
S3_ENDPOINTS = ("s3-proxied", "s3-direct", "s3-hostile")
#: Each S3-backed server's endpoint and bucket. The hostile endpoint has the direct store's
#: bucket too, so a write sent there by mistake would succeed silently, not fail.
S3_STORES = {"mlflow_s3_proxied": ("s3-proxied", "stack-proxied"),
             "mlflow_s3_direct": ("s3-direct", "stack-direct")}  # fmt: skip
DIRECT_AWS_CONN_ID = "aws_s3_direct"
# Generous: a loaded two-core machine needs minutes for the migrations and imports.
STARTUP_TIMEOUT = 480.0
WORKER_HOSTNAME_VARIABLE = "STACK_WORKER_HOSTNAME"
_STATE_LOCK = threading.Lock()  # the MLflow servers and Airflow start in threads


def worker_hostname() -> str:
    """Airflow's ``[core] hostname_callable`` for the stack's Celery workers: each worker runs on
    this machine but reports its own name, so task instances show which worker ran them."""
    return os.environ[WORKER_HOSTNAME_VARIABLE]


@dataclass
class StackState:
    """What ``up`` started, as stored in ``stack.json``. Passwords are random per stack."""

    root: str
    dags_folder: str
    postgres_port: int
    postgres_data: str
    postgres_password: dict[str, str]
    redis_port: int
    redis_password: str
    mlflow_port: int
    mlflow_admin_password: str
    mlflow_airflow_password: str
    airflow_port: int
    airflow_admin_password: str
    fernet_key: str
    jwt_secret: str
    flask_secret: str
    log_ports: dict[str, int]
    s3_mlflow_ports: dict[str, int]
    #: Endpoint name to its ``url``, ``access_key_id`` and ``secret_access_key``.
    s3_endpoints: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The Celery workers' ambient AWS settings: the hostile endpoint's keys and URL.
    worker_aws_environment: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def mlflow_url(self) -> str:
        return self.mlflow_server_url("mlflow")

    def mlflow_server_url(self, server: str) -> str:
        """The URL of MLflow server ``server`` (one of :data:`MLFLOW_SERVERS`)."""
        port = self.mlflow_port if server == "mlflow" else self.s3_mlflow_ports[server]
        return f"http://127.0.0.1:{port}"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def airflow_db_url(self) -> str:
        return self.database_url("airflow")

    @property
    def mlflow_db_url(self) -> str:
        return self.database_url("mlflow")

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` (one of :data:`DATABASES`) as its owner."""
        password = self.postgres_password[name]
        return f"postgresql+psycopg://{name}:{password}@127.0.0.1:{self.postgres_port}/{name}"

    def broker_url(self, database: int) -> str:
        return f"redis://:{self.redis_password}@127.0.0.1:{self.redis_port}/{database}"

    def save(self) -> None:
        path = Path(self.root) / STATE_FILE
        with _STATE_LOCK:
            path.write_text(json.dumps(asdict(self), indent=2))
            path.chmod(0o600)

    @classmethod
    def load(cls, root: Path) -> StackState:
        return cls(**json.loads((root / STATE_FILE).read_text()))

    # --- environments -------------------------------------------------------------------

    def airflow_env(self, service: str = "cli") -> dict[str, str]:
        """The environment of one Airflow process: ``cli`` (and the other server-side
        services) get the metadata DB; a worker gets only the broker and the api-server."""
        home = Path(self.root) / "airflow"
        env = {
            **_clean_environ(),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": self.dags_folder,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.airflow_url}/execution/",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url(0),
            "AIRFLOW__CELERY__RESULT_BACKEND": self.broker_url(1),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CELERY_WORKER_CONCURRENCY),
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_ports["worker"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_ports["triggerer"]),
            "PYTHONPATH": str(REPO_ROOT),
        }
        if service in WORKERS:
            # Its own home, so a metadata DB opened by mistake would show up as a file there.
            env["AIRFLOW_HOME"] = str(home / service)
            env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "tests.support.stack.worker_hostname"
            env[WORKER_HOSTNAME_VARIABLE] = f"stack-{service}"
            # Another account's keys, profile and endpoints: no artifact may go there.
            env.update(self.worker_aws_environment)
            return env
        return {
            **env,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.airflow_db_url,
            # psycopg 3 serves Airflow's async engine too (the default would be asyncpg).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.airflow_db_url,
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.airflow_port),
            "AIRFLOW__API__BASE_URL": self.airflow_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            # A task whose worker died is failed (and retried) after 30 s instead of 5 min.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            # A queued task waits for a free slot (one per worker, see CELERY_WORKER_CONCURRENCY),
            # minutes on a loaded machine; after this timeout the scheduler would revoke and
            # requeue it, and fail it on the third time, so it is well above any such wait. (The
            # timeout exists for tasks a dead worker had reserved; a stack worker reserves none
            # beyond the one it runs, which the heartbeat timeout above takes care of.)
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "1800",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        }

    def mlflow_env(self, server: str = "mlflow") -> dict[str, str]:
        """The environment of MLflow server ``server``: its auth config, its admin, and for the
        S3-proxying server its endpoint's keys (the server holds the cloud credentials)."""
        root = Path(self.root) / server
        cloud = {}
        if server == "mlflow_s3_proxied":
            endpoint = self.s3_endpoints[S3_STORES[server][0]]
            cloud = {
                "MLFLOW_S3_ENDPOINT_URL": endpoint["url"],
                "AWS_ACCESS_KEY_ID": endpoint["access_key_id"],
                "AWS_SECRET_ACCESS_KEY": endpoint["secret_access_key"],
                "AWS_DEFAULT_REGION": REGION,
            }
        return {
            **_clean_environ(),
            **cloud,
            "MLFLOW_AUTH_CONFIG_PATH": str(root / "basic_auth.ini"),
            "MLFLOW_AUTH_ADMIN_USERNAME": "admin",
            "MLFLOW_AUTH_ADMIN_PASSWORD": self.mlflow_admin_password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": self.flask_secret,
            # Background job consumers (huey) are not used and cost seconds of startup.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }

    def connections(self) -> dict[str, dict[str, Any]]:
        """The connections stored in Airflow's metadata DB, by id: one ``mlflow`` connection
        per server (user ``airflow``), the direct-access one naming ``aws_s3_direct`` (the
        direct store endpoint's keys and URL) for its bucket."""
        connections = {}
        for server in MLFLOW_SERVERS:
            extra: dict[str, Any] = {"timeout": 30}
            if server == "mlflow_s3_direct":
                extra.update(aws_conn_id=DIRECT_AWS_CONN_ID, artifact_buckets=S3_STORES[server][1])
            connection_id = "mlflow_default" if server == "mlflow" else server
            connections[connection_id] = {
                "conn_type": "mlflow",
                "host": self.mlflow_server_url(server),
                "login": "airflow",
                "password": self.mlflow_airflow_password,
                "extra": extra,
            }
        endpoint = self.s3_endpoints[S3_STORES["mlflow_s3_direct"][0]]
        connections[DIRECT_AWS_CONN_ID] = {
            "conn_type": "aws",
            "login": endpoint["access_key_id"],
            "password": endpoint["secret_access_key"],
            "extra": {"endpoint_url": endpoint["url"], "region_name": REGION},
        }
        return connections


def _clean_environ() -> dict[str, str]:
    """This process's environment without any MLflow client or Airflow setting: the stack's
    processes get only what the stack gives them."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "AIRFLOW_", "AIRFLOW__"))
    }


# --- processes ------------------------------------------------------------------------


def _launch(state: StackState, name: str, command: list[str], env: dict[str, str]) -> None:
    """Start ``command`` in its own session, logging to ``logs/<name>.log``; record its pid."""
    log_path = Path(state.root) / "logs" / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=state.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    with _STATE_LOCK:
        state.pids[name] = process.pid
    state.save()


def kill_service(state: StackState, name: str, signum: int = signal.SIGKILL) -> None:
    """Send ``signum`` to the process group of service ``name`` (its children included)."""
    pid = state.pids.pop(name, None)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)
    state.save()


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run ``command`` as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _postgres_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        raise SystemExit(f"PostgreSQL's {name} not found: install the postgresql package")
    return str(candidates[-1])


def _run(command: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> str:
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} {command[1]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def start_postgres(
    data: Path, port: int, superuser_password: str, databases: Mapping[str, str]
) -> None:
    """Create a throw-away PostgreSQL cluster in ``data`` and start it on 127.0.0.1:``port``.

    ``data.parent`` must be a directory of its own (it holds the socket, the log and the
    superuser's password file, and is handed to the ``postgres`` user when run as root).
    The superuser ``postgres`` gets ``superuser_password``; each ``databases`` entry (name to
    password) becomes a login role and a database of that name owned by it. Durability is off
    (``fsync``, ``synchronous_commit``, ``full_page_writes``): nothing here outlives a test.
    Raises ``RuntimeError`` naming the command that failed; :func:`stop_postgres` stops and
    removes whatever was started, also after a failure.
    """
    data.parent.mkdir(parents=True, exist_ok=True)
    password_file = data.parent / "superuser-password"
    password_file.write_text(superuser_password)
    if os.geteuid() == 0:
        postgres_user = pwd.getpwnam("postgres")
        for path in (data.parent, password_file):
            os.chown(path, postgres_user.pw_uid, postgres_user.pw_gid)
    _run(
        _as_postgres(
            [
                _postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
                "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}",
                "--no-sync",
            ]
        )
    )  # fmt: skip
    # A throw-away test server: durability settings off, connections for every service.
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {data.parent} "
        "-c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    _run(
        _as_postgres(
            [_postgres_bin("pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60",
             "-l", str(data.parent / "postgres.log"), "start"]
        )
    )  # fmt: skip
    for name, password in databases.items():
        statements = (
            f"CREATE ROLE {name} LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE {name} OWNER {name}",
        )
        for statement in statements:
            _run(
                _as_postgres(
                    [_postgres_bin("psql"), "-h", str(data.parent), "-p", str(port),
                     "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c", statement]
                )
            )  # fmt: skip


def stop_postgres(data: Path) -> None:
    """Stop the cluster in ``data`` at once if it runs, and delete ``data.parent``; safe to call
    on a cluster that never started."""
    if (data / "postmaster.pid").exists():
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run(
                _as_postgres([_postgres_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                timeout=60,
            )
    shutil.rmtree(data.parent, ignore_errors=True)


def _start_redis(state: StackState) -> None:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server not found: install the redis-server package")
    command = [
        redis_server, "--port", str(state.redis_port), "--bind", "127.0.0.1",
        "--requirepass", state.redis_password, "--save", "", "--appendonly", "no",
        "--dir", str(Path(state.root) / "logs"),
    ]  # fmt: skip
    _launch(state, "redis", command, _clean_environ())


def _artifact_options(state: StackState, server: str) -> tuple[str, list[str]]:
    """The default artifact root of MLflow server ``server`` and its ``mlflow server`` options:
    a local directory or an S3 bucket proxied by the server, or an S3 bucket its clients reach
    themselves."""
    if server == "mlflow_s3_direct":
        root = f"s3://{S3_STORES[server][1]}/root"
        return root, ["--default-artifact-root", root, "--no-serve-artifacts"]
    if server == "mlflow_s3_proxied":
        destination = f"s3://{S3_STORES[server][1]}/mlflow"
    else:
        destination = str(Path(state.root) / server / "artifacts")
    return destination, ["--artifacts-destination", destination, "--serve-artifacts"]


def _prepare_mlflow(state: StackState, server: str) -> None:
    """Create the tracking and auth schemas of MLflow server ``server`` once, before several
    server workers start (each worker would otherwise run the migrations at the same time)."""
    root = Path(state.root) / server
    (root / "artifacts").mkdir(parents=True, exist_ok=True)
    database_url = state.database_url(server)
    (root / "basic_auth.ini").write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {database_url}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Without the cache every request spends ~0.4 s checking a password hash.
        "auth_cache_ttl_seconds = 60\n"
    )
    script = (
        "import sys\n"
        "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore\n"
        "from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore as AuthStore\n"
        "SqlAlchemyStore(sys.argv[1], sys.argv[2])\n"
        "AuthStore().init_db(sys.argv[1])\n"
    )
    artifact_root, _ = _artifact_options(state, server)
    _run(
        [sys.executable, "-c", script, database_url, artifact_root],
        env=state.mlflow_env(server),
    )


def start_mlflow(state: StackState, server: str = "mlflow") -> None:
    """Launch MLflow server ``server`` (not waiting for it) on its port and stores; the stack's
    own server runs :data:`MLFLOW_WORKERS` uvicorn workers, the S3-backed ones one each."""
    _, artifact_options = _artifact_options(state, server)
    port = state.mlflow_server_url(server).rsplit(":", 1)[1]
    workers = MLFLOW_WORKERS if server == "mlflow" else 1
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", state.database_url(server), *artifact_options,
        "--app-name", "basic-auth",
        "--host", "127.0.0.1", "--port", port, "--workers", str(workers),
    ]  # fmt: skip
    _launch(state, server, command, state.mlflow_env(server))


def wait_for_mlflow(state: StackState, deadline: float, server: str = "mlflow") -> None:
    """Block until MLflow server ``server`` answers an authenticated registry request."""
    admin = ("admin", state.mlflow_admin_password)
    url = state.mlflow_server_url(server)
    _wait(
        state,
        server,
        deadline,
        lambda: (
            requests.get(
                f"{url}/api/2.0/mlflow/registered-models/search",
                params={"max_results": 1},
                auth=admin,
                timeout=30,
            ).status_code
            == 200
        ),
    )


def _create_mlflow_user(state: StackState, server: str) -> None:
    response = requests.post(
        f"{state.mlflow_server_url(server)}/api/2.0/mlflow/users/create",
        json={"username": "airflow", "password": state.mlflow_airflow_password},
        auth=("admin", state.mlflow_admin_password),
        timeout=30,
    )
    response.raise_for_status()


def _start_s3_endpoint(state: StackState, name: str) -> S3Server:
    """Start S3 endpoint ``name`` with its keys and record it; on failure stop it and raise."""
    s3 = S3Server(Path(state.root) / "s3", name=name)
    try:
        s3.start()
        for store_endpoint, bucket in S3_STORES.values():
            if name in (store_endpoint, "s3-hostile"):
                s3.create_bucket(bucket)
    except BaseException:
        s3.stop()
        raise
    with _STATE_LOCK:
        state.pids[name] = s3.pid
        state.s3_endpoints[name] = {
            "url": s3.url,
            "access_key_id": s3.access_key_id,
            "secret_access_key": s3.secret_access_key,
        }
    state.save()
    return s3


def _start_s3_endpoints(state: StackState) -> None:
    """Start the S3 endpoints at once, and set the workers' hostile AWS environment."""
    with ThreadPoolExecutor(max_workers=len(S3_ENDPOINTS)) as executor:
        started = {name: executor.submit(_start_s3_endpoint, state, name) for name in S3_ENDPOINTS}
        hostile = started["s3-hostile"].result()
        for future in started.values():
            future.result()
    state.worker_aws_environment = hostile_environment(hostile, Path(state.root) / "hostile-aws")
    state.save()


def airflow_cli(state: StackState, *args: str, timeout: float = 300) -> str:
    """Run ``airflow <args>`` with the server-side environment; return stdout."""
    return _run([sys.executable, "-m", "airflow", *args], env=state.airflow_env(), timeout=timeout)


def _prepare_airflow(state: StackState) -> None:
    home = Path(state.root) / "airflow"
    for directory in (home / "logs", *(home / worker for worker in WORKERS)):
        directory.mkdir(parents=True, exist_ok=True)
    (home / "passwords.json").write_text(json.dumps({"admin": state.airflow_admin_password}))
    airflow_cli(state, "db", "migrate")


def _add_connections(state: StackState) -> None:
    """Store :meth:`StackState.connections` in the metadata DB through the REST API, as the
    admin."""
    token = requests.post(
        f"{state.airflow_url}/auth/token",
        json={"username": "admin", "password": state.airflow_admin_password},
        timeout=60,
    )
    token.raise_for_status()
    for connection_id, connection in state.connections().items():
        response = requests.post(
            f"{state.airflow_url}/api/v2/connections",
            json={
                **connection,
                "connection_id": connection_id,
                "extra": json.dumps(connection["extra"]),
            },
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=60,
        )
        response.raise_for_status()


def start_airflow_service(state: StackState, service: str) -> None:
    """Launch one Airflow service (not waiting for it)."""
    airflow = [sys.executable, "-m", "airflow"]
    if service in WORKERS:
        command = [*airflow, "celery", "worker", "--celery-hostname", f"stack-{service}"]
        command += ["--concurrency", str(CELERY_WORKER_CONCURRENCY), "--skip-serve-logs"]
    elif service == "triggerer":
        command = [*airflow, "triggerer", "--skip-serve-logs"]
    else:
        command = [*airflow, service]
    _launch(state, service, command, state.airflow_env(service))


def start_api_server_replica(state: StackState, name: str) -> str:
    """Launch one more ``airflow api-server``, service ``name``, on a free port with the
    api-server's environment (same metadata DB, secrets and plugins); return its URL once its
    REST API answers. ``down`` stops it with the rest of the stack."""
    port = find_unused_port()
    url = f"http://127.0.0.1:{port}"
    env = {**state.airflow_env("api-server"), "AIRFLOW__API__PORT": str(port)}
    env["AIRFLOW__API__BASE_URL"] = url
    _launch(state, name, [sys.executable, "-m", "airflow", "api-server"], env)

    def answers() -> bool:
        return requests.get(f"{url}/api/v2/version", timeout=10).status_code == 200

    _wait(state, name, time.monotonic() + STARTUP_TIMEOUT, answers)
    return url


def wait_for_airflow(state: StackState, deadline: float, workers: tuple[str, ...]) -> None:
    """Block until the api-server reports a healthy scheduler, triggerer and dag-processor, and
    each of ``workers`` has said it is ready."""

    def healthy() -> bool:
        response = requests.get(f"{state.airflow_url}/api/v2/monitor/health", timeout=10)
        if response.status_code != 200:
            return False
        health = response.json()
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(part) or {}).get("status") == "healthy" for part in parts)

    _wait(state, "api-server", deadline, healthy)
    for worker in workers:
        log = Path(state.root) / "logs" / f"{worker}.log"
        _wait(state, worker, deadline, lambda log=log: b" ready." in log.read_bytes())


def _wait(state: StackState, name: str, deadline: float, ready: Any) -> None:
    while True:
        with contextlib.suppress(requests.RequestException, FileNotFoundError):
            if ready():
                return
        pid = state.pids.get(name)
        if pid is not None and not _alive(pid):
            raise RuntimeError(f"{name} exited during startup{log_tail(state, name)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready in time{log_tail(state, name)}")
        time.sleep(1)


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return finished == 0


def log_tail(state: StackState, name: str, lines: int = 25) -> str:
    """The last lines of a service's log, for error messages."""
    path = Path(state.root) / "logs" / f"{name}.log"
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- {path}\n" + "\n".join(text)


# --- commands -------------------------------------------------------------------------


def up(root: Path, dags_folder: Path) -> StackState:
    """Start the whole stack under ``root``; on any failure stop what was started and raise."""
    if (root / STATE_FILE).exists():
        raise SystemExit(f"a stack is recorded in {root / STATE_FILE}: run 'down' first")
    (root / "logs").mkdir(parents=True, exist_ok=True)
    from cryptography.fernet import Fernet

    state = StackState(
        root=str(root),
        dags_folder=str(dags_folder.resolve()),
        postgres_port=find_unused_port(),
        # PostgreSQL runs as its own user: its files live outside a root-only tree.
        postgres_data=str(Path(tempfile.mkdtemp(prefix="stack-postgres-")) / "data"),
        postgres_password={name: secrets.token_hex(16) for name in ("postgres", *DATABASES)},
        redis_port=find_unused_port(),
        redis_password=secrets.token_hex(16),
        mlflow_port=find_unused_port(),
        mlflow_admin_password=secrets.token_urlsafe(18),
        mlflow_airflow_password=secrets.token_urlsafe(18),
        airflow_port=find_unused_port(),
        airflow_admin_password=secrets.token_urlsafe(18),
        fernet_key=Fernet.generate_key().decode(),
        jwt_secret=secrets.token_hex(32),
        flask_secret=secrets.token_hex(32),
        log_ports={"worker": find_unused_port(), "triggerer": find_unused_port()},
        s3_mlflow_ports={server: find_unused_port() for server in MLFLOW_SERVERS[1:]},
    )
    state.save()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        _start_redis(state)
        with ThreadPoolExecutor(max_workers=1) as executor:
            s3_started = executor.submit(_start_s3_endpoints, state)
            start_postgres(
                Path(state.postgres_data),
                state.postgres_port,
                state.postgres_password["postgres"],
                {name: state.postgres_password[name] for name in DATABASES},
            )
            s3_started.result()
        _progress("PostgreSQL, Redis and the S3 endpoints started")
        with ThreadPoolExecutor(max_workers=1 + len(MLFLOW_SERVERS)) as executor:
            startups = [
                *(executor.submit(_start_mlflow_stack, state, deadline, s) for s in MLFLOW_SERVERS),
                executor.submit(_start_airflow_stack, state, deadline),
            ]
            for future in startups:
                future.result()
    except BaseException:
        down(root)
        raise
    return state


def _start_mlflow_stack(state: StackState, deadline: float, server: str) -> None:
    _prepare_mlflow(state, server)
    start_mlflow(state, server)
    wait_for_mlflow(state, deadline, server)
    _create_mlflow_user(state, server)
    _progress(f"MLflow server {server} ready at {state.mlflow_server_url(server)}")


def _start_airflow_stack(state: StackState, deadline: float) -> None:
    _prepare_airflow(state)
    _progress("Airflow metadata DB migrated")
    for service in AIRFLOW_SERVICES:
        start_airflow_service(state, service)
    wait_for_airflow(state, deadline, WORKERS)
    _add_connections(state)
    _progress(f"Airflow ready at {state.airflow_url}")


def _progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def down(root: Path) -> None:
    """Stop everything recorded under ``root`` (SIGTERM, then SIGKILL after 10 s) and remove
    PostgreSQL's data; safe to run again, and on a stack that failed to start."""
    try:
        state = StackState.load(root)
    except FileNotFoundError:
        return
    groups = list(state.pids.values())
    for pid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while any(_group_alive(pid) for pid in groups) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    stop_postgres(Path(state.postgres_data))
    (root / STATE_FILE).unlink(missing_ok=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def restart_mlflow(root: Path) -> None:
    """Start the MLflow server again on the same port and stores, and wait until it serves."""
    state = StackState.load(root)
    kill_service(state, "mlflow")
    start_mlflow(state)
    wait_for_mlflow(state, time.monotonic() + STARTUP_TIMEOUT)


def start_worker(root: Path, worker: str) -> None:
    """Start Celery worker ``worker`` again (after it was killed) and wait until it is ready."""
    state = StackState.load(root)
    kill_service(state, worker)
    log = Path(state.root) / "logs" / f"{worker}.log"
    log.rename(log.with_suffix(f".{int(time.time())}.log"))
    start_airflow_service(state, worker)
    wait_for_airflow(state, time.monotonic() + STARTUP_TIMEOUT, (worker,))


def describe(state: StackState) -> str:
    """What a user needs to open the stack's UIs and use its Airflow CLI."""
    return (
        f"Airflow UI   {state.airflow_url}   user admin, password "
        f"{state.airflow_admin_password}\n"
        f"MLflow UI    {state.mlflow_url}   user admin, password {state.mlflow_admin_password}"
        f" (Airflow's connection mlflow_default uses user airflow)\n"
        + "".join(
            f"MLflow       {state.mlflow_server_url(server)}   same users, artifacts on "
            f"{state.s3_endpoints[endpoint]['url']} bucket {bucket} (connection {server})\n"
            for server, (endpoint, bucket) in S3_STORES.items()
        )
        + f"PostgreSQL   127.0.0.1:{state.postgres_port} (databases {', '.join(DATABASES)})   "
        f"Redis 127.0.0.1:{state.redis_port}\n"
        f"Services     {', '.join(AIRFLOW_SERVICES)}, mlflow ({MLFLOW_WORKERS} workers)\n"
        f"DAGs folder  {state.dags_folder}\n"
        f"Logs         {Path(state.root) / 'logs'}\n"
        f"Airflow CLI  set -a; . {Path(state.root) / 'airflow.env'}; set +a; airflow dags list\n"
        f"Stop         bash .ci/stack.sh down --dir {state.root}"
    )


def _write_cli_env(state: StackState) -> None:
    path = Path(state.root) / "airflow.env"
    env = state.airflow_env()
    lines = [f"{key}='{value}'" for key, value in env.items() if key.startswith("AIRFLOW")]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", choices=["up", "down", "status", "restart-mlflow", "start-worker"]
    )
    parser.add_argument("worker", nargs="?", choices=WORKERS, help="for start-worker")
    parser.add_argument("--dir", type=Path, default=REPO_ROOT / ".local" / "stack")
    parser.add_argument("--dags-folder", type=Path, default=REPO_ROOT / "example_dags")
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    if args.command == "up":
        started = time.monotonic()
        state = up(root, args.dags_folder)
        _write_cli_env(state)
        print(f"stack up in {time.monotonic() - started:.0f} s\n{describe(state)}")
    elif args.command == "down":
        down(root)
        print(f"stack under {root} stopped")
    elif args.command == "status":
        print(describe(StackState.load(root)))
    elif args.command == "restart-mlflow":
        restart_mlflow(root)
    else:
        if args.worker is None:
            parser.error("start-worker needs the worker's name")
        start_worker(root, args.worker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
