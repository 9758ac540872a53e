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

"""Bad input, row by row: each mistake in a connection, an operator argument or a hook call
fails with the documented error type, a message naming the field to fix, and no secret.

Connection rows reach real servers where the mistake only shows there (wrong CA, wrong
password, unreachable or silent host); argument rows fail before any request."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from airflow.exceptions import AirflowNotFoundException

from airflow_mlflow_registry.exceptions import MlflowConnectionConfigError, MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.lineage import TaskInstanceLineage
from airflow_mlflow_registry.operators import RegisterModelVersionOperator
from tests.conftest import airflow_settings
from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.cli import CLI, CLI_TIMEOUT_SECONDS, CliResult, kill_all, run_cli_in_process
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.conftest import UseConnection
    from tests.support.certs import TlsCerts
    from tests.support.mlflow_server import MlflowServer
    from tests.support.silent_server import SilentServer

pytestmark = pytest.mark.reliability

PASSWORD = "pw-Xq7-not-for-logs"
TOKEN = "tok-Zr9-not-for-logs"
MISSING_RUN_ID = "0123456789abcdef0123456789abcdef"


@dataclass
class Servers:
    """What a row may point a connection at."""

    plain: MlflowServer
    auth: MlflowServer
    https: MlflowServer
    certs: TlsCerts
    unused_port: int
    silent: SilentServer
    tmp_path: Path
    use_connection: UseConnection


@dataclass(frozen=True)
class Row:
    """``act`` makes the mistake and must raise ``error`` with every string of ``names`` in its
    message (case-insensitive)."""

    act: Callable[[Servers], Any]
    error: type[BaseException]
    names: tuple[str, ...]


def register_through(conn_id: str, host: str, **fields: Any) -> Callable[[Servers], Any]:
    """A row action: define connection ``conn_id`` and register a version through it."""

    def act(servers: Servers) -> Any:
        servers.use_connection(conn_id, host.format(s=servers), **fields)
        hook = MlflowRegistryHook(conn_id)
        return hook.register_model_version(
            "bad-input", "s3://bucket/m", lineage=TaskInstanceLineage("d", "t", unique("r"))
        )

    return act


def hook_call(**overrides: Any) -> Callable[[Servers], Any]:
    """A row action: ``register_model_version`` on the plain server with ``overrides`` on
    valid arguments."""

    def act(servers: Servers) -> Any:
        servers.use_connection("bad_args", servers.plain.url)
        arguments: dict[str, Any] = {"model_name": unique("bad"), "model_uri": "s3://bucket/m"}
        arguments.update(overrides)
        lineage = TaskInstanceLineage("d", "t", unique("r"))
        return MlflowRegistryHook("bad_args").register_model_version(**arguments, lineage=lineage)

    return act


def operator(**overrides: Any) -> Callable[[Servers], Any]:
    """A row action: build the operator (as at DAG parse) with ``overrides``."""

    def act(servers: Servers) -> Any:
        arguments: dict[str, Any] = {"model_name": "m", "model_uri": "s3://bucket/m"}
        arguments.update(overrides)
        return RegisterModelVersionOperator(task_id=unique("t"), **arguments)

    return act


def unreadable_ca(servers: Servers) -> Any:
    missing = servers.tmp_path / "no-such-ca.pem"
    servers.use_connection("bad_ca_path", servers.https.url, ca_bundle_path=str(missing))
    return MlflowRegistryHook("bad_ca_path").get_conn()


def wrong_ca(servers: Servers) -> Any:
    ca = str(servers.certs.other_ca_pem)
    return register_through("wrong_ca", "{s.https.url}", ca_bundle_path=ca)(servers)


def wrong_password(servers: Servers) -> Any:
    return register_through("wrong_pw", "{s.auth.url}", login="alice", password=PASSWORD)(servers)


def missing_connection(servers: Servers) -> Any:
    return MlflowRegistryHook("no_such_mlflow_conn").config


ROWS: dict[str, Row] = {
    # --- the connection
    "unknown URI scheme": Row(
        register_through("ftp_scheme", "ftp://127.0.0.1/x"),
        MlflowConnectionConfigError,
        ("Tracking URI", "ftp"),
    ),
    "empty tracking URI": Row(
        register_through("empty_host", ""), MlflowConnectionConfigError, ("Tracking URI",)
    ),
    "credentials inside the URI": Row(
        register_through("uri_creds", f"http://alice:{PASSWORD}@127.0.0.1:1"),
        MlflowConnectionConfigError,
        ("Tracking URI", "credentials"),
    ),
    "missing connection id": Row(
        missing_connection, AirflowNotFoundException, ("no_such_mlflow_conn",)
    ),
    "token together with a password": Row(
        register_through("tok_pw", "{s.plain.url}", login="a", password=PASSWORD, token=TOKEN),
        MlflowConnectionConfigError,
        ("token", "Password"),
    ),
    "username without password": Row(
        register_through("user_only", "{s.plain.url}", login="alice"),
        MlflowConnectionConfigError,
        ("Password",),
    ),
    "insecure TLS with a CA bundle": Row(
        lambda s: register_through(
            "insecure_ca", "{s.https.url}", insecure_tls=True, ca_bundle_path=str(s.certs.ca_pem)
        )(s),
        MlflowConnectionConfigError,
        ("insecure_tls", "ca_bundle_path"),
    ),
    "insecure_tls not a boolean": Row(
        register_through("insecure_maybe", "{s.https.url}", insecure_tls="maybe"),
        MlflowConnectionConfigError,
        ("insecure_tls",),
    ),
    "unreadable CA path": Row(
        unreadable_ca, MlflowConnectionConfigError, ("ca_bundle_path", "readable on every")
    ),
    "tracking URI without a scheme": Row(
        register_through("no_scheme", "mlflow.internal:5000"),
        MlflowConnectionConfigError,
        ("Tracking URI", "https://mlflow.internal:5000"),
    ),
    "databricks without workspace URL": Row(
        register_through("dbx", "databricks", token=TOKEN),
        MlflowConnectionConfigError,
        ("databricks_host",),
    ),
    "negative timeout": Row(
        register_through("neg_timeout", "{s.plain.url}", timeout=-5),
        MlflowConnectionConfigError,
        ("timeout",),
    ),
    "retries out of range": Row(
        register_through("many_retries", "{s.plain.url}", max_retries=99),
        MlflowConnectionConfigError,
        ("max_retries",),
    ),
    "unreachable host": Row(
        register_through("refused", "http://127.0.0.1:{s.unused_port}", max_retries=0),
        MlflowRequestError,
        ("could not connect", "Tracking URI", "bad-input"),
    ),
    "silent host": Row(
        register_through("silent", "{s.silent.url}", timeout=1, max_retries=0),
        MlflowRequestError,
        ("timeout", "bad-input"),
    ),
    "wrong CA": Row(wrong_ca, MlflowRequestError, ("TLS error", "ca_bundle_path", "bad-input")),
    "wrong password": Row(
        wrong_password, MlflowRequestError, ("HTTP 401", "Username/Password", "bad-input")
    ),
    # --- operator arguments, checked when the DAG is parsed
    "empty model name": Row(operator(model_name=" "), ValueError, ("model_name",)),
    "model name with a slash": Row(operator(model_name="team/churn"), ValueError, ("model_name",)),
    "unsupported model URI scheme": Row(
        operator(model_uri="ftp://host/model"), ValueError, ("model_uri", "scheme")
    ),
    "runs:/ without artifact path": Row(
        operator(model_uri=f"runs:/{MISSING_RUN_ID}"), ValueError, ("model_uri", "artifact path")
    ),
    "non-string tag value": Row(operator(tags={"config": {"lr": 0.1}}), ValueError, ("tags",)),
    "tag key too long": Row(operator(tags={"k" * 251: "v"}), ValueError, ("tags", "250")),
    "tag key with the reserved prefix": Row(
        operator(tags={"airflow.dag_id": "x"}), ValueError, ("tags", "airflow.")
    ),
    "alias with illegal characters": Row(operator(aliases=["prod!"]), ValueError, ("aliases",)),
    "reserved alias": Row(operator(aliases=["latest"]), ValueError, ("aliases", "reserved")),
    "negative wait": Row(
        operator(await_registration_for=-1), ValueError, ("await_registration_for",)
    ),
    # --- hook calls at run time
    "tag value too long": Row(hook_call(tags={"notes": "x" * 5001}), ValueError, ("tags",)),
    "aliases given as one string": Row(hook_call(aliases="staging"), ValueError, ("aliases",)),
    "both model_uri and run_search missing": Row(
        hook_call(model_uri=None), ValueError, ("model_uri", "run_search")
    ),
    "runs:/ URI and run_id naming different runs": Row(
        hook_call(model_uri=f"runs:/{MISSING_RUN_ID}/model", run_id="f" * 32),
        MlflowRequestError,
        (MISSING_RUN_ID, "run_id", "INVALID_PARAMETER_VALUE"),
    ),
}


@pytest.mark.parametrize("row_name", list(ROWS))
def test_bad_input_fails_with_named_field_and_no_secret(
    row_name: str,
    mlflow_server: MlflowServer,
    auth_mlflow_server: MlflowServer,
    https_mlflow_server: MlflowServer,
    tls_certs: TlsCerts,
    unused_port: int,
    silent_server: SilentServer,
    tmp_path: Path,
    use_connection: UseConnection,
) -> None:
    row = ROWS[row_name]
    servers = Servers(
        mlflow_server,
        auth_mlflow_server,
        https_mlflow_server,
        tls_certs,
        unused_port,
        silent_server,
        tmp_path,
        use_connection,
    )
    with pytest.raises(row.error) as raised:
        row.act(servers)
    message = str(raised.value)
    for name in row.names:
        assert name.lower() in message.lower(), f"{name!r} not in: {message}"
    secrets = (PASSWORD, TOKEN, *auth_mlflow_server.passwords.values())
    for secret in secrets:
        assert secret not in message, f"secret in: {message}"


def test_runs_uri_naming_a_missing_run_is_registered_because_the_server_does_not_check(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """Pins a gap users should know about: MLflow 3.17's server accepts ``runs:/<id>/...`` for a
    run that does not exist (it only checks that ``run_id`` matches the URI), and the hook sends
    no extra request to check it."""
    use_connection("missing_run", mlflow_server.url)
    record = MlflowRegistryHook("missing_run").register_model_version(
        unique("missing-run"),
        f"runs:/{MISSING_RUN_ID}/model",
        lineage=TaskInstanceLineage("d", "t", unique("r")),
    )
    assert (record["run_id"], record["status"]) == (MISSING_RUN_ID, "READY")


# --- the command line: every process of the table runs at once (each spends seconds importing)

GET_V1 = ("get-version", "m", "1")
REGISTER = ("register-version", "m", "--model-uri", "s3://bucket/m")


@dataclass(frozen=True)
class CliRow:
    """``args`` run with connection ``cli_bad`` set to ``connection`` (host, with ``{plain}``,
    ``{auth}`` or ``{port}`` for the test servers, and fields; ``None``: left undefined) must
    exit with ``code`` and one stderr line naming every ``names``. Rows with a secret in the
    connection run as real CLI processes (every byte any import or logger writes is seen);
    the others through ``cli.main`` in this process."""

    args: tuple[str, ...]
    connection: tuple[str, dict[str, Any]] | None
    code: int
    names: tuple[str, ...]

    @property
    def has_secret(self) -> bool:
        fields = self.connection[1] if self.connection else {}
        return bool(fields.get("password") or fields.get("token"))


PLAIN = "{plain}"
CLI_ROWS: dict[str, CliRow] = {
    "cli: token together with a password": CliRow(
        GET_V1, (PLAIN, {"login": "a", "password": PASSWORD, "token": TOKEN}), 2, ("token",)
    ),
    "cli: unknown URI scheme": CliRow(GET_V1, ("ftp://127.0.0.1/x", {}), 2, ("Tracking URI",)),
    "cli: missing connection": CliRow(GET_V1, None, 2, ("cli_bad", "AIRFLOW_CONN_CLI_BAD")),
    "cli: negative timeout": CliRow(GET_V1, (PLAIN, {"timeout": -1}), 2, ("timeout",)),
    "cli: model name with a slash": CliRow(
        ("register-version", "team/churn", "--model-uri", "s3://bucket/m"),
        (PLAIN, {}),
        2,
        ("model_name", "team/churn"),
    ),
    "cli: runs:/ without artifact path": CliRow(
        ("register-version", "m", "--model-uri", f"runs:/{MISSING_RUN_ID}"),
        (PLAIN, {}),
        2,
        ("model_uri", "artifact path"),
    ),
    "cli: alias with illegal characters": CliRow(
        (*REGISTER, "--alias", "prod!"), (PLAIN, {}), 2, ("alias", "prod!")
    ),
    "cli: date that is not a date": CliRow(
        ("backfill", "m", "--experiment", "e", "--from", "yesterday", "--to", "2026-01-01"),
        (PLAIN, {}),
        2,
        ("--from", "yesterday"),
    ),
    "cli: unreachable host": CliRow(
        GET_V1, ("http://127.0.0.1:{port}", {"max_retries": 0}), 1, ("could not connect",)
    ),
    "cli: wrong password": CliRow(
        GET_V1, ("{auth}", {"login": "alice", "password": PASSWORD}), 1, ("HTTP 401",)
    ),
}


@pytest.fixture(scope="module")
def cli_results(
    mlflow_server: MlflowServer, auth_mlflow_server: MlflowServer, unused_port: int
) -> dict[str, CliResult]:
    """Every row of ``CLI_ROWS``: the rows with a secret as CLI processes, all at once (each
    one still running when one exceeds ``CLI_TIMEOUT_SECONDS`` is killed), meanwhile the
    others in this process."""
    hosts = {"plain": mlflow_server.url, "auth": auth_mlflow_server.url, "port": unused_port}

    def environment(row: CliRow) -> dict[str, str]:
        env = {**os.environ, **airflow_settings()}
        env.pop(connection_env_var("cli_bad"), None)
        if row.connection is not None:
            host, fields = row.connection
            env[connection_env_var("cli_bad")] = connection_json(host.format(**hosts), **fields)
        return env

    processes = {
        name: subprocess.Popen(
            [str(CLI), "--conn-id", "cli_bad", *row.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(row),
        )
        for name, row in CLI_ROWS.items()
        if row.has_secret
    }
    results = {}
    try:
        for name, row in CLI_ROWS.items():
            if not row.has_secret:
                (results[name],) = run_cli_in_process(
                    environment(row), ["--conn-id", "cli_bad", *row.args]
                )
        for name, process in processes.items():
            stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
            results[name] = CliResult(process.returncode, stdout, stderr)
    finally:
        kill_all(list(processes.values()))
    return results


@pytest.mark.parametrize("row_name", list(CLI_ROWS))
def test_cli_bad_input_exits_with_one_line_naming_the_field_and_no_secret(
    row_name: str,
    cli_results: dict[str, CliResult],
    auth_mlflow_server: MlflowServer,
) -> None:
    row, result = CLI_ROWS[row_name], cli_results[row_name]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == row.code, result
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for name in row.names:
        assert name.lower() in lines[0].lower(), f"{name!r} not in: {lines[0]}"
    for secret in (PASSWORD, TOKEN, *auth_mlflow_server.passwords.values()):
        assert secret not in result.stdout + result.stderr
