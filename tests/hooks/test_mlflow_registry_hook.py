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

"""MlflowRegistryHook against real `mlflow server` processes: auth, TLS, test_connection."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.exceptions import MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.bearer_proxy import BearerProxy
    from tests.support.certs import TlsCerts
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer
    from tests.support.silent_server import SilentServer


def connection_test_failure(conn_id: str) -> str:
    """What the UI's Test button says for ``conn_id``: ``test_connection()``'s message.

    :param conn_id: the Airflow connection to test.
    :return: the message of the failure.
    :raises AssertionError: the test reported success, or raised instead of answering.
    """
    ok, message = MlflowRegistryHook(mlflow_conn_id=conn_id).test_connection()
    assert not ok, message
    return message


def test_get_conn_returns_one_cached_client_that_reaches_the_server(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    use_connection("plain", mlflow_server.url)
    hook = MlflowRegistryHook(mlflow_conn_id="plain")
    client = hook.get_conn()
    assert hook.get_conn() is client
    assert client.tracking_uri == mlflow_server.url
    client.create_registered_model("hook-cached-client")
    assert client.get_registered_model("hook-cached-client").name == "hook-cached-client"


def test_building_and_using_a_client_leaves_os_environ_untouched(
    auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    use_connection("alice_env", auth_mlflow_server.url, **auth_mlflow_server.sign_in_as("alice"))
    before = dict(os.environ)
    client = MlflowRegistryHook(mlflow_conn_id="alice_env").get_conn()
    client.search_registered_models(max_results=1)
    assert dict(os.environ) == before
    assert not any(key.startswith("MLFLOW_TRACKING_") for key in os.environ)


def test_basic_auth_acts_as_the_connection_user(
    auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    use_connection("alice", auth_mlflow_server.url, **auth_mlflow_server.sign_in_as("alice"))
    use_connection("bob", auth_mlflow_server.url, **auth_mlflow_server.sign_in_as("bob"))
    alice = MlflowRegistryHook(mlflow_conn_id="alice").get_conn()
    bob = MlflowRegistryHook(mlflow_conn_id="bob").get_conn()
    alice.create_registered_model("owned-by-alice")
    alice.set_registered_model_tag("owned-by-alice", "k", "v")
    with pytest.raises(Exception, match="403"):
        bob.set_registered_model_tag("owned-by-alice", "k", "bob-was-here")


@pytest.mark.compat
def test_test_connection_succeeds_with_good_credentials(
    auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    use_connection("good", auth_mlflow_server.url, **auth_mlflow_server.sign_in_as("alice"))
    ok, message = MlflowRegistryHook(mlflow_conn_id="good").test_connection()
    assert ok, message
    assert auth_mlflow_server.url in message


@pytest.mark.compat
def test_test_connection_reports_wrong_password_without_leaking_it(
    auth_mlflow_server: MlflowServer,
    use_connection: UseConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "wrong-password-0123456789"
    use_connection("wrong_pw", auth_mlflow_server.url, login="alice", password=wrong)
    caplog.set_level(logging.DEBUG)
    message = connection_test_failure("wrong_pw")
    assert "authentication failed" in message
    assert wrong not in message and wrong not in caplog.text


def test_test_connection_reports_an_unreachable_port(
    unused_port: int, use_connection: UseConnection
) -> None:
    use_connection("dead", f"http://127.0.0.1:{unused_port}", timeout=30, max_retries=5)
    message = connection_test_failure("dead")
    assert "could not connect" in message


def test_test_connection_sends_one_request_whatever_the_connections_retries(
    fault_proxy: FaultProxy, use_connection: UseConnection
) -> None:
    """Every request is answered 503 (retried by MLflow's transport when retries are on): the
    connection allows 5 retries, the test sends its probe once and reports the failure, so the
    UI's Test button answers at once."""
    use_connection("unavailable", fault_proxy.url, timeout=30, max_retries=5)
    fault_proxy.add_fault("GET", "/api/", "503_before_forward", times=None)
    message = connection_test_failure("unavailable")
    assert "503" in message or "unavailable" in message.lower(), message
    assert len(fault_proxy.requests_seen) == 1, fault_proxy.requests_seen


def test_test_connection_on_a_silent_server_times_out_once_without_the_connections_retries(
    silent_server: SilentServer, use_connection: UseConnection
) -> None:
    """The connection allows 60 s and 5 retries; the test sends one request (one connection
    accepted, no retry) and gives up at its own short timeout, well before the connection's."""
    use_connection("silent", silent_server.url, timeout=60, max_retries=5)
    accepted = silent_server.connections_accepted
    started = time.monotonic()
    message = connection_test_failure("silent")
    elapsed = time.monotonic() - started
    assert "timeout" in message
    assert silent_server.connections_accepted == accepted + 1
    assert elapsed < 60, elapsed  # the connection's own timeout would take at least 60 s


def test_test_connection_reports_invalid_connection_instead_of_raising(
    use_connection: UseConnection,
) -> None:
    use_connection("bad_scheme", "ftp://mlflow.example.com")
    message = connection_test_failure("bad_scheme")
    assert "Tracking URI" in message


def test_dead_server_fails_well_under_a_minute_with_default_settings(
    unused_port: int, use_connection: UseConnection
) -> None:
    use_connection("dead_default", f"http://127.0.0.1:{unused_port}")
    hook = MlflowRegistryHook(mlflow_conn_id="dead_default")
    started = time.monotonic()
    with pytest.raises(MlflowRequestError, match="could not connect"):
        hook.get_model_version("any-model", 1)
    assert time.monotonic() - started < 30


def test_bearer_token_reaches_server_through_token_checking_proxy(
    bearer_proxy: BearerProxy, use_connection: UseConnection
) -> None:
    use_connection("token_ok", bearer_proxy.url, token=bearer_proxy.token)
    use_connection("token_bad", bearer_proxy.url, token="not-the-token-xyz")
    ok, message = MlflowRegistryHook(mlflow_conn_id="token_ok").test_connection()
    assert ok, message
    message = connection_test_failure("token_bad")
    assert "authentication failed" in message and "not-the-token-xyz" not in message


def test_databricks_connection_sends_token_to_workspace_host(
    bearer_proxy: BearerProxy, use_connection: UseConnection
) -> None:
    """Databricks' cloud cannot run here: the token-checking proxy in front of a local MLflow
    server stands in for the workspace (same REST API for runs and the workspace registry)."""
    use_connection(
        "dbx",
        "databricks",
        databricks_host=bearer_proxy.url,
        token=bearer_proxy.token,
        registry_uri="databricks",
    )
    hook = MlflowRegistryHook(mlflow_conn_id="dbx")
    client = hook.get_conn()
    bearer_proxy.reset_counts()
    client.search_registered_models(max_results=1)
    client.search_experiments(max_results=1)
    assert bearer_proxy.forwarded_count == 2


def test_databricks_unity_catalog_store_gets_the_connection_credentials(
    use_connection: UseConnection,
) -> None:
    """No Unity Catalog here: check, without network, that the UC store MLflow builds for the
    default `databricks-uc` registry reads this connection's credentials, not the env's."""
    use_connection(
        "dbx_uc", "databricks", databricks_host="https://adb-1.2.example.net", token="dapi-x1"
    )
    client = MlflowRegistryHook(mlflow_conn_id="dbx_uc").get_conn()
    store = client._get_registry_client().store
    for creds in (store.get_host_creds(), store.get_tracking_host_creds()):
        assert (creds.host, creds.token) == ("https://adb-1.2.example.net", "dapi-x1")


class TestTls:
    @pytest.mark.compat
    def test_https_with_ca_bundle_succeeds(
        self, https_mlflow_server: MlflowServer, tls_certs: TlsCerts, use_connection: UseConnection
    ) -> None:
        use_connection("tls_ca", https_mlflow_server.url, ca_bundle_path=str(tls_certs.ca_pem))
        hook = MlflowRegistryHook(mlflow_conn_id="tls_ca")
        ok, message = hook.test_connection()
        assert ok, message
        hook.get_conn().create_registered_model("over-tls")

    def test_https_without_ca_bundle_fails_with_tls_message(
        self, https_mlflow_server: MlflowServer, use_connection: UseConnection
    ) -> None:
        use_connection("tls_none", https_mlflow_server.url)
        message = connection_test_failure("tls_none")
        assert "TLS" in message and "ca_bundle_path" in message

    def test_https_with_wrong_ca_fails_with_tls_message(
        self, https_mlflow_server: MlflowServer, tls_certs: TlsCerts, use_connection: UseConnection
    ) -> None:
        use_connection(
            "tls_wrong", https_mlflow_server.url, ca_bundle_path=str(tls_certs.other_ca_pem)
        )
        hook = MlflowRegistryHook(mlflow_conn_id="tls_wrong")
        ok, message = hook.test_connection()
        assert not ok and "TLS" in message
        with pytest.raises(MlflowRequestError, match="TLS"):
            hook.get_model_version("m", 1)

    def test_insecure_tls_succeeds_and_warns_each_time_a_client_is_built(
        self,
        https_mlflow_server: MlflowServer,
        use_connection: UseConnection,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        use_connection("tls_insecure", https_mlflow_server.url, insecure_tls=True)
        for _ in range(2):
            ok, message = MlflowRegistryHook(mlflow_conn_id="tls_insecure").test_connection()
            assert ok, message
        warnings = [r for r in caplog.records if "verification is OFF" in r.getMessage()]
        assert len(warnings) == 2
        assert all(r.levelno == logging.WARNING for r in warnings)

    def test_mutual_tls_needs_the_client_certificate(
        self, mtls_mlflow_server: MlflowServer, tls_certs: TlsCerts, use_connection: UseConnection
    ) -> None:
        use_connection(
            "mtls_ok",
            mtls_mlflow_server.url,
            ca_bundle_path=str(tls_certs.ca_pem),
            client_cert_path=str(tls_certs.client_pem),
        )
        use_connection("mtls_no_cert", mtls_mlflow_server.url, ca_bundle_path=str(tls_certs.ca_pem))
        ok, message = MlflowRegistryHook(mlflow_conn_id="mtls_ok").test_connection()
        assert ok, message
        message = connection_test_failure("mtls_no_cert")
        assert "TLS" in message or "could not connect" in message


def test_request_errors_name_the_model_and_never_the_secret(
    auth_mlflow_server: MlflowServer,
    bearer_proxy: BearerProxy,
    use_connection: UseConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_password = "wrong-password-abcdef123"
    wrong_token = "wrong-token-abcdef123456"
    use_connection("err_pw", auth_mlflow_server.url, login="alice", password=wrong_password)
    use_connection("err_token", bearer_proxy.url, token=wrong_token)
    for conn_id, secret in (("err_pw", wrong_password), ("err_token", wrong_token)):
        hook = MlflowRegistryHook(mlflow_conn_id=conn_id)
        with pytest.raises(MlflowRequestError) as raised:
            hook.register_model_version("secret-free-model", "s3://bucket/m")
        message = str(raised.value)
        assert "secret-free-model" in message and "authentication failed" in message
        assert secret not in message and secret not in repr(raised.value)
        assert secret not in caplog.text
