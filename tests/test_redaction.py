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

"""display_uri and uri_secrets: what may be shown of a URI, and which parts of it are secret."""

from __future__ import annotations

import pytest

from airflow_mlflow_registry.utils.redaction import display_uri, redact, uri_secrets


@pytest.mark.parametrize(
    ("uri", "shown", "secrets"),
    [
        ("postgresql://alice:pw-1@db/mlflow", "postgresql://***@db/mlflow", ("pw-1",)),
        # SQLAlchemy reads a database password up to the first '@', '/' included.
        (
            "postgresql+psycopg2://alice:p/w@db:5432/mlflow?sslmode=require",
            "postgresql+psycopg2://***@db:5432/mlflow?sslmode=***",
            ("p/w",),
        ),
        ("mssql+pyodbc://u:p%40ss@h/db", "mssql+pyodbc://***@h/db", ("p%40ss", "p@ss")),
        # A database user without password is not a secret (but is not shown either).
        ("mysql://bob@db/x", "mysql://***@db/x", ()),
        (
            "https://user:pw-2@bucket.s3.amazonaws.com/m.tar?X-Amz-Credential=AK%2F1"
            "&X-Amz-Signature=abc123&X-Amz-Expires=60",
            "https://***@bucket.s3.amazonaws.com/m.tar?X-Amz-Credential=***"
            "&X-Amz-Signature=***&X-Amz-Expires=***",
            ("pw-2", "AK%2F1", "AK/1", "abc123"),
        ),
        ("https://acct.blob.core.windows.net/c/m?sv=2022&sig=s1g", None, ("s1g",)),
        ("https://ghp_token123@host/model#frag", "https://***@host/model#***", ("ghp_token123",)),
        ("https://h:8443/models/a@b", "https://h:8443/models/a@b", ()),
        ("runs:/0123/model", "runs:/0123/model", ()),
        ("models:/m-0123", "models:/m-0123", ()),
        ("s3://bucket/key", "s3://bucket/key", ()),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db", ()),
        ("databricks", "databricks", ()),
        ("http://h:5000/team-a", "http://h:5000/team-a", ()),
    ],
)
def test_display_uri_hides_user_info_and_query_values_and_uri_secrets_finds_them(
    uri: str, shown: str | None, secrets: tuple[str, ...]
) -> None:
    displayed = display_uri(uri)
    if shown is not None:
        assert displayed == shown
    assert uri_secrets(uri) == secrets
    for secret in secrets:
        assert secret not in displayed
        assert secret not in redact(f"failed: {uri}", uri_secrets(uri))


def test_redact_replaces_a_longer_secret_whole_before_one_it_contains() -> None:
    assert redact("key=abc%2Fdef", ("abc", "abc%2Fdef")) == "key=***"
