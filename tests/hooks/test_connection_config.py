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

"""MlflowConnectionConfig: every way to write a connection, and every validation error."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from airflow_mlflow_registry.exceptions import MlflowConnectionConfigError
from airflow_mlflow_registry.hooks.client.connection_config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_POOL_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    MlflowConnectionConfig,
)

SECRET = "s3cr3t-password-value"
TOKEN = "dapi-secret-token-value"


def config_of(**fields: object) -> MlflowConnectionConfig:
    extra = fields.pop("extra", None)
    conn = Connection(
        conn_id="mlflow_test",
        conn_type="mlflow",
        extra=json.dumps(extra) if extra is not None else None,
        **fields,  # type: ignore[arg-type]
    )
    return MlflowConnectionConfig.from_connection(conn)


def test_plain_http_uri_keeps_scheme_and_defaults() -> None:
    config = config_of(host="http://127.0.0.1:5000/")
    assert config.tracking_uri == "http://127.0.0.1:5000"
    assert config.timeout == DEFAULT_TIMEOUT_SECONDS
    assert config.max_retries == DEFAULT_MAX_RETRIES
    assert config.pool_size == DEFAULT_POOL_SIZE == 32
    assert config.insecure_tls is False
    assert config.uses_rest and not config.is_databricks
    assert config.ui_base_url == "http://127.0.0.1:5000"


def test_uri_form_with_bare_host_means_https_and_merges_port_and_prefix() -> None:
    conn = Connection.from_uri(
        f"mlflow://alice:{SECRET}@mlflow.example.com:8443/team-a?timeout=3&max_retries=0",
        conn_id="uri_form",
    )
    config = MlflowConnectionConfig.from_connection(conn)
    assert config.tracking_uri == "https://mlflow.example.com:8443/team-a"
    assert (config.username, config.password) == ("alice", SECRET)
    assert (config.timeout, config.max_retries) == (3.0, 0)


def test_uri_form_with_encoded_scheme_in_host() -> None:
    conn = Connection.from_uri(
        "mlflow://@http%3A%2F%2F127.0.0.1%3A5000%2Fprefix?insecure_tls=false", conn_id="enc"
    )
    config = MlflowConnectionConfig.from_connection(conn)
    assert config.tracking_uri == "http://127.0.0.1:5000/prefix"
    assert config.insecure_tls is False


def test_json_form_with_token_and_string_settings() -> None:
    conn = Connection.from_json(
        json.dumps(
            {
                "conn_type": "mlflow",
                "host": "https://mlflow.example.com",
                "extra": {"token": TOKEN, "timeout": "2.5", "max_retries": "1"},
            }
        ),
        conn_id="json_form",
    )
    config = MlflowConnectionConfig.from_connection(conn)
    assert config.token == TOKEN and config.username is None
    assert (config.timeout, config.max_retries) == (2.5, 1)


def test_workspace_in_json_and_uri_forms_and_empty_means_none() -> None:
    json_form = config_of(host="https://h", extra={"workspace": " team-a "})
    uri_form = MlflowConnectionConfig.from_connection(
        Connection.from_uri("mlflow://mlflow.example.com?workspace=team-a", conn_id="ws")
    )
    assert json_form.workspace == uri_form.workspace == "team-a"
    assert config_of(host="https://h", extra={"workspace": ""}).workspace is None
    assert config_of(host="https://h").workspace is None
    # "default" is MLflow's name for the server's default workspace, allowed like any other.
    assert config_of(host="https://h", extra={"workspace": "default"}).workspace == "default"


def test_artifact_store_identity_in_json_and_uri_forms() -> None:
    extra = {"aws_conn_id": " aws_prod ", "artifact_buckets": "models-eu, mlflow.artifacts,"}
    json_form = config_of(host="https://h", extra=extra)
    uri_form = MlflowConnectionConfig.from_connection(
        Connection.from_uri(
            "mlflow://h?aws_conn_id=aws_prod&artifact_buckets=models-eu%2Cmlflow.artifacts",
            conn_id="s3",
        )
    )
    for config in (json_form, uri_form):
        assert config.aws_conn_id == "aws_prod"
        assert config.artifact_buckets == ("models-eu", "mlflow.artifacts")
    listed = config_of(host="https://h", extra={"aws_conn_id": "a", "artifact_buckets": ["bk1"]})
    assert listed.artifact_buckets == ("bk1",)
    assert (
        config_of(host="https://h").aws_conn_id,
        config_of(host="https://h").artifact_buckets,
    ) == (
        None,
        (),
    )


def test_port_field_is_merged_into_http_uri_without_port() -> None:
    assert config_of(host="http://127.0.0.1", port=5001).tracking_uri == "http://127.0.0.1:5001"


def test_local_stores_are_accepted_and_not_rest() -> None:
    for uri in ("sqlite:////tmp/mlflow.db", "file:///tmp/mlruns", "postgresql://db/mlflow"):
        config = config_of(host=uri)
        assert config.tracking_uri == uri
        assert not config.uses_rest
        assert config.ui_base_url is None


def test_databricks_uses_workspace_host_for_rest() -> None:
    config = config_of(
        host="databricks",
        extra={"databricks_host": "https://adb-1.2.azuredatabricks.net/", "token": TOKEN},
    )
    assert config.is_databricks
    assert config.rest_host == "https://adb-1.2.azuredatabricks.net"


def test_legacy_prefixed_extra_keys_are_read() -> None:
    config = config_of(host="http://h:1", extra={"extra__mlflow__timeout": 4})
    assert config.timeout == 4.0


def test_unknown_extra_key_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    config_of(host="http://h:1", extra={"ca_bundle": "/x.pem"})
    assert "ignoring unknown extra field 'ca_bundle'" in caplog.text


def test_secrets_are_not_in_repr() -> None:
    config = config_of(host="http://h:1", login="alice", password=SECRET)
    assert SECRET not in repr(config)
    config = config_of(host="https://h", extra={"token": TOKEN})
    assert TOKEN not in repr(config)


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"host": ""}, ["Tracking URI", "sqlite:///"]),
        ({"host": "ftp://mlflow.example.com"}, ["Tracking URI", "'ftp'"]),
        ({"host": "localhost:5000"}, ["Tracking URI", "no scheme", "https://localhost:5000"]),
        (
            {"host": "mlflow.internal:5000/team-a"},
            ["no scheme", "https://mlflow.internal:5000/team-a", "http://"],
        ),
        ({"host": "https://h/x?token=abc"}, ["Tracking URI", "query string"]),
        ({"host": "http://"}, ["Tracking URI", "no host name"]),
        ({"host": f"https://alice:{SECRET}@mlflow.example.com"}, ["Tracking URI", "Username"]),
        ({"host": "http://h:1", "login": "alice"}, ["Password"]),
        ({"host": "http://h:1", "password": SECRET}, ["Username"]),
        (
            {"host": "http://h:1", "login": "a", "password": SECRET, "extra": {"token": TOKEN}},
            ["token", "remove the token or clear Username and Password"],
        ),
        ({"host": "https://h", "extra": {"insecure_tls": "maybe"}}, ["insecure_tls"]),
        (
            {"host": "https://h", "extra": {"insecure_tls": True, "ca_bundle_path": __file__}},
            ["insecure_tls", "ca_bundle_path", "remove one"],
        ),
        ({"host": "databricks", "extra": {"token": TOKEN}}, ["databricks_host"]),
        (
            {"host": "databricks", "extra": {"databricks_host": "adb-1.net", "token": TOKEN}},
            ["databricks_host", "http(s) URL"],
        ),
        (
            {"host": "databricks", "extra": {"databricks_host": "https://adb-1.net"}},
            ["token"],
        ),
        ({"host": "https://h", "extra": {"databricks_host": "https://x"}}, ["databricks_host"]),
        ({"host": "https://h", "extra": {"registry_uri": "gopher://r"}}, ["registry_uri"]),
        (
            {"host": f"postgresql://alice:{SECRET}@db/mlflow", "login": "bob", "password": SECRET},
            ["Username and Password", "remove 'user[:password]@'"],
        ),
        ({"host": "https://h", "extra": {"timeout": -1}}, ["timeout", "positive"]),
        ({"host": "https://h", "extra": {"timeout": "soon"}}, ["timeout"]),
        ({"host": "https://h", "extra": {"max_retries": 99}}, ["max_retries", "0 to 10"]),
        ({"host": "https://h", "extra": {"max_retries": "two"}}, ["max_retries"]),
        ({"host": "https://h", "extra": {"pool_size": 0}}, ["pool_size", "1 to 256"]),
        ({"host": "https://h", "extra": {"pool_size": "many"}}, ["pool_size", "threads"]),
        ({"host": "https://h", "extra": {"workspace": "Team_A"}}, ["workspace", "lower-case"]),
        ({"host": "https://h", "extra": {"workspace": "a"}}, ["workspace", "2 to"]),
        ({"host": "https://h", "extra": {"workspace": "api"}}, ["workspace", "static-files"]),
        (
            {"host": "sqlite:////tmp/m.db", "extra": {"workspace": "team-a"}},
            ["workspace", "tracking server"],
        ),
        ({"host": "https://h", "extra": {"aws_conn_id": "aws"}}, ["artifact_buckets", "empty"]),
        ({"host": "https://h", "extra": {"artifact_buckets": "bk1"}}, ["aws_conn_id", "empty"]),
        (
            {"host": "https://h", "extra": {"aws_conn_id": "aws", "artifact_buckets": "s3://bk1"}},
            ["artifact_buckets", "without s3://"],
        ),
        (
            {"host": "https://h", "extra": {"aws_conn_id": "aws", "artifact_buckets": "Bucket"}},
            ["artifact_buckets", "'Bucket'"],
        ),
        (
            {"host": "file:///m", "extra": {"aws_conn_id": "aws", "artifact_buckets": "bk1"}},
            ["aws_conn_id", "tracking server"],
        ),
    ],
)
def test_invalid_connection_names_field_and_fix_without_secret(
    fields: dict[str, object], names: list[str]
) -> None:
    with pytest.raises(MlflowConnectionConfigError) as raised:
        config_of(**fields)
    message = str(raised.value)
    assert "mlflow_test" in message
    for name in names:
        assert name in message
    assert SECRET not in message and TOKEN not in message


def documented_connection_examples() -> list[list[str]]:
    """The ``export AIRFLOW_CONN_*='...'`` values of ``mlflow`` connections (not the AWS
    connection an example links) of each ``[START]``/``[END]`` block of the snippet file that
    docs/connections/mlflow.rst includes, in order."""
    from tests.conftest import REPO_ROOT

    text = (REPO_ROOT / "docs" / "snippets" / "connections.sh").read_text()
    blocks: list[list[str]] = []
    for block in text.split("# [START ")[1:]:
        body = block.split("# [END ")[0]
        values = [
            line.split("=", 1)[1].strip("'")
            for line in body.splitlines()
            if line.removeprefix("export ").startswith("AIRFLOW_CONN_")
        ]
        values = [value for value in values if '"conn_type": "aws"' not in value]
        if values:
            blocks.append(values)
    return blocks


def test_documented_examples_parse_and_json_and_uri_forms_agree() -> None:
    # The TLS examples name certificate files that exist only on a real worker: parsing the
    # connection does not look at them.
    blocks = documented_connection_examples()
    assert len(blocks) >= 9
    for values in blocks:
        configs = []
        for value in values:
            if value.startswith("{"):
                conn = Connection.from_json(value, conn_id="docs")
            else:
                conn = Connection.from_uri(value, conn_id="docs")
            configs.append(MlflowConnectionConfig.from_connection(conn))
        assert all(config == configs[0] for config in configs), values
    token_and_ca = [
        MlflowConnectionConfig.from_connection(Connection.from_json(values[0], conn_id="docs"))
        for values in blocks
        if '"token"' in values[0] and "ca_bundle_path" in values[0]
    ]
    assert token_and_ca, "no example combines a bearer token with a private CA bundle"


@pytest.mark.parametrize("field_name", ["ca_bundle_path", "client_cert_path"])
def test_missing_certificate_file_is_reported_where_the_client_is_built_naming_the_host(
    field_name: str,
) -> None:
    """A DAG processor or API server that only parses the connection (e.g. for a model asset)
    does not need the worker's certificate files; building a client there names the host."""
    import socket

    config = config_of(host="https://h", extra={field_name: "/no/such/file.pem"})
    with pytest.raises(MlflowConnectionConfigError) as raised:
        config.check_certificate_files()
    message = str(raised.value)
    for expected in (field_name, "/no/such/file.pem", socket.gethostname(), "API server"):
        assert expected in message
    assert "this worker" not in message


def test_database_uri_with_password_is_shown_without_user_info() -> None:
    for uri, shown in [
        (f"postgresql://alice:{SECRET}@db/mlflow", "postgresql://***@db/mlflow"),
        (f"mysql+pymysql://alice:{SECRET}@db:3306/mlflow", "mysql+pymysql://***@db:3306/mlflow"),
        (f"mssql+pyodbc://alice:{SECRET}@db/mlflow?x=1", "mssql+pyodbc://***@db/mlflow?x=***"),
    ]:
        config = config_of(host=uri)
        assert config.tracking_uri == uri  # the client connects with the real URI
        assert config.display_tracking_uri == shown
        assert SECRET in config.secrets
        assert SECRET not in repr(config)


def test_database_password_from_the_password_field_is_put_into_the_uri_percent_encoded() -> None:
    from sqlalchemy.engine import make_url

    password = "p@ss/w:rd%"
    config = config_of(
        host="postgresql+psycopg2://db:5432/mlflow", login="al ice", password=password
    )
    url = make_url(config.tracking_uri)  # as MLflow's SQLAlchemy store reads it
    assert (url.username, url.password, url.host, url.database) == (
        "al ice",
        password,
        "db",
        "mlflow",
    )
    assert config.display_tracking_uri == "postgresql+psycopg2://***@db:5432/mlflow"
    assert {password, "p%40ss%2Fw%3Ard%25"} <= set(config.secrets)


def test_registry_uri_password_is_a_secret_and_not_in_repr() -> None:
    config = config_of(
        host="http://h:1", extra={"registry_uri": f"postgresql://reg:{SECRET}@db/registry"}
    )
    assert SECRET in config.secrets
    assert SECRET not in repr(config)


def test_basic_auth_header_value_is_a_secret() -> None:
    import base64

    config = config_of(host="http://h:1", login="alice", password=SECRET)
    assert base64.b64encode(f"alice:{SECRET}".encode()).decode() in config.secrets
