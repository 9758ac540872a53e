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
- Airflow on the ``airflow`` database with the CeleryExecutor: api-server, scheduler,
  dag-processor, a standalone triggerer and two Celery workers with distinct hostnames.

The ``mlflow_default`` connection (user ``airflow``) is stored, encrypted, in the metadata
DB. The Celery workers get neither the metadata DB's address nor the connection: their
task processes read it through the api-server (Airflow 3's Task SDK), and their results go
to Redis. No process gets an ``MLFLOW_TRACKING_*`` variable.

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
DATABASES = ("airflow", "mlflow")  # each owned by a role of the same name
# Generous: a loaded two-core machine needs minutes for the migrations and imports.
STARTUP_TIMEOUT = 480.0
WORKER_HOSTNAME_VARIABLE = "STACK_WORKER_HOSTNAME"
_STATE_LOCK = threading.Lock()  # MLflow and Airflow start in two threads


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
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def airflow_db_url(self) -> str:
        return self._database_url("airflow", "postgresql+psycopg")

    @property
    def mlflow_db_url(self) -> str:
        return self._database_url("mlflow", "postgresql+psycopg")

    def _database_url(self, name: str, scheme: str) -> str:
        password = self.postgres_password[name]
        return f"{scheme}://{name}:{password}@127.0.0.1:{self.postgres_port}/{name}"

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

    def mlflow_env(self) -> dict[str, str]:
        root = Path(self.root) / "mlflow"
        return {
            **_clean_environ(),
            "MLFLOW_AUTH_CONFIG_PATH": str(root / "basic_auth.ini"),
            "MLFLOW_AUTH_ADMIN_USERNAME": "admin",
            "MLFLOW_AUTH_ADMIN_PASSWORD": self.mlflow_admin_password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": self.flask_secret,
            # Background job consumers (huey) are not used and cost seconds of startup.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }

    def mlflow_connection(self) -> dict[str, Any]:
        """The ``mlflow_default`` connection stored in Airflow's metadata DB."""
        return {
            "conn_type": "mlflow",
            "host": self.mlflow_url,
            "login": "airflow",
            "password": self.mlflow_airflow_password,
            "extra": {"timeout": 30},
        }


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


def _prepare_mlflow(state: StackState) -> None:
    """Create the tracking and auth schemas once, before several server workers start (each
    worker would otherwise run the migrations at the same time)."""
    root = Path(state.root) / "mlflow"
    (root / "artifacts").mkdir(parents=True, exist_ok=True)
    (root / "basic_auth.ini").write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {state.mlflow_db_url}\n"
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
    _run(
        [sys.executable, "-c", script, state.mlflow_db_url, str(root / "artifacts")],
        env=state.mlflow_env(),
    )


def start_mlflow(state: StackState) -> None:
    """Launch ``mlflow server`` (not waiting for it) on the stack's port and stores."""
    root = Path(state.root) / "mlflow"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", state.mlflow_db_url,
        "--artifacts-destination", str(root / "artifacts"), "--serve-artifacts",
        "--app-name", "basic-auth",
        "--host", "127.0.0.1", "--port", str(state.mlflow_port),
        "--workers", str(MLFLOW_WORKERS),
    ]  # fmt: skip
    _launch(state, "mlflow", command, state.mlflow_env())


def wait_for_mlflow(state: StackState, deadline: float) -> None:
    """Block until the MLflow server answers an authenticated registry request."""
    admin = ("admin", state.mlflow_admin_password)
    _wait(
        state,
        "mlflow",
        deadline,
        lambda: (
            requests.get(
                f"{state.mlflow_url}/api/2.0/mlflow/registered-models/search",
                params={"max_results": 1},
                auth=admin,
                timeout=30,
            ).status_code
            == 200
        ),
    )


def _create_mlflow_user(state: StackState) -> None:
    response = requests.post(
        f"{state.mlflow_url}/api/2.0/mlflow/users/create",
        json={"username": "airflow", "password": state.mlflow_airflow_password},
        auth=("admin", state.mlflow_admin_password),
        timeout=30,
    )
    response.raise_for_status()


def airflow_cli(state: StackState, *args: str, timeout: float = 300) -> str:
    """Run ``airflow <args>`` with the server-side environment; return stdout."""
    return _run([sys.executable, "-m", "airflow", *args], env=state.airflow_env(), timeout=timeout)


def _prepare_airflow(state: StackState) -> None:
    home = Path(state.root) / "airflow"
    for directory in (home / "logs", *(home / worker for worker in WORKERS)):
        directory.mkdir(parents=True, exist_ok=True)
    (home / "passwords.json").write_text(json.dumps({"admin": state.airflow_admin_password}))
    airflow_cli(state, "db", "migrate")


def _add_mlflow_connection(state: StackState) -> None:
    """Store ``mlflow_default`` in the metadata DB through the REST API, as the admin."""
    token = requests.post(
        f"{state.airflow_url}/auth/token",
        json={"username": "admin", "password": state.airflow_admin_password},
        timeout=60,
    )
    token.raise_for_status()
    connection = state.mlflow_connection()
    response = requests.post(
        f"{state.airflow_url}/api/v2/connections",
        json={
            **connection,
            "connection_id": "mlflow_default",
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
        postgres_password={
            name: secrets.token_hex(16) for name in ("postgres", "airflow", "mlflow")
        },
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
    )
    state.save()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        _start_redis(state)
        start_postgres(
            Path(state.postgres_data),
            state.postgres_port,
            state.postgres_password["postgres"],
            {name: state.postgres_password[name] for name in DATABASES},
        )
        _progress("PostgreSQL and Redis started")
        with ThreadPoolExecutor(max_workers=2) as executor:
            startups = [
                executor.submit(_start_mlflow_stack, state, deadline),
                executor.submit(_start_airflow_stack, state, deadline),
            ]
            for future in startups:
                future.result()
    except BaseException:
        down(root)
        raise
    return state


def _start_mlflow_stack(state: StackState, deadline: float) -> None:
    _prepare_mlflow(state)
    start_mlflow(state)
    wait_for_mlflow(state, deadline)
    _create_mlflow_user(state)
    _progress(f"MLflow ready at {state.mlflow_url}")


def _start_airflow_stack(state: StackState, deadline: float) -> None:
    _prepare_airflow(state)
    _progress("Airflow metadata DB migrated")
    for service in AIRFLOW_SERVICES:
        start_airflow_service(state, service)
    wait_for_airflow(state, deadline, WORKERS)
    _add_mlflow_connection(state)
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
        f"PostgreSQL   127.0.0.1:{state.postgres_port} (databases airflow, mlflow)   "
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
