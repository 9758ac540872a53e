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

"""Secrets never leave through an output: exception text, logs, stdout/stderr, XCom, rendered
template fields, OpenLineage datasets, the Test button's message, the command line.

The secrets: a database password inside the tracking URI (or in the Password field), the user
info and signature of a pre-signed model URI, basic-auth credentials that work until the
server answers 403 or 500, and ``MLFLOW_TRACKING_*`` environment variables, which a connection
must ignore."""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING, Any

import pendulum
import pytest
import requests
from airflow.sdk import DAG

from airflow_mlflow_registry.exceptions import MlflowRegistryError, MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.lineage import TaskInstanceLineage
from airflow_mlflow_registry.operators import (
    RegisterModelVersionOperator,
    SetModelVersionAliasOperator,
)
from airflow_mlflow_registry.utils.openlineage_facets import model_version_lineage
from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.bearer_proxy import ForwardingProxy, error_reply
from tests.support.cli import run_cli
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow.models.dagrun import DagRun

    from tests.conftest import UseConnection
    from tests.support.bearer_proxy import BearerProxy, ProxiedRequest, ProxyReply
    from tests.support.certs import TlsCerts
    from tests.support.mlflow_server import MlflowServer

DB_PASSWORD = "db-Pw7-never-shown"
URI_PASSWORD = "uri-Pw8-never-shown"
SIGNATURE = "sig0123456789abcdef-never-shown"
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def presigned_model_uri(path: str = "churn/model.tar") -> str:
    """An https model URI with user info and an S3-style signature in its query."""
    return (
        f"https://reader:{URI_PASSWORD}@artifacts.example.com/{path}"
        f"?X-Amz-Expires=3600&X-Amz-Signature={SIGNATURE}"
    )


def assert_nowhere(secrets: Iterable[str], **outputs: Any) -> None:
    """No secret appears in any output (each turned into text, dicts as JSON)."""
    for name, output in outputs.items():
        text = output if isinstance(output, str) else json.dumps(output, default=str)
        for secret in secrets:
            assert secret not in text, f"secret {secret[:6]}... in {name}: {text[:2000]}"


def rendered_fields(dag_run: DagRun, task_id: str) -> dict[str, Any]:
    """The rendered template fields Airflow stored for one task instance."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(RenderedTaskInstanceFields)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id)
            .one()
        )
        return dict(row.rendered_fields)


# ------------------------------------------------------------- database tracking URI (item 11)

# A PostgreSQL URI whose SQLAlchemy driver does not exist, so the store fails at once: with a
# real driver MLflow retries a refused database connection for about 100 s per client. User
# info is parsed and redacted the same way for every driver.
DB_SCHEME = "postgresql+unavailabledriver"


@pytest.mark.parametrize("password_in", ["uri", "password field"])
def test_database_tracking_uri_password_is_in_no_message_log_or_output(
    password_in: str,
    unused_port: int,
    use_connection: UseConnection,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A PostgreSQL store that cannot be reached here: every failure path shows the URI without
    its user info."""
    if password_in == "uri":
        use_connection("pg", f"{DB_SCHEME}://alice:{DB_PASSWORD}@127.0.0.1:{unused_port}/mlflow")
    else:
        use_connection(
            "pg",
            f"{DB_SCHEME}://127.0.0.1:{unused_port}/mlflow",
            login="alice",
            password=DB_PASSWORD,
        )
    hook = MlflowRegistryHook("pg")
    shown = f"{DB_SCHEME}://***@127.0.0.1:{unused_port}/mlflow"
    assert hook.tracking_uri == shown
    ok, message = hook.test_connection()
    assert not ok and message.startswith(f"MLflow at {shown}: ")
    with pytest.raises(MlflowRegistryError) as raised:
        MlflowRegistryHook("pg").get_model_version("m", 1)
    captured = capfd.readouterr()
    assert_nowhere(
        [DB_PASSWORD],
        test_button=message,
        exception=str(raised.value),
        logs=caplog.text,
        stdout=captured.out,
        stderr=captured.err,
        config=repr(hook.config),
    )


def test_cli_with_a_database_password_prints_no_secret(
    unused_port: int, airflow_env: dict[str, str]
) -> None:
    env = dict(airflow_env)
    env[connection_env_var("pg_cli")] = connection_json(
        f"{DB_SCHEME}://alice:{DB_PASSWORD}@127.0.0.1:{unused_port}/mlflow"
    )
    [result] = run_cli(env, ["--conn-id", "pg_cli", "--debug", "get-version", "m", "1"])
    assert result.code == 1
    assert_nowhere([DB_PASSWORD], stdout=result.stdout, stderr=result.stderr)


# ------------------------------------------------------------- pre-signed model URIs (item 12)


@pytest.mark.usefixtures("airflow_db")
def test_presigned_model_uri_credentials_are_not_in_xcom_rendered_fields_logs_or_lineage(
    https_sources_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    use_connection("mlflow_default", https_sources_mlflow_server.url)
    model = unique("presigned")
    with DAG(unique("dag_presigned"), schedule=None, start_date=START) as dag:
        register = RegisterModelVersionOperator(
            task_id="register", model_name=model, model_uri=presigned_model_uri()
        )
        promote = SetModelVersionAliasOperator(
            task_id="promote", model_name=model, alias="production", version=1
        )
        register >> promote
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("register", -1): "success", ("promote", -1): "success"}
    record = xcom_value(dag_run, "register")
    shown = (
        "https://***@artifacts.example.com/churn/model.tar?X-Amz-Expires=***&X-Amz-Signature=***"
    )
    assert record["source"] == shown
    assert record["lineage"]["airflow.source_uri"] == shown
    promoted = xcom_value(dag_run, "promote")
    assert promoted["source"] == shown
    lineage = model_version_lineage(record)
    captured = capfd.readouterr()
    assert_nowhere(
        [URI_PASSWORD, SIGNATURE],
        xcom=[record, promoted],
        rendered_fields=[rendered_fields(dag_run, task) for task in ("register", "promote")],
        lineage=[(d.namespace, d.name) for d in lineage.inputs + lineage.outputs],
        logs=caplog.text,
        stdout=captured.out,
        stderr=captured.err,
    )


def test_rejected_presigned_model_uri_is_redacted_in_the_error(
    https_sources_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server rejects a source with '..' and repeats it in its message."""
    use_connection("presigned_bad", https_sources_mlflow_server.url)
    with pytest.raises(MlflowRequestError) as raised:
        MlflowRegistryHook("presigned_bad").register_model_version(
            unique("presigned-bad"),
            presigned_model_uri("churn/../model.tar"),
            lineage=TaskInstanceLineage("d", "t", unique("r")),
        )
    message = str(raised.value)
    assert "https://***@artifacts.example.com/churn/../model.tar" in message
    assert_nowhere([URI_PASSWORD, SIGNATURE], exception=message, logs=caplog.text)


def test_cli_register_version_with_a_presigned_uri_prints_no_secret(
    https_sources_mlflow_server: MlflowServer, airflow_env: dict[str, str]
) -> None:
    env = dict(airflow_env)
    env[connection_env_var("presigned_cli")] = connection_json(https_sources_mlflow_server.url)
    model = unique("presigned-cli")
    common = ["--conn-id", "presigned_cli", "--debug", "register-version", model, "--model-uri"]
    registered, rejected = run_cli(
        env,
        [*common, presigned_model_uri(), "--json"],
        [*common, presigned_model_uri("churn/../model.tar")],
    )
    assert registered.code == 0, registered.stderr
    assert registered.json()["source"].startswith("https://***@artifacts.example.com/")
    assert rejected.code == 1
    assert_nowhere(
        [URI_PASSWORD, SIGNATURE],
        stdout=registered.stdout + rejected.stdout,
        stderr=registered.stderr + rejected.stderr,
    )


# -------------------------------------------------- working credentials, then 403 and 500 (15)


class EchoingGateway(ForwardingProxy):
    """Forwards to a real server. With ``echo`` set, the message of every error reply repeats
    the request, its ``Authorization`` header included, as a misbehaving gateway might (the
    error code is kept). With ``failing`` set, every request gets such a 500."""

    echo = False
    failing = False

    def _reply_to(self, request: ProxiedRequest) -> ProxyReply | None:
        reply = None if self.failing else self._forward(request)
        if reply is not None and (reply.status < 400 or not self.echo):
            return reply
        status, code = (500, "INTERNAL_ERROR") if reply is None else _error_code(reply)
        echoed = f"{request.method} {request.path} Authorization: {request.header('Authorization')}"
        return error_reply(status, code, f"gateway: {status} while handling {echoed}")


def _error_code(reply: ProxyReply) -> tuple[int, str]:
    """The status and MLflow error code of an error reply (the auth app answers in text)."""
    try:
        return reply.status, json.loads(reply.body)["error_code"]
    except (ValueError, KeyError, TypeError):
        return reply.status, {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}[reply.status]


def our_log_messages(caplog: pytest.LogCaptureFixture) -> str:
    """What this provider logged (MLflow's own exceptions, printed in tracebacks by Airflow's
    console logging, are not ours to word)."""
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("airflow_mlflow_registry")
    )


@pytest.mark.usefixtures("airflow_db")
def test_working_credentials_then_403_and_500_leave_no_secret_in_any_output(
    auth_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """alice's credentials are right; she may read but not change the admin's model (403);
    then a gateway fails (500). Errors of both kinds, with and without the gateway repeating
    her ``Authorization`` header, leave her password (and its header value) nowhere."""
    password = auth_mlflow_server.passwords["alice"]
    secrets = [password, base64.b64encode(f"alice:{password}".encode()).decode()]
    admins_model = unique("admins")
    requests.post(
        f"{auth_mlflow_server.url}/api/2.0/mlflow/registered-models/create",
        json={"name": admins_model},
        timeout=30,
        **auth_mlflow_server.admin_request_options(),
    ).raise_for_status()
    alices_model = unique("alices")
    lineage = TaskInstanceLineage("d", "t", unique("r"))
    with EchoingGateway(auth_mlflow_server.url) as gateway:
        use_connection("alice", gateway.url, login="alice", password=password, max_retries=0)
        assert MlflowRegistryHook("alice").test_connection()[0]
        with DAG(unique("dag_403"), schedule=None, start_date=START) as dag:
            for task_id, model in (("own", alices_model), ("denied", admins_model)):
                RegisterModelVersionOperator(
                    task_id=task_id, model_name=model, model_uri="s3://b/m", mlflow_conn_id="alice"
                )
        dag_run = run_dag(dag)
        assert task_states(dag_run) == {("own", -1): "success", ("denied", -1): "failed"}
        dag_output = capfd.readouterr()
        assert "permission denied (HTTP 403)" in dag_output.out + dag_output.err

        gateway.echo = True
        hook = MlflowRegistryHook("alice")
        with pytest.raises(MlflowRequestError) as denied:
            hook.register_model_version(admins_model, "s3://b/m", lineage=lineage)
        assert "permission denied (HTTP 403)" in str(denied.value)
        with pytest.raises(MlflowRequestError) as missing:
            hook.get_model_version(alices_model, 99)
        # The gateway's echo reaches the provider's message, redacted.
        assert "RESOURCE_DOES_NOT_EXIST" in str(missing.value)
        assert "Authorization: Basic ***" in str(missing.value)
        gateway.failing = True
        with pytest.raises(MlflowRequestError) as failed:
            hook.get_model_version(alices_model, 1)
        assert "INTERNAL_ERROR" in str(failed.value)
        ok, message = hook.test_connection()
        assert not ok and "alice" not in message
    hook_output = capfd.readouterr()
    assert_nowhere(
        secrets,
        error_403=str(denied.value),
        error_404=str(missing.value),
        error_500=str(failed.value),
        test_button=message,
        xcom=xcom_value(dag_run, "own"),
        rendered_fields=[rendered_fields(dag_run, task) for task in ("own", "denied")],
        dag_run_stdout=dag_output.out,
        dag_run_stderr=dag_output.err,
        hook_stdout=hook_output.out,
        hook_stderr=hook_output.err,
        provider_logs=our_log_messages(caplog),
    )


# --------------------------------------------------- MLflow's environment variables (item 15)


def test_mlflow_environment_credentials_are_ignored_by_a_connection_without_its_own(
    auth_mlflow_server: MlflowServer,
    bearer_proxy: BearerProxy,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the admin's credentials and the proxy's token in the environment, plain MLflow gets
    in; a connection without credentials is refused."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", auth_mlflow_server.admin_username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", auth_mlflow_server.admin_password)
    auth_mlflow_server.client().search_registered_models(max_results=1)
    use_connection("no_basic_auth", auth_mlflow_server.url)
    ok, message = MlflowRegistryHook("no_basic_auth").test_connection()
    assert not ok and "HTTP 401" in message

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", bearer_proxy.token)
    MlflowClient(tracking_uri=bearer_proxy.url).search_registered_models(max_results=1)
    use_connection("no_token", bearer_proxy.url)
    ok, message = MlflowRegistryHook("no_token").test_connection()
    assert not ok and "HTTP 401" in message


@pytest.mark.parametrize(
    ("variable", "server"),
    [
        ("MLFLOW_TRACKING_INSECURE_TLS", "https"),
        ("MLFLOW_TRACKING_SERVER_CERT_PATH", "https"),
        ("MLFLOW_TRACKING_CLIENT_CERT_PATH", "mtls"),
    ],
)
def test_mlflow_environment_tls_settings_are_ignored_by_a_connection_without_its_own(
    variable: str,
    server: str,
    https_mlflow_server: MlflowServer,
    mtls_mlflow_server: MlflowServer,
    tls_certs: TlsCerts,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each variable lets plain MLflow through; the connection keeps its own TLS settings (the
    system trust store, no client certificate) and fails."""
    from mlflow import MlflowClient

    values = {
        "MLFLOW_TRACKING_INSECURE_TLS": "true",
        "MLFLOW_TRACKING_SERVER_CERT_PATH": str(tls_certs.ca_pem),
        "MLFLOW_TRACKING_CLIENT_CERT_PATH": str(tls_certs.client_pem),
    }
    url = (https_mlflow_server if server == "https" else mtls_mlflow_server).url
    monkeypatch.setenv(variable, values[variable])
    if server == "mtls":
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tls_certs.ca_pem))
    MlflowClient(tracking_uri=url).search_registered_models(max_results=1)
    extra = {"ca_bundle_path": str(tls_certs.ca_pem)} if server == "mtls" else {}
    use_connection("env_tls", url, max_retries=0, **extra)
    ok, message = MlflowRegistryHook("env_tls").test_connection()
    assert not ok
    assert ("TLS error" in message) if server == "https" else ("could not connect" in message)


def test_mlflow_tracking_and_registry_uri_variables_do_not_redirect_a_connection(
    mlflow_server: MlflowServer,
    unused_port: int,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{unused_port}")
    use_connection("env_uris", mlflow_server.url)
    ok, message = MlflowRegistryHook("env_uris").test_connection()
    assert ok, message
    assert os.environ["MLFLOW_TRACKING_URI"].endswith(str(unused_port))
